// A registry of nodes (docs/registry-section.md): what a node started with `--registry` keeps of
// the nodes that send it heartbeats. It believes only what a node signed (engine/protocol/
// heartbeat.ts), takes a heartbeat only with a sequence above the last it took from that node,
// and judges liveness by its own clock at receipt, never by the node's: a node is OFFLINE once
// TTL + grace pass without a heartbeat, or at once when it says so. Uptime is the share of time
// it was ONLINE so judged. Everything is kept in the node's LMDB store, so a restart keeps its
// nodes; a node's first heartbeat and, periodically, a signed summary go to Arweave through the
// outbox, so the network's history is public.
import type { Ed25519Signer } from './protocol/ans104/data-item.ts';
import { b64url, fromB64url } from './protocol/encoding.ts';
import { badRequest, HyperError } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { readHeartbeat, registryGroup, signSummary, type Heartbeat, type HeartbeatGpu, type NodeState, type Summary, type SummaryNode } from './protocol/heartbeat.ts';
import { OutboxKind, type StoreView } from './store.ts';

/** What the store keeps per node (store.registry, by address). */
export interface RegistryEntry {
  /** The last accepted heartbeat item, unpadded base64url. */
  item: string;
  /** Registry clock (ms) at the node's first accepted heartbeat. */
  firstSeen: number;
  /** Registry clock (ms) at the last accepted heartbeat. */
  lastReceipt: number;
  /** Heartbeats accepted. */
  heartbeats: number;
  /**
   * Spans [from, to] of registry time the node was ONLINE, oldest first, none ending more than
   * 7 days ago. The last one may end ahead of now: the time its last ONLINE heartbeat is good for.
   */
  online: [number, number][];
}

export interface RegistryFilter {
  /** true: only nodes with a GPU adapter (lavapipe included: see `source`); false: only those without. */
  gpu?: boolean;
  /** WGSL language features the node's adapter must all have. */
  features?: string[];
  minGasPerSecond?: number;
  /** The highest per-1000-gas fee. */
  maxPrice?: bigint;
  /** The state as the registry judges it now. */
  state?: NodeState;
}

/** A node as the registry sees it now: its last signed heartbeat's fields and the registry's own judgement. */
export interface NodeView {
  address: string;
  'public-key': string;
  /** As judged now: the announced state, or OFFLINE once TTL + grace passed since the last heartbeat. */
  state: NodeState;
  'announced-state': NodeState;
  sequence: number;
  url: string;
  version: string;
  gpu: HeartbeatGpu | 'cpu';
  cores: number;
  memory: number;
  'gas-per-second': number;
  queue: number;
  prices: { flat: string; 'per-kgas': string };
  modules: string[];
  /** The node's own clock when it signed the last heartbeat (informational). */
  time: number;
  'first-seen': number;
  /** Registry clock at the last heartbeat. */
  'last-heartbeat': number;
  /** When the registry takes it for OFFLINE without another heartbeat. */
  'offline-after': number;
  uptime: { '24h': number; '7d': number };
  heartbeats: number;
  /** The last heartbeat's item ID. */
  heartbeat: string;
  /** The last heartbeat item itself (unpadded base64url), for whoever checks it themselves; only where asked. */
  item?: string;
}

export interface NodeRegistryOptions {
  /** The registry node's own address and key: it signs the summaries. */
  address: string;
  signer: Ed25519Signer;
  store: StoreView<'registry' | 'meta' | 'outbox'>;
  clock?: () => number;
  /** How long a heartbeat keeps a node in its state (default 120 s: two of the default 60 s intervals). */
  ttlMs?: number;
  /** Added to the TTL before a silent node is OFFLINE (default TTL / 4). */
  graceMs?: number;
  /** A signed summary is published this often (default 1 h; 0: never on a timer). */
  summaryEveryMs?: number;
  /** Called after something was queued for Arweave (the publisher's kick). */
  onWrite?: () => void;
  log?: (line: string) => void;
}

export const DEFAULT_REGISTRY_TTL_MS = 120_000;
export const DEFAULT_SUMMARY_EVERY_MS = 3_600_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** ONLINE spans kept per node at most: a node flapping every few seconds for a week loses its oldest. */
const MAX_SPANS = 4096;
/** store.meta key of the last outbox seq the registry used in its group. */
const SEQ_KEY = 'registry-outbox-seq';

interface Held {
  heartbeat: Heartbeat;
  entry: RegistryEntry;
}

export class NodeRegistry {
  readonly address: string;
  readonly ttlMs: number;
  readonly graceMs: number;
  private readonly signer: Ed25519Signer;
  private readonly store: StoreView<'registry' | 'meta' | 'outbox'>;
  private readonly clock: () => number;
  private readonly summaryEveryMs: number;
  private readonly onWrite: () => void;
  private readonly log: (line: string) => void;
  private readonly nodes = new Map<string, Held>();
  private seq: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: NodeRegistryOptions) {
    this.address = options.address;
    this.signer = options.signer;
    this.store = options.store;
    this.clock = options.clock ?? Date.now;
    this.ttlMs = options.ttlMs ?? DEFAULT_REGISTRY_TTL_MS;
    this.graceMs = options.graceMs ?? Math.floor(this.ttlMs / 4);
    this.summaryEveryMs = options.summaryEveryMs ?? DEFAULT_SUMMARY_EVERY_MS;
    this.onWrite = options.onWrite ?? (() => {});
    this.log = options.log ?? (() => {});
    if (sha256b64(this.signer.publicKey) !== this.address) throw badRequest(`the registry signer's address is ${sha256b64(this.signer.publicKey)}, not ${this.address}`);
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < 1) throw badRequest(`a registry TTL must be a whole number of ms ≥ 1, got ${this.ttlMs}`);
    if (!Number.isSafeInteger(this.graceMs) || this.graceMs < 0) throw badRequest(`a registry grace period must be a whole number of ms ≥ 0, got ${this.graceMs}`);
    for (const { key, value } of this.store.registry.getRange({})) {
      try {
        this.nodes.set(key, { heartbeat: readHeartbeat(fromB64url(value.item)), entry: value });
      } catch (error) {
        // Only this node writes these; a record that no longer reads is logged, never fatal.
        this.log(`registry: the stored heartbeat of ${key} does not read (${(error as Error).message}); that node is listed again at its next heartbeat`);
      }
    }
    const last = this.store.meta.get(SEQ_KEY);
    this.seq = typeof last === 'number' ? last : 0;
  }

  /** Publishes a signed summary every summaryEveryMs until stop(). */
  start(): void {
    this.stop();
    if (this.summaryEveryMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.nodes.size === 0) return;
      this.publishSummary().catch((error) => this.log(`registry: publishing a summary failed: ${(error as Error).message}`));
    }, this.summaryEveryMs);
    // A sleeping summary must never be what keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The registry's clock: what liveness is judged by. */
  now(): number {
    return this.clock();
  }

  get size(): number {
    return this.nodes.size;
  }

  /**
   * Takes a heartbeat: verified (400 malformed, 401 a signature that does not verify), then
   * refused with 409 unless its sequence is above the last one taken from that node. Resolves
   * with the registry's view of the node once it is durable. A node's first heartbeat is also
   * queued for Arweave.
   */
  async accept(raw: Uint8Array): Promise<NodeView> {
    const heartbeat = readHeartbeat(raw);
    const held = this.nodes.get(heartbeat.address);
    if (held && heartbeat.sequence <= held.heartbeat.sequence) {
      const replay = heartbeat.id === held.heartbeat.id;
      throw new HyperError('conflict', replay ? 'replayed-heartbeat' : 'stale-heartbeat',
        replay
          ? `heartbeat ${heartbeat.id} of ${heartbeat.address} was already taken (sequence ${heartbeat.sequence}): a replay changes nothing`
          : `heartbeat ${heartbeat.id} of ${heartbeat.address} has sequence ${heartbeat.sequence}, not above the last one taken (${held.heartbeat.sequence}): a node's sequence numbers must strictly increase`,
        { sequence: heartbeat.sequence, last: held.heartbeat.sequence });
    }
    const now = this.clock();
    const entry: RegistryEntry = {
      item: b64url(heartbeat.raw),
      firstSeen: held?.entry.firstSeen ?? now,
      lastReceipt: now,
      heartbeats: (held?.entry.heartbeats ?? 0) + 1,
      online: nextSpans(held?.entry.online ?? [], heartbeat.state, now, this.ttlMs + this.graceMs),
    };
    // Held at once, before the write: a second copy arriving meanwhile meets this sequence.
    this.nodes.set(heartbeat.address, { heartbeat, entry });
    const first = !held;
    await this.store.transaction(() => {
      this.store.registry.put(heartbeat.address, entry);
      if (first) this.queue(heartbeat.raw);
    });
    if (first) {
      this.log(`registry: ${heartbeat.address} joined at ${heartbeat.url} (${heartbeat.state})`);
      this.onWrite();
    }
    return this.view({ heartbeat, entry }, now, { item: true });
  }

  /** A node's view, or undefined for an address that never sent a heartbeat here. */
  get(address: string, options: { item?: boolean } = {}): NodeView | undefined {
    const held = this.nodes.get(address);
    return held && this.view(held, this.clock(), options);
  }

  /** The nodes that pass every filter given, by address. */
  list(filter: RegistryFilter = {}): NodeView[] {
    const now = this.clock();
    const views: NodeView[] = [];
    for (const held of this.nodes.values()) {
      const view = this.view(held, now);
      if (matches(view, filter)) views.push(view);
    }
    return views.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** Signs what the registry holds now and queues it for Arweave. */
  async publishSummary(): Promise<Summary> {
    const now = this.clock();
    const nodes: SummaryNode[] = [...this.nodes.values()].map((held) => {
      const view = this.view(held, now);
      return {
        address: view.address,
        state: view.state,
        sequence: view.sequence,
        heartbeat: view.heartbeat,
        'first-seen': view['first-seen'],
        'last-heartbeat': view['last-heartbeat'],
        'uptime-24h': view.uptime['24h'],
        'uptime-7d': view.uptime['7d'],
      };
    });
    const summary = signSummary(this.signer, { time: now, nodes });
    await this.store.transaction(() => this.queue(summary.raw));
    this.onWrite();
    return summary;
  }

  /** Queues an item in the registry's outbox group; call inside a store transaction. */
  private queue(raw: Uint8Array): void {
    this.seq = Math.max(this.seq + 1, this.clock());
    this.store.meta.put(SEQ_KEY, this.seq);
    this.store.outbox.put([registryGroup(this.address), this.seq, OutboxKind.Registry], raw);
  }

  private view({ heartbeat, entry }: Held, now: number, options: { item?: boolean } = {}): NodeView {
    const offlineAfter = entry.lastReceipt + this.ttlMs + this.graceMs;
    return {
      address: heartbeat.address,
      'public-key': heartbeat.publicKey,
      state: stateAt(heartbeat.state, offlineAfter, now),
      'announced-state': heartbeat.state,
      sequence: heartbeat.sequence,
      url: heartbeat.url,
      version: heartbeat.version,
      gpu: heartbeat.gpu,
      cores: heartbeat.cores,
      memory: heartbeat.memory,
      'gas-per-second': heartbeat.gasPerSecond,
      queue: heartbeat.queue,
      prices: { flat: heartbeat.prices.flat, 'per-kgas': heartbeat.prices.perKgas },
      modules: heartbeat.modules,
      time: heartbeat.time,
      'first-seen': entry.firstSeen,
      'last-heartbeat': entry.lastReceipt,
      'offline-after': offlineAfter,
      uptime: { '24h': uptime(entry.online, entry.firstSeen, now, DAY), '7d': uptime(entry.online, entry.firstSeen, now, WEEK) },
      heartbeats: entry.heartbeats,
      heartbeat: heartbeat.id,
      ...(options.item ? { item: b64url(heartbeat.raw) } : {}),
    };
  }
}

/** The state the registry takes a node to be in at `now`: OFFLINE once its last heartbeat is past good. */
export const stateAt = (announced: NodeState, offlineAfter: number, now: number): NodeState => (now > offlineAfter ? 'OFFLINE' : announced);

/**
 * The ONLINE spans after a heartbeat in `state` received at `receipt`, good for `goodFor` ms:
 * ONLINE extends the running span (or opens one) to receipt + goodFor; any other state ends a
 * running span at receipt. Spans that ended over 7 days before `receipt` are dropped.
 */
export function nextSpans(spans: readonly [number, number][], state: NodeState, receipt: number, goodFor: number): [number, number][] {
  const next = spans.filter(([, to]) => to >= receipt - WEEK).map(([from, to]): [number, number] => [from, to]);
  const last = next.at(-1);
  if (state === 'ONLINE') {
    if (last && last[1] >= receipt) last[1] = Math.max(last[1], receipt + goodFor);
    else next.push([receipt, receipt + goodFor]);
  } else if (last && last[1] > receipt) {
    last[1] = receipt;
  }
  return next.length > MAX_SPANS ? next.slice(next.length - MAX_SPANS) : next;
}

/**
 * The share of the last `window` ms (or of the time since first seen, when shorter) that the
 * spans cover, up to `now`, rounded to 4 decimals; 0 for a node first seen at `now`.
 */
export function uptime(spans: readonly [number, number][], firstSeen: number, now: number, window: number): number {
  const from = Math.max(now - window, firstSeen);
  if (now <= from) return 0;
  let covered = 0;
  for (const [start, end] of spans) covered += Math.max(0, Math.min(end, now) - Math.max(start, from));
  return Math.round((covered / (now - from)) * 10_000) / 10_000;
}

function matches(view: NodeView, filter: RegistryFilter): boolean {
  if (filter.gpu !== undefined && (view.gpu !== 'cpu') !== filter.gpu) return false;
  if (filter.features?.length) {
    const has = view.gpu === 'cpu' ? [] : view.gpu.features;
    if (!filter.features.every((f) => has.includes(f))) return false;
  }
  if (filter.minGasPerSecond !== undefined && view['gas-per-second'] < filter.minGasPerSecond) return false;
  if (filter.maxPrice !== undefined && BigInt(view.prices['per-kgas']) > filter.maxPrice) return false;
  if (filter.state !== undefined && view.state !== filter.state) return false;
  return true;
}
