// The integer matrix products, matmul_i32 and matmul_i8: C[m×n] = A[m×k]·B[k×n], wrapping i32
// (int8 operands accumulate in i32). On the GPU a product is split into tiles of C, and of K
// (accumulated in C: wrapping addition is associative, so a split sum is the same integer),
// whenever an operand exceeds one storage binding or a grid exceeds the workgroups of one
// dispatch; int8 operands are packed four per word along K (B transposed).
//
// An int8 product with at most GEMV_N columns (a language model's batch 1) is dispatched to the
// matrix-vector shader (wgsl/gemv.ts) instead of the 64×64 tiles, which would leave all but n of
// every 64 columns idle. Only the dispatch differs: same kernel, gas and bytes.
import type { GpuLimits } from '../adapter.ts';
import { ceilDiv, roundUp, type Binding, type GpuDevice } from '../device.ts';
import { KERNEL_CALL_GAS, bounded, bytes, counts, i32, i8, type Kernel } from '../kernel.ts';
import * as ref from '../reference.ts';
import { GEMV_MAX_N, GEMV_WORKGROUP, gemvI8Wgsl } from '../wgsl/gemv.ts';
import { TILE, matmulI32Wgsl, matmulI8Wgsl } from '../wgsl/matmul.ts';

/**
 * Columns of B up to which matmul_i8 takes the matrix-vector shader. Measured on lavapipe
 * (bench/gemv.ts): GEMV beats the tiles at every model shape up to n = 8, the most one dispatch
 * holds (GEMV_MAX_N).
 */
export const GEMV_N = GEMV_MAX_N;

export interface MatmulShapes {
  m: number;
  k: number;
  n: number;
}

/** A matmul split: tile sizes along M, K and N. */
export interface MatmulPlan {
  mt: number;
  kt: number;
  nt: number;
}

/**
 * Tile sizes for C[m×n] = A[m×k]·B[k×n] so that A, B and C tiles each fit one binding and the
 * grid fits one dispatch. `int8`: A and B are packed 4 per word along K.
 */
export function planMatmul(m: number, k: number, n: number, int8: boolean, limits: GpuLimits): MatmulPlan {
  const L = limits.maxStorageBindingBytes;
  const maxRows = limits.maxWorkgroupsPerDimension * TILE;
  const aBytes = (mt: number, kt: number) => (int8 ? mt * ceilDiv(kt, 4) * 4 : mt * kt * 4);
  const halve = (x: number) => Math.max(TILE, roundUp(ceilDiv(x, 2), TILE));
  let mt = m;
  let kt = k;
  let nt = n;
  for (;;) {
    const c = mt * nt * 4;
    if ((c > L || mt > maxRows || nt > maxRows) && (mt > TILE || nt > TILE)) {
      if (mt >= nt) mt = halve(mt);
      else nt = halve(nt);
    } else if (aBytes(mt, kt) > L && (kt > TILE || mt > TILE)) {
      if (kt > TILE) kt = halve(kt);
      else mt = halve(mt);
    } else if (aBytes(nt, kt) > L && (kt > TILE || nt > TILE)) {
      if (kt > TILE) kt = halve(kt);
      else nt = halve(nt);
    } else break;
  }
  return { mt: Math.min(mt, m), kt: Math.min(kt, k), nt: Math.min(nt, n) };
}

function matmulKernel(int8: boolean): Kernel<MatmulShapes> {
  const name = int8 ? 'matmul_i8' : 'matmul_i32';
  const element = int8 ? 1 : 4;
  const kernel: Kernel<MatmulShapes> = {
    name,
    signature: {
      params: ['a', 'b', 'c', 'm', 'k', 'n'],
      split: ([a, b, c, m, k, n]) => ({ inputs: [a, b], output: c, shapes: { m, k, n } }),
    },
    layout(shapes) {
      const [m, k, n] = counts(name, shapes, 'm', 'k', 'n');
      bounded(name, shapes, m * k, k * n, m * n);
      return { inputs: [m * k * element, k * n * element], output: m * n * 4 };
    },
    // m·k·n multiply-adds + m·n results
    gas: ({ m, k, n }) => KERNEL_CALL_GAS + BigInt(m) * BigInt(k) * BigInt(n) + BigInt(m) * BigInt(n),
    reference: ([a, b], { m, k, n }) => bytes(int8 ? ref.matmulI8(i8(a), i8(b), m, k, n) : ref.matmulI32(i32(a), i32(b), m, k, n)),
    // i32 operands at an odd offset are copied aligned first, as the reference's views are
    run: async (device, inputs, { m, k, n }) => {
      const [a, b] = inputs;
      if (!int8) return bytes(await matmul(device, kernel, false, bytes(i32(a)), bytes(i32(b)), m, k, n));
      // The warm-up (run.ts warmKernels) passes the sample's own arrays: compile both int8
      // pipelines then, since lavapipe compiles a shader at its first dispatch.
      if (inputs === kernel.sample.inputs) await matmul(device, kernel, true, a, b, m, k, n);
      return bytes(n <= GEMV_N ? await gemv(device, kernel, a, b, m, k, n) : await matmul(device, kernel, true, a, b, m, k, n));
    },
    shader: ({ packedDot }) =>
      !int8 ? { key: 'matmul_i32', wgsl: () => matmulI32Wgsl } : { key: packedDot ? 'matmul_i8_dot4' : 'matmul_i8_manual', wgsl: () => matmulI8Wgsl(packedDot) },
    sample: { shapes: { m: 1, k: 1, n: 1 }, inputs: [new Uint8Array(element).fill(1), new Uint8Array(element).fill(1)] },
  };
  return kernel;
}

/** C[m×n] = A[m×k]·B[k×n], wrapping i32 (see reference.matmulI32). */
export const matmulI32 = matmulKernel(false);
/** C[m×n] (i32) = A[m×k]·B[k×n], int8 operands, i32 accumulation (see reference.matmulI8). */
export const matmulI8 = matmulKernel(true);

/** matmul_i8 on the 64×64 tiles at every n: not in the table; for benches comparing the two paths. */
export const matmulI8Tiled: Kernel<MatmulShapes> = {
  ...matmulI8,
  run: async (device, [a, b], { m, k, n }) => bytes(await matmul(device, matmulI8, true, a, b, m, k, n)),
};

/** matmul_i8 on the matrix-vector shader (n ≤ GEMV_MAX_N), `threads` invocations per row if given: for benches. */
export const matmulI8Gemv = (threads?: number): Kernel<MatmulShapes> => ({
  ...matmulI8,
  run: async (device, [a, b], { m, k, n }) => bytes(await gemv(device, matmulI8, a, b, m, k, n, threads)),
});

/** The matrix-vector pipeline's shader: its own cache key beside matmul_i8's tiled one. */
export const gemvShader = ({ packedDot }: { packedDot: boolean }) => ({
  key: packedDot ? 'matmul_i8_gemv_dot4' : 'matmul_i8_gemv_manual',
  wgsl: () => gemvI8Wgsl(packedDot),
});

/** The compiled matrix-vector pipeline on a device. */
export const gemvPipeline = (device: GpuDevice) => device.pipeline({ ...matmulI8, shader: gemvShader });

/**
 * Invocations per row of C (T in wgsl/gemv.ts; a power of two ≤ GEMV_WORKGROUP) for rows of `kw`
 * packed words. On a GPU, enough that a row's words are read by adjacent invocations together (a
 * warp reads consecutive words) with about four words each; on a CPU adapter (lavapipe, where a
 * workgroup is a loop on one core) fewer, since each extra lane only adds reduction steps: in
 * bench/gemv.ts on lavapipe T = 1 or 2 was fastest at the model's shapes (k = 64, 172).
 */
export function gemvThreads(kw: number, software: boolean): number {
  const perThread = software ? 32 : 4;
  let t = 1;
  while (t < GEMV_WORKGROUP && t * perThread < kw) t *= 2;
  return t;
}

/** A matrix-vector split: rows of C and depth of K per dispatch, invocations per row. */
export interface GemvPlan {
  mt: number;
  kt: number;
  threads: number;
}

/**
 * Rows and depth per dispatch so that A's rows, B's n columns and C's rows each fit one binding
 * and the rows fit one dispatch's workgroups. K is split only when B's columns alone exceed a
 * binding; rows are cut first, since whole rows of an already packed A are bound uncopied.
 */
export function planGemv(m: number, k: number, n: number, limits: GpuLimits, software: boolean, threads?: number): GemvPlan {
  const L = limits.maxStorageBindingBytes;
  let kt = k;
  while (n * ceilDiv(kt, 4) * 4 > L && kt > TILE) kt = roundUp(ceilDiv(kt, 2), TILE);
  const kw = ceilDiv(kt, 4);
  const t = threads ?? gemvThreads(kw, software);
  const perGroup = GEMV_WORKGROUP / t;
  const mt = Math.max(1, Math.min(m, Math.floor(L / (kw * 4)), Math.floor(L / (n * 4)), limits.maxWorkgroupsPerDimension * perGroup));
  return { mt, kt: Math.min(kt, k), threads: t };
}

/** The buffers of one product dispatch (A rows, B columns, C), each bound `size` bytes. */
export interface PassBindings {
  a: Binding;
  b: Binding;
  c: Binding;
}

/**
 * One matrix-vector dispatch: C[rows×n] (+)= A[rows×kw words]·B[n×kw words]ᵀ, `threads` invocations
 * per row; then, optionally, C copied into a readback buffer. Exposed for scripts/gpu-check.ts, which
 * times it on device-resident buffers.
 */
export function gemvPass(
  device: GpuDevice,
  pipeline: GPUComputePipeline,
  { a, b, c }: PassBindings,
  rows: number,
  kw: number,
  n: number,
  threads: number,
  accumulate: boolean,
  copy?: { to: GPUBuffer; offset: number },
): void {
  const shift = Math.log2(threads);
  const params = device.uniform([rows, kw, n, (accumulate ? 1 : 0) | (shift << 8)]);
  const groups = ceilDiv(rows, GEMV_WORKGROUP / threads);
  device.dispatch(pipeline, [a, b, c, params], groups, 1, copy && { from: c.buffer, to: copy.to, offset: copy.offset, bytes: c.size });
}

async function gemv(device: GpuDevice, kernel: Kernel<MatmulShapes>, a: Uint8Array, b: Uint8Array, m: number, k: number, n: number, threads?: number): Promise<Int32Array> {
  if (n > GEMV_MAX_N) throw new Error(`matmul_i8: the matrix-vector shader takes at most ${GEMV_MAX_N} columns, got ${n}`);
  const c = new Int32Array(m * n);
  if (m === 0 || n === 0 || k === 0) return c;
  const pipeline = await device.pipeline({ ...kernel, shader: gemvShader });
  const software = device.gpu.description.isFallbackAdapter;
  const { mt, kt, threads: t } = planGemv(m, k, n, device.limits, software, threads);
  const kwMax = ceilDiv(kt, 4);
  const bufA = device.buffer('storage', mt * kwMax * 4);
  const bufB = device.buffer('storage', n * kwMax * 4);
  const bufC = device.buffer('storage', mt * n * 4);
  const cBytes = new Uint8Array(c.buffer);
  const readback = device.readback(m * n * 4);
  // B's K-slices, packed once and reused by every block of rows
  const bTiles: Uint8Array[] = [];
  for (let ki = 0; ki < k; ki += kt) {
    const depth = Math.min(kt, k - ki);
    bTiles.push(packColumns(b, n, ki, depth, 0, n, ceilDiv(depth, 4)));
  }
  for (let mi = 0; mi < m; mi += mt) {
    const rows = Math.min(mt, m - mi);
    for (let ki = 0, s = 0; ki < k; ki += kt, s++) {
      const depth = Math.min(kt, k - ki);
      const kw = ceilDiv(depth, 4);
      const aTile = packRows(a, k, mi, rows, ki, depth, kw);
      const bTile = bTiles[s];
      // B is rewritten for each block only when K is split (the slices share one buffer)
      if (mi === 0 || kt < k) device.write(bufB, bTile);
      device.write(bufA, aTile);
      const outBytes = rows * n * 4;
      const target = ki + depth >= k ? await readback.reserve(outBytes) : undefined;
      const bindings = { a: { buffer: bufA, size: aTile.byteLength }, b: { buffer: bufB, size: bTile.byteLength }, c: { buffer: bufC, size: outBytes } };
      gemvPass(device, pipeline, bindings, rows, kw, n, t, ki > 0, target && { to: target.buffer, offset: target.offset });
      if (target) {
        const r0 = mi;
        readback.deliver(target.offset, outBytes, (out) => cBytes.set(out, r0 * n * 4));
      }
    }
  }
  await readback.flush();
  return c;
}

/**
 * One tiled dispatch: C[rows×cols] (+)= A·B with `depth` = packed words of K (int8) or elements
 * (i32) in the layouts of wgsl/matmul.ts; then, optionally, C copied into a readback buffer.
 * Exposed for scripts/gpu-check.ts, which times it on device-resident buffers.
 */
export function tiledPass(
  device: GpuDevice,
  pipeline: GPUComputePipeline,
  { a, b, c }: PassBindings,
  rows: number,
  depth: number,
  cols: number,
  accumulate: boolean,
  copy?: { to: GPUBuffer; offset: number },
): void {
  const params = device.uniform([rows, depth, cols, accumulate ? 1 : 0]);
  device.dispatch(pipeline, [a, b, c, params], ceilDiv(cols, TILE), ceilDiv(rows, TILE), copy && { from: c.buffer, to: copy.to, offset: copy.offset, bytes: c.size });
}

async function matmul(device: GpuDevice, kernel: Kernel<MatmulShapes>, int8: boolean, a: Uint8Array, b: Uint8Array, m: number, k: number, n: number): Promise<Int32Array> {
  const c = new Int32Array(m * n);
  if (m === 0 || n === 0 || k === 0) return c;
  const pipeline = await device.pipeline(kernel);
  const { mt, kt, nt } = planMatmul(m, k, n, int8, device.limits);
  const kwMax = ceilDiv(kt, 4);
  const bufA = device.buffer('storage', int8 ? mt * kwMax * 4 : mt * kt * 4);
  const bufB = device.buffer('storage', int8 ? nt * kwMax * 4 : kt * nt * 4);
  const bufC = device.buffer('storage', mt * nt * 4);
  const cBytes = new Uint8Array(c.buffer);
  const readback = device.readback(m * n * 4);
  for (let mi = 0; mi < m; mi += mt) {
    const rows = Math.min(mt, m - mi);
    for (let ni = 0; ni < n; ni += nt) {
      const cols = Math.min(nt, n - ni);
      for (let ki = 0; ki < k; ki += kt) {
        const depth = Math.min(kt, k - ki);
        const last = ki + depth >= k;
        let aTile: Uint8Array;
        let bTile: Uint8Array;
        let depthParam: number;
        if (int8) {
          const kw = ceilDiv(depth, 4);
          depthParam = kw;
          aTile = packRows(a, k, mi, rows, ki, depth, kw);
          bTile = packColumns(b, n, ki, depth, ni, cols, kw);
        } else {
          depthParam = depth;
          aTile = depth === k ? a.subarray(mi * k * 4, (mi + rows) * k * 4) : block32(a, k, mi, rows, ki, depth);
          bTile = cols === n ? b.subarray(ki * n * 4, (ki + depth) * n * 4) : block32(b, n, ki, depth, ni, cols);
        }
        device.write(bufA, aTile);
        device.write(bufB, bTile);
        const outBytes = rows * cols * 4;
        const target = last ? await readback.reserve(outBytes) : undefined;
        const bindings = { a: { buffer: bufA, size: aTile.byteLength }, b: { buffer: bufB, size: bTile.byteLength }, c: { buffer: bufC, size: outBytes } };
        tiledPass(device, pipeline, bindings, rows, depthParam, cols, ki > 0, target && { to: target.buffer, offset: target.offset });
        if (target) {
          const [r0, c0] = [mi, ni];
          readback.deliver(target.offset, outBytes, (bytes) => {
            if (cols === n) cBytes.set(bytes, r0 * n * 4);
            else for (let r = 0; r < rows; r++) cBytes.set(bytes.subarray(r * cols * 4, (r + 1) * cols * 4), ((r0 + r) * n + c0) * 4);
          });
        }
      }
    }
  }
  await readback.flush();
  return c;
}

/** Rows [r0, r0+rows) × columns [c0, c0+cols) of a row-major i32 matrix (as bytes) with `stride` columns. */
function block32(bytes: Uint8Array, stride: number, r0: number, rows: number, c0: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols * 4);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(((r0 + r) * stride + c0) * 4, ((r0 + r) * stride + c0 + cols) * 4), r * cols * 4);
  return out;
}

/** Rows of an int8 matrix A[·×k], columns [k0, k0+depth), packed as `kw` words per row (zero padded). */
function packRows(a: Uint8Array, k: number, r0: number, rows: number, k0: number, depth: number, kw: number): Uint8Array {
  if (k0 === 0 && depth === k && k % 4 === 0) return a.subarray(r0 * k, (r0 + rows) * k); // already packed
  const out = new Uint8Array(rows * kw * 4);
  for (let r = 0; r < rows; r++) out.set(a.subarray((r0 + r) * k + k0, (r0 + r) * k + k0 + depth), r * kw * 4);
  return out;
}

/** Columns [c0, c0+cols) of an int8 matrix B[k×n], rows [k0, k0+depth), transposed and packed as `kw` words per column. */
function packColumns(b: Uint8Array, n: number, k0: number, depth: number, c0: number, cols: number, kw: number): Uint8Array {
  const out = new Uint8Array(cols * kw * 4);
  const stride = kw * 4;
  for (let p = 0; p < depth; p++) {
    const from = (k0 + p) * n + c0;
    for (let c = 0; c < cols; c++) out[c * stride + p] = b[from + c];
  }
  return out;
}
