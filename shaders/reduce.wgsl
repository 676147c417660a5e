// Small reductions into a metrics buffer that stays on the GPU and is read back a few times
// per epoch.
//
//   accumulate:   acc[slot] += scale * sum_i x[i]         (e.g. per-example losses [B] into a
//                                                         running sum of batch means)
//   clear:        acc[i] = 0 for every slot i < n
//   finite_guard: acc[slot] += 1 when some x[i] is NaN or +-Inf (a count of the guarded
//                 launches that saw one; only clear resets it); with a step counter bound,
//                 acc[slot + 1] also records the first such step (counter[0] + 1), once
//
// Bindings: acc [slots] f32 (read-write), x [n] f32. accumulate and finite_guard run as one
// workgroup: invocation j visits i = j, j + WG, ..., then a fixed tree combines the partial
// results, so the order of additions never changes between runs; invocation 0 writes
// acc[slot]. clear: invocation i (flat(), see activation.wgsl) writes acc[i].

struct Dims {
  n: u32,       // elements of x (accumulate, finite_guard); slots of acc (clear)
  slot: u32,    // which acc element is written
  scale: f32,   // accumulate's multiplier, e.g. 1 / B for a batch mean
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;
@group(0) @binding(3) var<storage, read> counter: array<u32>;

var<workgroup> partial: array<f32, WG>;

// Sum of every invocation's v, returned to all of them. Called from uniform control flow only.
fn tree_sum(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
      partial[lid] = partial[lid] + partial[lid + half];
    }
    workgroupBarrier();
  }
  return partial[0];
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < dims.n; i += WG) {
    s += x[i];
  }
  let total = tree_sum(lid, s);
  if (lid == 0u) {
    acc[dims.slot] = acc[dims.slot] + dims.scale * total;
  }
}

@compute @workgroup_size(WG)
fn clear(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= dims.n) { return; }
  acc[i] = 0.0;
}

// How many x[i] are NaN or +-Inf, over the whole workgroup. NaN and +-Inf are exactly the
// floats whose exponent bits are all ones. Testing the bits survives compilers that assume no
// NaN and fold x != x or isinf-style comparisons away.
fn count_nonfinite(lid: u32) -> f32 {
  var bad = 0.0;
  for (var i = lid; i < dims.n; i += WG) {
    let bits = bitcast<u32>(x[i]);
    bad += select(0.0, 1.0, (bits & 0x7f800000u) == 0x7f800000u);
  }
  return tree_sum(lid, bad);
}

@compute @workgroup_size(WG)
fn finite_guard(@builtin(local_invocation_index) lid: u32) {
  let found = count_nonfinite(lid);
  if (lid == 0u && found > 0.0) {
    acc[dims.slot] = acc[dims.slot] + 1.0;
  }
}

// finite_guard, and the 1-based number of the first bad step (the optimizer's completed
// steps, counter[0], plus one) into acc[slot + 1] while that slot is still 0.
@compute @workgroup_size(WG)
fn finite_guard_step(@builtin(local_invocation_index) lid: u32) {
  let found = count_nonfinite(lid);
  if (lid == 0u && found > 0.0) {
    acc[dims.slot] = acc[dims.slot] + 1.0;
    if (acc[dims.slot + 1u] == 0.0) {
      acc[dims.slot + 1u] = f32(counter[0] + 1u);
    }
  }
}
