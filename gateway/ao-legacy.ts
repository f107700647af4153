// AO's legacy messenger-unit and compute-unit routes, so that aoconnect in legacy mode
// (`connect({MODE: 'legacy', MU_URL: node, CU_URL: node, GATEWAY_URL})`) works against the node
// unchanged (docs/PROTOCOL.md §25). They are not singleton paths, so they are plain fastify
// routes beside the front door (fastify prefers them to its `/*`), and each is a thin shape
// over what the node already does: POST / is the scheduler, /result and /results are the
// process records, /dry-run is Processes.dryRun.
//
//   POST /                      body: a signed ANS-104 item (a spawn or a message)
//        Schedules it as POST /~scheduler@1.0/schedule does (307 where another node schedules
//        its process) and answers 202 {message: 'Processing DataItem', id, process, slot},
//        plus processId for a spawn, once the assignment is durable.
//   POST /monitor/<pid>         body: a signed item (aoconnect's monitor)
//        200 {id, message}: nothing to start, the node computes every message it schedules.
//   GET  /result/<msg>?process-id=<pid>
//        The result of the slot holding that message: the AO result as its module wrote it,
//        then GasUsed (our meter's gas, as attested). 404 when the message is not in that
//        process's schedule.
//   GET  /results/<pid>?from=&to=&sort=ASC|DESC&limit=
//        {edges: [{cursor, node}]}, node as /result's; the cursor is the slot as a decimal
//        string, `from` exclusive, `to` inclusive; 25 a page by default, at most 1000.
//   POST /dry-run?process-id=<pid>   body: JSON {Id?, Owner?, Target?, Data?, Tags?, Anchor?, …}
//        The result of that message run on a copy of the latest state; nothing is kept.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest, notFound } from '../engine/protocol/errors.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { tagValue } from '../engine/protocol/vocabulary.ts';
import { readSigned } from '../engine/scheduler.ts';
import type { NodeContext } from './context.ts';
import { elsewhere } from './devices/scheduler.ts';
import { bodyBytes } from './devices/device.ts';

const MAX_RESULTS = 1000;
const DEFAULT_RESULTS = 25;
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT = new TextDecoder();

const ID_PATTERN = '^[A-Za-z0-9_-]{43}$';
const PROCESS_QUERY = {
  type: 'object',
  required: ['process-id'],
  properties: { 'process-id': { type: 'string', pattern: ID_PATTERN } },
} as const;

export function aoLegacyRoutes(app: FastifyInstance, node: NodeContext): void {
  app.post('/', async (request, reply) => {
    const raw = body(request.body, 'POST the signed ANS-104 data item as the request body, as aoconnect does');
    const assignment = await elsewhere(node, '/', () => node.scheduler.schedule(raw));
    const spawn = assignment.slot === 0;
    return reply.status(202).type(JSON_TYPE).send({
      message: 'Processing DataItem',
      id: assignment.message,
      ...(spawn ? { processId: assignment.process } : {}),
      process: assignment.process,
      slot: assignment.slot,
    });
  });

  app.post<{ Params: { pid: string } }>('/monitor/:pid', { schema: { params: { type: 'object', properties: { pid: { type: 'string', pattern: ID_PATTERN } } } } }, async (request, reply) => {
    const { pid } = request.params;
    if (node.scheduler.currentSlot(pid) === undefined) throw notFound(`unknown process ${pid}: this node does not schedule it`, { process: pid });
    const item = readSigned(body(request.body, 'POST the signed monitor item as the request body'));
    return reply.type(JSON_TYPE).send({ id: item.id, message: `nothing to monitor: this node computes every message it schedules for ${pid}, and runs no cron` });
  });

  app.get<{ Params: { msg: string }; Querystring: { 'process-id': string } }>(
    '/result/:msg',
    { schema: { params: { type: 'object', properties: { msg: { type: 'string', pattern: ID_PATTERN } } }, querystring: PROCESS_QUERY } },
    async (request, reply) => {
      const pid = request.query['process-id'];
      const { msg } = request.params;
      aoProcess(node, pid);
      const slot = node.scheduler.slotOf(pid, msg);
      if (slot === undefined) throw notFound(`message ${msg} is not in the schedule of process ${pid}`, { process: pid, 'message-id': msg });
      return sendJson(reply, await resultAt(node, pid, slot));
    },
  );

  app.get<{ Params: { pid: string }; Querystring: { from?: string; to?: string; sort?: 'ASC' | 'DESC'; limit?: number } }>(
    '/results/:pid',
    {
      schema: {
        params: { type: 'object', properties: { pid: { type: 'string', pattern: ID_PATTERN } } },
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', pattern: '^\\d+$' },
            to: { type: 'string', pattern: '^\\d+$' },
            sort: { type: 'string', enum: ['ASC', 'DESC'] },
            limit: { type: 'integer', minimum: 1, maximum: MAX_RESULTS },
          },
        },
      },
    },
    async (request, reply) => {
      const { pid } = request.params;
      const latest = aoProcess(node, pid);
      const { from, to, sort = 'ASC', limit = DEFAULT_RESULTS } = request.query;
      const slots = page(latest, from === undefined ? undefined : Number(from), to === undefined ? undefined : Number(to), sort, limit);
      const edges = [];
      for (const slot of slots) edges.push({ cursor: String(slot), node: await resultAt(node, pid, slot) });
      return sendJson(reply, { edges });
    },
  );

  app.post<{ Querystring: { 'process-id': string } }>('/dry-run', { schema: { querystring: PROCESS_QUERY } }, async (request, reply) => {
    const pid = request.query['process-id'];
    const message = dryRunBody(request.body);
    if (message.Target !== undefined && message.Target !== pid) throw badRequest(`the dry-run's Target ${JSON.stringify(message.Target)} is not its process-id ${pid}`);
    const result = await node.processes.dryRun(pid, message);
    return sendJson(reply, legacyResult(result.threw === undefined ? (JSON.parse(result.text) as Record<string, unknown>) : null, result.threw, result.meterGas ?? result.gas ?? 0));
  });
}

/** The slots of a results page: after `from`, up to `to`, in `sort` order, at most `limit`. */
export function page(latest: number, from: number | undefined, to: number | undefined, sort: 'ASC' | 'DESC', limit: number): number[] {
  const low = from === undefined ? 0 : from + 1;
  const high = Math.min(to ?? latest, latest);
  const slots: number[] = [];
  if (sort === 'ASC') for (let slot = low; slot <= high && slots.length < limit; slot++) slots.push(slot);
  else for (let slot = high; slot >= low && slots.length < limit; slot--) slots.push(slot);
  return slots;
}

/** The latest slot of an AO process this node schedules (404 for an unknown one, 400 for a hyperwasm one). */
function aoProcess(node: NodeContext, pid: string): number {
  const spawn = node.scheduler.process(pid);
  if (!spawn) throw notFound(`unknown process ${pid}: this node does not schedule it`, { process: pid });
  if (tagValue(spawn.tags, 'Data-Protocol') !== 'ao') {
    throw badRequest(`process ${pid} is a hyperwasm process, not an AO one: read its records at /${pid}~process@1.0/compute&slot=<n>`);
  }
  return node.scheduler.currentSlot(pid)!;
}

/** A slot's AO result from its record (computed if need be), in the compute unit's shape. */
async function resultAt(node: NodeContext, pid: string, slot: number): Promise<Record<string, unknown>> {
  const { body } = await node.processes.compute(pid, slot);
  const record = JSON.parse(TEXT.decode(body)) as { output: unknown; error?: string; gas: number; 'result-bytes': string };
  const output = record.output as Record<string, unknown> | null;
  return legacyResult(output, output ? undefined : (record.error ?? TEXT.decode(fromB64url(record['result-bytes']))), record.gas);
}

/**
 * The compute unit's answer: the module's result with its own keys in its own order, then
 * GasUsed; a call that threw is `{Error, Output: '', Messages: [], Spawns: [], Assignments: []}`.
 */
function legacyResult(output: Record<string, unknown> | null, threw: string | undefined, gas: number): Record<string, unknown> {
  if (output) return { ...output, GasUsed: gas };
  return { Error: threw, Output: '', Messages: [], Spawns: [], Assignments: [], GasUsed: gas };
}

function body(raw: unknown, hint: string): Uint8Array {
  const bytes = bodyBytes(raw);
  if (!bytes || bytes.length === 0) throw badRequest(hint);
  return bytes;
}

function dryRunBody(raw: unknown): Record<string, unknown> {
  const text = TEXT.decode(body(raw, 'POST the dry-run message as JSON: {"Owner", "Tags": [{"name", "value"}], "Data", …}'));
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    throw badRequest(`the dry-run body is not JSON: ${(error as Error).message}`);
  }
  if (!message || typeof message !== 'object' || Array.isArray(message)) throw badRequest('the dry-run body is a JSON object: {"Owner", "Tags": [{"name", "value"}], "Data", …}');
  const { Tags } = message as { Tags?: unknown };
  if (Tags !== undefined && !(Array.isArray(Tags) && Tags.every((t) => t && typeof t.name === 'string' && typeof t.value === 'string'))) {
    throw badRequest('the dry-run\'s Tags are a list of {"name": string, "value": string}');
  }
  return message as Record<string, unknown>;
}

function sendJson(reply: FastifyReply, value: unknown) {
  return reply.type(JSON_TYPE).send(JSON.stringify(value));
}
