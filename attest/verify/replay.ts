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
  const faults = [...history.faults];
  const slots: SlotStatus[] = [];
  const report = () => {
    faults.sort((a, b) => (a.slot ?? -1) - (b.slot ?? -1));
    return { process: history.pid, slots, faults, confirmed: slots.filter((s) => s === 'confirmed').length, unattested: slots.filter((s) => s === 'unattested').length, ok: faults.length === 0 };
  };
  if (!history.record) return report();

  const last = Math.max(-1, ...history.assignments.keys());
  const end = Math.min(options.to ?? last, last);
  const every = Math.max(1, Math.round((end + 1) / 20));
  const check = (record: SlotRecord) => {
    const slot = record.slot;
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
    if (slot % every === 0 || slot === end) options.progress?.(`replayed ${slot + 1}/${end + 1} slots`);
  };
  // One fold from slot 0 to the end, every record checked as it comes out.
  const replayed = await replay(history, { store: join(options.dir, 'lmdb'), source: options.source, to: end, observe: check });
  if ('unusable' in replayed) {
    faults.push({ slot: 0, kind: 'module-mismatch', message: `the module ${history.record.module} cannot be used: ${replayed.unusable.message}`, item: history.record.module });
  }
  return report();
}
