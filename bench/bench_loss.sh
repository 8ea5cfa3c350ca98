#!/usr/bin/env bash
# Loss evaluation (jf train loss) at full size, 2 threads: the random JanusFlow-1.3B checkpoint
# (written once to $JF_BENCH_DIR by bench_gen.sh / bench_model.sh) on 6 photo-like samples used as
# generation data (RF loss; latents from bench_latents.sh's store, so the VAE is not in the time)
# and as caption data (AR loss: SigLIP + the LLM over the image block and the caption). Prints
# samples/s per role; the time excludes loading (the weights are mapped, so the first sample pays
# their first touch). usage: bench/bench_loss.sh [BUILD_DIR]  (run bench_latents.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_model}
out=bench/out/latents
[ -f "$dir/model/model.safetensors" ] || "$build/cli/jf" model random "$dir/model" --full
[ -d "$out/L" ] || { echo "run bench/bench_latents.sh first (it makes $out/ds and $out/L)" >&2; exit 2; }
printf '{"seed": 1, "global_batch": 6, "sources": [{"name": "s", "where": "kind = '"'"'generation'"'"' AND id <= 6"}], "stages": [{"name": "a", "steps": 1, "weights": {"s": 1}}]}\n' > "$out/mix.json"
for role in gen caption; do
  line=$("$build/cli/jf" train loss "$out/ds" "$out/mix.json" --model "$dir/model" --latents "$out/L" --role "s=$role" \
    --threads 2 2>&1 | tail -1)
  secs=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
  printf '%-8s %s  -> %.3f samples/s (%.1f s per sample)\n' "$role" "$line" "$(echo "6 / $secs" | bc -l)" "$(echo "$secs / 6" | bc -l)"
done
