// GET /metrics: the node's figures in Prometheus text format (prom-client), for whoever runs it.
// One prom-client registry per node, never the global one, so several nodes in one process (the
// tests, the network bench) keep their figures apart. What HTTP sees (requests, compute latency,
// cache, the gas and kernel calls of freshly computed results) is counted by fastify hooks, so no
// engine code changes; what the engine keeps (processes, slots, outbox, deliveries, heartbeats,
// the registry) is read at scrape time, so nothing is counted twice or drifts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Heartbeats } from '../engine/heartbeats.ts';
import type { NodeRegistry } from '../engine/registry.ts';
import type { Store } from '../engine/store.ts';
import { DEVICES } from './devices/index.ts';

/** What the scrape reads of the node (gateway/node.ts's Node has it all). */
export interface MetricsSource {
  info(): Record<string, unknown>;
  store: Pick<Store, 'processes' | 'assignments' | 'attestations'>;
  registry?: Pick<NodeRegistry, 'list'>;
  heartbeats?: Pick<Heartbeats, 'latest'>;
}

/** Plain running totals, read by the explorer's sampler without a scrape. */
export interface Totals {
  requests: number;
  gas: number;
  hits: number;
  misses: number;
}

/** A record's body is parsed for its gas and kernel calls only below this size (a fresh result, never the hot path). */
const MAX_PARSED = 4 * 1024 * 1024;

// A route label must come from a bounded set whatever paths clients send: the devices' own names
// and keys, else "other"; a 404 is "unmatched".
const DEVICE_NAMES = new Set(DEVICES.filter((d) => d.address === 'name').map((d) => `~${d.name}`));
const KEY_NAMES = new Set(DEVICES.flatMap((d) => d.keys.map((k) => k.key)));
const ID = /^[A-Za-z0-9_-]{43}$/;

/** The route a request went to, as a label: `GET /~meta@1.0/info`, `GET /<id>/compute`, a fastify route, `unmatched`. */
export function routeLabel(method: string, url: string, routeUrl: string | undefined, status: number): string {
  if (routeUrl && routeUrl !== '/*') return `${method} ${routeUrl}`;
  if (status === 404) return 'unmatched';
  const path = url.split('?', 1)[0]!;
  const segments = path.split('/').filter(Boolean);
  const segment = (s: string | undefined) => (s ?? '').split('&', 1)[0]!;
  const first = segment(segments[0]);
  const base = DEVICE_NAMES.has(first) ? first : ID.test(first) ? '<id>' : 'other';
  const key = segment(segments.at(-1)).toLowerCase();
  return `${method} /${base}/${KEY_NAMES.has(key) ? key : 'other'}`;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly totals: Totals = { requests: 0, gas: 0, hits: 0, misses: 0 };
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'cache'>;
  private readonly cache: Counter<'result'>;
  private readonly gas: Counter<'kind'>;
  private readonly kernels: Counter<'backend'>;
  private readonly verifications: Counter<'verdict'>;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'hyperwasm_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({
      name: 'hyperwasm_compute_duration_seconds',
      help: 'Time to answer a Compute request (stateless or process), by whether the result was cached',
      labelNames: ['cache'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.cache = new Counter({ name: 'hyperwasm_compute_cache_total', help: 'Compute answers by result cache outcome', labelNames: ['result'], registers });
    this.gas = new Counter({ name: 'hyperwasm_gas_total', help: 'Gas of the results computed to answer requests (cache misses), by kind', labelNames: ['kind'], registers });
    this.kernels = new Counter({ name: 'hyperwasm_kernel_calls_total', help: 'GPU kernel calls of the results computed to answer requests, by the backend that served them', labelNames: ['backend'], registers });
    this.verifications = new Counter({ name: 'hyperwasm_verification_outcomes_total', help: 'Verification outcomes (confirmed, refuted, unjudged, …) as reported by NodeMetrics.verification', labelNames: ['verdict'], registers });

    // Read at scrape time: one info() per scrape feeds the gauges below it.
    let info: Record<string, any> = {};
    const figure = (name: string, help: string, read: () => number | undefined, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const value = read();
          if (value !== undefined && Number.isFinite(value)) this.set(value);
        },
      });
    new Gauge({
      name: 'hyperwasm_scheduler_processes',
      help: 'Processes this node schedules',
      registers,
      collect() {
        info = source.info();
        this.set(entries(source.store.processes));
      },
    });
    figure('hyperwasm_scheduler_slots', 'Slots assigned by this node, over all its processes', () => entries(source.store.assignments));
    figure('hyperwasm_attestations', 'Attestation items this node has signed and keeps', () => entries(source.store.attestations));
    figure('hyperwasm_process_live_instances', 'Live process instances', () => info.processes?.live);
    figure('hyperwasm_process_workers', 'Worker threads folding processes', () => info.processes?.workers);
    figure('hyperwasm_process_slots_folded', 'Process slots folded since start', () => info.processes?.steps);
    figure('hyperwasm_process_folds_in_progress', 'Process folds in progress (the heartbeat\'s queue)', () => info.deliveries?.folding);
    figure('hyperwasm_outbox_depth', 'Signed items waiting for publication to Arweave', () => info.outbox?.depth);
    figure('hyperwasm_outbox_bundles', 'Bundles published since start', () => info.outbox?.bundles);
    figure('hyperwasm_outbox_failures', 'Failed bundle uploads since start', () => info.outbox?.failures);
    figure('hyperwasm_delivery_pending', 'Outgoing process messages not yet delivered', () => info.deliveries?.pending);
    figure('hyperwasm_delivery_retrying', 'Delivery links waiting to retry', () => info.deliveries?.retrying);
    figure('hyperwasm_delivery_oldest_pending_seconds', 'Age of the oldest undelivered message', () => (info.deliveries?.oldestPendingMs ?? 0) / 1000);
    figure('hyperwasm_delivery_delivered', 'Messages delivered since start', () => info.deliveries?.delivered);
    figure('hyperwasm_delivery_failures', 'Failed delivery attempts since start', () => info.deliveries?.failures);
    new Gauge({
      name: 'hyperwasm_heartbeat_age_seconds',
      help: 'Seconds since this node signed its last heartbeat, by the state it announced (absent: it sends none)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const last = source.heartbeats?.latest();
        if (last) this.set({ state: last.state }, Math.max(0, (Date.now() - last.time) / 1000));
      },
    });
    new Gauge({
      name: 'hyperwasm_registry_nodes',
      help: 'Nodes this registry knows, by state as judged now (absent: not a registry)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        if (!source.registry) return;
        const counts: Record<string, number> = { JOINING: 0, ONLINE: 0, DRAINING: 0, OFFLINE: 0 };
        for (const view of source.registry.list()) counts[view.state] = (counts[view.state] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  /** Counts a verification outcome (a verifier's or a registry's); others call it as they judge. */
  verification(verdict: string): void {
    this.verifications.inc({ verdict });
  }

  /** The hooks and the /metrics route; called before any other route is added. */
  install(app: FastifyInstance): void {
    app.addHook('onSend', async (_request, reply, payload) => {
      // Only a fresh result: misses cost a computation already, and hits are the hot path.
      if (reply.getHeader('x-cache') === 'miss' && Buffer.isBuffer(payload) && payload.length <= MAX_PARSED) this.computed(payload);
      return payload;
    });
    app.addHook('onResponse', async (request, reply) => this.answered(request, reply));
    app.get('/metrics', async (_request, reply) => reply.type(this.registry.contentType).send(await this.registry.metrics()));
  }

  private answered(request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    this.totals.requests++;
    this.requests.inc({ method: request.method, route: routeLabel(request.method, request.url, request.routeOptions.url, status), status: String(status) });
    const cache = reply.getHeader('x-cache');
    if (cache === 'hit' || cache === 'miss') {
      if (cache === 'hit') this.totals.hits++;
      else this.totals.misses++;
      this.cache.inc({ result: cache });
      this.latency.observe({ cache }, reply.elapsedTime / 1000);
    }
  }

  private computed(payload: Buffer): void {
    let record: { gas?: unknown; process?: unknown; kernels?: { gpu?: unknown; cpu?: unknown } };
    try {
      record = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (typeof record.gas === 'number' && record.gas >= 0) {
      this.totals.gas += record.gas;
      this.gas.inc({ kind: typeof record.process === 'string' ? 'process' : 'stateless' }, record.gas);
    }
    for (const backend of ['gpu', 'cpu'] as const) {
      const calls = record.kernels?.[backend];
      if (typeof calls === 'number' && calls > 0) this.kernels.inc({ backend }, calls);
    }
  }
}

/** Entries of an LMDB database without walking it (getCount iterates). */
function entries(db: { getStats(): unknown }): number {
  return (db.getStats() as { entryCount?: number }).entryCount ?? 0;
}
