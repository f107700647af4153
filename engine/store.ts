// The node's LMDB environment and its named databases. One environment per data folder;
// each concept gets its own sub-database so keys never collide.
import { open, type Database, type RootDatabase } from 'lmdb';

export interface Store {
  /** Verified module bytes by Arweave ID. */
  modules: Database<Uint8Array, string>;
  /** Result records (JSON bytes) by hashpath. */
  results: Database<Uint8Array, string>;
  /** Small JSON records: example module IDs, node settings. */
  meta: Database<unknown, string>;
  close(): Promise<void>;
}

export function openStore(path: string): Store {
  const root: RootDatabase = open({ path, compression: false, mapSize: 2 ** 34 });
  return {
    modules: root.openDB<Uint8Array, string>({ name: 'modules', encoding: 'binary' }),
    results: root.openDB<Uint8Array, string>({ name: 'results', encoding: 'binary' }),
    meta: root.openDB<unknown, string>({ name: 'meta', encoding: 'json' }),
    close: () => root.close(),
  };
}
