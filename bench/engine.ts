// In-process figures: an engine call (fresh instance, ABI conversion, canonical result
// bytes) against a raw WebAssembly call of the same export, same process, same inputs.
import { readFileSync } from 'node:fs';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';
import { buildModules } from '../modules/tools/build.ts';
import type { Figure } from './report.ts';

/** Calls per second of fn, run for about `ms` milliseconds after a warm-up. */
export function rate(fn: () => unknown, ms = 1000): number {
  const until = performance.now() + ms / 4;
  while (performance.now() < until) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    calls += 100;
    now = performance.now();
  }
  return (calls * 1000) / (now - start);
}

export async function engineFigures(ms: number): Promise<Figure[]> {
  const built = await buildModules();
  const bytes = new Uint8Array(readFileSync(built.fac));
  const loaded = await compileModule('A'.repeat(43), bytes);
  const imports = { env: { abort() { throw new Error('abort'); } } };
  const instance = new WebAssembly.Instance(loaded.module, imports);
  const rawFac = instance.exports.fac as (n: number) => number;

  const engine = rate(() => callFunction(loaded, 'fac', [5]), ms);
  const rawFresh = rate(() => (new WebAssembly.Instance(loaded.module, imports).exports.fac as (n: number) => number)(5), ms);
  const raw = rate(() => rawFac(5), ms);

  const kernel = await compileModule('B'.repeat(43), new Uint8Array(readFileSync(built.kernel)));
  const kernelInstance = new WebAssembly.Instance(kernel.module, imports);
  const rawMatmul = kernelInstance.exports.matmul as (n: number, seed: number) => number;
  const engineMatmul = rate(() => callFunction(kernel, 'matmul', [64, 7]), ms);
  const rawMatmulRate = rate(() => rawMatmul(64, 7), ms);
  return [
    { id: 'engine-fac', name: 'engine call fac(5)', value: engine, unit: 'calls/s', baselineName: 'raw WebAssembly instantiate + call', baseline: rawFresh, better: 'higher' },
    { id: 'engine-fac-live', name: 'engine call fac(5)', value: engine, unit: 'calls/s', baselineName: 'raw call on a live instance', baseline: raw, better: 'higher' },
    { id: 'engine-matmul', name: 'engine call matmul(64)', value: engineMatmul, unit: 'calls/s', baselineName: 'raw call on a live instance', baseline: rawMatmulRate, better: 'higher' },
  ];
}
