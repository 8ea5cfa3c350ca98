#!/usr/bin/python3
"""Golden outputs of the FID preprocessing modes (eval/preprocess.c) from the reference
libraries themselves, on formula images of awkward sizes (1×N, odd upscales, same size,
non-integer downscales):
  clean         PIL Image.fromarray(channel as float32, 'F').resize((299, 299), BICUBIC), clip, (x−128)/128
  pytorch-fid   torch: x/255, F.interpolate(bilinear, align_corners=False), 2x−1
  legacy-tf     torch ops transcribing torch-fidelity's exact CPU TF1 bilinear, (x−128)/128
  torchmetrics  F.interpolate(bilinear, align_corners=False, antialias=True) on [0,255], (x−128)/128
  gigagan       torchvision-style centre crop + PIL LANCZOS to 256 on uint8
Image formula (uint8 HWC): (x·37 + y·11 + c·71 + (x·y mod 13)) mod 256.
Outputs are sampled every 191st element of [3][299][299] to keep the file small.
Layout: b"JFPP", u32 cases; per case u32 w, h; 4 modes × f32[ceil(268203/191)]; u8 gigagan[ceil(196608/191)].
"""
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

S = 299
STEP = 191


def image(w, h):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 37 + y * 11 + c * 71 + (x * y) % 13) % 256 for c in range(3)], -1).astype(np.uint8)


def clean(img):
    ch = []
    for c in range(3):
        r = Image.fromarray(img[:, :, c].astype(np.float32), mode="F").resize((S, S), resample=Image.BICUBIC)
        ch.append(np.asarray(r).clip(0, 255))
    x = torch.tensor(np.stack(ch, 0))
    return ((x - 128) / 128).numpy()


def pytorch_fid(img):
    x = torch.from_numpy(img).permute(2, 0, 1).contiguous().float().div(255)[None]
    x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False)
    return (2 * x - 1)[0].numpy()


def legacy_tf(img):
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None]
    h, w = x.shape[2:]
    sx, sy = torch.tensor(w / S, dtype=torch.float32), torch.tensor(h / S, dtype=torch.float32)
    gx = torch.arange(0, S, 1, dtype=torch.float32) * sx
    xl = gx.long()
    xh = (xl + 1).clamp_max(w - 1)
    dx = gx - xl.float()
    gy = torch.arange(0, S, 1, dtype=torch.float32) * sy
    yl = gy.long()
    yh = (yl + 1).clamp_max(h - 1)
    dy = gy - yl.float()
    a = x[:, :, yl, :][:, :, :, xl]
    b = x[:, :, yl, :][:, :, :, xh]
    c = x[:, :, yh, :][:, :, :, xl]
    d = x[:, :, yh, :][:, :, :, xh]
    top = a + (b - a) * dx.view(1, 1, 1, S)
    bot = c + (d - c) * dx.view(1, 1, 1, S)
    out = top + (bot - top) * dy.view(1, 1, S, 1)
    return ((out - 128) / 128)[0].numpy()


def torchmetrics(img):
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None]
    x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False, antialias=True)
    return ((x - 128) / 128)[0].numpy()


def gigagan(img):
    h, w = img.shape[:2]
    s = min(w, h)
    top, left = int(round((h - s) / 2.0)), int(round((w - s) / 2.0))
    crop = Image.fromarray(img[top:top + s, left:left + s])
    return np.asarray(crop.resize((256, 256), resample=Image.LANCZOS))


cases = [(1, 37), (23, 17), (299, 299), (640, 427), (300, 1000)]
with open(sys.argv[1], "wb") as f:
    f.write(b"JFPP" + struct.pack("<I", len(cases)))
    for w, h in cases:
        img = image(w, h)
        f.write(struct.pack("<2I", w, h))
        for fn in (clean, pytorch_fid, legacy_tf, torchmetrics):
            f.write(fn(img).astype("<f4").reshape(-1)[::STEP].tobytes())
        f.write(gigagan(img).reshape(-1)[::STEP].tobytes())
