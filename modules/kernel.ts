// kernel: CPU-heavy integer kernels for the benchmarks (numeric ABI, no memory traffic
// with the host). Every result is a pure function of the arguments and is reproduced by a
// few lines of JavaScript, so a benchmark can check the engine computed the right thing.

// ---------------------------------------------------------------------------------------
// matmul

// xorshift32 (Marsaglia). A zero state would stay zero forever, so seed 0 uses this
// constant instead.
const ZERO_SEED_STATE: u32 = 0x9e3779b9;

/**
 * Fills A then B (n×n, row-major) from one xorshift32 stream seeded with `seed`, computes
 * C = A×B with wrapping i32 arithmetic, and returns the wrapping sum of C[i] * (i + 1).
 */
export function matmul(n: i32, seed: i32): i32 {
  if (n <= 0) return 0;
  if (n > 4096) throw new Error("matmul: n must be at most 4096");
  const cells = <usize>n * <usize>n;
  const bytes = cells << 2;
  const a = heap.alloc(bytes);
  const b = heap.alloc(bytes);
  const c = heap.alloc(bytes);

  let x: u32 = seed != 0 ? <u32>seed : ZERO_SEED_STATE;
  for (let i: usize = 0; i < cells; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    store<u32>(a + (i << 2), x);
  }
  for (let i: usize = 0; i < cells; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    store<u32>(b + (i << 2), x);
  }
  memory.fill(c, 0, bytes);

  // i-k-j order walks B and C row by row; wrapping addition is associative, so the
  // result is the same as the textbook i-j-k order.
  const row = <usize>n << 2;
  for (let i = 0; i < n; i++) {
    const cRow = c + <usize>i * row;
    const aRow = a + <usize>i * row;
    for (let k = 0; k < n; k++) {
      const aik = load<i32>(aRow + (<usize>k << 2));
      const bRow = b + <usize>k * row;
      for (let j = 0; j < n; j++) {
        const off = <usize>j << 2;
        store<i32>(cRow + off, load<i32>(cRow + off) + aik * load<i32>(bRow + off));
      }
    }
  }

  let sum: i32 = 0;
  for (let i: usize = 0; i < cells; i++) {
    sum += load<i32>(c + (i << 2)) * <i32>(i + 1);
  }
  // Freed newest first: the stub runtime can only take back the most recent block, and
  // this way a benchmark calling matmul in a loop does not grow memory.
  heap.free(c);
  heap.free(b);
  heap.free(a);
  return sum;
}

// ---------------------------------------------------------------------------------------
// sha256

// prettier-ignore
const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// prettier-ignore
const IV: StaticArray<u32> = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

// A 64-byte message is exactly one block, so the padding block is always the same:
// 0x80, zeros, then the bit length 512.
// prettier-ignore
const PAD: StaticArray<u32> = [0x80000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 512];

const H = new StaticArray<u32>(8); // running hash state
const W = new StaticArray<u32>(64); // message schedule
const M = new StaticArray<u32>(16); // the 64-byte message as big-endian words

/**
 * Sets a 64-byte block to zeros, then `iterations` times replaces its first 32 bytes with
 * SHA-256(block). Returns the first 4 bytes of the last digest as a big-endian i32
 * (sha256(1) is the start of SHA-256 of 64 zero bytes: 0xf5a5fd42). 0 for iterations <= 0.
 */
export function sha256(iterations: i32): i32 {
  if (iterations <= 0) return 0;
  for (let i = 0; i < 16; i++) unchecked(M[i] = 0);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < 8; i++) unchecked(H[i] = IV[i]);
    compress(M);
    compress(PAD);
    // Big-endian words are the digest bytes in order, so feeding back is a word copy.
    for (let i = 0; i < 8; i++) unchecked(M[i] = H[i]);
  }
  return <i32>unchecked(H[0]);
}

function compress(block: StaticArray<u32>): void {
  for (let t = 0; t < 16; t++) unchecked(W[t] = block[t]);
  for (let t = 16; t < 64; t++) {
    const w15 = unchecked(W[t - 15]);
    const w2 = unchecked(W[t - 2]);
    const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
    unchecked(W[t] = W[t - 16] + s0 + W[t - 7] + s1);
  }
  let a = unchecked(H[0]), b = unchecked(H[1]), c = unchecked(H[2]), d = unchecked(H[3]);
  let e = unchecked(H[4]), f = unchecked(H[5]), g = unchecked(H[6]), h = unchecked(H[7]);
  for (let t = 0; t < 64; t++) {
    const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = h + S1 + ch + unchecked(K[t]) + unchecked(W[t]);
    const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  unchecked(H[0] += a); unchecked(H[1] += b); unchecked(H[2] += c); unchecked(H[3] += d);
  unchecked(H[4] += e); unchecked(H[5] += f); unchecked(H[6] += g); unchecked(H[7] += h);
}

// ---------------------------------------------------------------------------------------
// primes

/** Number of primes below `limit`, by trial division with odd divisors up to √n. */
export function primes(limit: i32): i32 {
  if (limit <= 2) return 0;
  let count = 1; // 2
  for (let n: u32 = 3; n < <u32>limit; n += 2) {
    let prime = true;
    // u32, because d * d overflows i32 for n near 2^31.
    for (let d: u32 = 3; d * d <= n; d += 2) {
      if (n % d == 0) { prime = false; break; }
    }
    if (prime) count++;
  }
  return count;
}
