// Scheduler-location records: the pinned format (a fixed key gives a fixed record ID, the
// vector of docs/PROTOCOL.md), every defect refused with its reason, nonce ordering and expiry;
// the cache and resolution over in-test sources; publication through the real publisher to a
// real arlocal and resolution from it; and the routes on a real node.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { createDataItem, createRsaDataItem, ed25519Signer, type Ed25519Signer, type Tag } from '../engine/protocol/ans104/data-item.ts';
import { isExpired, locationGroup, locationTags, newer, readLocation, signLocation, type LocationFields } from '../engine/protocol/location.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { b64url, fromB64url } from '../engine/protocol/encoding.ts';
import { Locations, type LocationSource } from '../engine/locations.ts';
import { OutboxKind, openStore, type Store } from '../engine/store.ts';
import { startArlocal } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { Publisher } from '../arweave/publisher.ts';
import { arweaveLocations } from '../arweave/locations.ts';
import { peerLocations } from '../gateway/peer-locations.ts';
import { NodeClient } from '../client/node-client.ts';
import { getJson, tempDir, testNode } from './helpers.ts';

const test = suite('locations');

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

/** An ed25519 key from a 32-byte seed (PKCS#8 DER: a fixed prefix, then the seed). */
function seededKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
}
const VECTOR_SIGNER = ed25519Signer(seededKey(Uint8Array.from({ length: 32 }, (_, i) => i)));
const VECTOR: LocationFields = { url: 'https://node.example:8734', nonce: T0, timestamp: T0, ttlMs: DAY, version: '0.1.0' };

const newSigner = (): Ed25519Signer => ed25519Signer(generateKeyPairSync('ed25519').privateKey);
const addressOf = (signer: Ed25519Signer) => readLocation(signLocation(signer, VECTOR)).address;
const fields = (over: Partial<LocationFields> = {}): LocationFields => ({ ...VECTOR, url: 'http://127.0.0.1:8734', ...over });

/** The readLocation error of an item; fails if it is accepted. */
function refusal(raw: Uint8Array, address?: string): string {
  try {
    readLocation(raw, address);
  } catch (error) {
    assert.instance(error, HyperError);
    assert.is((error as HyperError).kind, 'invalid');
    return (error as Error).message;
  }
  assert.unreachable('the record was accepted');
  return '';
}

/** A record item with tags `edit` changed from the valid ones. */
function tampered(edit: (tags: Tag[]) => Tag[], extra: { target?: string; anchor?: Uint8Array; data?: string } = {}): Uint8Array {
  return createDataItem(VECTOR_SIGNER, { tags: edit(locationTags(VECTOR)), data: extra.data ?? '', target: extra.target, anchor: extra.anchor }).raw;
}
const setTag = (name: string, value: string) => (tags: Tag[]) => tags.map((t) => (t.name === name ? { name, value } : t));

test('a fixed key and fields give a fixed record: the PROTOCOL.md vector', () => {
  const item = signLocation(VECTOR_SIGNER, VECTOR);
  const record = readLocation(item.raw);
  assert.is(b64url(VECTOR_SIGNER.publicKey), 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg');
  assert.is(record.address, 'Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw');
  assert.is(record.id, 'DeSBkKs80TMeJfwotMerJWADjDVEYB8KgLoyxOOJYsQ');
  assert.is(item.raw.length, 301);
  assert.equal(item.tags, [
    { name: 'Data-Protocol', value: 'hyperwasm' },
    { name: 'Variant', value: 'hyperwasm.1' },
    { name: 'Type', value: 'Scheduler-Location' },
    { name: 'Url', value: 'https://node.example:8734' },
    { name: 'Nonce', value: '1700000000000' },
    { name: 'Timestamp', value: '1700000000000' },
    { name: 'Time-To-Live', value: '86400000' },
    { name: 'Node-Version', value: '0.1.0' },
  ]);
  assert.equal({ ...record, raw: undefined }, { address: record.address, url: VECTOR.url, nonce: T0, timestamp: T0, ttlMs: DAY, version: '0.1.0', id: record.id, raw: undefined });
  // Deterministic: signing again gives the same bytes.
  assert.equal(signLocation(VECTOR_SIGNER, VECTOR).raw, item.raw);
  assert.is(readLocation(item).id, record.id);
  assert.is(locationGroup(record.address), `location/${record.address}`);
});

test('every defect is refused with its reason', async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['not an item', new Uint8Array([2, 0, 1, 2, 3]), /not an ANS-104 data item/],
    ['a target', tampered((t) => t, { target: 'Q'.repeat(43) }), /must have no target/],
    ['an anchor', tampered((t) => t, { anchor: new Uint8Array(32) }), /must have no anchor/],
    ['data', tampered((t) => t, { data: 'x' }), /data must be empty \(it has 1 bytes\)/],
    ['no Url', tampered((t) => t.filter((x) => x.name !== 'Url')), /the Url tag is missing/],
    ['no Nonce', tampered((t) => t.filter((x) => x.name !== 'Nonce')), /the Nonce tag is missing/],
    ['no Timestamp', tampered((t) => t.filter((x) => x.name !== 'Timestamp')), /the Timestamp tag is missing/],
    ['no Time-To-Live', tampered((t) => t.filter((x) => x.name !== 'Time-To-Live')), /the Time-To-Live tag is missing/],
    ['no Node-Version', tampered((t) => t.filter((x) => x.name !== 'Node-Version')), /the Node-Version tag is missing/],
    ['two Nonces', tampered((t) => [...t, { name: 'Nonce', value: '5' }]), /the Nonce tag appears 2 times/],
    ['another protocol', tampered(setTag('Data-Protocol', 'ao')), /Data-Protocol must be "hyperwasm", got "ao"/],
    ['another variant', tampered(setTag('Variant', 'ao.N.1')), /Variant must be "hyperwasm.1"/],
    ['another type', tampered(setTag('Type', 'scheduler-location')), /Type must be "Scheduler-Location", got "scheduler-location"/],
    ['not a URL', tampered(setTag('Url', 'node:8734')), /is not a base URL: its scheme must be http or https, not node/],
    ['no URL at all', tampered(setTag('Url', 'nowhere')), /Url is not a URL/],
    ['ftp', tampered(setTag('Url', 'ftp://node.example')), /scheme must be http or https, not ftp/],
    ['a trailing slash', tampered(setTag('Url', 'https://node.example/')), /must not end in a slash/],
    ['a query', tampered(setTag('Url', 'https://node.example?a=1')), /no query or fragment/],
    ['credentials', tampered(setTag('Url', 'https://me:pw@node.example')), /must not hold credentials/],
    ['a non-canonical URL', tampered(setTag('Url', 'https://Node.Example:443')), /must be written as "https:\/\/node.example"/],
    ['a leading zero', tampered(setTag('Nonce', '01')), /Nonce must be a whole decimal number without leading zeros, got "01"/],
    ['a negative nonce', tampered(setTag('Nonce', '-1')), /Nonce must be a whole decimal number/],
    ['an unsafe nonce', tampered(setTag('Nonce', '9007199254740993')), /Nonce must be a whole decimal number/],
    ['a fractional timestamp', tampered(setTag('Timestamp', '1.5')), /Timestamp must be a whole decimal number/],
    ['a zero time-to-live', tampered(setTag('Time-To-Live', '0')), /Time-To-Live must be at least 1 ms/],
    ['an empty version', tampered(setTag('Node-Version', '')), /Node-Version must be 1 to 64 printable ASCII characters/],
  ];
  for (const [what, raw, reason] of cases) {
    const message = refusal(raw);
    assert.match(message, reason, `${what}: ${message}`);
    assert.match(message, /^location record/, what);
  }

  const forged = Uint8Array.from(signLocation(VECTOR_SIGNER, VECTOR).raw);
  forged[10] ^= 1;
  assert.match(refusal(forged), /its signature does not verify/);
  // A tag changed after signing: same signature, so the same ID, but it no longer verifies.
  const original = signLocation(VECTOR_SIGNER, fields({ url: 'http://127.0.0.1:1111' })).raw;
  const moved = Buffer.from(original);
  moved.set(Buffer.from('2222'), moved.indexOf(Buffer.from('1111')));
  assert.match(refusal(moved), /its signature does not verify/);

  const rsa = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({ format: 'jwk' }) as any;
  const rsaItem = await createRsaDataItem(rsa, { tags: locationTags(VECTOR), data: '' });
  assert.match(refusal(rsaItem.raw), /must be signed with an ed25519 key \(signature type 2\), not type 1/);

  // A field that would make an invalid record is refused when signing.
  assert.throws(() => signLocation(VECTOR_SIGNER, fields({ url: 'http://127.0.0.1:1/' })), /must not end in a slash/);
  assert.throws(() => signLocation(VECTOR_SIGNER, fields({ ttlMs: 0 })), /at least 1 ms/);
});

test('another signer\'s record is refused for an address', () => {
  const other = newSigner();
  const raw = signLocation(other, fields()).raw;
  const victim = addressOf(VECTOR_SIGNER);
  const message = refusal(raw, victim);
  assert.match(message, new RegExp(`is signed by ${addressOf(other)}, not by ${victim}: only an address's own key can say where it is`));
  assert.is(readLocation(raw, addressOf(other)).address, addressOf(other));
});

test('the higher nonce wins; a record expires after its time-to-live', () => {
  const a = readLocation(signLocation(VECTOR_SIGNER, fields({ nonce: 5 })).raw);
  const b = readLocation(signLocation(VECTOR_SIGNER, fields({ nonce: 6 })).raw);
  assert.ok(newer(b, a));
  assert.not.ok(newer(a, b));
  assert.not.ok(newer(a, a));
  assert.ok(newer(a, undefined));
  assert.not.ok(isExpired(a, T0 + DAY));
  assert.ok(isExpired(a, T0 + DAY + 1));
  assert.not.ok(isExpired(a, T0 - 1));
});

// ---------------------------------------------------------------------------------------
// The cache, announcements and resolution

interface Fixture {
  store: Store;
  dir: { remove(): void };
  now: { ms: number };
  close(): Promise<void>;
}

function fixture(): Fixture {
  const dir = tempDir();
  const store = openStore(join(dir.path, 'lmdb'));
  return { store, dir, now: { ms: T0 }, close: async () => { await store.close(); dir.remove(); } };
}

function locations(f: Fixture, options: { signer?: Ed25519Signer; sources?: LocationSource[]; log?: (line: string) => void; ttlMs?: number } = {}) {
  const signer = options.signer ?? newSigner();
  return new Locations({ address: addressOf(signer), signer, store: f.store, version: '0.1.0', ttlMs: options.ttlMs, clock: () => f.now.ms, sources: options.sources, log: options.log });
}

/** A source that answers fixed candidates and counts its calls. */
function source(name: string, answer: (address: string) => Uint8Array[] | Promise<Uint8Array[]>) {
  const calls: string[] = [];
  return { calls, name, find: async (address: string) => (calls.push(address), answer(address)) } satisfies LocationSource & { calls: string[] };
}

test('announce: nonces strictly increase and persist, the record is queued for Arweave, TTL/2 dedups', async () => {
  const f = fixture();
  try {
    const signer = newSigner();
    const address = addressOf(signer);
    const mine = locations(f, { signer });
    const first = await mine.announce('http://127.0.0.1:1000');
    assert.is(first.nonce, T0);
    assert.is(first.timestamp, T0);
    assert.is(first.ttlMs, DAY);
    assert.is(f.store.meta.get('location-nonce'), T0);
    assert.equal(Uint8Array.from(f.store.outbox.get([`location/${address}`, T0, OutboxKind.Location])!), first.raw);
    assert.is(mine.own(), first);
    assert.is(await mine.resolve(address), first);

    f.now.ms = T0 + DAY / 2 - 1;
    assert.is(await mine.announce('http://127.0.0.1:1000'), first, 'the same URL before TTL/2 is the same record');
    const forced = await mine.announce('http://127.0.0.1:1000', { force: true });
    assert.is(forced.nonce, T0 + DAY / 2 - 1);
    const moved = await mine.announce('http://127.0.0.1:2000');
    assert.is(moved.nonce, forced.nonce + 1, 'the clock did not move: the nonce still increases');
    assert.is(moved.url, 'http://127.0.0.1:2000');
    // Concurrent announcements each get their own nonce.
    const both = await Promise.all([mine.announce('http://127.0.0.1:3000', { force: true }), mine.announce('http://127.0.0.1:3000', { force: true })]);
    assert.equal(both.map((r) => r.nonce), [moved.nonce + 1, moved.nonce + 2]);

    // A restart with a clock gone back still signs a higher nonce than any before.
    f.now.ms = T0 - 1000;
    const again = await locations(f, { signer }).announce('http://127.0.0.1:1000');
    assert.is(again.nonce, moved.nonce + 3);
    assert.is([...f.store.outbox.getRange({})].filter(({ key }) => key[0] === `location/${address}`).length, 6);
  } finally {
    await f.close();
  }
});

test('start re-announces every TTL/2; stop ends it', async () => {
  const f = fixture();
  try {
    f.now.ms = Date.now();
    const mine = locations(f, { ttlMs: 40 });
    const first = await mine.start('http://127.0.0.1:1000');
    let latest = first;
    while (latest.nonce === first.nonce) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      f.now.ms = Date.now();
      latest = mine.own()!;
    }
    mine.stop();
    assert.ok(latest.nonce > first.nonce);
    assert.is(latest.url, first.url);
  } finally {
    await f.close();
  }
});

test('accept: valid records cached, newer replaces, older or equal ignored, invalid and expired refused', async () => {
  const f = fixture();
  try {
    const cache = locations(f);
    const other = newSigner();
    const five = signLocation(other, fields({ nonce: 5, url: 'http://127.0.0.1:5' })).raw;
    const six = signLocation(other, fields({ nonce: 6, url: 'http://127.0.0.1:6' })).raw;
    const sixElsewhere = signLocation(other, fields({ nonce: 6, url: 'http://127.0.0.1:66' })).raw;
    // Whatever order they arrive in, the higher nonce stays.
    assert.is(cache.accept(six).nonce, 6);
    assert.is(cache.accept(five).url, 'http://127.0.0.1:6');
    assert.is(cache.accept(sixElsewhere).url, 'http://127.0.0.1:6', 'an equal nonce with another ID keeps the cached one');
    assert.is((await cache.resolve(addressOf(other)))!.url, 'http://127.0.0.1:6');
    const reversed = locations(f);
    assert.is(reversed.accept(five).nonce, 5);
    assert.is(reversed.accept(six).nonce, 6);

    assert.throws(() => cache.accept(tampered(setTag('Type', 'Message'))), /Type must be "Scheduler-Location"/);
    const stale = signLocation(newSigner(), fields({ timestamp: T0 - DAY - 1 })).raw;
    assert.throws(() => cache.accept(stale), /expired at 2023-11-14T22:13:19\.999Z/);
    assert.equal(cache.cached().map((r) => r.nonce), [6]);
    f.now.ms = T0 + DAY + 1;
    assert.equal(cache.cached(), [], 'expired records are not listed');
    assert.is(await cache.resolve(addressOf(other)), undefined, 'nor used');
  } finally {
    await f.close();
  }
});

test('resolve: own record, then the cache, then each source in order; the highest usable nonce of a source wins', async () => {
  const f = fixture();
  try {
    const target = newSigner();
    const address = addressOf(target);
    const record = (nonce: number, over: Partial<LocationFields> = {}) => signLocation(target, fields({ nonce, url: `http://127.0.0.1:${nonce}`, ...over })).raw;
    const lines: string[] = [];
    const broken = source('broken', () => Promise.reject(new Error('connection refused')));
    const empty = source('empty', () => []);
    const arweave = source('arweave', () => [
      record(3),
      record(9, { timestamp: T0 - DAY - 1 }), // expired: not used, though the highest
      signLocation(newSigner(), fields({ nonce: 50 })).raw, // someone else's
      tampered(setTag('Nonce', '01')), // invalid
      record(7),
      record(4),
    ]);
    const later = source('later', () => [record(100)]);
    const cache = locations(f, { sources: [broken, empty, arweave, later], log: (line) => lines.push(line) });

    const found = await cache.resolve(address);
    assert.is(found!.nonce, 7);
    assert.equal([broken.calls, empty.calls, arweave.calls, later.calls], [[address], [address], [address], []]);
    assert.ok(lines.some((l) => l === `locations: the source broken failed for ${address}: connection refused`), lines.join('\n'));
    assert.ok(lines.some((l) => /arweave gave an invalid record .* is signed by/.test(l)), lines.join('\n'));
    // Cached now: no source is asked again.
    assert.is(await cache.resolve(address), found);
    assert.is(arweave.calls.length, 1);
    // Concurrent resolves of an unknown address share one lookup.
    const slow = source('slow', async () => (await new Promise((r) => setTimeout(r, 20)), [signLocation(target, fields({ nonce: 1 })).raw]));
    const fresh = locations(f, { sources: [slow] });
    const all = await Promise.all([fresh.resolve(address), fresh.resolve(address), fresh.resolve(address)]);
    assert.is(slow.calls.length, 1);
    assert.ok(all.every((r) => r === all[0] && r!.nonce === 1));
    // cached=true (sources: false) answers from the cache only.
    assert.is(await locations(f, { sources: [later] }).resolve(address, { sources: false }), undefined);
    assert.is(later.calls.length, 0);
    // Nothing anywhere: undefined.
    assert.is(await locations(f, { sources: [empty, broken] }).resolve(addressOf(newSigner())), undefined);
    // The expiry of a cached record sends the next resolve to the sources again.
    f.now.ms = T0 + DAY + 1;
    const renewed = source('renewed', () => [record(8, { timestamp: T0 + DAY }), record(6, { timestamp: T0 + DAY })]);
    const expiring = locations(f, { sources: [renewed] });
    f.now.ms = T0;
    expiring.accept(record(7));
    f.now.ms = T0 + DAY + 1;
    assert.is((await expiring.resolve(address))!.nonce, 8, 'only higher than the expired one');
  } finally {
    await f.close();
  }
});

test('invalidate: the next resolve asks the sources, and never takes a lower nonce than the one dropped', async () => {
  const f = fixture();
  try {
    const target = newSigner();
    const address = addressOf(target);
    const record = (nonce: number) => signLocation(target, fields({ nonce, url: `http://127.0.0.1:${nonce}` })).raw;
    let answer = [record(4)];
    const arweave = source('arweave', () => answer);
    const cache = locations(f, { sources: [arweave] });
    cache.accept(record(5));
    cache.invalidate(address);
    assert.is(await cache.resolve(address), undefined, 'nonce 4 is older than the dropped 5');
    assert.is(arweave.calls.length, 1);
    assert.throws(() => cache.accept(record(4)), /its nonce 4 is older than that of a record already given up \(5\)/);
    answer = [record(4), record(5)];
    assert.is((await cache.resolve(address))!.nonce, 5, 'the same record again is fine (its node may be back)');
    cache.invalidate(address);
    answer = [record(6)];
    assert.is((await cache.resolve(address))!.nonce, 6);
    // This node's own record is never dropped.
    const signer = newSigner();
    const mine = locations(f, { signer });
    const own = await mine.announce('http://127.0.0.1:1');
    mine.invalidate(own.address);
    assert.is(await mine.resolve(own.address), own);
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------------------------------
// Arweave: published by the real publisher to a real arlocal, found by GraphQL

test('records published through the outbox are found on Arweave, and resolve takes the highest nonce', async () => {
  const dir = tempDir();
  const arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  const f = fixture();
  try {
    const gateway = new ArweaveGateway(arlocal.url);
    const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
    const publisher = new Publisher({ store: f.store, gateway, wallet });
    const signer = newSigner();
    const address = addressOf(signer);
    const node = locations(f, { signer });
    // Three bundles: records 1 and 2, then 3, then 4 and 5.
    const announced = [];
    for (const [nonce, flush] of [[1, false], [2, true], [3, true], [4, false], [5, true]] as const) {
      f.now.ms = T0 + nonce;
      announced.push(await node.announce(`http://127.0.0.1:${1000 + nonce}`));
      if (flush) await publisher.flush();
    }
    assert.is(publisher.depth(), 0);
    const newest = announced.at(-1)!;

    // The gateway's item index names the three highest nonces; only their bundles are read.
    const found = await arweaveLocations(gateway).find(address);
    assert.equal(found.map((raw) => readLocation(raw, address).nonce).sort(), [T0 + 3, T0 + 4, T0 + 5]);
    assert.equal((await arweaveLocations(gateway, { candidates: 1 }).find(address)).map((raw) => readLocation(raw, address).id), [newest.id]);
    assert.equal(await arweaveLocations(gateway).find(addressOf(newSigner())), [], 'an address without records');

    // Another node, knowing nothing, resolves it from Arweave alone.
    f.now.ms = T0 + 10;
    const elsewhere = locations(f, { sources: [peerLocations([]), arweaveLocations(gateway)] });
    const resolved = await elsewhere.resolve(address);
    assert.is(resolved!.id, newest.id);
    assert.is(resolved!.url, 'http://127.0.0.1:1005');
  } finally {
    await f.close();
    await arlocal.stop();
    dir.remove();
  }
});

// ---------------------------------------------------------------------------------------
// The routes, on a real node (its Locations built by gateway/node.ts)

test('GET and POST /~scheduler@1.0/location on a real node, through the client and as a peer source', async () => {
  const dir = tempDir();
  const running = await testNode(dir.path, { publish: false });
  try {
    const own = running.node.key.address;
    const client = new NodeClient(running.url);

    let r = await getJson(`${running.url}/~scheduler@1.0/location?address=${own}`);
    assert.is(r.status, 200, JSON.stringify(r.body));
    const record = readLocation(fromB64url(r.body.item), own);
    assert.equal(r.body, {
      address: own,
      url: running.url,
      nonce: record.nonce,
      timestamp: record.timestamp,
      'time-to-live': record.ttlMs,
      'node-version': record.version,
      id: record.id,
      item: b64url(record.raw),
    });
    assert.equal(await client.location(own), record.raw);

    const stranger = addressOf(newSigner());
    r = await getJson(`${running.url}/~scheduler@1.0/location?address=${stranger}`);
    assert.is(r.status, 404);
    assert.match(r.body.message, new RegExp(`no unexpired location record of ${stranger} is known; this node asked its own cache, then peers \\(none configured\\), then Arweave`));
    assert.is(await client.location(stranger), undefined);
    r = await getJson(`${running.url}/~scheduler@1.0/location?address=${stranger}&cached=true`);
    assert.match(r.body.message, /asked its own cache only \(cached=true\)/);
    r = await getJson(`${running.url}/~scheduler@1.0/location?address=nope`);
    assert.is(r.status, 400);
    assert.match(r.body.message, /address must be a scheduler's address/);

    // Another node's record, handed over, is verified and cached.
    const other = newSigner();
    const theirs = signLocation(other, { url: 'http://127.0.0.1:9', nonce: 2, timestamp: Date.now(), ttlMs: DAY, version: '9.9.9' });
    await client.announceLocation(theirs.raw);
    assert.equal(await client.location(addressOf(other), { cached: true }), theirs.raw);
    const older = signLocation(other, { url: 'http://127.0.0.1:8', nonce: 1, timestamp: Date.now(), ttlMs: DAY, version: '9.9.9' });
    const answer = await client.post('/~scheduler@1.0/location', older.raw);
    assert.is(answer.nonce, 2, 'an older record is ignored: the cached one is the answer');

    const refused = await fetch(`${running.url}/~scheduler@1.0/location`, { method: 'POST', body: Buffer.from(tampered(setTag('Nonce', 'x'))) });
    assert.is(refused.status, 400);
    assert.match(((await refused.json()) as any).message, /Nonce must be a whole decimal number/);
    const expired = signLocation(newSigner(), { url: 'http://127.0.0.1:9', nonce: 1, timestamp: Date.now() - 2 * DAY, ttlMs: DAY, version: '1' });
    const late = await fetch(`${running.url}/~scheduler@1.0/location`, { method: 'POST', body: Buffer.from(expired.raw) });
    assert.is(late.status, 400);
    assert.match(((await late.json()) as any).message, /expired at/);
    const empty = await fetch(`${running.url}/~scheduler@1.0/location`, { method: 'POST' });
    assert.is(empty.status, 400);

    // The node as another node's peer source: it answers what it holds; a dead peer gives nothing.
    assert.equal(await peerLocations([running.url]).find(addressOf(other)), [theirs.raw]);
    assert.equal(await peerLocations([running.url]).find(stranger), []);
    const dead = 'http://127.0.0.1:9';
    assert.equal(await peerLocations([dead, running.url]).find(addressOf(other)), [theirs.raw]);
    try {
      await peerLocations([dead]).find(addressOf(other));
      assert.unreachable('no peer answered');
    } catch (error) {
      assert.match((error as Error).message, /no peer answered \(http:\/\/127\.0\.0\.1:9: /);
    }
  } finally {
    await running.close();
    dir.remove();
  }
});

test.run();
