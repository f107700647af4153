// Our own meter (engine/wasm/meter) on aos modules: the instrumented aos 2 builds, wasm32 and
// memory64, give the same result text and the same memory as the uninstrumented ones on every
// message, count a deterministic gas per message, and stop a runaway loop with out of gas,
// after which the process continues from the memory before it, as after any failed message.
// On memory64 the size-dependent charges take i64 operands: they charge what wasm32 charges
// for the same sizes, and a huge size runs out of gas instead of wrapping the charge. The aos
// builds come from scripts/fetch-aos.mjs (.cache/aos/); their tests skip without them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { enableMemory64 } from '../engine/wasm/ao/memory64.ts';
import { AoSession } from '../engine/wasm/ao/session.ts';
import { inspect } from '../engine/wasm/binary.ts';
import { gasLeft, setGas } from '../engine/wasm/gas.ts';
import { closeMeter, GAS_COSTS, instrument } from '../engine/wasm/meter/index.ts';
import { FIXTURES, history, SUITES, type History } from './ao/suites.ts';

// Before any module compiles (V8's flag is process-wide, so the meter's worker sees it too).
enableMemory64();

const test = suite('ao-meter');
const AOS = join(import.meta.dirname, '..', '.cache', 'aos');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Build {
  file: string;
  format: string;
  h: History;
  missing: boolean;
  plain?: WebAssembly.Module;
  metered?: WebAssembly.Module;
}

const builds: Build[] = ['aos2_0_4_32.wasm', 'aos2_0_6.wasm'].map((file) => {
  const fixture = FIXTURES.find((f) => f.file === file)!;
  const missing = !existsSync(join(AOS, file));
  if (missing) console.log(`ao-meter: skipped: .cache/aos/${file} is missing (scripts/fetch-aos.mjs fetches it; it needs the npm registry)`);
  const h = history(fixture, SUITES.filter((s) => ['eval', 'state', 'errors', 'send', 'handlers'].includes(s.name)));
  return { file, format: fixture.format, h, missing };
});

test.before(async () => {
  for (const build of builds) {
    if (build.missing) continue;
    const bytes = readFileSync(join(AOS, build.file));
    build.plain = new WebAssembly.Module(bytes);
    build.metered = new WebAssembly.Module(await instrument(bytes));
  }
});
test.after(() => closeMeter());

const run = (build: Build, module: WebAssembly.Module, meterBudget?: number) => {
  const session = new AoSession(module, build.format, { meterBudget });
  return { session, results: build.h.inputs.map(({ msg, env }) => session.step(msg, env)) };
};

for (const build of builds) {
  const { file, h } = build;
  (build.missing ? test.skip : test)(`metered ${file} answers every message with the same text and memory as unmetered, and counts its gas`, () => {
    const a = run(build, build.plain!);
    const b = run(build, build.metered!);
    b.results.forEach((r, i) => {
      assert.is(r.text, a.results[i].text, `slot ${i}`);
      assert.is(r.ok, a.results[i].ok, `slot ${i}`);
      assert.is(a.results[i].meterGas, undefined);
      assert.ok((r.meterGas ?? 0) > 0, `slot ${i} counts gas`);
    });
    const sa = a.session.state();
    const sb = b.session.state();
    assert.ok(sa.live && sb.live);
    if (sa.live && sb.live) {
      assert.is(sha256(sb.state.memory), sha256(sa.state.memory));
      assert.is(sb.state.clock, sa.state.clock);
    }
    // the gas is a function of the module and the messages alone
    assert.equal(run(build, build.metered!).results.map((r) => r.meterGas), b.results.map((r) => r.meterGas));
  });

  (build.missing ? test.skip : test)(`${file}: a runaway loop runs out of our gas, and the next message sees the memory from before it`, () => {
    const session = new AoSession(build.metered!, build.format, { meterBudget: 1_000_000_000 });
    const eval_ = (slot: number, code: string) => {
      const { msg, env } = h.inputs[Math.min(slot, 1)];
      return session.step({ ...msg, Id: `m${slot}`, Data: code, Nonce: slot }, env);
    };
    assert.ok(session.step(h.inputs[0].msg, h.inputs[0].env).ok, 'the spawn fits the budget');
    assert.ok(eval_(1, 'Z = 7').ok);
    const stuck = eval_(2, 'Z = 8 while true do end');
    assert.is(stuck.ok, false);
    assert.is(stuck.outOfGas, true);
    assert.is(stuck.meterGas, 1_000_000_000);
    assert.match(stuck.threw ?? '', /out of gas: the message used up its budget of 1000000000 gas/);
    const after = eval_(3, 'Z');
    assert.ok(after.ok);
    // 7, not 8: the failed message's state was rolled back (aos 2.0.4 warns first that the
    // nonce skipped one, so its data ends "…\n7"; aos 2.0.6's is "7")
    assert.match(after.text, /(\\n|")7"\},"Messages"/, after.text.slice(0, 600));
  });
}

(builds[1].missing ? test.skip : test)('the memory64 build is read as memory64: its limits in pages, flagged index64', () => {
  assert.equal(inspect(readFileSync(join(AOS, 'aos2_0_6.wasm'))).memories, [{ min: 1088, max: 8192, index64: true }]);
  if (!builds[0].missing) assert.equal(inspect(readFileSync(join(AOS, 'aos2_0_4_32.wasm'))).memories, [{ min: 1088, max: 8192 }]);
});

// The same four size-charged operations on a memory of each index type.
const bulk = (A: 'i32' | 'i64') => `(module
  (memory ${A} 1 4)
  (data "hello, memory")
  (func (export "grow") (param ${A}) (result ${A}) (memory.grow (local.get 0)))
  (func (export "fill") (param ${A} ${A}) (memory.fill (local.get 0) (i32.const 7) (local.get 1)))
  (func (export "copy") (param ${A} ${A} ${A}) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param ${A} i32 i32) (memory.init 0 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load") (param ${A}) (result i32) (i32.load8_u (local.get 0))))`;

test('memory64 charges memory.grow/fill/copy/init by their i64 sizes as wasm32 does, and a huge size runs out of gas instead of wrapping', async () => {
  const wabt = await wabtInit();
  const metered = async (A: 'i32' | 'i64') => {
    const parsed = wabt.parseWat(`bulk-${A}.wat`, bulk(A), { memory64: true, bulk_memory: true });
    const bytes = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
    return new WebAssembly.Instance(new WebAssembly.Module(await instrument(bytes)));
  };
  const used = (inst: WebAssembly.Instance, budget: bigint, fn: () => unknown) => {
    setGas(inst, budget);
    let trap: unknown;
    try { fn(); } catch (error) { trap = error; }
    return { used: budget - gasLeft(inst), left: gasLeft(inst), trap };
  };
  const i32 = await metered('i32');
  const i64 = await metered('i64');
  const e32 = i32.exports as Record<string, (...args: unknown[]) => unknown>;
  const e64 = i64.exports as Record<string, (...args: unknown[]) => unknown>;
  const B = 1_000_000_000n;
  const calls: [string, number[]][] = [['grow', [1]], ['fill', [0, 1000]], ['copy', [100, 0, 1000]], ['copy', [0, 0, 15]], ['init', [200, 0, 5]], ['grow', [0]]];
  for (const [name, args] of calls) {
    const a = used(i32, B, () => e32[name](...args));
    const b = used(i64, B, () => e64[name](...args.map((x, i) => (name === 'init' && i > 0 ? x : BigInt(x)))));
    assert.is(a.trap, undefined, `${name} on wasm32`);
    assert.is(b.trap, undefined, `${name} on memory64`);
    assert.is(b.used, a.used, `${name}(${args}) costs the same on both`);
  }
  assert.is(e64.load(204n), 'o'.charCodeAt(0)); // "hello" went to 200..204
  assert.is(e32.load(204), 'o'.charCodeAt(0));
  const grow = used(i64, B, () => e64.grow(1n)).used;
  assert.ok(grow >= BigInt(GAS_COSTS.memoryGrow.base + GAS_COSTS.memoryGrow.perPage));

  // Sizes whose product would wrap (2^52 pages × 4096 = 2^64) or read negative (2^63 and up,
  // -1n): each is charged as 2^48 units, far past any budget, not as a small or negative charge.
  const cap = 1n << 48n;
  for (const delta of [1n << 52n, 1n << 62n, 1n << 63n, -1n, cap + 1n]) {
    const r = used(i64, B, () => e64.grow(delta));
    assert.ok(r.left < 0n, `grow(${delta}) runs out of gas`);
    assert.is(r.used, grow - BigInt(GAS_COSTS.memoryGrow.perPage) + BigInt(GAS_COSTS.memoryGrow.perPage) * cap, `grow(${delta}) charged for 2^48 pages`);
    // with a budget that pays for it, the grow fails as a grow past the maximum does
    setGas(i64, 1n << 62n);
    assert.is(e64.grow(delta), -1n);
    assert.is((1n << 62n) - gasLeft(i64), r.used);
  }
  for (const size of [-1n, 1n << 63n, 1n << 60n]) {
    const r = used(i64, B, () => e64.fill(0n, size));
    assert.ok(r.left < 0n, `fill(0, ${size}) runs out of gas before it traps out of bounds`);
    assert.match(String(r.trap), /unreachable/);
  }
  // Up to the cap the charge is the formula's: one page less, perPage less.
  assert.is(used(i64, B, () => e64.grow(cap - 1n)).used, used(i64, B, () => e64.grow(cap)).used - BigInt(GAS_COSTS.memoryGrow.perPage));
});

test.run();
