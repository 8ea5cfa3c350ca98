#!/usr/bin/env bash
# Scale-out figures on the single-node test cluster (tests/slurm/cluster.sh, started and stopped
# here; root): ingest of a generated set of photo-like JPEGs as 1, 2 and 4 array tasks (wall time
# from submission to the merged dataset, images/s; the machine has few cores, so the overhead per
# task is the figure, not a speed-up), and `jf shard merge` time per million index rows (four
# parts of generated text samples). usage: bench/bench_slurm.sh [N_IMAGES] [TEXT_ROWS]
# (defaults 3000 and 1000000)
set -eu
cd "$(dirname "$0")/.."
n=${1:-3000} rows=${2:-1000000}
out=$PWD/bench/out/slurm
mkdir -p "$out"
jf=$PWD/build/cli/jf
src=$PWD
source tests/slurm/cluster.sh
trap 'cluster_stop' EXIT
cluster_start > /dev/null || { echo "slurm cannot run here"; exit 1; }
[ -d "$out/data/bench" ] || build/bench/bench_ingest_data "$n" "$out/data" > /dev/null
# the set as 8 tars (the unit an array task takes)
if [ ! -f "$out/tars/7.tar" ]; then
  mkdir -p "$out/tars" "$out/x"
  tar -xf "$out/data/bench/00000.tar" -C "$out/x"
  (cd "$out/x" && ls | sed 's/\..*//' | sort -u > ../keys)
  for t in $(seq 0 7); do
    (cd "$out/x" && awk -v t=$t 'NR % 8 == t' ../keys | while read -r k; do ls "$k".*; done | tar -cf "$out/tars/$t.tar" -T -)
  done
fi
now() { date +%s.%N; }
declare -A wall
for tasks in 1 2 4; do
  rm -rf "$out/run$tasks" "$out/run$tasks.parts"
  t0=$(now)
  JF="$jf" scripts/slurm/ingest.sh "$out/run$tasks" "$tasks" "$out"/tars/*.tar -- --threads $((2 / tasks > 0 ? 2 / tasks : 1)) > /dev/null
  while [ -n "$(squeue -h 2>/dev/null)" ]; do sleep 0.1; done
  t1=$(now)
  wall[$tasks]=$(echo "$t1 - $t0" | bc -l)
  got=$(sqlite3 "$out/run$tasks/index.sqlite" "select count(*) from samples")
  [ "$got" = "$n" ] || echo "warning: $tasks tasks stored $got of $n samples"
done
t0=$(now); "$jf" ingest "$out/single" "$out"/tars/*.tar --quiet > /dev/null || true; t1=$(now)
single=$(echo "$t1 - $t0" | bc -l); rm -rf "$out/single"
# merge time per million index rows: four parts of text samples
if [ ! -f "$out/text/p3/index.sqlite" ]; then
  mkdir -p "$out/text"
  /usr/bin/python3 -c "
import json, sys
with open('$out/text/corpus.jsonl', 'w') as f:
    for i in range($rows):
        f.write(json.dumps({'id': f't{i}', 'text': f'sample {i} of a generated text corpus'}) + '\n')
"
  for k in 0 1 2 3; do "$jf" ingest "$out/text/p$k" "$out/text/corpus.jsonl" --part $k/4 --quiet > /dev/null; done
fi
rm -rf "$out/text/merged"
t0=$(now); "$jf" shard merge "$out/text/merged" "$out"/text/p? > /dev/null; t1=$(now)
merge=$(echo "$t1 - $t0" | bc -l)
merged_rows=$(sqlite3 "$out/text/merged/index.sqlite" "select count(*) from samples")
printf 'Slurm array ingest of %d JPEGs (8 tars; single-node cluster, %d cores), submission to merged dataset\n' "$n" "$(nproc)"
printf '%-34s %10s %10s %14s\n' "run" "wall s" "images/s" "vs 1 process"
printf '%-34s %10.2f %10.1f %14s\n' "jf ingest, one process, no Slurm" "$single" "$(echo "$n / $single" | bc -l)" "1.00x"
for tasks in 1 2 4; do
  w=${wall[$tasks]}
  printf '%-34s %10.2f %10.1f %13.2fx\n' "array of $tasks task(s) + merge" "$w" "$(echo "$n / $w" | bc -l)" "$(echo "$single / $w" | bc -l)"
done
printf 'overhead per task (4 tasks vs 1, same cores): %.2f s\n' "$(echo "(${wall[4]} - ${wall[1]}) / 3" | bc -l)"
printf 'jf shard merge of 4 parts, %d index rows: %.2f s (%.2f s per million rows)\n' "$merged_rows" "$merge" \
  "$(echo "$merge / ($merged_rows / 1000000)" | bc -l)"
# and the column merge (no Slurm needed; its own script)
bench/bench_colmerge.sh "$rows"
