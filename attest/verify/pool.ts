// Signature checks of a whole history, spread over worker threads: a verifier spends most of
// its time in ed25519 verification (two signatures a slot: the message and its assignment),
// and the checks are independent. The answers are the same as verifyDataItem's in order; only
// the wall time changes. Small histories are checked on this thread: starting workers costs more.
// verifyItems checks a list at once; SignatureStream takes the items as they are fetched, and
// checks attestations' Merkle roots as well, so that a verifier's own thread can replay meanwhile.
import { availableParallelism } from 'node:os';
import { parseDataItem, verifyDataItem } from '../../engine/protocol/ans104/data-item.ts';
import { WorkerLine } from '../../engine/worker.ts';
import { attestationRooted } from './attestation.ts';

/** Below this many items the checks stay on this thread. */
export const POOL_THRESHOLD = 1024;

/** Whether each raw item parses and its signature verifies (false for one that does not parse). */
export function verifyRaw(raw: Uint8Array): boolean {
  return (checkRaw(raw) & SIGNED) !== 0;
}

/** checkRaw's answer: the signature verifies. */
export const SIGNED = 1;
/** checkRaw's answer: an attestation item whose statements hash to its Merkle-Root (attestationRooted). */
export const ROOTED = 2;

/** verifyRaw, and for an attestation item the Merkle check too (its other costly part), as SIGNED | ROOTED bits. */
export function checkRaw(raw: Uint8Array, roots = false): number {
  try {
    const item = parseDataItem(raw);
    return (verifyDataItem(item) ? SIGNED : 0) | (roots && attestationRooted(item) ? ROOTED : 0);
  } catch {
    return 0;
  }
}

/** verifyRaw of every item; `threads` (default: the machine's cores, at most 8) share the work, this one included. */
export async function verifyItems(raws: Uint8Array[], threads = Math.min(8, availableParallelism())): Promise<boolean[]> {
  if (raws.length < POOL_THRESHOLD || threads <= 1) return raws.map(verifyRaw);
  const size = Math.ceil(raws.length / threads);
  const chunks = Array.from({ length: threads }, (_, i) => raws.slice(i * size, (i + 1) * size));
  const [own, ...others] = chunks;
  const pending = others.map(async (chunk) => {
    const line = new WorkerLine<{ raws: Uint8Array[] }, Uint8Array>({ module: new URL('./worker.ts', import.meta.url), tsx: true });
    try {
      return Array.from(await line.request({ raws: chunk }), (code) => (code & SIGNED) !== 0);
    } finally {
      void line.close();
    }
  });
  const mine = own.map(verifyRaw);
  return [...mine, ...(await Promise.all(pending)).flat()];
}

/**
 * Signature checks streamed to worker threads as items arrive, so that they run while this
 * thread does other work (a verifier fetches, then replays): `add` a batch of raw items (a
 * bundle's), read every answer, in `add` order, from `results`. All the checks go to workers
 * (this thread is meant to be busy); below `threshold` items in all they run here instead,
 * at `results`, where starting workers would cost more than it saves.
 */
export class SignatureStream {
  private readonly batches: { raws: Uint8Array[]; answer?: Promise<Uint8Array> }[] = [];
  private lines?: { line: WorkerLine<{ raws: Uint8Array[]; roots: true }, Uint8Array>; pending: number }[];
  private total = 0;
  private closed = false;

  constructor(private readonly threads = Math.min(8, availableParallelism()), private readonly threshold = POOL_THRESHOLD) {}

  add(raws: Uint8Array[]): void {
    if (this.closed) return; // a fetch still in flight when its verification gave up
    this.batches.push({ raws });
    this.total += raws.length;
    if (!this.lines && this.total >= this.threshold && this.threads >= 1) {
      this.lines = Array.from({ length: this.threads }, () => ({ line: new WorkerLine<{ raws: Uint8Array[]; roots: true }, Uint8Array>({ module: new URL('./worker.ts', import.meta.url), tsx: true }), pending: 0 }));
    }
    if (!this.lines) return;
    for (const batch of this.batches) {
      if (batch.answer) continue;
      batch.answer = this.send(batch.raws);
      batch.answer.catch(() => {}); // read (and rethrown) at results(), maybe long after
    }
  }

  /** checkRaw of each added item, in order, attestations' Merkle roots included: whether it verifies, and whether it is rooted. */
  async results(): Promise<{ valid: boolean[]; rooted: boolean[] }> {
    const answers = await Promise.all(this.batches.map((batch) => batch.answer ?? Uint8Array.from(batch.raws, (raw) => checkRaw(raw, true))));
    const codes = answers.flatMap((answer) => Array.from(answer));
    return { valid: codes.map((code) => (code & SIGNED) !== 0), rooted: codes.map((code) => (code & ROOTED) !== 0) };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all((this.lines ?? []).map(({ line }) => line.close()));
    this.lines = undefined;
  }

  /** To the worker with the fewest items pending. */
  private async send(raws: Uint8Array[]): Promise<Uint8Array> {
    const target = this.lines!.reduce((a, b) => (b.pending < a.pending ? b : a));
    target.pending += raws.length;
    try {
      return await target.line.request({ raws, roots: true });
    } finally {
      target.pending -= raws.length;
    }
  }
}
