// The process device: answers a process's result at a slot from the cache, else by folding
// up to it (fold.ts) in a live instance that stays in memory between messages (nothing copies
// the whole memory per message), and keeps what the fold produced (keep.ts). Every K slots a
// snapshot (memory + globals) is kept, so a restart, or a request behind the live state,
// resumes from the nearest snapshot instead of slot 0. Cost-only estimates: estimate.ts.
//
// Where folds run: on this thread (runners.ts), or on a pool of worker threads (pool.ts), each
// owning the live instances of the processes a stable hash of their IDs gives it. Either way
// this thread checks the request, answers from the cache, and keeps (attests and commits) what
// a fold produced; requests for one process are taken one after another.
import { badRequest, notFound, unprocessable } from '../protocol/errors.ts';
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { tagValue } from '../protocol/vocabulary.ts';
import { isBytesFunction } from '../wasm/abi.ts';
import { gasLimit } from '../wasm/gas.ts';
import type { KernelLine } from '../gpu/client.ts';
import type { AttestPort } from '../attestations.ts';
import type { ComputeAnswer } from '../compute.ts';
import type { Modules } from '../modules.ts';
import type { ProcessSpawn, Store } from '../store.ts';
import type { LoadedModule } from '../wasm/compile.ts';
import { DEFAULT_METER_BUDGET, type AoResult } from '../wasm/ao/instance.ts';
import type { Estimate } from './estimate.ts';
import type { ScheduleReader } from './fold.ts';
import { SlotKeeper, type PreparedSlots } from './keep.ts';
import { Runners } from './runners.ts';
import { aoDryRunMessage } from './ao-fold.ts';

export { handleInput, type ScheduleReader } from './fold.ts';

export interface ProcessOptions {
  store: Store;
  modules: Modules;
  scheduler: ScheduleReader;
  /** Write a snapshot after every slot divisible by this (default 1000). */
  snapshotEvery?: number;
  /** Live instances kept in memory (default 64; per worker with a pool). */
  maxLive?: number;
  /** Attest results and publish checkpoints; without it results are only cached (verifiers). */
  attest?: AttestPort;
  /** Called once a fold's writes are committed, with the part's new outgoing messages (to kick the publisher and the deliverer). */
  onWrite?: (deliveries: PreparedSlots['deliveries']) => void;
  /** Sees every slot's record as it is folded (a verifier compares them with claims); only without a pool. */
  observe?: (record: SlotRecord) => void;
  /** Where the processes' kernel calls go (the GPU runtime's line for this thread); absent, the CPU references. */
  gpu?: KernelLine;
  /** Fold on these worker threads instead of this one (pool.ts). */
  pool?: FoldPool;
}

/** Where folds run off this thread: pool.ts. The module must be kept in LMDB (metered) before a fold names it. */
export interface FoldPool {
  /** Folds up to `target`, signed and encoded; hands parts to `part` in order as it goes, and returns the rest. */
  fold(pid: string, target: number, budget: number, part?: (prepared: PreparedSlots) => void): Promise<PooledFold>;
  estimate(pid: string, latest: number, budget: number, item: DataItem, environment: { timestamp: number; 'block-height': number }): Promise<Estimate>;
  dryRun(pid: string, latest: number, budget: number, msg: object): Promise<AoResult>;
  stats(): { steps: number; live: number; workers: number };
  close(): Promise<void>;
}

/** A pooled fold's last part (absent: all went out as parts) and the node fault that stopped it early. */
export interface PooledFold {
  prepared?: PreparedSlots;
  fault?: unknown;
}

export const DEFAULT_SNAPSHOT_EVERY = 1000;
export const DEFAULT_MAX_LIVE = 64;

export class Processes {
  private readonly kept: SlotKeeper;
  private readonly runners: Runners;
  /** The request each process is serving: the next waits for it (one fold of a process at a time). */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly options: ProcessOptions) {
    this.kept = new SlotKeeper(options.store, options.attest, options.onWrite);
    this.runners = new Runners({
      schedule: options.scheduler,
      snapshot: this.kept.snapshot,
      snapshotEvery: options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
      maxLive: options.maxLive ?? DEFAULT_MAX_LIVE,
      gpu: options.gpu,
      observe: options.observe,
    });
  }

  /** The result at a slot (default: the latest), from the cache or by folding up to it. */
  async compute(pid: string, slot?: number): Promise<ComputeAnswer> {
    const { scheduler } = this.options;
    const spawn = scheduler.process(pid);
    if (!spawn) throw notFound(`unknown process ${pid}`);
    const latest = scheduler.currentSlot(pid)!;
    const target = slot ?? latest;
    if (!Number.isSafeInteger(target) || target < 0) throw badRequest(`slot must be a whole number ≥ 0, got ${slot}`);
    if (target > latest) throw badRequest(`slot ${target} is beyond the latest slot ${latest} of process ${pid}`);
    const cached = this.kept.cached(pid, target);
    if (cached) return { cache: 'hit', body: cached };
    return this.serially(pid, async () => {
      const kept = this.kept.cached(pid, target); // folded by the request before this one
      if (kept) return { cache: 'hit', body: kept };
      const { loaded, budget } = await this.load(spawn);
      if (!this.options.pool) {
        const { results, fault } = this.runners.foldTo(spawn, loaded, budget, target);
        const bodies = results.length > 0 ? await this.kept.keep(results) : [];
        if (fault !== undefined) throw fault;
        return { cache: 'miss', body: bodies.at(-1)! };
      }
      // Parts a worker hands back are committed one after another while it folds on.
      let writing = Promise.resolve<Uint8Array[]>([]);
      const write = (part: PreparedSlots) => (writing = writing.then(() => this.kept.write(part)));
      let folded: PooledFold;
      try {
        folded = await this.options.pool.fold(pid, target, budget, write);
      } catch (error) {
        await writing.catch(() => {}); // the parts handed back before the worker was lost stay kept
        throw error;
      }
      if (folded.prepared) write(folded.prepared);
      const bodies = await writing;
      if (folded.fault !== undefined) throw folded.fault;
      return { cache: 'miss', body: bodies.at(-1)! };
    });
  }

  /**
   * The gas a message would use if it were the next slot, run on a copy of the current
   * state (nothing is kept): exact against that state, which later messages may change.
   */
  async estimate(item: DataItem, environment: { timestamp: number; 'block-height': number }): Promise<Estimate> {
    const pid = item.target ?? item.id;
    const { spawn, latest } = await this.folded(pid);
    return this.serially(pid, async () => {
      const { loaded, budget } = await this.load(spawn);
      if (this.options.pool) return this.options.pool.estimate(pid, latest, budget, item, environment);
      return this.runners.estimate(spawn, loaded, budget, latest, item, environment);
    });
  }

  /**
   * An AO process's dry-run (the CU's POST /dry-run): the request's message (its fields as
   * aoDryRunMessage completes them) run as if it were the next message, on a copy of the latest
   * state; nothing is kept or attested.
   */
  async dryRun(pid: string, request: Record<string, unknown>): Promise<AoResult & { slot: number }> {
    const { spawn, latest } = await this.folded(pid);
    return this.serially(pid, async () => {
      const { loaded, budget } = await this.load(spawn);
      if (!loaded.ao) throw badRequest(`process ${pid} is not an AO process (its module ${spawn.module} is not tagged Data-Protocol: ao): a dry-run is for AO processes; ask a hyperwasm process for a cost-only estimate instead`);
      const msg = aoDryRunMessage(pid, request, this.options.scheduler.assignment(pid, latest)!);
      const result = this.options.pool ? await this.options.pool.dryRun(pid, latest, budget, msg) : this.runners.dryRun(spawn, loaded, budget, latest, msg);
      return { ...result, slot: latest };
    });
  }

  /** Slots folded since start (replays included, on every worker): shows how much work snapshots saved. */
  stats(): { steps: number; live: number; workers: number } {
    return this.options.pool?.stats() ?? { ...this.runners.stats(), workers: 0 };
  }

  async close(): Promise<void> {
    await this.options.pool?.close();
  }

  /** A known process folded up to its latest slot (what an estimate or a dry-run runs against). */
  private async folded(pid: string): Promise<{ spawn: ProcessSpawn; latest: number }> {
    const spawn = this.options.scheduler.process(pid);
    if (!spawn) throw notFound(`unknown process ${pid}`);
    const latest = this.options.scheduler.currentSlot(pid)!;
    await this.compute(pid, latest);
    return { spawn, latest };
  }

  /** Runs `work` once the request before it for the same process is done (failed or not). */
  private serially<T>(pid: string, work: () => Promise<T>): Promise<T> {
    const before = this.busy.get(pid) ?? Promise.resolve();
    const mine = before.then(work, work);
    const settled = mine.catch(() => {});
    this.busy.set(pid, settled);
    void settled.then(() => this.busy.get(pid) === settled && this.busy.delete(pid));
    return mine;
  }

  /** The process's module (checked to be a process module, kept in LMDB metered, so a worker finds it) and its budget. */
  private async load(spawn: ProcessSpawn): Promise<{ loaded: LoadedModule; budget: number }> {
    const loaded = await this.options.modules.getForProcess(spawn.module);
    const budget = await this.budget(spawn, loaded);
    if (loaded.ao) return { loaded, budget };
    const handle = loaded.info.exportedFunction('handle');
    if (!handle || !isBytesFunction(loaded.info, handle)) {
      throw unprocessable(`module ${spawn.module} is not a process module: it must export hw_alloc and handle(ptr: i32, len: i32) -> i64`);
    }
    return { loaded, budget };
  }

  /**
   * The budget of each message of a process: its Gas-Limit tag, else its module's, else the
   * default (uncapped, as before; an AO process's is DEFAULT_METER_BUDGET, so that a runaway
   * aos loop stops as the compute unit's Compute-Limit would stop it).
   */
  private async budget(spawn: ProcessSpawn, loaded: LoadedModule): Promise<number> {
    const module = (await this.options.modules.meta(spawn.module)).tags;
    return gasLimit([tagValue(spawn.tags, 'Gas-Limit'), tagValue(module, 'Gas-Limit')], loaded.ao ? DEFAULT_METER_BUDGET : Number.MAX_SAFE_INTEGER);
  }
}
