// Elementary functions for the Llama references, in f64 arithmetic made only of + − × ÷ and
// exact operations (floor, comparisons, bit assembly of powers of two). Why not Math.exp/cos:
// ECMAScript leaves them "implementation-approximated", so two V8 versions may disagree in the
// last bit, and a reference whose bytes are hashed cannot rest on them. IEEE-754 basic
// operations are the same everywhere (JS and WASM both round to nearest even and never contract
// to FMA), so these functions give the same bits on every machine, and a WASM module can port
// them line for line. Accuracy is near f64's (far beyond the f32 results they feed), and each
// f32 entry point rounds once at the end with Math.fround.
//
// Also here: roundHalfEven, the one rounding rule the int8 code uses.

const LN2_HI = 6.93147180369123816490e-1; // ln 2, high part: k·LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.44269504088896338700;
const PIO2_1 = 1.57079632673412561417; // π/2 in three parts (fdlibm's), k·PIO2_1 exact for |k| < 2^20
const PIO2_2 = 6.07710050630396597660e-11;
const PIO2_3 = 2.02226624871116645580e-21;
const INV_PIO2 = 6.36619772367581382433e-1;

const bits = new DataView(new ArrayBuffer(8));

/** 2^k for an integer k in [−1022, 1023], built from its bits (exact). */
function pow2(k: number): number {
  bits.setUint32(0, (k + 1023) << 20, false);
  bits.setUint32(4, 0, false);
  return bits.getFloat64(0, false);
}

/** Rounds to the nearest integer, ties to even (exact for |v| < 2^52). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** e^x in f64 (relative error ~1e-16). */
export function exp(x: number): number {
  if (x !== x) return x;
  if (x > 709) return Infinity;
  if (x < -745) return 0;
  const k = roundHalfEven(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO; // |r| ≤ 0.3466
  // Taylor to r^13/13!: the remainder is below 2^-60 on |r| ≤ ln2/2.
  let p = 1 / 6227020800;
  p = p * r + 1 / 479001600;
  p = p * r + 1 / 39916800;
  p = p * r + 1 / 3628800;
  p = p * r + 1 / 362880;
  p = p * r + 1 / 40320;
  p = p * r + 1 / 5040;
  p = p * r + 1 / 720;
  p = p * r + 1 / 120;
  p = p * r + 1 / 24;
  p = p * r + 1 / 6;
  p = p * r + 1 / 2;
  p = p * r + 1;
  p = p * r + 1;
  // Split the scale so that results near the subnormal range do not need 2^k with k < −1022.
  if (k < -1000) return p * pow2(k + 1000) * pow2(-1000);
  if (k > 1000) return p * pow2(k - 1000) * pow2(1000);
  return p * pow2(k);
}

/** ln x for x > 0 in f64 (relative error ~1e-16). */
export function log(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  // x = m·2^e with m in [√½, √2): read e from the bits (normal numbers only; the references
  // never take the log of a subnormal).
  bits.setFloat64(0, x, false);
  let e = ((bits.getUint32(0, false) >>> 20) & 0x7ff) - 1023;
  bits.setUint32(0, (bits.getUint32(0, false) & 0x800fffff) | (1023 << 20), false);
  let m = bits.getFloat64(0, false); // in [1, 2)
  if (m > Math.SQRT2) { m /= 2; e += 1; }
  // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716: the series to s^23 is exact to 2^-60.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p = 1 / 23;
  for (let n = 21; n >= 1; n -= 2) p = p * s2 + 1 / n;
  return e * LN2_HI + (2 * s * p + e * LN2_LO);
}

/** sin and cos of r for |r| ≤ π/4 (Taylor; remainder below 2^-58). */
function sinKernel(r: number): number {
  const r2 = r * r;
  let p = -1 / 1307674368000; // −1/15!
  p = p * r2 + 1 / 6227020800;
  p = p * r2 - 1 / 39916800;
  p = p * r2 + 1 / 362880;
  p = p * r2 - 1 / 5040;
  p = p * r2 + 1 / 120;
  p = p * r2 - 1 / 6;
  return r + r * r2 * p;
}
function cosKernel(r: number): number {
  const r2 = r * r;
  let p = 1 / 20922789888000; // 1/16!
  p = p * r2 - 1 / 87178291200;
  p = p * r2 + 1 / 479001600;
  p = p * r2 - 1 / 3628800;
  p = p * r2 + 1 / 40320;
  p = p * r2 - 1 / 720;
  p = p * r2 + 1 / 24;
  p = p * r2 - 1 / 2;
  return 1 + r2 * p;
}

/** Quadrant k and remainder r of x = k·π/2 + r (Cody–Waite: good for |x| < 2^20, RoPE's range). */
function reduce(x: number): [number, number] {
  if (!(Math.abs(x) < 1048576)) throw new RangeError(`trigonometric argument ${x} out of the supported range`);
  const k = roundHalfEven(x * INV_PIO2);
  const r = x - k * PIO2_1 - k * PIO2_2 - k * PIO2_3;
  return [((k % 4) + 4) % 4, r];
}

export function sin(x: number): number {
  const [q, r] = reduce(x);
  return q === 0 ? sinKernel(r) : q === 1 ? cosKernel(r) : q === 2 ? -sinKernel(r) : -cosKernel(r);
}

export function cos(x: number): number {
  const [q, r] = reduce(x);
  return q === 0 ? cosKernel(r) : q === 1 ? -sinKernel(r) : q === 2 ? -cosKernel(r) : sinKernel(r);
}

const f = Math.fround;

/** expf, sinf, cosf: the f64 functions on an f32 argument, rounded once to f32. */
export const expf = (x: number): number => f(exp(f(x)));
export const sinf = (x: number): number => f(sin(f(x)));
export const cosf = (x: number): number => f(cos(f(x)));
/** powf(b, e) = e^(e·ln b) for b > 0, rounded once to f32. */
export const powf = (b: number, e: number): number => f(exp(f(e) * log(f(b))));
