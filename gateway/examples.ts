// Example modules for a fresh node: built from modules/ if needed and uploaded once; an
// upload is reused while the gateway still has it and the bytes and tags are unchanged. A
// restart checks every earlier upload at once; uploads themselves go one after another.
//
// The Llama models given to `serve --model` go up the same way, each as its HWLM weights and the
// llama module naming them in its Data-Import tag (engine/llama/publish.ts, docs/PROTOCOL.md §7).
import { readFileSync } from 'node:fs';
import { buildModules } from '../modules/tools/build.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { canonicalJson, utf8 } from '../engine/protocol/encoding.ts';
import { upload, type Tag } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { LLAMA_MODULE, prepareModel, publishModel } from '../engine/llama/publish.ts';
import type { ArweaveGateway } from '../arweave/gateway.ts';
import type { JWKInterface } from '../arweave/wallet.ts';
import type { Store } from '../engine/store.ts';

interface Published { id: string; sha256: string }

interface PublishOptions { store: Store; gateway: ArweaveGateway; wallet: JWKInterface; log: (line: string) => void }

/** Uploads keyed by a name, remembered in the store with the digest of their bytes and tags. */
function uploads({ store, gateway, wallet, log }: PublishOptions) {
  const digestOf = (bytes: Uint8Array, tags: Tag[]) => sha256b64(Buffer.concat([bytes, utf8(canonicalJson(tags as never))]));
  // Every loopback gateway is one record: the embedded arlocal keeps its data folder whatever its
  // port (tests and benches pick a free one each start), and has() checks the ID wherever it is.
  const keyOf = (name: string) => `example:${gateway.isLocal ? 'loopback' : gateway.url}:${name}`;
  return {
    /** The ID of an earlier upload of the same bytes and tags, if the gateway still has it. */
    async reusable(name: string, bytes: Uint8Array, tags: Tag[]): Promise<string | undefined> {
      const known = store.meta.get(keyOf(name)) as Published | undefined;
      return known?.sha256 === digestOf(bytes, tags) && (await gateway.has(known.id)) ? known.id : undefined;
    },
    // Uploads stay one at a time (arlocal funds, posts and mines each with its own writes).
    async publish(name: string, bytes: Uint8Array, tags: Tag[], label: string): Promise<string> {
      const id = await upload(bytes, { gateway, wallet, tags });
      await store.meta.put(keyOf(name), { id, sha256: digestOf(bytes, tags) } satisfies Published);
      log(`uploaded ${label} (${bytes.length} bytes) as ${id}`);
      return id;
    },
  };
}

export async function publishExamples(options: PublishOptions): Promise<Record<string, string>> {
  const { reusable, publish } = uploads(options);
  const built = await buildModules({ log: options.log });
  const modules = Object.entries(built).map(([name, path]) => ({ name, bytes: new Uint8Array(readFileSync(path)), tags: moduleTags([{ name: 'Name', value: name }]) }));
  // A restart finds every upload again: one round of status requests, not one after another.
  const found = await Promise.all(modules.map((m) => reusable(m.name, m.bytes, m.tags)));
  const ids: Record<string, string> = {};
  for (const [i, m] of modules.entries()) ids[m.name] = found[i] ?? (await publish(m.name, m.bytes, m.tags, `example ${m.name}`));
  return ids;
}

/**
 * Imports each GGUF file (engine/llama/publish.ts) and returns what the node lists: each model's
 * weights under its name, its module under "llama" (the first model) or "llama:<name>" (the
 * others). The file is read and exported at every start: the export's bytes are what an earlier
 * upload is matched by, and a file changed in place must not answer with the old weights.
 */
export async function publishModels(options: PublishOptions & { models: readonly string[] }): Promise<Record<string, string>> {
  const { reusable, publish } = uploads(options);
  const [built, ...prepared] = await Promise.all([buildModules({ modules: [LLAMA_MODULE], log: options.log }), ...options.models.map(async (file) => prepareModel(file))]);
  const wasm = new Uint8Array(readFileSync(built[LLAMA_MODULE]!));
  const ids: Record<string, string> = {};
  for (const [i, model] of prepared.entries()) {
    const moduleName = i === 0 ? LLAMA_MODULE : `${LLAMA_MODULE}:${model.name}`;
    if (model.name in ids || moduleName in ids) throw new Error(`two --model files are both named ${JSON.stringify(model.name)} (${prepared.find((m) => m.name === model.name)!.file} and ${model.file})`);
    const { weights, module } = await publishModel(model, wasm, async (what, bytes, tags) => {
      const key = `model:${model.name}:${what}`;
      return (await reusable(key, bytes, tags)) ?? (await publish(key, bytes, tags, `model ${model.name}'s ${what === 'weights' ? 'HWLM weights' : 'llama module'}`));
    });
    ids[model.name] = weights;
    ids[moduleName] = module;
  }
  return ids;
}
