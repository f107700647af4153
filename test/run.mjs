// The test command: typecheck, then every test/*.test.ts under uvu (with tsx), then the
// closing line `N passed, N failed` computed from uvu's totals. Exits non-zero on any failure.
import { spawn } from 'node:child_process';

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    const forward = (stream, target) => stream.on('data', (chunk) => { output += chunk; target.write(chunk); });
    forward(child.stdout, process.stdout);
    forward(child.stderr, process.stderr);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

const pattern = process.argv[2] ?? '\\.test\\.ts$';
let passed = 0;
let failed = 0;
let skipped = 0;

if (!process.env.SKIP_TYPECHECK) {
  console.log('typecheck: tsc --noEmit');
  const tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']);
  if (tsc.code === 0) passed += 1;
  else failed += 1;
}

const uvu = await run(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern, '--no-color']);
const plain = uvu.output.replace(/\x1b\[[0-9;]*m/g, '');
const count = (label) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? NaN);
const total = count('Total');
if (Number.isNaN(total)) {
  failed += 1; // uvu died before printing its totals (a file failed to load)
} else {
  passed += count('Passed');
  skipped += count('Skipped');
  failed += total - count('Passed') - count('Skipped');
  if (uvu.code !== 0 && total - count('Passed') - count('Skipped') === 0) failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
