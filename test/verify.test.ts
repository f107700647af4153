// Verification from Arweave alone: an honest process replays and confirms from a fresh
// folder; single answers verify; every tamper case (real signed items with wrong content,
// posted to arlocal) is caught with its slot and kind; random byte flips are all detected.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { assignmentTags, bundleTags, messageTags, moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet, type JWKInterface } from '../arweave/wallet.ts';
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { readAssignment } from '../engine/protocol/assignment.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { signBatch } from '../engine/protocol/attestation.ts';
import { fetchHistory, readHistory, type FaultKind } from '../attest/verify/history.ts';
import { verifyProcess } from '../attest/verify/replay.ts';
import { verifyFromGateway } from '../attest/verify/pipeline.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import { cli, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';
import { OutboxKind, openStore, type OutboxKey } from '../engine/store.ts';
import { replay } from '../attest/verify/replayer.ts';
import type { ProcessStatement } from '../engine/protocol/statement.ts';
import { dispute } from '../attest/verify/dispute.ts';

const test = suite('verify');
const dir = tempDir();
let node: RunningNode;
let client: NodeClient;
let wallet: JWKInterface;
const ids: Record<string, string> = {};
const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
let honest = '';
let n = 0;

interface Entry { key: OutboxKey; raw: Uint8Array }

/** A process of `messages` counter messages, computed, its outbox taken back unpublished. */
async function processEntries(messages: number): Promise<{ pid: string; entries: Entry[] }> {
  const { process: pid } = await client.spawn(alice, ids.counter, node.node.key.address);
  for (let i = 1; i <= messages; i++) await client.send(alice, pid, [], `m${i}`);
  await client.compute(pid);
  const { store } = node.node;
  await store.transaction(() => {}); // the fold's writes are queued before this one
  const entries = [...store.outbox.getRange({ start: [pid], end: [pid, Number.MAX_SAFE_INTEGER] })].map(({ key, value }) => ({ key, raw: value }));
  await store.transaction(() => { for (const e of entries) store.outbox.remove(e.key); });
  return { pid, entries };
}

async function publish(pid: string, raws: Uint8Array[], extra: { name: string; value: string }[] = []) {
  await upload(encodeBundle(raws), {
    gateway: node.node.gateway,
    wallet,
    tags: [
      ...bundleTags({ group: pid, seqFrom: 0, seqTo: raws.length - 1, attestations: [] }), ...extra,
    ],
  });
}

/** The sequential verification's report, which the pipelined one (its checks on a worker thread) must give identically. */
async function verify(pid: string, gateway = node.node.gateway) {
  const report = await verifyProcess(readHistory(pid, await fetchHistory(gateway, pid)), { dir: join(dir.path, `verify-${n++}`), source: gateway });
  const pipelined = await verifyFromGateway(gateway, pid, { dir: join(dir.path, `verify-${n++}`), source: gateway, threads: 1, threshold: 0 });
  assert.equal(pipelined.report, report, 'the pipelined verification gives the same report');
  return report;
}

/** Publishes a mutated history and checks the first fault's slot and kind. */
async function tampered(mutate: (entries: Entry[], pid: string) => Entry[], slot: number, kind: FaultKind) {
  const { pid, entries } = await processEntries(6);
  await publish(pid, mutate(entries, pid).map((e) => e.raw));
  const report = await verify(pid);
  assert.not.ok(report.ok, `${kind} must be caught`);
  assert.is(report.faults[0].kind, kind, JSON.stringify(report.faults[0]));
  assert.is(report.faults[0].slot, slot, JSON.stringify(report.faults[0]));
  return report.faults[0];
}

const nodeSigner = () => ed25519Signer(loadOrCreateNodeKey(join(dir.path, 'data', 'node-key.pem')).privateKey);
const at = (entries: Entry[], seq: number, kind: OutboxKind) => entries.findIndex((e) => e.key[1] === seq && e.key[2] === kind);
const attestationOf = (entries: Entry[]) => entries.findIndex((e) => e.key[2] === OutboxKind.Attestation);

test.before(async () => {
  const built = await buildModules();
  node = await testNode(join(dir.path, 'data'), { publish: false, snapshotEvery: 8 });
  client = new NodeClient(node.url);
  wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  for (const name of ['counter', 'fac']) ids[name] = await upload(new Uint8Array(readFileSync(built[name])), { gateway: node.node.gateway, wallet, tags: moduleTags() });
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('an honest process of 40 slots replays and is confirmed by the CLI, from a fresh folder and again from the same one', async () => {
  const { process: pid } = await client.spawn(alice, ids.counter, node.node.key.address);
  for (let i = 1; i <= 40; i++) await client.send(alice, pid, [], `m${i}`);
  await client.compute(pid, 17);
  await client.compute(pid);
  await node.node.publisher.flush();
  honest = pid;
  const result = await cli(['verify', pid, '--gateway', node.gatewayUrl, '--data', join(dir.path, 'fresh-verifier')]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /slots 0–40: confirmed \(41\)/);
  assert.match(result.stdout, /verified: 41 slots confirmed/);
  assert.match(result.stderr, /replayed 41\/41 slots/);
  // The same folder again: the replay re-executes every slot, nothing is taken from the first run.
  const again = await cli(['verify', pid, '--gateway', node.gatewayUrl, '--data', join(dir.path, 'fresh-verifier')]);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr, /replayed 41\/41 slots/);
  assert.match(again.stdout, /verified: 41 slots confirmed/);
  // A folder that holds a node's processes (a node's own LMDB) is refused: its cache holds the claims being checked.
  const history = readHistory(pid, await fetchHistory(node.node.gateway, pid));
  const folder = join(dir.path, 'looks-like-a-node');
  const store = openStore(folder);
  await store.processes.put(pid, history.record!);
  await store.close();
  try {
    await replay(history, { store: folder, source: node.node.gateway, to: 3 });
    assert.unreachable('a node-like folder must be refused');
  } catch (error) {
    assert.match((error as Error).message, /never a node's data folder/);
  }
});

test('one answer verifies alone: a process slot and a stateless call', async () => {
  const answer = await client.compute(honest, 17);
  assert.type(answer.attestation.id, 'string');
  const file = join(dir.path, 'answer.json');
  writeFileSync(file, JSON.stringify(answer));
  let result = await cli(['verify', '--attestation', file, '--gateway', node.gatewayUrl]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /proof checks/);
  assert.match(result.stdout, /confirmed: process .* slot 17 \(replayed\)/);
  assert.match(result.stderr, /replaying slots 17–17 from the checkpoint at slot 16/, 'from the nearest attested state, not slot 0');

  const fac = await client.get(`/${ids.fac}/compute?wasm-function=fac&wasm-params=[7]`);
  await node.node.publisher.flush();
  result = await cli(['verify', '--attestation', fac.attestation.id, '--gateway', node.gatewayUrl]);
  assert.is(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /confirmed: .* \(recomputed\)/);
});

test('a forged attestation (valid signature over a wrong result) → result-mismatch at its slot', async () => {
  const fault = await tampered((entries) => {
    const i = attestationOf(entries);
    const statements = JSON.parse(new TextDecoder().decode(parseDataItem(entries[i].raw).data)) as ProcessStatement[];
    statements[3] = { ...statements[3], 'result-hash': 'R'.repeat(43) };
    entries[i] = { ...entries[i], raw: signBatch(nodeSigner(), node.node.key.address, statements).item.raw };
    return entries;
  }, 3, 'result-mismatch');
  assert.is(fault.field, 'result-hash');
  assert.is(fault.claimed, 'R'.repeat(43));
  assert.ok(fault.attestation && fault.assignment);
});

test('an assignment with a bad signature → assignment-bad-signature', async () => {
  await tampered((entries) => {
    const i = at(entries, 3, OutboxKind.Assignment);
    const raw = entries[i].raw.slice();
    raw[20] ^= 1; // inside the signature
    entries[i] = { ...entries[i], raw };
    return entries;
  }, 3, 'assignment-bad-signature');
});

test('a missing slot → missing-slot', async () => {
  await tampered((entries) => entries.filter((e) => e.key[1] !== 3 || e.key[2] > 1), 3, 'missing-slot');
});

test('a message whose bytes differ from its ID → message-tampered', async () => {
  await tampered((entries) => {
    const i = at(entries, 3, OutboxKind.Message);
    const raw = entries[i].raw.slice();
    raw[raw.length - 1] ^= 1; // the data: the signature (and so the ID) stay
    entries[i] = { ...entries[i], raw };
    return entries;
  }, 3, 'message-tampered');
});

test('two assignments claiming the same slot → duplicate-slot', async () => {
  await tampered((entries, pid) => {
    const original = readAssignment(parseDataItem(entries[at(entries, 3, OutboxKind.Assignment)].raw));
    const other = createDataItem(alice.ed25519, { target: pid, tags: messageTags(), data: 'a rival message' });
    const rival = createDataItem(nodeSigner(), { target: pid, data: '', tags: assignmentTags({ ...original, message: other.id }) });
    return [...entries, { key: [pid, 3, 0], raw: other.raw }, { key: [pid, 3, 1], raw: rival.raw }];
  }, 3, 'duplicate-slot');
});

test('an attestation signed by a key other than the scheduler → attestation-wrong-signer', async () => {
  await tampered((entries) => {
    const i = attestationOf(entries);
    const statements = JSON.parse(new TextDecoder().decode(parseDataItem(entries[i].raw).data)) as ProcessStatement[];
    const stranger = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    entries[i] = { ...entries[i], raw: signBatch(stranger, node.node.key.address, statements).item.raw };
    return entries;
  }, 0, 'attestation-wrong-signer');
});

test('a module whose bytes differ from its ID → module-mismatch', async () => {
  const module = ids.counter;
  const liar = http.createServer(async (req, res) => {
    const upstream = await fetch(`${node.gatewayUrl}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? (await new Promise<Buffer>((r) => { const c: Buffer[] = []; req.on('data', (d) => c.push(d)); req.on('end', () => r(Buffer.concat(c))); })) as unknown as BodyInit : undefined });
    let body = new Uint8Array(await upstream.arrayBuffer());
    if (req.url === `/${module}`) { body = body.slice(); body[body.length - 1] ^= 1; }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
  try {
    const report = await verify(honest, new ArweaveGateway(`http://127.0.0.1:${(liar.address() as AddressInfo).port}`));
    assert.is(report.faults[0].kind, 'module-mismatch');
    assert.is(report.faults[0].slot, 0);
    assert.match(report.faults[0].message, /does not match its signed ID/);
  } finally {
    liar.close();
  }
});

test('dispute: bisection finds a planted divergence in O(log n) comparisons and re-executes only near it', async () => {
  const { process: pid } = await client.spawn(alice, ids.counter, node.node.key.address);
  for (let i = 1; i <= 60; i++) await client.send(alice, pid, [], `m${i}`);
  await client.compute(pid);
  await node.node.publisher.flush();
  // Another node's claims: the same until slot 37, a different state from there on.
  const raws = await fetchHistory(node.node.gateway, pid);
  const mine = raws.map((r) => parseDataItem(r)).find((item) => item.tags.some((t) => t.name === 'Type' && t.value === 'Attestation'))!;
  const statements = (JSON.parse(new TextDecoder().decode(mine.data)) as ProcessStatement[]).map((s) =>
    s.slot >= 37 ? { ...s, 'state-hash': 'S'.repeat(42) + String(s.slot % 10), 'result-hash': 'X'.repeat(43) } : s);
  const other = signBatch(ed25519Signer(generateKeyPairSync('ed25519').privateKey), 'other-node', statements).item;
  await publish(pid, [other.raw], [{ name: 'Attestation', value: other.id }]);

  const result = await cli(['dispute', mine.id, other.id, '--gateway', node.gatewayUrl]);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /first divergent slot: 37 /, result.stdout + result.stderr);
  assert.match(result.stdout, /the replay supports a/);
  const comparisons = Number(result.stdout.match(/(\d+) comparisons/)![1]);
  assert.ok(comparisons <= Math.ceil(Math.log2(61)) + 1, `${comparisons} comparisons`);
  const executions = Number(result.stdout.match(/\((\d+) executions? from the checkpoint at slot 32\)/)![1]);
  assert.is(executions, 5, 'slots 33..37 only, from the checkpoint at slot 32 (snapshots every 8)');
});

/**
 * A process of 60 messages published as a node would, in bundles of 8 slots tagged with their
 * Seq-From/Seq-To slots (and Attestation IDs), `mutate` applied first; and another signer's
 * attestation, the same as the node's until slot 37, a different state from there on.
 */
async function disputedProcess(mutate: (entries: Entry[]) => Entry[] = (e) => e) {
  const { pid, entries } = await processEntries(60);
  const published = mutate(entries);
  for (let lo = 0; lo <= 60; lo += 8) {
    const slice = published.filter((e) => e.key[1] >= lo && e.key[1] < lo + 8);
    const attestations = slice.filter((e) => e.key[2] === OutboxKind.Attestation).map((e) => parseDataItem(e.raw).id);
    await upload(encodeBundle(slice.map((e) => e.raw)), { gateway: node.node.gateway, wallet, tags: bundleTags({ group: pid, seqFrom: lo, seqTo: Math.min(60, lo + 7), attestations }) });
  }
  const mine = parseDataItem(entries.find((e) => e.key[2] === OutboxKind.Attestation)!.raw);
  const statements = (JSON.parse(new TextDecoder().decode(mine.data)) as ProcessStatement[]).map((s) =>
    s.slot >= 37 ? { ...s, 'state-hash': 'S'.repeat(42) + String(s.slot % 10), 'result-hash': 'X'.repeat(43) } : s);
  const other = signBatch(ed25519Signer(generateKeyPairSync('ed25519').privateKey), 'other-node', statements).item;
  await publish(pid, [other.raw], [{ name: 'Attestation', value: other.id }]);
  return { pid, entries, mine, other };
}

test('dispute: checks and fetches only the window it replays, far less than the history', async () => {
  const { entries, mine, other } = await disputedProcess();
  const result = await dispute(node.node.gateway, mine.id, other.id, { dir: join(dir.path, 'dispute-window') });
  assert.is(result.slot, 37);
  assert.is(result.supports, 'a');
  assert.is(result.from, 32);
  assert.is(result.executions, 5);
  assert.equal(result.faults, []);
  // The two given, the spawn (for its scheduler, then in the window), assignments 32..37,
  // messages 33..37, the checkpoint, the attestations read (at most one a comparison a side).
  assert.ok(result.checks <= 2 + 2 + 6 + 5 + 1 + 2 * 8, `${result.checks} signature checks`);
  assert.ok(result.checks * 4 < entries.length, `${result.checks} signature checks of a history of ${entries.length} items`);
  assert.ok(result.fetched.bundles < result.bundles, `${result.fetched.bundles} of ${result.bundles} bundles fetched`);
  assert.ok(result.fetched.items * 2 < entries.length, `${result.fetched.items} items fetched of ${entries.length}`);
  // A gateway without an index of bundled items: every bundle naming an attestation is fetched, with the same finding.
  const unindexed = await dispute(new UnindexedGateway(node.gatewayUrl), mine.id, other.id, { dir: join(dir.path, 'dispute-unindexed') });
  assert.equal({ ...unindexed, ms: result.ms, fetched: result.fetched, checks: result.checks }, result);
  assert.ok(unindexed.fetched.bundles >= result.fetched.bundles, `${unindexed.fetched.bundles} bundles fetched without the index, ${result.fetched.bundles} with`);
});

/** A gateway whose GraphQL does not answer queries for items' owners (the item index, findItems in arweave/graphql.ts). */
class UnindexedGateway extends ArweaveGateway {
  override async request(path: string, init: RequestInit = {}): Promise<Response> {
    if (path === '/graphql' && String(init.body).includes('owner { address }')) return new Response('no item index here', { status: 501 });
    return super.request(path, init);
  }
}

test('dispute: a forged item inside the replayed window is still caught', async () => {
  // The message of slot 35 (between the checkpoint at 32 and the divergence at 37), its bytes changed.
  const { pid, mine, other } = await disputedProcess((entries) => entries.map((e) => {
    if (e.key[1] !== 35 || e.key[2] !== OutboxKind.Message) return e;
    const raw = e.raw.slice();
    raw[raw.length - 1] ^= 1;
    return { ...e, raw };
  }));
  const result = await dispute(node.node.gateway, mine.id, other.id, { dir: join(dir.path, 'dispute-forged') });
  assert.is(result.slot, 37);
  assert.is(result.faults[0]?.kind, 'message-tampered', JSON.stringify(result.faults));
  assert.is(result.faults[0].slot, 35);
  assert.is(result.supports, undefined, 'a window that does not check is not replayed');
  assert.is(result.fetched.bundles, result.bundles, 'the window failing, every bundle is read before giving up');
  const cliResult = await cli(['dispute', mine.id, other.id, '--gateway', node.gatewayUrl]);
  assert.is(cliResult.code, 1, cliResult.stdout + cliResult.stderr);
  assert.match(cliResult.stdout, /fault message-tampered at slot 35/);
  assert.match(cliResult.stdout, /checked \d+ signatures; fetched \d+ items in \d+ of \d+ bundles/);
  // A full verification finds it too (and the other signer, not the scheduler).
  const report = await verify(pid);
  assert.ok(report.faults.some((f) => f.kind === 'message-tampered' && f.slot === 35), JSON.stringify(report.faults));
});

test('random single-byte flips in the stored items are all detected', async () => {
  const raws = await fetchHistory(node.node.gateway, honest);
  let seed = 0x9e3779b9;
  const random = (k: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % k; };
  let flips = 0;
  let detected = 0;
  for (let i = 0; i < 120; i++) {
    const which = random(raws.length);
    const raw = raws[which].slice();
    raw[random(raw.length)] ^= 1 << random(8);
    const mutated = raws.map((r, j) => (j === which ? raw : r));
    flips++;
    const history = readHistory(honest, mutated);
    if (history.faults.length > 0 || !(await verifyProcess(history, { dir: join(dir.path, `flip-${i}`), source: node.node.gateway })).ok) detected++;
  }
  console.log(`    ${detected} of ${flips} single-byte flips detected`);
  assert.is(detected, flips);
});

test.run();
