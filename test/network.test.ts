// Message passing across two real nodes sharing one arlocal (issue 12): each finds the other
// through signed location records; a process on one node talks to a process on the other,
// exactly once per outbox entry, in order; the same entry pushed many times concurrently gets
// one slot; a push signed by a node that does not schedule the source is refused; a target
// whose node is down is delivered to once the node is back, at its new URL.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { signPushed } from '../engine/protocol/pushed.ts';
import { readLocation } from '../engine/protocol/location.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { messageTags } from '../engine/protocol/vocabulary.ts';
import { NodeClient, NodeError, signItem } from '../client/node-client.ts';
import { Mirror } from '../engine/mirror.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { fetchHistory, readHistory } from '../attest/verify/history.ts';
import { verifyProcess } from '../attest/verify/replay.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signLocation } from '../engine/protocol/location.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { b64url } from '../engine/protocol/encoding.ts';
import { openStore } from '../engine/store.ts';
import { tempDir } from './helpers.ts';
import { checkDelivery, pushedInto, quiet, startCluster, waitFor, type Cluster } from './net.ts';

const test = suite('network');
let cluster: Cluster;

test.before(async () => {
  cluster = await startCluster(2, { accountAfter: 1 });
});
test.after(async () => {
  await cluster?.close();
});

const transfer = (recipient: string, quantity: string) => [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: recipient }, { name: 'Quantity', value: quantity }];
let token = '';
let counter = '';

test('ping-pong across two nodes: 10 rounds, each message once, in order', async () => {
  const [a0, a1] = cluster.clients;
  const module = await cluster.module('pingpong');
  const a = (await a0!.spawn(cluster.signer, module, cluster.nodes[0]!.node.key.address)).process;
  const b = (await a1!.spawn(cluster.signer, module, cluster.nodes[1]!.node.key.address)).process;
  await a0!.send(cluster.signer, a, [{ name: 'Action', value: 'Serve' }, { name: 'Peer', value: b }, { name: 'Rounds', value: '10' }]);
  await quiet(cluster.nodes);
  const rb = await a1!.compute(b);
  const ra = await a0!.compute(a);
  assert.equal([rb.output.pings, rb.output.last, rb.output.from], [5, 9, a]);
  assert.equal([ra.output.pings, ra.output.last, ra.output.from], [5, 10, b]);
  const { delivered } = await checkDelivery([{ pid: a, client: a0! }, { pid: b, client: a1! }]);
  assert.is(delivered, 10);
});

test('a token on node 0 pays a counter on node 1: the counter counts the Credit-Notice', async () => {
  const [a0, a1] = cluster.clients;
  token = (await a0!.spawn(cluster.signer, await cluster.module('token'), cluster.nodes[0]!.node.key.address)).process;
  counter = (await a1!.spawn(cluster.signer, await cluster.module('counter'), cluster.nodes[1]!.node.key.address)).process;
  await a0!.send(cluster.signer, token, transfer(counter, '7'));
  await quiet(cluster.nodes);
  assert.is((await a1!.compute(counter)).output.count, 1);
  await checkDelivery([{ pid: token, client: a0! }, { pid: counter, client: a1! }]);
});

/** The pushed item and bundle of the token's Credit-Notice at slot 1, as node 0 sends it (or as `signer` would). */
function creditNotice(signer = ed25519Signer(cluster.nodes[0]!.node.key.privateKey)) {
  const { store } = cluster.nodes[0]!.node;
  const index = 1; // Debit-Notice first, then Credit-Notice
  const entry = store.deliveries.get([token, 1, index])!;
  const item = signPushed(signer, { process: token, slot: 1, index, record: entry.record, pushedFor: entry.pushedFor }, entry.message!);
  return { entry, item, bundle: encodeBundle([item.raw, store.messages.get(token)!]) };
}

test('the same entry pushed 20 times at once gets one slot: the one already given', async () => {
  const { entry, bundle } = creditNotice();
  const url = cluster.nodes[1]!.url;
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/~scheduler@1.0/push`, { method: 'POST', body: bundle as Uint8Array<ArrayBuffer> }).then((r) => r.json())));
  assert.equal([...new Set(answers.map((a: any) => a.slot))], [entry.slot]);
  const found = await pushedInto(cluster.clients[1]!, counter);
  assert.equal(found.get(`${token}/1/1`), [entry.slot]);
  assert.is((await cluster.clients[1]!.compute(counter)).output.count, 1);
});

test('a push signed by a node that does not schedule the source is refused (403), nothing assigned', async () => {
  const { bundle } = creditNotice(ed25519Signer(generateKeyPairSync('ed25519').privateKey));
  const before = (await cluster.clients[1]!.slot(counter)).current;
  const response = await fetch(`${cluster.nodes[1]!.url}/~scheduler@1.0/push`, { method: 'POST', body: bundle as Uint8Array<ArrayBuffer> });
  const body = (await response.json()) as { message: string };
  assert.is(response.status, 403);
  assert.match(body.message, /only a process's scheduler sends its messages/);
  assert.is((await cluster.clients[1]!.slot(counter)).current, before);
});

test('a target whose node is down is delivered to once it is back at a new URL (a newer location record)', async () => {
  const [a0] = cluster.clients;
  const oldUrl = cluster.nodes[1]!.url;
  await cluster.stop(1);
  await a0!.send(cluster.signer, token, transfer(counter, '3'));
  // The push fails while node 1 is down: the entry stays pending, with the reason.
  let entry;
  for (let i = 0; i < 400; i++) {
    entry = (await a0!.get(`/${token}/outbox&from=2`)).entries.find((e: any) => e.target === counter);
    if (entry && entry.attempts > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.is(entry.status, 'pending');
  assert.ok(entry['last-error'], 'the failed attempt says why');
  const back = await cluster.restart(1);
  assert.is.not(back.url, oldUrl);
  await quiet(cluster.nodes);
  assert.is((await cluster.clients[1]!.compute(counter)).output.count, 2);
  await checkDelivery([{ pid: token, client: a0! }, { pid: counter, client: cluster.clients[1]! }]);
});

test('a message posted to a node that does not schedule its process gets a 307 to the one that does, with its location record', async () => {
  const [a0] = cluster.clients;
  const item = await signItem(cluster.signer, { target: counter, tags: messageTags([{ name: 'Action', value: 'Hello' }]) });
  const refused = await a0!.schedule(item.raw).catch((error: NodeError) => error);
  assert.instance(refused, NodeError);
  const { status, body } = refused as NodeError;
  assert.is(status, 307);
  assert.is(body.location, `${cluster.nodes[1]!.url}/~scheduler@1.0/schedule`);
  assert.is(body.scheduler, cluster.nodes[1]!.node.key.address);
  assert.is(readLocation(fromB64url(body.record as string), body.scheduler as string).url, cluster.nodes[1]!.url);
  const before = (await cluster.clients[1]!.compute(counter)).output.count;
  const answer = await new NodeClient(String(body.location).replace('/~scheduler@1.0/schedule', '')).schedule(item.raw);
  assert.is(answer.process, counter);
  await quiet(cluster.nodes);
  assert.is((await cluster.clients[1]!.compute(counter)).output.count, before + 1);
});

test('any node computes any process: node 0 copies node 1\'s counter schedule (checked) and answers with its own attestation, the same state', async () => {
  const [a0, a1] = cluster.clients;
  const there = await a1!.compute(counter);
  const here = await a0!.compute(counter);
  assert.equal([here.slot, here.output, here.hashpath, here['state-hash'], here['result-hash']], [there.slot, there.output, there.hashpath, there['state-hash'], there['result-hash']]);
  assert.is(here.attestation.statement.node, cluster.nodes[0]!.node.key.address, 'attested by the node that computed it');
  assert.is(there.attestation.statement.node, cluster.nodes[1]!.node.key.address);
  // A new message at the scheduler is picked up by the next read on the other node.
  await a1!.send(cluster.signer, counter, [{ name: 'Action', value: 'Again' }]);
  const later = await a0!.compute(counter);
  assert.is(later.slot, there.slot + 1);
  assert.is(later.output.count, there.output.count + 1);
  // It does not claim to schedule the process, and it sends nothing of it.
  assert.is((await a0!.slot(counter)).scheduler, cluster.nodes[1]!.node.key.address);
  assert.equal(cluster.nodes[0]!.node.deliverer.outbox(counter, 0, 10), []);
  // Published, both nodes' attestations are claims a verifier judges: all confirmed.
  await cluster.nodes[0]!.node.publisher.flush();
  await cluster.nodes[1]!.node.publisher.flush();
  const gateway = new ArweaveGateway(cluster.arlocal.url);
  const dir = tempDir('hyperwasm-verify-mirror-');
  try {
    const history = readHistory(counter, await fetchHistory(gateway, counter));
    const signers = new Set([...history.statements.values()].flat().map((c) => c.statement.node));
    assert.ok(signers.has(cluster.nodes[0]!.node.key.address) && signers.has(cluster.nodes[1]!.node.key.address), 'both nodes attested slots of it');
    const report = await verifyProcess(history, { dir: dir.path, source: gateway });
    assert.equal(report.faults, []);
  } finally {
    dir.remove();
  }
  const unknown = await a0!.compute('Q'.repeat(42) + 'A').catch((error: NodeError) => error);
  assert.is((unknown as NodeError).status, 404);
  assert.match(String((unknown as NodeError).body.message), /no scheduler this node can find/);
});

test('a copied schedule that fails a check (a message swapped for another signed one) is refused, nothing kept', async () => {
  const dir = tempDir('hyperwasm-mirror-');
  const store = openStore(dir.path);
  try {
    const scheduler = cluster.nodes[1]!.node.key.address;
    const other = await signItem(cluster.signer, { target: counter, tags: messageTags([{ name: 'Action', value: 'Forged' }]) });
    const mirror = new Mirror({
      store,
      address: 'x'.repeat(43),
      ports: {
        locate: async () => ({ scheduler, url: cluster.nodes[1]!.url }),
        page: async (_url, pid, from) => {
          const page = await cluster.clients[1]!.schedulePage(pid, from);
          const assignments = page.assignments.map((a: any) => ({ assignment: fromB64url(a['assignment-item']), message: fromB64url(a['message-item']) }));
          assignments[1]!.message = other.raw; // what a dishonest scheduler might serve
          return { assignments };
        },
      },
    });
    const refused = await mirror.sync(counter).catch((error: Error) => error);
    assert.instance(refused, Error);
    assert.match((refused as Error).message, /slot 1's message does not match its ID/);
    assert.is(store.assignments.getCount(), 0, 'nothing of the failed page is kept');
  } finally {
    await store.close();
    dir.remove();
  }
});

test('fan-out to 50 counters on two nodes while one node is down: the rest deliver at once, the others once it is back', async () => {
  const [a0] = cluster.clients;
  const counterModule = await cluster.module('counter');
  const targets: { pid: string; node: number }[] = [];
  for (let i = 0; i < 50; i++) {
    const node = i % 2;
    targets.push({ pid: (await cluster.clients[node]!.spawn(cluster.signer, counterModule, cluster.nodes[node]!.node.key.address)).process, node });
  }
  const source = (await a0!.spawn(cluster.signer, await cluster.module('pingpong'), cluster.nodes[0]!.node.key.address)).process;
  await cluster.stop(1);
  await a0!.send(cluster.signer, source, [{ name: 'Action', value: 'Fanout' }, { name: 'Peers', value: targets.map((t) => t.pid).join(',') }]);
  // Node 0's own 25 are delivered while node 1 is down (its links do not wait for the others).
  const onNode0 = new Set(targets.filter((t) => t.node === 0).map((t) => t.pid));
  const settled = () => cluster.nodes[0]!.node.deliverer.outbox(source, 0, 100).filter((e) => onNode0.has(e.entry.target!) && e.entry.status === 'delivered').length;
  await waitFor(() => settled() === 25, 'the 25 deliveries on the running node');
  const half = (await a0!.get(`/${source}/outbox`)).entries;
  assert.is(half.filter((e: any) => e.status === 'delivered').length, 25, 'the 25 targets on the running node got theirs');
  assert.is(half.filter((e: any) => e.status === 'pending').length, 25, 'the 25 on the stopped node wait, none dropped');
  await cluster.restart(1);
  await quiet(cluster.nodes);
  const processes = [{ pid: source, client: a0! }, ...targets.map((t) => ({ pid: t.pid, client: cluster.clients[t.node]! }))];
  const { delivered } = await checkDelivery(processes);
  if (delivered !== 50) console.log(JSON.stringify((await a0!.get(`/${source}/outbox`)).entries.filter((e: any) => e.status !== 'delivered').slice(0, 3)));
  assert.is(delivered, 50);
  for (const t of targets) assert.is((await cluster.clients[t.node]!.compute(t.pid)).output.count, 1);
});

// Last: its entry stays pending for good, which every quiet() above would wait on.
test('two schedulers that redirect a push to each other: the deliverer stops after 3 hops, says so, nothing assigned, the entry kept', async () => {
  // Two hostile "nodes" on loopback, both claiming one scheduler address S and answering every
  // push with a 307 to the other, each time with a fresh, validly signed location record of S.
  const key = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const S = sha256b64(key.publicKey);
  const target = 'T'.repeat(42) + 'A';
  let nonce = Date.now();
  let pushes = 0;
  const servers: Server[] = [];
  const urls: string[] = [];
  const record = (url: string) => b64url(signLocation(key, { url, nonce: ++nonce, timestamp: Date.now(), ttlMs: 60_000, version: 'hostile' }).raw);
  for (let i = 0; i < 2; i++) {
    const server = createServer((request, response) => {
      request.resume();
      response.setHeader('content-type', 'application/json');
      if (request.method === 'GET' && request.url?.startsWith('/~scheduler@1.0/slot')) return response.end(JSON.stringify({ process: target, current: 0, scheduler: S }));
      pushes++;
      response.statusCode = 307;
      response.end(JSON.stringify({ error: 'redirect', message: 'elsewhere', scheduler: S, record: record(urls[1 - i]!) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  try {
    const [a0] = cluster.clients;
    await a0!.post('/~scheduler@1.0/location', fromB64url(record(urls[0]!)));
    const source = (await a0!.spawn(cluster.signer, await cluster.module('pingpong'), cluster.nodes[0]!.node.key.address)).process;
    await a0!.send(cluster.signer, source, [{ name: 'Action', value: 'Fanout' }, { name: 'Peers', value: target }]);
    let entry: any;
    await waitFor(async () => ((entry = (await a0!.get(`/${source}/outbox`)).entries[0]), entry?.attempts >= 1), 'the first attempt');
    assert.is(entry.status, 'pending', 'kept, to be retried');
    assert.match(entry['last-error'], /more than 3 redirects/);
    assert.is(pushes, 4, 'one push and three redirects followed, no more');
  } finally {
    for (const server of servers) server.close();
  }
});

test.run();
