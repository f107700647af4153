// Stateless Compute: one module, one function, one parameter list. The request is reduced
// to a canonical computation message whose ID, chained onto the module ID, is the
// hashpath; the result record is cached under that hashpath, so the same computation is
// never run twice and a result can only ever be stored under the inputs that produced it.
import { canonicalJson, utf8 } from './protocol/encoding.ts';
import { badRequest } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { hashpath } from './protocol/hashpath.ts';
import { callFunction, type Encoding } from './wasm/call.ts';
import { gasLimit } from './wasm/gas.ts';
import type { Sandbox } from './wasm/sandbox/index.ts';
import type { KernelCounts } from './wasm/host/gpu.ts';
import type { Json, Message } from './protocol/message.ts';
import type { Modules } from './modules.ts';
import type { Store } from './store.ts';
import { ENGINE, type ComputeStatement } from './protocol/statement.ts';
import type { Attestation } from '../attest/attester.ts';

export interface ComputeRecord {
  module: string;
  function: string;
  params: Json[];
  result: Json;
  'result-encoding': Encoding;
  'result-hash': string;
  gas: number;
  hashpath: string;
  /** Kernel calls by the backend that served them (never changes the bytes); absent when none. */
  kernels?: KernelCounts;
  attestation?: Attestation;
}

export interface ComputeAnswer {
  cache: 'hit' | 'miss';
  /** The stored record as JSON bytes, ready to send. */
  body: Uint8Array;
}

/** The computation a request names: only these keys enter the hashpath. */
export function computeMessage(request: Record<string, unknown>): Message {
  const fn = request['wasm-function'];
  if (typeof fn !== 'string' || fn.length === 0) throw badRequest('compute needs wasm-function=<name of an exported function>');
  return { path: 'compute', 'wasm-function': fn, 'wasm-params': parseParams(request['wasm-params']) };
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

/** The statement a node signs about a stateless result; `node` is filled in by the attester. */
export function computeStatement(node: string, plan: ComputePlan, resultHash: string, gas: number, kernels?: KernelCounts): ComputeStatement {
  const statement: ComputeStatement = { kind: 'compute', node, module: plan.module, request: plan.message, hashpath: plan.hashpath, 'result-hash': resultHash, gas, engine: ENGINE };
  if (kernels) statement.kernels = kernels;
  return statement;
}

/** Signs a statement about a result (attest/attester.ts); absent, results are unattested. */
export type Attest = (statement: ComputeStatement) => Promise<Attestation>;

/**
 * Stateless Compute over the LMDB result cache. Identical requests in flight share one
 * execution, and a record is readable from memory until LMDB has committed it, so a
 * repeated request never runs (or attests) the same computation twice.
 */
export class StatelessCompute {
  private readonly inFlight = new Map<string, Promise<ComputeAnswer>>();
  private readonly committing = new Map<string, Uint8Array>();

  constructor(
    private readonly store: Store,
    private readonly modules: Modules,
    private readonly attest?: Attest,
    /** Where calls run under a wall-clock guard; without one they run on this thread. */
    private readonly sandbox?: Sandbox,
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
    const result = this.sandbox
      ? await this.sandbox.call(plan.module, await this.modules.meteredBytes(plan.module), fn, params, plan.gasLimit, loaded.data)
      : callFunction(loaded, fn, params, plan.gasLimit);
    const record: ComputeRecord = {
      module: plan.module,
      function: fn,
      params,
      result: result.value,
      'result-encoding': result.encoding,
      'result-hash': sha256b64(result.bytes),
      gas: result.gas,
      hashpath: plan.hashpath,
      ...(result.kernels ? { kernels: result.kernels } : {}),
    };
    if (this.attest) record.attestation = await this.attest(computeStatement('', plan, record['result-hash'], result.gas, result.kernels));
    const body = utf8(canonicalJson(record as unknown as Json));
    this.committing.set(plan.hashpath, body);
    void this.store.results.put(plan.hashpath, body).finally(() => this.committing.delete(plan.hashpath));
    return { cache: 'miss', body };
  }
}
