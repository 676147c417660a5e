/**
 * Where a page's decoder finds its shaders: `NAME.wgsl` fetched from a folder URL, by default
 * `shaders/` next to the weights. No Deno API: it bundles for the browser.
 */

import type { ShaderLoader } from "../gpu/kernel.ts";
import { DecoderError } from "./decoder_file.ts";

/** The page's base URL (a worker's location), or undefined outside a browser. */
export function baseUrl(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return g.document?.baseURI ?? g.location?.href;
}

/** A loader fetching `NAME.wgsl` from `folder`; a failed fetch is a one-line DecoderError. */
export function folderLoader(folder: URL): ShaderLoader {
  const dir = folder.href.endsWith("/") ? folder : new URL(`${folder.href}/`);
  return async (name: string) => {
    const url = new URL(`${name}.wgsl`, dir);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new DecoderError(`shader ${name}: cannot load ${url} (${(e as Error).message})`);
    }
    if (!res.ok) throw new DecoderError(`shader ${name}: cannot load ${url} (HTTP ${res.status})`);
    return await res.text();
  };
}
