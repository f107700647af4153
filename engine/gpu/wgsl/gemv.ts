// The int8 matrix-vector product (matmul_i8 with few columns of B: a language model's batch-1
// products, A a weight matrix and B one activation column). The 64×64 tiles of wgsl/matmul.ts
// would leave 63 of every 64 columns idle there; here a workgroup of 256 invocations covers
// 256/T rows of C, T invocations per row striding over that row's packed words of K, each keeping
// one i32 accumulator per column of B, then summing its T partial sums in workgroup memory.
//
// Integers only, as in wgsl/matmul.ts: every product of four int8 pairs is exact (|·| ≤ 2^16) and
// i32 additions wrap, so however the row is cut into partial sums the result is the integer the
// CPU reference (engine/gpu/reference.ts) computes, bit for bit.
//
// T is a runtime parameter (a power of two, its log2 in p.flags >> 8) so that one pipeline serves
// every K: the dispatch (engine/gpu/kernels/matmul.ts) picks it from K and the adapter. The
// columns are unrolled into separate accumulators (not an array indexed by a variable, which a GPU
// compiler may put in memory), guarded by the uniform p.n.
import { DOT4_I8_WGSL } from './matmul.ts';

export const GEMV_WORKGROUP = 256; // invocations per workgroup
export const GEMV_MAX_N = 8; // columns of B (and C) one dispatch handles at most

function gemvWgsl(packed: boolean): string {
  const dot = packed ? 'dot4I8Packed' : 'dot4I8';
  const cols = Array.from({ length: GEMV_MAX_N }, (_, j) => j);
  return `${packed ? 'requires packed_4x8_integer_dot_product;\n' : ''}
// m rows of C; kw packed words of K per row (⌈k/4⌉); n ≤ ${GEMV_MAX_N} columns;
// flags: bit 0 = add to what C holds (K split over several dispatches), bits 8.. = log2(T)
struct Params { m: u32, kw: u32, n: u32, flags: u32 }
@group(0) @binding(0) var<storage, read> a: array<u32>;       // [m][kw]
@group(0) @binding(1) var<storage, read> b: array<u32>;       // [n][kw] (B transposed)
@group(0) @binding(2) var<storage, read_write> c: array<i32>; // [m][n]
@group(0) @binding(3) var<uniform> p: Params;
${packed ? '' : DOT4_I8_WGSL}
const WG = ${GEMV_WORKGROUP}u;
var<workgroup> partial: array<i32, ${GEMV_WORKGROUP * GEMV_MAX_N}>; // [column][invocation]

@compute @workgroup_size(${GEMV_WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let shift = p.flags >> 8u;
  let t = 1u << shift;
  let lane = li & (t - 1u);
  let row = wg.x * (WG >> shift) + (li >> shift);
  ${cols.map((j) => `var acc${j} = 0i;`).join('\n  ')}
  if (row < p.m) {
    let base = row * p.kw;
    for (var w = lane; w < p.kw; w += t) {
      let x = a[base + w];
      ${cols.map((j) => `${j === 0 ? '' : `if (p.n > ${j}u) { `}acc${j} += ${dot}(x, b[${j === 0 ? '' : `${j}u * p.kw + `}w]);${j === 0 ? '' : ' }'}`).join('\n      ')}
    }
  }
  if (t > 1u) {
    ${cols.map((j) => `${j === 0 ? '' : `if (p.n > ${j}u) { `}partial[${j * GEMV_WORKGROUP}u + li] = acc${j};${j === 0 ? '' : ' }'}`).join('\n    ')}
    workgroupBarrier();
    for (var s = t >> 1u; s > 0u; s >>= 1u) {
      if (lane < s) {
        for (var j = 0u; j < p.n; j++) { partial[j * WG + li] += partial[j * WG + li + s]; }
      }
      workgroupBarrier();
    }
    ${cols.map((j) => `${j === 0 ? '' : `if (p.n > ${j}u) { `}acc${j} = partial[${j * GEMV_WORKGROUP}u + li];${j === 0 ? '' : ' }'}`).join('\n    ')}
  }
  if (lane != 0u || row >= p.m) { return; }
  let accs = array<i32, ${GEMV_MAX_N}>(${cols.map((j) => `acc${j}`).join(', ')});
  let accumulate = (p.flags & 1u) != 0u;
  for (var j = 0u; j < p.n; j++) {
    let at = row * p.n + j;
    var v = accs[j];
    if (accumulate) { v += c[at]; }
    c[at] = v;
  }
}
`;
}

/**
 * C[m×n] (i32) = A[m×k]·B[k×n], n ≤ GEMV_MAX_N, int8 operands packed 4 per u32 along K exactly as
 * for matmulI8Wgsl: A as [m][kw] words, B transposed as [n][kw] (kw = ⌈k/4⌉, zero padded). With
 * `packed` the adapter's dot4I8Packed is used, otherwise the bytes are multiplied by hand; the
 * same integers either way.
 */
export const gemvI8Wgsl = (packed: boolean) => gemvWgsl(packed);
