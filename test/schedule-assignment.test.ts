// The assignment fast paths (engine/protocol/assignment.ts) pinned against the generic codec:
// the item unsignedAssignment + signedAssignment make is createDataItem's, byte for byte, and
// readAssignmentBytes gives readAssignment(parseDataItem(raw))'s value, or its very error, for
// every shape (plain, and each way an item can leave the plain shape). Milliseconds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createDataItem, ed25519Signer, parseDataItem } from '../engine/protocol/ans104/data-item.ts';
import { readAssignment, readAssignmentBytes, signedAssignment, unsignedAssignment, type Assignment } from '../engine/protocol/assignment.ts';
import { assignmentTags, messageTags } from '../engine/protocol/vocabulary.ts';
import { b64url } from '../engine/protocol/encoding.ts';

const test = suite('schedule-assignment');
const node = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
const other = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
const id = () => b64url(crypto.getRandomValues(new Uint8Array(32)));
const address = (signer: typeof node) => parseDataItem(createDataItem(signer, { data: '' }).raw).ownerAddress;

function fieldsOf(slot: number, timestamp = 1_764_000_000_000, height = 1_500_000): Assignment {
  return { process: id(), slot, message: id(), 'hash-chain': id(), timestamp, 'block-height': height };
}
const generic = (signer: typeof node, fields: Assignment) => createDataItem(signer, { target: fields.process, tags: assignmentTags(fields), data: '' });

/** What the generic path answers for raw bytes: the value, or the error's message. */
function genericRead(raw: Uint8Array): unknown {
  try {
    return readAssignment(parseDataItem(raw));
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}
function fastRead(raw: Uint8Array): unknown {
  try {
    return readAssignmentBytes(raw);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

test('unsignedAssignment + signedAssignment make createDataItem’s item, byte for byte, and its SignedAssignment', () => {
  const cases = [fieldsOf(0), fieldsOf(1), fieldsOf(99_999_999, 0, 0), fieldsOf(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 2 ** 40)];
  for (const signer of [node, other, node]) {
    for (const fields of cases) {
      const expected = generic(signer, fields);
      const unsigned = unsignedAssignment(signer.publicKey, fields)!;
      assert.ok(unsigned, 'the plain shape');
      const made = signedAssignment(unsigned, new Uint8Array(sign(null, unsigned.message, signer.privateKey)), address(signer));
      assert.equal(made.raw, expected.raw);
      assert.equal(made, readAssignment(parseDataItem(expected.raw)));
    }
  }
});

test('unsignedAssignment declines what createDataItem would refuse or encode otherwise', () => {
  assert.is(unsignedAssignment(node.publicKey, { ...fieldsOf(1), process: 'not an id' }), undefined);
  assert.is(unsignedAssignment(node.publicKey, { ...fieldsOf(1), process: `${id().slice(0, 42)}B` }), undefined); // non-canonical spare bits
  assert.is(unsignedAssignment(new Uint8Array(31), fieldsOf(1)), undefined);
});

test('readAssignmentBytes is readAssignment(parseDataItem(raw)) on assignments, with their id and raw', () => {
  for (const fields of [fieldsOf(0), fieldsOf(7), fieldsOf(123_456)]) {
    for (const signer of [node, other]) {
      const raw = generic(signer, fields).raw;
      const read = readAssignmentBytes(raw);
      assert.equal(read, readAssignment(parseDataItem(raw)));
      assert.ok(read.raw === raw);
    }
  }
});

test('readAssignmentBytes gives the generic answer (value or error) off the plain shape', () => {
  const fields = fieldsOf(3);
  const tags = assignmentTags(fields);
  const shapes: Uint8Array[] = [
    createDataItem(node, { target: fields.process, tags, data: '', anchor: id() }).raw, // an anchor
    createDataItem(node, { tags, data: '' }).raw, // no target
    createDataItem(node, { target: fields.process, tags: [...tags, { name: 'Note', value: 'é' }], data: '' }).raw, // a non-ASCII tag
    createDataItem(node, { target: fields.process, tags: [{ name: 'Slot', value: '9' }, ...tags], data: 'x' }).raw, // a repeated tag: the first wins
    createDataItem(node, { target: fields.process, tags: tags.filter((t) => t.name !== 'Hash-Chain'), data: '' }).raw, // a missing tag
    createDataItem(node, { target: fields.process, tags: messageTags(), data: '' }).raw, // not an assignment
    createDataItem(node, { target: fields.process, data: '' }).raw, // no tags
    new Uint8Array([2, 0, 1, 2, 3]), // truncated
    new TextEncoder().encode('hello'),
  ];
  // Tags in two Avro blocks (what the reader allows, and arbundles never writes): same tags, other bytes.
  const plain = generic(node, fields).raw;
  const twoBlocks = reblock(plain);
  shapes.push(twoBlocks);
  // A tag header whose count disagrees with the block's.
  const badCount = plain.slice();
  badCount[132] = 8;
  shapes.push(badCount);
  for (const raw of shapes) assert.equal(fastRead(raw), genericRead(raw));
  assert.is((readAssignmentBytes(shapes[3]!) as { slot: number }).slot, 9);
});

/** The same item with its tag block split in two (count 1, then the rest); the signature no longer matters here. */
function reblock(raw: Uint8Array): Uint8Array {
  const tagLength = raw[140]! | (raw[141]! << 8);
  const tags = raw.subarray(148, 148 + tagLength);
  const count = tags[0]! >> 1;
  // the first pair's bytes: name length, name, value length, value (one-byte varints here)
  let at = 1;
  at += 1 + (tags[at]! >> 1);
  at += 1 + (tags[at]! >> 1);
  const reblocked = new Uint8Array([2, ...tags.subarray(1, at), (count - 1) * 2, ...tags.subarray(at)]);
  const out = new Uint8Array(148 + reblocked.length + (raw.length - 148 - tagLength));
  out.set(raw.subarray(0, 148));
  out[140] = reblocked.length & 0xff;
  out[141] = reblocked.length >> 8;
  out.set(reblocked, 148);
  out.set(raw.subarray(148 + tagLength), 148 + reblocked.length);
  return out;
}

test.run();
