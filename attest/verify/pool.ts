// Signature checks of a whole history, spread over worker threads: a verifier spends most of
// its time in ed25519 verification (two signatures a slot: the message and its assignment),
// and the checks are independent. The answers are the same as verifyDataItem's in order; only
// the wall time changes. Small histories are checked on this thread: starting workers costs more.
import { availableParallelism } from 'node:os';
import { parseDataItem, verifyDataItem } from '../../engine/protocol/ans104/data-item.ts';
import { WorkerLine } from '../../engine/worker.ts';

/** Below this many items the checks stay on this thread. */
export const POOL_THRESHOLD = 1024;

/** Whether each raw item parses and its signature verifies (false for one that does not parse). */
export function verifyRaw(raw: Uint8Array): boolean {
  try {
    return verifyDataItem(parseDataItem(raw));
  } catch {
    return false;
  }
}

/** verifyRaw of every item; `threads` (default: the machine's cores, at most 8) share the work, this one included. */
export async function verifyItems(raws: Uint8Array[], threads = Math.min(8, availableParallelism())): Promise<boolean[]> {
  if (raws.length < POOL_THRESHOLD || threads <= 1) return raws.map(verifyRaw);
  const size = Math.ceil(raws.length / threads);
  const chunks = Array.from({ length: threads }, (_, i) => raws.slice(i * size, (i + 1) * size));
  const [own, ...others] = chunks;
  const pending = others.map(async (chunk) => {
    const line = new WorkerLine<Uint8Array[], Uint8Array>({ module: new URL('./worker.ts', import.meta.url), tsx: true });
    try {
      return Array.from(await line.request(chunk), Boolean);
    } finally {
      void line.close();
    }
  });
  const mine = own.map(verifyRaw);
  return [...mine, ...(await Promise.all(pending)).flat()];
}
