// Bad input, each answered with a specific status and a message a person understands,
// while the node keeps serving and nothing wrong enters the cache.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { cli, getJson, tempDir, testNode } from './helpers.ts';
import { readFileSync } from 'node:fs';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('bad input');
const dir = tempDir();
let node: RunningNode;
const ids: Record<string, string> = {};
const UNKNOWN = 'A'.repeat(43);

async function uploadFile(bytes: Uint8Array, tags = moduleTags()) {
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  return upload(bytes, { gateway: node.node.gateway, wallet, tags });
}

const fac = () => `${node.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`;
async function stillServes() {
  const { status, body } = await getJson(fac());
  assert.is(status, 200);
  assert.is(body.result, 120);
}

test.before(async () => {
  const built = await buildModules();
  node = await testNode(join(dir.path, 'data'));
  ids.fac = await uploadFile(new Uint8Array(readFileSync(built.fac)));
  ids.text = await uploadFile(new Uint8Array(readFileSync(built.text)));
  ids.notWasm = await uploadFile(new TextEncoder().encode('{"hello": "not a module"}'), [{ name: 'Content-Type', value: 'application/json' }]);
  ids.importer = await uploadFile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 13, 1, 3, 101, 110, 118, 5, 99, 108, 111, 99, 107, 0, 0]));
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

const cases: [string, string, number, RegExp][] = [
  ['unbalanced parentheses', '/(abc/compute', 400, /unbalanced parentheses/],
  ['a bad type', '/x?n+int=1', 400, /unknown type "int"/],
  ['a non-ID base', '/abc/compute?wasm-function=fac', 400, /not a module ID/],
  ['no wasm-function', `/${UNKNOWN}/compute`, 400, /wasm-function/],
  ['params that are not JSON', `/${UNKNOWN}/compute?wasm-function=f&wasm-params=[5,`, 400, /JSON array/],
  ['params that are not an array', `/${UNKNOWN}/compute?wasm-function=f&wasm-params=5`, 400, /JSON array/],
  ['an unknown route', '/nothing/here', 404, /no route/],
  ['an unknown ID', `/${UNKNOWN}/compute?wasm-function=fac&wasm-params=[1]`, 404, /no transaction/],
];
for (const [name, path, status, message] of cases) {
  test(`${name} → ${status}`, async () => {
    const { status: got, body } = await getJson(`${node.url}${path}`);
    assert.is(got, status, JSON.stringify(body));
    assert.match(body.message, message);
    await stillServes();
  });
}

test('an ID whose data is not WASM → 422', async () => {
  const { status, body } = await getJson(`${node.url}/${ids.notWasm}/compute?wasm-function=f`);
  assert.is(status, 422);
  assert.match(body.message, /is not a WebAssembly module: it starts with 7b 22/);
  await stillServes();
});

test('a module importing what is not granted → 422 naming the import', async () => {
  const { status, body } = await getJson(`${node.url}/${ids.importer}/compute?wasm-function=f`);
  assert.is(status, 422);
  assert.match(body.message, /env\.clock \(function\)/);
});

test('unknown function → 404 listing the exports', async () => {
  const { status, body } = await getJson(`${node.url}/${ids.fac}/compute?wasm-function=nope`);
  assert.is(status, 404);
  assert.match(body.message, /no exported function "nope" \(it exports: .*fac/);
});

test('wrong parameter count or type → 400', async () => {
  let r = await getJson(`${node.url}/${ids.fac}/compute?wasm-function=fac&wasm-params=[1,2]`);
  assert.is(r.status, 400);
  assert.match(r.body.message, /fac takes 1 parameter \(f64\), got 2/);
  r = await getJson(`${node.url}/${ids.fac}/compute?wasm-function=add&wasm-params=[1,"x"]`);
  assert.is(r.status, 400);
  assert.match(r.body.message, /parameter 2 of add must be an i32 integer, got "x"/);
});

test('a trap → 422 with the trap message, never cached', async () => {
  const url = `${node.url}/${ids.fac}/compute?wasm-function=divide&wasm-params=[1,0]`;
  for (let i = 0; i < 2; i++) {
    const { status, body } = await getJson(url);
    assert.is(status, 422);
    assert.match(body.message, /divide trapped: divide by zero/);
  }
  const abort = await getJson(`${node.url}/${ids.text}/compute?wasm-function=fail&wasm-params=[]`);
  assert.is(abort.status, 422);
  assert.match(abort.body.message, /fail was called/);
  await stillServes();
});

test('an infinite loop over HTTP → 422 out of gas in bounded time, and the node serves others', async () => {
  // (module (func (export "spin") (loop $l (br $l))))
  const spin = await uploadFile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 8, 1, 4, 115, 112, 105, 110, 0, 0, 10, 9, 1, 7, 0, 3, 64, 12, 0, 11, 11]));
  const { status, body } = await getJson(`${node.url}/${spin}/compute?wasm-function=spin&gas-limit=5000000`);
  assert.is(status, 422, JSON.stringify(body));
  assert.is(body.error, 'out-of-gas');
  assert.match(body.message, /spin ran out of gas: its budget of 5000000 was used up/);
  await stillServes();
});

test('a call that outlives the wall-clock guard → 503, not a result, and the node serves others', async () => {
  const guarded = await testNode(join(dir.path, 'guarded'), { gateway: node.gatewayUrl, callGuardMs: 300 });
  try {
    // (module (func (export "spin") (loop $l (br $l)))) with a budget far beyond 300 ms of work
    const spin = await uploadFile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 8, 1, 4, 115, 112, 105, 110, 0, 0, 10, 9, 1, 7, 0, 3, 64, 12, 0, 11, 11]));
    const started = Date.now();
    const { status, body } = await getJson(`${guarded.url}/${spin}/compute?wasm-function=spin&gas-limit=90000000000000`);
    assert.is(status, 503, JSON.stringify(body));
    assert.is(body.error, 'timeout');
    assert.match(body.message, /wall-clock guard of 300 ms .* not a result \(not cached, not attested\)/);
    assert.ok(Date.now() - started < 30_000);
    const again = await getJson(`${guarded.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`);
    assert.is(again.status, 200, JSON.stringify(again.body));
    assert.is(again.body.result, 120);
  } finally {
    await guarded.close();
  }
});

test('a gateway that lies about the bytes → 422, and nothing is kept', async () => {
  // A real HTTP gateway in front of arlocal that flips one byte of every data body.
  const liar = http.createServer(async (req, res) => {
    const upstream = await fetch(`${node.gatewayUrl}${req.url}`);
    let body = new Uint8Array(await upstream.arrayBuffer());
    if (/^\/[A-Za-z0-9_-]{43}$/.test(req.url ?? '')) { body = body.slice(); body[body.length - 1] ^= 1; }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
  const other = await testNode(join(dir.path, 'lied-to'), { gateway: `http://127.0.0.1:${(liar.address() as AddressInfo).port}` });
  try {
    for (let i = 0; i < 2; i++) {
      const { status, body } = await getJson(`${other.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`);
      assert.is(status, 422);
      assert.match(body.message, /does not match its signed ID: the data does not hash to the signed data_root/);
    }
    assert.is(other.node.store.modules.get(ids.fac), undefined);
  } finally {
    await other.close();
    liar.close();
  }
});

test('a gateway that is down → 503 with a retry hint, without hanging', async () => {
  const down = http.createServer();
  await new Promise<void>((r) => down.listen(0, '127.0.0.1', () => r()));
  const port = (down.address() as AddressInfo).port;
  await new Promise<void>((r) => down.close(() => r()));
  const other = await testNode(join(dir.path, 'no-gateway'), { gateway: `http://127.0.0.1:${port}` });
  try {
    const response = await fetch(`${other.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`);
    assert.is(response.status, 503);
    assert.is(response.headers.get('retry-after'), '5');
    assert.match(((await response.json()) as any).message, /did not answer .*try again/);
    const info = await getJson(`${other.url}/~meta@1.0/info`);
    assert.is(info.status, 200);
  } finally {
    await other.close();
  }
});

test('the upload CLI refuses non-WASM bytes before uploading', async () => {
  const file = join(dir.path, 'notes.txt');
  writeFileSync(file, 'hello, not wasm');
  const result = await cli(['upload', file, '--gateway', node.gatewayUrl], { HYPERWASM_HOME: join(dir.path, 'config') });
  assert.is(result.code, 2);
  assert.match(result.stderr, /is not a WebAssembly module: it starts with 68 65 6c 6c/);
  assert.is(result.stdout, '');
  const truncated = join(dir.path, 'truncated.wasm');
  writeFileSync(truncated, readFileSync((await buildModules()).fac).subarray(0, 40));
  const bad = await cli(['upload', truncated, '--gateway', node.gatewayUrl], { HYPERWASM_HOME: join(dir.path, 'config') });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /not a valid module/);
});

test.run();
