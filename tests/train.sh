#!/usr/bin/env bash
# jf train: batches and losses equal an independent reference (tests/reference/train_ref.py: PIL,
# Hugging Face's tokenizers, PyTorch; tests/data/train/golden.npz), the same bytes whatever the
# thread count, rank split or resume point, and bad input counted or refused by name.
# usage: train.sh BUILD_DIR
. "$(dirname "$0")/cli_lib.sh"
py=/usr/bin/python3
g="$src/tests/data/train/golden.npz"
cd "$work"
$jf model random m > /dev/null 2>&1 || bad "model random"
$jf model random --vae v > /dev/null 2>&1 || bad "vae random"
$jf ingest ds "$src/tests/data/train/manifest.jsonl" --quiet > /dev/null 2>&1 || bad "ingest the fixture"
$py -c "import numpy as np, json, sys; g = np.load(sys.argv[1]); print(json.dumps(json.loads(bytes(g['meta']).decode())['mix']))" "$g" > mix.json
# the golden was made from these exact weights (word sums of the files)
$py - "$g" m/model.safetensors v/diffusion_pytorch_model.safetensors <<'PY' && ok "weights are the golden's" || bad "weights differ from the golden's (jf model random changed?)"
import sys, numpy as np
def ws(p):
    raw = open(p, "rb").read(); raw += b"\0" * ((8 - len(raw) % 8) % 8)
    return int(np.frombuffer(raw, dtype="<u8").sum(dtype=np.uint64))
g = np.load(sys.argv[1])
sys.exit(0 if (ws(sys.argv[2]), ws(sys.argv[3])) == (int(g["model_word_sum"][0]), int(g["vae_word_sum"][0])) else 1)
PY
common=(ds mix.json --model m --vae v --seq-len 600 --prompt-drop 0.5 --role cap=caption --role gen=gen)
# exit 1: the fixture holds a sample cut to --seq-len and one whose placeholders do not match
expect 1 "batches (packed)" $jf train batches "${common[@]}" --steps 2 --pack --out B
grep -q 'manifest/00000006 (id 7): placeholder_mismatch: 0 image placeholder(s) in the text, 1 image(s)' err \
  && grep -q 'manifest/00000008 (id 9): truncated: 752 positions cut to 600' err && ok "bad samples named with the reason" \
  || bad "bad samples named"
expect 1 "losses" $jf train loss "${common[@]}" --steps 2 --json --repa-random 7 --repa-width 48 --repa-layer 1
cp out loss.jsonl
expect 1 "losses with --f32-weights" $jf train loss "${common[@]}" --steps 2 --json --repa-random 7 --repa-width 48 --repa-layer 1 --f32-weights
cmp -s out loss.jsonl && ok "  ... the same losses, to the last digit" || { bad "--f32-weights changed the losses"; diff out loss.jsonl | head -4; }
$py "$src/tests/reference/train_ref.py" check "$g" B loss.jsonl > check.out 2>&1 && ok "$(tail -1 check.out)" \
  || { bad "batches and losses against the reference"; sed 's/^/    /' check.out | head -20; }

# determinism: thread count, resume point, rank split
expect 1 "batches, 1 thread" $jf train batches "${common[@]}" --steps 2 --pack --out B1 --threads 1
cmp -s B/r0000_s000000001.npz B1/r0000_s000000001.npz && cmp -s B/r0000_s000000000.npz B1/r0000_s000000000.npz \
  && ok "same bytes with 1 thread" || bad "thread count changes the batches"
expect 0 "resume at step 1" $jf train batches "${common[@]}" --steps 1:2 --pack --out B2
cmp -s B/r0000_s000000001.npz B2/r0000_s000000001.npz && ok "a resumed step has the same bytes" || bad "resume changes step 1"
$jf train batches "${common[@]}" --steps 2 --out W0 --rank 0 --world 2 > /dev/null 2>&1
$jf train batches "${common[@]}" --steps 2 --out W1 --rank 1 --world 2 > /dev/null 2>&1
$py - <<'PY' && ok "ranks 0 and 1 of 2 take the world-1 batch's samples, disjoint" || bad "rank split"
import numpy as np, sys
for s in range(2):
    a = np.load(f"B/r0000_s{s:09d}.npz")["sample_id"].tolist()
    b = np.load(f"W0/r0000_s{s:09d}.npz")["sample_id"].tolist() + np.load(f"W1/r0001_s{s:09d}.npz")["sample_id"].tolist()
    if a != b:
        sys.exit(1)
PY
# the Python binding gives the same batches: the .npz bytes jf train batches wrote, as numpy
# arrays or torch tensors (the binding is not built under the sanitizers)
if ls "$build"/python/jf/_jf*.so > /dev/null 2>&1; then
PYTHONPATH="$build/python" $py - <<'PY' && ok "jf.batches: the written files' bytes; numpy arrays and torch tensors; problems named" || bad "python batches"
import jf, numpy as np, torch
roles = {"cap": "caption", "gen": "gen"}
ds = jf.Dataset("ds", images="none")
mix = jf.Mix(ds, "mix.json")
raw = list(jf._jf.Batches(mix._mix, "m", "v", None, 0, 1, 0, 2, True, 600, 0.5, False, False, 0, roles))
assert [r[0] for r in raw] == [0, 1], [r[0] for r in raw]
for step, npz, info in raw:
    assert npz == open(f"B/r0000_s{step:09d}.npz", "rb").read(), step
probs = [p for r in raw for p in r[2]["problems"]]
assert ("manifest/00000006", "placeholder_mismatch", "0 image placeholder(s) in the text, 1 image(s) in the record") in probs, probs
assert sum(r[2]["outcomes"]["truncated"] for r in raw) == 1
bs = list(jf.batches(ds, "mix.json", "m", vae="v", end_step=2, pack=True, seq_len=600, prompt_drop=0.5, roles=roles,
                     as_torch=True))
z = np.load("B/r0000_s000000001.npz")
assert bs[1]["info"]["step"] == 1 and set(z.files) == set(bs[1]) - {"info"}
for k in z.files:
    assert isinstance(bs[1][k], torch.Tensor) and np.array_equal(bs[1][k].numpy(), z[k]), k
r1 = list(jf.batches(ds, "mix.json", "m", vae="v", start_step=1, end_step=2, pack=True, seq_len=600, prompt_drop=0.5,
                     roles=roles))
assert len(r1) == 1 and all(np.array_equal(r1[0][k], z[k]) for k in z.files)
try:
    next(jf.batches(ds, "mix.json", "m", roles={"cap": "nonsense"}))
    raise SystemExit("a bad role was accepted")
except jf.ArgumentError as e:
    assert "nonsense" in str(e)
try:
    next(jf.batches(ds, "mix.json", "m", gen_resample="nearest"))
    raise SystemExit("an unknown filter was accepted")
except jf.ArgumentError as e:
    assert "nearest" in str(e)
try:
    next(jf.batches(ds, "mix.json", "no-such-model"))
    raise SystemExit("a missing model was accepted")
except jf.Error as e:
    assert "no-such-model" in str(e), e
PY
else
  echo "skip jf.batches (the Python binding is not built here)"
fi
# without a VAE the batches carry the crops, no latents; the loss refuses generation samples
expect 1 "batches without a VAE" $jf train batches ds mix.json --model m --steps 1 --out NV --role cap=caption
$py -c "import numpy as np; z = np.load('NV/r0000_s000000000.npz'); assert 'gen_latent' not in z.files and z['gen_image'].shape[0] > 0" \
  && ok "no gen_latent member without a VAE" || bad "latents without a VAE"
expect 2 "loss refuses generation samples without a VAE" $jf train loss ds mix.json --model m --steps 1 --role cap=caption
grep -q 'has no latent: give a VAE' err && ok "  ... saying why" || bad "no-latent message"
# refused: a sample longer than --seq-len with --refuse-overlong, named
expect 12 "--refuse-overlong" $jf train batches "${common[@]}" --steps 2 --out R --refuse-overlong
grep -q 'sample manifest/00000008 (id 9) needs 752 positions, more than --seq-len 600' err && ok "  ... naming the sample" \
  || bad "overlong message"
# a mix whose source selects nothing
printf '%s\n' '{"seed": 1, "global_batch": 4, "sources": [{"name": "x", "where": "kind = '"'"'nothing'"'"'"}], "stages": [{"name": "a", "steps": 2, "weights": {"x": 1}}]}' > empty.json
$jf train batches ds empty.json --model m --out E > /dev/null 2> err; rc=$?
[ $rc -ne 0 ] && grep -qi 'x' err && ok "an empty mix source is an error (exit $rc)" || bad "empty source (exit $rc)"
# per-sample loss into an index column; jf model loss is the same command
expect 1 "loss column" $jf model loss ds --column lossv --model m --vae v --seq-len 600
$py - ds/index.sqlite <<'PY' && ok "column written: NULL exactly where the sample cannot be scored" || bad "loss column values"
import sqlite3, sys
rows = dict(sqlite3.connect(sys.argv[1]).execute("SELECT key, lossv FROM samples").fetchall())
assert rows["manifest/00000006"] is None, rows
assert all(v is not None and v > 0 for k, v in rows.items() if k != "manifest/00000006"), rows
PY
# the loss column as a job array: two column parts merged equal the one-process column
cp -r ds dsp
for k in 0 1; do
  expect $((1 - k)) "loss column part $k/2 (the unscorable sample is in part 0)" $jf train loss dsp --column lossp --model m --vae v --seq-len 600 --part $k/2 --column-part lp$k.jsonl
done
expect 0 "merge the loss parts" $jf shard merge-columns dsp lp0.jsonl lp1.jsonl
$py - <<'PY' && ok "  ... equal to the one-process column (NULL where unscorable)" || bad "loss column parts"
import sqlite3
q = "SELECT key, lossv FROM samples ORDER BY id"
a = sqlite3.connect("ds/index.sqlite").execute(q).fetchall()
b = sqlite3.connect("dsp/index.sqlite").execute(q.replace("lossv", "lossp")).fetchall()
assert a == b and len(a) == 9 and sum(v is None for _, v in a) == 1, (a, b)
PY
# a conversation in the wrong order is counted and named, not silently dropped
printf '%s\n' '{"image": "img0.png", "conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "<image> hi"}]}' \
  '{"image": "img2.png", "conversations": [{"from": "human", "value": "<image> hi"}, {"from": "gpt", "value": "yes"}]}' > bad.jsonl
cp "$src/tests/data/train/img0.png" "$src/tests/data/train/img2.png" .
$jf ingest bads bad.jsonl --quiet > /dev/null 2>&1 || bad "ingest bad.jsonl"
printf '%s\n' '{"seed": 1, "global_batch": 2, "sources": [{"name": "u", "where": "1"}], "stages": [{"name": "a", "steps": 1, "weights": {"u": 1}}]}' > one.json
expect 1 "a conversation that starts with the assistant" $jf train batches bads one.json --model m --out BB
grep -q "bad_text: turn 0 is from 'gpt' where the template needs the user" err && grep -q '1 bad_text' out \
  && ok "  ... counted and named" || bad "bad conversation message"
# ---- stored latents (jf shard encode-latents) ----
# the builder's own crop for epoch 0, float32: batches from the store equal batches encoded on the fly
expect 0 "encode-latents (keyed crops of epoch 0, f32)" $jf shard encode-latents ds --vae v --out LK --crop keyed --seed 11 \
  --size 64 --dtype f32
grep -q 'encoded 2 latents' out && ok "  ... both generation samples" || bad "encode-latents count"
expect 0 "rerun" $jf shard encode-latents ds --vae v --out LK --crop keyed --seed 11 --size 64 --dtype f32 --json
grep -q '"encoded":0,"skipped_already_stored":2' out && ok "  ... a rerun skips what is stored" || bad "rerun skips"
nov=(ds mix.json --model m --seq-len 600 --prompt-drop 0.5 --role cap=caption --role gen=gen)
expect 1 "batches from stored latents, no VAE" $jf train batches "${nov[@]}" --latents LK --steps 1 --pack --out BS
grep -q 'generation latents: 2 stored, 0 encoded, 0 none' out && ok "  ... says where the latents came from" \
  || bad "latent counts"
cmp -s B/r0000_s000000000.npz BS/r0000_s000000000.npz && ok "  ... the same bytes as the VAE on the fly" \
  || bad "stored latents change the batch"
$py -c "import json; assert json.load(open('BS/batches.json'))['latents'] == {'stored': 2, 'encoded': 0, 'missing': 0}" \
  && ok "  ... and batches.json records it" || bad "batches.json latents"
# float16 (the default) and centre crops: within float16's rounding of the encoder's values
expect 0 "encode-latents (centre crops, f16)" $jf shard encode-latents ds --vae v --out LC --size 64
expect 1 "batches from f16 latents" $jf train batches "${common[@]}" --latents LC --steps 1 --out BC
$jf train batches "${common[@]}" --steps 1 --out BV > /dev/null 2>&1
$py - <<'PY' && ok "  ... f16 latents within 2e-3 of the encoder's, at the centre crop" || bad "f16 latents"
import numpy as np
a, b = np.load("BC/r0000_s000000000.npz"), np.load("BV/r0000_s000000000.npz")
crop = a["gen_crop"]
for c in crop:   # centred as torchvision's CenterCrop: round((size - side) / 2) half to even
    assert c[2] == round((c[0] - c[4]) / 2) and c[3] == round((c[1] - c[4]) / 2), crop
x = a["gen_latent"]; ref = None
# the encoder at the same crop: the builder with the VAE encodes the crop it draws, so compare
# only where the crops agree (a square image has one crop)
same = [i for i in range(len(crop)) if (crop[i] == b["gen_crop"][i]).all()]
assert same, (crop, b["gen_crop"])
for i in same:
    d = np.abs(x[i] - b["gen_latent"][i]).max() / np.abs(b["gen_latent"][i]).max()
    assert d < 2e-3, d
PY
# parts of a job array, merged, equal one run
expect 0 "part 0/2" $jf shard encode-latents ds --vae v --out LP0 --size 64 --part 0/2
expect 0 "part 1/2" $jf shard encode-latents ds --vae v --out LP1 --size 64 --part 1/2
expect 1 "merge one part" $jf shard merge LM LP0
grep -q '1/2' out err && ok "  ... the missing part named" || bad "missing part not named"
$jf shard merge LM LP1 > /dev/null 2>&1
for k in manifest/00000002 manifest/00000003; do
  $jf shard cat LC "$k" --field latent.npy > one.npy 2>/dev/null
  $jf shard cat LM "$k" --field latent.npy > merged.npy 2>/dev/null
  cmp -s one.npy merged.npy && [ -s one.npy ] || bad "merged part differs for $k"
done && ok "merged parts hold the single run's latents"
expect 2 "a part of another job refused" $jf shard encode-latents ds --vae v --out LP0 --size 64 --part 1/2
# a stored latent that does not fit: wrong shape (another crop size), another VAE; samples the store lacks
expect 0 "encode-latents at 128 px" $jf shard encode-latents ds --vae v --out L128 --size 128
expect 1 "batches with latents of the wrong shape" $jf train batches "${nov[@]}" --latents L128 --steps 1 --out BW
grep -q 'bad_latent: the stored latent has shape (2, 4, 16, 16) (4 dims); this model takes (2, 4, 8, 8)' err \
  && grep -q '2 bad_latent' out && ok "  ... counted and named" || bad "wrong-shape latent"
$jf model random --vae v2 --seed 5 > /dev/null 2>&1
expect 1 "batches with latents of another VAE" $jf train batches "${nov[@]}" --vae v2 --latents LC --steps 1 --out BO
grep -q 'bad_latent: the stored latent was encoded by VAE' err && ok "  ... refused by weights hash" || bad "other VAE"
expect 1 "a store lacking samples, no VAE" $jf train batches "${nov[@]}" --latents LP0 --steps 1 --out BM
grep -q 'not in the latent store LP0 (and no --vae to encode it)' err && grep -q '1 stored, 0 encoded, 1 none' out \
  && ok "  ... the missing one named" || bad "missing latent"
expect 1 "... with a VAE the rest is encoded" $jf train batches "${common[@]}" --latents LP0 --steps 1 --out BE
grep -q '1 stored, 1 encoded, 0 none' out && ok "  ... counted" || bad "encoded fallback count"
# the resize filter is recorded: batches resizing with another filter refuse the latent; with the
# same filter they take it
expect 0 "encode-latents with bicubic resizes" $jf shard encode-latents ds --vae v --out LB --crop keyed --seed 11 \
  --size 64 --dtype f32 --resample bicubic
expect 1 "batches (bilinear) from bicubic latents" $jf train batches "${nov[@]}" --latents LB --steps 1 --out BB1
grep -q 'bad_latent: the stored latent is of a bicubic resize; the batches resize with bilinear (--gen-resample)' err \
  && grep -q '2 bad_latent' out && ok "  ... refused, named" || bad "resample mismatch: $(head -3 err)"
expect 1 "batches --gen-resample bicubic from them" $jf train batches "${nov[@]}" --latents LB --steps 1 --out BB2 --gen-resample bicubic
grep -q 'generation latents: 2 stored, 0 encoded, 0 none' out && ok "  ... taken" || bad "bicubic latents not taken"
expect 2 "an unknown filter" $jf train batches "${nov[@]}" --steps 1 --out BB3 --gen-resample nearest
# the loss reads stored latents too: same per-sample losses as the VAE on the fly (epoch 0)
expect 1 "loss from stored latents" $jf train loss "${nov[@]}" --latents LK --steps 1 --json
$py - loss.jsonl out <<'PY' && ok "  ... equal to the VAE's" || bad "loss from stored latents"
import json, sys
a = json.loads(open(sys.argv[1]).readline()); b = json.loads(open(sys.argv[2]).readline())
assert a["step"] == b["step"] == 0 and a["rf"] == b["rf"] and a["rf"] is not None, (a["rf"], b["rf"])
PY
# samples without an image are named and counted, the rest stored
expect 1 "encode-latents over text samples" $jf shard encode-latents ds --vae v --out LT --size 64 --where "kind = 'text'"
grep -q 'manifest/00000004 (id 5): no image field' err && grep -q '3 bad' out && ok "  ... each named, counted" \
  || bad "no-image samples"
expect 2 "encode-latents without --vae" $jf shard encode-latents ds --out LX
expect 0 "encode-latents --help" $jf shard encode-latents --help
expect 0 "--help" $jf train --help
expect 2 "unknown role" $jf train batches ds mix.json --model m --out X --role cap=nonsense
exit $fails
