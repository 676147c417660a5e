/**
 * What `deno task export` and `deno task web` share: bundling a page for the browser in-process
 * (Deno.bundle), the shader files, and a static folder that is built next to its place,
 * closed by a marker listing what was written, and renamed into place (an earlier folder
 * replaced only after the caller checked it).
 */

/** The repository root (web/, shaders/, data/ and src/ below it). */
export const ROOT = new URL("../../", import.meta.url);

/** One written file: its path inside the folder and its size in bytes. */
export interface WrittenFile {
  /** Path relative to the folder ("shaders/dense.wgsl"). */
  path: string;
  /** Size in bytes. */
  bytes: number;
}

/** Writes one file into the folder being built (`path` relative to it). */
export type Put = (path: string, bytes: Uint8Array) => Promise<void>;

/** The minimal Deno.bundle interface used here (an unstable API: --unstable-bundle). */
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

/**
 * `entry` (a path below the repository root) bundled for the browser as one ES module, in
 * process. `fail` makes the task's own error from a one-line message; `task` names it.
 */
export async function bundleForBrowser(
  entry: string,
  minify: boolean,
  task: string,
  fail: (message: string) => Error,
): Promise<Uint8Array> {
  const run = (Deno as unknown as { bundle?: Bundle }).bundle;
  if (typeof run !== "function") {
    throw fail(`bundling needs Deno.bundle: run with --unstable-bundle (deno task ${task})`);
  }
  const path = new URL(entry, ROOT).pathname;
  const result = await run({ entrypoints: [path], platform: "browser", minify, write: false });
  const file = result.outputFiles?.[0];
  if (!result.success || !file) {
    throw fail(`bundling the page failed: ${result.errors[0]?.text ?? "no output"}`);
  }
  return file.contents ?? new TextEncoder().encode(file.text());
}

/** Deno.lstat, or null where nothing is there. */
export async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Every file below `dir` as a path relative to it; with `folders`, every folder too (ending
 * in "/", before what it holds).
 */
export async function listTree(dir: string, folders: boolean, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) {
      if (folders) out.push(`${rel}/`);
      out.push(...await listTree(dir, folders, `${rel}/`));
    } else out.push(rel);
  }
  return out;
}

/**
 * Build the folder `out` in a fresh folder beside it (in `parent`, named `prefix`...): `fill`
 * writes the files through `put` (and may make subfolders of `tmp`), then the marker file
 * `marker` is written last, `{ ...fields, files }` with every path written. The folder is
 * made readable to all and renamed into place; an existing `out` (checked by the caller as
 * one it may replace) is swapped out and removed only then. On a failure the new folder is
 * removed and `out` left as it was. Returns the files in the order written, the marker last.
 */
export async function buildFolder(
  out: string,
  parent: string,
  prefix: string,
  replace: boolean,
  fill: (put: Put, tmp: string) => Promise<void>,
  marker: { name: string; fields: Record<string, unknown> },
): Promise<WrittenFile[]> {
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix });
  try {
    const files: WrittenFile[] = [];
    const put: Put = async (path, bytes) => {
      await Deno.writeFile(`${tmp}/${path}`, bytes);
      files.push({ path, bytes: bytes.length });
    };
    await fill(put, tmp);
    const json = { ...marker.fields, files: files.map((f) => f.path) };
    await put(marker.name, new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"));
    // Static hosts serve what they find; make it readable like any published folder.
    await Deno.chmod(tmp, 0o755);
    if (replace) {
      const old = `${tmp}.old`;
      await Deno.rename(out, old);
      await Deno.rename(tmp, out);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, out);
    }
    return files;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Copy every shaders/*.wgsl, by name, into the folder's shaders/ (which this makes). */
export async function putShaders(put: Put, tmp: string): Promise<void> {
  await Deno.mkdir(`${tmp}/shaders`);
  const shaders: string[] = [];
  for await (const e of Deno.readDir(new URL("shaders/", ROOT))) {
    if (e.isFile && e.name.endsWith(".wgsl")) shaders.push(e.name);
  }
  for (const s of shaders.sort()) {
    await put(`shaders/${s}`, await Deno.readFile(new URL(`shaders/${s}`, ROOT)));
  }
}
