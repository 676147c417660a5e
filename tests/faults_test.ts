/**
 * Nothing lost, ever (issue 18): the trainer is killed with SIGKILL at every write point of an
 * epoch commit in turn, resumed, and must end with the same bytes as a run never interrupted;
 * plus the lock, the signals, the non-finite guard and the damaged-folder checks, each as a
 * user meets them. Tiny model (--hidden 16 --z 2) on 250 images, so a run takes seconds.
 *
 * The trainer's test-only hooks (src/cli/train.ts): WEBGPU_VAE_FAULT=FILE:POINT@EPOCH blocks
 * the trainer at that write point of that epoch's commit (the test then kills it),
 * WEBGPU_VAE_FAULT=pause-after-step:N holds it after step N until RUN/.fault-continue appears,
 * WEBGPU_VAE_TEST_CLOCK=steps makes the timings in metrics.jsonl a function of the step.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { encodeSafetensors, parseSafetensors } from "../src/io/safetensors.ts";
import { gpu } from "./_helpers.ts";
import { smallIdx } from "./_small_idx.ts";

const root = await Deno.makeTempDir({ prefix: "webgpu-vae-faults-" });
const data = await loadDataset("embedded", {});
const N = 250; // 225 train (4 steps of 64, the last one 33), 25 held out
await Deno.writeFile(`${root}/small.idx`, smallIdx(data, N));
const TINY = ["--dataset", `idx:${root}/small.idx`, "--hidden", "16", "--z", "2", "--batch", "64"];
const ENV_HOOKS = "WEBGPU_VAE_DEBUG,WEBGPU_VAE_FAULT,WEBGPU_VAE_TEST_CLOCK";

interface Result {
  code: number;
  out: string;
  err: string;
}

/** The trainer with the train task's permissions (writes under `root` instead of runs/). */
function spawn(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      `--allow-env=${ENV_HOOKS}`,
      `--allow-write=${root}`,
      "src/cli/train.ts",
      ...args,
    ],
    env: { NO_COLOR: "1", WEBGPU_VAE_TEST_CLOCK: "steps", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const r = await spawn(args, env).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

function errorLines(r: Result): string[] {
  return r.err.split("\n").filter((l) => l.trim() && !/^(Download|Check|Task)/.test(l));
}

/**
 * Read the child's stderr until a line matches `marker` (returns the text so far) or the
 * stream ends (returns null). Stdout is drained alongside so the child never blocks on it.
 */
async function waitFor(child: Deno.ChildProcess, marker: RegExp): Promise<string | null> {
  const drain = (async () => {
    for await (const _ of child.stdout) { /* progress lines */ }
  })();
  const reader = child.stderr.getReader();
  const dec = new TextDecoder();
  let seen = "";
  while (!marker.test(seen)) {
    const { value, done } = await reader.read();
    if (done) {
      await drain;
      return null;
    }
    seen += dec.decode(value, { stream: true });
  }
  reader.releaseLock();
  // Keep reading stderr in the background so the child never blocks on a full pipe.
  (async () => {
    for await (const _ of child.stderr) { /* rest */ }
  })().catch(() => {});
  drain.catch(() => {});
  return seen;
}

/** Kill with SIGKILL and wait for the end. */
async function killHard(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

const FILES = ["optimizer.safetensors", "model.safetensors", "config.json", "metrics.jsonl"];
const POINTS = FILES.flatMap((f) => ["created", "written", "renamed"].map((p) => `${f}:${p}`));

const opts = { sanitizeResources: false, sanitizeOps: false, ignore: gpu === null };

Deno.test({
  name: "faults: SIGKILL at every write point of an epoch commit, then --resume: same bytes",
  ...opts,
  fn: async () => {
    const run2 = `${root}/run`; // every run in the same folder: config.out is in the files
    const ref = await run([...TINY, "--epochs", "3", "--out", run2]);
    assert.equal(ref.code, 0, ref.err);
    const want = new Map<string, Uint8Array>();
    for (const f of FILES) want.set(f, await Deno.readFile(`${run2}/${f}`));
    await Deno.remove(run2, { recursive: true });
    const table: string[] = [];
    for (const point of POINTS) {
      const child = spawn([...TINY, "--epochs", "3", "--out", run2], {
        WEBGPU_VAE_FAULT: `${point}@2`,
      });
      const seen = await waitFor(child, new RegExp(`fault: at ${point} of epoch 2\\n`));
      await killHard(child);
      assert.ok(seen !== null, `${point}: the trainer never reached the point`);
      const left = await names(run2);
      assert.ok(left.includes(".lock"), `${point}: the killed trainer's lock is left`);
      const temps = left.filter((n) => n.includes(".tmp-"));
      if (point === POINTS[0]) {
        // A plain --resume reports the dead holder and does not take the lock.
        const refused = await run(["--resume", run2]);
        assert.equal(refused.code, 1);
        assert.match(errorLines(refused)[0], /which no longer runs .*--break-lock/);
      }
      const r = await run(["--resume", run2, "--break-lock"]);
      assert.equal(r.code, 0, `${point}: ${r.err}`);
      assert.match(r.err, /took over the lock of process \d+, which no longer runs/);
      assert.match(r.out, /resuming .* after epoch [12] \(step [48]\): training epochs [23]-3/);
      for (const f of FILES) {
        assert.deepEqual(await Deno.readFile(`${run2}/${f}`), want.get(f), `${point}: ${f}`);
      }
      const after = await names(run2);
      assert.deepEqual(after.filter((n) => n.includes(".tmp-") || n.startsWith(".lock")), []);
      const from = r.out.match(/after epoch (\d)/)![1];
      const rewrote = r.out.match(/rewrote (.*) from the last commit/)?.[1] ?? "nothing";
      table.push(
        `  ${point.padEnd(32)} killed; temp files ${temps.length}; resumed after epoch ${from}` +
          `; rewrote ${rewrote}; identical`,
      );
      await Deno.remove(run2, { recursive: true });
    }
    console.log(table.join("\n"));
  },
});

Deno.test({
  name: "faults: killed before its first epoch ends, the folder resumes to the same bytes",
  ...opts,
  fn: async () => {
    const dir = `${root}/early`;
    const ref = await run([...TINY, "--epochs", "1", "--out", dir]);
    assert.equal(ref.code, 0, ref.err);
    const want = await Promise.all(FILES.map((f) => Deno.readFile(`${dir}/${f}`)));
    await Deno.remove(dir, { recursive: true });
    const child = spawn([...TINY, "--epochs", "1", "--out", dir], {
      WEBGPU_VAE_FAULT: "pause-after-step:2",
    });
    assert.ok(await waitFor(child, /fault: paused after step 2\n/));
    await killHard(child);
    const r = await run(["--resume", dir, "--break-lock"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no epoch was committed yet, starting at epoch 1/);
    const got = await Promise.all(FILES.map((f) => Deno.readFile(`${dir}/${f}`)));
    assert.deepEqual(got, want);
  },
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test({
    name: `faults: ${signal} stops after the current step, saves, exits ${code}`,
    ...opts,
    fn: async () => {
      // Batch 8: 29 steps an epoch, progress read every 4; the signal comes after step 5.
      const dir = `${root}/signal-${signal}`;
      const child = spawn([...TINY, "--batch", "8", "--epochs", "2", "--out", dir], {
        WEBGPU_VAE_FAULT: "pause-after-step:5",
      });
      assert.ok(await waitFor(child, /fault: paused after step 5\n/), "never paused");
      child.kill(signal);
      // The runtime picks a signal up on a thread of its own, some microseconds later; give
      // it ample time before the trainer takes its next step (the trainer itself yields to
      // it after every step).
      await new Promise((r) => setTimeout(r, 300));
      await Deno.writeTextFile(`${dir}/.fault-continue`, "");
      const status = await child.status;
      assert.equal(status.code, code);
      const state = parseSafetensors(await Deno.readFile(`${dir}/optimizer.safetensors`));
      assert.equal(state.metadata.step, "5");
      assert.equal(state.metadata.step_in_epoch, "5");
      assert.deepEqual((await names(dir)).filter((n) => n.startsWith(".")), []);
      // It continues from there to the same bytes as a run never stopped.
      const r = await run(["--resume", dir]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /resuming .* in epoch 1 after its step 5/);
      const straight = `${root}/straight-${signal}`;
      const s = await run([...TINY, "--batch", "8", "--epochs", "2", "--out", straight]);
      assert.equal(s.code, 0, s.err);
      for (const f of ["model.safetensors", "optimizer.safetensors"]) {
        const a = parseSafetensors(await Deno.readFile(`${dir}/${f}`));
        const b = parseSafetensors(await Deno.readFile(`${straight}/${f}`));
        for (const [name, t] of b.tensors) {
          assert.deepEqual(a.tensors.get(name)?.data, t.data, `${f} ${name}`);
        }
      }
    },
  });
}

Deno.test({
  name: "faults: a second trainer on a locked folder gets a one-line error naming the holder",
  ...opts,
  fn: async () => {
    const dir = `${root}/locked`;
    const a = spawn([...TINY, "--epochs", "1", "--out", dir], {
      WEBGPU_VAE_FAULT: "pause-after-step:1",
    });
    assert.ok(await waitFor(a, /fault: paused after step 1\n/), "first trainer never paused");
    const config = await Deno.readFile(`${dir}/config.json`);
    for (const extra of [[], ["--force"]]) {
      const b = await run([...TINY, "--hidden", "32", "--epochs", "2", "--out", dir, ...extra]);
      assert.equal(b.code, 1);
      assert.deepEqual(errorLines(b), [
        `error: ${dir} is in use by process ${a.pid} (another trainer): wait for it to end or ` +
        `pick another --out`,
      ]);
    }
    const c = await run(["--resume", dir, "--epochs", "2"]);
    assert.match(errorLines(c)[0], new RegExp(`in use by process ${a.pid}`));
    assert.deepEqual(await Deno.readFile(`${dir}/config.json`), config);
    await Deno.writeTextFile(`${dir}/.fault-continue`, "");
    assert.equal((await a.status).code, 0);
    assert.deepEqual((await names(dir)).filter((n) => n.startsWith(".")), []);
  },
});

Deno.test({
  name: "faults: two trainers started together on one folder: one runs, one is refused",
  ...opts,
  fn: async () => {
    const dir = `${root}/together`;
    const [a, b] = await Promise.all([
      run([...TINY, "--epochs", "1", "--out", dir]),
      run([...TINY, "--hidden", "24", "--epochs", "1", "--seed", "2", "--out", dir]),
    ]);
    assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.err}\n${b.err}`);
    const loser = a.code ? a : b;
    assert.equal(errorLines(loser).length, 1, loser.err);
    assert.match(errorLines(loser)[0], /is in use by process \d+|already exists/);
    const hidden = JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).hidden;
    assert.deepEqual(hidden, a.code ? [24] : [16], "config.json is the winner's");
    const model = parseSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
    assert.deepEqual(model.tensors.get("encoder.0.weight")?.shape, [784, hidden[0]]);
    assert.equal((await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n").length, 1);
  },
});

Deno.test({
  name: "faults: logvar bounds that overflow exp in float32 are refused up front",
  ...opts,
  fn: async () => {
    const dir = `${root}/clamp`;
    const r = await run([...TINY, "--epochs", "1", "--logvar-clamp", "80,90", "--out", dir]);
    assert.equal(r.code, 1);
    assert.deepEqual(errorLines(r), [
      "error: --logvar-clamp: 90 is out of range: exp(90) overflows float32 (|bound| must be at " +
      "most 88.72 = ln(3.4e38); use 'off' for no clamp at all)",
    ]);
    await assert.rejects(() => Deno.lstat(dir), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "faults: loss sums that overflow stop the run; nothing non-finite is recorded",
  ...opts,
  fn: async () => {
    // Each logvar clamped to [87, 88]: exp(logvar) >= 6e37 per dimension, so an example's KL
    // is finite (z = 2) but its sum over a batch overflows float32.
    const dir = `${root}/overflow`;
    const r = await run([...TINY, "--epochs", "1", "--logvar-clamp", "87,88", "--out", dir]);
    assert.equal(r.code, 1);
    const lines = errorLines(r);
    assert.equal(lines.length, 1, r.err);
    assert.match(
      lines[0],
      /^error: (the loss became NaN or Inf|the epoch's loss sums overflowed).* in epoch 1.*no checkpoint had been written yet/,
    );
    assert.ok(!(await names(dir)).includes("metrics.jsonl"));
    assert.ok(!(await names(dir)).includes(".lock"));
  },
});

Deno.test({
  name: "faults: a loss growing by orders of magnitude is reported; --stop-on-divergence stops",
  ...opts,
  fn: async () => {
    const dir = `${root}/diverge`;
    const r = await run([...TINY, "--epochs", "1", "--lr", "1e3", "--out", dir]);
    const warning = r.err.split("\n").filter((l) => l.startsWith("warning: the loss is diverging"));
    assert.equal(warning.length, 1, r.err);
    assert.match(warning[0], /times its lowest .* at epoch 1, step \d\); try a lower --lr/);
    const dir2 = `${root}/diverge-stop`;
    const s = await run([
      ...TINY,
      "--epochs",
      "2",
      "--lr",
      "1e3",
      "--stop-on-divergence",
      "--out",
      dir2,
    ]);
    assert.equal(s.code, 1);
    const last = errorLines(s).at(-1)!;
    assert.match(
      last,
      /^error: the loss is diverging: .*; stopped \(--stop-on-divergence\) without saving/,
    );
    assert.ok(!(await names(dir2)).includes("optimizer.safetensors"));
  },
});

Deno.test({
  name: "faults: --config with --resume applies its resumable keys; a failed resume writes nothing",
  ...opts,
  fn: async () => {
    const dir = `${root}/resume-config`;
    const a = await run([...TINY, "--epochs", "1", "--out", dir]);
    assert.equal(a.code, 0, a.err);
    const before = new Map<string, Uint8Array>();
    for (const f of FILES) before.set(f, await Deno.readFile(`${dir}/${f}`));
    // A resume that hits NaN (lr 1e38) leaves every file as it was, config.json's lr too.
    const nan = await run(["--resume", dir, "--epochs", "3", "--lr", "1e38"]);
    assert.equal(nan.code, 1);
    for (const f of FILES) assert.deepEqual(await Deno.readFile(`${dir}/${f}`), before.get(f), f);
    // --config's epochs and lr apply on --resume; a fixed key that differs is refused.
    await Deno.writeTextFile(`${root}/more.json`, JSON.stringify({ epochs: 2, lr: 5e-4 }));
    const b = await run(["--resume", dir, "--config", `${root}/more.json`]);
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, /--resume: epochs 1 -> 2/);
    assert.match(b.out, /--resume: lr 0.001 -> 0.0005/);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.equal(saved.epochs, 2);
    assert.equal(saved.lr, 5e-4);
    await Deno.writeTextFile(`${root}/other.json`, JSON.stringify({ epochs: 3, z: 5 }));
    const c = await run(["--resume", dir, "--config", `${root}/other.json`]);
    assert.deepEqual(errorLines(c), ["error: --z cannot change on --resume (the run used 2)"]);
  },
});

Deno.test({
  name: "faults: damaged run folders are refused with one line naming the file",
  ...opts,
  fn: async () => {
    const dir = `${root}/damaged`;
    const a = await run([...TINY, "--epochs", "1", "--out", dir]);
    assert.equal(a.code, 0, a.err);
    // Parameters holding NaN: resume refuses them, naming the file and the element.
    const path = `${dir}/optimizer.safetensors`;
    const good = await Deno.readFile(path);
    const f = parseSafetensors(good);
    const params = Float32Array.from(f.tensors.get("params")!.data as Float32Array);
    params[7] = NaN;
    await Deno.writeFile(
      path,
      encodeSafetensors(
        [...f.tensors].map(([name, t]) => ({
          name,
          dtype: "F32" as const,
          shape: t.shape,
          data: name === "params" ? params : t.data as Float32Array,
        })),
        f.metadata,
      ),
    );
    const want = `error: ${path}: params holds NaN at element 7 (a damaged or diverged ` +
      `checkpoint; train again or resume from a good copy)`;
    const r = await run(["--resume", dir, "--epochs", "2"]);
    assert.deepEqual(errorLines(r), [want]);
    // eval and sample read the weights from model.safetensors (the model file's own loader,
    // src/vae/spec.ts): a NaN there is refused the same way, naming the file and the element.
    const modelPath = `${dir}/model.safetensors`;
    const goodModel = await Deno.readFile(modelPath);
    const mf = parseSafetensors(goodModel);
    const first = [...mf.tensors.keys()][0];
    await Deno.writeFile(
      modelPath,
      encodeSafetensors(
        [...mf.tensors].map(([name, t]) => {
          const data = Float32Array.from(t.data as Float32Array);
          if (name === first) data[3] = NaN;
          return { name, dtype: "F32" as const, shape: t.shape, data };
        }),
        mf.metadata,
      ),
    );
    const wantModel = new RegExp(
      `^error: ${modelPath}.*${
        first.replaceAll(".", "\\.")
      } holds a non-finite value \\(NaN\\) at 3`,
    );
    for (const cli of [["eval.ts", dir], ["sample.ts", dir, "--out", `${root}/nan.png`]]) {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-env", `--allow-write=${root}`, `src/cli/${cli[0]}`]
          .concat(cli.slice(1)),
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const res = { code: o.code, out: "", err: new TextDecoder().decode(o.stderr) };
      assert.equal(o.code, 1, `${cli[0]}: ${res.err}`);
      const lines = errorLines(res);
      assert.equal(lines.length, 1, `${cli[0]}: ${res.err}`);
      assert.match(lines[0], wantModel, cli[0]);
    }
    await Deno.writeFile(modelPath, goodModel);
    await Deno.writeFile(path, good);
    // A folder without a commit (killed early) resumes from config.json, validated by key.
    await Deno.remove(path);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, hidden: 16 }));
    const c = await run(["--resume", dir, "--epochs", "2"]);
    assert.deepEqual(errorLines(c), [
      `error: ${dir}/config.json: key 'hidden': '16' is not a comma-separated list`,
    ]);
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, batch: "x" }));
    const d = await run(["--resume", dir, "--epochs", "2"]);
    assert.deepEqual(errorLines(d), [
      `error: ${dir}/config.json: key 'batch': 'x' is not a positive integer`,
    ]);
  },
});
