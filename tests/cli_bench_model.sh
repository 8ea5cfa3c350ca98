#!/bin/bash
# jf eval bench --model: benchmarks answered by the built-in model (a tiny random JanusFlow made
# here), written in the tools' formats, resumed after a stop, split in parts, and scored by the
# same code as anyone's predictions.
source "$(dirname "$0")/cli_lib.sh"
cd "$work"
"$jf" model random tiny >/dev/null
/usr/bin/python3 - <<'PY'
import base64, io, json, os
from PIL import Image
os.makedirs("coco", exist_ok=True); os.makedirs("pope", exist_ok=True)
for i in range(4):
    Image.new("RGB", (40 + 8 * i, 32), (50 * i, 90, 200 - 40 * i)).save(f"coco/COCO_val2014_{i:012d}.jpg")
for split in ["adversarial", "random"]:
    with open(f"pope/coco_pope_{split}.json", "w") as f:
        for k in range(6):
            f.write(json.dumps({"question_id": k + 1, "image": f"COCO_val2014_{k % 4:012d}.jpg",
                                "text": f"Is there a thing{k} in the image?", "label": "yes" if k % 2 == 0 else "no"}) + "\n")
rows = ["index\tquestion\thint\tA\tB\tC\tanswer\tcategory\tl2-category\tsplit\timage"]
for i in range(3):
    b = io.BytesIO(); Image.new("RGB", (30, 30 + 10 * i), (10, 200, 10 * i)).save(b, "PNG")
    for k in range(3):
        rows.append(f"{i + 1 + k * 1000000}\tWhat is it?\t{'nan' if i else 'a hint'}\tx{k}\ty{k}\tz{k}\t{'ABC'[(i + k) % 3]}"
                    f"\tcat{i}\tl2\tdev\t{base64.b64encode(b.getvalue()).decode()}")
open("mmb.tsv", "w").write("\n".join(rows) + "\n")
PY

expect 0 "answer POPE (two splits) with the tiny model" "$jf" eval bench pope --model tiny --data pope --images coco --out a.jsonl --max-new-tokens 5 --json
cp out run.json
[ "$(wc -l < a.jsonl)" = 12 ] && ok "12 answers written" || bad "answer count"
head -1 a.jsonl | grep -q '"prompt": "User: <image_placeholder>\\nIs there a thing0 in the image?\\nAnswer the question using a single word or phrase.\\n\\nAssistant:"' \
  && ok "VLMEvalKit's Janus prompt (no system prompt)" || { bad "vlmevalkit prompt"; head -1 a.jsonl; }
grep -q '"category": "adversarial"' a.jsonl && grep -q '"category": "random"' a.jsonl && ok "each answer carries its split" || bad "categories"
expect 0 "the same with f32 copies of the weights" "$jf" eval bench pope --model tiny --data pope --images coco --out af.jsonl --max-new-tokens 5 --f32-weights
cmp -s a.jsonl af.jsonl && ok "  ... the same answers, byte for byte" || bad "--f32-weights changed the answers"
expect 0 "the same file scored on its own" "$jf" eval bench pope --data pope --predictions a.jsonl --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "answer-and-score equals scoring the written predictions" || bad "scores differ"

# resume: a complete output asks nothing; a cut one asks only what is missing, with the same answers
expect 0 "rerun" "$jf" eval bench pope --model tiny --data pope --images coco --out a.jsonl --max-new-tokens 5
grep -q "answered 0 of 12 questions (12 already" out && ok "nothing asked twice" || { bad "rerun"; head -1 out; }
cp a.jsonl full.jsonl; head -7 full.jsonl > a.jsonl
expect 0 "resume after a stop" "$jf" eval bench pope --model tiny --data pope --images coco --out a.jsonl --max-new-tokens 5 --batch 2
grep -q "answered 5 of 12 questions (7 already" out && cmp -s a.jsonl full.jsonl && ok "the 5 missing answered; the file equals an uninterrupted run (batch 2 vs 8)" \
  || { bad "resume"; head -1 out; diff a.jsonl full.jsonl | head -4; }

# the questions about one image share its prefill (here 4 images asked 12 questions: 8 shared);
# the answers are the same whatever the batch size (float rounding could differ; here it does not)
expect 0 "shared image prefixes" "$jf" eval bench pope --model tiny --data pope --images coco --out s12.jsonl --max-new-tokens 5 --batch 12
grep -q "image prefixes shared" out && ! grep -q " 0 image prefixes shared" out && ok "prefixes shared ($(grep -o '[0-9]* image prefixes' out))" || { bad "sharing"; cat out; }
cmp -s s12.jsonl full.jsonl && ok "batch 12 with sharing = batch 8 and the resumed batch-2 run" || { bad "sharing changed answers"; diff s12.jsonl full.jsonl | head -4; }
expect 0 "--no-shared-prefix" "$jf" eval bench pope --model tiny --data pope --images coco --out u.jsonl --max-new-tokens 5 --no-shared-prefix
grep -q " 0 image prefixes shared" out && ok "no sharing when asked" || bad "no-shared-prefix"

# POPE from a jf dataset: the label files ingested with their images (each record keeps its line
# as .json), answered and scored as the files are; a subset is a selection of questions; a question
# whose image failed on ingest is named and refused until a rerun takes it
expect 0 "ingest the POPE label files" "$jf" ingest pds pope/coco_pope_adversarial.json pope/coco_pope_random.json --image-root coco --quiet
mkdir -p tdir
TMPDIR=$PWD/tdir expect 0 "answer POPE from the dataset" "$jf" eval bench pope --model tiny --data pds --out d.jsonl --max-new-tokens 5 --json
cmp -s d.jsonl full.jsonl && ok "the same answers file as from the published layout" || { bad "dataset answers differ"; diff d.jsonl full.jsonl | head -4; }
/usr/bin/python3 -c "import json,sys; a=json.load(open('run.json'))['metrics']; b=json.load(open('out')); sys.exit(a!=b['metrics'] or b['dataset']!='pds')" \
  && ok "the same numbers, and the JSON names the dataset" || bad "dataset scores differ"
"$jf" filter pds --where "label = 'yes'" --into yes --quiet
expect 1 "score against a subset (the yes questions: the other answers are said)" "$jf" eval bench pope --data 'pds#yes' --predictions d.jsonl --json
/usr/bin/python3 -c "import json,sys; m=json.load(open('out'))['metrics']; sys.exit(m['adversarial/TP']['value']+m['adversarial/FN']['value']!=3)" \
  && ok "3 labels per split in the subset" || bad "subset labels"
expect 9 "a subset that does not exist" "$jf" eval bench pope --data 'pds#nope' --predictions d.jsonl
grep -q "no subset named 'nope'" err && ok "named" || bad "missing subset: $(cat err)"
expect 2 "a dataset with --images" "$jf" eval bench pope --data pds --images coco --predictions d.jsonl
expect 6 "MME from a dataset of POPE's files" "$jf" eval bench mme --data pds --predictions d.jsonl
grep -q "is not a question of mme's own files" err && ok "said" || bad "mme dataset: $(cat err)"
mv coco/COCO_val2014_000000000003.jpg gone.jpg
expect 1 "ingest with an image missing" "$jf" ingest pds2 pope/coco_pope_adversarial.json pope/coco_pope_random.json --image-root coco --quiet
expect 6 "a benchmark missing questions in the dataset is refused" "$jf" eval bench pope --model tiny --data pds2 --out d2.jsonl
grep -q "2 questions of this benchmark did not make it into the dataset (first: coco_pope_adversarial/00000003" err && [ ! -e d2.jsonl ] \
  && ok "the failed questions counted and the first named; nothing answered" || bad "failed questions: $(cat err)"
mv gone.jpg coco/COCO_val2014_000000000003.jpg
expect 0 "the ingest rerun takes them" "$jf" ingest pds2 pope/coco_pope_adversarial.json pope/coco_pope_random.json --image-root coco --quiet
expect 0 "then the dataset answers whole" "$jf" eval bench pope --model tiny --data pds2 --out d2.jsonl --max-new-tokens 5 --quiet
[ "$(wc -l < d2.jsonl)" = 12 ] && ok "12 answers" || bad "after the rerun: $(wc -l < d2.jsonl)"
[ -z "$(ls -A tdir)" ] && ok "the scratch folder removed" || bad "scratch left: $(ls tdir)"
printf '{"image": "COCO_val2014_000000000001.jpg", "caption": "a caption"}\n' > caps.jsonl
"$jf" ingest caps caps.jsonl --image-root coco --quiet
expect 6 "a dataset of captions is not a benchmark" "$jf" eval bench pope --data caps --predictions d.jsonl
grep -q "record caps/00000000 is not a benchmark question" err && ok "the record named" || bad "caption dataset: $(cat err)"

# parts and limit
expect 1 "part 1/2, limit 2 (a part scores incomplete: said, exit 1)" "$jf" eval bench pope --model tiny --data pope --images coco --out p.jsonl --max-new-tokens 5 --part 1/2 --limit 2
[ "$(wc -l < p.jsonl)" = 2 ] && head -1 p.jsonl | grep -q '"question_id": 2' && ok "every second question from the second, two of them" || { bad "part"; cat p.jsonl; }
# a benchmark answered in two parts, scored as one: equal to the whole run's score
expect 1 "part 0/2" "$jf" eval bench pope --model tiny --data pope --images coco --out p0.jsonl --max-new-tokens 5 --part 0/2
expect 1 "part 1/2" "$jf" eval bench pope --model tiny --data pope --images coco --out p1.jsonl --max-new-tokens 5 --part 1/2
expect 0 "the two parts scored as one" "$jf" eval bench pope --data pope --predictions p0.jsonl --predictions p1.jsonl --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "the union of the parts scores as the whole run" || bad "merged parts score differently"
expect 0 "the parts merged into one file" "$jf" eval bench pope --data pope --predictions p1.jsonl --predictions p0.jsonl --out merged.jsonl --quiet
cmp -s merged.jsonl a.jsonl && ok "merged in the benchmark's order: the whole run's file, byte for byte" || { bad "merged file differs"; diff merged.jsonl a.jsonl | head -5; }
expect 1 "a part given twice" "$jf" eval bench pope --data pope --predictions p0.jsonl --predictions p1.jsonl --predictions p0.jsonl --json
grep -q "6 of its 6 answers repeat a question" err && ok "its answers not taken twice, said" || { bad "overlap not said"; cat err | head -3; }
expect 9 "a part missing" "$jf" eval bench pope --data pope --predictions p0.jsonl --predictions nothere.jsonl
grep -q "part 2: nothere.jsonl" err && ok "the missing part named" || bad "missing part not named"

# the llava protocol's wording in the model's template (its system prompt)
expect 0 "llava prompt" "$jf" eval bench pope --protocol llava --model tiny --data pope/coco_pope_random.json --images coco --out l.jsonl --max-new-tokens 3
grep -q '"prompt": "You are a helpful' l.jsonl && ok "the model's system prompt with LLaVA's question" || bad "llava prompt"

# MMBench: images inside the TSV (base64), predictions as VLMEvalKit's TSV
expect 1 "answer MMBench (random answers match no option: said, exit 1)" "$jf" eval bench mmbench --model tiny --data mmb.tsv --out mmb_pred.tsv --max-new-tokens 4 --json
head -1 mmb_pred.tsv | grep -q "prediction" && [ "$(wc -l < mmb_pred.tsv)" = 10 ] && ! grep -q "image" <(head -1 mmb_pred.tsv) \
  && ok "9 rows with prediction, no image column" || { bad "mmbench output"; head -2 mmb_pred.tsv | cut -c1-200; }
grep -q '"dev/Overall"' out && ok "scored circular" || bad "mmbench scored"
# MMBench under lmms-eval (task mmbench_en_dev): its prompt, its samples log, its scorer
expect 0 "answer MMBench under lmms-eval (its static scorer counts unreadable answers as wrong)" "$jf" eval bench mmbench --protocol lmms-eval --model tiny --data mmb.tsv --out ml.jsonl --max-new-tokens 4 --json
grep -q '"protocol":"lmms-eval"' out && grep -q '"items":3,' out && grep -q '"no_letter":{"value":3' out && ok "scored by lmms-eval's MMBench rules (3 questions, no letter in any answer)" \
  || { bad "mmbench lmms score"; head -c 600 out; }
/usr/bin/python3 - <<'PY' && ok "samples log: 9 documents, lmms-eval's prompt text for each, its dicts" || bad "mmbench lmms samples log"
import csv, json
rows = list(csv.DictReader(open("mmb.tsv"), delimiter="\t"))
na = lambda v: v is None or v in ("", "nan", "NaN")  # what pandas reads as NaN here
logs = {json.loads(l)["gpt_eval_score"]["index"]: json.loads(l) for l in open("ml.jsonl")}
assert len(logs) == 9, len(logs)
for row in rows:
    # mmbench_doc_to_text as lmms-eval builds it (written here from its definition)
    opts = "There are several options:\n"
    for c in "ABCDE":
        if c in row and row[c] and not na(row[c]):
            opts += f"{c}. {row[c]}\n"
    opts = opts.rstrip("\n")
    hint = row["hint"]
    q = f"{hint} {row['question']} {opts}" if not na(hint) else f"{row['question']} {opts}"
    want = q + "\n" + "\nAnswer with the option's letter from the given choices directly."
    log = logs[int(row["index"])]
    assert log["input"] == want, (log["input"], want)
    g = log["gpt_eval_score"]
    assert g["prediction"] == log["filtered_resps"][0].strip() and g["answer"] == row["answer"] == log["target"], g
    assert g["L2-category"] == "l2" and g["E"] == "nan" and g["A"] == row["A"], g
    assert log["submission"] == g
PY
cp ml.jsonl ml0.jsonl
expect 0 "rerun: everything already answered" "$jf" eval bench mmbench --protocol lmms-eval --model tiny --data mmb.tsv --out ml.jsonl --max-new-tokens 4 --json
grep -q '"already_answered":9' out && cmp -s ml.jsonl ml0.jsonl && ok "resumed from the samples log, file unchanged" || bad "mmbench lmms resume"
expect 0 "part 0/2" "$jf" eval bench mmbench --protocol lmms-eval --model tiny --data mmb.tsv --out mp0.jsonl --max-new-tokens 4 --part 0/2 --quiet
expect 0 "part 1/2" "$jf" eval bench mmbench --protocol lmms-eval --model tiny --data mmb.tsv --out mp1.jsonl --max-new-tokens 4 --part 1/2 --quiet
expect 0 "the parts merged" "$jf" eval bench mmbench --protocol lmms-eval --data mmb.tsv --predictions mp1.jsonl --predictions mp0.jsonl --out mm.jsonl --quiet
cmp -s mm.jsonl ml.jsonl && ok "two parts merge into the whole run's samples log, byte for byte" || { bad "mmbench lmms merge"; diff mm.jsonl ml.jsonl | head -4; }

# MMMU as its own run_llava.py asks it: rows (JSONL here; Hugging Face parquet below), image_1
# only, construct_prompt's wording, <Subject>/output.json as main_parse_and_eval.py reads it
/usr/bin/python3 - <<'PY'
import base64, json
b64 = base64.b64encode(open("coco/COCO_val2014_000000000001.jpg", "rb").read()).decode()
rows = [
 {"id": "validation_Art_1", "question": "Who painted <image 1>?", "options": "['Monet', 'Manet', \"Van Gogh's\"]",
  "answer": "A", "question_type": "multiple-choice", "image_1": "coco/COCO_val2014_000000000000.jpg"},
 {"id": "validation_Art_2", "question": "How many people?", "options": "[]", "answer": "3", "question_type": "open",
  "image_1": {"bytes": b64, "path": None}},
 {"id": "validation_Math_1", "question": "Which graph?", "options": "[\"<img='a.png'>\", \"<img='b.png'>\"]",
  "answer": "B", "question_type": "multiple-choice", "image_1": "coco/COCO_val2014_000000000002.jpg"},
]
with open("mmmu_rows.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
expect 0 "answer MMMU (a question with option images answered without the model: said)" \
  "$jf" eval bench mmmu --model tiny --data mmmu_rows.jsonl --out mmmu_o --max-new-tokens 3 --json
cp out mmmu_run.json
grep -q "validation_Math_1: its options hold several images" err && ok "the question answered without the model is said" || bad "option-image note"
/usr/bin/python3 - <<'PY' && ok "two subjects' output.json; construct_prompt's text; the option-image question drawn from seed 42" || bad "mmmu run output"
import json, random
art = json.load(open("mmmu_o/Art/output.json")); math = json.load(open("mmmu_o/Math/output.json"))
assert [r["id"] for r in art] == ["validation_Art_1", "validation_Art_2"], art
a1 = art[0]
assert a1["all_choices"] == ["A", "B", "C"] and a1["index2ans"]["C"] == "Van Gogh's", a1
assert "Who painted <image 1>?\n\n(A) Monet\n(B) Manet\n(C) Van Gogh's\n\n\nAnswer with the option's letter from the given choices directly." in a1["prompt"], a1["prompt"]
assert "How many people?\n\nAnswer the question using a single word or phrase." in art[1]["prompt"], art[1]
assert "all_choices" not in art[1] and art[1]["answer"] == "3"
random.seed(42)
assert math[0]["response"] == random.choice(["A", "B"]), math  # call_llava_engine_df's intent, seed 42
m = json.load(open("mmmu_run.json"))
assert m["benchmark"] == "mmmu" and m["protocol"] == "official" and "Overall/acc" in m["metrics"], m["metrics"].keys()
PY
expect 0 "the written folder scored alone gives the same numbers" "$jf" eval bench mmmu --predictions mmmu_o --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('mmmu_run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "answer-and-score equals scoring the folder" || bad "mmmu scores differ"
cp mmmu_o/Art/output.json art_full.json
/usr/bin/python3 -c "import json; a=json.load(open('mmmu_o/Art/output.json')); json.dump(a[:1], open('mmmu_o/Art/output.json','w'))"
expect 0 "MMMU resume" "$jf" eval bench mmmu --model tiny --data mmmu_rows.jsonl --out mmmu_o --max-new-tokens 3
grep -q "answered 1 of 3 questions (2 already" out && cmp -s mmmu_o/Art/output.json art_full.json && ok "1 asked again; the same file" || { bad "mmmu resume"; head -1 out; }
# MMMU in two parts (subject folders split between them), merged back into the whole run's folder
expect 0 "MMMU part 0/2" "$jf" eval bench mmmu --model tiny --data mmmu_rows.jsonl --out mmmu_p0 --max-new-tokens 3 --part 0/2 --quiet
expect 0 "MMMU part 1/2" "$jf" eval bench mmmu --model tiny --data mmmu_rows.jsonl --out mmmu_p1 --max-new-tokens 3 --part 1/2 --quiet
expect 0 "MMMU parts merged" "$jf" eval bench mmmu --data mmmu_rows.jsonl --predictions mmmu_p0 --predictions mmmu_p1 --out mmmu_m --json
cmp -s mmmu_m/Art/output.json mmmu_o/Art/output.json && cmp -s mmmu_m/Math/output.json mmmu_o/Math/output.json \
  && ok "MMMU merged: the whole run's output.json files, byte for byte" || { bad "MMMU merge"; diff mmmu_m/Art/output.json mmmu_o/Art/output.json | head -4; }
/usr/bin/python3 -c "import json,sys; a=json.load(open('mmmu_run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "the merged parts score as the whole run" || bad "mmmu merged scores differ"
mkdir -p tmpd
TMPDIR=$PWD/tmpd expect 1 "MMMU parts that answer the same questions" "$jf" eval bench mmmu --data mmmu_rows.jsonl --predictions mmmu_p0 --predictions mmmu_o
grep -q "2 of its 3 answers repeat" err && ok "the repeated answers said" || bad "mmmu merge repeats: $(cat err)"
ls tmpd | grep -q . && bad "the temporary merged folder was left" || ok "the temporary merged folder removed"
expect 0 "answer MMMU from Hugging Face's parquet layout (the validation files of each subject folder)" \
  "$jf" eval bench mmmu --model tiny --data "$src/tests/data/bench/mmmu_hf" --out mmmu_hf_o --max-new-tokens 3
/usr/bin/python3 - <<'PY' && ok "Art 2 and Physics 2 questions (the dev file not read); image_1 from the struct's bytes" || bad "mmmu parquet run"
import json
art = json.load(open("mmmu_hf_o/Art/output.json")); phys = json.load(open("mmmu_hf_o/Physics/output.json"))
assert [r["id"] for r in art] == ["validation_Art_1", "validation_Art_2"] and [r["id"] for r in phys] == ["validation_Physics_1", "validation_Physics_2"], (art, phys)
assert phys[0]["index2ans"]["D"] == "none of these" and "(D) none of these" in phys[0]["prompt"], phys
PY
grep -q "answered 4 of 4 questions" out && ok "4 answered by the model" || bad "mmmu parquet count: $(head -1 out)"
# MMMU as lmms-eval's mmmu_val asks it: its doc_to_messages (images at the "<image>" places, in
# the order of their sorted names, pieces beyond the visuals dropped), 128 new tokens
/usr/bin/python3 - <<'PY'
import base64, json
b = lambda i: {"bytes": base64.b64encode(open(f"coco/COCO_val2014_00000000000{i}.jpg", "rb").read()).decode(), "path": None}
rows = [
 {"id": "validation_Art_1", "question": "Compare <image 2> with <image 1>: which is brighter?", "options": "['left', 'right']",
  "answer": "A", "question_type": "multiple-choice", "image_1": b(0), "image_2": b(1)},
 {"id": "validation_Art_2", "question": "<image 1> and again <image 1>?", "options": "['yes', 'no']",
  "answer": "B", "question_type": "multiple-choice", "image_1": b(2)},
 {"id": "validation_Math_1", "question": "What is 2 + 2?", "options": "[]", "answer": "4", "question_type": "open"},
]
with open("mmmu_lmms_rows.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
with open("mmmu_lmms_bad.jsonl", "w") as f:
    f.write(json.dumps(dict(rows[0], question="See <image 3>.")) + "\n")
PY
expect 0 "answer MMMU under lmms-eval (interleaved images)" \
  "$jf" eval bench mmmu --protocol lmms-eval --model tiny --data mmmu_lmms_rows.jsonl --out mmmu_lo --max-new-tokens 3 --json
/usr/bin/python3 - <<'PY' && ok "its messages: images at the <image> places by sorted name, pieces past the visuals dropped, no image when none is named" || bad "mmmu lmms-eval prompts"
import ast, json, re
rows = [json.loads(l) for l in open("mmmu_lmms_rows.jsonl")]
got = {r["id"]: r for s in ("Art", "Math") for r in json.load(open(f"mmmu_lo/{s}/output.json"))}
for doc in rows:
    # construct_prompt and doc_to_messages as lmms-eval defines them (written here from their text)
    q = doc["question"]
    if doc["question_type"] == "multiple-choice":
        opts = "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(ast.literal_eval(doc["options"])))
        q = f"{q}\n{opts}\n\nAnswer with the option's letter from the given choices directly."
    else:
        q = f"{q}\n\nAnswer the question using a single word or phrase."
    visuals = sorted(set(t.strip("<>").replace(" ", "_") for t in re.findall(r"<image \d+>", q)))
    for i in range(1, 8):
        q = q.replace(f"<image {i}>", "<image>")
    parts = q.split("<image>")
    msg = ""
    for i in range(len(visuals)):
        if i < len(parts) - 1 and parts[i].strip():
            msg += parts[i].strip()
        msg += "<image_placeholder>"
    msg += parts[-1].strip()
    p = got[doc["id"]]["prompt"]
    assert p.endswith("User: " + msg + "\n\nAssistant:"), (p, msg)
    assert p.count("<image_placeholder>") == len(visuals)
PY
grep -q '"protocol":"lmms-eval"' out && grep -q '"answered":3' out && ok "3 answered, scored by lmms-eval's MMMU rules" || bad "mmmu lmms run: $(head -c 300 out)"
expect 6 "a prompt naming an image the row lacks" "$jf" eval bench mmmu --protocol lmms-eval --model tiny --data mmmu_lmms_bad.jsonl --out mmmu_lb
grep -q "names <image 3>, which the row does not hold" err && [ ! -e mmmu_lb ] && ok "refused before it starts, the row named" || bad "mmmu lmms bad image: $(cat err)"
# MMMU as VLMEvalKit's Janus wrapper asks it (MMMU_DEV_VAL.tsv): every image of the row first,
# one tag each (an image cell may be a Python list of base64 strings), then the MCQ text
/usr/bin/python3 - <<'PY'
import base64, io
from PIL import Image
def b64(c):
    b = io.BytesIO(); Image.new("RGB", (24, 20), c).save(b, "PNG"); return base64.b64encode(b.getvalue()).decode()
rows = ["index\tquestion\tA\tB\tC\tD\tanswer\tcategory\tsplit\timage"]
rows.append(f"1\t<image 1> and <image 2>: which?\tleft\tright\tboth\tnone\tA\tArt\tvalidation\t['{b64((200, 0, 0))}', '{b64((0, 200, 0))}']")
rows.append(f"2\tWhat is <image 1>?\tred\tgreen\t\t\tB\tArt\tvalidation\t['{b64((0, 0, 200))}']")
rows.append(f"3\tHow many?\t\t\t\t\t3\tMath\tvalidation\t{b64((9, 9, 9))}")
rows.append(f"4\tAgain <image 1>?\tyes\tno\t\t\tA\tMath\tvalidation\t3")
rows.append(f"5\t<image 1> <image 2>\tx\ty\t\t\tB\tArt\tvalidation\t['{b64((1, 2, 3))}', 'bm90IGFuIGltYWdl']")
open("mmmu_vlm.tsv", "w").write("\n".join(rows) + "\n")
PY
expect 1 "answer MMMU_DEV_VAL under vlmevalkit (a row's second image broken: said, exit 1)" \
  "$jf" eval bench mmmu --protocol vlmevalkit --model tiny --data mmmu_vlm.tsv --out mmmu_vlm_pred.tsv --max-new-tokens 3
grep -q "answered 4 of 5 questions" out && grep -q "image 2 of 2 in its cell" err && ok "4 answered (two images in one prompt), the broken second image named" \
  || { bad "mmmu vlmevalkit run"; head -3 out; cat err | head -3; }
head -1 mmmu_vlm_pred.tsv | grep -q "prediction" && [ "$(wc -l < mmmu_vlm_pred.tsv)" = 5 ] && ! head -1 mmmu_vlm_pred.tsv | grep -q image \
  && ok "VLMEvalKit's prediction TSV: 4 rows, no image column" || { bad "mmmu vlmevalkit output"; head -2 mmmu_vlm_pred.tsv | cut -c1-200; }
grep -q "validation" out && ok "scored by VLMEvalKit's MMMU rules" || bad "mmmu vlmevalkit scored: $(head -5 out)"

# the VLMEvalKit TSVs ingested into a dataset (rows as .json, images decoded and checked), then
# read back from it: the same predictions as from the published file
expect 0 "ingest MMBench's TSV" "$jf" ingest dsb mmb.tsv --quiet
expect 1 "answer MMBench from the dataset" "$jf" eval bench mmbench --model tiny --data dsb --out mmb_ds.tsv --max-new-tokens 4
grep -q "9 questions in 1 split read from dsb" err && cmp -s mmb_ds.tsv mmb_pred.tsv \
  && ok "9 questions read back; the predictions equal those from the TSV, byte for byte" || { bad "mmbench from a dataset"; head -3 err; }
expect 0 "... under lmms-eval too" "$jf" eval bench mmbench --protocol lmms-eval --model tiny --data dsb --out ml_ds.jsonl --max-new-tokens 4
cmp -s ml_ds.jsonl ml0.jsonl && ok "  ... the same samples log" || bad "mmbench lmms from a dataset"
expect 1 "ingest MMMU_DEV_VAL's TSV (a row's second image broken)" "$jf" ingest dsv mmmu_vlm.tsv --quiet
expect 6 "MMMU from that dataset" "$jf" eval bench mmmu --protocol vlmevalkit --model tiny --data dsv --out mmmu_ds.tsv
grep -q "1 question of this benchmark did not make it into the dataset (first: mmmu_vlm/00000004" err && [ ! -e mmmu_ds.tsv ] \
  && ok "refused, the question whose image failed named" || bad "mmmu from a damaged dataset: $(cat err)"
expect 6 "VQAv2 from a dataset of MMBench's TSV" "$jf" eval bench vqav2 --model tiny --data dsb --out v.jsonl
grep -q "record mmb/00000000 is not a question of vqav2's own files" err && ok "the record named" || bad "vqav2 from an mmbench dataset: $(cat err)"
expect 2 "MMMU under llava from a dataset (LLaVA has no MMMU run)" "$jf" eval bench mmmu --protocol llava --model tiny --data dsb --out v.jsonl
echo '{"id": "validation_Art_9", "question": "q", "options": "oops", "answer": "A", "question_type": "multiple-choice"}' > bad_rows.jsonl
expect 6 "MMMU rows whose options are not a list" "$jf" eval bench mmmu --model tiny --data bad_rows.jsonl --out mmmu_bad
grep -q "options oops is not a list" err && ok "the row named" || bad "mmmu bad options: $(cat err)"

# MME: the eval tool's question file, images under IMAGES/<subtask>/; a cut results file resumes
mkdir -p mmeq mmei/existence
for i in 0 1 2; do
  cp coco/COCO_val2014_00000000000$i.jpg mmei/existence/img$i.jpg
  printf 'img%d.jpg\tIs there a cat in this image? Please answer yes or no.\tYes\nimg%d.jpg\tIs there a dog in this image? Please answer yes or no.\tNo\n' $i $i >> mmeq/existence.txt
done
expect 1 "answer MME (the other subtasks absent: said, exit 1)" "$jf" eval bench mme --model tiny --data mmeq --images mmei --out mmeo --max-new-tokens 4
[ "$(wc -l < mmeo/existence.txt)" = 6 ] && ok "6 responses written" || bad "mme output"
cp mmeo/existence.txt mme_full.txt; head -2 mme_full.txt > mmeo/existence.txt
expect 1 "MME resume" "$jf" eval bench mme --model tiny --data mmeq --images mmei --out mmeo --max-new-tokens 4
grep -q "answered 4 of 6 questions (2 already" out && cmp -s mmeo/existence.txt mme_full.txt && ok "4 asked again; the same file" || { bad "mme resume"; head -1 out; }

# VLMEvalKit's own TSVs (POPE.tsv, MME.tsv, GQA_TestDev_Balanced.tsv: base64 images, a short image
# cell naming the row whose image it shares) answered with its Janus prompts and written as its
# prediction TSV. The yes/no prompts are the ones the official runs above use, so the answers equal
# theirs; the written TSV scores as any VLMEvalKit prediction file.
/usr/bin/python3 - <<'PY'
import base64, json
def b64(p): return base64.b64encode(open(p, "rb").read()).decode()
rows = ["index\tquestion\tanswer\tcategory\timage"]
first = {}
for split in ["adversarial", "random"]:
    for line in open(f"pope/coco_pope_{split}.json"):
        q = json.loads(line); idx = len(rows)
        img = q["image"]
        cell = first.setdefault(img, str(idx)) if img in first else b64("coco/" + img)
        first.setdefault(img, str(idx))
        rows.append(f"{idx}\t{q['text']} Please answer yes or no.\t{q['label'].capitalize()}\t{split}\t{cell}")
open("POPE.tsv", "w").write("\n".join(rows) + "\n")
rows = ["index\tquestion\tanswer\tcategory\timage_path\timage"]
for n, line in enumerate(open("mmeq/existence.txt")):
    img, q, a = line.rstrip("\n").split("\t")
    cell = str(n) if n % 2 else b64("mmei/existence/" + img)  # the pair's second question shares the first's image
    rows.append(f"{n + 1 if n % 2 == 0 else n + 1}\t{q}\t{a}\texistence\t{img}\t{cell}")
open("MME.tsv", "w").write("\n".join(rows) + "\n")
rows = ["index\tquestion\tanswer\tcategory\timage"]
for i in range(4):
    rows.append(f"{i}\tWhat color is it?\tblue\tcat{i % 2}\t{b64(f'coco/COCO_val2014_{i:012d}.jpg')}")
open("GQA.tsv", "w").write("\n".join(rows) + "\n")
PY
expect 0 "answer POPE.tsv under vlmevalkit" "$jf" eval bench pope --protocol vlmevalkit --model tiny --data POPE.tsv --out pope_pred.tsv --max-new-tokens 5 --json
cp out pope_v.json
/usr/bin/python3 - <<'PY' && ok "the prediction TSV: the benchmark's columns but the image, and the official run's answers" || bad "pope vlmevalkit predictions"
import csv, json
rows = list(csv.DictReader(open("pope_pred.tsv"), delimiter="\t"))
assert list(rows[0].keys()) == ["index", "question", "answer", "category", "prediction"], rows[0].keys()
full = [json.loads(l)["text"] for l in open("full.jsonl")]
assert [r["prediction"] for r in rows] == full, ([r["prediction"] for r in rows], full)
m = json.load(open("pope_v.json"))
assert m["protocol"] == "vlmevalkit" and "Overall/Overall" in m["metrics"], m["metrics"].keys()
PY
grep -q '"shared_prefixes":[1-9]' pope_v.json || "$jf" eval bench pope --protocol vlmevalkit --model tiny --data POPE.tsv --out pope_pred2.tsv --max-new-tokens 5 | grep -q " [1-9][0-9]* image prefixes shared" \
  && ok "questions naming another row's image share its prefix" || bad "no prefix shared from referenced images"
expect 0 "the written TSV scored on its own" "$jf" eval bench pope --protocol vlmevalkit --predictions pope_pred.tsv --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('pope_v.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "answer-and-score equals scoring the file" || bad "pope vlmevalkit scores differ"
head -5 pope_pred.tsv > pope_cut.tsv
expect 0 "resume a VLMEvalKit prediction TSV" "$jf" eval bench pope --protocol vlmevalkit --model tiny --data POPE.tsv --out pope_cut.tsv --max-new-tokens 5
grep -q "answered 8 of 12 questions (4 already" out && cmp -s pope_cut.tsv pope_pred.tsv && ok "8 asked; the same file" || { bad "tsv resume"; head -1 out; }
expect 1 "answer MME.tsv under vlmevalkit (the other subtasks absent: said)" "$jf" eval bench mme --protocol vlmevalkit --model tiny --data MME.tsv --out mme_pred.tsv --max-new-tokens 4
/usr/bin/python3 - <<'PY' && ok "MME: the official run's responses (VLMEvalKit keeps 'Please answer yes or no.')" || bad "mme vlmevalkit predictions"
import csv
rows = list(csv.DictReader(open("mme_pred.tsv"), delimiter="\t"))
full = [l.rstrip("\n").split("\t")[3] for l in open("mme_full.txt")]
assert [r["prediction"] for r in rows] == full and "image" not in rows[0] and rows[0]["image_path"] == "img0.jpg", (rows, full)
PY
expect 0 "answer GQA.tsv under vlmevalkit" "$jf" eval bench gqa --protocol vlmevalkit --model tiny --data GQA.tsv --out gqa_pred.tsv --max-new-tokens 3 --json
grep -q '"Overall"' out && [ "$(wc -l < gqa_pred.tsv)" = 5 ] && ok "4 predictions, scored per category" || bad "gqa vlmevalkit run"
printf 'index\tquestion\tanswer\tcategory\timage\n1\tq\tYes\tx\t77\n' > badref.tsv
expect 6 "an image cell naming no row" "$jf" eval bench pope --protocol vlmevalkit --model tiny --data badref.tsv --out br.tsv
grep -q "row 2 (index 1): its image '77' names no row" err && ok "the row named" || bad "bad reference: $(cat err)"

# SEED-Bench: the official likelihood ranking (each option's mean loss after one shared prefill),
# results lines as its eval.py writes them; image questions only (a video question is said)
/usr/bin/python3 - <<'PY'
import json
qs = [{"question_id": str(100 + i), "question": f"What colour is thing {i}?", "choice_a": "red", "choice_b": "a blue cat",
       "choice_c": "green", "choice_d": str(i), "answer": "ABCD"[i % 4], "data_type": "image",
       "data_id": f"COCO_val2014_{i % 3:012d}.jpg", "question_type_id": 1 + i % 2} for i in range(5)]
qs.append({"question_id": "900", "question": "video?", "choice_a": "a", "choice_b": "b", "choice_c": "c", "choice_d": "d",
           "answer": "A", "data_type": "video", "data_id": "v.mp4", "question_type_id": 10})
json.dump({"question_type": {"Scene Understanding": 1, "Instance Identity": 2, "Action Recognition": 10}, "questions": qs},
          open("seed.json", "w"))
PY
expect 0 "SEED official: likelihood ranking" "$jf" eval bench seed --model tiny --data seed.json --images coco --out seed_r.jsonl --json
cp out seed_run.json
/usr/bin/python3 - <<'PY' && ok "5 predictions, each the option of lowest loss; scored per data type" || bad "seed official"
import json
rows = [json.loads(l) for l in open("seed_r.jsonl")]
assert len(rows) == 5 and all(len(r["losses"]) == 4 for r in rows), rows
for r in rows:
    assert r["prediction"] == "ABCD"[min(range(4), key=lambda k: r["losses"][k])], r
m = json.load(open("seed_run.json"))
assert m["protocol"] == "official" and "Data type 1" in m["metrics"] and "Total accuracy" in m["metrics"], m
right = sum(r["prediction"] == "ABCD"[int(r["question_id"]) % 4] for r in rows)
assert abs(m["metrics"]["Total accuracy"]["value"] - right / 5 * 100) < 1e-9, (m, right)
PY
grep -q "1 video questions not answered" err && ok "the video question is said" || bad "video question not said"
head -3 seed_r.jsonl > seed_cut.jsonl; cp seed_r.jsonl seed_full.jsonl; mv seed_cut.jsonl seed_r.jsonl
expect 0 "SEED resume" "$jf" eval bench seed --model tiny --data seed.json --images coco --out seed_r.jsonl
grep -q "answered 2 of 5 questions (3 already" out && cmp -s seed_r.jsonl seed_full.jsonl && ok "2 asked again; the same file" || { bad "seed resume"; head -1 out; }
expect 0 "SEED official predictions scored alone" "$jf" eval bench seed --data seed.json --predictions seed_r.jsonl --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('seed_run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "answer-and-score equals scoring the written results" || bad "seed scores differ"
(cat seed_r.jsonl; head -1 seed_r.jsonl; echo '{"question_id": "777", "prediction": "A"}') > seed_bad.jsonl
expect 1 "SEED results with a rerun's line and an unknown id" "$jf" eval bench seed --data seed.json --predictions seed_bad.jsonl --json
grep -q '"duplicates":1' out && grep -q '"unknown":1' out && ok "duplicate and unknown counted" || bad "seed bad input"
expect 1 "SEED llava: the letter asked with the options (the video question counted wrong: exit 1)" "$jf" eval bench seed --protocol llava --model tiny --data seed.json --images coco --out seed_l.jsonl --max-new-tokens 2
grep -q 'A. red\\nB. a blue cat' seed_l.jsonl && ok "options in the prompt" || bad "seed llava prompt"
expect 1 "SEED lmms-eval: seed_doc_to_text's prompt, scored by its first character (the video question unanswered)" \
  "$jf" eval bench seed --protocol lmms-eval --model tiny --data seed.json --images coco --out seed_m.jsonl --max-new-tokens 2 --json
grep -q '"seed_all"' out && grep -q 'A. red\\nB. a blue cat' seed_m.jsonl && ok "seed_all reported; options in the prompt" || bad "seed lmms-eval run"

# VQAv2 and GQA: the official question files (the committed test sets), images made here;
# answers.jsonl written, resumable, and scored by the same code as anyone's
b="$src/tests/data/bench"
/usr/bin/python3 - "$b" <<'PY'
import json, os, sys
from PIL import Image
b = sys.argv[1]
os.makedirs("vqa_img", exist_ok=True); os.makedirs("gqa_img", exist_ok=True)
for q in json.load(open(f"{b}/vqav2/v2_OpenEnded_mscoco_val2014_questions.json"))["questions"]:
    Image.new("RGB", (32, 24 + q["image_id"] % 7), (q["image_id"] % 255, 80, 40)).save(f"vqa_img/COCO_val2014_{q['image_id']:012d}.jpg")
for v in json.load(open(f"{b}/gqa/testdev_balanced_questions.json")).values():
    Image.new("RGB", (28, 30), (20, 100, len(v["imageId"]) * 30 % 255)).save(f"gqa_img/{v['imageId']}.jpg")
PY
expect 0 "VQAv2 answered (questions found beside the annotations)" "$jf" eval bench vqav2 --model tiny --data "$b/vqav2" --images vqa_img --out vqa.jsonl --max-new-tokens 3 --json
cp out vqa_run.json
[ "$(wc -l < vqa.jsonl)" = 30 ] && head -1 vqa.jsonl | grep -q '"question_id": 1000, "prompt": "User: <image_placeholder>\\n?\\nAnswer the question using a single word or phrase.\\n\\nAssistant:"' \
  && ok "30 answers with the short-answer prompt" || { bad "vqav2 answers"; head -1 vqa.jsonl; }
expect 0 "VQAv2 answers scored alone" "$jf" eval bench vqav2 --data "$b/vqav2" --predictions vqa.jsonl --json
/usr/bin/python3 -c "import json,sys; a=json.load(open('vqa_run.json'))['metrics']; b=json.load(open('out'))['metrics']; sys.exit(a!=b)" \
  && ok "VQAv2: answer-and-score equals scoring the file" || bad "vqav2 scores differ"
expect 0 "VQAv2 rerun asks nothing" "$jf" eval bench vqav2 --model tiny --data "$b/vqav2" --images vqa_img --out vqa.jsonl --max-new-tokens 3
grep -q "answered 0 of 30 questions (30 already" out && ok "vqav2 resumed" || bad "vqav2 resume"
expect 0 "GQA answered (lmms-eval wording, 16 tokens)" "$jf" eval bench gqa --protocol llava --model tiny --data "$b/gqa/testdev_balanced_questions.json" --images gqa_img --out gqa.jsonl
[ "$(wc -l < gqa.jsonl)" = 40 ] && head -1 gqa.jsonl | grep -q '"question_id": "2000000", "prompt": "You are a helpful' && ok "40 answers, ids as strings" || { bad "gqa answers"; head -1 gqa.jsonl; }

# The benchmarks' own question files ingested into datasets (images checked on the way) and read
# back: the same answers, byte for byte, and the same numbers as from the published files
same_run() { # label, then the args after --data of a files run and of a dataset run, split by --
  local label=$1; shift; local a=() ; while [ "$1" != -- ]; do a+=("$1"); shift; done; shift
  "$jf" eval bench "${a[@]}" --json > f_run.json 2>/dev/null; local rf=$?
  "$jf" eval bench "$@" --json > d_run.json 2>d_err; local rd=$?
  local fo=${a[-1]} do=${@: -1}
  if [ $rf = $rd ] && diff -r "$fo" "$do" >/dev/null && /usr/bin/python3 -c "import json,sys; a=json.load(open('f_run.json'))['metrics']; b=json.load(open('d_run.json')); sys.exit(a!=b['metrics'] or not b.get('dataset'))"; then
    ok "$label: the same answers and numbers (exit $rd)"
  else bad "$label (exit $rf vs $rd)"; head -3 d_err; diff -r "$fo" "$do" | head -4; fi
}
expect 0 "ingest GQA's questions" "$jf" ingest gqads "$b/gqa/testdev_balanced_questions.json" --image-root gqa_img --quiet
same_run "GQA (llava) from the dataset" gqa --protocol llava --model tiny --data "$b/gqa/testdev_balanced_questions.json" --images gqa_img --max-new-tokens 3 --out gq1.jsonl -- \
  gqa --protocol llava --model tiny --data gqads --max-new-tokens 3 --out gq2.jsonl
head -c 3000 "$b/gqa/testdev_balanced_questions.json" > gqa_cut.json
expect 1 "a GQA question file cut short" "$jf" ingest gqacut gqa_cut.json --image-root gqa_img
grep -q "gqa_cut.json.*broken JSON at byte" err && grep -q "ok  *[1-9]" out && ok "the damage named with its offset; the questions before it kept" || { bad "cut gqa"; cat err out | head -5; }
expect 0 "ingest VQAv2's questions (their annotations joined from the file beside them)" "$jf" ingest vqads "$b/vqav2/v2_OpenEnded_mscoco_val2014_questions.json" --image-root vqa_img --quiet
same_run "VQAv2 from the dataset" vqav2 --model tiny --data "$b/vqav2" --images vqa_img --max-new-tokens 3 --out vq1.jsonl -- \
  vqav2 --model tiny --data vqads --max-new-tokens 3 --out vq2.jsonl
mkdir -p vq_noann && cp "$b/vqav2/v2_OpenEnded_mscoco_val2014_questions.json" vq_noann/
expect 0 "VQAv2 questions without annotations beside them" "$jf" ingest vqads2 vq_noann/v2_OpenEnded_mscoco_val2014_questions.json --image-root vqa_img
grep -q "no .*v2_mscoco_val2014_annotations.json beside it" err && ok "said: kept without their answers" || bad "vqav2 no annotations: $(cat err)"
expect 0 "ingest SEED-Bench.json (the video question kept as a text-only record)" "$jf" ingest seedds seed.json --image-root coco --quiet
same_run "SEED official (likelihood ranking) from the dataset" seed --model tiny --data seed.json --images coco --out se1.jsonl -- seed --model tiny --data seedds --out se2.jsonl
same_run "SEED llava from the dataset" seed --protocol llava --model tiny --data seed.json --images coco --max-new-tokens 2 --out sl1.jsonl -- \
  seed --protocol llava --model tiny --data seedds --max-new-tokens 2 --out sl2.jsonl
mkdir -p mmei/count/images mmeq2
for i in 0 1; do cp coco/COCO_val2014_00000000000$i.jpg mmei/count/images/c$i.jpg
  printf 'c%d.jpg\tAre there two cats? Please answer yes or no.\tYes\tYes\nc%d.jpg\tAre there three cats? Please answer yes or no.\tNo\tNo\n' $i $i >> mmeq2/count.txt; done
cp mmeq/existence.txt mmeq2/
expect 0 "ingest MME's question files (images in <subtask>/ and <subtask>/images/)" "$jf" ingest mmeds mmeq2/existence.txt mmeq2/count.txt --image-root mmei --quiet
same_run "MME official from the dataset" mme --model tiny --data mmeq2 --images mmei --max-new-tokens 4 --out mq1 -- mme --model tiny --data mmeds --max-new-tokens 4 --out mq2
same_run "MME lmms-eval from the dataset" mme --protocol lmms-eval --model tiny --data mmeq2 --images mmei --max-new-tokens 4 --out mql1 -- \
  mme --protocol lmms-eval --model tiny --data mmeds --max-new-tokens 4 --out mql2
mv mmei/count/images/c1.jpg c1.jpg
expect 1 "MME ingest with an image missing" "$jf" ingest mmeds2 mmeq2/existence.txt mmeq2/count.txt --image-root mmei --quiet
expect 6 "MME from it is refused" "$jf" eval bench mme --model tiny --data mmeds2 --out mq3
grep -q "2 questions of this benchmark did not make it into the dataset (first: count/" err && ok "the missing questions named" || bad "mme missing: $(cat err)"
mv c1.jpg mmei/count/images/c1.jpg
expect 0 "ingest MMMU's parquet folder (every split; a row with two images)" "$jf" ingest mmmuds $(find "$src/tests/data/bench/mmmu_hf" -name '*.parquet' | sort) --quiet
same_run "MMMU official from the dataset (the validation shards, as the folder is read)" mmmu --model tiny --data "$src/tests/data/bench/mmmu_hf" --max-new-tokens 3 --out mu1 -- \
  mmmu --model tiny --data mmmuds --max-new-tokens 3 --out mu2
same_run "MMMU lmms-eval from the dataset (both images of the two-image row)" mmmu --protocol lmms-eval --model tiny --data "$src/tests/data/bench/mmmu_hf" --max-new-tokens 3 --out mul1.jsonl -- \
  mmmu --protocol lmms-eval --model tiny --data mmmuds --max-new-tokens 3 --out mul2.jsonl
expect 0 "a second GQA file in one dataset" "$jf" ingest gqads "$b/gqa/testdev_balanced_questions.json" --source other --image-root gqa_img --quiet
expect 2 "two question files are refused" "$jf" eval bench gqa --model tiny --data gqads --out gq3.jsonl
grep -q "the selection holds two question files (other and testdev_balanced_questions)" err && ok "said, with the way out (a subset)" || bad "two gqa files: $(cat err)"

# MME in two parts: the pairs of a question file split between them, merged back in order
expect 1 "MME part 0/2" "$jf" eval bench mme --model tiny --data mmeq --images mmei --out mme_p0 --max-new-tokens 4 --part 0/2
expect 1 "MME part 1/2" "$jf" eval bench mme --model tiny --data mmeq --images mmei --out mme_p1 --max-new-tokens 4 --part 1/2
expect 1 "MME parts merged" "$jf" eval bench mme --data mmeq --predictions mme_p0 --predictions mme_p1 --out mme_merged
cmp -s mme_merged/existence.txt mme_full.txt && ok "MME merged: the whole run's results file" || { bad "MME merge"; diff mme_merged/existence.txt mme_full.txt | head -4; }
# a missing image: named, counted, exit 1; the others answered
rm coco/COCO_val2014_000000000003.jpg
expect 1 "an image missing" "$jf" eval bench pope --model tiny --data pope/coco_pope_random.json --images coco --out m.jsonl --max-new-tokens 3
grep -q "COCO_val2014_000000000003.jpg" err && grep -q "1 failed" out && ok "named and counted" || { bad "missing image"; cat err out | head; }
expect 9 "an MMMU folder without validation files" "$jf" eval bench mmmu --model tiny --data pope --out x.json
grep -q "no validation-\*.parquet" err && ok "said which files it looked for" || bad "mmmu folder message: $(cat err)"
exit $((fails > 0))
