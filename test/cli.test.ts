// The CLI starts fast: commands load only when they run, the command list matches each
// command's own name and summary, the client commands reach no server code (no gateway/
// file, no LMDB, fastify or arlocal) through their imports, and --version needs no loader.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { COMMANDS } from '../cli/commands.ts';

const test = suite('cli');
const ROOT = join(import.meta.dirname, '..');

test('the command list agrees with every command it loads', async () => {
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.is(command.name, entry.name);
    assert.is(command.summary, entry.summary, entry.name);
  }
});

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/**
 * Every project file and package a file loads, transitively: type-only imports load nothing,
 * and import() calls count only with `dynamic` (they run when a command does).
 */
function closure(start: string, dynamic: boolean): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(IMPORT)) {
      if (m[1] || (m[3] && !dynamic)) continue;
      const spec = m[2] ?? m[3];
      if (spec.startsWith('.')) visit(normalize(join(dirname(file), spec)));
      else packages.add(spec);
    }
  };
  visit(start);
  return { files: [...files], packages: [...packages] };
}

const SERVER_PACKAGES = ['lmdb', 'fastify', 'arlocal', '@fastify/swagger'];

test('client commands import no server code', () => {
  for (const file of ['cli/compute.ts', 'cli/process.ts', 'cli/upload.ts', 'cli/model.ts']) {
    const { files, packages } = closure(file, true);
    assert.equal(files.filter((f) => f.startsWith('gateway/')), [], `${file} reaches the gateway`);
    assert.equal(packages.filter((p) => SERVER_PACKAGES.includes(p)), [], `${file} loads a server package`);
  }
});

test('starting the CLI loads no command: only the list, the parser and the version', () => {
  const { files } = closure('cli/main.ts', false);
  assert.equal(files.filter((f) => f.startsWith('cli/')).sort(), ['cli/command.ts', 'cli/commands.ts', 'cli/main.ts']);
  assert.equal(files.filter((f) => f.startsWith('gateway/')), ['gateway/version.ts']);
});

test('--version (answered before the TypeScript loader) and --help (which loads no command)', () => {
  const run = (...args: string[]) => execFileSync(process.execPath, [join(ROOT, 'bin/hyperwasm.js'), ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.is(run('--version'), `${version}\n`);
  assert.is(run('-v'), `${version}\n`);
  const help = run('--help');
  assert.ok(help.startsWith(`hyperwasm ${version}: `));
  for (const entry of COMMANDS) assert.ok(help.includes(`  ${entry.name.padEnd(9)} ${entry.summary}\n`), entry.name);
});

test.run();
