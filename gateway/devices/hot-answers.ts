// Cached Compute answers kept ready to send. A hashpath's record never changes once stored, so a
// repeated hit can skip the LMDB read and the copy that puts the cache field in front
// (gateway/devices/record.ts): the bytes sent are the ones the first hit sent. One per node
// (two nodes in one process sign different records for the same hashpath), bounded in bytes:
// when full it starts again empty, as the front door's memo does.
import type { FastifyReply } from 'fastify';
import type { ComputeAnswer } from '../../engine/compute.ts';

const HIT_PREFIX = Buffer.from('{"cache":"hit",');
const HIT_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'x-cache': 'hit' } as const;
/** The bytes all of a node's ready answers may hold together. */
const BUDGET = 16 * 1024 * 1024;
/** A larger answer is read from LMDB every time: a few such would crowd out the small ones. */
const LARGEST = 64 * 1024;

export class HotAnswers {
  private readonly ready = new Map<string, Buffer>();
  private bytes = 0;

  /** Sends the hit kept for a hashpath; false when none is kept. */
  send(reply: FastifyReply, hashpath: string): boolean {
    const bytes = this.ready.get(hashpath);
    if (!bytes) return false;
    reply.headers(HIT_HEADERS).send(bytes);
    return true;
  }

  /** Keeps a hit ready, as sendRecord would send it (the record's "{" replaced by the cache field). */
  keep(hashpath: string, answer: ComputeAnswer): void {
    if (answer.cache !== 'hit' || answer.body.length > LARGEST || answer.body[0] !== 0x7b) return;
    const bytes = Buffer.concat([HIT_PREFIX, answer.body.subarray(1)], HIT_PREFIX.length + answer.body.length - 1);
    if (this.bytes + bytes.length > BUDGET) {
      this.ready.clear();
      this.bytes = 0;
    }
    this.ready.set(hashpath, bytes);
    this.bytes += bytes.length;
  }
}

const byNode = new WeakMap<object, HotAnswers>();

/** The node's ready answers. */
export function hotAnswers(node: object): HotAnswers {
  let hot = byNode.get(node);
  if (!hot) byNode.set(node, (hot = new HotAnswers()));
  return hot;
}
