// ~scheduler@1.0's location keys: where a scheduler is, by its address, as signed location
// records (docs/PROTOCOL.md, "Scheduler location"; engine/protocol/location.ts), in the manner
// of HyperBEAM's dev_scheduler location keys. A separate device of the same name, so that
// scheduling and locating stay one concept per file.
//
//   GET  /~scheduler@1.0/location?address=<address>
//        Assumes nothing of the address. Returns the newest unexpired record the node knows or
//        finds: its own, its cache, else its sources (peers, then Arweave) in order; with
//        `cached=true` only its own and its cache (what peers ask, so they never ask in a
//        circle). 404 naming what was asked where there is none. Side effects: a found record
//        is cached.
//   POST /~scheduler@1.0/location   body: a signed location record
//        Assumes nothing of the record: it is verified (signature, ed25519, every tag) and
//        must not be expired. Returns the record the node now holds for its signer: the posted
//        one, or the cached one where that is newer (the posted one is then ignored). 400 for
//        an invalid, expired or superseded record, with the reason. Side effects: caches it.
import { badRequest, notFound } from '../../engine/protocol/errors.ts';
import { b64url, isId } from '../../engine/protocol/encoding.ts';
import type { LocationRecord } from '../../engine/protocol/location.ts';
import type { Msg } from '../singleton.ts';
import { itemBody, type Device, type Schema } from './device.ts';
import { ID, number, string } from './schemas.ts';

const RECORD: Schema = {
  type: 'object',
  description: 'a verified scheduler-location record',
  properties: {
    address: string('the scheduler\'s address, the record\'s signer'),
    url: string('the base URL it schedules at'),
    nonce: { type: 'integer' },
    timestamp: number('when it was signed, ms since 1970'),
    'time-to-live': number('ms after timestamp it may be used'),
    'node-version': string(),
    id: ID,
    item: string('the signed record item, unpadded base64url'),
  },
};

export const locationJson = (record: LocationRecord) => ({
  address: record.address,
  url: record.url,
  nonce: record.nonce,
  timestamp: record.timestamp,
  'time-to-live': record.ttlMs,
  'node-version': record.version,
  id: record.id,
  item: b64url(record.raw),
});

export const location: Device = {
  name: 'scheduler@1.0',
  address: 'name',
  about: 'process schedules: slots, assignments and their hash chain; where schedulers are',
  keys: [
    {
      method: 'GET',
      key: 'location',
      usage: '/~scheduler@1.0/location?address=<address>',
      summary: 'a scheduler\'s signed location record',
      params: [
        { name: 'address', description: 'the scheduler\'s address (43 base64url characters)', required: true },
        { name: 'cached', description: 'answer only from this node\'s own record and cache, asking no one (true or false)' },
      ],
      response: RECORD,
      answer: async (call) => {
        const address = addressOf(call.last);
        const cachedOnly = call.last.cached !== undefined && call.last.cached !== 'false';
        const record = await call.node.locations.resolve(address, { sources: !cachedOnly });
        if (!record) {
          const asked = cachedOnly ? 'its own cache only (cached=true)' : ['its own cache', ...call.node.locations.sourceNames()].join(', then ');
          throw notFound(`no unexpired location record of ${address} is known; this node asked ${asked}`);
        }
        return call.json(locationJson(record), RECORD);
      },
    },
    {
      method: 'POST',
      key: 'location',
      usage: '/~scheduler@1.0/location',
      summary: 'hand the node a signed location record to verify and cache',
      body: 'a signed scheduler-location record (an ed25519 ANS-104 data item)',
      response: RECORD,
      answer: (call) => call.json(locationJson(call.node.locations.accept(itemBody(call))), RECORD),
    },
  ],
};

function addressOf(message: Msg): string {
  const address = message.address;
  if (!isId(address)) throw badRequest(`address must be a scheduler's address (43 base64url characters), got ${JSON.stringify(address ?? null)}`);
  return address;
}
