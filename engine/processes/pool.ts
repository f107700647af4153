// Processes on every core: a pool of worker threads (worker.ts), each owning the live
// instances of the processes routed to it. A process always folds on the same worker — the
// first four bytes of its ID, as a big-endian number, modulo the pool's size — so its live
// instance is never in two places and its slots are folded in order. Workers start on first
// use (an idle node pays nothing). A worker that dies (a module that takes its thread down,
// an out-of-memory) is replaced: the fold it was running fails with a 503, the requests
// queued behind it go to its replacement, and the processes it held resume there from their
// snapshots. Nothing acknowledged is lost: messages are durable before they are folded, and
// the main thread commits only results a fold has handed back, in order. A worker signs and
// encodes what it folds (the attestations, on its own core) and hands it back in parts as it
// goes, so the main thread commits one part while the worker folds the next.
import { availableParallelism } from 'node:os';
import { fromB64url } from '../protocol/encoding.ts';
import { fromWire, HyperError } from '../protocol/errors.ts';
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { WorkerLine } from '../worker.ts';
import type { Estimate } from './estimate.ts';
import type { AoResult } from '../wasm/ao/instance.ts';
import type { FoldPool, PooledFold } from './index.ts';
import type { KeyObject } from 'node:crypto';
import type { PreparedSlots } from './keep.ts';
import type { FoldEvent, ProcessReply, ProcessRequest, ProcessWorkerData } from './worker.ts';

export interface ProcessPoolOptions {
  /** Worker threads (default: one per core). */
  workers?: number;
  /** The node's LMDB environment (Store.path): each worker opens its own handle on it. */
  store: string;
  snapshotEvery: number;
  /** Live instances per worker. */
  maxLive: number;
  /** Gives each worker a line to the node's GPU worker; absent, the CPU references. */
  gpu?: GpuRuntime;
  /** A long fold's progress, every few thousand slots. */
  progress?: (pid: string, slot: number, target: number) => void;
  /** How the workers attest: absent, results are only cached. */
  attest?: PoolAttest;
}

/**
 * The node's key, for workers to sign their folds' attestations and checkpoints on their own
 * cores. `module` exports `attesterFor(privateKey, address)` returning an AttestPort (the
 * composition root names attest/attester.ts: the engine does not import attest/).
 */
export interface PoolAttest {
  module: URL;
  privateKey: KeyObject;
  address: string;
}

/** The worker a process folds on, of `workers`: stable across restarts and machines. */
export function workerOf(pid: string, workers: number): number {
  const bytes = fromB64url(pid);
  return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) % workers;
}

export const defaultWorkers = (): number => availableParallelism();

const lost = (reason: string) => new HyperError('unavailable', 'worker-lost', `the process worker ${reason} during this fold; only the slots it had handed back are kept: try again (the process resumes from its snapshots)`, { retryAfterSeconds: 1 });

export class ProcessPool implements FoldPool {
  private readonly lines: WorkerLine<ProcessRequest, ProcessReply>[];
  /** Per worker: slots its earlier incarnations folded, and what its current one last reported. */
  private readonly counters: { before: number; steps: number; live: number }[];
  /** Where the parts of the fold each process is running go (one fold per process at a time). */
  private readonly parts = new Map<string, (prepared: PreparedSlots) => void>();

  constructor(private readonly options: ProcessPoolOptions) {
    const count = options.workers ?? defaultWorkers();
    if (!Number.isSafeInteger(count) || count < 1) throw new Error(`a process pool needs at least one worker, got ${count}`);
    this.counters = Array.from({ length: count }, () => ({ before: 0, steps: 0, live: 0 }));
    this.lines = Array.from({ length: count }, (_, i) => new WorkerLine<ProcessRequest, ProcessReply>({
      module: new URL('./worker.ts', import.meta.url),
      tsx: true,
      // Requests queued behind the fold that took the worker down are resent to its replacement.
      attempts: 2,
      start: () => {
        const gpu = options.gpu?.connect();
        const attest = options.attest && { module: options.attest.module.href, privateKey: options.attest.privateKey, address: options.attest.address };
        const data: ProcessWorkerData = { store: options.store, snapshotEvery: options.snapshotEvery, maxLive: options.maxLive, gpuPort: gpu?.port as never, minWork: gpu?.minWork, attest };
        const c = this.counters[i];
        this.counters[i] = { before: c.before + c.steps, steps: 0, live: 0 };
        return { workerData: data, transferList: gpu ? [gpu.port] : [] };
      },
      lost,
      onMessage: (message) => {
        const event = message as FoldEvent;
        if ('part' in event) this.parts.get(event.part.pid)?.(event.part.prepared);
        else options.progress?.(event.progress.pid, event.progress.slot, event.progress.target);
      },
    }));
  }

  async fold(pid: string, target: number, budget: number, part?: (prepared: PreparedSlots) => void): Promise<PooledFold> {
    if (part) this.parts.set(pid, part);
    try {
      const reply = await this.request(pid, { op: 'fold', pid, target, budget });
      return { prepared: reply.prepared, fault: reply.fault && fromWire(reply.fault) };
    } finally {
      this.parts.delete(pid);
    }
  }

  async estimate(pid: string, latest: number, budget: number, item: DataItem, environment: { timestamp: number; 'block-height': number }): Promise<Estimate> {
    const reply = await this.request(pid, { op: 'estimate', pid, latest, budget, item: item.raw, environment });
    if (reply.fault) throw fromWire(reply.fault);
    return reply.estimate!;
  }

  async dryRun(pid: string, latest: number, budget: number, msg: object): Promise<AoResult> {
    const reply = await this.request(pid, { op: 'dry-run', pid, latest, budget, msg: JSON.stringify(msg) });
    if (reply.fault) throw fromWire(reply.fault);
    return reply.dryRun!;
  }

  stats(): { steps: number; live: number; workers: number } {
    const steps = this.counters.reduce((n, c) => n + c.before + c.steps, 0);
    const live = this.counters.reduce((n, c) => n + c.live, 0);
    return { steps, live, workers: this.lines.length };
  }

  /** Ends the worker a process folds on the way a crash would (tests; an operator's stuck fold). */
  async crash(pid: string): Promise<void> {
    await this.lines[workerOf(pid, this.lines.length)].crash();
  }

  async close(): Promise<void> {
    await Promise.all(this.lines.map((line) => line.close()));
  }

  private async request(pid: string, request: ProcessRequest): Promise<ProcessReply> {
    const i = workerOf(pid, this.lines.length);
    const reply = await this.lines[i].request(request);
    this.counters[i] = { ...this.counters[i], steps: reply.steps, live: reply.live };
    return reply;
  }
}
