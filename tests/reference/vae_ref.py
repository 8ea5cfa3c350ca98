#!/usr/bin/python3
"""Reference for jf's SDXL-VAE (diffusers AutoencoderKL), written in plain PyTorch (f32) after the
architecture diffusers implements (Encoder/Decoder of models/autoencoders/vae.py, ResnetBlock2D,
UNetMidBlock2D with its single-head Attention, Downsample2D with padding 0, Upsample2D nearest ×2):
GroupNorm eps 1e-6, SiLU, 3×3 convolutions, quant_conv / post_quant_conv.

  golden TINY_DIR FULL_DIR GEN_GOLDEN OUT   TINY_DIR: `jf model random DIR --vae` (seed 1);
                                 FULL_DIR: `jf model random DIR --vae --full` (seed 1);
                                 GEN_GOLDEN: tests/data/janus_gen_golden.bin, whose final latents
                                 (the tiny pipeline's 3 guided steps) are decoded to 8-bit pixels

Golden layout (little-endian): b"JFVG1\\0\\0\\0", u64 word sum of TINY_DIR's weights, u64 of
FULL_DIR's, u32 n_records, then per record: char name[32] (NUL-padded), u32 stride, u32 count,
f32 values[count] = the output's values 0, stride, 2·stride, … (flattened NCHW; large outputs are
sampled to keep the file small).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import janus_ref as R  # noqa: E402  (safetensors reader, formula inputs, word sums)

torch.set_grad_enabled(False)


class VAE:
    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            self.cfg = json.load(f)
        self.path = os.path.join(d, "diffusion_pytorch_model.safetensors")
        self.wt = R.read_safetensors(self.path)
        self.groups = self.cfg["norm_num_groups"]
        self.bo = self.cfg["block_out_channels"]
        self.L = self.cfg["layers_per_block"]

    def conv(self, p, x, stride=1, pad=None):
        w = self.wt[p + ".weight"]
        return F.conv2d(x, w, self.wt[p + ".bias"], stride=stride, padding=w.shape[-1] // 2 if pad is None else pad)

    def gn(self, p, x):
        return F.group_norm(x, self.groups, self.wt[p + ".weight"], self.wt[p + ".bias"], eps=1e-6)

    def resnet(self, p, x):
        h = self.conv(p + ".conv1", F.silu(self.gn(p + ".norm1", x)))
        h = self.conv(p + ".conv2", F.silu(self.gn(p + ".norm2", h)))
        if p + ".conv_shortcut.weight" in self.wt:
            x = self.conv(p + ".conv_shortcut", x)
        return x + h

    def attention(self, p, x):
        B, C, H, W = x.shape
        names = ("to_q", "to_k", "to_v", "to_out.0") if p + ".to_q.weight" in self.wt else \
            ("query", "key", "value", "proj_attn")
        h = self.gn(p + ".group_norm", x).view(B, C, H * W).transpose(1, 2)

        def lin(n, t):
            w = self.wt[f"{p}.{n}.weight"].reshape(C, C)
            return t @ w.T + self.wt[f"{p}.{n}.bias"]

        q, k, v = lin(names[0], h), lin(names[1], h), lin(names[2], h)
        a = torch.softmax(q @ k.transpose(1, 2) * (C ** -0.5), dim=-1)
        o = lin(names[3], a @ v)
        return o.transpose(1, 2).reshape(B, C, H, W) + x

    def mid(self, half, x):
        x = self.resnet(f"{half}.mid_block.resnets.0", x)
        x = self.attention(f"{half}.mid_block.attentions.0", x)
        return self.resnet(f"{half}.mid_block.resnets.1", x)

    def decode(self, z):
        x = self.conv("post_quant_conv", z)
        x = self.conv("decoder.conv_in", x)
        x = self.mid("decoder", x)
        n = len(self.bo)
        for b in range(n):
            for j in range(self.L + 1):
                x = self.resnet(f"decoder.up_blocks.{b}.resnets.{j}", x)
            if b < n - 1:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
                x = self.conv(f"decoder.up_blocks.{b}.upsamplers.0.conv", x)
        x = F.silu(self.gn("decoder.conv_norm_out", x))
        return self.conv("decoder.conv_out", x)

    def encode(self, img):
        x = self.conv("encoder.conv_in", img)
        n = len(self.bo)
        for b in range(n):
            for j in range(self.L):
                x = self.resnet(f"encoder.down_blocks.{b}.resnets.{j}", x)
            if b < n - 1:
                x = self.conv(f"encoder.down_blocks.{b}.downsamplers.0.conv", F.pad(x, (0, 1, 0, 1)), stride=2, pad=0)
        x = self.mid("encoder", x)
        x = self.conv("encoder.conv_out", F.silu(self.gn("encoder.conv_norm_out", x)))
        x = self.conv("quant_conv", x)
        mean, logvar = x.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


def formula_map(C, H, W, salt):
    return R.formula_input(C * H, W, salt).reshape(1, C, H, W)


def gen_golden_record(path, name):
    """A record of tests/data/janus_gen_golden.bin (layout in janus_gen_ref.py)."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"JFGG2\0\0\0"
    n = struct.unpack_from("<I", raw, 24)[0]
    off = 28
    for _ in range(n):
        nm = raw[off:off + 32].rstrip(b"\0").decode()
        stride, count = struct.unpack_from("<II", raw, off + 32)
        if nm == name:
            return np.frombuffer(raw, dtype="<f4", count=count, offset=off + 40)
        off += 40 + 4 * count
    raise KeyError(name)


def golden(tiny_dir, full_dir, gen_golden, out):
    recs = []
    t = VAE(tiny_dir)
    # the tiny pipeline's final latents (janus_gen_golden f32/z, image 0) decoded as the README's
    # save_image does: clamp, ·0.5 + 0.5, ·255 + 0.5, then the cast to uint8 (truncation) — the
    # values before the cast are stored; the bytes are their integer parts
    z = torch.from_numpy(gen_golden_record(gen_golden, "f32/z").copy()).reshape(2, 4, 8, 8)[:1]
    img = t.decode(z / t.cfg["scaling_factor"]).clamp(-1, 1) * 0.5 + 0.5
    pre = img.mul(255).add(0.5).clamp(0, 255)
    recs.append(("pipeline/pre_cast", pre))
    z = formula_map(4, 8, 8, 1) * 0.5
    recs.append(("tiny/decode", t.decode(z)))
    img = formula_map(3, 64, 64, 2) * 0.5
    mean, logvar = t.encode(img)
    recs.append(("tiny/mean", mean))
    recs.append(("tiny/logvar", logvar))
    # single modules of the tiny VAE: decoder mid resnet 0, decoder attention, the first resnet
    # of the decoder's up block 2 (16 → 8, with a shortcut), the encoder's attention
    recs.append(("tiny/dec_mid0", t.resnet("decoder.mid_block.resnets.0", formula_map(16, 8, 8, 3))))
    recs.append(("tiny/dec_attn", t.attention("decoder.mid_block.attentions.0", formula_map(16, 8, 8, 4))))
    recs.append(("tiny/dec_up2_0", t.resnet("decoder.up_blocks.2.resnets.0", formula_map(16, 8, 8, 5))))
    recs.append(("tiny/enc_attn", t.attention("encoder.mid_block.attentions.0", formula_map(16, 8, 8, 6))))
    # one full-width module of each kind (the SDXL-VAE's shapes) on 6 × 6 maps
    f = VAE(full_dir)
    recs.append(("full/dec_mid0", f.resnet("decoder.mid_block.resnets.0", formula_map(512, 6, 6, 7))))
    recs.append(("full/dec_attn", f.attention("decoder.mid_block.attentions.0", formula_map(512, 6, 6, 8))))
    recs.append(("full/dec_up2_0", f.resnet("decoder.up_blocks.2.resnets.0", formula_map(512, 6, 6, 9))))
    recs.append(("full/enc_down1_0", f.resnet("encoder.down_blocks.1.resnets.0", formula_map(128, 6, 6, 10))))
    with open(out, "wb") as fo:
        fo.write(b"JFVG1\0\0\0")
        fo.write(struct.pack("<QQI", R.word_sum(t.path), R.word_sum(f.path), len(recs)))
        for name, v in recs:
            a = v.numpy().astype("<f4").ravel()
            stride = 1 if a.size <= 4096 or name.startswith("pipeline/") else 127 if name.startswith("full/") else 5
            a = a[::stride]
            fo.write(name.encode().ljust(32, b"\0"))
            fo.write(struct.pack("<II", stride, a.size))
            fo.write(a.tobytes())
    print(f"{out}: {len(recs)} records", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "golden":
        golden(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)
