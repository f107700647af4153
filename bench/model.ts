// Model and GPU-worker figures: the int8 language model (modules/model.ts, metered, weights as
// its data import) generating text with its kernel calls sent to the GPU worker
// (engine/gpu/bridge.ts) beside the same calls on the CPU references, same run, same prompt; the
// text must be the same, which this file asserts. Also what one round trip to the worker costs,
// and a large int8 product through the worker beside its CPU reference.
//
// Run alone: `node --import tsx bench/model.ts` (BENCH_MODEL_TOKENS, default 64; BENCH_REPS, default 5).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { instrument } from '../engine/wasm/meter/index.ts';
import { runReference } from '../engine/gpu/run.ts';
import { GPU_MODES } from '../engine/gpu/adapter.ts';
import { KernelClient } from '../engine/gpu/client.ts';
import { GpuRuntime } from '../engine/gpu/runtime.ts';
import { buildModules, buildWeights } from '../modules/tools/build.ts';
import { medianMs, printTable, type Figure } from './report.ts';

export async function modelFigures(log: (line: string) => void, options: { tokens?: number; reps?: number } = {}): Promise<Figure[]> {
  const tokens = options.tokens ?? Number(process.env.BENCH_MODEL_TOKENS ?? 64);
  const reps = options.reps ?? Number(process.env.BENCH_REPS ?? 5);
  const [built, weightsPath] = await Promise.all([buildModules(), buildWeights()]);
  const weights = new Uint8Array(readFileSync(weightsPath));
  const model = { ...(await compileModule('M'.repeat(43), await instrument(new Uint8Array(readFileSync(built.model))))), data: [weights] };
  const params = [{ prompt: 'Hello', tokens }];
  // The bench is an edge: it reads HYPERWASM_GPU itself, as the CLI does. Every call to the worker.
  const gpu = new GpuRuntime({ mode: GPU_MODES.find((m) => m === process.env.HYPERWASM_GPU), minWork: 0 });
  const described = await gpu.description;
  if (!gpu.client || described.backend !== 'gpu') {
    log(`model: no GPU adapter (${described.reason}); no GPU-worker figures`);
    await gpu.close();
    return [];
  }
  const client: KernelClient = gpu.client;
  let line: KernelClient | undefined; // undefined: the CPU references
  const generate = () => callFunction(model, 'generateText', params, undefined, line);
  const device = `${described.vendor} ${described.device}`.trim() + (described.isFallbackAdapter ? ' (software)' : '');
  const figures: Figure[] = [];
  try {
    const onCpu = generate();
    const cpuMs = await medianMs(generate, reps);
    line = client;
    const onGpu = generate();
    if (onGpu.kernels?.gpu !== tokens * 7) throw new Error(`model bench: expected ${tokens * 7} kernel calls on the GPU, got ${JSON.stringify(onGpu.kernels)}`);
    if (JSON.stringify(onGpu.value) !== JSON.stringify(onCpu.value) || onGpu.gas !== onCpu.gas) throw new Error('model bench: the GPU path gave other text or gas than the CPU path');
    const gpuMs = await medianMs(generate, reps);
    log(`model: "${(onGpu.value as { text: string }).text}" (${onGpu.gas} gas, ${tokens * 7} kernel calls)`);
    figures.push({
      id: 'model-generate-gpu',
      name: `model generateText, kernels on the GPU worker [${device}]`,
      value: (tokens * 1000) / gpuMs,
      unit: 'tokens/s',
      baselineName: 'same calls on the CPU references',
      baseline: (tokens * 1000) / cpuMs,
      better: 'higher',
    });

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
