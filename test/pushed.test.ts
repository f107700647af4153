// The pushed-message format (docs/PROTOCOL.md §21), pinned by vectors: a fixed key and entry
// give the same bytes and ID every time (so a retry is the same message), the anchor is
// sha256(source ‖ u64be(slot) ‖ u32be(index)), and a handler's bad entries are named.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey } from 'node:crypto';
import { ed25519Signer, parseDataItem, verifyDataItem } from '../engine/protocol/ans104/data-item.ts';
import { b64url } from '../engine/protocol/encoding.ts';
import { pushAnchor, readOutboxMessage, readPushOrigin, signPushed } from '../engine/protocol/pushed.ts';

const test = suite('pushed');
const seed = Buffer.alloc(32, 7);
const signer = ed25519Signer(createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' }));
const id = (c: string) => c.repeat(42) + 'A';
const origin = { process: 'A'.repeat(43), slot: 3, index: 1, record: `${id('B')}/${id('E')}`, pushedFor: id('C') };
const message = { target: id('D'), tags: [{ name: 'Action', value: 'Credit-Notice' }], data: 'hi' };

test('vectors: the anchor, and the item\'s ID under a fixed key (the same bytes on every signing)', () => {
  assert.is(b64url(pushAnchor(origin)), 'XkHWEqmi-Bf_I2dVdc_u7b4LGIhCM6niVdV7S67GVSM');
  assert.is(b64url(signer.publicKey), '6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw');
  const item = signPushed(signer, origin, message);
  assert.is(item.id, 'dnGXqar9iBAUKl9uaHMgksAOTEt1XwXHElwh6yaeog4');
  assert.is(item.raw.length, 502);
  assert.equal(signPushed(signer, origin, message).raw, item.raw);
  const parsed = parseDataItem(item.raw);
  assert.ok(verifyDataItem(parsed));
  assert.equal(parsed.tags.map((t) => t.name), ['Data-Protocol', 'Variant', 'Type', 'From-Process', 'From-Slot', 'Outbox-Index', 'From-Record', 'Pushed-For', 'Action']);
  assert.equal(readPushOrigin(parsed), origin);
});

test('a pushed item whose anchor or origin tags are wrong is refused with the reason', () => {
  const item = parseDataItem(signPushed(signer, origin, message).raw);
  const retagged = { ...item, tags: item.tags.map((t) => (t.name === 'From-Slot' ? { ...t, value: '4' } : t)) };
  assert.throws(() => readPushOrigin(retagged), /anchor is not sha256/);
  const twice = { ...item, tags: [...item.tags, { name: 'Outbox-Index', value: '1' }] };
  assert.throws(() => readPushOrigin(twice), /exactly one Outbox-Index/);
  const text = { ...item, tags: item.tags.map((t) => (t.name === 'From-Slot' ? { ...t, value: '03' } : t)) };
  assert.throws(() => readPushOrigin(text), /whole numbers in decimal/);
});

test('a handler\'s outgoing messages: what cannot be sent says why', () => {
  assert.equal(readOutboxMessage({ target: id('D') }), { target: id('D'), tags: [], data: '' });
  const why = (entry: any) => (readOutboxMessage(entry) as { invalid: string }).invalid;
  assert.match(why('text'), /JSON object/);
  assert.match(why({ target: 'nope' }), /43-character/);
  assert.match(why({ target: 'D'.repeat(43) }), /canonical/);
  assert.match(why({ target: id('D'), data: 5 }), /data must be a string/);
  assert.match(why({ target: id('D'), tags: [{ name: 'From-Process', value: id('E') }] }), /may not set the tag From-Process/);
  assert.match(why({ target: id('D'), tags: [{ name: 'A', value: 1 }] }), /every tag/);
  assert.match(why({ target: id('D'), tags: Array.from({ length: 121 }, () => ({ name: 'A', value: 'b' })) }), /at most 120 tags/);
});

test.run();
