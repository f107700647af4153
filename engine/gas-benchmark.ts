// How fast this node runs metered code, in gas per second, for its heartbeats (engine/
// heartbeats.ts): a registry's clients compare nodes by it. Measured once at start on a fixed
// module (modules/kernel.ts's `sha256`, metered as the engine meters every module, on this
// thread as a stateless call runs), so that nodes measure the same work the same way. Well
// under a second: the metered bytes are kept in the store, so only a first start instruments.
import { sha256b64 } from './protocol/hash.ts';
import { callFunction } from './wasm/call.ts';
import { compileModule } from './wasm/compile.ts';
import { instrument, METER_VERSION } from './wasm/meter/index.ts';
import type { Store } from './store.ts';

/** The benchmark's function: SHA-256 iterations, about 21 000 gas each. */
export const BENCHMARK_FUNCTION = 'sha256';
/** Measured runs last about this long in all. */
const TARGET_MS = 150;

/**
 * Gas per second of the benchmark module's metered `sha256`, a whole number. `cache` keeps its
 * metered bytes (store.metered) under a key of the module's digest and the meter's version.
 */
export async function measureGasPerSecond(wasm: Uint8Array, options: { cache?: Store['metered'] } = {}): Promise<number> {
  const key = `benchmark:${sha256b64(wasm)}:${METER_VERSION}`;
  let metered = options.cache?.get(key);
  if (!metered) {
    metered = await instrument(wasm);
    await options.cache?.put(key, metered);
  }
  const loaded = await compileModule('gas-benchmark', metered);
  // A warm-up call lets V8 tier the module up; the first measured run sizes the second.
  callFunction(loaded, BENCHMARK_FUNCTION, [200]);
  let iterations = 1_000;
  let rate = 0;
  for (let round = 0; round < 2; round++) {
    const started = performance.now();
    const { gas } = callFunction(loaded, BENCHMARK_FUNCTION, [iterations]);
    const ms = Math.max(performance.now() - started, 0.001);
    rate = (gas / ms) * 1000;
    iterations = Math.min(2 ** 31 - 1, Math.max(1_000, Math.round((iterations * (TARGET_MS * 0.8)) / ms)));
  }
  return Math.round(rate);
}
