#!/usr/bin/env bash
# Installs the Debian 12 packages jf needs, only those that are missing (a no-op when all are
# present). Usage: scripts/deps.sh build|test|bench
set -euo pipefail

build_pkgs=(gcc g++ make cmake pkg-config libarchive-dev libsqlite3-dev libjpeg62-turbo-dev libzstd-dev libsnappy-dev libssl-dev
            libxxhash-dev libyajl-dev libpng-dev libwebp-dev libcurl4-openssl-dev
            libcld2-dev libpcre2-dev libutf8proc-dev libopenblas-dev liblapacke-dev)
# Tests add: clang with its sanitizer/libFuzzer runtimes (second build), the zstd, sqlite3 and tar
# command-line tools (baselines and interchange checks), and Python's tarfile as an independent
# WebDataset reader; numpy reads the .npz files jf writes; PIL and scipy compute imagehash's pHash
# on the photo-like set made at test time (tests/reference/phash_photos.py).
test_pkgs=(clang libclang-rt-14-dev zstd sqlite3 tar python3 python3-numpy python3-pil python3-scipy)

# Benchmarks add the baselines they compare against: djpeg, Python with PIL and PyTorch, bc, and nginx as a
# local image server for the download benchmark.
bench_pkgs=(zstd sqlite3 tar libjpeg-turbo-progs python3-pil python3-numpy python3-torch bc nginx-light)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")
[ "${1:-build}" = bench ] && want+=("${bench_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
