// Any node computes any process: a node that does not schedule a process copies its schedule
// from the node that does, checks every piece as a verifier would — the spawn's signature and
// ID, each assignment signed by the process's scheduler, slots contiguous from 0, the
// hash-chain recomputed, each message matching its ID and signature — and keeps it in its own
// store, where the fold reads it like any schedule. The results it then folds are its own,
// attested with its own key; it delivers none of the process's messages (its scheduler does).
// Nothing unchecked is kept: a page that fails a check stops the copy there, with the reason.
import { parseDataItem, verifyDataItem } from './protocol/ans104/data-item.ts';
import { readAssignment, type SignedAssignment } from './protocol/assignment.ts';
import { b64url, fromB64url } from './protocol/encoding.ts';
import { HyperError, notFound, unprocessable } from './protocol/errors.ts';
import { nextLink } from './protocol/hash-chain.ts';
import { tagValue } from './protocol/vocabulary.ts';
import type { ProcessSpawn, StoreView } from './store.ts';
import { StoredSchedule } from './schedule.ts';

/** A page of another scheduler's schedule: assignments with their message items, raw. */
export interface SchedulePage {
  assignments: { assignment: Uint8Array; message: Uint8Array }[];
  /** The next slot to ask for, when the schedule goes on. */
  next?: number;
}

/** The effects a mirror needs: where a process is scheduled, and pages of its schedule from there. */
export interface MirrorPorts {
  locate(pid: string): Promise<{ scheduler: string; url: string } | undefined>;
  page(url: string, pid: string, from: number): Promise<SchedulePage>;
}

export interface MirrorOptions {
  store: StoreView<'assignments' | 'messages' | 'slots' | 'processes'>;
  /** This node's address: a process it schedules is never mirrored. */
  address: string;
  ports: MirrorPorts;
}

export class Mirror {
  /** One copy per process at a time; a request during it waits for the same copy. */
  private readonly syncing = new Map<string, Promise<number>>();
  /** What has been copied so far, read as the fold reads it. */
  private readonly schedule: StoredSchedule;

  constructor(private readonly options: MirrorOptions) {
    this.schedule = new StoredSchedule(options.store);
  }

  /** Whether the process is one this node copies (known, scheduled elsewhere). */
  mirrors(pid: string): boolean {
    const record = this.options.store.processes.get(pid);
    return record !== undefined && record.scheduler !== this.options.address;
  }

  /** Copies what is new in the process's schedule; resolves with its latest slot here. 404 where no scheduler can be found. */
  sync(pid: string): Promise<number> {
    let running = this.syncing.get(pid);
    if (!running) {
      running = this.copy(pid).finally(() => this.syncing.delete(pid));
      this.syncing.set(pid, running);
    }
    return running;
  }

  private async copy(pid: string): Promise<number> {
    const { store } = this.options;
    const known = store.processes.get(pid);
    if (known?.scheduler === this.options.address) throw new Error(`process ${pid} is scheduled here, not mirrored`);
    const where = await this.options.ports.locate(pid);
    if (!where) throw notFound(`unknown process ${pid}: no scheduler this node can find schedules it (asked its own store, the gateway's index and the schedulers it knows)`);
    let head = this.schedule.last(pid);
    let from = head ? head.slot + 1 : 0;
    for (;;) {
      const page = await this.options.ports.page(where.url, pid, from);
      if (page.assignments.length === 0) break;
      const checked: { assignment: SignedAssignment; message: Uint8Array; spawn?: ProcessSpawn }[] = [];
      for (const entry of page.assignments) {
        const next = this.check(pid, where.scheduler, head, entry.assignment, entry.message);
        checked.push(next);
        head = next.assignment;
      }
      await store.transaction(() => {
        for (const { assignment, message, spawn } of checked) {
          if (spawn) store.processes.put(pid, spawn);
          store.messages.put(assignment.message, message);
          store.assignments.put([pid, assignment.slot], assignment.raw);
          store.slots.put([pid, assignment.message], assignment.slot);
        }
      });
      if (page.next === undefined) break;
      from = page.next;
    }
    if (!head) throw notFound(`process ${pid} has no schedule at its scheduler ${where.scheduler} (${where.url})`);
    return head.slot;
  }

  /** One assignment and its message, checked against the one before; the spawn's record with slot 0. */
  private check(pid: string, scheduler: string, before: SignedAssignment | undefined, rawAssignment: Uint8Array, rawMessage: Uint8Array) {
    const refuse = (why: string) => unprocessable(`the schedule of ${pid} from its scheduler ${scheduler} fails a check: ${why}; nothing after slot ${before?.slot ?? -1} is kept`);
    const item = parseDataItem(rawAssignment);
    if (!verifyDataItem(item)) throw refuse(`the assignment ${item.id} has a bad signature`);
    const assignment = readAssignment(item);
    const slot = (before?.slot ?? -1) + 1;
    if (assignment.signer !== scheduler) throw refuse(`slot ${assignment.slot} is signed by ${assignment.signer}, not by the scheduler`);
    if (assignment.process !== pid || assignment.slot !== slot) throw refuse(`expected slot ${slot} of ${pid}, got slot ${assignment.slot} of ${assignment.process}`);
    const link = nextLink(before ? fromB64url(before['hash-chain']) : undefined, assignment.message);
    if (b64url(link) !== assignment['hash-chain']) throw refuse(`slot ${slot}'s hash-chain is not sha256(previous ‖ message ID)`);
    const message = parseDataItem(rawMessage);
    if (message.id !== assignment.message || !verifyDataItem(message)) throw refuse(`slot ${slot}'s message does not match its ID ${assignment.message} or its signature`);
    if (slot > 0) return { assignment, message: rawMessage };
    // Slot 0 is the spawn: it names its module and this very scheduler.
    const module = tagValue(message.tags, 'Module');
    if (message.id !== pid || tagValue(message.tags, 'Type') !== 'Process' || !module) throw refuse('slot 0 is not the process\'s own spawn item');
    if (tagValue(message.tags, 'Scheduler') !== scheduler) throw refuse(`the spawn names ${tagValue(message.tags, 'Scheduler')} as its scheduler, not ${scheduler}`);
    const spawn: ProcessSpawn = { id: pid, module, scheduler, owner: message.ownerAddress, tags: message.tags };
    return { assignment, message: rawMessage, spawn };
  }
}

/** Whether an error means "not found anywhere" (a 404 the caller passes on) rather than a fault. */
export const isUnknown = (error: unknown): boolean => error instanceof HyperError && error.kind === 'not-found';
