// Module loading: from memory, else LMDB, else the Arweave gateway (whose answer is
// verified against the signed ID before it is kept). Compiled modules stay in memory;
// bytes are kept in LMDB so a restart needs no gateway.
import { HyperError, unprocessable } from './protocol/errors.ts';
import { compileModule, validateModule, type LoadedModule } from './wasm/compile.ts';
import type { ModuleMeta, StoreView } from './store.ts';
import { exportGlobals } from './wasm/snapshot.ts';
import { instrument, MeterError, METER_VERSION } from './wasm/meter/index.ts';
import { dataImportIds, MAX_DATA_IMPORT_BYTES, MAX_DATA_IMPORTS } from './wasm/host/data.ts';
import { inspect } from './wasm/binary.ts';
import { aoModule, compileAo, isAoModule, validateAo } from './wasm/ao/module.ts';
import { enableMemory64 } from './wasm/ao/memory64.ts';

/** Where module bytes come from when LMDB lacks them; must verify them against the ID. */
export interface ModuleSource {
  fetchVerified(id: string): Promise<Uint8Array>;
  /** The uploader's address and the tags (signed with the data). */
  describe?(id: string): Promise<ModuleMeta>;
}

const MEMORY_CACHE_SIZE = 64;

export class Modules {
  private readonly loaded = new Map<string, Promise<LoadedModule>>();

  constructor(private readonly store: StoreView<'modules' | 'metered' | 'moduleMeta' | 'dataItems'>, private readonly source: ModuleSource) {}

  /** The module as stateless calls run it: metered (engine/wasm/meter/index.ts). */
  get(id: string): Promise<LoadedModule> {
    return this.cached(id, async () => {
      const loaded = await compileModule(id, await this.meteredBytes(id));
      if (loaded.info.imports.some((i) => i.module === 'data')) loaded.data = await this.dataImports(id);
      return loaded;
    });
  }

  /**
   * The module as a process runs it: metered, its mutable globals exported for snapshots; or,
   * for an AO module (its tags say so: engine/wasm/ao/module.ts), metered and compiled for the
   * AO host, with its format and limits.
   */
  getForProcess(id: string): Promise<LoadedModule> {
    return this.cached(`${id}#process`, async () => {
      const meta = await this.meta(id);
      if (isAoModule(meta.tags)) {
        const ao = aoModule(id, meta.owner, meta.tags);
        enableMemory64(); // before the meter's worker reads a memory64 build (V8 11.3 knows it only behind the flag)
        const bytes = await this.meteredBytes(id, validateAo);
        return { id, module: await compileAo(id, bytes), info: inspect(bytes), ao };
      }
      // Compiled once, in its process form: not first as a stateless call would run it.
      const bytes = await this.meteredBytes(id);
      const loaded = await compileModule(id, exportGlobals(bytes, inspect(bytes)));
      if (loaded.info.imports.some((i) => i.module === 'data')) loaded.data = await this.dataImports(id);
      return loaded;
    });
  }

  /**
   * The original bytes: from LMDB, else fetched, checked against the ID, kept. Non-modules are
   * refused before they are kept, with compileModule's errors (or `check`'s), but validated, not
   * compiled: these bytes are only metered, and the metered binary is what get() compiles.
   */
  private async bytes(id: string, check: (id: string, bytes: Uint8Array) => Promise<unknown>): Promise<Uint8Array> {
    const stored = this.store.modules.get(id);
    if (stored) return stored;
    const fetched = await this.source.fetchVerified(id);
    await check(id, fetched);
    await this.store.modules.put(id, fetched);
    return fetched;
  }

  /** The instrumented binary, made once per module and meter version and kept in LMDB; `check` refuses what is no module of its kind. */
  async meteredBytes(id: string, check: (id: string, bytes: Uint8Array) => Promise<unknown> = validateModule): Promise<Uint8Array> {
    const key = `${id}:${METER_VERSION}`;
    const stored = this.store.metered.get(key);
    if (stored) return stored;
    let metered: Uint8Array;
    try {
      metered = await instrument(await this.bytes(id, check));
    } catch (error) {
      if (error instanceof MeterError) throw unprocessable(`module ${id} cannot be metered: ${error.message}`);
      throw error;
    }
    await this.store.metered.put(key, metered);
    return metered;
  }

  /** The data items a module's Data-Import tags name: from LMDB, else fetched, checked against their IDs, kept. */
  async dataImports(id: string): Promise<Uint8Array[]> {
    const ids = dataImportIds((await this.meta(id)).tags);
    if (ids.length > MAX_DATA_IMPORTS) throw unprocessable(`module ${id} names ${ids.length} Data-Import items; at most ${MAX_DATA_IMPORTS} are allowed`);
    return Promise.all(
      ids.map(async (dataId) => {
        const stored = this.store.dataItems.get(dataId);
        if (stored) return stored;
        let fetched: Uint8Array;
        try {
          fetched = await this.source.fetchVerified(dataId);
        } catch (error) {
          if (error instanceof HyperError) error.message = `module ${id} imports data ${dataId} (its Data-Import tag), which cannot be had: ${error.message}`;
          throw error;
        }
        if (fetched.length > MAX_DATA_IMPORT_BYTES) throw unprocessable(`data import ${dataId} of module ${id} has ${fetched.length} bytes; at most ${MAX_DATA_IMPORT_BYTES} are allowed`);
        await this.store.dataItems.put(dataId, fetched);
        return fetched;
      }),
    );
  }

  /** Owner and tags of a module (prices, limits); kept in LMDB once read. */
  async meta(id: string): Promise<ModuleMeta> {
    const stored = this.store.moduleMeta.get(id);
    if (stored) return stored;
    const meta = (await this.source.describe?.(id)) ?? { owner: '', tags: [] };
    await this.store.moduleMeta.put(id, meta);
    return meta;
  }

  private cached(key: string, load: () => Promise<LoadedModule>): Promise<LoadedModule> {
    let pending = this.loaded.get(key);
    if (!pending) {
      pending = load();
      this.loaded.set(key, pending);
      // A failed load is not remembered: the gateway may be back, or the ID uploaded, later.
      pending.catch(() => this.loaded.delete(key));
      if (this.loaded.size > MEMORY_CACHE_SIZE) this.loaded.delete(this.loaded.keys().next().value!);
    }
    return pending;
  }
}
