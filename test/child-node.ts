// `hyperwasm serve` as a child process, as a user starts it, for the tests that SIGKILL nodes
// (test/crash.test.ts, test/network-crash.test.ts), and the seeded PRNG their kill delays come
// from, so a failing run can be replayed.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface ChildNode {
  child: ChildProcess;
  url: string;
  /** The tail of what it wrote to stderr (its log). */
  stderr: () => string;
  exited: Promise<void>;
}

/** Starts `hyperwasm serve --port 0 --data <data> …args`; resolves once it says where it listens. */
export function startChildNode(data: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ChildNode> {
  const child = spawn(process.execPath, ['bin/hyperwasm.js', 'serve', '--port', '0', '--data', data, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', ...env },
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stderr!.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000); // keep draining; keep the tail for messages
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${why}\n--- child stderr ---\n${stderr}\n--- child stdout ---\n${stdout}`));
    };
    const timer = setTimeout(() => fail(`the node on ${data} did not start within ${timeoutMs} ms`), timeoutMs);
    const early = (code: number | null, signal: string | null) => fail(`the node on ${data} exited during start-up (code ${code}, signal ${signal})`);
    child.once('exit', early);
    child.stdout!.on('data', (chunk) => {
      if (stdout.length < 20_000) stdout += chunk;
      const match = stdout.match(/hyperwasm node listening on (http:\/\/\S+)/);
      if (match) {
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume(); // keep draining
        clearTimeout(timer);
        child.off('exit', early);
        resolve({ child, url: match[1]!, stderr: () => stderr, exited });
      }
    });
  });
}

/** SIGKILL, and wait until it is gone (nothing if it already is). */
export async function killHard(node: ChildNode | undefined): Promise<void> {
  if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGKILL');
  await node.exited;
}

/** xorshift32: a tiny seeded PRNG in [0, 1). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
