import { upload } from "../src/gpu/buffer.ts";
import { gatherBatch } from "../src/nn/gather.ts";
import * as ref from "../src/reference/gather.ts";
import { assertClose, gpuTest, out, Rng, run } from "./_helpers.ts";

/** A Fisher-Yates shuffle of 0 .. n-1, seeded. */
function permutation(rng: Rng, n: number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

gpuTest("gather maps every byte value exactly", async (gpu) => {
  // 256 one-byte examples 0..255 in a shuffled order: each lands in x as byte * f32(1/255),
  // a single rounding, so the GPU must agree to the bit.
  const rng = new Rng(51);
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const index = permutation(rng, 256);
  const data = upload(gpu.device, "u8", [256, 1], bytes, "data");
  const indexT = upload(gpu.device, "u32", [256], index, "index");
  const x = out(gpu, [256, 1]);
  const scale = Math.fround(1 / 255);
  const d = await gatherBatch(gpu, { x, data, index: indexT }, {
    batch: 256,
    features: 1,
    offset: 0,
    scale,
    shift: 0,
  });
  const [got] = await run(gpu, [d], x);
  for (let b = 0; b < 256; b++) {
    const want = Math.fround(index[b] * scale);
    if (got[b] !== want) throw new Error(`byte ${index[b]} gave ${got[b]}, expected ${want}`);
  }
  console.log("  bytes 0..255: all exact");
  for (const t of [data, indexT, x]) t.destroy();
});

for (const features of [13, 130, 785]) {
  gpuTest(
    `gather F=${features}: shuffled batches, offset updates, a short last batch`,
    async (gpu) => {
      const rng = new Rng(52 + features);
      const examples = 25;
      // Odd F: examples start at every byte position within a u32 word.
      const bytes = Uint8Array.from(
        { length: examples * features },
        () => Math.floor(rng.next() * 256),
      );
      const index = permutation(rng, examples);
      const data = upload(gpu.device, "u8", [examples, features], bytes, "data");
      const indexT = upload(gpu.device, "u32", [examples], index, "index");
      const scale = Math.fround(2 / 255), shift = -1;
      for (const batch of [1, 3, 7]) {
        const x = out(gpu, [batch, features]);
        // One dispatch, its offset moved each step as the trainer does; the tail is shorter.
        const d = await gatherBatch(gpu, { x, data, index: indexT }, {
          batch,
          features,
          offset: 0,
          scale,
          shift,
        });
        const got: number[] = [], want: number[] = [];
        for (let offset = 0; offset + batch <= examples; offset += batch) {
          d.update("dims", { offset });
          const [x1] = await run(gpu, [d], x);
          got.push(...x1);
          want.push(...ref.gatherBatch(bytes, index, batch, features, offset, scale, shift));
        }
        assertClose(`F=${features} B=${batch}, every full batch`, got, want, 1e-6);
        const last = examples % batch;
        if (last > 0) {
          // The short last batch, two ways: its own dispatch and x, or the full-size dispatch
          // with batch and offset updated, which writes the front of x and leaves the rest.
          const want = ref.gatherBatch(bytes, index, last, features, examples - last, scale, shift);
          const xTail = out(gpu, [last, features]);
          const tail = await gatherBatch(gpu, { x: xTail, data, index: indexT }, {
            batch: last,
            features,
            offset: examples - last,
            scale,
            shift,
          });
          const [got] = await run(gpu, [tail], xTail);
          assertClose(`F=${features} short batch of ${last}`, got, want, 1e-6);
          const [before] = await run(gpu, [], x);
          d.update("dims", { batch: last, offset: examples - last });
          const [reused] = await run(gpu, [d], x);
          assertClose(
            `F=${features} short batch of ${last}, batch updated`,
            reused.subarray(0, last * features),
            want,
            1e-6,
          );
          if (
            reused.subarray(last * features).some((v, i) => v !== before[last * features + i])
          ) {
            throw new Error("the short batch wrote past its rows");
          }
          xTail.destroy();
        }
        x.destroy();
      }
      for (const t of [data, indexT]) t.destroy();
    },
  );
}

gpuTest("gather gives NaN for an index out of range, and rejects bad shapes", async (gpu) => {
  const features = 5;
  const data = upload(gpu.device, "u8", [3, features], new Uint8Array(15).fill(7), "data");
  const indexT = upload(gpu.device, "u32", [4], [2, 3, 0, 1], "index"); // 3 is not an example
  const x = out(gpu, [2, features]);
  const d = await gatherBatch(gpu, { x, data, index: indexT }, {
    batch: 2,
    features,
    offset: 0,
    scale: 1,
    shift: 0,
  });
  const [got] = await run(gpu, [d], x);
  const row = (r: number) => [...got.subarray(r * features, (r + 1) * features)];
  if (!row(0).every((v) => v === 7) || !row(1).every(Number.isNaN)) {
    throw new Error(`expected [7 x5, NaN x5], got ${[...got]}`);
  }
  d.update("dims", { offset: 3 }); // entries 3 and 4: the second is past the index
  const [past] = await run(gpu, [d], x);
  if (past[0] !== 7 || !Number.isNaN(past[features])) {
    throw new Error(`offset past the index: got ${[...past]}`);
  }
  const expect = async (fn: () => Promise<unknown>, text: string) => {
    let message = "";
    try {
      await fn();
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(text)) throw new Error(`expected '${text}', got '${message}'`);
  };
  const s = { batch: 2, features, offset: 0, scale: 1, shift: 0 };
  await expect(() => gatherBatch(gpu, { x, data, index: indexT }, { ...s, offset: 3 }), "outside");
  await expect(() => gatherBatch(gpu, { x, data, index: indexT }, { ...s, features: 4 }), "values");
  await expect(() => gatherBatch(gpu, { x: indexT, data, index: indexT }, s), "'x'");
  await expect(() => gatherBatch(gpu, { x, data: indexT, index: indexT }, s), "u8 or f32");
  console.log("  out-of-range index and offset give NaN; bad shapes are rejected");
  for (const t of [data, indexT, x]) t.destroy();
});

gpuTest("gather_f32: shuffled batches of float examples (streamlines, conditions)", async (gpu) => {
  const rng = new Rng(77);
  const examples = 11, features = 3 * 17;
  const values = rng.uniform(examples * features, -80, 80);
  const index = permutation(rng, examples);
  const data = upload(gpu.device, "f32", [examples, features], values, "values");
  const indexT = upload(gpu.device, "u32", [examples], index, "index");
  const scale = Math.fround(1 / 37), shift = 0.25, batch = 3;
  const x = out(gpu, [batch, features]);
  const d = await gatherBatch(gpu, { x, data, index: indexT }, {
    batch,
    features,
    offset: 0,
    scale,
    shift,
  });
  const stored = Float32Array.from(values);
  for (let offset = 0; offset + batch <= examples; offset += batch) {
    d.update("dims", { offset });
    const [got] = await run(gpu, [d], x);
    const want = ref.gatherBatch(stored, index, batch, features, offset, scale, shift);
    assertClose(`f32 F=${features} B=${batch} offset ${offset}`, got, want, 1e-6);
  }
  d.update("dims", { offset: examples - 1 }); // the second row is past the index: NaN
  const [past] = await run(gpu, [d], x);
  if (!Number.isFinite(past[0]) || !Number.isNaN(past[features])) {
    throw new Error(`offset past the index: ${past[0]}, ${past[features]}`);
  }
  for (const t of [data, indexT, x]) t.destroy();
});
