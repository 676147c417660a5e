/**
 * `deno task export runs/NAME [--out DIR] [--force]`: a self-contained static folder that
 * decodes the run's model live in the browser, on WebGPU:
 *
 *   index.html              the page (web/index.html, as it is)
 *   app.js                  one ES module: src/web/page.ts and the ./decoder module, bundled
 *   decoder.safetensors     the decoder's weights only, with the model config in the metadata
 *                           (and, for a label-conditioned run, the class count and names; for
 *                           a run with a learned prior p(z | c), its prior.* weights too)
 *   shaders/NAME.wgsl       the shader files the decoder runs, copied verbatim from shaders/
 *
 * Any static file host serves it (no server code). The folder is built next to DIR and renamed
 * into place, so a failed export leaves no half-written DIR; an existing DIR is replaced only
 * with --force.
 */

import { parseArgs } from "node:util";
import { classNames, type Dataset } from "../data/datasets.ts";
import { encodeSafetensors, parseSafetensors, type SafeTensor } from "../train/safetensors.ts";
import {
  DECODER_FORMAT,
  decoderShaders,
  type DecoderSpec,
  readDecoderSpec,
} from "../web/decoder.ts";
import { runMain } from "./_main.ts";

const ROOT = new URL("../../", import.meta.url);
const USAGE = "usage: deno task export runs/NAME [--out DIR] [--force]";

/** A problem with the arguments or the run folder; one line for the user. */
export class ExportError extends Error {
  /**
   * Make the error.
   * @param message what is wrong, naming the file or flag
   */
  constructor(message: string) {
    super(message);
    this.name = "ExportError";
  }
}

/** One written file: its path inside the export folder and its size in bytes. */
export interface ExportedFile {
  /** Path relative to the export folder ("shaders/dense.wgsl"). */
  path: string;
  /** Size in bytes. */
  bytes: number;
}

/** What {@linkcode exportRun} wrote. */
export interface ExportResult {
  /** The export folder. */
  out: string;
  /** Every file, in the order written. */
  files: ExportedFile[];
  /** Total bytes of the folder. */
  total: number;
}

/** Options of {@linkcode exportRun}. */
export interface ExportOptions {
  /** Replace `out` when it exists (default: refuse). */
  force?: boolean;
  /** Minify the bundle (default true). */
  minify?: boolean;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Names of a label-conditioned run's K classes, by its dataset: Fashion-MNIST's for the
 * embedded subset and fashion-mnist, numbers otherwise (as the run's report names them).
 */
function runClassNames(config: Record<string, unknown>, classes: number): string[] {
  const name = typeof config.dataset === "string" ? config.dataset : "embedded";
  // classNames reads only the dataset's name and class count; the images are not needed here.
  const names = classNames({ name, classes } as Dataset);
  return names.length === classes ? names : Array.from({ length: classes }, (_, i) => String(i));
}

/**
 * The decoder's weights and the training config without machine-local keys (paths), as a
 * safetensors file the page loads; a label-conditioned run's classes (count and names) go in
 * the `condition` metadata, and a learned prior's network (prior.*, its shapes checked to chain
 * K -> ... -> 2Z by readDecoderSpec) goes with the decoder so the page samples p(z | class).
 */
function decoderFile(model: Uint8Array, path: string, run: string): Uint8Array {
  const parsed = parseSafetensors(model, path);
  // Validates: a file the page cannot use fails here, not there.
  const spec: DecoderSpec = readDecoderSpec(parsed, path).spec;
  const config = JSON.parse(parsed.metadata.config ?? "{}");
  delete config.out;
  delete config["data-dir"];
  const tensors: SafeTensor[] = [];
  for (const [name, t] of parsed.tensors) {
    const prior = spec.prior !== undefined && name.startsWith("prior.");
    if (name.startsWith("decoder.") || prior) tensors.push({ name, ...t });
  }
  const metadata: Record<string, string> = {
    format: DECODER_FORMAT,
    config: JSON.stringify(config),
    run: run.split("/").pop() ?? run,
  };
  if (parsed.metadata.step !== undefined) metadata.step = parsed.metadata.step;
  if (spec.condition) {
    const { classes } = spec.condition;
    const names = parsed.metadata.condition ? spec.condition.names : runClassNames(config, classes);
    metadata.condition = JSON.stringify({ kind: "label", classes, names });
  }
  return encodeSafetensors(tensors, metadata);
}

/** Bundle src/web/page.ts for the browser into `file` with `deno bundle`. */
async function bundle(file: string, minify: boolean): Promise<void> {
  const entry = new URL("src/web/page.ts", ROOT).pathname;
  const args = ["bundle", "--platform=browser", "--quiet", "-o", file, entry];
  if (minify) args.splice(1, 0, "--minify");
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const text = new TextDecoder().decode(result.stderr);
    const line = text.split("\n").find((l) => /error/i.test(l)) ?? text.trim().split("\n")[0];
    throw new ExportError(`deno bundle failed: ${line ?? "no message"}`);
  }
}

/**
 * Export the run folder `run` (its model.safetensors) as a static site in `out`.
 * Throws {@linkcode ExportError} (or the safetensors/decoder error) as one line.
 */
export async function exportRun(
  run: string,
  out: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  run = run.replace(/\/+$/, "");
  out = out.replace(/\/+$/, "");
  const modelPath = `${run}/model.safetensors`;
  let model: Uint8Array;
  try {
    model = await Deno.readFile(modelPath);
  } catch (e) {
    throw new ExportError(`${modelPath} cannot be read (${firstLine(e)}); is ${run} a run folder?`);
  }
  const weights = decoderFile(model, modelPath, run);
  const spec = readDecoderSpec(parseSafetensors(weights, "decoder.safetensors")).spec;

  if (await exists(out)) {
    if (!options.force) throw new ExportError(`${out} already exists; pass --force to replace it`);
    if (!(await Deno.stat(out)).isDirectory) throw new ExportError(`${out} is not a folder`);
  }
  const cut = out.lastIndexOf("/");
  const parent = cut < 0 ? "." : cut === 0 ? "/" : out.slice(0, cut);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".export-" });
  try {
    const files: ExportedFile[] = [];
    const put = async (path: string, bytes: Uint8Array) => {
      await Deno.writeFile(`${tmp}/${path}`, bytes);
      files.push({ path, bytes: bytes.length });
    };
    await put("index.html", await Deno.readFile(new URL("web/index.html", ROOT)));
    await bundle(`${tmp}/app.js`, options.minify ?? true);
    files.push({ path: "app.js", bytes: (await Deno.stat(`${tmp}/app.js`)).size });
    await put("decoder.safetensors", weights);
    await Deno.mkdir(`${tmp}/shaders`);
    for (const name of decoderShaders(spec.model, spec.condition !== undefined)) {
      await put(`shaders/${name}.wgsl`, await Deno.readFile(new URL(`shaders/${name}.wgsl`, ROOT)));
    }
    // Static hosts serve what they find; make it readable like any published folder.
    await Deno.chmod(tmp, 0o755);
    if (await exists(out)) {
      const old = `${tmp}.old`;
      await Deno.rename(out, old);
      await Deno.rename(tmp, out);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, out);
    }
    return { out, files, total: files.reduce((a, f) => a + f.bytes, 0) };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

if (import.meta.main) {
  await runMain(async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: Deno.args,
        options: {
          out: { type: "string" },
          force: { type: "boolean", default: false },
          help: { type: "boolean", default: false },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      throw new ExportError(`${firstLine(e)} (${USAGE})`);
    }
    if (parsed.values.help) {
      console.log(
        `${USAGE}\n  --out DIR   export folder (default: runs/NAME/web)\n` +
          "  --force     replace DIR if it exists",
      );
      return;
    }
    const run = parsed.positionals[0]?.replace(/\/+$/, "");
    if (!run || parsed.positionals.length > 1) throw new ExportError(USAGE);
    const out = parsed.values.out ?? `${run}/web`;
    const result = await exportRun(run, out, { force: parsed.values.force });
    for (const f of result.files) console.log(`  ${f.path.padEnd(24)} ${kb(f.bytes).padStart(10)}`);
    console.log(
      `exported ${run} to ${result.out}: ${result.files.length} files, ${kb(result.total)}`,
    );
    console.log(`serve it with any static file server, e.g. python3 -m http.server -d ${out}`);
  });
}
