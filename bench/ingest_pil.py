#!/usr/bin/python3
"""The natural Python baseline for `jf ingest`: read a WebDataset tar with tarfile, decode every
image with PIL (keep mode), or resize the shorter side to 256 with Lanczos and re-encode JPEG q95
(resize mode), and write the samples to a new WebDataset tar. One process, one core.
usage: ingest_pil.py keep|resize IN.tar OUT.tar   → prints images/s"""
import io
import sys
import tarfile
import time

from PIL import Image


def main(mode, src, dst):
    t0 = time.perf_counter()
    n = 0
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin:
            if not m.isreg():
                continue
            data = tin.extractfile(m).read()
            if m.name.endswith(".jpg"):
                im = Image.open(io.BytesIO(data))
                im.load()  # full decode: the check
                if mode == "resize":
                    w, h = im.size
                    s = 256 / min(w, h)
                    im = im.convert("RGB").resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
                    buf = io.BytesIO()
                    im.save(buf, "JPEG", quality=95)
                    data = buf.getvalue()
                n += 1
            info = tarfile.TarInfo(m.name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
    dt = time.perf_counter() - t0
    print(f"{n / dt:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
