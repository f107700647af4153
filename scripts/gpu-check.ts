// The device check's measuring half (scripts/gpu-check.sh installs what is missing, then runs
// this): which WebGPU adapter the engine gets on this machine and what it offers, then timings of
// the int8 kernels the language model uses, every GPU result compared byte for byte with the CPU
// reference (a figure of a wrong answer is worthless), written as JSON. Written to be run once on
// a borrowed machine (an NVIDIA H200) within a few minutes: it keeps a deadline, writes the JSON
// after every section (a kill leaves what was measured), and never fails for want of an adapter.
//
//   node --import tsx scripts/gpu-check.ts [out.json] [--model file.gguf] [--mode auto|hardware|lavapipe]
//                                          [--budget seconds (default 240)] [--quick]
// out.json defaults to $OUT/gpu-check.json when $OUT is set, else gpu-check.json.
// Exit status: 0, also without an adapter (the JSON says why); 1 when a GPU result differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { GPU_MODES, LAVAPIPE_ICD, usage, type GpuMode } from '../engine/gpu/adapter.ts';
import { openGpuDevice, type GpuDevice } from '../engine/gpu/device.ts';
import { bytes } from '../engine/gpu/kernel.ts';
import { GEMV_N, gemvPass, gemvPipeline, matmulI8Tiled, planGemv, planMatmul, tiledPass } from '../engine/gpu/kernels/matmul.ts';
import * as ref from '../engine/gpu/reference.ts';
import { warmKernels } from '../engine/gpu/run.ts';
import { KERNELS } from '../engine/gpu/table.ts';

const started = performance.now();
const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv.splice(i, 2)[1];
};
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv.splice(i, 1).length > 0;
};
const modelPath = option('--model');
const mode = (option('--mode') ?? 'auto') as GpuMode;
const budgetS = Number(option('--budget') ?? 240);
const quick = flag('--quick');
const outPath = argv[0] ?? (process.env.OUT ? join(process.env.OUT, 'gpu-check.json') : 'gpu-check.json');
if (!GPU_MODES.includes(mode)) throw new Error(`--mode must be one of ${GPU_MODES.join(', ')}`);
const elapsedS = () => (performance.now() - started) / 1000;
const left = () => budgetS - elapsedS();

// ---- the report, written after every section ---------------------------------------------------

const report: Record<string, unknown> = {
  check: 'hyperwasm gpu-check 1',
  date: new Date().toISOString(),
  host: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1) },
  setup: setupLog(),
  options: { mode, budgetS, quick, model: modelPath ?? null },
};
let mismatches = 0;
let compared = 0;
function save(): void {
  report.durationS = +elapsedS().toFixed(1);
  report.mismatches = mismatches;
  writeFileSync(outPath, JSON.stringify(report, null, 2) + '\n');
}

/** What gpu-check.sh found and did before this ran (its log lines), if it ran this. */
function setupLog(): string[] | undefined {
  const path = process.env.GPU_CHECK_SETUP_LOG;
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return undefined;
  }
}

// ---- the adapter and its features --------------------------------------------------------------

/**
 * Everything the adapter says of itself, from a Dawn instance of our own (the engine's Gpu keeps
 * only what the kernels use): info, features and WGSL language features, with and without Dawn's
 * allow_unsafe_apis toggle, behind which experimental features (subgroup matrices) are listed.
 */
async function probeAdapter(source: string): Promise<Record<string, unknown>> {
  type DawnModule = { create(options: string[]): GPU };
  const dawn = (await import('webgpu')) as unknown as DawnModule;
  const lavapipe = source === 'lavapipe';
  const previous = process.env.VK_ICD_FILENAMES;
  if (lavapipe) process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
  const base = lavapipe ? ['backend=vulkan'] : [];
  const out: Record<string, unknown> = {};
  try {
    for (const [name, options] of [['default', base], ['allowUnsafeApis', [...base, 'enable-dawn-features=allow_unsafe_apis']]] as const) {
      const instance = dawn.create([...options]);
      const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) {
        out[name] = { adapter: null };
        continue;
      }
      const info: Record<string, unknown> = {};
      for (const key in adapter.info) info[key] = (adapter.info as unknown as Record<string, unknown>)[key];
      const limits: Record<string, unknown> = {};
      for (const key in adapter.limits) limits[key] = (adapter.limits as unknown as Record<string, unknown>)[key];
      const features = [...adapter.features].sort();
      const wgsl = [...(instance.wgslLanguageFeatures ?? [])].sort();
      out[name] = name === 'default' ? { info, features, wgslLanguageFeatures: wgsl, limits } : { features, wgslLanguageFeatures: wgsl, subgroupMatrixConfigs: info.subgroupMatrixConfigs };
    }
  } finally {
    if (previous === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = previous;
  }
  const all = new Set<string>();
  for (const v of Object.values(out) as { features?: string[]; wgslLanguageFeatures?: string[] }[]) for (const f of [...(v.features ?? []), ...(v.wgslLanguageFeatures ?? [])]) all.add(f);
  out.summary = {
    packed_4x8_integer_dot_product: all.has('packed_4x8_integer_dot_product'),
    subgroups: all.has('subgroups'),
    subgroupMatrix: [...all].filter((f) => /subgroup.?matrix/i.test(f)),
    shaderF16: all.has('shader-f16'),
    timestampQuery: all.has('timestamp-query'),
  };
  return out;
}

// ---- timings -------------------------------------------------------------------------------------

function int8s(n: number, seed: number): Int8Array {
  let s = seed >>> 0 || 1;
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s & 0xff) << 24) >> 24;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** Median µs of `fn` after one untimed call: at least `min` runs, more while under `seconds`, at most `max`. */
async function timeUs(fn: () => unknown, { min = 3, max = 200, seconds = 1 } = {}): Promise<{ us: number; runs: number }> {
  await fn();
  const samples: number[] = [];
  const begin = performance.now();
  while (samples.length < min || (samples.length < max && performance.now() - begin < seconds * 1000)) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return { us: +(median(samples) * 1000).toFixed(1), runs: samples.length };
}

const sameBytes = (x: Uint8Array, y: Uint8Array) => Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;

/**
 * The kernel alone on device-resident operands (uploaded once, as a model's weights would be):
 * `reps` dispatches submitted back to back, then one wait. What a queue of kernels on resident
 * buffers would cost per product, beside the whole call (upload, dispatch, readback) the GPU worker
 * makes today. Only where one dispatch holds the product (no split).
 */
async function residentUs(device: GpuDevice, a: Int8Array, b: Int8Array, m: number, k: number, n: number, gemv: boolean): Promise<{ us: number; reps: number } | { skipped: string }> {
  const kw = Math.ceil(k / 4);
  const software = device.gpu.description.isFallbackAdapter;
  let threads = 0;
  if (gemv) {
    const plan = planGemv(m, k, n, device.limits, software);
    if (plan.mt < m || plan.kt < k) return { skipped: `split into several dispatches (${JSON.stringify(plan)})` };
    threads = plan.threads;
  } else {
    const plan = planMatmul(m, k, n, true, device.limits);
    if (plan.mt < m || plan.kt < k || plan.nt < n) return { skipped: `split into several dispatches (${JSON.stringify(plan)})` };
  }
  // the operands as the shaders take them: A rows of kw words, B transposed into n rows of kw words
  const aPacked = new Uint8Array(m * kw * 4);
  for (let r = 0; r < m; r++) aPacked.set(new Uint8Array(a.buffer, r * k, k), r * kw * 4);
  const bPacked = new Uint8Array(n * kw * 4);
  for (let p = 0; p < k; p++) for (let c = 0; c < n; c++) bPacked[c * kw * 4 + p] = b[p * n + c];
  const pipeline = gemv ? await gemvPipeline(device) : await device.pipeline(KERNELS.matmul_i8);
  const gpu = device.gpu.device;
  const make = (size: number) => gpu.createBuffer({ size, usage: usage.STORAGE | usage.COPY_DST | usage.COPY_SRC });
  const bufs = { a: make(aPacked.byteLength), b: make(bPacked.byteLength), c: make(m * n * 4) };
  try {
    gpu.queue.writeBuffer(bufs.a, 0, aPacked);
    gpu.queue.writeBuffer(bufs.b, 0, bPacked);
    const bindings = { a: { buffer: bufs.a, size: aPacked.byteLength }, b: { buffer: bufs.b, size: bPacked.byteLength }, c: { buffer: bufs.c, size: m * n * 4 } };
    const pass = () => (gemv ? gemvPass(device, pipeline, bindings, m, kw, n, threads, false) : tiledPass(device, pipeline, bindings, m, kw, n, false));
    pass();
    await gpu.queue.onSubmittedWorkDone();
    // reps sized from one timed dispatch, to about 0.3 s
    let t = performance.now();
    pass();
    await gpu.queue.onSubmittedWorkDone();
    const one = performance.now() - t;
    const reps = Math.max(3, Math.min(500, Math.floor(300 / Math.max(one, 0.01))));
    t = performance.now();
    for (let i = 0; i < reps; i++) pass();
    await gpu.queue.onSubmittedWorkDone();
    return { us: +(((performance.now() - t) / reps) * 1000).toFixed(1), reps };
  } finally {
    for (const buffer of Object.values(bufs)) buffer.destroy();
  }
}

interface Shape {
  name: string;
  m: number;
  k: number;
  n: number;
}

/** One product: its bytes against the reference, then the whole call's time, the kernel alone on resident buffers, the CPU reference's time. */
async function measureProduct(device: GpuDevice, { name, m, k, n }: Shape): Promise<Record<string, unknown>> {
  const a = int8s(m * k, m * 7919 + k);
  const b = int8s(k * n, n * 104729 + 1);
  const inputs = [bytes(a), bytes(b)];
  const shapes = { m, k, n };
  const row: Record<string, unknown> = { name, m, k, n, path: n <= GEMV_N ? 'gemv' : 'tiled' };
  let t = performance.now();
  const expected = bytes(ref.matmulI8(a, b, m, k, n));
  const cpuOnce = performance.now() - t;
  t = performance.now();
  const out = await device.run(KERNELS.matmul_i8, inputs, shapes);
  row.firstCallMs = +(performance.now() - t).toFixed(2);
  row.bytesEqual = sameBytes(out, expected);
  compared++;
  if (!row.bytesEqual) mismatches++;
  const big = m * k * n > 2 ** 27;
  const seconds = quick || big ? 0.3 : 1;
  row.callUs = (await timeUs(() => device.run(KERNELS.matmul_i8, inputs, shapes), { min: big ? 2 : 5, seconds })).us;
  if (n <= GEMV_N) {
    const tiledOut = await device.run(matmulI8Tiled, inputs, shapes);
    if (!sameBytes(tiledOut, expected)) mismatches++;
    row.tiledCallUs = (await timeUs(() => device.run(matmulI8Tiled, inputs, shapes), { min: big ? 2 : 5, seconds })).us;
  }
  const resident = await residentUs(device, a, b, m, k, n, n <= GEMV_N);
  row.residentUs = 'us' in resident ? resident.us : resident;
  if ('us' in resident) row.residentGops = +((2 * m * k * n) / resident.us / 1000).toFixed(2);
  row.cpuUs = big ? +(cpuOnce * 1000).toFixed(0) : (await timeUs(() => ref.matmulI8(a, b, m, k, n), { min: 5, seconds: 0.3, max: 1000 })).us;
  console.log(
    `gpu-check: ${name} ${m}×${k}×${n} (${row.path}): bytes ${row.bytesEqual ? 'equal' : 'DIFFER'}, call ${row.callUs} µs` +
      (row.tiledCallUs !== undefined ? ` (tiled ${row.tiledCallUs} µs)` : '') +
      `, resident ${'us' in resident ? `${resident.us} µs (${row.residentGops} GOPS)` : 'skipped'}, cpu ${row.cpuUs} µs`,
  );
  return row;
}

// stories260K: dim 64, kv dim 32 (4 of 8 heads), hidden 172, vocabulary 512; and Llama-7B-sized layers
const MODEL: [string, number, number][] = [
  ['wq/wo', 64, 64],
  ['wk/wv', 32, 64],
  ['w1/w3', 172, 64],
  ['w2', 64, 172],
  ['classifier', 512, 64],
];
const LARGE: [string, number, number][] = [
  ['llama7b wq', 4096, 4096],
  ['llama7b w1', 11008, 4096],
  ['llama7b w2', 4096, 11008],
];

// ---- the model (hook) ---------------------------------------------------------------------------

/**
 * HOOK — the model figure: tokens/s of the Llama module at batch 1 and batch 64 on this device,
 * from the GGUF at `path` (`--model <file>`). To be filled in by the model's owner (engine/llama/);
 * until then, and without --model, it is skipped with the reason.
 */
async function modelSection(device: GpuDevice | undefined, path: string | undefined): Promise<Record<string, unknown>> {
  if (!path) return { skipped: true, reason: 'no --model <file.gguf> given' };
  if (!device) return { skipped: true, reason: 'no GPU device', model: path };
  // The llama module as a node runs it (metered, the HWLM export as data import 0), its kernel
  // calls all sent to a GPU worker (minWork 0) beside the same calls on this thread's CPU kernels.
  const [{ buildModules }, { parseGGUF }, { exportHWLM }, { compileModule }, { callFunction }, { instrument, closeMeter }, { GpuRuntime }] = await Promise.all([
    import('../modules/tools/build.ts'), import('../engine/llama/gguf.ts'), import('../engine/llama/quantize.ts'),
    import('../engine/wasm/compile.ts'), import('../engine/wasm/call.ts'), import('../engine/wasm/meter/index.ts'), import('../engine/gpu/runtime.ts'),
  ]);
  const built = await buildModules({ modules: ['llama'] });
  const hwlm = exportHWLM(parseGGUF(new Uint8Array(readFileSync(path))));
  const llama = { ...(await compileModule('L'.repeat(43), await instrument(new Uint8Array(readFileSync(built.llama!))))), data: [hwlm] };
  const gpu = new GpuRuntime({ mode, minWork: 0 });
  const tokens = 32;
  const out: Record<string, unknown> = { model: path, hwlmBytes: hwlm.length, tokens };
  try {
    await gpu.description;
    const client = gpu.client;
    if (!client) return { ...out, skipped: true, reason: 'the GPU worker found no adapter' };
    for (const batch of [1, 64]) {
      if (left() < 30) { out[`batch${batch}`] = { skipped: true, reason: 'time budget' }; continue; }
      const params = batch === 1 ? [{ prompt: 'Once upon a time', tokens }] : [{ prompts: Array.from({ length: batch }, (_, i) => `Once upon a time ${i}`), tokens }];
      if (batch === 1) callFunction(llama, 'generateText', params); // a warm-up: the first call compiles and loads
      let t = performance.now();
      const onCpu = callFunction(llama, 'generateText', params);
      const cpuMs = performance.now() - t;
      t = performance.now();
      const onGpu = callFunction(llama, 'generateText', params, undefined, client);
      const gpuMs = performance.now() - t;
      const equal = JSON.stringify(onGpu.value) === JSON.stringify(onCpu.value) && onGpu.gas === onCpu.gas;
      compared++;
      if (!equal) mismatches++;
      out[`batch${batch}`] = {
        equal, gas: onCpu.gas, kernels: onGpu.kernels,
        gpuTokensPerS: +((batch * tokens * 1000) / gpuMs).toFixed(1), cpuTokensPerS: +((batch * tokens * 1000) / cpuMs).toFixed(1),
      };
      console.log(`gpu-check: model batch ${batch}: GPU ${(out[`batch${batch}`] as { gpuTokensPerS: number }).gpuTokensPerS} tokens/s, CPU ${(out[`batch${batch}`] as { cpuTokensPerS: number }).cpuTokensPerS} tokens/s, ${equal ? 'the same text and gas' : 'DIFFERENT TEXT OR GAS'}`);
      save();
    }
  } finally {
    await gpu.close();
    await closeMeter();
  }
  return out;
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opened = await openGpuDevice({ mode });
  report.adapter = opened.description;
  save();
  if (!opened.device) {
    report.model = await modelSection(undefined, modelPath);
    save();
    console.log(`gpu-check: NO GPU ADAPTER (${opened.description.reason}); wrote ${outPath}`);
    return;
  }
  const device = opened.device;
  const d = opened.description;
  console.log(`gpu-check: ${d.source} adapter: ${d.vendor} / ${d.architecture} / ${d.device} (${d.description})`);
  try {
    try {
      report.probe = await probeAdapter(d.source);
    } catch (error) {
      report.probe = { error: (error as Error).message };
    }
    report.limits = device.limits;
    save();
    console.log(`gpu-check: features ${JSON.stringify((report.probe as { summary?: unknown }).summary)}`);

    let t = performance.now();
    await warmKernels(device);
    report.warmMs = +(performance.now() - t).toFixed(0);

    // one kernel round trip: the smallest call of an elementwise kernel and of the GEMV path
    const one = new Uint8Array(4);
    const relu = await timeUs(() => device.run(KERNELS.relu_i32, [one], { length: 1 }), { min: 20, max: 500 });
    const tiny = [new Uint8Array([3]), new Uint8Array([5])];
    const mm = await timeUs(() => device.run(KERNELS.matmul_i8, tiny, { m: 1, k: 1, n: 1 }), { min: 20, max: 500 });
    report.roundTrip = { relu_i32_length1_us: relu.us, matmul_i8_1x1x1_us: mm.us, runs: relu.runs };
    console.log(`gpu-check: round trip ${relu.us} µs (relu_i32 of 1), ${mm.us} µs (matmul_i8 1×1×1)`);
    save();
    // the model first: it is the figure the check exists for, and the large products can use up the budget
    report.model = await modelSection(device, modelPath);
    save();

    const sections: [string, Shape[]][] = [
      ['gemv', MODEL.map(([name, m, k]) => ({ name, m, k, n: 1 }))],
      ['gemm', MODEL.map(([name, m, k]) => ({ name, m, k, n: 64 }))],
      ['gemvLarge', LARGE.map(([name, m, k]) => ({ name, m, k, n: 1 }))],
      ['gemmLarge', LARGE.map(([name, m, k]) => ({ name, m, k, n: 64 }))],
    ];
    for (const [key, shapes] of sections) {
      const rows: unknown[] = [];
      report[key] = rows;
      for (const shape of shapes) {
        // a large product takes seconds on a CPU adapter; leave a margin for the rest
        const large = shape.m * shape.k * shape.n > 2 ** 27;
        if (left() < (large ? 60 : 10) || (quick && large && shape.n > 1)) {
          rows.push({ ...shape, skipped: quick ? 'quick' : `deadline: ${left().toFixed(0)} s of the budget left` });
          continue;
        }
        try {
          rows.push(await measureProduct(device, shape));
        } catch (error) {
          rows.push({ ...shape, error: (error as Error).message });
          console.log(`gpu-check: ${shape.name} failed: ${(error as Error).message}`);
        }
        save();
      }
    }
  } finally {
    device.close();
  }
}

try {
  await main();
} catch (error) {
  report.error = (error as Error).stack ?? String(error);
  console.log(`gpu-check: error: ${(error as Error).message}`);
}
save();
const verdict = mismatches ? `${mismatches} RESULT(S) DIFFER FROM THE CPU REFERENCE` : compared ? `all ${compared} GPU products equal the CPU reference` : 'no GPU products measured';
console.log(`gpu-check: ${verdict}; ${elapsedS().toFixed(0)} s; wrote ${outPath}`);
process.exitCode = mismatches ? 1 : 0;
