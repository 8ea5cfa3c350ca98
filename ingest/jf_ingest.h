/*
 * jf_ingest.h — reading image–text datasets into the shard store.
 * (Image decoding, checking and resizing are in jf_shards.h, shared with filter and eval.)
 *
 * Inputs, detected by content: WebDataset / img2dataset tars and SA-1B tars (plain or
 * compressed, local or streamed over http(s) with resume), JSON arrays and JSONL files of
 * ShareGPT4V / LLaVA conversations, image+caption manifests with local paths, text-only
 * corpora, and URL lists (CSV, TSV, JSONL, plain) downloaded concurrently. Every image is decoded and checked; every
 * sample ends with one outcome (ok, or the reason it went), counted, stored in the index, and
 * reported. Runs are resumable and can be split with part K/N.
 */
#ifndef JF_INGEST_H
#define JF_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ingestion ---- */

/* The outcome of every sample an ingest run sees. Numbers are stable. */
typedef enum jf_outcome {
    JF_OUT_OK = 0,
    JF_OUT_ALREADY_PRESENT,   /* the index holds the key already (resumed run) */
    JF_OUT_DUPLICATE_KEY,     /* a second sample with a key seen in this run */
    JF_OUT_NOT_ADJACENT,      /* members of a key that re-appear apart from its first ones */
    JF_OUT_DECODE_ERROR,      /* the image is damaged or cut short */
    JF_OUT_EMPTY_FILE,        /* a zero-byte image */
    JF_OUT_UNSUPPORTED_FORMAT,/* not JPEG, PNG or WebP */
    JF_OUT_TOO_LARGE,         /* header claims more pixels than allowed (decompression bomb) */
    JF_OUT_TOO_SMALL,         /* shorter side under --min-side */
    JF_OUT_BAD_ASPECT,        /* long/short side ratio over --max-aspect */
    JF_OUT_MISSING_IMAGE,     /* a manifest names an image file that is not under any root */
    JF_OUT_MISSING_PAIR,      /* SA-1B image without its JSON, or annotations without image */
    JF_OUT_BAD_RECORD,        /* a manifest record that is not usable (bad JSON, no content) */
    JF_OUT_TRUNCATED,         /* the sample was being read when its tar ended early */
    JF_OUT_HTTP_ERROR,        /* the server answered with an error status (counted per status) */
    JF_OUT_TIMEOUT,           /* no complete answer within the time limits */
    JF_OUT_NETWORK_ERROR,     /* DNS, connection refused or reset, TLS, too many redirects */
    JF_OUT_OPTED_OUT,         /* X-Robots-Tag: noai / noimageai / noindex / noimageindex */
    JF_OUT_HASH_MISMATCH,     /* the downloaded bytes do not match the row's hash column (--verify-hash) */
    JF_OUT_REFUSED_MEMBER,    /* a tar member of the sample was refused (link, device, over the size
                               * limit): the rest is not stored as a sample of another kind */
    JF_OUT_COUNT_
} jf_outcome;

const char *jf_outcome_name(jf_outcome o); /* "ok", "decode_error", ... */

/* Notes: things fixed or worth knowing on samples that were kept. */
typedef enum jf_note {
    JF_NOTE_CAPTION_REPAIRED = 0, /* caption was not valid UTF-8; bad bytes became U+FFFD */
    JF_NOTE_EXTENSION_MISMATCH,   /* e.g. PNG bytes in a .jpg member; stored under "png" */
    JF_NOTE_METADATA_INVALID,     /* a .json member that is not a JSON object (kept as bytes) */
    JF_NOTE_REJECTED_MEMBER,      /* tar members skipped: links, absolute or ../ paths, no key.ext
                                   * (a sample with a refused member goes as refused_member) */
    JF_NOTE_COUNT_
} jf_note;

const char *jf_note_name(jf_note n);

/* Downloads: URL lists, and tars or lists given as http(s):// inputs. */
typedef struct jf_http_params {
    int parallel;               /* transfers at once (default 64) */
    int per_host;               /* connections per host (default 8) */
    int timeout;                /* seconds per image download (default 20) */
    int connect_timeout;        /* seconds (default 10) */
    int stall_timeout;          /* a stream below 1 byte/s this long is cut (default 30) */
    int retries;                /* extra attempts for timeouts, resets and 5xx/408/429 (default 2) */
    double backoff;             /* seconds before the first retry, doubling (default 1) */
    const char *user_agent_token; /* appended to the user agent, and matched in X-Robots-Tag */
    int ignore_robots;          /* do not honour X-Robots-Tag opt-outs */
    uint64_t max_bytes;         /* largest image download (default 64 MiB) */
} jf_http_params;

typedef struct jf_ingest_params {
    int threads;                /* decode workers; 0 = the number of CPUs */
    uint32_t part_k, part_n;    /* take part K of N (0-based); n <= 1 = everything */
    const char *source;         /* source name; default: per input (folder or file name) */
    const char *const *image_roots; /* folders where manifest image paths are resolved */
    size_t n_image_roots;       /* 0 = the manifest's own folder */
    const char *captions;       /* JSON or JSONL captions joined to SA-1B images, or NULL */
    jf_image_limits limits;
    int min_side;               /* drop images whose shorter side is smaller (0 = keep) */
    double max_aspect;          /* drop images with long/short above this (0 = no limit) */
    int full_decode;            /* JPEG check at full scale (default: 1/8 DCT scale, or full scale
                                 * when the analysis columns are computed) */
    int no_analysis;            /* skip the img_mean/img_std/img_entropy/phash columns */
    int fast_analysis;          /* reduced-scale analysis, written as img_mean_approx, img_std_approx,
                                 * img_entropy_approx, phash_approx (not the reference's values) */
    jf_resize_params resize;    /* mode KEEP (default) stores the original bytes */
    size_t batch;               /* samples decoded in parallel per batch (default 256) */
    jf_http_params http;
    jf_writer_params writer;
    /* URL lists and parquet: the URL column (default: url, URL, image_url or img_url), the
     * caption column (default: caption, TEXT, text, txt or title), and the metadata columns kept
     * (comma-separated; NULL: all). Parquet without a URL column: image bytes from image.bytes
     * (a Hugging Face image struct), image, jpg, png or bytes. */
    const char *url_col, *caption_col, *keep_columns;
    /* img2dataset's --compute_hash: "md5", "sha256" or "sha512" of each downloaded image's bytes,
     * stored as a column of that name (hex); --verify_hash: the row column holding the expected
     * hex digest and its algorithm — a row whose bytes differ fails as hash_mismatch */
    const char *compute_hash, *verify_hash_col, *verify_hash_algo;
    uint64_t max_row_group_bytes; /* parquet: one column chunk's limit (0: 512 MiB) */
    jf_problem_fn on_problem;   /* every reason a sample went, with input and offset */
    void *user;
    jf_progress_fn on_progress; /* (user, samples seen, 0) */
} jf_ingest_params;

jf_ingest_params jf_ingest_default_params(void);

typedef struct jf_prefix_count {
    char prefix[128];
    uint64_t count;
} jf_prefix_count;

typedef struct jf_ingest_stats {
    uint64_t inputs;          /* inputs read in this run */
    uint64_t inputs_skipped;  /* inputs a previous run finished (same size and mtime, and no failure
                               * that a new attempt may mend: network errors, missing images) */
    uint64_t inputs_failed;   /* inputs not read at all (missing, unreadable, not a known format) */
    uint64_t inputs_incomplete; /* inputs read in part (a tar cut short, a manifest damaged midway):
                               * what was read is kept; the input is read again by the next run */
    uint64_t inputs_other_part; /* inputs left to other parts (--part) */
    uint64_t side_files;      /* img2dataset _stats.json / .parquet files recognised and skipped */
    uint64_t seen;            /* samples seen */
    uint64_t outcome[JF_OUT_COUNT_];
    uint64_t note[JF_NOTE_COUNT_];
    jf_prefix_count missing_by_prefix[64]; /* missing manifest images by path prefix */
    size_t n_missing_prefixes;
    uint64_t http_status[6];  /* http_error outcomes by class: [4] = 4xx, [5] = 5xx */
    uint64_t http_404;        /* of which 404 */
    uint64_t downloaded_bytes;
    uint64_t image_bytes;     /* bytes of images stored */
    uint64_t records_written;
    double seconds;
    int64_t run_id;           /* row of ingest_runs in the index */
} jf_ingest_stats;

/* Expands shard patterns: `::` separates patterns; braces as bash/braceexpand
 * (`{000..099}` keeps zero padding, `{a,b}`, nesting, `\` escapes); then `*`, `?` and `[...]`
 * glob local paths (sorted). Each result is passed to `fn`. Returns JF_EARG for unbalanced
 * braces or ranges over 10 million items. */
jf_status jf_expand_pattern(const char *spec, void (*fn)(void *user, const char *path), void *user,
                            jf_error *err);

/* Ingests the inputs into the store. Problems with single samples are outcomes, not errors:
 * the return is an error only when the run cannot go on (store, disk, memory). */
jf_status jf_ingest_run(jf_store *st, const char *const *inputs, size_t n_inputs,
                        const jf_ingest_params *params, jf_ingest_stats *stats, jf_error *err);

/* jf_image_check that also computes jf_image_stats (when `stats` is not NULL), with one decode
 * for JPEGs: the check then runs at the scale the statistics need (full size, or with `approx`
 * the reduced scale of jf_image_analyze's approximation). */
jf_image_status jf_image_check_stats(const uint8_t *data, size_t size, const jf_image_limits *limits,
                                     int full_decode, int approx, jf_image_info *info, jf_image_stats *stats,
                                     char *detail, size_t detail_len);

/* Fills an RGB image with a deterministic picture (gradients, discs, bars, texture) from seed. */
void jf_synth_picture(uint8_t *rgb, int width, int height, uint64_t seed);

typedef struct jf_synth_params {
    uint64_t seed;
    int laion_samples;     /* img2dataset-style tar: jpg + txt + json per sample */
    int sa1b_samples;      /* SA-1B-style tar: sa_N.jpg + sa_N.json */
    int sharegpt_records;  /* ShareGPT4V-style JSON + image folder (some text-only) */
    int text_records;      /* text-only JSONL corpus */
    int bad_samples;       /* add damaged inputs: corrupt JPEG, 1x1 image, truncated tar */
    int min_side, max_side; /* picture sizes (default 96..320) */
} jf_synth_params;

jf_synth_params jf_synth_default_params(void);

typedef struct jf_synth_report {
    int files;
    uint64_t bytes;
    int images;
} jf_synth_report;

/* Writes a small LAION-style / SA-1B-style / ShareGPT4V-style sample set into `dir`:
 *   laion/00000.tar, laion/00000_stats.json       (img2dataset webdataset output)
 *   sa1b/sa_000000.tar                            (SA-1B pairs)
 *   sharegpt4v/sharegpt4v_demo.json + data/...    (LLaVA-style conversations and images)
 *   text/corpus.jsonl                             (text-only records)
 * Real JPEG bytes (libjpeg-turbo) and real tar files (libarchive). Deterministic from seed. */
jf_status jf_synth_write(const char *dir, const jf_synth_params *params, jf_synth_report *report,
                         jf_error *err);

#ifdef __cplusplus
}
#endif
#endif
