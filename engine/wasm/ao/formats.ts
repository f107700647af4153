// The AO module formats (the `Module-Format` tag) this host runs, and what each one's
// emscripten glue does that a module can observe: how it starts, what its clock reads, its
// environment and argv, how many bytes a string argument takes on the stack, its pointer width
// and its heap ceiling. Every row here changes results when wrong; they follow
// @permaweb/ao-loader 0.0.49's glue (dist/index.cjs, formats/*.cjs) as measured against it.
import { unprocessable } from '../../protocol/errors.ts';

export interface AoFormat {
  name: string;
  /** Pointers and sizes as i32 (wasm32) or i64 (memory64). */
  pointer: 'i32' | 'i64';
  /** `ctors`: `__wasm_call_ctors` only (emscripten4, wasm64); `main`: ctors, then `main(argc, argv)` (emscripten2). */
  startup: 'ctors' | 'main';
  /**
   * The clock (`emscripten_date_now`, `emscripten_get_now`): `counter` reads ms from `clockStart`,
   * one more on every read (the glue's `Date.now` replacement, which its own file-system set-up
   * has already read `clockStart - 10000` times); `zero` always reads 0 (patched).
   */
  clock: 'counter' | 'zero';
  clockStart: number;
  /** What `environ_get` gives (emscripten4 and wasm64 patch `getEnvStrings` to return none). */
  environ: readonly string[];
  /** The argv `main` gets (the loader's argv pinned to `thisProgram`), for `startup: 'main'`. */
  argv: readonly string[];
  /** Bytes `cwrap` reserves on the stack for a string argument. */
  stringBytes(text: string, utf8Length: number): number;
  /** The glue's `getHeapMax()`: the heap never grows past it. */
  heapMax: number;
  /** Asyncify's data header (two pointers and an i32 id, aligned): 12 bytes on wasm32, 24 on wasm64. */
  asyncifyHeader: number;
}

/** The glue's Asyncify stack buffer (`Asyncify.StackSize`), malloc'ed per suspension. */
export const ASYNCIFY_STACK = 41_943_040;

const EMSCRIPTEN4: Omit<AoFormat, 'name'> = {
  pointer: 'i32',
  startup: 'ctors',
  clock: 'counter',
  clockStart: 10_004,
  environ: [],
  argv: [],
  stringBytes: (_text, utf8Length) => utf8Length + 1,
  heapMax: 4_294_901_760,
  asyncifyHeader: 12,
};

const WASM64: Omit<AoFormat, 'name'> = { ...EMSCRIPTEN4, pointer: 'i64', heapMax: 17_179_869_184, asyncifyHeader: 24 };

const EMSCRIPTEN2: Omit<AoFormat, 'name'> = {
  pointer: 'i32',
  startup: 'main',
  clock: 'zero',
  clockStart: 0,
  environ: ['USER=web_user', 'LOGNAME=web_user', 'PATH=/', 'PWD=/', 'HOME=/home/web_user', 'LANG=C.UTF-8', '_=thisProgram'],
  argv: ['thisProgram'],
  stringBytes: (text) => (text.length << 2) + 1,
  heapMax: 524_288_000,
  asyncifyHeader: 12,
};

const FORMATS: Record<string, Omit<AoFormat, 'name'>> = {
  'wasm32-unknown-emscripten4': EMSCRIPTEN4,
  'wasm64-unknown-emscripten-draft_2024_02_15': WASM64,
  'wasm32-unknown-emscripten2': EMSCRIPTEN2,
};

export const SUPPORTED_FORMATS: readonly string[] = Object.keys(FORMATS);

/** The format a `Module-Format` tag names, or a 422 naming it and listing the supported ones. */
export function aoFormat(name: string): AoFormat {
  const row = Object.hasOwn(FORMATS, name) ? FORMATS[name] : undefined;
  if (!row) {
    throw unprocessable(`Module-Format ${JSON.stringify(name)} is not one this node runs; the AO formats it runs are ${SUPPORTED_FORMATS.join(', ')}`, {
      format: name,
      supported: SUPPORTED_FORMATS,
    });
  }
  return { name, ...row };
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** A `Memory-Limit` tag (`500-mb`, `1-gb`, or bytes) in bytes, or a 422 saying what it should look like. */
export function parseMemoryLimit(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:-?\s*(b|kb|mb|gb|tb))?\s*$/i.exec(text);
  if (!match) throw unprocessable(`Memory-Limit ${JSON.stringify(text)} is not a size: write bytes or a number with a unit, such as 500-mb or 1-gb`);
  return Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]);
}
