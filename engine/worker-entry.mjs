// @ts-check
// The one entry of the node's worker threads (see engine/worker.ts): it loads the module named
// in argv, through tsx's hooks when asked (a .ts module), and serves that module's `handle`
// on parentPort: { id, request } in, { id, result } or { id, error, fatal } out. Plain
// JavaScript, so a worker that must start fast (the meter: binaryen) runs without tsx.
import { parentPort } from 'node:worker_threads';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const [module, loader] = process.argv.slice(-2);
if (loader === 'tsx') (await import('tsx/esm/api')).register();
/** @type {{ handle?: (request: unknown) => unknown }} */
const { handle } = await import(module);

if (typeof handle === 'function') {
  port.on('message', async (/** @type {{ id: number, request: unknown }} */ { id, request }) => {
    try {
      port.postMessage({ id, result: await handle(request) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const fatal = error instanceof Error && /** @type {{ fatal?: unknown }} */ (error).fatal === true;
      port.postMessage({ id, error: { message }, fatal });
    }
  });
}
port.postMessage({ ready: true });
