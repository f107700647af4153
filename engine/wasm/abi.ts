// The module ABI: how a call's parameters reach a WebAssembly export and how its result
// comes back (docs/PROTOCOL.md, "Module ABI").
//
// - Numeric functions take and return i32/i64/f32/f64 and are called with JSON numbers.
// - Bytes functions have the wasm type (i32 ptr, i32 len) -> i64 in a module that exports
//   `hw_alloc`: the input is UTF-8 written into memory from hw_alloc, the result is
//   (len << 32) | ptr of the output bytes. `hw_free`, when exported, is given both buffers back.
// - The imports granted: env.abort (AssemblyScript's abort), which traps with its message; the
//   `gpu` kernels (engine/wasm/host/gpu.ts); the `data` reads of the module's Data-Import items
//   (engine/wasm/host/data.ts).
import { badRequest, notFound, trapped, Trap } from '../protocol/errors.ts';
import { isStackOverflow } from './gas.ts';
import type { Json } from '../protocol/message.ts';
import type { FuncType, ValType, WasmInfo } from './binary.ts';
import { GPU_IMPORTS, gpuImports, type InstanceView } from './host/gpu.ts';
import { DATA_IMPORTS, dataImports } from './host/data.ts';

export const GRANTED_IMPORTS = new Set(['env.abort', ...GPU_IMPORTS, ...DATA_IMPORTS]);

/** The host modules whose imports take gas from the module's own counter: the meter writes the counter back before calls to them and reads it after. */
export const CHARGING_MODULES = ['gpu', 'data'];

export { Trap } from '../protocol/errors.ts';

export function isBytesFunction(info: WasmInfo, type: FuncType): boolean {
  const alloc = info.exportedFunction('hw_alloc');
  return (
    alloc !== undefined &&
    same(alloc, { params: ['i32'], results: ['i32'] }) &&
    same(type, { params: ['i32', 'i32'], results: ['i64'] })
  );
}

const same = (a: FuncType, b: FuncType) => a.params.join() === b.params.join() && a.results.join() === b.results.join();

/** Imports for one instance; `memory` is bound once the instance exists. */
export function hostImports(loaded: { info: WasmInfo; data?: Uint8Array[] }, view: InstanceView): WebAssembly.Imports {
  const wanted = new Set(loaded.info.imports.map((i) => `${i.module}.${i.name}`));
  const imports: WebAssembly.Imports = {};
  if ([...wanted].some((name) => name.startsWith('gpu.'))) imports.gpu = gpuImports(view);
  if ([...wanted].some((name) => name.startsWith('data.'))) imports.data = dataImports(loaded.data ?? [], view);
  if (!wanted.has('env.abort')) return imports;
  return {
    ...imports,
    env: {
      abort(msgPtr: number, filePtr: number, line: number, column: number) {
        const memory = view.memory;
        const message = memory ? readAsString(memory, msgPtr) : undefined;
        const file = memory ? readAsString(memory, filePtr) : undefined;
        throw new Trap(`abort: ${message ?? '(no message)'}${file ? ` at ${file}:${line}:${column}` : ''}`);
      },
    },
  };
}

/** AssemblyScript strings are UTF-16LE with their byte length stored just before them. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string | undefined {
  const bytes = new Uint8Array(memory.buffer);
  if (ptr < 4 || ptr > bytes.length) return undefined;
  const length = new DataView(memory.buffer).getUint32(ptr - 4, true);
  if (ptr + length > bytes.length || length > 4096) return undefined;
  return Buffer.from(bytes.subarray(ptr, ptr + length)).toString('utf16le');
}

/** Converts JSON parameters to the arguments a numeric export takes, or says what is wrong. */
export function numericArguments(fn: string, type: FuncType, params: Json[]): (number | bigint)[] {
  if (params.length !== type.params.length) {
    throw badRequest(`${fn} takes ${type.params.length} parameter${type.params.length === 1 ? '' : 's'} (${type.params.join(', ') || 'none'}), got ${params.length}`);
  }
  return params.map((value, i) => toWasm(value, type.params[i], `parameter ${i + 1} of ${fn}`));
}

function toWasm(value: Json, type: ValType, what: string): number | bigint {
  const got = JSON.stringify(value);
  switch (type) {
    case 'i32':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
        throw badRequest(`${what} must be an i32 integer, got ${got}`);
      }
      return value | 0;
    case 'i64':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) return BigInt.asIntN(64, BigInt(value));
      throw badRequest(`${what} must be an i64 integer (a number, or a decimal string beyond 2^53), got ${got}`);
    case 'f32':
    case 'f64':
      if (typeof value !== 'number') throw badRequest(`${what} must be a number (${type}), got ${got}`);
      return type === 'f32' ? Math.fround(value) : value;
    default:
      throw badRequest(`${what} has type ${type}, which cannot be passed over HTTP`);
  }
}

/** JSON form of a wasm value: non-finite floats and wide i64 become strings, so results stay JSON. */
export function fromWasm(value: unknown): Json {
  if (typeof value === 'bigint') return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  return null;
}

/** Runs an export, turning every way a module can fail into a Trap with a readable message. */
export function trapping<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof Trap) throw trapped(`${what} trapped: ${error.message}`, { trap: error.message });
    if (error instanceof WebAssembly.RuntimeError) throw trapped(`${what} trapped: ${error.message}`, { trap: error.message });
    if (isStackOverflow(error)) {
      throw trapped(`${what} trapped: stack overflow (maximum call stack size exceeded)`, { trap: 'stack overflow' });
    }
    throw error;
  }
}

export function unknownFunction(moduleId: string, fn: string, info: WasmInfo) {
  const names = [...info.exports.values()].filter((e) => e.kind === 'function' && !e.name.startsWith('hw_')).map((e) => e.name);
  return notFound(`module ${moduleId} has no exported function "${fn}" (it exports: ${names.join(', ') || 'no functions'})`);
}
