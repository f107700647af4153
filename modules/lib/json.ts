// A small JSON reader and writer for the example modules (AssemblyScript).
//
// Modules exchange UTF-8 JSON text with the engine, and AssemblyScript has no JSON in its
// standard library, so this is the one parser every module shares. It is strict (RFC 8259:
// no trailing commas, comments or NaN) because a lenient parser would let two engines
// disagree about what a message meant. The writer produces what JavaScript's JSON.stringify
// produces for the same tree, so the host can compare outputs byte for byte; the one
// exception is a non-integer needing 16-17 significant digits, whose last digit may differ
// (it still reads back as the same f64). The tree lives here; reading and writing bytes in
// json-read.ts and json-write.ts.

import { parseBytes } from "./json-read";
import { ByteSink, writeString, writeValue } from "./json-write";

export { InPlace, parseBytes, validateBytes, validateFinding } from "./json-read";
export { ByteSink, numberText, writeNumber, writeString, writeValue } from "./json-write";

// Objects with more keys than this get a hash index (see JSONValue.index).
const INDEX_AFTER = 16;

export enum JSONKind { Null, Bool, Number, String, Array, Object }

/** One JSON value. Objects keep their keys in insertion order (like JavaScript objects). */
export class JSONValue {
  kind: JSONKind;
  private b: bool = false;
  private n: f64 = 0;
  private s: string = "";
  // Array elements, or object values parallel to `names`.
  private items: Array<JSONValue> | null = null;
  private names: Array<string> | null = null;
  // Key lookup is linear for the small objects messages are made of; a big object (say,
  // a ledger's balances) gets a hash index so building or reading it stays linear overall.
  private index: Map<string, i32> | null = null;

  constructor(kind: JSONKind) {
    this.kind = kind;
    if (kind == JSONKind.Array || kind == JSONKind.Object) this.items = new Array<JSONValue>();
    if (kind == JSONKind.Object) this.names = new Array<string>();
  }

  isNull(): bool { return this.kind == JSONKind.Null; }
  isBool(): bool { return this.kind == JSONKind.Bool; }
  isNumber(): bool { return this.kind == JSONKind.Number; }
  isString(): bool { return this.kind == JSONKind.String; }
  isArray(): bool { return this.kind == JSONKind.Array; }
  isObject(): bool { return this.kind == JSONKind.Object; }

  asBool(): bool { this.expect(JSONKind.Bool, "a boolean"); return this.b; }
  asNumber(): f64 { this.expect(JSONKind.Number, "a number"); return this.n; }
  asString(): string { this.expect(JSONKind.String, "a string"); return this.s; }

  /** Number of array elements or object keys; 0 for scalars. */
  get length(): i32 {
    const items = this.items;
    return items ? items.length : 0;
  }

  /** Array element `i`, or null when out of range or not an array. */
  at(i: i32): JSONValue | null {
    const items = this.items;
    if (this.kind != JSONKind.Array || !items || i < 0 || i >= items.length) return null;
    return unchecked(items[i]);
  }

  /** Object member `key`, or null when missing or not an object. */
  get(key: string): JSONValue | null {
    const i = this.indexOf(key);
    return i < 0 ? null : unchecked(this.items![i]);
  }

  has(key: string): bool { return this.indexOf(key) >= 0; }

  /** The key of an object's i-th member, in insertion order. */
  keyAt(i: i32): string {
    this.expect(JSONKind.Object, "an object");
    return this.names![i];
  }

  /** The value of an object's i-th member, in insertion order. */
  valueAt(i: i32): JSONValue {
    this.expect(JSONKind.Object, "an object");
    return this.items![i];
  }

  getString(key: string): string | null {
    const v = this.get(key);
    return v && v.kind == JSONKind.String ? v.s : null;
  }

  getNumber(key: string, fallback: f64): f64 {
    const v = this.get(key);
    return v && v.kind == JSONKind.Number ? v.n : fallback;
  }

  getBool(key: string, fallback: bool): bool {
    const v = this.get(key);
    return v && v.kind == JSONKind.Bool ? v.b : fallback;
  }

  getObject(key: string): JSONValue | null {
    const v = this.get(key);
    return v && v.kind == JSONKind.Object ? v : null;
  }

  getArray(key: string): JSONValue | null {
    const v = this.get(key);
    return v && v.kind == JSONKind.Array ? v : null;
  }

  /** Appends to an array; returns this for chaining. */
  push(value: JSONValue): JSONValue {
    this.expect(JSONKind.Array, "an array");
    this.items!.push(value);
    return this;
  }

  /** Sets an object member (replacing keeps the key's first position); returns this. */
  set(key: string, value: JSONValue): JSONValue {
    this.expect(JSONKind.Object, "an object");
    const i = this.indexOf(key);
    if (i >= 0) {
      unchecked(this.items![i] = value);
    } else {
      const names = this.names!;
      names.push(key);
      this.items!.push(value);
      const index = this.index;
      if (index) {
        index.set(key, names.length - 1);
      } else if (names.length > INDEX_AFTER) {
        const built = new Map<string, i32>();
        for (let k = 0, n = names.length; k < n; k++) built.set(unchecked(names[k]), k);
        this.index = built;
      }
    }
    return this;
  }

  setString(key: string, s: string): JSONValue { return this.set(key, jsonString(s)); }
  setNumber(key: string, n: f64): JSONValue { return this.set(key, jsonNumber(n)); }
  setBool(key: string, b: bool): JSONValue { return this.set(key, jsonBool(b)); }

  toString(): string { return stringify(this); }

  private indexOf(key: string): i32 {
    const names = this.names;
    if (this.kind != JSONKind.Object || !names) return -1;
    const index = this.index;
    if (index) return index.has(key) ? index.get(key) : -1;
    for (let i = 0, n = names.length; i < n; i++) {
      if (unchecked(names[i]) == key) return i;
    }
    return -1;
  }

  private expect(kind: JSONKind, what: string): void {
    if (this.kind != kind) throw new Error("JSON: expected " + what);
  }

  // Factories live on the class so they can set the private payload fields.
  static scalar(kind: JSONKind, b: bool, n: f64, s: string): JSONValue {
    const v = new JSONValue(kind);
    v.b = b;
    v.n = n;
    v.s = s;
    return v;
  }
}

export function jsonNull(): JSONValue { return new JSONValue(JSONKind.Null); }
export function jsonBool(b: bool): JSONValue { return JSONValue.scalar(JSONKind.Bool, b, 0, ""); }
export function jsonNumber(n: f64): JSONValue { return JSONValue.scalar(JSONKind.Number, false, n, ""); }
export function jsonString(s: string): JSONValue { return JSONValue.scalar(JSONKind.String, false, 0, s); }
export function jsonArray(): JSONValue { return new JSONValue(JSONKind.Array); }
export function jsonObject(): JSONValue { return new JSONValue(JSONKind.Object); }

// ---------------------------------------------------------------------------------------
// Text in and out (the reader and writer work on UTF-8 bytes: json-read.ts, json-write.ts)

/** Parses JSON text; malformed input aborts with a message naming the position. */
export function parse(text: string): JSONValue {
  // WTF-8 keeps a lone surrogate as three bytes that decode back to the same code unit.
  const bytes = String.UTF8.encode(text, false, String.UTF8.ErrorMode.WTF8);
  return parseBytes(changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** Compact JSON text for a value, as JSON.stringify writes it (see json-write.ts for numbers). */
export function stringify(value: JSONValue): string {
  const out = new ByteSink();
  writeValue(out, value);
  return takeText(out);
}

/** A JSON string literal: escapes quotes, backslashes, control characters and lone surrogates. */
export function quote(s: string): string {
  const out = new ByteSink();
  writeString(out, s);
  return takeText(out);
}

function takeText(out: ByteSink): string {
  const text = String.UTF8.decodeUnsafe(out.ptr, out.len);
  heap.free(out.ptr);
  return text;
}
