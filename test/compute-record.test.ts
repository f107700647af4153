// A stored result record's bytes (engine/compute-record.ts) are canonicalJson's, whatever the
// params and result hold and whichever optional fields are present.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson, utf8Text } from '../engine/protocol/encoding.ts';
import type { ComputeRecord } from '../engine/protocol/record.ts';
import { encodeComputeRecord } from '../engine/compute-record.ts';

const base: ComputeRecord = {
  module: 'M'.repeat(43),
  function: 'fac',
  'function-type': 'numeric',
  params: [5],
  result: 120,
  'result-encoding': 'json',
  'result-bytes': 'MTIw',
  'result-hash': 'h'.repeat(43),
  gas: 1234,
  hashpath: `${'M'.repeat(43)}/${'r'.repeat(43)}`,
};

const variants: ComputeRecord[] = [
  base,
  { ...base, attestation: { item: 'i'.repeat(43), proof: ['a'.repeat(43), 'b'.repeat(43)] } as never },
  { ...base, kernels: { gpu: 2, cpu: 1 } as never },
  { ...base, kernels: { cpu: 3 } as never, attestation: { proof: [], item: 'x' } as never },
  // Values that sort unlike insertion order: integer-like keys, nested objects, unicode, -0.
  { ...base, function: 'transform', 'function-type': 'bytes', params: [{ text: 'héllo \u2028 "q"', '10': 1, '9': [{ b: 2, a: -0 }] }], result: { z: 1, a: [null, true, 'ü'] }, 'result-encoding': 'json' },
  { ...base, params: [], result: 'text\n', 'result-encoding': 'text', gas: 0 },
];

test('record bytes are canonicalJson bytes', () => {
  for (const record of variants) assert.is(utf8Text(encodeComputeRecord(record)), canonicalJson(record), JSON.stringify(record));
});

test('a record with a key the encoder does not know is encoded the general way', () => {
  const extra = { ...base, extra: { b: 1, a: 2 } } as unknown as ComputeRecord;
  assert.is(utf8Text(encodeComputeRecord(extra)), canonicalJson(extra));
});

test('non-finite numbers are refused as canonicalJson refuses them', () => {
  assert.throws(() => encodeComputeRecord({ ...base, gas: Infinity }));
  assert.throws(() => encodeComputeRecord({ ...base, result: NaN }));
});

test.run();
