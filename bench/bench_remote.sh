#!/usr/bin/env bash
# Reading a dataset over HTTP in place: `jf shard verify URL` (every record read by Range requests
# and checked) against the same on the local folder, and against curl fetching the same record
# files whole from the same server (the transfer limit), in one run. nginx on 127.0.0.1 serves the
# folder. usage: bench/bench_remote.sh [N_IMAGES] (default 3000)
set -eu
cd "$(dirname "$0")/.."
n=${1:-3000}
out=bench/out/remote
mkdir -p "$out"
[ -f "$out/data/bench/00000.tar" ] || build/bench/bench_ingest_data "$n" "$out/data" > /dev/null
[ -f "$out/ds/index.sqlite" ] || build/cli/jf ingest "$out/ds" "$out/data/bench/00000.tar" --quiet
port=$((19000 + RANDOM % 1000))
mkdir -p "$out/nginx/logs"
cat > "$out/nginx/nginx.conf" <<NGINX
daemon off; worker_processes 2; pid $PWD/$out/nginx/nginx.pid; error_log $PWD/$out/nginx/logs/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; server { listen 127.0.0.1:$port; location /ds/ { alias $PWD/$out/ds/; } } }
NGINX
/usr/sbin/nginx -c "$PWD/$out/nginx/nginx.conf" -p "$PWD/$out/nginx" &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
sleep 0.5
export JF_CACHE_DIR="$PWD/$out/cache"
rm -rf "$JF_CACHE_DIR"
bytes=$(du -cb "$out"/ds/shards/*.jfr | tail -1 | cut -f1)
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
url="http://127.0.0.1:$port/ds"
build/cli/jf shard stats "$url" > /dev/null   # the index into the cache, once
t_remote=$(secs build/cli/jf shard verify "$url")
t_local=$(secs build/cli/jf shard verify "$out/ds")
t_curl=$(secs bash -c "for f in $out/ds/shards/*.jfr; do curl -s -o /dev/null $url/shards/\$(basename \$f); done")
mbs() { echo "scale=1; $bytes / 1048576 / $1" | bc -l; }
printf 'remote read benchmark: %d records, %.1f MB of record files, nginx on 127.0.0.1\n' "$n" "$(echo "$bytes / 1048576" | bc -l)"
printf '%-56s %8s %8s\n' "job" "MB/s" "ratio"
r=$(mbs "$t_remote"); l=$(mbs "$t_local"); c=$(mbs "$t_curl")
printf '%-56s %8s %7.2fx\n' "jf shard verify over HTTP (Range requests, all checks)" "$r" "$(echo "$r / $l" | bc -l)"
printf '%-56s %8s %8s\n' "  jf shard verify of the local folder" "$l" ""
printf '%-56s %8s %7.2fx\n' "  curl: the record files fetched whole, no checks" "$c" "$(echo "$r / $c" | bc -l)"
echo "(ratios: remote verify vs local verify, and vs curl's transfer of the same bytes)"
