// Gas: a metered module (engine/wasm/meter/index.ts) counts its own gas in an internal global and
// exports hw_gas_set / hw_gas_get (engine/wasm/meter/contract.ts); this file is the one place
// that reaches them. The engine sets a budget before a call and reads what
// is left after; a module that runs out traps, recognisably (the count is below zero), and
// that outcome is as deterministic as any result. Unmetered modules report gas 0.
import { HyperError, Trap } from '../protocol/errors.ts';
import { GAS_GET_EXPORT, GAS_SET_EXPORT } from './meter/contract.ts';

/** The budget of a call or a process message when neither request, process nor module sets one. */
export const DEFAULT_GAS_LIMIT = 10_000_000_000;

export interface Metered<T> {
  value: T;
  gas: number;
}

export interface GasCounter {
  set(gas: bigint): void;
  get(): bigint;
}

/** A metered instance's counter (undefined for an unmetered one). */
export function counter(instance: WebAssembly.Instance | undefined): GasCounter | undefined {
  const set = instance?.exports[GAS_SET_EXPORT];
  const get = instance?.exports[GAS_GET_EXPORT];
  if (typeof set !== 'function' || typeof get !== 'function') return undefined;
  return { set: set as GasCounter['set'], get: get as GasCounter['get'] };
}

function meteredCounter(instance: WebAssembly.Instance): GasCounter {
  const c = counter(instance);
  if (!c) throw new Error(`not a metered instance (no ${GAS_SET_EXPORT}/${GAS_GET_EXPORT} exports)`);
  return c;
}

/** Sets a metered instance's gas remaining (the next call's budget). */
export const setGas = (instance: WebAssembly.Instance, gas: bigint): void => meteredCounter(instance).set(gas);

/** A metered instance's gas remaining; negative after it ran out. */
export const gasLeft = (instance: WebAssembly.Instance): bigint => meteredCounter(instance).get();

/** V8's stack overflow: how deep a module gets before it differs between V8's tiers, so a call that overflows is charged its whole budget. */
export const isStackOverflow = (error: unknown): boolean => error instanceof RangeError && /call stack/.test(error.message);

export function withGas<T>(instance: WebAssembly.Instance, limit: number, what: string, run: () => T): Metered<T> {
  const gas = counter(instance);
  if (!gas) return { value: run(), gas: 0 };
  gas.set(BigInt(limit));
  try {
    const value = run();
    return { value, gas: limit - Number(gas.get()) };
  } catch (error) {
    const left = Number(gas.get());
    if (left < 0) throw new HyperError('out-of-gas', 'out-of-gas', `${what} ran out of gas: its budget of ${limit} was used up`, { gas: limit, 'gas-limit': limit });
    // A trap's gas is deterministic too, except where the stack overflowed: V8's tiers differ in
    // how deep they get, so such a trap is charged the whole budget.
    if (error instanceof HyperError) error.fields.gas = error.fields.trap === 'stack overflow' ? limit : limit - left;
    throw error;
  }
}

/**
 * Takes host work (a kernel, a data read) from a metered module's counter before it is done;
 * when that leaves the counter below zero the call traps there, as out of gas, and the work is
 * never done. (The meter writes the module's counter back before such imports and reads it after.)
 */
export function chargeGas(instance: WebAssembly.Instance | undefined, gas: bigint): void {
  const c = counter(instance);
  if (!c) return;
  const left = BigInt(c.get()) - gas;
  c.set(left);
  if (left < 0n) throw new Trap(`out of gas: a host call needed ${gas}`);
}

/** The effective budget: the first of request, process and module that declares one, capped by the node. */
export function gasLimit(declared: (string | number | undefined)[], nodeMax: number): number {
  for (const value of declared) {
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new HyperError('invalid', 'bad-request', `a gas limit must be a positive whole number, got ${JSON.stringify(value)}`);
    return Math.min(n, nodeMax);
  }
  return Math.min(DEFAULT_GAS_LIMIT, nodeMax);
}
