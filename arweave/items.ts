// Finding data items (not only transactions) by tags, with their signers: a gateway that
// indexes the items inside ANS-104 bundles (arlocal does, as do arweave.net's) answers for
// each one its ID, owner address and tags, so a reader can tell which bundled item it needs
// before downloading any bundle. What the index says is a hint: the items are still fetched
// and checked by whoever relies on them. Read-only; paged like ./graphql.ts.
import { gatewayUnavailable } from '../engine/protocol/errors.ts';
import type { ArweaveGateway } from './gateway.ts';

export interface IndexedItem {
  id: string;
  /** The owner's address as the gateway indexed it (unchecked). */
  owner: string;
  tags: { name: string; value: string }[];
}

const PAGE = 100;

export async function findItems(gateway: ArweaveGateway, tags: Record<string, string | string[]>): Promise<IndexedItem[]> {
  const filter = Object.entries(tags)
    .map(([name, values]) => `{name: ${JSON.stringify(name)}, values: ${JSON.stringify([values].flat())}}`)
    .join(', ');
  const found: IndexedItem[] = [];
  let after: string | undefined;
  for (;;) {
    const query = `{ transactions(first: ${PAGE}, sort: HEIGHT_ASC, tags: [${filter}]${after ? `, after: ${JSON.stringify(after)}` : ''}) {
      pageInfo { hasNextPage } edges { cursor node { id owner { address } tags { name value } } } } }`;
    const response = await gateway.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    if (!response.ok) throw gatewayUnavailable(`GraphQL on ${gateway.url} answered ${response.status}`);
    const body = (await response.json()) as any;
    if (body.errors) throw gatewayUnavailable(`GraphQL on ${gateway.url} failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
    const { edges, pageInfo } = body.data.transactions;
    for (const edge of edges) found.push({ id: edge.node.id, owner: edge.node.owner?.address ?? '', tags: edge.node.tags });
    if (!pageInfo.hasNextPage || edges.length === 0) return found;
    after = edges.at(-1).cursor;
  }
}
