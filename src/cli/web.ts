/**
 * `deno task web [--out DIR] [--force]`: a static folder with a page that trains a VAE in the
 * browser, on WebGPU (src/web/train/page.ts):
 *
 *   index.html       the page (web/train.html, as it is)
 *   app.js           one ES module: src/web/train/page.ts bundled for the browser
 *   shaders/*.wgsl   the shader files, as they are
 *   data/*.idx3.gz   the embedded Fashion-MNIST subset's image files (the CLI's `embedded`)
 *   .webgpu-vae-web  this task's marker: what it wrote (JSON)
 *
 * The default DIR is runs/web. The folder is built next to DIR and renamed into place; an
 * existing DIR is replaced only with --force and only when it is an earlier `deno task web`
 * folder holding nothing else. The bundle is made in-process (Deno.bundle): no program runs.
 */

import { EMBEDDED_FILES } from "../data/datasets.ts";
import { CliError, parseArgsOr, runMain } from "./_main.ts";
import {
  buildFolder,
  bundleForBrowser,
  listTree,
  lstatOrNull,
  putShaders,
  ROOT,
  type WrittenFile,
} from "./_static_folder.ts";

const USAGE = "usage: deno task web [--out DIR] [--force]";
/** The marker file of a folder this task wrote. */
export const WEB_MARKER = ".webgpu-vae-web";
const MARKER_FORMAT = "webgpu-vae-web/1";

/** A bad argument or an unusable output folder: one line. */
export class WebError extends CliError {}

/** What {@linkcode writeTrainingPage} wrote: paths inside the folder and their sizes. */
export interface WebResult {
  /** The folder. */
  out: string;
  /** Each file, in the order written. */
  files: WrittenFile[];
}

/** Throws unless `out` is a folder an earlier run of this task wrote, holding only that. */
async function checkReplaceable(out: string): Promise<void> {
  let marker: { format?: unknown; files?: unknown };
  try {
    marker = JSON.parse(await Deno.readTextFile(`${out}/${WEB_MARKER}`));
  } catch {
    throw new WebError(`${out} is not a folder deno task web wrote; will not replace it`);
  }
  const files = marker.files;
  if (marker.format !== MARKER_FORMAT || !Array.isArray(files)) {
    throw new WebError(`${out}/${WEB_MARKER} is not this task's marker; will not replace it`);
  }
  const ours = new Set<string>([WEB_MARKER, ...files.map(String)]);
  const foreign = (await listTree(out, false)).filter((p) => !ours.has(p));
  if (foreign.length) {
    throw new WebError(`${out} holds ${foreign[0]}, which deno task web did not write`);
  }
}

/** Write the training page's folder to `out` (see the module comment). */
export async function writeTrainingPage(
  out: string,
  options: { force?: boolean; minify?: boolean } = {},
): Promise<WebResult> {
  out = out.replace(/\/+$/, "") || "/";
  const exists = await lstatOrNull(out) !== null;
  if (exists) {
    if (!options.force) throw new WebError(`${out} already exists; pass --force to replace it`);
    await checkReplaceable(out);
  }
  const app = await bundleForBrowser(
    "src/web/train/page.ts",
    options.minify ?? true,
    "web",
    (m) => new WebError(m),
  );
  const cut = out.lastIndexOf("/");
  const parent = cut < 0 ? "." : cut === 0 ? "/" : out.slice(0, cut);
  const files = await buildFolder(
    out,
    parent,
    ".web-",
    exists,
    async (put, tmp) => {
      await put("index.html", await Deno.readFile(new URL("web/train.html", ROOT)));
      await put("app.js", app);
      await putShaders(put, tmp);
      await Deno.mkdir(`${tmp}/data`);
      for (const name of [EMBEDDED_FILES.trainImages, EMBEDDED_FILES.testImages]) {
        await put(`data/${name}`, await Deno.readFile(new URL(`data/${name}`, ROOT)));
      }
    },
    { name: WEB_MARKER, fields: { format: MARKER_FORMAT } },
  );
  return { out, files };
}

if (import.meta.main) {
  await runMain(async () => {
    const parsed = parseArgsOr(
      {
        args: Deno.args,
        options: {
          out: { type: "string", default: "runs/web" },
          force: { type: "boolean", default: false },
          help: { type: "boolean", default: false },
        },
        strict: true,
      },
      USAGE,
      (m) => new WebError(m),
    );
    if (parsed.values.help) {
      console.log(
        `${USAGE}\n  --out DIR   folder to write (default runs/web)\n` +
          "  --force     replace DIR if an earlier deno task web wrote it (never anything else)",
      );
      return;
    }
    const r = await writeTrainingPage(parsed.values.out, { force: parsed.values.force });
    const total = r.files.reduce((a, f) => a + f.bytes, 0);
    console.log(`wrote ${r.out}: ${r.files.length} files, ${(total / 2 ** 20).toFixed(1)} MiB`);
    console.log(`serve it with any static file server, e.g. python3 -m http.server -d ${r.out}`);
  });
}
