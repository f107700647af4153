// Attestations as the protocol defines them (docs/PROTOCOL.md §14): statements batched under
// one Merkle root and one ed25519 signature, so signing never caps throughput, while every
// answer carries its statement, its leaf index and proof, and the ID of the signed item that
// holds the root. Pure: signing a batch keeps nothing; the engine keeps what it signs.
//
// The attestation item: an ANS-104 item signed by the node, data = the canonical JSON array
// of the batch's statements, tags Type: Attestation, Node, Merkle-Root, Leaves, Engine,
// Signed-At, and for a batch of one process's slots Process, Slot-From, Slot-To.
import { canonicalJson } from './encoding.ts';
import { createDataItem, type DataItem, type Ed25519Signer } from './ans104/data-item.ts';
import { attestationTags } from './vocabulary.ts';
import { leafHash, merkleTree } from './merkle.ts';
import { ENGINE, statementBytes, type Statement } from './statement.ts';

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
  const item = createDataItem(signer, { tags, data: canonicalJson(statements) });
  return { item, attestations: statements.map((statement, index) => ({ id: item.id, root, index, count: statements.length, proof: proofs[index], statement })) };
}

/** Statements in batches of at most MAX_BATCH, each signed. */
export function signBatches(signer: Ed25519Signer, address: string, statements: Statement[]): SignedBatch[] {
  const batches: SignedBatch[] = [];
  for (let i = 0; i < statements.length; i += MAX_BATCH) batches.push(signBatch(signer, address, statements.slice(i, i + MAX_BATCH)));
  return batches;
}
