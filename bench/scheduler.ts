// Scheduling figures: signed, durable assignments per second (one process, and eight side
// by side) beside the irreducible work per item — node:crypto verifying the client's ed25519
// signature and signing the assignment, on as many threads as the scheduler uses (one), no
// I/O — all in this process. Items are signed by clients beforehand; what is timed is
// verify + assign + sign + LMDB commit.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
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
  // The irreducible work per message (#11): verify the client's ed25519 signature, sign the
  // assignment — node:crypto on the scheduler's one thread, no parsing, no I/O.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const digest = new Uint8Array(48); // ANS-104 signs the 48-byte deep hash
  const signature = sign(null, digest, privateKey);
  const verifySignRate = rate(() => {
    if (!verify(null, digest, publicKey, signature)) throw new Error('ed25519 verify failed');
    sign(null, digest, privateKey);
  }, 1000);
  log(`  raw ed25519 sign alone (the baseline before #11): ${rate(() => sign(null, digest, privateKey), 500).toFixed(0)}/s`);
  await store.close();
  const baselineName = 'ed25519 verify + sign per item (node:crypto, 1 thread, no I/O)';
  return [
    { id: 'schedule-1', name: 'durable assignments, 1 process', value: single, unit: 'assign/s', baselineName, baseline: verifySignRate, better: 'higher', target: '≥ 0.7×' },
    { id: 'schedule-8', name: 'durable assignments, 8 processes', value: spread, unit: 'assign/s', baselineName, baseline: verifySignRate, better: 'higher', target: '≥ 0.7×' },
  ];
}
