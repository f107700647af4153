// int8 weights with one f32 scale per row, and "HWLM" (hyperwasm language model), the one
// binary file a Llama model is uploaded as and a WASM module reads. Why per-row scales and not
// llama2.c's Q8_0 groups: a row's dot product is then one exact int8×int8→i32 sum over the whole
// row followed by one f32 rescale, which is what the GPU's matmul_i8 computes, and no group size
// has to divide the row (stories260K's 172-wide FFN defeats runq.c's GS = 64). Why this layout:
// fixed order, no names, no alignment games, little-endian words, so an AssemblyScript reader is
// a few dozen lines; the file's Arweave ID is its hash, so it carries no checksum of its own.
//
// Quantisation of a row w (f32), the rule for weights here and for activations in
// forward-int8.ts:
//   s = fround(max|w_i| / 127)                          (an f32 division)
//   q_i = clamp(roundHalfEven(w_i / s), −127, 127)      (the quotient in f64, ties to even)
//   a row with s = 0 (all zeros, or a max below 127·2^-149) has every q_i = 0.
// Since w_i and s are f32, the f64 quotient never lands on the wrong side of a .5 tie, so
// |w_i − q_i·s| ≤ s/2 holds exactly (the clamp only guards the max's own rounding).
//
// HWLM version 2, every field little-endian (version 1 was the toy character model's format,
// since retired, with the same magic: the version tells the two apart):
//   header, 64 bytes:
//      0 "HWLM"   4 u32 version = 2
//      8 u32 dim   12 u32 hidden   16 u32 layers   20 u32 heads   24 u32 kvHeads
//     28 u32 vocab 32 u32 seqLen (context length)  36 f32 ropeTheta   40 f32 rmsEps
//     44 u32 bos   48 u32 eos      52 u32 flags (bit 0: add the dummy-prefix space;
//                                                bit 1: classifier shared with the embedding)
//     56 u32 T, the tokenizer section's length (a multiple of 4)   60 u32 0 (reserved)
//   tokenizer, T bytes: per token, f32 score, u32 n, n bytes of UTF-8 piece (SentencePiece's
//     "▁" already turned into " ", as llama2.c's tokenizer.bin); zero padding to a multiple of 4.
//   tensors, in this order; an int8 matrix of R rows × C columns is R f32 scales, then R rows of
//     ⌈C/4⌉·4 bytes (int8, zero padding): matmul_i8's A operand as it stands, m = R rows of
//     k = ⌈C/4⌉·4, against the quantised activation as B (k × 1, zero padded), so W·x is one call
//     (modules/llama.ts); the GPU packs A four per word along k, which these rows already are.
//     Norm gains are f32 vectors.
//       embedding [vocab × dim]
//       per layer: attn_norm [dim], wq [dim × dim], wk [kvDim × dim], wv [kvDim × dim],
//                  wo [dim × dim], ffn_norm [dim], w1 gate [hidden × dim],
//                  w2 down [dim × hidden], w3 up [hidden × dim]
//       output_norm [dim]
//       classifier [vocab × dim], only when flags bit 1 is clear
//   and nothing after.

import type { GGUF, LlamaConfig } from './gguf.ts';
import { modelF32FromGGUF, type MatrixF32, type Model } from './forward-f32.ts';
import { roundHalfEven } from './math.ts';
import { makeTokenizer, tokenizerFromGGUF, type Tokenizer } from './tokenizer.ts';

export class HWLMError extends Error {
  override name = 'HWLMError';
}

/** Row-major int8 rows, `stride` bytes apart, each with its f32 scale. */
export interface MatrixI8 { rows: number; cols: number; stride: number; scales: Float32Array; data: Int8Array }

const f = Math.fround;
export const HWLM_MAGIC = 0x4d4c5748; // "HWLM" as a little-endian u32
export const HWLM_VERSION = 2;
const HEADER = 64;
const FLAG_SPACE_PREFIX = 1;
const FLAG_SHARED_CLASSIFIER = 2;

export const strideOf = (cols: number): number => Math.ceil(cols / 4) * 4;

/** Quantises `x` into `q` (the rule above); returns the scale. */
export function quantizeInto(x: ArrayLike<number>, q: Int8Array, offset = 0, n = x.length, xOffset = 0): number {
  let max = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[xOffset + i]!);
    if (!Number.isFinite(a)) throw new HWLMError(`cannot quantise a vector holding ${x[xOffset + i]}`);
    if (a > max) max = a;
  }
  const s = f(max / 127);
  if (s === 0) {
    q.fill(0, offset, offset + n);
    return 0;
  }
  for (let i = 0; i < n; i++) {
    const v = roundHalfEven(x[xOffset + i]! / s);
    q[offset + i] = v > 127 ? 127 : v < -127 ? -127 : v;
  }
  return s;
}

export function quantizeMatrix(m: MatrixF32): MatrixI8 {
  const { rows, cols } = m;
  const stride = strideOf(cols);
  const scales = new Float32Array(rows);
  const data = new Int8Array(rows * stride);
  for (let r = 0; r < rows; r++) scales[r] = quantizeInto(m.data, data, r * stride, cols, r * cols);
  return { rows, cols, stride, scales, data };
}

/** q·s per element, rounded to f32, without the padding. */
export function dequantizeMatrix(m: MatrixI8): MatrixF32 {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    const s = m.scales[r]!;
    for (let c = 0; c < m.cols; c++) out[r * m.cols + c] = f(m.data[r * m.stride + c]! * s);
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

export function quantizeModel(model: Model<MatrixF32>): Model<MatrixI8> {
  const embedding = quantizeMatrix(model.embedding);
  return {
    config: model.config,
    embedding,
    layers: model.layers.map((l) => ({
      attnNorm: l.attnNorm, ffnNorm: l.ffnNorm,
      wq: quantizeMatrix(l.wq), wk: quantizeMatrix(l.wk), wv: quantizeMatrix(l.wv), wo: quantizeMatrix(l.wo),
      w1: quantizeMatrix(l.w1), w2: quantizeMatrix(l.w2), w3: quantizeMatrix(l.w3),
    })),
    outputNorm: model.outputNorm,
    classifier: sameF32(model.classifier.data, model.embedding.data) ? embedding : quantizeMatrix(model.classifier),
  };
}

function sameF32(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const encoder = new TextEncoder();

/** The HWLM bytes of a quantised model and its tokenizer. */
export function writeHWLM(model: Model<MatrixI8>, tok: Tokenizer): Uint8Array {
  const c = model.config;
  if (tok.pieces.length !== c.vocab) throw new HWLMError(`the tokenizer has ${tok.pieces.length} tokens, the model ${c.vocab}`);
  const pieces = tok.pieces.map((p) => encoder.encode(p));
  const tokLength = strideOf(pieces.reduce((n, p) => n + 8 + p.length, 0));
  const shared = model.classifier === model.embedding;
  const parts: (MatrixI8 | Float32Array)[] = [model.embedding];
  for (const l of model.layers) parts.push(l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm, l.w1, l.w2, l.w3);
  parts.push(model.outputNorm);
  if (!shared) parts.push(model.classifier);
  const size = HEADER + tokLength + parts.reduce((n, p) => n + (p instanceof Float32Array ? p.length * 4 : p.rows * 4 + p.rows * p.stride), 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const header = [HWLM_MAGIC, HWLM_VERSION, c.dim, c.hidden, c.layers, c.heads, c.kvHeads, c.vocab, c.contextLength];
  header.forEach((v, i) => view.setUint32(i * 4, v, true));
  view.setFloat32(36, c.ropeTheta, true);
  view.setFloat32(40, c.rmsEps, true);
  view.setUint32(44, tok.bos, true);
  view.setUint32(48, tok.eos, true);
  view.setUint32(52, (tok.addSpacePrefix ? FLAG_SPACE_PREFIX : 0) | (shared ? FLAG_SHARED_CLASSIFIER : 0), true);
  view.setUint32(56, tokLength, true);
  let at = HEADER;
  pieces.forEach((p, i) => {
    view.setFloat32(at, tok.scores[i]!, true);
    view.setUint32(at + 4, p.length, true);
    out.set(p, at + 8);
    at += 8 + p.length;
  });
  at = HEADER + tokLength;
  for (const p of parts) {
    if (p instanceof Float32Array) {
      for (const v of p) (view.setFloat32(at, v, true), (at += 4));
    } else {
      for (const s of p.scales) (view.setFloat32(at, s, true), (at += 4));
      out.set(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length), at);
      at += p.data.length;
    }
  }
  return out;
}

/** GGUF (f32/f16 llama) → HWLM bytes: the exporter. */
export const exportHWLM = (gguf: GGUF): Uint8Array => writeHWLM(quantizeModel(modelF32FromGGUF(gguf)), tokenizerFromGGUF(gguf));

export interface HWLM { config: LlamaConfig; tokenizer: Tokenizer; model: Model<MatrixI8> }

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads HWLM bytes back, checking every length against the header. */
export function readHWLM(bytes: Uint8Array): HWLM {
  if (bytes.length < HEADER) throw new HWLMError(`HWLM truncated: ${bytes.length} bytes, the header alone is ${HEADER}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  if (u32(0) !== HWLM_MAGIC) throw new HWLMError('not an HWLM file: bad magic');
  if (u32(4) === 1) throw new HWLMError(`HWLM version 1 is the toy character model's format (retired), not a Llama model: this reader takes version ${HWLM_VERSION}`);
  if (u32(4) !== HWLM_VERSION) throw new HWLMError(`unsupported HWLM version ${u32(4)} (this reader takes ${HWLM_VERSION})`);
  const config: LlamaConfig = {
    dim: u32(8), hidden: u32(12), layers: u32(16), heads: u32(20), kvHeads: u32(24), vocab: u32(28),
    contextLength: u32(32), ropeTheta: view.getFloat32(36, true), rmsEps: view.getFloat32(40, true),
  };
  const { dim, hidden, heads, kvHeads, vocab } = config;
  if (!(heads > 0 && kvHeads > 0 && dim % heads === 0 && heads % kvHeads === 0 && (dim / heads) % 2 === 0)) {
    throw new HWLMError(`HWLM: inconsistent shape (dim ${dim}, ${heads} heads, ${kvHeads} kv heads)`);
  }
  // Every row's i32 sum must stay exact: |Σ q_w·q_x| ≤ cols·127² < 2^31.
  if (Math.max(dim, hidden) * 127 * 127 >= 2 ** 31) throw new HWLMError(`HWLM: rows of ${Math.max(dim, hidden)} could overflow an i32 sum`);
  const flags = u32(52);
  const tokLength = u32(56);
  if (flags & ~3 || u32(60) !== 0 || tokLength % 4 !== 0) throw new HWLMError('HWLM: unknown flags or reserved bits set');
  let at = HEADER;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new HWLMError(`HWLM truncated: ${what} needs ${n} bytes at offset ${at}, the file has ${bytes.length}`);
  };
  need(tokLength, 'the tokenizer');
  const end = HEADER + tokLength;
  const pieces: string[] = [];
  const scores = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    if (at + 8 > end) throw new HWLMError(`HWLM: the tokenizer section ends inside token ${i}`);
    scores[i] = view.getFloat32(at, true);
    const n = u32(at + 4);
    if (at + 8 + n > end) throw new HWLMError(`HWLM: the tokenizer section ends inside token ${i}`);
    pieces.push(utf8.decode(bytes.subarray(at + 8, at + 8 + n)));
    at += 8 + n;
  }
  at = end;
  const tokenizer = makeTokenizer(pieces, scores, { bos: u32(44), eos: u32(48), addSpacePrefix: (flags & FLAG_SPACE_PREFIX) !== 0 });
  const vector = (n: number, what: string): Float32Array => {
    need(n * 4, what);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = view.getFloat32(at + i * 4, true);
    at += n * 4;
    return v;
  };
  const matrix = (rows: number, cols: number, what: string): MatrixI8 => {
    const scales = vector(rows, `${what} scales`);
    const stride = strideOf(cols);
    need(rows * stride, what);
    const data = new Int8Array(bytes.slice(at, at + rows * stride).buffer);
    at += rows * stride;
    return { rows, cols, stride, scales, data };
  };
  const kvDim = (dim / heads) * kvHeads;
  const embedding = matrix(vocab, dim, 'the embedding');
  const layers = Array.from({ length: config.layers }, (_, l) => ({
    attnNorm: vector(dim, `layer ${l} attn_norm`),
    wq: matrix(dim, dim, `layer ${l} wq`),
    wk: matrix(kvDim, dim, `layer ${l} wk`),
    wv: matrix(kvDim, dim, `layer ${l} wv`),
    wo: matrix(dim, dim, `layer ${l} wo`),
    ffnNorm: vector(dim, `layer ${l} ffn_norm`),
    w1: matrix(hidden, dim, `layer ${l} w1`),
    w2: matrix(dim, hidden, `layer ${l} w2`),
    w3: matrix(hidden, dim, `layer ${l} w3`),
  }));
  const outputNorm = vector(dim, 'output_norm');
  const classifier = flags & FLAG_SHARED_CLASSIFIER ? embedding : matrix(vocab, dim, 'the classifier');
  if (at !== bytes.length) throw new HWLMError(`HWLM: ${bytes.length - at} bytes after the last tensor`);
  return { config, tokenizer, model: { config, embedding, layers, outputNorm, classifier } };
}
