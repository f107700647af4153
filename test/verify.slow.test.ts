// The slow suite (npm run test:slow): a long honest process, 2,000 slots sent by 16 concurrent
// clients, published and confirmed by the CLI's verifier from a fresh folder. The default
// suite keeps a 40-slot honest process (test/verify.test.ts); bench/attest.ts replays 10,001.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import { cli, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';
import { checkHistory, fetchHistory } from '../attest/verify/history.ts';
import { verifyProcess } from '../attest/verify/replay.ts';
import { verifyFromGateway } from '../attest/verify/pipeline.ts';
import { POOL_THRESHOLD } from '../attest/verify/pool.ts';

const dir = tempDir();
let node: RunningNode;
const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('an honest process of 2,000 slots is confirmed from a fresh folder', async () => {
  const built = await buildModules();
  node = await testNode(join(dir.path, 'data'), { publish: false, snapshotEvery: 8 });
  const client = new NodeClient(node.url);
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const counter = await upload(new Uint8Array(readFileSync(built.counter)), { gateway: node.node.gateway, wallet, tags: moduleTags() });
  const { process: pid } = await client.spawn(alice, counter, node.node.key.address);
  let sent = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (sent < 2000) { sent++; await client.send(alice, pid, [], 'tick'); } }));
  assert.equal((await client.compute(pid)).output, { count: 2000 });
  await node.node.publisher.flush();
  const result = await cli(['verify', pid, '--gateway', node.gatewayUrl]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /slots 0–2000: confirmed \(2001\)/);
  // The pipelined verification (signatures on worker threads while the replay runs) gives the sequential one's report.
  const gateway = node.node.gateway;
  const sequential = await verifyProcess(await checkHistory(pid, await fetchHistory(gateway, pid)), { dir: join(dir.path, 'sequential'), source: gateway });
  const pipelined = await verifyFromGateway(gateway, pid, { dir: join(dir.path, 'pipelined'), source: gateway });
  assert.ok(pipelined.items >= POOL_THRESHOLD, `${pipelined.items} items: enough for the worker threads`);
  assert.equal(pipelined.report, sequential);
  assert.is(sequential.confirmed, 2001);
});

test.run();
