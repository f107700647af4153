// The verifier's one way to re-execute a process: a scratch store of its own, the module
// fetched and checked against its signed ID, then the node's own fold (engine/processes/)
// over the checked history, from slot 0 or from a checkpoint someone vouches for, up to a
// slot. The whole-process replay, a single answer and a dispute all go through here, so
// they re-execute exactly alike and differ only in what they compare.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HyperError } from '../../engine/protocol/errors.ts';
import { openStore, type Store } from '../../engine/store.ts';
import { Modules, type ModuleSource } from '../../engine/modules.ts';
import { Processes, type ScheduleReader } from '../../engine/processes/index.ts';
import type { SlotRecord } from '../../engine/protocol/record.ts';
import type { LoadedModule } from '../../engine/wasm/compile.ts';
import { trustedCheckpoint } from '../checkpoint.ts';
import type { ProcessHistory } from './history.ts';

export interface ReplayOptions {
  /** The LMDB folder to work in: the verifier's own, never a node's data folder. */
  store: string;
  /** Where module bytes come from: checked against their signed ID. */
  source: ModuleSource;
  /** The last slot to fold; below 0 only the module is loaded. */
  to: number;
  /**
   * The state hash someone vouches for at a slot: the latest checkpoint before `to` whose
   * bytes hash to it is the start. Without it the fold starts at slot 0.
   */
  trusted?: (slot: number) => string | undefined;
  /** Called once the start is known: a checkpoint's slot, or -1 for slot 0. */
  started?: (from: number) => void;
  /** Sees every slot's record as it is folded. */
  observe?: (record: SlotRecord) => void;
}

export interface Replayed {
  /** The record at `to` (undefined when `to` is below 0). */
  record: SlotRecord | undefined;
  /** The slot the fold started after (a checkpoint), or -1 for slot 0. */
  from: number;
  /** Slots executed, the re-executions after traps included. */
  executions: number;
}

/** The module cannot be used for the process (its bytes, its form): the history's fault, not the verifier's. */
export interface UnusableModule {
  unusable: HyperError;
}

/** The schedule as a verified history gives it, in the shape the engine's fold reads. */
export function historyReader(history: ProcessHistory): ScheduleReader {
  const last = Math.max(-1, ...history.assignments.keys());
  return {
    process: (pid) => (pid === history.pid ? history.record : undefined),
    currentSlot: (pid) => (pid === history.pid && last >= 0 ? last : undefined),
    assignment: (pid, slot) => (pid === history.pid ? history.assignments.get(slot) : undefined),
    message: (id) => history.messages.get(id),
  };
}

/** Re-executes `history` up to `options.to`. Throws what is the verifier's own trouble (an unreachable gateway). */
export async function replay(history: ProcessHistory, options: ReplayOptions): Promise<Replayed | UnusableModule> {
  const spawn = history.record;
  if (!spawn) throw new Error(`the history of ${history.pid} has no process message to replay`);
  mkdirSync(dirname(options.store), { recursive: true });
  const store = openStore(options.store);
  try {
    await forgetEarlierRuns(store, options.store, history.pid);
    const modules = new Modules(store, options.source);
    let loaded: LoadedModule;
    try {
      loaded = await modules.getForProcess(spawn.module);
    } catch (error) {
      if (!(error instanceof HyperError) || error.kind === 'unavailable') throw error;
      return { unusable: error };
    }
    const checkpoint = options.trusted && trustedCheckpoint(history.checkpoints, loaded, options.to, options.trusted);
    if (checkpoint) await store.snapshots.put([history.pid, checkpoint.slot], checkpoint.data);
    const from = checkpoint ? checkpoint.slot : -1;
    options.started?.(from);
    const processes = new Processes({ store, modules, scheduler: historyReader(history), observe: options.observe });
    const record = options.to >= 0 ? readRecord((await processes.compute(history.pid, options.to)).body) : undefined;
    return { record, from, executions: processes.stats().steps };
  } finally {
    await store.close();
  }
}

/**
 * A replay re-executes: nothing an earlier run left in this folder may stand in for it (the
 * fold would answer from its cached slots and snapshots and execute nothing). A node's data
 * folder is refused outright: its cache holds the very claims being checked.
 */
async function forgetEarlierRuns(store: Store, folder: string, pid: string): Promise<void> {
  if (store.processes.getKeysCount() > 0) {
    throw new Error(`${folder} holds a node's processes: a verifier works in a folder of its own, never a node's data folder`);
  }
  const range = { start: [pid], end: [pid, Number.MAX_SAFE_INTEGER] };
  await store.transaction(() => {
    for (const key of store.processResults.getKeys(range)) store.processResults.remove(key);
    for (const key of store.snapshots.getKeys(range)) store.snapshots.remove(key);
  });
}

/** The record the engine answered with, as it stored it (JSON). */
const readRecord = (body: Uint8Array): SlotRecord => JSON.parse(new TextDecoder().decode(body)) as SlotRecord;
