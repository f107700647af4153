// The replay verifier: re-executes a whole process from its Arweave history alone (through
// ./replayer.ts: the node's own fold, in the verifier's own empty LMDB), and compares every
// slot's hashpath, result hash and state hash with what the node attested.
import { join } from 'node:path';
import type { ModuleSource } from '../../engine/modules.ts';
import type { Fault, ProcessHistory } from './history.ts';
import type { SlotRecord } from '../../engine/protocol/record.ts';
import { replay } from './replayer.ts';
import { firstDifference } from './compare.ts';

export type SlotStatus = 'confirmed' | 'unattested' | 'fault';

export interface Report {
  process: string;
  /** The status of every replayed slot, in order from 0. */
  slots: SlotStatus[];
  faults: Fault[];
  confirmed: number;
  unattested: number;
  ok: boolean;
}

export interface VerifyOptions {
  /** A folder of the verifier's own (it must not be a node's data folder). */
  dir: string;
  /** Where module bytes come from: checked against their signed ID. */
  source: ModuleSource;
  to?: number;
  progress?: (line: string) => void;
}

export async function verifyProcess(history: ProcessHistory, options: VerifyOptions): Promise<Report> {
  return judge(history, history.record ? await replayRecords(history, options) : { records: [] }, options.to);
}

/** The records a replay of a history produced, in the order the fold gave them, or why its module cannot be used. */
export interface ReplayedRecords {
  records: SlotRecord[];
  unusable?: Error;
}

/** The last slot a verification of `history` replays: its last assigned slot, or `to` if earlier. */
export function replayEnd(history: ProcessHistory, to?: number): number {
  const last = Math.max(-1, ...history.assignments.keys());
  return Math.min(to ?? last, last);
}

/** One fold from slot 0 to replayEnd, every record kept as it comes out (a history with a process message). */
export async function replayRecords(history: ProcessHistory, options: VerifyOptions): Promise<ReplayedRecords> {
  const end = replayEnd(history, options.to);
  const every = Math.max(1, Math.round((end + 1) / 20));
  const records: SlotRecord[] = [];
  const observe = (record: SlotRecord) => {
    records.push(record);
    if (record.slot % every === 0 || record.slot === end) options.progress?.(`replayed ${record.slot + 1}/${end + 1} slots`);
  };
  const replayed = await replay(history, { store: join(options.dir, 'lmdb'), source: options.source, to: end, observe });
  return 'unusable' in replayed ? { records, unusable: replayed.unusable } : { records };
}

/** The report on `history` from its replay's records: every record compared with every statement about its slot. */
export function judge(history: ProcessHistory, replayed: ReplayedRecords, to?: number): Report {
  const faults = [...history.faults];
  const slots: SlotStatus[] = [];
  const end = replayEnd(history, to);
  for (const record of replayed.records) {
    const slot = record.slot;
    if (slot > end) continue;
    const claims = history.statements.get(slot) ?? [];
    let status: SlotStatus = claims.length > 0 ? 'confirmed' : 'unattested';
    for (const { statement, attestation } of claims) {
      const field = firstDifference(statement, record);
      if (!field) continue;
      status = 'fault';
      faults.push({
        slot,
        kind: 'result-mismatch',
        message: `slot ${slot}: the attested ${field} differs from the replay`,
        field,
        claimed: String(statement[field]),
        replayed: String(record[field]),
        attestation,
        assignment: history.assignments.get(slot)?.id,
      });
    }
    slots.push(status);
  }
  if (replayed.unusable && history.record) {
    faults.push({ slot: 0, kind: 'module-mismatch', message: `the module ${history.record.module} cannot be used: ${replayed.unusable.message}`, item: history.record.module });
  }
  faults.sort((a, b) => (a.slot ?? -1) - (b.slot ?? -1));
  return { process: history.pid, slots, faults, confirmed: slots.filter((s) => s === 'confirmed').length, unattested: slots.filter((s) => s === 'unattested').length, ok: faults.length === 0 };
}
