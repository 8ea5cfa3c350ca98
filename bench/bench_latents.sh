#!/usr/bin/env bash
# Latent encoding (jf shard encode-latents) at full size, 2 threads: the SDXL-VAE's shapes
# (random weights, 83.65 M parameters) on 384 px centre crops of photo-like JPEGs. Reports the
# command's images/s (decode + resize + crop + encoder + store), the encoder's FLOP rate against
# the machine's sgemm (bench_latents: one crop, best of 2), and the PyTorch f32 reference
# (tests/reference/vae_ref.py) encoding the same crops one by one, with the agreement of the
# posterior means. usage: bench/bench_latents.sh [BUILD_DIR] [N_IMAGES] (default build 6)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-6}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_model}
out=bench/out/latents
data=bench/out/python/data
mkdir -p "$out"
[ -f "$dir/vae/diffusion_pytorch_model.safetensors" ] || "$build/cli/jf" model random "$dir/vae" --vae --full
[ -f "$data/bench/00000.tar" ] || "$build/bench/bench_ingest_data" 2000 "$data" > "$data/limit.json"
[ -d "$out/ds" ] || "$build/cli/jf" ingest "$out/ds" "$data/bench/00000.tar" --quiet
rm -rf "$out/L"
echo "jf encoder alone:"
"$build/bench/bench_latents" "$dir/vae" 384 2 2 | tee "$out/kernel.json"
echo "jf shard encode-latents, $n images:"
"$build/cli/jf" shard encode-latents "$out/ds" --vae "$dir/vae" --out "$out/L" --threads 2 --dtype f32 \
  --where "kind = 'generation' AND id <= $n" --json --quiet | tee "$out/cli.json"
pairs=()
while IFS='|' read -r id key; do
  "$build/cli/jf" shard cat "$out/L" "$key" --field latent.npy > "$out/$id.npy"
  "$build/cli/jf" shard cat "$out/ds" "$key" --field jpg > "$out/$id.jpg"
  pairs+=("$out/$id.jpg:$out/$id.npy")
done < <(sqlite3 "$out/ds/index.sqlite" "SELECT id, key FROM samples WHERE kind = 'generation' AND id <= $n")
# PyTorch with 1 and 2 threads (Debian's build: OpenBLAS threads ignore set_num_threads, see
# bench/README.md); the faster is compared
for th in 1 2; do
  echo "PyTorch (f32, the same crops, set_num_threads($th)):"
  /usr/bin/python3 bench/latents_torch.py "$dir/vae" 384 $th "${pairs[@]:0:3}" | tee "$out/torch$th.json"
done
/usr/bin/python3 - "$out/kernel.json" "$out/cli.json" "$out/torch1.json" "$out/torch2.json" <<'PY'
import json, sys
k, c, t1, t2 = (json.load(open(p)) for p in sys.argv[1:5])
t = t1 if t1["encode_s"] < t2["encode_s"] else t2
print(f"encoder: {k['encoder_tflop']:.3f} TFLOP per 384 px crop, {k['encode_s']:.2f} s = {k['encoder_gflops']:.0f} GFLOP/s "
      f"= {k['of_sgemm']:.2f} of sgemm ({k['sgemm_gflops']:.0f} GFLOP/s, {k['threads']} threads)")
print(f"encode-latents: {c['encoded']} images in {c['seconds']:.1f} s = {c['encoded'] / c['seconds']:.3f} images/s "
      f"(encoder {c['images_per_second']:.3f}/s; decode, crop and store {100 * (1 - c['encode_seconds'] / c['seconds']):.1f} % of the time)")
print(f"PyTorch {t['torch']} ({t['threads']} threads): {t['encode_s']:.2f} s per image (best; mean {t['encode_s_mean']:.2f}) "
      f"-> jf's encoder {t['encode_s'] / k['encode_s']:.2f}x PyTorch's; posterior means agree to {t['mean_max_rel_err']:.1e} (max rel.)")
PY
