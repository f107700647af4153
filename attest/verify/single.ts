// Verifying one attested answer: the attestation item's signature and Merkle root, the
// answer's inclusion proof, and the result itself by recomputation (a stateless call is
// re-run; a process slot is replayed from the process's Arweave history).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArweaveGateway } from '../../arweave/gateway.ts';
import { openStore, type Store } from '../../engine/store.ts';
import { Modules } from '../../engine/modules.ts';
import { planCompute } from '../../engine/compute.ts';
import { callFunction } from '../../engine/wasm/call.ts';
import { sha256b64 } from '../../engine/protocol/hash.ts';
import type { Json } from '../../engine/protocol/message.ts';
import type { Attestation } from '../../engine/protocol/attestation.ts';
import { leafHash, rootFromProof } from '../../engine/protocol/merkle.ts';
import { statementBytes, type ComputeStatement, type ProcessStatement, type ReceiptStatement } from '../../engine/protocol/statement.ts';
import { modulePrice, price } from '../../engine/protocol/pricing.ts';
import { checkHistory, fetchHistory } from './history.ts';
import { replay } from './replayer.ts';
import { COMPARED, firstDifference, type ComparedField } from './compare.ts';
import { fetchItem, readAttestationItem } from './attestation.ts';

export interface SingleResult {
  ok: boolean;
  lines: string[];
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
  const item = readAttestationItem(await fetchItem(gateway, id));
  const { node, root, statements } = item;
  if (!item.signed) return fail(`the signature of attestation ${id} does not verify`);
  if (item.signer !== node) return fail(`attestation ${id} is signed by ${item.signer} but names node ${node}`);
  if (item.inconsistent?.reason === 'root') return fail(`the statements of ${id} do not hash to its Merkle-Root ${root}`);
  if (item.inconsistent) return fail(`the statements of attestation ${id} cannot be read: ${item.inconsistent.message}`);
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
  // The replay's callFunction is given no GPU line (a CPU-only runtime): the references ran every call.
  const here = 'this replay ran all of them on the CPU references';
  return `; the node ran ${k.gpu} kernel call(s) on its GPU and ${k.cpu} on the CPU, ${here}, with the same bytes`;
}

/**
 * What re-executing one statement gave (the verifier node's sampling and a registry's evidence
 * check, engine/verifier.ts and engine/registry.ts): `matches`, or `differs` with the first
 * field that differs, both values and the replayed values; `unjudged` when the replay could not
 * say either way (a history fault before the slot, a module that cannot be used): nobody is
 * confirmed or refuted by it. An unreachable gateway throws.
 */
export type Judgement =
  | { verdict: 'matches'; replayed: Record<string, string | number> }
  | { verdict: 'differs'; field: ComparedField; attested: string | number; replayed: Record<string, string | number>; message: string }
  | { verdict: 'unjudged'; message: string };

/** Re-executes a compute or process statement of attestation `attestation` from Arweave alone, in `options.dir` (the caller's own folder; one judgement at a time per folder). */
export async function judgeStatement(gateway: ArweaveGateway, statement: ComputeStatement | ProcessStatement, attestation: string, options: { dir: string; progress?: (line: string) => void }): Promise<Judgement> {
  if (statement.kind === 'process') return replaySlotJudged(gateway, statement, attestation, options);
  const store = openStore(join(options.dir, 'single-lmdb'));
  try {
    return await recomputeCompute(gateway, store, statement);
  } finally {
    await store.close();
  }
}

/** A stateless statement's hashpath, result hash and gas, recomputed. */
async function recomputeCompute(gateway: ArweaveGateway, store: Store, statement: ComputeStatement): Promise<Judgement> {
  const plan = planCompute(statement.module, statement.request as Record<string, unknown>);
  if (plan.hashpath !== statement.hashpath) {
    return { verdict: 'differs', field: 'hashpath', attested: statement.hashpath, replayed: { hashpath: plan.hashpath }, message: `the hashpath of the request is ${plan.hashpath}, the statement says ${statement.hashpath}` };
  }
  const loaded = await new Modules(store, gateway).get(statement.module);
  const result = callFunction(loaded, plan.message['wasm-function'] as string, plan.message['wasm-params'] as Json[]);
  const replayed = { hashpath: plan.hashpath, 'result-hash': sha256b64(result.bytes), gas: result.gas };
  if (replayed['result-hash'] !== statement['result-hash']) {
    return { verdict: 'differs', field: 'result-hash', attested: statement['result-hash'], replayed, message: `recomputed result hash ${replayed['result-hash']}, the statement says ${statement['result-hash']}` };
  }
  if (result.gas !== statement.gas) return { verdict: 'differs', field: 'gas', attested: statement.gas, replayed, message: `recomputed gas ${result.gas}, the statement says ${statement.gas}` };
  return { verdict: 'matches', replayed };
}

/** Re-runs a stateless call; for a receipt also re-derives the price from the declared rates. */
async function recomputeStateless(gateway: ArweaveGateway, statement: ComputeStatement | ReceiptStatement, dir: string): Promise<string | undefined> {
  const store = openStore(join(dir, 'single-lmdb'));
  try {
    if (statement.kind === 'compute') {
      const judged = await recomputeCompute(gateway, store, statement);
      return judged.verdict === 'matches' ? undefined : judged.message;
    }
    const request = statement.computation;
    const plan = planCompute(statement.module, request as Record<string, unknown>);
    if (plan.hashpath !== statement.hashpath) return `the hashpath of the request is ${plan.hashpath}, the statement says ${statement.hashpath}`;
    const modules = new Modules(store, gateway);
    const loaded = await modules.get(statement.module);
    const result = callFunction(loaded, plan.message['wasm-function'] as string, plan.message['wasm-params'] as Json[]);
    const hash = sha256b64(result.bytes);
    if (hash !== statement['result-hash']) return `recomputed result hash ${hash}, the statement says ${statement['result-hash']}`;
    if (String(result.gas) !== statement.gas) return `recomputed gas ${result.gas}, the receipt says ${statement.gas}`;
    const declared = modulePrice((await modules.meta(statement.module)).tags);
    const node = { flat: BigInt(statement.prices.node.flat), perKgas: BigInt(statement.prices.node['per-kgas']) };
    const charge = price(declared, node, BigInt(result.gas));
    if (charge.amount !== statement.amount || charge.split.node !== statement.split.node || charge.split.owner !== statement.split.owner) {
      return `the module's declared prices give ${JSON.stringify(charge)}, the receipt says ${statement.amount} split ${JSON.stringify(statement.split)}`;
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
  const judged = await replaySlotJudged(gateway, statement, attestation, options);
  return judged.verdict === 'matches' ? undefined : judged.message;
}

async function replaySlotJudged(gateway: ArweaveGateway, statement: ProcessStatement, attestation: string, options: { dir: string; progress?: (line: string) => void }): Promise<Judgement> {
  const history = await checkHistory(statement.process, await fetchHistory(gateway, statement.process, options.progress));
  const fault = history.faults.find((f) => f.slot === null || f.slot <= statement.slot);
  if (fault) return { verdict: 'unjudged', message: `slot ${fault.slot}: ${fault.kind}: ${fault.message}` };
  if (!history.assignments.has(statement.slot)) return { verdict: 'unjudged', message: `the process's history on Arweave ends before slot ${statement.slot}` };
  const replayed = await replay(history, {
    store: join(options.dir, 'single-replay'),
    source: gateway,
    to: statement.slot,
    trusted: (at) => history.statements.get(at)?.[0]?.statement['state-hash'],
    started: (from) => options.progress?.(`replaying slots ${from + 1}–${statement.slot} ${from < 0 ? 'from slot 0' : `from the checkpoint at slot ${from}`}`),
  });
  if ('unusable' in replayed) throw replayed.unusable;
  const record = replayed.record!; // the slot is assigned, so it is at least 0
  const values = Object.fromEntries(COMPARED.map((key) => [key, record[key]])) as Record<string, string | number>;
  const field = firstDifference(statement, record);
  if (field) {
    return { verdict: 'differs', field, attested: statement[field], replayed: values, message: `slot ${statement.slot}: the attested ${field} ${statement[field]} differs from the replay's ${record[field]} (attestation ${attestation})` };
  }
  return { verdict: 'matches', replayed: values };
}
