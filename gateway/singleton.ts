// HTTP request → AO-Core message list: a port of the grammar of HyperBEAM's
// `hb_singleton:from` (src/hb_singleton.erl). The gateway calls `parse` on every
// request; every malformed input throws a SingletonError (HTTP 400) whose message
// names the problem and the offending text.
//
// Deliberate deviations from HyperBEAM (edge @ 3635c5e6):
// - An ID is exactly 43 base64url characters, not any 32/42/43-byte segment.
// - Segments are percent-decoded once, piece by piece after the structure of the
//   segment is known, so `%2F`, `%26`, `%7E` and `%28` are always literal text.
// - Segments split only at `&` and `~`; a `+` or space in a path stays in the path.
// - A device must look like `name@version`; `~(…)` devices are rejected.
// - Integers must be safe JS integers; floats must be finite.
// - A key addressed to a message that cannot take keys (an ID, a sub-path, or a
//   `~device` message with a path) is an error rather than silently dropped.
// - Inline keys win over global and scoped keys for their message.
// The `+list` and `+map` texts are RFC 8941 structured fields (gateway/structured-fields.ts).
import { FieldError, isToken, parseDictionary, parseList, type BareItem } from './structured-fields.ts';

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value } | Resolve;
export type Msg = { [key: string]: Value };
export type Resolve = { resolve: PathMessage[] };
export type As = { as: [string, Msg] };
export type PathMessage = string /* an ID */ | Msg | Resolve | As;

export class SingletonError extends Error {
  status = 400;
  override name = 'SingletonError';
}

const MAX_SEGMENT_BYTES = 512;
const ID = /^[A-Za-z0-9_-]{43}$/;
const DEVICE = /^[a-z0-9\-_.]+@[0-9.]+$/;
const TYPES: readonly string[] = ['integer', 'float', 'atom', 'list', 'map', 'resolve'];
const TYPE_HINT = '(use integer, float, atom, list, map or resolve)';
const utf8 = new TextEncoder();

// What a segment parses to, before global and scoped keys are known. Tagged, so
// that a message with a key named `resolve` or `as` is never mistaken for one.
export type Segment =
  | { kind: 'id'; id: string }
  | { kind: 'resolve'; messages: PathMessage[] }
  | { kind: 'msg'; keys: Msg }
  | { kind: 'as'; device: string; path: string; keys: Msg };

export function parse(request: Record<string, string>): PathMessage[] {
  const plain = plainPath(request);
  if (plain) return plain;
  const uri = request.path ?? '';
  const q = uri.indexOf('?');
  const segments = pathSegments(q < 0 ? uri : uri.slice(0, q));

  // The query is merged over the other request keys; all of them are global.
  const fields: Record<string, string | true> = {};
  for (const [key, value] of Object.entries(request)) if (key !== 'path') put(fields, key, value);
  for (const [key, value] of queryPairs(q < 0 ? '' : uri.slice(q + 1))) put(fields, key, value);

  const globals: Msg = {};
  const scoped: Msg[] = segments.map(() => ({}));
  for (const [key, raw] of Object.entries(fields)) {
    const { scope, name } = splitScope(key);
    const [typedName, value] = typedKey(name, raw);
    put(scope === undefined ? globals : scoped[scopeTarget(scope, key, segments)], typedName, value);
  }
  return segments.map((segment, i) => build(segment, { ...globals, ...scoped[i] }));
}

// The shape of nearly every Compute GET, `/<ID>/<key>?k=v&…` with plain keys and values, read
// in one pass: what the grammar below makes of it (an ID, then one message of the request's
// method, the query keys in order and the path), without its per-segment and per-key passes.
// Anything it does not cover exactly (a '%', '+' or space, a typed or scoped key, parentheses,
// another segment, an empty key) returns undefined and goes the general way, so errors are
// the grammar's. test/singleton.test.ts checks both ways agree.
const PLAIN = /^[A-Za-z0-9_-]+$/;

function plainPath(request: Record<string, string>): PathMessage[] | undefined {
  const uri = request.path;
  const method = request.method;
  let keys = 0;
  for (const _ in request) keys++;
  if (uri === undefined || method === undefined || keys !== 2 || uri.charCodeAt(0) !== 0x2f || uri.charCodeAt(44) !== 0x2f) return undefined;
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  const id = path.slice(1, 44);
  const key = path.slice(45);
  if (!ID.test(id) || key.length > MAX_SEGMENT_BYTES || !PLAIN.test(key) || ID.test(key)) return undefined;
  const msg: Msg = {};
  put(msg, 'method', method);
  if (q >= 0) {
    for (const part of uri.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      if (!PLAIN.test(name)) return undefined;
      if (eq < 0) {
        put<Value>(msg, name, true);
        continue;
      }
      const value = part.slice(eq + 1);
      if (value.includes('%') || value.includes('+')) return undefined;
      put<Value>(msg, name, value);
    }
  }
  put<Value>(msg, 'path', key);
  return [id, msg];
}

// A sub-path is a path of its own: its own implicit base, and no global keys.
function messagesOf(path: string): PathMessage[] {
  return pathSegments(path).map((segment) => build(segment, {}));
}

function build(segment: Segment, shared: Msg): PathMessage {
  switch (segment.kind) {
    case 'id':
      return segment.id;
    case 'resolve':
      return { resolve: segment.messages };
    case 'msg':
      return { ...shared, ...segment.keys };
    case 'as':
      // `~dev@1.0` alone only switches the device of the message in hand, so it is
      // that message and takes the keys; `X~dev@1.0` loads X and passes through.
      return {
        as: [segment.device, segment.path === '' ? { ...shared, ...segment.keys } : { ...segment.keys, path: segment.path }],
      };
  }
}

function pathSegments(path: string): Segment[] {
  const segments = splitTop(path, '/')
    .filter((segment) => segment !== '')
    .map(readSegment);
  const first = segments[0];
  return first !== undefined && first.kind !== 'msg' ? segments : [{ kind: 'msg', keys: {} }, ...segments];
}

function readSegment(raw: string): Segment {
  const bytes = utf8.encode(raw).length;
  if (bytes > MAX_SEGMENT_BYTES) {
    throw new SingletonError(
      `segment of ${bytes} bytes exceeds the ${MAX_SEGMENT_BYTES}-byte limit ("${raw.slice(0, 24)}…")`,
    );
  }
  if (!balanced(raw)) throw new SingletonError(`unbalanced parentheses in segment "${raw}"`);
  const where = `segment "${raw}"`;
  const whole = unescape(raw, where); // also rejects bad encoding anywhere in the segment
  if (ID.test(whole)) return { kind: 'id', id: whole };
  if (isWrapped(raw)) return { kind: 'resolve', messages: messagesOf(raw.slice(1, -1)) };

  let cut = findTop(raw, '&~', 0);
  const path = unescape(raw.slice(0, cut), where);
  let device: string | undefined;
  if (raw[cut] === '~') {
    const end = findTop(raw, '&', cut + 1);
    device = unescape(raw.slice(cut + 1, end), where);
    if (!DEVICE.test(device)) {
      throw new SingletonError(`invalid device "${device}" in ${where}: expected name@version, e.g. process@1.0`);
    }
    cut = end;
  }
  const keys = inlineKeys(raw.slice(cut + 1), raw);
  if (device !== undefined) return { kind: 'as', device, path, keys };
  return { kind: 'msg', keys: path === '' ? keys : { ...keys, path } };
}

// `k=v&k2&k3=(sub/path)`: the keys that follow a segment's path or device.
function inlineKeys(text: string, segment: string): Msg {
  const where = `segment "${segment}"`;
  const keys: Msg = {};
  for (const part of splitTop(text, '&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = unescape(eq < 0 ? part : part.slice(0, eq), where);
    if (key === '') throw new SingletonError(`empty key in ${where}`);
    const raw = eq < 0 ? undefined : part.slice(eq + 1);
    const value: Value =
      raw === undefined ? true : isWrapped(raw) ? { resolve: messagesOf(raw.slice(1, -1)) } : unescape(raw, where);
    put(keys, ...typedKey(key, value));
  }
  return keys;
}

// Form decoding, as cowboy_req:parse_qs does it: `+` is a space, then %XX.
function queryPairs(query: string): [string, string | true][] {
  const pairs: [string, string | true][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const where = `query parameter "${part}"`;
    const form = (text: string) => unescape(text.replace(/\+/g, ' '), where);
    const eq = part.indexOf('=');
    const key = form(eq < 0 ? part : part.slice(0, eq));
    if (key === '') throw new SingletonError(`empty key in ${where}`);
    pairs.push([key, eq < 0 ? true : form(part.slice(eq + 1))]);
  }
  return pairs;
}

// `N.key` addresses message N; keys with no dot or two or more dots are global.
function splitScope(key: string): { scope?: number; name: string } {
  const parts = key.split('.');
  if (parts.length !== 2) return { name: key };
  const [prefix, name] = parts as [string, string];
  if (!/^[0-9]+$/.test(prefix) || Number(prefix) < 1) {
    throw new SingletonError(
      `invalid scope "${key}": the part before "." must be a slot number (1 is the first message after the base)`,
    );
  }
  if (name === '') throw new SingletonError(`invalid scope "${key}": no key after "."`);
  return { scope: Number(prefix), name };
}

function scopeTarget(scope: number, key: string, segments: Segment[]): number {
  const segment = segments[scope];
  if (segment === undefined) {
    throw new SingletonError(
      `scope ${scope} in key "${key}" is beyond the last message (the path has ${segments.length - 1} after the base)`,
    );
  }
  const what =
    segment.kind === 'id' ? 'an ID'
    : segment.kind === 'resolve' ? 'a (…) sub-path'
    : segment.kind === 'as' && segment.path !== '' ? `a ~${segment.device} message with a path`
    : undefined;
  if (what) throw new SingletonError(`scope ${scope} in key "${key}" names ${what}, which cannot take keys`);
  return scope;
}

// `name+type` or `name type` (a query's `+` arrives as a space).
function typedKey(key: string, value: Value): [string, Value] {
  const at = key.search(/[+ ]/);
  if (at < 0) return [key, value];
  const name = key.slice(0, at);
  const type = key.slice(at + 1);
  const shown = `${name}+${type}`;
  if (name === '') throw new SingletonError(`key "${shown}" has a type but no name`);
  if (!TYPES.includes(type)) throw new SingletonError(`unknown type "${type}" in key "${shown}" ${TYPE_HINT}`);
  if (value === true) throw new SingletonError(`typed key "${shown}" has no value (write ${shown}=…)`);
  if (typeof value !== 'string') {
    if (type === 'resolve') return [name, value]; // already a (…) sub-path
    throw new SingletonError(`key "${shown}" has a (…) sub-path value, which only +resolve can take`);
  }
  if (type === 'resolve') return [name, { resolve: messagesOf(value) }];
  try {
    return [name, decodeTyped(type, value)];
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    throw new SingletonError(`invalid ${type} value "${value}" for key "${shown}": ${e.message}`);
  }
}

function decodeTyped(type: string, text: string): Value {
  switch (type) {
    case 'integer':
      return integer(text);
    case 'float':
      return float(text);
    case 'atom':
      return atom(text);
    case 'list':
      return parseList(text, bareValue);
    default: {
      const map: Msg = {};
      for (const [key, value] of parseDictionary(text, bareValue)) put(map, key, value);
      return map;
    }
  }
}

// ---- scalar decoders ---------------------------------------------------------

function integer(text: string): number {
  if (!/^[+-]?[0-9]+$/.test(text)) throw new FieldError('not a whole number');
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new FieldError(`beyond ±${Number.MAX_SAFE_INTEGER}`);
  return n;
}

// Erlang's binary_to_float wants digits on both sides of a ".".
function float(text: string): number {
  if (!/^[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?$/.test(text)) {
    throw new FieldError('not a float (write it with a ".", e.g. 1.0 or -2.5e3)');
  }
  const n = Number(text);
  if (!Number.isFinite(n)) throw new FieldError('out of range');
  return n;
}

function atom(text: string): Value {
  if (!isToken(text)) throw new FieldError('not an RFC 8941 token');
  return text === 'true' ? true : text === 'false' ? false : text === 'null' ? null : text;
}

// What an RFC 8941 item means in AO-Core: a token is an atom, and a string item
// `"(ao-type-integer) 1"` is how AO-Core encodes a typed list item.
function bareValue(item: BareItem): Value {
  return item.type === 'string' ? aoTyped(item.value) : item.type === 'token' ? atom(item.value) : item.value;
}

function aoTyped(text: string): Value {
  const m = /^\(ao-type-(integer|float|atom)\) (.*)$/s.exec(text);
  if (!m) return text;
  const [, type, body] = m as unknown as [string, string, string];
  try {
    return type === 'integer' ? integer(body) : type === 'float' ? float(body) : atom(body);
  } catch (e) {
    throw new FieldError(`item "${text}": ${(e as Error).message}`);
  }
}

// ---- text helpers ------------------------------------------------------------

// Define rather than assign, so a key named `__proto__` is an ordinary key.
function put<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function unescape(text: string, where: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new SingletonError(`malformed percent-encoding in ${where}`);
  }
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const c of text) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

// Split on `sep`, but never inside `( … )`.
function splitTop(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth <= 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

// Index of the first of `chars` outside `( … )`, or text.length.
function findTop(text: string, chars: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && chars.includes(c)) return i;
  }
  return text.length;
}

// `(…)` whose opening parenthesis closes at the very end, so `(a)(b)` is not one.
function isWrapped(text: string): boolean {
  if (!text.startsWith('(')) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i === text.length - 1;
  }
  return false;
}
