// What one kernel is: everything about it in one record, so that adding or changing a kernel is
// one file under engine/gpu/kernels/ plus its WGSL, and the host module, the checks, the gas,
// the CPU reference, the GPU dispatch and the warm-up are loops over engine/gpu/table.ts.
import { unprocessable } from '../protocol/errors.ts';
import type { GpuDevice } from './device.ts';

/** Byte sizes of a call's operands and of its result. */
export interface Layout {
  inputs: number[];
  output: number;
}

/** How a `gpu.<name>` import's i32 arguments split into operand pointers, the output pointer and shapes. */
export interface Signature<S> {
  /** The import's parameters, in order (all i32; the import returns 0). */
  params: readonly string[];
  split(args: number[]): { inputs: number[]; output: number; shapes: S };
}

/** A compute shader: the pipeline cache key (one per WGSL variant) and its source. */
export interface Shader {
  key: string;
  wgsl: () => string;
}

export interface Kernel<S> {
  name: string;
  signature: Signature<S>;
  /** Operand and result sizes; throws (422) on a malformed shape. */
  layout(shapes: S): Layout;
  /** Gas for a call whose shapes `layout` accepted: a function of the shapes only, so every backend meters the same. */
  gas(shapes: S): bigint;
  /** The CPU reference on bytes (operands already checked against the layout). */
  reference(inputs: Uint8Array[], shapes: S): Uint8Array;
  /** The same call on a device (operands already checked); the same bytes as `reference`. */
  run(device: GpuDevice, inputs: Uint8Array[], shapes: S): Promise<Uint8Array>;
  /** Its shader(s), for a device with or without packed int8 dot products. */
  shader(features: { packedDot: boolean }): Shader;
  /** A tiny call that compiles its pipeline (lavapipe compiles at the first dispatch). */
  sample: { shapes: S; inputs: Uint8Array[] };
}

/** Elements of one operand or result at most (2^30: byte offsets stay within u32 on the GPU). */
export const MAX_ELEMENTS = 2 ** 30;
/** Gas charged per kernel call on top of its shape-dependent part. */
export const KERNEL_CALL_GAS = 1000n;

export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function need(condition: boolean, name: string, message: string, shapes: unknown): asserts condition {
  if (!condition) throw unprocessable(`kernel ${name}: ${message}`, { kernel: name, shapes });
}

/** The named shape fields, each checked to be a non-negative integer. */
export function counts(name: string, shapes: object, ...keys: string[]): number[] {
  const s = shapes as Record<string, unknown>;
  for (const key of keys) need(isCount(s[key]), name, `${key} must be a non-negative integer`, shapes);
  return keys.map((key) => s[key] as number);
}

/** Refuses an operand of more than MAX_ELEMENTS elements. */
export function bounded(name: string, shapes: unknown, ...sizes: number[]): void {
  for (const size of sizes) need(size <= MAX_ELEMENTS, name, `an operand of ${size} elements exceeds ${MAX_ELEMENTS}`, shapes);
}

// Typed views of byte operands (copied when not 4-byte aligned: a pointer into a module's memory need not be).
export const i32 = (b: Uint8Array) => (b.byteOffset % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Int32Array(b.slice().buffer));
export const i8 = (b: Uint8Array) => new Int8Array(b.buffer, b.byteOffset, b.byteLength);
export const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
