// The delivery ledger: one durable entry per outgoing message of every process this node
// schedules, written in the same LMDB transaction as the slot's record (engine/processes/keep.ts),
// so a crash can never lose a message a process emitted, nor emit one twice. An entry leaves
// `pending` only on a durable answer: the target's scheduler assigned it (`delivered`, with the
// slot it got), or no scheduler knows the target as a process (`account`: a wallet address,
// like a token's Debit-Notice to a person), or the handler's entry could not be sent at all
// (`invalid`, with the reason). Nothing is ever dropped: a dead target stays pending, visibly.
import type { SlotRecord } from '../protocol/record.ts';
import { readOutboxMessage, type OutboxMessage } from '../protocol/pushed.ts';
import type { EntryKey, StoreView } from '../store.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'account' | 'invalid';

export interface DeliveryEntry {
  status: DeliveryStatus;
  /** The target as the handler named it (absent when the entry has none). */
  target?: string;
  /** The message to send, as checked (absent when invalid). */
  message?: OutboxMessage;
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

/** The entries a slot's record gives rise to, by key (a record without messages gives none). */
export function entriesOf(record: SlotRecord, now: number): { key: EntryKey; entry: DeliveryEntry }[] {
  const base = { record: record.hashpath, pushedFor: record.message, createdAt: now, attempts: 0 };
  const { messages } = record;
  if (messages === null || (Array.isArray(messages) && messages.length === 0)) return [];
  if (!Array.isArray(messages)) return [{ key: [record.process, record.slot, 0], entry: { ...base, status: 'invalid', invalid: 'handle\'s "messages" must be an array' } }];
  return messages.map((raw, index) => {
    const key: EntryKey = [record.process, record.slot, index];
    const read = readOutboxMessage(raw);
    if ('invalid' in read) return { key, entry: { ...base, status: 'invalid', invalid: read.invalid } };
    return { key, entry: { ...base, status: 'pending', target: read.target, message: read } };
  });
}

/** Puts a slot's entries; call inside the transaction that keeps the record. */
export function putEntries(store: StoreView<'deliveries' | 'undelivered'>, entries: { key: EntryKey; entry: DeliveryEntry }[]): void {
  for (const { key, entry } of entries) {
    store.deliveries.put(key, entry);
    if (entry.status === 'pending') store.undelivered.put(key, entry.target!);
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
