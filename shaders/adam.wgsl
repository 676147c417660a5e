// Adam (AdamW with weight_decay > 0) over one flat parameter buffer, bias-corrected.
//
//   t = counter[0] + 1                      (counter holds the number of completed steps)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p = p - lr (m / c1) / (sqrt(v / c2) + eps) - lr weight_decay p,   c = 1 - beta^t
//   (decoupled weight decay: the decay uses p from before this step, as in AdamW)
//
// Bindings: params, m, v (read-write), grads: [n] f32; counter: [1] u32. The `4` names view
// the same buffers as array<vec4<f32>> (n a multiple of 4; adam.ts picks update_vec4 then).
// update: invocation i (flat(), see activation.wgsl) rewrites params[i], m[i], v[i].
// update_vec4: invocation i rewrites elements 4i .. 4i + 3 with the same expressions, lane by
// lane, so its results are those of update. Why (measured on llvmpipe, bench/fusion_bench.ts):
// a quarter of the invocations, each computing the bias corrections once for four elements,
// and 16-byte loads and stores instead of four scalar ones.
// advance: a single invocation adds 1 to counter[0]. It must be a separate, later dispatch
// (every invocation of update reads counter[0]); it is the last dispatch of a step.

struct Dims {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,  // 1 - beta1 and 1 - beta2 rounded once from float64: 1 - f32(0.999)
  one_minus_beta2: f32,  // is 1.3e-5 away from 0.001 in relative terms
  log_beta1: f32,        // ln(beta1), ln(beta2): beta^t = exp(t ln beta) (pow near 1 is only
  log_beta2: f32,        // promised an absolute error of 2^-21 in WGSL)
  eps: f32,
  weight_decay: f32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(0) var<storage, read_write> params4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(1) var<storage, read_write> m4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> v4: array<vec4f>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read> grads4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> counter: array<u32>;
@group(0) @binding(5) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// 1 - exp(y) for y <= 0. Near 0 (the first steps, where 1 - beta2^t is about 0.001 t) the
// subtraction would cancel, so there it is -expm1(y) = -y (1 + y/2! + ... + y^8/9!), whose
// next term is under 6e-10 relative for |y| <= 0.5; further out nothing cancels.
fn one_minus_exp(y: f32) -> f32 {
  if (y > -0.5) {
    var p = 1.0 / 362880.0;
    p = p * y + 1.0 / 40320.0;
    p = p * y + 1.0 / 5040.0;
    p = p * y + 1.0 / 720.0;
    p = p * y + 1.0 / 120.0;
    p = p * y + 1.0 / 24.0;
    p = p * y + 1.0 / 6.0;
    p = p * y + 1.0 / 2.0;
    p = p * y + 1.0;
    return -y * p;
  }
  return 1.0 - exp(y);
}

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n) { return; }
  let t = f32(counter[0] + 1u);
  let c1 = one_minus_exp(t * dims.log_beta1);
  let c2 = one_minus_exp(t * dims.log_beta2);
  let g = grads[i];
  let mi = dims.beta1 * m[i] + dims.one_minus_beta1 * g;
  let vi = dims.beta2 * v[i] + dims.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let p = params[i];
  let step = (mi / c1) / (sqrt(vi / c2) + dims.eps);
  params[i] = p - dims.lr * (step + dims.weight_decay * p);
}

@compute @workgroup_size(WG)
fn update_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n / 4u) { return; }
  let t = f32(counter[0] + 1u);
  let c1 = one_minus_exp(t * dims.log_beta1);
  let c2 = one_minus_exp(t * dims.log_beta2);
  let g = grads4[i];
  let mi = dims.beta1 * m4[i] + dims.one_minus_beta1 * g;
  let vi = dims.beta2 * v4[i] + dims.one_minus_beta2 * g * g;
  m4[i] = mi;
  v4[i] = vi;
  let p = params4[i];
  let step = (mi / c1) / (sqrt(vi / c2) + dims.eps);
  params4[i] = p - dims.lr * (step + dims.weight_decay * p);
}

@compute @workgroup_size(1)
fn advance() {
  counter[0] = counter[0] + 1u;
}
