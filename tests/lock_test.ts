/**
 * The run folder's lock (issue 18): created exclusively with the PID, held by an advisory lock
 * while its owner runs; a second taker gets a one-line error naming the holder; a stale lock
 * (no advisory lock: its process died) is reported and taken over only when asked.
 */
import assert from "node:assert/strict";
import { LockError, lockHolder, lockRunFolder } from "../src/train/lock.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("lock: one holder at a time, named; released, it can be taken again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-lock-" });
  assert.equal(await lockHolder(dir), null);
  const lock = await lockRunFolder(dir);
  assert.equal(await Deno.readTextFile(`${dir}/.lock`), `${Deno.pid}\n`);
  assert.deepEqual(await names(dir), [".lock"], "no helper file left");
  assert.deepEqual(await lockHolder(dir), { pid: Deno.pid, alive: true });
  for (const breakStale of [false, true]) {
    await assert.rejects(
      () => lockRunFolder(dir, { breakStale }),
      (e: Error) =>
        e instanceof LockError &&
        e.message === `${dir} is in use by process ${Deno.pid} (another trainer): wait for ` +
            `it to end or pick another --out`,
    );
  }
  await lock.release();
  assert.deepEqual(await names(dir), []);
  const again = await lockRunFolder(dir);
  assert.equal(again.brokeStale, null);
  again.releaseSync();
  again.releaseSync(); // idempotent
  assert.deepEqual(await names(dir), []);
});

Deno.test("lock: a stale lock is reported, and taken over only with breakStale", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-lock-" });
  // What a trainer killed with SIGKILL leaves: the file, with no advisory lock on it.
  await Deno.writeTextFile(`${dir}/.lock`, "4242\n");
  assert.deepEqual(await lockHolder(dir), { pid: 4242, alive: false });
  await assert.rejects(
    () => lockRunFolder(dir),
    (e: Error) =>
      e instanceof LockError &&
      e.message === `${dir} is locked by process 4242, which no longer runs (killed or crashed): ` +
          `if nothing else uses ${dir}, pass --break-lock to take the lock over (or delete ` +
          `${dir}/.lock)`,
  );
  assert.equal(await Deno.readTextFile(`${dir}/.lock`), "4242\n", "not stolen");
  const lock = await lockRunFolder(dir, { breakStale: true });
  assert.equal(lock.brokeStale, 4242);
  assert.equal(await Deno.readTextFile(`${dir}/.lock`), `${Deno.pid}\n`);
  assert.deepEqual(await lockHolder(dir), { pid: Deno.pid, alive: true });
  await lock.release();
  // A damaged lock file is stale too, named as such.
  await Deno.writeTextFile(`${dir}/.lock`, "garbage");
  await assert.rejects(() => lockRunFolder(dir), /locked by a process, which no longer runs/);
});
