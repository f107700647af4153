// The node's LMDB environment and its named databases. One environment per data folder;
// each concept gets its own sub-database so keys never collide.
import { open, type Database, type RootDatabase } from 'lmdb';
import type { SignedBatch } from './protocol/attestation.ts';
import type { DeliveryEntry } from './delivery/ledger.ts';
import type { RegistryEntry, VerificationEntry } from './registry.ts';

/**
 * What an outbox entry is, the third part of its key: within one seq (a process's slot) a
 * message comes before its assignment, then attestations and checkpoints. The numbers are
 * stored keys: never renumber them.
 */
export enum OutboxKind {
  Message = 0,
  Assignment = 1,
  Attestation = 2,
  Checkpoint = 3,
  Location = 4,
  /** A registry's publications: first heartbeats of the nodes it registers, its signed summaries (engine/registry.ts). */
  Registry = 5,
  /** A verifier's signed verification reports (engine/verifier.ts). */
  Report = 6,
}

export type OutboxKey = [group: string, seq: number, kind: OutboxKind];

/** The outbox group of stateless Compute attestations and paid-call receipts (a process's group is its ID). */
export const COMPUTE_GROUP = '~compute@1.0';
export type SlotKey = [process: string, slot: number];
/** An outbox entry of a process: its slot and its index among that slot's messages. */
export type EntryKey = [process: string, slot: number, index: number];
/** What a receiving scheduler knows of a pushed message: [target, source process, source slot, index]. */
export type PushKey = [target: string, process: string, slot: number, index: number];

export interface ModuleMeta {
  owner: string;
  tags: { name: string; value: string }[];
}

/** What the node knows of a process it schedules, from its spawn message. */
export interface ProcessSpawn {
  id: string;
  module: string;
  scheduler: string;
  owner: string;
  tags: { name: string; value: string }[];
}

export interface Store {
  /** The environment's folder: another thread opens its own handle on it (engine/processes/pool.ts). */
  readonly path: string;
  /** Verified module bytes by Arweave ID. */
  modules: Database<Uint8Array, string>;
  /** Result records (JSON bytes) by hashpath. */
  results: Database<Uint8Array, string>;
  /** Small JSON records: example module IDs, node settings. */
  meta: Database<unknown, string>;
  /**
   * Signed items waiting to be published to Arweave, keyed [group, seq, kind] so a group (a
   * process ID) comes out in order. Written in the same batch as what they record.
   */
  outbox: Database<Uint8Array, OutboxKey>;
  /** Signed messages (raw ANS-104 items) by ID. */
  messages: Database<Uint8Array, string>;
  /** The node's signed assignments (raw ANS-104 items) by [process, slot]. */
  assignments: Database<Uint8Array, SlotKey>;
  /** The slot a message was given, by [process, message ID]: a message is assigned once. */
  slots: Database<number, [process: string, message: string]>;
  /** Processes this node schedules. */
  processes: Database<ProcessSpawn, string>;
  /** Process results: the hashpath of the result at [process, slot] (records live in `results`). */
  processResults: Database<string, SlotKey>;
  /** Instrumented (metered) module binaries by "<module ID>:<meter version>". */
  metered: Database<Uint8Array, string>;
  /** Who uploaded a module and its tags (prices, limits), by module ID. */
  moduleMeta: Database<ModuleMeta, string>;
  /** Data items modules import (engine/wasm/host/data.ts), by transaction ID, once verified. */
  dataItems: Database<Uint8Array, string>;
  /** Balances by address, as decimal strings. */
  balances: Database<string, string>;
  /** Paid-call receipts and applied top-ups by the ID of the signed item that asked. */
  receipts: Database<unknown, string>;
  /** Every outgoing message of the processes this node schedules, with its delivery state (engine/delivery/ledger.ts). */
  deliveries: Database<DeliveryEntry, EntryKey>;
  /** The deliverer's work list: the entries not yet settled, by key; the value is the target. */
  undelivered: Database<string, EntryKey>;
  /** The slot each pushed message got here, by PushKey: a retry, from any node, gets the same slot. */
  pushed: Database<number, PushKey>;
  /** Signed attestation items (raw ANS-104) by ID. */
  attestations: Database<Uint8Array, string>;
  /** A registry's nodes by address: the last heartbeat and what the registry saw of them (engine/registry.ts). */
  registry: Database<RegistryEntry, string>;
  /** A registry's verification reports, by "<node>/<attestation>/<index>": who confirmed, who refuted with checked evidence (engine/registry.ts). */
  verifications: Database<VerificationEntry, string>;
  /** Memory snapshots of processes by [process, slot]. */
  snapshots: Database<Uint8Array, SlotKey>;
  /** Runs fn in one write transaction; resolves once it is committed and flushed. */
  transaction<T>(fn: () => T): Promise<T>;
  /**
   * Makes the next read see everything committed so far. A thread's reads share one LMDB read
   * transaction until its event loop reaches its timers; a worker kept busy by back-to-back
   * requests never gets there, so it calls this before each request (engine/processes/worker.ts).
   */
  refresh(): void;
  close(): Promise<void>;
}

/**
 * The part of the store a service may touch, with transactions: each service names the
 * databases it uses, so what a service can write is read off its constructor.
 */
export type StoreView<K extends keyof Store> = Pick<Store, K | 'transaction'>;

/** Keeps a signed attestation batch and queues it for Arweave; call inside a store transaction. */
export function keepBatch(store: StoreView<'attestations' | 'outbox'>, batch: { item: Pick<SignedBatch['item'], 'id' | 'raw'> }, group: string, seq: number): void {
  store.attestations.put(batch.item.id, batch.item.raw);
  store.outbox.put([group, seq, OutboxKind.Attestation], batch.item.raw);
}

export function openStore(path: string): Store {
  const root: RootDatabase = open({ path, compression: false, mapSize: 2 ** 34, maxDbs: 32 });
  return {
    path,
    modules: root.openDB<Uint8Array, string>({ name: 'modules', encoding: 'binary' }),
    results: root.openDB<Uint8Array, string>({ name: 'results', encoding: 'binary' }),
    meta: root.openDB<unknown, string>({ name: 'meta', encoding: 'json' }),
    outbox: root.openDB<Uint8Array, OutboxKey>({ name: 'outbox', encoding: 'binary' }),
    messages: root.openDB<Uint8Array, string>({ name: 'messages', encoding: 'binary' }),
    assignments: root.openDB<Uint8Array, SlotKey>({ name: 'assignments', encoding: 'binary' }),
    slots: root.openDB<number, [string, string]>({ name: 'slots', encoding: 'ordered-binary' }),
    processes: root.openDB<ProcessSpawn, string>({ name: 'processes', encoding: 'json' }),
    processResults: root.openDB<string, SlotKey>({ name: 'process-results', encoding: 'ordered-binary' }),
    snapshots: root.openDB<Uint8Array, SlotKey>({ name: 'snapshots', encoding: 'binary' }),
    attestations: root.openDB<Uint8Array, string>({ name: 'attestations', encoding: 'binary' }),
    metered: root.openDB<Uint8Array, string>({ name: 'metered', encoding: 'binary' }),
    moduleMeta: root.openDB<ModuleMeta, string>({ name: 'module-meta', encoding: 'json' }),
    dataItems: root.openDB<Uint8Array, string>({ name: 'data-items', encoding: 'binary' }),
    balances: root.openDB<string, string>({ name: 'balances', encoding: 'string' }),
    receipts: root.openDB<unknown, string>({ name: 'receipts', encoding: 'json' }),
    deliveries: root.openDB<DeliveryEntry, EntryKey>({ name: 'deliveries', encoding: 'json' }),
    undelivered: root.openDB<string, EntryKey>({ name: 'undelivered', encoding: 'string' }),
    pushed: root.openDB<number, PushKey>({ name: 'pushed', encoding: 'ordered-binary' }),
    registry: root.openDB<RegistryEntry, string>({ name: 'registry', encoding: 'json' }),
    verifications: root.openDB<VerificationEntry, string>({ name: 'verifications', encoding: 'json' }),
    async transaction(fn) {
      const result = await root.transaction(fn);
      await root.flushed;
      return result;
    },
    refresh: () => root.resetReadTxn(),
    close: () => root.close(),
  };
}
