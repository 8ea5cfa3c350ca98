#!/usr/bin/python3
"""Golden letterboxes for jf_image_letterbox: the JanusFlow image processor's resize (each side
int(side / long * size), at least min_size, PIL bicubic — what torchvision's resize does with a
PIL image) and expand2square (centred on a background square), done with PIL itself.

Usage: letterbox_pil.py OUT.bin
Layout: b"JFLB", u32 count; per case u32 w, h, size, min_size, u8 bg[3], u8 pad,
u8 src[h*w*3], u8 out[size*size*3].
"""
import struct
import sys

import numpy as np
from PIL import Image


def letterbox(img, size, min_size, bg):
    w, h = img.size
    m = max(w, h)
    nh, nw = max(int(h / m * size), min_size), max(int(w / m * size), min_size)
    img = img.resize((nw, nh), Image.BICUBIC)
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), bg)
    out.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    return out


rng = np.random.default_rng(5)
cases = [(37, 23, 32, 14, (127, 127, 127)), (20, 50, 32, 14, (122, 116, 104)), (64, 64, 32, 14, (127, 127, 127)),
         (300, 7, 48, 14, (127, 127, 127)), (9, 11, 40, 14, (0, 0, 0)), (101, 99, 64, 14, (127, 127, 127))]
with open(sys.argv[1], "wb") as f:
    f.write(b"JFLB" + struct.pack("<I", len(cases)))
    for w, h, size, mn, bg in cases:
        # smooth content plus noise, so both the filter and the rounding matter
        yy, xx = np.mgrid[0:h, 0:w]
        src = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), (xx * yy) % 256], -1)
        src = np.clip(src + rng.integers(-40, 40, src.shape), 0, 255).astype(np.uint8)
        out = np.asarray(letterbox(Image.fromarray(src, "RGB"), size, mn, bg))
        assert out.shape == (size, size, 3)
        f.write(struct.pack("<4I3BB", w, h, size, mn, *bg, 0))
        f.write(src.tobytes())
        f.write(out.tobytes())
