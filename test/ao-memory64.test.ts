// A memory64 aos build (aos 2.0.6, Module-Format wasm64-unknown-emscripten-draft_2024_02_15)
// as a process on a real node: metered by our meter like the wasm32 build (test/ao-process.test.ts
// covers the rest of the node's AO path on that one), rolled back after an error, and each slot's
// result the text AoSession (the oracle-checked host) gives unmetered for the same messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { NodeClient, signItem, type Signer } from '../client/node-client.ts';
import { aoEnv, aoMessage } from '../engine/processes/ao-fold.ts';
import { AoSession } from '../engine/wasm/ao/session.ts';
import { aoModule, aoModuleTags } from '../engine/wasm/ao/module.ts';
import type { RunningNode } from '../gateway/node.ts';
import { tempDir } from './helpers.ts';
import { WASM64 } from './ao/suites.ts';
import { aoNode, aoTags, evalValue } from './ao/node.ts';

const test = suite('ao-memory64');
const TEXT = new TextDecoder();
const AOS = join('.cache', 'aos', 'aos2_0_6.wasm');
const missing = !existsSync(AOS);
if (missing) console.log(`ao-memory64: ${AOS} is missing (scripts/fetch-aos.mjs fetches it; offline it cannot): skipped`);
const dir = tempDir();
const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
const moduleTags = aoModuleTags(WASM64);
let node: RunningNode;
let client: NodeClient;
let moduleId = '';
let pid = '';

const ao = aoTags;

async function evaluate(code: string): Promise<any> {
  const item = await signItem(alice, { target: pid, tags: ao('Message', [['Action', 'Eval']]), data: code });
  const { slot } = await client.schedule(item.raw);
  return client.compute(pid, slot);
}
const value = evalValue;

test.before(async () => {
  if (missing) return;
  ({ node, client, moduleId } = await aoNode(dir.path, AOS, moduleTags, { publish: false }));
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

(missing ? test.skip : test)('a memory64 aos process is metered, rolls back, and matches AoSession slot for slot', async () => {
  const spawn = await signItem(alice, { tags: ao('Process', [['Module', moduleId], ['Scheduler', node.node.key.address], ['Authority', node.node.key.address]]), data: ' ' });
  await client.schedule(spawn.raw);
  pid = spawn.id;
  const first = await client.compute(pid, 0);
  assert.not.ok(first.error, JSON.stringify(first.error));
  const sum = await evaluate('Y = 20 + 22; return Y');
  assert.is(value(sum), '42');
  assert.ok(sum.gas > 1_000_000, `our meter's gas (${sum.gas})`);
  const failed = await evaluate('Y = 0; error("boom")');
  assert.match(String(failed.error), /boom/);
  assert.is(value(await evaluate('return Y')), '42', 'rolled back to the state before the failed message');

  const latest = (await client.slot(pid)).current;
  const spawnRecord = node.node.scheduler.process(pid)!;
  const loaded = { id: moduleId, ao: aoModule(moduleId, (await node.node.modules.meta(moduleId)).owner, moduleTags) } as any;
  const session = new AoSession(await WebAssembly.compile(readFileSync(AOS)), WASM64);
  for (let slot = 0; slot <= latest; slot++) {
    const assignment = node.node.scheduler.assignment(pid, slot)!;
    const expected = session.step(aoMessage(parseDataItem(node.node.scheduler.message(assignment.message)!), assignment, spawnRecord), aoEnv(spawnRecord, loaded));
    const record = await client.compute(pid, slot);
    assert.is(TEXT.decode(fromB64url(record['result-bytes'])), expected.threw ?? expected.text, `slot ${slot}`);
  }
});

test.run();
