// The tags that say what an upload is (docs/PROTOCOL.md, "Module tags").
import type { Tag } from './upload.ts';

export const DATA_PROTOCOL = 'hyperwasm';
export const VARIANT = 'hyperwasm.1';
export const MODULE_FORMAT = 'wasm32-hyperwasm-abi1';

export function moduleTags(extra: Tag[] = []): Tag[] {
  return [
    { name: 'Content-Type', value: 'application/wasm' },
    { name: 'Data-Protocol', value: DATA_PROTOCOL },
    { name: 'Variant', value: VARIANT },
    { name: 'Type', value: 'Module' },
    { name: 'Module-Format', value: MODULE_FORMAT },
    ...extra,
  ];
}
