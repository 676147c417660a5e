/**
 * The train and profile tasks run with the narrowest permissions that work (issue 18): writes
 * scoped to runs/, the environment to the variables they read, no subprocesses; a folder
 * outside runs/ is a one-line error before any GPU work. Runs the tasks exactly as deno.json
 * defines them.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { smallIdx } from "./_small_idx.ts";

const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile("deno.json")).tasks;

/** The `--allow-*` flags of a task's deno run command. */
function allows(task: string): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (const m of tasks[task].matchAll(/--allow-([a-z]+)(?:=(\S+))?/g)) {
    flags.set(m[1], m[2] ?? true);
  }
  return flags;
}

Deno.test("permissions: train and profile write only under runs/, read only the env they use", () => {
  assert.deepEqual(
    Object.fromEntries(allows("train")),
    { read: true, env: "DENO_WEBGPU_BACKEND,WEBGPU_VAE_DEBUG,WEBGPU_VAE_CACHE", write: "runs" },
  );
  assert.deepEqual(
    Object.fromEntries(allows("profile")),
    { read: true, env: "DENO_WEBGPU_BACKEND,WEBGPU_VAE_DEBUG", write: "runs" },
  );
});

for (const task of ["train", "profile"]) {
  Deno.test(`permissions: deno task ${task} --out outside runs/ is one line, nothing written`, async () => {
    const outside = `${await Deno.makeTempDir({ prefix: "webgpu-vae-perm-" })}/run`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", task, "--out", outside],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr).split("\n").filter((l) => l.trim());
    assert.equal(r.code, 1);
    assert.deepEqual(err, [
      `error: --out ${outside}: not allowed to write there (deno task ${task} writes under ` +
      `runs/ only): pick a folder under runs/`,
    ]);
    await assert.rejects(() => Deno.lstat(outside), Deno.errors.NotFound);
  });
}

Deno.test("permissions: deno task train trains end to end with exactly its own permissions", async () => {
  // The task as deno.json runs it, environment inherited (DENO_WEBGPU_BACKEND included): any
  // file, variable or write the training path reaches beyond the task's grants fails here.
  const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-perm-" });
  const out = `runs/perm-e2e-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const data = await loadDataset("embedded");
    await Deno.writeFile(`${tmp}/small.idx`, smallIdx(data, 60));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "train", "--dataset", `idx:${tmp}/small.idx`, "--epochs", "1"]
        .concat(["--hidden", "8", "--z", "2", "--batch", "16", "--out", out]),
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    for (const f of ["config.json", "metrics.jsonl", "model.safetensors", "report.html"]) {
      assert.ok((await Deno.stat(`${out}/${f}`)).isFile, f);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});
