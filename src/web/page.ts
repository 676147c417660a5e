/// <reference lib="dom" />
/**
 * The exported page's script (bundled to app.js by `deno task export`): loads
 * decoder.safetensors and shaders/*.wgsl from next to the page, then decodes on WebGPU as the
 * user moves a slider per latent dimension (a draggable pad when Z = 2), and shows a grid of
 * samples from the prior. For a label-conditioned decoder a class selector picks the class that
 * both the main image and the grid are decoded with. Prior samples come from
 * `Decoder.priorCodes`: N(0, I), or p(z | class) for a run with a learned prior, whose grid is
 * redrawn from the same standard normal draws when the class changes. Where WebGPU is missing
 * it says so on the page.
 *
 * For tests and curious readers, `globalThis.vaeDemo` exposes the current code and class, the
 * pixels last drawn (main image and grid), the grid's codes and the standard normal draws they
 * came from (`gridEps`), a decode function and the decoder's priorCodes;
 * `document.body.dataset.state` goes loading -> decoded (or no-webgpu, error),
 * `dataset.decodes` counts the main image's decodes and `dataset.grids` the grid's.
 */

import { GpuUnavailableError } from "../gpu/device.ts";
import { Decoder } from "./decoder.ts";
import { mulberry32, standardNormal } from "../train/random.ts";

/** Half-width of the latent range the controls cover: the prior N(0, 1) lies mostly inside. */
const RANGE = 3;
/** The sample grid is GRID x GRID images. */
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

/** Draw image `index` of `pixels` ([B, H, W, C] means in [0, 1]) at (x, y) in `ctx`. */
function draw(
  ctx: CanvasRenderingContext2D,
  decoder: Decoder,
  pixels: Float32Array,
  index: number,
  x: number,
  y: number,
): void {
  const { height: H, width: W, channels: C } = decoder.spec;
  const img = ctx.createImageData(W, H);
  const base = index * H * W * C;
  for (let p = 0; p < H * W; p++) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[base + p * C + (C === 3 ? c : 0)];
      img.data[4 * p + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, x, y);
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
  const { z: Z, height: H, width: W, condition } = decoder.spec;
  const z = new Array<number>(Z).fill(0);
  /** The controls' range per dimension: [-RANGE, RANGE], or a learned prior's (below). */
  const lo = new Array<number>(Z).fill(-RANGE), hi = new Array<number>(Z).fill(RANGE);
  /** Keep a code inside the controls' range. */
  const clip = (v: number, j: number) => Math.min(hi[j], Math.max(lo[j], v));
  /** The grid's standard normal draws; its codes are priorCodes of them for the class. */
  let gridEps = normals(GRID * GRID * Z);
  let gridCodes: number[] = [];
  let gridAsked = 0;
  let lastPixels: Float32Array = new Float32Array(0);
  let gridPixels: Float32Array = new Float32Array(0);
  let decodes = 0, grids = 0;
  /** The selected class of a conditional decoder (undefined: unconditional). */
  let cls: number | undefined = condition ? 0 : undefined;
  const className = () => (condition && cls !== undefined ? condition.names[cls] : "");
  // A learned prior: the controls cover mp(k) +- RANGE sigma_p(k) over the classes k (a prior
  // mean may lie far from 0), and start at the mean of class 0's prior (temperature 0).
  if (decoder.spec.prior && condition) {
    try {
      // One batch: codes K (eps = +RANGE) for classes 0..K-1, then K (eps = -RANGE).
      const K = condition.classes, classes = Array.from({ length: 2 * K }, (_, i) => i % K);
      const eps = Array.from({ length: 2 * K * Z }, (_, i) => (i < K * Z ? RANGE : -RANGE));
      const ends = await decoder.priorCodes(eps, classes);
      lo.fill(Infinity);
      hi.fill(-Infinity);
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < Z; j++) {
          hi[j] = Math.max(hi[j], ends[k * Z + j]);
          lo[j] = Math.min(lo[j], ends[(K + k) * Z + j]);
        }
      }
      z.splice(0, Z, ...Array.from(await decoder.priorCodes(z, cls, 0), clip));
    } catch (e) {
      setState("error", `The prior could not run: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }

  const image = $<HTMLCanvasElement>("image");
  image.width = W;
  image.height = H;
  const imageCtx = image.getContext("2d")!;
  const grid = $<HTMLCanvasElement>("grid");
  grid.width = GRID * W;
  grid.height = GRID * H;
  const gridCtx = grid.getContext("2d")!;
  const zValue = $<HTMLElement>("zvalue");

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
        const code = z.slice(), k = cls;
        const pixels = await decoder.decode(code, k);
        draw(imageCtx, decoder, pixels, 0, 0, 0);
        lastPixels = pixels;
        const shown = `z = [${code.map((v) => v.toFixed(2)).join(", ")}]`;
        zValue.textContent = condition ? `${shown}, class ${condition.names[k!]}` : shown;
        document.body.dataset.decodes = String(++decodes);
      }
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
    }
  }

  // Codes from p(z | class) for the grid's draws, then their pixels; only the newest request
  // draws (an older one still in flight when the class or the draws change is dropped).
  async function renderGrid(): Promise<void> {
    const asked = ++gridAsked, k = cls;
    try {
      const codes = Array.from(await decoder.priorCodes(gridEps, k));
      const pixels = await decoder.decode(codes, k);
      if (asked !== gridAsked) return;
      gridCodes = codes;
      for (let i = 0; i < GRID * GRID; i++) {
        draw(gridCtx, decoder, pixels, i, (i % GRID) * W, Math.floor(i / GRID) * H);
      }
      gridPixels = pixels;
      if (condition) $<HTMLElement>("gridclass").textContent = ` of class ${className()}`;
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

  // A label-conditioned decoder: one option per class; a change re-decodes image and grid.
  if (condition) {
    const select = $<HTMLSelectElement>("class");
    condition.names.forEach((name, k) => select.add(new Option(`${k}: ${name}`, String(k))));
    select.value = String(cls);
    select.addEventListener("change", () => {
      cls = Number(select.value);
      render();
      renderGrid();
    });
    $<HTMLElement>("classbox").hidden = false;
  }

  $<HTMLButtonElement>("prior").addEventListener("click", async () => {
    const eps = normals(Z);
    gridEps = normals(GRID * GRID * Z);
    renderGrid();
    try {
      const code = await decoder.priorCodes(eps, cls);
      z.splice(0, Z, ...Array.from(code, clip));
    } catch (e) {
      fail(e);
      return;
    }
    showControls();
    render();
  });
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

  Object.assign(globalThis, {
    vaeDemo: {
      spec: decoder.spec,
      z: () => z.slice(),
      // The controls' range per dimension.
      bounds: () => ({ lo: lo.slice(), hi: hi.slice() }),
      cls: () => cls,
      pixels: () => Array.from(lastPixels),
      gridCodes: () => gridCodes.slice(),
      gridEps: () => gridEps.slice(),
      gridPixels: () => Array.from(gridPixels),
      // A conditional decoder decodes with `k`, or the selected class when none is given.
      decode: async (codes: number[], k?: number) =>
        Array.from(await decoder.decode(codes, condition ? k ?? cls : undefined)),
      // Codes from the prior (of class `k`, or the selected one) for standard normal draws.
      priorCodes: async (eps: number[], k?: number, temperature = 1) =>
        Array.from(await decoder.priorCodes(eps, condition ? k ?? cls : undefined, temperature)),
    },
  });
  $<HTMLElement>("demo").hidden = false;
  await Promise.all([render(), renderGrid()]);
  if (broken) return;
  const model = decoder.spec.model.toUpperCase();
  setState(
    "decoded",
    `${model} decoder, ${Z} latent dimensions, ${H}x${W} images, decoded on WebGPU ` +
      `(${decoder.gpu.adapterName}). Move the ${Z === 2 ? "point on the pad" : "sliders"} ` +
      "to explore the latent space" +
      (condition ? `; pick one of the ${condition.classes} classes to decode it as.` : ".") +
      (decoder.spec.prior ? " Prior samples come from the learned prior of the class." : ""),
  );
}

main();
