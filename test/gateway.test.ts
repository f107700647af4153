// The HTTP face on a fake node: no socket, no arlocal, no engine (fastify's inject()). It checks
// what the gateway alone decides: which device key answers a path (through the registry), that
// response schemas send the very bytes JSON.stringify would, the kind → status table, the
// no-route help and the OpenAPI document, both written from the registry.
import { suite } from 'uvu';
import { notFound } from '../engine/protocol/errors.ts';
const notFoundError = () => notFound('unknown process');
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../gateway/server.ts';
import { DEVICES, Registry } from '../gateway/devices/index.ts';
import { templateOf } from '../gateway/devices/openapi.ts';
import type { Device } from '../gateway/devices/device.ts';
import type { NodeContext } from '../gateway/context.ts';
import { STATUS } from '../gateway/errors.ts';
import { VERSION } from '../gateway/version.ts';
import { HyperError, type ErrorKind } from '../engine/protocol/errors.ts';
import { b64url, utf8 } from '../engine/protocol/encoding.ts';
import { assignmentJson } from '../engine/protocol/assignment.ts';
import type { SignedAssignment } from '../engine/protocol/assignment.ts';
import type { ComputePlan } from '../engine/compute.ts';
import { createDataItem, ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { messageTags } from '../engine/protocol/vocabulary.ts';

const test = suite('gateway');

const MODULE = 'M'.repeat(43);
const PRICED = 'P'.repeat(43);
const PID = 'Q'.repeat(43);
const NODE = 'N'.repeat(43);
const ALICE = 'A'.repeat(43);

const assignment = (slot: number): SignedAssignment => ({
  process: PID,
  slot,
  message: `${'m'.repeat(42)}${slot}`,
  'hash-chain': `chain-${slot}`,
  timestamp: 1_700_000_000_000 + slot,
  'block-height': 1234,
  id: `${'a'.repeat(42)}${slot}`,
  signer: NODE,
  raw: new Uint8Array([slot, 1, 2]),
});

const INFO = {
  name: 'hyperwasm',
  version: '0.1.0',
  address: NODE,
  'public-key': 'k'.repeat(43),
  'key-type': 'ed25519',
  wallet: 'w'.repeat(43),
  gateway: 'http://127.0.0.1:1984',
  'gateway-embedded': true,
  engine: 'hyperwasm/0.1.0 node/20 v8/11',
  modules: { fac: MODULE },
  'block-height': 1234,
  prices: { flat: '0', 'per-kgas': '0', unit: "the node's ledger unit", 'max-gas': 100_000_000_000, 'default-gas-limit': 10_000_000_000 },
  outbox: { depth: 0, published: 3, lastError: null },
  gpu: { probing: true },
  'a-field-no-schema-names': [1, { two: 2 }],
};
const GPU = { vendor: '', architecture: '', device: '', description: 'CPU reference kernels', isFallbackAdapter: false, backend: 'cpu', source: 'none', features: [], reason: 'disabled (gpu: off)' };
const RECORD = { module: MODULE, function: 'fac', params: [5], result: 120, 'result-encoding': 'f64', 'result-hash': 'h'.repeat(43), gas: 77, hashpath: `${MODULE}/x` };
const COST = { module: MODULE, hashpath: `${MODULE}/x`, gas: 77, 'gas-limit': undefined, price: { amount: '0', gas: '77', split: { node: '0', owner: '0' } }, exact: true, priced: false };
const PAID = { cache: 'miss', ...RECORD, receipt: { payer: ALICE, amount: '9', gas: '77', split: { node: '4', owner: '5' } }, 'receipt-attestation': { item: 'i'.repeat(43), proof: [] } };
const TOPUP = { recipient: ALICE, quantity: '100', balance: '142', topup: 't'.repeat(43) };
const NODE_VIEW = {
  address: NODE, 'public-key': 'k'.repeat(43), state: 'ONLINE', 'announced-state': 'ONLINE', sequence: 7, url: 'http://127.0.0.1:8734', version: '0.1.0',
  gpu: { vendor: 'v', architecture: 'a', device: 'd', description: 'x', source: 'hardware', fallback: false, features: ['f'] }, cores: 2, memory: 1024,
  'gas-per-second': 99, queue: 0, prices: { flat: '0', 'per-kgas': '1' }, modules: [MODULE], time: 1, 'first-seen': 2, 'last-heartbeat': 3,
  'offline-after': 4, uptime: { '24h': 0.5, '7d': 0.25 }, heartbeats: 5, heartbeat: 'h'.repeat(43),
} as const;

/** A node that answers from constants and writes down what it was asked. */
function fakeNode(overrides: Partial<NodeContext> = {}) {
  const asked: string[] = [];
  const record = utf8(JSON.stringify(RECORD));
  const cache = new Set<string>();
  const node: NodeContext = {
    key: { address: NODE },
    scheduler: {
      schedule: async (raw) => (asked.push(`schedule ${raw.length}`), assignment(3)),
      process: (id) => (id === PID ? ({} as never) : undefined),
      currentSlot: (id) => (id === PID ? 2 : undefined),
      assignment: (_pid, slot) => assignment(slot),
      range: (_pid, from, to, limit) => [0, 1, 2].filter((s) => s >= from && s <= to).slice(0, limit).map((s) => ({ assignment: assignment(s), message: new Uint8Array([9, s]) })),
      slotOf: () => undefined,
    },
    processes: {
      compute: async (pid, slot) => (asked.push(`process ${pid} ${slot}`), { cache: 'hit', body: utf8(JSON.stringify({ process: pid, slot: slot ?? 2 })) }),
      estimate: async (item) => (asked.push(`estimate ${item.id}`), { slot: 2, gas: 5, 'gas-limit': 10 }),
      dryRun: async () => Promise.reject(new Error('not an AO process')),
    },
    compute: {
      cached: (plan: ComputePlan) => (asked.push(`cached ${plan.hashpath}`), cache.has(plan.hashpath) ? { cache: 'hit', body: record } : undefined),
      run: async (plan: ComputePlan) => {
        asked.push(`run ${plan.hashpath}`);
        const hit = cache.has(plan.hashpath);
        cache.add(plan.hashpath);
        return { cache: hit ? 'hit' : 'miss', body: record };
      },
    },
    payments: {
      requireFree: async (plan) => {
        asked.push(`requireFree ${plan.module}`);
        if (plan.module === PRICED) throw new HyperError('unauthenticated', 'signature-required', `module ${plan.module} is priced`, { prices: { flat: '1' } });
      },
      costOnly: async (plan) => (asked.push(`costOnly ${plan.module}`), COST as never),
      paidCall: async (module, raw) => (asked.push(`paidCall ${module} ${raw.length}`), PAID),
      topup: async (raw) => (asked.push(`topup ${raw.length}`), TOPUP),
    },
    ledger: { balance: (address) => (address === ALICE ? 42n : 0n) },
    whereIs: async () => undefined,
    mirror: { sync: async () => { throw notFoundError(); }, mirrors: () => false },
    deliveries: {
      outbox: (_pid, from) => [{ slot: from, index: 0, entry: { status: 'delivered', target: ALICE, message: { target: ALICE, tags: [], data: 'hi' }, record: 'r', pushedFor: 'p', createdAt: 1, attempts: 1, item: 'i'.repeat(43), slot: 4, assignment: 'a'.repeat(43), scheduler: NODE } }],
    },
    locations: { resolve: async () => undefined, accept: () => { throw new HyperError('invalid', 'bad-request', 'not a location record'); }, sourceNames: () => [] },
    registry: {
      accept: async (raw) => (asked.push(`heartbeat ${raw.length}`), { ...NODE_VIEW, item: 'i' } as never),
      get: (address, options) => (address === NODE ? ({ ...NODE_VIEW, ...(options?.item ? { item: 'i' } : {}) } as never) : undefined),
      list: (filter) => (asked.push(`list ${JSON.stringify({ ...filter, maxPrice: filter?.maxPrice?.toString() })}`), [NODE_VIEW as never]),
      now: () => 1_700_000_000_000,
      ttlMs: 120_000,
      graceMs: 30_000,
    },
    maxGas: 100_000_000_000,
    blockHeight: () => 1234,
    info: () => INFO,
    gpu: async () => GPU as never,
    log: (line) => asked.push(`log ${line.split('\n')[0]}`),
    ...overrides,
  };
  return { node, asked };
}

/** The registry, with every key's answer counted. */
function countedRegistry(reached: Set<string>) {
  const devices: Device[] = DEVICES.map((device) => ({
    ...device,
    keys: device.keys.map((key) => ({ ...key, answer: (call) => (reached.add(`${device.name} ${key.method} ${key.key}`), key.answer(call)) })),
  }));
  return new Registry(devices);
}

const signedItem = () => createDataItem(ed25519Signer(generateKeyPairSync('ed25519').privateKey), { target: PID, tags: messageTags(), data: 'hi' });

async function request(app: FastifyInstance, method: 'GET' | 'POST' | 'HEAD' | 'PUT', url: string, body?: Uint8Array) {
  const response = await app.inject({ method, url, ...(body ? { payload: Buffer.from(body), headers: { 'content-type': 'application/octet-stream' } } : {}) });
  return { status: response.statusCode, text: response.body, json: () => JSON.parse(response.body), headers: response.headers };
}

/** The answer is the JSON of `expected`, byte for byte: a response schema dropped and reordered nothing. */
function sameBytes(text: string, expected: unknown) {
  assert.is(text, JSON.stringify(expected));
}

test('every key of every device is reached through the registry, with the bytes JSON.stringify would send', async () => {
  const reached = new Set<string>();
  const { node, asked } = fakeNode();
  const app = buildServer(node, { registry: countedRegistry(reached) });
  const item = signedItem();

  let r = await request(app, 'GET', '/~meta@1.0/info');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json; charset=utf-8');
  sameBytes(r.text, INFO);
  sameBytes((await request(app, 'GET', '/~meta@1.0/gpu')).text, GPU);
  sameBytes((await request(app, 'GET', '/~meta@1.0/Info')).text, INFO); // keys match whatever their case
  assert.is((await request(app, 'GET', '/~meta@1.0/openapi')).json().openapi, '3.0.3');

  r = await request(app, 'GET', `/${MODULE}/Compute?wasm-function=fac&wasm-params=[5.0]`);
  assert.is(r.status, 200, r.text);
  assert.is(r.headers['x-cache'], 'miss');
  sameBytes(r.text, { cache: 'miss', ...RECORD });
  r = await request(app, 'GET', `/${MODULE}/compute?wasm-function=fac&wasm-params=[5.0]&cost-only`);
  sameBytes(r.text, COST);
  r = await request(app, 'POST', `/${MODULE}/compute`, item.raw);
  sameBytes(r.text, PAID);
  assert.ok(asked.includes(`paidCall ${MODULE} ${item.raw.length}`));

  sameBytes((await request(app, 'GET', `/${PID}/compute&slot=1`)).text, { cache: 'hit', process: PID, slot: 1 });
  sameBytes((await request(app, 'GET', `/${PID}/compute?slot=0`)).text, { cache: 'hit', process: PID, slot: 0 });
  sameBytes((await request(app, 'GET', `/${PID}/now`)).text, { cache: 'hit', process: PID, slot: 2 });
  assert.equal(asked.filter((a) => a.startsWith('process ')), [`process ${PID} 1`, `process ${PID} 0`, `process ${PID} undefined`]);

  r = await request(app, 'GET', `/~scheduler@1.0/slot?target=${PID}`);
  sameBytes(r.text, { process: PID, current: 2, 'hash-chain': 'chain-2', timestamp: 1_700_000_000_002, 'block-height': 1234, scheduler: NODE });
  r = await request(app, 'GET', `/~scheduler@1.0/schedule?target=${PID}&from=1&limit=1`);
  sameBytes(r.text, { process: PID, from: 1, to: 1, continues: true, next: 2, assignments: [{ ...assignmentJson(assignment(1)), 'message-item': b64url(new Uint8Array([9, 1])) }] });
  r = await request(app, 'GET', `/~scheduler@1.0/schedule&target=${PID}`);
  assert.equal(r.json().continues, false);
  assert.not.ok('next' in r.json());
  sameBytes((await request(app, 'POST', '/~scheduler@1.0/schedule', item.raw)).text, assignmentJson(assignment(3)));
  // A push is a bundle of the pushed message and its source's spawn (both checked before the scheduler sees them).
  const source = signedItem();
  r = await request(app, 'POST', '/~scheduler@1.0/push', encodeBundle([item.raw, source.raw]));
  sameBytes(r.text, assignmentJson(assignment(3)));
  assert.is((await request(app, 'POST', '/~scheduler@1.0/push', item.raw)).status, 400, 'a push that is not a bundle');
  r = await request(app, 'GET', `/${PID}/outbox&from=1`);
  sameBytes(r.text, { process: PID, from: 1, entries: [{ slot: 1, index: 0, target: ALICE, status: 'delivered', attempts: 1, item: 'i'.repeat(43), 'target-slot': 4, assignment: 'a'.repeat(43), scheduler: NODE, tags: [], data: 'hi' }] });
  assert.is((await request(app, 'GET', `/~scheduler@1.0/location?address=${NODE}`)).status, 404);
  assert.is((await request(app, 'POST', '/~scheduler@1.0/location', item.raw)).status, 400);
  r = await request(app, 'POST', '/~scheduler@1.0/schedule?cost-only', item.raw);
  sameBytes(r.text, { process: PID, slot: 2, gas: 5, 'gas-limit': 10, exact: 'against the state at slot 2; messages scheduled before this one may change it', charged: false });

  sameBytes((await request(app, 'GET', `/~p4@1.0/balance?address=${ALICE}`)).text, { address: ALICE, balance: '42' });
  sameBytes((await request(app, 'POST', '/~p4@1.0/topup', item.raw)).text, TOPUP);

  // The registry's keys (a node started with --registry): filters as the query gives them, a feature key repeated.
  r = await request(app, 'GET', '/~registry@1.0/nodes?gpu=false&feature=a,b&feature=c&min-gas-per-second=5&max-price=9&state=online');
  sameBytes(r.text, { registry: NODE, time: 1_700_000_000_000, 'time-to-live': 120_000, grace: 30_000, nodes: [NODE_VIEW] });
  assert.is(asked.at(-1), 'list {"gpu":false,"features":["a","b","c"],"minGasPerSecond":5,"maxPrice":"9","state":"ONLINE"}');
  sameBytes((await request(app, 'GET', `/~registry@1.0/nodes/${NODE}`)).text, { ...NODE_VIEW, item: 'i' });
  assert.is((await request(app, 'GET', `/~registry@1.0/nodes/${MODULE}`)).status, 404);
  sameBytes((await request(app, 'POST', '/~registry@1.0/heartbeat', item.raw)).text, { ...NODE_VIEW, item: 'i' });
  assert.is((await request(app, 'GET', '/~registry@1.0/nodes?gpu=maybe')).status, 400);
  // Reports (test/reputation.test.ts takes them for real): this fake registry takes none, and says so.
  r = await request(app, 'POST', '/~registry@1.0/report', item.raw);
  assert.is(r.status, 404);
  assert.match(r.json().message, /does not take verification reports/);
  const notRegistry = buildServer(fakeNode({ registry: undefined }).node);
  for (const [method, url] of [['GET', '/~registry@1.0/nodes'], ['GET', `/~registry@1.0/nodes/${NODE}`], ['POST', '/~registry@1.0/heartbeat']] as const) {
    r = await request(notRegistry, method, url, method === 'POST' ? item.raw : undefined);
    assert.is(r.status, 404, url);
    assert.match(r.json().message, /is not a registry/);
  }

  // The router's keys (docs/routing-section.md): the fake registry's one node ranked; a requirement it fails is 503 before anything is forwarded.
  r = await request(app, 'GET', '/~router@1.0/route?requires=gpu');
  assert.equal(r.json().candidates.map((c: { address: string }) => c.address), [NODE]);
  r = await request(app, 'GET', `/~router@1.0/compute?module=${MODULE}&wasm-function=fac&requires=feature%3Dmissing`);
  assert.is(r.status, 503, r.text);
  assert.match(r.json().message, /lacks a required feature/);

  const every = DEVICES.flatMap((d) => d.keys.map((k) => `${d.name} ${k.method} ${k.key}`));
  assert.equal([...reached].sort(), every.sort());
});

test('a repeated free Compute URL skips the parse and the price gate; a priced one is refused every time', async () => {
  const { node, asked } = fakeNode();
  const app = buildServer(node);
  const url = `/${MODULE}/compute?wasm-function=fac&wasm-params=[5]`;
  assert.is((await request(app, 'GET', url)).headers['x-cache'], 'miss');
  const again = await request(app, 'GET', url);
  assert.is(again.headers['x-cache'], 'hit');
  sameBytes(again.text, { cache: 'hit', ...RECORD });
  assert.is(asked.filter((a) => a.startsWith('requireFree')).length, 1);
  assert.ok(asked.at(-1)!.startsWith('cached '));
  const head = await request(app, 'HEAD', url);
  assert.is(head.status, 200);
  assert.is(head.text, '');

  for (let i = 0; i < 2; i++) {
    const priced = await request(app, 'GET', `/${PRICED}/compute?wasm-function=fac`);
    assert.is(priced.status, 401);
    assert.equal(priced.json(), { error: 'signature-required', message: `module ${PRICED} is priced`, prices: { flat: '1' } });
  }
});

test('the registry decides who answers an ID: a process this node schedules, else the Compute device', async () => {
  const { node, asked } = fakeNode();
  const app = buildServer(node);
  // Another ID with the process's key `now` is no route; with `compute` it is a module call.
  assert.is((await request(app, 'GET', `/${MODULE}/now`)).status, 404);
  assert.is((await request(app, 'GET', `/${MODULE}/compute?wasm-function=fac`)).status, 200);
  // A path ending in compute whose base is no module ID says so.
  for (const [path, shown] of [['/abc/compute?wasm-function=fac', '"abc"'], [`/a/${MODULE}x/compute`, `"${MODULE}x"`], ['/~meta@1.0/compute', '{"as":["meta@1.0",{"method":"GET"}]}']]) {
    const r = await request(app, 'GET', path);
    assert.is(r.status, 400, path);
    assert.is(r.json().message, `${shown} is not a module ID (43 base64url characters)`);
  }
  const post = await request(app, 'POST', '/abc/compute', new Uint8Array([1]));
  assert.is(post.json().message, '"abc" is not a module ID (43 base64url characters)');
  const empty = await request(app, 'POST', '/~scheduler@1.0/schedule');
  assert.is(empty.status, 400);
  assert.is(empty.json().message, 'POST the signed ANS-104 data item as the request body');
  assert.is((await request(app, 'GET', '/~scheduler@1.0/slot?target=nope')).json().message, 'target must be a process ID (43 base64url characters), got "nope"');
  assert.is((await request(app, 'GET', `/~scheduler@1.0/slot?target=${MODULE}`)).status, 404);
  assert.is((await request(app, 'GET', `/${PID}/compute&slot=x`)).json().message, 'slot must be a whole number ≥ 0, got "x"');
  assert.is((await request(app, 'GET', '/~p4@1.0/balance')).json().message, 'address must be a 43-character address, got null');
  assert.not.ok(asked.some((a) => a.startsWith('process ')));
});

const KINDS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  'payment-required': 402,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  refused: 422,
  trap: 422,
  'out-of-gas': 422,
  redirect: 307,
  unavailable: 503,
};

test('each error kind leaves with its status, code, message, details and headers', async () => {
  assert.equal(STATUS, KINDS);
  for (const [kind, status] of Object.entries(KINDS) as [ErrorKind, number][]) {
    const details = kind === 'redirect' ? { location: 'http://peer/~scheduler@1.0/schedule' } : kind === 'unavailable' ? { retryAfterSeconds: 5 } : { extra: kind };
    const failing = new HyperError(kind, `code-${kind}`, `a ${kind} error`, details);
    const { node } = fakeNode({ processes: { compute: async () => Promise.reject(failing), estimate: async () => Promise.reject(failing), dryRun: async () => Promise.reject(failing) } });
    const r = await request(buildServer(node), 'GET', `/${PID}/now`);
    assert.is(r.status, status, kind);
    assert.equal(r.json(), { error: `code-${kind}`, message: `a ${kind} error`, ...details });
    assert.is(r.headers.location, kind === 'redirect' ? details.location : undefined);
    assert.is(r.headers['retry-after'], kind === 'unavailable' ? '5' : undefined);
  }
});

test('a node fault is a 500 that says nothing changed, and is logged; a malformed path is a 400', async () => {
  const { node, asked } = fakeNode({ info: () => { throw new TypeError('boom'); } });
  const app = buildServer(node);
  const r = await request(app, 'GET', '/~meta@1.0/info');
  assert.is(r.status, 500);
  assert.equal(r.json(), { error: 'internal', message: 'the node failed while answering; the request changed nothing' });
  assert.ok(asked.some((a) => a.startsWith('log error: GET /~meta@1.0/info: TypeError: boom')));
  const bad = await request(app, 'GET', '/(abc/compute');
  assert.is(bad.status, 400);
  assert.equal(bad.json().error, 'bad-request');
  assert.match(bad.json().message, /unbalanced parentheses/);
});

test('the no-route help lists every route the registry serves', async () => {
  const { node } = fakeNode();
  const app = buildServer(node);
  const routes = DEVICES.flatMap((d) => d.keys.map((k) => `${k.method} ${k.usage}`));
  for (const [method, url] of [['GET', '/nothing/here'], ['POST', '/~meta@1.0/info'], ['PUT', `/${MODULE}/compute`]] as const) {
    const r = await request(app, method, url);
    assert.is(r.status, 404);
    const { error, message } = r.json();
    assert.is(error, 'not-found');
    assert.ok(message.startsWith(`no route for ${method} ${url}; this node serves `), message);
    for (const route of routes) assert.ok(message.includes(route), `the help should list ${route}`);
  }
  // What the hand-written help had lost.
  for (const route of ['GET /~meta@1.0/gpu', 'GET /~p4@1.0/balance', 'POST /~p4@1.0/topup', 'POST /<module-id>/compute', 'GET /~meta@1.0/openapi']) {
    assert.ok(routes.some((r) => r.startsWith(route)), route);
  }
});

/** The problems of an OpenAPI 3.0 document, by the spec's required fields and rules. */
function openApiProblems(doc: any): string[] {
  const problems: string[] = [];
  const fail = (what: string) => problems.push(what);
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (typeof doc.openapi !== 'string' || !/^3\.0\.\d+$/.test(doc.openapi)) fail(`openapi ${doc.openapi} is not a 3.0.x version`);
  if (!isObject(doc.info) || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') fail('info needs a title and a version');
  if (!isObject(doc.paths)) return [...problems, 'paths must be an object'];
  const tags = new Set((doc.tags ?? []).map((t: any) => t.name));
  const ids = new Set<string>();
  const shapes = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (!path.startsWith('/')) fail(`path ${path} must start with /`);
    const shape = path.replace(/\{[^}]+\}/g, '{}');
    if (shapes.has(shape)) fail(`path ${path} is templated like another (the spec calls these identical)`);
    shapes.add(shape);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method)) { fail(`${where}: not an HTTP method`); continue; }
      if (typeof op.operationId !== 'string' || ids.has(op.operationId)) fail(`${where}: operationId missing or not unique`);
      ids.add(op.operationId);
      for (const tag of op.tags ?? []) if (!tags.has(tag)) fail(`${where}: tag ${tag} is not declared`);
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) fail(`${where}: needs responses`);
      for (const [code, response] of Object.entries<any>(op.responses ?? {})) {
        if (code !== 'default' && !/^[1-5](\d\d|XX)$/.test(code)) fail(`${where}: response ${code} is not a status`);
        if (typeof response.description !== 'string') fail(`${where}: response ${code} needs a description`);
        for (const media of Object.values<any>(response.content ?? {})) if (!isObject(media.schema)) fail(`${where}: response ${code} needs a schema`);
      }
      const seen = new Set<string>();
      for (const p of op.parameters ?? []) {
        if (typeof p.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(p.in)) fail(`${where}: parameter needs a name and an in`);
        if (seen.has(`${p.in} ${p.name}`)) fail(`${where}: parameter ${p.name} twice`);
        seen.add(`${p.in} ${p.name}`);
        if (p.in === 'path' && (p.required !== true || !templated.includes(p.name))) fail(`${where}: path parameter ${p.name} must be required and in the path`);
        if (!isObject(p.schema) && !isObject(p.content)) fail(`${where}: parameter ${p.name} needs a schema`);
      }
      for (const name of templated) if (!(op.parameters ?? []).some((p: any) => p.in === 'path' && p.name === name)) fail(`${where}: {${name}} has no parameter`);
      if (op.requestBody && (!isObject(op.requestBody.content) || Object.keys(op.requestBody.content).length === 0)) fail(`${where}: requestBody needs content`);
    }
  }
  return problems;
}

test('GET /~meta@1.0/openapi is a valid OpenAPI 3 document listing every route', async () => {
  const { node } = fakeNode();
  const r = await request(buildServer(node), 'GET', '/~meta@1.0/openapi');
  assert.is(r.status, 200);
  const doc = r.json();
  assert.equal(openApiProblems(doc), []);
  assert.is(doc.info.version, VERSION);
  for (const device of DEVICES) {
    for (const key of device.keys) {
      const op = doc.paths[templateOf(device, key)]?.[key.method.toLowerCase()];
      assert.ok(op, `${key.method} ${key.usage} is documented`);
      assert.ok(op.tags.includes(device.name));
    }
  }
  // Module and process calls share one operation, whose keys no process needs are optional.
  const compute = doc.paths['/{id}/compute'].get;
  assert.equal(compute.tags, ['wasm-compute@1.0', 'process@1.0']);
  assert.ok(compute.parameters.every((p: any) => p.in === 'path' || p.required === false));
  assert.equal(openApiProblems({ ...doc, openapi: '2.0', paths: { nope: { get: {} } } }).length >= 3, true);
});

test.run();
