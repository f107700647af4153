// Gas metering and NaN canonicalisation: a pass that rewrites a module once, so that it counts
// its own gas and computes bit-identical floats on any CPU.
//
// The pass runs on binaryen.js in a worker thread (engine/wasm/meter/worker.mjs, through
// engine/worker.ts): binaryen's 13 MB index.js takes ~8 s to load under the tsx loader, ~1 s
// under plain Node. The worker is started WITHOUT the tsx hooks, on the first `instrument`
// call, then reused; it holds the process open only while a request is pending, so a process
// that is done can exit. After METER_IDLE_MS without a request it exits: a node meters a
// module once and then reads the result from LMDB, so a loaded binaryen (~110–160 MB of RSS,
// of which ~40 MB goes back to the system when the thread ends; the rest stays in the
// allocator for reuse) would mostly sit idle. The next `instrument` starts it again (~1 s).
// `closeMeter()` stops it. The pass itself is plain JavaScript under
// `// @ts-check` (tsc checks it): pass.mjs is the one traversal; costs.mjs, nan.mjs and
// fields.mjs the tables it reads; counted-loop.mjs and blind-locals.mjs its two analyses.
//
// ## What an instrumented module does
//
// - **Gas counter.** An internal (not exported: exported mutable globals are boxed in V8)
//   mutable i64 global holds the gas remaining (its index is in the custom section below). Two
//   exports reach it: `hw_gas_set(gas: i64)` sets it, `hw_gas_get() -> i64` reads it (both
//   unmetered; engine/wasm/gas.ts is the one place that calls them). Set the budget before a call, read what remains after: gas used = budget −
//   remaining.
// - **Charges.** The code is cut into straight-line segments: a function body, a loop body
//   (each iteration), each arm of an `if`, and the statements after a statement that may
//   branch away (`br`/`br_if`/`br_table` to an outer label, `return`): the standard basic
//   blocks, except that code after a block that no branch leaves early stays in the
//   segment before it, as it always runs with it. Each segment is charged its whole static
//   cost (the sum of GAS_COSTS over its instructions, i.e. over the nodes of binaryen's IR of
//   the module) once, where it starts. A branch taken out of the middle of a segment has
//   already paid for the rest: gas is an upper bound of the work, a deterministic one. One
//   merge: in `loop $l (if c (then … (br $l)))` (the shape of every while/for loop) the arm's
//   first segment is charged with the loop header, so an iteration costs one subtraction, and
//   the last, exiting, iteration pays for the arm it skips.
// - **Counted loops.** A loop of exactly that shape whose condition is `i < B` (signed or
//   unsigned i32; B a constant or a local), whose arm ends `i = i + 1; br $l`, where nothing
//   else in the loop writes i or B, nothing else branches to $l and nothing branches out,
//   runs exactly max(0, B − i) iterations: it is charged (iterations + 1) × its header charge
//   before it starts, with one check — the same gas as per iteration, with nothing left
//   inside the loop (AssemblyScript's `for (let i = a; i < n; i++)`; matmul's and sha256's
//   loops). A loop that cannot run out of gas partway through therefore traps before its
//   first iteration instead.
// - **Checks.** Inside a function the counter lives in a local (a register, not memory),
//   written back to the global before each call and return and read again after each call.
//   It is checked (trap with `unreachable` when below zero) at function entry, at every loop
//   iteration's start, at function exit, and before every operation charged by its size.
//   Between two checks a function runs only bounded straight-line code, so no module can do
//   unbounded work past its budget; the trap comes at the next check, at a deterministic
//   point, below zero by at most the straight-line code charged since the last check. No
//   call into JS, ever.
// - **Dynamic charges.** `memory.grow`, `memory.fill`, `memory.copy`, `memory.init` and
//   `table.grow` charge base + size-dependent gas (see GAS_COSTS), checked before they run,
//   so a module cannot do unbounded work for a constant fee. On memory64 the sizes are i64,
//   read unsigned and counted up to 2^48 units (pages, entries, 16 bytes): anything past it
//   cannot succeed, and the charge cannot wrap into a small or negative one.
// - **Out of gas** ⇔ `hw_gas_get() < 0` after the call. The trap is `unreachable` (a
//   RuntimeError), as for a module's own `unreachable`; the negative counter is what tells
//   them apart. A call that returns normally always leaves the counter ≥ 0 (checked at
//   exit). After any other trap (divide by zero, out-of-bounds, abort, stack overflow) the
//   counter holds its last write-back (made before each call and at each return):
//   deterministic, but not an exact count of the work done up to the trap.
// - **Start function.** It is metered like any function and runs at instantiation, before
//   the engine can set a budget: the counter starts at START_GAS. A start function that
//   exceeds it makes instantiation trap (`unreachable`) — deterministically, since a start
//   function has no input. After instantiation `START_GAS - hw_gas_get()` is what it used;
//   the engine then sets each call's budget with `hw_gas_set`.
// - **NaN canonicalisation.** Every float operation that can produce a NaN whose bits
//   depend on the CPU (f32/f64 add, sub, mul, div, sqrt, min, max, ceil, floor, trunc,
//   nearest, f32.demote_f64, f64.promote_f32, and the same SIMD lane-wise operations) has its
//   result replaced by the canonical quiet NaN when it is a NaN: f32 0x7fc00000,
//   f64 0x7ff8000000000000 (positive sign, only the quiet bit). Operations that only move bits
//   are left alone (abs, neg, copysign, loads, stores, constants, reinterpretations,
//   pmin/pmax). So a float-using module gives the same bytes on x86 (whose default NaN is
//   negative) and ARM, and on Liftoff and TurboFan (which may order operands differently).
//   The check is skipped where no NaN's bits can show: for a result consumed directly by
//   another such operation (a NaN operand gives a NaN result, canonicalised there), by a
//   comparison or a float-to-int conversion (which ignore NaN payloads), or stored in a
//   local whose every read is such a consumer. Float-heavy code pays ~1.2–1.5× for this.
// - **Refused** (an Error, `MeterError`): bytes that are not valid WebAssembly or that
//   binaryen cannot read; a module that already exports `hw_gas_set`/`hw_gas_get`; a
//   module using a feature the pass cannot meter exactly: exception handling, threads and
//   atomics, relaxed SIMD, multi-memory, GC, `table.fill`/`table.copy`/`table.init`.
//   Accepted: MVP, mutable globals, sign extension, non-trapping float-to-int, bulk memory,
//   SIMD, reference types, multi-value, tail calls, extended constants (AssemblyScript's
//   defaults are among them), and memory64 (the wasm64 aos builds; on Node 20 only once
//   engine/wasm/ao/memory64.ts has switched V8's flag on, as the pass validates with V8).
// - **Preserved**: imports, exports (`memory`, `hw_alloc`, `hw_free`, `handle`, …), data and
//   element segments, memory and table limits, the start function, and what the module
//   computes when gas suffices (NaN bit patterns aside). A custom section `hyperwasm-meter`
//   holds `{"version": METER_VERSION, "gasGlobal": <index of the counter>}`. Each function
//   gains an i64 local (and a few temporaries), so frames grow by a few bytes.
//
// ## For the engine
//
// ```ts
// const metered = await instrument(bytes);   // once per module; cache under (module ID, METER_VERSION)
// const instance = new WebAssembly.Instance(new WebAssembly.Module(metered), imports); // start runs on START_GAS
// setGas(instance, 10_000_000n);              // engine/wasm/gas.ts; before each call (or each hw_alloc/fn/hw_free sequence)
// try { fn(...) } catch (trap) { if (gasLeft(instance) < 0n) … out of gas … else … a trap … }
// const used = 10_000_000n - gasLeft(instance);  // withGas (engine/wasm/gas.ts) does all of this
// ```
import { WorkerLine } from '../../worker.ts';
import { CHARGING_MODULES } from '../abi.ts';
// The names the pass gives what it adds (engine/wasm/gas.ts and snapshot.ts read them there).
import { GAS_GET_EXPORT, GAS_SET_EXPORT, METER_SECTION } from './contract.ts';
import type { MeterConfig } from './pass.mjs';

/** Bump whenever the pass, GAS_COSTS or START_GAS change: instrumented binaries are cached under it. */
export const METER_VERSION = 'hw-meter-3';


/** The counter's initial value: the budget of the start function, which runs at instantiation. */
export const START_GAS = 100_000_000n;

/**
 * Gas per instruction (per node of binaryen's IR of the module, which is what the pass sees;
 * binaryen's reading of a binary is fixed by its version, which METER_VERSION pins with the
 * table). Unlisted instructions cost `simple`.
 */
export const GAS_COSTS = {
  /** Structure that compiles to no work: block, loop, nop, drop, unreachable, tuple.make/extract. */
  free: 0,
  /**
   * Everything else not listed below: constants, local and global get/set/tee, integer
   * add/sub/and/or/xor/shifts/rotates/comparisons/eqz/clz/ctz/popcnt, extend/wrap,
   * sign-extension, reinterpretations, f32/f64 abs/neg/copysign/comparisons, select, if,
   * br, br_if, return, memory.size, data.drop, ref.*, table.get/set/size.
   */
  simple: 1,
  /** i32.mul, i64.mul. */
  mul: 3,
  /** i32/i64 div_s, div_u, rem_s, rem_u. */
  div: 20,
  /** f32/f64 add, sub, mul, min, max, ceil, floor, trunc, nearest, promote, demote, and the float↔int conversions. */
  float: 2,
  /** f32/f64 div and sqrt (also f32x4/f64x2). */
  floatDiv: 10,
  /** Loads (also v128 loads and load-lane). */
  load: 2,
  /** Stores (also v128 stores and store-lane). */
  store: 2,
  /** call, return_call (the callee's instructions are charged in the callee). */
  call: 5,
  /** call_indirect, return_call_indirect. */
  callIndirect: 10,
  /** br_table. */
  brTable: 3,
  /** Any other v128 operation. */
  simd: 2,
  /** memory.grow(delta): base + perPage × delta (charged even when the grow fails). */
  memoryGrow: { base: 100, perPage: 4096 },
  /** memory.fill(d, v, n): base + ⌊n / 2^bytesPerGasLog2⌋, i.e. 1 per 16 bytes. */
  memoryFill: { base: 10, bytesPerGasLog2: 4 },
  /** memory.copy(d, s, n): as memory.fill. */
  memoryCopy: { base: 10, bytesPerGasLog2: 4 },
  /** memory.init(seg, d, o, n): as memory.fill. */
  memoryInit: { base: 10, bytesPerGasLog2: 4 },
  /** table.grow(init, delta): base + perEntry × delta. */
  tableGrow: { base: 100, perEntry: 1 },
} as const;

/** The pass refused the module (or failed): the message says why. */
export class MeterError extends Error {
  override name = 'MeterError';
}

/** What the pass is given: with it, this file and engine/wasm/meter/*.mjs define the pass. */
const CONFIG: MeterConfig = {
  costs: GAS_COSTS,
  startGas: START_GAS,
  version: METER_VERSION,
  names: { set: GAS_SET_EXPORT, get: GAS_GET_EXPORT, section: METER_SECTION },
  charging: CHARGING_MODULES,
};

/** How long the metering worker stays loaded with nothing to do. */
export const METER_IDLE_MS = 5_000;

const line = new WorkerLine<Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>>({
  module: new URL('./worker.mjs', import.meta.url),
  // Plain Node: no tsx hooks (they make loading binaryen ~8× slower), whatever the parent runs with.
  tsx: false,
  start: () => ({ workerData: CONFIG }),
  // binaryen aborts on some inputs and the worker ends itself: its other requests go to a new one.
  attempts: 3,
  idleMs: METER_IDLE_MS,
  error: ({ message }) => new MeterError(message),
  lost: (reason) => new MeterError(`the metering worker ${reason}`),
});

/**
 * The module rewritten to meter its gas and canonicalise its NaNs (see the top of this
 * file). Deterministic: the same bytes and METER_VERSION give the same output. Rejects with
 * a MeterError for a module the pass refuses. The caller's bytes are copied, never moved.
 */
export function instrument(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  // A copy of exactly these bytes (a view's whole buffer would be cloned: Buffer#slice, readFileSync's pool).
  return line.request(new Uint8Array(bytes));
}

/** Whether the metering worker is loaded now (it exits after METER_IDLE_MS idle). */
export function meterRunning(): boolean {
  return line.running;
}

/** Stops the worker; pending requests are rejected (a later `instrument` starts a new one). */
export async function closeMeter(): Promise<void> {
  await line.close();
}
