// @ts-check
// The metering worker: reads a module with binaryen.js, refuses what the pass cannot meter, runs
// the pass (pass.mjs), checks and emits the result. engine/wasm/meter/index.ts starts it through
// engine/worker-entry.mjs WITHOUT tsx (under tsx, loading binaryen's 13 MB index.js takes ~8 s;
// on plain Node ~1 s), which is why the pass is plain JavaScript, type-checked through JSDoc.
//
// The cost table, start budget, version, names and charging host modules come from index.ts in
// workerData (a MeterConfig), so this folder and that table together define the pass.
import { workerData } from 'node:worker_threads';
import binaryen from './binaryen.mjs';
import { Pass, Refused } from './pass.mjs';

/** @type {import('./pass.mjs').MeterConfig} */
const config = workerData;

// The features a module may use: what Node 20's V8 runs by default and the pass can meter
// exactly, and memory64 (the wasm64 aos builds; V8 11.3 compiles it only behind the flag that
// engine/wasm/ao/memory64.ts sets process-wide, so WebAssembly.validate below refuses it
// until that has run); a module using anything else fails validation and is refused. Not here:
// exception handling (a caught exception would skip the gas write-back), threads and atomics
// (shared memory is not deterministic), relaxed SIMD (non-deterministic by design),
// multi-memory, GC, strings, stack switching.
const F = binaryen.Features;
const FEATURES =
  F.MutableGlobals | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.SignExt |
  F.ReferenceTypes | F.Multivalue | F.TailCall | F.ExtendedConst | F.Memory64;

/**
 * Served by engine/worker-entry.mjs: the instrumented bytes, or a thrown Error (`fatal`:
 * binaryen aborted, which leaves it unusable: the parent replaces this worker).
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 */
export function handle(bytes) {
  try {
    return instrument(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw Object.assign(new Error(message), { fatal: /^Aborted\(/.test(message) });
  }
}

/**
 * binaryen prints validation errors on stderr; they belong in the thrown Error instead.
 * @template T
 * @param {() => T} fn
 * @returns {{ value: T, output: string }}
 */
function quietly(fn) {
  /** @type {string[]} */
  const captured = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = process.stderr.write = (/** @type {unknown} */ chunk) => { captured.push(String(chunk)); return true; };
  try {
    return { value: fn(), output: captured.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** @param {Uint8Array} input */
function instrument(input) {
  const bytes = new Uint8Array(input);
  if (!WebAssembly.validate(bytes)) {
    let reason = 'not a valid WebAssembly binary';
    try { new WebAssembly.Module(bytes); } catch (error) { reason = error instanceof Error ? error.message : String(error); }
    throw new Refused(`cannot meter this module: ${reason}`);
  }
  let module;
  try {
    module = quietly(() => binaryen.readBinary(bytes)).value;
  } catch (error) {
    throw new Refused(`cannot meter this module: binaryen cannot read it (${error instanceof Error ? error.message : error})`);
  }
  try {
    module.setFeatures(FEATURES);
    const valid = quietly(() => module.validate());
    if (!valid.value) throw new Refused(`cannot meter this module: it uses WebAssembly features the metering pass does not support, or binaryen rejects it:\n${valid.output.trim().slice(0, 2000)}`);
    const { names } = config;
    for (let i = 0; i < module.getNumExports(); i++) {
      const name = binaryen.getExportInfo(module.getExportByIndex(i)).name;
      if (name === names.set || name === names.get) throw new Refused(`cannot meter this module: it already exports ${name} (metered twice, or a name the meter reserves)`);
    }
    new Pass(module, config).run();
    const checked = quietly(() => module.validate());
    if (!checked.value) throw new Error(`the metering pass produced an invalid module (a bug in the pass):\n${checked.output.trim().slice(0, 2000)}`);
    const out = module.emitBinary().slice();
    if (!WebAssembly.validate(out)) throw new Error('the metering pass produced a module V8 does not accept (a bug in the pass)');
    return out;
  } finally {
    module.dispose();
  }
}
