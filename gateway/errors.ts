// The one table from engine error kinds to HTTP statuses (in the manner of fastify's error
// catalog): docs/PROTOCOL.md's status table is this table.
import { HyperError, type ErrorKind } from '../engine/protocol/errors.ts';

export const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  'payment-required': 402,
  forbidden: 403,
  'not-found': 404,
  refused: 422,
  trap: 422,
  'out-of-gas': 422,
  redirect: 307,
  unavailable: 503,
};

/** The status a node answers an error with: its kind's, else 500 (a node fault). */
export const statusOf = (error: unknown): number => (error instanceof HyperError ? STATUS[error.kind] : 500);
