// The JSON reader (AssemblyScript), working straight on UTF-8 bytes in memory.
//
// A module's input arrives as UTF-8 bytes, so reading them in place saves decoding the whole
// text into a UTF-16 string first, and one scanner serves two uses: building a value tree
// (parse) and checking a text without building anything (skip), which is what lets a process
// envelope validate its whole input once and then read only the few members it needs.
// Strict RFC 8259, with the errors (and UTF-16 positions) the string parser always gave.
import { JSONValue, jsonArray, jsonBool, jsonNull, jsonNumber, jsonObject, jsonString } from "./json";

// Every power of ten that an f64 holds exactly.
// prettier-ignore
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

// Deep nesting would exhaust the wasm stack with an unhelpful trap; fail clearly instead.
const MAX_DEPTH = 128;

// Strings with escapes are decoded here (UTF-16 code units), then copied out once.
let scratch: usize = 0;
let scratchBytes: usize = 0;

/** Parses the JSON text in bytes [ptr, ptr + len) (UTF-8, or WTF-8 from a JS string). */
export function parseBytes(ptr: usize, len: usize): JSONValue {
  const r = new Reader(ptr, ptr + len);
  const value = r.value(0, true)!;
  r.end_();
  return value;
}

/** Checks that bytes [ptr, ptr + len) are one JSON value, building nothing; aborts as parse would. */
export function validateBytes(ptr: usize, len: usize): void {
  const r = new Reader(ptr, ptr + len);
  r.value(0, false);
  r.end_();
}

/**
 * validateBytes that also notes, when the text is an object, the address of the value of each
 * of its members named in `keys` (the last one, as JSON.parse keeps) in `found`; 0 for none.
 * When the member keys[nest] is an object, the same is done for its members `nestKeys` into
 * `nestFound`, in the same pass.
 */
export function validateFinding(
  ptr: usize, len: usize, keys: StaticArray<string>, found: StaticArray<usize>,
  nest: i32 = -1, nestKeys: StaticArray<string> | null = null, nestFound: StaticArray<usize> | null = null,
): void {
  const r = new Reader(ptr, ptr + len);
  clear(found);
  if (nestFound) clear(nestFound);
  r.skipSpace();
  if (r.peek() == 0x7b) r.find(0, keys, found, nest, nestKeys, nestFound);
  else r.value(0, false);
  r.end_();
}

function clear(found: StaticArray<usize>): void {
  for (let k = 0; k < found.length; k++) unchecked(found[k] = 0);
}

/**
 * Reads parts of an already validated text in place. Values are named by the address of their
 * first byte; 0 means "none". Nothing is decoded until a string is asked for.
 */
export class InPlace {
  private r: Reader;

  constructor(public start: usize, public end: usize) {
    this.r = new Reader(start, end);
  }

  isObject(at: usize): bool { return at != 0 && load<u8>(at) == 0x7b; }
  isArray(at: usize): bool { return at != 0 && load<u8>(at) == 0x5b; }
  isString(at: usize): bool { return at != 0 && load<u8>(at) == 0x22; }
  isNumber(at: usize): bool {
    if (at == 0) return false;
    const c = <i32>load<u8>(at);
    return c == 0x2d || (c >= 0x30 && c <= 0x39);
  }

  /** The value of an object's member `key` (the last one, as JSON.parse keeps), or 0. */
  member(obj: usize, key: string): usize {
    if (!this.isObject(obj)) return 0;
    const r = this.r;
    r.pos = obj + 1;
    r.skipSpace();
    if (r.peek() == 0x7d) return 0;
    let found: usize = 0;
    while (true) {
      r.skipSpace();
      const keyAt = r.pos;
      const escaped = r.string();
      const matches = sameKey(keyAt, r.pos, escaped, key);
      r.skipSpace();
      r.pos++; // :
      r.skipSpace();
      if (matches) found = r.pos;
      r.value(1, false);
      r.skipSpace();
      if (r.peek() == 0x7d) return found;
      r.pos++; // ,
    }
    return unreachable();
  }

  /** The address of an array's element `i`, or 0. */
  element(arr: usize, i: i32): usize {
    if (!this.isArray(arr)) return 0;
    const r = this.r;
    r.pos = arr + 1;
    r.skipSpace();
    if (r.peek() == 0x5d) return 0;
    for (let k = 0; ; k++) {
      r.skipSpace();
      if (k == i) return r.pos;
      r.value(1, false);
      r.skipSpace();
      if (r.peek() == 0x5d) return 0;
      r.pos++; // ,
    }
    return unreachable();
  }

  /** The address of the element after the one at `at` in its array, or 0 after the last. */
  next(at: usize): usize {
    const r = this.r;
    r.pos = at;
    r.value(1, false);
    r.skipSpace();
    if (r.peek() == 0x5d) return 0;
    r.pos++; // ,
    r.skipSpace();
    return r.pos;
  }

  /** Whether the string at `at` is exactly `s`, decoding nothing unless it has escapes. */
  stringIs(at: usize, s: string): bool {
    if (!this.isString(at)) return false;
    this.r.pos = at;
    const escaped = this.r.string();
    return sameKey(at, this.r.pos, escaped, s);
  }

  /** The string at `at`, or null when it is not a string. */
  string(at: usize): string | null {
    if (!this.isString(at)) return null;
    this.r.pos = at;
    return this.r.stringValue();
  }

  /** The number at `at` (check isNumber first). */
  number(at: usize): f64 {
    this.r.pos = at;
    return this.r.number(true);
  }

  /** The whole value at `at` as a tree. */
  tree(at: usize): JSONValue {
    this.r.pos = at;
    return this.r.value(0, true)!;
  }
}

// Whether the (validated) string literal [from, to) — quotes included — reads as `s`.
function sameKey(from: usize, to: usize, escaped: bool, s: string): bool {
  if (escaped) {
    const r = new Reader(from, to);
    return r.stringValue() == s;
  }
  const n = <usize>s.length;
  const bytes = to - from - 2;
  if (bytes < n) return false; // each UTF-16 unit takes at least one byte
  let p = from + 1;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u16>(changetype<usize>(s) + (i << 1));
    if (c >= 0x80) return String.UTF8.decodeUnsafe(from + 1, bytes) == s; // rare: non-ASCII keys
    if (<u32>load<u8>(p) != c) return false;
    p++;
  }
  return p == to - 1;
}

class Reader {
  pos: usize;

  constructor(public start: usize, public end: usize) {
    this.pos = start;
  }

  fail(what: string): void {
    const where = this.pos < this.end ? "at position " + this.units(this.pos).toString() : "at end of input";
    throw new Error("invalid JSON: " + what + " " + where);
  }

  // The UTF-16 index of byte `to`, as positions were counted when the text was a string:
  // a 4-byte sequence is two code units, any other sequence one.
  units(to: usize): i32 {
    let n = 0;
    for (let p = this.start; p < to; p++) {
      const b = <u32>load<u8>(p);
      if ((b & 0xc0) != 0x80) n += b >= 0xf0 ? 2 : 1;
    }
    return n;
  }

  @inline peek(): i32 { return this.pos < this.end ? <i32>load<u8>(this.pos) : -1; }

  end_(): void {
    this.skipSpace();
    if (this.pos < this.end) this.fail("unexpected text after the JSON value");
  }

  @inline skipSpace(): void {
    let p = this.pos;
    const end = this.end;
    while (p < end) {
      const c = load<u8>(p);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      p++;
    }
    this.pos = p;
  }

  /** Reads one value; builds it only when `build` (otherwise returns null). */
  value(depth: i32, build: bool): JSONValue | null {
    if (depth > MAX_DEPTH) this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.skipSpace();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth, build); // {
    if (c == 0x5b) return this.array(depth, build); // [
    if (c == 0x22) { // "
      if (build) return jsonString(this.stringValue());
      this.string();
      return null;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      const n = this.number(build);
      return build ? jsonNumber(n) : null;
    }
    if (this.literal(0x65757274, 4)) return build ? jsonBool(true) : null; // "true"
    if (this.literal(0x736c6166, 5)) return build ? jsonBool(false) : null; // "fals" + "e"
    if (this.literal(0x6c6c756e, 4)) return build ? jsonNull() : null; // "null"
    this.fail(c < 0 ? "expected a value" : "unexpected character");
    return unreachable();
  }

  // The next four bytes equal `word` (little-endian), and for n = 5 an "e" follows ("false");
  // on a match, moves past them.
  literal(word: u32, n: usize): bool {
    if (this.pos + n > this.end || load<u32>(this.pos) != word) return false;
    if (n == 5 && load<u8>(this.pos + 4) != 0x65) return false;
    this.pos += n;
    return true;
  }

  object(depth: i32, build: bool): JSONValue | null {
    const obj = build ? jsonObject() : null;
    this.pos++; // {
    this.skipSpace();
    if (this.peek() == 0x7d) { this.pos++; return obj; }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) this.fail("expected a string key");
      let key = "";
      if (build) key = this.stringValue();
      else this.string();
      this.skipSpace();
      if (this.peek() != 0x3a) this.fail("expected ':'");
      this.pos++;
      const value = this.value(depth + 1, build);
      if (obj) obj.set(key, value!); // a repeated key keeps the last value, as in JS
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return obj;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or '}'"); }
    }
    return unreachable();
  }

  /** object() building nothing, but noting where the values of `keys` are (see validateFinding). */
  find(
    depth: i32, keys: StaticArray<string>, found: StaticArray<usize>,
    nest: i32 = -1, nestKeys: StaticArray<string> | null = null, nestFound: StaticArray<usize> | null = null,
  ): void {
    this.pos++; // {
    this.skipSpace();
    if (this.peek() == 0x7d) { this.pos++; return; }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) this.fail("expected a string key");
      const keyAt = this.pos;
      const escaped = this.string();
      const keyEnd = this.pos;
      this.skipSpace();
      if (this.peek() != 0x3a) this.fail("expected ':'");
      this.pos++;
      this.skipSpace();
      let nested = false;
      for (let k = 0, n = keys.length; k < n; k++) {
        if (!sameKey(keyAt, keyEnd, escaped, unchecked(keys[k]))) continue;
        unchecked(found[k] = this.pos);
        if (k == nest) {
          clear(nestFound!); // a repeated key: only the last one's members count
          nested = this.peek() == 0x7b;
        }
      }
      if (nested) this.find(depth + 1, nestKeys!, nestFound!);
      else this.value(depth + 1, false);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or '}'"); }
    }
  }

  array(depth: i32, build: bool): JSONValue | null {
    const arr = build ? jsonArray() : null;
    this.pos++; // [
    this.skipSpace();
    if (this.peek() == 0x5d) { this.pos++; return arr; }
    while (true) {
      const value = this.value(depth + 1, build);
      if (arr) arr.push(value!);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return arr;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or ']'"); }
    }
    return unreachable();
  }

  /** Checks the string literal at pos and moves past it; returns whether it has escapes. */
  string(): bool {
    let p = this.pos + 1; // past the opening quote
    const end = this.end;
    let escaped = false;
    while (true) {
      // The plain run up to the next quote, backslash or control character, in locals,
      // eight bytes at a time while none of them is one.
      while (p + 8 <= end && !special8(load<u64>(p))) p += 8;
      while (p < end) {
        const c = load<u8>(p);
        if (c == 0x22 || c == 0x5c || c < 0x20) break;
        p++;
      }
      this.pos = p;
      const c = this.peek();
      if (c < 0) this.fail("unterminated string");
      if (c == 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      escaped = true;
      this.escape();
      p = this.pos;
    }
    this.pos = p + 1; // past the closing quote
    return escaped;
  }

  /** Reads the string literal at pos as a string. */
  stringValue(): string {
    const from = this.pos + 1;
    const escaped = this.string();
    const to = this.pos - 1;
    if (!escaped) return String.UTF8.decodeUnsafe(from, to - from);
    return decodeEscaped(from, to);
  }

  // Checks one escape at pos (a backslash) and moves past it.
  escape(): void {
    const e = this.pos + 1 < this.end ? <i32>load<u8>(this.pos + 1) : -1;
    this.pos += 2;
    if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) return;
    if (e == 0x75) { this.hex4(); return; }
    this.pos -= 2;
    this.fail("invalid escape in string");
  }

  hex4(): i32 {
    let u = 0;
    for (let i = 0; i < 4; i++) {
      const d = hexDigit(this.peek());
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
  // standard library's parseFloat, which is occasionally 1 ulp off. `convert` false: only checks.
  number(convert: bool): f64 {
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
      while (fracEnd > fracStart && load<u8>(fracEnd - 1) == 0x30) fracEnd--; // 1.50 = 1.5
    }
    let exp = 0;
    if ((this.peek() | 0x20) == 0x65) { // e or E
      this.pos++;
      const expNegative = this.peek() == 0x2d;
      if (expNegative || this.peek() == 0x2b) this.pos++;
      const expStart = this.pos;
      if (!this.digits()) this.fail("expected a digit in the exponent");
      for (let i = expStart; i < this.pos && exp < 100000; i++) exp = exp * 10 + (<i32>load<u8>(i) - 0x30);
      if (expNegative) exp = -exp;
    }
    if (!convert) return 0;

    let mantissa: f64 = 0;
    let significant = 0;
    for (let i = intStart; i < fracEnd; i++) {
      const d = <i32>load<u8>(i) - 0x30;
      if (d < 0) continue; // the '.'
      if (significant > 0 || d != 0) significant++;
      mantissa = mantissa * 10 + <f64>d;
    }
    if (significant == 0) return negative ? -0.0 : 0.0;
    const e10 = exp - <i32>(fracEnd - fracStart);
    if (significant <= 15 && e10 >= -22 && e10 <= 22) {
      const v = e10 < 0 ? mantissa / unchecked(POW10[-e10]) : mantissa * unchecked(POW10[e10]);
      return negative ? -v : v;
    }
    return parseFloat(String.UTF8.decodeUnsafe(start, this.pos - start));
  }

  digits(): bool {
    const start = this.pos;
    let c = this.peek();
    while (c >= 0x30 && c <= 0x39) {
      this.pos++;
      c = this.peek();
    }
    return this.pos > start;
  }
}

// Whether any of the eight bytes in `w` is a quote, a backslash or below 0x20 (exact:
// the classic "has a zero byte" and "has a byte below n" tests).
@inline function special8(w: u64): bool {
  const ones: u64 = 0x0101010101010101;
  const high: u64 = 0x8080808080808080;
  const q = w ^ 0x2222222222222222;
  const b = w ^ 0x5c5c5c5c5c5c5c5c;
  return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high ? true : false;
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

// Decodes the body [from, to) of a validated string literal that has escapes. Strings are
// UTF-16 here, so a \uD83D\uDE00 pair simply becomes two code units that together are the
// character; a lone escaped surrogate is kept, as JavaScript does.
function decodeEscaped(from: usize, to: usize): string {
  const need = (to - from) << 1; // at most one code unit per byte
  if (need > scratchBytes) {
    scratch = scratch == 0 ? heap.alloc(need) : heap.realloc(scratch, need);
    scratchBytes = need;
  }
  let out = scratch;
  let p = from;
  while (p < to) {
    let c = <u32>load<u8>(p);
    if (c == 0x5c) {
      const e = <u32>load<u8>(p + 1);
      p += 2;
      if (e == 0x75) {
        c = <u32>((hexDigit(load<u8>(p)) << 12) | (hexDigit(load<u8>(p + 1)) << 8) | (hexDigit(load<u8>(p + 2)) << 4) | hexDigit(load<u8>(p + 3)));
        p += 4;
      } else if (e == 0x62) c = 0x08;
      else if (e == 0x66) c = 0x0c;
      else if (e == 0x6e) c = 0x0a;
      else if (e == 0x72) c = 0x0d;
      else if (e == 0x74) c = 0x09;
      else c = e; // " \ /
    } else if (c < 0x80) {
      p++;
    } else if ((c & 0xe0) == 0xc0) {
      c = ((c & 0x1f) << 6) | (<u32>load<u8>(p + 1) & 0x3f);
      p += 2;
    } else if ((c & 0xf0) == 0xe0) {
      c = ((c & 0x0f) << 12) | ((<u32>load<u8>(p + 1) & 0x3f) << 6) | (<u32>load<u8>(p + 2) & 0x3f);
      p += 3;
    } else {
      const cp = ((c & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3f) << 12) | ((<u32>load<u8>(p + 2) & 0x3f) << 6) | (<u32>load<u8>(p + 3) & 0x3f);
      p += 4;
      store<u16>(out, <u16>(((cp - 0x10000) >> 10) | 0xd800));
      out += 2;
      c = ((cp - 0x10000) & 0x3ff) | 0xdc00;
    }
    store<u16>(out, <u16>c);
    out += 2;
  }
  return String.UTF16.decodeUnsafe(scratch, out - scratch);
}
