// The gpu host module seen from a WASM module: kernel imports over pointers in its memory,
// results identical to the kernels' references, gas charged by shape, bad operands trapped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import wabtInit from 'wabt';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction, instantiate } from '../engine/wasm/call.ts';
import { instrument, closeMeter } from '../engine/wasm/meter/index.ts';
import { kernelGas, runReference } from '../engine/gpu/run.ts';
import { KernelClient } from '../engine/gpu/client.ts';
import { GpuRuntime } from '../engine/gpu/runtime.ts';
import { Sandbox } from '../engine/wasm/sandbox/index.ts';
import { HyperError } from '../engine/protocol/errors.ts';

const test = suite('gpu host module');
const ID = 'G'.repeat(43);
const MODULE = `(module
  (import "gpu" "matmul_i32" (func $matmul (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "gpu" "relu_i32" (func $relu (param i32 i32 i32) (result i32)))
  (func (export "relu") (param $length i32) (result i32) (call $relu (i32.const 0) (i32.const 0) (local.get $length)))
  (memory (export "memory") 1)
  ;; A at 0, B at 1024, C at 2048: fills A[i] = i - 7, B[i] = 3i + 1, multiplies, returns C's wrapping sum
  (func (export "run") (param $m i32) (param $k i32) (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (local.set $i (i32.const 0))
    (loop $a (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.sub (local.get $i) (i32.const 7)))
      (br_if $a (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.mul (local.get $m) (local.get $k)))))
    (local.set $i (i32.const 0))
    (loop $b (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2))) (i32.add (i32.mul (local.get $i) (i32.const 3)) (i32.const 1)))
      (br_if $b (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.mul (local.get $k) (local.get $n)))))
    (drop (call $matmul (i32.const 0) (i32.const 1024) (i32.const 2048) (local.get $m) (local.get $k) (local.get $n)))
    (local.set $i (i32.const 0))
    (loop $c (local.set $sum (i32.add (local.get $sum) (i32.load (i32.add (i32.const 2048) (i32.shl (local.get $i) (i32.const 2))))))
      (br_if $c (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.mul (local.get $m) (local.get $n)))))
    (local.get $sum))
  (func (export "outside") (result i32) (call $matmul (i32.const 65000) (i32.const 0) (i32.const 0) (i32.const 64) (i32.const 64) (i32.const 64))))`;

let bytes: Uint8Array;
// This file's GPU, as a node has its own: every kernel call to the worker (min work 0).
let gpu: GpuRuntime;
test.before(async () => {
  const wabt = await wabtInit();
  bytes = new Uint8Array(wabt.parseWat('gpu.wat', MODULE, {}).toBinary({}).buffer);
  gpu = new GpuRuntime({ minWork: 0 });
});
test.after(async () => {
  await gpu.close();
  await closeMeter();
});

/** Another line to the runtime's worker, with its own threshold. */
const line = (minWork: number) => new KernelClient(gpu.connect()!.port, minWork);

function expected(m: number, k: number, n: number): number {
  const a = Int32Array.from({ length: m * k }, (_, i) => i - 7);
  const b = Int32Array.from({ length: k * n }, (_, i) => 3 * i + 1);
  const c = new Int32Array(runReference('matmul_i32', { m, k, n }, [new Uint8Array(a.buffer), new Uint8Array(b.buffer)]).buffer);
  return c.reduce((s, x) => (s + x) | 0, 0);
}

test('a module multiplies through the gpu import, with the reference kernel\'s bytes', async () => {
  const loaded = await compileModule(ID, bytes);
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [8, 16, 4]]) assert.is(callFunction(loaded, 'run', [m, k, n]).value, expected(m, k, n));
});

test('kernel gas is charged by shape, on top of the module\'s own', async () => {
  const metered = await compileModule(ID, await instrument(bytes));
  const small = callFunction(metered, 'run', [2, 2, 2]);
  const large = callFunction(metered, 'run', [8, 16, 4]);
  assert.is(large.value, expected(8, 16, 4));
  assert.ok(large.gas - small.gas > Number(kernelGas('matmul_i32', { m: 8, k: 16, n: 4 }) - kernelGas('matmul_i32', { m: 2, k: 2, n: 2 })));
  assert.is(callFunction(metered, 'run', [8, 16, 4]).gas, large.gas, 'the same gas every time');
  try {
    callFunction(metered, 'run', [8, 16, 4], Number(kernelGas('matmul_i32', { m: 8, k: 16, n: 4 })) - 1);
    assert.unreachable('the kernel costs more than the budget');
  } catch (error) {
    assert.is((error as HyperError).code, 'out-of-gas');
  }
});

test('the kernel\'s gas is exactly its kernelGas, taken before the work, and too little is out of gas', async () => {
  const metered = await compileModule(ID, await instrument(bytes));
  const gas = (length: number) => callFunction(metered, 'relu', [length]).gas;
  assert.is(gas(10_000) - gas(0), Number(kernelGas('relu_i32', { length: 10_000 }) - kernelGas('relu_i32', { length: 0 })));
  try {
    callFunction(metered, 'relu', [10_000], gas(10_000) - 1);
    assert.unreachable('one gas short');
  } catch (error) {
    assert.is((error as HyperError).code, 'out-of-gas');
  }
});

test('operands outside memory trap with the reason', async () => {
  const loaded = await compileModule(ID, bytes);
  assert.throws(() => callFunction(loaded, 'outside', []), (e: HyperError) => e.kind === 'trap' && /outside the module's 65536-byte memory/.test(e.message));
  assert.ok(instantiate(loaded));
});

// ---- through the GPU worker (engine/gpu/bridge.ts) ------------------------------------------

test('through the GPU worker a module gets the same value and gas, and the call says which backend served it', async () => {
  const described = await gpu.description;
  if (described.backend !== 'gpu') console.log(`gpu host: the GPU worker has no adapter (${described.reason}), so these calls are served by the CPU references; run scripts/install-lavapipe.sh`);
  const metered = await compileModule(ID, await instrument(bytes));
  const plain = callFunction(metered, 'run', [8, 16, 4]); // no line: the CPU references
  assert.equal(plain.kernels, { gpu: 0, cpu: 1 });
  const viaWorker = callFunction(metered, 'run', [8, 16, 4], undefined, gpu.client); // every call to the worker
  assert.is(viaWorker.value, plain.value);
  assert.is(viaWorker.gas, plain.gas, 'gas does not depend on the backend');
  assert.equal(viaWorker.kernels, described.backend === 'gpu' ? { gpu: 1, cpu: 0 } : { gpu: 0, cpu: 1 });
  const threshold = line(Number(kernelGas('matmul_i32', { m: 8, k: 16, n: 4 })) + 1);
  assert.equal(callFunction(metered, 'run', [8, 16, 4], undefined, threshold).kernels, { gpu: 0, cpu: 1 }, 'small work stays on the CPU');
});

test('a CPU-only runtime starts no worker and hands out no lines', async () => {
  const none = GpuRuntime.cpu();
  assert.is(none.client, undefined);
  assert.is(none.connect(), undefined);
  assert.is((await none.description).backend, 'cpu');
  await none.close();
});

test('after its runtime closes, a client computes on the references at once', async () => {
  const closing = new GpuRuntime({ minWork: 0 });
  await closing.description;
  await closing.close();
  assert.is(closing.connect(), undefined, 'no new lines');
  const loaded = await compileModule(ID, bytes);
  const started = Date.now();
  const result = callFunction(loaded, 'run', [3, 5, 7], undefined, closing.client);
  assert.is(result.value, expected(3, 5, 7));
  assert.equal(result.kernels, { gpu: 0, cpu: 1 });
  assert.ok(Date.now() - started < 5_000, 'no wait for the closed worker');
});

test('the GPU worker answers many shapes with the references\' bytes, from several clients', async () => {
  const clients = [gpu.client!, line(0)];
  let seed = 7;
  const random = (n: number) => new Uint8Array(n).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (const [i, [m, k, n]] of [[1, 1, 1], [3, 5, 7], [17, 33, 65], [64, 100, 3], [130, 9, 257]].entries()) {
    const i8 = [random(m * k), random(k * n)];
    const i32 = [random(m * k * 4), random(k * n * 4)];
    for (const [name, inputs] of [['matmul_i8', i8], ['matmul_i32', i32]] as const) {
      const out = new Uint8Array(m * n * 4);
      clients[i % 2].run(name, { m, k, n }, inputs, out);
      assert.equal(out, runReference(name, { m, k, n }, inputs), `${name} ${m}×${k}×${n}`);
    }
  }
  const x = random(4 * 1000);
  const q = new Uint8Array(1000);
  clients[0].run('requantize', { length: 1000, multiplier: 1 << 30, shift: 37, zeroPoint: -3 }, [x], q);
  assert.equal(q, runReference('requantize', { length: 1000, multiplier: 1 << 30, shift: 37, zeroPoint: -3 }, [x]));
});

test('stateless calls in the sandbox worker reach the GPU worker too', async () => {
  const described = await gpu.description;
  const sandbox = new Sandbox(60_000, gpu); // its worker gets a line to the runtime's worker, with its threshold
  try {
    const metered = await instrument(bytes);
    const result = await sandbox.call(ID, metered, 'run', [3, 5, 7]);
    assert.is(result.value, expected(3, 5, 7));
    assert.equal(result.kernels, described.backend === 'gpu' ? { gpu: 1, cpu: 0 } : { gpu: 0, cpu: 1 });
    assert.is(result.gas, callFunction(await compileModule(ID, metered), 'run', [3, 5, 7]).gas);
  } finally {
    await sandbox.close();
  }
});

test.run();
