// A node serving a Llama model a user brought (serve --model): the GGUF imported at start-up as
// HWLM weights plus the llama module naming them, generateText over HTTP giving the int8
// reference's tokens (engine/llama/) with its hashpath, gas and attestation, which a CPU-only
// verifier confirms; a restart finds its uploads again. `hyperwasm model import` once through the
// CLI. The model is data from elsewhere (../shared/models/); without it the model tests skip.
// Also here, since it needs a node whose kernel calls all go to the GPU worker: a process slot
// records which backend served its kernel calls.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import wabtInit from 'wabt';
import { parseGGUF } from '../engine/llama/gguf.ts';
import { exportHWLM, readHWLM } from '../engine/llama/quantize.ts';
import { encode } from '../engine/llama/tokenizer.ts';
import { generateGreedyInt8 } from '../engine/llama/forward-int8.ts';
import { Conversation } from '../engine/llama/chat.ts';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { cli, getJson, lastLine, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('llama-node');
const MODEL = join(import.meta.dirname, '..', '..', 'shared', 'models', 'stories260K.gguf');
const exists = existsSync(MODEL);
if (!exists) console.log(`llama-node: the model tests skip: ${MODEL} is missing (see ../shared/models/README.md)`);
const withModel = exists ? test : test.skip;
const PROMPT = 'Once upon a time';
const STEPS = 64;

const dir = tempDir();
const data = join(dir.path, 'data');
let node: RunningNode;
let logged: string[] = [];

const start = () => {
  logged = [];
  // every kernel call to the GPU worker (the model's are small: the default threshold keeps them on the CPU)
  return testNode(data, { models: exists ? [MODEL] : [], gpuMinWork: 0, log: (line) => logged.push(line) });
};

test.before(async () => {
  node = await start();
});
test.after(async () => {
  await node?.close();
  dir.remove();
});

const txTags = async (id: string) => {
  const response = await fetch(`${node.gatewayUrl}/tx/${id}`);
  assert.is(response.status, 200, `${id} is on the gateway`);
  const tx = (await response.json()) as { tags: { name: string; value: string }[] };
  const text = (s: string) => Buffer.from(s, 'base64url').toString('utf8');
  return Object.fromEntries(tx.tags.map((t) => [text(t.name), text(t.value)]));
};

withModel('at start the model goes up as its weights and the llama module naming them; info lists both', async () => {
  const { llama, stories260K } = node.models;
  assert.type(llama, 'string');
  assert.type(stories260K, 'string');
  const weights = await txTags(stories260K!);
  assert.is(weights.Type, 'Data');
  assert.is(weights.Name, 'stories260K', 'general.name is just "llama": the file name stands in');
  assert.is(weights['Model-Format'], 'hwlm-2');
  const module = await txTags(llama!);
  assert.is(module.Type, 'Module');
  assert.is(module.Name, 'llama');
  assert.is(module['Data-Import'], stories260K);
  const info = (await getJson(`${node.url}/~meta@1.0/info`)).body;
  assert.is(info.modules.llama, llama);
  assert.is(info.modules.stories260K, stories260K);
  assert.is(logged.filter((l) => /^uploaded model stories260K/.test(l)).length, 2, logged.join('\n'));
});

withModel('generateText over HTTP gives the int8 reference\'s tokens, with hashpath, gas and an attestation a CPU-only verifier confirms', async () => {
  const { model, tokenizer } = readHWLM(exportHWLM(parseGGUF(new Uint8Array(readFileSync(MODEL)))));
  const promptTokens = encode(tokenizer, PROMPT);
  const expected = generateGreedyInt8(model, promptTokens.length + STEPS, { prompt: promptTokens }).slice(promptTokens.length);
  const url = `${node.url}/${node.models.llama}/Compute?wasm-function=generateText&wasm-params=${encodeURIComponent(JSON.stringify([{ prompt: PROMPT, tokens: STEPS }]))}`;
  const { status, body } = await getJson(url);
  assert.is(status, 200, JSON.stringify(body));
  assert.equal(body.result.promptTokens, promptTokens);
  assert.equal(body.result.tokens, expected);
  assert.is(body.result.prompt, PROMPT);
  assert.match(body.result.text, /^, there was a little girl named Lily\./);
  assert.match(body.hashpath, new RegExp(`^${node.models.llama}/`));
  assert.ok(body.gas > 0, JSON.stringify(Object.keys(body)));
  const gpu = (await getJson(`${node.url}/~meta@1.0/gpu`)).body;
  const calls = (promptTokens.length + STEPS) * (model.config.layers * 7 + 1);
  assert.equal(body.kernels, gpu.backend === 'gpu' ? { gpu: calls, cpu: 0 } : { gpu: 0, cpu: calls }, `adapter ${gpu.device || gpu.reason}`);
  assert.is((await getJson(url)).body.cache, 'hit');

  await node.node.publisher.flush();
  const verified = await cli(['verify', '--attestation', body.attestation.id, '--gateway', node.gatewayUrl], { HYPERWASM_GPU: 'off' });
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /confirmed: /);
});

withModel('a llama process keeps its conversation (the KV cache is its state) across messages; verify replays it from Arweave', async () => {
  const { model, tokenizer } = readHWLM(exportHWLM(parseGGUF(new Uint8Array(readFileSync(MODEL)))));
  const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
  const client = new NodeClient(node.url);
  const { process: pid } = await client.spawn(alice, node.models.llama!, node.node.key.address);
  const conversation = new Conversation(model, tokenizer);
  const turns: [string, { name: string; value: string }[], { tokens: number; temperature?: number; seed: number }][] = [
    [PROMPT, [{ name: 'Tokens', value: '20' }], { tokens: 20, seed: 1 }],
    ['The dog', [{ name: 'Tokens', value: '12' }, { name: 'Temperature', value: '0.7' }, { name: 'Seed', value: '3' }], { tokens: 12, temperature: 0.7, seed: 3 }],
    [' and then', [{ name: 'Tokens', value: '8' }], { tokens: 8, seed: 3 }],
  ];
  for (const [text, tags] of turns) await client.send(alice, pid, tags, text);
  for (let i = 0; i < turns.length; i++) {
    const [text, , options] = turns[i]!;
    const answer = await client.compute(pid, i + 1);
    assert.equal(answer.output, conversation.turn(text, options), `turn ${i + 1}`);
  }
  await node.node.publisher.flush();
  const result = await cli(['verify', pid, '--gateway', node.gatewayUrl, '--data', join(dir.path, 'verifier')], { HYPERWASM_GPU: 'off' });
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /verified: 4 slots confirmed/);
});

withModel('a second start reuses both uploads', async () => {
  const before = node.models;
  await node.close();
  node = await start();
  assert.equal(node.models, before);
  assert.equal(logged.filter((l) => /^uploaded /.test(l)), [], logged.join('\n'));
});

withModel('hyperwasm model import uploads weights and module through the CLI; the IDs it prints are on the gateway', async () => {
  const env = { HYPERWASM_HOME: join(dir.path, 'config') };
  const result = await cli(['model', 'import', MODEL, '--gateway', node.gatewayUrl], env);
  assert.is(result.code, 0, result.stderr);
  const [weights, module] = result.stdout.trim().split('\n');
  assert.is(lastLine(result.stdout), module);
  assert.match(result.stderr, /uploading the weights of stories260K \(\d+ bytes\)/);
  assert.match(result.stderr, /100%/);
  assert.is((await txTags(weights!))['Model-Format'], 'hwlm-2');
  assert.is((await txTags(module!))['Data-Import'], weights);
  // the same bytes and tags as the node's own upload; a new transaction all the same
  assert.is.not(module, node.models.llama);
});

test('model import refuses what it cannot serve, in one line, with exit 1', async () => {
  const bad = join(dir.path, 'not-a-model.gguf');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, 'this is text');
  const result = await cli(['model', 'import', bad, '--gateway', 'http://127.0.0.1:9']);
  assert.is(result.code, 1, result.stderr);
  assert.match(result.stderr, /^hyperwasm model: .*not-a-model\.gguf: not a GGUF file: bad magic/m);
  assert.is(result.stderr.trim().split('\n').filter((l) => l.startsWith('hyperwasm model:')).length, 1);
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
