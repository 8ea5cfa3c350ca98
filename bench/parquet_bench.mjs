// The node side of bench/bench_parquet.sh: writes a LAION-like parquet file of N rows (snappy,
// dictionary where it helps, row groups of 1M rows, as LAION's parts are written) and the same
// rows as CSV; then times parquet-wasm reading 3 of its columns (URL, TEXT, similarity).
//   node parquet_bench.mjs write DIR N     → DIR/laion.parquet, DIR/laion.csv
//   node parquet_bench.mjs read DIR        → JSON {rows, seconds}
import fs from "node:fs";
import path from "node:path";
import * as arrow from "apache-arrow";
import * as pw from "parquet-wasm/node";

const [mode, dir, nArg] = process.argv.slice(2);
if (mode === "write") {
  const N = Number(nArg);
  const words = ["a", "photo", "of", "the", "cat", "on", "sofa", "red", "bicycle", "leaning", "wall", "vintage", "poster",
    "landscape", "mountain", "lake", "sunset", "portrait", "woman", "smiling", "stock", "image", "background", "texture"];
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const csv = fs.openSync(path.join(dir, "laion.csv"), "w");
  fs.writeSync(csv, "URL,TEXT,similarity,punsafe,pwatermark,WIDTH,HEIGHT\n");
  const batches = [];
  const B = 1000000;
  for (let b0 = 0; b0 < N; b0 += B) {
    const n = Math.min(B, N - b0);
    const url = new Array(n), text = new Array(n), sim = new Float64Array(n), pun = new Float64Array(n), pwm = new Float64Array(n),
      w = new Int32Array(n), h = new Int32Array(n);
    let lines = [];
    for (let i = 0; i < n; i++) {
      const id = b0 + i;
      url[i] = `https://images.example${id % 97}.com/photos/${(id * 2654435761) % 1000000007}/${id}.jpg`;
      const nw = 3 + Math.floor(rnd() * 10);
      const t = [];
      for (let k = 0; k < nw; k++) t.push(words[Math.floor(rnd() * words.length)]);
      text[i] = t.join(" ");
      sim[i] = Math.round(rnd() * 1e6) / 1e6; pun[i] = Math.round(rnd() * 1e4) / 1e4; pwm[i] = Math.round(rnd() * 1e4) / 1e4;
      w[i] = 200 + Math.floor(rnd() * 1800); h[i] = 200 + Math.floor(rnd() * 1800);
      lines.push(`${url[i]},${text[i]},${sim[i]},${pun[i]},${pwm[i]},${w[i]},${h[i]}`);
      if (lines.length === 100000) { fs.writeSync(csv, lines.join("\n") + "\n"); lines = []; }
    }
    if (lines.length) fs.writeSync(csv, lines.join("\n") + "\n");
    batches.push(new arrow.Table({
      URL: arrow.vectorFromArray(url, new arrow.Utf8()), TEXT: arrow.vectorFromArray(text, new arrow.Utf8()),
      similarity: arrow.makeVector(sim), punsafe: arrow.makeVector(pun), pwatermark: arrow.makeVector(pwm),
      WIDTH: arrow.makeVector(w), HEIGHT: arrow.makeVector(h),
    }));
  }
  fs.closeSync(csv);
  const table = batches.reduce((a, t) => a.concat(t));
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(B).build();
  fs.writeFileSync(path.join(dir, "laion.parquet"), pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, "stream")), props));
} else {
  const bytes = fs.readFileSync(path.join(dir, "laion.parquet"));
  // one row group at a time (the whole file's text does not fit WebAssembly's 4 GB memory)
  const t0 = process.hrtime.bigint();
  let rows = 0, chars = 0;
  for (let g = 0; ; g++) {
    let t;
    try {
      t = arrow.tableFromIPC(pw.readParquet(bytes, { columns: ["URL", "TEXT", "similarity"], rowGroups: [g] }).intoIPCStream());
    } catch (e) {
      break; // past the last row group
    }
    if (!t.numRows) break;
    rows += t.numRows;
    const u = t.getChild("URL");
    for (let i = 0; i < t.numRows; i += 1000) chars += u.get(i).length; // touch the strings as jf does
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ rows, seconds: secs, touched: chars }));
}
