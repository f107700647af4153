// Hashpaths: the name of a computed state that commits to its whole input history.
//
// Follows HyperBEAM's hb_path:hashpath/2 with its default `sha-256-chain` algorithm:
//   hashpath(base, request) = compress(base) + "/" + requestId(request)
// where a one-part base (a bare ID) is kept as it is, and a two-part base "a/b" is
// compressed to b64url(sha256(native(a) || native(b))). So every hashpath has at most two
// parts: the compressed history, then the last request.
import { fromB64url, b64url, isId, utf8 } from './encoding.ts';
import { sha256 } from './hash.ts';
import { messageId, type Message } from './message.ts';

/** The second part of a hashpath: a bare path key names itself, anything else its ID. */
export function requestId(request: Message): string {
  const keys = Object.keys(request).filter((k) => k !== 'path' && k !== 'hashpath' && k !== 'priv');
  const path = request.path;
  if (keys.length === 0 && typeof path === 'string' && path.length > 0) return path.split('/').filter(Boolean)[0];
  return messageId(request);
}

export function hashpath(base: string, request: Message | string): string {
  const next = typeof request === 'string' ? request : requestId(request);
  const parts = base.split('/').filter(Boolean);
  if (parts.length === 1) return `${parts[0]}/${next}`;
  if (parts.length !== 2) throw new Error(`not a hashpath: ${JSON.stringify(base)}`);
  const [history, last] = parts;
  const compressed = sha256(fromB64url(history), isId(last) ? fromB64url(last) : utf8(last));
  return `${b64url(compressed)}/${next}`;
}
