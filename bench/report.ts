// Benchmark figures: each measured beside its baseline from the same run, printed as a
// table with the ratio and a bar, and written as JSON (and an SVG chart) under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { chartSvg } from './chart.ts';
import { ratio, type Figure } from './figure.ts';

export { ratio, targetRatioOf, type Figure } from './figure.ts';

/** The middle value (the mean of the two middle ones of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median milliseconds of at least `reps` runs (and at least 300 ms of them, up to 50 runs) after one warm-up run. */
export async function medianMs(fn: () => unknown, reps: number): Promise<number> {
  await fn();
  const samples: number[] = [];
  const begin = performance.now();
  for (let i = 0; i < reps || (performance.now() - begin < 300 && i < 50); i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toPrecision(3));

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [f.id, f.name, `${fmt(f.value)} ${f.unit}`, f.baselineName, `${fmt(f.baseline)} ${f.unit}`, `${ratio(f).toFixed(2)}×`, f.target ?? '', bar(f)]);
  const head = ['id', 'figure', 'value', 'baseline', 'baseline value', 'ratio', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** A bar of the ratio, 20 characters for 1.0×, so a glance shows who won. */
function bar(f: Figure): string {
  return '#'.repeat(Math.max(1, Math.min(60, Math.round(ratio(f) * 20))));
}

/** Refuses figures that would make the JSON lie or stop comparing: a repeated or malformed id, a value that is not a positive number. */
export function checkFigures(figures: Figure[]): void {
  const ids = figures.map((f) => f.id);
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (repeated.length > 0) throw new Error(`two figures share an id (${[...new Set(repeated)].join(', ')}): give them different ids`);
  for (const f of figures) {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(f.id)) throw new Error(`figure id ${JSON.stringify(f.id)} (${f.name}) is not lower-case words joined by '-'`);
    for (const [what, n] of [['value', f.value], ['baseline', f.baseline]] as const) {
      if (!Number.isFinite(n) || n <= 0) throw new Error(`figure ${f.id} (${f.name}): ${what} is ${n}; a benchmark that measured nothing must fail, not report it`);
    }
  }
}

/** Writes bench/results/latest.json and latest.svg (the chart); returns the JSON's path. */
export function writeResults(figures: Figure[], extra: Record<string, unknown> = {}): string {
  checkFigures(figures);
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString();
  const report = {
    date,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory: os.totalmem(), node: process.version, platform: `${os.platform()} ${os.arch()}` },
    figures: figures.map((f) => ({ ...f, ratio: ratio(f) })),
    ...extra,
  };
  const file = join(dir, 'latest.json');
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.svg'), chartSvg(figures, `npm run bench, ${date.slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores`));
  return file;
}
