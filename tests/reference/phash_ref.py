#!/usr/bin/python3
"""Golden data for jf_image_analyze: imagehash's pHash algorithm written out with PIL and
scipy (convert("L"), resize to 32x32 with LANCZOS, scipy.fftpack.dct along axis 0 then 1,
the 8x8 low frequencies against their median, row-major bits, first bit most significant),
plus the luminance standard deviation and histogram entropy.

Writes tests/data/phash_ref.bin: per case u32 size, the image bytes (PNG, or JPEG to be decoded
in full), u64 phash, f64 std, f64 entropy. Run with Debian's python3-pil and python3-scipy:
  /usr/bin/python3 tests/reference/phash_ref.py tests/data/phash_ref.bin
"""
import io
import struct
import sys

import numpy as np
import scipy.fftpack
from PIL import Image


def phash(im):
    g = im.convert("L").resize((32, 32), Image.LANCZOS)
    px = np.asarray(g, dtype=np.float64)
    d = scipy.fftpack.dct(scipy.fftpack.dct(px, axis=0), axis=1)
    low = d[:8, :8]
    bits = (low > np.median(low)).flatten()
    v = 0
    for b in bits:
        v = (v << 1) | int(b)
    return v


def stats(im):
    lum = np.asarray(im.convert("L"), dtype=np.float64)
    hist = np.bincount(lum.astype(np.uint8).ravel(), minlength=256) / lum.size
    nz = hist[hist > 0]
    return lum.std(), float(-(nz * np.log2(nz)).sum())


def picture(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 3) % 256], -1).astype(np.int32)
    cx, cy, r = rng.integers(0, w), rng.integers(0, h), max(3, min(w, h) // 3)
    a[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 256, 3)
    a += rng.integers(-6, 7, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def main(path):
    cases = [(64, 48, "PNG"), (100, 75, "PNG"), (31, 17, "PNG"), (200, 120, "PNG"), (33, 90, "PNG"),
             (160, 120, "JPEG"), (97, 61, "JPEG")]
    with open(path, "wb") as f:
        for i, (w, h, fmt) in enumerate(cases):
            buf = io.BytesIO()
            picture(w, h, i).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            data = buf.getvalue()
            im = Image.open(io.BytesIO(data))
            im.load()
            std, ent = stats(im.convert("RGB"))
            f.write(struct.pack("<I", len(data)) + data + struct.pack("<Qdd", phash(im.convert("RGB")), std, ent))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1])
