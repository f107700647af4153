// What a fold leaves behind: every slot's record cached by its hashpath, snapshots every K
// slots, and, on a node, the records' attestations and the snapshots' signed checkpoints, all
// in one LMDB transaction per fold (per-put overhead would otherwise cost more than evaluating
// a small message). A record is readable from memory until it is committed, so it is never
// folded twice, and an answer never names an attestation that a crash could lose.
import { utf8 } from '../protocol/encoding.ts';
import type { SlotRecord } from '../protocol/record.ts';
import { processStatement } from '../protocol/statement.ts';
import { tagValue } from '../protocol/vocabulary.ts';
import type { AttestPort } from '../attestations.ts';
import { keepBatch, OutboxKind, type StoreView } from '../store.ts';

/** A folded slot: its record, and its snapshot when one is due. */
export interface SlotResult {
  record: SlotRecord;
  snapshot?: Uint8Array;
}

export class SlotKeeper {
  /** Records folded but not yet committed, by "pid/slot": readable meanwhile, never recomputed. */
  private readonly committing = new Map<string, Uint8Array>();

  constructor(
    private readonly store: StoreView<'results' | 'processResults' | 'snapshots' | 'outbox' | 'attestations'>,
    /** Attest records and sign checkpoints; without it records are only cached (verifiers). */
    private readonly attest?: AttestPort,
    /** Called once a fold's writes are committed (to kick the publisher). */
    private readonly onWrite?: () => void,
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

  /**
   * Attests a fold's results in batches and writes everything in one transaction; resolves,
   * once durable, with the records' bytes. A slot kept before (a fold that resumed from a
   * snapshot below what was kept: after a restart, a lost worker) is neither kept nor attested
   * again: its record is the same bytes, and its answer is the one kept.
   */
  async keep(folded: SlotResult[]): Promise<Uint8Array[]> {
    const pid = folded[0].record.process;
    const before = this.lastKept(pid);
    const kept = new Map<number, Uint8Array>();
    for (const { record } of folded) {
      if (record.slot > before) break;
      const body = this.cached(pid, record.slot);
      if (body) kept.set(record.slot, body);
    }
    const results = kept.size === 0 ? folded : folded.filter((r) => !kept.has(r.record.slot));
    const bodies = results.length === 0 ? [] : await this.write(pid, results);
    if (kept.size === 0) return bodies;
    let next = 0;
    return folded.map((r) => kept.get(r.record.slot) ?? bodies[next++]);
  }

  /** The highest slot of a process kept so far (-1: none). */
  private lastKept(pid: string): number {
    for (const { key } of this.store.processResults.getRange({ start: [pid, Number.MAX_SAFE_INTEGER], end: [pid, -1], reverse: true, limit: 1 })) return key[1];
    return -1;
  }

  private async write(pid: string, results: SlotResult[]): Promise<Uint8Array[]> {
    const { store, attest } = this;
    const batches = attest?.sign(results.map((r) => processStatement(r.record, attest.address))) ?? [];
    batches.flatMap((b) => b.attestations).forEach((attestation, i) => (results[i].record.attestation = attestation));
    const bodies = results.map((r) => utf8(JSON.stringify(r.record)));
    const checkpoints = attest ? results.filter((r) => r.snapshot).map((r) => attest.checkpoint(r.record, r.snapshot!)) : [];
    const keys = results.map(({ record }) => `${pid}/${record.slot}`);
    keys.forEach((key, i) => this.committing.set(key, bodies[i]));
    try {
      await store.transaction(() => {
        results.forEach(({ record, snapshot }, i) => {
          store.results.put(record.hashpath, bodies[i]);
          store.processResults.put([pid, record.slot], record.hashpath);
          if (snapshot) store.snapshots.put([pid, record.slot], snapshot);
        });
        // A batch's outbox seq is its first slot, so a process's attestations come out in slot order.
        let first = 0;
        for (const batch of batches) {
          keepBatch(store, batch, pid, results[first].record.slot);
          first += batch.attestations.length;
        }
        for (const checkpoint of checkpoints) store.outbox.put([pid, Number(tagValue(checkpoint.tags, 'Slot')), OutboxKind.Checkpoint], checkpoint.raw);
      });
    } finally {
      for (const key of keys) this.committing.delete(key);
    }
    this.onWrite?.();
    return bodies;
  }
}
