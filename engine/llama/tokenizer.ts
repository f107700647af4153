// The Llama SentencePiece-style tokenizer, as llama2.c's run.c implements it: the rule a model
// module will port, so the reference must be that rule, not SentencePiece's full one. Why
// run.c's: it is small (a greedy merge of the adjacent pair whose merged piece scores best, ties
// to the leftmost), needs only the vocabulary and scores that GGUF files carry, and is what
// stories260K's documented outputs were made with.
//
// Pieces are kept as run.c's tokenizer.bin keeps them: SentencePiece's "▁" (U+2581) turned into
// a plain space. Encoding prepends the dummy-prefix space (run.c always does; a GGUF may say
// otherwise with tokenizer.ggml.add_space_prefix = false, which is honoured). Characters with no
// piece fall back to their UTF-8 bytes as `<0xNN>` tokens. Decoding strips the leading space of
// the piece right after BOS (as SentencePiece's decoder and run.c do) and skips BOS/EOS.

import { GGUFError, type GGUF } from './gguf.ts';

export interface Tokenizer {
  /** Each token's piece, "▁" already mapped to " ". */
  pieces: string[];
  scores: Float32Array;
  bos: number;
  eos: number;
  addSpacePrefix: boolean;
  /** piece → token (the first, should a vocabulary repeat a piece), BOS and EOS left out. */
  ids: Map<string, number>;
  /** The token of each byte's `<0xNN>` piece, −1 where the vocabulary has none. */
  byteTokens: Int32Array;
  /** The byte a `<0xNN>` token stands for, −1 for other tokens. */
  tokenByte: Int16Array;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

export function makeTokenizer(pieces: string[], scores: ArrayLike<number>, options: { bos: number; eos: number; addSpacePrefix: boolean }): Tokenizer {
  if (pieces.length !== scores.length) throw new Error(`tokenizer: ${pieces.length} pieces but ${scores.length} scores`);
  const ids = new Map<string, number>();
  const byteTokens = new Int32Array(256).fill(-1);
  const tokenByte = new Int16Array(pieces.length).fill(-1);
  pieces.forEach((piece, id) => {
    // BOS and EOS are never spelled by text (run.c makes their pieces "\n<s>\n" for that).
    if (id !== options.bos && id !== options.eos && !ids.has(piece)) ids.set(piece, id);
    const m = BYTE_PIECE.exec(piece);
    if (m?.[1] !== undefined) {
      const b = parseInt(m[1], 16);
      tokenByte[id] = b;
      if (byteTokens[b] === -1) byteTokens[b] = id;
    }
  });
  for (const [what, id] of [['bos', options.bos], ['eos', options.eos]] as const) {
    if (!(Number.isInteger(id) && id >= 0 && id < pieces.length)) throw new Error(`tokenizer: ${what} token ${id} is outside the vocabulary`);
  }
  return { pieces, scores: Float32Array.from(scores), ids, byteTokens, tokenByte, ...options };
}

/** The tokenizer a llama GGUF carries (`tokenizer.ggml.*`). */
export function tokenizerFromGGUF(gguf: GGUF): Tokenizer {
  const model = gguf.metadata.get('tokenizer.ggml.model');
  if (model !== 'llama') throw new GGUFError(`GGUF tokenizer.ggml.model is ${JSON.stringify(model)}: only the "llama" (SentencePiece) tokenizer is supported`);
  const tokens = gguf.metadata.get('tokenizer.ggml.tokens');
  const scores = gguf.metadata.get('tokenizer.ggml.scores');
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw new GGUFError('GGUF tokenizer.ggml.tokens is not an array of strings');
  if (!Array.isArray(scores) || !scores.every((s) => typeof s === 'number')) throw new GGUFError('GGUF tokenizer.ggml.scores is not an array of numbers');
  const id = (key: string, fallback: number): number => {
    const v = gguf.metadata.get(key);
    return v === undefined ? fallback : Number(v);
  };
  const prefix = gguf.metadata.get('tokenizer.ggml.add_space_prefix');
  return makeTokenizer(
    (tokens as string[]).map((t) => t.replaceAll('\u2581', ' ')),
    scores as number[],
    { bos: id('tokenizer.ggml.bos_token_id', 1), eos: id('tokenizer.ggml.eos_token_id', 2), addSpacePrefix: prefix !== false },
  );
}

const encoder = new TextEncoder();

/** Text → tokens, as run.c's encode(): optional BOS, dummy prefix, code points, byte fallback, merges. */
export function encode(tok: Tokenizer, text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
  const out: number[] = [];
  if (options.bos) out.push(tok.bos);
  const tokens: number[] = [];
  if (tok.addSpacePrefix && text !== '') {
    const space = tok.ids.get(' ');
    if (space === undefined) throw new Error('tokenizer: the vocabulary has no " " piece for the dummy prefix');
    tokens.push(space);
  }
  for (const ch of text) {
    const id = tok.ids.get(ch);
    if (id !== undefined) { tokens.push(id); continue; }
    for (const b of encoder.encode(ch)) {
      const bt = tok.byteTokens[b] ?? -1;
      if (bt < 0) throw new Error(`tokenizer: no piece for ${JSON.stringify(ch)} and no byte token <0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      tokens.push(bt);
    }
  }
  // Merge the best-scoring adjacent pair until none merges (strict > keeps the leftmost on ties).
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestAt = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = tok.ids.get(tok.pieces[tokens[i]!]! + tok.pieces[tokens[i + 1]!]!);
      if (id !== undefined && tok.scores[id]! > best) { best = tok.scores[id]!; bestId = id; bestAt = i; }
    }
    if (bestAt < 0) break;
    tokens.splice(bestAt, 2, bestId);
  }
  out.push(...tokens);
  if (options.eos) out.push(tok.eos);
  return out;
}

/** The bytes of `token` printed after `prev`, as run.c's decode(). BOS and EOS give nothing. */
export function decodePiece(tok: Tokenizer, prev: number, token: number): Uint8Array {
  if (token === tok.bos || token === tok.eos) return new Uint8Array(0);
  const byte = tok.tokenByte[token];
  if (byte === undefined) throw new RangeError(`token ${token} is outside the vocabulary of ${tok.pieces.length}`);
  if (byte >= 0) return Uint8Array.of(byte);
  let piece = tok.pieces[token]!;
  if (prev === tok.bos && piece.startsWith(' ')) piece = piece.slice(1);
  return encoder.encode(piece);
}

/** Tokens → UTF-8 bytes (byte tokens may split a character, so bytes are the exact result). */
export function decodeBytes(tok: Tokenizer, tokens: readonly number[], prev = -1): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const t of tokens) {
    const p = decodePiece(tok, prev, t);
    parts.push(p);
    length += p.length;
    prev = t;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** Tokens → text (invalid UTF-8 from stray byte tokens becomes U+FFFD). */
export const decode = (tok: Tokenizer, tokens: readonly number[], prev = -1): string => new TextDecoder().decode(decodeBytes(tok, tokens, prev));
