// The worker side of pool.ts: one thread folding the processes the pool routes to it, with
// their live instances (runners.ts), reading the schedule, modules and snapshots from its own
// handle on the node's LMDB environment (lmdb-js shares one environment between threads).
// It signs and encodes what it folds (keep.ts prepare) and hands it back to the main thread,
// which commits it (the one writer).
// Loaded through tsx by engine/worker-entry.mjs.
import { parentPort, workerData } from 'node:worker_threads';
import { parseDataItem } from '../protocol/ans104/data-item.ts';
import { toWire, type WireError } from '../protocol/errors.ts';
import { KernelClient } from '../gpu/client.ts';
import { Modules } from '../modules.ts';
import { openStore } from '../store.ts';
import { StoredSchedule } from '../schedule.ts';
import type { Estimate } from './estimate.ts';
import type { AoResult } from '../wasm/ao/instance.ts';
import { SlotKeeper, type PreparedSlots, type SlotResult } from './keep.ts';
import type { AttestPort } from '../attestations.ts';
import type { KeyObject } from 'node:crypto';
import { Runners } from './runners.ts';

export interface ProcessWorkerData {
  store: string;
  snapshotEvery: number;
  maxLive: number;
  gpuPort?: MessagePort;
  minWork?: number;
  /** How this worker attests what it folds (PoolAttest in pool.ts); absent, results are only cached. */
  attest?: { module: string; privateKey: KeyObject; address: string };
}

export type ProcessRequest =
  | { op: 'fold'; pid: string; target: number; budget: number }
  | { op: 'estimate'; pid: string; latest: number; budget: number; item: Uint8Array; environment: { timestamp: number; 'block-height': number } }
  | { op: 'dry-run'; pid: string; latest: number; budget: number; msg: string };

/** What a fold did: the rest of its slots, prepared, the node fault that stopped it (if any), and this worker's counters. */
export interface ProcessReply {
  prepared?: PreparedSlots;
  estimate?: Estimate;
  dryRun?: AoResult;
  fault?: WireError;
  steps: number;
  live: number;
}

/** Events of a fold in progress: its progress every PROGRESS_EVERY slots, its results every PART_SLOTS (runners.ts). */
export type FoldEvent = { progress: { pid: string; slot: number; target: number } } | { part: { pid: string; prepared: PreparedSlots } };

const options = workerData as ProcessWorkerData;
const store = openStore(options.store);
// The attester comes from the module the composition root names (the engine does not import attest/).
const attest: AttestPort | undefined = options.attest
  ? (await import(options.attest.module) as { attesterFor(key: KeyObject, address: string): AttestPort }).attesterFor(options.attest.privateKey, options.attest.address)
  : undefined;
// Signs and encodes here, on this worker's core; the main thread only commits (keep.ts).
const keeper = new SlotKeeper(store, attest);
const modules = new Modules(store, {
  fetchVerified: (id) => Promise.reject(new Error(`module ${id} is not in LMDB: the main thread keeps a module before a fold names it`)),
});

/** The node's schedule as committed to LMDB. */
const schedule = new StoredSchedule(store);

const runners = new Runners({
  schedule,
  snapshot: keeper.snapshot,
  snapshotEvery: options.snapshotEvery,
  maxLive: options.maxLive,
  gpu: options.gpuPort ? new KernelClient(options.gpuPort as never, options.minWork) : undefined,
  progress: (pid, slot, target) => parentPort!.postMessage({ progress: { pid, slot, target } } satisfies FoldEvent),
});

export async function handle(request: ProcessRequest): Promise<ProcessReply> {
  const counters = () => runners.stats();
  // The main thread sent this after committing the slots it names: read from now, not from
  // the read transaction an earlier request in the same burst opened.
  store.refresh();
  try {
    const spawn = store.processes.get(request.pid);
    if (!spawn) throw new Error(`process ${request.pid} is not in LMDB`);
    const loaded = await modules.getForProcess(spawn.module);
    if (request.op === 'dry-run') {
      return { dryRun: runners.dryRun(spawn, loaded, request.budget, request.latest, JSON.parse(request.msg) as object), ...counters() };
    }
    if (request.op === 'estimate') {
      const estimate = runners.estimate(spawn, loaded, request.budget, request.latest, parseDataItem(request.item), request.environment);
      return { estimate, ...counters() };
    }
    const part = (results: SlotResult[]) => parentPort!.postMessage({ part: { pid: request.pid, prepared: keeper.prepare(results) } } satisfies FoldEvent);
    const { results, fault } = runners.foldTo(spawn, loaded, request.budget, request.target, part);
    const prepared = results.length > 0 ? keeper.prepare(results) : undefined;
    return { prepared, fault: fault === undefined ? undefined : toWire(fault), ...counters() };
  } catch (error) {
    return { fault: toWire(error), ...counters() };
  }
}
