// What a Llama model a user brings (a GGUF file) becomes on Arweave: its HWLM v2 export
// (quantize.ts) as a data item, then the llama module (modules/llama.ts) uploaded once more with
// a Data-Import tag naming those weights (docs/PROTOCOL.md §7), so that the module's ID alone says
// which model answers. Shared by `hyperwasm model import` (uploads every time) and a node's
// `--model` start-up (gateway/examples.ts, which reuses an earlier upload): both only supply how
// one transaction goes up.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { llamaConfig, parseGGUF, type LlamaConfig } from './gguf.ts';
import { exportHWLM, HWLM_VERSION } from './quantize.ts';
import { dataTags, moduleTags, type Tag } from '../protocol/vocabulary.ts';
import { DATA_IMPORT_TAG } from '../wasm/host/data.ts';

/** The name a node lists the module under, and the Name tag of the module's upload. */
export const LLAMA_MODULE = 'llama';
export const MODEL_FORMAT_TAG = 'Model-Format';
export const MODEL_FORMAT = `hwlm-${HWLM_VERSION}`;

/** A model file read and exported, ready to upload. */
export interface PreparedModel {
  /** general.name, else the file's name without .gguf (see modelName). */
  name: string;
  file: string;
  config: LlamaConfig;
  hwlm: Uint8Array;
  tags: Tag[];
}

/**
 * general.name where it names the model; stories260K's (and other llama2.c conversions') is just
 * "llama", the architecture, which would collide with the module's own name on a node's list and
 * says nothing, so the file's name stands in for it then.
 */
function modelName(value: unknown, file: string): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name !== '' && name.toLowerCase() !== LLAMA_MODULE) return name;
  const base = basename(file);
  return extname(base).toLowerCase() === '.gguf' ? base.slice(0, -5) : base;
}

/** Reads and exports a GGUF file; every refusal is one line that names the file. */
export function prepareModel(file: string): PreparedModel {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    const gguf = parseGGUF(bytes);
    const hwlm = exportHWLM(gguf);
    const name = modelName(gguf.metadata.get('general.name'), file);
    return { name, file, config: llamaConfig(gguf), hwlm, tags: dataTags([{ name: 'Name', value: name }, { name: MODEL_FORMAT_TAG, value: MODEL_FORMAT }]) };
  } catch (error) {
    const message = (error as Error).message;
    // ggml's quantised blocks are refused by design (gguf.ts): say how to get a file that is taken
    const hint = /only F32 and F16 tensors are supported/.test(message) ? ' (convert the model again with --outtype f16 or f32)' : '';
    throw new Error(`${file}: ${message}${hint}`);
  }
}

/** The llama module's tags for one model's weights. */
export const llamaModuleTags = (weights: string): Tag[] => moduleTags([{ name: 'Name', value: LLAMA_MODULE }, { name: DATA_IMPORT_TAG, value: weights }]);

/** One transaction up (or found again): what the caller does with bytes and tags; returns its ID. */
export type Put = (what: 'weights' | 'module', bytes: Uint8Array, tags: Tag[]) => Promise<string>;

/** Uploads the weights, then the module naming them; returns both IDs. */
export async function publishModel(model: PreparedModel, wasm: Uint8Array, put: Put): Promise<{ weights: string; module: string }> {
  const weights = await put('weights', model.hwlm, model.tags);
  const module = await put('module', wasm, llamaModuleTags(weights));
  return { weights, module };
}
