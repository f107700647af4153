// The worker side of attest/verify/pool.ts: checks a chunk of raw items, answers checkRaw's
// bits per item (SIGNED, and with `roots` ROOTED). Loaded through tsx by engine/worker-entry.mjs.
import { checkRaw } from './pool.ts';

export const handle = ({ raws, roots }: { raws: Uint8Array[]; roots?: boolean }): Uint8Array => Uint8Array.from(raws, (raw) => checkRaw(raw, roots === true));
