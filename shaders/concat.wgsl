// Condition concatenation for conditional VAEs: a per-example condition c appended to every
// position's features (the input of a dense layer, or extra channels of an NHWC map).
//
//   forward:  y[b, p, j] = a[b, p, j]        for j < A
//             y[b, p, j] = c[b, j - A]       for A <= j < A + C
//   backward: da[b, p, j] = dy[b, p, j]      for j < A   (the condition is data, not trained)
//
// Bindings: y, dy [B, P, A + C]; a, da [B, P, A]; c [B, C]. Invocation i writes y[i]
// (forward, i < B P (A + C)) or da[i] (backward, i < B P A); the grid may span two dimensions
// (see flat()).

struct Dims {
  batch: u32,      // B
  positions: u32,  // P (1 for a dense input, H W for an NHWC map)
  a: u32,          // A features (channels) of a per position
  c: u32,          // C condition values per example
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> da: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn concat_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  let w = dims.a + dims.c;
  let rows = dims.batch * dims.positions;
  if (i >= rows * w) { return; }
  let row = i / w;
  let j = i - row * w;
  if (j < dims.a) {
    y[i] = a[row * dims.a + j];
  } else {
    y[i] = c[(row / dims.positions) * dims.c + (j - dims.a)];
  }
}

@compute @workgroup_size(WG)
fn concat_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.positions * dims.a) { return; }
  let row = i / dims.a;
  let j = i - row * dims.a;
  da[i] = dy[row * (dims.a + dims.c) + j];
}
