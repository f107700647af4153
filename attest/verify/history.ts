// A process's history as Arweave holds it: the bundles the node published (found by GraphQL
// on Process and Type tags), their items parsed and checked one by one. Everything here
// trusts nothing: every signature is verified, every assignment's signer must be the
// process's scheduler, slots must be contiguous and single, messages must match their IDs,
// and the hash-chain is recomputed. What fails becomes a fault naming its slot and kind.
import { decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import { findByTags } from '../../arweave/graphql.ts';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { verifyItems } from './pool.ts';
import { readAssignment, type SignedAssignment } from '../../engine/protocol/assignment.ts';
import { nextLink } from '../../engine/protocol/hash-chain.ts';
import { b64url, fromB64url } from '../../engine/protocol/encoding.ts';
import type { ProcessSpawn } from '../../engine/store.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import { processStatements, readAttestationItem } from './attestation.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';

export type FaultKind =
  | 'malformed-item'
  | 'missing-process'
  | 'process-tampered'
  | 'assignment-bad-signature'
  | 'assignment-wrong-signer'
  | 'duplicate-slot'
  | 'missing-slot'
  | 'missing-message'
  | 'message-tampered'
  | 'hash-chain'
  | 'module-mismatch'
  | 'attestation-bad-signature'
  | 'attestation-wrong-signer'
  | 'attestation-root'
  | 'checkpoint-bad-signature'
  | 'result-mismatch'
  | 'link-wrong-signer'
  | 'link-no-source'
  | 'link-mismatch'
  | 'link-duplicate';

export interface Fault {
  slot: number | null;
  kind: FaultKind;
  message: string;
  field?: string;
  claimed?: string;
  replayed?: string;
  attestation?: string;
  assignment?: string;
  item?: string;
}

export interface AttestedStatement {
  statement: ProcessStatement;
  attestation: string;
}

export interface ProcessHistory {
  pid: string;
  record?: ProcessSpawn;
  /** The valid assignment of each slot, up to the first structural fault. */
  assignments: Map<number, SignedAssignment>;
  messages: Map<string, Uint8Array>;
  /** Statements of valid attestations, by slot. */
  statements: Map<number, AttestedStatement[]>;
  checkpoints: DataItem[];
  faults: Fault[];
  items: number;
}

/** The raw items of every bundle published for the process. */
export async function fetchHistory(gateway: ArweaveGateway, pid: string, progress?: (line: string) => void): Promise<Uint8Array[]> {
  const bundles = await findByTags(gateway, { Process: pid, Type: 'Bundle' });
  progress?.(`found ${bundles.length} bundle${bundles.length === 1 ? '' : 's'} for ${pid}`);
  const raws: Uint8Array[] = [];
  for (const [i, bundle] of bundles.entries()) {
    for (const item of decodeBundle(await gateway.data(bundle.id))) raws.push(item.raw);
    progress?.(`  bundle ${i + 1}/${bundles.length}: ${raws.length} items`);
  }
  return raws;
}

/** readHistory with the signatures checked on every core (attest/verify/pool.ts). */
export async function checkHistory(pid: string, raws: Uint8Array[]): Promise<ProcessHistory> {
  return readHistory(pid, raws, await verifyItems(raws));
}

/** A raw item parsed once: the item, or why it does not parse. */
export type ParsedRaw = { item: DataItem } | { error: Error };

/** Parses each raw item (never throws: an item that does not parse carries its error). */
export function parseRaws(raws: readonly Uint8Array[]): ParsedRaw[] {
  return raws.map((raw) => {
    try {
      return { item: parseDataItem(raw) };
    } catch (error) {
      return { error: error as Error };
    }
  });
}

/** Checks a process's items; `valid` (whether each raw item's signature verifies) when already known. */
export function readHistory(pid: string, raws: Uint8Array[], valid?: boolean[]): ProcessHistory {
  return readParsed(pid, parseRaws(raws), valid ? (i) => valid[i] : (_, item) => verifyDataItem(item));
}

/**
 * readHistory over items parsed already (parseRaws), so a verifier that parsed them to stream
 * them parses nothing twice; `valid(i, item)` says whether the `i`th raw item's signature
 * verifies, `rooted(i)` (when known) whether it is an attestation whose statements hash to its
 * Merkle-Root (attest/verify/pool.ts checks both on other threads; unknown: computed here).
 */
export function readParsed(pid: string, parsed: readonly ParsedRaw[], valid: (i: number, item: DataItem) => boolean, rooted?: (i: number) => boolean): ProcessHistory {
  const schedule = readSchedule(pid, parsed, valid);
  if (schedule.history.record) readItems(schedule, rooted);
  return schedule.history;
}

/** What readSchedule read, for readItems to finish. */
export interface ScheduleReading {
  history: ProcessHistory;
  items: { item: DataItem; valid: boolean; index: number }[];
  scheduler: string;
  claimed: Set<string>;
}

/**
 * The first half of readParsed: the spawn, the assignments, the messages and the hash-chain,
 * all a replay needs; readItems then adds the checkpoints, the attestations' statements and
 * the other items' faults. readParsed is the two in a row: a verifier may replay in between.
 */
export function readSchedule(pid: string, parsed: readonly ParsedRaw[], valid: (i: number, item: DataItem) => boolean): ScheduleReading {
  const faults: Fault[] = [];
  const items: { item: DataItem; valid: boolean; index: number }[] = [];
  for (const [i, entry] of parsed.entries()) {
    if ('item' in entry) items.push({ item: entry.item, valid: valid(i, entry.item), index: i });
    else faults.push({ slot: null, kind: 'malformed-item', message: `an item in the process's bundles does not parse: ${entry.error.message}` });
  }
  const history: ProcessHistory = { pid, assignments: new Map(), messages: new Map(), statements: new Map(), checkpoints: [], faults, items: parsed.length };
  const reading: ScheduleReading = { history, items, scheduler: '', claimed: new Set() };

  const spawn = items.find(({ item }) => item.id === pid);
  if (!spawn) {
    faults.push({ slot: 0, kind: 'missing-process', message: `the process message ${pid} is not on Arweave` });
    return reading;
  }
  if (!spawn.valid) {
    faults.push({ slot: 0, kind: 'process-tampered', message: `the process message's bytes do not match its ID ${pid} (signature fails)`, item: pid });
    return reading;
  }
  const scheduler = tagValue(spawn.item.tags, 'Scheduler') ?? '';
  history.record = { id: pid, module: tagValue(spawn.item.tags, 'Module') ?? '', scheduler, owner: spawn.item.ownerAddress, tags: spawn.item.tags };

  // Messages by ID: a valid item wins over a tampered copy with the same ID.
  const byId = new Map<string, { item: DataItem; valid: boolean }>();
  for (const entry of items) if (!byId.get(entry.item.id)?.valid) byId.set(entry.item.id, entry);

  const claims = claimsOf(items.filter(({ item }) => tagValue(item.tags, 'Type') === 'Assignment' && tagValue(item.tags, 'Process') === pid), scheduler, faults);

  const last = Math.max(-1, ...claims.keys());
  let link: Uint8Array | undefined;
  for (let slot = 0; slot <= last; slot++) {
    const assignment = singleClaim(slot, claims.get(slot), `though slot ${last} is assigned`, faults);
    const linked = assignment && linkMessage(slot, assignment, byId, link, faults);
    if (!assignment || !linked) break;
    link = linked.link;
    history.assignments.set(slot, assignment);
    history.messages.set(assignment.message, linked.raw);
  }

  reading.scheduler = scheduler;
  reading.claimed = new Set([...claims.values()].flat().map((a) => a.message));
  return reading;
}

/** The second half of readParsed (see readSchedule), on a reading that found the process message. */
export function readItems(reading: ScheduleReading, rooted?: (i: number) => boolean): void {
  const { history, items, scheduler, claimed } = reading;
  const { pid, faults } = history;
  for (const { item, valid, index } of items) {
    const type = tagValue(item.tags, 'Type');
    if (type === 'Checkpoint') {
      if (!valid) faults.push({ slot: Number(tagValue(item.tags, 'Slot')), kind: 'checkpoint-bad-signature', message: `the checkpoint ${item.id} has a signature that does not verify`, item: item.id });
      else if (item.ownerAddress === scheduler && tagValue(item.tags, 'Process') === pid) history.checkpoints.push(item);
      continue;
    }
    // A message whose signature fails is reported at its slot above, if one assigns it;
    // one that no assignment names is still a tampered item in the process's history.
    if (!valid && type !== 'Assignment' && type !== 'Attestation' && !claimed.has(item.id)) {
      faults.push({ slot: null, kind: 'malformed-item', message: `item ${item.id} in the process's bundles has a signature that does not verify`, item: item.id });
      continue;
    }
    if (type !== 'Attestation' || tagValue(item.tags, 'Process') !== pid) continue;
    const from = Number(tagValue(item.tags, 'Slot-From'));
    if (!valid) {
      faults.push({ slot: from, kind: 'attestation-bad-signature', message: `the attestation ${item.id} has a signature that does not verify`, attestation: item.id });
      continue;
    }
    // Any node may compute the process and attest what it got (PROTOCOL.md §21): an attestation
    // is its signer's claim, judged like the scheduler's, so it must name its signer as its node.
    const named = tagValue(item.tags, 'Node');
    if (item.ownerAddress !== named) {
      faults.push({ slot: from, kind: 'attestation-wrong-signer', message: `the attestation ${item.id} is signed by ${item.ownerAddress} but names ${named ?? 'no node'} as the node that attests${named === scheduler ? ` (the process's scheduler)` : ''}`, attestation: item.id });
      continue;
    }
    const attestation = readAttestationItem(item, valid, rooted?.(index));
    if (attestation.statements.some((st) => (st as { node?: string }).node !== item.ownerAddress)) {
      faults.push({ slot: from, kind: 'attestation-wrong-signer', message: `the attestation ${item.id} is signed by ${item.ownerAddress} but holds statements of another node`, attestation: item.id });
      continue;
    }
    if (attestation.inconsistent) {
      faults.push({ slot: from, kind: 'attestation-root', message: `the attestation ${item.id} is inconsistent: ${attestation.inconsistent.message}`, attestation: item.id });
      continue;
    }
    for (const statement of processStatements(attestation.statements)) {
      const list = history.statements.get(statement.slot) ?? [];
      list.push({ statement, attestation: item.id });
      history.statements.set(statement.slot, list);
    }
  }
}

/** A slot window of a history (readWindow): what a dispute replays, and how many signatures it took. */
export interface HistoryWindow extends ProcessHistory {
  /** Signatures verified to read the window. */
  checks: number;
}

/**
 * The window of slots `from`+1..`to` of a process, read from any superset of its items, with
 * only the window's own items checked: the spawn, every assignment of the process at slots
 * `from`..`to` (slot `from`'s only for its Hash-Chain, the signed link the window is anchored
 * to; none when `from` is -1), the messages they name, each as readHistory checks them.
 * Items outside the window are parsed (to find these; `raws` may be parsed already) but their
 * signatures are not checked.
 * `verify` checks signatures (e.g. attest/verify/pool.ts verifyItems), in the items' order.
 */
export async function readWindow(pid: string, raws: readonly (Uint8Array | DataItem)[], from: number, to: number, verify: (raws: Uint8Array[]) => Promise<boolean[]> | boolean[] = (r) => r.map((raw) => verifyDataItem(parseDataItem(raw)))): Promise<HistoryWindow> {
  const items: DataItem[] = [];
  for (const raw of raws) {
    if (!(raw instanceof Uint8Array)) items.push(raw);
    else try { items.push(parseDataItem(raw)); } catch { /* outside what a window can attribute to a slot */ }
  }
  const window: HistoryWindow = { pid, assignments: new Map(), messages: new Map(), statements: new Map(), checkpoints: [], faults: [], items: raws.length, checks: 0 };
  const { faults } = window;
  const check = async (list: DataItem[]): Promise<boolean[]> => {
    window.checks += list.length;
    return list.length === 0 ? [] : await verify(list.map((item) => item.raw));
  };

  const spawns = items.filter((item) => item.id === pid);
  if (spawns.length === 0) {
    faults.push({ slot: 0, kind: 'missing-process', message: `the process message ${pid} is not on Arweave` });
    return window;
  }
  const spawnValid = await check(spawns);
  const spawn = spawns.find((_, i) => spawnValid[i]);
  if (!spawn) {
    faults.push({ slot: 0, kind: 'process-tampered', message: `the process message's bytes do not match its ID ${pid} (signature fails)`, item: pid });
    return window;
  }
  const scheduler = tagValue(spawn.tags, 'Scheduler') ?? '';
  window.record = { id: pid, module: tagValue(spawn.tags, 'Module') ?? '', scheduler, owner: spawn.ownerAddress, tags: spawn.tags };

  const first = Math.max(0, from);
  const inWindow = items.filter((item) => {
    if (tagValue(item.tags, 'Type') !== 'Assignment' || tagValue(item.tags, 'Process') !== pid) return false;
    const slot = Number(tagValue(item.tags, 'Slot'));
    return slot >= first && slot <= to;
  });
  const assignmentValid = await check(inWindow);
  const claims = claimsOf(inWindow.map((item, i) => ({ item, valid: assignmentValid[i] })), scheduler, faults);

  // Every copy of each message the window's assignments name: a valid copy wins over a tampered one.
  const named = new Set<string>();
  for (const [slot, claim] of claims) if (slot > from) for (const a of claim) named.add(a.message);
  const copies = items.filter((item) => named.has(item.id));
  const copyValid = await check(copies);
  const byId = new Map<string, { item: DataItem; valid: boolean }>();
  for (const [i, item] of copies.entries()) if (!byId.get(item.id)?.valid) byId.set(item.id, { item, valid: copyValid[i] });

  let link: Uint8Array | undefined;
  for (let slot = first; slot <= to; slot++) {
    const assignment = singleClaim(slot, claims.get(slot), `though the window reaches slot ${to}`, faults);
    if (!assignment) break;
    if (slot === from) {
      // The anchor: its signed link stands for the chain before the window.
      link = fromB64url(assignment['hash-chain']);
      continue;
    }
    const linked = linkMessage(slot, assignment, byId, link, faults);
    if (!linked) break;
    link = linked.link;
    window.assignments.set(slot, assignment);
    window.messages.set(assignment.message, linked.raw);
  }
  return window;
}

/** Assignments by slot from checked items: a bad signature or another signer is a fault; the same message claimed twice at a slot is one claim. */
function claimsOf(entries: { item: DataItem; valid: boolean }[], scheduler: string, faults: Fault[]): Map<number, SignedAssignment[]> {
  const claims = new Map<number, SignedAssignment[]>();
  for (const { item, valid } of entries) {
    const slot = Number(tagValue(item.tags, 'Slot'));
    if (!valid) {
      faults.push({ slot, kind: 'assignment-bad-signature', message: `the assignment ${item.id} for slot ${slot} has a signature that does not verify`, assignment: item.id });
      continue;
    }
    if (item.ownerAddress !== scheduler) {
      faults.push({ slot, kind: 'assignment-wrong-signer', message: `the assignment ${item.id} for slot ${slot} is signed by ${item.ownerAddress}, not by the process's scheduler ${scheduler}`, assignment: item.id });
      continue;
    }
    const assignment = readAssignment(item);
    const same = claims.get(slot) ?? [];
    if (!same.some((a) => a.message === assignment.message)) same.push(assignment);
    claims.set(slot, same);
  }
  return claims;
}

/** The one assignment of a slot; none (`missing` says why the slot should exist) or several is a fault. */
function singleClaim(slot: number, claim: SignedAssignment[] | undefined, missing: string, faults: Fault[]): SignedAssignment | undefined {
  if (!claim) {
    faults.push({ slot, kind: 'missing-slot', message: `no assignment for slot ${slot}, ${missing}` });
    return undefined;
  }
  if (claim.length > 1) {
    faults.push({ slot, kind: 'duplicate-slot', message: `${claim.length} assignments claim slot ${slot}: messages ${claim.map((a) => a.message).join(' and ')}`, assignment: claim.map((a) => a.id).join(',') });
    return undefined;
  }
  return claim[0];
}

/** A slot's message, present and valid, and the hash-chain link it makes, which must be the one its assignment signed. */
function linkMessage(slot: number, assignment: SignedAssignment, byId: Map<string, { item: DataItem; valid: boolean }>, link: Uint8Array | undefined, faults: Fault[]): { raw: Uint8Array; link: Uint8Array } | undefined {
  const message = byId.get(assignment.message);
  if (!message) {
    faults.push({ slot, kind: 'missing-message', message: `the message ${assignment.message} of slot ${slot} is not on Arweave`, assignment: assignment.id });
    return undefined;
  }
  if (!message.valid) {
    faults.push({ slot, kind: 'message-tampered', message: `the message at slot ${slot} does not match its ID ${assignment.message} (signature fails)`, assignment: assignment.id, item: assignment.message });
    return undefined;
  }
  const next = nextLink(link, assignment.message);
  if (b64url(next) !== assignment['hash-chain']) {
    faults.push({ slot, kind: 'hash-chain', message: `the hash-chain breaks at slot ${slot}`, claimed: assignment['hash-chain'], replayed: b64url(next), assignment: assignment.id });
    return undefined;
  }
  return { raw: message.item.raw, link: next };
}
