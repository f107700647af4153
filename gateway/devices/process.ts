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
//   A process another node schedules (any ID, for `now`; one copied before, for `compute`):
//       the node copies its schedule from its scheduler, checked as a verifier checks it
//       (engine/mirror.ts), then folds and answers with its own attested record; 404 when no
//       scheduler it can find schedules the ID. It delivers none of that process's messages.
//   GET /<process-id>/outbox&from=<slot>&limit=<n>
//       The process's outgoing messages from slot `from` (default 0), at most `limit` (default
//       and at most 1000): each with its target, its delivery status (pending, delivered,
//       account, invalid), attempts and last error, and once delivered the slot and assignment
//       it got at its target; a spawn entry has `spawn` (module, tags, data) and, once started,
//       the new process as its target. No side effects.
import { wholeNumber, type Device, type Key } from './device.ts';
import { sendRecord } from './record.ts';
import { RECORD } from './schemas.ts';
import { open } from './schemas.ts';

const MAX_OUTBOX = 1000;
const OUTBOX = { type: 'object', properties: { process: { type: 'string' }, from: { type: 'integer' }, entries: { type: 'array', items: open('an outgoing message: slot, index, target, status, attempts, last-error, next-at, item, target-slot, assignment, scheduler, invalid, tags, data', {}) } } };

const atSlot = (key: string, usage: string, summary: string, slotted: boolean): Key => ({
  method: 'GET',
  key,
  usage,
  summary,
  params: slotted ? [{ name: 'slot', description: 'the slot whose state to answer (default: the latest)', schema: { type: 'integer', minimum: 0 } }] : [],
  response: RECORD,
  // `now` is only ever a process's key, so it claims any ID (an unknown one is looked up elsewhere).
  claims: slotted ? (node, id) => node.scheduler.process(id) !== undefined : () => true,
  answer: async (call) => {
    const pid = call.base as string;
    const slot = !slotted || call.last.slot === undefined ? undefined : wholeNumber(call.last.slot, 'slot');
    const { node } = call;
    // Another node's process: its newest slots are copied first (only what this node lacks).
    if (node.scheduler.process(pid) === undefined || node.mirror.mirrors(pid)) {
      const current = node.scheduler.currentSlot(pid);
      if (current === undefined || slot === undefined || slot > current) await node.mirror.sync(pid);
    }
    return node.processes.compute(pid, slot).then((answer) => sendRecord(call.reply, answer));
  },
});

export const processDevice: Device = {
  name: 'process@1.0',
  address: 'id',
  about: 'a process\'s state at a slot, folded from its schedule',
  keys: [
    atSlot('compute', '/<process-id>/compute&slot=<n>', 'process state at a slot', true),
    atSlot('now', '/<process-id>/now', 'process state at the latest slot', false),
    {
      method: 'GET',
      key: 'outbox',
      usage: '/<process-id>/outbox&from=<slot>',
      summary: 'a process\'s outgoing messages and their delivery',
      params: [
        { name: 'from', description: 'the first slot (default 0)', schema: { type: 'integer', minimum: 0 } },
        { name: 'limit', description: `at most this many entries (default and at most ${MAX_OUTBOX})`, schema: { type: 'integer', minimum: 1 } },
      ],
      response: OUTBOX,
      claims: (node, id) => node.scheduler.process(id) !== undefined,
      answer: (call) => {
        const pid = call.base as string;
        const from = call.last.from === undefined ? 0 : wholeNumber(call.last.from, 'from');
        const limit = call.last.limit === undefined ? MAX_OUTBOX : Math.min(MAX_OUTBOX, Math.max(1, wholeNumber(call.last.limit, 'limit')));
        const entries = call.node.deliveries.outbox(pid, from, limit).map(({ slot, index, entry }) => ({
          slot,
          index,
          target: entry.target ?? null,
          status: entry.status,
          attempts: entry.attempts,
          ...(entry.lastError && entry.status === 'pending' ? { 'last-error': entry.lastError, 'next-at': entry.nextAt } : {}),
          ...(entry.item ? { item: entry.item } : {}),
          ...(entry.slot !== undefined ? { 'target-slot': entry.slot, assignment: entry.assignment, scheduler: entry.scheduler } : {}),
          ...(entry.invalid ? { invalid: entry.invalid } : {}),
          ...(entry.message ? { tags: entry.message.tags, data: entry.message.data } : {}),
          ...(entry.spawn ? { spawn: { module: entry.spawn.module, tags: entry.spawn.tags, data: entry.spawn.data } } : {}),
        }));
        return call.json({ process: pid, from, entries }, OUTBOX);
      },
    },
  ],
};
