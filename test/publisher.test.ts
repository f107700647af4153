// The outbox publisher on the real parts: arbundles-signed items in an LMDB outbox, bundled by
// engine/protocol/ans104/bundle.ts (checked byte for byte against arbundles), uploaded to a live arlocal, and
// found again there through GraphQL, by bundle and by the items' own tags.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ArweaveSigner, Curve25519, DataItem, bundleAndSignData, createData, type Signer } from 'arbundles';
import { BundleError, bundleSize, decodeBundle, encodeBundle, itemId } from '../engine/protocol/ans104/bundle.ts';
import { Publisher } from '../arweave/publisher.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { startArlocal, type EmbeddedGateway } from '../arweave/arlocal.ts';
import { loadOrCreateWallet, type JWKInterface } from '../arweave/wallet.ts';
import { openStore, type OutboxKey, type Store } from '../engine/store.ts';
import { b64url } from '../engine/protocol/encoding.ts';
import { tempDir } from './helpers.ts';

const test = suite('publisher');
const dir = tempDir();
let arlocal: EmbeddedGateway;
let gateway: ArweaveGateway;
let wallet: JWKInterface;
let signer: ArweaveSigner;
let storeCount = 0;
const opened: Store[] = [];

interface Entry { key: OutboxKey; id: string; raw: Uint8Array; item: DataItem }

const quiet = () => {};
const newGroup = () => b64url(randomBytes(32));
/** A store that after() closes if a failed test left it open. */
function newStore(path = join(dir.path, `store-${++storeCount}`)): Store {
  const store = openStore(path);
  opened.push(store);
  return store;
}

test.before(async () => {
  arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  gateway = new ArweaveGateway(arlocal.url);
  wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  signer = new ArweaveSigner(wallet);
});

test.after(async () => {
  for (const store of opened) await store.close().catch(() => {});
  await arlocal?.stop();
  dir.remove();
});

/** Signed items for `slots` slots of one process: a message (kind 0) and an assignment (kind 1) each. */
async function makeItems(group: string, slots: number, itemSigner: Signer = signer): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (let slot = 0; slot < slots; slot++) {
    for (const [kind, type] of [[0, 'Message'], [1, 'Assignment']] as const) {
      const tags = [
        { name: 'Process', value: group },
        { name: 'Type', value: type },
        { name: 'Slot', value: String(slot) },
      ];
      const item = createData(`${type} ${slot} of ${group}`, itemSigner, { tags, target: group });
      await item.sign(itemSigner);
      entries.push({ key: [group, slot, kind], id: item.id, raw: new Uint8Array(item.getRaw()), item });
    }
  }
  return entries;
}

/** Writes entries in shuffled order: the outbox's key order must put them back in slot order. */
async function fill(target: Store, entries: Entry[]): Promise<void> {
  const shuffled = [...entries].sort(() => Math.random() - 0.5);
  await target.outbox.transaction(() => {
    for (const entry of shuffled) target.outbox.put(entry.key, entry.raw);
  });
}

interface GqlNode { id: string; tags: { name: string; value: string }[] }

/** Every transaction (bundles and unpacked items) matching the tag filters, all pages. */
async function gql(tags: Record<string, string[]>): Promise<GqlNode[]> {
  const filter = Object.entries(tags).map(([name, values]) => `{name: ${JSON.stringify(name)}, values: ${JSON.stringify(values)}}`).join(', ');
  const nodes: GqlNode[] = [];
  let after = '';
  for (;;) {
    const query = `{ transactions(first: 100, ${after ? `after: ${JSON.stringify(after)}, ` : ''}tags: [${filter}]) { pageInfo { hasNextPage } edges { cursor node { id tags { name value } } } } }`;
    const response = await fetch(`${arlocal.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const body = (await response.json()) as any;
    assert.is(response.status, 200, JSON.stringify(body));
    const page = body.data.transactions;
    nodes.push(...page.edges.map((edge: any) => edge.node));
    if (!page.pageInfo.hasNextPage || page.edges.length === 0) return nodes;
    after = page.edges.at(-1).cursor;
  }
}

const tag = (node: GqlNode, name: string) => node.tags.find((t) => t.name === name)?.value;

/** Finds the group's bundles on the gateway, checks their tags, and returns their items in order. */
async function publishedItems(group: string): Promise<{ bundles: GqlNode[]; items: { id: string; raw: Uint8Array }[] }> {
  const bundles = (await gql({ Process: [group], Type: ['Bundle'] })).sort((a, b) => Number(tag(a, 'Seq-From')) - Number(tag(b, 'Seq-From')));
  const items = [];
  for (const bundle of bundles) {
    assert.is(tag(bundle, 'Bundle-Format'), 'binary');
    assert.is(tag(bundle, 'Bundle-Version'), '2.0.0');
    assert.is(tag(bundle, 'Data-Protocol'), 'hyperwasm');
    assert.is(tag(bundle, 'Content-Type'), 'application/octet-stream');
    const decoded = decodeBundle(await gateway.data(bundle.id));
    assert.ok(decoded.length > 0);
    items.push(...decoded);
  }
  return { bundles, items };
}

/** Every entry is on the gateway byte for byte, in key order, and indexed by its own tags. */
async function assertPublished(group: string, entries: Entry[]): Promise<GqlNode[]> {
  const { bundles, items } = await publishedItems(group);
  const seqs = bundles.map((bundle) => `${tag(bundle, 'Seq-From')}-${tag(bundle, 'Seq-To')}`).join(' ');
  assert.equal(items.map((item) => item.id), entries.map((entry) => entry.id), `bundles (${seqs}) hold the items in slot order`);
  items.forEach((item, index) => assert.ok(Buffer.compare(item.raw, entries[index]!.raw) === 0, `item ${index} is byte-identical`));

  const indexed = await gql({ Process: [group], Type: ['Message', 'Assignment'] });
  assert.equal(new Set(indexed.map((node) => node.id)), new Set(entries.map((entry) => entry.id)), 'arlocal indexes every item by its own tags');
  for (const node of indexed) {
    const entry = entries.find((e) => e.id === node.id)!;
    assert.is(tag(node, 'Slot'), String(entry.key[1]));
  }
  return bundles;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An ed25519 (signature type 2) arbundles signer on node:crypto keys. */
function ed25519Signer(): Signer {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const secret = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  class Ed25519 extends Curve25519 {
    override get key() { return secret as any; }
    override get publicKey() { return pub; }
  }
  return new Ed25519('', '') as unknown as Signer;
}

test('encodeBundle is byte-identical to arbundles, and decodeBundle reads it back', async () => {
  const entries = [...(await makeItems(newGroup(), 3)), ...(await makeItems(newGroup(), 2, ed25519Signer()))];
  const raws = entries.map((entry) => entry.raw);
  const ours = encodeBundle(raws);
  // Signed DataItem objects: arbundles keeps their signatures and IDs. (A DataItem made anew
  // from raw bytes does not count as signed, and bundleAndSignData would sign it again.)
  const theirs = await bundleAndSignData(entries.map((entry) => entry.item), signer);
  assert.ok(Buffer.compare(ours, theirs.getRaw()) === 0, 'same bytes as bundleAndSignData');
  assert.is(ours.length, bundleSize(raws.map((raw) => raw.length)));
  assert.equal(theirs.getIds(), entries.map((entry) => entry.id));

  const decoded = decodeBundle(ours);
  assert.equal(decoded.map((item) => item.id), entries.map((entry) => entry.id));
  decoded.forEach((item, index) => assert.ok(Buffer.compare(item.raw, raws[index]!) === 0));
  assert.equal(entries.map((entry) => itemId(entry.raw)), entries.map((entry) => entry.id));
  assert.equal(decodeBundle(encodeBundle([])), []);
});

test('decodeBundle refuses truncated and inconsistent bundles', async () => {
  const entries = await makeItems(newGroup(), 2);
  const good = encodeBundle(entries.map((entry) => entry.raw));
  const throws = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => decodeBundle(bytes), (error: Error) => error instanceof BundleError && pattern.test(error.message));
  const edit = (change: (bytes: Uint8Array) => void) => {
    const copy = Uint8Array.from(good);
    change(copy);
    return copy;
  };

  throws(good.subarray(0, 10), /at least 32 bytes/);
  throws(good.subarray(0, 32 + 64 * 3), /truncated bundle: 4 items need/);
  throws(good.subarray(0, good.length - 1), /truncated bundle: item 3/);
  throws(edit((b) => (b[0] = 200)), /truncated bundle: 200 items need/);
  throws(edit((b) => (b[0] = 5)), /item 0 of the bundle/); // a count that disagrees with the entries
  throws(edit((b) => (b[31] = 1)), /item count is too large/);
  throws(new Uint8Array([...good, 0]), /inconsistent bundle: its 4 items end at byte/);
  throws(edit((b) => (b[32 + 64 + 32] ^= 1)), /item 1 of the bundle has ID .* but its header entry says/);
  const firstItem = 32 + 64 * 4;
  throws(edit((b) => (b[firstItem + 2 + 100] ^= 1)), /item 0 of the bundle has ID/); // a byte of the signature
  throws(edit((b) => (b[firstItem] = 42)), /item 0 of the bundle: unknown data item signature type 42/);
  throws(edit((b) => b.set([10, 0], 32)), /item 0 of the bundle: a data item of 10 bytes is too short/); // a smaller size entry
  assert.throws(() => encodeBundle([new Uint8Array([1, 0, 1, 2])]), (error: Error) => error instanceof BundleError);
});

test('flush publishes each process in its own bundle; items are on the gateway byte for byte', async () => {
  const store = newStore();
  const [a, b] = [newGroup(), newGroup()];
  const entries = { [a]: await makeItems(a, 8), [b]: await makeItems(b, 7) };
  await fill(store, [...entries[a]!, ...entries[b]!]);
  const publisher = new Publisher({ store, gateway, wallet, log: quiet });
  assert.is(publisher.depth(), 30);

  await publisher.flush();
  assert.is(publisher.depth(), 0);
  const stats = publisher.stats();
  assert.is(stats.published, 30);
  assert.is(stats.bundles, 2);
  assert.is(stats.failures, 0);
  assert.match(stats.lastBundle ?? '', /^[A-Za-z0-9_-]{43}$/);

  for (const [group, groupEntries] of Object.entries(entries)) {
    const bundles = await assertPublished(group, groupEntries);
    assert.is(bundles.length, 1);
    assert.is(tag(bundles[0]!, 'Seq-From'), '0');
    assert.is(tag(bundles[0]!, 'Seq-To'), String(groupEntries.at(-1)!.key[1]));
  }
  await publisher.flush(); // nothing left: no upload
  assert.is(publisher.stats().bundles, 2);
  await store.close();
});

test('a gateway that is down: flush throws, entries stay; after a restart they are published', async () => {
  const path = join(dir.path, 'restart-store');
  let local = newStore(path);
  const group = newGroup();
  const entries = await makeItems(group, 5);
  await fill(local, entries);
  const lines: string[] = [];
  const down = new Publisher({ store: local, gateway: new ArweaveGateway(`http://127.0.0.1:${await closedPort()}`), wallet, log: (line) => lines.push(line) });

  try {
    await down.flush();
    assert.unreachable('flush should throw while the gateway is down');
  } catch (error) {
    assert.match((error as Error).message, /did not answer/);
  }
  await down.flush().catch(() => {});
  assert.is(down.depth(), 10);
  assert.is(down.stats().failures, 2);
  assert.is(down.stats().published, 0);
  assert.match(down.stats().lastError ?? '', /did not answer/);
  assert.is(lines.length, 1, 'logged once per failure streak');
  await down.stop();

  await local.close();
  local = newStore(path);
  const up = new Publisher({ store: local, gateway, wallet, log: quiet });
  assert.is(up.depth(), 10);
  await up.flush();
  assert.is(up.depth(), 0);
  await assertPublished(group, entries);
  await local.close();
});

test('an entry that is not a signed item is named, kept, and nothing is uploaded', async () => {
  const local = newStore();
  const group = newGroup();
  await fill(local, await makeItems(group, 2));
  await local.outbox.put([group, 1, 2], new Uint8Array([9, 0, 1, 2, 3]));
  const publisher = new Publisher({ store: local, gateway, wallet, log: quiet });
  try {
    await publisher.flush();
    assert.unreachable('flush should refuse the entry');
  } catch (error) {
    assert.instance(error, BundleError);
    assert.match((error as Error).message, `the outbox entry ["${group}",1,2] is not a signed data item: unknown data item signature type 9`);
  }
  assert.is(publisher.depth(), 5);
  assert.is(publisher.stats().bundles, 0);
  assert.equal(await gql({ Process: [group] }), []);
  await local.close();
});

test('maxItems and maxBytes split a process into several bundles, in slot order', async () => {
  const local = newStore();
  const [a, b] = [newGroup(), newGroup()];
  const entries = { [a]: await makeItems(a, 15), [b]: await makeItems(b, 15) };
  await fill(local, [...entries[a]!, ...entries[b]!]);
  await new Publisher({ store: local, gateway, wallet, log: quiet, maxItems: 8 }).flush();
  for (const [group, groupEntries] of Object.entries(entries)) {
    const bundles = await assertPublished(group, groupEntries);
    assert.ok(bundles.length >= 4, `${bundles.length} bundles for 30 items`);
    assert.equal(bundles.map((bundle) => tag(bundle, 'Seq-From')), ['0', '4', '8', '12']);
    assert.equal(bundles.map((bundle) => tag(bundle, 'Seq-To')), ['3', '7', '11', '14']);
  }

  const c = newGroup();
  const small = await makeItems(c, 3);
  await fill(local, small);
  // Room for two items per bundle, not three.
  const maxBytes = bundleSize(small.slice(0, 2).map((entry) => entry.raw.length));
  const publisher = new Publisher({ store: local, gateway, wallet, log: quiet, maxBytes });
  await publisher.flush();
  assert.is(publisher.stats().bundles, 3);
  const bundles = await assertPublished(c, small);
  assert.is(bundles.length, 3);
  await local.close();
});

test('the background loop publishes after kick() and stop() lets go', async () => {
  const local = newStore();
  const publisher = new Publisher({ store: local, gateway, wallet, log: quiet });
  publisher.start();
  const group = newGroup();
  const entries = await makeItems(group, 3);
  await fill(local, entries);
  publisher.kick();
  publisher.kick();
  // Waits on the stats, not on depth(): LMDB's writer thread commits the removal a moment
  // before the publisher's await resumes and counts the bundle.
  const deadline = Date.now() + 10_000;
  while (publisher.stats().published < entries.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const stats = JSON.stringify(publisher.stats());
  assert.is(publisher.depth(), 0, stats);
  assert.is(publisher.stats().bundles, 1, `kicks coalesce: ${stats}`);
  await publisher.stop();
  await assertPublished(group, entries);
  await local.close();
});

test('the background loop survives a gateway that is down and backs off', async () => {
  const local = newStore();
  await fill(local, await makeItems(newGroup(), 1));
  const lines: string[] = [];
  const publisher = new Publisher({ store: local, gateway: new ArweaveGateway(`http://127.0.0.1:${await closedPort()}`), wallet, log: (line) => lines.push(line), minBackoffMs: 20, maxBackoffMs: 80 });
  publisher.start();
  await new Promise((resolve) => setTimeout(resolve, 400));
  await publisher.stop();
  const { failures } = publisher.stats();
  // 20, 40, 80, 80… ms apart: a handful of attempts in 400 ms, not hundreds.
  assert.ok(failures >= 2 && failures <= 10, `${failures} attempts`);
  assert.is(lines.length, 1);
  assert.is(publisher.depth(), 2);
  await local.close();
});

test.run();
