/*
 * jf_eval.h — evaluation: FID and KID with the numbers of pytorch-fid, clean-fid,
 * torch-fidelity and torchmetrics (evaluation.md §1), on the model module's FID Inception and
 * the shards module's images.
 *
 * Statistics are double precision; the Fréchet distance goes through the symmetric eigen route
 * (LAPACK dsyevd), which equals sqrtm's trace to rounding.
 */
#ifndef JF_EVAL_H
#define JF_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "jf_model.h"
#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- image preprocessing for the FID Inception (evaluation.md §1.1–1.2) ---- */

typedef enum jf_fid_mode {
    JF_FID_CLEAN = 0,       /* clean-fid "clean": PIL bicubic on float per channel, clip, (x − 128)/128 */
    JF_FID_PYTORCH,         /* pytorch-fid: x/255, bilinear without antialias (align_corners=False), 2x − 1 */
    JF_FID_LEGACY_TF,       /* TTUR / torch-fidelity / clean-fid legacy_tensorflow: TF1 bilinear on [0,255], (x − 128)/128 */
    JF_FID_TORCHMETRICS     /* torchmetrics ≥ 1.8: antialiased bilinear on [0,255], (x − 128)/128 */
} jf_fid_mode;

const char *jf_fid_mode_name(jf_fid_mode m);
/* "clean", "pytorch-fid", "legacy-tensorflow" (also "torch-fidelity"), "torchmetrics"; -1 if unknown. */
int jf_fid_mode_parse(const char *name, jf_fid_mode *out);

/* RGB (w x h, 3 bytes per pixel) → the network input [3][299][299] of a mode. Returns 0, or -1
 * when out of memory. */
int jf_fid_preprocess(const uint8_t *rgb, int w, int h, jf_fid_mode mode, float *out);

/* The GigaGAN / Janus text-to-image protocol's first step (§1.9): centre crop to the short side
 * (torchvision offsets, round half to even), then PIL Lanczos to size x size. out: size*size*3. */
int jf_fid_gigagan_crop(const uint8_t *rgb, int w, int h, int size, uint8_t *out);

/* ---- image sources ---- */

typedef struct jf_image_source jf_image_source;
typedef struct jf_image_item {
    const uint8_t *data;  /* the encoded image, valid until the next call */
    size_t size;
    const char *name;     /* a path, tar:member, or sample key (for messages) */
    const char *caption;  /* from the dataset or a .txt beside the image; NULL if none */
} jf_image_item;

/* A folder (recursive, sorted by path; jpg/jpeg/png/webp/bmp/gif/tif), a tar (any compression),
 * or a jf dataset directory, optionally one subset written by jf filter: DIR#SUBSET. */
jf_status jf_image_source_open(const char *spec, jf_image_source **out, jf_error *err);
/* JF_OK with the next image, JF_ENOTFOUND at the end, or an error. */
jf_status jf_image_source_next(jf_image_source *s, jf_image_item *item, jf_error *err);
/* The number of images when known up front (folders), else 0. */
uint64_t jf_image_source_total(const jf_image_source *s);
void jf_image_source_close(jf_image_source *s);

/* ---- features ---- */

typedef struct jf_fid_params {
    jf_fid_mode mode;
    int gigagan_size;   /* > 0: centre crop + Lanczos to this size first (the Janus T2I protocol, 256) */
    int batch;          /* images per network call (default 16) */
    uint64_t limit;     /* stop after this many images (0 = all) */
    unsigned part_k, part_n; /* part_n > 1: only images I (source order) with I % part_n == part_k */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void *user;
} jf_fid_params;

typedef struct jf_feature_set {
    float *feats;       /* [n][2048] */
    size_t n;
    uint64_t seen, undecodable;
    char first_bad[5400]; /* the first image that did not decode, and why */
} jf_feature_set;

/* Pool_3 features of every image of a source. Images that do not decode are counted and the
 * first is named, never skipped silently. */
jf_status jf_fid_features(jf_inception *net, const char *source, const jf_fid_params *p, jf_feature_set *out,
                          jf_error *err);
void jf_feature_set_free(jf_feature_set *f);

/* ---- statistics ---- */

typedef struct jf_fid_stats {
    int dims;
    uint64_t n;
    double *mu;    /* [dims] */
    double *sigma; /* [dims][dims], unbiased (N − 1) */
} jf_fid_stats;

/* mu and sigma of n feature rows (two-pass, in double, as numpy's mean and cov). */
jf_status jf_fid_stats_compute(const float *features, size_t n, int dims, jf_fid_stats *out, jf_error *err);
void jf_fid_stats_free(jf_fid_stats *s);

typedef struct jf_frechet_result {
    double fid;
    double trace_sqrt;   /* Tr((Σ1 Σ2)^½) */
    double min_eig;      /* the smallest eigenvalue of Σ1^½ Σ2 Σ1^½ before clamping */
    double max_eig;
    int clamped;         /* eigenvalues below zero set to zero */
    int identical;       /* the two statistics are the same bytes: fid is exactly 0 */
    double negative;     /* a value below 0 that rounding gave (fid is then 0), else 0 */
} jf_frechet_result;

/* ‖μ1 − μ2‖² + Tr Σ1 + Tr Σ2 − 2 Tr((Σ1 Σ2)^½). strict = 1 reproduces pytorch-fid's error for a
 * clearly complex square root (an eigenvalue below −1e-3 · the largest): JF_ELIMIT with a message.
 * Identical statistics give exactly 0; a value that rounding makes negative (nearly equal sets)
 * is reported as 0 with the value in `negative` (pytorch-fid would print it as it is). */
jf_status jf_frechet_distance(const jf_fid_stats *a, const jf_fid_stats *b, int strict, jf_frechet_result *out,
                              jf_error *err);

typedef struct jf_kid_result {
    double mean, std; /* std: population (numpy's np.std), as torch-fidelity reports */
    int subsets, subset_size;
} jf_kid_result;

/* KID: unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³ over `subsets` random
 * subsets of `subset_size` rows of each set (0, 0 = 100 and min(1000, na, nb)). Subsets are
 * drawn as torch-fidelity draws them: numpy RandomState(seed).choice(n, m, replace=False), set 1
 * then set 2, per subset (seed 2020 in torch-fidelity). */
jf_status jf_kid(const float *a, size_t na, const float *b, size_t nb, int dims, int subsets, int subset_size,
                 uint32_t seed, jf_kid_result *out, jf_error *err);

/* ---- CLIP score (evaluation.md §2) ---- */

/* RGB → CLIP pixels [3][size][size]: shorter side to size (PIL bicubic on 8 bits), centre crop
 * (openai = 1: torchvision's round-half-even offsets and float /255, as OpenAI's clip._transform
 * and Hessel's CLIPScore; 0: Hugging Face CLIPImageProcessor's floor offsets and ×1/255 in
 * double), CLIP mean/std. Returns 0, or -1 when out of memory. */
int jf_clip_preprocess(const uint8_t *rgb, int w, int h, int size, int openai, float *out);

typedef enum jf_clipscore_kind {
    JF_CLIPSCORE_TORCHMETRICS = 0, /* 100·cos per pair, the mean clamped at 0 (torchmetrics CLIPScore) */
    JF_CLIPSCORE_HESSEL,           /* 2.5·max(cos, 0) per pair, "A photo depicts" prefix (Hessel et al.) */
    JF_CLIPSCORE_COSINE            /* plain cosine (GigaGAN / Janus evaluation script) */
} jf_clipscore_kind;
const char *jf_clipscore_kind_name(jf_clipscore_kind k);
int jf_clipscore_kind_parse(const char *name, jf_clipscore_kind *out);
double jf_clip_cosine(const float *a, const float *b, int n);
/* A pair's score and the set's score (the mean; torchmetrics clamps the mean at 0). */
double jf_clipscore_sample(jf_clipscore_kind kind, double cosine);
double jf_clipscore_total(jf_clipscore_kind kind, const double *samples, size_t n);

typedef struct jf_clipscore_params {
    jf_clipscore_kind kind;
    int preprocess;          /* -1 = by kind (Hugging Face for torchmetrics, OpenAI otherwise), 0 HF, 1 OpenAI
                              * (clip._transform for images; captions through html.unescape twice as
                              * clip.tokenize's basic_clean does — its ftfy.fix_text is not reproduced) */
    const char *prefix;      /* NULL = by kind ("A photo depicts" for hessel and cosine) */
    int torchmetrics_slice;  /* cut long captions as torchmetrics does instead of truncating */
    const char *prompts;     /* a file of prompts, one per line, paired in order with the images */
    const char *column;      /* dataset sources: write each pair's score into this index column */
    const char *column_part; /* ... or into this column part file (jf_colpart_*: a job array's task) */
    const char *part_job;    /* the job's fingerprint, for the column part */
    unsigned part_k, part_n; /* part_n > 1 (dataset sources): the samples I with I % part_n == part_k */
    uint64_t limit;
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void *user;
} jf_clipscore_params;

typedef struct jf_clipscore_result {
    double score, mean_cosine;
    size_t n;
    double *samples;         /* per pair, in order: its score */
    double *cosines;         /* per pair: the cosine of the two embeddings */
    char **keys;             /* the pair's image name (a sample key for datasets, else the file) */
    char **captions;         /* the pair's caption as given (before a prefix or unescaping) */
    uint64_t seen, no_caption, undecodable, bad_records, long_captions, written;
    char first_bad[5400];
} jf_clipscore_result;

/* Scores every (image, caption) pair of a source: a dataset or folder/tar with captions, a
 * JSONL of {"image": path, "text"|"caption": ...}, or images paired with a prompts file. */
jf_status jf_clipscore_run(jf_clip *m, const char *source, const jf_clipscore_params *p, jf_clipscore_result *out,
                           jf_error *err);
void jf_clipscore_result_free(jf_clipscore_result *r);

/* ---- .npz statistics files (pytorch-fid / clean-fid layout) ---- */

/* Reads mu/sigma (f8 or f4) from an .npz (stored or deflated), or `feats` (KID files) when
 * feats is not NULL (*feats malloc'd float [*n][*dims]). Shapes and dtypes are checked. */
jf_status jf_npz_read_stats(const char *path, jf_fid_stats *stats, float **feats, size_t *n_feats, int *feat_dims,
                            jf_error *err);
/* Writes mu and sigma as float64, like np.savez_compressed(path, mu=mu, sigma=sigma). */
jf_status jf_npz_write_stats(const char *path, const jf_fid_stats *stats, jf_error *err);

/* ---- statistics in parts (job arrays) ----
 * A part file is an ordinary statistics .npz (mu, sigma of its images; zeros when it has fewer
 * than two) with two more members: jf_part.npy [k, parts, n] and jf_protocol.txt (what made the
 * features: mode, crop, weights hash, source). Parts merge exactly (Chan et al.'s pairwise
 * update of means and co-moments, in double): the merged mu and sigma equal one run over all
 * the images to rounding. */
typedef struct jf_stats_part {
    unsigned k, parts;
    uint64_t n;
    char protocol[1024];
} jf_stats_part;
/* The statistics of n feature rows (any n, even 0 or 1) as a part. */
jf_status jf_fid_stats_part(const float *features, size_t n, int dims, jf_fid_stats *out, jf_error *err);
jf_status jf_npz_write_stats_part(const char *path, const jf_fid_stats *stats, const jf_stats_part *part, jf_error *err);
/* A part file's statistics and part record (JF_EFORMAT when the file is not a part). */
jf_status jf_npz_read_stats_part(const char *path, jf_fid_stats *stats, jf_stats_part *part, jf_error *err);
/* Merges parts 0..parts-1 of one job: every part exactly once (a missing or repeated part is
 * named), all with the same protocol and part count. */
jf_status jf_fid_stats_merge(const jf_fid_stats *stats, const jf_stats_part *parts, const char *const *names, size_t n,
                             jf_fid_stats *out, jf_error *err);
/* A float16, float32 or float64 .npy array of up to 4 dimensions (C order) → float32 values (malloc'd)
 * and its shape (unused dimensions 1). */
jf_status jf_npy_read_f32(const char *path, float **values, uint64_t shape[4], int *ndim, jf_error *err);
/* Named arrays as one .npz (numpy's format; members NAME.npy), written beside the target and
 * renamed. descr is numpy's dtype string ("<f4", "<i4", "<i8", "|u1", "<u2", ...); ndim 0..4. */
typedef struct jf_npy_array {
    const char *name;
    const char *descr;
    int ndim;
    uint64_t shape[4];
    const void *data;
} jf_npy_array;
jf_status jf_npz_write(const char *path, const jf_npy_array *arrays, size_t n, int deflate, jf_error *err);
/* The same .npz bytes (stored) in memory: *buf malloc'd, the caller frees it. */
jf_status jf_npz_write_memory(const jf_npy_array *arrays, size_t n, uint8_t **buf, size_t *len, jf_error *err);
/* One array as .npy bytes (malloc'd; NULL for an unsupported dtype or rank, or no memory). */
uint8_t *jf_npy_encode(const jf_npy_array *a, size_t *len);
/* A .npy held in memory (float64, float32 or float16) → float32 values as jf_npy_read_f32;
 * `what` names it in errors. */
jf_status jf_npy_decode_f32(const void *buf, size_t len, const char *what, float **values, uint64_t shape[4], int *ndim,
                            jf_error *err);
/* A 2-D float32 array as a .npy file (numpy's format 1.0), written whole or not at all. */
jf_status jf_npy_write_f32(const char *path, const float *v, size_t rows, size_t cols, jf_error *err);


/* ---- text to image: prompts, and images generated into files or a dataset (issue #11) ---- */

typedef struct jf_prompt {
    char *id;     /* from the file ("id", "key", "image_id"), or the prompt's 0-based index as %06zu */
    char *text;
    int64_t seed; /* the row's own seed, −1 when none */
} jf_prompt;
typedef struct jf_prompt_list {
    jf_prompt *v;
    size_t n;
} jf_prompt_list;
/* Prompts from a file ("-": stdin): .jsonl/.json one object a line ({"prompt"|"caption"|"text",
 * optional "id"|"key"|"image_id", optional "seed"}); .csv/.tsv with a header naming a
 * prompt|caption|text column (and optionally id, seed); anything else one prompt a line. Blank
 * lines are skipped; a bad line is an error naming its line. */
jf_status jf_prompts_read(const char *path, jf_prompt_list *out, jf_error *err);
void jf_prompts_free(jf_prompt_list *l);

/* One image done (or a prompt failed: index −1, error set). */
typedef struct jf_generated {
    const char *id;
    int index;
    const char *prompt;
    uint64_t seed;
    const char *where; /* file path or dataset key */
    double seconds;
    const char *error;
} jf_generated;

typedef struct jf_generate_params {
    jf_t2i_params t2i;        /* steps, cfg, match_reference (on_step is jf_generate's) */
    int per_prompt;           /* images per prompt [1] */
    uint64_t seed;            /* image j of prompt i: seed + i·per_prompt + j, or the row's seed + j */
    const float *noise;       /* initial latents for every prompt's images instead (per_prompt × latent) */
    size_t noise_count;
    const char *noise_name;   /* recorded in the sidecars */
    int truncate;             /* 8-bit as the JanusFlow demo (truncate) instead of save_image (round) */
    int jpeg_quality;         /* 0: PNG; else JPEG at this quality */
    const char *out_dir;      /* DIR/ID-J.png + DIR/ID-J.json (the sidecar, written last) */
    jf_store *into;           /* or samples of kind generation: key PREFIX/ID-J, png/jpg + txt + json
                               * fields, columns gen_seed, gen_steps, gen_cfg, gen_model_hash,
                               * gen_vae_hash, width, height */
    const char *key_prefix;   /* ["gen"] */
    unsigned part_k, part_n;  /* prompts i with i % part_n == part_k [0/1] */
    const char *model_name, *vae_name, *jf_version; /* recorded in the sidecars */
    void (*on_image)(void *user, const jf_generated *g);
    void *user;
    jf_progress_fn progress;  /* over sampling steps of all images of this part */
    void *progress_user;
} jf_generate_params;
jf_generate_params jf_generate_default_params(void);

typedef struct jf_generate_report {
    uint64_t generated, skipped, failed, other_part;
    double seconds;
    char first_failure[1024];
} jf_generate_report;

/* Generates every image of the prompts (of this part) not already finished: the noise of its
 * seed (jf_t2i_noise), the model's sampling, the VAE decode of z / scaling_factor, 8-bit, PNG or
 * JPEG. A prompt the model refuses (too long for the context, ...) is counted as failed and the
 * run goes on; an I/O error (full disk) stops it, finished images staying complete. */
jf_status jf_generate(jf_janus *m, jf_vae *vae, const jf_prompt_list *prompts, const jf_generate_params *p,
                      jf_generate_report *r, jf_error *err);

/* ---- understanding benchmarks: scoring predictions as the cited tools do (evaluation.md §3) ----
 * Each number is computed in the tool's own arithmetic and order and printed as it prints it
 * (metric text = Python's repr), under the protocol that produced it. */

typedef enum jf_bench_kind {
    JF_BENCH_VQAV2,
    JF_BENCH_POPE,
    JF_BENCH_MME,
    JF_BENCH_GQA,
    JF_BENCH_MMMU,
    JF_BENCH_MMBENCH,
    JF_BENCH_SEED,
    JF_BENCH_COUNT_
} jf_bench_kind;
typedef enum jf_bench_protocol {
    JF_BENCH_OFFICIAL = 0, /* the benchmark's own scorer (vqaEval.py, POPE evaluate.py, MME calculation.py) */
    JF_BENCH_LLAVA,        /* LLaVA's scripts: VQAv2 through its submission converter; POPE per split */
    JF_BENCH_LMMS_EVAL,    /* lmms-eval's task utils and aggregations (at 75571cf) */
    JF_BENCH_VLMEVALKIT    /* not implemented yet */
} jf_bench_protocol;

const char *jf_bench_name(jf_bench_kind k);
int jf_bench_parse(const char *name, jf_bench_kind *out);
const char *jf_bench_protocol_name(jf_bench_protocol p);
int jf_bench_protocol_parse(const char *name, jf_bench_protocol *out);

typedef struct jf_bench_inputs {
    const char *data;        /* VQAv2: annotations JSON (or its folder); POPE: label file(s) or folder */
    const char *predictions; /* results list / answers JSON lines; MME: the results folder */
    const char *questions;   /* POPE with several splits: LLaVA's question file (question_id → category) */
    jf_bench_protocol protocol;
} jf_bench_inputs;

typedef struct jf_bench_metric {
    char name[96];   /* "overall", "answer_type/yes/no", "random/f1", "perception", … */
    double value;
    char text[40];   /* as the tool prints it */
} jf_bench_metric;

typedef struct jf_bench_item {
    char *id, *group;             /* question id; answer type / split / subtask */
    char *prediction, *parsed, *gold;
    double score;                 /* the tool's per-item value (VQAv2: round(100·acc, 2); else 0/1) */
    char score_text[40];
} jf_bench_item;

typedef struct jf_bench_report {
    jf_bench_kind kind;
    jf_bench_protocol protocol;
    char split[64];
    char headline[96];            /* the metric papers report */
    jf_bench_metric *metrics;
    size_t n_metrics;
    jf_bench_item *items;
    size_t n_items;
    char **problems;              /* "file:line: what" — each bad input named and counted, never dropped */
    size_t n_problems;
    uint64_t missing, unknown, duplicates, empty;
} jf_bench_report;

jf_status jf_bench_score(jf_bench_kind kind, const jf_bench_inputs *in, jf_bench_report **out, jf_error *err);
const jf_bench_metric *jf_bench_find_metric(const jf_bench_report *r, const char *name);
void jf_bench_report_free(jf_bench_report *r);

/* ---- a benchmark read from a jf dataset (bench_dataset.c) ---- */
/* Whether --data names a jf dataset (DIR or DIR#SUBSET with an index.sqlite). */
int jf_bench_is_dataset(const char *spec);
typedef struct jf_bench_dataset_files {
    char data[4200];   /* the benchmark's file or folder, in its published layout, for --data */
    char images[4200]; /* the questions' images under their relative paths, for --images ("": inside) */
    size_t questions, splits;
} jf_bench_dataset_files;
/* Writes the questions that `jf ingest` took from a benchmark's own files back into `scratch` in
 * the published layout, for jf_bench_answer and jf_bench_score to read: POPE's label files (each
 * record's .json row, image and image_path); GQA's questions document, VQAv2's questions and
 * annotations, SEED-Bench.json, MME's <subtask>.txt files (records of ingest's benchmark question
 * files: .json {bench, row, ...}, images under their image_path); MMMU's rows as JSON lines with
 * base64 images (the validation shards when the dataset has them); or the VLMEvalKit TSV that the
 * benchmark under the protocol reads (each record's .json row and its images as base64, one list
 * cell when a row has several). Questions whose image failed on ingest make it fail, naming them;
 * a record of another layout is named. */
jf_status jf_bench_from_dataset(jf_bench_kind kind, jf_bench_protocol proto, const char *spec, const char *scratch,
                                jf_bench_dataset_files *out, jf_error *err);

/* ---- answering benchmarks with the built-in model (bench_run.c) ---- */
typedef struct jf_bench_run_params {
    jf_bench_protocol protocol; /* whose prompt wording and generation length */
    const char *data;           /* POPE: label file(s) or folder; MME: the eval tool's question files;
                                 * MMBench: the benchmark TSV (images inside, base64) */
    const char *images;         /* POPE: the COCO val2014 folder; MME: the benchmark's image folder */
    const char *questions;      /* VQAv2: the questions file (v2_OpenEnded_mscoco_<split>_questions.json or
                                 * LLaVA's question JSONL) when --data holds the annotations; default:
                                 * the *questions*.json beside them */
    const char *out;            /* predictions in the tool's format: POPE answers.jsonl, MME results
                                 * folder, MMBench prediction TSV; read back to resume */
    size_t limit;               /* 0: all */
    unsigned part_k, part_n;    /* every part_n-th question from part_k */
    int batch;                  /* questions per batched generation [8] */
    int max_new_tokens;         /* 0: the protocol's */
    int no_shared_prefix;       /* 1: prefill every question whole (see jf_gen_params.share_image_prefix) */
    void (*on_progress)(void *user, size_t done, size_t total);
    void (*on_problem)(void *user, const char *key, const char *message);
    void *user;
} jf_bench_run_params;
jf_bench_run_params jf_bench_run_default_params(void);

typedef struct jf_bench_run_stats {
    size_t questions, already_answered, answered, failed;
    size_t shared_prefixes; /* questions whose image prefix was computed for an earlier one */
    uint64_t new_tokens;
    double seconds;
} jf_bench_run_stats;

/* Answers the benchmark's questions that the output does not hold yet (pope, mme, mmbench, seed,
 * vqav2, gqa) and
 * writes the output; score it with jf_bench_score. */
jf_status jf_bench_answer(jf_janus *m, jf_bench_kind kind, const jf_bench_run_params *p, jf_bench_run_stats *st,
                          jf_error *err);
/* The outputs of --part runs (or any split of one run) merged into p->out in the benchmark's own
 * order, as one run would have written it: position-matched scorers (POPE, MME's pairs) then see
 * the same lines. Questions are read from p->data as for answering; a question answered in two
 * parts keeps the first part's answer (the others are counted in st->failed and said through
 * on_problem). stats: questions, answered (taken), already_answered (= answered). */
jf_status jf_bench_merge(jf_bench_kind kind, const jf_bench_run_params *p, const char *const *parts, size_t n_parts,
                         jf_bench_run_stats *st, jf_error *err);

/* The answer normalisations, exposed for tests: vqaEval.py's processPunctuation +
 * processDigitArticle, MMF's EvalAIAnswerProcessor (LLaVA's converter), POPE's no-rule, MME's parser
 * (on the lower-cased answer with its line end). Strings are malloc'd. */
char *jf_vqa_normalize(const char *answer);
char *jf_evalai_answer_process(const char *answer);
int jf_pope_says_no(const char *text);
const char *jf_mme_parse(const char *lowered);

#ifdef __cplusplus
}
#endif
#endif
