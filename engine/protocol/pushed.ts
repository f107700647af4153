// Pushed messages (docs/PROTOCOL.md §21): what a process's outbox entry becomes on the wire.
// The source process's scheduler signs one ANS-104 item per entry, with an anchor and tags
// fixed by (source, slot, index), so every retry is the same bytes and the same ID (ed25519
// signatures are deterministic) and the receiving scheduler recognises it. The handler's own
// tags follow the reserved ones; a handler may not set a reserved tag itself, or it could claim
// to be another process.
import { b64url, fromB64url, isId, utf8 } from './encoding.ts';
import { badRequest } from './errors.ts';
import { sha256 } from './hash.ts';
import { createDataItem, type DataItem, type Ed25519Signer } from './ans104/data-item.ts';
import { DATA_PROTOCOL, Type, VARIANT, tagValue, type Tag } from './vocabulary.ts';
import type { Json } from './message.ts';

/** The tags a scheduler writes on a pushed message, in this order, before the handler's. */
export const PUSHED_TAGS = ['Data-Protocol', 'Variant', 'Type', 'From-Process', 'From-Slot', 'Outbox-Index', 'From-Record', 'Pushed-For'] as const;
const RESERVED = new Set<string>(PUSHED_TAGS);

/** ANS-104's limits on tags (a handler's message must fit them). */
const MAX_TAGS = 128;
const MAX_NAME_BYTES = 1024;
const MAX_VALUE_BYTES = 3072;

/** A process a handler asked to start, checked: its module, its tags, its data. */
export interface OutboxSpawn {
  module: string;
  tags: Tag[];
  data: string;
}

/** The tags a spawn's scheduler writes after the reserved ones (a handler may not set them either). */
const SPAWN_TAGS = ['Module', 'Scheduler'];

/** One entry of a process's outbox, as its handler wrote it, checked. */
export interface OutboxMessage {
  target: string;
  tags: Tag[];
  data: string;
}

/** Where an outbox entry comes from: the source process's slot and the entry's index there. */
export interface PushOrigin {
  process: string;
  slot: number;
  index: number;
  /** The hashpath of the source's record at `slot`. */
  record: string;
  /** The ID of the message the source was handling at `slot`. */
  pushedFor: string;
}

/**
 * Reads one entry of a handler's `messages`: `{"target": <id>, "tags"?: [{name, value}], "data"?: <string>}`.
 * Returns the reason it cannot be sent instead of throwing: a bad entry is recorded, not retried.
 */
export function readOutboxMessage(entry: Json): OutboxMessage | { invalid: string } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return { invalid: 'an outgoing message must be a JSON object' };
  const { target, tags = [], data = '' } = entry as Record<string, Json>;
  if (!isId(target) || b64url(fromB64url(target)) !== target) return { invalid: `an outgoing message needs a target: a 43-character process ID or address (canonical base64url), got ${JSON.stringify(target ?? null).slice(0, 80)}` };
  if (typeof data !== 'string') return { invalid: 'an outgoing message\'s data must be a string' };
  if (!Array.isArray(tags)) return { invalid: 'an outgoing message\'s tags must be an array of {"name", "value"}' };
  if (tags.length + PUSHED_TAGS.length > MAX_TAGS) return { invalid: `an outgoing message may have at most ${MAX_TAGS - PUSHED_TAGS.length} tags, got ${tags.length}` };
  const checked: Tag[] = [];
  for (const tag of tags) {
    const { name, value } = (tag ?? {}) as Record<string, Json>;
    if (typeof name !== 'string' || typeof value !== 'string' || name.length === 0) return { invalid: 'every tag of an outgoing message must be {"name": <non-empty string>, "value": <string>}' };
    if (RESERVED.has(name)) return { invalid: `an outgoing message may not set the tag ${name}: its scheduler writes it` };
    if (utf8(name).length > MAX_NAME_BYTES || utf8(value).length > MAX_VALUE_BYTES) return { invalid: `the tag ${name.slice(0, 40)} of an outgoing message is longer than ANS-104 allows` };
    checked.push({ name, value });
  }
  return { target, tags: checked, data };
}

/**
 * Reads one entry of a handler's `spawns`: `{"module": <module ID>, "tags"?: [{name, value}], "data"?: <string>}`.
 * The reason it cannot be started instead of throwing, as for messages.
 */
export function readOutboxSpawn(entry: Json): OutboxSpawn | { invalid: string } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return { invalid: 'a spawn must be a JSON object' };
  const { module } = entry as Record<string, Json>;
  if (!isId(module) || b64url(fromB64url(module)) !== module) return { invalid: `a spawn needs a module: a 43-character module ID (canonical base64url), got ${JSON.stringify(module ?? null).slice(0, 80)}` };
  const read = readOutboxMessage({ ...(entry as Record<string, Json>), target: module });
  if ('invalid' in read) return { invalid: read.invalid.replace('an outgoing message', 'a spawn') };
  const reserved = read.tags.find((t) => SPAWN_TAGS.includes(t.name));
  if (reserved) return { invalid: `a spawn may not set the tag ${reserved.name}: its scheduler writes it` };
  return { module, tags: read.tags, data: read.data };
}

/** A spawn's tags: the reserved ones with Type: Process, then Module and Scheduler, then the handler's. */
export function spawnTags(origin: PushOrigin, spawn: OutboxSpawn, scheduler: string): Tag[] {
  const [protocol, variant, , ...rest] = pushedTags(origin, { target: '', tags: [], data: '' });
  return [protocol!, variant!, { name: 'Type', value: Type.Process }, ...rest, { name: 'Module', value: spawn.module }, { name: 'Scheduler', value: scheduler }, ...spawn.tags];
}

/** The spawn item, signed by the source's scheduler, which also schedules the new process: the same bytes every time. */
export function signSpawn(signer: Ed25519Signer, origin: PushOrigin, spawn: OutboxSpawn, scheduler: string): DataItem {
  return createDataItem(signer, { anchor: pushAnchor(origin), tags: spawnTags(origin, spawn, scheduler), data: spawn.data });
}

/** The anchor of a pushed message: sha256(source process ID bytes ‖ u64be(slot) ‖ u32be(index)). */
export function pushAnchor(origin: Pick<PushOrigin, 'process' | 'slot' | 'index'>): Uint8Array {
  const position = new Uint8Array(12);
  const view = new DataView(position.buffer);
  view.setBigUint64(0, BigInt(origin.slot));
  view.setUint32(8, origin.index);
  return sha256(fromB64url(origin.process), position);
}

/** The reserved tags of a pushed message, then the handler's. */
export function pushedTags(origin: PushOrigin, message: OutboxMessage): Tag[] {
  return [
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: Type.Message },
    { name: 'From-Process', value: origin.process },
    { name: 'From-Slot', value: String(origin.slot) },
    { name: 'Outbox-Index', value: String(origin.index) },
    { name: 'From-Record', value: origin.record },
    { name: 'Pushed-For', value: origin.pushedFor },
    ...message.tags,
  ];
}

/** The pushed message itself, signed by the source's scheduler: the same bytes every time. */
export function signPushed(signer: Ed25519Signer, origin: PushOrigin, message: OutboxMessage): DataItem {
  return createDataItem(signer, { target: message.target, anchor: pushAnchor(origin), tags: pushedTags(origin, message), data: message.data });
}

/** The origin a pushed item claims, or undefined for an item that is not pushed (no From-Process tag). */
export function readPushOrigin(item: DataItem): PushOrigin | undefined {
  const from = tagValue(item.tags, 'From-Process');
  if (from === undefined) return undefined;
  const refuse = (why: string) => badRequest(`data item ${item.id} is a pushed message (From-Process ${from.slice(0, 43)}) but ${why}`);
  for (const name of PUSHED_TAGS.slice(3)) {
    if (item.tags.filter((t) => t.name === name).length !== 1) throw refuse(`has not exactly one ${name} tag`);
  }
  const slot = whole(tagValue(item.tags, 'From-Slot')!);
  const index = whole(tagValue(item.tags, 'Outbox-Index')!);
  const record = tagValue(item.tags, 'From-Record')!;
  const pushedFor = tagValue(item.tags, 'Pushed-For')!;
  if (!isId(from)) throw refuse('From-Process is not a process ID');
  if (slot === undefined || index === undefined) throw refuse('From-Slot and Outbox-Index must be whole numbers in decimal');
  const [history, last, ...more] = record.split('/');
  if (more.length > 0 || !isId(history) || !isId(last)) throw refuse('From-Record must be a hashpath: two 43-character IDs joined by "/"');
  if (!isId(pushedFor)) throw refuse('Pushed-For must be a 43-character message ID');
  // A pushed spawn (Type: Process) names no target: the new process is the item itself.
  if (!item.target && tagValue(item.tags, 'Type') !== Type.Process) throw refuse('has no target');
  const anchor = pushAnchor({ process: from, slot, index });
  if (item.anchor !== b64url(anchor)) throw refuse('its anchor is not sha256(From-Process ‖ u64be(From-Slot) ‖ u32be(Outbox-Index))');
  return { process: from, slot, index, record, pushedFor };
}

/** The receiving scheduler's dedup key of a pushed message: one slot per (target, source, slot, index). */
export const pushKey = (target: string, origin: Pick<PushOrigin, 'process' | 'slot' | 'index'>): [string, string, number, number] => [target, origin.process, origin.slot, origin.index];

function whole(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
