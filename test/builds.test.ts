// The AssemblyScript examples built and run: the WASM reader on real modules, deterministic
// calls through the module ABI, and byte-reproducible builds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { inspect, WasmFormatError } from '../engine/wasm/binary.ts';
import { compileModule, validateModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { buildModules } from '../modules/tools/build.ts';
import { hashSources, isFresh, writeStamp } from '../modules/tools/stamps.ts';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.ts';

const test = suite('builds');
const ID = 'A'.repeat(43);

test('the WASM reader finds export signatures, imports and limits', async () => {
  const built = await buildModules();
  const info = inspect(new Uint8Array(readFileSync(built.fac)));
  assert.equal(info.exportedFunction('fac'), { params: ['f64'], results: ['f64'] });
  assert.equal(info.exportedFunction('add'), { params: ['i32', 'i32'], results: ['i32'] });
  assert.is(info.exportedFunction('memory'), undefined);
  assert.ok(info.memories.length === 1);
  const text = inspect(new Uint8Array(readFileSync(built.text)));
  assert.equal(text.exportedFunction('transform'), { params: ['i32', 'i32'], results: ['i64'] });
  assert.throws(() => inspect(new TextEncoder().encode('hello world')), (e: Error) => e instanceof WasmFormatError && /starts with 68 65 6c 6c/.test(e.message));
  const bytes = new Uint8Array(readFileSync(built.fac));
  assert.throws(() => inspect(bytes.subarray(0, bytes.length - 3)), /truncated/);
});

test('calls are deterministic: same module and inputs, same bytes', async () => {
  const built = await buildModules();
  const text = await compileModule(ID, new Uint8Array(readFileSync(built.text)));
  const a = callFunction(text, 'transform', [{ text: 'déjà vu' }]);
  const b = callFunction(text, 'transform', [{ text: 'déjà vu' }]);
  assert.equal(a.bytes, b.bytes);
  assert.is((a.value as any).length, 7);
  const echo = callFunction(text, 'echo', [{ b: 1, a: 2 }]);
  assert.is(new TextDecoder().decode(echo.bytes), '[{"a":2,"b":1}]', 'the module receives canonical JSON');
  const fac = await compileModule(ID, new Uint8Array(readFileSync(built.fac)));
  assert.is(callFunction(fac, 'fac', [5.0]).value, 120);
  assert.is(new TextDecoder().decode(callFunction(fac, 'fac', [5]).bytes), '120');
  assert.throws(() => callFunction(fac, 'hw_alloc', [1]), (e: HyperError) => e.kind === 'not-found');
});

test('module builds are reproducible', async () => {
  const before = readFileSync((await buildModules()).kernel);
  const rebuilt = readFileSync((await buildModules({ force: true })).kernel);
  assert.equal(new Uint8Array(before), new Uint8Array(rebuilt));
});

test('validateModule refuses what compileModule refuses, with the same errors, and compiles nothing it accepts', async () => {
  const good = new Uint8Array(readFileSync((await buildModules()).fac));
  const garbled = good.slice();
  garbled[garbled.length - 6] ^= 0xff;
  const bad = [new TextEncoder().encode('hello world'), good.subarray(0, good.length - 4), garbled, good.subarray(0, 8)];
  const message = (p: Promise<unknown>) => p.then(() => 'accepted', (e: HyperError) => `${e.kind}: ${e.message}`);
  for (const bytes of bad) assert.is(await message(validateModule(ID, bytes)), await message(compileModule(ID, bytes)));
  const compile = WebAssembly.compile;
  let compiled = 0;
  WebAssembly.compile = (...args) => (compiled++, compile(...args));
  try {
    assert.equal((await validateModule(ID, good)).exportedFunction('fac'), { params: ['f64'], results: ['f64'] });
    await compileModule(ID, good);
  } finally {
    WebAssembly.compile = compile;
  }
  assert.is(compiled, 1, 'only compileModule compiled');
});

test('a build is fresh by the hash of its sources, not by the clock', () => {
  const dir = tempDir();
  try {
    const source = join(dir.path, 'a.ts');
    const output = join(dir.path, 'a.wasm');
    writeFileSync(source, 'export const a = 1;');
    writeFileSync(output, 'built');
    const sources = hashSources(dir.path, [source], ['asc@1']);
    assert.is.not(hashSources(dir.path, [source], ['asc@2']), sources, 'the compiler version is a source');
    writeStamp(output, sources);
    assert.ok(isFresh(output, sources, [source]));
    const later = new Date(Date.now() + 60_000);
    utimesSync(source, later, later);
    assert.ok(isFresh(output, hashSources(dir.path, [source], ['asc@1']), [source]), 'a touched but unchanged source rebuilds nothing');
    writeFileSync(source, 'export const a = 2;');
    assert.not.ok(isFresh(output, hashSources(dir.path, [source], ['asc@1']), [source]), 'a changed source is stale');
    writeFileSync(source, 'export const a = 1;');
    assert.ok(isFresh(output, sources, [source]), 'an edit undone is fresh again');
    writeFileSync(output, 'half a build');
    assert.not.ok(isFresh(output, sources, [source]), 'an output that is not the stamped one is stale');
  } finally {
    dir.remove();
  }
});

test('an output from before stamps is adopted only when newer than every source', () => {
  const dir = tempDir();
  try {
    const source = join(dir.path, 'a.ts');
    const output = join(dir.path, 'a.wasm');
    writeFileSync(source, 'x');
    writeFileSync(output, 'built');
    const earlier = new Date(Date.now() - 60_000);
    utimesSync(output, earlier, earlier);
    const sources = hashSources(dir.path, [source]);
    assert.not.ok(isFresh(output, sources, [source]), 'older than its source: stale, as before');
    utimesSync(output, new Date(), new Date());
    utimesSync(source, earlier, earlier);
    assert.ok(isFresh(output, sources, [source]), 'newer: adopted');
    utimesSync(source, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    assert.ok(isFresh(output, sources, [source]), 'and stamped: the clock no longer matters');
  } finally {
    dir.remove();
  }
});

test('a second build of unchanged sources starts no compiler and logs nothing', async () => {
  await buildModules();
  const lines: string[] = [];
  const started = performance.now();
  await buildModules({ log: (line) => lines.push(line) });
  assert.equal(lines, []);
  assert.ok(performance.now() - started < 2_000, 'a hash check, not a build');
});

test.run();
