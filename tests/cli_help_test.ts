/**
 * Every task of deno.json that runs a command-line tool answers `--help` with its usage on
 * stdout and exit 0 (run through `deno task`, with the task's own permissions), and an
 * unknown flag with one line on stderr naming it and exit 1.
 */
import assert from "node:assert/strict";
import { runDeno } from "./_deno.ts";

const tasks: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks;
const CLIS = Object.keys(tasks).filter((t) => / src\/cli\/[a-z_]+\.ts$/.test(tasks[t]));

function task(name: string, ...args: string[]) {
  return runDeno(["task", "-q", name, ...args]);
}

Deno.test("cli: every tool answers --help with its usage, and an unknown flag in one line", async () => {
  assert.deepEqual(CLIS.sort(), [
    "adapter",
    "convert",
    "eval",
    "export",
    "profile",
    "sample",
    "train",
    "tune",
    "web",
  ]);
  for (const name of CLIS) {
    const help = await task(name, "--help");
    assert.equal(help.code, 0, `${name} --help: ${help.err}`);
    assert.match(help.out, new RegExp(`deno task ${name}`), `${name} --help names the task`);
    assert.equal(help.err, "", `${name} --help writes nothing to stderr`);
    const bad = await task(name, "--no-such-flag");
    assert.equal(bad.code, 1, `${name} --no-such-flag: exit ${bad.code}\n${bad.out}${bad.err}`);
    const lines = bad.err.trim().split("\n");
    assert.equal(lines.length, 1, `${name}: one line, got ${bad.err}`);
    assert.match(lines[0], /no-such-flag/, `${name}: the line names the flag`);
  }
});
