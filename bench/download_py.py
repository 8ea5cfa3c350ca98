#!/usr/bin/python3
"""Python baseline for URL-list ingestion (what img2dataset does per process): 64 download
threads (urllib), PIL decode of every image, samples written to a WebDataset tar.
usage: download_py.py URLS.csv OUT.tar   → prints images/s"""
import concurrent.futures
import io
import sys
import tarfile
import time
import urllib.request

from PIL import Image


def fetch(url):
    with urllib.request.urlopen(url, timeout=20) as r:
        data = r.read()
    im = Image.open(io.BytesIO(data))
    im.load()
    return data


def main(src, dst):
    rows = [line.split(",")[0] for line in open(src).read().splitlines()[1:] if line]
    t0 = time.perf_counter()
    n = 0
    with tarfile.open(dst, "w") as tout, concurrent.futures.ThreadPoolExecutor(64) as pool:
        for i, data in enumerate(pool.map(fetch, rows)):
            info = tarfile.TarInfo(f"{i:09d}.jpg")
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
            n += 1
    print(f"{n / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
