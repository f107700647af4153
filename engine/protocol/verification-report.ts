// Verification reports (docs/reputation-section.md, §29): what a verifier signs after it
// re-executed one statement of another node's attestation from Arweave: confirmed, or refuted
// with the evidence (the statement as attested, the field that differs, the replayed values).
// A registry's reputation is built from these, so the format is strict: one spelling per
// report (canonical JSON, fixed tags), the signer is the verifier (its key, never a claimed
// address), and everything a refutation claims is written so that a registry can check it
// against the attestation on Arweave and its own replay. Pure: bytes in, bytes out.
import { createDataItem, parseDataItem, verifyDataItem, type DataItem, type Ed25519Signer, type Tag } from './ans104/data-item.ts';
import { b64url, canonicalJson, isId, utf8, utf8Text } from './encoding.ts';
import { badRequest, HyperError } from './errors.ts';
import type { ComputeStatement, ProcessStatement } from './statement.ts';
import { DATA_PROTOCOL, VARIANT } from './vocabulary.ts';
import { exactKeys, expect, isObject, onlyTag } from './item-fields.ts';

export const REPORT_TYPE = 'Verification-Report';
/** A whole report at most: a statement (its request's params included) and the evidence fit well within it. */
export const MAX_REPORT_BYTES = 64 * 1024;
export const VERDICTS = ['confirmed', 'refuted'] as const;
export type Verdict = (typeof VERDICTS)[number];
/** The statement fields a replay recomputes, so the only ones a refutation may name (attest/verify/compare.ts, and §15's stateless check). */
export const REFUTABLE_FIELDS = ['process', 'module', 'message', 'assignment', 'hashpath', 'result-hash', 'state-hash', 'gas'] as const;
export type RefutableField = (typeof REFUTABLE_FIELDS)[number];
/** The outbox group (and so the published bundle's `Process` tag) of a verifier's reports. */
export const verifierGroup = (verifier: string): string => `verifier/${verifier}`;
/** One statement of one attestation item: what reports are about, and what reputation counts. */
export const statementKey = (attestation: string, index: number): string => `${attestation}/${index}`;

export type SampledStatement = ComputeStatement | ProcessStatement;

/** Why a statement is wrong: its attested value, the verifier's replay, in its words. */
export interface Evidence {
  field: RefutableField;
  /** The statement's value of `field`, as attested. */
  attested: string | number;
  /** What the verifier's re-execution gave: at least `field`, and the other values it recomputed. */
  replayed: Record<string, string | number>;
  /** One line a person understands. */
  reason: string;
  /** Where a dispute (§16) was run against another attestation of the same process: its outcome. Informational: a registry replays for itself. */
  dispute?: Record<string, unknown>;
}

export interface ReportFields {
  /** The verified node's address: the attestation's signer. */
  node: string;
  /** The attestation item's ID. */
  attestation: string;
  /** The statement's 0-based position in the attestation item's data array. */
  index: number;
  /** The statement as the attestation holds it. */
  statement: SampledStatement;
  verdict: Verdict;
  /** Only with `refuted`, and then required. */
  evidence?: Evidence;
  /** The verifier's clock in ms when it signed. Informational. */
  time: number;
}

export interface VerificationReport extends ReportFields {
  /** The signer's address: the verifier. */
  verifier: string;
  publicKey: string;
  id: string;
  raw: Uint8Array;
}

/** A report's tags, in the order they are written. */
export function reportTags(fields: Pick<ReportFields, 'node' | 'attestation' | 'statement' | 'verdict'>): Tag[] {
  const tags: Tag[] = [
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: REPORT_TYPE },
    { name: 'Node', value: fields.node },
    { name: 'Attestation', value: fields.attestation },
    { name: 'Verdict', value: fields.verdict },
  ];
  if (fields.statement.kind === 'process') tags.push({ name: 'Process', value: fields.statement.process }, { name: 'Slot', value: String(fields.statement.slot) });
  tags.push({ name: 'Content-Type', value: 'application/json' });
  return tags;
}

/** The report's data: canonical JSON of its fields. */
export function reportData(fields: ReportFields): Uint8Array {
  return utf8(
    canonicalJson({
      attestation: fields.attestation,
      ...(fields.evidence ? { evidence: fields.evidence } : {}),
      index: fields.index,
      node: fields.node,
      statement: fields.statement,
      time: fields.time,
      verdict: fields.verdict,
    }),
  );
}

/** Signs a report; throws badRequest for a field that would make it invalid. */
export function signReport(signer: Ed25519Signer, fields: ReportFields): VerificationReport {
  return readReport(createDataItem(signer, { tags: reportTags(fields), data: reportData(fields) }));
}

/**
 * The report an item holds, checked: size, signature (401 when it does not verify), key type,
 * every tag, every data field, and that the tags, the data and the statement agree. A
 * refutation's evidence must name a refutable field whose attested value is the statement's
 * and whose replayed value differs; whether the replay is right is for a registry to check.
 */
export function readReport(input: Uint8Array | DataItem): VerificationReport {
  const length = input instanceof Uint8Array ? input.length : input.raw.length;
  if (length > MAX_REPORT_BYTES) throw badRequest(`verification report: ${length} bytes is over the ${MAX_REPORT_BYTES}-byte limit`);
  let item: DataItem;
  try {
    item = input instanceof Uint8Array ? parseDataItem(input) : input;
  } catch (error) {
    throw badRequest(`verification report: not an ANS-104 data item (${(error as Error).message})`);
  }
  const what = `verification report ${item.id}`;
  if (item.signatureType !== 2) throw badRequest(`${what}: it must be signed with an ed25519 key (signature type 2), not type ${item.signatureType}`);
  if (!verifyDataItem(item)) throw new HyperError('unauthenticated', 'bad-signature', `${what}: its signature does not verify for the key it names (${item.ownerAddress}); it was forged or altered`);
  if (item.target !== undefined) throw badRequest(`${what}: it must have no target`);
  if (item.anchor !== undefined) throw badRequest(`${what}: it must have no anchor`);
  const tag = (name: string) => onlyTag(item, what, name);
  expect(what, 'Data-Protocol', tag('Data-Protocol'), DATA_PROTOCOL);
  expect(what, 'Variant', tag('Variant'), VARIANT);
  expect(what, 'Type', tag('Type'), REPORT_TYPE);
  expect(what, 'Content-Type', tag('Content-Type'), 'application/json');
  const verdict = tag('Verdict');
  if (!(VERDICTS as readonly string[]).includes(verdict)) throw badRequest(`${what}: Verdict must be one of ${VERDICTS.join(', ')}, got ${JSON.stringify(verdict)}`);

  const text = utf8Text(item.data);
  let data: unknown;
  try {
    data = text === undefined ? undefined : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!isObject(data)) throw badRequest(`${what}: its data must be a JSON object (UTF-8)`);
  if (canonicalJson(data) !== text) throw badRequest(`${what}: its data must be written as canonical JSON (keys sorted, no spaces)`);
  const keys = ['attestation', 'index', 'node', 'statement', 'time', 'verdict'];
  if (verdict === 'refuted' && !('evidence' in data)) throw badRequest(`${what}: a refutation must carry its evidence (the attested value, the replayed values, the reason)`);
  exactKeys(what, 'its data', data, verdict === 'refuted' ? [...keys, 'evidence'] : keys);
  if (!isId(data.node) || !isId(data.attestation)) throw badRequest(`${what}: node and attestation must be 43 base64url characters`);
  if (tag('Node') !== data.node) throw badRequest(`${what}: its Node tag ${tag('Node')} is not its data's node ${data.node}`);
  if (tag('Attestation') !== data.attestation) throw badRequest(`${what}: its Attestation tag ${tag('Attestation')} is not its data's attestation ${data.attestation}`);
  if (data.verdict !== verdict) throw badRequest(`${what}: its Verdict tag ${verdict} is not its data's verdict ${JSON.stringify(data.verdict)}`);
  const index = whole(what, 'index', data.index);
  const time = whole(what, 'time', data.time);
  const statement = statementOf(what, data.statement, data.node);
  const processTag = item.tags.filter((t) => t.name === 'Process' || t.name === 'Slot');
  if (statement.kind === 'process') {
    if (tag('Process') !== statement.process || tag('Slot') !== String(statement.slot)) throw badRequest(`${what}: its Process and Slot tags must name the statement's process ${statement.process} and slot ${statement.slot}`);
  } else if (processTag.length > 0) {
    throw badRequest(`${what}: a report on a stateless statement has no Process or Slot tag`);
  }
  const evidence = verdict === 'refuted' ? evidenceOf(what, data.evidence, statement) : undefined;
  return {
    node: data.node,
    attestation: data.attestation,
    index,
    statement,
    verdict: verdict as Verdict,
    ...(evidence ? { evidence } : {}),
    time,
    verifier: item.ownerAddress,
    publicKey: b64url(item.owner),
    id: item.id,
    raw: item.raw,
  };
}

function statementOf(what: string, value: unknown, node: string): SampledStatement {
  if (!isObject(value)) throw badRequest(`${what}: statement must be the attested statement (an object)`);
  if (value.kind !== 'compute' && value.kind !== 'process') throw badRequest(`${what}: statement.kind must be compute or process (the kinds a verifier re-executes), got ${JSON.stringify(value.kind)}`);
  if (value.node !== node) throw badRequest(`${what}: the statement is signed for node ${JSON.stringify(value.node)}, the report is about ${node}`);
  if (!isId(value.module)) throw badRequest(`${what}: statement.module must be a module ID`);
  for (const key of ['hashpath', 'result-hash', 'engine']) if (typeof value[key] !== 'string') throw badRequest(`${what}: statement.${key} must be a string`);
  whole(what, 'statement.gas', value.gas);
  if (value.kind === 'compute') {
    if (!isObject(value.request)) throw badRequest(`${what}: statement.request must be the computation message (an object)`);
  } else {
    if (!isId(value.process)) throw badRequest(`${what}: statement.process must be a process ID`);
    whole(what, 'statement.slot', value.slot);
    for (const key of ['message', 'assignment', 'state-hash']) if (typeof value[key] !== 'string') throw badRequest(`${what}: statement.${key} must be a string`);
  }
  return value as unknown as SampledStatement;
}

function evidenceOf(what: string, value: unknown, statement: SampledStatement): Evidence {
  if (!isObject(value)) throw badRequest(`${what}: evidence must be an object {field, attested, replayed, reason[, dispute]}`);
  const keys = Object.keys(value);
  const extra = keys.filter((k) => !['field', 'attested', 'replayed', 'reason', 'dispute'].includes(k));
  if (extra.length) throw badRequest(`${what}: evidence has unknown keys ${extra.join(', ')}`);
  const field = value.field as RefutableField;
  if (!(REFUTABLE_FIELDS as readonly unknown[]).includes(field)) throw badRequest(`${what}: evidence.field must be one of ${REFUTABLE_FIELDS.join(', ')} (what a replay recomputes), got ${JSON.stringify(value.field)}`);
  const attested = (statement as unknown as Record<string, unknown>)[field];
  if (attested === undefined) throw badRequest(`${what}: evidence.field ${field} is not a field of a ${statement.kind} statement`);
  if (value.attested !== attested) throw badRequest(`${what}: evidence.attested ${JSON.stringify(value.attested)} is not the statement's ${field} ${JSON.stringify(attested)}`);
  const replayed = value.replayed;
  if (!isObject(replayed) || !Object.values(replayed).every((v) => typeof v === 'string' || typeof v === 'number')) throw badRequest(`${what}: evidence.replayed must be an object of the replayed values (strings and numbers)`);
  if (replayed[field] === undefined) throw badRequest(`${what}: evidence.replayed must give the replayed ${field}`);
  if (replayed[field] === attested) throw badRequest(`${what}: evidence.replayed gives the attested ${field} itself: that is no refutation`);
  if (typeof value.reason !== 'string' || value.reason.length === 0 || value.reason.length > 1000) throw badRequest(`${what}: evidence.reason must be a line of 1 to 1000 characters`);
  if (value.dispute !== undefined && !isObject(value.dispute)) throw badRequest(`${what}: evidence.dispute, when given, must be an object`);
  return {
    field,
    attested: attested as string | number,
    replayed: replayed as Record<string, string | number>,
    reason: value.reason,
    ...(value.dispute !== undefined ? { dispute: value.dispute as Record<string, unknown> } : {}),
  };
}


function whole(what: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw badRequest(`${what}: ${name} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * What re-executing a statement gave, as the verifier and a registry's evidence check both
 * read it (attest/verify/single.ts judgeStatement gives it): `matches`; `differs` with the
 * first field that differs, both values and the replayed values; or `unjudged` when the replay
 * could say neither (a history fault before the slot, the history ending before it).
 */
export type Replay =
  | { verdict: 'matches'; replayed: Record<string, string | number> }
  | { verdict: 'differs'; field: RefutableField; attested: string | number; replayed: Record<string, string | number>; message: string }
  | { verdict: 'unjudged'; message: string };
