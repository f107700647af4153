// GPU kernel figures: each kernel on the WebGPU device (a real GPU, or Mesa lavapipe on CI)
// beside its CPU reference (engine/gpu/reference.ts), same run, same inputs, and the i32
// product beside the same product done in WebAssembly (modules/kernel.ts `matmul`, whose
// inputs are an xorshift32 stream: the GPU gets that same stream, and the checksum of its
// result must equal the module's, which this file asserts).
//
// Wiring (bench/main.ts): `import { gpuFigures } from './gpu.ts'` and, under a `gpu` entry of
// BENCH_ONLY, `figures.push(...(await gpuFigures(log)))`. Standalone: `node --import tsx bench/gpu.ts`.
// Options (environment): BENCH_GPU_SIZES (default 128,256,512), BENCH_GPU_REPS (default 3).
import { readFileSync } from 'node:fs';
import { compileModule } from '../engine/wasm/compile.ts';
import { GPU_MODES, type GpuMode } from '../engine/gpu/adapter.ts';
import { openGpuDevice, type GpuDevice } from '../engine/gpu/device.ts';
import { KERNELS } from '../engine/gpu/table.ts';
import { warmKernels } from '../engine/gpu/run.ts';
import { bytes } from '../engine/gpu/kernel.ts';
import type { Requantization } from '../engine/gpu/reference.ts';
import * as ref from '../engine/gpu/reference.ts';
import { buildModules } from '../modules/tools/build.ts';
import { medianMs, printTable, type Figure } from './report.ts';

/** The xorshift32 stream modules/kernel.ts fills A then B with. */
function xorshiftMatrices(n: number, seed: number): [Int32Array, Int32Array] {
  let x = seed !== 0 ? seed >>> 0 : 0x9e3779b9;
  const fill = () => {
    const m = new Int32Array(n * n);
    for (let i = 0; i < m.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      m[i] = x | 0;
    }
    return m;
  };
  const a = fill();
  return [a, fill()];
}

/** modules/kernel.ts's checksum: the wrapping sum of C[i]·(i+1). */
function checksum(c: Int32Array): number {
  let sum = 0;
  for (let i = 0; i < c.length; i++) sum = (sum + Math.imul(c[i], i + 1)) | 0;
  return sum;
}

function randomI8(n: number, seed: number): Int8Array {
  let x = seed >>> 0 || 1;
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const same = (x: ArrayBufferView, y: ArrayBufferView) => Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;

// The kernels on the device over typed arrays (square products).
const matmulI32 = async (d: GpuDevice, a: Int32Array, b: Int32Array, n: number) => {
  const c = await d.run(KERNELS.matmul_i32, [bytes(a), bytes(b)], { m: n, k: n, n });
  return new Int32Array(c.buffer, c.byteOffset, c.byteLength / 4);
};
const matmulI8 = (d: GpuDevice, a: Int8Array, b: Int8Array, n: number) => d.run(KERNELS.matmul_i8, [bytes(a), bytes(b)], { m: n, k: n, n });
const requantize = (d: GpuDevice, x: Int32Array, q: Requantization) => d.run(KERNELS.requantize, [bytes(x)], { length: x.length, ...q });

export interface GpuBenchOptions {
  sizes?: number[];
  reps?: number;
}

/**
 * Figures for the GPU kernels; an empty list (with a log line) when no adapter is available.
 * Releases the device before returning.
 */
export async function gpuFigures(log: (line: string) => void, options: GpuBenchOptions = {}): Promise<Figure[]> {
  const sizes = options.sizes ?? (process.env.BENCH_GPU_SIZES ?? '128,256,512').split(',').map(Number);
  const reps = options.reps ?? Number(process.env.BENCH_GPU_REPS ?? 3);
  // The bench is an edge: it reads HYPERWASM_GPU itself, as the CLI does.
  const mode = GPU_MODES.find((m) => m === process.env.HYPERWASM_GPU);
  const { device: kernels, description: info } = await openGpuDevice({ mode });
  if (!kernels) {
    log(`gpu: no adapter (${info.reason}); no GPU figures`);
    return [];
  }
  const device = `${info.vendor} ${info.device}`.trim() + (info.isFallbackAdapter ? ' (software)' : '');
  log(`gpu: ${info.source} adapter ${device}: ${info.description}`);
  const figures: Figure[] = [];
  try {
    const t = performance.now();
    await warmKernels(kernels);
    log(`gpu: pipelines ready in ${(performance.now() - t).toFixed(0)} ms`);

    const built = await buildModules();
    const wasm = await compileModule('K'.repeat(43), new Uint8Array(readFileSync(built.kernel)));
    const instance = new WebAssembly.Instance(wasm.module, { env: { abort() { throw new Error('abort'); } } });
    const wasmMatmul = instance.exports.matmul as (n: number, seed: number) => number;

    for (const n of sizes) {
      log(`gpu: i32 matmul ${n}×${n}×${n}…`);
      const seed = 7;
      const [a, b] = xorshiftMatrices(n, seed);
      const gpuC = await matmulI32(kernels, a, b, n);
      const cpuC = ref.matmulI32(a, b, n, n, n);
      if (!same(gpuC, cpuC)) throw new Error(`gpu bench: i32 matmul ${n}: GPU and CPU bytes differ`);
      if (checksum(gpuC) !== wasmMatmul(n, seed)) throw new Error(`gpu bench: i32 matmul ${n}: GPU checksum differs from the WASM module's`);
      const gpuMs = await medianMs(() => matmulI32(kernels, a, b, n), reps);
      const cpuMs = await medianMs(() => ref.matmulI32(a, b, n, n, n), reps);
      const wasmMs = await medianMs(() => wasmMatmul(n, seed), reps);
      const name = `GPU i32 matmul ${n}³ [${device}]`;
      figures.push({ id: `gpu-matmul-i32-${n}-vs-cpu`, name, value: gpuMs, unit: 'ms', baselineName: 'CPU reference (TypeScript)', baseline: cpuMs, better: 'lower' });
      figures.push({ id: `gpu-matmul-i32-${n}-vs-wasm`, name, value: gpuMs, unit: 'ms', baselineName: 'WASM matmul (modules/kernel.ts, incl. input fill)', baseline: wasmMs, better: 'lower' });

      log(`gpu: int8 matmul ${n}×${n}×${n}…`);
      const a8 = randomI8(n * n, 11);
      const b8 = randomI8(n * n, 13);
      if (!same(await matmulI8(kernels, a8, b8, n), ref.matmulI8(a8, b8, n, n, n))) throw new Error(`gpu bench: int8 matmul ${n}: GPU and CPU bytes differ`);
      const gpu8 = await medianMs(() => matmulI8(kernels, a8, b8, n), reps);
      const cpu8 = await medianMs(() => ref.matmulI8(a8, b8, n, n, n), reps);
      figures.push({ id: `gpu-matmul-i8-${n}-vs-cpu`, name: `GPU int8 matmul ${n}³${kernels.packedDot ? ' (dot4I8Packed)' : ''} [${device}]`, value: gpu8, unit: 'ms', baselineName: 'CPU reference (TypeScript)', baseline: cpu8, better: 'lower' });
    }

    const length = 1 << 20;
    log(`gpu: requantize ${length} elements…`);
    const x = xorshiftMatrices(1024, 3)[0];
    const q = { multiplier: 1_518_500_250, shift: 40, zeroPoint: -3 };
    if (!same(await requantize(kernels, x, q), ref.requantize(x, q))) throw new Error('gpu bench: requantize: GPU and CPU bytes differ');
    const gpuQ = await medianMs(() => requantize(kernels, x, q), reps);
    const cpuQ = await medianMs(() => ref.requantize(x, q), reps);
    figures.push({ id: 'gpu-requantize', name: `GPU requantize 2^20 i32→int8 [${device}]`, value: gpuQ, unit: 'ms', baselineName: 'CPU reference (TypeScript)', baseline: cpuQ, better: 'lower' });
    log(`gpu: buffers created ${kernels.pool.stats.created}, reused ${kernels.pool.stats.reused}`);
  } finally {
    kernels.close();
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await gpuFigures((line) => console.error(`[bench] ${line}`));
  console.log();
  printTable(figures);
}
