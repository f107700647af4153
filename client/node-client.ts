// A client of a hyperwasm node, for the CLI, tests and benchmarks: builds signed process
// and message items and posts them to the scheduler, reads schedules and results.
// Every item gets a random anchor, so sending the same text twice makes two messages
// (a replayed item, same bytes, gets its first assignment back).
import { randomBytes } from 'node:crypto';
import { createDataItem, createRsaDataItem, type DataItem, type Ed25519Signer, type Tag } from '../engine/protocol/ans104/data-item.ts';
import type { JWKInterface } from '../arweave/wallet.ts';
import { messageTags, processTags } from '../engine/protocol/vocabulary.ts';

export type Signer = { ed25519: Ed25519Signer } | { rsa: JWKInterface };

export class NodeError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>) {
    super(`${status}: ${String(body.message ?? JSON.stringify(body))}`);
  }
}

export async function signItem(signer: Signer, fields: { target?: string; tags: Tag[]; data?: string | Uint8Array }): Promise<DataItem> {
  const full = { ...fields, data: fields.data ?? '', anchor: new Uint8Array(randomBytes(32)) };
  return 'ed25519' in signer ? createDataItem(signer.ed25519, full) : createRsaDataItem(signer.rsa, full);
}

export class NodeClient {
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  async get(path: string): Promise<any> {
    const response = await fetch(this.url + path);
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new NodeError(response.status, body);
    return body;
  }

  /** Posts a signed item; resolves with the assignment once it is durable. */
  async schedule(raw: Uint8Array): Promise<any> {
    const response = await fetch(`${this.url}/~scheduler@1.0/schedule`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: raw as Uint8Array<ArrayBuffer>,
      redirect: 'manual',
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw new NodeError(response.status, { ...body, location: response.headers.get('location') });
    return body;
  }

  async spawn(signer: Signer, module: string, scheduler: string, tags: Tag[] = [], data = ''): Promise<{ process: string; assignment: any }> {
    const item = await signItem(signer, { tags: processTags(module, scheduler, tags), data });
    return { process: item.id, assignment: await this.schedule(item.raw) };
  }

  async send(signer: Signer, process: string, tags: Tag[] = [], data = ''): Promise<any> {
    const item = await signItem(signer, { target: process, tags: messageTags(tags), data });
    return this.schedule(item.raw);
  }

  info = () => this.get('/~meta@1.0/info');
  slot = (process: string) => this.get(`/~scheduler@1.0/slot?target=${process}`);
  schedulePage = (process: string, from = 0, to?: number, limit?: number) =>
    this.get(`/~scheduler@1.0/schedule?target=${process}&from=${from}${to === undefined ? '' : `&to=${to}`}${limit === undefined ? '' : `&limit=${limit}`}`);
  compute = (process: string, slot?: number) => this.get(slot === undefined ? `/${process}/now` : `/${process}/compute&slot=${slot}`);
}
