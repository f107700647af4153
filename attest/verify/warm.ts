// Making a module ready in a verifier's folder before the replay needs it: fetching, checking
// against its signed ID, metering and compiling take a fresh folder a while (the meter runs in
// a worker), and a verifier has other work to do meanwhile (downloading the history, checking
// its signatures). Only a cache: the replay still loads the module the spawn names and reports
// its faults, so what fails here is left for the replay to meet and say.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openStore } from '../../engine/store.ts';
import { Modules, type ModuleSource } from '../../engine/modules.ts';

/** Fetches, checks, meters and compiles module `id` into the LMDB folder `folder`; never throws. */
export async function warmModule(folder: string, source: ModuleSource, id: string | undefined): Promise<void> {
  if (!id) return;
  try {
    mkdirSync(dirname(folder), { recursive: true });
    const store = openStore(folder);
    try {
      await new Modules(store, source).getForProcess(id);
    } finally {
      await store.close();
    }
  } catch {
    // the replay meets the same trouble and says what it is
  }
}
