// The configured peers as a source of scheduler-location records (engine/locations.ts): each
// peer is asked, side by side, for the record it holds of an address. Peers answer from their
// cache only (`cached=true`), so two nodes that list each other never ask each other in a
// circle; a peer that is down or does not know the address simply gives nothing. The records
// are verified by the caller, never trusted for coming from a peer.
import { NodeClient } from '../client/node-client.ts';
import type { LocationSource } from '../engine/locations.ts';

export function peerLocations(urls: readonly string[]): LocationSource {
  const clients = urls.map((url) => new NodeClient(url));
  return {
    name: urls.length ? `peers (${urls.join(', ')})` : 'peers (none configured)',
    async find(address: string): Promise<Uint8Array[]> {
      const answers = await Promise.allSettled(clients.map((client) => client.location(address, { cached: true })));
      const failed = answers.flatMap((answer, i) => (answer.status === 'rejected' ? [`${urls[i]}: ${(answer.reason as Error).message}`] : []));
      // Only when none could answer is it the source that failed (and so logged).
      if (failed.length > 0 && failed.length === answers.length) throw new Error(`no peer answered (${failed.join('; ')})`);
      return answers.flatMap((answer) => (answer.status === 'fulfilled' && answer.value ? [answer.value] : []));
    },
  };
}
