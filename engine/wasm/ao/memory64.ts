// Node 20 (V8 11.3) compiles memory64 modules — the wasm64 aos builds — only behind V8's
// `--experimental-wasm-memory64`. A Worker may not be given that flag (ERR_WORKER_INVALID_EXEC_ARGV),
// but V8's flags are process-wide: set here before the first compile, they also hold in every
// worker thread started later (test/ao-host.test.ts checks that). Node 22+ knows memory64 without
// it, where setting the flag is harmless.
import { setFlagsFromString } from 'node:v8';

let enabled = false;

/** Lets V8 compile memory64 modules from now on; idempotent. Call before any module is compiled. */
export function enableMemory64(): void {
  if (enabled) return;
  setFlagsFromString('--experimental-wasm-memory64');
  enabled = true;
}
