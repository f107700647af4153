// Seeded sampling with every choice in integers, so that every node given the same logits and
// seed draws the same token (PROTOCOL.md §26 has the rule; modules/llama.ts is its port, bit for
// bit). Why integers: a float sampler's cumulative sums and comparisons depend on summation
// order and on the draw's float conversion; here the only floats are one IEEE f32 subtraction,
// one division and this project's expf per token (engine/llama/math.ts), and everything after
// them (weights, top-k, top-p, the draw) is exact integer arithmetic.
//
//   T = fround(temperature); m = max logit
//   w_i = floor(fround(expf(fround(fround(l_i − m) / T)) · 2^24))      an integer in [0, 2^24]
//   candidates: w_i > 0, by w descending, ties by token ascending; the first topK (0: all)
//   P = floor(topP · 2^16) ∈ [1, 2^16]; W = Σ w over the candidates;
//   keep the shortest prefix whose sum C satisfies C · 2^16 ≥ P · W
//   r = splitmix64(state) (the state advances once per sampled token); v = r mod C;
//   the token is the first of the prefix whose running sum exceeds v.
// temperature 0 is greedy (argmax, ties to the lowest token) and draws nothing.
import { argmax } from './forward-f32.ts';
import { expf } from './math.ts';

export interface SamplingOptions {
  /** 0 (the default) is greedy; otherwise a finite number > 0. */
  temperature?: number;
  /** Keep the k likeliest tokens; 0 (the default) keeps all. */
  topK?: number;
  /** Keep the smallest set of likeliest tokens holding this share of the weight; (0, 1], default 1. */
  topP?: number;
  /** The generator's starting state: an integer in [0, 2^53); default 0. */
  seed?: number;
}

const f = Math.fround;
const ONE = 2 ** 24;
const MASK = (1n << 64n) - 1n;

/** splitmix64: one step of the state, and its output. */
export function splitmix64(state: bigint): { state: bigint; value: bigint } {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return { state: next, value: z ^ (z >> 31n) };
}

/** The request's options checked, with their defaults; throws a RangeError saying what is wrong. */
export function samplingOptions(options: SamplingOptions): Required<SamplingOptions> {
  const { temperature = 0, topK = 0, topP = 1, seed = 0 } = options;
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new RangeError('"temperature" must be a finite number ≥ 0');
  if (!(Number.isInteger(topK) && topK >= 0)) throw new RangeError('"topK" must be an integer ≥ 0');
  if (!(topP > 0 && topP <= 1)) throw new RangeError('"topP" must be a number in (0, 1]');
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 53)) throw new RangeError('"seed" must be an integer from 0 to 2^53 − 1');
  return { temperature, topK, topP, seed };
}

/** A token picker for a generation: each call takes the step's logits and returns the token. */
export function sampler(options: SamplingOptions): (logits: Float32Array) => number {
  const { temperature, topK, topP, seed } = samplingOptions(options);
  if (f(temperature) === 0) return argmax;
  const t = f(temperature);
  const p = Math.max(1, Math.floor(topP * 65536));
  let state = BigInt(seed);
  return (logits) => {
    let m = logits[0]!;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > m) m = logits[i]!;
    const ids: number[] = [];
    const weights = new Uint32Array(logits.length);
    for (let i = 0; i < logits.length; i++) {
      const w = Math.floor(f(expf(f(f(logits[i]! - m) / t)) * ONE));
      weights[i] = w;
      if (w > 0) ids.push(i);
    }
    ids.sort((a, b) => weights[b]! - weights[a]! || a - b);
    const kept = topK > 0 ? ids.slice(0, topK) : ids;
    let total = 0n;
    for (const id of kept) total += BigInt(weights[id]!);
    let prefix = 0n;
    let n = 0;
    while (n < kept.length) {
      prefix += BigInt(weights[kept[n]!]!);
      n++;
      if (prefix * 65536n >= BigInt(p) * total) break;
    }
    const draw = splitmix64(state);
    state = draw.state;
    const v = draw.value % prefix;
    let run = 0n;
    for (let i = 0; i < n; i++) {
      run += BigInt(weights[kept[i]!]!);
      if (run > v) return kept[i]!;
    }
    throw new Error('unreachable: v < prefix');
  };
}
