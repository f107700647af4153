// The GPU side of every kernel: pipelines (created once per kernel and variant), pooled buffers,
// and tiling, so that any shape runs whatever the device's binding and dispatch limits:
//   - matrix products are split into tiles of C (and of K, accumulated in C: wrapping addition
//     is associative, so a split sum is the same integer) whenever an operand exceeds one
//     storage binding or a grid exceeds the workgroups of one dispatch;
//   - elementwise kernels and argmax are split into chunks of elements, rows or columns.
// Calls are serialised (one at a time on the device); each returns the same bytes as its CPU
// reference in engine/gpu/reference.ts.
import { MAP_READ_MODE, type Gpu, type GpuLimits } from './adapter.ts';
import { BufferPool, type BufferKind } from './pool.ts';
import type { Requantization } from './reference.ts';
import { TILE, matmulI32Wgsl, matmulI8Wgsl } from './wgsl/matmul.ts';
import { ELEMENTWISE_WORKGROUP, addI32Wgsl, reluI32Wgsl } from './wgsl/elementwise.ts';
import { REQUANTIZE_WORKGROUP, requantizeWgsl } from './wgsl/requantize.ts';
import { argmaxWgsl } from './wgsl/argmax.ts';

export interface KernelOptions {
  /** Smaller limits than the device's, to exercise tiling (tests). */
  limits?: Partial<GpuLimits>;
  /** Use dot4I8Packed (default: when the adapter offers packed_4x8_integer_dot_product). */
  packedDot?: boolean;
}

/** A matmul split: tile sizes along M, K and N. */
export interface MatmulPlan {
  mt: number;
  kt: number;
  nt: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
const roundUp = (a: number, b: number) => ceilDiv(a, b) * b;
const READBACK_CAP = 256 * 1024 * 1024;

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

/** Copies outputs back from the GPU in as few mappings as possible. */
class Readback {
  private buffer: GPUBuffer | undefined;
  private used = 0;
  private records: { offset: number; bytes: number; deliver: (bytes: Uint8Array) => void }[] = [];

  constructor(
    private readonly kernels: GpuKernels,
    private remaining: number,
  ) {}

  /** Room for `bytes` in the current readback buffer; flushes the previous one if full. */
  async reserve(bytes: number): Promise<{ buffer: GPUBuffer; offset: number }> {
    if (this.buffer && this.used + bytes > this.buffer.size) await this.flush();
    if (!this.buffer) {
      this.buffer = this.kernels.pool.acquire('readback', Math.max(bytes, Math.min(this.remaining, READBACK_CAP, this.kernels.limits.maxBufferBytes)));
      this.used = 0;
    }
    const offset = this.used;
    this.used += bytes;
    this.remaining -= bytes;
    return { buffer: this.buffer, offset };
  }

  /** Called once the copy into `offset` has been submitted. */
  deliver(offset: number, bytes: number, deliver: (bytes: Uint8Array) => void): void {
    this.records.push({ offset, bytes, deliver });
  }

  async flush(): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) return;
    this.buffer = undefined;
    try {
      await buffer.mapAsync(MAP_READ_MODE, 0, this.used);
      const mapped = new Uint8Array(buffer.getMappedRange(0, this.used));
      for (const r of this.records) r.deliver(mapped.subarray(r.offset, r.offset + r.bytes));
      buffer.unmap();
    } finally {
      this.records = [];
      this.kernels.pool.release('readback', buffer);
    }
  }
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class GpuKernels {
  readonly pool: BufferPool;
  readonly limits: GpuLimits;
  readonly packedDot: boolean;
  private tail: Promise<unknown> = Promise.resolve();
  private held: { kind: BufferKind; buffer: GPUBuffer }[] = [];

  constructor(
    readonly gpu: Gpu,
    options: KernelOptions = {},
  ) {
    this.limits = { ...gpu.limits, ...options.limits };
    this.limits.maxStorageBindingBytes = Math.min(this.limits.maxStorageBindingBytes, gpu.limits.maxStorageBindingBytes);
    this.limits.maxWorkgroupsPerDimension = Math.min(this.limits.maxWorkgroupsPerDimension, gpu.limits.maxWorkgroupsPerDimension);
    this.packedDot = (options.packedDot ?? gpu.packedDot) && gpu.packedDot;
    this.pool = new BufferPool(() => gpu.device, gpu.limits.maxBufferBytes);
  }

  private get device(): GPUDevice {
    return this.gpu.device;
  }

  /** One call at a time, with WebGPU validation and out-of-memory errors turned into exceptions. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      const device = this.device;
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let result: T;
      try {
        result = await fn();
      } finally {
        const validation = await device.popErrorScope();
        const memory = await device.popErrorScope();
        for (const { kind, buffer } of this.held.splice(0)) this.pool.release(kind, buffer);
        const error = validation ?? memory;
        if (error) throw new Error(`gpu: ${error.message}`);
      }
      return result;
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** A pooled buffer, returned to the pool when the current call ends. */
  private buffer(kind: BufferKind, bytes: number): GPUBuffer {
    const buffer = this.pool.acquire(kind, bytes);
    this.held.push({ kind, buffer });
    return buffer;
  }

  private pipeline(key: string, code: () => string): Promise<GPUComputePipeline> {
    const pipelines = this.gpu.pipelines;
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      pipeline = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      pipeline.catch(() => pipelines.delete(key));
      pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Compiles every pipeline and runs each kernel once on a tiny input: lavapipe compiles a
   * shader at its first dispatch (seconds for the matrix products on a cold Mesa cache).
   */
  async warm(): Promise<void> {
    const one = new Int32Array([1]);
    await this.matmulI32(one, one, 1, 1, 1);
    await this.matmulI8(new Int8Array([1]), new Int8Array([1]), 1, 1, 1);
    await this.requantize(one, { multiplier: 1, shift: 0, zeroPoint: 0 });
    await this.addI32(one, one);
    await this.reluI32(one);
    await this.argmaxI32(one, 1, 1);
  }

  private i8Key() {
    return this.packedDot ? 'matmul_i8_dot4' : 'matmul_i8_manual';
  }

  private dispatch(pipeline: GPUComputePipeline, bindings: { buffer: GPUBuffer; size: number }[], groupsX: number, groupsY = 1, copy?: { from: GPUBuffer; to: GPUBuffer; offset: number; bytes: number }) {
    const device = this.device;
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b.buffer, offset: 0, size: b.size } })),
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    if (copy) encoder.copyBufferToBuffer(copy.from, 0, copy.to, copy.offset, copy.bytes);
    device.queue.submit([encoder.finish()]);
  }

  private write(buffer: GPUBuffer, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(buffer, 0, data as ArrayBufferView<ArrayBuffer>);
  }

  private uniform(values: ArrayLike<number>, signed = false): { buffer: GPUBuffer; size: number } {
    const buffer = this.buffer('uniform', 16);
    const data = signed ? Int32Array.from(values) : Uint32Array.from(values);
    this.write(buffer, data);
    return { buffer, size: 16 };
  }

  // ---- matrix products ----------------------------------------------------------------------

  /** C[m×n] = A[m×k]·B[k×n], wrapping i32 (see reference.matmulI32). */
  matmulI32(a: Int32Array, b: Int32Array, m: number, k: number, n: number): Promise<Int32Array> {
    return this.serial(() => this.matmul(false, bytesOf(a), bytesOf(b), m, k, n));
  }

  /** C[m×n] (i32) = A[m×k]·B[k×n], int8 operands, i32 accumulation (see reference.matmulI8). */
  matmulI8(a: Int8Array, b: Int8Array, m: number, k: number, n: number): Promise<Int32Array> {
    return this.serial(() => this.matmul(true, bytesOf(a), bytesOf(b), m, k, n));
  }

  /** The plan a product of this shape would use (tests). */
  plan(m: number, k: number, n: number, int8: boolean): MatmulPlan {
    return planMatmul(m, k, n, int8, this.limits);
  }

  private async matmul(int8: boolean, a: Uint8Array, b: Uint8Array, m: number, k: number, n: number): Promise<Int32Array> {
    const c = new Int32Array(m * n);
    if (m === 0 || n === 0 || k === 0) return c;
    const pipeline = await this.pipeline(int8 ? this.i8Key() : 'matmul_i32', () => (int8 ? matmulI8Wgsl(this.packedDot) : matmulI32Wgsl));
    const { mt, kt, nt } = planMatmul(m, k, n, int8, this.limits);
    const kwMax = ceilDiv(kt, 4);
    const bufA = this.buffer('storage', int8 ? mt * kwMax * 4 : mt * kt * 4);
    const bufB = this.buffer('storage', int8 ? nt * kwMax * 4 : kt * nt * 4);
    const bufC = this.buffer('storage', mt * nt * 4);
    const cBytes = new Uint8Array(c.buffer);
    const readback = new Readback(this, m * n * 4);
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
          this.write(bufA, aTile);
          this.write(bufB, bTile);
          const params = this.uniform([rows, depthParam, cols, ki > 0 ? 1 : 0]);
          const outBytes = rows * cols * 4;
          const target = last ? await readback.reserve(outBytes) : undefined;
          this.dispatch(
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

  // ---- elementwise ------------------------------------------------------------------------

  /** Elements per chunk: one binding of i32 and one dispatch of `perGroup` elements per workgroup. */
  private chunkElements(perGroup: number): number {
    const byBinding = Math.floor(this.limits.maxStorageBindingBytes / 4 / perGroup) * perGroup;
    return Math.max(perGroup, Math.min(byBinding, this.limits.maxWorkgroupsPerDimension * perGroup));
  }

  /**
   * The loop every elementwise kernel shares: `n` elements in chunks (chunkElements(perGroup)),
   * each chunk's inputs bound by `bind`, dispatched, its output copied into one readback buffer
   * and handed to `deliver` with the chunk's first element and count.
   */
  private async chunked(
    pipeline: GPUComputePipeline,
    n: number,
    perGroup: number,
    outBytes: (count: number) => number,
    bind: (start: number, count: number) => { bindings: { buffer: GPUBuffer; size: number }[]; out: GPUBuffer },
    deliver: (bytes: Uint8Array, start: number, count: number) => void,
  ): Promise<void> {
    const chunk = this.chunkElements(perGroup);
    let total = 0;
    for (let start = 0; start < n; start += chunk) total += outBytes(Math.min(chunk, n - start));
    const readback = new Readback(this, total);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const bytes = outBytes(count);
      const { bindings, out } = bind(start, count);
      const target = await readback.reserve(bytes);
      this.dispatch(pipeline, bindings, ceilDiv(count, perGroup), 1, { from: out, to: target.buffer, offset: target.offset, bytes });
      readback.deliver(target.offset, bytes, (chunkBytes) => deliver(chunkBytes, start, count));
    }
    await readback.flush();
  }

  /** out[i] = a[i] + b[i mod b.length], wrapping (see reference.addI32). */
  addI32(a: Int32Array, b: Int32Array): Promise<Int32Array> {
    return this.serial(async () => {
      const n = a.length;
      const out = new Int32Array(n);
      if (n === 0) return out;
      const pipeline = await this.pipeline('add_i32', () => addI32Wgsl);
      const chunk = Math.min(n, this.chunkElements(ELEMENTWISE_WORKGROUP));
      const bWhole = b.length * 4 <= this.limits.maxStorageBindingBytes;
      const bufA = this.buffer('storage', chunk * 4);
      const bufB = this.buffer('storage', bWhole ? b.length * 4 : chunk * 4);
      const bufOut = this.buffer('storage', chunk * 4);
      if (bWhole) this.write(bufB, b);
      await this.chunked(pipeline, n, ELEMENTWISE_WORKGROUP, (count) => count * 4, (start, count) => {
        this.write(bufA, a.subarray(start, start + count));
        let bSize = b.length * 4;
        let params;
        if (bWhole) params = this.uniform([count, b.length, start % b.length, 0]);
        else {
          // b is larger than one binding: this chunk's slice of the repeated b, written out
          const slice = new Int32Array(count);
          for (let i = 0; i < count; i++) slice[i] = b[(start + i) % b.length];
          this.write(bufB, slice);
          bSize = count * 4;
          params = this.uniform([count, count, 0, 0]);
        }
        return { bindings: [{ buffer: bufA, size: count * 4 }, { buffer: bufB, size: bSize }, { buffer: bufOut, size: count * 4 }, params], out: bufOut };
      }, (bytes, start) => new Uint8Array(out.buffer).set(bytes, start * 4));
      return out;
    });
  }

  /** out[i] = max(x[i], 0) (see reference.reluI32). */
  reluI32(x: Int32Array): Promise<Int32Array> {
    return this.serial(async () => {
      const n = x.length;
      const out = new Int32Array(n);
      if (n === 0) return out;
      const pipeline = await this.pipeline('relu_i32', () => reluI32Wgsl);
      const chunk = Math.min(n, this.chunkElements(ELEMENTWISE_WORKGROUP));
      const bufX = this.buffer('storage', chunk * 4);
      const bufOut = this.buffer('storage', chunk * 4);
      await this.chunked(pipeline, n, ELEMENTWISE_WORKGROUP, (count) => count * 4, (start, count) => {
        this.write(bufX, x.subarray(start, start + count));
        return { bindings: [{ buffer: bufX, size: count * 4 }, { buffer: bufOut, size: count * 4 }, this.uniform([count, 0, 0, 0])], out: bufOut };
      }, (bytes, start) => new Uint8Array(out.buffer).set(bytes, start * 4));
      return out;
    });
  }

  /** i32 → int8 requantisation (see reference.requantizeOne for the rule). */
  requantize(x: Int32Array, q: Requantization): Promise<Int8Array> {
    return this.serial(async () => {
      const n = x.length;
      const out = new Int8Array(n);
      if (n === 0) return out;
      const pipeline = await this.pipeline('requantize', () => requantizeWgsl);
      const perGroup = REQUANTIZE_WORKGROUP * 4; // four elements per invocation
      const chunk = Math.min(n, this.chunkElements(perGroup));
      const bufX = this.buffer('storage', chunk * 4);
      const bufOut = this.buffer('storage', roundUp(chunk, 4));
      await this.chunked(pipeline, n, perGroup, (count) => roundUp(count, 4), (start, count) => {
        this.write(bufX, x.subarray(start, start + count));
        const params = this.uniform([count, q.multiplier, q.shift, q.zeroPoint], true);
        return { bindings: [{ buffer: bufX, size: count * 4 }, { buffer: bufOut, size: roundUp(count, 4) }, params], out: bufOut };
      }, (bytes, start, count) => new Uint8Array(out.buffer).set(bytes.subarray(0, count), start));
      return out;
    });
  }

  /** Row-wise argmax, ties → lowest index (see reference.argmaxI32). */
  argmaxI32(x: Int32Array, rows: number, cols: number): Promise<Uint32Array> {
    return this.serial(async () => {
      const out = new Uint32Array(rows);
      if (rows === 0) return out;
      const pipeline = await this.pipeline('argmax_i32', () => argmaxWgsl);
      const maxElements = Math.floor(this.limits.maxStorageBindingBytes / 4);
      const colChunk = Math.min(cols, maxElements);
      const rowChunk = Math.max(1, Math.min(rows, this.limits.maxWorkgroupsPerDimension, Math.floor(maxElements / colChunk)));
      const split = colChunk < cols;
      const bufX = this.buffer('storage', rowChunk * colChunk * 4);
      const bufOut = this.buffer('storage', rowChunk * 4);
      const readback = new Readback(this, rows * ceilDiv(cols, colChunk) * 4);
      const bestValue = split ? new Int32Array(rows) : undefined;
      for (let c0 = 0; c0 < cols; c0 += colChunk) {
        const width = Math.min(colChunk, cols - c0);
        for (let r0 = 0; r0 < rows; r0 += rowChunk) {
          const height = Math.min(rowChunk, rows - r0);
          const tile = width === cols ? x.subarray(r0 * cols, (r0 + height) * cols) : block32i(x, cols, r0, height, c0, width);
          this.write(bufX, tile);
          const params = this.uniform([height, width, 0, 0]);
          const target = await readback.reserve(height * 4);
          this.dispatch(pipeline, [{ buffer: bufX, size: height * width * 4 }, { buffer: bufOut, size: height * 4 }, params], height, 1, {
            from: bufOut,
            to: target.buffer,
            offset: target.offset,
            bytes: height * 4,
          });
          readback.deliver(target.offset, height * 4, (bytes) => {
            const local = new Uint32Array(bytes.slice().buffer);
            for (let r = 0; r < height; r++) {
              const row = r0 + r;
              const index = c0 + local[r];
              if (!bestValue) out[row] = index;
              else {
                // column chunks arrive in order, so a strict > keeps the lowest index on ties
                const value = x[row * cols + index];
                if (c0 === 0 || value > bestValue[row]) {
                  bestValue[row] = value;
                  out[row] = index;
                }
              }
            }
          });
        }
      }
      await readback.flush();
      return out;
    });
  }

  /** Releases pooled buffers (pipelines and the device belong to the Gpu). */
  dispose(): void {
    this.pool.clear();
  }
}

/** Rows [r0, r0+rows) × columns [c0, c0+cols) of a row-major i32 matrix (as bytes) with `stride` columns. */
function block32(bytes: Uint8Array, stride: number, r0: number, rows: number, c0: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols * 4);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(((r0 + r) * stride + c0) * 4, ((r0 + r) * stride + c0 + cols) * 4), r * cols * 4);
  return out;
}

function block32i(x: Int32Array, stride: number, r0: number, rows: number, c0: number, cols: number): Int32Array {
  const out = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(x.subarray((r0 + r) * stride + c0, (r0 + r) * stride + c0 + cols), r * cols);
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
