// `hyperwasm outbox`: where a process's outgoing messages went. One line per entry: its
// source slot and index, target, status, and the slot it got at its target (or why not yet).
import { DEFAULT_NODE } from './defaults.ts';
import { NodeClient } from '../client/node-client.ts';
import { UsageError, type Command } from './command.ts';


export const outboxCommand: Command = {
  name: 'outbox',
  summary: "list a process's outgoing messages and where each was delivered",
  usage: `hyperwasm outbox <process-id> [--from <slot>] [--json] [--node <url>]

Asks the node that schedules the process (GET /<process-id>/outbox) for its outgoing messages
from slot --from (default 0) and prints one line per message:

  <slot>.<index>  <target>  <status>  <where or why>

status is delivered (with the slot it got at its target and the scheduler that assigned it),
pending (with the attempts so far and the last error), account (sent to an ID that no
scheduler knows as a process: a wallet address; published, never retried) or invalid (the
handler's message could not be sent: the reason).

Options:
  --from <slot>  the first slot to list (default 0)
  --json         print the node's answer as JSON instead
  --node <url>   the node (default ${DEFAULT_NODE})`,
  options: { from: { type: 'string' }, json: { type: 'boolean' }, node: { type: 'string' } },
  async run({ values, positionals }) {
    const [pid] = positionals;
    if (!pid || positionals.length > 1) throw new UsageError('outbox takes exactly one process ID');
    const from = values.from ?? '0';
    if (!/^\d+$/.test(from)) throw new UsageError(`--from takes a slot number, got ${JSON.stringify(from)}`);
    const client = new NodeClient(values.node ?? DEFAULT_NODE);
    const answer = await client.get(`/${pid}/outbox&from=${from}`);
    if (values.json) return void console.log(JSON.stringify(answer, null, 2));
    if (answer.entries.length === 0) console.error(`process ${pid} has sent no messages from slot ${from}`);
    for (const e of answer.entries) {
      const where =
        e.status === 'delivered' ? `slot ${e['target-slot']} (assigned by ${e.scheduler})`
        : e.status === 'pending' ? `${e.attempts} attempts${e['last-error'] ? `; last: ${e['last-error']}` : ''}`
        : e.status === 'invalid' ? e.invalid
        : 'an account: published, not retried';
      console.log(`${e.slot}.${e.index}\t${e.target ?? '-'}\t${e.status}\t${where}`);
    }
  },
};
