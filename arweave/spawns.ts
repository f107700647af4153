// Whether an ID is a process, and who schedules it, from the gateway's index: the deliverer's
// way to tell a process (its spawn item is on Arweave, with a Scheduler tag) from an account
// (no item has that ID). What the index says is a hint, like every GraphQL answer: the pushed
// message still has to be accepted by the scheduler it names, which checks everything itself.
import { findByTags } from './graphql.ts';
import type { ArweaveGateway } from './gateway.ts';

export type SpawnLookup = { kind: 'process'; scheduler: string } | { kind: 'not-a-process'; type: string } | { kind: 'unknown' };

export async function lookupSpawn(gateway: ArweaveGateway, id: string): Promise<SpawnLookup> {
  const [found] = await findByTags(gateway, {}, { ids: [id] });
  if (!found) return { kind: 'unknown' };
  const tag = (name: string) => found.tags.find((t) => t.name === name)?.value;
  const scheduler = tag('Scheduler');
  if (tag('Type') === 'Process' && scheduler) return { kind: 'process', scheduler };
  return { kind: 'not-a-process', type: tag('Type') ?? 'none' };
}
