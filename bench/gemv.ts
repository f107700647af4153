// The int8 matrix-vector path of matmul_i8 (engine/gpu/wgsl/gemv.ts) beside the 64×64 tiles it
// replaces at small n and beside the CPU reference, at stories260K's shapes (dim 64, kv dim 32,
// hidden 172, vocabulary 512): microseconds per call, median, each call a whole device.run
// (operand upload, dispatch, readback), as the GPU worker makes it. Every GPU result is checked
// against the reference's bytes, so a figure is never of a wrong answer.
//
// Standalone: `node --import tsx bench/gemv.ts`. Options (environment): BENCH_GEMV_N (columns,
// default 1,2,4,8,16), BENCH_GEMV_REPS (default 30), BENCH_GEMV_THREADS (a list of invocations
// per row to sweep on the GEMV path instead of the default rule, e.g. 1,2,4,8,16).
// Wiring (bench/main.ts, by its owner): `import { gemvFigures } from './gemv.ts'`, then
// `figures.push(...(await gemvFigures(log)))`.
import { fileURLToPath } from 'node:url';
import { openGpuDevice, type GpuDevice } from '../engine/gpu/device.ts';
import { bytes, type Kernel } from '../engine/gpu/kernel.ts';
import { GEMV_N, matmulI8Gemv, matmulI8Tiled, type MatmulShapes } from '../engine/gpu/kernels/matmul.ts';
import { GEMV_MAX_N } from '../engine/gpu/wgsl/gemv.ts';
import { KERNELS } from '../engine/gpu/table.ts';
import { warmKernels } from '../engine/gpu/run.ts';
import * as ref from '../engine/gpu/reference.ts';
import type { Figure } from './figure.ts';

/** (m, k) of stories260K's products: wq/wo, wk/wv, w1/w3, w2 (k = 172), the tied classifier. */
export const MODEL_SHAPES: [number, number][] = [[64, 64], [32, 64], [172, 64], [64, 172], [512, 64]];

const list = (v: string | undefined, fallback: number[]) => (v ? v.split(',').map(Number) : fallback);

function int8s(n: number, seed: number): Int8Array {
  let s = seed >>> 0 || 1;
  return Int8Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s & 0xff) << 24) >> 24;
  });
}

function medianUs(samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] * 1000;
}

async function timeUs(fn: () => unknown, reps: number): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return medianUs(samples);
}

export interface GemvRow {
  m: number;
  k: number;
  n: number;
  /** µs per call: the default dispatch (GEMV for n ≤ GEMV_N), the tiles, the CPU reference. */
  gemvUs?: number;
  tiledUs: number;
  cpuUs: number;
  /** Invocations per row → µs, when BENCH_GEMV_THREADS sweeps them. */
  sweep?: Record<number, number>;
}

/** One row per shape and n; throws if any GPU result differs from the reference. */
export async function measureGemv(device: GpuDevice, options: { ns?: number[]; reps?: number; threads?: number[]; log?: (line: string) => void } = {}): Promise<GemvRow[]> {
  const ns = options.ns ?? [1, 2, 4, 8, 16];
  const reps = options.reps ?? 30;
  const rows: GemvRow[] = [];
  const check = async (kernel: Kernel<MatmulShapes>, inputs: Uint8Array[], shapes: MatmulShapes, expected: Uint8Array, what: string) => {
    const out = await device.run(kernel, inputs, shapes);
    if (Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.byteLength), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)) !== 0) {
      throw new Error(`gemv bench: ${what} ${shapes.m}×${shapes.k}×${shapes.n} differs from the CPU reference`);
    }
  };
  for (const [m, k] of MODEL_SHAPES) {
    for (const n of ns) {
      const a = int8s(m * k, m * 131 + k);
      const b = int8s(k * n, n * 7 + 3);
      const inputs = [bytes(a), bytes(b)];
      const shapes = { m, k, n };
      const expected = bytes(ref.matmulI8(a, b, m, k, n));
      await check(KERNELS.matmul_i8, inputs, shapes, expected, 'matmul_i8');
      await check(matmulI8Tiled, inputs, shapes, expected, 'tiled');
      const row: GemvRow = {
        m,
        k,
        n,
        tiledUs: await timeUs(() => device.run(matmulI8Tiled, inputs, shapes), reps),
        cpuUs: await timeUs(() => ref.matmulI8(a, b, m, k, n), Math.max(reps, 200)),
      };
      if (n <= GEMV_MAX_N) {
        row.gemvUs = await timeUs(() => device.run(KERNELS.matmul_i8, inputs, shapes), reps);
        if (options.threads) {
          row.sweep = {};
          for (const t of options.threads) {
            const kernel = matmulI8Gemv(t);
            await check(kernel, inputs, shapes, expected, `gemv T=${t}`);
            row.sweep[t] = await timeUs(() => device.run(kernel, inputs, shapes), reps);
          }
        }
      }
      rows.push(row);
      options.log?.(
        `gemv ${m}×${k}×${n}: ${row.gemvUs === undefined ? '' : `gemv ${row.gemvUs.toFixed(0)} µs, `}tiled ${row.tiledUs.toFixed(0)} µs, cpu ${row.cpuUs.toFixed(1)} µs` +
          (row.sweep ? `; by T: ${Object.entries(row.sweep).map(([t, us]) => `${t}:${us.toFixed(0)}`).join(' ')}` : ''),
      );
    }
  }
  return rows;
}

/** Figures for bench/main.ts: batch-1 GEMV beside the tiles, and beside the CPU reference, at each model shape. */
export async function gemvFigures(log: (line: string) => void = console.log): Promise<Figure[]> {
  const opened = await openGpuDevice();
  if (!opened.device) {
    log(`gemv: skipped: no WebGPU adapter (${opened.description.reason})`);
    return [];
  }
  const device = opened.device;
  try {
    await warmKernels(device);
    const rows = await measureGemv(device, { ns: [1], log });
    return rows.flatMap((r) => [
      { id: `gemv-vs-tiled-${r.m}x${r.k}`, name: `int8 GEMV ${r.m}×${r.k}·x (GPU, µs/call)`, value: r.gemvUs!, unit: 'µs', baselineName: '64×64 tiles', baseline: r.tiledUs, better: 'lower' as const },
      { id: `gemv-vs-cpu-${r.m}x${r.k}`, name: `int8 GEMV ${r.m}×${r.k}·x (GPU, µs/call)`, value: r.gemvUs!, unit: 'µs', baselineName: 'CPU reference', baseline: r.cpuUs, better: 'lower' as const },
    ]);
  } finally {
    device.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const opened = await openGpuDevice();
  if (!opened.device) {
    console.log(`gemv: no WebGPU adapter (${opened.description.reason}); run scripts/install-lavapipe.sh`);
  } else {
    const device = opened.device;
    const d = opened.description;
    console.log(`gemv: ${d.source} adapter ${d.vendor} / ${d.device}, features [${d.features.join(', ')}], GEMV up to n = ${GEMV_N}`);
    await warmKernels(device);
    const rows = await measureGemv(device, {
      ns: list(process.env.BENCH_GEMV_N, [1, 2, 4, 8, 16]),
      reps: Number(process.env.BENCH_GEMV_REPS ?? 30),
      threads: process.env.BENCH_GEMV_THREADS ? list(process.env.BENCH_GEMV_THREADS, []) : undefined,
      log: console.log,
    });
    console.log(JSON.stringify({ adapter: d, gemvN: GEMV_N, rows }));
    device.close();
  }
}
