// The node registry and its heartbeats: the pinned heartbeat format (a fixed key and fields give
// fixed bytes, the vector of docs/registry-section.md) and every defect refused with its status;
// the registry on an injected clock (sequence rule, TTL + grace, OFFLINE at once, uptime,
// filters, a restart on the same store, what it queues for Arweave); the sender on fake
// registries; then a real registry and two real joined nodes on loopback sharing one arlocal.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import {
  heartbeatData,
  heartbeatGpu,
  heartbeatTags,
  MAX_HEARTBEAT_BYTES,
  readHeartbeat,
  readSummary,
  registryGroup,
  signHeartbeat,
  type HeartbeatFields,
} from '../engine/protocol/heartbeat.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { b64url, fromB64url, utf8 } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { decodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { NodeRegistry, nextSpans, uptime } from '../engine/registry.ts';
import { Heartbeats, type HeartbeatTarget } from '../engine/heartbeats.ts';
import { OutboxKind, openStore, type Store } from '../engine/store.ts';
import { startArlocal } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { findByTags } from '../arweave/graphql.ts';
import type { RunningNode } from '../gateway/node.ts';
import { getJson, tempDir, testNode } from './helpers.ts';
import { waitFor } from './net.ts';

const test = suite('registry');

const T0 = 1_700_000_000_000;
const MODULE = 'O2CUZR9-gZv_cT0C5nehxISvqLBKJWS3VjDVreQbyyU';

const seeded = (seed: Uint8Array) => createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const VECTOR_SIGNER = ed25519Signer(seeded(Uint8Array.from({ length: 32 }, (_, i) => i)));
const VECTOR: HeartbeatFields = {
  sequence: T0,
  state: 'ONLINE',
  url: 'https://node.example:8734',
  version: '0.1.0',
  gpu: { vendor: 'nvidia', architecture: 'hopper', device: 'H200', description: 'NVIDIA H200', source: 'hardware', fallback: false, features: ['packed_4x8_integer_dot_product'] },
  cores: 16,
  memory: 137_438_953_472,
  gasPerSecond: 12_000_000_000,
  queue: 0,
  prices: { flat: '0', perKgas: '5' },
  modules: [MODULE],
  time: T0,
};

const newSigner = (): Ed25519Signer => ed25519Signer(generateKeyPairSync('ed25519').privateKey);
const fields = (over: Partial<HeartbeatFields> = {}): HeartbeatFields => ({ ...VECTOR, url: 'http://127.0.0.1:8734', ...over });

/** The error readHeartbeat throws for an item; fails if it is accepted. */
function refusal(raw: Uint8Array): HyperError {
  try {
    readHeartbeat(raw);
  } catch (error) {
    assert.instance(error, HyperError);
    return error as HyperError;
  }
  assert.unreachable('the heartbeat was accepted');
  throw new Error('unreachable');
}

test('a fixed key and fields give fixed bytes: the vector', () => {
  const heartbeat = signHeartbeat(VECTOR_SIGNER, VECTOR);
  assert.is(b64url(VECTOR_SIGNER.publicKey), 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg');
  assert.is(heartbeat.address, 'Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw');
  assert.is(heartbeat.publicKey, 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg');
  assert.is(heartbeat.id, 'Rk-_w39OOcPSpnYT44cx_AQMciAHdsRuD91euv3DLII');
  assert.is(heartbeat.raw.length, 663);
  assert.is(sha256b64(heartbeat.raw), 'FAakbtfQb_ULHqq61l-c70mPd2lEu04Ytuqrpirq6DY');
  assert.is(
    new TextDecoder().decode(heartbeatData(VECTOR)),
    '{"cores":16,"gas-per-second":12000000000,"gpu":{"architecture":"hopper","description":"NVIDIA H200","device":"H200","fallback":false,"features":["packed_4x8_integer_dot_product"],"source":"hardware","vendor":"nvidia"},"memory":137438953472,"modules":["O2CUZR9-gZv_cT0C5nehxISvqLBKJWS3VjDVreQbyyU"],"prices":{"flat":"0","per-kgas":"5"},"queue":0,"time":1700000000000}',
  );
  assert.equal(heartbeatTags(VECTOR), [
    { name: 'Data-Protocol', value: 'hyperwasm' },
    { name: 'Variant', value: 'hyperwasm.1' },
    { name: 'Type', value: 'Node-Heartbeat' },
    { name: 'Sequence', value: '1700000000000' },
    { name: 'State', value: 'ONLINE' },
    { name: 'Url', value: 'https://node.example:8734' },
    { name: 'Node-Version', value: '0.1.0' },
    { name: 'Content-Type', value: 'application/json' },
  ]);
  // Read back: the fields, the signer's address and key. Signing again gives the same bytes (ed25519 is deterministic).
  const { address, publicKey, id, raw, ...read } = readHeartbeat(heartbeat.raw);
  assert.equal(read, VECTOR);
  assert.equal([address, publicKey, id], [heartbeat.address, heartbeat.publicKey, heartbeat.id]);
  assert.equal(raw, heartbeat.raw);
  assert.equal(signHeartbeat(VECTOR_SIGNER, VECTOR).raw, heartbeat.raw);
  assert.is(registryGroup(address), `registry/${address}`);
  // The node's adapter description as the heartbeat carries it; no GPU is "cpu".
  assert.is(heartbeatGpu({ backend: 'cpu', vendor: '', architecture: '', device: '', description: 'CPU', source: 'none', isFallbackAdapter: false, features: [] }), 'cpu');
  assert.equal(heartbeatGpu({ backend: 'gpu', vendor: 'mesa', architecture: 'llvmpipe', device: 'lavapipe', description: 'llvmpipe', source: 'lavapipe', isFallbackAdapter: true, features: ['a_b'] }), {
    vendor: 'mesa', architecture: 'llvmpipe', device: 'lavapipe', description: 'llvmpipe', source: 'lavapipe', fallback: true, features: ['a_b'],
  });
});

test('every defect is refused: 401 for a signature that does not verify, 400 for the rest, each saying why', () => {
  const good = signHeartbeat(VECTOR_SIGNER, VECTOR).raw;
  const forged = Uint8Array.from(good);
  forged[2 + 10] ^= 1; // a signature byte
  let error = refusal(forged);
  assert.is(error.kind, 'unauthenticated');
  assert.match(error.message, /signature does not verify/);
  const altered = Uint8Array.from(good);
  altered[altered.length - 3] ^= 1; // a data byte under the signature
  assert.is(refusal(altered).kind, 'unauthenticated');

  const item = (tags = heartbeatTags(VECTOR), data: string | Uint8Array = heartbeatData(VECTOR), extra: { anchor?: Uint8Array; target?: string } = {}) =>
    createDataItem(VECTOR_SIGNER, { tags, data, ...extra }).raw;
  const setTag = (name: string, value: string) => heartbeatTags(VECTOR).map((t) => (t.name === name ? { name, value } : t));
  const data = (edit: (d: any) => void) => {
    const d = JSON.parse(new TextDecoder().decode(heartbeatData(VECTOR)));
    edit(d);
    return utf8(canonical(d));
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['not an item', new Uint8Array([1, 2, 3]), /not an ANS-104 data item/],
    ['oversized', new Uint8Array(MAX_HEARTBEAT_BYTES + 1), /over the 16384-byte limit/],
    ['another type', item(setTag('Type', 'Scheduler-Location')), /Type must be "Node-Heartbeat"/],
    ['a bad state', item(setTag('State', 'ASLEEP')), /State must be one of JOINING, ONLINE, DRAINING, OFFLINE/],
    ['a leading zero', item(setTag('Sequence', '01')), /Sequence must be a whole decimal number without leading zeros/],
    ['a URL with a query', item(setTag('Url', 'http://a.example?x=1')), /is not a base URL: it must have no query/],
    ['a URL ending in a slash', item(setTag('Url', 'http://a.example/')), /it must not end in a slash/],
    ['no URL', item(heartbeatTags(VECTOR).filter((t) => t.name !== 'Url')), /the Url tag is missing/],
    ['a twice-given tag', item([...heartbeatTags(VECTOR), { name: 'State', value: 'ONLINE' }]), /the State tag appears 2 times/],
    ['an anchor', item(undefined, undefined, { anchor: new Uint8Array(32) }), /must have no anchor/],
    ['JSON with spaces', item(undefined, JSON.stringify(JSON.parse(new TextDecoder().decode(heartbeatData(VECTOR))), null, 1)), /canonical JSON/],
    ['not JSON', item(undefined, 'hello'), /must be a JSON object/],
    ['an unknown field', item(undefined, data((d) => (d.extra = 1))), /unknown extra/],
    ['a missing field', item(undefined, data((d) => delete d.cores)), /missing cores/],
    ['zero cores', item(undefined, data((d) => (d.cores = 0))), /cores must be a whole number ≥ 1/],
    ['a fractional gas rate', item(undefined, data((d) => (d['gas-per-second'] = 1.5))), /gas-per-second must be a whole number/],
    ['a numeric price', item(undefined, data((d) => (d.prices.flat = 1))), /prices.flat must be a decimal string/],
    ['a bad module ID', item(undefined, data((d) => (d.modules = ['nope']))), /modules must hold module IDs/],
    ['too many modules', item(undefined, data((d) => (d.modules = Array.from({ length: 101 }, (_, i) => sha256b64(new Uint8Array([i])))))), /at most 100 module IDs/],
    ['a bad gpu', item(undefined, data((d) => (d.gpu = 'tpu'))), /gpu must be "cpu" or the adapter/],
    ['a bad gpu source', item(undefined, data((d) => (d.gpu.source = 'none'))), /gpu.source must be one of/],
  ];
  for (const [what, raw, message] of cases) {
    error = refusal(raw);
    assert.is(error.kind, 'invalid', what);
    assert.match(error.message, message, what);
  }
  // signHeartbeat refuses what readHeartbeat would.
  assert.throws(() => signHeartbeat(VECTOR_SIGNER, fields({ url: 'ftp://x.example' })), /scheme must be http or https/);
});

/** Canonical JSON of a plain JSON value, as the protocol writes it (keys sorted, no spaces). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as any)[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

test('uptime: the share of the window (or of the time since first seen) covered by ONLINE spans', () => {
  const D = 1_000; // good for
  let spans = nextSpans([], 'JOINING', 0, D);
  assert.equal(spans, []);
  spans = nextSpans(spans, 'ONLINE', 0, D);
  spans = nextSpans(spans, 'ONLINE', 800, D); // in time: one span
  assert.equal(spans, [[0, 1800]]);
  spans = nextSpans(spans, 'ONLINE', 5000, D); // after a silence: a new span
  assert.equal(spans, [[0, 1800], [5000, 6000]]);
  spans = nextSpans(spans, 'OFFLINE', 5500, D); // OFFLINE ends the running span at once
  assert.equal(spans, [[0, 1800], [5000, 5500]]);
  assert.is(uptime(spans, 0, 10_000, 86_400_000), 0.23); // (1800 + 500) / 10000
  assert.is(uptime(spans, 0, 10_000, 5_000), 0.1); // the last 5 s: 500 ms
  assert.is(uptime(spans, 10_000, 10_000, 86_400_000), 0, 'first seen now');
  // Spans that ended over a week before a receipt are dropped.
  assert.equal(nextSpans([[0, 10]], 'ONLINE', 10 + 7 * 86_400_000 + 1, D), [[10 + 7 * 86_400_000 + 1, 10 + 7 * 86_400_000 + 1 + D]]);
});

interface Fixture {
  store: Store;
  now: { ms: number };
  registry(options?: { ttlMs?: number }): NodeRegistry;
  close(): Promise<void>;
}

function fixture(): Fixture {
  const dir = tempDir('hyperwasm-registry-');
  const store = openStore(join(dir.path, 'lmdb'));
  const now = { ms: T0 };
  const signer = newSigner();
  const address = sha256b64(signer.publicKey);
  return {
    store,
    now,
    registry: (options = {}) => new NodeRegistry({ address, signer, store, clock: () => now.ms, ttlMs: options.ttlMs ?? 60_000, summaryEveryMs: 0 }),
    async close() {
      await store.close();
      dir.remove();
    },
  };
}

test('the registry on an injected clock: sequence rule, TTL + grace, OFFLINE at once, uptime, filters, restart, Arweave queue', async () => {
  const f = fixture();
  try {
    let registry = f.registry(); // TTL 60 s, grace 15 s
    const a = newSigner();
    const b = newSigner();
    const c = newSigner();
    const beat = (signer: Ed25519Signer, over: Partial<HeartbeatFields>) => signHeartbeat(signer, fields(over)).raw;
    const addr = (signer: Ed25519Signer) => sha256b64(signer.publicKey);

    let view = await registry.accept(beat(a, { sequence: 1, state: 'JOINING', gpu: 'cpu', prices: { flat: '0', perKgas: '1' }, gasPerSecond: 100 }));
    assert.is(view.state, 'JOINING');
    assert.is(view['first-seen'], T0);
    assert.is(view.item, b64url(signHeartbeat(a, fields({ sequence: 1, state: 'JOINING', gpu: 'cpu', prices: { flat: '0', perKgas: '1' }, gasPerSecond: 100 })).raw));
    view = await registry.accept(beat(a, { sequence: 2, state: 'ONLINE', gpu: 'cpu', prices: { flat: '0', perKgas: '1' }, gasPerSecond: 100 }));
    assert.is(view.state, 'ONLINE');
    assert.is(view.heartbeats, 2);
    await registry.accept(beat(b, { sequence: 10, state: 'ONLINE', prices: { flat: '0', perKgas: '9' }, gasPerSecond: 5_000 })); // the vector's GPU
    await registry.accept(beat(c, { sequence: 10, state: 'ONLINE', gpu: 'cpu', prices: { flat: '0', perKgas: '3' }, gasPerSecond: 2_000 }));

    // A replay and a stale sequence: 409, and nothing changes.
    const replayed = beat(a, { sequence: 2, state: 'ONLINE', gpu: 'cpu', prices: { flat: '0', perKgas: '1' }, gasPerSecond: 100 });
    for (const [raw, code] of [[replayed, 'replayed-heartbeat'], [beat(a, { sequence: 1, state: 'OFFLINE', gpu: 'cpu' }), 'stale-heartbeat']] as const) {
      const error = await registry.accept(raw).then(() => undefined, (e) => e as HyperError);
      assert.is(error?.kind, 'conflict');
      assert.is(error?.code, code);
    }
    assert.is(registry.get(addr(a))!.sequence, 2);
    assert.is(registry.get(addr(a))!.state, 'ONLINE');

    // Filters.
    const listed = (filter: Parameters<NodeRegistry['list']>[0]) => registry.list(filter).map((v) => v.address).sort();
    assert.equal(listed({}), [addr(a), addr(b), addr(c)].sort());
    assert.equal(listed({ gpu: true }), [addr(b)]);
    assert.equal(listed({ gpu: false }), [addr(a), addr(c)].sort());
    assert.equal(listed({ features: ['packed_4x8_integer_dot_product'] }), [addr(b)]);
    assert.equal(listed({ features: ['packed_4x8_integer_dot_product', 'other'] }), []);
    assert.equal(listed({ minGasPerSecond: 2_000 }), [addr(b), addr(c)].sort());
    assert.equal(listed({ maxPrice: 3n }), [addr(a), addr(c)].sort());
    assert.equal(listed({ maxPrice: 3n, gpu: false, minGasPerSecond: 1_000 }), [addr(c)]);

    // Silent past TTL + grace: OFFLINE (not before); an OFFLINE heartbeat: at once.
    f.now.ms = T0 + 75_000;
    assert.is(registry.get(addr(a))!.state, 'ONLINE', 'at TTL + grace exactly, still ONLINE');
    await registry.accept(beat(b, { sequence: 11, state: 'ONLINE' }));
    f.now.ms = T0 + 75_001;
    assert.is(registry.get(addr(a))!.state, 'OFFLINE');
    assert.is(registry.get(addr(a))!['announced-state'], 'ONLINE');
    assert.equal(listed({ state: 'ONLINE' }), [addr(b)]);
    await registry.accept(beat(b, { sequence: 12, state: 'OFFLINE' }));
    assert.is(registry.get(addr(b))!.state, 'OFFLINE');
    // a: ONLINE from T0 (its ONLINE heartbeat) for 75 s of 100 s seen.
    f.now.ms = T0 + 100_000;
    assert.equal(registry.get(addr(a))!.uptime, { '24h': 0.75, '7d': 0.75 });
    // b: ONLINE T0 … T0+75 s, then OFFLINE at T0+75 001.
    assert.is(registry.get(addr(b))!.uptime['24h'], 0.75);

    // A restart on the same store keeps every node, its sequence and its uptime.
    registry = f.registry();
    assert.is(registry.size, 3);
    assert.is(registry.get(addr(a))!.sequence, 2);
    assert.equal(registry.get(addr(a))!.uptime, { '24h': 0.75, '7d': 0.75 });
    assert.is((await registry.accept(replayed).catch((e) => e as HyperError) as HyperError).kind, 'conflict', 'the sequence rule survives a restart');
    assert.is(registry.get('x'.repeat(43)), undefined);

    // Each node's first heartbeat is queued in the registry's outbox group, then a signed summary.
    const summary = await registry.publishSummary();
    const queued = [...f.store.outbox.getRange({})].filter(({ key }) => key[0] === registryGroup(registry.address));
    assert.ok(queued.every(({ key }) => key[2] === OutboxKind.Registry));
    assert.is(queued.length, 4);
    assert.equal(queued.slice(0, 3).map(({ value }) => readHeartbeat(value).state), ['JOINING', 'ONLINE', 'ONLINE']);
    const read = readSummary(queued[3]!.value);
    assert.is(read.id, summary.id);
    assert.is(read.registry, registry.address);
    assert.is(read.nodes.length, 3);
    assert.equal(read.nodes.find((n) => n.address === addr(b)), { address: addr(b), state: 'OFFLINE', sequence: 12, heartbeat: registry.get(addr(b))!.heartbeat, 'first-seen': T0, 'last-heartbeat': T0 + 75_001, 'uptime-24h': 0.75, 'uptime-7d': 0.75 });
    const keys = queued.map(({ key }) => key[1]);
    assert.equal(keys, [...keys].sort((x, y) => x - y));
  } finally {
    await f.close();
  }
});

test('the sender: JOINING then ONLINE, increasing sequences kept across restarts, failures logged once and never thrown', async () => {
  const f = fixture();
  try {
    const signer = newSigner();
    const got: string[] = [];
    const lines: string[] = [];
    let down = true;
    const registry = f.registry();
    const targets: HeartbeatTarget[] = [
      { name: 'local', send: async (raw) => void (await registry.accept(raw)) },
      { name: 'flaky', send: async (raw) => { if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:9\n    at a stack line'); got.push(readHeartbeat(raw).state); } },
    ];
    const facts = async () => ({ gpu: 'cpu' as const, cores: 2, memory: 1024, gasPerSecond: 7, queue: 0, prices: { flat: '0', perKgas: '0' }, modules: [] });
    const sender = () => new Heartbeats({ signer, store: f.store, url: 'http://127.0.0.1:1', version: '0.1.0', facts, targets, intervalMs: 1_000_000, clock: () => f.now.ms, log: (l) => lines.push(l) });
    let heartbeats = sender();
    await heartbeats.start();
    const first = heartbeats.latest()!;
    assert.is(first.state, 'ONLINE');
    assert.is(first.sequence, T0 + 1, 'JOINING took the clock, ONLINE the next');
    assert.is(registry.get(first.address)!.state, 'ONLINE');
    assert.equal(lines, ['heartbeats: flaky did not take the JOINING heartbeat 1700000000000 (connect ECONNREFUSED 127.0.0.1:9); trying again at the next one']);
    down = false;
    await heartbeats.beat('ONLINE');
    assert.equal(got, ['ONLINE']);
    assert.match(lines.at(-1)!, /flaky takes heartbeats again/);
    await heartbeats.drain();
    await heartbeats.stop();
    assert.equal(got, ['ONLINE', 'DRAINING', 'OFFLINE']);
    assert.is(registry.get(first.address)!.state, 'OFFLINE');
    // A new sender on the same store continues above the last sequence, whatever the clock says.
    f.now.ms = T0 - 1_000;
    heartbeats = sender();
    await heartbeats.start();
    assert.is(heartbeats.latest()!.sequence, T0 + 6, 'JOINING at T0 + 5, ONLINE at T0 + 6');
    assert.is(registry.get(first.address)!.state, 'ONLINE');
    heartbeats.silence();
    // A node that never got to announce itself says nothing when stopped.
    const quiet = new Heartbeats({ signer: newSigner(), store: f.store, url: 'http://127.0.0.1:1', version: '0.1.0', facts, targets: [], intervalMs: 1000 });
    await quiet.stop();
    assert.is(quiet.latest(), undefined);
  } finally {
    await f.close();
  }
});

const post = async (url: string, body: Uint8Array) => {
  const response = await fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream' } });
  return { status: response.status, body: (await response.json()) as any };
};

test('a real registry and two joined nodes on loopback', async () => {
  const dir = tempDir('hyperwasm-registry-net-');
  const arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  const running: RunningNode[] = [];
  const start = async (name: string, options: Parameters<typeof testNode>[1]) => {
    const node = await testNode(join(dir.path, name), { gateway: arlocal.url, gpu: 'off', workers: 0, heartbeatMs: 150, ...options });
    running.push(node);
    return node;
  };
  try {
    const registryOptions = { registry: true, registryTtlMs: 2_000, registrySummaryMs: 0 };
    let registry = await start('registry', registryOptions);
    const nodes = `${registry.url}/~registry@1.0/nodes`;
    const a = await start('a', { join: [registry.url], prices: { flat: 0n, perKgas: 2n } });
    const b = await start('b', { join: [`${registry.url}/`], prices: { flat: 1n, perKgas: 20n } });
    const [ra, rb, rr] = [a, b, registry].map((n) => n.node.key.address);

    await waitFor(async () => (await getJson(`${nodes}?state=online`)).body.nodes?.length === 3, 'the registry and both nodes listed ONLINE');
    let list = (await getJson(nodes)).body;
    assert.is(list.registry, rr);
    assert.is(list['time-to-live'], 2_000);
    assert.is(list.grace, 500);
    const va = list.nodes.find((n: any) => n.address === ra);
    assert.is(va.url, a.url);
    assert.is(va.version, '0.1.0');
    assert.is(va.gpu, 'cpu');
    assert.ok(va.cores >= 1 && va.memory > 0, 'cores and memory');
    assert.ok(va['gas-per-second'] > 0, 'gas per second measured');
    assert.equal(va.prices, { flat: '0', 'per-kgas': '2' });
    assert.is(va['public-key'], b64url(a.node.key.publicKey));
    assert.ok(!('item' in va), 'lists leave the items out');
    assert.ok(list.nodes.some((n: any) => n.address === rr && n.url === registry.url), 'the registry lists itself');

    // Filters, as query keys or inline.
    const listed = async (query: string) => (await getJson(`${nodes}${query}`)).body.nodes.map((n: any) => n.address).sort();
    assert.equal(await listed('?gpu=false'), [ra, rb, rr].sort());
    assert.equal(await listed('?gpu=true'), []);
    assert.equal(await listed('?feature=packed_4x8_integer_dot_product'), []);
    assert.equal(await listed('&min-gas-per-second=1'), [ra, rb, rr].sort());
    assert.equal(await listed(`?min-gas-per-second=${Number.MAX_SAFE_INTEGER}`), []);
    assert.equal(await listed('?max-price=2'), [ra, rr].sort());
    assert.equal(await listed('?max-price=2&gpu=false&state=ONLINE'), [ra, rr].sort());
    for (const bad of ['?gpu=maybe', '?max-price=-1', '?state=asleep', '?min-gas-per-second=x']) {
      const r = await getJson(`${nodes}${bad}`);
      assert.is(r.status, 400, bad);
    }

    // One node, its item included; an unknown address is a 404.
    const one = await getJson(`${nodes}/${ra}`);
    assert.is(one.status, 200);
    assert.is(readHeartbeat(fromB64url(one.body.item)).address, ra);
    const unknown = await getJson(`${nodes}/${'x'.repeat(43)}`);
    assert.is(unknown.status, 404);
    assert.match(unknown.body.message, /has sent this registry a heartbeat/);

    // A forged heartbeat (a signature byte flipped) is 401, garbage 400, a replay 409: nothing changes.
    const heartbeat = `${registry.url}/~registry@1.0/heartbeat`;
    const before = (await getJson(`${nodes}/${ra}`)).body;
    const forged = fromB64url(before.item);
    forged[20] ^= 1;
    let r = await post(heartbeat, forged);
    assert.is(r.status, 401);
    assert.match(r.body.message, /signature does not verify/);
    r = await post(heartbeat, utf8('hello'));
    assert.is(r.status, 400);
    r = await post(heartbeat, fromB64url(before.item));
    assert.is(r.status, 409);
    // the node's next heartbeat may land in between: then the replay is stale rather than the last one
    assert.match(r.body.message, /already taken|not above the last one taken/);
    const after = (await getJson(`${nodes}/${ra}`)).body;
    assert.ok(after.sequence >= before.sequence, 'only the node\'s own heartbeats move it');
    assert.is(readHeartbeat(fromB64url(after.item)).address, ra);

    // A node that is not a registry says so.
    for (const [method, path] of [['GET', '/~registry@1.0/nodes'], ['POST', '/~registry@1.0/heartbeat']]) {
      const response = await fetch(`${a.url}${path}`, { method, ...(method === 'POST' ? { body: forged as Uint8Array<ArrayBuffer> } : {}) });
      assert.is(response.status, 404, path);
      assert.match(((await response.json()) as any).message, /is not a registry: start it with --registry/);
    }

    // A node that stops sending is OFFLINE after TTL + grace; a clean close says OFFLINE at once.
    a.node.heartbeats!.silence();
    await waitFor(async () => (await getJson(`${nodes}/${ra}`)).body.state === 'OFFLINE', 'the silent node to be OFFLINE');
    assert.is((await getJson(`${nodes}/${ra}`)).body['announced-state'], 'ONLINE');
    await b.close();
    running.splice(running.indexOf(b), 1);
    const closed = (await getJson(`${nodes}/${rb}`)).body;
    assert.is(closed.state, 'OFFLINE');
    assert.is(closed['announced-state'], 'OFFLINE');

    // The registry restarted on its data folder still lists them.
    await registry.close();
    running.splice(running.indexOf(registry), 1);
    registry = await start('registry', registryOptions);
    list = (await getJson(`${registry.url}/~registry@1.0/nodes`)).body;
    assert.equal(list.nodes.map((n: any) => n.address).sort(), [ra, rb, rr].sort());
    assert.is(list.nodes.find((n: any) => n.address === rb).state, 'OFFLINE');
    assert.is(list.nodes.find((n: any) => n.address === ra).state, 'OFFLINE');

    // Registrations reach Arweave: the registry's bundle holds each node's first heartbeat.
    await registry.node.publisher.flush();
    const gateway = new ArweaveGateway(arlocal.url);
    const bundles = await findByTags(gateway, { Type: 'Bundle', Process: registryGroup(rr) });
    assert.ok(bundles.length >= 1, 'a registry bundle on Arweave');
    const items = (await Promise.all(bundles.map(async (t) => decodeBundle(await gateway.data(t.id))))).flat().map((i) => readHeartbeat(i.raw));
    assert.equal(new Set(items.map((h) => h.address)), new Set([ra, rb, rr]));
    assert.ok(items.every((h) => h.state === 'JOINING'));
  } finally {
    for (const node of running.reverse()) await node.close().catch(() => {});
    await arlocal.stop();
    dir.remove();
  }
});

test.run();
