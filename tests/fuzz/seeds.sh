#!/usr/bin/env bash
# Builds seed corpora for the fuzz targets from the demo sample set: record-file streams, tars
# (whole, truncated, compressed) and mix files; weight files and tokenizers from tests/data.
# Usage: seeds.sh JF_BINARY OUT_DIR TEST_DATA_DIR
set -eu
jf=$1 out=$2 data=$3
rm -rf "$out"; mkdir -p "$out/jfr" "$out/wds" "$out/mix" "$out/manifest" "$out/rule" "$out/work" "$out/weights" "$out/tokenizer" "$out/html" "$out/image" "$out/parquet" "$out/bench" "$out/colpart" "$out/train" "$out/mmmu"
cp "$data"/ckpt/zip.pth "$data"/ckpt/legacy.pth "$data"/ckpt/evil.pth "$out/weights/"
cp "$data"/janus_tiny/model.safetensors "$out/weights/tiny.safetensors"
cp "$data"/janus_tiny/tokenizer.json "$out/tokenizer/tiny.json"
cp "$data"/parquet/laion_none_dict_v1.parquet "$data"/parquet/laion_snappy_dict_v1.parquet \
   "$data"/parquet/laion_gzip_plain_v2.parquet "$data"/parquet/laion_zstd_delta_v2.parquet \
   "$data"/parquet/regress_footer_repeated_field.parquet "$out/parquet/"  # a footer listing its schema twice leaked it
# MMMU's layout: image_K.bytes struct columns, dictionary-encoded, mostly null (a dictionary of empty
# strings once offset a null pointer)
cp "$data"/bench/mmmu_hf/Physics/validation-00000-of-00001.parquet "$out/parquet/mmmu_physics.parquet"
# bench: the first byte % 13 picks the case (0 VQAv2 results, 1 LLaVA answer lines, 2 POPE answers, 3 annotations, 4 MMMU,
# 5 MMBench TSV, 6/7 VLMEvalKit MME/POPE TSVs, 8 GQA and 9 SEED answer lines under lmms-eval, 10 lmms-eval's MMBench
# samples log, 11/12 VLMEvalKit GQA/MMMU TSVs)
{ printf '\0'; cat "$data"/bench/vqav2_results.json; } > "$out/bench/vqa_results"
{ printf '\1'; cat "$data"/bench/vqav2_llava_answers.jsonl; } > "$out/bench/vqa_llava"
{ printf '\2'; cat "$data"/bench/pope_random_answers.jsonl; } > "$out/bench/pope"
{ printf '\3'; head -c 3000 "$data"/bench/vqav2/v2_mscoco_val2014_annotations.json; } > "$out/bench/annotations_cut"
{ printf '\4'; cat "$data"/bench/mmmu_output.json; } > "$out/bench/mmmu"
{ printf '\5'; cat "$data"/bench/mmbench_dev_predictions.tsv; } > "$out/bench/mmbench"
{ printf '\6'; cat "$data"/bench/mme_vlmevalkit.tsv; } > "$out/bench/mme_vlm"
{ printf '\7'; cat "$data"/bench/pope_vlmevalkit.tsv; } > "$out/bench/pope_vlm"
{ printf '\10'; cat "$data"/bench/gqa_llava_answers.jsonl; } > "$out/bench/gqa_lmms"
{ printf '\11'; cat "$data"/bench/seed_llava_answers.jsonl; } > "$out/bench/seed_lmms"
{ printf '\12'; head -n 12 "$data"/bench/mmbench_lmms_samples.jsonl; } > "$out/bench/mmbench_lmms"
{ printf '\13'; cat "$data"/bench/gqa_vlmevalkit_category.tsv; } > "$out/bench/gqa_vlm"
{ printf '\14'; cat "$data"/bench/mmmu_dev_val_predictions.tsv; } > "$out/bench/mmmu_vlm"
# MMMU rows (byte 1: JSONL, 0: a JSON list) and image cells that are Python lists
{ printf '\1'; printf '%b\n' '{"id": "validation_Art_1", "question": "<image 1> which?", "options": "[\x27a\x27, \x27b\x27]", "answer": "A", "question_type": "multiple-choice", "image_1": {"bytes": "iVBORw0KGgo="}}' \
  '{"id": "validation_Art_2", "question": "q", "options": ["x", "y\x27s"], "answer": "1.5", "question_type": "open", "image_1": "img/a.png"}'; } > "$out/mmmu/rows.jsonl"
printf '\0[{"id": "validation_Math_1", "question": "q", "options": "[]", "answer": "B", "question_type": "multiple-choice", "image_1": null}]' > "$out/mmmu/rows.json"
printf '\0[\x27aGVsbG8=\x27, "d29ybGQ=", \x27\x27]' > "$out/mmmu/cell"
printf 'Tom &amp;amp; Jerry &notit; &#x1F600; &#128; &#55296; &ltx &' > "$out/html/refs"
printf '&CounterClockwiseContourIntegral; caf\303\251 &eacute &#99999999999;' > "$out/html/long"
printf '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"Whitespace"},"added_tokens":[{"id":3,"content":"<s>","special":true}]}' > "$out/tokenizer/small.json"
"$jf" demo --dir "$out/work" --quiet --data-only >/dev/null 2>&1 || true
i=0
for f in "$out"/work/dataset/shards/*.jfr; do
  # mode byte 0 (record stream) + the records after the file header; and a cut-down copy
  { printf '\0'; tail -c +57 "$f"; } > "$out/jfr/stream$i"
  { printf '\0'; tail -c +57 "$f" | head -c 3000; } > "$out/jfr/cut$i"
  i=$((i+1))
done
printf '\1JFRC\1\1' > "$out/jfr/body0"
head -c 20000 "$out/work/input/laion/00000.tar" > "$out/wds/laion_head.tar"
head -c 9000 "$out/work/input/sa1b/sa_000000.tar" > "$out/wds/sa1b_head.tar"
head -c 30000 "$out/work/input/laion/00000.tar" | gzip -c > "$out/wds/laion.tar.gz"
cp "$out/work/mix.json" "$out/mix/demo.json"
# training samples: the tiny model they are tokenized for, and conversations of every shape
"$jf" model random "$out/model" > /dev/null 2>&1 || { echo "seeds: jf model random failed" >&2; exit 1; }
printf '\0\2[{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cat."}]' > "$out/train/und.bin"
printf '\0\4[{"from": "system", "value": "Be brief."}, {"from": "human", "value": "<image> and <image_placeholder>"}, {"from": "gpt", "value": "x"}, {"from": "human", "value": "more"}, {"from": "gpt", "value": "y"}]' > "$out/train/multi.bin"
printf '\0\2[{"from": "gpt", "value": "first"}, {"from": "human", "value": "<image>"}]' > "$out/train/order.bin"
printf '\1\3a caption of a photo' > "$out/train/caption.bin"
printf '\2\3a prompt for an image' > "$out/train/gen.bin"
printf '\3\1plain text for the language model' > "$out/train/text.bin"
printf '\3\0{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}' > "$out/train/textconv.bin"
# column parts: a complete one over the dataset's keys, one cut short, one with a wrong type
printf '%s\n' '{"format": "jf-column-part-1", "job": "job", "part": "0/1", "columns": [{"name": "s", "type": "REAL", "description": "d"}, {"name": "l", "type": "TEXT", "description": ""}, {"name": "n", "type": "INTEGER", "description": ""}]}' \
  '{"key": "k1", "v": [0.5, "en", 3]}' '{"key": "k2", "v": [null, null, null]}' '{"key": "zz", "v": [1e308, "x", -1]}' '{"done": 3}' > "$out/colpart/whole.jsonl"
head -n 2 "$out/colpart/whole.jsonl" > "$out/colpart/cut.jsonl"
printf '%s\n' '{"format": "jf-column-part-1", "job": "job", "part": "0/1", "columns": [{"name": "s", "type": "INTEGER"}]}' \
  '{"key": "k1", "v": ["text"]}' '{"done": 1}' > "$out/colpart/type.jsonl"
printf '{"seed":1,"global_batch":3,"sources":[{"name":"a","where":"kind=%s"}],"stages":[{"steps":4,"weights":{"a":1}}]}' "'text'" > "$out/mix/small.json"
{ printf '\0'; cat "$out/work/input/sharegpt4v/sharegpt4v_demo.json"; } > "$out/manifest/sharegpt.json"
{ printf '\0'; cat "$out/work/input/text/corpus.jsonl"; } > "$out/manifest/corpus.jsonl"
printf '\1{"sa_1.jpg": "a caption", "sa_2": {"caption": "x"}}' > "$out/manifest/captions.json"
printf '\1{"image": "sa_1.jpg", "caption": "a"}\n{"image_id": 2, "text": "b"}\n' > "$out/manifest/captions.jsonl"
printf '\0[{"id": 1, "images": ["a.jpg"], "messages": [{"role": "user", "content": "hi"}]}, {"text": "t"}]' > "$out/manifest/llava.json"
# benchmarks' own question files: GQA, VQAv2 (its annotations beside it are not in the corpus), SEED-Bench
# (an image and a video question), and MME's <subtask>.txt (bit 3 of the first byte names the input existence.txt)
printf '\0{"201": {"imageId": "n1", "question": "Is it red?", "answer": "no", "types": {"structural": "verify"}}, "202": {"imageId": 7}}' > "$out/manifest/gqa.json"
printf '\0{"info": {}, "data_subtype": "val2014", "questions": [{"question_id": 1000, "image_id": 42, "question": "?"}, {"question_id": "x"}]}' > "$out/manifest/vqav2.json"
printf '\0{"question_type": {"Scene": 1}, "questions": [{"question_id": "1", "question": "q", "choice_a": "a", "data_id": "x/1.jpg", "data_type": "image"}, {"question_id": 2, "choice_a": "b", "data_id": "v.mp4", "data_type": "video"}]}' > "$out/manifest/seed.json"
printf '\10a.jpg\tIs it? Please answer yes or no.\tYes\nb.jpg\tno tabs\n\nc.jpg\tq\tNo\tNo, extra\n' > "$out/manifest/mme.txt"
printf '\2url,caption,similarity\nhttp://127.0.0.1:9/a.jpg,"a, quoted ""caption""",0.3\n' > "$out/manifest/urls.csv"
printf '\3URL\tTEXT\nhttp://127.0.0.1:9/a.jpg\tcap\n' > "$out/manifest/urls.tsv"
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==
printf '\4index\tquestion\tanswer\timage\n1\tq?\tA\t%s\n2\t"two\nlines"\tB\t1\n3\tq3\tC\t['"'"'%s'"'"', '"'"'%s'"'"']\n4\tq4\tD\t9\n' \
  "$png" "$png" "$png" > "$out/manifest/bench.tsv"
printf "short_side >= 256 and punsafe < 0.1" > "$out/rule/a"
printf "status in ('success', 'x') or not (width / height between 1 and 3)" > "$out/rule/b"
printf "lower(status) like 'suc%%' and coalesce(punsafe, 1) * 2 < 1.5 and kind = 'generation'" > "$out/rule/c"
printf "min(width, height, 3) + max(1, 2) %% 2 = 0 or status is not null" > "$out/rule/d"
# images as the datasets hold them: the demo's JPEGs, and PNG/WebP layouts made by the decoders' tests
find "$out/work/input" -name '*.jpg' | head -6 | while read -r f; do cp "$f" "$out/image/"; done
python3 - "$data/phash_ref.bin" "$out/image" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(); i = k = 0
while i < len(b):
    n = struct.unpack_from('<I', b, i)[0]
    open('%s/ref%d' % (sys.argv[2], k), 'wb').write(b[i + 4:i + 4 + n]); i += 4 + n + 24; k += 1
PY
printf '\211PNG\r\n\032\n' > "$out/image/png_magic"
rm -rf "$out/work"
