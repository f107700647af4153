// Builds the example WebAssembly modules (modules/*.ts, AssemblyScript) into modules/build/.
//
// Compilation runs in a child process (modules/tools/asc.mjs, plain Node) through the
// AssemblyScript compiler API, with the options of asconfig.json (one target per module), so
// the CLI, the tests and the benchmarks get the same bytes. A child because the compiler holds
// ~1 GB once loaded, which a node that built its examples at start-up would otherwise keep for
// its whole life, and because under tsx's loader it takes ~15 s to load (~0.5 s on plain Node).
// A module is rebuilt only when its .wasm is missing or older than a source: that check is a
// few stat calls and loads nothing.
//
// The model's weights (modules/tools/model/weights.ts) are trained here too, into modules/build/model.weights.
//
// Run directly to build: `npx tsx modules/tools/build.ts [--force]`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The example modules; each has modules/<name>.ts and an asconfig.json target of that name. */
export const MODULES: readonly string[] = ['fac', 'text', 'kernel', 'counter', 'token', 'model'];

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = dirname(MODULES_DIR);
const BUILD_DIR = join(MODULES_DIR, 'build');
const CONFIG = join(ROOT, 'asconfig.json');
const ASC = join(MODULES_DIR, 'tools', 'asc.mjs');

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
  // In a child too: ~3 s of training on another core, beside the compiler, not on this event loop.
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${WEIGHTS_PATH}.${process.pid}.tmp`;
  await runChild(['--import', 'tsx', join(WEIGHTS_SOURCES, 'weights.ts'), tmp], 'the weights training (modules/tools/model/weights.ts)');
  renameSync(tmp, WEIGHTS_PATH);
  opts.log?.(`trained ${relative(ROOT, WEIGHTS_PATH)} (${statSync(WEIGHTS_PATH).size} bytes, ${Math.round(performance.now() - started)} ms)`);
  return WEIGHTS_PATH;
}

/** Builds the modules that are missing or stale; returns name → absolute .wasm path. */
export async function buildModules(opts: BuildOptions = {}): Promise<Record<string, string>> {
  const newestSource = Math.max(...sourceFiles().map((file) => statSync(file).mtimeMs));
  const paths: Record<string, string> = {};
  const stale: string[] = [];
  for (const name of MODULES) {
    const out = modulePath(name);
    paths[name] = out;
    if (opts.force || !existsSync(out) || statSync(out).mtimeMs < newestSource) stale.push(name);
  }
  if (stale.length > 0) await compileInChild(stale, opts.log);
  return paths;
}

/** Runs modules/tools/asc.mjs on the names; resolves when all are written, rejects with the compiler's message. */
function compileInChild(names: string[], log?: (line: string) => void): Promise<void> {
  return runChild([ASC, ...names], 'the AssemblyScript compiler (modules/tools/asc.mjs)', (line) => {
    const event = JSON.parse(line) as { loaded?: string; name?: string; bytes?: number; ms: number };
    if (event.loaded) log?.(`loaded the AssemblyScript compiler ${event.loaded} (${event.ms} ms)`);
    else log?.(`built ${relative(ROOT, modulePath(event.name!))} (${event.bytes} bytes, ${event.ms} ms)`);
  });
}

/** Runs node with args in the repository root; each stdout line goes to onLine; rejects with its stderr when it fails. */
function runChild(args: string[], what: string, onLine?: (line: string) => void): Promise<void> {
  // Only the flags given here, whatever this process runs under: NODE_OPTIONS may carry tsx's hooks.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let pending = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (!onLine) return;
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line) onLine(line);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(stderr.trim() || `${what} ${signal ? `was killed (${signal})` : `exited with code ${code}`}`));
    });
  });
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
