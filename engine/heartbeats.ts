// This node's heartbeats to the registries it joined (`--join`, docs/registry-section.md): JOINING
// once its measurements are in, then ONLINE at once and every interval (±10% jitter, so that
// nodes started together do not beat together), DRAINING and OFFLINE on a clean shutdown. Each
// heartbeat is signed once with the next sequence number, kept in the store in the same
// transaction, so a restart continues above the last one; the same bytes go to every registry.
// A registry that cannot be reached is logged once per run of failures, one line, and tried
// again at the next beat: it never stops the node or the other registries.
import type { Ed25519Signer } from './protocol/ans104/data-item.ts';
import { signHeartbeat, type Heartbeat, type HeartbeatFields, type NodeState } from './protocol/heartbeat.ts';
import type { StoreView } from './store.ts';

/** Where heartbeats go: a registry, reached over HTTP, or this node's own. */
export interface HeartbeatTarget {
  name: string;
  /** Hands over the signed bytes; rejects with a one-line reason when the registry did not take them. */
  send(raw: Uint8Array, timeoutMs: number): Promise<void>;
}

/** What a heartbeat says of the node besides its state, sequence, URL, version and time. */
export type NodeFacts = Omit<HeartbeatFields, 'sequence' | 'state' | 'url' | 'version' | 'time'>;

export interface HeartbeatsOptions {
  signer: Ed25519Signer;
  store: StoreView<'meta'>;
  /** The node's base URL, as other nodes reach it. */
  url: string;
  version: string;
  /** The node's facts now (the measured gas/s is measured once, by whoever gives this). */
  facts(): Promise<NodeFacts>;
  targets: HeartbeatTarget[];
  /** Between ONLINE heartbeats (default 60 s), before jitter. */
  intervalMs?: number;
  /** The share of the interval each wait may differ by, either way (default 0.1). */
  jitter?: number;
  clock?: () => number;
  random?: () => number;
  log?: (line: string) => void;
}

export const DEFAULT_HEARTBEAT_MS = 60_000;
/** The store.meta key of the last sequence number this node signed. */
const SEQUENCE_KEY = 'heartbeat-sequence';
/** How long a shutdown's DRAINING and OFFLINE wait for each registry. */
const SHUTDOWN_TIMEOUT_MS = 2_000;

export class Heartbeats {
  readonly intervalMs: number;
  private readonly options: HeartbeatsOptions;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  /** Beats one at a time: each reads the sequence the previous one wrote. */
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  private facts: NodeFacts | undefined;
  /** Targets whose last send failed: their next failure is not logged again. */
  private readonly failing = new Set<string>();
  private last: Heartbeat | undefined;

  constructor(options: HeartbeatsOptions) {
    this.options = options;
    this.intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => {});
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) throw new Error(`a heartbeat interval must be a whole number of ms ≥ 1, got ${this.intervalMs}`);
  }

  /** The registries heartbeats go to, by name. */
  get targets(): string[] {
    return this.options.targets.map((t) => t.name);
  }

  /** The last heartbeat signed, if any. */
  latest(): Heartbeat | undefined {
    return this.last;
  }

  /** JOINING, then ONLINE, then ONLINE every interval; resolves once the first two went out (whatever the registries answered). */
  start(): Promise<void> {
    this.starting ??= (async () => {
      try {
        await this.beat('JOINING');
        if (!this.stopped) await this.beat('ONLINE');
      } catch (error) {
        this.log(`heartbeats: could not start: ${(error as Error).message}`);
      }
      if (!this.stopped) this.schedule();
    })();
    return this.starting;
  }

  /** Signs a heartbeat in `state` with the next sequence number and sends it to every target. */
  beat(state: NodeState, timeoutMs = Math.min(10_000, Math.max(this.intervalMs, 1_000))): Promise<Heartbeat> {
    const next = this.chain.then(() => this.beatNow(state, timeoutMs));
    this.chain = next.catch(() => {});
    return next;
  }

  /** Stops the timer without saying anything: the registries will find the node silent (what a crash looks like). */
  silence(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Says DRAINING (the node finishes what it has, takes nothing new) and stops the timer. */
  async drain(): Promise<void> {
    this.silence();
    await this.starting;
    if (this.last) await this.beat('DRAINING', SHUTDOWN_TIMEOUT_MS).catch(() => {});
  }

  /** Says OFFLINE, if this node ever announced itself, and stops. */
  async stop(): Promise<void> {
    this.silence();
    await this.starting;
    if (this.last && this.last.state !== 'OFFLINE') await this.beat('OFFLINE', SHUTDOWN_TIMEOUT_MS).catch(() => {});
  }

  private schedule(): void {
    const jitter = this.options.jitter ?? 0.1;
    const wait = Math.max(1, Math.round(this.intervalMs * (1 + jitter * (2 * this.random() - 1))));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.beat('ONLINE')
        .catch((error) => this.log(`heartbeats: an ONLINE heartbeat failed: ${(error as Error).message}`))
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, wait);
    // A sleeping heartbeat must never be what keeps the process alive.
    this.timer.unref();
  }

  private async beatNow(state: NodeState, timeoutMs: number): Promise<Heartbeat> {
    // A shutdown says what the node last measured rather than wait on a measurement.
    const facts = state === 'DRAINING' || state === 'OFFLINE' ? (this.facts ?? (await this.options.facts())) : await this.options.facts();
    this.facts = facts;
    const { store } = this.options;
    const heartbeat = await store.transaction(() => {
      const stored = store.meta.get(SEQUENCE_KEY);
      const time = this.clock();
      // Time-based from the first: a node whose data folder was lost still starts above where it was.
      const sequence = Math.max(typeof stored === 'number' ? stored + 1 : 0, this.last ? this.last.sequence + 1 : 0, time);
      const signed = signHeartbeat(this.options.signer, { ...facts, sequence, state, url: this.options.url, version: this.options.version, time });
      store.meta.put(SEQUENCE_KEY, sequence);
      return signed;
    });
    this.last = heartbeat;
    await Promise.all(this.options.targets.map((target) => this.send(target, heartbeat, timeoutMs)));
    return heartbeat;
  }

  private async send(target: HeartbeatTarget, heartbeat: Heartbeat, timeoutMs: number): Promise<void> {
    try {
      await target.send(heartbeat.raw, timeoutMs);
      if (this.failing.delete(target.name)) this.log(`heartbeats: ${target.name} takes heartbeats again (sequence ${heartbeat.sequence})`);
    } catch (error) {
      if (this.failing.has(target.name)) return;
      this.failing.add(target.name);
      const reason = ((error as Error).message ?? String(error)).split('\n')[0]!.slice(0, 300);
      this.log(`heartbeats: ${target.name} did not take the ${heartbeat.state} heartbeat ${heartbeat.sequence} (${reason}); trying again at the next one`);
    }
  }
}
