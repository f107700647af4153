// The state hash pinned: the two-level formula of docs/PROTOCOL.md §13 by its vectors, computed
// independently with @noble/hashes, and the live digest (which hashes again only the chunks a
// slot changed) equal to the formula from scratch through writes, growth and rewrites back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { b64url, utf8 } from '../engine/protocol/encoding.ts';
import { liveStateDigest, STATE_CHUNK, stateDigest } from '../engine/wasm/state-hash.ts';

const test = suite('state-hash');

/** The formula as PROTOCOL.md writes it, on another SHA-256. */
function independent(globals: string, memory: Uint8Array): string {
  const parts = [utf8(globals)];
  for (let at = 0; at < memory.length; at += STATE_CHUNK) parts.push(nobleSha256(memory.subarray(at, at + STATE_CHUNK)));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) (all.set(part, at), (at += part.length));
  return b64url(nobleSha256(all));
}

const pattern = (pages: number) => new Uint8Array(pages * 65536).map((_, i) => (i * 7) & 255);

test('vectors of PROTOCOL.md §13', () => {
  assert.is(stateDigest(utf8('[]'), new Uint8Array(65536)), '-6JmVEQ7tFf6WnzGBnEfifJvyMdn_tGfBeAJ3zehat0');
  assert.is(stateDigest(utf8('[1,"5"]'), pattern(2)), 'kuiew03qgWzAbj43mHDf_Q43C8qdrrHi9yKF2kbEwXY');
  assert.is(independent('[]', new Uint8Array(65536)), '-6JmVEQ7tFf6WnzGBnEfifJvyMdn_tGfBeAJ3zehat0');
  assert.is(independent('[1,"5"]', pattern(2)), 'kuiew03qgWzAbj43mHDf_Q43C8qdrrHi9yKF2kbEwXY');
});

test('the live digest equals the formula from scratch after every change', () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const bytes = () => new Uint8Array(memory.buffer);
  bytes().set(pattern(2));
  const globals = utf8('[1,"5"]');
  const check = (what: string) => assert.is(liveStateDigest(globals, memory), stateDigest(globals, bytes()), what);
  check('first');
  check('unchanged');
  bytes()[70_000] ^= 1;
  check('one byte in one chunk');
  bytes()[70_000] ^= 1;
  check('the byte written back');
  assert.is(liveStateDigest(globals, memory), 'kuiew03qgWzAbj43mHDf_Q43C8qdrrHi9yKF2kbEwXY');
  bytes().fill(9, 4095, 4097);
  check('a write across a chunk boundary');
  memory.grow(1);
  check('grown by a page');
  bytes()[3 * 65536 - 1] = 1;
  bytes()[0] = 0xff;
  check('the first and last byte');
  assert.is.not(liveStateDigest(utf8('[2,"5"]'), memory), liveStateDigest(globals, memory), 'globals count');
});

test.run();
