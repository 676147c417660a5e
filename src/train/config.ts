/**
 * Training configuration: defaults, command-line flags, `--config FILE.json` (same keys as
 * the flags), validation. An unknown key or a bad value is an error naming it, never
 * ignored. Flags given on the command line win over the config file.
 */

import { parseArgs } from "node:util";
import { parseKlSchedule } from "./schedule.ts";

export { DEFAULTS, defaultZ, PRESETS, STREAMLINE_DEFAULTS, type TrainConfig } from "./defaults.ts";
import { DEFAULTS, defaultZ, PRESETS, STREAMLINE_DEFAULTS, type TrainConfig } from "./defaults.ts";

/** What each key means, for `--help`. */
export const HELP: Record<keyof TrainConfig, string> = {
  dataset:
    "embedded | fashion-mnist | mnist | idx:IMAGES[,LABELS] | images:DIR|ZIP[:HxW][:crop][:grey|:rgb] | shapes[-rgb][:N[:SEED]]",
  "data-dir": "folder with the IDX files (fashion-mnist, mnist)",
  model: "model family: mlp | conv | streamlines (conv1d over 256 points x 3)",
  condition: "none | label (one-hot class) | length (a streamline's length in mm)",
  prior: "conditional models: standard (N(0, I)) | learned (p(z | c), a small network of c)",
  "prior-hidden": "learned prior: hidden widths of its network, comma-separated (none: linear)",
  hidden: "mlp: hidden widths, comma-separated (decoder mirrors)",
  filters: "conv: encoder channels per layer",
  kernels: "conv: encoder kernel size per layer",
  strides: "conv: encoder stride per layer",
  "decoder-filters": "conv: decoder channels per layer (last = image channels)",
  "decoder-kernels": "conv: decoder kernel size per layer",
  "decoder-strides": "conv: decoder stride per layer",
  batchnorm: "conv: on | off (batch norm after each conv but the last)",
  upsample: "streamlines: transposed (stride-2 transposed conv) | linear (2x linear, then conv)",
  z: "latent dimensions (0: 20 for mlp, 16 for conv)",
  epochs: "passes over the training set",
  batch: "examples per step",
  lr: "Adam learning rate",
  beta: "KL weight (1 = ELBO); the cap of a schedule",
  "kl-schedule": "constant | linear:START:LENGTH (steps) | cyclical:CYCLES:RATIO",
  "free-bits": "per-dimension KL floor in nats (0 = off)",
  ae: "plain autoencoder: KL weight 0 (flag, no value)",
  recon: "reconstruction loss: bce (Bernoulli, logits) | mse (Gaussian)",
  "recon-weight": "weight of the reconstruction term",
  "recon-smooth":
    "streamlines, mse: weight of the squared differences of consecutive points' errors (0 = off)",
  "logvar-clamp": "LO,HI bounds on logvar before exp, or off",
  seed: "seed of weights, shuffling and noise",
  "eps-std": "standard deviation of eps in training's reparameterization (1 = the usual VAE)",
  "keep-every": "also keep model-epoch-NNNN.safetensors every N epochs (0 = off)",
  regression: "regression VAE: weight of the encoder's length prediction loss; needs " +
    "--condition length --prior learned (0 = off)",
  "regression-hidden": "regression VAE: hidden widths of the length predictor, comma-separated",
  out: "run folder (default runs/<date-time>)",
  "gpu-data-mb":
    "GPU memory for each data split, MiB; a split above it is streamed (0: the adapter's binding limit)",
};

/** A configuration problem; its message is one line for the user. */
export class ConfigError extends Error {
  /**
   * Make the error.
   * @param message what is wrong and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Raw = Record<string, unknown>;

function num(key: string, v: unknown, test: (n: number) => boolean, what: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n) || !test(n)) throw new ConfigError(`--${key}: '${v}' is not ${what}`);
  return n;
}

function list(key: string, v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return v.split(",").map((s) => s.trim());
  throw new ConfigError(`--${key}: '${v}' is not a comma-separated list`);
}

const F32_MAX = 3.4028234663852886e38;
/** ln(F32_MAX): the largest x whose exp(x) is finite in float32. */
const EXP_MAX = Math.log(F32_MAX);

const positiveInt = (n: number) => Number.isInteger(n) && n > 0;

/** Check one key's value and return it in its typed form. */
function coerce(key: keyof TrainConfig, v: unknown): TrainConfig[keyof TrainConfig] {
  switch (key) {
    case "dataset":
    case "data-dir":
    case "out":
      if (typeof v !== "string") throw new ConfigError(`--${key}: expected a string`);
      return v;
    case "model":
      if (v !== "mlp" && v !== "conv" && v !== "streamlines") {
        throw new ConfigError(`--model: '${v}' is not a model (use mlp, conv or streamlines)`);
      }
      return v;
    case "condition":
      if (v !== "none" && v !== "label" && v !== "length") {
        throw new ConfigError(`--condition: '${v}' is not none, label or length`);
      }
      return v;
    case "prior":
      if (v !== "standard" && v !== "learned") {
        throw new ConfigError(`--prior: '${v}' is not standard or learned`);
      }
      return v;
    case "regression-hidden":
      return list(key, v).map((x) => num(key, x, positiveInt, "a list of positive integers"));
    case "prior-hidden": {
      if (v === "none" || (Array.isArray(v) && v.length === 0)) return [];
      return list(key, v).map((x) => num(key, x, positiveInt, "a list of positive integers"));
    }
    case "upsample":
      if (v !== "transposed" && v !== "linear") {
        throw new ConfigError(`--upsample: '${v}' is not transposed or linear`);
      }
      return v;
    case "batchnorm":
      if (v !== "on" && v !== "off") throw new ConfigError(`--batchnorm: '${v}' is not on or off`);
      return v;
    case "ae":
      if (v === true || v === "true") return true;
      if (v === false || v === "false") return false;
      throw new ConfigError(`--ae: '${v}' is not true or false`);
    case "kl-schedule":
      if (typeof v !== "string") throw new ConfigError(`--kl-schedule: expected a string`);
      try {
        parseKlSchedule(v, { beta: 1 });
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
      return v;
    case "filters":
    case "kernels":
    case "strides":
    case "decoder-filters":
    case "decoder-kernels":
    case "decoder-strides": {
      const h = list(key, v).map((x) => num(key, x, positiveInt, "a list of positive integers"));
      if (h.length === 0) throw new ConfigError(`--${key}: needs at least one value`);
      return h;
    }
    case "recon":
      if (v !== "bce" && v !== "mse") throw new ConfigError(`--recon: '${v}' is not bce or mse`);
      return v;
    case "hidden": {
      const h = list(key, v).map((x) => num(key, x, positiveInt, "a list of positive integers"));
      if (h.length === 0) throw new ConfigError("--hidden: needs at least one width");
      return h;
    }
    case "logvar-clamp": {
      // "off": the widest float32 range, i.e. no clamp (the seeds' NaN experiment).
      if (v === "off") return [-F32_MAX, F32_MAX];
      const c = list(key, v).map((x) => num(key, x, () => true, "LO,HI"));
      if (c.length !== 2 || !(c[0] < c[1])) {
        throw new ConfigError(`--logvar-clamp: '${v}' is not LO,HI with LO < HI`);
      }
      if (c[0] === -F32_MAX && c[1] === F32_MAX) return [c[0], c[1]]; // 'off', as saved
      // The model takes exp(logvar), exp(-logvar) (a learned prior) and exp of their
      // differences in float32: a bound past ln(F32_MAX) lets them overflow to Inf.
      const over = c.find((b) => Math.abs(b) > EXP_MAX);
      if (over !== undefined) {
        throw new ConfigError(
          `--logvar-clamp: ${over} is out of range: exp(${over}) ${
            over > 0 ? "overflows" : "underflows, and exp(-logvar) overflows,"
          } float32 (|bound| must be at most ${EXP_MAX.toFixed(2)} = ln(3.4e38); ` +
            `use 'off' for no clamp at all)`,
        );
      }
      return [c[0], c[1]];
    }
    case "z":
      return num(key, v, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0");
    case "epochs":
    case "batch":
      return num(key, v, positiveInt, "a positive integer");
    case "seed":
      return num(
        key,
        v,
        (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32,
        "an integer in [0, 2^32)",
      );
    case "lr":
      return num(key, v, (n) => n > 0, "a positive number");
    case "keep-every":
      return num(key, v, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0");
    case "beta":
    case "regression":
    case "eps-std":
    case "free-bits":
    case "gpu-data-mb":
    case "recon-weight":
    case "recon-smooth":
      return num(key, v, (n) => n >= 0, "a non-negative number");
  }
}

/** Whether `key` is a config key: DEFAULTS' own keys only (never `constructor`, `__proto__`). */
export function isConfigKey(key: string): key is keyof TrainConfig {
  return Object.hasOwn(DEFAULTS, key);
}

function apply(cfg: TrainConfig, raw: Raw, source: string): void {
  for (const [key, v] of Object.entries(raw)) {
    if (!isConfigKey(key)) {
      throw new ConfigError(
        `${source}: unknown key '${key}' (known: ${Object.keys(DEFAULTS).join(", ")})`,
      );
    }
    // deno-lint-ignore no-explicit-any
    (cfg as any)[key] = coerce(key as keyof TrainConfig, v);
  }
}

/** Parsed command line: the config plus the flags that are not config keys. */
export interface TrainArgs {
  /** The resolved configuration. */
  config: TrainConfig;
  /** `--help` was given. */
  help: boolean;
  /** `--resume RUN`: the run folder to continue. */
  resume: string | null;
  /** `--force`: allow writing into an existing run folder. */
  force: boolean;
  /** `--break-lock`: take over a run folder's lock left by a process that no longer runs. */
  breakLock: boolean;
  /** `--stop-on-divergence`: a loss grown by orders of magnitude stops the run. */
  stopOnDivergence: boolean;
  /** Config keys set explicitly, by a flag or by the `--config` file. */
  given: Set<keyof TrainConfig>;
}

/**
 * Glue a string flag to a value that starts with `-` (`--logvar-clamp -10,10`,
 * `--beta -1`): node's parseArgs would take such a value for an option. Only values that
 * read as a number or a comma-separated list of numbers are glued; `--out --help` stays two
 * arguments.
 */
function glueNegativeValues(args: string[], stringFlags: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i], next = args[i + 1];
    if (
      a.startsWith("--") && !a.includes("=") && stringFlags.has(a.slice(2)) &&
      next !== undefined && /^-[\d.]/.test(next) &&
      next.split(",").every((x) => x.trim() !== "" && Number.isFinite(Number(x)))
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parse `args` (flags, then `--config FILE` under them) into a validated config. */
export async function parseTrainArgs(args: string[]): Promise<TrainArgs> {
  const options: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
    force: { type: "boolean" },
    "break-lock": { type: "boolean" },
    "stop-on-divergence": { type: "boolean" },
    resume: { type: "string" },
    config: { type: "string" },
  };
  for (const key of Object.keys(DEFAULTS)) options[key] = { type: "string" };
  options.ae = { type: "boolean" };
  options["image-size"] = { type: "string" };
  options.preset = { type: "string" };
  const stringFlags = new Set(Object.keys(options).filter((k) => options[k].type === "string"));
  let parsed;
  try {
    parsed = parseArgs({
      args: glueNegativeValues(args, stringFlags),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const config: TrainConfig = structuredClone(DEFAULTS);
  let fileKeys: string[] = [];
  if (typeof values.config === "string") {
    let text: string;
    try {
      text = await Deno.readTextFile(values.config);
    } catch (e) {
      throw new ConfigError(`--config ${values.config}: cannot read it (${(e as Error).message})`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`--config ${values.config}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ConfigError(`--config ${values.config}: expected a JSON object of flag names`);
    }
    // A run's config.json also holds its model spec (src/vae/spec.ts): rebuilt, not a setting.
    const { spec: _spec, ...settings } = raw as Raw;
    apply(config, settings, `--config ${values.config}`);
    fileKeys = Object.keys(settings);
  }
  const flags: Raw = {};
  for (const key of Object.keys(DEFAULTS)) {
    if (Object.hasOwn(values, key) && values[key] !== undefined) flags[key] = values[key];
  }
  apply(config, flags, "command line");
  if (typeof values.preset === "string") {
    const preset = PRESETS[values.preset];
    if (!preset) {
      throw new ConfigError(
        `--preset: '${values.preset}' is not a preset (use ${Object.keys(PRESETS).join(", ")})`,
      );
    }
    for (const [key, v] of Object.entries(preset)) {
      if (!(key in flags) && !fileKeys.includes(key)) {
        (config as unknown as Raw)[key] = structuredClone(v);
      }
    }
  }
  if (config.model === "streamlines") {
    // The streamlines model's own defaults for every key neither flag nor file set.
    for (const [key, v] of Object.entries(STREAMLINE_DEFAULTS)) {
      if (!(key in flags) && !fileKeys.includes(key)) {
        (config as unknown as Raw)[key] = structuredClone(v);
      }
    }
  }
  // --image-size HxW is folded into an images: or shapes dataset spec (which then carries it).
  const size = values["image-size"];
  if (typeof size === "string") {
    if (!/^(images:|shapes(-rgb)?(:|$))/.test(config.dataset)) {
      throw new ConfigError(
        `--image-size is for images: and shapes datasets, not ${config.dataset}`,
      );
    }
    if (!/^\d+x\d+$/.test(size)) throw new ConfigError(`--image-size: '${size}' is not HxW`);
    config.dataset = `${config.dataset}:${size}`;
  }
  if (config.z === 0) config.z = defaultZ(config.model);
  if (config.prior === "learned" && config.condition === "none") {
    throw new ConfigError("--prior learned needs --condition label or length (p(z | c) needs a c)");
  }
  if (config.regression > 0 && (config.condition !== "length" || config.prior !== "learned")) {
    throw new ConfigError(
      "--regression needs --condition length --prior learned (the prior reads the predicted length)",
    );
  }
  if (config["recon-smooth"] > 0 && (config.model !== "streamlines" || config.recon !== "mse")) {
    throw new ConfigError(
      "--recon-smooth is for --model streamlines with --recon mse (it smooths errors along a curve)",
    );
  }
  if (config.prior === "learned" && config["free-bits"] > 0) {
    throw new ConfigError("--free-bits works with the standard prior only; drop one of them");
  }
  checkClampSpan(config, "--logvar-clamp");
  return {
    config,
    help: values.help === true,
    resume: typeof values.resume === "string" ? values.resume : null,
    force: values.force === true,
    breakLock: values["break-lock"] === true,
    stopOnDivergence: values["stop-on-divergence"] === true,
    given: new Set([...fileKeys, ...Object.keys(flags)].filter(isConfigKey)),
  };
}

/**
 * A learned prior's KL takes exp(logvar - prior logvar), both clamped to [LO, HI]: a span
 * HI - LO past ln(F32_MAX) overflows float32 ('off' is the deliberate no-clamp setting).
 */
function checkClampSpan(config: TrainConfig, source: string): void {
  const [lo, hi] = config["logvar-clamp"];
  if (config.prior === "learned" && hi < F32_MAX && hi - lo > EXP_MAX) {
    throw new ConfigError(
      `${source}: with --prior learned, exp(HI - LO) = exp(${hi - lo}) overflows float32 ` +
        `(HI - LO must be at most ${EXP_MAX.toFixed(2)})`,
    );
  }
}

/**
 * Validate a run folder's `config.json` (already parsed from JSON) field by field: every key
 * known, every value of its type and range. Keys a run written by an older version lacks keep
 * their DEFAULTS. Errors are one line naming `path` and the key.
 */
export function validateRunConfig(raw: unknown, path: string): TrainConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${path}: expected a JSON object of config keys`);
  }
  const config: TrainConfig = structuredClone(DEFAULTS);
  for (const [key, v] of Object.entries(raw)) {
    // The model spec beside the settings (src/vae/spec.ts) is rebuilt from them, not read.
    if (key === "spec") continue;
    if (!isConfigKey(key)) throw new ConfigError(`${path}: unknown key '${key}'`);
    try {
      // deno-lint-ignore no-explicit-any
      (config as any)[key] = coerce(key, v);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const reason = e.message.replace(/^--[a-z-]+:? ?/, "");
      throw new ConfigError(`${path}: key '${key}': ${reason || "bad value"}`);
    }
  }
  if (config.z === 0) config.z = defaultZ(config.model);
  checkClampSpan(config, `${path}: key 'logvar-clamp'`);
  return config;
}

/** Read and validate `DIR/config.json`; one-line errors naming the file (and key). */
export async function readRunConfig(dir: string): Promise<TrainConfig> {
  const path = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`${path}: cannot read it (${(e as Error).message.split("\n")[0]})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return validateRunConfig(raw, path);
}

/** The `--help` text: every flag with its default. */
export function helpText(): string {
  const lines = ["usage: deno task train [flags]", ""];
  for (const key of Object.keys(DEFAULTS) as (keyof TrainConfig)[]) {
    const d = DEFAULTS[key];
    const shown = Array.isArray(d) ? d.join(",") : d === "" ? "-" : String(d);
    lines.push(`  --${key.padEnd(14)} ${HELP[key]} (default: ${shown})`);
  }
  lines.push(
    "  --image-size HxW images: and shapes datasets: resize to H x W (appended to --dataset)",
  );
  lines.push(
    `  --preset NAME    settings not given otherwise: ${
      Object.keys(PRESETS).join(", ")
    } (faces64: colour conv 32,64,64,64 / 2,2,2,2, z 200)`,
  );
  lines.push("  --config FILE    JSON object with the same keys as the flags");
  lines.push("  --resume RUN     continue the run in folder RUN");
  lines.push("  --force          write into an existing run folder");
  lines.push("  --break-lock     take over the lock a killed trainer left (its process is gone)");
  lines.push("  --stop-on-divergence  stop when the loss grows 100x over its lowest value");
  lines.push("  --no-tune        default kernels: no timing of kernel variants, no choice cache");
  lines.push("  --help           this text");
  return lines.join("\n");
}
