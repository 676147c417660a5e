/**
 * `deno task adapter`: which WebGPU adapter this machine offers, and the limits the
 * project relies on. With none, a one-line error that says what to install.
 */
import { requestGpu } from "../gpu/device.ts";
import { CliError, runMain } from "./_main.ts";

const USAGE = "usage: deno task adapter";

await runMain(async () => {
  if (Deno.args[0] === "--help") {
    console.log(`${USAGE}: the WebGPU adapter Deno finds here, its backend and limits`);
    return;
  }
  if (Deno.args.length) throw new CliError(`unexpected argument '${Deno.args[0]}' (${USAGE})`);
  const gpu = await requestGpu();
  const l = gpu.device.limits;
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default";
  console.log(`adapter: ${gpu.adapterName}${gpu.isFallback ? " (fallback/software)" : ""}`);
  console.log(`backend: ${backend}`);
  console.log(`timestamp-query: ${gpu.hasTimestamps ? "yes" : "no"}`);
  console.log(`max storage binding: ${(l.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`);
  console.log(`max buffer: ${(l.maxBufferSize / 2 ** 20).toFixed(0)} MiB`);
  console.log(`max workgroup invocations: ${l.maxComputeInvocationsPerWorkgroup}`);
  gpu.destroy();
});
