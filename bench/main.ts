// `npm run bench`: every figure beside its baseline, measured in this one run.
// Options (environment): BENCH_SECONDS (HTTP load per figure, default 5),
// BENCH_CONNECTIONS (default 10), BENCH_ONLY (comma list of: engine,http).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineFigures } from './engine.ts';
import { httpFigures } from './http.ts';
import { printTable, writeResults, type Figure } from './report.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const only = new Set((process.env.BENCH_ONLY ?? 'engine,http').split(','));
const log = (line: string) => console.error(`[bench] ${line}`);
const dir = mkdtempSync(join(tmpdir(), 'hyperwasm-bench-'));

const figures: Figure[] = [];
try {
  if (only.has('engine')) {
    log('engine calls…');
    figures.push(...(await engineFigures(1000)));
  }
  if (only.has('http')) figures.push(...(await httpFigures({ seconds, connections, dir }, log)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log();
printTable(figures);
console.log(`\nwritten to ${writeResults(figures, { seconds, connections })}`);
