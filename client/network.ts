// A client-side router (docs/routing-section.md): asks a registry which nodes there are (kept a
// couple of seconds, so a burst of calls asks once), ranks them for a job with the pure matching
// of engine/protocol/matching.ts, and sends the request to the best one, then the next, each
// with its own timeout. It moves on only where another node could do better: a connect error,
// a timeout or a 5xx. A 4xx is the request's own fault, which every node would answer alike, so
// it is returned, not retried. The answer says which node served it and every attempt made.
import { HyperError } from '../engine/protocol/errors.ts';
import { explainNone, match, type CandidateView, type Match, type MatchOptions, type Ranked, type Requirement } from '../engine/protocol/matching.ts';
import { callTags } from '../engine/protocol/vocabulary.ts';
import { NodeError, signItem, type Params, type Signer } from './node-client.ts';

/** What a registry's GET /~registry@1.0/nodes answers (the fields routing reads). */
export interface NodeList {
  registry: string;
  nodes: CandidateView[];
}

export interface NetworkOptions {
  /** Registries' base URLs, asked in order until one answers. */
  registries?: readonly string[];
  /** Instead of asking over HTTP: the list itself (a node that is a registry hands over its own). */
  nodes?: () => Promise<NodeList> | NodeList;
  /** How long a registry's list is reused, in ms (default 2000; 0: asked every time). */
  cacheMs?: number;
  /** Each node's time to answer in full, in ms (default 10 000). */
  timeoutMs?: number;
  /** Candidates tried at most per request (default 3). */
  maxAttempts?: number;
  /** How long a node that could not be reached is tried after the others, in ms (default 30 000). */
  penaltyMs?: number;
  exploration?: number;
  weights?: MatchOptions['weights'];
  clock?: () => number;
}

/** One try of one node. */
export interface Attempt {
  address: string;
  url: string;
  /** The HTTP status, when it answered. */
  status?: number;
  /** Why it did not serve: `connect error (ECONNREFUSED)`, `timed out after 10000 ms`, `HTTP 503: …`. */
  error?: string;
  ms: number;
}

export interface Routed {
  /** The answer's status: 2xx, or the 4xx the request earned. */
  status: number;
  headers: Headers;
  /** The answer parsed as JSON, or its text where it is not JSON. */
  body: any;
  served: { address: string; url: string };
  attempts: Attempt[];
  /** The ranking tried, best first. */
  candidates: Ranked[];
}

export interface RouteOptions extends Omit<MatchOptions, 'weights'> {
  requires?: Requirement;
  method?: 'GET' | 'POST';
  body?: Uint8Array;
  headers?: Record<string, string>;
}

/** A 4xx from the node that served a routed call: the request's own fault. */
export class RoutedError extends NodeError {
  constructor(readonly routed: Routed) {
    super(routed.status, typeof routed.body === 'object' && routed.body !== null ? routed.body : { message: String(routed.body) });
  }
}

export const DEFAULT_NETWORK_CACHE_MS = 2_000;
export const DEFAULT_NODE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 3;

export class Network {
  private readonly options: NetworkOptions;
  private readonly clock: () => number;
  private cached: { at: number; list: NodeList } | undefined;
  /** Nodes that could not be reached, until when they go last. */
  private readonly down = new Map<string, number>();

  constructor(options: NetworkOptions | string) {
    this.options = typeof options === 'string' ? { registries: [options] } : options;
    this.clock = this.options.clock ?? Date.now;
    if (!this.options.nodes && !this.options.registries?.length) throw new HyperError('invalid', 'bad-request', 'a network needs a registry URL to ask for its nodes');
  }

  /** The registry's list, reused for cacheMs. 503 when no registry answers. */
  async list(): Promise<NodeList> {
    const now = this.clock();
    const cacheMs = this.options.cacheMs ?? DEFAULT_NETWORK_CACHE_MS;
    if (this.cached && now - this.cached.at < cacheMs) return this.cached.list;
    const list = this.options.nodes ? await this.options.nodes() : await this.ask();
    this.cached = { at: now, list };
    return list;
  }

  /** Forgets the cached list: the next request asks the registry again. */
  refresh(): void {
    this.cached = undefined;
  }

  /** The nodes ranked for a job, and those left out with why (nodes that could not be reached lately go last). */
  async rank(requires: Requirement = {}, options: Omit<MatchOptions, 'weights'> = {}): Promise<Match & { registry: string }> {
    const list = await this.list();
    const result = match(list.nodes, requires, { exploration: this.options.exploration, weights: this.options.weights, ...options });
    const now = this.clock();
    const late = (r: Ranked) => (this.down.get(r.address) ?? 0) > now;
    return { registry: list.registry, excluded: result.excluded, candidates: [...result.candidates.filter((r) => !late(r)), ...result.candidates.filter(late)] };
  }

  /**
   * Sends `path` (with its query) to the best node for `requires`, failing over as the header
   * says. 503 `no-suitable-node` naming what ruled each node out when none suits; 503
   * `no-node-served` with every attempt when none of those tried served.
   */
  async request(path: string, options: RouteOptions = {}): Promise<Routed> {
    const { requires = {}, method, body, headers, ...matching } = options;
    const ranked = await this.rank(requires, matching);
    if (ranked.candidates.length === 0) {
      throw new HyperError('unavailable', 'no-suitable-node', explainNone(ranked, requires), { registry: ranked.registry, excluded: ranked.excluded });
    }
    return this.forward(ranked.candidates, path, { method, body, headers });
  }

  /** Tries `candidates` in order (at most maxAttempts of them) until one serves `path`; a node not reached goes last for penaltyMs. */
  forward(candidates: readonly { address: string; url: string }[], path: string, init: ForwardInit = {}): Promise<Routed> {
    return forward(candidates, path, init, {
      timeoutMs: this.options.timeoutMs,
      maxAttempts: this.options.maxAttempts,
      clock: this.clock,
      unreachable: (address) => this.down.set(address, this.clock() + (this.options.penaltyMs ?? 30_000)),
      served: (address) => this.down.delete(address),
    });
  }

  /**
   * A signed stateless call (POST /<module>/compute), routed: charged to the signer by the node
   * that serves it at that node's price (§19), so nodes with a fee are candidates. The item is
   * signed once and each node charges it at most once; a node not reached charged nothing, one
   * that timed out may have. Throws RoutedError for a 4xx (402: top up on that node).
   */
  async paidCall(signer: Signer, module: string, fn: string, params: Params = [], options: Omit<RouteOptions, 'method' | 'body'> & { gasLimit?: number | string } = {}): Promise<Routed> {
    const { gasLimit, ...route } = options;
    const item = await signItem(signer, { tags: callTags(fn, gasLimit), data: typeof params === 'string' ? params : JSON.stringify(params) });
    const routed = await this.request(`/${encodeURIComponent(module)}/compute`, {
      seed: `${module}/${fn}/${typeof params === 'string' ? params : JSON.stringify(params)}`,
      ...route,
      requires: { module, ...route.requires },
      method: 'POST',
      body: item.raw,
    });
    if (routed.status >= 400) throw new RoutedError(routed);
    return routed;
  }

  /** A free stateless call, routed among nodes without a fee; throws RoutedError for a 4xx (with `routed`). */
  async call(module: string, fn: string, params: Params = [], options: Omit<RouteOptions, 'method' | 'body'> & { gasLimit?: number | string } = {}): Promise<Routed> {
    const { gasLimit, ...route } = options;
    const routed = await this.request(computePath(module, fn, params, gasLimit), {
      // The same call goes the same way (and so to a warm cache) unless told otherwise.
      seed: `${module}/${fn}/${typeof params === 'string' ? params : JSON.stringify(params)}`,
      ...route,
      // A node with a fee answers an unsigned call 401: only free nodes can serve it.
      requires: { module, free: true, ...route.requires },
    });
    if (routed.status >= 400) throw new RoutedError(routed);
    return routed;
  }

  /** Asks each registry in turn for its node list. */
  private async ask(): Promise<NodeList> {
    const faults: string[] = [];
    for (const registry of this.options.registries ?? []) {
      const base = registry.replace(/\/+$/, '');
      const outcome = await fetchWithin(`${base}/~registry@1.0/nodes`, {}, this.options.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS);
      if ('error' in outcome) {
        faults.push(`${base}: ${outcome.error}`);
        continue;
      }
      const body = parse(outcome.text);
      if (outcome.response.ok && body && Array.isArray(body.nodes)) return { registry: String(body.registry ?? base), nodes: body.nodes };
      faults.push(`${base}: HTTP ${outcome.response.status}: ${messageOf(outcome.text)}`);
    }
    throw new HyperError('unavailable', 'registry-unavailable', `no registry gave its node list: ${faults.join('; ')}`, { retryAfterSeconds: 5 });
  }
}

export interface ForwardInit {
  method?: 'GET' | 'POST';
  body?: Uint8Array;
  headers?: Record<string, string>;
}

export interface ForwardOptions {
  timeoutMs?: number;
  maxAttempts?: number;
  clock?: () => number;
  /** Told of a node that could not be reached (connect error or timeout). */
  unreachable?(address: string): void;
  /** Told of the node that served. */
  served?(address: string): void;
}

/**
 * The failover rule: tries each node in order (maxAttempts at most, default 3), each within
 * timeoutMs; moves on after a connect error, a timeout or a 5xx; returns the first 2xx, 3xx or
 * 4xx as it came. 503 `no-node-served` with every attempt when none served.
 */
export async function forward(candidates: readonly { address: string; url: string }[], path: string, init: ForwardInit = {}, options: ForwardOptions = {}): Promise<Routed> {
  const clock = options.clock ?? Date.now;
  const attempts: Attempt[] = [];
  const timeoutMs = options.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  const tried = candidates.slice(0, Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS));
  for (const node of tried) {
    const started = clock();
    const outcome = await fetchWithin(`${node.url.replace(/\/+$/, '')}${path}`, init, timeoutMs);
    const ms = clock() - started;
    if ('error' in outcome) {
      attempts.push({ address: node.address, url: node.url, error: outcome.error, ms });
      options.unreachable?.(node.address);
      continue;
    }
    const { response, text } = outcome;
    if (response.status >= 500) {
      attempts.push({ address: node.address, url: node.url, status: response.status, error: `HTTP ${response.status}: ${messageOf(text)}`, ms });
      continue;
    }
    options.served?.(node.address);
    attempts.push({ address: node.address, url: node.url, status: response.status, ms });
    return { status: response.status, headers: response.headers, body: parse(text), served: { address: node.address, url: node.url }, attempts, candidates: candidates as Ranked[] };
  }
  const left = candidates.length - tried.length;
  throw new HyperError('unavailable', 'no-node-served',
    `no node served ${init.method ?? 'GET'} ${path.split('?')[0]}: ${attempts.map((a) => `${a.url} (${a.address.slice(0, 8)}…): ${a.error}`).join('; ')}${left > 0 ? `; ${left} more candidate${left === 1 ? '' : 's'} not tried` : ''}`,
    { attempts, retryAfterSeconds: 5 });
}

/** The path of a stateless GET call (as NodeClient.call sends it). */
export function computePath(module: string, fn: string, params: Params = [], gasLimit?: number | string): string {
  const query = new URLSearchParams({ 'wasm-function': fn, 'wasm-params': typeof params === 'string' ? params : JSON.stringify(params) });
  if (gasLimit !== undefined) query.set('gas-limit', String(gasLimit));
  return `/${encodeURIComponent(module)}/Compute?${query}`;
}

/** A request and its whole body within `timeoutMs`, or why not, in words. */
async function fetchWithin(url: string, init: { method?: string; body?: Uint8Array; headers?: Record<string, string> }, timeoutMs: number): Promise<{ response: Response; text: string } | { error: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      ...(init.body ? { body: init.body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream', ...init.headers } } : { headers: init.headers }),
      redirect: 'manual',
      signal: controller.signal,
    });
    return { response, text: await response.text() };
  } catch (error) {
    if (controller.signal.aborted) return { error: `timed out after ${timeoutMs} ms` };
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: `connect error (${cause?.code ?? cause?.message ?? (error as Error).message})` };
  } finally {
    clearTimeout(timer);
  }
}

function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function messageOf(text: string): string {
  const body = parse(text);
  const message = typeof body === 'object' && body !== null && typeof body.message === 'string' ? body.message : text;
  return message.replace(/\s+/g, ' ').slice(0, 200);
}
