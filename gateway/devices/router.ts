// ~router@1.0: ask any node to run something somewhere suitable (docs/routing-section.md). A
// node that is a registry ranks its own list; a node that joined registries (--join) asks them
// (client/network.ts, its list kept 2 s); any other node says it cannot route. The ranking is
// the pure matching of engine/protocol/matching.ts, so this answer and a client's own agree.
//
//   GET  /~router@1.0/route?requires=<list>&module=<id>&seed=<text>&exploration=<0..1>
//        Assumes nothing. `requires` is the CLI's comma list (gpu, gpu=hardware, feature=X,
//        min-memory=N, min-gas-per-second=N, max-price=N, min-reputation=X, cached=ID); the
//        same names are also taken as keys of their own (`&gpu=true&feature=X`). Returns the
//        registry asked, the requirement, the candidates best first (address, url, score and
//        its parts, `explored` for the one exploration moved up) and the nodes left out with
//        why; with no candidate, `reason` says what ruled each out. 400 for a requirement that
//        does not parse; 404 on a node that neither is a registry nor joined one; 503 when no
//        registry answers. No side effects.
//   GET  /~router@1.0/compute?module=<id>&wasm-function=<name>&wasm-params=<JSON array>[&gas-limit=]
//        plus the keys of `route`. Assumes nothing of the call: it is the target's to check.
//        An unsigned call: only nodes without a fee are candidates (one with a fee answers 401).
//        Forwards GET /<module>/Compute with the call's keys to the best candidate, then the
//        next (three at most, each within 10 s), on a connect error, a timeout or a 5xx; a 2xx
//        or 4xx is answered as the node that served gave it, with `x-routed-node` (its address),
//        `x-routed-url` and `x-routed-attempts` (each try: address, then status or error).
//        503 `no-suitable-node` naming what ruled each node out, or `no-node-served` with every
//        attempt. Side effects: those of the call, on the node that served it.
import { badRequest, notFound } from '../../engine/protocol/errors.ts';
import { isId } from '../../engine/protocol/encoding.ts';
import { describeRequirement, explainNone, parseRequirement, type Requirement } from '../../engine/protocol/matching.ts';
import { computePath, Network, type Attempt } from '../../client/network.ts';
import type { NodeContext } from '../context.ts';
import type { Msg } from '../singleton.ts';
import type { Call, Device, Param, Schema } from './device.ts';
import { ID, number, open, string } from './schemas.ts';

/** Requirement names taken as keys of their own as well as inside `requires`. */
const REQUIREMENT_KEYS = ['gpu', 'feature', 'min-memory', 'min-gas-per-second', 'max-price', 'min-reputation', 'cached'] as const;

const ROUTE_PARAMS: Param[] = [
  { name: 'requires', description: 'a comma list: gpu, gpu=hardware, feature=X, min-memory=N, min-gas-per-second=N, max-price=N, min-reputation=X, cached=<module-id>' },
  ...REQUIREMENT_KEYS.map((name) => ({ name, description: `the requirement ${name}, as in requires` })),
  { name: 'module', description: 'the module the job runs: nodes that list it cached are preferred' },
  { name: 'seed', description: 'the job\'s key: makes exploration and ties deterministic (default: none, so no exploration)' },
  { name: 'exploration', description: 'the share of jobs sent to a candidate other than the best, 0 to 1 (default 0.1)' },
];

const RANKED: Schema = open('a candidate', {
  address: ID,
  url: string(),
  score: number('0.6·price + 0.2·perf + 0.2·reputation + 0.1·cached'),
  parts: open('the score\'s terms, 0 to 1', { price: number(), perf: number(), reputation: number(), cached: number() }),
});

const ROUTE: Schema = open('the nodes ranked for a requirement', {
  registry: ID,
  requires: string('the requirement, as a comma list'),
  candidates: { type: 'array', items: RANKED },
  excluded: { type: 'array', items: open('a node left out', { address: ID, url: string(), reasons: { type: 'array', items: string() } }) },
  reason: string('when no candidate: what ruled the nodes out'),
});

const networks = new WeakMap<NodeContext, Network>();

/** This node's way to the registry's list: its own registry, else the registries it joined. */
function networkOf(node: NodeContext): Network {
  let network = networks.get(node);
  if (network) return network;
  const registry = node.registry;
  if (registry) network = new Network({ nodes: () => ({ registry: node.key.address, nodes: registry.list({}) }), cacheMs: 0 });
  else if (node.joined?.length) network = new Network({ registries: node.joined });
  else throw notFound(`this node (${node.key.address}) cannot route: it is not a registry and joined none; start it with --registry or --join <registry-url>, or ask a node that was`);
  networks.set(node, network);
  return network;
}

function requirementOf(call: Call): { requires: Requirement; seed?: string; exploration?: number } {
  const message = call.last;
  const query = queryOf(call);
  const items: string[] = [];
  for (const text of query.getAll('requires')) items.push(text);
  if (query.getAll('requires').length === 0 && typeof message.requires === 'string') items.push(message.requires);
  for (const name of REQUIREMENT_KEYS) {
    const values = query.getAll(name);
    const given = values.length > 0 ? values : message[name] === undefined ? [] : [String(message[name])];
    for (const value of given) items.push(name === 'gpu' && value === '' ? 'gpu' : `${name}=${value}`);
  }
  const requires = parseRequirement(items.join(','));
  const module = text(message.module);
  if (module !== undefined) {
    if (!isId(module)) throw badRequest(`module must be a module ID (43 base64url characters), got ${JSON.stringify(module)}`);
    requires.module ??= module;
  }
  const seed = text(message.seed);
  let exploration: number | undefined;
  if (message.exploration !== undefined) {
    exploration = Number(message.exploration);
    if (!(exploration >= 0 && exploration <= 1)) throw badRequest(`exploration must be a number from 0 to 1, got ${JSON.stringify(message.exploration)}`);
  }
  return { requires, seed, exploration };
}

const text = (value: Msg[string]): string | undefined => (value === undefined ? undefined : String(value));

function queryOf(call: Call): URLSearchParams {
  const url = call.reply.request.url;
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

const attemptsHeader = (attempts: Attempt[]) => attempts.map((a) => `${a.address} ${a.status ?? a.error}`).join(', ').replace(/[^\x20-\x7e]/g, '?').slice(0, 2000);

export const router: Device = {
  name: 'router@1.0',
  address: 'name',
  about: 'matching and routing: rank the registry\'s nodes for a requirement, and forward a stateless call to the best with failover',
  keys: [
    {
      method: 'GET',
      key: 'route',
      usage: '/~router@1.0/route?requires=<list>',
      summary: 'the nodes ranked for a requirement, best first, and those left out with why',
      params: ROUTE_PARAMS,
      response: ROUTE,
      answer: async (call) => {
        const { requires, seed, exploration } = requirementOf(call);
        const network = networkOf(call.node);
        const ranked = await network.rank(requires, { seed, exploration });
        return call.json({
          registry: ranked.registry,
          requires: describeRequirement(requires),
          candidates: ranked.candidates,
          excluded: ranked.excluded,
          ...(ranked.candidates.length === 0 ? { reason: explainNone(ranked, requires) } : {}),
        }, ROUTE);
      },
    },
    {
      method: 'GET',
      key: 'compute',
      usage: '/~router@1.0/compute?module=<module-id>&wasm-function=<name>&wasm-params=<JSON array>',
      summary: 'a stateless call, run by the best suitable node (failing over to the next); x-routed-node says which',
      params: [
        { name: 'module', description: 'the module to call', required: true },
        { name: 'wasm-function', description: 'the exported function to call', required: true },
        { name: 'wasm-params', description: 'its parameters, a JSON array (default [])' },
        { name: 'gas-limit', description: 'the call\'s gas budget' },
        ...ROUTE_PARAMS.filter((p) => p.name !== 'module'),
      ],
      response: open('the record of the node that served it (the Compute answer)'),
      answer: async (call) => {
        const { requires, seed, exploration } = requirementOf(call);
        const query = queryOf(call);
        const module = requires.module;
        if (module === undefined) throw badRequest('module is required: the ID of the module to call');
        const fn = query.get('wasm-function') ?? text(call.last['wasm-function']);
        if (!fn) throw badRequest('wasm-function is required: the exported function to call');
        const params = query.get('wasm-params') ?? '[]';
        const gasLimit = query.get('gas-limit') ?? undefined;
        const network = networkOf(call.node);
        const routed = await network.request(computePath(module, fn, params, gasLimit), {
          // Unsigned: a node with a fee would answer 401, so only free nodes are candidates.
          requires: { ...requires, free: true },
          seed: seed ?? `${module}/${fn}/${params}`,
          exploration,
        });
        const headers: Record<string, string> = {
          'x-routed-node': routed.served.address,
          'x-routed-url': routed.served.url,
          'x-routed-attempts': attemptsHeader(routed.attempts),
        };
        const cache = routed.headers.get('x-cache');
        if (cache) headers['x-cache'] = cache;
        return call.reply
          .code(routed.status)
          .headers({ 'content-type': 'application/json; charset=utf-8', ...headers })
          .send(typeof routed.body === 'string' ? JSON.stringify({ error: 'bad-gateway', message: routed.body }) : JSON.stringify(routed.body));
      },
    },
  ],
};
