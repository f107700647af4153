// The ledger: balances per signer address in LMDB, operator top-ups, and charges for paid
// calls. Balances are decided in memory, synchronously (so concurrent calls see each other
// and none can drive a balance below zero), then the new values are committed, with what the
// charge writes (the receipt and its attestation, engine/payments.ts), before the caller is
// answered; a request item is charged at most once.
import { badRequest, HyperError } from './protocol/errors.ts';
import type { Charge } from './protocol/pricing.ts';
import type { StoreView } from './store.ts';

export class Ledger {
  /** The authoritative balances of addresses seen since start (LMDB holds what is committed). */
  private readonly balances = new Map<string, bigint>();

  constructor(private readonly store: StoreView<'balances' | 'receipts'>, readonly operator: string) {}

  balance(address: string): bigint {
    let balance = this.balances.get(address);
    if (balance === undefined) this.balances.set(address, (balance = BigInt(this.store.balances.get(address) ?? '0')));
    return balance;
  }

  /** Refuses (402) a payer whose balance does not cover `amount`. */
  requireBalance(payer: string, amount: bigint): void {
    const balance = this.balance(payer);
    if (balance < amount) {
      throw new HyperError('payment-required', 'payment-required', `this call costs ${amount} and ${payer} has ${balance}; top up first`, { price: String(amount), balance: String(balance), address: payer });
    }
  }

  /**
   * Debits the payer and credits node and owner (402 if the balance does not cover it), and runs
   * `write` (the receipt and its attestation) in the same transaction as the new balances.
   */
  async charge(payer: string, owner: string, charge: Charge, write: () => void): Promise<void> {
    const amount = BigInt(charge.amount);
    this.requireBalance(payer, amount);
    const deltas = new Map<string, bigint>();
    const add = (address: string, delta: bigint) => deltas.set(address, (deltas.get(address) ?? 0n) + delta);
    add(payer, -amount);
    add(this.operator, BigInt(charge.split.node));
    add(owner || this.operator, BigInt(charge.split.owner));
    await this.apply(deltas, write);
  }

  /** Credits an address once per top-up item. */
  async topup(itemId: string, recipient: string, quantity: bigint): Promise<bigint> {
    if (quantity <= 0n) throw badRequest('a top-up needs a positive Quantity');
    const key = `topup:${itemId}`;
    if (this.store.receipts.get(key) === undefined) {
      await this.apply(new Map([[recipient, quantity]]), () => this.store.receipts.put(key, { recipient, quantity: String(quantity) }));
    }
    return this.balance(recipient);
  }

  private async apply(deltas: Map<string, bigint>, also: () => void): Promise<void> {
    for (const [address, delta] of deltas) this.balances.set(address, this.balance(address) + delta);
    try {
      // Absolute values, read when the transaction runs: the latest, whatever ran before.
      await this.store.transaction(() => {
        for (const address of deltas.keys()) this.store.balances.put(address, String(this.balances.get(address)));
        also();
      });
    } catch (error) {
      for (const address of deltas.keys()) this.balances.delete(address); // back to what is durable
      throw error;
    }
  }
}
