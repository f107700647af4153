// Reputation from verification (docs/reputation-section.md): the pinned report format and its
// refusals; the formula; then a registry, two honest nodes, a lying node (it corrupts each
// result before attesting it) and a verifier, on loopback sharing one arlocal: the verifier's
// rounds, driven from here, refute the liar with evidence the registry checks itself, confirm
// the honest nodes, and a forged report, a self-report, a report without evidence and a
// refutation whose evidence does not check out are refused and change nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataItem, ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { b64url, canonicalJson, utf8 } from '../engine/protocol/encoding.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { decodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import {
  MAX_REPORT_BYTES,
  readReport,
  reportData,
  reportTags,
  signReport,
  verifierGroup,
  type ReportFields,
} from '../engine/protocol/verification-report.ts';
import { reputation } from '../engine/registry.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { startArlocal } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { findByTags } from '../arweave/graphql.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { buildModules } from '../modules/tools/build.ts';
import type { RunningNode } from '../gateway/node.ts';
import { getJson, tempDir, testNode } from './helpers.ts';
import { waitFor } from './net.ts';

const test = suite('reputation');

const T0 = 1_700_000_000_000;
const seeded = (seed: Uint8Array) => createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const VECTOR_SIGNER = ed25519Signer(seeded(Uint8Array.from({ length: 32 }, (_, i) => i)));
const NODE = 'Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw'; // any address: the vector's key reports on another node
const OTHER = sha256b64(utf8('another node'));
const MODULE = 'O2CUZR9-gZv_cT0C5nehxISvqLBKJWS3VjDVreQbyyU';
const ATTESTATION = sha256b64(utf8('an attestation'));
const STATEMENT = {
  kind: 'compute' as const,
  node: OTHER,
  module: MODULE,
  request: { path: 'compute', 'wasm-function': 'fac', 'wasm-params': [5] },
  hashpath: `${MODULE}/Wy8jgLXmwY0wUBkYB4OnhicEhXLYfIQmgLvTqARd-3c`,
  'result-hash': sha256b64(utf8('121')),
  gas: 100,
  engine: 'hyperwasm-engine/1',
};
const VECTOR: ReportFields = {
  node: OTHER,
  attestation: ATTESTATION,
  index: 0,
  statement: STATEMENT,
  verdict: 'refuted',
  evidence: { field: 'result-hash', attested: STATEMENT['result-hash'], replayed: { hashpath: STATEMENT.hashpath, 'result-hash': sha256b64(utf8('120')), gas: 100 }, reason: 'recomputed result hash differs' },
  time: T0,
};

function refusal(raw: Uint8Array): HyperError {
  try {
    readReport(raw);
  } catch (error) {
    assert.instance(error, HyperError);
    return error as HyperError;
  }
  assert.unreachable('the report was accepted');
  throw new Error('unreachable');
}

test('a fixed key and fields give fixed bytes: the vector', () => {
  const report = signReport(VECTOR_SIGNER, VECTOR);
  assert.is(report.verifier, NODE);
  assert.is(report.id, 'UK2QumuPfXSdkX2bvGxYsWJusfAMt79S4wMw-GtBOGE');
  assert.is(report.raw.length, 1230);
  assert.is(sha256b64(report.raw), 'jamRA_1NoaHlimWQ_yz2RlqC4Nev6X8h0yzYMDEYdjo');
  assert.equal(reportTags(VECTOR), [
    { name: 'Data-Protocol', value: 'hyperwasm' },
    { name: 'Variant', value: 'hyperwasm.1' },
    { name: 'Type', value: 'Verification-Report' },
    { name: 'Node', value: OTHER },
    { name: 'Attestation', value: ATTESTATION },
    { name: 'Verdict', value: 'refuted' },
    { name: 'Content-Type', value: 'application/json' },
  ]);
  assert.is(new TextDecoder().decode(reportData(VECTOR)), canonicalJson({ ...VECTOR }));
  const { verifier, publicKey, id, raw, ...read } = readReport(report.raw);
  assert.equal(read, VECTOR);
  assert.equal([verifier, publicKey, id], [NODE, b64url(VECTOR_SIGNER.publicKey), report.id]);
  assert.equal(signReport(VECTOR_SIGNER, VECTOR).raw, report.raw, 'ed25519 is deterministic: one report, one spelling');
  // A process slot's report names the process and slot in its tags.
  const slot = { ...STATEMENT, kind: 'process' as const, process: ATTESTATION, slot: 7, message: 'm', assignment: 'a', 'state-hash': 's' } as never;
  const tags = reportTags({ ...VECTOR, statement: slot });
  assert.equal(tags.slice(6, 8), [{ name: 'Process', value: ATTESTATION }, { name: 'Slot', value: '7' }]);
  assert.is(verifierGroup(NODE), `verifier/${NODE}`);
});

test('every defect is refused: 401 for a signature that does not verify, 400 for the rest, each saying why', () => {
  const good = signReport(VECTOR_SIGNER, VECTOR).raw;
  const forged = Uint8Array.from(good);
  forged[12] ^= 1;
  assert.is(refusal(forged).kind, 'unauthenticated');
  assert.match(refusal(forged).message, /signature does not verify/);
  const item = (fields: ReportFields, data: string | Uint8Array = reportData(fields), tags = reportTags(fields)) => createDataItem(VECTOR_SIGNER, { tags, data }).raw;
  const { evidence, ...confirmed } = VECTOR;
  const json = (edit: (d: any) => void) => {
    const d = JSON.parse(new TextDecoder().decode(reportData(VECTOR)));
    edit(d);
    return canonicalJson(d);
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['not an item', new Uint8Array([1, 2, 3]), /not an ANS-104 data item/],
    ['oversized', new Uint8Array(MAX_REPORT_BYTES + 1), /over the 65536-byte limit/],
    ['a refutation without evidence', item({ ...confirmed, verdict: 'refuted' }), /a refutation must carry its evidence/],
    ['a confirmation with evidence', item({ ...VECTOR, verdict: 'confirmed' }), /unknown evidence/],
    ['a bad verdict', item(VECTOR, undefined, reportTags(VECTOR).map((t) => (t.name === 'Verdict' ? { ...t, value: 'maybe' } : t))), /Verdict must be one of/],
    ['another node in the tag', item(VECTOR, undefined, reportTags({ ...VECTOR, node: NODE })), /Node tag .* is not its data's node/],
    ['a statement for another node', item({ ...VECTOR, statement: { ...STATEMENT, node: NODE } }), /the statement is signed for node/],
    ['a receipt', item({ ...VECTOR, statement: { ...STATEMENT, kind: 'receipt' } as never }), /statement.kind must be compute or process/],
    ['evidence misquoting the statement', item({ ...VECTOR, evidence: { ...evidence!, attested: 'x' } }), /is not the statement's result-hash/],
    ['evidence replaying the attested value', item({ ...VECTOR, evidence: { ...evidence!, replayed: { 'result-hash': STATEMENT['result-hash'] } } }), /that is no refutation/],
    ['evidence on a field a replay does not give', item(VECTOR, json((d) => (d.evidence.field = 'engine'))), /evidence.field must be one of/],
    ['a Process tag on a stateless report', item(VECTOR, undefined, [...reportTags(VECTOR), { name: 'Process', value: ATTESTATION }]), /no Process or Slot tag/],
    ['JSON with spaces', item(VECTOR, JSON.stringify(JSON.parse(new TextDecoder().decode(reportData(VECTOR))), null, 1)), /canonical JSON/],
  ];
  for (const [what, raw, message] of cases) {
    const error = refusal(raw);
    assert.is(error.kind, 'invalid', what);
    assert.match(error.message, message, what);
  }
});

test('the formula: (confirmed + 1) / (confirmed + 10·refuted + 2)', () => {
  assert.is(reputation(0, 0), 0.5, 'nobody checked it');
  assert.is(reputation(1, 0), 0.6667);
  assert.is(reputation(98, 0), 0.99);
  assert.is(reputation(0, 1), 0.0833);
  assert.ok(reputation(20, 1) < reputation(20, 0) && reputation(0, 1) < reputation(0, 0), 'a believed refutation always costs');
  assert.is(reputation(10, 1), 0.5, 'one refutation weighs as much as ten confirmations: a liar is back to "unknown" at best, and flagged refuted for good');
});

const post = async (url: string, body: Uint8Array) => {
  const response = await fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream' } });
  return { status: response.status, body: (await response.json()) as any };
};

/** Flips the last byte of a result: "120" becomes "121", still JSON, so the liar answers and attests a plausible wrong number. */
const lie = (bytes: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(bytes);
  out[out.length - 1] ^= 1;
  return out;
};

test('a lying node among honest ones is refuted with checked evidence; bad reports change nothing', async () => {
  const dir = tempDir('hyperwasm-reputation-');
  const arlocal = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
  const running: RunningNode[] = [];
  const start = async (name: string, options: Parameters<typeof testNode>[1] = {}) => {
    const node = await testNode(join(dir.path, name), { gateway: arlocal.url, gpu: 'off', workers: 0, heartbeatMs: 60_000, callGuardMs: 0, ...options });
    running.push(node);
    return node;
  };
  try {
    const gateway = new ArweaveGateway(arlocal.url);
    const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
    const built = await buildModules({ modules: ['fac'] });
    const fac = await upload(new Uint8Array(readFileSync(built.fac!)), { gateway, wallet, tags: moduleTags() });

    const registry = await start('registry', { registry: true, registryTtlMs: 600_000, registrySummaryMs: 0 });
    const join_ = [registry.url];
    const a = await start('a', { join: join_ });
    const b = await start('b', { join: join_ });
    const liar = await start('liar', { join: join_, testOnlyCorruptResults: lie });
    const verifier = await start('verifier', { join: join_, verifier: true, verifierIntervalMs: 3_600_000, verifierSeed: 'test' });
    const [ra, rb, rl, rv] = [a, b, liar, verifier].map((n) => n.node.key.address);
    const nodes = `${registry.url}/~registry@1.0/nodes`;
    const report = `${registry.url}/~registry@1.0/report`;
    await waitFor(async () => (await getJson(`${nodes}?state=online`)).body.nodes?.length === 5, 'the registry, three nodes and the verifier listed ONLINE');

    // Some stateless calls on each; the liar's answers are wrong but validly attested.
    const answers = new Map<string, any[]>();
    for (const node of [a, b, liar]) {
      const got: any[] = [];
      for (const n of [3, 4, 5]) got.push((await getJson(`${node.url}/${fac}/compute?wasm-function=fac&wasm-params=${encodeURIComponent(`[${n}]`)}`)).body);
      answers.set(node.node.key.address, got);
      await node.node.publisher.flush();
    }
    assert.equal(answers.get(ra)!.map((r) => r.result), [6, 24, 120]);
    assert.equal(answers.get(rl)!.map((r) => r.result), [7, 25, 121], 'the liar answers wrong');
    assert.is(answers.get(rl)![2].attestation.statement['result-hash'], sha256b64(utf8('121')), 'and attests what it answered');

    // Nobody is checked yet: every node stands at 0.5.
    let view = (await getJson(`${nodes}/${rl}`)).body;
    assert.equal([view.reputation, view.refuted, view.confirmed, view.refutations], [0.5, false, 0, 0]);

    // Rounds driven from here (one statement per node per round) until the liar is caught: bounded.
    let rounds = 0;
    const made: Awaited<ReturnType<NonNullable<RunningNode['node']['verifier']>['sampleOnce']>> = [];
    while (rounds < 3 && !(await getJson(`${nodes}/${rl}`)).body.refuted) {
      made.push(...(await verifier.node.verifier!.sampleOnce()));
      rounds++;
    }
    assert.is(rounds, 1, 'every statement of the liar is wrong: its first sample catches it');
    assert.equal(made.map((r) => [r.node, r.verdict]).sort(), [[ra, 'confirmed'], [rb, 'confirmed'], [rl, 'refuted']].sort());
    const refutation = made.find((r) => r.node === rl)!;
    assert.is(refutation.evidence!.field, 'result-hash');

    view = (await getJson(`${nodes}/${rl}`)).body;
    assert.is(view.refuted, true);
    assert.is(view.refutations, 1);
    assert.is(view.evidence.length, 1);
    assert.is(view.evidence[0].report, refutation.id);
    assert.is(view.evidence[0].verifier, rv);
    assert.is(view.evidence[0].field, 'result-hash');
    const honestHash = answers.get(ra)!.find((r) => r.hashpath === refutation.statement.hashpath)!['result-hash'];
    assert.is(view.evidence[0].replayed['result-hash'], honestHash, 'the registry\'s own replay gives the honest result');
    assert.is.not(view.evidence[0].attested, honestHash);
    const honest = [(await getJson(`${nodes}/${ra}`)).body, (await getJson(`${nodes}/${rb}`)).body];
    for (const h of honest) {
      assert.equal([h.refuted, h.confirmed, h.refutations, h.reputation], [false, 1, 0, 0.6667]);
      assert.ok(view.reputation < h.reputation, 'the liar stands below the honest nodes');
    }
    const listed = async (query: string) => (await getJson(`${nodes}${query}`)).body.nodes.map((n: any) => n.address).sort();
    assert.equal(await listed('?min-reputation=0.6'), [ra, rb].sort());
    assert.equal(await listed('?min-reputation=0'), [ra, rb, rl, rv, registry.node.key.address].sort());
    assert.is((await getJson(`${nodes}?min-reputation=2`)).status, 400);

    // Another round: the next statements; the liar stays refuted, a second believed refutation adds to it.
    made.push(...(await verifier.node.verifier!.sampleOnce()));
    assert.is((await getJson(`${nodes}/${ra}`)).body.confirmed, 2);
    assert.is((await getJson(`${nodes}/${rl}`)).body.refutations, 2);

    // Refused, each with a clear 4xx, and nothing changes.
    const before = JSON.stringify(((await getJson(nodes)).body.nodes as any[]).map(({ time, 'offline-after': _, uptime, ...v }) => v));
    const confirmation = made.find((r) => r.node === ra)!;
    let r = await post(report, confirmation.raw);
    assert.is(r.status, 409, 'a replayed report');
    assert.match(r.body.message, /already taken/);
    const forged = Uint8Array.from(confirmation.raw);
    forged[12] ^= 1;
    r = await post(report, forged);
    assert.is(r.status, 401, 'a forged report');
    assert.match(r.body.message, /signature does not verify/);
    const keyOf = (name: string) => ed25519Signer(loadOrCreateNodeKey(join(dir.path, name, 'node-key.pem')).privateKey);
    const own = answers.get(ra)![0].attestation;
    r = await post(report, signReport(keyOf('a'), { node: ra, attestation: own.id, index: own.index, statement: own.statement, verdict: 'confirmed', time: Date.now() }).raw);
    assert.is(r.status, 403, 'a self-report');
    assert.is(r.body.error, 'self-report');
    assert.match(r.body.message, /about itself/);
    // The verifier's key claims an honest result is wrong: the registry replays and finds it right.
    const honestAnswer = answers.get(rb)![0].attestation;
    const lying = signReport(keyOf('verifier'), {
      node: rb, attestation: honestAnswer.id, index: honestAnswer.index, statement: honestAnswer.statement, verdict: 'refuted', time: Date.now(),
      evidence: { field: 'result-hash', attested: honestAnswer.statement['result-hash'], replayed: { 'result-hash': sha256b64(utf8('7')) }, reason: 'made up' },
    });
    r = await post(report, lying.raw);
    assert.is(r.status, 422, 'a refutation whose evidence does not check out');
    assert.is(r.body.error, 'refutation-not-reproduced');
    assert.match(r.body.message, /evidence does not check out/);
    // A statement the attestation does not hold there (from node a, another registered node: any of them may verify).
    r = await post(report, signReport(keyOf('a'), { node: rb, attestation: honestAnswer.id, index: honestAnswer.index, statement: { ...honestAnswer.statement, gas: 1 }, verdict: 'confirmed', time: Date.now() }).raw);
    assert.is(r.status, 422);
    assert.is(r.body.error, 'unverifiable-report');
    // A refutation without evidence, and garbage.
    const { evidence: _, ...bare } = readReport(lying.raw);
    r = await post(report, createDataItem(keyOf('verifier'), { tags: reportTags(bare), data: canonicalJson({ attestation: bare.attestation, index: bare.index, node: bare.node, statement: bare.statement, time: bare.time, verdict: 'refuted' }) }).raw);
    assert.is(r.status, 400);
    assert.match(r.body.message, /must carry its evidence/);
    r = await post(report, utf8('hello'));
    assert.is(r.status, 400);
    const after = JSON.stringify(((await getJson(nodes)).body.nodes as any[]).map(({ time, 'offline-after': _, uptime, ...v }) => v));
    assert.is(after, before, 'refused reports change nothing');
    // A node that is not a registry says so.
    r = await post(`${a.url}/~registry@1.0/report`, confirmation.raw);
    assert.is(r.status, 404);

    // The verifier's reports are on Arweave, in its own group.
    await verifier.node.publisher.flush();
    const bundles = await findByTags(gateway, { Type: 'Bundle', Process: verifierGroup(rv) });
    const published = (await Promise.all(bundles.map(async (t) => decodeBundle(await gateway.data(t.id))))).flat().map((i) => readReport(i.raw));
    assert.equal(new Set(published.map((p) => p.id)), new Set(made.map((m) => m.id)));
    assert.ok(published.some((p) => p.node === rl && p.verdict === 'refuted' && p.evidence?.field === 'result-hash'));
  } finally {
    for (const node of running.reverse()) await node.close().catch(() => {});
    await arlocal.stop();
    dir.remove();
  }
});

test.run();
