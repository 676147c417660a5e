// Dense (fully connected) layer, forward and backward.
//
//   forward:  y = x W + b                 y[r, c]  = b[c] + sum_k x[r, k] W[k, c]
//   dx:       dx = dy W^T                 dx[r, k] = sum_c dy[r, c] W[k, c]
//   dW:       dW = x^T dy                 dW[k, c] = sum_r x[r, k] dy[r, c]
//   db:       db = sum over rows of dy    db[c]    = sum_r dy[r, c]
//
// Bindings (row-major, f32; B = dims.batch, K = dims.k in features, N = dims.n out features):
//   y, dy [B, N]   x, dx [B, K]   W, dW [K, N]   b, db [N]
// Gradients overwrite their outputs. The `4` names view the same buffers as array<vec4<f32>>
// and are used only when K and N are multiples of 4 (so rows start on a vec4).
//
// Three variants of each matrix product (dense.ts picks one; all are tested):
//   *_naive  one output per invocation, 16x16 workgroups: the baseline.
//   *_tiled  any shape. Each invocation owns a 16x16 output block held in sixteen 4x4 matrix
//            accumulators; per step of the reduction it gathers four vec4s of each operand
//            (scalar loads, indices clamped into range) and adds their outer products.
//   *_vec4   K % 4 == 0 and N % 4 == 0. Same 16x16 block, but it steps the reduction four at
//            a time: operands are loaded as 4x4 blocks of vec4s and multiplied as mat4x4s.
// Tiled and vec4 run 8x4 workgroups; invocation (gid.x, gid.y) writes output columns
// [16 gid.x, 16 gid.x + 16) of rows [16 gid.y, 16 gid.y + 16), clipped to the matrix.
//
// Fused ReLU (override RELU = 1; dense.ts sets it for `activation: "relu"` / `dxActivation`):
//   forward:  y = relu(x W + b), applied in the store epilogue: no separate activation pass
//             and no pre-activation buffer.
//   dx:       dx = (dy W^T) * (x > 0), for a layer whose input x is the previous layer's ReLU
//             output. That is the gradient with respect to the previous layer's
//             pre-activation, since relu'(pre) = (pre > 0) = (relu(pre) > 0). The mask costs
//             one read of x per dx element in the epilogue, where masking dy inside the dx and
//             dW reductions would read the mask K (or B) times per element; the layer above
//             then needs no ReLU backward pass either.
// Both write the same bits as the unfused composition (dense, then activation.wgsl's
// leaky_relu with alpha 0): the epilogue is the same f32 expression applied to the same sum.
//
// Fused db (override DB = 1; dense.ts's `fuseDb`): the dW dispatch also writes db, so the
// backward_db pass goes. The invocations of the first row of dW blocks (gid.y == 0, which own
// every column once) sum their columns of dy over the batch after their block product, row by
// row from 0 as backward_db does, so db has backward_db's bits.
//
// Why registers only (measured on llvmpipe, the software adapter this project is measured on;
// numbers in bench/results/dense_*.md): workgroup-memory tiling was several times slower there
// (DESIGN.md), and the accumulators must be named variables: the same loop over an indexed
// array of accumulators is not kept in registers and ran ~4x slower. For the same reason the
// stores at the end are spelled out; a loop over an array of the blocks made llvmpipe take
// ~40 s to compile one kernel.

struct Dims {
  batch: u32,  // B, rows of x and y
  k: u32,      // K, in features
  n: u32,      // N, out features
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(0) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> dW: array<f32>;
@group(0) @binding(0) var<storage, read_write> dW4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(4) var<storage, read_write> db4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> W4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> dims: Dims;

const LANES = vec4u(0u, 1u, 2u, 3u);

// 1: fused ReLU (see the header). A pipeline constant, so the identity pipeline has no trace of it.
override RELU: u32 = 0u;
// 1: the dW kernels write db too (see the header).
override DB: u32 = 0u;

// The forward epilogue: relu(v) written as activation.wgsl writes it (0 * v keeps NaN a NaN).
fn act(v: f32) -> f32 {
  if (RELU == 0u) { return v; }
  return select(0.0 * v, v, v > 0.0);
}

fn act4(v: vec4f) -> vec4f {
  if (RELU == 0u) { return v; }
  return select(0.0 * v, v, v > vec4f(0.0));
}

// The dx epilogue: g * relu'(pre) with x = relu(pre), as activation.wgsl's leaky_relu_backward
// computes dy * (x > 0 ? 1 : alpha) (a product, so a NaN gradient stays NaN).
fn mask(g: f32, xv: f32) -> f32 {
  if (RELU == 0u) { return g; }
  return g * select(0.0, 1.0, xv > 0.0);
}

fn mask4(g: vec4f, xv: vec4f) -> vec4f {
  if (RELU == 0u) { return g; }
  return g * select(vec4f(0.0), vec4f(1.0), xv > vec4f(0.0));
}

// acc + w v^T: column q of the 4x4 block gains w * v[q] (one rank-1 step of a block product).
fn outer_fma(acc: mat4x4f, w: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(
    fma(w, vec4f(v.x), acc[0]),
    fma(w, vec4f(v.y), acc[1]),
    fma(w, vec4f(v.z), acc[2]),
    fma(w, vec4f(v.w), acc[3]),
  );
}

// Four scalars, or four vec4s as the columns of a matrix, at offsets o (in array elements).
fn gather_x(o: vec4u) -> vec4f { return vec4f(x[o.x], x[o.y], x[o.z], x[o.w]); }
fn gather_dy(o: vec4u) -> vec4f { return vec4f(dy[o.x], dy[o.y], dy[o.z], dy[o.w]); }
fn gather_W(o: vec4u) -> vec4f { return vec4f(W[o.x], W[o.y], W[o.z], W[o.w]); }
fn gather_x4(o: vec4u) -> mat4x4f { return mat4x4f(x4[o.x], x4[o.y], x4[o.z], x4[o.w]); }
fn gather_dy4(o: vec4u) -> mat4x4f { return mat4x4f(dy4[o.x], dy4[o.y], dy4[o.z], dy4[o.w]); }
fn gather_W4(o: vec4u) -> mat4x4f { return mat4x4f(W4[o.x], W4[o.y], W4[o.z], W4[o.w]); }

// Indices i0 + 4 g + (0, 1, 2, 3), clamped to at most `last`: rows or columns of a block that
// may hang over the edge of the matrix read a valid element and are simply not stored.
fn quad(i0: u32, g: u32, last: u32) -> vec4u {
  return min(vec4u(i0 + 4u * g) + LANES, vec4u(last));
}

// ---------------------------------------------------------------------------------------------
// Forward: y = x W + b

// Output row r, columns c .. c + 15 (clipped to N), plus the bias.
fn put_y(r: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (r >= dims.batch) { return; }
  put_y_quad(r * dims.n, c, v0);
  put_y_quad(r * dims.n, c + 4u, v1);
  put_y_quad(r * dims.n, c + 8u, v2);
  put_y_quad(r * dims.n, c + 12u, v3);
}

fn put_y_quad(o: u32, c: u32, v: vec4f) {
  let N = dims.n;
  if (c < N) { y[o + c] = act(v.x + b[c]); }
  if (c + 1u < N) { y[o + c + 1u] = act(v.y + b[c + 1u]); }
  if (c + 2u < N) { y[o + c + 2u] = act(v.z + b[c + 2u]); }
  if (c + 3u < N) { y[o + c + 3u] = act(v.w + b[c + 3u]); }
}

// Output row r, vec4 columns c .. c + 3 (clipped), plus the bias.
fn put_y4(r: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.n / 4u;
  if (r >= dims.batch) { return; }
  let o = r * n4 + c;
  if (c < n4) { y4[o] = act4(v0 + b4[c]); }
  if (c + 1u < n4) { y4[o + 1u] = act4(v1 + b4[c + 1u]); }
  if (c + 2u < n4) { y4[o + 2u] = act4(v2 + b4[c + 2u]); }
  if (c + 3u < n4) { y4[o + 3u] = act4(v3 + b4[c + 3u]); }
}

@compute @workgroup_size(16, 16)
fn forward_naive(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let r = gid.y;
  if (c >= dims.n || r >= dims.batch) { return; }
  var s = b[c];
  for (var k = 0u; k < dims.k; k++) {
    s = fma(x[r * dims.k + k], W[k * dims.n + c], s);
  }
  y[r * dims.n + c] = act(s);
}

// Block a{g}{j}: column q is output row rb + 4g + q, components are columns cb + 4j + (0..3).
@compute @workgroup_size(8, 4)
fn forward_tiled(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let K = dims.k;
  let N = dims.n;
  let cb = 16u * gid.x;
  let rb = 16u * gid.y;
  if (cb >= N || rb >= B) { return; }
  let xr0 = quad(rb, 0u, B - 1u) * K;
  let xr1 = quad(rb, 1u, B - 1u) * K;
  let xr2 = quad(rb, 2u, B - 1u) * K;
  let xr3 = quad(rb, 3u, B - 1u) * K;
  let wc0 = quad(cb, 0u, N - 1u);
  let wc1 = quad(cb, 1u, N - 1u);
  let wc2 = quad(cb, 2u, N - 1u);
  let wc3 = quad(cb, 3u, N - 1u);
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var k = 0u; k < K; k++) {
    let wr = vec4u(k * N);
    let w0 = gather_W(wr + wc0);
    let w1 = gather_W(wr + wc1);
    let w2 = gather_W(wr + wc2);
    let w3 = gather_W(wr + wc3);
    let x0 = gather_x(xr0 + k);
    let x1 = gather_x(xr1 + k);
    let x2 = gather_x(xr2 + k);
    let x3 = gather_x(xr3 + k);
    a00 = outer_fma(a00, w0, x0); a01 = outer_fma(a01, w1, x0);
    a02 = outer_fma(a02, w2, x0); a03 = outer_fma(a03, w3, x0);
    a10 = outer_fma(a10, w0, x1); a11 = outer_fma(a11, w1, x1);
    a12 = outer_fma(a12, w2, x1); a13 = outer_fma(a13, w3, x1);
    a20 = outer_fma(a20, w0, x2); a21 = outer_fma(a21, w1, x2);
    a22 = outer_fma(a22, w2, x2); a23 = outer_fma(a23, w3, x2);
    a30 = outer_fma(a30, w0, x3); a31 = outer_fma(a31, w1, x3);
    a32 = outer_fma(a32, w2, x3); a33 = outer_fma(a33, w3, x3);
  }
  put_y(rb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_y(rb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_y(rb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_y(rb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_y(rb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_y(rb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_y(rb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_y(rb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_y(rb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_y(rb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_y(rb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_y(rb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_y(rb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_y(rb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_y(rb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_y(rb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// As forward_tiled, in vec4 units along K and N. Per step k (four of x's columns):
//   a{g}{j} += W{j} X{g}, W{j} columns = W rows 4k..4k+3 at column vec4 c{j},
//                         X{g} columns = x rows rb + 4g + q, vec4 k.
@compute @workgroup_size(8, 4)
fn forward_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let k4 = dims.k / 4u;
  let n4 = dims.n / 4u;
  let cb = 4u * gid.x;   // in vec4 columns
  let rb = 16u * gid.y;
  if (cb >= n4 || rb >= B) { return; }
  let xr0 = quad(rb, 0u, B - 1u) * k4;
  let xr1 = quad(rb, 1u, B - 1u) * k4;
  let xr2 = quad(rb, 2u, B - 1u) * k4;
  let xr3 = quad(rb, 3u, B - 1u) * k4;
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let wr = LANES * n4;
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var k = 0u; k < k4; k++) {
    let w = wr + 4u * k * n4;
    let w0 = gather_W4(w + cs.x);
    let w1 = gather_W4(w + cs.y);
    let w2 = gather_W4(w + cs.z);
    let w3 = gather_W4(w + cs.w);
    let x0 = gather_x4(xr0 + k);
    let x1 = gather_x4(xr1 + k);
    let x2 = gather_x4(xr2 + k);
    let x3 = gather_x4(xr3 + k);
    a00 += w0 * x0; a01 += w1 * x0; a02 += w2 * x0; a03 += w3 * x0;
    a10 += w0 * x1; a11 += w1 * x1; a12 += w2 * x1; a13 += w3 * x1;
    a20 += w0 * x2; a21 += w1 * x2; a22 += w2 * x2; a23 += w3 * x2;
    a30 += w0 * x3; a31 += w1 * x3; a32 += w2 * x3; a33 += w3 * x3;
  }
  put_y4(rb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_y4(rb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_y4(rb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_y4(rb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_y4(rb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_y4(rb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_y4(rb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_y4(rb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_y4(rb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_y4(rb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_y4(rb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_y4(rb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_y4(rb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_y4(rb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_y4(rb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_y4(rb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// ---------------------------------------------------------------------------------------------
// Backward of y = x W + b:  dx = dy W^T

// dx row r, columns k .. k + 15 (clipped to K).
fn put_dx(r: u32, k: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (r >= dims.batch) { return; }
  put_dx_quad(r * dims.k, k, v0);
  put_dx_quad(r * dims.k, k + 4u, v1);
  put_dx_quad(r * dims.k, k + 8u, v2);
  put_dx_quad(r * dims.k, k + 12u, v3);
}

fn put_dx_quad(o: u32, k: u32, v: vec4f) {
  let K = dims.k;
  if (k < K) { dx[o + k] = mask(v.x, x[o + k]); }
  if (k + 1u < K) { dx[o + k + 1u] = mask(v.y, x[o + k + 1u]); }
  if (k + 2u < K) { dx[o + k + 2u] = mask(v.z, x[o + k + 2u]); }
  if (k + 3u < K) { dx[o + k + 3u] = mask(v.w, x[o + k + 3u]); }
}

// dx row r, vec4 columns k .. k + 3 (clipped).
fn put_dx4(r: u32, k: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let k4 = dims.k / 4u;
  if (r >= dims.batch) { return; }
  let o = r * k4 + k;
  if (k < k4) { dx4[o] = mask4(v0, x4[o]); }
  if (k + 1u < k4) { dx4[o + 1u] = mask4(v1, x4[o + 1u]); }
  if (k + 2u < k4) { dx4[o + 2u] = mask4(v2, x4[o + 2u]); }
  if (k + 3u < k4) { dx4[o + 3u] = mask4(v3, x4[o + 3u]); }
}

@compute @workgroup_size(16, 16)
fn backward_dx_naive(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  let r = gid.y;
  if (k >= dims.k || r >= dims.batch) { return; }
  var s = 0.0;
  for (var c = 0u; c < dims.n; c++) {
    s = fma(dy[r * dims.n + c], W[k * dims.n + c], s);
  }
  dx[r * dims.k + k] = mask(s, x[r * dims.k + k]);
}

// Block a{g}{j}: column q is dx row rb + 4g + q, components are dx columns kb + 4j + (0..3).
@compute @workgroup_size(8, 4)
fn backward_dx_tiled(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let K = dims.k;
  let N = dims.n;
  let kb = 16u * gid.x;
  let rb = 16u * gid.y;
  if (kb >= K || rb >= B) { return; }
  let dr0 = quad(rb, 0u, B - 1u) * N;
  let dr1 = quad(rb, 1u, B - 1u) * N;
  let dr2 = quad(rb, 2u, B - 1u) * N;
  let dr3 = quad(rb, 3u, B - 1u) * N;
  let wr0 = quad(kb, 0u, K - 1u) * N;
  let wr1 = quad(kb, 1u, K - 1u) * N;
  let wr2 = quad(kb, 2u, K - 1u) * N;
  let wr3 = quad(kb, 3u, K - 1u) * N;
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var c = 0u; c < N; c++) {
    let w0 = gather_W(wr0 + c);
    let w1 = gather_W(wr1 + c);
    let w2 = gather_W(wr2 + c);
    let w3 = gather_W(wr3 + c);
    let d0 = gather_dy(dr0 + c);
    let d1 = gather_dy(dr1 + c);
    let d2 = gather_dy(dr2 + c);
    let d3 = gather_dy(dr3 + c);
    a00 = outer_fma(a00, w0, d0); a01 = outer_fma(a01, w1, d0);
    a02 = outer_fma(a02, w2, d0); a03 = outer_fma(a03, w3, d0);
    a10 = outer_fma(a10, w0, d1); a11 = outer_fma(a11, w1, d1);
    a12 = outer_fma(a12, w2, d1); a13 = outer_fma(a13, w3, d1);
    a20 = outer_fma(a20, w0, d2); a21 = outer_fma(a21, w1, d2);
    a22 = outer_fma(a22, w2, d2); a23 = outer_fma(a23, w3, d2);
    a30 = outer_fma(a30, w0, d3); a31 = outer_fma(a31, w1, d3);
    a32 = outer_fma(a32, w2, d3); a33 = outer_fma(a33, w3, d3);
  }
  put_dx(rb + 0u, kb, a00[0], a01[0], a02[0], a03[0]);
  put_dx(rb + 1u, kb, a00[1], a01[1], a02[1], a03[1]);
  put_dx(rb + 2u, kb, a00[2], a01[2], a02[2], a03[2]);
  put_dx(rb + 3u, kb, a00[3], a01[3], a02[3], a03[3]);
  put_dx(rb + 4u, kb, a10[0], a11[0], a12[0], a13[0]);
  put_dx(rb + 5u, kb, a10[1], a11[1], a12[1], a13[1]);
  put_dx(rb + 6u, kb, a10[2], a11[2], a12[2], a13[2]);
  put_dx(rb + 7u, kb, a10[3], a11[3], a12[3], a13[3]);
  put_dx(rb + 8u, kb, a20[0], a21[0], a22[0], a23[0]);
  put_dx(rb + 9u, kb, a20[1], a21[1], a22[1], a23[1]);
  put_dx(rb + 10u, kb, a20[2], a21[2], a22[2], a23[2]);
  put_dx(rb + 11u, kb, a20[3], a21[3], a22[3], a23[3]);
  put_dx(rb + 12u, kb, a30[0], a31[0], a32[0], a33[0]);
  put_dx(rb + 13u, kb, a30[1], a31[1], a32[1], a33[1]);
  put_dx(rb + 14u, kb, a30[2], a31[2], a32[2], a33[2]);
  put_dx(rb + 15u, kb, a30[3], a31[3], a32[3], a33[3]);
}

// As backward_dx_tiled, in vec4 units along K and N; both operands are read along N, the
// reduction. Per step c (four of dy's columns):
//   a{g}{j} += W{j}^T D{g}, W{j} columns = W rows kb + 4j + i, vec4 c,
//                           D{g} columns = dy rows rb + 4g + q, vec4 c.
@compute @workgroup_size(8, 4)
fn backward_dx_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let K = dims.k;
  let k4 = K / 4u;
  let n4 = dims.n / 4u;
  let kb = 16u * gid.x;
  let rb = 16u * gid.y;
  if (kb >= K || rb >= B) { return; }
  let dr0 = quad(rb, 0u, B - 1u) * n4;
  let dr1 = quad(rb, 1u, B - 1u) * n4;
  let dr2 = quad(rb, 2u, B - 1u) * n4;
  let dr3 = quad(rb, 3u, B - 1u) * n4;
  let wr0 = quad(kb, 0u, K - 1u) * n4;
  let wr1 = quad(kb, 1u, K - 1u) * n4;
  let wr2 = quad(kb, 2u, K - 1u) * n4;
  let wr3 = quad(kb, 3u, K - 1u) * n4;
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var c = 0u; c < n4; c++) {
    let w0 = transpose(gather_W4(wr0 + c));
    let w1 = transpose(gather_W4(wr1 + c));
    let w2 = transpose(gather_W4(wr2 + c));
    let w3 = transpose(gather_W4(wr3 + c));
    let d0 = gather_dy4(dr0 + c);
    let d1 = gather_dy4(dr1 + c);
    let d2 = gather_dy4(dr2 + c);
    let d3 = gather_dy4(dr3 + c);
    a00 += w0 * d0; a01 += w1 * d0; a02 += w2 * d0; a03 += w3 * d0;
    a10 += w0 * d1; a11 += w1 * d1; a12 += w2 * d1; a13 += w3 * d1;
    a20 += w0 * d2; a21 += w1 * d2; a22 += w2 * d2; a23 += w3 * d2;
    a30 += w0 * d3; a31 += w1 * d3; a32 += w2 * d3; a33 += w3 * d3;
  }
  put_dx4(rb + 0u, kb / 4u, a00[0], a01[0], a02[0], a03[0]);
  put_dx4(rb + 1u, kb / 4u, a00[1], a01[1], a02[1], a03[1]);
  put_dx4(rb + 2u, kb / 4u, a00[2], a01[2], a02[2], a03[2]);
  put_dx4(rb + 3u, kb / 4u, a00[3], a01[3], a02[3], a03[3]);
  put_dx4(rb + 4u, kb / 4u, a10[0], a11[0], a12[0], a13[0]);
  put_dx4(rb + 5u, kb / 4u, a10[1], a11[1], a12[1], a13[1]);
  put_dx4(rb + 6u, kb / 4u, a10[2], a11[2], a12[2], a13[2]);
  put_dx4(rb + 7u, kb / 4u, a10[3], a11[3], a12[3], a13[3]);
  put_dx4(rb + 8u, kb / 4u, a20[0], a21[0], a22[0], a23[0]);
  put_dx4(rb + 9u, kb / 4u, a20[1], a21[1], a22[1], a23[1]);
  put_dx4(rb + 10u, kb / 4u, a20[2], a21[2], a22[2], a23[2]);
  put_dx4(rb + 11u, kb / 4u, a20[3], a21[3], a22[3], a23[3]);
  put_dx4(rb + 12u, kb / 4u, a30[0], a31[0], a32[0], a33[0]);
  put_dx4(rb + 13u, kb / 4u, a30[1], a31[1], a32[1], a33[1]);
  put_dx4(rb + 14u, kb / 4u, a30[2], a31[2], a32[2], a33[2]);
  put_dx4(rb + 15u, kb / 4u, a30[3], a31[3], a32[3], a33[3]);
}

// ---------------------------------------------------------------------------------------------
// Backward of y = x W + b:  dW = x^T dy

// dW row k, columns c .. c + 15 (clipped to N).
fn put_dW(k: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (k >= dims.k) { return; }
  put_dW_quad(k * dims.n, c, v0);
  put_dW_quad(k * dims.n, c + 4u, v1);
  put_dW_quad(k * dims.n, c + 8u, v2);
  put_dW_quad(k * dims.n, c + 12u, v3);
}

fn put_dW_quad(o: u32, c: u32, v: vec4f) {
  let N = dims.n;
  if (c < N) { dW[o + c] = v.x; }
  if (c + 1u < N) { dW[o + c + 1u] = v.y; }
  if (c + 2u < N) { dW[o + c + 2u] = v.z; }
  if (c + 3u < N) { dW[o + c + 3u] = v.w; }
}

// dW row k, vec4 columns c .. c + 3 (clipped).
fn put_dW4(k: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.n / 4u;
  if (k >= dims.k) { return; }
  let o = k * n4 + c;
  if (c < n4) { dW4[o] = v0; }
  if (c + 1u < n4) { dW4[o + 1u] = v1; }
  if (c + 2u < n4) { dW4[o + 2u] = v2; }
  if (c + 3u < n4) { dW4[o + 3u] = v3; }
}

@compute @workgroup_size(16, 16)
fn backward_dW_naive(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let k = gid.y;
  if (c >= dims.n || k >= dims.k) { return; }
  var s = 0.0;
  for (var r = 0u; r < dims.batch; r++) {
    s = fma(x[r * dims.k + k], dy[r * dims.n + c], s);
  }
  dW[k * dims.n + c] = s;
  if (DB != 0u && k == 0u) {
    var t = 0.0;
    for (var r = 0u; r < dims.batch; r++) { t += dy[r * dims.n + c]; }
    db[c] = t;
  }
}

// Block a{g}{j}: column q is dW row kb + 4g + q, components are dW columns cb + 4j + (0..3).
@compute @workgroup_size(8, 4)
fn backward_dW_tiled(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let K = dims.k;
  let N = dims.n;
  let cb = 16u * gid.x;
  let kb = 16u * gid.y;
  if (cb >= N || kb >= K) { return; }
  let xc0 = quad(kb, 0u, K - 1u);
  let xc1 = quad(kb, 1u, K - 1u);
  let xc2 = quad(kb, 2u, K - 1u);
  let xc3 = quad(kb, 3u, K - 1u);
  let dc0 = quad(cb, 0u, N - 1u);
  let dc1 = quad(cb, 1u, N - 1u);
  let dc2 = quad(cb, 2u, N - 1u);
  let dc3 = quad(cb, 3u, N - 1u);
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var r = 0u; r < B; r++) {
    let dr = vec4u(r * N);
    let xr = vec4u(r * K);
    let d0 = gather_dy(dr + dc0);
    let d1 = gather_dy(dr + dc1);
    let d2 = gather_dy(dr + dc2);
    let d3 = gather_dy(dr + dc3);
    let x0 = gather_x(xr + xc0);
    let x1 = gather_x(xr + xc1);
    let x2 = gather_x(xr + xc2);
    let x3 = gather_x(xr + xc3);
    a00 = outer_fma(a00, d0, x0); a01 = outer_fma(a01, d1, x0);
    a02 = outer_fma(a02, d2, x0); a03 = outer_fma(a03, d3, x0);
    a10 = outer_fma(a10, d0, x1); a11 = outer_fma(a11, d1, x1);
    a12 = outer_fma(a12, d2, x1); a13 = outer_fma(a13, d3, x1);
    a20 = outer_fma(a20, d0, x2); a21 = outer_fma(a21, d1, x2);
    a22 = outer_fma(a22, d2, x2); a23 = outer_fma(a23, d3, x2);
    a30 = outer_fma(a30, d0, x3); a31 = outer_fma(a31, d1, x3);
    a32 = outer_fma(a32, d2, x3); a33 = outer_fma(a33, d3, x3);
  }
  put_dW(kb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dW(kb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dW(kb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dW(kb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dW(kb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dW(kb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dW(kb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dW(kb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dW(kb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dW(kb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dW(kb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dW(kb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dW(kb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dW(kb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dW(kb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dW(kb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
  if (DB != 0u && gid.y == 0u) {
    var s0 = vec4f(); var s1 = vec4f(); var s2 = vec4f(); var s3 = vec4f();
    for (var r = 0u; r < B; r++) {
      let dr = vec4u(r * N);
      s0 += gather_dy(dr + dc0);
      s1 += gather_dy(dr + dc1);
      s2 += gather_dy(dr + dc2);
      s3 += gather_dy(dr + dc3);
    }
    put_db_quad(cb, s0);
    put_db_quad(cb + 4u, s1);
    put_db_quad(cb + 8u, s2);
    put_db_quad(cb + 12u, s3);
  }
}

fn put_db_quad(c: u32, v: vec4f) {
  let N = dims.n;
  if (c < N) { db[c] = v.x; }
  if (c + 1u < N) { db[c + 1u] = v.y; }
  if (c + 2u < N) { db[c + 2u] = v.z; }
  if (c + 3u < N) { db[c + 3u] = v.w; }
}

// As backward_dW_tiled, in vec4 units along K and N, four rows of x and dy per step:
//   a{g}{j} += D{j} X{g}^T, D{j} columns = dy rows r..r+3, vec4 column cb + j,
//                           X{g} columns = x rows r..r+3, vec4 column kb/4 + g.
// Rows left over when B is not a multiple of 4 are added one at a time as outer products.
@compute @workgroup_size(8, 4)
fn backward_dW_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let B = dims.batch;
  let K = dims.k;
  let k4 = K / 4u;
  let n4 = dims.n / 4u;
  let cb = 4u * gid.x;   // in vec4 columns
  let kb = 16u * gid.y;
  if (cb >= n4 || kb >= K) { return; }
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let ks = min(vec4u(kb / 4u) + LANES, vec4u(k4 - 1u));
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  let whole = B & ~3u;
  for (var r = 0u; r < whole; r += 4u) {
    let dr = (vec4u(r) + LANES) * n4;
    let xr = (vec4u(r) + LANES) * k4;
    let d0 = gather_dy4(dr + cs.x);
    let d1 = gather_dy4(dr + cs.y);
    let d2 = gather_dy4(dr + cs.z);
    let d3 = gather_dy4(dr + cs.w);
    let x0 = transpose(gather_x4(xr + ks.x));
    let x1 = transpose(gather_x4(xr + ks.y));
    let x2 = transpose(gather_x4(xr + ks.z));
    let x3 = transpose(gather_x4(xr + ks.w));
    a00 += d0 * x0; a01 += d1 * x0; a02 += d2 * x0; a03 += d3 * x0;
    a10 += d0 * x1; a11 += d1 * x1; a12 += d2 * x1; a13 += d3 * x1;
    a20 += d0 * x2; a21 += d1 * x2; a22 += d2 * x2; a23 += d3 * x2;
    a30 += d0 * x3; a31 += d1 * x3; a32 += d2 * x3; a33 += d3 * x3;
  }
  for (var r = whole; r < B; r++) {
    let d0 = dy4[r * n4 + cs.x];
    let d1 = dy4[r * n4 + cs.y];
    let d2 = dy4[r * n4 + cs.z];
    let d3 = dy4[r * n4 + cs.w];
    let x0 = x4[r * k4 + ks.x];
    let x1 = x4[r * k4 + ks.y];
    let x2 = x4[r * k4 + ks.z];
    let x3 = x4[r * k4 + ks.w];
    a00 = outer_fma(a00, d0, x0); a01 = outer_fma(a01, d1, x0);
    a02 = outer_fma(a02, d2, x0); a03 = outer_fma(a03, d3, x0);
    a10 = outer_fma(a10, d0, x1); a11 = outer_fma(a11, d1, x1);
    a12 = outer_fma(a12, d2, x1); a13 = outer_fma(a13, d3, x1);
    a20 = outer_fma(a20, d0, x2); a21 = outer_fma(a21, d1, x2);
    a22 = outer_fma(a22, d2, x2); a23 = outer_fma(a23, d3, x2);
    a30 = outer_fma(a30, d0, x3); a31 = outer_fma(a31, d1, x3);
    a32 = outer_fma(a32, d2, x3); a33 = outer_fma(a33, d3, x3);
  }
  put_dW4(kb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dW4(kb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dW4(kb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dW4(kb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dW4(kb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dW4(kb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dW4(kb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dW4(kb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dW4(kb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dW4(kb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dW4(kb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dW4(kb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dW4(kb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dW4(kb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dW4(kb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dW4(kb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
  if (DB != 0u && gid.y == 0u) {
    var s0 = vec4f(); var s1 = vec4f(); var s2 = vec4f(); var s3 = vec4f();
    for (var r = 0u; r < B; r++) {
      s0 += dy4[r * n4 + cs.x];
      s1 += dy4[r * n4 + cs.y];
      s2 += dy4[r * n4 + cs.z];
      s3 += dy4[r * n4 + cs.w];
    }
    if (cb < n4) { db4[cb] = s0; }
    if (cb + 1u < n4) { db4[cb + 1u] = s1; }
    if (cb + 2u < n4) { db4[cb + 2u] = s2; }
    if (cb + 3u < n4) { db4[cb + 3u] = s3; }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward of y = x W + b:  db = sum over rows of dy. Invocation c writes db[c]; the grid may
// span two dimensions (see dense.ts), so c = gid.x + gid.y * num_workgroups.x * 64.

@compute @workgroup_size(64)
fn backward_db(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= dims.n) { return; }
  var s = 0.0;
  for (var r = 0u; r < dims.batch; r++) { s += dy[r * dims.n + c]; }
  db[c] = s;
}
