#!/usr/bin/env bash
# The understanding path at JanusFlow-1.3B size, jf against the PyTorch CPU reference
# (tests/reference/janus_ref.py, f32) on the same random checkpoint, image and prompt:
# SigLIP, prefill, cached greedy decoding; and the logits' agreement. PyTorch runs with one
# thread and with jf's thread count; the table shows its faster run for each stage.
# Usage: bench/bench_model.sh [BUILD_DIR] [new_tokens]   (writes a 4.1 GB model to $JF_BENCH_DIR)
set -euo pipefail
build=${1:-build}
steps=${2:-16}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_model}
ref="$(dirname "$0")/../tests/reference/janus_ref.py"
mkdir -p "$dir/out"
[ -f "$dir/model/model.safetensors" ] || "$build/cli/jf" model random "$dir/model" --full
"$build/cli/jf" model inspect "$dir/model" | sed -n '/weights/,$p'
echo "jf:"
"$build/bench/bench_model" "$dir/model" "$dir/out" "$steps" | tee "$dir/jf.json"
threads=$(/usr/bin/python3 -c "import json; print(json.load(open('$dir/jf.json'))['threads'])")
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (f32, same weights), 1 and $threads threads:"
/usr/bin/python3 "$ref" bench "$dir/model" "$dir/out" 1 | tee "$dir/torch1.json"
[ "$threads" = 1 ] && cp "$dir/torch1.json" "$dir/torchN.json" || /usr/bin/python3 "$ref" bench "$dir/model" "$dir/out" "$threads" | tee "$dir/torchN.json"
/usr/bin/python3 - "$dir/jf.json" "$dir/torch1.json" "$dir/torchN.json" <<'PY'
import json, sys
j, t1, tn = (json.load(open(p)) for p in sys.argv[1:4])
best = lambda k, low: (min if low else max)(t1[k], tn[k])
print(f"{'':26}{'jf':>10}{'PyTorch':>10}{'jf faster':>10}")
for k, label in [("siglip_s", "SigLIP 576 tok (s)"), ("prefill_s", f"LLM prefill {j['prompt_tokens']} tok (s)")]:
    print(f"{label:26}{j[k]:10.2f}{best(k, True):10.2f}{best(k, True) / j[k]:9.2f}x")
print(f"{'decode (tokens/s)':26}{j['decode_tok_s']:10.2f}{best('decode_tok_s', False):10.2f}"
      f"{j['decode_tok_s'] / best('decode_tok_s', False):9.2f}x")
# the machine's limits, measured in jf's run with the same threads
print(f"decode bound (weights read per token / read bandwidth {j['read_gb_s']:.1f} GB/s): "
      f"{j['decode_bound_tok_s']:.2f} tokens/s; jf reaches {j['decode_tok_s'] / j['decode_bound_tok_s']:.2f} of it")
print(f"prefill {j['prefill_gflops']:.0f} GFLOP/s = {j['prefill_gflops'] / j['sgemm_gflops']:.2f} of OpenBLAS sgemm "
      f"({j['sgemm_gflops']:.0f} GFLOP/s); peak RSS {j['peak_rss_gb']:.2f} GB "
      f"({j['peak_rss_gb'] / 4.0927:.2f}x the 4.09 GB checkpoint; planned before the run: {j['planned_gb']:.2f} GB)")
print(f"batched decoding, 4 prompts: {j['batch4_decode_tok_s']:.2f} tokens/s in total "
      f"({j['batch4_decode_tok_s'] / j['decode_tok_s']:.2f}x one sequence)")
print(f"SigLIP features max rel. error {t1['features_rel_err']:.1e}; logits max rel. error "
      f"{max(t1['logits_rel_err_max'], tn['logits_rel_err_max']):.1e}; greedy tokens agree: "
      f"{t1['greedy_tokens_agree'] and tn['greedy_tokens_agree']}")
PY
