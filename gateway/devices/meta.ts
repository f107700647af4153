// ~meta@1.0: the node describing itself.
//
//   GET /~meta@1.0/info     Assumes nothing. Returns the node's name, version, address and
//                           public key, its wallet and gateway, the example modules it
//                           published, the block height it sees, its prices and gas bounds,
//                           its outbox, and the kernels' adapter (`{probing: true}` while the
//                           GPU worker is still acquiring it). No side effects.
//   GET /~meta@1.0/gpu      Assumes nothing. Returns the adapter serving module kernel calls,
//                           or the CPU references and why; waits while it is being acquired.
//                           No side effects.
//   GET /~meta@1.0/openapi  Assumes nothing. Returns this node's HTTP API as an OpenAPI 3
//                           document, written from the device registry (so it lists exactly
//                           the keys the node answers). No side effects.
import type { Device, Schema } from './device.ts';
import { boolean, number, open, string } from './schemas.ts';
import { openapi } from './openapi.ts';

const RATES_INFO = open('the node\'s own fee and gas bounds', {
  flat: string('added to every priced call, in the ledger unit'),
  'per-kgas': string('added per 1000 gas of a priced call'),
  unit: string(),
  'max-gas': number('the largest gas budget of a stateless call'),
  'default-gas-limit': number('the budget of a call that names none'),
});

const GPU: Schema = open('the adapter serving module kernel calls (engine/gpu/adapter.ts GpuDescription)', {
  vendor: string(),
  architecture: string(),
  device: string(),
  description: string(),
  isFallbackAdapter: boolean(),
  backend: { type: 'string', enum: ['gpu', 'cpu'] },
  source: { type: 'string', enum: ['hardware', 'lavapipe', 'system-fallback', 'none'] },
  features: { type: 'array', items: string() },
  reason: string('why there is no GPU, when backend is cpu'),
});

const INFO = open('the node', {
  name: string(),
  version: string(),
  address: string('the node key\'s address: it signs assignments, attestations and receipts'),
  'public-key': string('the ed25519 public key, unpadded base64url'),
  'key-type': string(),
  wallet: string('the Arweave wallet that pays for publication'),
  gateway: string('the Arweave gateway URL'),
  'gateway-embedded': boolean(),
  engine: string('this build: hyperwasm, Node.js and V8 versions (not the statements\' engine)'),
  modules: open('example modules by name → module ID'),
  'block-height': number(),
  prices: RATES_INFO,
  outbox: open('items waiting for publication, and the publisher\'s counters'),
  gpu: open('as ~meta@1.0/gpu, or {probing: true} while the adapter is being acquired'),
});

export const meta: Device = {
  name: 'meta@1.0',
  address: 'name',
  about: 'the node describing itself',
  keys: [
    {
      method: 'GET',
      key: 'info',
      usage: '/~meta@1.0/info',
      summary: 'node information',
      response: INFO,
      answer: (call) => call.json(call.node.info()),
    },
    {
      method: 'GET',
      key: 'gpu',
      usage: '/~meta@1.0/gpu',
      summary: 'the WebGPU adapter serving the kernels',
      response: GPU,
      answer: (call) => call.node.gpu().then((gpu) => call.json(gpu)),
    },
    {
      method: 'GET',
      key: 'openapi',
      usage: '/~meta@1.0/openapi',
      summary: 'this API as an OpenAPI 3 document',
      response: open('an OpenAPI 3.0 document', { openapi: string() }),
      answer: (call) => call.json(openapi(call.devices)),
    },
  ],
};
