// How long `hyperwasm serve` takes to listen, beside the CLI's own floor in the same run: Node,
// tsx's loader and the command table (`hyperwasm help`), which no start can go below. The data
// folder is fresh for the first start (the node key, the RSA-4096 wallet, the example uploads)
// and reused for the next ones; modules/build is left as it is (a bench must not rebuild the
// tree's modules), so a start that has to compile them is not measured here.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startChild } from './children.ts';
import { median, type Figure } from './report.ts';

const ROUNDS = 3;
/** The goal for a second start (#11: "a second `npm start` takes ≤ 3 s"). */
const SECOND_GOAL_MS = 3_000;

/** Milliseconds until `node bin/hyperwasm.js <args>` exits 0. */
function timeExit(args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

/** Milliseconds until a serve on `data` says where it listens; stopped (SIGTERM) before it resolves. */
async function timeServe(data: string): Promise<number> {
  const started = performance.now();
  const node = await startChild(['bin/hyperwasm.js', 'serve', '--port', '0', '--arlocal-port', '0', '--data', data], /listening on (\S+)/);
  const ms = performance.now() - started;
  await node.stop();
  return ms;
}

export async function startFigures(dir: string, log: (line: string) => void): Promise<Figure[]> {
  const data = join(dir, 'start-data');
  log('start-up: a first serve on a fresh data folder…');
  const fresh = await timeServe(data);
  const floors: number[] = [];
  const seconds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    log(`start-up: round ${round + 1} of ${ROUNDS} (the CLI's floor, then a second serve)…`);
    floors.push(await timeExit(['bin/hyperwasm.js', 'help']));
    seconds.push(await timeServe(data));
  }
  const floor = median(floors);
  const baselineName = "the CLI's floor: node + tsx's loader + the command table (`hyperwasm help`)";
  return [
    { id: 'start-second', name: 'second `hyperwasm serve` until it listens (modules built, data folder reused)', value: median(seconds), unit: 'ms', baselineName, baseline: floor, better: 'lower', target: `≤ ${SECOND_GOAL_MS / 1000} s`, targetRatio: SECOND_GOAL_MS / floor },
    { id: 'start-fresh-data', name: 'first `hyperwasm serve` on a fresh data folder (key, wallet, example uploads; modules built)', value: fresh, unit: 'ms', baselineName, baseline: floor, better: 'lower' },
  ];
}
