// Language-model and GPU-worker figures: the llama module (modules/llama.ts, metered, the HWLM
// export of ../shared/models/stories260K.gguf as its data import) generating text through the
// engine, beside the TypeScript int8 reference (engine/llama/forward-int8.ts) in-process, whose
// tokens it must equal (asserted here); with a GPU adapter, the same call with its kernels sent
// to the GPU worker (engine/gpu/bridge.ts), what one round trip to the worker costs, and a large
// int8 product through the worker beside its CPU reference. Batched decoding (64 prompts in one
// call) beside batch 1, on the CPU and on the GPU worker; the int8 GEMV on the GPU and in WASM
// SIMD (engine/gpu/cpu/) beside the TypeScript reference. The model is data from elsewhere:
// without it the llama figures are skipped and say so.
//
// Run alone: `node --import tsx bench/model.ts` (BENCH_MODEL_TOKENS, default 64; BENCH_REPS, default 5).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileModule, type LoadedModule } from '../engine/wasm/compile.ts';
import type { Json } from '../engine/protocol/message.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { instrument } from '../engine/wasm/meter/index.ts';
import { runReference } from '../engine/gpu/run.ts';
import { GPU_MODES } from '../engine/gpu/adapter.ts';
import { KernelClient } from '../engine/gpu/client.ts';
import { GpuRuntime } from '../engine/gpu/runtime.ts';
import { parseGGUF } from '../engine/llama/gguf.ts';
import { exportHWLM, readHWLM } from '../engine/llama/quantize.ts';
import { encode } from '../engine/llama/tokenizer.ts';
import { generateGreedyInt8 } from '../engine/llama/forward-int8.ts';
import { forwardF32, generateGreedy, modelF32FromGGUF } from '../engine/llama/forward-f32.ts';
import { cpuKernels } from '../engine/gpu/cpu/kernels.ts';
import { gemvFigures } from './gemv.ts';
import { buildModules } from '../modules/tools/build.ts';
import { medianMs, printTable, type Figure } from './report.ts';

const MODEL = join(import.meta.dirname, '..', '..', 'shared', 'models', 'stories260K.gguf');
const PROMPT = 'Once upon a time';
const BATCH = 64;
const STARTS = ['there', 'a', 'Lily', 'Tom', 'the', 'in', 'one', 'Ben'];

export async function modelFigures(log: (line: string) => void, options: { tokens?: number; reps?: number } = {}): Promise<Figure[]> {
  const tokens = options.tokens ?? Number(process.env.BENCH_MODEL_TOKENS ?? 64);
  const reps = options.reps ?? Number(process.env.BENCH_REPS ?? 5);
  const figures: Figure[] = [];
  // the CPU run, kept for the GPU figure's comparison
  let onCpu: { llama: LoadedModule; params: Json[]; got: ReturnType<typeof callFunction>; kernels: number } | undefined;
  let batched: { llama: LoadedModule; params: Json[] } | undefined;
  if (!existsSync(MODEL)) {
    log(`model: ${MODEL} is missing (see ../shared/models/README.md); no llama figures`);
  } else {
    const built = await buildModules({ modules: ['llama'] });
    const gguf = parseGGUF(new Uint8Array(readFileSync(MODEL)));
    const hwlm = exportHWLM(gguf);
    const { model, tokenizer } = readHWLM(hwlm);
    const llama = { ...(await compileModule('L'.repeat(43), await instrument(new Uint8Array(readFileSync(built.llama!))))), data: [hwlm] };
    const params: Json[] = [{ prompt: PROMPT, tokens }];
    const promptTokens = encode(tokenizer, PROMPT);
    const reference = () => generateGreedyInt8(model, promptTokens.length + tokens, { prompt: promptTokens }).slice(promptTokens.length);
    const expected = reference();
    const got = callFunction(llama, 'generateText', params);
    const value = got.value as { tokens: number[]; text: string };
    if (JSON.stringify(value.tokens) !== JSON.stringify(expected)) throw new Error('model bench: the llama module gave other tokens than the int8 reference');
    log(`model: "${value.text}" (${got.gas} gas)`);
    const moduleMs = await medianMs(() => callFunction(llama, 'generateText', params), reps);
    const referenceMs = await medianMs(reference, reps);
    const f32 = modelF32FromGGUF(gguf);
    const f32Ms = await medianMs(() => generateGreedy(f32.config, (state, token, pos) => forwardF32(f32, state, token, pos), promptTokens.length + tokens, { prompt: promptTokens }), reps);
    figures.push({
      id: 'llama-generate-vs-f32',
      name: `llama generateText, stories260K, metered, kernels in WASM SIMD (${tokens} tokens after a ${promptTokens.length}-token prompt)`,
      value: (tokens * 1000) / moduleMs,
      unit: 'tokens/s',
      baselineName: 'TypeScript f32 reference forward in-process',
      baseline: (tokens * 1000) / f32Ms,
      better: 'higher',
    });
    figures.push({
      id: 'llama-generate',
      name: `llama generateText, stories260K, metered, kernels on the CPU (WASM SIMD) (${tokens} tokens after a ${promptTokens.length}-token prompt)`,
      value: (tokens * 1000) / moduleMs,
      unit: 'tokens/s',
      baselineName: 'TypeScript int8 reference in-process',
      baseline: (tokens * 1000) / referenceMs,
      better: 'higher',
    });
    onCpu = { llama, params, got, kernels: (promptTokens.length + tokens) * (model.config.layers * 7 + 1) };

    // 64 prompts in one call: one matmul_i8 per product for all of them.
    batched = { llama, params: [{ prompts: Array.from({ length: BATCH }, (_, i) => `${PROMPT} ${STARTS[i % STARTS.length]}`), tokens }] };
    const batchMs = await medianMs(() => callFunction(llama, 'generateText', batched!.params), Math.min(reps, 3));
    figures.push({
      id: 'llama-generate-batch',
      name: `llama generateText, ${BATCH} prompts in one call, metered, CPU (tokens of all prompts)`,
      value: (BATCH * tokens * 1000) / batchMs,
      unit: 'tokens/s',
      baselineName: 'one prompt a call',
      baseline: (tokens * 1000) / moduleMs,
      better: 'higher',
    });

    // The model's widest product (hidden × dim), n = 1: WASM SIMD on a module's memory vs the reference.
    const [m, k] = [model.config.hidden, model.config.dim];
    const memory = new WebAssembly.Memory({ initial: 1 });
    const bytes = new Uint8Array(memory.buffer);
    for (let i = 0; i < m * k + k; i++) bytes[i] = (i * 2654435761) >>> 24;
    const simd = cpuKernels(memory)!.matmul_i8!;
    const a = bytes.slice(0, m * k), b = bytes.slice(m * k, m * k + k);
    const calls = 2000;
    const simdMs = await medianMs(() => { for (let i = 0; i < calls; i++) simd(0, m * k, m * k + k, m, k, 1); }, reps);
    const refMs = await medianMs(() => { for (let i = 0; i < calls; i++) runReference('matmul_i8', { m, k, n: 1 }, [a, b]); }, reps);
    figures.push({ id: 'cpu-gemv-i8', name: `int8 GEMV ${m}×${k}·x on the CPU, WASM SIMD in the module's memory`, value: (calls * 1000) / simdMs, unit: 'calls/s', baselineName: 'TypeScript reference', baseline: (calls * 1000) / refMs, better: 'higher' });
  }

  // The bench is an edge: it reads HYPERWASM_GPU itself, as the CLI does. Every call to the worker.
  const gpu = new GpuRuntime({ mode: GPU_MODES.find((m) => m === process.env.HYPERWASM_GPU), minWork: 0 });
  const described = await gpu.description;
  if (!gpu.client || described.backend !== 'gpu') {
    log(`model: no GPU adapter (${described.reason}); no GPU-worker figures`);
    await gpu.close();
    return figures;
  }
  const client: KernelClient = gpu.client;
  const device = `${described.vendor} ${described.device}`.trim() + (described.isFallbackAdapter ? ' (software)' : '');
  try {
    if (onCpu) {
      const generate = () => callFunction(onCpu.llama, 'generateText', onCpu.params, undefined, client);
      const onGpu = generate();
      if (onGpu.kernels?.gpu !== onCpu.kernels) throw new Error(`model bench: expected ${onCpu.kernels} kernel calls on the GPU, got ${JSON.stringify(onGpu.kernels)}`);
      if (JSON.stringify(onGpu.value) !== JSON.stringify(onCpu.got.value) || onGpu.gas !== onCpu.got.gas) throw new Error('model bench: the GPU path gave other text or gas than the CPU path');
      const gpuMs = await medianMs(generate, reps);
      const cpuMs = await medianMs(() => callFunction(onCpu.llama, 'generateText', onCpu.params), reps);
      figures.push({
        id: 'llama-generate-gpu',
        name: `llama generateText, kernels on the GPU worker [${device}]`,
        value: (tokens * 1000) / gpuMs,
        unit: 'tokens/s',
        baselineName: 'same calls on the CPU references',
        baseline: (tokens * 1000) / cpuMs,
        better: 'higher',
      });
    }

    if (batched) {
      const generate = () => callFunction(batched!.llama, 'generateText', batched!.params, undefined, client);
      const onGpu = generate();
      const onCpuBatch = callFunction(batched.llama, 'generateText', batched.params);
      if (JSON.stringify(onGpu.value) !== JSON.stringify(onCpuBatch.value) || onGpu.gas !== onCpuBatch.gas) throw new Error('model bench: the batch on the GPU gave other text or gas than on the CPU');
      const gpuMs = await medianMs(generate, Math.min(reps, 3));
      const cpuMs = await medianMs(() => callFunction(batched!.llama, 'generateText', batched!.params), Math.min(reps, 3));
      figures.push({
        id: 'llama-generate-batch-gpu',
        name: `llama generateText, ${BATCH} prompts in one call, kernels on the GPU worker [${device}]`,
        value: (BATCH * tokens * 1000) / gpuMs,
        unit: 'tokens/s',
        baselineName: 'the same batch on the CPU (WASM SIMD)',
        baseline: (BATCH * tokens * 1000) / cpuMs,
        better: 'higher',
      });
    }

    // One round trip to the worker: a 1-element add, sent to the GPU vs computed here.
    const one = [new Uint8Array(4), new Uint8Array(4)];
    const out = new Uint8Array(4);
    const trips = 200;
    const tripMs = await medianMs(() => { for (let i = 0; i < trips; i++) client.run('add_i32', { length: 1 }, one, out); }, reps);
    const localMs = await medianMs(() => { for (let i = 0; i < trips; i++) out.set(runReference('add_i32', { length: 1 }, one)); }, reps);
    figures.push({ id: 'gpu-worker-round-trip', name: `kernel call round trip to the GPU worker [${device}]`, value: (trips * 1000) / tripMs, unit: 'calls/s', baselineName: 'the same call on the CPU reference', baseline: (trips * 1000) / localMs, better: 'higher' });

    // A product large enough for the GPU to pay: int8 512³ through the worker (copies included).
    const n = 512;
    let x = 7;
    const random = (size: number) => new Uint8Array(size).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
    const inputs = [random(n * n), random(n * n)];
    const product = new Uint8Array(n * n * 4);
    client.run('matmul_i8', { m: n, k: n, n }, inputs, product);
    if (!Buffer.from(product).equals(Buffer.from(runReference('matmul_i8', { m: n, k: n, n }, inputs)))) throw new Error('model bench: matmul_i8 through the worker differs from the reference');
    const viaWorker = await medianMs(() => client.run('matmul_i8', { m: n, k: n, n }, inputs, product), reps);
    const reference = await medianMs(() => runReference('matmul_i8', { m: n, k: n, n }, inputs), reps);
    figures.push({ id: `gpu-worker-matmul-i8-${n}`, name: `int8 matmul ${n}³ from a module's thread via the GPU worker [${device}]`, value: viaWorker, unit: 'ms', baselineName: 'CPU reference (TypeScript)', baseline: reference, better: 'lower' });
  } finally {
    await gpu.close();
  }
  figures.push(...(await gemvFigures(log)));
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await modelFigures((line) => console.error(`[bench] ${line}`));
  console.log();
  printTable(figures);
}
