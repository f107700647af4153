// The protocol's one vocabulary: the tag names and values that say what an item is, and one
// builder per kind of item the node writes (docs/PROTOCOL.md §10–§14). The node writes what
// the verifier reads, so they must agree on every literal: both take them from here.

/** An ANS-104 / Arweave tag. */
export interface Tag { name: string; value: string }

export const DATA_PROTOCOL = 'hyperwasm';
export const VARIANT = 'hyperwasm.1';
export const MODULE_FORMAT = 'wasm32-hyperwasm-abi1';

/** The `Type` tag of each kind of item. */
export const Type = {
  Module: 'Module',
  Data: 'Data',
  Process: 'Process',
  Message: 'Message',
  Assignment: 'Assignment',
  Attestation: 'Attestation',
  Checkpoint: 'Checkpoint',
  Bundle: 'Bundle',
} as const;
export type ItemType = (typeof Type)[keyof typeof Type];

/**
 * What a scheduler accepts as a process or message: each Data-Protocol with its Variants, and
 * the Types. A table so that another protocol's items (AO's `Data-Protocol: ao`,
 * `Variant: ao.TN.1`) are one entry away.
 */
export const SCHEDULED_PROTOCOLS: ReadonlyMap<string, readonly string[]> = new Map([[DATA_PROTOCOL, [VARIANT]], ['ao', ['ao.TN.1']]]);
export const SCHEDULED_TYPES = [Type.Process, Type.Message] as const;

/** The first value of a tag, if present. */
export const tagValue = (tags: Tag[], name: string): string | undefined => tags.find((t) => t.name === name)?.value;

/** Data-Protocol, Variant and Type: how every item the node signs begins. */
const protocolTags = (type: ItemType): Tag[] => [
  { name: 'Data-Protocol', value: DATA_PROTOCOL },
  { name: 'Variant', value: VARIANT },
  { name: 'Type', value: type },
];

/** A module upload. */
export function moduleTags(extra: Tag[] = []): Tag[] {
  return [
    { name: 'Content-Type', value: 'application/wasm' },
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: Type.Module },
    { name: 'Module-Format', value: MODULE_FORMAT },
    ...extra,
  ];
}

/** A data upload (a module's Data-Import, model weights). */
export function dataTags(extra: Tag[] = []): Tag[] {
  return [{ name: 'Content-Type', value: 'application/octet-stream' }, { name: 'Data-Protocol', value: DATA_PROTOCOL }, { name: 'Type', value: Type.Data }, ...extra];
}

/** A process: its module and the address of its scheduler. */
export function processTags(module: string, scheduler: string, extra: Tag[] = []): Tag[] {
  return [...protocolTags(Type.Process), { name: 'Module', value: module }, { name: 'Scheduler', value: scheduler }, ...extra];
}

/** A message to a process. */
export function messageTags(extra: Tag[] = []): Tag[] {
  return [...protocolTags(Type.Message), ...extra];
}

/** A signed stateless call (POST /<module>/compute): the function, and optionally its gas budget; the data is the parameter array as JSON. */
export function callTags(fn: string, gasLimit?: number | string): Tag[] {
  return [{ name: 'Wasm-Function', value: fn }, ...(gasLimit === undefined ? [] : [{ name: 'Gas-Limit', value: String(gasLimit) }])];
}

/** An assignment: a message given a slot in a process's hash-chain. */
export function assignmentTags(a: { process: string; slot: number; message: string; 'hash-chain': string; timestamp: number; 'block-height': number }): Tag[] {
  return [
    ...protocolTags(Type.Assignment),
    { name: 'Process', value: a.process },
    { name: 'Slot', value: String(a.slot) },
    { name: 'Message', value: a.message },
    { name: 'Hash-Chain', value: a['hash-chain'] },
    { name: 'Timestamp', value: String(a.timestamp) },
    { name: 'Block-Height', value: String(a['block-height']) },
  ];
}

/** An attestation batch; `slots` when every statement is about one process. */
export function attestationTags(a: { node: string; root: string; leaves: number; engine: string; signedAt: number; slots?: { process: string; from: number; to: number } }): Tag[] {
  const tags = [
    ...protocolTags(Type.Attestation),
    { name: 'Node', value: a.node },
    { name: 'Merkle-Root', value: a.root },
    { name: 'Leaves', value: String(a.leaves) },
    { name: 'Engine', value: a.engine },
    { name: 'Signed-At', value: String(a.signedAt) },
  ];
  if (a.slots) tags.push({ name: 'Process', value: a.slots.process }, { name: 'Slot-From', value: String(a.slots.from) }, { name: 'Slot-To', value: String(a.slots.to) });
  return tags;
}

/** A checkpoint: a process's state after a slot. */
export function checkpointTags(c: { process: string; module: string; slot: number; hashpath: string; stateHash: string }): Tag[] {
  return [
    ...protocolTags(Type.Checkpoint),
    { name: 'Process', value: c.process },
    { name: 'Module', value: c.module },
    { name: 'Slot', value: String(c.slot) },
    { name: 'Hashpath', value: c.hashpath },
    { name: 'State-Hash', value: c.stateHash },
    { name: 'Content-Type', value: 'application/octet-stream' },
    { name: 'Content-Encoding', value: 'gzip' },
  ];
}

/** A bundle of one outbox group's items (a process's, or the stateless attestations'). */
export function bundleTags(b: { group: string; seqFrom: number; seqTo: number; attestations: string[] }): Tag[] {
  return [
    { name: 'Bundle-Format', value: 'binary' },
    { name: 'Bundle-Version', value: '2.0.0' },
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Type', value: Type.Bundle },
    { name: 'Process', value: b.group },
    { name: 'Seq-From', value: String(b.seqFrom) },
    { name: 'Seq-To', value: String(b.seqTo) },
    { name: 'Content-Type', value: 'application/octet-stream' },
    // Attestations are looked up by ID; naming them on the bundle finds them through the
    // bundle's own (always indexed) tags, whether or not the gateway indexed the items yet.
    ...b.attestations.map((id) => ({ name: 'Attestation', value: id })),
  ];
}
