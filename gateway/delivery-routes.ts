// The deliverer's effects (engine/delivery/deliverer.ts DeliveryRoutes): where a target is
// scheduled, and the push to another node over HTTP. A target is found, in order, in this
// node's own schedule, in the gateway's index (its spawn item names its Scheduler), and at
// every scheduler this node knows (each answers /~scheduler@1.0/slot for what it schedules);
// its scheduler's URL comes from the location records (engine/locations.ts).
import type { ArweaveGateway } from '../arweave/gateway.ts';
import { lookupSpawn } from '../arweave/spawns.ts';
import { fromB64url } from '../engine/protocol/encoding.ts';
import type { DeliveryRoutes, PushAnswer, Route } from '../engine/delivery/deliverer.ts';
import type { Locations } from '../engine/locations.ts';
import type { StoreView } from '../engine/store.ts';

export interface DeliveryRoutesOptions {
  store: StoreView<'processes'>;
  /** This node's address. */
  address: string;
  locations: Pick<Locations, 'resolve' | 'accept' | 'invalidate' | 'cached'>;
  gateway: ArweaveGateway;
  /** Other nodes to ask about a target, by address (the --peer seeds; a newer location record of one replaces its URL); every scheduler with a location record is asked too. */
  peers?: Record<string, string>;
  /** Definite misses of a target, at least 0.5 s apart, after which it is an account (default 5). */
  accountAfter?: number;
  /** Per-request timeout of a push or a question to another node (default 10 s). */
  timeoutMs?: number;
}

export function deliveryRoutes(options: DeliveryRoutesOptions): DeliveryRoutes {
  const timeout = () => AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const { locations } = options;

  /** The scheduler of a target that is not scheduled here: from the gateway's index, else from a node that schedules it. */
  async function schedulerOf(target: string): Promise<{ scheduler?: string; account?: string; asked: string[]; unreachable: number }> {
    const asked: string[] = [];
    let unreachable = 0;
    try {
      const found = await lookupSpawn(options.gateway, target);
      asked.push('the gateway');
      if (found.kind === 'process') return { scheduler: found.scheduler, asked, unreachable };
      if (found.kind === 'not-a-process') return { account: `${target} is an item of Type ${found.type} on Arweave, not a process`, asked, unreachable };
    } catch {
      unreachable++; // the gateway down: the nodes below may still know
    }
    // Every scheduler ever seen is asked, at its current URL; one whose location cannot be
    // found (its record expired) is no longer asked, one that does not answer makes the miss
    // indefinite, so a process on a node that is down is never taken for an account.
    for (const record of locations.cached()) {
      if (record.address !== options.address) seen.set(record.address, { url: record.url, expiresAt: record.timestamp + record.ttlMs });
    }
    const urls = new Set<string>();
    for (const [address, last] of seen) {
      const record = await locations.resolve(address).catch(() => undefined);
      if (record) urls.add(record.url);
      else if (Date.now() <= last.expiresAt) urls.add(last.url); // dropped after a failure, not expired: still asked
      else seen.delete(address);
    }
    for (const url of urls) {
      try {
        const response = await fetch(`${url}/~scheduler@1.0/slot?target=${target}`, { signal: timeout() });
        asked.push(url);
        if (response.ok) {
          const body = (await response.json()) as { scheduler?: string };
          if (body.scheduler) return { scheduler: body.scheduler, asked, unreachable };
        } else await response.body?.cancel();
      } catch {
        unreachable++; // asked again on the next attempt
      }
    }
    return { asked, unreachable };
  }

  // A process's scheduler never changes (its spawn names it): found once, kept.
  const schedulers = new Map<string, string>();
  // Seeds are asked at their configured URL until a location record of theirs says otherwise.
  const seen = new Map<string, { url: string; expiresAt: number }>(Object.entries(options.peers ?? {}).map(([address, url]) => [address, { url, expiresAt: Infinity }]));
  // A target is an account once enough definite misses, spaced out, agree; then it stays one
  // (an address never becomes a process ID), so the next message to it settles at once.
  const misses = new Map<string, { count: number; last: number }>();
  const accounts = new Set<string>();
  const accountAfter = options.accountAfter ?? 5;

  return {
    async locate(target: string): Promise<Route> {
      let scheduler = options.store.processes.get(target)?.scheduler ?? schedulers.get(target);
      if (scheduler === options.address) return { kind: 'local' };
      if (scheduler === undefined) {
        if (accounts.has(target)) return { kind: 'account' };
        const found = await schedulerOf(target);
        if (found.account) return { kind: 'account' };
        if (!found.scheduler) {
          const asked = found.asked.length ? found.asked.join(', ') : 'nobody reachable';
          const reason = `no scheduler knows ${target} as a process (asked ${asked}${found.unreachable ? `; ${found.unreachable} did not answer` : ''})`;
          if (found.unreachable > 0) return { kind: 'unknown', reason };
          const now = Date.now();
          const miss = misses.get(target) ?? { count: 0, last: -Infinity };
          if (now - miss.last >= 500) misses.set(target, { count: miss.count + 1, last: now });
          if ((misses.get(target)?.count ?? 0) < accountAfter) return { kind: 'unknown', reason, definite: true };
          misses.delete(target);
          accounts.add(target);
          return { kind: 'account' };
        }
        scheduler = found.scheduler;
        schedulers.set(target, scheduler);
      }
      if (scheduler === options.address) return { kind: 'unknown', reason: `${target} names this node as its scheduler but is not in its schedule` };
      const record = await locations.resolve(scheduler);
      if (!record) return { kind: 'unknown', reason: `the location of ${target}'s scheduler ${scheduler} is not known yet` };
      return { kind: 'remote', scheduler, url: record.url };
    },

    async push(url: string, bundle: Uint8Array): Promise<PushAnswer> {
      const response = await fetch(`${url}/~scheduler@1.0/push`, { method: 'POST', body: bundle as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream' }, redirect: 'manual', signal: timeout() });
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: said below
      }
      if (response.status === 307) return { redirect: { scheduler: body.scheduler as string | undefined, record: body.record as string | undefined } };
      if (!response.ok) throw new Error(`${url} answered ${response.status}: ${String(body.message ?? text).slice(0, 300)}`);
      // One pushed message is answered with its assignment, several with {assignments: […]} in order.
      type Answer = { process: string; slot: number; message: string; assignment: string; signer: string };
      const answers = (Array.isArray(body.assignments) ? body.assignments : [body]) as Answer[];
      return { assignments: answers.map(({ process, slot, message, assignment, signer }) => ({ process, slot, message, id: assignment, signer })) };
    },

    async redirected(answer) {
      if (answer.record) {
        const record = locations.accept(fromB64url(answer.record));
        if (answer.scheduler && record.address !== answer.scheduler) throw new Error(`a redirect to ${answer.scheduler} carried the location record of ${record.address}`);
        return record.url;
      }
      return answer.scheduler ? (await locations.resolve(answer.scheduler))?.url : undefined;
    },

    failed(scheduler: string) {
      locations.invalidate(scheduler);
    },
  };
}
