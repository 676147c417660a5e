// Batch normalization over the rows of a channels-last activation x [M, C] (M = B for dense
// activations, M = B * H * W for NHWC convolution outputs), statistics per channel c:
//
//   training: mean = (1/M) sum_m x[m, c];  var = (1/M) sum_m (x - mean)^2  (biased)
//             rstd = 1 / sqrt(var + eps);  xhat = (x - mean) * rstd;  y = gamma * xhat + beta
//             running_mean = (1 - momentum) * running_mean + momentum * mean
//             running_var  = (1 - momentum) * running_var + momentum * var * unbias
//             (unbias = M / (M - 1), or 1 when M = 1: PyTorch's convention)
//   eval:     y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
//   backward through the batch statistics, with g = dy * gamma:
//             dx = rstd / M * (M * g - sum_m g - xhat * sum_m g * xhat)
//                = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M)
//             dgamma = sum_m dy * xhat;  dbeta = sum_m dy
//   eval backward (running statistics are constants): dx = dy * gamma / sqrt(running_var + eps);
//             dgamma, dbeta as above with the eval xhat.
//
// Each training op is three launches: *_partial reduces a block of rows for a tile of channels,
// *_final combines the blocks per channel, *_apply writes y or dx elementwise. Row blocks give
// every core work even when C is small, and the channel tile makes neighbouring invocations
// read neighbouring addresses. All combinations run in a fixed order: results are deterministic.
//
// Numerics. The variance is one pass of Welford's update per invocation on x - p, with the pivot
// p = x[0, c], merged with Chan et al.'s pairwise formula: no E[x^2] - E[x]^2 cancellation, and
// with p near the data the shifted values are small, so the mean offset delta = mean - p is
// accurate and bn_apply uses (x - p) - delta, never the f32-rounded mean (under x = 1000 + noise
// rounding the mean alone would move xhat by 3e-5 / std). Likewise the backward sums x - mean
// with the saved (rounded) mean: its average e is what the rounding left out, and xhat uses
// (x - mean) - e.
//
// Bindings (f32; [M, C] row-major; G row blocks; scratch [3 G C + 5 C]: partials
// (g * C + c) * 3 + k, then per-channel coefficients from 3 G C + 3 c + k):
//   bn_stats_partial: scratch written; x read; dims.
//   bn_stats_final:   mean [C], rstd [C], delta_out [C] (the mean's offset from the pivot),
//                     scratch coefficients (delta) written; running_mean [C], running_var [C]
//                     read and updated; scratch partials read; x (pivots); dims.
//   bn_apply:         y [M, C] written; x, scratch, rstd, gamma [C], beta [C] read; dims.
//   bn_forward_eval:  y written; x, gamma, beta read; running mean and var read as saved_mean
//                     and saved_rstd (read-only); dims.
//   bn_grad_partial:  scratch written; dy [M, C], x, saved_mean [C], saved_rstd [C] read; dims.
//   bn_grad_final:    dgamma [C], dbeta [C], scratch coefficients written (overwrite); scratch
//                     partials, saved_mean, saved_rstd read; dims.
//   bn_grad_apply:    dx [M, C] written (overwrite); dy, x, gamma, scratch, saved_mean,
//                     saved_rstd read; dims.
//   In eval mode (dims.eval = 1) the grad launches get running_mean as saved_mean and
//   running_var as saved_rstd (rstd = 1 / sqrt(running_var + eps)), and drop the statistics
//   terms.
//
// Fused leaky ReLU (slope alpha = dims.alpha >= 0; 0 is ReLU), h = y > 0 ? y : alpha * y, the
// expressions of activation.wgsl, so results are bit-identical to BN then leaky_relu_*:
//   bn_apply_act, bn_forward_eval_act: as bn_apply, bn_forward_eval, but write h [M, C] (in y)
//                     in place of y; the normed y is never stored.
//   bn_grad_partial_act, bn_grad_apply_act: as bn_grad_partial, bn_grad_apply, but read dh
//                     [M, C] (in dy) and use dy = dh * (y > 0 ? 1 : alpha) on the fly, with y
//                     recomputed from x by bn_apply's very expression ((x - pivot) - delta) *
//                     (gamma rstd) + beta, so the same bits and the same mask as the forward's
//                     (h itself is not read: on llvmpipe every value loaded costs, and x is read
//                     anyway). bn_stats_final saves delta [C] (in delta_out) for this; the partial
//                     launch reads it with gamma and beta and copies delta and beta into the
//                     scratch coefficients (from 3 G C + 3 C: 2 per channel) for the apply
//                     launch, which has no binding left for them (8 storage buffers a stage).
//                     No pass writes dy.
//   *_act_vec4: the same for C a multiple of 4, four channels per invocation on vec4 views x4,
//                     y4, dy4, dx4 of the same buffers (see WG4 below).
// Who writes what (each *_act launch as its namesake): *_partial, *_apply: workgroup (tile, g)
// handles channels tile * CT .. + CT - 1 and rows g * RB .. + RB - 1; invocation lid works on
// channel lid % CT, rows r = lid / CT strided by RT = 256 / CT. In *_partial invocation r = 0
// of each channel merges the RT states in order and writes the partial; in *_apply each
// invocation writes its rows of its channel (the per-channel coefficients stay in registers).
// *_final: invocation c merges blocks 0..G-1 in order and writes channel c. bn_forward_eval:
// invocation i (flat()) writes element i.

struct Dims {
  rows: u32,       // M
  channels: u32,   // C
  eps: f32,        // added to the variance
  momentum: f32,   // weight of the batch statistics in the running averages
  unbias: f32,     // M / (M - 1), or 1 when M = 1
  blocks: u32,     // G, row blocks
  block_rows: u32, // RB, rows per block (the last may have fewer)
  tile: u32,       // CT, channels per partial workgroup (<= WG)
  eval: u32,       // grad launches: 1 = eval-mode backward
  alpha: f32,      // *_act launches: leaky ReLU's negative slope (>= 0)
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(6) var<storage, read> x: array<f32>;
@group(0) @binding(7) var<storage, read> gamma: array<f32>;
@group(0) @binding(8) var<storage, read> beta: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read> saved_mean: array<f32>;
@group(0) @binding(11) var<storage, read> saved_rstd: array<f32>;
@group(0) @binding(12) var<storage, read_write> delta_out: array<f32>;
@group(0) @binding(12) var<storage, read> saved_delta: array<f32>;
@group(0) @binding(13) var<uniform> dims: Dims;

var<workgroup> lanes: array<vec3f, WG>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Chan et al.: merge two (count, mean, M2) states of disjoint sets.
fn merge(a: vec3f, b: vec3f) -> vec3f {
  let n = a.x + b.x;
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let d = b.y - a.y;
  let f = b.x / n;
  return vec3f(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}

// This invocation's channel, first row and whether it takes part, in a *_partial launch.
struct Lane {
  c: u32,
  r: u32,
  rt: u32,
  start: u32,
  end: u32,
  on: bool,
}

fn lane(wid: vec3u, lid: u32) -> Lane {
  let ct = dims.tile;
  let rt = WG / ct;
  let c = wid.x * ct + lid % ct;
  let r = lid / ct;
  let start = wid.y * dims.block_rows;
  let end = min(start + dims.block_rows, dims.rows);
  return Lane(c, r, rt, start, end, c < dims.channels && r < rt);
}

@compute @workgroup_size(WG)
fn bn_stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane(wid, lid);
  var s = vec3f(0.0);
  if (l.on) {
    let C = dims.channels;
    let pivot = x[l.c];
    for (var m = l.start + l.r; m < l.end; m += l.rt) {
      // Welford: n += 1; d = v - mean; mean += d / n; M2 += d * (v - mean).
      let v = x[m * C + l.c] - pivot;
      s.x += 1.0;
      let d = v - s.y;
      s.y += d / s.x;
      s.z += d * (v - s.y);
    }
  }
  lanes[lid] = s;
  workgroupBarrier();
  if (l.on && l.r == 0u) {
    for (var k = 1u; k < l.rt; k++) {
      s = merge(s, lanes[lid + k * dims.tile]);
    }
    let o = (wid.y * dims.channels + l.c) * 3u;
    scratch[o] = s.x;
    scratch[o + 1u] = s.y;
    scratch[o + 2u] = s.z;
  }
}

@compute @workgroup_size(WG)
fn bn_stats_final(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= dims.channels) { return; }
  var s = vec3f(0.0);
  for (var g = 0u; g < dims.blocks; g++) {
    let o = (g * dims.channels + c) * 3u;
    s = merge(s, vec3f(scratch[o], scratch[o + 1u], scratch[o + 2u]));
  }
  let d = s.y;
  let v = max(s.z / f32(dims.rows), 0.0);
  let mu = x[c] + d;
  mean[c] = mu;
  rstd[c] = 1.0 / sqrt(v + dims.eps);
  scratch[3u * dims.blocks * dims.channels + 3u * c] = d;
  delta_out[c] = d;
  let k = dims.momentum;
  running_mean[c] = (1.0 - k) * running_mean[c] + k * mu;
  running_var[c] = (1.0 - k) * running_var[c] + k * v * dims.unbias;
}

@compute @workgroup_size(WG)
fn bn_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane(wid, lid);
  if (!l.on) { return; }
  let C = dims.channels;
  let pivot = x[l.c];
  let delta = scratch[3u * dims.blocks * C + 3u * l.c];
  let scale = gamma[l.c] * rstd[l.c];
  let shift = beta[l.c];
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let i = m * C + l.c;
    y[i] = ((x[i] - pivot) - delta) * scale + shift;
  }
}

// y > 0 ? y : alpha * y, as leaky_relu_forward in activation.wgsl.
fn leaky(v: f32) -> f32 {
  return select(dims.alpha * v, v, v > 0.0);
}

@compute @workgroup_size(WG)
fn bn_apply_act(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane(wid, lid);
  if (!l.on) { return; }
  let C = dims.channels;
  let pivot = x[l.c];
  let delta = scratch[3u * dims.blocks * C + 3u * l.c];
  let scale = gamma[l.c] * rstd[l.c];
  let shift = beta[l.c];
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let i = m * C + l.c;
    y[i] = leaky(((x[i] - pivot) - delta) * scale + shift);
  }
}

@compute @workgroup_size(WG)
fn bn_forward_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.rows * dims.channels) { return; }
  let c = i % dims.channels;
  // The running statistics arrive read-only, in saved_mean and saved_rstd: they sit in the
  // parameter buffer beside gamma and beta, which a read_write binding could not share.
  let r = 1.0 / sqrt(saved_rstd[c] + dims.eps);
  y[i] = (x[i] - saved_mean[c]) * (gamma[c] * r) + beta[c];
}

@compute @workgroup_size(WG)
fn bn_forward_eval_act(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let i = flat(gid, nwg);
  if (i >= dims.rows * dims.channels) { return; }
  let c = i % dims.channels;
  let r = 1.0 / sqrt(saved_rstd[c] + dims.eps);
  y[i] = leaky((x[i] - saved_mean[c]) * (gamma[c] * r) + beta[c]);
}

// The normalization the backward differentiates through: training uses the saved rstd, eval
// receives running_var in saved_rstd.
fn grad_rstd(c: u32) -> f32 {
  if (dims.eval == 1u) {
    return 1.0 / sqrt(saved_rstd[c] + dims.eps);
  }
  return saved_rstd[c];
}

// Partial sums of (x - mu, dy, dy * (x - mu)) per channel and row block.
@compute @workgroup_size(WG)
fn bn_grad_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane(wid, lid);
  var s = vec3f(0.0);
  if (l.on) {
    let C = dims.channels;
    let mu = saved_mean[l.c];
    for (var m = l.start + l.r; m < l.end; m += l.rt) {
      let i = m * C + l.c;
      let d = x[i] - mu;
      let g = dy[i];
      s += vec3f(d, g, g * d);
    }
  }
  write_grad_partial(l, wid, lid, s);
}

// The forward's normed value y at element i of channel c from x, by bn_apply's expression
// (k: pivot x[c], delta, scale gamma rstd, shift beta of channel c).
struct Norm {
  pivot: f32,
  delta: f32,
  scale: f32,
  shift: f32,
}

// Leaky ReLU's derivative applied to dh [M, C] at element i, the mask from y > 0.
fn dleaky(i: u32, k: Norm) -> f32 {
  let y = ((x[i] - k.pivot) - k.delta) * k.scale + k.shift;
  return dy[i] * select(dims.alpha, 1.0, y > 0.0);
}

// Channel c's Norm in a partial launch (from the saved delta, gamma, rstd, beta), which also
// copies delta and beta to the scratch coefficients for the apply launch (row block 0 only).
fn norm_partial(c: u32, first: bool) -> Norm {
  let k = Norm(x[c], saved_delta[c], gamma[c] * saved_rstd[c], beta[c]);
  if (first) {
    let o = 3u * dims.blocks * dims.channels + 3u * dims.channels + 2u * c;
    scratch[o] = k.delta;
    scratch[o + 1u] = k.shift;
  }
  return k;
}

// Channel c's Norm in an apply launch, from the scratch copies.
fn norm_apply(c: u32) -> Norm {
  let o = 3u * dims.blocks * dims.channels + 3u * dims.channels + 2u * c;
  return Norm(x[c], scratch[o], gamma[c] * saved_rstd[c], scratch[o + 1u]);
}

// bn_grad_partial with dy = dleaky(i).
@compute @workgroup_size(WG)
fn bn_grad_partial_act(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let l = lane(wid, lid);
  var s = vec3f(0.0);
  if (l.on) {
    let C = dims.channels;
    let mu = saved_mean[l.c];
    let k = norm_partial(l.c, wid.y == 0u && l.r == 0u);
    for (var m = l.start + l.r; m < l.end; m += l.rt) {
      let i = m * C + l.c;
      let d = x[i] - mu;
      let g = dleaky(i, k);
      s += vec3f(d, g, g * d);
    }
  }
  write_grad_partial(l, wid, lid, s);
}

// Sums the RT lanes' partial sums of each channel in order; lane r = 0 writes the block's.
// Every invocation of the workgroup calls it (it holds a barrier).
fn write_grad_partial(l: Lane, wid: vec3u, lid: u32, s0: vec3f) {
  var s = s0;
  lanes[lid] = s;
  workgroupBarrier();
  if (l.on && l.r == 0u) {
    for (var k = 1u; k < l.rt; k++) {
      s += lanes[lid + k * dims.tile];
    }
    let o = (wid.y * dims.channels + l.c) * 3u;
    scratch[o] = s.x;
    scratch[o + 1u] = s.y;
    scratch[o + 2u] = s.z;
  }
}

// dgamma = sum dy * xhat = r * (sum dy (x - mu) - e * sum dy), dbeta = sum dy; the coefficients
// (e, dbeta / M, dgamma / M) of dx, all zero in eval mode.
@compute @workgroup_size(WG)
fn bn_grad_final(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= dims.channels) { return; }
  var s = vec3f(0.0);
  for (var g = 0u; g < dims.blocks; g++) {
    let o = (g * dims.channels + c) * 3u;
    s += vec3f(scratch[o], scratch[o + 1u], scratch[o + 2u]);
  }
  let train = dims.eval == 0u;
  let fm = f32(dims.rows);
  let e = select(0.0, s.x / fm, train);
  let db = s.y;
  let dg = (s.z - e * s.y) * grad_rstd(c);
  dbeta[c] = db;
  dgamma[c] = dg;
  let o = 3u * dims.blocks * dims.channels + 3u * c;
  scratch[o] = e;
  scratch[o + 1u] = select(0.0, db / fm, train);
  scratch[o + 2u] = select(0.0, dg / fm, train);
}

@compute @workgroup_size(WG)
fn bn_grad_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane(wid, lid);
  if (!l.on) { return; }
  let C = dims.channels;
  let o = 3u * dims.blocks * C + 3u * l.c;
  let mu = saved_mean[l.c];
  let e = scratch[o];
  let a = scratch[o + 1u];
  let b = scratch[o + 2u];
  let r = grad_rstd(l.c);
  let scale = gamma[l.c] * r;
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let i = m * C + l.c;
    let xhat = ((x[i] - mu) - e) * r;
    dx[i] = scale * (dy[i] - a - xhat * b);
  }
}

// bn_grad_apply with dy = dleaky(i).
@compute @workgroup_size(WG)
fn bn_grad_apply_act(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let l = lane(wid, lid);
  if (!l.on) { return; }
  let C = dims.channels;
  let o = 3u * dims.blocks * C + 3u * l.c;
  let mu = saved_mean[l.c];
  let e = scratch[o];
  let a = scratch[o + 1u];
  let b = scratch[o + 2u];
  let r = grad_rstd(l.c);
  let scale = gamma[l.c] * r;
  let k = norm_apply(l.c);
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let i = m * C + l.c;
    let xhat = ((x[i] - mu) - e) * r;
    dx[i] = scale * (dleaky(i, k) - a - xhat * b);
  }
}

// The *_act launches four channels per invocation (C a multiple of 4), on vec4 views of the
// [M, C] tensors. A workgroup of WG4 invocations covers the same CT channels and RT row lanes
// as a WG-invocation one (CT / 4 quads by RT rows), each lane sums its rows in the same order
// and lanes merge in the same order, so every result is bit for bit the scalar launch's.
const WG4: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(0) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(6) var<storage, read> x4: array<vec4f>;
@group(0) @binding(9) var<storage, read> dy4: array<vec4f>;

var<workgroup> lanes4: array<array<vec4f, 3>, WG4>;

// lane() for a quad: c is the quad's first channel.
fn lane4(wid: vec3u, lid: u32) -> Lane {
  let ct = dims.tile;
  let qt = ct / 4u;
  let rt = WG / ct;
  let c = wid.x * ct + 4u * (lid % qt);
  let r = lid / qt;
  let start = wid.y * dims.block_rows;
  let end = min(start + dims.block_rows, dims.rows);
  return Lane(c, r, rt, start, end, c < dims.channels && r < rt);
}

// Per-channel values of the quad from channel c.
fn gamma4(c: u32) -> vec4f {
  return vec4f(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]);
}

fn mean4(c: u32) -> vec4f {
  return vec4f(saved_mean[c], saved_mean[c + 1u], saved_mean[c + 2u], saved_mean[c + 3u]);
}

// Coefficient k of the quad's channels in scratch (3 per channel, from 3 G C).
fn coef4(c: u32, k: u32) -> vec4f {
  let o = 3u * dims.blocks * dims.channels + 3u * c + k;
  return vec4f(scratch[o], scratch[o + 3u], scratch[o + 6u], scratch[o + 9u]);
}

fn leaky4(v: vec4f) -> vec4f {
  return select(dims.alpha * v, v, v > vec4f(0.0));
}

// The quad's Norm (vec4 components per channel), and dleaky on a quad q of x4 / dy4.
struct Norm4 {
  pivot: vec4f,
  delta: vec4f,
  scale: vec4f,
  shift: vec4f,
}

fn dleaky4(q: u32, k: Norm4) -> vec4f {
  let y = ((x4[q] - k.pivot) - k.delta) * k.scale + k.shift;
  return dy4[q] * select(vec4f(dims.alpha), vec4f(1.0), y > vec4f(0.0));
}

fn norm4_partial(c: u32) -> Norm4 {
  return Norm4(
    x4[c / 4u],
    vec4f(saved_delta[c], saved_delta[c + 1u], saved_delta[c + 2u], saved_delta[c + 3u]),
    gamma4(c) * vec4f(saved_rstd[c], saved_rstd[c + 1u], saved_rstd[c + 2u], saved_rstd[c + 3u]),
    vec4f(beta[c], beta[c + 1u], beta[c + 2u], beta[c + 3u]),
  );
}

fn norm4_apply(c: u32) -> Norm4 {
  let o = 3u * dims.blocks * dims.channels + 3u * dims.channels + 2u * c;
  return Norm4(
    x4[c / 4u],
    vec4f(scratch[o], scratch[o + 2u], scratch[o + 4u], scratch[o + 6u]),
    gamma4(c) * vec4f(saved_rstd[c], saved_rstd[c + 1u], saved_rstd[c + 2u], saved_rstd[c + 3u]),
    vec4f(scratch[o + 1u], scratch[o + 3u], scratch[o + 5u], scratch[o + 7u]),
  );
}

@compute @workgroup_size(WG4)
fn bn_apply_act_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = lane4(wid, lid);
  if (!l.on) { return; }
  let C4 = dims.channels / 4u;
  let q0 = l.c / 4u;
  let pivot = x4[q0];
  let delta = coef4(l.c, 0u);
  let scale = gamma4(l.c) * vec4f(rstd[l.c], rstd[l.c + 1u], rstd[l.c + 2u], rstd[l.c + 3u]);
  let shift = vec4f(beta[l.c], beta[l.c + 1u], beta[l.c + 2u], beta[l.c + 3u]);
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let q = m * C4 + q0;
    y4[q] = leaky4(((x4[q] - pivot) - delta) * scale + shift);
  }
}

@compute @workgroup_size(WG4)
fn bn_grad_partial_act_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let l = lane4(wid, lid);
  var sd = vec4f(0.0);
  var sg = vec4f(0.0);
  var sgd = vec4f(0.0);
  if (l.on) {
    let C4 = dims.channels / 4u;
    let q0 = l.c / 4u;
    let mu = mean4(l.c);
    let k = norm4_partial(l.c);
    if (wid.y == 0u && l.r == 0u) {
      for (var j = 0u; j < 4u; j++) {
        let o = 3u * dims.blocks * dims.channels + 3u * dims.channels + 2u * (l.c + j);
        scratch[o] = k.delta[j];
        scratch[o + 1u] = k.shift[j];
      }
    }
    for (var m = l.start + l.r; m < l.end; m += l.rt) {
      let q = m * C4 + q0;
      let d = x4[q] - mu;
      let g = dleaky4(q, k);
      sd += d;
      sg += g;
      sgd += g * d;
    }
  }
  lanes4[lid] = array<vec4f, 3>(sd, sg, sgd);
  workgroupBarrier();
  if (l.on && l.r == 0u) {
    let qt = dims.tile / 4u;
    for (var k = 1u; k < l.rt; k++) {
      let s = lanes4[lid + k * qt];
      sd += s[0];
      sg += s[1];
      sgd += s[2];
    }
    for (var j = 0u; j < 4u; j++) {
      let o = (wid.y * dims.channels + l.c + j) * 3u;
      scratch[o] = sd[j];
      scratch[o + 1u] = sg[j];
      scratch[o + 2u] = sgd[j];
    }
  }
}

@compute @workgroup_size(WG4)
fn bn_grad_apply_act_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let l = lane4(wid, lid);
  if (!l.on) { return; }
  let C4 = dims.channels / 4u;
  let q0 = l.c / 4u;
  let mu = mean4(l.c);
  let e = coef4(l.c, 0u);
  let a = coef4(l.c, 1u);
  let b = coef4(l.c, 2u);
  let r = vec4f(grad_rstd(l.c), grad_rstd(l.c + 1u), grad_rstd(l.c + 2u), grad_rstd(l.c + 3u));
  let scale = gamma4(l.c) * r;
  let k = norm4_apply(l.c);
  for (var m = l.start + l.r; m < l.end; m += l.rt) {
    let q = m * C4 + q0;
    let xhat = ((x4[q] - mu) - e) * r;
    dx4[q] = scale * (dleaky4(q, k) - a - xhat * b);
  }
}
