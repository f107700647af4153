// The fold: a process's state carried slot by slot through its module's `handle`, in a live
// instance (a Runner) that stays in memory between messages. Pure over an instance and a
// ScheduleReader, nothing stored: the node folds its own schedule with it, a verifier its
// verified history, and both get the same records byte for byte.
//
// A message whose handler traps yields an error result and leaves the state as it was
// before the message: the instance is rebuilt from the nearest snapshot up to the previous
// slot, the same on every replay.
import { b64url, utf8 } from '../protocol/encoding.ts';
import { isModuleFault } from '../protocol/errors.ts';
import { sha256b64 } from '../protocol/hash.ts';
import { hashpath } from '../protocol/hashpath.ts';
import { parseDataItem, type DataItem } from '../protocol/ans104/data-item.ts';
import type { SignedAssignment } from '../protocol/assignment.ts';
import type { Json } from '../protocol/message.ts';
import { tagValue } from '../protocol/vocabulary.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { callBytes, instantiate } from '../wasm/call.ts';
import type { LoadedModule } from '../wasm/compile.ts';
import { withGas } from '../wasm/gas.ts';
import type { InstanceView } from '../wasm/host/gpu.ts';
import type { KernelLine } from '../gpu/client.ts';
import { restoreSnapshot, stateHash } from '../wasm/snapshot.ts';
import type { ProcessSpawn } from '../store.ts';

/** Where a fold reads a schedule: the node's scheduler, or a verifier's verified history. */
export interface ScheduleReader {
  process(pid: string): ProcessSpawn | undefined;
  currentSlot(pid: string): number | undefined;
  assignment(pid: string, slot: number): SignedAssignment | undefined;
  message(id: string): Uint8Array | undefined;
}

/** A process's live instance and how far it has folded. */
export interface Runner {
  /** Not an AO process's runner (ao-fold.ts). */
  ao?: undefined;
  spawn: ProcessSpawn;
  /** The budget of each message (engine/wasm/gas.ts gasLimit: the process's Gas-Limit tag, else the module's, else the default). */
  gasLimit: number;
  loaded: LoadedModule;
  instance: WebAssembly.Instance;
  /** How the instance's host imports see it; counts its kernel calls by backend. */
  view: InstanceView;
  /** The last slot folded into the instance; -1 before the spawn message. */
  slot: number;
  hashpath: string;
}

/** The nearest snapshot of a process at or before a slot, if any was kept. */
export type SnapshotLookup = (pid: string, slot: number) => Uint8Array | undefined;

export class Fold {
  /** Slots folded (replays included): shows how much work snapshots saved. */
  steps = 0;

  constructor(
    private readonly schedule: ScheduleReader,
    private readonly snapshot: SnapshotLookup = () => undefined,
    /** Where this thread's kernel calls go (the GPU runtime's line); absent, the CPU references. */
    private readonly gpu?: KernelLine,
  ) {}

  /** A runner at the nearest snapshot at or before `slot`, or fresh before slot 0. */
  resume(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, slot: number): Runner {
    const view: InstanceView = { gpu: this.gpu };
    const instance = instantiate(loaded, view);
    const runner: Runner = { spawn, gasLimit, loaded, instance, view, slot: -1, hashpath: spawn.id };
    const kept = slot < 0 ? undefined : this.snapshot(spawn.id, slot);
    if (kept) {
      const header = restoreSnapshot(instance, loaded.info, kept);
      runner.slot = header.slot;
      runner.hashpath = header.hashpath;
    }
    return runner;
  }

  /** Folds the next slot into the runner; returns its result record. */
  step(runner: Runner): SlotRecord {
    const pid = runner.spawn.id;
    const slot = runner.slot + 1;
    this.steps++;
    const { assignment, item } = slotInput(this.schedule, pid, slot);
    const path = hashpath(runner.hashpath, assignment.message);
    const view = runner.view; // a trap below replaces the runner's instance and view
    const before = { gpu: view.kernels?.gpu ?? 0, cpu: view.kernels?.cpu ?? 0 };
    let outcome: Outcome;
    try {
      const bytes = handleInputBytes(item, assignment, runner.spawn);
      const { value: output, gas } = withGas(runner.instance, runner.gasLimit, 'handle', () => callBytes(runner.instance, 'handle', bytes));
      outcome = { ...readOutput(output), ...resultOf(output), gas };
    } catch (error) {
      if (!isModuleFault(error)) throw error;
      const gas = Number(error.fields.gas ?? 0);
      outcome = { output: null, messages: [], error: error.message, ...resultOf(utf8(error.message)), gas };
      this.rebuild(runner, slot - 1);
    }
    // Which backend served this slot's kernel calls: informational, like a stateless call's.
    const after = view.kernels;
    const kernels = after && after.gpu + after.cpu > before.gpu + before.cpu ? { kernels: { gpu: after.gpu - before.gpu, cpu: after.cpu - before.cpu } } : {};
    const record: SlotRecord = {
      process: pid, module: runner.spawn.module, slot, message: item.id, assignment: assignment.id, hashpath: path,
      ...outcome, ...kernels, 'state-hash': stateHash(runner.instance, runner.loaded.info),
    };
    runner.slot = slot;
    runner.hashpath = path;
    return record;
  }

  /** Gives the runner a fresh instance holding the state after `slot`: the nearest snapshot, then a replay. */
  private rebuild(runner: Runner, slot: number): void {
    const replay = this.resume(runner.spawn, runner.loaded, runner.gasLimit, slot);
    while (replay.slot < slot) this.step(replay);
    runner.instance = replay.instance;
    runner.view = replay.view;
  }
}

const TEXT = new TextDecoder();

/** A slot's assignment and message from the schedule; a node fault where either is missing. */
export function slotInput(schedule: ScheduleReader, pid: string, slot: number): { assignment: SignedAssignment; item: DataItem } {
  const assignment = schedule.assignment(pid, slot);
  if (!assignment) throw new Error(`process ${pid} has no assignment at slot ${slot}`);
  const raw = schedule.message(assignment.message);
  if (!raw) throw new Error(`process ${pid} has no message ${assignment.message} for slot ${slot}`);
  return { assignment, item: parseDataItem(raw) };
}

/** The JSON a module's handle receives for one slot (docs/PROTOCOL.md, "Process ABI"). */
export function handleInput(item: DataItem, assignment: SignedAssignment, process: ProcessSpawn) {
  return { message: messageInput(item, assignment), process: processInput(process) };
}

function messageInput(item: DataItem, assignment: SignedAssignment) {
  return {
    id: item.id,
    slot: assignment.slot,
    // A pushed message is from its source process: its scheduler admitted it only if signed by
    // that process's scheduler (docs/PROTOCOL.md §21); anything else is from its signer.
    from: tagValue(item.tags, 'From-Process') ?? item.ownerAddress,
    owner: item.ownerAddress,
    target: item.target ?? null,
    tags: item.tags,
    data: TEXT.decode(item.data),
    timestamp: assignment.timestamp,
    'block-height': assignment['block-height'],
    'hash-chain': assignment['hash-chain'],
    assignment: assignment.id,
  };
}

function processInput(process: ProcessSpawn) {
  return { id: process.id, owner: process.owner, module: process.module, tags: process.tags };
}

// The process half of every input of a process, written once per spawn record.
const processJson = new WeakMap<ProcessSpawn, string>();

/**
 * utf8(JSON.stringify(handleInput(...))), byte for byte: the input's key order is fixed by
 * handleInput, so JSON.stringify is canonical enough to be identical on every node (and
 * several times faster than canonicalJson); the process half, the same for every message of a
 * process, is written once.
 */
export function handleInputBytes(item: DataItem, assignment: SignedAssignment, process: ProcessSpawn): Uint8Array {
  let proc = processJson.get(process);
  if (proc === undefined) {
    proc = JSON.stringify(processInput(process));
    processJson.set(process, proc);
  }
  return utf8(`{"message":${JSON.stringify(messageInput(item, assignment))},"process":${proc}}`);
}

/** What a slot's message did: handle's output, messages and error, the result hash and the gas. */
type Outcome = Pick<SlotRecord, 'output' | 'messages' | 'spawns' | 'error' | 'result-bytes' | 'result-hash' | 'gas'>;

/** The bytes a slot's result hash commits to, carried in the record so anyone can check the hash. */
export const resultOf = (bytes: Uint8Array) => ({ 'result-bytes': b64url(bytes), 'result-hash': sha256b64(bytes) });

/** A handler's output: {"output", "messages", "spawns"?, "error"?}; anything else is an error result. */
function readOutput(bytes: Uint8Array): Pick<SlotRecord, 'output' | 'messages' | 'spawns' | 'error'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(TEXT.decode(bytes));
  } catch {
    return { output: null, messages: [], error: 'handle returned bytes that are not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { output: null, messages: [], error: 'handle returned JSON that is not an object' };
  }
  const { output = null, messages = [], spawns, error } = parsed as Record<string, Json>;
  // `spawns` only when the handler returned some, so records of processes that never spawn keep their bytes.
  const spawned = spawns === undefined || (Array.isArray(spawns) && spawns.length === 0) ? {} : { spawns };
  return error === undefined ? { output, messages, ...spawned } : { output, messages, ...spawned, error };
}
