// Attestation figures, each beside a baseline from this run:
//  1. statements signed per second by signBatch (Merkle root + one ed25519 signature per
//     batch), batches of 1 and of MAX_BATCH, beside node:crypto signing each statement alone;
//  2. uncached stateless Compute GETs on a node that attests every result, beside the same
//     load on a node started without attestation (both child processes, load from autocannon);
//  3. replay verification of a counter process from arlocal (fetch + check + replay, and
//     without the fetch), beside the node's own computation of the same slots;
//  4. dispute localisation against a forged attester diverging at a seeded random slot,
//     beside a full replay verification of the same history.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_BATCH, signBatch } from '../engine/protocol/attestation.ts';
import { processStatement, statementBytes, type ProcessStatement } from '../engine/protocol/statement.ts';
import { fetchHistory } from '../attest/verify/history.ts';
import { verifyFromGateway } from '../attest/verify/pipeline.ts';
import { dispute } from '../attest/verify/dispute.ts';
import { createDataItem, ed25519Signer, parseDataItem, type DataItem, type Ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { b64url, utf8 } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { encodeBundle } from '../engine/protocol/ans104/bundle.ts';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { upload } from '../arweave/upload.ts';
import { loadOrCreateWallet } from '../arweave/wallet.ts';
import { startNode } from '../gateway/node.ts';
import { startChild, type Child } from './children.ts';
import { loadRate } from './load.ts';
import { median, type Figure } from './report.ts';
import { rate } from './engine.ts';
import { bundleTags, messageTags, processTags, tagValue } from '../engine/protocol/vocabulary.ts';

export interface AttestOptions {
  seconds: number;
  connections: number;
  dir: string;
  /** Messages in the verified process (slots 1..n after the spawn at slot 0). */
  slots: number;
  /** Seed of the PRNG that picks the dispute's divergent slot. */
  seed: number;
}

type Log = (line: string) => void;

/**
 * The verifier's view of arlocal (the node's embedded one, a child process), retrying a request
 * once when it fails to connect: after seconds of synchronous replay on this thread, the next
 * request can take a pooled keep-alive socket whose server-side timeout fired meanwhile, and
 * get ECONNRESET.
 */
class RetryingGateway extends ArweaveGateway {
  retries = 0;
  override async request(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await super.request(path, init);
    } catch (error) {
      if (!(error instanceof HyperError) || error.kind !== 'unavailable') throw error;
      this.retries++;
      return super.request(path, init);
    }
  }
}

const id = () => b64url(randomBytes(32));
const addressOf = (signer: Ed25519Signer) => sha256b64(signer.publicKey);

/** Statements per second of `fn`, which handles `per` statements a call, run for about `ms`. */
const perSecond = (fn: () => unknown, per: number, ms: number): number => rate(fn, ms) * per;

/** Measurements are split into this many interleaved rounds (value, baseline, value, …). */
const ROUNDS = 5;
/** Rounds of the dispute and its full-verification baseline (each round runs both). */
const DISPUTE_ROUNDS = 3;

function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  return fn().then((value) => ({ ms: performance.now() - start, value }));
}

/** mulberry32: the dispute's slot is the same for the same seed. */
function prng(seed: number): (k: number) => number {
  let state = seed >>> 0;
  return (k) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * k | 0;
  };
}

async function signingFigures(log: Log): Promise<Figure[]> {
  log('signing attestation batches (1 and 256 statements) and raw ed25519 signatures…');
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = ed25519Signer(privateKey);
  const node = addressOf(signer);
  const pid = id();
  const module = id();
  let hashpath = pid;
  const statements: ProcessStatement[] = Array.from({ length: MAX_BATCH }, (_, i) => {
    const message = id();
    hashpath = `${pid}/${sha256b64(utf8(hashpath + message))}`.slice(0, 87);
    // The node's own builder, from a result record like the process device's.
    return processStatement({ process: pid, module, slot: 1000 + i, message, assignment: id(), hashpath, output: null, messages: [], 'result-bytes': '', 'result-hash': id(), 'state-hash': id(), gas: 48_213 }, node);
  });
  const one = [statements[0]];
  const bytes = statementBytes(statements[0]);
  // Interleaved rounds, the median of each: on a shared machine, value and baseline see the same load.
  const rounds: number[][] = [[], [], []];
  for (let r = 0; r < ROUNDS; r++) {
    rounds[0].push(perSecond(() => sign(null, bytes, privateKey), 1, 300));
    rounds[1].push(perSecond(() => signBatch(signer, node, one), 1, 300));
    rounds[2].push(perSecond(() => signBatch(signer, node, statements), MAX_BATCH, 500));
  }
  const [raw, single, batched] = rounds.map(median);
  log(`  a statement is ${bytes.length} bytes; an item of ${MAX_BATCH} is ${signBatch(signer, node, statements).item.raw.length} bytes`);
  return [
    { id: 'attest-sign-1', name: 'attestations signed, batches of 1', value: single, unit: 'stmt/s', baselineName: 'raw ed25519 sign of each statement (node:crypto)', baseline: raw, better: 'higher' },
    { id: 'attest-sign-batch', name: `attestations signed, batches of ${MAX_BATCH}`, value: batched, unit: 'stmt/s', baselineName: 'raw ed25519 sign of each statement (node:crypto)', baseline: raw, better: 'higher' },
  ];
}

/** A node with its embedded arlocal and example modules, in a child process of its own. */
function nodeChild(data: string, attest: boolean, publish = true): Promise<Child> {
  const entry = pathToFileURL(join(import.meta.dirname, '..', 'gateway', 'node.ts')).href;
  const script = `
    const { startNode } = await import(${JSON.stringify(entry)});
    const node = await startNode({ data: ${JSON.stringify(data)}, port: 0, arlocalPort: 0, attest: ${attest}, publish: ${publish}, log: () => {} });
    process.once('SIGTERM', () => node.close().finally(() => process.exit(0)));
    console.log('fac ' + node.examples.fac);
    console.log('ready ' + node.url);`;
  return startChild(['--import', 'tsx', '--input-type=module', '-e', script], /ready (\S+)/);
}

/** Requests per second of uncached Compute GETs (a new parameter each request) for `seconds`, after a warm-up on other parameters. */
function uncached(node: Child, options: AttestOptions, seconds: number, from: number): Promise<number> {
  const fac = node.stdout.match(/^fac (\S+)$/m)![1];
  let n = from;
  return loadRate(node.url, { connections: options.connections, seconds, setupRequest: (req: any) => ({ ...req, path: `/${fac}/Compute?wasm-function=fac&wasm-params=[${1 + ++n / 1e9}]` }) });
}

async function httpFigures(options: AttestOptions, log: Log): Promise<Figure[]> {
  log('starting three nodes (embedded arlocal each): attestation off, on, on with publishing held back…');
  // One after the other: each builds the example modules if they are not built yet.
  const nodes: Child[] = [];
  try {
    for (const [name, attest, publish] of [['attest-off', false, true], ['attest-on', true, true], ['attest-unpublished', true, false]] as const) {
      nodes.push(await nodeChild(join(options.dir, name), attest, publish));
    }
    // BENCH_SECONDS per node in all, in interleaved rounds (off, on, held back, off, …), averaged.
    const rounds = Math.max(1, Math.min(3, Math.floor(options.seconds)));
    const seconds = Math.max(1, Math.round(options.seconds / rounds));
    log(`uncached Compute GET on each node: ${rounds} round(s) of ${seconds}s, interleaved…`);
    const rates: number[][] = nodes.map(() => []);
    for (let r = 0; r < rounds; r++) {
      // Each round asks for parameters no earlier round asked for: every request is a miss.
      for (const [i, node] of nodes.entries()) rates[i].push(await uncached(node, options, seconds, r * 1e8));
    }
    const [without, attested, held] = rates.map((list) => list.reduce((a, b) => a + b, 0) / list.length);
    log(`  req/s by round: off ${rates[0].map((x) => x.toFixed(0)).join(', ')}; on ${rates[1].map((x) => x.toFixed(0)).join(', ')}; held back ${rates[2].map((x) => x.toFixed(0)).join(', ')}`);
    return [
      { id: 'uncached-get-attested', name: 'uncached fac Compute GET, attested', value: attested, unit: 'req/s', baselineName: 'same, node started with attest: false', baseline: without, better: 'higher' },
      { id: 'uncached-get-attested-unpublished', name: 'same, attested, outbox not published', value: held, unit: 'req/s', baselineName: 'same, node started with attest: false', baseline: without, better: 'higher' },
    ];
  } finally {
    for (const node of nodes) await node.stop();
  }
}

export async function attestFigures(options: AttestOptions, log: Log): Promise<Figure[]> {
  const figures = await signingFigures(log);
  figures.push(...(await httpFigures(options, log)));
  figures.push(...(await processFigures(options, log)));
  return figures;
}

export async function processFigures(options: AttestOptions, log: Log): Promise<Figure[]> {
  const { slots, dir } = options;
  log(`starting a node in this process (snapshots every 1000, publishing held back)…`);
  // eager: false, so the process is cold when its compute is timed (nothing folded while scheduling).
  const running = await startNode({ data: join(dir, 'verify-node'), port: 0, arlocalPort: 0, publish: false, eager: false, snapshotEvery: 1000, log: () => {} });
  try {
    const { node } = running;
    const counter = running.examples.counter;
    const client = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    log(`scheduling a counter process of ${slots} messages…`);
    const spawn = createDataItem(client, { tags: processTags(counter, node.key.address), data: '', anchor: randomBytes(32) });
    await node.scheduler.schedule(spawn.raw);
    const pid = spawn.id;
    const pending = [];
    for (let i = 1; i <= slots; i++) pending.push(node.scheduler.schedule(createDataItem(client, { target: pid, tags: messageTags(), data: `${i}`, anchor: randomBytes(32) }).raw));
    await Promise.all(pending);
    const total = slots + 1;

    log(`the node computes slots 0–${slots} on a cold process (fold, attest, checkpoint, commit)…`);
    const computed = await timed(() => node.processes.compute(pid));
    const computeRate = (total * 1000) / computed.ms;
    log(`  ${computed.ms.toFixed(0)} ms, ${computeRate.toFixed(0)} slots/s`);

    log('publishing the outbox to arlocal…');
    const flushed = await timed(() => node.publisher.flush());
    const stats = node.publisher.stats();
    log(`  ${stats.published} items in ${stats.bundles} bundles, ${flushed.ms.toFixed(0)} ms`);

    const threads = Math.min(8, availableParallelism());
    log(`verifying from arlocal in a fresh folder: fetch and parse, signatures on ${threads} worker thread(s), module, replay, all overlapped…`);
    const gateway = new RetryingGateway(running.gatewayUrl);
    const verified = await timed(() => verifyFromGateway(gateway, pid, { dir: join(dir, 'verifier-1'), source: gateway }));
    const { report, items, ms } = verified.value;
    const verifyMs = verified.ms;
    log(`  ${verifyMs.toFixed(0)} ms: fetch and parse ${ms.fetch.toFixed(0)} ms (${items} items), replay ${ms.replay.toFixed(0)} ms, then ${ms.check.toFixed(0)} ms waiting for the last signatures and judging`);
    log(`  ${report.confirmed} of ${report.slots.length} slots confirmed, ${report.unattested} unattested, ${report.faults.length} faults${report.ok ? '' : `: ${report.faults[0].message}`}`);
    if (!report.ok || report.confirmed !== total) throw new Error(`the honest history did not verify: ${report.faults[0]?.message ?? `${report.confirmed} of ${total} slots confirmed`}`);
    // The same history for the forger below, read again (not measured).
    const raws = await fetchHistory(gateway, pid);
    // Where the check goes: every slot brings two signatures to verify (message, assignment).
    const keys = generateKeyPairSync('ed25519');
    const digest = randomBytes(48);
    const signature = sign(null, digest, keys.privateKey);
    const verifyRate = perSecond(() => verify(null, digest, keys.publicKey, signature), 1, 1000);
    log(`  raw ed25519 verify (node:crypto): ${verifyRate.toFixed(0)}/s, so ${raws.length} signatures alone take ~${((raws.length * 1000) / verifyRate).toFixed(0)} ms`);
    const figures: Figure[] = [
      { id: 'verify-replay', name: `replay verification, ${total} slots (fetch + check + replay)`, value: (total * 1000) / verifyMs, unit: 'slots/s', baselineName: 'the node computing them (fold + attest + commit)', baseline: computeRate, better: 'higher', target: '≥ 1×', details: { items, threads, fetchMs: ms.fetch, replayMs: ms.replay, checkWaitMs: ms.check } },
      { id: 'verify-replay-fetched', name: 'replay verification after the fetch (replay + the signatures still pending)', value: (total * 1000) / (ms.replay + ms.check), unit: 'slots/s', baselineName: 'the node computing them (fold + attest + commit)', baseline: computeRate, better: 'higher', target: '≥ 1×' },
    ];

    // Another attester: the node's statements, re-signed by a stranger, diverging at `at`.
    const at = 1 + prng(options.seed)(slots);
    log(`dispute: a forged attester diverges from slot ${at} on (seed ${options.seed})…`);
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    const forgerAddress = addressOf(forger);
    const honest: DataItem[] = raws.map((r) => parseDataItem(r)).filter((item) => tagValue(item.tags, 'Type') === 'Attestation' && tagValue(item.tags, 'Process') === pid && item.ownerAddress === node.key.address);
    const forged = honest.map((item) => {
      const statements = (JSON.parse(new TextDecoder().decode(item.data)) as ProcessStatement[]).map((s) =>
        s.slot >= at ? { ...s, node: forgerAddress, 'state-hash': sha256b64(utf8(`forged state ${s.slot}`)), 'result-hash': sha256b64(utf8(`forged result ${s.slot}`)) } : { ...s, node: forgerAddress });
      return signBatch(forger, forgerAddress, statements).item;
    });
    const wallet = await loadOrCreateWallet(join(dir, 'forger-wallet.json'));
    for (const item of forged) {
      // One item per bundle: an item of 256 statements is over 100 KiB, and arlocal's bundles stay under 200 KiB.
      await upload(encodeBundle([item.raw]), {
        gateway: node.gateway,
        wallet,
        tags: bundleTags({ group: pid, seqFrom: 0, seqTo: 0, attestations: [item.id] }),
      });
    }
    const a = honest.find((item) => Number(tagValue(item.tags, 'Slot-From')) <= at && at <= Number(tagValue(item.tags, 'Slot-To')))!;
    const b = forged[honest.indexOf(a)];
    log(`  ${forged.length} forged attestation items published; disputing ${a.id} (honest) against ${b.id} (forged)`);
    // Interleaved rounds (dispute, full verification, dispute, …), the median of each: on a
    // shared machine one run of each is mostly noise, and both see the same load this way.
    log(`the dispute and, for comparison, the same history verified in full (the same pipelined verification), ${DISPUTE_ROUNDS} interleaved rounds…`);
    const disputes: { ms: number; value: Awaited<ReturnType<typeof dispute>> }[] = [];
    const fulls: { ms: number; value: Awaited<ReturnType<typeof verifyFromGateway>> }[] = [];
    for (let r = 0; r < DISPUTE_ROUNDS; r++) {
      disputes.push(await timed(() => dispute(gateway, a.id, b.id, { dir: join(dir, `disputer-${r}`) })));
      fulls.push(await timed(() => verifyFromGateway(gateway, pid, { dir: join(dir, `verifier-full-${r}`), source: gateway })));
    }
    const disputed = { ms: median(disputes.map((d) => d.ms)), value: disputes[0].value };
    const full = { ms: median(fulls.map((f) => f.ms)), value: fulls[0].value };
    const result = disputed.value;
    log(`  first divergent slot ${result.slot} (planted at ${at}), ${result.comparisons} comparisons, ${result.executions} executions from the checkpoint at slot ${result.from}, the replay supports ${result.supports === 'a' ? 'the honest node' : result.supports === 'b' ? 'the forger' : result.supports}; ${disputes.map((d) => d.ms.toFixed(0)).join(', ')} ms`);
    const { report: fullReport, items: fullRaws } = full.value;
    log(`  full: ${fulls.map((f) => f.ms.toFixed(0)).join(', ')} ms (the first: fetch and parse ${full.value.ms.fetch.toFixed(0)}, replay ${full.value.ms.replay.toFixed(0)}, then ${full.value.ms.check.toFixed(0)}): ${fullReport.confirmed} slots confirmed, ${fullReport.faults.length} faults (the forger is not the process's scheduler: ${[...new Set(fullReport.faults.map((f) => f.kind))].join(', ') || 'none'})`);
    log(`  the dispute: fetch ${result.ms.fetch.toFixed(0)} ms (${result.fetched.items} items in ${result.fetched.bundles} of ${result.bundles} bundles), check ${result.ms.check.toFixed(0)} ms (${result.checks} signatures), replay ${result.ms.replay.toFixed(0)} ms (${result.executions} executions); the full run checked ${fullRaws} items`);
    if (gateway.retries > 0) log(`  (the verifier's gateway requests were retried ${gateway.retries} time(s) after a connection error)`);
    figures.push({
      id: 'dispute',
      name: `dispute at slot ${result.slot} (${result.comparisons} comparisons, ${result.executions} executions, ${result.checks} signature checks, ${result.fetched.items} items fetched)`,
      value: disputed.ms,
      unit: 'ms',
      baselineName: `full replay verification of the same ${total} slots`,
      baseline: full.ms,
      better: 'lower',
      target: '≤ 0.15×',
      details: { slot: result.slot ?? -1, comparisons: result.comparisons, executions: result.executions, checks: result.checks, itemsFetched: result.fetched.items, bundlesFetched: result.fetched.bundles, bundles: result.bundles, fullItems: fullRaws },
    });
    return figures;
  } finally {
    await running.close();
  }
}
