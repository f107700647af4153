// The layers, kept: every relative import in the tree is read (as the architecture review did)
// and checked against the direction the folders promise. The pure protocol imports nothing of
// the project and no effect; the GPU kernels only the protocol; the WASM runtime the protocol and
// the kernels; the engine's services those; attest and arweave the engine; the edges anything.
// engine/worker.ts (request/response over worker_threads) sits below them all, importing nothing.
// Runtime import cycles fail too (type-only imports and worker URLs are not runtime edges).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const test = suite('layers');
const ROOT = join(import.meta.dirname, '..');
const SOURCE = /\.(ts|mts|mjs|js)$/;

type Layer = 'threads' | 'protocol' | 'gpu' | 'wasm' | 'engine' | 'arweave' | 'attest' | 'client' | 'tools' | 'gateway' | 'cli' | 'bench' | 'test';

/** Which layer a file belongs to, by its folder. */
function layerOf(file: string): Layer | undefined {
  if (file === 'engine/worker.ts' || file === 'engine/worker-entry.mjs') return 'threads';
  if (file.startsWith('engine/protocol/')) return 'protocol';
  if (file.startsWith('engine/gpu/')) return 'gpu';
  if (file.startsWith('engine/wasm/')) return 'wasm';
  if (file.startsWith('engine/')) return 'engine';
  if (file.startsWith('modules/tools/')) return 'tools';
  if (file.startsWith('bin/')) return 'cli';
  const top = file.split('/')[0];
  return (['arweave', 'attest', 'client', 'gateway', 'cli', 'bench', 'test'] as const).find((l) => l === top);
}

/** What each layer may import (besides itself). */
const ALLOWED: Record<Layer, Layer[] | '*'> = {
  threads: [], // request/response over worker_threads: plumbing below every layer that runs workers
  protocol: [],
  gpu: ['protocol', 'threads'],
  wasm: ['protocol', 'gpu', 'threads'],
  engine: ['protocol', 'gpu', 'wasm', 'threads'],
  arweave: ['protocol', 'gpu', 'wasm', 'engine', 'threads'],
  attest: ['protocol', 'gpu', 'wasm', 'engine', 'arweave', 'threads'],
  client: ['protocol', 'arweave'],
  tools: ['protocol', 'gpu', 'wasm'],
  gateway: '*',
  cli: '*',
  bench: '*',
  test: '*',
};

/** Packages the pure protocol may use: hashing and signatures (arbundles signs RSA items with a wallet's key), arweave-js's wallet type. */
const PROTOCOL_PACKAGES = new Set(['node:crypto', 'arbundles', 'arweave/node/lib/wallet.js']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'fixtures' || entry.name === 'build' ? [] : sources(path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

interface Edge { from: string; to: string; runtime: boolean }

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): { spec: string; runtime: boolean }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => ({ spec: m[3] ?? m[4], runtime: !m[2] }));
}

const files = ['engine', 'arweave', 'attest', 'client', 'gateway', 'cli', 'bench', 'test', 'bin', 'modules/tools'].flatMap(sources);
const edges: Edge[] = [];
const packages: { from: string; name: string }[] = [];
for (const file of files) {
  for (const { spec, runtime } of importsOf(file)) {
    if (spec.startsWith('.')) edges.push({ from: file, to: normalize(join(dirname(file), spec)), runtime });
    else packages.push({ from: file, name: spec });
  }
}

test('the tree has the layers it claims (and this test sees its imports)', () => {
  assert.ok(files.length > 80, `${files.length} source files`);
  assert.ok(edges.length > 300, `${edges.length} relative imports`);
  for (const layer of ['protocol', 'gpu', 'wasm', 'engine'] as Layer[]) assert.ok(files.some((f) => layerOf(f) === layer), layer);
});

/** The edges that go against the direction of the layers. */
function against(list: Edge[]): string[] {
  return list.filter(({ from, to }) => {
    const a = layerOf(from);
    const b = layerOf(to);
    if (!a || !b) return false;
    const allowed = ALLOWED[a];
    return a !== b && allowed !== '*' && !allowed.includes(b);
  }).map((e) => `${e.from} → ${e.to}`);
}

test('every relative import goes with the direction of the layers', () => {
  assert.equal(against(edges), []);
});

test('the protocol is pure: no package but hashing and signatures, and lmdb only in engine/store.ts', () => {
  assert.equal(packages.filter((p) => layerOf(p.from) === 'protocol' && !PROTOCOL_PACKAGES.has(p.name)).map((p) => `${p.from}: ${p.name}`), []);
  assert.equal(packages.filter((p) => p.name === 'lmdb' && p.from !== 'engine/store.ts' && layerOf(p.from) !== 'test').map((p) => p.from), []);
});

test('no runtime import cycles', () => {
  const graph = new Map<string, string[]>();
  for (const e of edges) if (e.runtime) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components; any component of two or more files is a cycle.
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!order.has(v)) visit(v);
  assert.equal(cycles, []);
});

test('the checker catches an edge against the direction', () => {
  const edge = (from: string, to: string): Edge => ({ from, to, runtime: true });
  assert.equal(against([edge('engine/protocol/hash.ts', 'engine/store.ts')]), ['engine/protocol/hash.ts → engine/store.ts']);
  assert.equal(against([edge('engine/wasm/meter/worker.mjs', 'engine/modules.ts')]).length, 1);
  assert.equal(against([edge('engine/process.ts', 'attest/attester.ts')]).length, 1);
  assert.equal(against([edge('gateway/node.ts', 'attest/attester.ts'), edge('engine/wasm/call.ts', 'engine/protocol/hash.ts')]), []);
});

test.run();
