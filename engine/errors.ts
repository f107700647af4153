// Errors that reach a client: each carries the HTTP status a node answers with and a
// message a person can act on. Anything else that escapes is a node fault (500).

export class HyperError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new HyperError(400, 'bad-request', message, details);
export const notFound = (message: string, details?: Record<string, unknown>) => new HyperError(404, 'not-found', message, details);
export const unprocessable = (message: string, details?: Record<string, unknown>) => new HyperError(422, 'unprocessable', message, details);
export const gatewayUnavailable = (message: string, details?: Record<string, unknown>) =>
  new HyperError(503, 'gateway-unavailable', message, { retryAfterSeconds: 5, ...details });

/** A trap raised by the module itself (unreachable, divide by zero, abort, stack overflow, a host import's refusal). */
export class Trap extends Error {}
