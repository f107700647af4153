// The `data` host module: a module reads the Arweave data items its signed Data-Import tags name
// (e.g. a model's weights), checked against their IDs, with gas by bytes and clear traps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { instrument, closeMeter } from '../engine/wasm/meter/index.ts';
import { DATA_IMPORT_TAG } from '../engine/wasm/host/data.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { getJson, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('data imports');
const ID = 'D'.repeat(43);
const MODULE = `(module
  (import "data" "size" (func $size (param i32) (result i32)))
  (import "data" "read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "size") (param i32) (result i32) (call $size (local.get 0)))
  (func (export "read") (param $len i32) (result i32) (call $read (i32.const 0) (i32.const 0) (i32.const 0) (local.get $len)))
  ;; reads [offset, offset + len) of import idx to address 0 and sums the bytes
  (func (export "sum") (param $idx i32) (param $off i32) (param $len i32) (result i32)
    (local $i i32) (local $s i32)
    (drop (call $read (local.get $idx) (local.get $off) (i32.const 0) (local.get $len)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s)))`;

const DATA = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
const sum = (from: number, to: number) => DATA.subarray(from, to).reduce((s, b) => s + b, 0);
let bytes: Uint8Array;
const dir = tempDir();
let node: RunningNode | undefined;

test.before(async () => {
  const wabt = await wabtInit();
  bytes = new Uint8Array(wabt.parseWat('data.wat', MODULE, {}).toBinary({}).buffer);
});
test.after(async () => {
  await node?.close();
  dir.remove();
  await closeMeter();
});

test('a module reads its data imports by index; a missing index has size -1', async () => {
  const loaded = { ...(await compileModule(ID, bytes)), data: [DATA, new Uint8Array(5)] };
  assert.is(callFunction(loaded, 'size', [0]).value, 3000);
  assert.is(callFunction(loaded, 'size', [1]).value, 5);
  assert.is(callFunction(loaded, 'size', [2]).value, -1);
  assert.is(callFunction(loaded, 'sum', [0, 100, 900]).value, sum(100, 1000));
  assert.is(callFunction({ ...loaded, data: [] }, 'size', [0]).value, -1, 'a module without Data-Import tags sees none');
});

test('reads outside the data or the memory trap with the reason', async () => {
  const loaded = { ...(await compileModule(ID, bytes)), data: [DATA] };
  const trap = (params: number[], pattern: RegExp) =>
    assert.throws(() => callFunction(loaded, 'sum', params), (e: HyperError) => e.kind === 'trap' && pattern.test(e.message));
  trap([0, 2990, 20], /bytes 2990\.\.3010 are outside data import 0 of 3000 bytes/);
  trap([1, 0, 1], /there is no index 1/);
  const big = { ...loaded, data: [new Uint8Array(70_000)] };
  assert.throws(() => callFunction(big, 'sum', [0, 0, 70_000]), /outside the module's 65536-byte memory/);
});

test('reads cost gas by bytes, the same every time', async () => {
  const loaded = { ...(await compileModule(ID, await instrument(bytes))), data: [DATA] };
  const read = (len: number) => callFunction(loaded, 'read', [len]).gas;
  assert.is(read(2008) - read(8), 250, 'one gas per 8 bytes read');
  assert.is(read(2001) - read(2000), 1, 'rounded up');
  assert.is(callFunction(loaded, 'sum', [0, 0, 2008]).gas, callFunction(loaded, 'sum', [0, 0, 2008]).gas, 'the same every time');
});

test('over HTTP: the node fetches the Data-Import item, checks it, and the call reads it', async () => {
  node = await testNode(join(dir.path, 'data'));
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const gateway = node.node.gateway;
  const dataId = await upload(DATA, { gateway, wallet, tags: [{ name: 'Content-Type', value: 'application/octet-stream' }, { name: 'Type', value: 'Data' }] });
  const moduleId = await upload(bytes, { gateway, wallet, tags: moduleTags([{ name: DATA_IMPORT_TAG, value: dataId }]) });
  const { status, body } = await getJson(`${node.url}/${moduleId}/Compute?wasm-function=sum&wasm-params=[0,10,2000]`);
  assert.is(status, 200, JSON.stringify(body));
  assert.is(body.result, sum(10, 2010));
  assert.ok(Buffer.from(DATA).equals(node.node.store.dataItems.get(dataId)!), 'kept in LMDB once verified');

  const missing = await upload(bytes, { gateway, wallet, tags: moduleTags([{ name: DATA_IMPORT_TAG, value: 'Z'.repeat(43) }]) });
  const refused = await getJson(`${node.url}/${missing}/Compute?wasm-function=size&wasm-params=[0]`);
  assert.is(refused.status, 404);
  assert.match(JSON.stringify(refused.body), /imports data Z{43} \(its Data-Import tag\), which cannot be had: no transaction/);
});

test.run();
