// Byte and text encodings every other part agrees on: base64url IDs, UTF-8, and the
// canonical JSON that message IDs and result hashes are computed over.

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

export function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function fromB64url(text: string): Uint8Array {
  // Buffer.from silently skips characters outside the alphabet; an ID must not.
  if (!B64URL_PATTERN.test(text)) throw new Error(`not base64url: ${JSON.stringify(text.slice(0, 64))}`);
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** A 32-byte ID shown as 43 base64url characters. */
export function isId(text: unknown): text is string {
  return typeof text === 'string' && ID_PATTERN.test(text);
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
/** UTF-8 text, or undefined where the bytes are not valid UTF-8. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * RFC 8785-style canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * numbers in ECMAScript's shortest round-trip form. Values JSON cannot carry exactly
 * (NaN, Infinity, undefined, functions, bigint) are refused rather than silently changed,
 * because two nodes must produce the same bytes for the same value.
 */
export function canonicalJson(value: unknown): string {
  // Written as loops over strings rather than map/sort/join: every statement, request and
  // state hash goes through it. Keys already in order (most objects here are built so) are not sorted.
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot encode ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
        return out + ']';
      }
      const keys = Object.keys(value);
      let sorted = true;
      let flat = true; // every value a string, a finite number, a boolean or null: JSON.stringify is canonical
      for (let i = 0; i < keys.length; i++) {
        if (i > 0 && keys[i - 1] > keys[i]) sorted = false;
        const v = (value as Record<string, unknown>)[keys[i]];
        if (!(typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v)))) flat = false;
      }
      if (sorted && flat) return JSON.stringify(value);
      if (!sorted) keys.sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) out += (i === 0 ? '' : ',') + JSON.stringify(keys[i]) + ':' + canonicalJson((value as Record<string, unknown>)[keys[i]]);
      return out + '}';
    }
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
  }
}
