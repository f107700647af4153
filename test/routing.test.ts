// Matching and routing (docs/routing-section.md): the pure ranking (the score's vector, hard
// constraints with their reasons, the tie-break, a seeded exploration share) and rendezvous
// placement (a vector; adding or removing a node moves only its share of 1000 keys); then a real
// registry and three priced nodes on loopback sharing one arlocal: the cheapest suitable node
// serves, through the client router and through any node's ~router@1.0; a GPU requirement no
// node meets is a 503 naming it; a node stopped while still listed ONLINE is failed over; a 4xx
// is returned, not retried; `deploy --replicas 2` puts processes on two nodes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { HyperError } from '../engine/protocol/errors.ts';
import { createDataItem, ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { utf8 } from '../engine/protocol/encoding.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { explainNone, exploreIndex, match, parseRequirement, place, rendezvousWeight, type CandidateView } from '../engine/protocol/matching.ts';
import { Network, RoutedError } from '../client/network.ts';
import { NodeClient } from '../client/node-client.ts';
import { startArlocal } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { buildModules } from '../modules/tools/build.ts';
import type { RunningNode } from '../gateway/node.ts';
import { cli, getJson, tempDir, testNode } from './helpers.ts';
import { waitFor } from './net.ts';

const test = suite('routing');

const A = 'A'.repeat(43);
const B = 'B'.repeat(43);
const C = 'C'.repeat(43);
const MODULE = 'O2CUZR9-gZv_cT0C5nehxISvqLBKJWS3VjDVreQbyyU';
const LAVAPIPE = { vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'lavapipe', source: 'lavapipe' as const, fallback: true, features: ['packed_4x8_integer_dot_product'] };
const HARDWARE = { ...LAVAPIPE, vendor: 'nvidia', device: 'H200', source: 'hardware' as const, fallback: false };

const view = (address: string, over: Partial<CandidateView> = {}): CandidateView => ({
  address,
  url: `http://${address[0]}.example`,
  state: 'ONLINE',
  gpu: 'cpu',
  memory: 1e9,
  'gas-per-second': 1e9,
  queue: 0,
  prices: { flat: '0', 'per-kgas': '1' },
  modules: [],
  ...over,
});
const order = (views: CandidateView[], ...args: Parameters<typeof match> extends [unknown, ...infer R] ? R : never) => match(views, ...args).candidates.map((c) => c.address[0]).join('');

test('the score: price, measured rate over queue, reputation (absent: 0.5), a vector', () => {
  const result = match([
    view(A, { prices: { flat: '0', 'per-kgas': '5' } }),
    view(B, { 'gas-per-second': 5e8, reputation: 0.9 }),
    view(C, { prices: { flat: '0', 'per-kgas': '2' }, queue: 1 }),
  ]);
  assert.equal(result.excluded, []);
  assert.equal(result.candidates.map((c) => [c.address[0], c.score, c.parts]), [
    // cost = flat + per-kgas · 1e6 / 1000: 1000, 2000, 5000; price = 1 − (cheaper ones) / 2.
    ['B', 0.88, { price: 1, perf: 0.5, reputation: 0.9, cached: 0 }],
    ['C', 0.5, { price: 0.5, perf: 0.5, reputation: 0.5, cached: 0 }],
    ['A', 0.3, { price: 0, perf: 1, reputation: 0.5, cached: 0 }],
  ]);
  // A module the job runs: a node listing it is preferred (+0.1), or required.
  const withModule = [view(A), view(B, { modules: [MODULE] })];
  assert.is(order(withModule, { module: MODULE }), 'BA');
  assert.is(match(withModule, { module: MODULE }).candidates[0]!.score, 1);
  const required = match(withModule, { module: MODULE, cached: 'require' });
  assert.is(order(withModule, { module: MODULE, cached: 'require' }), 'B');
  assert.equal(required.excluded, [{ address: A, url: 'http://A.example', reasons: [`it does not list module ${MODULE} as cached`] }]);
});

test('hard constraints first: ONLINE only, refuted excluded, GPU, features, memory, gas/s, price; each with its reason', () => {
  const views = [
    view(A, { state: 'OFFLINE', gpu: HARDWARE }),
    view(B, { gpu: LAVAPIPE, memory: 512 }),
    view(C, { gpu: HARDWARE, refuted: true, reputation: 0.01 }),
    view('D'.repeat(43), { gpu: HARDWARE, prices: { flat: '0', 'per-kgas': '9' } }),
    view('E'.repeat(43)),
  ];
  assert.is(order(views), 'EBD', 'OFFLINE and refuted never run anything (B and E tie: the empty seed\'s weights put E first)');
  assert.is(order(views, { gpu: true }), 'BD', 'lavapipe counts as a GPU');
  assert.is(order(views, { gpu: 'hardware' }), 'D', 'unless a hardware adapter is required');
  assert.is(order(views, { features: ['packed_4x8_integer_dot_product'] }), 'BD');
  assert.is(order(views, { features: ['shader-f16'] }), '');
  assert.is(order(views, { minMemory: 1024 }), 'ED');
  assert.is(order(views, { maxPrice: 1n }), 'EB');
  assert.is(order(views, { minGasPerSecond: 2e9 }), '');
  const none = match(views, { gpu: true, features: ['shader-f16'] });
  const reasons = Object.fromEntries(none.excluded.map((e) => [e.address[0], e.reasons]));
  assert.equal(reasons.A, ['it is OFFLINE, not ONLINE', 'its GPU lacks shader-f16']);
  assert.equal(reasons.C, ['it was caught attesting a wrong result (refuted)', 'its GPU lacks shader-f16']);
  assert.equal(reasons.E, ['it has no GPU adapter (it reports cpu)']);
  assert.is(explainNone(none, { gpu: true, features: ['shader-f16'] }),
    'none of the 5 nodes the registry lists is suitable for gpu, feature=shader-f16: 1 not ONLINE; 4 whose GPU lacks a required feature; 1 refuted; 1 without a GPU adapter (they report cpu)');
  assert.is(explainNone(match([], {}), {}), 'the registry lists no nodes');
});

test('ties: by the seed\'s rendezvous weight, so equal nodes share the jobs, the same job the same node', () => {
  const equal = [view(A), view(B), view(C)];
  for (const seed of ['job-1', 'job-2', 'job-3']) {
    const expected = [A, B, C].sort((x, y) => (rendezvousWeight(seed, y) > rendezvousWeight(seed, x) ? 1 : -1)).map((a) => a[0]).join('');
    assert.is(order(equal, {}, { seed, exploration: 0 }), expected, seed);
    assert.is(order([...equal].reverse(), {}, { seed, exploration: 0 }), expected, 'whatever order the registry lists them in');
  }
  const firsts = new Set(Array.from({ length: 60 }, (_, i) => order(equal, {}, { seed: `job-${i}`, exploration: 0 })[0]));
  assert.equal([...firsts].sort(), ['A', 'B', 'C'], 'equal nodes each come first for some jobs');
  assert.is(order(equal), order(equal), 'no seed: still deterministic');
});

test('exploration: a seeded share of jobs go to a candidate other than the best, the same ones every run', () => {
  const views = [view(A, { prices: { flat: '0', 'per-kgas': '0' } }), view(B), view(C, { prices: { flat: '0', 'per-kgas': '3' } })];
  let explored = 0;
  for (let i = 0; i < 1000; i++) {
    const seed = `job-${i}`;
    const result = match(views, {}, { seed });
    assert.equal(result, match(views, {}, { seed }), 'reproducible');
    const pick = exploreIndex(seed, 0.1, 3);
    if (pick === undefined) {
      assert.is(result.candidates[0]!.address, A);
      continue;
    }
    explored++;
    assert.ok(result.candidates[0]!.explored);
    assert.is(result.candidates[0]!.address, [A, B, C][pick]);
    assert.is(result.candidates.length, 3);
  }
  assert.is(explored, 96, 'about 10%: exactly this many with these seeds');
  assert.is(exploreIndex('job-5', 0.1, 3), 2);
  assert.is(exploreIndex('job-9', 0.1, 3), 1);
  assert.is(exploreIndex('job-0', 0.1, 3), undefined);
  assert.is(order(views, {}, { seed: 'job-5', exploration: 0 }), 'ABC', 'share 0: never');
  assert.is(order(views), 'ABC', 'no seed: never');
});

test('rendezvous: the weight\'s vector, and adding or removing a node moves only its share of 1000 keys', () => {
  assert.is(rendezvousWeight('pid-0', A), 0x30b61b1fc906a04fn);
  assert.is(rendezvousWeight('pid-0', B), 0xafb3cd6506de8bc8n);
  assert.is(rendezvousWeight('pid-0', C), 0xe98fd8eeb8392e05n);
  assert.equal(place('pid-0', [A, B, C], 2), [C, B]);
  assert.equal(place('pid-0', [view(A), view(B)]).map((v) => v.address), [B], 'views place by their address');

  const nodes = Array.from({ length: 5 }, (_, i) => sha256b64(utf8(`node-${i}`)));
  const added = sha256b64(utf8('node-5'));
  const pids = Array.from({ length: 1000 }, (_, i) => sha256b64(utf8(`pid-${i}`)));
  let moved = 0;
  for (const pid of pids) {
    const [before] = place(pid, nodes);
    const [after] = place(pid, [...nodes, added]);
    if (before !== after) {
      moved++;
      assert.is(after, added, 'a key that moves, moves to the new node');
    }
    // Two replicas: at most one changes, and only for the new node.
    const two = place(pid, nodes, 2);
    const twoAfter = place(pid, [added, ...nodes], 2);
    const lost = two.filter((n) => !twoAfter.includes(n));
    assert.ok(lost.length <= 1);
    if (lost.length === 1) assert.ok(twoAfter.includes(added));
    // Removing a node moves only the keys it held.
    const without = place(pid, nodes.filter((n) => n !== nodes[2]));
    if (before !== nodes[2]) assert.is(without[0], before);
  }
  assert.ok(moved > 1000 / 6 - 60 && moved < 1000 / 6 + 60, `${moved} of 1000 moved (about 1/6)`);
});

test('--requires text parses, and what does not is a 400 naming it', () => {
  assert.equal(parseRequirement('gpu, feature=shader-f16,feature=subgroups, min-memory=1024,min-gas-per-second=5,max-price=3,min-reputation=0.6'), {
    gpu: true, minMemory: 1024, minGasPerSecond: 5, maxPrice: 3n, minReputation: 0.6, features: ['shader-f16', 'subgroups'],
  });
  assert.equal(parseRequirement('gpu=hardware'), { gpu: 'hardware' });
  assert.equal(parseRequirement(`cached=${MODULE}`), { module: MODULE, cached: 'require' });
  assert.equal(parseRequirement(''), {});
  for (const bad of ['gpu=maybe', 'vram=8', 'min-memory=-1', 'min-reputation=2', 'cached=short']) {
    try {
      parseRequirement(bad);
      assert.unreachable(bad);
    } catch (error) {
      assert.instance(error, HyperError);
      assert.is((error as HyperError).kind, 'invalid', bad);
    }
  }
});

test('a real registry and three priced nodes: cheapest serves, GPU missing is 503, a dead node is failed over, deploy places two', async () => {
  const dir = tempDir('hyperwasm-routing-');
  const arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  const running: RunningNode[] = [];
  const start = async (name: string, options: Parameters<typeof testNode>[1]) => {
    // gpu off: the nodes report "cpu" (with auto they would report this machine's lavapipe).
    const node = await testNode(join(dir.path, name), { gateway: arlocal.url, gpu: 'off', workers: 0, heartbeatMs: 60_000, ...options });
    running.push(node);
    return node;
  };
  try {
    const gateway = new ArweaveGateway(arlocal.url);
    const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
    const built = await buildModules({ modules: ['fac', 'counter'] });
    const fac = await upload(new Uint8Array(readFileSync(built.fac!)), { gateway, wallet, tags: moduleTags() });
    const counter = await upload(new Uint8Array(readFileSync(built.counter!)), { gateway, wallet, tags: moduleTags() });

    // A long TTL: a node stopped without a word stays listed ONLINE for the whole test. Fees
    // (per 1000 gas): a none, b 1, c 3, the registry 40.
    const registry = await start('registry', { registry: true, registryTtlMs: 600_000, registrySummaryMs: 0, prices: { flat: 0n, perKgas: 40n } });
    const join_ = { join: [registry.url] };
    const a = await start('a', { ...join_ });
    const b = await start('b', { ...join_, prices: { flat: 0n, perKgas: 1n } });
    const c = await start('c', { ...join_, prices: { flat: 0n, perKgas: 3n } });
    const [ra, rb, rc, rr] = [a, b, c, registry].map((n) => n.node.key.address);
    await waitFor(async () => (await getJson(`${registry.url}/~registry@1.0/nodes?state=online`)).body.nodes?.length === 4, 'four nodes ONLINE');
    assert.is((await getJson(`${registry.url}/~registry@1.0/nodes/${ra}`)).body.gpu, 'cpu', 'a node with gpu off says cpu');
    // The user pays: each node's operator tops them up there.
    const user = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) } as const;
    const userAddress = sha256b64(user.ed25519.publicKey);
    for (const n of [a, b, c, registry]) {
      const item = createDataItem(ed25519Signer(n.node.key.privateKey), { tags: [{ name: 'Type', value: 'Topup' }, { name: 'Recipient', value: userAddress }, { name: 'Quantity', value: '1000000' }], data: '', anchor: new Uint8Array(32).fill(1) });
      await new NodeClient(n.url).post('/~p4@1.0/topup', item.raw);
    }

    // Any node ranks: the registry from its own list, a joined node by asking its registry.
    for (const node of [registry, c]) {
      const r = await getJson(`${node.url}/~router@1.0/route?module=${fac}&exploration=0`);
      assert.is(r.status, 200, JSON.stringify(r.body));
      assert.is(r.body.registry, rr);
      assert.equal(r.body.candidates.map((x: any) => x.address), [ra, rb, rc, rr], `cheapest first: ${JSON.stringify(r.body.candidates)}`);
      assert.equal(r.body.excluded, []);
    }

    // The client router: the cheapest suitable node serves, and says so; a paid call may go to
    // a node with a fee, an unsigned one only to a free node.
    const network = new Network({ registries: [registry.url], exploration: 0 });
    let routed = await network.paidCall(user, fac, 'fac', [5], { requires: { minMemory: 1 } });
    assert.is(routed.body.result, 120);
    assert.equal(routed.served, { address: ra, url: a.url });
    assert.is(routed.attempts.length, 1);
    routed = await network.paidCall(user, fac, 'fac', [5], { requires: { maxPrice: 5n, minGasPerSecond: 1 } });
    assert.equal(routed.served, { address: ra, url: a.url });
    routed = await network.call(fac, 'fac', [5]);
    assert.equal(routed.served.address, ra);
    // Through a node that is not the registry: forwarded, the served node in the headers.
    let response = await fetch(`${c.url}/~router@1.0/compute?module=${fac}&wasm-function=fac&wasm-params=[4]&exploration=0`);
    let body = (await response.json()) as any;
    assert.is(response.status, 200, JSON.stringify(body));
    assert.is(body.result, 24);
    assert.is(response.headers.get('x-routed-node'), ra);
    assert.is(response.headers.get('x-routed-url'), a.url);

    // A GPU nobody has: 503 naming what was missing, from the client and from a node.
    try {
      await network.paidCall(user, fac, 'fac', [5], { requires: { gpu: true } });
      assert.unreachable('a GPU call with no GPU node');
    } catch (error) {
      assert.instance(error, HyperError);
      assert.is((error as HyperError).code, 'no-suitable-node');
      assert.match((error as HyperError).message, /none of the 4 nodes the registry lists is suitable for gpu: 4 without a GPU adapter \(they report cpu\)/);
    }
    response = await fetch(`${c.url}/~router@1.0/compute?module=${fac}&wasm-function=fac&wasm-params=[5]&requires=gpu`);
    body = await response.json();
    assert.is(response.status, 503);
    assert.is(body.error, 'no-suitable-node');
    assert.match(body.message, /for gpu, free: 4 without a GPU adapter/);
    const none = await getJson(`${c.url}/~router@1.0/route?gpu`);
    assert.equal(none.body.candidates, []);
    assert.match(none.body.reason, /without a GPU adapter/);
    assert.is((await getJson(`${c.url}/~router@1.0/route?requires=vram%3D8`)).status, 400);

    // The CLI routes the same way and prints who served.
    const home = { HYPERWASM_HOME: join(dir.path, 'home') };
    const viaCli = await cli(['compute', fac, 'fac', '[3]', '--network', registry.url], home);
    assert.is(viaCli.code, 0, viaCli.stderr);
    assert.match(viaCli.stdout, /^6\n/);
    assert.match(viaCli.stdout, new RegExp(`node: ${ra} ${a.url}`));
    assert.match(viaCli.stderr, new RegExp(`served by ${ra}`));

    // a stops without a word (no DRAINING, no OFFLINE): still listed ONLINE, it is failed over.
    a.node.heartbeats!.silence();
    a.node.heartbeats = undefined;
    await a.close();
    running.splice(running.indexOf(a), 1);
    assert.is((await getJson(`${registry.url}/~registry@1.0/nodes/${ra}`)).body.state, 'ONLINE');
    routed = await new Network({ registries: [registry.url], exploration: 0 }).paidCall(user, fac, 'fac', [6]);
    assert.is(routed.body.result, 720);
    assert.equal(routed.served, { address: rb, url: b.url });
    assert.equal(routed.attempts.map((x) => [x.address, x.status ?? null]), [[ra, null], [rb, 200]]);
    assert.match(routed.attempts[0]!.error!, /connect error/);
    assert.ok(routed.body.receipt, 'b charged for it');
    // An unsigned call: a was the only free node, so nothing is left to fail over to.
    response = await fetch(`${c.url}/~router@1.0/compute?module=${fac}&wasm-function=fac&wasm-params=[7]&exploration=0`);
    body = await response.json();
    assert.is(response.status, 503);
    assert.is(body.error, 'no-node-served');
    assert.match(body.message, /connect error/);

    // A 4xx is the call's own fault: returned from the first node that answers, not retried.
    try {
      await new Network({ registries: [registry.url], exploration: 0 }).paidCall(user, fac, 'no-such-function', []);
      assert.unreachable('a call of a function the module lacks');
    } catch (error) {
      assert.instance(error, RoutedError);
      const { routed: r } = error as RoutedError;
      assert.ok(r.status >= 400 && r.status < 500, String(r.status));
      assert.equal(r.attempts.map((x) => x.address), [ra, rb]);
    }

    // deploy --replicas 2: two processes of the same module, on two live nodes, found where it says.
    const file = join(dir.path, 'deployment.json');
    const deployed = await cli(['deploy', counter, '--replicas', '2', '--network', registry.url, '--out', file], home);
    assert.is(deployed.code, 0, deployed.stderr);
    const deployment = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(deployment.replicas.length, 2);
    const where = deployment.replicas.map((r: any) => r.address);
    assert.is(new Set(where).size, 2);
    assert.not.ok(where.includes(ra), 'the dead node is passed over');
    const lines = deployed.stdout.trim().split('\n');
    assert.is(lines.length, 2);
    for (const replica of deployment.replicas) {
      assert.ok(lines.includes(`${replica.process}  ${replica.address}  ${replica.url}`));
      const slot = await new NodeClient(replica.url).slot(replica.process);
      assert.is(slot.current, 0, 'spawned at slot 0 on its node');
      assert.is(slot.scheduler, replica.address);
    }
    const read = await cli(['compute', '--deployment', file], home);
    assert.is(read.code, 0, read.stderr);
    assert.match(read.stderr, /served by /);
  } finally {
    for (const node of running.reverse()) await node.close().catch(() => {});
    await arlocal.stop();
    dir.remove();
  }
});

test.run();
