// Finding transactions by tags through a gateway's GraphQL endpoint (arlocal and real
// gateways speak the same query), paged until exhausted.
import { gatewayUnavailable } from '../engine/protocol/errors.ts';
import type { ArweaveGateway } from './gateway.ts';

export interface FoundTransaction {
  id: string;
  tags: { name: string; value: string }[];
}

const PAGE = 100;

export async function findByTags(gateway: ArweaveGateway, tags: Record<string, string | string[]>): Promise<FoundTransaction[]> {
  const filter = Object.entries(tags)
    .map(([name, values]) => `{name: ${JSON.stringify(name)}, values: ${JSON.stringify([values].flat())}}`)
    .join(', ');
  const found: FoundTransaction[] = [];
  let after: string | undefined;
  for (;;) {
    const query = `{ transactions(first: ${PAGE}, sort: HEIGHT_ASC, tags: [${filter}]${after ? `, after: ${JSON.stringify(after)}` : ''}) {
      pageInfo { hasNextPage } edges { cursor node { id tags { name value } } } } }`;
    const response = await gateway.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    if (!response.ok) throw gatewayUnavailable(`GraphQL on ${gateway.url} answered ${response.status}`);
    const body = (await response.json()) as any;
    if (body.errors) throw gatewayUnavailable(`GraphQL on ${gateway.url} failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
    const { edges, pageInfo } = body.data.transactions;
    for (const edge of edges) found.push(edge.node);
    if (!pageInfo.hasNextPage || edges.length === 0) return found;
    after = edges.at(-1).cursor;
  }
}

