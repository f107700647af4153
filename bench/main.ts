// `npm run bench`: every figure beside its baseline, measured in this one run.
// Options (environment): BENCH_SECONDS (HTTP load per figure, default 5),
// BENCH_CONNECTIONS (default 10), BENCH_ONLY (comma list of: engine,http,scheduler,process,ao,meter,attest,gpu,model,start,network),
// BENCH_MESSAGES (assignments per scheduling figure, default 5000), BENCH_SLOTS (process slots,
// default 10000), BENCH_VERIFY_SLOTS (messages of the process that attest replays and disputes,
// default 10000), BENCH_SEED (seeds the dispute's divergent slot, default 1), BENCH_IDLE_SECONDS
// (how long the idle-RSS figure waits after the node's start-up before sampling, default 12),
// BENCH_DELIVER_MESSAGES (transfers per cross-node delivery round, default 500), BENCH_PINGPONG_ROUNDS
// (ping-pong round trips across two nodes, and local schedule requests beside them, default 200),
// BENCH_AO_MESSAGES (aos Evals per AO figure, default 200).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineFigures } from './engine.ts';
import { httpFigures } from './http.ts';
import { schedulerFigures } from './scheduler.ts';
import { processFigures } from './process-eval.ts';
import { aoFigures } from './ao.ts';
import { gpuFigures } from './gpu.ts';
import { modelFigures } from './model.ts';
import { meterFigures } from './meter.ts';
import { attestFigures } from './attest.ts';
import { startFigures } from './start.ts';
import { networkFigures } from './network.ts';
import { printTable, writeResults, type Figure } from './report.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const only = new Set((process.env.BENCH_ONLY ?? 'engine,http,scheduler,process,ao,meter,attest,gpu,model,start,network').split(','));
const log = (line: string) => console.error(`[bench] ${line}`);
const dir = mkdtempSync(join(tmpdir(), 'hyperwasm-bench-'));

const figures: Figure[] = [];
try {
  if (only.has('engine')) {
    log('engine calls…');
    figures.push(...(await engineFigures(1000)));
  }
  if (only.has('http')) figures.push(...(await httpFigures({ seconds, connections, dir, idleSeconds: Number(process.env.BENCH_IDLE_SECONDS ?? 12) }, log)));
  if (only.has('scheduler')) figures.push(...(await schedulerFigures(dir, Number(process.env.BENCH_MESSAGES ?? 5000), log)));
  if (only.has('process')) figures.push(...(await processFigures(dir, Number(process.env.BENCH_SLOTS ?? 10_000), log)));
  if (only.has('ao')) figures.push(...(await aoFigures(dir, Number(process.env.BENCH_AO_MESSAGES ?? 200), log)));
  if (only.has('start')) figures.push(...(await startFigures(dir, log)));
  if (only.has('network')) figures.push(...(await networkFigures(dir, log)));
  if (only.has('meter')) figures.push(...(await meterFigures(log)));
  if (only.has('gpu')) figures.push(...(await gpuFigures(log)));
  if (only.has('model')) figures.push(...(await modelFigures(log)));
  if (only.has('attest')) {
    const slots = Number(process.env.BENCH_VERIFY_SLOTS ?? 10_000);
    figures.push(...(await attestFigures({ seconds, connections, dir, slots, seed: Number(process.env.BENCH_SEED ?? 1) }, log)));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log();
printTable(figures);
console.log(`\nwritten to ${writeResults(figures, { seconds, connections })} (and the chart, latest.svg)`);
