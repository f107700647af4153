// Process figures: evaluations per second of the counter module through the process
// device (assignment, message, live instance, hashpath, cached record), beside the same
// module's handle called directly in a loop; and resuming at slot N from a snapshot
// beside resuming from slot 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { openStore, type Store } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { Processes, handleInput } from '../engine/processes/index.ts';
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

  log(`folding ${slots} slots through the process device…`);
  const device = new Processes({ store, modules, scheduler, snapshotEvery: 1000 });
  const foldMs = await timed(() => device.compute(spawn.id, slots));

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
  await store.close();
  return [
    { name: 'process evaluations (counter)', value: (slots * 1000) / foldMs, unit: 'msg/s', baselineName: 'handle called directly in a loop', baseline: (inputs.length * 1000) / directMs, better: 'higher' },
    { name: `resume at slot ${slots} from a snapshot`, value: fromSnapshot, unit: 'ms', baselineName: 'resume from slot 0', baseline: fromZero, better: 'lower' },
  ];
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
