// Cost-only for a process message: the gas it would use if it were the next slot, run on a
// copy of the current state (nothing is kept, the live instance is untouched). Exact against
// that state, which messages scheduled before it may change.
import { b64url, fromB64url } from '../protocol/encoding.ts';
import { isModuleFault } from '../protocol/errors.ts';
import { nextLink } from '../protocol/hash-chain.ts';
import type { DataItem } from '../protocol/ans104/data-item.ts';
import type { SignedAssignment } from '../protocol/assignment.ts';
import { callBytes, instantiate } from '../wasm/call.ts';
import { withGas } from '../wasm/gas.ts';
import { restoreSnapshot, takeSnapshot } from '../wasm/snapshot.ts';
import { handleInputBytes, type Runner } from './fold.ts';

export interface Estimate {
  /** The slot whose state the estimate ran against. */
  slot: number;
  gas: number;
  'gas-limit': number;
  /** The module fault the message would meet (its gas is what it would be charged). */
  error?: string;
}

/** Runs `item` against a copy of `runner`, which has folded up to `latest`, the assignment of its last slot. */
export function estimateNext(runner: Runner, latest: SignedAssignment, item: DataItem, environment: { timestamp: number; 'block-height': number }): Estimate {
  const copy = instantiate(runner.loaded);
  restoreSnapshot(copy, runner.loaded.info, takeSnapshot(runner.instance, runner.loaded.info, runner.slot, runner.hashpath));
  // The assignment the message would get: its real hash-chain link, and a stand-in of the
  // same length for the assignment's own ID (unknown until signed).
  const link = b64url(nextLink(fromB64url(latest['hash-chain']), item.id));
  const assignment: SignedAssignment = { process: runner.spawn.id, slot: latest.slot + 1, message: item.id, 'hash-chain': link, id: 'A'.repeat(43), signer: '', raw: new Uint8Array(0), ...environment };
  const input = handleInputBytes(item, assignment, runner.spawn);
  try {
    const { gas } = withGas(copy, runner.gasLimit, 'handle', () => callBytes(copy, 'handle', input));
    return { slot: latest.slot, gas, 'gas-limit': runner.gasLimit };
  } catch (error) {
    if (!isModuleFault(error)) throw error;
    return { slot: latest.slot, gas: Number(error.fields.gas ?? runner.gasLimit), 'gas-limit': runner.gasLimit, error: error.message };
  }
}
