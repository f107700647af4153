// The node's signer: the engine's attestation port (engine/attestations.ts) backed by the
// node's ed25519 key. It signs statement batches (engine/protocol/attestation.ts) and process
// checkpoints, and keeps nothing: the engine stores what is signed in the same transaction
// as what it vouches for.
import type { Ed25519Signer, DataItem } from '../engine/protocol/ans104/data-item.ts';
import { signBatches, type SignedBatch } from '../engine/protocol/attestation.ts';
import type { SlotRecord } from '../engine/protocol/record.ts';
import type { Statement } from '../engine/protocol/statement.ts';
import type { AttestPort } from '../engine/attestations.ts';
import { signCheckpoint } from './checkpoint.ts';

export interface AttesterOptions {
  signer: Ed25519Signer;
  address: string;
}

export class Attester implements AttestPort {
  readonly address: string;

  constructor(private readonly options: AttesterOptions) {
    this.address = options.address;
  }

  sign(statements: Statement[]): SignedBatch[] {
    return signBatches(this.options.signer, this.address, statements);
  }

  checkpoint(record: SlotRecord, snapshot: Uint8Array): DataItem {
    return signCheckpoint(this.options.signer, record, snapshot);
  }
}
