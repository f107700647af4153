// Uploads data to Arweave as a signed transaction with tags, in chunks so progress can be
// shown for large files. On a local gateway the wallet is funded and a block mined, so the
// upload is immediately readable.
import Arweave from 'arweave';
import { ArweaveGateway } from './gateway.ts';
import { walletAddress, type JWKInterface } from './wallet.ts';

import type { Tag } from '../engine/protocol/vocabulary.ts';
export type { Tag };

export interface UploadOptions {
  gateway: ArweaveGateway;
  wallet: JWKInterface;
  tags: Tag[];
  onProgress?: (percent: number, bytes: number) => void;
}

export async function upload(data: Uint8Array, options: UploadOptions): Promise<string> {
  const { gateway, wallet } = options;
  const url = new URL(gateway.url);
  const arweave = Arweave.init({ host: url.hostname, port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), protocol: url.protocol.replace(':', '') });
  if (gateway.isLocal) await fund(gateway, await walletAddress(wallet), data.length);

  const tx = await arweave.createTransaction({ data }, wallet);
  for (const tag of options.tags) tx.addTag(tag.name, tag.value);
  await arweave.transactions.sign(tx, wallet);
  const uploader = await arweave.transactions.getUploader(tx);
  while (!uploader.isComplete) {
    await uploader.uploadChunk();
    if (uploader.lastResponseError) throw new Error(`upload to ${gateway.url} failed: ${uploader.lastResponseStatus} ${uploader.lastResponseError}`);
    options.onProgress?.(uploader.pctComplete, Math.min(data.length, uploader.uploadedChunks * 256 * 1024));
  }
  if (gateway.isLocal) await mine(gateway);
  return tx.id;
}

/** arlocal: give the wallet enough winston for the upload (its prices are nominal). */
async function fund(gateway: ArweaveGateway, address: string, bytes: number): Promise<void> {
  const response = await gateway.request(`/mint/${address}/${Math.max(1e15, bytes * 1e9)}`);
  await response.body?.cancel();
}

export async function mine(gateway: ArweaveGateway): Promise<void> {
  const response = await gateway.request('/mine');
  await response.body?.cancel();
}
