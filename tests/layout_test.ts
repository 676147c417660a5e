/**
 * The layout shows the architecture (DESIGN.md "Layout", STYLE.md 14): rules on the import graph
 * of every .ts file in the repository, read from the source text (deno fmt keeps every static
 * import at the start of a line). No GPU needed.
 *
 * - The oracle is independent: no module under src/reference imports a value from src/gpu,
 *   src/nn or src/vae (type imports are fine: a shape's field names are not geometry).
 * - No import cycles anywhere, counting type imports too (a type-only cycle still ties two
 *   files together).
 */

import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const SKIP = new Set([".git", "runs", "node_modules", "bench/results"]);

/** One import or re-export of a repository file. */
interface Edge {
  /** The imported file, relative to the repository root. */
  to: string;
  /** Only types are named (`import type`, `export type`, or every name marked `type`). */
  typeOnly: boolean;
}

async function tsFiles(dir: URL, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = rel + e.name;
    if (SKIP.has(path)) continue;
    if (e.isDirectory) out.push(...await tsFiles(new URL(e.name + "/", dir), path + "/"));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Static imports and re-exports at the start of a line, then the statement's names. */
const STATIC = /^(?:import|export)\s+(type\s+)?([^;"]*?)\s*from\s*"([^"]+)"/gm;
const SIDE_EFFECT = /^import\s*"([^"]+)"/gm;
const DYNAMIC = /\bimport\(\s*"([^"]+)"\s*\)/g;

/** Whether a statement's name list names types alone: `{ type A, type B }`. */
function namesOnlyTypes(names: string): boolean {
  const m = names.match(/^\{([\s\S]*)\}$/);
  if (!m) return false; // a default import, `* as ns`, `*`
  const items = m[1].split(",").map((s) => s.trim()).filter(Boolean);
  return items.length > 0 && items.every((s) => s.startsWith("type "));
}

/** The repository-local imports of `file` (relative path), read from its text. */
function edgesOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith("./") && !spec.startsWith("../")) return; // npm:, node:, the import map
    const url = new URL(spec, new URL(file, ROOT));
    edges.push({ to: url.href.slice(ROOT.href.length), typeOnly });
  };
  for (const m of text.matchAll(STATIC)) add(m[3], m[1] !== undefined || namesOnlyTypes(m[2]));
  for (const m of text.matchAll(SIDE_EFFECT)) add(m[1], false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1], false);
  return edges;
}

/** file -> its edges, for every .ts file of the repository. */
async function importGraph(): Promise<Map<string, Edge[]>> {
  const graph = new Map<string, Edge[]>();
  for (const f of (await tsFiles(ROOT)).sort()) {
    graph.set(f, edgesOf(f, await Deno.readTextFile(new URL(f, ROOT))));
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan), each sorted, in order. */
function cycles(graph: Map<string, Edge[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const { to: w } of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

Deno.test("layout: the parser reads every kind of import this repository writes", () => {
  const text = [
    'import { a, type B } from "./x.ts";',
    'import type { C } from "../y/z.ts";',
    'import {\n  type D,\n  type E,\n} from "./w.ts";',
    'export { f } from "./v.ts";',
    'export type { G } from "./u.ts";',
    'import * as h from "./t.ts";',
    'import "./s.ts";',
    'const m = await import("./r.ts");',
    'import { parseArgs } from "node:util";',
    ' * import { Decoder } from "./q.ts"; (an example in a comment)',
  ].join("\n");
  deepStrictEqual(edgesOf("src/a/file.ts", text), [
    { to: "src/a/x.ts", typeOnly: false },
    { to: "src/y/z.ts", typeOnly: true },
    { to: "src/a/w.ts", typeOnly: true },
    { to: "src/a/v.ts", typeOnly: false },
    { to: "src/a/u.ts", typeOnly: true },
    { to: "src/a/t.ts", typeOnly: false },
    { to: "src/a/s.ts", typeOnly: false },
    { to: "src/a/r.ts", typeOnly: false },
  ]);
  const g = new Map<string, Edge[]>([
    ["a", [{ to: "b", typeOnly: false }]],
    ["b", [{ to: "c", typeOnly: true }]],
    ["c", [{ to: "a", typeOnly: false }, { to: "d", typeOnly: false }]],
    ["d", []],
  ]);
  deepStrictEqual(cycles(g), [["a", "b", "c"]]);
});

Deno.test("layout: src/reference imports no value from src/gpu, src/nn or src/vae", async () => {
  const graph = await importGraph();
  const files = [...graph.keys()].filter((f) => f.startsWith("src/reference/"));
  ok(files.length > 10, `only ${files.length} reference modules found`);
  const bad: string[] = [];
  for (const f of files) {
    for (const e of graph.get(f)!) {
      if (!e.typeOnly && /^src\/(gpu|nn|vae)\//.test(e.to)) bad.push(`${f} -> ${e.to}`);
    }
  }
  console.log(`${files.length} reference modules, ${bad.length} value imports from the GPU side`);
  deepStrictEqual(bad, [], "the oracle must compute its own shapes (STYLE.md 14)");
});

Deno.test("layout: no import cycles", async () => {
  const graph = await importGraph();
  const found = cycles(graph);
  const key = (c: string[]) => c.join(" <-> ");
  const edges = [...graph.values()].reduce((n, e) => n + e.length, 0);
  console.log(`${graph.size} modules, ${edges} local imports, ${found.length} cycles:`);
  for (const c of found) console.log(`  ${key(c)}`);
  deepStrictEqual(found.map(key), [], "import cycles");
});
