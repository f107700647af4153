// The node's HTTP face: every GET path is parsed with HyperBEAM's singleton grammar and
// routed by the messages it yields. Routes:
//   /~meta@1.0/info                               node information
//   /<module-id>/compute?wasm-function=&wasm-params=   stateless Compute
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { HyperError, badRequest, notFound } from '../engine/errors.ts';
import { isId } from '../engine/encoding.ts';
import { cachedAnswer, compute, planCompute, type ComputeAnswer, type ComputePlan } from '../engine/compute.ts';
import { parse, SingletonError, type Message } from './singleton.ts';
import type { Node } from './node.ts';

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

  // A URL names the same computation every time, so its parse and hashpath are memoised:
  // a repeated Compute GET goes straight to the LMDB result cache.
  const plans = new Map<string, ComputePlan>();
  app.get('/*', (request, reply) => {
    const known = plans.get(request.url);
    if (known) {
      // The hot path: a repeated URL answered from LMDB without a promise in between.
      const hit = cachedAnswer(node.store, known);
      return hit ? sendCompute(reply, hit) : computeAndSend(node, known, reply);
    }
    const messages = parse({ path: request.url, method: request.method });
    const result = route(node, messages, request.url);
    if (!('hashpath' in result)) return reply.send(result.json);
    if (plans.size >= PLAN_MEMO_SIZE) plans.clear();
    plans.set(request.url, result);
    return computeAndSend(node, result, reply);
  });

  return app;
}

const PLAN_MEMO_SIZE = 10_000;

/** Resolves parsed messages to a Compute plan or a JSON answer. */
function route(node: Node, messages: Message[], url: string): ComputePlan | { json: unknown } {
  const [base, ...rest] = messages;
  const last = rest.at(-1);
  const lastPath = last && typeof last === 'object' && 'path' in last ? String(last.path).toLowerCase() : undefined;

  if (isAs(base, 'meta@1.0') && rest.length === 1 && lastPath === 'info') return { json: node.info() };

  if (lastPath === 'compute') {
    const subject = messages.at(-2)!;
    if (!isId(base) || rest.length !== 1) throw badRequest(`${JSON.stringify(describe(subject))} is not a module ID (43 base64url characters)`);
    return planCompute(base, last as Record<string, unknown>);
  }
  throw noRoute('GET', url);
}

const isAs = (m: Message | undefined, device: string) => typeof m === 'object' && 'as' in m && Array.isArray(m.as) && m.as[0] === device;
const describe = (m: Message) => (typeof m === 'string' ? m : 'path' in m ? m.path : m);

async function computeAndSend(node: Node, plan: ComputePlan, reply: FastifyReply) {
  return sendCompute(reply, await compute(node.store, node.modules, plan));
}

const CACHE_FIELD = { hit: Buffer.from('{"cache":"hit",'), miss: Buffer.from('{"cache":"miss",') };

/** The stored record starts with "{": it is prefixed with the cache field instead of re-encoded. */
function sendCompute(reply: FastifyReply, answer: ComputeAnswer) {
  const prefix = CACHE_FIELD[answer.cache];
  return reply
    .header('content-type', 'application/json; charset=utf-8')
    .header('x-cache', answer.cache)
    .send(Buffer.concat([prefix, answer.body.subarray(1)], prefix.length + answer.body.length - 1));
}

function noRoute(method: string, url: string): HyperError {
  return notFound(`no route for ${method} ${url.slice(0, 200)}; this node serves GET /<module-id>/compute?wasm-function=<name>&wasm-params=<JSON array> and GET /~meta@1.0/info`);
}

function sendError(reply: FastifyReply, error: HyperError) {
  const retry = error.details.retryAfterSeconds;
  if (typeof retry === 'number') reply.header('retry-after', String(retry));
  return reply.status(error.status).send({ error: error.code, message: error.message, ...error.details });
}
