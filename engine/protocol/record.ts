// The result records a node answers with and caches (docs/PROTOCOL.md §5 and §13): what a
// stateless call and a process slot produced. Typed here, beside the statements that are
// their projections, so no consumer has to cast a `Record<string, Json>`.
import type { Attestation } from './attestation.ts';
import type { Json } from './message.ts';

/** How a result's bytes are shown: numbers as JSON, a bytes function's output as JSON, text or base64url. */
export type ResultEncoding = 'json' | 'text' | 'base64url';

/** Kernel calls by the backend that served them: informational, they never change the bytes. */
export interface KernelTally {
  gpu: number;
  cpu: number;
}

/** Which ABI the called function has (§6): numbers in and out, or bytes (canonical JSON in, the module's bytes out). */
export type FunctionType = 'numeric' | 'bytes';

/**
 * A stateless call's result (stored as canonical JSON under its hashpath). Checkable on its
 * own: `result-hash` = b64url(sha256(fromB64url(`result-bytes`))), and `result` shows those
 * bytes (a numeric function's are the canonical JSON of its result).
 */
export interface ComputeRecord {
  module: string;
  function: string;
  'function-type': FunctionType;
  params: Json[];
  result: Json;
  'result-encoding': ResultEncoding;
  /** base64url of exactly the bytes `result-hash` commits to. */
  'result-bytes': string;
  'result-hash': string;
  gas: number;
  hashpath: string;
  /** Absent when the call made no kernel calls. */
  kernels?: KernelTally;
  attestation?: Attestation;
}

/**
 * A process slot's result (stored as JSON under its hashpath). The key order is the stored
 * order (records are written with JSON.stringify): process … hashpath, what handle returned,
 * result-bytes, result-hash, gas, kernels, state-hash, attestation. Checkable on its own:
 * `result-hash` = b64url(sha256(fromB64url(`result-bytes`))).
 */
export interface SlotRecord {
  process: string;
  module: string;
  slot: number;
  message: string;
  assignment: string;
  hashpath: string;
  /** handle's `output` (null when the message failed). */
  output: Json;
  /** handle's `messages`, as the module returned them. */
  messages: Json;
  /** handle's `spawns` (processes to start), as the module returned them; absent when it returned none. */
  spawns?: Json;
  /** Why the message failed: handle's own `error`, a trap, or output that is not a JSON object. */
  error?: Json;
  /** base64url of exactly the bytes `result-hash` commits to: what handle returned, or a trap's message as UTF-8. */
  'result-bytes': string;
  'result-hash': string;
  gas: number;
  /** Absent when the slot made no kernel calls. */
  kernels?: KernelTally;
  'state-hash': string;
  attestation?: Attestation;
}
