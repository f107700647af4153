// Elementwise i32 kernels, one invocation per element, 256 per workgroup.

export const ELEMENTWISE_WORKGROUP = 256;

/** out[i] = a[i] + b[(bOffset + i) mod bLength], wrapping (bLength = length for a plain add). */
export const addI32Wgsl = `
struct Params { n: u32, bLength: u32, bOffset: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> a: array<i32>;
@group(0) @binding(1) var<storage, read> b: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= p.n) { return; }
  out[i] = a[i] + b[(p.bOffset + i) % p.bLength];
}
`;

/** out[i] = max(x[i], 0). */
export const reluI32Wgsl = `
struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= p.n) { return; }
  out[i] = max(x[i], 0);
}
`;
