// The AO host (engine/wasm/ao/): its format table and refusals, the memory64 flag reaching
// worker threads, and real aos builds (wasm32 emscripten4 and memory64) answering Eval,
// keeping state, rolling back after an error, resuming from a snapshot and repeating
// themselves byte for byte. The byte-for-byte comparison with ao-loader is test/ao-oracle.test.ts;
// the aos builds come from scripts/fetch-aos.mjs (.cache/aos/), and these tests skip without them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import wabtInit from 'wabt';
import { HyperError } from '../engine/protocol/errors.ts';
import { aoFormat, parseMemoryLimit, SUPPORTED_FORMATS } from '../engine/wasm/ao/formats.ts';
import { checkImports, provides } from '../engine/wasm/ao/imports.ts';
import { AoInstance } from '../engine/wasm/ao/instance.ts';
import { enableMemory64 } from '../engine/wasm/ao/memory64.ts';
import { AoSession } from '../engine/wasm/ao/session.ts';

const test = suite('ao-host');
const ROOT = join(import.meta.dirname, '..');
const AOS = join(ROOT, '.cache', 'aos');
const WASM32 = 'wasm32-unknown-emscripten4';
const WASM64 = 'wasm64-unknown-emscripten-draft_2024_02_15';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

enableMemory64();

/** A 422 whose message contains every one of `parts`. */
function refused(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, HyperError);
    assert.is((error as HyperError).code, 'unprocessable');
    for (const part of parts) assert.ok((error as Error).message.includes(part), `${(error as Error).message} names ${part}`);
    return;
  }
  assert.unreachable('expected a 422');
}

test('the format table: what each supported format starts, reads and reserves', () => {
  assert.equal(SUPPORTED_FORMATS, [WASM32, WASM64, 'wasm32-unknown-emscripten2']);
  const four = aoFormat(WASM32);
  assert.is(four.pointer, 'i32');
  assert.is(four.startup, 'ctors');
  assert.is(four.clock, 'counter');
  assert.equal(four.environ, []);
  assert.is(four.stringBytes('é', 2), 3);
  assert.is(four.heapMax, 4_294_901_760);
  const wide = aoFormat(WASM64);
  assert.is(wide.pointer, 'i64');
  assert.is(wide.heapMax, 17_179_869_184);
  const two = aoFormat('wasm32-unknown-emscripten2');
  assert.is(two.startup, 'main');
  assert.is(two.clock, 'zero');
  assert.equal(two.argv, ['thisProgram']);
  assert.is(two.environ.length, 7);
  assert.is(two.stringBytes('é', 2), 5); // (length << 2) + 1
});

test('an unknown Module-Format is a 422 naming it and listing the supported ones', () => {
  refused(() => aoFormat('wasm32-unknown-emscripten9'), 'wasm32-unknown-emscripten9', WASM32, WASM64);
  refused(() => aoFormat('toString'), 'toString');
});

test('Memory-Limit sizes', () => {
  assert.is(parseMemoryLimit('1-gb'), 1024 ** 3);
  assert.is(parseMemoryLimit('500-mb'), 500 * 1024 ** 2);
  assert.is(parseMemoryLimit('65536'), 65536);
  refused(() => parseMemoryLimit('lots'), 'lots', '500-mb');
});

test('imports outside the host set are refused before instantiation, all of them named', async () => {
  const wabt = await wabtInit();
  const wat = `(module
    (import "env" "emscripten_date_now" (func (result f64)))
    (import "env" "steal_keys" (func))
    (import "wasi_snapshot_preview1" "sock_open" (func))
    (import "env" "invoke_vii" (func (param i32 i32 i32)))
    (memory (export "memory") 1)
    (func (export "handle") (param i32 i32) (result i32) (i32.const 0)))`;
  const module = new WebAssembly.Module(new Uint8Array(wabt.parseWat('bad.wat', wat, {}).toBinary({}).buffer));
  refused(() => checkImports(module, 'bad.wasm'), 'bad.wasm imports env.steal_keys, wasi_snapshot_preview1.sock_open, which the AO host does not provide');
  refused(() => AoInstance.create(module, WASM32), 'env.steal_keys');
  assert.ok(provides('env', 'invoke_vjj'));
  assert.ok(provides('metering', 'usegas'));
  assert.not.ok(provides('env', 'invoke_'));
});

test('the memory64 flag set on the main thread holds in a worker started later', async () => {
  // a module with one memory64 memory (flags 0x04) of one page: Node 20 compiles it only with the flag
  const bytes = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 1];
  assert.ok(WebAssembly.validate(new Uint8Array(bytes)));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let answer;
     try { new WebAssembly.Module(new Uint8Array(workerData)); answer = 'compiled'; } catch (e) { answer = e.message; }
     parentPort.postMessage(answer);`,
    { eval: true, workerData: bytes },
  );
  const answer = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  assert.is(answer, 'compiled');
});

test('a pre-metered module (metering.usegas) reports GasUsed, runs out of gas, and the next message rolls back', async () => {
  // No aos build on npm is pre-metered (none imports metering.usegas), so this is a minimal
  // module with the emscripten exports the host drives: handle() pays 10 gas per byte of the
  // message JSON, counts its calls at address 4096 and answers {"Output": <that count>}.
  const wabt = await wabtInit();
  const wat = `(module
    (import "metering" "usegas" (func $gas (param i64)))
    (memory (export "memory") 2)
    (global $sp (mut i32) (i32.const 65536))
    (func (export "emscripten_stack_init"))
    (func (export "emscripten_stack_get_end") (result i32) (i32.const 1024))
    (func (export "emscripten_stack_get_current") (result i32) (global.get $sp))
    (func (export "_emscripten_stack_restore") (param i32) (global.set $sp (local.get 0)))
    (func (export "_emscripten_stack_alloc") (param i32) (result i32)
      (global.set $sp (i32.and (i32.sub (global.get $sp) (local.get 0)) (i32.const -16))) (global.get $sp))
    (func (export "__wasm_call_ctors"))
    (func (export "malloc") (param i32) (result i32) (i32.const 0))
    (func (export "free") (param i32))
    (data (i32.const 2048) "{\\"ok\\":true,\\"response\\":{\\"Output\\":0}}")
    (func (export "handle") (param $msg i32) (param $env i32) (result i32)
      (i32.store (i32.const 4096) (i32.add (i32.load (i32.const 4096)) (i32.const 1)))
      (block $done (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $msg))))
        (call $gas (i64.const 10))
        (local.set $msg (i32.add (local.get $msg) (i32.const 1)))
        (br $next)))
      ;; the count as one digit into the answer's Output
      (i32.store8 (i32.const 2080) (i32.add (i32.const 48) (i32.rem_u (i32.load (i32.const 4096)) (i32.const 10))))
      (i32.const 2048)))`;
  const module = new WebAssembly.Module(new Uint8Array(wabt.parseWat('metered.wat', wat, {}).toBinary({}).buffer));
  const short = { Data: 'x' };
  const long = { Data: 'x'.repeat(200) };
  const session = new AoSession(module, WASM32, { computeLimit: 1000 });
  const first = session.step(short, {});
  assert.equal(first, { text: '{"Output":1}', ok: true, gas: 10 * JSON.stringify(short).length });
  const over = session.step(long, {});
  assert.equal(over, { text: '', ok: false, gas: 1010, threw: 'out of gas!' });
  // the next message runs on the memory from before the failed one: the count is 2, not 3
  assert.is(session.step(short, {}).text, '{"Output":2}');
});

// --- real aos builds -------------------------------------------------------------------------

const id = (c: string) => c.repeat(43);
const PID = id('P');
const OWNER = id('O');
const MODULE_ID = id('M');
const spawnTags = [
  { name: 'Data-Protocol', value: 'ao' }, { name: 'Variant', value: 'ao.TN.1' }, { name: 'Type', value: 'Process' },
  { name: 'Module', value: MODULE_ID }, { name: 'Scheduler', value: id('S') }, { name: 'Content-Type', value: 'text/plain' },
];
const envFor = (format: string) => ({
  Process: { Id: PID, Owner: OWNER, Tags: spawnTags },
  Module: { Id: MODULE_ID, Owner: OWNER, Tags: [{ name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Module' }, { name: 'Module-Format', value: format }] },
});
/** Slot 0: the spawn item itself (aos 2 needs its Module tag and Block-Height). */
const spawn = { Id: PID, Signature: 'sig', Data: '', Owner: OWNER, Target: PID, Anchor: '', From: OWNER, Tags: spawnTags, Timestamp: '1700000000000', 'Block-Height': '1000', Cron: false };
const evalMsg = (n: number, data: string) => ({
  Id: `m${String(n).padStart(42, '0')}`, Signature: `sig${n}`, Data: data, Owner: OWNER, Target: PID, Anchor: '', From: OWNER,
  Tags: [{ name: 'Action', value: 'Eval' }], Epoch: 0, Nonce: n, Timestamp: String(1700000000000 + n * 1000), 'Block-Height': String(1000 + n),
  'Hash-Chain': `hc${n}`, Cron: false,
});
const data = (text: string) => JSON.parse(text).Output?.data;

const builds = [
  { file: 'aos2_0_4_32.wasm', format: WASM32 },
  { file: 'aos2_0_6.wasm', format: WASM64 },
];

for (const { file, format } of builds) {
  const path = join(AOS, file);
  const available = existsSync(path);
  const named = (what: string) => `${file} (${format}): ${what}${available ? '' : ' — skipped: .cache/aos/ has no aos builds (node scripts/fetch-aos.mjs)'}`;
  const maybe = available ? test : test.skip;
  const load = () => new WebAssembly.Module(readFileSync(path));
  const env = envFor(format);

  maybe(named('Eval of 1+1 answers 2; state lasts across messages'), () => {
    const session = new AoSession(load(), format);
    const start = session.step(spawn, env);
    assert.ok(start.ok, start.text);
    assert.is(data(session.step(evalMsg(1, '1+1'), env).text), '2');
    session.step(evalMsg(2, 'Count = 41'), env);
    assert.is(data(session.step(evalMsg(3, 'Count + 1'), env).text), '42');
  });

  maybe(named('an Error rolls back to the memory from before it'), () => {
    const session = new AoSession(load(), format);
    session.step(spawn, env);
    session.step(evalMsg(1, 'Count = 1'), env);
    const failed = session.step(evalMsg(2, 'Count = 2; error("boom")'), env);
    assert.not.ok(failed.ok);
    assert.ok(JSON.parse(failed.text).Error.includes('boom'), failed.text);
    const after = data(session.step(evalMsg(3, 'Count'), env).text);
    assert.ok(after.endsWith('1'), `Count after the rollback: ${after}`); // aos prefixes a nonce warning
  });

  maybe(named('the same inputs twice give the same texts and the same memory'), () => {
    const runOnce = () => {
      const instance = AoInstance.create(load(), format);
      const texts = [spawn, evalMsg(1, 'x = {} for i = 1, 1000 do x["k" .. i] = i end'), evalMsg(2, 'local t = {} for k in pairs(x) do t[#t + 1] = k if #t == 5 then break end end return table.concat(t, ",")')]
        .map((m) => instance.handle(m, env).text);
      return { texts, memory: sha256(instance.memory()) };
    };
    assert.equal(runOnce(), runOnce());
  });

  maybe(named('a snapshot (memory and clock) resumes exactly'), () => {
    const live = AoInstance.create(load(), format);
    live.handle(spawn, env);
    live.handle(evalMsg(1, 'Count = 1'), env);
    const resumed = AoInstance.create(load(), format, { resume: live.state() });
    const next = evalMsg(2, 'Count = Count + 1; return os.clock()');
    assert.is(resumed.handle(next, env).text, live.handle(next, env).text);
    assert.is(sha256(resumed.memory()), sha256(live.memory()));
  });

  maybe(named('initial memory over Memory-Limit is refused'), () => {
    refused(() => AoInstance.create(load(), format, { memoryLimit: 16 * 1024 * 1024 }), 'Memory-Limit');
  });
}

const SQLITE = join(AOS, 'sqlite.wasm');
(existsSync(SQLITE) ? test : test.skip)('sqlite.wasm (memory64): create, insert, select', () => {
  const env = envFor(WASM64);
  const session = new AoSession(new WebAssembly.Module(readFileSync(SQLITE)), WASM64);
  session.step(spawn, env);
  const steps = [
    'sqlite3 = require("lsqlite3"); db = sqlite3.open_memory(); return "open"',
    'db:exec([[CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);]]); return "created"',
    'for i = 1, 20 do db:exec("INSERT INTO t (name) VALUES (\'n" .. i .. "\')") end return "inserted"',
    'local r = {} for row in db:nrows("SELECT id, name FROM t WHERE id % 10 = 0") do r[#r + 1] = row.id .. "=" .. row.name end return table.concat(r, ";")',
  ];
  const outputs = steps.map((code, i) => JSON.parse(session.step(evalMsg(i + 1, code), env).text).Output.data.output);
  assert.equal(outputs, ['open', 'created', 'inserted', '10=n10;20=n20']);
});

(existsSync(join(AOS, 'aos2_0_4_32.wasm')) ? test : test.skip)('hyperwasm ao-eval prints one line per input and names a malformed line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ao-eval-'));
  try {
    const env = envFor(WASM32);
    const good = join(dir, 'in.jsonl');
    writeFileSync(good, [spawn, evalMsg(1, '1+1'), evalMsg(2, 'error("x")'), evalMsg(3, '2+2')].map((msg) => JSON.stringify({ msg, env })).join('\n') + '\n');
    const cli = (input: string) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', `
        const { aoEvalCommand } = await import('./cli/ao-eval.ts');
        const { parse } = await import('./cli/command.ts');
        process.exitCode = await aoEvalCommand.run(parse(aoEvalCommand, process.argv.slice(1)));`,
      '--', '--module', join(AOS, 'aos2_0_4_32.wasm'), '--format', WASM32, '--in', input], { cwd: ROOT, maxBuffer: 1 << 26 });
    const { stdout } = await cli(good);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(lines.map((l) => l.i), [0, 1, 2, 3]);
    assert.is(lines[1].result.Output.data, '2');
    assert.ok(lines[2].result.Error.includes('x'));
    assert.ok(Object.keys(lines[1].result)[0] === 'Output', 'the loader\'s key order');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ msg: spawn, env })}\n{"msg": oops}\n`);
    const failed = await cli(bad).then(() => undefined, (error) => error);
    assert.ok(failed, 'a malformed line fails the command');
    assert.ok(String(failed.stderr).includes('line 2 of'), failed.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
