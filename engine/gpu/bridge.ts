// The GPU worker of one runtime (engine/gpu/runtime.ts): a worker thread that owns the WebGPU
// device (engine/gpu/bridge-side.ts), because a WASM import is synchronous and WebGPU is not.
// This side is the control line, over engine/worker.ts: it starts the worker, asks which
// adapter it acquired, warms it, hands out ports for clients (engine/gpu/client.ts, one per
// thread) and closes it. The kernel calls themselves never pass through here: they go from a
// client's SharedArrayBuffer to the worker on the client's own port.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { WorkerLine } from '../worker.ts';
import { cpuDescription, type GpuDescription, type GpuMode } from './adapter.ts';
import type { BridgePort, BridgeReply, BridgeRequest } from './bridge-side.ts';

export class GpuBridge {
  private readonly line: WorkerLine<BridgeRequest, BridgeReply>;
  private closing: Promise<void> | undefined;
  /** The adapter serving the kernels, once the worker has tried to acquire one. */
  readonly description: Promise<GpuDescription>;

  constructor(mode: GpuMode = 'auto') {
    this.line = new WorkerLine({
      module: new URL('./bridge-side.ts', import.meta.url),
      tsx: true,
      // Dawn's Vulkan loader reads VK_ICD_FILENAMES from the real environment, which a worker's
      // private copy of process.env would not reach.
      shareEnv: true,
      start: () => ({ workerData: { mode } }),
      lost: (reason) => new Error(`the GPU worker ${reason}`),
    });
    this.description = this.line.request({ op: 'describe' }).then(
      (description) => description ?? cpuDescription('the GPU worker gave no description'),
      (error: Error) => cpuDescription(`the GPU worker failed: ${error.message}`),
    );
  }

  /** A port for one more client, possibly in another thread (transfer it there); undefined once closed. */
  connect(): MessagePort | undefined {
    if (this.closing) return undefined;
    const { port1, port2 } = new MessageChannel();
    const message: BridgePort = { port: port1 };
    this.line.post(message, [port1]);
    return port2;
  }

  /** Compiles every kernel's pipelines (lavapipe compiles a shader at its first dispatch). */
  async warm(): Promise<void> {
    await this.line.request({ op: 'warm' });
  }

  /** Has the worker destroy its device (so Dawn lets the process exit), then ends it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.line.request({ op: 'close' }).catch(() => undefined);
      await this.line.close();
    })();
    return this.closing;
  }
}
