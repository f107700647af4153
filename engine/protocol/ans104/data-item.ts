// ANS-104 data items (the Arweave bundle item format that every signed message in this
// system is): parse, verify, and create, byte-for-byte compatible with arbundles.
//
// Why not arbundles itself: the node verifies thousands of items a second and signs its own
// assignments and attestations, and arbundles' ed25519 path runs through a JS curve library
// and an async deep hash (measured here: ~10x slower to create, ~12x slower to verify).
// node:crypto makes byte-identical (deterministic) ed25519 signatures, so this codec does the
// layout, the Avro tags and the deep hash itself and leaves only the rare RSA signing (CLI
// users holding an Arweave wallet) to arbundles.
//
// Layout (all integers little-endian):
//   2 signature type | signature | owner | 1 target presence (+32) | 1 anchor presence (+32)
//   | 8 tag count | 8 tag byte length | Avro-encoded tags | data to the end
import { constants, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';
import { deepHashFold, deepHashListStart } from './deep-hash.ts';
import { b64url, fromB64url, isId, utf8 } from '../encoding.ts';
import { sha256b64 } from '../hash.ts';

/** The only signature types accepted: Arweave RSA-4096 (PSS, SHA-256) and ed25519. */
export const SIGNATURE_TYPES = {
  1: { name: 'arweave', signatureLength: 512, ownerLength: 512 },
  2: { name: 'ed25519', signatureLength: 64, ownerLength: 32 },
} as const;
export type SignatureType = keyof typeof SIGNATURE_TYPES;

import type { Tag } from '../vocabulary.ts';
import { DataItemError, encodeTags, decodeTags, MAX_CREATED_TAG_BYTES, MAX_TAG_NAME_BYTES, MAX_TAG_VALUE_BYTES, MAX_TAGS } from './avro-tags.ts';
export type { Tag };

/**
 * A parsed item. The byte fields are views into `raw` (no copies); treat the whole object as
 * immutable: verifyDataItem checks `raw`, not the decoded fields.
 */
export interface DataItem {
  /** The whole item as bytes. */
  raw: Uint8Array;
  /** b64url(sha256(signature)). */
  id: string;
  signatureType: SignatureType;
  signature: Uint8Array;
  /** Public key bytes: the RSA modulus n (type 1) or the 32-byte ed25519 key (type 2). */
  owner: Uint8Array;
  /** b64url(sha256(owner)). */
  ownerAddress: string;
  /** The 32-byte target as a 43-character b64url ID, when present. */
  target?: string;
  /**
   * The 32 raw anchor bytes as 43 b64url characters, when present: what arbundles'
   * DataItem.anchor returns. (arbundles' createData takes the anchor as a 32-byte UTF-8
   * string; utf8Text(fromB64url(anchor)) recovers such text.)
   */
  anchor?: string;
  tags: Tag[];
  data: Uint8Array;
}


// ---------------------------------------------------------------------------------------
// Layout

interface Layout {
  signatureType: SignatureType;
  signature: Uint8Array;
  owner: Uint8Array;
  target?: Uint8Array;
  anchor?: Uint8Array;
  tagCount: number;
  tagBytes: Uint8Array;
  data: Uint8Array;
}

/** 8-byte little-endian unsigned integer; undefined where it does not fit a safe integer. */
function readU64(raw: Uint8Array, at: number): number | undefined {
  const view = new DataView(raw.buffer, raw.byteOffset + at, 8);
  const high = view.getUint32(4, true);
  if (high > 0x1fffff) return undefined;
  return high * 0x1_0000_0000 + view.getUint32(0, true);
}

function writeU64(raw: Uint8Array, at: number, value: number): void {
  const view = new DataView(raw.buffer, raw.byteOffset + at, 8);
  view.setUint32(0, value % 0x1_0000_0000, true);
  view.setUint32(4, Math.floor(value / 0x1_0000_0000), true);
}

function need(raw: Uint8Array, at: number, length: number, field: string): void {
  if (at + length > raw.length) {
    throw new DataItemError(`truncated at the ${field} (needs ${length} bytes at offset ${at}, item is ${raw.length} bytes)`);
  }
}

/** An optional 32-byte field: ANS-104 makes any presence byte but 0 or 1 invalid. */
function optional32(raw: Uint8Array, at: number, field: string): { value?: Uint8Array; next: number } {
  need(raw, at, 1, `${field} presence byte`);
  const presence = raw[at]!;
  if (presence === 0) return { next: at + 1 };
  // arbundles reads any byte but 1 as absent; the presence byte is not signed, so accepting
  // 2..255 would let anyone re-encode a signed item into new bytes under the same ID.
  if (presence !== 1) throw new DataItemError(`${field} presence byte is ${presence} (must be 0 or 1)`);
  need(raw, at + 1, 32, field);
  return { value: raw.subarray(at + 1, at + 33), next: at + 33 };
}

/** Finds every field without decoding the tags. */
function layoutOf(raw: Uint8Array): Layout {
  need(raw, 0, 2, 'signature type');
  const type = raw[0]! | (raw[1]! << 8);
  if (type !== 1 && type !== 2) throw new DataItemError(`unsupported signature type ${type} (only 1 arweave and 2 ed25519)`);
  const { signatureLength, ownerLength } = SIGNATURE_TYPES[type];
  need(raw, 2, signatureLength, 'signature');
  const signature = raw.subarray(2, 2 + signatureLength);
  let at = 2 + signatureLength;
  need(raw, at, ownerLength, 'owner');
  const owner = raw.subarray(at, at + ownerLength);
  at += ownerLength;
  const target = optional32(raw, at, 'target');
  const anchor = optional32(raw, target.next, 'anchor');
  at = anchor.next;
  need(raw, at, 16, 'tags header');
  const tagCount = readU64(raw, at);
  const tagLength = readU64(raw, at + 8);
  if (tagCount === undefined || tagCount > MAX_TAGS) throw new DataItemError(`too many tags: the header says ${tagCount ?? 'over 2^53'} (at most ${MAX_TAGS})`);
  at += 16;
  if (tagLength === undefined || at + tagLength > raw.length) {
    throw new DataItemError(`truncated at the tags (the header says ${tagLength ?? 'over 2^53'} bytes, ${raw.length - at} remain)`);
  }
  return {
    signatureType: type,
    signature,
    owner,
    target: target.value,
    anchor: anchor.value,
    tagCount,
    tagBytes: raw.subarray(at, at + tagLength),
    data: raw.subarray(at + tagLength),
  };
}

// The signed message: ANS-104's deep hash of
//   ["dataitem", "1", signatureType, owner, target, anchor, tagBytes, data]
// (absent target/anchor as empty blobs). The presence bytes and the tag header are not in
// it; layoutOf pins them down instead. The first three items are constant per signature
// type, so their part of the fold is computed once: 9 of the ~24 SHA-384 calls.
const MESSAGE_PREFIX: Record<SignatureType, Uint8Array> = {
  1: deepHashFold(deepHashListStart(8), [utf8('dataitem'), utf8('1'), utf8('1')]),
  2: deepHashFold(deepHashListStart(8), [utf8('dataitem'), utf8('1'), utf8('2')]),
};
const EMPTY = new Uint8Array(0);

function signatureMessage(type: SignatureType, owner: Uint8Array, target: Uint8Array | undefined, anchor: Uint8Array | undefined, tagBytes: Uint8Array, data: Uint8Array): Uint8Array {
  return deepHashFold(MESSAGE_PREFIX[type], [owner, target ?? EMPTY, anchor ?? EMPTY, tagBytes, data]);
}

/** layoutOf plus the tags, decoded and counted. */
function structureOf(raw: Uint8Array): { layout: Layout; tags: Tag[] } {
  if (!(raw instanceof Uint8Array)) throw new DataItemError('a data item must be bytes');
  const layout = layoutOf(raw);
  const tags = decodeTags(layout.tagBytes);
  if (tags.length !== layout.tagCount) throw new DataItemError(`tag count ${layout.tagCount} but ${tags.length} decoded`);
  return { layout, tags };
}

/** Parses and checks the structure of an item; does not verify the signature. */
export function parseDataItem(raw: Uint8Array): DataItem {
  const { layout, tags } = structureOf(raw);
  return {
    raw,
    id: sha256b64(layout.signature),
    signatureType: layout.signatureType,
    signature: layout.signature,
    owner: layout.owner,
    ownerAddress: sha256b64(layout.owner),
    ...(layout.target && { target: b64url(layout.target) }),
    ...(layout.anchor && { anchor: b64url(layout.anchor) }),
    tags,
    data: layout.data,
  };
}

// ---------------------------------------------------------------------------------------
// Verification

// A node sees the same few owners over and over, so keep their KeyObjects (5-10 µs each to
// build). Bounded; cleared wholesale when full (cheap, and a miss only costs the rebuild).
const KEY_CACHE_LIMIT = 1024;
const publicKeys = new Map<string, KeyObject>();

function publicKeyOf(type: SignatureType, owner: Uint8Array): KeyObject {
  const cacheKey = `${type}:${Buffer.from(owner.buffer, owner.byteOffset, owner.byteLength).toString('latin1')}`;
  let key = publicKeys.get(cacheKey);
  if (key === undefined) {
    key =
      type === 2
        ? // JWK rather than DER: OpenSSL's DER decoder took ~10x longer to import the same key.
          createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(owner) }, format: 'jwk' })
        : // Arweave wallets always use the public exponent 65537.
          createPublicKey({ key: { kty: 'RSA', n: b64url(owner), e: 'AQAB' }, format: 'jwk' });
    if (publicKeys.size >= KEY_CACHE_LIMIT) publicKeys.clear();
    publicKeys.set(cacheKey, key);
  }
  return key;
}

/**
 * Checks the item's signature (over `item.raw`) and that its id is sha256(signature). RSA is
 * PSS over SHA-256 with the salt length auto-detected: arweave-js and arbundles sign with
 * Node's default, the maximum salt (478 bytes for RSA-4096), and verify with auto-detection,
 * and other wallets use 32; accepting any salt length is what arbundles does. False for a
 * bad signature or an item that does not parse; never throws.
 */
export function verifyDataItem(item: DataItem): boolean {
  try {
    // The whole structure again, tags included: an item's fields are only as good as its raw bytes.
    const { layout } = structureOf(item.raw);
    if (item.id !== sha256b64(layout.signature)) return false;
    const message = signatureMessage(layout.signatureType, layout.owner, layout.target, layout.anchor, layout.tagBytes, layout.data);
    const key = publicKeyOf(layout.signatureType, layout.owner);
    if (layout.signatureType === 2) return verify(null, message, key, layout.signature);
    return verify('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, layout.signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Creation

export interface DataItemFields {
  /** A 43-character b64url ID. */
  target?: string;
  /**
   * 32 bytes: raw bytes, a string of exactly 32 UTF-8 bytes (arbundles' createData
   * semantics, what AO clients send), or 43 b64url characters of 32 bytes (what
   * DataItem.anchor returns, so an item's anchor can be passed back in). The two string
   * forms cannot be confused: one is at most 32 characters long, the other 43.
   */
  anchor?: string | Uint8Array;
  tags?: Tag[];
  /** Bytes, or text taken as UTF-8. */
  data: Uint8Array | string;
}

export interface Ed25519Signer {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

export function ed25519Signer(privateKey: KeyObject): Ed25519Signer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new DataItemError(`an ed25519 private key is needed, got a ${privateKey.type} ${privateKey.asymmetricKeyType ?? ''} key`);
  }
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  return { publicKey: fromB64url(x!), privateKey };
}

function targetBytes(target: string | undefined): Uint8Array | undefined {
  if (target === undefined) return undefined;
  // 43 b64url characters carry 2 spare bits; refusing non-canonical spellings keeps one
  // target string per target.
  if (!isId(target) || b64url(fromB64url(target)) !== target) throw new DataItemError(`target must be a 43-character base64url ID, got ${JSON.stringify(target)}`);
  return fromB64url(target);
}

function anchorBytes(anchor: string | Uint8Array | undefined): Uint8Array | undefined {
  if (anchor === undefined) return undefined;
  if (anchor instanceof Uint8Array) {
    if (anchor.length !== 32) throw new DataItemError(`anchor must be 32 bytes, got ${anchor.length}`);
    return anchor;
  }
  const text = utf8(anchor);
  if (text.length === 32) return text;
  if (isId(anchor) && b64url(fromB64url(anchor)) === anchor) return fromB64url(anchor);
  throw new DataItemError(`anchor must be 32 UTF-8 bytes or a 43-character base64url encoding of 32 bytes, got ${JSON.stringify(anchor)}`);
}

// Stricter than parsing (which accepts anything arbundles accepts): arbundles' verifier
// refuses tag blocks over 4096 bytes, and a tag without a name is a bug. ANS-104 also asks
// for non-empty values, but arbundles, HyperBEAM and gateways all accept empty ones and they
// serve as flags, so those pass.
function checkedTagBytes(tags: readonly Tag[]): Uint8Array {
  if (!Array.isArray(tags)) throw new DataItemError('tags must be an array of {name, value}');
  if (tags.length > MAX_TAGS) throw new DataItemError(`too many tags: ${tags.length} (at most ${MAX_TAGS})`);
  tags.forEach((tag, i) => {
    if (typeof tag?.name !== 'string' || typeof tag?.value !== 'string') throw new DataItemError(`tag ${i} must be {name: string, value: string}`);
    if (tag.name.length === 0) throw new DataItemError(`tag ${i} name is empty`);
    const nameBytes = Buffer.byteLength(tag.name);
    const valueBytes = Buffer.byteLength(tag.value);
    if (nameBytes > MAX_TAG_NAME_BYTES) throw new DataItemError(`tag ${i} name is ${nameBytes} bytes (at most ${MAX_TAG_NAME_BYTES})`);
    if (valueBytes > MAX_TAG_VALUE_BYTES) throw new DataItemError(`tag ${i} value (${tag.name}) is ${valueBytes} bytes (at most ${MAX_TAG_VALUE_BYTES})`);
  });
  const bytes = encodeTags(tags);
  if (bytes.length > MAX_CREATED_TAG_BYTES) throw new DataItemError(`tags encode to ${bytes.length} bytes (at most ${MAX_CREATED_TAG_BYTES})`);
  return bytes;
}

interface Unsigned {
  raw: Uint8Array;
  message: Uint8Array;
}

/** The item's bytes with a zero signature, and the message to sign, laid out as arbundles' createData does. */
function unsignedItem(type: SignatureType, owner: Uint8Array, fields: DataItemFields): Unsigned {
  const { signatureLength, ownerLength } = SIGNATURE_TYPES[type];
  if (owner.length !== ownerLength) throw new DataItemError(`owner must be ${ownerLength} bytes for signature type ${type}, got ${owner.length}`);
  const target = targetBytes(fields.target);
  const anchor = anchorBytes(fields.anchor);
  const tags = fields.tags ?? [];
  const tagBytes = checkedTagBytes(tags);
  const data = typeof fields.data === 'string' ? utf8(fields.data) : fields.data;
  if (!(data instanceof Uint8Array)) throw new DataItemError('data must be bytes or a string');

  const length = 2 + signatureLength + ownerLength + (target ? 33 : 1) + (anchor ? 33 : 1) + 16 + tagBytes.length + data.length;
  const raw = new Uint8Array(length);
  raw[0] = type; // the type's high byte stays 0
  let at = 2 + signatureLength;
  raw.set(owner, at);
  at += ownerLength;
  for (const field of [target, anchor]) {
    raw[at++] = field ? 1 : 0;
    if (field) {
      raw.set(field, at);
      at += 32;
    }
  }
  writeU64(raw, at, tags.length);
  writeU64(raw, at + 8, tagBytes.length);
  raw.set(tagBytes, at + 16);
  raw.set(data, at + 16 + tagBytes.length);
  return { raw, message: signatureMessage(type, owner, target, anchor, tagBytes, data) };
}

function signed(unsigned: Unsigned, signature: Uint8Array): DataItem {
  unsigned.raw.set(signature, 2);
  return parseDataItem(unsigned.raw);
}

/** Builds and signs an ed25519 (type 2) item; synchronous. */
export function createDataItem(signer: Ed25519Signer, fields: DataItemFields): DataItem {
  const unsigned = unsignedItem(2, signer.publicKey, fields);
  return signed(unsigned, sign(null, unsigned.message, signer.privateKey));
}

/**
 * Builds and signs an Arweave RSA (type 1) item with a JWK wallet, signing through arbundles'
 * ArweaveSigner (loaded on first use: this is the rare CLI path, not the node's). The result
 * is checked with this module's own parser and verifier before it is returned.
 */
export async function createRsaDataItem(jwk: JWKInterface, fields: DataItemFields): Promise<DataItem> {
  const { ArweaveSigner } = await import('arbundles');
  const signer = new ArweaveSigner(jwk);
  const unsigned = unsignedItem(1, fromB64url(jwk.n), fields);
  const item = signed(unsigned, new Uint8Array(await signer.sign(unsigned.message)));
  if (!verifyDataItem(item)) throw new DataItemError('the RSA signature made with this wallet does not verify');
  return item;
}
