#!/usr/bin/env bash
# jf report: the page has every section, escapes hostile captions, keeps to its size cap, refuses
# bad --eval files with the file and line; and a real headless chromium loads it (DOM sections,
# thumbnails, no script element, no console message: nothing blocked by its CSP) and screenshots it.
# usage: report.sh BUILD_DIR
. "$(dirname "$0")/cli_lib.sh"
py=/usr/bin/python3
$jf demo --dir "$work/demo" --data-only --quiet > /dev/null 2>&1 || bad "demo --data-only"
ds="$work/demo/dataset"

# a source whose captions are hostile HTML
$py - "$work/hostile.tar" <<'PY'
import io, sys, tarfile
from PIL import Image
with tarfile.open(sys.argv[1], "w") as t:
    for i, cap in enumerate(['<script>document.title="pwned"</script> a cat',
                             '<img src=x onerror=alert(1)> & "quotes" \'apos\'',
                             'bad utf-8 \xff\xfe here']):
        b = io.BytesIO()
        Image.new("RGB", (64 + 8 * i, 48), (200, 40 * i, 90)).save(b, "JPEG")
        for name, data in ((f"{i:05d}.jpg", b.getvalue()),
                           (f"{i:05d}.txt", cap.encode("utf-8", "surrogateescape") if i < 2 else b"bad utf-8 \xff\xfe here")):
            ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
$jf ingest "$ds" "$work/hostile.tar" --source hostile --quiet > /dev/null 2>&1 || bad "ingest hostile captions"

# evaluation results as jf eval prints them
printf '%s\n' '{"question_id": 1, "image": "a.jpg", "text": "Is there a cat?", "label": "yes", "category": "random"}' \
  '{"question_id": 2, "image": "a.jpg", "text": "Is there a dog?", "label": "no", "category": "random"}' > "$work/coco_pope_random.json"
printf '%s\n' '{"question_id": 1, "text": "Yes"}' '{"question_id": 2, "text": "Yes, there is."}' > "$work/answers.jsonl"
$jf eval bench pope --data "$work/coco_pope_random.json" --predictions "$work/answers.jsonl" --json > "$work/pope.json" || bad "bench pope"
cat > "$work/fid.json" <<'J'
{"fid":12.5,"kid":0.0123,"kid_std":0.0004,"mode":"clean","weights":"pt_inception-2015-12-05.pth","weights_hash":"abc123<b>","a":{"source":"real/","n":100,"undecodable":0},"b":{"source":"gen/","n":100,"undecodable":1}}
J
printf '%s\n' '{"id":"k1","caption":"<b>x</b>","cosine":0.3,"score":30}' '{"summary":"clipscore","clipscore":30.0,"kind":"torchmetrics","mean_cosine":0.3,"pairs":1,"model":"clip"}' > "$work/clip.jsonl"

expect 0 "report with three kinds of results" $jf report "$ds" --eval "$work/pope.json" --eval "$work/fid.json" --eval "$work/clip.jsonl" \
  --where "source_id = (SELECT id FROM sources WHERE name = 'hostile')" --out "$work/r.html" --json
cp "$work/out" "$work/r.json"
$py - "$work/r.json" "$work/r.html" <<'PY' && ok "report counts and escaping" || bad "report counts and escaping"
import json, sys
r = json.load(open(sys.argv[1])); html = open(sys.argv[2], encoding="utf-8").read()
assert r["sections"] == 7 and r["eval_results"] == 3, r
assert r["thumbnails"] >= 40 and r["histograms"] >= 10, r
assert r["samples"] == 105, r
assert "<script" not in html.lower(), "a script element in the page"
assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in html
assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot; &#39;apos&#39;" in html
assert "bad utf-8 \ufffd\ufffd here" in html
assert "abc123&lt;b&gt;" in html and "0.0123" in html and "12.5000" in html
assert "Content-Security-Policy" in html and "http://" not in html.split("</head>")[0].replace("http-equiv", "")
for sec in ("overview", "evaluation", "ingest", "filters", "columns", "duplicates", "samples"):
    assert f"<section id={sec}>" in html, sec
assert "decode_error" in html and "missing_image" in html  # ingest outcomes per reason
assert "punsafe &lt; 0.5" in html                         # the funnel's rules
PY

# the size cap: thumbnails beyond it are left out, and said
expect 0 "report under a 0.3 MiB cap" $jf report "$ds" --out "$work/small.html" --max-mb 0.3 --thumbs 40 --json
$py -c "
import json, os, sys
r = json.load(open('$work/out'))
assert r['thumbnails_left_out'] > 0, r
assert os.path.getsize('$work/small.html') <= 0.3 * 1048576, os.path.getsize('$work/small.html')
" && ok "size cap keeps the file under it" || bad "size cap"

# subsets and bad input
expect 0 "report of a subset (DATASET/#subset)" $jf report "$ds/#gen_clean" --out "$work/sub.html" --json
grep -q '"samples":32' "$work/out" && ok "subset report counts its samples" || bad "subset report: $(cat "$work/out")"
expect 9 "missing subset" $jf report "$ds#nope" --out "$work/x.html"
expect 3 "missing eval file" $jf report "$ds" --eval "$work/none.json" --out "$work/x.html"
grep -q "none.json" "$work/err" && ok "missing eval file named" || bad "missing eval file not named"
printf '{"fid": 1}\nnot json\n' > "$work/broken.jsonl"
expect 6 "broken eval JSON lines" $jf report "$ds" --eval "$work/broken.jsonl" --out "$work/x.html"
grep -q "broken.jsonl: line 2" "$work/err" && ok "broken eval file named with its line" || bad "broken eval: $(cat "$work/err")"
echo '{"something": "else"}' > "$work/other.json"
expect 6 "eval file without a result" $jf report "$ds" --eval "$work/other.json" --out "$work/x.html"
expect 2 "bad where rule" $jf report "$ds" --where "nonsense((" --out "$work/x.html"
expect 2 "where rule that writes" $jf report "$ds" --where "1); DROP TABLE samples; --" --out "$work/x.html"
[ ! -e "$work/x.html" ] && [ ! -e "$work/x.html.partial" ] && ok "failed reports leave no file" || bad "a failed report left a file"
expect 2 "report without a dataset" $jf report
expect 0 "report --help" $jf report --help

# a real browser
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP browser checks: no chromium (scripts/deps.sh test installs it)"
else
  flags=(--headless=new --disable-gpu --enable-logging=stderr --v=0 --user-data-dir="$work/profile")
  [ "$(id -u)" = 0 ] && flags+=(--no-sandbox)
  timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$work/r.html" > "$work/dom.html" 2> "$work/chromium.log"
  $py - "$work/dom.html" <<'PY' && ok "chromium rendered every section" || bad "chromium DOM"
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.sections = []; self.imgs = 0; self.scripts = 0; self.svgs = 0; self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "id" in a: self.sections.append(a["id"])
        if tag == "img" and a.get("src", "").startswith("data:image/jpeg;base64,"): self.imgs += 1
        if tag == "script": self.scripts += 1
        if tag == "svg": self.svgs += 1
    def handle_data(self, d): self.text.append(d)
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
assert p.sections == ["overview", "evaluation", "ingest", "filters", "columns", "duplicates", "samples"], p.sections
assert p.imgs >= 40 and p.svgs >= 10 and p.scripts == 0, (p.imgs, p.svgs, p.scripts)
text = "".join(p.text)
assert '<script>document.title="pwned"</script> a cat' in text  # shown as text
PY
  if grep -q "CONSOLE" "$work/chromium.log"; then bad "console messages:"; grep CONSOLE "$work/chromium.log" | head -5; else ok "no console messages"; fi
  expect 0 "report --screenshot" $jf report "$ds" --out "$work/s.html" --screenshot "$work/s.png"
  $py -c "
from PIL import Image
im = Image.open('$work/s.png'); assert im.size[0] == 1280 and im.size[1] > 1000, im.size
px = im.convert('RGB').getpixel((20, 20)); assert px[0] < 60 and px[2] < 80, px  # the dark header was drawn
" && ok "screenshot is the rendered page" || bad "screenshot"
fi
[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "all report checks passed"
