// Dense layer products tiled through workgroup memory: the kernel family real GPUs want
// (dense.wgsl's register-tiled kernels are the fast ones on llvmpipe, where workgroup memory
// measured 3-8x slower; DESIGN.md). dense.ts offers it to the tuner (src/gpu/tuner.ts) as a
// candidate for each product; every use is tested against the reference (tests/dense_test.ts).
//
//   c[m, n] = sum_k A[m, k] B[k, n]  (+ bias[n]) (relu'd, or masked by mask[m, n] > 0)
//
// with A and B the bound matrices a and bm read transposed or not (override TA, TB):
//   forward:  y = x W + b        a = x [M, K], bm = W [K, N]              TA = 0, TB = 0
//   dx:       dx = dy W^T        a = dy [M, K = N'], bm = W [N, K]        TA = 0, TB = 1
//   dW:       dW = x^T dy        a = x [K = B, M], bm = dy [K, N]         TA = 1, TB = 0
// Overrides: BIAS = 1 adds bias[n]; RELU = 1 writes max(c, 0); MASK = 1 writes c * (mask > 0)
// (dx of a layer whose input is a ReLU's output, as dense.wgsl's fused dx).
//
// Bindings (row-major f32): c [M, N]; a [M, K] (TA = 0) or [K, M] (TA = 1); bm [K, N] (TB = 0)
// or [N, K] (TB = 1); bias [N]; mask [M, N]. dims: m, n, k.
//
// Workgroup 16 x 16 computes a 64 x 64 tile of c, each invocation 4 x 4 elements of it (rows
// ly + 16 i, columns lx + 16 j, so neighbouring invocations touch neighbouring columns); the
// K loop steps 16 at a time through two workgroup tiles
// As [64 rows x 16 k] and Bs [16 k x 64 columns], loaded by all 256 invocations, 4 elements
// each, zero past the matrix edges. Invocation (gid.x, gid.y) with local (lx, ly) writes
// c[64 wid.y + ly + 16 i, 64 wid.x + lx + 16 j], i, j in 0..3, where inside c.

struct Dims {
  m: u32,
  n: u32,
  k: u32,
}

override TA: u32 = 0u;
override TB: u32 = 0u;
override BIAS: u32 = 0u;
override RELU: u32 = 0u;
override MASK: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> c: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<uniform> dims: Dims;

var<workgroup> As: array<f32, 1024>;   // [64 rows][16 k]
var<workgroup> Bs: array<f32, 1024>;   // [16 k][64 columns]

fn a_at(row: u32, kk: u32) -> f32 {
  if (row >= dims.m || kk >= dims.k) { return 0.0; }
  if (TA == 1u) { return a[kk * dims.m + row]; }
  return a[row * dims.k + kk];
}

fn b_at(kk: u32, col: u32) -> f32 {
  if (kk >= dims.k || col >= dims.n) { return 0.0; }
  if (TB == 1u) { return bm[col * dims.k + kk]; }
  return bm[kk * dims.n + col];
}

@compute @workgroup_size(16, 16)
fn product(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let row0 = 64u * wid.y;
  let col0 = 64u * wid.x;
  let t = lid.y * 16u + lid.x;   // 0..255
  var acc: array<vec4f, 4>;      // acc[i][j]: row ly + 16 i, column lx + 16 j
  for (var k0 = 0u; k0 < dims.k; k0 += 16u) {
    // Each invocation loads 4 elements of each tile.
    for (var e = 0u; e < 4u; e++) {
      let idx = t + 256u * e;           // 0..1023
      let ar = idx / 16u;               // As row
      let ak = idx % 16u;
      As[idx] = a_at(row0 + ar, k0 + ak);
      let bk = idx / 64u;               // Bs k
      let bc = idx % 64u;
      Bs[idx] = b_at(k0 + bk, col0 + bc);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let av = vec4f(As[lid.y * 16u + kk], As[(lid.y + 16u) * 16u + kk],
        As[(lid.y + 32u) * 16u + kk], As[(lid.y + 48u) * 16u + kk]);
      let bv = vec4f(Bs[kk * 64u + lid.x], Bs[kk * 64u + lid.x + 16u],
        Bs[kk * 64u + lid.x + 32u], Bs[kk * 64u + lid.x + 48u]);
      acc[0] = fma(vec4f(av.x), bv, acc[0]);
      acc[1] = fma(vec4f(av.y), bv, acc[1]);
      acc[2] = fma(vec4f(av.z), bv, acc[2]);
      acc[3] = fma(vec4f(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + 16u * i;
    if (row >= dims.m) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (col >= dims.n) { continue; }
      var v = acc[i][j];
      if (BIAS == 1u) { v += bias[col]; }
      if (RELU == 1u) { v = max(v, 0.0); }
      if (MASK == 1u) { v = select(0.0, v, mask[row * dims.n + col] > 0.0); }
      c[row * dims.n + col] = v;
    }
  }
}
