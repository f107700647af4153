// Request/response with a worker thread, written once: the sandbox, the meter, the GPU bridge's
// control side and the verifier's signature pool each keep a module in another thread and talk
// to it the same way. Requests carry ids and wait in a pending map; the worker holds the process
// open only while a request is pending; a worker that dies fails (or resends) what it had.
//
//   const line = new WorkerLine<Request, Reply>({ module: new URL('./worker.ts', import.meta.url), tsx: true });
//   const reply = await line.request({ … });   // starts the worker on first use
//   await line.close();                        // a later request starts a fresh one
//
// The module runs under engine/worker-entry.mjs and exports `handle(request) => reply` (or a
// promise of one); what it throws rejects the request (`error` turns it back into an Error; a
// thrown error with `fatal: true` also retires the worker). A module without `handle` talks on
// parentPort itself (`post`, `onMessage`). `tsx: true` loads it through tsx's hooks, which a .ts
// module needs; without, it runs on plain Node (binaryen loads in ~1 s there, ~8 s under tsx).
import { SHARE_ENV, Worker, type TransferListItem } from 'node:worker_threads';

export interface WorkerLineOptions {
  /** The module the worker runs. */
  module: URL;
  /** Load it through tsx (a .ts module); otherwise plain Node, no hooks. */
  tsx?: boolean;
  /** Each new worker's workerData (and what to transfer with it): a replacement gets a fresh one. */
  start?: () => { workerData?: unknown; transferList?: TransferListItem[] };
  /** The worker shares this process's environment (native code that reads the real env). */
  shareEnv?: boolean;
  /** How many workers one request may be tried on; default 1 (a dead worker fails all it had). */
  attempts?: number;
  /** The rejection for what `handle` threw (default: an Error with its message). */
  error?: (thrown: { message: string }) => Error;
  /** The rejection when the worker dies or is closed under a request; `reason` reads after "the worker" ("exited (code 1)"). */
  lost?: (reason: string) => Error;
  /** Messages that are not replies: the module's own events. */
  onMessage?: (message: unknown) => void;
  /**
   * Terminate the worker after this many ms with nothing pending (its memory goes back to the
   * system; the next request starts a fresh one). Default: never, the worker stays loaded.
   */
  idleMs?: number;
}

interface Pending<Request, Response> { request: Request; attempts: number; resolve: (reply: Response) => void; reject: (error: Error) => void }
interface Reply { id?: number; ready?: true; result?: unknown; error?: { message: string }; fatal?: boolean }

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

export class WorkerLine<Request, Response> {
  private worker?: Worker;
  private started?: Promise<void>;
  private readonly pending = new Map<number, Pending<Request, Response>>();
  private next = 1;
  private idle?: NodeJS.Timeout;

  constructor(private readonly options: WorkerLineOptions) {}

  /** Whether a worker is started (loading, busy or idle). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Starts the worker (if none runs) and waits until its module has loaded. */
  ready(): Promise<void> {
    const w = this.current();
    const started = this.started!;
    w.ref(); // someone waits on it: busy
    void started.finally(() => this.pending.size === 0 && w.unref()).catch(() => {});
    return started;
  }

  /** Sends one request; the reply (or the module's error) settles it. */
  request(request: Request): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const id = this.next++;
      const p: Pending<Request, Response> = { request, attempts: 0, resolve, reject };
      this.pending.set(id, p);
      this.send(this.current(), id, p);
    });
  }

  /** A message outside the request protocol (e.g. a MessagePort, transferred). */
  post(message: unknown, transferList?: TransferListItem[]): void {
    this.current().postMessage(message, transferList);
  }

  /** Ends the worker the way a crash would: its exit is handled as a death (tests). */
  async crash(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Terminates the worker; pending requests fail with `error` (default: `lost('closed')`). */
  async close(error?: Error): Promise<void> {
    clearTimeout(this.idle);
    const w = this.worker;
    this.worker = this.started = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.reject(error ?? this.lost('was closed'));
    await w?.terminate();
  }

  private lost(reason: string): Error {
    return this.options.lost?.(reason) ?? new Error(`the worker ${reason}`);
  }

  private send(w: Worker, id: number, p: Pending<Request, Response>): void {
    clearTimeout(this.idle);
    p.attempts++;
    w.ref(); // held while a request is pending: unref'd again when the last reply comes
    w.postMessage({ id, request: p.request });
  }

  private current(): Worker {
    if (this.worker) return this.worker;
    const { module, tsx, start, shareEnv } = this.options;
    const { workerData, transferList } = start?.() ?? {};
    const w = new Worker(ENTRY, { argv: [module.href, tsx ? 'tsx' : 'plain'], execArgv: [], workerData, transferList, env: shareEnv ? SHARE_ENV : undefined });
    w.unref();
    this.worker = w;
    let failure: Error | undefined;
    this.started = new Promise<void>((resolve, reject) => {
      w.on('message', (message: Reply) => {
        if (message.ready) return resolve();
        if (typeof message.id !== 'number') return this.options.onMessage?.(message);
        this.reply(w, message);
      });
      w.on('error', (error) => (failure = error));
      w.on('exit', (code) => {
        const reason = failure ? `failed: ${failure.message}` : `exited (code ${code})`;
        reject(this.lost(reason));
        this.retire(w, reason, true);
      });
    });
    this.started.catch(() => {}); // a worker that never loads fails its requests, not the process
    return w;
  }

  private reply(w: Worker, message: Reply): void {
    if (w !== this.worker) return; // retired: its requests went elsewhere, and it may be broken
    const p = this.pending.get(message.id!);
    if (!p) return;
    this.pending.delete(message.id!);
    if (message.error) p.reject(this.options.error?.(message.error) ?? new Error(message.error.message));
    else p.resolve(message.result as Response);
    if (message.fatal) {
      this.retire(w, 'reported itself unusable', false);
      void w.terminate();
    } else if (this.pending.size === 0) {
      w.unref();
      this.idleLater(w);
    }
  }

  /** Retires an idle worker after `idleMs`, unless a request comes first (send clears the timer). */
  private idleLater(w: Worker): void {
    const { idleMs } = this.options;
    if (idleMs === undefined) return;
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.worker !== w || this.pending.size > 0) return;
      this.worker = this.started = undefined;
      void w.terminate();
    }, idleMs);
    this.idle.unref(); // an idle timer never holds the process open
  }

  /**
   * Moves the pending requests of a dead worker to a fresh one, each at most `attempts` times
   * in all. One that died without answering died on its oldest request (it takes them in
   * order): that one fails. With one attempt, all fail.
   */
  private retire(w: Worker, reason: string, culpritFirst: boolean): void {
    if (this.worker !== w) return; // closed, or already replaced
    this.worker = this.started = undefined;
    let culprit = culpritFirst;
    for (const [id, p] of this.pending) {
      if (culprit || p.attempts >= (this.options.attempts ?? 1)) {
        culprit = false;
        this.pending.delete(id);
        p.reject(this.lost(reason));
      } else {
        this.send(this.current(), id, p);
      }
    }
  }
}
