// GPU kernels (engine/gpu): CPU references against hand-computed vectors and independent BigInt
// oracles (always run), and GPU-vs-CPU byte equality over many seeded random shapes (run when a
// WebGPU adapter exists: on CI, Mesa lavapipe from scripts/install-lavapipe.sh; skipped with the
// reason printed otherwise).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { statusOf } from '../gateway/errors.ts';
import { GpuDevice, KERNELS, KERNEL_NAMES, kernelGas, kernelLayout, openGpuDevice, runKernel, runReference, warmKernels } from '../engine/gpu/index.ts';
import { GEMV_N, gemvPipeline, planGemv, planMatmul } from '../engine/gpu/kernels/matmul.ts';
import type { Requantization } from '../engine/gpu/reference.ts';
import * as ref from '../engine/gpu/reference.ts';

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/** xorshift32, seeded: the same inputs on every run. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    u32: next,
    i32: () => next() | 0,
    int: (lo: number, hi: number) => lo + (next() % (hi - lo + 1)),
    i32s: (n: number) => Int32Array.from({ length: n }, () => next() | 0),
    i8s: (n: number) => Int8Array.from({ length: n }, () => (next() & 0xff) << 24 >> 24),
    small: (n: number, range: number) => Int32Array.from({ length: n }, () => (next() % range) - (range >> 1)),
  };
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function sameBytes(actual: ArrayBufferView, expected: ArrayBufferView, what: string) {
  const x = bytes(actual);
  const y = bytes(expected);
  assert.is(x.length, y.length, `${what}: length`);
  const at = x.findIndex((v, i) => v !== y[i]);
  assert.ok(at < 0, `${what}: first differing byte at ${at} of ${x.length}`);
}

// ---- independent oracles (BigInt, straight from the definitions) ----------------------------

function oracleMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Int32Array {
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0n;
      for (let p = 0; p < k; p++) sum += BigInt(a[i * k + p]) * BigInt(b[p * n + j]);
      c[i * n + j] = Number(BigInt.asIntN(32, sum));
    }
  return c;
}

function oracleRequantize(x: number, multiplier: number, shift: number, zeroPoint: number): number {
  const product = BigInt(x) * BigInt(multiplier);
  const magnitude = product < 0n ? -product : product;
  const rounded = shift === 0 ? magnitude : (magnitude + (1n << BigInt(shift - 1))) >> BigInt(shift); // half away from zero
  const q = Number(product < 0n ? -rounded : rounded) + zeroPoint;
  return Math.max(-128, Math.min(127, q));
}

// ---- CPU references: known answers ------------------------------------------------------------

const cpu = suite('gpu: CPU reference kernels');

cpu('i32 matmul: a hand-computed product and wrapping', () => {
  // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
  sameBytes(ref.matmulI32(Int32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(7, 8, 9, 10, 11, 12), 2, 3, 2), Int32Array.of(58, 64, 139, 154), '2×3·3×2');
  sameBytes(ref.matmulI32(Int32Array.of(I32_MAX), Int32Array.of(2), 1, 1, 1), Int32Array.of(-2), 'MAX·2 wraps to -2');
  sameBytes(ref.matmulI32(Int32Array.of(I32_MIN), Int32Array.of(-1), 1, 1, 1), Int32Array.of(I32_MIN), 'MIN·-1 wraps to MIN');
  sameBytes(ref.matmulI32(Int32Array.of(2 ** 30, 2 ** 30), Int32Array.of(2, 2), 1, 2, 1), Int32Array.of(0), '2^31 + 2^31 wraps to 0');
  sameBytes(ref.matmulI32(Int32Array.of(I32_MIN, I32_MIN), Int32Array.of(I32_MIN, I32_MAX), 1, 2, 1), Int32Array.of(I32_MIN), 'MIN·MIN + MIN·MAX');
  sameBytes(ref.matmulI32(new Int32Array(0), new Int32Array(0), 2, 0, 3), new Int32Array(6), 'k = 0 gives zeros');
});

cpu('int8 matmul: extremes and i32 accumulation that wraps', () => {
  sameBytes(ref.matmulI8(Int8Array.of(-128, 127), Int8Array.of(-128, -128), 1, 2, 1), Int32Array.of(128), '-128·-128 + 127·-128');
  sameBytes(ref.matmulI8(Int8Array.of(1, -2, 3, -4), Int8Array.of(5, 6, 7, 8), 2, 2, 2), Int32Array.of(5 - 14, 6 - 16, 15 - 28, 18 - 32), '2×2·2×2');
  const k = 131072; // 131072 · 16384 = 2^31: wraps to i32 MIN
  sameBytes(ref.matmulI8(new Int8Array(k).fill(-128), new Int8Array(k).fill(-128), 1, k, 1), Int32Array.of(I32_MIN), 'sum of 2^17 · 2^14 wraps');
});

cpu('matmuls agree with a BigInt oracle on random full-range inputs', () => {
  const r = prng(7);
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [9, 17, 4], [6, 33, 5]]) {
    const a = r.i32s(m * k);
    const b = r.i32s(k * n);
    sameBytes(ref.matmulI32(a, b, m, k, n), oracleMatmul(a, b, m, k, n), `i32 ${m}×${k}×${n}`);
    const a8 = r.i8s(m * k);
    const b8 = r.i8s(k * n);
    sameBytes(ref.matmulI8(a8, b8, m, k, n), oracleMatmul(a8, b8, m, k, n), `int8 ${m}×${k}×${n}`);
  }
});

/** [x, multiplier, shift, zeroPoint, expected], by hand. */
const REQUANT_VECTORS: [number, number, number, number, number][] = [
  [1, 1, 1, 0, 1], // 0.5 → 1 (half away from zero)
  [-1, 1, 1, 0, -1], // -0.5 → -1
  [3, 1, 1, 0, 2], // 1.5 → 2
  [-3, 1, 1, 0, -2], // -1.5 → -2
  [5, 1, 1, 0, 3], // 2.5 → 3
  [-5, 1, 1, 0, -3],
  [2, 1, 1, 0, 1],
  [7, 1, 2, 0, 2], // 1.75 → 2
  [-6, 1, 2, 0, -2], // -1.5 → -2
  [-5, 1, 2, 0, -1], // -1.25 → -1
  [0, 12345, 7, 5, 5], // zero point
  [10, 3, 0, -7, 23], // shift 0: 30 - 7
  [1000, 1, 0, 0, 127], // clamps
  [-1000, 1, 0, 0, -128],
  [100, 1, 0, 100, 127], // 200 clamps
  [-100, 1, 0, -100, -128],
  [I32_MIN, I32_MAX, 62, 0, -1], // -(2^31-1)/2^31 ≈ -0.99999 → -1
  [I32_MAX, I32_MAX, 62, 0, 1], // (2^31-1)^2/2^62 ≈ 0.99999 → 1
  [I32_MAX, I32_MAX, 63, 0, 0], // ≈ 0.49999 → 0
  [I32_MIN, 2 ** 30, 62, 0, -1], // exactly -0.5 → -1
  [I32_MIN, 2 ** 30, 62, 3, 2], // -1 + 3
  [I32_MIN, 2 ** 30, 63, 0, 0], // -0.25 → 0
  [I32_MIN, 2 ** 30, 61, 0, -1], // exactly -1
  [2 ** 30, 3, 32, 0, 1], // 0.75 → 1
  [2 ** 31 - 1, 1, 32, 0, 0], // just under 0.5 → 0
  [I32_MIN, 1, 32, 0, -1], // exactly -0.5 → -1
  [I32_MIN, 1, 33, 0, 0], // -0.25 → 0
  [1 << 24, 1 << 20, 37, 0, 127], // 2^44 / 2^37 = 128 → clamps to 127
  [-(1 << 24), 1 << 20, 37, 0, -128], // -128 exactly
  [-(1 << 24), 1 << 20, 37, 1, -127],
  [I32_MAX, I32_MAX, 1, 0, 127], // huge magnitude saturates, then clamps
  [I32_MIN, I32_MAX, 0, -128, -128],
  [1 << 20, 1 << 20, 33, 0, 127], // 2^40/2^33 = 128 → 127
];

cpu('requantisation: hand-computed ties, signs, shifts and clamps', () => {
  for (const [x, multiplier, shift, zeroPoint, expected] of REQUANT_VECTORS) {
    assert.is(oracleRequantize(x, multiplier, shift, zeroPoint), expected, `oracle ${x}·${multiplier}/2^${shift}+${zeroPoint}`);
    assert.is(ref.requantizeOne(x, multiplier, shift, zeroPoint), expected, `reference ${x}·${multiplier}/2^${shift}+${zeroPoint}`);
  }
});

cpu('requantisation agrees with the BigInt oracle on random inputs and every shift', () => {
  const r = prng(11);
  const specials = [0, 1, -1, 2, -2, I32_MAX, I32_MIN, I32_MIN + 1, 1 << 30, -(1 << 30), 65535, 65536, -65536];
  for (let shift = 0; shift <= 63; shift++) {
    for (let trial = 0; trial < 40; trial++) {
      const multiplier = trial % 5 === 0 ? [0, 1, 2 ** 31 - 1, 2 ** 30, 65536][trial / 5 % 5] : r.u32() >>> 1 >>> (r.u32() % 31);
      const zeroPoint = r.int(-128, 127);
      const x = trial < specials.length ? specials[trial] : trial % 2 ? r.i32() : r.i32() >> (r.u32() % 31);
      assert.is(ref.requantizeOne(x, multiplier, shift, zeroPoint), oracleRequantize(x, multiplier, shift, zeroPoint), `${x}·${multiplier}/2^${shift}+${zeroPoint}`);
    }
  }
});

cpu('add, relu and argmax: known answers', () => {
  sameBytes(ref.addI32(Int32Array.of(I32_MAX, I32_MIN, 5), Int32Array.of(1, -1, -7)), Int32Array.of(I32_MIN, I32_MAX, -2), 'wrapping add');
  sameBytes(ref.addI32(Int32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(10, 20, 30)), Int32Array.of(11, 22, 33, 14, 25, 36), 'bias row');
  sameBytes(ref.reluI32(Int32Array.of(-5, 0, 7, I32_MIN, I32_MAX)), Int32Array.of(0, 0, 7, 0, I32_MAX), 'relu');
  const x = Int32Array.of(3, 7, 7, 1, /**/ -5, -5, -9, -5, /**/ 2, 2, 2, 2, /**/ I32_MIN, I32_MIN, I32_MIN, I32_MAX);
  sameBytes(ref.argmaxI32(x, 4, 4), Uint32Array.of(1, 0, 0, 3), 'argmax, ties to the lowest index');
  sameBytes(ref.argmaxI32(Int32Array.of(9), 1, 1), Uint32Array.of(0), '1×1');
});

cpu('runKernel on bytes, gas from shapes only, malformed calls refused', async () => {
  const a = bytes(Int32Array.of(1, 2, 3, 4, 5, 6));
  const b = bytes(Int32Array.of(7, 8, 9, 10, 11, 12));
  const result = await runKernel(undefined, 'matmul_i32', { m: 2, k: 3, n: 2 }, [a, b]);
  assert.is(result.backend, 'cpu');
  sameBytes(result.output, Int32Array.of(58, 64, 139, 154), 'runKernel bytes');
  // an unaligned input (a pointer into a module's memory need not be 4-byte aligned)
  const unaligned = new Uint8Array(a.length + 1).subarray(1);
  unaligned.set(a);
  sameBytes(runReference('matmul_i32', { m: 2, k: 3, n: 2 }, [unaligned, b]), Int32Array.of(58, 64, 139, 154), 'unaligned input');
  sameBytes(runReference('requantize', { length: 3, multiplier: 1, shift: 1, zeroPoint: 0 }, [bytes(Int32Array.of(1, -3, 5))]), Int8Array.of(1, -2, 3), 'requantize bytes');
  sameBytes(runReference('argmax_i32', { rows: 1, cols: 3 }, [bytes(Int32Array.of(1, 5, 5))]), Uint32Array.of(1), 'argmax bytes');

  assert.is(kernelGas('matmul_i32', { m: 2, k: 3, n: 4 }), 1000n + 24n + 8n);
  assert.is(kernelGas('matmul_i8', { m: 256, k: 256, n: 256 }), 1000n + 256n ** 3n + 256n ** 2n);
  assert.is(kernelGas('relu_i32', { length: 10 }), 1010n);
  assert.is(kernelGas('argmax_i32', { rows: 3, cols: 5 }), 1015n);
  assert.equal(kernelLayout('matmul_i8', { m: 2, k: 3, n: 4 }), { inputs: [6, 12], output: 32 });

  const refuses = (fn: () => unknown, pattern: RegExp) => {
    try {
      fn();
    } catch (error) {
      assert.match((error as Error).message, pattern);
      assert.is(statusOf(error), 422);
      return;
    }
    assert.unreachable(`expected ${pattern}`);
  };
  refuses(() => kernelGas('matmul_i32', { m: -1, k: 1, n: 1 }), /m must be a non-negative integer/);
  refuses(() => kernelGas('matmul_i32', { m: 1.5, k: 1, n: 1 }), /m must be/);
  refuses(() => kernelGas('requantize', { length: 1, multiplier: 2 ** 31, shift: 0, zeroPoint: 0 }), /multiplier/);
  refuses(() => kernelGas('requantize', { length: 1, multiplier: 1, shift: 64, zeroPoint: 0 }), /shift/);
  refuses(() => kernelGas('requantize', { length: 1, multiplier: 1, shift: 0, zeroPoint: 128 }), /zeroPoint/);
  refuses(() => kernelGas('add_i32', { length: 10, bLength: 3 }), /bLength/);
  refuses(() => kernelGas('argmax_i32', { rows: 2, cols: 0 }), /cols/);
  refuses(() => kernelGas('matmul_i32', { m: 2 ** 16, k: 2 ** 16, n: 1 }), /exceeds/);
  refuses(() => runReference('relu_i32', { length: 2 }, [new Uint8Array(4)]), /input 0 must be 8 bytes/);
  refuses(() => runReference('relu_i32', { length: 2 }, []), /expects 1 inputs/);
  refuses(() => kernelGas('nope' as 'relu_i32', { length: 1 }), /unknown kernel/);
});

cpu('one record per kernel: the table\'s names are the records\' names, the sample calls are valid', () => {
  assert.equal(KERNEL_NAMES, ['matmul_i32', 'matmul_i8', 'requantize', 'add_i32', 'relu_i32', 'argmax_i32']);
  for (const name of KERNEL_NAMES) {
    const kernel = KERNELS[name];
    assert.is(kernel.name, name);
    assert.is(kernel.signature.split(kernel.signature.params.map((_, i) => i)).inputs.length, kernelLayout(name, kernel.sample.shapes).inputs.length, name);
    assert.ok(runReference(name, kernel.sample.shapes, kernel.sample.inputs) instanceof Uint8Array, name);
  }
});

cpu.run();

// ---- GPU vs CPU --------------------------------------------------------------------------------

// This file's own device (tests make their own GPU, as a node does: no process-wide state).
const opened = await openGpuDevice();
const kernels = opened.device;
const gpuTest = suite('gpu: WebGPU kernels equal the CPU references byte for byte');
const test = kernels ? gpuTest : gpuTest.skip;
if (!kernels) console.log(`gpu: skipped: no WebGPU adapter (${opened.description.reason}); run scripts/install-lavapipe.sh`);
/** Small limits, so that modest shapes exercise every split path. */
const tiny = kernels && new GpuDevice(kernels.gpu, { limits: { maxStorageBindingBytes: 64 * 1024, maxWorkgroupsPerDimension: 3 } });

// The kernels on a device, over typed arrays (the records take and give bytes).
const matmulI32 = (d: GpuDevice, a: Int32Array, b: Int32Array, m: number, k: number, n: number) => d.run(KERNELS.matmul_i32, [bytes(a), bytes(b)], { m, k, n });
const matmulI8 = (d: GpuDevice, a: Int8Array, b: Int8Array, m: number, k: number, n: number) => d.run(KERNELS.matmul_i8, [bytes(a), bytes(b)], { m, k, n });
const requantize = async (d: GpuDevice, x: Int32Array, q: Requantization) => {
  const out = await d.run(KERNELS.requantize, [bytes(x)], { length: x.length, ...q });
  return new Int8Array(out.buffer, out.byteOffset, out.byteLength);
};
const addI32 = (d: GpuDevice, a: Int32Array, b: Int32Array) => d.run(KERNELS.add_i32, [bytes(a), bytes(b)], { length: a.length, bLength: b.length });
const reluI32 = (d: GpuDevice, x: Int32Array) => d.run(KERNELS.relu_i32, [bytes(x)], { length: x.length });
const argmaxI32 = (d: GpuDevice, x: Int32Array, rows: number, cols: number) => d.run(KERNELS.argmax_i32, [bytes(x)], { rows, cols });

gpuTest.before(async () => {
  if (!kernels) return;
  const d = opened.description;
  console.log(`gpu: ${d.source} adapter: ${d.vendor} / ${d.architecture} / ${d.device} (${d.description}), fallback ${d.isFallbackAdapter}, features [${d.features.join(', ')}]`);
  const t = performance.now();
  await warmKernels(kernels);
  await warmKernels(tiny!);
  console.log(`gpu: pipelines compiled and warmed in ${(performance.now() - t).toFixed(0)} ms`);
});

gpuTest.after(async () => {
  tiny?.dispose();
  kernels?.close(); // destroys the device and drops Dawn's instance, so the process can exit
});

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 2, 1], [2, 1, 3], [3, 5, 7], [1, 300, 1], [7, 1, 9], [17, 33, 65], [64, 64, 64], [65, 63, 66], [31, 129, 1], [1, 128, 130], [100, 3, 100], [255, 257, 31], [129, 255, 257],
];

test('device description', async () => {
  const d = opened.description;
  assert.is(d.backend, 'gpu');
  assert.type(d.vendor, 'string');
  assert.type(d.isFallbackAdapter, 'boolean');
});

test('i32 matmul over many shapes, full-range inputs that wrap', async () => {
  const r = prng(1);
  for (const [m, k, n] of SHAPES) {
    const a = r.i32s(m * k);
    const b = r.i32s(k * n);
    sameBytes(await matmulI32(kernels!, a, b, m, k, n), ref.matmulI32(a, b, m, k, n), `i32 ${m}×${k}×${n}`);
  }
  const extremes = Int32Array.from({ length: 40 * 37 }, (_, i) => [I32_MIN, I32_MAX, -1, 1, 0][i % 5]);
  sameBytes(await matmulI32(kernels!, extremes, extremes, 40, 37, 40), ref.matmulI32(extremes, extremes, 40, 37, 40), 'i32 extremes');
});

test('int8 matmul over many shapes (K not a multiple of 4), extremes, packed and by hand', async () => {
  const r = prng(2);
  const manual = new GpuDevice(kernels!.gpu, { packedDot: false });
  const variants = kernels!.packedDot ? [kernels!, manual] : [manual];
  for (const [m, k, n] of [...SHAPES, [5, 2, 3], [9, 3, 8], [33, 5, 17], [8, 257, 8]] as [number, number, number][]) {
    const a = r.i8s(m * k);
    const b = r.i8s(k * n);
    const expected = ref.matmulI8(a, b, m, k, n);
    for (const g of variants) sameBytes(await matmulI8(g, a, b, m, k, n), expected, `int8 ${m}×${k}×${n}${g === manual ? ' (by hand)' : ''}`);
  }
  const ext = Int8Array.from({ length: 70 * 71 }, (_, i) => [-128, 127, -1, 0, 1][i % 5]);
  for (const g of variants) sameBytes(await matmulI8(g, ext, ext, 70, 71, 70), ref.matmulI8(ext, ext, 70, 71, 70), 'int8 extremes');
  const k = 131072; // i32 accumulation wraps: 2^17 · (-128)² = 2^31
  const column = new Int8Array(k).fill(-128);
  for (const g of variants) sameBytes(await matmulI8(g, column, column, 1, k, 1), Int32Array.of(I32_MIN), 'int8 accumulation wraps');
  manual.dispose();
});

/** stories260K's products, (m, k): wq/wo, wk/wv, w1/w3, w2, the tied classifier. */
const MODEL_GEMV: [number, number][] = [[64, 64], [32, 64], [172, 64], [64, 172], [512, 64]];

test('int8 GEMV (n ≤ GEMV_N) at the model\'s shapes and odd K, random and extreme, packed and by hand', async () => {
  const r = prng(12);
  const manual = new GpuDevice(kernels!.gpu, { packedDot: false });
  const variants = kernels!.packedDot ? [kernels!, manual] : [manual];
  const shapes: [number, number][] = [...MODEL_GEMV, [1, 1], [3, 5], [13, 171], [65, 3], [257, 66], [1, 300]];
  for (const [m, k] of shapes) {
    for (let n = 1; n <= GEMV_N; n++) {
      const a = r.i8s(m * k);
      const b = r.i8s(k * n);
      const expected = ref.matmulI8(a, b, m, k, n);
      for (const g of variants) sameBytes(await matmulI8(g, a, b, m, k, n), expected, `gemv ${m}×${k}×${n}${g === manual ? ' (by hand)' : ''}`);
    }
  }
  // extremes: all −128 (every product +2^14), and a pattern of −128, 127, −1, 0, 1
  for (const [m, k] of MODEL_GEMV) {
    for (const n of [1, GEMV_N]) {
      const low = new Int8Array(m * k).fill(-128);
      const lowB = new Int8Array(k * n).fill(-128);
      const mixed = Int8Array.from({ length: m * k }, (_, i) => [-128, 127, -1, 0, 1][i % 5]);
      const mixedB = Int8Array.from({ length: k * n }, (_, i) => [127, -128, 1, -1, 0, -128][i % 6]);
      for (const g of variants) {
        sameBytes(await matmulI8(g, low, lowB, m, k, n), ref.matmulI8(low, lowB, m, k, n), `gemv −128s ${m}×${k}×${n}`);
        sameBytes(await matmulI8(g, mixed, mixedB, m, k, n), ref.matmulI8(mixed, mixedB, m, k, n), `gemv extremes ${m}×${k}×${n}`);
      }
    }
  }
  // i32 accumulation that wraps, in every column: 2^17 · (−128)² = 2^31, and one more product
  const k = 131073;
  const a = new Int8Array(2 * k).fill(-128);
  a[2 * k - 1] = 3;
  const b = new Int8Array(k * GEMV_N).fill(-128);
  const expected = ref.matmulI8(a, b, 2, k, GEMV_N);
  for (const g of variants) sameBytes(await matmulI8(g, a, b, 2, k, GEMV_N), expected, 'gemv accumulation wraps');
  assert.is(expected[0], I32_MIN + 16384, 'the reference wraps');
  manual.dispose();
});

test('matmul_i8 takes the GEMV pipeline for n ≤ GEMV_N and the tiles above', async () => {
  const d = new GpuDevice(kernels!.gpu);
  const gemv = await gemvPipeline(d);
  const used: GPUComputePipeline[] = [];
  const dispatch = d.dispatch.bind(d);
  d.dispatch = (pipeline, ...rest) => {
    used.push(pipeline);
    dispatch(pipeline, ...rest);
  };
  const r = prng(13);
  for (const n of [1, GEMV_N, GEMV_N + 1]) {
    used.length = 0;
    const a = r.i8s(172 * 64);
    const b = r.i8s(64 * n);
    sameBytes(await matmulI8(d, a, b, 172, 64, n), ref.matmulI8(a, b, 172, 64, n), `172×64×${n}`);
    assert.ok(used.length > 0, 'dispatched');
    assert.is(used.every((p) => p === gemv), n <= GEMV_N, `n = ${n}: ${n <= GEMV_N ? 'GEMV' : 'tiled'}`);
  }
  d.dispose();
});

test('requantisation: hand vectors, random inputs and parameters, lengths not a multiple of 4', async () => {
  for (const [x, multiplier, shift, zeroPoint, expected] of REQUANT_VECTORS) {
    const out = await requantize(kernels!, Int32Array.of(x), { multiplier, shift, zeroPoint });
    assert.is(out[0], expected, `${x}·${multiplier}/2^${shift}+${zeroPoint}`);
  }
  const r = prng(3);
  for (const length of [1, 2, 3, 4, 5, 1023, 1025, 4099]) {
    for (let trial = 0; trial < 6; trial++) {
      const q = { multiplier: r.u32() >>> 1 >>> (r.u32() % 31), shift: r.int(0, 63), zeroPoint: r.int(-128, 127) };
      const x = trial % 2 ? r.i32s(length) : Int32Array.from({ length }, () => r.i32() >> r.int(0, 31));
      sameBytes(await requantize(kernels!, x, q), ref.requantize(x, q), `requantize ${length} ${JSON.stringify(q)}`);
    }
  }
  // exact ties at every shift: x·M = (2j+1)·2^(s-1)
  for (let shift = 1; shift <= 31; shift++) {
    const x = Int32Array.from({ length: 64 }, (_, j) => (j % 2 ? -1 : 1) * (2 * (j >> 1) + 1) * 2 ** (shift - 1));
    const q = { multiplier: 1, shift, zeroPoint: 0 };
    sameBytes(await requantize(kernels!, x, q), ref.requantize(x, q), `ties at shift ${shift}`);
  }
});

test('add (plain and bias rows), relu', async () => {
  const r = prng(4);
  for (const length of [1, 3, 255, 256, 257, 65537]) {
    const a = r.i32s(length);
    const b = r.i32s(length);
    sameBytes(await addI32(kernels!, a, b), ref.addI32(a, b), `add ${length}`);
    sameBytes(await reluI32(kernels!, a), ref.reluI32(a), `relu ${length}`);
  }
  const a = Int32Array.of(I32_MAX, I32_MIN, -1, 0);
  sameBytes(await addI32(kernels!, a, Int32Array.of(1, -1, I32_MIN, I32_MAX)), Int32Array.of(I32_MIN, I32_MAX, I32_MAX, I32_MAX), 'add wraps');
  for (const [rows, cols] of [[1, 1], [7, 3], [300, 65], [2, 1000]]) {
    const x = r.i32s(rows * cols);
    const bias = r.i32s(cols);
    sameBytes(await addI32(kernels!, x, bias), ref.addI32(x, bias), `bias ${rows}×${cols}`);
  }
});

test('argmax with many ties', async () => {
  const r = prng(5);
  for (const [rows, cols] of [[1, 1], [1, 1000], [300, 7], [1000, 3], [3, 10000], [65, 64], [17, 65]]) {
    for (const range of [2, 5, 2 ** 31]) {
      const x = range === 2 ** 31 ? r.i32s(rows * cols) : r.small(rows * cols, range);
      sameBytes(await argmaxI32(kernels!, x, rows, cols), ref.argmaxI32(x, rows, cols), `argmax ${rows}×${cols} range ${range}`);
    }
  }
  const same = new Int32Array(5 * 100).fill(I32_MIN);
  sameBytes(await argmaxI32(kernels!, same, 5, 100), new Uint32Array(5), 'all equal → index 0');
});

test('operands larger than one binding or one dispatch are split (small limits)', async () => {
  const r = prng(6);
  const plan = planMatmul(200, 300, 190, false, tiny!.limits);
  assert.ok(plan.mt < 200 && plan.kt < 300 && plan.nt < 190, `plan splits every dimension: ${JSON.stringify(plan)}`);
  for (const [m, k, n] of [[200, 300, 190], [1, 20000, 1], [300, 1, 300], [65, 5000, 3]]) {
    const a = r.i32s(m * k);
    const b = r.i32s(k * n);
    sameBytes(await matmulI32(tiny!, a, b, m, k, n), ref.matmulI32(a, b, m, k, n), `split i32 ${m}×${k}×${n}`);
    const a8 = r.i8s(m * k);
    const b8 = r.i8s(k * n);
    sameBytes(await matmulI8(tiny!, a8, b8, m, k, n), ref.matmulI8(a8, b8, m, k, n), `split int8 ${m}×${k}×${n}`);
  }
  // the GEMV path's splits: rows beyond one dispatch (3 workgroups) and one binding, K beyond one binding
  assert.ok(planGemv(2000, 64, 1, tiny!.limits, true).mt < 2000, 'gemv splits rows');
  assert.ok(planGemv(1, 100_000, 1, tiny!.limits, true).kt < 100_000, 'gemv splits K');
  for (const [m, k, n] of [[2000, 64, 1], [1000, 171, GEMV_N], [1, 100_000, 1], [70, 20_000, 4], [600, 172, 2]]) {
    const a8 = r.i8s(m * k);
    const b8 = r.i8s(k * n);
    sameBytes(await matmulI8(tiny!, a8, b8, m, k, n), ref.matmulI8(a8, b8, m, k, n), `split gemv ${m}×${k}×${n}`);
  }
  const x = r.i32s(100_003);
  const y = r.i32s(100_003);
  sameBytes(await reluI32(tiny!, x), ref.reluI32(x), 'split relu');
  sameBytes(await addI32(tiny!, x, y), ref.addI32(x, y), 'split add');
  const big = r.i32s(40_000);
  const bias = r.i32s(20_000); // b itself exceeds one binding
  sameBytes(await addI32(tiny!, big, bias), ref.addI32(big, bias), 'split add, large bias');
  const bias2 = r.i32s(1000);
  sameBytes(await addI32(tiny!, x.subarray(0, 100_000), bias2), ref.addI32(x.subarray(0, 100_000), bias2), 'split add, bias across chunks');
  const q = { multiplier: 1_500_000_001, shift: 45, zeroPoint: -9 };
  sameBytes(await requantize(tiny!, x, q), ref.requantize(x, q), 'split requantize');
  for (const [rows, cols] of [[2000, 5], [3, 20_000], [4, 17_000]]) {
    const v = r.small(rows * cols, 7);
    sameBytes(await argmaxI32(tiny!, v, rows, cols), ref.argmaxI32(v, rows, cols), `split argmax ${rows}×${cols}`);
  }
});

test('more elements than one dispatch of the real device', async () => {
  const n = kernels!.limits.maxWorkgroupsPerDimension * 256 + 1001; // 256 invocations per workgroup
  const x = Int32Array.from({ length: n }, (_, i) => (i * 2654435761) | 0);
  sameBytes(await reluI32(kernels!, x), ref.reluI32(x), `relu over ${n} elements`);
});

test('buffers and pipelines are reused across calls', async () => {
  const r = prng(8);
  const a = r.i32s(128 * 128);
  await matmulI32(kernels!, a, a, 128, 128, 128);
  const created = kernels!.pool.stats.created;
  for (let i = 0; i < 3; i++) await matmulI32(kernels!, a, a, 128, 128, 128);
  assert.is(kernels!.pool.stats.created, created, 'no new buffers for repeated calls of one shape');
});

test('runKernel takes the GPU and returns the reference bytes', async () => {
  const r = prng(9);
  const a = r.i8s(33 * 47);
  const b = r.i8s(47 * 29);
  const shapes = { m: 33, k: 47, n: 29 };
  const gpu = await runKernel(kernels, 'matmul_i8', shapes, [bytes(a), bytes(b)]);
  const cpuResult = await runKernel(undefined, 'matmul_i8', shapes, [bytes(a), bytes(b)]);
  assert.is(gpu.backend, 'gpu');
  assert.is(cpuResult.backend, 'cpu');
  sameBytes(gpu.output, cpuResult.output, 'runKernel gpu vs cpu');
  // operands at odd byte offsets (pointers into a module's memory need not be aligned)
  const memory = new Uint8Array(1 + 5 * 8 + 8 * 3).map((_, i) => (i * 37) & 0xff);
  const [ua, ub] = [memory.subarray(1, 41), memory.subarray(41)];
  const unaligned = await runKernel(kernels, 'matmul_i8', { m: 5, k: 8, n: 3 }, [ua, ub]);
  assert.is(unaligned.backend, 'gpu');
  sameBytes(unaligned.output, runReference('matmul_i8', { m: 5, k: 8, n: 3 }, [ua, ub]), 'unaligned int8 operands');
  const x = r.i32s(1001);
  const rq = { length: 1001, multiplier: 1 << 30, shift: 38, zeroPoint: 3 };
  sameBytes((await runKernel(kernels, 'requantize', rq, [bytes(x)])).output, runReference('requantize', rq, [bytes(x)]), 'runKernel requantize');
});

gpuTest.run();
