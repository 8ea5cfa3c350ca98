/*
 * jf_filter.h — keeping and dropping samples by rules, duplicates and scores.
 *
 * Rules are expressions over the index columns (a small language, compiled to SQL, see
 * filter/RULES.md). Filtering never deletes: it writes a named subset (a keep-list in the index)
 * that mixes and materialization use, and reports a funnel — how many samples each rule
 * removes alone and in sequence.
 */
#ifndef JF_FILTER_H
#define JF_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- expressions ---- */

/* Compiles an expression to an SQL condition over the `samples` table (derived columns such as
 * short_side or source become expressions): columns are checked against the index, types are checked
 * (text vs number), constant division by zero is refused. Errors point at the bad token with a
 * caret line. *sql is malloc'd. `divisors` (may be NULL) receives the SQL of every non-constant
 * divisor, NUL-separated, double-NUL-terminated, for the run-time zero check. */
jf_status jf_filter_compile(jf_store *st, const char *expr, char **sql, char **divisors, jf_error *err);

/* Names a rule can use besides the index columns (short_side, aspect, ...), for help texts. */
const char *const *jf_filter_derived_columns(void);

/* ---- rules, presets, funnels ---- */

typedef struct jf_filter_rule {
    const char *name; /* shown in the funnel */
    const char *expr; /* keep-condition */
} jf_filter_rule;

typedef struct jf_filter_preset {
    const char *name;
    const char *description; /* what it reproduces, with the source */
    const jf_filter_rule *rules;
    size_t n_rules;
} jf_filter_preset;

/* Known presets (NULL-name terminated array). */
const jf_filter_preset *jf_filter_presets(void);
const jf_filter_preset *jf_filter_preset_find(const char *name);

typedef struct jf_funnel_step {
    char name[128];
    char expr[1024];
    uint64_t removed_alone;       /* of the input, how many fail this rule */
    uint64_t removed_in_sequence; /* of what the previous rules kept, how many this one removes */
    uint64_t remaining;           /* after this rule */
} jf_funnel_step;

typedef struct jf_filter_result {
    uint64_t input;   /* samples considered (the whole dataset, or the --from subset) */
    uint64_t kept;
    size_t n_steps;
    jf_funnel_step *steps;
    int64_t subset_id; /* 0 in a dry run */
} jf_filter_result;

typedef struct jf_filter_params {
    const char *from;     /* subset to start from (NULL: every sample of complete shards) */
    const char *into;     /* subset to write (NULL: dry run, nothing written) */
    int replace;          /* an existing subset `into` is replaced (else an error) */
    int allow_empty;      /* writing an empty subset is an error unless set */
} jf_filter_params;

/* Applies the rules in order; fills the funnel; writes the subset when `into` is set (in one
 * transaction, after all checks: nothing is written on any error). On success free the result
 * with jf_filter_result_free; on failure it holds nothing. */
jf_status jf_filter_run(jf_store *st, const jf_filter_rule *rules, size_t n_rules,
                        const jf_filter_params *params, jf_filter_result *result, jf_error *err);
void jf_filter_result_free(jf_filter_result *r);

/* ---- subsets ---- */

typedef struct jf_subset_info {
    int64_t id;
    char name[128];
    uint64_t count;
    char created[32];
    char description[1024];
} jf_subset_info;

/* All subsets (malloc'd array). */
jf_status jf_subset_list(jf_store *st, jf_subset_info **out, size_t *n, jf_error *err);
jf_status jf_subset_drop(jf_store *st, const char *name, jf_error *err);
/* Sample row ids of a subset, in id order (malloc'd). */
jf_status jf_subset_ids(jf_store *st, const char *name, int64_t **ids, size_t *n, jf_error *err);
/* Copies the records of a subset into a new dataset (created), in row order. */
jf_status jf_subset_materialize(jf_store *st, const char *name, const char *out_dir, jf_progress_fn progress,
                                void *user, uint64_t *written, jf_error *err);

/* ---- scores ---- */

typedef struct jf_scores_report {
    uint64_t updated, unknown_keys, bad_lines;
    long first_bad_line;
} jf_scores_report;

/* Loads a REAL column from `key,value` lines (CSV or TSV, an optional header), JSONL lines
 * {"key": ..., "value" or "score": ...}, or a parquet file (a text key column — key, __key__,
 * sample_key or id — and a numeric value, score or COLUMN column; a row with a null in either
 * counts as a bad line); the column is created when new. One transaction. */
jf_status jf_filter_set_scores(jf_store *st, const char *column, const char *path, jf_scores_report *report,
                               jf_error *err);

/* ---- text columns ---- */

typedef struct jf_text_params {
    int language;             /* fill `lang` (see jf_langid_classify) and `lang_reliable` */
    int words;                /* fill `caption_words` */
    const char *banned_words; /* file of words/phrases, one per line: fill `banned_words` (count) */
    int normalize;            /* collapse whitespace, unescape basic HTML entities before counting */
    int only_missing;         /* skip rows where the columns are already set */
    /* a task of a job array: only rows with id % part_n == part_k, their columns written into
     * this column part (lang, caption_words, banned_words, lang_reliable) instead of the index */
    unsigned part_k, part_n;
    jf_colpart *column_part;
} jf_text_params;

/* Scans the captions (txt field, or the first human turn of conv) and stores the columns. */
jf_status jf_filter_text(jf_store *st, const jf_text_params *params, jf_progress_fn progress, void *user,
                         uint64_t *updated, jf_error *err);

/* Language of a text: ISO 639 code into `out` (e.g. "en", "de", "zh"), "und" when the text is
 * too short or unknown. A classifier handle per thread: create/destroy. */
typedef struct jf_langid jf_langid;
jf_langid *jf_langid_create(jf_error *err);
void jf_langid_destroy(jf_langid *l);
/* The language of a caption: CLD2's code (ISO 639-1 mostly: "en", "de", "zh", "zh-Hant", ...;
 * "und" when there is nothing to tell), a best-effort guess where CLD2 abstains, corrected by
 * Unicode script where CLD2 confuses short captions (Han without kana: zh; Cyrillic without
 * Serbian/Macedonian/Ukrainian/Belarusian letters: ru), and for Latin script by a lexical second
 * opinion (function words, word pairs, letters and endings of 16 common languages) that
 * overrides CLD2 where its clues outweigh CLD2's answer (see langid.c). *reliable is CLD2's own
 * flag, 0 where the answer is not CLD2's. */
void jf_langid_classify(jf_langid *l, const char *text, size_t len, char out[16], int *reliable);

/* ---- duplicates ---- */

typedef enum jf_keep_policy { JF_KEEP_FIRST = 0, JF_KEEP_LARGEST, JF_KEEP_HIGHEST } jf_keep_policy;

typedef struct jf_dedup_params {
    const char *from;         /* subset to consider (NULL: everything) */
    const char *into;         /* subset of the kept samples (NULL: dry run) */
    int replace;
    int near;                 /* 0: exact (content_hash); 1: perceptual hash within `max_distance` */
    int max_distance;         /* Hamming distance for near duplicates, 0..7 */
    const char *hash_column;  /* near: the 64-bit hash column (NULL: phash; phash_approx for data
                               * ingested with --fast-analysis) */
    jf_keep_policy keep;
    const char *score_column; /* for JF_KEEP_HIGHEST */
    int threads;
} jf_dedup_params;

typedef struct jf_dedup_result {
    uint64_t input, clusters, duplicates, kept;
    uint64_t largest_cluster;
    uint64_t candidate_pairs;   /* pairs compared (near) */
    double seconds;
} jf_dedup_result;

/* Finds clusters of exact or near duplicates, keeps one per cluster by the policy, records the
 * clusters (table dup_clusters) and writes the keep-list subset. */
jf_status jf_dedup_run(jf_store *st, const jf_dedup_params *params, jf_dedup_result *result, jf_error *err);

/* Near-duplicate pairs among raw 64-bit hashes (i < j, Hamming distance <= max_distance), by
 * multi-index hashing: 4 chunks of 16 bits; a pair within distance d shares a chunk exactly when
 * d <= 3, and a chunk within one bit when d <= 7. Calls `pair` for each pair. For benchmarks and
 * the store-level dedup. Returns the number of candidate comparisons. */
uint64_t jf_near_pairs(const uint64_t *hashes, size_t n, int max_distance, int threads,
                       void (*pair)(void *user, size_t i, size_t j), void *user);

#ifdef __cplusplus
}
#endif
#endif
