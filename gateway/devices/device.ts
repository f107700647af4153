// What a device is, in the manner of HyperBEAM's dev_*.erl modules: a name, and the keys it
// answers, each with what it takes and what it returns. A device is data the registry
// (gateway/devices/index.ts) reads three ways: to dispatch a parsed path, to write the no-route
// help, and to write the OpenAPI document; so the three cannot drift apart.
import type { FastifyReply } from 'fastify';
import { badRequest } from '../../engine/protocol/errors.ts';
import type { NodeContext } from '../context.ts';
import type { Msg, PathMessage } from '../singleton.ts';

export type Method = 'GET' | 'POST';
/** A JSON Schema (the OpenAPI 3.0 subset): documents an answer and, for JSON answers, serialises it. */
export type Schema = { [key: string]: unknown };

/** A key of the request: a query parameter, or equally an inline `&key=value` of the path. */
export interface Param {
  name: string;
  description: string;
  required?: boolean;
  schema?: Schema;
}

export interface Key {
  method: Method;
  /** The key's name: the last segment of the path, matched whatever its case. */
  key: string;
  /** The path as a person types it, `<…>` for what they fill in: `/<module-id>/compute?wasm-function=<name>`. */
  usage: string;
  summary: string;
  params?: Param[];
  /** What a POST's body is (always the raw bytes of one signed ANS-104 data item here). */
  body?: string;
  /** The 200 answer. */
  response: Schema;
  /**
   * Only for a device addressed by an ID: whether this key answers for that ID. A key without
   * it answers for any path that ends in it and no other device took (see the registry).
   */
  claims?(node: NodeContext, id: string): boolean;
  /**
   * Only for a device addressed by name: the key also answers `/~name/key/<id>`, the ID reaching
   * the answer as the last of `messages` (`/~registry@1.0/nodes/<address>`).
   */
  trailingId?: boolean;
  answer(call: Call): unknown;
}

export interface Device {
  /** As written after `~` (`meta@1.0`); for a device addressed by an ID, the name it is documented under. */
  name: string;
  /** `name`: reached as `/~name/key`; `id`: reached as `/<id>/key`, the ID naming a module or a process. */
  address: 'name' | 'id';
  /** One line for the OpenAPI tag: what the device is for. */
  about: string;
  keys: Key[];
}

/** One request, resolved to a key of a device. */
export interface Call {
  node: NodeContext;
  /** The request's messages (gateway/singleton.ts): the base, then one per path segment. */
  messages: PathMessage[];
  base: PathMessage;
  /** The key's own message: its inline keys, with the query's keys under them. */
  last: Msg;
  /** A POST's raw body (absent or empty when none was sent). */
  body: Uint8Array | undefined;
  reply: FastifyReply;
  /** The registry, for the device that describes the others (~meta@1.0/openapi). */
  devices: readonly Device[];
  /** Sends JSON serialised with a response schema (fastify compiles it once). */
  json(value: unknown, schema?: Schema): FastifyReply;
  /** Answers this same URL from now on with `answer`, without parsing it again (the hot Compute path). */
  remember(answer: (reply: FastifyReply) => unknown): void;
}

/** A POST's body as the signed item it must be. */
/** A request body as bytes (the server's one content parser hands every body over as a Buffer). */
export function bodyBytes(body: unknown): Uint8Array | undefined {
  const buffer = body as Buffer | undefined;
  return buffer && new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

export function itemBody(call: Call): Uint8Array {
  if (!call.body || call.body.length === 0) throw badRequest('POST the signed ANS-104 data item as the request body');
  return call.body;
}

/** A whole-number key (`slot`, `from`, `to`, `limit`), from a path or a query. */
export function wholeNumber(value: unknown, name: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${name} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return n;
}
