// The kernels, one record each (engine/gpu/kernels/*.ts): the one list the gpu host module, the
// checks and gas, the CPU references, the GPU dispatch and the warm-up loop over. A new kernel is
// a record there, its WGSL in engine/gpu/wgsl/, and one line here.
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
import type { Kernel } from './kernel.ts';
import { matmulI32, matmulI8 } from './kernels/matmul.ts';
import { requantize } from './kernels/requantize.ts';
import { addI32, reluI32 } from './kernels/elementwise.ts';
import { argmaxI32 } from './kernels/argmax.ts';

const TABLE = {
  matmul_i32: matmulI32,
  matmul_i8: matmulI8,
  requantize,
  add_i32: addI32,
  relu_i32: reluI32,
  argmax_i32: argmaxI32,
};

/** Each kernel's shapes, by name. */
export type KernelShapes = { [K in keyof typeof TABLE]: (typeof TABLE)[K] extends Kernel<infer S> ? S : never };
export type KernelName = keyof KernelShapes;

/** The kernels by name; `KERNELS[name]` is typed by that name's shapes. */
export const KERNELS: { readonly [K in KernelName]: Kernel<KernelShapes[K]> } = TABLE;

/** Their names, in the table's order. */
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** Whether a name (from a module's import, a worker's message) is a kernel's. */
export const isKernelName = (name: string): name is KernelName => Object.hasOwn(KERNELS, name);
