// The replay verifier: re-executes a process from its Arweave history alone, with the same
// engine code path as a node (engine/process.ts) but its own empty LMDB, and compares every
// slot's hashpath, result hash and state hash with what the node attested.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { HyperError } from '../../engine/protocol/errors.ts';
import { openStore } from '../../engine/store.ts';
import { Modules, type ModuleSource } from '../../engine/modules.ts';
import { Processes, type ScheduleReader } from '../../engine/process.ts';
import type { Fault, ProcessHistory } from './history.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';

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

const COMPARED: (keyof ProcessStatement)[] = ['process', 'module', 'message', 'assignment', 'hashpath', 'result-hash', 'state-hash', 'gas'];

export function historyReader(history: ProcessHistory): ScheduleReader {
  const last = Math.max(-1, ...history.assignments.keys());
  return {
    process: (pid) => (pid === history.pid ? history.record : undefined),
    currentSlot: (pid) => (pid === history.pid && last >= 0 ? last : undefined),
    assignment: (pid, slot) => (pid === history.pid ? history.assignments.get(slot) : undefined),
    message: (id) => history.messages.get(id),
  };
}

export async function verifyProcess(history: ProcessHistory, options: VerifyOptions): Promise<Report> {
  const faults = [...history.faults];
  const slots: SlotStatus[] = [];
  const report = () => {
    faults.sort((a, b) => (a.slot ?? -1) - (b.slot ?? -1));
    return { process: history.pid, slots, faults, confirmed: slots.filter((s) => s === 'confirmed').length, unattested: slots.filter((s) => s === 'unattested').length, ok: faults.length === 0 };
  };
  if (!history.record) return report();

  mkdirSync(options.dir, { recursive: true });
  const store = openStore(join(options.dir, 'lmdb'));
  try {
    const modules = new Modules(store, options.source);
    try {
      await modules.getForProcess(history.record.module);
    } catch (error) {
      if (!(error instanceof HyperError) || error.kind === 'unavailable') throw error;
      faults.push({ slot: 0, kind: 'module-mismatch', message: `the module ${history.record.module} cannot be used: ${error.message}`, item: history.record.module });
      return report();
    }
    const last = Math.max(-1, ...history.assignments.keys());
    const end = Math.min(options.to ?? last, last);
    const every = Math.max(1, Math.round((end + 1) / 20));
    const check = (record: Record<string, unknown>) => {
      const slot = record.slot as number;
      const claims = history.statements.get(slot) ?? [];
      let status: SlotStatus = claims.length > 0 ? 'confirmed' : 'unattested';
      for (const { statement, attestation } of claims) {
        const field = COMPARED.find((key) => statement[key] !== record[key]);
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
    const processes = new Processes({ store, modules, scheduler: historyReader(history), snapshotEvery: 1000, observe: check });
    if (end >= 0) await processes.compute(history.pid, end);
    return report();
  } finally {
    await store.close();
  }
}
