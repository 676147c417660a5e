// Reconstruction loss per example, summed over features, and its gradient.
//
//   bce: loss[b] = sum_f softplus(l) - l * x     Bernoulli negative log-likelihood from logits,
//                                                l = logits[b, f], target x = x[b, f] in [0, 1]
//   mse: loss[b] = sum_f (o - x)^2               squared error, o = logits[b, f] (the decoder's
//                                                output, a Gaussian mean)
//        + smoothness * sum_{f >= s} (e_f - e_{f-s})^2
//                                                with smoothness > 0: e = o - x, s = dims.stride
//                                                (values per point of a curve: 3 for streamlines
//                                                [N, 3]), so consecutive points' errors differ
//                                                little. The negative log-density, up to a
//                                                constant, of a Gaussian with precision
//                                                2 (I + smoothness D^T D), D the first difference
//                                                along the curve: jitter from point to point costs
//                                                up to 1 + 4 smoothness times a smooth error.
//
// Bindings (f32, row-major): loss [B]; logits, x, dlogits [B, F].
// Forward (and forward_backward): workgroup b (the grid may span two dimensions, see row())
// sums row b in a fixed order, a strided pass then a tree, so the result is deterministic;
// invocation 0 writes loss[b]. Backward: invocation i (flat(), see activation.wgsl)
// overwrites dlogits[i] with scale * dloss[b]/dlogits[i] for i < B * F; scale is the caller's
// weight per example (recon_weight / B in training).
// forward_backward (bce_forward_backward, mse_forward_backward): both in one dispatch, one
// workgroup per example as the forward; invocation lid also writes dlogits[b, f] for the f it
// visits. The same expressions as the separate entries, so the same bits, but logits and x
// are read once, and for bce exp(-|l|) is computed once for the loss and the gradient.

struct Dims {
  batch: u32,     // B
  features: u32,  // F
  scale: f32,     // multiplies the gradient (backward only)
  stride: u32,    // mse: values per point, s (used when smoothness > 0; s < F)
  smoothness: f32, // mse: weight of the squared differences of consecutive points' errors
}

// 64, not 256: on llvmpipe the row reductions' barriers cost in proportion to the workgroup,
// and 64 ran the forward and forward_backward about twice as fast at 128 x 784 (measured with
// bench/fusion_bench.ts); it still leaves F / 64 = 12 elements per invocation for F = 784.
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<uniform> dims: Dims;

var<workgroup> partial: array<f32, WG>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn row(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Sum of every invocation's v, returned to all of them. Called from uniform control flow only.
fn tree_sum(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
      partial[lid] = partial[lid] + partial[lid + half];
    }
    workgroupBarrier();
  }
  return partial[0];
}

// log(1 + t) for t in [0, 1] from arithmetic alone: log(1 + t) = 2 atanh(s), s = t / (2 + t)
// <= 1/3, atanh(s) = s + s^3/3 + s^5/5 + ...; seven terms leave a relative error under 2e-8.
// Calling log(1.0 + t) instead would round away t's low bits when t is small, and WGSL only
// promises log an absolute error of 2^-21 near 1.
fn log1p_unit(t: f32) -> f32 {
  let s = t / (2.0 + t);
  let s2 = s * s;
  var p = 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  return 2.0 * s * p;
}

// softplus(l) - l * x, written as a sum of terms that are non-negative for x in [0, 1], so
// nothing cancels and exp never overflows:
//   l >= 0:  l * (1 - x) + log1p(exp(-l));   l < 0:  -l * x + log1p(exp(l))
fn bce(l: f32, xv: f32) -> f32 {
  return bce_from_e(l, xv, exp(-abs(l)));
}

// bce(l, x) given e = exp(-|l|), shared with the gradient in bce_forward_backward.
fn bce_from_e(l: f32, xv: f32, e: f32) -> f32 {
  let head = select(-l * xv, l * (1.0 - xv), l >= 0.0);
  return head + log1p_unit(e);
}

// d bce / dl without the scale, given e = exp(-|l|) (see bce_backward).
fn dbce_from_e(l: f32, xv: f32, e: f32) -> f32 {
  let q = e / (1.0 + e);
  return select(q - xv, (1.0 - xv) - q, l >= 0.0);
}

@compute @workgroup_size(WG)
fn bce_forward(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = row(wid, nwg);
  var s = 0.0;
  if (b < dims.batch) {
    let base = b * dims.features;
    for (var f = lid; f < dims.features; f += WG) {
      s += bce(logits[base + f], x[base + f]);
    }
  }
  let total = tree_sum(lid, s);
  if (b < dims.batch && lid == 0u) {
    loss[b] = total;
  }
}

// Backward of softplus(l) - l * x:  dl = scale * (sigmoid(l) - x). With q = sigmoid(-|l|)
// = e / (1 + e), e = exp(-|l|) <= 1 (no overflow): l >= 0: (1 - x) - q;  l < 0: q - x.
// Both stay accurate where sigmoid(l) is within rounding of 1 and x is 1.
@compute @workgroup_size(WG)
fn bce_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.features) { return; }
  let l = logits[i];
  dlogits[i] = dims.scale * dbce_from_e(l, x[i], exp(-abs(l)));
}

@compute @workgroup_size(WG)
fn bce_forward_backward(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = row(wid, nwg);
  var s = 0.0;
  if (b < dims.batch) {
    let base = b * dims.features;
    for (var f = lid; f < dims.features; f += WG) {
      let l = logits[base + f];
      let xv = x[base + f];
      let e = exp(-abs(l));
      s += bce_from_e(l, xv, e);
      dlogits[base + f] = dims.scale * dbce_from_e(l, xv, e);
    }
  }
  let total = tree_sum(lid, s);
  if (b < dims.batch && lid == 0u) {
    loss[b] = total;
  }
}

@compute @workgroup_size(WG)
fn mse_forward(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = row(wid, nwg);
  var s = 0.0;
  if (b < dims.batch) {
    let base = b * dims.features;
    for (var f = lid; f < dims.features; f += WG) {
      let d = logits[base + f] - x[base + f];
      s += d * d + dims.smoothness * diff_below(base, f, d);
    }
  }
  let total = tree_sum(lid, s);
  if (b < dims.batch && lid == 0u) {
    loss[b] = total;
  }
}

// (e_f - e_{f-s})^2 for f >= s, else 0, given d = e_f; 0 without reading when smoothness is 0.
fn diff_below(base: u32, f: u32, d: f32) -> f32 {
  if (dims.smoothness == 0.0 || f < dims.stride) { return 0.0; }
  let t = d - (logits[base + f - dims.stride] - x[base + f - dims.stride]);
  return t * t;
}

// (D^T D e)_f = (e_f - e_{f-s}) [f >= s] - (e_{f+s} - e_f) [f + s < F], given d = e_f:
// half the derivative of sum_f (e_f - e_{f-s})^2 with respect to e_f. 0 when smoothness is 0.
fn dtd(base: u32, f: u32, d: f32) -> f32 {
  if (dims.smoothness == 0.0) { return 0.0; }
  var t = 0.0;
  if (f >= dims.stride) {
    t += d - (logits[base + f - dims.stride] - x[base + f - dims.stride]);
  }
  if (f + dims.stride < dims.features) {
    t -= (logits[base + f + dims.stride] - x[base + f + dims.stride]) - d;
  }
  return t;
}

// Backward:  do_f = scale * 2 * (e_f + smoothness * (D^T D e)_f),  e = o - x
// (with smoothness = 0: scale * 2 * (o - x), the same bits).
@compute @workgroup_size(WG)
fn mse_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.features) { return; }
  let f = i % dims.features;
  let d = logits[i] - x[i];
  dlogits[i] = 2.0 * dims.scale * (d + dims.smoothness * dtd(i - f, f, d));
}

@compute @workgroup_size(WG)
fn mse_forward_backward(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = row(wid, nwg);
  var s = 0.0;
  if (b < dims.batch) {
    let base = b * dims.features;
    for (var f = lid; f < dims.features; f += WG) {
      let d = logits[base + f] - x[base + f];
      s += d * d + dims.smoothness * diff_below(base, f, d);
      dlogits[base + f] = 2.0 * dims.scale * (d + dims.smoothness * dtd(base, f, d));
    }
  }
  let total = tree_sum(lid, s);
  if (b < dims.batch && lid == 0u) {
    loss[b] = total;
  }
}
