// Priced modules and paid calls: 401 without a signature, exact cost-only estimates, 402
// without balance, operator top-ups, exact charges split between node and module owner,
// attested receipts that verify and are kept with their attestation, one charge per request,
// no overdraft under concurrency.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { moduleTags } from '../engine/protocol/vocabulary.ts';
import { loadOrCreateWallet, walletAddress } from '../arweave/wallet.ts';
import { createDataItem, ed25519Signer, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { cli, getJson, tempDir, testNode } from './helpers.ts';
import type { RunningNode } from '../gateway/node.ts';

const test = suite('payments');
const dir = tempDir();
let node: RunningNode;
let kernel = '';
let owner = '';
const payer = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
let payerAddress = '';

const post = async (path: string, raw: Uint8Array) => {
  const response = await fetch(node.url + path, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: raw as Uint8Array<ArrayBuffer> });
  return { status: response.status, body: (await response.json()) as any };
};
const call = (signer: Ed25519Signer, fn: string, params: unknown[]) =>
  post(`/${kernel}/compute`, createDataItem(signer, { tags: [{ name: 'Wasm-Function', value: fn }], data: JSON.stringify(params), anchor: crypto.getRandomValues(new Uint8Array(32)) }).raw);
const balance = async (address: string) => BigInt((await getJson(`${node.url}/~p4@1.0/balance?address=${address}`)).body.balance);
const topup = (signer: Ed25519Signer, recipient: string, quantity: bigint) =>
  post('/~p4@1.0/topup', createDataItem(signer, { tags: [{ name: 'Type', value: 'Topup' }, { name: 'Recipient', value: recipient }, { name: 'Quantity', value: String(quantity) }], data: '', anchor: crypto.getRandomValues(new Uint8Array(32)) }).raw);
const operator = () => ed25519Signer(loadOrCreateNodeKey(join(dir.path, 'data', 'node-key.pem')).privateKey);

test.before(async () => {
  const built = await buildModules();
  node = await testNode(join(dir.path, 'data'), { publish: false, prices: { flat: 5n, perKgas: 1n } });
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  owner = await walletAddress(wallet);
  kernel = await upload(new Uint8Array(readFileSync(built.kernel)), {
    gateway: node.node.gateway,
    wallet,
    tags: moduleTags([{ name: 'Price-Flat', value: '10' }, { name: 'Price-Per-Kgas', value: '2' }, { name: 'Owner-Share', value: '50' }]),
  });
  payerAddress = createDataItem(payer, { data: '' }).ownerAddress;
});

test.after(async () => {
  await node?.close();
  dir.remove();
});

test('an unsigned call to a priced module is refused with 401 and its prices', async () => {
  const { status, body } = await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[2000]`);
  assert.is(status, 401);
  assert.match(body.message, /is priced .*POST a signed request item/);
  assert.equal(body.prices.module, { flat: '10', 'per-kgas': '2', 'owner-share': '50' });
});

test('cost-only gives the exact gas and price, without a signature or a charge', async () => {
  const { status, body } = await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[2000]&cost-only`);
  assert.is(status, 200, JSON.stringify(body));
  assert.is(body.exact, true);
  const gas = BigInt(body.gas);
  const modulePart = 10n + (gas * 2n + 999n) / 1000n;
  const nodePart = 5n + (gas + 999n) / 1000n;
  assert.is(body.price.amount, String(modulePart + nodePart));
  assert.is(body.price.split.owner, String(modulePart / 2n));
  assert.is(await balance(payerAddress), 0n);
});

test('no balance → 402 with the price and the balance; top-ups only from the operator', async () => {
  const poor = await call(payer, 'primes', [2000]);
  assert.is(poor.status, 402, JSON.stringify(poor.body));
  assert.is(poor.body.balance, '0');
  assert.ok(Number(poor.body.price) > 0);
  const forged = await topup(payer, payerAddress, 1000n);
  assert.is(forged.status, 403);
  const granted = await topup(operator(), payerAddress, 1_000_000n);
  assert.is(granted.status, 200, JSON.stringify(granted.body));
  assert.is(await balance(payerAddress), 1_000_000n);
});

test('a paid call charges exactly the actual gas, split between node and owner, with an attested receipt', async () => {
  const before = { payer: await balance(payerAddress), node: await balance(node.node.key.address), owner: await balance(owner) };
  const { status, body } = await call(payer, 'primes', [3000]);
  assert.is(status, 200, JSON.stringify(body));
  const estimate = (await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[3000]&cost-only`)).body;
  assert.is(body.receipt.amount, estimate.price.amount, 'the charge equals the exact estimate');
  assert.is(body.receipt.gas, String(body.gas));
  assert.is(await balance(payerAddress), before.payer - BigInt(body.receipt.amount));
  assert.is(await balance(node.node.key.address), before.node + BigInt(body.receipt.split.node));
  assert.is(await balance(owner), before.owner + BigInt(body.receipt.split.owner));
  assert.is(body['receipt-attestation'].statement.payer, payerAddress);
  assert.is(body['receipt-attestation'].statement.amount, body.receipt.amount);

  await node.node.publisher.flush();
  const verified = await cli(['verify', '--attestation', body['receipt-attestation'].id, '--gateway', node.gatewayUrl]);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /paid .* \(recomputed result, gas and price\)/);
});

test('the same signed request is charged once', async () => {
  const item = createDataItem(payer, { tags: [{ name: 'Wasm-Function', value: 'primes' }], data: '[2500]', anchor: crypto.getRandomValues(new Uint8Array(32)) });
  const first = await post(`/${kernel}/compute`, item.raw);
  const after = await balance(payerAddress);
  const again = await post(`/${kernel}/compute`, item.raw);
  assert.is(again.status, 200);
  assert.is(again.body.receipt.amount, first.body.receipt.amount);
  assert.is(await balance(payerAddress), after);
});

test('the same signed request sent twice at once is charged once', async () => {
  const item = createDataItem(payer, { tags: [{ name: 'Wasm-Function', value: 'primes' }], data: '[2550]', anchor: crypto.getRandomValues(new Uint8Array(32)) });
  const before = await balance(payerAddress);
  const [first, second] = await Promise.all([post(`/${kernel}/compute`, item.raw), post(`/${kernel}/compute`, item.raw)]);
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.equal(second.body, first.body);
  assert.is(await balance(payerAddress), before - BigInt(first.body.receipt.amount));
});

test('the stored receipt carries its attestation, kept in the same transaction; a retry returns the same one', async () => {
  const item = createDataItem(payer, { tags: [{ name: 'Wasm-Function', value: 'primes' }], data: '[2600]', anchor: crypto.getRandomValues(new Uint8Array(32)) });
  const first = await post(`/${kernel}/compute`, item.raw);
  assert.is(first.status, 200, JSON.stringify(first.body));
  const attestation = first.body['receipt-attestation'];
  const stored = node.node.store.receipts.get(`call:${item.id}`) as any;
  assert.equal(stored['receipt-attestation'], attestation);
  assert.ok(node.node.store.attestations.get(attestation.id), 'the attestation item is kept with the receipt');
  const again = await post(`/${kernel}/compute`, item.raw);
  assert.equal(again.body['receipt-attestation'], attestation);
  assert.equal(again.body.receipt, first.body.receipt);
});

test('a charge whose commit fails leaves no receipt and no debit; the retry is charged once, attested', async () => {
  const item = createDataItem(payer, { tags: [{ name: 'Wasm-Function', value: 'primes' }], data: '[2700]', anchor: crypto.getRandomValues(new Uint8Array(32)) });
  const cost = await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[2700]&cost-only`);
  assert.is(cost.status, 200, 'computed and cached: the next transaction is the charge\'s');
  const before = await balance(payerAddress);
  const { store } = node.node;
  const transaction = store.transaction;
  store.transaction = async () => {
    store.transaction = transaction;
    throw new Error('disk full');
  };
  const failed = await post(`/${kernel}/compute`, item.raw).finally(() => (store.transaction = transaction));
  assert.is(failed.status, 500, JSON.stringify(failed.body));
  assert.is(store.receipts.get(`call:${item.id}`), undefined);
  assert.is(await balance(payerAddress), before);
  const retried = await post(`/${kernel}/compute`, item.raw);
  assert.is(retried.status, 200, JSON.stringify(retried.body));
  assert.is(await balance(payerAddress), before - BigInt(retried.body.receipt.amount));
  assert.equal((store.receipts.get(`call:${item.id}`) as any)['receipt-attestation'], retried.body['receipt-attestation']);
});

test('parallel calls never drive a balance below zero', async () => {
  const spender = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const address = createDataItem(spender, { data: '' }).ownerAddress;
  const price = BigInt((await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[2000]&cost-only`)).body.price.amount);
  await topup(operator(), address, price * 4n + price - 1n);
  const results = await Promise.all(Array.from({ length: 9 }, () => call(spender, 'primes', [2000])));
  assert.is(results.filter((r) => r.status === 200).length, 4);
  assert.is(results.filter((r) => r.status === 402).length, 5);
  assert.is(await balance(address), price - 1n);
});

test('free routes never charge', async () => {
  const before = await balance(payerAddress);
  await getJson(`${node.url}/~meta@1.0/info`);
  await getJson(`${node.url}/${kernel}/compute?wasm-function=primes&wasm-params=[2000]&cost-only`);
  await getJson(`${node.url}/~p4@1.0/balance?address=${payerAddress}`);
  assert.is(await balance(payerAddress), before);
  const info = (await getJson(`${node.url}/~meta@1.0/info`)).body;
  assert.is(info.prices.flat, '5');
  assert.is(info.prices['per-kgas'], '1');
});

test.run();
