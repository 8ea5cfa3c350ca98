#!/usr/bin/python3
"""Reference for jf's CLIP (model/clip.c) and its image preprocessing (eval/clipscore.c),
written from evaluation.md §2 in plain PyTorch f32 and PIL.

Formula weights (jf_clip_write_formula writes the same): tensors in the inventory order below,
tensor t, element i: h = ((i + 1)·0x9E3779B97F4A7C15 + (t + 1)·0xBF58476D1CE4E5B9) mod 2^64,
h ^= h >> 29, u = (h >> 11)·2^-53; matrices (u − 0.5)·2·sqrt(3 / fan_in), LayerNorm weights
1 + 0.2(u − 0.5), biases 0.1(u − 0.5), embeddings u − 0.5; all rounded to float32.

  bench N THREADS  PyTorch images/s of the ViT-L/14 vision tower with formula weights
  golden-l14-layer OUT.bin  the same at ViT-L/14 width with one layer per tower (see below)
  golden OUT.bin   text embeddings of fixed id sequences, image embeddings of formula pixels, and
                   CLIP preprocessing (HF PIL path and OpenAI path) of formula images
Layout: b"JFCL", u32 n_text, n_img, embed; per text: u32 eot, i32 ids[77], f32 emb[embed];
per image: f32 pixels[3·32·32] (formula), f32 emb[embed]; then u32 n_pre; per case u32 w, h,
size, openai; f32 out[3·size·size].
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

torch.set_grad_enabled(False)
M64 = (1 << 64) - 1

SHAPE = dict(vocab=600, context=77, text_width=64, text_layers=2, text_heads=2, text_mlp=128, vision_width=64,
             vision_layers=2, vision_heads=2, vision_mlp=128, patch=8, image_size=32, embed_dim=48)


def inventory(s):
    t = [("text_model.embeddings.token_embedding.weight", [s["vocab"], s["text_width"]], 3),
         ("text_model.embeddings.position_embedding.weight", [s["context"], s["text_width"]], 3)]
    g = s["image_size"] // s["patch"]
    t += [("vision_model.embeddings.class_embedding", [s["vision_width"]], 3),
          ("vision_model.embeddings.patch_embedding.weight", [s["vision_width"], 3, s["patch"], s["patch"]], 0),
          ("vision_model.embeddings.position_embedding.weight", [g * g + 1, s["vision_width"]], 3),
          ("vision_model.pre_layrnorm.weight", [s["vision_width"]], 1),
          ("vision_model.pre_layrnorm.bias", [s["vision_width"]], 2)]
    for tower, W, L, Fd in (("text_model", s["text_width"], s["text_layers"], s["text_mlp"]),
                            ("vision_model", s["vision_width"], s["vision_layers"], s["vision_mlp"])):
        for i in range(L):
            p = f"{tower}.encoder.layers.{i}."
            t += [(p + "layer_norm1.weight", [W], 1), (p + "layer_norm1.bias", [W], 2)]
            for pr in ("q_proj", "k_proj", "v_proj", "out_proj"):
                t += [(p + f"self_attn.{pr}.weight", [W, W], 0), (p + f"self_attn.{pr}.bias", [W], 2)]
            t += [(p + "layer_norm2.weight", [W], 1), (p + "layer_norm2.bias", [W], 2),
                  (p + "mlp.fc1.weight", [Fd, W], 0), (p + "mlp.fc1.bias", [Fd], 2),
                  (p + "mlp.fc2.weight", [W, Fd], 0), (p + "mlp.fc2.bias", [W], 2)]
    t += [("text_model.final_layer_norm.weight", [s["text_width"]], 1),
          ("text_model.final_layer_norm.bias", [s["text_width"]], 2),
          ("vision_model.post_layernorm.weight", [s["vision_width"]], 1),
          ("vision_model.post_layernorm.bias", [s["vision_width"]], 2),
          ("visual_projection.weight", [s["embed_dim"], s["vision_width"]], 0),
          ("text_projection.weight", [s["embed_dim"], s["text_width"]], 0)]
    return t


def formula(s):
    wt = {}
    for t, (name, shape, kind) in enumerate(inventory(s)):
        n = int(np.prod(shape))
        i = np.arange(1, n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            h = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(((t + 1) * 0xBF58476D1CE4E5B9) & M64)
            h ^= h >> np.uint64(29)
        u = (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        v = {0: (u - 0.5) * 2.0 * np.sqrt(3.0 / fan), 1: 1.0 + 0.2 * (u - 0.5), 2: 0.1 * (u - 0.5), 3: u - 0.5}[kind]
        wt[name] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return wt


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def tower(wt, prefix, x, layers, heads, causal):
    n, W = x.shape
    hd = W // heads
    mask = torch.full((n, n), float("-inf")).triu(1) if causal else torch.zeros(n, n)
    for i in range(layers):
        p = f"{prefix}.encoder.layers.{i}."
        h = F.layer_norm(x, (W,), wt[p + "layer_norm1.weight"], wt[p + "layer_norm1.bias"], 1e-5)
        q, k, v = (F.linear(h, wt[p + f"self_attn.{r}.weight"], wt[p + f"self_attn.{r}.bias"]).reshape(n, heads, hd)
                   .transpose(0, 1) for r in ("q_proj", "k_proj", "v_proj"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
        x = x + F.linear(a.transpose(0, 1).reshape(n, W), wt[p + "self_attn.out_proj.weight"], wt[p + "self_attn.out_proj.bias"])
        h = F.layer_norm(x, (W,), wt[p + "layer_norm2.weight"], wt[p + "layer_norm2.bias"], 1e-5)
        x = x + F.linear(quick_gelu(F.linear(h, wt[p + "mlp.fc1.weight"], wt[p + "mlp.fc1.bias"])),
                         wt[p + "mlp.fc2.weight"], wt[p + "mlp.fc2.bias"])
    return x


def text_embed(wt, s, ids):
    x = wt["text_model.embeddings.token_embedding.weight"][torch.tensor(ids)] + \
        wt["text_model.embeddings.position_embedding.weight"][: len(ids)]
    x = tower(wt, "text_model", x, s["text_layers"], s["text_heads"], True)
    x = F.layer_norm(x, (s["text_width"],), wt["text_model.final_layer_norm.weight"], wt["text_model.final_layer_norm.bias"], 1e-5)
    eot = int(np.argmax(ids))  # the legacy pooling: first position of the largest id (EOT)
    return F.linear(x[eot], wt["text_projection.weight"]), eot


def image_embed(wt, s, pix):
    W = s["vision_width"]
    x = F.conv2d(pix[None], wt["vision_model.embeddings.patch_embedding.weight"], None, s["patch"])
    x = x.flatten(2).transpose(1, 2)[0]
    x = torch.cat([wt["vision_model.embeddings.class_embedding"][None], x]) + wt["vision_model.embeddings.position_embedding.weight"]
    x = F.layer_norm(x, (W,), wt["vision_model.pre_layrnorm.weight"], wt["vision_model.pre_layrnorm.bias"], 1e-5)
    x = tower(wt, "vision_model", x, s["vision_layers"], s["vision_heads"], False)
    x = F.layer_norm(x[0], (W,), wt["vision_model.post_layernorm.weight"], wt["vision_model.post_layernorm.bias"], 1e-5)
    return F.linear(x, wt["visual_projection.weight"])


MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def preprocess(img, size, openai):
    """HF CLIPImageProcessor (PIL path) or OpenAI clip._transform."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    img = img.resize((nw, nh), Image.BICUBIC)
    a = np.asarray(img)
    if openai:
        top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
        a = a[top:top + size, left:left + size]
        x = torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255)
        x = (x - torch.from_numpy(MEAN)[:, None, None]) / torch.from_numpy(STD)[:, None, None]
        return x.numpy()
    top, left = (nh - size) // 2, (nw - size) // 2
    a = a[top:top + size, left:left + size]
    x = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)


def image(w, h):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 37 + y * 11 + c * 71 + (x * y) % 13) % 256 for c in range(3)], -1).astype(np.uint8)


L14 = dict(vocab=49408, context=77, text_width=768, text_layers=12, text_heads=12, text_mlp=3072, vision_width=1024,
           vision_layers=24, vision_heads=16, vision_mlp=4096, patch=14, image_size=224, embed_dim=768)


def bench(n, threads):
    """PyTorch images/s through the ViT-L/14 vision tower with the formula weights."""
    import json
    import time
    torch.set_num_threads(threads)
    wt = formula(L14)
    i = np.arange(3 * 224 * 224, dtype=np.int64)
    pix = torch.from_numpy((((i * 40503) % 65536) / 32768.0 - 1.0).astype(np.float32).reshape(3, 224, 224))
    image_embed(wt, L14, pix)
    t0 = time.time()
    for _ in range(n):
        image_embed(wt, L14, pix)
    print(json.dumps({"images_per_s": n / (time.time() - t0), "threads": torch.get_num_threads()}))


def golden_l14_layer(path):
    """The ViT-L/14 widths with one layer per tower (as jf_clip_l14_shape() with text_layers =
    vision_layers = 1): text embeddings of two id sequences and the image embedding of formula
    pixels ((i·40503 mod 65536) / 32768 − 1 over 3·224·224).
    Layout: b"JFCM", u32 n_text, embed; per text: u32 eot, i32 ids[77], f32 emb[embed]; then f32
    image_emb[embed]."""
    s = dict(L14, text_layers=1, vision_layers=1)
    wt = formula(s)
    sot, eot = s["vocab"] - 2, s["vocab"] - 1
    texts = [[sot, 320, 1125, 539, 320, 2368, eot], [sot] + [((7919 * k) % 49000) for k in range(75)] + [eot]]
    out = bytearray(b"JFCM") + struct.pack("<2I", len(texts), s["embed_dim"])
    for t in texts:
        ids = t + [eot] * (77 - len(t))
        e, pos = text_embed(wt, s, ids)
        out += struct.pack("<I", pos) + np.array(ids, dtype="<i4").tobytes() + e.numpy().astype("<f4").tobytes()
    i = np.arange(3 * 224 * 224, dtype=np.int64)
    pix = torch.from_numpy((((i * 40503) % 65536) / 32768.0 - 1.0).astype(np.float32).reshape(3, 224, 224))
    out += image_embed(wt, s, pix).numpy().astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(bytes(out))


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "bench":
    bench(int(sys.argv[2]), int(sys.argv[3]))
    sys.exit(0)

if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "golden-l14-layer":
    golden_l14_layer(sys.argv[2])
    sys.exit(0)

if __name__ == "__main__":
    s = SHAPE
    wt = formula(s)
    sot, eot = s["vocab"] - 2, s["vocab"] - 1
    texts = [[sot, 72, 101, 108, 108, 111, eot], [sot] + list(range(300, 330)) + [eot],
             [sot] + [((7 * k) % 512) for k in range(75)] + [eot]]
    out = bytearray(b"JFCL")
    n_img = 2
    out += struct.pack("<3I", len(texts), n_img, s["embed_dim"])
    for t in texts:
        ids = t + [eot] * (77 - len(t))
        e, pos = text_embed(wt, s, ids)
        out += struct.pack("<I", pos) + np.array(ids, dtype="<i4").tobytes() + e.numpy().astype("<f4").tobytes()
    for b in range(n_img):
        n = 3 * 32 * 32
        i = np.arange(n, dtype=np.int64)
        pix = torch.from_numpy((((i * 40503 + b * 977) % 65536) / 32768.0 - 1.0).astype(np.float32).reshape(3, 32, 32))
        out += pix.numpy().astype("<f4").tobytes() + image_embed(wt, s, pix).numpy().astype("<f4").tobytes()
    cases = [(50, 37, 32, 0), (50, 37, 32, 1), (37, 61, 32, 0), (37, 61, 32, 1), (300, 200, 48, 0), (31, 31, 32, 1)]
    out += struct.pack("<I", len(cases))
    for w, h, size, openai in cases:
        out += struct.pack("<4I", w, h, size, openai)
        out += preprocess(Image.fromarray(image(w, h)), size, openai).astype("<f4").tobytes()
    with open(sys.argv[2] if len(sys.argv) > 2 else sys.argv[1], "wb") as f:
        f.write(bytes(out))
