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
//   forward_vec4       Cout % 4 == 0; invocation (gid.x, gid.y) writes pixels [16 gid.y, +16) x
//                      channels [16 gid.x, +16) (clipped), held in sixteen mat4x4 accumulators
//                      (column q = pixel q, one matrix per 4 pixels x 4 channels), one block
//                      product per four rows (kh, kw, ci) of w. Named accumulators only: indexed
//                      arrays of accumulators are not kept in registers by llvmpipe (dense.wgsl).
//   forward_vec4_cin4  Cout % 4 == 0 and Cin % 4 == 0; as forward_vec4 but x read as vec4s
//                      (four in channels of one tap per step). Workgroup FWD_WX x FWD_WY
//                      (override; 4 x 16 or 2 x 32).
//   forward_vec4_cin4_c32  as forward_vec4_cin4 with 16 pixels x 32 channels per invocation.
//   forward_vec4_cin4_p64  as forward_vec4_cin4 with 64 pixels x 32 channels per invocation.
//   forward_cin1_k3    Cin == 1, 3x3 kernel, Cout % 4 == 0: a strip of pixels of one output row x
//                      16 channels per invocation, the filter bank held in registers.
//   forward_cout1      Cout == 1 and Cin % 4 == 0: four pixels per invocation (the sub-pixel dx
//                      into one channel).
//   forward_cout1_k3   as forward_cout1 for a 3x3 kernel at stride 1: 4 rows x 16 pixels per
//                      invocation, each x vec4 loaded once for all the taps it meets.
//   subpixel_weights   the sub-pixel dx's per-class weights: with them, forward_vec4_cin4 /
//                      forward_cout1 compute dx one class of pixels (ih mod sh, iw mod sw) at a
//                      time, storing through the output placement (Dims ya..yw, put_y4).
//   backward_dx_naive  any shape; invocation (ci, input pixel) writes dx[pixel, ci].
//   backward_dx_vec4   Cout % 4 == 0; invocation (gid.x, gid.y) writes a grid of 16 input
//                      pixels (4 x 4, 2 x 8 or 1 x 16; rows and columns congruent modulo the
//                      strides; see the kernel) x in channels [16 gid.x, +16) (clipped), reducing
//                      over (kh, kw, Cout) with Cout read as vec4s.
//   backward_dx_vec4_c8  Cout % 4 == 0 and 16 <= Cin <= 32; as backward_dx_vec4 with 8 in
//                      channels per invocation.
//   backward_dx_narrow Cout % 4 == 0 and Cin < 16; four pixels of a row x one in channel per
//                      workgroup row of four lanes (dot products along Cout, split in four).
//   backward_dw_naive  any shape; invocation (co, r) writes dw[r, co], r = (kh KW + kw) Cin + ci.
//   backward_dw_vec4   Cout % 4 == 0; invocation (gid.x, gid.y, gid.z) writes rows r in
//                      [4 gid.y, +4) x channels [16 gid.x, +16) (clipped) of image chunk gid.z's
//                      dw: an implicit GEMM over the chunk's pixels.
//   backward_dw_cin1_k3  Cin == 1, 3x3 kernel, Cout % 4 == 0: output rows of a chunk x 16 channels
//                      per invocation, the nine taps' sums in registers; partials reduced.
//   backward_dw_vec4_cin4  Cout % 4 == 0 and Cin % 4 == 0; as backward_dw_vec4 with 16 rows
//                      per invocation, x read as vec4s, four pixels per step.
//   backward_dw_vec4_cin4_c32  as backward_dw_vec4_cin4 with 16 rows x 32 channels per invocation.
//   backward_dw_vec4_cin4_r32c64, _r64c32  the same with 32 rows x 64 channels, 64 x 32.
//   reduce_splits      the vec4 dw kernels reduce over the images of one chunk (gid.z) only when
//                      the batch is split (too few invocations otherwise: (KH KW Cin / 16) x
//                      (Cout / 16)); invocation i sums the chunks' partial dw[i].
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
  splits: u32,  // dw: images are split into this many chunks, one partial dw each
  chunk: u32,   // dw: images per chunk
  gr: u32,      // backward_dx_vec4: rows of its 16-pixel grid (4, 2 or 1; 16 / gr columns)
  // The vec4 forwards' output placement (see put_y4): output pixel (n, i, j) is stored at
  // pixel (n, ya + ysh i, yb + ysw j) of a y image yh x yw; (0, 1, 0, 1, Ho, Wo) is plain.
  // subpixel_weights reads ya, yb as its class (a, r) and ysh, ysw as the strides.
  ya: u32,
  ysh: u32,
  yb: u32,
  ysw: u32,
  yh: u32,
  yw: u32,
  strip: u32,   // forward_cin1_k3: pixels of one output row per invocation; dw_cin1: rows
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(0) var<storage, read_write> dw4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> db: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> dims: Dims;

const LANES = vec4u(0u, 1u, 2u, 3u);

// forward_vec4_cin4's workgroup: 4 x 16 by default; 2 x 32 when Cout = 32 (two 16-channel
// blocks), where a width of 4 would leave half the lanes idle.
override FWD_WX: u32 = 4u;
override FWD_WY: u32 = 16u;

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

// y row (pixel) p, vec4 channels c .. c + 3 (clipped), plus the bias. With a placement other
// than the plain one (the sub-pixel input gradient, see backward_dx_subpixel in conv2d.ts),
// pixel p = (n, i, j) goes to (n, ya + ysh i, yb + ysw j) of a yh x yw image.
fn put_y4(p: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.cout / 4u;
  if (p >= dims.batch * dims.ho * dims.wo) { return; }
  var q = p;
  if (dims.ysh != 1u || dims.ysw != 1u || dims.yh != dims.ho || dims.yw != dims.wo) {
    let hw = dims.ho * dims.wo;
    let i = (p % hw) / dims.wo;
    let j = p % dims.wo;
    q = ((p / hw) * dims.yh + dims.ya + dims.ysh * i) * dims.yw + dims.yb + dims.ysw * j;
  }
  let o = q * n4 + c;
  if (c < n4) { y4[o] = v0 + b4[c]; }
  if (c + 1u < n4) { y4[o + 1u] = v1 + b4[c + 1u]; }
  if (c + 2u < n4) { y4[o + 2u] = v2 + b4[c + 2u]; }
  if (c + 3u < n4) { y4[o + 3u] = v3 + b4[c + 3u]; }
}

// Any Cin: 16 pixels (four groups g of four) x 16 channels per invocation, reducing over the
// rows r = (kh KW + kw) Cin + ci of w four at a time (with Cin = 1 a step spans four taps):
//   a{g}{j} += Wj X{g},  Wj columns = w rows r0 + i at channel vec4 cb + j (0 past the end),
//                        X{g} columns = group g's pixels, components x at rows r0 + i's taps,
// so column q of a{g}{j} is pixel pb + 4 g + q, components channels 4 (cb + j) + (0..3). Block
// products rather than one rank-1 update per row: four FMAs per accumulator element per step.
// Pixels past the end are clamped to the last one and not stored.
@compute @workgroup_size(4, 16)
fn forward_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n4 = dims.cout / 4u;
  let R = dims.kh * dims.kw * dims.cin;
  let P = dims.batch * dims.ho * dims.wo;
  let cb = 4u * gid.x;   // in vec4 channels
  let pb = 16u * flat_y(gid, nwg, 16u);
  if (cb >= n4 || pb >= P) { return; }
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let q0 = pixel_quad(pb, P);
  let q1 = pixel_quad(pb + 4u, P);
  let q2 = pixel_quad(pb + 8u, P);
  let q3 = pixel_quad(pb + 12u, P);
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var r0 = 0u; r0 < R; r0 += 4u) {
    let rs = min(vec4u(r0) + LANES, vec4u(R - 1u));
    let live = select(vec4f(0.0), vec4f(1.0), vec4u(r0) + LANES < vec4u(R));
    let t0 = row_tap(rs.x);
    let t1 = row_tap(rs.y);
    let t2 = row_tap(rs.z);
    let t3 = row_tap(rs.w);
    let wr = rs * n4;
    let W0 = mat4x4f(w4[wr.x + cs.x] * live.x, w4[wr.y + cs.x] * live.y,
      w4[wr.z + cs.x] * live.z, w4[wr.w + cs.x] * live.w);
    let W1 = mat4x4f(w4[wr.x + cs.y] * live.x, w4[wr.y + cs.y] * live.y,
      w4[wr.z + cs.y] * live.z, w4[wr.w + cs.y] * live.w);
    let W2 = mat4x4f(w4[wr.x + cs.z] * live.x, w4[wr.y + cs.z] * live.y,
      w4[wr.z + cs.z] * live.z, w4[wr.w + cs.z] * live.w);
    let W3 = mat4x4f(w4[wr.x + cs.w] * live.x, w4[wr.y + cs.w] * live.y,
      w4[wr.z + cs.w] * live.z, w4[wr.w + cs.w] * live.w);
    let X0 = x_rows(q0, t0, t1, t2, t3);
    let X1 = x_rows(q1, t0, t1, t2, t3);
    let X2 = x_rows(q2, t0, t1, t2, t3);
    let X3 = x_rows(q3, t0, t1, t2, t3);
    a00 += W0 * X0; a01 += W1 * X0; a02 += W2 * X0; a03 += W3 * X0;
    a10 += W0 * X1; a11 += W1 * X1; a12 += W2 * X1; a13 += W3 * X1;
    a20 += W0 * X2; a21 += W1 * X2; a22 += W2 * X2; a23 += W3 * X2;
    a30 += W0 * X3; a31 += W1 * X3; a32 += W2 * X3; a33 += W3 * X3;
  }
  put_y4(pb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_y4(pb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_y4(pb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_y4(pb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_y4(pb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_y4(pb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_y4(pb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_y4(pb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_y4(pb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_y4(pb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_y4(pb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_y4(pb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_y4(pb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_y4(pb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_y4(pb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_y4(pb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// One in channel and a 3x3 kernel (the first layer of an image encoder, and the input gradient
// of a decoder's last transposed layer), where forward_vec4's blocks would reduce over 9 rows in
// steps of 4 and read x through scattered gathers. On llvmpipe every load or store of a storage
// buffer whose address differs per invocation is a loop over the SIMD lanes, so the cost is the
// number of values loaded and stored, not the multiply-adds: here an invocation loads its 16
// channels' 3x3 filter bank once (nine 4x4 matrices, column j = channel vec4 cb + j of tap
// (kh, kw)) and then, per output pixel of its strip, reads the 9 x values and writes 16 y values:
//   y[p, 4 (cb + j) + (0..3)] = b + sum_{kh, kw} W{kh kw}[j] x[tap (kh, kw) of p]   (0 if padding)
// Invocation i (1-D grid, see grid1d) = strip s nb + block (nb = ceil(Cout / 16)) writes
// dims.strip consecutive pixels of one output row (clipped to Wo) at channels [16 cb, +16)
// (clipped to Cout), stored through the output placement (put_y4).
@compute @workgroup_size(64)
fn forward_cin1_k3(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n4 = dims.cout / 4u;
  let nb = (n4 + 3u) / 4u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let strips = (dims.wo + dims.strip - 1u) / dims.strip;
  let s = i / nb;
  if (s >= dims.batch * dims.ho * strips) { return; }
  let cb = 4u * (i % nb);   // in vec4 channels
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let W00 = tap_weights(0u, cs); let W01 = tap_weights(1u, cs); let W02 = tap_weights(2u, cs);
  let W10 = tap_weights(3u, cs); let W11 = tap_weights(4u, cs); let W12 = tap_weights(5u, cs);
  let W20 = tap_weights(6u, cs); let W21 = tap_weights(7u, cs); let W22 = tap_weights(8u, cs);
  let row = s / strips;   // n Ho + oh
  let n = row / dims.ho;
  let ih = vec3i(i32((row % dims.ho) * dims.sh) - i32(dims.pt)) + vec3i(0, 1, 2);
  let hok = (ih >= vec3i(0)) & (ih < vec3i(i32(dims.height)));
  let xrow = (vec3i(i32(n * dims.height)) + ih) * i32(dims.width);
  let ow0 = (s % strips) * dims.strip;
  let ow1 = min(ow0 + dims.strip, dims.wo);
  for (var ow = ow0; ow < ow1; ow++) {
    let iw = vec3i(i32(ow * dims.sw) - i32(dims.pl)) + vec3i(0, 1, 2);
    let wok = (iw >= vec3i(0)) & (iw < vec3i(i32(dims.width)));
    let r0 = x_row3(xrow.x + iw, wok & vec3<bool>(hok.x));
    let r1 = x_row3(xrow.y + iw, wok & vec3<bool>(hok.y));
    let r2 = x_row3(xrow.z + iw, wok & vec3<bool>(hok.z));
    var a = mat4x4f();
    a = tap_fma(a, W00, r0.x); a = tap_fma(a, W01, r0.y); a = tap_fma(a, W02, r0.z);
    a = tap_fma(a, W10, r1.x); a = tap_fma(a, W11, r1.y); a = tap_fma(a, W12, r1.z);
    a = tap_fma(a, W20, r2.x); a = tap_fma(a, W21, r2.y); a = tap_fma(a, W22, r2.z);
    put_y4(row * dims.wo + ow, cb, a[0], a[1], a[2], a[3]);
  }
}

// w rows of tap t (one in channel: row t) at channel vec4s cs, as the columns of a matrix.
fn tap_weights(t: u32, cs: vec4u) -> mat4x4f {
  let o = t * (dims.cout / 4u);
  return mat4x4f(w4[o + cs.x], w4[o + cs.y], w4[o + cs.z], w4[o + cs.w]);
}

// x at three flat pixels (one in channel), 0 where not ok (padding, which reads x[0] instead).
fn x_row3(o: vec3i, ok: vec3<bool>) -> vec3f {
  let xo = select(vec3u(0u), vec3u(o), ok);
  return select(vec3f(0.0), vec3f(x[xo.x], x[xo.y], x[xo.z]), ok);
}

// a + W v: every column gains its weights times the tap's x value.
fn tap_fma(a: mat4x4f, W: mat4x4f, v: f32) -> mat4x4f {
  let s = vec4f(v);
  return mat4x4f(fma(W[0], s, a[0]), fma(W[1], s, a[1]), fma(W[2], s, a[2]), fma(W[3], s, a[3]));
}

// X: column q is pixel q of the quad, component i is x at row i's tap (kh, kw, ci) = t{i}
// (0 where that tap is padding).
fn x_rows(q: PixelQuad, t0: vec3u, t1: vec3u, t2: vec3u, t3: vec3u) -> mat4x4f {
  // Row i's values over the four pixels, then transposed.
  return transpose(mat4x4f(
    x_at(tap_offsets(q, t0.x, t0.y), t0.z),
    x_at(tap_offsets(q, t1.x, t1.y), t1.z),
    x_at(tap_offsets(q, t2.x, t2.y), t2.z),
    x_at(tap_offsets(q, t3.x, t3.y), t3.z),
  ));
}

// x[pixel q's tap, ci] of four pixels (offsets from tap_offsets, -1 for padding, read as 0).
fn x_at(o: vec4i, ci: u32) -> vec4f {
  let ok = o >= vec4i(0);
  let xo = select(vec4u(0u), vec4u(o) * dims.cin + ci, ok);
  return select(vec4f(0.0), vec4f(x[xo.x], x[xo.y], x[xo.z], x[xo.w]), ok);
}

// As forward_vec4, for Cin % 4 == 0 too, with 16 pixels (four groups g of four) per invocation:
// the reduction over ci steps four at a time, x read as vec4s, and each step is sixteen 4x4
// matrix products (dense.wgsl's forward_vec4 block: 4 weight and 4 x matrices loaded per 16
// products, and four FMAs per accumulator element per step):
//   a{g}{j} += Wj X{g},  Wj columns = w rows (kh, kw, 4 k + i), vec4 channel cb + j;
//                        X{g} columns = x of group g's four pixels' tap, vec4 k (0 if padding).
// Pixels past the end are clamped to the last one and not stored.
@compute @workgroup_size(FWD_WX, FWD_WY)
fn forward_vec4_cin4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let cb = 4u * gid.x;   // in vec4 channels
  let pb = 16u * flat_y(gid, nwg, FWD_WY);
  if (cb >= n4 || pb >= P) { return; }
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let q0 = pixel_quad(pb, P);
  let q1 = pixel_quad(pb + 4u, P);
  let q2 = pixel_quad(pb + 8u, P);
  let q3 = pixel_quad(pb + 12u, P);
  let wl = LANES * n4;
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    for (var kw = 0u; kw < dims.kw; kw++) {
      // Padding taps read x4[k] (valid) and are masked to 0.
      let o0 = tap_offsets(q0, kh, kw);
      let o1 = tap_offsets(q1, kh, kw);
      let o2 = tap_offsets(q2, kh, kw);
      let o3 = tap_offsets(q3, kh, kw);
      let x0 = vec4u(max(o0, vec4i(0))) * c4;
      let x1 = vec4u(max(o1, vec4i(0))) * c4;
      let x2 = vec4u(max(o2, vec4i(0))) * c4;
      let x3 = vec4u(max(o3, vec4i(0))) * c4;
      let m0 = select(vec4f(0.0), vec4f(1.0), o0 >= vec4i(0));
      let m1 = select(vec4f(0.0), vec4f(1.0), o1 >= vec4i(0));
      let m2 = select(vec4f(0.0), vec4f(1.0), o2 >= vec4i(0));
      let m3 = select(vec4f(0.0), vec4f(1.0), o3 >= vec4i(0));
      let r0 = (kh * dims.kw + kw) * dims.cin;
      for (var k = 0u; k < c4; k++) {
        let wr = vec4u((r0 + 4u * k) * n4) + wl;
        let W0 = mat4x4f(w4[wr.x + cs.x], w4[wr.y + cs.x], w4[wr.z + cs.x], w4[wr.w + cs.x]);
        let W1 = mat4x4f(w4[wr.x + cs.y], w4[wr.y + cs.y], w4[wr.z + cs.y], w4[wr.w + cs.y]);
        let W2 = mat4x4f(w4[wr.x + cs.z], w4[wr.y + cs.z], w4[wr.z + cs.z], w4[wr.w + cs.z]);
        let W3 = mat4x4f(w4[wr.x + cs.w], w4[wr.y + cs.w], w4[wr.z + cs.w], w4[wr.w + cs.w]);
        let X0 = mat4x4f(x4[x0.x + k] * m0.x, x4[x0.y + k] * m0.y, x4[x0.z + k] * m0.z,
          x4[x0.w + k] * m0.w);
        let X1 = mat4x4f(x4[x1.x + k] * m1.x, x4[x1.y + k] * m1.y, x4[x1.z + k] * m1.z,
          x4[x1.w + k] * m1.w);
        let X2 = mat4x4f(x4[x2.x + k] * m2.x, x4[x2.y + k] * m2.y, x4[x2.z + k] * m2.z,
          x4[x2.w + k] * m2.w);
        let X3 = mat4x4f(x4[x3.x + k] * m3.x, x4[x3.y + k] * m3.y, x4[x3.z + k] * m3.z,
          x4[x3.w + k] * m3.w);
        a00 += W0 * X0; a01 += W1 * X0; a02 += W2 * X0; a03 += W3 * X0;
        a10 += W0 * X1; a11 += W1 * X1; a12 += W2 * X1; a13 += W3 * X1;
        a20 += W0 * X2; a21 += W1 * X2; a22 += W2 * X2; a23 += W3 * X2;
        a30 += W0 * X3; a31 += W1 * X3; a32 += W2 * X3; a33 += W3 * X3;
      }
    }
  }
  put_y4(pb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_y4(pb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_y4(pb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_y4(pb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_y4(pb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_y4(pb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_y4(pb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_y4(pb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_y4(pb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_y4(pb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_y4(pb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_y4(pb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_y4(pb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_y4(pb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_y4(pb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_y4(pb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// As forward_vec4_cin4 with 32 out channels per invocation (16 pixels x 32 channels, 32 matrix
// accumulators a{g}{j}, j = 0..7 over channel vec4s cb + j): per step 16 vec4s of x and 32 of w
// feed 32 block products, 2048 multiply-adds for 192 loaded values against 1024 for 128, and on
// llvmpipe a load whose address differs per invocation costs far more than a multiply-add (a
// loop over the SIMD lanes). Invocation i (1-D grid, see grid1d) = pixel block (i / nb) x channel
// block i % nb, nb = ceil(Cout / 32).
@compute @workgroup_size(64)
fn forward_vec4_cin4_c32(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let nb = (n4 + 7u) / 8u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let pb = 16u * (i / nb);
  if (pb >= P) { return; }
  let cb = 8u * (i % nb);   // in vec4 channels
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let ct = min(vec4u(cb + 4u) + LANES, vec4u(n4 - 1u));
  let q0 = pixel_quad(pb, P);
  let q1 = pixel_quad(pb + 4u, P);
  let q2 = pixel_quad(pb + 8u, P);
  let q3 = pixel_quad(pb + 12u, P);
  let wl = LANES * n4;
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a04 = mat4x4f(); var a05 = mat4x4f(); var a06 = mat4x4f(); var a07 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a14 = mat4x4f(); var a15 = mat4x4f(); var a16 = mat4x4f(); var a17 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a24 = mat4x4f(); var a25 = mat4x4f(); var a26 = mat4x4f(); var a27 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  var a34 = mat4x4f(); var a35 = mat4x4f(); var a36 = mat4x4f(); var a37 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    for (var kw = 0u; kw < dims.kw; kw++) {
      // Padding taps read x4[k] (valid) and are masked to 0.
      let o0 = tap_offsets(q0, kh, kw);
      let o1 = tap_offsets(q1, kh, kw);
      let o2 = tap_offsets(q2, kh, kw);
      let o3 = tap_offsets(q3, kh, kw);
      let x0 = vec4u(max(o0, vec4i(0))) * c4;
      let x1 = vec4u(max(o1, vec4i(0))) * c4;
      let x2 = vec4u(max(o2, vec4i(0))) * c4;
      let x3 = vec4u(max(o3, vec4i(0))) * c4;
      let m0 = select(vec4f(0.0), vec4f(1.0), o0 >= vec4i(0));
      let m1 = select(vec4f(0.0), vec4f(1.0), o1 >= vec4i(0));
      let m2 = select(vec4f(0.0), vec4f(1.0), o2 >= vec4i(0));
      let m3 = select(vec4f(0.0), vec4f(1.0), o3 >= vec4i(0));
      let r0 = (kh * dims.kw + kw) * dims.cin;
      for (var k = 0u; k < c4; k++) {
        let wr = vec4u((r0 + 4u * k) * n4) + wl;
        let W0 = mat4x4f(w4[wr.x + cs.x], w4[wr.y + cs.x], w4[wr.z + cs.x], w4[wr.w + cs.x]);
        let W1 = mat4x4f(w4[wr.x + cs.y], w4[wr.y + cs.y], w4[wr.z + cs.y], w4[wr.w + cs.y]);
        let W2 = mat4x4f(w4[wr.x + cs.z], w4[wr.y + cs.z], w4[wr.z + cs.z], w4[wr.w + cs.z]);
        let W3 = mat4x4f(w4[wr.x + cs.w], w4[wr.y + cs.w], w4[wr.z + cs.w], w4[wr.w + cs.w]);
        let W4 = mat4x4f(w4[wr.x + ct.x], w4[wr.y + ct.x], w4[wr.z + ct.x], w4[wr.w + ct.x]);
        let W5 = mat4x4f(w4[wr.x + ct.y], w4[wr.y + ct.y], w4[wr.z + ct.y], w4[wr.w + ct.y]);
        let W6 = mat4x4f(w4[wr.x + ct.z], w4[wr.y + ct.z], w4[wr.z + ct.z], w4[wr.w + ct.z]);
        let W7 = mat4x4f(w4[wr.x + ct.w], w4[wr.y + ct.w], w4[wr.z + ct.w], w4[wr.w + ct.w]);
        let X0 = mat4x4f(x4[x0.x + k] * m0.x, x4[x0.y + k] * m0.y, x4[x0.z + k] * m0.z,
          x4[x0.w + k] * m0.w);
        let X1 = mat4x4f(x4[x1.x + k] * m1.x, x4[x1.y + k] * m1.y, x4[x1.z + k] * m1.z,
          x4[x1.w + k] * m1.w);
        let X2 = mat4x4f(x4[x2.x + k] * m2.x, x4[x2.y + k] * m2.y, x4[x2.z + k] * m2.z,
          x4[x2.w + k] * m2.w);
        let X3 = mat4x4f(x4[x3.x + k] * m3.x, x4[x3.y + k] * m3.y, x4[x3.z + k] * m3.z,
          x4[x3.w + k] * m3.w);
        a00 += W0 * X0; a01 += W1 * X0; a02 += W2 * X0; a03 += W3 * X0;
        a04 += W4 * X0; a05 += W5 * X0; a06 += W6 * X0; a07 += W7 * X0;
        a10 += W0 * X1; a11 += W1 * X1; a12 += W2 * X1; a13 += W3 * X1;
        a14 += W4 * X1; a15 += W5 * X1; a16 += W6 * X1; a17 += W7 * X1;
        a20 += W0 * X2; a21 += W1 * X2; a22 += W2 * X2; a23 += W3 * X2;
        a24 += W4 * X2; a25 += W5 * X2; a26 += W6 * X2; a27 += W7 * X2;
        a30 += W0 * X3; a31 += W1 * X3; a32 += W2 * X3; a33 += W3 * X3;
        a34 += W4 * X3; a35 += W5 * X3; a36 += W6 * X3; a37 += W7 * X3;
      }
    }
  }
  put_y4(pb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_y4(pb + 0u, cb + 4u, a04[0], a05[0], a06[0], a07[0]);
  put_y4(pb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_y4(pb + 1u, cb + 4u, a04[1], a05[1], a06[1], a07[1]);
  put_y4(pb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_y4(pb + 2u, cb + 4u, a04[2], a05[2], a06[2], a07[2]);
  put_y4(pb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_y4(pb + 3u, cb + 4u, a04[3], a05[3], a06[3], a07[3]);
  put_y4(pb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_y4(pb + 4u, cb + 4u, a14[0], a15[0], a16[0], a17[0]);
  put_y4(pb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_y4(pb + 5u, cb + 4u, a14[1], a15[1], a16[1], a17[1]);
  put_y4(pb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_y4(pb + 6u, cb + 4u, a14[2], a15[2], a16[2], a17[2]);
  put_y4(pb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_y4(pb + 7u, cb + 4u, a14[3], a15[3], a16[3], a17[3]);
  put_y4(pb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_y4(pb + 8u, cb + 4u, a24[0], a25[0], a26[0], a27[0]);
  put_y4(pb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_y4(pb + 9u, cb + 4u, a24[1], a25[1], a26[1], a27[1]);
  put_y4(pb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_y4(pb + 10u, cb + 4u, a24[2], a25[2], a26[2], a27[2]);
  put_y4(pb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_y4(pb + 11u, cb + 4u, a24[3], a25[3], a26[3], a27[3]);
  put_y4(pb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_y4(pb + 12u, cb + 4u, a34[0], a35[0], a36[0], a37[0]);
  put_y4(pb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_y4(pb + 13u, cb + 4u, a34[1], a35[1], a36[1], a37[1]);
  put_y4(pb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_y4(pb + 14u, cb + 4u, a34[2], a35[2], a36[2], a37[2]);
  put_y4(pb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
  put_y4(pb + 15u, cb + 4u, a34[3], a35[3], a36[3], a37[3]);
}

// As forward_vec4_cin4_c32 with 64 pixels per invocation (sixteen quads g x 8 channel vec4s j,
// 128 matrix accumulators a{g}_{j}): per step 64 vec4s of x and 32 of w feed 128 block
// products, 8192 multiply-adds for 384 loaded values (the accumulators spill to the stack, which
// llvmpipe reads far faster than a per-lane storage load). Invocation i (1-D grid) = pixel
// block (i / nb) x channel block i % nb, nb = ceil(Cout / 32).
@compute @workgroup_size(64)
fn forward_vec4_cin4_p64(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let nb = (n4 + 7u) / 8u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let pb = 64u * (i / nb);
  if (pb >= P) { return; }
  let cb = 8u * (i % nb);   // in vec4 channels
  let cs0 = min(vec4u(cb + 0u) + LANES, vec4u(n4 - 1u));
  let cs1 = min(vec4u(cb + 4u) + LANES, vec4u(n4 - 1u));
  let q0 = pixel_quad(pb + 0u, P);
  let q1 = pixel_quad(pb + 4u, P);
  let q2 = pixel_quad(pb + 8u, P);
  let q3 = pixel_quad(pb + 12u, P);
  let q4 = pixel_quad(pb + 16u, P);
  let q5 = pixel_quad(pb + 20u, P);
  let q6 = pixel_quad(pb + 24u, P);
  let q7 = pixel_quad(pb + 28u, P);
  let q8 = pixel_quad(pb + 32u, P);
  let q9 = pixel_quad(pb + 36u, P);
  let q10 = pixel_quad(pb + 40u, P);
  let q11 = pixel_quad(pb + 44u, P);
  let q12 = pixel_quad(pb + 48u, P);
  let q13 = pixel_quad(pb + 52u, P);
  let q14 = pixel_quad(pb + 56u, P);
  let q15 = pixel_quad(pb + 60u, P);
  let wl = LANES * n4;
  var a0_0 = mat4x4f(); var a0_1 = mat4x4f(); var a0_2 = mat4x4f(); var a0_3 = mat4x4f();
  var a0_4 = mat4x4f(); var a0_5 = mat4x4f(); var a0_6 = mat4x4f(); var a0_7 = mat4x4f();
  var a1_0 = mat4x4f(); var a1_1 = mat4x4f(); var a1_2 = mat4x4f(); var a1_3 = mat4x4f();
  var a1_4 = mat4x4f(); var a1_5 = mat4x4f(); var a1_6 = mat4x4f(); var a1_7 = mat4x4f();
  var a2_0 = mat4x4f(); var a2_1 = mat4x4f(); var a2_2 = mat4x4f(); var a2_3 = mat4x4f();
  var a2_4 = mat4x4f(); var a2_5 = mat4x4f(); var a2_6 = mat4x4f(); var a2_7 = mat4x4f();
  var a3_0 = mat4x4f(); var a3_1 = mat4x4f(); var a3_2 = mat4x4f(); var a3_3 = mat4x4f();
  var a3_4 = mat4x4f(); var a3_5 = mat4x4f(); var a3_6 = mat4x4f(); var a3_7 = mat4x4f();
  var a4_0 = mat4x4f(); var a4_1 = mat4x4f(); var a4_2 = mat4x4f(); var a4_3 = mat4x4f();
  var a4_4 = mat4x4f(); var a4_5 = mat4x4f(); var a4_6 = mat4x4f(); var a4_7 = mat4x4f();
  var a5_0 = mat4x4f(); var a5_1 = mat4x4f(); var a5_2 = mat4x4f(); var a5_3 = mat4x4f();
  var a5_4 = mat4x4f(); var a5_5 = mat4x4f(); var a5_6 = mat4x4f(); var a5_7 = mat4x4f();
  var a6_0 = mat4x4f(); var a6_1 = mat4x4f(); var a6_2 = mat4x4f(); var a6_3 = mat4x4f();
  var a6_4 = mat4x4f(); var a6_5 = mat4x4f(); var a6_6 = mat4x4f(); var a6_7 = mat4x4f();
  var a7_0 = mat4x4f(); var a7_1 = mat4x4f(); var a7_2 = mat4x4f(); var a7_3 = mat4x4f();
  var a7_4 = mat4x4f(); var a7_5 = mat4x4f(); var a7_6 = mat4x4f(); var a7_7 = mat4x4f();
  var a8_0 = mat4x4f(); var a8_1 = mat4x4f(); var a8_2 = mat4x4f(); var a8_3 = mat4x4f();
  var a8_4 = mat4x4f(); var a8_5 = mat4x4f(); var a8_6 = mat4x4f(); var a8_7 = mat4x4f();
  var a9_0 = mat4x4f(); var a9_1 = mat4x4f(); var a9_2 = mat4x4f(); var a9_3 = mat4x4f();
  var a9_4 = mat4x4f(); var a9_5 = mat4x4f(); var a9_6 = mat4x4f(); var a9_7 = mat4x4f();
  var a10_0 = mat4x4f(); var a10_1 = mat4x4f(); var a10_2 = mat4x4f(); var a10_3 = mat4x4f();
  var a10_4 = mat4x4f(); var a10_5 = mat4x4f(); var a10_6 = mat4x4f(); var a10_7 = mat4x4f();
  var a11_0 = mat4x4f(); var a11_1 = mat4x4f(); var a11_2 = mat4x4f(); var a11_3 = mat4x4f();
  var a11_4 = mat4x4f(); var a11_5 = mat4x4f(); var a11_6 = mat4x4f(); var a11_7 = mat4x4f();
  var a12_0 = mat4x4f(); var a12_1 = mat4x4f(); var a12_2 = mat4x4f(); var a12_3 = mat4x4f();
  var a12_4 = mat4x4f(); var a12_5 = mat4x4f(); var a12_6 = mat4x4f(); var a12_7 = mat4x4f();
  var a13_0 = mat4x4f(); var a13_1 = mat4x4f(); var a13_2 = mat4x4f(); var a13_3 = mat4x4f();
  var a13_4 = mat4x4f(); var a13_5 = mat4x4f(); var a13_6 = mat4x4f(); var a13_7 = mat4x4f();
  var a14_0 = mat4x4f(); var a14_1 = mat4x4f(); var a14_2 = mat4x4f(); var a14_3 = mat4x4f();
  var a14_4 = mat4x4f(); var a14_5 = mat4x4f(); var a14_6 = mat4x4f(); var a14_7 = mat4x4f();
  var a15_0 = mat4x4f(); var a15_1 = mat4x4f(); var a15_2 = mat4x4f(); var a15_3 = mat4x4f();
  var a15_4 = mat4x4f(); var a15_5 = mat4x4f(); var a15_6 = mat4x4f(); var a15_7 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    for (var kw = 0u; kw < dims.kw; kw++) {
      let o0 = tap_offsets(q0, kh, kw);
      let xo0 = vec4u(max(o0, vec4i(0))) * c4;
      let m0 = select(vec4f(0.0), vec4f(1.0), o0 >= vec4i(0));
      let o1 = tap_offsets(q1, kh, kw);
      let xo1 = vec4u(max(o1, vec4i(0))) * c4;
      let m1 = select(vec4f(0.0), vec4f(1.0), o1 >= vec4i(0));
      let o2 = tap_offsets(q2, kh, kw);
      let xo2 = vec4u(max(o2, vec4i(0))) * c4;
      let m2 = select(vec4f(0.0), vec4f(1.0), o2 >= vec4i(0));
      let o3 = tap_offsets(q3, kh, kw);
      let xo3 = vec4u(max(o3, vec4i(0))) * c4;
      let m3 = select(vec4f(0.0), vec4f(1.0), o3 >= vec4i(0));
      let o4 = tap_offsets(q4, kh, kw);
      let xo4 = vec4u(max(o4, vec4i(0))) * c4;
      let m4 = select(vec4f(0.0), vec4f(1.0), o4 >= vec4i(0));
      let o5 = tap_offsets(q5, kh, kw);
      let xo5 = vec4u(max(o5, vec4i(0))) * c4;
      let m5 = select(vec4f(0.0), vec4f(1.0), o5 >= vec4i(0));
      let o6 = tap_offsets(q6, kh, kw);
      let xo6 = vec4u(max(o6, vec4i(0))) * c4;
      let m6 = select(vec4f(0.0), vec4f(1.0), o6 >= vec4i(0));
      let o7 = tap_offsets(q7, kh, kw);
      let xo7 = vec4u(max(o7, vec4i(0))) * c4;
      let m7 = select(vec4f(0.0), vec4f(1.0), o7 >= vec4i(0));
      let o8 = tap_offsets(q8, kh, kw);
      let xo8 = vec4u(max(o8, vec4i(0))) * c4;
      let m8 = select(vec4f(0.0), vec4f(1.0), o8 >= vec4i(0));
      let o9 = tap_offsets(q9, kh, kw);
      let xo9 = vec4u(max(o9, vec4i(0))) * c4;
      let m9 = select(vec4f(0.0), vec4f(1.0), o9 >= vec4i(0));
      let o10 = tap_offsets(q10, kh, kw);
      let xo10 = vec4u(max(o10, vec4i(0))) * c4;
      let m10 = select(vec4f(0.0), vec4f(1.0), o10 >= vec4i(0));
      let o11 = tap_offsets(q11, kh, kw);
      let xo11 = vec4u(max(o11, vec4i(0))) * c4;
      let m11 = select(vec4f(0.0), vec4f(1.0), o11 >= vec4i(0));
      let o12 = tap_offsets(q12, kh, kw);
      let xo12 = vec4u(max(o12, vec4i(0))) * c4;
      let m12 = select(vec4f(0.0), vec4f(1.0), o12 >= vec4i(0));
      let o13 = tap_offsets(q13, kh, kw);
      let xo13 = vec4u(max(o13, vec4i(0))) * c4;
      let m13 = select(vec4f(0.0), vec4f(1.0), o13 >= vec4i(0));
      let o14 = tap_offsets(q14, kh, kw);
      let xo14 = vec4u(max(o14, vec4i(0))) * c4;
      let m14 = select(vec4f(0.0), vec4f(1.0), o14 >= vec4i(0));
      let o15 = tap_offsets(q15, kh, kw);
      let xo15 = vec4u(max(o15, vec4i(0))) * c4;
      let m15 = select(vec4f(0.0), vec4f(1.0), o15 >= vec4i(0));
      let r0 = (kh * dims.kw + kw) * dims.cin;
      for (var k = 0u; k < c4; k++) {
        let wr = vec4u((r0 + 4u * k) * n4) + wl;
        let W0 = mat4x4f(w4[wr.x + cs0.x], w4[wr.y + cs0.x], w4[wr.z + cs0.x],
          w4[wr.w + cs0.x]);
        let W1 = mat4x4f(w4[wr.x + cs0.y], w4[wr.y + cs0.y], w4[wr.z + cs0.y],
          w4[wr.w + cs0.y]);
        let W2 = mat4x4f(w4[wr.x + cs0.z], w4[wr.y + cs0.z], w4[wr.z + cs0.z],
          w4[wr.w + cs0.z]);
        let W3 = mat4x4f(w4[wr.x + cs0.w], w4[wr.y + cs0.w], w4[wr.z + cs0.w],
          w4[wr.w + cs0.w]);
        let W4 = mat4x4f(w4[wr.x + cs1.x], w4[wr.y + cs1.x], w4[wr.z + cs1.x],
          w4[wr.w + cs1.x]);
        let W5 = mat4x4f(w4[wr.x + cs1.y], w4[wr.y + cs1.y], w4[wr.z + cs1.y],
          w4[wr.w + cs1.y]);
        let W6 = mat4x4f(w4[wr.x + cs1.z], w4[wr.y + cs1.z], w4[wr.z + cs1.z],
          w4[wr.w + cs1.z]);
        let W7 = mat4x4f(w4[wr.x + cs1.w], w4[wr.y + cs1.w], w4[wr.z + cs1.w],
          w4[wr.w + cs1.w]);
        let X0 = mat4x4f(x4[xo0.x + k] * m0.x, x4[xo0.y + k] * m0.y, x4[xo0.z + k] * m0.z,
          x4[xo0.w + k] * m0.w);
        let X1 = mat4x4f(x4[xo1.x + k] * m1.x, x4[xo1.y + k] * m1.y, x4[xo1.z + k] * m1.z,
          x4[xo1.w + k] * m1.w);
        let X2 = mat4x4f(x4[xo2.x + k] * m2.x, x4[xo2.y + k] * m2.y, x4[xo2.z + k] * m2.z,
          x4[xo2.w + k] * m2.w);
        let X3 = mat4x4f(x4[xo3.x + k] * m3.x, x4[xo3.y + k] * m3.y, x4[xo3.z + k] * m3.z,
          x4[xo3.w + k] * m3.w);
        let X4 = mat4x4f(x4[xo4.x + k] * m4.x, x4[xo4.y + k] * m4.y, x4[xo4.z + k] * m4.z,
          x4[xo4.w + k] * m4.w);
        let X5 = mat4x4f(x4[xo5.x + k] * m5.x, x4[xo5.y + k] * m5.y, x4[xo5.z + k] * m5.z,
          x4[xo5.w + k] * m5.w);
        let X6 = mat4x4f(x4[xo6.x + k] * m6.x, x4[xo6.y + k] * m6.y, x4[xo6.z + k] * m6.z,
          x4[xo6.w + k] * m6.w);
        let X7 = mat4x4f(x4[xo7.x + k] * m7.x, x4[xo7.y + k] * m7.y, x4[xo7.z + k] * m7.z,
          x4[xo7.w + k] * m7.w);
        let X8 = mat4x4f(x4[xo8.x + k] * m8.x, x4[xo8.y + k] * m8.y, x4[xo8.z + k] * m8.z,
          x4[xo8.w + k] * m8.w);
        let X9 = mat4x4f(x4[xo9.x + k] * m9.x, x4[xo9.y + k] * m9.y, x4[xo9.z + k] * m9.z,
          x4[xo9.w + k] * m9.w);
        let X10 = mat4x4f(x4[xo10.x + k] * m10.x, x4[xo10.y + k] * m10.y, x4[xo10.z + k] * m10.z,
          x4[xo10.w + k] * m10.w);
        let X11 = mat4x4f(x4[xo11.x + k] * m11.x, x4[xo11.y + k] * m11.y, x4[xo11.z + k] * m11.z,
          x4[xo11.w + k] * m11.w);
        let X12 = mat4x4f(x4[xo12.x + k] * m12.x, x4[xo12.y + k] * m12.y, x4[xo12.z + k] * m12.z,
          x4[xo12.w + k] * m12.w);
        let X13 = mat4x4f(x4[xo13.x + k] * m13.x, x4[xo13.y + k] * m13.y, x4[xo13.z + k] * m13.z,
          x4[xo13.w + k] * m13.w);
        let X14 = mat4x4f(x4[xo14.x + k] * m14.x, x4[xo14.y + k] * m14.y, x4[xo14.z + k] * m14.z,
          x4[xo14.w + k] * m14.w);
        let X15 = mat4x4f(x4[xo15.x + k] * m15.x, x4[xo15.y + k] * m15.y, x4[xo15.z + k] * m15.z,
          x4[xo15.w + k] * m15.w);
        a0_0 += W0 * X0; a0_1 += W1 * X0; a0_2 += W2 * X0; a0_3 += W3 * X0;
        a0_4 += W4 * X0; a0_5 += W5 * X0; a0_6 += W6 * X0; a0_7 += W7 * X0;
        a1_0 += W0 * X1; a1_1 += W1 * X1; a1_2 += W2 * X1; a1_3 += W3 * X1;
        a1_4 += W4 * X1; a1_5 += W5 * X1; a1_6 += W6 * X1; a1_7 += W7 * X1;
        a2_0 += W0 * X2; a2_1 += W1 * X2; a2_2 += W2 * X2; a2_3 += W3 * X2;
        a2_4 += W4 * X2; a2_5 += W5 * X2; a2_6 += W6 * X2; a2_7 += W7 * X2;
        a3_0 += W0 * X3; a3_1 += W1 * X3; a3_2 += W2 * X3; a3_3 += W3 * X3;
        a3_4 += W4 * X3; a3_5 += W5 * X3; a3_6 += W6 * X3; a3_7 += W7 * X3;
        a4_0 += W0 * X4; a4_1 += W1 * X4; a4_2 += W2 * X4; a4_3 += W3 * X4;
        a4_4 += W4 * X4; a4_5 += W5 * X4; a4_6 += W6 * X4; a4_7 += W7 * X4;
        a5_0 += W0 * X5; a5_1 += W1 * X5; a5_2 += W2 * X5; a5_3 += W3 * X5;
        a5_4 += W4 * X5; a5_5 += W5 * X5; a5_6 += W6 * X5; a5_7 += W7 * X5;
        a6_0 += W0 * X6; a6_1 += W1 * X6; a6_2 += W2 * X6; a6_3 += W3 * X6;
        a6_4 += W4 * X6; a6_5 += W5 * X6; a6_6 += W6 * X6; a6_7 += W7 * X6;
        a7_0 += W0 * X7; a7_1 += W1 * X7; a7_2 += W2 * X7; a7_3 += W3 * X7;
        a7_4 += W4 * X7; a7_5 += W5 * X7; a7_6 += W6 * X7; a7_7 += W7 * X7;
        a8_0 += W0 * X8; a8_1 += W1 * X8; a8_2 += W2 * X8; a8_3 += W3 * X8;
        a8_4 += W4 * X8; a8_5 += W5 * X8; a8_6 += W6 * X8; a8_7 += W7 * X8;
        a9_0 += W0 * X9; a9_1 += W1 * X9; a9_2 += W2 * X9; a9_3 += W3 * X9;
        a9_4 += W4 * X9; a9_5 += W5 * X9; a9_6 += W6 * X9; a9_7 += W7 * X9;
        a10_0 += W0 * X10; a10_1 += W1 * X10; a10_2 += W2 * X10; a10_3 += W3 * X10;
        a10_4 += W4 * X10; a10_5 += W5 * X10; a10_6 += W6 * X10; a10_7 += W7 * X10;
        a11_0 += W0 * X11; a11_1 += W1 * X11; a11_2 += W2 * X11; a11_3 += W3 * X11;
        a11_4 += W4 * X11; a11_5 += W5 * X11; a11_6 += W6 * X11; a11_7 += W7 * X11;
        a12_0 += W0 * X12; a12_1 += W1 * X12; a12_2 += W2 * X12; a12_3 += W3 * X12;
        a12_4 += W4 * X12; a12_5 += W5 * X12; a12_6 += W6 * X12; a12_7 += W7 * X12;
        a13_0 += W0 * X13; a13_1 += W1 * X13; a13_2 += W2 * X13; a13_3 += W3 * X13;
        a13_4 += W4 * X13; a13_5 += W5 * X13; a13_6 += W6 * X13; a13_7 += W7 * X13;
        a14_0 += W0 * X14; a14_1 += W1 * X14; a14_2 += W2 * X14; a14_3 += W3 * X14;
        a14_4 += W4 * X14; a14_5 += W5 * X14; a14_6 += W6 * X14; a14_7 += W7 * X14;
        a15_0 += W0 * X15; a15_1 += W1 * X15; a15_2 += W2 * X15; a15_3 += W3 * X15;
        a15_4 += W4 * X15; a15_5 += W5 * X15; a15_6 += W6 * X15; a15_7 += W7 * X15;
      }
    }
  }
  put_y4(pb + 0u, cb, a0_0[0], a0_1[0], a0_2[0], a0_3[0]);
  put_y4(pb + 0u, cb + 4u, a0_4[0], a0_5[0], a0_6[0], a0_7[0]);
  put_y4(pb + 1u, cb, a0_0[1], a0_1[1], a0_2[1], a0_3[1]);
  put_y4(pb + 1u, cb + 4u, a0_4[1], a0_5[1], a0_6[1], a0_7[1]);
  put_y4(pb + 2u, cb, a0_0[2], a0_1[2], a0_2[2], a0_3[2]);
  put_y4(pb + 2u, cb + 4u, a0_4[2], a0_5[2], a0_6[2], a0_7[2]);
  put_y4(pb + 3u, cb, a0_0[3], a0_1[3], a0_2[3], a0_3[3]);
  put_y4(pb + 3u, cb + 4u, a0_4[3], a0_5[3], a0_6[3], a0_7[3]);
  put_y4(pb + 4u, cb, a1_0[0], a1_1[0], a1_2[0], a1_3[0]);
  put_y4(pb + 4u, cb + 4u, a1_4[0], a1_5[0], a1_6[0], a1_7[0]);
  put_y4(pb + 5u, cb, a1_0[1], a1_1[1], a1_2[1], a1_3[1]);
  put_y4(pb + 5u, cb + 4u, a1_4[1], a1_5[1], a1_6[1], a1_7[1]);
  put_y4(pb + 6u, cb, a1_0[2], a1_1[2], a1_2[2], a1_3[2]);
  put_y4(pb + 6u, cb + 4u, a1_4[2], a1_5[2], a1_6[2], a1_7[2]);
  put_y4(pb + 7u, cb, a1_0[3], a1_1[3], a1_2[3], a1_3[3]);
  put_y4(pb + 7u, cb + 4u, a1_4[3], a1_5[3], a1_6[3], a1_7[3]);
  put_y4(pb + 8u, cb, a2_0[0], a2_1[0], a2_2[0], a2_3[0]);
  put_y4(pb + 8u, cb + 4u, a2_4[0], a2_5[0], a2_6[0], a2_7[0]);
  put_y4(pb + 9u, cb, a2_0[1], a2_1[1], a2_2[1], a2_3[1]);
  put_y4(pb + 9u, cb + 4u, a2_4[1], a2_5[1], a2_6[1], a2_7[1]);
  put_y4(pb + 10u, cb, a2_0[2], a2_1[2], a2_2[2], a2_3[2]);
  put_y4(pb + 10u, cb + 4u, a2_4[2], a2_5[2], a2_6[2], a2_7[2]);
  put_y4(pb + 11u, cb, a2_0[3], a2_1[3], a2_2[3], a2_3[3]);
  put_y4(pb + 11u, cb + 4u, a2_4[3], a2_5[3], a2_6[3], a2_7[3]);
  put_y4(pb + 12u, cb, a3_0[0], a3_1[0], a3_2[0], a3_3[0]);
  put_y4(pb + 12u, cb + 4u, a3_4[0], a3_5[0], a3_6[0], a3_7[0]);
  put_y4(pb + 13u, cb, a3_0[1], a3_1[1], a3_2[1], a3_3[1]);
  put_y4(pb + 13u, cb + 4u, a3_4[1], a3_5[1], a3_6[1], a3_7[1]);
  put_y4(pb + 14u, cb, a3_0[2], a3_1[2], a3_2[2], a3_3[2]);
  put_y4(pb + 14u, cb + 4u, a3_4[2], a3_5[2], a3_6[2], a3_7[2]);
  put_y4(pb + 15u, cb, a3_0[3], a3_1[3], a3_2[3], a3_3[3]);
  put_y4(pb + 15u, cb + 4u, a3_4[3], a3_5[3], a3_6[3], a3_7[3]);
  put_y4(pb + 16u, cb, a4_0[0], a4_1[0], a4_2[0], a4_3[0]);
  put_y4(pb + 16u, cb + 4u, a4_4[0], a4_5[0], a4_6[0], a4_7[0]);
  put_y4(pb + 17u, cb, a4_0[1], a4_1[1], a4_2[1], a4_3[1]);
  put_y4(pb + 17u, cb + 4u, a4_4[1], a4_5[1], a4_6[1], a4_7[1]);
  put_y4(pb + 18u, cb, a4_0[2], a4_1[2], a4_2[2], a4_3[2]);
  put_y4(pb + 18u, cb + 4u, a4_4[2], a4_5[2], a4_6[2], a4_7[2]);
  put_y4(pb + 19u, cb, a4_0[3], a4_1[3], a4_2[3], a4_3[3]);
  put_y4(pb + 19u, cb + 4u, a4_4[3], a4_5[3], a4_6[3], a4_7[3]);
  put_y4(pb + 20u, cb, a5_0[0], a5_1[0], a5_2[0], a5_3[0]);
  put_y4(pb + 20u, cb + 4u, a5_4[0], a5_5[0], a5_6[0], a5_7[0]);
  put_y4(pb + 21u, cb, a5_0[1], a5_1[1], a5_2[1], a5_3[1]);
  put_y4(pb + 21u, cb + 4u, a5_4[1], a5_5[1], a5_6[1], a5_7[1]);
  put_y4(pb + 22u, cb, a5_0[2], a5_1[2], a5_2[2], a5_3[2]);
  put_y4(pb + 22u, cb + 4u, a5_4[2], a5_5[2], a5_6[2], a5_7[2]);
  put_y4(pb + 23u, cb, a5_0[3], a5_1[3], a5_2[3], a5_3[3]);
  put_y4(pb + 23u, cb + 4u, a5_4[3], a5_5[3], a5_6[3], a5_7[3]);
  put_y4(pb + 24u, cb, a6_0[0], a6_1[0], a6_2[0], a6_3[0]);
  put_y4(pb + 24u, cb + 4u, a6_4[0], a6_5[0], a6_6[0], a6_7[0]);
  put_y4(pb + 25u, cb, a6_0[1], a6_1[1], a6_2[1], a6_3[1]);
  put_y4(pb + 25u, cb + 4u, a6_4[1], a6_5[1], a6_6[1], a6_7[1]);
  put_y4(pb + 26u, cb, a6_0[2], a6_1[2], a6_2[2], a6_3[2]);
  put_y4(pb + 26u, cb + 4u, a6_4[2], a6_5[2], a6_6[2], a6_7[2]);
  put_y4(pb + 27u, cb, a6_0[3], a6_1[3], a6_2[3], a6_3[3]);
  put_y4(pb + 27u, cb + 4u, a6_4[3], a6_5[3], a6_6[3], a6_7[3]);
  put_y4(pb + 28u, cb, a7_0[0], a7_1[0], a7_2[0], a7_3[0]);
  put_y4(pb + 28u, cb + 4u, a7_4[0], a7_5[0], a7_6[0], a7_7[0]);
  put_y4(pb + 29u, cb, a7_0[1], a7_1[1], a7_2[1], a7_3[1]);
  put_y4(pb + 29u, cb + 4u, a7_4[1], a7_5[1], a7_6[1], a7_7[1]);
  put_y4(pb + 30u, cb, a7_0[2], a7_1[2], a7_2[2], a7_3[2]);
  put_y4(pb + 30u, cb + 4u, a7_4[2], a7_5[2], a7_6[2], a7_7[2]);
  put_y4(pb + 31u, cb, a7_0[3], a7_1[3], a7_2[3], a7_3[3]);
  put_y4(pb + 31u, cb + 4u, a7_4[3], a7_5[3], a7_6[3], a7_7[3]);
  put_y4(pb + 32u, cb, a8_0[0], a8_1[0], a8_2[0], a8_3[0]);
  put_y4(pb + 32u, cb + 4u, a8_4[0], a8_5[0], a8_6[0], a8_7[0]);
  put_y4(pb + 33u, cb, a8_0[1], a8_1[1], a8_2[1], a8_3[1]);
  put_y4(pb + 33u, cb + 4u, a8_4[1], a8_5[1], a8_6[1], a8_7[1]);
  put_y4(pb + 34u, cb, a8_0[2], a8_1[2], a8_2[2], a8_3[2]);
  put_y4(pb + 34u, cb + 4u, a8_4[2], a8_5[2], a8_6[2], a8_7[2]);
  put_y4(pb + 35u, cb, a8_0[3], a8_1[3], a8_2[3], a8_3[3]);
  put_y4(pb + 35u, cb + 4u, a8_4[3], a8_5[3], a8_6[3], a8_7[3]);
  put_y4(pb + 36u, cb, a9_0[0], a9_1[0], a9_2[0], a9_3[0]);
  put_y4(pb + 36u, cb + 4u, a9_4[0], a9_5[0], a9_6[0], a9_7[0]);
  put_y4(pb + 37u, cb, a9_0[1], a9_1[1], a9_2[1], a9_3[1]);
  put_y4(pb + 37u, cb + 4u, a9_4[1], a9_5[1], a9_6[1], a9_7[1]);
  put_y4(pb + 38u, cb, a9_0[2], a9_1[2], a9_2[2], a9_3[2]);
  put_y4(pb + 38u, cb + 4u, a9_4[2], a9_5[2], a9_6[2], a9_7[2]);
  put_y4(pb + 39u, cb, a9_0[3], a9_1[3], a9_2[3], a9_3[3]);
  put_y4(pb + 39u, cb + 4u, a9_4[3], a9_5[3], a9_6[3], a9_7[3]);
  put_y4(pb + 40u, cb, a10_0[0], a10_1[0], a10_2[0], a10_3[0]);
  put_y4(pb + 40u, cb + 4u, a10_4[0], a10_5[0], a10_6[0], a10_7[0]);
  put_y4(pb + 41u, cb, a10_0[1], a10_1[1], a10_2[1], a10_3[1]);
  put_y4(pb + 41u, cb + 4u, a10_4[1], a10_5[1], a10_6[1], a10_7[1]);
  put_y4(pb + 42u, cb, a10_0[2], a10_1[2], a10_2[2], a10_3[2]);
  put_y4(pb + 42u, cb + 4u, a10_4[2], a10_5[2], a10_6[2], a10_7[2]);
  put_y4(pb + 43u, cb, a10_0[3], a10_1[3], a10_2[3], a10_3[3]);
  put_y4(pb + 43u, cb + 4u, a10_4[3], a10_5[3], a10_6[3], a10_7[3]);
  put_y4(pb + 44u, cb, a11_0[0], a11_1[0], a11_2[0], a11_3[0]);
  put_y4(pb + 44u, cb + 4u, a11_4[0], a11_5[0], a11_6[0], a11_7[0]);
  put_y4(pb + 45u, cb, a11_0[1], a11_1[1], a11_2[1], a11_3[1]);
  put_y4(pb + 45u, cb + 4u, a11_4[1], a11_5[1], a11_6[1], a11_7[1]);
  put_y4(pb + 46u, cb, a11_0[2], a11_1[2], a11_2[2], a11_3[2]);
  put_y4(pb + 46u, cb + 4u, a11_4[2], a11_5[2], a11_6[2], a11_7[2]);
  put_y4(pb + 47u, cb, a11_0[3], a11_1[3], a11_2[3], a11_3[3]);
  put_y4(pb + 47u, cb + 4u, a11_4[3], a11_5[3], a11_6[3], a11_7[3]);
  put_y4(pb + 48u, cb, a12_0[0], a12_1[0], a12_2[0], a12_3[0]);
  put_y4(pb + 48u, cb + 4u, a12_4[0], a12_5[0], a12_6[0], a12_7[0]);
  put_y4(pb + 49u, cb, a12_0[1], a12_1[1], a12_2[1], a12_3[1]);
  put_y4(pb + 49u, cb + 4u, a12_4[1], a12_5[1], a12_6[1], a12_7[1]);
  put_y4(pb + 50u, cb, a12_0[2], a12_1[2], a12_2[2], a12_3[2]);
  put_y4(pb + 50u, cb + 4u, a12_4[2], a12_5[2], a12_6[2], a12_7[2]);
  put_y4(pb + 51u, cb, a12_0[3], a12_1[3], a12_2[3], a12_3[3]);
  put_y4(pb + 51u, cb + 4u, a12_4[3], a12_5[3], a12_6[3], a12_7[3]);
  put_y4(pb + 52u, cb, a13_0[0], a13_1[0], a13_2[0], a13_3[0]);
  put_y4(pb + 52u, cb + 4u, a13_4[0], a13_5[0], a13_6[0], a13_7[0]);
  put_y4(pb + 53u, cb, a13_0[1], a13_1[1], a13_2[1], a13_3[1]);
  put_y4(pb + 53u, cb + 4u, a13_4[1], a13_5[1], a13_6[1], a13_7[1]);
  put_y4(pb + 54u, cb, a13_0[2], a13_1[2], a13_2[2], a13_3[2]);
  put_y4(pb + 54u, cb + 4u, a13_4[2], a13_5[2], a13_6[2], a13_7[2]);
  put_y4(pb + 55u, cb, a13_0[3], a13_1[3], a13_2[3], a13_3[3]);
  put_y4(pb + 55u, cb + 4u, a13_4[3], a13_5[3], a13_6[3], a13_7[3]);
  put_y4(pb + 56u, cb, a14_0[0], a14_1[0], a14_2[0], a14_3[0]);
  put_y4(pb + 56u, cb + 4u, a14_4[0], a14_5[0], a14_6[0], a14_7[0]);
  put_y4(pb + 57u, cb, a14_0[1], a14_1[1], a14_2[1], a14_3[1]);
  put_y4(pb + 57u, cb + 4u, a14_4[1], a14_5[1], a14_6[1], a14_7[1]);
  put_y4(pb + 58u, cb, a14_0[2], a14_1[2], a14_2[2], a14_3[2]);
  put_y4(pb + 58u, cb + 4u, a14_4[2], a14_5[2], a14_6[2], a14_7[2]);
  put_y4(pb + 59u, cb, a14_0[3], a14_1[3], a14_2[3], a14_3[3]);
  put_y4(pb + 59u, cb + 4u, a14_4[3], a14_5[3], a14_6[3], a14_7[3]);
  put_y4(pb + 60u, cb, a15_0[0], a15_1[0], a15_2[0], a15_3[0]);
  put_y4(pb + 60u, cb + 4u, a15_4[0], a15_5[0], a15_6[0], a15_7[0]);
  put_y4(pb + 61u, cb, a15_0[1], a15_1[1], a15_2[1], a15_3[1]);
  put_y4(pb + 61u, cb + 4u, a15_4[1], a15_5[1], a15_6[1], a15_7[1]);
  put_y4(pb + 62u, cb, a15_0[2], a15_1[2], a15_2[2], a15_3[2]);
  put_y4(pb + 62u, cb + 4u, a15_4[2], a15_5[2], a15_6[2], a15_7[2]);
  put_y4(pb + 63u, cb, a15_0[3], a15_1[3], a15_2[3], a15_3[3]);
  put_y4(pb + 63u, cb + 4u, a15_4[3], a15_5[3], a15_6[3], a15_7[3]);
}

// For one out channel (Cout = 1, Cin % 4 == 0; the sub-pixel dx of a convolution with one in
// channel, i.e. a decoder's last transposed layer): invocation i writes y of the four pixels
// p = 4 i + (0..3),
//   y[p] = b[0] + sum_{kh, kw, k} dot(x4[tap (kh, kw) of p, k], w4[(kh KW + kw) Cin / 4 + k])
// (padding taps read 0), stored through the output placement as put_y4 does; i is
// gid.x + gid.y * num_workgroups.x * 64 (see grid1d). The weight reads are the same for every
// lane, the x reads are each pixel's channels as vec4s.
@compute @workgroup_size(64)
fn forward_cout1(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c4 = dims.cin / 4u;
  let P = dims.batch * dims.ho * dims.wo;
  let pb = 4u * (gid.x + gid.y * nwg.x * 64u);
  if (pb >= P) { return; }
  let q = pixel_quad(pb, P);
  var a = vec4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    for (var kw = 0u; kw < dims.kw; kw++) {
      let o = tap_offsets(q, kh, kw);
      let m = select(vec4f(0.0), vec4f(1.0), o >= vec4i(0));
      let xo = vec4u(max(o, vec4i(0))) * c4;
      let wr = (kh * dims.kw + kw) * c4;
      var t = vec4f();
      for (var k = 0u; k < c4; k++) {
        let wv = w4[wr + k];
        t += vec4f(dot(x4[xo.x + k], wv), dot(x4[xo.y + k], wv), dot(x4[xo.z + k], wv),
          dot(x4[xo.w + k], wv));
      }
      a += t * m;
    }
  }
  a += vec4f(b[0]);
  let ps = vec4u(pb) + LANES;
  if (q.live.x) { y[place(ps.x)] = a.x; }
  if (q.live.y) { y[place(ps.y)] = a.y; }
  if (q.live.z) { y[place(ps.z)] = a.z; }
  if (q.live.w) { y[place(ps.w)] = a.w; }
}

// forward_cout1 for a 3x3 kernel at stride 1 (the sub-pixel dx of a stride-1 convolution with one
// in channel, i.e. a decoder's last transposed layer): invocation i (1-D grid, see grid1d) writes
// y of a block of 4 output rows x 16 columns (rows 4 t + (0..3) of image n, columns 16 c +
// (0..15); i = (n T + t) C + c; those past the image computed on clamped pixels and not
// stored). Per vec4 k of Cin it loads the nine taps' weights, then the 18 x vec4s of each of the
// block's 6 input rows, and each x feeds up to nine pixels:
//   y[oh, ow] += sum_{kh, kw} dot(x4[oh - pt + kh, ow - pl + kw, k], w4[(kh 3 + kw) Cin / 4 + k])
// (a{r}{m}: row r, pixels 4 m + (0..3); padding reads 0): 576 dot products for 117
// loaded vec4s against forward_cout1's 16 for 20. Stored through the output placement as put_y4.
@compute @workgroup_size(64)
fn forward_cout1_k3(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let c4 = dims.cin / 4u;
  let C = (dims.wo + 15u) / 16u;
  let T = (dims.ho + 3u) / 4u;
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= dims.batch * T * C) { return; }
  let n = i / (T * C);
  let oh0 = 4u * ((i / C) % T);
  let ow0 = 16u * (i % C);
  // Input columns ow0 - pl + (0..17): offsets clamped into the row, masks 0 outside.
  let cw = vec4i(i32(ow0) - i32(dims.pl)) + vec4i(0, 1, 2, 3);
  let W = i32(dims.width);
  let c0 = cw + vec4i(0);
  let m0 = select(vec4f(0.0), vec4f(1.0), (c0 >= vec4i(0)) & (c0 < vec4i(W)));
  let o0 = vec4u(clamp(c0, vec4i(0), vec4i(W - 1))) * c4;
  let c1 = cw + vec4i(4);
  let m1 = select(vec4f(0.0), vec4f(1.0), (c1 >= vec4i(0)) & (c1 < vec4i(W)));
  let o1 = vec4u(clamp(c1, vec4i(0), vec4i(W - 1))) * c4;
  let c2 = cw + vec4i(8);
  let m2 = select(vec4f(0.0), vec4f(1.0), (c2 >= vec4i(0)) & (c2 < vec4i(W)));
  let o2 = vec4u(clamp(c2, vec4i(0), vec4i(W - 1))) * c4;
  let c3 = cw + vec4i(12);
  let m3 = select(vec4f(0.0), vec4f(1.0), (c3 >= vec4i(0)) & (c3 < vec4i(W)));
  let o3 = vec4u(clamp(c3, vec4i(0), vec4i(W - 1))) * c4;
  let c4v = cw.xy + vec2i(16);
  let m4 = select(vec2f(0.0), vec2f(1.0), (c4v >= vec2i(0)) & (c4v < vec2i(W)));
  let o4 = vec2u(clamp(c4v, vec2i(0), vec2i(W - 1))) * c4;
  // Input rows oh0 - pt + (0..5): starts (clamped) and masks, in two vec4s.
  let H = i32(dims.height);
  let ih0 = vec4i(i32(oh0) - i32(dims.pt)) + vec4i(0, 1, 2, 3);
  let ih1 = ih0 + vec4i(4);
  let rm0 = select(vec4f(0.0), vec4f(1.0), (ih0 >= vec4i(0)) & (ih0 < vec4i(H)));
  let rm1 = select(vec4f(0.0), vec4f(1.0), (ih1 >= vec4i(0)) & (ih1 < vec4i(H)));
  let xr0 = (vec4u(n * dims.height) + vec4u(clamp(ih0, vec4i(0), vec4i(H - 1)))) * dims.width * c4;
  let xr1 = (vec4u(n * dims.height) + vec4u(clamp(ih1, vec4i(0), vec4i(H - 1)))) * dims.width * c4;
  var a00 = vec4f(); var a01 = vec4f(); var a02 = vec4f(); var a03 = vec4f();
  var a10 = vec4f(); var a11 = vec4f(); var a12 = vec4f(); var a13 = vec4f();
  var a20 = vec4f(); var a21 = vec4f(); var a22 = vec4f(); var a23 = vec4f();
  var a30 = vec4f(); var a31 = vec4f(); var a32 = vec4f(); var a33 = vec4f();
  for (var k = 0u; k < c4; k++) {
    let w00 = w4[0u * c4 + k];
    let w01 = w4[1u * c4 + k];
    let w02 = w4[2u * c4 + k];
    let w10 = w4[3u * c4 + k];
    let w11 = w4[4u * c4 + k];
    let w12 = w4[5u * c4 + k];
    let w20 = w4[6u * c4 + k];
    let w21 = w4[7u * c4 + k];
    let w22 = w4[8u * c4 + k];
    { // input row 0: tap row 0 - r of each output row r of the block in [0 - 2, 0]
      let v0 = x4[xr0.x + o0.x + k] * (m0.x * rm0.x);
      let v1 = x4[xr0.x + o0.y + k] * (m0.y * rm0.x);
      let v2 = x4[xr0.x + o0.z + k] * (m0.z * rm0.x);
      let v3 = x4[xr0.x + o0.w + k] * (m0.w * rm0.x);
      let v4 = x4[xr0.x + o1.x + k] * (m1.x * rm0.x);
      let v5 = x4[xr0.x + o1.y + k] * (m1.y * rm0.x);
      let v6 = x4[xr0.x + o1.z + k] * (m1.z * rm0.x);
      let v7 = x4[xr0.x + o1.w + k] * (m1.w * rm0.x);
      let v8 = x4[xr0.x + o2.x + k] * (m2.x * rm0.x);
      let v9 = x4[xr0.x + o2.y + k] * (m2.y * rm0.x);
      let v10 = x4[xr0.x + o2.z + k] * (m2.z * rm0.x);
      let v11 = x4[xr0.x + o2.w + k] * (m2.w * rm0.x);
      let v12 = x4[xr0.x + o3.x + k] * (m3.x * rm0.x);
      let v13 = x4[xr0.x + o3.y + k] * (m3.y * rm0.x);
      let v14 = x4[xr0.x + o3.z + k] * (m3.z * rm0.x);
      let v15 = x4[xr0.x + o3.w + k] * (m3.w * rm0.x);
      let v16 = x4[xr0.x + o4.x + k] * (m4.x * rm0.x);
      let v17 = x4[xr0.x + o4.y + k] * (m4.y * rm0.x);
      a00 += vec4f(
        dot(v0, w00) + dot(v1, w01) + dot(v2, w02),
        dot(v1, w00) + dot(v2, w01) + dot(v3, w02),
        dot(v2, w00) + dot(v3, w01) + dot(v4, w02),
        dot(v3, w00) + dot(v4, w01) + dot(v5, w02),
      );
      a01 += vec4f(
        dot(v4, w00) + dot(v5, w01) + dot(v6, w02),
        dot(v5, w00) + dot(v6, w01) + dot(v7, w02),
        dot(v6, w00) + dot(v7, w01) + dot(v8, w02),
        dot(v7, w00) + dot(v8, w01) + dot(v9, w02),
      );
      a02 += vec4f(
        dot(v8, w00) + dot(v9, w01) + dot(v10, w02),
        dot(v9, w00) + dot(v10, w01) + dot(v11, w02),
        dot(v10, w00) + dot(v11, w01) + dot(v12, w02),
        dot(v11, w00) + dot(v12, w01) + dot(v13, w02),
      );
      a03 += vec4f(
        dot(v12, w00) + dot(v13, w01) + dot(v14, w02),
        dot(v13, w00) + dot(v14, w01) + dot(v15, w02),
        dot(v14, w00) + dot(v15, w01) + dot(v16, w02),
        dot(v15, w00) + dot(v16, w01) + dot(v17, w02),
      );
    }
    { // input row 1: tap row 1 - r of each output row r of the block in [1 - 2, 1]
      let v0 = x4[xr0.y + o0.x + k] * (m0.x * rm0.y);
      let v1 = x4[xr0.y + o0.y + k] * (m0.y * rm0.y);
      let v2 = x4[xr0.y + o0.z + k] * (m0.z * rm0.y);
      let v3 = x4[xr0.y + o0.w + k] * (m0.w * rm0.y);
      let v4 = x4[xr0.y + o1.x + k] * (m1.x * rm0.y);
      let v5 = x4[xr0.y + o1.y + k] * (m1.y * rm0.y);
      let v6 = x4[xr0.y + o1.z + k] * (m1.z * rm0.y);
      let v7 = x4[xr0.y + o1.w + k] * (m1.w * rm0.y);
      let v8 = x4[xr0.y + o2.x + k] * (m2.x * rm0.y);
      let v9 = x4[xr0.y + o2.y + k] * (m2.y * rm0.y);
      let v10 = x4[xr0.y + o2.z + k] * (m2.z * rm0.y);
      let v11 = x4[xr0.y + o2.w + k] * (m2.w * rm0.y);
      let v12 = x4[xr0.y + o3.x + k] * (m3.x * rm0.y);
      let v13 = x4[xr0.y + o3.y + k] * (m3.y * rm0.y);
      let v14 = x4[xr0.y + o3.z + k] * (m3.z * rm0.y);
      let v15 = x4[xr0.y + o3.w + k] * (m3.w * rm0.y);
      let v16 = x4[xr0.y + o4.x + k] * (m4.x * rm0.y);
      let v17 = x4[xr0.y + o4.y + k] * (m4.y * rm0.y);
      a00 += vec4f(
        dot(v0, w10) + dot(v1, w11) + dot(v2, w12),
        dot(v1, w10) + dot(v2, w11) + dot(v3, w12),
        dot(v2, w10) + dot(v3, w11) + dot(v4, w12),
        dot(v3, w10) + dot(v4, w11) + dot(v5, w12),
      );
      a01 += vec4f(
        dot(v4, w10) + dot(v5, w11) + dot(v6, w12),
        dot(v5, w10) + dot(v6, w11) + dot(v7, w12),
        dot(v6, w10) + dot(v7, w11) + dot(v8, w12),
        dot(v7, w10) + dot(v8, w11) + dot(v9, w12),
      );
      a02 += vec4f(
        dot(v8, w10) + dot(v9, w11) + dot(v10, w12),
        dot(v9, w10) + dot(v10, w11) + dot(v11, w12),
        dot(v10, w10) + dot(v11, w11) + dot(v12, w12),
        dot(v11, w10) + dot(v12, w11) + dot(v13, w12),
      );
      a03 += vec4f(
        dot(v12, w10) + dot(v13, w11) + dot(v14, w12),
        dot(v13, w10) + dot(v14, w11) + dot(v15, w12),
        dot(v14, w10) + dot(v15, w11) + dot(v16, w12),
        dot(v15, w10) + dot(v16, w11) + dot(v17, w12),
      );
      a10 += vec4f(
        dot(v0, w00) + dot(v1, w01) + dot(v2, w02),
        dot(v1, w00) + dot(v2, w01) + dot(v3, w02),
        dot(v2, w00) + dot(v3, w01) + dot(v4, w02),
        dot(v3, w00) + dot(v4, w01) + dot(v5, w02),
      );
      a11 += vec4f(
        dot(v4, w00) + dot(v5, w01) + dot(v6, w02),
        dot(v5, w00) + dot(v6, w01) + dot(v7, w02),
        dot(v6, w00) + dot(v7, w01) + dot(v8, w02),
        dot(v7, w00) + dot(v8, w01) + dot(v9, w02),
      );
      a12 += vec4f(
        dot(v8, w00) + dot(v9, w01) + dot(v10, w02),
        dot(v9, w00) + dot(v10, w01) + dot(v11, w02),
        dot(v10, w00) + dot(v11, w01) + dot(v12, w02),
        dot(v11, w00) + dot(v12, w01) + dot(v13, w02),
      );
      a13 += vec4f(
        dot(v12, w00) + dot(v13, w01) + dot(v14, w02),
        dot(v13, w00) + dot(v14, w01) + dot(v15, w02),
        dot(v14, w00) + dot(v15, w01) + dot(v16, w02),
        dot(v15, w00) + dot(v16, w01) + dot(v17, w02),
      );
    }
    { // input row 2: tap row 2 - r of each output row r of the block in [2 - 2, 2]
      let v0 = x4[xr0.z + o0.x + k] * (m0.x * rm0.z);
      let v1 = x4[xr0.z + o0.y + k] * (m0.y * rm0.z);
      let v2 = x4[xr0.z + o0.z + k] * (m0.z * rm0.z);
      let v3 = x4[xr0.z + o0.w + k] * (m0.w * rm0.z);
      let v4 = x4[xr0.z + o1.x + k] * (m1.x * rm0.z);
      let v5 = x4[xr0.z + o1.y + k] * (m1.y * rm0.z);
      let v6 = x4[xr0.z + o1.z + k] * (m1.z * rm0.z);
      let v7 = x4[xr0.z + o1.w + k] * (m1.w * rm0.z);
      let v8 = x4[xr0.z + o2.x + k] * (m2.x * rm0.z);
      let v9 = x4[xr0.z + o2.y + k] * (m2.y * rm0.z);
      let v10 = x4[xr0.z + o2.z + k] * (m2.z * rm0.z);
      let v11 = x4[xr0.z + o2.w + k] * (m2.w * rm0.z);
      let v12 = x4[xr0.z + o3.x + k] * (m3.x * rm0.z);
      let v13 = x4[xr0.z + o3.y + k] * (m3.y * rm0.z);
      let v14 = x4[xr0.z + o3.z + k] * (m3.z * rm0.z);
      let v15 = x4[xr0.z + o3.w + k] * (m3.w * rm0.z);
      let v16 = x4[xr0.z + o4.x + k] * (m4.x * rm0.z);
      let v17 = x4[xr0.z + o4.y + k] * (m4.y * rm0.z);
      a00 += vec4f(
        dot(v0, w20) + dot(v1, w21) + dot(v2, w22),
        dot(v1, w20) + dot(v2, w21) + dot(v3, w22),
        dot(v2, w20) + dot(v3, w21) + dot(v4, w22),
        dot(v3, w20) + dot(v4, w21) + dot(v5, w22),
      );
      a01 += vec4f(
        dot(v4, w20) + dot(v5, w21) + dot(v6, w22),
        dot(v5, w20) + dot(v6, w21) + dot(v7, w22),
        dot(v6, w20) + dot(v7, w21) + dot(v8, w22),
        dot(v7, w20) + dot(v8, w21) + dot(v9, w22),
      );
      a02 += vec4f(
        dot(v8, w20) + dot(v9, w21) + dot(v10, w22),
        dot(v9, w20) + dot(v10, w21) + dot(v11, w22),
        dot(v10, w20) + dot(v11, w21) + dot(v12, w22),
        dot(v11, w20) + dot(v12, w21) + dot(v13, w22),
      );
      a03 += vec4f(
        dot(v12, w20) + dot(v13, w21) + dot(v14, w22),
        dot(v13, w20) + dot(v14, w21) + dot(v15, w22),
        dot(v14, w20) + dot(v15, w21) + dot(v16, w22),
        dot(v15, w20) + dot(v16, w21) + dot(v17, w22),
      );
      a10 += vec4f(
        dot(v0, w10) + dot(v1, w11) + dot(v2, w12),
        dot(v1, w10) + dot(v2, w11) + dot(v3, w12),
        dot(v2, w10) + dot(v3, w11) + dot(v4, w12),
        dot(v3, w10) + dot(v4, w11) + dot(v5, w12),
      );
      a11 += vec4f(
        dot(v4, w10) + dot(v5, w11) + dot(v6, w12),
        dot(v5, w10) + dot(v6, w11) + dot(v7, w12),
        dot(v6, w10) + dot(v7, w11) + dot(v8, w12),
        dot(v7, w10) + dot(v8, w11) + dot(v9, w12),
      );
      a12 += vec4f(
        dot(v8, w10) + dot(v9, w11) + dot(v10, w12),
        dot(v9, w10) + dot(v10, w11) + dot(v11, w12),
        dot(v10, w10) + dot(v11, w11) + dot(v12, w12),
        dot(v11, w10) + dot(v12, w11) + dot(v13, w12),
      );
      a13 += vec4f(
        dot(v12, w10) + dot(v13, w11) + dot(v14, w12),
        dot(v13, w10) + dot(v14, w11) + dot(v15, w12),
        dot(v14, w10) + dot(v15, w11) + dot(v16, w12),
        dot(v15, w10) + dot(v16, w11) + dot(v17, w12),
      );
      a20 += vec4f(
        dot(v0, w00) + dot(v1, w01) + dot(v2, w02),
        dot(v1, w00) + dot(v2, w01) + dot(v3, w02),
        dot(v2, w00) + dot(v3, w01) + dot(v4, w02),
        dot(v3, w00) + dot(v4, w01) + dot(v5, w02),
      );
      a21 += vec4f(
        dot(v4, w00) + dot(v5, w01) + dot(v6, w02),
        dot(v5, w00) + dot(v6, w01) + dot(v7, w02),
        dot(v6, w00) + dot(v7, w01) + dot(v8, w02),
        dot(v7, w00) + dot(v8, w01) + dot(v9, w02),
      );
      a22 += vec4f(
        dot(v8, w00) + dot(v9, w01) + dot(v10, w02),
        dot(v9, w00) + dot(v10, w01) + dot(v11, w02),
        dot(v10, w00) + dot(v11, w01) + dot(v12, w02),
        dot(v11, w00) + dot(v12, w01) + dot(v13, w02),
      );
      a23 += vec4f(
        dot(v12, w00) + dot(v13, w01) + dot(v14, w02),
        dot(v13, w00) + dot(v14, w01) + dot(v15, w02),
        dot(v14, w00) + dot(v15, w01) + dot(v16, w02),
        dot(v15, w00) + dot(v16, w01) + dot(v17, w02),
      );
    }
    { // input row 3: tap row 3 - r of each output row r of the block in [3 - 2, 3]
      let v0 = x4[xr0.w + o0.x + k] * (m0.x * rm0.w);
      let v1 = x4[xr0.w + o0.y + k] * (m0.y * rm0.w);
      let v2 = x4[xr0.w + o0.z + k] * (m0.z * rm0.w);
      let v3 = x4[xr0.w + o0.w + k] * (m0.w * rm0.w);
      let v4 = x4[xr0.w + o1.x + k] * (m1.x * rm0.w);
      let v5 = x4[xr0.w + o1.y + k] * (m1.y * rm0.w);
      let v6 = x4[xr0.w + o1.z + k] * (m1.z * rm0.w);
      let v7 = x4[xr0.w + o1.w + k] * (m1.w * rm0.w);
      let v8 = x4[xr0.w + o2.x + k] * (m2.x * rm0.w);
      let v9 = x4[xr0.w + o2.y + k] * (m2.y * rm0.w);
      let v10 = x4[xr0.w + o2.z + k] * (m2.z * rm0.w);
      let v11 = x4[xr0.w + o2.w + k] * (m2.w * rm0.w);
      let v12 = x4[xr0.w + o3.x + k] * (m3.x * rm0.w);
      let v13 = x4[xr0.w + o3.y + k] * (m3.y * rm0.w);
      let v14 = x4[xr0.w + o3.z + k] * (m3.z * rm0.w);
      let v15 = x4[xr0.w + o3.w + k] * (m3.w * rm0.w);
      let v16 = x4[xr0.w + o4.x + k] * (m4.x * rm0.w);
      let v17 = x4[xr0.w + o4.y + k] * (m4.y * rm0.w);
      a10 += vec4f(
        dot(v0, w20) + dot(v1, w21) + dot(v2, w22),
        dot(v1, w20) + dot(v2, w21) + dot(v3, w22),
        dot(v2, w20) + dot(v3, w21) + dot(v4, w22),
        dot(v3, w20) + dot(v4, w21) + dot(v5, w22),
      );
      a11 += vec4f(
        dot(v4, w20) + dot(v5, w21) + dot(v6, w22),
        dot(v5, w20) + dot(v6, w21) + dot(v7, w22),
        dot(v6, w20) + dot(v7, w21) + dot(v8, w22),
        dot(v7, w20) + dot(v8, w21) + dot(v9, w22),
      );
      a12 += vec4f(
        dot(v8, w20) + dot(v9, w21) + dot(v10, w22),
        dot(v9, w20) + dot(v10, w21) + dot(v11, w22),
        dot(v10, w20) + dot(v11, w21) + dot(v12, w22),
        dot(v11, w20) + dot(v12, w21) + dot(v13, w22),
      );
      a13 += vec4f(
        dot(v12, w20) + dot(v13, w21) + dot(v14, w22),
        dot(v13, w20) + dot(v14, w21) + dot(v15, w22),
        dot(v14, w20) + dot(v15, w21) + dot(v16, w22),
        dot(v15, w20) + dot(v16, w21) + dot(v17, w22),
      );
      a20 += vec4f(
        dot(v0, w10) + dot(v1, w11) + dot(v2, w12),
        dot(v1, w10) + dot(v2, w11) + dot(v3, w12),
        dot(v2, w10) + dot(v3, w11) + dot(v4, w12),
        dot(v3, w10) + dot(v4, w11) + dot(v5, w12),
      );
      a21 += vec4f(
        dot(v4, w10) + dot(v5, w11) + dot(v6, w12),
        dot(v5, w10) + dot(v6, w11) + dot(v7, w12),
        dot(v6, w10) + dot(v7, w11) + dot(v8, w12),
        dot(v7, w10) + dot(v8, w11) + dot(v9, w12),
      );
      a22 += vec4f(
        dot(v8, w10) + dot(v9, w11) + dot(v10, w12),
        dot(v9, w10) + dot(v10, w11) + dot(v11, w12),
        dot(v10, w10) + dot(v11, w11) + dot(v12, w12),
        dot(v11, w10) + dot(v12, w11) + dot(v13, w12),
      );
      a23 += vec4f(
        dot(v12, w10) + dot(v13, w11) + dot(v14, w12),
        dot(v13, w10) + dot(v14, w11) + dot(v15, w12),
        dot(v14, w10) + dot(v15, w11) + dot(v16, w12),
        dot(v15, w10) + dot(v16, w11) + dot(v17, w12),
      );
      a30 += vec4f(
        dot(v0, w00) + dot(v1, w01) + dot(v2, w02),
        dot(v1, w00) + dot(v2, w01) + dot(v3, w02),
        dot(v2, w00) + dot(v3, w01) + dot(v4, w02),
        dot(v3, w00) + dot(v4, w01) + dot(v5, w02),
      );
      a31 += vec4f(
        dot(v4, w00) + dot(v5, w01) + dot(v6, w02),
        dot(v5, w00) + dot(v6, w01) + dot(v7, w02),
        dot(v6, w00) + dot(v7, w01) + dot(v8, w02),
        dot(v7, w00) + dot(v8, w01) + dot(v9, w02),
      );
      a32 += vec4f(
        dot(v8, w00) + dot(v9, w01) + dot(v10, w02),
        dot(v9, w00) + dot(v10, w01) + dot(v11, w02),
        dot(v10, w00) + dot(v11, w01) + dot(v12, w02),
        dot(v11, w00) + dot(v12, w01) + dot(v13, w02),
      );
      a33 += vec4f(
        dot(v12, w00) + dot(v13, w01) + dot(v14, w02),
        dot(v13, w00) + dot(v14, w01) + dot(v15, w02),
        dot(v14, w00) + dot(v15, w01) + dot(v16, w02),
        dot(v15, w00) + dot(v16, w01) + dot(v17, w02),
      );
    }
    { // input row 4: tap row 4 - r of each output row r of the block in [4 - 2, 4]
      let v0 = x4[xr1.x + o0.x + k] * (m0.x * rm1.x);
      let v1 = x4[xr1.x + o0.y + k] * (m0.y * rm1.x);
      let v2 = x4[xr1.x + o0.z + k] * (m0.z * rm1.x);
      let v3 = x4[xr1.x + o0.w + k] * (m0.w * rm1.x);
      let v4 = x4[xr1.x + o1.x + k] * (m1.x * rm1.x);
      let v5 = x4[xr1.x + o1.y + k] * (m1.y * rm1.x);
      let v6 = x4[xr1.x + o1.z + k] * (m1.z * rm1.x);
      let v7 = x4[xr1.x + o1.w + k] * (m1.w * rm1.x);
      let v8 = x4[xr1.x + o2.x + k] * (m2.x * rm1.x);
      let v9 = x4[xr1.x + o2.y + k] * (m2.y * rm1.x);
      let v10 = x4[xr1.x + o2.z + k] * (m2.z * rm1.x);
      let v11 = x4[xr1.x + o2.w + k] * (m2.w * rm1.x);
      let v12 = x4[xr1.x + o3.x + k] * (m3.x * rm1.x);
      let v13 = x4[xr1.x + o3.y + k] * (m3.y * rm1.x);
      let v14 = x4[xr1.x + o3.z + k] * (m3.z * rm1.x);
      let v15 = x4[xr1.x + o3.w + k] * (m3.w * rm1.x);
      let v16 = x4[xr1.x + o4.x + k] * (m4.x * rm1.x);
      let v17 = x4[xr1.x + o4.y + k] * (m4.y * rm1.x);
      a20 += vec4f(
        dot(v0, w20) + dot(v1, w21) + dot(v2, w22),
        dot(v1, w20) + dot(v2, w21) + dot(v3, w22),
        dot(v2, w20) + dot(v3, w21) + dot(v4, w22),
        dot(v3, w20) + dot(v4, w21) + dot(v5, w22),
      );
      a21 += vec4f(
        dot(v4, w20) + dot(v5, w21) + dot(v6, w22),
        dot(v5, w20) + dot(v6, w21) + dot(v7, w22),
        dot(v6, w20) + dot(v7, w21) + dot(v8, w22),
        dot(v7, w20) + dot(v8, w21) + dot(v9, w22),
      );
      a22 += vec4f(
        dot(v8, w20) + dot(v9, w21) + dot(v10, w22),
        dot(v9, w20) + dot(v10, w21) + dot(v11, w22),
        dot(v10, w20) + dot(v11, w21) + dot(v12, w22),
        dot(v11, w20) + dot(v12, w21) + dot(v13, w22),
      );
      a23 += vec4f(
        dot(v12, w20) + dot(v13, w21) + dot(v14, w22),
        dot(v13, w20) + dot(v14, w21) + dot(v15, w22),
        dot(v14, w20) + dot(v15, w21) + dot(v16, w22),
        dot(v15, w20) + dot(v16, w21) + dot(v17, w22),
      );
      a30 += vec4f(
        dot(v0, w10) + dot(v1, w11) + dot(v2, w12),
        dot(v1, w10) + dot(v2, w11) + dot(v3, w12),
        dot(v2, w10) + dot(v3, w11) + dot(v4, w12),
        dot(v3, w10) + dot(v4, w11) + dot(v5, w12),
      );
      a31 += vec4f(
        dot(v4, w10) + dot(v5, w11) + dot(v6, w12),
        dot(v5, w10) + dot(v6, w11) + dot(v7, w12),
        dot(v6, w10) + dot(v7, w11) + dot(v8, w12),
        dot(v7, w10) + dot(v8, w11) + dot(v9, w12),
      );
      a32 += vec4f(
        dot(v8, w10) + dot(v9, w11) + dot(v10, w12),
        dot(v9, w10) + dot(v10, w11) + dot(v11, w12),
        dot(v10, w10) + dot(v11, w11) + dot(v12, w12),
        dot(v11, w10) + dot(v12, w11) + dot(v13, w12),
      );
      a33 += vec4f(
        dot(v12, w10) + dot(v13, w11) + dot(v14, w12),
        dot(v13, w10) + dot(v14, w11) + dot(v15, w12),
        dot(v14, w10) + dot(v15, w11) + dot(v16, w12),
        dot(v15, w10) + dot(v16, w11) + dot(v17, w12),
      );
    }
    { // input row 5: tap row 5 - r of each output row r of the block in [5 - 2, 5]
      let v0 = x4[xr1.y + o0.x + k] * (m0.x * rm1.y);
      let v1 = x4[xr1.y + o0.y + k] * (m0.y * rm1.y);
      let v2 = x4[xr1.y + o0.z + k] * (m0.z * rm1.y);
      let v3 = x4[xr1.y + o0.w + k] * (m0.w * rm1.y);
      let v4 = x4[xr1.y + o1.x + k] * (m1.x * rm1.y);
      let v5 = x4[xr1.y + o1.y + k] * (m1.y * rm1.y);
      let v6 = x4[xr1.y + o1.z + k] * (m1.z * rm1.y);
      let v7 = x4[xr1.y + o1.w + k] * (m1.w * rm1.y);
      let v8 = x4[xr1.y + o2.x + k] * (m2.x * rm1.y);
      let v9 = x4[xr1.y + o2.y + k] * (m2.y * rm1.y);
      let v10 = x4[xr1.y + o2.z + k] * (m2.z * rm1.y);
      let v11 = x4[xr1.y + o2.w + k] * (m2.w * rm1.y);
      let v12 = x4[xr1.y + o3.x + k] * (m3.x * rm1.y);
      let v13 = x4[xr1.y + o3.y + k] * (m3.y * rm1.y);
      let v14 = x4[xr1.y + o3.z + k] * (m3.z * rm1.y);
      let v15 = x4[xr1.y + o3.w + k] * (m3.w * rm1.y);
      let v16 = x4[xr1.y + o4.x + k] * (m4.x * rm1.y);
      let v17 = x4[xr1.y + o4.y + k] * (m4.y * rm1.y);
      a30 += vec4f(
        dot(v0, w20) + dot(v1, w21) + dot(v2, w22),
        dot(v1, w20) + dot(v2, w21) + dot(v3, w22),
        dot(v2, w20) + dot(v3, w21) + dot(v4, w22),
        dot(v3, w20) + dot(v4, w21) + dot(v5, w22),
      );
      a31 += vec4f(
        dot(v4, w20) + dot(v5, w21) + dot(v6, w22),
        dot(v5, w20) + dot(v6, w21) + dot(v7, w22),
        dot(v6, w20) + dot(v7, w21) + dot(v8, w22),
        dot(v7, w20) + dot(v8, w21) + dot(v9, w22),
      );
      a32 += vec4f(
        dot(v8, w20) + dot(v9, w21) + dot(v10, w22),
        dot(v9, w20) + dot(v10, w21) + dot(v11, w22),
        dot(v10, w20) + dot(v11, w21) + dot(v12, w22),
        dot(v11, w20) + dot(v12, w21) + dot(v13, w22),
      );
      a33 += vec4f(
        dot(v12, w20) + dot(v13, w21) + dot(v14, w22),
        dot(v13, w20) + dot(v14, w21) + dot(v15, w22),
        dot(v14, w20) + dot(v15, w21) + dot(v16, w22),
        dot(v15, w20) + dot(v16, w21) + dot(v17, w22),
      );
    }
  }
  let bias = b[0];
  let live = vec4u(ow0) + LANES;
  let p0 = (n * dims.ho + oh0 + 0u) * dims.wo + ow0;
  let p1 = (n * dims.ho + oh0 + 1u) * dims.wo + ow0;
  let p2 = (n * dims.ho + oh0 + 2u) * dims.wo + ow0;
  let p3 = (n * dims.ho + oh0 + 3u) * dims.wo + ow0;
  if (live.x + 0u < dims.wo) { y[place(p0 + 0u)] = a00.x + bias; }
  if (live.y + 0u < dims.wo) { y[place(p0 + 1u)] = a00.y + bias; }
  if (live.z + 0u < dims.wo) { y[place(p0 + 2u)] = a00.z + bias; }
  if (live.w + 0u < dims.wo) { y[place(p0 + 3u)] = a00.w + bias; }
  if (live.x + 4u < dims.wo) { y[place(p0 + 4u)] = a01.x + bias; }
  if (live.y + 4u < dims.wo) { y[place(p0 + 5u)] = a01.y + bias; }
  if (live.z + 4u < dims.wo) { y[place(p0 + 6u)] = a01.z + bias; }
  if (live.w + 4u < dims.wo) { y[place(p0 + 7u)] = a01.w + bias; }
  if (live.x + 8u < dims.wo) { y[place(p0 + 8u)] = a02.x + bias; }
  if (live.y + 8u < dims.wo) { y[place(p0 + 9u)] = a02.y + bias; }
  if (live.z + 8u < dims.wo) { y[place(p0 + 10u)] = a02.z + bias; }
  if (live.w + 8u < dims.wo) { y[place(p0 + 11u)] = a02.w + bias; }
  if (live.x + 12u < dims.wo) { y[place(p0 + 12u)] = a03.x + bias; }
  if (live.y + 12u < dims.wo) { y[place(p0 + 13u)] = a03.y + bias; }
  if (live.z + 12u < dims.wo) { y[place(p0 + 14u)] = a03.z + bias; }
  if (live.w + 12u < dims.wo) { y[place(p0 + 15u)] = a03.w + bias; }
  if (live.x + 0u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 0u)] = a10.x + bias; }
  if (live.y + 0u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 1u)] = a10.y + bias; }
  if (live.z + 0u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 2u)] = a10.z + bias; }
  if (live.w + 0u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 3u)] = a10.w + bias; }
  if (live.x + 4u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 4u)] = a11.x + bias; }
  if (live.y + 4u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 5u)] = a11.y + bias; }
  if (live.z + 4u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 6u)] = a11.z + bias; }
  if (live.w + 4u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 7u)] = a11.w + bias; }
  if (live.x + 8u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 8u)] = a12.x + bias; }
  if (live.y + 8u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 9u)] = a12.y + bias; }
  if (live.z + 8u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 10u)] = a12.z + bias; }
  if (live.w + 8u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 11u)] = a12.w + bias; }
  if (live.x + 12u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 12u)] = a13.x + bias; }
  if (live.y + 12u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 13u)] = a13.y + bias; }
  if (live.z + 12u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 14u)] = a13.z + bias; }
  if (live.w + 12u < dims.wo && oh0 + 1u < dims.ho) { y[place(p1 + 15u)] = a13.w + bias; }
  if (live.x + 0u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 0u)] = a20.x + bias; }
  if (live.y + 0u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 1u)] = a20.y + bias; }
  if (live.z + 0u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 2u)] = a20.z + bias; }
  if (live.w + 0u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 3u)] = a20.w + bias; }
  if (live.x + 4u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 4u)] = a21.x + bias; }
  if (live.y + 4u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 5u)] = a21.y + bias; }
  if (live.z + 4u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 6u)] = a21.z + bias; }
  if (live.w + 4u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 7u)] = a21.w + bias; }
  if (live.x + 8u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 8u)] = a22.x + bias; }
  if (live.y + 8u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 9u)] = a22.y + bias; }
  if (live.z + 8u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 10u)] = a22.z + bias; }
  if (live.w + 8u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 11u)] = a22.w + bias; }
  if (live.x + 12u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 12u)] = a23.x + bias; }
  if (live.y + 12u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 13u)] = a23.y + bias; }
  if (live.z + 12u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 14u)] = a23.z + bias; }
  if (live.w + 12u < dims.wo && oh0 + 2u < dims.ho) { y[place(p2 + 15u)] = a23.w + bias; }
  if (live.x + 0u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 0u)] = a30.x + bias; }
  if (live.y + 0u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 1u)] = a30.y + bias; }
  if (live.z + 0u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 2u)] = a30.z + bias; }
  if (live.w + 0u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 3u)] = a30.w + bias; }
  if (live.x + 4u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 4u)] = a31.x + bias; }
  if (live.y + 4u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 5u)] = a31.y + bias; }
  if (live.z + 4u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 6u)] = a31.z + bias; }
  if (live.w + 4u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 7u)] = a31.w + bias; }
  if (live.x + 8u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 8u)] = a32.x + bias; }
  if (live.y + 8u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 9u)] = a32.y + bias; }
  if (live.z + 8u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 10u)] = a32.z + bias; }
  if (live.w + 8u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 11u)] = a32.w + bias; }
  if (live.x + 12u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 12u)] = a33.x + bias; }
  if (live.y + 12u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 13u)] = a33.y + bias; }
  if (live.z + 12u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 14u)] = a33.z + bias; }
  if (live.w + 12u < dims.wo && oh0 + 3u < dims.ho) { y[place(p3 + 15u)] = a33.w + bias; }
}

// The y pixel of output pixel p under the output placement (see put_y4).
fn place(p: u32) -> u32 {
  let hw = dims.ho * dims.wo;
  let i = (p % hw) / dims.wo;
  let j = p % dims.wo;
  return ((p / hw) * dims.yh + dims.ya + dims.ysh * i) * dims.yw + dims.yb + dims.ysw * j;
}

// ---------------------------------------------------------------------------------------------
// Backward: dx

// The sub-pixel input gradient (conv2d.ts's "subpixel" dx): the input pixels of one class
// (a, r) = (ih mod sh, iw mod sw) are reached only by the taps kh = (a + pt) mod sh + sh u,
// kw = (r + pl) mod sw + sw v, each at output row oh = (ih + pt - kh) / sh exactly, so
//   dx[n, a + sh i, r + sw j, ci] = sum_{u, v, co} dy[n, i + (a + pt - kh) / sh,
//                                                   j + (r + pl - kw) / sw, co] w[kh, kw, ci, co]
// is a stride-1 convolution of dy (Cout channels in, Cin out) with the class's taps, reversed
// (tap u' = nh - 1 - u is kh = kh_max - sh u', so the row offset grows with u' as a forward's
// does) and transposed; the forward kernels then compute it at their speed, storing through
// the output placement (put_y4). This kernel writes the class's weights
//   wc[u', v', co, ci] = w[kh_max - sh u', kw_max - sw v', ci, co]
// (class a = dims.ya, r = dims.yb, strides dims.ysh, dims.ysw; KH, KW, Cin, Cout, pt, pl of
// the convolution) into dw's binding; invocation e (1-D grid, see grid1d) writes element e.
@compute @workgroup_size(64)
fn subpixel_weights(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let e = gid.x + gid.y * nwg.x * 64u;
  let kh0 = (dims.ya + dims.pt) % dims.ysh;
  let kw0 = (dims.yb + dims.pl) % dims.ysw;
  let nh = (dims.kh - kh0 + dims.ysh - 1u) / dims.ysh;
  let nw = (dims.kw - kw0 + dims.ysw - 1u) / dims.ysw;
  let C = dims.cin;
  let N = dims.cout;
  if (e >= nh * nw * C * N) { return; }
  let ci = e % C;
  let co = (e / C) % N;
  let t = e / (C * N);
  let kh = kh0 + dims.ysh * (nh - 1u - t / nw);
  let kw = kw0 + dims.ysw * (nw - 1u - t % nw);
  dw[e] = w[((kh * dims.kw + kw) * C + ci) * N + co];
}

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

// dx = dy w^T per tap as an implicit GEMM, reducing along Cout four at a time (Cout % 4 == 0),
// 16 input pixels x 16 in channels per invocation. The pixels are a grid of gr rows x 16 / gr
// columns (gr = dims.gr, chosen by conv2d.ts to waste the fewest grid points: 4 for images,
// 1 for one-row sequences) whose rows are congruent modulo the row stride and whose columns are
// congruent modulo the column stride: then a tap (kh, kw) hits an output position for all
// sixteen or for none (except past an edge of the image), so the taps the stride skips are
// skipped whole instead of masked, which with stride 2 would waste three quarters of the work.
// Pixel group g (four pixels q of one grid row) has
//   ih = a + sh (gr t + g / m),  iw = r + sw (4 m c + 4 (g % m) + q),  m = 4 / gr groups a row,
// block id (((n sh + a) T + t) sw + r) chunks + c, T = ceil(ceil(H / sh) / gr) and
// chunks = ceil(ceil(W / sw) / (4 m)); grid points past the image compute a copy of a pixel
// inside and are not stored. Per used tap and vec4 k of Cout:
//   a{g}{j} += Wj^T D{g},  Wj columns = w rows (kh, kw, cb + 4 j + i), vec4 k; D{g} columns =
//                          dy of group g's four pixels' outputs, vec4 k (0 where none),
// so column q of a{g}{j} is pixel (g, q), components in channels cb + 4 j + (0..3).
@compute @workgroup_size(4, 16)
fn backward_dx_vec4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let C = dims.cin;
  let gr = dims.gr;
  let m = 4u / gr;
  let chunks = ((dims.width + dims.sw - 1u) / dims.sw + 4u * m - 1u) / (4u * m);
  let T = ((dims.height + dims.sh - 1u) / dims.sh + gr - 1u) / gr;
  let cb = 16u * gid.x;
  var id = flat_y(gid, nwg, 16u);
  if (cb >= C || id >= dims.batch * dims.sh * T * dims.sw * chunks) { return; }
  let c = id % chunks;
  id /= chunks;
  let r = id % dims.sw;
  id /= dims.sw;
  let t = id % T;
  id /= T;
  let a = id % dims.sh;
  let n = id / dims.sh;
  // Per group g (vector lanes g): its grid row, and the column of its first pixel.
  let gs = LANES;
  let ih = vec4u(a + dims.sh * gr * t) + dims.sh * (gs / m);
  let iwg = vec4u(r + dims.sw * 4u * m * c) + dims.sw * 4u * (gs % m);
  let in_h = ih < vec4u(dims.height);
  let ihc = min(ih, vec4u(dims.height - 1u));
  let th0 = vec4i(ihc + dims.pt);   // ih + pt = oh sh + kh
  // Columns of each group's four pixels (lanes q), clamped into the image.
  let qs = dims.sw * LANES;
  let iw0 = vec4u(iwg.x) + qs;
  let iw1 = vec4u(iwg.y) + qs;
  let iw2 = vec4u(iwg.z) + qs;
  let iw3 = vec4u(iwg.w) + qs;
  let Wl = vec4u(dims.width - 1u);
  let tw0 = vec4i(min(iw0, Wl) + dims.pl);   // iw + pl = ow sw + kw
  let tw1 = vec4i(min(iw1, Wl) + dims.pl);
  let tw2 = vec4i(min(iw2, Wl) + dims.pl);
  let tw3 = vec4i(min(iw3, Wl) + dims.pl);
  let sh = vec4i(i32(dims.sh));
  let c0 = min(vec4u(cb) + LANES, vec4u(C - 1u));
  let c1 = min(vec4u(cb + 4u) + LANES, vec4u(C - 1u));
  let c2 = min(vec4u(cb + 8u) + LANES, vec4u(C - 1u));
  let c3 = min(vec4u(cb + 12u) + LANES, vec4u(C - 1u));
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    let th = th0 - i32(kh);
    let oh = th / sh;
    let okh = (th >= vec4i(0)) & (th - oh * sh == vec4i(0)) & (oh < vec4i(i32(dims.ho)));
    if (!any(okh)) { continue; }
    // Output row start of each group (0 where it has none).
    let orow = select(vec4u(0u), (vec4u(n * dims.ho) + vec4u(oh)) * dims.wo, okh);
    let mh = select(vec4f(0.0), vec4f(1.0), okh);
    for (var kw = 0u; kw < dims.kw; kw++) {
      let d0 = dy_offsets(tw0, kw, orow.x, mh.x);
      let d1 = dy_offsets(tw1, kw, orow.y, mh.y);
      let d2 = dy_offsets(tw2, kw, orow.z, mh.z);
      let d3 = dy_offsets(tw3, kw, orow.w, mh.w);
      if (!any((d0.m != vec4f(0.0)) | (d1.m != vec4f(0.0)) | (d2.m != vec4f(0.0)) |
          (d3.m != vec4f(0.0)))) { continue; }
      let wr = (kh * dims.kw + kw) * C;
      let w0 = (vec4u(wr) + c0) * n4;
      let w1 = (vec4u(wr) + c1) * n4;
      let w2 = (vec4u(wr) + c2) * n4;
      let w3 = (vec4u(wr) + c3) * n4;
      for (var k = 0u; k < n4; k++) {
        let W0 = transpose(mat4x4f(w4[w0.x + k], w4[w0.y + k], w4[w0.z + k], w4[w0.w + k]));
        let W1 = transpose(mat4x4f(w4[w1.x + k], w4[w1.y + k], w4[w1.z + k], w4[w1.w + k]));
        let W2 = transpose(mat4x4f(w4[w2.x + k], w4[w2.y + k], w4[w2.z + k], w4[w2.w + k]));
        let W3 = transpose(mat4x4f(w4[w3.x + k], w4[w3.y + k], w4[w3.z + k], w4[w3.w + k]));
        let D0 = mat4x4f(dy4[d0.o.x + k] * d0.m.x, dy4[d0.o.y + k] * d0.m.y,
          dy4[d0.o.z + k] * d0.m.z, dy4[d0.o.w + k] * d0.m.w);
        let D1 = mat4x4f(dy4[d1.o.x + k] * d1.m.x, dy4[d1.o.y + k] * d1.m.y,
          dy4[d1.o.z + k] * d1.m.z, dy4[d1.o.w + k] * d1.m.w);
        let D2 = mat4x4f(dy4[d2.o.x + k] * d2.m.x, dy4[d2.o.y + k] * d2.m.y,
          dy4[d2.o.z + k] * d2.m.z, dy4[d2.o.w + k] * d2.m.w);
        let D3 = mat4x4f(dy4[d3.o.x + k] * d3.m.x, dy4[d3.o.y + k] * d3.m.y,
          dy4[d3.o.z + k] * d3.m.z, dy4[d3.o.w + k] * d3.m.w);
        a00 += W0 * D0; a01 += W1 * D0; a02 += W2 * D0; a03 += W3 * D0;
        a10 += W0 * D1; a11 += W1 * D1; a12 += W2 * D1; a13 += W3 * D1;
        a20 += W0 * D2; a21 += W1 * D2; a22 += W2 * D2; a23 += W3 * D2;
        a30 += W0 * D3; a31 += W1 * D3; a32 += W2 * D3; a33 += W3 * D3;
      }
    }
  }
  // Flat pixel of each grid point; those outside the image get an index no pixel has.
  let Q = dims.batch * dims.height * dims.width;
  let row0 = (n * dims.height + ihc) * dims.width;
  let W = vec4u(dims.width);
  let q0 = select(vec4u(Q), vec4u(row0.x) + iw0, (iw0 < W) & vec4<bool>(in_h.x));
  let q1 = select(vec4u(Q), vec4u(row0.y) + iw1, (iw1 < W) & vec4<bool>(in_h.y));
  let q2 = select(vec4u(Q), vec4u(row0.z) + iw2, (iw2 < W) & vec4<bool>(in_h.z));
  let q3 = select(vec4u(Q), vec4u(row0.w) + iw3, (iw3 < W) & vec4<bool>(in_h.w));
  put_dx(q0.x, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dx(q0.y, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dx(q0.z, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dx(q0.w, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dx(q1.x, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dx(q1.y, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dx(q1.z, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dx(q1.w, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dx(q2.x, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dx(q2.y, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dx(q2.z, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dx(q2.w, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dx(q3.x, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dx(q3.y, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dx(q3.z, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dx(q3.w, cb, a30[3], a31[3], a32[3], a33[3]);
}

// As backward_dx_vec4 with 8 in channels per invocation (for 16 <= Cin <= 32): the four
// invocations of a workgroup row then still cover all of Cin and share their 16 pixels, whose
// dy reads llvmpipe serves far faster when the lanes of a vector ask for the same pixels
// (measured: 4 lanes sharing vs 2 vs 1 gave 1 : 0.68 : 0.37 of the speed). a{g}{j}, j = 0, 1.
@compute @workgroup_size(4, 16)
fn backward_dx_vec4_c8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let C = dims.cin;
  let gr = dims.gr;
  let m = 4u / gr;
  let chunks = ((dims.width + dims.sw - 1u) / dims.sw + 4u * m - 1u) / (4u * m);
  let T = ((dims.height + dims.sh - 1u) / dims.sh + gr - 1u) / gr;
  let cb = 8u * gid.x;
  var id = flat_y(gid, nwg, 16u);
  if (cb >= C || id >= dims.batch * dims.sh * T * dims.sw * chunks) { return; }
  let c = id % chunks;
  id /= chunks;
  let r = id % dims.sw;
  id /= dims.sw;
  let t = id % T;
  id /= T;
  let a = id % dims.sh;
  let n = id / dims.sh;
  // Per group g (vector lanes g): its grid row, and the column of its first pixel.
  let gs = LANES;
  let ih = vec4u(a + dims.sh * gr * t) + dims.sh * (gs / m);
  let iwg = vec4u(r + dims.sw * 4u * m * c) + dims.sw * 4u * (gs % m);
  let in_h = ih < vec4u(dims.height);
  let ihc = min(ih, vec4u(dims.height - 1u));
  let th0 = vec4i(ihc + dims.pt);   // ih + pt = oh sh + kh
  // Columns of each group's four pixels (lanes q), clamped into the image.
  let qs = dims.sw * LANES;
  let iw0 = vec4u(iwg.x) + qs;
  let iw1 = vec4u(iwg.y) + qs;
  let iw2 = vec4u(iwg.z) + qs;
  let iw3 = vec4u(iwg.w) + qs;
  let Wl = vec4u(dims.width - 1u);
  let tw0 = vec4i(min(iw0, Wl) + dims.pl);   // iw + pl = ow sw + kw
  let tw1 = vec4i(min(iw1, Wl) + dims.pl);
  let tw2 = vec4i(min(iw2, Wl) + dims.pl);
  let tw3 = vec4i(min(iw3, Wl) + dims.pl);
  let sh = vec4i(i32(dims.sh));
  let c0 = min(vec4u(cb) + LANES, vec4u(C - 1u));
  let c1 = min(vec4u(cb + 4u) + LANES, vec4u(C - 1u));
  var a00 = mat4x4f(); var a01 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    let th = th0 - i32(kh);
    let oh = th / sh;
    let okh = (th >= vec4i(0)) & (th - oh * sh == vec4i(0)) & (oh < vec4i(i32(dims.ho)));
    if (!any(okh)) { continue; }
    // Output row start of each group (0 where it has none).
    let orow = select(vec4u(0u), (vec4u(n * dims.ho) + vec4u(oh)) * dims.wo, okh);
    let mh = select(vec4f(0.0), vec4f(1.0), okh);
    for (var kw = 0u; kw < dims.kw; kw++) {
      let d0 = dy_offsets(tw0, kw, orow.x, mh.x);
      let d1 = dy_offsets(tw1, kw, orow.y, mh.y);
      let d2 = dy_offsets(tw2, kw, orow.z, mh.z);
      let d3 = dy_offsets(tw3, kw, orow.w, mh.w);
      if (!any((d0.m != vec4f(0.0)) | (d1.m != vec4f(0.0)) | (d2.m != vec4f(0.0)) |
          (d3.m != vec4f(0.0)))) { continue; }
      let wr = (kh * dims.kw + kw) * C;
      let w0 = (vec4u(wr) + c0) * n4;
      let w1 = (vec4u(wr) + c1) * n4;
      for (var k = 0u; k < n4; k++) {
        let W0 = transpose(mat4x4f(w4[w0.x + k], w4[w0.y + k], w4[w0.z + k], w4[w0.w + k]));
        let W1 = transpose(mat4x4f(w4[w1.x + k], w4[w1.y + k], w4[w1.z + k], w4[w1.w + k]));
        let D0 = mat4x4f(dy4[d0.o.x + k] * d0.m.x, dy4[d0.o.y + k] * d0.m.y,
          dy4[d0.o.z + k] * d0.m.z, dy4[d0.o.w + k] * d0.m.w);
        let D1 = mat4x4f(dy4[d1.o.x + k] * d1.m.x, dy4[d1.o.y + k] * d1.m.y,
          dy4[d1.o.z + k] * d1.m.z, dy4[d1.o.w + k] * d1.m.w);
        let D2 = mat4x4f(dy4[d2.o.x + k] * d2.m.x, dy4[d2.o.y + k] * d2.m.y,
          dy4[d2.o.z + k] * d2.m.z, dy4[d2.o.w + k] * d2.m.w);
        let D3 = mat4x4f(dy4[d3.o.x + k] * d3.m.x, dy4[d3.o.y + k] * d3.m.y,
          dy4[d3.o.z + k] * d3.m.z, dy4[d3.o.w + k] * d3.m.w);
        a00 += W0 * D0; a01 += W1 * D0;
        a10 += W0 * D1; a11 += W1 * D1;
        a20 += W0 * D2; a21 += W1 * D2;
        a30 += W0 * D3; a31 += W1 * D3;
      }
    }
  }
  // Flat pixel of each grid point; those outside the image get an index no pixel has.
  let Q = dims.batch * dims.height * dims.width;
  let row0 = (n * dims.height + ihc) * dims.width;
  let W = vec4u(dims.width);
  let q0 = select(vec4u(Q), vec4u(row0.x) + iw0, (iw0 < W) & vec4<bool>(in_h.x));
  let q1 = select(vec4u(Q), vec4u(row0.y) + iw1, (iw1 < W) & vec4<bool>(in_h.y));
  let q2 = select(vec4u(Q), vec4u(row0.z) + iw2, (iw2 < W) & vec4<bool>(in_h.z));
  let q3 = select(vec4u(Q), vec4u(row0.w) + iw3, (iw3 < W) & vec4<bool>(in_h.w));
  put_dx8(q0.x, cb, a00[0], a01[0]);
  put_dx8(q0.y, cb, a00[1], a01[1]);
  put_dx8(q0.z, cb, a00[2], a01[2]);
  put_dx8(q0.w, cb, a00[3], a01[3]);
  put_dx8(q1.x, cb, a10[0], a11[0]);
  put_dx8(q1.y, cb, a10[1], a11[1]);
  put_dx8(q1.z, cb, a10[2], a11[2]);
  put_dx8(q1.w, cb, a10[3], a11[3]);
  put_dx8(q2.x, cb, a20[0], a21[0]);
  put_dx8(q2.y, cb, a20[1], a21[1]);
  put_dx8(q2.z, cb, a20[2], a21[2]);
  put_dx8(q2.w, cb, a20[3], a21[3]);
  put_dx8(q3.x, cb, a30[0], a31[0]);
  put_dx8(q3.y, cb, a30[1], a31[1]);
  put_dx8(q3.z, cb, a30[2], a31[2]);
  put_dx8(q3.w, cb, a30[3], a31[3]);
}

// dx pixel q, channels c .. c + 7 (clipped to Cin).
fn put_dx8(q: u32, c: u32, v0: vec4f, v1: vec4f) {
  if (q >= dims.batch * dims.height * dims.width) { return; }
  put_dx_quad(q * dims.cin, c, v0);
  put_dx_quad(q * dims.cin, c + 4u, v1);
}

// dy4 offsets (o, times Cout / 4, 0 where unused) and masks (m) of four pixels of one output row
// `orow` (row mask mh) at tap column kw: tw = iw + pl per pixel, ow = (tw - kw) / sw exact.
struct DyQuad {
  o: vec4u,
  m: vec4f,
}

fn dy_offsets(tw0: vec4i, kw: u32, orow: u32, mh: f32) -> DyQuad {
  let sw = vec4i(i32(dims.sw));
  let tw = tw0 - i32(kw);
  let ow = tw / sw;
  let ok = (tw >= vec4i(0)) & (tw - ow * sw == vec4i(0)) & (ow < vec4i(i32(dims.wo))) &
    vec4<bool>(mh != 0.0);
  return DyQuad(
    select(vec4u(0u), (vec4u(orow) + vec4u(ow)) * (dims.cout / 4u), ok),
    select(vec4f(0.0), vec4f(1.0), ok),
  );
}

// Partial sums of backward_dx_narrow's four lanes, per workgroup row.
var<workgroup> dx_part: array<vec4f, 64>;

// For few in channels (Cin < 16, where most of backward_dx_vec4's 16-channel block would be
// wasted, e.g. a decoder's last transposed layer with Cin = 1): workgroup row (gid.y) writes dx
// of 4 pixels of one row whose columns are congruent modulo the column stride (block id
// ((n H + ih) sw + r) chunks + c, iw = r + sw (4 c + q)) at in channel ci alone (flat id
// block Cin + ci); per used tap
//   a[q] += sum_k dot(dy4[output of pixel q, k], w4[(kh, kw, ci), k])   (masked per pixel),
// the four lanes of the row (gid.x) each taking a quarter of the k range, then summed through
// workgroup memory: lanes sharing their pixels make llvmpipe's gathers of dy far cheaper.
@compute @workgroup_size(4, 16)
fn backward_dx_narrow(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let C = dims.cin;
  let chunks = ((dims.width + dims.sw - 1u) / dims.sw + 3u) / 4u;
  let per_row = dims.sw * chunks;
  let fid = flat_y(gid, nwg, 16u);
  let ci = fid % C;
  let id = fid / C;
  // No early return: every lane reaches the barrier; dead rows compute a copy and store nothing.
  let live = id < dims.batch * dims.height * per_row;
  let idc = min(id, dims.batch * dims.height * per_row - 1u);
  let row = idc / per_row;   // n H + ih
  let r = (idc % per_row) / chunks;
  let iw = vec4u(r + dims.sw * 4u * (idc % chunks)) + dims.sw * LANES;
  let iwc = min(iw, vec4u(dims.width - 1u));
  let n = row / dims.height;
  let ih = row % dims.height;
  let Q = dims.batch * dims.height * dims.width;
  let qs = select(vec4u(Q), vec4u(row * dims.width) + iwc, (iw < vec4u(dims.width)) &
    vec4<bool>(live));
  let tw0 = vec4i(iwc + dims.pl);
  let sw = vec4i(i32(dims.sw));
  let Wo = vec4i(i32(dims.wo));
  let kq = (n4 + 3u) / 4u;
  let k0 = min(lid.x * kq, n4);
  let k1 = min(k0 + kq, n4);
  var a = vec4f();
  for (var kh = 0u; kh < dims.kh; kh++) {
    let th = ih + dims.pt;
    if (th < kh || (th - kh) % dims.sh != 0u || (th - kh) / dims.sh >= dims.ho) { continue; }
    let orow = (n * dims.ho + (th - kh) / dims.sh) * dims.wo;
    for (var kw = 0u; kw < dims.kw; kw++) {
      let tw = tw0 - i32(kw);
      let ow = tw / sw;
      let ok = (tw >= vec4i(0)) & (tw - ow * sw == vec4i(0)) & (ow < Wo);
      if (!any(ok)) { continue; }
      let go = select(vec4u(0u), (vec4u(orow) + vec4u(ow)) * n4, ok);
      let wr = ((kh * dims.kw + kw) * C + ci) * n4;
      var t = vec4f();
      for (var k = k0; k < k1; k++) {
        let wv = w4[wr + k];
        t += vec4f(
          dot(dy4[go.x + k], wv),
          dot(dy4[go.y + k], wv),
          dot(dy4[go.z + k], wv),
          dot(dy4[go.w + k], wv),
        );
      }
      a += select(vec4f(0.0), t, ok);
    }
  }
  dx_part[lid.y * 4u + lid.x] = a;
  workgroupBarrier();
  if (lid.x != 0u) { return; }
  let o = lid.y * 4u;
  let sum = dx_part[o] + dx_part[o + 1u] + dx_part[o + 2u] + dx_part[o + 3u];
  if (qs.x < Q) { dx[qs.x * C + ci] = sum.x; }
  if (qs.y < Q) { dx[qs.y * C + ci] = sum.y; }
  if (qs.z < Q) { dx[qs.z * C + ci] = sum.z; }
  if (qs.w < Q) { dx[qs.w * C + ci] = sum.w; }
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

// dw row r, vec4 channels c .. c + 3 (clipped), of the partial dw of image chunk z.
fn put_dw4(z: u32, r: u32, c: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  let n4 = dims.cout / 4u;
  let R = dims.kh * dims.kw * dims.cin;
  if (r >= R) { return; }
  let o = (z * R + r) * n4 + c;
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

// Four flat output pixels p .. p + 3 (used by the vec4 forwards and dw): clamped below p1 (the
// end of the pixels, or of a dw image chunk) so always valid indices, live where below p1.
struct PixelQuad {
  live: vec4<bool>,
  go: vec4u,     // dy4 offset of each pixel (times Cout / 4)
  img: vec4i,    // first x row of each pixel's image
  ih0: vec4i,    // oh sh - pt
  iw0: vec4i,    // ow sw - pl
}

fn pixel_quad(p: u32, p1: u32) -> PixelQuad {
  let ps = vec4u(p) + LANES;
  let pc = min(ps, vec4u(p1 - 1u));
  let hw = dims.ho * dims.wo;
  let rem = pc % hw;
  return PixelQuad(
    ps < vec4u(p1),
    pc * (dims.cout / 4u),
    vec4i((pc / hw) * dims.height),
    vec4i(rem / dims.wo * dims.sh) - i32(dims.pt),
    vec4i(rem % dims.wo * dims.sw) - i32(dims.pl),
  );
}

// Pixel offsets into x (times Cin gives the element) of the four pixels' tap (kh, kw); -1 where
// the tap is padding.
fn tap_offsets(q: PixelQuad, kh: u32, kw: u32) -> vec4i {
  let ih = q.ih0 + i32(kh);
  let iw = q.iw0 + i32(kw);
  let W = vec4i(i32(dims.width));
  let ok = (ih >= vec4i(0)) & (ih < vec4i(i32(dims.height))) & (iw >= vec4i(0)) & (iw < W);
  return select(vec4i(-1), (q.img + ih) * W + iw, ok);
}

// D: column i is dy4[pixel i, channel vec4 c], zero for pixels past the chunk's end.
fn dy_quad(q: PixelQuad, c: u32) -> mat4x4f {
  let m = select(vec4f(0.0), vec4f(1.0), q.live);
  return mat4x4f(dy4[q.go.x + c] * m.x, dy4[q.go.y + c] * m.y, dy4[q.go.z + c] * m.z,
    dy4[q.go.w + c] * m.w);
}

// dw of rows r in [4 gid.y, +4) x channels [16 gid.x, +16) (clipped) over image chunk gid.z
// (see reduce_splits). a{j}: column q is dw row rb + q, components are channels 4 (cb + j) +
// (0..3). Per output pixel: a{j} += dy4[pixel, cb + j] (x at the pixel's taps of the four
// rows)^T. (Rank-1 updates: four-pixel block products as in backward_dw_vec4_cin4 measured
// slower here, where Cin is 1 or 3 and the four rows are scattered taps.) Rows past the end of
// dw repeat the last row and are not stored.
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
  let n0 = gid.z * dims.chunk;
  let n1 = min(n0 + dims.chunk, dims.batch);
  var p = n0 * dims.ho * dims.wo;   // flat output pixel, advanced in step with (n, oh, ow)
  for (var n = n0; n < n1; n++) {
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
  put_dw4(gid.z, rb, cb, a0[0], a1[0], a2[0], a3[0]);
  put_dw4(gid.z, rb + 1u, cb, a0[1], a1[1], a2[1], a3[1]);
  put_dw4(gid.z, rb + 2u, cb, a0[2], a1[2], a2[2], a3[2]);
  put_dw4(gid.z, rb + 3u, cb, a0[3], a1[3], a2[3], a3[3]);
}

// One in channel and a 3x3 kernel (the first layer of an image encoder, and the weight gradient
// of a decoder's last transposed layer): invocation i (1-D grid, see grid1d) = chunk z nb + block
// (nb = ceil(Cout / 16)) sums over the pixels of output rows [z R, +R) (R = dims.strip; flat rows
// n Ho + oh) the partial dw of channels [16 cb, +16) (clipped) for all nine taps, held in nine 4x4
// matrices (column j = channel vec4 cb + j); per pixel p it reads 16 dy and 9 x values:
//   a{kh kw}[j] += dy4[p, cb + j] x[tap (kh, kw) of p]   (0 if padding)
// and writes chunk z's partial dw (rows t = kh 3 + kw) for reduce_splits (dims.splits chunks).
@compute @workgroup_size(64)
fn backward_dw_cin1_k3(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let nb = (n4 + 3u) / 4u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let z = i / nb;
  if (z >= dims.splits) { return; }
  let cb = 4u * (i % nb);   // in vec4 channels
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f();
  let row1 = min((z + 1u) * dims.strip, dims.batch * dims.ho);
  for (var row = z * dims.strip; row < row1; row++) {
    let n = row / dims.ho;
    let ih = vec3i(i32((row % dims.ho) * dims.sh) - i32(dims.pt)) + vec3i(0, 1, 2);
    let hok = (ih >= vec3i(0)) & (ih < vec3i(i32(dims.height)));
    let xrow = (vec3i(i32(n * dims.height)) + ih) * i32(dims.width);
    for (var ow = 0u; ow < dims.wo; ow++) {
      let iw = vec3i(i32(ow * dims.sw) - i32(dims.pl)) + vec3i(0, 1, 2);
      let wok = (iw >= vec3i(0)) & (iw < vec3i(i32(dims.width)));
      let r0 = x_row3(xrow.x + iw, wok & vec3<bool>(hok.x));
      let r1 = x_row3(xrow.y + iw, wok & vec3<bool>(hok.y));
      let r2 = x_row3(xrow.z + iw, wok & vec3<bool>(hok.z));
      let go = (row * dims.wo + ow) * n4;
      let D = mat4x4f(dy4[go + cs.x], dy4[go + cs.y], dy4[go + cs.z], dy4[go + cs.w]);
      a00 = tap_fma(a00, D, r0.x); a01 = tap_fma(a01, D, r0.y); a02 = tap_fma(a02, D, r0.z);
      a10 = tap_fma(a10, D, r1.x); a11 = tap_fma(a11, D, r1.y); a12 = tap_fma(a12, D, r1.z);
      a20 = tap_fma(a20, D, r2.x); a21 = tap_fma(a21, D, r2.y); a22 = tap_fma(a22, D, r2.z);
    }
  }
  put_dw4(z, 0u, cb, a00[0], a00[1], a00[2], a00[3]);
  put_dw4(z, 1u, cb, a01[0], a01[1], a01[2], a01[3]);
  put_dw4(z, 2u, cb, a02[0], a02[1], a02[2], a02[3]);
  put_dw4(z, 3u, cb, a10[0], a10[1], a10[2], a10[3]);
  put_dw4(z, 4u, cb, a11[0], a11[1], a11[2], a11[3]);
  put_dw4(z, 5u, cb, a12[0], a12[1], a12[2], a12[3]);
  put_dw4(z, 6u, cb, a20[0], a20[1], a20[2], a20[3]);
  put_dw4(z, 7u, cb, a21[0], a21[1], a21[2], a21[3]);
  put_dw4(z, 8u, cb, a22[0], a22[1], a22[2], a22[3]);
}

// X: column j is x4[pixel j's tap, in channel vec4 k] (0 for padding).
fn x_quad(o: vec4i, k: u32) -> mat4x4f {
  let c4 = dims.cin / 4u;
  let xo = select(vec4u(0u), vec4u(o) * c4 + k, o >= vec4i(0));
  let m = select(vec4f(0.0), vec4f(1.0), o >= vec4i(0));
  return mat4x4f(x4[xo.x] * m.x, x4[xo.y] * m.y, x4[xo.z] * m.z, x4[xo.w] * m.w);
}

// As backward_dw_vec4 for Cin % 4 == 0, with a 16-row block: rows rb + 4 g + (0..3) are four
// in channels of one tap (quad g), x read as vec4s; per four pixels
//   a{g}{j} += D{j} X{g}^T,  X{g} columns = x4 of the four pixels at quad g's tap and channels
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
  let khs = kk / dims.kw;
  let kws = kk % dims.kw;
  let cis = gs % c4;
  let hw = dims.ho * dims.wo;
  let p0 = gid.z * dims.chunk * hw;
  let p1 = min(p0 + dims.chunk * hw, dims.batch * hw);
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  for (var p = p0; p < p1; p += 4u) {
    let q = pixel_quad(p, p1);
    let X0 = transpose(x_quad(tap_offsets(q, khs.x, kws.x), cis.x));
    let X1 = transpose(x_quad(tap_offsets(q, khs.y, kws.y), cis.y));
    let X2 = transpose(x_quad(tap_offsets(q, khs.z, kws.z), cis.z));
    let X3 = transpose(x_quad(tap_offsets(q, khs.w, kws.w), cis.w));
    let D0 = dy_quad(q, cs.x);
    let D1 = dy_quad(q, cs.y);
    let D2 = dy_quad(q, cs.z);
    let D3 = dy_quad(q, cs.w);
    a00 += D0 * X0; a01 += D1 * X0; a02 += D2 * X0; a03 += D3 * X0;
    a10 += D0 * X1; a11 += D1 * X1; a12 += D2 * X1; a13 += D3 * X1;
    a20 += D0 * X2; a21 += D1 * X2; a22 += D2 * X2; a23 += D3 * X2;
    a30 += D0 * X3; a31 += D1 * X3; a32 += D2 * X3; a33 += D3 * X3;
  }
  let rb = 4u * gb;
  put_dw4(gid.z, rb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dw4(gid.z, rb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dw4(gid.z, rb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dw4(gid.z, rb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dw4(gid.z, rb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dw4(gid.z, rb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dw4(gid.z, rb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dw4(gid.z, rb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dw4(gid.z, rb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dw4(gid.z, rb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dw4(gid.z, rb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dw4(gid.z, rb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dw4(gid.z, rb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dw4(gid.z, rb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dw4(gid.z, rb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dw4(gid.z, rb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
}

// As backward_dw_vec4_cin4 with 32 out channels per invocation (16 rows x 32 channels, 32 matrix
// accumulators a{g}{j}, j = 0..7 over channel vec4s cb + j): per four pixels 16 vec4s of x and
// 32 of dy feed 32 block products (see forward_vec4_cin4_c32 for why that pays on llvmpipe).
// Invocation i (1-D grid, see grid1d) = (chunk z, quad block, channel block) with the channel
// block fastest: i = (z nr + block) nb + cbk, nr = ceil(KH KW Cin / 16), nb = ceil(Cout / 32).
@compute @workgroup_size(64)
fn backward_dw_vec4_cin4_c32(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let R4 = dims.kh * dims.kw * c4;   // quads of rows
  let nr = (R4 + 3u) / 4u;
  let nb = (n4 + 7u) / 8u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let z = i / (nr * nb);
  if (z >= dims.splits) { return; }
  let cb = 8u * (i % nb);   // in vec4 channels
  let gb = 4u * ((i / nb) % nr);   // in quads
  let gs = min(vec4u(gb) + LANES, vec4u(R4 - 1u));
  let cs = min(vec4u(cb) + LANES, vec4u(n4 - 1u));
  let ct = min(vec4u(cb + 4u) + LANES, vec4u(n4 - 1u));
  let kk = gs / c4;   // tap kh KW + kw of each quad
  let khs = kk / dims.kw;
  let kws = kk % dims.kw;
  let cis = gs % c4;
  let hw = dims.ho * dims.wo;
  let p0 = z * dims.chunk * hw;
  let p1 = min(p0 + dims.chunk * hw, dims.batch * hw);
  var a00 = mat4x4f(); var a01 = mat4x4f(); var a02 = mat4x4f(); var a03 = mat4x4f();
  var a04 = mat4x4f(); var a05 = mat4x4f(); var a06 = mat4x4f(); var a07 = mat4x4f();
  var a10 = mat4x4f(); var a11 = mat4x4f(); var a12 = mat4x4f(); var a13 = mat4x4f();
  var a14 = mat4x4f(); var a15 = mat4x4f(); var a16 = mat4x4f(); var a17 = mat4x4f();
  var a20 = mat4x4f(); var a21 = mat4x4f(); var a22 = mat4x4f(); var a23 = mat4x4f();
  var a24 = mat4x4f(); var a25 = mat4x4f(); var a26 = mat4x4f(); var a27 = mat4x4f();
  var a30 = mat4x4f(); var a31 = mat4x4f(); var a32 = mat4x4f(); var a33 = mat4x4f();
  var a34 = mat4x4f(); var a35 = mat4x4f(); var a36 = mat4x4f(); var a37 = mat4x4f();
  for (var p = p0; p < p1; p += 4u) {
    let q = pixel_quad(p, p1);
    let X0 = transpose(x_quad(tap_offsets(q, khs.x, kws.x), cis.x));
    let X1 = transpose(x_quad(tap_offsets(q, khs.y, kws.y), cis.y));
    let X2 = transpose(x_quad(tap_offsets(q, khs.z, kws.z), cis.z));
    let X3 = transpose(x_quad(tap_offsets(q, khs.w, kws.w), cis.w));
    let D0 = dy_quad(q, cs.x);
    let D1 = dy_quad(q, cs.y);
    let D2 = dy_quad(q, cs.z);
    let D3 = dy_quad(q, cs.w);
    let D4 = dy_quad(q, ct.x);
    let D5 = dy_quad(q, ct.y);
    let D6 = dy_quad(q, ct.z);
    let D7 = dy_quad(q, ct.w);
    a00 += D0 * X0; a01 += D1 * X0; a02 += D2 * X0; a03 += D3 * X0;
    a04 += D4 * X0; a05 += D5 * X0; a06 += D6 * X0; a07 += D7 * X0;
    a10 += D0 * X1; a11 += D1 * X1; a12 += D2 * X1; a13 += D3 * X1;
    a14 += D4 * X1; a15 += D5 * X1; a16 += D6 * X1; a17 += D7 * X1;
    a20 += D0 * X2; a21 += D1 * X2; a22 += D2 * X2; a23 += D3 * X2;
    a24 += D4 * X2; a25 += D5 * X2; a26 += D6 * X2; a27 += D7 * X2;
    a30 += D0 * X3; a31 += D1 * X3; a32 += D2 * X3; a33 += D3 * X3;
    a34 += D4 * X3; a35 += D5 * X3; a36 += D6 * X3; a37 += D7 * X3;
  }
  let rb = 4u * gb;
  put_dw4(z, rb + 0u, cb, a00[0], a01[0], a02[0], a03[0]);
  put_dw4(z, rb + 0u, cb + 4u, a04[0], a05[0], a06[0], a07[0]);
  put_dw4(z, rb + 1u, cb, a00[1], a01[1], a02[1], a03[1]);
  put_dw4(z, rb + 1u, cb + 4u, a04[1], a05[1], a06[1], a07[1]);
  put_dw4(z, rb + 2u, cb, a00[2], a01[2], a02[2], a03[2]);
  put_dw4(z, rb + 2u, cb + 4u, a04[2], a05[2], a06[2], a07[2]);
  put_dw4(z, rb + 3u, cb, a00[3], a01[3], a02[3], a03[3]);
  put_dw4(z, rb + 3u, cb + 4u, a04[3], a05[3], a06[3], a07[3]);
  put_dw4(z, rb + 4u, cb, a10[0], a11[0], a12[0], a13[0]);
  put_dw4(z, rb + 4u, cb + 4u, a14[0], a15[0], a16[0], a17[0]);
  put_dw4(z, rb + 5u, cb, a10[1], a11[1], a12[1], a13[1]);
  put_dw4(z, rb + 5u, cb + 4u, a14[1], a15[1], a16[1], a17[1]);
  put_dw4(z, rb + 6u, cb, a10[2], a11[2], a12[2], a13[2]);
  put_dw4(z, rb + 6u, cb + 4u, a14[2], a15[2], a16[2], a17[2]);
  put_dw4(z, rb + 7u, cb, a10[3], a11[3], a12[3], a13[3]);
  put_dw4(z, rb + 7u, cb + 4u, a14[3], a15[3], a16[3], a17[3]);
  put_dw4(z, rb + 8u, cb, a20[0], a21[0], a22[0], a23[0]);
  put_dw4(z, rb + 8u, cb + 4u, a24[0], a25[0], a26[0], a27[0]);
  put_dw4(z, rb + 9u, cb, a20[1], a21[1], a22[1], a23[1]);
  put_dw4(z, rb + 9u, cb + 4u, a24[1], a25[1], a26[1], a27[1]);
  put_dw4(z, rb + 10u, cb, a20[2], a21[2], a22[2], a23[2]);
  put_dw4(z, rb + 10u, cb + 4u, a24[2], a25[2], a26[2], a27[2]);
  put_dw4(z, rb + 11u, cb, a20[3], a21[3], a22[3], a23[3]);
  put_dw4(z, rb + 11u, cb + 4u, a24[3], a25[3], a26[3], a27[3]);
  put_dw4(z, rb + 12u, cb, a30[0], a31[0], a32[0], a33[0]);
  put_dw4(z, rb + 12u, cb + 4u, a34[0], a35[0], a36[0], a37[0]);
  put_dw4(z, rb + 13u, cb, a30[1], a31[1], a32[1], a33[1]);
  put_dw4(z, rb + 13u, cb + 4u, a34[1], a35[1], a36[1], a37[1]);
  put_dw4(z, rb + 14u, cb, a30[2], a31[2], a32[2], a33[2]);
  put_dw4(z, rb + 14u, cb + 4u, a34[2], a35[2], a36[2], a37[2]);
  put_dw4(z, rb + 15u, cb, a30[3], a31[3], a32[3], a33[3]);
  put_dw4(z, rb + 15u, cb + 4u, a34[3], a35[3], a36[3], a37[3]);
}

// As backward_dw_vec4_cin4_c32 with bigger blocks: 32 rows (eight quads g) x 64 channels
// (16 vec4s j), 128 matrix accumulators a{g}_{j}: per four pixels 32 vec4s of x and 64 of dy
// feed 128 block products, 8192 multiply-adds for 384 loaded values. Invocation i (1-D grid) =
// (z nr + block) nb + channel block, nr = ceil(KH KW Cin / 32), nb = ceil(Cout / 64).
@compute @workgroup_size(64)
fn backward_dw_vec4_cin4_r32c64(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let R4 = dims.kh * dims.kw * c4;   // quads of rows
  let nr = (R4 + 7u) / 8u;
  let nb = (n4 + 15u) / 16u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let z = i / (nr * nb);
  if (z >= dims.splits) { return; }
  let cb = 16u * (i % nb);   // in vec4 channels
  let gb = 8u * ((i / nb) % nr);   // in quads
  let gs0 = min(vec4u(gb + 0u) + LANES, vec4u(R4 - 1u));
  let kk0 = gs0 / c4;
  let kh0 = kk0 / dims.kw;
  let kw0 = kk0 % dims.kw;
  let ci0 = gs0 % c4;
  let gs1 = min(vec4u(gb + 4u) + LANES, vec4u(R4 - 1u));
  let kk1 = gs1 / c4;
  let kh1 = kk1 / dims.kw;
  let kw1 = kk1 % dims.kw;
  let ci1 = gs1 % c4;
  let cs0 = min(vec4u(cb + 0u) + LANES, vec4u(n4 - 1u));
  let cs1 = min(vec4u(cb + 4u) + LANES, vec4u(n4 - 1u));
  let cs2 = min(vec4u(cb + 8u) + LANES, vec4u(n4 - 1u));
  let cs3 = min(vec4u(cb + 12u) + LANES, vec4u(n4 - 1u));
  let hw = dims.ho * dims.wo;
  let p0 = z * dims.chunk * hw;
  let p1 = min(p0 + dims.chunk * hw, dims.batch * hw);
  var a0_0 = mat4x4f(); var a0_1 = mat4x4f(); var a0_2 = mat4x4f(); var a0_3 = mat4x4f();
  var a0_4 = mat4x4f(); var a0_5 = mat4x4f(); var a0_6 = mat4x4f(); var a0_7 = mat4x4f();
  var a0_8 = mat4x4f(); var a0_9 = mat4x4f(); var a0_10 = mat4x4f(); var a0_11 = mat4x4f();
  var a0_12 = mat4x4f(); var a0_13 = mat4x4f(); var a0_14 = mat4x4f(); var a0_15 = mat4x4f();
  var a1_0 = mat4x4f(); var a1_1 = mat4x4f(); var a1_2 = mat4x4f(); var a1_3 = mat4x4f();
  var a1_4 = mat4x4f(); var a1_5 = mat4x4f(); var a1_6 = mat4x4f(); var a1_7 = mat4x4f();
  var a1_8 = mat4x4f(); var a1_9 = mat4x4f(); var a1_10 = mat4x4f(); var a1_11 = mat4x4f();
  var a1_12 = mat4x4f(); var a1_13 = mat4x4f(); var a1_14 = mat4x4f(); var a1_15 = mat4x4f();
  var a2_0 = mat4x4f(); var a2_1 = mat4x4f(); var a2_2 = mat4x4f(); var a2_3 = mat4x4f();
  var a2_4 = mat4x4f(); var a2_5 = mat4x4f(); var a2_6 = mat4x4f(); var a2_7 = mat4x4f();
  var a2_8 = mat4x4f(); var a2_9 = mat4x4f(); var a2_10 = mat4x4f(); var a2_11 = mat4x4f();
  var a2_12 = mat4x4f(); var a2_13 = mat4x4f(); var a2_14 = mat4x4f(); var a2_15 = mat4x4f();
  var a3_0 = mat4x4f(); var a3_1 = mat4x4f(); var a3_2 = mat4x4f(); var a3_3 = mat4x4f();
  var a3_4 = mat4x4f(); var a3_5 = mat4x4f(); var a3_6 = mat4x4f(); var a3_7 = mat4x4f();
  var a3_8 = mat4x4f(); var a3_9 = mat4x4f(); var a3_10 = mat4x4f(); var a3_11 = mat4x4f();
  var a3_12 = mat4x4f(); var a3_13 = mat4x4f(); var a3_14 = mat4x4f(); var a3_15 = mat4x4f();
  var a4_0 = mat4x4f(); var a4_1 = mat4x4f(); var a4_2 = mat4x4f(); var a4_3 = mat4x4f();
  var a4_4 = mat4x4f(); var a4_5 = mat4x4f(); var a4_6 = mat4x4f(); var a4_7 = mat4x4f();
  var a4_8 = mat4x4f(); var a4_9 = mat4x4f(); var a4_10 = mat4x4f(); var a4_11 = mat4x4f();
  var a4_12 = mat4x4f(); var a4_13 = mat4x4f(); var a4_14 = mat4x4f(); var a4_15 = mat4x4f();
  var a5_0 = mat4x4f(); var a5_1 = mat4x4f(); var a5_2 = mat4x4f(); var a5_3 = mat4x4f();
  var a5_4 = mat4x4f(); var a5_5 = mat4x4f(); var a5_6 = mat4x4f(); var a5_7 = mat4x4f();
  var a5_8 = mat4x4f(); var a5_9 = mat4x4f(); var a5_10 = mat4x4f(); var a5_11 = mat4x4f();
  var a5_12 = mat4x4f(); var a5_13 = mat4x4f(); var a5_14 = mat4x4f(); var a5_15 = mat4x4f();
  var a6_0 = mat4x4f(); var a6_1 = mat4x4f(); var a6_2 = mat4x4f(); var a6_3 = mat4x4f();
  var a6_4 = mat4x4f(); var a6_5 = mat4x4f(); var a6_6 = mat4x4f(); var a6_7 = mat4x4f();
  var a6_8 = mat4x4f(); var a6_9 = mat4x4f(); var a6_10 = mat4x4f(); var a6_11 = mat4x4f();
  var a6_12 = mat4x4f(); var a6_13 = mat4x4f(); var a6_14 = mat4x4f(); var a6_15 = mat4x4f();
  var a7_0 = mat4x4f(); var a7_1 = mat4x4f(); var a7_2 = mat4x4f(); var a7_3 = mat4x4f();
  var a7_4 = mat4x4f(); var a7_5 = mat4x4f(); var a7_6 = mat4x4f(); var a7_7 = mat4x4f();
  var a7_8 = mat4x4f(); var a7_9 = mat4x4f(); var a7_10 = mat4x4f(); var a7_11 = mat4x4f();
  var a7_12 = mat4x4f(); var a7_13 = mat4x4f(); var a7_14 = mat4x4f(); var a7_15 = mat4x4f();
  for (var p = p0; p < p1; p += 4u) {
    let q = pixel_quad(p, p1);
    let X0 = transpose(x_quad(tap_offsets(q, kh0.x, kw0.x), ci0.x));
    let X1 = transpose(x_quad(tap_offsets(q, kh0.y, kw0.y), ci0.y));
    let X2 = transpose(x_quad(tap_offsets(q, kh0.z, kw0.z), ci0.z));
    let X3 = transpose(x_quad(tap_offsets(q, kh0.w, kw0.w), ci0.w));
    let X4 = transpose(x_quad(tap_offsets(q, kh1.x, kw1.x), ci1.x));
    let X5 = transpose(x_quad(tap_offsets(q, kh1.y, kw1.y), ci1.y));
    let X6 = transpose(x_quad(tap_offsets(q, kh1.z, kw1.z), ci1.z));
    let X7 = transpose(x_quad(tap_offsets(q, kh1.w, kw1.w), ci1.w));
    let D0 = dy_quad(q, cs0.x);
    let D1 = dy_quad(q, cs0.y);
    let D2 = dy_quad(q, cs0.z);
    let D3 = dy_quad(q, cs0.w);
    let D4 = dy_quad(q, cs1.x);
    let D5 = dy_quad(q, cs1.y);
    let D6 = dy_quad(q, cs1.z);
    let D7 = dy_quad(q, cs1.w);
    let D8 = dy_quad(q, cs2.x);
    let D9 = dy_quad(q, cs2.y);
    let D10 = dy_quad(q, cs2.z);
    let D11 = dy_quad(q, cs2.w);
    let D12 = dy_quad(q, cs3.x);
    let D13 = dy_quad(q, cs3.y);
    let D14 = dy_quad(q, cs3.z);
    let D15 = dy_quad(q, cs3.w);
    a0_0 += D0 * X0; a0_1 += D1 * X0; a0_2 += D2 * X0; a0_3 += D3 * X0;
    a0_4 += D4 * X0; a0_5 += D5 * X0; a0_6 += D6 * X0; a0_7 += D7 * X0;
    a0_8 += D8 * X0; a0_9 += D9 * X0; a0_10 += D10 * X0; a0_11 += D11 * X0;
    a0_12 += D12 * X0; a0_13 += D13 * X0; a0_14 += D14 * X0; a0_15 += D15 * X0;
    a1_0 += D0 * X1; a1_1 += D1 * X1; a1_2 += D2 * X1; a1_3 += D3 * X1;
    a1_4 += D4 * X1; a1_5 += D5 * X1; a1_6 += D6 * X1; a1_7 += D7 * X1;
    a1_8 += D8 * X1; a1_9 += D9 * X1; a1_10 += D10 * X1; a1_11 += D11 * X1;
    a1_12 += D12 * X1; a1_13 += D13 * X1; a1_14 += D14 * X1; a1_15 += D15 * X1;
    a2_0 += D0 * X2; a2_1 += D1 * X2; a2_2 += D2 * X2; a2_3 += D3 * X2;
    a2_4 += D4 * X2; a2_5 += D5 * X2; a2_6 += D6 * X2; a2_7 += D7 * X2;
    a2_8 += D8 * X2; a2_9 += D9 * X2; a2_10 += D10 * X2; a2_11 += D11 * X2;
    a2_12 += D12 * X2; a2_13 += D13 * X2; a2_14 += D14 * X2; a2_15 += D15 * X2;
    a3_0 += D0 * X3; a3_1 += D1 * X3; a3_2 += D2 * X3; a3_3 += D3 * X3;
    a3_4 += D4 * X3; a3_5 += D5 * X3; a3_6 += D6 * X3; a3_7 += D7 * X3;
    a3_8 += D8 * X3; a3_9 += D9 * X3; a3_10 += D10 * X3; a3_11 += D11 * X3;
    a3_12 += D12 * X3; a3_13 += D13 * X3; a3_14 += D14 * X3; a3_15 += D15 * X3;
    a4_0 += D0 * X4; a4_1 += D1 * X4; a4_2 += D2 * X4; a4_3 += D3 * X4;
    a4_4 += D4 * X4; a4_5 += D5 * X4; a4_6 += D6 * X4; a4_7 += D7 * X4;
    a4_8 += D8 * X4; a4_9 += D9 * X4; a4_10 += D10 * X4; a4_11 += D11 * X4;
    a4_12 += D12 * X4; a4_13 += D13 * X4; a4_14 += D14 * X4; a4_15 += D15 * X4;
    a5_0 += D0 * X5; a5_1 += D1 * X5; a5_2 += D2 * X5; a5_3 += D3 * X5;
    a5_4 += D4 * X5; a5_5 += D5 * X5; a5_6 += D6 * X5; a5_7 += D7 * X5;
    a5_8 += D8 * X5; a5_9 += D9 * X5; a5_10 += D10 * X5; a5_11 += D11 * X5;
    a5_12 += D12 * X5; a5_13 += D13 * X5; a5_14 += D14 * X5; a5_15 += D15 * X5;
    a6_0 += D0 * X6; a6_1 += D1 * X6; a6_2 += D2 * X6; a6_3 += D3 * X6;
    a6_4 += D4 * X6; a6_5 += D5 * X6; a6_6 += D6 * X6; a6_7 += D7 * X6;
    a6_8 += D8 * X6; a6_9 += D9 * X6; a6_10 += D10 * X6; a6_11 += D11 * X6;
    a6_12 += D12 * X6; a6_13 += D13 * X6; a6_14 += D14 * X6; a6_15 += D15 * X6;
    a7_0 += D0 * X7; a7_1 += D1 * X7; a7_2 += D2 * X7; a7_3 += D3 * X7;
    a7_4 += D4 * X7; a7_5 += D5 * X7; a7_6 += D6 * X7; a7_7 += D7 * X7;
    a7_8 += D8 * X7; a7_9 += D9 * X7; a7_10 += D10 * X7; a7_11 += D11 * X7;
    a7_12 += D12 * X7; a7_13 += D13 * X7; a7_14 += D14 * X7; a7_15 += D15 * X7;
  }
  let rb = 4u * gb;
  put_dw4(z, rb + 0u, cb, a0_0[0], a0_1[0], a0_2[0], a0_3[0]);
  put_dw4(z, rb + 0u, cb + 4u, a0_4[0], a0_5[0], a0_6[0], a0_7[0]);
  put_dw4(z, rb + 0u, cb + 8u, a0_8[0], a0_9[0], a0_10[0], a0_11[0]);
  put_dw4(z, rb + 0u, cb + 12u, a0_12[0], a0_13[0], a0_14[0], a0_15[0]);
  put_dw4(z, rb + 1u, cb, a0_0[1], a0_1[1], a0_2[1], a0_3[1]);
  put_dw4(z, rb + 1u, cb + 4u, a0_4[1], a0_5[1], a0_6[1], a0_7[1]);
  put_dw4(z, rb + 1u, cb + 8u, a0_8[1], a0_9[1], a0_10[1], a0_11[1]);
  put_dw4(z, rb + 1u, cb + 12u, a0_12[1], a0_13[1], a0_14[1], a0_15[1]);
  put_dw4(z, rb + 2u, cb, a0_0[2], a0_1[2], a0_2[2], a0_3[2]);
  put_dw4(z, rb + 2u, cb + 4u, a0_4[2], a0_5[2], a0_6[2], a0_7[2]);
  put_dw4(z, rb + 2u, cb + 8u, a0_8[2], a0_9[2], a0_10[2], a0_11[2]);
  put_dw4(z, rb + 2u, cb + 12u, a0_12[2], a0_13[2], a0_14[2], a0_15[2]);
  put_dw4(z, rb + 3u, cb, a0_0[3], a0_1[3], a0_2[3], a0_3[3]);
  put_dw4(z, rb + 3u, cb + 4u, a0_4[3], a0_5[3], a0_6[3], a0_7[3]);
  put_dw4(z, rb + 3u, cb + 8u, a0_8[3], a0_9[3], a0_10[3], a0_11[3]);
  put_dw4(z, rb + 3u, cb + 12u, a0_12[3], a0_13[3], a0_14[3], a0_15[3]);
  put_dw4(z, rb + 4u, cb, a1_0[0], a1_1[0], a1_2[0], a1_3[0]);
  put_dw4(z, rb + 4u, cb + 4u, a1_4[0], a1_5[0], a1_6[0], a1_7[0]);
  put_dw4(z, rb + 4u, cb + 8u, a1_8[0], a1_9[0], a1_10[0], a1_11[0]);
  put_dw4(z, rb + 4u, cb + 12u, a1_12[0], a1_13[0], a1_14[0], a1_15[0]);
  put_dw4(z, rb + 5u, cb, a1_0[1], a1_1[1], a1_2[1], a1_3[1]);
  put_dw4(z, rb + 5u, cb + 4u, a1_4[1], a1_5[1], a1_6[1], a1_7[1]);
  put_dw4(z, rb + 5u, cb + 8u, a1_8[1], a1_9[1], a1_10[1], a1_11[1]);
  put_dw4(z, rb + 5u, cb + 12u, a1_12[1], a1_13[1], a1_14[1], a1_15[1]);
  put_dw4(z, rb + 6u, cb, a1_0[2], a1_1[2], a1_2[2], a1_3[2]);
  put_dw4(z, rb + 6u, cb + 4u, a1_4[2], a1_5[2], a1_6[2], a1_7[2]);
  put_dw4(z, rb + 6u, cb + 8u, a1_8[2], a1_9[2], a1_10[2], a1_11[2]);
  put_dw4(z, rb + 6u, cb + 12u, a1_12[2], a1_13[2], a1_14[2], a1_15[2]);
  put_dw4(z, rb + 7u, cb, a1_0[3], a1_1[3], a1_2[3], a1_3[3]);
  put_dw4(z, rb + 7u, cb + 4u, a1_4[3], a1_5[3], a1_6[3], a1_7[3]);
  put_dw4(z, rb + 7u, cb + 8u, a1_8[3], a1_9[3], a1_10[3], a1_11[3]);
  put_dw4(z, rb + 7u, cb + 12u, a1_12[3], a1_13[3], a1_14[3], a1_15[3]);
  put_dw4(z, rb + 8u, cb, a2_0[0], a2_1[0], a2_2[0], a2_3[0]);
  put_dw4(z, rb + 8u, cb + 4u, a2_4[0], a2_5[0], a2_6[0], a2_7[0]);
  put_dw4(z, rb + 8u, cb + 8u, a2_8[0], a2_9[0], a2_10[0], a2_11[0]);
  put_dw4(z, rb + 8u, cb + 12u, a2_12[0], a2_13[0], a2_14[0], a2_15[0]);
  put_dw4(z, rb + 9u, cb, a2_0[1], a2_1[1], a2_2[1], a2_3[1]);
  put_dw4(z, rb + 9u, cb + 4u, a2_4[1], a2_5[1], a2_6[1], a2_7[1]);
  put_dw4(z, rb + 9u, cb + 8u, a2_8[1], a2_9[1], a2_10[1], a2_11[1]);
  put_dw4(z, rb + 9u, cb + 12u, a2_12[1], a2_13[1], a2_14[1], a2_15[1]);
  put_dw4(z, rb + 10u, cb, a2_0[2], a2_1[2], a2_2[2], a2_3[2]);
  put_dw4(z, rb + 10u, cb + 4u, a2_4[2], a2_5[2], a2_6[2], a2_7[2]);
  put_dw4(z, rb + 10u, cb + 8u, a2_8[2], a2_9[2], a2_10[2], a2_11[2]);
  put_dw4(z, rb + 10u, cb + 12u, a2_12[2], a2_13[2], a2_14[2], a2_15[2]);
  put_dw4(z, rb + 11u, cb, a2_0[3], a2_1[3], a2_2[3], a2_3[3]);
  put_dw4(z, rb + 11u, cb + 4u, a2_4[3], a2_5[3], a2_6[3], a2_7[3]);
  put_dw4(z, rb + 11u, cb + 8u, a2_8[3], a2_9[3], a2_10[3], a2_11[3]);
  put_dw4(z, rb + 11u, cb + 12u, a2_12[3], a2_13[3], a2_14[3], a2_15[3]);
  put_dw4(z, rb + 12u, cb, a3_0[0], a3_1[0], a3_2[0], a3_3[0]);
  put_dw4(z, rb + 12u, cb + 4u, a3_4[0], a3_5[0], a3_6[0], a3_7[0]);
  put_dw4(z, rb + 12u, cb + 8u, a3_8[0], a3_9[0], a3_10[0], a3_11[0]);
  put_dw4(z, rb + 12u, cb + 12u, a3_12[0], a3_13[0], a3_14[0], a3_15[0]);
  put_dw4(z, rb + 13u, cb, a3_0[1], a3_1[1], a3_2[1], a3_3[1]);
  put_dw4(z, rb + 13u, cb + 4u, a3_4[1], a3_5[1], a3_6[1], a3_7[1]);
  put_dw4(z, rb + 13u, cb + 8u, a3_8[1], a3_9[1], a3_10[1], a3_11[1]);
  put_dw4(z, rb + 13u, cb + 12u, a3_12[1], a3_13[1], a3_14[1], a3_15[1]);
  put_dw4(z, rb + 14u, cb, a3_0[2], a3_1[2], a3_2[2], a3_3[2]);
  put_dw4(z, rb + 14u, cb + 4u, a3_4[2], a3_5[2], a3_6[2], a3_7[2]);
  put_dw4(z, rb + 14u, cb + 8u, a3_8[2], a3_9[2], a3_10[2], a3_11[2]);
  put_dw4(z, rb + 14u, cb + 12u, a3_12[2], a3_13[2], a3_14[2], a3_15[2]);
  put_dw4(z, rb + 15u, cb, a3_0[3], a3_1[3], a3_2[3], a3_3[3]);
  put_dw4(z, rb + 15u, cb + 4u, a3_4[3], a3_5[3], a3_6[3], a3_7[3]);
  put_dw4(z, rb + 15u, cb + 8u, a3_8[3], a3_9[3], a3_10[3], a3_11[3]);
  put_dw4(z, rb + 15u, cb + 12u, a3_12[3], a3_13[3], a3_14[3], a3_15[3]);
  put_dw4(z, rb + 16u, cb, a4_0[0], a4_1[0], a4_2[0], a4_3[0]);
  put_dw4(z, rb + 16u, cb + 4u, a4_4[0], a4_5[0], a4_6[0], a4_7[0]);
  put_dw4(z, rb + 16u, cb + 8u, a4_8[0], a4_9[0], a4_10[0], a4_11[0]);
  put_dw4(z, rb + 16u, cb + 12u, a4_12[0], a4_13[0], a4_14[0], a4_15[0]);
  put_dw4(z, rb + 17u, cb, a4_0[1], a4_1[1], a4_2[1], a4_3[1]);
  put_dw4(z, rb + 17u, cb + 4u, a4_4[1], a4_5[1], a4_6[1], a4_7[1]);
  put_dw4(z, rb + 17u, cb + 8u, a4_8[1], a4_9[1], a4_10[1], a4_11[1]);
  put_dw4(z, rb + 17u, cb + 12u, a4_12[1], a4_13[1], a4_14[1], a4_15[1]);
  put_dw4(z, rb + 18u, cb, a4_0[2], a4_1[2], a4_2[2], a4_3[2]);
  put_dw4(z, rb + 18u, cb + 4u, a4_4[2], a4_5[2], a4_6[2], a4_7[2]);
  put_dw4(z, rb + 18u, cb + 8u, a4_8[2], a4_9[2], a4_10[2], a4_11[2]);
  put_dw4(z, rb + 18u, cb + 12u, a4_12[2], a4_13[2], a4_14[2], a4_15[2]);
  put_dw4(z, rb + 19u, cb, a4_0[3], a4_1[3], a4_2[3], a4_3[3]);
  put_dw4(z, rb + 19u, cb + 4u, a4_4[3], a4_5[3], a4_6[3], a4_7[3]);
  put_dw4(z, rb + 19u, cb + 8u, a4_8[3], a4_9[3], a4_10[3], a4_11[3]);
  put_dw4(z, rb + 19u, cb + 12u, a4_12[3], a4_13[3], a4_14[3], a4_15[3]);
  put_dw4(z, rb + 20u, cb, a5_0[0], a5_1[0], a5_2[0], a5_3[0]);
  put_dw4(z, rb + 20u, cb + 4u, a5_4[0], a5_5[0], a5_6[0], a5_7[0]);
  put_dw4(z, rb + 20u, cb + 8u, a5_8[0], a5_9[0], a5_10[0], a5_11[0]);
  put_dw4(z, rb + 20u, cb + 12u, a5_12[0], a5_13[0], a5_14[0], a5_15[0]);
  put_dw4(z, rb + 21u, cb, a5_0[1], a5_1[1], a5_2[1], a5_3[1]);
  put_dw4(z, rb + 21u, cb + 4u, a5_4[1], a5_5[1], a5_6[1], a5_7[1]);
  put_dw4(z, rb + 21u, cb + 8u, a5_8[1], a5_9[1], a5_10[1], a5_11[1]);
  put_dw4(z, rb + 21u, cb + 12u, a5_12[1], a5_13[1], a5_14[1], a5_15[1]);
  put_dw4(z, rb + 22u, cb, a5_0[2], a5_1[2], a5_2[2], a5_3[2]);
  put_dw4(z, rb + 22u, cb + 4u, a5_4[2], a5_5[2], a5_6[2], a5_7[2]);
  put_dw4(z, rb + 22u, cb + 8u, a5_8[2], a5_9[2], a5_10[2], a5_11[2]);
  put_dw4(z, rb + 22u, cb + 12u, a5_12[2], a5_13[2], a5_14[2], a5_15[2]);
  put_dw4(z, rb + 23u, cb, a5_0[3], a5_1[3], a5_2[3], a5_3[3]);
  put_dw4(z, rb + 23u, cb + 4u, a5_4[3], a5_5[3], a5_6[3], a5_7[3]);
  put_dw4(z, rb + 23u, cb + 8u, a5_8[3], a5_9[3], a5_10[3], a5_11[3]);
  put_dw4(z, rb + 23u, cb + 12u, a5_12[3], a5_13[3], a5_14[3], a5_15[3]);
  put_dw4(z, rb + 24u, cb, a6_0[0], a6_1[0], a6_2[0], a6_3[0]);
  put_dw4(z, rb + 24u, cb + 4u, a6_4[0], a6_5[0], a6_6[0], a6_7[0]);
  put_dw4(z, rb + 24u, cb + 8u, a6_8[0], a6_9[0], a6_10[0], a6_11[0]);
  put_dw4(z, rb + 24u, cb + 12u, a6_12[0], a6_13[0], a6_14[0], a6_15[0]);
  put_dw4(z, rb + 25u, cb, a6_0[1], a6_1[1], a6_2[1], a6_3[1]);
  put_dw4(z, rb + 25u, cb + 4u, a6_4[1], a6_5[1], a6_6[1], a6_7[1]);
  put_dw4(z, rb + 25u, cb + 8u, a6_8[1], a6_9[1], a6_10[1], a6_11[1]);
  put_dw4(z, rb + 25u, cb + 12u, a6_12[1], a6_13[1], a6_14[1], a6_15[1]);
  put_dw4(z, rb + 26u, cb, a6_0[2], a6_1[2], a6_2[2], a6_3[2]);
  put_dw4(z, rb + 26u, cb + 4u, a6_4[2], a6_5[2], a6_6[2], a6_7[2]);
  put_dw4(z, rb + 26u, cb + 8u, a6_8[2], a6_9[2], a6_10[2], a6_11[2]);
  put_dw4(z, rb + 26u, cb + 12u, a6_12[2], a6_13[2], a6_14[2], a6_15[2]);
  put_dw4(z, rb + 27u, cb, a6_0[3], a6_1[3], a6_2[3], a6_3[3]);
  put_dw4(z, rb + 27u, cb + 4u, a6_4[3], a6_5[3], a6_6[3], a6_7[3]);
  put_dw4(z, rb + 27u, cb + 8u, a6_8[3], a6_9[3], a6_10[3], a6_11[3]);
  put_dw4(z, rb + 27u, cb + 12u, a6_12[3], a6_13[3], a6_14[3], a6_15[3]);
  put_dw4(z, rb + 28u, cb, a7_0[0], a7_1[0], a7_2[0], a7_3[0]);
  put_dw4(z, rb + 28u, cb + 4u, a7_4[0], a7_5[0], a7_6[0], a7_7[0]);
  put_dw4(z, rb + 28u, cb + 8u, a7_8[0], a7_9[0], a7_10[0], a7_11[0]);
  put_dw4(z, rb + 28u, cb + 12u, a7_12[0], a7_13[0], a7_14[0], a7_15[0]);
  put_dw4(z, rb + 29u, cb, a7_0[1], a7_1[1], a7_2[1], a7_3[1]);
  put_dw4(z, rb + 29u, cb + 4u, a7_4[1], a7_5[1], a7_6[1], a7_7[1]);
  put_dw4(z, rb + 29u, cb + 8u, a7_8[1], a7_9[1], a7_10[1], a7_11[1]);
  put_dw4(z, rb + 29u, cb + 12u, a7_12[1], a7_13[1], a7_14[1], a7_15[1]);
  put_dw4(z, rb + 30u, cb, a7_0[2], a7_1[2], a7_2[2], a7_3[2]);
  put_dw4(z, rb + 30u, cb + 4u, a7_4[2], a7_5[2], a7_6[2], a7_7[2]);
  put_dw4(z, rb + 30u, cb + 8u, a7_8[2], a7_9[2], a7_10[2], a7_11[2]);
  put_dw4(z, rb + 30u, cb + 12u, a7_12[2], a7_13[2], a7_14[2], a7_15[2]);
  put_dw4(z, rb + 31u, cb, a7_0[3], a7_1[3], a7_2[3], a7_3[3]);
  put_dw4(z, rb + 31u, cb + 4u, a7_4[3], a7_5[3], a7_6[3], a7_7[3]);
  put_dw4(z, rb + 31u, cb + 8u, a7_8[3], a7_9[3], a7_10[3], a7_11[3]);
  put_dw4(z, rb + 31u, cb + 12u, a7_12[3], a7_13[3], a7_14[3], a7_15[3]);
}

// The same with 64 rows (sixteen quads) x 32 channels (8 vec4s), for Cout <= 32:
// nr = ceil(KH KW Cin / 64), nb = ceil(Cout / 32).
@compute @workgroup_size(64)
fn backward_dw_vec4_cin4_r64c32(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n4 = dims.cout / 4u;
  let c4 = dims.cin / 4u;
  let R4 = dims.kh * dims.kw * c4;   // quads of rows
  let nr = (R4 + 15u) / 16u;
  let nb = (n4 + 7u) / 8u;
  let i = gid.x + gid.y * nwg.x * 64u;
  let z = i / (nr * nb);
  if (z >= dims.splits) { return; }
  let cb = 8u * (i % nb);   // in vec4 channels
  let gb = 16u * ((i / nb) % nr);   // in quads
  let gs0 = min(vec4u(gb + 0u) + LANES, vec4u(R4 - 1u));
  let kk0 = gs0 / c4;
  let kh0 = kk0 / dims.kw;
  let kw0 = kk0 % dims.kw;
  let ci0 = gs0 % c4;
  let gs1 = min(vec4u(gb + 4u) + LANES, vec4u(R4 - 1u));
  let kk1 = gs1 / c4;
  let kh1 = kk1 / dims.kw;
  let kw1 = kk1 % dims.kw;
  let ci1 = gs1 % c4;
  let gs2 = min(vec4u(gb + 8u) + LANES, vec4u(R4 - 1u));
  let kk2 = gs2 / c4;
  let kh2 = kk2 / dims.kw;
  let kw2 = kk2 % dims.kw;
  let ci2 = gs2 % c4;
  let gs3 = min(vec4u(gb + 12u) + LANES, vec4u(R4 - 1u));
  let kk3 = gs3 / c4;
  let kh3 = kk3 / dims.kw;
  let kw3 = kk3 % dims.kw;
  let ci3 = gs3 % c4;
  let cs0 = min(vec4u(cb + 0u) + LANES, vec4u(n4 - 1u));
  let cs1 = min(vec4u(cb + 4u) + LANES, vec4u(n4 - 1u));
  let hw = dims.ho * dims.wo;
  let p0 = z * dims.chunk * hw;
  let p1 = min(p0 + dims.chunk * hw, dims.batch * hw);
  var a0_0 = mat4x4f(); var a0_1 = mat4x4f(); var a0_2 = mat4x4f(); var a0_3 = mat4x4f();
  var a0_4 = mat4x4f(); var a0_5 = mat4x4f(); var a0_6 = mat4x4f(); var a0_7 = mat4x4f();
  var a1_0 = mat4x4f(); var a1_1 = mat4x4f(); var a1_2 = mat4x4f(); var a1_3 = mat4x4f();
  var a1_4 = mat4x4f(); var a1_5 = mat4x4f(); var a1_6 = mat4x4f(); var a1_7 = mat4x4f();
  var a2_0 = mat4x4f(); var a2_1 = mat4x4f(); var a2_2 = mat4x4f(); var a2_3 = mat4x4f();
  var a2_4 = mat4x4f(); var a2_5 = mat4x4f(); var a2_6 = mat4x4f(); var a2_7 = mat4x4f();
  var a3_0 = mat4x4f(); var a3_1 = mat4x4f(); var a3_2 = mat4x4f(); var a3_3 = mat4x4f();
  var a3_4 = mat4x4f(); var a3_5 = mat4x4f(); var a3_6 = mat4x4f(); var a3_7 = mat4x4f();
  var a4_0 = mat4x4f(); var a4_1 = mat4x4f(); var a4_2 = mat4x4f(); var a4_3 = mat4x4f();
  var a4_4 = mat4x4f(); var a4_5 = mat4x4f(); var a4_6 = mat4x4f(); var a4_7 = mat4x4f();
  var a5_0 = mat4x4f(); var a5_1 = mat4x4f(); var a5_2 = mat4x4f(); var a5_3 = mat4x4f();
  var a5_4 = mat4x4f(); var a5_5 = mat4x4f(); var a5_6 = mat4x4f(); var a5_7 = mat4x4f();
  var a6_0 = mat4x4f(); var a6_1 = mat4x4f(); var a6_2 = mat4x4f(); var a6_3 = mat4x4f();
  var a6_4 = mat4x4f(); var a6_5 = mat4x4f(); var a6_6 = mat4x4f(); var a6_7 = mat4x4f();
  var a7_0 = mat4x4f(); var a7_1 = mat4x4f(); var a7_2 = mat4x4f(); var a7_3 = mat4x4f();
  var a7_4 = mat4x4f(); var a7_5 = mat4x4f(); var a7_6 = mat4x4f(); var a7_7 = mat4x4f();
  var a8_0 = mat4x4f(); var a8_1 = mat4x4f(); var a8_2 = mat4x4f(); var a8_3 = mat4x4f();
  var a8_4 = mat4x4f(); var a8_5 = mat4x4f(); var a8_6 = mat4x4f(); var a8_7 = mat4x4f();
  var a9_0 = mat4x4f(); var a9_1 = mat4x4f(); var a9_2 = mat4x4f(); var a9_3 = mat4x4f();
  var a9_4 = mat4x4f(); var a9_5 = mat4x4f(); var a9_6 = mat4x4f(); var a9_7 = mat4x4f();
  var a10_0 = mat4x4f(); var a10_1 = mat4x4f(); var a10_2 = mat4x4f(); var a10_3 = mat4x4f();
  var a10_4 = mat4x4f(); var a10_5 = mat4x4f(); var a10_6 = mat4x4f(); var a10_7 = mat4x4f();
  var a11_0 = mat4x4f(); var a11_1 = mat4x4f(); var a11_2 = mat4x4f(); var a11_3 = mat4x4f();
  var a11_4 = mat4x4f(); var a11_5 = mat4x4f(); var a11_6 = mat4x4f(); var a11_7 = mat4x4f();
  var a12_0 = mat4x4f(); var a12_1 = mat4x4f(); var a12_2 = mat4x4f(); var a12_3 = mat4x4f();
  var a12_4 = mat4x4f(); var a12_5 = mat4x4f(); var a12_6 = mat4x4f(); var a12_7 = mat4x4f();
  var a13_0 = mat4x4f(); var a13_1 = mat4x4f(); var a13_2 = mat4x4f(); var a13_3 = mat4x4f();
  var a13_4 = mat4x4f(); var a13_5 = mat4x4f(); var a13_6 = mat4x4f(); var a13_7 = mat4x4f();
  var a14_0 = mat4x4f(); var a14_1 = mat4x4f(); var a14_2 = mat4x4f(); var a14_3 = mat4x4f();
  var a14_4 = mat4x4f(); var a14_5 = mat4x4f(); var a14_6 = mat4x4f(); var a14_7 = mat4x4f();
  var a15_0 = mat4x4f(); var a15_1 = mat4x4f(); var a15_2 = mat4x4f(); var a15_3 = mat4x4f();
  var a15_4 = mat4x4f(); var a15_5 = mat4x4f(); var a15_6 = mat4x4f(); var a15_7 = mat4x4f();
  for (var p = p0; p < p1; p += 4u) {
    let q = pixel_quad(p, p1);
    let X0 = transpose(x_quad(tap_offsets(q, kh0.x, kw0.x), ci0.x));
    let X1 = transpose(x_quad(tap_offsets(q, kh0.y, kw0.y), ci0.y));
    let X2 = transpose(x_quad(tap_offsets(q, kh0.z, kw0.z), ci0.z));
    let X3 = transpose(x_quad(tap_offsets(q, kh0.w, kw0.w), ci0.w));
    let X4 = transpose(x_quad(tap_offsets(q, kh1.x, kw1.x), ci1.x));
    let X5 = transpose(x_quad(tap_offsets(q, kh1.y, kw1.y), ci1.y));
    let X6 = transpose(x_quad(tap_offsets(q, kh1.z, kw1.z), ci1.z));
    let X7 = transpose(x_quad(tap_offsets(q, kh1.w, kw1.w), ci1.w));
    let X8 = transpose(x_quad(tap_offsets(q, kh2.x, kw2.x), ci2.x));
    let X9 = transpose(x_quad(tap_offsets(q, kh2.y, kw2.y), ci2.y));
    let X10 = transpose(x_quad(tap_offsets(q, kh2.z, kw2.z), ci2.z));
    let X11 = transpose(x_quad(tap_offsets(q, kh2.w, kw2.w), ci2.w));
    let X12 = transpose(x_quad(tap_offsets(q, kh3.x, kw3.x), ci3.x));
    let X13 = transpose(x_quad(tap_offsets(q, kh3.y, kw3.y), ci3.y));
    let X14 = transpose(x_quad(tap_offsets(q, kh3.z, kw3.z), ci3.z));
    let X15 = transpose(x_quad(tap_offsets(q, kh3.w, kw3.w), ci3.w));
    let D0 = dy_quad(q, cs0.x);
    let D1 = dy_quad(q, cs0.y);
    let D2 = dy_quad(q, cs0.z);
    let D3 = dy_quad(q, cs0.w);
    let D4 = dy_quad(q, cs1.x);
    let D5 = dy_quad(q, cs1.y);
    let D6 = dy_quad(q, cs1.z);
    let D7 = dy_quad(q, cs1.w);
    a0_0 += D0 * X0; a0_1 += D1 * X0; a0_2 += D2 * X0; a0_3 += D3 * X0;
    a0_4 += D4 * X0; a0_5 += D5 * X0; a0_6 += D6 * X0; a0_7 += D7 * X0;
    a1_0 += D0 * X1; a1_1 += D1 * X1; a1_2 += D2 * X1; a1_3 += D3 * X1;
    a1_4 += D4 * X1; a1_5 += D5 * X1; a1_6 += D6 * X1; a1_7 += D7 * X1;
    a2_0 += D0 * X2; a2_1 += D1 * X2; a2_2 += D2 * X2; a2_3 += D3 * X2;
    a2_4 += D4 * X2; a2_5 += D5 * X2; a2_6 += D6 * X2; a2_7 += D7 * X2;
    a3_0 += D0 * X3; a3_1 += D1 * X3; a3_2 += D2 * X3; a3_3 += D3 * X3;
    a3_4 += D4 * X3; a3_5 += D5 * X3; a3_6 += D6 * X3; a3_7 += D7 * X3;
    a4_0 += D0 * X4; a4_1 += D1 * X4; a4_2 += D2 * X4; a4_3 += D3 * X4;
    a4_4 += D4 * X4; a4_5 += D5 * X4; a4_6 += D6 * X4; a4_7 += D7 * X4;
    a5_0 += D0 * X5; a5_1 += D1 * X5; a5_2 += D2 * X5; a5_3 += D3 * X5;
    a5_4 += D4 * X5; a5_5 += D5 * X5; a5_6 += D6 * X5; a5_7 += D7 * X5;
    a6_0 += D0 * X6; a6_1 += D1 * X6; a6_2 += D2 * X6; a6_3 += D3 * X6;
    a6_4 += D4 * X6; a6_5 += D5 * X6; a6_6 += D6 * X6; a6_7 += D7 * X6;
    a7_0 += D0 * X7; a7_1 += D1 * X7; a7_2 += D2 * X7; a7_3 += D3 * X7;
    a7_4 += D4 * X7; a7_5 += D5 * X7; a7_6 += D6 * X7; a7_7 += D7 * X7;
    a8_0 += D0 * X8; a8_1 += D1 * X8; a8_2 += D2 * X8; a8_3 += D3 * X8;
    a8_4 += D4 * X8; a8_5 += D5 * X8; a8_6 += D6 * X8; a8_7 += D7 * X8;
    a9_0 += D0 * X9; a9_1 += D1 * X9; a9_2 += D2 * X9; a9_3 += D3 * X9;
    a9_4 += D4 * X9; a9_5 += D5 * X9; a9_6 += D6 * X9; a9_7 += D7 * X9;
    a10_0 += D0 * X10; a10_1 += D1 * X10; a10_2 += D2 * X10; a10_3 += D3 * X10;
    a10_4 += D4 * X10; a10_5 += D5 * X10; a10_6 += D6 * X10; a10_7 += D7 * X10;
    a11_0 += D0 * X11; a11_1 += D1 * X11; a11_2 += D2 * X11; a11_3 += D3 * X11;
    a11_4 += D4 * X11; a11_5 += D5 * X11; a11_6 += D6 * X11; a11_7 += D7 * X11;
    a12_0 += D0 * X12; a12_1 += D1 * X12; a12_2 += D2 * X12; a12_3 += D3 * X12;
    a12_4 += D4 * X12; a12_5 += D5 * X12; a12_6 += D6 * X12; a12_7 += D7 * X12;
    a13_0 += D0 * X13; a13_1 += D1 * X13; a13_2 += D2 * X13; a13_3 += D3 * X13;
    a13_4 += D4 * X13; a13_5 += D5 * X13; a13_6 += D6 * X13; a13_7 += D7 * X13;
    a14_0 += D0 * X14; a14_1 += D1 * X14; a14_2 += D2 * X14; a14_3 += D3 * X14;
    a14_4 += D4 * X14; a14_5 += D5 * X14; a14_6 += D6 * X14; a14_7 += D7 * X14;
    a15_0 += D0 * X15; a15_1 += D1 * X15; a15_2 += D2 * X15; a15_3 += D3 * X15;
    a15_4 += D4 * X15; a15_5 += D5 * X15; a15_6 += D6 * X15; a15_7 += D7 * X15;
  }
  let rb = 4u * gb;
  put_dw4(z, rb + 0u, cb, a0_0[0], a0_1[0], a0_2[0], a0_3[0]);
  put_dw4(z, rb + 0u, cb + 4u, a0_4[0], a0_5[0], a0_6[0], a0_7[0]);
  put_dw4(z, rb + 1u, cb, a0_0[1], a0_1[1], a0_2[1], a0_3[1]);
  put_dw4(z, rb + 1u, cb + 4u, a0_4[1], a0_5[1], a0_6[1], a0_7[1]);
  put_dw4(z, rb + 2u, cb, a0_0[2], a0_1[2], a0_2[2], a0_3[2]);
  put_dw4(z, rb + 2u, cb + 4u, a0_4[2], a0_5[2], a0_6[2], a0_7[2]);
  put_dw4(z, rb + 3u, cb, a0_0[3], a0_1[3], a0_2[3], a0_3[3]);
  put_dw4(z, rb + 3u, cb + 4u, a0_4[3], a0_5[3], a0_6[3], a0_7[3]);
  put_dw4(z, rb + 4u, cb, a1_0[0], a1_1[0], a1_2[0], a1_3[0]);
  put_dw4(z, rb + 4u, cb + 4u, a1_4[0], a1_5[0], a1_6[0], a1_7[0]);
  put_dw4(z, rb + 5u, cb, a1_0[1], a1_1[1], a1_2[1], a1_3[1]);
  put_dw4(z, rb + 5u, cb + 4u, a1_4[1], a1_5[1], a1_6[1], a1_7[1]);
  put_dw4(z, rb + 6u, cb, a1_0[2], a1_1[2], a1_2[2], a1_3[2]);
  put_dw4(z, rb + 6u, cb + 4u, a1_4[2], a1_5[2], a1_6[2], a1_7[2]);
  put_dw4(z, rb + 7u, cb, a1_0[3], a1_1[3], a1_2[3], a1_3[3]);
  put_dw4(z, rb + 7u, cb + 4u, a1_4[3], a1_5[3], a1_6[3], a1_7[3]);
  put_dw4(z, rb + 8u, cb, a2_0[0], a2_1[0], a2_2[0], a2_3[0]);
  put_dw4(z, rb + 8u, cb + 4u, a2_4[0], a2_5[0], a2_6[0], a2_7[0]);
  put_dw4(z, rb + 9u, cb, a2_0[1], a2_1[1], a2_2[1], a2_3[1]);
  put_dw4(z, rb + 9u, cb + 4u, a2_4[1], a2_5[1], a2_6[1], a2_7[1]);
  put_dw4(z, rb + 10u, cb, a2_0[2], a2_1[2], a2_2[2], a2_3[2]);
  put_dw4(z, rb + 10u, cb + 4u, a2_4[2], a2_5[2], a2_6[2], a2_7[2]);
  put_dw4(z, rb + 11u, cb, a2_0[3], a2_1[3], a2_2[3], a2_3[3]);
  put_dw4(z, rb + 11u, cb + 4u, a2_4[3], a2_5[3], a2_6[3], a2_7[3]);
  put_dw4(z, rb + 12u, cb, a3_0[0], a3_1[0], a3_2[0], a3_3[0]);
  put_dw4(z, rb + 12u, cb + 4u, a3_4[0], a3_5[0], a3_6[0], a3_7[0]);
  put_dw4(z, rb + 13u, cb, a3_0[1], a3_1[1], a3_2[1], a3_3[1]);
  put_dw4(z, rb + 13u, cb + 4u, a3_4[1], a3_5[1], a3_6[1], a3_7[1]);
  put_dw4(z, rb + 14u, cb, a3_0[2], a3_1[2], a3_2[2], a3_3[2]);
  put_dw4(z, rb + 14u, cb + 4u, a3_4[2], a3_5[2], a3_6[2], a3_7[2]);
  put_dw4(z, rb + 15u, cb, a3_0[3], a3_1[3], a3_2[3], a3_3[3]);
  put_dw4(z, rb + 15u, cb + 4u, a3_4[3], a3_5[3], a3_6[3], a3_7[3]);
  put_dw4(z, rb + 16u, cb, a4_0[0], a4_1[0], a4_2[0], a4_3[0]);
  put_dw4(z, rb + 16u, cb + 4u, a4_4[0], a4_5[0], a4_6[0], a4_7[0]);
  put_dw4(z, rb + 17u, cb, a4_0[1], a4_1[1], a4_2[1], a4_3[1]);
  put_dw4(z, rb + 17u, cb + 4u, a4_4[1], a4_5[1], a4_6[1], a4_7[1]);
  put_dw4(z, rb + 18u, cb, a4_0[2], a4_1[2], a4_2[2], a4_3[2]);
  put_dw4(z, rb + 18u, cb + 4u, a4_4[2], a4_5[2], a4_6[2], a4_7[2]);
  put_dw4(z, rb + 19u, cb, a4_0[3], a4_1[3], a4_2[3], a4_3[3]);
  put_dw4(z, rb + 19u, cb + 4u, a4_4[3], a4_5[3], a4_6[3], a4_7[3]);
  put_dw4(z, rb + 20u, cb, a5_0[0], a5_1[0], a5_2[0], a5_3[0]);
  put_dw4(z, rb + 20u, cb + 4u, a5_4[0], a5_5[0], a5_6[0], a5_7[0]);
  put_dw4(z, rb + 21u, cb, a5_0[1], a5_1[1], a5_2[1], a5_3[1]);
  put_dw4(z, rb + 21u, cb + 4u, a5_4[1], a5_5[1], a5_6[1], a5_7[1]);
  put_dw4(z, rb + 22u, cb, a5_0[2], a5_1[2], a5_2[2], a5_3[2]);
  put_dw4(z, rb + 22u, cb + 4u, a5_4[2], a5_5[2], a5_6[2], a5_7[2]);
  put_dw4(z, rb + 23u, cb, a5_0[3], a5_1[3], a5_2[3], a5_3[3]);
  put_dw4(z, rb + 23u, cb + 4u, a5_4[3], a5_5[3], a5_6[3], a5_7[3]);
  put_dw4(z, rb + 24u, cb, a6_0[0], a6_1[0], a6_2[0], a6_3[0]);
  put_dw4(z, rb + 24u, cb + 4u, a6_4[0], a6_5[0], a6_6[0], a6_7[0]);
  put_dw4(z, rb + 25u, cb, a6_0[1], a6_1[1], a6_2[1], a6_3[1]);
  put_dw4(z, rb + 25u, cb + 4u, a6_4[1], a6_5[1], a6_6[1], a6_7[1]);
  put_dw4(z, rb + 26u, cb, a6_0[2], a6_1[2], a6_2[2], a6_3[2]);
  put_dw4(z, rb + 26u, cb + 4u, a6_4[2], a6_5[2], a6_6[2], a6_7[2]);
  put_dw4(z, rb + 27u, cb, a6_0[3], a6_1[3], a6_2[3], a6_3[3]);
  put_dw4(z, rb + 27u, cb + 4u, a6_4[3], a6_5[3], a6_6[3], a6_7[3]);
  put_dw4(z, rb + 28u, cb, a7_0[0], a7_1[0], a7_2[0], a7_3[0]);
  put_dw4(z, rb + 28u, cb + 4u, a7_4[0], a7_5[0], a7_6[0], a7_7[0]);
  put_dw4(z, rb + 29u, cb, a7_0[1], a7_1[1], a7_2[1], a7_3[1]);
  put_dw4(z, rb + 29u, cb + 4u, a7_4[1], a7_5[1], a7_6[1], a7_7[1]);
  put_dw4(z, rb + 30u, cb, a7_0[2], a7_1[2], a7_2[2], a7_3[2]);
  put_dw4(z, rb + 30u, cb + 4u, a7_4[2], a7_5[2], a7_6[2], a7_7[2]);
  put_dw4(z, rb + 31u, cb, a7_0[3], a7_1[3], a7_2[3], a7_3[3]);
  put_dw4(z, rb + 31u, cb + 4u, a7_4[3], a7_5[3], a7_6[3], a7_7[3]);
  put_dw4(z, rb + 32u, cb, a8_0[0], a8_1[0], a8_2[0], a8_3[0]);
  put_dw4(z, rb + 32u, cb + 4u, a8_4[0], a8_5[0], a8_6[0], a8_7[0]);
  put_dw4(z, rb + 33u, cb, a8_0[1], a8_1[1], a8_2[1], a8_3[1]);
  put_dw4(z, rb + 33u, cb + 4u, a8_4[1], a8_5[1], a8_6[1], a8_7[1]);
  put_dw4(z, rb + 34u, cb, a8_0[2], a8_1[2], a8_2[2], a8_3[2]);
  put_dw4(z, rb + 34u, cb + 4u, a8_4[2], a8_5[2], a8_6[2], a8_7[2]);
  put_dw4(z, rb + 35u, cb, a8_0[3], a8_1[3], a8_2[3], a8_3[3]);
  put_dw4(z, rb + 35u, cb + 4u, a8_4[3], a8_5[3], a8_6[3], a8_7[3]);
  put_dw4(z, rb + 36u, cb, a9_0[0], a9_1[0], a9_2[0], a9_3[0]);
  put_dw4(z, rb + 36u, cb + 4u, a9_4[0], a9_5[0], a9_6[0], a9_7[0]);
  put_dw4(z, rb + 37u, cb, a9_0[1], a9_1[1], a9_2[1], a9_3[1]);
  put_dw4(z, rb + 37u, cb + 4u, a9_4[1], a9_5[1], a9_6[1], a9_7[1]);
  put_dw4(z, rb + 38u, cb, a9_0[2], a9_1[2], a9_2[2], a9_3[2]);
  put_dw4(z, rb + 38u, cb + 4u, a9_4[2], a9_5[2], a9_6[2], a9_7[2]);
  put_dw4(z, rb + 39u, cb, a9_0[3], a9_1[3], a9_2[3], a9_3[3]);
  put_dw4(z, rb + 39u, cb + 4u, a9_4[3], a9_5[3], a9_6[3], a9_7[3]);
  put_dw4(z, rb + 40u, cb, a10_0[0], a10_1[0], a10_2[0], a10_3[0]);
  put_dw4(z, rb + 40u, cb + 4u, a10_4[0], a10_5[0], a10_6[0], a10_7[0]);
  put_dw4(z, rb + 41u, cb, a10_0[1], a10_1[1], a10_2[1], a10_3[1]);
  put_dw4(z, rb + 41u, cb + 4u, a10_4[1], a10_5[1], a10_6[1], a10_7[1]);
  put_dw4(z, rb + 42u, cb, a10_0[2], a10_1[2], a10_2[2], a10_3[2]);
  put_dw4(z, rb + 42u, cb + 4u, a10_4[2], a10_5[2], a10_6[2], a10_7[2]);
  put_dw4(z, rb + 43u, cb, a10_0[3], a10_1[3], a10_2[3], a10_3[3]);
  put_dw4(z, rb + 43u, cb + 4u, a10_4[3], a10_5[3], a10_6[3], a10_7[3]);
  put_dw4(z, rb + 44u, cb, a11_0[0], a11_1[0], a11_2[0], a11_3[0]);
  put_dw4(z, rb + 44u, cb + 4u, a11_4[0], a11_5[0], a11_6[0], a11_7[0]);
  put_dw4(z, rb + 45u, cb, a11_0[1], a11_1[1], a11_2[1], a11_3[1]);
  put_dw4(z, rb + 45u, cb + 4u, a11_4[1], a11_5[1], a11_6[1], a11_7[1]);
  put_dw4(z, rb + 46u, cb, a11_0[2], a11_1[2], a11_2[2], a11_3[2]);
  put_dw4(z, rb + 46u, cb + 4u, a11_4[2], a11_5[2], a11_6[2], a11_7[2]);
  put_dw4(z, rb + 47u, cb, a11_0[3], a11_1[3], a11_2[3], a11_3[3]);
  put_dw4(z, rb + 47u, cb + 4u, a11_4[3], a11_5[3], a11_6[3], a11_7[3]);
  put_dw4(z, rb + 48u, cb, a12_0[0], a12_1[0], a12_2[0], a12_3[0]);
  put_dw4(z, rb + 48u, cb + 4u, a12_4[0], a12_5[0], a12_6[0], a12_7[0]);
  put_dw4(z, rb + 49u, cb, a12_0[1], a12_1[1], a12_2[1], a12_3[1]);
  put_dw4(z, rb + 49u, cb + 4u, a12_4[1], a12_5[1], a12_6[1], a12_7[1]);
  put_dw4(z, rb + 50u, cb, a12_0[2], a12_1[2], a12_2[2], a12_3[2]);
  put_dw4(z, rb + 50u, cb + 4u, a12_4[2], a12_5[2], a12_6[2], a12_7[2]);
  put_dw4(z, rb + 51u, cb, a12_0[3], a12_1[3], a12_2[3], a12_3[3]);
  put_dw4(z, rb + 51u, cb + 4u, a12_4[3], a12_5[3], a12_6[3], a12_7[3]);
  put_dw4(z, rb + 52u, cb, a13_0[0], a13_1[0], a13_2[0], a13_3[0]);
  put_dw4(z, rb + 52u, cb + 4u, a13_4[0], a13_5[0], a13_6[0], a13_7[0]);
  put_dw4(z, rb + 53u, cb, a13_0[1], a13_1[1], a13_2[1], a13_3[1]);
  put_dw4(z, rb + 53u, cb + 4u, a13_4[1], a13_5[1], a13_6[1], a13_7[1]);
  put_dw4(z, rb + 54u, cb, a13_0[2], a13_1[2], a13_2[2], a13_3[2]);
  put_dw4(z, rb + 54u, cb + 4u, a13_4[2], a13_5[2], a13_6[2], a13_7[2]);
  put_dw4(z, rb + 55u, cb, a13_0[3], a13_1[3], a13_2[3], a13_3[3]);
  put_dw4(z, rb + 55u, cb + 4u, a13_4[3], a13_5[3], a13_6[3], a13_7[3]);
  put_dw4(z, rb + 56u, cb, a14_0[0], a14_1[0], a14_2[0], a14_3[0]);
  put_dw4(z, rb + 56u, cb + 4u, a14_4[0], a14_5[0], a14_6[0], a14_7[0]);
  put_dw4(z, rb + 57u, cb, a14_0[1], a14_1[1], a14_2[1], a14_3[1]);
  put_dw4(z, rb + 57u, cb + 4u, a14_4[1], a14_5[1], a14_6[1], a14_7[1]);
  put_dw4(z, rb + 58u, cb, a14_0[2], a14_1[2], a14_2[2], a14_3[2]);
  put_dw4(z, rb + 58u, cb + 4u, a14_4[2], a14_5[2], a14_6[2], a14_7[2]);
  put_dw4(z, rb + 59u, cb, a14_0[3], a14_1[3], a14_2[3], a14_3[3]);
  put_dw4(z, rb + 59u, cb + 4u, a14_4[3], a14_5[3], a14_6[3], a14_7[3]);
  put_dw4(z, rb + 60u, cb, a15_0[0], a15_1[0], a15_2[0], a15_3[0]);
  put_dw4(z, rb + 60u, cb + 4u, a15_4[0], a15_5[0], a15_6[0], a15_7[0]);
  put_dw4(z, rb + 61u, cb, a15_0[1], a15_1[1], a15_2[1], a15_3[1]);
  put_dw4(z, rb + 61u, cb + 4u, a15_4[1], a15_5[1], a15_6[1], a15_7[1]);
  put_dw4(z, rb + 62u, cb, a15_0[2], a15_1[2], a15_2[2], a15_3[2]);
  put_dw4(z, rb + 62u, cb + 4u, a15_4[2], a15_5[2], a15_6[2], a15_7[2]);
  put_dw4(z, rb + 63u, cb, a15_0[3], a15_1[3], a15_2[3], a15_3[3]);
  put_dw4(z, rb + 63u, cb + 4u, a15_4[3], a15_5[3], a15_6[3], a15_7[3]);
}

// dw[i] = sum_z part[z, i]: the partial dws of the image chunks (written by the vec4 dw kernels
// into part [splits, KH KW Cin Cout] when the batch is split so that enough invocations run).
// Invocation i (1-D grid, see grid1d) writes dw[i].
@compute @workgroup_size(64)
fn reduce_splits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let N = dims.kh * dims.kw * dims.cin * dims.cout;
  if (i >= N) { return; }
  var s = 0.0;
  for (var z = 0u; z < dims.splits; z++) { s += part[z * N + i]; }
  dw[i] = s;
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
