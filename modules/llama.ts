// llama: a Llama-2 model (any size HWLM v2 holds; stories260K in the tests) as a module, greedy
// text generation over the bytes ABI (JSON in, JSON out).
//
// Why it is built this way: it is the int8 reference of engine/llama/ (tokenizer.ts,
// forward-int8.ts over forward-f32.ts, math.ts) ported step for step, so that a node's answer
// is the reference's answer, bit for bit, and a verifier can replay it anywhere. The weights
// are not in the module: they are an HWLM v2 file (engine/llama/quantize.ts documents the
// layout) given as data import 0 and read through `data.size` / `data.read`. Every matrix-vector
// product is one `gpu.matmul_i8` call, an exact int8×int8→i32 sum (on a GPU or on its
// bit-identical CPU reference: the same integers either way); everything around it (the
// quantisation of activations, the per-row rescale, RMSNorm, RoPE, attention with its KV cache,
// SwiGLU, the residuals) is f32/f64 IEEE arithmetic here, in the reference's order, with its
// elementary functions (./lib/llama-math.ts), so no result depends on the machine.
//
// The product's layout: an HWLM matrix (R rows of C int8 weights, each row padded to
// k = ⌈C/4⌉·4 bytes) is matmul_i8's A operand as stored, m = R, k; the activation, quantised
// into k int8 (zero padded), is B, k × 1; C is the R i32 sums. No copy of any weight.
import { readJSON, writeBytes, writeJSON } from "./lib/abi";
import { JSONValue, jsonArray, jsonNumber, jsonObject } from "./lib/json";
import { Envelope, readEnvelope, respond, respondError } from "./lib/process";
import { cosf, expf, powf, roundHalfEven, sinf } from "./lib/llama-math";

// The stub runtime (no collector): a stateless call gets a fresh instance, and a conversation's
// garbage per turn is small beside its KV cache, which the model's context bounds.
export { hw_alloc, hw_free } from "./lib/abi";

@external("gpu", "matmul_i8")
declare function matmul_i8(a: i32, b: i32, c: i32, m: i32, k: i32, n: i32): i32;
@external("data", "size")
declare function data_size(index: i32): i32;
@external("data", "read")
declare function data_read(index: i32, offset: i32, ptr: i32, len: i32): i32;

const MAGIC: u32 = 0x4d4c5748; // "HWLM" read as a little-endian u32
const VERSION: u32 = 2;
const HEADER: u32 = 64;
const FLAG_SPACE_PREFIX: u32 = 1;
const FLAG_SHARED_CLASSIFIER: u32 = 2;
const MAX_TOKENS = 256;
const DEFAULT_TOKENS = 64;

/** An int8 matrix inside the loaded file: R f32 scales, then R rows of `stride` bytes. */
class Matrix {
  constructor(public scales: usize, public data: usize, public rows: i32, public cols: i32, public stride: i32) {}
}

class Layer {
  constructor(
    public attnNorm: usize, public wq: Matrix, public wk: Matrix, public wv: Matrix, public wo: Matrix,
    public ffnNorm: usize, public w1: Matrix, public w2: Matrix, public w3: Matrix,
  ) {}
}

// ---- the model, loaded once per instance ----

let loaded = false;
let fileBytes = 0;
let dim = 0, hidden = 0, nLayers = 0, heads = 0, kvHeads = 0, vocab = 0, contextLength = 0;
let headSize = 0, kvDim = 0, kvMul = 0;
let ropeTheta: f32 = 0, rmsEps: f32 = 0;
let bos = 0, eos = 0;
let addSpacePrefix = false;
let embedding: Matrix | null = null;
let classifier: Matrix | null = null;
let layers: Array<Layer> = new Array<Layer>();
let outputNorm: usize = 0;

// The tokenizer: each piece's bytes (in the file), its score, and a hash table piece → the
// first token with that piece (BOS and EOS left out, as tokenizer.ts's `ids`).
let pieceAt: StaticArray<usize> = new StaticArray<usize>(0);
let pieceLen: StaticArray<i32> = new StaticArray<i32>(0);
let scores: StaticArray<f32> = new StaticArray<f32>(0);
let slots: StaticArray<i32> = new StaticArray<i32>(0); // token + 1, 0 for an empty slot
let slotMask: u32 = 0;
const byteTokens = new StaticArray<i32>(256); // the token of each byte's <0xNN> piece, or −1
let tokenByte: StaticArray<i32> = new StaticArray<i32>(0); // the byte a <0xNN> token stands for, or −1

function malformed(what: string): void {
  throw new Error("llama: malformed model (data import 0): " + what);
}

function u32At(base: usize, at: u32): u32 { return load<u32>(base + <usize>at); }

/** Reads and checks the HWLM file (data import 0), with readHWLM's checks, once per instance. */
function loadModel(): void {
  if (loaded) return;
  const size = data_size(0);
  if (size < 0) throw new Error("llama: no model: this call has no data import 0 (an HWLM v2 file, engine/llama/quantize.ts)");
  if (<u32>size < HEADER) malformed("HWLM truncated: " + size.toString() + " bytes, the header alone is 64");
  const base = heap.alloc(<usize>size);
  data_read(0, 0, <i32>base, size);
  if (u32At(base, 0) != MAGIC) malformed("not an HWLM file: bad magic");
  const version = u32At(base, 4);
  if (version == 1) malformed("HWLM version 1 is the toy character model's format (retired), not a Llama model: this module takes version 2");
  if (version != VERSION) malformed("unsupported HWLM version " + version.toString() + " (this module takes 2)");
  const d = u32At(base, 8), hd = u32At(base, 12), nl = u32At(base, 16), nh = u32At(base, 20), nkv = u32At(base, 24);
  const nv = u32At(base, 28), ctx = u32At(base, 32);
  if (!(nh > 0 && nkv > 0 && d % nh == 0 && nh % nkv == 0 && (d / nh) % 2 == 0)) {
    malformed("inconsistent shape (dim " + d.toString() + ", " + nh.toString() + " heads, " + nkv.toString() + " kv heads)");
  }
  // Every row's i32 sum must stay exact: |Σ q_w·q_x| ≤ cols·127² < 2^31.
  if (<u64>max(d, hd) * 127 * 127 >= 0x80000000) malformed("rows of " + max(d, hd).toString() + " could overflow an i32 sum");
  if (d == 0 || nv == 0 || ctx == 0) malformed("an empty dimension");
  const flags = u32At(base, 52);
  const tokLength = u32At(base, 56);
  if ((flags & ~3) != 0 || u32At(base, 60) != 0 || tokLength % 4 != 0) malformed("unknown flags or reserved bits set");
  const total = <u64>size;
  let at: u64 = HEADER;
  if (<u64>tokLength > total - at) malformed("HWLM truncated: the tokenizer needs " + tokLength.toString() + " bytes");
  const end = at + <u64>tokLength;

  pieceAt = new StaticArray<usize>(nv);
  pieceLen = new StaticArray<i32>(nv);
  scores = new StaticArray<f32>(nv);
  for (let i: u32 = 0; i < nv; i++) {
    if (at + 8 > end) malformed("the tokenizer section ends inside token " + i.toString());
    const p = base + <usize>at;
    const n = load<u32>(p + 4);
    if (<u64>n > end - at - 8) malformed("the tokenizer section ends inside token " + i.toString());
    if (!validUTF8(p + 8, n)) malformed("token " + i.toString() + "'s piece is not UTF-8");
    unchecked(scores[i] = load<f32>(p));
    unchecked(pieceAt[i] = p + 8);
    unchecked(pieceLen[i] = <i32>n);
    at += 8 + <u64>n;
  }
  at = end;
  bos = <i32>u32At(base, 44);
  eos = <i32>u32At(base, 48);
  if (<u32>bos >= nv || <u32>eos >= nv) malformed("BOS or EOS is outside the vocabulary");

  readBase = base;
  readAt = at;
  readTotal = total;
  const kv = (d / nh) * nkv;
  const e = readMatrix(nv, d);
  const ls = new Array<Layer>();
  for (let l: u32 = 0; l < nl; l++) {
    const attnNorm = readVector(d);
    const wq = readMatrix(d, d), wk = readMatrix(kv, d), wv = readMatrix(kv, d), wo = readMatrix(d, d);
    const ffnNorm = readVector(d);
    const w1 = readMatrix(hd, d), w2 = readMatrix(d, hd), w3 = readMatrix(hd, d);
    ls.push(new Layer(attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3));
  }
  outputNorm = readVector(d);
  classifier = (flags & FLAG_SHARED_CLASSIFIER) != 0 ? e : readMatrix(nv, d);
  if (readAt != total) malformed((total - readAt).toString() + " bytes after the last tensor");

  dim = <i32>d; hidden = <i32>hd; nLayers = <i32>nl; heads = <i32>nh; kvHeads = <i32>nkv; vocab = <i32>nv;
  contextLength = <i32>ctx;
  headSize = dim / heads; kvDim = headSize * kvHeads; kvMul = heads / kvHeads;
  ropeTheta = load<f32>(base + 36);
  rmsEps = load<f32>(base + 40);
  addSpacePrefix = (flags & FLAG_SPACE_PREFIX) != 0;
  embedding = e;
  layers = ls;
  fileBytes = size;
  buildTokenizer();
  allocateScratch();
  loaded = true;
}

// The tensors' reader: every length checked against what is left, in u64 (a hostile header's
// products can pass 2^32). Globals, since AssemblyScript closures cannot capture locals.
let readBase: usize = 0;
let readAt: u64 = 0;
let readTotal: u64 = 0;

function readVector(n: u32): usize {
  if (<u64>n * 4 > readTotal - readAt) malformed("HWLM truncated: a vector of " + n.toString() + " at offset " + readAt.toString());
  const p = readBase + <usize>readAt;
  readAt += <u64>n * 4;
  return p;
}

function readMatrix(rows: u32, cols: u32): Matrix {
  const s = readVector(rows);
  const stride = (<u64>cols + 3) & ~(<u64>3);
  if (<u64>rows * stride > readTotal - readAt) malformed("HWLM truncated: a " + rows.toString() + " × " + cols.toString() + " matrix at offset " + readAt.toString());
  const p = readBase + <usize>readAt;
  readAt += <u64>rows * stride;
  return new Matrix(s, p, <i32>rows, <i32>cols, <i32>stride);
}

// RFC 3629 (no overlongs, no surrogates, nothing above U+10FFFF): the pieces readHWLM's fatal
// UTF-8 decoder accepts, so the module refuses the files the reference refuses.
function validUTF8(p: usize, len: u32): bool {
  let i: u32 = 0;
  while (i < len) {
    const b0 = <u32>load<u8>(p + <usize>i);
    if (b0 < 0x80) { i++; continue; }
    let need: u32 = 0, min: u32 = 0, cp: u32 = 0;
    if ((b0 & 0xe0) == 0xc0) { need = 1; min = 0x80; cp = b0 & 0x1f; }
    else if ((b0 & 0xf0) == 0xe0) { need = 2; min = 0x800; cp = b0 & 0x0f; }
    else if ((b0 & 0xf8) == 0xf0) { need = 3; min = 0x10000; cp = b0 & 0x07; }
    else return false;
    if (i + need >= len) return false;
    for (let k: u32 = 1; k <= need; k++) {
      const b = <u32>load<u8>(p + <usize>(i + k));
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

// ---- the tokenizer (tokenizer.ts's encode and decodePiece) ----

// FNV-1a, continued across two byte ranges, so a pair's merged piece is looked up without
// building it.
function hashBytes(h: u32, p: usize, n: i32): u32 {
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  return h;
}

/** The token whose piece is the bytes a ‖ b (b may be empty), or −1. */
function lookup(a: usize, an: i32, b: usize, bn: i32): i32 {
  let slot = hashBytes(hashBytes(2166136261, a, an), b, bn) & slotMask;
  let entry = unchecked(slots[slot]);
  while (entry != 0) {
    const id = entry - 1;
    const p = unchecked(pieceAt[id]);
    if (unchecked(pieceLen[id]) == an + bn && memory.compare(p, a, <usize>an) == 0 && memory.compare(p + <usize>an, b, <usize>bn) == 0) return id;
    slot = (slot + 1) & slotMask;
    entry = unchecked(slots[slot]);
  }
  return -1;
}

function hexDigit(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  if (c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10);
  if (c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10);
  return -1;
}

function buildTokenizer(): void {
  let cap: u32 = 16;
  while (cap < <u32>vocab * 2) cap <<= 1;
  slots = new StaticArray<i32>(cap);
  slotMask = cap - 1;
  tokenByte = new StaticArray<i32>(vocab);
  for (let b = 0; b < 256; b++) unchecked(byteTokens[b] = -1);
  for (let id = 0; id < vocab; id++) {
    const p = unchecked(pieceAt[id]);
    const n = unchecked(pieceLen[id]);
    // BOS and EOS are never spelled by text; a repeated piece keeps its first token.
    if (id != bos && id != eos && lookup(p, n, 0, 0) < 0) {
      let slot = hashBytes(2166136261, p, n) & slotMask;
      while (unchecked(slots[slot]) != 0) slot = (slot + 1) & slotMask;
      unchecked(slots[slot] = id + 1);
    }
    // "<0xNN>", either case of hex digit, as tokenizer.ts's BYTE_PIECE.
    let byte = -1;
    if (n == 6 && load<u8>(p) == 0x3c && load<u8>(p + 1) == 0x30 && load<u8>(p + 2) == 0x78 && load<u8>(p + 5) == 0x3e) {
      const hi = hexDigit(load<u8>(p + 3)), lo = hexDigit(load<u8>(p + 4));
      if (hi >= 0 && lo >= 0) byte = (hi << 4) | lo;
    }
    unchecked(tokenByte[id] = byte);
    if (byte >= 0 && unchecked(byteTokens[byte]) == -1) unchecked(byteTokens[byte] = id);
  }
}

const charBytes = memory.data(4);

/**
 * Text → tokens as tokenizer.ts's encode (no BOS, no EOS): the dummy-prefix space, each code
 * point's piece or else its UTF-8 bytes' <0xNN> tokens, then merges of the best-scoring adjacent
 * pair (strictly better, so the leftmost wins ties) until none merges.
 */
function encode(text: string): Array<i32> {
  const tokens = new Array<i32>();
  if (addSpacePrefix && text.length > 0) {
    store<u8>(charBytes, 0x20);
    const space = lookup(charBytes, 1, 0, 0);
    if (space < 0) throw new Error("tokenizer: the vocabulary has no \" \" piece for the dummy prefix");
    tokens.push(space);
  }
  for (let i = 0, n = text.length; i < n; i++) {
    let cp = <u32>text.charCodeAt(i);
    let lone = false;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = i + 1 < n ? <u32>text.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        // A lone surrogate has no piece (pieces are UTF-8); TextEncoder writes it as U+FFFD.
        lone = true;
        cp = 0xfffd;
      }
    }
    let len = 0;
    if (cp < 0x80) { store<u8>(charBytes, cp); len = 1; }
    else if (cp < 0x800) { store<u8>(charBytes, 0xc0 | (cp >> 6)); store<u8>(charBytes + 1, 0x80 | (cp & 0x3f)); len = 2; }
    else if (cp < 0x10000) {
      store<u8>(charBytes, 0xe0 | (cp >> 12)); store<u8>(charBytes + 1, 0x80 | ((cp >> 6) & 0x3f)); store<u8>(charBytes + 2, 0x80 | (cp & 0x3f)); len = 3;
    } else {
      store<u8>(charBytes, 0xf0 | (cp >> 18)); store<u8>(charBytes + 1, 0x80 | ((cp >> 12) & 0x3f));
      store<u8>(charBytes + 2, 0x80 | ((cp >> 6) & 0x3f)); store<u8>(charBytes + 3, 0x80 | (cp & 0x3f)); len = 4;
    }
    const id = lone ? -1 : lookup(charBytes, len, 0, 0);
    if (id >= 0) { tokens.push(id); continue; }
    for (let k = 0; k < len; k++) {
      const b = <i32>load<u8>(charBytes + <usize>k);
      const bt = unchecked(byteTokens[b]);
      if (bt < 0) throw new Error("tokenizer: no piece for code point " + cp.toString() + " and no byte token for byte " + b.toString());
      tokens.push(bt);
    }
  }
  for (;;) {
    let best: f64 = -1e10;
    let bestId = -1;
    let bestAt = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const a = unchecked(tokens[i]), b = unchecked(tokens[i + 1]);
      const id = lookup(unchecked(pieceAt[a]), unchecked(pieceLen[a]), unchecked(pieceAt[b]), unchecked(pieceLen[b]));
      if (id >= 0 && <f64>unchecked(scores[id]) > best) { best = <f64>unchecked(scores[id]); bestId = id; bestAt = i; }
    }
    if (bestAt < 0) break;
    unchecked(tokens[bestAt] = bestId);
    tokens.splice(bestAt + 1, 1);
  }
  return tokens;
}

/** Appends the bytes of `token` printed after `prev` (tokenizer.ts's decodePiece). */
function decodePiece(out: Array<u8>, prev: i32, token: i32): void {
  if (token == bos || token == eos) return;
  const byte = unchecked(tokenByte[token]);
  if (byte >= 0) { out.push(<u8>byte); return; }
  let p = unchecked(pieceAt[token]);
  let n = unchecked(pieceLen[token]);
  if (prev == bos && n > 0 && load<u8>(p) == 0x20) { p++; n--; }
  for (let i = 0; i < n; i++) out.push(load<u8>(p + <usize>i));
}

/**
 * UTF-8 bytes → a string as TextDecoder (WHATWG, not fatal) makes it: each maximal invalid
 * subsequence becomes one U+FFFD. Byte tokens may leave a character unfinished, and the
 * reference's text is what TextDecoder makes of its bytes.
 */
function decodeUTF8(bytes: Array<u8>): string {
  const units = new Array<u16>();
  let needed = 0, seen = 0;
  let cp: u32 = 0, lower: u32 = 0x80, upper: u32 = 0xbf;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = <u32>unchecked(bytes[i]);
    if (needed == 0) {
      i++;
      if (b <= 0x7f) units.push(<u16>b);
      else if (b >= 0xc2 && b <= 0xdf) { needed = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) { if (b == 0xe0) lower = 0xa0; if (b == 0xed) upper = 0x9f; needed = 2; cp = b & 0xf; }
      else if (b >= 0xf0 && b <= 0xf4) { if (b == 0xf0) lower = 0x90; if (b == 0xf4) upper = 0x8f; needed = 3; cp = b & 0x7; }
      else units.push(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      // The byte is not consumed: it may start the next character.
      needed = 0; seen = 0; cp = 0; lower = 0x80; upper = 0xbf;
      units.push(0xfffd);
      continue;
    }
    i++;
    lower = 0x80; upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen == needed) {
      if (cp >= 0x10000) {
        units.push(<u16>(0xd800 + ((cp - 0x10000) >> 10)));
        units.push(<u16>(0xdc00 + ((cp - 0x10000) & 0x3ff)));
      } else units.push(<u16>cp);
      needed = 0; seen = 0; cp = 0;
    }
  }
  if (needed != 0) units.push(0xfffd);
  return String.UTF16.decodeUnsafe(units.dataStart, <usize>units.length << 1);
}

// ---- the int8 forward (forward-int8.ts over forward-f32.ts's forwardToken), for a batch ----

// A batch is `nb` sequences at the same position, each with its own KV cache. Activations are
// f32, one vector per sequence (sequence j's at j·n); the quantised activations are matmul_i8's
// B operand, k × nb (column j is sequence j's, with its own scale), so one call multiplies a
// weight matrix by every sequence's vector. Each column's integers, and so each sequence's
// logits, are the same in a batch of one or of 64.
let x: usize = 0, xb: usize = 0, xb2: usize = 0, hb: usize = 0, hb2: usize = 0;
let q: usize = 0, k: usize = 0, v: usize = 0, att: usize = 0, logits: usize = 0;
let qx: usize = 0, acc: usize = 0, scalesX: usize = 0;
let ropeFreq: usize = 0, ropeCos: usize = 0, ropeSin: usize = 0;
let batchCapacity = 0;
let keyCache: usize = 0, valueCache: usize = 0, cacheLength = 0, cacheSequences = 0;

function f32s(n: i32): usize { return heap.alloc(<usize>n << 2); }
@inline function get(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function set(p: usize, i: i32, value: f32): void { store<f32>(p + (<usize>i << 2), value); }

function allocateScratch(): void {
  // rope()'s frequencies depend only on the model; its cos/sin only on the position.
  const half = headSize / 2;
  ropeFreq = f32s(half); ropeCos = f32s(half); ropeSin = f32s(half);
  for (let j = 0; j < half; j++) {
    const exponent = <f32>(<f64>(2 * j) / <f64>headSize);
    set(ropeFreq, j, <f32>(1.0 / <f64>powf(ropeTheta, exponent)));
  }
}

/** Activations for batches of up to `nb` sequences. */
function allocateBatch(nb: i32): void {
  if (nb <= batchCapacity) return;
  x = f32s(nb * dim); xb = f32s(nb * dim); xb2 = f32s(nb * dim);
  hb = f32s(nb * hidden); hb2 = f32s(nb * hidden);
  q = f32s(nb * dim); k = f32s(nb * kvDim); v = f32s(nb * kvDim);
  logits = f32s(nb * vocab);
  const widest = max(dim, hidden);
  qx = heap.alloc(<usize>(((widest + 3) & ~3) * nb));
  acc = f32s(max(max(dim, hidden), vocab) * nb); // i32 sums, rows × nb
  scalesX = f32s(nb);
  batchCapacity = nb;
}

/** KV caches (and an attention row) for `sequences` sequences of `length` positions each. */
function allocateCache(sequences: i32, length: i32): void {
  if (length <= cacheLength && sequences <= cacheSequences) return;
  const n = <usize>sequences * <usize>nLayers * <usize>length * <usize>kvDim;
  keyCache = heap.alloc(n << 2);
  valueCache = heap.alloc(n << 2);
  att = f32s(length);
  cacheLength = length;
  cacheSequences = sequences;
}

/**
 * Quantises each of the nb vectors of n at xp (quantize.ts's rule: s = fround(max|x|/127),
 * q = clamp(round half even(x/s in f64), ±127)) into column j of qx (k = ⌈n/4⌉·4 rows, the
 * padding zero), its scale into scalesX[j]. Once per input: the reference quantises the same
 * vector again for each of its products, with the same result.
 */
function quantize(xp: usize, n: i32, nb: i32): void {
  const padded = (n + 3) & ~3;
  for (let j = 0; j < nb; j++) {
    const vec = xp + (<usize>(j * n) << 2);
    let mx: f32 = 0;
    for (let i = 0; i < n; i++) {
      const a = Mathf.abs(get(vec, i));
      if (!isFinite(a)) throw new Error("llama: cannot quantise a vector holding " + get(vec, i).toString());
      if (a > mx) mx = a;
    }
    const s: f32 = mx / <f32>127;
    set(scalesX, j, s);
    if (s == 0) {
      for (let i = 0; i < padded; i++) store<i8>(qx + <usize>(i * nb + j), 0);
      continue;
    }
    const sd = <f64>s;
    for (let i = 0; i < n; i++) {
      const r = roundHalfEven(<f64>get(vec, i) / sd);
      store<i8>(qx + <usize>(i * nb + j), <i8>(r > 127.0 ? 127.0 : r < -127.0 ? -127.0 : r));
    }
    for (let i = n; i < padded; i++) store<i8>(qx + <usize>(i * nb + j), 0);
  }
}

/** out_j = W·x_j for the vectors last quantised: one matmul_i8, then y_r = (acc_r·s_r)·s_x in f32. */
function product(out: usize, w: Matrix, nb: i32): void {
  matmul_i8(<i32>w.data, <i32>qx, <i32>acc, w.rows, w.stride, nb);
  const rows = w.rows;
  for (let j = 0; j < nb; j++) {
    const sx = get(scalesX, j);
    const o = out + (<usize>(j * rows) << 2);
    for (let r = 0; r < rows; r++) {
      const sum = <f32>load<i32>(acc + (<usize>(r * nb + j) << 2));
      set(o, r, (sum * get(w.scales, r)) * sx);
    }
  }
}

function rmsnorm(out: usize, xp: usize, weight: usize, n: i32): void {
  let ss: f32 = 0;
  for (let j = 0; j < n; j++) ss = ss + get(xp, j) * get(xp, j);
  ss = ss / <f32>n;
  ss = ss + rmsEps;
  ss = <f32>1 / Mathf.sqrt(ss);
  for (let j = 0; j < n; j++) set(out, j, get(weight, j) * (ss * get(xp, j)));
}

function softmax(p: usize, n: i32): void {
  let mx = get(p, 0);
  for (let i = 1; i < n; i++) if (get(p, i) > mx) mx = get(p, i);
  let sum: f32 = 0;
  for (let i = 0; i < n; i++) {
    const e = expf(get(p, i) - mx);
    set(p, i, e);
    sum = sum + e;
  }
  for (let i = 0; i < n; i++) set(p, i, get(p, i) / sum);
}

function rotate(vec: usize, n: i32): void {
  for (let i = 0; i < n; i += 2) {
    const j = (i % headSize) / 2;
    const fcr = get(ropeCos, j), fci = get(ropeSin, j);
    const v0 = get(vec, i), v1 = get(vec, i + 1);
    set(vec, i, v0 * fcr - v1 * fci);
    set(vec, i + 1, v0 * fci + v1 * fcr);
  }
}

/**
 * Column j's token tokens[j] through the model at `pos`, with the KV cache of sequence
 * caches[j]: leaves its logits at logits + j·vocab.
 */
function forward(tokens: StaticArray<i32>, caches: StaticArray<i32>, nb: i32, pos: i32): void {
  const e = embedding!;
  for (let j = 0; j < nb; j++) {
    const token = unchecked(tokens[j]);
    const es = get(e.scales, token);
    const row = e.data + <usize>token * <usize>e.stride;
    const xj = x + (<usize>(j * dim) << 2);
    for (let i = 0; i < dim; i++) set(xj, i, <f32>load<i8>(row + <usize>i) * es);
  }
  for (let i = 0, half = headSize / 2; i < half; i++) {
    const val = <f32>(<f64>pos * <f64>get(ropeFreq, i));
    set(ropeCos, i, cosf(val));
    set(ropeSin, i, sinf(val));
  }
  const sqrtHead = <f32>Math.sqrt(<f64>headSize);
  for (let l = 0; l < nLayers; l++) {
    const layer = unchecked(layers[l]);
    for (let j = 0; j < nb; j++) rmsnorm(xb + (<usize>(j * dim) << 2), x + (<usize>(j * dim) << 2), layer.attnNorm, dim);
    quantize(xb, dim, nb);
    product(q, layer.wq, nb);
    product(k, layer.wk, nb);
    product(v, layer.wv, nb);
    for (let j = 0; j < nb; j++) {
      const qj = q + (<usize>(j * dim) << 2);
      const kj = k + (<usize>(j * kvDim) << 2);
      rotate(qj, dim);
      rotate(kj, kvDim);
      const loff = (unchecked(caches[j]) * nLayers + l) * cacheLength * kvDim;
      // Keys are kept transposed (channel-major: loff + c·cacheLength + t), so four positions'
      // scores are one f32x4 per channel; values position-major, four channels a vector.
      for (let c = 0; c < kvDim; c++) set(keyCache, loff + c * cacheLength + pos, get(kj, c));
      memory.copy(valueCache + (<usize>(loff + pos * kvDim) << 2), v + (<usize>(j * kvDim) << 2), <usize>kvDim << 2);
      const xbj = xb + (<usize>(j * dim) << 2);
      const positions = pos + 1;
      const vectorT = positions & ~3;
      const divisor = f32x4.splat(sqrtHead);
      for (let h = 0; h < heads; h++) {
        const qo = h * headSize;
        const kvo = (h / kvMul) * headSize;
        const keys = keyCache + (<usize>(loff + kvo * cacheLength) << 2);
        // Each lane is one position's sum over the channels in order: the scalar loop's bits.
        for (let t = 0; t < vectorT; t += 4) {
          let acc = f32x4.splat(0);
          for (let i = 0; i < headSize; i++) {
            acc = f32x4.add(acc, f32x4.mul(f32x4.splat(get(qj, qo + i)), v128.load(keys + (<usize>(i * cacheLength + t) << 2))));
          }
          v128.store(att + (<usize>t << 2), f32x4.div(acc, divisor));
        }
        for (let t = vectorT; t < positions; t++) {
          let score: f32 = 0;
          for (let i = 0; i < headSize; i++) score = score + get(qj, qo + i) * load<f32>(keys + (<usize>(i * cacheLength + t) << 2));
          set(att, t, score / sqrtHead);
        }
        softmax(att, positions);
        // Each lane is one channel's sum over the positions in order.
        if ((headSize & 3) == 0) {
          for (let i = 0; i < headSize; i += 4) {
            let acc = f32x4.splat(0);
            for (let t = 0; t < positions; t++) {
              const vo = loff + t * kvDim + kvo + i;
              acc = f32x4.add(acc, f32x4.mul(f32x4.splat(get(att, t)), v128.load(valueCache + (<usize>vo << 2))));
            }
            v128.store(xbj + (<usize>(qo + i) << 2), acc);
          }
        } else {
          for (let i = 0; i < headSize; i++) set(xbj, qo + i, 0);
          for (let t = 0; t < positions; t++) {
            const vo = loff + t * kvDim + kvo;
            const w = get(att, t);
            for (let i = 0; i < headSize; i++) set(xbj, qo + i, get(xbj, qo + i) + w * get(valueCache, vo + i));
          }
        }
      }
    }
    quantize(xb, dim, nb);
    product(xb2, layer.wo, nb);
    for (let i = 0, n = nb * dim; i < n; i++) set(x, i, get(x, i) + get(xb2, i));
    for (let j = 0; j < nb; j++) rmsnorm(xb + (<usize>(j * dim) << 2), x + (<usize>(j * dim) << 2), layer.ffnNorm, dim);
    quantize(xb, dim, nb);
    product(hb, layer.w1, nb);
    product(hb2, layer.w3, nb);
    for (let i = 0, n = nb * hidden; i < n; i++) {
      let val = get(hb, i);
      val = val * (<f32>1 / (<f32>1 + expf(-val)));
      set(hb, i, val * get(hb2, i));
    }
    quantize(hb, hidden, nb);
    product(xb2, layer.w2, nb);
    for (let i = 0, n = nb * dim; i < n; i++) set(x, i, get(x, i) + get(xb2, i));
  }
  for (let j = 0; j < nb; j++) rmsnorm(x + (<usize>(j * dim) << 2), x + (<usize>(j * dim) << 2), outputNorm, dim);
  quantize(x, dim, nb);
  product(logits, classifier!, nb);
}

// ---- choosing the next token (engine/llama/sample.ts) ----

/** How a sequence picks its tokens: greedy when temperature is 0. */
class Sampling {
  constructor(public temperature: f32, public topK: i32, public topP: u64, public seed: u64) {}
}

function argmax(p: usize, n: i32): i32 {
  let best = 0;
  for (let i = 1; i < n; i++) if (get(p, i) > get(p, best)) best = i;
  return best;
}

/** splitmix64's step: advances `state` (a global, as AssemblyScript has no out-parameters) and returns its output. */
let rngState: u64 = 0;
function splitmix64(): u64 {
  rngState += 0x9e3779b97f4a7c15;
  let z = rngState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

let sampleWeights: StaticArray<u32> = new StaticArray<u32>(0);
function byWeight(a: i32, b: i32): i32 {
  const wa = unchecked(sampleWeights[a]), wb = unchecked(sampleWeights[b]);
  return wa != wb ? (wb > wa ? 1 : -1) : a - b;
}

/** sample.ts's rule on the vocab logits at p, with the sequence's generator state in `rngState`. */
function sample(p: usize, s: Sampling): i32 {
  if (s.temperature == 0) return argmax(p, vocab);
  if (sampleWeights.length < vocab) sampleWeights = new StaticArray<u32>(vocab);
  let m = get(p, 0);
  for (let i = 1; i < vocab; i++) if (get(p, i) > m) m = get(p, i);
  const ids = new Array<i32>();
  for (let i = 0; i < vocab; i++) {
    const w = <u32>Mathf.floor(expf((get(p, i) - m) / s.temperature) * <f32>16777216.0);
    unchecked(sampleWeights[i] = w);
    if (w > 0) ids.push(i);
  }
  ids.sort(byWeight);
  const kept = s.topK > 0 && s.topK < ids.length ? s.topK : ids.length;
  let total: u64 = 0;
  for (let i = 0; i < kept; i++) total += <u64>unchecked(sampleWeights[unchecked(ids[i])]);
  let prefix: u64 = 0;
  let n = 0;
  while (n < kept) {
    prefix += <u64>unchecked(sampleWeights[unchecked(ids[n])]);
    n++;
    if (prefix * 65536 >= s.topP * total) break;
  }
  const draw = splitmix64() % prefix;
  let run: u64 = 0;
  for (let i = 0; i < n; i++) {
    run += <u64>unchecked(sampleWeights[unchecked(ids[i])]);
    if (run > draw) return unchecked(ids[i]);
  }
  return unchecked(ids[n - 1]); // unreachable: draw < prefix
}

// ---- the calls ----

const USAGE = "generateText expects [{\"prompt\": <string> | \"prompts\": [<string>, …], \"tokens\"?: <integer 1..256>, \"temperature\"?, \"topK\"?, \"topP\"?, \"seed\"?}]";
const MAX_BATCH = 64;

class Request {
  constructor(public prompts: Array<string>, public batch: bool, public tokens: i32, public sampling: Sampling) {}
}

/** Why readSampling or tagNumber refused (AssemblyScript has no exceptions to catch). */
let refusal = "";

/** The sampling fields of a request or a message's tags, checked as sample.ts's samplingOptions; null (and `refusal`) when one is wrong. */
function readSampling(temperature: f64, topK: f64, topP: f64, seed: f64): Sampling | null {
  if (!(isFinite(temperature) && temperature >= 0)) { refusal = "\"temperature\" must be a finite number ≥ 0"; return null; }
  if (!(topK == Math.floor(topK) && topK >= 0 && topK < 4294967296.0)) { refusal = "\"topK\" must be an integer ≥ 0"; return null; }
  if (!(topP > 0 && topP <= 1)) { refusal = "\"topP\" must be a number in (0, 1]"; return null; }
  if (!(seed == Math.floor(seed) && seed >= 0 && seed < 9007199254740992.0)) { refusal = "\"seed\" must be an integer from 0 to 2^53 − 1"; return null; }
  const p = Math.max(1.0, Math.floor(topP * 65536.0));
  return new Sampling(<f32>temperature, <i32>min(topK, <f64>0x7fffffff), <u64>p, <u64>seed);
}

function numberField(obj: JSONValue, key: string, fallback: f64, usage: string): f64 {
  const value = obj.get(key);
  if (!value) return fallback;
  if (!value.isNumber()) throw new Error(usage + ": \"" + key + "\" must be a number");
  return value.asNumber();
}

function readRequest(ptr: i32, len: i32): Request {
  const params = readJSON(ptr, len);
  if (!params.isArray() || params.length != 1) throw new Error(USAGE);
  const first = params.at(0)!;
  if (!first.isObject()) throw new Error(USAGE + ": the parameter must be an object");
  for (let i = 0, n = first.length; i < n; i++) {
    const key = first.keyAt(i);
    if (key != "prompt" && key != "prompts" && key != "tokens" && key != "temperature" && key != "topK" && key != "topP" && key != "seed") {
      throw new Error(USAGE + ": unknown field \"" + key + "\"");
    }
  }
  const prompts = new Array<string>();
  const list = first.get("prompts");
  const one = first.get("prompt");
  if (list && one) throw new Error(USAGE + ": give \"prompt\" or \"prompts\", not both");
  if (list) {
    if (!list.isArray() || list.length < 1 || list.length > MAX_BATCH) throw new Error(USAGE + ": \"prompts\" must be a list of 1 to 64 strings");
    for (let i = 0; i < list.length; i++) {
      const p = list.at(i)!;
      if (!p.isString()) throw new Error(USAGE + ": \"prompts\" must be a list of 1 to 64 strings");
      prompts.push(p.asString());
    }
  } else {
    const prompt = first.getString("prompt");
    if (prompt == null) throw new Error(USAGE + ": \"prompt\" must be a string");
    prompts.push(prompt);
  }
  let tokens = DEFAULT_TOKENS;
  const given = first.get("tokens");
  if (given) {
    const n = given.isNumber() ? given.asNumber() : -1;
    if (n != Math.floor(n) || n < 1 || n > <f64>MAX_TOKENS) throw new Error(USAGE + ": \"tokens\" must be an integer from 1 to 256");
    tokens = <i32>n;
  }
  const sampling = readSampling(
    numberField(first, "temperature", 0, USAGE), numberField(first, "topK", 0, USAGE),
    numberField(first, "topP", 1, USAGE), numberField(first, "seed", 0, USAGE),
  );
  if (sampling == null) throw new Error(USAGE + ": " + refusal);
  return new Request(prompts, list != null, tokens, sampling);
}

/** One sequence's generation: its prompt's tokens and what came after. */
class Sequence {
  generated: Array<i32> = new Array<i32>();
  token: i32 = 0;
  done: bool = false;
  rng: u64 = 0;
  constructor(public prompt: string, public promptTokens: Array<i32>, public total: i32) {}
}

/**
 * Decoding as generateGreedy (forward-f32.ts) with sample.ts's picker, for every prompt at once:
 * from BOS, each prompt's tokens fed first, then the picked token, `tokens` times; a sequence
 * stops early when the model emits BOS. Sequence b's generator starts at seed + b. With `keep`
 * (one prompt), every step's logits are kept in order at `kept`; returns the number of steps.
 */
let kept: usize = 0;
let sequences: Array<Sequence> = new Array<Sequence>();

function generate(request: Request, keep: bool): i32 {
  loadModel();
  const nb = request.prompts.length;
  sequences = new Array<Sequence>();
  let longest = 0;
  for (let b = 0; b < nb; b++) {
    const prompt = unchecked(request.prompts[b]);
    const tokens = encode(prompt);
    const total = tokens.length + request.tokens;
    if (total > contextLength) {
      throw new Error("llama: a prompt of " + tokens.length.toString() + " tokens and " + request.tokens.toString() + " more exceed the model's context of " + contextLength.toString());
    }
    const s = new Sequence(prompt, tokens, total);
    s.token = bos;
    s.rng = request.sampling.seed + <u64>b;
    sequences.push(s);
    if (total > longest) longest = total;
  }
  allocateBatch(nb);
  allocateCache(nb, longest);
  if (keep) kept = heap.alloc(<usize>longest * <usize>vocab << 2);
  const tokens = new StaticArray<i32>(nb);
  const caches = new StaticArray<i32>(nb);
  let steps = 0;
  for (let pos = 0; pos < longest; pos++) {
    let active = 0;
    for (let b = 0; b < nb; b++) {
      const s = unchecked(sequences[b]);
      if (s.done) continue;
      unchecked(tokens[active] = s.token);
      unchecked(caches[active] = b);
      active++;
    }
    if (active == 0) break;
    forward(tokens, caches, active, pos);
    steps++;
    if (keep) memory.copy(kept + (<usize>pos * <usize>vocab << 2), logits, <usize>vocab << 2);
    for (let j = 0; j < active; j++) {
      const s = unchecked(sequences[unchecked(caches[j])]);
      let next: i32;
      if (pos < s.promptTokens.length) next = unchecked(s.promptTokens[pos]);
      else {
        rngState = s.rng;
        next = sample(logits + (<usize>(j * vocab) << 2), request.sampling);
        s.rng = rngState;
      }
      if (next == bos) { s.done = true; continue; }
      if (pos >= s.promptTokens.length) s.generated.push(next);
      s.token = next;
      if (pos + 1 >= s.total) s.done = true;
    }
  }
  return steps;
}

/** The text of `tokens` printed after `prev`, as the reference's decode. */
function textOf(tokens: Array<i32>, prev: i32): string {
  const bytes = new Array<u8>();
  for (let i = 0; i < tokens.length; i++) {
    const t = unchecked(tokens[i]);
    decodePiece(bytes, prev, t);
    prev = t;
  }
  return decodeUTF8(bytes);
}

function numbers(values: Array<i32>): JSONValue {
  const out = jsonArray();
  for (let i = 0; i < values.length; i++) out.push(jsonNumber(<f64>unchecked(values[i])));
  return out;
}

function sequenceJSON(s: Sequence): JSONValue {
  const prev = s.promptTokens.length > 0 ? s.promptTokens[s.promptTokens.length - 1] : bos;
  return jsonObject()
    .setString("prompt", s.prompt)
    .set("promptTokens", numbers(s.promptTokens))
    .setString("text", textOf(s.generated, prev))
    .set("tokens", numbers(s.generated));
}

/**
 * [{"prompt": s, "tokens"?: n, sampling…}] → {"prompt", "promptTokens" (the prompt's tokens,
 * after BOS), "text" (the continuation only), "tokens" (its token IDs)};
 * [{"prompts": [s, …], …}] → {"results": [that object for each prompt, in order]}.
 */
export function generateText(ptr: i32, len: i32): u64 {
  const request = readRequest(ptr, len);
  generate(request, false);
  if (!request.batch) return writeJSON(sequenceJSON(unchecked(sequences[0])));
  const results = jsonArray();
  for (let b = 0; b < sequences.length; b++) results.push(sequenceJSON(unchecked(sequences[b])));
  return writeJSON(jsonObject().set("results", results));
}

/**
 * The same generation (one prompt), answering every step's logits instead: vocab little-endian
 * f32 per position, in order (raw bytes). For checking the module against the reference bit for bit.
 */
export function stepLogits(ptr: i32, len: i32): u64 {
  const request = readRequest(ptr, len);
  if (request.prompts.length != 1) throw new Error("stepLogits takes one prompt");
  const steps = generate(request, true);
  return writeBytes(<i32>kept, steps * vocab * 4);
}

/** [] → the model's shape, from its header. */
export function modelInfo(ptr: i32, len: i32): u64 {
  const params = readJSON(ptr, len);
  if (!params.isArray() || params.length != 0) throw new Error("modelInfo expects no parameters: []");
  loadModel();
  return writeJSON(infoJSON());
}

function infoJSON(): JSONValue {
  return jsonObject()
    .setString("format", "HWLM v2")
    .setNumber("dim", <f64>dim)
    .setNumber("hidden", <f64>hidden)
    .setNumber("layers", <f64>nLayers)
    .setNumber("heads", <f64>heads)
    .setNumber("kvHeads", <f64>kvHeads)
    .setNumber("vocab", <f64>vocab)
    .setNumber("contextLength", <f64>contextLength)
    .setNumber("bos", <f64>bos)
    .setNumber("eos", <f64>eos)
    .setNumber("fileBytes", <f64>fileBytes);
}

// ---- the process form: a conversation whose KV cache is the process's state ----

// The conversation: how many positions its cache holds, and the token not yet fed (BOS at
// first; then the last token a turn generated, which the next turn feeds before its text).
let chatPosition = 0;
let chatPending = 0;
let chatStarted = false;

/** A numeric tag's value, `fallback` when absent, NaN (and `refusal`) when not a number. */
function tagNumber(env: Envelope, name: string, fallback: f64): f64 {
  const value = env.tag(name);
  if (value == null) return fallback;
  const n = value.length > 0 ? parseFloat(value) : NaN;
  if (isNaN(n)) refusal = "tag " + name + " must be a number, not \"" + value + "\"";
  return n;
}

/**
 * The process ABI (PROTOCOL.md §13, §26): the spawn message (slot 0) starts an empty
 * conversation and answers the model's shape; every later message's data is the next text of
 * the conversation, fed after everything before it, and the reply is the `Tokens` (1..256,
 * default 64) tokens the model continues with, picked with the sampling tags (Temperature,
 * Top-K, Top-P, Seed; Seed defaults to the slot). A turn that would pass the model's context
 * is refused with an error and changes nothing.
 */
export function handle(ptr: i32, len: i32): u64 {
  const env = readEnvelope(ptr, len);
  loadModel();
  if (!chatStarted) {
    allocateBatch(1);
    allocateCache(1, contextLength);
    chatPending = bos;
    chatStarted = true;
  }
  const none = jsonArray();
  if (env.slot == 0) return respond(infoJSON().setNumber("position", 0), none);
  const data = env.message.getString("data");
  const text = data != null ? data : "";
  refusal = "";
  const tokensWanted = tagNumber(env, "Tokens", <f64>DEFAULT_TOKENS);
  const temperature = tagNumber(env, "Temperature", 0), topK = tagNumber(env, "Top-K", 0), topP = tagNumber(env, "Top-P", 1);
  const seed = tagNumber(env, "Seed", <f64>env.slot);
  if (refusal.length > 0) return respondError(refusal);
  if (tokensWanted != Math.floor(tokensWanted) || tokensWanted < 1 || tokensWanted > <f64>MAX_TOKENS) {
    return respondError("tag Tokens must be an integer from 1 to 256");
  }
  const sampling = readSampling(temperature, topK, topP, seed);
  if (sampling == null) return respondError("the sampling tags (Temperature, Top-K, Top-P, Seed): " + refusal);
  const wanted = <i32>tokensWanted;
  const fed = encode(text);
  // Positions this turn fills: the pending token, the text, and every generated token but the last.
  const needed = 1 + fed.length + wanted - 1;
  if (chatPosition + needed > contextLength) {
    return respondError("the conversation has used " + chatPosition.toString() + " of the model's " + contextLength.toString() +
      " positions; this turn needs " + needed.toString() + " (" + (1 + fed.length).toString() + " to read, " + wanted.toString() + " to write)");
  }
  const tokens = new StaticArray<i32>(1);
  const caches = new StaticArray<i32>(1);
  const prev = fed.length > 0 ? unchecked(fed[fed.length - 1]) : chatPending;
  unchecked(tokens[0] = chatPending);
  for (let i = 0; i < fed.length; i++) {
    forward(tokens, caches, 1, chatPosition++);
    unchecked(tokens[0] = unchecked(fed[i]));
  }
  forward(tokens, caches, 1, chatPosition++);
  const generated = new Array<i32>();
  rngState = sampling.seed;
  for (;;) {
    const next = sample(logits, sampling);
    chatPending = next;
    if (next == bos) break;
    generated.push(next);
    if (generated.length == wanted) break;
    unchecked(tokens[0] = next);
    forward(tokens, caches, 1, chatPosition++);
  }
  const output = jsonObject()
    .setString("text", textOf(generated, prev))
    .set("tokens", numbers(generated))
    .set("promptTokens", numbers(fed))
    .setNumber("position", <f64>chatPosition);
  return respond(output, none);
}

