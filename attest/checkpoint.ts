// Checkpoints: a process's snapshot published as a signed item, so a verifier can resume
// from an attested state instead of slot 0. A checkpoint is only trusted when its bytes
// hash to a state hash that the parties agree on (its State-Hash tag is just a label).
import { createDataItem, type DataItem, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { instantiate } from '../engine/wasm/call.ts';
import { restoreSnapshot, stateHash } from '../engine/wasm/snapshot.ts';
import type { LoadedModule } from '../engine/wasm/compile.ts';
import type { SlotRecord } from '../engine/protocol/record.ts';
import { checkpointTags, tagValue } from '../engine/protocol/vocabulary.ts';

export function signCheckpoint(signer: Ed25519Signer, record: SlotRecord, snapshot: Uint8Array): DataItem {
  return createDataItem(signer, {
    target: record.process,
    tags: checkpointTags({ process: record.process, module: record.module, slot: record.slot, hashpath: record.hashpath, stateHash: record['state-hash'] }),
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
