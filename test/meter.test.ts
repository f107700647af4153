// The metering pass (engine/wasm/meter/index.ts): instrumented modules compute what the originals
// compute, count gas identically on every run and every V8 tier, stop at their budget, pay
// for bulk memory work by size, and give canonical NaN bits.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import wabtInit from 'wabt';
import { closeMeter, GAS_COSTS, instrument, MeterError, METER_VERSION, START_GAS } from '../engine/wasm/meter/index.ts';
import { gasLeft, setGas } from '../engine/wasm/gas.ts';
import { meterSection } from '../engine/wasm/meter/contract.ts';
import { exportGlobals, stateGlobals } from '../engine/wasm/snapshot.ts';
import { WorkerLine } from '../engine/worker.ts';
import { callBytes } from '../engine/wasm/call.ts';
import { inspect } from '../engine/wasm/binary.ts';
import { buildModules } from '../modules/tools/build.ts';

const test = suite('meter');
const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, 'fixtures', 'meter');
const TEXT = new TextEncoder();
const imports = { env: { abort() { throw new Error('abort'); } } };

type Exports = Record<string, any>;
type Bytes = Uint8Array<ArrayBuffer>;
const plain: Record<string, Bytes> = {};
const metered: Record<string, Bytes> = {};
let dir = '';

function instance(bytes: Bytes): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
}

/** Runs fn with a budget; returns its result (or the trap) and the gas it used. */
function meteredCall(inst: WebAssembly.Instance, budget: bigint, fn: () => unknown): { value?: unknown; trap?: Error; used: bigint; left: bigint } {
  setGas(inst, budget);
  try {
    const value = fn();
    const left = gasLeft(inst);
    return { value, used: budget - left, left };
  } catch (error) {
    const left = gasLeft(inst);
    return { trap: error as Error, used: budget - left, left };
  }
}

test.before(async () => {
  try {
    await setup();
  } catch (error) {
    console.error('meter tests: setup failed:', error); // uvu reports a failed hook only as failed tests
    throw error;
  }
});

async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'hyperwasm-meter-'));
  const built = await buildModules();
  for (const name of ['fac', 'text', 'kernel', 'counter', 'token']) plain[name] = new Uint8Array(readFileSync(built[name]));
  const wabt = await wabtInit();
  for (const name of ['loop', 'bulk', 'start', 'start-forever', 'nan', 'features', 'counted', 'exceptions']) {
    const wat = readFileSync(join(FIXTURES, `${name}.wat`), 'utf8');
    const parsed = wabt.parseWat(`${name}.wat`, wat, { exceptions: true, simd: true, bulk_memory: true, multi_value: true, tail_call: true, reference_types: true, sign_extension: true, sat_float_to_int: true });
    plain[name] = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
  }
  // All at once: the worker takes them in turn.
  const names = Object.keys(plain).filter((n) => n !== 'exceptions');
  const outputs = await Promise.all(names.map((n) => instrument(plain[n])));
  names.forEach((n, i) => (metered[n] = outputs[i]));
}

test.after(async () => {
  await closeMeter();
  rmSync(dir, { recursive: true, force: true });
});

test('METER_VERSION and the cost table are exported', () => {
  assert.type(METER_VERSION, 'string');
  assert.ok(METER_VERSION.length > 0);
  assert.is(GAS_COSTS.simple, 1);
  assert.ok(GAS_COSTS.div > GAS_COSTS.mul && GAS_COSTS.mul > GAS_COSTS.simple);
});

test('instrumenting is deterministic', async () => {
  const again = await instrument(plain.kernel);
  assert.equal(Buffer.from(again), Buffer.from(metered.kernel));
  assert.ok(metered.kernel.length > plain.kernel.length);
});

test("the caller's bytes are copied, never moved (a Buffer from readFileSync stays usable)", async () => {
  const built = await buildModules();
  const buffer = readFileSync(built.fac);
  const before = Buffer.from(buffer);
  const out = await instrument(buffer);
  assert.is(buffer.length, before.length);
  assert.ok(buffer.equals(before));
  assert.equal(Buffer.from(out), Buffer.from(metered.fac));
  const view = new Uint8Array(plain.kernel.buffer, 0, plain.kernel.length);
  await instrument(view);
  assert.is(plain.kernel.byteLength, view.byteLength);
});

test('instrumented modules compute what the originals compute', () => {
  const p = instance(plain.kernel).exports as Exports;
  const mi = instance(metered.kernel);
  const m = mi.exports as Exports;
  const calls: [string, number[]][] = [['matmul', [16, 7]], ['matmul', [33, 0]], ['matmul', [64, -5]], ['sha256', [1]], ['sha256', [257]], ['primes', [10_000]], ['primes', [2]]];
  for (const [fn, args] of calls) {
    const r = meteredCall(mi, 1n << 40n, () => m[fn](...args));
    assert.is(r.trap, undefined, `${fn}(${args}) trapped`);
    assert.is(r.value, p[fn](...args), `${fn}(${args})`);
    assert.ok(r.used > 0n);
  }
  assert.is(m.sha256(1) >>> 0, 0xf5a5fd42); // the counter is left where the last call put it: plenty

  const fp = instance(plain.fac).exports as Exports;
  const fi = instance(metered.fac);
  for (const n of [0, 1, 5, 10, 20]) assert.is(meteredCall(fi, 1n << 30n, () => (fi.exports as Exports).fac(n)).value, fp.fac(n));

  // The bytes ABI: text's transform, through the engine's callBytes.
  const tp = instance(plain.text);
  const tm = instance(metered.text);
  for (const input of ['[{"text":"hello"}]', '[{"text":"Ünïcödé and more words"}]', `[{"text":"${'long '.repeat(500)}"}]`]) {
    const expected = callBytes(tp, 'transform', TEXT.encode(input));
    const got = meteredCall(tm, 1n << 40n, () => callBytes(tm, 'transform', TEXT.encode(input)));
    assert.is(got.trap, undefined);
    assert.equal(Buffer.from(got.value as Uint8Array), Buffer.from(expected), input);
  }
});

test('every accepted feature keeps its meaning', () => {
  const p = instance(plain.features).exports as Exports;
  const mi = instance(metered.features);
  const m = mi.exports as Exports;
  const calls: [string, unknown[]][] = [
    ['divmod_packed', [1000, 7]], ['dispatch', [0, 5, 3]], ['dispatch', [1, 5, 3]], ['dispatch', [2, 5, 3]], ['dispatch', [3, 5, 3]], ['dispatch', [99, 5, 3]],
    ['countdown', [100_000, 0]], ['mixed', [20]], ['mixed', [5]], ['mixed', [-5]], ['calls', []],
    ['signext', [0x1ff80]], ['satconv', [1e20]], ['satconv', [NaN]], ['satconv', [-3.7]], ['tablegrow', [3]], ['passive', []], ['pick', [0]], ['pick', [1]],
  ];
  for (const [fn, args] of calls) {
    const r = meteredCall(mi, 1n << 40n, () => m[fn](...args));
    assert.is(r.trap, undefined, `${fn}(${args}) trapped: ${r.trap?.message}`);
    assert.is(r.value, p[fn](...args), `${fn}(${args})`);
    assert.ok(r.used > 0n, `${fn} used gas`);
  }
  // A tail-recursive countdown pays per step like any loop.
  const g = [10, 20, 30].map((n) => meteredCall(mi, 1n << 40n, () => m.countdown(n, 0)).used);
  assert.is(g[2] - g[1], g[1] - g[0]);
  assert.ok(g[1] > g[0]);
  const stop = meteredCall(mi, 1_000n, () => m.countdown(1_000_000, 0));
  assert.ok(gasLeft(mi) < 0n && stop.trap !== undefined);
});

test('process modules keep their state across messages, metered', () => {
  for (const name of ['counter', 'token']) {
    const p = instance(plain[name]);
    const m = instance(metered[name]);
    for (let slot = 0; slot < 6; slot++) {
      const input = JSON.stringify({
        message: { id: `m${slot}`, slot, from: 'alice', owner: 'alice', tags: slot % 2 ? [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: 'bob' }, { name: 'Quantity', value: '25' }] : [{ name: 'Action', value: 'Balances' }], data: '' },
        process: { id: 'p', owner: 'alice', module: 'x', tags: [] },
      });
      const expected = callBytes(p, 'handle', TEXT.encode(input));
      const got = meteredCall(m, 1n << 40n, () => callBytes(m, 'handle', TEXT.encode(input)));
      assert.is(got.trap, undefined, `${name} slot ${slot}`);
      assert.equal(Buffer.from(got.value as Uint8Array), Buffer.from(expected), `${name} slot ${slot}`);
    }
    const pm = new Uint8Array((p.exports.memory as WebAssembly.Memory).buffer);
    const mm = new Uint8Array((m.exports.memory as WebAssembly.Memory).buffer);
    assert.ok(Buffer.from(pm).equals(Buffer.from(mm)), `${name}: same memory after the messages`);
  }
});

test('the module keeps its imports, exports, memory limits, data and start function', () => {
  for (const name of ['kernel', 'text', 'counter', 'token', 'loop', 'bulk', 'start', 'features']) {
    const pm = new WebAssembly.Module(plain[name]);
    const mm = new WebAssembly.Module(metered[name]);
    assert.equal(WebAssembly.Module.imports(mm), WebAssembly.Module.imports(pm), `${name} imports`);
    assert.equal(WebAssembly.Module.exports(mm), [...WebAssembly.Module.exports(pm), { name: 'hw_gas_set', kind: 'function' }, { name: 'hw_gas_get', kind: 'function' }], `${name} exports`);
    const pi = inspect(plain[name]);
    const mi = inspect(metered[name]);
    assert.equal(mi.memories, pi.memories, `${name} memory limits`);
    assert.equal(mi.tables, pi.tables, `${name} tables`);
    assert.is(mi.dataBytes, pi.dataBytes, `${name} data`);
    assert.equal(mi.globals.slice(0, -1), pi.globals, `${name}: the module's globals, then the counter`);
    assert.equal(mi.globals.at(-1), { type: 'i64', mutable: true, imported: false });
    const section = WebAssembly.Module.customSections(mm, 'hyperwasm-meter');
    assert.equal(JSON.parse(Buffer.from(section[0]).toString()), { version: METER_VERSION, gasGlobal: mi.globals.length - 1 });
    // Instantiation (data segments, start function) leaves the same memory.
    const pInst = new WebAssembly.Instance(pm, imports);
    const mInst = new WebAssembly.Instance(mm, imports);
    const memory = (i: WebAssembly.Instance) => i.exports.memory as WebAssembly.Memory | undefined;
    if (memory(pInst)) assert.ok(Buffer.from(memory(pInst)!.buffer).equals(Buffer.from(memory(mInst)!.buffer)), `${name} memory after instantiation`);
  }
});

test('the counter is found from the custom section: snapshots hold every other mutable global', () => {
  for (const name of ['kernel', 'text', 'counter', 'token', 'loop', 'bulk', 'start', 'features']) {
    const mi = inspect(metered[name]);
    assert.equal(meterSection(metered[name], mi), { version: METER_VERSION, gasGlobal: mi.globals.length - 1 }, name);
    assert.is(meterSection(plain[name], inspect(plain[name])), undefined, `${name} unmetered`);
    const own = mi.globals.flatMap((g, i) => (g.mutable && !g.imported && i !== mi.globals.length - 1 ? [i] : []));
    assert.equal(stateGlobals(inspect(exportGlobals(metered[name], mi))), own, `${name} state globals`);
  }
});

test('the worker line: a dead worker fails the request it died on, the rest go to a new one; close fails what waits', async () => {
  const module = new URL('./fixtures/meter/line-worker.mjs', import.meta.url);
  const line = new WorkerLine<{ x: number; die?: boolean; fail?: boolean; fatal?: boolean }, { echo: number; thread: number }>({ module, attempts: 2 });
  const first = await line.request({ x: 1 });
  assert.is(first.echo, 1);
  const [failed, after] = await Promise.allSettled([line.request({ x: 2, fail: true }), line.request({ x: 3 })]);
  assert.match(String((failed as PromiseRejectedResult).reason), /failed on 2/);
  assert.is((after as PromiseFulfilledResult<{ thread: number }>).value.thread, first.thread, 'an error is not a crash: same worker');
  const [died, moved, also] = await Promise.allSettled([line.request({ x: 4, die: true }), line.request({ x: 5 }), line.request({ x: 6 })]);
  assert.match(String((died as PromiseRejectedResult).reason), /exited \(code 3\)/);
  assert.is((moved as PromiseFulfilledResult<{ echo: number }>).value.echo, 5);
  assert.is((also as PromiseFulfilledResult<{ echo: number; thread: number }>).value.echo, 6);
  assert.is.not((also as PromiseFulfilledResult<{ thread: number }>).value.thread, first.thread, 'a new worker');
  const [fatal, resent] = await Promise.allSettled([line.request({ x: 7, fatal: true }), line.request({ x: 8 })]);
  assert.match(String((fatal as PromiseRejectedResult).reason), /failed on 7/);
  assert.is((resent as PromiseFulfilledResult<{ echo: number }>).value.echo, 8);
  const waiting = line.request({ x: 9 }).then(() => 'answered', (error: Error) => error.message);
  await line.close();
  assert.is(await waiting, 'the worker was closed');
  assert.is((await line.request({ x: 10 })).echo, 10, 'a later request starts a fresh worker');
  await line.close();
});

test('the start function is metered from START_GAS', () => {
  const a = instance(metered.start);
  const b = instance(metered.start);
  const used = START_GAS - gasLeft(a);
  assert.ok(used > 1000n, `start used ${used}`);
  assert.is(START_GAS - gasLeft(b), used);
  assert.is((a.exports as Exports).g(), 1000);
  // Kernel's start (AssemblyScript's static initialisers) too.
  assert.ok(gasLeft(instance(metered.kernel)) < START_GAS);
  // A start function that never ends traps when START_GAS is spent.
  assert.throws(() => instance(metered['start-forever']), (e: Error) => e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message));
});

test('gas grows with work and is the same on every run', () => {
  const mi = instance(metered.kernel);
  const m = mi.exports as Exports;
  const gas = (fn: string, ...args: number[]) => meteredCall(mi, 1n << 50n, () => m[fn](...args)).used;
  const small = gas('matmul', 16, 7);
  const large = gas('matmul', 32, 7);
  assert.ok(large > small * 4n, `matmul(32) ${large} vs matmul(16) ${small}`);
  assert.is(gas('matmul', 16, 7), small);
  assert.is(gas('matmul', 16, 99), small, 'the same work for another seed');
  assert.ok(gas('sha256', 20) > gas('sha256', 10));
  assert.ok(gas('primes', 20_000) > gas('primes', 10_000));
  // A fresh instance counts the same.
  const other = instance(metered.kernel);
  assert.is(meteredCall(other, 1n << 50n, () => (other.exports as Exports).matmul(16, 7)).used, small);

  // A counted loop costs the same per iteration: gas is linear in n.
  const li = instance(metered.loop);
  const sum = (n: number) => meteredCall(li, 1n << 40n, () => (li.exports as Exports).sum(n));
  const g = [0, 1, 2, 3, 100].map((n) => sum(n).used);
  const step = g[2] - g[1];
  assert.ok(step > 0n);
  assert.is(g[3] - g[2], step);
  assert.is(g[4] - g[1], 99n * step);
  assert.is(sum(100).value, 4950);
});

test('counted loops are charged up front: the same gas, and no loop runs past its budget', () => {
  const ci = instance(metered.counted);
  const c = ci.exports as Exports;
  const run = (fn: string, ...args: number[]) => meteredCall(ci, 1n << 40n, () => c[fn](...args));
  // Iterations max(0, n - i), signed or unsigned.
  for (const [i, n] of [[0, 10], [-5, 3], [7, 7], [9, 2], [-2147483648, -2147483600]]) {
    assert.is(run('counted_s', i, n).value, Math.max(0, n - i), `counted_s(${i}, ${n})`);
  }
  assert.is(run('counted_u', -100).value, 84);
  assert.is(run('counted_u', -10).value, 0);
  // Gas: base + (iterations + 1) × per-iteration, whatever the start; and the per-iteration
  // twin (one more local write per header) pays exactly 2 more per header.
  const base = run('counted_s', 5, 5).used;
  const step = run('counted_s', 5, 6).used - base;
  assert.ok(step > 0n);
  for (const [i, n] of [[0, 10], [-5, 3], [100, 1100], [-2147483648, -2147483000]]) {
    const iterations = BigInt(Math.max(0, n - i));
    assert.is(run('counted_s', i, n).used, base + iterations * step, `gas of counted_s(${i}, ${n})`);
    assert.is(run('uncounted_s', i, n).used, base + iterations * step + 2n * (iterations + 1n), `gas of uncounted_s(${i}, ${n})`);
  }
  const ubase = run('counted_u', -16).used;
  const ustep = run('counted_u', -17).used - ubase;
  assert.is(run('counted_u', -1000).used, ubase + 984n * ustep);

  // Out of gas before the first iteration: nothing of the loop has run.
  c.reset();
  const big = meteredCall(ci, 10_000n, () => c.counted_s(0, 1_000_000));
  assert.match(big.trap!.message, /unreachable/);
  assert.ok(gasLeft(ci) < 0n);
  assert.is(meteredCall(ci, 1000n, () => c.work()).value, 0);
  // The per-iteration twin stops partway.
  meteredCall(ci, 10_000n, () => c.uncounted_s(0, 1_000_000));
  assert.ok(gasLeft(ci) < 0n);
  const partway = meteredCall(ci, 1000n, () => c.work()).value as number;
  assert.ok(partway > 0 && partway < 1_000_000);

  // Look-alikes that can run longer than their bound says are metered per iteration: each
  // would run ~1e9 iterations, and stops at a budget of 1e6.
  for (const fn of ['skips_increment', 'resets_counter', 'raises_bound']) {
    const r = meteredCall(ci, 1_000_000n, () => c[fn](10));
    assert.ok(r.trap && gasLeft(ci) < 0n, `${fn} stopped by the budget`);
  }
  // An early exit is not charged for the iterations it skips.
  const early = meteredCall(ci, 1_000_000n, () => c.early_exit(2147483647));
  assert.is(early.value, 3);
  assert.ok(early.used < 1000n, `early_exit used ${early.used}`);
});

test('an infinite loop stops at its budget, deterministically', () => {
  const lefts = new Set<bigint>();
  const spins = new Set<number>();
  for (let i = 0; i < 3; i++) {
    const li = instance(metered.loop);
    const r = meteredCall(li, 100_000n, () => (li.exports as Exports).spin());
    assert.instance(r.trap, WebAssembly.RuntimeError);
    assert.match(r.trap!.message, /unreachable/);
    assert.ok(gasLeft(li) < 0n);
    assert.ok(r.left < 0n && r.left > -100n, `overshoot ${r.left}`);
    lefts.add(r.left);
    spins.add(meteredCall(li, 1000n, () => (li.exports as Exports).spins()).value as number);
  }
  assert.is(lefts.size, 1, `remaining gas differs between runs: ${[...lefts]}`);
  assert.is(spins.size, 1);
  assert.ok([...spins][0] > 1000);

  // The same instance runs again after its budget is reset.
  const li = instance(metered.loop);
  meteredCall(li, 5_000n, () => (li.exports as Exports).spin());
  assert.ok(gasLeft(li) < 0n);
  const r = meteredCall(li, 1_000_000n, () => (li.exports as Exports).sum(10));
  assert.is(r.value, 45);
  assert.not.ok(gasLeft(li) < 0n);
  assert.ok(r.left >= 0n);

  // Unbounded recursion stops at the budget too (long before the stack would overflow).
  const rec = meteredCall(li, 50_000n, () => (li.exports as Exports).recurse(0));
  assert.match(rec.trap!.message, /unreachable/);
  assert.ok(rec.left < 0n);
  assert.is(meteredCall(li, 50_000n, () => (li.exports as Exports).recurse(0)).left, rec.left);
});

test('other traps are not out of gas', () => {
  const li = instance(metered.loop);
  const div = meteredCall(li, 1_000_000n, () => (li.exports as Exports).divzero(3));
  assert.match(div.trap!.message, /divide by zero/);
  assert.not.ok(gasLeft(li) < 0n);
  const abort = meteredCall(li, 1_000_000n, () => (li.exports as Exports).abort());
  assert.match(abort.trap!.message, /abort/);
  assert.not.ok(gasLeft(li) < 0n);
  // A budget too small for the entry charge is out of gas before anything runs.
  const none = meteredCall(li, 0n, () => (li.exports as Exports).divzero(3));
  assert.match(none.trap!.message, /unreachable/);
  assert.ok(gasLeft(li) < 0n);
});

test('memory.grow, memory.fill, memory.copy and memory.init charge by size', () => {
  const bi = instance(metered.bulk);
  const b = bi.exports as Exports;
  const used = (fn: string, n: number) => {
    const r = meteredCall(bi, 1n << 40n, () => b[fn](n));
    assert.is(r.trap, undefined, `${fn}(${n})`);
    return r.used;
  };
  const per = (c: { bytesPerGasLog2: number }) => 1n << BigInt(c.bytesPerGasLog2);
  assert.is(used('fill', 16_000) - used('fill', 0), 16_000n / per(GAS_COSTS.memoryFill));
  assert.is(used('copy', 32_000) - used('copy', 0), 32_000n / per(GAS_COSTS.memoryCopy));
  assert.is(used('init', 64) - used('init', 0), 64n / per(GAS_COSTS.memoryInit));
  assert.is(used('grow', 3) - used('grow', 0), 3n * BigInt(GAS_COSTS.memoryGrow.perPage));
  // A failed grow (beyond the maximum) is charged all the same.
  assert.is(used('grow', 1000) - used('grow', 0), 1000n * BigInt(GAS_COSTS.memoryGrow.perPage));
  assert.is((bi.exports.memory as WebAssembly.Memory).buffer.byteLength, 4 * 65536);

  // Charged before it runs: a fill far beyond both budget and memory is out of gas, not out of bounds.
  const big = meteredCall(bi, 10_000n, () => b.fill(0x7fffffff));
  assert.match(big.trap!.message, /unreachable/);
  assert.ok(gasLeft(bi) < 0n);
  const bigGrow = meteredCall(bi, 10_000n, () => b.grow(50));
  assert.match(bigGrow.trap!.message, /unreachable/);
  assert.is((bi.exports.memory as WebAssembly.Memory).buffer.byteLength, 4 * 65536, 'the grow did not happen');
});

// NaN inputs with payloads and both signs, and operations that manufacture NaNs.
const F32_NAN = 0x7fc00000;
const F64_NAN = 0x7ff8000000000000n;
const f32 = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0] | 0;
const f64 = (x: number) => new BigInt64Array(new Float64Array([x]).buffer)[0];
const F32_PAYLOADS = [0x7fa00001 | 0, 0xffc00123 | 0, 0x7f800001 | 0];
const F64_PAYLOADS = [0x7ff4000000000123n, -0x0007ffffffff0000n /* 0xfff8000000010000 */, 0x7ff0000000000001n];

function nanCases(): { fn: string; args: (number | bigint)[]; width: 32 | 64 }[] {
  const cases: { fn: string; args: (number | bigint)[]; width: 32 | 64 }[] = [];
  for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max']) {
    cases.push({ fn: `f32_${op}`, args: [f32(0), f32(0)], width: 32 }); // 0/0 (and 0 for the rest)
    cases.push({ fn: `f32_${op}`, args: [f32(Infinity), f32(-Infinity)], width: 32 });
    for (const p of F32_PAYLOADS) cases.push({ fn: `f32_${op}`, args: [p, f32(1.5)], width: 32 }, { fn: `f32_${op}`, args: [f32(2), p], width: 32 });
    cases.push({ fn: `f64_${op}`, args: [f64(0), f64(0)], width: 64 });
    cases.push({ fn: `f64_${op}`, args: [f64(Infinity), f64(-Infinity)], width: 64 });
    for (const p of F64_PAYLOADS) cases.push({ fn: `f64_${op}`, args: [p, f64(1.5)], width: 64 }, { fn: `f64_${op}`, args: [f64(2), p], width: 64 });
  }
  for (const op of ['sqrt', 'ceil', 'floor', 'trunc', 'nearest']) {
    cases.push({ fn: `f32_${op}`, args: [f32(-1)], width: 32 });
    for (const p of F32_PAYLOADS) cases.push({ fn: `f32_${op}`, args: [p], width: 32 });
    cases.push({ fn: `f64_${op}`, args: [f64(-1)], width: 64 });
    for (const p of F64_PAYLOADS) cases.push({ fn: `f64_${op}`, args: [p], width: 64 });
  }
  for (const p of F64_PAYLOADS) cases.push({ fn: 'f32_demote', args: [p], width: 32 });
  for (const p of F32_PAYLOADS) cases.push({ fn: 'f64_promote', args: [p], width: 64 });
  // A NaN made inside an expression, kept in a local or a tee, or stored to memory.
  for (const p of [f32(0), ...F32_PAYLOADS]) {
    cases.push({ fn: 'f32_chain', args: [p, f32(0), f32(2)], width: 32 }, { fn: 'f32_chain', args: [f32(Infinity), f32(-Infinity), p], width: 32 });
    cases.push({ fn: 'f32_store_local', args: [p === f32(0) ? f32(-1) : p], width: 32 });
  }
  for (const p of [f64(0), ...F64_PAYLOADS]) {
    cases.push({ fn: 'f64_via_local', args: [p, f64(0), f64(1)], width: 64 }, { fn: 'f64_via_local', args: [f64(1), f64(2), p], width: 64 });
    cases.push({ fn: 'f64_tee_chain', args: [p, f64(Infinity)], width: 64 }, { fn: 'f64_tee_chain', args: [f64(0), f64(Infinity)], width: 64 });
  }
  return cases;
}

const isNan32 = (bits: number) => (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;
const isNan64 = (bits: bigint) => (bits & 0x7ff0000000000000n) === 0x7ff0000000000000n && (bits & 0xfffffffffffffn) !== 0n;

test('float operations give the canonical NaN, whatever the CPU would give', () => {
  const p = instance(plain.nan).exports as Exports;
  const mi = instance(metered.nan);
  const m = mi.exports as Exports;
  setGas(mi, 1n << 50n);
  let differ = 0;
  let nans = 0;
  for (const { fn, args, width } of nanCases()) {
    const want = p[fn](...args);
    const got = m[fn](...args);
    const label = `${fn}(${args.map((a) => `0x${(typeof a === 'bigint' ? BigInt.asUintN(64, a) : a >>> 0).toString(16)}`).join(', ')})`;
    if (width === 32 ? isNan32(want) : isNan64(want)) {
      nans++;
      assert.is(width === 32 ? got : BigInt.asUintN(64, got), width === 32 ? F32_NAN : F64_NAN, label);
      if (got !== want) differ++;
    } else {
      assert.is(got, want, `${label}: not a NaN, unchanged`);
    }
  }
  assert.ok(nans > 100, `${nans} NaN results`);
  assert.ok(differ > 0, 'the uninstrumented module gives some non-canonical NaNs');

  // Lanes, too.
  const canon2 = BigInt(F32_NAN) | (BigInt(F32_NAN) << 32n);
  assert.is(m.f32x4_div(f32(0), f32(0)), canon2);
  assert.is(m.f32x4_div(F32_PAYLOADS[1], f32(3)), canon2);
  assert.is(BigInt.asUintN(64, m.f64x2_mul_lane1(F64_PAYLOADS[0], f64(3))), F64_NAN);
  assert.is(m.f32x4_div(f32(1), f32(4)), BigInt(f32(0.25)) | (BigInt(f32(0.25)) << 32n));

  // Ordinary results are untouched.
  assert.is(m.f32_add(f32(1.5), f32(2.25)), f32(3.75));
  assert.is(m.f64_div(f64(1), f64(3)), f64(1 / 3));
  assert.is(m.f64_sqrt(f64(2)), f64(Math.SQRT2));
  assert.is(m.f32_div(f32(1), f32(0)), f32(Infinity));
  assert.is(m.f64_min(f64(-0), f64(0)), f64(-0));

  // A NaN kept in a local and then negated: canonical, then its sign flipped.
  assert.is(m.f32_neg_of_local(f32(0), f32(0)), 0xffc00000 | 0);
  assert.is(m.f32_neg_of_local(F32_PAYLOADS[0], f32(1)), 0xffc00000 | 0);
  assert.is(m.f32_neg_of_local(f32(-3), f32(1)), f32(-1));

  // Bit operations keep payloads: not arithmetic, not canonicalised.
  for (const bits of F32_PAYLOADS) {
    assert.is(m.f32_neg(bits), p.f32_neg(bits));
    assert.is(m.f32_abs(bits), p.f32_abs(bits));
    assert.is(m.f32_neg(bits), bits ^ (0x80000000 | 0));
  }
  assert.is(m.f64_copysign(F64_PAYLOADS[0], f64(-1)), p.f64_copysign(F64_PAYLOADS[0], f64(-1)));
});

test('gas and results are identical across V8 tiers (child processes)', async () => {
  const modules: Record<string, string> = {};
  for (const name of ['kernel', 'fac', 'loop', 'bulk', 'nan']) {
    modules[name] = join(dir, `${name}.wasm`);
    writeFileSync(modules[name], metered[name]);
  }
  const big = (n: bigint) => `${n}n`;
  const calls = [
    { module: 'kernel', fn: 'matmul', args: [16, 7], budget: big(1n << 40n), repeat: 40 },
    { module: 'kernel', fn: 'matmul', args: [48, 3], budget: big(1n << 40n), repeat: 10 },
    { module: 'kernel', fn: 'sha256', args: [50], budget: big(1n << 40n), repeat: 20 },
    { module: 'kernel', fn: 'primes', args: [5000], budget: big(1n << 40n), repeat: 20 },
    // Out of gas: a trap leaves the allocator's state behind, so each run gets a fresh instance.
    { module: 'kernel', fn: 'matmul', args: [32, 7], budget: big(300_000n), repeat: 10, fresh: true },
    { module: 'fac', fn: 'fac', args: [12], budget: big(1n << 30n), repeat: 20 },
    { module: 'loop', fn: 'spin', args: [], budget: big(250_000n), repeat: 10 },
    { module: 'loop', fn: 'sum', args: [1000], budget: big(1n << 30n), repeat: 20 },
    { module: 'loop', fn: 'recurse', args: [0], budget: big(20_000n), repeat: 5 },
    { module: 'bulk', fn: 'fill', args: [12345], budget: big(1n << 30n), repeat: 5 },
    ...nanCases().slice(0, 400).filter((_, i) => i % 7 === 0).map(({ fn, args }) => ({ module: 'nan', fn, args: args.map((a) => (typeof a === 'bigint' ? big(a) : a)), budget: big(1000n), repeat: 30 })),
  ];
  const plan = join(dir, 'plan.json');
  writeFileSync(plan, JSON.stringify({ modules, calls }));
  const child = join(FIXTURES, 'gas-child.mjs');
  const configs: string[][] = [[], ['--liftoff', '--no-wasm-tier-up'], ['--no-liftoff'], ['--no-wasm-lazy-compilation', '--wasm-tier-up']];
  const outputs: string[] = [];
  for (const flags of configs) {
    const { stdout } = await run(process.execPath, [...flags, child, plan], { maxBuffer: 1 << 26 });
    outputs.push(stdout);
  }
  const first = JSON.parse(outputs[0]) as { call: string; runs: { result: string | null; left: string; trap: string | null }[] }[];
  for (const entry of first) {
    assert.ok(entry.runs.every((r) => r.left === entry.runs[0].left && r.result === entry.runs[0].result), `${entry.call}: every repetition alike`);
  }
  const oog = first.find((e) => e.call === 'kernel.matmul(32, 7)')!;
  assert.ok(oog.runs[0].left.startsWith('-') && /unreachable/.test(oog.runs[0].trap!), 'matmul(32) on 300000 gas runs out');
  assert.ok(first.find((e) => e.call === 'loop.spin()')!.runs[0].left.startsWith('-'));
  for (let i = 1; i < configs.length; i++) assert.is(outputs[i], outputs[0], `node ${configs[i].join(' ')} differs from the default`);

  // And the same as in this process.
  const mi = instance(metered.kernel);
  const r = meteredCall(mi, 1n << 40n, () => (mi.exports as Exports).matmul(48, 3));
  const entry = first.find((e) => e.call === 'kernel.matmul(48, 3)')!;
  assert.is(`${r.left}n`, entry.runs[0].left);
});

test('refuses what it cannot meter', async () => {
  const refused = async (bytes: Uint8Array, pattern: RegExp) => {
    try {
      await instrument(bytes);
    } catch (error) {
      assert.instance(error, MeterError);
      assert.match((error as Error).message, pattern);
      return;
    }
    assert.unreachable('instrument should have refused');
  };
  await refused(TEXT.encode('{"not":"wasm"}'), /cannot meter this module/);
  await refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1]), /cannot meter this module/);
  await refused(metered.fac, /already exports hw_gas_set/);
  await refused(plain.exceptions, /features|does not support/);
  // The worker is still there after refusals.
  assert.equal(Buffer.from(await instrument(plain.fac)), Buffer.from(metered.fac));
});

test('the worker does not keep a finished process alive, and another process gets the same bytes', async () => {
  const file = join(dir, 'plain-fac.wasm');
  writeFileSync(file, plain.fac);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(FIXTURES, 'exit-child.ts'), file]);
  assert.is(stdout.trim(), `instrumented ${metered.fac.length} bytes, sha256 ${createHash('sha256').update(metered.fac).digest('hex')}`);
});

test.run();
