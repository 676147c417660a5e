/**
 * `deno task profile` as a user runs it, on the mlp at a small batch: the per-kernel table,
 * the share of the step's wall time the passes account for, one submit per step counted, and
 * a trace.json in the Trace Event format with a CPU and a GPU track.
 */
import assert from "node:assert/strict";
import { gpu } from "./_helpers.ts";

const STEPS = 4;

Deno.test({
  name: "profile CLI: table, accounted share, submits and a Trace Event file",
  ignore: gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-profile-" });
    const args = ["--model", "mlp", "--batch", "16", "--steps", `${STEPS}`, "--warmup", "1"];
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `--allow-write=${dir}`,
        "src/cli/profile.ts",
        ...args,
        "--out",
        dir,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout);
    const err = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `profile failed:\n${out}\n${err}`);
    const md = await Deno.readTextFile(`${dir}/profile.md`);
    const rows = md.split("\n").filter((l) => /^\| (dense|relu|gather|adam)/.test(l));
    assert.ok(rows.length >= 5, `kernel rows:\n${md}`);
    // Every row's calls are a multiple of the steps profiled.
    for (const r of rows) assert.equal(Number(r.split("|")[2]) % STEPS, 0, r);
    assert.match(md, /Queue submits counted: (\d+) for \1 steps/);

    const trace = JSON.parse(await Deno.readTextFile(`${dir}/trace.json`));
    const events: { ph: string; name: string; tid: number; ts?: number; dur?: number }[] =
      trace.traceEvents;
    assert.ok(Array.isArray(events));
    for (const e of events) {
      assert.ok(e.ph === "X" || e.ph === "M", `phase ${e.ph}`);
      if (e.ph === "X") assert.ok(e.ts! >= 0 && e.dur! >= 0, `${e.name} ${e.ts} ${e.dur}`);
    }
    const named = events.filter((e) => e.ph === "M" && e.name === "thread_name");
    assert.equal(named.length, 2, "a CPU and a GPU track");
    const timestamps = !md.includes("timing whole submits");
    if (timestamps) {
      const share = Number(/step wall time \(([0-9.]+)%\)/.exec(md)?.[1]);
      assert.ok(share > 0 && share <= 100, `passes account for ${share}% of the wall time`);
      console.log(`passes account for ${share}% of the wall time at batch 16`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
