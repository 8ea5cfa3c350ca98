#!/bin/bash
# jf eval bench against the official scoring code: tests/data/bench/ holds synthetic benchmark
# files in the official layouts and every number the official tools printed for them
# (tests/reference/bench_official.py ran vqaEval.py, POPE's evaluate.py, LLaVA's eval_pope.py and
# submission converter, and MME's calculation.py); each must equal jf's to the last printed digit.
source "$(dirname "$0")/cli_lib.sh"
cd "$work"
b="$src/tests/data/bench"

compare() { # compare KEY JSON_FILE: metrics (and per-item values where the tool has them)
  /usr/bin/python3 - "$b/expected.json" "$1" "$2" <<'PY'
import json, sys
exp = json.load(open(sys.argv[1]))[sys.argv[2]]
got = json.load(open(sys.argv[3]))
bad = 0
for k, v in exp["metrics"].items():
    g = got["metrics"].get(k, {}).get("text")
    if g != v:
        print(f"    {k}: tool {v}, jf {g}"); bad += 1
if "items" in exp:
    items = {i["id"]: i["score_text"] for i in got.get("per_item", [])}
    for q, v in exp["items"].items():
        if items.get(q) != v:
            print(f"    item {q}: tool {v}, jf {items.get(q)}"); bad += 1
print(f"    {len(exp['metrics'])} metrics{', %d items' % len(exp['items']) if 'items' in exp else ''} compared, {bad} differ")
sys.exit(1 if bad else 0)
PY
}

expect 0 "vqav2 official" "$jf" eval bench vqav2 --data "$b/vqav2" --predictions "$b/vqav2_results.json" --json --items
cp out vqa.json; compare vqav2/official vqa.json && ok "vqaEval.py's numbers, overall, per type and per question" || bad "vqav2 official"

expect 1 "vqav2 llava (one question unanswered: listed, exit 1)" "$jf" eval bench vqav2 --protocol llava --data "$b/vqav2" \
  --predictions "$b/vqav2_llava_answers.jsonl" --json --items
cp out vqal.json; compare vqav2/llava vqal.json && ok "LLaVA's converter then vqaEval.py" || bad "vqav2 llava"
grep -q '"missing":1' vqal.json && grep -q 'no answer for question 1029' vqal.json && ok "the missing answer named and counted" || bad "missing answer"

expect 0 "pope official (one split, positional)" "$jf" eval bench pope --data "$b/pope/coco_pope_random.json" \
  --predictions "$b/pope_random_answers.jsonl" --json
cp out po.json; compare pope/official po.json && ok "POPE evaluate.py's numbers" || bad "pope official"

expect 0 "pope llava (three splits)" "$jf" eval bench pope --protocol llava --data "$b/pope" \
  --questions "$b/pope_llava_questions.jsonl" --predictions "$b/pope_llava_answers.jsonl" --json
cp out pl.json; compare pope/llava pl.json && ok "eval_pope.py per split and the mean F1" || bad "pope llava"

expect 0 "mme official" "$jf" eval bench mme --predictions "$b/mme" --json
cp out mme.json; compare mme/official mme.json && ok "calculation.py's subtask scores and sums" || bad "mme official"
"$jf" eval bench mme --predictions "$b/mme" > table.txt
grep -q "perception .*<- reported in papers" table.txt && grep -q "protocol official" table.txt && ok "the table names protocol and headline" || { bad "table"; cat table.txt; }

# GQA: eval.py --tier testdev_balanced on its predictions file, and LLaVA's converter before it
expect 0 "gqa official" "$jf" eval bench gqa --data "$b/gqa" --predictions "$b/gqa_predictions.json" --json
cp out g.json; compare gqa/official g.json && ok "eval.py's accuracy, binary/open, distribution, per type, steps and words" || bad "gqa official"
expect 0 "gqa llava" "$jf" eval bench gqa --protocol llava --data "$b/gqa" --predictions "$b/gqa_llava_answers.jsonl" --json
cp out gl.json; compare gqa/llava gl.json && ok "convert_gqa_for_eval.py then eval.py" || bad "gqa llava"

# MMMU: main_parse_and_eval.py (its parsers; random.choice seeded 42 where a response names no
# option, drawn in the same order) and main_eval_only.py
expect 0 "mmmu official (parse and eval)" "$jf" eval bench mmmu --predictions "$b/mmmu" --json --items
cp out mu.json; compare mmmu/official mu.json && ok "subject, domain and overall accuracy; every judgment" || bad "mmmu official"
grep -q '"random_picks":{"value":23' mu.json && ok "23 random picks, the tool's letters" || bad "random picks"
expect 0 "mmmu eval only" "$jf" eval bench mmmu --predictions "$b/mmmu_output.json" --data "$b/mmmu_answer_dict.json" --json
cp out mo.json; compare mmmu/eval_only mo.json && ok "main_eval_only.py's numbers" || bad "mmmu eval only"

# MMBench and SEED-Bench as VLMEvalKit scores them without its GPT judge (exact matching):
# circular over the option rotations, and vanilla; SEED-Bench as LLaVA's script prints it
expect 1 "mmbench vlmevalkit (5 questions unmatched: said, exit 1)" "$jf" eval bench mmbench --data "$b/mmbench_dev.tsv" \
  --predictions "$b/mmbench_dev_predictions.tsv" --json --items
cp out mb.json; compare mmbench/vlmevalkit mb.json && ok "circular and vanilla, overall and per ability; every group" || bad "mmbench"
grep -q "GPT judge" mb.json && ok "the missing judge said" || bad "judge message"
# options that are integers past uint64: pandas keeps such a column as text, so an answer that
# repeats the option's digits matches it (read through a double it would be 3.0000300000000002e+28;
# converting it to long long was undefined behaviour, found by fuzz.bench)
printf 'index\tquestion\tA\tB\tanswer\tcategory\tl2-category\tsplit\n1\tHow many?\t30000300000000000000000000000\t7\tA\tc\tl\tdev\n' > big.tsv
printf 'index\tquestion\tA\tB\tanswer\tcategory\tl2-category\tsplit\tprediction\n1\tHow many?\t30000300000000000000000000000\t7\tA\tc\tl\tdev\tIt is 30000300000000000000000000000.\n' > big_pred.tsv
expect 0 "mmbench options past uint64" "$jf" eval bench mmbench --data big.tsv --predictions big_pred.tsv --json --items
grep -q '"dev/Overall":{"value":1,' out && ok "the option's digits matched as text" || { bad "big integer options"; head -c 400 out; }
expect 1 "seed vlmevalkit" "$jf" eval bench seed --protocol vlmevalkit --data "$b/seed_img.tsv" --predictions "$b/seed_img_predictions.tsv" --json --items
cp out sd.json; compare seed/vlmevalkit sd.json && ok "SEEDBench_IMG, vanilla, per category" || bad "seed vlmevalkit"
expect 1 "seed llava (5 unanswered)" "$jf" eval bench seed --protocol llava --data "$b/seed_bench.json" --predictions "$b/seed_llava_answers.jsonl" --json
cp out sl.json; compare seed/llava sl.json && ok "per dimension, total, image and video" || bad "seed llava"
expect 1 "seed official reads eval.py's results lines, not LLaVA's answers" "$jf" eval bench seed --data "$b/seed_bench.json" --predictions "$b/seed_llava_answers.jsonl"
grep -q "needs question_id and prediction" err && ok "said why" || bad "seed official message"

# lmms-eval's task code (its process_results and aggregations)
expect 0 "vqav2 lmms-eval" "$jf" eval bench vqav2 --protocol lmms-eval --data "$b/vqav2" --predictions "$b/vqav2_results.json" --json --items
cp out vqm.json; compare vqav2/lmms-eval vqm.json && ok "lmms-eval's exact_match (always normalised; statistics.mean per question)" || bad "vqav2 lmms-eval"
expect 0 "pope lmms-eval" "$jf" eval bench pope --protocol lmms-eval --data "$b/pope" --questions "$b/pope_llava_questions.jsonl" \
  --predictions "$b/pope_llava_answers.jsonl" --json
cp out pm.json; compare pope/lmms-eval pm.json && ok "lmms-eval's pooled POPE metrics (exact yes/no; its yes ratio)" || bad "pope lmms-eval"
expect 0 "mme lmms-eval" "$jf" eval bench mme --protocol lmms-eval --predictions "$b/mme" --json
cp out mm.json; compare mme/lmms-eval mm.json && ok "lmms-eval's MME (its parser; pairs by image)" || bad "mme lmms-eval"
expect 0 "gqa lmms-eval" "$jf" eval bench gqa --protocol lmms-eval --data "$b/gqa" --predictions "$b/gqa_llava_answers.jsonl" --json --items
cp out gm.json; compare gqa/lmms-eval gm.json && ok "lmms-eval's exact_match (case and ASCII punctuation ignored), every question" || bad "gqa lmms-eval"
expect 1 "seed lmms-eval (5 unanswered)" "$jf" eval bench seed --protocol lmms-eval --data "$b/seed_bench.json" --predictions "$b/seed_llava_answers.jsonl" --json --items
cp out sm.json; compare seed/lmms-eval sm.json && ok "seed_image, seed_video, seed_all (first character of the response)" || bad "seed lmms-eval"
expect 0 "mmmu lmms-eval" "$jf" eval bench mmmu --protocol lmms-eval --predictions "$b/mmmu" --json --items
cp out mum.json; compare mmmu/lmms-eval mum.json && ok "its own multiple-choice parser, random.seed(0) draws, first open answer as text; rounded to 5" || bad "mmmu lmms-eval"
# VLMEvalKit's yes/no datasets (image_yorn.py, exact_matching judge)
expect 0 "mme vlmevalkit" "$jf" eval bench mme --protocol vlmevalkit --predictions "$b/mme_vlmevalkit.tsv" --json --items
cp out mv.json; compare mme/vlmevalkit mv.json && ok "YOrN_Extraction (its periodStrip keeps a digit's period), MME_rating's acc + acc+ per subtask, perception and reasoning" || bad "mme vlmevalkit"
expect 0 "pope vlmevalkit" "$jf" eval bench pope --protocol vlmevalkit --predictions "$b/pope_vlmevalkit.tsv" --json --items
cp out pv.json; compare pope/vlmevalkit pv.json && ok "POPE_rating: Overall (questions of two splits counted twice) and per split; Unknown answers wrong" || bad "pope vlmevalkit"
# a question in nine splits, then plain ones: the exploded rows outnumber the file's (the fuzzer
# found the table overrun here under ASan)
{ printf 'index\tquestion\tanswer\tcategory\tprediction\n'
  printf '1\tIs there a cat?\tYes\ts1,s2,s3,s4,s5,s6,s7,s8,s9\tYes\n'
  for i in 2 3 4; do printf '%d\tIs there a dog?\tNo\trandom\tNo\n' $i; done; } > pope9.tsv
expect 0 "pope vlmevalkit: a question of nine splits, then plain ones" "$jf" eval bench pope --protocol vlmevalkit --predictions pope9.tsv --json
grep -q '"s9/Overall"' out && grep -q '"random/Overall"' out && ok "each split scored" || bad "pope nine splits: $(head -c 300 out)"
expect 1 "VLMEvalKit's MME TSV, given MME's results folder" "$jf" eval bench mme --protocol vlmevalkit --predictions "$b/mme"
grep -q "is a folder, not a TSV file" err && ok "said so" || bad "folder for a TSV: $(cat err)"
# VLMEvalKit: GQA_TestDev_Balanced (accuracy) and MMMU_DEV_VAL (vanilla MCQ with MMMU_preproc)
for l in category split; do
  expect 0 "gqa vlmevalkit ($l column)" "$jf" eval bench gqa --protocol vlmevalkit --predictions "$b/gqa_vlmevalkit_$l.tsv" --json --items
  cp out gv_$l.json; compare gqa/vlmevalkit_$l gv_$l.json && ok "strip + lower exact match, list answers as means (np.mean), per $l" || bad "gqa vlmevalkit $l"
done
expect 1 "mmmu vlmevalkit (answers no rule maps: said, exit 1)" "$jf" eval bench mmmu --protocol vlmevalkit --data "$b/mmmu_dev_val.tsv" \
  --predictions "$b/mmmu_dev_val_predictions.tsv" --json --items
cp out muv.json; compare mmmu/vlmevalkit muv.json && ok "open questions as A (the answer) / B (Other Answers), per split and subject" || bad "mmmu vlmevalkit"
grep -q '"open_reformulated":{"value":15' muv.json && ok "15 open questions reformulated" || bad "open_reformulated count"
# lmms-eval's MMBench without a GPT judge (mmbench_en_dev_static), from its samples log
expect 0 "mmbench lmms-eval" "$jf" eval bench mmbench --protocol lmms-eval --predictions "$b/mmbench_lmms_samples.jsonl" --json --items
cp out mbl.json; compare mmbench/lmms-eval mbl.json && ok "its own can_infer, then mcq_extract; circular; per category and L2" || bad "mmbench lmms-eval"
printf '{"gpt_eval_score": {"index": 1}}\nnot json\n' > badlog.jsonl
expect 1 "an lmms-eval samples log with broken lines" "$jf" eval bench mmbench --protocol lmms-eval --predictions badlog.jsonl
grep -q "badlog.jsonl:1: no \"gpt_eval_score\" dict" err && grep -q "badlog.jsonl:2: not a JSON object" err && ok "both lines named" || { bad "badlog"; cat err; }
expect 2 "mmmu lmms-eval needs the responses with their options" "$jf" eval bench mmmu --protocol lmms-eval --predictions "$b/mmmu_output.json" --data "$b/mmmu_answer_dict.json"

# bad input: named with file and line, counted, exit 1
head -c 300 "$b/vqav2_results.json" > cut.json
expect 1 "a results file cut short" "$jf" eval bench vqav2 --data "$b/vqav2" --predictions cut.json
grep -q "cut.json: not JSON" err && ok "the cut file named" || { bad "cut message"; cat err; }
{ cat "$b/pope_random_answers.jsonl"; echo '{"answer": "yes"}'; echo 'not json'; } > extra.jsonl
expect 1 "POPE answers with an extra and a broken line" "$jf" eval bench pope --data "$b/pope/coco_pope_random.json" --predictions extra.jsonl
grep -q "extra.jsonl:14: not a JSON object" err && grep -q "13 answers for 12 labels" err && ok "both named" || { bad "pope bad lines"; cat err; }
mkdir mme2 && cp "$b"/mme/*.txt mme2/ && rm mme2/OCR.txt
[ -n "$(tail -c1 mme2/color.txt)" ] && echo >> mme2/color.txt
printf 'a.jpg\tq?\tYes\n' >> mme2/color.txt
expect 1 "MME with a subtask missing and a line short of fields" "$jf" eval bench mme --predictions mme2
grep -q "1 subtask file missing (OCR)" err && grep -q "color.txt:.*3 tab-separated fields" err && ok "the missing file and the bad line named" || { bad "mme bad"; cat err; }
expect 2 "an unknown protocol" "$jf" eval bench pope --protocol nope --data x --predictions y
expect 2 "vqav2 under VLMEvalKit, which has no VQAv2" "$jf" eval bench vqav2 --protocol vlmevalkit --data "$b/vqav2" --predictions "$b/vqav2_results.json"
grep -q "VLMEvalKit has no VQAv2 dataset" err && ok "said so" || bad "vqav2 vlmevalkit message"
expect 2 "mmmu under LLaVA, which has no scorer for it" "$jf" eval bench mmmu --protocol llava --predictions "$b/mmmu"
grep -q "no scorer for it" err && ok "said so" || bad "mmmu llava message"
expect 2 "mme under LLaVA: MME's own scorer" "$jf" eval bench mme --protocol llava --predictions "$b/mme"
grep -q "protocol official" err && ok "pointed to official" || bad "mme llava message"

exit $((fails > 0))
