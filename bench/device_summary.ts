/**
 * bench/device.sh's last step: summary.md from the results it wrote into one folder: the
 * adapter, images/s of the WebGPU trainer (train.json) beside PyTorch's (torch.json) per model
 * and batch with their ratio, and the dense kernels' GFLOP/s on square products (square.md).
 *
 *   deno run --allow-read --allow-write=DIR bench/device_summary.ts DIR
 */

const dir = (Deno.args[0] ?? ".").replace(/\/+$/, "");

async function readJson(name: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
  } catch {
    return null;
  }
}

async function readText(name: string): Promise<string> {
  try {
    return await Deno.readTextFile(`${dir}/${name}`);
  } catch {
    return "";
  }
}

interface TrainRow {
  model: string;
  batch: number;
  imagesPerSecond: number;
}

const train = await readJson("train.json");
const torch = await readJson("torch.json");
const adapter = (await readText("adapter.txt")).trim();
const lines = [`# Device run ${new Date().toISOString()}`, "", "```", adapter, "```", ""];
const ours = (train?.rows as TrainRow[] | undefined) ?? [];
const theirs = (torch?.rows as TrainRow[] | undefined) ?? [];
lines.push(
  `WebGPU trainer (${
    train
      ? `dataset ${train.dataset}, ceiling ${
        Number(train.ceilingGflops).toFixed(1)
      } GFLOP/s, tuned kernels: ${train.tuned}`
      : "no train.json"
  }) beside PyTorch ${
    torch
      ? `${torch.torch} (CUDA ${torch.cuda}, ${torch.device}, eager, f32, TF32 ${
        torch.tf32 ? "on" : "off"
      })`
      : "(not run)"
  }.`,
  "",
  "| model | batch | WebGPU images/s | PyTorch images/s | WebGPU / PyTorch |",
  "|---|---:|---:|---:|---:|",
);
for (const r of ours) {
  const t = theirs.find((x) => x.model === r.model && x.batch === r.batch);
  lines.push(
    `| ${r.model} | ${r.batch} | ${r.imagesPerSecond.toFixed(1)} | ` +
      `${t ? t.imagesPerSecond.toFixed(1) : "-"} | ` +
      `${t ? (r.imagesPerSecond / t.imagesPerSecond).toFixed(2) : "-"} |`,
  );
}
lines.push("", (await readText("square.md")).trim(), "");
await Deno.writeTextFile(`${dir}/summary.md`, lines.join("\n"));
console.log(lines.join("\n"));
