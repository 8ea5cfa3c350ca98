/* Shared by the benchmark scorers (bench.c, bench_mmmu.c). */
#ifndef JF_EVAL_BENCH_INTERNAL_H
#define JF_EVAL_BENCH_INTERNAL_H

#include "eval_internal.h"

#include <stdio.h>
#include <yajl/yajl_tree.h>

void jf__bench_metric(jf_bench_report *r, const char *name, double value); /* text: Python's repr */
void jf__bench_count(jf_bench_report *r, const char *name, long long value);
void jf__bench_item(jf_bench_report *r, const char *id, const char *group, const char *prediction, const char *parsed,
                    const char *gold, double score);
void jf__bench_problem(jf_bench_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* vqaEval's processPunctuation (bench.c); comma_runs: EvalAI's digit-comma rule; digit_lookbehind:
 * VLMEvalKit's periodStrip, which keeps a "." that follows a digit. */
char *jf__vqa_punctuation(const char *in, int comma_runs, int digit_lookbehind);
/* A whole JSON file (NULL with err set). */
yajl_val jf__bench_read_json(const char *path, jf_error *err);
int jf__bench_is_dir(const char *path);

/* CPython's random module as far as the scorers use it: Random(seed) for an int seed
 * (init_by_array of MT19937), choice() through _randbelow / getrandbits. */
typedef struct jf__pyrandom {
    uint32_t mt[624];
    int i;
} jf__pyrandom;
void jf__pyrandom_seed(jf__pyrandom *r, uint32_t seed);
uint32_t jf__pyrandom_getrandbits(jf__pyrandom *r, int k); /* 1 ≤ k ≤ 32 */
size_t jf__pyrandom_randbelow(jf__pyrandom *r, size_t n);  /* what choice() draws */

/* A TSV as pandas.read_csv(sep='\t') reads it (bench_mcq.c). */
typedef struct jf__table {
    char **names;
    int n_cols;
    char ***rows; /* rows[r][c], NULL past a short row */
    size_t n_rows;
} jf__table;
int jf__read_tsv(const char *path, jf__table *t, jf_error *err);
void jf__free_table(jf__table *t);
int jf__col_index(const jf__table *t, const char *name); /* case-insensitive; -1 if absent */
int jf__pandas_na(const char *s);                         /* one of pandas' NA words (or NULL) */

/* MMBench / SEED-Bench (bench_mcq.c): VLMEvalKit's prediction TSV, circular or vanilla; SEED as
 * LLaVA's script scores it */
typedef enum jf__mcq_mode {
    JF__MCQ_VANILLA,  /* mcq_vanilla_eval (SEEDBench_IMG) */
    JF__MCQ_CIRCULAR, /* mcq_circular_eval (MMBench) */
    JF__MCQ_MMMU,     /* mcq_vanilla_eval with MMMU_preproc (MMMU_DEV_VAL): open questions as A/B */
} jf__mcq_mode;
jf_status jf__score_mcq_vlmevalkit(const jf_bench_inputs *in, jf__mcq_mode mode, jf_bench_report *r, jf_error *err);
/* GQA_TestDev_Balanced as VLMEvalKit's ImageVQADataset scores it (method 'accuracy') */
jf_status jf__score_gqa_vlmevalkit(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);
jf_status jf__score_seed_llava(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);
jf_status jf__score_seed_official(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);
jf_status jf__score_seed_lmms(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);
/* VLMEvalKit's yes/no datasets (image_yorn.py with the exact_matching judge): MME and POPE */
jf_status jf__score_yorn_vlmevalkit(const jf_bench_inputs *in, int pope, jf_bench_report *r, jf_error *err);
/* SEED-Bench's likelihood ranking of options (bench_run.c): each option's mean loss */
jf_status jf__seed_option_losses(jf_janus *m, const char *prompt, const float *pixels, const char *const *options,
                                 size_t n_options, double *losses, jf_error *err);

/* MMBench as lmms-eval's mmbench_en_dev_static scores it (bench_mmb_lmms.c): its samples log */
jf_status jf__score_mmbench_lmms(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);

/* A Python list literal of quoted strings (bench_mcq.c): 1 and the items, 0 not a list, -1 unreadable */
int jf__py_string_list(const char *s, char ***out, size_t *n);

/* MMMU (bench_mmmu.c) */
jf_status jf__score_mmmu(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err);

/* MMMU's rows as published (bench_mmmu_rows.c): Hugging Face parquet (a folder of subject folders,
 * the split's files) or JSON/JSONL; image_1 .. image_7. */
enum { JF_MMMU_IMAGES = 7 };
typedef struct jf__mmmu_row {
    char *id, *question, *options, *answer, *question_type;
    uint8_t *image[JF_MMMU_IMAGES]; /* image_k's bytes, or NULL (then image_path[k], or no image) */
    size_t image_len[JF_MMMU_IMAGES];
    char *image_path[JF_MMMU_IMAGES];
    char where[300]; /* file and row, for messages */
} jf__mmmu_row;
int jf__mmmu_read_rows(const char *data, const char *split, jf__mmmu_row **rows, size_t *n, jf_error *err);
void jf__mmmu_rows_free(jf__mmmu_row *rows, size_t n);

/* Whether a benchmark under a protocol is read from a VLMEvalKit TSV (MMBench always; POPE, MME,
 * GQA, SEED, MMMU under vlmevalkit) (bench_run.c). */
int jf__bench_reads_tsv(jf_bench_kind kind, jf_bench_protocol proto);
/* A TSV cell as pandas' to_csv(sep="\t") writes it (quoted when it holds a tab, a line end or a
 * quote) (bench_run.c). */
void jf__tsv_field(FILE *f, const char *s);
/* 1 if name is one of MME's 14 subtasks (its question files' names). */
int jf__mme_task(const char *name);
/* A JSON string (NULL as ""). */
void jf__json_str(FILE *f, const char *s);


#endif
