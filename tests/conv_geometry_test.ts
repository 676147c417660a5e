/**
 * The convolution geometry, computed twice on purpose: src/nn's (what the GPU side dispatches)
 * and src/reference's own (the oracle's, written from the definitions). They must agree on
 * every small shape, and both must match a few hand-worked cases (DESIGN.md's conv VAE:
 * 28 -> 28 -> 14 -> 7 -> 7 and back). No GPU needed.
 */

import { deepStrictEqual } from "node:assert/strict";
import { conv2dOutputSize, type Padding } from "../src/nn/conv2d.ts";
import { convTranspose2dOutputSize } from "../src/nn/conv_transpose2d.ts";
import { conv2dGeometry } from "../src/reference/conv2d.ts";
import { convTranspose2dGeometry } from "../src/reference/conv_transpose2d.ts";

const base = { batch: 1, inChannels: 1, outChannels: 1 };

Deno.test("conv2d geometry: the reference's own arithmetic matches src/nn on every small shape", () => {
  let cases = 0;
  for (let n = 1; n <= 13; n++) {
    for (let k = 1; k <= 5; k++) {
      for (let st = 1; st <= 4; st++) {
        const paddings: Padding[] = ["same", "valid", [0, 1], [1, 0], [2, 2]];
        for (const padding of paddings) {
          const s = {
            ...base,
            height: n,
            width: n + 2,
            kernel: [k, k + 1] as [number, number],
            stride: [st, 5 - st] as [number, number],
            padding,
          };
          const ours = conv2dGeometry(s), theirs = conv2dOutputSize(s);
          if (theirs.height < 1 || theirs.width < 1) continue;
          deepStrictEqual(ours, theirs, JSON.stringify(s));
          cases++;
        }
      }
    }
  }
  console.log(`${cases} shapes agree`);
});

Deno.test("conv2d geometry: hand-worked same and valid cases", () => {
  const g = (n: number, k: number, st: number, padding: Padding) =>
    conv2dGeometry({ ...base, height: n, width: n, kernel: [k, k], stride: [st, st], padding });
  // The conv VAE's encoder: 28 -(s1)-> 28 -(s2)-> 14 -(s2)-> 7 -(s1)-> 7, kernel 3.
  deepStrictEqual(g(28, 3, 1, "same"), { height: 28, width: 28, padTop: 1, padLeft: 1 });
  deepStrictEqual(g(28, 3, 2, "same"), { height: 14, width: 14, padTop: 0, padLeft: 0 });
  deepStrictEqual(g(7, 3, 2, "same"), { height: 4, width: 4, padTop: 1, padLeft: 1 });
  deepStrictEqual(g(7, 3, 1, "valid"), { height: 5, width: 5, padTop: 0, padLeft: 0 });
  deepStrictEqual(g(7, 3, 2, [1, 1]), { height: 4, width: 4, padTop: 1, padLeft: 1 });
});

Deno.test("conv_transpose2d geometry: the reference's own arithmetic matches src/nn", () => {
  let cases = 0;
  for (let n = 1; n <= 9; n++) {
    for (let k = 1; k <= 5; k++) {
      for (let st = 1; st <= 3; st++) {
        for (const padding of ["same", "valid", [0, 1], [1, 1]] as Padding[]) {
          for (const op of padding === "same" ? [0] : [0, st - 1]) {
            const s = {
              ...base,
              height: n,
              width: n + 1,
              kernel: [k, 6 - k] as [number, number],
              stride: [st, st] as [number, number],
              padding,
              outputPadding: [op, 0] as [number, number],
            };
            const ours = convTranspose2dGeometry(s), theirs = convTranspose2dOutputSize(s);
            if (theirs.height < 1 || theirs.width < 1) continue;
            deepStrictEqual(ours, theirs, JSON.stringify(s));
            cases++;
          }
        }
      }
    }
  }
  console.log(`${cases} shapes agree`);
});

Deno.test("conv_transpose2d geometry: hand-worked cases (the conv VAE's decoder)", () => {
  const g = (n: number, k: number, st: number, padding: Padding) =>
    convTranspose2dGeometry({
      ...base,
      height: n,
      width: n,
      kernel: [k, k],
      stride: [st, st],
      padding,
    });
  // 7 -(s1)-> 7 -(s2)-> 14 -(s2)-> 28 -(s1)-> 28, kernel 3, same.
  deepStrictEqual(g(7, 3, 1, "same"), { height: 7, width: 7 });
  deepStrictEqual(g(7, 3, 2, "same"), { height: 14, width: 14 });
  deepStrictEqual(g(14, 3, 2, "same"), { height: 28, width: 28 });
  deepStrictEqual(g(7, 3, 2, "valid"), { height: 15, width: 15 });
  deepStrictEqual(g(7, 3, 2, [1, 1]), { height: 13, width: 13 });
});
