// Example modules for a fresh node: built from modules/ if needed and uploaded once; an
// upload is reused while the gateway still has it and the bytes and tags are unchanged.
// The model's weights go up first, as a data item of their own, and the model module names
// them in its Data-Import tag (docs/PROTOCOL.md §7). A restart checks every earlier upload at
// once; uploads themselves go one after another.
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

  const digestOf = (bytes: Uint8Array, tags: Tag[]) => sha256b64(Buffer.concat([bytes, utf8(canonicalJson(tags as never))]));
  // Every loopback gateway is one record: the embedded arlocal keeps its data folder whatever its
  // port (tests and benches pick a free one each start), and has() checks the ID wherever it is.
  const keyOf = (name: string) => `example:${gateway.isLocal ? 'loopback' : gateway.url}:${name}`;

  /** The ID of an earlier upload of the same bytes and tags, if the gateway still has it. */
  async function reusable(name: string, bytes: Uint8Array, tags: Tag[]): Promise<string | undefined> {
    const known = store.meta.get(keyOf(name)) as Published | undefined;
    return known?.sha256 === digestOf(bytes, tags) && (await gateway.has(known.id)) ? known.id : undefined;
  }

  // Uploads stay one at a time (arlocal funds, posts and mines each with its own writes).
  async function publish(name: string, bytes: Uint8Array, tags: Tag[]): Promise<string> {
    const id = await upload(bytes, { gateway, wallet, tags });
    await store.meta.put(keyOf(name), { id, sha256: digestOf(bytes, tags) } satisfies Published);
    log(`uploaded example ${name} (${bytes.length} bytes) as ${id}`);
    return id;
  }

  const weightsBytes = new Uint8Array(readFileSync(weightsPath));
  const weightsTags = dataTags([{ name: 'Name', value: 'model.weights' }]);
  const weights = (await reusable('model-weights', weightsBytes, weightsTags)) ?? (await publish('model-weights', weightsBytes, weightsTags));
  const modules = Object.entries(built).map(([name, path]) => {
    const extra: Tag[] = [{ name: 'Name', value: name }];
    if (name === 'model') extra.push({ name: DATA_IMPORT_TAG, value: weights });
    return { name, bytes: new Uint8Array(readFileSync(path)), tags: moduleTags(extra) };
  });
  // A restart finds every upload again: one round of status requests, not one after another.
  const found = await Promise.all(modules.map((m) => reusable(m.name, m.bytes, m.tags)));
  const ids: Record<string, string> = {};
  for (const [i, m] of modules.entries()) ids[m.name] = found[i] ?? (await publish(m.name, m.bytes, m.tags));
  return ids;
}
