// The int8 reference forward ("tier A" of llm.md): every matrix-vector product is an exact
// int8×int8 → i32 sum, everything else is the f32 pass of forward-f32.ts unchanged. Why this
// split: integer sums are the same in any order, so a GPU (tiles, split K, DP4A) or any CPU gets
// the same i32s, and the f32 glue is IEEE arithmetic with a fixed order and ./math.ts's
// functions, so the same bytes come out on every machine and in a WASM port. This is the
// function whose output a verifier replays.
//
// One product y = W·x, with W's rows quantised offline (quantize.ts) and x now, by the same rule:
//   s_x = fround(max|x| / 127), q_j = clamp(roundHalfEven(x_j / s_x), −127, 127)   (see quantize.ts)
//   acc_r = Σ_j W_q[r][j]·q_j                                  exact (|acc| < 2^31, checked on read)
//   y_r = fround(fround(fround(acc_r)·s_w[r])·s_x)            f32 ops, left to right
// The embedding row of a token is dequantised: x_j = fround(q_j·s_r).

import { forwardToken, generateGreedy, type Model, type RunState } from './forward-f32.ts';
import { quantizeInto, type MatrixI8 } from './quantize.ts';

const f = Math.fround;

/** Scratch for the quantised activation: the longest input is max(dim, hidden). */
let scratch = new Int8Array(0);

/** out = W·x through exact int8 sums (the rule above). */
export function matvecI8(out: Float32Array, x: Float32Array, w: MatrixI8): void {
  const { rows, cols, stride, scales, data } = w;
  if (x.length !== cols) throw new RangeError(`matvecI8: a vector of ${x.length} for ${cols} columns`);
  if (scratch.length < cols) scratch = new Int8Array(cols);
  const q = scratch;
  const sx = quantizeInto(x, q, 0, cols);
  for (let r = 0; r < rows; r++) {
    const base = r * stride;
    let acc = 0;
    for (let j = 0; j < cols; j++) acc = (acc + data[base + j]! * q[j]!) | 0;
    out[r] = f(f(f(acc) * scales[r]!) * sx);
  }
}

export function embedI8(out: Float32Array, e: MatrixI8, token: number): void {
  const s = e.scales[token]!;
  const base = token * e.stride;
  for (let j = 0; j < e.cols; j++) out[j] = f(e.data[base + j]! * s);
}

export const forwardInt8 = (model: Model<MatrixI8>, state: RunState, token: number, pos: number): Float32Array =>
  forwardToken(model, state, token, pos, matvecI8, embedI8);

/** Tokens from BOS through the int8 forward (see generateGreedy; `pick`: sample.ts's sampler, else greedy). */
export const generateGreedyInt8 = (model: Model<MatrixI8>, steps: number, options: { bos?: number; prompt?: readonly number[]; pick?: (logits: Float32Array) => number } = {}): number[] =>
  generateGreedy(model.config, (state, token, pos) => forwardInt8(model, state, token, pos), steps, options);
