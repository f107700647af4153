// Builds the example WebAssembly modules (modules/*.ts, AssemblyScript) into modules/build/.
//
// Compilation runs in child processes (modules/tools/asc.mjs, plain Node) through the
// AssemblyScript compiler API, with the options of asconfig.json (one target per module), so
// the CLI, the tests and the benchmarks get the same bytes. Children because the compiler holds
// ~1 GB once loaded, which a node that built its examples at start-up would otherwise keep for
// its whole life, and because under tsx's loader it takes ~15 s to load (~0.5 s on plain Node).
// Several at once (one per core, each taking the next stale module when it is free), since a
// first start waits for all of them.
//
// A module is rebuilt only when its sources changed: modules/tools/stamps.ts keeps, beside each
// output, the hash of what it was built from, so the check reads ~70 KB and starts nothing.
// Concurrent builds of the same sources in one process (the node's start-up, which begins the
// build before it loads, and the examples' publisher) share one run.
//
// Run directly to build (the unpublished modules too): `npx tsx modules/tools/build.ts [--force]`.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hashSources, isFresh, writeStamp } from './stamps.ts';

/** The example modules (a node publishes them all at start); each has modules/<name>.ts and an asconfig.json target of that name. */
export const MODULES: readonly string[] = ['fac', 'text', 'kernel', 'counter', 'token', 'pingpong'];
/**
 * Modules built the same way, but only when named (`buildModules({ modules: […] })`), so that a
 * node publishes them only when asked: llama needs a model's HWLM file as its data import, which
 * the user brings (`serve --model`, `hyperwasm model import`: engine/llama/publish.ts).
 */
export const UNPUBLISHED_MODULES: readonly string[] = ['llama'];

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = dirname(MODULES_DIR);
const BUILD_DIR = join(MODULES_DIR, 'build');
const CONFIG = join(ROOT, 'asconfig.json');
const ASC = join(MODULES_DIR, 'tools', 'asc.mjs');

/** Absolute path of a module's built .wasm (built or not). */
export function modulePath(name: string): string {
  if (!MODULES.includes(name) && !UNPUBLISHED_MODULES.includes(name)) throw new Error(`unknown module "${name}" (modules: ${[...MODULES, ...UNPUBLISHED_MODULES].join(', ')})`);
  return join(BUILD_DIR, `${name}.wasm`);
}

export interface BuildOptions {
  /** Rebuild even when the sources are unchanged. */
  force?: boolean;
  /** Receives a line when a build starts and one per module built. */
  log?: (line: string) => void;
  /** Which modules buildModules builds and returns (default: the examples, MODULES). */
  modules?: readonly string[];
}

const TOOLS_DIR = join(MODULES_DIR, 'tools');

/** Runs in flight, by what they build and from which sources: a second caller joins the first. */
const running = new Map<string, Promise<unknown>>();

function once<T>(key: string, run: () => Promise<T>): Promise<T> {
  const pending = running.get(key);
  if (pending) return pending as Promise<T>;
  const started = run().finally(() => running.delete(key));
  running.set(key, started);
  return started;
}

/** Builds the modules (opts.modules, else MODULES) that are missing or whose sources changed; returns name → absolute .wasm path. */
export async function buildModules(opts: BuildOptions = {}): Promise<Record<string, string>> {
  const names = opts.modules ?? MODULES;
  const files = sourceFiles();
  const sources = hashSources(ROOT, files, compilerVersions());
  const paths: Record<string, string> = Object.fromEntries(names.map((name) => [name, modulePath(name)]));
  const stale = names.filter((name) => opts.force || !isFresh(paths[name], sources, files));
  if (stale.length === 0) return paths;
  // a run already in flight for these sources and names covers whatever is stale now (a subset of its names)
  await once(`modules:${sources}:${names.join()}:${opts.force === true}`, () => compile(stale, sources, opts.log));
  return paths;
}

/** The compiler's own versions are sources too: another asc or binaryen may emit other bytes. */
function compilerVersions(): string[] {
  return ['assemblyscript', 'binaryen'].map((name) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return `${name}@${manifest.version}`;
  });
}

/**
 * Compiles the names on up to one modules/tools/asc.mjs per core, each handed the next name when
 * it is free; stamps each output as it is written. Rejects with the first compiler's message.
 */
async function compile(names: string[], sources: string, log?: (line: string) => void): Promise<void> {
  const queue = [...names];
  const count = Math.min(names.length, Math.max(1, availableParallelism()), 4);
  log?.(`building ${names.join(', ')} with the AssemblyScript compiler (${count} process${count === 1 ? '' : 'es'})…`);
  const compilers: ChildProcess[] = [];
  const one = async () => {
    const child = node(['--liftoff-only', ASC]);
    compilers.push(child);
    const next = () => {
      const name = queue.shift();
      if (name === undefined) child.stdin!.end();
      else child.stdin!.write(`${name}\n`);
    };
    onLines(child, (line) => {
      const event = JSON.parse(line) as { loaded?: string; name?: string; bytes?: number; ms: number };
      if (event.loaded) {
        if (compilers[0] === child) log?.(`loaded the AssemblyScript compiler ${event.loaded} (${event.ms} ms)`);
      } else {
        writeStamp(modulePath(event.name!), sources);
        log?.(`built ${relative(ROOT, modulePath(event.name!))} (${event.bytes} bytes, ${event.ms} ms)`);
      }
      next();
    });
    await waitFor(child, 'the AssemblyScript compiler (modules/tools/asc.mjs)');
  };
  try {
    await Promise.all(Array.from({ length: count }, one));
  } catch (error) {
    queue.length = 0;
    for (const child of compilers) child.kill();
    throw error;
  }
}

/** The compilers running now. */
const children = new Set<ChildProcess>();

/** Kills every build in flight (a start that failed must not wait for its examples' build); their runs reject. */
export function stopBuilds(): void {
  for (const child of children) child.kill();
}

/** Starts node with args in the repository root, stdin and stdout piped. */
function node(args: string[]): ChildProcess {
  // Only the flags given here, whatever this process runs under: NODE_OPTIONS may carry tsx's hooks.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('close', () => children.delete(child));
  child.stdin!.on('error', () => {}); // a child that failed has closed it; its exit says why
  return child;
}

/** Calls onLine with each line the child prints on stdout. */
function onLines(child: ChildProcess, onLine: (line: string) => void): void {
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line) onLine(line);
  });
}

/** Resolves when the child exits with 0; rejects with its stderr otherwise. */
function waitFor(child: ChildProcess, what: string): Promise<void> {
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.resume();
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
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
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
  buildModules({ ...opts, modules: [...MODULES, ...UNPUBLISHED_MODULES] }).then(
    () => console.log(`modules ready (${Math.round(performance.now() - started)} ms)`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
