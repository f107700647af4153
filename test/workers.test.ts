// Processes on a pool of worker threads: one schedule (several counter processes interleaved,
// one with a Gas-Limit that some messages exceed, so a slot fails and the state rolls back)
// folded on the main thread, on one worker and on three gives the same record bytes, the same
// attestations and the same snapshots; and a worker killed mid-fold costs that fold a 503,
// (the parts it had handed back stay kept), while the other worker keeps serving and the
// process resumes afterwards to the same records.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { buildModules } from '../modules/tools/build.ts';
import { OutboxKind, openStore, type Store } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { Modules } from '../engine/modules.ts';
import { Processes } from '../engine/processes/index.ts';
import { ProcessPool, workerOf } from '../engine/processes/pool.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';
import { Attester } from '../attest/attester.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../attest/node-key.ts';
import { tempDir } from './helpers.ts';

const test = suite('workers');
const dir = tempDir();
const COUNTER = 'C'.repeat(43);
const SNAPSHOT_EVERY = 7;
let key: NodeKey;
const pids: string[] = [];
let limited = '';
/** A long process for the kill test, and one that folds on the other worker of two. */
let long = '';
let other = '';

const TEXT = new TextDecoder();
const offline = { fetchVerified: () => Promise.reject(new Error('offline')) };

function device(store: Store, workers: number, progress?: (pid: string, slot: number) => void) {
  const modules = new Modules(store, offline);
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 7 });
  const attest = { module: new URL('../attest/attester.ts', import.meta.url), privateKey: key.privateKey, address: key.address };
  const pool = workers === 0 ? undefined : new ProcessPool({ workers, store: store.path, snapshotEvery: SNAPSHOT_EVERY, maxLive: 64, progress, attest });
  return new Processes({ store, modules, scheduler, snapshotEvery: SNAPSHOT_EVERY, attest: new Attester({ signer: ed25519Signer(key.privateKey), address: key.address }), pool });
}

/** Says which entry differs first (the entries are too long to print whole). */
function same(actual: Record<string, string>, expected: Record<string, string>, what: string): void {
  assert.equal(Object.keys(actual), Object.keys(expected), `${what}: the same entries`);
  const differs = Object.keys(expected).find((k) => actual[k] !== expected[k]);
  assert.is(differs, undefined, `${what}: entry ${differs} differs`);
}

/**
 * Everything a fold left in LMDB: records by [pid, slot], snapshots, checkpoints and which
 * attestation batches were queued. An attestation batch item carries its signing time
 * (PROTOCOL.md §14), so its ID is the one part that differs between runs: records are
 * compared with their batch's root, index, proof and statement, and without its ID.
 */
function contents(store: Store, batches = true): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key: k, value } of store.processResults.getRange({})) {
    const record = JSON.parse(TEXT.decode(store.results.get(value)!));
    if (record.attestation) record.attestation = batches ? { ...record.attestation, id: '(signed at a time)' } : { statement: record.attestation.statement };
    out[`record ${k}`] = JSON.stringify(record);
  }
  for (const { key: k, value } of store.snapshots.getRange({})) out[`snapshot ${k}`] = Buffer.from(value).toString('base64');
  for (const { key: k, value } of store.outbox.getRange({})) {
    if (k[2] !== OutboxKind.Attestation) out[`outbox ${k}`] = Buffer.from(value).toString('base64');
    else if (batches) out[`outbox ${k}`] = 'a batch';
  }
  return out;
}

test.before(async () => {
  const bytes = new Uint8Array(readFileSync((await buildModules()).counter));
  key = loadOrCreateNodeKey(join(dir.path, 'node-key.pem'));
  const store = openStore(join(dir.path, 'base'));
  await store.modules.put(COUNTER, bytes);
  let now = 1_700_000_000_000;
  const scheduler = new Scheduler({ store, signer: ed25519Signer(key.privateKey), address: key.address, blockHeight: () => 7, clock: () => now++ });
  const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const spawn = async (extra: { name: string; value: string }[] = []) => {
    const item = createDataItem(client, { tags: processTags(COUNTER, key.address, extra), data: '', anchor: crypto.getRandomValues(new Uint8Array(32)) });
    await scheduler.schedule(item.raw);
    return item.id;
  };
  const send = (pid: string, data: string) => scheduler.schedule(createDataItem(client, { target: pid, tags: messageTags(), data }).raw);

  // The gas of a small and of a large message, from a probe, so the limited process's budget lies between them.
  const probe = await spawn();
  await send(probe, 'small');
  await send(probe, 'x'.repeat(20_000));
  const probing = new Processes({ store, modules: new Modules(store, offline), scheduler });
  const gasAt = async (slot: number) => JSON.parse(TEXT.decode((await probing.compute(probe, slot)).body)).gas as number;
  const small = await gasAt(1);
  const large = await gasAt(2);
  assert.ok(large > small * 2, `a large message costs more gas (${small} vs ${large})`);

  for (let p = 0; p < 4; p++) pids.push(await spawn());
  limited = await spawn([{ name: 'Gas-Limit', value: String(Math.round((small + large) / 2)) }]);
  pids.push(limited);
  for (let i = 1; i <= 30; i++) {
    for (const pid of pids) await send(pid, pid === limited && i % 5 === 0 ? `${'x'.repeat(20_000)} ${i}` : `message ${i}`);
  }
  // The kill test's processes: one long enough to be killed mid-fold, one on the other worker of two.
  long = await spawn();
  do other = await spawn();
  while (workerOf(other, 2) === workerOf(long, 2));
  await send(other, 'one');
  const pending = [];
  for (let i = 1; i <= 3000; i++) pending.push(send(long, `${i}`));
  await Promise.all(pending);
  await store.close();
  for (const name of ['w0', 'w1', 'w3', 'kill', 'kill-ref']) cpSync(join(dir.path, 'base'), join(dir.path, name), { recursive: true });
});

test.after(() => dir.remove());

/** The same requests on each device: every process at slot 10, at its latest, then behind its live state. */
async function foldAll(processes: Processes): Promise<void> {
  await Promise.all(pids.map((pid) => processes.compute(pid, 10)));
  await Promise.all(pids.map((pid) => processes.compute(pid)));
  await Promise.all(pids.map((pid) => processes.compute(pid, 29)));
}

test('the same schedule gives the same records, attestations and snapshots on 0, 1 and 3 workers', async () => {
  const results: Record<string, string>[] = [];
  for (const workers of [0, 1, 3]) {
    const store = openStore(join(dir.path, `w${workers}`));
    const processes = device(store, workers);
    try {
      await foldAll(processes);
      assert.is(processes.stats().workers, workers);
      results.push(contents(store));
    } finally {
      await processes.close();
      await store.close();
    }
  }
  const [main, one, three] = results;
  const records = Object.keys(main).filter((k) => pids.some((pid) => k.startsWith(`record ${pid},`)));
  assert.is(records.length, pids.length * 31, 'slots 0..30 of every process');
  const failed = records.filter((k) => k.startsWith(`record ${limited},`) && JSON.parse(main[k]).error);
  assert.is(failed.length, 6, 'the limited process ran out of gas at slots 5, 10, … 30');
  assert.match(JSON.parse(main[failed[0]]).error, /ran out of gas/);
  same(one, main, 'one worker');
  same(three, main, 'three workers');
});

test('a worker killed mid-fold: that fold is a 503, the parts handed back kept, the other worker serves, the process resumes to the same records', async () => {
  // The reference: the same two processes folded on the main thread.
  const refStore = openStore(join(dir.path, 'kill-ref'));
  const reference = device(refStore, 0);
  await reference.compute(long);
  await reference.compute(other);
  // Which batch a slot was attested in depends on where folds were cut (the kill cut one): compared without batches.
  const expected = contents(refStore, false);
  await refStore.close();

  const store = openStore(join(dir.path, 'kill'));
  let pool!: ProcessPool;
  let killed = false;
  const processes = device(store, 2, (pid) => {
    if (pid !== long || killed) return;
    killed = true;
    void pool.crash(long); // the first progress report of the long fold: it is mid-way
  });
  pool = (processes as unknown as { options: { pool: ProcessPool } }).options.pool;
  try {
    const folding = processes.compute(long).then(() => undefined, (error: unknown) => error);
    const error = await folding;
    assert.ok(killed, 'the worker was killed during the fold');
    assert.instance(error, HyperError);
    assert.is((error as HyperError).kind, 'unavailable');
    assert.match((error as Error).message, /the process worker exited .* during this fold; only the slots it had handed back are kept: try again/);
    // What was kept is a prefix, handed back in parts of 256 slots before the kill (the rest is compared below).
    const kept = [...store.processResults.getRange({ start: [long, 0], end: [long, 3001] })].length;
    assert.ok(kept % 256 === 0 && kept < 3001, `kept ${kept} slots before the kill`);
    // The other worker still serves, and the killed one is replaced on the next request.
    await processes.compute(other);
    await processes.compute(long);
    same(contents(store, false), expected, 'after the kill');
    let statements = 0;
    for (const { key: k, value } of store.outbox.getRange({ start: [long, 0, 0], end: [long, Number.MAX_SAFE_INTEGER, 9] })) {
      if (k[2] === OutboxKind.Attestation) statements += JSON.parse(TEXT.decode(parseDataItem(value).data)).length;
    }
    assert.is(statements, 3001, 'every slot attested once: a slot kept before the kill is not attested again');
  } finally {
    await processes.close();
    await store.close();
  }
});

test.run();
