// Where schedulers are: this node's own signed location record (announced, re-announced before
// it expires, queued for Arweave) and the records of others, cached by address. A record is
// only ever replaced by one with a higher nonce, and an expired one is never used; what is not
// cached is asked of the sources in order (peers first, then Arweave), one lookup per address
// however many callers wait for it. The formats and rules are engine/protocol/location.ts's.
import type { Ed25519Signer } from './protocol/ans104/data-item.ts';
import { badRequest } from './protocol/errors.ts';
import { sha256b64 } from './protocol/hash.ts';
import { isExpired, locationGroup, newer, readLocation, signLocation, type LocationRecord } from './protocol/location.ts';
import { OutboxKind, type StoreView } from './store.ts';

export type { LocationRecord };

/** Somewhere to ask for an address's records: raw candidates, each checked here. */
export interface LocationSource {
  name: string;
  find(address: string): Promise<Uint8Array[]>;
}

export interface LocationsOptions {
  /** This node's address (the signer's). */
  address: string;
  signer: Ed25519Signer;
  store: StoreView<'meta' | 'outbox'>;
  /** The node's software version, written in its records. */
  version: string;
  /** The own record's time-to-live (default 1 day); it is re-announced at half of it. */
  ttlMs?: number;
  clock?: () => number;
  /** Asked in order for what the cache does not hold. */
  sources?: LocationSource[];
  log?: (line: string) => void;
}

/** The store.meta key of the last nonce this node signed: nonces never repeat, across restarts too. */
const NONCE_KEY = 'location-nonce';
export const DEFAULT_LOCATION_TTL_MS = 86_400_000;

export class Locations {
  readonly address: string;
  private readonly signer: Ed25519Signer;
  private readonly store: StoreView<'meta' | 'outbox'>;
  private readonly version: string;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly sources: LocationSource[];
  private readonly log: (line: string) => void;

  private readonly records = new Map<string, LocationRecord>();
  /** The nonce of a record dropped by invalidate(): nothing older is taken for that address again. */
  private readonly floors = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<LocationRecord | undefined>>();
  private mine: LocationRecord | undefined;
  /** Announcements one at a time: each reads the last nonce the previous one wrote. */
  private announcing: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: LocationsOptions) {
    this.address = options.address;
    this.signer = options.signer;
    this.store = options.store;
    this.version = options.version;
    this.ttlMs = options.ttlMs ?? DEFAULT_LOCATION_TTL_MS;
    this.clock = options.clock ?? Date.now;
    this.sources = options.sources ?? [];
    this.log = options.log ?? (() => {});
    if (sha256b64(this.signer.publicKey) !== this.address) throw badRequest(`the location signer's address is ${sha256b64(this.signer.publicKey)}, not ${this.address}`);
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < 2) throw badRequest(`a location time-to-live must be a whole number of ms ≥ 2, got ${this.ttlMs}`);
  }

  /**
   * Signs this node's record for `url`, caches it and queues it for Arweave. The same URL again
   * within half the time-to-live returns the current record, unless `force`.
   */
  announce(url: string, options: { force?: boolean } = {}): Promise<LocationRecord> {
    const next = this.announcing.then(() => this.announceNow(url, options.force ?? false));
    this.announcing = next.catch(() => {});
    return next;
  }

  /** Announces now, then every half time-to-live until stop(); resolves with the first record. */
  async start(url: string): Promise<LocationRecord> {
    this.stop();
    const first = await this.announce(url);
    this.timer = setInterval(() => {
      this.announce(url, { force: true }).catch((error) => this.log(`locations: re-announcing ${url} failed: ${(error as Error).message}`));
    }, this.ttlMs / 2);
    // A sleeping re-announcement must never be what keeps the process alive.
    this.timer.unref();
    return first;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Verifies a record someone handed over (a peer's POST, a 307) and caches it. A record that
   * is not newer than the cached one is ignored and the cached one returned; an invalid or
   * expired one, or one older than a record already dropped, is refused (400).
   */
  accept(raw: Uint8Array): LocationRecord {
    const record = readLocation(raw);
    const current = this.records.get(record.address);
    if (current && !newer(record, current)) return current;
    const refusal = this.refusal(record);
    if (refusal) throw badRequest(`location record ${record.id} of ${record.address}: ${refusal}`);
    this.records.set(record.address, record);
    return record;
  }

  /** Where `address` schedules: this node's own record, an unexpired cached one, or the sources'. */
  async resolve(address: string, options: { sources?: boolean } = {}): Promise<LocationRecord | undefined> {
    const held = this.held(address);
    if (held || options.sources === false) return held;
    let lookup = this.lookups.get(address);
    if (!lookup) {
      lookup = this.lookup(address).finally(() => this.lookups.delete(address));
      this.lookups.set(address, lookup);
    }
    return lookup;
  }

  /**
   * Forgets an address's cached record (its URL failed), so the next resolve asks the sources;
   * a record older than the one dropped is never taken afterwards. This node's own stays.
   */
  invalidate(address: string): void {
    if (address === this.address) return;
    const dropped = this.records.get(address);
    if (!dropped) return;
    this.records.delete(address);
    this.floors.set(address, Math.max(this.floors.get(address) ?? 0, dropped.nonce));
  }

  /** What resolve answers without asking anyone: this node's own record, or an unexpired cached one. */
  held(address: string): LocationRecord | undefined {
    if (address === this.address && this.mine) return this.mine;
    const cached = this.records.get(address);
    return cached && !isExpired(cached, this.clock()) ? cached : undefined;
  }

  /** The unexpired records held, this node's own included. */
  cached(): LocationRecord[] {
    const now = this.clock();
    return [...this.records.values()].filter((record) => !isExpired(record, now));
  }

  own(): LocationRecord | undefined {
    return this.mine;
  }

  /** Names the source asked for what is not cached, for a 404's message. */
  sourceNames(): string[] {
    return this.sources.map((source) => source.name);
  }

  private async announceNow(url: string, force: boolean): Promise<LocationRecord> {
    const mine = this.mine;
    if (!force && mine && mine.url === url && this.clock() - mine.timestamp < this.ttlMs / 2) return mine;
    const record = await this.store.transaction(() => {
      const last = this.store.meta.get(NONCE_KEY);
      const timestamp = this.clock();
      const nonce = Math.max(typeof last === 'number' ? last + 1 : 0, timestamp, mine ? mine.nonce + 1 : 0);
      const item = signLocation(this.signer, { url, nonce, timestamp, ttlMs: this.ttlMs, version: this.version });
      this.store.meta.put(NONCE_KEY, nonce);
      this.store.outbox.put([locationGroup(this.address), nonce, OutboxKind.Location], item.raw);
      return readLocation(item, this.address);
    });
    this.mine = record;
    this.records.set(this.address, record);
    return record;
  }

  /** The sources in order: the first that gives a usable record wins. */
  private async lookup(address: string): Promise<LocationRecord | undefined> {
    for (const source of this.sources) {
      let raws: Uint8Array[];
      try {
        raws = await source.find(address);
      } catch (error) {
        this.log(`locations: the source ${source.name} failed for ${address}: ${(error as Error).message}`);
        continue;
      }
      const best = this.best(address, raws, source.name);
      if (best) {
        // Another caller may have accepted a newer one meanwhile.
        const current = this.records.get(address);
        if (current && !newer(best, current) && !isExpired(current, this.clock())) return current;
        this.records.set(address, best);
        return best;
      }
    }
    return undefined;
  }

  /** The highest-nonce usable record of `address` among a source's candidates. */
  private best(address: string, raws: Uint8Array[], from: string): LocationRecord | undefined {
    let best: LocationRecord | undefined;
    const current = this.records.get(address);
    for (const raw of raws) {
      let record: LocationRecord;
      try {
        record = readLocation(raw, address);
      } catch (error) {
        this.log(`locations: ${from} gave an invalid record for ${address}: ${(error as Error).message}`);
        continue;
      }
      if (this.refusal(record) || (current && !newer(record, current))) continue;
      if (newer(record, best)) best = record;
    }
    return best;
  }

  /** Why a valid record may not be cached now, if it may not. */
  private refusal(record: LocationRecord): string | undefined {
    const now = this.clock();
    if (isExpired(record, now)) return `it expired at ${new Date(record.timestamp + record.ttlMs).toISOString()} (signed ${new Date(record.timestamp).toISOString()}, time-to-live ${record.ttlMs} ms)`;
    const floor = this.floors.get(record.address);
    if (floor !== undefined && record.nonce < floor) return `its nonce ${record.nonce} is older than that of a record already given up (${floor})`;
    return undefined;
  }
}
