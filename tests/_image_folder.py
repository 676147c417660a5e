"""Makes a folder of test images for tests/images_test.ts, and the references to check it by.

usage: python3 _image_folder.py OUT_DIR EXPECT_DIR SIZES

OUT_DIR gets class folders (cats/, dogs/, birds/) of PNG and JPEG files of odd sizes in every
PNG colour type and bit depth (written by PIL, or by the small PNG writer below for what PIL
cannot write: 16-bit colour, 2/4-bit grey, colour-key tRNS, Adam7 interlacing, every row
filter), baseline and progressive JPEGs (grey, 4:4:4, 4:2:0), one truncated PNG, one text file
and one image outside the class folders.

EXPECT_DIR gets, per image file, what an independent decoder says it holds:
  NAME.decoded  the decoded samples at full size (PIL's decode; for hand-written PNGs the
                arrays they were written from, after checking PIL decodes them the same way),
                in the project's convention (see src/data/png_decode.ts): 1, 2, 3 or 4
                channels, 16-bit reduced to the high byte;
  NAME.S.F      for each size S (HxW) and fit F (stretch, crop): the image composited on
                black and area-averaged to S (see area_resize), not rounded, as float64
                H x W x 3;
and manifest.json: {NAME: {"w", "h", "c", "kind": "png" | "jpeg-444" | "jpeg-420" | ...}}.
"""

import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out, expect, sizes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
rng = np.random.RandomState(20261204)
manifest = {}
CLASSES = ["birds", "cats", "dogs"]


def smooth(h, w, c):
    """A smooth random picture (so JPEG's errors stay small), uint8 h x w x c."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, c))
    for k in range(c):
        a, b, p = rng.uniform(0.05, 0.4, 3)
        img[:, :, k] = 127.5 + 110 * np.sin(a * xx + p * 6) * np.cos(b * yy + k)
    return np.clip(np.round(img + rng.uniform(-8, 8, img.shape)), 0, 255).astype(np.uint8)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(rows, bpp):
    """Each row (bytes) with a random one of the five filters applied, led by its type."""
    outb = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for row in rows:
        t = int(rng.randint(0, 5))
        line = bytearray([t])
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][t]
            line.append((x - pred) & 255)
        outb += line
        prev = row
    return bytes(outb)


def pack_rows(samples, depth):
    """samples: h x w x s ints -> list of packed row bytes."""
    rows = []
    for r in samples:
        flat = r.reshape(-1)
        if depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in flat))
        elif depth == 8:
            rows.append(bytes(int(v) for v in flat))
        else:
            bits = "".join(format(int(v), "0%db" % depth) for v in flat)
            bits += "0" * (-len(bits) % 8)
            rows.append(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, depth, colour, interlace=False, trns=None, plte=None):
    h, w, s = samples.shape
    bpp = max(1, s * depth // 8)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        raw += filtered(pack_rows(sub, depth), bpp)
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, int(interlace)))
    if plte is not None:
        png += chunk(b"PLTE", plte)
    if trns is not None:
        png += chunk(b"tRNS", trns)
    png += chunk(b"tEXt", b"Comment\x00an ancillary chunk to skip")
    # Split the data over two IDAT chunks, as encoders may.
    z = zlib.compress(raw, 6)
    png += chunk(b"IDAT", z[: len(z) // 2]) + chunk(b"IDAT", z[len(z) // 2 :])
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def record(rel, decoded, kind, pil_rgba_float):
    """Save the decoded reference and the resized references of one file."""
    name = rel.replace("/", "__")
    h, w = decoded.shape[:2]
    c = decoded.shape[2] if decoded.ndim == 3 else 1
    decoded.astype(np.uint8).tofile(os.path.join(expect, name + ".decoded"))
    manifest[rel] = {"w": w, "h": h, "c": c, "kind": kind}
    rgb = pil_rgba_float  # h x w x 3 float64, composited on black
    for size in sizes:
        th, tw = map(int, size.split("x"))
        for fit in ("stretch", "crop"):
            area_resize(rgb, th, tw, fit).tofile(
                os.path.join(expect, "%s.%s.%s" % (name, size, fit))
            )


def area_resize(rgb, th, tw, fit):
    """Exact area averaging by replication: each source pixel is repeated f times along each
    axis, with f chosen so that every output footprint edge (and the centred crop box's edges)
    falls on a whole replicated pixel; then each output is the plain mean of its block.
    (PIL's BOX filter is not this: it takes or leaves a source pixel whole, by its centre.)"""
    h, w = rgb.shape[:2]
    if fit == "stretch":
        fy, fx = th, tw
        y0, x0, ch, cw = 0, 0, h * fy, w * fx
    elif w * th > h * tw:  # wider than the target: crop the sides
        fy = fx = 2 * th
        ch, cw = h * fy, 2 * h * tw
        y0, x0 = 0, (w * fx - cw) // 2
    else:
        fy = fx = 2 * tw
        ch, cw = 2 * w * th, w * fx
        y0, x0 = (h * fy - ch) // 2, 0
    big = np.repeat(np.repeat(rgb, fy, axis=0), fx, axis=1)[y0 : y0 + ch, x0 : x0 + cw]
    return big.reshape(th, ch // th, tw, cw // tw, 3).mean(axis=(1, 3))


def composite(decoded):
    """The project's convention: alpha times samples / 255, grey replicated to RGB; float64."""
    d = decoded.astype(np.float64)
    if d.ndim == 2:
        d = d[:, :, None]
    c = d.shape[2]
    if c in (2, 4):
        d = d[:, :, : c - 1] * d[:, :, c - 1 : c] / 255
    if d.shape[2] == 1:
        d = np.repeat(d, 3, axis=2)
    return d


def pil_png(rel, arr, mode, save_kw=None, convert=None):
    """Write with PIL, read back with PIL; convert: the mode matching the project's channels."""
    path = os.path.join(out, rel)
    Image.fromarray(arr, mode).save(path, **(save_kw or {}))
    im = Image.open(path)
    dec = np.asarray(im.convert(convert or im.mode))
    record(rel, dec, "png", composite(dec))


def hand_png(rel, samples, depth, colour, expected, interlace=False, trns=None, plte=None, pil_mode=None):
    """Write with the writer above; PIL must decode it to `expected` (mode pil_mode) too."""
    path = os.path.join(out, rel)
    write_png(path, samples, depth, colour, interlace, trns, plte)
    im = Image.open(path)
    im.load()
    if pil_mode is not None:
        got = np.asarray(im.convert(pil_mode))
        exp = expected if expected.ndim == got.ndim else expected.reshape(got.shape)
        assert np.array_equal(got, exp), "PIL disagrees with the written file " + rel
    record(rel, expected, "png", composite(expected))


def jpeg(rel, arr, kind, **kw):
    path = os.path.join(out, rel)
    mode = "L" if arr.ndim == 2 else "RGB"
    Image.fromarray(arr, mode).save(path, **kw)
    dec = np.asarray(Image.open(path).convert(mode))
    record(rel, dec, kind, composite(dec))


os.makedirs(expect, exist_ok=True)
for c in CLASSES:
    os.makedirs(os.path.join(out, c), exist_ok=True)

n = 0
for i in range(300):
    cls = CLASSES[i % 3]
    h, w = int(rng.randint(5, 41)), int(rng.randint(5, 41))
    rel = "%s/img%03d" % (cls, i)
    k = i % 20
    if k == 0:
        pil_png(rel + ".png", smooth(h, w, 1)[:, :, 0], "L")
    elif k == 1:
        pil_png(rel + ".png", smooth(h, w, 2), "LA")
    elif k == 2:
        pil_png(rel + ".png", smooth(h, w, 3), "RGB")
    elif k == 3:
        pil_png(rel + ".png", smooth(h, w, 4), "RGBA")
    elif k == 4:  # palette, 8-bit, with transparency
        im = Image.fromarray(smooth(h, w, 3), "RGB").quantize(200)
        path = os.path.join(out, rel + ".png")
        im.save(path, transparency=bytes(int(v) for v in rng.randint(0, 256, 200)))
        dec = np.asarray(Image.open(path).convert("RGBA"))
        record(rel + ".png", dec, "png", composite(dec))
    elif k == 5:  # palette, 4 colours -> PIL writes 2 bits per index
        im = Image.fromarray(smooth(h, w, 3), "RGB").quantize(4)
        path = os.path.join(out, rel + ".png")
        im.save(path, bits=2)
        dec = np.asarray(Image.open(path).convert("RGB"))
        record(rel + ".png", dec, "png", composite(dec))
    elif k == 6:  # 1-bit grey
        path = os.path.join(out, rel + ".png")
        grey = Image.fromarray(smooth(h, w, 1)[:, :, 0], "L")
        grey.convert("1", dither=Image.NONE).save(path)
        dec = np.asarray(Image.open(path).convert("L"))
        assert Image.open(path).mode == "1"
        record(rel + ".png", dec, "png", composite(dec))
    elif k == 7:  # 16-bit grey, interlaced
        s = rng.randint(0, 65536, (h, w, 1))
        hand_png(rel + ".png", s, 16, 0, (s >> 8)[:, :, 0].astype(np.uint8), interlace=True)
    elif k == 8:  # 16-bit RGB
        s = rng.randint(0, 65536, (h, w, 3))
        hand_png(rel + ".png", s, 16, 2, (s >> 8).astype(np.uint8))
    elif k == 9:  # 16-bit RGBA, interlaced
        s = rng.randint(0, 65536, (h, w, 4))
        hand_png(rel + ".png", s, 16, 6, (s >> 8).astype(np.uint8), interlace=True)
    elif k == 10:  # 16-bit grey + alpha
        s = rng.randint(0, 65536, (h, w, 2))
        hand_png(rel + ".png", s, 16, 4, (s >> 8).astype(np.uint8))
    elif k == 11:  # 2- and 4-bit grey, interlaced
        d = 2 if i % 40 == 11 else 4
        s = rng.randint(0, 1 << d, (h, w, 1))
        exp = (s * 255 // ((1 << d) - 1))[:, :, 0].astype(np.uint8)
        hand_png(rel + ".png", s, d, 0, exp, interlace=True, pil_mode="L")
    elif k == 12:  # RGB 8-bit with a colour key, interlaced
        s = rng.randint(0, 4, (h, w, 3)) * 60
        key = (60, 120, 0)
        keyed = np.all(s == key, axis=2)
        exp = np.concatenate([s, np.where(keyed, 0, 255)[:, :, None]], axis=2).astype(np.uint8)
        hand_png(rel + ".png", s, 8, 2, exp, interlace=True,
                 trns=struct.pack(">HHH", *key), pil_mode="RGBA")
    elif k == 13:  # grey 8-bit with a colour key
        s = rng.randint(0, 3, (h, w, 1)) * 100
        exp = np.concatenate([s, np.where(s == 100, 0, 255)], axis=2).astype(np.uint8)
        hand_png(rel + ".png", s, 8, 0, exp, trns=struct.pack(">H", 100), pil_mode="LA")
    elif k == 14:  # palette, 4-bit indices, interlaced, written by hand
        pal = rng.randint(0, 256, (16, 3)).astype(np.uint8)
        s = rng.randint(0, 16, (h, w, 1))
        hand_png(rel + ".png", s, 4, 3, pal[s[:, :, 0]], interlace=True,
                 plte=pal.tobytes(), pil_mode="RGB")
    elif k == 15:
        jpeg(rel + ".jpg", smooth(h, w, 1)[:, :, 0], "jpeg-grey", quality=95)
    elif k == 16:
        jpeg(rel + ".jpg", smooth(h, w, 3), "jpeg-444", quality=95, subsampling=0)
    elif k == 17:
        jpeg(rel + ".jpeg", smooth(h, w, 3), "jpeg-420", quality=95, subsampling=2)
    elif k == 18:
        jpeg(rel + ".jpg", smooth(h, w, 3), "jpeg-444-progressive", quality=95, subsampling=0,
             progressive=True)
    else:  # a PNG saved under a .jpg name: recognised by its bytes
        pil_png(rel + ".jpg", smooth(h, w, 3), "RGB", {"format": "PNG"})

# One damaged file (a PNG cut short), one text file, one image outside the class folders.
with open(os.path.join(out, "birds/img000.png"), "rb") as f:
    whole = f.read()
with open(os.path.join(out, "dogs/broken.png"), "wb") as f:
    f.write(whole[: len(whole) // 2])
with open(os.path.join(out, "birds/notes.txt"), "w") as f:
    f.write("not an image\n")
Image.fromarray(smooth(9, 9, 3), "RGB").save(os.path.join(out, "loose.png"))
with open(os.path.join(expect, "manifest.json"), "w") as f:
    json.dump(manifest, f)
