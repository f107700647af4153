// Checkpoints: a process's snapshot published as a signed item, so a verifier can resume
// from an attested state instead of slot 0. A checkpoint is only trusted when its bytes
// hash to a state hash that the parties agree on (its State-Hash tag is just a label).
import { createDataItem, type DataItem, type Ed25519Signer } from '../engine/data-item.ts';
import type { Json } from '../engine/message.ts';

export function signCheckpoint(signer: Ed25519Signer, record: Record<string, Json>, snapshot: Uint8Array): DataItem {
  return createDataItem(signer, {
    target: record.process as string,
    tags: [
      { name: 'Data-Protocol', value: 'hyperwasm' },
      { name: 'Variant', value: 'hyperwasm.1' },
      { name: 'Type', value: 'Checkpoint' },
      { name: 'Process', value: record.process as string },
      { name: 'Module', value: record.module as string },
      { name: 'Slot', value: String(record.slot) },
      { name: 'Hashpath', value: record.hashpath as string },
      { name: 'State-Hash', value: record['state-hash'] as string },
      { name: 'Content-Type', value: 'application/octet-stream' },
    ],
    data: snapshot,
  });
}
