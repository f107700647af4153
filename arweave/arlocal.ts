// The embedded Arweave gateway: arlocal, started by the node on loopback with its database in
// the node's data folder, so a node works offline out of the box. It runs in a child process
// (arweave/arlocal-child.mjs, plain Node): its ~1 s of dependencies load beside the node's own,
// and the CPU it spends on every upload is not taken from the node's event loop. The child
// lives as long as the pipe to its stdin, so it stops with the node however the node ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface EmbeddedGateway {
  url: string;
  /** The child process arlocal runs in. */
  pid: number;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./arlocal-child.mjs', import.meta.url));
/**
 * A young generation of 2 MB semi-spaces instead of 16: an idle arlocal then holds ~85 MB instead
 * of ~115 MB (the node's idle footprint counts its whole process tree), for a few more scavenges
 * while it indexes uploads, which no longer run on the node's thread.
 */
const CHILD_FLAGS = ['--max-semi-space-size=2'];
/** How long a stopping arlocal may take to close its database before it is killed. */
const STOP_GRACE_MS = 5_000;

/** Starts arlocal on 127.0.0.1:port (default 1984; 0 picks a free one), data in dir; resolves once it listens. */
export async function startArlocal(options: { dir: string; port?: number }): Promise<EmbeddedGateway> {
  mkdirSync(options.dir, { recursive: true });
  const port = options.port ?? 1984;
  // Only plain Node: NODE_OPTIONS may carry tsx's hooks, which would slow arlocal's load.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(process.execPath, [...CHILD_FLAGS, CHILD, options.dir, String(port)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // A node that stops while its gateway is already gone must not die of EPIPE.
  child.stdin!.on('error', () => {});
  const listening = await new Promise<number>((resolve, reject) => {
    let line = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      line += chunk;
      const end = line.indexOf('\n');
      if (end >= 0) resolve((JSON.parse(line.slice(0, end)) as { port: number }).port);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(stderr.trim() || `arlocal (arweave/arlocal-child.mjs) ${signal ? `was killed (${signal})` : `exited with code ${code}`} before it listened`)));
  });
  // From here on its stderr is the user's to see (arlocal is quiet unless something fails).
  child.stderr!.removeAllListeners('data').on('data', (chunk: string) => process.stderr.write(chunk));
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`arlocal (child process ${child.pid}) exited unexpectedly (${signal ?? `code ${code}`}); the gateway is gone\n`);
  });
  return {
    url: `http://127.0.0.1:${listening}`,
    pid: child.pid!,
    stop: () => {
      stopping = true;
      return stopChild(child);
    },
  };
}

/** Closes the child's stdin (its signal to stop), and kills it if it has not exited after the grace period. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.stdin!.end();
  });
}
