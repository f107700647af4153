// Fixed-point requantisation i32 → int8, exact (see engine/gpu/reference.ts `requantizeOne` for
// the rule and its proof). WGSL has no 64-bit integers, so |x|·multiplier (< 2^62) is formed as
// two u32 words from 16-bit limbs, rounded half away from zero and shifted without loss, and
// saturated at 2^16 (beyond which the final clamp to [-128, 127] cannot change).
// Four results are packed per u32 output word (byte j = element 4w+j), so no two invocations
// write the same word.

export const REQUANTIZE_WORKGROUP = 256;

export const requantizeWgsl = `
struct Params { n: u32, multiplier: u32, shift: u32, zeroPoint: i32 }
@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

const SAT = 65536u;

// round_half_away_from_zero(|x| * multiplier / 2^shift), saturated at 2^16.
fn scaled(ax: u32) -> u32 {
  let m = p.multiplier;
  let a0 = ax & 0xffffu;
  let a1 = ax >> 16u;
  let b0 = m & 0xffffu;
  let b1 = m >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let lo1 = p00 + (p01 << 16u);
  let c1 = select(0u, 1u, lo1 < p00);
  let lo = lo1 + (p10 << 16u);
  let c2 = select(0u, 1u, lo < lo1);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + c1 + c2;
  let s = p.shift;
  if (s == 0u) {
    if (hi != 0u || lo > SAT) { return SAT; }
    return lo;
  }
  if (s <= 32u) {
    // floor((hi·2^32 + lo + 2^(s-1)) / 2^s) = hi·2^(32-s) + (lo >> s) + bit (s-1) of lo
    if (hi > (0xffffffffu >> (32u - s))) { return SAT; }
    let high = hi << (32u - s);
    if (high >= SAT) { return SAT; }
    var low = (lo >> 31u) & 1u;
    if (s < 32u) { low = (lo >> s) + ((lo >> (s - 1u)) & 1u); }
    return min(high + low, SAT);
  }
  // s in 33..63: floor((hi + 2^(s-33)) / 2^(s-32)); lo cannot carry into the result
  return min((hi + (1u << (s - 33u))) >> (s - 32u), SAT);
}

fn requantize(v: i32) -> u32 {
  let negative = v < 0;
  let ax = select(bitcast<u32>(v), 0u - bitcast<u32>(v), negative);
  let r = i32(scaled(ax));
  let q = clamp(select(r, -r, negative) + p.zeroPoint, -128, 127);
  return bitcast<u32>(q) & 0xffu;
}

@compute @workgroup_size(${REQUANTIZE_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let w = id.x;
  let first = w * 4u;
  if (first >= p.n) { return; }
  var word = 0u;
  for (var j = 0u; j < 4u; j++) {
    if (first + j < p.n) { word = word | (requantize(x[first + j]) << (8u * j)); }
  }
  out[w] = word;
}
`;
