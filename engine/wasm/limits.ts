// Resource limits checked before a module ever runs, so a hostile module is refused with a
// clear reason instead of hurting the node: binary size, initial memory, tables, data
// segments; and memory growth capped by rewriting the memory's declared maximum, so
// `memory.grow` past the cap fails inside the module (it returns -1: deterministic).
import { unprocessable } from '../protocol/errors.ts';
import { encodeLeb, type WasmInfo } from './binary.ts';

export const PAGE = 65536;

export interface Limits {
  /** Largest module binary accepted (bytes). */
  moduleBytes: number;
  /** Largest linear memory a module may have or grow to (64 KiB pages). */
  memoryPages: number;
  /** Largest table (elements). */
  tableElements: number;
  /** Largest total of data segments (bytes). */
  dataBytes: number;
}

/** Defaults; the maximum memory is 4 GiB (the wasm32 limit), the default 256 MiB. */
export const DEFAULT_LIMITS: Limits = {
  moduleBytes: 16 * 1024 * 1024,
  memoryPages: 4096,
  tableElements: 100_000,
  dataBytes: 16 * 1024 * 1024,
};

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB`;

/** Checked first: a binary's size, before anything reads it. */
export function checkSize(id: string, size: number, limits: Limits = DEFAULT_LIMITS): void {
  if (size > limits.moduleBytes) throw unprocessable(`module ${id} is ${mib(size)}; this node accepts modules up to ${mib(limits.moduleBytes)}`);
}

export function checkLimits(id: string, info: WasmInfo, limits: Limits = DEFAULT_LIMITS): void {
  for (const memory of info.memories) {
    if (memory.index64) {
      throw unprocessable(`module ${id} has a memory64 memory; hyperwasm's ABI (Module-Format wasm32-hyperwasm-abi1) is 32-bit: build it for wasm32, or publish an aos build as an AO module (Data-Protocol: ao, Module-Format wasm64-unknown-emscripten-draft_2024_02_15)`);
    }
    if (memory.min > limits.memoryPages) {
      throw unprocessable(`module ${id} asks for ${memory.min} pages (${mib(memory.min * PAGE)}) of initial memory; this node allows at most ${limits.memoryPages} pages (${mib(limits.memoryPages * PAGE)})`);
    }
  }
  for (const table of info.tables) {
    if (table.min > limits.tableElements) throw unprocessable(`module ${id} declares a table of ${table.min} elements; this node allows at most ${limits.tableElements}`);
  }
  if (info.dataBytes > limits.dataBytes) throw unprocessable(`module ${id} has ${mib(info.dataBytes)} of data segments; this node allows at most ${mib(limits.dataBytes)}`);
}

/** The binary with its memory's maximum lowered to the node's limit (growth beyond fails). */
export function capMemory(bytes: Uint8Array, info: WasmInfo, maxPages: number): Uint8Array {
  const section = info.sections.find((s) => s.id === 5);
  const [memory] = info.memories;
  if (!section || !memory || (memory.max !== undefined && memory.max <= maxPages)) return bytes;
  const content = [...encodeLeb(1), 0x01, ...encodeLeb(memory.min), ...encodeLeb(maxPages)];
  const replaced = new Uint8Array([5, ...encodeLeb(content.length), ...content]);
  const out = new Uint8Array(bytes.length - (section.end - section.start) + replaced.length);
  out.set(bytes.subarray(0, section.start));
  out.set(replaced, section.start);
  out.set(bytes.subarray(section.end), section.start + replaced.length);
  return out;
}
