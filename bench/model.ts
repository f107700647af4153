// Language-model and GPU-worker figures: the llama module (modules/llama.ts, metered, the HWLM
// export of ../shared/models/stories260K.gguf as its data import) generating text through the
// engine, beside the TypeScript int8 reference (engine/llama/forward-int8.ts) in-process, whose
// tokens it must equal (asserted here); with a GPU adapter, the same call with its kernels sent
// to the GPU worker (engine/gpu/bridge.ts), what one round trip to the worker costs, and a large
// int8 product through the worker beside its CPU reference. The model is data from elsewhere:
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
import { buildModules } from '../modules/tools/build.ts';
import { medianMs, printTable, type Figure } from './report.ts';

const MODEL = join(import.meta.dirname, '..', '..', 'shared', 'models', 'stories260K.gguf');
const PROMPT = 'Once upon a time';

export async function modelFigures(log: (line: string) => void, options: { tokens?: number; reps?: number } = {}): Promise<Figure[]> {
  const tokens = options.tokens ?? Number(process.env.BENCH_MODEL_TOKENS ?? 64);
  const reps = options.reps ?? Number(process.env.BENCH_REPS ?? 5);
  const figures: Figure[] = [];
  // the CPU run, kept for the GPU figure's comparison
  let onCpu: { llama: LoadedModule; params: Json[]; got: ReturnType<typeof callFunction>; kernels: number } | undefined;
  if (!existsSync(MODEL)) {
    log(`model: ${MODEL} is missing (see ../shared/models/README.md); no llama figures`);
  } else {
    const built = await buildModules({ modules: ['llama'] });
    const hwlm = exportHWLM(parseGGUF(new Uint8Array(readFileSync(MODEL))));
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
    figures.push({
      id: 'llama-generate',
      name: `llama generateText, stories260K, metered, kernels on the CPU references (${tokens} tokens after a ${promptTokens.length}-token prompt)`,
      value: (tokens * 1000) / moduleMs,
      unit: 'tokens/s',
      baselineName: 'TypeScript int8 reference in-process',
      baseline: (tokens * 1000) / referenceMs,
      better: 'higher',
    });
    onCpu = { llama, params, got, kernels: (promptTokens.length + tokens) * (model.config.layers * 7 + 1) };
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
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await modelFigures((line) => console.error(`[bench] ${line}`));
  console.log();
  printTable(figures);
}
