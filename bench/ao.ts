// AO figures: aos Evals per second, each beside AO's own loader (@permaweb/ao-loader, the
// module runner of AO's compute unit) on the very same messages, in this process:
//   ao-eval-host     our AO host (engine/wasm/ao/instance.ts), unmetered, one live instance;
//   ao-eval-metered  the same host on the module our meter instrumented (gas counted per message);
//   ao-eval-node     an aos process as the node runs it: each message signed, scheduled (a
//                    durable signed assignment), folded on the pool with its state hash,
//                    attested and committed to LMDB.
// The loader runs with UNSAFE_MEMORY (it hands back its live memory rather than a fresh copy of
// aos's 100 MiB per message, which would be most of its time), its fastest use.
//
// Run alone: `node --import tsx bench/ao.ts` (BENCH_AO_MESSAGES, default 200).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import AoLoader from '@permaweb/ao-loader';
import { openStore } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { Processes } from '../engine/processes/index.ts';
import { defaultWorkers, ProcessPool } from '../engine/processes/pool.ts';
import { aoEnv, aoMessage } from '../engine/processes/ao-fold.ts';
import { Attester } from '../attest/attester.ts';
import { Modules } from '../engine/modules.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { AoInstance } from '../engine/wasm/ao/instance.ts';
import { aoModuleTags } from '../engine/wasm/ao/module.ts';
import { closeMeter, instrument } from '../engine/wasm/meter/index.ts';
import { median, printTable, type Figure } from './report.ts';

const FORMAT = 'wasm32-unknown-emscripten4';
const AOS = join(import.meta.dirname, '..', '.cache', 'aos', 'aos2_0_4_32.wasm');
const MODULE = 'A'.repeat(43);
const CODE = 'Count = (Count or 0) + 1; return Count';
/** Messages per alternated round of the in-process figures. */
const ROUND = 20;


const aoTags = (type: string, extra: [string, string][] = []) =>
  [...extra, ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', type]].map(([name, value]) => ({ name: name!, value: value! }));

export async function aoFigures(dir: string, messages: number, log: (line: string) => void): Promise<Figure[]> {
  if (!existsSync(AOS)) {
    log(`AO figures skipped: ${AOS} is missing (node scripts/fetch-aos.mjs fetches it)`);
    return [];
  }
  const bytes = new Uint8Array(readFileSync(AOS));
  const store = openStore(join(dir, 'ao-lmdb'));
  const key = loadOrCreateNodeKey(join(dir, 'ao-node-key.pem'));
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 0 });
  const modules = new Modules(store, { fetchVerified: async () => bytes, describe: async () => ({ owner: key.address, tags: aoModuleTags(FORMAT) }) });
  const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);

  log(`scheduling an aos process and ${messages} Evals…`);
  const spawn = createDataItem(client, { tags: aoTags('Process', [['Module', MODULE], ['Scheduler', key.address]]), data: ' ' });
  await scheduler.schedule(spawn.raw);
  const items = Array.from({ length: messages }, (_, i) => createDataItem(client, { target: spawn.id, tags: aoTags('Message', [['Action', 'Eval'], ['Ref', String(i)]]), data: CODE }));
  await Promise.all(items.map((item) => scheduler.schedule(item.raw)));

  // The inputs exactly as the node's fold builds them, for the in-process runs.
  const record = scheduler.process(spawn.id)!;
  const loaded = await modules.getForProcess(MODULE);
  const env = JSON.stringify(aoEnv(record, loaded));
  const inputs = Array.from({ length: messages + 1 }, (_, slot) => {
    const assignment = scheduler.assignment(spawn.id, slot)!;
    return JSON.stringify(aoMessage(parseDataItem(scheduler.message(assignment.message)!), assignment, record));
  });
  const last = (text: string) => String((JSON.parse(text) as { Output: { data: string } }).Output.data).split('\n').at(-1);

  // Three runners on the same inputs, advanced in alternated rounds of `ROUND` messages, so drift
  // and other load hit all alike; each figure is the median of its rounds' rates.
  log('ao-loader, our host and our metered host on the same messages, in alternated rounds…');
  const loaderHandle = await AoLoader(bytes, { format: FORMAT, UNSAFE_MEMORY: true });
  const plainHost = AoInstance.create(await WebAssembly.compile(bytes), FORMAT, {});
  const meteredHost = AoInstance.create(loaded.module, FORMAT, { meterBudget: 1e11 });
  let meteredGas = 0;
  const runners: Record<'loader' | 'host' | 'metered', (slot: number) => Promise<string>> = {
    loader: async (slot) => JSON.stringify({ Output: (await loaderHandle(null, JSON.parse(inputs[slot]!), JSON.parse(env))).Output }),
    host: async (slot) => plainHost.handle(inputs[slot]!, env).text,
    metered: async (slot) => {
      const result = meteredHost.handle(inputs[slot]!, env);
      if (slot > 0) meteredGas += result.meterGas ?? 0;
      return result.text;
    },
  };
  const rates: Record<keyof typeof runners, number[]> = { loader: [], host: [], metered: [] };
  const answers: Record<string, string> = {};
  for (const run of Object.values(runners)) await run(0);
  for (let from = 1; from <= messages; from += ROUND) {
    const to = Math.min(messages, from + ROUND - 1);
    for (const [name, run] of Object.entries(runners) as [keyof typeof runners, (slot: number) => Promise<string>][]) {
      const start = performance.now();
      for (let slot = from; slot <= to; slot++) answers[name] = await run(slot);
      rates[name].push(((to - from + 1) * 1000) / (performance.now() - start));
    }
  }
  for (const name of ['loader', 'host', 'metered'] as const) if (last(answers[name]!) !== String(messages)) throw new Error(`${name}'s last Eval answered ${answers[name]}`);
  const loaderRate = median(rates.loader);
  const plain = { rate: median(rates.host) };
  const metered = { rate: median(rates.metered), gas: meteredGas / messages };
  await closeMeter();

  log(`folding the ${messages} Evals as the node does (scheduled, state-hashed, attested, committed; a pool of ${defaultWorkers()} workers)…`);
  const attest = new Attester({ signer: ed25519Signer(key.privateKey), address: key.address });
  const pool = new ProcessPool({ workers: defaultWorkers(), store: store.path, snapshotEvery: 1000, maxLive: 64, attest: { module: new URL('../attest/attester.ts', import.meta.url), privateKey: key.privateKey, address: key.address } });
  const processes = new Processes({ store, modules, scheduler, snapshotEvery: 1000, attest, pool });
  await processes.compute(spawn.id, 0); // the worker started and the module compiled there, not in the figure
  const started = performance.now();
  const final = JSON.parse(new TextDecoder().decode((await processes.compute(spawn.id, messages)).body)) as { 'result-bytes': string };
  const nodeMs = performance.now() - started;
  await processes.close();
  await store.close();
  if (last(Buffer.from(final['result-bytes'], 'base64url').toString()) !== String(messages)) throw new Error('the node folded a different answer');
  const nodeRate = (messages * 1000) / nodeMs;

  log(`aos Eval/s: ao-loader ${loaderRate.toFixed(0)}, our host ${plain.rate.toFixed(0)}, metered ${metered.rate.toFixed(0)} (${metered.gas.toFixed(0)} gas each), the node ${nodeRate.toFixed(0)}`);
  const baseline = { baselineName: 'ao-loader, same messages', baseline: loaderRate, unit: 'Eval/s', better: 'higher' as const };
  return [
    { id: 'ao-eval-host', name: 'aos Evals on our AO host', value: plain.rate, ...baseline, target: '≥ 1.0×' },
    { id: 'ao-eval-metered', name: 'aos Evals on our AO host, metered', value: metered.rate, ...baseline, details: { gasPerEval: Math.round(metered.gas) } },
    { id: 'ao-eval-node', name: 'aos Evals through the node (scheduled, attested, durable)', value: nodeRate, ...baseline, details: { messages } },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = mkdtempSync(join(tmpdir(), 'hyperwasm-bench-ao-'));
  try {
    const figures = await aoFigures(dir, Number(process.env.BENCH_AO_MESSAGES ?? 200), (line) => console.error(`[bench] ${line}`));
    console.log();
    printTable(figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
