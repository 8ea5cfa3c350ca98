/* Column parts: the per-sample values one task of a job array computed (CLIP scores, text
 * columns, model losses), kept in a file of its own until the merge writes every part into the
 * dataset's index in one transaction. Tasks never write the index concurrently, a killed task
 * leaves no part (the file appears by rename when complete), and the merge checks that the parts
 * are one job's, each exactly once, all present.
 *
 * Format (JSON lines): a header
 *   {"format": "jf-column-part-1", "job": J, "part": "K/N", "columns": [{"name", "type", "description"}...]}
 * then one line per sample {"key": KEY, "v": [value per column, null for none]}, then a trailer
 * {"done": COUNT}. */
#include "internal.h"
#include "jf_shards.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define COLPART_FORMAT "jf-column-part-1"

struct jf_colpart {
    char *path, *tmp;
    FILE *f;
    size_t n_cols;
    jf_col_type types[64];
    uint64_t count;
    yajl_gen g;
};

static void gen_flush_line(jf_colpart *p)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(p->g, &buf, &len);
    fwrite(buf, 1, len, p->f);
    fputc('\n', p->f);
    yajl_gen_clear(p->g);
    yajl_gen_reset(p->g, NULL);
}

static void gen_str(yajl_gen g, const char *s) { yajl_gen_string(g, (const unsigned char *)s, strlen(s)); }

static const char *type_name(jf_col_type t) { return t == JF_COL_INT ? "INTEGER" : t == JF_COL_TEXT ? "TEXT" : "REAL"; }

jf_status jf_colpart_create(const char *path, const char *job, unsigned k, unsigned n, const jf_colpart_column *cols,
                            size_t n_cols, jf_colpart **out, jf_error *err)
{
    *out = NULL;
    if (!n_cols || n_cols > 64 || n < 1 || k >= n)
        return jf_error_set(err, JF_EARG, "%s: a column part needs 1..64 columns and K < N", path);
    jf_colpart *p = calloc(1, sizeof *p);
    if (!p)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    p->path = strdup(path);
    p->tmp = malloc(strlen(path) + 16);
    p->g = yajl_gen_alloc(NULL);
    if (!p->path || !p->tmp || !p->g) {
        jf_colpart_abort(p);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    sprintf(p->tmp, "%s.tmp", path);
    p->f = fopen(p->tmp, "w");
    if (!p->f) {
        jf_status s = jf_error_set(err, JF_EIO, "%s: %s", p->tmp, strerror(errno));
        jf_colpart_abort(p);
        return s;
    }
    p->n_cols = n_cols;
    char part[32];
    snprintf(part, sizeof part, "%u/%u", k, n);
    yajl_gen_map_open(p->g);
    gen_str(p->g, "format");
    gen_str(p->g, COLPART_FORMAT);
    gen_str(p->g, "job");
    gen_str(p->g, job);
    gen_str(p->g, "part");
    gen_str(p->g, part);
    gen_str(p->g, "columns");
    yajl_gen_array_open(p->g);
    for (size_t i = 0; i < n_cols; i++) {
        p->types[i] = cols[i].type;
        yajl_gen_map_open(p->g);
        gen_str(p->g, "name");
        gen_str(p->g, cols[i].name);
        gen_str(p->g, "type");
        gen_str(p->g, type_name(cols[i].type));
        gen_str(p->g, "description");
        gen_str(p->g, cols[i].description ? cols[i].description : "");
        yajl_gen_map_close(p->g);
    }
    yajl_gen_array_close(p->g);
    yajl_gen_map_close(p->g);
    gen_flush_line(p);
    *out = p;
    return JF_OK;
}

jf_status jf_colpart_add(jf_colpart *p, const char *key, const jf_column *values, jf_error *err)
{
    yajl_gen_map_open(p->g);
    gen_str(p->g, "key");
    if (yajl_gen_string(p->g, (const unsigned char *)key, strlen(key)) != yajl_gen_status_ok)
        return jf_error_set(err, JF_EARG, "%s: key %.200s cannot be written as JSON", p->path, key);
    gen_str(p->g, "v");
    yajl_gen_array_open(p->g);
    for (size_t i = 0; i < p->n_cols; i++) {
        const jf_column *c = &values[i];
        if (c->type == JF_COL_NULL || (c->type == JF_COL_REAL && c->d != c->d))
            yajl_gen_null(p->g);
        else if (c->type == JF_COL_INT)
            yajl_gen_integer(p->g, c->i);
        else if (c->type == JF_COL_REAL) {
            /* %.17g: the double comes back bit for bit */
            char num[40];
            int l = snprintf(num, sizeof num, "%.17g", c->d);
            yajl_gen_number(p->g, num, (size_t)l);
        } else
            gen_str(p->g, c->s ? c->s : "");
    }
    yajl_gen_array_close(p->g);
    yajl_gen_map_close(p->g);
    gen_flush_line(p);
    p->count++;
    if (ferror(p->f))
        return jf_error_set(err, JF_EIO, "%s: write error", p->tmp);
    return JF_OK;
}

jf_status jf_colpart_close(jf_colpart *p, jf_error *err)
{
    fprintf(p->f, "{\"done\": %llu}\n", (unsigned long long)p->count);
    jf_status s = JF_OK;
    if (fflush(p->f) || ferror(p->f) || fsync(fileno(p->f)))
        s = jf_error_set(err, JF_EIO, "%s: write error (disk full?)", p->tmp);
    if (fclose(p->f) && !s)
        s = jf_error_set(err, JF_EIO, "%s: write error", p->tmp);
    p->f = NULL;
    if (!s && rename(p->tmp, p->path))
        s = jf_error_set(err, JF_EIO, "%s: %s", p->path, strerror(errno));
    if (s)
        unlink(p->tmp);
    free(p->path);
    free(p->tmp);
    yajl_gen_free(p->g);
    free(p);
    return s;
}

void jf_colpart_abort(jf_colpart *p)
{
    if (!p)
        return;
    if (p->f) {
        fclose(p->f);
        unlink(p->tmp);
    }
    free(p->path);
    free(p->tmp);
    if (p->g)
        yajl_gen_free(p->g);
    free(p);
}

/* ---- reading and merging ---- */

typedef struct part_head {
    char job[128];
    unsigned k, n;
    size_t n_cols;
    char names[64][128];
    jf_col_type types[64];
    char descr[64][256];
} part_head;

static const char *ystr(yajl_val v, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);
    return x ? YAJL_GET_STRING(x) : NULL;
}

static jf_status parse_head(const char *path, const char *line, part_head *h, jf_error *err)
{
    memset(h, 0, sizeof *h);
    char eb[256];
    yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
    const char *fmt = v ? ystr(v, "format") : NULL, *job = v ? ystr(v, "job") : NULL, *part = v ? ystr(v, "part") : NULL;
    const char *cp[] = {"columns", NULL};
    yajl_val cols = v ? yajl_tree_get(v, cp, yajl_t_array) : NULL;
    jf_status s = JF_OK;
    if (!fmt || strcmp(fmt, COLPART_FORMAT) || !job || !part || !cols)
        s = jf_error_set(err, JF_EFORMAT, "%s: line 1: not a column part (--column-part writes them)", path);
    else if (sscanf(part, "%u/%u", &h->k, &h->n) != 2 || h->n < 1 || h->k >= h->n)
        s = jf_error_set(err, JF_EFORMAT, "%s: line 1: bad part '%s'", path, part);
    else if (!YAJL_GET_ARRAY(cols)->len || YAJL_GET_ARRAY(cols)->len > 64)
        s = jf_error_set(err, JF_EFORMAT, "%s: line 1: 1..64 columns expected", path);
    if (!s && job && cols) {
        snprintf(h->job, sizeof h->job, "%s", job);
        h->n_cols = YAJL_GET_ARRAY(cols)->len;
        for (size_t i = 0; i < h->n_cols && !s; i++) {
            yajl_val c = YAJL_GET_ARRAY(cols)->values[i];
            const char *name = ystr(c, "name"), *type = ystr(c, "type"), *d = ystr(c, "description");
            if (!name || !*name || !type)
                s = jf_error_set(err, JF_EFORMAT, "%s: line 1: column %zu has no name or type", path, i);
            else {
                snprintf(h->names[i], sizeof h->names[i], "%s", name);
                snprintf(h->descr[i], sizeof h->descr[i], "%s", d ? d : "");
                h->types[i] = !strcmp(type, "INTEGER") ? JF_COL_INT : !strcmp(type, "TEXT") ? JF_COL_TEXT : JF_COL_REAL;
            }
        }
    }
    yajl_tree_free(v);
    return s;
}

static char *read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t got = getline(buf, cap, f);
    if (got < 0)
        return NULL;
    while (got > 0 && ((*buf)[got - 1] == '\n' || (*buf)[got - 1] == '\r'))
        (*buf)[--got] = 0;
    return *buf;
}

/* Reads a part's header and checks that its trailer is there (a complete file). */
static jf_status check_part_file(const char *path, part_head *h, uint64_t *rows, jf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    const char *l = read_line(f, &buf, &cap);
    jf_status s = l ? parse_head(path, l, h, err) : jf_error_set(err, JF_EFORMAT, "%s: empty file", path);
    char *last = NULL;
    uint64_t lines = 0;
    while (!s && (l = read_line(f, &buf, &cap))) {
        free(last);
        last = strdup(l);
        lines++;
    }
    unsigned long long done = 0;
    if (!s && (!last || sscanf(last, "{\"done\": %llu}", &done) != 1 || done + 1 != lines))
        s = jf_error_set(err, JF_ETRUNCATED, "%s: no complete trailer after %llu lines (a part cut short)", path,
                         (unsigned long long)lines + 1);
    *rows = done;
    free(last);
    free(buf);
    fclose(f);
    return s;
}

jf_status jf_store_merge_column_parts(jf_store *st, const char *const *paths, size_t n, jf_colmerge_report *r,
                                      jf_error *err)
{
    memset(r, 0, sizeof *r);
    if (!n)
        return jf_error_set(err, JF_EARG, "no column parts to merge");
    part_head *heads = calloc(n, sizeof *heads);
    uint64_t *rows = calloc(n, sizeof *rows);
    jf_status s = heads && rows ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        s = check_part_file(paths[i], &heads[i], &rows[i], err);
        if (s)
            break;
        part_head *a = &heads[0], *b = &heads[i];
        if (strcmp(a->job, b->job) || a->n != b->n)
            s = jf_error_set(err, JF_EARG, "%s is part %u/%u of job %s, %s part %u/%u of job %s: not one job", paths[i], b->k,
                             b->n, b->job, paths[0], a->k, a->n, a->job);
        else if (a->n_cols != b->n_cols)
            s = jf_error_set(err, JF_EARG, "%s and %s hold different columns", paths[0], paths[i]);
        for (size_t c = 0; !s && c < a->n_cols; c++)
            if (strcmp(a->names[c], b->names[c]) || a->types[c] != b->types[c])
                s = jf_error_set(err, JF_EARG, "%s and %s hold different columns (%s, %s)", paths[0], paths[i], a->names[c],
                                 b->names[c]);
        for (size_t j = 0; !s && j < i; j++)
            if (heads[j].k == b->k)
                s = jf_error_set(err, JF_EARG, "%s and %s are both part %u/%u (overlapping parts)", paths[j], paths[i], b->k,
                                 b->n);
    }
    if (!s && n != heads[0].n) {
        /* the parts are distinct and below N, so N − n are missing: name the first ones */
        char missing[512] = "";
        size_t used = 0, listed = 0, count = heads[0].n - n;
        for (unsigned k = 0; k < heads[0].n && listed < 16; k++) {
            int have = 0;
            for (size_t i = 0; i < n; i++)
                have |= heads[i].k == k;
            if (!have) {
                used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%u/%u", listed ? ", " : "", k, heads[0].n);
                listed++;
            }
        }
        if (count > listed)
            snprintf(missing + used, sizeof missing - used, " … (%zu in all)", count);
        s = jf_error_set(err, JF_EARG, "part%s %s of job %s %s missing: nothing merged", count > 1 ? "s" : "", missing,
                         heads[0].job, count > 1 ? "are" : "is");
    }
    part_head *h = heads;
    for (size_t c = 0; !s && c < (h ? h->n_cols : 0); c++)
        s = jf_store_ensure_column(st, h->names[c], h->types[c], h->descr[c], err);
    sqlite3_stmt *up = NULL;
    if (!s) {
        char sql[64 * 140 + 128];
        size_t used = (size_t)snprintf(sql, sizeof sql, "UPDATE samples SET ");
        for (size_t c = 0; c < h->n_cols; c++) {
            char *q = sqlite3_mprintf("%s\"%w\" = ?%d", c ? ", " : "", h->names[c], (int)c + 1);
            used += (size_t)snprintf(sql + used, sizeof sql - used, "%s", q);
            sqlite3_free(q);
        }
        snprintf(sql + used, sizeof sql - used, " WHERE key = ?%d", (int)h->n_cols + 1);
        if (sqlite3_prepare_v2(st->db, sql, -1, &up, NULL) != SQLITE_OK)
            s = jf__db_err(st->db, err, "preparing the column update");
    }
    if (!s && sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        s = jf__db_err(st->db, err, "starting the merge");
    int in_tx = !s;
    char *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; !s && i < n; i++) {
        FILE *f = fopen(paths[i], "r");
        if (!f) {
            s = jf_error_set(err, JF_EIO, "%s: %s", paths[i], strerror(errno));
            break;
        }
        read_line(f, &buf, &cap); /* the header, checked above */
        for (uint64_t line = 2; !s && line < rows[i] + 2; line++) {
            const char *l = read_line(f, &buf, &cap);
            char eb[256];
            yajl_val v = l ? yajl_tree_parse(l, eb, sizeof eb) : NULL;
            const char *key = v ? ystr(v, "key") : NULL;
            const char *vp[] = {"v", NULL};
            yajl_val vals = v ? yajl_tree_get(v, vp, yajl_t_array) : NULL;
            if (!key || !vals || YAJL_GET_ARRAY(vals)->len != h->n_cols) {
                s = jf_error_set(err, JF_EFORMAT, "%s: line %llu: not a {\"key\", \"v\": [%zu values]} line", paths[i],
                                 (unsigned long long)line, h->n_cols);
                yajl_tree_free(v);
                break;
            }
            sqlite3_reset(up);
            for (size_t c = 0; !s && c < h->n_cols; c++) {
                yajl_val x = YAJL_GET_ARRAY(vals)->values[c];
                int col = (int)c + 1;
                if (YAJL_IS_NULL(x))
                    sqlite3_bind_null(up, col);
                else if (h->types[c] == JF_COL_TEXT && YAJL_IS_STRING(x))
                    sqlite3_bind_text(up, col, YAJL_GET_STRING(x), -1, SQLITE_TRANSIENT);
                else if (h->types[c] == JF_COL_INT && YAJL_IS_INTEGER(x))
                    sqlite3_bind_int64(up, col, YAJL_GET_INTEGER(x));
                else if (h->types[c] == JF_COL_REAL && YAJL_IS_NUMBER(x))
                    sqlite3_bind_double(up, col, strtod(YAJL_GET_NUMBER(x), NULL));
                else
                    s = jf_error_set(err, JF_EFORMAT, "%s: line %llu: value %zu (%s) is not of type %s", paths[i],
                                     (unsigned long long)line, c, h->names[c], type_name(h->types[c]));
            }
            if (!s) {
                sqlite3_bind_text(up, (int)h->n_cols + 1, key, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(up) != SQLITE_DONE)
                    s = jf__db_err(st->db, err, "writing the columns");
                else if (sqlite3_changes(st->db) == 0) {
                    if (!r->unknown_keys++)
                        snprintf(r->first_unknown, sizeof r->first_unknown, "%s: line %llu: key %.300s", paths[i],
                                 (unsigned long long)line, key);
                } else
                    r->updated++;
                r->rows++;
            }
            yajl_tree_free(v);
        }
        fclose(f);
        r->parts++;
    }
    free(buf);
    sqlite3_finalize(up);
    if (in_tx)
        sqlite3_exec(st->db, s ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    if (!s) {
        r->n_cols = h->n_cols;
        for (size_t c = 0; c < h->n_cols && c < 8; c++)
            snprintf(r->columns[c], sizeof r->columns[c], "%s", h->names[c]);
        snprintf(r->job, sizeof r->job, "%s", h->job);
    }
    free(heads);
    free(rows);
    return s;
}

jf_status jf_colpart_check(const char *path, const char *job, unsigned k, unsigned n, jf_error *err)
{
    part_head h;
    uint64_t rows;
    jf_status s = check_part_file(path, &h, &rows, err);
    if (s)
        return s;
    if (strcmp(h.job, job) || h.k != k || h.n != n)
        return jf_error_set(err, JF_EARG, "%s holds part %u/%u of job %s; this run is part %u/%u of job %s", path, h.k, h.n,
                            h.job, k, n, job);
    return JF_OK;
}
