// A stored result record goes out as the bytes LMDB holds, never re-encoded: the record starts
// with "{", so the cache field is written in front of it instead. Used by the Compute and
// process devices and by the front door's memo of repeated Compute URLs.
import type { FastifyReply } from 'fastify';
import type { ComputeAnswer } from '../../engine/compute.ts';

const CACHE_FIELD = { hit: Buffer.from('{"cache":"hit",'), miss: Buffer.from('{"cache":"miss",') };

export function sendRecord(reply: FastifyReply, answer: ComputeAnswer): FastifyReply {
  const prefix = CACHE_FIELD[answer.cache];
  return reply
    .headers({ 'content-type': 'application/json; charset=utf-8', 'x-cache': answer.cache })
    .send(Buffer.concat([prefix, answer.body.subarray(1)], prefix.length + answer.body.length - 1));
}
