// The scheduler with its signature checks and signing on worker threads (engine/signatures.ts)
// answers what it answers on one thread, byte for byte: the same assignments in the same slots
// (call order), replays get the first assignment back, forgeries the same 400; the read side
// (engine/schedule.ts) reads what was written; and a worker lost mid-batch costs nothing but time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { openStore, type Store } from '../engine/store.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { StoredSchedule } from '../engine/schedule.ts';
import { SignaturePool } from '../engine/signatures.ts';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { readAssignment, type SignedAssignment } from '../engine/protocol/assignment.ts';
import { chain } from '../engine/protocol/hash-chain.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';
import { tempDir } from './helpers.ts';

const test = suite('schedule');
const nodeKey = generateKeyPairSync('ed25519').privateKey;
const signer = ed25519Signer(nodeKey);
const address = parseDataItem(createDataItem(signer, { data: '' }).raw).ownerAddress;
const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
const MODULE = 'M'.repeat(43);

const spawns = [0, 1, 2].map((i) => createDataItem(client, { tags: processTags(MODULE, address), data: `process ${i}` }));
const messages = Array.from({ length: 90 }, (_, i) => createDataItem(client, { target: spawns[i % 3]!.id, tags: messageTags(), data: `message ${i}` }));
const forged = (() => {
  const raw = createDataItem(client, { target: spawns[0]!.id, tags: messageTags(), data: 'forged' }).raw.slice();
  raw[raw.length - 1] ^= 1; // same signature, other data
  return raw;
})();

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(ok(), what);
}

interface Run {
  store: Store;
  assignments: SignedAssignment[];
  replay: SignedAssignment;
  refusal: string;
}

/** Schedules the spawns, then every message at once (with a replay and a forgery among them). */
async function run(dir: string, signatures: { threads: number; inline?: number }): Promise<Run> {
  const store = openStore(join(dir, 'lmdb'));
  const scheduler = new Scheduler({ store, signer, address, blockHeight: () => 7, clock: () => 1_764_000_000_000, signatures });
  for (const spawn of spawns) await scheduler.schedule(spawn.raw);
  // Workers loaded before the burst, so that it goes through them (the pool test below shows them starting by themselves).
  if (signatures.threads > 0) await scheduler.startWorkers();
  await Promise.all(messages.slice(0, 3).map((m) => scheduler.schedule(m.raw)));
  const rest = messages.slice(3).map((m) => scheduler.schedule(m.raw));
  const replay = scheduler.schedule(messages[10]!.raw);
  const refusal = scheduler.schedule(forged).then(
    () => 'accepted',
    (error: Error) => error.message,
  );
  const assignments = [...(await Promise.all(spawns.map((s) => scheduler.schedule(s.raw)))), ...(await Promise.all(messages.slice(0, 3).map((m) => scheduler.schedule(m.raw)))), ...(await Promise.all(rest))];
  const result = { store, assignments, replay: await replay, refusal: await refusal };
  await scheduler.close();
  return result;
}

test('on worker threads: the same assignments, byte for byte, as on one thread; slots in call order; replays and forgeries answered alike', async () => {
  const here = tempDir();
  const there = tempDir();
  try {
    const one = await run(here.path, { threads: 0 });
    const pooled = await run(there.path, { threads: 1, inline: 0 });
    assert.is(pooled.assignments.length, 93);
    pooled.assignments.forEach((a, i) => assert.equal(a.raw, one.assignments[i]!.raw, `assignment ${i}`));
    assert.equal(pooled.replay, pooled.assignments[3 + 10]);
    assert.match(pooled.refusal, /^the signature of data item .* does not verify$/);
    assert.is(pooled.refusal, one.refusal);
    // Slots in call order, each process's chain linked over its messages.
    for (const [p, spawn] of spawns.entries()) {
      const own = [spawn, ...messages.filter((_, i) => i % 3 === p)];
      const assigned = own.map((item) => pooled.assignments.find((a) => a.message === item.id)!);
      assert.equal(assigned.map((a) => a.slot), own.map((_, slot) => slot));
      assert.equal(assigned.map((a) => a['hash-chain']), chain(own.map((item) => item.id)));
    }
    // The read side reads what was written, from the stored bytes.
    const reader = new StoredSchedule(pooled.store);
    // (LMDB hands back Buffers: compared as plain bytes)
    const plain = (a: SignedAssignment | undefined) => a && { ...a, raw: new Uint8Array(a.raw) };
    for (const a of pooled.assignments) assert.equal(plain(reader.assignment(a.process, a.slot)), plain(a));
    assert.is(reader.currentSlot(spawns[1]!.id), 30);
    assert.is(reader.currentSlot('Q'.repeat(43)), undefined);
    assert.equal(reader.process(spawns[2]!.id)?.module, MODULE);
    const page = reader.range(spawns[0]!.id, 5, 9, 3);
    assert.equal(page.map((e) => e.assignment.slot), [5, 6, 7]);
    assert.equal(new Uint8Array(page[0]!.message), messages[12]!.raw);
    assert.equal(plain(page[0]!.assignment), plain(readAssignment(parseDataItem(pooled.store.assignments.get([spawns[0]!.id, 5])!))));
    await Promise.all([one.store.close(), pooled.store.close()]);
  } finally {
    here.remove();
    there.remove();
  }
});

test('the signature pool answers as this thread does, and a worker lost mid-batch only moves its work here', async () => {
  const pool = new SignaturePool({ privateKey: nodeKey, threads: 1, inline: 0 });
  const verify = (raw: Uint8Array) => new Promise<boolean | Error>((resolve) => pool.verify(parseDataItem(raw), resolve));
  const signOf = (message: Uint8Array) => new Promise<Uint8Array | Error>((resolve) => pool.sign(message, resolve));
  const items = [...messages.slice(0, 20).map((m) => m.raw), forged];
  const digests = Array.from({ length: 20 }, (_, i) => new Uint8Array(48).fill(i));
  const expected = digests.map((d) => new Uint8Array(sign(null, d, nodeKey)));
  try {
    await Promise.all(items.map(verify));
    await until(() => pool.loaded === 1, 'the signature worker loaded');
    const verified = await Promise.all(items.map(verify));
    assert.equal(verified, [...Array(20).fill(true), false]);
    assert.equal((await Promise.all(digests.map(signOf))).map((s) => new Uint8Array(s as Uint8Array)), expected);
    // Closing the worker under a batch: the batch is answered here, the same.
    const again = Promise.all([...items.map(verify), ...digests.map(signOf)]);
    setImmediate(() => void (pool as unknown as { workers: { line: { close(): Promise<void> } }[] }).workers[0]!.line.close());
    const answers = await again;
    assert.equal(answers.slice(0, 21), [...Array(20).fill(true), false]);
    assert.equal(answers.slice(21).map((s) => new Uint8Array(s as Uint8Array)), expected);
    assert.instance(await signOf(new Uint8Array(32)), Error);
  } finally {
    await pool.close();
  }
});

test.run();
