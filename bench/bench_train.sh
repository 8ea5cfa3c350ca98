#!/usr/bin/env bash
# Batch building (jf train batches) at full size, 2 threads: decode + short-side resize + 384 crop
# (generation) or letterbox + chat-template tokenization (captions as understanding data), each
# batch written as .npz, side by side with Python + PIL doing the same image work with 2 processes
# (no tokenization, no files written) and with the libjpeg-turbo decode limit of the same images.
# The model is `jf model random --layer` (the release's widths and 384 px preprocessing, one block
# per tower: batch building reads only its tokenizer and configuration). No VAE: latent encoding
# is measured separately. usage: bench/bench_train.sh [N_IMAGES] (default 2000)
set -eu
cd "$(dirname "$0")/.."
n=${1:-2000}
out=bench/out/train
data=bench/out/python/data
mkdir -p "$out"
[ -f "$data/bench/00000.tar" ] && [ -f "$data/limit.json" ] || build/bench/bench_ingest_data "$n" "$data" > "$data/limit.json"
[ -d "$out/ds" ] || build/cli/jf ingest "$out/ds" "$data/bench/00000.tar" --quiet
[ -f "$out/m/model.safetensors" ] || build/cli/jf model random --layer "$out/m" 2> /dev/null
steps=$(( n / 32 ))
printf '{"seed": 1, "global_batch": 32, "sources": [{"name": "s", "where": "kind = '"'"'generation'"'"'"}],
 "stages": [{"name": "a", "steps": %d, "weights": {"s": 1}}]}\n' "$steps" > "$out/mix.json"
run() { # run ROLE [--dry-run] → samples/s
  rm -rf "$out/B"
  build/cli/jf train batches "$out/ds" "$out/mix.json" --model "$out/m" --out "$out/B" --threads 2 --role "s=$1" ${2:-} \
    --json --quiet | /usr/bin/python3 -c 'import json, sys; print("%.1f" % json.load(sys.stdin)["samples_per_second"])'
}
lim=$(/usr/bin/python3 -c "import json; print(2 * json.load(open('$data/limit.json'))['decode_limit_ips'])")
# the machine's cost of writing the same bytes (dd into the page cache: CPU time in the kernel),
# added to the decode limit's per-sample cost: the limit for building and writing on 2 cores
write_limit() { # BYTES SAMPLES → samples/s of building + writing at the two limits
  local t0 t1
  t0=$(date +%s.%N)
  dd if=/dev/zero of="$out/ddtest" bs=1M count=$(( $1 / 1048576 )) 2> /dev/null
  t1=$(date +%s.%N)
  rm -f "$out/ddtest"
  /usr/bin/python3 -c "d = 2 / $lim; w = ($t1 - $t0) / $2; print('%.1f' % (2 / (d + w)))"
}
for role in gen caption; do
  jf=$(run $role)
  wl=$(write_limit "$(du -sb "$out/B" | cut -f1)" $(( steps * 32 )))
  dry=$(run $role --dry-run)
  py=$(/usr/bin/python3 bench/train_pil.py $role "$data/jpgs" $(( steps * 32 )))
  printf '%-8s jf %7s samples/s (%7s without writing .npz)   Python+PIL %7s   decode limit (2 cores) %7s (with writing %7s)   jf/PIL %5.2fx   jf/limit %4.2f (dry %4.2f)\n' \
    "$role" "$jf" "$dry" "$py" "$lim" "$wl" "$(echo "$jf / $py" | bc -l)" "$(echo "$jf / $wl" | bc -l)" "$(echo "$dry / $lim" | bc -l)"
done
