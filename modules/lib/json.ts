// A small JSON reader and writer for the example modules (AssemblyScript).
//
// Modules exchange UTF-8 JSON text with the engine, and AssemblyScript has no JSON in its
// standard library, so this is the one parser every module shares. It is strict (RFC 8259:
// no trailing commas, comments or NaN) because a lenient parser would let two engines
// disagree about what a message meant. The writer produces what JavaScript's JSON.stringify
// produces for the same tree, so the host can compare outputs byte for byte; the one
// exception is a non-integer needing 16-17 significant digits, whose last digit may differ
// (it still reads back as the same f64).

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
// Reader

// Every power of ten that an f64 holds exactly.
// prettier-ignore
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

// Deep nesting would exhaust the wasm stack with an unhelpful trap; fail clearly instead.
const MAX_DEPTH = 128;

/** Parses JSON text; malformed input aborts with a message naming the position. */
export function parse(text: string): JSONValue {
  const p = new Parser(text);
  const value = p.value(0);
  p.skipSpace();
  if (p.pos < text.length) p.fail("unexpected text after the JSON value");
  return value;
}

class Parser {
  pos: i32 = 0;

  constructor(public src: string) {}

  fail(what: string): void {
    const where = this.pos < this.src.length ? "at position " + this.pos.toString() : "at end of input";
    throw new Error("invalid JSON: " + what + " " + where);
  }

  peek(): i32 { return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : -1; }

  skipSpace(): void {
    let c = this.peek();
    while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) c = this.src.charCodeAt(++this.pos);
  }

  value(depth: i32): JSONValue {
    if (depth > MAX_DEPTH) this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.skipSpace();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth); // {
    if (c == 0x5b) return this.array(depth); // [
    if (c == 0x22) return jsonString(this.string()); // "
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return jsonNumber(this.number());
    if (this.literal("true")) return jsonBool(true);
    if (this.literal("false")) return jsonBool(false);
    if (this.literal("null")) return jsonNull();
    this.fail(c < 0 ? "expected a value" : "unexpected character");
    return unreachable();
  }

  literal(word: string): bool {
    if (this.src.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  object(depth: i32): JSONValue {
    const obj = jsonObject();
    this.pos++; // {
    this.skipSpace();
    if (this.peek() == 0x7d) { this.pos++; return obj; }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) this.fail("expected a string key");
      const key = this.string();
      this.skipSpace();
      if (this.peek() != 0x3a) this.fail("expected ':'");
      this.pos++;
      obj.set(key, this.value(depth + 1)); // a repeated key keeps the last value, as in JS
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return obj;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or '}'"); }
    }
    return unreachable();
  }

  array(depth: i32): JSONValue {
    const arr = jsonArray();
    this.pos++; // [
    this.skipSpace();
    if (this.peek() == 0x5d) { this.pos++; return arr; }
    while (true) {
      arr.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return arr;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or ']'"); }
    }
    return unreachable();
  }

  // Strings are UTF-16 here, so a \uD83D\uDE00 pair simply becomes two code units that
  // together are the character; a lone escaped surrogate is kept, as JavaScript does.
  string(): string {
    const src = this.src;
    this.pos++; // opening quote
    let start = this.pos;
    // Only strings with escapes are assembled from pieces (joined once: repeated += would
    // be quadratic in the number of escapes).
    let parts: Array<string> | null = null;
    while (true) {
      const c = this.peek();
      if (c < 0) this.fail("unterminated string");
      if (c == 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      if (c != 0x5c) { this.pos++; continue; }
      if (!parts) parts = new Array<string>();
      parts.push(src.substring(start, this.pos));
      parts.push(this.escape());
      start = this.pos;
    }
    const tail = src.substring(start, this.pos);
    this.pos++; // closing quote
    if (!parts) return tail;
    parts.push(tail);
    return parts.join("");
  }

  escape(): string {
    const e = this.pos + 1 < this.src.length ? this.src.charCodeAt(this.pos + 1) : -1;
    this.pos += 2;
    if (e == 0x22) return "\"";
    if (e == 0x5c) return "\\";
    if (e == 0x2f) return "/";
    if (e == 0x62) return "\b";
    if (e == 0x66) return "\f";
    if (e == 0x6e) return "\n";
    if (e == 0x72) return "\r";
    if (e == 0x74) return "\t";
    if (e == 0x75) return String.fromCharCode(this.hex4());
    this.pos -= 2;
    this.fail("invalid escape in string");
    return unreachable();
  }

  hex4(): i32 {
    let u = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.peek();
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) this.fail("invalid \\u escape");
      u = (u << 4) | d;
      this.pos++;
    }
    return u;
  }

  // Validates the number, then converts it exactly when Clinger's fast path applies: at most
  // 15 significant digits (an exact f64 below 2^53) and a decimal exponent within ±22 (10^e
  // is exact too), so one IEEE multiply or divide gives the correctly rounded value. That
  // covers every integer up to 2^53 and everyday decimals; longer numbers go to the
  // standard library's parseFloat, which is occasionally 1 ulp off.
  number(): f64 {
    const start = this.pos;
    const negative = this.peek() == 0x2d;
    if (negative) this.pos++;
    const intStart = this.pos;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (!this.digits()) {
      this.fail("expected a digit");
    }
    const intEnd = this.pos;
    let fracStart = intEnd;
    let fracEnd = intEnd;
    if (this.peek() == 0x2e) { // .
      this.pos++;
      fracStart = this.pos;
      if (!this.digits()) this.fail("expected a digit after '.'");
      fracEnd = this.pos;
      while (fracEnd > fracStart && this.src.charCodeAt(fracEnd - 1) == 0x30) fracEnd--; // 1.50 = 1.5
    }
    let exp = 0;
    if ((this.peek() | 0x20) == 0x65) { // e or E
      this.pos++;
      const expNegative = this.peek() == 0x2d;
      if (expNegative || this.peek() == 0x2b) this.pos++;
      const expStart = this.pos;
      if (!this.digits()) this.fail("expected a digit in the exponent");
      for (let i = expStart; i < this.pos && exp < 100000; i++) exp = exp * 10 + (this.src.charCodeAt(i) - 0x30);
      if (expNegative) exp = -exp;
    }

    let mantissa: f64 = 0;
    let significant = 0;
    for (let i = intStart; i < fracEnd; i++) {
      const d = this.src.charCodeAt(i) - 0x30;
      if (d < 0) continue; // the '.'
      if (significant > 0 || d != 0) significant++;
      mantissa = mantissa * 10 + <f64>d;
    }
    if (significant == 0) return negative ? -0.0 : 0.0;
    const e10 = exp - (fracEnd - fracStart);
    if (significant <= 15 && e10 >= -22 && e10 <= 22) {
      const v = e10 < 0 ? mantissa / unchecked(POW10[-e10]) : mantissa * unchecked(POW10[e10]);
      return negative ? -v : v;
    }
    return parseFloat(this.src.substring(start, this.pos));
  }

  digits(): bool {
    const start = this.pos;
    let c = this.peek();
    while (c >= 0x30 && c <= 0x39) c = this.src.charCodeAt(++this.pos);
    return this.pos > start;
  }
}

// ---------------------------------------------------------------------------------------
// Writer

/** Compact JSON text for a value, as JSON.stringify writes it (see the header for numbers). */
export function stringify(value: JSONValue): string {
  const parts = new Array<string>();
  write(value, parts);
  return parts.join("");
}

function write(v: JSONValue, out: Array<string>): void {
  switch (v.kind) {
    case JSONKind.Null: out.push("null"); break;
    case JSONKind.Bool: out.push(v.asBool() ? "true" : "false"); break;
    case JSONKind.Number: out.push(numberText(v.asNumber())); break;
    case JSONKind.String: out.push(quote(v.asString())); break;
    case JSONKind.Array: {
      out.push("[");
      for (let i = 0, n = v.length; i < n; i++) {
        if (i > 0) out.push(",");
        write(v.at(i)!, out);
      }
      out.push("]");
      break;
    }
    case JSONKind.Object: {
      out.push("{");
      for (let i = 0, n = v.length; i < n; i++) {
        if (i > 0) out.push(",");
        out.push(quote(v.keyAt(i)));
        out.push(":");
        write(v.valueAt(i), out);
      }
      out.push("}");
      break;
    }
  }
}

// JavaScript's number formatting. AssemblyScript's dtoa agrees except that it writes
// integers as "5.0", and that for 16-17 digits (Grisu2) it may not pick JavaScript's last digit.
export function numberText(n: f64): string {
  if (!isFinite(n)) return "null"; // as JSON.stringify does
  if (n == 0) return "0"; // also -0
  const s = n.toString();
  return s.endsWith(".0") ? s.substring(0, s.length - 2) : s;
}

const HEX = "0123456789abcdef";

/** A JSON string literal: escapes quotes, backslashes, control characters and lone surrogates. */
export function quote(s: string): string {
  const parts = new Array<string>();
  parts.push("\"");
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c == 0x08) esc = "\\b";
    else if (c == 0x0c) esc = "\\f";
    else if (c < 0x20) esc = unicodeEscape(c);
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A well-formed pair passes through; a lone surrogate has no UTF-8 form, so escape it.
      const paired = c < 0xdc00
        ? i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) == 0xdc00
        : i > 0 && (s.charCodeAt(i - 1) & 0xfc00) == 0xd800;
      if (!paired) esc = unicodeEscape(c);
    }
    if (esc != null) {
      parts.push(s.substring(start, i));
      parts.push(esc);
      start = i + 1;
    }
  }
  parts.push(start == 0 ? s : s.substring(start));
  parts.push("\"");
  return parts.join("");
}

function unicodeEscape(c: i32): string {
  return "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}
