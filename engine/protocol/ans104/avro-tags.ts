// ANS-104 tags as Avro bytes (docs/PROTOCOL.md §10): an array of records {name: string, value:
// string}. Avro writes an array as blocks (a zig-zag varint count, then the items), ended by a
// zero count; a string is a zig-zag varint byte length then the UTF-8 bytes. arbundles writes a
// single block; the reader takes any block structure Avro allows, and nothing after the end.
import { utf8 } from '../encoding.ts';
import type { Tag } from '../vocabulary.ts';

/** ANS-104's tag limits. */
export const MAX_TAGS = 128;
export const MAX_TAG_NAME_BYTES = 1024;
export const MAX_TAG_VALUE_BYTES = 3072;
/**
 * arbundles refuses items whose encoded tags exceed 4096 bytes (its encoder's buffer size,
 * and DataItem.verify returns false beyond it), so items this node creates stay under it.
 * Parsing does not apply it: ANS-104 itself only limits the count and each name/value.
 */
export const MAX_CREATED_TAG_BYTES = 4096;

export class DataItemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataItemError';
  }
}

function zigzagVarint(n: number, out: number[]): void {
  // Zig-zag maps 0,-1,1,-2.. to 0,1,2,3..; the numbers here are never negative, but keep the
  // encoding general. Arithmetic rather than bit operations so it is exact past 2^31.
  let m = n >= 0 ? n * 2 : -n * 2 - 1;
  while (m >= 0x80) {
    out.push((m % 0x80) | 0x80);
    m = Math.floor(m / 0x80);
  }
  out.push(m);
}

/** Tags as ANS-104's Avro bytes, exactly as arbundles' serializeTags writes them (empty for no tags). */
export function encodeTags(tags: readonly Tag[]): Uint8Array {
  if (tags.length === 0) return new Uint8Array(0);
  const out: number[] = [];
  zigzagVarint(tags.length, out);
  for (const tag of tags) {
    for (const text of [tag.name, tag.value]) {
      const bytes = utf8(text);
      zigzagVarint(bytes.length, out);
      for (const byte of bytes) out.push(byte);
    }
  }
  out.push(0);
  return Uint8Array.from(out);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

class TagReader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  long(what: string): number {
    // At most 10 bytes hold a 64-bit value; anything near that is already far past every
    // limit, so refuse beyond 2^53 rather than lose precision.
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw new DataItemError(`bad tag encoding: truncated at the ${what}`);
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (value > Number.MAX_SAFE_INTEGER) throw new DataItemError(`bad tag encoding: the ${what} is too large`);
      if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 0x80;
    }
    throw new DataItemError(`bad tag encoding: the ${what} varint is longer than 10 bytes`);
  }

  string(what: string, limit: number): string {
    const length = this.long(`${what} length`);
    if (length < 0) throw new DataItemError(`bad tag encoding: ${what} has negative length ${length}`);
    if (length > limit) throw new DataItemError(`${what} is ${length} bytes (at most ${limit})`);
    if (this.pos + length > this.bytes.length) {
      throw new DataItemError(`bad tag encoding: truncated in ${what} (${length} bytes declared, ${this.bytes.length - this.pos} remain)`);
    }
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return strictUtf8.decode(slice);
    } catch {
      // Tag is {name: string, value: string}: bytes that are not UTF-8 cannot be shown
      // faithfully, and two items with different signed bytes must not show the same tags.
      throw new DataItemError(`${what} is not valid UTF-8`);
    }
  }
}

/**
 * ANS-104's Avro tag bytes back to tags, checking ANS-104's limits. Accepts what Avro allows
 * (several blocks, negative counts followed by a block byte size) as arbundles does; refuses
 * anything after the closing zero block. Empty input is no tags (what arbundles writes).
 */
export function decodeTags(bytes: Uint8Array): Tag[] {
  const tags: Tag[] = [];
  if (bytes.length === 0) return tags;
  const reader = new TagReader(bytes);
  for (;;) {
    let count = reader.long('block count');
    if (count === 0) break;
    let blockEnd: number | undefined;
    if (count < 0) {
      count = -count;
      const size = reader.long('block size');
      if (size < 0) throw new DataItemError(`bad tag encoding: negative block size ${size}`);
      blockEnd = reader.pos + size;
    }
    if (tags.length + count > MAX_TAGS) throw new DataItemError(`too many tags: ${tags.length + count} (at most ${MAX_TAGS})`);
    for (let i = 0; i < count; i++) {
      const index = tags.length;
      const name = reader.string(`tag ${index} name`, MAX_TAG_NAME_BYTES);
      const value = reader.string(`tag ${index} value`, MAX_TAG_VALUE_BYTES);
      tags.push({ name, value });
    }
    if (blockEnd !== undefined && reader.pos !== blockEnd) {
      throw new DataItemError(`bad tag encoding: block size says it ends at byte ${blockEnd}, it ends at ${reader.pos}`);
    }
  }
  if (!reader.done) throw new DataItemError(`bad tag encoding: ${bytes.length - reader.pos} trailing bytes after the tags`);
  return tags;
}
