// WebGPU through Dawn for Node (the `webgpu` package): which adapter serves the kernels.
//
// Order: a hardware adapter when the machine has a Vulkan driver that offers one; otherwise
// Mesa lavapipe (software Vulkan on the CPU) when `scripts/install-lavapipe.sh` has put it in
// `.lavapipe/`; otherwise none, and the engine uses the CPU references (engine/gpu/reference.ts),
// which give the same bytes.
//
// Dawn's instance lifetime (../shared/reference/dependencies.md): the object `create()` returns
// must stay referenced for as long as its devices are used (a GC otherwise crashes Node inside
// Dawn's event processing), and must be dropped, with the device destroyed, for Node to exit.
// `Gpu` holds it; `Gpu.close()` destroys the device and drops every reference.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the node's info says about the kernels' backend. */
export interface GpuDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** 'gpu' when a WebGPU device runs the kernels (lavapipe included), 'cpu' for the references. */
  backend: 'gpu' | 'cpu';
  /** Where the adapter came from: a system driver, the project's lavapipe, or none. */
  source: 'hardware' | 'lavapipe' | 'system-fallback' | 'none';
  /** WGSL language features the kernels use when present (e.g. packed_4x8_integer_dot_product). */
  features: string[];
  /** Why there is no GPU, when backend is 'cpu'. */
  reason?: string;
}

export interface GpuLimits {
  /** Largest storage buffer binding a kernel uses, in bytes (operands beyond it are tiled). */
  maxStorageBindingBytes: number;
  /** Largest buffer, in bytes. */
  maxBufferBytes: number;
  /** Workgroups per dispatch dimension (work beyond it is split into several dispatches). */
  maxWorkgroupsPerDimension: number;
}

/** Which adapter serves the kernels: 'auto' (hardware, then lavapipe, then none), 'lavapipe' (only the project's lavapipe), 'hardware', 'off' (none). */
export type GpuMode = 'auto' | 'lavapipe' | 'hardware' | 'off';
export const GPU_MODES: readonly GpuMode[] = ['auto', 'lavapipe', 'hardware', 'off'];

export interface AcquireOptions {
  /** Default 'auto'. */
  mode?: GpuMode;
  /** Extra strings for Dawn's create() (e.g. 'enable-dawn-features=…'). */
  dawnOptions?: string[];
  /** The ICD json to use for lavapipe (default: <project>/.lavapipe/lvp_icd.json). */
  lavapipeIcd?: string;
}

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LAVAPIPE_ICD = join(projectRoot, '.lavapipe', 'lvp_icd.json');

type DawnModule = { create(options: string[]): GPU; globals: Record<string, unknown> };

let dawn: DawnModule | undefined;
async function loadDawn(): Promise<DawnModule | undefined> {
  if (dawn) return dawn;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
    return dawn;
  } catch {
    return undefined; // no prebuilt dawn.node for this platform
  }
}

/** WebGPU's numeric constants (GPUBufferUsage, GPUMapMode), fixed by the spec; Dawn only exposes them as globals. */
export const usage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
};
export const MAP_READ_MODE = 0x1;

/** Vulkan ICD manifests the loader would find by itself (a system driver is installed). */
function systemVulkanDrivers(): string[] {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return ['(from the environment)'];
  const dirs = [
    '/etc/vulkan/icd.d',
    '/usr/share/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    '/usr/local/etc/vulkan/icd.d',
    join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'vulkan', 'icd.d'),
    join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'vulkan', 'icd.d'),
    ...(process.env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean).map((d) => join(d, 'vulkan', 'icd.d')),
  ];
  const found: string[] = [];
  for (const dir of dirs) {
    try {
      for (const name of readdirSync(dir)) if (name.endsWith('.json')) found.push(join(dir, name));
    } catch {
      // absent
    }
  }
  return found;
}

/** The Vulkan loader (libvulkan.so.1): without it Dawn finds no Vulkan adapter at all. */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1'))) || (process.env.LD_LIBRARY_PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'libvulkan.so.1')));
}

/** A WebGPU device and the Dawn instance that must outlive it. */
export class Gpu {
  /** Dawn's instance: referenced here for the device's whole life (see the header). */
  private instance: GPU | undefined;
  private dev: GPUDevice | undefined;
  private lostReason: string | undefined;
  readonly description: GpuDescription;
  readonly limits: GpuLimits;
  /** Whether WGSL's dot4I8Packed is available (the packed_4x8_integer_dot_product language feature). */
  readonly packedDot: boolean;
  /** Compiled pipelines by kernel and variant, shared by every GpuDevice on this Gpu. */
  readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(instance: GPU, adapter: GPUAdapter, device: GPUDevice, source: GpuDescription['source']) {
    this.instance = instance;
    this.dev = device;
    const info = adapter.info;
    const wgsl = instance.wgslLanguageFeatures;
    this.packedDot = wgsl?.has('packed_4x8_integer_dot_product') ?? false;
    this.description = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      backend: 'gpu',
      source,
      features: this.packedDot ? ['packed_4x8_integer_dot_product'] : [],
    };
    this.limits = {
      maxStorageBindingBytes: Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize),
      maxBufferBytes: device.limits.maxBufferSize,
      maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    };
    device.lost.then((lost) => {
      if (this.dev === device) this.lostReason = `device lost: ${lost.reason} ${lost.message}`.trim();
    });
    device.addEventListener?.('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      console.error(`[gpu] uncaptured WebGPU error: ${error?.message}`);
    });
  }

  /** The device; throws once closed or lost. */
  get device(): GPUDevice {
    if (!this.dev) throw new Error('gpu: closed');
    if (this.lostReason) throw new Error(`gpu: ${this.lostReason}`);
    return this.dev;
  }

  get usable(): boolean {
    return this.dev !== undefined && this.lostReason === undefined;
  }

  /** Destroys the device and drops Dawn's instance so Node can exit. Idempotent. */
  close(): void {
    const device = this.dev;
    this.dev = undefined;
    this.pipelines.clear();
    this.instance = undefined;
    try {
      device?.destroy();
    } catch {
      // already gone
    }
  }
}

/** The description when no adapter serves the kernels. */
export function cpuDescription(reason: string): GpuDescription {
  return { vendor: '', architecture: '', device: '', description: 'CPU reference kernels', isFallbackAdapter: false, backend: 'cpu', source: 'none', features: [], reason };
}

/** A device for the kernels, or why there is none. */
export type Acquired = { gpu: Gpu; reason?: undefined } | { gpu?: undefined; reason: string };

async function tryInstance(module: DawnModule, options: string[]): Promise<{ instance: GPU; adapter: GPUAdapter } | undefined> {
  const instance = module.create(options);
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined; // the instance is dropped here, before any device exists
  return { instance, adapter };
}

async function openDevice(found: { instance: GPU; adapter: GPUAdapter }, source: GpuDescription['source']): Promise<Gpu> {
  const { adapter } = found;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return new Gpu(found.instance, adapter, device, source);
}

const isFallback = (adapter: GPUAdapter) =>
  Boolean((adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter) || adapter.info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(adapter.info.device + adapter.info.description);

/**
 * A WebGPU device for the kernels, or why there is none. The caller owns the device and must
 * `close()` it. The mode comes from the caller (the node's `gpu` option, `serve --gpu`, or
 * HYPERWASM_GPU read once by the CLI); default 'auto'.
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<Acquired> {
  const mode = options.mode ?? 'auto';
  if (mode === 'off') return { reason: 'disabled (gpu: off)' };
  const module = await loadDawn();
  if (!module) return { reason: `no dawn.node for ${process.platform}-${process.arch} in the webgpu package` };
  // Without the loader Dawn finds no Vulkan adapter; tried anyway (it may sit where we do not look).
  const noLoader = vulkanLoaderPresent() ? '' : ' (no Vulkan loader libvulkan.so.1 found: install libvulkan1)';
  const dawnOptions = options.dawnOptions ?? [];
  let fallback: { instance: GPU; adapter: GPUAdapter } | undefined;

  // 1. A hardware adapter, through the system's own Vulkan drivers (skipped when there are none:
  //    Dawn would only log that it found no driver).
  if (mode !== 'lavapipe' && systemVulkanDrivers().length > 0) {
    const found = await tryInstance(module, dawnOptions);
    if (found && !isFallback(found.adapter)) return { gpu: await openDevice(found, 'hardware') };
    fallback = found; // a software adapter the system offers, if the project's lavapipe is absent
  }
  if (mode === 'hardware') return { reason: (fallback ? 'only a software adapter is available' : 'no hardware adapter') + noLoader };

  // 2. The project's lavapipe (scripts/install-lavapipe.sh). The Vulkan loader reads
  //    VK_ICD_FILENAMES when Dawn creates its Vulkan instance, so it is set before create().
  const icd = options.lavapipeIcd ?? LAVAPIPE_ICD;
  if (existsSync(icd)) {
    fallback = undefined; // drop the system's instance before making another
    const previous = process.env.VK_ICD_FILENAMES;
    process.env.VK_ICD_FILENAMES = icd;
    try {
      const found = await tryInstance(module, ['backend=vulkan', ...dawnOptions]);
      if (found) return { gpu: await openDevice(found, 'lavapipe') };
      return { reason: `lavapipe at ${icd} offered no adapter${noLoader || ' (Dawn rejects Mesa before 25; rerun scripts/install-lavapipe.sh)'}` };
    } finally {
      if (previous === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = previous;
    }
  }
  if (fallback) return { gpu: await openDevice(fallback, 'system-fallback') };
  return { reason: 'no hardware Vulkan driver and no lavapipe in .lavapipe/' + noLoader };
}
