// The embedded arlocal in its child process (arweave/arlocal.ts): it serves, stops when asked,
// refuses a busy port with a clear error, and never outlives its node, even one killed by SIGKILL.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startArlocal } from '../arweave/arlocal.ts';
import { tempDir } from './helpers.ts';

const test = suite('embedded arlocal');

/** Whether pid has exited (gone, or a zombie waiting for its new parent to reap it). */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitExited(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (exited(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return exited(pid);
}

test('arlocal runs in a child process, answers on loopback, and stops when asked', async () => {
  const dir = tempDir();
  try {
    const gateway = await startArlocal({ dir: join(dir.path, 'arlocal'), port: 0 });
    assert.ok(gateway.pid !== process.pid && !exited(gateway.pid), 'a live child process');
    assert.match(gateway.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const info = (await (await fetch(`${gateway.url}/info`)).json()) as { network?: string };
    assert.is(info.network, 'arlocal.N.1');
    await gateway.stop();
    assert.ok(await waitExited(gateway.pid, 5_000), 'the child exited');
    await gateway.stop(); // a second stop is harmless
    const refused = await fetch(`${gateway.url}/info`).then(() => 'answered', () => 'refused');
    assert.is(refused, 'refused');
  } finally {
    dir.remove();
  }
});

test('a busy port is refused with the port and the cause', async () => {
  const dir = tempDir();
  try {
    const first = await startArlocal({ dir: join(dir.path, 'a'), port: 0 });
    const port = Number(new URL(first.url).port);
    try {
      const error = await startArlocal({ dir: join(dir.path, 'b'), port }).then(() => undefined, (e: Error) => e);
      assert.ok(error, 'the second start fails');
      assert.match(error!.message, `arlocal did not start on 127.0.0.1:${port}`);
      assert.match(error!.message, /EADDRINUSE/);
    } finally {
      await first.stop();
    }
  } finally {
    dir.remove();
  }
});

test('a node killed with SIGKILL leaves no arlocal behind', async () => {
  const dir = tempDir();
  try {
    const parent = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/node-stand-in.ts', join(dir.path, 'arlocal')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before arlocal started`)));
    });
    assert.ok(!exited(started.pid), 'arlocal is up');
    parent.kill('SIGKILL');
    assert.ok(await waitExited(started.pid, 10_000), `arlocal (pid ${started.pid}) outlived its parent`);
  } finally {
    dir.remove();
  }
});

test.run();
