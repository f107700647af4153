// The CPU kernels a module's kernel calls run on when they stay on this thread: WASM SIMD
// versions of CPU references (engine/gpu/reference.ts), bound to the calling module's own
// memory so the operands are read where they lie and no byte is copied. They give the
// reference's bytes (test/cpu-kernels.test.ts checks it over shapes, extremes and wrapping
// sums); the reference stays the specification and the path of a memory they cannot import.
//
// Why not the JavaScript reference on the hot path: the language model's every product is a
// matrix-vector one, and the reference's loop, written to be read, spent ~85% of a token's time.
import type { KernelName } from '../table.ts';
import { WASM_BASE64 } from './matmul-i8.wasm.ts';

/**
 * A CPU kernel takes its `gpu.<name>` import's own arguments (pointers into the bound memory,
 * already checked to lie inside it, and the shapes) and writes the output in place.
 */
export type CpuKernel = (...args: number[]) => void;

/** The kernels that have one, by name. */
export type CpuKernels = Partial<Record<KernelName, CpuKernel>>;

let compiled: WebAssembly.Module | undefined;

/**
 * The kernels bound to `memory`, or undefined where they cannot be: a shared memory (an imported
 * memory's `shared` must match) or a memory64 one.
 */
export function cpuKernels(memory: WebAssembly.Memory): CpuKernels | undefined {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  try {
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    return { matmul_i8: instance.exports.matmul_i8 as CpuKernel };
  } catch (error) {
    if (error instanceof WebAssembly.LinkError) return undefined;
    throw error;
  }
}
