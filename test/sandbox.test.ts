// The sandbox worker (engine/wasm/sandbox/) gets a module's bytes once: later calls go without
// them, a replaced worker is sent them again, and a worker that lacks a module it was not sent
// (evicted) says so and is sent them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Sandbox } from '../engine/wasm/sandbox/index.ts';

const ID = 'M'.repeat(43);
// (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
const MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 100, 105, 118, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 109, 11]);
const NOT_A_MODULE = new Uint8Array([1, 2, 3]);

test('bytes cross once per worker', async () => {
  const sandbox = new Sandbox();
  try {
    assert.is((await sandbox.call(ID, MODULE, 'div', [84, 2])).value, 42);
    // Were these bytes sent, the call would fail to compile them.
    assert.is((await sandbox.call(ID, NOT_A_MODULE, 'div', [9, 3])).value, 3);
    // A new worker compiled nothing: it is sent the bytes again.
    await (sandbox as unknown as { line: { crash(): Promise<void> } }).line.crash();
    const refused = await sandbox.call(ID, NOT_A_MODULE, 'div', [1, 1]).then(() => undefined, (error: Error) => error);
    assert.match(refused?.message ?? '', /is not a WebAssembly module/, 'the bad bytes were sent to the new worker, which refused them');
    assert.is((await sandbox.call(ID, MODULE, 'div', [10, 5])).value, 2);
  } finally {
    await sandbox.close();
  }
});

test('a worker without a module it was not sent asks for it', async () => {
  const sandbox = new Sandbox();
  try {
    await sandbox.call(ID, MODULE, 'div', [1, 1]); // starts the worker
    const other = 'O'.repeat(43);
    (sandbox as unknown as { sent: Set<string> }).sent.add(other); // as if sent, then evicted
    assert.is((await sandbox.call(other, MODULE, 'div', [12, 4])).value, 3);
  } finally {
    await sandbox.close();
  }
});

test.run();
