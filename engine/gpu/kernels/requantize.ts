// requantize: i32 → int8 fixed-point requantisation, exact (engine/gpu/reference.ts
// `requantizeOne` has the rule and its proof). On the GPU, four elements per invocation, packed
// into one output word.
import { roundUp, type GpuDevice } from '../device.ts';
import { KERNEL_CALL_GAS, bounded, bytes, counts, i32, isCount, need, type Kernel } from '../kernel.ts';
import * as ref from '../reference.ts';
import { REQUANTIZE_WORKGROUP, requantizeWgsl } from '../wgsl/requantize.ts';

export interface RequantizeShapes extends ref.Requantization {
  length: number;
}

/** q = clamp(round_half_away_from_zero(x·multiplier / 2^shift) + zeroPoint, -128, 127). */
export const requantize: Kernel<RequantizeShapes> = {
  name: 'requantize',
  signature: {
    params: ['x', 'out', 'length', 'multiplier', 'shift', 'zeroPoint'],
    // the multiplier is unsigned: an i32 argument of 2^31 or more arrives negative
    split: ([x, out, length, multiplier, shift, zeroPoint]) => ({ inputs: [x], output: out, shapes: { length, multiplier: multiplier >>> 0, shift, zeroPoint } }),
  },
  layout(shapes) {
    const [length] = counts('requantize', shapes, 'length');
    bounded('requantize', shapes, length);
    const { multiplier, shift, zeroPoint } = shapes;
    need(isCount(multiplier) && multiplier < 2 ** 31, 'requantize', 'multiplier must be an integer in [0, 2^31)', shapes);
    need(isCount(shift) && shift <= 63, 'requantize', 'shift must be an integer in [0, 63]', shapes);
    need(Number.isSafeInteger(zeroPoint) && zeroPoint >= -128 && zeroPoint <= 127, 'requantize', 'zeroPoint must be an integer in [-128, 127]', shapes);
    return { inputs: [length * 4], output: length };
  },
  gas: ({ length }) => KERNEL_CALL_GAS + BigInt(length),
  reference: ([x], shapes) => bytes(ref.requantize(i32(x), shapes)),
  run: async (device, [x], shapes) => bytes(await run(device, i32(x), shapes)),
  shader: () => ({ key: 'requantize', wgsl: () => requantizeWgsl }),
  sample: { shapes: { length: 1, multiplier: 1, shift: 0, zeroPoint: 0 }, inputs: [bytes(Int32Array.of(1))] },
};

async function run(device: GpuDevice, x: Int32Array, q: ref.Requantization): Promise<Int8Array> {
  const n = x.length;
  const out = new Int8Array(n);
  if (n === 0) return out;
  const pipeline = await device.pipeline(requantize);
  const perGroup = REQUANTIZE_WORKGROUP * 4; // four elements per invocation
  const chunk = Math.min(n, device.chunkElements(perGroup));
  const bufX = device.buffer('storage', chunk * 4);
  const bufOut = device.buffer('storage', roundUp(chunk, 4));
  await device.chunked(pipeline, n, perGroup, (count) => roundUp(count, 4), (start, count) => {
    device.write(bufX, x.subarray(start, start + count));
    const params = device.uniform([count, q.multiplier, q.shift, q.zeroPoint], true);
    return { bindings: [{ buffer: bufX, size: count * 4 }, { buffer: bufOut, size: roundUp(count, 4) }, params], out: bufOut };
  }, (chunk, start, count) => new Uint8Array(out.buffer).set(chunk.subarray(0, count), start));
  return out;
}
