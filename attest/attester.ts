// Signing attestations: statements are batched under one Merkle root and one ed25519
// signature, so signing never caps throughput, while every answer carries its statement,
// its leaf index and proof, and the ID of the signed item that holds the root.
//
// The attestation item: an ANS-104 item signed by the node, data = the canonical JSON array
// of the batch's statements, tags Type: Attestation, Node, Merkle-Root, Leaves, Engine,
// Signed-At, and for a batch of one process's slots Process, Slot-From, Slot-To.
import { canonicalJson } from '../engine/protocol/encoding.ts';
import { createDataItem, type DataItem, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import type { Message } from '../engine/protocol/message.ts';
import { OutboxKind, type Store } from '../engine/store.ts';
import { attestationTags } from '../engine/protocol/vocabulary.ts';
import { leafHash, merkleTree } from '../engine/protocol/merkle.ts';
import { ENGINE, statementBytes, type Statement } from '../engine/protocol/statement.ts';

export interface Attestation {
  /** The signed attestation item's ID. */
  id: string;
  root: string;
  index: number;
  count: number;
  proof: string[];
  statement: Statement;
}

/** At most this many statements share one item, so items stay small enough to fetch per answer. */
export const MAX_BATCH = 256;
/** The outbox group of stateless Compute attestations. */
export const COMPUTE_GROUP = '~compute@1.0';

export interface SignedBatch {
  item: DataItem;
  attestations: Attestation[];
}

export function signBatch(signer: Ed25519Signer, address: string, statements: Statement[], clock: () => number = Date.now): SignedBatch {
  const { root, proofs } = merkleTree(statements.map((s) => leafHash(statementBytes(s))));
  const processes = new Set(statements.map((s) => (s.kind === 'process' ? s.process : '')));
  const slots = statements.map((s) => (s as { slot: number }).slot);
  const tags = attestationTags({
    node: address, root, leaves: statements.length, engine: ENGINE, signedAt: clock(),
    slots: processes.size === 1 && !processes.has('') ? { process: [...processes][0], from: Math.min(...slots), to: Math.max(...slots) } : undefined,
  });
  const item = createDataItem(signer, { tags, data: canonicalJson(statements as unknown as Message[]) });
  return { item, attestations: statements.map((statement, index) => ({ id: item.id, root, index, count: statements.length, proof: proofs[index], statement })) };
}

/** Keeps a signed batch and queues it for Arweave; call inside a store transaction. */
export function keepBatch(store: Store, batch: SignedBatch, group: string, seq: number): void {
  store.attestations.put(batch.item.id, batch.item.raw);
  store.outbox.put([group, seq, OutboxKind.Attestation], batch.item.raw);
}

export interface AttesterOptions {
  store: Store;
  signer: Ed25519Signer;
  address: string;
  onWrite?: () => void;
}

/** Batches stateless Compute statements that arrive in the same event-loop turn. */
export class Attester {
  private queue: { statement: Statement; resolve: (a: Attestation) => void; reject: (e: unknown) => void }[] = [];
  private seq = Date.now() * 1000;

  constructor(private readonly options: AttesterOptions) {}

  attest(statement: Statement): Promise<Attestation> {
    statement = { ...statement, node: this.options.address };
    return new Promise((resolve, reject) => {
      if (this.queue.push({ statement, resolve, reject }) === 1) setImmediate(() => void this.flush());
    });
  }

  sign(statements: Statement[]): SignedBatch[] {
    const batches: SignedBatch[] = [];
    for (let i = 0; i < statements.length; i += MAX_BATCH) {
      batches.push(signBatch(this.options.signer, this.options.address, statements.slice(i, i + MAX_BATCH)));
    }
    return batches;
  }

  /** Signs the queued statements and answers each once its batch is durable in the outbox. */
  private async flush(): Promise<void> {
    const queue = this.queue;
    this.queue = [];
    try {
      const batches = this.sign(queue.map((q) => q.statement));
      const { store } = this.options;
      await store.transaction(() => { for (const batch of batches) keepBatch(store, batch, COMPUTE_GROUP, this.seq++); });
      this.options.onWrite?.();
      batches.flatMap((b) => b.attestations).forEach((a, i) => queue[i].resolve(a));
    } catch (error) {
      for (const q of queue) q.reject(error);
    }
  }
}
