// The worker side of engine/wasm/sandbox/index.ts: runs stateless calls off the main thread, so the
// node can stop one that outlives its wall-clock guard. Loaded through tsx by engine/worker-entry.mjs.
// A module's bytes cross once per worker, not with every call: the worker keeps what it compiled.
import { workerData } from 'node:worker_threads';
import { compileModule, type LoadedModule } from '../compile.ts';
import { callFunction, type CallResult } from '../call.ts';
import { HyperError, type ErrorKind } from '../../protocol/errors.ts';
import { KernelClient } from '../../gpu/client.ts';
import type { Json } from '../../protocol/message.ts';

/** `bytes` and `data` come only when the node does not know this worker has the module compiled. */
export interface SandboxRequest { module: string; bytes?: Uint8Array; fn: string; params: Json[]; gasLimit?: number; data?: Uint8Array[] }
/** A HyperError crosses as its parts ('internal': any other error, which becomes a plain Error). */
export interface SandboxError { kind: ErrorKind | 'internal'; code: string; message: string; details: Record<string, unknown> }
/** `missing`: the request came without the module's bytes, and this worker does not have it (evicted); send them. */
export type SandboxReply = { result: CallResult; error?: undefined; missing?: undefined } | { error: SandboxError; missing?: undefined } | { missing: true; error?: undefined };

// This worker's line to the node's GPU worker (engine/gpu/runtime.ts `connect`), handed to every call.
const gpu = workerData?.gpuPort ? new KernelClient(workerData.gpuPort, workerData.minWork) : undefined;
// Compiling or compiled, by module ID: a call that arrives while its module compiles waits for it.
const compiled = new Map<string, Promise<LoadedModule>>();

export async function handle({ module, bytes, fn, params, gasLimit, data }: SandboxRequest): Promise<SandboxReply> {
  try {
    let loading = compiled.get(module);
    if (!loading) {
      if (!bytes) return { missing: true };
      loading = compileModule(module, bytes).then((loaded) => ({ ...loaded, data }));
      if (compiled.size >= 64) compiled.delete(compiled.keys().next().value!);
      compiled.set(module, loading);
      loading.catch(() => compiled.get(module) === loading && compiled.delete(module)); // a module that fails to compile is not kept
    }
    return { result: callFunction(await loading, fn, params, gasLimit, gpu) };
  } catch (error) {
    const known = error instanceof HyperError;
    return { error: { kind: known ? error.kind : 'internal', code: known ? error.code : 'internal', message: (error as Error).message, details: known ? error.fields : {} } };
  }
}
