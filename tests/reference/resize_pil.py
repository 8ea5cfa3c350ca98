#!/usr/bin/python3
"""Golden data for jf_resample_rgb: Pillow's Image.resize on RGB images of awkward sizes.

Writes tests/data/resize_pil.bin: for each case a little-endian header
  u32 w, h, ow, oh, filter (0 lanczos, 1 bicubic, 2 bilinear, 3 box)
then w*h*3 input bytes and ow*oh*3 expected bytes. Run with Debian's python3-pil:
  /usr/bin/python3 tests/reference/resize_pil.py tests/data/resize_pil.bin
"""
import struct
import sys

import numpy as np
from PIL import Image

FILTERS = [(Image.LANCZOS, 0), (Image.BICUBIC, 1), (Image.BILINEAR, 2), (Image.BOX, 3)]
SIZES = [(1, 17, 1, 5), (37, 23, 16, 16), (96, 64, 40, 27), (31, 7, 100, 23), (60, 40, 59, 41), (5, 90, 2, 61),
         (17, 17, 17, 3), (8, 8, 24, 24)]


def main(path):
    rng = np.random.default_rng(20261126)
    with open(path, "wb") as f:
        for (w, h, ow, oh) in SIZES:
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            # half smooth gradient, half noise: both rounding regimes
            a[: h // 2] = (np.arange(w)[None, :, None] * 255 // max(w - 1, 1)).astype(np.uint8)
            for pil_filter, fid in FILTERS:
                r = np.asarray(Image.fromarray(a).resize((ow, oh), pil_filter))
                f.write(struct.pack("<5I", w, h, ow, oh, fid))
                f.write(a.tobytes())
                f.write(np.ascontiguousarray(r).tobytes())
    print("Pillow", Image.__version__, "->", path)


if __name__ == "__main__":
    main(sys.argv[1])
