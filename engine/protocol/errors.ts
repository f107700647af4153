// Errors that reach a client. Each carries a kind (what went wrong, in the engine's terms), a
// stable code (the `error` field of an answer) and a message a person can act on. The engine
// branches on kinds, never on HTTP statuses: gateway/errors.ts is the one table that maps kinds
// to statuses. Anything else that escapes is a node fault (500).

export type ErrorKind =
  | 'invalid' //          the request is malformed or asks for what cannot be
  | 'unauthenticated' //  it must be signed
  | 'payment-required' // the signer's balance does not cover it
  | 'forbidden' //        signed, but by someone not allowed to
  | 'not-found' //        an unknown ID, function or route
  | 'conflict' //         it contradicts what the node already holds: a replayed or stale sequence number
  | 'refused' //          a module (or a gateway's data) the node will not run or trust
  | 'trap' //             the module trapped while running: its own fault, a deterministic result
  | 'out-of-gas' //       the module used its whole gas budget: also deterministic
  | 'redirect' //         another node schedules this process
  | 'unavailable'; //     not now: a gateway down, a wall-clock guard; try again

export class HyperError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    /** Named `fields`, not `details`: uvu reads an error's `details` as a printable diff and fails on an object. */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new HyperError('invalid', 'bad-request', message, details);
export const notFound = (message: string, details?: Record<string, unknown>) => new HyperError('not-found', 'not-found', message, details);
export const unprocessable = (message: string, details?: Record<string, unknown>) => new HyperError('refused', 'unprocessable', message, details);
/** The module's own fault while it runs (same code as a refusal: clients see one 422 family). */
export const trapped = (message: string, details?: Record<string, unknown>) => new HyperError('trap', 'unprocessable', message, details);
export const gatewayUnavailable = (message: string, details?: Record<string, unknown>) =>
  new HyperError('unavailable', 'gateway-unavailable', message, { retryAfterSeconds: 5, ...details });

/** A result the module itself produced by failing (trap, out of gas, refused): recorded, not retried. */
export const isModuleFault = (error: unknown): error is HyperError =>
  error instanceof HyperError && (error.kind === 'trap' || error.kind === 'out-of-gas' || error.kind === 'refused');

/** A trap raised by the module itself (unreachable, divide by zero, abort, stack overflow, a host import's refusal). */
export class Trap extends Error {}

/** An error as it crosses to another thread: a HyperError as its parts ('internal': any other error). */
export interface WireError {
  kind: ErrorKind | 'internal';
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export function toWire(error: unknown): WireError {
  if (error instanceof HyperError) return { kind: error.kind, code: error.code, message: error.message, details: error.fields };
  return { kind: 'internal', code: 'internal', message: error instanceof Error ? error.message : String(error), details: {} };
}

/** The error a WireError stood for: the same HyperError, or a plain Error for an internal one. */
export function fromWire(wire: WireError): Error {
  return wire.kind === 'internal' ? new Error(wire.message) : new HyperError(wire.kind, wire.code, wire.message, wire.details);
}
