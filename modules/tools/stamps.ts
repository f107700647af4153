// Whether a built file is up to date, by content instead of by clock: beside each output a
// stamp (<output>.json) records the SHA-256 of the sources it was built from and of the output
// itself. A file is fresh when its sources hash to the stamp's value and its bytes to the stamp's
// digest, so a checkout that touches every mtime rebuilds nothing, an edit undone is noticed, and
// a half-written or foreign output is never taken for a build. Checking is a few small reads.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

interface Stamp {
  sources: string;
  sha256: string;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The hash of the files' paths (relative to root, so any checkout agrees) and contents, in the order given, and of extra strings (tool versions). */
export function hashSources(root: string, files: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash('sha256');
  for (const value of extra) hash.update(`${value}\0`);
  for (const file of files) hash.update(`${relative(root, file)}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const stampPath = (output: string) => `${output}.json`;

/**
 * True when output was built from sources that hash to `sources`. An output from before stamps
 * existed (no stamp, newer than every source file: the rule this replaced) is adopted once.
 */
export function isFresh(output: string, sources: string, files: readonly string[]): boolean {
  if (!existsSync(output)) return false;
  let stamp: Stamp | undefined;
  try {
    stamp = JSON.parse(readFileSync(stampPath(output), 'utf8')) as Stamp;
  } catch {
    stamp = undefined;
  }
  if (stamp) return stamp.sources === sources && stamp.sha256 === sha256(readFileSync(output));
  const built = statSync(output).mtimeMs;
  if (files.some((file) => statSync(file).mtimeMs > built)) return false;
  writeStamp(output, sources);
  return true;
}

/** Records that output (as it is now on disk) was built from sources hashing to `sources`; written aside and renamed. */
export function writeStamp(output: string, sources: string): void {
  const stamp: Stamp = { sources, sha256: sha256(readFileSync(output)) };
  const tmp = `${stampPath(output)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(stamp)}\n`);
  renameSync(tmp, stampPath(output));
}
