// The modules' JSON library (modules/lib/json*.ts) and process envelope (modules/lib/process.ts),
// through the built modules: the reader works on the input bytes in place and the envelope
// reads only the members a handler asks for, so these pin what must not change with that:
// escapes, unicode, numbers, repeated keys, and the errors (with their UTF-16 positions).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { compileModule, type LoadedModule } from '../engine/wasm/compile.ts';
import { callBytes, instantiate } from '../engine/wasm/call.ts';
import { buildModules } from '../modules/tools/build.ts';

const test = suite('json');
const TEXT = new TextDecoder();
const utf8 = (s: string) => new TextEncoder().encode(s);

let modules: Record<string, LoadedModule> | undefined;
async function module(name: 'text' | 'counter'): Promise<LoadedModule> {
  if (!modules) {
    const built = await buildModules();
    modules = {
      text: await compileModule('T'.repeat(43), new Uint8Array(readFileSync(built.text))),
      counter: await compileModule('C'.repeat(43), new Uint8Array(readFileSync(built.counter))),
    };
  }
  return modules[name];
}

/** text's transform on raw input bytes: its output text, or the abort message. */
async function transform(input: string | Uint8Array): Promise<string> {
  const instance = instantiate(await module('text'));
  try {
    return TEXT.decode(callBytes(instance, 'transform', typeof input === 'string' ? utf8(input) : input));
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

test('strings: every escape, UTF-8 of all widths and lone surrogates read and written as JSON.parse/stringify do', async () => {
  const literal = String.raw`"q\" b\\ s\/ \b\f\n\r\t \u00e9\u20AC \ud83d\ude00 \ud800 é€😀 \u0000\u001f"`;
  const text = JSON.parse(literal) as string;
  const out = await transform(`[{"text":${literal}}]`);
  assert.ok(out.startsWith(`{"text":${JSON.stringify(text)},`), out);
  assert.is(JSON.parse(out).text, text);
  // Keys with escapes are the same keys; a repeated key keeps its last value.
  assert.is(JSON.parse(await transform(String.raw`[{"t\u0065xt":"a","text":"b"}]`)).text, 'b');
  assert.is(JSON.parse(await transform(' \t\r\n[ { "text" : "x" , "n" : [ 1 , -0.5e+2 , 1E400 , true , false , null , { } , [ ] ] } ] ')).text, 'x');
});

test('malformed input: the same errors as ever, positions counted in UTF-16 code units', async () => {
  const cases: [string, string][] = [
    ['[{"text":"é😀"},]', 'unexpected character at position 16'],
    ['[{"text":"€"}', "expected ',' or ']' at end of input"],
    ['[{"text":"a\\x"}]', 'invalid escape in string at position 11'],
    ['[{"text":"\\u12G4"}]', 'invalid \\u escape at position 14'],
    ['[{"text":"a\u0001"}]', 'control character in string at position 11'],
    ['[{"text":"abc', 'unterminated string at end of input'],
    ['[{"text" "a"}]', "expected ':' at position 9"],
    ['[{text:1}]', 'expected a string key at position 2'],
    ['[01]', "expected ',' or ']' at position 2"],
    ['[-]', 'expected a digit at position 2'],
    ['[1.]', "expected a digit after '.' at position 3"],
    ['[1e+]', 'expected a digit in the exponent at position 4'],
    ['[tru]', 'unexpected character at position 1'],
    ['[fals]', 'unexpected character at position 1'],
    ['[] x', 'unexpected text after the JSON value at position 3'],
    ['', 'expected a value at end of input'],
    ['['.repeat(200), 'nesting deeper than 128 at position 129'],
  ];
  for (const [input, message] of cases) assert.match(await transform(input), `abort: invalid JSON: ${message}`, input);
  assert.match(await transform(new Uint8Array([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d])), 'abort: input is not valid UTF-8 (byte 2)');
  assert.match(await transform(new Uint8Array([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d])), 'abort: input is not valid UTF-8 (byte 2)', 'no encoded surrogates');
});

/** counter's handle on a sequence of raw envelopes: each output, or its abort message. */
async function counter(inputs: string[]): Promise<string[]> {
  const instance = instantiate(await module('counter'));
  return inputs.map((input) => {
    try {
      return TEXT.decode(callBytes(instance, 'handle', utf8(input)));
    } catch (error) {
      return `error: ${(error as Error).message}`;
    }
  });
}

const msg = (fields: string) => `{"message":{"id":"m",${fields}},"process":{"id":"p","tags":[]}}`;

test('the envelope reads only what it needs, but as a full parse would', async () => {
  const outputs = await counter([
    msg('"slot":0,"tags":[]'),
    msg('"slot":1,"tags":[{"name":"Action","value":"Add"}]'),
    msg('"slot":2,"tags":[{"name":"Act\\u0069on","value":"Get"}]'), // an escaped name is the same name
    msg('"slot":-1,"slot":3,"tags":[]'), // the last of a repeated key
    msg('"slot":4,"tags":[1,{"name":1},{"value":"Get"},{"name":"Action","value":"Get"},{"name":"Action","value":"Add"}]'), // the first matching tag
    msg('"slot":5e0,"tags":"none","data":"é😀\\ud800"'),
    `{"process":{},"message":{"slot":6},"message":{"slot":7}}`,
    msg('"slot":"8"'),
    `{"message":[]}`,
    `[]`,
    msg('"slot":9,"data":"x"},'),
  ]);
  const expected = [
    '{"output":{"count":0},"messages":[]}',
    '{"output":{"count":1},"messages":[]}',
    '{"output":{"count":1},"messages":[]}',
    '{"output":{"count":2},"messages":[]}',
    '{"output":{"count":2},"messages":[]}',
    '{"output":{"count":3},"messages":[]}',
    '{"output":{"count":4},"messages":[]}',
    'error: abort: message.slot must be a number',
    'error: abort: input must be an object with a "message" object',
    'error: abort: input must be an object with a "message" object',
    "error: abort: invalid JSON: expected a string key at position 42",
  ];
  assert.is(outputs.length, expected.length);
  // An abort's message is wrapped in the trap's and goes on with where it was raised.
  expected.forEach((want, i) => (want.startsWith('error: ') ? assert.match(outputs[i], want.slice('error: '.length)) : assert.is(outputs[i], want)));
});

test.run();
