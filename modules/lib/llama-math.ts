// engine/llama/math.ts ported line for line (AssemblyScript), for modules/llama.ts. Why a port
// and not AssemblyScript's Mathf.exp/sin/cos: those are deterministic too, but they are not the
// functions the TypeScript reference uses, so their last bits would differ from it and the
// module's logits would stop being the reference's. Every function here is f64 + − × ÷,
// floor and bit assembly, which WebAssembly and JavaScript both do as IEEE-754 (round to
// nearest even, no FMA contraction), so the same bits come out of both. Literals are written
// as f64 on purpose: an AssemblyScript `1 / 24` would be an integer division.

const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.44269504088896338700;
const PIO2_1: f64 = 1.57079632673412561417;
const PIO2_2: f64 = 6.07710050630396597660e-11;
const PIO2_3: f64 = 2.02226624871116645580e-21;
const INV_PIO2: f64 = 6.36619772367581382433e-1;
const SQRT2: f64 = 1.4142135623730951; // JavaScript's Math.SQRT2

/** 2^k for an integer k in [−1022, 1023], from its bits (exact). */
@inline function pow2(k: i32): f64 {
  return reinterpret<f64>(<u64>(k + 1023) << 52);
}

/** Rounds to the nearest integer, ties to even (exact for |v| < 2^52). */
export function roundHalfEven(v: f64): f64 {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1.0;
  return f % 2.0 == 0.0 ? f : f + 1.0;
}

/** e^x in f64. */
export function exp(x: f64): f64 {
  if (x != x) return x;
  if (x > 709.0) return Infinity;
  if (x < -745.0) return 0.0;
  const k = roundHalfEven(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p: f64 = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 1.0 / 2.0;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const ki = <i32>k;
  if (ki < -1000) return p * pow2(ki + 1000) * pow2(-1000);
  if (ki > 1000) return p * pow2(ki - 1000) * pow2(1000);
  return p * pow2(ki);
}

/** ln x for x > 0 in f64 (normal numbers; the reference never takes the log of a subnormal). */
export function log(x: f64): f64 {
  if (!(x > 0.0)) return x == 0.0 ? -Infinity : NaN;
  if (x == Infinity) return x;
  const b = reinterpret<u64>(x);
  let e = <i32>((b >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((b & 0x800fffffffffffff) | (<u64>1023 << 52)); // in [1, 2)
  if (m > SQRT2) { m /= 2.0; e += 1; }
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  let p: f64 = 1.0 / 23.0;
  for (let n = 21; n >= 1; n -= 2) p = p * s2 + 1.0 / <f64>n;
  const ef = <f64>e;
  return ef * LN2_HI + (2.0 * s * p + ef * LN2_LO);
}

function sinKernel(r: f64): f64 {
  const r2 = r * r;
  let p: f64 = -1.0 / 1307674368000.0;
  p = p * r2 + 1.0 / 6227020800.0;
  p = p * r2 - 1.0 / 39916800.0;
  p = p * r2 + 1.0 / 362880.0;
  p = p * r2 - 1.0 / 5040.0;
  p = p * r2 + 1.0 / 120.0;
  p = p * r2 - 1.0 / 6.0;
  return r + r * r2 * p;
}

function cosKernel(r: f64): f64 {
  const r2 = r * r;
  let p: f64 = 1.0 / 20922789888000.0;
  p = p * r2 - 1.0 / 87178291200.0;
  p = p * r2 + 1.0 / 479001600.0;
  p = p * r2 - 1.0 / 3628800.0;
  p = p * r2 + 1.0 / 40320.0;
  p = p * r2 - 1.0 / 720.0;
  p = p * r2 + 1.0 / 24.0;
  p = p * r2 - 1.0 / 2.0;
  return 1.0 + r2 * p;
}

// reduce()'s two results (AssemblyScript has no tuples; the module is single-threaded).
let quadrant: i32 = 0;
let remainder: f64 = 0;

function reduce(x: f64): void {
  if (!(Math.abs(x) < 1048576.0)) throw new Error("trigonometric argument " + x.toString() + " out of the supported range");
  const k = roundHalfEven(x * INV_PIO2);
  remainder = x - k * PIO2_1 - k * PIO2_2 - k * PIO2_3;
  quadrant = ((<i32>k % 4) + 4) % 4;
}

export function sin(x: f64): f64 {
  reduce(x);
  const q = quadrant, r = remainder;
  return q == 0 ? sinKernel(r) : q == 1 ? cosKernel(r) : q == 2 ? -sinKernel(r) : -cosKernel(r);
}

export function cos(x: f64): f64 {
  reduce(x);
  const q = quadrant, r = remainder;
  return q == 0 ? cosKernel(r) : q == 1 ? -sinKernel(r) : q == 2 ? -cosKernel(r) : sinKernel(r);
}

/** expf, sinf, cosf: the f64 functions on an f32 argument, rounded once to f32. */
export function expf(x: f32): f32 { return <f32>exp(<f64>x); }
export function sinf(x: f32): f32 { return <f32>sin(<f64>x); }
export function cosf(x: f32): f32 { return <f32>cos(<f64>x); }
/** powf(b, e) = e^(e·ln b) for b > 0, rounded once to f32. */
export function powf(b: f32, e: f32): f32 { return <f32>exp(<f64>e * log(<f64>b)); }
