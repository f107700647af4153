// The process device: a process's state folded slot by slot through its module's
// `handle`, in a live instance that stays in memory between messages (nothing copies the
// whole memory per message). Every slot's result is cached by its hashpath; every K slots a
// snapshot (memory + globals) is written, so a restart, or a request behind the live state,
// resumes from the nearest snapshot instead of slot 0.
//
// A message whose handler traps yields an error result and leaves the state as it was
// before the message: the instance is rebuilt from the last snapshot up to the previous
// slot, the same on every replay.
import { b64url, fromB64url, utf8 } from './protocol/encoding.ts';
import { nextLink } from './protocol/hash-chain.ts';
import { badRequest, isModuleFault, notFound, unprocessable } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { hashpath } from './protocol/hashpath.ts';
import { callBytes, instantiate } from './wasm/call.ts';
import type { InstanceView, KernelCounts } from './wasm/host/gpu.ts';
import { isBytesFunction } from './wasm/abi.ts';
import { parseDataItem, type DataItem } from './protocol/ans104/data-item.ts';
import { type SignedAssignment } from './protocol/assignment.ts';
import { restoreSnapshot, stateHash, takeSnapshot } from './wasm/snapshot.ts';
import { DEFAULT_GAS_LIMIT, withGas } from './wasm/gas.ts';
import { ENGINE, type ProcessStatement } from './protocol/statement.ts';
import { keepBatch, type SignedBatch } from '../attest/attester.ts';
import type { ComputeAnswer } from './compute.ts';
import type { Json } from './protocol/message.ts';
import type { Modules } from './modules.ts';
import type { LoadedModule } from './wasm/compile.ts';
import { OutboxKind, type ProcessSpawn, type Store } from './store.ts';
import { tagValue } from './protocol/vocabulary.ts';

/** Where the device reads a schedule: the node's scheduler, or a verifier's verified history. */
export interface ScheduleReader {
  process(pid: string): ProcessSpawn | undefined;
  currentSlot(pid: string): number | undefined;
  assignment(pid: string, slot: number): SignedAssignment | undefined;
  message(id: string): Uint8Array | undefined;
}

export interface ProcessOptions {
  store: Store;
  modules: Modules;
  scheduler: ScheduleReader;
  /** Write a snapshot after every slot divisible by this (default 1000). */
  snapshotEvery?: number;
  /** Live instances kept in memory (default 64). */
  maxLive?: number;
  /** Attest results and publish checkpoints; without it results are only cached (verifiers). */
  attest?: ProcessAttestation;
  /** Called once a fold's writes are committed (to kick the publisher). */
  onWrite?: () => void;
  /** Sees every slot's record as it is folded (a verifier compares them with claims). */
  observe?: (record: Record<string, Json>) => void;
}

interface SlotResult {
  record: Record<string, Json>;
  snapshot?: Uint8Array;
}

/** How a node attests process results and publishes checkpoints (attest/). */
export interface ProcessAttestation {
  address: string;
  sign(statements: ProcessStatement[]): SignedBatch[];
  /** A signed checkpoint item carrying a snapshot, so others can resume from it. */
  checkpoint(record: Record<string, Json>, snapshot: Uint8Array): DataItem;
}

export function processStatement(node: string, record: Record<string, Json>): ProcessStatement {
  return {
    kind: 'process',
    node,
    process: record.process as string,
    module: record.module as string,
    slot: record.slot as number,
    message: record.message as string,
    assignment: record.assignment as string,
    hashpath: record.hashpath as string,
    'result-hash': record['result-hash'] as string,
    'state-hash': record['state-hash'] as string,
    gas: record.gas as number,
    engine: ENGINE,
    ...(record.kernels ? { kernels: record.kernels as unknown as KernelCounts } : {}),
  };
}

interface Runner {
  record: ProcessSpawn;
  /** The budget of each message: the process's Gas-Limit tag, else the module's, else the default. */
  gasLimit: number;
  loaded: LoadedModule;
  instance: WebAssembly.Instance;
  /** How the instance's host imports see it; counts its kernel calls by backend. */
  view: InstanceView;
  /** The last slot folded into the instance; -1 before the spawn message. */
  slot: number;
  hashpath: string;
}

export class Processes {
  private readonly live = new Map<string, Runner>();
  private readonly snapshotEvery: number;
  private steps = 0;
  private readonly moduleGasLimit = new Map<string, string>();
  /** Records folded but not yet committed, by "pid/slot": readable meanwhile, never recomputed. */
  private readonly committing = new Map<string, Uint8Array>();

  constructor(private readonly options: ProcessOptions) {
    this.snapshotEvery = options.snapshotEvery ?? 1000;
  }

  /** The result at a slot (default: the latest), from the cache or by folding up to it. */
  async compute(pid: string, slot?: number): Promise<ComputeAnswer> {
    const { scheduler } = this.options;
    const record = scheduler.process(pid);
    if (!record) throw notFound(`unknown process ${pid}`);
    const latest = scheduler.currentSlot(pid)!;
    const target = slot ?? latest;
    if (!Number.isSafeInteger(target) || target < 0) throw badRequest(`slot must be a whole number ≥ 0, got ${slot}`);
    if (target > latest) throw badRequest(`slot ${target} is beyond the latest slot ${latest} of process ${pid}`);

    const cached = this.cachedResult(pid, target);
    if (cached) return { cache: 'hit', body: cached };

    const loaded = await this.options.modules.getForProcess(record.module);
    const declared = tagValue((await this.options.modules.meta(record.module)).tags, 'Gas-Limit');
    if (declared !== undefined) this.moduleGasLimit.set(record.module, declared);
    const handle = loaded.info.exportedFunction('handle');
    if (!handle || !isBytesFunction(loaded.info, handle)) {
      throw unprocessable(`module ${record.module} is not a process module: it must export hw_alloc and handle(ptr: i32, len: i32) -> i64`);
    }
    let runner = this.live.get(pid);
    if (!runner || runner.slot >= target) {
      const resumed = this.resume(record, loaded, target - 1);
      if (!runner) this.keepLive(pid, resumed);
      runner = resumed;
    }
    const results: SlotResult[] = [];
    try {
      while (runner.slot < target) results.push(this.step(runner, true));
    } catch (error) {
      this.live.delete(pid); // a node fault mid-fold: the instance is not to be trusted
      if (results.length > 0) await this.keep(results);
      throw error;
    }
    const bodies = await this.keep(results);
    return { cache: 'miss', body: bodies.at(-1)! };
  }

  /**
   * Attests a fold's results in batches, then writes results, snapshots, attestations and
   * checkpoints in one LMDB transaction: per-put overhead would otherwise cost more than
   * evaluating a small message. Resolves, once durable, with the records' bytes: an answer
   * never names an attestation that a crash could lose.
   */
  private async keep(results: SlotResult[]): Promise<Uint8Array[]> {
    const { store, attest } = this.options;
    const pid = results[0].record.process as string;
    const batches = attest?.sign(results.map((r) => processStatement(attest.address, r.record))) ?? [];
    batches.flatMap((b) => b.attestations).forEach((attestation, i) => (results[i].record.attestation = attestation as unknown as Json));
    const bodies = results.map((r) => utf8(JSON.stringify(r.record)));
    const checkpoints = attest ? results.filter((r) => r.snapshot).map((r) => attest.checkpoint(r.record, r.snapshot!)) : [];
    const keys = results.map(({ record }) => `${pid}/${record.slot}`);
    keys.forEach((key, i) => this.committing.set(key, bodies[i]));
    try {
      await store.transaction(() => {
        results.forEach(({ record, snapshot }, i) => {
          store.results.put(record.hashpath as string, bodies[i]);
          store.processResults.put([pid, record.slot as number], record.hashpath as string);
          if (snapshot) store.snapshots.put([pid, record.slot as number], snapshot);
        });
        for (const batch of batches) keepBatch(store, batch, pid, (batch.attestations[0].statement as ProcessStatement).slot);
        for (const checkpoint of checkpoints) store.outbox.put([pid, Number(tagValue(checkpoint.tags, 'Slot')), OutboxKind.Checkpoint], checkpoint.raw);
      });
    } finally {
      for (const key of keys) this.committing.delete(key);
    }
    this.options.onWrite?.();
    return bodies;
  }

  /**
   * The gas a message would use if it were the next slot, run on a copy of the current
   * state (nothing is kept): exact against that state, which later messages may change.
   */
  async estimate(item: DataItem, environment: { timestamp: number; 'block-height': number }): Promise<{ slot: number; gas: number; 'gas-limit': number; error?: string }> {
    const pid = item.target ?? item.id;
    const { scheduler } = this.options;
    const record = scheduler.process(pid);
    if (!record) throw notFound(`unknown process ${pid}`);
    const latest = scheduler.currentSlot(pid)!;
    await this.compute(pid, latest);
    const live = this.live.get(pid) ?? this.resume(record, (await this.options.modules.getForProcess(record.module)), latest - 1);
    const copy = instantiate(live.loaded);
    restoreSnapshot(copy, live.loaded.info, takeSnapshot(live.instance, live.loaded.info, live.slot, live.hashpath));
    // The assignment the message would get: its real hash-chain link, and a stand-in of the
    // same length for the assignment's own ID (unknown until signed).
    const previous = scheduler.assignment(pid, latest)!;
    const link = b64url(nextLink(fromB64url(previous['hash-chain']), item.id));
    const assignment = { process: pid, slot: latest + 1, message: item.id, 'hash-chain': link, id: 'A'.repeat(43), signer: '', raw: new Uint8Array(0), ...environment };
    const input = utf8(JSON.stringify(handleInput(item, assignment, record)));
    try {
      const { gas } = withGas(copy, live.gasLimit, 'handle', () => callBytes(copy, 'handle', input));
      return { slot: latest, gas, 'gas-limit': live.gasLimit };
    } catch (error) {
      if (!isModuleFault(error)) throw error;
      return { slot: latest, gas: Number(error.details.gas ?? live.gasLimit), 'gas-limit': live.gasLimit, error: error.message };
    }
  }

  /** Slots folded since start (replays included): shows how much work snapshots saved. */
  stats(): { steps: number; live: number } {
    return { steps: this.steps, live: this.live.size };
  }

  private cachedResult(pid: string, slot: number): Uint8Array | undefined {
    const committing = this.committing.get(`${pid}/${slot}`);
    if (committing) return committing;
    const path = this.options.store.processResults.get([pid, slot]);
    return path === undefined ? undefined : this.options.store.results.get(path);
  }

  private keepLive(pid: string, runner: Runner): void {
    this.live.set(pid, runner);
    if (this.live.size > (this.options.maxLive ?? 64)) this.live.delete(this.live.keys().next().value!);
  }

  /** A runner at the nearest snapshot at or before `slot`, or fresh before slot 0. */
  private resume(record: ProcessSpawn, loaded: LoadedModule, slot: number): Runner {
    const view: InstanceView = {};
    const instance = instantiate(loaded, view);
    const gasLimit = Number(tagValue(record.tags, 'Gas-Limit') ?? this.moduleGasLimit.get(record.module) ?? DEFAULT_GAS_LIMIT);
    const runner: Runner = { record, gasLimit, loaded, instance, view, slot: -1, hashpath: record.id };
    if (slot < 0) return runner;
    for (const { value } of this.options.store.snapshots.getRange({ start: [record.id, slot], end: [record.id, -1], reverse: true, limit: 1 })) {
      const header = restoreSnapshot(instance, loaded.info, value);
      runner.slot = header.slot;
      runner.hashpath = header.hashpath;
    }
    return runner;
  }

  /** Folds the next slot into the runner; returns its result record (and snapshot, if due). */
  private step(runner: Runner, keep = false): SlotResult {
    const { scheduler } = this.options;
    const pid = runner.record.id;
    const slot = runner.slot + 1;
    this.steps++;
    const assignment = scheduler.assignment(pid, slot);
    if (!assignment) throw new Error(`process ${pid} has no assignment at slot ${slot}`);
    const raw = scheduler.message(assignment.message);
    if (!raw) throw new Error(`process ${pid} has no message ${assignment.message} for slot ${slot}`);
    const item = parseDataItem(raw);
    const input = handleInput(item, assignment, runner.record);
    const path = hashpath(runner.hashpath, assignment.message);
    const record: Record<string, Json> = { process: pid, module: runner.record.module, slot, message: item.id, assignment: assignment.id, hashpath: path };
    const view = runner.view; // a trap below replaces the runner's instance and view
    const before = { gpu: view.kernels?.gpu ?? 0, cpu: view.kernels?.cpu ?? 0 };
    try {
      // The input's key order is fixed by handleInput, so JSON.stringify is canonical enough
      // to be identical on every node, and several times faster than canonicalJson.
      const bytes = utf8(JSON.stringify(input));
      const { value: output, gas } = withGas(runner.instance, runner.gasLimit, 'handle', () => callBytes(runner.instance, 'handle', bytes));
      Object.assign(record, readOutput(output), { 'result-hash': sha256b64(output), gas });
    } catch (error) {
      if (!isModuleFault(error)) throw error;
      const gas = Number(error.details.gas ?? 0);
      Object.assign(record, { output: null, messages: [], error: error.message, 'result-hash': sha256b64(utf8(error.message)), gas });
      this.rebuild(runner, slot - 1);
    }
    // Which backend served this slot's kernel calls: informational, like a stateless call's.
    const after = view.kernels;
    if (after && after.gpu + after.cpu > before.gpu + before.cpu) record.kernels = { gpu: after.gpu - before.gpu, cpu: after.cpu - before.cpu };
    record['state-hash'] = stateHash(runner.instance, runner.loaded.info);
    runner.slot = slot;
    runner.hashpath = path;
    const snapshot = keep && slot % this.snapshotEvery === 0 ? takeSnapshot(runner.instance, runner.loaded.info, slot, path) : undefined;
    if (keep) this.options.observe?.(record);
    return { record, snapshot };
  }

  /** Gives the runner a fresh instance holding the state after `slot`: the nearest snapshot, then a replay. */
  private rebuild(runner: Runner, slot: number): void {
    const replay = this.resume(runner.record, runner.loaded, slot);
    while (replay.slot < slot) this.step(replay);
    runner.instance = replay.instance;
    runner.view = replay.view;
  }
}

const TEXT = new TextDecoder();

/** The JSON a module's handle receives for one slot (docs/PROTOCOL.md, "Process ABI"). */
export function handleInput(item: DataItem, assignment: SignedAssignment, process: ProcessSpawn) {
  return {
    message: {
      id: item.id,
      slot: assignment.slot,
      from: item.ownerAddress,
      owner: item.ownerAddress,
      target: item.target ?? null,
      tags: item.tags,
      data: TEXT.decode(item.data),
      timestamp: assignment.timestamp,
      'block-height': assignment['block-height'],
      'hash-chain': assignment['hash-chain'],
      assignment: assignment.id,
    },
    process: { id: process.id, owner: process.owner, module: process.module, tags: process.tags },
  };
}

/** A handler's output: {"output", "messages", "error"?}; anything else is an error result. */
function readOutput(bytes: Uint8Array): Record<string, Json> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { output: null, messages: [], error: 'handle returned bytes that are not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { output: null, messages: [], error: 'handle returned JSON that is not an object' };
  }
  const { output = null, messages = [], error } = parsed as Record<string, Json>;
  return error === undefined ? { output, messages } : { output, messages, error };
}
