// Kernel calls from inside a synchronous WASM import, served by the GPU.
//
// A WASM import cannot await, and WebGPU only answers asynchronously, so the process's GPU lives
// in one worker thread (engine/gpu/bridge-worker.mjs) and a thread running a module blocks on
// Atomics.wait while that worker dispatches: the operands and the result travel through a
// SharedArrayBuffer per client, the request through a MessagePort. Any thread can hold a client
// (the main thread for processes, the sandbox worker for stateless calls), each on its own port.
//
// The bytes never depend on this: a kernel whose work (its kernelGas) is below `minWork` runs on
// the CPU reference at once, because a round trip to the GPU costs more than it saves; so does
// every call when there is no adapter, when the GPU failed, or when it did not answer in time.
import { MessageChannel, SHARE_ENV, Worker, type MessagePort } from 'node:worker_threads';
import { cpuDescription, type GpuDescription } from './adapter.ts';
import { kernelGas, kernelLayout, runReference, type Backend, type KernelName, type KernelShapes } from './index.ts';

/** Kernel work (gas) below which a call stays on the CPU: about a millisecond of reference work. */
export const DEFAULT_MIN_WORK = 1 << 20;
/** How long a client waits for the GPU before it computes the call itself (and stops asking). */
const ANSWER_TIMEOUT_MS = 60_000;

// Control words at the start of a client's shared buffer: [0] the sequence number of the last
// answered request, [1] how it was answered.
const SEQ = 0;
const ANSWER = 1;
const HEADER_BYTES = 8;
export const ANSWER_GPU = 1;
export const ANSWER_CPU = 2; // the worker fell back to the reference (GPU error)
export const ANSWER_NONE = 3; // no adapter: the client computes it itself from now on

export interface BridgeOptions {
  /** HYPERWASM_GPU's modes: 'auto' (hardware, then lavapipe), 'lavapipe', 'hardware', 'off'. */
  mode?: 'auto' | 'lavapipe' | 'hardware' | 'off';
}

/** The GPU worker of this process: started once, shared by every node and client in it. */
export class GpuBridge {
  private readonly worker: Worker;
  /** The adapter serving the kernels, once the worker has tried to acquire one. */
  readonly description: Promise<GpuDescription>;

  constructor(options: BridgeOptions = {}) {
    // SHARE_ENV: Dawn's Vulkan loader reads VK_ICD_FILENAMES from the real environment, which a
    // worker's private copy of process.env would not reach.
    this.worker = new Worker(new URL('./bridge-worker.mjs', import.meta.url), { env: SHARE_ENV, workerData: { mode: options.mode }, execArgv: [] });
    this.worker.unref(); // never keeps the process alive
    this.description = new Promise((resolve) => {
      this.worker.once('message', (message: { description: GpuDescription }) => resolve(message.description));
      this.worker.once('error', (error) => resolve(cpuDescription(`the GPU worker failed: ${error.message}`)));
    });
  }

  /** A port for one more client, possibly in another thread (transfer it there). */
  connect(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ port: port1 }, [port1]);
    return port2;
  }
}

/** A thread's synchronous line to the GPU worker. */
export class KernelClient {
  private shared = new SharedArrayBuffer(HEADER_BYTES + 64 * 1024);
  private control = new Int32Array(this.shared, 0, 2);
  private sequence = 0;
  private gone = false;

  constructor(private readonly port: MessagePort, readonly minWork = DEFAULT_MIN_WORK) {
    port.unref();
  }

  /**
   * Runs a kernel whose shapes kernelLayout has accepted, writing its result into `output`.
   * Returns the backend that computed it.
   */
  run<K extends KernelName>(name: K, shapes: KernelShapes[K], inputs: Uint8Array[], output: Uint8Array): Backend {
    if (this.gone || kernelGas(name, shapes) < BigInt(this.minWork)) {
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
    this.port.postMessage({ shared: this.shared, sequence, name, shapes, sizes: layout.inputs, output: layout.output });
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

  private abandon<K extends KernelName>(why: string | undefined, name: K, shapes: KernelShapes[K], inputs: Uint8Array[], output: Uint8Array): Backend {
    if (why) console.error(`[gpu] ${why}; this thread uses the CPU references from now on`);
    this.gone = true;
    // A late answer must not land in a buffer a later call reads: this client never uses it again.
    this.shared = new SharedArrayBuffer(HEADER_BYTES);
    output.set(runReference(name, shapes, inputs));
    return 'cpu';
  }
}

// ---- this process's bridge and this thread's client -----------------------------------------

let bridge: GpuBridge | undefined;
let client: KernelClient | undefined;

/**
 * Starts the process's GPU worker once (HYPERWASM_GPU=off starts none) and gives this thread a
 * client; a later call with another `minWork` replaces this thread's client.
 */
export function startGpuBridge(options: BridgeOptions & { minWork?: number } = {}): GpuBridge | undefined {
  const mode = options.mode ?? (process.env.HYPERWASM_GPU as BridgeOptions['mode']) ?? 'auto';
  if (mode === 'off') return undefined;
  bridge ??= new GpuBridge({ mode });
  const minWork = options.minWork ?? client?.minWork ?? minWorkFromEnv();
  if (client?.minWork !== minWork) client = new KernelClient(bridge.connect(), minWork);
  return bridge;
}

/** The process's bridge, if started. */
export const gpuBridge = (): GpuBridge | undefined => bridge;

/** This thread's client (undefined: kernels run on the CPU references). */
export const kernelClient = (): KernelClient | undefined => client;

/** Sets this thread's client (a worker thread given a port from GpuBridge.connect()). */
export function useKernelClient(next: KernelClient | undefined): void {
  client = next;
}

/** HYPERWASM_GPU_MIN_WORK overrides DEFAULT_MIN_WORK (0 sends every kernel call to the GPU). */
export function minWorkFromEnv(): number {
  const raw = process.env.HYPERWASM_GPU_MIN_WORK;
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value >= 0 ? value : DEFAULT_MIN_WORK;
}
