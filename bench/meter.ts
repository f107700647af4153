// Metering figures: the same CPU-heavy kernel calls on the metered module (engine/wasm/meter/index.ts)
// and on the unmetered one, same process, same inputs, warm instances (both on TurboFan
// after the warm-up); the median CPU time of alternated runs. The cost of the pass itself
// (worker start + binaryen load on the first call, then per module) is logged.
//
// Run alone: `node --import tsx bench/meter.ts` (BENCH_REPS sets the repetitions, default 7).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { closeMeter, instrument, METER_VERSION } from '../engine/wasm/meter/index.ts';
import { gasLeft, setGas } from '../engine/wasm/gas.ts';
import { buildModules } from '../modules/tools/build.ts';
import { median, printTable, ratio, type Figure } from './report.ts';

/** The calls measured: tens of milliseconds each on the development machine (matmul(128) takes ~2 ms, so 256). */
export const METER_CALLS: ReadonlyArray<{ fn: 'matmul' | 'sha256' | 'primes'; args: number[] }> = [
  { fn: 'matmul', args: [256, 7] },
  { fn: 'sha256', args: [20000] },
  { fn: 'primes', args: [400000] },
];

const BUDGET = 1n << 62n;


/** CPU time of one call in ms: steadier than wall time on a shared machine (a descheduled thread is not charged). */
function cpuTime(fn: () => unknown): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export async function meterFigures(log: (line: string) => void, reps = Number(process.env.BENCH_REPS ?? 7)): Promise<Figure[]> {
  const built = await buildModules();
  const bytes = new Uint8Array(readFileSync(built.kernel));
  const figures: Figure[] = [];

  // The pass: the first call pays for the worker and binaryen; later ones only for the pass.
  // Logged, not a figure: there is no baseline doing the same work. A worker another figure
  // started is closed first, so the first call is a cold one.
  await closeMeter();
  let started = performance.now();
  const metered = await instrument(bytes);
  const first = performance.now() - started;
  const steadyTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    started = performance.now();
    await instrument(bytes);
    steadyTimes.push(performance.now() - started);
  }
  const textBytes = new Uint8Array(readFileSync(built.text));
  const textTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    started = performance.now();
    await instrument(textBytes);
    textTimes.push(performance.now() - started);
  }
  log(`meter pass (${METER_VERSION}): first call ${first.toFixed(0)} ms (worker start + binaryen load + pass); then, median of 5: ${median(steadyTimes).toFixed(1)} ms for kernel.wasm (${bytes.length} bytes), ${median(textTimes).toFixed(1)} ms for text.wasm (${textBytes.length} bytes)`);

  const imports = { env: { abort() { throw new Error('abort'); } } };
  const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  const meteredInstance = new WebAssembly.Instance(new WebAssembly.Module(metered), imports);
  const plainExports = plain.exports as Record<string, (...args: number[]) => number>;
  const meteredExports = meteredInstance.exports as Record<string, (...args: number[]) => number>;

  for (const { fn, args } of METER_CALLS) {
    const call = `${fn}(${args.join(', ')})`;
    const runPlain = () => plainExports[fn](...args);
    const runMetered = () => {
      setGas(meteredInstance, BUDGET);
      return meteredExports[fn](...args);
    };
    // Warm-up: enough calls for both to be on their optimised tier.
    const expected = runPlain();
    for (let i = 0; i < 3; i++) runPlain();
    for (let i = 0; i < 4; i++) {
      const got = runMetered();
      if (got !== expected) throw new Error(`metered ${call} = ${got}, unmetered ${expected}`);
    }
    const gas = BUDGET - gasLeft(meteredInstance);
    const plainTimes: number[] = [];
    const meteredTimes: number[] = [];
    for (let i = 0; i < reps; i++) {
      // Alternated, so drift (frequency, other load) hits both alike.
      if (i % 2) {
        plainTimes.push(cpuTime(runPlain));
        meteredTimes.push(cpuTime(runMetered));
      } else {
        meteredTimes.push(cpuTime(runMetered));
        plainTimes.push(cpuTime(runPlain));
      }
    }
    const value = median(meteredTimes);
    const baseline = median(plainTimes);
    log(`${call}: metered ${value.toFixed(2)} ms, unmetered ${baseline.toFixed(2)} ms (${(value / baseline).toFixed(3)}×), ${gas} gas`);
    figures.push({ id: `meter-${fn}`, name: `metered kernel ${call} (CPU time)`, value, unit: 'ms', baselineName: 'the same call unmetered', baseline, better: 'lower', target: '≤ 1.15×' });
  }
  await closeMeter();
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await meterFigures((line) => console.error(`[bench] ${line}`));
  console.log();
  printTable(figures);
  const worst = Math.max(...figures.filter((f) => f.target).map(ratio));
  console.log(`\nworst metered/unmetered ratio: ${worst.toFixed(3)}×`);
}
