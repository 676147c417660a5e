/**
 * The public API (STYLE.md 15; issue 17, item 4): every entry deno.json exports loads, holds
 * the names a user of that entry needs, and leaks none of the internals. Types leave no trace at
 * run time; `deno task check` (doc --lint of every entry) keeps those documented and complete.
 * No GPU needed: importing an entry opens nothing.
 */

import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const exportsMap: Record<string, string> = config.exports;

/** The names each entry must hold (run-time values: functions, classes, constants). */
const NEEDED: Record<string, string[]> = {
  ".": [
    // Open a GPU.
    "requestGpu",
    "Gpu",
    "GpuUnavailableError",
    // Load a dataset.
    "loadDataset",
    "DatasetError",
    "IdxError",
    "loadImageDataset",
    "loadShapesDataset",
    // Describe a model, build it from its spec.
    "modelConfig",
    "modelSpec",
    "parseModelSpec",
    "SpecError",
    "vaeLayout",
    "describeModel",
    "ModelState",
    "initParams",
    "buildVaeStep",
    "buildVaeDecode",
    "uploadSource",
    // Train.
    "Trainer",
    "TRAIN_DEFAULTS",
    "STREAMLINE_DEFAULTS",
    "parseTrainArgs",
    "ConfigError",
    "NonFiniteError",
    // Checkpoint.
    "saveCheckpoint",
    "loadCheckpoint",
    "parseSafetensors",
    "specOfFile",
    "flatParams",
    // Evaluate.
    "iwaeEstimate",
    "latentStats",
    "factorLatentTable",
    // Profile.
    "Profiler",
    "gpuMemory",
    "submitCount",
    // Decode.
    "PriorSampler",
    "codesFromMoments",
  ],
  "./nn": [
    "requestGpu",
    "Tensor",
    "upload",
    "zeros",
    "readback",
    "Kernel",
    "Dispatch",
    "submit",
    "ceilDiv",
    "ParamLayout",
    "denseForward",
    "denseBackward",
    "conv2dForward",
    "conv2dBackward",
    "conv2dOutputSize",
    "convTranspose2dForward",
    "convTranspose2dBackward",
    "conv1dForward",
    "upsample1dForward",
    "batchNormForward",
    "batchNormBackward",
    "activationForward",
    "latentForward",
    "latentBackward",
    "klForward",
    "klPriorForward",
    "reconForward",
    "reconBackward",
    "accumulate",
    "finiteGuard",
    "gatherBatch",
    "concatForward",
    "adamStep",
    "iwaeNll",
  ],
  "./streamlines": [
    "parseTrk",
    "writeTrk",
    "TrkError",
    "parseTck",
    "writeTck",
    "parseTrx",
    "writeTrx",
    "writeTractogram",
    "readStreamlineBundles",
    "resample",
    "orientAlike",
    "fitNormalization",
    "normalize",
    "denormalize",
    "arcLength",
    "phantomBundles",
    "loadStreamlineDataset",
    "streamlineDataset",
    "streamlinesSvg",
  ],
  "./decoder": ["Decoder", "DecoderError", "codesFromMoments", "readDecoderFile"],
};

/** Internals: exported by their own modules for the code that needs them, by no entry. */
const INTERNAL = [
  "expectLength",
  "scoped",
  "grid1d",
  "poisoned",
  "mulberry32",
  "standardNormal",
  "epochOrder",
  "writeFileAtomic",
  "writeTextAtomic",
  "METRIC",
  "tensorMaker",
  "trackBuffer",
  "untrackBuffer",
  "countSubmit",
  "destroyProgram",
  "setBatchOffset",
  "batchNormTuning",
  "convVaeTuning",
  "buildStep",
  "buildDecode",
  "buildConvStep",
  "buildConvDecode",
  "buildLayersStep",
  "helpText",
  "HELP",
];

/** Most run-time names the root entry may hold: "a few dozen" (issue 17). */
const ROOT_MAX = 60;

async function load(entry: string): Promise<Record<string, unknown>> {
  return await import(new URL(exportsMap[entry], ROOT).href);
}

Deno.test("api: deno.json exports the root, ./nn, ./streamlines and ./decoder", () => {
  deepStrictEqual(Object.keys(exportsMap).sort(), Object.keys(NEEDED).sort());
});

for (const entry of Object.keys(NEEDED)) {
  Deno.test(`api: ${entry} holds what its user needs and no internals`, async () => {
    const mod = await load(entry);
    const names = Object.keys(mod).sort();
    console.log(`${entry} (${exportsMap[entry]}): ${names.length} run-time names`);
    const missing = NEEDED[entry].filter((n) => !(n in mod));
    deepStrictEqual(missing, [], `${entry} lacks names its user needs`);
    for (const n of NEEDED[entry]) ok(mod[n] !== undefined, `${entry}: ${n} is undefined`);
    deepStrictEqual(names.filter((n) => INTERNAL.includes(n)), [], `${entry} leaks internals`);
  });
}

Deno.test("api: the root entry stays a few dozen names", async () => {
  const n = Object.keys(await load(".")).length;
  ok(n <= ROOT_MAX, `the root entry holds ${n} run-time names; at most ${ROOT_MAX}`);
});

Deno.test("api: every entry's module documentation opens with a summary", async () => {
  for (const [entry, path] of Object.entries(exportsMap)) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    ok(text.startsWith("/**\n"), `${entry}: ${path} opens without a module comment`);
  }
});
