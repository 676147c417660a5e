/**
 * Crash-safe file replacement for checkpoints and run files: the bytes go to a temporary file in
 * the same directory, which is flushed to disk and then renamed over the target. A reader (or a
 * restart after a crash or SIGKILL) sees either the whole old file or the whole new one, never a
 * mix. A killed writer can leave its temporary file (`.NAME.tmp-PID-RANDOM`) behind; the target
 * is never touched until the rename.
 *
 * Needs --allow-read and --allow-write for the target's directory.
 */

/** A write that failed; the file at `path` is as it was before. One line, naming the path. */
export class AtomicWriteError extends Error {
  /** The file that was being written. */
  readonly path: string;

  /**
   * @param path The target file.
   * @param reason One line: what went wrong.
   * @param cause The underlying error.
   */
  constructor(path: string, reason: string, cause?: unknown) {
    super(`cannot write ${path}: ${reason}`, { cause });
    this.name = "AtomicWriteError";
    this.path = path;
  }
}

/** Split a path into its directory ("." when it has none) and its last component. */
function splitPath(path: string): { dir: string; base: string } {
  const cut = Math.max(
    path.lastIndexOf("/"),
    Deno.build.os === "windows" ? path.lastIndexOf("\\") : -1,
  );
  if (cut < 0) return { dir: ".", base: path };
  return { dir: cut === 0 ? path.slice(0, 1) : path.slice(0, cut), base: path.slice(cut + 1) };
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0];
}

function randomTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Where a {@linkcode writeFileAtomic} is: temp file made (empty), filled and synced, renamed. */
export type WritePoint = "created" | "written" | "renamed";

/** Options of {@linkcode writeFileAtomic}. */
export interface WriteOptions {
  /**
   * Called at each point of the write (fault-injection tests stop the process there); the
   * `renamed` call comes after the directory sync.
   */
  at?: (point: WritePoint) => void | Promise<void>;
}

/**
 * Replace the file at `path` with `bytes` atomically: write a temporary file beside it, fsync
 * it, rename it over `path`, then (best effort) fsync the directory so the rename itself is
 * durable. On any failure the temporary file is removed, `path` is left as it was, and an
 * {@linkcode AtomicWriteError} naming `path` is thrown.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  const { dir, base } = splitPath(path);
  if (base === "" || base === "." || base === "..") {
    throw new AtomicWriteError(path, "not a file name");
  }
  const sep = dir.endsWith("/") || dir.endsWith("\\") ? "" : "/";
  const temp = `${dir}${sep}.${base}.tmp-${Deno.pid}-${randomTag()}`;
  let file: Deno.FsFile | undefined;
  let created = false;
  try {
    file = await Deno.open(temp, { write: true, createNew: true });
    created = true;
    await options.at?.("created");
    // FsFile.write may write less than asked: loop, in bounded chunks.
    const CHUNK = 1 << 24;
    let done = 0;
    while (done < bytes.length) {
      const n = await file.write(bytes.subarray(done, Math.min(done + CHUNK, bytes.length)));
      if (n <= 0) throw new Error("write made no progress");
      done += n;
    }
    await file.sync();
    file.close();
    file = undefined;
    await options.at?.("written");
    await Deno.rename(temp, path);
    created = false;
  } catch (e) {
    if (file) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    if (created) {
      try {
        await Deno.remove(temp);
      } catch { /* nothing more to do; the target is untouched either way */ }
    }
    throw new AtomicWriteError(path, firstLine(e), e);
  }
  // The new file is in place; making the directory entry durable is best effort (directories
  // cannot be opened for sync on every platform).
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* best effort */ }
  await options.at?.("renamed");
}

/** {@linkcode writeFileAtomic} for text, encoded as UTF-8. */
export async function writeTextAtomic(
  path: string,
  text: string,
  options: WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text), options);
}

/** The temporary files {@linkcode writeFileAtomic} names: `.NAME.tmp-PID-HEX`. */
const TEMP = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Remove the temporary files that writers killed mid-write left in `dir`: those whose target
 * name passes `mine` (the caller must know that no live process writes those targets, e.g.
 * because it holds the folder's lock) and that another process of this one did not make.
 * Returns the names removed, sorted.
 */
export async function removeStaleTemps(
  dir: string,
  mine: (target: string) => boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = e.isFile ? TEMP.exec(e.name) : null;
    if (!m || !mine(m[1]) || Number(m[2]) === Deno.pid) continue;
    try {
      await Deno.remove(`${dir}/${e.name}`);
      removed.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return removed.sort();
}
