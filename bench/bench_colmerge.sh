#!/usr/bin/env bash
# `jf shard merge-columns` time per million index rows: a generated text dataset of ROWS samples
# (default 1,000,000), four `jf filter text --part K/4 --column-part` parts (lang, caption_words,
# banned_words, lang_reliable), merged into the index; side by side with the one-process
# `jf filter text` that writes the same columns directly, and a check that both give the same
# values. No Slurm needed (bench_slurm.sh runs it after the array figures).
# usage: bench/bench_colmerge.sh [ROWS]
set -eu
cd "$(dirname "$0")/.."
rows=${1:-1000000}
out=$PWD/bench/out/colmerge
jf=$PWD/build/cli/jf
mkdir -p "$out"
now() { date +%s.%N; }
if [ "$(sqlite3 "$out/ds/index.sqlite" "select count(*) from samples" 2>/dev/null)" != "$rows" ]; then
  rm -rf "$out/ds"
  /usr/bin/python3 -c "
import json
with open('$out/corpus.jsonl', 'w') as f:
    for i in range($rows):
        f.write(json.dumps({'id': f't{i}', 'text': f'sample {i} of a generated text corpus, with a few words'}) + '\n')
"
  "$jf" ingest "$out/ds" "$out/corpus.jsonl" --quiet > /dev/null
fi
printf 'corpus\n' > "$out/banned.txt"
rm -rf "$out/one" "$out/parts" && mkdir -p "$out/parts"
cp -r "$out/ds" "$out/one"
t0=$(now); "$jf" filter text "$out/one" --banned-words "$out/banned.txt" --quiet > /dev/null; t1=$(now)
one=$(echo "$t1 - $t0" | bc -l)
t0=$(now)
for k in 0 1 2 3; do
  "$jf" filter text "$out/ds" --banned-words "$out/banned.txt" --part $k/4 --column-part "$out/parts/p$k.jsonl" --quiet > /dev/null
done
t1=$(now)
parts=$(echo "$t1 - $t0" | bc -l)
rm -rf "$out/merged" && cp -r "$out/ds" "$out/merged"
t0=$(now); "$jf" shard merge-columns "$out/merged" "$out"/parts/p?.jsonl --quiet > /dev/null; t1=$(now)
merge=$(echo "$t1 - $t0" | bc -l)
q="select key, lang, caption_words, banned_words, lang_reliable from samples order by key"
if [ "$(sqlite3 "$out/one/index.sqlite" "$q" | md5sum)" = "$(sqlite3 "$out/merged/index.sqlite" "$q" | md5sum)" ]; then
  same="equal"
else
  same="DIFFERENT"
fi
bytes=$(cat "$out"/parts/p?.jsonl | wc -c)
printf 'merge-columns of 4 parts, %d rows x 4 columns (%.0f MB of parts): %.2f s = %.2f s per million rows\n' \
  "$rows" "$(echo "$bytes / 1000000" | bc -l)" "$merge" "$(echo "$merge / ($rows / 1000000)" | bc -l)"
printf 'the 4 parts computed one after another: %.2f s; one process writing the columns directly: %.2f s\n' "$parts" "$one"
printf 'merged columns vs one process: %s\n' "$same"
[ "$same" = equal ]
