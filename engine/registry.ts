// A registry of nodes (docs/registry-section.md): what a node started with `--registry` keeps of
// the nodes that send it heartbeats. It believes only what a node signed (engine/protocol/
// heartbeat.ts), takes a heartbeat only with a sequence above the last it took from that node,
// and judges liveness by its own clock at receipt, never by the node's: a node is OFFLINE once
// TTL + grace pass without a heartbeat, or at once when it says so. Uptime is the share of time
// it was ONLINE so judged. Everything is kept in the node's LMDB store, so a restart keeps its
// nodes; a node's first heartbeat and, periodically, a signed summary go to Arweave through the
// outbox, so the network's history is public.
//
// Reputation (docs/reputation-section.md) comes from verification reports (engine/protocol/
// verification-report.ts): a node's reports about itself are refused, so are those of keys
// this registry does not know; a confirmation counts once per statement, and only for an
// attestation the registry found on Arweave signed by the node; a refutation is believed only
// once the registry re-executed the statement itself and got something other than what was
// attested. A believed refutation marks the node refuted for good: no confirmations undo it.
import type { Ed25519Signer } from './protocol/ans104/data-item.ts';
import { b64url, fromB64url } from './protocol/encoding.ts';
import { badRequest, HyperError, notFound } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { readHeartbeat, registryGroup, signSummary, type Heartbeat, type HeartbeatGpu, type NodeState, type Summary, type SummaryNode } from './protocol/heartbeat.ts';
import { readReport, statementKey, type Replay, type VerificationReport } from './protocol/verification-report.ts';
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

/** What the store keeps per reported statement (store.verifications, by "<node>/<attestation>/<index>"). */
export interface VerificationEntry {
  node: string;
  attestation: string;
  index: number;
  /** Verifiers whose confirmation was taken, in order. */
  confirmedBy: string[];
  /** IDs of the reports taken about this statement (a report is taken once). */
  reports: string[];
  /** The refutation the registry believed: its report, its verifier, and what the registry's own replay gave. */
  refuted?: { report: string; verifier: string; field: string; attested: string | number; replayed: Record<string, string | number>; reason: string };
}

/**
 * How a registry checks a report's evidence itself, from Arweave (attest/verify/reports.ts):
 * the engine reaches neither Arweave nor the verification library.
 */
export interface ReportChecker {
  /** Undefined when the attestation on Arweave is signed by the report's node and holds the report's statement at its index; else why not. */
  attested(report: VerificationReport): Promise<string | undefined>;
  /** Re-executes the report's statement. */
  replay(report: VerificationReport): Promise<Replay>;
}

/** What taking a report did. */
export interface ReportOutcome {
  report: string;
  verdict: VerificationReport['verdict'];
  node: string;
  verifier: string;
  attestation: string;
  index: number;
  /** For a refutation: what the registry's own replay gave (believed only when it differs from the attestation). */
  replayed?: Record<string, string | number>;
  /** The node's view after the report. */
  view: NodeView;
}

/** Weight of one believed refutation against confirmations in the reputation formula. */
export const REFUTATION_WEIGHT = 10;

/** reputation = (confirmed + 1) / (confirmed + W·refuted + 2), 4 decimals: 0.5 for a node nobody checked. */
export function reputation(confirmed: number, refuted: number): number {
  return Math.round(((confirmed + 1) / (confirmed + REFUTATION_WEIGHT * refuted + 2)) * 10_000) / 10_000;
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
  /** The lowest reputation, 0 to 1. */
  minReputation?: number;
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
  /** From verification: (confirmed + 1) / (confirmed + 10·refutations + 2), 0 to 1. */
  reputation: number;
  /** Whether a refutation of one of its statements was believed (checked by this registry): routers exclude it. */
  refuted: boolean;
  /** Its statements confirmed by a verifier (each counted once, whoever confirmed it) and not refuted. */
  confirmed: number;
  /** Its statements refuted with evidence this registry checked. */
  refutations: number;
  /** The believed refutations, with their reports (single-node answers only). */
  evidence?: { attestation: string; index: number; report: string; verifier: string; field: string; attested: string | number; replayed: Record<string, string | number>; reason: string }[];
  /** The last heartbeat's item ID. */
  heartbeat: string;
  /** The last heartbeat item itself (unpadded base64url), for whoever checks it themselves; only where asked. */
  item?: string;
}

export interface NodeRegistryOptions {
  /** The registry node's own address and key: it signs the summaries. */
  address: string;
  signer: Ed25519Signer;
  store: StoreView<'registry' | 'meta' | 'outbox' | 'verifications'>;
  /** Checks reports' evidence from Arweave; without it, reports are refused (503). */
  checker?: ReportChecker;
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
  private readonly store: StoreView<'registry' | 'meta' | 'outbox' | 'verifications'>;
  private readonly checker: ReportChecker | undefined;
  /** Reported statements by node, then by statementKey. */
  private readonly verified = new Map<string, Map<string, VerificationEntry>>();
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
    this.checker = options.checker;
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
    for (const { value } of this.store.verifications.getRange({})) this.held(value.node).set(statementKey(value.attestation, value.index), value);
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

  /**
   * Takes a verification report: read and verified (400, 401), refused when it is the node's
   * own (403 self-report), from a key this registry does not know (403 unknown-verifier), about
   * a node it does not know (404), already taken or adding nothing (409). Then its evidence is
   * checked here: the attestation must be on Arweave, signed by the node, holding the report's
   * statement (else 422 unverifiable-report); a refutation is believed only when this registry's
   * own replay differs from the attestation too (else 422 refutation-not-reproduced). Resolves
   * once what it changed is durable; a refused report changes nothing.
   */
  async acceptReport(raw: Uint8Array): Promise<ReportOutcome> {
    const report = readReport(raw);
    const what = `report ${report.id}`;
    if (report.verifier === report.node) {
      throw new HyperError('forbidden', 'self-report', `${what} is by ${report.node} about itself: a node's reports about its own attestations do not count`);
    }
    if (!this.nodes.has(report.node)) throw notFound(`${what} is about ${report.node}, which has sent this registry no heartbeat: reputation is kept only for registered nodes`);
    if (!this.nodes.has(report.verifier)) {
      throw new HyperError('forbidden', 'unknown-verifier', `${what} is signed by ${report.verifier}, which has sent this registry no heartbeat: reports count only from nodes registered here (join it with --join)`);
    }
    const key = statementKey(report.attestation, report.index);
    this.refuseRepeat(report, what, key);
    if (!this.checker) throw new HyperError('unavailable', 'no-evidence-check', `this registry cannot check reports' evidence (it has no Arweave gateway); ${what} changes nothing`);
    const fault = await this.checker.attested(report);
    if (fault) throw new HyperError('refused', 'unverifiable-report', `${what} cites statement ${report.index} of attestation ${report.attestation}, but ${fault}; the report changes nothing`);
    let replayed: Record<string, string | number> | undefined;
    if (report.verdict === 'refuted') {
      const evidence = report.evidence!;
      const replay = await this.checker.replay(report);
      if (replay.verdict === 'unjudged') {
        throw new HyperError('refused', 'refutation-not-reproduced', `${what}: this registry could not replay statement ${report.index} of ${report.attestation} (${replay.message}); the refutation is not believed and changes nothing`);
      }
      if (replay.verdict === 'matches') {
        throw new HyperError('refused', 'refutation-not-reproduced',
          `${what} says the ${evidence.field} is ${JSON.stringify(evidence.replayed[evidence.field])}, but this registry re-executed statement ${report.index} of ${report.attestation} and got the attested ${evidence.field} ${JSON.stringify(evidence.attested)}: the evidence does not check out, and the refutation changes nothing`,
          { replayed: replay.replayed });
      }
      replayed = replay.replayed;
      // Believed on this registry's own replay: its values are what is kept, whatever the report said.
      report.evidence = { ...evidence, field: replay.field, attested: replay.attested, replayed: replay.replayed, reason: replay.message };
    }
    // The checks awaited: a copy of the report (or another verifier's) may have been taken meanwhile.
    this.refuseRepeat(report, what, key);
    const held = this.held(report.node);
    const previous = held.get(key);
    const entry: VerificationEntry = {
      node: report.node,
      attestation: report.attestation,
      index: report.index,
      confirmedBy: [...(previous?.confirmedBy ?? []), ...(report.verdict === 'confirmed' ? [report.verifier] : [])],
      reports: [...(previous?.reports ?? []), report.id].slice(-64),
      ...(previous?.refuted ? { refuted: previous.refuted } : {}),
    };
    if (report.verdict === 'refuted') {
      const e = report.evidence!;
      entry.refuted = { report: report.id, verifier: report.verifier, field: e.field, attested: e.attested, replayed: e.replayed, reason: e.reason };
    }
    held.set(key, entry);
    await this.store.transaction(() => this.store.verifications.put(`${report.node}/${key}`, entry));
    if (report.verdict === 'refuted') this.log(`registry: ${report.node} refuted by ${report.verifier} on statement ${report.index} of ${report.attestation} (${report.evidence!.reason})`);
    const view = this.get(report.node)!;
    return { report: report.id, verdict: report.verdict, node: report.node, verifier: report.verifier, attestation: report.attestation, index: report.index, ...(replayed ? { replayed } : {}), view };
  }

  /** 409 for a report that was taken, or that would add nothing to what is held of its statement. */
  private refuseRepeat(report: VerificationReport, what: string, key: string): void {
    const entry = this.verified.get(report.node)?.get(key);
    if (!entry) return;
    if (entry.reports.includes(report.id)) throw new HyperError('conflict', 'replayed-report', `${what} was already taken: a replay changes nothing`);
    if (entry.refuted) throw new HyperError('conflict', 'already-refuted', `statement ${report.index} of ${report.attestation} is already refuted (report ${entry.refuted.report}): ${what} adds nothing`);
    if (report.verdict === 'confirmed' && entry.confirmedBy.includes(report.verifier)) {
      throw new HyperError('conflict', 'already-confirmed', `${report.verifier} already confirmed statement ${report.index} of ${report.attestation}: a statement counts once per verifier, and once in the reputation`);
    }
  }

  private held(node: string): Map<string, VerificationEntry> {
    let held = this.verified.get(node);
    if (!held) this.verified.set(node, (held = new Map()));
    return held;
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

  /** A node's reputation and counts; with `evidence`, its believed refutations. */
  private standing(address: string, evidence: boolean): Pick<NodeView, 'reputation' | 'refuted' | 'confirmed' | 'refutations' | 'evidence'> {
    let confirmed = 0;
    const refuted: VerificationEntry[] = [];
    for (const entry of this.verified.get(address)?.values() ?? []) {
      if (entry.refuted) refuted.push(entry);
      else if (entry.confirmedBy.length > 0) confirmed++;
    }
    return {
      reputation: reputation(confirmed, refuted.length),
      refuted: refuted.length > 0,
      confirmed,
      refutations: refuted.length,
      ...(evidence ? { evidence: refuted.map((e) => ({ attestation: e.attestation, index: e.index, ...e.refuted! })) } : {}),
    };
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
      ...this.standing(heartbeat.address, options.item === true),
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
  if (filter.minReputation !== undefined && view.reputation < filter.minReputation) return false;
  return true;
}
