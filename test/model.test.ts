// The int8 language model (modules/model.ts): weights trained deterministically by a script in
// the repo and uploaded as their own data item, inference through the gpu kernels (GPU worker
// or CPU references, same text), answered over HTTP with an attestation that a CPU-only
// `hyperwasm verify` confirms.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildModules, buildWeights } from '../modules/tools/build.ts';
import { generateWeights } from '../modules/tools/model/weights.ts';
import { generate } from '../modules/tools/model/reference.ts';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { instrument, closeMeter } from '../engine/wasm/meter/index.ts';
import { cli, getJson, tempDir, testNode } from './helpers.ts';
import { generateKeyPairSync } from 'node:crypto';
import wabtInit from 'wabt';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('model');
const dir = tempDir();
let node: RunningNode;
let wasm: Uint8Array;
let weights: Uint8Array;
// The int8 model's greedy continuation of "Hello": pinned, so a machine whose training or
// inference differed in one bit would fail here.
const HELLO_48 = ' world, the node computes the result on the gpu.';
const WEIGHTS_SHA256 = 'adff809cd0d16953e58d0110deaf0da2de6915a8e3f25391633dde3df25793b2';

test.before(async () => {
  const [built, weightsPath] = await Promise.all([buildModules(), buildWeights()]);
  wasm = new Uint8Array(readFileSync(built.model));
  weights = new Uint8Array(readFileSync(weightsPath));
  // Every kernel call of the model goes to the GPU worker (its calls are small: the default
  // threshold would keep them all on the CPU).
  node = await testNode(join(dir.path, 'data'), { examples: true, gpuMinWork: 0 });
});
test.after(async () => {
  await node?.close(); // closes the node's GPU runtime too
  dir.remove();
  await closeMeter();
});

test('the weights script gives the same bytes every run, on every machine', () => {
  const again = generateWeights();
  assert.is(createHash('sha256').update(again).digest('hex'), createHash('sha256').update(weights).digest('hex'));
  assert.is(createHash('sha256').update(again).digest('hex'), WEIGHTS_SHA256, 'the bytes the development machine trained');
});

test('the module generates the reference\'s text, metered or not; bad parameters are refused clearly', async () => {
  const plain = { ...(await compileModule('M'.repeat(43), wasm)), data: [weights] };
  const metered = { ...(await compileModule('M'.repeat(43), await instrument(wasm))), data: [weights] };
  const expected = generate(weights, 'Hello', 48);
  assert.is(expected, HELLO_48);
  for (const loaded of [plain, metered]) {
    const result = callFunction(loaded, 'generateText', [{ prompt: 'Hello', tokens: 48 }]);
    assert.equal(result.value, { prompt: 'Hello', text: expected, tokens: 48 });
  }
  const odd = 'héllo wörld 😀 ' + 'x'.repeat(300);
  assert.is((callFunction(metered, 'generateText', [{ prompt: odd, tokens: 20 }]).value as { text: string }).text, generate(weights, odd, 20));
  assert.throws(() => callFunction(metered, 'generateText', [{ prompt: 'Hello', tokens: 0 }]), (e: Error) => /tokens/.test(e.message));
  assert.throws(() => callFunction(metered, 'generateText', [{ prompt: 'Hello', token: 5 }]), (e: Error) => /token/.test(e.message));
  assert.throws(() => callFunction({ ...metered, data: [] }, 'generateText', [{ prompt: 'Hello' }]), (e: Error) => /no weights/.test(e.message));
});

test('over HTTP: generateText answers with its attestation and which backend ran the kernels', async () => {
  const model = node.examples.model;
  assert.type(model, 'string');
  const url = `${node.url}/${model}/Compute?wasm-function=generateText&wasm-params=${encodeURIComponent('[{"prompt":"Hello","tokens":48}]')}`;
  const { status, body } = await getJson(url);
  assert.is(status, 200, JSON.stringify(body));
  assert.is(body.result.text, HELLO_48);
  assert.is(body.cache, 'miss');
  const gpu = (await getJson(`${node.url}/~meta@1.0/gpu`)).body;
  const calls = 48 * 7;
  assert.equal(body.kernels, gpu.backend === 'gpu' ? { gpu: calls, cpu: 0 } : { gpu: 0, cpu: calls }, `adapter ${gpu.device || gpu.reason}`);
  if (gpu.backend !== 'gpu') console.log(`model: no adapter (${gpu.reason}), so the CPU references ran every kernel; run scripts/install-lavapipe.sh`);
  assert.equal(body.attestation.statement.kernels, body.kernels);
  assert.is((await getJson(url)).body.cache, 'hit');
  const info = (await getJson(`${node.url}/~meta@1.0/info`)).body;
  assert.is(info.gpu.backend, gpu.backend, 'the node info shows the adapter');

  // A verifier with nothing but the gateway, and no GPU at all, confirms it.
  await node.node.publisher.flush();
  const verified = await cli(['verify', '--attestation', body.attestation.id, '--gateway', node.gatewayUrl], { HYPERWASM_GPU: 'off' });
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /confirmed: .* \(recomputed; the node ran \d+ kernel call\(s\) on its GPU and \d+ on the CPU, this replay ran all of them on the CPU references, with the same bytes\)/);
});

test('over HTTP: modelInfo, and a bad prompt is a 422 that says why', async () => {
  const model = node.examples.model;
  const info = await getJson(`${node.url}/${model}/Compute?wasm-function=modelInfo`);
  assert.is(info.status, 200);
  assert.is(info.body.result.weightBytes, weights.length);
  const bad = await getJson(`${node.url}/${model}/Compute?wasm-function=generateText&wasm-params=${encodeURIComponent('[{"prompt":42}]')}`);
  assert.is(bad.status, 422);
  assert.match(JSON.stringify(bad.body), /prompt/);
});

// A process whose handler makes one relu_i32 kernel call per message and answers {"output":1}.
const PROCESS_WITH_KERNEL = `(module
  (import "gpu" "relu_i32" (func $relu (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{\\"output\\":1,\\"messages\\":[]}")
  (global $next (mut i32) (i32.const 1024))
  (func (export "hw_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.and (i32.add (i32.add (global.get $next) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (global.get $next) (i32.const 120000)) (then (global.set $next (i32.const 1024)) (local.set $p (i32.const 1024))))
    (local.get $p))
  (func (export "handle") (param i32 i32) (result i64)
    (drop (call $relu (i32.const 512) (i32.const 512) (i32.const 64)))
    (i64.const 0x1a00000000)))`;

test('a process slot records which backend served its kernel calls', async () => {
  const wabt = await wabtInit();
  const bytes = new Uint8Array(wabt.parseWat('process.wat', PROCESS_WITH_KERNEL, {}).toBinary({}).buffer);
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const module = await upload(bytes, { gateway: node.node.gateway, wallet, tags: moduleTags() });
  const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
  const client = new NodeClient(node.url);
  const { process: pid } = await client.spawn(alice, module, node.node.key.address);
  await client.send(alice, pid, [], 'one');
  const answer = await client.compute(pid, 1);
  assert.equal(answer.output, 1);
  const gpu = (await getJson(`${node.url}/~meta@1.0/gpu`)).body;
  assert.equal(answer.kernels, gpu.backend === 'gpu' ? { gpu: 1, cpu: 0 } : { gpu: 0, cpu: 1 });
  assert.equal(answer.attestation.statement.kernels, answer.kernels);
});

test.run();
