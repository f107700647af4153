// The read side of the scheduler: a process's durable schedule as a ScheduleReader (what the
// fold reads, once per slot), over the store alone, so a worker thread with its own LMDB handle
// reads the same schedule the scheduling thread writes. Assignments are read from their stored
// bytes by readAssignmentBytes (no generic DataItem): the same SignedAssignment, id and raw included.
import { readAssignmentBytes, type SignedAssignment } from './protocol/assignment.ts';
import type { ScheduleReader } from './processes/fold.ts';
import type { ProcessSpawn, StoreView } from './store.ts';

export type ScheduleStore = StoreView<'assignments' | 'messages' | 'processes'>;

export class StoredSchedule implements ScheduleReader {
  constructor(private readonly store: ScheduleStore) {}

  process(pid: string): ProcessSpawn | undefined {
    return this.store.processes.get(pid);
  }

  /** The latest durable slot of a process, or undefined for an unknown one. */
  currentSlot(pid: string): number | undefined {
    return this.last(pid)?.slot;
  }

  assignment(pid: string, slot: number): SignedAssignment | undefined {
    const raw = this.store.assignments.get([pid, slot]);
    return raw ? readAssignmentBytes(raw) : undefined;
  }

  message(id: string): Uint8Array | undefined {
    return this.store.messages.get(id);
  }

  /** Assignments from..to inclusive with their messages, at most `limit`. */
  range(pid: string, from: number, to: number, limit: number): { assignment: SignedAssignment; message: Uint8Array }[] {
    const out = [];
    for (const { value } of this.store.assignments.getRange({ start: [pid, from], end: [pid, to + 1], limit })) {
      const assignment = readAssignmentBytes(value);
      out.push({ assignment, message: this.store.messages.get(assignment.message)! });
    }
    return out;
  }

  /** The latest durable assignment of a process. */
  last(pid: string): SignedAssignment | undefined {
    for (const { value } of this.store.assignments.getRange({ start: [pid, Number.MAX_SAFE_INTEGER], end: [pid, -1], reverse: true, limit: 1 })) {
      return readAssignmentBytes(value);
    }
    return undefined;
  }
}
