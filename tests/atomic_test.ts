/**
 * Atomic file replacement: writes land; a failed write leaves the old file and no temporary file;
 * a writer killed with SIGKILL in the middle of a large write leaves the previous checkpoint
 * byte-for-byte intact and loadable.
 */

import assert from "node:assert/strict";
import {
  AtomicWriteError,
  removeStaleTemps,
  writeFileAtomic,
  writeTextAtomic,
} from "../src/io/atomic.ts";
import { encodeSafetensors, parseSafetensors } from "../src/io/safetensors.ts";

function goodCheckpoint(): Uint8Array {
  return encodeSafetensors(
    [
      { name: "w", dtype: "F32", shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: "step", dtype: "U32", shape: [], data: new Uint32Array([42]) },
    ],
    { step: "42" },
  );
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writeFileAtomic: writes land, replace old content, leave nothing else", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const first = goodCheckpoint();
    await writeFileAtomic(path, first);
    assert.deepEqual(await Deno.readFile(path), first);
    const second = new Uint8Array(3 << 20).map((_, i) => i * 7);
    await writeFileAtomic(path, second);
    assert.deepEqual(await Deno.readFile(path), second);
    await writeFileAtomic(path, new Uint8Array(0));
    assert.equal((await Deno.readFile(path)).length, 0);
    await writeTextAtomic(`${dir}/config.json`, '{"z": 20, "name": "é"}\n');
    assert.equal(await Deno.readTextFile(`${dir}/config.json`), '{"z": 20, "name": "é"}\n');
    assert.deepEqual(await names(dir), ["config.json", "model.safetensors"]);
  });
});

Deno.test("writeFileAtomic: a failed write keeps the old file, removes its temp", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const old = goodCheckpoint();
    await Deno.writeFile(path, old);

    // The target is a (non-empty) directory: the temp file is written, the rename fails.
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/keep.txt`, "keep");
    const err = await writeFileAtomic(`${dir}/sub`, new Uint8Array(1000)).catch((e) => e);
    assert.ok(err instanceof AtomicWriteError, String(err));
    assert.ok(err.message.startsWith(`cannot write ${dir}/sub: `), err.message);
    assert.ok(!err.message.includes("\n"));
    assert.deepEqual(await names(dir), ["model.safetensors", "sub"]);
    assert.deepEqual(await names(`${dir}/sub`), ["keep.txt"]);

    // A missing directory.
    const missing = await writeFileAtomic(`${dir}/nope/model.safetensors`, old).catch((e) => e);
    assert.ok(missing instanceof AtomicWriteError);
    assert.ok(missing.message.includes(`${dir}/nope/model.safetensors`), missing.message);

    // A read-only directory (root ignores directory permissions: then this case is skipped).
    await Deno.chmod(dir, 0o555);
    let privileged = false;
    try {
      await Deno.writeFile(`${dir}/probe`, new Uint8Array(1));
      privileged = true;
      await Deno.remove(`${dir}/probe`);
    } catch { /* expected: the directory is read-only */ }
    if (!privileged) {
      const ro = await writeFileAtomic(path, new Uint8Array(10)).catch((e) => e);
      assert.ok(ro instanceof AtomicWriteError, String(ro));
      assert.ok(ro.message.startsWith(`cannot write ${path}: `), ro.message);
    } else {
      console.log("running with privileges: read-only directory case skipped");
    }
    await Deno.chmod(dir, 0o755);

    assert.deepEqual(await Deno.readFile(path), old);
    assert.deepEqual(await names(dir), ["model.safetensors", "sub"]);
  });
});

Deno.test({
  name: "writeFileAtomic: SIGKILL during a 200 MB write leaves the previous file intact",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/model.safetensors`;
      const old = goodCheckpoint();
      await writeFileAtomic(path, old);

      const script = `${dir}/writer.ts`;
      const atomic = new URL("../src/io/atomic.ts", import.meta.url).href;
      const st = new URL("../src/io/safetensors.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { writeFileAtomic } from ${JSON.stringify(atomic)};
import { encodeSafetensors } from ${JSON.stringify(st)};
const n = 200 * 1024 * 1024;
const data = new Uint8Array(n).fill(0xab);
const bytes = encodeSafetensors([{ name: "big", dtype: "U8", shape: [n], data }]);
await writeFileAtomic(${JSON.stringify(path)}, bytes);
console.log("finished");
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", "--allow-read", `--allow-write=${dir}`, script],
        stdout: "piped",
        stderr: "piped",
      }).spawn();

      // Wait for the temporary file to appear, then kill the writer at once.
      const t0 = performance.now();
      let temp: string | undefined;
      while (temp === undefined && performance.now() - t0 < 60_000) {
        temp = (await names(dir)).find((n) => n.startsWith(".model.safetensors.tmp-"));
        if (temp === undefined) await new Promise((r) => setTimeout(r, 1));
      }
      child.kill("SIGKILL");
      const { code, signal, stdout, stderr } = await child.output();
      const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert.ok(temp !== undefined, `the writer never created its temp file: ${said}`);
      assert.equal(signal, "SIGKILL", `writer ended with code ${code} before the kill: ${said}`);

      // The kill landed before the rename: the old checkpoint is byte-for-byte intact.
      const now = await Deno.readFile(path);
      assert.deepEqual(now, old);
      const parsed = parseSafetensors(now, path);
      assert.deepEqual(parsed.metadata, { step: "42" });
      assert.deepEqual(Array.from(parsed.tensors.get("step")!.data), [42]);
      // The killed writer's partial temp file is all that is left besides.
      const left = (await names(dir)).filter((n) => n !== "model.safetensors" && n !== "writer.ts");
      assert.ok(left.length <= 1 && left.every((n) => n === temp), left.join(", "));
    });
  },
});

Deno.test("writeFileAtomic: calls its hook at created, written, renamed, in order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state.bin`;
    await writeTextAtomic(path, "old");
    const seen: [string, string[]][] = [];
    await writeTextAtomic(path, "new", {
      at: async (point) => {
        seen.push([point, await names(dir)]);
        // Until the rename the target keeps its old bytes.
        if (point !== "renamed") assert.equal(await Deno.readTextFile(path), "old");
      },
    });
    assert.deepEqual(seen.map(([p]) => p), ["created", "written", "renamed"]);
    assert.equal(seen[0][1].length, 2, "the temp file beside the target");
    assert.match(seen[1][1][0], /^\.state\.bin\.tmp-\d+-[0-9a-f]+$/);
    assert.deepEqual(seen[2][1], ["state.bin"]);
    assert.equal(await Deno.readTextFile(path), "new");
    // A hook that fails before the rename leaves the old file and no temp.
    await assert.rejects(
      () =>
        writeTextAtomic(path, "newer", {
          at: (p) => {
            if (p === "written") throw new Error("disk full");
          },
        }),
      (e: Error) => e instanceof AtomicWriteError && /disk full/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(path), "new");
    assert.deepEqual(await names(dir), ["state.bin"]);
  });
});

Deno.test("removeStaleTemps: removes the chosen targets' temp files, nothing else", async () => {
  await withTempDir(async (dir) => {
    const files = [
      ".model.safetensors.tmp-123-00aa11",
      ".metrics.jsonl.tmp-7-ff",
      ".eval.json.tmp-123-00aa11",
      ".model.safetensors.tmp-x-1",
      "model.safetensors",
      "notes.tmp-1-aa",
    ];
    for (const f of files) await Deno.writeTextFile(`${dir}/${f}`, "x");
    const removed = await removeStaleTemps(dir, (t) => t !== "eval.json");
    assert.deepEqual(removed, [".metrics.jsonl.tmp-7-ff", ".model.safetensors.tmp-123-00aa11"]);
    assert.deepEqual(await names(dir), [
      ".eval.json.tmp-123-00aa11",
      ".model.safetensors.tmp-x-1",
      "model.safetensors",
      "notes.tmp-1-aa",
    ]);
  });
});
