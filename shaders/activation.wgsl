// Elementwise activations, forward and backward.
//
//   leaky_relu: y = x if x > 0 else alpha * x        (ReLU is alpha = 0)
//   sigmoid:    y = 1 / (1 + exp(-x))
//
// Bindings, all [n] f32: forward writes y from x; backward writes dx from dy and what the
// forward saved (x for leaky_relu, y for sigmoid). Invocation i writes element i; the grid
// may span two dimensions when n needs more than 65535 workgroups (see flat()).

struct Dims {
  n: u32,        // number of elements
  alpha: f32,    // negative slope of leaky_relu
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> saved_y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn leaky_relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n) { return; }
  let v = x[i];
  y[i] = select(dims.alpha * v, v, v > 0.0);
}

// Backward of y = x > 0 ? x : alpha * x:  dx = dy * (x > 0 ? 1 : alpha)
@compute @workgroup_size(WG)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n) { return; }
  dx[i] = dy[i] * select(dims.alpha, 1.0, x[i] > 0.0);
}

// Never overflows: with e = exp(-|x|) <= 1, sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) else.
@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n) { return; }
  let v = x[i];
  let e = exp(-abs(v));
  y[i] = select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// Backward of y = sigmoid(x):  dx = dy * y * (1 - y), from the saved y
@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.n) { return; }
  let s = saved_y[i];
  dx[i] = dy[i] * s * (1.0 - s);
}
