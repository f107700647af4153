// Starts the servers a benchmark measures as child processes and waits for their URL.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child { url: string; stdout: string; process: ChildProcess; stop(): Promise<void> }

export function startChild(args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.stdout!.on('data', (c) => {
      stdout += c;
      const match = stdout.match(ready);
      if (match) {
        resolve({
          url: match[1],
          get stdout() { return stdout; },
          process: child,
          stop: () => new Promise((done) => { child.once('close', () => done()); child.kill('SIGTERM'); }),
        });
      }
    });
    child.once('close', (code) => reject(new Error(`${args.join(' ')} exited ${code} before it was ready:\n${stderr}`)));
  });
}
