/* A benchmark read from a jf dataset (jf eval bench NAME --data DS[#SUBSET]): the questions that
 * `jf ingest` took from the benchmark's own files (each record keeps its row as the .json field,
 * its image checked like any other) are written back in the benchmark's official layout in a
 * scratch folder, which the answering and scoring code then reads as it reads the published
 * files. Questions whose image failed on ingest are not in the dataset: they are named (from the
 * dataset's ingest_failures) and refused, as a label file without them would score wrongly. */
#include "bench_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int jf_bench_is_dataset(const char *spec)
{
    char dir[4096], idx[4200];
    snprintf(dir, sizeof dir, "%s", spec);
    struct stat sb;
    char *hash = strrchr(dir, '#');
    if (hash && stat(dir, &sb) != 0)
        *hash = 0;
    snprintf(idx, sizeof idx, "%s/index.sqlite", dir);
    return stat(idx, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A relative path that stays under its folder. */
static int safe_relative(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (const char *s = p; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
        if (!strncmp(s, "..", 2) && (s[2] == '/' || s[2] == 0))
            return 0;
    return 1;
}

static int mkdirs_for(const char *path)
{
    char tmp[8400];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return 0;
}

static int write_file(const char *path, const char *mode, const void *data, size_t len)
{
    FILE *f = fopen(path, mode);
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) != 0 || w != len ? -1 : 0;
}

/* The record's .json field parsed (NULL when it has none or it is not JSON). */
static yajl_val record_row(const jf_record *rec)
{
    const jf_field *row = jf_record_find_field(rec, "json");
    char eb[128];
    char *text = row ? strndup((const char *)row->data, row->size) : NULL;
    yajl_val o = text ? yajl_tree_parse(text, eb, sizeof eb) : NULL;
    free(text);
    return o;
}

/* One record as a VLMEvalKit TSV row: its .json row's cells in the header's order, then its
 * images as base64 (a Python list literal when there are several). The header is written from
 * the first record. */
static jf_status tsv_row(FILE *f, const jf_record *rec, const char *key, int first, char ***cols, size_t *n_cols,
                         const char *dir, jf_error *err)
{
    yajl_val o = record_row(rec);
    const char *ip[] = {"index", NULL};
    if (!o || !YAJL_IS_OBJECT(o) || !yajl_tree_get(o, ip, yajl_t_any)) {
        yajl_tree_free(o);
        return jf_error_set(err, JF_EFORMAT,
                            "%s: record %s is not a row of a benchmark TSV (it needs its row, with an index, as .json: "
                            "ingest VLMEvalKit's TSV itself, e.g. jf ingest DS MMBench_DEV_EN.tsv)",
                            dir, key);
    }
    if (first) {
        *cols = calloc(o->u.object.len + 1, sizeof **cols);
        for (size_t i = 0; *cols && i < o->u.object.len; i++) {
            (*cols)[(*n_cols)++] = strdup(o->u.object.keys[i]);
            jf__tsv_field(f, o->u.object.keys[i]);
            fputc('\t', f);
        }
        fputs("image\n", f);
    }
    for (size_t c = 0; c < *n_cols; c++) {
        const char *kp[] = {(*cols)[c], NULL};
        yajl_val v = yajl_tree_get(o, kp, yajl_t_any);
        if (v && YAJL_IS_STRING(v))
            jf__tsv_field(f, v->u.string);
        else if (v && YAJL_IS_NUMBER(v))
            fputs(v->u.number.r, f);
        fputc('\t', f);
    }
    yajl_tree_free(o);
    size_t n_img = 0;
    for (size_t i = 0; i < jf_record_field_count(rec); i++)
        n_img += jf_record_field(rec, i)->type == JF_FIELD_IMAGE;
    if (n_img > 1)
        fputs("[", f);
    for (size_t i = 0, k = 0; i < jf_record_field_count(rec); i++) {
        const jf_field *fl = jf_record_field(rec, i);
        if (fl->type != JF_FIELD_IMAGE)
            continue;
        char *b64 = jf_base64_encode(fl->data, fl->size);
        if (!b64)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        fprintf(f, n_img > 1 ? "%s'%s'" : "%s%s", k++ ? ", " : "", b64);
        free(b64);
    }
    fputs(n_img > 1 ? "]\n" : "\n", f);
    return ferror(f) ? jf_error_set(err, JF_EIO, "writing the benchmark TSV: %s", strerror(errno)) : JF_OK;
}

/* ---- questions files of GQA, VQAv2, SEED-Bench and MME (ingest's src_bench_json.c) ---- */

static void json_value(FILE *f, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v))
        fputs("null", f);
    else if (YAJL_IS_TRUE(v))
        fputs("true", f);
    else if (YAJL_IS_FALSE(v))
        fputs("false", f);
    else if (YAJL_IS_NUMBER(v))
        fputs(v->u.number.r, f);
    else if (YAJL_IS_STRING(v))
        jf__json_str(f, v->u.string);
    else if (YAJL_IS_ARRAY(v)) {
        fputc('[', f);
        for (size_t i = 0; i < v->u.array.len; i++) {
            fputs(i ? ", " : "", f);
            json_value(f, v->u.array.values[i]);
        }
        fputc(']', f);
    } else {
        fputc('{', f);
        for (size_t i = 0; i < v->u.object.len; i++) {
            fputs(i ? ", " : "", f);
            jf__json_str(f, v->u.object.keys[i]);
            fputs(": ", f);
            json_value(f, v->u.object.values[i]);
        }
        fputc('}', f);
    }
}

/* ---- MMMU's rows (ingest's Hugging Face parquet: the row as .json, image_1..image_7 as fields) ---- */

/* One row as a JSON line: its cells (the image_K.path columns left out), then image_K as
 * {"bytes": base64}, as bench_mmmu_rows.c reads rows. */
static jf_status mmmu_row(FILE *f, const jf_record *rec, const char *key, const char *dir, jf_error *err)
{
    yajl_val o = record_row(rec);
    const char *ip[] = {"id", NULL}, *op[] = {"options", NULL};
    if (!o || !YAJL_IS_OBJECT(o) || !yajl_tree_get(o, ip, yajl_t_string) || !yajl_tree_get(o, op, yajl_t_any)) {
        yajl_tree_free(o);
        return jf_error_set(err, JF_EFORMAT,
                            "%s: record %s is not an MMMU row (it needs its row, with id and options, as .json: ingest "
                            "MMMU's parquet files themselves, e.g. jf ingest DS MMMU/*/validation-*.parquet)",
                            dir, key);
    }
    fputc('{', f);
    size_t n = 0;
    for (size_t i = 0; i < o->u.object.len; i++) {
        const char *k = o->u.object.keys[i];
        if (!strncmp(k, "image_", 6))
            continue;
        fputs(n++ ? ", " : "", f);
        jf__json_str(f, k);
        fputs(": ", f);
        json_value(f, o->u.object.values[i]);
    }
    yajl_tree_free(o);
    int first = 1;
    for (size_t i = 0; i < jf_record_field_count(rec); i++) {
        const jf_field *fl = jf_record_field(rec, i);
        if (fl->type != JF_FIELD_IMAGE)
            continue;
        int k = 1;
        if (!first && sscanf(fl->name, "image_%d", &k) != 1)
            continue;
        first = 0;
        char *b64 = jf_base64_encode(fl->data, fl->size);
        if (!b64)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        fprintf(f, ", \"image_%d\": {\"bytes\": \"%s\"}", k, b64);
        free(b64);
    }
    fputs("}\n", f);
    return ferror(f) ? jf_error_set(err, JF_EIO, "writing MMMU's rows: %s", strerror(errno)) : JF_OK;
}

/* The layout each benchmark's question file has under a protocol that does not read a TSV. */
static const char *doc_layout(jf_bench_kind kind)
{
    return kind == JF_BENCH_GQA ? "gqa" : kind == JF_BENCH_VQAV2 ? "vqav2" : kind == JF_BENCH_SEED ? "seed"
         : kind == JF_BENCH_MME ? "mme" : NULL;
}

typedef struct doc_writer {
    const char *layout;
    FILE *f, *ann;          /* the questions document; VQAv2's annotations */
    size_t n, n_ann;
    char path[4400], ann_path[4400];
} doc_writer;

static jf_status doc_close(doc_writer *w, jf_error *err)
{
    jf_status s = JF_OK;
    if (w->f) {
        fputs(!strcmp(w->layout, "gqa") ? "}\n" : "]}\n", w->f);
        if (fclose(w->f) && !s)
            s = jf_error_set(err, JF_EIO, "%s: %s", w->path, strerror(errno));
    }
    if (w->ann) {
        fputs("]}\n", w->ann);
        if (fclose(w->ann) && !s)
            s = jf_error_set(err, JF_EIO, "%s: %s", w->ann_path, strerror(errno));
    }
    w->f = w->ann = NULL;
    return s;
}

/* One record's question into the document (opened with the first), its image under images/. */
static jf_status doc_row(doc_writer *w, const jf_record *rec, const char *key, const char *source, const char *dir,
                         jf_bench_dataset_files *out, const char *scratch, jf_error *err)
{
    yajl_val o = record_row(rec);
    const char *bp[] = {"bench", NULL}, *rp[] = {"row", NULL};
    yajl_val bench = o ? yajl_tree_get(o, bp, yajl_t_string) : NULL, q = o ? yajl_tree_get(o, rp, yajl_t_object) : NULL;
    if (!bench || !q || strcmp(bench->u.string, w->layout)) {
        jf_status s = jf_error_set(err, JF_EFORMAT,
                                   "%s: record %s is not a question of %s's own files (%s%s; ingest the benchmark's "
                                   "question file itself, e.g. jf ingest DS testdev_balanced_questions.json "
                                   "--image-root images)",
                                   dir, key, w->layout, bench ? "it is one of " : "no question row",
                                   bench ? bench->u.string : "");
        yajl_tree_free(o);
        return s;
    }
    jf_status s = JF_OK;
    const char *sp[] = {"subtask", NULL}, *up[] = {"data_subtype", NULL}, *dp[] = {"document", NULL},
               *ap[] = {"annotation", NULL}, *qp[] = {"qid", NULL};
    if (!strcmp(w->layout, "mme")) {
        yajl_val st = yajl_tree_get(o, sp, yajl_t_string);
        const char *ip[] = {"image", NULL}, *tp[] = {"question", NULL}, *anp[] = {"answer", NULL};
        yajl_val im = yajl_tree_get(q, ip, yajl_t_string), tq = yajl_tree_get(q, tp, yajl_t_string),
                 an = yajl_tree_get(q, anp, yajl_t_string);
        if (!st || !im || !tq || !an || !safe_relative(st->u.string) || strchr(st->u.string, '/')) {
            yajl_tree_free(o);
            return jf_error_set(err, JF_EFORMAT, "%s: record %s: an MME question needs its subtask, image, question and answer",
                                dir, key);
        }
        snprintf(w->path, sizeof w->path, "%s/%s.txt", out->data, st->u.string);
        FILE *f = fopen(w->path, "a");
        if (!f || fprintf(f, "%s\t%s\t%s\n", im->u.string, tq->u.string, an->u.string) < 0 || fclose(f)) {
            yajl_tree_free(o);
            return jf_error_set(err, JF_EIO, "%s: %s", w->path, strerror(errno));
        }
    } else {
        if (!w->f) {
            int vqa = !strcmp(w->layout, "vqav2");
            snprintf(w->path, sizeof w->path, "%s/%s%s.json", out->data, source,
                     vqa && !strstr(source, "questions") ? "_questions" : "");
            if (!(w->f = fopen(w->path, "w"))) {
                yajl_tree_free(o);
                return jf_error_set(err, JF_EIO, "%s: %s", w->path, strerror(errno));
            }
            if (vqa) {
                yajl_val sub = yajl_tree_get(o, up, yajl_t_string);
                fputs("{\"data_subtype\": ", w->f);
                jf__json_str(w->f, sub ? sub->u.string : "");
                fputs(", \"questions\": [", w->f);
            } else if (!strcmp(w->layout, "seed")) {
                yajl_val d = yajl_tree_get(o, dp, yajl_t_object);
                fputc('{', w->f);
                for (size_t i = 0; d && i < d->u.object.len; i++) {
                    jf__json_str(w->f, d->u.object.keys[i]);
                    fputs(": ", w->f);
                    json_value(w->f, d->u.object.values[i]);
                    fputs(", ", w->f);
                }
                fputs("\"questions\": [", w->f);
            } else {
                fputc('{', w->f);
            }
        }
        fputs(w->n++ ? ", " : "", w->f);
        if (!strcmp(w->layout, "gqa")) {
            yajl_val qid = yajl_tree_get(o, qp, yajl_t_string);
            jf__json_str(w->f, qid ? qid->u.string : key);
            fputs(": ", w->f);
        }
        json_value(w->f, q);
        yajl_val ann = yajl_tree_get(o, ap, yajl_t_object);
        if (ann) {
            if (!w->ann) {
                yajl_val sub = yajl_tree_get(o, up, yajl_t_string);
                snprintf(w->ann_path, sizeof w->ann_path, "%s/v2_mscoco_%s_annotations.json", out->data,
                         sub ? sub->u.string : "");
                if (!(w->ann = fopen(w->ann_path, "w"))) {
                    yajl_tree_free(o);
                    return jf_error_set(err, JF_EIO, "%s: %s", w->ann_path, strerror(errno));
                }
                fputs("{\"annotations\": [", w->ann);
            }
            fputs(w->n_ann++ ? ", " : "", w->ann);
            json_value(w->ann, ann);
        }
        if (ferror(w->f) || (w->ann && ferror(w->ann)))
            s = jf_error_set(err, JF_EIO, "%s: %s", w->path, strerror(errno));
    }
    yajl_tree_free(o);
    /* the image where the benchmark's reader looks for it */
    const jf_field *img = NULL;
    for (size_t i = 0; i < jf_record_field_count(rec) && !img; i++)
        if (jf_record_field(rec, i)->type == JF_FIELD_IMAGE)
            img = jf_record_field(rec, i);
    const jf_column *path = jf_record_find_column(rec, "image_path");
    if (!s && img && path && path->type == JF_COL_TEXT) {
        if (!safe_relative(path->s))
            return jf_error_set(err, JF_EFORMAT, "%s: record %s: image path '%s' leaves its folder", dir, key, path->s);
        char file[8400];
        struct stat sb;
        snprintf(file, sizeof file, "%s/%s", out->images, path->s);
        if (stat(file, &sb) != 0 && (mkdirs_for(file) || write_file(file, "wb", img->data, img->size)))
            s = jf_error_set(err, JF_EIO, "%s: %s", file, strerror(errno));
    }
    (void)scratch;
    return s;
}

/* A record of another source than the last (prev, updated): counted and checked as a file name;
 * a second source is refused when the benchmark reads one file of `one_of` (NULL: several files
 * are fine). 1 when the source changed, 0 when not, -1 with *s set. */
static int source_change(const char *dir, const char *source, char prev[512], size_t *n_sources, const char *one_of,
                         jf_bench_kind kind, jf_status *s, jf_error *err)
{
    if (!source)
        source = "";
    if (!strcmp(prev, source))
        return 0;
    if ((*n_sources)++ && one_of) {
        *s = jf_error_set(err, JF_EARG,
                          "%s: the selection holds two %s (%s and %s); %s reads one: select it with a subset (jf filter "
                          "... --subset NAME, then --data %s#NAME)",
                          dir, one_of, prev, source, jf_bench_name(kind), dir);
        return -1;
    }
    snprintf(prev, 512, "%s", source);
    if (!safe_relative(prev) || strchr(prev, '/')) {
        *s = jf_error_set(err, JF_EFORMAT, "%s: source '%s' is not a file name", dir, prev);
        return -1;
    }
    return 1;
}

static void add_source(char ***l, size_t *n, const char *s)
{
    char **g = realloc(*l, (*n + 1) * sizeof **l);
    if (g) {
        *l = g;
        g[(*n)++] = strdup(s);
    }
}

static int has_source(char **l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] && !strcmp(l[i], s))
            return 1;
    return 0;
}

jf_status jf_bench_from_dataset(jf_bench_kind kind, jf_bench_protocol proto, const char *spec, const char *scratch,
                                jf_bench_dataset_files *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    char **written = NULL; /* the sources written (GQA, VQAv2, SEED, MME) */
    size_t n_written = 0;
    int tsv = jf__bench_reads_tsv(kind, proto);
    if (kind == JF_BENCH_MMMU && proto == JF_BENCH_LLAVA)
        return jf_error_set(err, JF_EARG, "mmmu: LLaVA has no MMMU run of its own (--protocol official, lmms-eval or "
                                          "vlmevalkit)");
    if (kind == JF_BENCH_VQAV2 && proto == JF_BENCH_VLMEVALKIT)
        return jf_error_set(err, JF_EARG, "vqav2: VLMEvalKit has no VQAv2 dataset; use --protocol official, llava or "
                                          "lmms-eval");
    doc_writer dw = {.layout = tsv ? NULL : doc_layout(kind)};
    int mmmu = !tsv && kind == JF_BENCH_MMMU;
    if (kind != JF_BENCH_POPE && !tsv && !dw.layout && !mmmu)
        return jf_error_set(err, JF_EARG,
                            "%s: reading the benchmark from a jf dataset is offered for pope, gqa, vqav2, seed and mme "
                            "(their question files), mmmu (its parquet rows) and for the benchmarks read from VLMEvalKit's "
                            "TSVs (mmbench); give %s's published files to --data",
                            jf_bench_name(kind), jf_bench_name(kind));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", spec);
    struct stat sb;
    char *hash = strrchr(dir, '#');
    const char *subset = NULL;
    if (hash && stat(dir, &sb) != 0) {
        *hash = 0;
        subset = hash + 1;
    }
    jf_store *st;
    jf_status s = jf_store_open(dir, JF_STORE_READONLY, &st, err);
    if (s)
        return s;
    sqlite3 *db = jf_store_db(st);
    snprintf(out->data, sizeof out->data, "%s/data", scratch);
    snprintf(out->images, sizeof out->images, "%s/images", scratch);
    if ((mkdir(out->data, 0777) && errno != EEXIST) || (mkdir(out->images, 0777) && errno != EEXIST)) {
        jf_store_close(st);
        return jf_error_set(err, JF_EIO, "%s: %s", scratch, strerror(errno));
    }
    sqlite3_stmt *q = NULL, *fq = NULL;
    const char *sql = subset ? "SELECT s.id, s.key, src.name FROM samples s JOIN sources src ON src.id = s.source_id "
                               "WHERE s.id IN (SELECT sample_id FROM subset_members WHERE subset_id = "
                               "(SELECT id FROM subsets WHERE name = ?1)) ORDER BY src.name, s.key"
                             : "SELECT s.id, s.key, src.name FROM samples s JOIN sources src ON src.id = s.source_id "
                               "ORDER BY src.name, s.key";
    if (subset) {
        sqlite3_stmt *c = NULL;
        int found = sqlite3_prepare_v2(db, "SELECT count(*) FROM subsets WHERE name = ?1", -1, &c, NULL) == SQLITE_OK &&
                    sqlite3_bind_text(c, 1, subset, -1, SQLITE_TRANSIENT) == SQLITE_OK && sqlite3_step(c) == SQLITE_ROW &&
                    sqlite3_column_int(c, 0) > 0;
        sqlite3_finalize(c);
        if (!found) {
            jf_store_close(st);
            return jf_error_set(err, JF_ENOTFOUND, "%s: no subset named '%s' (see jf filter subsets)", dir, subset);
        }
    }
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        s = jf_error_set(err, JF_EDB, "%s: %s", dir, sqlite3_errmsg(db));
        goto done;
    }
    if (subset)
        sqlite3_bind_text(q, 1, subset, -1, SQLITE_TRANSIENT);
    int only_validation = 0;
    if (mmmu) {
        sqlite3_stmt *v = NULL;
        only_validation = sqlite3_prepare_v2(db, "SELECT count(*) FROM sources WHERE name LIKE '%validation%'", -1, &v,
                                             NULL) == SQLITE_OK &&
                          sqlite3_step(v) == SQLITE_ROW && sqlite3_column_int(v, 0) > 0;
        sqlite3_finalize(v);
    }
    jf_record *rec = jf_record_create();
    char prev_source[512] = "";
    size_t n_sources = 0;
    int r;
    FILE *tf = NULL; /* the TSV being written */
    char **cols = NULL;
    size_t n_cols = 0;
    while (!s && (r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(q, 1), *source = (const char *)sqlite3_column_text(q, 2);
        char key_copy[600];
        snprintf(key_copy, sizeof key_copy, "%s", key ? key : "");
        if ((s = jf_store_get_row(st, sqlite3_column_int64(q, 0), rec, err)))
            break;
        if (tsv) {
            int changed = source_change(dir, source, prev_source, &n_sources, "benchmark TSVs", kind, &s, err);
            if (changed < 0)
                break;
            if (changed) {
                snprintf(out->data, sizeof out->data, "%s/data/%s.tsv", scratch, prev_source);
                out->images[0] = 0; /* the images are inside */
                if (!(tf = fopen(out->data, "w"))) {
                    s = jf_error_set(err, JF_EIO, "%s: %s", out->data, strerror(errno));
                    break;
                }
            }
            s = tsv_row(tf, rec, key_copy, out->questions == 0, &cols, &n_cols, dir, err);
            out->questions += !s;
            continue;
        }
        if (mmmu) {
            if (!tf) {
                snprintf(out->data, sizeof out->data, "%s/data/mmmu_rows.jsonl", scratch);
                out->images[0] = 0; /* the images are inside */
                if (!(tf = fopen(out->data, "w"))) {
                    s = jf_error_set(err, JF_EIO, "%s: %s", out->data, strerror(errno));
                    break;
                }
            }
            /* the validation split, as MMMU's folder is read, when the selection has it */
            if (only_validation && !strstr(source ? source : "", "validation"))
                continue;
            if (strcmp(prev_source, source ? source : "")) {
                snprintf(prev_source, sizeof prev_source, "%s", source ? source : "");
                add_source(&written, &n_written, prev_source);
                n_sources++;
            }
            s = mmmu_row(tf, rec, key_copy, dir, err);
            out->questions += !s;
            continue;
        }
        if (dw.layout) {
            /* one document (GQA, VQAv2, SEED) comes from one source; MME has a file per subtask */
            int changed = source_change(dir, source, prev_source, &n_sources,
                                        strcmp(dw.layout, "mme") ? "question files" : NULL, kind, &s, err);
            if (changed < 0)
                break;
            if (changed)
                add_source(&written, &n_written, prev_source);
            s = doc_row(&dw, rec, key_copy, prev_source, dir, out, scratch, err);
            out->questions += !s;
            continue;
        }
        const jf_field *row = jf_record_find_field(rec, "json"), *img = NULL;
        for (size_t i = 0; i < jf_record_field_count(rec) && !img; i++)
            if (jf_record_field(rec, i)->type == JF_FIELD_IMAGE)
                img = jf_record_field(rec, i);
        const jf_column *path = jf_record_find_column(rec, "image_path");
        if (!row || !img || !path || path->type != JF_COL_TEXT) {
            s = jf_error_set(err, JF_EFORMAT,
                             "%s: record %s is not a benchmark question (it needs its row as .json, an image and its "
                             "image_path: ingest the benchmark's own files, e.g. jf ingest DS coco_pope_*.json "
                             "--image-root val2014)",
                             dir, key_copy);
            break;
        }
        if (!safe_relative(path->s) || !safe_relative(source) || strchr(source, '/')) {
            s = jf_error_set(err, JF_EFORMAT, "%s: record %s: image path '%s' (source '%s') leaves its folder", dir, key_copy,
                             path->s, source);
            break;
        }
        char file[8400];
        snprintf(file, sizeof file, "%s/%s.json", out->data, source);
        if (strcmp(prev_source, source)) {
            snprintf(prev_source, sizeof prev_source, "%s", source);
            n_sources++;
            unlink(file); /* a scratch folder used before */
        }
        if (write_file(file, "a", row->data, row->size) || write_file(file, "a", "\n", 1)) {
            s = jf_error_set(err, JF_EIO, "%s: %s", file, strerror(errno));
            break;
        }
        snprintf(file, sizeof file, "%s/%s", out->images, path->s);
        if (stat(file, &sb) != 0 && (mkdirs_for(file) || write_file(file, "wb", img->data, img->size))) {
            s = jf_error_set(err, JF_EIO, "%s: %s", file, strerror(errno));
            break;
        }
        out->questions++;
    }
    jf_record_destroy(rec);
    if (dw.layout) {
        jf_status cs = doc_close(&dw, err);
        if (!s)
            s = cs;
        /* the files the benchmark's reader is given: GQA's and SEED's document; VQAv2's and
         * MME's folder */
        if (!s && (!strcmp(dw.layout, "gqa") || !strcmp(dw.layout, "seed"))) {
            if (strlen(dw.path) >= sizeof out->data)
                s = jf_error_set(err, JF_EARG, "%s: path too long", dw.path);
            else
                memcpy(out->data, dw.path, strlen(dw.path) + 1);
        }
    }
    for (size_t i = 0; i < n_cols; i++)
        free(cols[i]);
    free(cols);
    if (tf && fclose(tf) && !s)
        s = jf_error_set(err, JF_EIO, "%s: %s", out->data, strerror(errno));
    if (!s && !out->questions) {
        s = jf_error_set(err, JF_ENOTFOUND, "%s: no questions in %s%s", dir, subset ? "subset " : "the dataset",
                         subset ? subset : "");
        goto done;
    }
    /* questions of these sources that ingest could not take (a missing or broken image) */
    if (!s && sqlite3_prepare_v2(db, "SELECT key, input, offset, outcome, detail FROM ingest_failures ORDER BY source, key", -1,
                                 &fq, NULL) == SQLITE_OK) {
        char first[1200] = "";
        size_t failed = 0;
        while (sqlite3_step(fq) == SQLITE_ROW) {
            const char *fkey = (const char *)sqlite3_column_text(fq, 0);
            char src[600];
            snprintf(src, sizeof src, "%s", fkey ? fkey : "");
            if (strchr(src, '/'))
                *strchr(src, '/') = 0;
            char file[8400];
            if (tsv && strcmp(src, prev_source))
                continue; /* another source of the dataset */
            snprintf(file, sizeof file, "%s/%s.json", out->data, src);
            /* the failures of the sources read, and of sources whose every question failed: MME's
             * subtask files, MMMU's validation shards */
            int ours = mmmu                              ? !only_validation || strstr(src, "validation")
                       : dw.layout && !strcmp(dw.layout, "mme") ? has_source(written, n_written, src) || jf__mme_task(src)
                       : dw.layout                              ? has_source(written, n_written, src)
                                                                : tsv || stat(file, &sb) == 0;
            if (!ours)
                continue;
            if (!failed++)
                snprintf(first, sizeof first, "%s (%s, record %lld: %s: %s)", fkey, (const char *)sqlite3_column_text(fq, 1),
                         (long long)sqlite3_column_int64(fq, 2), (const char *)sqlite3_column_text(fq, 3),
                         (const char *)sqlite3_column_text(fq, 4));
        }
        if (failed)
            s = jf_error_set(err, JF_EFORMAT,
                             "%s: %zu question%s of this benchmark did not make it into the dataset (first: %s); the "
                             "benchmark would score without them: fix the images and rerun the ingest (it retries them)",
                             dir, failed, failed == 1 ? "" : "s", first);
    }
    out->splits = n_sources;
done:
    for (size_t i = 0; i < n_written; i++)
        free(written[i]);
    free(written);
    sqlite3_finalize(q);
    sqlite3_finalize(fq);
    jf_store_close(st);
    return s;
}
