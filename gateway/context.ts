// The narrow port the HTTP devices depend on: what a running node lends them, and nothing of
// how it is put together. gateway/node.ts (the composition root) implements it; gateway/server.ts
// and gateway/devices/* import only this file, so the root → server edge runs one way, and a
// test can build the whole HTTP face on a small fake (test/gateway.test.ts).
import type { Scheduler } from '../engine/scheduler.ts';
import type { Processes } from '../engine/processes/index.ts';
import type { StatelessCompute } from '../engine/compute.ts';
import type { Ledger } from '../engine/ledger.ts';
import type { Payments } from '../engine/payments.ts';
import type { GpuDescription } from '../engine/gpu/adapter.ts';
import type { Deliverer } from '../engine/delivery/deliverer.ts';
import type { Mirror } from '../engine/mirror.ts';
import type { Locations } from '../engine/locations.ts';
import type { NodeRegistry } from '../engine/registry.ts';

export interface NodeContext {
  /** The node's own address: it signs assignments, attestations and receipts. */
  key: { address: string };
  scheduler: Pick<Scheduler, 'schedule' | 'process' | 'currentSlot' | 'assignment' | 'range' | 'slotOf'>;
  processes: Pick<Processes, 'compute' | 'estimate' | 'dryRun'>;
  /** Stateless Compute over the result cache. */
  compute: Pick<StatelessCompute, 'cached' | 'run'>;
  /** Paid calls, cost-only estimates and top-ups (engine/payments.ts). */
  payments: Pick<Payments, 'requireFree' | 'costOnly' | 'paidCall' | 'topup'>;
  ledger: Pick<Ledger, 'balance'>;
  /** Copies of processes other nodes schedule (engine/mirror.ts): any node computes any process. */
  mirror: Pick<Mirror, 'sync' | 'mirrors'>;
  /** Where another node's process is scheduled: its scheduler, URL and location record (unpadded base64url), if it can be found. */
  whereIs(pid: string): Promise<{ scheduler: string; url: string; record?: string } | undefined>;
  /** The processes' outgoing messages and their delivery (engine/delivery/deliverer.ts). */
  deliveries: Pick<Deliverer, 'outbox'>;
  /** Where schedulers are: signed location records (engine/locations.ts). */
  locations: Pick<Locations, 'resolve' | 'accept' | 'sourceNames'>;
  /** The node registry (engine/registry.ts), only on a node started with --registry. */
  registry?: Pick<NodeRegistry, 'accept' | 'get' | 'list' | 'now' | 'ttlMs' | 'graceMs'> & Partial<Pick<NodeRegistry, 'acceptReport'>>;
  /** The registries this node sends heartbeats to (--join): where ~router@1.0 asks for nodes when it is no registry itself. */
  joined?: readonly string[];
  /** The largest gas budget of a stateless call. */
  maxGas: number;
  blockHeight(): number;
  info(): Record<string, unknown>;
  /** The adapter serving module kernel calls, once the GPU worker has acquired it (or the CPU references). */
  gpu(): Promise<GpuDescription>;
  log(line: string): void;
}
