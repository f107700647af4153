// Shared by the tests: temporary folders, a real node on loopback with its embedded
// arlocal, and the CLI run as a user would run it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startNode, type NodeOptions, type RunningNode } from '../gateway/node.ts';

export function tempDir(prefix = 'hyperwasm-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A node on free loopback ports, quiet, without example uploads unless asked, and without eager
 * evaluation unless asked: most tests count folds, cache misses and attestation batches, which
 * a node folding in the background would change under them (test/net.ts turns it on).
 */
export function testNode(data: string, options: Partial<NodeOptions> = {}): Promise<RunningNode> {
  return startNode({ data, port: 0, arlocalPort: 0, examples: false, eager: false, log: () => {}, ...options });
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs bin/hyperwasm.js with a private config folder (so dev wallets stay in the test's temp dir). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/hyperwasm.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json(), headers: response.headers };
}
