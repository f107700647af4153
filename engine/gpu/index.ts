// The GPU kernels' public surface, for code outside the engine (tests, benches, tools); the
// engine imports the file that holds each concept:
//   kernel.ts    what a kernel record is        table.ts    the kernels, by name
//   kernels/*.ts one record per kernel          reference.ts the CPU references
//   run.ts       checks, gas, reference, run    device.ts   a WebGPU device as the kernels use it
//   adapter.ts   which adapter, Dawn's lifetime pool.ts     pooled GPU buffers
//   runtime.ts   one node's GPU                 bridge.ts / bridge-side.ts / client.ts  the GPU worker and its lines
export type { Kernel, Layout, Signature, Shader } from './kernel.ts';
export { KERNEL_CALL_GAS, MAX_ELEMENTS } from './kernel.ts';
export { KERNELS, KERNEL_NAMES, type KernelName, type KernelShapes } from './table.ts';
export { kernelGas, kernelLayout, kernelOf, runKernel, runReference, warmKernels, type Backend, type KernelResult } from './run.ts';
export { GpuDevice, openGpuDevice } from './device.ts';
export { acquireGpu, cpuDescription, Gpu, GPU_MODES, type GpuDescription, type GpuMode } from './adapter.ts';
export { GpuRuntime, type GpuLine, type GpuRuntimeOptions } from './runtime.ts';
export { DEFAULT_MIN_WORK, KernelClient, type KernelLine } from './client.ts';
