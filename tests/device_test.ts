/**
 * Device limits: what requestGpu asks for beyond WebGPU's defaults (up to what the adapter
 * offers, and named in Gpu.grants), kernels and tensors refused by name when they need more
 * than the device has, and every shader entry point within WebGPU's default limits, so each
 * kernel runs on any adapter. Runs in Deno and in the Chromium kernel suite.
 */
import assert from "node:assert/strict";
import { WgslReflect } from "wgsl_reflect";
import { readback, Tensor } from "../src/gpu/buffer.ts";
import { DEFAULT_LIMITS } from "../src/gpu/device.ts";
import { Kernel, submit } from "../src/gpu/kernel.ts";
import { denoOnlyTest, gpuTest, out } from "./_helpers.ts";

gpuTest(
  "device: limits past WebGPU's defaults are asked for up to the adapter's offer",
  async (gpu) => {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    assert.ok(adapter, "an adapter");
    console.log(`  ${gpu.adapterName}: ${gpu.grants.join("; ") || "WebGPU's defaults only"}`);
    for (const [name, base] of Object.entries(DEFAULT_LIMITS)) {
      const key = name as keyof typeof DEFAULT_LIMITS;
      const offered: number = adapter.limits[key];
      const have = gpu.device.limits[key];
      assert.equal(have, Math.max(offered, base), `${name}: device ${have}, adapter ${offered}`);
      assert.equal(
        gpu.grants.some((g) => g.startsWith(`${name} `)),
        have > base,
        `${name} is named in grants exactly when raised`,
      );
    }
    assert.equal(gpu.hasTimestamps, adapter.features.has("timestamp-query"));
    assert.equal(gpu.grants.includes("timestamp-query"), gpu.hasTimestamps);
  },
);

gpuTest("device: an entry point past the device's limits is refused by name", async (gpu) => {
  const l = gpu.device.limits;
  const n = l.maxStorageBuffersPerShaderStage + 1;
  const decls = Array.from(
    { length: n },
    (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`,
  ).join("\n");
  const body = Array.from({ length: n }, (_, i) => `b${i}[0] = 1.0;`).join(" ");
  assert.throws(
    () =>
      new Kernel(
        gpu.device,
        "too_many",
        `${decls}\n@compute @workgroup_size(1) fn main() { ${body} }`,
      ),
    new RegExp(
      `too_many\\.main: needs ${n} storage buffers, but this device allows ${n - 1} ` +
        `\\(maxStorageBuffersPerShaderStage`,
    ),
  );
  const wide = l.maxComputeWorkgroupSizeX + 1;
  assert.throws(
    () => new Kernel(gpu.device, "wide", `@compute @workgroup_size(${wide}) fn main() {}`),
    new RegExp(`wide\\.main: needs ${wide} invocations along X .*maxComputeWorkgroupSizeX`),
  );
  const x = Math.min(l.maxComputeWorkgroupSizeX, l.maxComputeInvocationsPerWorkgroup);
  const y = Math.floor(l.maxComputeInvocationsPerWorkgroup / x) + 1;
  assert.ok(y <= l.maxComputeWorkgroupSizeY);
  assert.throws(
    () => new Kernel(gpu.device, "big", `@compute @workgroup_size(${x}, ${y}) fn main() {}`),
    new RegExp(
      `big\\.main: needs ${
        x * y
      } invocations per workgroup, but this device allows ${l.maxComputeInvocationsPerWorkgroup} \\(maxComputeInvocationsPerWorkgroup`,
    ),
  );
  const words = Math.floor(l.maxBufferSize / 4) + 16;
  assert.throws(
    () => new Tensor(gpu.device, "f32", [words], "huge"),
    /tensor huge: \d+ B is over this device's largest buffer, \d+ B \(maxBufferSize/,
  );
  // One at the widest workgroup the device allows loads and runs.
  const ok = new Kernel(
    gpu.device,
    "fits",
    `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
     @compute @workgroup_size(${x}) fn main(@builtin(local_invocation_index) i: u32) {
       y[i] = f32(i);
     }`,
  );
  assert.deepEqual(ok.workgroupSize("main"), [x, 1, 1]);
  const ys = out(gpu, [x]);
  submit(gpu.device, [await ok.dispatch("main", { y: ys }, [1])]);
  assert.deepEqual([...await readback(gpu.device, ys)], Array.from({ length: x }, (_, i) => i));
});

denoOnlyTest("every shader entry point fits WebGPU's default limits", () => {
  const dir = new URL("../shaders/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((f) => f.endsWith(".wgsl"));
  assert.ok(files.length > 10);
  for (const file of files.sort()) {
    const reflect = new WgslReflect(Deno.readTextFileSync(new URL(file, dir)));
    let storage = 0;
    let invocations = 0;
    for (const e of reflect.entry.compute) {
      const s = e.resources.filter((r: { resourceType: number }) => r.resourceType === 1).length;
      const ws = e.workgroupSize as unknown as number[];
      const [x, y, z] = [ws?.[0] ?? 1, ws?.[1] ?? 1, ws?.[2] ?? 1];
      const where = `${file} ${e.name}`;
      assert.ok(s <= DEFAULT_LIMITS.maxStorageBuffersPerShaderStage, `${where}: ${s} storage`);
      assert.ok(x <= DEFAULT_LIMITS.maxComputeWorkgroupSizeX, `${where}: workgroup x ${x}`);
      assert.ok(y <= DEFAULT_LIMITS.maxComputeWorkgroupSizeY, `${where}: workgroup y ${y}`);
      assert.ok(z <= DEFAULT_LIMITS.maxComputeWorkgroupSizeZ, `${where}: workgroup z ${z}`);
      assert.ok(
        x * y * z <= DEFAULT_LIMITS.maxComputeInvocationsPerWorkgroup,
        `${where}: ${x * y * z}`,
      );
      storage = Math.max(storage, s);
      invocations = Math.max(invocations, x * y * z);
    }
    console.log(
      `  ${file}: ${reflect.entry.compute.length} entry points, at most ${storage} storage ` +
        `buffers and ${invocations} invocations per workgroup`,
    );
  }
});
