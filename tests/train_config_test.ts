/**
 * The train task's arguments and run-folder reading (issue 18): negative values and lists of
 * them, config keys checked against DEFAULTS' own keys only, clamp bounds that overflow exp in
 * float32 refused with the reason, config.json validated field by field, metrics.jsonl lines
 * named, the non-finite walk and the divergence watch.
 */
import assert from "node:assert/strict";
import { parseTrainArgs, readRunConfig, validateRunConfig } from "../src/train/config.ts";
import { readMetrics } from "../src/train/checkpoint.ts";
import { DivergenceWatch, firstNonFinite } from "../src/train/trainer.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-config-" });

Deno.test("config: flags take negative numbers and lists of them", async () => {
  const a = await parseTrainArgs(["--logvar-clamp", "-10,10", "--epochs", "2"]);
  assert.deepEqual(a.config["logvar-clamp"], [-10, 10]);
  assert.equal(a.config.epochs, 2);
  const b = await parseTrainArgs(["--logvar-clamp", "-12.5,-0.5"]);
  assert.deepEqual(b.config["logvar-clamp"], [-12.5, -0.5]);
  const c = await parseTrainArgs(["--logvar-clamp=-3,3"]);
  assert.deepEqual(c.config["logvar-clamp"], [-3, 3]);
  // A negative value where none is allowed is named as such, not "ambiguous".
  await assert.rejects(
    () => parseTrainArgs(["--beta", "-1"]),
    /--beta: '-1' is not a non-negative number/,
  );
  // Only numbers are glued: a flag after a string flag is not taken for its value.
  await assert.rejects(() => parseTrainArgs(["--out", "--bogus"]), /--out/);
  assert.deepEqual([...a.given].sort(), ["epochs", "logvar-clamp"]);
});

Deno.test("config: only DEFAULTS' own keys are config keys", async () => {
  for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    const path = `${dir}/${key}.json`;
    await Deno.writeTextFile(path, `{"epochs": 1, "${key}": 3}`);
    await assert.rejects(
      () => parseTrainArgs(["--config", path]),
      new RegExp(`--config .*: unknown key '${key}'`),
    );
    assert.throws(
      () => validateRunConfig(JSON.parse(`{"${key}": 1}`), "runs/x/config.json"),
      new RegExp(`^ConfigError: runs/x/config.json: unknown key '${key}'$`),
    );
  }
  const path = `${dir}/given.json`;
  await Deno.writeTextFile(path, `{"lr": 0.0005, "epochs": 4}`);
  const a = await parseTrainArgs(["--config", path, "--z", "3"]);
  assert.deepEqual([...a.given].sort(), ["epochs", "lr", "z"]);
});

Deno.test("config: logvar bounds that make exp overflow in float32 are refused", async () => {
  await assert.rejects(
    () => parseTrainArgs(["--logvar-clamp", "80,90"]),
    /--logvar-clamp: 90 is out of range: exp\(90\) overflows float32 \(\|bound\| must be at most 88\.72/,
  );
  await assert.rejects(
    () => parseTrainArgs(["--logvar-clamp", "-100,10"]),
    /--logvar-clamp: -100 is out of range/,
  );
  const ok = await parseTrainArgs(["--logvar-clamp", "-88,88"]);
  assert.deepEqual(ok.config["logvar-clamp"], [-88, 88]);
  // A learned prior takes exp(HI - LO): the span is bounded too.
  await assert.rejects(
    () =>
      parseTrainArgs(["--condition", "label", "--prior", "learned", "--logvar-clamp", "-50,50"]),
    /with --prior learned, exp\(HI - LO\) = exp\(100\) overflows float32/,
  );
  // 'off' is the deliberate no-clamp setting, and it survives config.json.
  const off = await parseTrainArgs(["--logvar-clamp", "off"]);
  const back = validateRunConfig(JSON.parse(JSON.stringify(off.config)), "config.json");
  assert.deepEqual(back["logvar-clamp"], off.config["logvar-clamp"]);
});

Deno.test("config: config.json is validated field by field, errors name file and key", async () => {
  const good = (await parseTrainArgs(["--hidden", "16", "--z", "2"])).config;
  const run = `${dir}/run`;
  await Deno.mkdir(run);
  const cases: [Record<string, unknown>, string][] = [
    [{ hidden: 16 }, "key 'hidden': '16' is not a comma-separated list"],
    [{ hidden: ["a"] }, "key 'hidden': 'a' is not a list of positive integers"],
    [{ batch: "x" }, "key 'batch': 'x' is not a positive integer"],
    [{ model: 3 }, "key 'model': '3' is not a model (use mlp, conv or streamlines)"],
    [{ dataset: null }, "key 'dataset': expected a string"],
    [{ lr: -1 }, "key 'lr': '-1' is not a positive number"],
    [{ "logvar-clamp": [80, 90] }, "key 'logvar-clamp': 90 is out of range"],
  ];
  for (const [change, want] of cases) {
    await Deno.writeTextFile(`${run}/config.json`, JSON.stringify({ ...good, ...change }));
    await assert.rejects(() => readRunConfig(run), (e: Error) => {
      assert.ok(e.message.startsWith(`${run}/config.json: ${want}`), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  await Deno.writeTextFile(`${run}/config.json`, "{ half");
  await assert.rejects(() => readRunConfig(run), /config\.json: not valid JSON/);
  await Deno.writeTextFile(`${run}/config.json`, JSON.stringify(good));
  assert.deepEqual(await readRunConfig(run), good);
});

Deno.test("config: a broken metrics.jsonl line is named by file and line", async () => {
  const path = `${dir}/metrics.jsonl`;
  await Deno.writeTextFile(path, '{"epoch":1}\n{"epoch":2}\n{"epoch":3,"tr');
  await assert.rejects(() => readMetrics(path), (e: Error) => {
    assert.match(e.message, new RegExp(`^${path} line 3: not valid JSON`));
    return true;
  });
  await Deno.writeTextFile(path, '{"epoch":1}\n[2]\n');
  await assert.rejects(() => readMetrics(path), new RegExp(`${path} line 2: not a JSON object`));
  await Deno.writeTextFile(path, '{"epoch":1}\n{"epoch":2}\n');
  assert.deepEqual(await readMetrics(path), [{ epoch: 1 }, { epoch: 2 }]);
});

Deno.test("config: the non-finite walk finds every kind of value a record holds", () => {
  assert.equal(firstNonFinite({ a: 1, b: [2, 3], c: { d: new Float32Array([1, 2]) } }), null);
  assert.equal(
    firstNonFinite({ train: { total: 1 }, diagnostics: { klPerDim: [0.5, Infinity] } }),
    "diagnostics.klPerDim[1] = Infinity",
  );
  assert.equal(firstNonFinite({ mu: { min: -1, mean: NaN } }), "mu.mean = NaN");
  assert.equal(firstNonFinite([new Float64Array([1, -Infinity])]), "[0][1] = -Infinity");
});

Deno.test("config: divergence is a loss 100 times above its lowest", () => {
  const w = new DivergenceWatch();
  assert.equal(w.see(550, "epoch 1, step 1"), null);
  assert.equal(w.see(300, "epoch 1, step 2"), null);
  assert.equal(w.see(29_000, "epoch 1, step 3"), null);
  assert.equal(w.see(Infinity, "epoch 1, step 4"), null); // the non-finite guard's case
  assert.equal(
    w.see(1.7e13, "epoch 2, step 1"),
    "the loss is diverging: 1.70e+13 at epoch 2, step 1, 5.7e+10 times its lowest " +
      "(300 at epoch 1, step 2)",
  );
});
