#!/usr/bin/env bash
# The Python binding's reading rate: a torch DataLoader with 2 workers over jf.Mix (one epoch of a
# one-source mix) and over jf.Dataset (map-style), against WebDataset-style reading (tarfile + PIL)
# of the same samples exported with `jf shard export`, in the same run. Images: photo-like JPEGs,
# 640-832 x 480-608. usage: bench/bench_python.sh [N_IMAGES] (default 2000)
set -eu
cd "$(dirname "$0")/.."
n=${1:-2000}
out=bench/out/python
rm -rf "$out/ds" "$out/tars"; mkdir -p "$out"
[ -f "$out/data/bench/00000.tar" ] || build/bench/bench_ingest_data "$n" "$out/data" > "$out/limit.json"
build/cli/jf ingest "$out/ds" "$out/data/bench/00000.tar" --quiet
mkdir -p "$out/tars"
build/cli/jf shard export "$out/ds" "$out/tars/%05d.tar" --max-records $(( (n + 7) / 8 )) > /dev/null
r=$(/usr/bin/python3 bench/python_loader.py build "$out/ds" "$out/tars/*.tar" "$n")
lim=$(/usr/bin/python3 -c "import json; print(json.load(open('$out/limit.json'))['decode_limit_ips'])")
echo "$r" | LIMIT=$lim /usr/bin/python3 -c '
import json, os, sys
r = json.load(sys.stdin)
print("DataLoader, 2 workers, batch 16, images decoded to HWC uint8 numpy (samples: %s)" % r["samples"])
print("%-48s %10s %8s" % ("reader", "samples/s", "ratio"))
print("%-48s %10.1f %7.2fx" % ("jf.Mix (IterableDataset, one epoch)", r["jf_mix"], r["jf_mix"] / r["tar_pil"]))
print("%-48s %10.1f %7.2fx" % ("jf.Dataset (map-style, ds[i])", r["jf_dataset"], r["jf_dataset"] / r["tar_pil"]))
print("%-48s %10.1f %8s" % ("  tarfile + PIL over the exported tars", r["tar_pil"], ""))
lim = 2 * float(os.environ["LIMIT"])
print("%-48s %10.1f %7.2fx" % ("  limit: libjpeg-turbo decode alone, 2 cores", lim, r["jf_mix"] / lim))
print("one process, no DataLoader:")
print("%-48s %10.1f %7.2fx" % ("jf.Mix iterated in-process", r["jf_mix_1"], r["jf_mix_1"] / r["tar_pil_1"]))
print("%-48s %10.1f %8s" % ("  tarfile + PIL in-process", r["tar_pil_1"], ""))
print("%-48s %10.1f %7.2fx" % ("  limit: libjpeg-turbo decode alone, 1 core", lim / 2, r["jf_mix_1"] / (lim / 2)))
print("(ratios: vs tarfile + PIL; on the limit lines, jf.Mix vs the limit)")
'
