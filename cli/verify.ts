// `hyperwasm verify`: replay a process from Arweave alone and check the node's attestations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { DEFAULT_ARLOCAL_PORT } from './defaults.ts';
import type { Fault } from '../attest/verify/history.ts';
import type { SlotStatus } from '../attest/verify/replay.ts';
import { verifyFromGateway } from '../attest/verify/pipeline.ts';
import { hasLinks, verifyLinks, type LinkReport } from '../attest/verify/links.ts';
import { verifyAttestation } from '../attest/verify/single.ts';
import { UsageError, type Command } from './command.ts';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'replay a process (or check one attestation) from Arweave alone; exit 0 only if all is confirmed',
  usage: `hyperwasm verify <process-id> [--gateway <url>] [--to N] [--data <dir>] [--links | --no-links]
hyperwasm verify --attestation <id|answer.json> [--gateway <url>] [--data <dir>]

With a process ID: fetches from the gateway (GraphQL by tags, then data by ID) the process
message, every message and assignment and the node's attestations; checks every signature,
the slots and the hash-chain; fetches the module and checks it against its signed ID;
re-executes every slot with the same engine as a node, in a fresh folder; and compares each
slot's hashpath, result hash and state hash with the attestations. Prints progress, then a
per-slot summary. Exits 0 only if everything is confirmed; otherwise prints the first slot
where the claim and the replay differ, with both values and the IDs involved, and exits 1.

Links (docs/PROTOCOL.md §21): when the process received a pushed message or its replay sent
one (or with --links), every pushed message in its schedule is traced to its source (signed
by the source's scheduler; equal to the outbox entry of the source's record, the source
replayed from Arweave and checked against its attestations; never twice), and every outbox
entry to a process on Arweave must be in that process's schedule exactly once. Prints
"links: N in, N out, N to accounts, N undelivered"; a link fault makes the exit code 1; an
entry not yet in its target's published schedule is a warning (publication may lag).

With --attestation: checks one attested answer (an attestation item ID, or a node's JSON
answer saved to a file): the signature, the Merkle proof, and by recomputation the result.

Options:
  --gateway <url>  Arweave gateway (default http://127.0.0.1:${DEFAULT_ARLOCAL_PORT})
  --to N           stop after slot N
  --data <dir>     the verifier's own folder (default: a fresh temporary one, removed after)
  --links          check the links even where the process has none to check
  --no-links       do not check the links
  --attestation    check one attestation instead of a whole process`,
  options: { gateway: { type: 'string' }, to: { type: 'string' }, data: { type: 'string' }, attestation: { type: 'string' }, links: { type: 'boolean' }, 'no-links': { type: 'boolean' } },
  async run({ values, positionals }) {
    const gateway = new ArweaveGateway(values.gateway ?? `http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}`);
    const dir = values.data ?? mkdtempSync(join(tmpdir(), 'hyperwasm-verify-'));
    const progress = (line: string) => console.error(line);
    try {
      if (values.attestation) {
        const result = await verifyAttestation(gateway, values.attestation, { dir, progress });
        for (const line of result.lines) console.log(line);
        return result.ok ? 0 : 1;
      }
      const [pid] = positionals;
      if (!pid || positionals.length > 1) throw new UsageError('verify takes one process ID (or --attestation)');
      const to = values.to === undefined ? undefined : Number(values.to);
      if (values.links && values['no-links']) throw new UsageError('verify takes --links or --no-links, not both');
      // Pipelined: bundles fetched in parallel, signatures checked on worker threads while the replay runs.
      const { history, report, records, items } = await verifyFromGateway(gateway, pid, { dir: join(dir, 'replay'), source: gateway, to, progress });
      const replayed = { records };
      console.log(`process ${pid}: ${items} items, ${history.assignments.size} assigned slots, ${report.slots.length} replayed`);
      for (const line of summarise(report.slots)) console.log(`  ${line}`);
      let links: LinkReport | undefined;
      if (history.record && !values['no-links'] && (values.links || hasLinks(history, replayed.records))) {
        links = await verifyLinks(gateway, pid, { dir: join(dir, 'links'), history, records: replayed.records, to, progress });
        for (const line of describeLinks(links)) console.log(line);
      }
      if (report.ok && !links?.faults.length) {
        console.log(`verified: ${report.confirmed} slots confirmed${report.unattested ? `, ${report.unattested} replayed but not attested` : ''}${links ? `, ${links.incoming + links.outgoing} links` : ''}`);
        return 0;
      }
      if (report.ok) {
        console.log(`FAILED: ${links!.faults.length} link fault${links!.faults.length === 1 ? '' : 's'}`);
        return 1;
      }
      console.log(`FAILED: ${report.faults.length} fault${report.faults.length === 1 ? '' : 's'}; the first:`);
      for (const line of describeFault(report.faults[0])) console.log(`  ${line}`);
      for (const fault of report.faults.slice(1, 10)) console.log(`  also: slot ${fault.slot ?? '-'} ${fault.kind}: ${fault.message}`);
      return 1;
    } finally {
      if (!values.data) rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** The link summary, every link fault, and the entries not yet delivered (warnings). */
function describeLinks(links: LinkReport): string[] {
  const lines = [`links: ${links.incoming} in, ${links.outgoing} out, ${links.accounts} to accounts, ${links.undelivered.length} undelivered`];
  for (const key of links.undelivered.slice(0, 20)) lines.push(`  warning: not yet in its target's published schedule: ${key}`);
  if (links.undelivered.length > 20) lines.push(`  warning: … and ${links.undelivered.length - 20} more`);
  for (const fault of links.faults) lines.push(`  link fault: slot ${fault.slot ?? '-'} ${fault.kind}: ${fault.message}`);
  return lines;
}

/** Runs of equal status: "slots 0–41: confirmed (42)". */
function summarise(slots: SlotStatus[]): string[] {
  const lines: string[] = [];
  for (let start = 0; start < slots.length; ) {
    let end = start;
    while (end + 1 < slots.length && slots[end + 1] === slots[start]) end++;
    lines.push(`slot${end > start ? `s ${start}–${end}` : ` ${start}`}: ${slots[start]} (${end - start + 1})`);
    start = end + 1;
  }
  return lines;
}

export function describeFault(fault: Fault): string[] {
  const lines = [`slot ${fault.slot ?? '-'}: ${fault.kind}: ${fault.message}`];
  if (fault.claimed !== undefined) lines.push(`claimed:     ${fault.claimed}`, `replayed:    ${fault.replayed}`);
  if (fault.attestation) lines.push(`attestation: ${fault.attestation}`);
  if (fault.assignment) lines.push(`assignment:  ${fault.assignment}`);
  if (fault.item) lines.push(`item:        ${fault.item}`);
  return lines;
}
