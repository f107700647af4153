// The JSON writer (AssemblyScript): a value tree straight to UTF-8 bytes.
//
// A module's output leaves as UTF-8 bytes, so writing those directly (one growing heap buffer,
// no intermediate strings, no join) saves building the text as UTF-16 and encoding it after.
// The bytes are what JavaScript's JSON.stringify writes for the same tree, UTF-8 encoded; the
// one exception is a non-integer needing 16-17 significant digits, whose last digit may
// differ (it still reads back as the same f64). Lone surrogates are escaped (\udxxx), as
// JSON.stringify does, so the output is always valid UTF-8.
import { JSONKind, JSONValue } from "./json";

/** Bytes being written into a heap buffer, which the caller takes over (or frees). */
export class ByteSink {
  ptr: usize;
  len: usize = 0;
  private cap: usize;

  constructor(capacity: usize = 256) {
    this.cap = capacity;
    this.ptr = heap.alloc(capacity);
  }

  @inline reserve(n: usize): void {
    if (this.len + n > this.cap) this.grow(n);
  }

  private grow(n: usize): void {
    let cap = this.cap << 1;
    while (cap < this.len + n) cap <<= 1;
    this.ptr = heap.realloc(this.ptr, cap);
    this.cap = cap;
  }

  @inline byte(b: u32): void {
    this.reserve(1);
    store<u8>(this.ptr + this.len, <u8>b);
    this.len++;
  }

  /** Appends an ASCII string. */
  ascii(s: string): void {
    const n = <usize>s.length;
    this.reserve(n);
    const src = changetype<usize>(s);
    const dst = this.ptr + this.len;
    for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u16>(src + (i << 1)));
    this.len += n;
  }
}

/** Writes `v` as compact JSON. */
export function writeValue(out: ByteSink, v: JSONValue): void {
  switch (v.kind) {
    case JSONKind.Null: out.ascii("null"); break;
    case JSONKind.Bool: out.ascii(v.asBool() ? "true" : "false"); break;
    case JSONKind.Number: writeNumber(out, v.asNumber()); break;
    case JSONKind.String: writeString(out, v.asString()); break;
    case JSONKind.Array: {
      out.byte(0x5b);
      for (let i = 0, n = v.length; i < n; i++) {
        if (i > 0) out.byte(0x2c);
        writeValue(out, v.at(i)!);
      }
      out.byte(0x5d);
      break;
    }
    case JSONKind.Object: {
      out.byte(0x7b);
      for (let i = 0, n = v.length; i < n; i++) {
        if (i > 0) out.byte(0x2c);
        writeString(out, v.keyAt(i));
        out.byte(0x3a);
        writeValue(out, v.valueAt(i));
      }
      out.byte(0x7d);
      break;
    }
  }
}

/** A number as JSON.stringify writes it: integers below 10^15 directly, others through numberText. */
export function writeNumber(out: ByteSink, n: f64): void {
  if (n == Math.floor(n) && Math.abs(n) < 1e15) {
    let v = <i64>n;
    if (v == 0) { out.byte(0x30); return; } // also -0
    if (v < 0) { out.byte(0x2d); v = -v; }
    let digits: usize = 1;
    for (let t = v; t >= 10; t /= 10) digits++;
    out.reserve(digits);
    let p = out.ptr + out.len + digits;
    while (v > 0) {
      p--;
      store<u8>(p, <u8>(0x30 + <i32>(v % 10)));
      v /= 10;
    }
    out.len += digits;
    return;
  }
  out.ascii(numberText(n));
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

/** A JSON string literal in UTF-8: escapes quotes, backslashes, control characters and lone surrogates. */
export function writeString(out: ByteSink, s: string): void {
  const n = <usize>s.length;
  const src = changetype<usize>(s);
  out.reserve(n * 3 + 2); // the most a code unit takes unescaped
  out.byte(0x22);
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u16>(src + (i << 1));
    if (c < 0x80) {
      if (c >= 0x20 && c != 0x22 && c != 0x5c) {
        store<u8>(out.ptr + out.len, <u8>c);
        out.len++;
        continue;
      }
      out.reserve(6 + (n - i) * 3);
      out.byte(0x5c);
      if (c == 0x22 || c == 0x5c) out.byte(c);
      else if (c == 0x0a) out.byte(0x6e);
      else if (c == 0x0d) out.byte(0x72);
      else if (c == 0x09) out.byte(0x74);
      else if (c == 0x08) out.byte(0x62);
      else if (c == 0x0c) out.byte(0x66);
      else unicodeEscape(out, c);
    } else if (c < 0x800) {
      store<u8>(out.ptr + out.len, <u8>(0xc0 | (c >> 6)));
      store<u8>(out.ptr + out.len + 1, <u8>(0x80 | (c & 0x3f)));
      out.len += 2;
    } else if (c < 0xd800 || c > 0xdfff) {
      store<u8>(out.ptr + out.len, <u8>(0xe0 | (c >> 12)));
      store<u8>(out.ptr + out.len + 1, <u8>(0x80 | ((c >> 6) & 0x3f)));
      store<u8>(out.ptr + out.len + 2, <u8>(0x80 | (c & 0x3f)));
      out.len += 3;
    } else if (c < 0xdc00 && i + 1 < n && (<u32>load<u16>(src + ((i + 1) << 1)) & 0xfc00) == 0xdc00) {
      // A well-formed pair is one character, four bytes (two code units took six reserved).
      const cp = 0x10000 + ((c - 0xd800) << 10) + (<u32>load<u16>(src + ((i + 1) << 1)) - 0xdc00);
      store<u8>(out.ptr + out.len, <u8>(0xf0 | (cp >> 18)));
      store<u8>(out.ptr + out.len + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
      store<u8>(out.ptr + out.len + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
      store<u8>(out.ptr + out.len + 3, <u8>(0x80 | (cp & 0x3f)));
      out.len += 4;
      i++;
    } else {
      // A lone surrogate has no UTF-8 form, so escape it.
      out.reserve(6 + (n - i) * 3);
      out.byte(0x5c);
      unicodeEscape(out, c);
    }
  }
  out.byte(0x22);
}

// The "uXXXX" after a backslash (lowercase hex, as JSON.stringify writes it).
function unicodeEscape(out: ByteSink, c: u32): void {
  out.byte(0x75);
  out.byte(<u32>HEX.charCodeAt((c >> 12) & 15));
  out.byte(<u32>HEX.charCodeAt((c >> 8) & 15));
  out.byte(<u32>HEX.charCodeAt((c >> 4) & 15));
  out.byte(<u32>HEX.charCodeAt(c & 15));
}
