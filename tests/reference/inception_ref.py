#!/usr/bin/python3
"""Reference for jf's FID Inception-v3 (model/inception.c), written from evaluation.md §1.3 in
plain PyTorch f32: BasicConv2d = conv (no bias) → BatchNorm (eval, eps 0.001) → ReLU; the FID
blocks A/C/E_1/E_2 (average pools with count_include_pad=False, max pool in Mixed_7c).

Weights and images come from a formula that tests/test_model.c computes identically, so that
the golden file holds only outputs:
  weight tensor t (in the table order, 5 per conv: conv.weight, bn.weight, bn.bias,
  bn.running_mean, bn.running_var), element i:
    h = ((i + 1) * 0x9E3779B97F4A7C15 + (t + 1) * 0xBF58476D1CE4E5B9) mod 2^64; h ^= h >> 29
    u = (h >> 11) * 2^-53
    conv.weight = float32((u - 0.5) * 2 * sqrt(6 / fan_in))
    bn.weight = float32(1 + 0.2 * (u - 0.5)), bn.bias = float32(0.2 * (u - 0.5)),
    running_mean = float32(0.2 * (u - 0.5)), running_var = float32(0.5 + u)
  image b, element i (NCHW flat): float32(((i * 40503 + b * 977) mod 65536) / 32768 - 1)

  golden OUT.bin       features of 3 images: b"JFIN", u32 batch, f32 [batch][2048]
  pth OUT.pth          the same weights as a PyTorch checkpoint with pytorch-fid's names
  bench PTH N THREADS  PyTorch images/s on N random images (for bench/bench_eval.sh)
"""
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)

M64 = (1 << 64) - 1


def conv_table():
    t = [("Conv2d_1a_3x3", 3, 32, 3, 3, 2, 2, 0, 0), ("Conv2d_2a_3x3", 32, 32, 3, 3, 1, 1, 0, 0),
         ("Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1, 1), ("Conv2d_3b_1x1", 64, 80, 1, 1, 1, 1, 0, 0),
         ("Conv2d_4a_3x3", 80, 192, 3, 3, 1, 1, 0, 0)]
    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        t += [(f"{name}.branch1x1", cin, 64, 1, 1, 1, 1, 0, 0), (f"{name}.branch5x5_1", cin, 48, 1, 1, 1, 1, 0, 0),
              (f"{name}.branch5x5_2", 48, 64, 5, 5, 1, 1, 2, 2), (f"{name}.branch3x3dbl_1", cin, 64, 1, 1, 1, 1, 0, 0),
              (f"{name}.branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1, 1), (f"{name}.branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1, 1),
              (f"{name}.branch_pool", cin, pool, 1, 1, 1, 1, 0, 0)]
    t += [("Mixed_6a.branch3x3", 288, 384, 3, 3, 2, 2, 0, 0), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1, 1, 1, 0, 0),
          ("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1, 1), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3, 2, 2, 0, 0)]
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        t += [(f"{name}.branch1x1", 768, 192, 1, 1, 1, 1, 0, 0), (f"{name}.branch7x7_1", 768, c7, 1, 1, 1, 1, 0, 0),
              (f"{name}.branch7x7_2", c7, c7, 1, 7, 1, 1, 0, 3), (f"{name}.branch7x7_3", c7, 192, 7, 1, 1, 1, 3, 0),
              (f"{name}.branch7x7dbl_1", 768, c7, 1, 1, 1, 1, 0, 0), (f"{name}.branch7x7dbl_2", c7, c7, 7, 1, 1, 1, 3, 0),
              (f"{name}.branch7x7dbl_3", c7, c7, 1, 7, 1, 1, 0, 3), (f"{name}.branch7x7dbl_4", c7, c7, 7, 1, 1, 1, 3, 0),
              (f"{name}.branch7x7dbl_5", c7, 192, 1, 7, 1, 1, 0, 3), (f"{name}.branch_pool", 768, 192, 1, 1, 1, 1, 0, 0)]
    t += [("Mixed_7a.branch3x3_1", 768, 192, 1, 1, 1, 1, 0, 0), ("Mixed_7a.branch3x3_2", 192, 320, 3, 3, 2, 2, 0, 0),
          ("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1, 1, 1, 0, 0), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7, 1, 1, 0, 3),
          ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1, 1, 1, 3, 0), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3, 2, 2, 0, 0)]
    for name, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        t += [(f"{name}.branch1x1", cin, 320, 1, 1, 1, 1, 0, 0), (f"{name}.branch3x3_1", cin, 384, 1, 1, 1, 1, 0, 0),
              (f"{name}.branch3x3_2a", 384, 384, 1, 3, 1, 1, 0, 1), (f"{name}.branch3x3_2b", 384, 384, 3, 1, 1, 1, 1, 0),
              (f"{name}.branch3x3dbl_1", cin, 448, 1, 1, 1, 1, 0, 0), (f"{name}.branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1, 1),
              (f"{name}.branch3x3dbl_3a", 384, 384, 1, 3, 1, 1, 0, 1), (f"{name}.branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 1, 0),
              (f"{name}.branch_pool", cin, 192, 1, 1, 1, 1, 0, 0)]
    return t


def formula_u(t, n):
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(((t + 1) * 0xBF58476D1CE4E5B9) & M64)
        h ^= h >> np.uint64(29)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def formula_weights():
    sd = {}
    t = 0
    for name, cin, cout, kh, kw, *_ in conv_table():
        fan_in = cin * kh * kw
        u = formula_u(t, cout * fan_in)
        sd[f"{name}.conv.weight"] = ((u - 0.5) * 2.0 * math.sqrt(6.0 / fan_in)).astype(np.float32).reshape(cout, cin, kh, kw)
        u = formula_u(t + 1, cout)
        sd[f"{name}.bn.weight"] = (1.0 + 0.2 * (u - 0.5)).astype(np.float32)
        u = formula_u(t + 2, cout)
        sd[f"{name}.bn.bias"] = (0.2 * (u - 0.5)).astype(np.float32)
        u = formula_u(t + 3, cout)
        sd[f"{name}.bn.running_mean"] = (0.2 * (u - 0.5)).astype(np.float32)
        u = formula_u(t + 4, cout)
        sd[f"{name}.bn.running_var"] = (0.5 + u).astype(np.float32)
        t += 5
    return {k: torch.from_numpy(v) for k, v in sd.items()}


def formula_images(batch):
    n = 3 * 299 * 299
    i = np.arange(n, dtype=np.int64)
    return torch.from_numpy(np.stack([(((i * 40503 + b * 977) % 65536) / 32768.0 - 1.0).astype(np.float32)
                                      for b in range(batch)]).reshape(batch, 3, 299, 299))


def inception(sd, x):
    table = {c[0]: c for c in conv_table()}

    def bc(name, x):
        _, _, _, _, _, sh, sw, ph, pw = table[name]
        x = F.conv2d(x, sd[f"{name}.conv.weight"], None, (sh, sw), (ph, pw))
        x = F.batch_norm(x, sd[f"{name}.bn.running_mean"], sd[f"{name}.bn.running_var"], sd[f"{name}.bn.weight"],
                         sd[f"{name}.bn.bias"], False, 0.0, 0.001)
        return F.relu(x)

    def avg(x):
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    x = bc("Conv2d_1a_3x3", x)
    x = bc("Conv2d_2a_3x3", x)
    x = bc("Conv2d_2b_3x3", x)
    x = F.max_pool2d(x, 3, 2)
    x = bc("Conv2d_3b_1x1", x)
    x = bc("Conv2d_4a_3x3", x)
    x = F.max_pool2d(x, 3, 2)
    for n in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        x = torch.cat([bc(f"{n}.branch1x1", x), bc(f"{n}.branch5x5_2", bc(f"{n}.branch5x5_1", x)),
                       bc(f"{n}.branch3x3dbl_3", bc(f"{n}.branch3x3dbl_2", bc(f"{n}.branch3x3dbl_1", x))),
                       bc(f"{n}.branch_pool", avg(x))], 1)
    n = "Mixed_6a"
    x = torch.cat([bc(f"{n}.branch3x3", x),
                   bc(f"{n}.branch3x3dbl_3", bc(f"{n}.branch3x3dbl_2", bc(f"{n}.branch3x3dbl_1", x))),
                   F.max_pool2d(x, 3, 2)], 1)
    for n in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        b7 = bc(f"{n}.branch7x7_3", bc(f"{n}.branch7x7_2", bc(f"{n}.branch7x7_1", x)))
        bd = x
        for k in range(1, 6):
            bd = bc(f"{n}.branch7x7dbl_{k}", bd)
        x = torch.cat([bc(f"{n}.branch1x1", x), b7, bd, bc(f"{n}.branch_pool", avg(x))], 1)
    n = "Mixed_7a"
    b3 = bc(f"{n}.branch3x3_2", bc(f"{n}.branch3x3_1", x))
    b7 = x
    for k in range(1, 5):
        b7 = bc(f"{n}.branch7x7x3_{k}", b7)
    x = torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)
    for n, pool in (("Mixed_7b", avg), ("Mixed_7c", lambda v: F.max_pool2d(v, 3, 1, 1))):
        t = bc(f"{n}.branch3x3_1", x)
        d = bc(f"{n}.branch3x3dbl_2", bc(f"{n}.branch3x3dbl_1", x))
        x = torch.cat([bc(f"{n}.branch1x1", x), bc(f"{n}.branch3x3_2a", t), bc(f"{n}.branch3x3_2b", t),
                       bc(f"{n}.branch3x3dbl_3a", d), bc(f"{n}.branch3x3dbl_3b", d), bc(f"{n}.branch_pool", pool(x))], 1)
    return x.mean(dim=(2, 3))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        feats = inception(formula_weights(), formula_images(3))
        with open(sys.argv[2], "wb") as f:
            f.write(b"JFIN" + struct.pack("<I", feats.shape[0]))
            f.write(feats.numpy().astype("<f4").tobytes())
        print(f"features: mean {float(feats.mean()):.4f}, std {float(feats.std()):.4f}", file=sys.stderr)
    elif len(sys.argv) == 3 and sys.argv[1] == "pth":
        torch.save(formula_weights(), sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "bench":
        torch.set_num_threads(int(sys.argv[4]))
        sd = torch.load(sys.argv[2])
        n = int(sys.argv[3])
        x = formula_images(n)
        inception(sd, x[:1])  # warm-up
        t0 = time.time()
        for b in range(0, n, 8):
            inception(sd, x[b:b + 8])
        print(f'{{"images_per_s": {n / (time.time() - t0):.3f}, "threads": {torch.get_num_threads()}}}')
    else:
        sys.exit(__doc__)
