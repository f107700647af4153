// Scheduler-location records (docs/PROTOCOL.md, "Scheduler location"): how a node says, signed
// with its own key, at which URL it schedules. A process names its scheduler by address; a
// node that wants to reach it needs a URL, and must be able to prove to itself that the
// address's owner gave it. A record is an ed25519 ANS-104 item with only tags (no target, no
// anchor, no data), so the same fields always give the same bytes and ID, and GraphQL can find
// records by owner and tags. Between two records of one address the higher Nonce wins.
import { createDataItem, parseDataItem, verifyDataItem, type DataItem, type Ed25519Signer, type Tag } from './ans104/data-item.ts';
import { badRequest } from './errors.ts';
import { DATA_PROTOCOL, VARIANT } from './vocabulary.ts';

export const LOCATION_TYPE = 'Scheduler-Location';
/** The outbox group (and so the published bundle's `Process` tag) of an address's records. */
export const locationGroup = (address: string): string => `location/${address}`;

export interface LocationFields {
  /** The base URL: http(s), no trailing slash, no query, no credentials. */
  url: string;
  /** Strictly increasing per signer. */
  nonce: number;
  /** Milliseconds since 1970 when it was signed. */
  timestamp: number;
  /** How long after `timestamp` the record may be used, in ms. */
  ttlMs: number;
  /** The node's software version (gateway/version.ts). */
  version: string;
}

export interface LocationRecord extends LocationFields {
  /** The signer's address: the scheduler this record locates. */
  address: string;
  /** The record item's ID. */
  id: string;
  /** The signed item's bytes, to hand on to others who verify it themselves. */
  raw: Uint8Array;
}

/** The record's tags, in the order they are written. */
export function locationTags(fields: LocationFields): Tag[] {
  return [
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: LOCATION_TYPE },
    { name: 'Url', value: fields.url },
    { name: 'Nonce', value: String(fields.nonce) },
    { name: 'Timestamp', value: String(fields.timestamp) },
    { name: 'Time-To-Live', value: String(fields.ttlMs) },
    { name: 'Node-Version', value: fields.version },
  ];
}

/** Signs a record; throws badRequest for a field that would make it invalid. */
export function signLocation(signer: Ed25519Signer, fields: LocationFields): DataItem {
  const item = createDataItem(signer, { tags: locationTags(fields), data: new Uint8Array(0) });
  readLocation(item);
  return item;
}

/**
 * The record an item holds, checked: signature, key type, shape and every tag. With `address`,
 * also that the record is that address's (one signer cannot locate another). Throws badRequest
 * saying what is wrong.
 */
export function readLocation(input: Uint8Array | DataItem, address?: string): LocationRecord {
  const item = parsed(input);
  if (item.signatureType !== 2) throw badRequest(`location record ${item.id}: it must be signed with an ed25519 key (signature type 2), not type ${item.signatureType}`);
  if (!verifyDataItem(item)) throw badRequest(`location record ${item.id}: its signature does not verify`);
  if (address !== undefined && item.ownerAddress !== address) {
    throw badRequest(`location record ${item.id} is signed by ${item.ownerAddress}, not by ${address}: only an address's own key can say where it is`);
  }
  if (item.target !== undefined) throw badRequest(`location record ${item.id}: it must have no target`);
  if (item.anchor !== undefined) throw badRequest(`location record ${item.id}: it must have no anchor`);
  if (item.data.length !== 0) throw badRequest(`location record ${item.id}: its data must be empty (it has ${item.data.length} bytes)`);
  const tag = (name: string) => onlyTag(item, name);
  expect(item, 'Data-Protocol', tag('Data-Protocol'), DATA_PROTOCOL);
  expect(item, 'Variant', tag('Variant'), VARIANT);
  expect(item, 'Type', tag('Type'), LOCATION_TYPE);
  return {
    address: item.ownerAddress,
    url: baseUrl(item, tag('Url')),
    nonce: whole(item, 'Nonce', tag('Nonce')),
    timestamp: whole(item, 'Timestamp', tag('Timestamp')),
    ttlMs: positive(item, 'Time-To-Live', tag('Time-To-Live')),
    version: version(item, tag('Node-Version')),
    id: item.id,
    raw: item.raw,
  };
}

/** Whether the record may no longer be used at `now` (ms). */
export const isExpired = (record: Pick<LocationRecord, 'timestamp' | 'ttlMs'>, now: number): boolean => now > record.timestamp + record.ttlMs;

/** Whether `a` supersedes `b` (same address): a strictly higher nonce, whatever order they came in. */
export const newer = (a: Pick<LocationRecord, 'nonce'>, b: Pick<LocationRecord, 'nonce'> | undefined): boolean => b === undefined || a.nonce > b.nonce;

function parsed(input: Uint8Array | DataItem): DataItem {
  if (!(input instanceof Uint8Array)) return input;
  try {
    return parseDataItem(input);
  } catch (error) {
    throw badRequest(`location record: not an ANS-104 data item (${(error as Error).message})`);
  }
}

function onlyTag(item: DataItem, name: string): string {
  const values = item.tags.filter((t) => t.name === name);
  if (values.length === 0) throw badRequest(`location record ${item.id}: the ${name} tag is missing`);
  if (values.length > 1) throw badRequest(`location record ${item.id}: the ${name} tag appears ${values.length} times (once only)`);
  return values[0]!.value;
}

function expect(item: DataItem, name: string, value: string, wanted: string): void {
  if (value !== wanted) throw badRequest(`location record ${item.id}: ${name} must be ${JSON.stringify(wanted)}, got ${JSON.stringify(value)}`);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function whole(item: DataItem, name: string, value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isSafeInteger(n)) throw badRequest(`location record ${item.id}: ${name} must be a whole decimal number without leading zeros, got ${JSON.stringify(value)}`);
  return n;
}

function positive(item: DataItem, name: string, value: string): number {
  const n = whole(item, name, value);
  if (n === 0) throw badRequest(`location record ${item.id}: ${name} must be at least 1 ms`);
  return n;
}

/**
 * One spelling per URL: what WHATWG URL parsing writes back (lowercase host, no default port),
 * without the root path's slash. Anything else (a query, credentials, a trailing slash) would
 * make one location look like several, or carry what a node must not append paths to.
 */
function baseUrl(item: DataItem, value: string): string {
  const fault = baseUrlFault(value);
  if (fault === NOT_A_URL) throw badRequest(`location record ${item.id}: Url is not a URL: ${JSON.stringify(value)}`);
  if (fault) throw badRequest(`location record ${item.id}: Url ${JSON.stringify(value)} is not a base URL: ${fault}`);
  return value;
}

const NOT_A_URL = 'it is not a URL';

/** Why `value` is not a base URL in its one spelling (above), or undefined when it is one. Heartbeats (heartbeat.ts) use the same rule. */
export function baseUrlFault(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return NOT_A_URL;
  }
  return url.protocol !== 'http:' && url.protocol !== 'https:' ? `its scheme must be http or https, not ${url.protocol.slice(0, -1)}`
    : url.username || url.password ? 'it must not hold credentials'
    : url.search || url.hash || value.includes('?') || value.includes('#') ? 'it must have no query or fragment'
    : value.endsWith('/') ? 'it must not end in a slash'
    : value !== url.origin + (url.pathname === '/' ? '' : url.pathname) ? `it must be written as ${JSON.stringify(url.origin + (url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '')))}`
    : undefined;
}

function version(item: DataItem, value: string): string {
  if (value.length === 0 || value.length > 64 || !/^[\x21-\x7e]+$/.test(value)) {
    throw badRequest(`location record ${item.id}: Node-Version must be 1 to 64 printable ASCII characters without spaces, got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return value;
}
