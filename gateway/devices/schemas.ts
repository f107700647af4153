// Answer shapes more than one device shares. A schema that also serialises an answer lists its
// properties in the order the answer is built (fastify's serialiser writes them in schema
// order, then any others in their own), so the bytes stay those JSON.stringify wrote; objects
// the engine builds stay open (additionalProperties), so no field a client reads is dropped.
import type { Schema } from './device.ts';

export const string = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
export const number = (description?: string): Schema => ({ type: 'number', ...(description ? { description } : {}) });
export const boolean = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
/** An object whose fields are the engine's, documented but never filtered. */
export const open = (description: string, properties: Record<string, Schema> = {}): Schema => ({ type: 'object', description, properties, additionalProperties: true });

export const ID = string('43 base64url characters');

/** A stored result record, sent as its stored bytes with the `cache` field in front. */
export const RECORD: Schema = open('the result record, as stored and attested (docs/PROTOCOL.md §5, §13)', {
  cache: { type: 'string', enum: ['hit', 'miss'] },
  hashpath: string(),
  'result-hash': string(),
  gas: number(),
  attestation: open('the node\'s signed statement about this result'),
});

/** Every error: a code, a message a person can act on, and the error's details. */
export const ERROR: Schema = open('an error (docs/PROTOCOL.md §8): its status comes from its kind (gateway/errors.ts)', {
  error: string('a stable code, e.g. not-found, out-of-gas'),
  message: string('what went wrong and what to do'),
});

/** An assignment as JSON (engine/protocol/assignment.ts assignmentJson), in its own order. */
export const ASSIGNMENT_PROPERTIES: Record<string, Schema> = {
  process: ID,
  slot: { type: 'integer' },
  message: ID,
  'hash-chain': string(),
  timestamp: number('milliseconds since 1970'),
  'block-height': number(),
  assignment: ID,
  signer: string(),
  'assignment-item': string('the signed assignment item, unpadded base64url'),
};
