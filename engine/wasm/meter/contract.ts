// What a metered module shows the engine: two exports that reach its gas counter, and a custom
// section that says which meter wrote it and which global the counter is. The pass writes them
// (engine/wasm/meter/pass.mjs, given these names); engine/wasm/gas.ts and engine/wasm/snapshot.ts
// read them. A file of its own so that those readers need not load the meter.
import type { WasmInfo } from '../binary.ts';

/** The exports the pass adds: set the counter (a call's budget), read it (what is left). */
export const GAS_SET_EXPORT = 'hw_gas_set';
export const GAS_GET_EXPORT = 'hw_gas_get';

/** The custom section the pass adds: `{"version": METER_VERSION, "gasGlobal": <index of the counter>}`. */
export const METER_SECTION = 'hyperwasm-meter';

export interface MeterSection { version: string; gasGlobal: number }

/** The meter's custom section of a module (undefined: not metered). */
export function meterSection(bytes: Uint8Array, info: WasmInfo): MeterSection | undefined {
  for (const { id, start, end } of info.sections) {
    if (id !== 0) continue;
    let pos = start + 1;
    const leb = () => {
      let value = 0;
      for (let shift = 0; ; shift += 7) {
        const b = bytes[pos++];
        value += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return value;
      }
    };
    leb(); // the section's size
    const length = leb();
    const decoder = new TextDecoder();
    if (decoder.decode(bytes.subarray(pos, pos + length)) !== METER_SECTION) continue;
    return JSON.parse(decoder.decode(bytes.subarray(pos + length, end))) as MeterSection;
  }
  return undefined;
}
