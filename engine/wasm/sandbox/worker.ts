// The worker side of engine/wasm/sandbox/index.ts: runs stateless calls off the main thread, so the
// node can stop one that outlives its wall-clock guard. Loaded through tsx by engine/worker-entry.mjs.
import { workerData } from 'node:worker_threads';
import { compileModule, type LoadedModule } from '../compile.ts';
import { callFunction, type CallResult } from '../call.ts';
import { HyperError, type ErrorKind } from '../../protocol/errors.ts';
import { KernelClient } from '../../gpu/client.ts';
import type { Json } from '../../protocol/message.ts';

export interface SandboxRequest { module: string; bytes: Uint8Array; fn: string; params: Json[]; gasLimit?: number; data?: Uint8Array[] }
/** A HyperError crosses as its parts ('internal': any other error, which becomes a plain Error). */
export interface SandboxError { kind: ErrorKind | 'internal'; code: string; message: string; details: Record<string, unknown> }
export type SandboxReply = { result: CallResult; error?: undefined } | { error: SandboxError };

// This worker's line to the node's GPU worker (engine/gpu/runtime.ts `connect`), handed to every call.
const gpu = workerData?.gpuPort ? new KernelClient(workerData.gpuPort, workerData.minWork) : undefined;
const compiled = new Map<string, LoadedModule>();

export async function handle({ module, bytes, fn, params, gasLimit, data }: SandboxRequest): Promise<SandboxReply> {
  try {
    let loaded = compiled.get(module);
    if (!loaded) {
      loaded = { ...(await compileModule(module, bytes)), data };
      if (compiled.size >= 64) compiled.delete(compiled.keys().next().value!);
      compiled.set(module, loaded);
    }
    return { result: callFunction(loaded, fn, params, gasLimit, gpu) };
  } catch (error) {
    const known = error instanceof HyperError;
    return { error: { kind: known ? error.kind : 'internal', code: known ? error.code : 'internal', message: (error as Error).message, details: known ? error.details : {} } };
  }
}
