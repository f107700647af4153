// Finding transactions by tags through a gateway's GraphQL endpoint (arlocal and real
// gateways speak the same query), paged until exhausted; and finding bundled data items the
// same way with their signers: a gateway that indexes the items inside ANS-104 bundles
// (arlocal does, as do arweave.net's) answers for each one its ID, owner address and tags, so
// a reader can tell which bundled item it needs before downloading any bundle. What the index
// says is a hint: the items are still fetched and checked by whoever relies on them.
import { gatewayUnavailable } from '../engine/protocol/errors.ts';
import type { ArweaveGateway } from './gateway.ts';

export interface FoundTransaction {
  id: string;
  tags: { name: string; value: string }[];
}

export interface IndexedItem extends FoundTransaction {
  /** The owner's address as the gateway indexed it (unchecked). */
  owner: string;
}

const PAGE = 100;

export function findByTags(gateway: ArweaveGateway, tags: Record<string, string | string[]>): Promise<FoundTransaction[]> {
  return query(gateway, tags, 'id tags { name value }', (node) => node);
}

/** `owners` narrows the search to items signed by those addresses (GraphQL's `owners` filter). */
export function findItems(gateway: ArweaveGateway, tags: Record<string, string | string[]>, options: { owners?: string[] } = {}): Promise<IndexedItem[]> {
  return query(gateway, tags, 'id owner { address } tags { name value }', (node) => ({ id: node.id, owner: node.owner?.address ?? '', tags: node.tags }), options.owners);
}

/** Every transaction whose tags match, `fields` of each node read by `read`, page after page. */
async function query<T>(gateway: ArweaveGateway, tags: Record<string, string | string[]>, fields: string, read: (node: any) => T, owners?: string[]): Promise<T[]> {
  const filter = Object.entries(tags)
    .map(([name, values]) => `{name: ${JSON.stringify(name)}, values: ${JSON.stringify([values].flat())}}`)
    .join(', ');
  const ownersFilter = owners ? `, owners: ${JSON.stringify(owners)}` : '';
  const found: T[] = [];
  let after: string | undefined;
  for (;;) {
    const query = `{ transactions(first: ${PAGE}, sort: HEIGHT_ASC, tags: [${filter}]${ownersFilter}${after ? `, after: ${JSON.stringify(after)}` : ''}) {
      pageInfo { hasNextPage } edges { cursor node { ${fields} } } } }`;
    const response = await gateway.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    if (!response.ok) throw gatewayUnavailable(`GraphQL on ${gateway.url} answered ${response.status}`);
    const body = (await response.json()) as any;
    if (body.errors) throw gatewayUnavailable(`GraphQL on ${gateway.url} failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
    const { edges, pageInfo } = body.data.transactions;
    for (const edge of edges) found.push(read(edge.node));
    if (!pageInfo.hasNextPage || edges.length === 0) return found;
    after = edges.at(-1).cursor;
  }
}
