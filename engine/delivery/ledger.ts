// The delivery ledger: one durable entry per outgoing message of every process this node
// schedules, written in the same LMDB transaction as the slot's record (engine/processes/keep.ts),
// so a crash can never lose a message a process emitted, nor emit one twice. An entry leaves
// `pending` only on a durable answer: the target's scheduler assigned it (`delivered`, with the
// slot it got), or no scheduler knows the target as a process (`account`: a wallet address,
// like a token's Debit-Notice to a person), or the handler's entry could not be sent at all
// (`invalid`, with the reason). Nothing is ever dropped: a dead target stays pending, visibly.
import type { SlotRecord } from '../protocol/record.ts';
import { readOutboxMessage, readOutboxSpawn, type OutboxMessage, type OutboxSpawn } from '../protocol/pushed.ts';
import type { EntryKey, StoreView } from '../store.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'account' | 'invalid';

export interface DeliveryEntry {
  status: DeliveryStatus;
  /** The target as the handler named it (absent when the entry has none). */
  target?: string;
  /** The message to send, as checked (absent when invalid, and for a spawn). */
  message?: OutboxMessage;
  /** A process to start, as checked: its target, once started, is the new process's ID. */
  spawn?: OutboxSpawn;
  /** The source record's hashpath and the message it was handling (the pushed item's From-Record and Pushed-For). */
  record: string;
  pushedFor: string;
  /** When the slot was kept (ms), for the oldest pending age. */
  createdAt: number;
  attempts: number;
  /** Why the last attempt failed, and when the next one is due (ms). */
  lastError?: string;
  nextAt?: number;
  /** Why it can never be sent (invalid). */
  invalid?: string;
  /** Once delivered: the pushed item's ID, the slot and assignment it got, and which scheduler assigned it. */
  item?: string;
  slot?: number;
  assignment?: string;
  scheduler?: string;
  settledAt?: number;
}

/** What an entry waits on in the work list: its target, or `spawn` (a new process's ID is not known before it is signed). */
export const workTarget = (entry: DeliveryEntry): string => (entry.spawn ? 'spawn' : entry.target!);

/**
 * The entries a slot's record gives rise to, by key: its `messages`, then its `spawns`, their
 * indexes running on after the messages'. A failed slot (`error`) sends nothing.
 */
export function entriesOf(record: SlotRecord, now: number): { key: EntryKey; entry: DeliveryEntry }[] {
  if (record.error !== undefined) return [];
  const base = { record: record.hashpath, pushedFor: record.message, createdAt: now, attempts: 0 };
  const list = (value: unknown, name: string) => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [{ notAnArray: name }]);
  const messages = list(record.messages, 'messages');
  const spawns = list(record.spawns, 'spawns');
  const entries: { key: EntryKey; entry: DeliveryEntry }[] = [];
  [...messages, ...spawns].forEach((raw, index) => {
    const key: EntryKey = [record.process, record.slot, index];
    const bad = raw && typeof raw === 'object' && 'notAnArray' in raw ? `handle's "${(raw as { notAnArray: string }).notAnArray}" must be an array` : undefined;
    if (bad) return entries.push({ key, entry: { ...base, status: 'invalid', invalid: bad } });
    if (index >= messages.length) {
      const spawn = readOutboxSpawn(raw as SlotRecord['messages']);
      if ('invalid' in spawn) return entries.push({ key, entry: { ...base, status: 'invalid', invalid: spawn.invalid } });
      return entries.push({ key, entry: { ...base, status: 'pending', spawn } });
    }
    const read = readOutboxMessage(raw as SlotRecord['messages']);
    if ('invalid' in read) return entries.push({ key, entry: { ...base, status: 'invalid', invalid: read.invalid } });
    return entries.push({ key, entry: { ...base, status: 'pending', target: read.target, message: read } });
  });
  return entries;
}

/** Puts a slot's entries; call inside the transaction that keeps the record. */
export function putEntries(store: StoreView<'deliveries' | 'undelivered'>, entries: { key: EntryKey; entry: DeliveryEntry }[]): void {
  for (const { key, entry } of entries) {
    store.deliveries.put(key, entry);
    if (entry.status === 'pending') store.undelivered.put(key, workTarget(entry));
  }
}

/** A process's entries from slot `from` on, in (slot, index) order, at most `limit`. */
export function entriesFrom(store: StoreView<'deliveries'>, pid: string, from: number, limit: number): { slot: number; index: number; entry: DeliveryEntry }[] {
  const out = [];
  for (const { key, value } of store.deliveries.getRange({ start: [pid, from, 0], end: [pid, Number.MAX_SAFE_INTEGER, 0], limit })) {
    out.push({ slot: key[1], index: key[2], entry: value });
  }
  return out;
}
