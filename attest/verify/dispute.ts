// Dispute localisation: two attestations about the same process disagree. Bisection over
// the slots both signers attested finds the first slot whose state hashes part ways, in
// O(log n) comparisons; then only that slot (from the nearest checkpoint whose bytes hash
// to a state both sides agree on) is re-executed, to say which side the replay supports.
// It touches only what it replays: the two signers' attestations (found through the gateway's
// index of bundled items, fetched and checked only where the bisection compares them:
// ./claims.ts), and the window from the checkpoint to the slot, fetched by the bundles'
// Seq-From/Seq-To tags where they have them (docs/PROTOCOL.md §16).
import { join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { findByTags, findItems, type FoundTransaction, type IndexedItem } from '../../arweave/graphql.ts';
import { MAX_BATCH } from '../../engine/protocol/attestation.ts';
import { Claims, type ClaimSource } from './claims.ts';
import { decodeBundle, type BundledItem } from '../../engine/protocol/ans104/bundle.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { badRequest, notFound } from '../../engine/protocol/errors.ts';
import { readWindow, type Fault, type HistoryWindow } from './history.ts';
import { replay } from './replayer.ts';
import { verifyItems } from './pool.ts';
import { processStatements, readAttestationItem } from './attestation.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';
import { warmModule } from './warm.ts';

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

/** The bundles of one process, fetched at most once each, with what was fetched counted; items parsed only when asked for. */
class BundleCache {
  readonly fetched = new Map<string, BundledItem[]>();
  private readonly parsedOf = new Map<string, DataItem[]>();
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
    const wanted = [...new Set(ids)].filter((id) => !this.fetched.has(id));
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

  async get(id: string): Promise<BundledItem[]> {
    if (!this.fetched.has(id)) this.add(id, await this.timed(() => this.gateway.data(id)));
    return this.fetched.get(id)!;
  }

  private add(id: string, bundle: Uint8Array): void {
    if (!this.fetched.has(id)) {
      const items = decodeBundle(bundle);
      this.fetched.set(id, items);
      this.items += items.length;
    }
  }

  /** The items of a fetched bundle that parse, in its order. */
  parsed(id: string): DataItem[] {
    let parsed = this.parsedOf.get(id);
    if (!parsed) {
      parsed = [];
      for (const { raw } of this.fetched.get(id) ?? []) {
        try { parsed.push(parseDataItem(raw)); } catch { /* a window cannot place it; a full verification reports it */ }
      }
      if (this.fetched.has(id)) this.parsedOf.set(id, parsed);
    }
    return parsed;
  }

  /** The item `id` of a bundle (fetching it), parsed alone; undefined if it holds none that parses. */
  async item(bundle: string, id: string): Promise<DataItem | undefined> {
    const entry = (await this.get(bundle)).find((item) => item.id === id);
    if (!entry) return undefined;
    try { return parseDataItem(entry.raw); } catch { return undefined; }
  }

  /** Every fetched item that parses, in fetch order. */
  all(): DataItem[] {
    return [...this.fetched.keys()].flatMap((id) => this.parsed(id));
  }

  async find(tags: Record<string, string>): Promise<FoundTransaction[]> {
    return this.timed(() => findByTags(this.gateway, tags));
  }

  /** The gateway's index of the process's attestation items; empty where it has none (or fails): then every bundle naming one is fetched. */
  async indexed(tags: Record<string, string>): Promise<Map<string, IndexedItem>> {
    try {
      return new Map((await this.timed(() => findItems(this.gateway, tags))).map((item) => [item.id, item]));
    } catch {
      return new Map();
    }
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

/** Widest Slot-From..Slot-To an index entry may give for its item to be fetched lazily (a batch holds at most MAX_BATCH slots). */
const LAZY_RANGE = 4 * MAX_BATCH;

/**
 * Both signers' claims (./claims.ts), their attestations in the order of the bundles' listing.
 * A bundle that may hold anything (no usable Seq tags) is fetched now, as is one naming an
 * attestation the gateway's item index does not describe (signer, Slot-From/Slot-To); one the
 * index gives to neither signer is not fetched; the others are fetched only when the
 * bisection asks for a slot their range holds.
 */
async function signersClaims(cache: BundleCache, bundles: Bundle[], pid: string, signerA: string, signerB: string): Promise<{ claimsA: Claims; claimsB: Claims }> {
  const index = await cache.indexed({ Type: 'Attestation', Process: pid });
  const rangeOf = (id: string): [number, number] | undefined => {
    const entry = index.get(id);
    if (!entry) return undefined;
    const [from, to] = [tagValue(entry.tags, 'Slot-From'), tagValue(entry.tags, 'Slot-To')].map(Number);
    return Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && from <= to && to - from < LAZY_RANGE ? [from, to] : undefined;
  };
  const signers = new Set([signerA, signerB]);
  const lazy = (id: string) => index.has(id) && (!signers.has(index.get(id)!.owner) || rangeOf(id) !== undefined);
  await cache.getAll(bundles.filter((bundle) => !bundle.range || bundle.attestations.some((id) => !lazy(id))).map((bundle) => bundle.id));

  // Fetched bundles outside the listing first (the given attestations' own), then the listing's.
  const listed = new Set(bundles.map((bundle) => bundle.id));
  const order = [...[...cache.fetched.keys()].filter((id) => !listed.has(id)), ...bundles.map((bundle) => bundle.id)];
  const sources = new Map<string, Map<string, ClaimSource>>([[signerA, new Map()], [signerB, new Map()]]);
  for (const bundle of order) {
    if (cache.fetched.has(bundle)) {
      for (const item of cache.parsed(bundle)) {
        const mine = sources.get(item.ownerAddress);
        if (mine && isType(item, 'Attestation', pid) && !mine.has(item.id)) mine.set(item.id, { item });
      }
      continue;
    }
    for (const id of bundles.find((b) => b.id === bundle)!.attestations) {
      const mine = sources.get(index.get(id)?.owner ?? '');
      if (!mine || mine.has(id)) continue;
      const signer = index.get(id)!.owner;
      mine.set(id, {
        range: rangeOf(id),
        // What the index said is checked against the item itself: its type, process and signer.
        fetch: async () => {
          const item = await cache.item(bundle, id);
          return item && isType(item, 'Attestation', pid) && item.ownerAddress === signer ? item : undefined;
        },
      });
    }
  }
  return { claimsA: new Claims([...sources.get(signerA)!.values()]), claimsB: new Claims([...sources.get(signerB)!.values()]) };
}

/** The item `id`, from the bundles that name it (fetched through the cache). */
async function attestationItem(cache: BundleCache, id: string): Promise<DataItem> {
  for (const bundle of await cache.find({ Attestation: id, Type: 'Bundle' })) {
    const item = await cache.item(bundle.id, id);
    if (item) return item;
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
    const { claimsA, claimsB } = await signersClaims(cache, bundles, pid, itemA.ownerAddress, itemB.ownerAddress);
    const slotsB = new Set(claimsB.slots());
    const common = claimsA.slots().filter((slot) => slotsB.has(slot)).sort((x, y) => x - y);
    // The first index whose state hashes differ: once two states part, they stay apart. A
    // slot one side turns out not to hold (its attestation does not check) leaves the search.
    let comparisons = 0;
    let lo = 0;
    let hi = common.length;
    const fetchedBefore = cache.fetchMs;
    await timedCheck(async () => {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const [x, y] = [await claimsA.get(common[mid]), await claimsB.get(common[mid])];
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
    checkMs -= cache.fetchMs - fetchedBefore; // the attestations the bisection fetched count as fetching
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
    result.a.claim = claimsA.peek(slot)!['state-hash'];
    result.b.claim = claimsB.peek(slot)!['state-hash'];
    /** Reads both sides' claims at `at`, so that `trusted` can answer for it. */
    const agreed = async (at: number): Promise<boolean> => {
      if (at >= slot) return false;
      await claimsA.get(at);
      await claimsB.get(at);
      return trusted(at) !== undefined;
    };
    // A state both sides attested, before the divergent slot (of those `agreed` read).
    const trusted = (at: number): string | undefined => {
      if (at >= slot) return undefined;
      const [x, y] = [claimsA.peek(at), claimsB.peek(at)];
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
      // The bundles the window reads (those fetched for the signers' attestations only are not
      // among them, unless they may hold anything, or everything is read).
      const held = new Set(bundles.filter((bundle) => !bundle.range).map((bundle) => bundle.id));
      const hold = async (ids: string[]) => {
        await cache.getAll(ids);
        for (const id of ids) held.add(id);
      };
      const items = () => [...cache.fetched.keys()].filter((id) => everything || held.has(id)).flatMap((id) => cache.parsed(id));
      const byStart = bundles.filter((bundle) => bundle.range && bundle.range[0] <= slot).sort((x, y) => y.range![0] - x.range![0]);
      await hold(bundles.filter((bundle) => covers(bundle, slot, slot)).map((bundle) => bundle.id));
      // The scheduler whose checkpoints count: from a copy of the spawn that verifies, in the
      // bundles that may hold slot 0, taken in the listing's order until one holds it.
      const verified = new Map<DataItem, boolean>();
      const validSpawn = () => items().filter((item) => item.id === pid).find((item) => {
        if (!verified.has(item)) { checks++; verified.set(item, verifyDataItem(item)); }
        return verified.get(item);
      });
      let spawn = validSpawn();
      for (const bundle of bundles.filter((b) => covers(b, 0, 0))) {
        if (spawn) break;
        await hold([bundle.id]);
        spawn = validSpawn();
      }
      const scheduler = spawn ? tagValue(spawn.tags, 'Scheduler') : undefined;
      // Every bundle starting at or after `reached` is held: a checkpoint there is the nearest.
      let reached = slot;
      let checkpoint: DataItem | undefined;
      for (const next of byStart) {
        if (reached <= 0) break;
        await hold([next.id]);
        reached = Math.min(reached, next.range![0]);
        const fetchedBefore = cache.fetchMs;
        checkpoint = await timedCheck(() => latestCheckpoint(reached));
        checkMs -= cache.fetchMs - fetchedBefore;
        if (checkpoint) break;
      }
      const from = checkpoint ? Number(tagValue(checkpoint.tags, 'Slot')) : -1;
      await hold(bundles.filter((bundle) => covers(bundle, Math.max(0, from), slot)).map((bundle) => bundle.id));
      const window = await timedCheck(() => readWindow(pid!, items(), from, slot, verifyItems));
      return { checkpoint, window };

      /** The latest checkpoint at or after `floor` and before the slot, signed by the scheduler, at an agreed state. */
      async function latestCheckpoint(floor: number): Promise<DataItem | undefined> {
        const found = items()
          .filter((item) => isType(item, 'Checkpoint', pid!) && item.ownerAddress === scheduler && !rejected.has(item.id))
          .filter((item) => { const at = Number(tagValue(item.tags, 'Slot')); return Number.isSafeInteger(at) && at >= floor && at < slot; })
          .sort((x, y) => Number(tagValue(y.tags, 'Slot')) - Number(tagValue(x.tags, 'Slot')));
        for (const item of found) {
          if (!(await agreed(Number(tagValue(item.tags, 'Slot'))))) continue;
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

/** The fold would start elsewhere than the checkpoint the window begins at. */
class CheckpointRejected extends Error {}
