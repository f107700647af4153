// A client for one Arweave gateway (arlocal or a real one): transaction headers, data by
// ID, and data verified against its signed ID. Network failures become 503s with a retry
// hint; a missing ID becomes a 404; nothing here hangs past its timeout.
import { gatewayUnavailable, notFound, unprocessable } from '../engine/protocol/errors.ts';
import { decodeTags, headerFailure, verificationFailure, type TxHeader } from './verify.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class ArweaveGateway {
  readonly url: string;

  constructor(url: string, private readonly timeoutMs = 30_000) {
    this.url = url.replace(/\/+$/, '');
  }

  /** A gateway on loopback is taken to be a development one (arlocal): it can mint and mine. */
  get isLocal(): boolean {
    return LOOPBACK.has(new URL(this.url).hostname);
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      // A pooled keep-alive socket the server closed meanwhile (after a long synchronous
      // stretch here): a read is safe to send once more on a fresh connection.
      if ((init.method ?? 'GET') === 'GET' && /ECONNRESET|socket|other side closed/i.test(String((error as Error & { cause?: Error }).cause?.message ?? ''))) {
        try {
          return await fetch(`${this.url}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
        } catch {
          // reported below, as the first failure
        }
      }
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw gatewayUnavailable(`the Arweave gateway ${this.url} did not answer (${cause}); try again shortly`);
    }
  }

  private async fetchOk(path: string, id: string): Promise<Response> {
    const response = await this.request(path);
    if (response.status === 404) throw notFound(`no transaction ${id} on the Arweave gateway ${this.url}`);
    if (!response.ok) throw gatewayUnavailable(`the Arweave gateway ${this.url} answered ${response.status} for ${path}; try again shortly`);
    return response;
  }

  async header(id: string): Promise<TxHeader> {
    return (await (await this.fetchOk(`/tx/${id}`, id)).json()) as TxHeader;
  }

  async data(id: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.fetchOk(`/${id}`, id)).arrayBuffer());
  }

  async tags(id: string): Promise<{ name: string; value: string }[]> {
    return decodeTags(await this.header(id));
  }

  /** Data whose bytes are proven to be the ones the ID's owner signed. */
  async fetchVerified(id: string): Promise<Uint8Array> {
    const [header, data] = await Promise.all([this.header(id), this.data(id)]);
    const failure = await verificationFailure(id, header, data);
    if (failure) throw unprocessable(`the gateway's data for ${id} does not match its signed ID: ${failure}`);
    return data;
  }

  /** The uploader's address and the decoded tags of a transaction, checked against its signed ID. */
  async describe(id: string): Promise<{ owner: string; tags: { name: string; value: string }[] }> {
    const header = await this.header(id);
    const failure = header.format === 1 ? await verificationFailure(id, header, await this.data(id)) : await headerFailure(id, header);
    if (failure) throw unprocessable(`the gateway's header for ${id} does not match its signed ID: ${failure}`);
    return { owner: sha256b64(fromB64url(header.owner)), tags: decodeTags(header) };
  }

  /** Whether the gateway knows the ID (for reusing earlier uploads). */
  async has(id: string): Promise<boolean> {
    const response = await this.request(`/tx/${id}/status`);
    await response.body?.cancel();
    return response.ok;
  }
}
