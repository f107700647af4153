// Module loading: from memory, else LMDB, else the Arweave gateway (whose answer is
// verified against the signed ID before it is kept). Compiled modules stay in memory;
// bytes are kept in LMDB so a restart needs no gateway.
import { unprocessable } from './errors.ts';
import { GRANTED_IMPORTS } from './abi.ts';
import { describeStart, hasWasmMagic, inspect, WasmFormatError, type WasmInfo } from './wasm-binary.ts';
import type { Store } from './store.ts';

export interface LoadedModule {
  id: string;
  module: WebAssembly.Module;
  info: WasmInfo;
}

/** Where module bytes come from when LMDB lacks them; must verify them against the ID. */
export interface ModuleSource {
  fetchVerified(id: string): Promise<Uint8Array>;
}

const MEMORY_CACHE_SIZE = 64;

export class Modules {
  private readonly loaded = new Map<string, Promise<LoadedModule>>();

  constructor(private readonly store: Store, private readonly source: ModuleSource) {}

  get(id: string): Promise<LoadedModule> {
    let pending = this.loaded.get(id);
    if (!pending) {
      pending = this.load(id);
      this.loaded.set(id, pending);
      // A failed load is not remembered: the gateway may be back, or the ID uploaded, later.
      pending.catch(() => this.loaded.delete(id));
      if (this.loaded.size > MEMORY_CACHE_SIZE) this.loaded.delete(this.loaded.keys().next().value!);
    }
    return pending;
  }

  private async load(id: string): Promise<LoadedModule> {
    const stored = this.store.modules.get(id);
    if (stored) return compileModule(id, stored);
    const bytes = await this.source.fetchVerified(id);
    const loaded = await compileModule(id, bytes);
    await this.store.modules.put(id, bytes);
    return loaded;
  }
}

/** Checks that bytes are a module the engine will run, and compiles them. */
export async function compileModule(id: string, bytes: Uint8Array): Promise<LoadedModule> {
  if (!hasWasmMagic(bytes)) throw unprocessable(`data ${id} is not a WebAssembly module: it ${describeStart(bytes)}`);
  let info: WasmInfo;
  try {
    info = inspect(bytes);
  } catch (error) {
    if (error instanceof WasmFormatError) throw unprocessable(`module ${id} is malformed: ${error.message}`);
    throw error;
  }
  const refused = info.imports.filter((i) => !GRANTED_IMPORTS.has(`${i.module}.${i.name}`));
  if (refused.length > 0) {
    const names = refused.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ');
    throw unprocessable(`module ${id} imports what this node does not grant: ${names}; the only import granted is env.abort`);
  }
  try {
    return { id, module: await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), info };
  } catch (error) {
    throw unprocessable(`module ${id} does not compile: ${(error as Error).message}`);
  }
}
