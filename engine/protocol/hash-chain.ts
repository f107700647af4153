// The scheduler's hash-chain: each slot's link commits to the previous link and to the
// message assigned at the slot, so a schedule cannot be reordered, gapped or edited
// without breaking every later link.
//
//   HC(-1) = empty
//   HC(n)  = sha256(HC(n-1) || native(messageId(n)))        (32-byte values, never text)
//
// Slot 0 holds the process message itself, so HC(0) = sha256(native(processId)). This is
// HyperBEAM's formula without its quirk of hashing the base64 text after a restart.
import { b64url, fromB64url } from './encoding.ts';
import { sha256 } from './hash.ts';

export function nextLink(previous: Uint8Array | undefined, messageId: string): Uint8Array {
  return previous ? sha256(previous, fromB64url(messageId)) : sha256(fromB64url(messageId));
}

/** Recomputes a chain over message IDs in slot order; returns the b64url links. */
export function chain(messageIds: string[]): string[] {
  let link: Uint8Array | undefined;
  return messageIds.map((id) => b64url((link = nextLink(link, id))));
}
