// The worker side of engine/gpu/bridge.ts: owns one runtime's WebGPU device and answers kernel
// requests from clients (engine/gpu/client.ts) that wait on Atomics in other threads. Requests on
// one port are answered in order; the device itself serialises the calls of all ports.
//
// Runs under engine/worker-entry.mjs (engine/worker.ts): `handle` answers the control requests
// (describe, warm, close); ports for clients arrive as plain messages (a port must be
// transferred, which a request cannot be), and are taken by this module's own listener.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { GpuDescription, GpuMode } from './adapter.ts';
import { openGpuDevice } from './device.ts';
import { ANSWER_CPU, ANSWER_GPU, ANSWER_NONE, HEADER_BYTES, answer, type KernelRequest } from './client.ts';
import { runKernel, warmKernels } from './run.ts';
import { isKernelName, type KernelName, type KernelShapes } from './table.ts';

export type BridgeRequest = { op: 'describe' } | { op: 'warm' } | { op: 'close' };
export type BridgeReply = GpuDescription | undefined;
/** A port for one more client, posted beside the requests. */
export interface BridgePort {
  port: MessagePort;
}

// Opened in the background: the worker reports ready at once, and every request waits for it.
const opened = openGpuDevice({ mode: (workerData as { mode?: GpuMode } | undefined)?.mode });

export async function handle(request: BridgeRequest | undefined): Promise<BridgeReply> {
  const { device, description } = await opened;
  switch (request?.op) {
    case 'describe':
      return description;
    case 'warm':
      if (device) await warmKernels(device);
      return undefined;
    case 'close':
      device?.close(); // later kernel requests find the device unusable and get the reference
      return undefined;
  }
  return undefined; // a BridgePort message, which the entry also hands here
}

parentPort!.on('message', (message: Partial<BridgePort>) => {
  message.port?.on('message', (request: KernelRequest) => void serve(request));
});

async function serve(request: KernelRequest): Promise<void> {
  const { device } = await opened;
  let how = ANSWER_NONE;
  if (device && isKernelName(request.name)) {
    const bytes = new Uint8Array(request.shared);
    let at = HEADER_BYTES;
    // Copies: Dawn's writeBuffer takes no views of shared memory, and the operands must not
    // change under a dispatch.
    const inputs = request.sizes.map((size) => bytes.slice(at, (at += size)));
    try {
      // the client's kernelLayout accepted these shapes; runKernel checks them again
      const result = await runKernel(device, request.name, request.shapes as KernelShapes[KernelName], inputs);
      bytes.set(result.output, at);
      how = result.backend === 'gpu' ? ANSWER_GPU : ANSWER_CPU;
    } catch (error) {
      console.error(`[gpu] ${request.name}: ${(error as Error).message}`);
    }
  }
  answer(request, how);
}
