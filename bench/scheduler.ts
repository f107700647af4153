// Scheduling figures: signed, durable assignments per second (one process, and eight side
// by side) beside the irreducible work per item — node:crypto verifying the client's ed25519
// signature and signing an assignment, on as many threads as the scheduler uses (its signature
// pool's workers and this thread, all in parallel), no parsing, no I/O — all in this process.
// Items are signed by clients beforehand; what is timed is verify + assign + sign + LMDB commit.
// BENCH_SIG_THREADS and BENCH_SIG_INLINE set the pool's workers and inline threshold (to tune them).
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openStore } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { defaultSignatureThreads } from '../engine/signatures.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { readAssignment, readAssignmentBytes } from '../engine/protocol/assignment.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import type { Figure } from './report.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';

const MODULE = 'M'.repeat(43);
const IN_FLIGHT = 256;

/** Assignments per second, and the CPU each took on all threads (µs): the second holds up on a busy machine, where the first does not. */
async function assign(scheduler: Scheduler, items: Uint8Array[]): Promise<{ rate: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < items.length) await scheduler.schedule(items[next++]);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const used = process.cpuUsage(cpu);
  return { rate: (items.length * 1000) / (performance.now() - start), cpu: (used.user + used.system) / items.length };
}

/** CPU µs of one verify + sign on this thread. */
function verifySignCpu(keys: { publicKey: KeyObject; privateKey: KeyObject; signature: Uint8Array }): number {
  const digest = new Uint8Array(48);
  const cpu = process.cpuUsage();
  for (let i = 0; i < 500; i++) {
    if (!verify(null, digest, keys.publicKey, keys.signature)) throw new Error('ed25519 verify failed');
    sign(null, digest, keys.privateKey);
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 500;
}

// One thread of the baseline: verify a client signature, sign a 48-byte message (ANS-104 signs
// a 48-byte deep hash), in a loop for `ms` once told to start; answers how many it did.
const BASELINE_THREAD = `
  const { verify, sign } = require('node:crypto');
  const { workerData, parentPort } = require('node:worker_threads');
  const { publicKey, privateKey, signature, ms, go } = workerData;
  const digest = new Uint8Array(48);
  function loop(ms) {
    let calls = 0;
    const until = performance.now() + ms;
    while (performance.now() < until) {
      for (let i = 0; i < 20; i++) {
        if (!verify(null, digest, publicKey, signature)) throw new Error('ed25519 verify failed');
        sign(null, digest, privateKey);
      }
      calls += 20;
    }
    return calls;
  }
  loop(50); // warm up
  parentPort.postMessage('ready');
  Atomics.wait(go, 0, 0);
  parentPort.postMessage(loop(ms));
`;

/** verify + sign per second on `threads` threads at once, each looping for `ms`: the work the scheduler spreads over as many threads, without the rest. */
async function verifySignRate(threads: number, keys: { publicKey: KeyObject; privateKey: KeyObject; signature: Uint8Array }, ms: number): Promise<number> {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from({ length: threads }, () => new Worker(BASELINE_THREAD, { eval: true, workerData: { ...keys, ms, go } }));
  const answers = workers.map((w) => new Promise<number[]>((resolve, reject) => {
    const got: number[] = [];
    w.on('message', (m) => (got.push(m === 'ready' ? 0 : (m as number)), got.length === 2 && resolve(got)));
    w.on('error', reject);
  }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const start = performance.now();
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  const total = (await Promise.all(answers)).reduce((sum, [, calls]) => sum + calls!, 0);
  const elapsed = Math.max(performance.now() - start, ms);
  await Promise.all(workers.map((w) => w.terminate()));
  return (total * 1000) / elapsed;
}

/** µs per call of fn, over at least `ms`. */
function microseconds(fn: () => unknown, ms: number): number {
  for (let i = 0; i < 1000; i++) fn();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 1000; i++) fn();
    calls += 1000;
  }
  return ((performance.now() - start) * 1000) / calls;
}

export async function schedulerFigures(dir: string, count: number, log: (line: string) => void): Promise<Figure[]> {
  const store = openStore(join(dir, 'scheduler-lmdb'));
  const key = loadOrCreateNodeKey(join(dir, 'node-key.pem'));
  const threads = process.env.BENCH_SIG_THREADS === undefined ? defaultSignatureThreads() : Number(process.env.BENCH_SIG_THREADS);
  const inline = process.env.BENCH_SIG_INLINE === undefined ? undefined : Number(process.env.BENCH_SIG_INLINE);
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 0, signatures: { threads, inline } });
  const clientKey = generateKeyPairSync('ed25519');
  const client = ed25519Signer(clientKey.privateKey);
  const spawn = async () => {
    const item = createDataItem(client, { tags: processTags(MODULE, key.address), data: '', anchor: crypto.getRandomValues(new Uint8Array(32)) });
    await scheduler.schedule(item.raw);
    return item.id;
  };
  const messages = (pids: string[], n: number) =>
    Array.from({ length: n }, (_, i) => createDataItem(client, { target: pids[i % pids.length], tags: messageTags(), data: `m${i}` }).raw);

  log(`signing ${count * 2 + Math.min(1000, count)} client messages…`);
  const one = [await spawn()];
  const eight = await Promise.all(Array.from({ length: 8 }, spawn));
  const forOne = messages(one, count);
  const forEight = messages(eight, count);
  // Warm: the pool's workers loaded (a node starts them on its first busy moment and keeps them
  // while busy) and the code paths compiled, on a process of its own.
  await scheduler.startWorkers();
  await assign(scheduler, messages([await spawn()], Math.min(1000, count)));
  log(`scheduling on one process (signature pool: ${threads} worker${threads === 1 ? '' : 's'} + this thread)…`);
  const single = await assign(scheduler, forOne);
  log('scheduling across eight processes…');
  const spread = await assign(scheduler, forEight);

  // What the fold pays per slot to read an assignment: the generic parse, and the stored-bytes reader.
  const stored = store.assignments.get([one[0]!, 1])!;
  const generic = microseconds(() => readAssignment(parseDataItem(stored)), 300);
  const direct = microseconds(() => readAssignmentBytes(stored), 300);
  log(`  assignment read: ${generic.toFixed(2)} µs generic (readAssignment(parseDataItem)), ${direct.toFixed(2)} µs from the stored bytes (readAssignmentBytes), ${(generic / direct).toFixed(1)}×`);
  await scheduler.close();
  await store.close();

  // The irreducible work per message (#11): verify the client's ed25519 signature, sign the
  // assignment — node:crypto on as many threads as the scheduler used, no parsing, no I/O.
  const digest = new Uint8Array(48);
  const nodeKey = generateKeyPairSync('ed25519');
  const keys = { publicKey: clientKey.publicKey, privateKey: nodeKey.privateKey, signature: new Uint8Array(sign(null, digest, clientKey.privateKey)) };
  const used = threads + 1;
  const baseline = await verifySignRate(used, keys, 1000);
  log(`  verify + sign on 1 thread: ${(await verifySignRate(1, keys, 500)).toFixed(0)}/s; on ${used}: ${baseline.toFixed(0)}/s`);
  // CPU per item (all threads, LMDB's included) beside CPU per verify + sign: what the ratio would
  // be with every thread on its own core, and a figure a loaded machine does not move much.
  const crypto1 = verifySignCpu(keys);
  for (const [name, r] of [['1 process', single], ['8 processes', spread]] as const) {
    log(`  CPU per durable assignment, ${name}: ${r.cpu.toFixed(0)} µs on all threads; verify + sign: ${crypto1.toFixed(0)} µs (${(crypto1 / r.cpu).toFixed(2)}×)`);
  }
  const baselineName = `ed25519 verify + sign per item (node:crypto, ${used} threads in parallel, no I/O)`;
  return [
    { id: 'schedule-1', name: 'durable assignments, 1 process', value: single.rate, unit: 'assign/s', baselineName, baseline, better: 'higher', target: '≥ 0.7×' },
    { id: 'schedule-8', name: 'durable assignments, 8 processes', value: spread.rate, unit: 'assign/s', baselineName, baseline, better: 'higher', target: '≥ 0.7×' },
  ];
}
