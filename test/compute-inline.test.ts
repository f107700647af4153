// Stateless calls under the wall-clock guard are tried on the calling thread first, on a gas
// budget far below the guard (engine/compute.ts `guarded`): a call that fits runs without the
// worker's round trip, anything else runs again in the worker under its full limit. Either way
// every answer is the bytes a call on the calling thread under the full limit gives, and every
// error is the one it gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { openStore } from '../engine/store.ts';
import { Modules } from '../engine/modules.ts';
import { planCompute, StatelessCompute } from '../engine/compute.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { inlineGasFor, Sandbox } from '../engine/wasm/sandbox/index.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
const ID = 'M'.repeat(43);
// (func (export "count") (param $n i32) (result i32) (local $i i32): counts to n in a loop)
// (func (export "div") (param i32 i32) (result i32): i32.div_s)
const MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 12, 2, 96, 1, 127, 1, 127, 96, 2, 127, 127, 1, 127, 3, 3, 2, 0, 1, 7, 15, 2, 5, 99, 111, 117, 110, 116, 0, 0, 3, 100, 105, 118, 0, 1, 10, 39, 2, 29, 1, 1, 127, 2, 64, 3, 64, 32, 1, 32, 0, 78, 13, 1, 32, 1, 65, 1, 106, 33, 1, 12, 0, 11, 0, 11, 32, 1, 11, 7, 0, 32, 0, 32, 1, 109, 11]);
// A start function sets a global to 7; `seven` returns it. A start function runs at every
// instantiation on its own budget, so such a module's calls always go to the worker.
const STARTED = 'S'.repeat(43);
const STARTED_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 2, 96, 0, 0, 96, 0, 1, 127, 3, 3, 2, 0, 1, 6, 6, 1, 127, 1, 65, 0, 11, 7, 9, 1, 5, 115, 101, 118, 101, 110, 0, 1, 8, 1, 0, 10, 13, 2, 6, 0, 65, 7, 36, 0, 11, 4, 0, 35, 0, 11]);
const offline = { fetchVerified: () => Promise.reject(new Error('offline')) };
const TEXT = new TextDecoder();

async function computeIn(name: string, sandbox?: Sandbox) {
  const store = openStore(join(dir.path, name));
  await store.modules.put(ID, MODULE);
  await store.modules.put(STARTED, STARTED_MODULE);
  return { store, compute: new StatelessCompute(store, new Modules(store, offline), undefined, sandbox) };
}

/** The record's bytes, or the error's parts: what a client would see. */
async function outcome(compute: StatelessCompute, request: Record<string, string>, module = ID): Promise<string> {
  try {
    const answer = await compute.run(planCompute(module, request));
    return `${answer.cache} ${TEXT.decode(answer.body)}`;
  } catch (error) {
    assert.instance(error, HyperError);
    const { kind, code, message, fields: details } = error as HyperError;
    return JSON.stringify({ kind, code, message, details });
  }
}

test('the budget tried on the calling thread is a small part of the guard', () => {
  assert.is(inlineGasFor(10_000), 1_000_000);
  assert.is(inlineGasFor(300), 30_000);
  assert.is(inlineGasFor(0), 0);
});

test('calls within the budget skip the worker, the rest run in it, and every answer and error is the same bytes', async () => {
  const sandbox = new Sandbox();
  const reference = await computeIn('reference');
  const guarded = await computeIn('guarded', sandbox);
  const worker = () => (sandbox as unknown as { line: { running: boolean } }).line.running;
  try {
    const small: Record<string, string>[] = [
      { 'wasm-function': 'count', 'wasm-params': '[1000]' },
      { 'wasm-function': 'count', 'wasm-params': '[0]' },
      { 'wasm-function': 'div', 'wasm-params': '[84, 2]' },
      { 'wasm-function': 'count', 'wasm-params': '[50000]', 'gas-limit': '9000000' },
    ];
    for (const request of small) {
      const expected = await outcome(reference.compute, request);
      assert.ok(expected.startsWith('miss {'), expected);
      assert.is(await outcome(guarded.compute, request), expected, JSON.stringify(request));
    }
    assert.is(worker(), false, 'no call so far needed the worker');

    // Past the budget (a few gas per turn of the loop), on a small gas limit, a trap, a missing function.
    const rest: Record<string, string>[] = [
      { 'wasm-function': 'count', 'wasm-params': '[2000000]' },
      { 'wasm-function': 'count', 'wasm-params': '[1000]', 'gas-limit': '100' },
      { 'wasm-function': 'div', 'wasm-params': '[1, 0]' },
      { 'wasm-function': 'nothing', 'wasm-params': '[]' },
    ];
    for (const request of rest) {
      assert.is(await outcome(guarded.compute, request), await outcome(reference.compute, request), JSON.stringify(request));
    }
    assert.is(worker(), true, 'the long call ran in the worker');
    // A repeated call is a hit either way.
    const again = small[0]!;
    assert.is(await outcome(guarded.compute, again), await outcome(reference.compute, again));
  } finally {
    await sandbox.close();
    await reference.store.close();
    await guarded.store.close();
  }
});

test('a module with a start function runs in the worker, with the same answer', async () => {
  const sandbox = new Sandbox();
  const reference = await computeIn('reference-start');
  const guarded = await computeIn('guarded-start', sandbox);
  const worker = () => (sandbox as unknown as { line: { running: boolean } }).line.running;
  try {
    const request = { 'wasm-function': 'seven', 'wasm-params': '[]' };
    const expected = await outcome(reference.compute, request, STARTED);
    assert.match(expected, /"result":7,/);
    assert.is(await outcome(guarded.compute, request, STARTED), expected);
    assert.is(worker(), true);
  } finally {
    await sandbox.close();
    await reference.store.close();
    await guarded.store.close();
  }
});

test.after(() => dir.remove());
test.run();
