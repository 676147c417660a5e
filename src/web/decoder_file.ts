/**
 * The decoder's file: what `deno task export` writes (`decoder.safetensors`) and what
 * {@linkcode Decoder} reads. It holds the model spec (src/vae/spec.ts) in its `spec` metadata
 * and the parameters the decoder runs, by name: `decoder.*` (and a learned prior's `prior.*`).
 * A run's own `model.safetensors` reads the same way (its encoder weights are ignored).
 *
 * No Deno API: it bundles for the browser.
 */

import { encodeSafetensors, type ParsedSafetensors, type SafeTensor } from "../io/safetensors.ts";
import { flatParams, type ModelSpec, SpecError, specOfFile } from "../vae/spec.ts";

/** Metadata `format` of a file written by `deno task export`. */
export const DECODER_FORMAT = "webgpu-vae-decoder/2";

/** Name prefixes of the parameters a decoder runs: the decoder and a learned prior. */
export const DECODER_PARTS: readonly string[] = ["decoder.", "prior."];

/** A decoder file that cannot be used: one line, naming the file. */
export class DecoderError extends Error {
  /**
   * Make the error.
   * @param message one line: the file and the problem
   */
  constructor(message: string) {
    super(message);
    this.name = "DecoderError";
  }
}

/**
 * The spec and the flat parameters (decoder and prior filled, the encoder's left zero) of a
 * parsed decoder file or run checkpoint. Throws {@linkcode DecoderError} naming `name`.
 */
export function readDecoderFile(
  file: ParsedSafetensors,
  name = "file",
): { spec: ModelSpec; params: Float32Array } {
  try {
    if (file.metadata.spec === undefined && file.metadata.format === "webgpu-vae-decoder/1") {
      throw new DecoderError(
        `${name}: exported by an older version (no model spec); export the run again`,
      );
    }
    const spec = specOfFile(file, name, "deno task convert runs/NAME, then export again");
    return { spec, params: flatParams(spec, file, name, [...DECODER_PARTS]) };
  } catch (e) {
    if (e instanceof SpecError) throw new DecoderError(e.message);
    throw e;
  }
}

/**
 * The decoder file of a run's parsed `model.safetensors` (checked by
 * {@linkcode readDecoderFile}): its decoder and prior parameters, the spec, the run's name and
 * optimizer step. Nothing machine-local (paths, the training config) goes in.
 */
export function decoderFileBytes(model: ParsedSafetensors, name: string, run: string): Uint8Array {
  const { spec } = readDecoderFile(model, name);
  const tensors: SafeTensor[] = [];
  for (const l of spec.layers) {
    if (!DECODER_PARTS.some((p) => l.name.startsWith(p))) continue;
    tensors.push({ name: l.name, ...model.tensors.get(l.name)! });
  }
  const metadata: Record<string, string> = {
    format: DECODER_FORMAT,
    spec: JSON.stringify(spec),
    run,
  };
  if (model.metadata.step !== undefined) metadata.step = model.metadata.step;
  return encodeSafetensors(tensors, metadata);
}
