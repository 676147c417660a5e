#!/usr/bin/env python3
"""Reads tractograms with dipy / nibabel (independent of this project) and prints what they
hold as JSON on stdout, for tests/tractogram_io_test.ts.

usage: read_tractograms.py FILE.trk [FILE.tck FILE.trx ...]

- .trk: dipy's load_tractogram(FILE, "same", bbox_valid_check=True) in RAS+ mm; prints the
  points, the affine, dimensions, voxel sizes and voxel order of its space.
- .tck: load_tractogram(FILE, reference=the first .trk given, bbox_valid_check=True).
- .trx: dipy reads .trx only through trx-python, which is not installable here, so it is read
  with numpy + zipfile following the TRX specification (header.json, positions, offsets).
- lengths: dipy.tracking.streamline.length of each streamline as loaded.
"""
import json
import sys
import zipfile

import numpy as np
from dipy.io.streamline import load_tractogram
from dipy.tracking.streamline import length


def trx(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        header = json.loads(z.read("header.json"))
        pos = [n for n in names if n.startswith("positions.3.")][0]
        off = [n for n in names if n.startswith("offsets.")][0]
        points = np.frombuffer(z.read(pos), "<" + np.dtype(pos.split(".")[-1]).str[1:])
        offsets = np.frombuffer(z.read(off), "<" + np.dtype(off.split(".")[-1]).str[1:])
        points = points.reshape(-1, 3).astype(np.float64)
        assert len(points) == header["NB_VERTICES"]
        ns = header["NB_STREAMLINES"]
        bounds = list(offsets[:ns]) + [len(points)]
        if len(offsets) == ns + 1:
            assert offsets[ns] == len(points)
        lines = [points[bounds[k]:bounds[k + 1]] for k in range(ns)]
        groups = {n[len("groups/"):].split(".")[0]:
                  np.frombuffer(z.read(n), "<" + np.dtype(n.split(".")[-1]).str[1:]).tolist()
                  for n in names if n.startswith("groups/")}
    return {"streamlines": [s.flatten().tolist() for s in lines],
            "affine": np.asarray(header["VOXEL_TO_RASMM"]).flatten().tolist(),
            "dimensions": header["DIMENSIONS"], "groups": groups}


out = {}
reference = next((p for p in sys.argv[1:] if p.endswith(".trk")), None)
for path in sys.argv[1:]:
    if path.endswith(".trx"):
        out[path] = trx(path)
        continue
    sft = load_tractogram(path, "same" if path.endswith(".trk") else reference,
                          bbox_valid_check=True)
    affine, dims, vs, order = sft.space_attributes
    out[path] = {
        "streamlines": [np.asarray(s, np.float64).flatten().tolist() for s in sft.streamlines],
        "affine": np.asarray(affine).flatten().tolist(),
        "dimensions": [int(d) for d in dims],
        "voxelSize": [float(v) for v in vs],
        "voxelOrder": order if isinstance(order, str) else order.decode(),
        "lengths": [float(x) for x in length(sft.streamlines)],
    }
json.dump(out, sys.stdout)
