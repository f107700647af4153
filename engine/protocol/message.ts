// Unsigned messages and their content-derived IDs.
//
// An unsigned message is a JSON object. Its ID is SHA-256 over its canonical JSON
// (engine/protocol/encoding.ts), shown as 43 base64url characters. Signed messages (ANS-104 data
// items) carry their own ID, SHA-256 of the signature; see docs/PROTOCOL.md.
import { canonicalJson, utf8 } from './encoding.ts';
import { sha256b64 } from './hash.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Message = { [key: string]: Json };

export function messageId(message: Message): string {
  return sha256b64(utf8(canonicalJson(message)));
}
