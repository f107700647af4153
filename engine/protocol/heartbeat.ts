// Node heartbeats and registry summaries (docs/registry-section.md, "Node registry and
// heartbeats"): how a node tells a registry, signed with its own key, that it is there, where,
// in what state and with what it can offer; and how a registry states, signed with its key,
// what it saw. Both are ed25519 ANS-104 items without target or anchor, their data canonical
// JSON, so the same fields always give the same bytes and ID, a registry can hand them on for
// others to check, and GraphQL finds them by owner and tags. Pure: bytes in, bytes out.
//
// A heartbeat's Sequence is strictly increasing per node: whoever holds the last one refuses a
// replay or an older one, so a captured heartbeat cannot bring a node back, or change its state.
import { createDataItem, parseDataItem, verifyDataItem, type DataItem, type Ed25519Signer, type Tag } from './ans104/data-item.ts';
import { b64url, canonicalJson, isId, utf8, utf8Text } from './encoding.ts';
import { badRequest, HyperError } from './errors.ts';
import { baseUrlFault } from './location.ts';
import { DATA_PROTOCOL, VARIANT } from './vocabulary.ts';
import { exactKeys, expect, isObject, onlyTag } from './item-fields.ts';

export const HEARTBEAT_TYPE = 'Node-Heartbeat';
export const SUMMARY_TYPE = 'Registry-Summary';
/** The outbox group (and so the published bundle's `Process` tag) of what a registry publishes. */
export const registryGroup = (registry: string): string => `registry/${registry}`;

export const NODE_STATES = ['JOINING', 'ONLINE', 'DRAINING', 'OFFLINE'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** A whole heartbeat item at most (a larger one is refused before it is parsed). */
export const MAX_HEARTBEAT_BYTES = 16 * 1024;
/** Module IDs a heartbeat lists at most: a sample of the cache, not an inventory. */
export const MAX_MODULES = 100;
const MAX_FEATURES = 64;
const MAX_TEXT = 256;

/** The adapter serving the node's kernel calls, as `~meta@1.0/gpu` reports it; "cpu" when none. */
export interface HeartbeatGpu {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  source: 'hardware' | 'lavapipe' | 'system-fallback';
  fallback: boolean;
  /** WGSL language features (what `feature=` filters match). */
  features: string[];
}

export interface HeartbeatFields {
  /** Strictly increasing per node (`Sequence` tag). */
  sequence: number;
  state: NodeState;
  /** The node's base URL, in the one spelling a location record uses. */
  url: string;
  /** The node's software version. */
  version: string;
  gpu: HeartbeatGpu | 'cpu';
  cores: number;
  /** Total memory in bytes. */
  memory: number;
  /** Metered gas per second, measured once at start by a fixed benchmark (0: not measured). */
  gasPerSecond: number;
  /** Work the node has in hand (process folds in progress). */
  queue: number;
  /** The node's own fee: flat per priced call, per 1000 gas; decimal strings. */
  prices: { flat: string; perKgas: string };
  /** IDs of modules the node holds verified (at most MAX_MODULES). */
  modules: string[];
  /** The node's clock in ms when it signed: informational; a registry judges liveness by its own clock. */
  time: number;
}

export interface Heartbeat extends HeartbeatFields {
  /** The signer's address: b64url(sha256(public key)). */
  address: string;
  /** The 32-byte ed25519 public key, unpadded base64url. */
  publicKey: string;
  id: string;
  raw: Uint8Array;
}

/** The heartbeat's tags, in the order they are written; the rest of the fields are its data. */
export function heartbeatTags(fields: Pick<HeartbeatFields, 'sequence' | 'state' | 'url' | 'version'>): Tag[] {
  return [
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: HEARTBEAT_TYPE },
    { name: 'Sequence', value: String(fields.sequence) },
    { name: 'State', value: fields.state },
    { name: 'Url', value: fields.url },
    { name: 'Node-Version', value: fields.version },
    { name: 'Content-Type', value: 'application/json' },
  ];
}

/** The heartbeat's data: canonical JSON of the fields its tags do not carry. */
export function heartbeatData(fields: HeartbeatFields): Uint8Array {
  return utf8(
    canonicalJson({
      cores: fields.cores,
      'gas-per-second': fields.gasPerSecond,
      gpu: fields.gpu,
      memory: fields.memory,
      modules: fields.modules,
      prices: { flat: fields.prices.flat, 'per-kgas': fields.prices.perKgas },
      queue: fields.queue,
      time: fields.time,
    }),
  );
}

/** Signs a heartbeat; throws badRequest for a field that would make it invalid. */
export function signHeartbeat(signer: Ed25519Signer, fields: HeartbeatFields): Heartbeat {
  return readHeartbeat(createDataItem(signer, { tags: heartbeatTags(fields), data: heartbeatData(fields) }));
}

/**
 * The heartbeat an item holds, checked: size, signature, key type, shape, every tag and every
 * data field. Throws badRequest (400) saying what is malformed, or an `unauthenticated` error
 * (401) when the signature does not verify: the item does not come from the key it names.
 */
export function readHeartbeat(input: Uint8Array | DataItem): Heartbeat {
  const item = parsed(input, 'heartbeat', MAX_HEARTBEAT_BYTES);
  const what = `heartbeat ${item.id}`;
  checkSigned(item, what);
  const tag = (name: string) => onlyTag(item, what, name);
  expect(what, 'Data-Protocol', tag('Data-Protocol'), DATA_PROTOCOL);
  expect(what, 'Variant', tag('Variant'), VARIANT);
  expect(what, 'Type', tag('Type'), HEARTBEAT_TYPE);
  expect(what, 'Content-Type', tag('Content-Type'), 'application/json');
  const state = tag('State');
  if (!(NODE_STATES as readonly string[]).includes(state)) throw badRequest(`${what}: State must be one of ${NODE_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  const url = tag('Url');
  const fault = baseUrlFault(url);
  if (fault) throw badRequest(`${what}: Url ${JSON.stringify(url)} is not a base URL: ${fault}`);
  const data = canonicalData(item, what) as Record<string, unknown>;
  exactKeys(what, 'its data', data, ['cores', 'gas-per-second', 'gpu', 'memory', 'modules', 'prices', 'queue', 'time']);
  const prices = data.prices as Record<string, unknown>;
  if (!isObject(prices)) throw badRequest(`${what}: prices must be an object {flat, per-kgas}`);
  exactKeys(what, 'prices', prices, ['flat', 'per-kgas']);
  return {
    address: item.ownerAddress,
    publicKey: b64url(item.owner),
    sequence: whole(what, 'Sequence', decimalTag(what, 'Sequence', tag('Sequence'))),
    state: state as NodeState,
    url,
    version: version(what, tag('Node-Version')),
    gpu: gpuOf(what, data.gpu),
    cores: whole(what, 'cores', data.cores, 1),
    memory: whole(what, 'memory', data.memory),
    gasPerSecond: whole(what, 'gas-per-second', data['gas-per-second']),
    queue: whole(what, 'queue', data.queue),
    prices: { flat: amount(what, 'prices.flat', prices.flat), perKgas: amount(what, 'prices.per-kgas', prices['per-kgas']) },
    modules: moduleIds(what, data.modules),
    time: whole(what, 'time', data.time),
    id: item.id,
    raw: item.raw,
  };
}

// ---------------------------------------------------------------------------------------
// Registry summaries

/** One node as a summary states it: what the registry held of it at the summary's time. */
export interface SummaryNode {
  address: string;
  state: NodeState;
  sequence: number;
  /** The ID of the last heartbeat the registry accepted from it. */
  heartbeat: string;
  'first-seen': number;
  'last-heartbeat': number;
  /** Shares of time ONLINE, 0 to 1. */
  'uptime-24h': number;
  'uptime-7d': number;
}

export interface Summary {
  /** The registry's address, the summary's signer. */
  registry: string;
  /** The registry's clock in ms when it signed. */
  time: number;
  nodes: SummaryNode[];
  id: string;
  raw: Uint8Array;
}

export function signSummary(signer: Ed25519Signer, fields: { time: number; nodes: SummaryNode[] }): Summary {
  const nodes = [...fields.nodes].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const item = createDataItem(signer, {
    tags: [
      { name: 'Data-Protocol', value: DATA_PROTOCOL },
      { name: 'Variant', value: VARIANT },
      { name: 'Type', value: SUMMARY_TYPE },
      { name: 'Registry-Time', value: String(fields.time) },
      { name: 'Nodes', value: String(nodes.length) },
      { name: 'Content-Type', value: 'application/json' },
    ],
    data: utf8(canonicalJson({ nodes, time: fields.time })),
  });
  return readSummary(item);
}

/** The summary an item holds, checked as a heartbeat is (the nodes' fields for their types). */
export function readSummary(input: Uint8Array | DataItem): Summary {
  const item = parsed(input, 'registry summary');
  const what = `registry summary ${item.id}`;
  checkSigned(item, what);
  const tag = (name: string) => onlyTag(item, what, name);
  expect(what, 'Data-Protocol', tag('Data-Protocol'), DATA_PROTOCOL);
  expect(what, 'Variant', tag('Variant'), VARIANT);
  expect(what, 'Type', tag('Type'), SUMMARY_TYPE);
  const data = canonicalData(item, what) as Record<string, unknown>;
  exactKeys(what, 'its data', data, ['nodes', 'time']);
  const time = whole(what, 'time', data.time);
  if (tag('Registry-Time') !== String(time)) throw badRequest(`${what}: Registry-Time ${tag('Registry-Time')} is not its data's time ${time}`);
  if (!Array.isArray(data.nodes)) throw badRequest(`${what}: nodes must be an array`);
  if (tag('Nodes') !== String(data.nodes.length)) throw badRequest(`${what}: Nodes ${tag('Nodes')} is not the ${data.nodes.length} nodes its data lists`);
  const nodes = data.nodes.map((node: unknown, i: number): SummaryNode => {
    const at = `nodes[${i}]`;
    if (!isObject(node)) throw badRequest(`${what}: ${at} must be an object`);
    exactKeys(what, at, node, ['address', 'first-seen', 'heartbeat', 'last-heartbeat', 'sequence', 'state', 'uptime-24h', 'uptime-7d']);
    if (!isId(node.address) || !isId(node.heartbeat)) throw badRequest(`${what}: ${at}.address and .heartbeat must be 43 base64url characters`);
    if (!(NODE_STATES as readonly unknown[]).includes(node.state)) throw badRequest(`${what}: ${at}.state must be one of ${NODE_STATES.join(', ')}`);
    return {
      address: node.address,
      state: node.state as NodeState,
      sequence: whole(what, `${at}.sequence`, node.sequence),
      heartbeat: node.heartbeat,
      'first-seen': whole(what, `${at}.first-seen`, node['first-seen']),
      'last-heartbeat': whole(what, `${at}.last-heartbeat`, node['last-heartbeat']),
      'uptime-24h': share(what, `${at}.uptime-24h`, node['uptime-24h']),
      'uptime-7d': share(what, `${at}.uptime-7d`, node['uptime-7d']),
    };
  });
  return { registry: item.ownerAddress, time, nodes, id: item.id, raw: item.raw };
}

// ---------------------------------------------------------------------------------------
// Checks

function parsed(input: Uint8Array | DataItem, what: string, maxBytes?: number): DataItem {
  const length = input instanceof Uint8Array ? input.length : input.raw.length;
  if (maxBytes !== undefined && length > maxBytes) throw badRequest(`${what}: ${length} bytes is over the ${maxBytes}-byte limit`);
  if (!(input instanceof Uint8Array)) return input;
  try {
    return parseDataItem(input);
  } catch (error) {
    throw badRequest(`${what}: not an ANS-104 data item (${(error as Error).message})`);
  }
}

function checkSigned(item: DataItem, what: string): void {
  if (item.signatureType !== 2) throw badRequest(`${what}: it must be signed with an ed25519 key (signature type 2), not type ${item.signatureType}`);
  if (!verifyDataItem(item)) throw new HyperError('unauthenticated', 'bad-signature', `${what}: its signature does not verify for the key it names (${item.ownerAddress}); it was forged or altered`);
  if (item.target !== undefined) throw badRequest(`${what}: it must have no target`);
  if (item.anchor !== undefined) throw badRequest(`${what}: it must have no anchor (its sequence number is what orders it)`);
}

/** The data as JSON, refused unless written exactly as canonical JSON: one spelling per value. */
function canonicalData(item: DataItem, what: string): unknown {
  const text = utf8Text(item.data);
  let value: unknown;
  try {
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isObject(value)) throw badRequest(`${what}: its data must be a JSON object (UTF-8)`);
  if (canonicalJson(value) !== text) throw badRequest(`${what}: its data must be written as canonical JSON (keys sorted, no spaces)`);
  return value;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function decimalTag(what: string, name: string, value: string): number {
  if (!DECIMAL.test(value)) throw badRequest(`${what}: ${name} must be a whole decimal number without leading zeros, got ${JSON.stringify(value)}`);
  return Number(value);
}

function whole(what: string, name: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw badRequest(`${what}: ${name} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  return value;
}

function share(what: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw badRequest(`${what}: ${name} must be a number from 0 to 1, got ${JSON.stringify(value)}`);
  return value;
}

function amount(what: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || !DECIMAL.test(value) || value.length > 40) throw badRequest(`${what}: ${name} must be a decimal string without sign or leading zeros, got ${JSON.stringify(value)}`);
  return value;
}

function text(what: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw badRequest(`${what}: ${name} must be a string of at most ${MAX_TEXT} characters`);
  return value;
}

function version(what: string, value: string): string {
  if (value.length === 0 || value.length > 64 || !/^[\x21-\x7e]+$/.test(value)) {
    throw badRequest(`${what}: Node-Version must be 1 to 64 printable ASCII characters without spaces, got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return value;
}

function moduleIds(what: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_MODULES) throw badRequest(`${what}: modules must be an array of at most ${MAX_MODULES} module IDs`);
  for (const id of value) if (!isId(id)) throw badRequest(`${what}: modules must hold module IDs (43 base64url characters), got ${JSON.stringify(id)}`);
  if (new Set(value).size !== value.length) throw badRequest(`${what}: modules lists an ID twice`);
  return value as string[];
}

const GPU_SOURCES = ['hardware', 'lavapipe', 'system-fallback'];

function gpuOf(what: string, value: unknown): HeartbeatGpu | 'cpu' {
  if (value === 'cpu') return 'cpu';
  if (!isObject(value)) throw badRequest(`${what}: gpu must be "cpu" or the adapter {vendor, architecture, device, description, source, fallback, features}`);
  exactKeys(what, 'gpu', value, ['architecture', 'description', 'device', 'fallback', 'features', 'source', 'vendor']);
  if (!GPU_SOURCES.includes(value.source as string)) throw badRequest(`${what}: gpu.source must be one of ${GPU_SOURCES.join(', ')}, got ${JSON.stringify(value.source)}`);
  if (typeof value.fallback !== 'boolean') throw badRequest(`${what}: gpu.fallback must be true or false`);
  const features = value.features;
  if (!Array.isArray(features) || features.length > MAX_FEATURES || !features.every((f) => typeof f === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(f))) {
    throw badRequest(`${what}: gpu.features must be at most ${MAX_FEATURES} feature names (letters, digits, _ and -)`);
  }
  return {
    vendor: text(what, 'gpu.vendor', value.vendor),
    architecture: text(what, 'gpu.architecture', value.architecture),
    device: text(what, 'gpu.device', value.device),
    description: text(what, 'gpu.description', value.description),
    source: value.source as HeartbeatGpu['source'],
    fallback: value.fallback,
    features: features as string[],
  };
}

/**
 * The heartbeat's gpu field from the node's adapter description (engine/gpu/adapter.ts
 * GpuDescription, given structurally: the protocol imports nothing of the GPU layer).
 */
export function heartbeatGpu(description: { backend: string; vendor: string; architecture: string; device: string; description: string; source: string; isFallbackAdapter: boolean; features: string[] }): HeartbeatGpu | 'cpu' {
  if (description.backend !== 'gpu' || !GPU_SOURCES.includes(description.source)) return 'cpu';
  const cut = (s: string) => s.slice(0, MAX_TEXT);
  return {
    vendor: cut(description.vendor),
    architecture: cut(description.architecture),
    device: cut(description.device),
    description: cut(description.description),
    source: description.source as HeartbeatGpu['source'],
    fallback: description.isFallbackAdapter,
    features: description.features.filter((f) => /^[A-Za-z0-9_-]{1,64}$/.test(f)).slice(0, MAX_FEATURES),
  };
}
