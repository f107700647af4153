// The protocol's pure functions pinned byte for byte: canonical JSON, SHA-256, base64url IDs,
// message IDs and hashpaths. Milliseconds: nothing here builds or runs a module.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { b64url, canonicalJson, fromB64url, isId } from '../engine/protocol/encoding.ts';
import { messageId } from '../engine/protocol/message.ts';
import { hashpath, requestId } from '../engine/protocol/hashpath.ts';
import { sha256 } from '../engine/protocol/hash.ts';
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

test.run();
