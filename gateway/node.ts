// A running node: data folder, LMDB store, node key, Arweave gateway (embedded arlocal by
// default), module loader, example modules, and the HTTP server, started and stopped together.
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { openStore, type Store } from '../engine/store.ts';
import { Modules } from '../engine/modules.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { startArlocal, type EmbeddedGateway } from '../arweave/arlocal.ts';
import { loadOrCreateWallet, walletAddress } from '../arweave/wallet.ts';
import { loadOrCreateNodeKey, publicKeyB64, type NodeKey } from '../attest/node-key.ts';
import { publishExamples, publishModels } from './examples.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { DEFAULT_MAX_LIVE, DEFAULT_SNAPSHOT_EVERY, Processes } from '../engine/processes/index.ts';
import { defaultWorkers, ProcessPool } from '../engine/processes/pool.ts';
import { Attester } from '../attest/attester.ts';
import { Attestations } from '../engine/attestations.ts';
import { StatelessCompute } from '../engine/compute.ts';
import { Ledger } from '../engine/ledger.ts';
import { Payments } from '../engine/payments.ts';
import { DEFAULT_GUARD_MS, Sandbox } from '../engine/wasm/sandbox/index.ts';
import { DEFAULT_GAS_LIMIT } from '../engine/wasm/gas.ts';
import type { Rates } from '../engine/protocol/pricing.ts';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { b64url, fromB64url } from '../engine/protocol/encoding.ts';
import { Publisher } from '../arweave/publisher.ts';
import { BlockHeight } from '../arweave/block-height.ts';
import { buildServer } from './server.ts';
import { NodeMetrics } from './metrics.ts';
import { explorerRoutes } from './explorer/index.ts';
import { GpuRuntime } from '../engine/gpu/runtime.ts';
import type { GpuDescription, GpuMode } from '../engine/gpu/adapter.ts';
import { VERSION } from './version.ts';
import type { NodeContext } from './context.ts';
import { DEFAULT_ARLOCAL_PORT, DEFAULT_PORT } from '../cli/defaults.ts';
import { Locations } from '../engine/locations.ts';
import { arweaveLocations } from '../arweave/locations.ts';
import { peerLocations } from './peer-locations.ts';
import { Deliverer } from '../engine/delivery/deliverer.ts';
import { Crank } from '../engine/processes/crank.ts';
import { deliveryRoutes } from './delivery-routes.ts';
import { NodeClient } from '../client/node-client.ts';
import { Mirror } from '../engine/mirror.ts';
import { DEFAULT_REGISTRY_TTL_MS, NodeRegistry } from '../engine/registry.ts';
import { Heartbeats, type HeartbeatTarget } from '../engine/heartbeats.ts';
import { measureGasPerSecond } from '../engine/gas-benchmark.ts';
import { heartbeatGpu, MAX_MODULES } from '../engine/protocol/heartbeat.ts';
import { buildModules } from '../modules/tools/build.ts';
import { DEFAULT_VERIFIER_MS, Verifier, type ReportTarget } from '../engine/verifier.ts';
import { arweaveReportChecker, arweaveVerifierPorts } from '../attest/verify/reports.ts';
import { httpHeartbeatTarget, httpRegistryNodes, httpReportTarget } from './registry-client.ts';

export interface NodeOptions {
  data: string;
  port?: number;
  host?: string;
  /** An Arweave gateway URL; without it the node starts arlocal on loopback. */
  gateway?: string;
  arlocalPort?: number;
  /** The embedded arlocal, already starting (serve starts it before it loads this file); without it, and without gateway, the node starts one. */
  arlocal?: Promise<EmbeddedGateway>;
  /** Build and upload the example modules (default: only on the embedded gateway). */
  examples?: boolean;
  /** Llama GGUF files to import at start (gateway/examples.ts publishModels), to whatever gateway the node uses; an earlier upload is reused. */
  models?: readonly string[];
  /** Log each request (fastify's logger). */
  verbose?: boolean;
  /** Snapshot process state every this many slots (default 1000). */
  snapshotEvery?: number;
  /** Worker threads that fold processes (default: one per core; 0: fold on the main thread). */
  workers?: number;
  /** Other nodes' URLs by their address: where to look first for a scheduler's location record (a cache seed; Arweave is asked too). */
  peers?: Record<string, string>;
  /** The URL other nodes reach this one at, as its location record says (default: the address it listens on). */
  publicUrl?: string;
  /** Fold each new slot of the processes this node schedules as it is assigned, so their messages go out unasked (default true). */
  eager?: boolean;
  /** Attempts after which a message to an ID that no scheduler knows as a process is settled as sent to an account (default 5). */
  accountAfter?: number;
  /** A location record's time-to-live in ms (default 1 day); the node re-announces itself at half of it. */
  locationTtlMs?: number;
  /** Publish the outbox to the gateway in the background (default true). */
  publish?: boolean;
  /** Sign an attestation for every result (default true). */
  attest?: boolean;
  /** The node's own fee, added to every priced call (default 0 and 0). */
  prices?: Rates;
  /** The largest gas budget of a stateless call (default 100 billion). */
  maxGas?: number;
  /** Stateless calls run in a worker stopped after this many ms (default 10 000; 0: no worker). */
  callGuardMs?: number;
  /** Which adapter serves module kernel calls (default 'auto'; `serve` takes it from --gpu or HYPERWASM_GPU); 'off': the CPU references only. */
  gpu?: GpuMode;
  /** Kernel calls with less work (gas) stay on the CPU reference (default 2^20; `serve`: --gpu-min-work or HYPERWASM_GPU_MIN_WORK). */
  gpuMinWork?: number;
  /** Serve as a node registry (~registry@1.0, engine/registry.ts): take other nodes' heartbeats and list them. The node joins itself. */
  registry?: boolean;
  /** Registries' base URLs to send this node's heartbeats to (engine/heartbeats.ts). */
  join?: readonly string[];
  /** Between this node's ONLINE heartbeats, in ms (default 60 000, ±10% jitter). */
  heartbeatMs?: number;
  /** As a registry: how long a heartbeat keeps a node in its state, in ms (default 120 000); a node is OFFLINE after it plus a quarter of it without one. */
  registryTtlMs?: number;
  /** As a registry: publish a signed summary of its nodes this often, in ms (default 1 h; 0: never). */
  registrySummaryMs?: number;
  /** Sample other nodes' published attestations, re-execute them and report to the registries joined (engine/verifier.ts; docs/reputation-section.md). */
  verifier?: boolean;
  /** As a verifier: between sampling rounds, in ms (default 5 min). Tests drive node.verifier.sampleOnce() instead. */
  verifierIntervalMs?: number;
  /** As a verifier: the seed its sample is drawn with (default: its address). */
  verifierSeed?: string;
  /**
   * TEST ONLY: rewrites every stateless result's bytes before it is recorded and attested, so
   * the node answers and signs a wrong result (a lying node for test/reputation.test.ts). Never
   * set it on a real node.
   */
  testOnlyCorruptResults?: (bytes: Uint8Array) => Uint8Array;
  log?: (line: string) => void;
}

/** The running node's parts; the HTTP devices see only its NodeContext (gateway/context.ts). */
export interface Node extends NodeContext {
  store: Store;
  modules: Modules;
  gateway: ArweaveGateway;
  key: NodeKey;
  scheduler: Scheduler;
  processes: Processes;
  publisher: Publisher;
  locations: Locations;
  deliverer: Deliverer;
  /** The node registry, on a node started with `registry`. */
  registry?: NodeRegistry;
  /** This node's heartbeats, when it joined a registry or is one. */
  heartbeats?: Heartbeats;
  /** GET /metrics's figures (gateway/metrics.ts); `verification(verdict)` counts a verification outcome. */
  metrics: NodeMetrics;
  /** This node's sampling of other nodes' attestations, on a node started with `verifier`. */
  verifier?: Verifier;
  blockHeight(): number;
  /** Stateless Compute over the result cache. */
  compute: StatelessCompute;
  ledger: Ledger;
  prices: Rates;
  maxGas: number;
  /** Paid calls, cost-only estimates and top-ups (engine/payments.ts). */
  payments: Payments;
  info(): Record<string, unknown>;
  /** The adapter serving module kernel calls, once the GPU worker has acquired it (or the CPU references). */
  gpu(): Promise<GpuDescription>;
  log(line: string): void;
}

export interface RunningNode {
  url: string;
  gatewayUrl: string;
  examples: Record<string, string>;
  /** What `models` became: each model's weights under its name, its module under "llama" (the first) or "llama:<name>". */
  models: Record<string, string>;
  node: Node;
  close(): Promise<void>;
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const data = resolve(options.data);
  const log = options.log ?? ((line: string) => console.error(line));
  mkdirSync(data, { recursive: true });
  const key = loadOrCreateNodeKey(join(data, 'node-key.pem'));
  const store = openStore(join(data, 'lmdb'));
  let embedded: EmbeddedGateway | undefined;
  const stops: (() => Promise<void>)[] = [];
  try {
    if (!options.gateway) embedded = await (options.arlocal ?? startArlocal({ dir: join(data, 'arlocal'), port: options.arlocalPort ?? DEFAULT_ARLOCAL_PORT }));
    const gateway = new ArweaveGateway(options.gateway ?? embedded!.url);
    const wallet = await loadOrCreateWallet(join(data, 'wallet.json'));
    const walletAddr = await walletAddress(wallet);
    const examples = options.examples ?? embedded !== undefined ? await publishExamples({ store, gateway, wallet, log }) : {};
    const models = options.models?.length ? await publishModels({ store, gateway, wallet, log, models: options.models }) : {};
    const height = new BlockHeight(gateway);
    await height.start();
    const publisher = new Publisher({ store, gateway, wallet, log });
    if (options.publish ?? true) publisher.start();
    const modules = new Modules(store, gateway);
    const signer = ed25519Signer(key.privateKey);
    // Where other schedulers are: signed location records, from the configured peers first,
    // then Arweave (engine/locations.ts); this node announces its own once it listens.
    const peerUrls = Object.values(options.peers ?? {});
    const locations = new Locations({
      address: key.address,
      signer,
      store,
      version: VERSION,
      ttlMs: options.locationTtlMs,
      sources: [peerLocations(peerUrls), arweaveLocations(gateway)],
      log,
    });
    let crank: Crank | undefined;
    const scheduler = new Scheduler({
      store,
      signer,
      address: key.address,
      blockHeight: () => height.current,
      peers: options.peers,
      locate: (address) => {
        const found = locations.held(address);
        return found && { url: found.url, record: b64url(found.raw) };
      },
      onWrite: () => publisher.kick(),
      onAssigned: (pids) => crank?.touch(pids),
    });
    stops.push(async () => locations.stop(), () => publisher.stop(), async () => height.stop(), () => scheduler.close());
    // The node's GPU (engine/gpu/runtime.ts): its worker starts acquiring the adapter now, in the
    // background (kernel calls made meanwhile wait for it); the sandbox and the processes get
    // lines to it, and the node closes it last.
    const gpuRuntime = new GpuRuntime({ mode: options.gpu, minWork: options.gpuMinWork });
    const acquired = gpuRuntime.description;
    let gpu: GpuDescription | undefined;
    void acquired.then((found) => {
      gpu = found;
      log(`kernels: ${found.backend === 'gpu' ? `${found.vendor} ${found.device} (${found.source}${found.isFallbackAdapter ? ', software fallback' : ''})` : `CPU references (${found.reason})`}`);
    });
    const sandbox = options.callGuardMs === 0 ? undefined : new Sandbox(options.callGuardMs ?? DEFAULT_GUARD_MS, gpuRuntime);
    if (sandbox) stops.push(() => sandbox.close());
    stops.push(() => gpuRuntime.close());
    // The engine's one attestation port, the node's key; the engine keeps what it signs.
    const attester = new Attester({ signer, address: key.address });
    const attestations = new Attestations(store, attester, () => publisher.kick());
    const attesting = options.attest ?? true;
    const compute = new StatelessCompute(store, modules, attesting ? attestations : undefined, sandbox, gpuRuntime.client, options.testOnlyCorruptResults);
    const ledger = new Ledger(store, key.address);
    const prices = options.prices ?? { flat: 0n, perKgas: 0n };
    const maxGas = options.maxGas ?? 100_000_000_000;

    // Processes fold on a pool of worker threads (engine/processes/pool.ts), which also sign
    // what they fold; this thread keeps HTTP, scheduling and every commit. The workers start
    // on the first fold.
    const workers = options.workers ?? defaultWorkers();
    const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    const pool = workers === 0 ? undefined : new ProcessPool({
      workers,
      store: store.path,
      snapshotEvery,
      maxLive: DEFAULT_MAX_LIVE,
      gpu: gpuRuntime,
      progress: (pid, slot, target) => log(`process ${pid}: folded to slot ${slot} of ${target}`),
      // Workers sign their folds' attestations on their own cores, with the node's key.
      attest: attesting ? { module: new URL('../attest/attester.ts', import.meta.url), privateKey: key.privateKey, address: key.address } : undefined,
    });
    const processes = new Processes({
      store,
      modules,
      scheduler,
      snapshotEvery,
      attest: attesting ? attester : undefined,
      onWrite: (deliveries) => {
        publisher.kick();
        if (deliveries.length > 0) deliverer.enqueue(deliveries);
      },
      gpu: gpuRuntime.client,
      pool,
    });
    // Outgoing messages go from the delivery ledger to their targets' schedulers (engine/delivery/).
    const routes = deliveryRoutes({ store, address: key.address, locations, gateway, peers: options.peers, accountAfter: options.accountAfter });
    const deliverer = new Deliverer({
      store,
      scheduler,
      signer,
      address: key.address,
      routes,
      log,
    });
    if (options.eager ?? true) crank = new Crank((pid) => processes.compute(pid), log);
    // Processes other nodes schedule, copied (checked) from their schedulers to be computed here.
    const mirror = new Mirror({
      store,
      address: key.address,
      ports: {
        locate: async (pid) => {
          const route = await routes.locate(pid);
          return route.kind === 'remote' ? { scheduler: route.scheduler, url: route.url } : undefined;
        },
        page: async (url, pid, from) => {
          const page = await new NodeClient(url).schedulePage(pid, from);
          return {
            assignments: page.assignments.map((a: Record<string, string>) => ({ assignment: fromB64url(a['assignment-item']!), message: fromB64url(a['message-item']!) })),
            next: page.continues ? page.next : undefined,
          };
        },
      },
    });
    // Closed before the GPU runtime (stops run in order), whose lines the workers hold.
    stops.unshift(async () => {
      await crank?.stop();
      await deliverer.stop();
    }, () => processes.close());

    // The registry, when this node is one (engine/registry.ts): its entries live in the store.
    const registry = options.registry
      ? new NodeRegistry({
          address: key.address, signer, store, ttlMs: options.registryTtlMs, summaryEveryMs: options.registrySummaryMs, onWrite: () => publisher.kick(), log,
          // Reports' evidence is checked by re-executing from Arweave, in a folder of the registry's own.
          checker: arweaveReportChecker({ gateway, dir: join(data, 'registry-checks') }),
        })
      : undefined;
    if (registry) {
      registry.start();
      stops.push(async () => registry.stop());
    }

    // Read at scrape time, through the node (its heartbeats start after it listens).
    const metrics = new NodeMetrics({ info: () => node.info(), store, registry, get heartbeats() { return node.heartbeats; } });
    const node: Node = {
      metrics,
      store,
      modules,
      gateway,
      key,
      scheduler,
      processes,
      compute,
      ledger,
      prices,
      maxGas,
      // Receipts are attested even where results are not: a charge always has its receipt.
      payments: new Payments({ modules, compute, ledger, receipts: store.receipts, prices, maxGas, attestations }),
      publisher,
      locations,
      deliverer,
      deliveries: deliverer,
      mirror,
      registry,
      joined: (options.join ?? []).map(baseUrlOf),
      whereIs: async (pid) => {
        const route = await routes.locate(pid);
        if (route.kind !== 'remote') return undefined;
        const record = locations.held(route.scheduler);
        return { scheduler: route.scheduler, url: route.url, record: record && b64url(record.raw) };
      },
      blockHeight: () => height.current,
      log,
      info: () => ({
        name: 'hyperwasm',
        version: VERSION,
        address: key.address,
        'public-key': publicKeyB64(key),
        'key-type': 'ed25519',
        wallet: walletAddr,
        gateway: gateway.url,
        'gateway-embedded': embedded !== undefined,
        engine: `hyperwasm/${VERSION} node/${process.versions.node} v8/${process.versions.v8}`,
        modules: { ...examples, ...models },
        'block-height': height.current,
        prices: { flat: String(prices.flat), 'per-kgas': String(prices.perKgas), unit: 'the node\'s ledger unit', 'max-gas': maxGas, 'default-gas-limit': DEFAULT_GAS_LIMIT },
        outbox: { depth: publisher.depth(), ...publisher.stats() },
        processes: processes.stats(),
        deliveries: { ...deliverer.stats(), eager: crank !== undefined, folding: crank?.busy ?? 0 },
        location: locations.own() && { url: locations.own()!.url, nonce: locations.own()!.nonce, known: locations.cached().length },
        gpu: gpu ?? { probing: true },
        ...(registry ? { registry: { nodes: registry.size, 'time-to-live': registry.ttlMs, grace: registry.graceMs } } : {}),
        ...(node.verifier ? { verifier: node.verifier.stats() } : {}),
        ...(node.heartbeats ? { heartbeats: { registries: node.heartbeats.targets, sequence: node.heartbeats.latest()?.sequence ?? null, state: node.heartbeats.latest()?.state ?? null } } : {}),
      }),
      gpu: () => acquired,
    };
    const app = buildServer(node, {
      logger: options.verbose,
      extend: (app) => {
        metrics.install(app);
        const explorer = explorerRoutes(app, node, { joined: (options.join ?? []).map(baseUrlOf), totals: metrics.totals });
        stops.push(async () => explorer.stop());
      },
    });
    await app.listen({ port: options.port ?? DEFAULT_PORT, host: options.host ?? '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
    // Announced (and queued for Arweave) now that the URL is known, and to each peer directly.
    const own = await locations.start(options.publicUrl ?? url);
    for (const peer of peerUrls) void new NodeClient(peer).announceLocation(own.raw).catch((error) => log(`announcing this node to ${peer} failed: ${(error as Error).message}`));
    // Heartbeats to the registries joined, and to this node's own registry (engine/heartbeats.ts):
    // measured and sent in the background, so the node answers meanwhile.
    const joined = (options.join ?? []).map(baseUrlOf);
    if (joined.length > 0 || registry) {
      let gasPerSecond: Promise<number> | undefined;
      const measure = () =>
        (gasPerSecond ??= buildModules({ modules: ['kernel'], log })
          .then((built) => measureGasPerSecond(new Uint8Array(readFileSync(built.kernel!)), { cache: store.metered }))
          .catch((error) => (log(`heartbeats: the gas benchmark failed (${(error as Error).message}); heartbeats say 0 gas/s`), 0)));
      const targets: HeartbeatTarget[] = joined.map(httpHeartbeatTarget);
      if (registry) targets.unshift({ name: 'this node\'s own registry', send: async (raw) => void (await registry.accept(raw)) });
      node.heartbeats = new Heartbeats({
        signer,
        store,
        url: own.url,
        version: VERSION,
        targets,
        intervalMs: options.heartbeatMs,
        log,
        facts: async () => ({
          gpu: heartbeatGpu(await acquired),
          cores: availableParallelism(),
          memory: totalmem(),
          gasPerSecond: await measure(),
          queue: crank?.busy ?? 0,
          prices: { flat: String(prices.flat), perKgas: String(prices.perKgas) },
          modules: [...store.modules.getKeys({ limit: MAX_MODULES })] as string[],
        }),
      });
      void node.heartbeats.start();
    }
    if (options.verifier) {
      // Reports go where the heartbeats go: the registries joined, and this node's own.
      const targets: ReportTarget[] = joined.map((base) => httpReportTarget(base));
      if (registry) targets.unshift({ name: 'this node\'s own registry', send: async (raw) => void (await registry.acceptReport(raw)) });
      const lists = [...joined.map((base) => httpRegistryNodes(base)), ...(registry ? [async () => registry.list().map((v) => v.address)] : [])];
      node.verifier = new Verifier({
        address: key.address,
        signer,
        store,
        targets,
        seed: options.verifierSeed,
        intervalMs: options.verifierIntervalMs ?? DEFAULT_VERIFIER_MS,
        onWrite: () => publisher.kick(),
        log,
        ports: arweaveVerifierPorts({
          gateway,
          dir: join(data, 'verifier'),
          nodes: async () => {
            const found = await Promise.allSettled(lists.map((list) => list()));
            const ok = found.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
            if (ok.length === 0 && found.some((r) => r.status === 'rejected')) throw (found.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
            return ok;
          },
        }),
      });
      node.verifier.start();
      stops.unshift(() => node.verifier!.close());
      log(`verifier: sampling other nodes' attestations every ${node.verifier.intervalMs} ms, reporting to ${targets.map((t) => t.name).join(', ') || 'no registry (published to Arweave only)'}`);
    }
    if (registry) log(`registry: this node is a node registry (time-to-live ${registry.ttlMs} ms, grace ${registry.graceMs} ms, ${registry.size} nodes known)`);
    if (joined.length > 0) log(`heartbeats: joining ${joined.join(', ')} every ${node.heartbeats!.intervalMs} ms`);
    deliverer.start();
    // Slots assigned before a restart but not yet folded are folded now (their messages go out).
    if (crank) crank.touch([...store.processes.getRange({})].filter(({ value }) => value.scheduler === key.address).map(({ key: pid }) => pid));
    return {
      url,
      gatewayUrl: gateway.url,
      examples,
      models,
      node,
      async close() {
        // DRAINING while requests in flight finish, OFFLINE once the server stopped (before the store closes: this node may be its own registry).
        await node.heartbeats?.drain();
        await app.close();
        await node.heartbeats?.stop();
        for (const stop of stops) await stop();
        await embedded?.stop();
        await store.close();
      },
    };
  } catch (error) {
    for (const stop of stops) await stop();
    await embedded?.stop();
    await store.close();
    throw error;
  }
}

/** A --join URL as a base URL: parsed, without a trailing slash. */
function baseUrlOf(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`a registry to join must be an http(s) URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`a registry to join must be an http(s) URL, got ${JSON.stringify(text)}`);
  return (url.origin + url.pathname).replace(/\/+$/, '');
}
