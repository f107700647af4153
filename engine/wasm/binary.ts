// Reads what the engine must know about a WebAssembly binary before it runs it: function
// signatures of exports (the JS API does not expose them), imports, memories and tables.
// Only the sections that carry those are decoded; WebAssembly.compile validates the rest.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export interface FuncType { params: ValType[]; results: ValType[] }
/**
 * A memory's limits in pages, a table's in entries. `index64`: a memory64 memory (or table64
 * table), addressed by i64, whose limits the binary writes as u64 (flag 0x04); set only then.
 */
export interface Limits { min: number; max?: number; index64?: true }
export interface Import { module: string; name: string; kind: 'function' | 'table' | 'memory' | 'global' | 'tag'; type?: FuncType }
export interface Export { name: string; kind: Import['kind']; index: number }

export interface Global { type: ValType; mutable: boolean; imported: boolean }
export interface Section { id: number; start: number; end: number }

export interface WasmInfo {
  imports: Import[];
  /** All globals in index order, imported ones first. */
  globals: Global[];
  /** Where each section lies: start is its id byte, end one past its content. */
  sections: Section[];
  exports: Map<string, Export>;
  /** Signature of an exported function, or undefined if there is no such function export. */
  exportedFunction(name: string): FuncType | undefined;
  memories: Limits[];
  tables: Limits[];
  /** Bytes in all data segments together. */
  dataBytes: number;
}

export class WasmFormatError extends Error {}

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VALTYPES: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const KINDS: Import['kind'][] = ['function', 'table', 'memory', 'global', 'tag'];

export function hasWasmMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Describes the first bytes of non-WASM data for an error message ("starts with 7b 22 …"). */
export function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'is empty';
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `starts with ${hex} instead of the WebAssembly magic 00 61 73 6d`;
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end = bytes.length) {}
  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`truncated binary at byte ${this.pos}`);
    return this.bytes[this.pos++];
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new WasmFormatError(`malformed LEB128 at byte ${this.pos}`);
  }
  name(): string {
    const length = this.u32();
    if (this.pos + length > this.end) throw new WasmFormatError(`truncated name at byte ${this.pos}`);
    const text = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return text;
  }
  valtype(): ValType {
    const code = this.byte();
    const type = VALTYPES[code];
    if (!type) throw new WasmFormatError(`unknown value type 0x${code.toString(16)} at byte ${this.pos - 1}`);
    return type;
  }
  /** A u64 as a number: exact up to 2^53, which memory64's page limits (at most 2^48) stay within. */
  u64(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new WasmFormatError(`malformed LEB128 at byte ${this.pos}`);
  }
  limits(): Limits {
    const flags = this.byte();
    if (flags & 4) {
      const min = this.u64();
      return flags & 1 ? { min, max: this.u64(), index64: true } : { min, index64: true };
    }
    const min = this.u32();
    return flags & 1 ? { min, max: this.u32() } : { min };
  }
  /** Skips a constant expression (a global's initialiser) up to its `end`. */
  constExpr(): void {
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42) while (this.byte() & 0x80);
      else if (op === 0x43) this.pos += 4;
      else if (op === 0x44) this.pos += 8;
      else if (op === 0x23 || op === 0xd2) this.u32();
      else if (op === 0xd0) this.byte();
      else if (![0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) throw new WasmFormatError(`unsupported opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
  vec<T>(item: () => T): T[] {
    const count = this.u32();
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(item());
    return items;
  }
}

export function inspect(bytes: Uint8Array): WasmInfo {
  if (!hasWasmMagic(bytes)) throw new WasmFormatError(`not a WebAssembly module: the data ${describeStart(bytes)}`);
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw new WasmFormatError('unsupported WebAssembly binary version');
  const types: FuncType[] = [];
  const imports: Import[] = [];
  const functionTypes: number[] = []; // type index per function, imported ones first
  const exports = new Map<string, Export>();
  const memories: Limits[] = [];
  const tables: Limits[] = [];
  const globals: Global[] = [];
  const sections: Section[] = [];
  let dataBytes = 0;

  const r = new Reader(bytes);
  r.pos = 8;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new WasmFormatError(`truncated binary: section ${id} claims ${size} bytes, ${bytes.length - r.pos} remain`);
    const s = new Reader(bytes, end);
    s.pos = r.pos;
    sections.push({ id, start: s.pos - 1 - lebSize(size), end });
    switch (id) {
      case 1:
        types.push(...s.vec(() => {
          if (s.byte() !== 0x60) throw new WasmFormatError('unsupported type form (only function types are read)');
          return { params: s.vec(() => s.valtype()), results: s.vec(() => s.valtype()) };
        }));
        break;
      case 2:
        imports.push(...s.vec((): Import => {
          const module = s.name();
          const name = s.name();
          const kind = KINDS[s.byte()];
          if (kind === 'function') {
            const typeIndex = s.u32();
            functionTypes.push(typeIndex);
            return { module, name, kind, type: types[typeIndex] };
          }
          if (kind === 'table') { s.valtype(); tables.push(s.limits()); }
          else if (kind === 'memory') memories.push(s.limits());
          else if (kind === 'global') globals.push({ type: s.valtype(), mutable: s.byte() === 1, imported: true });
          else if (kind === 'tag') { s.byte(); s.u32(); }
          else throw new WasmFormatError(`unknown import kind for ${module}.${name}`);
          return { module, name, kind };
        }));
        break;
      case 3:
        functionTypes.push(...s.vec(() => s.u32()));
        break;
      case 4:
        tables.push(...s.vec(() => { s.valtype(); return s.limits(); }));
        break;
      case 5:
        memories.push(...s.vec(() => s.limits()));
        break;
      case 6:
        globals.push(...s.vec((): Global => {
          const type = s.valtype();
          const mutable = s.byte() === 1;
          s.constExpr();
          return { type, mutable, imported: false };
        }));
        break;
      case 11:
        s.vec(() => {
          const flags = s.u32();
          if (flags === 2) s.u32();
          if (flags !== 1) s.constExpr();
          const size = s.u32();
          dataBytes += size;
          s.pos += size;
        });
        break;
      case 7:
        for (const e of s.vec(() => ({ name: s.name(), kind: KINDS[s.byte()], index: s.u32() }))) exports.set(e.name, e);
        break;
    }
    r.pos = end;
  }

  return {
    imports,
    globals,
    sections,
    dataBytes,
    exports,
    memories,
    tables,
    exportedFunction(name) {
      const e = exports.get(name);
      if (!e || e.kind !== 'function') return undefined;
      return types[functionTypes[e.index]];
    },
  };
}

/** Bytes an unsigned LEB128 encoding of n takes. */
export function lebSize(n: number): number {
  let size = 1;
  while (n >= 0x80) { n = Math.floor(n / 128); size++; }
  return size;
}

export function encodeLeb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
