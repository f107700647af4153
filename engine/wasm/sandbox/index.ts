// The wall-clock guard: stateless calls run in a worker thread that the node terminates when a
// call outlives the guard. It only protects the node (gas already bounds every call's work):
// a stopped call is a 503, never a result, never cached, never attested. A module's metered
// bytes (and data imports) go to a worker once, not with every call.
import { HyperError } from '../../protocol/errors.ts';
import type { CallResult } from '../call.ts';
import type { GpuRuntime } from '../../gpu/runtime.ts';
import type { Json } from '../../protocol/message.ts';
import { WorkerLine } from '../../worker.ts';
import type { SandboxReply, SandboxRequest } from './worker.ts';

export const DEFAULT_GUARD_MS = 10_000;

/**
 * The gas a call may spend on the calling thread before it is handed to the worker: 100 per ms
 * of the guard, at most a million. Every instruction costs at least 1 gas and bulk memory,
 * growth and host work are charged by size before they run (engine/wasm/meter/index.ts), so a
 * million gas is milliseconds of work, a thousandth of the default guard: the guard has nothing
 * to stop in it, and the worker's round trip (a message each way, the thread hop) would cost
 * more than most such calls.
 */
export const inlineGasFor = (guardMs: number): number => Math.min(1_000_000, Math.floor(guardMs * 100));

const unavailable = (message: string) => new HyperError('unavailable', 'timeout', message, { retryAfterSeconds: 1 });

export class Sandbox {
  private readonly line = new WorkerLine<SandboxRequest, SandboxReply>({
    module: new URL('./worker.ts', import.meta.url),
    tsx: true,
    start: () => {
      this.sent.clear(); // a new worker has compiled nothing
      // Each worker gets its own line to the node's GPU worker, when the node has one.
      const gpu = this.gpu?.connect();
      return { workerData: { gpuPort: gpu?.port, minWork: gpu?.minWork }, transferList: gpu ? [gpu.port] : [] };
    },
    lost: (reason) => unavailable(`the sandbox worker ${reason}; try again`),
  });

  /** The gas a call may try on the calling thread first (engine/compute.ts); past it, the call runs here. */
  readonly inlineGas: number;
  /** Modules whose bytes the current worker was sent: later calls go without them (it says `missing` if it evicted one). */
  private readonly sent = new Set<string>();

  /** `gpu`: the node's GPU runtime, whose worker the sandbox's kernel calls go to (absent: the CPU references). */
  constructor(private readonly guardMs = DEFAULT_GUARD_MS, private readonly gpu?: GpuRuntime) {
    this.inlineGas = inlineGasFor(guardMs);
  }

  /** Runs one call in the worker; past the guard the worker is terminated (and replaced later). */
  async call(module: string, bytes: Uint8Array, fn: string, params: Json[], gasLimit?: number, data?: Uint8Array[]): Promise<CallResult> {
    await this.line.ready(); // the guard counts the call, not the worker's start
    return new Promise<CallResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(unavailable(`${fn} ran past this node's wall-clock guard of ${this.guardMs} ms and was stopped; that is not a result (not cached, not attested): try again, or with a smaller gas-limit`));
        // A stuck worker cannot be interrupted, only ended; calls still waiting on it fail, the next call starts a fresh one.
        void this.line.close(unavailable('another call on the same worker ran past the wall-clock guard; try again'));
      }, this.guardMs);
      const send = (withBytes: boolean): Promise<SandboxReply> => {
        if (withBytes) this.sent.add(module);
        return this.line.request(withBytes ? { module, bytes, fn, params, gasLimit, data } : { module, fn, params, gasLimit }).then((reply) => {
          if (!reply.missing) return reply;
          this.sent.delete(module);
          return send(true);
        });
      };
      send(!this.sent.has(module)).then(
        (reply) => {
          clearTimeout(timer);
          if (reply.missing) return reject(new Error(`the sandbox worker lost module ${module} it was just sent`)); // send(true) always carries the bytes
          if (!reply.error) return resolve({ ...reply.result, bytes: new Uint8Array(reply.result.bytes) });
          const { kind, code, message, details } = reply.error;
          reject(kind === 'internal' ? new Error(message) : new HyperError(kind, code, message, details));
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async close(): Promise<void> {
    await this.line.close();
  }
}
