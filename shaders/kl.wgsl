// Closed-form KL divergence of the diagonal Gaussian posterior from the standard normal prior,
// per example, summed over latent dimensions:
//
//   kl[b] = -0.5 * sum_j (1 + lv - mu^2 - exp(lv)) = 0.5 * sum_j (mu^2 + (exp(lv) - 1 - lv))
//   lv = clamp(logvar, logvar_min, logvar_max)
//
// logvar is clamped as in the reparameterization (shaders/latent.wgsl), so exp never overflows;
// the gradient is zero outside [logvar_min, logvar_max] (inclusive inside).
//
// Bindings (B batch, Z latent; row-major):
//   forward:  kl [B] written; mulogvar [B, 2Z] read (per row mu in columns 0..Z-1, logvar in
//             Z..2Z-1); dims.
//   backward: dmulogvar [B, 2Z] read and ADDED to (the latent backward has already written it):
//             += scale * dkl[b]/dmu and scale * dkl[b]/dlogvar; mulogvar [B, 2Z] read; dims.
//   backward_free_bits: as backward, for the free-bits objective (Kingma et al. 2016) with a
//             per-dimension floor lambda = free_bits on the batch-mean KL:
//               scale * sum_j max(B * lambda, sum_b kl[b, j])
//             whose gradient is the plain one for dimension j when sum_b kl[b, j] >= B * lambda
//             and zero when the batch mean of dimension j's KL is below lambda.
//   per_dim:  acc [Z] read and ADDED to: acc[j] += sum_b kl[b, j] (the per-dimension KL of
//             the batch, summed over its rows; kl[b] = sum_j kl[b, j]); mulogvar; dims.
//   prior_forward: kl [B] written; mulogvar [B, 2Z], prior [B, 2Z] read; dims. The KL from a
//             learned conditional prior N(mp, exp(pv)) (one per row, from the prior network):
//               kl[b] = 0.5 * sum_j (pv - lv + (exp(lv) + (mu - mp)^2) / exp(pv) - 1)
//                     = 0.5 * sum_j (exp(lv - pv) - 1 - (lv - pv) + (mu - mp)^2 exp(-pv))
//             with lv and pv both clamped to [logvar_min, logvar_max]; prior = 0 gives kl_forward.
//   prior_backward: dmulogvar ADDED to as in backward, dprior [B, 2Z] written (the prior's
//             only gradient): scale * dkl[b]/d[mp | pv]; mulogvar, prior read; dims.
// Forward: invocation b writes kl[b]. Backward: invocation i = b * Z + j updates dmu and
// dlogvar of (b, j). The grid may span two dimensions (see flat()). backward_free_bits and
// per_dim: workgroup j (one per latent dimension) sums kl[., j] over the batch in a fixed
// tree order (deterministic); its invocations then stride over the rows b, and for per_dim
// invocation 0 adds the sum to acc[j].

struct Dims {
  batch: u32,        // B
  z: u32,            // Z
  logvar_min: f32,   // clamp bounds for logvar
  logvar_max: f32,
  scale: f32,        // backward weight of the summed KL: beta / B in training
  free_bits: f32,    // lambda, nats per dimension (backward_free_bits only)
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> kl: array<f32>;
@group(0) @binding(0) var<storage, read_write> dmulogvar: array<f32>;
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> mulogvar: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;
@group(0) @binding(3) var<storage, read> prior: array<f32>;
@group(0) @binding(4) var<storage, read_write> dprior: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// exp(x) - 1 - x. Written as exp(x) - 1 - x it cancels to noise for small |x|, exactly where
// a collapsed or freshly initialised latent dimension sits (mu ~ 0, lv ~ 0, KL ~ 0); below
// |x| = 0.25 use its Taylor series to x^8 (next term < 4e-10 relative).
fn expm1_minus_x(x: f32) -> f32 {
  if (abs(x) >= 0.25) {
    return exp(x) - 1.0 - x;
  }
  let p = 1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0));
  return x * x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * p))));
}

@compute @workgroup_size(WG)
fn kl_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = flat(gid, nwg);
  if (b >= dims.batch) { return; }
  let row = b * 2u * dims.z;
  var sum = 0.0;
  for (var j = 0u; j < dims.z; j++) {
    let mu = mulogvar[row + j];
    let lv = clamp(mulogvar[row + dims.z + j], dims.logvar_min, dims.logvar_max);
    sum += mu * mu + expm1_minus_x(lv);
  }
  kl[b] = 0.5 * sum;
}

// Backward of kl[b] = 0.5 * sum_j (mu^2 + exp(lv) - 1 - lv), lv = clamp(logvar):
//   dkl/dmu = mu;  dkl/dlogvar = 0.5 * (exp(lv) - 1) inside [min, max], else 0.
@compute @workgroup_size(WG)
fn kl_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.z) { return; }
  let b = i / dims.z;
  let j = i - b * dims.z;
  let m = b * 2u * dims.z + j;
  let l = m + dims.z;
  let logvar = mulogvar[l];
  let inside = logvar >= dims.logvar_min && logvar <= dims.logvar_max;
  // exp(lv) - 1 without cancellation near lv = 0.
  let expm1 = logvar + expm1_minus_x(logvar);
  dmulogvar[m] += dims.scale * mulogvar[m];
  dmulogvar[l] += select(0.0, dims.scale * 0.5 * expm1, inside);
}

// One (b, j) term of the learned-prior KL, 2 * kl[b, j] = expm1_minus_x(lv - pv) + d^2 exp(-pv).
@compute @workgroup_size(WG)
fn kl_prior_forward(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = flat(gid, nwg);
  if (b >= dims.batch) { return; }
  let row = b * 2u * dims.z;
  var sum = 0.0;
  for (var j = 0u; j < dims.z; j++) {
    let d = mulogvar[row + j] - prior[row + j];
    let lv = clamp(mulogvar[row + dims.z + j], dims.logvar_min, dims.logvar_max);
    let pv = clamp(prior[row + dims.z + j], dims.logvar_min, dims.logvar_max);
    sum += expm1_minus_x(lv - pv) + d * d * exp(-pv);
  }
  kl[b] = 0.5 * sum;
}

// Backward of the learned-prior KL, r = exp(lv - pv), w = exp(-pv), d = mu - mp:
//   dkl/dmu = d w;  dkl/dlogvar = 0.5 (r - 1);  dkl/dmp = -d w;
//   dkl/dpv = -0.5 (r - 1 + d^2 w); a logvar outside the clamp bounds gets 0.
@compute @workgroup_size(WG)
fn kl_prior_backward(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.z) { return; }
  let b = i / dims.z;
  let j = i - b * dims.z;
  let m = b * 2u * dims.z + j;
  let l = m + dims.z;
  let logvar = mulogvar[l];
  let plogvar = prior[l];
  let inside_q = logvar >= dims.logvar_min && logvar <= dims.logvar_max;
  let inside_p = plogvar >= dims.logvar_min && plogvar <= dims.logvar_max;
  let x = clamp(logvar, dims.logvar_min, dims.logvar_max) -
    clamp(plogvar, dims.logvar_min, dims.logvar_max);
  let rm1 = x + expm1_minus_x(x);
  let w = exp(-clamp(plogvar, dims.logvar_min, dims.logvar_max));
  let dw = (mulogvar[m] - prior[m]) * w;
  dmulogvar[m] += dims.scale * dw;
  dmulogvar[l] += select(0.0, dims.scale * 0.5 * rm1, inside_q);
  dprior[m] = -dims.scale * dw;
  dprior[l] = select(0.0, -dims.scale * 0.5 * (rm1 + (mulogvar[m] - prior[m]) * dw), inside_p);
}

// Invocations per workgroup of the per-dimension entry points (a power of two for the tree).
const DWG = 64u;

var<workgroup> partial: array<f32, DWG>;

// kl[b, j] = 0.5 * (mu^2 + exp(lv) - 1 - lv): dimension j's share of kl[b].
fn kl_term(b: u32, j: u32) -> f32 {
  let m = b * 2u * dims.z + j;
  let mu = mulogvar[m];
  let lv = clamp(mulogvar[m + dims.z], dims.logvar_min, dims.logvar_max);
  return 0.5 * (mu * mu + expm1_minus_x(lv));
}

// sum_b kl[b, j], returned to every invocation t of the workgroup. Must be called from
// workgroup-uniform control flow (it holds barriers).
fn batch_sum(j: u32, t: u32) -> f32 {
  var s = 0.0;
  for (var b = t; b < dims.batch; b += DWG) {
    s += kl_term(b, j);
  }
  partial[t] = s;
  workgroupBarrier();
  for (var w = DWG / 2u; w > 0u; w /= 2u) {
    if (t < w) {
      partial[t] += partial[t + w];
    }
    workgroupBarrier();
  }
  return partial[0];
}

// d/dmulogvar of scale * max(B * lambda, sum_b kl[b, j]): below the floor the max does not
// depend on mu or logvar of dimension j, so nothing is added; at or above it, exactly what
// kl_backward adds (the same expressions, so the same bits).
@compute @workgroup_size(DWG)
fn kl_backward_free_bits(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let j = wid.x;
  if (j >= dims.z) { return; }
  let total = batch_sum(j, t);
  if (total < dims.free_bits * f32(dims.batch)) { return; }
  for (var b = t; b < dims.batch; b += DWG) {
    let m = b * 2u * dims.z + j;
    let l = m + dims.z;
    let logvar = mulogvar[l];
    let inside = logvar >= dims.logvar_min && logvar <= dims.logvar_max;
    let expm1 = logvar + expm1_minus_x(logvar);
    dmulogvar[m] += dims.scale * mulogvar[m];
    dmulogvar[l] += select(0.0, dims.scale * 0.5 * expm1, inside);
  }
}

// acc[j] += sum_b kl[b, j]: per-dimension KL summed over the batch's rows, accumulated over
// batches like the metrics buffer (cleared by the caller).
@compute @workgroup_size(DWG)
fn kl_per_dim(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let j = wid.x;
  if (j >= dims.z) { return; }
  let total = batch_sum(j, t);
  if (t == 0u) {
    acc[j] += total;
  }
}
