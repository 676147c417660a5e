/**
 * Writing streamlines out as a tractogram, in whichever of the three formats a file name
 * asks for: `.trk` (TrackVis), `.tck` (MRtrix) or `.trx` (TRX, zipped). Points are RAS+ mm;
 * the space (see tractogram.ts) sets the .trk header and the .trx header.json, so a file
 * written in the space of the training data overlays that data in any viewer. This is what
 * `sample --out FILE.trk` and `eval --reconstructions FILE.tck` call.
 */

import { writeFileAtomic } from "../io/atomic.ts";
import { writeTck } from "./tck.ts";
import { checkSpace, coveringSpace, type TractogramSpace } from "./tractogram.ts";
import { trkOptions, writeTrk } from "./trk.ts";
import { writeTrx } from "./trx.ts";

/** The tractogram formats written. */
export type TractogramFormat = "trk" | "tck" | "trx";

/** The format a path's extension names (case-insensitive), or null for another extension. */
export function tractogramFormat(path: string): TractogramFormat | null {
  const m = path.match(/\.(trk|tck|trx)$/i);
  return m ? (m[1].toLowerCase() as TractogramFormat) : null;
}

/**
 * Encodes streamlines (RAS+ mm) as a tractogram file's bytes. `space` null means "none
 * recorded" (a .tck source): .trk and .trx then get {@link coveringSpace}'s 1 mm grid around
 * the streamlines. A .tck file records no space; its header gets `fields` (e.g. a
 * generator line).
 *
 * @throws RangeError for a ragged or non-finite streamline or an unusable space.
 */
export function encodeTractogram(
  format: TractogramFormat,
  streamlines: Float32Array[],
  space: TractogramSpace | null,
  fields: Record<string, string> = {},
): Uint8Array {
  if (format === "tck") return writeTck(streamlines, { fields });
  const s = space ?? coveringSpace(streamlines);
  checkSpace(s, `${format} space`);
  if (format === "trk") return writeTrk(streamlines, trkOptions(s));
  if (format === "trx") return writeTrx(streamlines, s);
  throw new RangeError(`encodeTractogram: unknown format ${format}`);
}

/**
 * Writes streamlines (RAS+ mm) to `path` as .trk, .tck or .trx by its extension, through a
 * temporary file and a rename (a failed write leaves no partial file). Needs --allow-write.
 *
 * @throws RangeError for a path without one of the three extensions, or as
 *   {@link encodeTractogram} does; the atomic writer's error when the file cannot be written.
 */
export async function writeTractogram(
  path: string,
  streamlines: Float32Array[],
  space: TractogramSpace | null,
  fields: Record<string, string> = {},
): Promise<void> {
  const format = tractogramFormat(path);
  if (!format) {
    throw new RangeError(`${path}: a tractogram file must end in .trk, .tck or .trx`);
  }
  await writeFileAtomic(path, encodeTractogram(format, streamlines, space, fields));
}
