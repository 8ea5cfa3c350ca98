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
expect 9 "no dataset at the URL" "$jf" shard ls "$base/ok/nothing"
expect 2 "writing to a URL is refused" "$jf" ingest "$u" "$work/demo/input/text/corpus.jsonl"
[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "all remote checks passed"
