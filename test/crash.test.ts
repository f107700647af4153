// Crash safety of the scheduler: a real node runs in a child process (`hyperwasm serve`, as a
// user starts it) under concurrent schedule traffic and is killed with SIGKILL at random
// moments, several times on the same data folder. After every restart the schedule must hold
// every acknowledged assignment at its slot, be contiguous from slot 0, verify end to end
// (hash-chain and node signatures), never show a slot with a different message than before,
// and the node must go on scheduling at the next slots. The processes are counters folded on
// two fold workers while the traffic runs (`--workers 2`), so kills land mid-fold too: every
// answer, before and after a restart, must count exactly the messages up to its slot.
//
// The kill delays and the choice of processes come from a seeded PRNG; the seed is printed
// and CRASH_SEED=<n> replays it (item anchors stay random, so timing still varies).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { NodeClient, signItem, type Signer } from '../client/node-client.ts';
import { ed25519Signer, parseDataItem, verifyDataItem } from '../engine/protocol/ans104/data-item.ts';
import { readAssignment } from '../engine/protocol/assignment.ts';
import { chain } from '../engine/protocol/hash-chain.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import { tempDir } from './helpers.ts';
import { killHard, startChildNode, xorshift32, type ChildNode } from './child-node.ts';
import { messageTags, moduleTags } from '../engine/protocol/vocabulary.ts';
import { readFileSync } from 'node:fs';
import { buildModules } from '../modules/tools/build.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';

const CYCLES = 5; // kill/restart cycles on the same data folder
const SENDERS = 16;
const PROCESSES = 3;
const PAGE = 250;
const FIRST_ANSWER_MS = 20_000; // the kill delay starts at the first answer, or after this // page size when reading schedules back, so paging is exercised


/** A node as `hyperwasm serve` in a child process, as a user starts it: on the embedded arlocal, with two fold workers. */
const startNode = (data: string) => startChildNode(data, ['--arlocal-port', '0', '--no-examples', '--workers', '2']);

interface Ack {
  process: string;
  slot: number;
  message: string;
  assignment: string;
}

interface Traffic {
  acked: Ack[];
  /** Message IDs sent but unanswered when the node was killed. */
  inFlightAtKill: string[];
  errorsBeforeKill: string[];
  /** Assignments read back from the schedule while the traffic ran: "pid/slot" → IDs. */
  seenLive: Map<string, { message: string; assignment: string }>;
  /** How long the first answer of the cycle took. */
  firstAnswerMs: number;
  /** Results computed while the traffic ran. */
  folded: number;
}

/**
 * Runs SENDERS concurrent senders against the node, each signing a fresh message for a
 * process picked by the PRNG, while one reader per process follows the schedules, and
 * SIGKILLs the node `delayMs` after the first answer.
 */
async function trafficThenKill(node: ChildNode, signer: Signer, pids: string[], delayMs: number, random: () => number, known: (pid: string) => number): Promise<Traffic> {
  const client = new NodeClient(node.url);
  const acked: Ack[] = [];
  const seenLive = new Map<string, { message: string; assignment: string }>();
  const inFlight = new Set<string>();
  const errorsBeforeKill: string[] = [];
  let killed = false;

  const sender = async () => {
    while (!killed) {
      const pid = pids[Math.floor(random() * pids.length)];
      const item = await signItem(signer, { target: pid, tags: messageTags([{ name: 'Action', value: 'Crash-Test' }]), data: `crash-test ${Math.floor(random() * 1e9)}` });
      if (killed) break;
      inFlight.add(item.id);
      try {
        const answer = await client.schedule(item.raw);
        // a 200 read after the kill was still sent by the node, so it counts as acknowledged
        acked.push({ process: answer.process, slot: answer.slot, message: answer.message, assignment: answer.assignment });
        if (answer.message !== item.id || answer.process !== pid) errorsBeforeKill.push(`answer for ${item.id} names ${answer.process}/${answer.message}`);
      } catch (error) {
        if (!killed) errorsBeforeKill.push(String(error));
      } finally {
        inFlight.delete(item.id);
      }
    }
  };

  // one reader per process follows its schedule while the senders run, so that assignments
  // visible (committed) but not yet answered are on record too
  const observer = async (pid: string) => {
    let from = known(pid);
    while (!killed) {
      try {
        const { current } = await client.slot(pid);
        if (current >= from) {
          const page = await client.schedulePage(pid, from, undefined, PAGE);
          for (const a of page.assignments) seenLive.set(`${pid}/${a.slot}`, { message: a.message, assignment: a.assignment });
          from = page.to + 1;
        }
      } catch (error) {
        if (!killed) errorsBeforeKill.push(`reading ${pid}: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  // one folder per process computes its latest result through the fold workers meanwhile:
  // the counter's count at slot N is N (every message after the spawn counts)
  let folded = 0;
  const folder = async (pid: string) => {
    while (!killed) {
      try {
        const result = await client.compute(pid);
        if (result.output?.count !== result.slot) errorsBeforeKill.push(`${pid}/${result.slot} counts ${JSON.stringify(result.output)}`);
        folded += 1;
      } catch (error) {
        if (!killed) errorsBeforeKill.push(`computing ${pid}: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const senders = [...Array.from({ length: SENDERS }, sender), ...pids.map(observer), ...pids.map(folder)];
  // the delay counts from the first answer, so the kill lands while traffic flows
  const started = Date.now();
  while (acked.length === 0 && errorsBeforeKill.length === 0 && Date.now() - started < FIRST_ANSWER_MS) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const firstAnswerMs = Date.now() - started;
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  killed = true;
  const inFlightAtKill = [...inFlight];
  node.child.kill('SIGKILL');
  await node.exited;
  await Promise.all(senders);
  return { acked, inFlightAtKill, errorsBeforeKill, seenLive, firstAnswerMs, folded };
}

interface Row {
  slot: number;
  message: string;
  assignment: string;
  hashChain: string;
}

/** Reads a process's whole schedule page by page and verifies every item in it. */
async function readSchedule(client: NodeClient, pid: string, nodeAddress: string): Promise<Row[]> {
  const current = (await client.slot(pid)).current as number;
  const rows: Row[] = [];
  let from = 0;
  for (;;) {
    const page = await client.schedulePage(pid, from, undefined, PAGE);
    assert.is(page.process, pid);
    for (const a of page.assignments) {
      assert.is(a.slot, rows.length, `${pid}: slots are contiguous from 0 (expected ${rows.length}, got ${a.slot})`);
      const item = parseDataItem(fromB64url(a['assignment-item']));
      assert.ok(verifyDataItem(item), `${pid}/${a.slot}: the assignment item's signature verifies`);
      assert.is(item.ownerAddress, nodeAddress, `${pid}/${a.slot}: the assignment is signed by the node`);
      assert.is(item.id, a.assignment, `${pid}/${a.slot}: the assignment ID is the item's ID`);
      const signed = readAssignment(item);
      assert.equal(
        { process: signed.process, slot: signed.slot, message: signed.message, 'hash-chain': signed['hash-chain'] },
        { process: pid, slot: a.slot, message: a.message, 'hash-chain': a['hash-chain'] },
        `${pid}/${a.slot}: the signed tags match the JSON`,
      );
      const message = parseDataItem(fromB64url(a['message-item']));
      assert.ok(verifyDataItem(message), `${pid}/${a.slot}: the message item verifies`);
      assert.is(message.id, a.message, `${pid}/${a.slot}: the message item is the assigned message`);
      rows.push({ slot: a.slot, message: a.message, assignment: a.assignment, hashChain: a['hash-chain'] });
    }
    if (!page.continues) break;
    assert.is(page.next, rows.length, `${pid}: next page starts after the last slot read`);
    from = page.next;
  }
  assert.is(rows.length, current + 1, `${pid}: the schedule ends at the current slot ${current}`);
  assert.is(rows[0].message, pid, `${pid}: slot 0 holds the process message`);
  assert.equal(
    rows.map((r) => r.hashChain),
    chain(rows.map((r) => r.message)),
    `${pid}: the hash-chain recomputes over the messages in slot order`,
  );
  return rows;
}

const test = suite('scheduler crash safety (SIGKILL)');
const dir = tempDir('hyperwasm-crash-');
const data = join(dir.path, 'data');
const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 0xffffffff)) >>> 0;
const delays = xorshift32(seed); // kill delays only, so they replay exactly
const choices = xorshift32(seed ^ 0x5bd1e995); // the senders' picks (their order depends on timing)
const signer: Signer = { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) };
let node: ChildNode | undefined;
let address = '';
const pids: string[] = [];
/** Everything ever acknowledged, by "pid/slot". */
const acknowledged = new Map<string, Ack>();
/** Everything ever observed in a schedule (acknowledged or not): "pid/slot" → message/assignment. */
const observed = new Map<string, { message: string; assignment: string }>();

test.before(() => {
  console.log(`crash test seed ${seed} (CRASH_SEED=${seed} to replay)`);
});

test.after(async () => {
  await killHard(node);
  dir.remove();
});

function remember(ack: Ack) {
  const key = `${ack.process}/${ack.slot}`;
  const before = acknowledged.get(key);
  assert.ok(!before || before.message === ack.message, `slot ${key} was acknowledged for ${before?.message} and again for ${ack.message}`);
  acknowledged.set(key, ack);
}

/** Records what a slot holds, failing if it ever held something else. */
function observe(key: string, seen: { message: string; assignment: string }) {
  const before = observed.get(key);
  if (before) {
    assert.is(seen.message, before.message, `slot ${key} changed its message`);
    assert.is(seen.assignment, before.assignment, `slot ${key} changed its assignment`);
  } else observed.set(key, { message: seen.message, assignment: seen.assignment });
}

/** Checks 1–4 against the node as it is now; returns how many acknowledged entries were found. */
async function checkSchedules(client: NodeClient): Promise<number> {
  let present = 0;
  const found = new Map<string, Row>();
  for (const pid of pids) {
    for (const row of await readSchedule(client, pid, address)) found.set(`${pid}/${row.slot}`, row);
  }
  for (const [key, ack] of acknowledged) {
    const row = found.get(key);
    assert.ok(row, `acknowledged ${key} (message ${ack.message}) is missing after restart`);
    assert.is(row!.message, ack.message, `acknowledged ${key} holds its message`);
    assert.is(row!.assignment, ack.assignment, `acknowledged ${key} holds its assignment`);
    present += 1;
  }
  for (const key of observed.keys()) assert.ok(found.has(key), `slot ${key}, seen before, is gone`);
  for (const [key, row] of found) observe(key, row);
  // no message sits at two slots
  const messages = new Set([...found.values()].map((r) => r.message));
  assert.is(messages.size, found.size, 'every message holds one slot only');
  return present;
}

test('a fresh node spawns the processes under test', async () => {
  node = await startNode(data);
  const client = new NodeClient(node.url);
  const info = await client.info();
  address = info.address;
  const wallet = await loadOrCreateWallet(join(dir.path, 'wallet.json'));
  const counter = await upload(new Uint8Array(readFileSync((await buildModules()).counter)), { gateway: new ArweaveGateway(info.gateway), wallet, tags: moduleTags() });
  assert.match(address, /^[A-Za-z0-9_-]{43}$/);
  for (let i = 0; i < PROCESSES; i++) {
    const { process: pid, assignment } = await client.spawn(signer, counter, address, [{ name: 'Name', value: `crash-${i}` }]);
    assert.is(assignment.slot, 0);
    pids.push(pid);
    remember({ process: pid, slot: 0, message: pid, assignment: assignment.assignment });
  }
  assert.is(await checkSchedules(client), PROCESSES);
});

test(`${CYCLES} SIGKILLs under concurrent traffic lose no acknowledged assignment`, async () => {
  let cyclesKilledMidTraffic = 0;
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const delay = 150 + Math.floor(delays() * 751);
    const killed = node!;
    const traffic = await trafficThenKill(killed, signer, pids, delay, choices, countSlots);
    node = undefined;
    if (traffic.errorsBeforeKill.length) console.log(`node log before the kill:\n${killed.stderr().slice(-6000)}`);
    assert.equal(traffic.errorsBeforeKill, [], `cycle ${cycle}: requests failed before the kill`);
    for (const ack of traffic.acked) remember(ack);
    const unanswered = new Set(traffic.inFlightAtKill);
    let seenUnanswered = 0;
    for (const [key, seen] of traffic.seenLive) {
      observe(key, seen);
      if (unanswered.has(seen.message)) seenUnanswered += 1;
    }

    node = await startNode(data);
    const client = new NodeClient(node.url);
    assert.is((await client.info()).address, address, 'the node keeps its address across restarts');
    const present = await checkSchedules(client);
    assert.is(present, acknowledged.size);

    const stored = new Set([...observed.values()].map((o) => o.message));
    const inFlightPresent = traffic.inFlightAtKill.filter((id) => stored.has(id)).length;
    if (traffic.inFlightAtKill.length > 0 && traffic.acked.length > 0) cyclesKilledMidTraffic += 1;

    // 5. the node goes on: a new message per process takes the next slot
    for (const pid of pids) {
      const current = (await client.slot(pid)).current as number;
      const answer = await client.send(signer, pid, [{ name: 'Action', value: 'After-Restart' }]);
      assert.is(answer.slot, current + 1, `${pid}: the first message after restart takes slot ${current + 1}`);
      remember({ process: pid, slot: answer.slot, message: answer.message, assignment: answer.assignment });
    }
    const afterPresent = await checkSchedules(client);
    assert.is(afterPresent, acknowledged.size);
    // 6. every process folds to its latest slot after the restart, counting every message once
    for (const pid of pids) {
      const result = await client.compute(pid);
      assert.is(result.output.count, result.slot, `${pid}: the count after restart is the slot`);
      assert.is(result.slot, countSlots(pid) - 1);
    }

    console.log(
      `cycle ${cycle}: killed ${delay} ms after the first answer (which took ${traffic.firstAnswerMs} ms); acknowledged ${traffic.acked.length} this cycle, ` +
        `${present} of ${acknowledged.size - pids.length} acknowledged so far present after restart; in flight at the kill ${traffic.inFlightAtKill.length} ` +
        `(${inFlightPresent} of them stored without an answer, ${seenUnanswered} seen in the schedule before the kill); ` +
        `${traffic.seenLive.size} slots read live, ${traffic.folded} results computed live; slots per process ${pids.map(countSlots).join('/')}`,
    );
  }
  assert.ok(cyclesKilledMidTraffic >= 1, 'at least one kill landed in flowing traffic with requests in flight');
});

function countSlots(pid: string): number {
  let n = 0;
  for (const key of observed.keys()) if (key.startsWith(`${pid}/`)) n += 1;
  return n;
}

test.run();
