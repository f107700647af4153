// Trains the character-level language model of modules/model.ts on the generated corpus
// (modules/tools/model/corpus.ts) and writes its int8 weights: the separate data item the module
// reads through its `data` imports. Deterministic: the same bytes on every run and machine
// (seeded PRNG, fixed loop orders, float64 with only +, -, *, /, sqrt, Math.exp and Math.log).
//
//   npx tsx modules/tools/model/weights.ts [outFile]     (default modules/build/model.weights)
//
// prints the training loss per epoch, the file's size and sha256, and the int8 model's greedy
// continuation of "Hello" (computed by modules/tools/model/reference.ts).
//
// The model: the C previous characters (left-padded with token 0) → embeddings E[V][D] int8,
// concatenated into x int8[C·D] → x·W1 (i32[H]) + b1 → relu → requantize (multiplier, shift,
// zero point 0) to int8[H] → ·W2 (i32[V]) + b2 → argmax = the next character.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { corpusParagraphs, mulberry32 } from './corpus.ts';
import { weightsLayout } from './reference.ts';

/**
 * The weights file, version 1. Little-endian; offsets in bytes; K = C·D.
 *
 *   0   "HWLM"                      magic (4 ASCII bytes)
 *   4   u32 version                 1
 *   8   u32 V                       vocabulary size (2..256)
 *   12  u32 C                       context length in characters
 *   16  u32 D                       embedding width
 *   20  u32 H                       hidden width
 *   24  u32 multiplier              requantize multiplier for the hidden layer, in [0, 2^31)
 *   28  u32 shift                   requantize shift, in [0, 63] (zero point is 0)
 *   32  u8  vocab[V]                character code of each token; token 0 is pad/unknown and
 *                                   prints as vocab[0] ('?'); prompt characters (UTF-16 code
 *                                   units) not in vocab[1..V-1] map to token 0
 *       zero bytes to a multiple of 4
 *       int8 E[V·D]                 embeddings, row-major (row = token)
 *       int8 W1[K·H]                row-major, K rows × H cols (row c·D + d = context slot c's dim d;
 *                                   slot C-1 is the character just before the one predicted)
 *       zero bytes to a multiple of 4
 *       i32 b1[H]                   in the scale of x·W1
 *       int8 W2[H·V]                row-major, H rows × V cols
 *       zero bytes to a multiple of 4
 *       i32 b2[V]                   in the scale of h·W2
 *
 * and nothing after: the size is exactly what these fields add up to.
 */
export const WEIGHTS_FORMAT = 'HWLM v1: header(magic "HWLM", u32 version=1, V, C, D, H, multiplier, shift) vocab[V] pad4 E[V·D] W1[C·D·H] pad4 b1 i32[H] W2[H·V] pad4 b2 i32[V], little-endian';
export const WEIGHTS_MAGIC = 'HWLM';
export const WEIGHTS_VERSION = 1;

/** Context length, embedding width and hidden width (the vocabulary comes from the corpus). */
export const CONTEXT = 8;
export const EMBED = 16;
export const HIDDEN = 128;

// Training schedule: Adam on minibatches. Sized so training takes about 3 s on one core
// (the loss is near the corpus's own entropy after 2-3 epochs).
const EPOCHS = 3;
const BATCH = 256;
const LEARNING_RATE = 0.02;
const SEED = 0x5eed1234;

/** Token 0's character: what the pad/unknown token prints as. */
const UNKNOWN_CHAR = 0x3f; // '?'

/** vocab[0] is the pad/unknown token; the corpus's characters follow in code order. */
export function buildVocab(paragraphs: string[]): number[] {
  const codes = new Set<number>();
  for (const p of paragraphs) for (let i = 0; i < p.length; i++) codes.add(p.charCodeAt(i));
  const sorted = [...codes].sort((a, b) => a - b);
  for (const c of sorted) if (c > 255 || c === UNKNOWN_CHAR) throw new Error(`corpus character ${c} cannot be in the vocabulary`);
  return [UNKNOWN_CHAR, ...sorted];
}

/** Every (context, next character) pair of the corpus; each paragraph starts from an all-pad context. */
function examples(paragraphs: string[], vocab: number[]): { contexts: Uint8Array; targets: Uint8Array } {
  const index = new Map(vocab.map((c, i) => [c, i] as const));
  const total = paragraphs.reduce((n, p) => n + p.length, 0);
  const contexts = new Uint8Array(total * CONTEXT);
  const targets = new Uint8Array(total);
  let e = 0;
  for (const p of paragraphs) {
    const ctx = new Array<number>(CONTEXT).fill(0);
    for (let i = 0; i < p.length; i++) {
      const token = index.get(p.charCodeAt(i))!;
      contexts.set(ctx, e * CONTEXT);
      targets[e++] = token;
      ctx.shift();
      ctx.push(token);
    }
  }
  return { contexts, targets };
}

interface FloatModel {
  V: number;
  E: Float64Array; // V·D
  W1: Float64Array; // K·H
  b1: Float64Array; // H
  W2: Float64Array; // H·V
  b2: Float64Array; // V
}

/** Uniform in [-a, a). */
function fill(rand: () => number, n: number, a: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * a;
  return out;
}

/**
 * Float64 training: softmax cross-entropy, Adam, shuffled minibatches.
 *
 * x is C embedding rows side by side, so x·W1 = Σ_c E[token_c]·W1_c (W1_c: slot c's D rows).
 * Each batch therefore first tabulates T[c][v] = E[v]·W1_c for every slot and token, and an
 * example's hidden layer is a sum of C table rows; the backward pass likewise sums dh into
 * G[c][token_c], and gW1 and gE come from G once per batch. That makes an example cost C·H
 * instead of 3·K·H multiply-adds in the first layer: training is several times faster.
 */
function train(V: number, contexts: Uint8Array, targets: Uint8Array, log: (line: string) => void): FloatModel {
  const C = CONTEXT, D = EMBED, H = HIDDEN, K = C * D;
  const rand = mulberry32(SEED);
  const model: FloatModel = {
    V,
    E: fill(rand, V * D, 1),
    W1: fill(rand, K * H, Math.sqrt(6 / K)), // He-uniform for the relu layer
    b1: new Float64Array(H),
    W2: fill(rand, H * V, Math.sqrt(3 / H)),
    b2: new Float64Array(V),
  };
  const params = [model.E, model.W1, model.b1, model.W2, model.b2];
  const grads = params.map((p) => new Float64Array(p.length));
  const moment1 = params.map((p) => new Float64Array(p.length));
  const moment2 = params.map((p) => new Float64Array(p.length));
  const [gE, gW1, gb1, gW2, gb2] = grads;
  const { E, W1, b1, W2, b2 } = model;

  const table = new Float64Array(C * V * H); // T[c][v][j]
  const G = new Float64Array(C * V * H); // Σ dh over the batch's examples with token v in slot c
  const z = new Float64Array(H);
  const p = new Float64Array(V);
  const n = targets.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  let beta1t = 1, beta2t = 1;

  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const started = performance.now();
    // Fisher-Yates with the seeded stream: the same order every run.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += BATCH) {
      const end = Math.min(start + BATCH, n);
      for (const g of grads) g.fill(0);
      G.fill(0);
      table.fill(0);
      for (let c = 0; c < C; c++) {
        for (let v = 0; v < V; v++) {
          const t = (c * V + v) * H;
          for (let d = 0; d < D; d++) {
            const e = E[v * D + d];
            const off = (c * D + d) * H;
            for (let j = 0; j < H; j++) table[t + j] += e * W1[off + j];
          }
        }
      }
      for (let b = start; b < end; b++) {
        const e = order[b];
        const target = targets[e];
        // hidden: z = b1 + Σ_c T[c][token_c], h = relu(z) (kept in z)
        z.set(b1);
        for (let c = 0; c < C; c++) {
          const t = (c * V + contexts[e * C + c]) * H;
          for (let j = 0; j < H; j++) z[j] += table[t + j];
        }
        for (let j = 0; j < H; j++) if (z[j] < 0) z[j] = 0;
        // logits and softmax
        p.set(b2);
        for (let j = 0; j < H; j++) {
          const hj = z[j];
          if (hj === 0) continue;
          const off = j * V;
          for (let v = 0; v < V; v++) p[v] += hj * W2[off + v];
        }
        let max = p[0], best = 0;
        for (let v = 1; v < V; v++) if (p[v] > max) { max = p[v]; best = v; }
        if (best === target) correct++;
        let sum = 0;
        for (let v = 0; v < V; v++) { p[v] = Math.exp(p[v] - max); sum += p[v]; }
        for (let v = 0; v < V; v++) p[v] /= sum;
        lossSum -= Math.log(p[target]);
        // backward: dlogits = p - onehot(target) (kept in p); dh overwrites h in z, as
        // h is needed no more once its own gW2 row is done
        p[target] -= 1;
        for (let v = 0; v < V; v++) gb2[v] += p[v];
        for (let j = 0; j < H; j++) {
          const hj = z[j];
          if (hj === 0) continue; // relu: no gradient through an inactive unit
          const off = j * V;
          let s = 0;
          for (let v = 0; v < V; v++) {
            s += W2[off + v] * p[v];
            gW2[off + v] += hj * p[v];
          }
          z[j] = s;
        }
        for (let j = 0; j < H; j++) gb1[j] += z[j];
        for (let c = 0; c < C; c++) {
          const t = (c * V + contexts[e * C + c]) * H;
          for (let j = 0; j < H; j++) G[t + j] += z[j];
        }
      }
      // gW1_c = Σ_v E[v]ᵀ G[c][v] and gE[v] = Σ_c W1_c G[c][v]
      for (let c = 0; c < C; c++) {
        for (let v = 0; v < V; v++) {
          const t = (c * V + v) * H;
          for (let d = 0; d < D; d++) {
            const e = E[v * D + d];
            const off = (c * D + d) * H;
            let s = 0;
            for (let j = 0; j < H; j++) {
              const g = G[t + j];
              gW1[off + j] += e * g;
              s += W1[off + j] * g;
            }
            gE[v * D + d] += s;
          }
        }
      }
      // Adam step on the batch's mean gradient.
      beta1t *= beta1;
      beta2t *= beta2;
      const scale = 1 / (end - start);
      const step = (LEARNING_RATE * Math.sqrt(1 - beta2t)) / (1 - beta1t);
      for (let t = 0; t < params.length; t++) {
        const w = params[t], g = grads[t], m1 = moment1[t], m2 = moment2[t];
        for (let i = 0; i < w.length; i++) {
          const gi = g[i] * scale;
          m1[i] = beta1 * m1[i] + (1 - beta1) * gi;
          m2[i] = beta2 * m2[i] + (1 - beta2) * gi * gi;
          w[i] -= (step * m1[i]) / (Math.sqrt(m2[i]) + eps);
        }
      }
    }
    log(`epoch ${epoch}: loss ${(lossSum / n).toFixed(4)}, accuracy ${((100 * correct) / n).toFixed(1)}% (${Math.round(performance.now() - started)} ms)`);
  }
  return model;
}

/** Rounds half away from zero (as the requantize kernel does). */
function round(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** Per-tensor symmetric int8: q = round(w / scale), scale = max|w| / 127. */
function quantise(w: Float64Array): { q: Int8Array; scale: number } {
  let max = 0;
  for (let i = 0; i < w.length; i++) max = Math.max(max, Math.abs(w[i]));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, round(w[i] / scale)));
  return { q, scale };
}

function quantiseBias(b: Float64Array, scale: number): Int32Array {
  const q = new Int32Array(b.length);
  for (let i = 0; i < b.length; i++) q[i] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, round(b[i] / scale)));
  return q;
}

/**
 * The int8 model. The hidden layer's int8 scale comes from the largest integer activation over
 * the training contexts, so no training activation clips; multiplier / 2^shift approximates
 * (i32 scale) / (int8 scale) with a 31-bit multiplier.
 */
function quantiseModel(model: FloatModel, contexts: Uint8Array) {
  const C = CONTEXT, D = EMBED, H = HIDDEN;
  const E = quantise(model.E);
  const W1 = quantise(model.W1);
  const W2 = quantise(model.W2);
  const accScale = E.scale * W1.scale;
  const b1 = quantiseBias(model.b1, accScale);
  // The same tabulation as in training, exact in integers: table[c][v] = E[v]·W1_c.
  const V = model.V;
  const table = new Int32Array(C * V * H);
  for (let c = 0; c < C; c++) {
    for (let v = 0; v < V; v++) {
      for (let d = 0; d < D; d++) {
        const e = E.q[v * D + d];
        const off = (c * D + d) * H;
        for (let j = 0; j < H; j++) table[(c * V + v) * H + j] += e * W1.q[off + j];
      }
    }
  }
  let maxAcc = 1;
  const acc = new Int32Array(H);
  for (let e = 0; e < contexts.length / C; e++) {
    acc.set(b1);
    for (let c = 0; c < C; c++) {
      const t = (c * V + contexts[e * C + c]) * H;
      for (let j = 0; j < H; j++) acc[j] += table[t + j];
    }
    for (let j = 0; j < H; j++) if (acc[j] > maxAcc) maxAcc = acc[j];
  }
  // int8 h = acc · ratio, ratio = 127 / maxAcc; multiplier = ratio · 2^shift in [2^30, 2^31).
  const ratio = 127 / maxAcc;
  let shift = 0;
  while (shift < 63 && ratio * 2 ** (shift + 1) < 2 ** 31) shift++;
  const multiplier = Math.min(round(ratio * 2 ** shift), 2 ** 31 - 1);
  const hiddenScale = accScale / ratio;
  const b2 = quantiseBias(model.b2, hiddenScale * W2.scale);
  return { E: E.q, W1: W1.q, b1, W2: W2.q, b2, multiplier, shift };
}

/** Serialises the int8 model in the WEIGHTS_FORMAT layout. */
function serialise(vocab: number[], q: ReturnType<typeof quantiseModel>): Uint8Array {
  const V = vocab.length, C = CONTEXT, D = EMBED, H = HIDDEN;
  const { vocab: vocabAt, E: eAt, W1: w1At, b1: b1At, W2: w2At, b2: b2At, size } = weightsLayout(V, C, D, H);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(WEIGHTS_MAGIC), 0);
  [WEIGHTS_VERSION, V, C, D, H, q.multiplier, q.shift].forEach((v, i) => view.setUint32(4 + 4 * i, v, true));
  out.set(vocab, vocabAt);
  out.set(new Uint8Array(q.E.buffer), eAt);
  out.set(new Uint8Array(q.W1.buffer), w1At);
  q.b1.forEach((v, i) => view.setInt32(b1At + 4 * i, v, true));
  out.set(new Uint8Array(q.W2.buffer), w2At);
  q.b2.forEach((v, i) => view.setInt32(b2At + 4 * i, v, true));
  return out;
}

/** Trains the model on the corpus and returns the weights file's bytes (deterministic). */
export function generateWeights(log: (line: string) => void = () => {}): Uint8Array {
  const paragraphs = corpusParagraphs();
  const vocab = buildVocab(paragraphs);
  const { contexts, targets } = examples(paragraphs, vocab);
  log(`corpus: ${paragraphs.length} paragraphs, ${targets.length} characters, vocabulary of ${vocab.length}`);
  const model = train(vocab.length, contexts, targets, log);
  return serialise(vocab, quantiseModel(model, contexts));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outFile = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'model.weights');
  const started = performance.now();
  const bytes = generateWeights((line) => console.log(line));
  const ms = Math.round(performance.now() - started);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, bytes);
  console.log(`wrote ${outFile}: ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')} (${ms} ms)`);
  const { generate } = await import('./reference.ts');
  console.log(`"Hello" → ${JSON.stringify(generate(bytes, 'Hello', 96))}`);
}
