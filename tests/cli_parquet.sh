#!/bin/bash
# jf ingest of parquet inputs: a Hugging Face-style file with the images inside, a LAION-style URL
# list, img2dataset's side files, and the column options on parquet and CSV.
source "$(dirname "$0")/cli_lib.sh"
cd "$work"
pq="$src/tests/data/parquet"

# images inside the file: 4 stored, a row without bytes and one with damaged bytes reported
expect 1 "ingest a parquet with image bytes" "$jf" ingest ds "$pq/hf_images.parquet" --json
if tail -1 out | grep -q '"ok":4' && tail -1 out | grep -q '"missing_image":1' && tail -1 out | grep -q '"decode_error":1'; then
  ok "4 images stored, 1 without bytes and 1 damaged reported"; else bad "hf parquet outcomes"; tail -1 out; fi
"$jf" shard cat ds hf_images/000000001 > cat.txt 2>&1
if grep -q "aesthetic = 6.25" cat.txt && grep -q ".png (image" cat.txt && grep -q "image_path = img_1.png" cat.txt \
   && grep -q "a red rectangle" cat.txt; then ok "caption, score and path as columns; a PNG stored as png"; else bad "hf sample"; cat cat.txt; fi
expect 1 "rerun: stored rows skipped, failures retried" "$jf" ingest ds "$pq/hf_images.parquet" --json
tail -1 out | grep -q '"already_present":4' && ok "rerun skips the stored rows" || { bad "rerun"; tail -1 out; }

# scores from a parquet file into a column
expect 1 "filter scores from parquet (a null and an unknown key: exit 1)" "$jf" filter scores ds --column clip_l14 "$pq/scores.parquet"
v=$(sqlite3 ds/index.sqlite "select group_concat(key || '=' || clip_l14, ' ') from samples where clip_l14 is not null order by key")
[ "$v" = "hf_images/000000000=0.25 hf_images/000000001=0.5 hf_images/000000003=0.75" ] && ok "three scores set (a null and an unknown key reported)" \
  || { bad "scores: $v"; cat out; }
cat out err | grep -q "3 samples scored, 1 keys not in the dataset, 1 unreadable lines (first: line 3)" && ok "the unknown key and the null counted" || { bad "scores report"; cat out err; }

# a LAION-style URL list: every row reaches the downloader (a closed port here), the row without a
# URL is a bad record
expect 1 "ingest a parquet URL list" "$jf" ingest ds2 "$pq/laion_urls.parquet" --timeout 2 --retries 0 --json
if tail -1 out | grep -q '"network_error":4' && tail -1 out | grep -q '"bad_record":1'; then
  ok "4 downloads attempted, the row without a URL reported"; else bad "URL parquet"; tail -1 out; fi
grep -q 'http://127.0.0.1:9/img0.jpg' out && ok "the URL read from the file" || bad "URL text"
expect 1 "--url-col naming no column" "$jf" ingest ds3 "$pq/laion_urls.parquet" --url-col nope
grep -q "no column nope (--url-col)" err && ok "the missing column named" || { bad "url-col message"; cat err; }
expect 1 "--caption-col naming no column" "$jf" ingest ds3 "$pq/laion_urls.parquet" --caption-col nope
grep -q "no column nope (--caption-col)" err && ok "the missing caption column named" || { bad "caption-col message"; cat err; }

# img2dataset's NNNNN.parquet beside NNNNN.tar is a side file; alone it is an input
mkdir side && cp "$pq/hf_images.parquet" side/00000.parquet
expect 1 "a lone 00000.parquet is an input" "$jf" ingest ds4 side/00000.parquet --json
tail -1 out | grep -q '"side_files":0' && tail -1 out | grep -q '"ok":4' && ok "read as an input" || { bad "lone parquet"; tail -1 out; }
: > side/00000.tar
expect 1 "00000.parquet beside 00000.tar" "$jf" ingest ds5 side/00000.parquet --json
tail -1 out | grep -q '"side_files":1' && ok "counted as img2dataset's side file" || { bad "side file"; tail -1 out; }

# damage: a parquet cut short is an input not read, named
head -c 1500 "$pq/hf_images.parquet" > cut.parquet
expect 1 "a cut parquet" "$jf" ingest ds6 cut.parquet
grep -q "cut.parquet" err && grep -qi "PAR1\|cut" err && ok "the cut file named" || { bad "cut parquet message"; cat err; }

# the column options on CSV too
printf 'link,alt,score,junk\nhttp://127.0.0.1:9/a.jpg,a caption,0.5,x\n' > list.csv
expect 1 "CSV with --url-col/--caption-col/--keep-columns" "$jf" ingest ds7 list.csv --url-col link --caption-col alt --keep-columns score --timeout 2 --retries 0 --json
tail -1 out | grep -q '"network_error":1' && ok "the renamed URL column downloaded" || { bad "csv url-col"; tail -1 out; }

# a caption column with bytes that are not UTF-8: kept with U+FFFD, said with the column and row group
/usr/bin/python3 -c "
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.index(b'\xc3\xa9t\xc3\xa9'); d[i + 1] = 0x28  # inside a snappy literal: still a valid page
open('bad_utf8.parquet', 'wb').write(d)" "$pq/hf_images.parquet"
expect 1 "a caption that is not UTF-8" "$jf" ingest ds8 bad_utf8.parquet
grep -q "column text, row group 0: 1 value is not valid UTF-8 (the first at row 2)" err && grep -q "caption_repaired *1" out \
  && ok "said with column, row group and row; counted as repaired" || { bad "utf-8 message"; cat out err; }
"$jf" shard cat ds8 bad_utf8/000000002 | grep -q "$(printf '\xef\xbf\xbd')" && ok "stored with U+FFFD" || bad "repaired caption"
grep -q "missing images under column image.bytes *1" out && ok "the row without image bytes counted under its column" || { bad "missing prefix"; cat out; }

# list columns are not kept, and said; --keep-columns names that are not in the file are said
expect 1 "a parquet with a list column" "$jf" ingest ds9 "$pq/lists.parquet" --keep-columns tags,score,nope --timeout 2 --retries 0
grep -q "columns not kept: tags (lists; jf keeps scalar columns)" err && ok "the list column named" || { bad "list message"; cat err; }
grep -q "\-\-keep-columns: no column nope in this file" err && ok "the unknown --keep-columns name said" || { bad "keep message"; cat err; }

exit $((fails > 0))
