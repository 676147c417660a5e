import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * A task's error for the user: one line naming the flag, file or folder at fault. Each task
 * has its own subclass, named after itself (`error.name`).
 */
export class CliError extends Error {
  /**
   * Make the error.
   * @param message what is wrong, naming the flag, file or folder
   */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Entry-point wrapper for every CLI task: an error becomes one line on stderr
 * ("error: ...") and exit status 1, never a stack trace (set WEBGPU_VAE_DEBUG=1 for one).
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message.split("\n")[0]}`);
    if (debug() && e instanceof Error) console.error(e.stack);
    Deno.exit(1);
  }
}

/** WEBGPU_VAE_DEBUG=1, read only where the task may read it (never a permission prompt). */
function debug(): boolean {
  const q = Deno.permissions.querySync({ name: "env", variable: "WEBGPU_VAE_DEBUG" });
  return q.state === "granted" && Deno.env.get("WEBGPU_VAE_DEBUG") === "1";
}

/**
 * node:util's parseArgs, with a parse error turned into one line ending in `(hint)` (the
 * usage, or where to find it), made by `fail` (the task's own error class; default Error).
 */
export function parseArgsOr<T extends ParseArgsConfig>(
  config: T,
  hint: string,
  fail: (message: string) => Error = (m) => new Error(m),
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw fail(`${(e instanceof Error ? e.message : String(e)).split("\n")[0]} (${hint})`);
  }
}
