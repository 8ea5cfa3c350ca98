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

/* One record as a VLMEvalKit TSV row: its .json row's cells in the header's order, then its
 * images as base64 (a Python list literal when there are several). The header is written from
 * the first record. */
static jf_status tsv_row(FILE *f, const jf_record *rec, const char *key, int first, char ***cols, size_t *n_cols,
                         const char *dir, jf_error *err)
{
    const jf_field *row = jf_record_find_field(rec, "json");
    char eb[128];
    char *text = row ? strndup((const char *)row->data, row->size) : NULL;
    yajl_val o = text ? yajl_tree_parse(text, eb, sizeof eb) : NULL;
    free(text);
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

jf_status jf_bench_from_dataset(jf_bench_kind kind, jf_bench_protocol proto, const char *spec, const char *scratch,
                                jf_bench_dataset_files *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    int tsv = jf__bench_reads_tsv(kind, proto);
    if (kind != JF_BENCH_POPE && !tsv)
        return jf_error_set(err, JF_EARG,
                            "%s: reading the benchmark from a jf dataset is offered for pope (its label files) and for "
                            "the benchmarks read from VLMEvalKit's TSVs (mmbench; pope, mme, gqa, seed, mmmu with "
                            "--protocol vlmevalkit); give %s's published files to --data",
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
            if (strcmp(prev_source, source ? source : "")) {
                if (n_sources++) {
                    s = jf_error_set(err, JF_EARG,
                                     "%s: the selection holds two benchmark TSVs (%s and %s); %s reads one: select it with a "
                                     "subset (jf filter ... --subset NAME, then --data %s#NAME)",
                                     dir, prev_source, source, jf_bench_name(kind), dir);
                    break;
                }
                snprintf(prev_source, sizeof prev_source, "%s", source ? source : "");
                if (!safe_relative(prev_source) || strchr(prev_source, '/')) {
                    s = jf_error_set(err, JF_EFORMAT, "%s: source '%s' is not a file name", dir, prev_source);
                    break;
                }
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
            if (!tsv && stat(file, &sb) != 0)
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
    sqlite3_finalize(q);
    sqlite3_finalize(fq);
    jf_store_close(st);
    return s;
}
