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

test.run();
