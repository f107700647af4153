// A pool of GPU buffers keyed by (kind, size class): calls reuse buffers instead of allocating
// fresh ones. Size classes are powers of two from 256 bytes (capped at the device's largest
// buffer); idle buffers beyond `maxIdleBytes` are destroyed, largest first.
import { usage } from './adapter.ts';

export type BufferKind = 'storage' | 'uniform' | 'readback';

const flags = (kind: BufferKind) =>
  kind === 'storage'
    ? usage.STORAGE | usage.COPY_DST | usage.COPY_SRC
    : kind === 'uniform'
      ? usage.UNIFORM | usage.COPY_DST
      : usage.MAP_READ | usage.COPY_DST;

export function sizeClass(bytes: number, maxBytes: number): number {
  let size = 256;
  while (size < bytes) size *= 2;
  return Math.min(size, Math.max(maxBytes, bytes));
}

export class BufferPool {
  private idle = new Map<string, GPUBuffer[]>();
  private idleBytes = 0;
  /** Buffers created and reused (for tests and the bench). */
  readonly stats = { created: 0, reused: 0 };

  constructor(
    private readonly device: () => GPUDevice,
    private readonly maxBufferBytes: number,
    private readonly maxIdleBytes = 512 * 1024 * 1024,
  ) {}

  acquire(kind: BufferKind, bytes: number): GPUBuffer {
    const size = sizeClass(Math.max(4, bytes), this.maxBufferBytes);
    const key = `${kind}:${size}`;
    const list = this.idle.get(key);
    const buffer = list?.pop();
    if (buffer) {
      this.idleBytes -= size;
      this.stats.reused++;
      return buffer;
    }
    this.stats.created++;
    return this.device().createBuffer({ size, usage: flags(kind), label: key });
  }

  release(kind: BufferKind, buffer: GPUBuffer): void {
    const key = `${kind}:${buffer.size}`;
    const list = this.idle.get(key) ?? [];
    list.push(buffer);
    this.idle.set(key, list);
    this.idleBytes += buffer.size;
    this.trim();
  }

  private trim(): void {
    if (this.idleBytes <= this.maxIdleBytes) return;
    const keys = [...this.idle.keys()].sort((x, y) => Number(y.split(':')[1]) - Number(x.split(':')[1]));
    for (const key of keys) {
      const list = this.idle.get(key)!;
      while (list.length && this.idleBytes > this.maxIdleBytes) {
        const buffer = list.pop()!;
        this.idleBytes -= buffer.size;
        buffer.destroy();
      }
      if (this.idleBytes <= this.maxIdleBytes) break;
    }
  }

  /** Destroys every idle buffer. */
  clear(): void {
    for (const list of this.idle.values()) for (const buffer of list) buffer.destroy();
    this.idle.clear();
    this.idleBytes = 0;
  }
}
