// What a replay checks of a slot's attestation: the fields a process statement shares with
// the slot's record. One list, so the whole-process replay and a single answer's replay
// cannot come to disagree about what "confirmed" means.
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import type { SlotRecord } from '../../engine/protocol/record.ts';

/** Compared in this order; the first that differs is the one reported. */
export const COMPARED = ['process', 'module', 'message', 'assignment', 'hashpath', 'result-hash', 'state-hash', 'gas'] as const satisfies readonly (keyof ProcessStatement & keyof SlotRecord)[];

export type ComparedField = (typeof COMPARED)[number];

/** The first compared field whose attested value is not the replay's, if any. */
export function firstDifference(statement: ProcessStatement, record: SlotRecord): ComparedField | undefined {
  return COMPARED.find((key) => statement[key] !== record[key]);
}
