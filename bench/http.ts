// HTTP figures: cached and uncached Compute GETs on a real node (child process, embedded
// arlocal) against a bare fastify route serving the same bytes, load from autocannon.
import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild } from './children.ts';
import { median, type Figure } from './report.ts';

const ROUNDS = 3;

export interface HttpOptions { seconds: number; connections: number; dir: string }

async function load(url: string, options: HttpOptions, setupRequest?: (req: any) => any): Promise<number> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    requests: setupRequest ? [{ setupRequest }] : undefined,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${url}: ${bad} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return result.requests.average;
}

export async function httpFigures(options: HttpOptions, log: (line: string) => void): Promise<Figure[]> {
  log('starting a node (embedded arlocal, example modules)…');
  const node = await startChild(['bin/hyperwasm.js', 'serve', '--port', '0', '--arlocal-port', '0', '--data', join(options.dir, 'node')], /curl -g '(http:\/\/[^/]+)\//);
  const fac = node.stdout.match(/^\s+fac\s+([A-Za-z0-9_-]{43})$/m)![1];
  const cachedPath = `/${fac}/Compute?wasm-function=fac&wasm-params=[5.0]`;
  await fetch(node.url + cachedPath); // fill the cache
  const hit = await fetch(node.url + cachedPath);
  const bytesFile = join(options.dir, 'cached-body.json');
  writeFileSync(bytesFile, new Uint8Array(await hit.arrayBuffer()));
  const bare = await startChild(['--import', 'tsx', 'bench/bare-server.ts', bytesFile], /listening on (\S+)/);
  try {
    // Alternating rounds, medians: both sides see the same background load on a shared machine.
    const bareRounds: number[] = [];
    const cachedRounds: number[] = [];
    const round = { ...options, seconds: Math.max(1, Math.round(options.seconds / ROUNDS)) };
    for (let i = 0; i < ROUNDS; i++) {
      log(`round ${i + 1}/${ROUNDS}: bare fastify route, then cached Compute GET (${round.seconds}s each)…`);
      bareRounds.push(await load(bare.url + cachedPath, round));
      cachedRounds.push(await load(node.url + cachedPath, round));
    }
    const baseline = median(bareRounds);
    const cached = median(cachedRounds);
    let n = 0;
    log(`uncached Compute GET, a new parameter each request (${options.seconds}s)…`);
    const uncached = await load(node.url, options, (req) => ({ ...req, path: `/${fac}/Compute?wasm-function=fac&wasm-params=[${1 + ++n / 1e7}]` }));
    return [
      { name: 'cached Compute GET', value: cached, unit: 'req/s', baselineName: 'bare fastify route, same bytes', baseline, better: 'higher', target: '≥ 0.8×' },
      { name: 'uncached fac Compute GET', value: uncached, unit: 'req/s', baselineName: 'bare fastify route, same bytes', baseline, better: 'higher' },
    ];
  } finally {
    await bare.stop();
    await node.stop();
  }
}
