// The node's HTTP face (docs/PROTOCOL.md §8, "HTTP API"): one front door for GET and POST.
// Every path is parsed with HyperBEAM's singleton grammar (gateway/singleton.ts) and answered
// by the key of the device the registry resolves it to (gateway/devices/): the devices, their
// keys and their contracts live there, and so do the no-route help and the OpenAPI document
// (GET /~meta@1.0/openapi). Errors of every kind leave through one handler and one table
// (gateway/errors.ts).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { HyperError, badRequest } from '../engine/protocol/errors.ts';
import { parse, SingletonError, type Msg } from './singleton.ts';
import type { NodeContext } from './context.ts';
import { errorResponse } from './errors.ts';
import { Registry } from './devices/index.ts';
import { aoLegacyRoutes } from './ao-legacy.ts';
import { bodyBytes, type Call, type Method, type Schema } from './devices/device.ts';

/** The largest data item the scheduler takes (413 beyond). */
export const MAX_ITEM_BYTES = 10 * 1024 * 1024;
const MEMO_SIZE = 10_000;
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * `extend` adds hooks and routes beside the devices (gateway/metrics.ts, gateway/explorer/): it
 * runs first, so its hooks see every request and fastify prefers its routes to the front door.
 */
export function buildServer(node: NodeContext, options: { logger?: boolean; registry?: Registry; extend?: (app: FastifyInstance) => void } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, routerOptions: { maxParamLength: 16_384 } });
  const registry = options.registry ?? new Registry();
  options.extend?.(app);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof HyperError) return sendError(reply, error);
    if (error instanceof SingletonError) return sendError(reply, badRequest(error.message));
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.status(status).send({ error: 'bad-request', message: (error as Error).message });
    request.log.error(error);
    node.log(`error: ${request.method} ${request.url}: ${(error as Error).stack ?? error}`);
    return reply.status(500).send({ error: 'internal', message: 'the node failed while answering; the request changed nothing' });
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, registry.noRoute(request.method, request.url)));

  // Signed items arrive as raw ANS-104 bytes, whatever the content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_ITEM_BYTES }, (_request, body, done) => done(null, body));

  // A URL names the same computation every time, so what it resolved to is remembered: a
  // repeated Compute GET goes straight to the LMDB result cache, without parsing it again.
  const memo = new Map<string, (reply: FastifyReply) => unknown>();

  function frontDoor(request: FastifyRequest, reply: FastifyReply) {
    const method: Method = request.method === 'POST' ? 'POST' : 'GET'; // HEAD is answered as GET
    if (method === 'GET') {
      const known = memo.get(request.url);
      if (known) return known(reply);
    }
    const messages = parse({ path: request.url, method: request.method });
    const key = registry.resolve(node, messages, method);
    if (!key) throw registry.noRoute(method, request.url);
    const url = request.url;
    const call: Call = {
      node,
      messages,
      base: messages[0]!,
      last: messages.at(-1) as Msg,
      body: bodyBytes(request.body),
      reply,
      devices: registry.devices,
      json: (value: unknown, schema: Schema = key.response) => reply.type(JSON_TYPE).send(reply.serializeInput(value as Record<string, unknown>, schema)),
      remember: (answer) => {
        if (memo.size >= MEMO_SIZE) memo.clear();
        memo.set(url, answer);
      },
    };
    return key.answer(call);
  }

  aoLegacyRoutes(app, node); // AO's own paths (aoconnect's legacy mode): fastify prefers them to /*
  app.get('/*', frontDoor);
  app.post('/*', frontDoor);
  return app;
}

function sendError(reply: FastifyReply, error: HyperError) {
  const { status, headers, body } = errorResponse(error);
  return reply.status(status).headers(headers).send(body);
}
