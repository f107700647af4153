// What the tests of AO processes on a node share: a node with an aos build uploaded under
// ao publish's tags, AO's item tags, and an Eval's printed value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { upload, type Tag } from '../../arweave/upload.ts';
import { loadOrCreateWallet } from '../../arweave/wallet.ts';
import { NodeClient } from '../../client/node-client.ts';
import { enableMemory64 } from '../../engine/wasm/ao/memory64.ts';
import type { RunningNode } from '../../gateway/node.ts';
import { testNode } from '../helpers.ts';

/** AO's tags for an item of `type` (Process, Message), after `extra`, as aoconnect writes them. */
export const aoTags = (type: string, extra: [string, string][] = []): Tag[] =>
  [...extra, ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', type], ['SDK', 'aoconnect']].map(([name, value]) => ({ name: name!, value: value! }));

/**
 * An Eval's printed value: its last line (after a rolled-back message, aos prefixes a warning
 * that the Nonce skipped one, as it does on the compute unit).
 */
export const evalValue = (record: any): string | undefined => String(record.output.Output.data).split('\n').at(-1);

/** A node in `dir`/data with the aos build `file` uploaded (by `dir`/wallet.json) under `tags`. */
export async function aoNode(dir: string, file: string, tags: Tag[], options: Parameters<typeof testNode>[1] = {}): Promise<{ node: RunningNode; client: NodeClient; moduleId: string }> {
  enableMemory64();
  const node = await testNode(join(dir, 'data'), options);
  const wallet = await loadOrCreateWallet(join(dir, 'wallet.json'));
  const moduleId = await upload(new Uint8Array(readFileSync(file)), { gateway: node.node.gateway, wallet, tags });
  return { node, client: new NodeClient(node.url), moduleId };
}
