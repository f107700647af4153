// The worker side of attest/verify/pool.ts: checks a chunk of raw items, answers 1/0 per item.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { verifyRaw } = await import('./pool.ts');
parentPort.postMessage(Uint8Array.from(workerData, (raw) => (verifyRaw(raw) ? 1 : 0)));
