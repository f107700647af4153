// The scheduler: gives each message of a process the next slot, links it into the
// process's hash-chain, signs the assignment, and answers only once message and assignment
// are committed to LMDB (with their outbox entries, in the same transaction).
//
// A message goes through three stages, each in arrival order:
//   1. its client's signature is checked, on the signature pool (engine/signatures.ts: worker
//      threads, or this thread for a small batch);
//   2. on this thread, synchronously, it is given its slot: one writer per process comes from
//      JavaScript itself, since everything from reading the head of a process to fixing the
//      assignment's fields runs without a pause, so two requests never take the same slot;
//   3. its assignment is signed on the pool, and once it and every assignment before it are
//      signed, they go to LMDB together: one transaction for however many processes' slots are
//      ready (a group commit), acknowledged once flushed.
// Slots are contiguous because commits are applied in order; a head is reloaded from what is
// durable whenever a commit fails.
//
// The read side (what the fold reads) is engine/schedule.ts, over the store alone.
import { badRequest, HyperError, notFound } from './protocol/errors.ts';
import { createDataItem, parseDataItem, verifyDataItem, type DataItem, type Ed25519Signer } from './protocol/ans104/data-item.ts';
import { DataItemError } from './protocol/ans104/avro-tags.ts';
import { signedAssignment, unsignedAssignment, type SignedAssignment, type UnsignedAssignment } from './protocol/assignment.ts';
import { nextLink } from './protocol/hash-chain.ts';
import { b64url, fromB64url, isId } from './protocol/encoding.ts';
import { OutboxKind, type ProcessSpawn, type StoreView } from './store.ts';
import { gasLimit } from './wasm/gas.ts';
import { assignmentTags, SCHEDULED_PROTOCOLS, SCHEDULED_TYPES, tagValue } from './protocol/vocabulary.ts';
import { StoredSchedule } from './schedule.ts';
import { pushKey, readPushOrigin, type PushOrigin } from './protocol/pushed.ts';
import { SignaturePool, type SignaturePoolOptions } from './signatures.ts';

export interface SchedulerOptions {
  store: StoreView<'assignments' | 'messages' | 'outbox' | 'processes' | 'slots' | 'pushed'>;
  signer: Ed25519Signer;
  /** This node's address: processes whose Scheduler tag names it are scheduled here. */
  address: string;
  /** The Arweave block height the node last saw. */
  blockHeight: () => number;
  /** Other schedulers' URLs by address, for redirects. */
  peers?: Record<string, string>;
  /** Where another scheduler is, from the location records this node holds (engine/locations.ts): a 307 carries its record. */
  locate?: (address: string) => { url: string; record?: string } | undefined;
  /** Called after items were added to the outbox. */
  onWrite?: () => void;
  /** Called with the processes that got new durable slots (eager evaluation: engine/processes/crank.ts). */
  onAssigned?: (pids: Set<string>) => void;
  clock?: () => number;
  /** The signature pool's threads and inline threshold (engine/signatures.ts; its defaults otherwise). */
  signatures?: Omit<SignaturePoolOptions, 'privateKey'>;
}

const RECORD_CACHE_LIMIT = 4096;

interface Head {
  next: number;
  link?: Uint8Array;
  timestamp: number;
}

/** A message waiting for its signature check (stage 1), in arrival order. */
interface Arrival {
  item: DataItem;
  /** A pushed message's source process, its spawn item verified by whoever passed it (the push route). */
  source?: DataItem;
  /** A pushed message's origin, read from its tags. */
  origin?: PushOrigin;
  /** Settled: the check's answer, or the pool's failure. */
  verified?: boolean | Error;
  /** What the caller holds: a replay of the same item while this one is in flight gets it too. */
  promise?: Promise<SignedAssignment>;
  resolve: (assignment: SignedAssignment | PromiseLike<SignedAssignment>) => void;
  reject: (error: unknown) => void;
}

/** A slot given, waiting for its assignment's signature and then its commit (stage 3), in slot order. */
interface Write {
  arrival: Arrival;
  pid: string;
  slot: number;
  record?: ProcessSpawn;
  key: string;
  /** A pushed message's dedup key, written with the assignment. */
  push?: [string, string, number, number];
  assignment?: SignedAssignment;
  /** Why it is not written: its signature failed, or (in the transaction) the slot no longer extends the schedule. */
  failed?: Error;
}

export class Scheduler {
  /** What is durable, as the fold and the HTTP reads see it. */
  readonly stored: StoredSchedule;
  private readonly heads = new Map<string, Head>();
  /** Processes' spawn records by ID, read once from the store (each message needs its process's scheduler). */
  private readonly records = new Map<string, ProcessSpawn>();
  private readonly pending = new Map<string, Promise<SignedAssignment>>();
  private readonly signatures: SignaturePool;
  private readonly arrivals: Arrival[] = [];
  private readonly writes: Write[] = [];
  private commitQueued = false;

  constructor(private readonly options: SchedulerOptions) {
    this.stored = new StoredSchedule(options.store);
    this.signatures = new SignaturePool({ privateKey: options.signer.privateKey, ...options.signatures });
  }

  /**
   * Verifies a signed item and assigns it; resolves when the assignment is durable. A pushed
   * message (a From-Process tag) is taken only if signed by its source process's scheduler:
   * `source` is that process's spawn item, verified by the caller, unless this node schedules it.
   */
  schedule(raw: Uint8Array, options: { source?: DataItem } = {}): Promise<SignedAssignment> {
    const item = readItem(raw);
    const origin = readPushOrigin(item);
    let arrival!: Arrival;
    const promise = new Promise<SignedAssignment>((resolve, reject) => (arrival = { item, source: options.source, origin, resolve, reject }));
    arrival.promise = promise;
    this.arrivals.push(arrival);
    this.signatures.verify(item, (answer) => this.verified(arrival, answer));
    return promise;
  }

  /** Starts the signature pool's workers now rather than on the first big batch (a warm start). */
  startWorkers(): Promise<void> {
    return this.signatures.start();
  }

  /** Terminates the signature pool's workers (idle ones exit by themselves). */
  close(): Promise<void> {
    return this.signatures.close();
  }

  process(pid: string): ProcessSpawn | undefined {
    return this.stored.process(pid);
  }

  /** The latest durable slot of a process, or undefined for an unknown one. */
  currentSlot(pid: string): number | undefined {
    return this.stored.currentSlot(pid);
  }

  assignment(pid: string, slot: number): SignedAssignment | undefined {
    return this.stored.assignment(pid, slot);
  }

  message(id: string): Uint8Array | undefined {
    return this.stored.message(id);
  }

  /** The slot a message holds in a process's durable schedule, if it has one there. */
  slotOf(pid: string, messageId: string): number | undefined {
    return this.options.store.slots.get([pid, messageId]);
  }

  /** Assignments from..to inclusive with their messages, at most `limit`. */
  range(pid: string, from: number, to: number, limit: number): { assignment: SignedAssignment; message: Uint8Array }[] {
    return this.stored.range(pid, from, to, limit);
  }

  /** Stage 1 settled for one arrival: assign every arrival at the front whose check is done, in order. */
  private verified(arrival: Arrival, answer: boolean | Error): void {
    arrival.verified = answer;
    let done = 0;
    while (done < this.arrivals.length && this.arrivals[done]!.verified !== undefined) done++;
    for (const next of this.arrivals.splice(0, done)) {
      try {
        if (next.verified instanceof Error) throw next.verified;
        if (!next.verified) throw badRequest(`the signature of data item ${next.item.id} does not verify`);
        this.assign(next);
      } catch (error) {
        next.reject(error);
      }
    }
  }

  /** Stage 2, synchronous: the slot, the link and the assignment's fields; then its signature. */
  private assign(arrival: Arrival): void {
    const { item } = arrival;
    checkScheduled(item);
    const { pid, record } = this.resolveProcess(item);
    const push = arrival.origin && this.admitPushed(arrival, pid);
    // A pushed message is one slot per (source, slot, index), whichever node signed it.
    const key = push ? `${pid}/push/${push.slice(1).join('/')}` : `${pid}/${item.id}`;
    const inFlight = this.pending.get(key);
    if (inFlight) return arrival.resolve(inFlight);
    const existing = push ? this.pushedAssignment(push) : this.assignmentOf(pid, item.id);
    if (existing) return arrival.resolve(existing);

    const head = this.head(pid);
    if (record && head.next !== 0) throw badRequest(`process ${pid} already exists`);
    if (!record && head.next === 0) throw notFound(`unknown process ${pid}`);
    const slot = head.next;
    const link = nextLink(head.link, item.id);
    const timestamp = Math.max((this.options.clock ?? Date.now)(), head.timestamp);
    const fields = { process: pid, slot, message: item.id, 'hash-chain': b64url(link), timestamp, 'block-height': this.options.blockHeight() };
    const unsigned = unsignedAssignment(this.options.signer.publicKey, fields);
    head.next = slot + 1;
    head.link = link;
    head.timestamp = timestamp;

    const write: Write = { arrival, pid, slot, record, key, push };
    this.writes.push(write);
    this.pending.set(key, arrival.promise!);
    if (unsigned) {
      this.signatures.sign(unsigned.message, (signature) => {
        if (signature instanceof Error) write.failed = signature;
        else write.assignment = signedAssignment(unsigned, signature, this.options.address);
        this.commitSoon();
      });
    } else {
      // Not the plain shape (engine/protocol/assignment.ts): the generic codec, here.
      try {
        const signed = createDataItem(this.options.signer, { target: pid, tags: assignmentTags(fields), data: '' });
        write.assignment = { ...fields, id: signed.id, signer: this.options.address, raw: signed.raw };
      } catch (error) {
        write.failed = error as Error;
      }
      this.commitReady();
    }
  }

  /** Stage 3, once per turn: whatever signatures arrived together go into one transaction. */
  private commitSoon(): void {
    if (this.commitQueued) return;
    this.commitQueued = true;
    queueMicrotask(() => {
      this.commitQueued = false;
      this.commitReady();
    });
  }

  /**
   * Every write at the front whose assignment is signed goes into one transaction. lmdb-js
   * puts the transactions queued while it writes into its next commit, so a commit's fixed
   * cost (its flush above all) is shared by as many slots as arrive meanwhile, of any processes.
   */
  private commitReady(): void {
    let ready = 0;
    while (ready < this.writes.length && (this.writes[ready]!.assignment || this.writes[ready]!.failed)) ready++;
    if (ready === 0) return;
    const batch = this.writes.splice(0, ready);
    const { store } = this.options;
    store
      .transaction(() => {
        // The slot must extend what is durable: if an earlier commit of this process failed,
        // writes queued behind it fail here instead of leaving a gap or overwriting a slot.
        // A write right after one of the same process in this transaction extends it by construction.
        const written = new Map<string, number>();
        for (const write of batch) {
          if (write.failed) continue;
          const { pid, slot } = write;
          if (written.get(pid) !== slot - 1 && (store.assignments.get([pid, slot]) !== undefined || (slot > 0 && store.assignments.get([pid, slot - 1]) === undefined))) {
            write.failed = new Error(`slot ${slot} of ${pid} no longer extends the durable schedule`);
            continue;
          }
          written.set(pid, slot);
          const assignment = write.assignment!;
          const raw = write.arrival.item.raw;
          store.messages.put(assignment.message, raw);
          store.assignments.put([pid, slot], assignment.raw);
          store.slots.put([pid, assignment.message], slot);
          if (write.push) store.pushed.put(write.push, slot);
          if (write.record) store.processes.put(pid, write.record);
          store.outbox.put([pid, slot, OutboxKind.Message], raw);
          store.outbox.put([pid, slot, OutboxKind.Assignment], assignment.raw);
        }
      })
      .then(
        () => this.settle(batch),
        (error: Error) => this.settle(batch, error),
      );
  }

  /** Answers a committed batch: the durable assignments, and the failures (whose heads are reloaded from what is durable). */
  private settle(batch: Write[], error?: Error): void {
    let wrote = false;
    const assigned = new Set<string>();
    for (const write of batch) {
      this.pending.delete(write.key);
      const failure = write.failed ?? error;
      if (failure) {
        this.heads.delete(write.pid);
        write.arrival.reject(failure);
      } else {
        wrote = true;
        assigned.add(write.pid);
        write.arrival.resolve(write.assignment!);
      }
    }
    if (wrote) this.options.onWrite?.();
    if (assigned.size > 0) this.options.onAssigned?.(assigned);
  }

  /**
   * A pushed message's checks (docs/PROTOCOL.md §21): it is for a process, and signed by the
   * scheduler its source process names, which this node knows from the source's spawn (its
   * own record of a process it schedules, or the spawn item the pushing node sent along).
   */
  private admitPushed(arrival: Arrival, target: string): [string, string, number, number] {
    const { item, origin } = arrival;
    const from = origin!.process;
    let scheduler = this.known(from)?.scheduler;
    if (scheduler === undefined && arrival.source) {
      const source = arrival.source;
      if (source.id !== from) throw badRequest(`the spawn sent with pushed message ${item.id} is ${source.id}, not its From-Process ${from}`);
      if (tagValue(source.tags, 'Type') !== 'Process') throw badRequest(`the item sent as the spawn of ${from} is not a process (Type: ${tagValue(source.tags, 'Type') ?? 'none'})`);
      scheduler = tagValue(source.tags, 'Scheduler');
    }
    if (scheduler === undefined) {
      throw badRequest(`pushed message ${item.id} claims to come from process ${from}, which this node does not know: send it with that process's spawn item (POST /~scheduler@1.0/push)`);
    }
    if (scheduler !== item.ownerAddress) {
      throw new HyperError('forbidden', 'forbidden', `pushed message ${item.id} claims to come from process ${from}, but it is signed by ${item.ownerAddress} and that process is scheduled by ${scheduler}: only a process's scheduler sends its messages`);
    }
    // A pushed spawn is its own process (no target); a pushed message targets the process it is scheduled on.
    if (item.target !== (tagValue(item.tags, 'Type') === 'Process' ? undefined : target)) throw badRequest(`pushed message ${item.id} targets ${item.target}, not ${target}`);
    return pushKey(target, origin!);
  }

  private pushedAssignment(push: [string, string, number, number]): SignedAssignment | undefined {
    const slot = this.options.store.pushed.get(push);
    return slot === undefined ? undefined : this.assignment(push[0], slot);
  }

  private assignmentOf(pid: string, messageId: string): SignedAssignment | undefined {
    const slot = this.slotOf(pid, messageId);
    return slot === undefined ? undefined : this.assignment(pid, slot);
  }

  private head(pid: string): Head {
    let head = this.heads.get(pid);
    if (!head) {
      const last = this.stored.last(pid);
      head = last ? { next: last.slot + 1, link: fromB64url(last['hash-chain']), timestamp: last.timestamp } : { next: 0, timestamp: 0 };
      this.heads.set(pid, head);
    }
    return head;
  }

  /** The process an item belongs to; for a spawn, also the record to keep. */
  private resolveProcess(item: DataItem): { pid: string; record?: ProcessSpawn } {
    const type = tagValue(item.tags, 'Type');
    if (type === 'Process') {
      const module = tagValue(item.tags, 'Module');
      const scheduler = tagValue(item.tags, 'Scheduler');
      if (!isId(module)) throw badRequest(`a process needs a Module tag holding a module ID, got ${JSON.stringify(module ?? null)}`);
      if (!isId(scheduler)) throw badRequest(`a process needs a Scheduler tag holding a node address, got ${JSON.stringify(scheduler ?? null)}`);
      this.ensureLocal(scheduler, item.id);
      checkGasLimit(item);
      return { pid: item.id, record: { id: item.id, module, scheduler, owner: item.ownerAddress, tags: item.tags } };
    }
    if (!item.target) throw badRequest(`message ${item.id} has no target process`);
    const record = this.known(item.target);
    // `process` lets the HTTP edge look the process up elsewhere and redirect (gateway/devices/scheduler.ts).
    if (!record) throw notFound(`unknown process ${item.target}: spawn it first (a signed item with Type: Process)`, { process: item.target });
    this.ensureLocal(record.scheduler, item.target);
    return { pid: item.target };
  }

  /** A durable process record; kept once read (a record never changes), bounded like the heads' use. */
  private known(pid: string): ProcessSpawn | undefined {
    let record = this.records.get(pid);
    if (record === undefined) {
      record = this.options.store.processes.get(pid);
      if (record === undefined) return undefined;
      if (this.records.size >= RECORD_CACHE_LIMIT) this.records.clear();
      this.records.set(pid, record);
    }
    return record;
  }

  private ensureLocal(scheduler: string, pid: string): void {
    if (scheduler === this.options.address) return;
    const found = this.options.locate?.(scheduler);
    const peer = found?.url ?? this.options.peers?.[scheduler];
    if (peer) {
      throw new HyperError('redirect', 'redirect', `process ${pid} is scheduled by ${scheduler} at ${peer}`, {
        location: `${peer.replace(/\/+$/, '')}/~scheduler@1.0/schedule`,
        scheduler,
        ...(found?.record ? { record: found.record } : {}),
      });
    }
    throw notFound(`process ${pid} is scheduled by ${scheduler}, not by this node (${this.options.address}), and that scheduler's URL is unknown here`, { process: pid, scheduler });
  }
}

/** A spawn's Gas-Limit (each message's budget) is refused here, as a call's is, rather than at its first message. */
function checkGasLimit(spawn: DataItem): void {
  try {
    gasLimit([tagValue(spawn.tags, 'Gas-Limit')], Number.MAX_SAFE_INTEGER);
  } catch (error) {
    if (error instanceof HyperError) error.message = `process ${spawn.id} has a bad Gas-Limit tag (the gas budget of each of its messages): ${error.message}`;
    throw error;
  }
}

/** Parses and verifies a signed item, or says precisely why it is refused (400). */
export function readSigned(raw: Uint8Array): DataItem {
  const item = readItem(raw);
  if (!verifyDataItem(item)) throw badRequest(`the signature of data item ${item.id} does not verify`);
  return item;
}

/** Parses an item (400 where it is not one); its signature is checked apart (readSigned does both). */
function readItem(raw: Uint8Array): DataItem {
  try {
    return parseDataItem(raw);
  } catch (error) {
    if (error instanceof DataItemError) throw badRequest(`not a valid ANS-104 data item: ${error.message}`);
    throw error;
  }
}

/**
 * A signed item to schedule: readSigned, then the tags that say what it is (PROTOCOL.md §10).
 * Without them an item of another protocol, or a paid call or top-up posted to the wrong
 * route, would be taken for a message. The anchor is not required: replays are caught by
 * item ID (the same item gets its first assignment back), so an anchor only serves a client
 * that wants the same content twice as two messages (the bench sends none).
 */
export function readMessage(raw: Uint8Array): DataItem {
  const item = readSigned(raw);
  checkScheduled(item);
  return item;
}

/** readMessage's tag checks, on an item whose signature verified. */
function checkScheduled(item: DataItem): void {
  const refuse = (tag: string, expected: string) => {
    const value = tagValue(item.tags, tag);
    const found = value === undefined ? `has no ${tag} tag` : `has ${tag}: ${JSON.stringify(value)}`;
    return badRequest(`data item ${item.id} ${found}; a scheduled item needs ${expected}`, { tag });
  };
  const protocol = tagValue(item.tags, 'Data-Protocol');
  const variants = protocol === undefined ? undefined : SCHEDULED_PROTOCOLS.get(protocol);
  if (!variants) throw refuse('Data-Protocol', [...SCHEDULED_PROTOCOLS.keys()].map((p) => `Data-Protocol: ${p}`).join(' or '));
  if (!variants.includes(tagValue(item.tags, 'Variant') ?? '')) throw refuse('Variant', variants.map((v) => `Variant: ${v}`).join(' or '));
  const type = tagValue(item.tags, 'Type');
  if (!(SCHEDULED_TYPES as readonly string[]).includes(type ?? '')) throw refuse('Type', 'Type: Process (a spawn) or Type: Message (to the process its target names)');
}
