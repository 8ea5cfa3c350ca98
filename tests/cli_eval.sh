#!/usr/bin/env bash
# Command-line tests of jf eval: FID/KID/statistics and CLIP score on the demo's data with its
# formula weights, the README's evaluation examples as written, and bad inputs named.
# Usage: cli_eval.sh BUILD_DIR [fid|clip]   (ctest runs the two halves as two tests, in parallel)
set -u
. "$(dirname "$0")/cli_lib.sh" "$1"

expect 0 "the demo's output (ctest fixture)" demo_copy "$work/demo"
ds="$work/demo/dataset"
# eval: FID between a folder and a tar of the same images is 0; statistics saved as .npz give
# the same number; a broken image is counted and named (exit 1); bad inputs are named
expect 0 "help: jf eval --help" $jf eval --help
expect 0 "help: jf-eval --help" "$1/cli/jf-eval" --help
w="$work/demo/inception-formula.safetensors"
mkdir -p "$work/imgs" && tar -xf "$work/demo/export/00000.tar" -C "$work/imgs" --wildcards '*.jpg'
section=${2:-all}
if [ "$section" != clip ]; then
expect 0 "eval fid folder vs tar" $jf eval fid "$work/imgs" "$work/demo/export/00000.tar" --weights "$w" --json --limit 4 --save-stats "$work/a.npz"
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if abs(d['fid'])<1e-6 and d['a']['n']==4 and d['weights_hash'] else 1)" \
  && ok "eval JSON: FID of the same images is 0" || bad "eval JSON content"
expect 0 "eval fid against saved stats" $jf eval fid "$work/a.npz" "$work/demo/export/00000.tar" --weights "$w" --json --limit 4
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if abs(d['fid'])<1e-6 else 1)" \
  && ok "saved statistics give the same FID" || bad "saved statistics differ"
# the README's evaluation examples, as written, on stand-ins for their files (a documentation
# check: the release build runs it; under the sanitizers it would repeat code paths run below at
# several seconds an image)
if [ -n "${JF_TEST_SANITIZED:-}" ]; then echo "skip README examples (sanitizer build; the release build runs them)"; else
mkdir -p "$work/readme" && (
  cd "$work/readme" || exit 1
  for d in real generated ref gen; do ln -s "$work/imgs" "$d"; done
  ln -s "$work/demo/export/00000.tar" gen.tar; cp "$work/a.npz" coco_val.npz
  cp -r "$ds" ds; ln -s "$work/demo/clip-formula" clip-vit-large-patch14; ln -s "$w" pt_inception-2015-12-05-6726825d.pth
  find "$work/imgs" -name '*.jpg' | sed 's/.*/a prompt/' > prompts.txt
  $jf filter ds --where "kind = 'generation'" --into gen_clean --quiet
  sed -n '/^## Evaluation in one minute/,/^```$/{/^jf /p}' "$src/README.md" | sed 's/  *#.*$//' > commands
  [ "$(wc -l < commands)" -ge 7 ] || echo "FAIL README evaluation block not found"
  while read -r cmd; do
    # every example runs (--limit only for speed: Inception under ASan takes seconds an image; KID
    # needs two per side; the formula CLIP scores low, so the filter on them keeps nothing, which
    # --allow-empty accepts)
    extra="--limit 2"; case "$cmd" in "jf filter"*) extra="--allow-empty";; esac
    if JF_INCEPTION_WEIGHTS="$w" eval "$jf ${cmd#jf } $extra" > out 2> err; then echo "ok   README: $cmd"
    else echo "FAIL README: $cmd"; head -3 err; fi
  done < commands
) | tee "$work/readme.log"
grep -q FAIL "$work/readme.log" && fails=$((fails+1))
fi
expect 9 "a subset of a dataset without subsets" $jf eval stats "$ds#nothing" "$work/x.npz" --weights "$w"
grep -q "no subset named 'nothing'" "$work/err" && ok "the missing subset is named" || { bad "missing subset message"; cat "$work/err"; }
expect 0 "eval fid --gigagan 256 as two words" $jf eval fid "$work/a.npz" "$work/imgs" --gigagan 256 --weights "$w" --limit 2 --json
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['gigagan_size']==256 else 1)" && ok "--gigagan 256 read as the size" || bad "--gigagan 256"
expect 0 "eval fid --gigagan=128" $jf eval fid "$work/a.npz" "$work/imgs" --gigagan=128 --weights "$w" --limit 2 --json
grep -q '"gigagan_size":128' "$work/out" && ok "--gigagan=128" || bad "--gigagan=128"
for m in clean legacy_pytorch legacy_tensorflow; do
  expect 0 "clean-fid mode name $m" $jf eval fid "$work/a.npz" "$work/a.npz" --mode $m --json
done
# statistics against themselves: exactly 0, and the JSON does not claim a preprocessing mode
expect 0 "eval fid of an .npz against itself" $jf eval fid "$work/a.npz" "$work/a.npz" --json
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['fid']==0 and d['mode'] is None and d['a']['from']=='statistics' else 1)" \
  && ok "identical statistics give 0, mode null" || { bad "npz self FID"; cat "$work/out"; }
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n' > "$work/lfs.pth"
expect 6 "weights that are an LFS pointer" $jf eval fid "$work/imgs" "$work/imgs" --weights "$work/lfs.pth"
grep -q "Git LFS pointer" "$work/err" && grep -q "neither safetensors" "$work/err" && ok "the weights error names the formats tried" || { bad "weights error text"; cat "$work/err"; }
expect 0 "eval stats" $jf eval stats "$work/imgs" "$work/b.npz" --weights "$w" --limit 4 --mode pytorch-fid --quiet
# (a folder of three, as Inception under ASan takes seconds an image)
mkdir -p "$work/imgs_bad" && find "$work/imgs" -name '*.jpg' | sort | head -2 | xargs -I{} cp {} "$work/imgs_bad/"
printf 'not a jpeg' > "$work/imgs_bad/zzz_broken.jpg"
expect 1 "eval counts an undecodable image" $jf eval stats "$work/imgs_bad" "$work/c.npz" --weights "$w" --quiet
grep -q "zzz_broken.jpg" "$work/err" && ok "the undecodable image is named" || bad "undecodable image not named"
# statistics in parts (job arrays): three parts of five images merged equal one run over them
# (one image per network call, so that every image's features are the same bytes in both: BLAS
# results may change with the batch's row count); a missing, repeated or differently made part
# is refused
mkdir -p "$work/imgs5" && find "$work/imgs" -name '*.jpg' | sort | head -5 | xargs -I{} cp {} "$work/imgs5/"
expect 0 "stats of five images" $jf eval stats "$work/imgs5" "$work/all.npz" --weights "$w" --batch 1 --quiet
for k in 0 1 2; do
  expect 0 "stats part $k/3" $jf eval stats "$work/imgs5" "$work/p$k.npz" --weights "$w" --part $k/3 --batch 1 --quiet
done
expect 0 "merge the parts" $jf eval stats --merge "$work/merged.npz" "$work/p2.npz" "$work/p0.npz" "$work/p1.npz" --json
grep -q '"n": 5' "$work/out" && ok "5 images in the merged statistics" || { bad "merged n"; cat "$work/out"; }
/usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('$work/all.npz'), np.load('$work/merged.npz')
dm = np.abs(a['mu'] - b['mu']).max() / np.abs(a['mu']).max(); ds = np.abs(a['sigma'] - b['sigma']).max() / np.abs(a['sigma']).max()
print(f'    relative difference: mu {dm:.2e}, sigma {ds:.2e}')
sys.exit(0 if dm < 1e-12 and ds < 1e-12 else 1)" && ok "merged = one run, to rounding" || bad "merged statistics differ"
expect 2 "a part missing" $jf eval stats --merge "$work/m2.npz" "$work/p0.npz" "$work/p2.npz"
grep -q "parts 1 of 3 are missing" "$work/err" && ok "the missing part named" || { bad "missing part"; cat "$work/err"; }
expect 2 "a part twice" $jf eval stats --merge "$work/m2.npz" "$work/p0.npz" "$work/p0.npz" "$work/p1.npz"
grep -q "overlapping parts" "$work/err" && ok "overlap refused" || bad "overlap"
expect 0 "a part in another mode" $jf eval stats "$work/imgs5" "$work/q1.npz" --weights "$w" --part 1/3 --mode pytorch-fid --quiet
expect 2 "parts made differently" $jf eval stats --merge "$work/m2.npz" "$work/p0.npz" "$work/q1.npz" "$work/p2.npz"
grep -q "made differently" "$work/err" && ok "a different mode refused" || bad "protocol check"
expect 6 "plain statistics are not parts" $jf eval stats --merge "$work/m2.npz" "$work/all.npz"
grep -q "not a statistics part" "$work/err" && ok "said so" || bad "not a part message"
expect 2 "eval --kid with .npz is a usage error" $jf eval fid "$work/a.npz" "$work/imgs" --kid --weights "$w"
expect 2 "eval unknown mode" $jf eval fid "$work/imgs" "$work/imgs" --mode bicubic
expect 9 "eval without weights names the file" $jf eval fid "$work/imgs" "$work/imgs" --weights "$work/none.pth"
grep -q "none.pth" "$work/err" && ok "missing weights named" || bad "missing weights not named"
printf 'PK\005\006garbage' > "$work/bad.npz"
expect 6 "eval with a broken .npz" $jf eval fid "$work/bad.npz" "$work/a.npz"

fi
if [ "$section" != fid ]; then
# clipscore (the demo wrote a formula CLIP and the clip_formula column, checked above)
img1=$(find "$work/imgs" -name '*.jpg' | sort | head -1)
printf '{"image": "%s", "text": "a photo"}\n{"text": "no image"}\n' "${img1#$work/}" > "$work/pairs.jsonl"
expect 1 "clipscore JSONL with a bad record" $jf eval clipscore "$work/pairs.jsonl" --model "$work/demo/clip-formula" --json
python3 -c "import json,sys; d=json.loads(open('$work/out').read().splitlines()[-1]); sys.exit(0 if d['pairs']==1 and d['bad_records']==1 else 1)" \
  && ok "clipscore JSON counts pairs and bad records" || bad "clipscore JSON content"
# per-sample scores for any source: JSON lines before the summary, or into a file
python3 - "$work/out" <<'PY' && ok "clipscore --json gives each pair (id, caption, cosine, score)" || bad "clipscore per-sample lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2 and lines[-1]['summary'] == 'clipscore', lines
p = lines[0]
assert p['id'].endswith('.jpg') and p['caption'] == 'a photo' and abs(p['score'] - 100 * p['cosine']) < 1e-9, (p, lines)  # torchmetrics: 100·cos per pair, the mean clamped
PY
expect 1 "clipscore --per-sample FILE" $jf eval clipscore "$work/pairs.jsonl" --model "$work/demo/clip-formula" --per-sample "$work/per.jsonl"
[ "$(wc -l < "$work/per.jsonl")" = 1 ] && ok "per-sample file written" || bad "per-sample file"
mkdir -p "$work/gen" && find "$work/imgs" -name '*.jpg' | sort | head -2 | xargs -I{} cp {} "$work/gen/"
printf 'a red square\na blue circle\n' > "$work/prompts.txt"
expect 0 "clipscore of generated images with a prompts file" $jf eval clipscore "$work/gen" --prompts "$work/prompts.txt" --model "$work/demo/clip-formula" --kind cosine --json
python3 -c "import json,sys; d=json.loads(open('$work/out').read().splitlines()[-1]); sys.exit(0 if d['pairs']==2 and d['kind']=='cosine' else 1)" \
  && ok "prompts paired with images" || bad "prompts pairing"
printf 'only one\n' > "$work/prompts1.txt"
expect 2 "fewer prompts than images" $jf eval clipscore "$work/gen" --prompts "$work/prompts1.txt" --model "$work/demo/clip-formula"
# OpenAI's cleaning on the Hessel path: "&amp;" reads as "&" there, not in torchmetrics' tokenizer
printf '{"image": "%s", "text": "Tom &amp;amp; Jerry"}\n' "${img1#$work/}" > "$work/amp.jsonl"
printf '{"image": "%s", "text": "Tom & Jerry"}\n' "${img1#$work/}" > "$work/plain.jsonl"
for k in hessel torchmetrics; do
  $jf eval clipscore "$work/amp.jsonl" --model "$work/demo/clip-formula" --kind $k --json > "$work/amp_$k.json" 2>/dev/null
  $jf eval clipscore "$work/plain.jsonl" --model "$work/demo/clip-formula" --kind $k --json > "$work/plain_$k.json" 2>/dev/null
done
python3 - "$work" <<'PY' && ok "hessel captions HTML-unescaped as clip.tokenize does" || bad "hessel HTML unescaping"
import json, sys
w = sys.argv[1]
s = {f: json.loads(open(f"{w}/{f}.json").read().splitlines()[-1])["mean_cosine"] for f in ("amp_hessel", "plain_hessel", "amp_torchmetrics", "plain_torchmetrics")}
assert s["amp_hessel"] == s["plain_hessel"], s
assert s["amp_torchmetrics"] != s["plain_torchmetrics"], s
PY
# clipscore --column as a job array: three parts into column part files, merged exactly into the
# index; the merge names a missing part and refuses overlaps, other jobs and a part cut short
cp -r "$ds" "$work/cp_ds"
sub="$work/cp_ds#gen_clean"
expect 0 "clipscore --column, one process" $jf eval clipscore "$sub" --model "$work/demo/clip-formula" --column clip_one --quiet
for k in 0 1 2; do
  expect 0 "clipscore part $k/3" $jf eval clipscore "$sub" --model "$work/demo/clip-formula" --column clip_parts --part $k/3 \
    --column-part "$work/cp$k.jsonl" --quiet
done
expect 0 "rerun of a finished part" $jf eval clipscore "$sub" --model "$work/demo/clip-formula" --column clip_parts --part 1/3 \
  --column-part "$work/cp1.jsonl"
grep -q "already complete" "$work/out" && ok "  ... skips it" || bad "finished part not skipped"
expect 2 "merge with a part missing" $jf shard merge-columns "$work/cp_ds" "$work/cp0.jsonl" "$work/cp2.jsonl"
grep -q "part 1/3 of job .* is missing: nothing merged" "$work/err" && ok "  ... names it" || bad "missing part message"
expect 2 "merge with a part twice" $jf shard merge-columns "$work/cp_ds" "$work/cp0.jsonl" "$work/cp1.jsonl" "$work/cp1.jsonl"
grep -q "overlapping parts" "$work/err" && ok "  ... refused" || bad "overlap message"
head -n 2 "$work/cp2.jsonl" > "$work/cut.jsonl"
expect 11 "merge with a part cut short" $jf shard merge-columns "$work/cp_ds" "$work/cp0.jsonl" "$work/cp1.jsonl" "$work/cut.jsonl"
grep -q "cut.jsonl: no complete trailer" "$work/err" && ok "  ... named" || bad "cut part message"
expect 0 "a part of another job (another column)" $jf eval clipscore "$sub" --model "$work/demo/clip-formula" --column other \
  --part 2/3 --column-part "$work/other2.jsonl" --quiet
expect 2 "merge parts of two jobs" $jf shard merge-columns "$work/cp_ds" "$work/cp0.jsonl" "$work/cp1.jsonl" "$work/other2.jsonl"
grep -q "not one job" "$work/err" && ok "  ... refused" || bad "two jobs message"
expect 0 "merge the three parts" $jf shard merge-columns "$work/cp_ds" "$work/cp0.jsonl" "$work/cp1.jsonl" "$work/cp2.jsonl" --json
python3 - "$work/cp_ds/index.sqlite" <<'PY' && ok "merged column = one process's, bit for bit" || bad "merged clip column"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT key, clip_one, clip_parts FROM samples").fetchall()
scored = [r for r in rows if r[1] is not None]
assert len(scored) >= 3 and all(r[1] == r[2] for r in rows), [r for r in rows if r[1] != r[2]][:3]
PY
expect 2 "--part without --column-part" $jf eval clipscore "$sub" --model "$work/demo/clip-formula" --column x --part 0/2
expect 2 "clipscore without --model" $jf eval clipscore "$work/imgs"
expect 2 "clipscore unknown kind" $jf eval clipscore "$work/imgs" --model "$work/demo/clip-formula" --kind nope

# jf eval t2i on the demo's tiny random JanusFlow and VAE, formula Inception and CLIP: the whole
# protocol in one run, then the same prompts in two parts, merged, scored: the same FID
# (two prompts and a reference of two images: Inception under ASan takes seconds an image)
printf '{"id":"t1","prompt":"a red square"}\n{"id":"t2","prompt":"a blue circle"}\n' > "$work/t2i.jsonl"
expect 0 "eval stats of a reference set, GigaGAN crop" $jf eval stats "$work/demo/export/00000.tar" "$work/ref.npz" --weights "$w" --gigagan 256 --limit 2 --quiet
m="$work/demo/tiny-janusflow"; v="$work/demo/tiny-vae"
expect 0 "eval t2i" $jf eval t2i --model "$m" --vae "$v" --prompts "$work/t2i.jsonl" --work "$work/t2i" --ref "$work/ref.npz" --weights "$w" --clip "$work/demo/clip-formula" --steps 3 --json
cp "$work/out" "$work/t2i_whole.json"
python3 -c "
import json,sys; d=json.loads(open('$work/t2i_whole.json').read().splitlines()[-1])
p=d['protocol']; ok = d['images']==2 and d['clip_pairs']==2 and d['fid']>0 and p['gigagan_size']==256 and p['steps']==3 and p['cfg']==2 and p['fid_mode']=='clean'
sys.exit(0 if ok else 1)" && ok "t2i: FID, CLIP score and the protocol in JSON" || { bad "t2i JSON"; cat "$work/out"; }
expect 0 "eval t2i part 0/2" $jf eval t2i --model "$m" --vae "$v" --prompts "$work/t2i.jsonl" --work "$work/t2i_p0" --steps 3 --part 0/2 --quiet
expect 0 "eval t2i part 1/2" $jf eval t2i --model "$m" --vae "$v" --prompts "$work/t2i.jsonl" --work "$work/t2i_p1" --steps 3 --part 1/2 --quiet
expect 0 "merge the parts" $jf shard merge "$work/t2i_all" "$work/t2i_p0" "$work/t2i_p1"
expect 0 "eval t2i --score-only" $jf eval t2i --work "$work/t2i_all" --ref "$work/ref.npz" --weights "$w" --score-only --json
same=1
for k in gen/t1-0 gen/t2-0; do
  $jf shard cat "$work/t2i" "$k" --field png > "$work/a.png" 2>/dev/null; $jf shard cat "$work/t2i_all" "$k" --field png > "$work/b.png" 2>/dev/null
  [ -s "$work/a.png" ] && cmp -s "$work/a.png" "$work/b.png" || same=0
done
[ $same = 1 ] && ok "parts generate the one run's images, byte for byte" || bad "parts' images differ"
# the statistics of the same images in another order agree to rounding (2 images: a rank-1
# covariance, whose square root amplifies rounding; 1e-3 relative is far above it)
python3 -c "
import json,sys; a=json.loads(open('$work/t2i_whole.json').read().splitlines()[-1]); b=json.loads(open('$work/out').read().splitlines()[-1])
sys.exit(0 if b['images']==2 and abs(a['fid']-b['fid']) <= 1e-3*abs(a['fid']) else 1)" \
  && ok "parts merged give the one-run FID" || { bad "parts FID"; cat "$work/out" "$work/t2i_whole.json"; }
expect 2 "eval t2i without --ref" $jf eval t2i --model "$m" --vae "$v" --prompts "$work/t2i.jsonl" --work "$work/t2i_x"

fi

[ $fails -eq 0 ] || { echo "$fails failures"; exit 1; }
