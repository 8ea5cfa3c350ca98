#!/usr/bin/env bash
# Parquet reading: rows/s projecting 3 columns (URL, TEXT, similarity) of a generated LAION-like
# file of N rows (default 10M, snappy, 1M-row groups), jf's reader against parquet-wasm (Rust
# arrow-rs in WebAssembly, in node) on the same file and against the same rows as CSV through
# jf's CSV reader. Needs node and `npm install parquet-wasm apache-arrow` in bench/ (or
# NODE_PATH). Usage: bench/bench_parquet.sh [BUILD_DIR] [ROWS]
set -euo pipefail
build=${1:-build}
rows=${2:-10000000}
dir=${JF_BENCH_DIR:-/tmp/jf_bench_parquet}
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir"
[ -f "$dir/laion.parquet" ] && [ "$(cat "$dir/rows" 2>/dev/null)" = "$rows" ] || {
  node --max-old-space-size=16000 "$here/parquet_bench.mjs" write "$dir" "$rows"; echo "$rows" > "$dir/rows"; }
ls -la "$dir"/laion.*
cat "$dir/laion.parquet" "$dir/laion.csv" > /dev/null   # warm the page cache for both
"$build/bench/bench_parquet" "$dir" | tee "$dir/jf.json"
node "$here/parquet_bench.mjs" read "$dir" | tee "$dir/wasm.json"
/usr/bin/python3 - "$dir/jf.json" "$dir/wasm.json" <<'PY'
import json, sys
j, w = (json.load(open(p)) for p in sys.argv[1:3])
print(f"rows {j['rows']:,}: jf parquet {j['parquet_rows_s']:,.0f} rows/s ({j['parquet_s']:.2f} s); "
      f"parquet-wasm {w['rows'] / w['seconds']:,.0f} rows/s ({w['seconds']:.2f} s) -> jf {w['seconds'] / j['parquet_s']:.2f}x; "
      f"the same rows as CSV through jf {j['csv_rows_s']:,.0f} rows/s ({j['csv_s']:.2f} s) -> parquet {j['csv_s'] / j['parquet_s']:.2f}x")
PY
