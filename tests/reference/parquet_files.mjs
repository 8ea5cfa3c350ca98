// The parquet test files of jf's reader (tests/data/parquet/), written by parquet-wasm (the Rust
// arrow-rs parquet crate compiled to WebAssembly) and read back by two independent readers,
// parquet-wasm and hyparquet, whose values must agree; the agreed values go to expected.json,
// which jf's test compares with what it reads from every file.
//
//   cd tests/reference && npm install parquet-wasm@0.7 hyparquet@1.33 hyparquet-compressors@1.1 apache-arrow@21
//   node parquet_files.mjs ../data/parquet
//
// One table of LAION-like columns (url, caption, similarity, sizes, flags, integer widths, raw
// bytes, a fixed-size binary, a Hugging Face image struct {bytes, path}) with nulls at every
// level, written as 3 row groups under every compression (none, snappy, gzip, zstd) × encoding
// (dictionary; plain; delta: DELTA_BINARY_PACKED integers, DELTA_BYTE_ARRAY and
// DELTA_LENGTH_BYTE_ARRAY strings) × data page version (v1, v2), of which 15 are kept (each
// compression with dictionary/v1, plain/v2 and delta/v2; uncompressed in every combination), to
// keep the repository small.
import fs from "node:fs";
import path from "node:path";
import * as arrow from "apache-arrow";
import * as pw from "parquet-wasm/node";
import { parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";

const out = process.argv[2] || "../data/parquet";
fs.mkdirSync(out, { recursive: true });

const N = 40;
const rng = (() => { let s = 12345; return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648; })();
const words = ["cat", "sofa", "red", "bicycle", "wall", "été", "海", "naïve", "\"quoted\"", "tab\there", "line\nbreak", ""];
const col = (f) => Array.from({ length: N }, (_, i) => f(i));
const urls = col((i) => (i % 11 === 5 ? null : `https://example.com/img/${i % 7 === 0 ? "same" : i}.jpg`));
const captions = col((i) => (i % 13 === 3 ? null : Array.from({ length: 1 + (i % 5) }, () => words[Math.floor(rng() * words.length)]).join(" ")));
const similarity = col((i) => (i % 9 === 4 ? null : Math.round(rng() * 1e6) / 1e6));
const punsafe = col((i) => Math.fround(rng()));
const width = col((i) => (i % 10 === 7 ? null : 64 + ((i * 37) % 1000)));
const height = col((i) => BigInt(i % 3 === 0 ? -5000000000 + i : 480 + i));
const flag = col((i) => (i % 6 === 1 ? null : i % 4 === 0));
const u8 = col((i) => (i * 7) % 256);
const u32 = col((i) => (4000000000 + i) >>> 0);
const i8 = col((i) => ((i * 13) % 256) - 128);
const i16 = col((i) => ((i * 977) % 65536) - 32768);
const blob = col((i) => (i % 8 === 2 ? null : new Uint8Array(Array.from({ length: i % 6 }, (_, k) => (i * 31 + k) % 256))));
const fixed = col((i) => new Uint8Array([i, 255 - i, 7, i % 3]));
const imgBytes = col((i) => (i % 7 === 3 ? null : new Uint8Array(Array.from({ length: 3 + (i % 4) }, (_, k) => (i + k * 11) % 256))));
const imgPath = col((i) => (i % 5 === 2 ? null : `img_${i}.png`));
const imgNull = col((i) => i % 17 === 9);

function vec(type, values) {
  return arrow.vectorFromArray(values, type);
}

const imageType = new arrow.Struct([
  new arrow.Field("bytes", new arrow.Binary(), true),
  new arrow.Field("path", new arrow.Utf8(), true),
]);
const imageVec = arrow.makeVector(arrow.makeData({
  type: imageType,
  length: N,
  nullCount: imgNull.filter(Boolean).length,
  nullBitmap: (() => { const b = new Uint8Array(Math.ceil(N / 8)); imgNull.forEach((n, i) => { if (!n) b[i >> 3] |= 1 << (i & 7); }); return b; })(),
  children: [vec(new arrow.Binary(), imgBytes).data[0], vec(new arrow.Utf8(), imgPath).data[0]],
}));

const table = new arrow.Table({
  URL: vec(new arrow.Utf8(), urls),
  TEXT: vec(new arrow.Utf8(), captions),
  similarity: vec(new arrow.Float64(), similarity),
  punsafe: vec(new arrow.Float32(), punsafe),
  WIDTH: vec(new arrow.Int32(), width),
  HEIGHT: vec(new arrow.Int64(), height),
  flag: vec(new arrow.Bool(), flag),
  u8: vec(new arrow.Uint8(), u8),
  u32: vec(new arrow.Uint32(), u32),
  i8: vec(new arrow.Int8(), i8),
  i16: vec(new arrow.Int16(), i16),
  blob: vec(new arrow.Binary(), blob),
  fixed: vec(new arrow.FixedSizeBinary(4), fixed),
  image: imageVec,
});

const b64 = (u) => Buffer.from(u).toString("base64");
// a value as JSON: bytes as {"b64"}, 64-bit integers as decimal strings, the rest as they are
function norm(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return { b64: b64(v) };
  if (typeof v === "object") { const o = {}; for (const k of Object.keys(v)) o[k] = norm(v[k]); return o; }
  return v;
}

// the leaf columns as jf reads them: dotted paths, a struct's fields null where the struct is
function leaves(rows) {
  const o = {};
  const put = (k, i, v) => { (o[k] ||= Array(N).fill(null))[i] = v; };
  rows.forEach((r, i) => {
    for (const [k, v] of Object.entries(r)) {
      if (k === "image") { put("image.bytes", i, v ? norm(v.bytes) : null); put("image.path", i, v ? norm(v.path) : null); }
      else put(k, i, norm(v));
    }
  });
  return o;
}

const ipc = pw.Table.fromIPCStream(arrow.tableToIPC(table, "stream"));
const compressions = { none: pw.Compression.UNCOMPRESSED, snappy: pw.Compression.SNAPPY, gzip: pw.Compression.GZIP, zstd: pw.Compression.ZSTD };
const versions = { v1: pw.WriterVersion.V1, v2: pw.WriterVersion.V2 };
let expected = null;
for (const [cname, comp] of Object.entries(compressions)) {
  for (const enc of ["dict", "plain", "delta"]) {
    for (const [vname, ver] of Object.entries(versions)) {
      let b = new pw.WriterPropertiesBuilder().setCompression(comp).setWriterVersion(ver).setMaxRowGroupSize(16)
        .setStatisticsEnabled(pw.EnabledStatistics.None)
        .setCreatedBy("jf test files (parquet-wasm)");
      if (enc === "dict") b = b.setDictionaryEnabled(true);
      else {
        b = b.setDictionaryEnabled(false).setEncoding(pw.Encoding.PLAIN);
        if (enc === "delta") {
          for (const c of ["WIDTH", "HEIGHT", "u8", "u32", "i8", "i16"]) b = b.setColumnEncoding(c, pw.Encoding.DELTA_BINARY_PACKED);
          b = b.setColumnEncoding("URL", pw.Encoding.DELTA_BYTE_ARRAY).setColumnEncoding("TEXT", pw.Encoding.DELTA_LENGTH_BYTE_ARRAY)
            .setColumnEncoding("image.path", pw.Encoding.DELTA_BYTE_ARRAY);
        }
      }
      const bytes = pw.writeParquet(ipc.clone ? ipc.clone() : pw.Table.fromIPCStream(arrow.tableToIPC(table, "stream")), b.build());
      const name = `laion_${cname}_${enc}_${vname}.parquet`;
      const keep = cname === "none" || (enc === "dict" && vname === "v1") || (enc !== "dict" && vname === "v2");
      if (keep)
        fs.writeFileSync(path.join(out, name), bytes);
      // read back by both readers; they must agree
      const viaWasm = arrow.tableFromIPC(pw.readParquet(bytes).intoIPCStream()).toArray().map((r) => r.toJSON());
      const viaHy = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), compressors, utf8: false });
      const a = leaves(viaWasm.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v && k === "image" ? v.toJSON() : v])))),
        h = leaves(viaHy);
      const sa = JSON.stringify(a), sh = JSON.stringify(h);
      if (sa !== sh) {
        console.error(`${name}: parquet-wasm and hyparquet disagree`);
        for (const k of Object.keys(a)) if (JSON.stringify(a[k]) !== JSON.stringify(h[k])) console.error(k, JSON.stringify(a[k]).slice(0, 300), "\n vs", JSON.stringify(h[k]).slice(0, 300));
        process.exit(1);
      }
      if (expected && JSON.stringify(expected) !== sa) { console.error(`${name}: values differ from the other files`); process.exit(1); }
      expected = a;
      console.log(`${name}: ${bytes.length} bytes, both readers agree${keep ? "" : " (not kept)"}`);
    }
  }
}
fs.writeFileSync(path.join(out, "expected.json"), JSON.stringify({ rows: N, columns: expected }, null, 0) + "\n");

// Two files for jf ingest: a Hugging Face-style dataset with the images inside (a struct
// {bytes, path}, a caption, a score; one row without an image, one with damaged bytes), and a
// LAION-style URL list (URL, TEXT, similarity, punsafe, WIDTH, HEIGHT) whose URLs point to a
// closed local port.
{
  const { execFileSync } = await import("node:child_process");
  const imgs = JSON.parse(execFileSync("/usr/bin/python3", ["-c", `
import base64, io, json
from PIL import Image
out = []
for i, fmt in enumerate(["JPEG", "PNG", "JPEG", "PNG"]):
    im = Image.new("RGB", (24 + 8 * i, 16 + 4 * i), (40 * i, 200 - 30 * i, 90))
    for x in range(im.size[0]):
        im.putpixel((x, x % im.size[1]), (255, 255, 255))
    b = io.BytesIO(); im.save(b, fmt, quality=90); out.append(base64.b64encode(b.getvalue()).decode())
print(json.dumps(out))`]).toString());
  const M = 6;
  const bytesCol = Array.from({ length: M }, (_, i) => (i === 4 ? null : i === 5 ? new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]) : new Uint8Array(Buffer.from(imgs[i], "base64"))));
  const pathCol = Array.from({ length: M }, (_, i) => `img_${i}.${i % 2 ? "png" : "jpg"}`);
  const imageType = new arrow.Struct([new arrow.Field("bytes", new arrow.Binary(), true), new arrow.Field("path", new arrow.Utf8(), true)]);
  const image = arrow.makeVector(arrow.makeData({ type: imageType, length: M, nullCount: 0,
    children: [arrow.vectorFromArray(bytesCol, new arrow.Binary()).data[0], arrow.vectorFromArray(pathCol, new arrow.Utf8()).data[0]] }));
  const hf = new arrow.Table({
    image,
    text: arrow.vectorFromArray(["a green square", "a red rectangle", "été à Paris", "", "no image here", "a broken one"], new arrow.Utf8()),
    aesthetic: arrow.vectorFromArray([5.5, 6.25, null, 4.0, 3.0, 2.0], new arrow.Float64()),
  });
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(4)
    .setStatisticsEnabled(pw.EnabledStatistics.None).build();
  fs.writeFileSync(path.join(out, "hf_images.parquet"), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(hf, "stream")), props));
  const U = 5;
  const laion = new arrow.Table({
    SAMPLE_ID: arrow.vectorFromArray(Array.from({ length: U }, (_, i) => BigInt(1000 + i)), new arrow.Int64()),
    URL: arrow.vectorFromArray(Array.from({ length: U }, (_, i) => (i === 3 ? null : `http://127.0.0.1:9/img${i}.jpg`)), new arrow.Utf8()),
    TEXT: arrow.vectorFromArray(["one", "two", null, "four", "five"], new arrow.Utf8()),
    similarity: arrow.vectorFromArray([0.31, 0.29, 0.35, 0.4, 0.27], new arrow.Float64()),
    punsafe: arrow.vectorFromArray([0.01, 0.2, 0.5, 0.9, 0.05], new arrow.Float32()),
    WIDTH: arrow.vectorFromArray([640, 800, 1024, 320, 512], new arrow.Int32()),
    HEIGHT: arrow.vectorFromArray([480, 600, 768, 240, 512], new arrow.Int32()),
  });
  const props2 = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setStatisticsEnabled(pw.EnabledStatistics.None).build();
  fs.writeFileSync(path.join(out, "laion_urls.parquet"), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(laion, "stream")), props2));
  console.log("hf_images.parquet, laion_urls.parquet: written");
}

// Scores for jf filter scores: keys of hf_images.parquet as jf ingest stores them, one unknown
// key, one null score.
{
  const keys = ["hf_images/000000000", "hf_images/000000001", "hf_images/000000002", "nope/1", "hf_images/000000003"];
  const t = new arrow.Table({
    key: arrow.vectorFromArray(keys, new arrow.Utf8()),
    score: arrow.vectorFromArray([0.25, 0.5, null, 0.9, 0.75], new arrow.Float32()),
  });
  const props = new pw.WriterPropertiesBuilder().setStatisticsEnabled(pw.EnabledStatistics.None).build();
  fs.writeFileSync(path.join(out, "scores.parquet"), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(t, "stream")), props));
  console.log("scores.parquet: written");
}

// A URL list with a list column (tags: list<string>) beside scalar ones: jf keeps scalar columns
// and says which list columns it did not keep. URLs point to a closed local port.
{
  const M = 3;
  const tagsType = new arrow.List(new arrow.Field("item", new arrow.Utf8(), true));
  const t = new arrow.Table({
    url: arrow.vectorFromArray(Array.from({ length: M }, (_, i) => `http://127.0.0.1:9/l${i}.jpg`), new arrow.Utf8()),
    caption: arrow.vectorFromArray(["one", "two", "three"], new arrow.Utf8()),
    tags: arrow.vectorFromArray([["a", "b"], [], null], tagsType),
    score: arrow.vectorFromArray([0.5, 0.25, 1.0], new arrow.Float64()),
  });
  const props = new pw.WriterPropertiesBuilder().setStatisticsEnabled(pw.EnabledStatistics.None).build();
  fs.writeFileSync(path.join(out, "lists.parquet"), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(t, "stream")), props));
  console.log("lists.parquet written");
}
