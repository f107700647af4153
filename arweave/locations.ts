// Scheduler-location records as Arweave holds them: the publisher posts each node's records in
// bundles of their own outbox group (Process: location/<address>, Seq-From..Seq-To = the
// nonces inside). The gateway's item index, asked for the address's Scheduler-Location items
// (GraphQL `owners` and tags), names the highest nonces; only the bundles holding those are
// downloaded. Where the index has nothing (a gateway that does not index bundled items), the
// bundles with the highest nonces are read instead. Everything found is a candidate: the
// caller (engine/locations.ts) verifies each record itself.
import { decodeBundle, type BundledItem } from '../engine/protocol/ans104/bundle.ts';
import { LOCATION_TYPE, locationGroup } from '../engine/protocol/location.ts';
import { DATA_PROTOCOL, Type, tagValue } from '../engine/protocol/vocabulary.ts';
import type { LocationSource } from '../engine/locations.ts';
import type { ArweaveGateway } from './gateway.ts';
import { findByTags, findItems, type FoundTransaction } from './graphql.ts';

/** How many of the highest-nonce candidates are fetched: more only helps if the newest are unreadable. */
const CANDIDATES = 3;

interface Bundle {
  id: string;
  from: number;
  to: number;
}

export function arweaveLocations(gateway: ArweaveGateway, options: { candidates?: number } = {}): LocationSource {
  const wanted = Math.max(1, options.candidates ?? CANDIDATES);
  return {
    name: `Arweave (${gateway.url})`,
    async find(address: string): Promise<Uint8Array[]> {
      const [indexed, bundles] = await Promise.all([
        findItems(gateway, { 'Data-Protocol': DATA_PROTOCOL, Type: LOCATION_TYPE }, { owners: [address] }),
        findByTags(gateway, { Process: locationGroup(address), Type: Type.Bundle }),
      ]);
      const candidates = indexed
        .filter((item) => item.owner === address)
        .map((item) => ({ id: item.id, nonce: Number(tagValue(item.tags, 'Nonce')) }))
        .filter((c) => Number.isSafeInteger(c.nonce))
        .sort((a, b) => b.nonce - a.nonce)
        .slice(0, wanted);
      const ranged = bundles.map(readRange).filter((b): b is Bundle => b !== undefined).sort((a, b) => b.to - a.to);
      const ids = new Set(candidates.map((c) => c.id));
      const holding = candidates.length
        ? ranged.filter((b) => candidates.some((c) => b.from <= c.nonce && c.nonce <= b.to))
        : ranged.slice(0, wanted);
      const raws: Uint8Array[] = [];
      for (const bundle of holding.slice(0, 2 * wanted)) {
        for (const item of await bundledItems(gateway, bundle.id)) {
          if (ids.size === 0 || ids.has(item.id)) raws.push(item.raw);
        }
      }
      return raws;
    },
  };
}

/** A bundle's items; none for bytes that are not a bundle (anyone can tag a transaction like one). */
async function bundledItems(gateway: ArweaveGateway, id: string): Promise<BundledItem[]> {
  const data = await gateway.data(id);
  try {
    return decodeBundle(data);
  } catch {
    return [];
  }
}

function readRange(found: FoundTransaction): Bundle | undefined {
  const from = Number(tagValue(found.tags, 'Seq-From'));
  const to = Number(tagValue(found.tags, 'Seq-To'));
  return Number.isSafeInteger(from) && Number.isSafeInteger(to) && from <= to ? { id: found.id, from, to } : undefined;
}
