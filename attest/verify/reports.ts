// The verifier's and the registry's reach into Arweave and the verification library
// (docs/reputation-section.md): the ports engine/verifier.ts and engine/registry.ts are given,
// since the engine sits below attest and arweave. Both judge a statement the one way `hyperwasm
// verify --attestation` does (single.ts judgeStatement), so a registry believes a refutation
// only on the same replay anyone can run. One judgement at a time per folder: the replay's
// scratch stores are reused between judgements and must not be opened twice at once.
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { findItems } from '../../arweave/graphql.ts';
import { canonicalJson } from '../../engine/protocol/encoding.ts';
import { HyperError } from '../../engine/protocol/errors.ts';
import type { Statement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';
import type { Replay, VerificationReport } from '../../engine/protocol/verification-report.ts';
import type { ReportChecker } from '../../engine/registry.ts';
import type { AttestationRef, Judged, VerifierPorts } from '../../engine/verifier.ts';
import { fetchItem, readAttestationItem } from './attestation.ts';
import { judgeStatement } from './single.ts';

/** Runs judgements one after another. */
function serial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const next = chain.then(fn);
    chain = next.catch(() => {});
    return next;
  };
}

/** Statement `index` of attestation `id` if the item on Arweave is `node`'s and reads; else why not. Throws only when the gateway cannot be reached. */
async function attestedStatement(gateway: ArweaveGateway, id: string, index: number, node: string): Promise<{ statement: Statement } | { fault: string }> {
  let raw;
  try {
    raw = await fetchItem(gateway, id);
  } catch (error) {
    if (error instanceof HyperError && error.kind === 'not-found') return { fault: `no bundle on ${gateway.url} holds that attestation` };
    throw error;
  }
  const item = readAttestationItem(raw);
  if (!item.signed) return { fault: 'its signature does not verify' };
  if (item.signer !== node || item.node !== node) return { fault: `it is signed by ${item.signer} for node ${item.node}, not by ${node}` };
  if (item.inconsistent) return { fault: `its statements do not check against its Merkle root (${item.inconsistent.message})` };
  const statement = item.statements[index];
  if (statement === undefined) return { fault: `it holds ${item.statements.length} statement(s), none at index ${index}` };
  return { statement };
}

/** The verifier's ports on a gateway: the nodes from `nodes`, their attestations from the gateway's item index, judged in `dir`. */
export function arweaveVerifierPorts(options: { gateway: ArweaveGateway; dir: string; nodes: () => Promise<string[]> }): VerifierPorts {
  const { gateway, dir } = options;
  const one = serial();
  return {
    nodes: options.nodes,
    async attestations(node) {
      // The index (arlocal's and arweave.net's cover bundled items) is a hint: judge() checks the item itself.
      const found = await findItems(gateway, { 'Data-Protocol': 'hyperwasm', Type: 'Attestation', Node: node });
      return found.map((item): AttestationRef => {
        const process = tagValue(item.tags, 'Process');
        return { id: item.id, node: tagValue(item.tags, 'Node') ?? '', leaves: Number(tagValue(item.tags, 'Leaves') ?? 0), ...(process ? { process } : {}) };
      });
    },
    async judge(ref, index): Promise<Judged> {
      const found = await attestedStatement(gateway, ref.id, index, ref.node);
      if ('fault' in found) return { skip: `attestation ${ref.id}: ${found.fault}` };
      const { statement } = found;
      if (statement.kind !== 'compute' && statement.kind !== 'process') return { skip: `a ${statement.kind} statement (receipts are checked by \`hyperwasm verify\`, not sampled)` };
      if (statement.node !== ref.node) return { skip: `the statement names node ${statement.node}, not its signer ${ref.node}` };
      const replay = (await one(() => judgeStatement(gateway, statement, ref.id, { dir }))) as Replay;
      return { statement, replay };
    },
  };
}

/** A registry's evidence check on a gateway, its replays in `dir`. */
export function arweaveReportChecker(options: { gateway: ArweaveGateway; dir: string }): ReportChecker {
  const { gateway, dir } = options;
  const one = serial();
  return {
    async attested(report: VerificationReport) {
      const found = await attestedStatement(gateway, report.attestation, report.index, report.node);
      if ('fault' in found) return `the attestation ${report.attestation}: ${found.fault}`;
      if (canonicalJson(found.statement) !== canonicalJson(report.statement)) return 'the statement the attestation holds there is not the one the report quotes';
      return undefined;
    },
    replay: (report) => one(async () => (await judgeStatement(gateway, report.statement, report.attestation, { dir })) as Replay),
  };
}
