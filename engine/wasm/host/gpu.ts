// The `gpu` host module: kernel calls a WASM module can import, taking pointers and shapes in
// its linear memory, one import per kernel of engine/gpu/table.ts (its record's signature says
// how the arguments split). Each call goes to the KernelLine its InstanceView was given (the
// runtime's client for this thread, engine/gpu/client.ts: the GPU worker dispatches it while
// this thread waits, or the CPU reference runs for small work), else to the CPU reference; the
// bytes are the same either way. The gas charged is the shapes' kernelGas, taken from the
// module's own gas counter, whichever backend ran; the view counts the calls each backend
// served, for the result's record. A call that stays on this thread runs on the kernel's WASM
// SIMD version bound to the module's memory where it has one (engine/gpu/cpu/kernels.ts), else
// on the reference: the same bytes.
//
//   matmul_i32(a, b, c, m, k, n)   matmul_i8(a, b, c, m, k, n)
//   requantize(x, out, length, multiplier, shift, zeroPoint)
//   add_i32(a, b, out, length, bLength)   relu_i32(x, out, length)   argmax_i32(x, out, rows, cols)
// Each returns 0; a malformed shape or an operand outside memory traps with the reason.
import { HyperError, Trap } from '../../protocol/errors.ts';
import { KERNELS, KERNEL_NAMES, type KernelName } from '../../gpu/table.ts';
import type { KernelLine } from '../../gpu/client.ts';
import { cpuKernels, type CpuKernels } from '../../gpu/cpu/kernels.ts';
import { chargeGas } from '../gas.ts';

export const GPU_IMPORTS = KERNEL_NAMES.map((name) => `gpu.${name}`);

export interface InstanceView {
  memory?: WebAssembly.Memory;
  instance?: WebAssembly.Instance;
  /** Where this instance's kernel calls go (its thread's line to its runtime's GPU worker); absent: the CPU references. */
  gpu?: KernelLine;
  /** Kernel calls served so far, by backend. */
  kernels?: KernelCounts;
  /** The CPU kernels bound to `memory`, once the first call needed them (null: none can be). */
  cpu?: CpuKernels | null;
}

export interface KernelCounts {
  gpu: number;
  cpu: number;
}

export function gpuImports(view: InstanceView): Record<string, (...args: number[]) => number> {
  const imports: Record<string, (...args: number[]) => number> = {};
  for (const name of KERNEL_NAMES) imports[name] = kernelImport(view, name);
  return imports;
}

function kernelImport<K extends KernelName>(view: InstanceView, name: K): (...args: number[]) => number {
  const kernel = KERNELS[name];
  return (...args: number[]) => {
    const { inputs, output, shapes } = kernel.signature.split(args);
    const memory = new Uint8Array(view.memory!.buffer);
    try {
      const layout = kernel.layout(shapes);
      chargeGas(view.instance, kernel.gas(shapes));
      const operands = inputs.map((ptr, i) => slice(memory, ptr >>> 0, layout.inputs[i], name));
      const out = slice(memory, output >>> 0, layout.output, name);
      let backend: 'gpu' | 'cpu' = 'cpu';
      if (view.gpu?.offloads(name, shapes)) backend = view.gpu.run(name, shapes, operands, out);
      else {
        if (view.cpu === undefined) view.cpu = cpuKernels(view.memory!) ?? null;
        const fast = view.cpu?.[name];
        if (fast) fast(...args);
        else out.set(kernel.reference(operands, shapes)); // operands sliced to the layout's sizes
      }
      view.kernels ??= { gpu: 0, cpu: 0 };
      view.kernels[backend]++;
      return 0;
    } catch (error) {
      if (error instanceof HyperError) throw new Trap(error.message);
      throw error;
    }
  };
}

function slice(memory: Uint8Array, ptr: number, size: number, name: string): Uint8Array {
  if (ptr + size > memory.length) throw new Trap(`kernel ${name}: an operand at ${ptr} of ${size} bytes is outside the module's ${memory.length}-byte memory`);
  return memory.subarray(ptr, ptr + size);
}
