// Real aos modules on hyperwasm against AO's own loader, byte for byte. For every fixture, the
// oracle (@permaweb/ao-loader in its own process, test/ao/oracle.cjs) and `hyperwasm ao-eval`
// read the same history (test/ao/suites.ts: the spawn, then every suite's messages), and every
// output line must be the same text: Output, Messages, Spawns, Assignments, Error in the
// module's own key order, GasUsed where the loader counts gas, the rollback after an error.
// Each suite is its own test, over its own lines.
//
// The oracle is fixed (its inputs are the module, the history's bytes, the format, the limit,
// the oracle script, the loader's and Node's versions), so its outputs are cached under
// .cache/aos/oracle/ by the hash of those; ao-eval runs every time, in a far-off timezone while
// the oracle runs in UTC: the host must not read the machine's clock or zone. The fixtures come
// from scripts/fetch-aos.mjs; without them, or before the ao-eval command exists, the
// comparisons are skipped with the reason printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../cli/commands.ts';
import { FIXTURES, histories, history, REQUIRED_FORMATS, SUITES, toJsonl, WASM32 } from './ao/suites.ts';
import { tempDir } from './helpers.ts';

const test = suite('ao-oracle');
const ROOT = join(import.meta.dirname, '..');
const AOS = join(ROOT, '.cache', 'aos');
const ORACLE = join(ROOT, 'test', 'ao', 'oracle.cjs');
const ORACLE_CACHE = join(AOS, 'oracle');
const version = (pkg: string) => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

interface Run { code: number; stdout: string; stderr: string }

function run(argv: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', (err) => resolve({ code: 1, stdout, stderr: stderr + String(err) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), stdout, stderr }));
  });
}

/** At most `n` children at once: each is a whole Node and a module compile. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((go) => waiting.push(go));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const slot = limiter(Math.max(1, Math.min(2, availableParallelism())));

const missing = FIXTURES.filter((f) => !existsSync(join(AOS, f.file))).map((f) => f.file);
const hasAoEval = COMMANDS.some((c) => c.name === 'ao-eval');
const aoEvalFile = existsSync(join(ROOT, 'cli', 'ao-eval.ts'));

// Until cli/commands.ts lists it, the command module is run as cli/main.ts would run it
// (errors printed as one line, exit 1).
const UNREGISTERED = `
const { parse } = await import('./cli/command.ts');
const mod = await import('./cli/ao-eval.ts');
const command = Object.values(mod).find((v) => v && typeof v === 'object' && v.name === 'ao-eval');
if (!command) { console.error('cli/ao-eval.ts exports no command named ao-eval'); process.exit(2); }
try {
  process.exitCode = (await command.run(parse(command, process.argv.slice(1)))) ?? 0;
} catch (error) {
  console.error('hyperwasm ao-eval: ' + error.message);
  process.exitCode = 1;
}
`;

function evalArgs(module: string, format: string, input: string, computeLimit?: number) {
  return ['--module', module, '--format', format, '--in', input, ...(computeLimit ? ['--compute-limit', String(computeLimit)] : [])];
}

function oracle(module: string, format: string, input: string, computeLimit?: number): Promise<Run> {
  return run(['--experimental-wasm-memory64', ORACLE, ...evalArgs(module, format, input, computeLimit)], { TZ: 'UTC' });
}

/** The oracle's output for these inputs, from the cache when it has run on them before. */
async function oracleCached(module: string, format: string, input: string, computeLimit?: number): Promise<Run> {
  const key = sha256(JSON.stringify([
    sha256(readFileSync(module)), format, computeLimit ?? null, sha256(readFileSync(input)), sha256(readFileSync(ORACLE)),
    version('@permaweb/ao-loader'), version('@permaweb/wasm-metering'), process.version,
  ]));
  const file = join(ORACLE_CACHE, `${key}.out`);
  if (existsSync(file)) return { code: 0, stdout: readFileSync(file, 'utf8'), stderr: '' };
  const result = await oracle(module, format, input, computeLimit);
  if (result.code === 0) {
    mkdirSync(ORACLE_CACHE, { recursive: true });
    writeFileSync(`${file}.part`, result.stdout);
    renameSync(`${file}.part`, file);
  }
  return result;
}

function aoEval(module: string, format: string, input: string, computeLimit?: number): Promise<Run> {
  const args = evalArgs(module, format, input, computeLimit);
  const argv = hasAoEval ? [join(ROOT, 'bin', 'hyperwasm.js'), 'ao-eval', ...args] : ['--import', 'tsx', '--input-type=module', '-e', UNREGISTERED, '--', ...args];
  // The far side of the date line: a host that reads the zone would show it here.
  return run(argv, { TZ: 'Pacific/Kiritimati' });
}

const clip = (text: string | undefined, at = 0) => {
  if (text === undefined) return '(no line)';
  const from = Math.max(0, at - 200);
  return `${from ? '…' : ''}${text.slice(from, from + 600)}${text.length > from + 600 ? '…' : ''}`;
};

/** The same lines [from, to), or a failure showing the first line that differs, around where it does. */
function sameLines(actual: string[], expected: string[], from: number, to: number, what: string) {
  for (let i = from; i < to; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === e) continue;
    let at = 0;
    while (a !== undefined && e !== undefined && a[at] === e[at]) at++;
    assert.unreachable(`${what}: line ${i} (slot ${i}) differs at character ${at}\n  oracle:   ${clip(e, at)}\n  ao-eval:  ${clip(a, at)}`);
  }
}

const skipReason = missing.length
  ? `fixtures missing from .cache/aos (${missing.join(', ')}): run node scripts/fetch-aos.mjs`
  : !hasAoEval && !aoEvalFile ? 'ao-eval not yet available' : '';
if (skipReason) console.log(`ao-oracle: comparisons skipped: ${skipReason}`);

const work = tempDir('hyperwasm-ao-oracle-');

// Every history starts now, both sides, two children at a time; each test waits for its own.
const runs = histories().map((h) => {
  if (skipReason) return { h, both: undefined };
  const input = join(work.path, `${h.name}.jsonl`);
  writeFileSync(input, toJsonl(h.inputs));
  const module = join(AOS, h.fixture.file);
  const expected = slot(() => oracleCached(module, h.format, input, h.computeLimit));
  const actual = slot(() => aoEval(module, h.format, input, h.computeLimit));
  const both = Promise.all([expected, actual]).then(([expected, actual]) => ({
    expected, actual, oracleLines: expected.stdout.split('\n'), evalLines: actual.stdout.split('\n'),
    refused: !REQUIRED_FORMATS.includes(h.format) && actual.code !== 0 && actual.stdout === '',
  }));
  return { h, both };
});

for (const { h, both } of runs) {
  const about = `${h.fixture.file} (${h.fixture.about}) as ${h.format}`;
  const parts = [{ name: 'the spawn (slot 0)', from: 0, to: 1 }, ...h.parts.map((p) => ({ name: p.suite.name, from: p.from, to: p.to }))];
  parts.forEach((part, n) => {
    (skipReason ? test.skip : test)(`${about}: ${part.name} is byte-identical to ao-loader`, async () => {
      const r = await both!;
      assert.is(r.expected.code, 0, `the oracle failed: ${r.expected.stderr.slice(-2000)}`);
      if (n === 0) assert.is(r.oracleLines.filter(Boolean).length, h.inputs.length, 'one oracle line per input');
      if (r.refused) {
        // Optional in issue 13: a host may refuse the -metering formats, but only by naming them.
        assert.ok(r.actual.stderr.includes(h.format), `ao-eval refused ${h.format} without naming it: ${r.actual.stderr.slice(-1000)}`);
        assert.not.match(r.actual.stderr, /\n\s+at /, `ao-eval crashed on ${h.format} instead of refusing it: ${r.actual.stderr.slice(-1000)}`);
        if (n === 0) console.log(`ao-oracle: ${h.format} refused by ao-eval (optional format): ${r.actual.stderr.trim().split('\n').at(-1)}`);
        return;
      }
      assert.is(r.actual.code, 0, `ao-eval exited ${r.actual.code}: ${r.actual.stderr.slice(-2000)}`);
      if (n === 0) assert.is(r.evalLines.filter(Boolean).length, h.inputs.length, 'one ao-eval line per input');
      sameLines(r.evalLines, r.oracleLines, part.from, part.to, `${part.name} on ${h.fixture.file}`);
    });
  });
}

const probe = SUITES.find((s) => s.name === 'state')!;
(missing.length ? test.skip : test)('the oracle itself is deterministic: the same inputs twice give the same bytes', async () => {
  const fixture = FIXTURES.find((f) => f.format === WASM32)!;
  const input = join(work.path, 'determinism.jsonl');
  writeFileSync(input, toJsonl(history(fixture, [probe]).inputs));
  const module = join(AOS, fixture.file);
  const [one, two] = await Promise.all([oracle(module, fixture.format, input), oracle(module, fixture.format, input)]);
  assert.is(one.code, 0, one.stderr);
  assert.is(two.code, 0, two.stderr);
  assert.ok(one.stdout.includes('"data":"2"'), 'the state suite counts to 2');
  assert.is(one.stdout, two.stdout);
});

test.after(() => work.remove());

test.run();
