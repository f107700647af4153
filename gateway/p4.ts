// Paid calls, in the manner of HyperBEAM's p4 device and HyperCycle's node manager: the node
// (never the module) checks signatures, keeps balances and charges. Free routes never charge.
//   GET  /<module-id>/compute?…&cost-only      exact gas and price, no signature, no charge
//   POST /<module-id>/compute                  a signed request item: estimate, check the
//                                              balance (402), run, charge the actual gas, and
//                                              answer with an attested receipt
//   GET  /~p4@1.0/balance?address=             a balance
//   POST /~p4@1.0/topup                        an operator-signed top-up item
import { HyperError, badRequest } from '../engine/protocol/errors.ts';
import { readSigned } from '../engine/scheduler.ts';
import { isPriced, modulePrice, price, type Rates } from '../engine/protocol/pricing.ts';
import { planCompute, type ComputeAnswer, type ComputePlan } from '../engine/compute.ts';
import { ENGINE, type ReceiptStatement } from '../engine/protocol/statement.ts';
import type { Node } from './node.ts';
import { tagValue } from '../engine/protocol/vocabulary.ts';

const record = (answer: ComputeAnswer) => JSON.parse(new TextDecoder().decode(answer.body)) as Record<string, any>;
const rates = (r: Rates) => ({ flat: String(r.flat), 'per-kgas': String(r.perKgas) });

/** Refuses an unsigned call to a priced module (401), naming the price. */
export async function requireFree(node: Node, plan: ComputePlan): Promise<void> {
  const declared = modulePrice((await node.modules.meta(plan.module)).tags);
  if (!isPriced(declared, node.prices)) return;
  throw new HyperError('unauthenticated', 'signature-required', `module ${plan.module} is priced (${declared.flat} per call + ${declared.perKgas} per 1000 gas, plus this node's fee ${node.prices.flat} + ${node.prices.perKgas} per 1000 gas): POST a signed request item to /${plan.module}/compute; add &cost-only to this URL for the exact price`, {
    prices: { module: { ...rates(declared), 'owner-share': String(declared.ownerShare) }, node: rates(node.prices) },
  });
}

/** The exact gas and price of a stateless call (it runs once, metered, and is cached). */
export async function costOnly(node: Node, plan: ComputePlan) {
  const result = record(await node.compute.run(plan));
  const declared = modulePrice((await node.modules.meta(plan.module)).tags);
  return { module: plan.module, hashpath: plan.hashpath, gas: result.gas, 'gas-limit': plan.gasLimit, price: price(declared, node.prices, BigInt(result.gas)), exact: true, priced: isPriced(declared, node.prices) };
}

/** A signed, possibly paid, stateless call. */
export async function paidCall(node: Node, module: string, raw: Uint8Array): Promise<Record<string, unknown>> {
  const item = readSigned(raw);
  const key = `call:${item.id}`;
  const previous = node.store.receipts.get(key);
  if (previous) return previous as Record<string, unknown>; // the same request is charged once
  const fn = tagValue(item.tags, 'Wasm-Function');
  if (!fn) throw badRequest('a signed call needs a Wasm-Function tag (and its parameters as the data, a JSON array)');
  const plan = planCompute(module, { 'wasm-function': fn, 'wasm-params': new TextDecoder().decode(item.data) || '[]', 'gas-limit': tagValue(item.tags, 'Gas-Limit') }, node.maxGas);
  const meta = await node.modules.meta(module);
  const declared = modulePrice(meta.tags);
  const answer = await node.compute.run(plan);
  const result = record(answer);
  if (!isPriced(declared, node.prices)) return { cache: answer.cache, ...result };
  const charge = price(declared, node.prices, BigInt(result.gas));
  const statement: ReceiptStatement = {
    kind: 'receipt',
    node: node.key.address,
    payer: item.ownerAddress,
    request: item.id,
    module,
    owner: meta.owner,
    computation: plan.message,
    hashpath: plan.hashpath,
    'result-hash': result['result-hash'],
    gas: charge.gas,
    amount: charge.amount,
    split: charge.split,
    prices: { module: { ...rates(declared), 'owner-share': String(declared.ownerShare) }, node: rates(node.prices) },
    engine: ENGINE,
  };
  // Check and debit happen together, synchronously, inside the ledger: no await between them.
  const response: Record<string, unknown> = { cache: answer.cache, ...result, receipt: { payer: item.ownerAddress, ...charge } };
  await node.ledger.charge(item.ownerAddress, meta.owner, charge, key, response);
  response['receipt-attestation'] = await node.attestReceipt(statement);
  await node.store.receipts.put(key, response);
  return response;
}

export async function topup(node: Node, raw: Uint8Array) {
  const item = readSigned(raw);
  if (item.ownerAddress !== node.ledger.operator) throw new HyperError('forbidden', 'forbidden', `top-ups must be signed by this node's operator ${node.ledger.operator}, not ${item.ownerAddress}`);
  const recipient = tagValue(item.tags, 'Recipient');
  const quantity = tagValue(item.tags, 'Quantity');
  if (!recipient || !quantity || !/^\d{1,30}$/.test(quantity)) throw badRequest('a top-up needs a Recipient tag and a whole-number Quantity tag');
  const balance = await node.ledger.topup(item.id, recipient, BigInt(quantity));
  return { recipient, quantity, balance: String(balance), topup: item.id };
}
