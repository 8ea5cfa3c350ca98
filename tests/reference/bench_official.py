#!/usr/bin/python3
"""Synthetic benchmark files in the official layouts, scored by the official scoring code.

Writes tests/data/bench/: small VQAv2, POPE and MME inputs full of the answers that trip scorers
(model-like chatter, punctuation, number words, articles, contractions, digit commas, runs of
periods, case, line ends), then runs the tools people cite on them and writes every number they
print to expected.json, which tests/cli_bench.sh compares with `jf eval bench`.

The official code is not committed; fetch it and pass its folders:
  GT-Vision-Lab/VQA            (PythonHelperTools/vqaTools/vqa.py, PythonEvaluationTools/vqaEvaluation/vqaEval.py)
  AoiDragon/POPE               (evaluate.py)
  haotian-liu/LLaVA            (llava/eval/eval_pope.py, llava/eval/m4c_evaluator.py,
                                scripts/convert_vqav2_for_submission.py, scripts/convert_seed_for_submission.py
                                copied to the folder's top)
  BradyFU/Awesome-Multimodal-Large-Language-Models, branch Evaluation, tools/eval_tool.zip
                               (calculation.py; needs python3-sklearn)
  GQA's eval.py                (from gqadataset.org; the copy LLaVA-based repos keep at
                                playground/data/eval/gqa/data/eval/eval.py, e.g. SHI-Labs/VCoder)
  MMMU-Benchmark/MMMU          (mmmu/utils/eval_utils.py, mmmu/utils/data_utils.py: main_parse_and_eval.py's
                                flow is run below as that script runs it with --subject ALL)
  open-compass/VLMEvalKit       (vlmeval/dataset/utils/yorn.py, vlmeval/smp/misc.py,
                                vlmeval/utils/matching_util.py, vlmeval/dataset/utils/multiple_choice.py:
                                mcq_circular_eval / mcq_vanilla_eval (MMMU_preproc for MMMU_DEV_VAL) with the
                                exact_matching policy, report_acc; vlmeval/dataset/image_vqa.py's
                                evaluate_heuristic with utils/vqa_eval.py for GQA_TestDev_Balanced;
                                its vlmeval.smp helpers are stubbed with pandas equivalents below)
  EvolvingLMMs-Lab/lmms-eval   (lmms_eval/tasks/{vqav2,pope,mme,gqa,seedbench,mmmu}/utils.py,
                                lmms_eval/tasks/mmmu/_default_template_yaml, lmms_eval/api/metrics.py,
                                lmms_eval/tasks/_task_utils/{vqa_eval_metric,mmmu_mcq_utils,mcq_extract}.py,
                                lmms_eval/tasks/mmbench/mmbench_evals.py; used at 75571cf)

  /usr/bin/python3 tests/reference/bench_official.py VQA_DIR POPE_DIR LLAVA_DIR MME_TOOL_DIR LMMS_EVAL_DIR GQA_EVAL_PY MMMU_DIR VLMEVALKIT_DIR tests/data/bench

vqaEval.py and vqa.py are Python 2; they run here with their print statements made calls (the
only change; `round` is then Python 3's, as in every Python 3 port people use).
"""
import contextlib
import io
import json
import os
import random
import re
import sys
import types

VQA_DIR, POPE_DIR, LLAVA_DIR, MME_DIR, LMMS_DIR, GQA_EVAL, MMMU_DIR, VLM_DIR, OUT = sys.argv[1:10]
os.makedirs(OUT, exist_ok=True)
rng = random.Random(7)
expected = {}


def py2_to_3(src):
    src = "\n".join(l.expandtabs(8) for l in src.split("\n"))  # Python 2 reads a tab as up to 8 spaces
    return re.sub(r"^(\s*)print (.*)$", r"\1print(\2)", src, flags=re.M)


def load_module(name, path, py2=False, stub=()):
    for s in stub:
        sys.modules.setdefault(s, types.ModuleType(s))
        if s == "tqdm":
            sys.modules[s].tqdm = lambda x, *a, **k: x
    src = open(path).read()
    mod = types.ModuleType(name)
    mod.__file__ = path
    exec(compile(py2_to_3(src) if py2 else src, path, "exec"), mod.__dict__)
    sys.modules[name] = mod
    return mod


# ---------------------------------------------------------------- VQAv2
# Ten human answers per question; the model answers are what real models write.
cases = [
    # (human answers, model answer, answer_type, question_type)
    (["yes"] * 10, "yes", "yes/no", "is the"),
    (["yes"] * 10, "Yes", "yes/no", "is the"),               # all agree: raw compare, no lower-casing
    (["yes"] * 9 + ["yes."], "Yes.", "yes/no", "is the"),    # disagree: normalised
    (["2"] * 7 + ["two"] * 3, "two", "number", "how many"),
    (["2"] * 2 + ["3"] * 8, "2", "number", "how many"),      # 2 matches: 0.6
    (["10"] * 10, "ten", "number", "how many"),              # all agree: "ten" != "10"
    (["10"] * 9 + ["ten"], "ten", "number", "how many"),
    (["11"] * 9 + ["eleven"], "eleven", "number", "how many"),  # number words stop at ten
    (["1,000"] * 5 + ["1000"] * 5, "1,000", "number", "how many"),
    (["1000"] * 6 + ["1 000"] * 4, "1,000", "number", "how many"),  # digit comma: every mark deleted
    (["red"] * 6 + ["red and white"] * 4, "The red one.", "other", "what color is the"),
    (["dog"] * 4 + ["a dog"] * 6, "a dog", "other", "what is the"),
    (["dont know"] * 3 + ["don't know"] * 7, "dont know", "other", "what"),
    (["isnt"] * 5 + ["is not"] * 5, "isnt", "other", "what"),
    (["t-shirt"] * 5 + ["t shirt"] * 5, "t-shirt", "other", "what is the"),
    (["left - right"] * 5 + ["left right"] * 5, "left - right", "other", "what"),
    (["3.5"] * 6 + ["3"] * 4, "3.5", "number", "what number is"),
    (["3"] * 6 + ["3.5"] * 4, "3.", "number", "what number is"),
    (["a"] * 3 + ["b"] * 7, "." * 40 + "b", "other", "which"),  # 40 periods: only 32 removed
    (["ok"] * 5 + ["okay"] * 5, "o.k.", "other", "what"),
    (["child's toy"] * 6 + ["toy"] * 4, "child's toy", "other", "what is"),
    (["blue"] * 8 + ["navy"] * 2, "The answer is blue", "other", "what color"),
    (["yes"] * 8 + ["no"] * 2, "yes\tof course", "yes/no", "are there"),
    (["no"] * 8 + ["yes"] * 2, "  No  ", "yes/no", "are there"),
    (["café"] * 5 + ["cafe"] * 5, "CAFÉ", "other", "what is"),
    (["2"] * 5 + ["two"] * 5, "٢", "number", "how many"),     # Arabic-Indic digit: \d in Python 3
    (["a/b"] * 5 + ["a b"] * 5, "a/b", "other", "what"),
    (["hot dog"] * 5 + ["hotdog"] * 5, "hot-dog", "other", "what"),
    (["yes"] * 7 + ["yes!"] * 3, "yes!", "yes/no", "is this"),
    (["1"] * 4 + ["one"] * 6, "", "number", "how many"),     # empty answer
]
anns, results, llava_answers = [], [], []
for i, (gts, pred, atype, qtype) in enumerate(cases):
    qid = 1000 + i
    anns.append({"question_id": qid, "image_id": 42 + i, "question_type": qtype, "answer_type": atype,
                 "multiple_choice_answer": gts[0],
                 "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k, a in enumerate(gts)]})
    results.append({"question_id": qid, "answer": pred})
    llava_answers.append({"question_id": qid, "prompt": "q", "text": pred, "answer_id": f"x{i}", "model_id": "m", "metadata": {}})
annotations = {"info": {}, "license": {}, "data_subtype": "val2014", "data_type": "mscoco", "task_type": "Open-Ended",
               "annotations": anns}
questions = {"info": {}, "license": {}, "data_subtype": "val2014", "data_type": "mscoco", "task_type": "Open-Ended",
             "questions": [{"question_id": a["question_id"], "image_id": a["image_id"], "question": "?"} for a in anns]}
vdir = os.path.join(OUT, "vqav2")
os.makedirs(vdir, exist_ok=True)
json.dump(annotations, open(os.path.join(vdir, "v2_mscoco_val2014_annotations.json"), "w"), ensure_ascii=False)
json.dump(questions, open(os.path.join(vdir, "v2_OpenEnded_mscoco_val2014_questions.json"), "w"), ensure_ascii=False)
json.dump(results, open(os.path.join(OUT, "vqav2_results.json"), "w"), ensure_ascii=False)
with open(os.path.join(OUT, "vqav2_llava_answers.jsonl"), "w") as f:
    for a in llava_answers[:-1]:  # the last question unanswered: the converter uploads ""
        f.write(json.dumps(a, ensure_ascii=False) + "\n")

vqa_mod = load_module("vqa", os.path.join(VQA_DIR, "PythonHelperTools/vqaTools/vqa.py"), py2=True)
sys.modules["vqaTools"] = types.ModuleType("vqaTools")
sys.modules["vqaTools.vqa"] = vqa_mod
eval_mod = load_module("vqaEval", os.path.join(VQA_DIR, "PythonEvaluationTools/vqaEvaluation/vqaEval.py"), py2=True)


def run_vqa(res_file):
    with contextlib.redirect_stdout(io.StringIO()):
        vqa = vqa_mod.VQA(os.path.join(vdir, "v2_mscoco_val2014_annotations.json"),
                          os.path.join(vdir, "v2_OpenEnded_mscoco_val2014_questions.json"))
        res = vqa.loadRes(res_file, os.path.join(vdir, "v2_OpenEnded_mscoco_val2014_questions.json"))
        ev = eval_mod.VQAEval(vqa, res, n=2)
        ev.evaluate()
    m = {"overall": repr(ev.accuracy["overall"])}
    for k, v in ev.accuracy["perAnswerType"].items():
        m["answer_type/" + k] = repr(v)
    for k, v in ev.accuracy["perQuestionType"].items():
        m["question_type/" + k] = repr(v)
    return {"metrics": m, "items": {str(q): repr(v) for q, v in ev.evalQA.items()}}


expected["vqav2/official"] = run_vqa(os.path.join(OUT, "vqav2_results.json"))

# LLaVA: its converter (EvalAI answer processor; "" for a missing answer), then the official scorer
m4c = load_module("m4c_evaluator", os.path.join(LLAVA_DIR, "llava/eval/m4c_evaluator.py"), stub=("tqdm",))
proc = m4c.EvalAIAnswerProcessor()
answered = {a["question_id"]: a["text"] for a in llava_answers[:-1]}
converted = [{"question_id": a["question_id"], "answer": proc(answered[a["question_id"]]) if a["question_id"] in answered else ""}
             for a in anns]
conv_path = os.path.join("/tmp", "jf_vqav2_converted.json")
json.dump(converted, open(conv_path, "w"))
expected["vqav2/llava"] = run_vqa(conv_path)
expected["evalai_processor"] = {c[1]: proc(c[1]) for c in cases}

# ---------------------------------------------------------------- POPE
pdir = os.path.join(OUT, "pope")
os.makedirs(pdir, exist_ok=True)
texts = ["Yes", "No", "yes, there is a dog in the image.", "No, there is not.", "There is no dog.", "I do not see one",
         "Yes.No", "Not at all", "no.", "NO", "Nope", "The answer is yes", "yes,no", "It is not clear, but yes",
         "There is a dog. No cat.", "", "no, ", "Yes there is no doubt"]
llava_q, llava_a = [], []
qid = 0
for split in ["adversarial", "popular", "random"]:
    with open(os.path.join(pdir, f"coco_pope_{split}.json"), "w") as f:
        for k in range(12):
            qid += 1
            label = "yes" if k % 2 == 0 else "no"
            f.write(json.dumps({"question_id": k + 1, "image": f"COCO_val2014_{k:012d}.jpg",
                                "text": f"Is there a thing{k} in the image?", "label": label}) + "\n")
            llava_q.append({"question_id": qid, "image": f"COCO_val2014_{k:012d}.jpg",
                            "text": f"Is there a thing{k} in the image?", "category": split})
            llava_a.append({"question_id": qid, "prompt": "p", "text": rng.choice(texts), "answer_id": "a", "model_id": "m",
                            "metadata": {}})
with open(os.path.join(OUT, "pope_llava_questions.jsonl"), "w") as f:
    for q in llava_q:
        f.write(json.dumps(q) + "\n")
with open(os.path.join(OUT, "pope_llava_answers.jsonl"), "w") as f:
    for a in llava_a:
        f.write(json.dumps(a) + "\n")
# POPE's own format for one split: {"question", "answer"} lines
with open(os.path.join(OUT, "pope_random_answers.jsonl"), "w") as f:
    for a in llava_a[24:36]:
        f.write(json.dumps({"question": "q", "answer": a["text"]}) + "\n")


def parse_pope_print(out):
    m = {}
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("TP\tFP\tTN\tFN"):
            tp, fp, tn, fn = lines[i + 1].split("\t")
            m.update({"TP": tp, "FP": fp, "TN": tn, "FN": fn})
        for key, name in [("Accuracy: ", "accuracy"), ("Precision: ", "precision"), ("Recall: ", "recall"),
                          ("F1 score: ", "f1"), ("Yes ratio: ", "yes_ratio")]:
            if l.startswith(key):
                m[name] = l[len(key):]
    return m


src = open(os.path.join(POPE_DIR, "evaluate.py")).read()
src = src.replace("ans_file = ''", f"ans_file = {os.path.join(OUT, 'pope_random_answers.jsonl')!r}")
src = src.replace("label_file = ''", f"label_file = {os.path.join(pdir, 'coco_pope_random.json')!r}")
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    exec(compile(src, "evaluate.py", "exec"), {})
expected["pope/official"] = {"metrics": parse_pope_print(buf.getvalue())}

ep = load_module("eval_pope", os.path.join(LLAVA_DIR, "llava/eval/eval_pope.py"))
qmap = {q["question_id"]: q for q in llava_q}
m = {}
f1s = []
for split in ["adversarial", "popular", "random"]:
    cur = [dict(x) for x in llava_a if qmap[x["question_id"]]["category"] == split]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ep.eval_pope(cur, os.path.join(pdir, f"coco_pope_{split}.json"))
    for k, v in parse_pope_print(buf.getvalue()).items():
        m[f"{split}/{k}"] = v
    f1s.append(float(m[f"{split}/f1"]))
m["mean_f1"] = repr(sum(f1s) / len(f1s))  # LLaVA's POPE number: the mean over the splits
expected["pope/llava"] = {"metrics": m}

# ---------------------------------------------------------------- MME
mdir = os.path.join(OUT, "mme")
os.makedirs(mdir, exist_ok=True)
responses = ["Yes", "No", "yes\n", "no\n", "Yes, it is.", "No, it is not.", "not sure", "nothing there", " yes", "YES.",
             "Nope", "yesterday", "The answer is yes", "y", "n", "no.", "No.", "maybe", "Yes!", "I think no"]
tasks = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR",
         "commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"]
for t in tasks:
    n_img = rng.randint(2, 4)
    lines = []
    for i in range(n_img):
        for gt in (["Yes", "No"] if rng.random() < 0.5 else ["No", "Yes"]):
            r = rng.choice(responses).replace("\n", "")
            lines.append(f"{t}_{i}.jpg\tIs this a {t}? Please answer yes or no.\t{gt}\t{r}")
    # the last line sometimes without its line end (then "yes"/"no" match exactly)
    text = "\n".join(lines) + ("\n" if rng.random() < 0.5 else "")
    open(os.path.join(mdir, t + ".txt"), "w").write(text)
buf = io.StringIO()
cwd = os.getcwd()
with contextlib.redirect_stdout(buf):
    sys.argv = ["calculation.py", "--results_dir", mdir]
    exec(compile(open(os.path.join(MME_DIR, "calculation.py")).read(), "calculation.py", "exec"), {"__name__": "__main__"})
m = {}
section = None
for l in buf.getvalue().splitlines():
    if "Perception" in l:
        section = "perception"
    elif "Cognition" in l:
        section = "cognition"
    elif l.startswith("total score:"):
        m[section] = l.split(":", 1)[1].strip()
    elif "score:" in l:
        name, v = l.strip().split("  score:")
        m[name.strip() + "/score"] = v.strip()
expected["mme/official"] = {"metrics": m}

# ---------------------------------------------------------------- lmms-eval
# Its task functions run on the same items (docs built from the files above; answers as given),
# then its aggregations. Its imports are stubbed where they only log or save files.
for name in ["loguru", "lmms_eval", "lmms_eval.tasks", "lmms_eval.tasks._task_utils", "lmms_eval.tasks._task_utils.file_utils"]:
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["loguru"].logger = types.SimpleNamespace(info=lambda *a, **k: None, debug=lambda *a, **k: None,
                                                     warning=lambda *a, **k: None)
sys.modules["lmms_eval.tasks._task_utils"].file_utils = sys.modules["lmms_eval.tasks._task_utils.file_utils"]
vem = load_module("lmms_eval.tasks._task_utils.vqa_eval_metric", os.path.join(LMMS_DIR, "lmms_eval/tasks/_task_utils/vqa_eval_metric.py"))
lv = load_module("lmms_vqav2", os.path.join(LMMS_DIR, "lmms_eval/tasks/vqav2/utils.py"))
accs, items = [], {}
for a, r in zip(anns, results):
    doc = {"question_id": a["question_id"], "answers": [dict(x) for x in a["answers"]]}
    acc = lv.vqav2_process_results_val(doc, [r["answer"]])["exact_match"]
    accs.append(acc)
    items[str(a["question_id"])] = repr(acc)
expected["vqav2/lmms-eval"] = {"metrics": {"exact_match": repr(sum(accs) / len(accs))}, "items": items}

lp = load_module("lmms_pope", os.path.join(LMMS_DIR, "lmms_eval/tasks/pope/utils.py"))
res = []
for split in ["adversarial", "popular", "random"]:
    labels = [json.loads(l) for l in open(os.path.join(pdir, f"coco_pope_{split}.json"))]
    cur = [x for x in llava_a if qmap[x["question_id"]]["category"] == split]
    for lab, a in zip(labels, cur):
        res.append(lp.pope_process_results({"question_id": lab["question_id"], "answer": lab["label"]}, [a["text"]])["pope_accuracy"])
expected["pope/lmms-eval"] = {"metrics": {
    "pope_accuracy": repr(lp.pope_aggregate_accuracy(res)), "pope_precision": repr(lp.pope_aggregate_precision(res)),
    "pope_recall": repr(lp.pope_aggregate_recall(res)), "pope_f1_score": repr(lp.pope_aggregate_f1_score(res)),
    "pope_yes_ratio": repr(lp.pope_aggregate_yes_ratio(res))}}

lm = load_module("lmms_mme", os.path.join(LMMS_DIR, "lmms_eval/tasks/mme/utils.py"))
m = {}
for kind, tlist in lm.eval_type_dict.items():
    out = []
    for t in tlist:
        per = []
        for line in open(os.path.join(mdir, t + ".txt")):
            img, q, gt, resp = line.split("\t")
            r = lm.mme_process_results({"question_id": img, "answer": gt, "category": t}, [resp])
            out.append(list(r.values())[0])
            per.append(list(r.values())[0])
        m[t + "/score"] = repr(lm.mme_aggregate_results(per))
    m["mme_perception_score" if kind == "Perception" else "mme_cognition_score"] = repr(lm.mme_aggregate_results(out))
expected["mme/lmms-eval"] = {"metrics": m}

# ---------------------------------------------------------------- GQA
gdir = os.path.join(OUT, "gqa")
os.makedirs(gdir, exist_ok=True)
structs = ["query", "verify", "logical", "choose", "compare"]
sems = ["attr", "rel", "obj", "cat", "global"]
ops = [("select", "cat (1)"), ("exist", "?"), ("query", "name"), ("choose", "name"), ("filter color", "red"),
       ("relate", "left"), ("verify", "color: white"), ("query", "color")]
golds = ["yes", "no", "left", "right", "cat", "dog", "white", "red", "wood", "table"]
answers_text = {"yes": ["Yes", "yes.", "Yes, it is.", "yes"], "no": ["No", "no", "No."], "left": ["Left", "left", "on the left"],
                "right": ["right", "Right."], "cat": ["cat", "Cat.", "a cat"], "dog": ["dog", "Dog"], "white": ["white", "White.."],
                "red": ["red", "Red", "dark red"], "wood": ["wood", "wooden"], "table": ["table", "The table."]}
qs, gqa_answers = {}, []
for i in range(40):
    qid = f"20{i:05d}"
    gold = rng.choice(golds)
    st = rng.choice(structs)
    qs[qid] = {"imageId": f"n{i}", "question": " ".join(["word"] * rng.randint(3, 12)) + "?", "answer": gold,
               "fullAnswer": gold, "isBalanced": rng.random() < 0.85,
               "types": {"structural": st, "semantic": rng.choice(sems), "detailed": "x"},
               "groups": {"global": rng.choice([None, "color", "animal", "side", "yesno"]), "local": "l"},
               "semantic": [{"operation": o, "argument": a, "dependencies": []} for o, a in rng.sample(ops, rng.randint(1, 5))],
               "annotations": {"answer": {}, "question": {}, "fullAnswer": {}}, "entailed": [], "equivalent": [qid]}
    pick = rng.choice(golds) if rng.random() < 0.3 else gold
    gqa_answers.append({"question_id": qid, "prompt": "p", "text": rng.choice(answers_text[pick]), "answer_id": "a",
                        "model_id": "m", "metadata": {}})
json.dump(qs, open(os.path.join(gdir, "testdev_balanced_questions.json"), "w"))
with open(os.path.join(OUT, "gqa_llava_answers.jsonl"), "w") as f:
    for a in gqa_answers:
        f.write(json.dumps(a) + "\n")
# LLaVA's convert_gqa_for_eval.py, then eval.py --tier testdev_balanced
conv = [{"questionId": a["question_id"], "prediction": a["text"].rstrip('.').lower()} for a in gqa_answers]
gpred = os.path.join("/tmp", "jf_gqa_predictions.json")
json.dump(conv, open(gpred, "w"))


def run_gqa_eval(questions, predictions):
    sys.modules.setdefault("tqdm", types.ModuleType("tqdm")).tqdm = lambda x, *a, **k: x
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        sys.argv = ["eval.py", "--tier", "testdev_balanced", "--questions", questions, "--predictions", predictions]
        exec(compile(open(GQA_EVAL).read(), "eval.py", "exec"), {"__name__": "__main__"})
    m = {}
    section = None
    names = {"Accuracy / structural type:": "structural", "Accuracy / semantic type:": "semantic",
             "Accuracy / steps number:": "steps", "Accuracy / words number:": "words"}
    for l in buf.getvalue().splitlines():
        if l in names:
            section = names[l]
            continue
        mm = re.match(r"^(\w+): ([0-9.]+)(%| \(lower is better\))$", l)
        if mm and not section:
            m[mm.group(1).lower()] = mm.group(2)
        mm = re.match(r"^  (.+): ([0-9.]+)% \((\d+) questions\)$", l)
        if mm and section:
            m[f"{section}/{mm.group(1)}"] = mm.group(2)
            m[f"{section}/{mm.group(1)}/questions"] = mm.group(3)
    return m


expected["gqa/llava"] = {"metrics": run_gqa_eval(os.path.join(gdir, "testdev_balanced_questions.json"), gpred)}
json.dump(conv, open(os.path.join(OUT, "gqa_predictions.json"), "w"))
expected["gqa/official"] = {"metrics": run_gqa_eval(os.path.join(gdir, "testdev_balanced_questions.json"),
                                                    os.path.join(OUT, "gqa_predictions.json"))}

# ---------------------------------------------------------------- MMMU
# Model-like responses in three subjects, many of which leave the multiple-choice parser nothing
# to go on (then random.choice, seeded 42 at import, decides: jf must draw the same letters), and
# open answers with numbers in every form the three regexes see.
mmdir = os.path.join(OUT, "mmmu")
mc_responses = ["A", "(B)", "The answer is (C).", "B C", "I think it is D", "none of these", "", "I cannot determine the answer from the image.",
                "Option (A) or (B), but (B) is better", "The correct option is the one about trees growing fast", "A.", "'C'",
                "It could be A or it could be D", "answer: b", "E", "The painting shows Juno with a peacock in the garden"]
open_responses = ["42", "The answer is 3.14.", "so the total is 1,234,567 dollars", "x = 2.5e3", "It is -7", "approximately 0.5",
                  "The result is 12 and therefore 13", "blue", "Therefore the final answer is Paris.", "1/2", "3 apples\n4 pears",
                  "The value is 1,000.5", "answer 7.", "it is a", "1_000", "٣", "nan", "The speed is 3e8 m/s so it is fast"]
opts = [["Aurelia", "Matilda", "Hermione", "Juno"], ["trees growing fast", "rocks", "water", "sky"], ["red", "blue", "green", "yellow", "white"]]
golds_open = ["42", "3.14", "1234567", "2500", "-7", "0.5", ["12", "13"], "blue", "paris", "0.5", "4", "1000.5", "7", "a", "1000", "3",
              "nan", "300000000"]
mmmu_answers = {}
for cat in ["Art", "Math", "Physics"]:
    outs = []
    for i in range(24):
        qid = f"validation_{cat}_{i + 1}"
        if i % 3 == 2:
            k = rng.randrange(len(open_responses))
            o = {"id": qid, "question_type": "open", "answer": golds_open[k] if rng.random() < 0.7 else rng.choice(golds_open),
                 "response": open_responses[k]}
        else:
            op = rng.choice(opts)
            choices = [chr(65 + j) for j in range(len(op))]
            o = {"id": qid, "question_type": "multiple-choice", "answer": rng.choice(choices), "all_choices": choices,
                 "index2ans": dict(zip(choices, op)), "response": rng.choice(mc_responses)}
        outs.append(o)
        mmmu_answers[qid] = {"question_type": o["question_type"], "ground_truth": o["answer"]}
    os.makedirs(os.path.join(mmdir, cat), exist_ok=True)
    json.dump(outs, open(os.path.join(mmdir, cat, "output.json"), "w"), indent=1, ensure_ascii=False)
sys.path.insert(0, os.path.join(MMMU_DIR, "mmmu"))
for k in [k for k in sys.modules if k == "utils" or k.startswith("utils.")]:
    del sys.modules[k]
sys.modules.setdefault("yaml", types.ModuleType("yaml"))
from utils.data_utils import CAT_SHORT2LONG, DOMAIN_CAT2SUB_CAT  # noqa: E402
from utils.eval_utils import evaluate, parse_multi_choice_response, parse_open_response, calculate_ins_level_acc  # noqa: E402 (seeds 42)
res, items, parsed_mc = {}, {}, {}
for short, category in CAT_SHORT2LONG.items():
    if category not in os.listdir(mmdir):
        continue
    samples = []
    for o in json.load(open(os.path.join(mmdir, category, "output.json"))):
        if o["question_type"] == "multiple-choice":
            p = parse_multi_choice_response(o["response"], o["all_choices"], o["index2ans"])
            parsed_mc[o["id"]] = p
        else:
            p = parse_open_response(o["response"])
        samples.append({"id": o["id"], "question_type": o["question_type"], "answer": o["answer"], "parsed_pred": p})
    judge, metric = evaluate(samples)
    metric["num_example"] = len(samples)
    res[category] = metric
    for s in samples:
        items[s["id"]] = "1.0" if judge[s["id"]] == "Correct" else "0.0"


def mmmu_metrics(res):
    m = {}
    for domain, cats in DOMAIN_CAT2SUB_CAT.items():
        d = {c: res[c] for c in cats if c in res}
        m[f"Overall-{domain}/acc"] = repr(round(calculate_ins_level_acc(d), 3))
        m[f"Overall-{domain}/num"] = str(int(sum(x["num_example"] for x in d.values())))
    for c, r in res.items():
        m[f"{c}/acc"] = repr(r["acc"])
        m[f"{c}/num"] = str(r["num_example"])
    m["Overall/acc"] = repr(round(calculate_ins_level_acc(res), 3))
    m["Overall/num"] = str(sum(x["num_example"] for x in res.values()))
    return m


expected["mmmu/official"] = {"metrics": mmmu_metrics(res), "items": items}
# main_eval_only.py: the parsed letters (as run_llava.py saves them) and open responses, with the answer dict
only = {}
for cat in ["Art", "Math", "Physics"]:
    for o in json.load(open(os.path.join(mmdir, cat, "output.json"))):
        only[o["id"]] = parsed_mc.get(o["id"], o["response"])
json.dump(only, open(os.path.join(OUT, "mmmu_output.json"), "w"), indent=1, ensure_ascii=False)
json.dump(mmmu_answers, open(os.path.join(OUT, "mmmu_answer_dict.json"), "w"), indent=1, ensure_ascii=False)
res2 = {}
for category in CAT_SHORT2LONG.values():
    ids = [k for k in only if "_".join(k.split("_")[1:-1]) == category]
    if not ids:
        continue
    samples = [{"id": k, "question_type": mmmu_answers[k]["question_type"], "answer": mmmu_answers[k]["ground_truth"],
                "parsed_pred": only[k] if mmmu_answers[k]["question_type"] == "multiple-choice" else parse_open_response(only[k])}
               for k in ids]
    judge, metric = evaluate(samples)
    metric["num_example"] = len(samples)
    res2[category] = metric
expected["mmmu/eval_only"] = {"metrics": mmmu_metrics(res2)}

# ---------------------------------------------------------------- MMBench, SEED-Bench (VLMEvalKit, exact matching)
import pickle  # noqa: E402
import logging  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def smp_load(f):
    if f.endswith(".pkl"):
        return pickle.load(open(f, "rb"))
    return pd.read_csv(f, sep="\t")


def smp_dump(data, f):
    if f.endswith(".pkl"):
        pickle.dump(data, open(f, "wb"))
    else:
        data.to_csv(f, sep="\t", index=False)


smp = types.ModuleType("vlmeval.smp")
smp.cn_string = lambda s: re.search("[\u4e00-\u9fff]", s) is not None
smp.d2df = lambda d: pd.DataFrame(d)
smp.dump, smp.load = smp_dump, smp_load
smp.get_logger = lambda name: logging.getLogger(name)
smp.get_pred_file_format = lambda: "tsv"
smp.istype = lambda x, t: isinstance(x, (t, np.integer)) if t is int else isinstance(x, t)
_tick = [0]


def _timestr():
    _tick[0] += 1
    return f"jf_bench_{os.getpid()}_{_tick[0]}"


smp.timestr = _timestr
smp.vlm = types.ModuleType("vlmeval.smp.vlm")
smp.vlm.build_option_str = lambda choices: ""
smp.log = types.ModuleType("vlmeval.smp.log")
smp.log.get_logger = smp.get_logger
for name, mod in {"vlmeval": types.ModuleType("vlmeval"), "vlmeval.smp": smp, "vlmeval.smp.vlm": smp.vlm,
                  "vlmeval.smp.log": smp.log}.items():
    sys.modules[name] = mod
mu = load_module("vlmeval.utils.matching_util", os.path.join(VLM_DIR, "vlmeval/utils/matching_util.py"))
vu = types.ModuleType("vlmeval.utils")
vu.can_infer, vu.can_infer_lego = mu.can_infer, mu.can_infer_lego


def track_progress_rich(func, tasks, nproc=1, chunksize=1, save=None, keys=None):
    res = [func(**t) for t in tasks]
    if save:
        old = pickle.load(open(save, "rb")) if os.path.exists(save) else {}
        old.update(dict(zip(keys, res)))
        pickle.dump(old, open(save, "wb"))
    return res


vu.track_progress_rich = track_progress_rich
sys.modules["vlmeval.utils"] = vu
mc = load_module("vlmeval_multiple_choice", os.path.join(VLM_DIR, "vlmeval/dataset/utils/multiple_choice.py"))

mcq_questions = [
    ("What is shown?", ["a cat", "a dog", "a bird", "a fish"], "logic_reasoning", "reasoning"),
    ("Which color?", ["red", "None", "blue"], "coarse_perception", "perception"),  # NaN from pandas 2.0 (not 1.5)
    ("How many?", ["5", "10", "15", "20"], "finegrained_perception (instance-level)", "perception"),
    ("Where is it?", ["left", "right"], "relation_reasoning", "reasoning"),
    ("What time?", ["noon", "midnight", "dawn", "dusk"], "attribute_reasoning", "reasoning"),
    ("Which one?", ["the first", "the second", "the third"], "finegrained_perception (cross-instance)", "perception"),
]
mcq_preds = ["A", "B.", "The answer is C", "(D) is right", "I think the answer is B because A is wrong", "a cat", "the dog",
             "Z", "Cannot determine the answer", "", "A B", "C. It is the third one of the options given here", "red",
             "Answer is **b**", "The correct answer is D", "nothing", "10", "It must be option A, clearly"]


def mcq_files(name, circular, seed_layout):
    rows, preds = [], []
    for q, (question, opts, cat, l2) in enumerate(mcq_questions * 3):
        base = q + 1
        ans = rng.randrange(len(opts))
        shifts = range(len(opts)) if circular else [0]
        for k in shifts:
            rot = opts[k:] + opts[:k]
            a = (ans - k) % len(opts)
            row = {"index": base + k * 1000000, "question": question, "hint": "nan" if q % 2 else "a hint"}
            for j in range(4):
                row["ABCD"[j]] = rot[j] if j < len(rot) else ""
            row["answer"] = "ABCD"[a]
            row["category"] = cat
            if not seed_layout:
                row["l2-category"] = l2
                row["split"] = "dev"
            rows.append(row)
            p = rng.choice(mcq_preds)
            if rng.random() < 0.4:
                p = "ABCD"[a]
            preds.append(p)
    meta = pd.DataFrame(rows)
    meta_path = os.path.join(OUT, f"{name}.tsv")
    meta.to_csv(meta_path, sep="\t", index=False)
    ev = meta.copy()
    ev["prediction"] = preds
    ev_path = os.path.join(OUT, f"{name}_predictions.tsv")
    ev.to_csv(ev_path, sep="\t", index=False)
    return meta_path, ev_path


def vlm_eval(meta_path, ev_path, circular, dataset_name):
    meta = pd.read_csv(meta_path, sep="\t")
    data = pd.read_csv(ev_path, sep="\t")
    data["index"] = [int(x) for x in data["index"]]
    data = data.sort_values(by="index")
    data["prediction"] = [str(x) for x in data["prediction"]]
    for k in list(data.keys()):
        data[k.lower() if k not in list(string.ascii_uppercase) else k] = data.pop(k)
    result_file = f"/tmp/jf_vlm_{dataset_name}_{os.getpid()}.pkl"
    if os.path.exists(result_file):
        os.remove(result_file)
    if circular:
        out = mc.mcq_circular_eval(None, data, meta, 1, result_file, dataset_name)
    else:
        out = mc.mcq_vanilla_eval(None, data, meta, 1, result_file, dataset_name)
    acc = mc.report_acc(out)
    m = {}
    for i, sp in enumerate(acc["split"]):
        for col in acc.columns:
            if col != "split":
                m[f"{sp}/{col}"] = repr(float(acc[col][i]))
    items = {str(i): repr(float(h)) for i, h in zip(out["index"], out["hit"])}
    return m, items


import string  # noqa: E402
mb_meta, mb_pred = mcq_files("mmbench_dev", True, False)
m, items = vlm_eval(mb_meta, mb_pred, True, "MMBench_DEV_EN")
# vanilla on the first pass (PRINT_VANILLA=1)
data0 = pd.read_csv(mb_pred, sep="\t")
circ0 = data0[data0["index"] < 1000000]
c0_path = os.path.join("/tmp", "jf_mmb_circ0.tsv")
circ0.to_csv(c0_path, sep="\t", index=False)
m0, _ = vlm_eval(mb_meta, c0_path, False, "MMBench_DEV_EN")
m.update({"vanilla/" + k: v for k, v in m0.items()})
expected["mmbench/vlmevalkit"] = {"metrics": m, "items": items}
sd_meta, sd_pred = mcq_files("seed_img", False, True)
m, items = vlm_eval(sd_meta, sd_pred, False, "SEEDBench_IMG")
expected["seed/vlmevalkit"] = {"metrics": m, "items": items}

# SEED-Bench with LLaVA's convert_seed_for_submission.py (generated letters compared as text)
seed_types = {"Scene Understanding": 1, "Instance Identity": 2, "Instance Attributes": 3, "Instance Location": 4,
              "Instances Counting": 5, "Spatial Relation": 6, "Instance Interaction": 7, "Visual Reasoning": 8,
              "Text Understanding": 9, "Action Recognition": 10, "Action Prediction": 11, "Procedure Understanding": 12}
seed_qs, seed_ans = [], []
for i in range(60):
    tid = rng.randint(1, 12)
    ans = rng.choice("ABCD")
    qid = str(100000 + i) if i % 7 else f"v{i}"
    seed_qs.append({"question_id": qid, "question": "q?", "choice_a": "a", "choice_b": "b", "choice_c": "c", "choice_d": "d",
                    "answer": ans, "data_id": f"{i}.jpg", "data_type": "image" if tid <= 9 else "video", "question_type_id": tid})
    if i % 13 == 5:
        continue  # unanswered
    text = rng.choice([ans, ans, ans + ".", "The answer is " + ans, ans.lower(), rng.choice("ABCD")])
    seed_ans.append({"question_id": int(qid) if qid.isdigit() else qid, "prompt": "p", "text": text, "answer_id": "x",
                     "model_id": "m", "metadata": {}})
json.dump({"question_type": seed_types, "questions": seed_qs}, open(os.path.join(OUT, "seed_bench.json"), "w"))
with open(os.path.join(OUT, "seed_llava_answers.jsonl"), "w") as f:
    for a in seed_ans:
        f.write(json.dumps(a) + "\n")
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    sys.argv = ["convert_seed_for_submission.py", "--annotation-file", os.path.join(OUT, "seed_bench.json"),
                "--result-file", os.path.join(OUT, "seed_llava_answers.jsonl"), "--result-upload-file", "/tmp/jf_seed_upload.jsonl"]
    try:
        exec(compile(open(os.path.join(LLAVA_DIR, "convert_seed_for_submission.py")).read(), "convert_seed", "exec"),
             {"__name__": "__main__"})
    except KeyError:
        pass  # writing the upload file needs every question answered; the numbers are printed before
m = {}
for l in buf.getvalue().splitlines():
    k, v = l.rsplit(": ", 1)
    m[k] = v.rstrip("%")
expected["seed/llava"] = {"metrics": m}

# ---------------------------------------------------------------- lmms-eval: GQA, SEED-Bench, MMMU
# The same answers as above, scored by lmms-eval's task code (75571cf): lmms_eval/api/metrics.py's
# exact_match_hf_evaluate (taken out of the module by its source, the rest of which needs the whole
# package), lmms_eval/tasks/{gqa,seedbench,mmmu}/utils.py and _task_utils/mmmu_mcq_utils.py. A
# question without an answer is scored as the empty response.
import ast  # noqa: E402
import random as pyrandom  # noqa: E402
msrc = open(os.path.join(LMMS_DIR, "lmms_eval/api/metrics.py")).read()
fdef = next(n for n in ast.parse(msrc).body if isinstance(n, ast.FunctionDef) and n.name == "exact_match_hf_evaluate")
emns = {"np": np, "re": re, "string": string}
exec(compile(ast.Module(body=[fdef], type_ignores=[]), "metrics.py", "exec"), emns)
gqa_text = {a["question_id"]: a["text"] for a in gqa_answers}
scores, items = [], {}
for qid, q in qs.items():  # lmms-eval's GQA docs: every question of the file, in its order
    res = (gqa_text.get(qid) or "").strip()  # generate_until results are stripped
    sc = emns["exact_match_hf_evaluate"](predictions=[res], references=[q["answer"]], ignore_case=True,
                                         ignore_punctuation=True)["exact_match"]
    scores.append(sc)
    items[qid] = repr(float(sc))
expected["gqa/lmms-eval"] = {"metrics": {"exact_match": repr(float(np.mean(scores)))}, "items": items}

ls_ = load_module("lmms_seed", os.path.join(LMMS_DIR, "lmms_eval/tasks/seedbench/utils.py"))
seed_text = {str(a["question_id"]): a["text"] for a in seed_ans}
per, items = {}, {}
for q in seed_qs:
    r = ls_.seed_process_result({"question_id": q["question_id"], "answer": q["answer"], "data_type": q["data_type"]},
                                [seed_text.get(q["question_id"], "")])
    for k, v in r.items():
        per.setdefault(k, []).append(v)
    items[q["question_id"]] = "1.0" if r["seed_all"]["pred"].lower().strip() == q["answer"].lower().strip() else "0.0"
expected["seed/lmms-eval"] = {"metrics": {k: repr(ls_.seed_aggregation_result(v)) for k, v in per.items()}, "items": items}

for name in ["yaml", "lmms_eval.verifiers", "lmms_eval.verifiers.openai"]:
    sys.modules[name] = types.ModuleType(name)
sys.modules["yaml"].safe_load = lambda text: {"metadata": {"interleaved_format": False}}
sys.modules["lmms_eval.verifiers"].VerificationPipeline = object
sys.modules["lmms_eval.verifiers.openai"].OpenAIVerifier = object
sys.modules["lmms_eval.tasks._task_utils.file_utils"].generate_submission_file = lambda *a, **k: "/dev/null"
load_module("lmms_eval.tasks._task_utils.mmmu_mcq_utils", os.path.join(LMMS_DIR, "lmms_eval/tasks/_task_utils/mmmu_mcq_utils.py"))
sys.modules["lmms_eval.tasks._task_utils.mmmu_mcq_utils"] = load_module(
    "lmms_eval.tasks._task_utils.mmmu_mcq_utils", os.path.join(LMMS_DIR, "lmms_eval/tasks/_task_utils/mmmu_mcq_utils.py"))
lmu = load_module("lmms_mmmu", os.path.join(LMMS_DIR, "lmms_eval/tasks/mmmu/utils.py"))
# lmms-eval seeds Python's global random with --seed (default 0) before the run; its multiple-choice
# fallback draws from it, here in document order (subjects alphabetically, as the HF dataset is)
pyrandom.seed(0)
results, items, random_picks = [], {}, 0
for cat in sorted(os.listdir(mmdir)):
    for o in json.load(open(os.path.join(mmdir, cat, "output.json"))):
        opts = list(o.get("index2ans", {}).values())
        doc = {"id": o["id"], "question_type": o["question_type"], "options": repr(opts),
               "answer": o["answer"] if isinstance(o["answer"], str) else repr(o["answer"])}
        st = pyrandom.getstate()
        r = lmu.mmmu_process_results(doc, [o["response"]])["mmmu_acc"]
        random_picks += pyrandom.getstate() != st
        results.append(r)
        _, md = lmu.evaluate_mmmu([r])
        items[o["id"]] = repr(float(md["acc"]))
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    overall = lmu.mmmu_aggregate_results(results)
printed = ast.literal_eval(buf.getvalue().strip())
m = {"mmmu_acc": repr(overall), "random_picks": str(random_picks)}
for k, v in printed.items():
    m[f"{k}/acc"] = repr(v["acc"])
    m[f"{k}/num"] = str(v["num"])
expected["mmmu/lmms-eval"] = {"metrics": m, "items": items}

# ---------------------------------------------------------------- VLMEvalKit: MME and POPE (yes/no)
# The MME and POPE answers above as VLMEvalKit's prediction TSVs, scored by
# vlmeval/dataset/image_yorn.py's evaluate with the exact_matching judge (its steps inlined: the
# rest of the class needs the whole package): YOrN_Extraction (with smp/misc.py's
# process_punctuation, taken out of that module by its source), score = answer == extracted, then
# MME_rating / POPE_rating from vlmeval/dataset/utils/yorn.py.
vsrc = open(os.path.join(VLM_DIR, "vlmeval/smp/misc.py")).read()
pdefs = [n for n in ast.parse(vsrc).body if isinstance(n, ast.FunctionDef) and n.name in ("process_punctuation", "d2df")]
vns = {"pd": pd}
exec(compile(ast.Module(body=pdefs, type_ignores=[]), "misc.py", "exec"), vns)
smp.process_punctuation, smp.d2df = vns["process_punctuation"], vns["d2df"]
smp.load = smp_load
yorn = load_module("vlmeval_yorn", os.path.join(VLM_DIR, "vlmeval/dataset/utils/yorn.py"))


def yorn_eval(tsv, rating):
    data = pd.read_csv(tsv, sep="\t")
    data["prediction"] = [str(x) for x in data["prediction"]]
    ans_map = {k: yorn.YOrN_Extraction(v) for k, v in zip(data["index"], data["prediction"])}
    data["extracted"] = [ans_map[x] for x in data["index"]]
    data["score"] = data["answer"] == data["extracted"]
    storage = f"/tmp/jf_yorn_{os.getpid()}.tsv"
    data.to_csv(storage, sep="\t", index=False)
    out = rating(storage)
    items = {str(i): repr(float(sc)) for i, sc in zip(data["index"], data["score"])}
    return out, items, int((data["extracted"] == "Unknown").sum())


rows, i = [], 0
for t in sorted(os.listdir(mdir)):
    for line in open(os.path.join(mdir, t)):
        img, q, gt, resp = line.split("\t")
        i += 1
        rows.append({"index": i, "image_path": f"{t[:-4]}/{img}", "question": q, "answer": gt, "category": t[:-4],
                     "prediction": resp.rstrip("\n")})
mme_tsv = os.path.join(OUT, "mme_vlmevalkit.tsv")
pd.DataFrame(rows).to_csv(mme_tsv, sep="\t", index=False)
out, items, unk = yorn_eval(mme_tsv, yorn.MME_rating)
m = {k: repr(float(out[k][0])) for k in out.columns}
m["unknown_answers"] = str(unk)
expected["mme/vlmevalkit"] = {"metrics": m, "items": items}

rows, i = [], 0
for split in ["adversarial", "popular", "random"]:
    labels = [json.loads(l) for l in open(os.path.join(pdir, f"coco_pope_{split}.json"))]
    cur = [x for x in llava_a if qmap[x["question_id"]]["category"] == split]
    for lab, a in zip(labels, cur):
        i += 1
        cat = split if i % 9 else f"{split},random" if split != "random" else "popular,random"  # asked in two splits
        rows.append({"index": i, "question": lab["text"], "answer": lab["label"].capitalize(), "category": cat,
                     "prediction": a["text"]})
pope_tsv = os.path.join(OUT, "pope_vlmevalkit.tsv")
pd.DataFrame(rows).to_csv(pope_tsv, sep="\t", index=False)
out, items, unk = yorn_eval(pope_tsv, yorn.POPE_rating)
m = {}
for r_ in range(len(out)):
    for col in ["Overall", "acc", "precision", "recall"]:
        m[f"{out['split'][r_]}/{col}"] = repr(float(out[col][r_]))
m["unknown_answers"] = str(unk)
expected["pope/vlmevalkit"] = {"metrics": m, "items": items}

# ---------------------------------------------------------------- VLMEvalKit: GQA_TestDev_Balanced
# ImageVQADataset.evaluate_heuristic (vlmeval/dataset/image_vqa.py) taken out of its class by its
# source and run on the prediction TSV, with utils/vqa_eval.py's process_line ('accuracy') and
# hit_calculate; its process pool is replaced by a plain map (the results are the same) and its
# relative import by the names themselves.
mdefs = [n for n in ast.parse(vsrc).body if isinstance(n, ast.FunctionDef) and n.name in ("istype", "listinstr")]
exec(compile(ast.Module(body=mdefs, type_ignores=[]), "misc.py", "exec"), vns)
smp.istype_real, smp.listinstr = vns["istype"], vns["listinstr"]
_stub_istype = smp.istype
smp.istype = vns["istype"]
vqae = load_module("vlmeval_vqa_eval", os.path.join(VLM_DIR, "vlmeval/dataset/utils/vqa_eval.py"))
smp.istype = _stub_istype
isrc = open(os.path.join(VLM_DIR, "vlmeval/dataset/image_vqa.py")).read()
cls = [n for n in ast.parse(isrc).body if isinstance(n, ast.ClassDef) and n.name == "ImageVQADataset"][0]
fdef = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "evaluate_heuristic"][0]
fsrc = ast.get_source_segment(isrc, fdef)
fsrc = "\n".join(l[4:] if k else l for k, l in enumerate(fsrc.split("\n"))).replace("from .utils.vqa_eval import hit_calculate, process_line", "pass")


class _Pool:
    def __init__(self, n):
        pass

    def map(self, f, xs):
        return [f(x) for x in xs]


import functools  # noqa: E402
gns = {"np": np, "pd": pd, "mp": types.SimpleNamespace(Pool=_Pool), "partial": functools.partial, "load": smp_load,
       "dump": smp_dump, "listinstr": vns["listinstr"], "d2df": vns["d2df"], "hit_calculate": vqae.hit_calculate,
       "process_line": vqae.process_line,
       "get_intermediate_file_path": lambda f, suf, fmt=None: f.replace(".tsv", f"{suf}.tsv")}
exec(compile(fsrc, "image_vqa.py", "exec"), gns)
gqa_cats = {}
rows = []
for i, (qid, q) in enumerate(qs.items()):
    if not q["isBalanced"]:
        continue
    a = gqa_text.get(qid)
    pred = a if a is not None else ""
    if i % 11 == 3:
        pred = "\u00a0" + pred.upper() + " \t"  # str.strip() takes the no-break space too
    ans = q["answer"]
    if i % 13 == 4:
        ans = repr([ans, ans.capitalize() + " ", "something else"])  # a list answer: eval()ed, mean of matches
    rows.append({"index": len(rows) + 1, "question": q["question"], "answer": ans, "category": q["types"]["structural"],
                 "prediction": pred})
# NA words: str() of NaN is "nan" on both sides ("None" is one only from pandas 2.0, which jf follows)
rows.append({"index": len(rows) + 1, "question": "q?", "answer": "NA", "category": "verify", "prediction": "nan"})
for layout in ["category", "split"]:
    df = pd.DataFrame(rows)
    if layout == "split":
        df = df.rename(columns={"category": "split"})
    path = os.path.join(OUT, f"gqa_vlmevalkit_{layout}.tsv")
    df.to_csv(path, sep="\t", index=False)
    work = f"/tmp/jf_gqa_vlm_{os.getpid()}.tsv"
    df.to_csv(work, sep="\t", index=False)
    ret = gns["evaluate_heuristic"](types.SimpleNamespace(dataset_name="GQA_TestDev_Balanced"), work)
    m = {k: repr(float(ret[k][0])) for k in ret.columns}
    data = pd.read_csv(work, sep="\t")
    data["prediction"] = [str(x) for x in data["prediction"]]
    data["answer"] = [str(x) for x in data["answer"]]
    items = {str(data["index"][r_]): repr(float(np.mean(vqae.process_line(data.iloc[r_], method="accuracy")["match"])))
             for r_ in range(len(data))}
    expected[f"gqa/vlmevalkit_{layout}"] = {"metrics": m, "items": items}

# ---------------------------------------------------------------- VLMEvalKit: MMMU_DEV_VAL
# mcq_vanilla_eval with MMMU_preproc (open questions become "A: the answer, B: Other Answers", their
# gold "A"), report_acc per split and subject.
mm_opts = [["Aurelia", "Matilda", "Hermione", "Juno"], ["trees growing fast", "rocks", "water", "sky"],
           ["red", "blue", "green", "yellow", "white"]]
rows, preds = [], []
for i in range(45):
    split = "dev" if i % 5 == 0 else "validation"
    cat = ["Art", "Math", "Physics"][i % 3]
    row = {"index": i + 1, "question": f"question {i}?"}
    if i % 3 == 2:
        k = rng.randrange(len(open_responses))
        g = golds_open[k]
        row.update({c: float("nan") for c in "ABCDE"})
        row["answer"] = g if isinstance(g, str) else g[0]
        p = open_responses[k] if rng.random() < 0.6 else rng.choice(["Other Answers", "A", "B", row["answer"]])
    else:
        op = rng.choice(mm_opts)
        for j, c in enumerate("ABCDE"):
            row[c] = op[j] if j < len(op) else float("nan")
        row["answer"] = rng.choice("ABCDE"[:len(op)])
        p = rng.choice(mc_responses) if rng.random() < 0.7 else rng.choice(op)
    row["category"], row["split"] = cat, split
    rows.append(row)
    preds.append(p)
meta = pd.DataFrame(rows)
mm_meta = os.path.join(OUT, "mmmu_dev_val.tsv")
meta.to_csv(mm_meta, sep="\t", index=False)
ev = meta.copy()
ev["prediction"] = preds
mm_pred = os.path.join(OUT, "mmmu_dev_val_predictions.tsv")
ev.to_csv(mm_pred, sep="\t", index=False)
m, items = vlm_eval(mm_meta, mm_pred, False, "MMMU_DEV_VAL")
expected["mmmu/vlmevalkit"] = {"metrics": m, "items": items}

# ---------------------------------------------------------------- lmms-eval: MMBench (static)
# mmbench_en_dev_static: MMBench_Evaluator.eval_result(results, eval_method="static") from
# lmms_eval/tasks/mmbench/mmbench_evals.py with _task_utils/mcq_extract.py, on the "gpt_eval_score"
# dicts of a samples log (--log_samples) as mmbench_process_results writes them.
sys.modules["loguru"].logger = logging.getLogger("loguru")
mcqx = load_module("lmms_eval.tasks._task_utils.mcq_extract", os.path.join(LMMS_DIR, "lmms_eval/tasks/_task_utils/mcq_extract.py"))
sys.modules["lmms_eval.tasks._task_utils.mcq_extract"] = mcqx
sys.modules["lmms_eval.tasks._task_utils"].mcq_extract = mcqx
sys.modules.setdefault("requests", types.ModuleType("requests"))
mbe = load_module("lmms_mmbench_evals", os.path.join(LMMS_DIR, "lmms_eval/tasks/mmbench/mmbench_evals.py"))
mb_preds = ["A", "B.", "The answer is C", "(D) is right", "I think the answer is B because A is wrong", "a cat", "the dog",
            "Answer: C", "C) blue", "答案是B", "My choice is D, the last one", "", "A B", "E", "The correct option is (A).",
            "blue", "It is A large dog", "nothing matches", "B, since it is red", "b", "(C).", ":D", "I pick A", "nan",
            "The image shows a banana", "Option B or C", "D", "Cat", "A.", "**B**"]
mb_opts = [["a cat", "the dog", "a bird", "a fish"], ["red", "blue", "nan", None], ["5", "10", "15", "20"],
           ["left", "right", None, None], ["banana", "apple", "cherry", "date"]]
samples = []
for q in range(24):
    opts4 = mb_opts[q % len(mb_opts)]
    n_opt = len([o for o in opts4 if o is not None])
    ans = rng.randrange(n_opt)
    cat = ["object_localization", "attribute_recognition", "image_scene", "ocr"][q % 4]
    l2 = ["finegrained_perception (instance-level)", "coarse_perception", "logic_reasoning"][q % 3]
    for k in range(n_opt):
        rot = opts4[:n_opt][k:] + opts4[:n_opt][:k]
        rot = rot + [None] * (4 - n_opt)
        a = (ans - k) % n_opt
        pred = rng.choice(mb_preds) if rng.random() < 0.35 else rng.choice(["ABCD"[a], f"The answer is {'ABCD'[a]}."])
        d = {"index": q + 1 + k * 1000000, "question": f"Question {q}?", "answer": "ABCD"[a], "prediction": pred.strip(),
             "hint": "nan" if q % 2 else "a hint", "source": "synthetic", "split": "dev", "category": cat, "L2-category": l2}
        for j, c in enumerate("ABCD"):
            d[c] = rot[j] if rot[j] is not None else (float("nan") if q % 5 == 3 else None)
        samples.append({"doc_id": len(samples), "target": d["answer"], "filtered_resps": [pred], "gpt_eval_score": d,
                        "submission": d})
rng.shuffle(samples)  # ranks gather in any order: the aggregation sorts by index
mb_log = os.path.join(OUT, "mmbench_lmms_samples.jsonl")
with open(mb_log, "w") as f:
    for smp_ in samples:
        f.write(json.dumps(smp_, ensure_ascii=False) + "\n")  # NaN written bare, as lmms-eval's log does
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    ev_ = mbe.MMBench_Evaluator(sys_prompt="There are several options:")
    overall, cat_acc, l2_acc = ev_.eval_result([json.loads(l)["gpt_eval_score"] for l in open(mb_log)], eval_method="static")
m = {"gpt_eval_score": repr(float(overall * 100)), "overall_acc": repr(float(overall))}
m.update({f"category_acc/{k}": repr(float(v)) for k, v in cat_acc.items()})
m.update({f"l2_category_acc/{k}": repr(float(v)) for k, v in l2_acc.items()})
# per question: eval_sub_data on the frame eval_result builds (its first steps, as written there)
data = pd.DataFrame([json.loads(l)["gpt_eval_score"] for l in open(mb_log)]).sort_values(by="index")
data["prediction"] = [str(x) for x in data["prediction"]]
for k in list(data.keys()):
    data[k.lower() if k not in "ABCD" else k] = data.pop(k)
amap = {i: c for i, c in zip(data["index"], data["answer"])}
items = {str(i): repr(float(ev_.eval_sub_data(data[data["index"] % int(1e6) == i], amap, static_only=True)))
         for i in data["index"] if i < int(1e6)}
expected["mmbench/lmms-eval"] = {"metrics": m, "items": items}

json.dump(expected, open(os.path.join(OUT, "expected.json"), "w"), indent=1, ensure_ascii=False, sort_keys=True)
print("wrote", OUT)
