// The node's signer: the engine's attestation port (engine/attestations.ts) backed by the
// node's ed25519 key. It signs statement batches (engine/protocol/attestation.ts) and process
// checkpoints, and keeps nothing: the engine stores what is signed in the same transaction
// as what it vouches for.
import type { KeyObject } from 'node:crypto';
import { ed25519Signer, type Ed25519Signer, type DataItem } from '../engine/protocol/ans104/data-item.ts';
import { signBatches, type SignedBatch } from '../engine/protocol/attestation.ts';
import type { SlotRecord } from '../engine/protocol/record.ts';
import type { Statement } from '../engine/protocol/statement.ts';
import type { AttestPort } from '../engine/attestations.ts';
import { signCheckpoint } from './checkpoint.ts';

export interface AttesterOptions {
  signer: Ed25519Signer;
  address: string;
}

/** The node's attester from its key: how a fold worker, handed the key, attests on its own core (engine/processes/pool.ts). */
export function attesterFor(privateKey: KeyObject, address: string): Attester {
  return new Attester({ signer: ed25519Signer(privateKey), address });
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
