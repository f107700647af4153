// The links between processes, checked from Arweave alone (docs/PROTOCOL.md §21, "Verifying
// links"). A process's `from` is only as good as the pushed messages in its schedule, and a
// source's outbox is only honoured if each entry reached its target once: the verifier of one
// process therefore reads the histories of the processes it talks to, replays each source with
// the same code as `hyperwasm verify` (judged against its own attestations), and compares every
// pushed message with the outbox entry it claims to be. Each other process is fetched, checked
// and replayed once per run, up to the highest slot any link needs.
import { join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { parseDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { b64url, utf8 } from '../../engine/protocol/encoding.ts';
import { pushedTags, readPushOrigin, spawnTags, type OutboxMessage, type OutboxSpawn, type PushOrigin } from '../../engine/protocol/pushed.ts';
import type { SlotRecord } from '../../engine/protocol/record.ts';
import type { ModuleSource } from '../../engine/modules.ts';
import { entriesOf } from '../../engine/delivery/ledger.ts';
import { checkHistory, fetchHistory, type Fault, type ProcessHistory } from './history.ts';
import { judge, replayRecords } from './replay.ts';

export interface LinkReport {
  /** Pushed messages in the process's schedule that trace to their source. */
  incoming: number;
  /** Outbox entries of the process delivered exactly once to a process on Arweave. */
  outgoing: number;
  /** Outbox entries to targets that are not processes on Arweave (accounts). */
  accounts: number;
  /** Outbox entries not (yet) in their target's published schedule: "source/slot/index → target". */
  undelivered: string[];
  faults: Fault[];
}

export interface LinkOptions {
  /** A folder of the verifier's own: each other process is replayed under it. */
  dir: string;
  /** Where module bytes come from (default: the gateway). */
  source?: ModuleSource;
  /** The process's own history, when the caller read it already. */
  history?: ProcessHistory;
  /** The process's own replayed records, when the caller replayed it already. */
  records?: SlotRecord[];
  /** Check only slots up to this one of the process. */
  to?: number;
  progress?: (line: string) => void;
}

/** One process as this run read it: its checked history, and its records replayed so far. */
interface Known {
  history: ProcessHistory;
  /** Pushed messages of its schedule by "source/slot/index": the slots holding one. */
  pushed: Map<string, number[]>;
  /** The replay's records by slot, and the slot it reached (-1: none yet). */
  records: Map<number, SlotRecord>;
  replayedTo: number;
  /** The first fault the replay and the attestations give at or before each slot, if any. */
  faults: Fault[];
}

const linkKey = (origin: Pick<PushOrigin, 'process' | 'slot' | 'index'>) => `${origin.process}/${origin.slot}/${origin.index}`;

export async function verifyLinks(gateway: ArweaveGateway, pid: string, options: LinkOptions): Promise<LinkReport> {
  const run = new LinkRun(gateway, options);
  const report: LinkReport = { incoming: 0, outgoing: 0, accounts: 0, undelivered: [], faults: [] };
  const self = await run.process(pid, options.history);
  if (!self.history.record) throw new Error(`the process ${pid} is not on Arweave: there are no links to check`);
  if (options.records) run.seed(self, options.records);
  const last = Math.min(options.to ?? Infinity, Math.max(-1, ...self.history.assignments.keys()));
  await checkIncoming(run, self, last, report);
  await checkOutgoing(run, self, last, report);
  report.faults.sort((a, b) => (a.slot ?? -1) - (b.slot ?? -1));
  return report;
}

/** The per-run cache: every process fetched, checked and replayed at most once. */
class LinkRun {
  private readonly known = new Map<string, Promise<Known>>();
  private readonly source: ModuleSource;
  constructor(private readonly gateway: ArweaveGateway, private readonly options: LinkOptions) {
    this.source = options.source ?? gateway;
  }

  process(pid: string, history?: ProcessHistory): Promise<Known> {
    let known = this.known.get(pid);
    if (!known) {
      known = this.read(pid, history);
      this.known.set(pid, known);
    }
    return known;
  }

  private async read(pid: string, given?: ProcessHistory): Promise<Known> {
    const history = given ?? await checkHistory(pid, await fetchHistory(this.gateway, pid));
    return { history, pushed: pushedIn(history), records: new Map(), replayedTo: -1, faults: [] };
  }

  /** Records already replayed by the caller count as this run's replay. */
  seed(known: Known, records: SlotRecord[]): void {
    for (const record of records) known.records.set(record.slot, record);
    known.replayedTo = Math.max(-1, ...known.records.keys());
  }

  /** Replays `known` from slot 0 up to `to` (once: a later call for an earlier slot reuses it), judged against its attestations. */
  async replayTo(known: Known, to: number): Promise<void> {
    if (to <= known.replayedTo || !known.history.record) return;
    const { pid } = known.history;
    this.options.progress?.(`links: replaying ${pid} up to slot ${to}`);
    const replayed = await replayRecords(known.history, { dir: join(this.options.dir, 'links', pid), source: this.source, to });
    for (const record of replayed.records) known.records.set(record.slot, record);
    known.replayedTo = to;
    known.faults = judge(known.history, replayed, to).faults.filter((f) => f.slot !== null);
  }
}

/** The pushed messages of a history's schedule, by link key (items that do not read as pushed are skipped here). */
function pushedIn(history: ProcessHistory): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const [slot, assignment] of history.assignments) {
    const item = itemAt(history, assignment.message);
    const origin = item && safeOrigin(item);
    if (!origin || 'error' in origin) continue;
    const key = linkKey(origin);
    found.set(key, [...(found.get(key) ?? []), slot]);
  }
  return found;
}

function itemAt(history: ProcessHistory, id: string): DataItem | undefined {
  const raw = history.messages.get(id);
  return raw && parseDataItem(raw);
}

function safeOrigin(item: DataItem): PushOrigin | { error: string } | undefined {
  try {
    return readPushOrigin(item);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Every pushed message in the process's schedule up to `last`, traced to its source. */
async function checkIncoming(run: LinkRun, self: Known, last: number, report: LinkReport): Promise<void> {
  const { pid } = self.history;
  const pushes: { slot: number; item: DataItem; origin: PushOrigin }[] = [];
  const seen = new Map<string, number>();
  for (const [slot, assignment] of [...self.history.assignments].sort((a, b) => a[0] - b[0])) {
    if (slot > last) break;
    const item = itemAt(self.history, assignment.message)!;
    const origin = safeOrigin(item);
    if (!origin) continue;
    if ('error' in origin) {
      report.faults.push({ slot, kind: 'link-mismatch', message: `slot ${slot} of ${pid} holds a malformed pushed message: ${origin.error}`, item: item.id, assignment: assignment.id });
      continue;
    }
    const key = linkKey(origin);
    const first = seen.get(key);
    if (first !== undefined) {
      report.faults.push({ slot, kind: 'link-duplicate', message: `slot ${slot} of ${pid} holds again the message ${origin.process} sent at its slot ${origin.slot} (outbox index ${origin.index}), already at slot ${first}`, item: item.id, assignment: assignment.id });
      continue;
    }
    seen.set(key, slot);
    pushes.push({ slot, item, origin });
  }

  // Each source replayed once, to the highest slot any of its messages needs.
  const highest = new Map<string, number>();
  for (const { origin } of pushes) highest.set(origin.process, Math.max(highest.get(origin.process) ?? -1, origin.slot));
  for (const [source, slot] of highest) {
    const known = await run.process(source);
    // The process itself (a message to itself) is replayed once, far enough for its outbox too.
    if (known.history.record && known.history.assignments.has(slot)) await run.replayTo(known, source === pid ? Math.max(slot, last) : slot);
  }

  for (const push of pushes) {
    const fault = await traceIncoming(run, pid, push);
    if (fault) report.faults.push({ ...fault, assignment: self.history.assignments.get(push.slot)!.id, item: push.item.id });
    else report.incoming++;
  }
}

/** Why one pushed message does not trace to its source, or undefined when it does. */
async function traceIncoming(run: LinkRun, pid: string, { slot, item, origin }: { slot: number; item: DataItem; origin: PushOrigin }): Promise<Omit<Fault, 'assignment' | 'item'> | undefined> {
  const here = `slot ${slot} of ${pid}`;
  const there = `slot ${origin.slot} of ${origin.process}`;
  const source = await run.process(origin.process);
  if (!source.history.record) return { slot, kind: 'link-no-source', message: `${here} is a message pushed from ${there}, but ${origin.process} is not a process on Arweave` };
  const scheduler = source.history.record.scheduler;
  if (item.ownerAddress !== scheduler) return { slot, kind: 'link-wrong-signer', message: `${here} claims to come from ${there} but is signed by ${item.ownerAddress}, not by ${origin.process}'s scheduler ${scheduler}`, claimed: item.ownerAddress, replayed: scheduler };
  const broken = source.faults.find((f) => f.slot! <= origin.slot);
  if (broken) return { slot, kind: 'link-no-source', message: `${here} comes from ${there}, whose history does not verify up to there: slot ${broken.slot} ${broken.kind}: ${broken.message}` };
  const record = source.records.get(origin.slot);
  if (!record) return { slot, kind: 'link-no-source', message: `${here} comes from ${there}, which is not in ${origin.process}'s published history` };
  const entry = entriesOf(record, 0).find(({ key }) => key[2] === origin.index)?.entry;
  if (!entry?.message && !entry?.spawn) return { slot, kind: 'link-mismatch', message: `${here} claims outbox entry ${origin.index} of ${there}, which ${entry ? `is invalid (${entry.invalid})` : 'has no such entry'}` };
  const traced = { ...origin, record: record.hashpath, pushedFor: record.message };
  // A spawn is slot 0 of the process it started: the spawn item the source's scheduler signed.
  const differs = entry.spawn ? spawnDifference(item, pid, slot, traced, entry.spawn, scheduler) : difference(item, pid, traced, entry.message!);
  if (differs) return { slot, kind: 'link-mismatch', message: `${here} differs from outbox entry ${origin.index} of ${there}: ${differs.field}`, field: differs.field, claimed: differs.claimed, replayed: differs.replayed };
  return undefined;
}

/** The first field where a pushed item differs from what its source's record says it must be. */
function difference(item: DataItem, pid: string, origin: PushOrigin, message: OutboxMessage): { field: string; claimed: string; replayed: string } | undefined {
  if (item.target !== pid) return { field: 'target', claimed: item.target ?? '', replayed: pid };
  if (message.target !== pid) return { field: 'target', claimed: item.target, replayed: message.target };
  if (origin.record !== (tagOf(item, 'From-Record'))) return { field: 'From-Record', claimed: tagOf(item, 'From-Record'), replayed: origin.record };
  if (origin.pushedFor !== tagOf(item, 'Pushed-For')) return { field: 'Pushed-For', claimed: tagOf(item, 'Pushed-For'), replayed: origin.pushedFor };
  const expected = JSON.stringify(pushedTags(origin, message));
  const tags = JSON.stringify(item.tags.map(({ name, value }) => ({ name, value })));
  if (tags !== expected) return { field: 'tags', claimed: tags, replayed: expected };
  if (b64url(item.data) !== b64url(utf8(message.data))) return { field: 'data', claimed: new TextDecoder().decode(item.data), replayed: message.data };
  return undefined;
}

/** The first field where a pushed spawn differs from the `spawns` entry of its source's record. */
function spawnDifference(item: DataItem, pid: string, slot: number, origin: PushOrigin, spawn: OutboxSpawn, scheduler: string): { field: string; claimed: string; replayed: string } | undefined {
  if (slot !== 0 || item.id !== pid || item.target !== undefined) return { field: 'target', claimed: `${item.target ?? item.id} at slot ${slot}`, replayed: 'a spawn item at slot 0 of the process it starts' };
  const expected = JSON.stringify(spawnTags(origin, spawn, scheduler));
  const tags = JSON.stringify(item.tags.map(({ name, value }) => ({ name, value })));
  if (tags !== expected) return { field: 'tags', claimed: tags, replayed: expected };
  if (b64url(item.data) !== b64url(utf8(spawn.data))) return { field: 'data', claimed: new TextDecoder().decode(item.data), replayed: spawn.data };
  return undefined;
}

const tagOf = (item: DataItem, name: string) => item.tags.find((t) => t.name === name)?.value ?? '';

/** Every valid outbox entry of the process's records up to `last`: delivered once, an account, or not yet published. */
async function checkOutgoing(run: LinkRun, self: Known, last: number, report: LinkReport): Promise<void> {
  const { pid } = self.history;
  await run.replayTo(self, last);
  for (let slot = 0; slot <= last; slot++) {
    const record = self.records.get(slot);
    if (!record) continue;
    for (const { key, entry } of entriesOf(record, 0)) {
      if (!entry.message) continue;
      const index = key[2];
      const target = await run.process(entry.message.target);
      if (!target.history.record) {
        report.accounts++;
        continue;
      }
      const slots = target.pushed.get(linkKey({ process: pid, slot, index })) ?? [];
      if (slots.length === 1) report.outgoing++;
      else if (slots.length === 0) report.undelivered.push(`${pid}/${slot}/${index} → ${entry.message.target}`);
      else report.faults.push({ slot, kind: 'link-duplicate', message: `outbox entry ${index} of slot ${slot} of ${pid} is in the schedule of ${entry.message.target} ${slots.length} times: slots ${slots.join(', ')}` });
    }
  }
}

/** Whether a process has links to check: a pushed message in its schedule, or a valid outbox entry in its records. */
export function hasLinks(history: ProcessHistory, records: readonly SlotRecord[]): boolean {
  for (const assignment of history.assignments.values()) {
    const item = itemAt(history, assignment.message);
    if (item?.tags.some((t) => t.name === 'From-Process')) return true;
  }
  return records.some((record) => entriesOf(record, 0).some(({ entry }) => entry.message));
}
