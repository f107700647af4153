// The integer matrix products, matmul_i32 and matmul_i8: C[m×n] = A[m×k]·B[k×n], wrapping i32
// (int8 operands accumulate in i32). On the GPU a product is split into tiles of C, and of K
// (accumulated in C: wrapping addition is associative, so a split sum is the same integer),
// whenever an operand exceeds one storage binding or a grid exceeds the workgroups of one
// dispatch; int8 operands are packed four per word along K (B transposed).
import type { GpuLimits } from '../adapter.ts';
import { ceilDiv, roundUp, type GpuDevice } from '../device.ts';
import { KERNEL_CALL_GAS, bounded, bytes, counts, i32, i8, type Kernel } from '../kernel.ts';
import * as ref from '../reference.ts';
import { TILE, matmulI32Wgsl, matmulI8Wgsl } from '../wgsl/matmul.ts';

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
    run: async (device, [a, b], { m, k, n }) => bytes(await matmul(device, kernel, int8, int8 ? a : bytes(i32(a)), int8 ? b : bytes(i32(b)), m, k, n)),
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
        const params = device.uniform([rows, depthParam, cols, ki > 0 ? 1 : 0]);
        const outBytes = rows * cols * 4;
        const target = last ? await readback.reserve(outBytes) : undefined;
        device.dispatch(
          pipeline,
          [{ buffer: bufA, size: aTile.byteLength }, { buffer: bufB, size: bTile.byteLength }, { buffer: bufC, size: outBytes }, params],
          ceilDiv(cols, TILE),
          ceilDiv(rows, TILE),
          target && { from: bufC, to: target.buffer, offset: target.offset, bytes: outBytes },
        );
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
