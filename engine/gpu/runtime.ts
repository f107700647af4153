// One node's (or one verifier's, or one test's) GPU: which adapter mode, the GPU worker that owns
// the device and its buffer pool (engine/gpu/bridge.ts), and the min-work policy its clients
// apply. Created in the composition root (gateway/node.ts from its options; the CLI reads
// HYPERWASM_GPU / --gpu once) and passed down the way the Sandbox is: the thread running a module
// reaches its kernels through the line its InstanceView was given, never through a global. A
// CPU-only runtime (mode 'off') starts no worker and hands out no lines: the references run.
import type { MessagePort } from 'node:worker_threads';
import { cpuDescription, type GpuDescription, type GpuMode } from './adapter.ts';
import { GpuBridge } from './bridge.ts';
import { DEFAULT_MIN_WORK, KernelClient } from './client.ts';

export interface GpuRuntimeOptions {
  /** Which adapter serves the kernels (default 'auto'); 'off': the CPU references only. */
  mode?: GpuMode;
  /** Kernel calls with less work (gas) stay on the CPU reference (default DEFAULT_MIN_WORK; 0: all to the GPU). */
  minWork?: number;
}

/** What another thread needs to make its own KernelClient: a port to the worker (transfer it) and the policy. */
export interface GpuLine {
  port: MessagePort;
  minWork: number;
}

export class GpuRuntime {
  readonly mode: GpuMode;
  readonly minWork: number;
  /** The adapter serving the kernels, once the worker has tried to acquire one (or why none). */
  readonly description: Promise<GpuDescription>;
  /** This thread's line to the GPU worker; undefined: the CPU references. */
  readonly client: KernelClient | undefined;
  private readonly bridge: GpuBridge | undefined;

  constructor(options: GpuRuntimeOptions = {}) {
    this.mode = options.mode ?? 'auto';
    this.minWork = options.minWork ?? DEFAULT_MIN_WORK;
    if (this.mode !== 'off') this.bridge = new GpuBridge(this.mode);
    this.description = this.bridge?.description ?? Promise.resolve(cpuDescription('disabled (gpu: off)'));
    const port = this.bridge?.connect();
    this.client = port && new KernelClient(port, this.minWork);
  }

  /** A runtime without a GPU: every kernel call runs on its CPU reference. */
  static cpu(): GpuRuntime {
    return new GpuRuntime({ mode: 'off' });
  }

  /** A line for another thread (a sandbox worker), or undefined when this runtime has no GPU worker. */
  connect(): GpuLine | undefined {
    const port = this.bridge?.connect();
    return port && { port, minWork: this.minWork };
  }

  /** Compiles every kernel's pipelines in the GPU worker now rather than at their first calls. */
  warm(): Promise<void> {
    return this.bridge?.warm() ?? Promise.resolve();
  }

  /**
   * Releases the device and ends the GPU worker; this thread's client computes on the references
   * from then on. Close what holds a line in another thread (the sandbox) first: a call there
   * would wait out the client's answer timeout.
   */
  close(): Promise<void> {
    this.client?.close();
    return this.bridge?.close() ?? Promise.resolve();
  }
}
