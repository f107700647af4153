// The HTTP baseline: a bare fastify route returning fixed bytes, run as its own process
// like the node, so both are measured the same way. Prints its URL on stdout.
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const body = readFileSync(process.argv[2]);
const app = Fastify({ logger: false });
app.get('/*', (_request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(body));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
