/*
 * jf_ingest.h — reading image–text datasets into the shard store.
 *
 * This header currently holds the synthetic sample-set generator used by the README's main
 * job, the benchmarks and the tests; the ingest pipeline itself (issue #3) lands here next.
 */
#ifndef JF_INGEST_H
#define JF_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodes an RGB (3 bytes per pixel, row-major) or grayscale image as a baseline JPEG.
 * *out is malloc'd by the function; free() it. */
jf_status jf_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                         uint8_t **out, size_t *out_len, jf_error *err);

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
