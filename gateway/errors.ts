// The one table from engine error kinds to HTTP statuses (in the manner of fastify's error
// catalog), and how an error is answered: docs/PROTOCOL.md's status table is this table, and
// gateway/server.ts's one error handler answers through it.
import { HyperError, type ErrorKind } from '../engine/protocol/errors.ts';

export const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  'payment-required': 402,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  refused: 422,
  trap: 422,
  'out-of-gas': 422,
  redirect: 307,
  unavailable: 503,
};

/** The status a node answers an error with: its kind's, else 500 (a node fault). */
export const statusOf = (error: unknown): number => (error instanceof HyperError ? STATUS[error.kind] : 500);

/** How an engine error is answered: its kind's status, its retry and redirect headers, and a body of code, message and details. */
export function errorResponse(error: HyperError): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const headers: Record<string, string> = {};
  const retry = error.fields.retryAfterSeconds;
  if (typeof retry === 'number') headers['retry-after'] = String(retry);
  if (typeof error.fields.location === 'string') headers.location = error.fields.location;
  return { status: statusOf(error), headers, body: { error: error.code, message: error.message, ...error.fields } };
}
