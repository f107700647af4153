// The outbox publisher: moves signed data items from the LMDB outbox to Arweave as ANS-104
// bundles, one process (outbox group) per bundle, in slot order. An entry leaves the outbox
// only after the gateway accepted the bundle that carries it, so nothing is lost to a crash
// or a gateway outage; failures are retried with exponential backoff by a background loop
// that never throws and never keeps the process alive on its own.
import { OutboxKind, type StoreView, type OutboxKey } from '../engine/store.ts';
import type { ArweaveGateway } from './gateway.ts';
import type { JWKInterface } from './wallet.ts';
import { upload, type Tag } from './upload.ts';
import { bundleTags } from '../engine/protocol/vocabulary.ts';
import { BundleError, ENTRY_BYTES, bundleSize, encodeBundle, itemId, itemIdBytes } from '../engine/protocol/ans104/bundle.ts';

export interface PublisherOptions {
  store: StoreView<'outbox'>;
  gateway: ArweaveGateway;
  wallet: JWKInterface;
  log?: (line: string) => void;
  /** Items per bundle (default 500). */
  maxItems?: number;
  /** Bytes per bundle, header included (default 200 KiB); a single larger item goes alone. */
  maxBytes?: number;
  /** First retry delay after a failure (default 500 ms), doubling per failure... */
  minBackoffMs?: number;
  /** ...up to this (default 30 s). */
  maxBackoffMs?: number;
}

export interface PublisherStats {
  /** Items published (counted again if a bundle is ever re-sent). */
  published: number;
  bundles: number;
  failures: number;
  lastError?: string;
  /** Arweave transaction ID of the last bundle uploaded. */
  lastBundle?: string;
}

interface Batch {
  group: string;
  keys: OutboxKey[];
  items: Uint8Array[];
}

const IDLE_POLL_MS = 1_000;
/** Outbox kind of attestation items, and how many one bundle names in its tags. */
const MAX_NAMED = 100;
/**
 * Bundles stay under 256 KiB, the size above which arweave-js uploads in chunks: arlocal
 * then unpacks a bundle twice and sometimes leaves items unindexed (seen in the tests).
 * A larger single item (a big checkpoint) still goes alone in its own bundle.
 */
const DEFAULT_MAX_BYTES = 200 * 1024;

export class Publisher {
  private readonly store: StoreView<'outbox'>;
  private readonly gateway: ArweaveGateway;
  private readonly wallet: JWKInterface;
  private readonly log: (line: string) => void;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** Set while the loop sleeps after a failure: kicks must not cut the backoff short. */
  private backingOff = false;
  private cycling = false;
  /** A kick that came while a cycle ran: that cycle may have looked at the outbox already. */
  private kicked = false;
  private streak = 0;
  /** Serialises uploads so the loop and flush() never send the same entries side by side. */
  private lock: Promise<unknown> = Promise.resolve();
  private readonly counters: PublisherStats = { published: 0, bundles: 0, failures: 0 };

  constructor(options: PublisherOptions) {
    this.store = options.store;
    this.gateway = options.gateway;
    this.wallet = options.wallet;
    this.log = options.log ?? (() => {});
    this.maxItems = Math.max(1, options.maxItems ?? 500);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? 30_000);
  }

  /** Starts the background loop: it wakes on kick() or every second and publishes while there is work. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Wakes an idle loop now; cheap, and any number of kicks before it runs coalesce into one. */
  kick(): void {
    if (!this.running || this.backingOff) return;
    if (this.cycling) this.kicked = true;
    else this.schedule(0);
  }

  /** Outbox entries not yet published. */
  depth(): number {
    return this.store.outbox.getCount();
  }

  /** Publishes everything in the outbox now; throws the gateway's error if an upload fails. */
  async flush(): Promise<void> {
    while (await this.exclusive(() => this.publishNext())) {
      // each round publishes one bundle
    }
  }

  /** Stops the loop; resolves once the bundle in flight (if any) is done. */
  async stop(): Promise<void> {
    this.running = false;
    this.backingOff = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.lock;
  }

  stats(): PublisherStats {
    return { ...this.counters };
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    // unref: a sleeping publisher must never be what keeps the process running.
    this.timer = setTimeout(() => void this.cycle(), delayMs).unref();
  }

  /** One wake-up of the loop: publish bundles until the outbox is empty or an upload fails. */
  private async cycle(): Promise<void> {
    this.timer = undefined;
    this.backingOff = false;
    if (!this.running || this.cycling) return;
    this.cycling = true;
    this.kicked = false;
    let delay = IDLE_POLL_MS;
    try {
      while (this.running && (await this.exclusive(() => this.publishNext()))) {
        // keep going while there is work
      }
    } catch {
      // Already counted and logged by publishNext; the loop must survive anything.
      delay = this.backoffMs();
      this.backingOff = true;
    } finally {
      this.cycling = false;
      if (this.running) this.schedule(this.kicked && !this.backingOff ? 0 : delay);
    }
  }

  private backoffMs(): number {
    return Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(30, Math.max(0, this.streak - 1)));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lock.then(work);
    this.lock = result.catch(() => {});
    return result;
  }

  /** Uploads the next bundle; false when the outbox is empty. Failures are counted, then rethrown. */
  private async publishNext(): Promise<boolean> {
    let batch: Batch | undefined;
    try {
      batch = this.nextBatch();
      if (!batch) return false;
      const id = await upload(encodeBundle(batch.items), { gateway: this.gateway, wallet: this.wallet, tags: tagsOf(batch) });
      // A crash here (uploaded, not yet removed) sends these entries again on restart. That is
      // harmless: each item keeps its ID (the hash of its signature), so readers see the same
      // items twice and deduplicate by ID, as arlocal and gateways already do.
      await this.remove(batch);
      this.succeeded(batch, id);
      return true;
    } catch (error) {
      this.failed(error as Error, batch);
      throw error;
    }
  }

  /** The first group's entries in key order, up to maxItems and maxBytes (at least one entry). */
  private nextBatch(): Batch | undefined {
    let batch: Batch | undefined;
    let bytes = bundleSize([]);
    for (const { key, value } of this.store.outbox.getRange({})) {
      batch ??= { group: key[0], keys: [], items: [] };
      if (key[0] !== batch.group || batch.items.length >= this.maxItems) break;
      if (batch.items.length > 0 && bytes + ENTRY_BYTES + value.length > this.maxBytes) break;
      if (key[2] === OutboxKind.Attestation && batch.keys.filter((k) => k[2] === OutboxKind.Attestation).length >= MAX_NAMED) break;
      checkItem(key, value);
      batch.keys.push(key);
      // Copied: LMDB may hand out views into memory it reuses once the read ends.
      batch.items.push(Uint8Array.from(value));
      bytes += ENTRY_BYTES + value.length;
    }
    return batch;
  }

  /** Removes exactly the published entries, in one transaction, and only if still unchanged. */
  private async remove(batch: Batch): Promise<void> {
    const outbox = this.store.outbox;
    await outbox.transaction(() => {
      batch.keys.forEach((key, index) => {
        const current = outbox.get(key);
        if (current && Buffer.compare(current, batch.items[index]!) === 0) outbox.remove(key);
      });
    });
  }

  private succeeded(batch: Batch, id: string): void {
    if (this.streak > 0) this.log(`publisher: the gateway ${this.gateway.url} works again after ${this.streak} failed attempts`);
    this.streak = 0;
    this.counters.published += batch.items.length;
    this.counters.bundles += 1;
    this.counters.lastBundle = id;
  }

  private failed(error: Error, batch: Batch | undefined): void {
    this.counters.failures += 1;
    this.counters.lastError = error.message;
    this.streak += 1;
    // Once per streak: an outage would otherwise write a line every backoff step.
    if (this.streak === 1) {
      const what = batch ? `a bundle of ${batch.items.length} items for ${batch.group}` : 'the outbox';
      this.log(`publisher: publishing ${what} failed (${error.message}); entries kept, retrying with backoff`);
    }
  }
}

/**
 * Names the entry that cannot be bundled. Such an entry is a writer's bug; it is kept (never
 * dropped unseen) and stalls the outbox with this error in stats().lastError and the log.
 */
function checkItem(key: OutboxKey, value: Uint8Array): void {
  try {
    itemIdBytes(value);
  } catch (error) {
    throw new BundleError(`the outbox entry ${JSON.stringify(key)} is not a signed data item: ${(error as Error).message}`);
  }
}

function tagsOf(batch: Batch): Tag[] {
  const seqs = batch.keys.map((key) => key[1]);
  const attestations = batch.keys.flatMap((key, i) => (key[2] === OutboxKind.Attestation ? [itemId(batch.items[i])] : []));
  return bundleTags({ group: batch.group, seqFrom: seqs[0], seqTo: seqs[seqs.length - 1], attestations });
}
