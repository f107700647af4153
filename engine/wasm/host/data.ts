// The `data` host module: read-only access to Arweave data items a module names in its own
// signed tags (`Data-Import: <id>`, in order; index 0 is the first), e.g. a model's weights.
// The module stays small, the data is fetched and checked against its signed ID like any module,
// and the hashpath already covers it: the module ID commits to the tags, each tag to an ID, each
// ID to its bytes.
//
//   size(index) -> i32                        byte length of that import, -1 when there is none
//   read(index, offset, ptr, len) -> i32      copies [offset, offset + len) to ptr; returns len
//
// read traps when the range is outside the data or the destination outside memory. Gas: each
// call DATA_CALL_GAS, read one more per DATA_BYTES_PER_GAS bytes, whatever the backend.
import { Trap } from '../../protocol/errors.ts';
import { chargeGas } from '../gas.ts';
import type { InstanceView } from './gpu.ts';

export const DATA_IMPORT_TAG = 'Data-Import';
export const DATA_IMPORTS = ['data.size', 'data.read'];
export const DATA_CALL_GAS = 100n;
export const DATA_BYTES_PER_GAS = 8;
/** The largest data item a module may import, and all of a module's imports together. */
export const MAX_DATA_IMPORT_BYTES = 256 * 1024 * 1024;
export const MAX_DATA_IMPORTS = 16;

/** The data IDs a module's tags name, in order. */
export function dataImportIds(tags: { name: string; value: string }[]): string[] {
  return tags.filter((t) => t.name === DATA_IMPORT_TAG).map((t) => t.value);
}

export function dataImports(data: Uint8Array[], view: InstanceView): Record<string, (...args: number[]) => number> {
  return {
    size(index: number) {
      chargeGas(view.instance, DATA_CALL_GAS);
      return index >= 0 && index < data.length ? data[index].length : -1;
    },
    read(index: number, offset: number, ptr: number, len: number) {
      const item = data[index];
      if (!item) throw new Trap(`data.read: this module has ${data.length} data import(s), there is no index ${index}`);
      [offset, ptr, len] = [offset >>> 0, ptr >>> 0, len >>> 0];
      if (offset + len > item.length) throw new Trap(`data.read: bytes ${offset}..${offset + len} are outside data import ${index} of ${item.length} bytes`);
      const memory = new Uint8Array(view.memory!.buffer);
      if (ptr + len > memory.length) throw new Trap(`data.read: ${len} bytes at ${ptr} are outside the module's ${memory.length}-byte memory`);
      chargeGas(view.instance, DATA_CALL_GAS + BigInt(Math.ceil(len / DATA_BYTES_PER_GAS)));
      memory.set(item.subarray(offset, offset + len), ptr);
      return len;
    },
  };
}
