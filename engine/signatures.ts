// The scheduler's signature work spread over the cores: checking each client item's signature
// and signing each assignment are the irreducible costs of scheduling (issue 11), and both are
// independent per item, so they run on worker threads while this thread keeps the one thing
// that must stay in one place, the order of slots.
//
// Requests made in one turn of the event loop go out together, split evenly over the workers,
// packed into one buffer per worker (a message per worker, not per item; and an item that is a
// view into a larger buffer, as an HTTP body may be, sends only its own bytes). A turn's batch
// too small to be worth a round trip is done here, and so is everything while no worker has
// loaded yet (workers start on the first big batch and exit when idle, so an idle node holds
// none) or after one was lost. The answers are the same wherever they are computed:
// verifyDataItem's, and ed25519's deterministic signatures.
import { sign, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { verifyDataItem, type DataItem } from './protocol/ans104/data-item.ts';
import { WorkerLine } from './worker.ts';

/** A deep-hash message (SHA-384), what an ANS-104 signature signs. */
export const MESSAGE_BYTES = 48;
export const SIGNATURE_BYTES = 64;

/** What one worker is asked in one message: items to check (packed, with their parsed IDs) and messages to sign. */
export interface SignatureBatch {
  items: Uint8Array;
  /** Where each item ends in `items`. */
  ends: Uint32Array;
  ids: string[];
  /** MESSAGE_BYTES per message. */
  messages: Uint8Array;
}

export interface SignatureAnswers {
  /** 1 where the item's signature verifies, else 0, in order. */
  verified: Uint8Array;
  /** SIGNATURE_BYTES per message, in order. */
  signatures: Uint8Array;
}

/**
 * verifyDataItem of each item of a batch. verifyDataItem reads an item's raw bytes (all of its
 * structure again) and its id, nothing else (its contract), so the worker is handed those two
 * rather than parsing every item a second time.
 */
export function answer(privateKey: KeyObject, batch: SignatureBatch): SignatureAnswers {
  const verified = new Uint8Array(batch.ids.length);
  let start = 0;
  batch.ids.forEach((id, i) => {
    const raw = batch.items.subarray(start, (start = batch.ends[i]!));
    verified[i] = verifyDataItem({ raw, id } as DataItem) ? 1 : 0;
  });
  const count = batch.messages.length / MESSAGE_BYTES;
  const signatures = new Uint8Array(count * SIGNATURE_BYTES);
  for (let i = 0; i < count; i++) signatures.set(sign(null, batch.messages.subarray(i * MESSAGE_BYTES, (i + 1) * MESSAGE_BYTES), privateKey), i * SIGNATURE_BYTES);
  return { verified, signatures };
}

export interface SignaturePoolOptions {
  /** The ed25519 key that signs (the node's: assignments). */
  privateKey: KeyObject;
  /** Worker threads; 0 does everything on this thread. Default: the cores but this one, at least 1. */
  threads?: number;
  /** A turn's batch below this many requests is done on this thread (a round trip costs more). */
  inline?: number;
  /** Workers exit after this long with nothing to do. */
  idleMs?: number;
}

/**
 * Below this many requests in a turn (and no worker busy), the work stays on this thread.
 * Measured on the 2-core machine (1 worker): with 4 requests in flight the worker's round trips
 * cost ~40% more CPU per assignment than doing them here; with 16 or 256 in flight, 32 was a
 * little cheaper than 8 and no slower.
 */
export const DEFAULT_INLINE = 32;
const DEFAULT_IDLE_MS = 30_000;

export const defaultSignatureThreads = (): number => Math.max(1, availableParallelism() - 1);

/** Called once with the answer, or with the error where none could be had. */
export type Done<T> = (answer: T | Error) => void;

interface Verify {
  item: DataItem;
  done: Done<boolean>;
}
interface Sign {
  message: Uint8Array;
  done: Done<Uint8Array>;
}
type Job = Verify | Sign;

interface Worker {
  line: WorkerLine<SignatureBatch, SignatureAnswers>;
  /** Loaded and answering; until then (and after it exits) its share is done here. */
  loaded: boolean;
  /** A chunk is out with it: it gets the next one when it answers. */
  busy: boolean;
}

/** The most jobs this thread takes from the queue at a time, between its other work. */
const HERE_SLICE = 4;
/** The fewest jobs worth a message to a worker. */
const MIN_CHUNK = 8;

/**
 * The work is shared by pulling: one queue of jobs in arrival order; a worker with nothing out
 * gets a chunk (its share of what is queued), and gets the next one as soon as it answers;
 * this thread takes a few jobs at a time between its other work (the scheduler's own), so
 * whichever thread is free does the next job and none waits while another is behind.
 */
export class SignaturePool {
  private readonly workers: Worker[];
  private queue: Job[] = [];
  private head = 0;
  private flushQueued = false;
  private readonly inline: number;

  constructor(private readonly options: SignaturePoolOptions) {
    this.inline = options.inline ?? DEFAULT_INLINE;
    const threads = options.threads ?? defaultSignatureThreads();
    this.workers = Array.from({ length: threads }, () => ({
      line: new WorkerLine<SignatureBatch, SignatureAnswers>({
        module: new URL('./signatures-worker.ts', import.meta.url),
        tsx: true,
        start: () => ({ workerData: { privateKey: options.privateKey } }),
        idleMs: options.idleMs ?? DEFAULT_IDLE_MS,
      }),
      loaded: false,
      busy: false,
    }));
  }

  /** Whether a parsed item's signature verifies (verifyDataItem's answer), to `done`. */
  verify(item: DataItem, done: Done<boolean>): void {
    this.queue.push({ item, done });
    this.flushLater();
  }

  /** The ed25519 signature of a deep-hash message with the pool's key, to `done`. */
  sign(message: Uint8Array, done: Done<Uint8Array>): void {
    if (message.length !== MESSAGE_BYTES) return done(new Error(`a message to sign is ${MESSAGE_BYTES} bytes, got ${message.length}`));
    this.queue.push({ message, done });
    this.flushLater();
  }

  /** How many workers are loaded and taking work (none until the first batch worth a round trip, none again once idle). */
  get loaded(): number {
    return this.workers.filter((w) => w.loaded && w.line.running).length;
  }

  /** Starts the workers and resolves once they have loaded (they start by themselves on the first big batch; this is for a warm start). */
  async start(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => (this.usable(w), await w.line.ready(), (w.loaded = true))));
  }

  /** Terminates the workers (a later request starts them again). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => ((w.loaded = false), await w.line.close())));
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  private take(count: number): Job[] {
    const jobs = this.queue.slice(this.head, this.head + count);
    this.head += jobs.length;
    if (this.head === this.queue.length || this.head > 4096) {
      this.queue = this.queue.slice(this.head); // a queue that never quite empties does not grow without bound
      this.head = 0;
    }
    return jobs;
  }

  private flushLater(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    const busy = this.workers.some((w) => w.busy);
    if (this.queued < this.inline && !busy) return this.here(this.take(this.queued)); // a trickle: no round trip
    for (const worker of this.workers) if (!worker.busy && this.usable(worker)) this.give(worker);
    // This thread takes a few too whenever it comes round with work still queued: it comes round
    // only between its own work, so it helps as much as it is free to. (Helping only with a
    // backlog beyond the workers' next pull measured worse: smaller chunks, more commits.)
    this.here(this.take(HERE_SLICE));
    if (this.queued > 0) this.flushLater();
  }

  /** A worker's share of what is queued: the queue split over the workers and this thread. */
  private give(worker: Worker): void {
    const share = Math.max(MIN_CHUNK, Math.ceil(this.queued / (this.workers.length + 1)));
    if (this.queued === 0) return;
    const jobs = this.take(share);
    worker.busy = true;
    const verifies = jobs.filter((job): job is Verify => 'item' in job);
    const signs = jobs.filter((job): job is Sign => 'message' in job);
    worker.line.request(pack(verifies, signs)).then(
      ({ verified, signatures }) => {
        worker.busy = false;
        if (this.queued > 0) this.give(worker);
        verifies.forEach((job, i) => job.done(verified[i] === 1));
        signs.forEach((job, i) => job.done(signatures.subarray(i * SIGNATURE_BYTES, (i + 1) * SIGNATURE_BYTES)));
      },
      () => {
        // A lost worker (killed, closed, out of memory): the work is pure, so do it here.
        worker.busy = worker.loaded = false;
        this.here(jobs);
      },
    );
  }

  /** Whether a worker can take work now; starts one that is not running (it takes work once loaded). */
  private usable(worker: Worker): boolean {
    if (worker.loaded && worker.line.running) return true;
    if (!worker.line.running) {
      worker.loaded = false;
      worker.line.ready().then(
        () => {
          worker.loaded = true;
          if (!worker.busy && this.queued > 0) this.give(worker);
        },
        () => (worker.loaded = false),
      );
    }
    return false;
  }

  private here(jobs: Job[]): void {
    for (const job of jobs) {
      if ('item' in job) {
        job.done(verifyDataItem(job.item));
        continue;
      }
      let signature: Uint8Array | Error;
      try {
        signature = sign(null, job.message, this.options.privateKey);
      } catch (error) {
        signature = error as Error;
      }
      job.done(signature);
    }
  }
}

function pack(verifies: Verify[], signs: Sign[]): SignatureBatch {
  let length = 0;
  for (const { item } of verifies) length += item.raw.length;
  const items = new Uint8Array(length);
  const ends = new Uint32Array(verifies.length);
  let at = 0;
  verifies.forEach(({ item }, i) => {
    items.set(item.raw, at);
    ends[i] = at += item.raw.length;
  });
  const messages = new Uint8Array(signs.length * MESSAGE_BYTES);
  signs.forEach(({ message }, i) => messages.set(message, i * MESSAGE_BYTES));
  return { items, ends, ids: verifies.map(({ item }) => item.id), messages };
}
