// A client of a hyperwasm node, for the CLI, tests and benchmarks: stateless calls (free,
// cost-only and paid), signed process and message items posted to the scheduler, schedules
// and results.
// Every item gets a random anchor, so sending the same text twice makes two messages
// (a replayed item, same bytes, gets its first assignment back).
import { randomBytes } from 'node:crypto';
import { createDataItem, createRsaDataItem, type DataItem, type Ed25519Signer, type Tag } from '../engine/protocol/ans104/data-item.ts';
import type { JWKInterface } from '../arweave/wallet.ts';
import { callTags, messageTags, processTags } from '../engine/protocol/vocabulary.ts';

export type Signer = { ed25519: Ed25519Signer } | { rsa: JWKInterface };

/** A stateless call's parameters: an array, or JSON text sent as it is (the node parses it, and refuses what is not a JSON array). */
export type Params = unknown[] | string;

const paramsText = (params: Params): string => (typeof params === 'string' ? params : JSON.stringify(params));

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

  /** Posts a signed item's bytes; redirects are answered, not followed (a 307 is a NodeError with `location`). */
  async post(path: string, raw: Uint8Array): Promise<any> {
    const response = await fetch(this.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: raw as Uint8Array<ArrayBuffer>,
      redirect: 'manual',
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw new NodeError(response.status, { ...body, location: response.headers.get('location') });
    return body;
  }

  /** Posts a signed item; resolves with the assignment once it is durable. */
  schedule = (raw: Uint8Array): Promise<any> => this.post('/~scheduler@1.0/schedule', raw);

  /** A free stateless call: GET /<module>/Compute?wasm-function=&wasm-params= (the record of PROTOCOL.md §5, with `cache`). */
  call = (module: string, fn: string, params: Params = [], options: { gasLimit?: number | string } = {}) => this.get(computePath(module, fn, params, options));

  /** The exact gas and price of a stateless call, never charged (§19). */
  costOnly = (module: string, fn: string, params: Params = [], options: { gasLimit?: number | string } = {}) =>
    this.get(computePath(module, fn, params, { ...options, costOnly: true }));

  /** A signed stateless call, charged to the signer when the module is priced (§19). */
  async paidCall(signer: Signer, module: string, fn: string, params: Params = [], options: { gasLimit?: number | string } = {}): Promise<any> {
    const item = await signItem(signer, { tags: callTags(fn, options.gasLimit), data: paramsText(params) });
    return this.post(`/${encodeURIComponent(module)}/compute`, item.raw);
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
  /**
   * The signed scheduler-location record the node gives for `address` (raw bytes, to verify
   * with engine/protocol/location.ts readLocation), or undefined where it knows none. With
   * `cached`, the node answers from what it holds and asks no one else (what peers ask each
   * other, so two nodes never ask each other in a circle).
   */
  async location(address: string, options: { cached?: boolean; timeoutMs?: number } = {}): Promise<Uint8Array | undefined> {
    // Bounded: a resolver waits on this, and a peer that hangs must not hold it forever.
    const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const response = await fetch(`${this.url}/~scheduler@1.0/location?address=${encodeURIComponent(address)}${options.cached ? '&cached=true' : ''}`, { signal });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status === 404) return undefined;
    if (!response.ok) throw new NodeError(response.status, body);
    if (typeof body.item !== 'string') throw new NodeError(response.status, { message: `${this.url} answered a location without its item` });
    return new Uint8Array(Buffer.from(body.item, 'base64url'));
  }

  /** Hands the node a signed location record (its own or another's) to verify and cache. */
  async announceLocation(raw: Uint8Array): Promise<void> {
    await this.post('/~scheduler@1.0/location', raw);
  }

  /** A process's result at a slot, or at its latest slot (the record of §13, with `cache`). */
  compute = (process: string, slot?: number | string) =>
    this.get(slot === undefined ? `/${encodeURIComponent(process)}/now` : `/${encodeURIComponent(process)}/compute&slot=${encodeURIComponent(slot)}`);
}

function computePath(module: string, fn: string, params: Params, options: { gasLimit?: number | string; costOnly?: boolean }): string {
  const query = new URLSearchParams({ 'wasm-function': fn, 'wasm-params': paramsText(params) });
  if (options.gasLimit !== undefined) query.set('gas-limit', String(options.gasLimit));
  if (options.costOnly) query.set('cost-only', 'true');
  return `/${encodeURIComponent(module)}/Compute?${query}`;
}
