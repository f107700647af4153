// An AO module as the node runs it: recognised by the tags `ao publish` gives it (Data-Protocol:
// ao, Type: Module, Module-Format), checked against the AO host (its imports, its format)
// instead of hyperwasm's ABI, and compiled from the bytes our meter instrumented. What its tags
// say (Memory-Limit, Compute-Limit) and the `Module` half of every message's env travel with it.
import { unprocessable } from '../../protocol/errors.ts';
import { tagValue as tagOf } from '../../protocol/vocabulary.ts';
import { hasWasmMagic, describeStart, inspect } from '../binary.ts';
import { checkSize } from '../limits.ts';
import { aoFormat, parseMemoryLimit, SUPPORTED_FORMATS, type AoFormat } from './formats.ts';
import { checkImports } from './imports.ts';
import { enableMemory64 } from './memory64.ts';

type Tag = { name: string; value: string };

/** What a process of an AO module needs besides the compiled module. */
export interface AoModule {
  format: AoFormat;
  /** Memory-Limit in bytes (absent: the format's heap ceiling). */
  memoryLimit?: number;
  /** Compute-Limit: the gas a pre-metered module may use per message (absent: ao-loader's default). */
  computeLimit?: number;
  /** The env's `Module` half: `{Id, Owner, Tags}`, as the compute unit passes it. */
  env: { Id: string; Owner: string; Tags: Tag[] };
}

/** Whether a module's tags make it an AO module (`ao publish`'s Data-Protocol and Type). */
export function isAoModule(tags: Tag[]): boolean {
  return tagOf(tags, 'Data-Protocol') === 'ao' && tagOf(tags, 'Type') === 'Module';
}

/**
 * The tags `ao publish` gives a module of `format`, with ao-loader's usual limits (1-gb,
 * 9,000,000,000,000 gas); an `extra` tag of the same name replaces a default, others follow.
 */
export function aoModuleTags(format: string, extra: Tag[] = []): Tag[] {
  if (!SUPPORTED_FORMATS.includes(format)) throw unprocessable(`Module-Format ${JSON.stringify(format)} is not one this node runs; it runs ${SUPPORTED_FORMATS.join(', ')}`);
  const defaults: Tag[] = [
    ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', 'Module'], ['Module-Format', format],
    ['Input-Encoding', 'JSON-1'], ['Output-Encoding', 'JSON-1'], ['Memory-Limit', '1-gb'], ['Compute-Limit', '9000000000000'],
    ['Content-Type', 'application/wasm'],
  ].map(([name, value]) => ({ name: name!, value: value! }));
  const given = new Map(extra.map((tag) => [tag.name, tag]));
  return [...defaults.map((tag) => given.get(tag.name) ?? tag), ...extra.filter((tag) => !defaults.some((d) => d.name === tag.name))];
}

/** An AO module's settings from its tags; a 422 naming what is wrong (an unknown Module-Format, a bad limit). */
export function aoModule(id: string, owner: string, tags: Tag[]): AoModule {
  const formatName = tagOf(tags, 'Module-Format');
  if (formatName === undefined) throw unprocessable(`AO module ${id} has no Module-Format tag; ao publish writes one, such as wasm64-unknown-emscripten-draft_2024_02_15`);
  const format = aoFormat(formatName);
  for (const name of ['Input-Encoding', 'Output-Encoding']) {
    const value = tagOf(tags, name);
    if (value !== undefined && value !== 'JSON-1') throw unprocessable(`AO module ${id} has ${name}: ${JSON.stringify(value)}; this node speaks JSON-1 only`);
  }
  const memory = tagOf(tags, 'Memory-Limit');
  const compute = tagOf(tags, 'Compute-Limit');
  if (compute !== undefined && !/^\d+$/.test(compute)) throw unprocessable(`AO module ${id} has Compute-Limit: ${JSON.stringify(compute)}; it must be a whole number of gas`);
  return {
    format,
    ...(memory === undefined ? {} : { memoryLimit: parseMemoryLimit(memory) }),
    ...(compute === undefined ? {} : { computeLimit: Number(compute) }),
    env: { Id: id, Owner: owner, Tags: tags },
  };
}

/** Compiles an AO module's bytes (memory64 switched on first), refusing an import the host lacks. */
/**
 * Refuses what compileAo refuses, with its errors, without compiling (WebAssembly.validate
 * decodes and type-checks): for the original bytes, which are only metered, and the metered
 * binary is what compileAo compiles. An aos build is megabytes; compiling it twice cost a second.
 */
export async function validateAo(id: string, bytes: Uint8Array): Promise<void> {
  checkSize(id, bytes.length);
  if (!hasWasmMagic(bytes)) throw unprocessable(`data ${id} is not a WebAssembly module: it ${describeStart(bytes)}`);
  enableMemory64();
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
    await compileAo(id, bytes); // for V8's message
    throw unprocessable(`AO module ${id} does not compile: it does not validate`);
  }
  let imports;
  try {
    imports = inspect(bytes).imports;
  } catch (error) {
    throw unprocessable(`AO module ${id} does not compile: ${(error as Error).message}`);
  }
  checkImports(imports, `AO module ${id}`);
}

export async function compileAo(id: string, bytes: Uint8Array): Promise<WebAssembly.Module> {
  checkSize(id, bytes.length);
  if (!hasWasmMagic(bytes)) throw unprocessable(`data ${id} is not a WebAssembly module: it ${describeStart(bytes)}`);
  enableMemory64();
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw unprocessable(`AO module ${id} does not compile: ${(error as Error).message}`);
  }
  checkImports(module, `AO module ${id}`);
  return module;
}
