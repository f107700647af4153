// The oracle: @permaweb/ao-loader (what AO's compute unit runs) driven over the same input lines
// as `hyperwasm ao-eval`, printing the same output lines, so the two can be compared as bytes.
//
//   TZ=UTC node --experimental-wasm-memory64 test/ao/oracle.cjs \
//     --module <file.wasm> --format <Module-Format> --in <inputs.jsonl> [--compute-limit N]
//
// Input lines are {"msg": {...}, "env": {...}}. Each output line is
//   {"i": <index>, "result": {Error?, Output?, Messages?, Spawns?, Assignments?}, "gas"?: N, "threw"?: "…"}
// with `result` exactly as the loader returns it, less Memory, GasUsed and Patches (its keys in
// the loader's order, everything inside in the module's own order); {"Error": <response>} when
// the module answers ok:false; `threw` with the message of a trap or `out of gas!`.
//
// It runs alone in its own process because the loader's glue overwrites Date.now, Math.random,
// performance.now and process.hrtime, and leaves console.log muted after a message that throws:
// output goes through process.stdout.write. The rest pins what ao-compat.md §1 found moves the
// results: argv (emscripten2 hands it to main and as `_=`, which moves Lua's hash seed) and the
// timezone, which the caller must set (TZ=UTC; refused otherwise).
'use strict';
const { readFileSync } = require('node:fs');
const v8 = require('node:v8');

function options(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) fail(`unexpected argument ${key}`);
    out[key.slice(2)] = value;
  }
  for (const required of ['module', 'format', 'in']) if (!out[required]) fail(`--${required} is required`);
  return out;
}

function fail(message) {
  process.stderr.write(`oracle: ${message}\n` +
    'usage: TZ=UTC node test/ao/oracle.cjs --module <file.wasm> --format <Module-Format> --in <inputs.jsonl> [--compute-limit N]\n');
  process.exit(2);
}

const args = options(process.argv.slice(2));
if (process.env.TZ !== 'UTC') fail('run with TZ=UTC: the loader\'s time functions use the host timezone');
// What the emscripten2 glue gives main as argv (and environ's `_`): ["thisProgram"], wherever
// this script lives and whatever it was called with.
process.argv = [process.argv[0], 'thisProgram'];
// memory64 modules compile only with V8's flag; the caller passes it, this covers a bare `node`.
v8.setFlagsFromString('--experimental-wasm-memory64');

const AoLoader = require('@permaweb/ao-loader');

const METERING_FORMATS = ['wasm32-unknown-emscripten-metering', 'wasm64-unknown-emscripten-draft_2024_10_16-metering'];
const RESULT_KEYS = ['Error', 'Output', 'Messages', 'Spawns', 'Assignments'];

/** The result as the loader built it, less what the comparison leaves out (its key order kept). */
function resultOf(value) {
  const result = {};
  for (const [key, v] of Object.entries(value)) if (RESULT_KEYS.includes(key) && v !== undefined) result[key] = v;
  return result;
}

async function main() {
  const binary = readFileSync(args.module);
  const computeLimit = args['compute-limit'] === undefined ? undefined : Number(args['compute-limit']);
  if (computeLimit !== undefined && !(Number.isSafeInteger(computeLimit) && computeLimit > 0)) fail('--compute-limit must be a positive integer');
  // GasUsed is reported where gas is counted by the module itself (metering.usegas), or where
  // the loader's -metering formats rewrite it to count; elsewhere the loader has no gas to give.
  const metered = METERING_FORMATS.includes(args.format) ||
    WebAssembly.Module.imports(new WebAssembly.Module(binary)).some((i) => i.module === 'metering' && i.name === 'usegas');
  const lines = readFileSync(args.in, 'utf8').split('\n').filter((line) => line.trim() !== '');
  // UNSAFE_MEMORY: the loader hands back its live memory instead of a fresh 68 MB copy per
  // message (the copy, not aos, is 95% of its time); this keeps one copy of its own instead.
  const open = () => AoLoader(binary, { format: args.format, computeLimit, UNSAFE_MEMORY: true });

  let handle = await open();
  // The memory after the last message that succeeded (none yet: a fresh instance's own).
  let kept = null;
  let keptLength = 0;
  const keep = (live) => {
    if (!kept || kept.length < live.length) kept = new Uint8Array(live.length);
    kept.set(live);
    keptLength = live.length;
  };
  // The CU hands the instance that memory every time; to the instance that made it, that is a
  // copy of itself onto itself, so only a fresh instance (after a rollback) is given it.
  let fresh = false;
  for (let i = 0; i < lines.length; i++) {
    const { msg, env } = JSON.parse(lines[i]);
    const line = { i };
    let failed = false;
    try {
      const res = await handle(fresh && kept ? kept.subarray(0, keptLength) : null, msg, env);
      fresh = false;
      line.result = resultOf(res);
      if (metered && res.GasUsed !== undefined) line.gas = res.GasUsed;
      if (res.Error) failed = true;
      else keep(new Uint8Array(res.Memory));
    } catch (err) {
      failed = true;
      // The loader throws an Error for a trap or 'out of gas!', and the module's `response`
      // itself when it answers ok:false (aos: the Lua error's text); the compute unit records
      // the latter as {Error: response} (evaluate.js: assocPath(['Error'], err, {})).
      if (err instanceof Error) line.threw = err.message;
      else line.result = { Error: err };
    }
    // The compute unit's rule after an error: drop the instance, keep the memory from before the
    // message, and evaluate the next one on a fresh instance loaded with it.
    if (failed) {
      handle = await open();
      fresh = true;
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

main().catch((err) => {
  process.stderr.write(`oracle: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
