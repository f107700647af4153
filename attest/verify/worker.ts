// The worker side of attest/verify/pool.ts: checks a chunk of raw items, answers 1/0 per item.
// Loaded through tsx by engine/worker-entry.mjs.
import { verifyRaw } from './pool.ts';

export const handle = (raws: Uint8Array[]): Uint8Array => Uint8Array.from(raws, (raw) => (verifyRaw(raw) ? 1 : 0));
