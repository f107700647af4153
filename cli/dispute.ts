// `hyperwasm dispute`: find where two attestations about one process part ways.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { DEFAULT_ARLOCAL_PORT } from './defaults.ts';
import { dispute } from '../attest/verify/dispute.ts';
import { UsageError, type Command } from './command.ts';

export const disputeCommand: Command = {
  name: 'dispute',
  summary: 'localise where two attestations of a process disagree, and which one a replay supports',
  usage: `hyperwasm dispute <attestation-a> <attestation-b> [--gateway <url>] [--data <dir>]

Takes two attestation item IDs about the same process (from two nodes, or a node and a
replay). Collects the state hashes each signer attested for the process from Arweave,
bisects over the slots both attested to find the first where they differ (O(log n)
comparisons, checking only the attestations it compares), then re-executes only that slot,
from the latest published checkpoint whose bytes hash to a state both sides agree on,
fetching and checking only that window of the history (signatures, signers, hash-chain).
Prints the slot, its message, both claims, the replayed state hash, which side it supports,
and what it took (signature checks, bundles and items fetched, executions). Exits 0 if the
attestations agree, 1 if not (or if the window cannot be replayed: its faults are printed).

Options:
  --gateway <url>  Arweave gateway (default http://127.0.0.1:${DEFAULT_ARLOCAL_PORT})
  --data <dir>     the folder to work in (default: a fresh temporary one, removed after)`,
  options: { gateway: { type: 'string' }, data: { type: 'string' } },
  async run({ values, positionals }) {
    const [a, b] = positionals;
    if (!a || !b || positionals.length !== 2) throw new UsageError('dispute takes two attestation IDs');
    const dir = values.data ?? mkdtempSync(join(tmpdir(), 'hyperwasm-dispute-'));
    try {
      const r = await dispute(new ArweaveGateway(values.gateway ?? `http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}`), a, b, { dir, progress: (line) => console.error(line) });
      console.log(`process ${r.process}: ${r.comparisons} comparisons`);
      const cost = () => console.log(`checked ${r.checks} signature${r.checks === 1 ? '' : 's'}; fetched ${r.fetched.items} items in ${r.fetched.bundles} of ${r.bundles} bundles; ${r.executions} execution${r.executions === 1 ? '' : 's'} (fetch ${r.ms.fetch.toFixed(0)} ms, check ${r.ms.check.toFixed(0)} ms, replay ${r.ms.replay.toFixed(0)} ms)`);
      if (r.slot === undefined) {
        console.log('the attestations agree on every slot both attested');
        cost();
        return 0;
      }
      console.log(`first divergent slot: ${r.slot} (message ${r.message})`);
      console.log(`  a ${r.a.signer}: state ${r.a.claim}  (attestation ${r.a.attestation})`);
      console.log(`  b ${r.b.signer}: state ${r.b.claim}  (attestation ${r.b.attestation})`);
      for (const fault of r.faults) console.log(`  fault ${fault.kind} at slot ${fault.slot}: ${fault.message}`);
      if (r.supports === undefined) {
        console.log(`the history cannot be replayed up to slot ${r.slot}: no side is supported`);
        cost();
        return 1;
      }
      console.log(`  replay:  state ${r.replayed}  (${r.executions} execution${r.executions === 1 ? '' : 's'} from ${r.from < 0 ? 'slot 0' : `the checkpoint at slot ${r.from}`})`);
      console.log(r.supports === 'neither' ? 'the replay supports neither side' : `the replay supports ${r.supports} (${r.supports === 'a' ? r.a.signer : r.b.signer})`);
      cost();
      return 1;
    } finally {
      if (!values.data) rmSync(dir, { recursive: true, force: true });
    }
  },
};
