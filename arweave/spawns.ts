// Whether an ID is a process, and who schedules it, from the gateway's index: the deliverer's
// way to tell a process (its spawn item is on Arweave, with a Scheduler tag) from an account
// (no item has that ID). What the index says is a hint, like every GraphQL answer: the pushed
// message still has to be accepted by the scheduler it names, which checks everything itself.
import { gatewayUnavailable } from '../engine/protocol/errors.ts';
import type { ArweaveGateway } from './gateway.ts';

export type SpawnLookup = { kind: 'process'; scheduler: string } | { kind: 'not-a-process'; type: string } | { kind: 'unknown' };

export async function lookupSpawn(gateway: ArweaveGateway, id: string): Promise<SpawnLookup> {
  const query = `{ transactions(ids: [${JSON.stringify(id)}], first: 1) { edges { node { id tags { name value } } } } }`;
  const response = await gateway.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  if (!response.ok) throw gatewayUnavailable(`GraphQL on ${gateway.url} answered ${response.status}`);
  const body = (await response.json()) as { data?: { transactions: { edges: { node: { tags: { name: string; value: string }[] } }[] } }; errors?: unknown };
  if (body.errors || !body.data) throw gatewayUnavailable(`GraphQL on ${gateway.url} failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
  const node = body.data.transactions.edges[0]?.node;
  if (!node) return { kind: 'unknown' };
  const tag = (name: string) => node.tags.find((t) => t.name === name)?.value;
  const scheduler = tag('Scheduler');
  if (tag('Type') === 'Process' && scheduler) return { kind: 'process', scheduler };
  return { kind: 'not-a-process', type: tag('Type') ?? 'none' };
}
