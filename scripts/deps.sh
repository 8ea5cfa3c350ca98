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
# slurm-wlm and munge: a real single-node Slurm cluster for the job-array tests (started by the test).
# python3-dev builds the Python binding (python/), tested with python3-torch's DataLoader; chromium
# (headless) renders `jf report`'s HTML in the report test.
test_pkgs=(clang libclang-rt-14-dev zstd sqlite3 tar python3 python3-numpy python3-pil python3-scipy slurm-wlm munge
           python3-dev python3-torch chromium)

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
# Tests also use node with the npm packages of tests/reference/package.json (parquet-wasm and
# hyparquet write and read the parquet file of a million rows made at test time). Any node will
# do: Debian's nodejs and npm are installed only when there is none.
if [ "${1:-build}" = test ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
here=$(cd "$(dirname "$0")/.." && pwd)
npm_packages() {
  [ "${1:-build}" = test ] || return 0
  [ -f "$here/tests/reference/node_modules/.package-lock.json" ] && return 0
  (cd "$here/tests/reference" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) ||
    echo "deps.sh: npm packages of tests/reference not installed (no registry?): parquet.million_rows will be skipped" >&2
}
if [ ${#missing[@]} -eq 0 ]; then
  npm_packages "${1:-build}"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_packages "${1:-build}"
