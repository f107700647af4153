// The elementwise i32 kernels: add_i32 (a plain add, or a bias row added to every row) and
// relu_i32. On the GPU, one invocation per element, in chunks of one binding and one dispatch.
import { type GpuDevice } from '../device.ts';
import { KERNEL_CALL_GAS, bounded, bytes, counts, i32, isCount, need, type Kernel } from '../kernel.ts';
import * as ref from '../reference.ts';
import { ELEMENTWISE_WORKGROUP, addI32Wgsl, reluI32Wgsl } from '../wgsl/elementwise.ts';

export interface AddShapes {
  length: number;
  /** b's length: absent or = length for a plain add; else it divides length (a bias row). */
  bLength?: number;
}

export interface LengthShapes {
  length: number;
}

/** out[i] = a[i] + b[i mod bLength], wrapping (see reference.addI32). */
export const addI32: Kernel<AddShapes> = {
  name: 'add_i32',
  signature: {
    params: ['a', 'b', 'out', 'length', 'bLength'],
    split: ([a, b, out, length, bLength]) => ({ inputs: [a, b], output: out, shapes: { length, bLength } }),
  },
  layout(shapes) {
    const [length] = counts('add_i32', shapes, 'length');
    bounded('add_i32', shapes, length);
    const bLength = shapes.bLength === undefined ? length : shapes.bLength;
    need(isCount(bLength) && (bLength >= 1 ? length % bLength === 0 : length === 0), 'add_i32', 'bLength must be at least 1 and divide length', shapes);
    return { inputs: [length * 4, bLength * 4], output: length * 4 };
  },
  gas: ({ length }) => KERNEL_CALL_GAS + BigInt(length),
  reference: ([a, b]) => bytes(ref.addI32(i32(a), i32(b))),
  run: async (device, [a, b]) => bytes(await add(device, i32(a), i32(b))),
  shader: () => ({ key: 'add_i32', wgsl: () => addI32Wgsl }),
  sample: { shapes: { length: 1 }, inputs: [bytes(Int32Array.of(1)), bytes(Int32Array.of(1))] },
};

/** out[i] = max(x[i], 0) (see reference.reluI32). */
export const reluI32: Kernel<LengthShapes> = {
  name: 'relu_i32',
  signature: {
    params: ['x', 'out', 'length'],
    split: ([x, out, length]) => ({ inputs: [x], output: out, shapes: { length } }),
  },
  layout(shapes) {
    const [length] = counts('relu_i32', shapes, 'length');
    bounded('relu_i32', shapes, length);
    return { inputs: [length * 4], output: length * 4 };
  },
  gas: ({ length }) => KERNEL_CALL_GAS + BigInt(length),
  reference: ([x]) => bytes(ref.reluI32(i32(x))),
  run: async (device, [x]) => bytes(await relu(device, i32(x))),
  shader: () => ({ key: 'relu_i32', wgsl: () => reluI32Wgsl }),
  sample: { shapes: { length: 1 }, inputs: [bytes(Int32Array.of(1))] },
};

async function add(device: GpuDevice, a: Int32Array, b: Int32Array): Promise<Int32Array> {
  const n = a.length;
  const out = new Int32Array(n);
  if (n === 0) return out;
  const pipeline = await device.pipeline(addI32);
  const chunk = Math.min(n, device.chunkElements(ELEMENTWISE_WORKGROUP));
  const bWhole = b.length * 4 <= device.limits.maxStorageBindingBytes;
  const bufA = device.buffer('storage', chunk * 4);
  const bufB = device.buffer('storage', bWhole ? b.length * 4 : chunk * 4);
  const bufOut = device.buffer('storage', chunk * 4);
  if (bWhole) device.write(bufB, b);
  await device.chunked(pipeline, n, ELEMENTWISE_WORKGROUP, (count) => count * 4, (start, count) => {
    device.write(bufA, a.subarray(start, start + count));
    let bSize = b.length * 4;
    let params;
    if (bWhole) params = device.uniform([count, b.length, start % b.length, 0]);
    else {
      // b is larger than one binding: this chunk's slice of the repeated b, written out
      const slice = new Int32Array(count);
      for (let i = 0; i < count; i++) slice[i] = b[(start + i) % b.length];
      device.write(bufB, slice);
      bSize = count * 4;
      params = device.uniform([count, count, 0, 0]);
    }
    return { bindings: [{ buffer: bufA, size: count * 4 }, { buffer: bufB, size: bSize }, { buffer: bufOut, size: count * 4 }, params], out: bufOut };
  }, (chunk, start) => new Uint8Array(out.buffer).set(chunk, start * 4));
  return out;
}

async function relu(device: GpuDevice, x: Int32Array): Promise<Int32Array> {
  const n = x.length;
  const out = new Int32Array(n);
  if (n === 0) return out;
  const pipeline = await device.pipeline(reluI32);
  const chunk = Math.min(n, device.chunkElements(ELEMENTWISE_WORKGROUP));
  const bufX = device.buffer('storage', chunk * 4);
  const bufOut = device.buffer('storage', chunk * 4);
  await device.chunked(pipeline, n, ELEMENTWISE_WORKGROUP, (count) => count * 4, (start, count) => {
    device.write(bufX, x.subarray(start, start + count));
    return { bindings: [{ buffer: bufX, size: count * 4 }, { buffer: bufOut, size: count * 4 }, device.uniform([count, 0, 0, 0])], out: bufOut };
  }, (chunk, start) => new Uint8Array(out.buffer).set(chunk, start * 4));
  return out;
}
