// Eager evaluation: the node that schedules a process folds each new slot soon after it is
// assigned, without a client asking, so that the process's outgoing messages exist (and are
// delivered) whether or not anyone reads its results. One fold per process at a time; slots
// assigned during a fold are taken by one more fold after it, however many arrived.
export class Crank {
  /** Processes being folded, and whether more slots arrived meanwhile. */
  private readonly running = new Map<string, boolean>();
  private readonly complained = new Set<string>();
  private stopped = false;
  private readonly folds = new Set<Promise<void>>();

  constructor(
    private readonly compute: (pid: string) => Promise<unknown>,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** New slots of these processes are durable. */
  touch(pids: Iterable<string>): void {
    if (this.stopped) return;
    for (const pid of pids) {
      if (this.running.has(pid)) this.running.set(pid, true);
      else {
        this.running.set(pid, false);
        const fold = this.run(pid);
        this.folds.add(fold);
        void fold.finally(() => this.folds.delete(fold));
      }
    }
  }

  /** Folds in progress (a node closing waits for them). */
  get busy(): number {
    return this.running.size;
  }

  /** Takes no more; resolves once the folds in progress are done (their commits included). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.folds]);
  }

  private async run(pid: string): Promise<void> {
    for (;;) {
      try {
        await this.compute(pid);
      } catch (error) {
        // A process whose module cannot fold (not a process module, a lost worker) is said once;
        // a client's read of it gets the error itself.
        if (!this.complained.has(pid)) {
          this.complained.add(pid);
          this.log(`eager evaluation of ${pid} failed: ${(error as Error).message}`);
        }
      }
      if (this.stopped || !this.running.get(pid)) {
        this.running.delete(pid);
        return;
      }
      this.running.set(pid, false);
    }
  }
}
