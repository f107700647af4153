// model: a small int8 character-level language model (bytes ABI: JSON in, JSON out).
//
// The weights are not in the module: they are a separate data item (written by
// modules/tools/model/weights.ts, format documented there) that the engine exposes as data import 0
// through `data.size` / `data.read`. The integer linear algebra runs in the host's `gpu.*`
// kernels (on a GPU or on their bit-identical CPU references), so the module itself only
// gathers embeddings and moves tokens around. modules/tools/model/reference.ts is the same
// inference in TypeScript; the two must agree character for character.
//
// Per generated character: C embedding rows → x int8[C·D] → matmul_i8 (x·W1) → add_i32 (+b1)
// → relu_i32 → requantize (to int8) → matmul_i8 (·W2) → add_i32 (+b2) → argmax_i32: 7 kernel
// calls, greedy (deterministic) decoding.
import { readJSON, writeJSON } from "./lib/abi";
import { JSONValue, jsonObject } from "./lib/json";

// No hw_free: the stub runtime never reuses memory, and a stateless call gets a fresh instance.
export { hw_alloc } from "./lib/abi";

@external("gpu", "matmul_i8")
declare function matmul_i8(a: i32, b: i32, c: i32, m: i32, k: i32, n: i32): i32;
@external("gpu", "add_i32")
declare function add_i32(a: i32, b: i32, out: i32, length: i32, bLength: i32): i32;
@external("gpu", "relu_i32")
declare function relu_i32(x: i32, out: i32, length: i32): i32;
@external("gpu", "requantize")
declare function requantize(x: i32, out: i32, length: i32, multiplier: i32, shift: i32, zeroPoint: i32): i32;
@external("gpu", "argmax_i32")
declare function argmax_i32(x: i32, out: i32, rows: i32, cols: i32): i32;
@external("data", "size")
declare function data_size(index: i32): i32;
@external("data", "read")
declare function data_read(index: i32, offset: i32, ptr: i32, len: i32): i32;

const MAGIC: u32 = 0x4d4c5748; // "HWLM" read as a little-endian u32
const VERSION: u32 = 1;
const HEADER: i32 = 32;
const MAX_TOKENS = 256;
const DEFAULT_TOKENS = 64;

// The model, loaded on the first call (pointers into one heap buffer holding the whole file).
let loaded = false;
let weightBytes = 0;
let V = 0, C = 0, D = 0, H = 0, K = 0;
let multiplier = 0, shift = 0;
let vocabAt: usize = 0, eAt: usize = 0, w1At: usize = 0, b1At: usize = 0, w2At: usize = 0, b2At: usize = 0;
// Token of each character code below 256 (0 = unknown); higher codes are unknown too.
const tokenOf = new StaticArray<u8>(256);
// Kernel operands and results, one buffer each, reused for every token.
let xAt: usize = 0, acc1At: usize = 0, biasedAt: usize = 0, reluAt: usize = 0, hiddenAt: usize = 0;
let acc2At: usize = 0, logitsAt: usize = 0, bestAt: usize = 0;

function align4(n: u64): u64 {
  return (n + 3) & ~(<u64>3);
}

function malformed(what: string): void {
  throw new Error("model: malformed weights (data import 0): " + what);
}

/** Reads and checks the weights (data import 0) once per instance. */
function loadWeights(): void {
  if (loaded) return;
  const size = data_size(0);
  if (size < 0) throw new Error("model: no weights: this call has no data import 0 (the model's weights data item)");
  if (size < HEADER) malformed(size.toString() + " bytes is shorter than the 32-byte header");
  const base = heap.alloc(<usize>size);
  data_read(0, 0, <i32>base, size);
  if (load<u32>(base) != MAGIC) malformed("bad magic (expected \"HWLM\")");
  const version = load<u32>(base + 4);
  if (version != VERSION) malformed("unsupported version " + version.toString() + " (expected 1)");
  const v = load<u32>(base + 8), c = load<u32>(base + 12), d = load<u32>(base + 16), h = load<u32>(base + 20);
  const mult = load<u32>(base + 24), sh = load<u32>(base + 28);
  if (v < 2 || v > 256 || c < 1 || c > 1024 || d < 1 || d > 4096 || h < 1 || h > 65536) malformed("sizes out of range");
  if (mult >= 0x80000000 || sh > 63) malformed("requantization out of range");
  // Offsets in u64: C·D·H can exceed 2^32 in a hostile header.
  const k = <u64>c * <u64>d;
  const vocab: u64 = <u64>HEADER;
  const e = align4(vocab + <u64>v);
  const w1 = e + <u64>v * <u64>d;
  const b1 = align4(w1 + k * <u64>h);
  const w2 = b1 + <u64>h * 4;
  const b2 = align4(w2 + <u64>h * <u64>v);
  const end = b2 + <u64>v * 4;
  if (end != <u64>size) malformed("expected " + end.toString() + " bytes for these sizes, got " + size.toString());

  V = <i32>v; C = <i32>c; D = <i32>d; H = <i32>h; K = <i32>k;
  multiplier = <i32>mult; shift = <i32>sh;
  weightBytes = size;
  vocabAt = base + <usize>vocab; eAt = base + <usize>e; w1At = base + <usize>w1;
  b1At = base + <usize>b1; w2At = base + <usize>w2; b2At = base + <usize>b2;
  // Descending, so a character listed twice maps to its lowest token (as the reference does).
  for (let t = V - 1; t >= 1; t--) unchecked(tokenOf[load<u8>(vocabAt + <usize>t)] = <u8>t);

  xAt = heap.alloc(<usize>K);
  acc1At = heap.alloc(<usize>H << 2);
  biasedAt = heap.alloc(<usize>H << 2);
  reluAt = heap.alloc(<usize>H << 2);
  hiddenAt = heap.alloc(<usize>H);
  acc2At = heap.alloc(<usize>V << 2);
  logitsAt = heap.alloc(<usize>V << 2);
  bestAt = heap.alloc(4);
  loaded = true;
}

function tokenOfCode(code: i32): i32 {
  return code < 256 ? <i32>unchecked(tokenOf[code]) : 0;
}

/** One greedy step: the next token after the context (C tokens, oldest first). */
function nextToken(context: StaticArray<i32>): i32 {
  for (let c = 0; c < C; c++) {
    memory.copy(xAt + <usize>(c * D), eAt + <usize>(unchecked(context[c]) * D), <usize>D);
  }
  matmul_i8(<i32>xAt, <i32>w1At, <i32>acc1At, 1, K, H);
  add_i32(<i32>acc1At, <i32>b1At, <i32>biasedAt, H, H);
  relu_i32(<i32>biasedAt, <i32>reluAt, H);
  requantize(<i32>reluAt, <i32>hiddenAt, H, multiplier, shift, 0);
  matmul_i8(<i32>hiddenAt, <i32>w2At, <i32>acc2At, 1, H, V);
  add_i32(<i32>acc2At, <i32>b2At, <i32>logitsAt, V, V);
  argmax_i32(<i32>logitsAt, <i32>bestAt, 1, V);
  const best = load<u32>(bestAt);
  if (best >= <u32>V) throw new Error("model: argmax returned token " + best.toString() + " of " + V.toString());
  return <i32>best;
}

function push(context: StaticArray<i32>, token: i32): void {
  for (let c = 1; c < C; c++) unchecked(context[c - 1] = context[c]);
  unchecked(context[C - 1] = token);
}

const USAGE = "generateText expects [{\"prompt\": <string>, \"tokens\"?: <integer 1..256>}]";

/** [{"prompt": s, "tokens"?: n}] -> {"prompt", "text" (the continuation only), "tokens"} */
export function generateText(ptr: i32, len: i32): u64 {
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

  loadWeights();
  // The last C prompt characters (UTF-16 code units), left-padded with token 0.
  const context = new StaticArray<i32>(C);
  const p = prompt!;
  for (let i = max(0, p.length - C); i < p.length; i++) push(context, tokenOfCode(p.charCodeAt(i)));
  const codes = new Array<i32>(tokens);
  for (let step = 0; step < tokens; step++) {
    const token = nextToken(context);
    unchecked(codes[step] = <i32>load<u8>(vocabAt + <usize>token));
    push(context, token);
  }
  return writeJSON(
    jsonObject()
      .setString("prompt", p)
      .setString("text", String.fromCharCodes(codes))
      .setNumber("tokens", <f64>tokens),
  );
}

/** [] -> {"V", "C", "D", "H", "vocab", "weightBytes", "format"} */
export function modelInfo(ptr: i32, len: i32): u64 {
  const params = readJSON(ptr, len);
  if (!params.isArray() || params.length != 0) throw new Error("modelInfo expects no parameters: []");
  loadWeights();
  const codes = new Array<i32>(V);
  for (let t = 0; t < V; t++) unchecked(codes[t] = <i32>load<u8>(vocabAt + <usize>t));
  const info: JSONValue = jsonObject()
    .setNumber("V", <f64>V)
    .setNumber("C", <f64>C)
    .setNumber("D", <f64>D)
    .setNumber("H", <f64>H)
    .setString("vocab", String.fromCharCodes(codes))
    .setNumber("weightBytes", <f64>weightBytes)
    .setString("format", "HWLM v1");
  return writeJSON(info);
}
