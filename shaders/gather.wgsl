// Batch gather: builds a normalized f32 batch from a dataset that stays on the GPU, u8
// (images: `gather`) or f32 (streamline coordinates, condition vectors: `gather_f32`).
//
//   x[b, f] = data[index[offset + b] * F + f] * scale + shift      (e.g. scale 1/255, shift 0)
//
// Bindings: x [B, F] f32; data [N * F] u8, four bytes to a u32 word, byte k in bits
// 8 (k % 4) .. 8 (k % 4) + 7 of word k / 4 (little-endian, as writeBuffer lays bytes out);
// or values [N * F] f32 for gather_f32; index [I] u32, a shuffled order of examples. Invocation i (flat(), see activation.wgsl)
// writes x[i] for i < B * F. An index entry past I or an example past N gives NaN, so a
// stale offset shows up in the loss guard rather than as a plausible wrong batch.

struct Dims {
  batch: u32,     // B (the last batch of an epoch may be short)
  features: u32,  // F bytes per example
  offset: u32,    // first entry of index for this batch; changes every step
  examples: u32,  // N
  indices: u32,   // I, entries in index
  scale: f32,
  shift: f32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<uniform> dims: Dims;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.features) { return; }
  let b = i / dims.features;
  let f = i - b * dims.features;
  let k = dims.offset + b;
  // A quiet NaN built at run time: a constant expression may not evaluate to NaN.
  var value = bitcast<f32>(0x7fc00000u | (dims.batch & 0u));
  if (k < dims.indices) {
    let example = index[k];
    if (example < dims.examples) {
      let at = example * dims.features + f;
      let byte = (data[at >> 2u] >> ((at & 3u) * 8u)) & 0xffu;
      value = f32(byte) * dims.scale + dims.shift;
    }
  }
  x[i] = value;
}

@compute @workgroup_size(WG)
fn gather_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= dims.batch * dims.features) { return; }
  let b = i / dims.features;
  let f = i - b * dims.features;
  let k = dims.offset + b;
  var value = bitcast<f32>(0x7fc00000u | (dims.batch & 0u));
  if (k < dims.indices) {
    let example = index[k];
    if (example < dims.examples) {
      value = values[example * dims.features + f] * dims.scale + dims.shift;
    }
  }
  x[i] = value;
}
