// End to end on the real parts: a node with its embedded arlocal, a module uploaded with
// the CLI, Compute over HTTP, the LMDB result cache, and a restart.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildModules } from '../modules/tools/build.ts';
import { instrument, meterRunning, METER_IDLE_MS } from '../engine/wasm/meter/index.ts';
import { hashpath } from '../engine/protocol/hashpath.ts';
import { messageId } from '../engine/protocol/message.ts';
import { cli, getJson, lastLine, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('node end to end');
const dir = tempDir();
let node: RunningNode;
let facId = '';
let textId = '';
const env = { HYPERWASM_HOME: join(dir.path, 'config') };

test.before(async () => {
  await buildModules();
  node = await testNode(join(dir.path, 'data'), { arlocalPort: 0 });
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('upload CLI prints the new ID as its last stdout line', async () => {
  const built = await buildModules();
  const result = await cli(['upload', built.fac, '--gateway', node.gatewayUrl], env);
  assert.is(result.code, 0, result.stderr);
  facId = lastLine(result.stdout);
  assert.match(facId, /^[A-Za-z0-9_-]{43}$/);
  assert.match(result.stderr, /100%/);
  const tags = await node.node.gateway.tags(facId);
  const tag = (name: string) => tags.find((t) => t.name === name)?.value;
  assert.is(tag('Content-Type'), 'application/wasm');
  assert.is(tag('Type'), 'Module');
  assert.is(tag('Data-Protocol'), 'hyperwasm');
  assert.is(tag('Module-Format'), 'wasm32-hyperwasm-abi1');
  const text = await cli(['upload', built.text, '--gateway', node.gatewayUrl], env);
  assert.is(text.code, 0, text.stderr);
  textId = lastLine(text.stdout);
});

test('fac(5.0) = 120 over HTTP, with hashpath, then a cache hit', async () => {
  const url = `${node.url}/${facId}/Compute?wasm-function=fac&wasm-params=[5.0]`;
  const first = await getJson(url);
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.is(first.body.result, 120);
  assert.is(first.body.function, 'fac');
  assert.is(first.body.module, facId);
  assert.is(first.body.cache, 'miss');
  const expected = hashpath(facId, { path: 'compute', 'wasm-function': 'fac', 'wasm-params': [5] });
  assert.is(first.body.hashpath, expected);
  assert.is(expected, `${facId}/${messageId({ path: 'compute', 'wasm-function': 'fac', 'wasm-params': [5] })}`);

  const second = await getJson(url);
  assert.is(second.body.cache, 'hit');
  assert.is(second.headers.get('x-cache'), 'hit');
  assert.equal({ ...second.body, cache: 'miss' }, first.body);
});

test('JSON through the memory ABI', async () => {
  const params = encodeURIComponent(JSON.stringify([{ text: 'hello' }]));
  const { status, body } = await getJson(`${node.url}/${textId}/Compute?wasm-function=transform&wasm-params=${params}`);
  assert.is(status, 200, JSON.stringify(body));
  assert.is(body['result-encoding'], 'json');
  assert.equal(body.result, { text: 'hello', upper: 'HELLO', length: 5, reversed: 'olleh', words: 1 });
});

test('the compute CLI prints result and hashpath', async () => {
  const result = await cli(['compute', facId, 'fac', '[6]', '--node', node.url], env);
  assert.is(result.code, 0, result.stderr);
  const [value, path] = result.stdout.trim().split('\n');
  assert.is(value, '720');
  assert.match(path, new RegExp(`^hashpath: ${facId}/`));
});

test('processes from the CLI: spawn, send, schedule, compute --slot', async () => {
  const built = await buildModules();
  const counter = lastLine((await cli(['upload', built.counter, '--gateway', node.gatewayUrl], env)).stdout);
  const spawn = await cli(['spawn', counter, '--node', node.url, '--tag', 'Name=cli-test'], env);
  assert.is(spawn.code, 0, spawn.stderr);
  const pid = lastLine(spawn.stdout);
  assert.match(pid, /^[A-Za-z0-9_-]{43}$/);
  for (const expected of ['1', '2']) {
    const send = await cli(['send', pid, '--data', 'hi', '--tag', 'Action=Add', '--node', node.url], env);
    assert.is(send.code, 0, send.stderr);
    assert.is(lastLine(send.stdout), expected);
  }
  const schedule = await cli(['schedule', pid, '--node', node.url], env);
  assert.is(schedule.code, 0, schedule.stderr);
  assert.is(schedule.stdout.trim().split('\n').length, 3);
  assert.match(schedule.stdout, new RegExp(`^\\s+0  ${pid}`));
  const result = await cli(['compute', pid, '--slot', '2', '--node', node.url], env);
  assert.is(result.code, 0, result.stderr);
  assert.is(result.stdout.split('\n')[0], '{"count":2}');
  assert.match(result.stdout, /hashpath: /);
});

test('the cache survives a node restart', async () => {
  await node.close();
  node = await testNode(join(dir.path, 'data'), { arlocalPort: 0 });
  const again = await getJson(`${node.url}/${facId}/Compute?wasm-function=fac&wasm-params=[5.0]`);
  assert.is(again.body.cache, 'hit');
  assert.is(again.body.result, 120);
});

test('~meta@1.0/gpu names the adapter serving the kernels (or the CPU references, and why)', async () => {
  const { status, body } = await getJson(`${node.url}/~meta@1.0/gpu`);
  assert.is(status, 200, JSON.stringify(body));
  assert.ok(body.backend === 'gpu' || body.backend === 'cpu');
  assert.type(body.isFallbackAdapter, 'boolean');
  if (body.backend === 'cpu') assert.type(body.reason, 'string');
  else assert.type(body.vendor, 'string');
});

test('~meta@1.0/info names version, address, gateway and modules', async () => {
  const { status, body } = await getJson(`${node.url}/~meta@1.0/info`);
  assert.is(status, 200);
  assert.type(body.version, 'string');
  assert.match(body.address, /^[A-Za-z0-9_-]{43}$/);
  assert.is(body.gateway, node.gatewayUrl);
  assert.type(body.modules, 'object');
});

test('the metering worker exits when idle, and the next instrument() starts it again', async () => {
  const bytes = new Uint8Array(readFileSync((await buildModules()).fac));
  const first = await instrument(bytes);
  assert.ok(meterRunning());
  await new Promise((resolve) => setTimeout(resolve, METER_IDLE_MS + 1_000));
  assert.not.ok(meterRunning(), 'binaryen is unloaded after METER_IDLE_MS without requests');
  const again = await instrument(bytes);
  assert.equal(again, first, 'a fresh worker gives the same bytes');
  assert.ok(meterRunning());
});

test.run();
