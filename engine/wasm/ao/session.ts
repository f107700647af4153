// The compute unit's loop over one process's messages: each message runs on the live
// instance; after a message that fails (the module answers an Error or ok: false, or the call
// throws) the next one runs on a fresh instance loaded with the memory the last successful
// message left, as servers/cu does (evaluate.js: the previous Memory kept, the cached instance
// dropped; ao-loader then loads it into the new instance). The CLI (ao-eval) and the node share
// it, so both roll back the same way. The memory is copied after every successful message, as
// ao-loader copies it (`HEAPU8.slice()`), since a failed message has already written over the
// live one; into one buffer kept for the purpose, which costs a fifth of a fresh copy (~22 ms
// against ~100 ms for aos's 105 MiB here).
import { AoInstance, type AoOptions, type AoResult, type AoState } from './instance.ts';

export type AoSessionOptions = Omit<AoOptions, 'memory'>;

export class AoSession {
  private instance: AoInstance | undefined;
  /** The memory the last successful message left (null before any: the module's own start-up). */
  private kept: Uint8Array | null = null;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly format: string,
    private readonly options: AoSessionOptions = {},
  ) {
    this.instance = AoInstance.create(module, format, options);
  }

  /** Runs one message; a failure leaves the state as it was before it. */
  step(msg: object | string, env: object | string): AoResult {
    const instance = this.instance ?? AoInstance.create(this.module, this.format, { ...this.options, resume: undefined, memory: this.kept ?? undefined });
    const result = instance.handle(msg, env);
    if (result.ok) {
      this.instance = instance;
      this.kept = instance.copyMemoryInto(this.kept);
    } else {
      this.instance = undefined;
    }
    return result;
  }

  /**
   * What to snapshot between messages: the live instance's state, or after a failure the kept
   * memory (resumed with `memory`, not `resume`: the next message runs on a fresh instance).
   */
  state(): { live: true; state: AoState } | { live: false; memory: Uint8Array | null } {
    return this.instance ? { live: true, state: this.instance.state() } : { live: false, memory: this.kept && this.kept.slice() };
  }
}
