#!/usr/bin/env bash
# The resize stage alone, one core: jf's resampler against Pillow's Image.resize on the same
# pixels (web-image sizes to shortest side 256; Lanczos, bicubic, bilinear), with a byte-for-byte
# comparison of every output. Usage: bench/bench_resize.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/bench/bench_resize" "$dir" > "$dir/jf.json"
/usr/bin/python3 - "$dir" <<'PY'
import json, sys, time
import numpy as np
from PIL import Image
d = sys.argv[1]
rows = json.load(open(f"{d}/jf.json"))
filt = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
print(f"Pillow {Image.__version__}; one core each")
print(f"{'image':>11} {'filter':>9} {'jf ms':>8} {'PIL ms':>8} {'jf faster':>9}  bytes")
ratios = []
for r in rows:
    w, h, ow, oh = r["w"], r["h"], r["ow"], r["oh"]
    a = np.fromfile(f"{d}/in_{w}_{h}.rgb", dtype=np.uint8).reshape(h, w, 3)
    im = Image.fromarray(a)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0 or reps < 5:
        out = im.resize((ow, oh), filt[r["filter"]])
        reps += 1
    pil_ms = (time.perf_counter() - t0) / reps * 1e3
    same = np.array_equal(np.asarray(out), np.fromfile(f"{d}/jf_{w}_{h}_{r['filter']}.rgb", dtype=np.uint8).reshape(oh, ow, 3))
    ratios.append(pil_ms / r["jf_ms"])
    print(f"{w:>5}x{h:<5} {r['filter']:>9} {r['jf_ms']:8.2f} {pil_ms:8.2f} {pil_ms / r['jf_ms']:8.2f}x  {'identical' if same else 'DIFFER'}")
print(f"geometric mean: jf {np.exp(np.mean(np.log(ratios))):.2f}x Pillow")
PY
