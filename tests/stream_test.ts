/**
 * Training data above the GPU budget (src/train/stream.ts): a streamed run (the training split
 * uploaded in windows of 2 steps through two staging buffers) gives bit-identical weights,
 * Adam moments and losses to a resident run of the same data and seed, also across a resume
 * from the middle of a window, whether the windows come from host memory or from disk shards
 * (src/data/shards.ts, with no host copy left), also for a label-conditioned model; the shard
 * store itself; the train task
 * streaming from shards end to end; the placement rule and its one-line error.
 */
import assert from "node:assert/strict";
import { type Dataset, loadDataset } from "../src/data/datasets.ts";
import { type ShardReader, writeShards } from "../src/data/shards.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { dataPlacement, MIB } from "../src/train/stream.ts";
import { type EpochRecord, Trainer } from "../src/train/trainer.ts";
import { gpu, gpuTest } from "./_helpers.ts";

const data = await loadDataset("shapes-rgb:200:7:16x16", {}); // 180 train (12 steps of 16)
const F = 16 * 16 * 3;
const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-stream-" });

/** `data` with its training split on disk in shards of 7 examples, and no copy in memory. */
async function onDisk(data: Dataset, dir: string): Promise<{ data: Dataset; reader: ShardReader }> {
  const { reader } = await writeShards(data.train.images, data.train.count, {
    dir,
    shardBytes: 7 * F,
  });
  const train = { ...data.train, images: new Uint8Array(0), onDisk: reader };
  return { data: { ...data, train }, reader };
}

function config(gpuDataMb: number): TrainConfig {
  return {
    ...structuredClone(DEFAULTS),
    dataset: "shapes-rgb:200:7:16x16",
    model: "conv",
    z: 3,
    batch: 16,
    epochs: 2,
    lr: 0.003,
    filters: [4, 8],
    kernels: [3, 3],
    strides: [2, 2],
    "decoder-filters": [8, 3],
    "decoder-kernels": [3, 3],
    "decoder-strides": [2, 2],
    "gpu-data-mb": gpuDataMb,
    seed: 5,
  };
}

/** 0.08 MiB = 83886 B: two steps of 16 x 768 bytes, three times over (36864 B a step). */
const SMALL = 0.08;

Deno.test("stream: a split fits or is cut into windows of whole steps; too small a budget is one line", () => {
  assert.deepEqual(dataPlacement(180, F, 1, 16, 180 * F), {
    mode: "resident",
    bytes: 180 * F,
    budget: 180 * F,
  });
  const p = dataPlacement(180, F, 1, 16, SMALL * MIB);
  assert.equal(p.mode, "streamed");
  assert.equal(p.stepsPerWindow, 2);
  assert.equal(p.windowExamples, 32);
  assert.equal(p.windows, 6); // 5 x 32 + 20
  assert.throws(
    () => dataPlacement(180, F, 1, 16, 0.02 * MIB),
    /^Error: --gpu-data-mb 0\.02 holds less than 3 batches of 16 examples \(0\.03516 MiB\); raise it or lower --batch$/,
  );
});

gpuTest(
  "stream: a streamed run's weights, moments and losses equal a resident run's, bit for bit",
  async (gpu) => {
    const run = async (mb: number, stopAt?: number) => {
      const t = await Trainer.create(gpu, config(mb), data);
      const records: EpochRecord[] = [];
      const outcome = await t.train({
        onEpoch: (r) => void records.push(r),
        stop: () => stopAt !== undefined && t.step === stopAt,
      });
      return { t, records, outcome };
    };
    const resident = await run(0);
    assert.equal(resident.t.placement.mode, "resident");
    const streamed = await run(SMALL);
    assert.equal(streamed.t.placement.mode, "streamed");
    const a = await resident.t.checkpoint(), b = await streamed.t.checkpoint();
    assert.equal(b.step, 24);
    assert.deepEqual(b.params, a.params, "weights");
    assert.deepEqual(b.m, a.m, "Adam m");
    assert.deepEqual(b.v, a.v, "Adam v");
    const losses = (r: EpochRecord[]) => r.map((x) => [x.train, x.test]);
    assert.deepEqual(losses(streamed.records), losses(resident.records));
    console.log(
      `  2 epochs, 24 steps: identical; train loss ${
        resident.records.map((r) => r.train.total.toFixed(3)).join(", ")
      }`,
    );
    // Stopped at step 15 (epoch 2, step 3: inside its second window), resumed: the same again.
    const first = await run(SMALL, 15);
    assert.equal(first.outcome, "stopped");
    const cp = await first.t.checkpoint();
    assert.equal(cp.stepInEpoch, 3);
    const resumed = await Trainer.create(gpu, config(SMALL), data, cp);
    await resumed.train();
    const c = await resumed.checkpoint();
    assert.deepEqual(c.params, a.params, "weights after a resume inside a window");
    assert.deepEqual(c.v, a.v, "Adam v after a resume");
  },
);

gpuTest(
  "stream: a test split over the budget is evaluated in windows: the same losses and reconstructions",
  async (gpu) => {
    // Batch 4: 0.012 MiB (12582 B) holds one step three times (9216 B) but not the 20 test
    // examples (15360 B), so both splits stream, the test split in 5 windows of one batch.
    const small = (mb: number) => ({ ...config(mb), batch: 4, epochs: 1 });
    const resident = await Trainer.create(gpu, small(0), data);
    const streamed = await Trainer.create(gpu, small(0.012), data);
    assert.equal(resident.testPlacement.mode, "resident");
    assert.equal(streamed.testPlacement.mode, "streamed");
    assert.equal(streamed.testPlacement.windows, 5);
    const a = await resident.train(), b = await streamed.train();
    assert.equal(a, "done");
    assert.equal(b, "done");
    const [ea, eb] = [await resident.evaluate(), await streamed.evaluate()];
    assert.deepEqual(eb, ea);
    assert.ok(ea.recon > 0 && Number.isFinite(ea.elbo));
    // Twice in a row (the windows are loaded again from the first), and a prefix of 7.
    assert.deepEqual(await streamed.evaluate(), ea);
    const [ra, rb] = [await resident.reconstructions(), await streamed.reconstructions(7)];
    assert.deepEqual(rb.originals, ra.originals.subarray(0, 7 * F));
    assert.deepEqual(rb.means, ra.means.subarray(0, 7 * F));
    // The originals are the test split's own bytes, in order (byte * f32(1 / 255), as gathered).
    const scale = Math.fround(1 / 255);
    const want = Float32Array.from(data.test.images.subarray(0, 7 * F), (v) => v * scale);
    assert.deepEqual(rb.originals, want);
    console.log(`  test -ELBO ${ea.elbo.toFixed(3)} both ways; 5 test windows`);
  },
);

Deno.test("shards: any order reads back the split's bytes; an entry is found again, a broken one rebuilt", async () => {
  const dir = `${tmp}/store`;
  // 23 odd-sized examples (37 bytes each) of random bytes, 5 to a shard: 5 shards, the last of 3.
  const bytes = crypto.getRandomValues(new Uint8Array(23 * 37));
  const first = await writeShards(bytes, 23, { dir, shardBytes: 5 * 37 + 36 });
  assert.equal(first.reused, false);
  const files = [...Deno.readDirSync(first.path)].map((e) => e.name).sort();
  assert.deepEqual(files, ["index.json", ...[0, 1, 2, 3, 4].map((i) => `shard-0000${i}.bin`)]);
  assert.equal(Deno.statSync(`${first.path}/shard-00004.bin`).size, 3 * 37);
  const order = Uint32Array.from([22, 0, 5, 5, 17, 4, 9, 21, 3, 14, 8]);
  for (const [lo, hi] of [[0, 11], [3, 8], [10, 11]]) {
    const got = new Uint8Array((hi - lo) * 37 + 5).fill(0xee);
    first.reader.read(order, lo, hi, got);
    const want = new Uint8Array(got.length).fill(0xee);
    for (let i = lo; i < hi; i++) {
      want.set(bytes.subarray(order[i] * 37, order[i] * 37 + 37), (i - lo) * 37);
    }
    assert.deepEqual(got, want, `order[${lo}..${hi})`);
  }
  assert.equal(first.reader.bytesRead, 17 * 37);
  assert.throws(
    () => first.reader.read(Uint32Array.of(23), 0, 1, new Uint8Array(37)),
    /example 23 of 23/,
  );
  first.reader.close();
  // The same bytes find the same entry; other bytes another one.
  const again = await writeShards(bytes, 23, { dir, shardBytes: 5 * 37 });
  assert.equal(again.reused, true);
  assert.equal(again.path, first.path);
  const other = bytes.slice();
  other[500] ^= 1;
  const changed = await writeShards(other, 23, { dir });
  assert.notEqual(changed.path, first.path);
  // A truncated shard makes the entry broken: it is written again, whole.
  await Deno.truncate(`${first.path}/shard-00002.bin`, 100);
  const rebuilt = await writeShards(bytes, 23, { dir, shardBytes: 5 * 37 });
  assert.equal(rebuilt.reused, false);
  const all = new Uint8Array(23 * 37);
  rebuilt.reader.read(Uint32Array.from({ length: 23 }, (_, i) => i), 0, 23, all);
  assert.deepEqual(all, bytes);
  rebuilt.reader.close();
  assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.includes(".tmp-")), []);
  await assert.rejects(() => writeShards(bytes, 24, { dir }), /not 24 whole examples/);
});

gpuTest(
  "stream: windows read from disk shards, with no copy in memory, give the resident run's weights bit for bit",
  async (gpu) => {
    const resident = await Trainer.create(gpu, config(0), data);
    await resident.train();
    const a = await resident.checkpoint();
    const disk = await onDisk(data, `${tmp}/trainer`);
    const streamed = await Trainer.create(gpu, config(SMALL), disk.data);
    assert.equal(streamed.placement.mode, "streamed");
    await streamed.train();
    const b = await streamed.checkpoint();
    assert.deepEqual(b.params, a.params, "weights");
    assert.deepEqual(b.v, a.v, "Adam v");
    // Every window was read from disk: 2 epochs of the whole split (the last window short).
    assert.equal(disk.reader.bytesRead, 2 * 180 * F);
    // Stopped inside a window and resumed from the checkpoint, still from disk: the same.
    const first = await Trainer.create(gpu, config(SMALL), disk.data);
    await first.train({ stop: () => first.step === 17 });
    const resumed = await Trainer.create(gpu, config(SMALL), disk.data, await first.checkpoint());
    await resumed.train();
    assert.deepEqual((await resumed.checkpoint()).params, a.params, "weights after a resume");
    disk.reader.close();
    // A split on disk that would fit the GPU is refused in one line.
    await assert.rejects(
      () => Trainer.create(gpu, config(0), disk.data),
      /on disk but fits the GPU/,
    );
  },
);

gpuTest(
  "stream: a label-conditioned model streamed from disk (condition rows windowed with the examples) equals resident",
  async (gpu) => {
    const labelled = (mb: number): TrainConfig => ({ ...config(mb), condition: "label" });
    const resident = await Trainer.create(gpu, labelled(0), data);
    await resident.train();
    const disk = await onDisk(data, `${tmp}/conditional`);
    const streamed = await Trainer.create(gpu, labelled(SMALL), disk.data);
    assert.equal(streamed.placement.mode, "streamed");
    await streamed.train();
    const a = await resident.checkpoint(), b = await streamed.checkpoint();
    assert.deepEqual(b.params, a.params, "weights");
    assert.deepEqual(b.v, a.v, "Adam v");
    disk.reader.close();
  },
);

Deno.test({
  name:
    "stream: the train task streams an over-budget split from disk shards, losses equal to resident",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  fn: async () => {
    const args = (mb: string, out: string) => [
      ...["run", "--allow-read", "--allow-env", `--allow-write=${tmp}`, "src/cli/train.ts"],
      ...["--dataset", "shapes-rgb:200:7:16x16", "--model", "conv", "--z", "3", "--batch", "16"],
      ...["--epochs", "2", "--lr", "0.003", "--filters", "4,8", "--kernels", "3,3"],
      ...["--strides", "2,2", "--decoder-filters", "8,3", "--decoder-kernels", "3,3"],
      ...["--decoder-strides", "2,2", "--seed", "5", "--gpu-data-mb", mb, "--out", out],
    ];
    const run = async (mb: string, out: string) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: args(mb, out),
        env: { NO_COLOR: "1", WEBGPU_VAE_CACHE: `${tmp}/cli-cache` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 0, text);
      const records = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((r) => r.epoch !== undefined)
        .map((r) => [r.train, r.test]);
      return { text, records };
    };
    const resident = await run("0", `${tmp}/resident`);
    assert.doesNotMatch(resident.text, /streamed/);
    const streamed = await run(String(SMALL), `${tmp}/streamed`);
    const m = streamed.text.match(/streamed in 6 windows of 2 steps from (\S+)/);
    assert.ok(m, streamed.text);
    assert.ok(m[1].startsWith(`${tmp}/cli-cache/shards/`), m[1]);
    assert.equal(Deno.statSync(`${m[1]}/shard-00000.bin`).size, 180 * F);
    assert.equal(streamed.records.length, 2);
    assert.deepEqual(streamed.records, resident.records);
    // A second run finds the same shards.
    const again = await run(String(SMALL), `${tmp}/again`);
    assert.match(again.text, /from \S+ \(reused\)/);
  },
});
