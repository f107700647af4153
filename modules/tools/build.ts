// Builds the example WebAssembly modules (modules/*.ts, AssemblyScript) into modules/build/.
//
// Compilation runs in-process through the AssemblyScript compiler API, with the options of
// asconfig.json (one target per module), so the CLI, the tests and the benchmarks get the
// same bytes without spawning `asc`. A module is rebuilt only when its .wasm is missing or
// older than a source, because a build takes about a second per module.
//
// The model's weights (modules/tools/model/weights.ts) are trained here too, into modules/build/model.weights.
//
// Run directly to build: `npx tsx modules/tools/build.ts [--force]`.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The example modules; each has modules/<name>.ts and an asconfig.json target of that name. */
export const MODULES: readonly string[] = ['fac', 'text', 'kernel', 'counter', 'token', 'model'];

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = dirname(MODULES_DIR);
const BUILD_DIR = join(MODULES_DIR, 'build');
const CONFIG = join(ROOT, 'asconfig.json');

// The compiler is imported only when something needs building: loading it costs ~0.5 s
// under plain node and ~7 s under tsx (whose loader rewrites binaryen's 13 MB index.js),
// which an up-to-date check should not pay.
type Asc = (typeof import('assemblyscript/asc'))['default'];
let compiler: Promise<Asc> | undefined;
function loadCompiler(log?: (line: string) => void): Promise<Asc> {
  if (!compiler) {
    const started = performance.now();
    compiler = import('assemblyscript/asc').then((m) => {
      log?.(`loaded the AssemblyScript compiler ${m.default.version} (${Math.round(performance.now() - started)} ms)`);
      return m.default;
    });
  }
  return compiler;
}

/** Absolute path of a module's built .wasm (built or not). */
export function modulePath(name: string): string {
  if (!MODULES.includes(name)) throw new Error(`unknown module "${name}" (modules: ${MODULES.join(', ')})`);
  return join(BUILD_DIR, `${name}.wasm`);
}

export interface BuildOptions {
  /** Rebuild even when the .wasm is newer than every source. */
  force?: boolean;
  /** Receives one line per module built. */
  log?: (line: string) => void;
}

/** The model's weights (a data item of their own, modules/tools/model/weights.ts), built beside the modules. */
export const WEIGHTS_PATH = join(BUILD_DIR, 'model.weights');
const TOOLS_DIR = join(MODULES_DIR, 'tools');
const WEIGHTS_SOURCES = join(TOOLS_DIR, 'model');

/** Writes modules/build/model.weights when it is missing or older than its script; returns its path. */
export async function buildWeights(opts: BuildOptions = {}): Promise<string> {
  const newest = Math.max(...readdirSync(WEIGHTS_SOURCES).map((name) => statSync(join(WEIGHTS_SOURCES, name)).mtimeMs));
  if (!opts.force && existsSync(WEIGHTS_PATH) && statSync(WEIGHTS_PATH).mtimeMs >= newest) return WEIGHTS_PATH;
  const started = performance.now();
  const { generateWeights } = await import('./model/weights.ts');
  const bytes = generateWeights();
  writeAside(WEIGHTS_PATH, bytes);
  opts.log?.(`trained ${relative(ROOT, WEIGHTS_PATH)} (${bytes.length} bytes, ${Math.round(performance.now() - started)} ms)`);
  return WEIGHTS_PATH;
}

/** Builds the modules that are missing or stale; returns name → absolute .wasm path. */
export async function buildModules(opts: BuildOptions = {}): Promise<Record<string, string>> {
  const newestSource = Math.max(...sourceFiles().map((file) => statSync(file).mtimeMs));
  const paths: Record<string, string> = {};
  for (const name of MODULES) {
    const out = modulePath(name);
    paths[name] = out;
    if (!opts.force && existsSync(out) && statSync(out).mtimeMs >= newestSource) continue;
    const asc = await loadCompiler(opts.log);
    const started = performance.now();
    const bytes = await compile(asc, name);
    writeAside(out, bytes);
    opts.log?.(`built ${relative(ROOT, out)} (${bytes.length} bytes, ${Math.round(performance.now() - started)} ms)`);
  }
  return paths;
}

/** Written aside and renamed, so a concurrent reader (another test process) never sees half a file. */
function writeAside(path: string, bytes: Uint8Array): void {
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

async function compile(asc: Asc, name: string): Promise<Uint8Array> {
  let wasm: Uint8Array | undefined;
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
  if (error) throw new Error(`AssemblyScript build of modules/${name}.ts failed: ${error.message}\n${stderr.toString()}`);
  if (!wasm) throw new Error(`AssemblyScript build of modules/${name}.ts produced no .wasm (asconfig.json target "${name}")\n${stderr.toString()}`);
  return wasm;
}

// Everything a module's bytes depend on that lives in this repository.
function sourceFiles(): string[] {
  const files = [CONFIG];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== BUILD_DIR && path !== TOOLS_DIR) walk(path); // Node tooling is not module source
      } else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) {
        files.push(path);
      }
    }
  };
  walk(MODULES_DIR);
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const opts = { force: process.argv.includes('--force'), log: (line: string) => console.log(line) };
  Promise.all([buildModules(opts), buildWeights(opts)]).then(
    () => console.log(`modules ready (${Math.round(performance.now() - started)} ms)`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
