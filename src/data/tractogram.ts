/**
 * What the tractogram formats (.trk, .tck, .trx) share: the error every reader throws, and
 * the *space* of a tractogram — the voxel grid of the image it was tracked on — as a small
 * JSON-serialisable object, so a model trained on a file can carry it in its metadata and
 * write generated streamlines back in the same space (they then overlay the input in any
 * viewer).
 *
 * Streamline points are always RAS+ millimetres in memory (the convention of nibabel, dipy,
 * MRtrix and TRX). The space's `voxelToRas` maps voxel *centres* (integer voxel indices, the
 * NIfTI convention) to RAS+ mm, as nibabel's `affine` does. A .tck file carries no space;
 * {@link coveringSpace} makes one that holds given streamlines.
 */

/** A malformed, truncated or unsupported tractogram file: one line, naming the file. */
export class TractogramError extends Error {
  /**
   * Makes the error.
   * @param message The file, what is wrong and what to do; collapsed to one line.
   */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "TractogramError";
  }
}

/**
 * The voxel grid a tractogram lives in (nibabel's "reference": affine, dimensions, voxel
 * sizes, voxel order). Plain numbers and a string, so `JSON.stringify` keeps it whole.
 */
export interface TractogramSpace {
  /** Voxel-centre to RAS+ mm, 16 numbers, a row-major 4x4 with last row 0 0 0 1. */
  voxelToRas: number[];
  /** Voxel size in mm (the lengths of the affine's first three columns for .trx). */
  voxelSize: [number, number, number];
  /** Grid size in voxels. */
  dimensions: [number, number, number];
  /** Axis codes of the voxel axes (e.g. "RAS", "LAS"), from the affine. */
  voxelOrder: string;
}

/** The axis codes (e.g. "RAS") of the voxel axes of a row-major 4x4 affine. */
export function axisCodes(m: readonly number[]): string {
  const pos = "RAS", neg = "LPI";
  let out = "";
  for (let j = 0; j < 3; j++) {
    let best = 0;
    for (let i = 1; i < 3; i++) if (Math.abs(m[4 * i + j]) > Math.abs(m[4 * best + j])) best = i;
    out += m[4 * best + j] >= 0 ? pos[best] : neg[best];
  }
  return out;
}

/** Determinant of the upper-left 3x3 of a row-major 4x4. */
export function det3(m: readonly number[]): number {
  return m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) +
    m[2] * (m[4] * m[9] - m[5] * m[8]);
}

/** Why `a` is not a finite invertible affine 4x4 (row-major), or null when it is one. */
export function affineProblem(a: readonly number[]): string | null {
  if (a.length !== 16) return `has ${a.length} numbers, not 16`;
  if (a.some((v) => !Number.isFinite(v))) return "has non-finite entries";
  if (a[12] !== 0 || a[13] !== 0 || a[14] !== 0 || a[15] !== 1) {
    return `last row is ${a.slice(12).join(" ")}, expected 0 0 0 1`;
  }
  const d = det3(a);
  if (!(Math.abs(d) > 0) || !Number.isFinite(d)) return "is singular";
  return null;
}

/**
 * The space of an affine and grid: voxel sizes are the lengths of the affine's first three
 * columns (as nibabel's `voxel_sizes` computes them) and the voxel order its axis codes.
 * @throws RangeError for an affine that is not finite and invertible or a bad grid.
 */
export function spaceFromAffine(
  voxelToRas: readonly number[],
  dimensions: readonly number[],
): TractogramSpace {
  const why = affineProblem(voxelToRas);
  if (why) throw new RangeError(`the voxel-to-RAS affine ${why}`);
  if (dimensions.length !== 3 || dimensions.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`dimensions ${dimensions.join(" ")} must be 3 integers >= 1`);
  }
  const m = [...voxelToRas];
  const col = (j: number) => Math.hypot(m[j], m[4 + j], m[8 + j]);
  return {
    voxelToRas: m,
    voxelSize: [col(0), col(1), col(2)],
    dimensions: [dimensions[0], dimensions[1], dimensions[2]],
    voxelOrder: axisCodes(m),
  };
}

/**
 * Throws a RangeError unless `s` is a usable space (finite invertible affine, positive
 * finite voxel sizes, integer dimensions >= 1, a 3-letter voxel order); `what` names it.
 */
export function checkSpace(s: TractogramSpace, what = "space"): void {
  const why = affineProblem(s.voxelToRas ?? []);
  if (why) throw new RangeError(`${what}: voxelToRas ${why}`);
  if (s.voxelSize?.length !== 3 || s.voxelSize.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new RangeError(`${what}: voxel sizes ${s.voxelSize} must be 3 positive numbers`);
  }
  if (s.dimensions?.length !== 3 || s.dimensions.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dimensions ${s.dimensions} must be 3 integers >= 1`);
  }
  if (!/^[RLAPSI]{3}$/i.test(s.voxelOrder ?? "")) {
    throw new RangeError(`${what}: voxel order "${s.voxelOrder}" is not 3 axis codes`);
  }
}

/**
 * A space for streamlines that came without one (.tck): 1 mm voxels aligned with RAS+,
 * covering the streamlines' bounding box widened by `margin` mm on every side, so every
 * point lies inside the grid (dipy's bounding-box check passes).
 * @throws RangeError when there are no points or a point is not finite.
 */
export function coveringSpace(streamlines: readonly Float32Array[], margin = 10): TractogramSpace {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const s of streamlines) {
    for (let i = 0; i < s.length; i++) {
      const v = s[i];
      if (!Number.isFinite(v)) throw new RangeError("coveringSpace: a point is not finite");
      lo[i % 3] = Math.min(lo[i % 3], v);
      hi[i % 3] = Math.max(hi[i % 3], v);
    }
  }
  if (!(lo[0] <= hi[0])) throw new RangeError("coveringSpace: no points");
  const origin = lo.map((v) => Math.floor(v - margin));
  const dims = hi.map((v, i) => Math.max(1, Math.ceil(v + margin) - origin[i] + 1));
  const a = [1, 0, 0, origin[0], 0, 1, 0, origin[1], 0, 0, 1, origin[2], 0, 0, 0, 1];
  return spaceFromAffine(a, dims);
}

/**
 * Maps RAS+ mm points to continuous voxel coordinates of `space` (voxel centres at
 * integers): the inverse affine applied to each point. Used to check a bounding box.
 */
export function rasToVoxel(space: TractogramSpace, s: Float32Array): Float64Array {
  const a = space.voxelToRas, d = det3(a);
  // deno-fmt-ignore
  const inv = [
    a[5] * a[10] - a[6] * a[9], a[2] * a[9] - a[1] * a[10], a[1] * a[6] - a[2] * a[5],
    a[6] * a[8] - a[4] * a[10], a[0] * a[10] - a[2] * a[8], a[2] * a[4] - a[0] * a[6],
    a[4] * a[9] - a[5] * a[8], a[1] * a[8] - a[0] * a[9], a[0] * a[5] - a[1] * a[4],
  ].map((v) => v / d);
  const out = new Float64Array(s.length);
  for (let q = 0; q < s.length; q += 3) {
    const x = s[q] - a[3], y = s[q + 1] - a[7], z = s[q + 2] - a[11];
    for (let i = 0; i < 3; i++) {
      out[q + i] = inv[3 * i] * x + inv[3 * i + 1] * y + inv[3 * i + 2] * z;
    }
  }
  return out;
}

/**
 * Whether every point of `streamlines` lies inside the grid of `space` the way dipy's
 * bounding-box check (`StatefulTractogram.is_bbox_in_vox_valid`) wants it: in voxel
 * coordinates with the origin at the first voxel's corner, each in [0, dimension].
 */
export function spaceHolds(space: TractogramSpace, streamlines: readonly Float32Array[]): boolean {
  for (const s of streamlines) {
    const v = rasToVoxel(space, s);
    for (let i = 0; i < v.length; i++) {
      const corner = v[i] + 0.5;
      if (!(corner >= 0 && corner <= space.dimensions[i % 3])) return false;
    }
  }
  return true;
}
