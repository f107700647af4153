// Benchmark figures: each measured beside its baseline from the same run, printed as a
// table with the ratio and a bar, and written as JSON under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baselineName: string;
  baseline: number;
  /** 'higher' when more is better (throughput), 'lower' for times. */
  better: 'higher' | 'lower';
  /** A target ratio (value / baseline) from PRODUCT.md, if there is one. */
  target?: string;
}

export const ratio = (f: Figure) => f.value / f.baseline;

const slug = (text: string) => text.replace(/\[[^\]]*\]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/**
 * A figure's stable id in bench/results/latest.json: its name and its baseline's, without the
 * machine-specific parts in brackets (the GPU adapter), so runs on different machines compare.
 */
export const figureId = (f: Figure) => `${slug(f.name)}.vs.${slug(f.baselineName)}`;

/** The middle value (the upper middle of an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

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
  const rows = figures.map((f) => [f.name, `${fmt(f.value)} ${f.unit}`, f.baselineName, `${fmt(f.baseline)} ${f.unit}`, `${ratio(f).toFixed(2)}×`, f.target ?? '', bar(f)]);
  const head = ['figure', 'value', 'baseline', 'baseline value', 'ratio', 'target', ''];
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

export function writeResults(figures: Figure[], extra: Record<string, unknown> = {}): string {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const ids = figures.map(figureId);
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (repeated.length > 0) throw new Error(`two figures share an id (${repeated.join(', ')}): give them different names or baselines`);
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory: os.totalmem(), node: process.version, platform: `${os.platform()} ${os.arch()}` },
    figures: figures.map((f, i) => ({ id: ids[i], ...f, ratio: ratio(f) })),
    ...extra,
  };
  const file = join(dir, 'latest.json');
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}
