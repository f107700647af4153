// ~registry@1.0: the node registry (docs/registry-section.md; engine/registry.ts), answered only
// by a node started with --registry; any other node answers every key with a 404 saying it is
// not a registry. Nodes announce themselves with signed heartbeats; anyone lists them.
//
//   POST /~registry@1.0/heartbeat   body: a signed heartbeat (an ed25519 ANS-104 data item)
//        Assumes nothing of the heartbeat: it is verified (signature, every tag and field) and
//        its sequence must be above the last one taken from that node. Returns the registry's
//        view of the node, its item included. 400 for a malformed heartbeat, 401 for one whose
//        signature does not verify, 409 for a replayed or stale sequence, each with the reason;
//        nothing changes then. Side effects: the node's entry is replaced and kept; a node's
//        first heartbeat is queued for Arweave.
//   POST /~registry@1.0/report      body: a signed verification report (docs/reputation-section.md)
//        Assumes nothing of the report: it is verified, and its evidence checked by the registry
//        itself from Arweave (the attestation signed by the node and holding the statement; for
//        a refutation, the registry's own replay must differ from the attestation). Returns what
//        was taken and the node's view. 400 malformed, 401 bad signature, 403 a self-report or an
//        unknown verifier, 404 an unknown node, 409 a replay or a report adding nothing, 422
//        evidence that does not check out, 503 when it cannot check now; nothing changes then.
//        Side effects: the statement's entry is kept; the node's reputation moves.
//   GET  /~registry@1.0/nodes?gpu=&feature=&min-gas-per-second=&max-price=&state=&min-reputation=
//        Assumes nothing. Returns the nodes that pass every filter given, by address, with
//        their state as judged now (OFFLINE after TTL + grace without a heartbeat). `feature`
//        takes a comma list and may be repeated (the node's adapter must have them all).
//        400 for a filter that does not parse. No side effects.
//   GET  /~registry@1.0/nodes/<address>
//        Assumes nothing. Returns one node's view, its last heartbeat item included; 404 for an
//        address that never sent one here. No side effects.
import { badRequest, notFound } from '../../engine/protocol/errors.ts';
import { VERDICTS } from '../../engine/protocol/verification-report.ts';
import { NODE_STATES, type NodeState } from '../../engine/protocol/heartbeat.ts';
import type { RegistryFilter } from '../../engine/registry.ts';
import type { NodeContext } from '../context.ts';
import type { Msg } from '../singleton.ts';
import { itemBody, wholeNumber, type Call, type Device, type Schema } from './device.ts';
import { ID, number, open, string } from './schemas.ts';

const NODE: Schema = open('a node as the registry sees it: its last signed heartbeat and the registry\'s judgement', {
  address: ID,
  'public-key': string('the node\'s ed25519 public key, unpadded base64url'),
  state: { type: 'string', enum: [...NODE_STATES], description: 'as judged now: OFFLINE once TTL + grace passed without a heartbeat' },
  'announced-state': { type: 'string', enum: [...NODE_STATES] },
  sequence: { type: 'integer' },
  url: string('the node\'s base URL'),
  version: string(),
  gpu: { description: '"cpu", or the adapter {vendor, architecture, device, description, source, fallback, features}' },
  cores: { type: 'integer' },
  memory: { type: 'integer', description: 'bytes' },
  'gas-per-second': { type: 'integer', description: 'measured at the node\'s start on a fixed benchmark' },
  queue: { type: 'integer', description: 'process folds in progress' },
  prices: open('the node\'s own fee', { flat: string(), 'per-kgas': string() }),
  modules: { type: 'array', items: ID },
  time: number('the node\'s clock when it signed, ms since 1970 (informational)'),
  'first-seen': number('registry clock, ms since 1970'),
  'last-heartbeat': number('registry clock at the last heartbeat'),
  'offline-after': number('when the node is OFFLINE without another heartbeat'),
  uptime: open('shares of time ONLINE, 0 to 1', { '24h': number(), '7d': number() }),
  heartbeats: { type: 'integer' },
  reputation: number('from verification reports: (confirmed + 1) / (confirmed + 10·refutations + 2), 0 to 1'),
  refuted: { type: 'boolean', description: 'a refutation of one of its statements was checked and believed by this registry' },
  confirmed: { type: 'integer', description: 'its statements confirmed by verifiers (each once) and not refuted' },
  refutations: { type: 'integer', description: 'its statements refuted with evidence this registry checked' },
  evidence: { type: 'array', description: 'the believed refutations: attestation, index, report, verifier, field, attested, replayed, reason (single-node answers only)' },
  heartbeat: ID,
  item: string('the last heartbeat item, unpadded base64url (single-node answers only)'),
});

const LIST: Schema = open('the nodes passing the filters', {
  registry: ID,
  time: number('the registry\'s clock, ms since 1970'),
  'time-to-live': number('ms a heartbeat keeps a node in its state'),
  grace: number('ms added to the TTL before a silent node is OFFLINE'),
  nodes: { type: 'array', items: NODE },
});

const REPORT: Schema = open('a verification report taken', {
  report: ID,
  verdict: { type: 'string', enum: [...VERDICTS] },
  node: ID,
  verifier: ID,
  attestation: ID,
  index: { type: 'integer' },
  replayed: { type: 'object', description: 'for a refutation: what the registry\'s own replay gave' },
  view: NODE,
});

function registryOf(node: NodeContext): NonNullable<NodeContext['registry']> {
  if (!node.registry) throw notFound(`this node (${node.key.address}) is not a registry: start it with --registry to answer ~registry@1.0, or send heartbeats to a node that was`);
  return node.registry;
}

export const registry: Device = {
  name: 'registry@1.0',
  address: 'name',
  about: 'the node registry: signed heartbeats in, the nodes that sent them out (only on a node started with --registry)',
  keys: [
    {
      method: 'POST',
      key: 'heartbeat',
      usage: '/~registry@1.0/heartbeat',
      summary: 'hand the registry a signed heartbeat',
      body: 'a signed heartbeat (an ed25519 ANS-104 data item, Type: Node-Heartbeat)',
      response: NODE,
      answer: async (call) => {
        const registry = registryOf(call.node);
        return call.json(await registry.accept(itemBody(call)), NODE);
      },
    },
    {
      method: 'POST',
      key: 'report',
      usage: '/~registry@1.0/report',
      summary: 'hand the registry a signed verification report (confirmed, or refuted with evidence it checks itself)',
      body: 'a signed verification report (an ed25519 ANS-104 data item, Type: Verification-Report)',
      response: REPORT,
      answer: async (call) => {
        const registry = registryOf(call.node);
        if (!registry.acceptReport) throw notFound(`this registry (${call.node.key.address}) does not take verification reports`);
        return call.json(await registry.acceptReport(itemBody(call)), REPORT);
      },
    },
    {
      method: 'GET',
      key: 'nodes',
      usage: '/~registry@1.0/nodes',
      summary: 'the registered nodes, filtered; /~registry@1.0/nodes/<address> for one',
      params: [
        { name: 'gpu', description: 'true: only nodes with a GPU adapter (lavapipe too: see gpu.source); false: only those without' },
        { name: 'feature', description: 'GPU features the node must all have: a comma list, or the key repeated' },
        { name: 'min-gas-per-second', description: 'the lowest measured gas per second' },
        { name: 'max-price', description: 'the highest per-1000-gas fee (decimal)' },
        { name: 'state', description: `the state as judged now: ${NODE_STATES.join(', ')}` },
        { name: 'min-reputation', description: 'the lowest reputation, a number from 0 to 1' },
      ],
      trailingId: true,
      response: { oneOf: [LIST, NODE] },
      answer: (call) => {
        const registry = registryOf(call.node);
        const tail = call.messages.at(-1);
        if (typeof tail === 'string') {
          const view = registry.get(tail, { item: true });
          if (!view) throw notFound(`no node ${tail} has sent this registry a heartbeat`);
          return call.json(view, NODE);
        }
        const nodes = registry.list(filterOf(call.last, repeated(call, 'feature')));
        return call.json({ registry: call.node.key.address, time: registry.now(), 'time-to-live': registry.ttlMs, grace: registry.graceMs, nodes }, LIST);
      },
    },
  ],
};

/** A query key given more than once: the grammar keeps the last, so the others are read from the URL itself. */
function repeated(call: Call, name: string): string[] {
  const url = call.reply.request.url;
  const q = url.indexOf('?');
  return q < 0 ? [] : new URLSearchParams(url.slice(q + 1)).getAll(name);
}

function filterOf(message: Msg, features: string[]): RegistryFilter {
  const filter: RegistryFilter = {};
  if (message.gpu !== undefined) {
    const gpu = String(message.gpu).toLowerCase();
    if (gpu !== 'true' && gpu !== 'false') throw badRequest(`gpu must be true or false, got ${JSON.stringify(message.gpu)}`);
    filter.gpu = gpu === 'true';
  }
  const wanted = [...features, ...(typeof message.feature === 'string' ? [message.feature] : [])].flatMap((f) => f.split(',')).map((f) => f.trim()).filter((f) => f !== '');
  if (message.feature !== undefined && typeof message.feature !== 'string') throw badRequest('feature must be a GPU feature name or a comma list of them');
  if (wanted.length > 0) filter.features = [...new Set(wanted)];
  if (message['min-gas-per-second'] !== undefined) filter.minGasPerSecond = wholeNumber(message['min-gas-per-second'], 'min-gas-per-second');
  if (message['max-price'] !== undefined) {
    const price = String(message['max-price']);
    if (!/^(0|[1-9][0-9]*)$/.test(price)) throw badRequest(`max-price must be a whole decimal number (the per-1000-gas fee), got ${JSON.stringify(message['max-price'])}`);
    filter.maxPrice = BigInt(price);
  }
  if (message.state !== undefined) {
    const state = String(message.state).toUpperCase();
    if (!(NODE_STATES as readonly string[]).includes(state)) throw badRequest(`state must be one of ${NODE_STATES.join(', ')}, got ${JSON.stringify(message.state)}`);
    filter.state = state as NodeState;
  }
  if (message['min-reputation'] !== undefined) {
    const text = String(message['min-reputation']);
    const value = /^[0-9]*\.?[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(value >= 0 && value <= 1)) throw badRequest(`min-reputation must be a number from 0 to 1, got ${JSON.stringify(message['min-reputation'])}`);
    filter.minReputation = value;
  }
  return filter;
}

