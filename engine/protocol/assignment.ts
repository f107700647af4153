// Assignments: the scheduler's signed statement that a message holds a slot of a process.
// An assignment is an ANS-104 data item signed by the scheduling node, target = the process,
// with these tags (docs/PROTOCOL.md, "Assignments").
import { badRequest } from './errors.ts';
import type { DataItem, Tag } from './ans104/data-item.ts';
import { b64url } from './encoding.ts';
import { tagValue } from './vocabulary.ts';

export interface Assignment {
  process: string;
  slot: number;
  message: string;
  'hash-chain': string;
  timestamp: number;
  'block-height': number;
}

export interface SignedAssignment extends Assignment {
  /** The assignment item's own ID. */
  id: string;
  /** Address of the node that signed it. */
  signer: string;
  raw: Uint8Array;
}

/** Reads an assignment item's fields (its signature is checked by whoever parsed it). */
export function readAssignment(item: DataItem): SignedAssignment {
  const tag = (name: string) => {
    const value = tagValue(item.tags, name);
    if (value === undefined) throw badRequest(`assignment ${item.id} has no ${name} tag`);
    return value;
  };
  if (tag('Type') !== 'Assignment') throw badRequest(`item ${item.id} is not an assignment`);
  return {
    process: tag('Process'),
    slot: Number(tag('Slot')),
    message: tag('Message'),
    'hash-chain': tag('Hash-Chain'),
    timestamp: Number(tag('Timestamp')),
    'block-height': Number(tag('Block-Height')),
    id: item.id,
    signer: item.ownerAddress,
    raw: item.raw,
  };
}

/** The JSON form an HTTP client gets. */
export function assignmentJson(a: SignedAssignment) {
  return {
    process: a.process,
    slot: a.slot,
    message: a.message,
    'hash-chain': a['hash-chain'],
    timestamp: a.timestamp,
    'block-height': a['block-height'],
    assignment: a.id,
    signer: a.signer,
    'assignment-item': b64url(a.raw),
  };
}
