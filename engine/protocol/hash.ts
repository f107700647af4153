// SHA-256 on node:crypto: ~14x faster than @noble/hashes here (see README), and every
// ID, hashpath and result hash goes through it.
import { createHash } from 'node:crypto';
import { b64url } from './encoding.ts';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest().buffer);
}

export const sha256b64 = (...parts: Uint8Array[]): string => b64url(sha256(...parts));
