// Finding and reading an attestation item, the one way every verifier path does it (a
// process's history, one answer, a dispute): is it signed, what does it name, and do its
// statements hash to the Merkle root it signs. Who may sign is not decided here: the history
// wants the process's scheduler, a single answer the node its Node tag names, a dispute one
// given signer. Each caller reports in its own order and words, so every finding is returned,
// not thrown.
import { decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { notFound } from '../../engine/protocol/errors.ts';
import { findByTags } from '../../arweave/graphql.ts';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { leafHash, merkleTree } from '../../engine/protocol/merkle.ts';
import { statementBytes, type ProcessStatement, type Statement } from '../../engine/protocol/statement.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';

/** The signed raw bytes of an attestation: its bundle names it in a tag (attest/attester.ts). */
export async function fetchItem(gateway: ArweaveGateway, id: string): Promise<DataItem> {
  const bundles = await findByTags(gateway, { Attestation: id, Type: 'Bundle' });
  for (const bundle of bundles) {
    for (const item of decodeBundle(await gateway.data(bundle.id))) if (item.id === id) return parseDataItem(item.raw);
  }
  throw notFound(`no bundle on ${gateway.url} holds the attestation ${id}`);
}

export interface AttestationItem {
  id: string;
  /** Whether the item's signature verifies. */
  signed: boolean;
  /** The address that signed it. */
  signer: string;
  /** Its Node tag: the node it says it speaks for. */
  node: string | undefined;
  /** Its Merkle-Root tag. */
  root: string | undefined;
  /** Its statements; empty when `inconsistent` is set. */
  statements: Statement[];
  /** Why its statements are not the ones it signs a root of: unreadable, or another root. */
  inconsistent?: { reason: 'unreadable' | 'root'; message: string };
}

/**
 * Decodes and checks an attestation item; `signed` when its signature was already checked,
 * `rooted` when it is known (attestationRooted, on another thread) that its statements hash to its Merkle-Root.
 */
export function readAttestationItem(item: DataItem, signed?: boolean, rooted?: boolean): AttestationItem {
  const root = tagValue(item.tags, 'Merkle-Root');
  const read: AttestationItem = { id: item.id, signed: signed ?? verifyDataItem(item), signer: item.ownerAddress, node: tagValue(item.tags, 'Node'), root, statements: [] };
  if (rooted) {
    read.statements = JSON.parse(new TextDecoder().decode(item.data)) as Statement[];
    return read;
  }
  let statements: Statement[];
  let computed: string;
  try {
    statements = JSON.parse(new TextDecoder().decode(item.data)) as Statement[];
    computed = merkleTree(statements.map((s) => leafHash(statementBytes(s)))).root;
  } catch (error) {
    read.inconsistent = { reason: 'unreadable', message: (error as Error).message };
    return read;
  }
  if (computed !== root) {
    read.inconsistent = { reason: 'root', message: `its statements hash to ${computed}, its Merkle-Root tag says ${root}` };
    return read;
  }
  read.statements = statements;
  return read;
}

/** Whether `item` is an attestation item whose statements read and hash to its Merkle-Root (what `rooted` vouches for). */
export function attestationRooted(item: DataItem): boolean {
  return tagValue(item.tags, 'Type') === 'Attestation' && readAttestationItem(item, true).inconsistent === undefined;
}

/** The process statements among an attestation's (an item tagged with a process holds only these). */
export const processStatements = (statements: Statement[]): ProcessStatement[] =>
  statements.filter((s): s is ProcessStatement => typeof s === 'object' && s !== null && s.kind === 'process');
