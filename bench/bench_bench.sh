#!/usr/bin/env bash
# Questions per second answering POPE-style data (3 questions per image) with the built-in model,
# with and without the shared image prefix, at 2 threads (or all cores): the tiny random model,
# and with --full the full-size random checkpoint (~4.1 GB written to a temp folder).
# Usage: bench/bench_bench.sh [BUILD_DIR] [--full] [IMAGES]
set -euo pipefail
build=${1:-build}
full=${2:-}
n_img=${3:-4}
jf="$build/cli/jf"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 - "$dir" "$n_img" <<'PY'
import json, sys
from PIL import Image
d, n = sys.argv[1], int(sys.argv[2])
import os
os.makedirs(f"{d}/imgs", exist_ok=True)
with open(f"{d}/labels.json", "w") as f:
    for i in range(n):
        Image.new("RGB", (320 + 16 * i, 240), (30 * i % 255, 120, 200)).save(f"{d}/imgs/COCO_val2014_{i:012d}.jpg")
        for k, obj in enumerate(["dog", "car", "person"]):
            f.write(json.dumps({"question_id": i * 3 + k + 1, "image": f"COCO_val2014_{i:012d}.jpg",
                                "text": f"Is there a {obj} in the image?", "label": "yes" if k % 2 == 0 else "no"}) + "\n")
PY
models=(tiny)
"$jf" model random "$dir/tiny" >/dev/null
if [ "$full" = --full ]; then "$jf" model random "$dir/full" --full >/dev/null; models+=(full); fi
threads=$(nproc); [ "$threads" -gt 2 ] && threads=2
printf '%-6s %-30s %10s %12s %10s\n' model mode seconds questions/s "vs torch"
for m in "${models[@]}"; do
  declare -A rate=() wall=()
  for mode in shared shared+f32 whole; do
    extra=(); [ $mode = whole ] && extra=(--no-shared-prefix); [ $mode = shared+f32 ] && extra=(--f32-weights)
    rm -f "$dir/out.jsonl"
    t0=$(date +%s.%N)
    "$jf" eval bench pope --model "$dir/$m" --data "$dir/labels.json" --images "$dir/imgs" --out "$dir/out.jsonl" \
      --max-new-tokens 2 --batch 12 "${extra[@]}" > "$dir/run.txt" 2>/dev/null || true
    t1=$(date +%s.%N)
    wall[$mode]=$(echo "$t1 - $t0" | bc -l)
    # the answering time jf reports (after the weights are loaded): what the PyTorch figure times too
    s=$(sed -n 's/^answered .* in \([0-9.]*\) s,.*/\1/p' "$dir/run.txt")
    q=$((n_img * 3))
    rate[$mode]=$(echo "$q / $s" | bc -l)
  done
  # the PyTorch reference (tests/reference/janus_ref.py, f32) answering the same prompts one by one
  /usr/bin/python3 -c "import json,sys; [print(json.dumps({'prompt': json.loads(l)['prompt']})) for l in open(sys.argv[1])]" \
    "$dir/out.jsonl" > "$dir/prompts.jsonl"
  "$build/bench/bench_prompt_ids" "$dir/$m" < "$dir/prompts.jsonl" > "$dir/ids.jsonl"
  t=$(/usr/bin/python3 "$(dirname "$0")/pope_torch.py" "$dir/$m" "$dir/ids.jsonl" "$dir/labels.json" "$dir/imgs" "$threads" 2)
  torch_rate=$(echo "$t" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(d['questions'] / d['seconds'])")
  for mode in shared shared+f32 whole; do
    printf '%-6s %-30s %10.2f %12.3f %9.2fx   (%.2f s with loading)\n' "$m" "jf, $mode prefill" "$(echo "$n_img * 3 / ${rate[$mode]}" | bc -l)" "${rate[$mode]}" \
      "$(echo "${rate[$mode]} / $torch_rate" | bc -l)" "${wall[$mode]}"
  done
  printf '%-6s %-30s %10.2f %12.3f %10s\n' "$m" "PyTorch reference, one by one" "$(echo "$n_img * 3 / $torch_rate" | bc -l)" "$torch_rate" ""
done
echo "(threads: $threads; at most 2 new tokens a question; shared+f32: --f32-weights, f32 copies of the matrices as the"
echo " PyTorch reference holds them; seconds: answering, after the weights are loaded, as the"
echo " PyTorch reference times itself; vs torch: jf's questions/s over the PyTorch reference's)"
