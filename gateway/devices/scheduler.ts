// ~scheduler@1.0: the node as a process's scheduler (docs/PROTOCOL.md §9-§12), in the manner
// of HyperBEAM's dev_scheduler.
//
//   POST /~scheduler@1.0/schedule   body: a signed data item (a Process spawn or a Message)
//        Assumes the item is signed and tagged as §10-§11 require, and that this node schedules
//        its process (else 307 to the scheduler that does). Returns the signed assignment:
//        process, slot, message, hash-chain, timestamp, block-height, the assignment's ID, its
//        signer and the assignment item. Side effects: appends the item to the process's
//        schedule and queues the message and its assignment for publication.
//   POST /~scheduler@1.0/schedule?cost-only
//        Returns the gas the message would use against the state at the latest slot, and its
//        gas limit. Side effects: none (nothing is scheduled, signed or charged).
//   POST /~scheduler@1.0/push   body: an ANS-104 bundle: one or more pushed messages (§21) of
//        one link, in order, then the spawn item of the process they come from. Assumes all
//        are signed, the messages by the scheduler the spawn names, and that this node
//        schedules their target (else 307, with the target scheduler's location record when
//        known). Returns the assignment (several: {assignments: […]} in order), the same for
//        every retry of an entry. Side effects: as schedule.
//   GET  /~scheduler@1.0/slot?target=<process-id>
//        Returns the latest slot, its hash-chain and timestamp, the block height and this
//        scheduler's address. No side effects; an unknown process is 404.
//   GET  /~scheduler@1.0/schedule?target=<process-id>&from=<n>&to=<n>&limit=<n>
//        Returns the assignments from slot `from` to `to` (inclusive, default the whole
//        schedule) with their message items, at most 1000 a page; `continues` and `next` say
//        where the next page starts. No side effects; an unknown process is 404.
import { badRequest, HyperError, notFound } from '../../engine/protocol/errors.ts';
import { b64url, isId } from '../../engine/protocol/encoding.ts';
import { assignmentJson } from '../../engine/protocol/assignment.ts';
import { readSigned } from '../../engine/scheduler.ts';
import { BundleError, decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import type { NodeContext } from '../context.ts';
import type { Msg } from '../singleton.ts';
import { itemBody, wholeNumber, type Device, type Param, type Schema } from './device.ts';
import { ASSIGNMENT_PROPERTIES, ID, boolean, number, open, string } from './schemas.ts';

const MAX_PAGE = 1000;
/** Pushed messages in one push (a deliverer sends at most 64, engine/delivery/deliverer.ts MAX_PUSH). */
const MAX_PUSHED = 256;

const TARGET: Param = { name: 'target', description: 'the process ID', required: true };
const whole = (name: string, description: string): Param => ({ name, description, schema: { type: 'integer', minimum: 0 } });

const ASSIGNMENT: Schema = { type: 'object', description: 'a signed assignment', properties: ASSIGNMENT_PROPERTIES, additionalProperties: true };
// Only `process` is listed: the estimate's own fields follow in their order.
const ESTIMATE: Schema = open('the gas the message would use against the state at the latest slot: slot, gas, gas-limit, error (if it would fail), exact (what the estimate holds against), charged (false)', { process: ID });
const PUSHED: Schema = { type: 'object', description: 'the assignments of several pushed messages, in bundle order', properties: { assignments: { type: 'array', items: ASSIGNMENT } } };
const SLOT: Schema = {
  type: 'object',
  properties: { process: ID, current: { type: 'integer' }, 'hash-chain': string(), timestamp: number(), 'block-height': number(), scheduler: string('this scheduler\'s address') },
};
const PAGE: Schema = {
  type: 'object',
  properties: {
    process: ID,
    from: { type: 'integer' },
    to: { type: 'integer', description: 'the last slot on this page (inclusive)' },
    continues: boolean('whether slots up to the asked `to` remain'),
    next: { type: 'integer', description: 'where the next page starts, when it continues' },
    assignments: { type: 'array', items: { ...ASSIGNMENT, properties: { ...ASSIGNMENT_PROPERTIES, 'message-item': string('the message item, unpadded base64url') } } },
  },
};

export const scheduler: Device = {
  name: 'scheduler@1.0',
  address: 'name',
  about: 'process schedules: slots, assignments and their hash chain',
  keys: [
    {
      method: 'POST',
      key: 'schedule',
      usage: '/~scheduler@1.0/schedule',
      summary: 'schedule a signed data item',
      params: [{ name: 'cost-only', description: 'estimate the message\'s gas instead of scheduling it (any value but false)' }],
      body: 'a signed ANS-104 data item: a Process spawn or a Message',
      response: { oneOf: [ASSIGNMENT, ESTIMATE] },
      answer: async (call) => {
        const { node, last } = call;
        if (last['cost-only'] !== undefined && last['cost-only'] !== 'false') {
          const item = readSigned(itemBody(call));
          const estimate = await node.processes.estimate(item, { timestamp: Date.now(), 'block-height': node.blockHeight() });
          const exact = `against the state at slot ${estimate.slot}; messages scheduled before this one may change it`;
          return call.json({ process: item.target ?? item.id, ...estimate, exact, charged: false }, ESTIMATE);
        }
        return call.json(assignmentJson(await elsewhere(node, '/~scheduler@1.0/schedule', () => node.scheduler.schedule(itemBody(call)))), ASSIGNMENT);
      },
    },
    {
      method: 'POST',
      key: 'push',
      usage: '/~scheduler@1.0/push',
      summary: 'schedule a message another process sent (a pushed message with its source\'s spawn)',
      body: 'an ANS-104 bundle of signed items: one or more pushed messages of one (source, target) link in order, then the spawn item of the process they come from',
      response: { oneOf: [ASSIGNMENT, PUSHED] },
      answer: async (call) => {
        const { pushed, source } = readPush(itemBody(call));
        // Called together, so they are taken in bundle order (and share a commit).
        const assigned = await elsewhere(call.node, '/~scheduler@1.0/push', () => Promise.all(pushed.map((raw) => call.node.scheduler.schedule(raw, { source }))));
        if (assigned.length === 1) return call.json(assignmentJson(assigned[0]!), ASSIGNMENT);
        return call.json({ assignments: assigned.map(assignmentJson) }, PUSHED);
      },
    },
    {
      method: 'GET',
      key: 'slot',
      usage: '/~scheduler@1.0/slot?target=<process-id>',
      summary: 'a process\'s latest slot',
      params: [TARGET],
      response: SLOT,
      answer: (call) => call.json(slotOf(call.node, targetOf(call.last)), SLOT),
    },
    {
      method: 'GET',
      key: 'schedule',
      usage: '/~scheduler@1.0/schedule?target=<process-id>&from=&to=',
      summary: 'a page of a process\'s schedule',
      params: [TARGET, whole('from', 'the first slot (default 0)'), whole('to', 'the last slot, inclusive (default the latest)'), whole('limit', `at most this many assignments (default and at most ${MAX_PAGE})`)],
      response: PAGE,
      answer: (call) => call.json(scheduleOf(call.node, targetOf(call.last), call.last), PAGE),
    },
  ],
};

function targetOf(message: Msg): string {
  const target = message.target;
  if (!isId(target)) throw badRequest(`target must be a process ID (43 base64url characters), got ${JSON.stringify(target ?? null)}`);
  return target;
}

function slotOf(node: NodeContext, pid: string) {
  const current = node.scheduler.currentSlot(pid);
  if (current === undefined) throw notFound(`unknown process ${pid}`);
  const last = node.scheduler.assignment(pid, current)!;
  // A process copied from another scheduler (engine/mirror.ts) names that one, not this node.
  const scheduler = node.scheduler.process(pid)?.scheduler ?? node.key.address;
  return { process: pid, current, 'hash-chain': last['hash-chain'], timestamp: last.timestamp, 'block-height': node.blockHeight(), scheduler };
}

function scheduleOf(node: NodeContext, pid: string, query: Msg) {
  const current = node.scheduler.currentSlot(pid);
  if (current === undefined) throw notFound(`unknown process ${pid}`);
  const from = query.from === undefined ? 0 : wholeNumber(query.from, 'from');
  const to = query.to === undefined ? current : Math.min(wholeNumber(query.to, 'to'), current);
  const limit = query.limit === undefined ? MAX_PAGE : Math.min(wholeNumber(query.limit, 'limit'), MAX_PAGE);
  if (from > current) throw badRequest(`from ${from} is beyond the latest slot ${current} of process ${pid}`);
  const page = node.scheduler.range(pid, from, to, limit);
  const lastSlot = page.at(-1)?.assignment.slot ?? from - 1;
  return {
    process: pid,
    from,
    to: lastSlot,
    continues: lastSlot < to,
    ...(lastSlot < to ? { next: lastSlot + 1 } : {}),
    assignments: page.map(({ assignment, message }) => ({ ...assignmentJson(assignment), 'message-item': b64url(message) })),
  };
}

/** A push body: the bundle of the pushed message and its source process's spawn (verified here). */
function readPush(body: Uint8Array) {
  let items;
  try {
    items = decodeBundle(body);
  } catch (error) {
    if (error instanceof BundleError) throw badRequest(`a push is an ANS-104 bundle of the pushed message and its source's spawn: ${error.message}`);
    throw error;
  }
  if (items.length < 2 || items.length > MAX_PUSHED + 1) throw badRequest(`a push is a bundle of 1 to ${MAX_PUSHED} pushed messages, then their source's spawn; got ${items.length} items`);
  return { pushed: items.slice(0, -1).map((i) => i.raw), source: readSigned(items.at(-1)!.raw) };
}

/**
 * A message for a process this node does not schedule is answered with a 307 to the node that
 * does, when it can be found (the process's spawn in the gateway's index or at a known
 * scheduler, then that scheduler's location record, PROTOCOL.md §21–22); else the 404 stands.
 */
export async function elsewhere<T>(node: NodeContext, path: string, schedule: () => Promise<T>): Promise<T> {
  try {
    return await schedule();
  } catch (error) {
    const pid = error instanceof HyperError && error.kind === 'not-found' ? error.fields.process : undefined;
    if (typeof pid !== 'string') throw error;
    const found = await node.whereIs(pid).catch(() => undefined);
    if (!found) throw error;
    throw new HyperError('redirect', 'redirect', `process ${pid} is scheduled by ${found.scheduler} at ${found.url}`, {
      location: `${found.url}${path}`,
      scheduler: found.scheduler,
      ...(found.record ? { record: found.record } : {}),
    });
  }
}
