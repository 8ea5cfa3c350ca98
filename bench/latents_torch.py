#!/usr/bin/python3
"""The PyTorch side of bench/bench_latents.sh: the same crops as `jf shard encode-latents --crop
center` (PIL: short side to 384 bilinear, torchvision's centre crop) through the plain-PyTorch
SDXL-VAE encoder of tests/reference/vae_ref.py (f32), one image at a time; prints seconds per
image (encoder only) and the largest difference of the posterior mean from jf's stored float32
moments (each .npy given).
usage: latents_torch.py VAE_DIR SIDE THREADS JPG:NPY...  → JSON"""
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import vae_ref  # noqa: E402

torch.set_grad_enabled(False)


def crop(path, side):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
    img = img.resize((ow, oh), Image.BILINEAR)
    x, y = int(round((ow - side) / 2.0)), int(round((oh - side) / 2.0))
    a = np.asarray(img.crop((x, y, x + side, y + side)), dtype=np.float32) / 255.0
    return torch.from_numpy((a.transpose(2, 0, 1) - 0.5) / 0.5)[None]


vae = vae_ref.VAE(sys.argv[1])
side = int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]))
times, err = [], 0.0
for pair in sys.argv[4:]:
    jpg, npy = pair.split(":")
    x = crop(jpg, side)
    t0 = time.perf_counter()
    mean, logvar = vae.encode(x)
    times.append(time.perf_counter() - t0)
    ours = np.load(npy)[0]
    err = max(err, float(np.abs(ours - mean[0].numpy()).max() / np.abs(mean[0].numpy()).max()))
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "images": len(times),
                  "encode_s": min(times), "encode_s_mean": sum(times) / len(times), "mean_max_rel_err": err}))
