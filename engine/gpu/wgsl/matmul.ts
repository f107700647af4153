// Tiled integer matrix products. A workgroup of 16×16 invocations computes a 64×64 tile of C;
// invocation (x, y) computes rows y + 16i (i < 4) × columns 4x … 4x+3 as four vec4<i32>
// accumulators, from tiles of A (64 rows × TK) and B (TK × 64 columns) staged in workgroup
// memory. Every operation is on integers: i32 products and sums wrap (WGSL's runtime integer
// arithmetic is two's complement), so the result does not depend on the order of the sum and
// equals the CPU reference (engine/gpu/reference.ts) bit for bit.
//
// `accumulate` ≠ 0 adds the product to what C already holds: the host splits K into several
// dispatches when operands exceed one binding (engine/gpu/kernels/matmul.ts).
//
// The K step sizes are small because lavapipe (the CI's software Vulkan) compiles a shader at
// its first dispatch, and LLVM's time grows quickly with the unrolled inner loop (4 → ~1.5 s,
// 16 → ~6 s for the i32 kernel on 2 cores); Mesa's shader cache makes it a one-off per machine.

/** WGSL: dot4I8(x, y), the manual twin of dot4I8Packed (shared by the tiles and gemv.ts). */
export const DOT4_I8_WGSL = `
// The exact dot product of four int8 pairs (bytes sign-extended; |sum| ≤ 2^16): what
// dot4I8Packed computes, for adapters without the packed_4x8_integer_dot_product feature.
fn dot4I8(x: u32, y: u32) -> i32 {
  let a = bitcast<i32>(x);
  let b = bitcast<i32>(y);
  return extractBits(a, 0u, 8u) * extractBits(b, 0u, 8u) + extractBits(a, 8u, 8u) * extractBits(b, 8u, 8u)
       + extractBits(a, 16u, 8u) * extractBits(b, 16u, 8u) + extractBits(a, 24u, 8u) * extractBits(b, 24u, 8u);
}
`;

export const TILE = 64; // rows and columns of C per workgroup
export const TILE_K_I32 = 4; // i32 elements of K per step
export const TILE_KW_I8 = 8; // packed words (32 int8) of K per step

function matmulWgsl(int8: boolean, packed: boolean): string {
  const T = int8 ? 'u32' : 'i32';
  const TK = int8 ? TILE_KW_I8 : TILE_K_I32;
  const dot = int8 ? (packed ? 'dot4I8Packed' : 'dot4I8') : '';
  const update = (i: number) =>
    int8
      ? `acc${i} = acc${i} + vec4i(${dot}(a${i}, bv.x), ${dot}(a${i}, bv.y), ${dot}(a${i}, bv.z), ${dot}(a${i}, bv.w));`
      : `acc${i} = acc${i} + a${i} * bv;`;
  // B's element (k, col): i32 B is [k][n]; int8 B is transposed and packed, [n][kw].
  const bIndex = int8 ? 'col * p.k + k0 + kb' : '(k0 + kb) * p.n + col';
  return `${int8 && packed ? 'requires packed_4x8_integer_dot_product;\n' : ''}
// p.k counts ${int8 ? 'packed words of K (⌈k/4⌉)' : 'elements of K'}
struct Params { m: u32, k: u32, n: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> a: array<${T}>;
@group(0) @binding(1) var<storage, read> b: array<${T}>;
@group(0) @binding(2) var<storage, read_write> c: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;
${int8 && !packed ? DOT4_I8_WGSL : ''}
const TK = ${TK}u;
var<workgroup> ta: array<${T}, ${TILE * TK}>;        // [kk][row]
var<workgroup> tb: array<vec4<${T}>, ${(TILE / 4) * TK}>; // [kk][column quad]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  var acc0 = vec4i();
  var acc1 = vec4i();
  var acc2 = vec4i();
  var acc3 = vec4i();
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    for (var e = li; e < 64u * TK; e += 256u) {
      let r = e / TK;
      let kk = e % TK;
      var v = ${T}();
      if (row0 + r < p.m && k0 + kk < p.k) { v = a[(row0 + r) * p.k + k0 + kk]; }
      ta[kk * 64u + r] = v;
    }
    for (var e = li; e < 16u * TK; e += 256u) {
      ${int8 ? 'let quad = e / TK;\n      let kb = e % TK;' : 'let kb = e / 16u;\n      let quad = e % 16u;'}
      var w = vec4<${T}>();
      for (var t = 0u; t < 4u; t++) {
        let col = col0 + 4u * quad + t;
        if (col < p.n && k0 + kb < p.k) { w[t] = b[${bIndex}]; }
      }
      tb[kb * 16u + quad] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let bv = tb[kk * 16u + lid.x];
      let a0 = ta[kk * 64u + lid.y];
      let a1 = ta[kk * 64u + lid.y + 16u];
      let a2 = ta[kk * 64u + lid.y + 32u];
      let a3 = ta[kk * 64u + lid.y + 48u];
      ${[0, 1, 2, 3].map(update).join('\n      ')}
    }
    workgroupBarrier();
  }
  let accs = array<vec4i, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y + 16u * i;
    if (r >= p.m) { continue; }
    for (var t = 0u; t < 4u; t++) {
      let col = col0 + 4u * lid.x + t;
      if (col >= p.n) { continue; }
      let at = r * p.n + col;
      var v = accs[i][t];
      if (p.accumulate != 0u) { v = v + c[at]; }
      c[at] = v;
    }
  }
}
`;
}

/** C[m×n] = A[m×k]·B[k×n], i32, row-major, wrapping. */
export const matmulI32Wgsl = matmulWgsl(false, false);

/**
 * C[m×n] (i32) = A[m×k]·B[k×n] with int8 operands packed 4 per u32 along K: A as [m][kw] words,
 * B transposed as [n][kw] words (kw = ⌈k/4⌉, zero padded), byte j of a word = element 4w+j
 * (little-endian). With `packed` the adapter's dot4I8Packed is used; otherwise the four
 * sign-extended bytes are multiplied and added by hand. Both give the exact integer dot product
 * of four int8 pairs, so the results are identical.
 */
export const matmulI8Wgsl = (packed: boolean) => matmulWgsl(true, packed);
