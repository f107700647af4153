// The training corpus of the character-level model (modules/model.ts): short paragraphs of
// English about nodes, hashes and verification, generated from a small grammar with a seeded
// PRNG, so the weights (modules/tools/model/weights.ts) are reproducible byte for byte with nothing
// downloaded. Most paragraphs open with "Hello", so a "Hello" prompt continues the way the
// corpus does.
//
// Plain TypeScript (run under tsx); only integer and IEEE arithmetic, no Math.random or Date.

/** mulberry32: a small 32-bit PRNG, the same sequence on every engine. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Word lists. Frequencies matter: greedy decoding follows the most likely continuation, so the
// first entries (picked a little more often, see `pick`) shape what the model says most.
const GREETINGS = ['Hello world', 'Hello node', 'Hello there', 'Hello friend', 'Hello again'];
const SUBJECTS = ['the node', 'each node', 'the verifier', 'a worker', 'the gateway', 'the engine', 'every peer', 'the module'];
const VERBS = ['verifies', 'computes', 'checks', 'hashes', 'signs', 'stores', 'sends', 'runs'];
const OBJECTS = ['the hash', 'the result', 'a message', 'each block', 'the proof', 'the data', 'a module', 'the ledger'];
const TAILS = ['', '', ' on the gpu', ' for the network', ' with a signature', ' in the ledger', ' before it answers', ' again'];
const CLOSERS = [
  'Hello to you too.',
  'Then the hash is verified.',
  'The network agrees.',
  'Nothing is trusted without a proof.',
  'Every result can be checked.',
];

/** Picks an element, biased toward the front of the list (the minimum of two uniform draws). */
function pick<T>(rand: () => number, list: readonly T[]): T {
  const i = Math.min(Math.floor(rand() * list.length), Math.floor(rand() * list.length));
  return list[i];
}

// Sentences start with a capital; after a greeting's comma the first letter is lowered again.
function sentence(rand: () => number): string {
  const subject = pick(rand, SUBJECTS);
  return `${subject[0].toUpperCase()}${subject.slice(1)} ${pick(rand, VERBS)} ${pick(rand, OBJECTS)}${pick(rand, TAILS)}.`;
}

/** The corpus as paragraphs: each is one training sequence (left-padded at its start). */
export function corpusParagraphs(count = 360, seed = 0x48574c4d /* "HWLM" */): string[] {
  const rand = mulberry32(seed);
  const paragraphs: string[] = [];
  for (let p = 0; p < count; p++) {
    const parts: string[] = [];
    const sentences = 1 + Math.floor(rand() * 3);
    for (let s = 0; s < sentences; s++) parts.push(sentence(rand));
    if (rand() < 0.8) {
      const greeting = pick(rand, GREETINGS);
      // "Hello world, the node ..." or "Hello world. The node ...".
      if (rand() < 0.7) parts[0] = `${greeting}, ${parts[0][0].toLowerCase()}${parts[0].slice(1)}`;
      else parts.unshift(`${greeting}.`);
    }
    if (rand() < 0.3) parts.push(pick(rand, CLOSERS));
    paragraphs.push(parts.join(' '));
  }
  return paragraphs;
}
