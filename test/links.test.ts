// `hyperwasm verify` checks the links between processes from Arweave alone (issue 12 part 5,
// docs/PROTOCOL.md §21 "Verifying links"): two real nodes on one arlocal, a token on node 0
// paying a counter on node 1 and a ping-pong rally across them, everything published; then
// every process's links verify with the counts the scenario implies. A forged history on the
// same arlocal — pushed messages signed by a stranger, one the source never sent, one assigned
// twice — is caught with the fault for each.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { createDataItem, ed25519Signer, type DataItem } from '../engine/protocol/ans104/data-item.ts';
import { b64url } from '../engine/protocol/encoding.ts';
import { nextLink } from '../engine/protocol/hash-chain.ts';
import { signPushed } from '../engine/protocol/pushed.ts';
import { assignmentTags, bundleTags, processTags } from '../engine/protocol/vocabulary.ts';
import { upload } from '../arweave/upload.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { verifyLinks } from '../attest/verify/links.ts';
import { cli, lastLine, tempDir } from './helpers.ts';
import { quiet, startCluster, type Cluster } from './net.ts';

const test = suite('links');
const dir = tempDir('hyperwasm-links-');
let cluster: Cluster;
let gateway: ArweaveGateway;
const pids: Record<string, string> = {};
let runs = 0;

test.before(async () => {
  cluster = await startCluster(2, { accountAfter: 1 });
  gateway = new ArweaveGateway(cluster.arlocal.url);
});
test.after(async () => {
  await cluster?.close();
  dir.remove();
});

/** Waits until every running node's publisher has nothing left to publish, three looks in a row. */
async function published(): Promise<void> {
  let calm = 0;
  while (calm < 3) {
    calm = cluster.nodes.every((n) => n.node.publisher.depth() === 0) ? calm + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const links = (pid: string) => verifyLinks(gateway, pid, { dir: join(dir.path, `run-${runs++}`) });
const counts = (r: Awaited<ReturnType<typeof links>>) => ({ incoming: r.incoming, outgoing: r.outgoing, accounts: r.accounts, undelivered: r.undelivered, faults: r.faults.map((f) => `${f.slot} ${f.kind}: ${f.message}`) });

test('a token paying a counter and a ping-pong rally across two nodes: every link verifies from Arweave', async () => {
  const [c0, c1] = cluster.clients;
  const [n0, n1] = cluster.nodes.map((n) => n!.node.key.address);
  pids.token = (await c0!.spawn(cluster.signer, await cluster.module('token'), n0!)).process;
  pids.counter = (await c1!.spawn(cluster.signer, await cluster.module('counter'), n1!)).process;
  const pingpong = await cluster.module('pingpong');
  pids.a = (await c0!.spawn(cluster.signer, pingpong, n0!)).process;
  pids.b = (await c1!.spawn(cluster.signer, pingpong, n1!)).process;
  await c0!.send(cluster.signer, pids.token, [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: pids.counter }, { name: 'Quantity', value: '7' }]);
  await c0!.send(cluster.signer, pids.a, [{ name: 'Action', value: 'Serve' }, { name: 'Peer', value: pids.b }, { name: 'Rounds', value: '4' }]);
  await quiet(cluster.nodes);
  assert.is((await c1!.compute(pids.counter)).output.count, 1);
  assert.is((await c0!.compute(pids.a)).output.last, 4);
  await published();

  // The token: a Debit-Notice to the sender (an account), a Credit-Notice to the counter.
  assert.equal(counts(await links(pids.token)), { incoming: 0, outgoing: 1, accounts: 1, undelivered: [], faults: [] });
  assert.equal(counts(await links(pids.counter)), { incoming: 1, outgoing: 0, accounts: 0, undelivered: [], faults: [] });
  // a sends rounds 1 and 3 and gets 2 and 4; b the other way round.
  assert.equal(counts(await links(pids.a)), { incoming: 2, outgoing: 2, accounts: 0, undelivered: [], faults: [] });
  assert.equal(counts(await links(pids.b)), { incoming: 2, outgoing: 2, accounts: 0, undelivered: [], faults: [] });

  const result = await cli(['verify', pids.counter, '--gateway', cluster.arlocal.url]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /links: 1 in, 0 out, 0 to accounts, 0 undelivered/);
  assert.match(lastLine(result.stdout), /^verified: .*, 1 links$/);
});

/** A process history signed by a scheduler key of the test's own, its slots holding `messages` after the spawn. */
async function forgedProcess(messages: (pid: string) => DataItem[]): Promise<string> {
  const scheduler = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const schedulerAddress = createDataItem(scheduler, { data: '' }).ownerAddress;
  const spawn = createDataItem(ed25519Signer(generateKeyPairSync('ed25519').privateKey), { tags: processTags(await cluster.module('counter'), schedulerAddress), data: '' });
  const pid = spawn.id;
  const items = [spawn, ...messages(pid)];
  const raws: Uint8Array[] = [];
  let link: Uint8Array | undefined;
  for (const [slot, item] of items.entries()) {
    link = nextLink(link, item.id);
    const tags = assignmentTags({ process: pid, slot, message: item.id, 'hash-chain': b64url(link), timestamp: Date.now(), 'block-height': 0 });
    if (!raws.some((raw) => raw === item.raw)) raws.push(item.raw);
    raws.push(createDataItem(scheduler, { target: pid, tags, data: '' }).raw);
  }
  const wallet = await loadOrCreateWallet(join(dir.path, 'forger-wallet.json'));
  await upload(encodeBundle(raws), { gateway, wallet, tags: bundleTags({ group: pid, seqFrom: 0, seqTo: raws.length - 1, attestations: [] }) });
  return pid;
}

test('a forged history: a stranger\'s push, a push the source never sent, one push twice: each is a link fault', async () => {
  const { store, key } = cluster.nodes[0]!.node;
  const entry = (index: number) => store.deliveries.get([pids.token!, 1, index])!;
  const origin = (index: number) => ({ process: pids.token!, slot: 1, index, record: entry(index).record, pushedFor: entry(index).pushedFor });
  const stranger = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  let wrongSigner: DataItem;
  const pid = await forgedProcess((pid) => {
    // The token's real Credit-Notice, readdressed here and signed by someone else.
    wrongSigner = signPushed(stranger, origin(1), { ...entry(1).message!, target: pid });
    // Signed by the token's real scheduler, but the token's record never sent it here.
    const unsent = signPushed(ed25519Signer(key.privateKey), origin(0), { ...entry(0).message!, target: pid, data: 'forged' });
    return [wrongSigner, unsent, wrongSigner];
  });
  const report = await links(pid);
  assert.equal(report.faults.map((f) => [f.slot, f.kind]), [[1, 'link-wrong-signer'], [2, 'link-mismatch'], [3, 'link-duplicate']], JSON.stringify(report.faults, null, 1));
  assert.match(report.faults[0]!.message, new RegExp(`slot 1 of ${pid} claims to come from slot 1 of ${pids.token}`));
  assert.match(report.faults[1]!.message, new RegExp(`slot 2 of ${pid} differs from outbox entry 0 of slot 1 of ${pids.token}: target`));
  assert.is(report.incoming, 0);

  const result = await cli(['verify', pid, '--gateway', cluster.arlocal.url]);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /link fault: slot 1 link-wrong-signer/);
  assert.match(lastLine(result.stdout), /FAILED: 3 link faults/);
});

test.run();
