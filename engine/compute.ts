// Stateless Compute: one module, one function, one parameter list. The request is reduced
// to a canonical computation message whose ID, chained onto the module ID, is the
// hashpath; the result record is cached under that hashpath, so the same computation is
// never run twice and a result can only ever be stored under the inputs that produced it.
import { canonicalJson, utf8 } from './encoding.ts';
import { badRequest } from './errors.ts';
import { sha256b64 } from './hash.ts';
import { hashpath } from './hashpath.ts';
import { callFunction, type Encoding } from './call.ts';
import type { Json, Message } from './message.ts';
import type { Modules } from './modules.ts';
import type { Store } from './store.ts';

export interface ComputeRecord {
  module: string;
  function: string;
  params: Json[];
  result: Json;
  'result-encoding': Encoding;
  'result-hash': string;
  hashpath: string;
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
}

export function planCompute(moduleId: string, request: Record<string, unknown>): ComputePlan {
  const message = computeMessage(request);
  return { module: moduleId, message, hashpath: hashpath(moduleId, message) };
}

/** The cached answer for a plan, if this node computed it before. */
export function cachedAnswer(store: Store, plan: ComputePlan): ComputeAnswer | undefined {
  const body = store.results.get(plan.hashpath);
  return body ? { cache: 'hit', body } : undefined;
}

export async function compute(store: Store, modules: Modules, plan: ComputePlan): Promise<ComputeAnswer> {
  const cached = cachedAnswer(store, plan);
  if (cached) return cached;

  const loaded = await modules.get(plan.module);
  const fn = plan.message['wasm-function'] as string;
  const params = plan.message['wasm-params'] as Json[];
  const result = callFunction(loaded, fn, params);
  const record: ComputeRecord = {
    module: plan.module,
    function: fn,
    params,
    result: result.value,
    'result-encoding': result.encoding,
    'result-hash': sha256b64(result.bytes),
    hashpath: plan.hashpath,
  };
  const body = utf8(canonicalJson(record));
  // Not awaited: the result is a cache entry, recomputable; LMDB commits it within milliseconds.
  store.results.put(plan.hashpath, body);
  return { cache: 'miss', body };
}
