/**
 * SVG plots, written here: line plots (curves over a shared x axis with ticks, labels and a
 * legend: loss curves, the KL weight, mu/sigma ranges), scatter plots coloured by group (the
 * 2-D latent space by label) and heat maps with a colour scale (per-dimension KL over epochs).
 * Every plot is a standalone SVG document that can also be inlined in HTML.
 */

/** One curve: a name, a colour and y values at the plot's x positions (NaN leaves a gap). */
export interface Series {
  /** Legend text. */
  name: string;
  /** CSS colour. */
  color: string;
  /** y values, one per x. */
  values: number[];
  /** SVG stroke-dasharray, e.g. "4 3" (solid when absent). */
  dash?: string;
  /** Also mark each finite point with a dot (for values recorded at a few x positions). */
  markers?: boolean;
}

/** Text escaped for SVG/HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/**
 * Round, readable tick values covering [lo, hi]. Non-finite bounds give no ticks; a range too
 * narrow or too wide for round steps (a diverged loss) gives its two ends.
 */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo)) return [];
  if (!(hi > lo) || !Number.isFinite(hi)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  // A step the 12 digits of a label cannot show (or a double cannot add): show the ends.
  const size = Math.max(Math.abs(lo), Math.abs(hi));
  if (!step || !Number.isFinite(step) || step < 1e-10 * size) return [lo, hi];
  const out: number[] = [];
  const first = Math.ceil(lo / step);
  for (let i = 0; i <= 2 * count + 2; i++) {
    const t = (first + i) * step;
    if (!(t <= hi + 1e-9 * step)) break;
    out.push(+t.toPrecision(12));
  }
  return out;
}

/**
 * Where v sits from lo (0) to hi (1): (v - lo) / (hi - lo), computed on halves so a range
 * wider than the largest double (a diverged value) does not overflow; halving is exact.
 */
/** The opening of a plot: the svg element, a white page and the title centred on titleX. */
function header(width: number, height: number, titleX: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${titleX}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
}

function frac(v: number, lo: number, hi: number): number {
  return (v / 2 - lo / 2) / (hi / 2 - lo / 2);
}

/**
 * The opening of an x-y plot in margins m: the page and title, the plot box, y tick labels
 * (with grid lines when `grid`), x tick labels and the x axis label; px and py map values
 * in [xlo, xhi] and [ylo, yhi] into the box.
 */
function axes(
  width: number,
  height: number,
  title: string,
  xLabel: string,
  [xlo, xhi]: [number, number],
  [ylo, yhi]: [number, number],
  grid: boolean,
): { out: string[]; px: (v: number) => number; py: (v: number) => number } {
  const m = MARGIN;
  const w = width - m.left - m.right, h = height - m.top - m.bottom;
  const px = (v: number) => m.left + frac(v, xlo, xhi) * w;
  const py = (v: number) => m.top + h - frac(v, ylo, yhi) * h;
  const out = header(width, height, m.left + w / 2, title);
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  );
  for (const t of ticks(ylo, yhi)) {
    if (grid) {
      out.push(
        `<line x1="${m.left - 4}" x2="${m.left + w}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`,
      );
    }
    out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(xlo, xhi)) {
    out.push(`<text x="${px(t)}" y="${m.top + h + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<text x="${m.left + w / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
  );
  return { out, px, py };
}

/** The margins of the line and scatter plots (the legend on the right). */
const MARGIN = { left: 60, right: 150, top: 30, bottom: 45 };

/** An SVG document plotting `series` against `x`. */
export function linePlot(
  title: string,
  xLabel: string,
  x: number[],
  series: Series[],
  { width = 640, height = 360, yRange }: {
    width?: number;
    height?: number;
    /** A fixed y axis [lo, hi] that holds every value (default: fitted to the values). */
    yRange?: [number, number];
  } = {},
): string {
  const m = MARGIN;
  const w = width - m.left - m.right;
  const ys = series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo = ys.length ? ys.reduce((a, b) => Math.min(a, b)) : 0;
  let hi = ys.length ? ys.reduce((a, b) => Math.max(a, b)) : 1;
  if (yRange && yRange.every(Number.isFinite) && yRange[1] > yRange[0]) [lo, hi] = yRange;
  // +-1 around a constant curve (wider for large values, where 1 is below their spacing).
  if (hi === lo) {
    [lo, hi] = [lo - Math.max(1, 1e-6 * Math.abs(lo)), hi + Math.max(1, 1e-6 * Math.abs(hi))];
  }
  const xs = x.filter(Number.isFinite);
  const xlo = xs.length ? Math.min(...xs) : 0;
  const xhi = xs.length && Math.max(...xs) > xlo ? Math.max(...xs) : xlo + 1;
  const { out, px, py } = axes(width, height, title, xLabel, [xlo, xhi], [lo, hi], true);
  series.forEach((s, k) => {
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v) || !Number.isFinite(x[i])) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${px(x[i]).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    const dash = s.dash ? ` stroke-dasharray="${esc(s.dash)}"` : "";
    out.push(
      `<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2"${dash}/>`,
    );
    if (s.markers) {
      const dots = s.values.flatMap((v, i) =>
        Number.isFinite(v) && Number.isFinite(x[i])
          ? [`<circle cx="${px(x[i]).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3"/>`]
          : []
      );
      out.push(`<g fill="${esc(s.color)}">`, ...dots, "</g>");
    }
    const ly = m.top + 10 + 18 * k;
    out.push(
      `<line x1="${m.left + w + 12}" x2="${m.left + w + 32}" y1="${ly}" y2="${ly}" stroke="${
        esc(s.color)
      }" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${m.left + w + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** One group of a scatter plot: legend text and CSS colour. */
export interface Group {
  /** Legend text. */
  name: string;
  /** CSS colour. */
  color: string;
}

/** Axis ranges padded by 5% so points do not sit on the frame. */
function padded(v: ArrayLike<number>, n: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(v[i])) lo = Math.min(lo, v[i]), hi = Math.max(hi, v[i]);
  }
  if (!(hi >= lo)) return [-1, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  const p = 0.05 * (hi / 2 - lo / 2) * 2;
  return [Math.max(-Number.MAX_VALUE, lo - p), Math.min(Number.MAX_VALUE, hi + p)];
}

/**
 * An SVG scatter plot of n points (x[i], y[i]), each coloured by `group[i]` (an index into
 * `groups`, listed in the legend with their point counts). Non-finite points are skipped.
 */
export function scatterPlot(
  title: string,
  labels: { x: string; y: string },
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  group: ArrayLike<number>,
  groups: Group[],
  { width = 640, height = 480, radius = 2 } = {},
): string {
  const n = Math.min(x.length, y.length, group.length);
  const m = MARGIN;
  const w = width - m.left - m.right, h = height - m.top - m.bottom;
  const [xlo, xhi] = padded(x, n), [ylo, yhi] = padded(y, n);
  const { out, px, py } = axes(width, height, title, labels.x, [xlo, xhi], [ylo, yhi], false);
  out.push(
    `<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${
      esc(labels.y)
    }</text>`,
  );
  // One <g> per group so a colour is written once, not per point.
  const counts = new Array(groups.length).fill(0);
  const pts: string[][] = groups.map(() => []);
  for (let i = 0; i < n; i++) {
    const g = group[i];
    if (!(g >= 0 && g < groups.length) || !Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
      continue;
    }
    counts[g]++;
    pts[g].push(`<circle cx="${px(x[i]).toFixed(1)}" cy="${py(y[i]).toFixed(1)}" r="${radius}"/>`);
  }
  groups.forEach((g, k) => {
    out.push(`<g fill="${esc(g.color)}" fill-opacity="0.6">`, ...pts[k], "</g>");
    const ly = m.top + 10 + 18 * k;
    out.push(
      `<circle cx="${m.left + w + 20}" cy="${ly}" r="5" fill="${esc(g.color)}"/>`,
      `<text x="${m.left + w + 32}" y="${ly + 4}">${esc(g.name)} (${counts[k]})</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

// Viridis at 0, 1/4, 1/2, 3/4, 1 (perceptually uniform, readable in gray and by most colour
// blind readers); colours in between are interpolated in RGB.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** CSS colour of t in [0, 1] on the heat map's scale (clamped; NaN is gray). */
export function heatColor(t: number): string {
  if (!Number.isFinite(t)) return "#bbb";
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(u)), f = u - k;
  const c = VIRIDIS[k].map((a, i) => Math.round(a + f * (VIRIDIS[k + 1][i] - a)));
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * An SVG heat map of `values` [rows][cols] (row r labelled `rowNames[r]`, column c at
 * `x[c]`), coloured linearly from `lo` (default 0) to the largest finite value, with a colour
 * bar legend. Used for per-dimension KL (rows) over epochs (columns).
 */
export function heatMap(
  title: string,
  labels: { x: string; y: string; value: string },
  x: number[],
  rowNames: string[],
  values: number[][],
  { width = 640, height = 0, lo = 0 } = {},
): string {
  const rows = rowNames.length, cols = x.length;
  const m = { left: 70, right: 110, top: 30, bottom: 45 };
  const h = height ? height - m.top - m.bottom : Math.min(600, Math.max(120, 14 * rows));
  const H = h + m.top + m.bottom, w = width - m.left - m.right;
  let hi = -Infinity;
  for (const row of values) for (const v of row) if (Number.isFinite(v)) hi = Math.max(hi, v);
  if (!(hi > lo)) hi = lo + 1;
  const cw = w / Math.max(1, cols), ch = h / Math.max(1, rows);
  const out = header(width, H, m.left + w / 2, title);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r]?.[c] ?? NaN;
      out.push(
        `<rect x="${(m.left + c * cw).toFixed(2)}" y="${(m.top + r * ch).toFixed(2)}" width="${
          cw.toFixed(2)
        }" height="${ch.toFixed(2)}" fill="${heatColor((v - lo) / (hi - lo))}"><title>${
          esc(`${rowNames[r]}, ${labels.x} ${x[c]}: ${Number.isFinite(v) ? v.toPrecision(4) : v}`)
        }</title></rect>`,
      );
    }
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  );
  // Row labels, thinned to about one per 12 px.
  const every = Math.max(1, Math.ceil(12 / ch));
  for (let r = 0; r < rows; r += every) {
    out.push(
      `<text x="${m.left - 6}" y="${(m.top + (r + 0.5) * ch + 4).toFixed(1)}" ` +
        `text-anchor="end">${esc(rowNames[r])}</text>`,
    );
  }
  const xEvery = Math.max(1, Math.ceil(30 / cw));
  for (let c = 0; c < cols; c += xEvery) {
    out.push(
      `<text x="${(m.left + (c + 0.5) * cw).toFixed(1)}" y="${m.top + h + 16}" ` +
        `text-anchor="middle">${x[c]}</text>`,
    );
  }
  out.push(
    `<text x="${m.left + w / 2}" y="${H - 8}" text-anchor="middle">${esc(labels.x)}</text>`,
    `<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${
      esc(labels.y)
    }</text>`,
  );
  // Colour bar: 32 bands from lo (bottom) to hi (top), ticks on the right.
  const bx = m.left + w + 16, bands = 32;
  for (let k = 0; k < bands; k++) {
    out.push(
      `<rect x="${bx}" y="${(m.top + h - (k + 1) * (h / bands)).toFixed(2)}" width="14" ` +
        `height="${(h / bands + 0.5).toFixed(2)}" fill="${heatColor((k + 0.5) / bands)}"/>`,
    );
  }
  out.push(`<rect x="${bx}" y="${m.top}" width="14" height="${h}" fill="none" stroke="#888"/>`);
  for (const t of ticks(lo, hi, 4)) {
    const ty = m.top + h - ((t - lo) / (hi - lo)) * h;
    out.push(`<text x="${bx + 18}" y="${(ty + 4).toFixed(1)}">${t}</text>`);
  }
  out.push(
    `<text transform="translate(${width - 8} ${m.top + h / 2}) rotate(-90)" ` +
      `text-anchor="middle">${esc(labels.value)}</text>`,
  );
  out.push("</svg>");
  return out.join("\n") + "\n";
}
