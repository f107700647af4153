// Dispute localisation: two attestations about the same process disagree. Bisection over
// the slots both signers attested finds the first slot whose state hashes part ways, in
// O(log n) comparisons; then only that slot (from the nearest checkpoint whose bytes hash
// to a state both sides agree on) is re-executed, to say which side the replay supports.
import { join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { badRequest } from '../../engine/protocol/errors.ts';
import { checkHistory, fetchHistory } from './history.ts';
import { replay } from './replayer.ts';
import { fetchItem, processStatements, readAttestationItem } from './attestation.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';

export interface DisputeResult {
  process: string;
  /** The first slot whose attested state hashes differ, or undefined if they never do. */
  slot?: number;
  message?: string;
  a: { signer: string; attestation: string; claim?: string };
  b: { signer: string; attestation: string; claim?: string };
  replayed?: string;
  /** 'a', 'b', or 'neither' when the replay matches no side. */
  supports?: 'a' | 'b' | 'neither';
  comparisons: number;
  executions: number;
  /** The slot the re-execution started after (a checkpoint), or -1 for slot 0. */
  from: number;
}

/** Every state hash a signer attested for a process, by slot: from its signed, consistent attestations, about slots that can exist. */
function claimsBy(signer: string, pid: string, raws: Uint8Array[]): Map<number, ProcessStatement> {
  const claims = new Map<number, ProcessStatement>();
  for (const raw of raws) {
    let item: DataItem;
    try { item = parseDataItem(raw); } catch { continue; }
    if (tagValue(item.tags, 'Type') !== 'Attestation' || tagValue(item.tags, 'Process') !== pid || item.ownerAddress !== signer) continue;
    const attestation = readAttestationItem(item);
    if (!attestation.signed || attestation.inconsistent) continue;
    for (const statement of processStatements(attestation.statements)) if (Number.isSafeInteger(statement.slot) && statement.slot >= 0) claims.set(statement.slot, statement);
  }
  return claims;
}

export async function dispute(gateway: ArweaveGateway, a: string, b: string, options: { dir: string; progress?: (line: string) => void }): Promise<DisputeResult> {
  const [itemA, itemB] = [await fetchItem(gateway, a), await fetchItem(gateway, b)];
  for (const item of [itemA, itemB]) if (!verifyDataItem(item)) throw badRequest(`the signature of attestation ${item.id} does not verify`);
  const pid = tagValue(itemA.tags, 'Process');
  if (!pid || pid !== tagValue(itemB.tags, 'Process')) throw badRequest('both attestations must be about the same process');
  const raws = await fetchHistory(gateway, pid, options.progress);
  const claimsA = claimsBy(itemA.ownerAddress, pid, raws);
  const claimsB = claimsBy(itemB.ownerAddress, pid, raws);
  const common = [...claimsA.keys()].filter((slot) => claimsB.has(slot)).sort((x, y) => x - y);
  const differs = (slot: number) => claimsA.get(slot)!['state-hash'] !== claimsB.get(slot)!['state-hash'];

  // The first index whose state hashes differ: once two states part, they stay apart.
  let comparisons = 0;
  let lo = 0;
  let hi = common.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    comparisons++;
    if (differs(common[mid])) hi = mid;
    else lo = mid + 1;
  }
  const result: DisputeResult = {
    process: pid,
    a: { signer: itemA.ownerAddress, attestation: a },
    b: { signer: itemB.ownerAddress, attestation: b },
    comparisons,
    executions: 0,
    from: -1,
  };
  if (lo === common.length) return result;
  const slot = common[lo];
  const agreed = common.slice(0, lo);
  result.slot = slot;
  result.a.claim = claimsA.get(slot)!['state-hash'];
  result.b.claim = claimsB.get(slot)!['state-hash'];

  const history = await checkHistory(pid, raws);
  result.message = history.assignments.get(slot)?.message;
  // From the latest checkpoint before the slot whose bytes hash to a state both sides attested.
  const agreedHashes = new Map(agreed.map((s) => [s, claimsA.get(s)!['state-hash']]));
  const replayed = await replay(history, { store: join(options.dir, 'lmdb'), source: gateway, to: slot, trusted: (at) => agreedHashes.get(at) });
  if ('unusable' in replayed) throw replayed.unusable;
  result.from = replayed.from;
  result.executions = replayed.executions;
  result.replayed = replayed.record!['state-hash']; // claims are about slots ≥ 0
  result.supports = result.replayed === result.a.claim ? 'a' : result.replayed === result.b.claim ? 'b' : 'neither';
  return result;
}
