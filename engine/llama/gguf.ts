// A GGUF (v2/v3) reader: bytes in, header + metadata + tensor views out. The project reads the
// model files users bring itself, with no dependency, because the format is small and documented
// (ggml's docs/gguf.md) and because the bytes it yields feed a hashed, verifiable export: every
// step from file to weights must be code we can read. Little-endian only (GGUF v3 allows
// big-endian files; none are seen in practice, and a big-endian one fails on its version word).
// Only f32 and f16 tensors are decoded: the quantised ggml block types are named and refused,
// since the project quantises with its own documented rule (quantize.ts), never ggml's.

export class GGUFError extends Error {
  override name = 'GGUFError';
}

/** Metadata value types, as numbered by the format. */
const enum ValueType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}

export type GGUFValue = number | bigint | boolean | string | GGUFValue[];

/** ggml tensor types by number: named so that a refusal says which one it met. */
const GGML_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 4: 'Q4_2', 5: 'Q4_3', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0',
  9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS',
  17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
  35: 'TQ2_0', 39: 'MXFP4',
};

export const ggmlTypeName = (type: number): string => GGML_TYPES[type] ?? `unknown ggml type ${type}`;

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: dims[0] varies fastest (a row's length), as in the file. */
  dims: number[];
  type: number;
  typeName: string;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface GGUF {
  version: number;
  metadata: Map<string, GGUFValue>;
  tensors: Map<string, GGUFTensorInfo>;
  alignment: number;
  /** Absolute offset where the tensor data section begins. */
  dataOffset: number;
  bytes: Uint8Array;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A bounds-checked cursor: every read past the end is a "truncated" error naming the offset. */
class Cursor {
  at = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) {
      throw new GGUFError(`GGUF truncated: ${what} needs ${n} bytes at offset ${this.at}, the file has ${this.bytes.length}`);
    }
  }
  u8(what: string): number { this.need(1, what); return this.view.getUint8(this.at++); }
  i8(what: string): number { this.need(1, what); return this.view.getInt8(this.at++); }
  u16(what: string): number { this.need(2, what); const v = this.view.getUint16(this.at, true); this.at += 2; return v; }
  i16(what: string): number { this.need(2, what); const v = this.view.getInt16(this.at, true); this.at += 2; return v; }
  u32(what: string): number { this.need(4, what); const v = this.view.getUint32(this.at, true); this.at += 4; return v; }
  i32(what: string): number { this.need(4, what); const v = this.view.getInt32(this.at, true); this.at += 4; return v; }
  f32(what: string): number { this.need(4, what); const v = this.view.getFloat32(this.at, true); this.at += 4; return v; }
  f64(what: string): number { this.need(8, what); const v = this.view.getFloat64(this.at, true); this.at += 8; return v; }
  u64big(what: string): bigint { this.need(8, what); const v = this.view.getBigUint64(this.at, true); this.at += 8; return v; }
  i64big(what: string): bigint { this.need(8, what); const v = this.view.getBigInt64(this.at, true); this.at += 8; return v; }
  /** A u64 that must be a count or size: anything past 2^53 cannot be a real file's. */
  u64(what: string): number {
    const v = this.u64big(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GGUFError(`GGUF ${what} is ${v}: too large`);
    return Number(v);
  }
  string(what: string): string {
    const length = this.u64(`${what} length`);
    this.need(length, what);
    const text = utf8.decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
}

function readValue(c: Cursor, type: number, what: string): GGUFValue {
  switch (type) {
    case ValueType.U8: return c.u8(what);
    case ValueType.I8: return c.i8(what);
    case ValueType.U16: return c.u16(what);
    case ValueType.I16: return c.i16(what);
    case ValueType.U32: return c.u32(what);
    case ValueType.I32: return c.i32(what);
    case ValueType.F32: return c.f32(what);
    case ValueType.BOOL: {
      const b = c.u8(what);
      if (b > 1) throw new GGUFError(`GGUF ${what}: bool byte ${b}`);
      return b === 1;
    }
    case ValueType.STRING: return c.string(what);
    case ValueType.U64: return c.u64big(what);
    case ValueType.I64: return c.i64big(what);
    case ValueType.F64: return c.f64(what);
    case ValueType.ARRAY: {
      const inner = c.u32(`${what} element type`);
      const count = c.u64(`${what} count`);
      if (inner === ValueType.ARRAY) throw new GGUFError(`GGUF ${what}: nested arrays are not supported`);
      // Each element is at least one byte: a count past the file's end is a truncation, caught
      // before allocating an array for it.
      c.need(count, `${what} (${count} elements)`);
      const out: GGUFValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = readValue(c, inner, what);
      return out;
    }
    default:
      throw new GGUFError(`GGUF ${what}: unknown metadata value type ${type}`);
  }
}

/** Bytes per element for the types this reader decodes; undefined for the rest. */
const ELEMENT_BYTES: Record<number, number> = { 0: 4, 1: 2 };

/** Parses a GGUF file's header, metadata and tensor table; the tensor data stay in `bytes`. */
export function parseGGUF(bytes: Uint8Array): GGUF {
  const c = new Cursor(bytes);
  const magic = c.u32('magic');
  if (magic !== MAGIC) {
    const seen = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new GGUFError(`not a GGUF file: bad magic (bytes ${seen}, expected 47 47 55 46 "GGUF")`);
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new GGUFError(`unsupported GGUF version ${version} (this reader takes 2 and 3)`);
  const tensorCount = c.u64('tensor count');
  const kvCount = c.u64('metadata count');
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    const type = c.u32(`type of ${key}`);
    metadata.set(key, readValue(c, type, key));
  }
  const alignValue = metadata.get('general.alignment');
  const alignment = alignValue === undefined ? 32 : Number(alignValue);
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new GGUFError(`GGUF general.alignment ${String(alignValue)} is not a positive multiple of 8`);
  }
  const infos: { name: string; dims: number[]; type: number; relative: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor ${i} name`);
    const nDims = c.u32(`${name} dimension count`);
    if (nDims > 4) throw new GGUFError(`GGUF tensor ${name}: ${nDims} dimensions (at most 4)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64(`${name} dimension ${d}`));
    const type = c.u32(`${name} type`);
    const relative = c.u64(`${name} offset`);
    if (relative % alignment !== 0) throw new GGUFError(`GGUF tensor ${name}: offset ${relative} is not aligned to ${alignment}`);
    infos.push({ name, dims, type, relative });
  }
  const dataOffset = Math.ceil(c.at / alignment) * alignment;
  const tensors = new Map<string, GGUFTensorInfo>();
  for (const { name, dims, type, relative } of infos) {
    const elements = dims.reduce((a, b) => a * b, 1);
    const size = ELEMENT_BYTES[type];
    // The size of a block-quantised tensor is not needed: reading one is refused (tensorF32).
    const byteLength = size === undefined ? 0 : elements * size;
    const offset = dataOffset + relative;
    if (size !== undefined && offset + byteLength > bytes.length) {
      throw new GGUFError(`GGUF truncated: tensor ${name} needs bytes ${offset}..${offset + byteLength}, the file has ${bytes.length}`);
    }
    if (tensors.has(name)) throw new GGUFError(`GGUF tensor ${name} appears twice`);
    tensors.set(name, { name, dims, type, typeName: ggmlTypeName(type), offset, byteLength });
  }
  return { version, metadata, tensors, alignment, dataOffset, bytes };
}

/** IEEE half → f32, exactly (every half is representable as an f32, subnormals included). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** A tensor's elements as f32, in file order (row-major, dims[0] fastest). */
export function tensorF32(gguf: GGUF, name: string): Float32Array {
  const info = gguf.tensors.get(name);
  if (!info) throw new GGUFError(`GGUF has no tensor ${name}`);
  const n = info.dims.reduce((a, b) => a * b, 1);
  const view = new DataView(gguf.bytes.buffer, gguf.bytes.byteOffset + info.offset, info.byteLength);
  const out = new Float32Array(n);
  if (info.type === 0) {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (info.type === 1) {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
  } else {
    throw new GGUFError(`GGUF tensor ${name} has type ${info.typeName}: only F32 and F16 tensors are supported`);
  }
  return out;
}

export interface LlamaConfig {
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  ropeTheta: number;
  rmsEps: number;
  contextLength: number;
}

function metaNumber(gguf: GGUF, key: string, fallback?: number): number {
  const v = gguf.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GGUFError(`GGUF metadata has no ${key}`);
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new GGUFError(`GGUF metadata ${key} is not a number`);
}

/** The Llama-2 shape from `llama.*` metadata; refuses other architectures by name. */
export function llamaConfig(gguf: GGUF): LlamaConfig {
  const arch = gguf.metadata.get('general.architecture');
  if (arch !== 'llama') {
    throw new GGUFError(`GGUF general.architecture is ${arch === undefined ? 'missing' : JSON.stringify(arch)}: only "llama" models are supported`);
  }
  const tokens = gguf.metadata.get('tokenizer.ggml.tokens');
  const heads = metaNumber(gguf, 'llama.attention.head_count');
  const config: LlamaConfig = {
    dim: metaNumber(gguf, 'llama.embedding_length'),
    hidden: metaNumber(gguf, 'llama.feed_forward_length'),
    layers: metaNumber(gguf, 'llama.block_count'),
    heads,
    kvHeads: metaNumber(gguf, 'llama.attention.head_count_kv', heads),
    vocab: metaNumber(gguf, 'llama.vocab_size', Array.isArray(tokens) ? tokens.length : undefined),
    ropeTheta: metaNumber(gguf, 'llama.rope.freq_base', 10000),
    rmsEps: metaNumber(gguf, 'llama.attention.layer_norm_rms_epsilon', 1e-5),
    contextLength: metaNumber(gguf, 'llama.context_length'),
  };
  if (config.dim % config.heads !== 0) throw new GGUFError(`llama: dim ${config.dim} is not a multiple of ${config.heads} heads`);
  if ((config.dim / config.heads) % 2 !== 0) throw new GGUFError(`llama: head size ${config.dim / config.heads} is odd (RoPE rotates pairs)`);
  if (config.heads % config.kvHeads !== 0) throw new GGUFError(`llama: ${config.heads} heads are not a multiple of ${config.kvHeads} kv heads`);
  const rope = gguf.metadata.get('llama.rope.dimension_count');
  if (rope !== undefined && Number(rope) !== config.dim / config.heads) {
    throw new GGUFError(`llama: partial RoPE (${String(rope)} of ${config.dim / config.heads} per head) is not supported`);
  }
  return config;
}
