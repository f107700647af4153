// The explorer's in-browser check of one attested answer (docs/PROTOCOL.md §5, §10, §14), so a
// person can check an answer without trusting the node that serves the page: everything is
// recomputed here from the pasted JSON and the attestation item's own bytes. The node's own
// verifier sits on node:crypto and Buffer (engine/protocol/hash.ts, merkle.ts, ans104/), which a
// browser lacks; this is the same arithmetic on @noble/hashes and @noble/curves, and
// test/explorer.test.ts checks that both agree on the same inputs. Only the modules that are
// already browser-safe (canonical JSON, the Avro tag decoder) are imported rather than ported.
//
// Where the item's bytes come from does not matter: they must hash to the answer's attestation
// ID (sha256 of the signature), and the signature must verify for an owner whose address is the
// statement's node, so whoever hands them over cannot change a thing without the node's key.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { canonicalJson } from '../../engine/protocol/encoding.ts';
import { decodeTags } from '../../engine/protocol/ans104/avro-tags.ts';

// ---------------------------------------------------------------------------------------
// Bytes

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]));
const ENCODER = new TextEncoder();
const utf8 = (text: string) => ENCODER.encode(text);

/** Unpadded base64url (RFC 4648 §5), as every byte field of the protocol is written. */
export function b64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let c = 0; c < chars; c++) out += ALPHABET[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

/** The bytes of unpadded base64url; throws on any character outside the alphabet (as the node does). */
export function fromB64url(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 === 1) throw new Error(`not base64url: ${JSON.stringify(String(text).slice(0, 64))}`);
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (const c of text) {
    const v = VALUE.get(c);
    if (v === undefined) throw new Error(`not base64url: ${JSON.stringify(text.slice(0, 64))}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};
const sha256b64 = (...parts: Uint8Array[]) => b64url(sha256(concat(...parts)));

// ---------------------------------------------------------------------------------------
// Merkle proofs (§14)

/** leaf(s) = sha256(0x00 || utf8(canonicalJson(s))). */
export const leafOf = (statement: unknown): Uint8Array => sha256(concat(new Uint8Array([0]), utf8(canonicalJson(statement))));
const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(concat(new Uint8Array([1]), left, right));

/** The root a leaf's proof leads to, or '' when the proof has entries left over (engine/protocol/merkle.ts rootFromProof). */
export function rootFromProof(leaf: Uint8Array, index: number, count: number, proof: string[]): string {
  let hash = leaf;
  let i = index;
  let width = count;
  let p = 0;
  while (width > 1) {
    if ((i ^ 1) < width) {
      const other = fromB64url(proof[p++] ?? '');
      hash = i & 1 ? nodeHash(other, hash) : nodeHash(hash, other);
    }
    i >>= 1;
    width = Math.ceil(width / 2);
  }
  return p === proof.length ? b64url(hash) : '';
}

// ---------------------------------------------------------------------------------------
// ANS-104 items (§10), ed25519 only: attestations are signed by a node's ed25519 key

type Chunk = Uint8Array | Chunk[];

/** Arweave's deep hash (engine/protocol/ans104/deep-hash.ts), on SHA-384. */
export function deepHash(data: Chunk): Uint8Array {
  if (Array.isArray(data)) {
    let acc = sha384(utf8(`list${data.length}`));
    for (const item of data) acc = sha384(concat(acc, deepHash(item)));
    return acc;
  }
  return sha384(concat(sha384(utf8(`blob${data.length}`)), sha384(data)));
}

export interface Item {
  id: string;
  signatureType: number;
  signature: Uint8Array;
  owner: Uint8Array;
  ownerAddress: string;
  tags: { name: string; value: string }[];
  data: Uint8Array;
  /** The bytes the signature is over: the deep hash of the item's fields. */
  message: Uint8Array;
}

function u64(raw: Uint8Array, at: number): number {
  if (at + 8 > raw.length) throw new Error(`truncated at offset ${at}`);
  const view = new DataView(raw.buffer, raw.byteOffset + at, 8);
  const high = view.getUint32(4, true);
  if (high > 0x1fffff) throw new Error('a length over 2^53');
  return high * 0x1_0000_0000 + view.getUint32(0, true);
}

/** Reads an ed25519 (type 2) item: the layout of engine/protocol/ans104/data-item.ts. */
export function parseItem(raw: Uint8Array): Item {
  if (raw.length < 2) throw new Error('truncated at the signature type');
  const type = raw[0]! | (raw[1]! << 8);
  if (type !== 2) throw new Error(`signature type ${type}: an attestation is signed with ed25519 (type 2)`);
  const need = (at: number, n: number, what: string) => {
    if (at + n > raw.length) throw new Error(`truncated at the ${what}`);
  };
  need(2, 96, 'signature and owner');
  const signature = raw.subarray(2, 66);
  const owner = raw.subarray(66, 98);
  let at = 98;
  const optional = (what: string): Uint8Array => {
    need(at, 1, `${what} presence byte`);
    const presence = raw[at]!;
    if (presence === 0) return ((at += 1), new Uint8Array(0));
    if (presence !== 1) throw new Error(`${what} presence byte is ${presence} (must be 0 or 1)`);
    need(at + 1, 32, what);
    const value = raw.subarray(at + 1, at + 33);
    at += 33;
    return value;
  };
  const target = optional('target');
  const anchor = optional('anchor');
  const tagCount = u64(raw, at);
  const tagLength = u64(raw, at + 8);
  at += 16;
  need(at, tagLength, 'tags');
  const tagBytes = raw.subarray(at, at + tagLength);
  const tags = decodeTags(tagBytes);
  if (tags.length !== tagCount) throw new Error(`tag count ${tagCount} but ${tags.length} decoded`);
  const data = raw.subarray(at + tagLength);
  const message = deepHash([utf8('dataitem'), utf8('1'), utf8('2'), owner, target, anchor, tagBytes, data]);
  return { id: sha256b64(signature), signatureType: type, signature, owner, ownerAddress: sha256b64(owner), tags, data, message };
}

/** Whether the item's ed25519 signature verifies for its owner. */
export function signatureVerifies(item: Item): boolean {
  try {
    return ed25519.verify(item.signature, item.message, item.owner);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// One answer, check by check

export type CheckName = 'statement' | 'result-hash' | 'merkle-proof' | 'signature';

export interface Check {
  name: CheckName;
  /** true: passed; false: failed; null: could not be made (nothing to check it against). */
  ok: boolean | null;
  detail: string;
}

interface Attestation {
  id: string;
  root: string;
  index: number;
  count: number;
  proof: string[];
  statement: Record<string, unknown>;
}

/** What was pasted: an answer (a record with its attestation), or an attestation alone, each perhaps with its item's bytes. */
export interface Pasted {
  attestation: Attestation;
  /** The record answered, when an answer was pasted. */
  answer?: Record<string, unknown>;
  /** The attestation item's bytes (unpadded base64url), when they were pasted too. */
  item?: string;
}

/** Finds the attestation in pasted JSON; throws saying what is missing. */
export function readPasted(text: string): Pasted {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('paste a JSON object: an answer with its "attestation", or an attestation');
  const object = value as Record<string, unknown>;
  const item = typeof object['attestation-item'] === 'string' ? (object['attestation-item'] as string) : undefined;
  if (isAttestation(object.attestation)) return { attestation: object.attestation, answer: object, item };
  if (isAttestation(object)) return { attestation: object, item };
  throw new Error('no attestation found: expected {id, root, index, count, proof, statement}, alone or as an answer\'s "attestation"');
}

function isAttestation(value: unknown): value is Attestation {
  const a = value as Attestation;
  return typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.root === 'string' && Number.isSafeInteger(a.index) && Number.isSafeInteger(a.count)
    && Array.isArray(a.proof) && typeof a.statement === 'object' && a.statement !== null;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Every check of one pasted answer. `itemBytes` is the attestation item (from the paste, or
 * fetched by its ID from anywhere: it is checked against the ID); undefined when none was found.
 */
export function checkPasted(pasted: Pasted, itemBytes: Uint8Array | undefined): Check[] {
  const { attestation, answer } = pasted;
  const statement = attestation.statement;
  const guarded = (name: CheckName, run: () => Check): Check => {
    try {
      return run();
    } catch (error) {
      return fail(name, `cannot be checked: ${(error as Error).message}`);
    }
  };
  return [
    guarded('statement', () => statementCheck(statement, answer)),
    guarded('result-hash', () => resultCheck(statement, answer)),
    guarded('merkle-proof', () => proofCheck(attestation)),
    guarded('signature', () => signatureCheck(attestation, itemBytes)),
  ];
}

const pass = (name: CheckName, detail: string): Check => ({ name, ok: true, detail });
const fail = (name: CheckName, detail: string): Check => ({ name, ok: false, detail });

/** The statement says what the answer says, and its hashpath names its module and request (§4, §5). */
function statementCheck(s: Record<string, unknown>, answer: Record<string, unknown> | undefined): Check {
  const name = 'statement';
  if (!ID.test(String(s.node))) return fail(name, 'the statement names no node address');
  if (typeof s.engine !== 'string') return fail(name, 'the statement names no engine');
  const differs = (fields: string[]) => fields.find((f) => answer && canonicalJson(answer[f] ?? null) !== canonicalJson(s[f] ?? null));
  if (s.kind === 'compute') {
    const request = s.request as Record<string, unknown>;
    if (typeof request !== 'object' || request === null) return fail(name, 'a compute statement without its request');
    const expected = `${s.module}/${sha256b64(utf8(canonicalJson(request)))}`;
    if (s.hashpath !== expected) return fail(name, `its hashpath ${s.hashpath} is not module/ID(request) = ${expected}`);
    if (answer) {
      const field = differs(['module', 'hashpath', 'result-hash', 'gas']);
      if (field) return fail(name, `the answer's ${field} (${canonicalJson(answer[field] ?? null)}) is not the statement's (${canonicalJson(s[field] ?? null)})`);
      const asked = { path: 'compute', 'wasm-function': answer.function, 'wasm-params': answer.params };
      if (canonicalJson(asked) !== canonicalJson(request)) return fail(name, `the answer's function and params are not the statement's request ${canonicalJson(request)}`);
      if (answer.kernels !== undefined && canonicalJson(answer.kernels) !== canonicalJson(s.kernels ?? null)) return fail(name, 'the answer\'s kernels are not the statement\'s');
    }
    return pass(name, `compute ${request['wasm-function']}(${canonicalJson(request['wasm-params'] ?? [])}) by ${s.node}; hashpath = module/ID(request)`);
  }
  if (s.kind === 'process') {
    if (answer) {
      const field = differs(['process', 'module', 'slot', 'message', 'assignment', 'hashpath', 'result-hash', 'state-hash', 'gas']);
      if (field) return fail(name, `the answer's ${field} (${canonicalJson(answer[field] ?? null)}) is not the statement's (${canonicalJson(s[field] ?? null)})`);
    }
    return pass(name, `process ${s.process} slot ${s.slot} by ${s.node}`);
  }
  if (s.kind === 'receipt') return pass(name, `receipt: ${s.payer} paid ${s.amount} for ${s.hashpath}`);
  return fail(name, `unknown statement kind ${JSON.stringify(s.kind)}`);
}

/** sha256(result-bytes) is the result hash, and `result` shows those bytes (§5). */
function resultCheck(s: Record<string, unknown>, answer: Record<string, unknown> | undefined): Check {
  const name = 'result-hash';
  if (!answer) return { name, ok: null, detail: 'an attestation alone: no result to hash (paste the whole answer)' };
  let bytes: Uint8Array;
  try {
    bytes = fromB64url(String(answer['result-bytes']));
  } catch {
    return fail(name, 'the answer has no readable result-bytes');
  }
  const hash = sha256b64(bytes);
  if (hash !== answer['result-hash']) return fail(name, `sha256(result-bytes) = ${hash}, the answer says ${answer['result-hash']}`);
  if (hash !== s['result-hash']) return fail(name, `sha256(result-bytes) = ${hash}, the statement attests ${s['result-hash']}`);
  if ('result' in answer) {
    const shown = shows(answer.result, answer['result-encoding'], bytes);
    if (shown) return fail(name, shown);
  }
  return pass(name, `sha256(result-bytes) = ${hash}, as attested`);
}

/** Why `result` is not what the result bytes say, if it is not. */
function shows(result: unknown, encoding: unknown, bytes: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(bytes);
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 'result-encoding says json, but the result bytes are not JSON';
    }
    return canonicalJson(parsed) === canonicalJson(result) ? undefined : `the answer's result ${canonicalJson(result)} is not what its hashed bytes say (${text.slice(0, 200)})`;
  }
  if (encoding === 'text') return result === text ? undefined : 'the answer\'s result is not the text of its hashed bytes';
  if (encoding === 'base64url') return result === b64url(bytes) ? undefined : 'the answer\'s result is not the base64url of its hashed bytes';
  return undefined;
}

function proofCheck(a: Attestation): Check {
  const name = 'merkle-proof';
  if (!(a.index >= 0 && a.index < a.count)) return fail(name, `index ${a.index} is not below count ${a.count}`);
  let root: string;
  try {
    root = rootFromProof(leafOf(a.statement), a.index, a.count, a.proof);
  } catch (error) {
    return fail(name, `the proof does not read: ${(error as Error).message}`);
  }
  if (root !== a.root) return fail(name, root === '' ? 'the proof has entries left over' : `the proof leads to ${root}, not to the root ${a.root}`);
  return pass(name, `leaf ${a.index} of ${a.count} leads to the root ${a.root}`);
}

function signatureCheck(a: Attestation, raw: Uint8Array | undefined): Check {
  const name = 'signature';
  if (!raw) return { name, ok: null, detail: `the attestation item ${a.id} was not found (it is on Arweave once published; paste it as "attestation-item")` };
  let item: Item;
  try {
    item = parseItem(raw);
  } catch (error) {
    return fail(name, `the attestation item does not parse: ${(error as Error).message}`);
  }
  if (item.id !== a.id) return fail(name, `the item's ID (sha256 of its signature) is ${item.id}, not the attestation's ${a.id}`);
  if (!signatureVerifies(item)) return fail(name, `the ed25519 signature of ${item.id} does not verify for its owner`);
  const tag = (n: string) => item.tags.find((t) => t.name === n)?.value;
  if (item.ownerAddress !== a.statement.node) return fail(name, `signed by ${item.ownerAddress}, but the statement names node ${a.statement.node}`);
  if (tag('Type') !== 'Attestation') return fail(name, `the item is a ${tag('Type') ?? 'untyped item'}, not an Attestation`);
  if (tag('Node') !== item.ownerAddress) return fail(name, `its Node tag ${tag('Node')} is not its signer ${item.ownerAddress}`);
  if (tag('Merkle-Root') !== a.root) return fail(name, `its Merkle-Root tag ${tag('Merkle-Root')} is not the answer's root ${a.root}`);
  if (tag('Leaves') !== String(a.count)) return fail(name, `its Leaves tag ${tag('Leaves')} is not the answer's count ${a.count}`);
  return pass(name, `${item.id} is signed by ${item.ownerAddress} (ed25519), over root ${a.root} of ${a.count} leaves`);
}
