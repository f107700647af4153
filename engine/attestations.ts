// The engine's one port for attestation, and how the engine keeps what is signed. The node's
// signer (attest/attester.ts) implements the port and keeps nothing; the engine writes each
// signed batch inside the same LMDB transaction as what it vouches for (a stateless result, a
// fold's slots, a paid call's receipt and balances). So an answer never names an attestation a
// crash could lose, and nothing is durable without the attestation it was answered with.
import type { DataItem } from './protocol/ans104/data-item.ts';
import type { Attestation, SignedBatch } from './protocol/attestation.ts';
import type { SlotRecord } from './protocol/record.ts';
import type { Statement } from './protocol/statement.ts';
import { COMPUTE_GROUP, keepBatch, type StoreView } from './store.ts';

/** How the engine has statements signed: the node's key, behind this port. */
export interface AttestPort {
  /** The signing node's address: every statement names it. */
  readonly address: string;
  /** Signs statements in batches (engine/protocol/attestation.ts); keeps nothing. */
  sign(statements: Statement[]): SignedBatch[];
  /** A signed checkpoint item carrying a process snapshot, so others can resume from it. */
  checkpoint(record: SlotRecord, snapshot: Uint8Array): DataItem;
}

/** A signed attestation not kept yet: `keep()` it inside the transaction that stores what it vouches for. */
export interface PendingAttestation {
  attestation: Attestation;
  keep(): void;
}

interface Queued {
  statement: Statement;
  write: (attestation: Attestation) => void;
  resolve: (attestation: Attestation) => void;
  reject: (error: unknown) => void;
}

/**
 * Attestations of stateless results and paid-call receipts: one outbox group (COMPUTE_GROUP),
 * one sequence. A group commit: one batch is signed and committed at a time, and everything
 * queued meanwhile (the results of that turn, or of every turn while the previous commit was
 * flushing) shares the next batch, signature and transaction, so under load the durable
 * flush is paid once for many answers instead of once per turn.
 */
export class Attestations {
  private queue: Queued[] = [];
  private seq = Date.now() * 1000;
  /** A batch is being signed and committed; what arrives meanwhile waits for the next. */
  private flushing = false;

  constructor(private readonly store: StoreView<'attestations' | 'outbox'>, readonly port: AttestPort, private readonly onWrite?: () => void) {}

  get address(): string {
    return this.port.address;
  }

  /** Queues a statement; resolves once its batch is durable, `write(attestation)` having run in the same transaction. */
  attest(statement: Statement, write: (attestation: Attestation) => void = () => {}): Promise<Attestation> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ statement, write, resolve, reject }) === 1 && !this.flushing) setImmediate(() => void this.flush());
    });
  }

  /** Signs one statement now (a receipt, whose charge must not wait for a batch); the caller keeps it. */
  signNow(statement: Statement): PendingAttestation {
    const [batch] = this.port.sign([statement]);
    return { attestation: batch.attestations[0], keep: () => keepBatch(this.store, batch, COMPUTE_GROUP, this.seq++) };
  }

  /** Says that kept attestations are committed (the publisher picks them up). */
  committed(): void {
    this.onWrite?.();
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const queue = this.queue;
    this.queue = [];
    try {
      await this.commit(queue);
    } finally {
      this.flushing = false;
      // What queued while this batch committed goes next, in one batch, after this turn's arrivals.
      if (this.queue.length > 0) setImmediate(() => void this.flush());
    }
  }

  private async commit(queue: Queued[]): Promise<void> {
    try {
      const batches = this.port.sign(queue.map((q) => q.statement));
      const attestations = batches.flatMap((b) => b.attestations);
      await this.store.transaction(() => {
        for (const batch of batches) keepBatch(this.store, batch, COMPUTE_GROUP, this.seq++);
        attestations.forEach((attestation, i) => queue[i].write(attestation));
      });
      this.committed();
      attestations.forEach((attestation, i) => queue[i].resolve(attestation));
    } catch (error) {
      for (const q of queue) q.reject(error);
    }
  }
}
