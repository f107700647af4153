// The hb_singleton path grammar: every construct, the compute paths the node
// serves, and every error case (each must name the offending text).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, SingletonError, type PathMessage } from '../gateway/singleton.ts';

const test = suite('singleton');

const ID = 'b8P4lkTk1sPEwVYKwB2N7bQx0G2vXzSxa0M9pNqRs_-';
const ID2 = 'Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF_e-dCbA9876';

const p = (path: string, rest: Record<string, string> = {}): PathMessage[] => parse({ path, ...rest });

function fails(request: Record<string, string>, ...mentions: string[]): void {
  try {
    parse(request);
  } catch (e) {
    assert.instance(e, SingletonError);
    const err = e as SingletonError;
    assert.is(err.status, 400);
    for (const m of mentions) assert.ok(err.message.includes(m), `"${err.message}" should mention ${m}`);
    return;
  }
  assert.unreachable(`expected a SingletonError for ${JSON.stringify(request)}`);
}
const failsPath = (path: string, ...mentions: string[]) => fails({ path }, ...mentions);

test('fixture IDs are 43 characters', () => {
  assert.is(ID.length, 43);
  assert.is(ID2.length, 43);
});

// ---- paths and the implicit base ---------------------------------------------

test('plain segments get an implicit {} base', () => {
  assert.equal(p('/a/b/c'), [{}, { path: 'a' }, { path: 'b' }, { path: 'c' }]);
  assert.equal(p('a/b'), [{}, { path: 'a' }, { path: 'b' }]);
});

test('empty path and "/" are just the base', () => {
  assert.equal(p('/'), [{}]);
  assert.equal(p(''), [{}]);
  assert.equal(parse({}), [{}]);
  assert.equal(p('/?'), [{}]);
});

test('empty segments are dropped', () => {
  assert.equal(p('//a///b/'), [{}, { path: 'a' }, { path: 'b' }]);
});

test('an ID is the base and stays a string', () => {
  assert.equal(p(`/${ID}`), [ID]);
  assert.equal(p(`/${ID}/${ID2}`), [ID, ID2]);
  assert.equal(p(`/a/${ID}`), [{}, { path: 'a' }, ID]);
});

test('only 43 base64url characters make an ID', () => {
  const bad = ID.slice(0, 42) + '.';
  assert.equal(p(`/${bad}`), [{}, { path: bad }]);
  assert.equal(p(`/${ID}x`), [{}, { path: `${ID}x` }]);
  assert.equal(p(`/${ID.slice(1)}`), [{}, { path: ID.slice(1) }]);
});

test('a percent-encoded ID is still an ID', () => {
  assert.equal(p(`/${ID.slice(0, 42)}%2D`), [ID.slice(0, 42) + '-']);
});

test('keys keep their case and values stay strings', () => {
  assert.equal(p('/a?Wasm-Function=Fac&n=5&f=1.0'), [
    { 'Wasm-Function': 'Fac', n: '5', f: '1.0' },
    { path: 'a', 'Wasm-Function': 'Fac', n: '5', f: '1.0' },
  ]);
});

// ---- the compute paths this node serves --------------------------------------

test('compute with query parameters', () => {
  assert.equal(p(`/${ID}/Compute?wasm-function=fac&wasm-params=[5.0]`), [
    ID,
    { path: 'Compute', 'wasm-function': 'fac', 'wasm-params': '[5.0]' },
  ]);
});

test('compute with an inline slot', () => {
  assert.equal(p(`/${ID}/compute&slot=3`), [ID, { path: 'compute', slot: '3' }]);
  assert.equal(p(`/${ID}/compute&slot+integer=3`), [ID, { path: 'compute', slot: 3 }]);
});

test('compute with a query slot, typed and untyped', () => {
  assert.equal(p(`/${ID}/compute?slot=3`), [ID, { path: 'compute', slot: '3' }]);
  assert.equal(p(`/${ID}/compute?slot+integer=3`), [ID, { path: 'compute', slot: 3 }]);
  assert.equal(p(`/${ID}/compute?slot%2Binteger=3`), [ID, { path: 'compute', slot: 3 }]);
});

// ---- request keys and the query ----------------------------------------------

test('method from the request is merged everywhere, not into IDs', () => {
  assert.equal(p('/a/b', { method: 'GET' }), [{ method: 'GET' }, { path: 'a', method: 'GET' }, { path: 'b', method: 'GET' }]);
  assert.equal(p(`/${ID}/now`, { method: 'POST' }), [ID, { path: 'now', method: 'POST' }]);
});

test('query keys win over request keys', () => {
  assert.equal(p('/a?method=POST', { method: 'GET', accept: 'x' }), [
    { method: 'POST', accept: 'x' },
    { path: 'a', method: 'POST', accept: 'x' },
  ]);
});

test('query: "+" is a space, %2B a plus, flags are true', () => {
  assert.equal(p('/a?greeting=hello+world&sum=1%2B1&flag&empty='), [
    { greeting: 'hello world', sum: '1+1', flag: true, empty: '' },
    { path: 'a', greeting: 'hello world', sum: '1+1', flag: true, empty: '' },
  ]);
});

test('query: keys and values are percent-decoded, empty pairs skipped', () => {
  assert.equal(p('/?a%3D=c%26d&&x=%E2%9C%93'), [{ 'a=': 'c&d', x: '✓' }]);
});

test('query: a later duplicate key wins', () => {
  assert.equal(p('/?k=1&k=2'), [{ k: '2' }]);
});

test('a "?" inside the query is part of a value', () => {
  assert.equal(p('/a?q=x?y'), [{ q: 'x?y' }, { path: 'a', q: 'x?y' }]);
});

test('a key named __proto__ is an ordinary own key', () => {
  const [base] = p('/?__proto__=x') as [Record<string, unknown>];
  assert.ok(Object.prototype.hasOwnProperty.call(base, '__proto__'));
  assert.is(base['__proto__'], 'x');
  assert.is(Object.getPrototypeOf(base), Object.prototype);
});

// ---- inline keys -------------------------------------------------------------

test('inline keys and flags', () => {
  assert.equal(p('/a&k=v&k2&k3='), [{}, { path: 'a', k: 'v', k2: true, k3: '' }]);
});

test('an inline value keeps everything after its first "="', () => {
  assert.equal(p('/a&k=x=y'), [{}, { path: 'a', k: 'x=y' }]);
});

test('inline keys win over global keys', () => {
  assert.equal(p('/a&k=inline/b?k=global'), [{ k: 'global' }, { path: 'a', k: 'inline' }, { path: 'b', k: 'global' }]);
});

test('a segment path wins over a key named path', () => {
  assert.equal(p('/a&path=b?path=q'), [{ path: 'q' }, { path: 'a' }]);
});

test('a segment with keys but no path has no path key', () => {
  assert.equal(p('/&k=v'), [{}, { k: 'v' }]);
});

test('"+" and spaces inside a path stay in the path', () => {
  assert.equal(p('/a+b/c%20d'), [{}, { path: 'a+b' }, { path: 'c d' }]);
});

// ---- ~device@version -----------------------------------------------------------

test('/~meta@1.0/info', () => {
  assert.equal(p('/~meta@1.0/info'), [{ as: ['meta@1.0', {}] }, { path: 'info' }]);
});

test('an empty-path ~device message takes global keys, a pathed one does not', () => {
  assert.equal(p('/~meta@1.0/info', { method: 'GET' }), [{ as: ['meta@1.0', { method: 'GET' }] }, { path: 'info', method: 'GET' }]);
  assert.equal(p(`/${ID}~process@1.0/now`, { method: 'GET' }), [
    { as: ['process@1.0', { path: ID }] },
    { path: 'now', method: 'GET' },
  ]);
});

test('/~message@1.0&greeting="Hello"&count+integer=42/count', () => {
  assert.equal(p('/~message@1.0&greeting="Hello"&count+integer=42/count'), [
    { as: ['message@1.0', { greeting: '"Hello"', count: 42 }] },
    { path: 'count' },
  ]);
  assert.equal(p('/~message@1.0&greeting=%22Hello%22/count'), [
    { as: ['message@1.0', { greeting: '"Hello"' }] },
    { path: 'count' },
  ]);
});

test('an ID with a device and inline keys', () => {
  assert.equal(p(`/${ID}~process@1.0&k=v`), [{ as: ['process@1.0', { path: ID, k: 'v' }] }]);
  assert.equal(p(`/${ID}~process@1.0&k=v/compute?slot=1`), [
    { as: ['process@1.0', { path: ID, k: 'v' }] },
    { path: 'compute', slot: '1' },
  ]);
});

test('a device later in the path', () => {
  assert.equal(p('/x/a~wasm-64@1.0&f=fac'), [{}, { path: 'x' }, { as: ['wasm-64@1.0', { path: 'a', f: 'fac' }] }]);
  assert.equal(p('/x/~json-iface@1.0/y?g=1'), [
    { g: '1' },
    { path: 'x', g: '1' },
    { as: ['json-iface@1.0', { g: '1' }] },
    { path: 'y', g: '1' },
  ]);
});

test('a "~" after the first "&" belongs to the value', () => {
  assert.equal(p('/a&k=x~y'), [{}, { path: 'a', k: 'x~y' }]);
});

test('a percent-encoded ~ or & is literal text', () => {
  assert.equal(p('/a%7Eb%26k=v'), [{}, { path: 'a~b&k=v' }]);
  assert.equal(p('/a&k=x%26y%3Dz'), [{}, { path: 'a', k: 'x&y=z' }]);
});

// ---- ( … ) sub-paths -------------------------------------------------------------

test('a (…) segment is a resolve with its own base', () => {
  assert.equal(p('/(x/y)/z'), [{ resolve: [{}, { path: 'x' }, { path: 'y' }] }, { path: 'z' }]);
  assert.equal(p('/a/(b)'), [{}, { path: 'a' }, { resolve: [{}, { path: 'b' }] }]);
});

test('global keys do not enter a resolve', () => {
  assert.equal(p('/(x)/z?k=v', { method: 'GET' }), [{ resolve: [{}, { path: 'x' }] }, { path: 'z', k: 'v', method: 'GET' }]);
});

test('nested sub-paths', () => {
  assert.equal(p(`/((${ID}/a)/b)/c`), [{ resolve: [{ resolve: [ID, { path: 'a' }] }, { path: 'b' }] }, { path: 'c' }]);
  assert.equal(p('/()'), [{ resolve: [{}] }]);
});

test('sub-path contents keep their own inline keys and devices', () => {
  assert.equal(p('/(~meta@1.0&k=1/info)'), [{ resolve: [{ as: ['meta@1.0', { k: '1' }] }, { path: 'info' }] }]);
});

test('an inline value may be a sub-path, with "&" and "/" inside it', () => {
  assert.equal(p('/a&k=(b/c)'), [{}, { path: 'a', k: { resolve: [{}, { path: 'b' }, { path: 'c' }] } }]);
  assert.equal(p('/a&k=(b&x=1/c)&j=2'), [
    {},
    { path: 'a', k: { resolve: [{}, { path: 'b', x: '1' }, { path: 'c' }] }, j: '2' },
  ]);
  assert.equal(p('/a&k=((b))'), [{}, { path: 'a', k: { resolve: [{ resolve: [{}, { path: 'b' }] }] } }]);
});

test('+resolve parses its value as a path', () => {
  assert.equal(p('/a?k+resolve=/b/c'), [
    { k: { resolve: [{}, { path: 'b' }, { path: 'c' }] } },
    { path: 'a', k: { resolve: [{}, { path: 'b' }, { path: 'c' }] } },
  ]);
  assert.equal(p('/a&k+resolve=(b/c)'), [{}, { path: 'a', k: { resolve: [{}, { path: 'b' }, { path: 'c' }] } }]);
  assert.equal(p('/a&k+resolve=b%2Fc'), [{}, { path: 'a', k: { resolve: [{}, { path: 'b' }, { path: 'c' }] } }]);
});

test('parentheses that do not wrap the whole segment are literal', () => {
  assert.equal(p('/(a)(b)'), [{}, { path: '(a)(b)' }]);
  assert.equal(p('/f(x)&k=(v)w'), [{}, { path: 'f(x)', k: '(v)w' }]);
});

test('percent-encoded "/" and "(" do not split or nest', () => {
  assert.equal(p('/a%2Fb/c'), [{}, { path: 'a/b' }, { path: 'c' }]);
  assert.equal(p('/a%28b'), [{}, { path: 'a(b' }]);
  assert.equal(p('/%28a%29'), [{}, { path: '(a)' }]);
  assert.equal(p('/(a%2Fb)'), [{ resolve: [{}, { path: 'a/b' }] }]);
});

test('segments are decoded once', () => {
  assert.equal(p('/a%252Fb'), [{}, { path: 'a%2Fb' }]);
});

// ---- typed keys ------------------------------------------------------------------

test('integer', () => {
  assert.equal(p('/?a+integer=-7&b+integer=%2B7&c+integer=0&d+integer=9007199254740991'), [
    { a: -7, b: 7, c: 0, d: 9007199254740991 },
  ]);
});

test('float', () => {
  assert.equal(p('/?a+float=1.0&b+float=-2.5e3&c+float=0.125'), [{ a: 1, b: -2500, c: 0.125 }]);
});

test('atom', () => {
  assert.equal(p('/?a+atom=ok&b+atom=true&c+atom=false&d+atom=null&e+atom=foo/bar:baz'), [
    { a: 'ok', b: true, c: false, d: null, e: 'foo/bar:baz' },
  ]);
});

test('list of every item kind', () => {
  const value = encodeURIComponent('1, -2, 2.5, "s\\"q\\\\", tok, ?1, ?0, :aGk=:, "(ao-type-integer) 1", "(ao-type-float) 1.5", "(ao-type-atom) true", "(ao-type-other) x"');
  assert.equal(p(`/?l+list=${value}`), [
    { l: [1, -2, 2.5, 's"q\\', 'tok', true, false, 'aGk=', 1, 1.5, true, '(ao-type-other) x'] },
  ]);
});

test('list: empty, single, and tight commas', () => {
  assert.equal(p('/?l+list='), [{ l: [] }]);
  assert.equal(p('/?l+list=%22a%22'), [{ l: ['a'] }]);
  assert.equal(p('/a&l+list=1,2,3'), [{}, { path: 'a', l: [1, 2, 3] }]);
});

test('map', () => {
  assert.equal(p(`/?m+map=${encodeURIComponent('k1=1, k2="v", k3, k4=?0, k-5.x=tok')}`), [
    { m: { k1: 1, k2: 'v', k3: true, k4: false, 'k-5.x': 'tok' } },
  ]);
  assert.equal(p('/a&m+map=a=1'), [{}, { path: 'a', m: { a: 1 } }]);
});

test('a typed key may also be written with a space', () => {
  assert.equal(p('/a&n%20integer=4'), [{}, { path: 'a', n: 4 }]);
});

// ---- scoping -------------------------------------------------------------------------

test('N.key lands on message N, counting from the first after the base', () => {
  assert.equal(p('/a/b/c?2.k=v'), [{}, { path: 'a' }, { path: 'b', k: 'v' }, { path: 'c' }]);
  assert.equal(p(`/${ID}/compute?1.k=v`), [ID, { path: 'compute', k: 'v' }]);
  assert.equal(p('/~meta@1.0/info?1.k=v'), [{ as: ['meta@1.0', {}] }, { path: 'info', k: 'v' }]);
});

test('scoped keys mix with globals and may be typed', () => {
  assert.equal(p('/a/b?1.n+integer=3&g=x', { method: 'GET' }), [
    { g: 'x', method: 'GET' },
    { path: 'a', n: 3, g: 'x', method: 'GET' },
    { path: 'b', g: 'x', method: 'GET' },
  ]);
});

test('a scoped key wins over a global one, an inline key over both', () => {
  assert.equal(p('/a/b&k=i?k=g&1.k=s&2.k=s'), [{ k: 'g' }, { path: 'a', k: 's' }, { path: 'b', k: 'i' }]);
});

test('a scoped key may target an empty-path ~device message', () => {
  assert.equal(p('/a/~meta@1.0?2.k=v'), [{}, { path: 'a' }, { as: ['meta@1.0', { k: 'v' }] }]);
});

test('keys with two or more dots are global', () => {
  assert.equal(p('/a?a.b.c=1&1.x.y=2'), [
    { 'a.b.c': '1', '1.x.y': '2' },
    { path: 'a', 'a.b.c': '1', '1.x.y': '2' },
  ]);
});

test('inline keys are never scopes', () => {
  assert.equal(p('/a&x.k=1'), [{}, { path: 'a', 'x.k': '1' }]);
});

// ---- errors ------------------------------------------------------------------------

test('unknown types are rejected with the list of valid ones', () => {
  failsPath('/a?n+int=1', 'unknown type "int" in key "n+int"', 'integer, float, atom, list, map or resolve');
  failsPath('/a&n+int=1', 'unknown type "int" in key "n+int"');
  failsPath('/a?b+bin=1', '"bin"');
  failsPath('/a?b+binary=1', '"binary"');
  failsPath('/a?b%2BInteger=1', '"Integer"');
});

test('a typed key needs a name and a value', () => {
  failsPath('/a?n+integer', 'n+integer', 'no value');
  failsPath('/a?+integer=1', '+integer', 'no name');
});

test('only +resolve takes a (…) value', () => {
  failsPath('/a&n+integer=(b)', 'n+integer', 'sub-path');
});

test('invalid scopes', () => {
  failsPath('/a?x.key=1', 'invalid scope "x.key"', 'slot number');
  failsPath('/a?0.key=1', 'invalid scope "0.key"');
  failsPath('/a?.key=1', 'invalid scope ".key"');
  failsPath('/a?-1.key=1', 'invalid scope "-1.key"');
  failsPath('/a?1.=1', 'invalid scope "1."');
  fails({ path: '/a', 'x.y': '1' }, 'invalid scope "x.y"');
});

test('a scope beyond the last message', () => {
  failsPath('/a?2.k=v', 'scope 2', '"2.k"', 'beyond the last message');
  failsPath('/?1.k=v', 'scope 1', 'beyond');
  failsPath(`/${ID}?1.k=v`, 'scope 1', 'beyond');
});

test('a scope naming a message that cannot take keys', () => {
  failsPath(`/a/${ID}?2.k=v`, 'scope 2', 'names an ID');
  failsPath('/a/(b/c)?2.k=v', 'scope 2', 'sub-path');
  failsPath('/a/b~process@1.0?2.k=v', 'scope 2', '~process@1.0');
});

test('segment length: 512 bytes pass, 513 fail', () => {
  const ok = 'a'.repeat(512);
  assert.equal(p(`/${ok}`), [{}, { path: ok }]);
  failsPath(`/${'a'.repeat(513)}`, 'segment of 513 bytes exceeds the 512-byte limit', '"aaaa');
  failsPath(`/x/${'é'.repeat(257)}`, '514 bytes');
  failsPath(`/${'%41'.repeat(200)}`, '600 bytes');
});

test('the length limit is per segment', () => {
  const ok = 'a'.repeat(500);
  assert.equal(p(`/${ok}/${ok}`).length, 3);
});

test('unbalanced parentheses', () => {
  failsPath('/x/(a/b', 'unbalanced parentheses in segment "(a/b"');
  failsPath('/a)/b', 'unbalanced parentheses in segment "a)"');
  failsPath('/a&k=(b', 'unbalanced parentheses', '"a&k=(b"');
  failsPath('/((a)', 'unbalanced parentheses', '"((a)"');
  failsPath('/)(', 'unbalanced parentheses', '")("');
  failsPath('/a?k+resolve=(b', 'unbalanced parentheses', '"(b"');
});

test('malformed percent-encoding', () => {
  failsPath('/a%zz', 'malformed percent-encoding', 'segment "a%zz"');
  failsPath('/a%', 'malformed percent-encoding', '"a%"');
  failsPath('/%E0%A4%A', 'malformed percent-encoding', '"%E0%A4%A"');
  failsPath('/(a%zz)', 'malformed percent-encoding', '"(a%zz)"');
  failsPath('/a?k=%zz', 'malformed percent-encoding', 'query parameter "k=%zz"');
  failsPath('/a?%FF=1', 'malformed percent-encoding', '"%FF=1"');
});

test('bad device names', () => {
  failsPath('/a~Process@1.0', 'invalid device "Process@1.0"', 'name@version');
  failsPath('/a~process', 'invalid device "process"');
  failsPath('/~@1.0', 'invalid device "@1.0"');
  failsPath('/a~process@v1', 'invalid device "process@v1"');
  failsPath('/a~(b/c)', 'invalid device "(b/c)"');
  failsPath('/a~p@1.0~q@1.0', 'invalid device "p@1.0~q@1.0"');
});

test('empty keys', () => {
  failsPath('/a?=v', 'empty key', 'query parameter "=v"');
  failsPath('/a&=v', 'empty key', 'segment "a&=v"');
});

test('bad integers', () => {
  failsPath('/a?n+integer=1.5', 'invalid integer value "1.5" for key "n+integer"');
  failsPath('/a?n+integer=abc', '"abc"', 'n+integer');
  failsPath('/a?n+integer=', 'invalid integer value ""');
  failsPath('/a?n+integer=9007199254740992', '"9007199254740992"', 'beyond');
  failsPath('/a&n+integer=1e3', '"1e3"');
});

test('bad floats', () => {
  failsPath('/a?f+float=1', 'invalid float value "1" for key "f+float"');
  failsPath('/a?f+float=1.', '"1."');
  failsPath('/a?f+float=.5', '".5"');
  failsPath('/a?f+float=1e5', '"1e5"');
  failsPath('/a?f+float=NaN', '"NaN"');
  failsPath('/a?f+float=1.0e999', '"1.0e999"', 'out of range');
});

test('bad atoms', () => {
  failsPath('/a?t+atom=%22x%22', 'invalid atom value ""x""', 't+atom');
  failsPath('/a?t+atom=1abc', 'invalid atom value "1abc"');
  failsPath('/a?t+atom=', 'invalid atom value ""');
});

test('bad lists', () => {
  failsPath('/a?l+list=1,', 'invalid list value "1,"', 'l+list', 'trailing ","');
  failsPath('/a?l+list=%22open', 'invalid list value ""open"', 'unterminated');
  failsPath('/a?l+list=%281%202%29', 'inner lists');
  failsPath('/a?l+list=a;p=1', 'parameters');
  failsPath('/a?l+list=1%202', 'expected ","');
  failsPath('/a?l+list=%22(ao-type-integer)%20x%22', 'invalid list value', '(ao-type-integer) x');
  failsPath('/a?l+list=1234567890123456', 'more than 15 digits');
  failsPath('/a?l+list=1.2345', 'decimal');
  failsPath('/a?l+list=:ab!:', 'byte sequence');
  failsPath('/a?l+list=?2', '?1 or ?0');
  failsPath('/a?l+list=%5B1%5D', 'unexpected "["');
  failsPath('/a?l+list=%22%5Cn%22', 'invalid list value');
});

test('bad maps', () => {
  failsPath('/a?m+map=K=1', 'invalid map value "K=1" for key "m+map"', 'expected a key');
  failsPath(`/a?m+map=${encodeURIComponent('key1="val1";key2=true')}`, 'parameters');
  failsPath('/a?m+map=k=', 'invalid map value "k="', 'expected an item');
  failsPath('/a?m+map=k=1,,j=2', 'invalid map value');
});

test('errors from nested paths surface', () => {
  failsPath('/a&k=(b~Bad@1.0)', 'invalid device "Bad@1.0"');
  failsPath('/(a?x=1)/b', 'unbalanced parentheses');
});

test('SingletonError is an Error with status 400', () => {
  const e = new SingletonError('x');
  assert.instance(e, Error);
  assert.is(e.status, 400);
  assert.is(e.name, 'SingletonError');
});

test('the one-pass reading of /<ID>/<key>?… gives what the grammar gives, and its errors', () => {
  const id = 'A'.repeat(42) + 'b';
  const queries = [
    '', '?', '?wasm-function=fac&wasm-params=[5.0]', '?wasm-function=fac&wasm-params=[5.0]&gas-limit=100', '?cost-only',
    '?a=1&a=2', '?a=1&&b=2&', '?path=x&method=POST', '?__proto__=1', '?wasm-params=[{"text":"hi"}]', '?wasm-params=(1)',
    '?a=%20', '?a=b+c', '?a+integer=1', '?1.a=x', '?=x', '?a=', '?a=b=c', '?A_b-9=z', '?x.y.z=1', '?a b=1',
  ];
  const paths = [`/${id}/compute`, `/${id}/Compute`, `/${id}/now`, `/${id}/${id}`, `/${id}/compute/`, `/${id}//compute`, `/${id}/com%70ute`, `/${id}/`, `/${id}`, `/${id}x/compute`, `/${id}/a~b@1.0`, `/${id}/(x)`, `/${id}/${'k'.repeat(600)}`];
  const slow = (request: Record<string, string>) => parse({ ...request, extra: 'x' }).map((m) => (typeof m === 'string' ? m : (({ extra: _, ...rest }) => rest)(m as Record<string, unknown>)));
  const outcome = (f: () => unknown) => {
    try {
      return JSON.stringify(f(), (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v)) : v));
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  };
  for (const path of paths) {
    for (const query of queries) {
      for (const method of ['GET', 'HEAD']) {
        const request = { path: path + query, method };
        // The extra request key sends the same path the general way (it is dropped again after).
        const general = outcome(() => slow(request));
        if (general.startsWith('SingletonError')) assert.is(outcome(() => parse(request)), outcome(() => parse({ ...request, extra: 'x' })), request.path);
        else assert.is(outcome(() => parse(request)), general, request.path);
      }
    }
  }
});

test.run();
