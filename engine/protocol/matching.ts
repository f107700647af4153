// Matching and rendezvous placement (docs/routing-section.md, "Matching and routing"): which of
// the nodes a registry lists should run a job, in what order to try them, and where a process's
// replicas go. Pure (views in, a ranking out; no clock, no I/O, no randomness but a seed's hash)
// so that a client, a routing node and a test given the same registry answer and the same seed
// pick the same node. It lives in the protocol layer, not in engine/, because the client
// (client/network.ts) may import only the protocol: it is as much a format as the heartbeat.
//
// The formula, for the candidates C that pass every hard constraint (ONLINE, not refuted, GPU,
// features, memory, gas/s, price, no fee for an unsigned call, module cached when required,
// reputation):
//   cost(c)  = flat + per-kgas · G / 1000             (G: the job's gas, default 1 000 000)
//   price(c) = 1 − |{d in C : cost(d) < cost(c)}| / (|C| − 1)     1 for the cheapest, 0 for the
//              dearest (1 when |C| = 1): a rank, so fees of any scale order the same way
//   perf(c)  = rate(c) / max over C of rate, rate = gas-per-second / (1 + queue); 0 if max is 0
//   rep(c)   = reputation if the view has one, else 0.5 (a neutral prior), clamped to [0, 1]
//   cached(c)= 1 if the job names a module the node lists, else 0
//   score(c) = round6(0.6·price + 0.2·perf + 0.2·rep + 0.1·cached)
// Price weighs most: it is what the user is sure to pay, while gas/s is one benchmark at the
// node's start (noisy on a busy machine) and reputation needs verifiers to have sampled it.
// Higher first; equal scores by the higher rendezvous weight of (seed, address), then address.
// Exploration: with share s (default 0.1) and a seed, h = sha256("hyperwasm-explore\n" + seed);
// if uint32(h[0..4]) / 2^32 < s and |C| ≥ 2, the candidate at rank 1 + uint32(h[4..8]) mod
// (|C| − 1) is moved to the front. Without a seed nothing is explored.
// Rendezvous weight: w(key, address) = uint64, big-endian, of sha256(key + "\n" + address)[0..8].
import { utf8 } from './encoding.ts';
import { badRequest } from './errors.ts';
import { sha256 } from './hash.ts';
import type { HeartbeatGpu } from './heartbeat.ts';

/**
 * What matching reads of a node: the fields of a registry view (GET /~registry@1.0/nodes), so a
 * view is one as it is. `reputation` and `refuted` may be absent (a registry without them).
 */
export interface CandidateView {
  address: string;
  url: string;
  state: string;
  gpu: HeartbeatGpu | 'cpu';
  memory: number;
  'gas-per-second': number;
  queue: number;
  prices: { flat: string; 'per-kgas': string };
  modules: readonly string[];
  reputation?: number;
  refuted?: boolean;
}

/** What a job requires of a node. */
export interface Requirement {
  /** true: a GPU adapter (lavapipe counts: it runs the kernels); 'hardware': a hardware adapter, not a software fallback. */
  gpu?: boolean | 'hardware';
  /** WGSL language features the adapter must all have (implies an adapter). */
  features?: readonly string[];
  /** The lowest total memory, in bytes. */
  minMemory?: number;
  /** The lowest measured gas per second. */
  minGasPerSecond?: number;
  /** The highest per-1000-gas fee. */
  maxPrice?: bigint;
  /** The lowest reputation, 0 to 1 (a node without one counts as 0.5). */
  minReputation?: number;
  /** The node charges no fee (flat and per-kgas 0): what an unsigned call needs, since a node with a fee answers it 401. */
  free?: boolean;
  /** The module the job runs: nodes that list it are preferred (cached: 'prefer', the default) or required. */
  module?: string;
  cached?: 'prefer' | 'require';
}

export interface Weights {
  price: number;
  perf: number;
  reputation: number;
  cached: number;
}

export const DEFAULT_WEIGHTS: Weights = { price: 0.6, perf: 0.2, reputation: 0.2, cached: 0.1 };
export const DEFAULT_EXPLORATION = 0.1;
/** The gas a job is priced at when it does not say (a small call). */
export const DEFAULT_JOB_GAS = 1_000_000;
/** The reputation of a node whose view has none: no evidence either way. */
export const NEUTRAL_REPUTATION = 0.5;

export interface MatchOptions {
  /** Makes exploration and the tie-break deterministic: the job's key (a hashpath, a request ID). */
  seed?: string;
  /** The share of jobs sent to a candidate other than the best (default 0.1); only with a seed. */
  exploration?: number;
  weights?: Weights;
  /** The job's gas, for the cost (default 1 000 000). */
  gas?: number;
}

export interface Ranked {
  address: string;
  url: string;
  score: number;
  /** The terms of the score, before weighting. */
  parts: { price: number; perf: number; reputation: number; cached: number };
  /** This one was moved to the front by exploration. */
  explored?: boolean;
}

export interface Excluded {
  address: string;
  url: string;
  /** Every hard constraint the node fails, in words. */
  reasons: string[];
}

export interface Match {
  candidates: Ranked[];
  excluded: Excluded[];
}

/** Every hard constraint a view fails, in words; none: it is suitable. */
export function unsuitable(view: CandidateView, requires: Requirement): string[] {
  const reasons: string[] = [];
  if (view.state !== 'ONLINE') reasons.push(`it is ${view.state}, not ONLINE`);
  if (view.refuted === true) reasons.push('it was caught attesting a wrong result (refuted)');
  const gpu = view.gpu;
  const wantsAdapter = requires.gpu === true || requires.gpu === 'hardware' || (requires.features?.length ?? 0) > 0;
  if (wantsAdapter && gpu === 'cpu') reasons.push('it has no GPU adapter (it reports cpu)');
  if (requires.gpu === 'hardware' && gpu !== 'cpu' && (gpu.source !== 'hardware' || gpu.fallback)) reasons.push(`its GPU adapter is not hardware (${gpu.source}${gpu.fallback ? ', a software fallback' : ''})`);
  if (gpu !== 'cpu' && requires.features?.length) {
    const missing = requires.features.filter((f) => !gpu.features.includes(f));
    if (missing.length > 0) reasons.push(`its GPU lacks ${missing.join(', ')}`);
  }
  if (requires.minMemory !== undefined && view.memory < requires.minMemory) reasons.push(`it has ${view.memory} bytes of memory, under ${requires.minMemory}`);
  if (requires.minGasPerSecond !== undefined && view['gas-per-second'] < requires.minGasPerSecond) reasons.push(`it measured ${view['gas-per-second']} gas/s, under ${requires.minGasPerSecond}`);
  if (requires.maxPrice !== undefined && BigInt(view.prices['per-kgas']) > requires.maxPrice) reasons.push(`it charges ${view.prices['per-kgas']} per 1000 gas, over ${requires.maxPrice}`);
  if (requires.free && (BigInt(view.prices.flat) > 0n || BigInt(view.prices['per-kgas']) > 0n)) reasons.push(`it charges a fee (${view.prices.flat} per call + ${view.prices['per-kgas']} per 1000 gas), and an unsigned call needs a free node`);
  if (requires.minReputation !== undefined && reputationOf(view) < requires.minReputation) reasons.push(`its reputation ${reputationOf(view)} is under ${requires.minReputation}`);
  if (requires.module !== undefined && requires.cached === 'require' && !view.modules.includes(requires.module)) reasons.push(`it does not list module ${requires.module} as cached`);
  return reasons;
}

const reputationOf = (view: CandidateView): number =>
  typeof view.reputation === 'number' && Number.isFinite(view.reputation) ? Math.min(1, Math.max(0, view.reputation)) : NEUTRAL_REPUTATION;

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** The nodes that may run a job, best first, and those that may not, with why (both by address where unranked). */
export function match(views: readonly CandidateView[], requires: Requirement = {}, options: MatchOptions = {}): Match {
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  const gas = options.gas ?? DEFAULT_JOB_GAS;
  const seed = options.seed ?? '';
  const excluded: Excluded[] = [];
  const suitable: CandidateView[] = [];
  for (const view of [...views].sort((a, b) => compareText(a.address, b.address))) {
    const reasons = unsuitable(view, requires);
    if (reasons.length > 0) excluded.push({ address: view.address, url: view.url, reasons });
    else suitable.push(view);
  }
  // Costs in ledger units as numbers: exact enough to order fees, which are small decimals.
  const cost = (v: CandidateView) => Number(v.prices.flat) + (Number(v.prices['per-kgas']) * gas) / 1000;
  const rate = (v: CandidateView) => Math.max(0, v['gas-per-second']) / (1 + Math.max(0, v.queue));
  const costs = suitable.map(cost);
  const fastest = Math.max(0, ...suitable.map(rate));
  const ranked = suitable.map((v): Ranked & { weight: bigint } => {
    const parts = {
      price: suitable.length === 1 ? 1 : round6(1 - costs.filter((x) => x < cost(v)).length / (suitable.length - 1)),
      perf: fastest > 0 ? round6(rate(v) / fastest) : 0,
      reputation: reputationOf(v),
      cached: requires.module !== undefined && v.modules.includes(requires.module) ? 1 : 0,
    };
    const score = round6(weights.price * parts.price + weights.perf * parts.perf + weights.reputation * parts.reputation + weights.cached * parts.cached);
    return { address: v.address, url: v.url, score, parts, weight: rendezvousWeight(seed, v.address) };
  });
  ranked.sort((a, b) => b.score - a.score || (a.weight === b.weight ? compareText(a.address, b.address) : a.weight > b.weight ? -1 : 1));
  const candidates: Ranked[] = ranked.map(({ weight: _, ...r }) => r);
  const share = options.exploration ?? DEFAULT_EXPLORATION;
  if (options.seed !== undefined && share > 0 && candidates.length >= 2) {
    const pick = exploreIndex(options.seed, share, candidates.length);
    if (pick !== undefined) candidates.unshift({ ...candidates.splice(pick, 1)[0]!, explored: true });
  }
  return { candidates, excluded };
}

/** The rank exploration moves to the front for this seed (1 to n − 1), or undefined when it does not explore. */
export function exploreIndex(seed: string, share: number, n: number): number | undefined {
  if (n < 2 || share <= 0) return undefined;
  const h = sha256(utf8(`hyperwasm-explore\n${seed}`));
  const u = readUint32(h, 0) / 2 ** 32;
  return u < share ? 1 + (readUint32(h, 4) % (n - 1)) : undefined;
}

/** One line saying why no node suits a job: what each constraint ruled out, counted. */
export function explainNone(result: Match, requires: Requirement): string {
  const total = result.excluded.length;
  if (total === 0) return 'the registry lists no nodes';
  const counts = new Map<string, number>();
  for (const e of result.excluded) for (const r of e.reasons) counts.set(kindOf(r), (counts.get(kindOf(r)) ?? 0) + 1);
  const asked = describeRequirement(requires);
  return `none of the ${total} node${total === 1 ? '' : 's'} the registry lists is suitable${asked ? ` for ${asked}` : ''}: ${[...counts].map(([k, n]) => `${n} ${k}`).join('; ')}`;
}

/** A reason's kind, with the node's own figures left out, for counting. */
function kindOf(reason: string): string {
  if (reason.startsWith('it is ')) return `not ONLINE`;
  if (reason.startsWith('it was caught')) return 'refuted';
  if (reason.startsWith('it has no GPU')) return 'without a GPU adapter (they report cpu)';
  if (reason.startsWith('its GPU adapter is not hardware')) return 'with a software GPU adapter only';
  if (reason.startsWith('its GPU lacks')) return `whose GPU lacks a required feature`;
  if (reason.includes('bytes of memory')) return 'with too little memory';
  if (reason.includes('gas/s')) return 'too slow';
  if (reason.startsWith('it charges a fee')) return 'charging a fee (an unsigned call needs a free node; sign it to pay)';
  if (reason.includes('per 1000 gas')) return 'too expensive';
  if (reason.includes('reputation')) return 'with too low a reputation';
  if (reason.includes('as cached')) return 'without the module cached';
  return reason;
}

/** A requirement as a person would write it: `gpu, feature=shader-f16, min-memory=…`. */
export function describeRequirement(requires: Requirement): string {
  const parts: string[] = [];
  if (requires.gpu === true) parts.push('gpu');
  if (requires.gpu === 'hardware') parts.push('gpu=hardware');
  for (const f of requires.features ?? []) parts.push(`feature=${f}`);
  if (requires.minMemory !== undefined) parts.push(`min-memory=${requires.minMemory}`);
  if (requires.minGasPerSecond !== undefined) parts.push(`min-gas-per-second=${requires.minGasPerSecond}`);
  if (requires.maxPrice !== undefined) parts.push(`max-price=${requires.maxPrice}`);
  if (requires.minReputation !== undefined) parts.push(`min-reputation=${requires.minReputation}`);
  if (requires.free) parts.push('free');
  if (requires.module !== undefined && requires.cached === 'require') parts.push(`cached=${requires.module}`);
  return parts.join(', ');
}

/**
 * Reads `--requires` text (the CLI's and the router's `requires=` key): a comma list of `gpu`,
 * `gpu=hardware`, `feature=X`, `min-memory=N`, `min-gas-per-second=N`, `max-price=N`,
 * `min-reputation=X`, `module=ID`, `cached=ID` (the module, required cached). Throws badRequest
 * naming the item it cannot read (400).
 */
export function parseRequirement(text: string): Requirement {
  const requires: Requirement = {};
  const features: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const at = item.indexOf('=');
    const name = (at < 0 ? item : item.slice(0, at)).toLowerCase();
    const value = at < 0 ? undefined : item.slice(at + 1);
    const whole = () => {
      if (value === undefined || !/^(0|[1-9][0-9]*)$/.test(value) || !Number.isSafeInteger(Number(value))) throw badRequest(`${name} takes a whole number, got ${JSON.stringify(value ?? '')}`);
      return Number(value);
    };
    if (name === 'gpu') {
      if (value === undefined || value === 'true' || value === 'any') requires.gpu = true;
      else if (value === 'hardware') requires.gpu = 'hardware';
      else if (value === 'false') delete requires.gpu;
      else throw badRequest(`gpu takes true, hardware or false, got ${JSON.stringify(value)}`);
    } else if (name === 'feature') {
      if (!value || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw badRequest(`feature takes a GPU feature name, got ${JSON.stringify(value ?? '')}`);
      features.push(value);
    } else if (name === 'min-memory') requires.minMemory = whole();
    else if (name === 'min-gas-per-second' || name === 'min-gas') requires.minGasPerSecond = whole();
    else if (name === 'max-price') requires.maxPrice = BigInt(whole());
    else if (name === 'min-reputation') {
      const n = value !== undefined && /^[0-9]*\.?[0-9]+$/.test(value) ? Number(value) : NaN;
      if (!(n >= 0 && n <= 1)) throw badRequest(`min-reputation takes a number from 0 to 1, got ${JSON.stringify(value ?? '')}`);
      requires.minReputation = n;
    } else if (name === 'module' || name === 'cached') {
      if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) throw badRequest(`${name} takes a module ID (43 base64url characters), got ${JSON.stringify(value ?? '')}`);
      requires.module = value;
      if (name === 'cached') requires.cached = 'require';
    } else {
      throw badRequest(`unknown requirement ${JSON.stringify(item)}: use gpu, gpu=hardware, feature=X, min-memory=N, min-gas-per-second=N, max-price=N, min-reputation=X, module=ID or cached=ID`);
    }
  }
  if (features.length > 0) requires.features = [...new Set(features)];
  return requires;
}

/** The rendezvous (highest-random-weight) weight of a node for a key: uint64 BE of sha256(key "\n" address)[0..8]. */
export function rendezvousWeight(key: string, address: string): bigint {
  const h = sha256(utf8(`${key}\n${address}`));
  return (BigInt(readUint32(h, 0)) << 32n) | BigInt(readUint32(h, 4));
}

/**
 * Where `key` (a process, a deployment) goes among suitable nodes: the `replicas` of them with
 * the highest rendezvous weight, highest first (equal weights by address). Adding a node moves
 * only the keys it now wins; removing one moves only the keys it held.
 */
export function place<T extends string | { address: string }>(key: string, candidates: readonly T[], replicas = 1): T[] {
  const addressOf = (c: T) => (typeof c === 'string' ? c : c.address);
  return candidates
    .map((c) => ({ c, w: rendezvousWeight(key, addressOf(c)) }))
    .sort((a, b) => (a.w === b.w ? compareText(addressOf(a.c), addressOf(b.c)) : a.w > b.w ? -1 : 1))
    .slice(0, Math.max(0, replicas))
    .map(({ c }) => c);
}

const readUint32 = (bytes: Uint8Array, at: number): number => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
