// Example modules for a fresh node: built from modules/ if needed and uploaded once; an
// upload is reused while the gateway still has it and the bytes are unchanged.
import { readFileSync } from 'node:fs';
import { buildModules } from '../modules/build.ts';
import { sha256b64 } from '../engine/hash.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../arweave/tags.ts';
import type { Gateway } from '../arweave/gateway.ts';
import type { JWKInterface } from '../arweave/wallet.ts';
import type { Store } from '../engine/store.ts';

interface Published { id: string; sha256: string }

export async function publishExamples(options: { store: Store; gateway: Gateway; wallet: JWKInterface; log: (line: string) => void }): Promise<Record<string, string>> {
  const { store, gateway, wallet, log } = options;
  const built = await buildModules({ log });
  const ids: Record<string, string> = {};
  for (const [name, path] of Object.entries(built)) {
    const bytes = new Uint8Array(readFileSync(path));
    const digest = sha256b64(bytes);
    const key = `example:${gateway.url}:${name}`;
    const known = store.meta.get(key) as Published | undefined;
    if (known?.sha256 === digest && (await gateway.has(known.id))) {
      ids[name] = known.id;
      continue;
    }
    ids[name] = await upload(bytes, { gateway, wallet, tags: moduleTags([{ name: 'Name', value: name }]) });
    await store.meta.put(key, { id: ids[name], sha256: digest } satisfies Published);
    log(`uploaded example module ${name} (${bytes.length} bytes) as ${ids[name]}`);
  }
  return ids;
}
