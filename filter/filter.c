/* Rules applied in sequence with a funnel, presets of known recipes, and subsets. */
#include "filter_internal.h"
#include "jf_parquet.h"

#include <sqlite3.h>
#include <time.h>

/* ---- presets (sources in filter/RULES.md) ---- */

static const jf_filter_rule LAION_AES_5[] = {{"aesthetic >= 5", "aesthetic >= 5"}};
static const jf_filter_rule LAION_AES_6[] = {{"aesthetic >= 6", "aesthetic >= 6"}};
static const jf_filter_rule LAION_AES_65[] = {{"aesthetic >= 6.5", "aesthetic >= 6.5"}};
static const jf_filter_rule LAION_AES_V1[] = {{"punsafe < 0.5", "punsafe < 0.5"},
                                              {"pwatermark < 0.8", "pwatermark < 0.8"},
                                              {"aesthetic > 7", "aesthetic > 7"}};
static const jf_filter_rule LAION_ART[] = {{"punsafe < 0.5", "punsafe < 0.5"},
                                           {"pwatermark < 0.8", "pwatermark < 0.8"},
                                           {"aesthetic > 8", "aesthetic > 8"}};
static const jf_filter_rule LAION_SAFE[] = {{"punsafe < 0.5", "punsafe < 0.5"}, {"pwatermark < 0.8", "pwatermark < 0.8"}};
static const jf_filter_rule LAION_400M[] = {{"similarity >= 0.3 (CLIP ViT-B/32)", "similarity >= 0.3"}};
static const jf_filter_rule LAION_2B_EN[] = {{"similarity >= 0.28 (CLIP ViT-B/32)", "similarity >= 0.28"},
                                             {"lang = 'en'", "lang = 'en'"}};
static const jf_filter_rule LAION_HIRES[] = {{"width >= 1024 and height >= 1024", "width >= 1024 and height >= 1024"}};
static const jf_filter_rule DATACOMP_BASIC[] = {{"caption_words > 2", "caption_words > 2"},
                                                {"caption_chars > 5", "caption_chars > 5"},
                                                {"lang = 'en'", "lang = 'en'"},
                                                {"short_side >= 200", "short_side >= 200"},
                                                {"aspect <= 3", "aspect <= 3"}};
static const jf_filter_rule NOT_BLANK[] = {{"img_std >= 2 (not a blank image)", "img_std >= 2"}};

#define N(a) (sizeof(a) / sizeof(a[0]))
static const jf_filter_preset PRESETS[] = {
    {"laion-aesthetics-5", "LAION-Aesthetics V2 5+: predicted aesthetic score >= 5", LAION_AES_5, N(LAION_AES_5)},
    {"laion-aesthetics-6", "LAION-Aesthetics V2 6+", LAION_AES_6, N(LAION_AES_6)},
    {"laion-aesthetics-6.5", "LAION-Aesthetics V2 6.5+", LAION_AES_65, N(LAION_AES_65)},
    {"laion-aesthetics-v1", "LAION-Aesthetics V1 (laion2B-en-aesthetic): punsafe < 0.5, pwatermark < 0.8, aesthetic > 7",
     LAION_AES_V1, N(LAION_AES_V1)},
    {"laion-art", "laion-art: punsafe < 0.5, pwatermark < 0.8, aesthetic > 8", LAION_ART, N(LAION_ART)},
    {"laion-safe", "LAION's safety cut: punsafe < 0.5 and pwatermark < 0.8", LAION_SAFE, N(LAION_SAFE)},
    {"laion400m-clip", "LAION-400M: CLIP ViT-B/32 image-text similarity >= 0.3", LAION_400M, N(LAION_400M)},
    {"laion2b-en-clip", "LAION-2B-en as DataComp reproduces it: ViT-B/32 similarity >= 0.28 and English", LAION_2B_EN,
     N(LAION_2B_EN)},
    {"laion-high-resolution", "laion-high-resolution: both sides >= 1024", LAION_HIRES, N(LAION_HIRES)},
    {"datacomp-basic",
     "DataComp 'basic': English caption of more than 2 words and 5 characters, shorter side >= 200, aspect <= 3",
     DATACOMP_BASIC, N(DATACOMP_BASIC)},
    {"not-blank", "drop blank or near-uniform images (luminance standard deviation under 2)", NOT_BLANK, N(NOT_BLANK)},
    {NULL, NULL, NULL, 0}};

const jf_filter_preset *jf_filter_presets(void) { return PRESETS; }

const jf_filter_preset *jf_filter_preset_find(const char *name)
{
    for (int i = 0; PRESETS[i].name; i++)
        if (!strcmp(PRESETS[i].name, name))
            return &PRESETS[i];
    return NULL;
}

/* ---- subsets ---- */

jf_status jf__subset_schema(jf_store *st, jf_error *err)
{
    char *e = NULL;
    if (sqlite3_exec(jf_store_db(st),
                     "CREATE TABLE IF NOT EXISTS subsets(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                     " created_at REAL, description TEXT, count INTEGER, funnel TEXT);"
                     "CREATE TABLE IF NOT EXISTS subset_members(subset_id INTEGER NOT NULL, sample_id INTEGER NOT NULL,"
                     " PRIMARY KEY(subset_id, sample_id)) WITHOUT ROWID;",
                     NULL, NULL, &e) != SQLITE_OK) {
        jf_status s = jf_error_set(err, JF_EDB, "creating subset tables: %s", e ? e : "");
        sqlite3_free(e);
        return s;
    }
    return JF_OK;
}

static int64_t subset_id(sqlite3 *db, const char *name)
{
    sqlite3_stmt *q;
    int64_t id = 0;
    if (sqlite3_prepare_v2(db, "SELECT id FROM subsets WHERE name=?", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            id = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return id;
}

static int valid_subset_name(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > 120)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* The funnel's aggregate: per row, the rule bits; counts of each rule alone and of the leading
 * run of passed rules, accumulated in C so that each rule is evaluated once per row. */
typedef struct funnel_acc {
    size_t n_rules;
    uint64_t total, alone[64], seq[64];
} funnel_acc;

static void funnel_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    funnel_acc *a = sqlite3_user_data(ctx);
    uint64_t m = (uint64_t)sqlite3_value_int64(argv[0]);
    a->total++;
    size_t i = 0;
    for (; i < a->n_rules && (m >> i & 1); i++) {
        a->alone[i]++;
        a->seq[i]++;
    }
    for (; i < a->n_rules; i++)
        a->alone[i] += m >> i & 1;
}

static void funnel_final(sqlite3_context *ctx) { sqlite3_result_int64(ctx, 0); }

void jf_filter_result_free(jf_filter_result *r)
{
    if (r) {
        free(r->steps);
        memset(r, 0, sizeof *r);
    }
}

jf_status jf_filter_run(jf_store *st, const jf_filter_rule *rules, size_t n_rules, const jf_filter_params *params,
                        jf_filter_result *res, jf_error *err)
{
    jf_filter_params p = params ? *params : (jf_filter_params){0};
    memset(res, 0, sizeof *res);
    sqlite3 *db = jf_store_db(st);
    jf_status s = jf__subset_schema(st, err);
    if (s != JF_OK)
        return s;
    if (p.into && !valid_subset_name(p.into))
        return jf_error_set(err, JF_EARG, "subset name '%s': use 1-120 letters, digits, '_', '-', '.'", p.into);
    if (p.into && !p.replace && subset_id(db, p.into))
        return jf_error_set(err, JF_EEXISTS, "subset '%s' exists (choose another name, or replace it)", p.into);
    char base[128] = "1";
    if (p.from) {
        int64_t fid = subset_id(db, p.from);
        if (!fid)
            return jf_error_set(err, JF_ENOTFOUND, "no subset named '%s'", p.from);
        snprintf(base, sizeof base, "id IN (SELECT sample_id FROM subset_members WHERE subset_id = %lld)", (long long)fid);
    }
    char **sql = calloc(n_rules ? n_rules : 1, sizeof *sql);
    res->steps = calloc(n_rules ? n_rules : 1, sizeof *res->steps);
    if (!sql || !res->steps) {
        free(sql);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    res->n_steps = n_rules;
    fbuf q = {0};
    for (size_t i = 0; i < n_rules && s == JF_OK; i++) {
        char *div = NULL;
        jf_error e2;
        s = jf_filter_compile(st, rules[i].expr, &sql[i], &div, &e2);
        if (s != JF_OK) {
            jf_error_set(err, s, "rule %zu (%s): %s", i + 1, rules[i].name ? rules[i].name : rules[i].expr, e2.msg);
            break;
        }
        snprintf(res->steps[i].name, sizeof res->steps[i].name, "%s", rules[i].name ? rules[i].name : rules[i].expr);
        snprintf(res->steps[i].expr, sizeof res->steps[i].expr, "%s", rules[i].expr);
        /* a divisor that is zero for some sample is an error, not a silent NULL */
        for (const char *d = div; s == JF_OK && d && *d; d += strlen(d) + 1) {
            char *chk = sqlite3_mprintf("SELECT count(*), min(key) FROM samples WHERE " JF_COMPLETE " AND %s AND (%s) = 0", base, d);
            sqlite3_stmt *c;
            if (sqlite3_prepare_v2(db, chk, -1, &c, NULL) == SQLITE_OK && sqlite3_step(c) == SQLITE_ROW &&
                sqlite3_column_int64(c, 0) > 0)
                s = jf_error_set(err, JF_EARG, "rule %zu (%s): division by zero for %lld samples (first: key '%s')", i + 1,
                                 rules[i].expr, (long long)sqlite3_column_int64(c, 0), sqlite3_column_text(c, 1));
            sqlite3_finalize(c);
            sqlite3_free(chk);
        }
        free(div);
    }
    /* One scan for the whole funnel: each row's pass/fail bits for every rule, counted per bit
     * pattern; both "alone" and "in sequence" follow from the histogram. A rule whose value is
     * missing (NULL) counts as failed. */
    if (s == JF_OK && n_rules > 60)
        s = jf_error_set(err, JF_ELIMIT, "at most 60 rules in one run (%zu given)", n_rules);
    if (s == JF_OK) {
        funnel_acc acc = {.n_rules = n_rules};
        sqlite3_create_function(db, "jf_funnel", 1, SQLITE_UTF8, &acc, NULL, funnel_step, funnel_final);
        fb_puts(&q, "SELECT jf_funnel(0");
        for (size_t i = 0; i < n_rules; i++)
            fb_printf(&q, " | ((coalesce(%s, 0) != 0) << %zu)", sql[i], i);
        fb_printf(&q, ") FROM samples WHERE " JF_COMPLETE " AND %s", base);
        sqlite3_stmt *c;
        if (sqlite3_prepare_v2(db, q.p, -1, &c, NULL) != SQLITE_OK || sqlite3_step(c) != SQLITE_ROW) {
            s = jf_error_set(err, JF_EDB, "funnel query: %s", sqlite3_errmsg(db));
        } else {
            res->input = acc.total;
            uint64_t prev = res->input;
            for (size_t i = 0; i < n_rules; i++) {
                res->steps[i].removed_alone = res->input - acc.alone[i];
                res->steps[i].removed_in_sequence = prev - acc.seq[i];
                res->steps[i].remaining = acc.seq[i];
                prev = acc.seq[i];
            }
            res->kept = prev;
        }
        sqlite3_finalize(c);
        sqlite3_create_function(db, "jf_funnel", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
    }
    if (s == JF_OK && p.into && res->kept == 0 && !p.allow_empty)
        s = jf_error_set(err, JF_EARG, "no sample passes the rules: subset '%s' not written", p.into);
    if (s == JF_OK && p.into) {
        /* the funnel, as JSON, is kept with the subset */
        fbuf fun = {0}, desc = {0};
        fb_puts(&fun, "[");
        for (size_t i = 0; i < n_rules; i++) {
            char *e = sqlite3_mprintf("%s{\"rule\":\"%w\",\"removed_alone\":%llu,\"removed\":%llu,\"remaining\":%llu}",
                                      i ? "," : "", rules[i].expr, (unsigned long long)res->steps[i].removed_alone,
                                      (unsigned long long)res->steps[i].removed_in_sequence,
                                      (unsigned long long)res->steps[i].remaining);
            fb_puts(&fun, e);
            sqlite3_free(e);
            fb_printf(&desc, "%s%s", i ? " and " : "", rules[i].expr);
        }
        fb_puts(&fun, "]");
        if (p.from)
            fb_printf(&desc, " (from %s)", p.from);
        s = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? JF_OK
                                                                               : jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
        int64_t old = s == JF_OK ? subset_id(db, p.into) : 0;
        if (s == JF_OK && old) {
            char *d = sqlite3_mprintf("DELETE FROM subset_members WHERE subset_id=%lld; DELETE FROM subsets WHERE id=%lld",
                                      (long long)old, (long long)old);
            if (sqlite3_exec(db, d, NULL, NULL, NULL) != SQLITE_OK)
                s = jf_error_set(err, JF_EDB, "replacing subset: %s", sqlite3_errmsg(db));
            sqlite3_free(d);
        }
        sqlite3_stmt *ins;
        if (s == JF_OK &&
            sqlite3_prepare_v2(db, "INSERT INTO subsets(name, created_at, description, count, funnel) VALUES(?,?,?,?,?)", -1,
                               &ins, NULL) == SQLITE_OK) {
            sqlite3_bind_text(ins, 1, p.into, -1, SQLITE_STATIC);
            sqlite3_bind_double(ins, 2, (double)time(NULL));
            sqlite3_bind_text(ins, 3, desc.p ? desc.p : "", -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 4, (sqlite3_int64)res->kept);
            sqlite3_bind_text(ins, 5, fun.p, -1, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                s = jf_error_set(err, JF_EDB, "writing subset: %s", sqlite3_errmsg(db));
            sqlite3_finalize(ins);
        }
        res->subset_id = sqlite3_last_insert_rowid(db);
        if (s == JF_OK) {
            fbuf m = {0};
            fb_printf(&m, "INSERT INTO subset_members(subset_id, sample_id) SELECT %lld, id FROM samples WHERE " JF_COMPLETE " AND %s",
                      (long long)res->subset_id, base);
            for (size_t i = 0; i < n_rules; i++)
                fb_printf(&m, " AND coalesce(%s, 0) != 0", sql[i]);
            if (sqlite3_exec(db, m.p, NULL, NULL, NULL) != SQLITE_OK)
                s = jf_error_set(err, sqlite3_errcode(db) == SQLITE_FULL ? JF_ENOSPC : JF_EDB, "writing subset members: %s",
                                 sqlite3_errmsg(db));
            free(m.p);
        }
        if (s == JF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            s = jf_error_set(err, JF_EDB, "committing subset: %s", sqlite3_errmsg(db));
        if (s != JF_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            res->subset_id = 0;
        }
        free(fun.p);
        free(desc.p);
    }
    for (size_t i = 0; i < n_rules; i++)
        free(sql[i]);
    free(sql);
    free(q.p);
    if (s != JF_OK)
        jf_filter_result_free(res); /* on failure the caller has nothing to free */
    return s;
}

jf_status jf_subset_list(jf_store *st, jf_subset_info **out, size_t *n, jf_error *err)
{
    *out = NULL;
    *n = 0;
    jf_status s = jf__subset_schema(st, err);
    if (s != JF_OK)
        return s;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(jf_store_db(st),
                           "SELECT id, name, count, datetime(created_at, 'unixepoch'), description FROM subsets ORDER BY name", -1,
                           &q, NULL) != SQLITE_OK)
        return jf_error_set(err, JF_EDB, "listing subsets");
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            jf_subset_info *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                sqlite3_finalize(q);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            *out = v;
        }
        jf_subset_info *si = &(*out)[(*n)++];
        si->id = sqlite3_column_int64(q, 0);
        snprintf(si->name, sizeof si->name, "%s", sqlite3_column_text(q, 1));
        si->count = (uint64_t)sqlite3_column_int64(q, 2);
        snprintf(si->created, sizeof si->created, "%s", sqlite3_column_text(q, 3) ? (const char *)sqlite3_column_text(q, 3) : "");
        snprintf(si->description, sizeof si->description, "%s",
                 sqlite3_column_text(q, 4) ? (const char *)sqlite3_column_text(q, 4) : "");
    }
    sqlite3_finalize(q);
    return JF_OK;
}

jf_status jf_subset_drop(jf_store *st, const char *name, jf_error *err)
{
    jf_status s = jf__subset_schema(st, err);
    if (s != JF_OK)
        return s;
    sqlite3 *db = jf_store_db(st);
    int64_t id = subset_id(db, name);
    if (!id)
        return jf_error_set(err, JF_ENOTFOUND, "no subset named '%s'", name);
    char *d = sqlite3_mprintf("BEGIN IMMEDIATE; DELETE FROM subset_members WHERE subset_id=%lld; DELETE FROM subsets WHERE id=%lld; COMMIT",
                              (long long)id, (long long)id);
    int rc = sqlite3_exec(db, d, NULL, NULL, NULL);
    sqlite3_free(d);
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return jf_error_set(err, JF_EDB, "dropping subset: %s", sqlite3_errmsg(db));
    }
    return JF_OK;
}

jf_status jf_subset_ids(jf_store *st, const char *name, int64_t **ids, size_t *n, jf_error *err)
{
    *ids = NULL;
    *n = 0;
    jf_status s = jf__subset_schema(st, err);
    if (s != JF_OK)
        return s;
    sqlite3 *db = jf_store_db(st);
    int64_t id = subset_id(db, name);
    if (!id)
        return jf_error_set(err, JF_ENOTFOUND, "no subset named '%s'", name);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT sample_id FROM subset_members WHERE subset_id=? ORDER BY sample_id", -1, &q, NULL);
    sqlite3_bind_int64(q, 1, id);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *v = realloc(*ids, cap * sizeof *v);
            if (!v) {
                sqlite3_finalize(q);
                free(*ids);
                *ids = NULL;
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            *ids = v;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return JF_OK;
}

jf_status jf_subset_materialize(jf_store *st, const char *name, const char *out_dir, jf_progress_fn progress, void *user,
                                uint64_t *written, jf_error *err)
{
    int64_t *ids;
    size_t n;
    *written = 0;
    jf_status s = jf_subset_ids(st, name, &ids, &n, err);
    if (s != JF_OK)
        return s;
    jf_store *out;
    if ((s = jf_store_open(out_dir, JF_STORE_CREATE, &out, err)) != JF_OK) {
        free(ids);
        return s;
    }
    jf_writer *w;
    jf_writer_params wp = jf_writer_default_params();
    if ((s = jf_writer_create(out, &wp, &w, err)) != JF_OK) {
        jf_store_close(out);
        free(ids);
        return s;
    }
    jf_record *r = jf_record_create();
    for (size_t i = 0; i < n && s == JF_OK; i++) {
        s = jf_store_get_row(st, ids[i], r, err);
        if (s == JF_OK)
            s = jf_writer_add(w, r, err);
        if (s == JF_OK)
            (*written)++;
        if (progress && i % 256 == 0)
            progress(user, i, n);
    }
    jf_record_destroy(r);
    if (s == JF_OK)
        s = jf_writer_close(w, err);
    else
        jf_writer_abort(w);
    jf_store_close(out);
    free(ids);
    return s;
}

/* ---- scores ---- */

static int parse_score_line(char *line, char **key, double *value)
{
    line[strcspn(line, "\r\n")] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return 0;
    if (*p == '{') {
        /* {"key": "...", "value": 0.3} or "score"; a minimal reader for this one shape */
        char *k = strstr(p, "\"key\"");
        char *v = strstr(p, "\"value\"");
        if (!v)
            v = strstr(p, "\"score\"");
        if (!k || !v)
            return -1;
        k = strchr(k + 5, '"');
        char *ke = k ? strchr(k + 1, '"') : NULL;
        v = strchr(v + 7, ':');
        if (!k || !ke || !v)
            return -1;
        *ke = 0;
        *key = k + 1;
        char *end;
        *value = strtod(v + 1, &end);
        return end == v + 1 ? -1 : 1;
    }
    char *sep = strpbrk(p, ",\t");
    if (!sep)
        return -1;
    *sep = 0;
    *key = p;
    char *end;
    *value = strtod(sep + 1, &end);
    if (end == sep + 1)
        return -1;
    return 1;
}

/* Scores from a parquet file: a key column (key, __key__, sample_key, id) and a numeric value
 * column (value, score, or the column's own name), one row group at a time. */
static jf_status set_scores_parquet(jf_store *st, const char *column, const char *path, jf_scores_report *rep,
                                    jf_error *err)
{
    jf_parquet *pq = NULL;
    jf_status s = jf_parquet_open(path, &pq, err);
    if (s != JF_OK)
        return s;
    int kc = -1, vc = -1;
    for (int k = 0; kc < 0 && k < 4; k++)
        kc = jf_parquet_find_column(pq, (const char *const[]){"key", "__key__", "sample_key", "id"}[k]);
    for (int k = 0; vc < 0 && k < 3; k++)
        vc = jf_parquet_find_column(pq, (const char *const[]){"value", "score", column}[k]);
    if (kc < 0 || vc < 0 || jf_parquet_column(pq, kc)->kind != JF_PQK_STRING ||
        (jf_parquet_column(pq, vc)->kind != JF_PQK_FLOAT && jf_parquet_column(pq, vc)->kind != JF_PQK_INT)) {
        s = jf_error_set(err, JF_EFORMAT, "%s: needs a text key column (key, __key__, sample_key, id) and a numeric value "
                                          "column (value, score or %s)", path, column);
        jf_parquet_close(pq);
        return s;
    }
    sqlite3 *db = jf_store_db(st);
    char *sql = sqlite3_mprintf("UPDATE samples SET \"%w\" = ? WHERE key = ?", column);
    sqlite3_stmt *up = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &up, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        jf_parquet_close(pq);
        return jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
    }
    sqlite3_free(sql);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    uint64_t row = 0;
    for (int rg = 0; s == JF_OK && rg < jf_parquet_num_row_groups(pq); rg++) {
        jf_pq_values keys, vals;
        if ((s = jf_parquet_read_column(pq, rg, kc, &keys, err)) != JF_OK)
            break;
        if ((s = jf_parquet_read_column(pq, rg, vc, &vals, err)) != JF_OK) {
            jf_pq_values_free(&keys);
            break;
        }
        for (size_t r = 0; s == JF_OK && r < keys.rows; r++, row++) {
            if (!keys.present[r] || !vals.present[r]) {
                if (!rep->bad_lines++)
                    rep->first_bad_line = (long)row + 1;
                continue;
            }
            double v = vals.f64 ? vals.f64[r] : (double)vals.i64[r];
            sqlite3_reset(up);
            sqlite3_bind_double(up, 1, v);
            sqlite3_bind_text(up, 2, (const char *)keys.bytes + keys.offsets[r], (int)(keys.offsets[r + 1] - keys.offsets[r]),
                              SQLITE_TRANSIENT);
            if (sqlite3_step(up) != SQLITE_DONE)
                s = jf_error_set(err, JF_EDB, "%s row %llu: %s", path, (unsigned long long)row, sqlite3_errmsg(db));
            else if (sqlite3_changes(db))
                rep->updated += (uint64_t)sqlite3_changes(db);
            else
                rep->unknown_keys++;
        }
        jf_pq_values_free(&keys);
        jf_pq_values_free(&vals);
    }
    sqlite3_finalize(up);
    if (s == JF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        s = jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
    if (s != JF_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    jf_parquet_close(pq);
    return s;
}

jf_status jf_filter_set_scores(jf_store *st, const char *column, const char *path, jf_scores_report *rep, jf_error *err)
{
    memset(rep, 0, sizeof *rep);
    jf_status s = jf_store_ensure_column(st, column, JF_COL_REAL, "score loaded by jf filter scores", err);
    if (s != JF_OK)
        return s;
    FILE *f = fopen(path, "r");
    if (!f)
        return jf_error_set(err, JF_ENOTFOUND, "%s: cannot open", path);
    char magic[4] = {0};
    if (fread(magic, 1, 4, f) == 4 && !memcmp(magic, "PAR1", 4)) {
        fclose(f);
        return set_scores_parquet(st, column, path, rep, err);
    }
    rewind(f);
    sqlite3 *db = jf_store_db(st);
    char *sql = sqlite3_mprintf("UPDATE samples SET \"%w\" = ? WHERE key = ?", column);
    sqlite3_stmt *up;
    if (sqlite3_prepare_v2(db, sql, -1, &up, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        fclose(f);
        return jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
    }
    sqlite3_free(sql);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    while (s == JF_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *key;
        double v;
        int r = parse_score_line(line, &key, &v);
        if (r == 0)
            continue;
        if (r < 0) {
            if (lineno == 1) /* a header line */
                continue;
            rep->bad_lines++;
            if (rep->bad_lines == 1)
                rep->first_bad_line = lineno;
            continue;
        }
        sqlite3_reset(up);
        sqlite3_bind_double(up, 1, v);
        sqlite3_bind_text(up, 2, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(up) != SQLITE_DONE)
            s = jf_error_set(err, JF_EDB, "%s line %ld: %s", path, lineno, sqlite3_errmsg(db));
        else if (sqlite3_changes(db))
            rep->updated += (uint64_t)sqlite3_changes(db);
        else
            rep->unknown_keys++;
    }
    free(line);
    fclose(f);
    sqlite3_finalize(up);
    if (s == JF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        s = jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
    if (s != JF_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}
