/// <reference lib="dom" />
/**
 * How the exported page draws a decoder's outputs: images as pixels, streamlines as lines in
 * two projections (x-y and x-z, side by side), in millimetres after undoing the training
 * normalization. Pure drawing: no GPU, no decoder state.
 *
 * Legend: B outputs, H x W x C an image (HWC), P points x 3 a streamline.
 */

import type { ImageGeometry, SequenceGeometry } from "../vae/spec.ts";

/** Side in CSS pixels of one streamline projection panel. */
export const PANEL = 240;

/** Draw image `index` of `pixels` ([B, H, W, C] means in [0, 1]) at (x, y) in `ctx`. */
export function drawImage(
  ctx: CanvasRenderingContext2D,
  g: ImageGeometry,
  pixels: Float32Array,
  index: number,
  x: number,
  y: number,
): void {
  const { height: H, width: W, channels: C } = g;
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

/** Streamline `index` of `values` ([B, P, 3] normalized) in millimetres: value / scale + center. */
export function streamlineMm(
  g: SequenceGeometry,
  values: Float32Array,
  index: number,
): Float32Array {
  const F = g.points * g.pointSize, { center, scale } = g.normalization;
  const out = new Float32Array(g.points * 3);
  for (let p = 0; p < g.points; p++) {
    for (let c = 0; c < 3; c++) {
      out[3 * p + c] = values[index * F + p * g.pointSize + c] / scale + center[c];
    }
  }
  return out;
}

/** Arc length in mm of a streamline [P, 3] in mm. */
export function arcLengthMm(s: Float32Array): number {
  let sum = 0;
  for (let i = 3; i < s.length; i += 3) {
    sum += Math.hypot(s[i] - s[i - 3], s[i + 1] - s[i - 2], s[i + 2] - s[i - 1]);
  }
  return sum;
}

/**
 * Draw streamlines `indices` of `values` in two panels of `ctx` (x-y left, x-z right), each
 * panel spanning the training data's typical extent: +-3 RMS radii around its centre.
 */
export function drawStreamlines(
  ctx: CanvasRenderingContext2D,
  g: SequenceGeometry,
  values: Float32Array,
  indices: number[],
  color: string,
): void {
  const { center, scale } = g.normalization;
  const half = 3 / scale; // mm from the centre to a panel's edge
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  const axes: [number, number, string][] = [[0, 1, "x-y"], [0, 2, "x-z"]];
  axes.forEach(([a, b, label], panel) => {
    const x0 = panel * (PANEL + 8);
    ctx.strokeStyle = "#8886";
    ctx.strokeRect(x0 + 0.5, 0.5, PANEL - 1, PANEL - 1);
    ctx.fillStyle = "#888";
    ctx.fillText(label, x0 + 6, 14);
    const px = (v: number, c: number) => ((v - center[c]) / half + 1) * (PANEL / 2);
    ctx.strokeStyle = color;
    ctx.lineWidth = indices.length > 1 ? 1 : 2;
    for (const i of indices) {
      const s = streamlineMm(g, values, i);
      ctx.beginPath();
      for (let p = 0; p < g.points; p++) {
        const x = x0 + px(s[3 * p + a], a), y = PANEL - px(s[3 * p + b], b);
        if (p === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
  });
}
