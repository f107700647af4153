// A stateless call: a fresh instance of the module per call (so no call can see another's
// memory), one export invoked through the module ABI, the result as JSON plus the exact
// bytes its hash is taken over.
import { canonicalJson, utf8, utf8Text, b64url } from '../protocol/encoding.ts';
import { trapped } from '../protocol/errors.ts';
import { fromWasm, hostImports, isBytesFunction, numericArguments, trapping, unknownFunction } from './abi.ts';
import type { Json } from '../protocol/message.ts';
import type { LoadedModule } from './compile.ts';
import { DEFAULT_GAS_LIMIT, withGas } from './gas.ts';
import type { InstanceView, KernelCounts } from './host/gpu.ts';
import type { KernelLine } from '../gpu/client.ts';

export type Encoding = 'json' | 'text' | 'base64url';

export interface CallResult {
  value: Json;
  encoding: Encoding;
  /** The bytes the result hash commits to: the canonical JSON of a numeric result, or a bytes function's output. */
  bytes: Uint8Array;
  /** Gas the call used (0 for an unmetered module). */
  gas: number;
  /** Kernel calls (the gpu host module) by the backend that served them; absent when none. */
  kernels?: KernelCounts;
}

/** `gpu`: where the call's kernel calls go (the runtime's line for this thread); absent, the CPU references. */
export function callFunction(loaded: LoadedModule, fn: string, params: Json[], gasLimit = DEFAULT_GAS_LIMIT, gpu?: KernelLine): CallResult {
  const type = fn.startsWith('hw_') ? undefined : loaded.info.exportedFunction(fn);
  if (!type) throw unknownFunction(loaded.id, fn, loaded.info);
  const view: InstanceView = { gpu };
  const instance = instantiate(loaded, view);
  const kernels = () => (view.kernels ? { kernels: view.kernels } : {});

  if (isBytesFunction(loaded.info, type)) {
    const input = utf8(canonicalJson(params));
    const { value: output, gas } = withGas(instance, gasLimit, fn, () => callBytes(instance, fn, input));
    return { ...decodeOutput(output), gas, ...kernels() };
  }
  const args = numericArguments(fn, type, params);
  const { value: raw, gas } = withGas(instance, gasLimit, fn, () => trapping(fn, () => (instance.exports[fn] as (...a: unknown[]) => unknown)(...args)));
  const value = type.results.length > 1 ? (raw as unknown[]).map(fromWasm) : fromWasm(raw);
  return { value, encoding: 'json', bytes: utf8(canonicalJson(value)), gas, ...kernels() };
}

/** A fresh instance; `view` (when given) is how its host imports see it, and counts its kernel calls. */
export function instantiate(loaded: LoadedModule, view: InstanceView = {}): WebAssembly.Instance {
  const instance = trapping(`the start function of module ${loaded.id}`, () => new WebAssembly.Instance(loaded.module, hostImports(loaded, view)));
  view.memory = instance.exports.memory as WebAssembly.Memory | undefined;
  view.instance = instance;
  return instance;
}

/** Calls a bytes function: input into memory via hw_alloc, output read back from (len << 32) | ptr. */
export function callBytes(instance: WebAssembly.Instance, fn: string, input: Uint8Array): Uint8Array {
  const exports = instance.exports as Record<string, any>;
  const memory = exports.memory as WebAssembly.Memory | undefined;
  if (!memory) throw trapped(`${fn} is a bytes function but the module exports no memory`);
  const inPtr = trapping('hw_alloc', () => exports.hw_alloc(input.length)) >>> 0;
  if (inPtr + input.length > memory.buffer.byteLength) throw trapped(`hw_alloc returned ${inPtr}, outside the module's memory`);
  new Uint8Array(memory.buffer, inPtr, input.length).set(input);
  const packed = BigInt.asUintN(64, trapping(fn, () => exports[fn](inPtr, input.length)) as bigint);
  const outPtr = Number(packed & 0xffffffffn);
  const outLen = Number(packed >> 32n);
  if (outPtr + outLen > memory.buffer.byteLength) {
    throw trapped(`${fn} returned bytes at ${outPtr}..${outPtr + outLen}, outside its ${memory.buffer.byteLength}-byte memory`);
  }
  const output = new Uint8Array(memory.buffer, outPtr, outLen).slice();
  if (typeof exports.hw_free === 'function') {
    trapping('hw_free', () => { exports.hw_free(inPtr); exports.hw_free(outPtr); });
  }
  return output;
}

/** JSON where the bytes are JSON, else text where they are UTF-8, else base64url. */
export function decodeOutput(bytes: Uint8Array): Omit<CallResult, 'gas'> {
  const text = utf8Text(bytes);
  if (text === undefined) return { value: b64url(bytes), encoding: 'base64url', bytes };
  try {
    return { value: JSON.parse(text) as Json, encoding: 'json', bytes };
  } catch {
    return { value: text, encoding: 'text', bytes };
  }
}
