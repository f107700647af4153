// The fold of an AO process: each slot's message in the compute unit's shape, handed with the
// process's env to an aos module on the AO host (engine/wasm/ao), as servers/cu does; the same
// records as a hyperwasm process's fold (fold.ts), so caching, attestations, snapshots, verify
// and disputes treat both alike. What differs is what a record holds:
//
// - `result-bytes` is the text ao-loader would return for the message, byte for byte (or what
//   the call threw), and `output` that text parsed; `messages` the result's Messages in the
//   engine's outbox shape, so the deliverer sends them (an aos `Send` reaches its target);
// - `gas` is our meter's count (the module is instrumented like any other);
// - the state is the linear memory and the host's clock, and its hash is §13's formula over
//   the canonical JSON `{"clock":N}` and the memory.
//
// After a message that fails (an Error, ok: false, a throw, out of gas) the process goes on
// from a fresh instance loaded with the memory from before it, exactly as the CU does
// (engine/wasm/ao/session.ts says why). That memory is the copy the state hash keeps of what it
// hashed last (state-hash.ts lastHashed), so rolling back costs no copy per message.
import { b64url, canonicalJson, fromB64url, utf8, utf8Text } from '../protocol/encoding.ts';
import { hashpath } from '../protocol/hashpath.ts';
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { SignedAssignment } from '../protocol/assignment.ts';
import type { Json } from '../protocol/message.ts';
import { PUSHED_TAGS } from '../protocol/pushed.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { tagValue } from '../protocol/vocabulary.ts';
import { AoInstance, type AoOptions, type AoResult } from '../wasm/ao/instance.ts';
import type { LoadedModule } from '../wasm/compile.ts';
import { carryDigest, lastHashed, liveStateDigest } from '../wasm/state-hash.ts';
import { packSnapshot, unpackSnapshot } from '../wasm/snapshot.ts';
import type { ProcessSpawn } from '../store.ts';
import { resultOf, slotInput, type ScheduleReader, type SnapshotLookup } from './fold.ts';

/** An AO process's live instance and how far it has folded. */
export interface AoRunner {
  ao: true;
  spawn: ProcessSpawn;
  /** Our meter's budget per message. */
  gasLimit: number;
  loaded: LoadedModule;
  instance: AoInstance;
  /** The env every message gets, as JSON text (written once). */
  env: string;
  slot: number;
  hashpath: string;
}

const TEXT = new TextDecoder();

export class AoFold {
  steps = 0;

  constructor(
    private readonly schedule: ScheduleReader,
    private readonly snapshot: SnapshotLookup = () => undefined,
  ) {}

  /** A runner at the nearest snapshot at or before `slot`, or freshly started before slot 0. */
  resume(spawn: ProcessSpawn, loaded: LoadedModule, gasLimit: number, slot: number): AoRunner {
    const kept = slot < 0 ? undefined : this.snapshot(spawn.id, slot);
    const header = kept ? readAoSnapshot(kept) : undefined;
    const instance = AoInstance.create(loaded.module, loaded.ao!.format, {
      ...instanceOptions(loaded, gasLimit),
      ...(header ? { resume: { memory: header.memory, clock: header.clock } } : {}),
    });
    // Hashed now so that the first message's rollback finds the memory from before it.
    aoStateHash(instance);
    const env = JSON.stringify(aoEnv(spawn, loaded));
    return { ao: true, spawn, gasLimit, loaded, instance, env, slot: header?.slot ?? -1, hashpath: header?.hashpath ?? spawn.id };
  }

  /** Folds the next slot into the runner; returns its result record. */
  step(runner: AoRunner): SlotRecord {
    const pid = runner.spawn.id;
    const slot = runner.slot + 1;
    this.steps++;
    const { assignment, item } = slotInput(this.schedule, pid, slot);
    const result = runner.instance.handle(JSON.stringify(aoMessage(item, assignment, runner.spawn)), runner.env);
    if (!result.ok) this.rollback(runner);
    const path = hashpath(runner.hashpath, assignment.message);
    const record: SlotRecord = {
      process: pid, module: runner.spawn.module, slot, message: item.id, assignment: assignment.id, hashpath: path,
      ...outcomeOf(result), 'state-hash': aoStateHash(runner.instance),
    };
    runner.slot = slot;
    runner.hashpath = path;
    return record;
  }

  /** What a message would give as the next slot, run on a copy of the state (the CU's dry-run): nothing is kept. */
  dryRun(runner: AoRunner, msg: object): AoResult {
    // Loaded from a view of the live memory: create() copies it into the new instance's own.
    const live = { memory: new Uint8Array(runner.instance.liveMemory.buffer), clock: runner.instance.clockValue };
    const copy = AoInstance.create(runner.loaded.module, runner.loaded.ao!.format, { ...instanceOptions(runner.loaded, runner.gasLimit), resume: live });
    return copy.handle(msg, runner.env);
  }

  /** The runner goes on from a fresh instance holding the memory from before the failed message. */
  private rollback(runner: AoRunner): void {
    const before = runner.instance.liveMemory;
    const memory = lastHashed(before);
    if (!memory) throw new Error(`process ${runner.spawn.id}: the memory from before slot ${runner.slot + 1} was not kept`);
    runner.instance = AoInstance.create(runner.loaded.module, runner.loaded.ao!.format, { ...instanceOptions(runner.loaded, runner.gasLimit), memory });
    carryDigest(before, runner.instance.liveMemory);
  }
}

function instanceOptions(loaded: LoadedModule, gasLimit: number): AoOptions {
  const { ao } = loaded;
  return { computeLimit: ao!.computeLimit, memoryLimit: ao!.memoryLimit, meterBudget: gasLimit, label: `AO module ${loaded.id}` };
}

/** The state hash of an AO process (docs/PROTOCOL.md §13, §23): the clock as canonical JSON `{"clock":N}`, then the memory's chunks. */
export function aoStateHash(instance: AoInstance): string {
  return liveStateDigest(utf8(canonicalJson({ clock: instance.clockValue })), instance.liveMemory);
}

/**
 * The message a slot hands to `handle`, in the compute unit's shape and key order. Slot 0 is
 * the spawn item itself, without Epoch, Nonce and Hash-Chain (aos reads its Module tag there).
 * A message a process sent is From that process (its From-Process tag, which the scheduler
 * admitted only signed by that process's scheduler), anything else from its signer.
 */
export function aoMessage(item: DataItem, assignment: SignedAssignment, spawn: ProcessSpawn): object {
  const from = tagValue(item.tags, 'From-Process') ?? item.ownerAddress;
  const sequenced: object = assignment.slot === 0 ? {} : { Epoch: 0, Nonce: assignment.slot };
  return {
    Id: item.id,
    Signature: b64url(item.signature),
    Data: TEXT.decode(item.data),
    Owner: item.ownerAddress,
    Target: item.target ?? spawn.id,
    Anchor: item.anchor === undefined ? '' : (utf8Text(fromB64url(item.anchor))?.replace(/\0+$/, '') ?? item.anchor),
    From: from,
    Tags: item.tags.map(({ name, value }) => ({ name, value })),
    ...sequenced,
    Timestamp: assignment.timestamp,
    'Block-Height': assignment['block-height'],
    ...(assignment.slot === 0 ? {} : { 'Hash-Chain': assignment['hash-chain'] }),
    Cron: false,
  };
}

/**
 * A dry-run's message, as the compute unit builds it (its `dryRun`): the latest slot's
 * Timestamp and Block-Height, `Cron: false` and the process as Target, then the request's own
 * fields over them, `From` (the request's From-Process tag, else its Owner) and
 * `Read-Only: true`. Nothing in it is signed: it is evaluated, never kept.
 */
export function aoDryRunMessage(pid: string, request: Record<string, unknown>, latest: SignedAssignment): object {
  const tags = Array.isArray(request.Tags) ? (request.Tags as { name: string; value: string }[]) : [];
  const from = tagValue(tags, 'From-Process') ?? request.Owner;
  return { Timestamp: latest.timestamp, 'Block-Height': latest['block-height'], Cron: false, Target: pid, ...request, From: from, 'Read-Only': true };
}

/** The env every message of a process gets: `{Process: {Id, Owner, Tags}, Module: {Id, Owner, Tags}}`. */
export function aoEnv(spawn: ProcessSpawn, loaded: LoadedModule) {
  return { Process: { Id: spawn.id, Owner: spawn.owner, Tags: spawn.tags }, Module: loaded.ao!.env };
}

/** A record's result half from what the module answered. */
function outcomeOf(result: AoResult): Pick<SlotRecord, 'output' | 'messages' | 'error' | 'result-bytes' | 'result-hash' | 'gas'> {
  const gas = result.meterGas ?? result.gas ?? 0;
  const text = result.threw ?? result.text;
  const hashes = resultOf(utf8(text));
  if (result.threw !== undefined) return { output: null, messages: [], error: result.threw, ...hashes, gas };
  const parsed = JSON.parse(result.text) as Record<string, Json>;
  if (!result.ok) return { output: parsed, messages: [], error: parsed.Error ?? 'the module answered ok: false', ...hashes, gas };
  return { output: parsed, messages: outboxOf(parsed.Messages), ...hashes, gas };
}

const SCHEDULER_WRITES = new Set<string>(PUSHED_TAGS);

/**
 * An aos result's Messages (`{Target, Data, Tags, Anchor}`) as the engine's outbox entries
 * (`{target, data, tags}`, engine/protocol/pushed.ts), without the tags the sending scheduler
 * writes itself (Data-Protocol, Variant, Type, From-Process…); anything else is passed on for
 * the ledger to check, and to mark invalid with its reason.
 */
function outboxOf(messages: Json | undefined): Json[] {
  if (!Array.isArray(messages)) return [];
  return messages.map((message) => {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return message;
    const { Target, Data = '', Tags = [] } = message as Record<string, Json>;
    const tags = Array.isArray(Tags) ? Tags.filter((t) => !(t && typeof t === 'object' && !Array.isArray(t) && SCHEDULER_WRITES.has(String(t.name)))) : Tags;
    return { target: Target ?? null, data: typeof Data === 'string' ? Data : JSON.stringify(Data), tags };
  });
}

/** A hyperwasm snapshot's container (engine/wasm/snapshot.ts), with the clock in place of the globals. */
export function takeAoSnapshot(runner: AoRunner, stateHash: string): Uint8Array {
  return packSnapshot({ slot: runner.slot, hashpath: runner.hashpath, stateHash, clock: runner.instance.clockValue }, new Uint8Array(runner.instance.liveMemory.buffer));
}

function readAoSnapshot(snapshot: Uint8Array): { slot: number; hashpath: string; clock: number; memory: Uint8Array } {
  const { header, memory } = unpackSnapshot<{ slot: number; hashpath: string; clock: number }>(snapshot);
  return { ...header, memory };
}
