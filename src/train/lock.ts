/**
 * The lock of a run folder: `DIR/.lock`, created exclusively and holding the PID of the
 * trainer that owns the folder. It is taken before anything else of the run is read or
 * written and removed when the trainer ends.
 *
 * While its owner runs, the lock file is also held with an exclusive advisory lock (flock on
 * Unix, LockFileEx on Windows) on an open handle; the operating system drops that when the
 * process dies, however it dies. So a `.lock` whose advisory lock can be taken is stale: a
 * trainer killed with SIGKILL left it. Stale locks are detected and reported; one is taken
 * over only when asked (`--break-lock`), never silently. (Telling a live PID by /proc is not
 * possible under Deno's permissions short of --allow-all.)
 *
 * The file appears under its name already locked: it is made under a private name, locked,
 * filled, and then hard-linked to `.lock` (a link never replaces an existing name), so no
 * reader ever sees an unlocked lock of a live trainer.
 *
 * Needs --allow-read and --allow-write for the folder.
 */

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
  /** The PID written in the lock file (NaN when the file is damaged). */
  pid: number;
  /** Whether that process still holds it (false: a stale lock of a process that died). */
  alive: boolean;
}

/** The holder of `dir`'s lock, or null when there is no lock file. */
export async function lockHolder(dir: string): Promise<LockHolder | null> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(`${dir}/${LOCK_NAME}`, { read: true, write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const free = await f.tryLock(true);
    if (free) await f.unlock();
    const text = new TextDecoder().decode(await readAll(f));
    const pid = /^\s*(\d+)\s*$/.test(text) ? Number(text) : NaN;
    return { pid, alive: !free };
  } finally {
    f.close();
  }
}

async function readAll(f: Deno.FsFile): Promise<Uint8Array> {
  const buf = new Uint8Array(64);
  let n = 0;
  for (;;) {
    const r = await f.read(buf.subarray(n));
    if (r === null || r === 0) break;
    n += r;
    if (n === buf.length) break;
  }
  return buf.subarray(0, n);
}

/** One line saying who holds `dir` and what the user can do about it. */
export function describeHolder(dir: string, h: LockHolder): string {
  const who = Number.isNaN(h.pid) ? "a process" : `process ${h.pid}`;
  if (h.alive) {
    return `${dir} is in use by ${who} (another trainer): wait for it to end or pick another --out`;
  }
  return `${dir} is locked by ${who}, which no longer runs (killed or crashed): if nothing else ` +
    `uses ${dir}, pass --break-lock to take the lock over (or delete ${dir}/${LOCK_NAME})`;
}

/** A held lock; {@linkcode RunLock.release} ends it. */
export class RunLock {
  /** The lock file. */
  readonly path: string;
  /** The PID of the stale lock this one replaced (`--break-lock`), or null. */
  readonly brokeStale: number | null;
  #file: Deno.FsFile | null;

  /**
   * @param path the lock file
   * @param file its open handle, holding the advisory lock
   * @param brokeStale the PID of the stale lock it replaced, if any
   */
  constructor(path: string, file: Deno.FsFile, brokeStale: number | null) {
    this.path = path;
    this.#file = file;
    this.brokeStale = brokeStale;
  }

  /** Remove the lock file, then drop the advisory lock. Idempotent. */
  releaseSync(): void {
    if (!this.#file) return;
    try {
      Deno.removeSync(this.path);
    } catch { /* gone already */ }
    try {
      this.#file.close();
    } catch { /* closed */ }
    this.#file = null;
  }

  /** {@linkcode RunLock.releaseSync}, for symmetry with the async callers. */
  release(): Promise<void> {
    this.releaseSync();
    return Promise.resolve();
  }
}

/** Make `path` as a locked file holding our PID; null when the name is taken. */
async function createLock(path: string): Promise<Deno.FsFile | null> {
  const cut = path.lastIndexOf("/");
  const temp = `${path.slice(0, cut + 1)}.lock-new-${Deno.pid}`;
  let f: Deno.FsFile;
  try {
    await Deno.remove(temp).catch(() => {});
    f = await Deno.open(temp, { read: true, write: true, createNew: true });
  } catch (e) {
    throw new LockError(`cannot create ${temp}: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    if (!(await f.tryLock(true))) throw new LockError(`cannot lock ${temp}`);
    const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
    let done = 0;
    while (done < bytes.length) done += await f.write(bytes.subarray(done));
    await f.sync();
    try {
      await Deno.link(temp, path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        f.close();
        return null;
      }
      throw new LockError(`cannot create ${path}: ${(e as Error).message.split("\n")[0]}`);
    }
    return f;
  } catch (e) {
    try {
      f.close();
    } catch { /* closed */ }
    throw e;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/**
 * Take `dir`'s lock (the folder must exist). Throws {@linkcode LockError} naming the holder when
 * another live process holds it, or when a stale lock is in the way and `breakStale` is not
 * set; with `breakStale`, a stale lock is taken over (reported through
 * {@linkcode RunLock.brokeStale}), a live one never.
 */
export async function lockRunFolder(
  dir: string,
  { breakStale = false }: { breakStale?: boolean } = {},
): Promise<RunLock> {
  const path = `${dir}/${LOCK_NAME}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const f = await createLock(path);
    if (f) return new RunLock(path, f, null);
    const holder = await lockHolder(dir);
    if (holder === null) continue; // released meanwhile: try again
    if (holder.alive || !breakStale) throw new LockError(describeHolder(dir, holder));
    // Stale: lock the stale file itself (so two breakers cannot both win), then replace it.
    let stale: Deno.FsFile;
    try {
      stale = await Deno.open(path, { read: true, write: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    if (!(await stale.tryLock(true))) {
      stale.close();
      const now = await lockHolder(dir);
      throw new LockError(now ? describeHolder(dir, now) : `${dir}: lock contention; try again`);
    }
    // We hold the stale file's lock: its contents become ours, in place.
    const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
    await stale.truncate(0);
    await stale.seek(0, Deno.SeekMode.Start);
    let done = 0;
    while (done < bytes.length) done += await stale.write(bytes.subarray(done));
    await stale.sync();
    return new RunLock(path, stale, holder.pid);
  }
  throw new LockError(`${dir}: the lock keeps changing hands; try again`);
}
