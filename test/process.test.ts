// Processes end to end on a real node: signed spawns and messages, durable assignments
// with a hash-chain, the schedule, state folded through counter and token modules,
// snapshots across a restart, and every refusal.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { messageTags, moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { ed25519Signer, parseDataItem, verifyDataItem } from '../engine/protocol/ans104/data-item.ts';
import { chain } from '../engine/protocol/hash-chain.ts';
import { hashpath } from '../engine/protocol/hashpath.ts';
import { canonicalJson, fromB64url } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { NodeClient, NodeError, signItem, type Signer } from '../client/node-client.ts';
import { tempDir, testNode } from './helpers.ts';
import { findByTags } from '../arweave/graphql.ts';
import { decodeBundle } from '../engine/protocol/ans104/bundle.ts';
import type { RunningNode } from '../gateway/node.ts';
import { handleInput, handleInputBytes } from '../engine/processes/fold.ts';
import type { DataItem } from '../engine/protocol/ans104/data-item.ts';
import type { SignedAssignment } from '../engine/protocol/assignment.ts';
import type { ProcessSpawn } from '../engine/store.ts';

const test = suite('processes');
const TEXT = new TextDecoder();
const dir = tempDir();
let node: RunningNode;
let client: NodeClient;
const ids: Record<string, string> = {};
const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
const bob: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
let counter = '';
const addressOf = async (signer: Signer) => (await signItem(signer, { tags: [] })).ownerAddress;

async function start() {
  node = await testNode(join(dir.path, 'data'), { snapshotEvery: 4, publish: false });
  client = new NodeClient(node.url);
}

async function refused(promise: Promise<unknown>, status: number, message: RegExp) {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, NodeError);
    assert.is((error as NodeError).status, status, (error as Error).message);
    assert.match((error as Error).message, message);
    return error as NodeError;
  }
  assert.unreachable(`expected a ${status}`);
}

test.before(async () => {
  const built = await buildModules();
  await start();
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  for (const name of ['counter', 'token', 'fac', 'text']) {
    ids[name] = await upload(new Uint8Array(readFileSync(built[name])), { gateway: node.node.gateway, wallet, tags: moduleTags() });
  }
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('spawn takes slot 0; messages take 1, 2, 3… with a verifiable hash-chain', async () => {
  const spawn = await client.spawn(alice, ids.counter, node.node.key.address);
  counter = spawn.process;
  assert.is(spawn.assignment.slot, 0);
  assert.is(spawn.assignment.message, counter);
  const messageIds = [counter];
  for (let i = 1; i <= 6; i++) {
    const a = await client.send(alice, counter, [{ name: 'Action', value: 'Add' }], `message ${i}`);
    assert.is(a.slot, i);
    assert.is(a.process, counter);
    messageIds.push(a.message);
    const item = parseDataItem(fromB64url(a['assignment-item']));
    assert.ok(verifyDataItem(item), 'the assignment is signed');
    assert.is(item.ownerAddress, node.node.key.address);
    assert.is(a.signer, node.node.key.address);
  }
  const page = await client.schedulePage(counter);
  assert.equal(page.assignments.map((a: any) => a['hash-chain']), chain(messageIds));
  assert.is(page.continues, false);
  assert.equal((await client.slot(counter)).current, 6);
});

test('a replayed message gets its first assignment back, not a new slot', async () => {
  const item = await signItem(alice, { target: counter, tags: messageTags() });
  const first = await client.schedule(item.raw);
  const again = await client.schedule(item.raw);
  assert.equal(again, first);
  const x = await signItem(bob, { target: counter, tags: messageTags() });
  const both = await Promise.all([client.schedule(x.raw), client.schedule(x.raw)]);
  assert.is(both[0].slot, both[1].slot);
  assert.is((await client.slot(counter)).current, first.slot + 1);
});

test('state at slots: the counter counts, and hashpaths chain message IDs', async () => {
  const three = await client.compute(counter, 3);
  assert.equal(three.output, { count: 3 });
  const now = await client.compute(counter);
  assert.equal(now.output, { count: 8 });
  const page = await client.schedulePage(counter);
  let path = hashpath(counter, counter);
  for (const a of page.assignments.slice(1)) path = hashpath(path, a.message);
  assert.is(now.hashpath, path);
  const again = await client.compute(counter, 3);
  assert.is(again.cache, 'hit');
  assert.is(again.hashpath, three.hashpath);
});

test('cost-only on a message: its exact gas against the current state, nothing assigned', async () => {
  const { process: counter } = await client.spawn(alice, ids.counter, node.node.key.address);
  await client.send(alice, counter, [], 'one');
  const before = (await client.slot(counter)).current;
  const item = await signItem(alice, { target: counter, tags: messageTags() });
  const response = await fetch(`${node.url}/~scheduler@1.0/schedule?cost-only=true`, { method: 'POST', body: item.raw as Uint8Array<ArrayBuffer> });
  const estimate = (await response.json()) as any;
  assert.is(response.status, 200, JSON.stringify(estimate));
  assert.ok(estimate.gas > 0);
  assert.is(estimate.slot, before);
  assert.match(estimate.exact, /against the state at slot/);
  assert.is((await client.slot(counter)).current, before, 'nothing was assigned');
  const assigned = await client.schedule(item.raw);
  assert.is((await client.compute(counter, assigned.slot)).gas, estimate.gas, 'the estimate was exact');
});

test('the schedule pages with a continuation marker', async () => {
  const page = await client.schedulePage(counter, 2, undefined, 3);
  assert.equal(page.assignments.map((a: any) => a.slot), [2, 3, 4]);
  assert.is(page.continues, true);
  assert.is(page.next, 5);
  const rest = await client.schedulePage(counter, page.next);
  assert.equal(rest.assignments.map((a: any) => a.slot), [5, 6, 7, 8]);
  assert.is(rest.continues, false);
  const item = parseDataItem(fromB64url(rest.assignments[0]['message-item']));
  assert.is(item.id, rest.assignments[0].message);
});

test('a token ledger with transfers, balances and refusals', async () => {
  const { process: token } = await client.spawn(alice, ids.token, node.node.key.address, [{ name: 'Supply', value: '1000' }]);
  const [a, b] = [await addressOf(alice), await addressOf(bob)];
  const transfer = await client.send(alice, token, [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: b }, { name: 'Quantity', value: '250' }]);
  const result = await client.compute(token, transfer.slot);
  assert.equal(result.output, { ok: true, from: a, to: b, quantity: '250' });
  assert.is(result.messages.length, 2);
  const overdraw = await client.send(bob, token, [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: a }, { name: 'Quantity', value: '251' }]);
  assert.match((await client.compute(token, overdraw.slot)).output.error, /insufficient/);
  const balances = await client.send(bob, token, [{ name: 'Action', value: 'Balances' }]);
  assert.equal((await client.compute(token, balances.slot)).output, Object.fromEntries([[a, '750'], [b, '250']].sort()));
});

test('RSA-signed (Arweave wallet) items are accepted too', async () => {
  const wallet = await loadOrCreateWallet(join(dir.path, 'user-wallet.json'));
  const a = await client.send({ rsa: wallet }, counter, [], 'from an arweave wallet');
  assert.is(a.slot, 9);
});

test('refusals: bad signature, malformed item, unknown process, foreign scheduler, slot out of range, oversized body', async () => {
  const before = (await client.slot(counter)).current;
  const item = await signItem(alice, { target: counter, tags: messageTags(), data: 'pay 10' });
  const forged = item.raw.slice();
  forged[forged.length - 1] ^= 1; // the data changes, the signature stays
  await refused(client.schedule(forged), 400, /signature of data item .* does not verify/);
  await refused(client.schedule(new TextEncoder().encode('hello')), 400, /not a valid ANS-104 data item/);
  const stray = await signItem(alice, { target: 'Q'.repeat(43), tags: messageTags() });
  await refused(client.schedule(stray.raw), 404, /unknown process QQQQ/);
  const elsewhere = 'E'.repeat(43);
  await refused(client.spawn(alice, ids.counter, elsewhere), 404, /scheduled by EEEE.*not by this node/);
  await refused(client.compute(counter, 99), 400, /slot 99 is beyond the latest slot/);
  await refused(client.get(`/${counter}/compute&slot=x`), 400, /slot must be a whole number/);
  await refused(client.schedule(new Uint8Array(11 * 1024 * 1024)), 413, /too large/i);
  assert.is((await client.slot(counter)).current, before, 'nothing was assigned');
});

test('a spawn whose Gas-Limit is not a positive whole number is refused with a 400 that says so', async () => {
  for (const value of ['abc', '0', '-5', '1.5']) {
    await refused(client.spawn(alice, ids.counter, node.node.key.address, [{ name: 'Gas-Limit', value }]), 400, new RegExp(`has a bad Gas-Limit tag .*a gas limit must be a positive whole number, got "${value.replace('.', '\\.')}"`));
  }
  const { process } = await client.spawn(alice, ids.counter, node.node.key.address, [{ name: 'Gas-Limit', value: '5000000' }]);
  assert.is((await client.compute(process, 0)).slot, 0);
});

test('every answer is checkable on its own: result-hash is over the result-bytes it carries', async () => {
  const bytesOf = (record: any) => fromB64url(record['result-bytes']);
  const checkable = (record: any) => assert.is(sha256b64(bytesOf(record)), record['result-hash']);
  // A bytes function whose JSON is not in canonical key order: the hash is over the module's own bytes.
  const text = await client.call(ids.text, 'transform', [{ text: 'hello' }]);
  assert.is(text['function-type'], 'bytes');
  checkable(text);
  assert.equal(JSON.parse(TEXT.decode(bytesOf(text))), text.result);
  assert.is.not(TEXT.decode(bytesOf(text)), canonicalJson(text.result));
  // A numeric function: its bytes are the canonical JSON of its result.
  const fac = await client.call(ids.fac, 'fac', [5]);
  assert.is(fac['function-type'], 'numeric');
  assert.is(TEXT.decode(bytesOf(fac)), canonicalJson(fac.result));
  checkable(fac);
  // A process slot: the bytes handle returned; a slot out of gas: its error message.
  const slot = await client.compute(counter, 1);
  checkable(slot);
  assert.equal(JSON.parse(TEXT.decode(bytesOf(slot))).output, slot.output);
  const { process: starved } = await client.spawn(alice, ids.counter, node.node.key.address, [{ name: 'Gas-Limit', value: '1' }]);
  const failed = await client.compute(starved, 0);
  assert.match(failed.error, /ran out of gas: its budget of 1 was used up/);
  assert.is(TEXT.decode(bytesOf(failed)), failed.error);
  checkable(failed);
});

test('a scheduled item must say what it is: Data-Protocol, Variant and Type, or a 400 naming the tag', async () => {
  const before = (await client.slot(counter)).current;
  const without = (name: string) => messageTags().filter((t) => t.name !== name);
  const replaced = (name: string, value: string) => messageTags().map((t) => (t.name === name ? { name, value } : t));
  const cases: [string, { name: string; value: string }[], string, RegExp][] = [
    ['no Type', without('Type'), 'Type', /has no Type tag; a scheduled item needs Type: Process \(a spawn\) or Type: Message/],
    ['Type: Topup', replaced('Type', 'Topup'), 'Type', /has Type: "Topup"; a scheduled item needs Type: Process/],
    ['no Data-Protocol', without('Data-Protocol'), 'Data-Protocol', /has no Data-Protocol tag; a scheduled item needs Data-Protocol: hyperwasm/],
    ["AO's Data-Protocol with hyperwasm's Variant", replaced('Data-Protocol', 'ao'), 'Variant', /a scheduled item needs Variant: ao\.TN\.1/],
    ['no Variant', without('Variant'), 'Variant', /has no Variant tag; a scheduled item needs Variant: hyperwasm\.1/],
    ['no tags at all', [], 'Data-Protocol', /has no Data-Protocol tag/],
  ];
  for (const [what, tags, tag, message] of cases) {
    const item = await signItem(alice, { target: counter, tags, data: what });
    const error = await refused(client.schedule(item.raw), 400, message);
    assert.is(error!.body.tag, tag, what);
  }
  const spawn = await signItem(alice, { tags: [{ name: 'Type', value: 'Process' }, { name: 'Module', value: ids.counter }, { name: 'Scheduler', value: node.node.key.address }] });
  await refused(client.schedule(spawn.raw), 400, /has no Data-Protocol tag/);
  assert.is((await client.slot(counter)).current, before, 'nothing was assigned');
});

test("the client's stateless calls (free, cost-only, signed) name one computation", async () => {
  const free = await client.call(ids.fac, 'fac', [5]);
  assert.is(free.result, 120);
  assert.is((await client.call(ids.fac, 'fac', '[5.0]')).hashpath, free.hashpath, 'JSON text is sent as it is');
  const cost = await client.costOnly(ids.fac, 'fac', [5]);
  assert.equal([cost.hashpath, cost.gas, cost.priced], [free.hashpath, free.gas, false]);
  const signed = await client.paidCall(alice, ids.fac, 'fac', [5]);
  assert.equal([signed.hashpath, signed.result, signed.receipt], [free.hashpath, 120, undefined], 'a free module charges nothing');
  await refused(client.call(ids.fac, 'fac', '[5,'), 400, /JSON array/);
});

test('the outbox publishes every message and assignment to Arweave as bundles', async () => {
  await node.node.publisher.flush();
  assert.is(node.node.publisher.depth(), 0);
  const bundles = await findByTags(node.node.gateway, { Process: counter, Type: 'Bundle' });
  assert.ok(bundles.length > 0);
  const published = new Map<string, Uint8Array>();
  for (const bundle of bundles) for (const item of decodeBundle(await node.node.gateway.data(bundle.id))) published.set(item.id, item.raw);
  const page = await client.schedulePage(counter);
  for (const a of page.assignments) {
    assert.equal(published.get(a.message), fromB64url(a['message-item']), `message at slot ${a.slot}`);
    assert.equal(published.get(a.assignment), fromB64url(a['assignment-item']), `assignment at slot ${a.slot}`);
  }
});

test('a process whose scheduler is a known peer is redirected with 307', async () => {
  const other = await testNode(join(dir.path, 'peer'), { publish: false, gateway: node.gatewayUrl, peers: { ['P'.repeat(43)]: 'http://127.0.0.1:9' } });
  try {
    const error = await refused(new NodeClient(other.url).spawn(alice, ids.counter, 'P'.repeat(43)), 307, /scheduled by PPPP/);
    assert.is(error!.body.location, 'http://127.0.0.1:9/~scheduler@1.0/schedule');
  } finally {
    await other.close();
  }
});

test("the device writes each message's input as JSON.stringify(handleInput(...)) would, byte for byte", () => {
  const assignment = { id: 'a'.repeat(43), slot: 7, timestamp: 1764656400123, 'block-height': 12, 'hash-chain': 'h'.repeat(43) } as unknown as SignedAssignment;
  const spawn: ProcessSpawn = { id: 'p'.repeat(43), module: 'm'.repeat(43), scheduler: 's'.repeat(43), owner: 'o'.repeat(43), tags: [{ name: 'Type', value: 'Process' }, { name: 'é"\\', value: '😀\n' }] };
  const item = (fields: object) => ({ id: 'i'.repeat(43), ownerAddress: 'f'.repeat(43), tags: [{ name: 'Action', value: 'Add' }, { name: '\u2028', value: '\u0001"' }], data: new TextEncoder().encode('1'), ...fields }) as unknown as DataItem;
  for (const it of [item({}), item({ id: undefined }), item({ target: 't'.repeat(43) }), item({ tags: [], data: new Uint8Array([0xff, 0x41, 0xe2, 0x82]) }), item({ data: new TextEncoder().encode('"quoted" é😀') })]) {
    for (const a of [assignment, { ...assignment, 'block-height': undefined, slot: 0 } as unknown as SignedAssignment, { ...assignment, id: undefined } as unknown as SignedAssignment]) {
      assert.equal(handleInputBytes(it, a, spawn), new TextEncoder().encode(JSON.stringify(handleInput(it, a, spawn))));
    }
  }
});

test('after a restart, computation resumes from the nearest snapshot, not slot 0', async () => {
  await node.close();
  await start();
  for (let i = 0; i < 3; i++) await client.send(alice, counter, [], `after restart ${i}`);
  const before = node.node.processes.stats().steps;
  const now = await client.compute(counter);
  assert.equal(now.output, { count: 12 });
  // the last snapshot was at slot 8 (snapshotEvery 4), so slots 9..12 are folded
  assert.is(node.node.processes.stats().steps - before, 4);
});

test.run();
