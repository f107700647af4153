// Verifying one attested answer: the attestation item's signature and Merkle root, the
// answer's inclusion proof, and the result itself by recomputation (a stateless call is
// re-run; a process slot is replayed from the process's Arweave history).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBundle } from '../../engine/protocol/ans104/bundle.ts';
import { findByTags } from '../../arweave/graphql.ts';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { parseDataItem, verifyDataItem, type DataItem } from '../../engine/protocol/ans104/data-item.ts';
import { openStore } from '../../engine/store.ts';
import { Modules } from '../../engine/modules.ts';
import { planCompute } from '../../engine/compute.ts';
import { callFunction } from '../../engine/wasm/call.ts';
import { sha256b64 } from '../../engine/protocol/hash.ts';
import { notFound } from '../../engine/protocol/errors.ts';
import type { Json } from '../../engine/protocol/message.ts';
import type { Attestation } from '../attester.ts';
import { leafHash, merkleTree, rootFromProof } from '../../engine/protocol/merkle.ts';
import { kernelClient } from '../../engine/gpu/bridge.ts';
import { statementBytes, type ComputeStatement, type ProcessStatement, type ReceiptStatement, type Statement } from '../../engine/protocol/statement.ts';
import { modulePrice, price } from '../../engine/protocol/pricing.ts';
import { checkHistory, fetchHistory } from './history.ts';
import { historyReader } from './replay.ts';
import { Processes } from '../../engine/process.ts';
import { trustedCheckpoint } from '../checkpoint.ts';
import { tagValue } from '../../engine/protocol/vocabulary.ts';

export interface SingleResult {
  ok: boolean;
  lines: string[];
}

/** The signed raw bytes of an attestation: its bundle names it in a tag (attest/attester.ts). */
export async function fetchItem(gateway: ArweaveGateway, id: string): Promise<DataItem> {
  const bundles = await findByTags(gateway, { Attestation: id, Type: 'Bundle' });
  for (const bundle of bundles) {
    for (const item of decodeBundle(await gateway.data(bundle.id))) if (item.id === id) return parseDataItem(item.raw);
  }
  throw notFound(`no bundle on ${gateway.url} holds the attestation ${id}`);
}

export async function verifyAttestation(gateway: ArweaveGateway, idOrFile: string, options: { dir: string; progress?: (line: string) => void }): Promise<SingleResult> {
  const lines: string[] = [];
  const fail = (line: string): SingleResult => ({ ok: false, lines: [...lines, `FAILED: ${line}`] });
  let answer: Attestation | undefined;
  let id = idOrFile;
  if (existsSync(idOrFile)) {
    answer = (JSON.parse(readFileSync(idOrFile, 'utf8')) as { attestation?: Attestation }).attestation;
    if (!answer) return fail(`${idOrFile} has no "attestation" field`);
    id = answer.id;
  }
  const item = await fetchItem(gateway, id);
  if (!verifyDataItem(item)) return fail(`the signature of attestation ${id} does not verify`);
  const node = tagValue(item.tags, 'Node');
  if (item.ownerAddress !== node) return fail(`attestation ${id} is signed by ${item.ownerAddress} but names node ${node}`);
  const statements = JSON.parse(new TextDecoder().decode(item.data)) as Statement[];
  const root = tagValue(item.tags, 'Merkle-Root');
  if (merkleTree(statements.map((s) => leafHash(statementBytes(s)))).root !== root) return fail(`the statements of ${id} do not hash to its Merkle-Root ${root}`);
  lines.push(`attestation ${id}: signed by ${node}, ${statements.length} statement(s) under root ${root}`);

  let checked = statements;
  if (answer) {
    if (rootFromProof(leafHash(statementBytes(answer.statement)), answer.index, answer.count, answer.proof) !== root) return fail('the answer\'s Merkle proof does not lead to the signed root');
    lines.push(`the answer's statement is leaf ${answer.index} of ${answer.count}: proof checks`);
    checked = [answer.statement];
  }
  for (const statement of checked) {
    const problem =
      statement.kind === 'process' ? await replaySlot(gateway, statement, id, options) : await recomputeStateless(gateway, statement, options.dir);
    if (problem) return fail(problem);
    lines.push(
      statement.kind === 'process'
        ? `confirmed: process ${statement.process} slot ${statement.slot} (replayed)`
        : statement.kind === 'receipt'
          ? `confirmed: ${statement.payer} paid ${statement.amount} for ${statement.hashpath} (recomputed result, gas and price)`
          : `confirmed: ${statement.hashpath} (recomputed${backends(statement)})`,
    );
  }
  return { ok: true, lines };
}

/** How the node's kernel calls ran, beside this replay's (a verifier needs no GPU). */
function backends(statement: ComputeStatement): string {
  const k = statement.kernels;
  if (!k) return '';
  const here = kernelClient() ? 'this replay used its own GPU worker where the work was large' : 'this replay ran all of them on the CPU references';
  return `; the node ran ${k.gpu} kernel call(s) on its GPU and ${k.cpu} on the CPU, ${here}, with the same bytes`;
}

/** Re-runs a stateless call; for a receipt also re-derives the price from the declared rates. */
async function recomputeStateless(gateway: ArweaveGateway, statement: ComputeStatement | ReceiptStatement, dir: string): Promise<string | undefined> {
  const store = openStore(join(dir, 'single-lmdb'));
  try {
    const request = statement.kind === 'receipt' ? statement.computation : statement.request;
    const plan = planCompute(statement.module, request as Record<string, unknown>);
    if (plan.hashpath !== statement.hashpath) return `the hashpath of the request is ${plan.hashpath}, the statement says ${statement.hashpath}`;
    const modules = new Modules(store, gateway);
    const loaded = await modules.get(statement.module);
    const result = callFunction(loaded, plan.message['wasm-function'] as string, plan.message['wasm-params'] as Json[]);
    const hash = sha256b64(result.bytes);
    if (hash !== statement['result-hash']) return `recomputed result hash ${hash}, the statement says ${statement['result-hash']}`;
    if (statement.kind === 'compute' && result.gas !== statement.gas) return `recomputed gas ${result.gas}, the statement says ${statement.gas}`;
    if (statement.kind === 'receipt') {
      if (String(result.gas) !== statement.gas) return `recomputed gas ${result.gas}, the receipt says ${statement.gas}`;
      const declared = modulePrice((await modules.meta(statement.module)).tags);
      const node = { flat: BigInt(statement.prices.node.flat), perKgas: BigInt(statement.prices.node['per-kgas']) };
      const charge = price(declared, node, BigInt(result.gas));
      if (charge.amount !== statement.amount || charge.split.node !== statement.split.node || charge.split.owner !== statement.split.owner) {
        return `the module's declared prices give ${JSON.stringify(charge)}, the receipt says ${statement.amount} split ${JSON.stringify(statement.split)}`;
      }
    }
    return undefined;
  } finally {
    await store.close();
  }
}

/**
 * Replays a process up to one slot: from the latest published checkpoint before it whose
 * bytes hash to the state the scheduler attested there, else from slot 0.
 */
async function replaySlot(gateway: ArweaveGateway, statement: ProcessStatement, attestation: string, options: { dir: string; progress?: (line: string) => void }): Promise<string | undefined> {
  const history = await checkHistory(statement.process, await fetchHistory(gateway, statement.process, options.progress));
  const fault = history.faults.find((f) => f.slot === null || f.slot <= statement.slot);
  if (fault) return `slot ${fault.slot}: ${fault.kind}: ${fault.message}`;
  if (!history.assignments.has(statement.slot)) return `the process's history on Arweave ends before slot ${statement.slot}`;
  const store = openStore(join(options.dir, 'single-replay'));
  try {
    const modules = new Modules(store, gateway);
    const loaded = await modules.getForProcess(history.record!.module);
    const checkpoint = trustedCheckpoint(history.checkpoints, loaded, statement.slot, (at) => history.statements.get(at)?.[0]?.statement['state-hash']);
    if (checkpoint) await store.snapshots.put([statement.process, checkpoint.slot], checkpoint.data);
    const from = checkpoint?.slot ?? -1;
    options.progress?.(`replaying slots ${from + 1}–${statement.slot} ${from < 0 ? 'from slot 0' : `from the checkpoint at slot ${from}`}`);
    const processes = new Processes({ store, modules, scheduler: historyReader(history) });
    const record = JSON.parse(new TextDecoder().decode((await processes.compute(statement.process, statement.slot)).body)) as Record<string, unknown>;
    const field = (['process', 'module', 'message', 'assignment', 'hashpath', 'result-hash', 'state-hash', 'gas'] as const).find((key) => statement[key] !== record[key]);
    if (field) return `slot ${statement.slot}: the attested ${field} ${statement[field]} differs from the replay's ${record[field]} (attestation ${attestation})`;
    return undefined;
  } finally {
    await store.close();
  }
}
