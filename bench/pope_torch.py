"""The PyTorch side of bench/bench_bench.sh: the same POPE-style questions answered one by one by
the plain PyTorch reference of tests/reference/janus_ref.py (f32, the same checkpoint): per
question the image letterboxed as the processor does (PIL), SigLIP, the prompt's prefill with a KV
cache, and greedy decoding of at most MAX_NEW tokens. Prints JSON {seconds, questions, tokens}.
usage: pope_torch.py MODEL_DIR IDS.jsonl LABELS.jsonl IMAGES_DIR THREADS MAX_NEW"""
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import janus_ref as jr  # noqa: E402

model_dir, ids_path, labels_path, images, threads, max_new = sys.argv[1:7]
torch.set_num_threads(int(threads))
torch.set_grad_enabled(False)
c = dict(jr.FULL)
with open(os.path.join(model_dir, "config.json")) as f:
    lc = json.load(f)["language_config"]
c.update(hidden=lc["hidden_size"], heads=lc["num_attention_heads"], layers=lc["num_hidden_layers"],
         kv_heads=lc.get("num_key_value_heads", lc["num_attention_heads"]), inter=lc["intermediate_size"],
         vocab=lc["vocab_size"])
wt = jr.read_safetensors(os.path.join(model_dir, "model.safetensors"))
wt = {k: v.float() for k, v in wt.items()}
# the vision tower's shapes from the weights and the config (the tiny model differs from FULL)
v = "vision_und_enc_model.vision_tower."
with open(os.path.join(model_dir, "config.json")) as f:
    vp = json.load(f)["vision_und_enc_config"]["params"]
pos = wt[v + "pos_embed"]
c.update(vit_width=pos.shape[-1], image_tokens=pos.shape[1], patch=wt[v + "patch_embed.proj.weight"].shape[-1],
         vit_layers=len({k.split(".")[3] for k in wt if k.startswith(v + "blocks.")}),
         vit_mlp=wt[v + "blocks.0.mlp.fc1.weight"].shape[0], vit_heads=vp.get("heads", c["vit_heads"]))
c["image_size"] = c["patch"] * int(round(c["image_tokens"] ** 0.5))
lines = [json.loads(l) for l in open(ids_path)]
c.update(image_tag=lines[0]["image_tag"], image_start=lines[0]["image_start"])
eos = lines[0]["eos"]
prompts = [l["ids"] for l in lines[1:]]
labels = [json.loads(l) for l in open(labels_path)]


def letterbox(path, size=384, bg=(127, 127, 127)):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    m = max(w, h)
    nw, nh = max(int(w / m * size), 14), max(int(h / m * size), 14)
    im = im.resize((nw, nh), Image.BICUBIC)
    out = Image.new("RGB", (size, size), bg)
    out.paste(im, ((size - nw) // 2, (size - nh) // 2))
    return np.asarray(out)


t0 = time.time()
tokens = 0
for ids, lab in zip(prompts, labels):
    pix = jr.pixels_of(letterbox(os.path.join(images, lab["image"]), c["image_size"]), c)
    feats = jr.siglip(wt, c, pix)
    cache = {}
    lg = jr.llm_logits(wt, c, jr.embed(wt, c, ids, feats), cache)
    for k in range(int(max_new)):
        tok = int(torch.argmax(lg))
        tokens += 1
        if tok == eos or k + 1 == int(max_new):
            break
        lg = jr.llm_logits(wt, c, wt["language_model.model.embed_tokens.weight"][tok:tok + 1], cache)
print(json.dumps({"seconds": time.time() - t0, "questions": len(prompts), "tokens": tokens}))
