#!/usr/bin/python3
"""Reference for jf's JanusFlow generation path, written in plain PyTorch (f32) after the official
code's arithmetic (janus/janusflow/models/uvit.py, modeling_vlm.py, demo/app_janusflow.py; diffusers'
Timesteps/TimestepEmbedding): timestep embedding, ConvNeXt blocks with GRN and FiLM, the shallow
U-ViT encoder and decoder, and rectified-flow sampling with CFG where — as in the official demo —
every step recomputes the whole sequence of both rows (conditional and unconditional, the latter
with the prompt masked out after BOS by an attention mask, positions 0..P+N for both). jf reuses
the prompt's keys and values instead; the golden checks that this gives the same velocities.

  bench MODEL_DIR VAE_DIR DUMP [THREADS]   the PyTorch side of bench/bench_gen.sh: one guided step
                                   as the official demo computes it (both rows recomputed whole) and
                                   the VAE decode, timed, compared with what bench_gen wrote to DUMP
  golden MODEL_DIR LAYER_DIR OUT   writes OUT for tests/data/janus_tiny and for the full-width
                                   model of `jf model random DIR --layer` (seed 1), whose generation
                                   heads have the release's widths (768, 1536, hidden 2048)

Golden layout (little-endian): b"JFGG2\\0\\0\\0", u64 word sum of MODEL_DIR's model.safetensors, u64
of LAYER_DIR's, u32 n_records, then per record: char name[32] (NUL-padded), u32 stride, u32 count,
f32 values[count] = the output's values 0, stride, 2·stride, … (flattened; large outputs sampled).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import janus_ref as R  # noqa: E402  (safetensors reader, LLaMA layer, formula inputs)

torch.set_grad_enabled(False)

ENC, DEC = "vision_gen_enc_model.", "vision_gen_dec_model."


def time_proj(t, C):
    """diffusers Timesteps(C, flip_sin_to_cos=True, downscale_freq_shift=0) on t [B]."""
    half = C // 2
    exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / half
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1)


def time_embed(wt, t, C):
    h = time_proj(t, C) @ wt[ENC + "time_embed.linear_1.weight"].T + wt[ENC + "time_embed.linear_1.bias"]
    h = F.silu(h)
    return h @ wt[ENC + "time_embed.linear_2.weight"].T + wt[ENC + "time_embed.linear_2.bias"]


def rms_channels(x, w, eps):
    """LlamaRMSNorm over the channels of an NCHW map."""
    return R.rmsnorm(x.permute(0, 2, 3, 1), w, eps).permute(0, 3, 1, 2)


def convnext(wt, p, x, cond, eps=1e-6):
    """uvit.ConvNextBlock on x [B, C, S, S] with condition [B, H]."""
    C = x.shape[1]
    r = x
    y = F.conv2d(x, wt[p + "depthwise.weight"], wt[p + "depthwise.bias"], padding=3, groups=C)
    y = R.rmsnorm(y.permute(0, 2, 3, 1), wt[p + "norm.weight"], eps)
    y = F.gelu(y @ wt[p + "channelwise_linear_1.weight"].T + wt[p + "channelwise_linear_1.bias"])
    gx = torch.norm(y, p=2, dim=(1, 2), keepdim=True)
    nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
    y = torch.addcmul(wt[p + "channelwise_norm.bias"], wt[p + "channelwise_norm.weight"] * nx + 1, y, value=1)
    y = y @ wt[p + "channelwise_linear_2.weight"].T + wt[p + "channelwise_linear_2.bias"]
    x = y.permute(0, 3, 1, 2) + r
    scale, shift = (F.silu(cond) @ wt[p + "cond_embeds_mapper.weight"].T + wt[p + "cond_embeds_mapper.bias"]).chunk(2, dim=1)
    return torch.addcmul(shift[:, :, None, None], x, (1 + scale)[:, :, None, None], value=1)


def encoder(wt, z, temb):
    x = F.conv2d(z, wt[ENC + "in_conv.weight"], wt[ENC + "in_conv.bias"], stride=2)
    for i in range(2):
        x = convnext(wt, ENC + f"mid_block.res_blocks.{i}.", x, temb)
    return x


def decoder(wt, c, hidden, skip, temb):
    """hidden [B, N, H] (already through the LLM's final norm), skip [B, C, G, G] → v [B, 4, 2G, 2G]."""
    B, N, _ = hidden.shape
    G = int(round(math.sqrt(N)))
    u = R.rmsnorm(hidden, wt["vision_gen_dec_aligner_norm.weight"], c["rms_eps"])
    u = u @ wt["vision_gen_dec_aligner.weight"].T + wt["vision_gen_dec_aligner.bias"]
    u = u.reshape(B, G, G, -1).permute(0, 3, 1, 2)
    u = rms_channels(u, wt[DEC + "input_norm.weight"], 1e-6)
    x = torch.cat([u, skip], dim=1)
    for i in range(2):
        x = convnext(wt, DEC + f"mid_block.res_blocks.{i}.", x, temb)
    x = rms_channels(x, wt[DEC + "out_convs.0.norm.weight"], 1e-6)
    x = F.conv2d(x, wt[DEC + "out_convs.0.unpatch_conv.weight"], wt[DEC + "out_convs.0.unpatch_conv.bias"])
    return F.pixel_shuffle(x, 2)


def llm_hidden(wt, c, x, masked_cols):
    """The whole sequence x [T, H] at positions 0..T-1, causal, with key columns `masked_cols`
    masked out; returns the final-normed hidden states (LlamaModel's last_hidden_state)."""
    T = x.shape[0]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for j in masked_cols:
        mask[:, j] = float("-inf")
    for i in range(c["layers"]):
        x = R.llm_layer(wt, c, x, i, 0, mask, None)
    return R.rmsnorm(x, wt["language_model.model.norm.weight"], c["rms_eps"])


def bf16(v):
    return float(torch.tensor(v, dtype=torch.float32).to(torch.bfloat16).float())


def sample(wt, c, ids, z, steps, w, match_reference, records, tag, max_steps=None):
    """The official demo's loop for one prompt and B images z [B, 4, S, S] (cond rows first);
    max_steps stops early (benchmarks)."""
    B = z.shape[0]
    C = wt[ENC + "in_conv.weight"].shape[0]
    E = wt["language_model.model.embed_tokens.weight"]
    cond_ids = torch.tensor(ids)
    uncond_ids = cond_ids.clone()
    uncond_ids[1:] = 0  # the pad id: masked out, any id gives the same result
    Pn = len(ids) - 1
    e_c, e_u = E[cond_ids][:Pn], E[uncond_ids][:Pn]
    dt = 1.0 / steps
    if match_reference:
        dt = bf16(dt)
    z = z.clone()
    for k in range(steps if max_steps is None else max_steps):
        t = k / steps * 1000.0
        t = bf16(t) if match_reference else float(torch.tensor(t, dtype=torch.float32))
        temb = time_embed(wt, torch.tensor([t] * B, dtype=torch.float32), C)
        x_emb = encoder(wt, z, temb)
        tok = x_emb.flatten(2).permute(0, 2, 1) @ wt["vision_gen_enc_aligner.weight"].T + wt["vision_gen_enc_aligner.bias"]
        N = tok.shape[1]
        v = []
        for b in range(B):
            vb = []
            for e, masked in ((e_c, []), (e_u, range(1, Pn))):
                seq = torch.cat([e, temb[b:b + 1], tok[b]], dim=0)
                h = llm_hidden(wt, c, seq, masked)[-N:]
                vb.append(decoder(wt, c, h[None], x_emb[b:b + 1], temb[b:b + 1])[0])
            records.append((f"{tag}/vc{k}_{b}", vb[0]))
            records.append((f"{tag}/vu{k}_{b}", vb[1]))
            v.append(w * vb[0] - (w - 1.0) * vb[1])
        v = torch.stack(v)
        records.append((f"{tag}/v{k}", v))
        z = z + dt * v
    records.append((f"{tag}/z", z))


def full_width(layer_dir, recs):
    """One full-width module of each kind of the generation heads, on 6 × 6 maps."""
    wt = R.read_safetensors(os.path.join(layer_dir, "model.safetensors"))
    C, H = wt[ENC + "in_conv.weight"].shape[0], wt["vision_gen_enc_aligner.weight"].shape[0]
    recs.append(("full/time_embed", time_embed(wt, torch.tensor([500.0, 966.6667]), C)))
    cond = R.formula_input(1, H, 11)
    x = R.formula_input(36, C, 12).reshape(1, 6, 6, C).permute(0, 3, 1, 2)
    recs.append(("full/enc_block0", convnext(wt, ENC + "mid_block.res_blocks.0.", x, cond).permute(0, 2, 3, 1)))
    x = R.formula_input(36, 2 * C, 13).reshape(1, 6, 6, 2 * C).permute(0, 3, 1, 2)
    recs.append(("full/dec_block0", convnext(wt, DEC + "mid_block.res_blocks.0.", x, cond).permute(0, 2, 3, 1)))


def golden(model_dir, layer_dir, out):
    path = os.path.join(model_dir, "model.safetensors")
    wt = R.read_safetensors(path)
    c = R.config_of(model_dir, wt)
    with open(os.path.join(model_dir, "config.json")) as f:
        side = json.load(f)["vision_gen_dec_config"]["params"].get("latent_size", 48)
    C, H, G = wt[ENC + "in_conv.weight"].shape[0], c["hidden"], side // 2
    recs = []
    # the timestep embedding on the grid values of 3 and 30 steps (and bf16-rounded ones)
    ts = torch.tensor([0.0, 33.25, 333.33334, 966.6667, 999.0])
    recs.append(("time_embed", time_embed(wt, ts, C)))
    # single ConvNeXt blocks on formula inputs (channels-last out)
    cond = R.formula_input(1, H, 3)
    x = R.formula_input(G * G, C, 4).reshape(1, G, G, C).permute(0, 3, 1, 2)
    recs.append(("enc_block0", convnext(wt, ENC + "mid_block.res_blocks.0.", x, cond).permute(0, 2, 3, 1)))
    x = R.formula_input(G * G, 2 * C, 5).reshape(1, G, G, 2 * C).permute(0, 3, 1, 2)
    recs.append(("dec_block1", convnext(wt, DEC + "mid_block.res_blocks.1.", x, cond).permute(0, 2, 3, 1)))
    # encoder and decoder at t = 250
    temb = time_embed(wt, torch.tensor([250.0]), C)
    z = R.formula_input(4 * side, side, 6).reshape(1, 4, side, side)
    x_emb = encoder(wt, z, temb)
    recs.append(("encoder_x", x_emb.permute(0, 2, 3, 1)))
    tok = x_emb.flatten(2).permute(0, 2, 1) @ wt["vision_gen_enc_aligner.weight"].T + wt["vision_gen_enc_aligner.bias"]
    recs.append(("encoder_tokens", tok))
    hidden = R.formula_input(G * G, H, 7)[None]
    skip = R.formula_input(G * G, C, 8).reshape(1, G, G, C).permute(0, 3, 1, 2)
    recs.append(("decoder_v", decoder(wt, c, hidden, skip, temb)))
    # sampling: BOS "User: a red\n\nAssistant:" as bytes (the tiny vocabulary's byte b is id b),
    # the image start tag; two images from fixed noise, 3 steps, w = 2
    ids = [300] + list(b"User: a red\n\nAssistant:") + [304]
    noise = torch.from_numpy(np.random.RandomState(7).standard_normal((2, 4, side, side)).astype(np.float32))
    recs.append(("ids", torch.tensor(ids, dtype=torch.float32)))
    recs.append(("noise", noise))
    sample(wt, c, ids, noise, 3, 2.0, False, recs, "f32")
    sample(wt, c, ids, noise, 3, 2.0, True, recs, "ref")
    full_width(layer_dir, recs)
    with open(out, "wb") as f:
        f.write(b"JFGG2\0\0\0")
        f.write(struct.pack("<QQI", R.word_sum(path), R.word_sum(os.path.join(layer_dir, "model.safetensors")), len(recs)))
        for name, v in recs:
            a = v.detach().numpy().astype("<f4").ravel()
            stride = 1 if a.size <= 4096 else 97
            a = a[::stride]
            f.write(name.encode().ljust(32, b"\0"))
            f.write(struct.pack("<II", stride, a.size))
            f.write(a.tobytes())
    print(f"{out}: {len(recs)} records", file=sys.stderr)


def bench(model_dir, vae_dir, dump, threads=None):
    import time
    import vae_ref
    jf = json.load(open(os.path.join(dump, "gen.json")))
    torch.set_num_threads(int(threads or jf["threads"]))
    t0 = time.time()
    wt = R.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    c = R.config_of(model_dir, wt)
    load_s = time.time() - t0
    with open(os.path.join(model_dir, "config.json")) as f:
        side = json.load(f)["vision_gen_dec_config"]["params"].get("latent_size", 48)
    ld = lambda n: np.fromfile(os.path.join(dump, n), dtype="<f4")
    ids = np.fromfile(os.path.join(dump, "ids.i32"), dtype="<i4").tolist()
    noise = torch.from_numpy(ld("noise.f32")).reshape(1, 4, side, side)
    rec = []
    t0 = time.time()
    sample(wt, c, ids, noise, 30, 2.0, False, rec, "b", max_steps=1)
    step_s = time.time() - t0
    v0 = dict(rec)["b/v0"][0]
    rel = lambda a, b: float((a - b).abs().max() / b.abs().max())
    out = {"threads": torch.get_num_threads(), "load_s": load_s, "step_s": step_s,
           "v0_rel_err": rel(torch.from_numpy(ld("v0.f32")).reshape(v0.shape), v0)}
    del wt
    vae = vae_ref.VAE(vae_dir)
    lat = torch.from_numpy(ld("latent.f32")).reshape(1, 4, side, side) / vae.cfg["scaling_factor"]
    t0 = time.time()
    img = vae.decode(lat)
    out["vae_decode_s"] = time.time() - t0
    out["image_rel_err"] = rel(torch.from_numpy(ld("image.f32")).reshape(img.shape), img)
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) in (5, 6) and sys.argv[1] == "bench":
        bench(*sys.argv[2:])
        sys.exit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "golden":
        golden(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
