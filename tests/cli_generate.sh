#!/bin/bash
# jf generate from the command line: files and sidecars, a dataset, resumption, determinism across
# threads and images per prompt, --noise, and bad input (each a clear error; finished images stay).
source "$(dirname "$0")/cli_lib.sh"
cd "$work"

"$jf" model random m >/dev/null 2>&1 && "$jf" model random v --vae >/dev/null 2>&1 || { bad "random model and VAE"; exit 1; }

# one prompt, two images, JSON lines then a summary
expect 0 "generate: one prompt, two images" "$jf" generate --model m --vae v "a red bicycle leaning on a wall" -n 2 --steps 4 --out a --json
if [ -s a/image-0.png ] && [ -s a/image-1.png ] && [ -s a/image-0.json ] && [ -s a/image-1.json ] && ! ls a/*.partial >/dev/null 2>&1; then
  ok "PNGs and sidecars written, no partial files"; else bad "PNGs and sidecars written"; ls -la a; fi
if [ "$(grep -c '"output"' out)" = 2 ] && tail -1 out | grep -q '"summary":"ok","generated":2'; then
  ok "--json: a line per image, the summary last"; else bad "--json lines"; cat out; fi
if grep -q '"seed":1,' a/image-1.json && grep -q '"steps":4' a/image-1.json && grep -q '"model_hash":"[0-9a-f]\{16\}"' a/image-1.json \
   && grep -q '"rounding":"round"' a/image-1.json && grep -q '"jf_version"' a/image-1.json; then
  ok "sidecar: seed, steps, hashes, rounding, version"; else bad "sidecar"; cat a/image-1.json; fi
if /usr/bin/python3 -c "
import sys; from PIL import Image
im = Image.open('a/image-0.png'); assert im.size == (64, 64) and im.mode == 'RGB', (im.size, im.mode)
" 2>"$work/pyerr"; then ok "a 64x64 RGB PNG that Pillow reads"; else bad "PNG readable"; cat "$work/pyerr"; fi

# a rerun skips what is finished
expect 0 "generate: rerun" "$jf" generate --model m --vae v "a red bicycle leaning on a wall" -n 2 --steps 4 --out a --json
if tail -1 out | grep -q '"generated":0,"skipped":2'; then ok "rerun: both images skipped"; else bad "rerun skip"; tail -1 out; fi
rm a/image-1.json
expect 0 "generate: rerun after losing a sidecar" "$jf" generate --model m --vae v "a red bicycle leaning on a wall" -n 2 --steps 4 --out a --json
if tail -1 out | grep -q '"generated":1,"skipped":1' && cmp -s a/image-1.png <(cat a/image-1.png); then ok "rerun: the unfinished image redone"; else bad "rerun redo"; tail -1 out; fi

# determinism: 1 thread vs 2, one image per prompt vs four, same PNG bytes
"$jf" generate --model m --vae v "a red bicycle leaning on a wall" -n 4 --steps 4 --out b --threads 2 --quiet
"$jf" generate --model m --vae v "a red bicycle leaning on a wall" -n 1 --steps 4 --out c --threads 1 --quiet
if cmp -s b/image-0.png c/image-0.png && cmp -s a/image-1.png b/image-1.png && ! cmp -s b/image-0.png b/image-1.png; then
  ok "same PNG bytes for 1 and 2 threads and for 1 and 4 images per prompt"; else bad "determinism"; fi

# many prompts (JSONL with ids and a seed, CSV), a dataset, parts
printf '{"id":"p1","prompt":"a cat"}\n{"id":"p2","caption":"a dog","seed":7}\n{"prompt":"a bird"}\n' >p.jsonl
expect 0 "generate --prompts JSONL --into a dataset" "$jf" generate --model m --vae v --prompts p.jsonl --into ds --steps 3 --json
if grep -q '"id":"p2","index":0,"prompt":"a dog","seed":7' out && grep -q '"id":"000002"' out; then
  ok "prompt ids and own seeds"; else bad "prompt ids"; cat out; fi
"$jf" shard cat ds gen/p2-0 >cat.txt 2>&1
if grep -q "kind generation" cat.txt && grep -q "gen_seed = 7" cat.txt && grep -q ".txt (text, 5 bytes): a dog" cat.txt && grep -q "gen_model_hash" cat.txt; then
  ok "dataset samples of kind generation with prompt, seed and hashes"; else bad "dataset sample"; cat cat.txt; fi
expect 0 "generate --into again" "$jf" generate --model m --vae v --prompts p.jsonl --into ds --steps 3 --json
if tail -1 out | grep -q '"generated":0,"skipped":3'; then ok "dataset rerun: all skipped"; else bad "dataset rerun"; tail -1 out; fi
printf 'id,caption\nc1,"a house, red"\nc2,a tree\n' >p.csv
expect 0 "generate --prompts CSV --part 1/2" "$jf" generate --model m --vae v --prompts p.csv --out d --steps 2 --part 1/2 --json
if [ -e d/c2-0.png ] && [ ! -e d/c1-0.png ] && tail -1 out | grep -q '"other_part":1'; then ok "--part takes its prompts"; else bad "--part"; ls d; fi

# --noise: initial latents from a .npy
/usr/bin/python3 -c "
import numpy as np; np.save('noise.npy', np.random.RandomState(3).standard_normal((2, 4, 8, 8)).astype(np.float32))
np.save('noise_bad.npy', np.zeros((2, 4, 8, 9), np.float32))"
expect 0 "generate --noise" "$jf" generate --model m --vae v "a red bicycle" -n 2 --steps 3 --noise noise.npy --out e
if grep -q '"seed":null,"noise":"noise.npy"' e/image-1.json; then ok "--noise recorded in the sidecar"; else bad "--noise sidecar"; cat e/image-1.json; fi

# bad input
expect 2 "--steps 0 refused" "$jf" generate --model m --vae v "x" --steps 0 --out f
expect 2 "--cfg nan refused" "$jf" generate --model m --vae v "x" --cfg nan --out f
expect 2 "--cfg -1 refused" "$jf" generate --model m --vae v "x" --cfg -1 --out f
expect 2 "noise of the wrong shape" "$jf" generate --model m --vae v "x" -n 2 --noise noise_bad.npy --out f
grep -q "noise holds 576 values" err && ok "noise error names the sizes" || { bad "noise error"; cat err; }
expect 6 "a VAE directory that is not one" "$jf" generate --model m --vae m "x" --out f
grep -q "config.json" err && ok "VAE error names the file" || { bad "VAE error"; cat err; }
long=$(printf 'word %.0s' $(seq 1 3000))
printf '{"id":"ok1","prompt":"a cat"}\n{"id":"long","prompt":"%s"}\n' "$long" >long.jsonl
expect 1 "a prompt longer than the context fails alone" "$jf" generate --model m --vae v --prompts long.jsonl --out g --steps 2 --json
if grep -q '"id":"long","error":".*context' out && [ -e g/ok1-0.png ]; then ok "the long prompt reported, the other generated"; else bad "long prompt"; cat out; fi
expect 3 "an output path that cannot be a folder" "$jf" generate --model m --vae v "x" --steps 2 --out /dev/null/x
grep -q "/dev/null/x" err && ok "the unwritable path named" || { bad "unwritable path message"; cat err; }
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
  expect 3 "an unwritable output folder" "$jf" generate --model m --vae v "x" --steps 2 --out ro
else
  ok "an unwritable output folder (skipped: root writes anywhere)"
fi
# a full disk mid-batch (a 40 kB tmpfs when this user may mount one): the first images stay
# complete, the one being written is not left behind
mkdir h
if mount -t tmpfs -o size=40k tmpfs h 2>/dev/null; then
  "$jf" generate --model m --vae v "a red bicycle" -n 4 --steps 2 --out h >/dev/null 2>herr
  rc=$?
  if [ $rc = 4 ] && ! ls h/*.partial >/dev/null 2>&1 && grep -q "h/image-.*No space left" herr && [ -e h/image-0.json ]; then
    ok "disk full mid-batch: exit 4, message names the file, finished images kept, no partial left"
  else bad "disk full mid-batch (exit $rc)"; cat herr; ls -la h; fi
  for f in h/*.json; do [ -e "$f" ] || continue; [ -s "${f%.json}.png" ] || bad "sidecar without its image: $f"; done
  umount h
else
  ok "disk full mid-batch (skipped: cannot mount a tmpfs here)"
fi
expect 2 "no prompt" "$jf" generate --model m --vae v --out f
expect 0 "--help" "$jf" generate --help

exit $((fails > 0))
