// The explorer and /metrics on a real node that is a registry (it joins itself): the browser-safe
// verifier (gateway/explorer/verify.ts) agrees with the node's own on the same inputs; /metrics
// parses as Prometheus text and its counters move with requests; GET / still answers non-browser
// clients as before; and a real headless Chromium (Debian's, driven by playwright-core) sees the
// node in the network table, a process with its slot and the attestation in the list, checks the
// real answer as valid and tampered ones as invalid. Without /usr/bin/chromium the browser test
// skips, saying so. A screenshot is kept in .cache/explorer.png.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { ed25519Signer, parseDataItem, verifyDataItem } from '../engine/protocol/ans104/data-item.ts';
import { deepHash as nodeDeepHash } from '../engine/protocol/ans104/deep-hash.ts';
import { leafHash, merkleTree, rootFromProof as nodeRootFromProof } from '../engine/protocol/merkle.ts';
import { statementBytes, type Statement } from '../engine/protocol/statement.ts';
import { b64url as nodeB64url, utf8 } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { NodeClient, type Signer } from '../client/node-client.ts';
import * as port from '../gateway/explorer/verify.ts';
import { routeLabel } from '../gateway/metrics.ts';
import type { RunningNode } from '../gateway/node.ts';
import { tempDir, testNode } from './helpers.ts';
import { waitFor } from './net.ts';

const test = suite('explorer');
const CHROMIUM = '/usr/bin/chromium';
const dir = tempDir();
let node: RunningNode;
const ids: Record<string, string> = {};
let answerText = '';
let answer: any;
let pid = '';

test.before(async () => {
  const built = await buildModules();
  node = await testNode(join(dir.path, 'data'), { registry: true, gpu: 'off', workers: 0, publish: false });
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  for (const name of ['fac', 'counter']) ids[name] = await upload(new Uint8Array(readFileSync(built[name]!)), { gateway: node.node.gateway, wallet, tags: moduleTags([{ name: 'Name', value: name }]) });
  const response = await fetch(`${node.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`);
  answerText = await response.text();
  answer = JSON.parse(answerText);
  assert.is(answer.result, 120);
  const client = new NodeClient(node.url);
  const alice: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
  pid = (await client.spawn(alice, ids.counter!, node.node.key.address)).process;
  await client.send(alice, pid, [], 'hello');
  const slot = await fetch(`${node.url}/${pid}/compute&slot=1`);
  assert.is(slot.status, 200, await slot.clone().text());
  // The registry lists the node once its own ONLINE heartbeat is in (after the gas benchmark).
  await waitFor(() => node.node.registry!.get(node.node.key.address)?.state === 'ONLINE', 'the node ONLINE in its own registry');
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('the browser-safe verifier agrees with the node\'s own on the same inputs', () => {
  for (const n of [0, 1, 2, 3, 31, 32, 33, 100]) {
    const bytes = new Uint8Array(randomBytes(n));
    assert.is(port.b64url(bytes), nodeB64url(bytes));
    assert.equal(port.fromB64url(nodeB64url(bytes)), bytes);
  }
  assert.throws(() => port.fromB64url('ab+c'));
  const chunks = [utf8('dataitem'), new Uint8Array(0), [utf8('a'), [new Uint8Array(randomBytes(70))]]];
  assert.equal(port.deepHash(chunks as never), new Uint8Array(nodeDeepHash(chunks as never)));
  // The §14 vector, and every index of batches of 1 to 9, through both.
  const abc = [{ n: 'a' }, { n: 'b' }, { n: 'c' }] as unknown as Statement[];
  assert.is(port.rootFromProof(port.leafOf(abc[0]), 0, 3, ['068d0SusYHjUH2VSy_zOTD9G8qbAzWCjo55X9D4MkP4', '-4Jb1iAzi5SSlyadmzLDOWPz0HbamrjSUNdQp08BiDs']), 'V5Vz_VmC3q6RtZFaFRMpwFXTvOvi9o5Faw4QkS_xW1k');
  for (let count = 1; count <= 9; count++) {
    const statements = Array.from({ length: count }, (_, i) => ({ n: String(i) })) as unknown as Statement[];
    const { root, proofs } = merkleTree(statements.map((s) => leafHash(statementBytes(s))));
    statements.forEach((s, i) => {
      assert.equal(port.leafOf(s), new Uint8Array(leafHash(statementBytes(s))));
      assert.is(port.rootFromProof(port.leafOf(s), i, count, proofs[i]!), root);
      assert.is(nodeRootFromProof(leafHash(statementBytes(s)), i, count, proofs[i]!), root);
      assert.is(port.rootFromProof(port.leafOf(s), i, count, [...proofs[i]!, proofs[i]![0] ?? 'AA']), nodeRootFromProof(leafHash(statementBytes(s)), i, count, [...proofs[i]!, proofs[i]![0] ?? 'AA']));
    });
  }
  // The real attestation item, and the same with one byte changed anywhere.
  const raw = node.node.store.attestations.get(answer.attestation.id)!;
  const mine = port.parseItem(raw);
  const theirs = parseDataItem(raw);
  assert.is(mine.id, theirs.id);
  assert.is(mine.ownerAddress, theirs.ownerAddress);
  assert.equal(mine.tags, theirs.tags);
  assert.equal(new Uint8Array(mine.data), new Uint8Array(theirs.data));
  assert.is(port.signatureVerifies(mine), true);
  assert.is(verifyDataItem(theirs), true);
  for (const at of [10, 80, raw.length - 1]) {
    const bent = new Uint8Array(raw);
    bent[at]! ^= 1;
    const ours = (() => {
      try {
        const item = port.parseItem(bent);
        return item.id === answer.attestation.id && port.signatureVerifies(item);
      } catch {
        return false;
      }
    })();
    const node_ = (() => {
      try {
        const item = parseDataItem(bent);
        return item.id === answer.attestation.id && verifyDataItem(item);
      } catch {
        return false;
      }
    })();
    assert.is(ours, node_, `byte ${at}`);
    assert.is(ours, false);
  }
  // Whole answers, checked outside the browser: the real one passes every check.
  const checks = port.checkPasted(port.readPasted(answerText), raw);
  assert.equal(checks.map((c) => [c.name, c.ok]), [['statement', true], ['result-hash', true], ['merkle-proof', true], ['signature', true]], JSON.stringify(checks));
  const tampered = port.checkPasted(port.readPasted(JSON.stringify({ ...answer, result: 121 })), raw);
  assert.is(tampered.find((c) => c.name === 'result-hash')!.ok, false);
});

/** Prometheus text: every sample line `name{labels} value`, comments # HELP/# TYPE. */
function parseProm(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return samples;
}

test('/metrics parses as Prometheus text and its counters move with requests', async () => {
  const scrape = async () => {
    const response = await fetch(`${node.url}/metrics`);
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    return parseProm(await response.text());
  };
  const before = await scrape();
  const route = 'hyperwasm_http_requests_total{method="GET",route="GET /<id>/compute",status="200"}';
  assert.ok((before.get(route) ?? 0) >= 2, [...before.keys()].filter((k) => k.startsWith('hyperwasm_http')).join('\n'));
  assert.ok(before.get('hyperwasm_gas_total{kind="stateless"}')! > 0);
  assert.ok(before.get('hyperwasm_gas_total{kind="process"}')! > 0);
  assert.is(before.get('hyperwasm_scheduler_processes'), 1);
  assert.is(before.get('hyperwasm_scheduler_slots'), 2);
  assert.is(before.get('hyperwasm_registry_nodes{state="ONLINE"}'), 1);
  assert.ok(before.get('hyperwasm_heartbeat_age_seconds{state="ONLINE"}')! >= 0);
  assert.ok(before.has('hyperwasm_outbox_depth'));
  assert.ok(before.has('hyperwasm_compute_duration_seconds_bucket{le="0.005",cache="miss"}'));
  for (let i = 0; i < 3; i++) await (await fetch(`${node.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[5.0]`)).arrayBuffer();
  await (await fetch(`${node.url}/${ids.fac}/Compute?wasm-function=fac&wasm-params=[6.0]`)).arrayBuffer();
  await (await fetch(`${node.url}/~meta@1.0/info`)).arrayBuffer();
  await (await fetch(`${node.url}/no/such/thing`)).arrayBuffer();
  node.node.metrics.verification('confirmed');
  const after = await scrape();
  assert.is(after.get(route)! - before.get(route)!, 4);
  assert.is((after.get('hyperwasm_compute_cache_total{result="hit"}') ?? 0) - (before.get('hyperwasm_compute_cache_total{result="hit"}') ?? 0), 3);
  assert.is(after.get('hyperwasm_compute_cache_total{result="miss"}')! - before.get('hyperwasm_compute_cache_total{result="miss"}')!, 1);
  assert.ok(after.get('hyperwasm_gas_total{kind="stateless"}')! > before.get('hyperwasm_gas_total{kind="stateless"}')!);
  assert.is(after.get('hyperwasm_http_requests_total{method="GET",route="GET /~meta@1.0/info",status="200"}'), 1);
  assert.ok(after.get('hyperwasm_http_requests_total{method="GET",route="unmatched",status="404"}')! >= 1);
  assert.is(after.get('hyperwasm_verification_outcomes_total{verdict="confirmed"}'), 1);
  // Labels stay bounded whatever the path.
  assert.is(routeLabel('GET', '/~nope@9/zzz', '/*', 400), 'GET /other/other');
  assert.is(routeLabel('GET', `/${ids.fac}/Compute&wasm-function=fac`, '/*', 200), 'GET /<id>/compute');
});

test('GET / is the page for a browser, and the same 404 help as before for other clients', async () => {
  const browser = await fetch(`${node.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
  assert.is(browser.status, 200);
  assert.match(browser.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await browser.text(), /<script type="module" src="\/~explorer\/app.js">/);
  for (const accept of [undefined, '*/*', 'application/json']) {
    const other = await fetch(`${node.url}/`, { headers: accept ? { accept } : {} });
    assert.is(other.status, 404);
    const body = await other.json();
    assert.is(body.error, 'not-found');
    assert.match(body.message, /this node serves/);
  }
  const script = await fetch(`${node.url}/~explorer/app.js`);
  assert.is(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.not.match(await script.text(), /from\s*["']node:/);
  const item = await fetch(`${node.url}/~explorer/item/${'A'.repeat(43)}`);
  assert.is(item.status, 404);
});

const browserTest = existsSync(CHROMIUM) ? test : test.skip;
if (!existsSync(CHROMIUM)) console.log(`explorer: the browser test is skipped: no ${CHROMIUM} (apt-get install chromium, or scripts/install-chromium.sh)`);

browserTest('in headless Chromium: the network, the process, the attestation, and answers checked in the page', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${node.url}/~explorer`);
    const address = node.node.key.address;
    await page.waitForSelector(`#network tr[data-address="${address}"][data-state="ONLINE"]`, { timeout: 10_000 });
    assert.match(await page.textContent(`#network tr[data-address="${address}"]`) ?? '', new RegExp(`${node.url.replace(/[.:/]/g, '\\$&')}.*ONLINE.*CPU only`));
    await page.waitForSelector(`#processes tr[data-id="${pid}"][data-slot="1"]`);
    await page.waitForSelector(`#attestations tr[data-id="${answer.attestation.id}"][data-status="not yet sampled"]`);

    const check = async (text: string) => {
      await page.fill('#paste', text);
      await page.click('#check');
      await page.waitForSelector('#verdict');
      const verdict = await page.getAttribute('#verdict', 'data-verdict');
      const checks = await page.$$eval('#checks li', (items) => Object.fromEntries(items.map((li) => [li.getAttribute('data-check'), li.getAttribute('data-ok')])));
      return { verdict, checks };
    };
    const real = await check(answerText);
    assert.equal(real, { verdict: 'valid', checks: { statement: 'true', 'result-hash': 'true', 'merkle-proof': 'true', signature: 'true' } });
    mkdirSync('.cache', { recursive: true });
    await page.screenshot({ path: '.cache/explorer.png', fullPage: true });

    // A changed result: what it shows is not what was hashed.
    const changed = await check(JSON.stringify({ ...answer, result: 121 }));
    assert.is(changed.verdict, 'invalid');
    assert.is(changed.checks['result-hash'], 'false');
    // A changed result with its bytes and hash made to agree: the attested statement says otherwise.
    const rehashed = { ...answer, result: 121, 'result-bytes': nodeB64url(utf8('121')), 'result-hash': sha256b64(utf8('121')) };
    const forged = await check(JSON.stringify(rehashed));
    assert.is(forged.verdict, 'invalid');
    assert.is(forged.checks.statement, 'false');
    // …and its statement changed to match: the proof no longer leads to the signed root.
    const restated = { ...rehashed, attestation: { ...answer.attestation, statement: { ...answer.attestation.statement, 'result-hash': rehashed['result-hash'] } } };
    const proofless = await check(JSON.stringify(restated));
    assert.is(proofless.checks['merkle-proof'], 'false');
    // …and the root changed too: the signed item no longer matches.
    const root = nodeRootFromProof(leafHash(statementBytes(restated.attestation.statement)), answer.attestation.index, answer.attestation.count, answer.attestation.proof);
    const resigned = await check(JSON.stringify({ ...restated, attestation: { ...restated.attestation, root } }));
    assert.is(resigned.checks['merkle-proof'], 'true');
    assert.is(resigned.checks.signature, 'false');
    assert.is(resigned.verdict, 'invalid');
    assert.equal(errors, []);
  } finally {
    await browser.close();
  }
});

test.run();
