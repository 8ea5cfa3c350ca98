#!/usr/bin/python3
"""Reference for jf's JanusFlow understanding path, written from the architecture spec in plain
PyTorch (f32): SigLIP ViT, the understanding aligner, the LLaMA decoder (RMSNorm, rotate-half
RoPE, grouped KV heads, SiLU MLP), prompt embedding with the image block, greedy decoding by
full recomputation (no KV cache, so jf's cache is checked too).

  tiny   OUT_DIR GOLDEN   writes a tiny random model in the released layout (config files,
                          tokenizer files, model.safetensors in BF16 with the official tensor
                          names) and a golden file of its outputs
  full   OUT_DIR          writes a random checkpoint with the full JanusFlow-1.3B shapes
                          (587 tensors, 2,046,367,504 parameters, ~4.1 GB; not committed)
  modules GOLDEN DIR...   per-module goldens (SigLIP blocks, final norm, aligner, decoder layers,
                          lm_head on formula inputs; RoPE at head width 128) for model directories:
                          tests/data/janus_tiny and `jf model random DIR --layer` (seed 1), whose
                          full-width single layers are written by the C writer at test time
  bench  MODEL_DIR DUMP [THREADS]  the PyTorch side of bench/bench_model.sh (reads what bench_model
                          wrote, runs the same, prints timings and the differences as JSON)

Golden layout (little-endian): b"JFJG1\\0\\0\\0", then u32 n_ids, u32 image_size, u32 n_feat
(image_tokens * vit_width), u32 vocab, u32 steps; i32 ids[n_ids]; u8 rgb[image_size^2 * 3];
f32 pixels[3 * image_size^2]; f32 features[n_feat]; f32 logits[(steps + 1) * vocab];
i32 greedy[steps].
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

torch.set_grad_enabled(False)


# ---------- safetensors (written by hand: the format is a JSON header and raw arrays) ----------

def write_safetensors(path, tensors):
    """tensors: list of (name, torch tensor bf16/f32); written in the given order."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
            dt = "BF16"
        else:
            raw = t.to(torch.float32).numpy().tobytes()
            dt = "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            shape = info["shape"]
            if info["dtype"] == "BF16":
                v = torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16).float()
            elif info["dtype"] == "F16":
                v = torch.frombuffer(bytearray(raw), dtype=torch.float16).float()
            else:
                v = torch.frombuffer(bytearray(raw), dtype=torch.float32).clone()
            out[name] = v.reshape(shape)
        return out


# ---------- the tensor inventory (spec §1.3) ----------

def inventory(c):
    """(name, shape) of every tensor of the release for config dict c."""
    H, I, V, KV = c["hidden"], c["inter"], c["vocab"], c["kv_heads"] * (c["hidden"] // c["heads"])
    W, F, P, N = c["vit_width"], c["vit_mlp"], c["patch"], c["image_tokens"]
    t = [("language_model.model.embed_tokens.weight", [V, H])]
    for i in range(c["layers"]):
        p = f"language_model.model.layers.{i}."
        t += [(p + "input_layernorm.weight", [H]), (p + "self_attn.q_proj.weight", [H, H]),
              (p + "self_attn.k_proj.weight", [KV, H]), (p + "self_attn.v_proj.weight", [KV, H]),
              (p + "self_attn.o_proj.weight", [H, H]), (p + "post_attention_layernorm.weight", [H]),
              (p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.up_proj.weight", [I, H]),
              (p + "mlp.down_proj.weight", [H, I])]
    t += [("language_model.model.norm.weight", [H]), ("language_model.lm_head.weight", [V, H])]
    v = "vision_und_enc_model.vision_tower."
    t += [(v + "patch_embed.proj.weight", [W, 3, P, P]), (v + "patch_embed.proj.bias", [W]),
          (v + "pos_embed", [1, N, W])]
    for i in range(c["vit_layers"]):
        p = f"{v}blocks.{i}."
        t += [(p + "norm1.weight", [W]), (p + "norm1.bias", [W]), (p + "attn.qkv.weight", [3 * W, W]),
              (p + "attn.qkv.bias", [3 * W]), (p + "attn.proj.weight", [W, W]), (p + "attn.proj.bias", [W]),
              (p + "norm2.weight", [W]), (p + "norm2.bias", [W]), (p + "mlp.fc1.weight", [F, W]),
              (p + "mlp.fc1.bias", [F]), (p + "mlp.fc2.weight", [W, F]), (p + "mlp.fc2.bias", [W])]
    t += [(v + "norm.weight", [W]), (v + "norm.bias", [W]),
          (v + "attn_pool.latent", [1, 1, W]), (v + "attn_pool.q.weight", [W, W]), (v + "attn_pool.q.bias", [W]),
          (v + "attn_pool.kv.weight", [2 * W, W]), (v + "attn_pool.kv.bias", [2 * W]),
          (v + "attn_pool.proj.weight", [W, W]), (v + "attn_pool.proj.bias", [W]),
          (v + "attn_pool.norm.weight", [W]), (v + "attn_pool.norm.bias", [W]),
          (v + "attn_pool.mlp.fc1.weight", [F, W]), (v + "attn_pool.mlp.fc1.bias", [F]),
          (v + "attn_pool.mlp.fc2.weight", [W, F]), (v + "attn_pool.mlp.fc2.bias", [W])]
    t += [("vision_und_enc_aligner.weight", [H, W]), ("vision_und_enc_aligner.bias", [H]),
          ("beg_of_und_embed", [1, H])]
    # generation heads (spec §1.3 d/e; full shapes only for the full checkpoint)
    G, D = c["gen_width"], c["gen_dec_width"]
    t += [("vision_gen_enc_aligner.weight", [H, G]), ("vision_gen_enc_aligner.bias", [H]),
          ("vision_gen_dec_aligner_norm.weight", [H]),
          ("vision_gen_dec_aligner.weight", [G, H]), ("vision_gen_dec_aligner.bias", [G])]
    t += gen_heads(c)
    return t


def gen_heads(c):
    """ShallowUViTEncoder / Decoder tensors (spec §1.3 d, e)."""
    G, H = c["gen_width"], c["hidden"]
    e = "vision_gen_enc_model."
    t = [(e + "time_embed.linear_1.weight", [H, G]), (e + "time_embed.linear_1.bias", [H]),
         (e + "time_embed.linear_2.weight", [H, H]), (e + "time_embed.linear_2.bias", [H]),
         (e + "in_conv.weight", [G, 4, 2, 2]), (e + "in_conv.bias", [G])]
    for i in range(2):
        t += convnext(e + f"mid_block.res_blocks.{i}.", G, H)
    d = "vision_gen_dec_model."
    t += [(d + "input_norm.weight", [G])]
    for i in range(2):
        t += convnext(d + f"mid_block.res_blocks.{i}.", 2 * G, H)
    t += [(d + "out_convs.0.norm.weight", [2 * G]), (d + "out_convs.0.unpatch_conv.weight", [16, 2 * G, 1, 1]),
          (d + "out_convs.0.unpatch_conv.bias", [16])]
    return t


def convnext(p, C, H):
    return [(p + "depthwise.weight", [C, 1, 7, 7]), (p + "depthwise.bias", [C]), (p + "norm.weight", [C]),
            (p + "channelwise_linear_1.weight", [4 * C, C]), (p + "channelwise_linear_1.bias", [4 * C]),
            (p + "channelwise_norm.weight", [1, 1, 1, 4 * C]), (p + "channelwise_norm.bias", [1, 1, 1, 4 * C]),
            (p + "channelwise_linear_2.weight", [C, 4 * C]), (p + "channelwise_linear_2.bias", [C]),
            (p + "cond_embeds_mapper.weight", [2 * C, H]), (p + "cond_embeds_mapper.bias", [2 * C])]


def random_weights(c, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for name, shape in inventory(c):
        if name.endswith("norm.weight") or "layernorm" in name or name.endswith("norm1.weight") or name.endswith("norm2.weight"):
            v = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith("embed_tokens.weight") or name.endswith("beg_of_und_embed") or name.endswith("pos_embed"):
            v = torch.randn(shape, generator=g) * (1.0 if "embed_tokens" in name else 0.5)
        elif len(shape) == 1:
            v = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            v = torch.randn(shape, generator=g) / math.sqrt(fan_in)
        out.append((name, v.to(torch.bfloat16)))
    return out


# ---------- forward passes (spec §2.2–2.4, §4) ----------

def layernorm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def vit_block(wt, c, x, i):
    """SigLIP block i on x [N, W]: pre-norm attention and GELU MLP, each with its residual."""
    W, heads = c["vit_width"], c["vit_heads"]
    hd = W // heads
    N = x.shape[0]
    p = f"vision_und_enc_model.vision_tower.blocks.{i}."
    h = layernorm(x, wt[p + "norm1.weight"], wt[p + "norm1.bias"], 1e-6)
    qkv = h @ wt[p + "attn.qkv.weight"].T + wt[p + "attn.qkv.bias"]
    qkv = qkv.reshape(N, 3, heads, hd).permute(1, 2, 0, 3)  # [3, heads, N, hd]
    q, k, vv = qkv[0], qkv[1], qkv[2]
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ vv
    a = a.transpose(0, 1).reshape(N, W)
    x = x + a @ wt[p + "attn.proj.weight"].T + wt[p + "attn.proj.bias"]
    h = layernorm(x, wt[p + "norm2.weight"], wt[p + "norm2.bias"], 1e-6)
    f = torch.nn.functional.gelu(h @ wt[p + "mlp.fc1.weight"].T + wt[p + "mlp.fc1.bias"])
    return x + f @ wt[p + "mlp.fc2.weight"].T + wt[p + "mlp.fc2.bias"]


def siglip(wt, c, pixels):
    v = "vision_und_enc_model.vision_tower."
    x = torch.nn.functional.conv2d(pixels[None], wt[v + "patch_embed.proj.weight"], wt[v + "patch_embed.proj.bias"],
                                   stride=c["patch"])
    x = x.flatten(2).transpose(1, 2)[0]  # [N, W]
    x = x + wt[v + "pos_embed"][0]
    for i in range(c["vit_layers"]):
        x = vit_block(wt, c, x, i)
    return layernorm(x, wt[v + "norm.weight"], wt[v + "norm.bias"], 1e-6)


def rope(x, theta, pos0=0):
    """x [heads, T, d] at positions pos0..pos0+T-1, HF rotate-half."""
    d = x.shape[-1]
    T = x.shape[-2]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    freqs = torch.outer(torch.arange(pos0, pos0 + T, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def llm_layer(wt, c, x, i, pos0, mask, cache):
    """Decoder layer i on x [T, H] at positions pos0.. (keys and values appended to cache[i]
    when a cache is given)."""
    H, heads, kvh = c["hidden"], c["heads"], c["kv_heads"]
    hd = H // heads
    T = x.shape[0]
    p = f"language_model.model.layers.{i}."
    h = rmsnorm(x, wt[p + "input_layernorm.weight"], c["rms_eps"])
    q = (h @ wt[p + "self_attn.q_proj.weight"].T).reshape(T, heads, hd).transpose(0, 1)
    k = (h @ wt[p + "self_attn.k_proj.weight"].T).reshape(T, kvh, hd).transpose(0, 1)
    v = (h @ wt[p + "self_attn.v_proj.weight"].T).reshape(T, kvh, hd).transpose(0, 1)
    q, k = rope(q, c["rope_theta"], pos0), rope(k, c["rope_theta"], pos0)
    if cache is not None:
        if i in cache:
            k = torch.cat([cache[i][0], k], dim=1)
            v = torch.cat([cache[i][1], v], dim=1)
        cache[i] = (k, v)
    k = k.repeat_interleave(heads // kvh, dim=0)
    v = v.repeat_interleave(heads // kvh, dim=0)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
    x = x + a.transpose(0, 1).reshape(T, H) @ wt[p + "self_attn.o_proj.weight"].T
    h = rmsnorm(x, wt[p + "post_attention_layernorm.weight"], c["rms_eps"])
    g = torch.nn.functional.silu(h @ wt[p + "mlp.gate_proj.weight"].T) * (h @ wt[p + "mlp.up_proj.weight"].T)
    return x + g @ wt[p + "mlp.down_proj.weight"].T


def llm_logits(wt, c, x, cache=None):
    """x [T, H] embeddings → logits of the last position [V]. With a cache (a dict, empty at
    first) the positions continue after the cached ones and the keys/values are kept."""
    T = x.shape[0]
    pos0 = cache.get("n", 0) if cache is not None else 0
    mask = torch.full((T, pos0 + T), float("-inf")).triu(pos0 + 1)
    for i in range(c["layers"]):
        x = llm_layer(wt, c, x, i, pos0, mask, cache)
    if cache is not None:
        cache["n"] = pos0 + T
    h = rmsnorm(x[-1:], wt["language_model.model.norm.weight"], c["rms_eps"])
    return (h @ wt["language_model.lm_head.weight"].T)[0]


def embed(wt, c, ids, feats):
    x = wt["language_model.model.embed_tokens.weight"][torch.tensor(ids)]
    if feats is not None:
        block = torch.cat([wt["beg_of_und_embed"],
                           feats @ wt["vision_und_enc_aligner.weight"].T + wt["vision_und_enc_aligner.bias"]])
        slots = [i for i, t in enumerate(ids) if t in (c["image_start"], c["image_tag"])]
        assert len(slots) == block.shape[0]
        x = x.clone()
        x[torch.tensor(slots)] = block
    return x


def pixels_of(rgb, c):
    """uint8 HWC → CHW as the official processor: ×(1/255) in float64, to float32, (x−mean)/std."""
    x = (rgb.astype(np.float64) * (1.0 / 255.0)).astype(np.float32)
    x = (x - np.float32(0.5)) / np.float32(0.5)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


# ---------- the tiny model ----------

TINY = dict(hidden=32, heads=4, kv_heads=2, layers=2, inter=64, vocab=320, rms_eps=1e-6, rope_theta=10000.0,
            vit_width=32, vit_heads=2, vit_layers=2, vit_mlp=64, patch=4, image_size=16, image_tokens=16,
            gen_width=8, gen_dec_width=8, image_tag=303, image_start=304, image_end=305, bos=300, eos=301)

FULL = dict(hidden=2048, heads=16, kv_heads=16, layers=24, inter=5632, vocab=102400, rms_eps=1e-6,
            rope_theta=10000.0, vit_width=1024, vit_heads=16, vit_layers=24, vit_mlp=4096, patch=16, image_size=384,
            image_tokens=576, gen_width=768, gen_dec_width=768)

BOS, EOS, GEN = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁generation｜>"


def byte_chars():
    """GPT-2's byte → printable character table (ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(ch) for b, ch in zip(bs, cs)}


def tiny_tokenizer():
    """A byte-level BPE tokenizer.json shaped like DeepSeek-LLM's (same pre-tokenizer kinds,
    template post-processor with BOS, ByteLevel decoder), with 300 BPE tokens."""
    bc = byte_chars()
    vocab = {bc[b]: b for b in range(256)}
    merges = []
    words = ["the", "is", "what", "this", "image", "an", "in", "of", "Assistant", "User", "you", "are"]
    for w in words:
        for prefix in ("Ġ", ""):
            cur = prefix + w
            pieces = list(cur) if prefix == "" else ["Ġ"] + list(w)
            while len(pieces) > 1 and len(vocab) < 300:
                a, b = pieces[0], pieces[1]
                m = a + b
                if m not in vocab:
                    vocab[m] = len(vocab)
                    merges.append(f"{a} {b}")
                pieces = [m] + pieces[2:]
    while len(vocab) < 300:  # filler tokens up to id 299
        vocab[f"<filler_{len(vocab)}>"] = len(vocab)
    added = [{"id": 300, "content": BOS, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
              "special": True},
             {"id": 301, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
              "special": True}]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "[\r\n]"}, "behavior": "Isolated", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\s?\\p{L}+"}, "behavior": "Isolated", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\s?\\p{P}+"}, "behavior": "Isolated", "invert": False},
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {BOS: {"id": BOS, "ids": [300], "tokens": [BOS]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": merges},
    }


def write_model_dir(out, c, weights, tokenizer=None):
    os.makedirs(out, exist_ok=True)
    cfg = {
        "architectures": ["MultiModalityCausalLM"], "model_type": "multi_modality", "torch_dtype": "bfloat16",
        "language_config": {"hidden_size": c["hidden"], "intermediate_size": c["inter"],
                            "max_position_embeddings": 16384 if c is FULL else 1024, "model_type": "llama",
                            "num_attention_heads": c["heads"], "num_hidden_layers": c["layers"],
                            "num_key_value_heads": c["kv_heads"], "torch_dtype": "bfloat16", "vocab_size": c["vocab"]},
        "vision_und_enc_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                                  "params": {"image_size": c["image_size"], "model_name": "siglip_large_patch16_384",
                                             "select_feature": "same", "select_layer": c["vit_layers"] - 25,
                                             "width": c["vit_width"]}},
        "vision_gen_enc_config": {"cls": "ShallowUViTEncoder", "model_type": "gen_encoder",
                                  "params": {"input_channels": 4, "kernel_size": 2, "stride": 2, "padding": 0,
                                             "block_out_channels": [c["gen_width"]], "layers_in_middle": 2,
                                             "hidden_size": c["hidden"], "norm_eps": 1e-06, "use_bias": True,
                                             "use_mid_block": True}},
        "vision_gen_dec_config": {"cls": "ShallowUViTDecoder", "model_type": "gen_decoder",
                                  "params": {"in_channels": c["gen_width"], "out_channels": 4,
                                             "block_out_channels": [c["gen_width"]], "upsamples": 1,
                                             "layers_in_middle": 2, "hidden_size": c["hidden"], "norm_eps": 1e-06,
                                             "use_bias": True, "use_mid_block": True, "elementwise_affine": True}},
        "transformers_version": "4.38.1",
    }
    if c is not FULL:  # jf's extension: the official code fixes the latent grid at 48 (384 px)
        cfg["vision_gen_dec_config"]["params"]["latent_size"] = 8
    if c is not FULL:
        cfg["vision_und_enc_config"]["params"]["heads"] = c["vit_heads"]  # jf's extension for tiny towers
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "VLMImageProcessor", "image_size": c["image_size"], "min_size": 14,
                   "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "rescale_factor": 1 / 255,
                   "do_normalize": True}, f, indent=2)
    with open(os.path.join(out, "processor_config.json"), "w") as f:
        json.dump({"image_tag": "<image_placeholder>", "num_image_tokens": c["image_tokens"], "sft_format": "deepseek",
                   "add_special_token": False, "ignore_id": -100, "mask_prompt": True,
                   "processor_class": "VLChatProcessor"}, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": {"content": BOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
                   "eos_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
                   "additional_special_tokens": [GEN]}, f, indent=2, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "eos_token": EOS,
                   "unk_token": None, "tokenizer_class": "LlamaTokenizerFast", "model_max_length": 16384,
                   "legacy": True, "clean_up_tokenization_spaces": False}, f, indent=2, ensure_ascii=False)
    if tokenizer is not None:
        with open(os.path.join(out, "tokenizer.json"), "w") as f:
            json.dump(tokenizer, f, ensure_ascii=False)
    write_safetensors(os.path.join(out, "model.safetensors"), weights)


def tiny(out_dir, golden):
    c = TINY
    weights = random_weights(c, 20261126)
    write_model_dir(out_dir, c, weights, tiny_tokenizer())
    wt = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    S = c["image_size"]
    yy, xx = np.mgrid[0:S, 0:S]
    rgb = np.stack([(xx * 37 + yy * 11) % 256, (xx * 5 + yy * 29 + 80) % 256, (xx * yy * 7 + 13) % 256], -1).astype(np.uint8)
    pix = pixels_of(rgb, c)
    feats = siglip(wt, c, pix)
    # BOS, "User:" bytes, " ", the image block, "\n", a few text tokens
    # (in the tiny vocabulary byte b has id b)
    text = list(b"User: ")
    ids = [c["bos"]] + text + [c["image_start"]] + [c["image_tag"]] * c["image_tokens"] + [c["image_end"]] + \
          list(b"\nWhat?")
    steps = 6
    seq = list(ids)
    all_logits, greedy = [], []
    for s in range(steps + 1):
        lg = llm_logits(wt, c, embed(wt, c, seq, feats))
        all_logits.append(lg)
        if s == steps:
            break
        top2 = torch.topk(lg, 2).values
        nxt = int(torch.argmax(lg))
        print(f"step {s}: token {nxt}, top-2 margin {float(top2[0] - top2[1]):.4f}", file=sys.stderr)
        greedy.append(nxt)
        seq.append(nxt)
    with open(golden, "wb") as f:
        f.write(b"JFJG1\0\0\0")
        f.write(struct.pack("<5I", len(ids), S, feats.numel(), c["vocab"], steps))
        f.write(np.array(ids, dtype="<i4").tobytes())
        f.write(rgb.tobytes())
        f.write(pix.numpy().astype("<f4").tobytes())
        f.write(feats.numpy().astype("<f4").tobytes())
        f.write(torch.stack(all_logits).numpy().astype("<f4").tobytes())
        f.write(np.array(greedy, dtype="<i4").tobytes())
    print(f"{out_dir}: {len(weights)} tensors; {golden}: {len(ids)} ids, greedy {greedy}", file=sys.stderr)


def full(out_dir):
    weights = random_weights(FULL, 1)
    n = sum(int(np.prod(t.shape)) for _, t in weights)
    write_model_dir(out_dir, FULL, weights)
    print(f"{out_dir}: {len(weights)} tensors, {n} parameters", file=sys.stderr)


def config_of(model_dir, wt):
    """The shapes of a model directory from its config.json and tensors."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    lc, vp = cfg["language_config"], cfg["vision_und_enc_config"]["params"]
    v = "vision_und_enc_model.vision_tower."
    W = wt[v + "pos_embed"].shape[2]
    return dict(hidden=lc["hidden_size"], heads=lc["num_attention_heads"], layers=lc["num_hidden_layers"],
                kv_heads=lc.get("num_key_value_heads", lc["num_attention_heads"]), inter=lc["intermediate_size"],
                vocab=lc["vocab_size"], rms_eps=1e-6, rope_theta=10000.0, vit_width=W,
                vit_heads=vp.get("heads", W // 64), vit_mlp=wt[v + "blocks.0.mlp.fc1.weight"].shape[0],
                vit_layers=sum(1 for n in wt if n.startswith(v + "blocks.") and n.endswith(".norm1.weight")),
                image_tokens=wt[v + "pos_embed"].shape[1])


def formula_input(rows, cols, salt):
    """Module inputs both sides compute exactly: small multiples of 1/64 in [-2, 2]."""
    t = np.arange(rows, dtype=np.int64)[:, None]
    i = np.arange(cols, dtype=np.int64)[None, :]
    return torch.from_numpy((((t * 131 + i * 71 + salt * 17) % 257 - 128) / 64.0).astype(np.float32))


def word_sum(path):
    """Sum of the file's little-endian u64 words (zero-padded) mod 2^64: ties a golden to the
    exact weights file it was made from."""
    raw = open(path, "rb").read()
    raw += b"\0" * ((8 - len(raw) % 8) % 8)
    return int(np.frombuffer(raw, dtype="<u8").sum(dtype=np.uint64))


# Positions of the RoPE golden (both ends of the 16384-position context and some between).
ROPE_POSITIONS = [0, 1, 5, 100, 4095, 16383]


def modules(golden, *model_dirs):
    """Per-module goldens: for each model directory, every SigLIP block, the tower's final norm,
    the aligner, every decoder layer (causal, positions 0..T-1) and the final norm + lm_head on
    formula inputs, plus rotate-half RoPE at 128-wide heads. Large outputs keep a few rows.

    Layout (little-endian): b"JFJM1\0\0\0", u32 n_records, then per record: char name[32]
    (NUL-padded, "DIR_INDEX/module/index"), u64 weights word sum, u32 rows, u32 cols_in,
    u32 cols_out, u32 salt, u32 n_kept, i32 kept_rows[n_kept], f32 out[n_kept * cols_out]."""
    recs = []
    for d_index, d in enumerate(model_dirs):
        path = os.path.join(d, "model.safetensors")
        wt = read_safetensors(path)
        c = config_of(d, wt)
        ws = word_sum(path)
        W, H, N = c["vit_width"], c["hidden"], c["image_tokens"]
        big = W >= 512
        keep_vit = [0, 1, N // 2, N - 1] if big else list(range(N))

        def rec(module, index, rows, cin, cout, salt, out, kept):
            recs.append((f"{d_index}/{module}/{index}", ws, rows, cin, cout, salt, kept, out[kept]))

        for i in range(c["vit_layers"]):
            x = formula_input(N, W, 1 + i)
            rec("vit_block", i, N, W, W, 1 + i, vit_block(wt, c, x, i), keep_vit)
        v = "vision_und_enc_model.vision_tower."
        x = formula_input(N, W, 7)
        rec("vit_norm", 0, N, W, W, 7, layernorm(x, wt[v + "norm.weight"], wt[v + "norm.bias"], 1e-6), keep_vit)
        x = formula_input(4, W, 8)
        al = x @ wt["vision_und_enc_aligner.weight"].T + wt["vision_und_enc_aligner.bias"]
        rec("aligner", 0, 4, W, H, 8, al, [0, 3] if big else list(range(4)))
        T = 8 if big else 12
        mask = torch.full((T, T), float("-inf")).triu(1)
        for i in range(c["layers"]):
            x = formula_input(T, H, 20 + i)
            rec("llm_layer", i, T, H, H, 20 + i, llm_layer(wt, c, x, i, 0, mask, None),
                [0, T // 2, T - 1] if big else list(range(T)))
        x = formula_input(3, H, 9)
        h = rmsnorm(x, wt["language_model.model.norm.weight"], c["rms_eps"])
        rec("lm_head", 0, 3, H, c["vocab"], 9, h @ wt["language_model.lm_head.weight"].T, list(range(3)))
    # RoPE alone: [positions, 2 heads, 128]
    P, hd = len(ROPE_POSITIONS), 128
    x = formula_input(P, 2 * hd, 10).reshape(P, 2, hd)
    out = torch.stack([rope(x[k:k + 1].transpose(0, 1), 10000.0, ROPE_POSITIONS[k])[:, 0] for k in range(P)])
    recs.append(("rope/128", 0, P, 2 * hd, 2 * hd, 10, list(range(P)), out.reshape(P, 2 * hd)))
    with open(golden, "wb") as f:
        f.write(b"JFJM1\0\0\0")
        f.write(struct.pack("<I", len(recs)))
        for name, ws, rows, cin, cout, salt, kept, out in recs:
            f.write(name.encode().ljust(32, b"\0"))
            f.write(struct.pack("<Q5I", ws, rows, cin, cout, salt, len(kept)))
            f.write(np.array(kept, dtype="<i4").tobytes())
            f.write(out.numpy().astype("<f4").tobytes())
    print(f"{golden}: {len(recs)} module records", file=sys.stderr)


def bench(model_dir, dump_dir, threads=None):
    """The PyTorch side of bench/bench_model.sh: the same image and ids as jf's run, SigLIP,
    prefill and cached greedy decoding (teacher-forced with jf's tokens), timed and compared."""
    c = dict(FULL)
    with open(os.path.join(model_dir, "config.json")) as f:
        lc = json.load(f)["language_config"]
    c.update(hidden=lc["hidden_size"], heads=lc["num_attention_heads"], layers=lc["num_hidden_layers"],
             kv_heads=lc.get("num_key_value_heads", lc["num_attention_heads"]), inter=lc["intermediate_size"],
             vocab=lc["vocab_size"])
    with open(os.path.join(dump_dir, "jf.json")) as f:
        jfrun = json.load(f)
    c.update(image_tag=jfrun["image_tag"], image_start=jfrun["image_start"])
    torch.set_num_threads(threads or jfrun["threads"])  # by default the same cores as jf's run
    t0 = time.time()
    wt = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    t_load = time.time() - t0
    ld = lambda n, dt: np.fromfile(os.path.join(dump_dir, n), dtype=dt)
    ids = ld("ids.i32", "<i4").tolist()
    pix = torch.from_numpy(ld("pixels.f32", "<f4").reshape(3, c["image_size"], c["image_size"]))
    jf_feat = torch.from_numpy(ld("features.f32", "<f4"))
    jf_logits = torch.from_numpy(ld("logits.f32", "<f4")).reshape(-1, c["vocab"])
    tokens = ld("tokens.i32", "<i4").tolist()
    t0 = time.time()
    feats = siglip(wt, c, pix)
    t_vit = time.time() - t0
    rel = lambda a, b: float((a - b).abs().max() / b.abs().max())
    out = {"threads": torch.get_num_threads(), "load_s": t_load, "siglip_s": t_vit,
           "features_rel_err": rel(jf_feat.reshape(feats.shape), feats)}
    x = embed(wt, c, ids, feats)
    cache = {}
    t0 = time.time()
    lg = llm_logits(wt, c, x, cache)
    out["prefill_s"] = time.time() - t0
    errs = [rel(jf_logits[0], lg)]
    agree = int(torch.argmax(lg)) == tokens[0] if tokens else True
    t0 = time.time()
    for k, tok in enumerate(tokens):
        lg = llm_logits(wt, c, wt["language_model.model.embed_tokens.weight"][tok:tok + 1], cache)
        errs.append(rel(jf_logits[k + 1], lg))
        if k + 1 < len(tokens):
            agree = agree and int(torch.argmax(lg)) == tokens[k + 1]
    out["decode_s"] = time.time() - t0
    out["decode_tok_s"] = len(tokens) / out["decode_s"] if tokens else 0
    out["logits_rel_err_max"] = max(errs)
    out["greedy_tokens_agree"] = bool(agree)
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "tiny":
        tiny(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "full":
        full(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "modules":
        modules(sys.argv[2], *sys.argv[3:])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else None)
    else:
        sys.exit(__doc__)
