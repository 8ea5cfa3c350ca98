#!/usr/bin/python3
"""Photo-like images in every layout an image-text dataset holds, with imagehash's pHash and the
luminance statistics of each, computed the way imagehash and numpy compute them on the image as
Pillow opens it: image.convert("L") (alpha ignored, palettes looked up, grey kept), resized to
32x32 with LANCZOS, scipy.fftpack.dct along axis 0 then 1, the 8x8 low frequencies against their
median; std and histogram entropy of convert("L").

The pictures have the statistics of photographs rather than of test patterns: a 1/f amplitude
spectrum (natural-image power law) in luminance and colour, soft shadows, sharp-edged objects,
sensor noise, and JPEG at the qualities and chroma subsamplings found in LAION (4:2:0 mostly,
4:4:4, 4:2:2; baseline and progressive), sizes from thumbnails to 2 megapixels. This is the set
on which jf's default analysis must equal the reference exactly (and on which the reduced-scale
approximation measurably does not).

Usage: /usr/bin/python3 tests/reference/phash_photos.py OUT_DIR [COUNT]
Writes OUT_DIR/NNN.{jpg,png,webp} and OUT_DIR/reference.tsv (file, phash hex, mean, std, entropy).
Needs Debian's python3-pil, python3-numpy, python3-scipy.
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phash_ref import phash  # noqa: E402  imagehash's pHash written out (one definition for both scripts)


def stats(im):
    lum = np.asarray(im.convert("L"), dtype=np.float64)
    hist = np.bincount(lum.astype(np.uint8).ravel(), minlength=256) / lum.size
    nz = hist[hist > 0]
    return lum.mean(), lum.std(), float(-(nz * np.log2(nz)).sum())


def pink(rng, h, w, slope):
    """A field with amplitude ~ 1/f^slope, scaled to 0..1."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** slope
    spec[0, 0] = 0
    x = np.fft.irfft2(spec, s=(h, w))
    x -= x.min()
    return x / max(x.max(), 1e-9)


def upsample(a, w, h):
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((w, h), Image.BICUBIC), dtype=np.float64)


def photo(rng, w, h):
    # the low frequencies at a quarter of the size (fast), detail from the noise added below
    lw, lh = max(8, w // 4), max(8, h // 4)
    lum = upsample(pink(rng, lh, lw, rng.uniform(0.9, 1.4)), w, h)
    col = np.stack([upsample(pink(rng, lh, lw, 1.6), w, h) for _ in range(3)], -1)
    tint = rng.uniform(0.3, 1.0, 3)
    base = 255 * (0.65 * lum[..., None] * tint + 0.35 * col)
    # a light falling off across the frame
    y, x = np.mgrid[0:h, 0:w]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    light = 1.2 - 0.7 * np.hypot(x - cx, y - cy) / np.hypot(w, h)
    img = Image.fromarray(np.clip(base * light[..., None], 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(rng.integers(2, 9)):  # objects with sharp edges
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.6) * w, y0 + rng.uniform(0.05, 0.6) * h
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=fill)
    img = img.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 1.5)))
    a = np.asarray(img, dtype=np.float64) + rng.normal(0, rng.uniform(1, 6), (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def encode(rng, i, img):
    """The image in one of the layouts datasets hold; returns (bytes, extension)."""
    kind = i % 13
    buf = io.BytesIO()
    if kind <= 4:  # JPEG, the bulk of LAION: qualities and subsamplings as found
        sub = [2, 2, 2, 0, 1][kind]
        img.save(buf, "JPEG", quality=int(rng.integers(55, 96)), subsampling=sub,
                 progressive=bool(rng.random() < 0.3), optimize=bool(rng.random() < 0.5))
        return buf.getvalue(), "jpg"
    if kind == 5:  # greyscale JPEG
        img.convert("L").save(buf, "JPEG", quality=int(rng.integers(60, 95)))
        return buf.getvalue(), "jpg"
    if kind == 6:  # PNG with an alpha channel (alpha ignored by convert("L"))
        a = np.asarray(img.convert("L"), dtype=np.uint8)[..., None]
        Image.fromarray(np.concatenate([np.asarray(img), 255 - a], -1), "RGBA").save(buf, "PNG")
        return buf.getvalue(), "png"
    if kind == 7:  # palette PNG with a transparent entry
        p = img.quantize(64)
        p.info["transparency"] = 0
        p.save(buf, "PNG", transparency=0)
        return buf.getvalue(), "png"
    if kind == 8:  # lossy WebP
        img.save(buf, "WEBP", quality=int(rng.integers(60, 95)))
        return buf.getvalue(), "webp"
    if kind == 9:  # greyscale PNG
        img.convert("L").save(buf, "PNG")
        return buf.getvalue(), "png"
    if kind == 10:  # CMYK JPEG (print-ready photos on the web)
        img.convert("CMYK").save(buf, "JPEG", quality=int(rng.integers(70, 95)))
        return buf.getvalue(), "jpg"
    if kind == 11:  # 16 bits per channel (Pillow keeps the high byte)
        return png_raw(np.asarray(img, dtype=np.uint16) * 257 + rng.integers(0, 256, (img.height, img.width, 3)), 16), "png"
    return png_raw(np.asarray(img), 8, gamma=100000), "png"  # a gAMA chunk (1.0), which Pillow does not apply


def png_raw(a, depth, gamma=None):
    """An RGB PNG written by hand: 16-bit channels and gAMA chunks as other writers make them."""
    import struct
    import zlib
    h, w = a.shape[:2]
    raw = b"".join(b"\0" + a[y].astype(">u2" if depth == 16 else "u1").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0)) +
            (chunk(b"gAMA", struct.pack(">I", gamma)) if gamma else b"") +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main(out, count):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261201)
    rows = []
    for i in range(count):
        side = int(rng.integers(96, 1100))
        aspect = float(rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16, 1.25]))
        w, h = (side, max(16, int(side / aspect))) if rng.random() < 0.5 else (max(16, int(side * aspect)), side)
        data, ext = encode(rng, i, photo(rng, w, h))
        name = "%03d.%s" % (i, ext)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data))
        im.load()
        mean, std, ent = stats(im)
        rows.append("%s\t%016x\t%.17g\t%.17g\t%.17g\n" % (name, phash(im), mean, std, ent))
    with open(os.path.join(out, "reference.tsv"), "w") as f:
        f.writelines(rows)
    print("wrote %d images and reference.tsv to %s" % (count, out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60)
