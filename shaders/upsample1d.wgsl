// Linear upsampling by 2 along a sequence (the width of an NHWC map of height 1): each input
// sample becomes two output samples at positions i - 1/4 and i + 1/4 (half-pixel centres, the
// usual "linear" resize), the sequence's ends clamped:
//
//   y[r, 2i, c]     = 0.75 x[r, i, c] + 0.25 x[r, max(i - 1, 0), c]
//   y[r, 2i + 1, c] = 0.75 x[r, i, c] + 0.25 x[r, min(i + 1, W - 1), c]
//
// followed by a stride-1 convolution this is the "resize-convolution" upsampling (Odena et al.
// 2016), which cannot leave the alternating even/odd pattern a stride-2 transposed
// convolution can. The backward is the transpose of that matrix:
//
//   dx[r, i, c] = 0.75 (dy[2i] + dy[2i + 1]) + 0.25 (i > 0 ? dy[2i - 1] : dy[0])
//                 + 0.25 (i < W - 1 ? dy[2i + 2] : dy[2W - 1])
//
// Bindings (R rows = batch x height, W input samples, C channels; row-major):
//   forward:  y [R, 2W, C] written; x [R, W, C] read; dims. Invocation k writes y[k].
//   backward: dx [R, W, C] written; dy [R, 2W, C] read; dims. Invocation k writes dx[k].
// The grid may span two dimensions (see flat()).

struct Dims {
  rows: u32,      // R
  width: u32,     // W, input samples per row
  channels: u32,  // C
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn upsample_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = flat(gid, nwg);
  let C = dims.channels;
  let W = dims.width;
  if (k >= dims.rows * 2u * W * C) { return; }
  let c = k % C;
  let o = (k / C) % (2u * W);
  let r = k / (2u * W * C);
  let i = o / 2u;
  // The neighbour on the side of the output sample, clamped at the ends.
  var n = min(i + 1u, W - 1u);
  if (o % 2u == 0u) { n = select(i - 1u, 0u, i == 0u); }
  let at = r * W * C + c;
  y[k] = 0.75 * x[at + i * C] + 0.25 * x[at + n * C];
}

@compute @workgroup_size(WG)
fn upsample_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = flat(gid, nwg);
  let C = dims.channels;
  let W = dims.width;
  if (k >= dims.rows * W * C) { return; }
  let c = k % C;
  let i = (k / C) % W;
  let r = k / (W * C);
  let at = r * 2u * W * C + c;
  let left = select(2u * i - 1u, 0u, i == 0u);
  let right = select(2u * i + 2u, 2u * W - 1u, i == W - 1u);
  dx[k] = 0.75 * (dy[at + 2u * i * C] + dy[at + (2u * i + 1u) * C]) +
    0.25 * (dy[at + left * C] + dy[at + right * C]);
}
