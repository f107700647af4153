// The wall-clock guard: stateless calls run in a worker thread that the node terminates when a
// call outlives the guard. It only protects the node (gas already bounds every call's work):
// a stopped call is a 503, never a result, never cached, never attested.
import { Worker } from 'node:worker_threads';
import { HyperError } from '../../protocol/errors.ts';
import type { CallResult } from '../call.ts';
import { gpuBridge, kernelClient } from '../../gpu/bridge.ts';
import type { Json } from '../../protocol/message.ts';

export const DEFAULT_GUARD_MS = 10_000;

interface Pending { resolve: (r: CallResult) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }

export class Sandbox {
  private worker?: Worker;
  private ready?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private next = 0;

  constructor(private readonly guardMs = DEFAULT_GUARD_MS) {}

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    // The worker gets its own line to this process's GPU worker, when there is one.
    const gpuPort = gpuBridge()?.connect();
    const minWork = kernelClient()?.minWork;
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { execArgv: [], workerData: { gpuPort, minWork }, transferList: gpuPort ? [gpuPort] : [] });
    this.worker = worker;
    worker.unref();
    this.ready = new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message) => {
        if (message.ready) return resolve();
        const entry = this.pending.get(message.id);
        if (!entry) return;
        this.pending.delete(message.id);
        clearTimeout(entry.timer);
        if (this.pending.size === 0) worker.unref();
        if (message.error) entry.reject(message.error.kind === 'internal' ? new Error(message.error.message) : new HyperError(message.error.kind, message.error.code, message.error.message, message.error.details));
        else entry.resolve({ ...message.result, bytes: new Uint8Array(message.result.bytes) });
      });
    });
    return this.ready;
  }

  /** Runs one call in the worker; past the guard the worker is terminated (and replaced later). */
  async call(module: string, bytes: Uint8Array, fn: string, params: Json[], gasLimit?: number, data?: Uint8Array[]): Promise<CallResult> {
    await this.start();
    const worker = this.worker!;
    const id = this.next++;
    worker.ref();
    return new Promise<CallResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HyperError('unavailable', 'timeout', `${fn} ran past this node's wall-clock guard of ${this.guardMs} ms and was stopped; that is not a result (not cached, not attested): try again, or with a smaller gas-limit`, { retryAfterSeconds: 1 }));
        void this.reset(worker);
      }, this.guardMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, module, bytes, fn, params, gasLimit, data });
    });
  }

  /** Ends a stuck worker; calls still waiting on it fail, the next call starts a fresh one. */
  private async reset(worker: Worker): Promise<void> {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = undefined;
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new HyperError('unavailable', 'timeout', 'another call on the same worker ran past the wall-clock guard; try again', { retryAfterSeconds: 1 }));
      this.pending.delete(id);
    }
    await worker.terminate();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    await worker?.terminate();
  }
}
