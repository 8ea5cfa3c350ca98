// A 1,000,000-row LAION-like parquet file written at test time by parquet-wasm (arrow-rs), read
// back by parquet-wasm and by hyparquet; both readers' digests of every column must agree, and
// go to the expected file that tests/parquet_million.sh compares with jf's reader.
//
//   node parquet_million.mjs OUT.parquet EXPECTED.txt
//
// Many data pages per column chunk and several row groups (what the small committed files do not
// have), dictionary pages that fall back to plain when they grow, nulls, UTF-8 captions, float32,
// int32/int64 and booleans. Digest per column: null count and FNV-1a (32-bit) over every value —
// strings as their UTF-8 bytes then 0xFF, numbers as float64 little-endian, integers as int64
// little-endian, booleans as one byte, nulls as 0xFE.
import fs from "node:fs";
import * as arrow from "apache-arrow";
import * as pw from "parquet-wasm/node";
import { parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";

const T0 = Date.now();
const lap = (what) => process.env.JF_VERBOSE && console.error(`${what}: ${((Date.now() - T0) / 1000).toFixed(1)} s`);
const [out, expectedPath] = process.argv.slice(2);
const N = 1000000;
let s = 987654321;
const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
const words = ["a", "photo", "of", "the", "red", "sofa", "bicycle", "mountain", "été", "海", "naïve", "café", "dog", "on", "beach"];
const url = new Array(N), text = new Array(N), sim = new Array(N), punsafe = new Array(N), width = new Array(N),
  height = new Array(N), wm = new Array(N), aes = new Array(N);
for (let i = 0; i < N; i++) {
  url[i] = i % 997 === 13 ? null : `https://img${i % 50}.example.com/${(i * 2654435761) >>> 0}/${i}.jpg`;
  let n = 2 + Math.floor(rnd() * 10), c = [];
  for (let k = 0; k < n; k++) c.push(words[Math.floor(rnd() * words.length)]);
  text[i] = i % 101 === 7 ? null : c.join(" ");
  sim[i] = i % 53 === 3 ? null : Math.round(rnd() * 1e6) / 1e6;
  punsafe[i] = Math.fround(rnd());
  width[i] = i % 211 === 5 ? null : 64 + Math.floor(rnd() * 4000);
  height[i] = BigInt(64 + Math.floor(rnd() * 4000));
  wm[i] = i % 17 === 0 ? null : rnd() < 0.1;
  aes[i] = 3 + rnd() * 5;
}
lap("values");
const t = new arrow.Table({
  URL: arrow.vectorFromArray(url, new arrow.Utf8()),
  TEXT: arrow.vectorFromArray(text, new arrow.Utf8()),
  similarity: arrow.vectorFromArray(sim, new arrow.Float64()),
  punsafe: arrow.vectorFromArray(punsafe, new arrow.Float32()),
  WIDTH: arrow.vectorFromArray(width, new arrow.Int32()),
  HEIGHT: arrow.vectorFromArray(height, new arrow.Int64()),
  pwatermark_flag: arrow.vectorFromArray(wm, new arrow.Bool()),
  AESTHETIC_SCORE: arrow.vectorFromArray(aes, new arrow.Float64()),
});
// ZSTD, v2 data pages; dictionary pages for the score columns, delta encodings for the URL,
// caption and size columns (snappy, gzip and v1 pages are in the committed small files).
const b = new pw.WriterPropertiesBuilder()
  .setCompression(pw.Compression.ZSTD).setWriterVersion(pw.WriterVersion.V2).setDictionaryEnabled(true)
  .setMaxRowGroupSize(150000).setCreatedBy("jf million-row test (parquet-wasm)")
  .setColumnDictionaryEnabled("URL", false).setColumnEncoding("URL", pw.Encoding.DELTA_BYTE_ARRAY)
  .setColumnDictionaryEnabled("TEXT", false).setColumnEncoding("TEXT", pw.Encoding.DELTA_LENGTH_BYTE_ARRAY)
  .setColumnDictionaryEnabled("WIDTH", false).setColumnEncoding("WIDTH", pw.Encoding.DELTA_BINARY_PACKED)
  .setColumnDictionaryEnabled("HEIGHT", false).setColumnEncoding("HEIGHT", pw.Encoding.DELTA_BINARY_PACKED);
const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(t, "stream")), b.build());
fs.writeFileSync(out, bytes);
lap("written");

const names = ["URL", "TEXT", "similarity", "punsafe", "WIDTH", "HEIGHT", "pwatermark_flag", "AESTHETIC_SCORE"];
const enc = new TextEncoder();
const f64 = new Float64Array(1), f64b = new Uint8Array(f64.buffer);
const i64 = new BigInt64Array(1), i64b = new Uint8Array(i64.buffer);
function digest(values) {
  let h = 0x811c9dc5 >>> 0, nulls = 0;
  const eat = (arr) => { for (let k = 0; k < arr.length; k++) h = Math.imul(h ^ arr[k], 16777619) >>> 0; };
  for (const v of values) {
    if (v === null || v === undefined) { nulls++; eat([0xfe]); }
    else if (typeof v === "string") { eat(enc.encode(v)); eat([0xff]); }
    else if (typeof v === "bigint") { i64[0] = v; eat(i64b); }
    else if (typeof v === "boolean") eat([v ? 1 : 0]);
    else if (Number.isInteger(v) && (values.__int)) { i64[0] = BigInt(v); eat(i64b); }
    else { f64[0] = v; eat(f64b); }
  }
  return `${nulls} ${h.toString(16).padStart(8, "0")}`;
}
const intCols = new Set(["WIDTH", "HEIGHT"]);
// parquet-wasm
const back = arrow.tableFromIPC(pw.readParquet(bytes).intoIPCStream());
const viaWasm = names.map((n) => { const v = [...back.getChild(n)]; v.__int = intCols.has(n); return `${n} ${digest(v)}`; });
lap("parquet-wasm read");
// hyparquet
const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), compressors });
const viaHy = names.map((n) => { const v = rows.map((r) => r[n]); v.__int = intCols.has(n); return `${n} ${digest(v)}`; });
lap("hyparquet read");
for (let k = 0; k < names.length; k++)
  if (viaWasm[k] !== viaHy[k]) { console.error(`readers disagree on ${names[k]}: parquet-wasm ${viaWasm[k]}, hyparquet ${viaHy[k]}`); process.exit(1); }
fs.writeFileSync(expectedPath, viaWasm.join("\n") + "\n");
console.log(`wrote ${out}: ${N} rows, ${bytes.length} bytes; both readers agree`);
