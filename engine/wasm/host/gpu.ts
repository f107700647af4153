// The `gpu` host module: kernel calls a WASM module can import, taking pointers and shapes in
// its linear memory. Each call goes to this thread's KernelClient (engine/gpu/bridge.ts), which
// has the GPU worker dispatch it while this thread waits, or runs the CPU reference (small work,
// no adapter); the bytes are the same either way. The gas charged is the shapes' kernelGas,
// taken from the module's own gas counter, whichever backend ran; the instance's view counts
// the calls each backend served, for the result's record.
//
//   matmul_i32(a, b, c, m, k, n)   matmul_i8(a, b, c, m, k, n)
//   requantize(x, out, length, multiplier, shift, zeroPoint)
//   add_i32(a, b, out, length, bLength)   relu_i32(x, out, length)   argmax_i32(x, out, rows, cols)
// Each returns 0; a malformed shape or an operand outside memory traps with the reason.
import { HyperError, Trap } from '../../protocol/errors.ts';
import { kernelGas, kernelLayout, runReference, KERNELS, type KernelName, type KernelShapes } from '../../gpu/index.ts';
import { kernelClient } from '../../gpu/bridge.ts';
import { chargeGas } from '../gas.ts';

export const GPU_IMPORTS = KERNELS.map((name) => `gpu.${name}`);

export interface InstanceView {
  memory?: WebAssembly.Memory;
  instance?: WebAssembly.Instance;
  /** Kernel calls served so far, by backend. */
  kernels?: KernelCounts;
}

export interface KernelCounts {
  gpu: number;
  cpu: number;
}

/** How each import's arguments split into operand pointers, the output pointer and shapes. */
const SIGNATURES: { [K in KernelName]: (args: number[]) => { inputs: number[]; output: number; shapes: KernelShapes[K] } } = {
  matmul_i32: ([a, b, c, m, k, n]) => ({ inputs: [a, b], output: c, shapes: { m, k, n } }),
  matmul_i8: ([a, b, c, m, k, n]) => ({ inputs: [a, b], output: c, shapes: { m, k, n } }),
  requantize: ([x, out, length, multiplier, shift, zeroPoint]) => ({ inputs: [x], output: out, shapes: { length, multiplier: multiplier >>> 0, shift, zeroPoint } }),
  add_i32: ([a, b, out, length, bLength]) => ({ inputs: [a, b], output: out, shapes: { length, bLength } }),
  relu_i32: ([x, out, length]) => ({ inputs: [x], output: out, shapes: { length } }),
  argmax_i32: ([x, out, rows, cols]) => ({ inputs: [x], output: out, shapes: { rows, cols } }),
};

export function gpuImports(view: InstanceView): Record<string, (...args: number[]) => number> {
  const imports: Record<string, (...args: number[]) => number> = {};
  for (const name of KERNELS) {
    imports[name] = (...args: number[]) => {
      const { inputs, output, shapes } = SIGNATURES[name](args);
      const memory = new Uint8Array(view.memory!.buffer);
      try {
        const layout = kernelLayout(name, shapes as never);
        chargeGas(view.instance, kernelGas(name, shapes as never));
        const operands = inputs.map((ptr, i) => slice(memory, ptr >>> 0, layout.inputs[i], name));
        const out = slice(memory, output >>> 0, layout.output, name);
        const client = kernelClient();
        let backend: 'gpu' | 'cpu' = 'cpu';
        if (client) backend = client.run(name, shapes as never, operands, out);
        else out.set(runReference(name, shapes as never, operands));
        view.kernels ??= { gpu: 0, cpu: 0 };
        view.kernels[backend]++;
        return 0;
      } catch (error) {
        if (error instanceof HyperError) throw new Trap(error.message);
        throw error;
      }
    };
  }
  return imports;
}

function slice(memory: Uint8Array, ptr: number, size: number, name: string): Uint8Array {
  if (ptr + size > memory.length) throw new Trap(`kernel ${name}: an operand at ${ptr} of ${size} bytes is outside the module's ${memory.length}-byte memory`);
  return memory.subarray(ptr, ptr + size);
}
