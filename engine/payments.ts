// Paid calls, in the manner of HyperBEAM's p4 device and HyperCycle's node manager: the node
// (never the module) checks signatures, keeps balances and charges; free calls never charge.
// A paid call is priced, checked, run, charged, and its receipt stored with its attestation
// in one transaction with the new balances: the receipt is signed first (signing keeps
// nothing), so no crash can leave a charge without its attested receipt, or a retry find one.
import { HyperError, badRequest } from './protocol/errors.ts';
import { isPriced, modulePrice, price, type Rates } from './protocol/pricing.ts';
import { ENGINE, type ReceiptStatement } from './protocol/statement.ts';
import { tagValue } from './protocol/vocabulary.ts';
import { readSigned } from './scheduler.ts';
import { planCompute, type ComputeAnswer, type ComputePlan, type StatelessCompute } from './compute.ts';
import type { Attestations } from './attestations.ts';
import type { Ledger } from './ledger.ts';
import type { Modules } from './modules.ts';
import type { Store } from './store.ts';

/** What payments depend on: narrow views of the node's services. */
export interface PaymentsDeps {
  modules: Pick<Modules, 'meta'>;
  compute: Pick<StatelessCompute, 'run'>;
  ledger: Ledger;
  /** Receipts by request: a request is charged once. */
  receipts: Store['receipts'];
  /** The node's own fee, added to every priced call. */
  prices: Rates;
  /** The largest gas budget of a call. */
  maxGas: number;
  /** Signs receipts, kept by the ledger's transaction. */
  attestations: Attestations;
}

type Answer = Record<string, unknown>;

const record = (answer: ComputeAnswer) => JSON.parse(new TextDecoder().decode(answer.body)) as Answer & { gas: number; 'result-hash': string };
const rates = (r: Rates) => ({ flat: String(r.flat), 'per-kgas': String(r.perKgas) });

export class Payments {
  /** Signed requests being charged, by request ID: a request sent twice at once is charged once. */
  private readonly inFlight = new Map<string, Promise<Answer>>();

  constructor(private readonly deps: PaymentsDeps) {}

  /** Refuses an unsigned call to a priced module (401), naming the price. */
  async requireFree(plan: ComputePlan): Promise<void> {
    const { prices } = this.deps;
    const declared = modulePrice((await this.deps.modules.meta(plan.module)).tags);
    if (!isPriced(declared, prices)) return;
    throw new HyperError('unauthenticated', 'signature-required', `module ${plan.module} is priced (${declared.flat} per call + ${declared.perKgas} per 1000 gas, plus this node's fee ${prices.flat} + ${prices.perKgas} per 1000 gas): POST a signed request item to /${plan.module}/compute; add &cost-only to this URL for the exact price`, {
      prices: { module: { ...rates(declared), 'owner-share': String(declared.ownerShare) }, node: rates(prices) },
    });
  }

  /** The exact gas and price of a stateless call (it runs once, metered, and is cached). */
  async costOnly(plan: ComputePlan) {
    const { prices } = this.deps;
    const result = record(await this.deps.compute.run(plan));
    const declared = modulePrice((await this.deps.modules.meta(plan.module)).tags);
    return { module: plan.module, hashpath: plan.hashpath, gas: result.gas, 'gas-limit': plan.gasLimit, price: price(declared, prices, BigInt(result.gas)), exact: true, priced: isPriced(declared, prices) };
  }

  /** A signed, possibly paid, stateless call: its answer, with an attested receipt when priced. */
  paidCall(module: string, raw: Uint8Array): Promise<Answer> {
    const item = readSigned(raw);
    const key = `call:${item.id}`;
    const previous = this.deps.receipts.get(key);
    if (previous) return Promise.resolve(previous as Answer); // the same request is charged once
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.charge(module, item.id, item.ownerAddress, item.tags, item.data, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async charge(module: string, request: string, payer: string, tags: { name: string; value: string }[], data: Uint8Array, key: string): Promise<Answer> {
    const { ledger, prices, attestations } = this.deps;
    const fn = tagValue(tags, 'Wasm-Function');
    if (!fn) throw badRequest('a signed call needs a Wasm-Function tag (and its parameters as the data, a JSON array)');
    const plan = planCompute(module, { 'wasm-function': fn, 'wasm-params': new TextDecoder().decode(data) || '[]', 'gas-limit': tagValue(tags, 'Gas-Limit') }, this.deps.maxGas);
    const meta = await this.deps.modules.meta(module);
    const declared = modulePrice(meta.tags);
    const answer = await this.deps.compute.run(plan);
    const result = record(answer);
    if (!isPriced(declared, prices)) return { cache: answer.cache, ...result };
    const charge = price(declared, prices, BigInt(result.gas));
    const statement: ReceiptStatement = {
      kind: 'receipt',
      node: attestations.address,
      payer,
      request,
      module,
      owner: meta.owner,
      computation: plan.message,
      hashpath: plan.hashpath,
      'result-hash': result['result-hash'],
      gas: charge.gas,
      amount: charge.amount,
      split: charge.split,
      prices: { module: { ...rates(declared), 'owner-share': String(declared.ownerShare) }, node: rates(prices) },
      engine: ENGINE,
    };
    // From the balance check to the debit nothing awaits, so concurrent calls see each other's
    // debits; a call the balance does not cover is refused before anything is signed.
    ledger.requireBalance(payer, BigInt(charge.amount));
    const receipt = attestations.signNow(statement);
    const response: Answer = { cache: answer.cache, ...result, receipt: { payer, ...charge }, 'receipt-attestation': receipt.attestation };
    await ledger.charge(payer, meta.owner, charge, () => {
      this.deps.receipts.put(key, response);
      receipt.keep();
    });
    attestations.committed();
    return response;
  }

  /** An operator-signed top-up item: credits its Recipient with its Quantity, once. */
  async topup(raw: Uint8Array) {
    const { ledger } = this.deps;
    const item = readSigned(raw);
    if (item.ownerAddress !== ledger.operator) throw new HyperError('forbidden', 'forbidden', `top-ups must be signed by this node's operator ${ledger.operator}, not ${item.ownerAddress}`);
    const recipient = tagValue(item.tags, 'Recipient');
    const quantity = tagValue(item.tags, 'Quantity');
    if (!recipient || !quantity || !/^\d{1,30}$/.test(quantity)) throw badRequest('a top-up needs a Recipient tag and a whole-number Quantity tag');
    const balance = await ledger.topup(item.id, recipient, BigInt(quantity));
    return { recipient, quantity, balance: String(balance), topup: item.id };
  }
}
