// Process figures: evaluations per second of the counter module through the process
// device as a node runs it (a pool of fold workers; assignment, message, live instance,
// hashpath, state hash, attested and committed record), beside the same module's handle
// called directly in a loop; eight counter processes folded at once on a pool of one worker
// per core beside the same on a pool of one worker; and resuming at slot N from a snapshot
// beside resuming from slot 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { openStore, type Store } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { Processes, handleInput } from '../engine/processes/index.ts';
import { defaultWorkers, ProcessPool } from '../engine/processes/pool.ts';
import { Attester } from '../attest/attester.ts';
import { Modules } from '../engine/modules.ts';
import { compileModule } from '../engine/wasm/compile.ts';
import { callBytes, instantiate } from '../engine/wasm/call.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { utf8 } from '../engine/protocol/encoding.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { buildModules } from '../modules/tools/build.ts';
import type { Figure } from './report.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';

const COUNTER = 'C'.repeat(43);
/** Processes of the multi-process figure. */
const PARALLEL = 8;

function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  return Promise.resolve(fn()).then(() => performance.now() - start);
}

export async function processFigures(dir: string, slots: number, log: (line: string) => void): Promise<Figure[]> {
  const bytes = new Uint8Array(readFileSync((await buildModules()).counter));
  const store = openStore(join(dir, 'process-lmdb'));
  await store.modules.put(COUNTER, bytes);
  const key = loadOrCreateNodeKey(join(dir, 'node-key.pem'));
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 0 });
  const modules = new Modules(store, { fetchVerified: () => Promise.reject(new Error('offline')) });
  const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);

  log(`scheduling ${slots} counter messages…`);
  const spawn = createDataItem(client, { tags: processTags(COUNTER, key.address), data: '' });
  await scheduler.schedule(spawn.raw);
  const pending = [];
  for (let i = 1; i <= slots; i++) pending.push(scheduler.schedule(createDataItem(client, { target: spawn.id, tags: messageTags(), data: `${i}` }).raw));
  await Promise.all(pending);

  // Metered and compiled before timing, as the baseline's module is: both figures time evaluations, not a
  // one-off compile (which at small BENCH_SLOTS was most of the fold's time).
  const loadMs = await timed(() => modules.getForProcess(COUNTER));
  log(`  the counter metered and compiled for processes in ${loadMs.toFixed(0)} ms (not in the figure)`);
  const attest = new Attester({ signer: ed25519Signer(key.privateKey), address: key.address });
  const pooled = (workers: number) => {
    const pool = workers === 0 ? undefined : new ProcessPool({ workers, store: store.path, snapshotEvery: 1000, maxLive: 64, attest: { module: new URL('../attest/attester.ts', import.meta.url), privateKey: key.privateKey, address: key.address } });
    return new Processes({ store, modules, scheduler, snapshotEvery: 1000, attest, pool });
  };
  log(`folding ${slots} slots through the process device (attested, on a pool of ${defaultWorkers()} workers)…`);
  const device = pooled(defaultWorkers());
  await device.compute(spawn.id, 0); // the worker started and the module compiled there, not in the figure
  const foldMs = await timed(() => device.compute(spawn.id, slots));
  await device.close();

  log('calling handle directly with the same inputs…');
  const loaded = await compileModule(COUNTER, bytes);
  const instance = instantiate(loaded);
  // The very inputs the device builds for slots 1..n, prepared before timing.
  const record = scheduler.process(spawn.id)!;
  const inputs = Array.from({ length: Math.min(slots, 5000) }, (_, i) => {
    const assignment = scheduler.assignment(spawn.id, i + 1)!;
    return utf8(JSON.stringify(handleInput(parseDataItem(store.messages.get(assignment.message)!), assignment, record)));
  });
  const directMs = await timed(() => { for (const input of inputs) callBytes(instance, 'handle', input); });

  log('resuming at the last slot: from the nearest snapshot, then from slot 0…');
  const fromSnapshot = await resumeMs(store, modules, scheduler, spawn.id, slots, 1000);
  const fromZero = await resumeMs(store, modules, scheduler, spawn.id, slots, Number.MAX_SAFE_INTEGER, true);

  const parallel = await parallelFigure(store, pooled, scheduler, client, key.address, slots, log);
  await store.close();
  return [
    { id: 'process-eval', name: 'process evaluations (counter)', value: (slots * 1000) / foldMs, unit: 'msg/s', baselineName: 'handle called directly in a loop', baseline: (inputs.length * 1000) / directMs, better: 'higher', target: '≥ 0.8×' },
    parallel,
    { id: 'resume-snapshot', name: `resume at slot ${slots} from a snapshot`, value: fromSnapshot, unit: 'ms', baselineName: 'resume from slot 0', baseline: fromZero, better: 'lower' },
  ];
}

/**
 * `PARALLEL` counter processes of `slots / PARALLEL` messages each, folded from slot 0 all
 * at once on a pool of one worker per core, beside the same on a pool of one worker; in ABBA
 * rounds, the mean of each, on a noisy machine. Workers are started (and the module compiled
 * in them) before timing.
 */
async function parallelFigure(store: Store, pooled: (workers: number) => Processes, scheduler: Scheduler, client: ReturnType<typeof ed25519Signer>, address: string, slots: number, log: (line: string) => void): Promise<Figure> {
  const per = Math.max(1, Math.ceil(slots / PARALLEL));
  log(`scheduling ${PARALLEL} counter processes of ${per} messages each…`);
  const pids: string[] = [];
  for (let p = 0; p < PARALLEL; p++) {
    const spawn = createDataItem(client, { tags: processTags(COUNTER, address), data: '', anchor: crypto.getRandomValues(new Uint8Array(32)) });
    await scheduler.schedule(spawn.raw);
    pids.push(spawn.id);
  }
  const pending = [];
  for (let i = 1; i <= per; i++) for (const pid of pids) pending.push(scheduler.schedule(createDataItem(client, { target: pid, tags: messageTags(), data: `${i}` }).raw));
  await Promise.all(pending);

  const workers = defaultWorkers();
  const run = async (many: boolean) => {
    await forget(store, pids, per);
    const device = pooled(many ? workers : 1);
    await Promise.all(pids.map((pid) => device.compute(pid, 0))); // every worker started, the module compiled
    try {
      return await timed(() => Promise.all(pids.map((pid) => device.compute(pid, per))));
    } finally {
      await device.close();
    }
  };
  const apart: number[] = [];
  const together: number[] = [];
  for (const first of [false, true]) {
    for (const at of first ? [true, false] : [false, true]) {
      log(`  folding the ${PARALLEL} processes at once on ${at ? workers : 1} worker${at && workers > 1 ? 's' : ''}…`);
      (at ? together : apart).push(await run(at));
    }
  }
  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;
  const messages = PARALLEL * per;
  return {
    id: 'process-eval-8',
    name: `${PARALLEL} counter processes of ${per} messages folded at once on ${workers} workers`,
    value: (messages * 1000) / mean(together),
    unit: 'msg/s',
    baselineName: 'the same on 1 worker',
    baseline: (messages * 1000) / mean(apart),
    better: 'higher',
  };
}

/** Removes the processes' cached results and snapshots, so the next device folds them from slot 0. */
async function forget(store: Store, pids: string[], last: number): Promise<void> {
  await store.transaction(() => {
    for (const pid of pids) {
      for (const { key } of store.processResults.getRange({ start: [pid, 0], end: [pid, last + 1] })) store.processResults.remove(key);
      for (const { key } of store.snapshots.getRange({ start: [pid, 0], end: [pid, last + 1] })) store.snapshots.remove(key);
    }
  });
}

/** Time to compute the last slot on a cold device, its cached result removed. */
async function resumeMs(store: Store, modules: Modules, scheduler: Scheduler, pid: string, slot: number, every: number, noSnapshots = false): Promise<number> {
  // Through store.transaction, like every write of the device: lmdb-js may run a plain
  // remove before a transaction queued earlier, which would resurrect the entry.
  await store.transaction(() => {
    store.processResults.remove([pid, slot]);
    if (noSnapshots) for (const { key } of store.snapshots.getRange({ start: [pid, 1], end: [pid, slot + 1] })) store.snapshots.remove(key);
  });
  const device = new Processes({ store, modules, scheduler, snapshotEvery: every });
  return timed(() => device.compute(pid, slot));
}
