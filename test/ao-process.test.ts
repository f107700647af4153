// AO processes on a real node: an aos module uploaded with `ao publish`'s tags to the node's
// gateway, a process spawned from it with AO's own tags, messages scheduled and folded on the
// AO host. Each slot's result is the text AoSession (the host compared byte for byte with
// ao-loader in ao-oracle.test.ts) gives for the same messages in the same shape; a failed
// message rolls back; our meter's gas is in the record; an aos Send reaches another aos process
// through the deliverer; a restart resumes from a snapshot to the same state hashes; and
// `hyperwasm verify` replays the process from the gateway alone and confirms every slot, a
// single answer verifies (from slot 0 or an aos checkpoint), a forged state is refuted and a
// dispute finds its slot.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet, walletAddress } from '../arweave/wallet.ts';
import { connect, createDataItemSigner } from '@permaweb/aoconnect';
import { ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { NodeClient, signItem, type Signer } from '../client/node-client.ts';
import { aoEnv, aoMessage } from '../engine/processes/ao-fold.ts';
import { AoSession } from '../engine/wasm/ao/session.ts';
import { aoModule, aoModuleTags } from '../engine/wasm/ao/module.ts';
import type { RunningNode } from '../gateway/node.ts';
import { OutboxKind } from '../engine/store.ts';
import { fetchHistory, readHistory } from '../attest/verify/history.ts';
import { replay } from '../attest/verify/replayer.ts';
import { signCheckpoint } from '../attest/checkpoint.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { signBatch } from '../engine/protocol/attestation.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { bundleTags } from '../engine/protocol/vocabulary.ts';
import { cli, tempDir, testNode } from './helpers.ts';
import { WASM32 } from './ao/suites.ts';
import { aoNode, aoTags, evalValue } from './ao/node.ts';

const test = suite('ao-process');
const TEXT = new TextDecoder();
const dir = tempDir();
const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
const AOS = join('.cache', 'aos', 'aos2_0_4_32.wasm');
let node: RunningNode;
let client: NodeClient;
let moduleId = '';
const moduleTags = aoModuleTags(WASM32);

const ao = aoTags;

async function spawnAos(name: string): Promise<string> {
  // The node is an Authority: the messages other processes send are pushed signed by it (§21).
  const item = await signItem(alice, { tags: ao('Process', [['Module', moduleId], ['Scheduler', node.node.key.address], ['Authority', node.node.key.address], ['Name', name]]), data: ' ' });
  await client.schedule(item.raw);
  return item.id;
}

const value = evalValue;

async function evaluate(pid: string, code: string): Promise<any> {
  const item = await signItem(alice, { target: pid, tags: ao('Message', [['Action', 'Eval']]), data: code });
  const { slot } = await client.schedule(item.raw);
  return client.compute(pid, slot);
}

test.before(async () => {
  ({ node, client, moduleId } = await aoNode(dir.path, AOS, moduleTags, { snapshotEvery: 3, publish: false }));
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

let pid = '';

test('an aos process spawns from an AO module and evaluates Lua, metered and attested per slot', async () => {
  pid = await spawnAos('first');
  const spawned = await client.compute(pid, 0);
  assert.is(spawned.slot, 0);
  assert.not.ok(spawned.error, JSON.stringify(spawned.error));
  const sum = await evaluate(pid, '1 + 1');
  assert.is(value(sum), '2');
  assert.ok(sum.gas > 1_000_000, `our meter's gas is in the record (${sum.gas})`);
  assert.ok(sum.attestation, 'the slot is attested');
  assert.is(TEXT.decode(fromB64url(sum['result-bytes'])), JSON.stringify(sum.output), 'result-bytes is the AO result text');
});

test('a failed message rolls back: state from before it, an Error in the record', async () => {
  assert.is((await evaluate(pid, 'X = 1')).error, undefined);
  const failed = await evaluate(pid, 'X = 2; error("boom")');
  assert.match(String(failed.error), /boom/);
  assert.equal(failed.messages, []);
  assert.is(value(await evaluate(pid, 'X')), '1');
  assert.is(value(await evaluate(pid, 'X = X + 1; return X')), '2');
});

test('hyperwasm verify replays the aos process from Arweave alone and confirms every slot, the rolled-back one included', async () => {
  const latest = (await client.slot(pid)).current;
  // Checkpoints are published too: an aos snapshot's ~100 MiB travel gzipped, in well under 1 MB.
  const { store } = node.node;
  await store.transaction(() => {}); // the fold's writes are queued before this one
  const checkpoints = [...store.outbox.getRange({ start: [pid], end: [pid, Number.MAX_SAFE_INTEGER] })].filter(({ key }) => key[2] === OutboxKind.Checkpoint);
  assert.ok(checkpoints.length > 0, 'a snapshot was taken (every 3 slots)');
  for (const { value } of checkpoints) assert.ok(value.length < 2_000_000, `a checkpoint item is ${value.length} bytes`);
  await node.node.publisher.flush();
  const result = await cli(['verify', pid, '--gateway', node.gatewayUrl, '--data', join(dir.path, 'verifier')]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(`slots 0–${latest}: confirmed \\(${latest + 1}\\)`));
  assert.match(result.stdout, new RegExp(`verified: ${latest + 1} slots confirmed`));
});

test('one aos slot verifies alone, from slot 0 or an aos checkpoint; a forged state there is refuted, and a dispute finds it', async () => {
  const answer = await client.compute(pid, 4);
  const file = join(dir.path, 'answer.json');
  writeFileSync(file, JSON.stringify(answer));
  const verifier = join(dir.path, 'single'); // one folder: the module is metered there once for the single answers
  let result = await cli(['verify', '--attestation', file, '--gateway', node.gatewayUrl, '--data', verifier]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /confirmed: process .* slot 4 \(replayed\)/);

  // The node's snapshot after the rolled-back slot 3, as a checkpoint (the one the node would
  // publish): a single answer and a dispute resume from it when its bytes hash to the attested state.
  const history = readHistory(pid, await fetchHistory(node.node.gateway, pid));
  const snapshot = node.node.store.snapshots.get([pid, 3]);
  assert.ok(snapshot, 'the node snapshots slot 3');
  const nodeKey = ed25519Signer(loadOrCreateNodeKey(join(dir.path, 'data', 'node-key.pem')).privateKey);
  history.checkpoints = [signCheckpoint(nodeKey, await client.compute(pid, 3), snapshot)];
  const resumed = await replay(history, { store: join(verifier, 'single-replay'), source: node.node.gateway, to: 4, trusted: (at) => history.statements.get(at)?.[0]?.statement['state-hash'] });
  assert.ok('record' in resumed);
  assert.is(resumed.from, 3, 'resumed from the checkpoint');
  assert.is(resumed.executions, 1);
  assert.is(resumed.record!['state-hash'], answer['state-hash']);

  // Another signer's claim of a different state at slot 4, published beside the node's.
  const rival = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const address = sha256b64(rival.publicKey);
  const forged = signBatch(rival, address, [{ ...answer.attestation.statement, node: address, 'state-hash': 'S'.repeat(43) }]).item;
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  await upload(encodeBundle([forged.raw]), { gateway: node.node.gateway, wallet, tags: bundleTags({ group: pid, seqFrom: 4, seqTo: 4, attestations: [forged.id] }) });
  result = await cli(['verify', '--attestation', forged.id, '--gateway', node.gatewayUrl, '--data', verifier]);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(`FAILED: slot 4: the attested state-hash ${'S'.repeat(43)} differs from the replay's ${answer['state-hash']}`));
  result = await cli(['dispute', answer.attestation.id, forged.id, '--gateway', node.gatewayUrl, '--data', verifier]);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /first divergent slot: 4 /);
  assert.match(result.stdout, new RegExp(`replay:  state ${answer['state-hash']}`));
  assert.match(result.stdout, /the replay supports a/);
});

test('every slot is the text AoSession gives for the same messages (the oracle-checked host)', async () => {
  const latest = (await client.slot(pid)).current;
  const page = await client.schedulePage(pid);
  const spawn = node.node.scheduler.process(pid)!;
  const loaded = { id: moduleId, ao: aoModule(moduleId, (await node.node.modules.meta(moduleId)).owner, moduleTags) } as any;
  const env = aoEnv(spawn, loaded);
  const module = await WebAssembly.compile(readFileSync(AOS));
  const session = new AoSession(module, WASM32);
  for (let slot = 0; slot <= latest; slot++) {
    const assignment = node.node.scheduler.assignment(pid, slot)!;
    const item = parseDataItem(node.node.scheduler.message(assignment.message)!);
    const expected = session.step(aoMessage(item, assignment, spawn), env);
    const record = await client.compute(pid, slot);
    assert.is(TEXT.decode(fromB64url(record['result-bytes'])), expected.threw ?? expected.text, `slot ${slot}`);
  }
  assert.is(page.assignments.length, latest + 1);
});

test('an aos Send reaches another aos process on the node', async () => {
  const target = await spawnAos('target');
  await client.compute(target, 0);
  await evaluate(target, 'Handlers.add("ping", "Ping", function(msg) Pinged = msg.From end)');
  const sent = await evaluate(pid, `Send({ Target = "${target}", Action = "Ping", Data = "hi" })`);
  assert.is(sent.messages.length, 1);
  assert.is(sent.messages[0].target, target);
  for (let i = 0; i < 100 && (await client.slot(target)).current < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.is((await client.slot(target)).current, 2, 'the Send was scheduled on its target');
  const delivered = await client.compute(target, 2);
  assert.not.ok(delivered.error, JSON.stringify(delivered.error));
  assert.is(value(await evaluate(target, 'Pinged')), pid, "the target's handler ran, and saw the sender as From");
});

test('after a restart the process resumes from a snapshot to the same state hashes', async () => {
  const latest = (await client.slot(pid)).current;
  const before = await client.compute(pid, latest);
  await node.close();
  node = await testNode(join(dir.path, 'data'), { snapshotEvery: 3, publish: false });
  client = new NodeClient(node.url);
  const next = await evaluate(pid, 'X');
  assert.is(value(next), '2');
  assert.ok(next.slot > latest);
  assert.is((await client.compute(pid, latest))['state-hash'], before['state-hash']);
});

test('aoconnect in legacy mode spawns, messages and reads results from the node, unchanged', async () => {
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const owner = await walletAddress(wallet);
  const ao = connect({ MODE: 'legacy', MU_URL: node.url, CU_URL: node.url, GATEWAY_URL: node.gatewayUrl });
  const signer = createDataItemSigner(wallet);
  const uploaded = await cli(['upload', AOS, '--ao', WASM32, '--gateway', node.gatewayUrl], { HYPERWASM_HOME: join(dir.path, 'home') });
  assert.is(uploaded.code, 0, uploaded.stderr);
  const module = uploaded.stdout.trim().split('\n').at(-1)!;
  // spawn first finds the module through the gateway's GraphQL (arlocal indexes its tags)
  const process = await ao.spawn({ module, scheduler: node.node.key.address, signer, tags: [{ name: 'Authority', value: node.node.key.address }, { name: 'Name', value: 'via aoconnect' }] });
  const message = <string>await ao.message({ process, signer, tags: [{ name: 'Action', value: 'Eval' }], data: 'Answer = 6 * 7; return Answer' });
  const result = (await ao.result({ process, message })) as any;
  assert.is(String(result.Output.data).split('\n').at(-1), '42', JSON.stringify(result));
  const record = await client.compute(process, 1);
  assert.ok(result.GasUsed > 0 && result.GasUsed === record.gas, 'GasUsed is the gas the slot was attested with');
  const { GasUsed, ...rest } = result;
  assert.is(JSON.stringify(rest), TEXT.decode(fromB64url(record['result-bytes'])), 'the rest is the result text, in the module\'s key order');

  const latest = await ao.results({ process, sort: 'DESC', limit: 2 });
  assert.equal(latest.edges.map((edge: any) => edge.cursor), ['1', '0']);
  assert.is(JSON.stringify(latest.edges[0].node.Output), JSON.stringify(result.Output));
  const after = await ao.results({ process, from: '0' });
  assert.equal(after.edges.map((edge: any) => edge.cursor), ['1'], 'from is exclusive');

  const dry = await ao.dryrun({ process, Owner: owner, tags: [{ name: 'Action', value: 'Eval' }], data: 'Answer = Answer + 1; return Answer' });
  assert.is(String(dry.Output.data).split('\n').at(-1), '43', JSON.stringify(dry));
  const again = await ao.dryrun({ process, Owner: owner, tags: [{ name: 'Action', value: 'Eval' }], data: 'return Answer' });
  assert.is(String(again.Output.data).split('\n').at(-1), '42', 'a dry-run keeps nothing');
  assert.is((await client.slot(process)).current, 1, 'nor schedules anything');

  assert.ok(typeof (await ao.monitor({ process, signer })) === 'string', 'monitor answers 2xx');
});

test('the legacy routes refuse what they cannot answer, with a reason, and keep serving', async () => {
  const unknown = 'x'.repeat(43);
  let r = await fetch(`${node.url}/result/${unknown}?process-id=${pid}`);
  assert.is(r.status, 404);
  const body = await r.json();
  assert.match(body.message, /not in the schedule of process/, JSON.stringify(body));
  r = await fetch(`${node.url}/result/${unknown}?process-id=${unknown}`);
  assert.is(r.status, 404);
  assert.match((await r.json()).message, /unknown process/);
  r = await fetch(`${node.url}/result/${unknown}`);
  assert.is(r.status, 400);
  assert.match((await r.json()).message, /process-id/);
  r = await fetch(`${node.url}/results/${pid}?limit=5000`);
  assert.is(r.status, 400);
  r = await fetch(`${node.url}/dry-run?process-id=${pid}`, { method: 'POST', body: '{not json' });
  assert.is(r.status, 400);
  assert.match((await r.json()).message, /not JSON/);
  r = await fetch(`${node.url}/`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
  assert.is(r.status, 400);
  assert.is(value(await evaluate(pid, '2 + 5')), '7', 'the node keeps serving');
});

test('an AO module with an unknown Module-Format is refused with a 422 naming it', async () => {
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  assert.throws(() => aoModuleTags('wasm32-unknown-nonsense'), /is not one this node runs; it runs .*wasm32-unknown-emscripten4/, 'hyperwasm upload --ao refuses it before uploading');
  const tags = moduleTags.map((t) => (t.name === 'Module-Format' ? { ...t, value: 'wasm32-unknown-nonsense' } : t));
  const bad = await upload(new Uint8Array(readFileSync(AOS)), { gateway: node.node.gateway, wallet, tags });
  const item = await signItem(alice, { tags: ao('Process', [['Module', bad], ['Scheduler', node.node.key.address]]), data: ' ' });
  await client.schedule(item.raw);
  try {
    await client.compute(item.id, 0);
    assert.unreachable('expected a 422');
  } catch (error: any) {
    assert.is(error.status, 422);
    assert.match(error.message, /wasm32-unknown-nonsense/);
  }
  assert.is(value(await evaluate(pid, '3 * 3')), '9', 'the node keeps serving');
});

test.run();
