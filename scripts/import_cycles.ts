/**
 * Lists the import cycles among this repository's own modules, from `deno info --json` of
 * the given entry points (default: every entry deno.json exports and every .ts file under
 * src/). tests/layout_test.ts asserts the same in the test suite (no cycle but the known
 * ones, and no value import from the GPU side into src/reference). Value and type
 * imports both count (a type-only cycle still ties two files together). Prints each cycle
 * (a strongly connected component of the import graph, as repository paths) and exits 1 if
 * there is any; `--under src/vae` keeps only the cycles with a module under that folder.
 *
 *   deno run --allow-read --allow-run scripts/import_cycles.ts [--under DIR] [ENTRY...]
 */

import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { under: { type: "string" } },
  allowPositionals: true,
});
const root = new URL("../", import.meta.url);

async function tsFiles(dir: URL): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) out.push(...await tsFiles(u));
    else if (e.name.endsWith(".ts")) out.push(u.pathname);
  }
  return out;
}

const exported: Record<string, string> =
  JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).exports;
const entries = positionals.length ? positionals : [
  ...Object.values(exported).map((p) => new URL(p, root).pathname),
  ...await tsFiles(new URL("src/", root)),
];

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
  }[];
}

/** Import graph of local modules: file URL -> the file URLs it imports. */
const graph = new Map<string, Set<string>>();
for (const entry of entries) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    console.error(`deno info failed on ${entry}`);
    Deno.exit(2);
  }
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const m of info.modules) {
    if (!m.specifier.startsWith(root.href)) continue;
    const deps = graph.get(m.specifier) ?? new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const s of [d.code?.specifier, d.type?.specifier]) {
        if (s?.startsWith(root.href)) deps.add(s);
      }
    }
    graph.set(m.specifier, deps);
  }
}

// Tarjan's strongly connected components; a component of more than one module is a cycle.
let index = 0;
const idx = new Map<string, number>(), low = new Map<string, number>();
const stack: string[] = [], on = new Set<string>();
const cycles: string[][] = [];
function visit(v: string): void {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
  }
  if (low.get(v) !== idx.get(v)) return;
  const scc: string[] = [];
  let w: string;
  do {
    w = stack.pop()!;
    on.delete(w);
    scc.push(w.slice(root.href.length));
  } while (w !== v);
  if (scc.length > 1) cycles.push(scc.sort());
}
for (const v of graph.keys()) if (!idx.has(v)) visit(v);

const under = values.under?.replace(/\/?$/, "/");
const shown = under ? cycles.filter((c) => c.some((p) => p.startsWith(under))) : cycles;
console.log(
  `${graph.size} modules, ${shown.length} import cycle${shown.length === 1 ? "" : "s"}` +
    (under ? ` touching ${under}` : ""),
);
for (const c of shown) console.log(`  ${c.join(" <-> ")}`);
Deno.exit(shown.length ? 1 : 0);
