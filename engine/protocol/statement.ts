// What a node attests: one statement per result, canonical JSON, so a verifier who
// recomputes the result can rebuild the statement byte for byte (docs/PROTOCOL.md §14).
// A result's statement is a projection of its record: nothing in it that the record lacks.
import { canonicalJson, utf8 } from './encoding.ts';
import type { Json, Message } from './message.ts';
import type { ComputeRecord, SlotRecord } from './record.ts';

/** Names the code that produced a result: changes when results could change. */
export const ENGINE = 'hyperwasm-engine/1';

export interface ComputeStatement {
  kind: 'compute';
  node: string;
  module: string;
  request: Message;
  hashpath: string;
  'result-hash': string;
  gas: number;
  engine: string;
  /** Which backend served the module's kernel calls: informational, the bytes are the same (absent: no kernels). */
  kernels?: { gpu: number; cpu: number };
}

export interface ProcessStatement {
  kind: 'process';
  node: string;
  process: string;
  module: string;
  slot: number;
  message: string;
  assignment: string;
  hashpath: string;
  'result-hash': string;
  'state-hash': string;
  gas: number;
  engine: string;
  /** As in ComputeStatement: informational, absent when the slot made no kernel calls. */
  kernels?: { gpu: number; cpu: number };
}

/** A paid call's receipt: who paid what for which result, and the prices that made the amount. */
export interface ReceiptStatement {
  kind: 'receipt';
  node: string;
  payer: string;
  /** The ID of the signed request item: a request is charged once. */
  request: string;
  module: string;
  /** The computation message (§5), so anyone can recompute result, gas and price. */
  computation: Message;
  owner: string;
  hashpath: string;
  'result-hash': string;
  gas: string;
  amount: string;
  split: { node: string; owner: string };
  prices: { module: { flat: string; 'per-kgas': string; 'owner-share': string }; node: { flat: string; 'per-kgas': string } };
  engine: string;
}

export type Statement = ComputeStatement | ProcessStatement | ReceiptStatement;

export const statementBytes = (statement: Statement): Uint8Array => utf8(canonicalJson(statement));

/** The computation message of a stateless call (§5): only these keys enter its hashpath. */
export const computationMessage = (fn: string, params: Json[]): Message => ({ path: 'compute', 'wasm-function': fn, 'wasm-params': params });

/** The statement `node` signs about a stateless result. */
export function computeStatement(record: ComputeRecord, node: string): ComputeStatement {
  const request = computationMessage(record.function, record.params);
  const statement: ComputeStatement = { kind: 'compute', node, module: record.module, request, hashpath: record.hashpath, 'result-hash': record['result-hash'], gas: record.gas, engine: ENGINE };
  if (record.kernels) statement.kernels = record.kernels;
  return statement;
}

/** The statement `node` signs about a process slot's result. */
export function processStatement(record: SlotRecord, node: string): ProcessStatement {
  return {
    kind: 'process',
    node,
    process: record.process,
    module: record.module,
    slot: record.slot,
    message: record.message,
    assignment: record.assignment,
    hashpath: record.hashpath,
    'result-hash': record['result-hash'],
    'state-hash': record['state-hash'],
    gas: record.gas,
    engine: ENGINE,
    ...(record.kernels ? { kernels: record.kernels } : {}),
  };
}
