// Assignments: the scheduler's signed statement that a message holds a slot of a process.
// An assignment is an ANS-104 data item signed by the scheduling node, target = the process,
// with these tags (docs/PROTOCOL.md, "Assignments").
//
// The scheduler signs one per message and the fold reads one per slot, so both directions have
// a fast path here beside the generic codec (engine/protocol/ans104/data-item.ts): the item is
// always the same shape (ed25519, a target, no anchor, ASCII tags, no data), and writing or
// reading that shape directly skips the generic tag encoder, the re-parse and the DataItem
// object. The bytes and the SignedAssignment are identical to the generic path's (the tests
// compare them); anything not of that shape goes through the generic path.
import { hash as oneShotHash } from 'node:crypto';
import { badRequest } from './errors.ts';
import { parseDataItem, type DataItem } from './ans104/data-item.ts';
import { deepHashFold, deepHashListStart } from './ans104/deep-hash.ts';
import { MAX_TAG_NAME_BYTES, MAX_TAG_VALUE_BYTES, MAX_TAGS } from './ans104/avro-tags.ts';
import { b64url, utf8 } from './encoding.ts';
import { assignmentTags, tagValue } from './vocabulary.ts';

export interface Assignment {
  process: string;
  slot: number;
  message: string;
  'hash-chain': string;
  timestamp: number;
  'block-height': number;
}

export interface SignedAssignment extends Assignment {
  /** The assignment item's own ID. */
  id: string;
  /** Address of the node that signed it. */
  signer: string;
  raw: Uint8Array;
}

/** Reads an assignment item's fields (its signature is checked by whoever parsed it). */
export function readAssignment(item: DataItem): SignedAssignment {
  const tag = (name: string) => {
    const value = tagValue(item.tags, name);
    if (value === undefined) throw badRequest(`assignment ${item.id} has no ${name} tag`);
    return value;
  };
  if (tag('Type') !== 'Assignment') throw badRequest(`item ${item.id} is not an assignment`);
  return {
    process: tag('Process'),
    slot: Number(tag('Slot')),
    message: tag('Message'),
    'hash-chain': tag('Hash-Chain'),
    timestamp: Number(tag('Timestamp')),
    'block-height': Number(tag('Block-Height')),
    id: item.id,
    signer: item.ownerAddress,
    raw: item.raw,
  };
}

// ---------------------------------------------------------------------------------------
// Fast reading from the stored bytes

// The layout of an ed25519 item with a target and no anchor (data-item.ts's header comment).
const EMPTY = new Uint8Array(0);
const SIGNATURE_AT = 2;
const OWNER_AT = 66;
const TARGET_PRESENCE_AT = 98;
const ANCHOR_PRESENCE_AT = 131;
const TAG_HEADER_AT = 132;
const TAGS_AT = 148;

const sha256b64 = (bytes: Uint8Array): string => oneShotHash('sha256', bytes, 'base64url');

// The owner of nearly every assignment a node reads is the node itself: remember the last
// owner's address rather than hashing 32 bytes per read.
let lastOwner = new Uint8Array(32);
let lastOwnerAddress = sha256b64(lastOwner);
function addressOf(owner: Uint8Array): string {
  for (let i = 0; i < 32; i++) {
    if (owner[i] !== lastOwner[i]) {
      lastOwner = owner.slice();
      lastOwnerAddress = sha256b64(lastOwner);
      break;
    }
  }
  return lastOwnerAddress;
}

/** A small little-endian u64 of the tag header; -1 where it is not below 2^32 (then the generic path decides). */
function smallU64(raw: Uint8Array, at: number): number {
  if ((raw[at + 4]! | raw[at + 5]! | raw[at + 6]! | raw[at + 7]!) !== 0) return -1;
  return (raw[at]! | (raw[at + 1]! << 8) | (raw[at + 2]! << 16)) + raw[at + 3]! * 0x100_0000;
}

/** One Avro varint below 2^21 (three bytes), zig-zag decoded; -1 for anything else. */
function smallVarint(raw: Uint8Array, at: number, end: number, out: { at: number }): number {
  let value = 0;
  for (let shift = 0; shift < 21; shift += 7) {
    if (at >= end) return -1;
    const byte = raw[at++]!;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      out.at = at;
      return value & 1 ? -1 : value >>> 1; // a negative length or count is not the fast shape
    }
  }
  return -1;
}

// The tags an assignment is read from, by name bytes; a name of any other length is skipped
// without decoding. The slots follow the order readAssignment reads them in.
const FIELD_NAMES = ['Type', 'Process', 'Slot', 'Message', 'Hash-Chain', 'Timestamp', 'Block-Height'];
const FIELD_BYTES = FIELD_NAMES.map((name) => utf8(name));

/** Whether `length` bytes at `at` are ASCII (strict UTF-8 then reads them as latin1 does). */
function isAscii(raw: Uint8Array, at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) if (raw[i]! > 0x7f) return false;
  return true;
}

function fieldOf(raw: Uint8Array, at: number, length: number): number {
  for (let f = 0; f < FIELD_BYTES.length; f++) {
    const name = FIELD_BYTES[f]!;
    if (name.length !== length) continue;
    let i = 0;
    while (i < length && raw[at + i] === name[i]) i++;
    if (i === length) return f;
  }
  return -1;
}

/**
 * The first value of each field tag (FIELD_NAMES order), or undefined where the tag block is
 * not the plain shape: one block of `count` pairs, ASCII, within ANS-104's limits, then the
 * closing zero and nothing after. Everything else is the generic decoder's to judge.
 */
function plainFields(raw: Uint8Array, at: number, end: number, count: number): (string | undefined)[] | undefined {
  const cursor = { at };
  if (smallVarint(raw, at, end, cursor) !== count) return undefined;
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const values: (string | undefined)[] = new Array(FIELD_NAMES.length);
  for (let i = 0; i < count; i++) {
    const nameLength = smallVarint(raw, cursor.at, end, cursor);
    if (nameLength < 0 || nameLength > MAX_TAG_NAME_BYTES || cursor.at + nameLength > end || !isAscii(raw, cursor.at, nameLength)) return undefined;
    const field = fieldOf(raw, cursor.at, nameLength);
    cursor.at += nameLength;
    const valueLength = smallVarint(raw, cursor.at, end, cursor);
    if (valueLength < 0 || valueLength > MAX_TAG_VALUE_BYTES || cursor.at + valueLength > end || !isAscii(raw, cursor.at, valueLength)) return undefined;
    if (field >= 0 && values[field] === undefined) values[field] = text.toString('latin1', cursor.at, cursor.at + valueLength);
    cursor.at += valueLength;
  }
  return cursor.at + 1 === end && raw[cursor.at] === 0 ? values : undefined;
}

/**
 * readAssignment(parseDataItem(raw)), the same value (or the same error), from the stored bytes
 * without the generic DataItem: what the fold calls once per slot, on any thread.
 */
export function readAssignmentBytes(raw: Uint8Array): SignedAssignment {
  fast: if (raw.length >= TAGS_AT && raw[0] === 2 && raw[1] === 0 && raw[TARGET_PRESENCE_AT] === 1 && raw[ANCHOR_PRESENCE_AT] === 0) {
    const count = smallU64(raw, TAG_HEADER_AT);
    const length = smallU64(raw, TAG_HEADER_AT + 8);
    if (count <= 0 || count > MAX_TAGS || length < 0 || TAGS_AT + length > raw.length) break fast;
    const values = plainFields(raw, TAGS_AT, TAGS_AT + length, count);
    if (!values) break fast;
    const [type, process, slot, message, chain, timestamp, height] = values;
    if (type !== 'Assignment' || process === undefined || slot === undefined || message === undefined || chain === undefined || timestamp === undefined || height === undefined) break fast;
    return {
      process,
      slot: Number(slot),
      message,
      'hash-chain': chain,
      timestamp: Number(timestamp),
      'block-height': Number(height),
      id: sha256b64(raw.subarray(SIGNATURE_AT, OWNER_AT)),
      signer: addressOf(raw.subarray(OWNER_AT, TARGET_PRESENCE_AT)),
      raw,
    };
  }
  return readAssignment(parseDataItem(raw)); // every other shape, and every error, as the generic path has it
}

// ---------------------------------------------------------------------------------------
// Fast writing

/** An assignment item laid out with a zero signature, and the deep-hash message its signature signs. */
export interface UnsignedAssignment {
  fields: Assignment;
  raw: Uint8Array;
  message: Uint8Array;
}

// The deep hash's running value after ["dataitem", "1", "2", owner, target, anchor]: the same
// for every assignment one node signs to one process, so it is kept per process (data-item.ts
// folds the same list from its start). Bounded; cleared wholesale when full or when the owner changes.
const PROCESS_PREFIX_LIMIT = 4096;
let prefixOwner: Uint8Array = EMPTY;
let ownerHash: Uint8Array = EMPTY;
const processPrefixes = new Map<string, Uint8Array>();
function prefixOf(owner: Uint8Array, process: string, target: Uint8Array): Uint8Array {
  if (owner.length !== prefixOwner.length || owner.some((byte, i) => byte !== prefixOwner[i])) {
    prefixOwner = owner.slice();
    ownerHash = deepHashFold(deepHashListStart(8), [utf8('dataitem'), utf8('1'), utf8('2'), prefixOwner]);
    processPrefixes.clear();
  }
  let prefix = processPrefixes.get(process);
  if (prefix === undefined) {
    prefix = deepHashFold(ownerHash, [target, EMPTY]);
    if (processPrefixes.size >= PROCESS_PREFIX_LIMIT) processPrefixes.clear();
    processPrefixes.set(process, prefix);
  }
  return prefix;
}

/** The Avro bytes of ASCII tags (assignment tags are IDs, digits and fixed words), as encodeTags writes them. */
function asciiTagBytes(tags: { name: string; value: string }[]): Uint8Array | undefined {
  let length = 2; // the count (below 64: one byte) and the closing zero
  for (const { name, value } of tags) {
    if (name.length > 63 || value.length > 63) return undefined; // one-byte length varints only
    length += 2 + name.length + value.length;
  }
  if (tags.length > 63) return undefined;
  const out = new Uint8Array(length);
  let at = 0;
  out[at++] = tags.length * 2;
  for (const { name, value } of tags) {
    for (const text of [name, value]) {
      out[at++] = text.length * 2;
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code > 0x7f) return undefined;
        out[at++] = code;
      }
    }
  }
  out[at] = 0;
  return out;
}

/**
 * The assignment item createDataItem(signer, { target: process, tags: assignmentTags(fields),
 * data: '' }) makes, byte for byte, before its signature: sign `message` with the owner's key
 * (here or on another thread) and pass the signature to signedAssignment. Undefined where the
 * fields are not of the plain shape (then use createDataItem).
 */
export function unsignedAssignment(owner: Uint8Array, fields: Assignment): UnsignedAssignment | undefined {
  if (owner.length !== 32) return undefined;
  const target = Buffer.from(fields.process, 'base64url');
  if (target.length !== 32 || target.toString('base64url') !== fields.process) return undefined; // createDataItem refuses it, with its message
  const tags = assignmentTags(fields);
  const tagBytes = asciiTagBytes(tags);
  if (tagBytes === undefined) return undefined;
  const raw = new Uint8Array(TAGS_AT + tagBytes.length);
  raw[0] = 2;
  raw.set(owner, OWNER_AT);
  raw[TARGET_PRESENCE_AT] = 1;
  raw.set(target, TARGET_PRESENCE_AT + 1);
  raw[TAG_HEADER_AT] = tags.length;
  raw[TAG_HEADER_AT + 8] = tagBytes.length & 0xff;
  raw[TAG_HEADER_AT + 9] = tagBytes.length >> 8;
  raw.set(tagBytes, TAGS_AT);
  const message = deepHashFold(prefixOf(owner, fields.process, target), [raw.subarray(TAGS_AT), EMPTY]);
  return { fields, raw, message };
}

/** The signed assignment: the unsigned item with its 64-byte ed25519 signature in place. */
export function signedAssignment(unsigned: UnsignedAssignment, signature: Uint8Array, signer: string): SignedAssignment {
  unsigned.raw.set(signature, SIGNATURE_AT);
  return { ...unsigned.fields, id: sha256b64(signature), signer, raw: unsigned.raw };
}

/** The JSON form an HTTP client gets. */
export function assignmentJson(a: SignedAssignment) {
  return {
    process: a.process,
    slot: a.slot,
    message: a.message,
    'hash-chain': a['hash-chain'],
    timestamp: a.timestamp,
    'block-height': a['block-height'],
    assignment: a.id,
    signer: a.signer,
    'assignment-item': b64url(a.raw),
  };
}
