// Checkpoints: a process's snapshot published as a signed item, so a verifier can resume
// from an attested state instead of slot 0. A checkpoint is only trusted when its bytes
// hash to a state hash that the parties agree on (its State-Hash tag is just a label).
// The snapshot travels gzipped (Content-Encoding: gzip): an aos memory is ~100 MiB of which
// over 99% of the 4 KiB chunks are zeros, 0.4 MB compressed, and arlocal or a bundler takes
// minutes over the raw bytes. Only the decompressed bytes are hashed, so the compressor's
// output need not be reproducible.
import { constants } from 'node:buffer';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createDataItem, type DataItem, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { instantiate } from '../engine/wasm/call.ts';
import { restoreSnapshot, stateHash, unpackSnapshot } from '../engine/wasm/snapshot.ts';
import { stateDigest } from '../engine/wasm/state-hash.ts';
import { canonicalJson, utf8 } from '../engine/protocol/encoding.ts';
import type { LoadedModule } from '../engine/wasm/compile.ts';
import type { SlotRecord } from '../engine/protocol/record.ts';
import { checkpointTags, tagValue } from '../engine/protocol/vocabulary.ts';

export function signCheckpoint(signer: Ed25519Signer, record: SlotRecord, snapshot: Uint8Array): DataItem {
  return createDataItem(signer, {
    target: record.process,
    tags: checkpointTags({ process: record.process, module: record.module, slot: record.slot, hashpath: record.hashpath, stateHash: record['state-hash'] }),
    data: gzipSync(snapshot, { level: 1 }),
  });
}

/** The largest snapshot a checkpoint may unpack to: a wasm32 memory's 4 GiB and its header, or the largest buffer Node makes. */
const MAX_SNAPSHOT = Math.min(2 ** 32 + 2 ** 20, constants.MAX_LENGTH);

/** A checkpoint item's snapshot bytes, or undefined when they cannot be had (bad gzip, too big). */
export function checkpointSnapshot(item: DataItem): Uint8Array | undefined {
  const encoding = tagValue(item.tags, 'Content-Encoding');
  if (encoding === undefined) return item.data; // checkpoints published before they were compressed
  if (encoding !== 'gzip') return undefined;
  try {
    return new Uint8Array(gunzipSync(item.data, { maxOutputLength: MAX_SNAPSHOT }));
  } catch {
    return undefined;
  }
}

/**
 * The latest checkpoint before `slot` whose snapshot, restored, hashes to the state hash
 * `trusted` gives for its slot (undefined: nobody vouches for that slot), with that snapshot.
 */
export function trustedCheckpoint(checkpoints: DataItem[], loaded: LoadedModule, slot: number, trusted: (slot: number) => string | undefined): { slot: number; data: Uint8Array } | undefined {
  const bySlot = (item: DataItem) => Number(tagValue(item.tags, 'Slot'));
  for (const checkpoint of [...checkpoints].sort((a, b) => bySlot(b) - bySlot(a))) {
    const at = bySlot(checkpoint);
    const expected = trusted(at);
    if (at >= slot || expected === undefined) continue;
    const data = checkpointSnapshot(checkpoint);
    if (data && checkpointStateHash(loaded, data) === expected) return { slot: at, data };
  }
  return undefined;
}

/**
 * The state hash a checkpoint's bytes stand for. A hyperwasm snapshot is restored into an
 * instance and hashed there (its globals are the instance's). An AO snapshot
 * (engine/processes/ao-fold.ts takeAoSnapshot) holds the clock and the memory as they are
 * hashed (§23), so it is hashed as it lies: an aos instance is not a hyperwasm one to restore
 * into, and starting one (aos's start-up) would only rebuild the memory the snapshot replaces.
 */
function checkpointStateHash(loaded: LoadedModule, data: Uint8Array): string {
  if (loaded.ao) {
    const { header, memory } = unpackSnapshot<{ clock: number }>(data);
    return stateDigest(utf8(canonicalJson({ clock: header.clock })), memory);
  }
  const instance = instantiate(loaded);
  restoreSnapshot(instance, loaded.info, data);
  return stateHash(instance, loaded.info);
}
