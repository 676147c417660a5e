#!/usr/bin/env python3
"""Writes tests/fixtures/tractograms/: small tractograms made by writers independent of
this project, with the points each should load as (expected.json), for tests/tractogram_io_test.ts.

- fixture.trk, fixture.tck: written by nibabel (Debian's python3-nibabel, via python3-dipy),
  in an oblique LAS-like space; expected points are what nibabel itself loads from them.
- big64.tck: a Float64BE .tck written byte by byte here from the MRtrix format description
  (nibabel writes only Float32LE); expected points are the float64 values, rounded to float32.
- *.trx and folder.trx/: TRX files written here with numpy + zipfile following the TRX
  specification (github.com/tee-ar-ex/trx-spec). The reference trx-python package is not
  installable on this machine (no PyPI, no Debian package), so these are not trx-python's
  output; they cover float16/32/64 positions, uint32/uint64 offsets with and without the
  final sentinel, dps/dpv/dpg arrays, groups, a deflated zip and a folder.

Run from the repository root with a python3 that has nibabel: /usr/bin/python3 scripts/make_tractogram_fixtures.py
"""
import json
import os
import struct
import zipfile

import nibabel as nib
import numpy as np
from nibabel.streamlines import Tractogram
from nibabel.streamlines.tck import TckFile
from nibabel.streamlines.trk import TrkFile

OUT = "tests/fixtures/tractograms"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261204)

# An oblique space: 3 voxel sizes, a rotation about z and a flip of x (LAS-like).
dims = np.array([91, 109, 83], dtype=np.int16)
vs = np.array([1.25, 1.5, 2.0])
c, s = np.cos(0.2), np.sin(0.2)
rot = np.array([[-c, -s, 0], [-s, c, 0], [0, 0, 1]])
affine = np.eye(4)
affine[:3, :3] = rot * vs
affine[:3, 3] = [60.0, -80.0, -70.0]
# RAS+ mm centre of the grid; streamlines are random walks near it, inside the box.
centre = affine @ np.r_[(dims - 1) / 2, 1]


def walk(n):
    start = centre[:3] + rng.normal(0, 12, 3)
    steps = rng.normal(0, 1.1, (n, 3)) + rng.normal(0, 0.6, 3)
    return (start + np.cumsum(steps, axis=0)).astype(np.float32)


streamlines = [walk(n) for n in (17, 3, 41, 2, 29, 1, 11)]
expected = {"space": {"voxelToRas": affine.flatten().tolist(), "dimensions": dims.tolist(),
                      "voxelSize": vs.tolist()}}

# .trk and .tck by nibabel.
hdr = {
    nib.streamlines.Field.VOXEL_TO_RASMM: affine,
    nib.streamlines.Field.DIMENSIONS: dims,
    nib.streamlines.Field.VOXEL_SIZES: vs.astype(np.float32),
    nib.streamlines.Field.VOXEL_ORDER: "".join(nib.aff2axcodes(affine)),
}
tg = Tractogram(streamlines, affine_to_rasmm=np.eye(4))
TrkFile(tg, header=hdr).save(f"{OUT}/fixture.trk")
TckFile(tg).save(f"{OUT}/fixture.tck")
for name in ("fixture.trk", "fixture.tck"):
    loaded = nib.streamlines.load(f"{OUT}/{name}")
    expected[name] = [np.asarray(x, np.float64).flatten().tolist() for x in loaded.streamlines]
trk = nib.streamlines.load(f"{OUT}/fixture.trk")
expected["fixture.trk.affine"] = np.asarray(trk.affine).flatten().tolist()

# A Float64BE .tck, by hand from the MRtrix format description.
pts64 = [walk(n).astype(np.float64) + rng.normal(0, 1e-3, (n, 3)) for n in (5, 8)]
head = "mrtrix tracks\ncount: 2\ndatatype: Float64BE\nmethod: by hand\n"
offset = len(head)
while len(head) + len(f"file: . {offset}\nEND\n") != offset:
    offset = len(head) + len(f"file: . {offset}\nEND\n")
body = f"{head}file: . {offset}\nEND\n".encode()
assert len(body) == offset
data = b"".join(p.astype(">f8").tobytes() + np.full(3, np.nan, ">f8").tobytes() for p in pts64)
with open(f"{OUT}/big64.tck", "wb") as f:
    f.write(body + data + np.full(3, np.inf, ">f8").tobytes())
expected["big64.tck"] = [p.astype(np.float32).astype(np.float64).flatten().tolist() for p in pts64]


# TRX by hand: numpy arrays written little-endian under the spec's file names.
def trx_files(points, pos_dtype, off_dtype, sentinel, extras):
    nv = sum(len(p) for p in points)
    header = {"VOXEL_TO_RASMM": affine.tolist(), "DIMENSIONS": dims.tolist(),
              "NB_STREAMLINES": len(points), "NB_VERTICES": int(nv)}
    offsets = np.cumsum([0] + [len(p) for p in points])
    if not sentinel:
        offsets = offsets[:-1]
    files = {
        "header.json": json.dumps(header).encode(),
        f"positions.3.{pos_dtype}": np.concatenate(points).astype("<" + np.dtype(pos_dtype).str[1:]).tobytes(),
        f"offsets.{off_dtype}": offsets.astype("<" + np.dtype(off_dtype).str[1:]).tobytes(),
    }
    files.update(extras(nv, len(points)))
    return files


def no_extras(nv, ns):
    return {}


def rich_extras(nv, ns):
    return {
        "dpv/fa.float16": rng.random(nv).astype("<f2").tobytes(),
        "dpv/color.3.uint8": rng.integers(0, 255, (nv, 3)).astype("u1").tobytes(),
        "dps/algo.uint8": np.arange(ns).astype("u1").tobytes(),
        "dps/algo.json": b'{"0": "det"}',
        "dps/weights.2.float64": rng.random((ns, 2)).astype("<f8").tobytes(),
        "groups/AF_L.uint32": np.array([0, 2, 4], "<u4").tobytes(),
        "groups/CC.uint16": np.array([1, 6], "<u2").tobytes(),
        "dpg/CC/mean_fa.float32": np.array([0.5], "<f4").tobytes(),
    }


def save_zip(name, files, deflate=False):
    mode = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(f"{OUT}/{name}", "w", mode) as z:
        for k in sorted(files):
            z.writestr(k, files[k])


# float16 positions: the points rounded to float16 are what must load.
half = [p.astype(np.float16) for p in streamlines]
cases = [
    ("f32_u64.trx", streamlines, "float32", "uint64", True, rich_extras, False),
    ("f16_u32_nosentinel.trx", half, "float16", "uint32", False, no_extras, True),
    ("f64_u32.trx", [p.astype(np.float64) for p in pts64], "float64", "uint32", True, no_extras, False),
]
for name, pts, pdt, odt, sent, extras, deflate in cases:
    save_zip(name, trx_files(pts, pdt, odt, sent, extras), deflate)
    expected[name] = [np.asarray(p, np.float32).astype(np.float64).flatten().tolist() for p in pts]
expected["f32_u64.trx.groups"] = {"AF_L": [0, 2, 4], "CC": [1, 6]}
folder = f"{OUT}/folder.trx"
for k, v in trx_files(streamlines, "float32", "uint64", True, no_extras).items():
    os.makedirs(os.path.dirname(f"{folder}/{k}"), exist_ok=True)
    with open(f"{folder}/{k}", "wb") as f:
        f.write(v)
expected["folder.trx"] = expected["fixture.tck"]

with open(f"{OUT}/expected.json", "w") as f:
    json.dump(expected, f)
print("wrote", sorted(os.listdir(OUT)))
