// Example modules for a fresh node: built from modules/ if needed and uploaded once; an
// upload is reused while the gateway still has it and the bytes and tags are unchanged.
// The model's weights go up first, as a data item of their own, and the model module names
// them in its Data-Import tag (docs/PROTOCOL.md §7).
import { readFileSync } from 'node:fs';
import { buildModules, buildWeights } from '../modules/tools/build.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { canonicalJson, utf8 } from '../engine/protocol/encoding.ts';
import { DATA_IMPORT_TAG } from '../engine/wasm/host/data.ts';
import { upload, type Tag } from '../arweave/upload.ts';
import { dataTags, moduleTags } from '../engine/protocol/vocabulary.ts';
import type { ArweaveGateway } from '../arweave/gateway.ts';
import type { JWKInterface } from '../arweave/wallet.ts';
import type { Store } from '../engine/store.ts';

interface Published { id: string; sha256: string }

export async function publishExamples(options: { store: Store; gateway: ArweaveGateway; wallet: JWKInterface; log: (line: string) => void }): Promise<Record<string, string>> {
  const { store, gateway, wallet, log } = options;
  const [built, weightsPath] = await Promise.all([buildModules({ log }), buildWeights({ log })]);

  /** Uploads bytes with tags unless the same bytes and tags are already on the gateway. */
  async function publishOnce(name: string, bytes: Uint8Array, tags: Tag[]): Promise<string> {
    const digest = sha256b64(Buffer.concat([bytes, utf8(canonicalJson(tags as never))]));
    const key = `example:${gateway.url}:${name}`;
    const known = store.meta.get(key) as Published | undefined;
    if (known?.sha256 === digest && (await gateway.has(known.id))) return known.id;
    const id = await upload(bytes, { gateway, wallet, tags });
    await store.meta.put(key, { id, sha256: digest } satisfies Published);
    log(`uploaded example ${name} (${bytes.length} bytes) as ${id}`);
    return id;
  }

  const weights = await publishOnce('model-weights', new Uint8Array(readFileSync(weightsPath)), dataTags([{ name: 'Name', value: 'model.weights' }]));
  const ids: Record<string, string> = {};
  for (const [name, path] of Object.entries(built)) {
    const extra: Tag[] = [{ name: 'Name', value: name }];
    if (name === 'model') extra.push({ name: DATA_IMPORT_TAG, value: weights });
    ids[name] = await publishOnce(name, new Uint8Array(readFileSync(path)), moduleTags(extra));
  }
  return ids;
}
