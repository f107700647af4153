// The live instances one thread folds: a process's Runner stays in memory between requests,
// so the next message costs one `handle`, and a request behind the live state (or after an
// eviction or a restart) resumes from the nearest snapshot. Used on the node's main thread
// (--workers 0, and by verifiers) and inside each process worker (worker.ts); what it returns
// is kept by the caller (keep.ts), on the main thread, with the attestations.
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { LoadedModule } from '../wasm/compile.ts';
import { takeSnapshot } from '../wasm/snapshot.ts';
import type { KernelLine } from '../gpu/client.ts';
import type { SlotRecord } from '../protocol/record.ts';
import type { ProcessSpawn } from '../store.ts';
import { estimateNext, type Estimate } from './estimate.ts';
import { Fold, type Runner, type ScheduleReader, type SnapshotLookup } from './fold.ts';
import { AoFold, takeAoSnapshot, type AoRunner } from './ao-fold.ts';
import type { SlotResult } from './keep.ts';
import type { AoResult } from '../wasm/ao/instance.ts';

/** A live instance: of a hyperwasm module (fold.ts) or an AO one (ao-fold.ts). */
type AnyRunner = Runner | AoRunner;

export interface RunnersOptions {
  schedule: ScheduleReader;
  snapshot: SnapshotLookup;
  /** A snapshot is due after every slot divisible by this. */
  snapshotEvery: number;
  /** Live instances kept in memory (the oldest is dropped beyond it). */
  maxLive: number;
  gpu?: KernelLine;
  /** Sees every slot's record as it is folded (a verifier compares them with claims). */
  observe?: (record: SlotRecord) => void;
  /** Told every PROGRESS_EVERY slots of a fold (a long fold in a worker says how far it is). */
  progress?: (pid: string, slot: number, target: number) => void;
}

export const PROGRESS_EVERY = 1024;

/** Slots per part a fold hands out as it goes (one attestation batch, MAX_BATCH). */
export const PART_SLOTS = 256;

/** What a fold produced: the slots folded, in order, and the node fault that stopped it early, if one did. */
export interface Folded {
  results: SlotResult[];
  fault?: unknown;
}

export class Runners {
  private readonly live = new Map<string, AnyRunner>();
  private readonly fold: Fold;
  private readonly aoFold: AoFold;

  constructor(private readonly options: RunnersOptions) {
    this.fold = new Fold(options.schedule, options.snapshot, options.gpu);
    this.aoFold = new AoFold(options.schedule, options.snapshot);
  }

  /** Slots folded (replays included) and live instances. */
  stats(): { steps: number; live: number } {
    return { steps: this.fold.steps + this.aoFold.steps, live: this.live.size };
  }

  private resume(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, slot: number): AnyRunner {
    return loaded.ao ? this.aoFold.resume(spawn, loaded, gasLimit, slot) : this.fold.resume(spawn, loaded, gasLimit, slot);
  }

  private step(runner: AnyRunner): SlotRecord {
    return runner.ao ? this.aoFold.step(runner) : this.fold.step(runner);
  }

  private takeSnapshot(runner: AnyRunner, record: SlotRecord): Uint8Array {
    return runner.ao ? takeAoSnapshot(runner, record['state-hash']) : takeSnapshot(runner.instance, runner.loaded.info, record.slot, runner.hashpath);
  }

  /** An AO process's dry-run: `msg` run on a copy of the state at `latest` (folded here first if need be); nothing is kept. */
  dryRun(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, latest: number, msg: object): AoResult {
    const live = this.upTo(spawn, loaded, gasLimit, latest);
    if (!live.ao) throw new Error(`process ${spawn.id} is not an AO process`);
    return this.aoFold.dryRun(live, msg);
  }

  /** The live runner of a process at exactly `latest`, folded up to it if need be. */
  private upTo(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, latest: number): AnyRunner {
    let live = this.live.get(spawn.id);
    if (!live || live.slot !== latest || live.loaded !== loaded) {
      // The latest result was cached (a restart, or another thread folded it): fold a runner up to it.
      live = this.resume(spawn, loaded, gasLimit, latest);
      while (live.slot < latest) this.step(live);
      this.keepLive(spawn.id, live);
    }
    return live;
  }

  /**
   * Folds a process from where its instance is up to `target`; the results are not kept here.
   * With `part`, every PART_SLOTS slots are handed to it as they are folded (a worker sends
   * them on, so the main thread keeps one part while the next is folded); the rest is returned.
   */
  foldTo(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, target: number, part?: (results: SlotResult[]) => void): Folded {
    const pid = spawn.id;
    let runner = this.live.get(pid);
    if (!runner || runner.slot >= target || runner.loaded !== loaded) {
      const resumed = this.resume(spawn, loaded, gasLimit, target - 1);
      if (!runner || runner.loaded !== loaded) this.keepLive(pid, resumed);
      runner = resumed;
    }
    const results: SlotResult[] = [];
    try {
      while (runner.slot < target) {
        const record = this.step(runner);
        const snapshot = record.slot % this.options.snapshotEvery === 0 ? this.takeSnapshot(runner, record) : undefined;
        this.options.observe?.(record);
        results.push({ record, snapshot });
        if (record.slot > 0 && record.slot % PROGRESS_EVERY === 0) this.options.progress?.(pid, record.slot, target);
        if (part && results.length === PART_SLOTS) part(results.splice(0));
      }
    } catch (fault) {
      this.live.delete(pid); // a node fault mid-fold: the instance is not to be trusted
      return { results, fault };
    }
    return { results };
  }

  /** Cost-only: `item` run as the next slot on a copy of the state at `latest` (folded here first if need be). */
  estimate(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, latest: number, item: DataItem, environment: { timestamp: number; 'block-height': number }): Estimate {
    const live = this.upTo(spawn, loaded, gasLimit, latest);
    if (live.ao) throw new Error(`process ${spawn.id} is an AO process: its cost-only estimate is a dry-run`);
    const assignment = this.options.schedule.assignment(spawn.id, latest);
    if (!assignment) throw new Error(`process ${spawn.id} has no assignment at slot ${latest}`);
    return estimateNext(live, assignment, item, environment);
  }

  private keepLive(pid: string, runner: AnyRunner): void {
    this.live.delete(pid);
    this.live.set(pid, runner);
    if (this.live.size > this.options.maxLive) this.live.delete(this.live.keys().next().value!);
  }
}
