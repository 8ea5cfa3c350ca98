#!/usr/bin/python3
"""Reference for jf's training batches and losses (train/, jf train batches|loss), written
independently in Python: PIL for the images, Hugging Face's tokenizers (npm package, through
node) for the token ids, plain PyTorch (f32; the model pieces of janus_ref.py and
janus_gen_ref.py, the VAE of vae_ref.py) for the losses.

  fixture DIR          writes the small fixture set (PNG images + manifest.jsonl) committed in
                       tests/data/train (run once)
  golden JF OUT        builds a dataset from the fixture with JF (ingest, the tiny random
                       model and VAE, the mix's stream: `jf shard mix --stream` is the one input
                       taken from jf — the mix has its own tests), then computes every batch
                       array and every loss itself and writes OUT (.npz)
  check GOLDEN DIR LOSS.jsonl   compares jf's batches (DIR/*.npz) and losses with GOLDEN (numpy
                       only; the ctest side)

What the reference fixes, as jf documents it (train/BATCHES.md): the chat template of
conversation.py ("deepseek", roles User/Assistant, the processor's system prompt), labels on the
replies and their EOS, the caption template of the paper, the generation prompt in the
sampler's chat form, first-fit packing, the keyed draws (crop position, prompt drop, t, z0, the
posterior sample) — reimplemented here from their definitions — and the losses of spec §6.1.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEQ_LEN, PROMPT_DROP, REPA_SEED, REPA_WIDTH, REPA_LAYER, STEPS = 600, 0.5, 7, 48, 1, 2
M64 = (1 << 64) - 1

MIX = {"seed": 11, "global_batch": 8,
       "sources": [{"name": "und", "where": "kind = 'understanding'"}, {"name": "gen", "where": "kind = 'generation'"},
                   {"name": "cap", "where": "kind = 'generation'"}, {"name": "text", "where": "kind = 'text'"}],
       "stages": [{"name": "s", "steps": 4, "weights": {"und": 3, "gen": 2, "cap": 1, "text": 2}}]}
ROLES = {"und": 1, "gen": 3, "cap": 2, "text": 4}  # jf_train_role values


# ---------- the fixture ----------

def fixture(d):
    from PIL import Image
    os.makedirs(d, exist_ok=True)
    sizes = [(80, 60), (48, 96), (64, 64), (100, 70)]
    for k, (w, h) in enumerate(sizes):
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([(x * 255 // w + 40 * k) % 256, (y * 255 // h) % 256, ((x + y) * 3 + 60 * k) % 256], -1)
        Image.fromarray(rgb.astype(np.uint8)).save(os.path.join(d, f"img{k}.png"))
    rows = [
        {"image": "img0.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat is in the picture?"},
            {"from": "gpt", "value": "  A red square on a blue field.  "},
            {"from": "human", "value": "And the colour of the border?"},
            {"from": "gpt", "value": "There is no border."}]},
        {"image": "img1.png", "conversations": [
            {"from": "human", "value": "Describe this image: <image>"}, {"from": "gpt", "value": "A tall gradient."}]},
        {"image": "img2.png", "caption": "a small green circle"},
        {"image": "img3.png", "caption": "  wide stripes, orange and teal "},
        {"text": "The quick brown fox jumps over the lazy dog."},
        {"conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi!"}]},
        {"image": "img0.png", "conversations": [
            {"from": "human", "value": "What colour?"}, {"from": "gpt", "value": "Red."}]},
        {"image": "img2.png", "conversations": [
            {"from": "system", "value": "Be brief."}, {"from": "human", "value": "<image>\nShape?"},
            {"from": "gpt", "value": "Circle."}]},
        {"text": "lorem ipsum dolor sit amet " * 30},
    ]
    with open(os.path.join(d, "manifest.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


# ---------- keyed randomness (train/batch.c, model/gen.c jf_t2i_noise) ----------

def mix64(x):
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def key(seed, tag, a, b):
    h = mix64(seed + 0x9E3779B97F4A7C15 * (tag + 1))
    h = mix64(h ^ ((a + 0x632BE59BD9B4E019) & M64))
    return mix64(h ^ ((b + 0x8CB92BA72F3D8DD7) & M64))


def unit(k):
    return (mix64(k) >> 11) * 2.0 ** -53


def noise(seed, count):
    k = mix64(seed ^ 0x6A616E7573666C6F)
    out = np.empty(count, dtype=np.float32)
    for i in range(0, count, 2):
        j = i // 2
        u1 = ((mix64(k + 2 * j) >> 11) + 1.0) * 2.0 ** -53
        u2 = (mix64(k + 2 * j + 1) >> 11) * 2.0 ** -53
        r, a = math.sqrt(-2.0 * math.log(u1)), 6.283185307179586 * u2
        out[i] = r * math.cos(a)
        if i + 1 < count:
            out[i + 1] = r * math.sin(a)
    return out


def repa_random(seed, dims):
    """jf_repa_random: nn.Linear's default init from one SplitMix64 stream."""
    st = seed
    layers = []
    for rows, cols in dims:
        bound = 1.0 / math.sqrt(cols)
        vals = []
        for _ in range(rows * cols + rows):
            st = (st + 0x9E3779B97F4A7C15) & M64
            vals.append((2.0 * ((mix64(st) >> 11) * 2.0 ** -53) - 1.0) * bound)
        v = np.array(vals, dtype=np.float32)
        layers.append((v[:rows * cols].reshape(rows, cols), v[rows * cols:]))
    return layers


# ---------- tokens ----------

def tokenize(tok_json, added, texts):
    """Hugging Face tokenizers' ids (no special tokens added) of each text, after adding the
    processor's missing tags as special tokens (in order, as VLChatProcessor does)."""
    js = ("const {Tokenizer}=require('tokenizers');const t=Tokenizer.fromFile(process.argv[1]);"
          "const add=JSON.parse(process.argv[2]);if(add.length)t.addSpecialTokens(add);"
          "const xs=JSON.parse(require('fs').readFileSync(0,'utf8'));(async()=>{const o=[];"
          "for(const x of xs){const e=await t.encode(x,null,{addSpecialTokens:false});o.push(Array.from(e.getIds()));}"
          "process.stdout.write(JSON.stringify(o));})();")
    r = subprocess.run(["node", "-e", js, tok_json, json.dumps(added)], input=json.dumps(texts).encode(), capture_output=True, check=True)
    return json.loads(r.stdout)


class Tok:
    def __init__(self, model_dir):
        self.path = os.path.join(model_dir, "tokenizer.json")
        with open(self.path) as f:
            tj = json.load(f)
        added = {a["content"]: a["id"] for a in tj.get("added_tokens", [])}
        vocab = dict(tj["model"]["vocab"])
        vocab.update(added)
        # AutoTokenizer adds special_tokens_map.json's additional special tokens missing from the
        # file first; then the processor's id rule (spec §3.3): each tag missing from the
        # vocabulary is added as a special token with the next free id
        with open(os.path.join(model_dir, "special_tokens_map.json")) as f:
            extra = json.load(f).get("additional_special_tokens", [])
        self.added = []
        for tag in list(extra) + ["<image_placeholder>", "<｜begin▁of▁generation｜>", "<begin_of_image>", "<end_of_image>"]:
            if tag not in vocab:
                vocab[tag] = max(vocab.values()) + 1
                self.added.append(tag)
        self.vocab = vocab
        self.bos = vocab["<｜begin▁of▁sentence｜>"]
        self.eos = vocab["<｜end▁of▁sentence｜>"]
        self.tag, self.start, self.end = vocab["<image_placeholder>"], vocab["<begin_of_image>"], vocab["<end_of_image>"]
        self.pad = vocab.get("<｜▁pad▁｜>", self.eos)
        self.cache = {}

    def ids(self, segments):
        todo = [s for s, _ in segments if s not in self.cache]
        if todo:
            for s, i in zip(todo, tokenize(self.path, self.added, todo)):
                self.cache[s] = i
        return [(self.cache[s], scored) for s, scored in segments]


# ---------- samples ----------

def sys_prompt():
    """VLChatProcessor.system_prompt (a class attribute of the official processor), checked
    against the SHA-256 the spec records (§3.2)."""
    import hashlib
    p = ("You are a helpful language and vision assistant. You are able to understand the visual content that the "
         "user provides, and assist the user with a variety of tasks using natural language.")
    assert hashlib.sha256(p.encode()).hexdigest() == "790f4cfc05523b0eecbc061d3b2a427d84204164119832ccffb22deaae07cb29"
    return p


def build_ids(tok, segments, image_tokens):
    ids, labels = [tok.bos], [-100]
    for piece, scored in tok.ids(segments):
        ids += piece
        labels += piece if scored else [-100] * len(piece)
    # image blocks
    oi, ol, tags = [], [], 0
    for i, l in zip(ids, labels):
        if i == tok.tag:
            tags += 1
            oi += [tok.start] + [tok.tag] * image_tokens + [tok.end]
            ol += [-100] * (image_tokens + 2)
        else:
            oi.append(i)
            ol.append(l)
    return oi, ol, tags


def conversation_segments(conv, system):
    segs, prompt, i0 = [], "", 0
    if conv and conv[0]["from"] == "system":
        system, i0 = conv[0]["value"], 1
    if system:
        prompt = system + "\n\n"
    for turn in conv[i0:]:
        v = turn["value"].strip()
        if turn["from"] in ("human", "user"):
            prompt += "User: " + v.replace("<image>", "<image_placeholder>") + "\n\nAssistant:"
        elif v:
            segs.append((prompt, False))
            segs.append((" " + v + "<｜end▁of▁sentence｜>", True))
            prompt = ""
    return segs


def letterbox(img, size, bg):
    from PIL import Image
    w, h = img.size
    m = max(w, h)
    nw, nh = max(int(w / m * size), 14), max(int(h / m * size), 14)
    r = img.resize((nw, nh), Image.BICUBIC)
    out = Image.new("RGB", (size, size), bg)
    out.paste(r, ((size - nw) // 2, (size - nh) // 2))
    return np.asarray(out)


def build_sample(item, row, role, tok, ctx):
    from PIL import Image
    s = dict(id=item["id"], key=item["key"], role=role, status=0, images=[], source=item["source_index"],
             draw=item["draw"], epoch=item["epoch"], step=item["step"], pos=item["pos"])
    img_path = os.path.join(ctx["fixture"], row["image"]) if "image" in row else None
    G2 = ctx["grid"] ** 2
    if role in (1, 4):
        if "conversations" in row:
            segs = conversation_segments(row["conversations"], ctx["system"] if role == 1 else "")
        else:
            segs = [(row["text"], True), ("<｜end▁of▁sentence｜>", True)]
        ids, labels, tags = build_ids(tok, segs, ctx["image_tokens"])
        n_img = 1 if img_path else 0
        if role == 4 and n_img:
            s["status"] = 2
        if role == 1 and tags != n_img:
            s["status"] = 2
    elif role == 2:
        cap = row["caption"].strip()
        ids, labels, tags = build_ids(tok, [("<image_placeholder>Generate the caption of this picture.", False),
                                             (" " + cap + "<｜end▁of▁sentence｜>", True)], ctx["image_tokens"])
    else:
        cap = row["caption"].strip()
        ids = [tok.bos] + tok.ids([("User: " + cap + "\n\nAssistant:", False)])[0][0] + [tok.start]
        labels = [-100] * len(ids)
    extra = G2 if role == 3 else 0
    if s["status"] == 0 and len(ids) + extra > SEQ_LEN:
        assert role == 4, "the fixture only truncates text"
        ids, labels = ids[:SEQ_LEN], labels[:SEQ_LEN]
        s["status"] = 1
    s["ids"], s["labels"] = ids, labels
    if s["status"] in (0, 1) and role in (1, 2):
        s["images"] = [letterbox(Image.open(img_path).convert("RGB"), ctx["size"], ctx["bg"])]
    if role == 3:
        img = Image.open(img_path).convert("RGB")
        w, h = img.size
        side = ctx["crop"]
        ow, oh = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
        k = key(ctx["seed"], 1, item["id"], item["epoch"])
        cx, cy = mix64(k) % (ow - side + 1), mix64((k + 1) & M64) % (oh - side + 1)
        rs = img.resize((ow, oh), Image.BILINEAR) if (ow, oh) != (w, h) else img
        s["crop"] = [ow, oh, cx, cy, side]
        s["crop_rgb"] = np.asarray(rs)[cy:cy + side, cx:cx + side].copy()
        a, d = item["source_index"], item["draw"]
        s["dropped"] = int(unit(key(ctx["seed"], 2, a, d)) < PROMPT_DROP)
        n = float(noise(key(ctx["seed"], 3, a, d), 1)[0])
        s["t"] = np.float32(1.0 / (1.0 + math.exp(-(0.0 + 1.0 * n))))
        Z = ctx["latent_c"] * ctx["latent_s"] ** 2
        s["noise"] = noise(key(ctx["seed"], 4, a, d), Z).reshape(ctx["latent_c"], ctx["latent_s"], ctx["latent_s"])
        eps = noise(key(ctx["seed"], 5, item["id"], item["epoch"]), Z).astype(np.float64)
        x = ((s["crop_rgb"].astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)
        import torch
        mean, logvar = ctx["vae"].encode(torch.from_numpy(np.ascontiguousarray(x))[None])
        mean, logvar = mean[0].double().numpy().ravel(), logvar[0].double().numpy().ravel()
        z = mean + np.exp(0.5 * logvar) * eps
        s["latent"] = ((z - ctx["shift"]) * ctx["scale"]).astype(np.float32).reshape(s["noise"].shape)
    return s


def seq_len_of(s, G2):
    if s["status"] not in (0, 1):
        return 0
    return len(s["ids"]) + (G2 if s["role"] == 3 else 0)


def pack(samples, tok, G2):
    """First fit in sample order into rows of SEQ_LEN (write.c)."""
    fill, place = [], []
    for s in samples:
        n = seq_len_of(s, G2)
        r = 0
        while r < len(fill) and fill[r] + n > SEQ_LEN:
            r += 1
        if r == len(fill):
            fill.append(0)
        place.append((r, fill[r]))
        fill[r] += n
    R = len(fill)
    a = dict(input_ids=np.full((R, SEQ_LEN), tok.pad, np.int32), labels=np.full((R, SEQ_LEN), -100, np.int32),
             position_ids=np.zeros((R, SEQ_LEN), np.int32), attention_mask=np.zeros((R, SEQ_LEN), np.uint8),
             slot=np.zeros((R, SEQ_LEN), np.uint8), sample_index=np.full((R, SEQ_LEN), -1, np.int32))
    for i, (s, (r, c)) in enumerate(zip(samples, place)):
        n = seq_len_of(s, G2)
        gen = s["role"] == 3
        P = len(s["ids"]) - 1 if gen else len(s["ids"])
        for j in range(n):
            k = c + j
            a["position_ids"][r, k] = j
            a["sample_index"][r, k] = i
            a["attention_mask"][r, k] = 0 if (gen and s["dropped"] and 0 < j < P) else 1
            if j < P:
                a["input_ids"][r, k] = s["ids"][j]
                a["labels"][r, k] = -100 if gen else s["labels"][j]
                a["slot"][r, k] = 2 if (not gen and s["ids"][j] in (tok.start, tok.tag)) else 1
            else:
                a["input_ids"][r, k] = s["ids"][P] if j == P else tok.pad
                a["slot"][r, k] = 3 if j == P else 4
    return a, place


# ---------- losses (PyTorch) ----------

def losses(s, ctx):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import janus_gen_ref as GR
    import janus_ref as R
    wt, c = ctx["wt"], ctx["c"]
    H = c["hidden"]
    out = dict(ar=None, ar_tokens=0, rf=None, repa=None)
    if s["status"] not in (0, 1):
        return out
    E = wt["language_model.model.embed_tokens.weight"]
    if s["role"] != 3:
        ids = s["ids"]
        x = E[torch.tensor(ids)].clone()
        slots = [i for i, t in enumerate(ids) if t in (ctx["tok"].start, ctx["tok"].tag)]
        blocks = []
        for rgb in s["images"]:
            feats = R.siglip(wt, c, R.pixels_of(rgb, c))
            blocks.append(torch.cat([wt["beg_of_und_embed"],
                                     feats @ wt["vision_und_enc_aligner.weight"].T + wt["vision_und_enc_aligner.bias"]]))
        if blocks:
            x[torch.tensor(slots)] = torch.cat(blocks)
        T = len(ids)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for i in range(c["layers"]):
            x = R.llm_layer(wt, c, x, i, 0, mask, None)
        h = R.rmsnorm(x, wt["language_model.model.norm.weight"], c["rms_eps"])
        logits = (h @ wt["language_model.lm_head.weight"].T).double()
        lp = torch.log_softmax(logits, dim=-1)
        lab = s["labels"]
        nll = [-float(lp[i, lab[i + 1]]) for i in range(T - 1) if lab[i + 1] != -100]
        out["ar_tokens"] = len(nll)
        out["ar"] = sum(nll) / len(nll) if nll else None
        return out
    # generation: RF and REPA
    C = wt[GR.ENC + "in_conv.weight"].shape[0]
    t = np.float32(s["t"])
    zt = torch.from_numpy((t * s["latent"] + (np.float32(1) - t) * s["noise"]).astype(np.float32))
    tnet = torch.tensor([np.float32(1000.0) * t], dtype=torch.float32)
    temb = GR.time_embed(wt, tnet, C)
    x_emb = GR.encoder(wt, zt[None], temb)
    tok = x_emb.flatten(2).permute(0, 2, 1)[0] @ wt["vision_gen_enc_aligner.weight"].T + wt["vision_gen_enc_aligner.bias"]
    ids = s["ids"]
    P = len(ids) - 1
    x = torch.cat([E[torch.tensor(ids[:P])], temb, tok])
    T = x.shape[0]
    mask = torch.full((T, T), float("-inf")).triu(1)
    if s["dropped"]:
        mask[:, 1:P] = float("-inf")
    hidden = None
    for i in range(c["layers"]):
        x = R.llm_layer(wt, c, x, i, 0, mask, None)
        if i + 1 == REPA_LAYER:
            hidden = x[P + 1:].clone()
    h = R.rmsnorm(x[P + 1:], wt["language_model.model.norm.weight"], c["rms_eps"])
    v = GR.decoder(wt, c, h[None], x_emb, temb)[0]
    target = torch.from_numpy(s["latent"]) - torch.from_numpy(s["noise"])
    out["rf"] = float(((v.double() - target.double()) ** 2).mean())
    # REPA: h_φ(hidden) against SigLIP of the crop, pooled to the generation grid
    (w0, b0), (w1, b1), (w2, b2) = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in ctx["repa"]]
    p = F.silu(hidden @ w0.T + b0)
    p = F.silu(p @ w1.T + b1)
    p = p @ w2.T + b2
    box = letterbox(__import__("PIL.Image", fromlist=["Image"]).fromarray(s["crop_rgb"]), ctx["size"], ctx["bg"])
    feats = R.siglip(wt, c, R.pixels_of(box, c))
    U, G = int(round(math.sqrt(feats.shape[0]))), ctx["grid"]
    f = feats.T.reshape(1, -1, U, U)
    f = F.avg_pool2d(f, U // G).reshape(feats.shape[1], -1).T
    cos = (F.normalize(p.double(), dim=-1) * F.normalize(f.double(), dim=-1)).sum(-1)
    out["repa"] = -float(cos.mean())
    return out


# ---------- golden ----------

def digest(a):
    """Pixel arrays are kept in the golden as the SHA-256 of their shape and bytes (exact
    equality is what is checked; the arrays themselves would make the file ten times larger)."""
    import hashlib
    h = hashlib.sha256(repr(tuple(a.shape)).encode() + np.ascontiguousarray(a, dtype=np.uint8).tobytes()).digest()
    return np.frombuffer(h, dtype=np.uint8)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def golden(jf, out):
    import torch
    sys.path.insert(0, HERE)
    import janus_ref as R
    import vae_ref as V
    fx = os.path.join(HERE, "..", "data", "train")
    tmp = tempfile.mkdtemp(prefix="jf-train-ref-")
    m, v, ds = os.path.join(tmp, "m"), os.path.join(tmp, "v"), os.path.join(tmp, "ds")
    run([jf, "model", "random", m])
    run([jf, "model", "random", "--vae", v])
    run([jf, "ingest", ds, os.path.join(fx, "manifest.jsonl"), "--quiet"])
    with open(os.path.join(tmp, "mix.json"), "w") as f:
        json.dump(MIX, f)
    items = [json.loads(l) for l in run([jf, "shard", "mix", ds, os.path.join(tmp, "mix.json"), "--stream",
                                         "--steps", str(STEPS)]).stdout.decode().splitlines()]
    names = [s["name"] for s in MIX["sources"]]
    rows = [json.loads(l) for l in open(os.path.join(fx, "manifest.jsonl"))]
    tok = Tok(m)
    wt = R.read_safetensors(os.path.join(m, "model.safetensors"))
    c = R.config_of(m, wt)
    vt = "vision_und_enc_model.vision_tower."
    c["patch"] = wt[vt + "patch_embed.proj.weight"].shape[-1]
    with open(os.path.join(m, "config.json")) as f:
        side = json.load(f)["vision_gen_dec_config"]["params"].get("latent_size", 48)
    with open(os.path.join(v, "config.json")) as f:
        vc = json.load(f)
    vae = V.VAE(v)
    factor = 2 ** (len(vc["block_out_channels"]) - 1)
    image_size = int(math.isqrt(c["image_tokens"])) * c["patch"]
    ctx = dict(fixture=fx, tok=tok, wt=wt, c=c, system=sys_prompt(), image_tokens=c["image_tokens"],
               grid=side // 2, size=image_size, bg=(127, 127, 127), crop=side * factor, seed=MIX["seed"],
               latent_c=vc["latent_channels"], latent_s=side, vae=vae, scale=vc.get("scaling_factor", 0.13025),
               shift=vc.get("shift_factor") or 0.0,
               repa=repa_random(REPA_SEED, [(REPA_WIDTH, c["hidden"]), (REPA_WIDTH, REPA_WIDTH),
                                            (c["vit_width"], REPA_WIDTH)]))
    G2 = ctx["grid"] ** 2
    res = {"meta": np.frombuffer(json.dumps(dict(seq_len=SEQ_LEN, prompt_drop=PROMPT_DROP, repa_seed=REPA_SEED,
                                                 repa_width=REPA_WIDTH, repa_layer=REPA_LAYER, steps=STEPS,
                                                 mix=MIX)).encode(), dtype=np.uint8),
           "model_word_sum": np.array([R.word_sum(os.path.join(m, "model.safetensors"))], dtype=np.uint64),
           "vae_word_sum": np.array([R.word_sum(os.path.join(v, "diffusion_pytorch_model.safetensors"))], dtype=np.uint64)}
    for step in range(STEPS):
        samples = []
        for it in [i for i in items if i["step"] == step]:
            idx = int(it["key"].rsplit("/", 1)[1])
            it["source_index"] = names.index(it["source"])
            samples.append(build_sample(it, rows[idx], ROLES[it["source"]], tok, ctx))
        arr, place = pack(samples, tok, G2)
        p = f"s{step}/"
        for k, a in arr.items():
            res[p + k] = a
        res[p + "sample_id"] = np.array([s["id"] for s in samples], np.int64)
        res[p + "role"] = np.array([s["role"] for s in samples], np.uint8)
        res[p + "status"] = np.array([s["status"] for s in samples], np.uint8)
        und = [im for s in samples for im in s["images"]]
        res[p + "und_pixels"] = digest(np.stack(und) if und else np.zeros((0, image_size, image_size, 3), np.uint8))
        gens = [s for s in samples if s["role"] == 3]
        res[p + "gen_crop"] = np.array([s["crop"] for s in gens], np.int32).reshape(-1, 5)
        res[p + "gen_t"] = np.array([s["t"] for s in gens], np.float32)
        res[p + "gen_prompt_dropped"] = np.array([s["dropped"] for s in gens], np.uint8)
        res[p + "gen_image"] = digest(np.stack([s["crop_rgb"] for s in gens]) if gens else
                                      np.zeros((0, ctx["crop"], ctx["crop"], 3), np.uint8))
        res[p + "gen_noise"] = np.stack([s["noise"] for s in gens]) if gens else np.zeros((0,), np.float32)
        res[p + "gen_latent"] = np.stack([s["latent"] for s in gens]) if gens else np.zeros((0,), np.float32)
        ls = [losses(s, ctx) for s in samples]
        res[p + "loss"] = np.array([[np.nan if l[k] is None else l[k] for k in ("ar", "rf", "repa")] for l in ls],
                                   np.float64)
        res[p + "ar_tokens"] = np.array([l["ar_tokens"] for l in ls], np.int64)
    np.savez_compressed(out, **res)
    print(f"wrote {out}: {STEPS} steps; roles {[list(res[f's{k}/role']) for k in range(STEPS)]}, "
          f"dropped {[list(res[f's{k}/gen_prompt_dropped']) for k in range(STEPS)]}")


# ---------- check (ctest) ----------

def check(golden_path, batch_dir, loss_jsonl):
    g = np.load(golden_path)
    meta = json.loads(bytes(g["meta"]).decode())
    lines = [json.loads(l) for l in open(loss_jsonl)]
    bad, worst = 0, {"ar": 0.0, "rf": 0.0, "repa": 0.0}
    for step in range(meta["steps"]):
        p = f"s{step}/"
        z = np.load(os.path.join(batch_dir, f"r0000_s{step:09d}.npz"))
        for k in ("input_ids", "labels", "position_ids", "attention_mask", "slot", "sample_index", "sample_id", "role",
                  "status", "und_pixels", "gen_crop", "gen_prompt_dropped", "gen_image"):
            a, b = z[k], g[p + k]
            if k in ("und_pixels", "gen_image"):
                a = digest(a)
            if a.shape != b.shape or not np.array_equal(a, b):
                where = ""
                if a.shape == b.shape:
                    d = np.argwhere(a != b)[:3].tolist()
                    where = f" first differences at {d}"
                print(f"step {step}: {k} differs: jf {a.shape} reference {b.shape}{where}")
                bad += 1
        for k, tol in (("gen_t", 0.0), ("gen_noise", 0.0), ("gen_latent", 1e-5)):
            a, b = z[k].astype(np.float64), g[p + k].astype(np.float64)
            if a.shape != b.shape or (a.size and np.max(np.abs(a - b)) > tol * max(1.0, np.max(np.abs(b)))):
                print(f"step {step}: {k} differs (max {np.max(np.abs(a - b)) if a.shape == b.shape else 'shape'})")
                bad += 1
        ls = lines[step]["samples"]
        ref = g[p + "loss"]
        tok = g[p + "ar_tokens"]
        for i, s in enumerate(ls):
            for j, k in enumerate(("ar", "rf", "repa")):
                r, v = ref[i, j], s[k]
                # AR and RF within 1e-5 relative; REPA, a mean of cosines near 0 at random weights,
                # within 1e-6 absolute
                tol = 1e-6 if k == "repa" else 1e-5 * abs(r)
                if v is not None and not np.isnan(r):
                    worst[k] = max(worst[k], abs(v - r) / (1.0 if k == "repa" else abs(r)))
                if np.isnan(r) != (v is None) or (v is not None and abs(v - r) > tol):
                    print(f"step {step} sample {s['key']} ({s['role']}): {k} jf {v} reference {r}")
                    bad += 1
            if s["ar_tokens"] != int(tok[i]):
                print(f"step {step} sample {s['key']}: {s['ar_tokens']} scored tokens, reference {int(tok[i])}")
                bad += 1
    n = sum(len(np.load(golden_path)[f"s{k}/sample_id"]) for k in range(meta["steps"]))
    print(f"{n} samples over {meta['steps']} steps: {'all equal' if not bad else f'{bad} differences'}; largest "
          f"loss differences: AR {worst['ar']:.2e} and RF {worst['rf']:.2e} relative, REPA {worst['repa']:.2e} absolute")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fixture":
        fixture(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "golden":
        golden(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        print(__doc__)
        sys.exit(2)
