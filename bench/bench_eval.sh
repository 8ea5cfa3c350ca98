#!/usr/bin/env bash
# FID at full size, jf against the reference Python stack in the same run:
#  1. the Fréchet distance of two 2048-d statistics: jf's symmetric eigen route (LAPACK) vs
#     pytorch-fid's scipy.linalg.sqrtm route, on the same .npz files (and the two numbers);
#  2. FID-Inception images/s with the same weights (formula weights saved as a PyTorch .pth),
#     jf vs PyTorch CPU with 1 and 2 threads.
# Usage: bench/bench_eval.sh [BUILD_DIR] [images]
set -euo pipefail
build=${1:-build}
n=${2:-32}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_eval}
ref="$(dirname "$0")/../tests/reference"
mkdir -p "$dir"
echo "Fréchet distance, 2048 dimensions (two sets of 5000 random features):"
"$build/bench/bench_eval" frechet "$dir" | tee "$dir/jf_frechet.json"
/usr/bin/python3 - "$dir" <<'PY'
import json, sys, time
import numpy as np, scipy.linalg
d = sys.argv[1]
a, b = np.load(f"{d}/a.npz"), np.load(f"{d}/b.npz")
m1, s1, m2, s2 = a["mu"], a["sigma"], b["mu"], b["sigma"]
t0 = time.time()
covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
fid = ((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)
t = time.time() - t0
j = json.load(open(f"{d}/jf_frechet.json"))
print(f"scipy sqrtm route: {t:.2f} s, FID {fid:.10f}")
print(f"jf {j['seconds']:.2f} s -> {t / j['seconds']:.1f}x faster; relative difference {abs(j['fid'] - fid) / fid:.1e}")
PY
[ -f "$dir/inception.pth" ] || /usr/bin/python3 "$ref/inception_ref.py" pth "$dir/inception.pth"
echo "FID Inception, $n images of 299x299:"
j=$("$build/bench/bench_eval" inception "$dir/inception.pth" "$n")
t1=$(/usr/bin/python3 "$ref/inception_ref.py" bench "$dir/inception.pth" "$n" 1)
t2=$(/usr/bin/python3 "$ref/inception_ref.py" bench "$dir/inception.pth" "$n" 2)
/usr/bin/python3 - "$j" "$t1" "$t2" <<'PY'
import json, sys
j, t1, t2 = (json.loads(a) for a in sys.argv[1:4])
best = max(t1["images_per_s"], t2["images_per_s"])
print(f"jf {j['images_per_s']:.2f} images/s ({j['threads']} threads); PyTorch {t1['images_per_s']:.2f} (1 thread), "
      f"{t2['images_per_s']:.2f} (2 threads) -> jf {j['images_per_s'] / best:.2f}x the faster PyTorch run")
PY
echo "CLIP ViT-L/14 vision tower (formula weights at full size, written once to $dir/clip-l14):"
j=$("$build/bench/bench_eval" clip "$dir/clip-l14" 4)
t1=$(/usr/bin/python3 "$ref/clip_ref.py" bench 4 1)
t2=$(/usr/bin/python3 "$ref/clip_ref.py" bench 4 2)
/usr/bin/python3 - "$j" "$t1" "$t2" <<'PY'
import json, sys
j, t1, t2 = (json.loads(a) for a in sys.argv[1:4])
best = max(t1["images_per_s"], t2["images_per_s"])
print(f"jf {j['images_per_s']:.2f} images/s one at a time, {j['images_per_s_batch4']:.2f} in batches of 4, "
      f"{j['texts_per_s']:.1f} captions/s ({j['threads']} threads); PyTorch one at a time "
      f"{t1['images_per_s']:.2f} (1 thread), {t2['images_per_s']:.2f} (2 threads) -> jf {j['images_per_s'] / best:.2f}x "
      f"one at a time, {j['images_per_s_batch4'] / best:.2f}x batched")
PY
