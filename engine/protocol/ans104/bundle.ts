// ANS-104 binary bundles (Bundle-Format: binary, Bundle-Version: 2.0.0): many signed data
// items in one Arweave transaction. The layout is byte-identical to arbundles'
// bundleAndSignData, so any ANS-104 reader (arlocal, gateways, arbundles) unpacks ours:
//   32-byte LE item count, then per item a 32-byte LE size and its 32-byte ID, then the items.
// Pure and synchronous; items are taken as opaque signed bytes, only their signature is read
// (an item's ID is the SHA-256 of its signature). Verifying signatures is the reader's job.
import { sha256 } from '../hash.ts';
import { b64url } from '../encoding.ts';

export class BundleError extends Error {
  override name = 'BundleError';
}

export interface BundledItem {
  /** The item's ID, base64url. */
  id: string;
  /** The item's signed bytes: a view into the bundle's bytes, not a copy. */
  raw: Uint8Array;
}

/** Signature and owner lengths by ANS-104 signature type (as arbundles' SIG_CONFIG). */
const SIGNATURE_LENGTHS: Record<number, number> = {
  1: 512, // arweave (RSA-PSS 4096), owner 512
  2: 64, // ed25519, owner 32
  3: 65, // ethereum (secp256k1), owner 65
  4: 64, // solana (ed25519), owner 32
  5: 64, // injected aptos, owner 32
  6: 64 * 32 + 4, // multi-signature aptos, owner 32 * 32 + 1
  7: 65, // typed ethereum, owner 42
};

const WORD = 32;
/** Header bytes a bundle spends per item (its size and ID), besides the item itself. */
export const ENTRY_BYTES = 64;
const ENTRY = ENTRY_BYTES;

/** The raw 32-byte ID of a signed data item: SHA-256 of its signature. */
export function itemIdBytes(raw: Uint8Array): Uint8Array {
  if (raw.length < 2) throw new BundleError(`a data item of ${raw.length} bytes is too short to hold a signature type`);
  const type = raw[0]! | (raw[1]! << 8);
  const length = SIGNATURE_LENGTHS[type];
  if (length === undefined) throw new BundleError(`unknown data item signature type ${type}`);
  if (raw.length < 2 + length) throw new BundleError(`a data item of ${raw.length} bytes is too short for its ${length}-byte signature (type ${type})`);
  return sha256(raw.subarray(2, 2 + length));
}

/** A data item's ID, base64url. */
export const itemId = (raw: Uint8Array): string => b64url(itemIdBytes(raw));

/** Bytes a bundle of items of these sizes takes: used to cut bundles to a byte budget. */
export const bundleSize = (itemSizes: number[]): number => WORD + itemSizes.reduce((sum, size) => sum + ENTRY + size, 0);

export function encodeBundle(items: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bundleSize(items.map((item) => item.length)));
  writeLong(out, 0, items.length);
  let offset = WORD + ENTRY * items.length;
  items.forEach((item, index) => {
    const entry = WORD + ENTRY * index;
    writeLong(out, entry, item.length);
    out.set(itemIdBytes(item), entry + WORD);
    out.set(item, offset);
    offset += item.length;
  });
  return out;
}

/**
 * The items of a bundle, each checked against its header entry. Throws BundleError for a
 * truncated bundle, sizes that do not add up to its length, or an ID that does not match.
 */
export function decodeBundle(bytes: Uint8Array): BundledItem[] {
  if (bytes.length < WORD) throw new BundleError(`a bundle needs at least ${WORD} bytes for its item count; got ${bytes.length}`);
  const count = readLong(bytes, 0, 'item count');
  const headerEnd = WORD + ENTRY * count;
  // Checked before anything is allocated, so a forged count cannot exhaust memory.
  if (headerEnd > bytes.length) throw new BundleError(`truncated bundle: ${count} items need a ${headerEnd}-byte header; the bundle has ${bytes.length} bytes`);

  const items: BundledItem[] = [];
  let offset = headerEnd;
  for (let index = 0; index < count; index++) {
    const entry = WORD + ENTRY * index;
    const size = readLong(bytes, entry, `size of item ${index}`);
    if (offset + size > bytes.length) throw new BundleError(`truncated bundle: item ${index} (${size} bytes at offset ${offset}) runs past its end (${bytes.length} bytes)`);
    const raw = bytes.subarray(offset, offset + size);
    const expected = bytes.subarray(entry + WORD, entry + ENTRY);
    let actual: Uint8Array;
    try {
      actual = itemIdBytes(raw);
    } catch (error) {
      throw new BundleError(`item ${index} of the bundle: ${(error as Error).message}`);
    }
    if (!equalBytes(actual, expected)) throw new BundleError(`item ${index} of the bundle has ID ${b64url(actual)} but its header entry says ${b64url(expected)}`);
    items.push({ id: b64url(actual), raw });
    offset += size;
  }
  // Trailing bytes would make two different byte strings carry the same items.
  if (offset !== bytes.length) throw new BundleError(`inconsistent bundle: its ${count} items end at byte ${offset} but the bundle has ${bytes.length} bytes`);
  return items;
}

function writeLong(out: Uint8Array, at: number, value: number): void {
  for (let index = 0; index < WORD && value > 0; index++) {
    const byte = value % 256;
    out[at + index] = byte;
    value = (value - byte) / 256;
  }
}

/** A 32-byte LE number; refused beyond 2^53 (no real bundle comes near, and Number would round). */
function readLong(bytes: Uint8Array, at: number, what: string): number {
  let value = 0;
  for (let index = WORD - 1; index >= 0; index--) value = value * 256 + bytes[at + index]!;
  if (!Number.isSafeInteger(value)) throw new BundleError(`inconsistent bundle: the ${what} is too large`);
  return value;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
