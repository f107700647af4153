// Resident memory of a server once it is idle after start-up: the process and every process
// it started (a compiler in a child process would count), summed from /proc. Sampled until it
// stops moving, after a minimum wait that outlasts the idle timeouts of the node's workers.
import { readFileSync } from 'node:fs';

/** Kilobytes of VmRSS of `pid`, 0 when it has none (exited, or a zombie). */
function rssKb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  return match ? Number(match[1]) : 0;
}

/** `pid` and its descendants, from /proc/<pid>/task/<tid>/children. */
function tree(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readFileSync(`/proc/${found[i]}/task/${found[i]}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      // A kernel without CONFIG_PROC_CHILDREN, or a process gone meanwhile: its own RSS still counts.
    }
    found.push(...tasks.map(Number));
  }
  return found;
}

/** Bytes resident in `pid`'s process tree now. */
export function treeRss(pid: number): number {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      kb += rssKb(p);
    } catch {
      // exited between listing and reading
    }
  }
  return kb * 1024;
}

export interface IdleOptions {
  /** Wait at least this long after start-up before sampling (ms). */
  minMs: number;
  /** Give up waiting for it to settle after this much longer (ms); the last sample is taken. */
  maxMs?: number;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * RSS once idle: after `minMs`, samples every 500 ms until six in a row lie within 2% of each
 * other (three quiet seconds), and returns their median.
 */
export async function idleRss(pid: number, options: IdleOptions): Promise<number> {
  if (process.platform !== 'linux') throw new Error('idle RSS is read from /proc: Linux only');
  await sleep(options.minMs);
  const until = performance.now() + (options.maxMs ?? 30_000);
  const window: number[] = [];
  for (;;) {
    const rss = treeRss(pid);
    if (rss === 0) throw new Error(`process ${pid} has no resident memory: it exited while the bench waited for it to be idle`);
    window.push(rss);
    if (window.length > 6) window.shift();
    const sorted = [...window].sort((a, b) => a - b);
    if ((window.length === 6 && sorted[5] <= sorted[0] * 1.02) || performance.now() > until) return sorted[sorted.length >> 1];
    await sleep(500);
  }
}
