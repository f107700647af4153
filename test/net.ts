// Several real nodes on loopback for the message-passing tests: one embedded arlocal shared
// through `gateway`, each node on port 0 with its own data folder and key, and the invariants
// every scenario checks (issue 12): every outbox entry has exactly one assignment at its
// target, per-link order is kept, and nothing stays pending once the nodes are quiet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import * as assert from 'uvu/assert';
import { startArlocal, type EmbeddedGateway } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { moduleTags, tagValue } from '../engine/protocol/vocabulary.ts';
import { buildModules } from '../modules/tools/build.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import type { NodeOptions, RunningNode } from '../gateway/node.ts';
import { tempDir, testNode } from './helpers.ts';

export interface Cluster {
  arlocal: EmbeddedGateway;
  nodes: RunningNode[];
  clients: NodeClient[];
  /** A user's key: signs spawns and messages. */
  signer: Signer;
  /** Uploads an example module to the shared gateway; its ID. */
  module(name: string): Promise<string>;
  /** Starts node i again on its data folder (a new port: a new URL, announced with a higher nonce). */
  restart(i: number, options?: Partial<NodeOptions>): Promise<RunningNode>;
  stop(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(count: number, options: Partial<NodeOptions> = {}): Promise<Cluster> {
  const dir = tempDir('hyperwasm-net-');
  const arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  const gateway = new ArweaveGateway(arlocal.url);
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const built = await buildModules();
  const uploaded = new Map<string, string>();
  const nodes: RunningNode[] = [];
  const clients: NodeClient[] = [];
  const data = (i: number) => join(dir.path, `node-${i}`);
  const start = async (i: number, extra: Partial<NodeOptions> = {}) => {
    // Each node is told of those started before it; it announces itself to them.
    const peers = Object.fromEntries(nodes.filter((n, j) => n && j !== i).map((n) => [n.node.key.address, n.url]));
    const running = await testNode(data(i), { gateway: arlocal.url, eager: true, peers, ...options, ...extra });
    nodes[i] = running;
    clients[i] = new NodeClient(running.url);
    return running;
  };
  for (let i = 0; i < count; i++) await start(i);
  return {
    arlocal,
    nodes,
    clients,
    signer: { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) },
    async module(name) {
      if (!uploaded.has(name)) {
        const bytes = new Uint8Array(readFileSync((built as Record<string, string>)[name]!));
        uploaded.set(name, await upload(bytes, { gateway, wallet, tags: moduleTags() }));
      }
      return uploaded.get(name)!;
    },
    async restart(i, extra) {
      await nodes[i]?.close();
      return start(i, extra);
    },
    async stop(i) {
      await nodes[i]?.close();
    },
    async close() {
      for (const node of nodes) await node?.close().catch(() => {});
      await arlocal.stop();
      dir.remove();
    },
  };
}

/** Waits until no node has a pending delivery or a fold in progress, three looks in a row. */
export async function quiet(nodes: RunningNode[], what = 'the nodes'): Promise<void> {
  let calm = 0;
  for (let look = 0; look < 4000; look++) {
    const busy = nodes.some((n) => {
      const stats = n.node.deliverer.stats();
      return stats.pending > 0 || (n.node.info().deliveries as { folding: number }).folding > 0;
    });
    calm = busy ? 0 : calm + 1;
    if (calm >= 3) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const stats = nodes.map((n) => n.node.deliverer.stats());
  throw new Error(`${what} did not become quiet: ${JSON.stringify(stats)}`);
}

/** Polls `done` until it holds (about 100 s at most, then fails naming `what`). */
export async function waitFor(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let look = 0; look < 4000; look++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Every pushed message in a process's schedule: "source/slot/index" → the slot it got. */
export async function pushedInto(client: NodeClient, pid: string): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  const page = await client.schedulePage(pid, 0);
  for (const a of page.assignments) {
    const item = parseDataItem(fromB64url(a['message-item']));
    const from = tagValue(item.tags, 'From-Process');
    if (!from) continue;
    const key = `${from}/${tagValue(item.tags, 'From-Slot')}/${tagValue(item.tags, 'Outbox-Index')}`;
    found.set(key, [...(found.get(key) ?? []), a.slot]);
  }
  return found;
}

/**
 * The invariants over a set of processes (each on the node whose client is given): every
 * delivered entry of every outbox has exactly one slot at its target, the slot its ledger
 * names; per (source, target) link the target slots rise with (slot, index); nothing pending.
 */
export async function checkDelivery(processes: { pid: string; client: NodeClient }[]): Promise<{ delivered: number }> {
  const where = new Map(processes.map((p) => [p.pid, p.client]));
  const pushed = new Map<string, Map<string, number[]>>();
  for (const { pid, client } of processes) pushed.set(pid, await pushedInto(client, pid));
  let delivered = 0;
  for (const { pid, client } of processes) {
    const { entries } = await client.get(`/${pid}/outbox`);
    const lastOnLink = new Map<string, number>();
    for (const entry of entries) {
      assert.is.not(entry.status, 'pending', `${pid}/${entry.slot}/${entry.index} to ${entry.target} is still pending (${entry['last-error'] ?? ''})`);
      if (entry.status !== 'delivered' || !where.has(entry.target)) continue;
      const slots = pushed.get(entry.target)!.get(`${pid}/${entry.slot}/${entry.index}`) ?? [];
      assert.equal(slots, [entry['target-slot']], `${pid}/${entry.slot}/${entry.index} has exactly one slot at ${entry.target}, the one its ledger names`);
      const before = lastOnLink.get(entry.target) ?? -1;
      assert.ok(entry['target-slot'] > before, `link ${pid} → ${entry.target} keeps its order`);
      lastOnLink.set(entry.target, entry['target-slot']);
      delivered++;
    }
  }
  // And nothing arrived that no outbox sent.
  for (const [target, found] of pushed) {
    for (const key of found.keys()) {
      const [source] = key.split('/');
      if (where.has(source!)) assert.ok(found.get(key)!.length === 1, `${key} is in ${target}'s schedule once`);
    }
  }
  return { delivered };
}
