// The explorer: a page a person opens in a browser to see the network, this node, its recent
// attestations and a few figures over time, and to check an answer in the browser itself
// (gateway/explorer/verify.ts). Read-only JSON routes under /~explorer/ feed the page; the page
// is gateway/explorer/app.ts (preact + htm, uPlot), bundled by esbuild on its first request and
// kept in memory, so nothing comes from a CDN and `npm ci` is the only build. These are plain
// fastify routes beside the singleton front door (fastify prefers them to its `/*`), as AO's
// legacy routes are: they are a view for people, not part of the protocol's device table.
//
//   GET /~explorer              the page (also GET / for a client whose Accept prefers text/html;
//                               any other client gets the 404 help as before)
//   GET /~explorer/app.js       the page's script, one bundle
//   GET /~explorer/overview     {node, network, here}: the node's info, the registry's nodes (its
//                               own, or those of the registries it joined), its modules, processes
//                               with their latest slots, outbox and deliveries, gas served
//   GET /~explorer/attestations?limit=N   the newest attestation statements this node signed,
//                               each with its proof and its verification status
//   GET /~explorer/item/<id>    {id, item}: an attestation item's bytes (base64url), for the
//                               browser's signature check (which checks them against the ID)
//   GET /~explorer/stats        {interval, samples: [{time, requests, gas, heartbeats}]}: a ring
//                               of running totals sampled every few seconds
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../../engine/store.ts';
import type { NodeRegistry, NodeView } from '../../engine/registry.ts';
import type { Heartbeats } from '../../engine/heartbeats.ts';
import type { Scheduler } from '../../engine/scheduler.ts';
import type { Deliverer } from '../../engine/delivery/deliverer.ts';
import { parseDataItem } from '../../engine/protocol/ans104/data-item.ts';
import { leafHash, merkleTree } from '../../engine/protocol/merkle.ts';
import { statementBytes, type Statement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';
import { b64url } from '../../engine/protocol/encoding.ts';
import type { Totals } from '../metrics.ts';

/** What the explorer reads of the node (gateway/node.ts's Node has it all). */
export interface ExplorerSource {
  key: { address: string };
  info(): Record<string, unknown>;
  store: Pick<Store, 'modules' | 'moduleMeta' | 'processes' | 'processResults' | 'attestations' | 'verifications'>;
  scheduler: Pick<Scheduler, 'currentSlot'>;
  deliverer: Pick<Deliverer, 'outbox'>;
  registry?: Pick<NodeRegistry, 'list' | 'now' | 'ttlMs' | 'graceMs'>;
  heartbeats?: Pick<Heartbeats, 'latest' | 'targets'>;
}

export interface ExplorerOptions {
  /** The registries this node joined (base URLs): their node lists are shown when this node is not one. */
  joined: readonly string[];
  totals: Totals;
  /** Between samples of the stats ring, in ms (default 5000). */
  sampleMs?: number;
}

export interface Explorer {
  stop(): void;
}

const HTML_TYPE = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const SAMPLES = 720; // an hour at the default interval
const MAX_LISTED = 100;
/** Attestation items looked at for the newest ones; beyond this many kept, a sample of them. */
const MAX_SCANNED = 20_000;
const REMOTE_TIMEOUT_MS = 2_000;
const REMOTE_FRESH_MS = 3_000;
const ID = /^[A-Za-z0-9_-]{43}$/;

export function explorerRoutes(app: FastifyInstance, source: ExplorerSource, options: ExplorerOptions): Explorer {
  const page = html();
  const bundle = lazy(bundleApp);
  const sampler = new Sampler(source, options.totals, options.sampleMs ?? 5_000);
  const attestations = new RecentAttestations(source);
  const remote = new RemoteRegistries(options.joined);

  const sendPage = (reply: FastifyReply) => reply.type(HTML_TYPE).header('cache-control', 'no-store').send(page);
  app.get('/', (request, reply) => (prefersHtml(request) ? sendPage(reply) : reply.callNotFound()));
  app.get('/~explorer', (_request, reply) => sendPage(reply));
  app.get('/~explorer/', (_request, reply) => sendPage(reply));
  app.get('/~explorer/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(await bundle()));
  app.get('/~explorer/overview', async (_request, reply) => reply.type(JSON_TYPE).send({ node: source.info(), network: await network(source, remote), here: here(source, options.totals) }));
  app.get<{ Querystring: { limit?: string } }>('/~explorer/attestations', (request, reply) => {
    const limit = Math.min(MAX_LISTED, Math.max(1, Number.parseInt(request.query.limit ?? '20', 10) || 20));
    return reply.type(JSON_TYPE).send({ node: source.key.address, attestations: attestations.newest(limit) });
  });
  app.get<{ Params: { id: string } }>('/~explorer/item/:id', (request, reply) => {
    const { id } = request.params;
    if (!ID.test(id)) return reply.status(400).send({ error: 'bad-request', message: `${JSON.stringify(id.slice(0, 64))} is not an ID (43 base64url characters)` });
    const raw = source.store.attestations.get(id);
    if (!raw) return reply.status(404).send({ error: 'not-found', message: `this node keeps no attestation item ${id}` });
    return reply.type(JSON_TYPE).send({ id, item: b64url(raw) });
  });
  app.get('/~explorer/stats', (_request, reply) => reply.type(JSON_TYPE).send({ interval: sampler.intervalMs, samples: [...sampler.samples, sampler.sample()] }));
  return { stop: () => sampler.stop() };
}

/** Whether the client asks for a page: text/html listed, and weighted at least as application/json. */
export function prefersHtml(request: Pick<FastifyRequest, 'headers'>): boolean {
  const accept = String(request.headers.accept ?? '');
  const weights = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    weights.set(type!.trim(), q ? Number(q.slice(2)) || 0 : 1);
  }
  const html = weights.get('text/html') ?? 0;
  return html > 0 && html >= (weights.get('application/json') ?? 0);
}

function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make().catch((error) => ((made = undefined), Promise.reject(error))));
}

/** The page's script: app.ts and what it imports, one minified file (~100 ms of esbuild). */
async function bundleApp(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

function html(): string {
  const uplotCss = readFileSync(fileURLToPath(new URL('../../node_modules/uplot/dist/uPlot.min.css', import.meta.url)), 'utf8');
  const css = readFileSync(fileURLToPath(new URL('./page.css', import.meta.url)), 'utf8');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hyperwasm explorer</title>
<style>${uplotCss}</style>
<style>${css}</style>
</head>
<body>
<div id="app"><p class="muted">loading the explorer…</p></div>
<script type="module" src="/~explorer/app.js"></script>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------
// The network

/** The joined registries' node lists, fetched by the node (the page stays on one origin), briefly kept. */
class RemoteRegistries {
  private cache: { at: number; value: Promise<RegistryList[]> } | undefined;
  constructor(private readonly urls: readonly string[]) {}

  lists(): Promise<RegistryList[]> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > REMOTE_FRESH_MS) this.cache = { at: now, value: Promise.all(this.urls.map(fetchList)) };
    return this.cache.value;
  }
}

interface RegistryList {
  url: string;
  registry?: string;
  time?: number;
  'time-to-live'?: number;
  grace?: number;
  nodes: NodeView[];
  error?: string;
}

async function fetchList(url: string): Promise<RegistryList> {
  try {
    const response = await fetch(`${url}/~registry@1.0/nodes`, { signal: AbortSignal.timeout(REMOTE_TIMEOUT_MS) });
    const body = (await response.json()) as RegistryList & { message?: string };
    if (!response.ok) return { url, nodes: [], error: `HTTP ${response.status}: ${body.message ?? ''}` };
    return { ...body, url, nodes: Array.isArray(body.nodes) ? body.nodes : [] };
  } catch (error) {
    return { url, nodes: [], error: (error as Error).message };
  }
}

async function network(source: ExplorerSource, remote: RemoteRegistries): Promise<{ registries: RegistryList[] }> {
  const registries: RegistryList[] = [];
  if (source.registry) {
    const r = source.registry;
    registries.push({ url: 'this node', registry: source.key.address, time: r.now(), 'time-to-live': r.ttlMs, grace: r.graceMs, nodes: r.list() });
  }
  registries.push(...(await remote.lists()));
  return { registries };
}

// ---------------------------------------------------------------------------------------
// This node

function here(source: ExplorerSource, totals: Totals) {
  const { store } = source;
  const modules = [...store.modules.getKeys({ limit: MAX_LISTED })].map((id) => {
    const meta = store.moduleMeta.get(id as string);
    return { id, name: meta?.tags.find((t) => t.name === 'Name')?.value, owner: meta?.owner };
  });
  const processes = [...store.processes.getRange({ limit: MAX_LISTED })].map(({ key, value }) => {
    const pid = key as string;
    let computed: number | undefined;
    for (const { key: at } of store.processResults.getRange({ start: [pid, Number.MAX_SAFE_INTEGER], end: [pid, -1], reverse: true, limit: 1 })) computed = at[1];
    const outbox: Record<string, number> = {};
    for (const { entry } of source.deliverer.outbox(pid, 0, 1000)) outbox[entry.status] = (outbox[entry.status] ?? 0) + 1;
    return { id: pid, module: value.module, scheduler: value.scheduler, slot: source.scheduler.currentSlot(pid) ?? null, computed: computed ?? null, outbox };
  });
  const last = source.heartbeats?.latest();
  return {
    modules,
    processes,
    gas: totals.gas,
    requests: totals.requests,
    cache: { hits: totals.hits, misses: totals.misses },
    heartbeat: last ? { state: last.state, sequence: last.sequence, time: last.time, id: last.id, registries: source.heartbeats!.targets } : null,
  };
}

// ---------------------------------------------------------------------------------------
// Recent attestations

interface KeptItem {
  id: string;
  signedAt: number;
  statements: Statement[];
  root: string;
  proofs: string[][];
}

/**
 * The newest statements among the attestation items the node keeps. Items are keyed by ID (no
 * order), so the keys are read when the page asks and the count changed, and each item is
 * parsed once; a node keeping more than MAX_SCANNED lists the newest of a sample.
 */
class RecentAttestations {
  private readonly items = new Map<string, KeptItem>();
  private seen = -1;

  constructor(private readonly source: ExplorerSource) {}

  newest(limit: number) {
    this.refresh();
    const items = [...this.items.values()].sort((a, b) => b.signedAt - a.signedAt);
    const out = [];
    for (const item of items) {
      for (let index = item.statements.length - 1; index >= 0 && out.length < limit; index--) {
        const statement = item.statements[index]!;
        out.push({
          attestation: { id: item.id, root: item.root, index, count: item.statements.length, proof: item.proofs[index]!, statement },
          'signed-at': item.signedAt,
          verification: this.status(statement, item.id, index),
        });
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  private refresh(): void {
    const { attestations } = this.source.store;
    const count = (attestations.getStats() as { entryCount?: number }).entryCount ?? 0;
    if (count === this.seen) return;
    this.seen = count;
    for (const key of attestations.getKeys({ limit: MAX_SCANNED })) {
      const id = key as string;
      if (this.items.has(id)) continue;
      const raw = attestations.get(id);
      if (!raw) continue;
      try {
        const item = parseDataItem(raw);
        const statements = JSON.parse(new TextDecoder().decode(item.data)) as Statement[];
        const { root, proofs } = merkleTree(statements.map((s) => leafHash(statementBytes(s))));
        this.items.set(id, { id, signedAt: Number(tagValue(item.tags, 'Signed-At') ?? 0), statements, root, proofs });
      } catch {
        // not a readable attestation: nothing to list
      }
    }
    if (this.items.size > MAX_SCANNED) {
      const oldest = [...this.items.values()].sort((a, b) => a.signedAt - b.signedAt).slice(0, this.items.size - MAX_SCANNED);
      for (const item of oldest) this.items.delete(item.id);
    }
  }

  /** What a registry on this node took of verifiers' reports on this statement; else not yet sampled. */
  private status(statement: Statement, id: string, index: number): { status: 'confirmed' | 'refuted' | 'not yet sampled'; by?: string[]; reason?: string } {
    const entry = this.source.store.verifications.get(`${statement.node}/${id}/${index}`) as
      | { confirmedBy?: string[]; refuted?: { verifier?: string; reason?: string } }
      | undefined;
    if (entry?.refuted) return { status: 'refuted', by: entry.refuted.verifier ? [entry.refuted.verifier] : [], reason: entry.refuted.reason };
    if (entry?.confirmedBy?.length) return { status: 'confirmed', by: entry.confirmedBy };
    return { status: 'not yet sampled' };
  }
}

// ---------------------------------------------------------------------------------------
// Figures over time

interface Sample {
  time: number;
  requests: number;
  gas: number;
  /** Heartbeats this node's registry took (a registry), else the sequence of this node's last heartbeat changes it saw. */
  heartbeats: number;
}

/** Running totals every few seconds into a ring; the page turns them into rates. */
class Sampler {
  readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;
  private sent = 0;
  private lastBeat: string | undefined;

  constructor(private readonly source: ExplorerSource, private readonly totals: Totals, readonly intervalMs: number) {
    this.keep();
    // A sampler must never be what keeps the process alive.
    this.timer = setInterval(() => this.keep(), intervalMs).unref();
  }

  sample(): Sample {
    const beat = this.source.heartbeats?.latest()?.id;
    if (beat && beat !== this.lastBeat) (this.lastBeat = beat), this.sent++;
    const heartbeats = this.source.registry ? this.source.registry.list().reduce((n, v) => n + v.heartbeats, 0) : this.sent;
    return { time: Date.now(), requests: this.totals.requests, gas: this.totals.gas, heartbeats };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private keep(): void {
    this.samples.push(this.sample());
    if (this.samples.length > SAMPLES) this.samples.shift();
  }
}
