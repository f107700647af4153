// The protocol's pure functions pinned byte for byte: canonical JSON, SHA-256, base64url IDs,
// message IDs, hashpaths and Merkle proofs, with the vectors docs/PROTOCOL.md §1, §4 and §14
// give. Milliseconds: nothing here builds or runs a module.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { b64url, canonicalJson, fromB64url, isId } from '../engine/protocol/encoding.ts';
import { messageId } from '../engine/protocol/message.ts';
import { hashpath, requestId } from '../engine/protocol/hashpath.ts';
import { sha256 } from '../engine/protocol/hash.ts';
import { leafHash, merkleTree, rootFromProof } from '../engine/protocol/merkle.ts';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

const test = suite('protocol');
const ID = 'A'.repeat(43);

test('canonical JSON sorts keys, drops whitespace, refuses what JSON cannot carry', () => {
  assert.is(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1.5, y: -0 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":1.5}}');
  assert.is(canonicalJson(5.0), '5');
  assert.is(canonicalJson(1e21), '1e+21');
  assert.is(canonicalJson({ é: 1, e: 2, E: 3 }), '{"E":3,"e":2,"é":1}');
  assert.throws(() => canonicalJson(NaN), /cannot encode NaN/);
  assert.throws(() => canonicalJson({ a: undefined }), /cannot encode a undefined/);
  assert.throws(() => canonicalJson(1n), /bigint/);
});

test('canonical JSON equals the plain definition (sort keys, recurse) on random values', () => {
  const reference = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
    if (value !== null && typeof value === 'object') {
      return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`).join(',')}}`;
    }
    return JSON.stringify(value);
  };
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const keys = ['a', 'b', 'B', 'é', 'kind', 'state-hash', 'z', '10', '9', ''];
  const random = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.3) return [null, true, false, 'x"\\\u0001é', -0, 1.5, 1e21, 12345][Math.floor(next() * 8)];
    if (r < 0.6) return Array.from({ length: Math.floor(next() * 4) }, () => random(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, () => [keys[Math.floor(next() * keys.length)], random(depth + 1)]));
  };
  for (let i = 0; i < 2000; i++) {
    const value = random(0);
    assert.is(canonicalJson(value), reference(value));
  }
});

test('node:crypto SHA-256 agrees with the independent @noble/hashes one', () => {
  for (const size of [0, 1, 55, 56, 64, 1000, 100_000]) {
    const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
    assert.equal(sha256(data), nobleSha256(data));
  }
  assert.equal(sha256(new Uint8Array([1, 2]), new Uint8Array([3])), nobleSha256(new Uint8Array([1, 2, 3])));
});

test('base64url IDs', () => {
  const bytes = new Uint8Array(32).map((_, i) => i * 7);
  const id = b64url(bytes);
  assert.is(id.length, 43);
  assert.ok(isId(id));
  assert.equal(fromB64url(id), bytes);
  assert.not.ok(isId('A'.repeat(42)));
  assert.not.ok(isId('A'.repeat(42) + '='));
  assert.throws(() => fromB64url('ab+c'), /not base64url/);
});

test('message IDs are SHA-256 of canonical JSON (pinned vectors)', () => {
  assert.is(messageId({}), 'RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o');
  const compute = { path: 'compute', 'wasm-function': 'fac', 'wasm-params': [5] };
  assert.is(messageId(compute), 'Wy8jgLXmwY0wUBkYB4OnhicEhXLYfIQmgLvTqARd-3c');
  assert.is(messageId({ 'wasm-params': [5.0], 'wasm-function': 'fac', path: 'compute' }), messageId(compute));
});

test("hashpaths follow HyperBEAM's sha-256-chain", () => {
  const one = new Uint8Array(32); one[31] = 1;
  const two = new Uint8Array(32); two[31] = 2;
  // sha256_chain(<<1:256>>, <<2:256>>), derived in shared/reference/hyperbeam.md §2
  assert.is(hashpath(`${b64url(one)}/${b64url(two)}`, 'x'), '1rqTKfiTLBIZKzeEn3chBNIASPdkNKMpBRLZ2BTkEW8/x');
  assert.is(hashpath(ID, { path: 'info' }), `${ID}/info`);
  assert.is(requestId({ path: 'base' }), 'base');
  const hp = hashpath(ID, { path: 'compute', k: 1 });
  assert.is(hp.length, 87);
  const next = hashpath(hp, { path: 'compute', k: 2 });
  assert.is(next.split('/').length, 2);
  assert.is.not(next.split('/')[0], ID);
  assert.throws(() => hashpath('a/b/c', 'x'), /not a hashpath/);
});

test('PROTOCOL.md §1 vectors: string escaping and numbers in canonical JSON', () => {
  // JSON.stringify's escaping: \" \\ \b \f \n \r \t, other controls as lowercase \u00xx, lone
  // surrogates as \udxxx; DEL, U+2028/U+2029 and all other characters as themselves (UTF-8).
  assert.is(canonicalJson(['\u0000\u001f\u007f\u2028', '\ud800', '\udc00x', '"\\/', '\b\f\n\r\t', 'é😀']), '["\\u0000\\u001f\u007f\u2028","\\ud800","\\udc00x","\\"\\\\/","\\b\\f\\n\\r\\t","é😀"]');
  assert.is(messageId({ s: '\ud800' }), messageId(JSON.parse('{"s":"\\ud800"}')));
  // Numbers are IEEE doubles: an integer beyond 2^53 is the nearest double, in its shortest form.
  assert.is(canonicalJson(JSON.parse('[9007199254740993, 18446744073709551616, 1e21, 1e-7, 0.1, -0, 123456789012345678901]')), '[9007199254740992,18446744073709552000,1e+21,1e-7,0.1,0,123456789012345680000]');
  assert.is(messageId({ n: 9007199254740993 }), messageId({ n: 9007199254740992 }));
});

test('PROTOCOL.md §4 vectors: <<1:256>> in hex, and a string request is its own request ID', () => {
  const one = new Uint8Array(32); one[31] = 1;
  assert.is(Buffer.from(one).toString('hex'), '0000000000000000000000000000000000000000000000000000000000000001');
  assert.is(b64url(one), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE');
  assert.is(hashpath(ID, 'x'), `${ID}/x`);
  assert.is(hashpath(ID, ID), `${ID}/${ID}`, 'HP(0) of a process');
  assert.is(hashpath(ID, 'compute'), hashpath(ID, { path: 'compute' }));
});

test('PROTOCOL.md §14 vectors: Merkle root and proofs over three leaves, the odd one carried', () => {
  const statements = ['a', 'b', 'c'].map((n) => new TextEncoder().encode(canonicalJson({ n })));
  const leaves = statements.map(leafHash);
  assert.equal(sha256(new Uint8Array([0]), statements[0]), leaves[0], 'leaf = sha256(0x00 || statement bytes)');
  const { root, proofs } = merkleTree(leaves);
  assert.is(root, 'V5Vz_VmC3q6RtZFaFRMpwFXTvOvi9o5Faw4QkS_xW1k');
  assert.equal(proofs, [
    ['068d0SusYHjUH2VSy_zOTD9G8qbAzWCjo55X9D4MkP4', '-4Jb1iAzi5SSlyadmzLDOWPz0HbamrjSUNdQp08BiDs'],
    ['_vEDvWZAGwcVXb2sgrDbKDc4mOdvNj_h_9itt3hc6Tg', '-4Jb1iAzi5SSlyadmzLDOWPz0HbamrjSUNdQp08BiDs'],
    ['ctnGddScsKl2C8_u36vMpTJnn_56_hPl0HNCkuRgT5w'], // leaf 2 has no sibling on the bottom level: it is carried up, and that level adds nothing
  ]);
  assert.is(proofs[0][0], b64url(leaves[1]));
  assert.is(proofs[0][1], b64url(leaves[2]), 'the carried leaf is the sibling one level up');
  assert.is(proofs[2][0], b64url(sha256(new Uint8Array([1]), leaves[0], leaves[1])), 'node = sha256(0x01 || left || right)');
  for (let i = 0; i < 3; i++) assert.is(rootFromProof(leaves[i], i, 3, proofs[i]), root, `leaf ${i}`);
  assert.is.not(rootFromProof(leaves[0], 1, 3, proofs[0]), root, 'index is 0-based and part of the check');
});

test.run();
