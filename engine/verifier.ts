// The verifier (`serve --verifier`, docs/reputation-section.md): a node that samples other
// nodes' published attestations, re-executes them from Arweave, and signs what it found as a
// verification report, confirmed or refuted with the evidence. Reports go to the registries
// this node joined (which build reputation from them) and, through the outbox, to Arweave, so
// anyone can see who checked what. The sample is deterministic given the seed and what is on
// Arweave, so a test (or a second verifier with the same seed) makes the same choices; nothing
// here reaches Arweave or HTTP itself: the ports do (attest/verify/reports.ts), so the engine
// stays below attest and arweave. A fetch or replay that fails is one log line, never a crash.
import type { Ed25519Signer } from './protocol/ans104/data-item.ts';
import { sha256b64 } from './protocol/hash.ts';
import { utf8 } from './protocol/encoding.ts';
import { signReport, statementKey, verifierGroup, type Replay, type SampledStatement, type VerificationReport } from './protocol/verification-report.ts';
import { OutboxKind, type StoreView } from './store.ts';

/** An attestation item as the gateway's index describes it (a hint: the item is fetched and checked before anything is judged). */
export interface AttestationRef {
  id: string;
  /** Its signer, as the index says. */
  node: string;
  /** Its Leaves tag: how many statements it holds. */
  leaves: number;
  /** Its Process tag, for a batch of one process's slots. */
  process?: string;
}

/** What fetching a statement and re-executing it gave; `skip` when there is nothing to judge (not the node's, a receipt). */
export type Judged = { statement: SampledStatement; replay: Replay } | { skip: string };

export interface VerifierPorts {
  /** The addresses of the nodes the registries list. */
  nodes(): Promise<string[]>;
  /** The node's attestation items on Arweave. */
  attestations(node: string): Promise<AttestationRef[]>;
  /** Fetches the item, checks it is the node's (signature, signer, Merkle root), and re-executes statement `index`. */
  judge(ref: AttestationRef, index: number): Promise<Judged>;
}

/** Where reports go: a registry, over HTTP or this node's own. */
export interface ReportTarget {
  name: string;
  /** Rejects with a one-line reason when the registry did not take the report. */
  send(raw: Uint8Array): Promise<void>;
}

export interface VerifierOptions {
  address: string;
  signer: Ed25519Signer;
  store: StoreView<'meta' | 'outbox'>;
  ports: VerifierPorts;
  targets: ReportTarget[];
  /** Makes the sample: the same seed, the same choices (default: this node's address). */
  seed?: string;
  /** Statements sampled per node per round (default 1). */
  perNode?: number;
  /** Between rounds on the timer (default 5 min); sampleOnce() runs a round at once. */
  intervalMs?: number;
  clock?: () => number;
  onWrite?: () => void;
  log?: (line: string) => void;
}

export interface VerifierStats {
  rounds: number;
  confirmed: number;
  refuted: number;
  /** Statements fetched but not judged (not the node's, a receipt, a replay that could not say). */
  skipped: number;
  /** Fetches and replays that failed (logged). */
  failures: number;
}

export const DEFAULT_VERIFIER_MS = 300_000;
/** store.meta key of the last outbox seq the verifier used in its group. */
const SEQ_KEY = 'verifier-outbox-seq';

export class Verifier {
  readonly intervalMs: number;
  private readonly options: VerifierOptions;
  private readonly seed: string;
  private readonly perNode: number;
  private readonly clock: () => number;
  private readonly log: (line: string) => void;
  /** Statements already judged or skipped: a round takes the next ones. */
  private readonly done = new Set<string>();
  private readonly counts: VerifierStats = { rounds: 0, confirmed: 0, refuted: 0, skipped: 0, failures: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** Rounds one at a time: each reads what the last one marked done. */
  private chain: Promise<unknown> = Promise.resolve();
  private seq: number;

  constructor(options: VerifierOptions) {
    this.options = options;
    this.seed = options.seed ?? options.address;
    this.perNode = options.perNode ?? 1;
    this.intervalMs = options.intervalMs ?? DEFAULT_VERIFIER_MS;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) throw new Error(`a verifier interval must be a whole number of ms ≥ 1, got ${this.intervalMs}`);
    const last = options.store.meta.get(SEQ_KEY);
    this.seq = typeof last === 'number' ? last : 0;
  }

  stats(): VerifierStats {
    return { ...this.counts };
  }

  /** A round every interval until stop(). */
  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.sampleOnce(), this.intervalMs);
    // A sleeping verifier must never be what keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the timer and waits for a round in progress (before the store closes). */
  async close(): Promise<void> {
    this.stop();
    await this.chain;
  }

  /** One round: up to perNode new statements of every other node, judged, signed, sent and queued. Never rejects. */
  sampleOnce(): Promise<VerificationReport[]> {
    const next = this.chain.then(() => this.round());
    this.chain = next.catch(() => {});
    return next.catch((error) => {
      this.fail(`a round failed: ${(error as Error).message}`);
      return [];
    });
  }

  private async round(): Promise<VerificationReport[]> {
    this.counts.rounds++;
    const reports: VerificationReport[] = [];
    let nodes: string[];
    try {
      nodes = [...new Set(await this.options.ports.nodes())].filter((n) => n !== this.options.address).sort();
    } catch (error) {
      this.fail(`could not list the registries' nodes (${oneLine(error)}); trying again next round`);
      return reports;
    }
    for (const node of nodes) {
      let refs: AttestationRef[];
      try {
        refs = await this.options.ports.attestations(node);
      } catch (error) {
        this.fail(`could not list the attestations of ${node} (${oneLine(error)}); next node`);
        continue;
      }
      for (const [ref, index] of this.pick(node, refs)) {
        const key = statementKey(ref.id, index);
        let judged: Judged;
        try {
          judged = await this.options.ports.judge(ref, index);
        } catch (error) {
          // Not marked done: a gateway that was down is asked again next round.
          this.fail(`could not check statement ${index} of attestation ${ref.id} by ${node} (${oneLine(error)}); next one`);
          continue;
        }
        this.done.add(key);
        if ('skip' in judged || judged.replay.verdict === 'unjudged') {
          this.counts.skipped++;
          this.log(`verifier: statement ${index} of ${ref.id} by ${node} not judged: ${'skip' in judged ? judged.skip : (judged.replay as { message: string }).message}`);
          continue;
        }
        const report = await this.report(node, ref.id, index, judged.statement, judged.replay);
        reports.push(report);
      }
    }
    return reports;
  }

  /**
   * The statements of `node` to judge this round: among those not done, the perNode with the
   * lowest sha256(seed / node / attestation / index), so the order is fixed by the seed and
   * nobody can tell in advance which of its statements will be checked.
   */
  private pick(node: string, refs: AttestationRef[]): [AttestationRef, number][] {
    const candidates: { ref: AttestationRef; index: number; score: string }[] = [];
    for (const ref of refs) {
      if (ref.node !== node) continue;
      const leaves = Math.min(Math.max(0, Math.floor(ref.leaves)), 1024);
      for (let index = 0; index < leaves; index++) {
        if (this.done.has(statementKey(ref.id, index))) continue;
        candidates.push({ ref, index, score: sha256b64(utf8(`${this.seed}/${node}/${ref.id}/${index}`)) });
      }
    }
    candidates.sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : 0));
    return candidates.slice(0, this.perNode).map((c) => [c.ref, c.index]);
  }

  private async report(node: string, attestation: string, index: number, statement: SampledStatement, replay: Exclude<Replay, { verdict: 'unjudged' }>): Promise<VerificationReport> {
    const report = signReport(this.options.signer, {
      node,
      attestation,
      index,
      statement,
      time: this.clock(),
      ...(replay.verdict === 'matches'
        ? { verdict: 'confirmed' as const }
        : { verdict: 'refuted' as const, evidence: { field: replay.field, attested: replay.attested, replayed: replay.replayed, reason: replay.message } }),
    });
    if (report.verdict === 'confirmed') this.counts.confirmed++;
    else this.counts.refuted++;
    this.log(`verifier: ${report.verdict} statement ${index} of ${attestation} by ${node}${report.evidence ? ` (${report.evidence.reason})` : ''}: report ${report.id}`);
    // Queued for Arweave before it is sent: the public record does not depend on any registry.
    await this.options.store.transaction(() => {
      this.seq = Math.max(this.seq + 1, this.clock());
      this.options.store.meta.put(SEQ_KEY, this.seq);
      this.options.store.outbox.put([verifierGroup(this.options.address), this.seq, OutboxKind.Report], report.raw);
    });
    this.options.onWrite?.();
    await Promise.all(
      this.options.targets.map((target) =>
        target.send(report.raw).catch((error) => this.fail(`${target.name} did not take report ${report.id} (${oneLine(error)})`)),
      ),
    );
    return report;
  }

  private fail(line: string): void {
    this.counts.failures++;
    this.log(`verifier: ${line}`);
  }
}

const oneLine = (error: unknown): string => ((error as Error)?.message ?? String(error)).split('\n')[0]!.slice(0, 300);
