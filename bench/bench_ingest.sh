#!/usr/bin/env bash
# jf ingest throughput, side by side in one run with Python + PIL doing the same job and with
# djpeg decoding the same files (the decode limit, plus an in-process libjpeg-turbo figure
# without djpeg's process start-up). usage: bench/bench_ingest.sh [N_IMAGES] (default 400)
set -eu
cd "$(dirname "$0")/.."
n=${1:-400}
jf=build/cli/jf
out=bench/out/ingest
rm -rf "$out"; mkdir -p "$out"
limit=$(build/bench/bench_ingest_data "$n" "$out/data")
tar="$out/data/bench/00000.tar"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
ips() { echo "scale=1; $n / $1" | bc -l; }

t_keep1=$(secs $jf ingest "$out/k1c" "$tar" --threads 1 --quiet)
t_keep2=$(secs $jf ingest "$out/k2" "$tar" --threads 2 --quiet)
t_rs1=$(secs $jf ingest "$out/r1" "$tar" --threads 1 --quiet --resize shortest-side --size 256)
t_rs2=$(secs $jf ingest "$out/r2" "$tar" --threads 2 --quiet --resize shortest-side --size 256)
pil_keep=$(/usr/bin/python3 bench/ingest_pil.py keep "$tar" "$out/pil_keep.tar")
pil_rs=$(/usr/bin/python3 bench/ingest_pil.py resize "$tar" "$out/pil_resize.tar")
t_djpeg=$(secs bash -c "for f in $out/data/jpgs/*.jpg; do djpeg \"\$f\" > /dev/null; done")
 # downloads from a local nginx on 127.0.0.1 serving the same JPEGs (a Python server would be the
 # bottleneck of both clients)
port=$((18000 + RANDOM % 1000))
mkdir -p "$out/nginx/logs"
cat > "$out/nginx/nginx.conf" <<NGINX
daemon off; worker_processes 1; pid $PWD/$out/nginx/nginx.pid; error_log $PWD/$out/nginx/logs/error.log;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$port; location /img/ { alias $PWD/$out/data/jpgs/; } } }
NGINX
/usr/sbin/nginx -c "$PWD/$out/nginx/nginx.conf" -p "$PWD/$out/nginx" &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
sleep 0.5
{ echo "url,caption"; for f in $(ls "$out/data/jpgs"); do echo "http://127.0.0.1:$port/img/$f,a caption"; done; } > "$out/urls.csv"
t_dl=$(secs $jf ingest "$out/dl" "$out/urls.csv" --threads 2 --quiet)
py_dl=$(/usr/bin/python3 bench/download_py.py "$out/urls.csv" "$out/py_dl.tar")
lim=$(echo "$limit" | python3 -c "import json,sys; print(json.load(sys.stdin)['decode_limit_ips'])")
mb=$(echo "$limit" | python3 -c "import json,sys; d=json.load(sys.stdin); print(round(d['bytes']/d['images']/1024))")
printf 'jf ingest benchmark: %d JPEGs (avg %d KB, 640-832 x 480-608) in an img2dataset-style tar\n' "$n" "$mb"
printf '%-52s %10s %12s\n' "job" "images/s" "ratio"
k1=$(ips "$t_keep1"); k2=$(ips "$t_keep2"); r1=$(ips "$t_rs1"); r2=$(ips "$t_rs2"); dj=$(ips "$t_djpeg")
printf '%-52s %10s %11.2fx\n' "jf ingest, keep bytes (decode-check), 1 thread" "$k1" "$(echo "$k1 / $pil_keep" | bc -l)"
printf '%-52s %10s %11.2fx\n' "jf ingest, keep bytes, 2 threads" "$k2" "$(echo "$k2 / $pil_keep" | bc -l)"
printf '%-52s %10s %12s\n' "  Python + PIL, keep (full decode), 1 process" "$pil_keep" ""
printf '%-52s %10s %11.2fx\n' "jf ingest, resize shortest side 256, 1 thread" "$r1" "$(echo "$r1 / $pil_rs" | bc -l)"
printf '%-52s %10s %11.2fx\n' "jf ingest, resize shortest side 256, 2 threads" "$r2" "$(echo "$r2 / $pil_rs" | bc -l)"
printf '%-52s %10s %12s\n' "  Python + PIL, resize + re-encode q95, 1 process" "$pil_rs" ""
printf '%-52s %10s %11.2fx\n' "  limit: djpeg of the same files (one process each)" "$dj" "$(echo "$k1 / $dj" | bc -l)"
printf '%-52s %10s %11.2fx\n' "  limit: libjpeg-turbo full decode in-process, 1 core" "$lim" "$(echo "$k1 / $lim" | bc -l)"
dl=$(ips "$t_dl")
printf '%-52s %10s %11.2fx\n' "jf ingest of a URL list from nginx on 127.0.0.1 (2 thr)" "$dl" "$(echo "$dl / $py_dl" | bc -l)"
printf '%-52s %10s %12s\n' "  Python: 64 urllib threads + PIL decode" "$py_dl" ""
echo "(ratios: jf vs the Python job; for the limits, jf keep 1 thread vs the limit)"
