// A small MMMU in the Hugging Face layout (MMMU/MMMU: one folder per subject, validation-00000-of-00001.parquet
// and dev-00000-of-00001.parquet with the dataset's columns: id, question, options as a Python list
// literal, explanation, image_1..image_7 as {bytes, path} structs, img_type, answer,
// topic_difficulty, question_type, subfield), written by parquet-wasm like the reader's own test
// files (parquet_files.mjs; same npm packages).
//
//   cd tests/reference && node mmmu_parquet.mjs ../data/bench/mmmu_hf
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import * as arrow from "apache-arrow";
import * as pw from "parquet-wasm/node";

const out = process.argv[2] || "../data/bench/mmmu_hf";
const imgs = JSON.parse(execFileSync("/usr/bin/python3", ["-c", `
import base64, io, json
from PIL import Image
out = []
for i, fmt in enumerate(["PNG", "JPEG", "PNG"]):
    im = Image.new("RGB", (40 + 12 * i, 30), (60 * i, 120, 200 - 50 * i))
    b = io.BytesIO(); im.save(b, fmt); out.append(base64.b64encode(b.getvalue()).decode())
print(json.dumps(out))`]).toString());

const imageType = new arrow.Struct([new arrow.Field("bytes", new arrow.Binary(), true), new arrow.Field("path", new arrow.Utf8(), true)]);
function images(list) {
  const bytes = list.map((i) => (i === null ? null : new Uint8Array(Buffer.from(imgs[i], "base64"))));
  const paths = list.map((i) => (i === null ? null : `img_${i}.png`));
  const nulls = list.map((i) => i !== null);
  const bitmap = new Uint8Array(Math.ceil(list.length / 8));
  nulls.forEach((ok, k) => { if (ok) bitmap[k >> 3] |= 1 << (k & 7); });
  return arrow.makeVector(arrow.makeData({ type: imageType, length: list.length, nullCount: nulls.filter((x) => !x).length,
    nullBitmap: bitmap,
    children: [arrow.vectorFromArray(bytes, new arrow.Binary()).data[0], arrow.vectorFromArray(paths, new arrow.Utf8()).data[0]] }));
}
const str = (v) => arrow.vectorFromArray(v, new arrow.Utf8());

function subject(name, split, rows) {
  const n = rows.length;
  const cols = {
    id: str(rows.map((r) => `${split}_${name}_${r.k}`)),
    question: str(rows.map((r) => r.q)),
    options: str(rows.map((r) => r.options)),
    explanation: str(rows.map(() => "")),
    image_1: images(rows.map((r) => r.img)),
  };
  for (let k = 2; k <= 7; k++) cols[`image_${k}`] = images(rows.map((r) => (k === 2 && r.img2 !== undefined ? r.img2 : null)));
  Object.assign(cols, {
    img_type: str(rows.map(() => "['Photographs']")),
    answer: str(rows.map((r) => r.answer)),
    topic_difficulty: str(rows.map(() => "Easy")),
    question_type: str(rows.map((r) => r.type)),
    subfield: str(rows.map(() => "x")),
  });
  const table = new arrow.Table(cols);
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setStatisticsEnabled(pw.EnabledStatistics.None).build();
  fs.writeFileSync(path.join(dir, `${split}-00000-of-00001.parquet`), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, "stream")), props));
  return n;
}

subject("Art", "validation", [
  { k: 1, q: "Which style is <image 1>?", options: "['Baroque', 'Cubism', 'Rococo']", answer: "B", type: "multiple-choice", img: 0 },
  { k: 2, q: "What year was it made?", options: "[]", answer: "1907", type: "open", img: 1 },
]);
subject("Physics", "validation", [
  { k: 1, q: "Which force acts in <image 1>?", options: "['gravity', 'friction', 'tension', 'none of these']", answer: "A", type: "multiple-choice", img: 2 },
  { k: 2, q: "Is <image 1> heavier than <image 2>?", options: "['yes', 'no']", answer: "B", type: "multiple-choice", img: 1, img2: 0 },
]);
subject("Art", "dev", [  // another split: not read for --data the folder (validation)
  { k: 1, q: "dev question", options: "['a', 'b']", answer: "A", type: "multiple-choice", img: 0 },
]);
console.log("wrote", out);
