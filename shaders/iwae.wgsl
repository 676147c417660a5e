// The importance-weighted bound (Burda et al. 2016) on log p(x), from k samples per image:
//
//   log w_s = log p(x | z_s) + log p(z_s) - log q(z_s | x)
//           = -recon_s + sum_d (0.5 lv_d + 0.5 eps_sd^2 - 0.5 z_sd^2)
//   nll(x) ~= -(logsumexp_s log w_s - log k)
//
// with z_s = mu + exp(0.5 lv) eps_s and lv = clamp(logvar, lo, hi) as in latent.wgsl, so
// (z - mu)^2 / exp(lv) = eps^2 exactly, and the 2 pi terms of p(z) and q(z|x) cancel. recon_s is
// the Bernoulli loss -log p(x | z_s) of that sample (recon.wgsl).
//
// Bindings (R = images * k rows, sample s of image i in row i * k + s; Z latent):
//   log_weight: lw [R] written; recon [R], mulogvar [R, 2Z], eps [R, Z], z [R, Z] read; dims.
//               Invocation r writes lw[r].
//   log_weight_prior: as log_weight, with a learned prior p(z | c) = N(mp, exp(pv)) per row,
//               prior [R, 2Z] (mp then pv, pv clamped like lv):
//               log p(z_s | c) - log q(z_s | x) = sum_d (0.5 lv + 0.5 eps^2 - 0.5 pv
//                                                 - 0.5 (z - mp)^2 exp(-pv))
//   nll:        nll [images] written; lw [R] read; dims. Invocation i writes nll[i], with the
//               log-sum-exp taken about the maximum so no exp overflows.

struct Dims {
  rows: u32,         // R = images * k
  z: u32,            // Z
  k: u32,            // samples per image
  logvar_min: f32,
  logvar_max: f32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read_write> lw: array<f32>;
@group(0) @binding(0) var<storage, read_write> nll: array<f32>;
@group(0) @binding(1) var<storage, read> recon: array<f32>;
@group(0) @binding(1) var<storage, read> saved_lw: array<f32>;
@group(0) @binding(2) var<storage, read> mulogvar: array<f32>;
@group(0) @binding(3) var<storage, read> eps: array<f32>;
@group(0) @binding(4) var<storage, read> z: array<f32>;
@group(0) @binding(5) var<uniform> dims: Dims;
@group(0) @binding(6) var<storage, read> prior: array<f32>;

@compute @workgroup_size(WG)
fn log_weight(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= dims.rows) { return; }
  var s = 0.0;
  for (var d = 0u; d < dims.z; d++) {
    let lv = clamp(mulogvar[r * 2u * dims.z + dims.z + d], dims.logvar_min, dims.logvar_max);
    let e = eps[r * dims.z + d];
    let v = z[r * dims.z + d];
    s += 0.5 * lv + 0.5 * e * e - 0.5 * v * v;
  }
  lw[r] = s - recon[r];
}

@compute @workgroup_size(WG)
fn log_weight_prior(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= dims.rows) { return; }
  var s = 0.0;
  for (var d = 0u; d < dims.z; d++) {
    let m = r * 2u * dims.z + d;
    let lv = clamp(mulogvar[m + dims.z], dims.logvar_min, dims.logvar_max);
    let pv = clamp(prior[m + dims.z], dims.logvar_min, dims.logvar_max);
    let e = eps[r * dims.z + d];
    let u = z[r * dims.z + d] - prior[m];
    s += 0.5 * (lv - pv) + 0.5 * e * e - 0.5 * u * u * exp(-pv);
  }
  lw[r] = s - recon[r];
}

@compute @workgroup_size(WG)
fn nll_from_weights(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i * dims.k >= dims.rows) { return; }
  var m = saved_lw[i * dims.k];
  for (var s = 1u; s < dims.k; s++) { m = max(m, saved_lw[i * dims.k + s]); }
  var total = 0.0;
  for (var s = 0u; s < dims.k; s++) { total += exp(saved_lw[i * dims.k + s] - m); }
  nll[i] = -(m + log(total) - log(f32(dims.k)));
}
