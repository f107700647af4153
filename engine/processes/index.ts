// The process device: answers a process's result at a slot from the cache, else by folding
// up to it (fold.ts) in a live instance that stays in memory between messages (nothing copies
// the whole memory per message), and keeps what the fold produced (keep.ts). Every K slots a
// snapshot (memory + globals) is kept, so a restart, or a request behind the live state,
// resumes from the nearest snapshot instead of slot 0. Cost-only estimates: estimate.ts.
import { badRequest, notFound, unprocessable } from '../protocol/errors.ts';
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { tagValue } from '../protocol/vocabulary.ts';
import { isBytesFunction } from '../wasm/abi.ts';
import { gasLimit } from '../wasm/gas.ts';
import { takeSnapshot } from '../wasm/snapshot.ts';
import type { KernelLine } from '../gpu/client.ts';
import type { AttestPort } from '../attestations.ts';
import type { ComputeAnswer } from '../compute.ts';
import type { Modules } from '../modules.ts';
import type { ProcessSpawn, Store } from '../store.ts';
import { estimateNext, type Estimate } from './estimate.ts';
import { Fold, type Runner, type ScheduleReader } from './fold.ts';
import { SlotKeeper, type SlotResult } from './keep.ts';

export { handleInput, type ScheduleReader } from './fold.ts';

export interface ProcessOptions {
  store: Store;
  modules: Modules;
  scheduler: ScheduleReader;
  /** Write a snapshot after every slot divisible by this (default 1000). */
  snapshotEvery?: number;
  /** Live instances kept in memory (default 64). */
  maxLive?: number;
  /** Attest results and publish checkpoints; without it results are only cached (verifiers). */
  attest?: AttestPort;
  /** Called once a fold's writes are committed (to kick the publisher). */
  onWrite?: () => void;
  /** Sees every slot's record as it is folded (a verifier compares them with claims). */
  observe?: (record: SlotRecord) => void;
  /** Where the processes' kernel calls go (the GPU runtime's line for this thread); absent, the CPU references. */
  gpu?: KernelLine;
}

export class Processes {
  private readonly live = new Map<string, Runner>();
  private readonly snapshotEvery: number;
  private readonly kept: SlotKeeper;
  private readonly fold: Fold;

  constructor(private readonly options: ProcessOptions) {
    this.snapshotEvery = options.snapshotEvery ?? 1000;
    this.kept = new SlotKeeper(options.store, options.attest, options.onWrite);
    this.fold = new Fold(options.scheduler, this.kept.snapshot, options.gpu);
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

    const loaded = await this.options.modules.getForProcess(spawn.module);
    const budget = await this.budget(spawn);
    const handle = loaded.info.exportedFunction('handle');
    if (!handle || !isBytesFunction(loaded.info, handle)) {
      throw unprocessable(`module ${spawn.module} is not a process module: it must export hw_alloc and handle(ptr: i32, len: i32) -> i64`);
    }
    let runner = this.live.get(pid);
    if (!runner || runner.slot >= target) {
      const resumed = this.fold.resume(spawn, loaded, budget, target - 1);
      if (!runner) this.keepLive(pid, resumed);
      runner = resumed;
    }
    const results: SlotResult[] = [];
    try {
      while (runner.slot < target) {
        const record = this.fold.step(runner);
        const snapshot = record.slot % this.snapshotEvery === 0 ? takeSnapshot(runner.instance, runner.loaded.info, record.slot, runner.hashpath) : undefined;
        this.options.observe?.(record);
        results.push({ record, snapshot });
      }
    } catch (error) {
      this.live.delete(pid); // a node fault mid-fold: the instance is not to be trusted
      if (results.length > 0) await this.kept.keep(results);
      throw error;
    }
    const bodies = await this.kept.keep(results);
    return { cache: 'miss', body: bodies.at(-1)! };
  }

  /**
   * The gas a message would use if it were the next slot, run on a copy of the current
   * state (nothing is kept): exact against that state, which later messages may change.
   */
  async estimate(item: DataItem, environment: { timestamp: number; 'block-height': number }): Promise<Estimate> {
    const pid = item.target ?? item.id;
    const { scheduler } = this.options;
    const spawn = scheduler.process(pid);
    if (!spawn) throw notFound(`unknown process ${pid}`);
    const latest = scheduler.currentSlot(pid)!;
    await this.compute(pid, latest);
    let live = this.live.get(pid);
    if (!live) {
      // The latest result was cached, so no runner is live (after a restart): fold one up to it.
      live = this.fold.resume(spawn, await this.options.modules.getForProcess(spawn.module), await this.budget(spawn), latest);
      while (live.slot < latest) this.fold.step(live);
    }
    return estimateNext(live, scheduler.assignment(pid, latest)!, item, environment);
  }

  /** Slots folded since start (replays included): shows how much work snapshots saved. */
  stats(): { steps: number; live: number } {
    return { steps: this.fold.steps, live: this.live.size };
  }

  /** The budget of each message of a process: its Gas-Limit tag, else its module's, else the default (uncapped, as before). */
  private async budget(spawn: ProcessSpawn): Promise<number> {
    const module = (await this.options.modules.meta(spawn.module)).tags;
    return gasLimit([tagValue(spawn.tags, 'Gas-Limit'), tagValue(module, 'Gas-Limit')], Number.MAX_SAFE_INTEGER);
  }

  private keepLive(pid: string, runner: Runner): void {
    this.live.set(pid, runner);
    if (this.live.size > (this.options.maxLive ?? 64)) this.live.delete(this.live.keys().next().value!);
  }
}
