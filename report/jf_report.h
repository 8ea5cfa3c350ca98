/*
 * jf_report.h — one self-contained HTML page about a dataset and its evaluations.
 *
 * The page holds everything inline (CSS, SVG charts, thumbnails as JPEG data URIs): no script,
 * no external fetch, and a Content-Security-Policy that forbids both, so it opens anywhere and
 * hostile text in the data (a caption with <script>) can only ever show as text.
 *
 * Sections, each a <section id=...>: overview (samples by kind, source and image format; bytes),
 * ingest (outcomes per reason over all runs, the failures with file and offset), filters (the
 * funnel of every subset), columns (a histogram of every numeric index column, plus aspect
 * ratio), duplicates (the largest near-duplicate clusters with thumbnails), samples (a grid per
 * source, and one for a `where` rule), evaluation (FID/KID, CLIP score and benchmark results read
 * from the JSON that `jf eval ... --json` prints, with protocol and weights hash; benchmark
 * categories as bars).
 */
#ifndef JF_REPORT_H
#define JF_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jf_report_params {
    const char *title;          /* default: the dataset folder */
    const char *const *eval_files; /* JSON or JSON-lines outputs of jf eval (fid, clipscore, bench) */
    size_t n_eval_files;
    const char *where;          /* an extra sample grid for this rule (SQL over the index), or NULL */
    const char *subset;         /* the grids, histograms and overview of this subset only, or NULL */
    int thumbs_per_grid;        /* default 12 */
    int thumb_size;             /* longest thumbnail side in pixels, default 128 */
    int thumb_quality;          /* JPEG quality of thumbnails, default 70 */
    uint64_t max_bytes;         /* cap on the file: thumbnails beyond it are left out (and said);
                                 * default 8 MiB */
    int max_dup_clusters;       /* default 8 */
    int bins;                   /* histogram bins, default 24 */
} jf_report_params;

jf_report_params jf_report_default_params(void);

typedef struct jf_report_summary {
    uint64_t samples;           /* in the dataset (or subset) */
    uint64_t sections;
    uint64_t histograms;
    uint64_t thumbnails;        /* embedded */
    uint64_t thumbnails_left_out; /* over the size cap */
    uint64_t thumbnails_failed; /* images that could not be decoded (shown as such) */
    uint64_t eval_results;      /* results read from eval_files */
    uint64_t bytes;             /* size of the written file */
} jf_report_summary;

/* Writes the report of the store to `out_path` (through OUT.partial and a rename, so a killed run
 * never leaves a half page under the final name). An eval file that cannot be read or holds no
 * result jf knows is an error naming the file (and line). */
jf_status jf_report_write(jf_store *st, const jf_report_params *params, const char *out_path,
                          jf_report_summary *summary, jf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* JF_REPORT_H */
