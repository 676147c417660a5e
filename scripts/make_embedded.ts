/**
 * Makes the embedded default dataset in data/: the first 10000 training and the first 2000
 * test images and labels of Fashion-MNIST, as gzipped IDX files (byte-for-byte reproducible:
 * fixed compression level, no timestamp in the gzip header).
 *
 *   deno run --allow-read --allow-write=data scripts/make_embedded.ts [SOURCE_DIR]
 *
 * SOURCE_DIR defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
 */

import { gzipSync } from "fflate";
import { encodeIdx, type IdxArray, readIdxFile } from "../src/data/idx.ts";

const SOURCE = Deno.args[0] ?? "/usr/share/datasets/fashion-mnist";
const OUT = new URL("../data/", import.meta.url);
/** Largest total size of the embedded files, in bytes. */
const BUDGET = 6_000_000;

/** The first `n` entries (along the outermost dimension) of an IDX array. */
function head(arr: IdxArray, n: number): IdxArray {
  if (arr.dims[0] < n) throw new Error(`need ${n} entries, file has ${arr.dims[0]}`);
  const per = arr.data.length / arr.dims[0];
  return { type: arr.type, dims: [n, ...arr.dims.slice(1)], data: arr.data.subarray(0, n * per) };
}

const jobs: [source: string, count: number, target: string][] = [
  ["train-images-idx3-ubyte.gz", 10000, "fashion-mnist-train-images.idx3.gz"],
  ["train-labels-idx1-ubyte.gz", 10000, "fashion-mnist-train-labels.idx1.gz"],
  ["t10k-images-idx3-ubyte.gz", 2000, "fashion-mnist-test-images.idx3.gz"],
  ["t10k-labels-idx1-ubyte.gz", 2000, "fashion-mnist-test-labels.idx1.gz"],
];

let total = 0;
for (const [source, count, target] of jobs) {
  const arr = await readIdxFile(`${SOURCE}/${source}`, {
    missingHint: "apt-get install dataset-fashion-mnist, or pass the source folder",
  });
  if (arr.type !== "u8") throw new Error(`${source}: expected u8, file holds ${arr.type}`);
  // mtime 0: no timestamp, so the output depends only on the input.
  const gz = gzipSync(encodeIdx(head(arr, count)), { level: 9, mtime: 0 });
  await Deno.writeFile(new URL(target, OUT), gz);
  total += gz.length;
  console.log(`data/${target}: ${count} of ${arr.dims.join("x")}, ${gz.length} bytes`);
}
console.log(`total ${total} bytes (budget ${BUDGET})`);
if (total > BUDGET) {
  console.error(`error: embedded data is ${total} bytes, over the ${BUDGET}-byte budget`);
  Deno.exit(1);
}
