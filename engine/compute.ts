// Stateless Compute: one module, one function, one parameter list. The request is reduced
// to a canonical computation message whose ID, chained onto the module ID, is the
// hashpath; the result record is cached under that hashpath, so the same computation is
// never run twice and a result can only ever be stored under the inputs that produced it.
import { b64url } from './protocol/encoding.ts';
import { badRequest } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { hashpath } from './protocol/hashpath.ts';
import { isBytesFunction } from './wasm/abi.ts';
import { callFunction, decodeOutput, type CallResult } from './wasm/call.ts';
import type { LoadedModule } from './wasm/compile.ts';
import { DEFAULT_GAS_LIMIT, gasLimit } from './wasm/gas.ts';
import { GAS_GET_EXPORT, GAS_SET_EXPORT } from './wasm/meter/contract.ts';
import type { Sandbox } from './wasm/sandbox/index.ts';
import type { KernelLine } from './gpu/client.ts';
import type { Json, Message } from './protocol/message.ts';
import type { ComputeRecord } from './protocol/record.ts';
import { computationMessage, computeStatement } from './protocol/statement.ts';
import type { Attestations } from './attestations.ts';
import { encodeComputeRecord } from './compute-record.ts';
import type { Modules } from './modules.ts';
import type { StoreView } from './store.ts';

export type { ComputeRecord } from './protocol/record.ts';

export interface ComputeAnswer {
  cache: 'hit' | 'miss';
  /** The stored record as JSON bytes, ready to send. */
  body: Uint8Array;
}

/** The computation a request names: only these keys enter the hashpath. */
export function computeMessage(request: Record<string, unknown>): Message {
  const fn = request['wasm-function'];
  if (typeof fn !== 'string' || fn.length === 0) throw badRequest('compute needs wasm-function=<name of an exported function>');
  return computationMessage(fn, parseParams(request['wasm-params']));
}

function parseParams(raw: unknown): Json[] {
  if (raw === undefined) return [];
  let params: unknown = raw;
  if (typeof raw === 'string') {
    try {
      params = JSON.parse(raw);
    } catch (error) {
      throw badRequest(`wasm-params must be a JSON array such as [5.0] or [{"text":"hello"}]; ${(error as Error).message} in ${JSON.stringify(raw.slice(0, 200))}`);
    }
  }
  if (!Array.isArray(params)) throw badRequest(`wasm-params must be a JSON array, got ${JSON.stringify(params)}`);
  return params as Json[];
}

/** What a Compute request names, resolved without running anything: a pure function of the request. */
export interface ComputePlan {
  module: string;
  message: Message;
  hashpath: string;
  /** The call's gas budget (the request's gas-limit key, else the default): not part of the hashpath. */
  gasLimit?: number;
}

export function planCompute(moduleId: string, request: Record<string, unknown>, nodeMaxGas = Number.MAX_SAFE_INTEGER): ComputePlan {
  const message = computeMessage(request);
  const limit = request['gas-limit'];
  return { module: moduleId, message, hashpath: hashpath(moduleId, message), gasLimit: gasLimit([limit as string | undefined], nodeMaxGas) };
}

/**
 * Stateless Compute over the LMDB result cache. Identical requests in flight share one
 * execution, so a repeated request never runs (or attests) the same computation twice. An
 * attested record is committed with its attestation before it is answered; an unattested one
 * is readable from memory until LMDB has committed it.
 */
export class StatelessCompute {
  private readonly inFlight = new Map<string, Promise<ComputeAnswer>>();
  private readonly committing = new Map<string, Uint8Array>();

  constructor(
    private readonly store: StoreView<'results'>,
    private readonly modules: Modules,
    /** Attests every result, in the transaction that stores it; absent, results are unattested (verifiers). */
    private readonly attestations?: Attestations,
    /** Where calls run under a wall-clock guard; without one they run on this thread. */
    private readonly sandbox?: Sandbox,
    /** Where calls run on this thread send their kernel calls (the GPU runtime's line); absent, the CPU references. */
    private readonly gpu?: KernelLine,
    /** TEST ONLY (NodeOptions.testOnlyCorruptResults): rewrites each result's bytes before it is recorded and attested, to make a lying node. */
    private readonly testOnlyCorrupt?: (bytes: Uint8Array) => Uint8Array,
  ) {}

  /** The cached answer for a plan, if this node computed it before. */
  cached(plan: ComputePlan): ComputeAnswer | undefined {
    const body = this.committing.get(plan.hashpath) ?? this.store.results.get(plan.hashpath);
    return body ? { cache: 'hit', body } : undefined;
  }

  run(plan: ComputePlan): Promise<ComputeAnswer> {
    const cached = this.cached(plan);
    if (cached) return Promise.resolve(cached);
    let pending = this.inFlight.get(plan.hashpath);
    if (!pending) {
      pending = this.execute(plan).finally(() => this.inFlight.delete(plan.hashpath));
      this.inFlight.set(plan.hashpath, pending);
    }
    return pending;
  }

  private async execute(plan: ComputePlan): Promise<ComputeAnswer> {
    const loaded = await this.modules.get(plan.module);
    const fn = plan.message['wasm-function'] as string;
    const params = plan.message['wasm-params'] as Json[];
    const computed = this.sandbox ? await this.guarded(this.sandbox, plan, loaded, fn, params) : callFunction(loaded, fn, params, plan.gasLimit, this.gpu);
    const result = this.testOnlyCorrupt ? { ...computed, ...decodeOutput(this.testOnlyCorrupt(computed.bytes)) } : computed;
    const type = loaded.info.exportedFunction(fn);
    const record: ComputeRecord = {
      module: plan.module,
      function: fn,
      'function-type': type && isBytesFunction(loaded.info, type) ? 'bytes' : 'numeric',
      params,
      result: result.value,
      'result-encoding': result.encoding,
      'result-bytes': b64url(result.bytes),
      'result-hash': sha256b64(result.bytes),
      gas: result.gas,
      hashpath: plan.hashpath,
      ...(result.kernels ? { kernels: result.kernels } : {}),
    };
    if (this.attestations) {
      // The record is stored with its attestation, in the batch's transaction: durable once answered.
      let body!: Uint8Array;
      await this.attestations.attest(computeStatement(record, this.attestations.address), (attestation) => {
        record.attestation = attestation;
        body = encode(record);
        this.store.results.put(plan.hashpath, body);
      });
      return { cache: 'miss', body };
    }
    const body = encode(record);
    this.committing.set(plan.hashpath, body);
    void this.store.results.put(plan.hashpath, body).finally(() => this.committing.delete(plan.hashpath));
    return { cache: 'miss', body };
  }

  /**
   * A call under the wall-clock guard. It is first tried here on a budget the guard has nothing
   * to stop in (the sandbox's inlineGas, a few ms of work at most): metering is exact, so a call
   * that finishes within that budget does exactly what it does under its full gas limit, and its
   * result, encoding and gas are the same bytes. Anything else (out of gas on the small budget,
   * a trap, any error) is run again in the worker under the full limit, which answers it as it
   * always did. Only metered modules without the GPU host module and without a start function
   * are tried: an unmetered one has no budget to bound it, kernel calls are counted by the line
   * that served them, and a start function runs at every instantiation on its own budget of up
   * to START_GAS (engine/wasm/meter/index.ts), before the call's budget is set.
   */
  private async guarded(sandbox: Sandbox, plan: ComputePlan, loaded: LoadedModule, fn: string, params: Json[]): Promise<CallResult> {
    const limit = plan.gasLimit ?? DEFAULT_GAS_LIMIT;
    if (sandbox.inlineGas > 0 && inlineable(loaded)) {
      try {
        return callFunction(loaded, fn, params, Math.min(limit, sandbox.inlineGas));
      } catch {
        // answered by the worker below, under the full limit
      }
    }
    return sandbox.call(plan.module, await this.modules.meteredBytes(plan.module), fn, params, plan.gasLimit, loaded.data);
  }
}

const START_SECTION = 8;
/** Data segments are copied at instantiation, unmetered: past this, a module stays in the worker. */
const INLINE_DATA_BYTES = 1024 * 1024;

/** Whether calls of a module may be tried on the calling thread: metered, no kernel calls, no start function. */
function inlineable(loaded: LoadedModule): boolean {
  let known = inlineChecked.get(loaded);
  if (known === undefined) {
    const { exports, imports, sections, dataBytes } = loaded.info;
    known =
      exports.has(GAS_SET_EXPORT) && exports.has(GAS_GET_EXPORT) &&
      !imports.some((i) => i.module === 'gpu') &&
      !sections.some((s) => s.id === START_SECTION) &&
      dataBytes <= INLINE_DATA_BYTES;
    inlineChecked.set(loaded, known);
  }
  return known;
}
const inlineChecked = new WeakMap<LoadedModule, boolean>();

const encode = encodeComputeRecord;
