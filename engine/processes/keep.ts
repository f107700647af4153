// What a fold leaves behind: every slot's record cached by its hashpath, snapshots every K
// slots, and, on a node, the records' attestations and the snapshots' signed checkpoints, all
// in one LMDB transaction per part of a fold (per-put overhead would otherwise cost more than
// evaluating a small message). A record is readable from memory until it is committed, so it
// is never folded twice, and an answer never names an attestation that a crash could lose.
//
// In two steps, so the costly one runs where the fold ran: `prepare` signs and encodes (in a
// fold worker, on its core), `write` commits (on the main thread, the one writer). `keep` is
// both, on one thread.
import { utf8 } from '../protocol/encoding.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { processStatement } from '../protocol/statement.ts';
import type { AttestPort } from '../attestations.ts';
import { keepBatch, OutboxKind, type EntryKey, type StoreView } from '../store.ts';
import { entriesOf, putEntries, type DeliveryEntry } from '../delivery/ledger.ts';

/** A folded slot: its record, and its snapshot when one is due. */
export interface SlotResult {
  record: SlotRecord;
  snapshot?: Uint8Array;
}

/** A part of a fold signed and encoded, ready to commit: plain data, so it can cross threads. */
export interface PreparedSlots {
  pid: string;
  /** The slots to write (those not kept before), with their records' bytes. */
  slots: { slot: number; hashpath: string; body: Uint8Array; snapshot?: Uint8Array }[];
  /** Signed attestation batch items, each with its outbox seq (its first slot). */
  batches: { seq: number; id: string; raw: Uint8Array }[];
  /** Signed checkpoint items, by slot. */
  checkpoints: { slot: number; raw: Uint8Array }[];
  /** The answer of every slot of the part, in order: written now, or kept before. */
  bodies: Uint8Array[];
  /** The outgoing messages of the slots written, for the deliverer (only where this node schedules the process). */
  deliveries: { key: EntryKey; entry: DeliveryEntry }[];
}

export class SlotKeeper {
  /** Records folded but not yet committed, by "pid/slot": readable meanwhile, never recomputed. */
  private readonly committing = new Map<string, Uint8Array>();

  constructor(
    private readonly store: StoreView<'results' | 'processResults' | 'snapshots' | 'outbox' | 'attestations' | 'processes' | 'deliveries' | 'undelivered'>,
    /** Attest records and sign checkpoints; without it records are only cached (verifiers). */
    private readonly attest?: AttestPort,
    /** Called once a fold's writes are committed (to kick the publisher, and hand the deliverer the new outgoing messages). */
    private readonly onWrite?: (deliveries: PreparedSlots['deliveries']) => void,
  ) {}

  /** The record at a slot as stored (JSON bytes), if it was folded before. */
  cached(pid: string, slot: number): Uint8Array | undefined {
    const committing = this.committing.get(`${pid}/${slot}`);
    if (committing) return committing;
    const path = this.store.processResults.get([pid, slot]);
    return path === undefined ? undefined : this.store.results.get(path);
  }

  /** The nearest snapshot of a process at or before `slot`. */
  readonly snapshot = (pid: string, slot: number): Uint8Array | undefined => {
    for (const { value } of this.store.snapshots.getRange({ start: [pid, slot], end: [pid, -1], reverse: true, limit: 1 })) return value;
    return undefined;
  };

  /** prepare, then write: resolves, once durable, with the records' bytes. */
  keep(folded: SlotResult[]): Promise<Uint8Array[]> {
    return this.write(this.prepare(folded));
  }

  /**
   * Signs a part of a fold in attestation batches and encodes it. A slot kept before (a fold
   * that resumed from a snapshot below what was kept: after a restart, a lost worker) is
   * neither written nor attested again: its record is the same bytes, its answer the one kept.
   */
  prepare(folded: SlotResult[]): PreparedSlots {
    const pid = folded[0].record.process;
    const before = this.lastKept(pid);
    const kept = new Map<number, Uint8Array>();
    for (const { record } of folded) {
      if (record.slot > before) break;
      const body = this.cached(pid, record.slot);
      if (body) kept.set(record.slot, body);
    }
    const results = kept.size === 0 ? folded : folded.filter((r) => !kept.has(r.record.slot));
    const { attest } = this;
    const signed = results.length === 0 || !attest ? [] : attest.sign(results.map((r) => processStatement(r.record, attest.address)));
    const batches: PreparedSlots['batches'] = [];
    let first = 0;
    for (const batch of signed) {
      // A batch's outbox seq is its first slot, so a process's attestations come out in slot order.
      batches.push({ seq: results[first].record.slot, id: batch.item.id, raw: batch.item.raw });
      batch.attestations.forEach((attestation, i) => (results[first + i].record.attestation = attestation));
      first += batch.attestations.length;
    }
    const slots = results.map(({ record, snapshot }) => ({ slot: record.slot, hashpath: record.hashpath, body: utf8(JSON.stringify(record)), snapshot }));
    const checkpoints = attest ? results.filter((r) => r.snapshot).map((r) => ({ slot: r.record.slot, raw: attest.checkpoint(r.record, r.snapshot!).raw })) : [];
    let next = 0;
    const bodies = folded.map((r) => kept.get(r.record.slot) ?? slots[next++].body);
    // The scheduler of a process delivers its messages; a node that only computes it does not.
    const delivers = attest !== undefined && this.store.processes.get(pid)?.scheduler === attest.address;
    const now = Date.now();
    const deliveries = delivers ? results.flatMap((r) => entriesOf(r.record, now)) : [];
    return { pid, slots, batches, checkpoints, bodies, deliveries };
  }

  /** Commits a prepared part in one transaction; resolves, once durable, with its answers. */
  async write(prepared: PreparedSlots): Promise<Uint8Array[]> {
    const { store } = this;
    const { pid, slots, batches, checkpoints } = prepared;
    if (slots.length === 0) return prepared.bodies;
    const keys = slots.map(({ slot }) => `${pid}/${slot}`);
    keys.forEach((key, i) => this.committing.set(key, slots[i].body));
    try {
      await store.transaction(() => {
        for (const { slot, hashpath, body, snapshot } of slots) {
          store.results.put(hashpath, body);
          store.processResults.put([pid, slot], hashpath);
          if (snapshot) store.snapshots.put([pid, slot], snapshot);
        }
        for (const batch of batches) keepBatch(store, { item: batch }, pid, batch.seq);
        for (const checkpoint of checkpoints) store.outbox.put([pid, checkpoint.slot, OutboxKind.Checkpoint], checkpoint.raw);
        putEntries(store, prepared.deliveries);
      });
    } finally {
      for (const key of keys) this.committing.delete(key);
    }
    this.onWrite?.(prepared.deliveries);
    return prepared.bodies;
  }

  /** The highest slot of a process kept so far (-1: none). */
  private lastKept(pid: string): number {
    for (const { key } of this.store.processResults.getRange({ start: [pid, Number.MAX_SAFE_INTEGER], end: [pid, -1], reverse: true, limit: 1 })) return key[1];
    return -1;
  }
}
