// argmax_i32: for each row of an i32 matrix, the index of its largest element, ties → the lowest
// index. On the GPU, one workgroup per row; rows longer than one binding are split into column
// chunks whose winners are merged here in order.
import { ceilDiv, type GpuDevice } from '../device.ts';
import { KERNEL_CALL_GAS, bounded, bytes, counts, i32, need, type Kernel } from '../kernel.ts';
import * as ref from '../reference.ts';
import { argmaxWgsl } from '../wgsl/argmax.ts';

export interface ArgmaxShapes {
  rows: number;
  /** At least 1 (unless rows is 0). */
  cols: number;
}

/** Row-wise argmax, ties → lowest index (see reference.argmaxI32). */
export const argmaxI32: Kernel<ArgmaxShapes> = {
  name: 'argmax_i32',
  signature: {
    params: ['x', 'out', 'rows', 'cols'],
    split: ([x, out, rows, cols]) => ({ inputs: [x], output: out, shapes: { rows, cols } }),
  },
  layout(shapes) {
    const [rows, cols] = counts('argmax_i32', shapes, 'rows', 'cols');
    bounded('argmax_i32', shapes, rows * cols);
    need(cols >= 1 || rows === 0, 'argmax_i32', 'cols must be at least 1', shapes);
    return { inputs: [rows * cols * 4], output: rows * 4 };
  },
  gas: ({ rows, cols }) => KERNEL_CALL_GAS + BigInt(rows) * BigInt(cols),
  reference: ([x], { rows, cols }) => bytes(ref.argmaxI32(i32(x), rows, cols)),
  run: async (device, [x], { rows, cols }) => bytes(await argmax(device, i32(x), rows, cols)),
  shader: () => ({ key: 'argmax_i32', wgsl: () => argmaxWgsl }),
  sample: { shapes: { rows: 1, cols: 1 }, inputs: [bytes(Int32Array.of(1))] },
};

async function argmax(device: GpuDevice, x: Int32Array, rows: number, cols: number): Promise<Uint32Array> {
  const out = new Uint32Array(rows);
  if (rows === 0) return out;
  const pipeline = await device.pipeline(argmaxI32);
  const maxElements = Math.floor(device.limits.maxStorageBindingBytes / 4);
  const colChunk = Math.min(cols, maxElements);
  const rowChunk = Math.max(1, Math.min(rows, device.limits.maxWorkgroupsPerDimension, Math.floor(maxElements / colChunk)));
  const split = colChunk < cols;
  const bufX = device.buffer('storage', rowChunk * colChunk * 4);
  const bufOut = device.buffer('storage', rowChunk * 4);
  const readback = device.readback(rows * ceilDiv(cols, colChunk) * 4);
  const bestValue = split ? new Int32Array(rows) : undefined;
  for (let c0 = 0; c0 < cols; c0 += colChunk) {
    const width = Math.min(colChunk, cols - c0);
    for (let r0 = 0; r0 < rows; r0 += rowChunk) {
      const height = Math.min(rowChunk, rows - r0);
      const tile = width === cols ? x.subarray(r0 * cols, (r0 + height) * cols) : block(x, cols, r0, height, c0, width);
      device.write(bufX, tile);
      const params = device.uniform([height, width, 0, 0]);
      const target = await readback.reserve(height * 4);
      device.dispatch(pipeline, [{ buffer: bufX, size: height * width * 4 }, { buffer: bufOut, size: height * 4 }, params], height, 1, {
        from: bufOut,
        to: target.buffer,
        offset: target.offset,
        bytes: height * 4,
      });
      readback.deliver(target.offset, height * 4, (chunk) => {
        const local = new Uint32Array(chunk.slice().buffer);
        for (let r = 0; r < height; r++) {
          const row = r0 + r;
          const index = c0 + local[r];
          if (!bestValue) out[row] = index;
          else {
            // column chunks arrive in order, so a strict > keeps the lowest index on ties
            const value = x[row * cols + index];
            if (c0 === 0 || value > bestValue[row]) {
              bestValue[row] = value;
              out[row] = index;
            }
          }
        }
      });
    }
  }
  await readback.flush();
  return out;
}

/** Rows [r0, r0+rows) × columns [c0, c0+cols) of a row-major i32 matrix with `stride` columns. */
function block(x: Int32Array, stride: number, r0: number, rows: number, c0: number, cols: number): Int32Array {
  const out = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(x.subarray((r0 + r) * stride + c0, (r0 + r) * stride + c0 + cols), r * cols);
  return out;
}
