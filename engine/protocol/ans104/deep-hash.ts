// Arweave's deep hash (the SHA-384 tree hash that ANS-104 data items and Arweave 2.0
// transactions sign), synchronous and on node:crypto. arweave-js and arbundles compute the
// same value, but asynchronously and through a crypto driver; every data item the node
// signs or verifies goes through this function, so it sits on the hot path.
//
//   deepHash(blob) = SHA-384(SHA-384("blob" + byteLength) || SHA-384(blob))
//   deepHash(list) = fold over the items: acc = SHA-384(acc || deepHash(item)),
//                    starting from acc = SHA-384("list" + itemCount)
import { createHash, hash as oneShotHash } from 'node:crypto';

export type DeepHashChunk = Uint8Array | DeepHashChunk[];

// crypto.hash (Node >= 20.12) skips the Hash object, the main cost on inputs this small.
// package.json allows any Node 20, so keep the createHash path as a fallback.
const sha384: (data: Uint8Array) => Uint8Array =
  typeof oneShotHash === 'function'
    ? (data) => oneShotHash('sha384', data, 'buffer')
    : (data) => createHash('sha384').update(data).digest();

// Every pair hashed here is two 48-byte digests. One reused buffer: deepHash is synchronous
// and the buffer is filled and hashed with no call in between, so nothing can interleave.
const pair = new Uint8Array(96);
function sha384Pair(a: Uint8Array, b: Uint8Array): Uint8Array {
  pair.set(a, 0);
  pair.set(b, 48);
  return sha384(pair);
}

const encoder = new TextEncoder();

// The tag hashes depend only on a length, and data items repeat the same few lengths
// (owner 32/512, target/anchor 0/32, "dataitem", "1", ...), so remember them. Bounded so a
// stream of distinct data sizes cannot grow it without limit.
const TAG_CACHE_LIMIT = 4096;
const blobTags = new Map<number, Uint8Array>();
const listTags = new Map<number, Uint8Array>();

function tagHash(cache: Map<number, Uint8Array>, kind: 'blob' | 'list', length: number): Uint8Array {
  let tag = cache.get(length);
  if (tag === undefined) {
    tag = sha384(encoder.encode(`${kind}${length}`));
    if (cache.size >= TAG_CACHE_LIMIT) cache.clear();
    cache.set(length, tag);
  }
  return tag;
}

// Absent optional fields (a data item's target and anchor) hash as the empty blob.
const EMPTY_BLOB = sha384Pair(tagHash(blobTags, 'blob', 0), sha384(new Uint8Array(0)));

/** May return a shared array (the empty blob's hash); internal callers only read it. */
function hashChunk(data: DeepHashChunk): Uint8Array {
  if (Array.isArray(data)) return deepHashFold(tagHash(listTags, 'list', data.length), data);
  if (!(data instanceof Uint8Array)) throw new TypeError('deepHash takes a Uint8Array or a nested array of them');
  if (data.byteLength === 0) return EMPTY_BLOB;
  return sha384Pair(tagHash(blobTags, 'blob', data.byteLength), sha384(data));
}

export function deepHash(data: DeepHashChunk): Uint8Array {
  const result = hashChunk(data);
  // A copy wherever the result is a cached array: the caller may write into what it gets.
  return result === EMPTY_BLOB || (Array.isArray(data) && data.length === 0) ? new Uint8Array(result) : result;
}

/** The running hash of a list of `length` items before any item: start for deepHashFold. */
export const deepHashListStart = (length: number): Uint8Array => new Uint8Array(tagHash(listTags, 'list', length));

/**
 * Folds items into a list's running hash: deepHash(list) equals
 * deepHashFold(deepHashListStart(list.length), list), and a fold can be continued, so a
 * caller can compute a constant prefix of a list once (as data items do).
 */
export function deepHashFold(acc: Uint8Array, items: DeepHashChunk[]): Uint8Array {
  for (const item of items) acc = sha384Pair(acc, hashChunk(item));
  return acc;
}
