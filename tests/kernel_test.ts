/** The GPU runtime itself: reflection, binding checks, uniforms, poison, errors. */
import assert from "node:assert/strict";
import { poisoned, readback, readbackU32, Tensor, upload } from "../src/gpu/buffer.ts";
import { grid1d, Kernel, submit } from "../src/gpu/kernel.ts";
import { denoOnlyTest, f32, gpuTest, out } from "./_helpers.ts";

const SOURCE = `
struct Dims { n: u32, scale: f32, shift: i32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> k: array<u32>;
@compute @workgroup_size(64) fn scale(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= dims.n) { return; }
  y[g.x] = x[g.x / 4u][g.x % 4u] * dims.scale + f32(dims.shift);
}
@compute @workgroup_size(64) fn widen(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= dims.n) { return; }
  y[g.x] = f32(k[g.x]);
}
`;

gpuTest("kernel: reflected bindings, packed uniforms, poisoned outputs", async (gpu) => {
  const k = new Kernel(gpu.device, "test_scale", SOURCE);
  assert.deepEqual(k.entryPoints, ["scale", "widen"]);
  assert.deepEqual(k.workgroupSize("scale"), [64, 1, 1]);
  const x = f32(gpu, [12], Array.from({ length: 12 }, (_, i) => i));
  const y = out(gpu, [13]);
  const d = await k.dispatch("scale", { y, x, dims: { n: 12, scale: 2, shift: -3 } }, [1]);
  submit(gpu.device, [d]);
  const got = await readback(gpu.device, y);
  assert.deepEqual([...got.slice(0, 12)], Array.from({ length: 12 }, (_, i) => 2 * i - 3));
  assert.ok(Number.isNaN(got[12]), "element past n keeps its poison");
  d.update("dims", { scale: 0.5 });
  submit(gpu.device, [d]);
  assert.equal((await readback(gpu.device, y))[5], 5 * 0.5 - 3);
});

gpuTest("kernel: wrong bindings are errors naming the shader and binding", async (gpu) => {
  const k = new Kernel(gpu.device, "test_scale", SOURCE);
  const x = f32(gpu, [12], new Float32Array(12));
  const y = out(gpu, [12]);
  const dims = { n: 12, scale: 1, shift: 0 };
  const u = upload(gpu.device, "u32", [12], new Uint32Array(12));
  await assert.rejects(
    () => k.dispatch("scale", { y, x: u, dims }, [1]),
    /test_scale\.scale: binding 'x' is array<f32> but .* is u32/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x: f32(gpu, [10], new Float32Array(10)), dims }, [1]),
    /test_scale\.scale: binding 'x' has 40 B, not a multiple of its 16-byte element/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, dims }, [1]),
    /test_scale\.scale: binding 'x' was not given/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x, dims, z: x }, [1]),
    /no binding named 'z'/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x, dims: { n: 12, scale: 1 } }, [1]),
    /uniform dims\.shift was not given/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x, dims: { ...dims, bias: 1 } }, [1]),
    /uniform dims has no member 'bias'/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x, dims: { ...dims, n: -1 } }, [1]),
    /dims\.n = -1 is not a u32/,
  );
  await assert.rejects(() => k.dispatch("nope", { y }, [1]), /no compute entry point 'nope'/);
  await assert.rejects(
    () => k.dispatch("scale", { y: { tensor: y, offset: 3, length: 4 }, x, dims }, [1]),
    /offset 12 B is not 256-aligned/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y: { tensor: y, offset: 0, length: 20 }, x, dims }, [1]),
    /views \[0, 20\) of .* which has 12 elements/,
  );
  await assert.rejects(
    () => k.dispatch("scale", { y, x, dims }, [70000]),
    /workgroup count 70000x1x1 is outside the device limit/,
  );
});

gpuTest(
  "kernel: u8 tensors bind as u32 words; a WGSL error names the file and line",
  async (gpu) => {
    const k = new Kernel(gpu.device, "test_scale", SOURCE);
    const bytes = upload(gpu.device, "u8", [7], new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
    const y = out(gpu, [2]);
    submit(gpu.device, [
      await k.dispatch("widen", { y, k: bytes, dims: { n: 2, scale: 0, shift: 0 } }, [1]),
    ]);
    const words = await readback(gpu.device, y);
    assert.deepEqual([...words], [0x04030201, 0x00070605].map(Math.fround));
    const bad = new Kernel(
      gpu.device,
      "broken",
      "@compute @workgroup_size(1) fn main() {\n  let a: f32 = 1u;\n}",
    );
    await assert.rejects(() => bad.dispatch("main", {}, [1]), /broken.*(main|pipeline|wgsl:2)/);
  },
);

gpuTest("kernel: the vecNf / vecNu aliases bind like vecN<f32> / vecN<u32>", async (gpu) => {
  const k = new Kernel(
    gpu.device,
    "test_alias",
    `@group(0) @binding(0) var<storage, read_write> y: array<vec4f>;
     @group(0) @binding(1) var<storage, read> n: array<vec2u>;
     @compute @workgroup_size(1) fn main() { y[0] = vec4f(f32(n[0].x + n[0].y)); }`,
  );
  const y = out(gpu, [4]);
  const n = upload(gpu.device, "u32", [2], [3, 4]);
  submit(gpu.device, [await k.dispatch("main", { y, n }, [1])]);
  assert.deepEqual([...(await readback(gpu.device, y))], [7, 7, 7, 7]);
  await assert.rejects(
    () => k.dispatch("main", { y: n, n }, [1]),
    /'y' is array<f32> but .* is u32/,
  );
});

gpuTest("buffers: poison is NaN, u32 round trip, grid1d covers n", async (gpu) => {
  const p = poisoned(gpu.device, [5]);
  assert.ok((await readback(gpu.device, p)).every(Number.isNaN));
  const u = upload(gpu.device, "u32", [3], [1, 2, 0xffffffff]);
  assert.deepEqual([...(await readbackU32(gpu.device, u))], [1, 2, 0xffffffff]);
  assert.throws(() => new Tensor(gpu.device, "f32", [2, -1]), /bad shape/);
  for (const n of [1, 255, 256, 257, 65535 * 256 + 1, 40_000_000]) {
    const [x, y] = grid1d(n, 256);
    assert.ok(x <= 65535 && x * y * 256 >= n, `grid1d(${n}) = ${x}x${y}`);
  }
});

denoOnlyTest("no adapter: a one-line error naming what to install, exit 1", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "src/cli/adapter.ts"],
    env: { DENO_WEBGPU_BACKEND: "none-such", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr).trim().split("\n").filter((l) =>
    !/^(Download|Check)/.test(l)
  );
  assert.equal(r.code, 1);
  assert.equal(err.length, 1, err.join("\n"));
  assert.match(err[0], /^error: no WebGPU adapter found: .*mesa-vulkan-drivers/);
});
