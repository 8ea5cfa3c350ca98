/* MMMU's questions as published: the Hugging Face dataset MMMU/MMMU (one folder per subject of
 * <split>-0000N-of-0000M.parquet files; columns id, question, options — a Python list literal —,
 * answer, question_type, image_1..image_7 as {bytes, path} structs), or the same rows as JSON /
 * JSONL (image_k a path beside the file, or {"bytes": base64} / {"path": ...}). MMMU's own run
 * (run_llava.py) gives the model image_1 alone; lmms-eval gives every image its question names. */
#include "bench_internal.h"

#include "jf_parquet.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void jf__mmmu_rows_free(jf__mmmu_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].question);
        free(rows[i].options);
        free(rows[i].answer);
        free(rows[i].question_type);
        for (int k = 0; k < JF_MMMU_IMAGES; k++) {
            free(rows[i].image[k]);
            free(rows[i].image_path[k]);
        }
    }
    free(rows);
}

static jf__mmmu_row *add_row(jf__mmmu_row **rows, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *rows = realloc(*rows, *cap * sizeof **rows);
    }
    jf__mmmu_row *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

/* A JSON value as text: strings as they are, numbers as Python prints them. */
static char *json_text(yajl_val v)
{
    char buf[64];
    if (!v || YAJL_IS_NULL(v))
        return NULL;
    if (YAJL_IS_STRING(v))
        return strdup(v->u.string);
    if (YAJL_IS_INTEGER(v)) {
        snprintf(buf, sizeof buf, "%lld", v->u.number.i);
        return strdup(buf);
    }
    if (YAJL_IS_DOUBLE(v)) {
        jf__py_repr(v->u.number.d, buf, sizeof buf);
        return strdup(buf);
    }
    return NULL;
}

static int row_from_json(yajl_val o, const char *file, long line, jf__mmmu_row *r, jf_error *err)
{
    const char *ip[] = {"id", NULL}, *qp[] = {"question", NULL}, *op[] = {"options", NULL}, *ap[] = {"answer", NULL},
               *tp[] = {"question_type", NULL}, *mp[] = {"image_1", NULL};
    yajl_val opts = yajl_tree_get(o, op, yajl_t_any);
    r->id = json_text(yajl_tree_get(o, ip, yajl_t_any));
    r->question = json_text(yajl_tree_get(o, qp, yajl_t_any));
    r->answer = json_text(yajl_tree_get(o, ap, yajl_t_any));
    r->question_type = json_text(yajl_tree_get(o, tp, yajl_t_any));
    if (opts && YAJL_IS_ARRAY(opts)) {
        /* a list already: written back as the literal the scripts eval() */
        size_t cap = 16;
        char *s = malloc(cap);
        size_t n = (size_t)snprintf(s, cap, "[");
        for (size_t k = 0; k < opts->u.array.len; k++) {
            char *t = json_text(opts->u.array.values[k]);
            const char *x = t ? t : "";
            size_t need = n + strlen(x) * 2 + 8;
            if (need > cap)
                s = realloc(s, cap = need * 2);
            n += (size_t)snprintf(s + n, cap - n, "%s'", k ? ", " : "");
            for (const char *c = x; *c; c++) {
                if (*c == '\'' || *c == '\\')
                    s[n++] = '\\';
                s[n++] = *c;
            }
            s[n++] = '\'';
            s[n] = 0;
            free(t);
        }
        snprintf(s + n, cap - n, "]");
        r->options = s;
    } else {
        r->options = json_text(opts);
    }
    if (!r->id || !r->question || !r->options || !r->answer || !r->question_type)
        return jf_error_set(err, JF_EFORMAT, "%s:%ld: an MMMU row needs id, question, options, answer and question_type",
                            file, line),
               -1;
    for (int k = 0; k < JF_MMMU_IMAGES; k++) {
        char name[16];
        snprintf(name, sizeof name, "image_%d", k + 1);
        mp[0] = name;
        yajl_val img = yajl_tree_get(o, mp, yajl_t_any);
        const char *bp[] = {"bytes", NULL}, *pp[] = {"path", NULL};
        yajl_val bytes = img && YAJL_IS_OBJECT(img) ? yajl_tree_get(img, bp, yajl_t_string) : NULL;
        yajl_val path = img && YAJL_IS_OBJECT(img) ? yajl_tree_get(img, pp, yajl_t_string) : img && YAJL_IS_STRING(img) ? img : NULL;
        if (bytes) {
            r->image[k] = jf_base64_decode(bytes->u.string, strlen(bytes->u.string), &r->image_len[k]);
        } else if (path && path->u.string[0]) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", file);
            char *slash = strrchr(dir, '/');
            if (path->u.string[0] == '/' || !slash)
                r->image_path[k] = strdup(path->u.string);
            else {
                slash[1] = 0;
                size_t n = strlen(dir) + strlen(path->u.string) + 1;
                r->image_path[k] = malloc(n);
                snprintf(r->image_path[k], n, "%s%s", dir, path->u.string);
            }
        }
    }
    snprintf(r->where, sizeof r->where, "%.250s:%ld", file, line);
    return 0;
}

static int read_json_rows(const char *file, jf__mmmu_row **rows, size_t *n, size_t *cap, jf_error *err)
{
    size_t len = strlen(file);
    if (len > 6 && !strcmp(file + len - 6, ".jsonl")) {
        FILE *f = fopen(file, "r");
        if (!f)
            return jf_error_set(err, JF_ENOTFOUND, "%s: %s", file, strerror(errno)), -1;
        char *line = NULL;
        size_t lcap = 0;
        long ln = 0;
        int rc = 0;
        while (!rc && getline(&line, &lcap, f) >= 0) {
            ln++;
            if (!line[strspn(line, " \t\r\n")])
                continue;
            char eb[128];
            yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
            if (!v || !YAJL_IS_OBJECT(v))
                rc = (jf_error_set(err, JF_EFORMAT, "%s:%ld: not a JSON object", file, ln), -1);
            else
                rc = row_from_json(v, file, ln, add_row(rows, n, cap), err);
            yajl_tree_free(v);
        }
        free(line);
        fclose(f);
        return rc;
    }
    yajl_val d = jf__bench_read_json(file, err);
    if (!d)
        return -1;
    int rc = 0;
    if (!YAJL_IS_ARRAY(d))
        rc = (jf_error_set(err, JF_EFORMAT, "%s: MMMU rows are a JSON list of objects (or JSONL)", file), -1);
    for (size_t k = 0; !rc && k < d->u.array.len; k++) {
        yajl_val o = d->u.array.values[k];
        rc = YAJL_IS_OBJECT(o) ? row_from_json(o, file, (long)k + 1, add_row(rows, n, cap), err)
                               : (jf_error_set(err, JF_EFORMAT, "%s: item %zu is not an object", file, k + 1), -1);
    }
    yajl_tree_free(d);
    return rc;
}

static int read_parquet_rows(const char *file, jf__mmmu_row **rows, size_t *n, size_t *cap, jf_error *err)
{
    jf_parquet *pq;
    if (jf_parquet_open(file, &pq, err))
        return -1;
    enum { NC = 5 + JF_MMMU_IMAGES };
    static const char *const names[NC] = {"id",           "question",     "options",      "answer",
                                          "question_type", "image_1.bytes", "image_2.bytes", "image_3.bytes",
                                          "image_4.bytes", "image_5.bytes", "image_6.bytes", "image_7.bytes"};
    int col[NC];
    for (int k = 0; k < NC; k++) {
        col[k] = jf_parquet_find_column(pq, names[k]);
        if (col[k] < 0 && k < 5) {
            jf_parquet_close(pq);
            return jf_error_set(err, JF_EFORMAT, "%s: no column %s (MMMU's rows: id, question, options, answer, "
                                                 "question_type, image_1)",
                                file, names[k]),
                   -1;
        }
    }
    int rc = 0;
    uint64_t base = 0;
    for (int rg = 0; !rc && rg < jf_parquet_num_row_groups(pq); rg++) {
        jf_pq_values v[NC];
        memset(v, 0, sizeof v);
        for (int k = 0; !rc && k < NC; k++)
            if (col[k] >= 0 && jf_parquet_read_column(pq, rg, col[k], &v[k], err))
                rc = -1;
        for (size_t r = 0; !rc && r < v[0].rows; r++) {
            jf__mmmu_row *row = add_row(rows, n, cap);
            char **dst[5] = {&row->id, &row->question, &row->options, &row->answer, &row->question_type};
            for (int k = 0; k < 5; k++) {
                if (!v[k].present[r] || !v[k].offsets)
                    continue;
                size_t len = (size_t)(v[k].offsets[r + 1] - v[k].offsets[r]);
                *dst[k] = malloc(len + 1);
                memcpy(*dst[k], v[k].bytes + v[k].offsets[r], len);
                (*dst[k])[len] = 0;
            }
            snprintf(row->where, sizeof row->where, "%.250s: row %llu", file, (unsigned long long)(base + r));
            if (!row->id || !row->question || !row->options || !row->answer || !row->question_type) {
                rc = (jf_error_set(err, JF_EFORMAT, "%s: a null in id, question, options, answer or question_type", row->where),
                      -1);
                break;
            }
            for (int k = 0; k < JF_MMMU_IMAGES; k++) {
                jf_pq_values *c = &v[5 + k];
                if (col[5 + k] < 0 || !c->present[r] || !c->offsets)
                    continue;
                row->image_len[k] = (size_t)(c->offsets[r + 1] - c->offsets[r]);
                row->image[k] = malloc(row->image_len[k] ? row->image_len[k] : 1);
                memcpy(row->image[k], c->bytes + c->offsets[r], row->image_len[k]);
            }
        }
        base += v[0].rows;
        for (int k = 0; k < NC; k++)
            jf_pq_values_free(&v[k]);
    }
    jf_parquet_close(pq);
    return rc;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The split's files of a folder and its subject folders (Hugging Face's layout), sorted. */
static void collect(const char *dir, int depth, const char *split, char ***files, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb))
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth < 2)
                collect(path, depth + 1, split, files, n, cap);
            continue;
        }
        size_t sl = strlen(split);
        int named = !strncmp(e->d_name, split, sl) && (e->d_name[sl] == '-' || e->d_name[sl] == '.');
        if (named && (ends_with(e->d_name, ".parquet") || ends_with(e->d_name, ".json") || ends_with(e->d_name, ".jsonl"))) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *files = realloc(*files, *cap * sizeof **files);
            }
            (*files)[(*n)++] = strdup(path);
        }
    }
    closedir(d);
}

int jf__mmmu_read_rows(const char *data, const char *split, jf__mmmu_row **rows, size_t *n, jf_error *err)
{
    *rows = NULL;
    *n = 0;
    size_t cap = 0, nf = 0, fcap = 0;
    char **files = NULL;
    struct stat sb;
    if (stat(data, &sb))
        return jf_error_set(err, JF_ENOTFOUND, "%s: %s", data, strerror(errno)), -1;
    if (S_ISDIR(sb.st_mode)) {
        collect(data, 0, split, &files, &nf, &fcap);
        if (!nf)
            return jf_error_set(err, JF_ENOTFOUND, "%s: no %s-*.parquet (or .json/.jsonl) files in it or its subject folders "
                                                   "(Hugging Face's MMMU/MMMU layout)",
                                data, split),
                   -1;
        qsort(files, nf, sizeof *files, cmp_str);
    } else {
        files = malloc(sizeof *files);
        files[nf++] = strdup(data);
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < nf; i++)
        rc = ends_with(files[i], ".parquet") ? read_parquet_rows(files[i], rows, n, &cap, err)
                                             : read_json_rows(files[i], rows, n, &cap, err);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (rc) {
        jf__mmmu_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
