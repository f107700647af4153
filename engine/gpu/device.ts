// One WebGPU device as the kernels use it: pipelines (created once per shader variant), pooled
// buffers, one call at a time with WebGPU's validation and out-of-memory errors turned into
// exceptions, and the dispatch, chunking and readback steps every kernel in engine/gpu/kernels/
// is written with. What a kernel computes lives in its record; this is only how it gets there.
import { MAP_READ_MODE, acquireGpu, cpuDescription, type AcquireOptions, type Gpu, type GpuDescription, type GpuLimits } from './adapter.ts';
import { BufferPool, type BufferKind } from './pool.ts';
import { need, type Kernel } from './kernel.ts';

export interface DeviceOptions {
  /** Smaller limits than the device's, to exercise tiling (tests). */
  limits?: Partial<GpuLimits>;
  /** Use dot4I8Packed (default: when the adapter offers packed_4x8_integer_dot_product). */
  packedDot?: boolean;
}

/** A storage or uniform buffer bound at one binding, `size` bytes of it. */
export interface Binding {
  buffer: GPUBuffer;
  size: number;
}

export const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
export const roundUp = (a: number, b: number) => ceilDiv(a, b) * b;
const READBACK_CAP = 256 * 1024 * 1024;

/** Copies outputs back from the GPU in as few mappings as possible. */
export class Readback {
  private buffer: GPUBuffer | undefined;
  private used = 0;
  private records: { offset: number; bytes: number; deliver: (bytes: Uint8Array) => void }[] = [];

  constructor(
    private readonly device: GpuDevice,
    private remaining: number,
  ) {}

  /** Room for `bytes` in the current readback buffer; flushes the previous one if full. */
  async reserve(bytes: number): Promise<{ buffer: GPUBuffer; offset: number }> {
    if (this.buffer && this.used + bytes > this.buffer.size) await this.flush();
    if (!this.buffer) {
      this.buffer = this.device.pool.acquire('readback', Math.max(bytes, Math.min(this.remaining, READBACK_CAP, this.device.limits.maxBufferBytes)));
      this.used = 0;
    }
    const offset = this.used;
    this.used += bytes;
    this.remaining -= bytes;
    return { buffer: this.buffer, offset };
  }

  /** Called once the copy into `offset` has been submitted. */
  deliver(offset: number, bytes: number, deliver: (bytes: Uint8Array) => void): void {
    this.records.push({ offset, bytes, deliver });
  }

  async flush(): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) return;
    this.buffer = undefined;
    try {
      await buffer.mapAsync(MAP_READ_MODE, 0, this.used);
      const mapped = new Uint8Array(buffer.getMappedRange(0, this.used));
      for (const r of this.records) r.deliver(mapped.subarray(r.offset, r.offset + r.bytes));
      buffer.unmap();
    } finally {
      this.records = [];
      this.device.pool.release('readback', buffer);
    }
  }
}

export class GpuDevice {
  readonly pool: BufferPool;
  readonly limits: GpuLimits;
  readonly packedDot: boolean;
  private tail: Promise<unknown> = Promise.resolve();
  private held: { kind: BufferKind; buffer: GPUBuffer }[] = [];

  constructor(
    readonly gpu: Gpu,
    options: DeviceOptions = {},
  ) {
    this.limits = { ...gpu.limits, ...options.limits };
    this.limits.maxStorageBindingBytes = Math.min(this.limits.maxStorageBindingBytes, gpu.limits.maxStorageBindingBytes);
    this.limits.maxWorkgroupsPerDimension = Math.min(this.limits.maxWorkgroupsPerDimension, gpu.limits.maxWorkgroupsPerDimension);
    this.packedDot = (options.packedDot ?? gpu.packedDot) && gpu.packedDot;
    this.pool = new BufferPool(() => gpu.device, gpu.limits.maxBufferBytes);
  }

  private get device(): GPUDevice {
    return this.gpu.device;
  }

  /**
   * Runs a kernel on this device, one call at a time; the same bytes as its reference. Throws
   * (422) when the operands do not match the shapes, and on any WebGPU error.
   */
  run<S>(kernel: Kernel<S>, inputs: Uint8Array[], shapes: S): Promise<Uint8Array> {
    checkInputs(kernel, shapes, inputs);
    return this.serial(() => kernel.run(this, inputs, shapes));
  }

  /** One call at a time, with WebGPU validation and out-of-memory errors turned into exceptions. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      const device = this.device;
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let result: T;
      try {
        result = await fn();
      } finally {
        const validation = await device.popErrorScope();
        const memory = await device.popErrorScope();
        for (const { kind, buffer } of this.held.splice(0)) this.pool.release(kind, buffer);
        const error = validation ?? memory;
        if (error) throw new Error(`gpu: ${error.message}`);
      }
      return result;
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** A pooled buffer, returned to the pool when the current call ends. */
  buffer(kind: BufferKind, bytes: number): GPUBuffer {
    const buffer = this.pool.acquire(kind, bytes);
    this.held.push({ kind, buffer });
    return buffer;
  }

  /** The compiled pipeline of a kernel's shader on this device (shared by every GpuDevice on one Gpu). */
  pipeline<S>(kernel: Kernel<S>): Promise<GPUComputePipeline> {
    const { key, wgsl } = kernel.shader(this);
    const pipelines = this.gpu.pipelines;
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code: wgsl(), label: key });
      pipeline = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      pipeline.catch(() => pipelines.delete(key));
      pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** One dispatch of `groupsX × groupsY` workgroups, then (optionally) a copy of its output into a readback buffer. */
  dispatch(pipeline: GPUComputePipeline, bindings: Binding[], groupsX: number, groupsY = 1, copy?: { from: GPUBuffer; to: GPUBuffer; offset: number; bytes: number }): void {
    const device = this.device;
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b.buffer, offset: 0, size: b.size } })),
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    if (copy) encoder.copyBufferToBuffer(copy.from, 0, copy.to, copy.offset, copy.bytes);
    device.queue.submit([encoder.finish()]);
  }

  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(buffer, 0, data as ArrayBufferView<ArrayBuffer>);
  }

  /** A 16-byte uniform buffer holding four u32 (or i32) parameters. */
  uniform(values: ArrayLike<number>, signed = false): Binding {
    const buffer = this.buffer('uniform', 16);
    const data = signed ? Int32Array.from(values) : Uint32Array.from(values);
    this.write(buffer, data);
    return { buffer, size: 16 };
  }

  readback(totalBytes: number): Readback {
    return new Readback(this, totalBytes);
  }

  /** Elements per chunk: one binding of i32 and one dispatch of `perGroup` elements per workgroup. */
  chunkElements(perGroup: number): number {
    const byBinding = Math.floor(this.limits.maxStorageBindingBytes / 4 / perGroup) * perGroup;
    return Math.max(perGroup, Math.min(byBinding, this.limits.maxWorkgroupsPerDimension * perGroup));
  }

  /**
   * The loop every elementwise kernel shares: `n` elements in chunks (chunkElements(perGroup)),
   * each chunk's inputs bound by `bind`, dispatched, its output copied into one readback buffer
   * and handed to `deliver` with the chunk's first element and count.
   */
  async chunked(
    pipeline: GPUComputePipeline,
    n: number,
    perGroup: number,
    outBytes: (count: number) => number,
    bind: (start: number, count: number) => { bindings: Binding[]; out: GPUBuffer },
    deliver: (bytes: Uint8Array, start: number, count: number) => void,
  ): Promise<void> {
    const chunk = this.chunkElements(perGroup);
    let total = 0;
    for (let start = 0; start < n; start += chunk) total += outBytes(Math.min(chunk, n - start));
    const readback = this.readback(total);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const bytes = outBytes(count);
      const { bindings, out } = bind(start, count);
      const target = await readback.reserve(bytes);
      this.dispatch(pipeline, bindings, ceilDiv(count, perGroup), 1, { from: out, to: target.buffer, offset: target.offset, bytes });
      readback.deliver(target.offset, bytes, (chunkBytes) => deliver(chunkBytes, start, count));
    }
    await readback.flush();
  }

  /** Releases pooled buffers (pipelines and the device belong to the Gpu). */
  dispose(): void {
    this.pool.clear();
  }

  /** Releases the pool and closes the Gpu (destroys the device, drops Dawn's instance) so Node can exit. */
  close(): void {
    this.dispose();
    this.gpu.close();
  }
}

/**
 * Acquires an adapter (engine/gpu/adapter.ts has the order) and opens a device on it; without one,
 * the description says why and the kernels run on the CPU references. The caller closes the device.
 */
export async function openGpuDevice(options: AcquireOptions = {}): Promise<{ device?: GpuDevice; description: GpuDescription }> {
  try {
    const acquired = await acquireGpu(options);
    if (!acquired.gpu) return { description: cpuDescription(acquired.reason) };
    return { device: new GpuDevice(acquired.gpu), description: acquired.gpu.description };
  } catch (error) {
    return { description: cpuDescription(`adapter failed: ${(error as Error).message}`) };
  }
}

/** Throws (422) unless the operands have the sizes the shapes give. */
export function checkInputs<S>(kernel: Kernel<S>, shapes: S, inputs: Uint8Array[]): void {
  const sizes = kernel.layout(shapes).inputs;
  need(inputs.length === sizes.length, kernel.name, `expects ${sizes.length} inputs, got ${inputs.length}`, shapes);
  sizes.forEach((size, i) => need(inputs[i].byteLength === size, kernel.name, `input ${i} must be ${size} bytes, got ${inputs[i].byteLength}`, shapes));
}
