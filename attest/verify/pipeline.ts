// A whole-process verification with its stages overlapped instead of one after the other:
// the bundles are fetched a few at a time, each item is parsed once (here) and its signature
// checked on the other cores as soon as its bundle arrives (./pool.ts SignatureStream), the
// module is fetched and metered meanwhile, and the replay starts on the history as it reads
// when every item is taken to verify (the attestations' Merkle roots are checked on the
// workers too). Nothing of that replay counts until the signatures are in: when every one
// verifies, the schedule the replay used is exactly the one the checks give (readHistory over
// all-valid items), so its records are judged as they are; when any fails,
// that history is read again with the real answers and replayed afresh (as verifyProcess does), so a
// failed signature gives the same faults, in the same order, as the sequential path
// (fetchHistory, checkHistory, verifyProcess), whose verdicts this never changes.
import { join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { findByTags } from '../../arweave/graphql.ts';
import { decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import type { ModuleSource } from '../../engine/modules.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';
import { parseRaws, readItems, readParsed, readSchedule, type ParsedRaw, type ProcessHistory } from './history.ts';
import { SignatureStream } from './pool.ts';
import { judge, replayRecords, type Report, type ReplayedRecords, type VerifyOptions } from './replay.ts';
import { warmModule } from './warm.ts';

export interface PipelinedVerification {
  history: ProcessHistory;
  report: Report;
  /** The replayed records (what links are checked against, attest/verify/links.ts). */
  records: ReplayedRecords['records'];
  /** Raw items read from the bundles. */
  items: number;
  /** Wall time, ms: until every bundle was read and parsed; then to the end of the replay; then waiting for the last signatures (and a second replay, if one failed). */
  ms: { fetch: number; replay: number; check: number };
}

export interface PipelineOptions extends VerifyOptions {
  /** Threads checking signatures (default: one per core, at most 8). */
  threads?: number;
  /** Below this many items the signatures are checked on this thread (default POOL_THRESHOLD). */
  threshold?: number;
  /** Bundles requested at a time. */
  parallel?: number;
}

export async function verifyFromGateway(gateway: ArweaveGateway, pid: string, options: PipelineOptions & { source: ModuleSource }): Promise<PipelinedVerification> {
  const started = performance.now();
  const signatures = new SignatureStream(options.threads, options.threshold);
  let warming: Promise<void> | undefined;
  try {
    const bundles = await findByTags(gateway, { Process: pid, Type: 'Bundle' });
    options.progress?.(`found ${bundles.length} bundle${bundles.length === 1 ? '' : 's'} for ${pid}`);
    // Bundles arrive in any order; they are read in the listing's order (which copy of an item
    // comes first decides ties), each as soon as those before it are read.
    const arrived = new Map<number, Uint8Array>();
    const parsed: ParsedRaw[] = [];
    let read = 0;
    const readArrived = () => {
      for (let data = arrived.get(read); data !== undefined; data = arrived.get(read)) {
        arrived.delete(read);
        const raws = decodeBundle(data).map((item) => item.raw);
        signatures.add(raws);
        for (const entry of parseRaws(raws)) {
          parsed.push(entry);
          // The module's metered form, made in the verifier's folder while the rest downloads.
          if (!warming && 'item' in entry && entry.item.id === pid) warming = warmModule(join(options.dir, 'lmdb'), options.source, tagValue(entry.item.tags, 'Module'));
        }
        read++;
        options.progress?.(`  bundle ${read}/${bundles.length}: ${parsed.length} items`);
      }
    };
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(options.parallel ?? 4, bundles.length) }, async () => {
      while (next < bundles.length) {
        const i = next++;
        arrived.set(i, await gateway.data(bundles[i].id));
        readArrived();
      }
    }));
    const fetched = performance.now();

    // Every item taken to verify: the schedule the checks give when they all do (the rest of
    // the history, the attestations' statements, waits for their Merkle checks on the workers).
    const speculative = readSchedule(pid, parsed, () => true);
    await warming;
    let replayed: ReplayedRecords | undefined;
    let failure: unknown;
    if (speculative.history.record) {
      try {
        replayed = await replayRecords(speculative.history, options);
      } catch (error) {
        failure = error;
      }
    }
    const afterReplay = performance.now();

    const { valid, rooted } = await signatures.results();
    let history: ProcessHistory;
    let report: Report;
    // An item that does not parse fails its check too, but is the same fault either way.
    if (parsed.every((entry, i) => valid[i] || !('item' in entry))) {
      if (failure !== undefined) throw failure;
      history = speculative.history;
      if (history.record) readItems(speculative, (i) => rooted[i]);
      report = judge(history, replayed ?? { records: [] }, options.to);
    } else {
      // verifyProcess, with the records kept.
      history = readParsed(pid, parsed, (i) => valid[i], (i) => rooted[i]);
      replayed = history.record ? await replayRecords(history, options) : { records: [] };
      report = judge(history, replayed, options.to);
    }
    const ended = performance.now();
    return { history, report, records: replayed?.records ?? [], items: parsed.length, ms: { fetch: fetched - started, replay: afterReplay - fetched, check: ended - afterReplay } };
  } finally {
    await warming;
    await signatures.close();
  }
}
