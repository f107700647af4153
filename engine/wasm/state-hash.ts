// The state hash of a process after each slot, in two levels so it costs what a slot changed
// rather than the whole memory: memory is cut into 4 KiB chunks, each chunk hashed alone, and
// the state hash commits to the globals and the list of chunk hashes (docs/PROTOCOL.md §13).
// A live instance keeps a copy of the memory it last hashed and the chunk hashes; after a slot
// only chunks whose bytes differ from that copy are hashed again (comparing 4 KiB costs ~1/30
// of hashing it). The cache is keyed by content, never trusted: the result is the same as
// hashing from scratch, which is what a fresh instance, a verifier or another language does.
import { b64url } from '../protocol/encoding.ts';
import { sha256 } from '../protocol/hash.ts';

/** Bytes per chunk: a WebAssembly page (64 KiB) is 16 chunks. */
export const STATE_CHUNK = 4096;
/** Chunks compared at once before looking inside (a WebAssembly page). */
const BLOCK_CHUNKS = 16;


/**
 * b64url(sha256(globals || sha256(chunk 0) || sha256(chunk 1) || …)): the pure formula, from
 * scratch, over the globals' canonical JSON bytes and the whole memory (a multiple of 64 KiB).
 */
export function stateDigest(globals: Uint8Array, memory: Uint8Array): string {
  const parts = [globals];
  for (let at = 0; at < memory.length; at += STATE_CHUNK) parts.push(sha256(memory.subarray(at, at + STATE_CHUNK)));
  return b64url(sha256(...parts));
}

/** What an instance's memory looked like when it was last hashed. */
interface Seen {
  copy: Buffer;
  /** The chunk hashes of `copy`, concatenated (32 bytes each). */
  hashes: Buffer;
}

const seen = new WeakMap<WebAssembly.Memory, Seen>();

/** stateDigest over a live memory, hashing again only the chunks that changed since its last call. */
export function liveStateDigest(globals: Uint8Array, memory: WebAssembly.Memory): string {
  const now = Buffer.from(memory.buffer);
  const chunks = now.length / STATE_CHUNK;
  let last = seen.get(memory);
  if (!last || last.copy.length !== now.length) {
    // First hash of this memory, or it grew: start from what is known and extend.
    const copy = Buffer.alloc(now.length);
    const hashes = Buffer.alloc(chunks * 32);
    const known = last ? last.copy.length / STATE_CHUNK : 0;
    if (last) {
      last.copy.copy(copy);
      last.hashes.copy(hashes);
    }
    for (let i = known; i < chunks; i++) rehash(now, copy, hashes, i);
    last = { copy, hashes };
    seen.set(memory, last);
  }
  const { copy, hashes } = last;
  // Compared a block of 16 chunks at a time, then chunk by chunk inside a block that differs:
  // a call per 4 KiB costs as much as the comparing itself (aos's ~100 MiB: 40 ms against 20).
  for (let block = 0; block < chunks; block += BLOCK_CHUNKS) {
    const start = block * STATE_CHUNK;
    const end = Math.min(chunks, block + BLOCK_CHUNKS) * STATE_CHUNK;
    if (now.compare(copy, start, end, start, end) === 0) continue;
    for (let at = start; at < end; at += STATE_CHUNK) {
      if (now.compare(copy, at, at + STATE_CHUNK, at, at + STATE_CHUNK) !== 0) rehash(now, copy, hashes, at / STATE_CHUNK);
    }
  }
  return b64url(sha256(globals, hashes));
}

function rehash(now: Buffer, copy: Buffer, hashes: Buffer, i: number): void {
  const at = i * STATE_CHUNK;
  const chunk = now.subarray(at, at + STATE_CHUNK);
  copy.set(chunk, at);
  hashes.set(sha256(chunk), i * 32);
}

/**
 * The bytes `memory` held when liveStateDigest last hashed it: the state after the previous
 * slot, which an AO process rolls back to after a failed message (engine/processes/ao-fold.ts)
 * without a copy of its own. Valid until the next liveStateDigest of that memory.
 */
export function lastHashed(memory: WebAssembly.Memory): Uint8Array | undefined {
  return seen.get(memory)?.copy;
}

/**
 * Lets `to` (a fresh instance's memory, loaded with much the same bytes) start from what `from`
 * was last hashed as, so its first hash redoes only the chunks that differ. Safe whatever the
 * bytes: every chunk is still compared with the copy before its hash is reused.
 */
export function carryDigest(from: WebAssembly.Memory, to: WebAssembly.Memory): void {
  const last = seen.get(from);
  if (!last) return;
  seen.delete(from);
  seen.set(to, last);
}
