// The deliverer: sends every pending entry of the delivery ledger (ledger.ts) to its target's
// scheduler, until a durable answer settles it. At-least-once transport plus an idempotent
// receiver (a pushed message is the same signed bytes on every retry, and a scheduler gives a
// (source, slot, index) one slot only) makes the effect exactly once.
//
// One message in flight per link (source process → target), in (slot, index) order, so a link
// is first-in first-out; links run side by side, so a dead target holds up only its own link.
// A failed attempt is retried with backoff (0.5 s doubling to 30 s, with jitter), forever,
// with the reason visible in the entry; only a target that no scheduler knows as a process,
// asked `accountAfter` times, is settled as an account (PROTOCOL.md §21).
import { encodeBundle } from '../protocol/ans104/bundle.ts';
import type { Ed25519Signer } from '../protocol/ans104/data-item.ts';
import { signPushed } from '../protocol/pushed.ts';
import type { SignedAssignment } from '../protocol/assignment.ts';
import type { EntryKey, StoreView } from '../store.ts';
import { entriesFrom, type DeliveryEntry } from './ledger.ts';

/** Where a target is, as far as this node can tell now. */
export type Route =
  | { kind: 'local' }
  | { kind: 'remote'; scheduler: string; url: string }
  | { kind: 'account' }
  /** Not found now; `definite` when every place that could know was asked and answered (only then does it count towards an account). */
  | { kind: 'unknown'; reason: string; definite?: boolean };

/** What a target's scheduler answered a push: its durable assignment, or where the target is scheduled instead. */
export type PushAnswer =
  | { assignment: Pick<SignedAssignment, 'process' | 'slot' | 'message' | 'id' | 'signer'> }
  | { redirect: { scheduler?: string; url?: string; record?: string } };

/** The effects the deliverer needs: where targets are, and pushes to other nodes (gateway/delivery-routes.ts). */
export interface DeliveryRoutes {
  locate(target: string): Promise<Route>;
  push(url: string, bundle: Uint8Array): Promise<PushAnswer>;
  /** A redirect's record (checked and cached by the routes); the URL to push to next, if it names one. */
  redirected(answer: { scheduler?: string; url?: string; record?: string }): Promise<string | undefined>;
  /** A push to `url` failed to connect: the next locate should not trust the cached location. */
  failed?(scheduler: string): void;
}

export interface DelivererOptions {
  store: StoreView<'deliveries' | 'undelivered' | 'messages'>;
  /** This node's scheduler, for targets it schedules itself. */
  scheduler: { schedule(raw: Uint8Array): Promise<SignedAssignment> };
  signer: Ed25519Signer;
  routes: DeliveryRoutes;
  /** Attempts after which a target no scheduler knows as a process is settled as an account (default 5). */
  accountAfter?: number;
  clock?: () => number;
  log?: (line: string) => void;
}

const MAX_HOPS = 3;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

interface Link {
  queue: EntryKey[];
  busy: boolean;
  timer?: NodeJS.Timeout;
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

  /** New entries were committed: queue them (coalesced to one scan per turn). */
  kick(): void {
    if (this.scanQueued || this.stopped) return;
    this.scanQueued = true;
    setImmediate(() => {
      this.scanQueued = false;
      this.scan();
    });
  }

  /** Pending and settled counts, and how long the oldest pending entry has waited. */
  stats(): { pending: number; retrying: number; oldestPendingMs: number; delivered: number; accounts: number; attempts: number; redirects: number; failures: number } {
    const now = (this.options.clock ?? Date.now)();
    let pending = 0;
    let retrying = 0;
    let oldest = now;
    for (const { key } of this.options.store.undelivered.getRange({})) {
      pending++;
      const entry = this.options.store.deliveries.get(key);
      if (entry && entry.attempts > 0) retrying++;
      if (entry && entry.createdAt < oldest) oldest = entry.createdAt;
    }
    return { pending, retrying, oldestPendingMs: pending ? now - oldest : 0, ...this.counters };
  }

  /** A process's outbox from slot `from` on: each entry with its delivery state. */
  outbox(pid: string, from: number, limit: number): { slot: number; index: number; entry: DeliveryEntry }[] {
    return entriesFrom(this.options.store, pid, from, limit);
  }

  private scan(): void {
    for (const { key, value: target } of this.options.store.undelivered.getRange({})) {
      const id = key.join('/');
      if (this.queued.has(id)) continue;
      this.queued.add(id);
      const name = `${key[0]}>${target}`;
      let link = this.links.get(name);
      if (!link) this.links.set(name, (link = { queue: [], busy: false }));
      link.queue.push(key as EntryKey);
      this.pump(link);
    }
  }

  /** Sends the link's first entry, and the next once it is settled. */
  private pump(link: Link): void {
    if (link.busy || link.timer || this.stopped || link.queue.length === 0) return;
    link.busy = true;
    const key = link.queue[0]!;
    const attempt = this.attempt(key);
    this.inFlight.add(attempt);
    void attempt.finally(() => this.inFlight.delete(attempt));
    void attempt.then((retryAt) => {
      link.busy = false;
      if (retryAt === undefined) {
        link.queue.shift();
        this.queued.delete(key.join('/'));
      } else {
        link.timer = setTimeout(() => {
          link.timer = undefined;
          this.pump(link);
        }, Math.max(0, retryAt - (this.options.clock ?? Date.now)()));
        link.timer.unref();
        return;
      }
      this.pump(link);
    });
  }

  /** One attempt at an entry: undefined once it is settled, else when to try again. */
  private async attempt(key: EntryKey): Promise<number | undefined> {
    const { store } = this.options;
    const entry = store.deliveries.get(key);
    if (!entry || entry.status !== 'pending') {
      if (store.undelivered.get(key) !== undefined) await store.transaction(() => store.undelivered.remove(key));
      return undefined;
    }
    this.counters.attempts++;
    try {
      const item = signPushed(this.options.signer, { process: key[0], slot: key[1], index: key[2], record: entry.record, pushedFor: entry.pushedFor }, entry.message!);
      const settled = await this.send(entry, item.raw, key[0]);
      await this.settle(key, { ...entry, ...settled, item: item.id, attempts: entry.attempts + 1, settledAt: (this.options.clock ?? Date.now)() });
      return undefined;
    } catch (error) {
      this.counters.failures++;
      const attempts = entry.attempts + 1;
      const now = (this.options.clock ?? Date.now)();
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempts - 1, 16));
      const nextAt = now + Math.round(backoff * (0.75 + Math.random() * 0.5));
      const lastError = (error as Error).message;
      if (attempts === 1 || attempts % 10 === 0) this.options.log?.(`delivery of ${key.join('/')} to ${entry.target}: attempt ${attempts} failed (${lastError}); retrying`);
      // The attempt count is kept, so the account rule and the backoff survive a restart.
      await store.transaction(() => store.deliveries.put(key, { ...entry, attempts, lastError, nextAt })).catch(() => {});
      return nextAt;
    }
  }

  /** Sends one pushed item to wherever its target is scheduled; resolves with how it settled. */
  private async send(entry: DeliveryEntry, raw: Uint8Array, source: string): Promise<Partial<DeliveryEntry>> {
    const target = entry.target!;
    const route = await this.options.routes.locate(target);
    if (route.kind === 'local') {
      const assignment = await this.options.scheduler.schedule(raw);
      return { status: 'delivered', slot: assignment.slot, assignment: assignment.id, scheduler: assignment.signer };
    }
    if (route.kind === 'account') return { status: 'account' };
    if (route.kind === 'unknown') {
      if (route.definite && entry.attempts + 1 >= (this.options.accountAfter ?? 5)) return { status: 'account', lastError: route.reason };
      throw new Error(route.reason);
    }
    const spawn = this.options.store.messages.get(source);
    if (!spawn) throw new Error(`the spawn item of ${source} is not in this node's store`);
    const bundle = encodeBundle([raw, spawn]);
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
      if ('assignment' in answer) {
        const { assignment } = answer;
        if (assignment.process !== target) throw new Error(`${url} answered with an assignment for ${assignment.process}, not ${target}`);
        return { status: 'delivered', slot: assignment.slot, assignment: assignment.id, scheduler: assignment.signer };
      }
      this.counters.redirects++;
      scheduler = answer.redirect.scheduler ?? scheduler;
      const next = await this.options.routes.redirected(answer.redirect);
      if (next === url) throw new Error(`${url} redirected to itself`);
      url = next;
    }
    throw new Error(url ? `more than ${MAX_HOPS} redirects for ${target}` : `the scheduler of ${target} redirected without a location`);
  }

  private async settle(key: EntryKey, entry: DeliveryEntry): Promise<void> {
    const { store } = this.options;
    await store.transaction(() => {
      store.deliveries.put(key, entry);
      store.undelivered.remove(key);
    });
    if (entry.status === 'delivered') this.counters.delivered++;
    else this.counters.accounts++;
  }
}
