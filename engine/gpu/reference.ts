// CPU references of every GPU kernel: pure TypeScript on typed arrays, the semantics the GPU
// kernels (engine/gpu/wgsl/*) must reproduce bit for bit, and what a verifier without a GPU
// runs. Integers only: i32 arithmetic wraps (two's complement, as Math.imul and `| 0` do and as
// WGSL's runtime integer arithmetic does), so sums do not depend on their order.
//
// Byte layouts (all little-endian): i32 matrices row-major, 4 bytes per element; int8 matrices
// row-major, 1 byte per element; argmax indices u32.

/** C[m×n] = A[m×k]·B[k×n], wrapping i32. */
export function matmulI32(a: Int32Array, b: Int32Array, m: number, k: number, n: number): Int32Array {
  const c = new Int32Array(m * n);
  const row = new Int32Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      const bOff = p * n;
      for (let j = 0; j < n; j++) row[j] = (row[j] + Math.imul(av, b[bOff + j])) | 0;
    }
    c.set(row, i * n);
  }
  return c;
}

/** C[m×n] (i32) = A[m×k]·B[k×n] with int8 operands, i32 accumulation (wrapping). */
export function matmulI8(a: Int8Array, b: Int8Array, m: number, k: number, n: number): Int32Array {
  const c = new Int32Array(m * n);
  const row = new Int32Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      const bOff = p * n;
      // |av·b| ≤ 2^14, so the product is exact; the sum wraps like the GPU's.
      for (let j = 0; j < n; j++) row[j] = (row[j] + av * b[bOff + j]) | 0;
    }
    c.set(row, i * n);
  }
  return c;
}

export interface Requantization {
  /** An integer in [0, 2^31 - 1]. */
  multiplier: number;
  /** An integer in [0, 63]. */
  shift: number;
  /** An integer in [-128, 127]. */
  zeroPoint: number;
}

const SAT = 65536;
const TWO32 = 4294967296;
const TWO52 = 2 ** 52;
/** 2^i for i in 0..64 (exact doubles), so the hot paths do no exponentiation. */
const POW2 = Float64Array.from({ length: 65 }, (_, i) => 2 ** i);

/**
 * The requantisation rule, exact for every i32 x:
 *
 *   q = clamp(sign(x) · ⌊(|x|·M + 2^(s-1)) / 2^s⌋ + z, -128, 127)      (s ≥ 1)
 *   q = clamp(x·M + z, -128, 127)                                        (s = 0)
 *
 * i.e. x·M / 2^s rounded to the nearest integer, ties away from zero (round_half_away_from_zero),
 * plus the zero point, clamped to int8. M ∈ [0, 2^31), s ∈ [0, 63], z ∈ [-128, 127]. There is one
 * rounding, of the exact rational x·M/2^s (unlike gemmlowp's doubling-high-mul then shift, which
 * rounds twice). |x| ≤ 2^31, so |x|·M < 2^62 and |x|·M + 2^(s-1) < 2^63: no intermediate
 * overflows. The magnitude is saturated at 2^16 before the sign and zero point are applied, which
 * cannot change the clamped result (|z| ≤ 128).
 *
 * Computed exactly without 64-bit integers, as the GPU does (here with a shortcut for products
 * below 2^52, exact in a double): the product is two u32 words
 * (hi, lo) built from 16-bit limbs, then
 *   s = 0:        hi·2^32 + lo
 *   1 ≤ s ≤ 32:   hi·2^(32-s) + (lo >> s) + bit(s-1) of lo        (the rounding bit)
 *   33 ≤ s ≤ 63:  (hi + 2^(s-33)) >> (s-32)                        (lo < 2^32 cannot carry)
 */
export function requantizeOne(x: number, multiplier: number, shift: number, zeroPoint: number): number {
  const negative = x < 0;
  const ax = negative ? -x : x; // ≤ 2^31, exact in a double
  const product = ax * multiplier;
  if (product < TWO52 && shift <= 52) {
    // Fast path, the same integer: |x|·M < 2^52 and 2^(s-1) ≤ 2^51 are exact in a double, so is
    // their sum (< 2^53), and so is scaling it by 2^-s; floor then gives ⌊(|x|·M + 2^(s-1)) / 2^s⌋.
    const r = shift === 0 ? product : Math.floor((product + POW2[shift - 1]) / POW2[shift]);
    const q = (negative ? -Math.min(r, SAT) : Math.min(r, SAT)) + zeroPoint;
    return q < -128 ? -128 : q > 127 ? 127 : q;
  }
  // 32×32 → 64 from 16-bit limbs, every partial product < 2^32 and exact. (Bit operations on
  // values below 2^32: `>>> 0` and `& 0xffff` take them modulo 2^32 and 2^16.)
  const a0 = ax & 0xffff;
  const a1 = ax >>> 16;
  const b0 = multiplier & 0xffff;
  const b1 = multiplier >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  // lo = p00 + (p01 mod 2^16)·2^16 + (p10 mod 2^16)·2^16 (< 2^34, exact), carried into hi.
  const loSum = p00 + (p01 & 0xffff) * 65536 + (p10 & 0xffff) * 65536;
  const lo = loSum >>> 0;
  const hi = p11 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(loSum / TWO32);
  let r: number;
  if (shift === 0) {
    r = hi !== 0 || lo > SAT ? SAT : lo;
  } else if (shift <= 32) {
    const high = hi * POW2[32 - shift]; // exact below 2^53; anything larger saturates anyway
    const low = shift === 32 ? lo >>> 31 : (lo >>> shift) + ((lo >>> (shift - 1)) & 1);
    r = Math.min(high + low, SAT);
  } else {
    r = Math.min(Math.floor((hi + POW2[shift - 33]) / POW2[shift - 32]), SAT);
  }
  const q = (negative ? -r : r) + zeroPoint;
  return q < -128 ? -128 : q > 127 ? 127 : q;
}

/** requantizeOne over every element. */
export function requantize(x: Int32Array, { multiplier, shift, zeroPoint }: Requantization): Int8Array {
  const out = new Int8Array(x.length);
  // requantizeOne's fast path inlined, with 2^(s-1) and 2^-s computed once
  const fast = shift <= 52;
  const half = shift === 0 ? 0 : 2 ** (shift - 1);
  const scale = 2 ** -shift;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const product = (v < 0 ? -v : v) * multiplier;
    if (fast && product < TWO52) {
      const r = Math.min(Math.floor((product + half) * scale), SAT);
      const q = (v < 0 ? -r : r) + zeroPoint;
      out[i] = q < -128 ? -128 : q > 127 ? 127 : q;
    } else out[i] = requantizeOne(v, multiplier, shift, zeroPoint);
  }
  return out;
}

/** out[i] = a[i] + b[i mod b.length], wrapping (b.length = a.length for a plain add; a bias row otherwise). */
export function addI32(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length);
  const bl = b.length;
  if (bl === a.length) for (let i = 0; i < a.length; i++) out[i] = (a[i] + b[i]) | 0;
  else for (let i = 0; i < a.length; i++) out[i] = (a[i] + b[i % bl]) | 0;
  return out;
}

/** out[i] = max(x[i], 0). */
export function reluI32(x: Int32Array): Int32Array {
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
  return out;
}

/** For each row of x[rows×cols], the index of its largest element; ties → the lowest index. cols ≥ 1. */
export function argmaxI32(x: Int32Array, rows: number, cols: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = x[base];
    let index = 0;
    for (let j = 1; j < cols; j++) {
      if (x[base + j] > best) {
        best = x[base + j];
        index = j;
      }
    }
    out[r] = index;
  }
  return out;
}
