// The ANS-104 codec on node:crypto (engine/protocol/ans104/data-item.ts, engine/protocol/ans104/deep-hash.ts) against
// arbundles and arweave-js, the implementations the rest of the Arweave world uses: same
// deep hash, same Avro tags, same bytes for the same ed25519 key, each other's items
// accepted, and no byte of a signed item changeable without detection. Also the vectors of
// docs/PROTOCOL.md §10 (an item's layout and deep hash) and §7 (Arweave chunking, data_root and
// signature data), computed from the document's own formulas.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import Arweave from 'arweave';
import { ArweaveSigner, DataItem as ArDataItem, SolanaSigner, createData, deepHash as arbundlesDeepHash, deserializeTags, serializeTags } from 'arbundles';
import * as arweaveDeepHashModule from 'arweave/node/lib/deepHash.js';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';
import { deepHash, deepHashFold, deepHashListStart, type DeepHashChunk } from '../engine/protocol/ans104/deep-hash.ts';
import { DataItemError, decodeTags, encodeTags } from '../engine/protocol/ans104/avro-tags.ts';
import {
  SIGNATURE_TYPES,
  createDataItem,
  createRsaDataItem,
  ed25519Signer,
  parseDataItem,
  verifyDataItem,
  type DataItem,
  type DataItemFields,
  type Tag,
} from '../engine/protocol/ans104/data-item.ts';
import { POOL_THRESHOLD, verifyItems, verifyRaw } from '../attest/verify/pool.ts';
import { b64url, fromB64url, utf8 } from '../engine/protocol/encoding.ts';

const test = suite('data items');

// arweave-js ships CommonJS with `exports.default`; under ESM interop that can arrive one level down.
const arweaveDeepHash = ((arweaveDeepHashModule as any).default?.default ?? (arweaveDeepHashModule as any).default) as (data: DeepHashChunk) => Promise<Uint8Array>;

const bytes = (...values: number[]) => Uint8Array.from(values);
const equalBytes = (a: Uint8Array, b: Uint8Array, message?: string) => assert.is(Buffer.compare(Buffer.from(a), Buffer.from(b)), 0, message);

function base58(input: Uint8Array): string {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let n = BigInt(`0x${Buffer.from(input).toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = alphabet[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const byte of input) {
    if (byte !== 0) break;
    out = `1${out}`;
  }
  return out;
}

let jwk: JWKInterface;
let edKey: KeyObject;
/** arbundles' ed25519 signer for the same key as edKey (it takes Solana's base58 seed || public key). */
let arEdSigner: SolanaSigner;

test.before(async () => {
  jwk = await Arweave.init({}).wallets.generate();
  edKey = generateKeyPairSync('ed25519').privateKey;
  const seed = fromB64url(edKey.export({ format: 'jwk' }).d!);
  arEdSigner = new SolanaSigner(base58(Uint8Array.from([...seed, ...ed25519Signer(edKey).publicKey])));
});

const TARGET = b64url(new Uint8Array(32).map((_, i) => i * 7));
const ANCHOR_TEXT = 'anchor-0123456789abcdefghijklmno'; // 32 UTF-8 bytes, as AO clients send it
const FIELD_SETS: { label: string; data: Uint8Array | string; opts: { target?: string; anchor?: string; tags?: Tag[] } }[] = [
  { label: 'bare', data: '', opts: {} },
  { label: 'text data', data: 'hello, arweave', opts: {} },
  { label: 'tags only', data: bytes(1, 2, 3), opts: { tags: [{ name: 'Content-Type', value: 'text/plain' }] } },
  { label: 'target', data: 'x', opts: { target: TARGET } },
  { label: 'anchor', data: 'x', opts: { anchor: ANCHOR_TEXT } },
  {
    label: 'everything',
    data: new Uint8Array(3000).map((_, i) => i % 251),
    opts: {
      target: TARGET,
      anchor: ANCHOR_TEXT,
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Action', value: 'Transfer' },
        { name: 'ünïcødé 🚀', value: 'value with emoji 🎉 and a long tail '.repeat(4) },
      ],
    },
  },
];

async function arbundlesItem(signer: ArweaveSigner | SolanaSigner, data: Uint8Array | string, opts: object): Promise<ArDataItem> {
  const item = createData(data, signer, opts);
  await item.sign(signer);
  return item;
}

function assertSameAsArbundles(mine: DataItem, theirs: ArDataItem, label: string) {
  assert.is(mine.id, theirs.id, `${label}: id`);
  assert.is(mine.signatureType, theirs.signatureType, `${label}: signature type`);
  equalBytes(mine.signature, theirs.rawSignature, `${label}: signature`);
  equalBytes(mine.owner, theirs.rawOwner, `${label}: owner`);
  assert.is(mine.ownerAddress, b64url(createHash('sha256').update(theirs.rawOwner).digest()), `${label}: owner address`);
  assert.is(mine.target ?? '', theirs.target, `${label}: target`);
  assert.is(mine.anchor ?? '', theirs.anchor, `${label}: anchor`);
  assert.equal(mine.tags, theirs.tags, `${label}: tags`);
  equalBytes(mine.data, theirs.rawData, `${label}: data`);
}

// ---------------------------------------------------------------------------------------

test('deepHash equals arweave-js and arbundles on nested inputs', async () => {
  const big = new Uint8Array(100_000).map((_, i) => (i * 31) % 256);
  const inputs: DeepHashChunk[] = [
    new Uint8Array(0),
    bytes(0),
    utf8('dataitem'),
    big,
    [],
    [new Uint8Array(0)],
    [utf8('a'), utf8('bc')],
    [[], [[]], [[[]]]],
    [utf8('list'), [utf8('nested'), [bytes(1, 2, 3), []], big], new Uint8Array(48)],
    Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? [bytes(i)] : new Uint8Array(i))),
  ];
  for (const [i, input] of inputs.entries()) {
    const mine = deepHash(input);
    assert.is(mine.length, 48);
    equalBytes(mine, await arweaveDeepHash(input), `input ${i} vs arweave-js`);
    equalBytes(mine, await arbundlesDeepHash(input), `input ${i} vs arbundles`);
  }
  // A fold continued from a precomputed prefix is the whole list's hash.
  const list = [utf8('dataitem'), utf8('1'), [bytes(9)], new Uint8Array(0), big];
  equalBytes(deepHashFold(deepHashFold(deepHashListStart(list.length), list.slice(0, 2)), list.slice(2)), await arweaveDeepHash(list));
  // Calling again (cached tag hashes) gives the same answer, and a returned empty-list hash
  // is the caller's to keep.
  for (const input of [[], new Uint8Array(0)]) {
    deepHash(input).fill(0);
    equalBytes(deepHash(input), await arweaveDeepHash(input));
  }
  deepHashListStart(3).fill(0);
  equalBytes(deepHash([bytes(1), bytes(2), bytes(3)]), await arweaveDeepHash([bytes(1), bytes(2), bytes(3)]));
});

test('Avro tags: encoder and decoder agree with arbundles serializeTags/deserializeTags', () => {
  const edge = (n: number) => 'x'.repeat(n);
  const sets: Tag[][] = [
    [],
    [{ name: 'a', value: 'b' }],
    [{ name: 'Content-Type', value: 'application/json' }, { name: 'ünïcødé 🚀', value: '漢字 and 𝄞' }],
    // Lengths around the zig-zag varint byte boundaries (63/64 and 8191/8192 after doubling),
    // and past 64 bytes where arbundles switches to Buffer.write.
    [63, 64, 65, 127, 128, 1024].map((n) => ({ name: edge(Math.min(n, 1024)), value: edge(n) })).slice(0, 3),
    [{ name: edge(1024), value: edge(3000) }],
    Array.from({ length: 128 }, (_, i) => ({ name: `n${i}`, value: `${i}` })),
    Array.from({ length: 70 }, (_, i) => ({ name: `tag-${i}`, value: 'v' })), // count 70 needs a 2-byte varint
  ];
  for (const [i, tags] of sets.entries()) {
    const theirs = new Uint8Array(serializeTags(tags));
    const mine = encodeTags(tags);
    equalBytes(mine, theirs, `set ${i}: encoding`);
    assert.equal(decodeTags(theirs), tags, `set ${i}: decoding arbundles' bytes`);
    if (tags.length) assert.equal(deserializeTags(Buffer.from(mine)), tags, `set ${i}: arbundles decoding ours`);
  }
  // Other legal Avro spellings of the same array, which arbundles also reads: two blocks,
  // and a negative-count block carrying its byte size.
  const twoBlocks = bytes(2, 2, 0x61, 2, 0x62, 2, 2, 0x63, 2, 0x64, 0);
  const sized = bytes(1, 8, 2, 0x61, 2, 0x62, 0); // count -1, block of 4 bytes
  for (const encoded of [twoBlocks, sized]) assert.equal(decodeTags(encoded), deserializeTags(Buffer.from(encoded)));
});

test('Avro tags: malformed encodings are refused with the problem named', () => {
  const cases: [Uint8Array, RegExp][] = [
    [bytes(2, 2, 0x61), /truncated at the tag 0 value length/],
    [bytes(2, 8, 0x61), /truncated in tag 0 name/],
    [bytes(2, 2, 0x61, 2, 0x62), /truncated at the block count/],
    [bytes(2, 2, 0x61, 2, 0x62, 0, 0), /1 trailing bytes after the tags/],
    [bytes(2, 1, 0x61, 2, 0x62, 0), /negative length/],
    [bytes(2, 2, 0xff, 2, 0x62, 0), /tag 0 name is not valid UTF-8/],
    [bytes(1, 6, 2, 0x61, 2, 0x62, 0), /block size/],
    [bytes(0x82, 0x02), /too many tags: 129/],
    [bytes(2, 0x82, 0x10), /tag 0 name is 1025 bytes \(at most 1024\)/],
    [Uint8Array.from([2, 2, 0x61, 0x82, 0x30, ...new Uint8Array(3073).fill(0x61), 0]), /tag 0 value is 3073 bytes \(at most 3072\)/],
    [bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /too large|longer than 10 bytes/],
  ];
  for (const [encoded, message] of cases) {
    assert.throws(() => decodeTags(encoded), (e: unknown) => e instanceof DataItemError && message.test(e.message), `expected ${message}`);
  }
  // 129 tags in two legal blocks is still too many.
  const many = [0x80, 0x02, ...Array.from({ length: 128 }, () => [2, 0x61, 2, 0x62]).flat(), 2, 2, 0x61, 2, 0x62, 0];
  assert.throws(() => decodeTags(Uint8Array.from(many)), /too many tags: 129/);
});

test('arbundles RSA items parse to the same fields and verify', async () => {
  const signer = new ArweaveSigner(jwk);
  for (const { label, data, opts } of FIELD_SETS) {
    const theirs = await arbundlesItem(signer, data, opts);
    const mine = parseDataItem(new Uint8Array(theirs.getRaw()));
    assertSameAsArbundles(mine, theirs, `rsa ${label}`);
    assert.is(mine.ownerAddress, await Arweave.init({}).wallets.jwkToAddress(jwk), 'owner address is the wallet address');
    assert.ok(verifyDataItem(mine), `rsa ${label}: verifies`);
  }
});

test('RSA items signed with a 32-byte PSS salt (browser wallets, arweave-js on WebCrypto) verify too', async () => {
  // Node's arweave-js and arbundles sign with the maximum salt (478 bytes); WebCrypto
  // wallets use 32. Both are valid RSA-PSS and both must verify.
  const theirs = createData('from a browser wallet', new ArweaveSigner(jwk), { tags: [{ name: 'App', value: 'wallet' }] });
  const message = await theirs.getSignatureData();
  const key = createPrivateKey({ key: jwk as any, format: 'jwk' });
  await theirs.setSignature(sign('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  assert.ok(await ArDataItem.verify(theirs.getRaw()), 'arbundles verifies it');
  const mine = parseDataItem(new Uint8Array(theirs.getRaw()));
  assert.is(mine.id, theirs.id);
  assert.ok(verifyDataItem(mine));
});

test('arbundles ed25519 items parse to the same fields and verify', async () => {
  for (const { label, data, opts } of FIELD_SETS) {
    const theirs = await arbundlesItem(arEdSigner, data, opts);
    assert.is(theirs.signatureType, 2);
    const mine = parseDataItem(new Uint8Array(theirs.getRaw()));
    assertSameAsArbundles(mine, theirs, `ed25519 ${label}`);
    assert.ok(verifyDataItem(mine), `ed25519 ${label}: verifies`);
  }
});

test('createDataItem is byte-identical to arbundles for the same ed25519 key, and arbundles accepts it', async () => {
  const signer = ed25519Signer(edKey);
  equalBytes(signer.publicKey, arEdSigner.publicKey);
  for (const { label, data, opts } of FIELD_SETS) {
    const mine = createDataItem(signer, { data, ...opts });
    const theirs = await arbundlesItem(arEdSigner, data, opts);
    equalBytes(mine.raw, theirs.getRaw(), `${label}: whole item`);
    assert.ok(verifyDataItem(mine), `${label}: verifies`);
    assert.ok(await ArDataItem.verify(Buffer.from(mine.raw)), `${label}: arbundles verifies`);
    assertSameAsArbundles(mine, new ArDataItem(Buffer.from(mine.raw)), label);
    assert.equal(parseDataItem(mine.raw), mine, `${label}: parsing gives the created item`);
  }
});

test('createRsaDataItem lays out as arbundles does, and both verifiers accept it', async () => {
  const signer = new ArweaveSigner(jwk);
  for (const { label, data, opts } of FIELD_SETS.slice(-2)) {
    const mine = await createRsaDataItem(jwk, { data, ...opts });
    assert.is(mine.signatureType, 1);
    assert.ok(verifyDataItem(parseDataItem(mine.raw)), `${label}: verifies`);
    assert.ok(await ArDataItem.verify(Buffer.from(mine.raw)), `${label}: arbundles verifies`);
    // RSA-PSS signatures are salted (random), so compare everything but the signature.
    const theirs = new Uint8Array((await arbundlesItem(signer, data, opts)).getRaw());
    const sigEnd = 2 + SIGNATURE_TYPES[1].signatureLength;
    assert.is(mine.raw.length, theirs.length);
    equalBytes(mine.raw.subarray(0, 2), theirs.subarray(0, 2), `${label}: type`);
    equalBytes(mine.raw.subarray(sigEnd), theirs.subarray(sigEnd), `${label}: everything after the signature`);
  }
});

test('anchor: 32 bytes of text, raw bytes, or the b64url form DataItem.anchor returns', async () => {
  const signer = ed25519Signer(edKey);
  const fromText = createDataItem(signer, { data: 'a', anchor: ANCHOR_TEXT });
  assert.is(fromText.anchor, b64url(utf8(ANCHOR_TEXT)));
  assert.is(fromText.anchor, (await arbundlesItem(arEdSigner, 'a', { anchor: ANCHOR_TEXT })).anchor);
  const fromBytes = createDataItem(signer, { data: 'a', anchor: utf8(ANCHOR_TEXT) });
  const fromB64 = createDataItem(signer, { data: 'a', anchor: fromText.anchor });
  equalBytes(fromBytes.raw, fromText.raw);
  equalBytes(fromB64.raw, fromText.raw);
  assert.is(Buffer.from(fromB64url(fromB64.anchor!)).toString('utf8'), ANCHOR_TEXT);
  assert.not.ok('anchor' in createDataItem(signer, { data: 'a' }), 'absent anchor is absent, not empty');
  assert.not.ok('target' in createDataItem(signer, { data: 'a' }), 'absent target is absent, not empty');
});

test('createDataItem refuses fields ANS-104 or arbundles would refuse', () => {
  const signer = ed25519Signer(edKey);
  const cases: [DataItemFields, RegExp][] = [
    [{ data: '', tags: Array.from({ length: 129 }, () => ({ name: 'a', value: 'b' })) }, /too many tags: 129/],
    [{ data: '', tags: [{ name: 'x'.repeat(1025), value: 'b' }] }, /tag 0 name is 1025 bytes/],
    [{ data: '', tags: [{ name: 'a', value: 'é'.repeat(1537) }] }, /tag 0 value \(a\) is 3074 bytes/],
    [{ data: '', tags: [{ name: '', value: 'b' }] }, /tag 0 name is empty/],
    [{ data: '', tags: [{ name: 'a', value: 1 } as unknown as Tag] }, /tag 0 must be \{name: string, value: string\}/],
    [{ data: '', tags: [{ name: 'a', value: 'v'.repeat(3000) }, { name: 'b', value: 'v'.repeat(3000) }] }, /tags encode to \d+ bytes \(at most 4096\)/],
    [{ data: '', target: 'short' }, /target must be a 43-character base64url ID/],
    [{ data: '', target: `${TARGET.slice(0, 42)}B` }, /target must be a 43-character base64url ID/], // non-canonical last character
    [{ data: '', anchor: 'too short' }, /anchor must be 32 UTF-8 bytes/],
    [{ data: '', anchor: new Uint8Array(31) }, /anchor must be 32 bytes, got 31/],
  ];
  for (const [fields, message] of cases) {
    assert.throws(() => createDataItem(signer, fields), (e: unknown) => e instanceof DataItemError && message.test(e.message), `expected ${message}`);
  }
  assert.throws(() => ed25519Signer(generateKeyPairSync('ed448').privateKey), /an ed25519 private key is needed/);
  // Empty values are legal (arbundles and HyperBEAM accept them), and round-trip.
  assert.equal(createDataItem(signer, { data: '', tags: [{ name: 'Flag', value: '' }] }).tags, [{ name: 'Flag', value: '' }]);
});

test('every single-byte change of a signed item is caught (both signature types)', async () => {
  const fields = { data: 'payload', target: TARGET, anchor: ANCHOR_TEXT, tags: [{ name: 'Action', value: 'Eval' }, { name: 'K', value: 'v' }] };
  const items = [createDataItem(ed25519Signer(edKey), fields), await createRsaDataItem(jwk, fields)];
  const tally: string[] = [];
  for (const item of items) {
    const counts = { changes: 0, parseRefused: 0, verifyRefused: 0, newIdOnly: 0, acceptedSameId: 0 };
    for (let position = 0; position < item.raw.length; position++) {
      // 0x01 turns presence bytes 0<->1 and nudges lengths by one; 0xff hits every bit.
      for (const mask of [0x01, 0xff]) {
        const raw = item.raw.slice();
        raw[position]! ^= mask;
        counts.changes++;
        let changed: DataItem;
        try {
          changed = parseDataItem(raw);
        } catch (e) {
          assert.instance(e, DataItemError);
          counts.parseRefused++;
          continue;
        }
        if (!verifyDataItem(changed)) counts.verifyRefused++;
        else if (changed.id !== item.id) counts.newIdOnly++;
        else counts.acceptedSameId++;
      }
    }
    assert.is(counts.acceptedSameId, 0, 'a changed item verified under the same id');
    assert.is(counts.newIdOnly, 0, 'a changed item verified at all');
    assert.is(counts.parseRefused + counts.verifyRefused, item.raw.length * 2);
    tally.push(`type ${item.signatureType}: ${counts.changes} changes over ${item.raw.length} bytes, ${counts.parseRefused} refused by parse, ${counts.verifyRefused} by verify`);
  }
  console.log(`  byte flips: ${tally.join('; ')}`);
});

// A reference item whose field boundaries are known: ed25519, target, anchor, two tags.
function referenceItem() {
  const item = createDataItem(ed25519Signer(edKey), { data: 'data!', target: TARGET, anchor: ANCHOR_TEXT, tags: [{ name: 'a', value: 'b' }, { name: 'c', value: 'd' }] });
  const tagsHeader = 2 + 64 + 32 + 33 + 33;
  return { item, tagsHeader, tagsStart: tagsHeader + 16, dataStart: item.raw.length - 'data!'.length };
}

function refuses(raw: Uint8Array, message: RegExp) {
  assert.throws(() => parseDataItem(raw), (e: unknown) => e instanceof DataItemError && message.test(e.message), `expected ${message}`);
}

test('malformed items: truncated at each field', () => {
  const { item, tagsHeader, tagsStart, dataStart } = referenceItem();
  const cuts: [number, RegExp][] = [
    [0, /truncated at the signature type/],
    [1, /truncated at the signature type/],
    [2, /truncated at the signature \(/],
    [65, /truncated at the signature \(/],
    [66, /truncated at the owner/],
    [97, /truncated at the owner/],
    [98, /truncated at the target presence byte/],
    [99, /truncated at the target \(/],
    [130, /truncated at the target \(/],
    [131, /truncated at the anchor presence byte/],
    [132, /truncated at the anchor \(/],
    [tagsHeader, /truncated at the tags header/],
    [tagsHeader + 15, /truncated at the tags header/],
    [tagsStart, /truncated at the tags \(the header says 10 bytes, 0 remain\)/],
    [tagsStart + 8, /truncated at the tags \(the header says 10 bytes, 8 remain\)/],
  ];
  for (const [length, message] of cuts) refuses(item.raw.subarray(0, length), message);
  // Cutting the data is not detectable by structure (data runs to the end); the signature catches it.
  const shortData = parseDataItem(item.raw.subarray(0, dataStart + 2));
  assert.is(shortData.data.length, 2);
  assert.not.ok(verifyDataItem(shortData));
});

test('malformed items: signature type, presence bytes, tag header and tag bytes', () => {
  const { item, tagsHeader, tagsStart } = referenceItem();
  const edit = (at: number, ...values: number[]) => {
    const raw = item.raw.slice();
    raw.set(values, at);
    return raw;
  };
  refuses(edit(0, 3, 0), /unsupported signature type 3/);
  refuses(edit(0, 0, 0), /unsupported signature type 0/);
  refuses(edit(0, 2, 1), /unsupported signature type 258/);
  refuses(edit(98, 2), /target presence byte is 2 \(must be 0 or 1\)/);
  refuses(edit(131, 0xff), /anchor presence byte is 255 \(must be 0 or 1\)/);
  refuses(edit(tagsHeader, 5), /tag count 5 but 2 decoded/);
  refuses(edit(tagsHeader, 0), /tag count 0 but 2 decoded/);
  refuses(edit(tagsHeader, 129), /too many tags: the header says 129/);
  refuses(edit(tagsHeader + 7, 0x80), /too many tags: the header says over 2\^53/);
  refuses(edit(tagsHeader + 8, 0xff, 0xff), /truncated at the tags \(the header says 65535 bytes/);
  refuses(edit(tagsHeader + 8, 9), /bad tag encoding: truncated at the block count/);
  refuses(edit(tagsHeader + 8, 8), /bad tag encoding: truncated in tag 1 value/);
  refuses(edit(tagsStart + 1, 0x7e), /bad tag encoding: truncated in tag 0 name/);
  refuses(edit(tagsStart + 1, 0x7f), /bad tag encoding: tag 0 name has negative length -64/);
  refuses(edit(tagsStart + 2, 0xc3), /tag 0 name is not valid UTF-8/);

  // 129 tags encoded legally, with a header that agrees, are still too many.
  const many = encodeTags(Array.from({ length: 129 }, () => ({ name: 'a', value: 'b' })));
  const raw = new Uint8Array(tagsStart + many.length);
  raw.set(item.raw.subarray(0, tagsHeader));
  raw.set([129], tagsHeader);
  raw.set([many.length & 0xff, many.length >> 8], tagsHeader + 8);
  raw.set(many, tagsStart);
  raw[tagsHeader] = 127; // header within limits: the Avro bytes are what is refused
  refuses(raw, /too many tags: 129/);
  refuses(Uint8Array.from([1, 2, 3]) as unknown as Uint8Array, /unsupported signature type 513/);
  assert.throws(() => parseDataItem('not bytes' as unknown as Uint8Array), (e: unknown) => e instanceof DataItemError && /must be bytes/.test(e.message));
});

test('verifyDataItem answers false, never throws, for bad signatures and doctored items', async () => {
  const { item } = referenceItem();
  const rsa = await createRsaDataItem(jwk, { data: 'x' });
  for (const good of [item, rsa]) {
    const zeroed = good.raw.slice();
    zeroed.fill(0, 2, 2 + good.signature.length);
    assert.not.ok(verifyDataItem(parseDataItem(zeroed)), 'all-zero signature');
    const ones = good.raw.slice();
    ones.fill(0xff, 2, 2 + good.signature.length); // for RSA, a signature larger than the modulus
    assert.not.ok(verifyDataItem(parseDataItem(ones)), 'all-ones signature');
    const noOwner = good.raw.slice();
    noOwner.fill(0, 2 + good.signature.length, 2 + good.signature.length + good.owner.length);
    assert.not.ok(verifyDataItem(parseDataItem(noOwner)), 'zero owner');
    assert.not.ok(verifyDataItem({ ...good, id: 'A'.repeat(43) }), 'an id that is not sha256(signature)');
    assert.not.ok(verifyDataItem({ ...good, raw: good.raw.subarray(0, 10) }), 'raw that does not parse');
    assert.not.ok(verifyDataItem({} as DataItem), 'not an item at all');
  }
});

test('signature checks spread over worker threads give the same answers, in order', async () => {
  const signer = ed25519Signer(generateKeyPairSync('ed25519').privateKey);
  const raws = Array.from({ length: POOL_THRESHOLD + 77 }, (_, i) => createDataItem(signer, { data: `item ${i}`, tags: [{ name: 'Slot', value: String(i) }] }).raw.slice());
  const flipped = [3, POOL_THRESHOLD >> 1, POOL_THRESHOLD + 70];
  for (const i of flipped) raws[i][raws[i].length - 1] ^= 1; // the data's last byte
  raws[9] = raws[9].subarray(0, 40); // does not parse
  const pooled = await verifyItems(raws, 3);
  assert.equal(pooled, raws.map(verifyRaw));
  assert.equal(pooled.flatMap((ok, i) => (ok ? [] : [i])), [3, 9, ...flipped.slice(1)]);
});

// ---------------------------------------------------------------------------------------
// docs/PROTOCOL.md §10 and §7, implemented here from the document's own words (not from the
// codec), and pinned: a stranger who follows the document gets these bytes.

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha384 = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha384').update(Buffer.concat(parts)).digest());
const sha256Of = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
/** §10's deep hash, as written there. */
type Blobs = Uint8Array | Blobs[];
function docDeepHash(value: Blobs): Uint8Array {
  if (value instanceof Uint8Array) return sha384(sha384(utf8(`blob${value.length}`)), sha384(value));
  let acc = sha384(utf8(`list${value.length}`));
  for (const item of value) acc = sha384(acc, docDeepHash(item));
  return acc;
}
const u64le = (n: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };

/** The vector's key: the ed25519 seed 00 01 … 1f (PKCS#8 DER is a fixed 16-byte prefix and the seed). */
const VECTOR_KEY = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(Array.from({ length: 32 }, (_, i) => i))]), format: 'der', type: 'pkcs8' });
const VECTOR_OWNER = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const VECTOR_TARGET = new Uint8Array(32).fill(0x11);
const VECTOR_ANCHOR = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + (i % 16));
const VECTOR_TAGS: Tag[] = [
  { name: 'Data-Protocol', value: 'hyperwasm' },
  { name: 'Variant', value: 'hyperwasm.1' },
  { name: 'Type', value: 'Message' },
  { name: 'Action', value: 'Ping' },
];
const VECTOR_AVRO = '081a446174612d50726f746f636f6c1268797065727761736d0e56617269616e741668797065727761736d2e3108547970650e4d6573736167650c416374696f6e0850696e6700';
const VECTOR_DEEP_HASH = 'd0e829e4f468e0e91d2639fc670c41b7e246c04436c402212c49bad11e60d943d1c39c677cb2b7bd3132ec76dc2c9634';
const VECTOR_SIGNATURE = '016718e71f78f71c7e8624484a01af81d91d4eb86df940670f13cc7f7fa3cb3fb61550ffee8a8152a936a0b255a13005eb9c78ef3dceb184c6e99f915e0db003';
const VECTOR_ID = 'xo4GpoEPEKGOpm5h8qp0cLNuc7RUtoA1wKbMt9xPB6c';

test('PROTOCOL.md §10 vector: an ed25519 item laid out, deep-hashed and signed as the document says', () => {
  const owner = Buffer.from(VECTOR_OWNER, 'hex');
  const avro = Buffer.from(VECTOR_AVRO, 'hex');
  const data = utf8('hello');
  equalBytes(encodeTags(VECTOR_TAGS), avro, 'Avro tags');
  // ["dataitem", "1", "2", owner, target, anchor, Avro tag bytes, data]: not the list the public ANS-104 text gives
  const message = docDeepHash([utf8('dataitem'), utf8('1'), utf8('2'), owner, VECTOR_TARGET, VECTOR_ANCHOR, avro, data]);
  assert.is(hex(message), VECTOR_DEEP_HASH);
  const signature = new Uint8Array(sign(null, message, VECTOR_KEY));
  assert.is(hex(signature), VECTOR_SIGNATURE);
  const layout = Buffer.concat([bytes(2, 0), signature, owner, bytes(1), VECTOR_TARGET, bytes(1), VECTOR_ANCHOR, u64le(4), u64le(avro.length), avro, data]);
  assert.is(layout.length, 256);
  assert.is(b64url(sha256Of(signature)), VECTOR_ID);
  assert.is(b64url(sha256Of(owner)), 'Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw', 'the signer address');

  const item = createDataItem(ed25519Signer(VECTOR_KEY), { target: b64url(VECTOR_TARGET), anchor: VECTOR_ANCHOR, tags: VECTOR_TAGS, data: 'hello' });
  equalBytes(item.raw, layout, 'the codec writes the same bytes');
  assert.is(item.id, VECTOR_ID);
  assert.ok(verifyDataItem(parseDataItem(layout)));
  // Without target and anchor: one presence byte 0 each, and empty blobs in the deep hash.
  const bare = createDataItem(ed25519Signer(VECTOR_KEY), { data: '' });
  assert.is(bare.raw.length, 2 + 64 + 32 + 1 + 1 + 16);
  const empty = new Uint8Array(0);
  equalBytes(bare.signature, new Uint8Array(sign(null, docDeepHash([utf8('dataitem'), utf8('1'), utf8('2'), owner, empty, empty, empty, empty]), VECTOR_KEY)));
});

/** §7's chunking and Merkle root, as written there. */
function docDataRoot(data: Uint8Array): { root: Uint8Array; ranges: [number, number][] } {
  const MAX = 256 * 1024;
  const MIN = 32 * 1024;
  const ranges: [number, number][] = [];
  let start = 0;
  while (data.length - start >= MAX) {
    const rest = data.length - start;
    const size = rest - MAX > 0 && rest - MAX < MIN ? Math.ceil(rest / 2) : MAX;
    ranges.push([start, start + size]);
    start += size;
  }
  ranges.push([start, data.length]);
  const note = (n: number) => { const b = new Uint8Array(32); new DataView(b.buffer).setBigUint64(24, BigInt(n)); return b; };
  let level = ranges.map(([a, b]) => ({ id: sha256Of(sha256Of(sha256Of(data.subarray(a, b))), sha256Of(note(b))), end: b }));
  while (level.length > 1) {
    const up = [];
    for (let i = 0; i < level.length; i += 2) {
      const [l, r] = [level[i], level[i + 1]];
      up.push(r ? { id: sha256Of(sha256Of(l.id), sha256Of(r.id), sha256Of(note(l.end))), end: r.end } : l);
    }
    level = up;
  }
  return { root: level[0].id, ranges };
}

test('PROTOCOL.md §7 vectors: chunking (the last-two-chunks rule, the empty last chunk) and data_root, as arweave-js computes them', async () => {
  const merkle = await import('arweave/node/lib/merkle.js');
  const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
  const cases: [number, [number, number][], string][] = [
    [5, [[0, 5]], 'rLZwYh3sMsjtP-AhqRDgnE_ssS8oCTgmIKzqVI0FKY0'],
    [262144, [[0, 262144], [262144, 262144]], 'gty7KB2baLFp7OGxuV2wBeX3NippS1tNVlMOZryIq5o'],
    [534288, [[0, 262144], [262144, 398216], [398216, 534288]], 'PqmoLGEosdsyKlbtNQA_Ei-NLqbEE2W6TwAnoEqGD_M'],
    [600000, [[0, 262144], [262144, 524288], [524288, 600000]], 'O5pWr9emcTCZCog2mLsx1oILM5LhWt31xz_16qteDow'],
  ];
  assert.is(b64url(docDataRoot(utf8('hello')).root), 'LQltiI15GfZxGOByiGYthIZQ-zQMny3lv3tL_rSySmo', 'hello');
  for (const [size, ranges, root] of cases) {
    const data = payload(size);
    const mine = docDataRoot(data);
    assert.equal(mine.ranges, ranges, `${size}: chunks`);
    assert.is(b64url(mine.root), root, `${size}: data_root`);
    assert.is(b64url((await merkle.generateTransactionChunks(data)).data_root), root, `${size}: arweave-js`);
  }
});

test("PROTOCOL.md §7 vector: a format-2 transaction's signature data is the deep hash of its nine fields", async () => {
  const TransactionModule = await import('arweave/node/lib/transaction.js');
  const Transaction = ((TransactionModule as any).default?.default ?? (TransactionModule as any).default) as new (attrs: object) => { getSignatureData(): Promise<Uint8Array> };
  const owner = Uint8Array.from({ length: 512 }, (_, i) => (i * 13 + 7) & 0xff);
  const lastTx = new Uint8Array(32).fill(0x22);
  const data = utf8('hello');
  const dataRoot = docDataRoot(data).root;
  const tags = [['Content-Type', 'text/plain'], ['Type', 'Data']];
  const tx = new Transaction({
    format: 2, owner: b64url(owner), target: '', quantity: '0', reward: '12345', last_tx: b64url(lastTx),
    tags: tags.map(([name, value]) => ({ name: b64url(utf8(name)), value: b64url(utf8(value)) })),
    data_size: '5', data_root: b64url(dataRoot), data: '',
  });
  const mine = docDeepHash([utf8('2'), owner, new Uint8Array(0), utf8('0'), utf8('12345'), lastTx, tags.map(([n, v]) => [utf8(n), utf8(v)]), utf8('5'), dataRoot]);
  equalBytes(await tx.getSignatureData(), mine);
  assert.is(hex(mine), '5b7c4cf37c4b196664859a3fe70b8199cf36ad0f4ad597b271bd2165bfef846b2a65e70371d052ccf2f17de0a9b099a3');
});

test.run();
