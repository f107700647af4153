// The worker side of engine/wasm/sandbox/index.ts: runs stateless calls off the main thread, so the node
// can stop one that outlives its wall-clock guard. It loads the engine's TypeScript through tsx.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { compileModule } = await import('../compile.ts');
const { callFunction } = await import('../call.ts');
const { HyperError } = await import('../../protocol/errors.ts');
const { KernelClient, useKernelClient } = await import('../../gpu/bridge.ts');
if (workerData?.gpuPort) useKernelClient(new KernelClient(workerData.gpuPort, workerData.minWork));
const compiled = new Map();

parentPort.on('message', async ({ id, module, bytes, fn, params, gasLimit, data }) => {
  try {
    let loaded = compiled.get(module);
    if (!loaded) {
      loaded = { ...(await compileModule(module, bytes)), data };
      if (compiled.size >= 64) compiled.delete(compiled.keys().next().value);
      compiled.set(module, loaded);
    }
    parentPort.postMessage({ id, result: callFunction(loaded, fn, params, gasLimit) });
  } catch (error) {
    const known = error instanceof HyperError;
    parentPort.postMessage({ id, error: { kind: known ? error.kind : 'internal', code: known ? error.code : 'internal', message: error.message, details: known ? error.details : {} } });
  }
});
parentPort.postMessage({ ready: true });
