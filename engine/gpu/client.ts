// A thread's synchronous line to the GPU worker (engine/gpu/bridge.ts), the hot path of every
// kernel call a module makes. A WASM import cannot await and WebGPU only answers asynchronously,
// so the calling thread copies the operands into a SharedArrayBuffer, posts the request on its
// own MessagePort and blocks on Atomics.wait until the worker has written the result back.
//
// The bytes never depend on this: a kernel whose work (its kernelGas) is below `minWork` runs on
// the CPU reference at once, because a round trip to the GPU costs more than it saves; so does
// every call when there is no adapter, when the GPU failed, or when it did not answer in time.
import type { MessagePort } from 'node:worker_threads';
import { kernelGas, kernelLayout, runReference, type Backend } from './run.ts';
import type { KernelName, KernelShapes } from './table.ts';

/** Kernel work (gas) below which a call stays on the CPU: about a millisecond of reference work. */
export const DEFAULT_MIN_WORK = 1 << 20;
/** How long a client waits for the GPU before it computes the call itself (and stops asking). */
const ANSWER_TIMEOUT_MS = 60_000;

// Control words at the start of a client's shared buffer: [0] the sequence number of the last
// answered request, [1] how it was answered.
const SEQ = 0;
const ANSWER = 1;
export const HEADER_BYTES = 8;
export const ANSWER_GPU = 1;
export const ANSWER_CPU = 2; // the worker fell back to the reference (GPU error)
export const ANSWER_NONE = 3; // no adapter: the client computes it itself from now on

/** What the gpu host module calls: runs a kernel whose shapes kernelLayout accepted into `output`, says which backend computed it. */
export interface KernelLine {
  /** Whether a call of these shapes would go to the GPU (else the caller computes it on the CPU itself). */
  offloads<K extends KernelName>(name: K, shapes: KernelShapes[K]): boolean;
  run<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[], output: Uint8Array): Backend;
}

/** One request as the worker reads it from the port. */
export interface KernelRequest {
  shared: SharedArrayBuffer;
  sequence: number;
  name: string;
  shapes: unknown;
  sizes: number[];
  output: number;
}

export class KernelClient implements KernelLine {
  private shared = new SharedArrayBuffer(HEADER_BYTES + 64 * 1024);
  private control = new Int32Array(this.shared, 0, 2);
  private sequence = 0;
  private gone = false;

  constructor(private readonly port: MessagePort, readonly minWork = DEFAULT_MIN_WORK) {
    port.unref();
  }

  offloads<K extends KernelName>(name: K, shapes: KernelShapes[K]): boolean {
    return !this.gone && kernelGas(name, shapes) >= BigInt(this.minWork);
  }

  run<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[], output: Uint8Array): Backend {
    if (!this.offloads(name, shapes)) {
      output.set(runReference(name, shapes, inputs));
      return 'cpu';
    }
    const layout = kernelLayout(name, shapes);
    const needed = HEADER_BYTES + layout.inputs.reduce((a, b) => a + b, 0) + layout.output;
    if (needed > this.shared.byteLength) {
      this.shared = new SharedArrayBuffer(Math.max(needed, this.shared.byteLength * 2));
      this.control = new Int32Array(this.shared, 0, 2);
    }
    const bytes = new Uint8Array(this.shared);
    let at = HEADER_BYTES;
    for (const input of inputs) {
      bytes.set(input, at);
      at += input.byteLength;
    }
    const sequence = ++this.sequence;
    const request: KernelRequest = { shared: this.shared, sequence, name, shapes, sizes: layout.inputs, output: layout.output };
    this.port.postMessage(request);
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (Atomics.load(this.control, SEQ) !== sequence) {
      const left = deadline - Date.now();
      if (left <= 0) return this.abandon(`${name} got no answer from the GPU worker in ${ANSWER_TIMEOUT_MS / 1000} s`, name, shapes, inputs, output);
      Atomics.wait(this.control, SEQ, sequence - 1, left);
    }
    const answer = Atomics.load(this.control, ANSWER);
    if (answer === ANSWER_NONE) return this.abandon(undefined, name, shapes, inputs, output);
    output.set(bytes.subarray(at, at + layout.output));
    return answer === ANSWER_GPU ? 'gpu' : 'cpu';
  }

  /** Stops asking the worker (its runtime is closing): every later call runs on the reference. */
  close(): void {
    this.gone = true;
    this.port.close();
  }

  private abandon<K extends KernelName>(why: string | undefined, name: K, shapes: KernelShapes[K], inputs: Uint8Array[], output: Uint8Array): Backend {
    if (why) console.error(`[gpu] ${why}; this thread uses the CPU references from now on`);
    this.gone = true;
    // A late answer must not land in a buffer a later call reads: this client never uses it again.
    this.shared = new SharedArrayBuffer(HEADER_BYTES);
    output.set(runReference(name, shapes, inputs));
    return 'cpu';
  }
}

/** Answers a request in the worker: writes the answer word, then the sequence number, and wakes the client. */
export function answer(request: KernelRequest, how: number): void {
  const control = new Int32Array(request.shared, 0, 2);
  Atomics.store(control, ANSWER, how);
  Atomics.store(control, SEQ, request.sequence);
  Atomics.notify(control, SEQ);
}
