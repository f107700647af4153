// Merkle trees over attested statements, so one signature covers a batch of results while
// each result stays verifiable alone: statement → leaf → proof → the signed root.
//
//   leaf(s)    = sha256(0x00 || s)            (s: the statement's canonical JSON bytes)
//   node(l, r) = sha256(0x01 || l || r)
//   a level with an odd count carries its last hash up unchanged.
// The prefixes keep a leaf from ever passing for an inner node.
import { b64url, fromB64url } from './encoding.ts';
import { sha256 } from './hash.ts';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export const leafHash = (statement: Uint8Array) => sha256(LEAF, statement);
const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(NODE, left, right);

function levels(leaves: Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw new Error('a Merkle tree needs at least one leaf');
  const all = [leaves];
  while (all.at(-1)!.length > 1) {
    const level = all.at(-1)!;
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    all.push(up);
  }
  return all;
}

/** The root and, for every leaf, its proof: sibling hashes from the bottom up (b64url). */
export function merkleTree(leaves: Uint8Array[]): { root: string; proofs: string[][] } {
  const tree = levels(leaves);
  const proofs = leaves.map((_, index) => {
    const proof: string[] = [];
    let i = index;
    for (const level of tree.slice(0, -1)) {
      const sibling = i ^ 1;
      if (sibling < level.length) proof.push(b64url(level[sibling]));
      i >>= 1;
    }
    return proof;
  });
  return { root: b64url(tree.at(-1)![0]), proofs };
}

/** Recomputes the root from a leaf, its index among `count` leaves, and its proof. */
export function rootFromProof(leaf: Uint8Array, index: number, count: number, proof: string[]): string {
  let hash = leaf;
  let i = index;
  let width = count;
  let p = 0;
  while (width > 1) {
    const sibling = i ^ 1;
    if (sibling < width) {
      const other = fromB64url(proof[p++] ?? '');
      hash = i & 1 ? nodeHash(other, hash) : nodeHash(hash, other);
    }
    i >>= 1;
    width = Math.ceil(width / 2);
  }
  if (p !== proof.length) return '';
  return b64url(hash);
}
