/// <reference lib="dom" />
/**
 * The training page's script (bundled to app.js by `deno task web`): trains an mlp or conv
 * VAE on this page's WebGPU device with the CLI's settings, on the embedded Fashion-MNIST
 * subset (data/*.idx3.gz next to the page) or on images the user drops in (PNGs, or IDX
 * files), and draws as it goes: the loss curve, images per second, the KL per latent dimension
 * of held-out images, their reconstructions and samples from the prior. Pause stops submitting
 * steps; resume goes on from the same step. The download is a zipped run folder
 * (config.json, model.safetensors, optimizer.safetensors, metrics.jsonl) that `deno task
 * sample`, `eval`, `export` and `train --resume` take.
 *
 * Steps are submitted in chunks and the metrics are read once per chunk, a chunk sized to last
 * about {@linkcode CHUNK_MS}: at most a few reads a second, whatever the device's speed.
 *
 * For tests and benchmarks, `globalThis.vaeTrain` exposes the session, the epoch records, the
 * curve's points, the throughput and the page's actions; `document.body.dataset.state` goes
 * loading -> ready -> training <-> paused -> done (or no-webgpu, error), `dataset.step` counts
 * optimizer steps read back, `dataset.epoch` finished epochs and `dataset.refreshes` redraws of
 * the pictures.
 */

import { type Gpu, GpuUnavailableError, requestGpu } from "../../gpu/device.ts";
import { holdOut, loadPngs, type PageImages } from "./images.ts";
import { encodeU8Idx, parseU8Idx, type RunFiles, runFiles, zipRun } from "./run_files.ts";
import { type PageLosses, TrainSession } from "./session.ts";
import { PAGE_DEFAULTS, type PageSettings, runConfig, SettingsError } from "./settings.ts";
import { modelSpec } from "../../vae/spec.ts";
import { baseUrl, folderLoader } from "../shader_loader.ts";

/** A chunk of steps lasts about this long, then the metrics are read once. */
const CHUNK_MS = 250;
/**
 * Pictures (reconstructions, samples, KL per dimension) are redrawn at most this often while
 * an epoch runs (and at its end), and never taking more than a fifth of the time.
 */
const REFRESH_MS = 3000;
/** Held-out images the KL per dimension is measured on. */
const KL_IMAGES = 500;
const SAMPLE_SEED = 7;
const COLS = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusLine = $<HTMLParagraphElement>("status");

function setState(state: string, message: string): void {
  document.body.dataset.state = state;
  statusLine.textContent = message;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** One point of the loss curve: the mean losses of the steps since the previous point. */
export interface CurvePoint {
  /** Optimizer steps done. */
  step: number;
  /** Mean losses over the chunk's images. */
  losses: PageLosses;
}

/** An epoch's line of metrics.jsonl (the Deno Trainer's EpochRecord). */
interface EpochLine {
  epoch: number;
  step: number;
  train: PageLosses;
  test: PageLosses & { elbo: number };
  beta: number;
  betaMean: number;
  seconds: number;
  imagesPerSecond: number;
}

// ---- settings form: one input per flag, ids "s-FLAG" ----

const LISTS = [
  "hidden",
  "filters",
  "kernels",
  "strides",
  "decoder-filters",
  "decoder-kernels",
  "decoder-strides",
] as const;
const NUMBERS = ["z", "beta", "free-bits", "lr", "epochs", "batch", "seed"] as const;

function fillForm(s: PageSettings): void {
  $<HTMLSelectElement>("s-model").value = s.model;
  $<HTMLSelectElement>("s-batchnorm").value = s.batchnorm;
  for (const k of LISTS) $<HTMLInputElement>(`s-${k}`).value = s[k].join(",");
  for (const k of NUMBERS) $<HTMLInputElement>(`s-${k}`).value = String(s[k]);
  $<HTMLInputElement>("s-kl-schedule").value = s["kl-schedule"];
  $<HTMLInputElement>("s-logvar-clamp").value = s["logvar-clamp"].join(",");
  document.body.dataset.model = s.model;
}

function readForm(): PageSettings {
  const ints = (k: string) => {
    const text = $<HTMLInputElement>(`s-${k}`).value.trim();
    const v = text.split(",").map((t) => Number(t.trim()));
    if (!text || v.some((x) => !Number.isFinite(x))) {
      throw new SettingsError(`${k}: "${text}" is not a comma-separated list of numbers`);
    }
    return v;
  };
  const num = (k: string) => {
    const text = $<HTMLInputElement>(`s-${k}`).value.trim();
    const v = Number(text);
    if (!text || !Number.isFinite(v)) throw new SettingsError(`${k}: "${text}" is not a number`);
    return v;
  };
  const clamp = ints("logvar-clamp");
  if (clamp.length !== 2) throw new SettingsError(`logvar-clamp: give LO,HI`);
  return {
    model: $<HTMLSelectElement>("s-model").value === "conv" ? "conv" : "mlp",
    hidden: ints("hidden"),
    filters: ints("filters"),
    kernels: ints("kernels"),
    strides: ints("strides"),
    "decoder-filters": ints("decoder-filters"),
    "decoder-kernels": ints("decoder-kernels"),
    "decoder-strides": ints("decoder-strides"),
    batchnorm: $<HTMLSelectElement>("s-batchnorm").value === "off" ? "off" : "on",
    z: num("z"),
    epochs: num("epochs"),
    batch: num("batch"),
    lr: num("lr"),
    beta: num("beta"),
    "kl-schedule": $<HTMLInputElement>("s-kl-schedule").value.trim(),
    "free-bits": num("free-bits"),
    "logvar-clamp": [clamp[0], clamp[1]],
    seed: num("seed"),
  };
}

// ---- data ----

/** The embedded subset: the same IDX files the CLI's `embedded` dataset reads. */
async function embeddedData(): Promise<PageImages> {
  const get = async (name: string) => {
    const res = await fetch(`data/${name}`);
    if (!res.ok) throw new Error(`data/${name}: cannot load it (HTTP ${res.status})`);
    return parseU8Idx(new Uint8Array(await res.arrayBuffer()), name);
  };
  const [train, test] = await Promise.all([
    get("fashion-mnist-train-images.idx3.gz"),
    get("fashion-mnist-test-images.idx3.gz"),
  ]);
  return {
    data: {
      name: "embedded",
      rows: train.dims[1],
      cols: train.dims[2],
      train: { images: train.data, labels: null, count: train.dims[0] },
      test: { images: test.data, labels: null, count: test.dims[0] },
    },
    dataset: "embedded",
  };
}

/** Dropped files: PNG images (one per file), or one u8 IDX image file. */
async function droppedData(files: File[]): Promise<PageImages> {
  const idx = files.filter((f) => /\.(idx\d?|gz|ubyte)$/i.test(f.name) || /idx/i.test(f.name));
  const pngs = files.filter((f) => /\.png$/i.test(f.name));
  if (idx.length > 0) {
    // Several IDX files: take the images (3 dimensions); labels are not used.
    for (const f of idx) {
      const arr = parseU8Idx(new Uint8Array(await f.arrayBuffer()), f.name);
      if (arr.dims.length !== 3) continue;
      const [n, rows, cols] = arr.dims;
      return holdOut(f.name, rows, cols, arr.data, n);
    }
    throw new Error(`${idx.map((f) => f.name).join(", ")}: no N x H x W u8 image file among them`);
  }
  if (pngs.length > 0) return await loadPngs(pngs);
  throw new Error(`${files[0]?.name ?? "nothing"}: drop PNG images or an IDX image file`);
}

/** Every file below the dropped items, folders walked (a dropped folder of PNGs). */
async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      files.push(
        await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail)),
      );
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries gives a batch per call, an empty one at the end.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) =>
          reader.readEntries(ok, fail)
        );
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e) => e !== null);
  for (const e of entries) await walk(e);
  return files;
}

// ---- drawing ----

function drawGrid(
  canvas: HTMLCanvasElement,
  rows: number,
  cols: number,
  images: Float32Array[],
): void {
  const n = images.reduce((a, x) => a + x.length / (rows * cols), 0);
  const gridRows = Math.ceil(n / COLS);
  canvas.width = COLS * cols;
  canvas.height = gridRows * rows;
  canvas.style.width = `${COLS * cols * 3}px`;
  canvas.style.height = `${gridRows * rows * 3}px`;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(cols, rows);
  let k = 0;
  for (const set of images) {
    for (let i = 0; i < set.length / (rows * cols); i++, k++) {
      for (let p = 0; p < rows * cols; p++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, set[i * rows * cols + p])));
        img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = v;
        img.data[4 * p + 3] = 255;
      }
      ctx.putImageData(img, (k % COLS) * cols, Math.floor(k / COLS) * rows);
    }
  }
}

function axes(ctx: CanvasRenderingContext2D, w: number, h: number, pad: number): void {
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#888";
  ctx.beginPath();
  ctx.moveTo(pad, 8);
  ctx.lineTo(pad, h - pad);
  ctx.lineTo(w - 8, h - pad);
  ctx.stroke();
  ctx.fillStyle = "#888";
  ctx.font = "11px system-ui, sans-serif";
}

function drawCurve(canvas: HTMLCanvasElement, points: CurvePoint[], tests: EpochLine[]): void {
  const ctx = canvas.getContext("2d")!, w = canvas.width, h = canvas.height, pad = 36;
  axes(ctx, w, h, pad);
  if (points.length === 0) return;
  const maxStep = Math.max(points.at(-1)!.step, 1);
  const values = points.map((p) => p.losses.total).concat(tests.map((t) => t.test.total));
  // The first chunks' losses are far above the rest: scale to the later 95%.
  const sorted = values.slice().sort((a, b) => a - b);
  const lo = sorted[0], hi = sorted[Math.floor(0.95 * (sorted.length - 1))] * 1.05;
  const x = (s: number) => pad + (w - pad - 8) * (s / maxStep);
  const y = (v: number) => h - pad - (h - pad - 8) * ((Math.min(v, hi) - lo) / (hi - lo || 1));
  ctx.fillText(hi.toFixed(1), 2, 14);
  ctx.fillText(lo.toFixed(1), 2, h - pad);
  ctx.fillText(`step ${maxStep}`, w - 70, h - pad + 14);
  ctx.fillText("train (line), held-out per epoch (dots)", pad + 4, h - 6);
  ctx.strokeStyle = "#1f77b4";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(p.step), y(p.losses.total)));
  ctx.stroke();
  ctx.fillStyle = "#d62728";
  for (const t of tests) {
    ctx.beginPath();
    ctx.arc(x(t.step), y(t.test.total), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawKl(canvas: HTMLCanvasElement, kl: number[]): void {
  const ctx = canvas.getContext("2d")!, w = canvas.width, h = canvas.height, pad = 36;
  axes(ctx, w, h, pad);
  if (kl.length === 0) return;
  const hi = Math.max(...kl, 1e-6);
  const bw = (w - pad - 8) / kl.length;
  ctx.fillText(hi.toFixed(2), 2, 14);
  ctx.fillText("0", 2, h - pad);
  ctx.fillText(
    `dimension (KL above 0.01 nats in ${kl.filter((v) => v > 0.01).length} of ${kl.length})`,
    pad + 4,
    h - 6,
  );
  ctx.fillStyle = "#2ca02c";
  kl.forEach((v, j) => {
    const bh = (h - pad - 8) * (v / hi);
    ctx.fillRect(pad + j * bw + 1, h - pad - bh, Math.max(1, bw - 2), bh);
  });
}

// ---- the page ----

async function main(): Promise<void> {
  if (!("gpu" in navigator)) {
    setState(
      "no-webgpu",
      "This page trains with WebGPU, and this browser does not have it (or has it switched " +
        "off). Open it in a browser with WebGPU, such as a recent Chrome, Edge or Safari.",
    );
    return;
  }
  let gpu: Gpu;
  try {
    gpu = await requestGpu({ loadShader: folderLoader(new URL("shaders/", baseUrl())) });
  } catch (e) {
    setState(e instanceof GpuUnavailableError ? "no-webgpu" : "error", errorText(e));
    return;
  }
  fillForm(PAGE_DEFAULTS);
  $<HTMLSelectElement>("s-model").addEventListener("change", (e) => {
    document.body.dataset.model = (e.target as HTMLSelectElement).value;
  });

  let images: PageImages | null = null;
  let session: TrainSession | null = null;
  let running = false, loop: Promise<void> | null = null;
  let points: CurvePoint[] = [], records: EpochLine[] = [], kl: number[] = [];
  let imagesPerSecond = 0, trainSeconds = 0, trainImages = 0, refreshes = 0;
  let epochSeconds = 0, klSum = 0, klSteps = 0;
  let lastLosses: PageLosses | null = null;
  /** Milliseconds the last redraw took: redraws wait at least 4 times that (slow models). */
  let refreshCost = 0;
  const runName = `page-${
    new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  }`;
  const start = $<HTMLButtonElement>("start"), pause = $<HTMLButtonElement>("pause");
  const download = $<HTMLButtonElement>("download"), stats = $<HTMLParagraphElement>("stats");

  const describe = () =>
    `${images!.data.name}: ${images!.data.train.count} training and ` +
    `${images!.data.test.count} held-out images of ${images!.data.rows}x${images!.data.cols}`;
  async function useData(load: () => Promise<PageImages>): Promise<void> {
    if (running) return;
    setState("loading", "Loading the images…");
    try {
      images = await load();
      $("dataname").textContent = describe();
      setState("ready", `Ready on ${gpu.adapterName}: ${describe()}. Press Start.`);
      start.disabled = false;
    } catch (e) {
      setState("error", `Those images cannot be used: ${errorText(e)}`);
    }
  }

  async function refresh(): Promise<void> {
    const s = session!, t0 = performance.now();
    const { rows, cols } = s.data;
    const r = await s.reconstructions(COLS);
    drawGrid($("recon"), rows, cols, [r.originals, r.means]);
    drawGrid($("samples"), rows, cols, [await s.samples(4 * COLS, SAMPLE_SEED)]);
    kl = await s.klPerDim(KL_IMAGES);
    drawKl($("kl"), kl);
    document.body.dataset.refreshes = String(++refreshes);
    refreshCost = performance.now() - t0;
  }

  function showStats(s: TrainSession, given: PageLosses | null): void {
    if (given) lastLosses = given;
    const l = lastLosses;
    const loss = l
      ? `loss ${l.total.toFixed(2)} = recon ${l.recon.toFixed(2)} + KL ${l.kl.toFixed(2)}` +
        (s.schedule.kind === "constant"
          ? ""
          : ` (KL weight ${s.klWeightAt(s.step - 1).toFixed(3)})`)
      : "";
    stats.textContent = `epoch ${Math.min(s.epoch + 1, s.settings.epochs)}/${s.settings.epochs}, ` +
      `step ${
        s.done ? s.stepsPerEpoch : s.stepInEpoch
      }/${s.stepsPerEpoch} (${s.step} in all)  ${loss}  ` +
      `${imagesPerSecond.toFixed(0)} images/s`;
    document.body.dataset.step = String(s.step);
    document.body.dataset.epoch = String(s.epoch);
  }

  /** Train until paused or done: chunks of steps, one read of the metrics per chunk. */
  async function trainLoop(): Promise<void> {
    const s = session!;
    let chunk = 1, lastRefresh = performance.now();
    let prev = { seen: s.stepInEpoch * s.batch, recon: 0, kl: 0 };
    if (s.stepInEpoch > 0) {
      const l = await s.progress();
      prev = { seen: Math.min(prev.seen, s.data.train.count), recon: l.recon, kl: l.kl };
    }
    while (running && !s.done) {
      const t0 = performance.now();
      const step0 = s.step;
      const n = s.run(chunk);
      for (let i = 0; i < n; i++) klSum += s.klWeightAt(step0 + i);
      klSteps += n;
      if (n > 0) {
        const l = await s.progress();
        const dt = (performance.now() - t0) / 1000;
        const seen = Math.min(s.stepInEpoch * s.batch, s.data.train.count);
        trainSeconds += dt;
        epochSeconds += dt;
        trainImages += seen - prev.seen;
        imagesPerSecond = trainImages / trainSeconds;
        // The chunk's own mean: the epoch's running sums differenced.
        const k = seen - prev.seen;
        const recon = (l.recon * seen - prev.recon * prev.seen) / k;
        const klv = (l.kl * seen - prev.kl * prev.seen) / k;
        points.push({
          step: s.step,
          losses: { recon, kl: klv, total: recon + s.klWeightAt(s.step - 1) * klv },
        });
        prev = { seen, recon: l.recon, kl: l.kl };
        chunk = Math.max(1, Math.min(4 * chunk, Math.round(chunk * (CHUNK_MS / 1000) / dt)));
        showStats(s, l);
        drawCurve($("curve"), points, records);
      }
      if (s.epochComplete) {
        await endEpoch(s);
        prev = { seen: 0, recon: 0, kl: 0 };
        drawCurve($("curve"), points, records);
        await refresh();
        lastRefresh = performance.now();
      } else if (performance.now() - lastRefresh > Math.max(REFRESH_MS, 4 * refreshCost)) {
        await refresh();
        lastRefresh = performance.now();
      }
      showStats(s, null);
      // Let the page draw and take clicks between chunks.
      await new Promise((r) => setTimeout(r, 0));
    }
    if (s.done) {
      running = false;
      pause.disabled = true;
      start.disabled = false;
      setState("done", `Done: ${s.settings.epochs} epochs, ${s.step} steps. Download the run.`);
    }
  }

  /** A new session from the form's settings and the chosen images; false when it failed. */
  async function prepare(): Promise<boolean> {
    if (running || !images) return false;
    let settings: PageSettings;
    try {
      settings = readForm();
    } catch (e) {
      setState("error", errorText(e));
      return false;
    }
    start.disabled = true;
    setState("loading", "Building the model (compiling its shaders)…");
    try {
      session?.destroy();
      session = null;
      session = await TrainSession.create(gpu, settings, images.data);
    } catch (e) {
      setState("error", `Cannot train with these settings: ${errorText(e)}`);
      start.disabled = false;
      return false;
    }
    points = [];
    records = [];
    lastLosses = null;
    document.body.dataset.step = document.body.dataset.epoch = "0";
    trainSeconds = trainImages = imagesPerSecond = 0;
    epochSeconds = klSum = klSteps = 0;
    pause.disabled = download.disabled = false;
    pause.textContent = "Resume";
    setState("paused", `Ready to train ${session.model.kind}: press Resume.`);
    return true;
  }

  async function startTraining(): Promise<void> {
    if (await prepare()) await resume();
  }

  /** The epoch's record, when its steps are all done (the test pass runs here). */
  async function endEpoch(s: TrainSession): Promise<void> {
    const steps = s.stepsPerEpoch, secs = epochSeconds;
    const { train, test } = await s.finishEpoch();
    records.push({
      epoch: s.epoch,
      step: s.step,
      train,
      test,
      beta: s.klWeightAt(s.step - 1),
      betaMean: klSum / Math.max(1, klSteps),
      seconds: secs,
      imagesPerSecond: (steps * s.batch) / Math.max(secs, 1e-9),
    });
    epochSeconds = klSum = klSteps = 0;
  }

  /**
   * One step, then a read of the metrics (tests: the page's loop reads once per chunk): the
   * epoch's mean losses after the step, as the Deno Trainer reports them with readEvery 1.
   */
  async function stepAndRead(): Promise<PageLosses> {
    const s = session!;
    if (running) throw new Error("stepAndRead: pause first");
    if (s.run(1) !== 1) throw new Error("stepAndRead: the run is over");
    klSum += s.klWeightAt(s.step - 1);
    klSteps++;
    const l = await s.progress();
    if (s.epochComplete) await endEpoch(s);
    showStats(s, l);
    return l;
  }

  async function resume(): Promise<void> {
    if (!session || running) return;
    running = true;
    pause.disabled = false;
    pause.textContent = "Pause";
    download.disabled = false;
    setState("training", `Training ${session.model.kind} on ${gpu.adapterName}: ${describe()}`);
    loop = trainLoop().catch((e) => {
      running = false;
      setState("error", `Training stopped: ${errorText(e)}`);
    });
    await loop;
  }

  async function stop(): Promise<void> {
    if (!running) return;
    running = false;
    await loop;
    pause.textContent = "Resume";
    start.disabled = false;
    setState("paused", `Paused at step ${session!.step}. Resume, download, or start over.`);
  }

  async function runZip(): Promise<{ name: string; zip: Uint8Array; files: RunFiles }> {
    const s = session!;
    const wasRunning = running;
    if (wasRunning) await stop();
    const c = await s.checkpoint();
    const data = s.data, dataset = images!.dataset;
    const extra: RunFiles = {};
    let spec = dataset;
    if (dataset !== "embedded") {
      // Brought images travel with the run as one IDX file: train rows, then the held-out.
      const all = new Uint8Array(data.train.images.length + data.test.images.length);
      all.set(data.train.images);
      all.set(data.test.images, data.train.images.length);
      extra["images.idx"] = encodeU8Idx(
        [data.train.count + data.test.count, data.rows, data.cols],
        all,
      );
      spec = `idx:runs/${runName}/images.idx`;
    }
    const config = runConfig(s.settings, spec, `runs/${runName}`);
    const ms = modelSpec(s.settings.model, s.model, {
      rows: data.rows,
      cols: data.cols,
      features: data.rows * data.cols,
    });
    const files = runFiles(s.state.layout, c, config, ms, records, extra);
    if (wasRunning) void resume();
    return { name: runName, zip: zipRun(runName, files), files };
  }

  async function downloadRun(): Promise<void> {
    try {
      const { name, zip } = await runZip();
      const url = URL.createObjectURL(new Blob([new Uint8Array(zip)], { type: "application/zip" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${name}.zip`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setState("error", `The download failed: ${errorText(e)}`);
    }
  }

  start.addEventListener("click", () => void startTraining());
  pause.addEventListener("click", () => void (running ? stop() : resume()));
  download.addEventListener("click", () => void downloadRun());
  $("embedded").addEventListener("click", () => void useData(embeddedData));
  for (const id of ["files", "folder"]) {
    $<HTMLInputElement>(id).addEventListener("change", (e) => {
      const list = [...((e.target as HTMLInputElement).files ?? [])];
      if (list.length) void useData(() => droppedData(list));
    });
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const items = e.dataTransfer?.items;
    if (items?.length) void useData(async () => droppedData(await droppedFiles(items)));
  });

  (globalThis as unknown as { vaeTrain: unknown }).vaeTrain = {
    get session() {
      return session;
    },
    get records() {
      return records;
    },
    get points() {
      return points;
    },
    /** The images in use (their split and bytes). */
    get images() {
      return images?.data ?? null;
    },
    get imagesPerSecond() {
      return imagesPerSecond;
    },
    /** Images trained and seconds spent in training chunks (submits and their reads). */
    get trained() {
      return { images: trainImages, seconds: trainSeconds };
    },
    get kl() {
      return kl;
    },
    gpu,
    readForm,
    fillForm,
    start: startTraining,
    prepare,
    stepAndRead,
    status: () => statusLine.textContent,
    pause: stop,
    resume,
    runZip,
    refresh,
    useData: (files: File[]) => useData(() => droppedData(files)),
  };
  await useData(embeddedData);
}

main().catch((e) => setState("error", `The page could not start: ${errorText(e)}`));
