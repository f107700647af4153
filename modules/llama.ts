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
import { cosf, expf, powf, roundHalfEven, sinf } from "./lib/llama-math";

// No hw_free: the stub runtime never reuses memory, and a stateless call gets a fresh instance.
export { hw_alloc } from "./lib/abi";

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

// ---- the int8 forward (forward-int8.ts over forward-f32.ts's forwardToken) ----

// Activations (f32) and the kernel's operands; the KV cache is sized per call.
let x: usize = 0, xb: usize = 0, xb2: usize = 0, hb: usize = 0, hb2: usize = 0;
let q: usize = 0, k: usize = 0, v: usize = 0, att: usize = 0, logits: usize = 0;
let qx: usize = 0, acc: usize = 0;
let ropeFreq: usize = 0, ropeCos: usize = 0, ropeSin: usize = 0;
let keyCache: usize = 0, valueCache: usize = 0, cacheLength = 0;

function f32s(n: i32): usize { return heap.alloc(<usize>n << 2); }
@inline function get(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function set(p: usize, i: i32, value: f32): void { store<f32>(p + (<usize>i << 2), value); }

function allocateScratch(): void {
  x = f32s(dim); xb = f32s(dim); xb2 = f32s(dim);
  hb = f32s(hidden); hb2 = f32s(hidden);
  q = f32s(dim); k = f32s(kvDim); v = f32s(kvDim);
  logits = f32s(vocab);
  const widest = max(dim, hidden);
  qx = heap.alloc(<usize>((widest + 3) & ~3));
  acc = f32s(max(max(dim, hidden), vocab)); // i32 sums, as many as a matrix has rows
  // rope()'s frequencies depend only on the model; its cos/sin only on the position.
  const half = headSize / 2;
  ropeFreq = f32s(half); ropeCos = f32s(half); ropeSin = f32s(half);
  for (let j = 0; j < half; j++) {
    const exponent = <f32>(<f64>(2 * j) / <f64>headSize);
    set(ropeFreq, j, <f32>(1.0 / <f64>powf(ropeTheta, exponent)));
  }
}

/** A KV cache (and attention row) for `length` positions. */
function allocateCache(length: i32): void {
  if (length <= cacheLength) return;
  keyCache = f32s(nLayers * length * kvDim);
  valueCache = f32s(nLayers * length * kvDim);
  att = f32s(length);
  cacheLength = length;
}

/**
 * Quantises x[0..n) into qx (quantize.ts's rule: s = fround(max|x|/127), q = clamp(round half
 * even(x/s in f64), ±127)), zero padded to a multiple of 4; returns s. Once per input vector:
 * the reference quantises the same vector again for each of its products, with the same result.
 */
function quantize(xp: usize, n: i32): f32 {
  let mx: f32 = 0;
  for (let i = 0; i < n; i++) {
    const a = Mathf.abs(get(xp, i));
    if (!isFinite(a)) throw new Error("llama: cannot quantise a vector holding " + get(xp, i).toString());
    if (a > mx) mx = a;
  }
  const padded = (n + 3) & ~3;
  const s: f32 = mx / <f32>127;
  if (s == 0) {
    memory.fill(qx, 0, <usize>padded);
    return 0;
  }
  const sd = <f64>s;
  for (let i = 0; i < n; i++) {
    const r = roundHalfEven(<f64>get(xp, i) / sd);
    store<i8>(qx + <usize>i, <i8>(r > 127.0 ? 127.0 : r < -127.0 ? -127.0 : r));
  }
  for (let i = n; i < padded; i++) store<i8>(qx + <usize>i, 0);
  return s;
}

/** out = W·x for the x last quantised (scale sx): one matmul_i8, then y_r = (acc_r·s_r)·sx in f32. */
function product(out: usize, w: Matrix, sx: f32): void {
  matmul_i8(<i32>w.data, <i32>qx, <i32>acc, w.rows, w.stride, 1);
  for (let r = 0; r < w.rows; r++) {
    const sum = <f32>load<i32>(acc + (<usize>r << 2));
    set(out, r, (sum * get(w.scales, r)) * sx);
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

/** One token through the model at `pos` (of a cache of `seqLen`): leaves its logits in `logits`. */
function forward(token: i32, pos: i32, seqLen: i32): void {
  const e = embedding!;
  const es = get(e.scales, token);
  const row = e.data + <usize>token * <usize>e.stride;
  for (let j = 0; j < dim; j++) set(x, j, <f32>load<i8>(row + <usize>j) * es);
  for (let j = 0, half = headSize / 2; j < half; j++) {
    const val = <f32>(<f64>pos * <f64>get(ropeFreq, j));
    set(ropeCos, j, cosf(val));
    set(ropeSin, j, sinf(val));
  }
  const sqrtHead = <f32>Math.sqrt(<f64>headSize);
  for (let l = 0; l < nLayers; l++) {
    const layer = unchecked(layers[l]);
    rmsnorm(xb, x, layer.attnNorm, dim);
    let sx = quantize(xb, dim);
    product(q, layer.wq, sx);
    product(k, layer.wk, sx);
    product(v, layer.wv, sx);
    rotate(q, dim);
    rotate(k, kvDim);
    const loff = l * seqLen * kvDim;
    memory.copy(keyCache + (<usize>(loff + pos * kvDim) << 2), k, <usize>kvDim << 2);
    memory.copy(valueCache + (<usize>(loff + pos * kvDim) << 2), v, <usize>kvDim << 2);
    for (let h = 0; h < heads; h++) {
      const qo = h * headSize;
      const kvo = (h / kvMul) * headSize;
      for (let t = 0; t <= pos; t++) {
        const ko = loff + t * kvDim + kvo;
        let score: f32 = 0;
        for (let i = 0; i < headSize; i++) score = score + get(q, qo + i) * get(keyCache, ko + i);
        set(att, t, score / sqrtHead);
      }
      softmax(att, pos + 1);
      for (let i = 0; i < headSize; i++) set(xb, qo + i, 0);
      for (let t = 0; t <= pos; t++) {
        const vo = loff + t * kvDim + kvo;
        const w = get(att, t);
        for (let i = 0; i < headSize; i++) set(xb, qo + i, get(xb, qo + i) + w * get(valueCache, vo + i));
      }
    }
    sx = quantize(xb, dim);
    product(xb2, layer.wo, sx);
    for (let i = 0; i < dim; i++) set(x, i, get(x, i) + get(xb2, i));
    rmsnorm(xb, x, layer.ffnNorm, dim);
    sx = quantize(xb, dim);
    product(hb, layer.w1, sx);
    product(hb2, layer.w3, sx);
    for (let i = 0; i < hidden; i++) {
      let val = get(hb, i);
      val = val * (<f32>1 / (<f32>1 + expf(-val)));
      set(hb, i, val * get(hb2, i));
    }
    sx = quantize(hb, hidden);
    product(xb2, layer.w2, sx);
    for (let i = 0; i < dim; i++) set(x, i, get(x, i) + get(xb2, i));
  }
  rmsnorm(x, x, outputNorm, dim);
  product(logits, classifier!, quantize(x, dim));
}

function argmax(p: usize, n: i32): i32 {
  let best = 0;
  for (let i = 1; i < n; i++) if (get(p, i) > get(p, best)) best = i;
  return best;
}

// ---- the calls ----

const USAGE = "generateText expects [{\"prompt\": <string>, \"tokens\"?: <integer 1..256>}]";

class Request {
  constructor(public prompt: string, public tokens: i32) {}
}

function readRequest(ptr: i32, len: i32): Request {
  const params = readJSON(ptr, len);
  if (!params.isArray() || params.length != 1) throw new Error(USAGE);
  const first = params.at(0)!;
  if (!first.isObject()) throw new Error(USAGE + ": the parameter must be an object");
  for (let i = 0, n = first.length; i < n; i++) {
    const key = first.keyAt(i);
    if (key != "prompt" && key != "tokens") throw new Error(USAGE + ": unknown field \"" + key + "\"");
  }
  const prompt = first.getString("prompt");
  if (prompt == null) throw new Error(USAGE + ": \"prompt\" must be a string");
  let tokens = DEFAULT_TOKENS;
  const given = first.get("tokens");
  if (given) {
    const n = given.isNumber() ? given.asNumber() : -1;
    if (n != Math.floor(n) || n < 1 || n > <f64>MAX_TOKENS) throw new Error(USAGE + ": \"tokens\" must be an integer from 1 to 256");
    tokens = <i32>n;
  }
  return new Request(prompt, tokens);
}

// generate()'s results.
let promptTokens: Array<i32> = new Array<i32>();
let generated: Array<i32> = new Array<i32>();

/**
 * Greedy decoding as generateGreedy (forward-f32.ts): from BOS, the prompt's tokens fed first,
 * then the argmax, `tokens` times; stops early when the model emits BOS. With `keep`, every
 * step's logits are kept in order at `kept`; returns the number of steps.
 */
let kept: usize = 0;

function generate(request: Request, keep: bool): i32 {
  loadModel();
  promptTokens = encode(request.prompt);
  const promptLength = promptTokens.length;
  const total = promptLength + request.tokens;
  if (total > contextLength) {
    throw new Error("llama: a prompt of " + promptLength.toString() + " tokens and " + request.tokens.toString() + " more exceed the model's context of " + contextLength.toString());
  }
  allocateCache(total);
  if (keep) kept = heap.alloc(<usize>total * <usize>vocab << 2);
  generated = new Array<i32>();
  let token = bos;
  let steps = 0;
  for (let pos = 0; pos < total; pos++) {
    forward(token, pos, total);
    steps++;
    if (keep) memory.copy(kept + (<usize>pos * <usize>vocab << 2), logits, <usize>vocab << 2);
    const next = pos < promptLength ? unchecked(promptTokens[pos]) : argmax(logits, vocab);
    if (next == bos) break;
    if (pos >= promptLength) generated.push(next);
    token = next;
  }
  return steps;
}

/**
 * [{"prompt": s, "tokens"?: n}] → {"prompt", "promptTokens" (the prompt's tokens, after BOS),
 * "text" (the continuation only), "tokens" (its token IDs)}
 */
export function generateText(ptr: i32, len: i32): u64 {
  const request = readRequest(ptr, len);
  generate(request, false);
  const bytes = new Array<u8>();
  let prev = promptTokens.length > 0 ? promptTokens[promptTokens.length - 1] : bos;
  const ids = jsonArray();
  for (let i = 0; i < generated.length; i++) {
    const t = unchecked(generated[i]);
    decodePiece(bytes, prev, t);
    ids.push(jsonNumber(<f64>t));
    prev = t;
  }
  const given = jsonArray();
  for (let i = 0; i < promptTokens.length; i++) given.push(jsonNumber(<f64>unchecked(promptTokens[i])));
  return writeJSON(
    jsonObject()
      .setString("prompt", request.prompt)
      .set("promptTokens", given)
      .setString("text", decodeUTF8(bytes))
      .set("tokens", ids),
  );
}

/**
 * The same generation, answering every step's logits instead: vocab little-endian f32 per
 * position, in order (raw bytes). For checking the module against the reference bit for bit.
 */
export function stepLogits(ptr: i32, len: i32): u64 {
  const steps = generate(readRequest(ptr, len), true);
  return writeBytes(<i32>kept, steps * vocab * 4);
}

/** [] → the model's shape, from its header. */
export function modelInfo(ptr: i32, len: i32): u64 {
  const params = readJSON(ptr, len);
  if (!params.isArray() || params.length != 0) throw new Error("modelInfo expects no parameters: []");
  loadModel();
  const info: JSONValue = jsonObject()
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
  return writeJSON(info);
}
