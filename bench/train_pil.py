#!/usr/bin/python3
"""The Python + PIL side of bench/bench_train.sh: the same image preprocessing as jf train batches
on the same JPEGs, with a multiprocessing pool of 2 (as a DataLoader with 2 workers would):
generation (short side to 384, Pillow bilinear, a random 384 crop) or caption (letterbox to
384, Pillow bicubic, background 127) — PIL.Image.open + convert("RGB") + resize, the arrays
handed back to the parent. Tokenization is left out here (it favours this side).
usage: train_pil.py gen|caption JPG_DIR N   → prints samples/s"""
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image

SIDE = 384


def gen(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = (SIDE, int(SIDE * h / w)) if w <= h else (int(SIDE * w / h), SIDE)
    img = img.resize((ow, oh), Image.BILINEAR)
    x, y = random.randint(0, ow - SIDE), random.randint(0, oh - SIDE)
    return np.asarray(img.crop((x, y, x + SIDE, y + SIDE)))


def caption(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    m = max(w, h)
    nw, nh = max(int(w / m * SIDE), 14), max(int(h / m * SIDE), 14)
    out = Image.new("RGB", (SIDE, SIDE), (127, 127, 127))
    out.paste(img.resize((nw, nh), Image.BICUBIC), ((SIDE - nw) // 2, (SIDE - nh) // 2))
    return np.asarray(out)


if __name__ == "__main__":
    mode, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = [os.path.join(d, f) for f in sorted(os.listdir(d))[:n]]
    fn = gen if mode == "gen" else caption
    with Pool(2) as p:
        t0 = time.time()
        done = sum(1 for _ in p.imap(fn, files, chunksize=16))
        dt = time.time() - t0
    print(f"{done / dt:.1f}")
