// Compiling a module the engine will run: size, magic, structure and limits checked, imports
// refused unless granted, memory capped, compiled by V8. Synchronous checks, no I/O: the same
// on the node, in the sandbox worker and in the verifier.
import { unprocessable } from '../protocol/errors.ts';
import { GRANTED_IMPORTS } from './abi.ts';
import { describeStart, hasWasmMagic, inspect, WasmFormatError, type WasmInfo } from './binary.ts';
import { capMemory, checkLimits, checkSize, DEFAULT_LIMITS } from './limits.ts';
import type { AoModule } from './ao/module.ts';

export interface LoadedModule {
  id: string;
  module: WebAssembly.Module;
  info: WasmInfo;
  /** The data items its Data-Import tags name, in order (engine/wasm/host/data.ts), when it imports `data`. */
  data?: Uint8Array[];
  /** Present for an AO module (engine/wasm/ao/module.ts): it runs on the AO host, not hyperwasm's ABI. */
  ao?: AoModule;
}

/** Checks that bytes are a module the engine will run, and compiles them. */
export async function compileModule(id: string, bytes: Uint8Array): Promise<LoadedModule> {
  const info = checkModule(id, bytes);
  try {
    const capped = capMemory(bytes, info, DEFAULT_LIMITS.memoryPages);
    return { id, module: await WebAssembly.compile(capped as Uint8Array<ArrayBuffer>), info };
  } catch (error) {
    throw unprocessable(`module ${id} does not compile: ${(error as Error).message}`);
  }
}

/**
 * Refuses exactly what compileModule refuses, with the same errors, without compiling: for
 * bytes kept only to be rewritten (the meter) and compiled in that form. WebAssembly.validate
 * decodes and type-checks; V8 compiles only a module that fails it, for its message.
 */
export async function validateModule(id: string, bytes: Uint8Array): Promise<WasmInfo> {
  const info = checkModule(id, bytes);
  try {
    const capped = capMemory(bytes, info, DEFAULT_LIMITS.memoryPages) as Uint8Array<ArrayBuffer>;
    if (WebAssembly.validate(capped)) return info;
    await WebAssembly.compile(capped);
  } catch (error) {
    throw unprocessable(`module ${id} does not compile: ${(error as Error).message}`);
  }
  throw unprocessable(`module ${id} does not compile: it does not validate`);
}

/** The synchronous checks: size, magic, structure, limits and granted imports. */
function checkModule(id: string, bytes: Uint8Array): WasmInfo {
  checkSize(id, bytes.length);
  if (!hasWasmMagic(bytes)) throw unprocessable(`data ${id} is not a WebAssembly module: it ${describeStart(bytes)}`);
  let info: WasmInfo;
  try {
    info = inspect(bytes);
  } catch (error) {
    if (error instanceof WasmFormatError) throw unprocessable(`module ${id} is malformed: ${error.message}`);
    throw error;
  }
  checkLimits(id, info);
  const refused = info.imports.filter((i) => !GRANTED_IMPORTS.has(`${i.module}.${i.name}`));
  if (refused.length > 0) {
    const names = refused.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ');
    throw unprocessable(`module ${id} imports what this node does not grant: ${names}; only env.abort, the gpu kernels (gpu.matmul_i32, …) and data.size/data.read are granted`);
  }
  return info;
}
