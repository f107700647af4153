// Our own meter (engine/wasm/meter) on aos modules: the instrumented aos 2 build (wasm32) gives
// the same result text and the same memory as the uninstrumented one on every message, counts a
// deterministic gas per message, and stops a runaway loop with out of gas, after which the
// process continues from the memory before it, as after any failed message. The aos builds come
// from scripts/fetch-aos.mjs (.cache/aos/); these tests skip without them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AoSession } from '../engine/wasm/ao/session.ts';
import { closeMeter, instrument } from '../engine/wasm/meter/index.ts';
import { FIXTURES, history, SUITES, WASM32 } from './ao/suites.ts';

const test = suite('ao-meter');
const FILE = join(import.meta.dirname, '..', '.cache', 'aos', 'aos2_0_4_32.wasm');
const missing = !existsSync(FILE);
if (missing) console.log('ao-meter: skipped: .cache/aos/aos2_0_4_32.wasm is missing (scripts/fetch-aos.mjs fetches it; it needs the npm registry)');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const fixture = FIXTURES.find((f) => f.file === 'aos2_0_4_32.wasm')!;
const h = history(fixture, SUITES.filter((s) => ['eval', 'state', 'errors', 'send', 'handlers'].includes(s.name)));
let plain: WebAssembly.Module;
let metered: WebAssembly.Module;

test.before(async () => {
  if (missing) return;
  const bytes = readFileSync(FILE);
  plain = new WebAssembly.Module(bytes);
  metered = new WebAssembly.Module(await instrument(bytes));
});
test.after(() => closeMeter());

const run = (module: WebAssembly.Module, meterBudget?: number) => {
  const session = new AoSession(module, WASM32, { meterBudget });
  return { session, results: h.inputs.map(({ msg, env }) => session.step(msg, env)) };
};

(missing ? test.skip : test)('metered aos 2 answers every message with the same text and memory as unmetered, and counts its gas', () => {
  const a = run(plain);
  const b = run(metered);
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
  assert.equal(run(metered).results.map((r) => r.meterGas), b.results.map((r) => r.meterGas));
});

(missing ? test.skip : test)('a runaway loop runs out of our gas, and the next message sees the memory from before it', () => {
  const session = new AoSession(metered, WASM32, { meterBudget: 1_000_000_000 });
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
  // aos warns that the nonce skipped one (the failed message's state was rolled back), then answers 7
  assert.match(after.text, /\\n7"\},"Messages"/);
});

(missing ? test.skip : test)('the memory64 aos builds are refused by the meter with the reason', async () => {
  const bytes = readFileSync(join(import.meta.dirname, '..', '.cache', 'aos', 'aos2_0_6.wasm'));
  try {
    await instrument(bytes);
    assert.unreachable('memory64 is not metered yet');
  } catch (error) {
    assert.match((error as Error).message, /memory64/i);
  }
});

test.run();
