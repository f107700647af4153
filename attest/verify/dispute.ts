// Dispute localisation: two attestations about the same process disagree. Bisection over
// the slots both signers attested finds the first slot whose state hashes part ways, in
// O(log n) comparisons; then only that slot (from the nearest checkpoint whose bytes hash
// to a state both sides agree on) is re-executed, to say which side the replay supports.
// It touches only what it replays: the two signers' attestations (checked only where the
// bisection compares them), and the window from the checkpoint to the slot, fetched by the
// bundles' Seq-From/Seq-To tags where they have them (docs/PROTOCOL.md §16).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { findByTags, type FoundTransaction } from '../../arweave/graphql.ts';
import { decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { badRequest, notFound } from '../../engine/protocol/errors.ts';
import { readWindow, type Fault, type HistoryWindow } from './history.ts';
import { replay } from './replayer.ts';
import { verifyItems } from './pool.ts';
import { processStatements, readAttestationItem } from './attestation.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';
import { openStore } from '../../engine/store.ts';
import { Modules, type ModuleSource } from '../../engine/modules.ts';

export interface DisputeResult {
  process: string;
  /** The first slot whose attested state hashes differ, or undefined if they never do. */
  slot?: number;
  message?: string;
  a: { signer: string; attestation: string; claim?: string };
  b: { signer: string; attestation: string; claim?: string };
  replayed?: string;
  /** 'a', 'b', or 'neither' when the replay matches no side; absent when the window cannot be replayed (see `faults`). */
  supports?: 'a' | 'b' | 'neither';
  comparisons: number;
  executions: number;
  /** The slot the re-execution started after (a checkpoint), or -1 for slot 0. */
  from: number;
  /** Signatures verified: the attestations compared, the window's items, the checkpoint used. */
  checks: number;
  /** What was read from the gateway: bundles and their items, of `bundles` published for the process. */
  fetched: { bundles: number; items: number };
  /** Bundles the gateway lists for the process, all of which a full verification reads. */
  bundles: number;
  /** Faults found in the replayed window (docs/PROTOCOL.md §15 kinds); one that breaks the window means no replay. */
  faults: Fault[];
  /** Wall time of each phase, ms: fetching (GraphQL and bundles), checking signatures and links, replaying. */
  ms: { fetch: number; check: number; replay: number };
}

interface Bundle {
  id: string;
  /** Its Seq-From/Seq-To slots; undefined when untagged, so it may hold any slot. */
  range?: [number, number];
  attestations: string[];
}

/** The bundles of one process, fetched at most once each, with what was fetched counted. */
class BundleCache {
  readonly fetched = new Map<string, Uint8Array[]>();
  /** Every fetched item that parses, in fetch order. */
  readonly parsed: DataItem[] = [];
  items = 0;
  /** Wall time with a request in flight. */
  fetchMs = 0;
  private active = 0;
  private since = 0;
  constructor(private readonly gateway: ArweaveGateway) {}

  private async timed<T>(f: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await f();
    } finally {
      if (--this.active === 0) this.fetchMs += performance.now() - this.since;
    }
  }

  /** Several bundles, a few requests at a time (a gateway answers each at its own pace), kept in `ids`' order. */
  async getAll(ids: string[], parallel = 6): Promise<void> {
    const wanted = ids.filter((id) => !this.fetched.has(id));
    const data = new Map<string, Uint8Array>();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(parallel, wanted.length) }, async () => {
      while (next < wanted.length) {
        const id = wanted[next++];
        data.set(id, await this.timed(() => this.gateway.data(id)));
      }
    }));
    for (const id of wanted) this.add(id, data.get(id)!);
  }

  async get(id: string): Promise<Uint8Array[]> {
    if (!this.fetched.has(id)) this.add(id, await this.timed(() => this.gateway.data(id)));
    return this.fetched.get(id)!;
  }

  private add(id: string, bundle: Uint8Array): void {
    if (!this.fetched.has(id)) {
      const raws = decodeBundle(bundle).map((item) => item.raw);
      this.fetched.set(id, raws);
      this.items += raws.length;
      for (const raw of raws) {
        try { this.parsed.push(parseDataItem(raw)); } catch { /* a window cannot place it; a full verification reports it */ }
      }
    }
  }

  async find(tags: Record<string, string>): Promise<FoundTransaction[]> {
    return this.timed(() => findByTags(this.gateway, tags));
  }
}

function readBundle(found: FoundTransaction): Bundle {
  const from = Number(tagValue(found.tags, 'Seq-From'));
  const to = Number(tagValue(found.tags, 'Seq-To'));
  const tagged = tagValue(found.tags, 'Seq-From') !== undefined && Number.isSafeInteger(from) && Number.isSafeInteger(to) && from <= to;
  return { id: found.id, range: tagged ? [from, to] : undefined, attestations: found.tags.filter((t) => t.name === 'Attestation').map((t) => t.value) };
}

/** Whether a bundle may hold items of slots lo..hi. */
const covers = (bundle: Bundle, lo: number, hi: number) => !bundle.range || (bundle.range[0] <= hi && bundle.range[1] >= lo);

/**
 * One signer's claims, by slot, from its attestation items about the process. An item is
 * checked (signature, Merkle root) only when a claim of it is asked for; a slot's claim is
 * the one in the last item holding it that checks, as if every item had been checked.
 */
class Claims {
  private readonly bySlot = new Map<number, number[]>();
  private readonly checked = new Map<number, Map<number, ProcessStatement> | null>();
  checks = 0;

  constructor(private readonly items: DataItem[]) {
    for (const [i, item] of items.entries()) {
      let statements: unknown;
      try { statements = JSON.parse(new TextDecoder().decode(item.data)); } catch { continue; }
      if (!Array.isArray(statements)) continue;
      for (const statement of processStatements(statements)) {
        if (!Number.isSafeInteger(statement.slot) || statement.slot < 0) continue;
        const list = this.bySlot.get(statement.slot) ?? [];
        if (list.at(-1) !== i) list.push(i);
        this.bySlot.set(statement.slot, list);
      }
    }
  }

  /** Slots some item claims (not all of which need check). */
  slots(): number[] {
    return [...this.bySlot.keys()];
  }

  get(slot: number): ProcessStatement | undefined {
    for (const i of [...(this.bySlot.get(slot) ?? [])].reverse()) {
      const statement = this.read(i)?.get(slot);
      if (statement) return statement;
    }
    return undefined;
  }

  private read(i: number): Map<number, ProcessStatement> | null {
    if (!this.checked.has(i)) {
      this.checks++;
      const attestation = readAttestationItem(this.items[i]);
      const claims = attestation.signed && !attestation.inconsistent ? new Map<number, ProcessStatement>() : null;
      if (claims) for (const s of processStatements(attestation.statements)) if (Number.isSafeInteger(s.slot) && s.slot >= 0) claims.set(s.slot, s);
      this.checked.set(i, claims);
    }
    return this.checked.get(i)!;
  }
}

/** The item `id`, from the bundles that name it (fetched through the cache). */
async function attestationItem(cache: BundleCache, id: string): Promise<DataItem> {
  for (const bundle of await cache.find({ Attestation: id, Type: 'Bundle' })) {
    for (const raw of await cache.get(bundle.id)) {
      const item = parseDataItem(raw);
      if (item.id === id) return item;
    }
  }
  throw notFound(`no bundle holds the attestation ${id}`);
}

const isType = (item: DataItem, type: string, pid: string) => tagValue(item.tags, 'Type') === type && tagValue(item.tags, 'Process') === pid;

export async function dispute(gateway: ArweaveGateway, a: string, b: string, options: { dir: string; progress?: (line: string) => void }): Promise<DisputeResult> {
  const cache = new BundleCache(gateway);
  let checkMs = 0;
  const timedCheck = async <T>(f: () => Promise<T> | T): Promise<T> => {
    const start = performance.now();
    try { return await f(); } finally { checkMs += performance.now() - start; }
  };
  const [itemA, itemB] = [await attestationItem(cache, a), await attestationItem(cache, b)];
  let checks = 2;
  for (const item of [itemA, itemB]) if (!(await timedCheck(() => verifyDataItem(item)))) throw badRequest(`the signature of attestation ${item.id} does not verify`);
  const pid = tagValue(itemA.tags, 'Process');
  if (!pid || pid !== tagValue(itemB.tags, 'Process')) throw badRequest('both attestations must be about the same process');

  // The module's metered form, made in the verifier's folder while the bundles download.
  const warming = warmModule(join(options.dir, 'lmdb'), gateway, moduleOf(itemA));
  try {
    const bundles = (await cache.find({ Process: pid, Type: 'Bundle' })).map(readBundle);
    options.progress?.(`found ${bundles.length} bundle${bundles.length === 1 ? '' : 's'} for ${pid}`);
    // The signers' attestations: in the bundles that name attestations, or may hold anything.
    await cache.getAll(bundles.filter((bundle) => !bundle.range || bundle.attestations.length > 0).map((bundle) => bundle.id));
    const attestations = cache.parsed.filter((item) => isType(item, 'Attestation', pid));
    const unique = (signer: string) => [...new Map(attestations.filter((item) => item.ownerAddress === signer).map((item) => [item.id, item])).values()];
    const claimsA = new Claims(unique(itemA.ownerAddress));
    const claimsB = new Claims(unique(itemB.ownerAddress));

    const slotsB = new Set(claimsB.slots());
    const common = claimsA.slots().filter((slot) => slotsB.has(slot)).sort((x, y) => x - y);
    // The first index whose state hashes differ: once two states part, they stay apart. A
    // slot one side turns out not to hold (its attestation does not check) leaves the search.
    let comparisons = 0;
    let lo = 0;
    let hi = common.length;
    await timedCheck(() => {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const [x, y] = [claimsA.get(common[mid]), claimsB.get(common[mid])];
        if (!x || !y) {
          common.splice(mid, 1);
          hi--;
          continue;
        }
        comparisons++;
        if (x['state-hash'] !== y['state-hash']) hi = mid;
        else lo = mid + 1;
      }
    });
    const result: DisputeResult = {
      process: pid,
      a: { signer: itemA.ownerAddress, attestation: a },
      b: { signer: itemB.ownerAddress, attestation: b },
      comparisons,
      executions: 0,
      from: -1,
      checks: 0,
      fetched: { bundles: 0, items: 0 },
      bundles: bundles.length,
      faults: [],
      ms: { fetch: 0, check: 0, replay: 0 },
    };
    const finish = () => {
      result.checks = checks + claimsA.checks + claimsB.checks;
      result.fetched = { bundles: cache.fetched.size, items: cache.items };
      result.ms.fetch = cache.fetchMs;
      result.ms.check = checkMs;
      return result;
    };
    if (lo === common.length) return finish();
    const slot = common[lo];
    result.slot = slot;
    result.a.claim = claimsA.get(slot)!['state-hash'];
    result.b.claim = claimsB.get(slot)!['state-hash'];
    // A state both sides attested, before the divergent slot.
    const trusted = (at: number): string | undefined => {
      if (at >= slot) return undefined;
      const [x, y] = [claimsA.get(at), claimsB.get(at)];
      return x && y && x['state-hash'] === y['state-hash'] ? x['state-hash'] : undefined;
    };

    const rejected = new Set<string>();
    let everything = false;
    for (;;) {
      const { checkpoint, window } = await openWindow();
      checks += window.checks;
      result.faults = window.faults;
      result.message = window.assignments.get(slot)?.message;
      const complete = window.record !== undefined && window.assignments.has(slot);
      if (!complete && !everything) {
        // The tags may be wrong or missing items: read every bundle, as a full verification would.
        everything = true;
        await cache.getAll(bundles.map((bundle) => bundle.id));
        continue;
      }
      if (!complete) return finish();
      const at = checkpoint ? Number(tagValue(checkpoint.tags, 'Slot')) : -1;
      window.checkpoints = checkpoint ? [checkpoint] : [];
      const start = performance.now();
      await warming;
      const replayed = await replay(window, {
        store: join(options.dir, 'lmdb'),
        source: gateway,
        to: slot,
        trusted,
        started: (from) => { if (from !== at) throw new CheckpointRejected(); },
      }).catch((error: unknown) => {
        if (error instanceof CheckpointRejected) return undefined;
        throw error;
      });
      result.ms.replay += performance.now() - start;
      if (!replayed) {
        // Its bytes do not hash to the state both sides attested: the one before it, then.
        rejected.add(checkpoint!.id);
        continue;
      }
      if ('unusable' in replayed) throw replayed.unusable;
      result.from = replayed.from;
      result.executions = replayed.executions;
      result.replayed = replayed.record!['state-hash']; // claims are about slots ≥ 0
      result.supports = result.replayed === result.a.claim ? 'a' : result.replayed === result.b.claim ? 'b' : 'neither';
      return finish();
    }

    /**
     * The window to replay: walks back from the divergent slot, bundle by bundle, to the latest
     * checkpoint the scheduler signed at a slot both sides agree on (else slot 0), then reads
     * the window from it with every bundle that may hold its slots (and slot 0's, the spawn).
     */
    async function openWindow(): Promise<{ checkpoint?: DataItem; window: HistoryWindow }> {
      const byStart = bundles.filter((bundle) => bundle.range && bundle.range[0] <= slot).sort((x, y) => y.range![0] - x.range![0]);
      await cache.getAll(bundles.filter((bundle) => covers(bundle, slot, slot) || covers(bundle, 0, 0)).map((bundle) => bundle.id));
      // The scheduler whose checkpoints count: from a copy of the spawn that verifies.
      const spawn = cache.parsed.filter((item) => item.id === pid).find((item) => { checks++; return verifyDataItem(item); });
      const scheduler = spawn ? tagValue(spawn.tags, 'Scheduler') : undefined;
      // Every bundle starting at or after `reached` is held: a checkpoint there is the nearest.
      let reached = slot;
      let checkpoint: DataItem | undefined;
      for (const next of byStart) {
        if (reached <= 0) break;
        await cache.get(next.id);
        reached = Math.min(reached, next.range![0]);
        checkpoint = await timedCheck(() => latestCheckpoint(reached));
        if (checkpoint) break;
      }
      const from = checkpoint ? Number(tagValue(checkpoint.tags, 'Slot')) : -1;
      await cache.getAll(bundles.filter((bundle) => covers(bundle, Math.max(0, from), slot)).map((bundle) => bundle.id));
      const window = await timedCheck(() => readWindow(pid!, cache.parsed, from, slot, verifyItems));
      return { checkpoint, window };

      /** The latest checkpoint at or after `floor` and before the slot, signed by the scheduler, at an agreed state. */
      function latestCheckpoint(floor: number): DataItem | undefined {
        const found = cache.parsed
          .filter((item) => isType(item, 'Checkpoint', pid!) && item.ownerAddress === scheduler && !rejected.has(item.id))
          .filter((item) => { const at = Number(tagValue(item.tags, 'Slot')); return Number.isSafeInteger(at) && at >= floor && at < slot && trusted(at) !== undefined; })
          .sort((x, y) => Number(tagValue(y.tags, 'Slot')) - Number(tagValue(x.tags, 'Slot')));
        for (const item of found) {
          checks++;
          if (verifyDataItem(item)) return item;
          rejected.add(item.id);
        }
        return undefined;
      }
    }
  } finally {
    await warming;
  }
}

/** The module a process attestation names (its first statement's), if any. */
function moduleOf(item: DataItem): string | undefined {
  try {
    return processStatements(JSON.parse(new TextDecoder().decode(item.data)) as unknown[] as never)[0]?.module;
  } catch {
    return undefined;
  }
}

/**
 * Fetches, checks, meters and compiles a module into a verifier's LMDB folder, so that the
 * replay there finds it made (a fresh folder otherwise starts the meter only at the replay).
 * Only a cache: the replay still loads the module the spawn names, and reports its faults.
 */
async function warmModule(folder: string, source: ModuleSource, id: string | undefined): Promise<void> {
  if (!id) return;
  mkdirSync(dirname(folder), { recursive: true });
  const store = openStore(folder);
  try {
    await new Modules(store, source).getForProcess(id);
  } catch {
    // the replay meets the same trouble and says what it is
  } finally {
    await store.close();
  }
}

/** The fold would start elsewhere than the checkpoint the window begins at. */
class CheckpointRejected extends Error {}
