/**
 * SVG line plots, written here: curves over a shared x axis with ticks, labels and a legend.
 * Used for loss curves (train and test total, recon, KL, the KL weight) over epochs.
 */

/** One curve: a name, a colour and y values at the plot's x positions (NaN leaves a gap). */
export interface Series {
  /** Legend text. */
  name: string;
  /** CSS colour. */
  color: string;
  /** y values, one per x. */
  values: number[];
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Round, readable tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
    out.push(+t.toPrecision(12));
  }
  return out;
}

/** An SVG document plotting `series` against `x`. */
export function linePlot(
  title: string,
  xLabel: string,
  x: number[],
  series: Series[],
  { width = 640, height = 360 } = {},
): string {
  const m = { left: 60, right: 150, top: 30, bottom: 45 };
  const w = width - m.left - m.right, h = height - m.top - m.bottom;
  const ys = series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const xlo = Math.min(...x), xhi = Math.max(...x) === xlo ? xlo + 1 : Math.max(...x);
  const px = (v: number) => m.left + ((v - xlo) / (xhi - xlo)) * w;
  const py = (v: number) => m.top + h - ((v - lo) / (hi - lo)) * h;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.left + w / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  ];
  for (const t of ticks(lo, hi)) {
    out.push(
      `<line x1="${m.left - 4}" x2="${m.left + w}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`,
    );
    out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(xlo, xhi)) {
    out.push(`<text x="${px(t)}" y="${m.top + h + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<text x="${m.left + w / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
  );
  series.forEach((s, k) => {
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${px(x[i]).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    out.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2"/>`);
    const ly = m.top + 10 + 18 * k;
    out.push(
      `<line x1="${m.left + w + 12}" x2="${m.left + w + 32}" y1="${ly}" y2="${ly}" stroke="${
        esc(s.color)
      }" stroke-width="2"/>`,
    );
    out.push(`<text x="${m.left + w + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
