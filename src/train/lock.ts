/**
 * The lock of a run folder: `DIR/.lock`, created exclusively (O_CREAT | O_EXCL) and holding
 * the PID of the trainer that owns the folder. It is taken before anything else of the run is
 * read or written and removed when the trainer ends; a trainer killed with SIGKILL leaves it
 * behind. Such a stale lock is detected (its process no longer runs) and reported; it is taken
 * over only when asked (`--break-lock`), never silently.
 *
 * Needs --allow-read (the folder, /proc on Linux) and --allow-write for the folder.
 */

import { processAlive } from "./atomic.ts";

/** The lock file's name inside a run folder. */
export const LOCK_NAME = ".lock";

/** A run folder is locked by another process (or a stale lock is in the way). One line. */
export class LockError extends Error {
  /**
   * Make the error.
   * @param message what holds the folder and what to do
   */
  constructor(message: string) {
    super(message);
    this.name = "LockError";
  }
}

/** Who holds a run folder's lock. */
export interface LockHolder {
  /** The PID written in the lock file (NaN when the file is unreadable or damaged). */
  pid: number;
  /** Whether that process runs: true, false, or undefined when it cannot be told. */
  alive: boolean | undefined;
}

/** The holder of `dir`'s lock, or null when there is no lock file. */
export async function lockHolder(dir: string): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${LOCK_NAME}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const pid = /^\s*(\d+)\s*$/.test(text) ? Number(text) : NaN;
  return { pid, alive: Number.isInteger(pid) && pid > 0 ? processAlive(pid) : false };
}

/** One line saying who holds `dir` and what the user can do about it. */
export function describeHolder(dir: string, h: LockHolder): string {
  const path = `${dir}/${LOCK_NAME}`;
  if (h.alive === true) {
    return `${dir} is in use by process ${h.pid} (another trainer): wait for it to end or ` +
      `pick another --out`;
  }
  const who = Number.isNaN(h.pid) ? "an unreadable lock" : `process ${h.pid}`;
  if (h.alive === false) {
    return `${dir} is locked by ${who}, which no longer runs (killed or crashed): if nothing ` +
      `else uses ${dir}, pass --break-lock to take the lock over (or delete ${path})`;
  }
  return `${dir} is locked by ${who} (${path}): if that process no longer runs, delete ${path}`;
}

/** A held lock; {@linkcode RunLock.release} removes the lock file if it is still ours. */
export class RunLock {
  /** The lock file. */
  readonly path: string;
  /** The PID of a stale lock this one replaced (`--break-lock`), if any. */
  readonly brokeStale: number | null;

  /**
   * @param path the lock file
   * @param brokeStale the PID of the stale lock it replaced, if any
   */
  constructor(path: string, brokeStale: number | null) {
    this.path = path;
    this.brokeStale = brokeStale;
  }

  /** Remove the lock file when it still holds this process's PID. */
  async release(): Promise<void> {
    try {
      if ((await Deno.readTextFile(this.path)).trim() === String(Deno.pid)) {
        await Deno.remove(this.path);
      }
    } catch { /* gone already: nothing to release */ }
  }
}

async function createLock(path: string): Promise<boolean> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw new LockError(`cannot create ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
    let done = 0;
    while (done < bytes.length) done += await f.write(bytes.subarray(done));
    await f.sync();
  } finally {
    f.close();
  }
  return true;
}

/**
 * Take `dir`'s lock (the folder must exist). Throws {@linkcode LockError} naming the holder when
 * another live process holds it, or when a stale lock is in the way and `breakStale` is not
 * set; with `breakStale`, a lock whose process no longer runs is taken over (reported through
 * {@linkcode RunLock.brokeStale}), a live one never.
 */
export async function lockRunFolder(
  dir: string,
  { breakStale = false }: { breakStale?: boolean } = {},
): Promise<RunLock> {
  const path = `${dir}/${LOCK_NAME}`;
  if (await createLock(path)) return new RunLock(path, null);
  const holder = await lockHolder(dir);
  if (holder === null) {
    // Released between our attempt and the read: one more try, then report.
    if (await createLock(path)) return new RunLock(path, null);
    throw new LockError(`${dir} is being locked by another process: try again`);
  }
  if (!breakStale || holder.alive !== false) throw new LockError(describeHolder(dir, holder));
  // Move the stale file aside (one rename wins), check it is the one we judged, then lock.
  const aside = `${path}.broken-${Deno.pid}`;
  try {
    await Deno.rename(path, aside);
  } catch (e) {
    throw new LockError(`${dir}: cannot take over the stale lock (${(e as Error).message})`);
  }
  const moved = await Deno.readTextFile(aside).catch(() => "");
  const same = Number.isNaN(holder.pid)
    ? !/^\s*\d+\s*$/.test(moved)
    : moved.trim() === String(holder.pid);
  if (!same) {
    // A racing process had already replaced the stale lock: give its lock back.
    await Deno.link(aside, path).catch(() => {});
    await Deno.remove(aside).catch(() => {});
    throw new LockError(`${dir}: another process took the lock over at the same time; try again`);
  }
  await Deno.remove(aside).catch(() => {});
  if (!(await createLock(path))) {
    const now = await lockHolder(dir);
    throw new LockError(now ? describeHolder(dir, now) : `${dir}: lock contention; try again`);
  }
  return new RunLock(path, holder.pid);
}
