// 2-D convolution (cross-correlation, as in every deep learning library), forward and backward.
//
//   forward:  y[b, oh, ow, co] = bias[co] + sum_{kh, kw, ci} x[b, ih, iw, ci] w[kh, kw, ci, co]
//             with ih = oh sh - pt + kh, iw = ow sw - pl + kw; x outside the image reads as 0.
//   dx:       dx[b, ih, iw, ci] = sum over (kh, kw, co) with oh = (ih + pt - kh) / sh an exact
//             quotient in [0, Ho) (likewise ow) of dy[b, oh, ow, co] w[kh, kw, ci, co]
//   dw:       dw[kh, kw, ci, co] = sum_{b, oh, ow} x[b, ih, iw, ci] dy[b, oh, ow, co]
//   db:       db[co] = sum_{b, oh, ow} dy[b, oh, ow, co]
//
// Bindings (f32, channels last, row-major):
//   x, dx [B, H, W, Cin]   y, dy [B, Ho, Wo, Cout]   w, dw [KH, KW, Cin, Cout]   b, db [Cout]
// Gradients overwrite their outputs. The `4` names view the same buffers as array<vec4<f32>>
// and are used only when Cout (x4: Cin) is a multiple of 4, so each pixel's channels start on a
// vec4.
//
// Why NHWC: flattening [B, H, W, C] to [B, H W C] for the dense heads is free (no transpose
// kernel), a pixel's channels are contiguous so they load as vec4s, and it matches dense's
// [B, F] row-major layout. w [KH, KW, Cin, Cout] viewed as [KH KW Cin, Cout] is exactly the
// B matrix of the im2col GEMM (like dense W [K, N]), so the kernels below are dense's products
// with the im2col matrix of x gathered on the fly ("implicit GEMM"), never materialised.
// "Pixel" below means a flat output position p = (b Ho + oh) Wo + ow, P = B Ho Wo of them.
//
// Variants (conv2d.ts picks; all are tested):
//   forward_naive      any shape; invocation (co, p) writes y[p, co].
//   forward_vec4       Cout % 4 == 0; invocation (gid.x, gid.y) writes pixels [4 gid.y, +4) x
//                      channels [16 gid.x, +16) (clipped), held in four mat4x4 accumulators
//                      (column q = pixel q, one matrix per 4 channels), one rank-1 update per
//                      (kh, kw, ci). Named accumulators only: indexed arrays of accumulators are
//                      not kept in registers by llvmpipe (see dense.wgsl).
//   forward_vec4_cin4  Cout % 4 == 0 and Cin % 4 == 0; as forward_vec4 but x read as vec4s
//                      and four in channels per step (4x4 matrix products).
//   backward_dx_naive  any shape; invocation (ci, input pixel) writes dx[pixel, ci].
//   backward_dx_vec4   Cout % 4 == 0; invocation (gid.x, gid.y) writes 4 input pixels of one
//                      row (same column modulo the stride; see the kernel) x in channels
//                      [16 gid.x, +16) (clipped), reducing over (kh, kw, Cout) with Cout read
//                      as vec4s.
//   backward_dw_naive  any shape; invocation (co, r) writes dw[r, co], r = (kh KW + kw) Cin + ci.
//   backward_dw_vec4   Cout % 4 == 0; invocation (gid.x, gid.y) writes rows r in [4 gid.y, +4)
//                      x channels [16 gid.x, +16) (clipped): an implicit GEMM over the P pixels.
//   backward_dw_vec4_cin4  Cout % 4 == 0 and Cin % 4 == 0; as backward_dw_vec4 with 16 rows
//                      per invocation, x read as vec4s.
//   backward_db        invocation co writes db[co] (1-D grid spread over x and y, see grid1d).
//   add_bias           dx[q, ci] += b[ci]: the bias of a transposed convolution (whose forward
//                      is backward_dx with the roles of x and y swapped; see conv_transpose2d.ts).
// Pixel-indexed grids run along y and spill into z past 65535 workgroups: the flat index is
// gid.y + gid.z * num_workgroups.y * (workgroup height).

struct Dims {
  batch: u32,   // B
  height: u32,  // H, input rows
  width: u32,   // W, input columns
  cin: u32,     // Cin
  cout: u32,    // Cout
  kh: u32,      // KH, kernel rows
  kw: u32,      // KW, kernel columns
  sh: u32,      // stride along rows
  sw: u32,      // stride along columns
  pt: u32,      // zero rows added above the image
  pl: u32,      // zero columns added left of the image
  ho: u32,      // Ho, output rows
  wo: u32,      // Wo, output columns
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(0) var<storage, read_write> dw4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> db: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> dims: Dims;

const LANES = vec4u(0u, 1u, 2u, 3u);

// acc + v u^T: column q of the 4x4 block gains v * u[q] (one rank-1 step of a block product).
fn outer_fma(acc: mat4x4f, v: vec4f, u: vec4f) -> mat4x4f {
  return mat4x4f(
    fma(v, vec4f(u.x), acc[0]),
    fma(v, vec4f(u.y), acc[1]),
    fma(v, vec4f(u.z), acc[2]),
    fma(v, vec4f(u.w), acc[3]),
  );
}

// Flat index along y (and z when the grid spilled), for workgroups `rows` invocations high.
fn flat_y(gid: vec3u, nwg: vec3u, rows: u32) -> u32 {
  return gid.y + gid.z * nwg.y * rows;
}

// ---------------------------------------------------------------------------------------------
// Forward

@compute @workgroup_size(16, 16)
fn forward_naive(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let co = gid.x;
  let p = flat_y(gid, nwg, 16u);
  let hw = dims.ho * dims.wo;
  if (co >= dims.cout || p >= dims.batch * hw) { return; }
  let n = p / hw;
  let oh = (p % hw) / dims.wo;
  let ow = p % dims.wo;
  let H = i32(dims.height);
  let W = i32(dims.width);
  var s = b[co];
  for (var kh = 0u; kh < dims.kh; kh++) {
    let ih = i32(oh * dims.sh + kh) - i32(dims.pt);
    if (ih < 0 || ih >= H) { continue; }
    for (var kw = 0u; kw < dims.kw; kw++) {
      let iw = i32(ow * dims.sw + kw) - i32(dims.pl);
      if (iw < 0 || iw >= W) { continue; }
      let xo = ((n * dims.height + u32(ih)) * dims.width + u32(iw)) * dims.cin;
      let wo = (kh * dims.kw + kw) * dims.cin * dims.cout + co;
      for (var ci = 0u; ci < dims.cin; ci++) {
        s = fma(x[xo + ci], w[wo + ci * dims.cout], s);
      }
    }
  }
  y[p * dims.cout + co] = s;
}

// y row (pixel) p, vec4 channels c .. c + 3 (clipped), plus the bias.
fn put_y4(p: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.cout / 4u;
  if (p >= dims.batch * dims.ho * dims.wo) { return; }
  let o = p * n4 + c;
  if (c < n4) { y4[o] = v0 + b4[c]; }
  if (c + 1u < n4) { y4[o + 1u] = v1 + b4[c + 1u]; }
  if (c + 2u < n4) { y4[o + 2u] = v2 + b4[c + 2u]; }
  if (c + 3u < n4) { y4[o + 3u] = v3 + b4[c + 3u]; }
}

// a{j}: column q is pixel pb + q, components are channels 4 (cb + j) + (0..3).
@compute @workgroup_size(4, 16)
fn forward_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n4 = dims.cout / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let cb = 4u * gid.x;   // in vec4 channels
  let pb = 4u * flat_y(gid, nwg, 16u);
  if (cb >= n4 || pb >= P) { return; }
  // Pixels past the end read pixel P - 1 and are not stored; channels likewise.
  let ps = min(vec4u(pb) + LANES, vec4u(P - 1u));
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  // Per pixel: image n's first x row, and the top-left input position of its patch.
  let hw = dims.ho * dims.wo;
  let img = vec4i((ps / hw) * dims.height);
  let ih0 = vec4i((ps % hw) / dims.wo * dims.sh) - i32(dims.pt);
  let iw0 = vec4i(ps % dims.wo * dims.sw) - i32(dims.pl);
  let H = vec4i(i32(dims.height));
  let W = vec4i(i32(dims.width));
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    let ih = ih0 + i32(kh);
    let okh = (ih >= vec4i(0)) & (ih < H);
    for (var kw = 0u; kw < dims.kw; kw++) {
      let iw = iw0 + i32(kw);
      let ok = okh & (iw >= vec4i(0)) & (iw < W);
      // Padding taps read x[0] (a valid index) and are masked to 0.
      let xo = select(vec4u(0u), vec4u((img + ih) * W + iw) * dims.cin, ok);
      let m = select(vec4f(0.0), vec4f(1.0), ok);
      let r0 = (kh * dims.kw + kw) * dims.cin;
      for (var ci = 0u; ci < dims.cin; ci++) {
        let xv = vec4f(x[xo.x + ci], x[xo.y + ci], x[xo.z + ci], x[xo.w + ci]) * m;
        let wr = (r0 + ci) * n4;
        a0 = outer_fma(a0, w4[wr + cs.x], xv);
        a1 = outer_fma(a1, w4[wr + cs.y], xv);
        a2 = outer_fma(a2, w4[wr + cs.z], xv);
        a3 = outer_fma(a3, w4[wr + cs.w], xv);
      }
    }
  }
  put_y4(pb, cb, a0[0], a1[0], a2[0], a3[0]);
  put_y4(pb + 1u, cb, a0[1], a1[1], a2[1], a3[1]);
  put_y4(pb + 2u, cb, a0[2], a1[2], a2[2], a3[2]);
  put_y4(pb + 3u, cb, a0[3], a1[3], a2[3], a3[3]);
}

// As forward_vec4, for Cin % 4 == 0 too: the reduction over ci steps four at a time, x read
// as vec4s, and each step is four 4x4 matrix products:
//   a{j} += Wj X,  Wj columns = w rows (kh, kw, 4 k + i), vec4 channel cb + j;
//                  X columns = x of the four pixels' tap, vec4 k of its channels (0 if padding).
@compute @workgroup_size(4, 16)
fn forward_vec4_cin4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let cb = 4u * gid.x;   // in vec4 channels
  let pb = 4u * flat_y(gid, nwg, 16u);
  if (cb >= n4 || pb >= P) { return; }
  let ps = min(vec4u(pb) + LANES, vec4u(P - 1u));
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let hw = dims.ho * dims.wo;
  let img = vec4i((ps / hw) * dims.height);
  let ih0 = vec4i((ps % hw) / dims.wo * dims.sh) - i32(dims.pt);
  let iw0 = vec4i(ps % dims.wo * dims.sw) - i32(dims.pl);
  let H = vec4i(i32(dims.height));
  let W = vec4i(i32(dims.width));
  let wl = LANES * n4;
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    let ih = ih0 + i32(kh);
    let okh = (ih >= vec4i(0)) & (ih < H);
    for (var kw = 0u; kw < dims.kw; kw++) {
      let iw = iw0 + i32(kw);
      let ok = okh & (iw >= vec4i(0)) & (iw < W);
      let xo = select(vec4u(0u), vec4u((img + ih) * W + iw) * c4, ok);
      let m = select(vec4f(0.0), vec4f(1.0), ok);
      let r0 = (kh * dims.kw + kw) * dims.cin;
      for (var k = 0u; k < c4; k++) {
        let X = mat4x4f(
          x4[xo.x + k] * m.x,
          x4[xo.y + k] * m.y,
          x4[xo.z + k] * m.z,
          x4[xo.w + k] * m.w,
        );
        let wr = vec4u((r0 + 4u * k) * n4) + wl;
        a0 += mat4x4f(w4[wr.x + cs.x], w4[wr.y + cs.x], w4[wr.z + cs.x], w4[wr.w + cs.x]) * X;
        a1 += mat4x4f(w4[wr.x + cs.y], w4[wr.y + cs.y], w4[wr.z + cs.y], w4[wr.w + cs.y]) * X;
        a2 += mat4x4f(w4[wr.x + cs.z], w4[wr.y + cs.z], w4[wr.z + cs.z], w4[wr.w + cs.z]) * X;
        a3 += mat4x4f(w4[wr.x + cs.w], w4[wr.y + cs.w], w4[wr.z + cs.w], w4[wr.w + cs.w]) * X;
      }
    }
  }
  put_y4(pb, cb, a0[0], a1[0], a2[0], a3[0]);
  put_y4(pb + 1u, cb, a0[1], a1[1], a2[1], a3[1]);
  put_y4(pb + 2u, cb, a0[2], a1[2], a2[2], a3[2]);
  put_y4(pb + 3u, cb, a0[3], a1[3], a2[3], a3[3]);
}

// ---------------------------------------------------------------------------------------------
// Backward: dx

@compute @workgroup_size(16, 16)
fn backward_dx_naive(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let ci = gid.x;
  let q = flat_y(gid, nwg, 16u);   // input pixel (n, ih, iw)
  let hw = dims.height * dims.width;
  if (ci >= dims.cin || q >= dims.batch * hw) { return; }
  let n = q / hw;
  let ih = (q % hw) / dims.width;
  let iw = q % dims.width;
  var s = 0.0;
  for (var kh = 0u; kh < dims.kh; kh++) {
    // oh sh = ih + pt - kh must be a non-negative multiple of sh below Ho sh.
    let th = ih + dims.pt;
    if (th < kh || (th - kh) % dims.sh != 0u) { continue; }
    let oh = (th - kh) / dims.sh;
    if (oh >= dims.ho) { continue; }
    for (var kw = 0u; kw < dims.kw; kw++) {
      let tw = iw + dims.pl;
      if (tw < kw || (tw - kw) % dims.sw != 0u) { continue; }
      let ow = (tw - kw) / dims.sw;
      if (ow >= dims.wo) { continue; }
      let go = ((n * dims.ho + oh) * dims.wo + ow) * dims.cout;
      let wo = ((kh * dims.kw + kw) * dims.cin + ci) * dims.cout;
      for (var co = 0u; co < dims.cout; co++) {
        s = fma(dy[go + co], w[wo + co], s);
      }
    }
  }
  dx[q * dims.cin + ci] = s;
}

// dx pixel q, channels c .. c + 15 (clipped to Cin): v{j} holds channels c + 4 j + (0..3).
fn put_dx(q: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (q >= dims.batch * dims.height * dims.width) { return; }
  put_dx_quad(q * dims.cin, c, v0);
  put_dx_quad(q * dims.cin, c + 4u, v1);
  put_dx_quad(q * dims.cin, c + 8u, v2);
  put_dx_quad(q * dims.cin, c + 12u, v3);
}

fn put_dx_quad(o: u32, c: u32, v: vec4f) {
  let C = dims.cin;
  if (c < C) { dx[o + c] = v.x; }
  if (c + 1u < C) { dx[o + c + 1u] = v.y; }
  if (c + 2u < C) { dx[o + c + 2u] = v.z; }
  if (c + 3u < C) { dx[o + c + 3u] = v.w; }
}

// dx = dy w^T per tap as an implicit GEMM, reducing along Cout four at a time (Cout % 4 == 0).
// a{j}: column q is the block's input pixel q, components are in channels cb + 4 j + (0..3).
// A block is four pixels of one input row whose columns are congruent modulo the column stride
// (iw = r + sw (4 c + q)): then a tap (kh, kw) hits an output position for all four or for
// none (except past the right or bottom edge), so the taps the stride skips are skipped whole
// instead of masked, which with stride 2 would waste half the work. Block id
// ((n H + ih) sw + r) chunks + c, chunks = ceil(ceil(W / sw) / 4); lanes past the row's end
// compute a copy of its last pixel and are not stored. Per used tap and vec4 k of Cout:
//   a{j} += Wj^T D,  Wj columns = w rows (kh, kw, cb + 4 j + i), vec4 k; D columns = dy of the
//                    four pixels' outputs, vec4 k (masked to 0 where a pixel has none).
@compute @workgroup_size(4, 16)
fn backward_dx_vec4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let C = dims.cin;
  let chunks = ((dims.width + dims.sw - 1u) / dims.sw + 3u) / 4u;
  let per_row = dims.sw * chunks;
  let cb = 16u * gid.x;
  let id = flat_y(gid, nwg, 16u);
  if (cb >= C || id >= dims.batch * dims.height * per_row) { return; }
  let row = id / per_row;   // n H + ih
  let r = (id % per_row) / chunks;
  let iw = vec4u(r + dims.sw * 4u * (id % chunks)) + dims.sw * LANES;
  let iwc = min(iw, vec4u(dims.width - 1u));
  let n = row / dims.height;
  let ih = row % dims.height;
  // Flat pixel of each lane; lanes past the row's end get an index no pixel has (not stored).
  let Q = dims.batch * dims.height * dims.width;
  let qs = select(vec4u(Q), vec4u(row * dims.width) + iwc, iw < vec4u(dims.width));
  let tw0 = vec4i(iwc + dims.pl);   // iw + pl = ow sw + kw
  let sw = vec4i(i32(dims.sw));
  let Wo = vec4i(i32(dims.wo));
  let c0 = min(vec4u(cb) + LANES, vec4u(C - 1u));
  let c1 = min(vec4u(cb + 4u) + LANES, vec4u(C - 1u));
  let c2 = min(vec4u(cb + 8u) + LANES, vec4u(C - 1u));
  let c3 = min(vec4u(cb + 12u) + LANES, vec4u(C - 1u));
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    // ih + pt = oh sh + kh, needing an exact quotient oh in [0, Ho).
    let th = ih + dims.pt;
    if (th < kh || (th - kh) % dims.sh != 0u || (th - kh) / dims.sh >= dims.ho) { continue; }
    let orow = (n * dims.ho + (th - kh) / dims.sh) * dims.wo;
    for (var kw = 0u; kw < dims.kw; kw++) {
      let tw = tw0 - i32(kw);
      let ow = tw / sw;
      let ok = (tw >= vec4i(0)) & (tw - ow * sw == vec4i(0)) & (ow < Wo);
      if (!any(ok)) { continue; }
      let go = select(vec4u(0u), (vec4u(orow) + vec4u(ow)) * n4, ok);
      let m = select(vec4f(0.0), vec4f(1.0), ok);
      let wr = (kh * dims.kw + kw) * C;
      let w0 = (vec4u(wr) + c0) * n4;
      let w1 = (vec4u(wr) + c1) * n4;
      let w2 = (vec4u(wr) + c2) * n4;
      let w3 = (vec4u(wr) + c3) * n4;
      for (var k = 0u; k < n4; k++) {
        let D = mat4x4f(
          dy4[go.x + k] * m.x,
          dy4[go.y + k] * m.y,
          dy4[go.z + k] * m.z,
          dy4[go.w + k] * m.w,
        );
        a0 += transpose(mat4x4f(w4[w0.x + k], w4[w0.y + k], w4[w0.z + k], w4[w0.w + k])) * D;
        a1 += transpose(mat4x4f(w4[w1.x + k], w4[w1.y + k], w4[w1.z + k], w4[w1.w + k])) * D;
        a2 += transpose(mat4x4f(w4[w2.x + k], w4[w2.y + k], w4[w2.z + k], w4[w2.w + k])) * D;
        a3 += transpose(mat4x4f(w4[w3.x + k], w4[w3.y + k], w4[w3.z + k], w4[w3.w + k])) * D;
      }
    }
  }
  put_dx(qs.x, cb, a0[0], a1[0], a2[0], a3[0]);
  put_dx(qs.y, cb, a0[1], a1[1], a2[1], a3[1]);
  put_dx(qs.z, cb, a0[2], a1[2], a2[2], a3[2]);
  put_dx(qs.w, cb, a0[3], a1[3], a2[3], a3[3]);
}

// ---------------------------------------------------------------------------------------------
// Backward: dw

@compute @workgroup_size(16, 16)
fn backward_dw_naive(@builtin(global_invocation_id) gid: vec3u) {
  let co = gid.x;
  let r = gid.y;   // (kh KW + kw) Cin + ci
  if (co >= dims.cout || r >= dims.kh * dims.kw * dims.cin) { return; }
  let ci = r % dims.cin;
  let kk = r / dims.cin;
  let kh = kk / dims.kw;
  let kw = kk % dims.kw;
  var s = 0.0;
  for (var n = 0u; n < dims.batch; n++) {
    for (var oh = 0u; oh < dims.ho; oh++) {
      let ih = i32(oh * dims.sh + kh) - i32(dims.pt);
      if (ih < 0 || ih >= i32(dims.height)) { continue; }
      for (var ow = 0u; ow < dims.wo; ow++) {
        let iw = i32(ow * dims.sw + kw) - i32(dims.pl);
        if (iw < 0 || iw >= i32(dims.width)) { continue; }
        let xo = ((n * dims.height + u32(ih)) * dims.width + u32(iw)) * dims.cin + ci;
        let go = ((n * dims.ho + oh) * dims.wo + ow) * dims.cout + co;
        s = fma(x[xo], dy[go], s);
      }
    }
  }
  dw[r * dims.cout + co] = s;
}

// dw row r, vec4 channels c .. c + 3 (clipped).
fn put_dw4(r: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.cout / 4u;
  if (r >= dims.kh * dims.kw * dims.cin) { return; }
  let o = r * n4 + c;
  if (c < n4) { dw4[o] = v0; }
  if (c + 1u < n4) { dw4[o + 1u] = v1; }
  if (c + 2u < n4) { dw4[o + 2u] = v2; }
  if (c + 3u < n4) { dw4[o + 3u] = v3; }
}

// Row r's kernel tap (kh, kw) and input channel ci, as (kh, kw, ci).
fn row_tap(r: u32) -> vec3u {
  let kk = r / dims.cin;
  return vec3u(kk / dims.kw, kk % dims.kw, r % dims.cin);
}

// a{j}: column q is dw row rb + q, components are channels 4 (cb + j) + (0..3). Per output
// pixel: a{j} += dy4[pixel, cb + j] (x at the pixel's taps of the four rows)^T. Rows past the
// end of dw repeat the last row and are not stored.
@compute @workgroup_size(4, 16)
fn backward_dw_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let n4 = dims.cout / 4u;
  let R = dims.kh * dims.kw * dims.cin;
  let cb = 4u * gid.x;   // in vec4 channels
  let rb = 4u * gid.y;
  if (cb >= n4 || rb >= R) { return; }
  let rs = min(vec4u(rb) + LANES, vec4u(R - 1u));
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let t0 = row_tap(rs.x);
  let t1 = row_tap(rs.y);
  let t2 = row_tap(rs.z);
  let t3 = row_tap(rs.w);
  let khs = vec4i(i32(t0.x), i32(t1.x), i32(t2.x), i32(t3.x)) - i32(dims.pt);
  let kws = vec4i(i32(t0.y), i32(t1.y), i32(t2.y), i32(t3.y)) - i32(dims.pl);
  let cis = vec4u(t0.z, t1.z, t2.z, t3.z);
  let H = vec4i(i32(dims.height));
  let W = vec4i(i32(dims.width));
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var p = 0u;   // flat output pixel, advanced in step with (n, oh, ow)
  for (var n = 0u; n < dims.batch; n++) {
    for (var oh = 0u; oh < dims.ho; oh++) {
      let ih = vec4i(i32(oh * dims.sh)) + khs;
      let row_ok = (ih >= vec4i(0)) & (ih < H);
      let xrow = (vec4i(i32(n * dims.height)) + ih) * W;
      for (var ow = 0u; ow < dims.wo; ow++) {
        let iw = vec4i(i32(ow * dims.sw)) + kws;
        let ok = row_ok & (iw >= vec4i(0)) & (iw < W);
        // Offsets of padding taps are replaced by 0 (a valid index), then masked out.
        let xo = select(vec4u(0u), vec4u(xrow + iw) * dims.cin + cis, ok);
        let xv = select(vec4f(0.0), vec4f(x[xo.x], x[xo.y], x[xo.z], x[xo.w]), ok);
        let go = p * n4;
        a0 = outer_fma(a0, dy4[go + cs.x], xv);
        a1 = outer_fma(a1, dy4[go + cs.y], xv);
        a2 = outer_fma(a2, dy4[go + cs.z], xv);
        a3 = outer_fma(a3, dy4[go + cs.w], xv);
        p++;
      }
    }
  }
  put_dw4(rb, cb, a0[0], a1[0], a2[0], a3[0]);
  put_dw4(rb + 1u, cb, a0[1], a1[1], a2[1], a3[1]);
  put_dw4(rb + 2u, cb, a0[2], a1[2], a2[2], a3[2]);
  put_dw4(rb + 3u, cb, a0[3], a1[3], a2[3], a3[3]);
}

// As backward_dw_vec4 for Cin % 4 == 0, with a 16-row block: rows rb + 4 g + (0..3) are four
// in channels of one tap, so per pixel each quad g of rows reads one vec4 of x, and
//   a{g}{j} += dy4[pixel, cb + j] (x4 at quad g's tap)^T
// (column i of a{g}{j} is dw row rb + 4 g + i, components channels 4 (cb + j) + (0..3)).
// Quads past the end of dw repeat the last quad and are not stored.
@compute @workgroup_size(4, 16)
fn backward_dw_vec4_cin4(@builtin(global_invocation_id) gid: vec3u) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let R4 = dims.kh * dims.kw * c4;   // quads of rows
  let cb = 4u * gid.x;   // in vec4 channels
  let gb = 4u * gid.y;   // in quads
  if (cb >= n4 || gb >= R4) { return; }
  let gs = min(vec4u(gb) + LANES, vec4u(R4 - 1u));
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let kk = gs / c4;   // tap kh KW + kw of each quad
  let khs = vec4i(kk / dims.kw) - i32(dims.pt);
  let kws = vec4i(kk % dims.kw) - i32(dims.pl);
  let cis = gs % c4;
  let H = vec4i(i32(dims.height));
  let W = vec4i(i32(dims.width));
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  var p = 0u;   // flat output pixel, advanced in step with (n, oh, ow)
  for (var n = 0u; n < dims.batch; n++) {
    for (var oh = 0u; oh < dims.ho; oh++) {
      let ih = vec4i(i32(oh * dims.sh)) + khs;
      let row_ok = (ih >= vec4i(0)) & (ih < H);
      let xrow = (vec4i(i32(n * dims.height)) + ih) * W;
      for (var ow = 0u; ow < dims.wo; ow++) {
        let iw = vec4i(i32(ow * dims.sw)) + kws;
        let ok = row_ok & (iw >= vec4i(0)) & (iw < W);
        let xo = select(vec4u(0u), vec4u(xrow + iw) * c4 + cis, ok);
        let m = select(vec4f(0.0), vec4f(1.0), ok);
        let x0 = x4[xo.x] * m.x;
        let x1 = x4[xo.y] * m.y;
        let x2 = x4[xo.z] * m.z;
        let x3 = x4[xo.w] * m.w;
        let go = p * n4;
        let d0 = dy4[go + cs.x];
        let d1 = dy4[go + cs.y];
        let d2 = dy4[go + cs.z];
        let d3 = dy4[go + cs.w];
        a00 = outer_fma(a00, d0, x0); a01 = outer_fma(a01, d1, x0);
        a02 = outer_fma(a02, d2, x0); a03 = outer_fma(a03, d3, x0);
        a10 = outer_fma(a10, d0, x1); a11 = outer_fma(a11, d1, x1);
        a12 = outer_fma(a12, d2, x1); a13 = outer_fma(a13, d3, x1);
        a20 = outer_fma(a20, d0, x2); a21 = outer_fma(a21, d1, x2);
        a22 = outer_fma(a22, d2, x2); a23 = outer_fma(a23, d3, x2);
        a30 = outer_fma(a30, d0, x3); a31 = outer_fma(a31, d1, x3);
        a32 = outer_fma(a32, d2, x3); a33 = outer_fma(a33, d3, x3);
        p++;
      }
    }
  }
  let rb = 4u * gb;
  put_dw4(rb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dw4(rb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dw4(rb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dw4(rb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dw4(rb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dw4(rb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dw4(rb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dw4(rb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dw4(rb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dw4(rb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dw4(rb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dw4(rb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dw4(rb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dw4(rb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dw4(rb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dw4(rb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// ---------------------------------------------------------------------------------------------
// Backward: db

@compute @workgroup_size(64)
fn backward_db(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let co = gid.x + gid.y * nwg.x * 64u;
  if (co >= dims.cout) { return; }
  let P = dims.batch * dims.ho * dims.wo;
  var s = 0.0;
  for (var p = 0u; p < P; p++) { s += dy[p * dims.cout + co]; }
  db[co] = s;
}

// ---------------------------------------------------------------------------------------------
// Bias of a transposed convolution

// dx[q, ci] += b[ci] over the input layout [B, H, W, Cin]: a transposed convolution's output
// is this convolution's input gradient (backward_dx) plus its bias. Invocation i (1-D grid,
// see grid1d) updates element i.
@compute @workgroup_size(64)
fn add_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= dims.batch * dims.height * dims.width * dims.cin) { return; }
  dx[i] += b[i % dims.cin];
}
