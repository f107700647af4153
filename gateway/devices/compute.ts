// The WASM Compute device: stateless calls of a module's exported function, addressed by the
// module's ID (docs/PROTOCOL.md §4-§6).
//
//   GET  /<module-id>/compute?wasm-function=<name>&wasm-params=<JSON array>[&gas-limit=<n>]
//        Assumes the ID names a module on the Arweave gateway (fetched, checked against its
//        signed ID, metered and compiled once). Returns the result record: function, params,
//        result, result-encoding, result-hash, gas, hashpath and the node's attestation, with
//        `cache: hit|miss` (and the x-cache header). Side effects: runs once per hashpath,
//        keeps the record in the result cache and queues its attestation; a priced module
//        answers 401 naming its price instead (unsigned calls are free calls only).
//   GET  …&cost-only
//        Returns the exact gas and price of the call, for free or priced modules alike. Side
//        effects: runs it once, metered and cached as above; charges nothing.
//   POST /<module-id>/compute   body: a signed request item (Wasm-Function and Gas-Limit tags,
//        the parameters as its data, a JSON array)
//        Returns the record; for a priced module with a receipt (payer, amount, split) and its
//        attestation. Side effects: charges the signer once per request item (402 if the
//        balance does not cover it), keeping the receipt with its attestation (~p4@1.0).
// Any path ending in `compute` that no other device took comes here, to be told why its base
// is not a module ID.
import type { FastifyReply } from 'fastify';
import { badRequest } from '../../engine/protocol/errors.ts';
import { isId } from '../../engine/protocol/encoding.ts';
import { planCompute } from '../../engine/compute.ts';
import type { PathMessage } from '../singleton.ts';
import { itemBody, type Call, type Device, type Param, type Schema } from './device.ts';
import { hotAnswers } from './hot-answers.ts';
import { sendRecord } from './record.ts';
import { ID, RECORD, boolean, number, open, string } from './schemas.ts';

const PARAMS: Param[] = [
  { name: 'wasm-function', description: 'the exported function to call', required: true },
  { name: 'wasm-params', description: 'its parameters, a JSON array such as [5.0] or [{"text":"hello"}] (default [])' },
  { name: 'gas-limit', description: 'the call\'s gas budget (default: the node\'s default-gas-limit; at most its max-gas); not part of the hashpath' },
  { name: 'cost-only', description: 'answer the exact gas and price instead of the result (true)' },
];

const COST_ONLY: Schema = {
  type: 'object',
  description: 'the exact gas and price of the call',
  properties: {
    module: ID,
    hashpath: string(),
    gas: number(),
    'gas-limit': number(),
    price: open('what a signed call would be charged, in the ledger unit', { amount: string(), gas: string(), split: open('node and owner shares', { node: string(), owner: string() }) }),
    exact: boolean(),
    priced: boolean(),
  },
  additionalProperties: true,
};
// Only `cache` is listed: it comes first, and the record's own fields follow in their order.
const PAID: Schema = open(
  'the result record; for a priced module followed by `receipt` (payer, amount, gas, split) and `receipt-attestation`, the node\'s signed receipt statement',
  { cache: { type: 'string', enum: ['hit', 'miss'] } },
);

export const compute: Device = {
  name: 'wasm-compute@1.0',
  address: 'id',
  about: 'stateless calls of a WebAssembly module\'s exported functions',
  keys: [
    {
      method: 'GET',
      key: 'compute',
      usage: '/<module-id>/compute?wasm-function=<name>&wasm-params=<JSON array>',
      summary: 'stateless Compute',
      params: PARAMS,
      response: { oneOf: [RECORD, COST_ONLY] },
      answer: (call) => {
        const module = moduleOf(call);
        const costOnly = call.last['cost-only'] === true || call.last['cost-only'] === 'true';
        const plan = planCompute(module, call.last, call.node.maxGas);
        const { node, reply } = call;
        if (costOnly) return node.payments.costOnly(plan).then((cost) => call.json(cost, COST_ONLY));
        return node.payments.requireFree(plan).then(() => {
          // Only free plans are remembered: a priced one must answer 401 every time.
          const hot = hotAnswers(node);
          call.remember((later: FastifyReply) => {
            // The hot path: a repeated URL answered from memory, else from LMDB, without a promise in between.
            if (hot.send(later, plan.hashpath)) return later;
            const hit = node.compute.cached(plan);
            if (!hit) return node.compute.run(plan).then((answer) => sendRecord(later, answer));
            hot.keep(plan.hashpath, hit);
            return sendRecord(later, hit);
          });
          return node.compute.run(plan).then((answer) => sendRecord(reply, answer));
        });
      },
    },
    {
      method: 'POST',
      key: 'compute',
      usage: '/<module-id>/compute',
      summary: 'a signed, possibly paid, stateless call',
      body: 'a signed ANS-104 request item: Wasm-Function and Gas-Limit tags, the parameters (a JSON array) as its data',
      response: PAID,
      answer: (call) => {
        const module = moduleOf(call);
        return call.node.payments.paidCall(module, itemBody(call)).then((answer) => call.json(answer, PAID));
      },
    },
  ],
};

/** The module a call names: the ID at the head of a two-segment path. */
function moduleOf(call: Call): string {
  const { base, messages } = call;
  if (typeof base !== 'string' || !isId(base) || messages.length !== 2) {
    throw badRequest(`${JSON.stringify(describe(messages.at(-2)!))} is not a module ID (43 base64url characters)`);
  }
  return base;
}

const describe = (m: PathMessage) => (typeof m === 'string' ? m : 'path' in m ? m.path : m);
