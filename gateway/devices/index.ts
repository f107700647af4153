// The device registry, in the manner of HyperBEAM's preloaded_devices: the one table of what
// this node answers. The front door (gateway/server.ts) parses every path with the singleton
// grammar and asks `resolve` which key of which device answers it; the no-route help and the
// OpenAPI document (gateway/devices/openapi.ts) are written from the same table.
//
// A path resolves, in order:
// 1. `/~name/key`: the device of that name, if it answers that key for the method;
// 2. `/<id>/key`: the first device addressed by an ID whose key claims that ID (a process
//    this node schedules);
//    `/~name/key/<id>` too, for a key that takes a trailing ID (the ID is the last message);
// 3. any path ending in a key that a device answers whatever the base (Compute's `compute`,
//    which then says why the base is not a module ID);
// else it is 404 with the help.
import { isId } from '../../engine/protocol/encoding.ts';
import { notFound, type HyperError } from '../../engine/protocol/errors.ts';
import type { NodeContext } from '../context.ts';
import type { PathMessage } from '../singleton.ts';
import type { Device, Key, Method } from './device.ts';
import { compute } from './compute.ts';
import { processDevice } from './process.ts';
import { scheduler } from './scheduler.ts';
import { location } from './location.ts';
import { registry } from './registry.ts';
import { router } from './router.ts';
import { p4 } from './p4.ts';
import { meta } from './meta.ts';

/** Every device this node serves, in the order the help lists them. */
export const DEVICES: readonly Device[] = [compute, processDevice, scheduler, location, p4, registry, router, meta];

export class Registry {
  private readonly named = new Map<string, Key>();
  private readonly claimed = new Map<string, Key[]>();
  private readonly anyBase = new Map<string, Key>();
  /** The help's list of routes, written once. */
  private readonly serves: string;

  constructor(readonly devices: readonly Device[] = DEVICES) {
    for (const device of devices) {
      for (const key of device.keys) {
        const at = `${key.method} ${key.key}`;
        if (device.address === 'name') this.named.set(`${device.name} ${at}`, key);
        else if (key.claims) this.claimed.set(at, [...(this.claimed.get(at) ?? []), key]);
        else this.anyBase.set(at, key);
      }
    }
    this.serves = devices.flatMap((d) => d.keys.map((k) => `${k.method} ${k.usage}`)).join(', ');
  }

  /** The key answering a parsed path, if any (HEAD is answered as GET). */
  resolve(node: NodeContext, messages: PathMessage[], method: Method): Key | undefined {
    const [base, ...rest] = messages;
    if (rest.length === 2 && isId(rest[1]) && typeof base === 'object' && 'as' in base && Array.isArray(base.as)) {
      const middle = rest[0];
      const name = middle && typeof middle === 'object' && 'path' in middle ? String(middle.path).toLowerCase() : undefined;
      const key = name === undefined ? undefined : this.named.get(`${base.as[0]} ${method} ${name}`);
      return key?.trailingId ? key : undefined;
    }
    const last = rest.at(-1);
    const name = last && typeof last === 'object' && 'path' in last ? String(last.path).toLowerCase() : undefined;
    if (name === undefined) return undefined;
    const at = `${method} ${name}`;
    if (rest.length === 1) {
      if (typeof base === 'object' && 'as' in base && Array.isArray(base.as)) {
        const key = this.named.get(`${base.as[0]} ${at}`);
        if (key) return key;
      } else if (isId(base)) {
        const key = this.claimed.get(at)?.find((k) => k.claims!(node, base as string));
        if (key) return key;
      }
    }
    return this.anyBase.get(at);
  }

  /** 404 for a path no device answers, listing every route this node serves. */
  noRoute(method: string, url: string): HyperError {
    return notFound(`no route for ${method} ${url.slice(0, 200)}; this node serves ${this.serves}`);
  }
}
