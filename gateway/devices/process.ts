// The process device: a process's state, folded from its schedule (docs/PROTOCOL.md §11-§13),
// addressed by the process's ID. It answers only for IDs this node schedules; any other ID
// goes on to the Compute device.
//
//   GET /<process-id>/compute&slot=<n>   (or ?slot=<n>)
//       Assumes the process was spawned here. Returns the record of slot n: its result, gas,
//       hashpath and attestation, with `cache: hit|miss`. Side effects: folds every slot not
//       yet evaluated up to n, keeping each slot's record, snapshots and attestations. A slot
//       beyond the latest is 400.
//   GET /<process-id>/compute, GET /<process-id>/now
//       The same at the latest slot.
import { wholeNumber, type Device, type Key } from './device.ts';
import { sendRecord } from './record.ts';
import { RECORD } from './schemas.ts';

const atSlot = (key: string, usage: string, summary: string, slotted: boolean): Key => ({
  method: 'GET',
  key,
  usage,
  summary,
  params: slotted ? [{ name: 'slot', description: 'the slot whose state to answer (default: the latest)', schema: { type: 'integer', minimum: 0 } }] : [],
  response: RECORD,
  claims: (node, id) => node.scheduler.process(id) !== undefined,
  answer: (call) => {
    const slot = !slotted || call.last.slot === undefined ? undefined : wholeNumber(call.last.slot, 'slot');
    return call.node.processes.compute(call.base as string, slot).then((answer) => sendRecord(call.reply, answer));
  },
});

export const processDevice: Device = {
  name: 'process@1.0',
  address: 'id',
  about: 'a process\'s state at a slot, folded from its schedule',
  keys: [
    atSlot('compute', '/<process-id>/compute&slot=<n>', 'process state at a slot', true),
    atSlot('now', '/<process-id>/now', 'process state at the latest slot', false),
  ],
};
