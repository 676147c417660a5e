/**
 * `deno task export runs/NAME [--out DIR] [--force]`: a self-contained static folder that
 * decodes the run's model live in the browser, on WebGPU, for every model family (mlp, conv,
 * streamlines; label- or length-conditioned; with a learned prior):
 *
 *   index.html              the page (web/index.html, as it is)
 *   app.js                  one ES module: src/web/page.ts and the ./decoder module, bundled
 *   decoder.safetensors     the decoder's (and a learned prior's) weights, with the model spec
 *                           in the metadata: the page builds the decoder from it with the same
 *                           builders training uses
 *   shaders/NAME.wgsl       the shader files, copied verbatim from shaders/
 *   .webgpu-vae-export      this export's marker: what it wrote (JSON)
 *
 * Only the run's model.safetensors is read (never the dataset, config.json or the optimizer
 * state). The bundle is made in-process (Deno.bundle), so the task runs no program.
 *
 * Export never deletes what it did not write. The folder is built next to DIR and renamed into
 * place, so a failed export leaves no half-written DIR. An existing DIR is replaced only with
 * --force, and only when it is an earlier export: its marker is there and it holds nothing the
 * marker does not list. A run folder, a folder holding the run, or any other folder is refused.
 * DIR inside the run folder is fine as a subfolder of its own (the default is runs/NAME/web).
 */

import { parseSafetensors } from "../io/safetensors.ts";
import { decoderFileBytes } from "../web/decoder_file.ts";
import { CliError, parseArgsOr, runMain } from "./_main.ts";
import { convertCommand } from "./_model_file.ts";
import {
  buildFolder,
  bundleForBrowser,
  listTree,
  lstatOrNull,
  putShaders,
  ROOT,
  type WrittenFile,
} from "./_static_folder.ts";

const USAGE = "usage: deno task export runs/NAME [--out DIR] [--force]";

/** The marker file an export folder holds; `--force` replaces only folders that have it. */
export const EXPORT_MARKER = ".webgpu-vae-export";
const MARKER_FORMAT = "webgpu-vae-export/1";

/** A problem with the arguments or the run folder; one line for the user. */
export class ExportError extends CliError {}

/** One written file: its path inside the export folder and its size in bytes. */
export type ExportedFile = WrittenFile;

/** What {@linkcode exportRun} wrote. */
export interface ExportResult {
  /** The export folder. */
  out: string;
  /** Every file, in the order written (the marker last). */
  files: ExportedFile[];
  /** Total bytes of the folder. */
  total: number;
}

/** Options of {@linkcode exportRun}. */
export interface ExportOptions {
  /** Replace `out` when it is an earlier export (default: refuse). */
  force?: boolean;
  /** Minify the bundle (default true). */
  minify?: boolean;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** An absolute, normalized path (no `.`, `..` or trailing slash), for containment checks. */
function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const parts: string[] = [];
  for (const p of full.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/** `path` with symbolic links resolved, for a path that need not exist yet. */
async function real(path: string): Promise<string> {
  const abs = absolute(path);
  let head = abs, tail = "";
  for (;;) {
    try {
      return absolute(`${await Deno.realPath(head)}${tail}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || head === "/") throw e;
      const cut = head.lastIndexOf("/");
      tail = `${head.slice(cut)}${tail}`;
      head = cut === 0 ? "/" : head.slice(0, cut);
    }
  }
}

/** True when `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === "/" ? "/" : `${outer}/`);
}

/**
 * Check that the existing `out` may be replaced: a folder made by an earlier export (its
 * marker), holding only what that export wrote. Throws an ExportError naming why not.
 */
async function checkReplaceable(out: string): Promise<void> {
  const info = await Deno.lstat(out);
  if (!info.isDirectory) throw new ExportError(`${out} is not a folder; will not replace it`);
  if (await lstatOrNull(`${out}/model.safetensors`)) {
    throw new ExportError(`${out} holds a run (model.safetensors); will not replace it`);
  }
  let marker: { format?: unknown; files?: unknown };
  try {
    marker = JSON.parse(await Deno.readTextFile(`${out}/${EXPORT_MARKER}`));
  } catch {
    throw new ExportError(
      `${out} is not a folder export wrote (no ${EXPORT_MARKER}); will not replace it: ` +
        "pick another --out",
    );
  }
  const files = marker.files;
  if (
    marker.format !== MARKER_FORMAT || !Array.isArray(files) ||
    !files.every((f) => typeof f === "string")
  ) {
    throw new ExportError(`${out}/${EXPORT_MARKER} is not an export marker; will not replace it`);
  }
  const ours = new Set<string>([EXPORT_MARKER, ...files]);
  for (const f of files as string[]) {
    for (let i = f.indexOf("/"); i >= 0; i = f.indexOf("/", i + 1)) ours.add(f.slice(0, i + 1));
  }
  const foreign = (await listTree(out, true)).filter((p) => !ours.has(p));
  if (foreign.length > 0) {
    throw new ExportError(
      `${out} holds ${foreign[0]}${foreign.length > 1 ? ` and ${foreign.length - 1} more` : ""}, ` +
        "which export did not write; will not replace it",
    );
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
  out = out.replace(/\/+$/, "") || "/";
  const modelPath = `${run}/model.safetensors`;
  let model: Uint8Array;
  try {
    model = await Deno.readFile(modelPath);
  } catch (e) {
    throw new ExportError(`${modelPath} cannot be read (${firstLine(e)}); is ${run} a run folder?`);
  }
  const name = absolute(run).split("/").pop() ?? run;
  let weights: Uint8Array;
  try {
    weights = decoderFileBytes(parseSafetensors(model, modelPath), modelPath, name);
  } catch (e) {
    // A run from before model specs: say how to convert it (with this run's path).
    throw new ExportError(firstLine(e).replace("deno task convert runs/NAME", convertCommand(run)));
  }

  const runAbs = await real(run), outAbs = await real(out);
  if (within(runAbs, outAbs)) {
    throw new ExportError(`--out ${out} is the run folder or holds it; pick a new folder`);
  }
  const existing = await lstatOrNull(out);
  if (existing) {
    if (!options.force) {
      throw new ExportError(`${out} already exists; pass --force to replace an earlier export`);
    }
    await checkReplaceable(out);
  }
  const cut = outAbs.lastIndexOf("/");
  const parent = cut === 0 ? "/" : outAbs.slice(0, cut);
  if ((await Deno.permissions.query({ name: "write", path: parent })).state !== "granted") {
    throw new ExportError(
      `--out ${out}: not allowed to write there (deno task export writes under runs/ only)`,
    );
  }
  const app = await bundleForBrowser(
    "src/web/page.ts",
    options.minify ?? true,
    "export",
    (m) => new ExportError(m),
  );
  const files = await buildFolder(
    out,
    parent,
    ".export-",
    existing !== null,
    async (put, tmp) => {
      await put("index.html", await Deno.readFile(new URL("web/index.html", ROOT)));
      await put("app.js", app);
      await put("decoder.safetensors", weights);
      await putShaders(put, tmp);
    },
    { name: EXPORT_MARKER, fields: { format: MARKER_FORMAT, run: name } },
  );
  return { out, files, total: files.reduce((a, f) => a + f.bytes, 0) };
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

if (import.meta.main) {
  await runMain(async () => {
    const parsed = parseArgsOr(
      {
        args: Deno.args,
        options: {
          out: { type: "string" },
          force: { type: "boolean", default: false },
          help: { type: "boolean", default: false },
        },
        allowPositionals: true,
        strict: true,
      },
      USAGE,
      (m) => new ExportError(m),
    );
    if (parsed.values.help) {
      console.log(
        `${USAGE}\n  --out DIR   export folder (default: runs/NAME/web)\n` +
          "  --force     replace DIR if it is an earlier export (never anything else)",
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
