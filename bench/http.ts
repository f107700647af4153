// HTTP figures: cached and uncached Compute GETs on a real node (child process, embedded
// arlocal) against a bare fastify route serving the same bytes, load from autocannon; the
// uncached one again at ten times the connections, where the group commit's batches fill (at
// the usual count it reads connections ÷ the durable commit's latency); and the node's
// resident memory once idle after start-up beside the bare fastify server's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild } from './children.ts';
import { idleRss } from './idle-rss.ts';
import { loadRate } from './load.ts';
import { median, type Figure } from './report.ts';

const ROUNDS = 3;
/** The uncached figure is measured again at this many times the connections (the group commit's batches fill). */
const MANY = 10;
const MB = 1024 * 1024;
/** The goal for an idle node (#11: "Idle RSS after start ≤ 300 MB"). */
const IDLE_GOAL_MB = 300;

export interface HttpOptions { seconds: number; connections: number; dir: string; idleSeconds: number }

export async function httpFigures(options: HttpOptions, log: (line: string) => void): Promise<Figure[]> {
  log('starting a node as `npm start` does (bin/hyperwasm.js serve: embedded arlocal, example modules)…');
  const node = await startChild(['bin/hyperwasm.js', 'serve', '--port', '0', '--arlocal-port', '0', '--data', join(options.dir, 'node')], /curl -g '(http:\/\/[^/]+)\//);
  const bare: { stop(): Promise<void> }[] = [];
  try {
    // Before any request: what a node holds for simply being up.
    log(`idle RSS of the node: at least ${options.idleSeconds}s after start-up, then until it settles…`);
    const nodeRss = await idleRss(node.process.pid!, { minMs: options.idleSeconds * 1000 });
    log(`  ${(nodeRss / MB).toFixed(0)} MB`);
    const fac = node.stdout.match(/^\s+fac\s+([A-Za-z0-9_-]{43})$/m)![1];
    const cachedPath = `/${fac}/Compute?wasm-function=fac&wasm-params=[5.0]`;
    await fetch(node.url + cachedPath); // fill the cache
    const hit = await fetch(node.url + cachedPath);
    if (!hit.ok) throw new Error(`${node.url + cachedPath}: ${hit.status} ${await hit.text()}`);
    const bytesFile = join(options.dir, 'cached-body.json');
    writeFileSync(bytesFile, new Uint8Array(await hit.arrayBuffer()));
    const server = await startChild(['--import', 'tsx', 'bench/bare-server.ts', bytesFile], /listening on (\S+)/);
    bare.push(server);
    log('idle RSS of the bare fastify server (same node, tsx loader), once settled…');
    const bareRss = await idleRss(server.process.pid!, { minMs: 2000 });
    log(`  ${(bareRss / MB).toFixed(0)} MB`);

    // Alternating rounds, medians: both sides see the same background load on a shared machine.
    const bareRounds: number[] = [];
    const cachedRounds: number[] = [];
    const round = { connections: options.connections, seconds: Math.max(1, Math.round(options.seconds / ROUNDS)) };
    for (let i = 0; i < ROUNDS; i++) {
      log(`round ${i + 1}/${ROUNDS}: bare fastify route, then cached Compute GET (${round.seconds}s each, after warm-up requests)…`);
      bareRounds.push(await loadRate(server.url + cachedPath, round));
      cachedRounds.push(await loadRate(node.url + cachedPath, round));
    }
    const baseline = median(bareRounds);
    const cached = median(cachedRounds);
    let n = 0;
    log(`uncached Compute GET, a new parameter each request (${options.seconds}s, after warm-up requests on other parameters)…`);
    const fresh = (req: any) => ({ ...req, path: `/${fac}/Compute?wasm-function=fac&wasm-params=[${1 + ++n / 1e7}]` });
    const uncached = await loadRate(node.url, { connections: options.connections, seconds: options.seconds, setupRequest: fresh });
    // Every uncached answer waits for a durable commit, so with few connections the figure is
    // connections ÷ commit latency, whatever the CPU does; with many, the group commit fills and
    // the figure shows the work per answer. Both sides at the same, larger, connection count.
    const many = options.connections * MANY;
    log(`the same two at ${many} connections: bare fastify route, then uncached Compute GET (${options.seconds}s each)…`);
    const bareMany = await loadRate(server.url + cachedPath, { connections: many, seconds: options.seconds });
    const uncachedMany = await loadRate(node.url, { connections: many, seconds: options.seconds, setupRequest: fresh });
    return [
      { id: 'cached-get', name: 'cached Compute GET', value: cached, unit: 'req/s', baselineName: 'bare fastify route, same bytes', baseline, better: 'higher', target: '≥ 0.8×' },
      { id: 'uncached-get', name: 'uncached fac Compute GET', value: uncached, unit: 'req/s', baselineName: 'bare fastify route, same bytes', baseline, better: 'higher', target: '≥ 0.25×' },
      { id: 'uncached-get-many', name: `uncached fac Compute GET, ${many} connections`, value: uncachedMany, unit: 'req/s', baselineName: `bare fastify route, same bytes, ${many} connections`, baseline: bareMany, better: 'higher' },
      {
        id: 'idle-rss',
        name: `idle node RSS after start-up (${options.idleSeconds}s+, process tree)`,
        value: nodeRss / MB,
        unit: 'MB',
        baselineName: 'bare fastify server, same run',
        baseline: bareRss / MB,
        better: 'lower',
        target: `≤ ${IDLE_GOAL_MB} MB`,
        targetRatio: (IDLE_GOAL_MB * MB) / bareRss,
      },
    ];
  } finally {
    for (const server of bare) await server.stop();
    await node.stop();
  }
}
