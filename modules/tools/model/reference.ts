// A plain-TypeScript reference of modules/model.ts's inference over the weights bytes (format
// in modules/tools/model/weights.ts): the same steps, each kernel step done by the engine's CPU
// reference of that kernel (runReference), so its output is the wasm module's output character
// for character. Used to check the module and by the tests.
import { runReference } from '../../../engine/gpu/run.ts';

export interface ModelWeights {
  V: number;
  C: number;
  D: number;
  H: number;
  multiplier: number;
  shift: number;
  /** Character code of each token (token 0 = pad/unknown). */
  vocab: Uint8Array;
  E: Uint8Array; // int8[V·D]
  W1: Uint8Array; // int8[C·D·H]
  b1: Uint8Array; // i32[H]
  W2: Uint8Array; // int8[H·V]
  b2: Uint8Array; // i32[V]
}

const align4 = (n: number) => (n + 3) & ~3;

/** Byte offsets of each part of a weights file with these sizes (modules/tools/model/weights.ts has the format), and its size. */
export function weightsLayout(V: number, C: number, D: number, H: number) {
  let offset = 32;
  const at = (size: number, align = false) => {
    if (align) offset = align4(offset);
    const start = offset;
    offset += size;
    return start;
  };
  const layout = { vocab: at(V), E: at(V * D, true), W1: at(C * D * H), b1: at(H * 4, true), W2: at(H * V), b2: at(V * 4, true) };
  return { ...layout, size: offset };
}

/** Parses and checks a weights file; throws on anything malformed. */
export function parseWeights(bytes: Uint8Array): ModelWeights {
  if (bytes.length < 32) throw new Error(`model weights: ${bytes.length} bytes is shorter than the 32-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== 'HWLM') throw new Error('model weights: bad magic (expected "HWLM")');
  const [version, V, C, D, H, multiplier, shift] = Array.from({ length: 7 }, (_, i) => view.getUint32(4 + 4 * i, true));
  if (version !== 1) throw new Error(`model weights: unsupported version ${version} (expected 1)`);
  if (V < 2 || V > 256 || C < 1 || C > 1024 || D < 1 || D > 4096 || H < 1 || H > 65536) throw new Error('model weights: sizes out of range');
  if (multiplier >= 2 ** 31 || shift > 63) throw new Error('model weights: requantization out of range');
  const at = weightsLayout(V, C, D, H);
  if (at.size !== bytes.length) throw new Error(`model weights: expected ${at.size} bytes for these sizes, got ${bytes.length}`);
  const part = (offset: number, size: number) => bytes.subarray(offset, offset + size);
  return {
    V, C, D, H, multiplier, shift,
    vocab: part(at.vocab, V),
    E: part(at.E, V * D),
    W1: part(at.W1, C * D * H),
    b1: part(at.b1, H * 4),
    W2: part(at.W2, H * V),
    b2: part(at.b2, V * 4),
  };
}

/** Token of a prompt character (a UTF-16 code unit): its vocabulary index, or 0 (unknown). */
function tokenOf(w: ModelWeights, code: number): number {
  for (let t = 1; t < w.V; t++) if (w.vocab[t] === code) return t;
  return 0;
}

/** Greedy decoding: the `tokens` characters the model continues `prompt` with. */
export function generate(weights: Uint8Array, prompt: string, tokens: number): string {
  const w = parseWeights(weights);
  const { V, C, D, H } = w;
  const K = C * D;
  // The last C prompt characters, left-padded with token 0.
  const context = new Array<number>(C).fill(0);
  for (let i = Math.max(0, prompt.length - C); i < prompt.length; i++) {
    context.shift();
    context.push(tokenOf(w, prompt.charCodeAt(i)));
  }
  const x = new Uint8Array(K);
  let text = '';
  for (let step = 0; step < tokens; step++) {
    for (let c = 0; c < C; c++) x.set(w.E.subarray(context[c] * D, context[c] * D + D), c * D);
    const acc1 = runReference('matmul_i8', { m: 1, k: K, n: H }, [x, w.W1]);
    const biased1 = runReference('add_i32', { length: H, bLength: H }, [acc1, w.b1]);
    const relu = runReference('relu_i32', { length: H }, [biased1]);
    const h = runReference('requantize', { length: H, multiplier: w.multiplier, shift: w.shift, zeroPoint: 0 }, [relu]);
    const acc2 = runReference('matmul_i8', { m: 1, k: H, n: V }, [h, w.W2]);
    const logits = runReference('add_i32', { length: V, bLength: V }, [acc2, w.b2]);
    const index = runReference('argmax_i32', { rows: 1, cols: V }, [logits]);
    const best = new DataView(index.buffer, index.byteOffset, 4).getUint32(0, true);
    text += String.fromCharCode(w.vocab[best]);
    context.shift();
    context.push(best);
  }
  return text;
}
