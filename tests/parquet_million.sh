#!/usr/bin/env bash
# A 1,000,000-row parquet file written now by parquet-wasm (arrow-rs; ZSTD, v2 pages, dictionary
# and delta encodings, many pages per chunk, 7 row groups), read by parquet-wasm and hyparquet
# (tests/reference/parquet_million.mjs, which checks the two agree), then by jf: every column's
# digest must be the same. Needs node and the packages of tests/reference/package.json
# (scripts/deps.sh test installs them); skipped (77) with the reason when they are missing.
# usage: parquet_million.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed (scripts/deps.sh test installs it)"; exit 77
fi
if ! (cd "$here/reference" && node -e 'for (const p of ["parquet-wasm/node", "hyparquet", "hyparquet-compressors", "apache-arrow"]) require.resolve(p)') 2>/dev/null; then
  echo "SKIP: the npm packages of tests/reference/package.json are not installed (scripts/deps.sh test: npm ci in tests/reference)"; exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
node "$here/reference/parquet_million.mjs" "$dir/m.parquet" "$dir/expected.txt"
JF_PQ_MILLION="$dir/m.parquet" JF_PQ_MILLION_EXPECTED="$dir/expected.txt" "$build/tests/test_parquet" million
