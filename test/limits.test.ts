// Hostile modules: each is refused or stopped with a clear error, in bounded time, and the
// engine keeps working for everyone else.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { statusOf } from '../gateway/errors.ts';
import wabtInit from 'wabt';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { checkLimits, DEFAULT_LIMITS } from '../engine/wasm/limits.ts';
import { inspect } from '../engine/wasm/binary.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { instrument, closeMeter } from '../engine/wasm/meter/index.ts';

const test = suite('limits');
const ID = 'H'.repeat(43);
let wabt: Awaited<ReturnType<typeof wabtInit>>;

const wat = (text: string): Uint8Array => {
  const module = wabt.parseWat('hostile.wat', text, { bulk_memory: true });
  return new Uint8Array(module.toBinary({}).buffer);
};

async function refused(promise: Promise<unknown> | (() => unknown), status: number, message: RegExp) {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    assert.instance(error, HyperError, String(error));
    assert.is(statusOf(error), status, (error as Error).message);
    assert.match((error as Error).message, message);
    return;
  }
  assert.unreachable(`expected a ${status}`);
}

test.before(async () => {
  wabt = await wabtInit();
});

test.after(async () => {
  await closeMeter();
});

test('an infinite loop runs out of gas, deterministically, at the same count every time', async () => {
  const loaded = await compileModule(ID, await instrument(wat('(module (func (export "spin") (loop $l (br $l))))')));
  for (let i = 0; i < 2; i++) {
    try {
      callFunction(loaded, 'spin', [], 1_000_000);
      assert.unreachable('the loop must stop');
    } catch (error) {
      assert.ok(error instanceof HyperError && error.code === 'out-of-gas', String(error));
      assert.match((error as Error).message, /spin ran out of gas: its budget of 1000000 was used up/);
      assert.is((error as HyperError).kind, 'out-of-gas');
    }
  }
  const fine = await compileModule(ID, await instrument(wat('(module (func (export "one") (result i32) (i32.const 1)))')));
  const a = callFunction(fine, 'one', [], 1000);
  const b = callFunction(fine, 'one', [], 1000);
  assert.ok(a.gas > 0);
  assert.is(a.gas, b.gas);
});

test('unbounded recursion: the stack overflow is trapped and reported', async () => {
  const loaded = await compileModule(ID, wat('(module (func $f (export "f") (result i32) (call $f)))'));
  await refused(() => callFunction(loaded, 'f', []), 422, /f trapped: stack overflow/);
});

test('a memory bomb at instantiation is refused at load, naming the limit', async () => {
  await refused(compileModule(ID, wat('(module (memory 5000) (func (export "f")))')), 422, /asks for 5000 pages \(312\.5 MiB\) of initial memory; this node allows at most 4096 pages \(256 MiB\)/);
});

test('a memory bomb by growth fails inside the module at the cap', async () => {
  const loaded = await compileModule(ID, wat(`(module (memory 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size)))`));
  assert.is(callFunction(loaded, 'grow', [5000]).value, -1, 'growing past 4096 pages fails');
  assert.is(callFunction(loaded, 'grow', [100]).value, 1, 'growing within the cap works');
});

test('huge tables and data segments are refused', async () => {
  await refused(compileModule(ID, wat('(module (table 200000 funcref) (func (export "f")))')), 422, /table of 200000 elements; this node allows at most 100000/);
  const info = inspect(wat('(module (memory 1) (data (i32.const 0) "0123456789"))'));
  assert.is(info.dataBytes, 10);
  assert.throws(() => checkLimits(ID, info, { ...DEFAULT_LIMITS, dataBytes: 8 }), /data segments; this node allows at most/);
});

test('a memory64 module is refused for the hyperwasm ABI, saying what to do instead', () => {
  // (module (memory i64 1)): the memory section's limits flag 0x04
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 1]);
  assert.throws(() => checkLimits(ID, inspect(bytes)), /memory64 memory; hyperwasm's ABI .* is 32-bit/);
});

test('a module over the size limit is refused', async () => {
  const big = new Uint8Array(DEFAULT_LIMITS.moduleBytes + 100);
  big.set(wat('(module)'));
  big.set([0, 0xe4, 0xff, 0xff, 0x07], 8); // one custom section spanning the rest (its size is approximate; the size check comes first)
  await refused(compileModule(ID, big), 422, /is 16\.0 MiB; this node accepts modules up to 16 MiB/);
});

test('a trap in the start function is reported as such', async () => {
  const loaded = await compileModule(ID, wat('(module (func $s unreachable) (start $s) (func (export "f")))'));
  await refused(() => callFunction(loaded, 'f', []), 422, /the start function of module H+ trapped: unreachable/);
});

test('malformed and truncated binaries are refused', async () => {
  const good = wat('(module (func (export "f") (result i32) (i32.const 1)))');
  await refused(compileModule(ID, good.subarray(0, good.length - 4)), 422, /malformed|does not compile/);
  const garbled = good.slice();
  garbled[garbled.length - 3] = 0xff;
  await refused(compileModule(ID, garbled), 422, /malformed|does not compile/);
  await refused(compileModule(ID, new Uint8Array([0, 97, 115, 109, 2, 0, 0, 0])), 422, /unsupported WebAssembly binary version/);
});

test('imports that are not granted are refused at load, naming each', async () => {
  await refused(compileModule(ID, wat('(module (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32))) (import "env" "seed" (func (result f64))))')), 422, /wasi_snapshot_preview1\.clock_time_get \(function\), env\.seed \(function\)/);
});

test.run();
