#!/usr/bin/env bash
# Command-line tests: --help everywhere, exit codes, JSON output, the multi-call names, and the
# round trips users do by hand (cat --field, export read by GNU tar, verify after damage).
# The evaluation commands are in cli_eval.sh (a test of its own, so that ctest runs both at once).
# Usage: cli.sh BUILD_DIR
set -u
. "$(dirname "$0")/cli_lib.sh" "$1"

for c in "" "shard" "shard ls" "shard cat" "shard stats" "shard verify" "shard reindex" "shard merge" \
         "shard export" "shard import" "shard gc" "shard mix" "ingest" "filter" "filter dedup" "filter text" "demo" \
         "generate" "eval t2i" "model" "chat" "report"; do
  expect 0 "help: jf $c --help" $jf $c --help
  grep -q "usage" "$work/out" || bad "help text of 'jf $c' has no usage line"
done
expect 2 "no arguments is a usage error" $jf
expect 2 "unknown command" $jf frobnicate
expect 2 "unknown shard command" $jf shard frobnicate
expect 2 "bad option" $jf shard ls --nonsense x
expect 9 "missing dataset" $jf shard ls "$work/nothing-here"
expect 0 "multi-call name jf-shard" "$1/cli/jf-shard" --help

expect 0 "the demo's output (ctest fixture)" demo_copy "$work/demo"
ds="$work/demo/dataset"
sqlite3 "$ds/index.sqlite" "select count(*) from samples where clip_formula is not null" > "$work/n" 2>/dev/null
[ "$(cat "$work/n")" -gt 10 ] && ok "demo wrote clip_formula for the captioned samples" || bad "clip_formula column missing"
sqlite3 "$ds/index.sqlite" "select count(*) from samples where gen_seed is not null and kind = 'generation'" > "$work/n" 2>/dev/null
[ "$(cat "$work/n")" = 2 ] && ok "demo generated two images into the dataset" || bad "demo generation samples: $(cat "$work/n")"
# the demo's report holds its six evaluation results (FID/KID, CLIP score, POPE and MME under two protocols)
# every benchmark question answered by the model: the MME results hold a response per question
[ "$(wc -l < "$work/demo/bench/mme_results/existence.txt")" = 6 ] && [ "$(wc -l < "$work/demo/bench/pope_answers.jsonl")" = 9 ] \
  && ok "demo answered its 6 MME and 9 POPE questions" || bad "demo benchmark answers: $(wc -l "$work/demo/bench/mme_results/existence.txt" "$work/demo/bench/pope_answers.jsonl")"
n=$(grep -o '<h3>benchmark \|<h3>FID / KID\|<h3>CLIP score' "$work/demo/report.html" 2>/dev/null | wc -l)
[ "$n" = 6 ] && ok "demo wrote its report with six results" || bad "demo report: $n results"
expect 0 "filter on the CLIP score column" $jf filter "$ds" --where "clip_formula > -1000" --dry-run
expect 0 "stats --json" $jf shard stats "$ds" --json
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['samples']==104 and d['by_kind']['generation']['samples']==65 and d['by_kind']['understanding']['samples']==19 and d['by_kind']['text']['samples']==20 else 1)" \
  && ok "stats JSON content" || bad "stats JSON content"
expect 0 "verify clean" $jf shard verify "$ds" --json
tail -1 "$work/out" | grep -q '"errors":0' && ok "verify JSON summary" || bad "verify JSON summary"

# cat --field gives the bytes that went in
mkdir -p "$work/x" && tar -xf "$work/demo/input/laion/00000.tar" -C "$work/x" 000000001.jpg
expect 0 "cat --field" $jf shard cat "$ds" laion/000000001 --field jpg
cmp -s "$work/out" "$work/x/000000001.jpg" && ok "cat --field bytes equal the tar member" || bad "cat --field bytes differ"
expect 9 "cat of a missing key" $jf shard cat "$ds" no-such-key
expect 0 "cat --json" $jf shard cat "$ds" sa1b/sa_1000 --json
grep -q '"kind":"generation"' "$work/out" && ok "cat JSON" || bad "cat JSON"

# export is read by GNU tar
mkdir -p "$work/exp"
expect 0 "export" $jf shard export "$ds" "$work/exp/%03d.tar" --max-records 40 --quiet
tar -tf "$work/exp/000.tar" | head -1 | grep -q '^laion/000000000\.' && ok "GNU tar lists the export" || bad "GNU tar cannot list the export"

# mix streams are identical run to run, and slices partition the global batch
printf '{"seed":3,"global_batch":6,"sources":[{"name":"a","where":"source = '"'"'laion'"'"'"},{"name":"b","where":"source = '"'"'sa1b'"'"'"}],"stages":[{"steps":10,"weights":{"a":2,"b":1}}]}' > "$work/mix.json"
$jf shard mix "$ds" "$work/mix.json" --stream --rank 1 --world 3 > "$work/m1"
$jf shard mix "$ds" "$work/mix.json" --stream --rank 1 --world 3 > "$work/m2"
cmp -s "$work/m1" "$work/m2" && ok "mix stream deterministic" || bad "mix stream differs between runs"
[ "$(wc -l < "$work/m1")" = 20 ] && ok "mix slice size" || bad "mix slice size $(wc -l < "$work/m1")"
expect 0 "mix materialize" $jf shard mix "$ds" "$work/mix.json" --materialize "$work/mixed" --quiet
expect 0 "materialized set verifies" $jf shard verify "$work/mixed" --quiet
expect 0 "mix plan --json" $jf shard mix "$ds" "$work/mix.json" --json
expect 2 "mix rank >= world" $jf shard mix "$ds" "$work/mix.json" --stream --rank 3 --world 3

# ingest: problems give exit 1, JSON lines and a JSON summary; a rerun skips finished inputs
in="$work/demo/input"
expect 1 "ingest with planted damage exits 1" $jf ingest "$work/ing" "$in/laion/00000.tar" "$in/sharegpt4v/sharegpt4v_demo.json" --image-root "$in/sharegpt4v/data" --json
tail -1 "$work/out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); o=d['outcomes']; sys.exit(0 if o['ok']==70 and o['decode_error']==1 and o['missing_image']==1 and d['missing_by_prefix']=={'sam/images':1} else 1)" \
  && ok "ingest JSON summary" || { bad "ingest JSON summary"; tail -1 "$work/out"; }
grep -q '"message":"laion/000000003: decode_error' "$work/out" && ok "ingest reports the damaged sample" || bad "ingest does not report the damaged sample"
# the rerun skips the tar (read to its end, nothing to retry) and reads the manifest again: its
# missing image may have arrived; it has not, so the rerun still reports it
expect 1 "ingest rerun retries what failed" $jf ingest "$work/ing" "$in/laion/00000.tar" "$in/sharegpt4v/sharegpt4v_demo.json" --image-root "$in/sharegpt4v/data" --json
tail -1 "$work/out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); o=d['outcomes']; sys.exit(0 if d['inputs_skipped']==1 and d['inputs']==1 and o['missing_image']==1 and o['ok']==0 and o['already_present']>=20 else 1)" \
  && ok "rerun skipped the finished tar and retried the manifest's failure" || { bad "rerun did not retry per sample"; tail -1 "$work/out"; }
mkdir -p "$work/sam_fix/sam/images"
python3 - "$in/sharegpt4v/sharegpt4v_demo.json" "$work/sam_fix" <<'PY'
import json, sys, shutil, glob, os
recs = json.load(open(sys.argv[1]))
some = next(p for p in glob.glob(os.path.dirname(sys.argv[1]) + '/data/**/*.jpg', recursive=True))
for r in recs:
    img = r.get('image')
    if img and img.startswith('sam/images') and not os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), 'data', img)):
        shutil.copy(some, os.path.join(sys.argv[2], img))
PY
expect 0 "ingest rerun with the missing image found" $jf ingest "$work/ing" "$in/laion/00000.tar" "$in/sharegpt4v/sharegpt4v_demo.json" --image-root "$in/sharegpt4v/data" --image-root "$work/sam_fix" --json
tail -1 "$work/out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); o=d['outcomes']; sys.exit(0 if o['ok']==1 and o['missing_image']==0 else 1)" \
  && ok "the retried sample is stored" || { bad "the retried sample is not stored"; tail -1 "$work/out"; }
[ "$(sqlite3 "$work/ing/index.sqlite" "select count(*) from ingest_failures where outcome='missing_image'")" = 0 ] \
  && ok "its failure row is gone" || bad "failure row of a stored sample kept"
expect 0 "third run skips both inputs" $jf ingest "$work/ing" "$in/laion/00000.tar" "$in/sharegpt4v/sharegpt4v_demo.json" --image-root "$in/sharegpt4v/data" --image-root "$work/sam_fix" --json
tail -1 "$work/out" | grep -q '"inputs_skipped":2' && ok "nothing left to retry: both skipped" || bad "third run did not skip"
# an input that cannot be read is never a success
expect 1 "ingest of a missing path exits 1" $jf ingest "$work/ing_missing" "$work/no-such-file.tar" --json
tail -1 "$work/out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if d['summary']!='ok' and d['inputs_failed']==1 else 1)" \
  && ok "missing path counted, summary not ok" || { bad "missing path summary"; tail -1 "$work/out"; }
expect 1 "ingest of a glob that matches nothing exits 1" $jf ingest "$work/ing_missing" "$work/nothing-here/*.tar" --quiet
printf 'this is not any input format\n' > "$work/junk.bin"
expect 1 "ingest of an unreadable manifest exits 1" $jf ingest "$work/ing_missing" "$work/junk.bin" --quiet
printf '[{"id": "a", "caption": "x", "ima' > "$work/cut.json"
expect 1 "ingest of a manifest cut short exits 1" $jf ingest "$work/ing_missing" "$work/cut.json" --json
grep -q '"offset":3[0-9]' "$work/out" && ok "the manifest damage is reported at its byte" || { bad "manifest damage offset"; cat "$work/out"; }
expect 2 "ingest --part 3/2 is a usage error" $jf ingest "$work/ing" "$in/laion/00000.tar" --part 3/2
expect 2 "--part slurm outside an array task" env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT $jf ingest "$work/ing" "$in/laion/00000.tar" --part slurm
grep -q "not in a Slurm array task" "$work/err" && ok "said why" || { bad "--part slurm message"; cat "$work/err"; }
expect 2 "--part slurm in a sparse array" env SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 $jf ingest "$work/ing" "$in/laion/00000.tar" --part slurm
grep -q "use --array=M-N" "$work/err" && ok "the sparse array refused with the way out" || { bad "sparse message"; cat "$work/err"; }

# filter: funnel as JSON, caret errors, subsets usable by mixes, dedup of the planted duplicates
expect 0 "filter presets" $jf filter presets
grep -q datacomp-basic "$work/out" && ok "presets listed" || bad "presets not listed"
expect 0 "filter dry run JSON" $jf filter "$ds" --where "kind = 'generation'" --preset laion-safe --dry-run --json
python3 -c "import json,sys; d=json.load(open('$work/out')); f=d['funnel']; sys.exit(0 if d['input']==104 and f[0]['remaining']==65 and d['subset'] is None else 1)" \
  && ok "funnel JSON" || { bad "funnel JSON"; cat "$work/out"; }
# a dry run writes nothing: not the text columns its rules would need, not a run row
before=$(sqlite3 "$ds/index.sqlite" ".dump" | md5sum)
$jf filter "$ds" --preset datacomp-basic --dry-run --json > "$work/out" 2> "$work/err"; got=$?
[ "$got" -ne 0 ] && grep -q "jf filter text" "$work/err" && ok "dry run with text rules refuses to compute columns" || { bad "dry run with text rules (exit $got)"; cat "$work/err"; }
expect 0 "dry run without text rules" $jf filter "$ds" --where "width > 10" --dry-run
[ "$(sqlite3 "$ds/index.sqlite" ".dump" | md5sum)" = "$before" ] && ok "the dry runs left the index as it was" || bad "a dry run wrote to the index"
expect 2 "filter: unknown column" $jf filter "$ds" --where "shrot_side > 3" --dry-run
grep -q "did you mean 'short_side'" "$work/err" && grep -q '\^' "$work/err" && ok "caret error message" || bad "caret error message"
expect 10 "filter: existing subset" $jf filter "$ds" --where "width > 0" --into gen_clean
expect 0 "filter subsets --json" $jf filter subsets "$ds" --json
grep -q '"name":"unique"' "$work/out" && grep -q '"name":"gen_clean"' "$work/out" && ok "demo subsets present" || bad "demo subsets missing"
expect 0 "dedup exact dry run" $jf filter dedup "$ds" --exact --dry-run --json
grep -q '"clusters":1,"largest_cluster":2' "$work/out" && ok "exact duplicate found" || { bad "exact duplicate not found"; cat "$work/out"; }
printf 'key,score\nlaion/000000000,0.9\nlaion/000000001,0.1\n' > "$work/scores.csv"
expect 0 "filter scores" $jf filter scores "$ds" --column clip_score "$work/scores.csv"
expect 0 "filter on the score" $jf filter "$ds" --where "clip_score > 0.5" --into scored --json
grep -q '"kept":1' "$work/out" && ok "score column filtered" || bad "score column not filtered"
expect 0 "materialize subset" $jf filter materialize "$ds" scored "$work/scored"
expect 0 "materialized subset verifies" $jf shard verify "$work/scored" --quiet

# filter text as a job array: three column parts merged equal one process's columns
cp -r "$ds" "$work/tx_one" && cp -r "$ds" "$work/tx_parts"
printf 'photo\nthe\n' > "$work/banned.txt"
expect 0 "filter text, one process" $jf filter text "$work/tx_one" --banned-words "$work/banned.txt" --quiet
for k in 0 1 2; do
  expect 0 "filter text part $k/3" $jf filter text "$work/tx_parts" --banned-words "$work/banned.txt" --part $k/3 \
    --column-part "$work/tx$k.jsonl" --quiet
done
python3 -c "import sqlite3,sys; c=[r[1] for r in sqlite3.connect('$work/tx_parts/index.sqlite').execute('pragma table_info(samples)')]; sys.exit('lang' in c)" \
  && ok "the tasks left the index alone" || bad "a part task wrote the index"
expect 0 "merge-columns" $jf shard merge-columns "$work/tx_parts" "$work/tx0.jsonl" "$work/tx1.jsonl" "$work/tx2.jsonl"
python3 - "$work" <<'PY' && ok "merged text columns = one process's" || bad "merged text columns differ"
import sqlite3, sys
w = sys.argv[1]
q = "SELECT key, lang, caption_words, banned_words, lang_reliable FROM samples ORDER BY id"
a = sqlite3.connect(f"{w}/tx_one/index.sqlite").execute(q).fetchall()
b = sqlite3.connect(f"{w}/tx_parts/index.sqlite").execute(q).fetchall()
assert len(a) > 50 and a == b and any(r[3] for r in a), [x for x in zip(a, b) if x[0] != x[1]][:3]
PY
expect 2 "filter text --part without --column-part" $jf filter text "$work/tx_parts" --part 0/2

# import reports problems with exit 1 and keeps the good samples
head -c 50000 "$work/demo/input/laion/00000.tar" > "$work/cut.tar"
expect 1 "import of a truncated tar exits 1" $jf shard import "$work/imp" "$work/cut.tar" --json
grep -q '"severity":"error"' "$work/out" && ok "truncation reported as JSON" || bad "truncation not reported"
tail -1 "$work/out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if d['samples']>=1 else 1)" \
  && ok "samples before the cut kept" || bad "samples before the cut lost"

# import of img2dataset tars: the .json metadata gives the columns ingest gives, so the MIX.md
# example (aesthetic >= 5) runs on imported data
expect 0 "import of an img2dataset tar" $jf shard import "$work/imp_laion" "$in/laion/00000.tar" --source laion --quiet
same=$(sqlite3 "$work/imp_laion/index.sqlite" "attach '$work/ing/index.sqlite' as i;
  select count(*) from samples s join i.samples t on t.key = 'laion/' || s.key
  where s.aesthetic = t.aesthetic and s.similarity = t.similarity and s.punsafe is t.punsafe and s.url = t.url")
ingested=$(sqlite3 "$work/ing/index.sqlite" "select count(*) from samples where key like 'laion/%'")
[ "$same" -gt 20 ] && [ "$same" = "$ingested" ] && ok "imported columns equal ingested ones ($same samples)" || bad "imported columns differ: $same of $ingested"
printf '{"seed":1,"global_batch":4,"sources":[{"name":"gen","where":"kind = '"'"'generation'"'"' AND aesthetic >= 5"}],"stages":[{"steps":3,"weights":{"gen":1}}]}' > "$work/mix_aes.json"
expect 0 "the MIX.md aesthetic example on imported data" $jf shard mix "$work/imp_laion" "$work/mix_aes.json" --plan

# export with the keys the samples had in their inputs
mkdir -p "$work/exp_orig"
expect 0 "export --original-keys" $jf shard export "$ds" "$work/exp_orig/%03d.tar" --original-keys --json
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['keys']=='original' and d['samples']==104 else 1)" \
  && ok "export reports original keys" || { bad "export --original-keys JSON"; cat "$work/out"; }
tar -tf "$work/exp_orig/000.tar" | grep -q '^000000000\.jpg$' && ok "original keys have no source prefix" || bad "original keys still prefixed"
[ -z "$(for t in "$work/exp_orig/"*.tar; do tar -tf "$t"; done | sort | uniq -d)" ] && ok "no two samples share a member name" || bad "original keys collide"
expect 0 "export with dataset keys" $jf shard export "$ds" "$work/exp/d%03d.tar" --json
grep -q '"keys":"dataset"' "$work/out" && ok "export says which keys it wrote" || bad "export does not say which keys"

# verify finds damage (exit 1) and names the file; reindex restores a deleted index
cp -r "$ds" "$work/damaged"
f=$(ls "$work/damaged/shards/"*.jfr | head -1)
printf '\xff\xff\xff\xff' | dd of="$f" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect 1 "verify of a damaged shard exits 1" $jf shard verify "$work/damaged"
grep -q "$(basename "$f")" "$work/err" && ok "verify names the damaged file" || bad "verify does not name the file"
expect 1 "verify --json of a damaged shard" $jf shard verify "$work/damaged" --json
python3 - "$work/out" <<'PY' && ok "every record finding carries its offset field" || bad "record findings without an offset field"
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"severity"')]
rec = [r for r in rows if re.search(r'record|byte \d+', r.get('message', ''))]
sys.exit(0 if rec and all(r.get('offset', -1) >= 0 for r in rec) else 1)
PY
rm "$work/demo/dataset/index.sqlite"*
expect 0 "reindex without an index" $jf shard reindex "$ds" --quiet
expect 0 "verify after reindex" $jf shard verify "$ds" --quiet
expect 0 "gc" $jf shard gc "$ds" --quiet

# the model front ends on a random tiny model, with an image from the demo's data
for c in "model" "chat"; do
  expect 0 "help: jf $c --help" $jf $c --help
done
expect 0 "model random" $jf model random "$work/tiny" --seed 3
expect 0 "model inspect --json" $jf model inspect "$work/tiny" --json
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['weights']['unknown']==0 and d['special_ids']['image_end']==305 and d['vision']['image_tokens']==64 and d['generation']['channels']==16 and d['weights']['checked']==d['weights']['tensors']-13 else 1)" \
  && ok "inspect JSON content" || bad "inspect JSON content"
expect 0 "chat with an image" $jf chat --model "$work/tiny" --image "$work/x/000000001.jpg" --max-new-tokens 8 --json "What is this?"
python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if d['new_tokens']>=1 and d['prompt_tokens']>64 else 1)" \
  && ok "chat JSON content" || bad "chat JSON content"
# for parity checks: the prompt, its ids and the generated ids in --json, the first steps' logits as .npy
expect 0 "chat --json --dump-logits" $jf chat --model "$work/tiny" --image "$work/x/000000001.jpg" --max-new-tokens 6 --json --dump-logits "$work/logits.npy" --dump-steps 4 "What is this?"
/usr/bin/python3 - "$work/out" "$work/logits.npy" <<'PY' && ok "chat gives prompt/generated ids and logits whose argmax are the greedy ids" || bad "chat ids / logits dump"
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
a = np.load(sys.argv[2])
assert d['prompt'].endswith('Assistant:') and len(d['prompt_ids']) == d['prompt_tokens'] and len(d['ids']) == d['new_tokens'], d
assert a.dtype == np.float32 and a.shape == (min(4, d['new_tokens'] + 1), 320) and d['logits_steps'] == a.shape[0], a.shape
assert all(int(a[k].argmax()) == d['ids'][k] for k in range(min(a.shape[0], len(d['ids'])))), (a.argmax(1), d['ids'])
PY
expect 2 "chat without a question" $jf chat --model "$work/tiny"
expect 3 "chat with a missing image" $jf chat --model "$work/tiny" --image "$work/nothing.jpg" "q"
printf 'not an image' > "$work/junk.jpg"
expect 6 "chat with a non-image" $jf chat --model "$work/tiny" --image "$work/junk.jpg" "q"
grep -q "junk.jpg" "$work/err" && ok "chat names the bad image" || bad "chat does not name the bad image"
# many questions with the model loaded once: answers in line order, equal to one-by-one answers
# whatever the batch size; bad lines and images fail alone (exit 1)
cp "$work/x/000000001.jpg" "$work/a.jpg"
cat > "$work/q.jsonl" <<'JSONL'
{"question_id": 1, "image": "a.jpg", "text": "What is this?"}
{"id": "two", "images": ["a.jpg", "a.jpg"], "question": "Compare them."}

{"id": 3, "image": "junk.jpg", "question": "And this?"}
not json
{"id": 5, "question": "No image here."}
{"id": 6, "image": "missing.jpg", "question": "?"}
JSONL
expect 1 "chat --batch with bad lines" $jf chat --model "$work/tiny" --batch "$work/q.jsonl" --image-root "$work" --batch-size 2 --max-new-tokens 5
cp "$work/out" "$work/batch2.jsonl"
grep -q "6 questions: 3 answered, 3 failed" "$work/err" && ok "chat --batch summary" || bad "chat --batch summary"
expect 1 "chat --batch, batch size 64" $jf chat --model "$work/tiny" --batch "$work/q.jsonl" --image-root "$work" --batch-size 64 --max-new-tokens 5 --quiet
cmp -s "$work/out" "$work/batch2.jsonl" && ok "chat --batch output independent of the batch size" || bad "chat --batch output depends on the batch size"
expect 0 "chat one question" $jf chat --model "$work/tiny" --image "$work/a.jpg" --max-new-tokens 5 --json "What is this?"
python3 - "$work/batch2.jsonl" "$work/out" <<'PY' && ok "chat --batch lines" || bad "chat --batch lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
single = json.load(open(sys.argv[2]))
assert [l["line"] for l in lines] == [1, 2, 4, 5, 6, 7], lines
assert lines[0]["id"] == 1 and lines[0]["answer"] == single["answer"], (lines[0], single)
assert lines[1]["id"] == "two" and "answer" in lines[1]
assert "junk.jpg" in lines[2]["error"] and "JSON" in lines[3]["error"] and "answer" in lines[4]
assert "missing.jpg" in lines[5]["error"]
PY
expect 2 "chat --batch with a question too" $jf chat --model "$work/tiny" --batch "$work/q.jsonl" "q"
rm "$work/tiny/config.json"
expect 3 "inspect without config.json" $jf model inspect "$work/tiny"

# parts of a job array carry their job's fingerprint: merged only with their own job's parts, each
# part once; the parts a merge still lacks are named
pin="$work/demo/input/laion/00000.tar $work/demo/input/text/corpus.jsonl"
for k in 0 1 2; do $jf ingest "$work/jp$k" $pin --part $k/3 --quiet > /dev/null 2>&1; done
$jf ingest "$work/other1" "$work/demo/input/laion/00000.tar" --part 1/3 --quiet > /dev/null 2>&1
expect 1 "merge of two parts of three: the missing one named" $jf shard merge "$work/jm" "$work/jp0" "$work/jp2"
grep -q "1/3 (job " "$work/err" && ok "part 1/3 named" || bad "missing part not named: $(cat "$work/err")"
expect 2 "a part of another job refused" $jf shard merge "$work/jm" "$work/other1"
grep -q "holds parts of job" "$work/err" && ok "said why" || bad "other job: $(cat "$work/err")"
cp -r "$work/jp1" "$work/jp1copy"
expect 0 "the last part completes the merge" $jf shard merge "$work/jm" "$work/jp1"
expect 2 "the same part from another folder refused" $jf shard merge "$work/jm" "$work/jp1copy"
expect 0 "merging a part again is harmless" $jf shard merge "$work/jm" "$work/jp1"
expect 2 "a part folder reused by another job refused" $jf ingest "$work/jp1" "$work/demo/input/laion/00000.tar" --part 1/3

[ $fails -eq 0 ] || { echo "$fails failures"; exit 1; }
