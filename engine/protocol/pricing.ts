// Prices: a module declares its own (tags), the node adds its fee (configuration). All
// amounts are integers in the node's unit; gas prices are per 1,000 gas, rounded up, so a
// price is a pure function of the gas and the declared numbers: anyone can recompute it.
import { badRequest } from './errors.ts';

export interface Rates {
  /** Charged once per call. */
  flat: bigint;
  /** Charged per 1,000 gas, rounded up. */
  perKgas: bigint;
}

export interface ModulePrice extends Rates {
  /** Percent (0–100) of the module's part that goes to its owner; the rest to the node. */
  ownerShare: bigint;
}

export interface Charge {
  amount: string;
  gas: string;
  /** Who gets what: the node operator and the module owner. */
  split: { node: string; owner: string };
}

const ZERO: Rates = { flat: 0n, perKgas: 0n };

function integerTag(tags: { name: string; value: string }[], name: string, fallback: bigint): bigint {
  const value = tags.find((t) => t.name === name)?.value;
  if (value === undefined) return fallback;
  if (!/^\d{1,30}$/.test(value)) throw badRequest(`the module's ${name} tag must be a whole number, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Module tags `Price-Flat`, `Price-Per-Kgas`, `Owner-Share` (default 100). */
export function modulePrice(tags: { name: string; value: string }[]): ModulePrice {
  const ownerShare = integerTag(tags, 'Owner-Share', 100n);
  if (ownerShare > 100n) throw badRequest(`Owner-Share is a percentage, got ${ownerShare}`);
  return { flat: integerTag(tags, 'Price-Flat', 0n), perKgas: integerTag(tags, 'Price-Per-Kgas', 0n), ownerShare };
}

export const isPriced = (module: ModulePrice, node: Rates = ZERO) => module.flat + module.perKgas + node.flat + node.perKgas > 0n;

const part = (rates: Rates, gas: bigint) => rates.flat + (gas * rates.perKgas + 999n) / 1000n;

export function price(module: ModulePrice, node: Rates, gas: bigint): Charge {
  const modulePart = part(module, gas);
  const owner = (modulePart * module.ownerShare) / 100n;
  const nodePart = part(node, gas) + modulePart - owner;
  return { amount: String(owner + nodePart), gas: String(gas), split: { node: String(nodePart), owner: String(owner) } };
}
