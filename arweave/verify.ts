// Checks a gateway's answer against the signed transaction ID, so no gateway is trusted:
// the ID must be SHA-256 of the signature, the signature must verify against the owner's
// key over the header, and the data must hash to the header's data_root (or, for format 1,
// be covered by the signature directly).
import Arweave from 'arweave';
import TransactionModule from 'arweave/node/lib/transaction.js';
import * as merkle from 'arweave/node/lib/merkle.js';
import { b64url } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';

const Transaction = ((TransactionModule as any).default ?? TransactionModule) as any;
const arweave = Arweave.init({});

export interface TxHeader {
  id: string;
  format: number;
  owner: string;
  signature: string;
  data_root: string;
  data_size: string;
  tags: { name: string; value: string }[];
  [key: string]: unknown;
}

/** Returns undefined if the header and data match the ID, else the reason they do not. */
export async function verificationFailure(id: string, header: TxHeader, data: Uint8Array): Promise<string | undefined> {
  if (header.id !== id) return `the gateway answered with transaction ${header.id}`;
  if (sha256b64(fromB64url(header.signature)) !== id) return 'the ID is not the SHA-256 of the signature';
  if (header.format === 1) {
    const tx = new Transaction({ ...header, data: b64url(data) });
    if (!(await arweave.transactions.verify(tx))) return 'the signature does not cover this data';
    return undefined;
  }
  if (String(data.length) !== String(header.data_size)) return `the data has ${data.length} bytes, the signed header says ${header.data_size}`;
  const root = data.length === 0 ? '' : b64url((await merkle.generateTransactionChunks(data)).data_root);
  if (root !== header.data_root) return 'the data does not hash to the signed data_root';
  return headerFailure(id, header);
}

/**
 * Returns undefined if a format-2 header (owner, tags, data_root…) is the one the ID's owner
 * signed, else why not: what makes its tags trustworthy without the data.
 */
export async function headerFailure(id: string, header: TxHeader): Promise<string | undefined> {
  if (header.id !== id) return `the gateway answered with transaction ${header.id}`;
  if (sha256b64(fromB64url(header.signature)) !== id) return 'the ID is not the SHA-256 of the signature';
  if (header.format === 1) return 'a format-1 header is signed together with its data: check it with the data';
  const tx = new Transaction({ ...header, data: '' });
  if (!(await arweave.transactions.verify(tx))) return 'the signature does not verify against the owner key';
  return undefined;
}

/** Decodes the base64url tags of a transaction header. */
export function decodeTags(header: TxHeader): { name: string; value: string }[] {
  return (header.tags ?? []).map((t) => ({
    name: Buffer.from(t.name, 'base64url').toString('utf8'),
    value: Buffer.from(t.value, 'base64url').toString('utf8'),
  }));
}
