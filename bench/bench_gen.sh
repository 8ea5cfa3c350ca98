#!/usr/bin/env bash
# The generation path at JanusFlow-1.3B size with the SDXL-VAE's shapes (random weights), jf
# against the PyTorch CPU reference (tests/reference/janus_gen_ref.py, f32, the official demo's
# arithmetic: both CFG rows recomputed whole at every step) on the same checkpoint and noise:
# seconds per guided Euler step split into encoder / LLM / decoder, batches of 1 and 2, the VAE
# decode at 384², peak RSS, FLOP rates against the machine's sgemm, and the agreement of the first
# step's velocity and of the decoded image.
# Usage: bench/bench_gen.sh [BUILD_DIR] [steps]   (writes 4.1 GB + 335 MB to $JF_BENCH_DIR)
set -euo pipefail
build=${1:-build}
steps=${2:-3}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_model}
ref="$(dirname "$0")/../tests/reference/janus_gen_ref.py"
mkdir -p "$dir/gen"
[ -f "$dir/model/model.safetensors" ] || "$build/cli/jf" model random "$dir/model" --full
[ -f "$dir/vae/diffusion_pytorch_model.safetensors" ] || "$build/cli/jf" model random "$dir/vae" --vae --full
echo "jf ($steps steps per batch):"
"$build/bench/bench_gen" "$dir/model" "$dir/vae" "$dir/gen" "$steps" | tee "$dir/gen/gen.json"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (f32, same weights and noise):"
/usr/bin/python3 "$ref" bench "$dir/model" "$dir/vae" "$dir/gen" | tee "$dir/gen/torch.json"
/usr/bin/python3 - "$dir/gen/gen.json" "$dir/gen/torch.json" <<'PY'
import json, sys
j, t = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'':34}{'jf':>10}{'PyTorch':>10}{'jf faster':>10}")
print(f"{'guided step, 1 image (s)':34}{j['step_s_batch1']:10.2f}{t['step_s']:10.2f}{t['step_s'] / j['step_s_batch1']:9.2f}x")
print(f"{'VAE decode 48->384 (s)':34}{j['vae_decode_s']:10.2f}{t['vae_decode_s']:10.2f}{t['vae_decode_s'] / j['vae_decode_s']:9.2f}x")
print(f"step split (s): encoder {j['encoder_s']:.2f}, LLM {j['llm_s']:.2f}, decoder {j['decoder_s']:.2f}; "
      f"prompt keys/values once {j['prompt_kv_s']:.2f}")
print(f"step {j['step_tflop']:.2f} TFLOP: {j['step_gflops']:.0f} GFLOP/s = {j['step_gflops'] / j['sgemm_gflops']:.2f} of sgemm "
      f"({j['sgemm_gflops']:.0f} GFLOP/s, {j['threads']} threads); LLM part {j['llm_gflops'] / j['sgemm_gflops']:.2f}; "
      f"batch 2: {j['step_gflops_batch2'] / j['sgemm_gflops']:.2f} ({j['step_s_batch2']:.2f} s per step for 2 images)")
print(f"VAE decode {j['vae_tflop']:.2f} TFLOP: {j['vae_gflops']:.0f} GFLOP/s = {j['vae_gflops'] / j['sgemm_gflops']:.2f} of sgemm")
print(f"one image, 30 steps: {j['image_s_30_steps']:.0f} s; peak RSS {j['peak_rss_gb']:.2f} GB "
      f"(checkpoint 4.09 GB + VAE 0.33 GB + {j['peak_rss_gb'] - 4.09 - 0.33:.2f} GB)")
print(f"first step's guided velocity: max rel. error {t['v0_rel_err']:.1e}; decoded image: {t['image_rel_err']:.1e}")
PY
