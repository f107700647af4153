// text: a stateless module using the bytes ABI (JSON in, JSON out).
// Its input is the JSON text of the call's parameter array, e.g. [{"text":"hello"}].
// `echo` and `fail` exist for the engine's tests of raw bytes and of abort messages.
import { readJSON, writeBytes, writeJSON } from "./lib/abi";
import { jsonObject } from "./lib/json";

// No hw_free: this module uses the stub runtime, which never reuses memory, because a
// stateless call needs no memory beyond its own lifetime (a fresh instance per call).
export { hw_alloc } from "./lib/abi";

const BAD_PARAMS = "transform expects [{\"text\": <string>}]: the first parameter must be an object with a string \"text\"";

/** [{"text": s}] -> {"text", "upper", "length", "reversed", "words"} */
export function transform(ptr: i32, len: i32): u64 {
  const params = readJSON(ptr, len);
  if (!params.isArray()) throw new Error("transform expects a JSON array of parameters");
  const first = params.at(0);
  if (!first || !first.isObject()) throw new Error(BAD_PARAMS);
  const text = first.getString("text");
  if (text == null) throw new Error(BAD_PARAMS);
  return writeJSON(
    jsonObject()
      .setString("text", text)
      .setString("upper", asciiUpper(text))
      .setNumber("length", <f64>codePoints(text))
      .setString("reversed", reverseCodePoints(text))
      .setNumber("words", <f64>countWords(text)),
  );
}

/** Returns its input bytes unchanged (in a new buffer). */
export function echo(ptr: i32, len: i32): u64 {
  return writeBytes(ptr, len);
}

/** Always aborts: the engine checks that the message reaches the caller. */
export function fail(ptr: i32, len: i32): u64 {
  throw new Error("fail was called");
}

// Only a-z are uppercased: full Unicode case mapping would pull in large tables, and
// special cases (ß -> SS) change the length.
function asciiUpper(s: string): string {
  const units = new Array<i32>(s.length);
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    unchecked(units[i] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  }
  return String.fromCharCodes(units);
}

function isLowSurrogateAt(s: string, i: i32): bool {
  return i < s.length && (s.charCodeAt(i) & 0xfc00) == 0xdc00;
}

// Length in Unicode code points (what [...s].length gives in JavaScript), not UTF-16 units.
function codePoints(s: string): i32 {
  let count = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    if ((s.charCodeAt(i) & 0xfc00) == 0xd800 && isLowSurrogateAt(s, i + 1)) i++;
    count++;
  }
  return count;
}

// Reverses code points, so a surrogate pair (an emoji) stays in order inside the result.
function reverseCodePoints(s: string): string {
  const n = s.length;
  const units = new Array<i32>(n);
  let out = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c & 0xfc00) == 0xd800 && isLowSurrogateAt(s, i + 1)) {
      out -= 2;
      unchecked(units[out] = c);
      unchecked(units[out + 1] = s.charCodeAt(i + 1));
      i++;
    } else {
      unchecked(units[--out] = c);
    }
  }
  return String.fromCharCodes(units);
}

// Words are runs of non-whitespace; whitespace is ASCII space, \t, \n, \v, \f, \r.
function countWords(s: string): i32 {
  let words = 0;
  let inWord = false;
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    const space = c == 0x20 || (c >= 0x09 && c <= 0x0d);
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}
