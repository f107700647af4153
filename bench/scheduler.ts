// Scheduling figures: signed, durable assignments per second (one process, and eight side
// by side) beside the raw ed25519 signing rate of node:crypto, all in this process. Items
// are signed by clients beforehand; what is timed is verify + assign + sign + LMDB commit.
import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { openStore } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { createDataItem, ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import { rate } from './engine.ts';
import type { Figure } from './report.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';

const MODULE = 'M'.repeat(43);
const IN_FLIGHT = 256;

async function assign(scheduler: Scheduler, items: Uint8Array[]): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < items.length) await scheduler.schedule(items[next++]);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return (items.length * 1000) / (performance.now() - start);
}

export async function schedulerFigures(dir: string, count: number, log: (line: string) => void): Promise<Figure[]> {
  const store = openStore(join(dir, 'scheduler-lmdb'));
  const key = loadOrCreateNodeKey(join(dir, 'node-key.pem'));
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 0 });
  const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const spawn = async () => {
    const item = createDataItem(client, { tags: processTags(MODULE, key.address), data: '', anchor: crypto.getRandomValues(new Uint8Array(32)) });
    await scheduler.schedule(item.raw);
    return item.id;
  };
  const messages = (pids: string[], n: number) =>
    Array.from({ length: n }, (_, i) => createDataItem(client, { target: pids[i % pids.length], tags: messageTags(), data: `m${i}` }).raw);

  log(`signing ${count * 2} client messages…`);
  const one = [await spawn()];
  const eight = await Promise.all(Array.from({ length: 8 }, spawn));
  const forOne = messages(one, count);
  const forEight = messages(eight, count);
  log('scheduling on one process…');
  const single = await assign(scheduler, forOne);
  log('scheduling across eight processes…');
  const spread = await assign(scheduler, forEight);
  const { privateKey } = generateKeyPairSync('ed25519');
  const payload = new Uint8Array(48);
  const signRate = rate(() => sign(null, payload, privateKey), 1000);
  await store.close();
  return [
    { name: 'durable assignments, 1 process', value: single, unit: 'assign/s', baselineName: 'raw ed25519 sign (node:crypto)', baseline: signRate, better: 'higher' },
    { name: 'durable assignments, 8 processes', value: spread, unit: 'assign/s', baselineName: 'raw ed25519 sign (node:crypto)', baseline: signRate, better: 'higher' },
  ];
}
