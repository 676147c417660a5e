/// <reference lib="dom" />
/**
 * The exported page's script (bundled to app.js by `deno task export`): loads
 * decoder.safetensors and shaders/*.wgsl from next to the page, builds the decoder from the
 * file's model spec, then decodes on WebGPU as the user moves a slider per latent dimension
 * (a draggable pad when Z = 2), and shows samples from the prior. Images are drawn as pixels;
 * streamlines as lines in two projections (x-y, x-z) with the decoded length in mm. A
 * label-conditioned decoder gets a class selector, a length-conditioned one a length slider
 * (over the training lengths); both the main output and the samples are decoded with the
 * chosen condition. Prior samples come from `Decoder.priorCodes`: N(0, I), or p(z | c) for a
 * run with a learned prior, redrawn from the same standard normal draws when the condition
 * changes. Where WebGPU is missing it says so on the page.
 *
 * For tests and curious readers, `globalThis.vaeDemo` exposes the current code and condition,
 * the outputs last drawn (main and grid), the grid's codes and the standard normal draws they
 * came from (`gridEps`), a decode function and the decoder's priorCodes;
 * `document.body.dataset.state` goes loading -> decoded (or no-webgpu, error),
 * `dataset.decodes` counts the main output's decodes and `dataset.grids` the grid's.
 */

import { GpuUnavailableError } from "../gpu/device.ts";
import { Decoder } from "./decoder.ts";
import { mulberry32, standardNormal } from "../io/random.ts";
import { arcLengthMm, drawImage, drawStreamlines, PANEL, streamlineMm } from "./draw.ts";

/** Half-width of the latent range the controls cover: the prior N(0, 1) lies mostly inside. */
const RANGE = 3;
/** The sample grid is GRID x GRID outputs. */
const GRID = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusLine = $<HTMLParagraphElement>("status");

function setState(state: string, message: string): void {
  document.body.dataset.state = state;
  statusLine.textContent = message;
}

/** Seeded, so the first grid is the same on every visit. */
const next = mulberry32(20260101);

/** n draws from N(0, 1). */
function normals(n: number): number[] {
  return Array.from({ length: n }, () => standardNormal(next));
}

function explain(e: unknown): [string, string] {
  if (e instanceof GpuUnavailableError) {
    return [
      "no-webgpu",
      "This browser has WebGPU but could not get a graphics adapter for it, so the images " +
      `cannot be drawn here (${e.message}). Try another browser or machine, or check that ` +
      "hardware acceleration is switched on in the browser's settings.",
    ];
  }
  return ["error", `The decoder could not start: ${e instanceof Error ? e.message : String(e)}`];
}

async function main(): Promise<void> {
  if (!("gpu" in navigator)) {
    setState(
      "no-webgpu",
      "This page draws its images with WebGPU, and this browser does not have WebGPU (or has " +
        "it switched off). Open the page in a browser that supports WebGPU, such as a recent " +
        "Chrome, Edge or Safari, to see the decoder at work.",
    );
    return;
  }
  let decoder: Decoder;
  try {
    decoder = await Decoder.load("decoder.safetensors");
  } catch (e) {
    const [state, message] = explain(e);
    setState(state, message);
    return;
  }
  const spec = decoder.spec, g = spec.data, Z = decoder.z, condition = decoder.condition;
  const z = new Array<number>(Z).fill(0);
  /** The controls' range per dimension: [-RANGE, RANGE], or a learned prior's (below). */
  const lo = new Array<number>(Z).fill(-RANGE), hi = new Array<number>(Z).fill(RANGE);
  /** Keep a code inside the controls' range. */
  const clip = (v: number, j: number) => Math.min(hi[j], Math.max(lo[j], v));
  /** The grid's standard normal draws; its codes are priorCodes of them for the condition. */
  let gridEps = normals(GRID * GRID * Z);
  let gridCodes: number[] = [];
  let gridAsked = 0;
  let lastOutput: Float32Array = new Float32Array(0);
  let gridOutput: Float32Array = new Float32Array(0);
  let decodes = 0, grids = 0;
  /** The chosen condition: a class, or a length in mm (rounded mean to start); else none. */
  let cond: number | undefined = !condition
    ? undefined
    : condition.kind === "label"
    ? 0
    : Math.round(condition.mean);
  const condText = (c = cond) =>
    !condition || c === undefined
      ? ""
      : condition.kind === "label"
      ? `class ${condition.names[c]}`
      : `length ${c} mm`;
  // A learned prior: the controls cover mp(c) +- RANGE sigma_p(c) over a few conditions (the
  // classes, or the shortest, mean and longest training lengths), and start at the prior mean.
  if (spec.model.prior && condition) {
    try {
      const probes = condition.kind === "label"
        ? Array.from({ length: condition.classes }, (_, k) => k)
        : [condition.min, condition.mean, condition.max];
      const K = probes.length, asked = [...probes, ...probes];
      const eps = Array.from({ length: 2 * K * Z }, (_, i) => (i < K * Z ? RANGE : -RANGE));
      const ends = await decoder.priorCodes(eps, asked);
      lo.fill(Infinity);
      hi.fill(-Infinity);
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < Z; j++) {
          hi[j] = Math.max(hi[j], ends[k * Z + j]);
          lo[j] = Math.min(lo[j], ends[(K + k) * Z + j]);
        }
      }
      z.splice(0, Z, ...Array.from(await decoder.priorCodes(z, cond, 0), clip));
    } catch (e) {
      setState("error", `The prior could not run: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }

  const image = $<HTMLCanvasElement>("image");
  const grid = $<HTMLCanvasElement>("grid");
  if (g.kind === "image") {
    image.width = g.width;
    image.height = g.height;
    grid.width = GRID * g.width;
    grid.height = GRID * g.height;
  } else {
    // Overlaid samples cannot be clicked one by one.
    $<HTMLElement>("gridhint").hidden = true;
    // Two projection panels side by side, drawn at CSS size (not pixelated).
    for (const c of [image, grid]) {
      c.width = 2 * PANEL + 8;
      c.height = PANEL;
      c.classList.remove("pixels");
      Object.assign(c.style, { width: `${c.width}px`, height: `${c.height}px` });
    }
  }
  const imageCtx = image.getContext("2d")!;
  const gridCtx = grid.getContext("2d")!;
  const zValue = $<HTMLElement>("zvalue");

  /** Draw the main output; returns the caption's extra words (a streamline's length). */
  function drawMain(out: Float32Array): string {
    if (g.kind === "image") {
      drawImage(imageCtx, g, out, 0, 0, 0);
      return "";
    }
    drawStreamlines(imageCtx, g, out, [0], "#e33");
    return `, decoded length ${arcLengthMm(streamlineMm(g, out, 0)).toFixed(1)} mm`;
  }

  function drawGrid(out: Float32Array): void {
    if (g.kind === "image") {
      for (let i = 0; i < GRID * GRID; i++) {
        drawImage(gridCtx, g, out, i, (i % GRID) * g.width, Math.floor(i / GRID) * g.height);
      }
    } else {
      drawStreamlines(
        gridCtx,
        g,
        out,
        Array.from({ length: GRID * GRID }, (_, i) => i),
        "#2ca02c80",
      );
    }
  }

  // Only the newest code is decoded: moves that arrive while the GPU is busy are merged.
  let busy = false, dirty = false, broken = false;
  const fail = (e: unknown) => {
    broken = true;
    setState("error", `Decoding failed: ${e instanceof Error ? e.message : String(e)}`);
  };
  async function render(): Promise<void> {
    dirty = true;
    if (busy) return;
    busy = true;
    try {
      while (dirty) {
        dirty = false;
        const code = z.slice(), c = cond;
        const out = await decoder.decode(code, c);
        const extra = drawMain(out);
        lastOutput = out;
        const shown = `z = [${code.map((v) => v.toFixed(2)).join(", ")}]`;
        zValue.textContent = (condition ? `${shown}, ${condText(c)}` : shown) + extra;
        document.body.dataset.decodes = String(++decodes);
      }
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
    }
  }

  // Codes from the prior (of the condition) for the grid's draws, then their outputs; only the
  // newest request draws (an older one still in flight when the condition changes is dropped).
  async function renderGrid(): Promise<void> {
    const asked = ++gridAsked, c = cond;
    try {
      const codes = Array.from(await decoder.priorCodes(gridEps, c));
      const out = await decoder.decode(codes, c);
      if (asked !== gridAsked) return;
      gridCodes = codes;
      drawGrid(out);
      gridOutput = out;
      if (condition) $<HTMLElement>("gridclass").textContent = ` of ${condText(c)}`;
      document.body.dataset.grids = String(++grids);
    } catch (e) {
      fail(e);
    }
  }

  // Controls: a pad for Z = 2 (square, +-R around 0 on both axes), else a slider per dimension.
  const R = Math.max(...lo.map(Math.abs), ...hi);
  const sliders: HTMLInputElement[] = [];
  const pad = $<HTMLCanvasElement>("pad");
  const padCtx = pad.getContext("2d")!;
  function drawPad(): void {
    const s = pad.width;
    padCtx.clearRect(0, 0, s, s);
    padCtx.strokeStyle = "#8888";
    for (let r = 1; r <= R; r++) {
      padCtx.beginPath();
      padCtx.arc(s / 2, s / 2, (r / R) * (s / 2), 0, 2 * Math.PI);
      padCtx.stroke();
    }
    padCtx.beginPath();
    padCtx.moveTo(s / 2, 0);
    padCtx.lineTo(s / 2, s);
    padCtx.moveTo(0, s / 2);
    padCtx.lineTo(s, s / 2);
    padCtx.stroke();
    const x = ((z[0] + R) / (2 * R)) * s, y = ((R - z[1]) / (2 * R)) * s;
    padCtx.fillStyle = "#e33";
    padCtx.beginPath();
    padCtx.arc(x, y, 6, 0, 2 * Math.PI);
    padCtx.fill();
  }
  function showControls(): void {
    if (Z === 2) drawPad();
    sliders.forEach((s, i) => {
      s.value = String(z[i]);
      s.nextElementSibling!.textContent = z[i].toFixed(2);
    });
  }
  if (Z === 2) {
    pad.hidden = false;
    const move = (e: PointerEvent) => {
      const r = pad.getBoundingClientRect();
      const u = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      const v = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
      z[0] = (2 * u - 1) * R;
      z[1] = (1 - 2 * v) * R;
      drawPad();
      render();
    };
    pad.addEventListener("pointerdown", (e) => {
      pad.setPointerCapture(e.pointerId);
      move(e);
    });
    pad.addEventListener("pointermove", (e) => {
      if (pad.hasPointerCapture(e.pointerId)) move(e);
    });
  } else {
    const box = $<HTMLDivElement>("sliders");
    for (let i = 0; i < Z; i++) {
      const label = document.createElement("label");
      label.textContent = `z${i + 1}`;
      label.htmlFor = `z${i}`;
      const s = document.createElement("input");
      Object.assign(s, { type: "range", id: `z${i}`, min: lo[i], max: hi[i], step: 0.01 });
      const value = document.createElement("output");
      s.addEventListener("input", () => {
        z[i] = Number(s.value);
        value.textContent = z[i].toFixed(2);
        render();
      });
      box.append(label, s, value);
      sliders.push(s);
    }
  }
  showControls();

  /** Pick a condition: re-decode the main output and the grid with it. */
  function setCondition(c: number): void {
    cond = c;
    render();
    renderGrid();
  }
  if (condition?.kind === "label") {
    // One option per class.
    const select = $<HTMLSelectElement>("class");
    condition.names.forEach((name, k) => select.add(new Option(`${k}: ${name}`, String(k))));
    select.value = String(cond);
    select.addEventListener("change", () => setCondition(Number(select.value)));
    $<HTMLElement>("classbox").hidden = false;
  } else if (condition?.kind === "length") {
    // A slider over the training lengths, in whole millimetres.
    const input = $<HTMLInputElement>("length"), shown = $<HTMLElement>("lengthvalue");
    Object.assign(input, {
      min: Math.max(1, Math.floor(condition.min)),
      max: Math.ceil(condition.max),
      step: 1,
      value: String(cond),
    });
    shown.textContent = `${cond} mm`;
    input.addEventListener("input", () => {
      shown.textContent = `${input.value} mm`;
      setCondition(Number(input.value));
    });
    $<HTMLElement>("lengthbox").hidden = false;
  }

  $<HTMLButtonElement>("prior").addEventListener("click", async () => {
    const eps = normals(Z);
    gridEps = normals(GRID * GRID * Z);
    renderGrid();
    try {
      const code = await decoder.priorCodes(eps, cond);
      z.splice(0, Z, ...Array.from(code, clip));
    } catch (e) {
      fail(e);
      return;
    }
    showControls();
    render();
  });
  if (g.kind === "image") {
    grid.addEventListener("click", (e) => {
      const r = grid.getBoundingClientRect();
      const col = Math.floor(((e.clientX - r.left) / r.width) * GRID);
      const row = Math.floor(((e.clientY - r.top) / r.height) * GRID);
      const i = Math.min(GRID - 1, row) * GRID + Math.min(GRID - 1, col);
      if (gridCodes.length === 0) return;
      z.splice(0, Z, ...gridCodes.slice(i * Z, (i + 1) * Z));
      showControls();
      render();
    });
  }

  const withCond = (c?: number) => (condition ? c ?? cond : undefined);
  Object.assign(globalThis, {
    vaeDemo: {
      spec,
      z: () => z.slice(),
      // The controls' range per dimension.
      bounds: () => ({ lo: lo.slice(), hi: hi.slice() }),
      // The chosen class or length (undefined: unconditional); `cls` is its older name.
      condition: () => cond,
      cls: () => cond,
      setCondition,
      // The outputs last drawn: pixels, or a streamline's normalized coordinates.
      pixels: () => Array.from(lastOutput),
      gridCodes: () => gridCodes.slice(),
      gridEps: () => gridEps.slice(),
      gridPixels: () => Array.from(gridOutput),
      // A conditional decoder decodes with `c`, or the chosen condition when none is given.
      decode: async (codes: number[], c?: number) =>
        Array.from(await decoder.decode(codes, withCond(c))),
      // Codes from the prior (of condition `c`, or the chosen one) for standard normal draws.
      priorCodes: async (eps: number[], c?: number, temperature = 1) =>
        Array.from(await decoder.priorCodes(eps, withCond(c), temperature)),
    },
  });
  $<HTMLElement>("demo").hidden = false;
  await Promise.all([render(), renderGrid()]);
  if (broken) return;
  const what = g.kind === "image"
    ? `${g.height}x${g.width} images`
    : `streamlines of ${g.points} points`;
  setState(
    "decoded",
    `${spec.family} decoder, ${Z} latent dimensions, ${what}, decoded on WebGPU ` +
      `(${decoder.gpu.adapterName}). Move the ${Z === 2 ? "point on the pad" : "sliders"} ` +
      "to explore the latent space" +
      (condition?.kind === "label"
        ? `; pick one of the ${condition.classes} classes to decode it as.`
        : condition?.kind === "length"
        ? "; pick the length to decode at."
        : ".") +
      (spec.model.prior ? " Prior samples come from the learned prior of the condition." : ""),
  );
}

main();
