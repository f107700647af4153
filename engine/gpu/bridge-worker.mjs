// The worker side of engine/gpu/bridge.ts: owns the process's WebGPU device and answers kernel
// requests from clients that wait on Atomics in other threads. Requests on one port are answered
// in order; the device itself serialises the calls of all ports.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { initGpu, gpuDescription, runKernel } = await import('./index.ts');
const { ANSWER_GPU, ANSWER_CPU, ANSWER_NONE } = await import('./bridge.ts');

const kernels = await initGpu({ mode: workerData?.mode });
parentPort.postMessage({ description: await gpuDescription() });

parentPort.on('message', ({ port }) => {
  port.on('message', async ({ shared, sequence, name, shapes, sizes, output }) => {
    const control = new Int32Array(shared, 0, 2);
    const bytes = new Uint8Array(shared);
    let answer = ANSWER_NONE;
    if (kernels) {
      let at = 8;
      // Copies: Dawn's writeBuffer takes no views of shared memory, and the operands must not
      // change under a dispatch.
      const inputs = sizes.map((size) => bytes.slice(at, (at += size)));
      try {
        const result = await runKernel(name, shapes, inputs);
        bytes.set(result.output, at);
        answer = result.backend === 'gpu' ? ANSWER_GPU : ANSWER_CPU;
      } catch (error) {
        console.error(`[gpu] ${name}: ${error.message}`);
        answer = ANSWER_NONE;
      }
    }
    Atomics.store(control, 1, answer);
    Atomics.store(control, 0, sequence);
    Atomics.notify(control, 0);
  });
});
