// Argmax over each row of an i32 matrix: one workgroup per row, 64 invocations scanning strided
// columns, then a tree reduction. Ties go to the lowest index, so the result is unique.

export const ARGMAX_WORKGROUP = 64;

export const argmaxWgsl = `
struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

const W = ${ARGMAX_WORKGROUP}u;
const NONE = 0xffffffffu;
var<workgroup> bestValue: array<i32, ${ARGMAX_WORKGROUP}>;
var<workgroup> bestIndex: array<u32, ${ARGMAX_WORKGROUP}>;

@compute @workgroup_size(${ARGMAX_WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wg.x;
  var value = 0;
  var index = NONE;
  if (row < p.rows) {
    let base = row * p.cols;
    for (var j = li; j < p.cols; j += W) {
      let v = x[base + j];
      if (index == NONE || v > value) { value = v; index = j; }
    }
  }
  bestValue[li] = value;
  bestIndex[li] = index;
  workgroupBarrier();
  for (var s = W / 2u; s > 0u; s = s / 2u) {
    if (li < s) {
      let oi = bestIndex[li + s];
      let ov = bestValue[li + s];
      let mi = bestIndex[li];
      let mv = bestValue[li];
      if (oi != NONE && (mi == NONE || ov > mv || (ov == mv && oi < mi))) {
        bestValue[li] = ov;
        bestIndex[li] = oi;
      }
    }
    workgroupBarrier();
  }
  if (li == 0u && row < p.rows) { out[row] = bestIndex[0]; }
}
`;
