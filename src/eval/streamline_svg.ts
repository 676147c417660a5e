/**
 * Streamlines (3-D polylines in millimetres, e.g. white-matter tracts) drawn as SVG: two
 * orthographic views side by side, axial (x to the right, y up; seen from above) and sagittal
 * (y to the right, z up; seen from the side), at one mm-to-pixel scale in both views with
 * equal aspect, a scale bar in mm and a legend. Used for reconstructed versus original
 * bundles and for streamlines decoded along a line in latent space.
 *
 * Layout (documented because the tests recompute it by hand): each view is a frame of
 * pw x ph pixels; every point of every group counts towards one bounding box with extents
 * (Ex, Ey, Ez) mm and centre (cx, cy, cz); the scale is
 * s = min(pw / max(Ex, Ey), ph / max(Ey, Ez)) / 1.1 pixels per mm (a 5% margin each side),
 * and the box centre maps to each frame's centre. The legend's margin is 170 pixels; when the
 * longest legend text needs more (7.5 px a character), the figure is that much wider. Extents under 1e-3 of the largest one are
 * raised to it; with all points identical the box is 2 mm wide.
 *
 * Dimensions: P points of a streamline, stored xyz-interleaved as P * 3 floats.
 */

import { esc, heatColor } from "./svg.ts";

/** Streamlines drawn in one colour, listed once in the legend. */
export interface StreamlineGroup {
  /** Legend text. */
  label: string;
  /** CSS colour. */
  color: string;
  /** Each streamline's points, xyz in mm: [P * 3]. */
  streamlines: Float32Array[];
  /** Dashed strokes (e.g. reconstructions drawn over originals). */
  dashed?: boolean;
}

/** Options of {@linkcode streamlinesSvg} and {@linkcode interpolationSvg}. */
export interface StreamlineSvgOptions {
  /** Title above the views. */
  title?: string;
  /** Width of the SVG in pixels (default 800). */
  width?: number;
  /** Height of the SVG in pixels (default 400; grows when the legend needs more). */
  height?: number;
}

/** A view: its name and which two coordinates (0 x, 1 y, 2 z) go right and up. */
const VIEWS = [
  { name: "axial", right: 0, up: 1, caption: "axial (x right, y up)" },
  { name: "sagittal", right: 1, up: 2, caption: "sagittal (y right, z up)" },
] as const;

const MARGIN = { left: 10, gap: 20, right: 170, top: 46, bottom: 50 };

/** The largest of 1, 2 or 5 times a power of ten that is at most `v` (v > 0). */
function niceBelow(v: number): number {
  const mag = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((m) => m * mag).find((s) => s <= v * (1 + 1e-9)) ?? mag;
}

/** Bounding box over every finite point: low corner and extents per axis, mm. */
function bounds(groups: StreamlineGroup[]): { lo: number[]; hi: number[] } {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const g of groups) {
    for (const s of g.streamlines) {
      for (let i = 0; i + 2 < s.length; i += 3) {
        if (!(isFinite(s[i]) && isFinite(s[i + 1]) && isFinite(s[i + 2]))) continue;
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], s[i + a]);
          hi[a] = Math.max(hi[a], s[i + a]);
        }
      }
    }
  }
  if (!(hi[0] >= lo[0])) return { lo: [-1, -1, -1], hi: [1, 1, 1] };
  return { lo, hi };
}

function checkGroups(groups: StreamlineGroup[]): void {
  for (const g of groups) {
    g.streamlines.forEach((s, k) => {
      if (s.length % 3 !== 0) {
        throw new Error(
          `streamlines: "${g.label}" streamline ${k} has ${s.length} values, not a multiple of 3`,
        );
      }
    });
  }
}

/** Legend entries: a stroke sample and text, or a colour ramp from first to last. */
type Legend =
  | { kind: "groups" }
  | { kind: "ramp"; count: number };

/** Widest 12 px sans-serif character, in pixels (a "W"; most are far narrower). */
const CHAR_PX = 7.5;

/**
 * The right margin that holds the legend: MARGIN.right, or wider when a group's legend text
 * ("label (count)") would not fit, so long bundle names ("sub_1/CC_ForcepsMajor") show whole.
 */
function legendWidth(groups: StreamlineGroup[], legend: Legend): number {
  if (legend.kind !== "groups") return MARGIN.right;
  const chars = Math.max(0, ...groups.map((g) => `${g.label} (${g.streamlines.length})`.length));
  return Math.max(MARGIN.right, Math.ceil(12 + 26 + CHAR_PX * chars + 8));
}

function render(
  groups: StreamlineGroup[],
  legend: Legend,
  { title = "streamlines", width = 800, height = 400 }: StreamlineSvgOptions,
): string {
  checkGroups(groups);
  const legendRows = legend.kind === "groups" ? groups.length : 12;
  const H = Math.max(height, MARGIN.top + 18 * legendRows + 20);
  // A wider legend widens the figure; the views keep their size.
  const W = width + legendWidth(groups, legend) - MARGIN.right;
  const pw = (width - MARGIN.left - MARGIN.gap - MARGIN.right) / 2;
  const ph = H - MARGIN.top - MARGIN.bottom;
  if (!(pw > 20 && ph > 20)) throw new Error(`streamlines: ${width}x${height} is too small`);
  const { lo, hi } = bounds(groups);
  const ext = [0, 1, 2].map((a) => hi[a] - lo[a]);
  const largest = Math.max(...ext);
  const floor = largest > 0 ? 1e-3 * largest : 2;
  const [ex, ey, ez] = ext.map((e) => Math.max(e, floor));
  const s = Math.min(pw / Math.max(ex, ey), ph / Math.max(ey, ez)) / 1.1;
  const centre = [0, 1, 2].map((a) => (lo[a] + hi[a]) / 2);
  const frames = VIEWS.map((_, k) => ({ x: MARGIN.left + k * (pw + MARGIN.gap), y: MARGIN.top }));
  const f2 = (v: number) => v.toFixed(2);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${f2(MARGIN.left + pw + MARGIN.gap / 2)}" y="18" text-anchor="middle" ` +
    `font-size="14">${esc(title)}</text>`,
  ];
  VIEWS.forEach((v, k) => {
    const fx = frames[k].x, fy = frames[k].y;
    const px = (p: number) => fx + pw / 2 + (p - centre[v.right]) * s;
    const py = (p: number) => fy + ph / 2 - (p - centre[v.up]) * s;
    out.push(
      `<g class="view" data-view="${v.name}">`,
      `<text x="${f2(fx + pw / 2)}" y="${fy - 8}" text-anchor="middle">${v.caption}</text>`,
      `<rect x="${f2(fx)}" y="${fy}" width="${f2(pw)}" height="${f2(ph)}" fill="none" ` +
        `stroke="#888"/>`,
    );
    groups.forEach((g, gi) => {
      const dash = g.dashed ? ` stroke-dasharray="4 3"` : "";
      out.push(
        `<g data-group="${gi}" fill="none" stroke="${esc(g.color)}" stroke-width="1.5" ` +
          `stroke-opacity="0.8" stroke-linecap="round" stroke-linejoin="round"${dash}>`,
      );
      for (const line of g.streamlines) {
        const pts: string[] = [];
        for (let i = 0; i + 2 < line.length; i += 3) {
          const a = line[i + v.right], b = line[i + v.up];
          if (!(isFinite(line[i]) && isFinite(line[i + 1]) && isFinite(line[i + 2]))) continue;
          pts.push(`${f2(px(a))},${f2(py(b))}`);
        }
        // A one-point streamline still shows, as a round dot.
        if (pts.length === 1) pts.push(pts[0]);
        out.push(`<polyline points="${pts.join(" ")}"/>`);
      }
      out.push("</g>");
    });
    out.push("</g>");
  });

  // Scale bar under the axial view: a round length near a quarter of the frame.
  const mm = niceBelow(pw / 4 / s);
  const bx = frames[0].x + 10, by = MARGIN.top + ph + 24;
  out.push(
    `<g class="scale-bar">`,
    `<line x1="${f2(bx)}" x2="${f2(bx + mm * s)}" y1="${by}" y2="${by}" stroke="black" ` +
      `stroke-width="3"/>`,
    `<text x="${f2(bx + mm * s + 8)}" y="${by + 4}">${+mm.toPrecision(6)} mm</text>`,
    `</g>`,
  );

  const lx = width - MARGIN.right + 12;
  out.push(`<g class="legend">`);
  if (legend.kind === "groups") {
    groups.forEach((g, k) => {
      const ly = MARGIN.top + 10 + 18 * k;
      const dash = g.dashed ? ` stroke-dasharray="4 3"` : "";
      out.push(
        `<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${esc(g.color)}" ` +
          `stroke-width="2"${dash}/>`,
        `<text x="${lx + 26}" y="${ly + 4}">${esc(g.label)} (${g.streamlines.length})</text>`,
      );
    });
  } else {
    // Discrete bands rather than a <linearGradient>: no ids, so several of these figures
    // can be inlined in one HTML page without clashing.
    const bands = 10, bh = 16;
    for (let k = 0; k < bands; k++) {
      out.push(
        `<rect x="${lx}" y="${MARGIN.top + k * bh}" width="14" height="${bh}" ` +
          `fill="${heatColor((k + 0.5) / bands)}"/>`,
      );
    }
    out.push(
      `<text x="${lx + 20}" y="${MARGIN.top + 10}">first</text>`,
      `<text x="${lx + 20}" y="${MARGIN.top + bands * bh}">last</text>`,
      `<text x="${lx}" y="${MARGIN.top + bands * bh + 22}">${legend.count} steps</text>`,
    );
  }
  out.push("</g>", "</svg>");
  return out.join("\n") + "\n";
}

/**
 * Groups of streamlines ([P * 3] xyz in mm each) in the two views, axial (x right, y up) and
 * sagittal (y right, z up), one colour per group (dashed when asked), with a scale bar and
 * a legend of labels and streamline counts. Non-finite points are left out; every
 * streamline is one `<polyline>` in each view (an empty one for no points).
 *
 * @throws Error when a streamline's length is not a multiple of 3, or the size is too small.
 */
export function streamlinesSvg(groups: StreamlineGroup[], opts: StreamlineSvgOptions = {}): string {
  return render(groups, { kind: "groups" }, opts);
}

/**
 * Streamlines decoded at evenly spaced points of a line in latent space (`path[0]` at its
 * start, the last at its end), coloured on a ramp from the first (dark purple) to the last
 * (yellow), in the same two views as {@linkcode streamlinesSvg}.
 */
export function interpolationSvg(path: Float32Array[], opts: StreamlineSvgOptions = {}): string {
  const n = path.length;
  const groups = path.map((line, i) => ({
    label: `step ${i}`,
    color: heatColor(n > 1 ? i / (n - 1) : 0),
    streamlines: [line],
  }));
  return render(groups, { kind: "ramp", count: n }, {
    ...opts,
    title: opts.title ?? "streamlines along a latent interpolation",
  });
}
