// Process state: a module's linear memory plus its mutable globals. Globals are internal to
// a module, so the engine rewrites a process module once, exporting each of its own mutable
// globals as `hw_global_<index>`; then a state can be hashed, snapshotted and restored
// without any help from the module (HyperBEAM saves memory only and loses its globals).
import { canonicalJson, utf8 } from '../protocol/encoding.ts';
import { encodeLeb, type WasmInfo } from './binary.ts';
import { meterSection } from './meter/contract.ts';
import { liveStateDigest } from './state-hash.ts';

const EXPORT = 7;
const AFTER_EXPORTS = new Set([8, 9, 10, 11, 12]);

/**
 * The indexes of the globals a snapshot holds: the module's own mutable ones, except the gas
 * counter the meter adds (its index is in the meter's custom section): it is set before every
 * call, and holding it would tie a state hash to a budget.
 */
function ownMutableGlobals(bytes: Uint8Array, info: WasmInfo): number[] {
  const gasCounter = meterSection(bytes, info)?.gasGlobal;
  return info.globals.flatMap((g, index) => (g.mutable && !g.imported && index !== gasCounter ? [index] : []));
}

const exportName = (index: number) => `hw_global_${index}`;

const globalsOf = new WeakMap<WasmInfo, number[]>();

/** The globals of a rewritten module that a snapshot holds: those exportGlobals exported, in index order (read once per module: every slot's state hash needs them). */
export function stateGlobals(info: WasmInfo): number[] {
  let globals = globalsOf.get(info);
  if (!globals) {
    globals = [...info.exports.values()].filter((e) => e.kind === 'global' && e.name === exportName(e.index)).map((e) => e.index).sort((a, b) => a - b);
    globalsOf.set(info, globals);
  }
  return globals;
}

export function exportGlobals(bytes: Uint8Array, info: WasmInfo): Uint8Array {
  const added: number[] = [];
  const indexes = ownMutableGlobals(bytes, info);
  for (const index of indexes) {
    const name = utf8(exportName(index));
    added.push(...encodeLeb(name.length), ...name, 3, ...encodeLeb(index));
  }
  const count = info.exports.size + indexes.length;
  const existing = info.sections.find((s) => s.id === EXPORT);
  let entries: Uint8Array = new Uint8Array(0);
  if (existing) {
    // Skip the section's id, size and entry count to keep the entries as they are.
    let pos = existing.start + 1;
    while (bytes[pos++] & 0x80);
    while (bytes[pos++] & 0x80);
    entries = bytes.subarray(pos, existing.end);
  }
  const content = [...encodeLeb(count), ...entries, ...added];
  const section = new Uint8Array([EXPORT, ...encodeLeb(content.length), ...content]);
  const at = existing?.start ?? info.sections.find((s) => AFTER_EXPORTS.has(s.id))?.start ?? bytes.length;
  const rest = existing ? existing.end : at;
  const out = new Uint8Array(at + section.length + (bytes.length - rest));
  out.set(bytes.subarray(0, at));
  out.set(section, at);
  out.set(bytes.subarray(rest), at + section.length);
  return out;
}

type GlobalValue = number | string;

function readGlobals(instance: WebAssembly.Instance, info: WasmInfo): GlobalValue[] {
  return stateGlobals(info).map((index) => {
    const value = (instance.exports[exportName(index)] as WebAssembly.Global).value as number | bigint;
    return typeof value === 'bigint' || !Number.isFinite(value) ? String(value) : value;
  });
}

function memoryOf(instance: WebAssembly.Instance): WebAssembly.Memory {
  return instance.exports.memory as WebAssembly.Memory;
}

/** The state hash (state-hash.ts): the globals' canonical JSON, then the memory's chunk hashes. */
export function stateHash(instance: WebAssembly.Instance, info: WasmInfo): string {
  return liveStateDigest(utf8(canonicalJson(readGlobals(instance, info))), memoryOf(instance));
}

export interface SnapshotHeader {
  slot: number;
  hashpath: string;
  stateHash: string;
  globals: GlobalValue[];
}

/** The snapshot container of every kind of process: [u32 LE header length][header JSON][memory bytes]. */
export function packSnapshot(header: object, memory: Uint8Array): Uint8Array {
  const head = utf8(JSON.stringify(header));
  const out = new Uint8Array(4 + head.length + memory.length);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  out.set(memory, 4 + head.length);
  return out;
}

/** packSnapshot's header and memory (a view into `snapshot`). */
export function unpackSnapshot<H>(snapshot: Uint8Array): { header: H; memory: Uint8Array } {
  const length = new DataView(snapshot.buffer, snapshot.byteOffset).getUint32(0, true);
  return { header: JSON.parse(new TextDecoder().decode(snapshot.subarray(4, 4 + length))) as H, memory: snapshot.subarray(4 + length) };
}

export function takeSnapshot(instance: WebAssembly.Instance, info: WasmInfo, slot: number, hashpath: string): Uint8Array {
  const header: SnapshotHeader = { slot, hashpath, stateHash: stateHash(instance, info), globals: readGlobals(instance, info) };
  return packSnapshot(header, new Uint8Array(memoryOf(instance).buffer));
}

/** Puts a snapshot's state into a fresh instance of the same (rewritten) module. */
export function restoreSnapshot(instance: WebAssembly.Instance, info: WasmInfo, snapshot: Uint8Array): SnapshotHeader {
  const { header, memory: bytes } = unpackSnapshot<SnapshotHeader>(snapshot);
  const memory = memoryOf(instance);
  const grow = bytes.length / 65536 - memory.buffer.byteLength / 65536;
  if (grow > 0) memory.grow(grow);
  new Uint8Array(memory.buffer).set(bytes);
  stateGlobals(info).forEach((index, i) => {
    const global = instance.exports[exportName(index)] as WebAssembly.Global;
    const value = header.globals[i];
    global.value = info.globals[index].type === 'i64' ? BigInt(value) : Number(value);
  });
  return header;
}
