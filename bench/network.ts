// Message-passing figures (issue 12): two nodes in this process on one embedded arlocal, each
// on port 0 with its own data folder, eager, one fold worker each, B told of A as a peer.
// - deliver-cross-node: Credit-Notices delivered per second from a token on A to a counter on
//   B (N transfers posted to A by a few concurrent senders, timed from the first post to the
//   assignment of the last Credit-Notice at B), beside the same senders posting N messages
//   straight to a counter on B (timed until all are acknowledged).
// - pingpong-rtt-p50 / -p99: one ping-pong round trip across the two nodes (A folds, pushes to
//   B, B assigns and folds, pushes back, A assigns), read from the timestamps of consecutive
//   returns in A's schedule, beside one sequential local POST /~scheduler@1.0/schedule.
// Every item is signed before its clock starts; what is timed is the nodes.
// BENCH_DELIVER_MESSAGES (default 500), BENCH_PINGPONG_ROUNDS (round trips, default 200).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { startArlocal } from '../arweave/arlocal.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { messageTags, moduleTags, type Tag } from '../engine/protocol/vocabulary.ts';
import { buildModules } from '../modules/tools/build.ts';
import { NodeClient, signItem, type Signer } from '../client/node-client.ts';
import { startNode, type RunningNode } from '../gateway/node.ts';
import { median, type Figure } from './report.ts';

/** Concurrent posting loops: "a few senders". */
const SENDERS = 4;
/** Transfers (and direct messages) each link gets before timing: the target's scheduler found, modules compiled. */
const WARM = 20;
/** Rounds of the delivery figure, alternating which of the two goes first (a noisy machine). */
const ROUNDS = 2;

interface Pair {
  a: RunningNode;
  b: RunningNode;
  ca: NodeClient;
  cb: NodeClient;
  signer: Signer;
  modules: Record<'token' | 'counter' | 'pingpong', string>;
  close(): Promise<void>;
}

export async function networkFigures(dir: string, log: (line: string) => void): Promise<Figure[]> {
  const messages = Number(process.env.BENCH_DELIVER_MESSAGES ?? 500);
  const rounds = Number(process.env.BENCH_PINGPONG_ROUNDS ?? 200);
  log('network: starting arlocal and two nodes (eager, 1 fold worker each)…');
  const pair = await startPair(join(dir, 'network'));
  try {
    return [await deliverFigure(pair, messages, log), ...(await pingpongFigures(pair, rounds, log))];
  } finally {
    await pair.close();
  }
}

async function startPair(dir: string): Promise<Pair> {
  const arlocal = await startArlocal({ dir: join(dir, 'arlocal'), port: 0 });
  const nodes: RunningNode[] = [];
  try {
    const gateway = new ArweaveGateway(arlocal.url);
    const wallet = await loadOrCreateWallet(join(dir, 'wallet.json'));
    const built = (await buildModules()) as Record<string, string>;
    const modules = {} as Pair['modules'];
    for (const name of ['token', 'counter', 'pingpong'] as const) {
      modules[name] = await upload(new Uint8Array(readFileSync(built[name]!)), { gateway, wallet, tags: moduleTags([{ name: 'Name', value: name }]) });
    }
    const common = { port: 0, gateway: arlocal.url, eager: true, workers: 1, examples: false, log: () => {} };
    const a = await startNode({ ...common, data: join(dir, 'a') });
    nodes.push(a);
    const b = await startNode({ ...common, data: join(dir, 'b'), peers: { [a.node.key.address]: a.url } });
    nodes.push(b);
    return {
      a,
      b,
      ca: new NodeClient(a.url),
      cb: new NodeClient(b.url),
      signer: { ed25519: ed25519Signer(generateKeyPairSync('ed25519').privateKey) },
      modules,
      async close() {
        for (const node of nodes.reverse()) await node.close().catch(() => {});
        await arlocal.stop();
      },
    };
  } catch (error) {
    for (const node of nodes.reverse()) await node.close().catch(() => {});
    await arlocal.stop();
    throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Messages to `target`, signed now, for posting later. */
function signMessages(signer: Signer, target: string, n: number, tags: (i: number) => Tag[]): Promise<Uint8Array[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => (await signItem(signer, { target, tags: messageTags(tags(i)), data: `${i}` })).raw));
}

/** Posts every item to the node's scheduler from `SENDERS` loops at once; ms until the last is acknowledged. */
async function postAll(client: NodeClient, items: Uint8Array[]): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, async () => {
    while (next < items.length) await client.schedule(items[next++]!);
  }));
  return performance.now() - start;
}

/** Waits until `pid` has slot `slot` at `node`; that assignment's timestamp. Fails with what it saw if it never comes. */
async function slotTimestamp(node: RunningNode, pid: string, slot: number, what: string): Promise<number> {
  const until = Date.now() + 300_000;
  for (let look = 0; ; look++) {
    const assignment = node.node.scheduler.assignment(pid, slot);
    if (assignment) return assignment.timestamp;
    if (Date.now() > until) {
      throw new Error(`${what}: slot ${slot} of ${pid} never came (it is at ${node.node.scheduler.currentSlot(pid)}); deliveries: ${JSON.stringify(node.node.deliverer.stats())}`);
    }
    await sleep(look < 100 ? 5 : 25);
  }
}

const transferTags = (recipient: string) => (): Tag[] => [{ name: 'Action', value: 'Transfer' }, { name: 'Recipient', value: recipient }, { name: 'Quantity', value: '1' }];
const counterTags = (): Tag[] => [];

async function deliverFigure(pair: Pair, n: number, log: (line: string) => void): Promise<Figure> {
  const { a, b, ca, cb, signer, modules } = pair;
  const token = (await ca.spawn(signer, modules.token, a.node.key.address)).process;
  // Two counters on B: one counts Credit-Notices from the token, one the direct messages.
  const credited = (await cb.spawn(signer, modules.counter, b.node.key.address)).process;
  const direct = (await cb.spawn(signer, modules.counter, b.node.key.address)).process;

  log(`  warming both links with ${WARM} messages each…`);
  await postAll(ca, await signMessages(signer, token, WARM, transferTags(credited)));
  await postAll(cb, await signMessages(signer, direct, WARM, counterTags));
  await slotTimestamp(b, credited, WARM, 'the warm-up transfers');

  const cross: { deliverMs: number; sendMs: number; from: number }[] = [];
  const straight: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of round % 2 === 0 ? ['cross', 'direct'] : ['direct', 'cross']) {
      if (which === 'cross') {
        const items = await signMessages(signer, token, n, transferTags(credited));
        const base = b.node.scheduler.currentSlot(credited)!;
        const from = a.node.scheduler.currentSlot(token)! + 1;
        log(`  round ${round + 1}: ${n} transfers posted to the token on A, until B's counter has every Credit-Notice…`);
        const started = Date.now();
        const sendMs = await postAll(ca, items);
        const last = await slotTimestamp(b, credited, base + n, 'the Credit-Notices');
        cross.push({ deliverMs: Math.max(1, last - started), sendMs, from });
        log(`    delivered in ${last - started} ms (${((n * 1000) / (last - started)).toFixed(0)} msg/s; posting took ${sendMs.toFixed(0)} ms)`);
      } else {
        const items = await signMessages(signer, direct, n, counterTags);
        log(`  round ${round + 1}: ${n} messages posted straight to the counter on B…`);
        const ms = await postAll(cb, items);
        straight.push(ms);
        log(`    acknowledged in ${ms.toFixed(0)} ms (${((n * 1000) / ms).toFixed(0)} msg/s)`);
      }
    }
  }
  const total = (list: number[]) => list.reduce((s, x) => s + x, 0);
  const stats = a.node.deliverer.stats();
  const parts = cross.map((c) => linkBreakdown(pair, token, credited, c.from, n));
  const mid = (key: keyof LinkParts) => median(parts.flatMap((p) => p[key]));
  log(`  per Credit-Notice, medians (ms): transfer assigned → entry kept (fold) ${mid('fold')}, waiting for the link ${mid('queued')}, push until B assigned ${mid('push')}, B's answer back at A ${mid('answer')}`);
  return {
    id: 'deliver-cross-node',
    name: `Credit-Notices delivered, token on node A to counter on node B (${n} transfers, ${SENDERS} senders)`,
    value: (n * ROUNDS * 1000) / total(cross.map((c) => c.deliverMs)),
    unit: 'msg/s',
    baselineName: `the same senders posting ${n} messages straight to B's scheduler`,
    baseline: (n * ROUNDS * 1000) / total(straight),
    better: 'higher',
    details: {
      messages: n,
      rounds: ROUNDS,
      senders: SENDERS,
      'send-only-msg-per-s': (n * ROUNDS * 1000) / total(cross.map((c) => c.sendMs)),
      'a-delivered': stats.delivered,
      'a-attempts': stats.attempts,
      'a-failures': stats.failures,
      'a-accounts': stats.accounts,
      'a-pending-at-end': stats.pending,
      'fold-ms-p50': mid('fold'),
      'link-wait-ms-p50': mid('queued'),
      'push-to-assigned-ms-p50': mid('push'),
      'answer-back-ms-p50': mid('answer'),
    },
  };
}

/** Where each Credit-Notice's time went, ms, from the ledger's and the schedules' own clocks (all in this process, one clock). */
interface LinkParts { fold: number[]; queued: number[]; push: number[]; answer: number[] }

function linkBreakdown(pair: Pair, token: string, counter: string, from: number, n: number): LinkParts {
  const parts: LinkParts = { fold: [], queued: [], push: [], answer: [] };
  let previousSettled = 0;
  for (const { slot, index, entry } of pair.a.node.deliverer.outbox(token, from, 2 * n)) {
    if (index !== 1 || entry.status !== 'delivered' || entry.slot === undefined || entry.settledAt === undefined) continue;
    const transfer = pair.a.node.scheduler.assignment(token, slot)!.timestamp;
    const assigned = pair.b.node.scheduler.assignment(counter, entry.slot)!.timestamp;
    const sent = Math.max(entry.createdAt, previousSettled);
    parts.fold.push(entry.createdAt - transfer);
    parts.queued.push(sent - entry.createdAt);
    parts.push.push(assigned - sent);
    parts.answer.push(entry.settledAt - assigned);
    previousSettled = entry.settledAt;
  }
  return parts;
}

/** The q-th quantile (0..1) of the values: the smallest value with at least q of them at or below it. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function pingpongFigures(pair: Pair, roundTrips: number, log: (line: string) => void): Promise<Figure[]> {
  const { a, b, ca, cb, signer, modules } = pair;
  const ping = (await ca.spawn(signer, modules.pingpong, a.node.key.address)).process;
  const pong = (await cb.spawn(signer, modules.pingpong, b.node.key.address)).process;
  // `Rounds: 2k` is k round trips: A gets rounds 2, 4, … 2k back, one slot each after its Serve.
  const serve = async (trips: number) => {
    const { slot } = await ca.send(signer, ping, [{ name: 'Action', value: 'Serve' }, { name: 'Peer', value: pong }, { name: 'Rounds', value: String(2 * trips) }]);
    await slotTimestamp(a, ping, slot + trips, 'the ping-pong');
    return slot as number;
  };
  log('  ping-pong warm-up (3 round trips)…');
  await serve(3);
  log(`  ping-pong across the two nodes, ${roundTrips} round trips…`);
  const first = await serve(roundTrips);
  const times = Array.from({ length: roundTrips }, (_, k) => a.node.scheduler.assignment(ping, first + k + 1)!.timestamp - a.node.scheduler.assignment(ping, first + k)!.timestamp);
  const endToEnd = a.node.scheduler.assignment(ping, first + roundTrips)!.timestamp - a.node.scheduler.assignment(ping, first)!.timestamp;
  log(`    p50 ${quantile(times, 0.5)} ms, p99 ${quantile(times, 0.99)} ms, mean ${(endToEnd / roundTrips).toFixed(1)} ms (end to end ${endToEnd} ms)`);

  // The baseline: one durable local assignment, requests one after another, to a counter on A.
  const local = (await ca.spawn(signer, modules.counter, a.node.key.address)).process;
  const items = await signMessages(signer, local, 20 + roundTrips, counterTags);
  log(`  ${roundTrips} local schedule requests to node A, one after another (after 20 unmeasured)…`);
  const latencies: number[] = [];
  for (const [i, item] of items.entries()) {
    const start = performance.now();
    await ca.schedule(item);
    if (i >= 20) latencies.push(performance.now() - start);
  }
  log(`    p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms`);
  const details = { 'round-trips': roundTrips, 'mean-ms': endToEnd / roundTrips, 'max-ms': Math.max(...times), 'min-ms': Math.min(...times) };
  const figure = (p: number, label: string, id: string): Figure => ({
    id,
    name: `ping-pong round trip across two nodes, ${label} of ${roundTrips} (timestamps of consecutive returns in A's schedule, 1 ms resolution)`,
    value: quantile(times, p),
    unit: 'ms',
    baselineName: `one local POST /~scheduler@1.0/schedule, ${label} of ${roundTrips} sequential`,
    baseline: quantile(latencies, p),
    better: 'lower',
    details,
  });
  return [figure(0.5, 'p50', 'pingpong-rtt-p50'), figure(0.99, 'p99', 'pingpong-rtt-p99')];
}
