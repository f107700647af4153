// Message passing on one node (issue 12): a process's outgoing messages are scheduled on
// their targets exactly once, in order per link, without a client asking (eager evaluation);
// a token's notices reach a counter process and its sender's account; a pushed message that
// claims a process it was not sent by is refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NodeError, signItem } from '../client/node-client.ts';
import { messageTags } from '../engine/protocol/vocabulary.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { checkDelivery, quiet, startCluster, type Cluster } from './net.ts';
import { parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { tagValue } from '../engine/protocol/vocabulary.ts';
import { verifyLinks } from '../attest/verify/links.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { tempDir } from './helpers.ts';

const test = suite('delivery');
let cluster: Cluster;

test.before(async () => {
  cluster = await startCluster(1, { accountAfter: 1 });
});
test.after(async () => {
  await cluster?.close();
});

test('ping-pong between two processes on one node: 10 rounds, each message once, in order', async () => {
  const [client] = cluster.clients;
  const { node } = cluster.nodes[0]!;
  const module = await cluster.module('pingpong');
  const a = (await client!.spawn(cluster.signer, module, node.key.address)).process;
  const b = (await client!.spawn(cluster.signer, module, node.key.address)).process;
  await client!.send(cluster.signer, a, [{ name: 'Action', value: 'Serve' }, { name: 'Peer', value: b }, { name: 'Rounds', value: '10' }]);
  await quiet(cluster.nodes);
  const ra = await client!.compute(a);
  const rb = await client!.compute(b);
  // B gets rounds 1, 3, 5, 7, 9 from A; A gets 2, 4, 6, 8, 10 from B, each from the other process.
  assert.equal([rb.output.pings, rb.output.last, rb.output.from], [5, 9, a]);
  assert.equal([ra.output.pings, ra.output.last, ra.output.from], [5, 10, b]);
  const { delivered } = await checkDelivery([{ pid: a, client: client! }, { pid: b, client: client! }]);
  assert.is(delivered, 10);
  const info = await client!.info();
  assert.is(info.deliveries.pending, 0);
});

test('a token transfer notifies a counter process (Credit-Notice) and the sender\'s account (Debit-Notice)', async () => {
  const [client] = cluster.clients;
  const { node } = cluster.nodes[0]!;
  const token = (await client!.spawn(cluster.signer, await cluster.module('token'), node.key.address)).process;
  const counter = (await client!.spawn(cluster.signer, await cluster.module('counter'), node.key.address)).process;
  await client!.send(cluster.signer, token, [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: counter }, { name: 'Quantity', value: '25' }]);
  await quiet(cluster.nodes);
  assert.is((await client!.compute(counter)).output.count, 1, 'the counter counted the Credit-Notice');
  const { entries } = await client!.get(`/${token}/outbox`);
  const sender = 'ed25519' in cluster.signer ? sha256b64(cluster.signer.ed25519.publicKey) : '';
  const byTag = (action: string) => entries.find((e: any) => e.tags.some((t: any) => t.name === 'Action' && t.value === action));
  assert.equal([byTag('Debit-Notice').target, byTag('Debit-Notice').status], [sender, 'account']);
  assert.equal([byTag('Credit-Notice').target, byTag('Credit-Notice').status, byTag('Credit-Notice')['target-slot']], [counter, 'delivered', 1]);
  await checkDelivery([{ pid: token, client: client! }, { pid: counter, client: client! }]);
});

test('a process spawns a process: started once by its scheduler, from = the parent, and the link verifies from Arweave', async () => {
  const [client] = cluster.clients;
  const { node } = cluster.nodes[0]!;
  const counterModule = await cluster.module('counter');
  const parent = (await client!.spawn(cluster.signer, await cluster.module('pingpong'), node.key.address)).process;
  await client!.send(cluster.signer, parent, [{ name: 'Action', value: 'Spawn' }, { name: 'Module', value: counterModule }, { name: 'Name', value: 'kid' }]);
  await quiet(cluster.nodes);
  const { entries } = await client!.get(`/${parent}/outbox`);
  assert.is(entries.length, 1);
  const [entry] = entries;
  assert.equal([entry.status, entry['target-slot'], entry.spawn.module], ['delivered', 0, counterModule]);
  const child = entry.target as string;
  const spawn = parseDataItem(fromB64url((await client!.schedulePage(child, 0)).assignments[0]['message-item']));
  assert.is(spawn.id, child);
  assert.equal([tagValue(spawn.tags, 'Type'), tagValue(spawn.tags, 'From-Process'), tagValue(spawn.tags, 'Module'), tagValue(spawn.tags, 'Scheduler'), tagValue(spawn.tags, 'Name')], ['Process', parent, counterModule, node.key.address, 'kid']);
  await client!.send(cluster.signer, child, [{ name: 'Action', value: 'Count' }]);
  await quiet(cluster.nodes);
  assert.is((await client!.compute(child)).output.count, 1, 'the child runs its own module');
  // Published, the child's slot 0 traces to the parent's record.
  await node.publisher.flush();
  const dir = tempDir('hyperwasm-spawn-verify-');
  try {
    const report = await verifyLinks(new ArweaveGateway(cluster.arlocal.url), child, { dir: dir.path });
    assert.equal(report.faults, []);
    assert.is(report.incoming, 1);
  } finally {
    dir.remove();
  }
});

test('a message that claims to come from a process it was not pushed by is refused, nothing assigned', async () => {
  const [client] = cluster.clients;
  const { node } = cluster.nodes[0]!;
  const counter = (await client!.spawn(cluster.signer, await cluster.module('counter'), node.key.address)).process;
  const forged = await signItem(cluster.signer, {
    target: counter,
    tags: messageTags([
      { name: 'From-Process', value: counter }, { name: 'From-Slot', value: '0' }, { name: 'Outbox-Index', value: '0' },
      { name: 'From-Record', value: counter }, { name: 'Pushed-For', value: counter },
    ]),
  });
  const refused = await client!.schedule(forged.raw).catch((error: NodeError) => error);
  assert.instance(refused, NodeError);
  assert.ok((refused as NodeError).status === 400 || (refused as NodeError).status === 403, String(refused));
  assert.match(String((refused as NodeError).body.message), /pushed message/);
  assert.is((await client!.slot(counter)).current, 0, 'nothing was assigned');
});

test.run();
