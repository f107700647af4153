// The module side of hyperwasm's bytes ABI (the host side is engine/wasm/abi.ts).
//
// The engine writes a call's UTF-8 input into a buffer it got from `hw_alloc`, calls
// `fn(ptr, len) -> i64`, and reads the output at the (len << 32) | ptr the function returns.
// Afterwards it hands both buffers to `hw_free` when the module exports it. Modules re-export
// the two allocator functions from here: `export { hw_alloc, hw_free } from "./lib/abi";`.
import { ByteSink, JSONValue, parseBytes, writeValue } from "./json";

/** Gives the engine `size` writable bytes. heap.alloc memory is outside the GC's reach. */
export function hw_alloc(size: i32): i32 {
  if (size < 0) throw new Error("hw_alloc: negative size");
  return <i32>heap.alloc(<usize>size);
}

/** Takes back a buffer from hw_alloc or from an output (process modules only: their memory lives on). */
export function hw_free(ptr: i32): void {
  heap.free(<usize>ptr);
}

/** Decodes the input bytes; input that is not valid UTF-8 aborts rather than being guessed at. */
export function readInput(ptr: i32, len: i32): string {
  checkUTF8(ptr, len);
  return String.UTF8.decodeUnsafe(<usize>ptr, <usize>len);
}

/** Aborts unless the input bytes are valid UTF-8. */
export function checkUTF8(ptr: i32, len: i32): void {
  const bad = invalidUTF8At(<usize>ptr, len);
  if (bad >= 0) throw new Error("input is not valid UTF-8 (byte " + bad.toString() + ")");
}

/** Parses the input as JSON, in place (no decoded copy of the text). */
export function readJSON(ptr: i32, len: i32): JSONValue {
  checkUTF8(ptr, len);
  return parseBytes(<usize>ptr, <usize>len);
}

/** UTF-8 encodes `s` into a fresh heap buffer and packs its location for the engine. */
export function writeOutput(s: string): u64 {
  const len = String.UTF8.byteLength(s);
  const buf = heap.alloc(<usize>len);
  // REPLACE turns a lone surrogate into U+FFFD, so the engine always gets valid UTF-8.
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, buf, false, String.UTF8.ErrorMode.REPLACE);
  return pack(buf, len);
}

/** Copies raw bytes into a fresh heap buffer (the engine frees input and output separately). */
export function writeBytes(ptr: i32, len: i32): u64 {
  const buf = heap.alloc(<usize>len);
  memory.copy(buf, <usize>ptr, <usize>len);
  return pack(buf, len);
}

/** Writes a JSON value as the output, straight into the buffer the engine is handed. */
export function writeJSON(value: JSONValue): u64 {
  const out = new ByteSink();
  writeValue(out, value);
  return pack(out.ptr, <i32>out.len);
}

function pack(ptr: usize, len: i32): u64 {
  return (<u64><u32>len << 32) | <u64><u32>ptr;
}

// Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, nothing
// above U+10FFFF), or -1 when all of it is valid.
function invalidUTF8At(ptr: usize, len: i32): i32 {
  let i = 0;
  while (i < len) {
    const b0 = <u32>load<u8>(ptr + <usize>i);
    if (b0 < 0x80) { i++; continue; }
    let need = 0;
    let min: u32 = 0;
    let cp: u32 = 0;
    if ((b0 & 0xe0) == 0xc0) { need = 1; min = 0x80; cp = b0 & 0x1f; }
    else if ((b0 & 0xf0) == 0xe0) { need = 2; min = 0x800; cp = b0 & 0x0f; }
    else if ((b0 & 0xf8) == 0xf0) { need = 3; min = 0x10000; cp = b0 & 0x07; }
    else return i;
    if (i + need >= len) return i; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const b = <u32>load<u8>(ptr + <usize>(i + k));
      if ((b & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
