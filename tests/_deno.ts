/**
 * Runs a Deno subprocess for the command-line tests (no GPU needed here, unlike _helpers.ts):
 * its exit code and decoded stdout and stderr, colour off.
 */

/** What a finished subprocess gave. */
export interface DenoResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  out: string;
  /** Standard error, decoded. */
  err: string;
}

/** `deno ARGS...` (the running binary), from `cwd` when given, with NO_COLOR set. */
export async function runDeno(args: string[], cwd?: string): Promise<DenoResult> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}
