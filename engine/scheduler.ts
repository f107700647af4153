// The scheduler: gives each message of a process the next slot, links it into the
// process's hash-chain, signs the assignment, and answers only once message and assignment
// are committed to LMDB (with their outbox entries, in the same transaction).
//
// One writer per process comes from JavaScript itself: everything from reading the head
// of a process to building the assignment runs synchronously, so two requests can never
// take the same slot; different processes interleave freely, and their writes share LMDB
// commits. Slots are contiguous because commits are applied in order; a head is reloaded
// from what is durable whenever a commit fails.
import { badRequest, HyperError, notFound } from './protocol/errors.ts';
import { createDataItem, parseDataItem, verifyDataItem, type DataItem, type Ed25519Signer } from './protocol/ans104/data-item.ts';
import { DataItemError } from './protocol/ans104/avro-tags.ts';
import { readAssignment, type SignedAssignment } from './protocol/assignment.ts';
import { nextLink } from './protocol/hash-chain.ts';
import { b64url, fromB64url, isId } from './protocol/encoding.ts';
import { OutboxKind, type ProcessSpawn, type StoreView } from './store.ts';
import { gasLimit } from './wasm/gas.ts';
import { assignmentTags, SCHEDULED_PROTOCOLS, SCHEDULED_TYPES, tagValue } from './protocol/vocabulary.ts';

export interface SchedulerOptions {
  store: StoreView<'assignments' | 'messages' | 'outbox' | 'processes' | 'slots'>;
  signer: Ed25519Signer;
  /** This node's address: processes whose Scheduler tag names it are scheduled here. */
  address: string;
  /** The Arweave block height the node last saw. */
  blockHeight: () => number;
  /** Other schedulers' URLs by address, for redirects. */
  peers?: Record<string, string>;
  /** Called after items were added to the outbox. */
  onWrite?: () => void;
  clock?: () => number;
}

interface Head {
  next: number;
  link?: Uint8Array;
  timestamp: number;
}

export class Scheduler {
  private readonly heads = new Map<string, Head>();
  private readonly pending = new Map<string, Promise<SignedAssignment>>();

  constructor(private readonly options: SchedulerOptions) {}

  /** Verifies a signed item and assigns it; resolves when the assignment is durable. */
  schedule(raw: Uint8Array): Promise<SignedAssignment> {
    const item = readMessage(raw);
    const { pid, record } = this.resolveProcess(item);
    const key = `${pid}/${item.id}`;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const existing = this.assignmentOf(pid, item.id);
    if (existing) return Promise.resolve(existing);

    const head = this.head(pid);
    if (record && head.next !== 0) throw badRequest(`process ${pid} already exists`);
    if (!record && head.next === 0) throw notFound(`unknown process ${pid}`);
    const slot = head.next;
    const link = nextLink(head.link, item.id);
    const timestamp = Math.max((this.options.clock ?? Date.now)(), head.timestamp);
    const fields = { process: pid, slot, message: item.id, 'hash-chain': b64url(link), timestamp, 'block-height': this.options.blockHeight() };
    const signed = createDataItem(this.options.signer, { target: pid, tags: assignmentTags(fields), data: '' });
    const assignment: SignedAssignment = { ...fields, id: signed.id, signer: this.options.address, raw: signed.raw };
    head.next = slot + 1;
    head.link = link;
    head.timestamp = timestamp;

    const { store } = this.options;
    const durable = store
      .transaction(() => {
        // The slot must extend what is durable: if an earlier commit of this process failed,
        // writes queued behind it abort here instead of leaving a gap or overwriting a slot.
        if (store.assignments.get([pid, slot]) !== undefined || (slot > 0 && store.assignments.get([pid, slot - 1]) === undefined)) {
          throw new Error(`slot ${slot} of ${pid} no longer extends the durable schedule`);
        }
        store.messages.put(item.id, raw);
        store.assignments.put([pid, slot], signed.raw);
        store.slots.put([pid, item.id], slot);
        if (record) store.processes.put(pid, record);
        store.outbox.put([pid, slot, OutboxKind.Message], raw);
        store.outbox.put([pid, slot, OutboxKind.Assignment], signed.raw);
      })
      .then(
        () => {
          this.pending.delete(key);
          this.options.onWrite?.();
          return assignment;
        },
        (error) => {
          this.pending.delete(key);
          this.heads.delete(pid); // reload from what is durable
          throw error;
        },
      );
    this.pending.set(key, durable);
    return durable;
  }

  process(pid: string): ProcessSpawn | undefined {
    return this.options.store.processes.get(pid);
  }

  /** The latest durable slot of a process, or undefined for an unknown one. */
  currentSlot(pid: string): number | undefined {
    const last = this.lastAssignment(pid);
    return last?.slot;
  }

  assignment(pid: string, slot: number): SignedAssignment | undefined {
    const raw = this.options.store.assignments.get([pid, slot]);
    return raw ? readAssignment(parseDataItem(raw)) : undefined;
  }

  message(id: string): Uint8Array | undefined {
    return this.options.store.messages.get(id);
  }

  /** Assignments from..to inclusive with their messages, at most `limit`. */
  range(pid: string, from: number, to: number, limit: number): { assignment: SignedAssignment; message: Uint8Array }[] {
    const { store } = this.options;
    const out = [];
    for (const { value } of store.assignments.getRange({ start: [pid, from], end: [pid, to + 1], limit })) {
      const assignment = readAssignment(parseDataItem(value));
      out.push({ assignment, message: store.messages.get(assignment.message)! });
    }
    return out;
  }

  private assignmentOf(pid: string, messageId: string): SignedAssignment | undefined {
    const slot = this.options.store.slots.get([pid, messageId]);
    return slot === undefined ? undefined : this.assignment(pid, slot);
  }

  private lastAssignment(pid: string): SignedAssignment | undefined {
    for (const { value } of this.options.store.assignments.getRange({ start: [pid, Number.MAX_SAFE_INTEGER], end: [pid, -1], reverse: true, limit: 1 })) {
      return readAssignment(parseDataItem(value));
    }
    return undefined;
  }

  private head(pid: string): Head {
    let head = this.heads.get(pid);
    if (!head) {
      const last = this.lastAssignment(pid);
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
    const record = this.options.store.processes.get(item.target);
    if (!record) throw notFound(`unknown process ${item.target}: spawn it first (a signed item with Type: Process)`);
    this.ensureLocal(record.scheduler, item.target);
    return { pid: item.target };
  }

  private ensureLocal(scheduler: string, pid: string): void {
    if (scheduler === this.options.address) return;
    const peer = this.options.peers?.[scheduler];
    if (peer) throw new HyperError('redirect', 'redirect', `process ${pid} is scheduled by ${scheduler} at ${peer}`, { location: `${peer.replace(/\/+$/, '')}/~scheduler@1.0/schedule` });
    throw notFound(`process ${pid} is scheduled by ${scheduler}, not by this node (${this.options.address}), and that scheduler's URL is unknown here`);
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
  let item: DataItem;
  try {
    item = parseDataItem(raw);
  } catch (error) {
    if (error instanceof DataItemError) throw badRequest(`not a valid ANS-104 data item: ${error.message}`);
    throw error;
  }
  if (!verifyDataItem(item)) throw badRequest(`the signature of data item ${item.id} does not verify`);
  return item;
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
  return item;
}
