/* jf ingest: the front end of ingest/jf_ingest.h. */
#include "cli.h"
#include "jf_ingest.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: jf ingest DATASET INPUT... [options]\n"
    "\n"
    "Reads image-text data into the shard store DATASET (created if missing), decoding and checking\n"
    "every image. INPUT is a path, a brace pattern (shards/{00000..00099}.tar, zero padding kept),\n"
    "a glob (quoted), or several joined with '::'. Formats are detected by content:\n"
    "  WebDataset / img2dataset tars (.tar, .tar.gz, .tar.zst, ...): jpg/png/webp + txt + json;\n"
    "      the json's scalar fields (similarity, punsafe, pwatermark, AESTHETIC_SCORE, status, ...)\n"
    "      become index columns; _stats.json and .parquet side files are not inputs\n"
    "  SA-1B tars: sa_N.jpg + sa_N.json; mask_count, mask_area, mask_iou_mean, ... as columns\n"
    "  JSON arrays / JSON lines: ShareGPT4V / LLaVA conversations (image path + conversations),\n"
    "      image+caption manifests, text-only records (text field); read streaming\n"
    "  URL lists: CSV/TSV with a url column (quoted fields, LF or CRLF), plain lists of URLs, JSON\n"
    "      lines with url, pandas' to_json column layout ({\"url\": {\"0\": ...}}, img2dataset's json);\n"
    "      plain or gzip-compressed (.txt.gz, .csv.gz, .tsv.gz, .json.gz, .jsonl.gz), detected by content\n"
    "  Parquet (LAION, COYO, DataComp metadata: a URL column, downloaded; Hugging Face datasets: image\n"
    "      bytes in image.bytes / image / jpg / png / bytes, read from the file); scalar columns become\n"
    "      index columns (list columns are not kept, and said); text that is not UTF-8 is stored\n"
    "      with U+FFFD and said per column and row group; a NNNNN.parquet beside NNNNN.tar is\n"
    "      img2dataset's side file, not an input\n"
    "  VLMEvalKit benchmark TSVs (.tsv with index and image columns: MMBench, MME, POPE, GQA, SEED,\n"
    "      MMMU_DEV_VAL): each row's base64 image (or the row its short cell names, or each of a\n"
    "      Python list of them) decoded and checked; the row kept as .json and as index columns\n"
    "  Benchmarks' own question files: GQA's {qid: {imageId, ...}} (<imageId>.jpg), VQAv2's\n"
    "      v2_OpenEnded_mscoco_<split>_questions.json (COCO_<split>_<id>.jpg; each question's annotation\n"
    "      joined from v2_mscoco_<split>_annotations.json beside it), SEED-Bench.json (data_id; video\n"
    "      questions kept as text-only records), MME's <subtask>.txt (<subtask>/[images/]<image>), and\n"
    "      MMMU's Hugging Face parquet (image_1..image_7); images under --image-root; each question kept\n"
    "      as .json for `jf eval bench NAME --data DS`\n"
    "\n"
    "options:\n"
    "  --source NAME        source name (default: a tar's folder name, else the file name)\n"
    "  --image-root DIR     where manifest image paths are looked up (repeatable; default: the\n"
    "                       manifest's folder)\n"
    "  --captions FILE      JSON/JSONL captions joined to SA-1B images by file name or id\n"
    "  --threads N          decode workers (default: all cores)\n"
    "  --part K/N           take part K (0-based) of N: every N-th tar, and every N-th manifest record;\n"
    "  --part slurm         K and N from the Slurm array task (SLURM_ARRAY_TASK_ID, _COUNT)\n"
    "  --min-side PX        drop images whose shorter side is smaller\n"
    "  --max-aspect R       drop images with long/short side ratio above R\n"
    "  --max-pixels N       refuse larger images before decoding (default 178956970)\n"
    "  --full-decode        check JPEGs with a full-size decode (default: entropy decode at 1/8 scale,\n"
    "                       which reads every coefficient; the analysis columns decode in full anyway)\n"
    "  analysis columns (default): img_mean, img_std, img_entropy (luminance as Pillow's convert(\"L\"))\n"
    "                       and phash (imagehash's pHash), from the full-size decode: the reference values\n"
    "  --fast-analysis      from a reduced-scale JPEG decode instead (faster, approximate), written as\n"
    "                       img_mean_approx, img_std_approx, img_entropy_approx, phash_approx\n"
    "  --no-analysis        no analysis columns (the check alone, at 1/8 scale)\n"
    "  --resize MODE        keep (default: original bytes), shortest-side, longest-side, center-crop, pad\n"
    "  --size PX            target for --resize (default 256)\n"
    "  --resize-filter F    lanczos (default), bicubic, bilinear, box: Pillow's antialiased resampling,\n"
    "                       after a reduced-scale JPEG decode when shrinking by 2x or more\n"
    "  --only-shrink        never upscale   --format jpg|png|webp (default jpg)   --quality Q (95)\n"
    "  --pad-color RRGGBB   border for pad mode and background for transparency (default ffffff)\n"
    "  --shard-size SIZE    target shard size (default 256M)   --max-records N  per shard (100000)\n"
    "downloads (URL lists: CSV/TSV with a url column, JSONL records with url, plain lists; and\n"
    "http(s):// inputs, streamed with Range resume: .csv/.tsv/.txt/.jsonl/.json (also .gz) as lists and\n"
    "manifests, .parquet by byte ranges (the footer, then the chunks needed), anything else as a tar):\n"
    "  --parallel N (64)  --per-host N (8)  --timeout S (20 per image)  --retries N (2, with backoff)\n"
    "  --url-col NAME       the URL column (default: url, URL, image_url, img_url)\n"
    "  --caption-col NAME   the caption column (default: caption, TEXT, text, txt, title)\n"
    "  --keep-columns A,B   keep only these metadata columns (default: all scalar columns)\n"
    "  --max-row-group-bytes SIZE   parquet: refuse a column chunk larger than this (default 512M)\n"
    "  --compute-hash md5|sha256|sha512   store the hex digest of each downloaded image as a column\n"
    "  --verify-hash COLUMN,ALGO   a download whose digest differs from the row's COLUMN fails as\n"
    "                       hash_mismatch (img2dataset's --verify_hash)\n"
    "  --user-agent-token T  appended to the user agent and matched in X-Robots-Tag\n"
    "  --ignore-robots      do not honour X-Robots-Tag noai/noimageai/noindex/noimageindex\n"
    "  --json               the summary as JSON on stdout; every dropped sample as a JSON line first\n"
    "  --quiet              no progress, no per-sample messages\n"
    "\n"
    "Every sample ends with one outcome: ok, already_present (a rerun skips what the index holds),\n"
    "duplicate_key, not_adjacent, decode_error, empty_file, unsupported_format, too_large, too_small,\n"
    "bad_aspect, missing_image, missing_pair_member, bad_record, truncated, http_error, timeout,\n"
    "network_error, opted_out, hash_mismatch, refused_member. Failures are kept in the index (table\n"
    "ingest_failures)\n"
    "and each run's counts in ingest_runs.\n"
    "Reruns: an input read to its end is skipped by the next run unless it changed (size, mtime) or\n"
    "has failures another attempt may mend (http_error, timeout, network_error, missing_image,\n"
    "truncated); then it is read again, samples already stored are skipped by key and the failed\n"
    "ones retried. An input that could not be read, or only in part, is never marked done.\n"
    "Exit status: 0 when every input was read and every sample was ok or already present; 1 when\n"
    "an input could not be read (missing, unknown format, cut short) or samples went; >1 on errors.\n";

typedef struct ctx {
    cli_opts *o;
    jw *w;
    progress *pg;
    uint64_t shown;
} ctx;

static void on_problem(void *user, const jf_problem *p)
{
    ctx *c = user;
    if (c->o->json) {
        jw_obj(c->w);
        jw_kstr(c->w, "severity", p->severity);
        jw_kstr(c->w, "input", p->path);
        jw_kint(c->w, "offset", p->offset);
        jw_kstr(c->w, "message", p->what);
        jw_end_obj(c->w);
        jw_newline(c->w);
        return;
    }
    if (c->o->quiet)
        return;
    progress_done(c->pg);
    if (c->shown++ == 200)
        fprintf(stderr, "(more problems: see the summary and table ingest_failures)\n");
    if (c->shown > 200)
        return;
    if (p->offset >= 0)
        fprintf(stderr, "%s: %s @%lld: %s\n", p->severity, p->path, (long long)p->offset, p->what);
    else
        fprintf(stderr, "%s: %s: %s\n", p->severity, p->path, p->what);
}

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    ctx *c = user;
    progress_update(c->pg, done, total, "samples");
}

int cmd_ingest(int argc, char **argv)
{
    cli_opts o = {0};
    jf_ingest_params p = jf_ingest_default_params();
    const char **roots = NULL;
    size_t n_roots = 0;
    static struct option lo[] = {{"json", no_argument, 0, 'j'},          {"quiet", no_argument, 0, 'q'},
                                 {"help", no_argument, 0, 'h'},          {"source", required_argument, 0, 's'},
                                 {"image-root", required_argument, 0, 'r'}, {"captions", required_argument, 0, 'c'},
                                 {"threads", required_argument, 0, 't'}, {"part", required_argument, 0, 'p'},
                                 {"min-side", required_argument, 0, 'm'}, {"max-aspect", required_argument, 0, 'a'},
                                 {"max-pixels", required_argument, 0, 'x'}, {"full-decode", no_argument, 0, 'f'},
                                 {"shard-size", required_argument, 0, 'S'}, {"max-records", required_argument, 0, 'n'},
                                 {"resize", required_argument, 0, 'R'}, {"size", required_argument, 0, 'Z'},
                                 {"resize-filter", required_argument, 0, 'F'}, {"only-shrink", no_argument, 0, 'O'},
                                 {"format", required_argument, 0, 'T'}, {"quality", required_argument, 0, 'Q'},
                                 {"pad-color", required_argument, 0, 'P'}, {"parallel", required_argument, 0, 'L'},
                                 {"per-host", required_argument, 0, 'H'}, {"timeout", required_argument, 0, 'W'},
                                 {"retries", required_argument, 0, 'Y'}, {"user-agent-token", required_argument, 0, 'U'},
                                 {"ignore-robots", no_argument, 0, 'I'}, {"fast-analysis", no_argument, 0, 'A'},
                                 {"no-analysis", no_argument, 0, 'N'}, {"url-col", required_argument, 0, 1001},
                                 {"caption-col", required_argument, 0, 1002}, {"keep-columns", required_argument, 0, 1003},
                                 {"max-row-group-bytes", required_argument, 0, 1004}, {"compute-hash", required_argument, 0, 1005},
                                 {"verify-hash", required_argument, 0, 1006}, {0, 0, 0, 0}};
    static char verify_col[256];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long v;
        uint64_t u;
        switch (c) {
        case 'j': o.json = 1; break;
        case 'q': o.quiet = 1; break;
        case 1001: p.url_col = optarg; break;
        case 1002: p.caption_col = optarg; break;
        case 1003: p.keep_columns = optarg; break;
        case 1005:
            if (strcmp(optarg, "md5") && strcmp(optarg, "sha256") && strcmp(optarg, "sha512")) {
                free(roots);
                return usage_error("ingest", "--compute-hash takes md5, sha256 or sha512");
            }
            p.compute_hash = optarg;
            break;
        case 1006: {
            const char *comma = strchr(optarg, ',');
            const char *algo = comma ? comma + 1 : "";
            if (!comma || comma == optarg || (size_t)(comma - optarg) >= sizeof verify_col ||
                (strcmp(algo, "md5") && strcmp(algo, "sha256") && strcmp(algo, "sha512"))) {
                free(roots);
                return usage_error("ingest", "--verify-hash takes COLUMN,md5|sha256|sha512");
            }
            snprintf(verify_col, sizeof verify_col, "%.*s", (int)(comma - optarg), optarg);
            p.verify_hash_col = verify_col;
            p.verify_hash_algo = algo;
            break;
        }
        case 1004:
            if (parse_size(optarg, &u) || u < 4096) {
                free(roots);
                return usage_error("ingest", "--max-row-group-bytes needs a size of at least 4K");
            }
            p.max_row_group_bytes = u;
            break;
        case 'h': fputs(HELP, stdout); free(roots); return 0;
        case 's': p.source = optarg; break;
        case 'r': {
            const char **nr = realloc(roots, (n_roots + 1) * sizeof *nr);
            if (!nr)
                return JF_ENOMEM;
            roots = nr;
            roots[n_roots++] = optarg;
            break;
        }
        case 'c': p.captions = optarg; break;
        case 't':
            if (parse_int(optarg, &v) || v < 1 || v > 1024)
                return usage_error("ingest", "--threads needs 1..1024");
            p.threads = (int)v;
            break;
        case 'p': {
            char msg[200];
            if (parse_part(optarg, &p.part_k, &p.part_n, msg, sizeof msg))
                return usage_error("ingest", "%s", msg);
            break;
        }
        case 'm':
            if (parse_int(optarg, &v) || v < 0)
                return usage_error("ingest", "--min-side needs pixels");
            p.min_side = (int)v;
            break;
        case 'a': {
            char *end;
            p.max_aspect = strtod(optarg, &end);
            if (*end || p.max_aspect < 1)
                return usage_error("ingest", "--max-aspect needs a ratio >= 1");
            break;
        }
        case 'x':
            if (parse_u64(optarg, &u) || !u)
                return usage_error("ingest", "--max-pixels needs a positive integer");
            p.limits.max_pixels = u;
            break;
        case 'f': p.full_decode = 1; break;
        case 'A': p.fast_analysis = 1; break;
        case 'N': p.no_analysis = 1; break;
        case 'S':
            if (parse_size(optarg, &p.writer.shard_bytes) || !p.writer.shard_bytes)
                return usage_error("ingest", "--shard-size needs a size like 256M");
            break;
        case 'n':
            if (parse_u64(optarg, &p.writer.max_records))
                return usage_error("ingest", "--max-records needs an integer");
            break;
        case 'R': {
            static const char *const modes[] = {"keep", "shortest-side", "longest-side", "center-crop", "pad", NULL};
            int k = 0;
            while (modes[k] && strcmp(modes[k], optarg))
                k++;
            if (!modes[k])
                return usage_error("ingest", "--resize takes keep, shortest-side, longest-side, center-crop or pad");
            p.resize.mode = (jf_resize_mode)k;
            break;
        }
        case 'Z':
            if (parse_int(optarg, &v) || v < 1 || v > 65500)
                return usage_error("ingest", "--size needs 1..65500 pixels");
            p.resize.size = (int)v;
            break;
        case 'F':
            if (jf_resample_parse(optarg, &p.resize.filter))
                return usage_error("ingest", "--resize-filter takes lanczos, bicubic, bilinear or box");
            break;
        case 'O': p.resize.only_shrink = 1; break;
        case 'T':
            if (strcmp(optarg, "jpg") && strcmp(optarg, "png") && strcmp(optarg, "webp"))
                return usage_error("ingest", "--format takes jpg, png or webp");
            p.resize.format = optarg;
            break;
        case 'Q':
            if (parse_int(optarg, &v) || v < 1 || v > 100)
                return usage_error("ingest", "--quality needs 1..100");
            p.resize.quality = (int)v;
            break;
        case 'P': {
            unsigned rgb;
            char extra;
            if (strlen(optarg) != 6 || sscanf(optarg, "%6x%c", &rgb, &extra) != 1)
                return usage_error("ingest", "--pad-color needs RRGGBB hex");
            p.resize.pad_rgb[0] = (uint8_t)(rgb >> 16);
            p.resize.pad_rgb[1] = (uint8_t)(rgb >> 8);
            p.resize.pad_rgb[2] = (uint8_t)rgb;
            break;
        }
        case 'L':
            if (parse_int(optarg, &v) || v < 1 || v > 4096)
                return usage_error("ingest", "--parallel needs 1..4096");
            p.http.parallel = (int)v;
            break;
        case 'H':
            if (parse_int(optarg, &v) || v < 1 || v > 1024)
                return usage_error("ingest", "--per-host needs 1..1024");
            p.http.per_host = (int)v;
            break;
        case 'W':
            if (parse_int(optarg, &v) || v < 1 || v > 3600)
                return usage_error("ingest", "--timeout needs 1..3600 seconds");
            p.http.timeout = (int)v;
            break;
        case 'Y':
            if (parse_int(optarg, &v) || v < 0 || v > 100)
                return usage_error("ingest", "--retries needs 0..100");
            p.http.retries = (int)v;
            break;
        case 'U': p.http.user_agent_token = optarg; break;
        case 'I': p.http.ignore_robots = 1; break;
        default: free(roots); return usage_error("ingest", "unknown option");
        }
    }
    if (optind + 2 > argc) {
        free(roots);
        return usage_error("ingest", "expected DATASET and at least one INPUT");
    }
    p.image_roots = roots;
    p.n_image_roots = n_roots;
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_CREATE, &st, &err)) {
        free(roots);
        return fail("ingest", &err);
    }
    jw w;
    jw_init(&w, stdout);
    progress pg;
    progress_init(&pg, "ingest", &o);
    ctx cx = {&o, &w, &pg, 0};
    p.on_problem = on_problem;
    p.on_progress = on_progress;
    p.user = &cx;
    jf_ingest_stats s;
    jf_status rc = jf_ingest_run(st, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), &p, &s, &err);
    progress_done(&pg);
    jf_store_close(st);
    free(roots);
    uint64_t went = s.seen - s.outcome[JF_OUT_OK] - s.outcome[JF_OUT_ALREADY_PRESENT];
    uint64_t bad_inputs = s.inputs_failed + s.inputs_incomplete;
    /* given only img2dataset's side files: nothing was read, for a reason jf knows */
    int only_side = !rc && s.side_files && !s.inputs && !s.inputs_skipped && !s.inputs_other_part;
    if (only_side && !o.quiet)
        fprintf(stderr, "jf ingest: nothing read: every input is an img2dataset side file (NNNNN.parquet beside "
                        "NNNNN.tar, NNNNN_stats.json); give the tars\n");
    char hb[32];
    if (o.json) {
        jw_obj(&w);
        jw_kstr(&w, "summary", rc ? "failed" : bad_inputs ? "some inputs could not be read" : went ? "some samples went"
                               : only_side ? "nothing read: only side files" : "ok");
        if (rc)
            jw_kstr(&w, "error", err.msg);
        jw_kint(&w, "run_id", s.run_id);
        jw_kint(&w, "inputs", (long long)s.inputs);
        jw_kint(&w, "inputs_skipped", (long long)s.inputs_skipped);
        jw_kint(&w, "inputs_other_part", (long long)s.inputs_other_part);
        jw_kint(&w, "inputs_failed", (long long)s.inputs_failed);
        jw_kint(&w, "inputs_incomplete", (long long)s.inputs_incomplete);
        jw_kint(&w, "side_files", (long long)s.side_files);
        jw_kint(&w, "seen", (long long)s.seen);
        jw_key(&w, "outcomes");
        jw_obj(&w);
        for (int k = 0; k < JF_OUT_COUNT_; k++)
            jw_kint(&w, jf_outcome_name((jf_outcome)k), (long long)s.outcome[k]);
        jw_end_obj(&w);
        jw_key(&w, "notes");
        jw_obj(&w);
        for (int k = 0; k < JF_NOTE_COUNT_; k++)
            jw_kint(&w, jf_note_name((jf_note)k), (long long)s.note[k]);
        jw_end_obj(&w);
        jw_key(&w, "missing_by_prefix");
        jw_obj(&w);
        for (size_t i = 0; i < s.n_missing_prefixes; i++)
            jw_kint(&w, s.missing_by_prefix[i].prefix, (long long)s.missing_by_prefix[i].count);
        jw_end_obj(&w);
        jw_kint(&w, "http_4xx", (long long)s.http_status[4]);
        jw_kint(&w, "http_404", (long long)s.http_404);
        jw_kint(&w, "http_5xx", (long long)s.http_status[5]);
        jw_kint(&w, "downloaded_bytes", (long long)s.downloaded_bytes);
        jw_kint(&w, "records_written", (long long)s.records_written);
        jw_kint(&w, "image_bytes", (long long)s.image_bytes);
        jw_knum(&w, "seconds", s.seconds);
        jw_knum(&w, "samples_per_second", s.seconds > 0 ? s.seen / s.seconds : 0);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet || rc) {
        printf("ingested %llu inputs (%llu done before, %llu left to other parts, %llu img2dataset side files): "
               "%llu samples seen, %llu written, %s of images, %.1f s (%.0f samples/s)\n",
               (unsigned long long)s.inputs, (unsigned long long)s.inputs_skipped, (unsigned long long)s.inputs_other_part,
               (unsigned long long)s.side_files,
               (unsigned long long)s.seen, (unsigned long long)s.records_written,
               human_bytes((double)s.image_bytes, hb, sizeof hb), s.seconds, s.seconds > 0 ? s.seen / s.seconds : 0);
        if (s.inputs_failed)
            printf("  inputs not read       %10llu\n", (unsigned long long)s.inputs_failed);
        if (s.inputs_incomplete)
            printf("  inputs read in part   %10llu  (read again by the next run)\n", (unsigned long long)s.inputs_incomplete);
        for (int k = 0; k < JF_OUT_COUNT_; k++)
            if (s.outcome[k])
                printf("  %-20s %10llu\n", jf_outcome_name((jf_outcome)k), (unsigned long long)s.outcome[k]);
        for (int k = 0; k < JF_NOTE_COUNT_; k++)
            if (s.note[k])
                printf("  note: %-14s %10llu\n", jf_note_name((jf_note)k), (unsigned long long)s.note[k]);
        if (s.http_status[4] || s.http_status[5])
            printf("  http errors: %llu 4xx (%llu of them 404), %llu 5xx\n", (unsigned long long)s.http_status[4],
                   (unsigned long long)s.http_404, (unsigned long long)s.http_status[5]);
        for (size_t i = 0; i < s.n_missing_prefixes; i++)
            printf("  missing images under %-20s %llu\n", s.missing_by_prefix[i].prefix,
                   (unsigned long long)s.missing_by_prefix[i].count);
    }
    if (rc)
        return fail("ingest", &err);
    return went || bad_inputs || only_side ? EXIT_PROBLEMS : 0;
}
