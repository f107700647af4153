// The plain f32 Llama-2 forward pass (llama2.c's run.c: RMSNorm, RoPE on interleaved pairs,
// grouped-query attention over a KV cache, SwiGLU, classifier), and greedy generation. It is the
// golden reference: its greedy story from BOS must be llama2.c's. Why so careful with floats:
// every operation is rounded to f32 with Math.fround (an f64 +,−,×,÷ or √ of f32 values rounded
// once to f32 is exactly the f32 operation, so this is IEEE f32 arithmetic, as a WASM module's
// would be), sums run in index order, and exp/sin/cos/pow come from ./math.ts rather than
// Math.*, whose last bits ECMAScript leaves to the engine. The result is the same bytes on any
// machine, and the same skeleton (forwardToken) serves the int8 reference with its own products.
//
// RoPE and the GGUF: llama.cpp's HF converter permutes Q and K rows from HF's rotate-half
// layout back to Meta's interleaved pairs, the layout llama.cpp's "normal" RoPE and run.c both
// rotate; a llama2.c-trained model (stories*) was interleaved from the start. So the rows are
// used as stored, pairs (2i, 2i+1) rotated together; the golden test is what pins this.

import { GGUFError, llamaConfig, tensorF32, type GGUF, type LlamaConfig } from './gguf.ts';
import { cosf, expf, powf, sinf } from './math.ts';

const f = Math.fround;

/** The matrices of one block, of any representation M (f32 rows here, int8 rows in forward-int8). */
export interface Layer<M> {
  attnNorm: Float32Array;
  wq: M; wk: M; wv: M; wo: M;
  ffnNorm: Float32Array;
  /** gate (w1), down (w2), up (w3), in llama2.c's names. */
  w1: M; w2: M; w3: M;
}

export interface Model<M> {
  config: LlamaConfig;
  /** The token embedding, as the representation the model stores it in. */
  embedding: M;
  layers: Layer<M>[];
  outputNorm: Float32Array;
  classifier: M;
}

/** A row-major f32 matrix: `rows` outputs, each the dot product of a `cols`-long row with x. */
export interface MatrixF32 { rows: number; cols: number; data: Float32Array }

/** The f32 weights of a llama GGUF, with each tensor's shape checked against the config. */
export function modelF32FromGGUF(gguf: GGUF): Model<MatrixF32> {
  const config = llamaConfig(gguf);
  const { dim, hidden, layers, heads, kvHeads, vocab } = config;
  const kvDim = (dim / heads) * kvHeads;
  const matrix = (name: string, rows: number, cols: number): MatrixF32 => {
    const info = gguf.tensors.get(name);
    if (!info) throw new GGUFError(`GGUF has no tensor ${name}`);
    if (info.dims.length !== 2 || info.dims[0] !== cols || info.dims[1] !== rows) {
      throw new GGUFError(`GGUF tensor ${name} has shape [${info.dims.join(', ')}], expected [${cols}, ${rows}]`);
    }
    return { rows, cols, data: tensorF32(gguf, name) };
  };
  const vector = (name: string, n: number): Float32Array => {
    const info = gguf.tensors.get(name);
    if (!info) throw new GGUFError(`GGUF has no tensor ${name}`);
    if (info.dims.length !== 1 || info.dims[0] !== n) throw new GGUFError(`GGUF tensor ${name} has shape [${info.dims.join(', ')}], expected [${n}]`);
    return tensorF32(gguf, name);
  };
  const embedding = matrix('token_embd.weight', vocab, dim);
  return {
    config,
    embedding,
    layers: Array.from({ length: layers }, (_, l) => ({
      attnNorm: vector(`blk.${l}.attn_norm.weight`, dim),
      wq: matrix(`blk.${l}.attn_q.weight`, dim, dim),
      wk: matrix(`blk.${l}.attn_k.weight`, kvDim, dim),
      wv: matrix(`blk.${l}.attn_v.weight`, kvDim, dim),
      wo: matrix(`blk.${l}.attn_output.weight`, dim, dim),
      ffnNorm: vector(`blk.${l}.ffn_norm.weight`, dim),
      w1: matrix(`blk.${l}.ffn_gate.weight`, hidden, dim),
      w2: matrix(`blk.${l}.ffn_down.weight`, dim, hidden),
      w3: matrix(`blk.${l}.ffn_up.weight`, hidden, dim),
    })),
    outputNorm: vector('output_norm.weight', dim),
    // A GGUF without output.weight ties the classifier to the embedding.
    classifier: gguf.tensors.has('output.weight') ? matrix('output.weight', vocab, dim) : embedding,
  };
}

/** The buffers of one sequence: activations and the KV cache for up to `seqLen` positions. */
export interface RunState {
  seqLen: number;
  x: Float32Array; xb: Float32Array; xb2: Float32Array;
  hb: Float32Array; hb2: Float32Array;
  q: Float32Array; k: Float32Array; v: Float32Array;
  att: Float32Array; logits: Float32Array;
  keyCache: Float32Array; valueCache: Float32Array;
}

export function createState(config: LlamaConfig, seqLen = config.contextLength): RunState {
  const { dim, hidden, layers, heads, kvHeads, vocab } = config;
  const kvDim = (dim / heads) * kvHeads;
  return {
    seqLen,
    x: new Float32Array(dim), xb: new Float32Array(dim), xb2: new Float32Array(dim),
    hb: new Float32Array(hidden), hb2: new Float32Array(hidden),
    q: new Float32Array(dim), k: new Float32Array(kvDim), v: new Float32Array(kvDim),
    att: new Float32Array(heads * seqLen), logits: new Float32Array(vocab),
    keyCache: new Float32Array(layers * seqLen * kvDim), valueCache: new Float32Array(layers * seqLen * kvDim),
  };
}

/** out = W·x in f32, each row summed in index order. */
export function matvecF32(out: Float32Array, x: Float32Array, w: MatrixF32): void {
  const { rows, cols, data } = w;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const base = i * cols;
    for (let j = 0; j < cols; j++) s = f(s + f(data[base + j]! * x[j]!));
    out[i] = s;
  }
}

/** out = weight ⊙ x / √(mean(x²) + ε), as run.c (out may be x). */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number): void {
  const n = x.length;
  let ss = 0;
  for (let j = 0; j < n; j++) ss = f(ss + f(x[j]! * x[j]!));
  ss = f(ss / n);
  ss = f(ss + f(eps));
  ss = f(1 / f(Math.sqrt(ss)));
  for (let j = 0; j < n; j++) out[j] = f(weight[j]! * f(ss * x[j]!));
}

/** x[0..n) ← softmax, max subtracted first, as run.c. */
export function softmax(x: Float32Array, n: number): void {
  let max = x[0]!;
  for (let i = 1; i < n; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = expf(f(x[i]! - max));
    x[i] = e;
    sum = f(sum + e);
  }
  for (let i = 0; i < n; i++) x[i] = f(x[i]! / sum);
}

/** The index of the largest value, the lowest index on ties. */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Rotates q (all heads) and k (the kv heads) at `pos`, pairs (2i, 2i+1) within each head. */
export function rope(q: Float32Array, k: Float32Array, pos: number, config: LlamaConfig): void {
  const headSize = config.dim / config.heads;
  const half = headSize / 2;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const freq = f(1 / powf(config.ropeTheta, f((2 * j) / headSize)));
    const val = f(pos * freq);
    cos[j] = cosf(val);
    sin[j] = sinf(val);
  }
  const rotate = (vec: Float32Array) => {
    for (let i = 0; i < vec.length; i += 2) {
      const j = (i % headSize) / 2;
      const fcr = cos[j]!;
      const fci = sin[j]!;
      const v0 = vec[i]!;
      const v1 = vec[i + 1]!;
      vec[i] = f(f(v0 * fcr) - f(v1 * fci));
      vec[i + 1] = f(f(v0 * fci) + f(v1 * fcr));
    }
  };
  rotate(q);
  rotate(k);
}

/** SiLU(hb)·hb2 into hb. */
export function swiglu(hb: Float32Array, hb2: Float32Array): void {
  for (let i = 0; i < hb.length; i++) {
    let val = hb[i]!;
    val = f(val * f(1 / f(1 + expf(-val))));
    hb[i] = f(val * hb2[i]!);
  }
}

/**
 * One token through the model at `pos`: writes state.logits. The products go through
 * `matvec` and the embedding row through `embed`, so f32 and int8 share every other step.
 */
export function forwardToken<M>(
  model: Model<M>,
  state: RunState,
  token: number,
  pos: number,
  matvec: (out: Float32Array, x: Float32Array, w: M) => void,
  embed: (out: Float32Array, embedding: M, token: number) => void,
): Float32Array {
  const { config } = model;
  const { dim, heads, kvHeads, rmsEps } = config;
  const headSize = dim / heads;
  const kvDim = headSize * kvHeads;
  const kvMul = heads / kvHeads;
  const { seqLen, x, xb, xb2, hb, hb2, q, k, v, att, keyCache, valueCache } = state;
  if (!(Number.isInteger(pos) && pos >= 0 && pos < seqLen)) throw new RangeError(`position ${pos} is outside the context of ${seqLen}`);
  if (!(Number.isInteger(token) && token >= 0 && token < config.vocab)) throw new RangeError(`token ${token} is outside the vocabulary of ${config.vocab}`);
  const invSqrtHead = f(Math.sqrt(headSize));
  embed(x, model.embedding, token);
  model.layers.forEach((layer, l) => {
    rmsnorm(xb, x, layer.attnNorm, rmsEps);
    matvec(q, xb, layer.wq);
    matvec(k, xb, layer.wk);
    matvec(v, xb, layer.wv);
    rope(q, k, pos, config);
    const loff = l * seqLen * kvDim;
    keyCache.set(k, loff + pos * kvDim);
    valueCache.set(v, loff + pos * kvDim);
    for (let h = 0; h < heads; h++) {
      const qo = h * headSize;
      const ao = h * seqLen;
      const kvo = Math.floor(h / kvMul) * headSize;
      for (let t = 0; t <= pos; t++) {
        const ko = loff + t * kvDim + kvo;
        let score = 0;
        for (let i = 0; i < headSize; i++) score = f(score + f(q[qo + i]! * keyCache[ko + i]!));
        att[ao + t] = f(score / invSqrtHead);
      }
      const a = att.subarray(ao, ao + pos + 1);
      softmax(a, pos + 1);
      xb.fill(0, qo, qo + headSize);
      for (let t = 0; t <= pos; t++) {
        const vo = loff + t * kvDim + kvo;
        const w = a[t]!;
        for (let i = 0; i < headSize; i++) xb[qo + i] = f(xb[qo + i]! + f(w * valueCache[vo + i]!));
      }
    }
    matvec(xb2, xb, layer.wo);
    for (let i = 0; i < dim; i++) x[i] = f(x[i]! + xb2[i]!);
    rmsnorm(xb, x, layer.ffnNorm, rmsEps);
    matvec(hb, xb, layer.w1);
    matvec(hb2, xb, layer.w3);
    swiglu(hb, hb2);
    matvec(xb2, hb, layer.w2);
    for (let i = 0; i < dim; i++) x[i] = f(x[i]! + xb2[i]!);
  });
  rmsnorm(x, x, model.outputNorm, rmsEps);
  matvec(state.logits, x, model.classifier);
  return state.logits;
}

const embedF32 = (out: Float32Array, e: MatrixF32, token: number): void => out.set(e.data.subarray(token * e.cols, (token + 1) * e.cols));

export const forwardF32 = (model: Model<MatrixF32>, state: RunState, token: number, pos: number): Float32Array =>
  forwardToken(model, state, token, pos, matvecF32, embedF32);

/**
 * Greedy decoding as run.c at temperature 0: starts at BOS, feeds `prompt` (tokens after BOS)
 * first, then the argmax (or `pick`'s token: sample.ts), for up to `steps` positions; stops
 * early when the model emits BOS (the sequence delimiter). Returns the tokens after the initial BOS.
 */
export function generateGreedy(
  config: LlamaConfig,
  forward: (state: RunState, token: number, pos: number) => Float32Array,
  steps: number,
  options: { bos?: number; prompt?: readonly number[]; pick?: (logits: Float32Array) => number } = {},
): number[] {
  const bos = options.bos ?? 1;
  const prompt = options.prompt ?? [];
  const pick = options.pick ?? argmax;
  const total = Math.min(steps, config.contextLength);
  const state = createState(config, total);
  const out: number[] = [];
  let token = bos;
  for (let pos = 0; pos < total; pos++) {
    const logits = forward(state, token, pos);
    const next = pos < prompt.length ? prompt[pos]! : pick(logits);
    if (next === bos) break;
    out.push(next);
    token = next;
  }
  return out;
}
