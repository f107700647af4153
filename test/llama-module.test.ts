// The Llama module (modules/llama.ts) against the TypeScript int8 reference (engine/llama/):
// same prompt tokens, same greedy tokens, same text, and every step's logits the same bits,
// run through the engine as a stateless call with the HWLM v2 file as its data import, metered
// and not. Why bit for bit and not "close": the module's answer is what a node attests and a
// verifier replays, and the reference is the specification of that answer. The model is data
// from elsewhere (../shared/models/), exported to HWLM in memory here; without it the tests skip.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModules, MODULES } from '../modules/tools/build.ts';
import { parseGGUF } from '../engine/llama/gguf.ts';
import { exportHWLM, readHWLM, type HWLM } from '../engine/llama/quantize.ts';
import { decode, encode } from '../engine/llama/tokenizer.ts';
import { argmax, createState } from '../engine/llama/forward-f32.ts';
import { forwardInt8, generateGreedyInt8 } from '../engine/llama/forward-int8.ts';
import { compileModule, type LoadedModule } from '../engine/wasm/compile.ts';
import { callBytes, callFunction, instantiate } from '../engine/wasm/call.ts';
import { sampler, splitmix64, type SamplingOptions } from '../engine/llama/sample.ts';
import { Conversation } from '../engine/llama/chat.ts';
import { GpuRuntime } from '../engine/gpu/runtime.ts';
import { instrument, closeMeter } from '../engine/wasm/meter/index.ts';
import type { Json } from '../engine/protocol/message.ts';

const test = suite('llama-module');
const MODEL = join(import.meta.dirname, '..', '..', 'shared', 'models', 'stories260K.gguf');
const exists = existsSync(MODEL);
if (!exists) console.log(`llama-module: the tests skip: ${MODEL} is missing (see ../shared/models/README.md)`);
const withModel = exists ? test : test.skip;
const ID = 'L'.repeat(43);
const STEPS = 32;

let hwlm: Uint8Array;
let ref: HWLM;
let plain: LoadedModule;
let metered: LoadedModule;

interface Generated { prompt: string; promptTokens: number[]; text: string; tokens: number[] }

test.before(async () => {
  if (!exists) return;
  const built = await buildModules({ modules: ['llama'] });
  const wasm = new Uint8Array(readFileSync(built.llama!));
  hwlm = exportHWLM(parseGGUF(new Uint8Array(readFileSync(MODEL))));
  ref = readHWLM(hwlm);
  plain = { ...(await compileModule(ID, wasm)), data: [hwlm] };
  metered = { ...(await compileModule(ID, await instrument(wasm))), data: [hwlm] };
});
test.after(() => closeMeter());

/** The reference's answer: prompt tokens, then `steps` greedy (or sampled) tokens after them, and its text. */
function reference(prompt: string, steps: number, sampling?: SamplingOptions) {
  const { model, tokenizer } = ref;
  const promptTokens = encode(tokenizer, prompt);
  const pick = sampling ? sampler(sampling) : undefined;
  const tokens = generateGreedyInt8(model, promptTokens.length + steps, { prompt: promptTokens, pick }).slice(promptTokens.length);
  const prev = promptTokens.length > 0 ? promptTokens[promptTokens.length - 1]! : tokenizer.bos;
  return { promptTokens, tokens, text: decode(tokenizer, tokens, prev) };
}

/** Every step's logits of the reference's greedy run, as little-endian f32 bytes in order. */
function referenceLogits(prompt: string, steps: number): Uint8Array {
  const { model, tokenizer } = ref;
  const promptTokens = encode(tokenizer, prompt);
  const total = promptTokens.length + steps;
  const state = createState(model.config, total);
  const vocab = model.config.vocab;
  const out = new Uint8Array(total * vocab * 4);
  let token = tokenizer.bos;
  let pos = 0;
  for (; pos < total; pos++) {
    const logits = forwardInt8(model, state, token, pos);
    out.set(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength), pos * vocab * 4);
    const next = pos < promptTokens.length ? promptTokens[pos]! : argmax(logits);
    if (next === tokenizer.bos) { pos++; break; }
    token = next;
  }
  return out.subarray(0, pos * vocab * 4);
}

const call = (loaded: LoadedModule, fn: string, params: Json[]) => callFunction(loaded, fn, params);

/** The first byte at which two byte strings differ, as "f32 i of step s", or undefined. */
function firstDifference(a: Uint8Array, b: Uint8Array, vocab: number): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `logit ${Math.floor(i / 4) % vocab} of step ${Math.floor(i / 4 / vocab)}`;
  return undefined;
}

withModel('the module is built beside the examples but is not one of them (no node publishes it yet)', () => {
  assert.not.ok(MODULES.includes('llama'));
});

withModel('greedy tokens and text are the int8 reference\'s, from a prompt and from BOS; metered or not, the same bytes', () => {
  const kernelsPerStep = ref.model.config.layers * 7 + 1; // one matmul_i8 per product
  for (const prompt of ['Once upon a time', '']) {
    const expected = reference(prompt, STEPS);
    const first = call(metered, 'generateText', [{ prompt, tokens: STEPS }]);
    const value = first.value as unknown as Generated;
    assert.equal(value.promptTokens, expected.promptTokens, 'the prompt is encoded as tokenizer.ts encodes it');
    assert.equal(value.tokens, expected.tokens);
    assert.is(value.tokens.length, STEPS);
    assert.is(value.text, expected.text);
    assert.is(value.prompt, prompt);
    assert.equal(first.kernels, { gpu: 0, cpu: (expected.promptTokens.length + STEPS) * kernelsPerStep });
    const second = call(metered, 'generateText', [{ prompt, tokens: STEPS }]);
    assert.equal(second.bytes, first.bytes, 'two runs, the same bytes');
    assert.ok(first.gas > 0);
    assert.is(second.gas, first.gas, 'the same gas');
    const unmetered = call(plain, 'generateText', [{ prompt, tokens: STEPS }]);
    assert.equal(unmetered.bytes, first.bytes);
    assert.is(unmetered.gas, 0);
  }
  const once = call(metered, 'generateText', [{ prompt: 'Once upon a time', tokens: STEPS }]).value as unknown as Generated;
  assert.is(once.text, ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw');
});

withModel('every step\'s logits are the reference\'s, bit for bit', () => {
  const vocab = ref.model.config.vocab;
  for (const prompt of ['Once upon a time', '']) {
    const expected = referenceLogits(prompt, STEPS);
    const got = call(metered, 'stepLogits', [{ prompt, tokens: STEPS }]).bytes;
    assert.is(firstDifference(got, expected, vocab), undefined, `prompt ${JSON.stringify(prompt)}`);
    assert.equal(call(plain, 'stepLogits', [{ prompt, tokens: STEPS }]).bytes, got);
  }
});

withModel('the tokenizer as tokenizer.ts: byte fallback, spacing, merges; the text decodes as the reference\'s', () => {
  for (const prompt of ['Grüße, 🦙 naïve — “ok” 日本', ' two  spaces\nand a line', 'Lily\'s mom said, "Lily, let\'s go."', 'a', ' ', '\u{10FFFF}x']) {
    const expected = reference(prompt, 6);
    const value = call(metered, 'generateText', [{ prompt, tokens: 6 }]).value as unknown as Generated;
    assert.equal(value.promptTokens, expected.promptTokens, JSON.stringify(prompt));
    assert.equal(value.tokens, expected.tokens, JSON.stringify(prompt));
    assert.is(value.text, expected.text, JSON.stringify(prompt));
  }
});

/** `bytes` with token `id`'s piece replaced by `piece` of the same length (the tokenizer section is walked as readHWLM walks it). */
function withPiece(bytes: Uint8Array, id: number, piece: string): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  let at = 64;
  for (let i = 0; i < id; i++) at += 8 + view.getUint32(at + 4, true);
  const replacement = new TextEncoder().encode(piece);
  assert.is(view.getUint32(at + 4, true), replacement.length, `token ${id}'s piece has the replacement's length`);
  out.set(replacement, at + 8);
  return out;
}

withModel('stray byte tokens in the output decode as TextDecoder decodes them (one U+FFFD per maximal invalid part)', () => {
  // stories260K never emits a byte token greedily, so two of the story's 6-byte pieces become
  // byte tokens: " there" a lone lead byte of a 3-byte character, " named" a lone continuation.
  const { tokens } = reference('', STEPS);
  const pieces = ref.tokenizer.pieces;
  const there = tokens.find((t) => pieces[t] === ' there')!;
  const named = tokens.find((t) => pieces[t] === ' named')!;
  assert.ok(there !== undefined && named !== undefined, 'the story has " there" and " named"');
  const odd = withPiece(withPiece(hwlm, there, '<0xE6>'), named, '<0x97>');
  const oddRef = readHWLM(odd);
  const expected = decode(oddRef.tokenizer, tokens, oddRef.tokenizer.bos);
  assert.is(expected, 'Once upon a time,\uFFFD was a little girl\uFFFD Lily. She loved to play outside in the park. One');
  const value = call({ ...plain, data: [odd] }, 'generateText', [{ prompt: '', tokens: STEPS }]).value as unknown as Generated;
  assert.equal(value.tokens, tokens);
  assert.is(value.text, expected);
});

withModel('modelInfo says the shape; defaults and bad requests', () => {
  const info = call(plain, 'modelInfo', []).value as Record<string, unknown>;
  const c = ref.config;
  assert.equal(info, {
    format: 'HWLM v2', dim: c.dim, hidden: c.hidden, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, vocab: c.vocab,
    contextLength: c.contextLength, bos: 1, eos: 2, fileBytes: hwlm.length,
  });
  const byDefault = call(plain, 'generateText', [{ prompt: 'Once' }]).value as unknown as Generated;
  assert.equal(byDefault.tokens, reference('Once', 64).tokens, 'tokens defaults to 64');
  const refused = (loaded: LoadedModule, params: Json[], pattern: RegExp) =>
    assert.throws(() => call(loaded, 'generateText', params), (e: Error) => pattern.test(e.message), `${JSON.stringify(params)} should fail with ${pattern}`);
  refused(plain, [{ prompt: 'Once', tokens: 0 }], /"tokens" must be an integer from 1 to 256/);
  refused(plain, [{ prompt: 'Once', tokens: 257 }], /"tokens" must be an integer from 1 to 256/);
  refused(plain, [{ prompt: 'Once', tokens: 1.5 }], /"tokens" must be an integer/);
  refused(plain, [{ prompt: 'Once', token: 5 }], /unknown field "token"/);
  refused(plain, [{ prompt: 42 }], /"prompt" must be a string/);
  refused(plain, [], /generateText expects/);
  refused({ ...plain, data: [] }, [{ prompt: 'Once' }], /no model: this call has no data import 0/);
  const v1 = hwlm.slice();
  v1[4] = 1;
  refused({ ...plain, data: [v1] }, [{ prompt: 'Once' }], /version 1 is the toy character model's format/);
  refused({ ...plain, data: [hwlm.subarray(0, hwlm.length - 1)] }, [{ prompt: 'Once' }], /HWLM truncated/);
  const longer = new Uint8Array(hwlm.length + 4);
  longer.set(hwlm);
  refused({ ...plain, data: [longer] }, [{ prompt: 'Once' }], /4 bytes after the last tensor/);
  const shortContext = hwlm.slice();
  new DataView(shortContext.buffer).setUint32(32, 8, true); // contextLength 8
  refused({ ...plain, data: [shortContext] }, [{ prompt: 'Once upon a time', tokens: 5 }], /a prompt of 4 tokens and 5 more exceed the model's context of 8/);
  assert.is((call({ ...plain, data: [shortContext] }, 'generateText', [{ prompt: 'Once upon a time', tokens: 4 }]).value as unknown as Generated).tokens.length, 4);
});

withModel('sampling: the reference\'s tokens for each option set; the seed decides, and temperature 0 is greedy', () => {
  const prompt = 'Once upon a time';
  const sets: SamplingOptions[] = [
    { temperature: 0.8, seed: 42 }, { temperature: 1, topK: 10, seed: 7 }, { temperature: 1.2, topP: 0.9, seed: 123456789 },
    { temperature: 0.5, topK: 3, topP: 0.5, seed: 2 ** 53 - 1 }, { temperature: 1e-30, seed: 1 }, { temperature: 50, seed: 9 },
  ];
  const texts = new Set<string>();
  for (const sampling of sets) {
    const expected = reference(prompt, STEPS, sampling);
    const value = call(metered, 'generateText', [{ prompt, tokens: STEPS, ...sampling }]).value as unknown as Generated;
    assert.equal(value.tokens, expected.tokens, JSON.stringify(sampling));
    assert.is(value.text, expected.text);
    texts.add(value.text);
  }
  assert.ok(texts.size >= 5, 'different options and seeds, different stories');
  const a = call(plain, 'generateText', [{ prompt, tokens: STEPS, temperature: 0.9, seed: 1 }]);
  const b = call(plain, 'generateText', [{ prompt, tokens: STEPS, temperature: 0.9, seed: 1 }]);
  const c = call(plain, 'generateText', [{ prompt, tokens: STEPS, temperature: 0.9, seed: 2 }]);
  assert.equal(a.bytes, b.bytes, 'the same seed, the same bytes');
  assert.not.equal((a.value as unknown as Generated).tokens, (c.value as unknown as Generated).tokens, 'another seed, another story');
  const greedy = call(plain, 'generateText', [{ prompt, tokens: STEPS }]).bytes;
  assert.equal(call(plain, 'generateText', [{ prompt, tokens: STEPS, temperature: 0, seed: 5, topK: 3 }]).bytes, greedy);
});

withModel('splitmix64: the published sequence from seed 0', () => {
  // The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
  let state = 0n;
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const step = splitmix64(state);
    state = step.state;
    out.push(step.value.toString(16));
  }
  assert.equal(out, ['e220a8397b1dcdaf', '6e789e6aa1b965f4', '6c45d188009454f']);
});

withModel('a batch of prompts: each result is the prompt\'s own call (sequence b sampled with seed + b), in one call', () => {
  const prompts = ['Once upon a time', '', 'The cat', 'Lily and Ben went to the park. They', 'Tom had a red ball'];
  for (const sampling of [{}, { temperature: 0.9, topK: 20, seed: 11 }] as SamplingOptions[]) {
    const batched = call(metered, 'generateText', [{ prompts, tokens: 20, ...sampling }]);
    const results = (batched.value as unknown as { results: Generated[] }).results;
    assert.is(results.length, prompts.length);
    let singleGas = 0;
    prompts.forEach((prompt, b) => {
      const seed = sampling.seed === undefined ? {} : { seed: sampling.seed + b };
      const single = call(metered, 'generateText', [{ prompt, tokens: 20, ...sampling, ...seed }]);
      assert.equal(results[b], single.value, `prompt ${b}`);
      singleGas += single.gas;
    });
    const steps = Math.max(...results.map((r) => r.promptTokens.length)) + 20;
    assert.is(batched.kernels!.cpu, steps * (ref.model.config.layers * 7 + 1), 'one kernel call per product for the whole batch');
    assert.ok(batched.gas < singleGas, 'the batch costs less gas than its prompts one by one');
  }
  const refused = (params: Json[], pattern: RegExp) =>
    assert.throws(() => call(plain, 'generateText', params), (e: Error) => pattern.test(e.message), `${JSON.stringify(params)} should fail with ${pattern}`);
  refused([{ prompts: [] }], /"prompts" must be a list of 1 to 64 strings/);
  refused([{ prompts: Array(65).fill('a') }], /"prompts" must be a list of 1 to 64 strings/);
  refused([{ prompts: ['a', 5] }], /"prompts" must be a list of 1 to 64 strings/);
  refused([{ prompts: ['a'], prompt: 'b' }], /not both/);
  refused([{ prompt: 'a', temperature: -1 }], /"temperature" must be a finite number ≥ 0/);
  refused([{ prompt: 'a', temperature: 'hot' }], /"temperature" must be a number/);
  refused([{ prompt: 'a', topK: 1.5 }], /"topK" must be an integer ≥ 0/);
  refused([{ prompt: 'a', topP: 0 }], /"topP" must be a number in \(0, 1\]/);
  refused([{ prompt: 'a', topP: 1.01 }], /"topP" must be a number in \(0, 1\]/);
  refused([{ prompt: 'a', seed: -1 }], /"seed" must be an integer from 0 to 2\^53 − 1/);
  refused([{ prompt: 'a', seed: 2 ** 53 }], /"seed" must be an integer/);
});

withModel('on the GPU worker (every kernel call sent there): the same bytes and gas, greedy, sampled and batched', async () => {
  const gpu = new GpuRuntime({ minWork: 0 });
  try {
    const described = await gpu.description;
    if (!gpu.client || described.backend !== 'gpu') {
      console.log(`llama-module: the GPU comparison runs on the CPU only: no adapter (${described.reason})`);
      return;
    }
    for (const params of [
      { prompt: 'Once upon a time', tokens: 12 },
      { prompt: 'The cat', tokens: 12, temperature: 0.9, topK: 40, seed: 3 },
      { prompts: ['Once upon a time', 'Tom had', ''], tokens: 8, temperature: 0.7, seed: 1 },
    ] as Json[]) {
      const onCpu = call(metered, 'generateText', [params]);
      const onGpu = callFunction(metered, 'generateText', [params], undefined, gpu.client);
      assert.equal(onGpu.bytes, onCpu.bytes, JSON.stringify(params));
      assert.is(onGpu.gas, onCpu.gas, 'the same gas on either backend');
      assert.is(onGpu.kernels!.cpu, 0);
      assert.is(onGpu.kernels!.gpu, onCpu.kernels!.cpu);
    }
  } finally {
    await gpu.close();
  }
});

/** The process envelope of §13 for slot `slot` with `data` and `tags`. */
function envelope(slot: number, data: string, tags: { name: string; value: string }[] = []): Uint8Array {
  const message = { id: 'M'.repeat(43), slot, from: 'F'.repeat(43), owner: 'F'.repeat(43), target: 'P'.repeat(43), tags, data, timestamp: 0, 'block-height': 0, 'hash-chain': 'H'.repeat(43), assignment: 'A'.repeat(43) };
  return new TextEncoder().encode(JSON.stringify({ message, process: { id: 'P'.repeat(43), owner: 'F'.repeat(43), module: ID, tags: [] } }));
}

withModel('the process form: a conversation across messages is the reference Conversation\'s, turn by turn', () => {
  // A context of 96 positions, so that the conversation runs into its end.
  const short = hwlm.slice();
  new DataView(short.buffer).setUint32(32, 96, true);
  const shortRef = readHWLM(short);
  const instance = instantiate({ ...plain, data: [short] });
  const handle = (slot: number, data: string, tags: { name: string; value: string }[] = []) =>
    JSON.parse(new TextDecoder().decode(callBytes(instance, 'handle', envelope(slot, data, tags))));
  const spawned = handle(0, '');
  assert.is(spawned.output.position, 0);
  assert.is(spawned.output.contextLength, 96);
  const conversation = new Conversation(shortRef.model, shortRef.tokenizer);
  const turns: [string, { name: string; value: string }[], SamplingOptions & { tokens?: number }][] = [
    ['Once upon a time', [{ name: 'Tokens', value: '24' }], { tokens: 24, seed: 1 }],
    ['Then the dog', [{ name: 'Tokens', value: '16' }, { name: 'Temperature', value: '0.8' }, { name: 'Seed', value: '5' }], { tokens: 16, temperature: 0.8, seed: 5 }],
    ['', [{ name: 'Tokens', value: '8' }, { name: 'Temperature', value: '1' }, { name: 'Top-K', value: '5' }], { tokens: 8, temperature: 1, topK: 5, seed: 3 }],
  ];
  turns.forEach(([text, tags, options], i) => {
    const got = handle(i + 1, text, tags);
    const expected = conversation.turn(text, options);
    assert.equal(got.output, expected, `turn ${i + 1}`);
    assert.is(got.error, undefined);
  });
  assert.ok(conversation.position > 40);
  // A turn past the context is refused and changes nothing: the next turn is the reference's next.
  const left = 96 - conversation.position;
  const refused = handle(4, 'x', [{ name: 'Tokens', value: String(left) }, { name: 'Top-P', value: '0.5' }]);
  assert.is(refused.error, `the conversation has used ${conversation.position} of the model's 96 positions; this turn needs ${left + 2} (3 to read, ${left} to write)`);
  assert.throws(() => conversation.turn('x', { tokens: left }), /this turn needs/);
  assert.match(handle(5, 'x', [{ name: 'Temperature', value: 'warm' }]).error, /tag Temperature must be a number, not "warm"/);
  assert.match(handle(5, 'x', [{ name: 'Tokens', value: '0' }]).error, /tag Tokens must be an integer from 1 to 256/);
  assert.match(handle(5, 'x', [{ name: 'Top-P', value: '2' }]).error, /"topP" must be a number in \(0, 1\]/);
  assert.equal(handle(5, ' and', [{ name: 'Tokens', value: '4' }]).output, conversation.turn(' and', { tokens: 4, seed: 5 }));
});

test.run();
