// The test harness itself: its closing line must count a failure next to skips as a failure
// and exit non-zero (it once printed "-9 failed" and exited 0), and a file that throws while
// loading must count as a failure too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tally } from './run.mjs';

const test = suite('harness');

function harness(dir: string, pattern: string) {
  const result = spawnSync(process.execPath, ['test/run.mjs', '--dir', dir, pattern], { encoding: 'utf8', env: { ...process.env, SKIP_TYPECHECK: '1' } });
  const lines = result.stdout.trim().split('\n');
  return { code: result.status, last: lines[lines.length - 1] };
}

test('one pass, one failure, one skip: the closing line says so and the exit code is 1', () => {
  const { code, last } = harness('test/fixtures/harness', '\\.fixture\\.ts$');
  assert.is(last, '1 passed, 1 failed, 1 skipped');
  assert.is(code, 1);
});

test('a test file that throws while loading is a failure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hw-harness-'));
  try {
    writeFileSync(join(dir, 'broken.fixture.ts'), "throw new Error('cannot load');\n");
    const { code, last } = harness(dir, '\\.fixture\\.ts$');
    assert.match(last, /^0 passed, [1-9]\d* failed$/);
    assert.is(code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tally: failed = Total − Passed (skips are not in Total); a non-zero exit is at least one failure', () => {
  assert.equal(tally('Total:     7\nPassed:    6\nSkipped:   10\n', 1), { passed: 6, failed: 1, skipped: 10 });
  assert.equal(tally('Total:     7\nPassed:    7\nSkipped:   10\n', 0), { passed: 7, failed: 0, skipped: 10 });
  assert.equal(tally('Total:     7\nPassed:    7\nSkipped:   0\n', 1), { passed: 7, failed: 1, skipped: 0 });
  assert.equal(tally('Error: boom\n', 1), { passed: 0, failed: 1, skipped: 0 });
});

test.run();
