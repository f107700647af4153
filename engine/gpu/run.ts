// Calling a kernel by name: its checks and gas, its CPU reference, and a run on a device that
// falls back to the reference. Names from outside (a worker's message, a test) are checked here,
// so a record's own methods only ever see a known kernel and shapes its layout accepted.
import { unprocessable } from '../protocol/errors.ts';
import { checkInputs, type GpuDevice } from './device.ts';
import type { Kernel, Layout } from './kernel.ts';
import { KERNELS, KERNEL_NAMES, isKernelName, type KernelName, type KernelShapes } from './table.ts';

export type Backend = 'gpu' | 'cpu';
export interface KernelResult {
  output: Uint8Array;
  backend: Backend;
}

/** The record of a kernel; throws (422) on an unknown name. */
export function kernelOf<K extends KernelName>(name: K): Kernel<KernelShapes[K]> {
  if (!isKernelName(name)) throw unprocessable(`unknown kernel ${String(name)}`, { kernel: name, known: KERNEL_NAMES });
  return KERNELS[name];
}

/** Input and output byte sizes of a call; throws (422) on a malformed shape. */
export function kernelLayout<K extends KernelName>(name: K, shapes: KernelShapes[K]): Layout {
  return kernelOf(name).layout(shapes);
}

/**
 * Gas for a call: a function of the shapes only, so every backend meters the same. Matrix
 * products: m·k·n multiply-adds + m·n results; elementwise kernels: their element count;
 * argmax: rows·cols; plus KERNEL_CALL_GAS per call.
 */
export function kernelGas<K extends KernelName>(name: K, shapes: KernelShapes[K]): bigint {
  const kernel = kernelOf(name);
  kernel.layout(shapes);
  return kernel.gas(shapes);
}

/** The CPU reference of a kernel, on bytes (what a verifier without a GPU runs). */
export function runReference<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[]): Uint8Array {
  const kernel = kernelOf(name);
  checkInputs(kernel, shapes, inputs);
  return kernel.reference(inputs, shapes);
}

/**
 * Runs a kernel on `device` when there is one and it is usable, else on the CPU reference. The
 * output bytes are the same either way; `backend` says which ran. A GPU failure (device lost,
 * out of memory) falls back to the CPU reference for that call. Inputs are read before the
 * promise settles: do not change them until then.
 */
export async function runKernel<K extends KernelName>(device: GpuDevice | undefined, name: K, shapes: KernelShapes[K], inputs: Uint8Array[]): Promise<KernelResult> {
  const kernel = kernelOf(name);
  checkInputs(kernel, shapes, inputs);
  if (device && device.gpu.usable) {
    try {
      return { output: await device.run(kernel, inputs, shapes), backend: 'gpu' };
    } catch (error) {
      console.error(`[gpu] ${name} failed on the GPU, using the CPU reference: ${(error as Error).message}`);
    }
  }
  return { output: kernel.reference(inputs, shapes), backend: 'cpu' };
}

/** Compiles every kernel's pipelines on a device (lavapipe compiles a shader at its first dispatch: seconds on a cold Mesa cache). */
export async function warmKernels(device: GpuDevice): Promise<void> {
  for (const name of KERNEL_NAMES) await warmOne(device, name);
}

function warmOne<K extends KernelName>(device: GpuDevice, name: K): Promise<Uint8Array> {
  const kernel = kernelOf(name);
  return device.run(kernel, kernel.sample.inputs, kernel.sample.shapes);
}
