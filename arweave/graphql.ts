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

/** Narrowing beyond tags: only items signed by `owners` (GraphQL's `owners`), only these `ids`. */
export interface Narrowing {
  owners?: string[];
  ids?: string[];
}

export function findByTags(gateway: ArweaveGateway, tags: Record<string, string | string[]>, narrowing: Narrowing = {}): Promise<FoundTransaction[]> {
  return query(gateway, tags, narrowing, 'id tags { name value }', (node) => node);
}

export function findItems(gateway: ArweaveGateway, tags: Record<string, string | string[]>, narrowing: Narrowing = {}): Promise<IndexedItem[]> {
  return query(gateway, tags, narrowing, 'id owner { address } tags { name value }', (node) => ({ id: node.id, owner: node.owner?.address ?? '', tags: node.tags }));
}

/** Every transaction whose tags match, `fields` of each node read by `read`, page after page. */
async function query<T>(gateway: ArweaveGateway, tags: Record<string, string | string[]>, narrowing: Narrowing, fields: string, read: (node: any) => T): Promise<T[]> {
  const filter = Object.entries(tags)
    .map(([name, values]) => `{name: ${JSON.stringify(name)}, values: ${JSON.stringify([values].flat())}}`)
    .join(', ');
  const ownersFilter = (narrowing.owners ? `, owners: ${JSON.stringify(narrowing.owners)}` : '') + (narrowing.ids ? `, ids: ${JSON.stringify(narrowing.ids)}` : '');
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
