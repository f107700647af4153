// ~p4@1.0: the node's ledger, in the manner of HyperBEAM's dev_p4: the node (never the module)
// checks signatures, keeps balances and charges. The pricing, checking, running, charging and
// keeping of attested receipts is the engine's (engine/payments.ts); this device is its HTTP
// face, and the paid call itself is `POST /<module-id>/compute` (gateway/devices/compute.ts).
//
//   GET  /~p4@1.0/balance?address=<address>
//        Returns the address's balance, a decimal string in the ledger unit (0 if never seen).
//        No side effects.
//   POST /~p4@1.0/topup   body: a top-up item signed by the node's operator, with Recipient
//        and Quantity tags
//        Returns the recipient, the quantity, the new balance and the top-up's item ID. Side
//        effects: credits the recipient once per top-up item (a repeat credits nothing);
//        403 unless the operator signed it.
import { badRequest } from '../../engine/protocol/errors.ts';
import { isId } from '../../engine/protocol/encoding.ts';
import { itemBody, type Device, type Schema } from './device.ts';
import { ID, string } from './schemas.ts';

const BALANCE: Schema = { type: 'object', properties: { address: ID, balance: string('a decimal string, in the ledger unit') } };
const TOPUP: Schema = {
  type: 'object',
  properties: { recipient: string(), quantity: string(), balance: string('the recipient\'s balance after the top-up'), topup: ID },
};

export const p4: Device = {
  name: 'p4@1.0',
  address: 'name',
  about: 'balances and operator top-ups for paid calls',
  keys: [
    {
      method: 'GET',
      key: 'balance',
      usage: '/~p4@1.0/balance?address=<address>',
      summary: 'a balance',
      params: [{ name: 'address', description: 'a 43-character address', required: true }],
      response: BALANCE,
      answer: (call) => {
        const address = call.last.address;
        if (!isId(address)) throw badRequest(`address must be a 43-character address, got ${JSON.stringify(address ?? null)}`);
        return call.json({ address, balance: String(call.node.ledger.balance(address)) }, BALANCE);
      },
    },
    {
      method: 'POST',
      key: 'topup',
      usage: '/~p4@1.0/topup',
      summary: 'an operator-signed top-up',
      body: 'a signed ANS-104 data item from the node\'s operator: Recipient and Quantity tags',
      response: TOPUP,
      answer: (call) => call.node.payments.topup(itemBody(call)).then((done) => call.json(done, TOPUP)),
    },
  ],
};
