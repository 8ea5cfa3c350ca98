#!/usr/bin/env bash
# Datasets read over HTTP(S) in place: ls, stats, cat, verify and mix --stream on a URL equal the
# same commands on the folder; the index is downloaded once into the cache; records come by Range
# requests; a server that cuts connections or ignores Range still gives the same bytes; error pages,
# lying lengths and changed bytes are errors naming the URL. usage: remote.sh BUILD_DIR
. "$(dirname "$0")/cli_lib.sh"
export JF_CACHE_DIR="$work/cache"
$jf demo --dir "$work/demo" --data-only --quiet > /dev/null 2>&1 || bad "demo --data-only"
ds="$work/demo/dataset"
/usr/bin/python3 "$src/tests/ds_server.py" "$work/demo" "$work/port" "$work/log" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"

same() { # same NAME CMD... : the command on the URL and on the folder print the same (URL → folder)
  local name=$1 url=$2; shift 2
  "$jf" "$@" > "$work/a" 2> "$work/ea"; local ra=$?
  local args=(); for a in "$@"; do args+=("${a//$url/$ds}"); done
  "$jf" "${args[@]}" > "$work/b" 2> "$work/eb"; local rb=$?
  sed -i "s#$url#DS#g" "$work/a"; sed -i "s#$ds#DS#g" "$work/b"
  if [ $ra = 0 ] && [ $ra = $rb ] && cmp -s "$work/a" "$work/b"; then ok "$name"; else
    bad "$name (exit $ra vs $rb)"; diff "$work/a" "$work/b" | head -5; head -3 "$work/ea"; fi
}
u="$base/ok/dataset"
same "ls over HTTP equals ls of the folder" "$u" shard ls "$u"
same "stats --json" "$u" shard stats "$u" --json
keys=$(sqlite3 "$ds/index.sqlite" "select key from samples order by id" | head -60 | tr '\n' ' ')
same "cat --json of 60 samples" "$u" shard cat "$u" $keys --json
same "an image's bytes" "$u" shard cat "$u" laion/000000001 --field jpg
same "mix --stream --records for two ranks" "$u" shard mix "$u" "$work/demo/mix.json" --stream --records --rank 1 --world 2 --steps 12
expect 0 "verify over HTTP" "$jf" shard verify "$u" --json
grep -q '"records":102,"index_rows":102,"errors":0' "$work/out" && ok "every record read and checked" || bad "verify counts: $(head -c 200 "$work/out")"
n=$(grep -c "ok dataset/index.sqlite None 200" "$work/log")
[ "$n" = 1 ] && ok "the index downloaded once for all those commands" || bad "index downloaded $n times"
n=$(grep -c "^ok dataset/shards/" "$work/log")
[ "$n" -le 30 ] && ok "records fetched in $n range requests (coalesced by block)" || bad "$n range requests"

# a changed index on the server is fetched again
sqlite3 "$ds/index.sqlite" "insert into runs(command) values('touch')"
expect 0 "stats after the server's index changed" "$jf" shard stats "$u"
n=$(grep -c "ok dataset/index.sqlite None 200" "$work/log")
[ "$n" = 2 ] && ok "a changed index is downloaded again" || bad "index downloads: $n"

# misbehaving servers
same "connections cut mid-answer: the same bytes" "$base/cut/dataset" shard cat "$base/cut/dataset" $keys --json
grep -q "cut" "$work/log" && ok "(the server did cut answers)" || bad "no cut answers happened"
expect 0 "verify through cut connections" "$jf" shard verify "$base/cut/dataset"
same "Range ignored: the same bytes" "$base/norange/dataset" shard cat "$base/norange/dataset" $keys --json
expect 6 "an HTML error page instead of the index" "$jf" shard stats "$base/html/dataset"
grep -q "not a jf index" "$work/err" && grep -q "$base/html/dataset/index.sqlite" "$work/err" && ok "said, with the URL" || bad "html index: $(cat "$work/err")"
expect 1 "an HTML error page instead of record files" "$jf" shard verify "$base/htmljfr/dataset"
cat "$work/out" "$work/err" | grep -q "HTML page" && ok "said, with the URL" || bad "html jfr: $(head -3 "$work/out")"
expect 1 "lengths that lie" "$jf" shard verify "$base/lie/dataset"
cat "$work/out" "$work/err" | grep -q "error: shards/00000001.jfr" && ok "each file's damage named" || bad "lie: $(head -3 "$work/out")"
expect 1 "bytes changed in transit" "$jf" shard verify "$base/flip/dataset"
cat "$work/out" "$work/err" | grep -q "$base/flip/dataset/shards/00000001.jfr" && ok "named with its URL" || bad "flip: $(head -3 "$work/out")"
expect 0 "verify with the server's folder listing" "$jf" shard verify "$u" --json
grep -q '"warnings":0,"partial_files":0,"folder_listed":true' "$work/out" && ok "the listing was compared with the index" ||
  bad "listing: $(tail -1 "$work/out")"
expect 1 "a record file the index lacks, in the server's listing" "$jf" shard verify "$base/stray/dataset" --json
grep -q '"file":"shards/00009999.jfr","offset":-1,"message":"record file not in the index' "$work/out" &&
  ok "named, as for a local folder" || bad "stray: $(head -3 "$work/out")"
expect 0 "a server without folder listings (403)" "$jf" shard verify "$base/nolist/dataset" --json
grep -q '"severity":"warning","file":"shards/".*gives no listing.*HTTP 403' "$work/out" &&
  grep -q '"errors":0,"warnings":1,"partial_files":0,"folder_listed":false' "$work/out" &&
  ok "a warning says stray files were not looked for" || bad "nolist: $(head -3 "$work/out")"

# HTTPS: a server with its own CA, named by CURL_CA_BUNDLE (or SSL_CERT_FILE) as for the curl tool
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1; then
  mkdir -p "$work/demo/img"
  "$jf" shard cat "$ds" laion/000000001 --field jpg > "$work/demo/img/a.jpg"
  /usr/bin/python3 "$src/tests/ds_server.py" "$work/demo" "$work/tport" "$work/tlog" "$work/cert.pem" "$work/key.pem" &
  tsrv=$!
  trap 'kill $srv $tsrv 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 50); do [ -s "$work/tport" ] && break; sleep 0.1; done
  tu="https://127.0.0.1:$(cat "$work/tport")/ok/dataset"
  expect 3 "HTTPS with an unknown CA is refused" "$jf" shard stats "$tu"
  grep -qi "certificate" "$work/err" && ok "said: certificate" || bad "tls: $(cat "$work/err")"
  export CURL_CA_BUNDLE="$work/cert.pem"
  same "ls over HTTPS equals ls of the folder" "$tu" shard ls "$tu"
  expect 0 "verify over HTTPS, with the listing" "$jf" shard verify "$tu" --json
  grep -q '"records":102,"index_rows":102,"errors":0,"warnings":0,"partial_files":0,"folder_listed":true' "$work/out" &&
    ok "every record read and checked over HTTPS" || bad "https verify: $(tail -1 "$work/out")"
  printf 'url\nhttps://127.0.0.1:%s/ok/img/a.jpg\n' "$(cat "$work/tport")" > "$work/urls.csv"
  expect 0 "ingest downloads over HTTPS with the same CA" "$jf" ingest "$work/dl" "$work/urls.csv" --json
  [ "$(sqlite3 "$work/dl/index.sqlite" "select count(*) from samples")" = 1 ] && ok "the image stored" ||
    bad "https ingest: $(tail -2 "$work/out") $(tail -2 "$work/err")"
  unset CURL_CA_BUNDLE
  SSL_CERT_FILE="$work/cert.pem" "$jf" shard stats "$tu" > /dev/null 2>&1 && ok "SSL_CERT_FILE names the CA too" || bad "SSL_CERT_FILE ignored"
else
  echo "skip: openssl cannot make a test certificate here"
fi
expect 9 "no dataset at the URL" "$jf" shard ls "$base/ok/nothing"
expect 2 "writing to a URL is refused" "$jf" ingest "$u" "$work/demo/input/text/corpus.jsonl"
[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "all remote checks passed"
