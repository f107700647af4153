// The node's HTTP API as an OpenAPI 3 document, written from the device registry rather than
// from fastify's routes: the node has one catch-all route (every path is a singleton path,
// gateway/server.ts), so a route-reading generator such as @fastify/swagger would see only
// `/*`. A key addressed by an ID is documented under `/{id}/…`; where two devices answer the
// same shape (a module's and a process's `compute`), their keys share one operation.
import type { Device, Key, Schema } from './device.ts';
import { ERROR } from './schemas.ts';
import { VERSION } from '../version.ts';

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
}

interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  parameters: Parameter[];
  requestBody?: { required: true; description: string; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content: Record<string, { schema: Schema }> }>;
}

interface Parameter { name: string; in: 'path' | 'query'; required: boolean; description: string; schema: Schema }

const written = new WeakMap<readonly Device[], OpenApiDocument>();

export function openapi(devices: readonly Device[]): OpenApiDocument {
  let document = written.get(devices);
  if (!document) written.set(devices, (document = write(devices)));
  return document;
}

/** Where a key sits in the document: its usage without the keys, `<…>` as `{…}`, an ID as `{id}`. */
export function templateOf(device: Device, key: Key): string {
  const path = key.usage.split(/[?&]/)[0]!;
  return device.address === 'id' ? path.replace(/^\/<[^>]+>/, '/{id}') : path.replace(/<([^>]+)>/g, '{$1}');
}

function write(devices: readonly Device[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const device of devices) {
    for (const key of device.keys) {
      const template = templateOf(device, key);
      const method = key.method.toLowerCase();
      const operations = (paths[template] ??= {});
      const known = operations[method];
      operations[method] = known ? merge(known, device, key) : operation(device, key, template);
    }
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'hyperwasm',
      version: VERSION,
      description:
        'A hyperwasm node. Every path is read with the HyperBEAM singleton grammar (docs/PROTOCOL.md §8): ' +
        'a key may equally be a query parameter or written inline after its segment (`/<process-id>/compute&slot=3`).',
    },
    // A device may come in several files under one name (scheduler@1.0 and its location keys): one tag each.
    tags: [...new Map(devices.map((device) => [device.name, { name: device.name, description: device.about }])).values()].map((tag) => ({
      ...tag,
      description: devices.filter((d) => d.name === tag.name).map((d) => d.about).join('; '),
    })),
    paths,
  };
}

function operation(device: Device, key: Key, template: string): Operation {
  const inPath = [...template.matchAll(/\{([^}]+)\}/g)].map(([, name]) => name!);
  return {
    operationId: operationId(device, key),
    tags: [device.name],
    summary: key.summary,
    description: describe(device, key),
    parameters: [
      ...inPath.map((name): Parameter => ({ name, in: 'path', required: true, description: name === 'id' ? idOf(key) : name, schema: { type: 'string' } })),
      ...(key.params ?? []).map(query),
    ],
    ...(key.body
      ? { requestBody: { required: true as const, description: key.body, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } }
      : {}),
    responses: {
      '200': { description: key.summary, content: { 'application/json': { schema: key.response } } },
      default: { description: 'an error; its status comes from its kind', content: { 'application/json': { schema: ERROR } } },
    },
  };
}

function merge(known: Operation, device: Device, key: Key): Operation {
  const names = new Set(known.parameters.map((p) => p.name));
  const ok = known.responses['200']!;
  const schema = ok.content['application/json']!.schema;
  return {
    ...known,
    operationId: `${known.operationId}-or-${operationId(device, key)}`,
    tags: known.tags.includes(device.name) ? known.tags : [...known.tags, device.name],
    summary: `${known.summary}, or ${key.summary}`,
    description: `${known.description}\n\n${describe(device, key)}`,
    // A key one of them needs is no longer needed by every request of the shared operation.
    parameters: [...known.parameters, ...(key.params ?? []).filter((p) => !names.has(p.name)).map(query)].map((p) =>
      p.in === 'query' ? { ...p, required: false } : p.name === 'id' && !p.description.includes(idOf(key)) ? { ...p, description: `${p.description} or ${idOf(key)}` } : p,
    ),
    responses: {
      ...known.responses,
      '200': { description: `${ok.description}, or ${key.summary}`, content: { 'application/json': { schema: { oneOf: [...((schema.oneOf as Schema[]) ?? [schema]), key.response] } } } },
    },
  };
}

/** What the ID at the head of a key's path names, as its usage says: `module ID`, `process ID`. */
const idOf = (key: Key) => `a ${(/^\/<([^>]+)>/.exec(key.usage)?.[1] ?? 'id').replace(/-id$/, ' ID')}`;
const operationId = (device: Device, key: Key) => `${key.method.toLowerCase()}-${device.name.replace(/@.*/, '')}-${key.key}`;
const describe = (device: Device, key: Key) => `${device.name}: ${key.summary}, as ${key.method} ${key.usage}`;
const query = (param: NonNullable<Key['params']>[number]): Parameter => ({
  name: param.name,
  in: 'query',
  required: param.required ?? false,
  description: param.description,
  schema: param.schema ?? { type: 'string' },
});
