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

import { parseArgs } from "node:util";
import { EMBEDDED_FILES } from "../data/datasets.ts";
import { runMain } from "./_main.ts";

const ROOT = new URL("../../", import.meta.url);
const USAGE = "usage: deno task web [--out DIR] [--force]";
/** The marker file of a folder this task wrote. */
export const WEB_MARKER = ".webgpu-vae-web";
const MARKER_FORMAT = "webgpu-vae-web/1";

/** A bad argument or an unusable output folder: one line. */
export class WebError extends Error {
  /**
   * Make the error.
   * @param message what is wrong, naming the flag or folder
   */
  constructor(message: string) {
    super(message);
    this.name = "WebError";
  }
}

/** What {@linkcode writeTrainingPage} wrote: paths inside the folder and their sizes. */
export interface WebResult {
  /** The folder. */
  out: string;
  /** Each file, in the order written. */
  files: { path: string; bytes: number }[];
}

type Bundle = (options: {
  entrypoints: string[];
  platform: "browser";
  minify: boolean;
  write: false;
}) => Promise<{
  success: boolean;
  errors: { text: string }[];
  outputFiles?: { contents?: Uint8Array; text(): string }[];
}>;

/** src/web/train/page.ts as one browser module. */
async function bundlePage(minify: boolean): Promise<Uint8Array> {
  const run = (Deno as unknown as { bundle?: Bundle }).bundle;
  if (typeof run !== "function") {
    throw new WebError("bundling needs Deno.bundle: run with --unstable-bundle (deno task web)");
  }
  const entry = new URL("src/web/train/page.ts", ROOT).pathname;
  const result = await run({ entrypoints: [entry], platform: "browser", minify, write: false });
  const file = result.outputFiles?.[0];
  if (!result.success || !file) {
    throw new WebError(`bundling the page failed: ${result.errors[0]?.text ?? "no output"}`);
  }
  return file.contents ?? new TextEncoder().encode(file.text());
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) out.push(...await listTree(dir, `${rel}/`));
    else out.push(rel);
  }
  return out;
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
  const foreign = (await listTree(out)).filter((p) => !ours.has(p));
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
  let exists = false;
  try {
    await Deno.lstat(out);
    exists = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (exists) {
    if (!options.force) throw new WebError(`${out} already exists; pass --force to replace it`);
    await checkReplaceable(out);
  }
  const app = await bundlePage(options.minify ?? true);
  const cut = out.lastIndexOf("/");
  const parent = cut < 0 ? "." : cut === 0 ? "/" : out.slice(0, cut);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".web-" });
  try {
    const files: WebResult["files"] = [];
    const put = async (path: string, bytes: Uint8Array) => {
      await Deno.writeFile(`${tmp}/${path}`, bytes);
      files.push({ path, bytes: bytes.length });
    };
    await put("index.html", await Deno.readFile(new URL("web/train.html", ROOT)));
    await put("app.js", app);
    await Deno.mkdir(`${tmp}/shaders`);
    const shaders: string[] = [];
    for await (const e of Deno.readDir(new URL("shaders/", ROOT))) {
      if (e.isFile && e.name.endsWith(".wgsl")) shaders.push(e.name);
    }
    for (const s of shaders.sort()) {
      await put(`shaders/${s}`, await Deno.readFile(new URL(`shaders/${s}`, ROOT)));
    }
    await Deno.mkdir(`${tmp}/data`);
    for (const name of [EMBEDDED_FILES.trainImages, EMBEDDED_FILES.testImages]) {
      await put(`data/${name}`, await Deno.readFile(new URL(`data/${name}`, ROOT)));
    }
    const marker = { format: MARKER_FORMAT, files: files.map((f) => f.path) };
    await put(WEB_MARKER, new TextEncoder().encode(JSON.stringify(marker, null, 2) + "\n"));
    await Deno.chmod(tmp, 0o755);
    if (exists) {
      const old = `${tmp}.old`;
      await Deno.rename(out, old);
      await Deno.rename(tmp, out);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, out);
    }
    return { out, files };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

if (import.meta.main) {
  await runMain(async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: Deno.args,
        options: {
          out: { type: "string", default: "runs/web" },
          force: { type: "boolean", default: false },
          help: { type: "boolean", default: false },
        },
        strict: true,
      });
    } catch (e) {
      throw new WebError(`${(e as Error).message.split("\n")[0]} (${USAGE})`);
    }
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
