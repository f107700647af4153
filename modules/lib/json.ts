// A small JSON reader and writer for the example modules (AssemblyScript).
//
// Modules exchange UTF-8 JSON text with the engine, and AssemblyScript has no JSON in its
// standard library, so this is the one parser every module shares. It is strict (RFC 8259:
// no trailing commas, comments or NaN) because a lenient parser would let two engines
// disagree about what a message meant. The writer produces exactly what JavaScript's
// JSON.stringify produces for the same tree, so the host can compare outputs byte for byte.

export enum JSONKind { Null, Bool, Number, String, Array, Object }

/** One JSON value. Objects keep their keys in insertion order (like JavaScript objects). */
export class JSONValue {
  kind: JSONKind;
  private b: bool = false;
  private n: f64 = 0;
  private s: string = "";
  // Array elements, or object values parallel to `names`. Linear key lookup is fine: the
  // objects modules see are messages with a handful of fields.
  private items: Array<JSONValue> | null = null;
  private names: Array<string> | null = null;

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

  /** Object keys in insertion order (a copy). */
  keys(): Array<string> {
    const names = this.names;
    return names ? names.slice(0) : new Array<string>();
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
      this.names!.push(key);
      this.items!.push(value);
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
    let out = "";
    let start = this.pos;
    while (true) {
      const c = this.peek();
      if (c < 0) this.fail("unterminated string");
      if (c == 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      if (c != 0x5c) { this.pos++; continue; }
      out += src.substring(start, this.pos);
      const e = this.pos + 1 < src.length ? src.charCodeAt(this.pos + 1) : -1;
      this.pos += 2;
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) out += String.fromCharCode(this.hex4());
      else { this.pos -= 2; this.fail("invalid escape in string"); }
      start = this.pos;
    }
    out += src.substring(start, this.pos);
    this.pos++; // closing quote
    return out;
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

  number(): f64 {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const intStart = this.pos;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (!this.digits()) {
      this.fail("expected a digit");
    }
    const intDigits = this.pos - intStart;
    let plain = true;
    if (this.peek() == 0x2e) { // .
      this.pos++;
      if (!this.digits()) this.fail("expected a digit after '.'");
      plain = false;
    }
    if ((this.peek() | 0x20) == 0x65) { // e or E
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!this.digits()) this.fail("expected a digit in the exponent");
      plain = false;
    }
    // Integers of up to 15 digits are below 2^53, so summing them in f64 is exact; the
    // rest goes to the standard library's correctly rounding-in-practice parseFloat.
    if (plain && intDigits <= 15) {
      let v: f64 = 0;
      for (let i = intStart; i < this.pos; i++) v = v * 10 + <f64>(this.src.charCodeAt(i) - 0x30);
      return intStart > start ? -v : v;
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

/** Compact JSON text for a value, identical to JSON.stringify of the same tree. */
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
      const keys = v.keys();
      for (let i = 0, n = keys.length; i < n; i++) {
        if (i > 0) out.push(",");
        const key = unchecked(keys[i]);
        out.push(quote(key));
        out.push(":");
        write(v.get(key)!, out);
      }
      out.push("}");
      break;
    }
  }
}

/** JavaScript's number formatting: AssemblyScript's dtoa agrees except for "5.0"-style integers. */
export function numberText(n: f64): string {
  if (!isFinite(n)) return "null"; // as JSON.stringify does
  if (n == 0) return "0"; // also -0
  const s = n.toString();
  return s.endsWith(".0") ? s.substring(0, s.length - 2) : s;
}

const HEX = "0123456789abcdef";

/** A JSON string literal: escapes quotes, backslashes, control characters and lone surrogates. */
export function quote(s: string): string {
  let out = "\"";
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
      out += s.substring(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.substring(start) + "\"";
}

function unicodeEscape(c: i32): string {
  return "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}
