// Gaussian latent: the reparameterization trick with noise drawn on the GPU.
//
//   lv  = clamp(logvar, logvar_min, logvar_max)
//   z   = mu + exp(0.5 * lv) * eps,   eps ~ N(0, eps_std^2 I)  (eps_std 1: the usual VAE)
//
// logvar is clamped before exp because an unbounded encoder head can emit a logvar large
// enough that exp overflows to Inf and the loss turns NaN; the gradient through the clamp is
// zero outside [logvar_min, logvar_max] (inclusive inside).
//
// eps comes from a counter-based generator: element i of step s is a pure function of
// (i, s, seed, stream), so nothing random is uploaded per step and the float64 reference
// (src/reference/latent.ts, normals()) reproduces the same integers exactly.
//
// Bindings (B batch, Z latent; row-major):
//   forward:  z [B, Z] and eps [B, Z] written; mulogvar [B, 2Z] read (per row mu in columns
//             0..Z-1, logvar in Z..2Z-1); counter [1] u32 read (element 0 is the step);
//             dims.
//   backward: dmulogvar [B, 2Z] written (overwritten, same layout as mulogvar); dz [B, Z],
//             mulogvar [B, 2Z] and the forward's eps [B, Z] read; dims.
//   forward_kl: as forward, and kl [B] written: the per-example KL of shaders/kl.wgsl,
//             kl[b] = 0.5 * sum_j (mu^2 + exp(lv) - 1 - lv), lv = clamp(logvar).
//   backward_kl: as backward, plus the KL's gradient (kl.wgsl's kl_backward with dims.scale,
//             plain KL only, no free bits), written rather than added:
//             dmu = dz + scale * mu,
//             dlogvar = [inside] (dz eps 0.5 exp(0.5 lv) + scale 0.5 (exp(lv) - 1)).
// Invocation i = b * Z + j writes z[i] and eps[i] (forward), or dmu and dlogvar of (b, j)
// (backward, backward_kl). forward_kl: invocation b (workgroups of RWG) writes row b of z and
// eps and kl[b], summing over j in order as kl_forward does. The fused entries compute the
// same f32 expressions as the separate passes (one dispatch instead of two, mulogvar read
// once); the grid may span two dimensions for large B * Z (see flat()).

struct Dims {
  batch: u32,        // B
  z: u32,            // Z
  logvar_min: f32,   // clamp bounds for logvar
  logvar_max: f32,
  seed: u32,         // generator key: (element, step, seed, stream)
  stream: u32,
  scale: f32,        // backward_kl only: weight of the summed KL, beta / B in training
  eps_std: f32,      // forward: standard deviation of eps (seed 001's knob); 1 leaves every bit
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(0) var<storage, read_write> dmulogvar: array<f32>;
@group(0) @binding(1) var<storage, read_write> eps: array<f32>;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read_write> kl: array<f32>;
@group(0) @binding(3) var<storage, read> mulogvar: array<f32>;
@group(0) @binding(4) var<storage, read> counter: array<u32>;
@group(0) @binding(4) var<storage, read> saved_eps: array<f32>;
@group(0) @binding(5) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// pcg4d, the 4-D hash of Jarzynski & Olano, "Hash Functions for GPU Rendering" (JCGT 9(3),
// 2020): an LCG step per lane, then two rounds of lanes multiplied into each other around a
// xorshift. Every step is invertible, so distinct keys never collide; it passes BigCrush in
// the paper's tests. u32 arithmetic wraps, as the reference's Math.imul does.
fn pcg4d(key: vec4u) -> vec4u {
  var v = key * 1664525u + 1013904223u;
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  v ^= v >> vec4u(16u);
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  return v;
}

const TWO_POW_M24: f32 = 5.9604645e-8;
const TWO_PI: f32 = 6.2831855;

// -ln(1 - t) for t in [0, 1). Near t = 0 (u = 1 - t near 1) the built-in log only promises an
// absolute error of 2^-21, which would swamp the tiny Box-Muller radius there, so for t < 0.5
// use -ln(1 - t) = 2 atanh(s), s = t / (2 - t) <= 1/3, summed to s^15 (next term < 2e-9
// relative). For t >= 0.5, 1 - t is exact and log is accurate to a few ulp.
fn neg_log1m(t: f32) -> f32 {
  if (t >= 0.5) {
    return -log(1.0 - t);
  }
  let s = t / (2.0 - t);
  let q = s * s;
  let p = 1.0 / 13.0 + q / 15.0;
  let p2 = 1.0 / 9.0 + q * (1.0 / 11.0 + q * p);
  let p3 = 1.0 + q * (1.0 / 3.0 + q * (1.0 / 5.0 + q * (1.0 / 7.0 + q * p2)));
  return 2.0 * s * p3;
}

// cos(2 pi a) for a in [-1/2, 1/2] to a few ulp, from arithmetic alone. WGSL only promises
// the built-in cos an absolute error of 2^-11 on [-pi, pi]: Mesa's llvmpipe is accurate to
// 1e-7, but Chromium's Dawn on SwiftShader is off by up to 1.9e-4, which made eps differ
// from the float64 reference by 1.6e-4. Folded by symmetry to r = |a| in [0, 1/8], where
// cos(2 pi r) is a short Taylor sum, or r in (1/8, 1/4], where it is sin(2 pi (1/4 - r)).
// a is a multiple of 2^-24, so |a|, 1/2 - r and 1/4 - r are exact in f32.
fn cos_2pi(a: f32) -> f32 {
  var r = abs(a);
  var sign = 1.0;
  if (r > 0.25) {
    r = 0.5 - r; // cos(2 pi r) = -cos(2 pi (1/2 - r))
    sign = -1.0;
  }
  if (r > 0.125) {
    // sin(x), x = 2 pi (1/4 - r) in [0, pi/4): terms to x^11 (next < 1e-11 relative).
    let x = TWO_PI * (0.25 - r);
    let q = x * x;
    let p = 1.0 / 362880.0 - q / 39916800.0;
    return sign * x * (1.0 - q * (1.0 / 6.0 - q * (1.0 / 120.0 - q * (1.0 / 5040.0 - q * p))));
  }
  // cos(x), x = 2 pi r in [0, pi/4]: terms to x^10 (next < 2e-10).
  let x = TWO_PI * r;
  let q = x * x;
  let p = 1.0 / 40320.0 - q / 3628800.0;
  return sign * (1.0 - q * (0.5 - q * (1.0 / 24.0 - q * (1.0 / 720.0 - q * p))));
}

// One standard normal per element by Box-Muller on the hash's first two lanes:
// u = 1 - t in [2^-24, 1] (never 0, so |eps| <= sqrt(48 ln 2) ~ 5.77), angle 2 pi a with
// a in [-1/2, 1/2). Both 24-bit uniforms are exact in f32.
fn standard_normal(element: u32, step: u32) -> f32 {
  let h = pcg4d(vec4u(element, step, dims.seed, dims.stream));
  let t = f32(h.x >> 8u) * TWO_POW_M24;
  let a = f32(h.y >> 8u) * TWO_POW_M24 - 0.5;
  return sqrt(2.0 * neg_log1m(t)) * cos_2pi(a);
}

@compute @workgroup_size(WG)
fn latent_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.z) { return; }
  let b = i / dims.z;
  let j = i - b * dims.z;
  let row = b * 2u * dims.z;
  let lv = clamp(mulogvar[row + dims.z + j], dims.logvar_min, dims.logvar_max);
  let e = standard_normal(i, counter[0]) * dims.eps_std;
  eps[i] = e;
  z[i] = mulogvar[row + j] + exp(0.5 * lv) * e;
}

// Backward of z = mu + exp(0.5 * clamp(logvar)) * eps, with eps the forward's saved draw:
//   dmu = dz;  dlogvar = dz * eps * 0.5 * exp(0.5 * lv) inside [min, max], else 0.
@compute @workgroup_size(WG)
fn latent_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.z) { return; }
  let b = i / dims.z;
  let j = i - b * dims.z;
  let row = b * 2u * dims.z;
  let logvar = mulogvar[row + dims.z + j];
  let inside = logvar >= dims.logvar_min && logvar <= dims.logvar_max;
  let g = dz[i];
  let lv = clamp(logvar, dims.logvar_min, dims.logvar_max);
  dmulogvar[row + j] = g;
  dmulogvar[row + dims.z + j] = select(0.0, g * saved_eps[i] * 0.5 * exp(0.5 * lv), inside);
}

// ---------------------------------------------------------------------------------------------
// Fused with the KL (shaders/kl.wgsl): reparameterize + KL forward, sample + KL backward.

// Rows per workgroup of latent_forward_kl: one invocation per example, so a small workgroup
// keeps a batch of 128 spread over several workgroups (threads, on a CPU adapter).
const RWG: u32 = 16u;

// exp(x) - 1 - x, as kl.wgsl computes it (series below |x| = 0.25, where the direct form
// cancels); the same expression, so the fused KL has kl_forward's bits.
fn expm1_minus_x(x: f32) -> f32 {
  if (abs(x) >= 0.25) {
    return exp(x) - 1.0 - x;
  }
  let p = 1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0));
  return x * x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * p))));
}

@compute @workgroup_size(RWG)
fn latent_forward_kl(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let b = gid.x + gid.y * nwg.x * RWG;
  if (b >= dims.batch) { return; }
  let row = b * 2u * dims.z;
  let step = counter[0];
  var sum = 0.0;
  for (var j = 0u; j < dims.z; j++) {
    let i = b * dims.z + j;
    let mu = mulogvar[row + j];
    let lv = clamp(mulogvar[row + dims.z + j], dims.logvar_min, dims.logvar_max);
    let e = standard_normal(i, step) * dims.eps_std;
    eps[i] = e;
    z[i] = mu + exp(0.5 * lv) * e;
    sum += mu * mu + expm1_minus_x(lv);
  }
  kl[b] = 0.5 * sum;
}

// Backward of z = mu + exp(0.5 lv) eps (latent_backward) plus scale * kl[b] (kl_backward):
//   dmu = dz + scale * mu
//   dlogvar = dz * eps * 0.5 * exp(0.5 * lv) + scale * 0.5 * (exp(lv) - 1) inside [min, max],
//             else 0 (each term as its separate pass computes it, then added as they add).
@compute @workgroup_size(WG)
fn latent_backward_kl(
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
  let inside = logvar >= dims.logvar_min && logvar <= dims.logvar_max;
  let g = dz[i];
  let lv = clamp(logvar, dims.logvar_min, dims.logvar_max);
  let sample = select(0.0, g * saved_eps[i] * 0.5 * exp(0.5 * lv), inside);
  let expm1 = logvar + expm1_minus_x(logvar);
  dmulogvar[m] = g + dims.scale * mulogvar[m];
  dmulogvar[l] = sample + select(0.0, dims.scale * 0.5 * expm1, inside);
}
