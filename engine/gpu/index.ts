// The kernels' one entry point for the engine: `runKernel` runs a kernel on the GPU when one was
// acquired (engine/gpu/adapter.ts), else its CPU reference (engine/gpu/reference.ts); both give
// the same bytes, and `kernelGas` depends on the shapes only, so metering and replay agree
// whichever backend ran.
//
// Kernels, shapes and byte layouts (little-endian; matrices row-major):
//
// | name        | shapes                                   | inputs                          | output                |
// |-------------|------------------------------------------|---------------------------------|-----------------------|
// | matmul_i32  | { m, k, n }                              | A i32[m·k], B i32[k·n]          | C i32[m·n] (wrapping) |
// | matmul_i8   | { m, k, n }                              | A int8[m·k], B int8[k·n]        | C i32[m·n] (wrapping) |
// | requantize  | { length, multiplier, shift, zeroPoint } | x i32[length]                   | int8[length]          |
// | add_i32     | { length, bLength? }                     | a i32[length], b i32[bLength]   | i32[length]: a[i] + b[i mod bLength] |
// | relu_i32    | { length }                               | x i32[length]                   | i32[length]: max(x, 0) |
// | argmax_i32  | { rows, cols } (cols ≥ 1)                | x i32[rows·cols]                | u32[rows], ties → lowest index |
//
// requantize: q = clamp(round_half_away_from_zero(x·multiplier / 2^shift) + zeroPoint, -128, 127),
// exact, with multiplier ∈ [0, 2^31), shift ∈ [0, 63], zeroPoint ∈ [-128, 127] (reference.ts
// `requantizeOne` has the proof). add_i32 without bLength is a plain elementwise add; with
// bLength dividing length it adds a bias row to every row.
import { unprocessable } from '../protocol/errors.ts';
import { acquireGpu, cpuDescription, noGpuReason, type AcquireOptions, type Gpu, type GpuDescription } from './adapter.ts';
import { GpuKernels } from './kernels.ts';
import * as ref from './reference.ts';

export type { GpuDescription } from './adapter.ts';
export { acquireGpu, Gpu } from './adapter.ts';
export { GpuKernels } from './kernels.ts';

export interface KernelShapes {
  matmul_i32: { m: number; k: number; n: number };
  matmul_i8: { m: number; k: number; n: number };
  requantize: { length: number; multiplier: number; shift: number; zeroPoint: number };
  add_i32: { length: number; bLength?: number };
  relu_i32: { length: number };
  argmax_i32: { rows: number; cols: number };
}
export type KernelName = keyof KernelShapes;
export const KERNELS: KernelName[] = ['matmul_i32', 'matmul_i8', 'requantize', 'add_i32', 'relu_i32', 'argmax_i32'];

export type Backend = 'gpu' | 'cpu';
export interface KernelResult {
  output: Uint8Array;
  backend: Backend;
}

/** Elements of one operand or result at most (2^30: byte offsets stay within u32 on the GPU). */
export const MAX_ELEMENTS = 2 ** 30;
/** Gas charged per kernel call on top of its shape-dependent part. */
export const KERNEL_CALL_GAS = 1000n;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function need(condition: boolean, name: string, message: string, shapes: unknown): asserts condition {
  if (!condition) throw unprocessable(`kernel ${name}: ${message}`, { kernel: name, shapes });
}

/** Input and output byte sizes of a call; throws (422) on a malformed shape. */
export function kernelLayout<K extends KernelName>(name: K, shapes: KernelShapes[K]): { inputs: number[]; output: number } {
  const s = shapes as Record<string, unknown>;
  const counts = (...keys: string[]) => {
    for (const key of keys) need(isCount(s[key]), name, `${key} must be a non-negative integer`, shapes);
    return keys.map((key) => s[key] as number);
  };
  const bounded = (...sizes: number[]) => {
    for (const size of sizes) need(size <= MAX_ELEMENTS, name, `an operand of ${size} elements exceeds ${MAX_ELEMENTS}`, shapes);
  };
  switch (name) {
    case 'matmul_i32':
    case 'matmul_i8': {
      const [m, k, n] = counts('m', 'k', 'n');
      bounded(m * k, k * n, m * n);
      const e = name === 'matmul_i8' ? 1 : 4;
      return { inputs: [m * k * e, k * n * e], output: m * n * 4 };
    }
    case 'requantize': {
      const [length] = counts('length');
      bounded(length);
      const { multiplier, shift, zeroPoint } = s as { multiplier: number; shift: number; zeroPoint: number };
      need(isCount(multiplier) && multiplier < 2 ** 31, name, 'multiplier must be an integer in [0, 2^31)', shapes);
      need(isCount(shift) && shift <= 63, name, 'shift must be an integer in [0, 63]', shapes);
      need(Number.isSafeInteger(zeroPoint) && zeroPoint >= -128 && zeroPoint <= 127, name, 'zeroPoint must be an integer in [-128, 127]', shapes);
      return { inputs: [length * 4], output: length };
    }
    case 'add_i32': {
      const [length] = counts('length');
      bounded(length);
      const bLength = s.bLength === undefined ? length : (s.bLength as number);
      need(isCount(bLength) && (bLength >= 1 ? length % bLength === 0 : length === 0), name, 'bLength must be at least 1 and divide length', shapes);
      return { inputs: [length * 4, bLength * 4], output: length * 4 };
    }
    case 'relu_i32': {
      const [length] = counts('length');
      bounded(length);
      return { inputs: [length * 4], output: length * 4 };
    }
    case 'argmax_i32': {
      const [rows, cols] = counts('rows', 'cols');
      bounded(rows * cols);
      need(cols >= 1 || rows === 0, name, 'cols must be at least 1', shapes);
      return { inputs: [rows * cols * 4], output: rows * 4 };
    }
  }
  throw unprocessable(`unknown kernel ${String(name)}`, { kernel: name, known: KERNELS });
}

/**
 * Gas for a call: a function of the shapes only, so every backend meters the same. Matrix
 * products: m·k·n multiply-adds + m·n results; elementwise kernels: their element count;
 * argmax: rows·cols; plus KERNEL_CALL_GAS per call.
 */
export function kernelGas<K extends KernelName>(name: K, shapes: KernelShapes[K]): bigint {
  kernelLayout(name, shapes);
  const s = shapes as Record<string, number>;
  switch (name) {
    case 'matmul_i32':
    case 'matmul_i8':
      return KERNEL_CALL_GAS + BigInt(s.m) * BigInt(s.k) * BigInt(s.n) + BigInt(s.m) * BigInt(s.n);
    case 'requantize':
    case 'add_i32':
    case 'relu_i32':
      return KERNEL_CALL_GAS + BigInt(s.length);
    case 'argmax_i32':
      return KERNEL_CALL_GAS + BigInt(s.rows) * BigInt(s.cols);
  }
  throw unprocessable(`unknown kernel ${String(name)}`);
}

// Typed views of byte inputs (copied when not 4-byte aligned).
const i32 = (b: Uint8Array) => (b.byteOffset % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Int32Array(b.slice().buffer));
const i8 = (b: Uint8Array) => new Int8Array(b.buffer, b.byteOffset, b.byteLength);
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function checkInputs(name: KernelName, shapes: object, inputs: Uint8Array[], sizes: number[]) {
  need(inputs.length === sizes.length, name, `expects ${sizes.length} inputs, got ${inputs.length}`, shapes);
  sizes.forEach((size, i) => need(inputs[i].byteLength === size, name, `input ${i} must be ${size} bytes, got ${inputs[i].byteLength}`, shapes));
}

/** The CPU reference of a kernel, on bytes (what a verifier without a GPU runs). */
export function runReference<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[]): Uint8Array {
  const layout = kernelLayout(name, shapes);
  checkInputs(name, shapes, inputs, layout.inputs);
  const s = shapes as Record<string, number>;
  switch (name) {
    case 'matmul_i32':
      return bytes(ref.matmulI32(i32(inputs[0]), i32(inputs[1]), s.m, s.k, s.n));
    case 'matmul_i8':
      return bytes(ref.matmulI8(i8(inputs[0]), i8(inputs[1]), s.m, s.k, s.n));
    case 'requantize':
      return bytes(ref.requantize(i32(inputs[0]), s as unknown as ref.Requantization));
    case 'add_i32':
      return bytes(ref.addI32(i32(inputs[0]), i32(inputs[1])));
    case 'relu_i32':
      return bytes(ref.reluI32(i32(inputs[0])));
    case 'argmax_i32':
      return bytes(ref.argmaxI32(i32(inputs[0]), s.rows, s.cols));
  }
  throw unprocessable(`unknown kernel ${String(name)}`);
}

/** The same call on a GPU's kernels. */
export async function runOnGpu<K extends KernelName>(kernels: GpuKernels, name: K, shapes: KernelShapes[K], inputs: Uint8Array[]): Promise<Uint8Array> {
  const layout = kernelLayout(name, shapes);
  checkInputs(name, shapes, inputs, layout.inputs);
  const s = shapes as Record<string, number>;
  switch (name) {
    case 'matmul_i32':
      return bytes(await kernels.matmulI32(i32(inputs[0]), i32(inputs[1]), s.m, s.k, s.n));
    case 'matmul_i8':
      return bytes(await kernels.matmulI8(i8(inputs[0]), i8(inputs[1]), s.m, s.k, s.n));
    case 'requantize':
      return bytes(await kernels.requantize(i32(inputs[0]), s as unknown as ref.Requantization));
    case 'add_i32':
      return bytes(await kernels.addI32(i32(inputs[0]), i32(inputs[1])));
    case 'relu_i32':
      return bytes(await kernels.reluI32(i32(inputs[0])));
    case 'argmax_i32':
      return bytes(await kernels.argmaxI32(i32(inputs[0]), s.rows, s.cols));
  }
  throw unprocessable(`unknown kernel ${String(name)}`);
}

// ---- the process-wide GPU -------------------------------------------------------------------

let acquiring: Promise<GpuKernels | undefined> | undefined;
let current: GpuKernels | undefined;
let description: GpuDescription | undefined;

/**
 * Acquires the process's GPU once (hardware, then lavapipe, then none). Called lazily by
 * runKernel; call it at start-up to show the adapter in the node's info early.
 */
export function initGpu(options?: AcquireOptions): Promise<GpuKernels | undefined> {
  acquiring ??= (async () => {
    let gpu: Gpu | undefined;
    try {
      gpu = await acquireGpu(options);
    } catch (error) {
      description = cpuDescription(`adapter failed: ${(error as Error).message}`);
      return undefined;
    }
    if (!gpu) {
      description = cpuDescription(noGpuReason());
      return undefined;
    }
    current = new GpuKernels(gpu);
    description = gpu.description;
    return current;
  })();
  return acquiring;
}

/** The adapter (or the CPU references) serving the kernels, for the node's info. */
export async function gpuDescription(): Promise<GpuDescription> {
  await initGpu();
  return description!;
}

/** Releases the GPU (destroys the device, drops Dawn's instance) so Node can exit; a later call acquires again. */
export async function closeGpu(): Promise<void> {
  const pending = acquiring;
  acquiring = undefined;
  await pending?.catch(() => undefined);
  const kernels = current;
  current = undefined;
  description = undefined;
  if (kernels) {
    kernels.dispose();
    kernels.gpu.close();
  }
}

/**
 * Runs a kernel: on the GPU when one is acquired (and `backend` is not 'cpu'), else on the CPU
 * reference. The output bytes are the same either way; `backend` says which ran. A GPU failure
 * (device lost, out of memory) falls back to the CPU reference for that call. Inputs are read
 * before the promise settles: do not change them until then.
 */
export async function runKernel<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[], options: { backend?: 'auto' | 'cpu' } = {}): Promise<KernelResult> {
  const layout = kernelLayout(name, shapes);
  checkInputs(name, shapes, inputs, layout.inputs);
  const kernels = options.backend === 'cpu' ? undefined : await initGpu();
  if (kernels && kernels.gpu.usable) {
    try {
      return { output: await runOnGpu(kernels, name, shapes, inputs), backend: 'gpu' };
    } catch (error) {
      console.error(`[gpu] ${name} failed on the GPU, using the CPU reference: ${(error as Error).message}`);
    }
  }
  return { output: runReference(name, shapes, inputs), backend: 'cpu' };
}
