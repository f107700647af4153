// The node's HTTP face: every GET path is parsed with HyperBEAM's singleton grammar and
// routed by the messages it yields (docs/PROTOCOL.md, "HTTP API"):
//   GET  /~meta@1.0/info                                  node information
//   GET  /~meta@1.0/gpu                                   the WebGPU adapter serving the kernels
//   GET  /<module-id>/compute?wasm-function=&wasm-params=  stateless Compute
//   GET  /<process-id>/compute&slot=N, /<process-id>/now   process state at a slot
//   POST /~scheduler@1.0/schedule                         schedule a signed data item
//   GET  /~scheduler@1.0/slot?target=, /schedule?target=&from=&to=&limit=
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { HyperError, badRequest, notFound } from '../engine/protocol/errors.ts';
import { b64url, isId } from '../engine/protocol/encoding.ts';
import { assignmentJson } from '../engine/protocol/assignment.ts';
import { readSigned } from '../engine/scheduler.ts';
import { planCompute, type ComputeAnswer, type ComputePlan } from '../engine/compute.ts';
import { parse, SingletonError, type Message } from './singleton.ts';
import type { Node } from './node.ts';
import { statusOf } from './errors.ts';
import { costOnly, paidCall, requireFree, topup } from './p4.ts';

export function buildServer(node: Node, options: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, routerOptions: { maxParamLength: 16_384 } });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof HyperError) return sendError(reply, error);
    if (error instanceof SingletonError) return sendError(reply, badRequest(error.message));
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.status(status).send({ error: 'bad-request', message: (error as Error).message });
    request.log.error(error);
    node.log(`error: ${request.method} ${request.url}: ${(error as Error).stack ?? error}`);
    return reply.status(500).send({ error: 'internal', message: 'the node failed while answering; the request changed nothing' });
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, noRoute(request.method, request.url)));

  // Scheduled items arrive as raw ANS-104 bytes, whatever the content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_ITEM_BYTES }, (_request, body, done) => done(null, body));
  app.post('/~p4@1.0/topup', async (request) => topup(node, bodyOf(request.body)));
  for (const path of ['/:module/compute', '/:module/Compute']) {
    app.post(path, async (request) => {
      const { module } = request.params as { module: string };
      if (!isId(module)) throw badRequest(`${JSON.stringify(module)} is not a module ID (43 base64url characters)`);
      return paidCall(node, module, bodyOf(request.body));
    });
  }
  app.post('/~scheduler@1.0/schedule', async (request) => {
    const query = request.query as Record<string, string>;
    if ('cost-only' in query && query['cost-only'] !== 'false') {
      const item = readSigned(bodyOf(request.body));
      const estimate = await node.processes.estimate(item, { timestamp: Date.now(), 'block-height': node.blockHeight() });
      return { process: item.target ?? item.id, ...estimate, exact: `against the state at slot ${estimate.slot}; messages scheduled before this one may change it`, charged: false };
    }
    return assignmentJson(await node.scheduler.schedule(bodyOf(request.body)));
  });

  // A URL names the same computation every time, so its parse and hashpath are memoised:
  // a repeated Compute GET goes straight to the LMDB result cache.
  // Only plans of free modules are memoised (a priced one must answer 401 every time).
  const plans = new Map<string, ComputePlan>();
  app.get('/*', (request, reply) => {
    const known = plans.get(request.url);
    if (known) {
      // The hot path: a repeated URL answered from LMDB without a promise in between.
      const hit = node.compute.cached(known);
      return hit ? sendCompute(reply, hit) : computeAndSend(node, known, reply);
    }
    const messages = parse({ path: request.url, method: request.method });
    const result = route(node, messages, request.url);
    if ('json' in result) return reply.send(result.json);
    if ('later' in result) return result.later.then((json) => reply.send(json));
    if ('answer' in result) return result.answer.then((answer) => sendCompute(reply, answer));
    if (result.costOnly) return costOnly(node, result);
    return requireFree(node, result).then(() => {
      if (plans.size >= PLAN_MEMO_SIZE) plans.clear();
      plans.set(request.url, result);
      return computeAndSend(node, result, reply);
    });
  });

  return app;
}

const PLAN_MEMO_SIZE = 10_000;
/** The largest data item the scheduler takes (413 beyond). */
export const MAX_ITEM_BYTES = 10 * 1024 * 1024;
const MAX_PAGE = 1000;

type Routed = (ComputePlan & { costOnly: boolean }) | { json: unknown } | { later: Promise<unknown> } | { answer: Promise<ComputeAnswer> };

/** Resolves parsed messages to a stateless Compute plan, a process answer, or JSON. */
function route(node: Node, messages: Message[], url: string): Routed {
  const [base, ...rest] = messages;
  const last = rest.at(-1) as Record<string, unknown> | undefined;
  const lastPath = last && typeof last === 'object' && 'path' in last ? String(last.path).toLowerCase() : undefined;

  if (isAs(base, 'meta@1.0') && rest.length === 1 && lastPath === 'info') return { json: node.info() };
  // The adapter of the GPU worker serving module kernel calls (waits while it is being acquired).
  if (isAs(base, 'meta@1.0') && rest.length === 1 && lastPath === 'gpu') return { later: node.gpu() };
  if (isAs(base, 'p4@1.0') && rest.length === 1 && lastPath === 'balance') {
    const address = last!.address;
    if (!isId(address)) throw badRequest(`address must be a 43-character address, got ${JSON.stringify(address ?? null)}`);
    return { json: { address, balance: String(node.ledger.balance(address)) } };
  }
  if (isAs(base, 'scheduler@1.0') && rest.length === 1 && (lastPath === 'slot' || lastPath === 'schedule')) {
    return { json: lastPath === 'slot' ? slotOf(node, targetOf(last!)) : scheduleOf(node, targetOf(last!), last!) };
  }
  if (isId(base) && rest.length === 1 && (lastPath === 'compute' || lastPath === 'now') && node.scheduler.process(base)) {
    const slot = lastPath === 'now' || last!.slot === undefined ? undefined : integer(last!.slot, 'slot');
    return { answer: node.processes.compute(base, slot) };
  }
  if (lastPath === 'compute') {
    const subject = messages.at(-2)!;
    if (!isId(base) || rest.length !== 1) throw badRequest(`${JSON.stringify(describe(subject))} is not a module ID (43 base64url characters)`);
    const costOnly = last!['cost-only'] === true || last!['cost-only'] === 'true';
    return { ...planCompute(base, last as Record<string, unknown>, node.maxGas), costOnly };
  }
  throw noRoute('GET', url);
}

function bodyOf(body: unknown): Uint8Array {
  const buffer = body as Buffer | undefined;
  if (!buffer || buffer.length === 0) throw badRequest('POST the signed ANS-104 data item as the request body');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

function targetOf(message: Record<string, unknown>): string {
  const target = message.target;
  if (!isId(target)) throw badRequest(`target must be a process ID (43 base64url characters), got ${JSON.stringify(target ?? null)}`);
  return target;
}

function integer(value: unknown, name: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${name} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return n;
}

function slotOf(node: Node, pid: string) {
  const current = node.scheduler.currentSlot(pid);
  if (current === undefined) throw notFound(`unknown process ${pid}`);
  const last = node.scheduler.assignment(pid, current)!;
  return { process: pid, current, 'hash-chain': last['hash-chain'], timestamp: last.timestamp, 'block-height': node.blockHeight(), scheduler: node.key.address };
}

function scheduleOf(node: Node, pid: string, query: Record<string, unknown>) {
  const current = node.scheduler.currentSlot(pid);
  if (current === undefined) throw notFound(`unknown process ${pid}`);
  const from = query.from === undefined ? 0 : integer(query.from, 'from');
  const to = query.to === undefined ? current : Math.min(integer(query.to, 'to'), current);
  const limit = query.limit === undefined ? MAX_PAGE : Math.min(integer(query.limit, 'limit'), MAX_PAGE);
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

const isAs = (m: Message | undefined, device: string) => typeof m === 'object' && 'as' in m && Array.isArray(m.as) && m.as[0] === device;
const describe = (m: Message) => (typeof m === 'string' ? m : 'path' in m ? m.path : m);

async function computeAndSend(node: Node, plan: ComputePlan, reply: FastifyReply) {
  return sendCompute(reply, await node.compute.run(plan));
}

const CACHE_FIELD = { hit: Buffer.from('{"cache":"hit",'), miss: Buffer.from('{"cache":"miss",') };

/** The stored record starts with "{": it is prefixed with the cache field instead of re-encoded. */
function sendCompute(reply: FastifyReply, answer: ComputeAnswer) {
  const prefix = CACHE_FIELD[answer.cache];
  return reply
    .headers({ 'content-type': 'application/json; charset=utf-8', 'x-cache': answer.cache })
    .send(Buffer.concat([prefix, answer.body.subarray(1)], prefix.length + answer.body.length - 1));
}

function noRoute(method: string, url: string): HyperError {
  return notFound(
    `no route for ${method} ${url.slice(0, 200)}; this node serves GET /<module-id>/compute?wasm-function=<name>&wasm-params=<JSON array>, ` +
      'GET /<process-id>/compute&slot=<n>, GET /<process-id>/now, POST /~scheduler@1.0/schedule, GET /~scheduler@1.0/slot?target=<process-id>, ' +
      'GET /~scheduler@1.0/schedule?target=<process-id>&from=&to=, GET /~meta@1.0/info',
  );
}

function sendError(reply: FastifyReply, error: HyperError) {
  const retry = error.details.retryAfterSeconds;
  if (typeof retry === 'number') reply.header('retry-after', String(retry));
  if (typeof error.details.location === 'string') reply.header('location', error.details.location);
  return reply.status(statusOf(error)).send({ error: error.code, message: error.message, ...error.details });
}
