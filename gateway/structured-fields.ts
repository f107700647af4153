// RFC 8941 structured fields: lists and dictionaries of bare items, the text form of the
// singleton grammar's `+list` and `+map` keys. Apart from the path grammar (gateway/singleton.ts)
// as HyperBEAM keeps hb_structured_fields apart from hb_singleton: this file knows nothing of
// AO-Core; what an item means (`"(ao-type-integer) 1"`, the `true` token) is its caller's call.
//
// Deliberately narrower than RFC 8941: no inner lists and no parameters (both are refused),
// integers of at most 15 digits, decimals of 1-12 digits before "." and 1-3 after.

/** A bare item as written: its type decides what the caller makes of its value. */
export type BareItem =
  | { type: 'integer' | 'decimal'; value: number }
  | { type: 'string' | 'token' | 'bytes'; value: string }
  | { type: 'boolean'; value: boolean };

/** Malformed structured-field text; the message says what and at which character. */
export class FieldError extends Error {}

const TOKEN = /[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*/y;
const OWS = /[ \t]*/y;
const KEY = /[a-z*][a-z0-9_\-.*]*/y;
const NUMBER = /-?([0-9]+)(?:\.([0-9]*))?/y;
const STRING = /"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"])*)"/y;
const BYTES = /:([A-Za-z0-9+/]*={0,2}):/y;
const BOOLEAN = /\?[01]/y;

/** Whether the whole text is one RFC 8941 token. */
export function isToken(text: string): boolean {
  TOKEN.lastIndex = 0;
  const m = TOKEN.exec(text);
  return m !== null && m[0].length === text.length;
}

/** An RFC 8941 list, each item passed through `interpret` as soon as it is read. */
export function parseList<T>(text: string, interpret: (item: BareItem) => T): T[] {
  const fields = new Fields(text, interpret);
  return fields.members(() => fields.item());
}

/** An RFC 8941 dictionary as entries in order (a key without "=" is the boolean true). */
export function parseDictionary<T>(text: string, interpret: (item: BareItem) => T): [string, T][] {
  const fields = new Fields(text, interpret);
  return fields.members(() => fields.entry());
}

class Fields<T> {
  private pos = 0;
  private readonly text: string;

  constructor(text: string, private readonly interpret: (item: BareItem) => T) {
    this.text = text.replace(/^ +| +$/g, '');
  }

  private fail(why: string): never {
    throw new FieldError(`${why} at character ${this.pos + 1}`);
  }

  private take(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m) this.pos += m[0].length;
    return m;
  }

  private get done(): boolean {
    return this.pos >= this.text.length;
  }

  members<M>(read: () => M): M[] {
    const out: M[] = [];
    while (!this.done) {
      out.push(read());
      this.take(OWS);
      if (this.done) break;
      if (this.text[this.pos] !== ',') this.fail('expected ","');
      this.pos++;
      this.take(OWS);
      if (this.done) this.fail('trailing ","');
    }
    return out;
  }

  entry(): [string, T] {
    const key = this.take(KEY)?.[0] ?? this.fail('expected a key (a lowercase letter or "*", then a-z 0-9 _ - . *)');
    if (this.text[this.pos] !== '=') return [key, this.noParameters(this.interpret({ type: 'boolean', value: true }))];
    this.pos++;
    return [key, this.item()];
  }

  item(): T {
    const c = this.text[this.pos] ?? this.fail('expected an item');
    if (c === '-' || (c >= '0' && c <= '9')) return this.noParameters(this.interpret(this.number()));
    if (c === '"') {
      const m = this.take(STRING) ?? this.fail('unterminated string, or a character or escape strings cannot hold');
      return this.noParameters(this.interpret({ type: 'string', value: m[1]!.replace(/\\(.)/g, '$1') }));
    }
    if (c === ':') {
      const m = this.take(BYTES) ?? this.fail('invalid :base64: byte sequence');
      return this.noParameters(this.interpret({ type: 'bytes', value: m[1]! }));
    }
    if (c === '?') {
      const m = this.take(BOOLEAN) ?? this.fail('expected ?1 or ?0');
      return this.noParameters(this.interpret({ type: 'boolean', value: m[0] === '?1' }));
    }
    if (c === '(') this.fail('inner lists are not supported');
    const token = this.take(TOKEN) ?? this.fail(`unexpected "${c}"`);
    return this.noParameters(this.interpret({ type: 'token', value: token[0] }));
  }

  private number(): BareItem {
    const m = this.take(NUMBER) ?? this.fail('expected a digit');
    const [text, whole, fraction] = m as unknown as [string, string, string | undefined];
    if (fraction === undefined) {
      if (whole.length > 15) this.fail('integer of more than 15 digits');
    } else if (whole.length > 12 || fraction.length < 1 || fraction.length > 3) {
      this.fail('decimal needs 1-12 digits before "." and 1-3 after');
    }
    return { type: fraction === undefined ? 'integer' : 'decimal', value: Number(text) };
  }

  private noParameters<V>(value: V): V {
    if (this.text[this.pos] === ';') this.fail('parameters (";") are not supported');
    return value;
  }
}
