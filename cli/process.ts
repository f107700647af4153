// `hyperwasm spawn`, `send` and `schedule`: processes from the command line.
import { DEFAULT_NODE } from './defaults.ts';
import { NodeClient } from '../client/node-client.ts';
import { configDir } from '../arweave/wallet.ts';
import { join } from 'node:path';
import { cliSigner } from './signer.ts';
import { parseTags, UsageError, type Command } from './command.ts';

const SIGNING = `  --wallet <jwk>    sign with this Arweave wallet (RSA); default: the development ed25519 key
                    ${join(configDir(), 'dev-key.pem')}, created on first use
  --node <url>      the node (default ${DEFAULT_NODE})`;
const signing = { wallet: { type: 'string' }, node: { type: 'string' }, tag: { type: 'string', multiple: true } } as const;

export const spawnCommand: Command = {
  name: 'spawn',
  summary: 'spawn a process from a module on a node; prints the process ID last',
  usage: `hyperwasm spawn <module-id> [--tag Name=Value]… [--data <text>] [--node <url>] [--wallet <jwk>]

Signs a process message (Type: Process, Module: <module-id>, Scheduler: the node's address,
plus your tags) and posts it to the node's scheduler, which gives it slot 0. The process ID
(the message's ID) is the last line of stdout.

Options:
  --tag Name=Value  an initial tag of the process (repeatable), e.g. --tag Supply=1000
  --data <text>     the process message's data
${SIGNING}`,
  options: { ...signing, data: { type: 'string' } },
  async run({ values, positionals }) {
    const [module] = positionals;
    if (!module || positionals.length > 1) throw new UsageError('spawn takes exactly one module ID');
    const client = new NodeClient(values.node ?? DEFAULT_NODE);
    const { address } = await client.info();
    const { process, assignment } = await client.spawn(cliSigner(values.wallet), module, address, parseTags(values.tag), values.data ?? '');
    console.error(`spawned at slot ${assignment.slot}, hash-chain ${assignment['hash-chain']}`);
    console.log(process);
  },
};

export const sendCommand: Command = {
  name: 'send',
  summary: 'send a signed message to a process; prints the assigned slot last',
  usage: `hyperwasm send <process-id> [--data <text>] [--tag Name=Value]… [--node <url>] [--wallet <jwk>]

Signs a message to the process and posts it to the node's scheduler. The answer comes once
the assignment is durable; the slot is the last line of stdout.

Options:
  --data <text>     the message's data
  --tag Name=Value  a tag (repeatable), e.g. --tag Action=Transfer
${SIGNING}`,
  options: { ...signing, data: { type: 'string' } },
  async run({ values, positionals }) {
    const [process] = positionals;
    if (!process || positionals.length > 1) throw new UsageError('send takes exactly one process ID');
    const assignment = await new NodeClient(values.node ?? DEFAULT_NODE).send(cliSigner(values.wallet), process, parseTags(values.tag), values.data ?? '');
    console.error(`message ${assignment.message}, assignment ${assignment.assignment}, hash-chain ${assignment['hash-chain']}`);
    console.log(String(assignment.slot)); // a string: console.log colours numbers under FORCE_COLOR, even into a pipe
  },
};

export const scheduleCommand: Command = {
  name: 'schedule',
  summary: "list a process's assignments (slot, message, hash-chain, timestamp)",
  usage: `hyperwasm schedule <process-id> [--from N] [--to N] [--node <url>] [--json]

Prints one line per assignment: slot, message ID, hash-chain link, timestamp, block height.
Pages through the whole range.

Options:
  --from N, --to N  the slot range (default: all)
  --node <url>      the node (default ${DEFAULT_NODE})
  --json            print the assignments as JSON lines`,
  options: { from: { type: 'string' }, to: { type: 'string' }, node: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, positionals }) {
    const [process] = positionals;
    if (!process || positionals.length > 1) throw new UsageError('schedule takes exactly one process ID');
    const client = new NodeClient(values.node ?? DEFAULT_NODE);
    let from: number | undefined = values.from === undefined ? 0 : Number(values.from);
    const to = values.to === undefined ? undefined : Number(values.to);
    while (from !== undefined) {
      const page = await client.schedulePage(process, from, to);
      for (const a of page.assignments) {
        if (values.json) console.log(JSON.stringify({ ...a, 'assignment-item': undefined, 'message-item': undefined }));
        else console.log(`${String(a.slot).padStart(6)}  ${a.message}  ${a['hash-chain']}  ${new Date(a.timestamp).toISOString()}  height ${a['block-height']}`);
      }
      from = page.continues ? page.next : undefined;
    }
  },
};
