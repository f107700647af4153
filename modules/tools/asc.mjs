// @ts-check
// The AssemblyScript compiler in a process of its own, run by modules/tools/build.ts when a
// module is stale: `node --liftoff-only modules/tools/asc.mjs <name>…` compiles each asconfig.json
// target into modules/build/<name>.wasm and exits; without names it reads them from stdin, one a
// line, and exits when stdin ends, so that build.ts can hand the next module to whichever of its
// compilers is free. Plain Node, never tsx: under tsx's loader the compiler (binaryen's 13 MB
// index.js) takes ~15 s to load, here ~0.5 s; and the ~1 GB it holds is returned to the system
// when this process ends, instead of staying in a long-lived node. `--liftoff-only` keeps V8 from
// recompiling binaryen's large wasm with its optimising tier: in a compile this short that costs
// more CPU than it saves (~40% of the process's CPU time), and the bytes built are the same.
//
// Prints one JSON line per module built ({"name", "bytes", "ms"}), after a first
// {"loaded", "ms"} line; a failed build prints its message on stderr and exits 1.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_DIR = join(ROOT, 'modules', 'build');

const started = performance.now();
const asc = (await import('assemblyscript/asc')).default;
console.log(JSON.stringify({ loaded: asc.version, ms: Math.round(performance.now() - started) }));

const names = process.argv.slice(2);
if (names.length > 0) for (const name of names) await build(name);
else for await (const line of createInterface({ input: process.stdin })) if (line.trim()) await build(line.trim());

/** @param {string} name */
async function build(name) {
  const begun = performance.now();
  const bytes = await compile(name);
  writeAside(join(BUILD_DIR, `${name}.wasm`), bytes);
  console.log(JSON.stringify({ name, bytes: bytes.length, ms: Math.round(performance.now() - begun) }));
}

/** @param {string} name */
async function compile(name) {
  /** @type {Uint8Array | undefined} */
  let wasm;
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  // Paths are given relative to the repository root (the baseDir): asc embeds the entry's
  // path in abort messages, so an absolute path would make the bytes depend on the checkout.
  const { error } = await asc.main(
    ['modules/' + name + '.ts', '--config', 'asconfig.json', '--target', name, '--baseDir', ROOT, '--noColors'],
    {
      stdout,
      stderr,
      writeFile(filename, contents) {
        if (filename.endsWith('.wasm') && typeof contents !== 'string') wasm = contents;
      },
    },
  );
  if (error) fail(`AssemblyScript build of modules/${name}.ts failed: ${error.message}\n${stderr.toString()}`);
  if (!wasm) fail(`AssemblyScript build of modules/${name}.ts produced no .wasm (asconfig.json target "${name}")\n${stderr.toString()}`);
  return wasm;
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(message);
  process.exit(1);
}

/** Written aside and renamed, so a concurrent reader (another test process) never sees half a file. @param {string} path @param {Uint8Array} bytes */
function writeAside(path, bytes) {
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
