// The deliverer: sends every pending entry of the delivery ledger (ledger.ts) to its target's
// scheduler, until a durable answer settles it. At-least-once transport plus an idempotent
// receiver (a pushed message is the same signed bytes on every retry, and a scheduler gives a
// (source, slot, index) one slot only) makes the effect exactly once.
//
// One message in flight per link (source process → target), in (slot, index) order, so a link
// is first-in first-out; links run side by side, so a dead target holds up only its own link.
// A failed attempt is retried with backoff (0.5 s doubling to 30 s, with jitter), forever,
// with the reason visible in the entry; only a target the routes call an account (no scheduler
// knows it as a process, asked several times) is settled as one (PROTOCOL.md §21).
import { encodeBundle } from '../protocol/ans104/bundle.ts';
import type { Ed25519Signer } from '../protocol/ans104/data-item.ts';
import { signPushed, signSpawn } from '../protocol/pushed.ts';
import type { SignedAssignment } from '../protocol/assignment.ts';
import type { EntryKey, StoreView } from '../store.ts';
import { entriesFrom, workTarget, type DeliveryEntry } from './ledger.ts';

/** Where a target is, as far as this node can tell now. */
export type Route =
  | { kind: 'local' }
  | { kind: 'remote'; scheduler: string; url: string }
  | { kind: 'account' }
  /** Not found now; `definite` when every place that could know was asked and answered (only then does it count towards an account). */
  | { kind: 'unknown'; reason: string; definite?: boolean };

/** What a target's scheduler answered a push: its durable assignments, in order, or where the target is scheduled instead. */
export type PushAnswer =
  | { assignments: Pick<SignedAssignment, 'process' | 'slot' | 'message' | 'id' | 'signer'>[] }
  | { redirect: { scheduler?: string; record?: string } };

/** The effects the deliverer needs: where targets are, and pushes to other nodes (gateway/delivery-routes.ts). */
export interface DeliveryRoutes {
  locate(target: string): Promise<Route>;
  push(url: string, bundle: Uint8Array): Promise<PushAnswer>;
  /** A redirect's record (checked and cached by the routes); the URL to push to next, if it names one. */
  redirected(answer: { scheduler?: string; record?: string }): Promise<string | undefined>;
  /** A push to `url` failed to connect: the next locate should not trust the cached location. */
  failed?(scheduler: string): void;
}

export interface DelivererOptions {
  store: StoreView<'deliveries' | 'undelivered' | 'messages'>;
  /** This node's scheduler, for targets it schedules itself. */
  scheduler: { schedule(raw: Uint8Array): Promise<SignedAssignment> };
  signer: Ed25519Signer;
  /** This node's address: the scheduler of the processes its processes spawn. */
  address: string;
  routes: DeliveryRoutes;
  clock?: () => number;
  log?: (line: string) => void;
}

const MAX_HOPS = 3;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Entries of one link sent together (one push bundle, one ledger transaction), in order. */
export const MAX_PUSH = 64;

interface Queued {
  key: EntryKey;
  createdAt: number;
}

interface Link {
  name: string;
  queue: Queued[];
  busy: boolean;
  timer?: NodeJS.Timeout;
  /** Whether its first entry has failed an attempt (and waits for the next). */
  retrying: boolean;
}

/** How a run of entries went: how many from the front were settled, and when to try the rest. */
interface Outcome {
  settled: number;
  retryAt?: number;
}

export class Deliverer {
  private readonly links = new Map<string, Link>();
  private readonly queued = new Set<string>();
  private scanQueued = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly counters = { delivered: 0, accounts: 0, attempts: 0, redirects: 0, failures: 0 };

  constructor(private readonly options: DelivererOptions) {}

  /** Takes up every unsettled entry (those of an earlier run included). */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Sends no more; resolves once the attempts in flight have settled (their ledger writes included). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const link of this.links.values()) clearTimeout(link.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Re-reads the whole work list (at start; coalesced to one scan per turn). */
  kick(): void {
    if (this.scanQueued || this.stopped) return;
    this.scanQueued = true;
    setImmediate(() => {
      this.scanQueued = false;
      for (const { key, value: target } of this.options.store.undelivered.getRange({})) {
        if (!this.queued.has(key.join('/'))) this.add(key as EntryKey, target, this.options.store.deliveries.get(key)?.createdAt ?? 0);
      }
    });
  }

  /** Entries just committed (keep.ts): queued without reading the work list again. */
  enqueue(entries: readonly { key: EntryKey; entry: DeliveryEntry }[]): void {
    if (this.stopped) return;
    for (const { key, entry } of entries) {
      if (entry.status === 'pending' && !this.queued.has(key.join('/'))) this.add(key, workTarget(entry), entry.createdAt);
    }
  }

  /** Pending and settled counts, and how long the oldest pending entry has waited (from memory, not the store). */
  stats(): { pending: number; retrying: number; oldestPendingMs: number; delivered: number; accounts: number; attempts: number; redirects: number; failures: number } {
    const now = this.now();
    let oldest = now;
    let retrying = 0;
    for (const link of this.links.values()) {
      const first = link.queue[0];
      if (first && first.createdAt < oldest) oldest = first.createdAt;
      if (link.retrying) retrying++;
    }
    return { pending: this.queued.size, retrying, oldestPendingMs: this.queued.size ? now - oldest : 0, ...this.counters };
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** A process's outbox from slot `from` on: each entry with its delivery state. */
  outbox(pid: string, from: number, limit: number): { slot: number; index: number; entry: DeliveryEntry }[] {
    return entriesFrom(this.options.store, pid, from, limit);
  }

  private add(key: EntryKey, target: string, createdAt: number): void {
    this.queued.add(key.join('/'));
    const name = `${key[0]}>${target}`;
    let link = this.links.get(name);
    if (!link) this.links.set(name, (link = { name, queue: [], busy: false, retrying: false }));
    link.queue.push({ key, createdAt });
    this.pump(link);
  }

  /** Sends the link's first entries (up to MAX_PUSH, in order), and the next once they are settled. */
  private pump(link: Link): void {
    if (link.busy || link.timer || this.stopped || link.queue.length === 0) return;
    link.busy = true;
    const run = link.queue.slice(0, MAX_PUSH).map((q) => q.key);
    const attempt = this.attempt(run);
    this.inFlight.add(attempt);
    void attempt.finally(() => this.inFlight.delete(attempt));
    void attempt.then(({ settled, retryAt }) => {
      link.busy = false;
      for (const { key } of link.queue.splice(0, settled)) this.queued.delete(key.join('/'));
      link.retrying = retryAt !== undefined;
      if (retryAt !== undefined) {
        link.timer = setTimeout(() => {
          link.timer = undefined;
          this.pump(link);
        }, Math.max(0, retryAt - this.now()));
        link.timer.unref();
        return;
      }
      if (link.queue.length === 0) this.links.delete(link.name);
      else this.pump(link);
    });
  }

  /** One attempt at a run of one link's entries: the front that got settled, and when to retry the rest. */
  private async attempt(keys: EntryKey[]): Promise<Outcome> {
    const { store } = this.options;
    const entries = keys.map((key) => store.deliveries.get(key));
    // Entries settled already (by an earlier run of this node) leave the work list first.
    let stale = 0;
    while (stale < entries.length && (!entries[stale] || entries[stale]!.status !== 'pending')) stale++;
    if (stale > 0) {
      await store.transaction(() => keys.slice(0, stale).forEach((key) => store.undelivered.remove(key)));
      return { settled: stale };
    }
    let run = entries.findIndex((e) => !e || e.status !== 'pending');
    if (run < 0) run = entries.length;
    const pending = entries.slice(0, run) as DeliveryEntry[];
    this.counters.attempts++;
    const origin = (i: number) => ({ process: keys[i]![0], slot: keys[i]![1], index: keys[i]![2], record: pending[i]!.record, pushedFor: pending[i]!.pushedFor });
    // A spawn is scheduled here, by the node that schedules its parent; its target is its own ID.
    const spawning = pending[0]!.spawn !== undefined;
    const items = pending.map((entry, i) => (entry.spawn ? signSpawn(this.options.signer, origin(i), entry.spawn, this.options.address) : signPushed(this.options.signer, origin(i), entry.message!)));
    let settled: Partial<DeliveryEntry>[] = [];
    let failure: unknown;
    try {
      settled = spawning ? await this.local(items.map((i) => i.raw)) : await this.send(pending[0]!.target!, items.map((i) => i.raw), keys[0]![0]);
      if (spawning) settled = settled.map((outcome, i) => ({ ...outcome, target: items[i]!.id }));
    } catch (error) {
      failure = error;
    }
    // A local delivery may settle a front part and fail at the next entry: both are kept.
    if (settled.length > 0) {
      const now = this.now();
      await store.transaction(() => {
        settled.forEach((outcome, i) => {
          store.deliveries.put(keys[i]!, { ...pending[i]!, ...outcome, item: items[i]!.id, attempts: pending[i]!.attempts + 1, settledAt: now });
          store.undelivered.remove(keys[i]!);
        });
      });
      for (const outcome of settled) this.counters[outcome.status === 'delivered' ? 'delivered' : 'accounts']++;
    }
    if (settled.length === pending.length && failure === undefined) return { settled: settled.length };
    return { settled: settled.length, retryAt: await this.failed(keys[settled.length]!, pending[settled.length]!, failure) };
  }

  /** Keeps a failed attempt on the entry at the front (its count, its reason, its next time); when to try again. */
  private async failed(key: EntryKey, entry: DeliveryEntry, error: unknown): Promise<number> {
    const { store } = this.options;
    this.counters.failures++;
    const attempts = entry.attempts + 1;
    const now = this.now();
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempts - 1, 16));
    const nextAt = now + Math.round(backoff * (0.75 + Math.random() * 0.5));
    const lastError = error instanceof Error ? error.message : String(error ?? 'the target\'s scheduler answered for fewer messages than were sent');
    if (attempts === 1 || attempts % 10 === 0) this.options.log?.(`delivery of ${key.join('/')} to ${entry.target}: attempt ${attempts} failed (${lastError}); retrying`);
    // The attempt count is kept, so the backoff survives a restart.
    await store.transaction(() => store.deliveries.put(key, { ...entry, attempts, lastError, nextAt })).catch(() => {});
    return nextAt;
  }

  /** Schedules items here, together, so the scheduler takes them in this order and shares their commit; the front that was assigned. */
  private async local(raws: Uint8Array[]): Promise<Partial<DeliveryEntry>[]> {
    const answers = await Promise.allSettled(raws.map((raw) => this.options.scheduler.schedule(raw)));
    const out: Partial<DeliveryEntry>[] = [];
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        if (out.length === 0) throw answer.reason;
        break;
      }
      out.push({ status: 'delivered', slot: answer.value.slot, assignment: answer.value.id, scheduler: answer.value.signer });
    }
    return out;
  }

  /** Sends pushed items (one link's, in order) to wherever their target is scheduled; how each of the front ones settled. */
  private async send(target: string, raws: Uint8Array[], source: string): Promise<Partial<DeliveryEntry>[]> {
    const route = await this.options.routes.locate(target);
    if (route.kind === 'account') return raws.map(() => ({ status: 'account' as const }));
    if (route.kind === 'unknown') throw new Error(route.reason);
    if (route.kind === 'local') return this.local(raws);
    const spawn = this.options.store.messages.get(source);
    if (!spawn) throw new Error(`the spawn item of ${source} is not in this node's store`);
    const bundle = encodeBundle([...raws, spawn]);
    let url: string | undefined = route.url;
    let scheduler = route.scheduler;
    for (let hop = 0; url && hop <= MAX_HOPS; hop++) {
      let answer: PushAnswer;
      try {
        answer = await this.options.routes.push(url, bundle);
      } catch (error) {
        this.options.routes.failed?.(scheduler);
        throw error;
      }
      if ('assignments' in answer) {
        const { assignments } = answer;
        if (assignments.length !== raws.length) throw new Error(`${url} answered with ${assignments.length} assignments for ${raws.length} messages`);
        for (const a of assignments) if (a.process !== target) throw new Error(`${url} answered with an assignment for ${a.process}, not ${target}`);
        return assignments.map((a) => ({ status: 'delivered' as const, slot: a.slot, assignment: a.id, scheduler: a.signer }));
      }
      this.counters.redirects++;
      scheduler = answer.redirect.scheduler ?? scheduler;
      const next = await this.options.routes.redirected(answer.redirect);
      if (next === url) throw new Error(`${url} redirected to itself`);
      url = next;
    }
    throw new Error(url ? `more than ${MAX_HOPS} redirects for ${target}` : `the scheduler of ${target} redirected without a location`);
  }
}
