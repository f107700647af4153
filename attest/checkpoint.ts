// Checkpoints: a process's snapshot published as a signed item, so a verifier can resume
// from an attested state instead of slot 0. A checkpoint is only trusted when its bytes
// hash to a state hash that the parties agree on (its State-Hash tag is just a label).
import { createDataItem, type DataItem, type Ed25519Signer } from '../engine/data-item.ts';
import { tagValue } from '../engine/assignment.ts';
import { instantiate } from '../engine/call.ts';
import { restoreSnapshot, stateHash } from '../engine/snapshot.ts';
import type { LoadedModule } from '../engine/modules.ts';
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

/**
 * The latest checkpoint before `slot` whose bytes, restored, hash to the state hash `trusted`
 * gives for its slot (undefined: nobody vouches for that slot). Checked by restoring it.
 */
export function trustedCheckpoint(checkpoints: DataItem[], loaded: LoadedModule, slot: number, trusted: (slot: number) => string | undefined): { slot: number; data: Uint8Array } | undefined {
  const bySlot = (item: DataItem) => Number(tagValue(item.tags, 'Slot'));
  for (const checkpoint of [...checkpoints].sort((a, b) => bySlot(b) - bySlot(a))) {
    const at = bySlot(checkpoint);
    const expected = trusted(at);
    if (at >= slot || expected === undefined) continue;
    const instance = instantiate(loaded);
    restoreSnapshot(instance, loaded.info, checkpoint.data);
    if (stateHash(instance, loaded.info) === expected) return { slot: at, data: checkpoint.data };
  }
  return undefined;
}
