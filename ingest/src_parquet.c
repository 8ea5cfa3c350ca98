/* Parquet tables: LAION / COYO / DataComp metadata (a URL column to download, with the
 * columns kept) and Hugging Face datasets (image bytes in the file, plain or as the {bytes,
 * path} struct). Local files are read by row group; remote ones by byte ranges (the footer,
 * then only the chunks of the columns used). */
#include "run.h"
#include "jf_parquet.h"

#include <stdlib.h>
#include <string.h>

/* ---- parquet: LAION / COYO / DataComp metadata (URLs) and Hugging Face datasets (embedded
 * image bytes) ---- */

/* A row of the chosen scalar columns as a JSON-like object. */
static yajl_val parquet_row(jf_parquet *pq, const int *cols, const jf_pq_values *vals, int nc, size_t r)
{
    yajl_val o = jf__new_row((size_t)nc);
    if (!o)
        return NULL;
    for (int k = 0; k < nc; k++) {
        const jf_pq_column *c = jf_parquet_column(pq, cols[k]);
        const jf_pq_values *v = &vals[k];
        yajl_val x = calloc(1, sizeof *x);
        if (!x)
            break;
        if (!v->present[r]) {
            x->type = yajl_t_null;
        } else if (c->kind == JF_PQK_BOOL) {
            x->type = v->i64[r] ? yajl_t_true : yajl_t_false;
        } else if (c->kind == JF_PQK_INT || c->kind == JF_PQK_FLOAT) {
            char num[64];
            x->type = yajl_t_number;
            if (c->kind == JF_PQK_INT) {
                snprintf(num, sizeof num, "%lld", (long long)v->i64[r]);
                x->u.number.i = v->i64[r];
                x->u.number.d = (double)v->i64[r];
                x->u.number.flags = YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID;
            } else {
                snprintf(num, sizeof num, "%.17g", v->f64[r]);
                x->u.number.d = v->f64[r];
                x->u.number.flags = YAJL_NUMBER_DOUBLE_VALID;
            }
            x->u.number.r = jf__xstrdup(num);
        } else {
            size_t len = (size_t)(v->offsets[r + 1] - v->offsets[r]);
            x->type = yajl_t_string;
            x->u.string = malloc(len + 1);
            if (x->u.string) {
                memcpy(x->u.string, v->bytes + v->offsets[r], len);
                x->u.string[len] = 0;
            }
        }
        o->u.object.keys[o->u.object.len] = jf__xstrdup(c->path);
        o->u.object.values[o->u.object.len++] = x;
    }
    return o;
}

typedef struct remote_pq {
    const char *url;
    const jf_http_params *http;
} remote_pq;

static long remote_pq_read(void *user, uint64_t offset, void *buf, size_t n, jf_error *err)
{
    const remote_pq *r = user;
    char msg[700];
    if (jf__http_range(r->url, r->http, offset, n, buf, NULL, msg, sizeof msg)) {
        jf_error_set(err, JF_EIO, "%s", msg);
        return -1;
    }
    return (long)n;
}

/* 1 if a column lies under the top-level field `name` (a struct or list). */
static int has_field(jf_parquet *pq, const char *name)
{
    size_t l = strlen(name);
    for (int c = 0; c < jf_parquet_num_columns(pq); c++) {
        const char *p = jf_parquet_column(pq, c)->path;
        if (!strncmp(p, name, l) && p[l] == '.')
            return 1;
    }
    return 0;
}

static jf_status read_parquet(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    const jf_ingest_params *p = jf__params(s);
    jf_error pe = {0};
    jf_parquet *pq = NULL;
    remote_pq rp = {path, &p->http};
    jf_status opened;
    if (jf__is_url(path)) {
        /* remote: the size from a one-byte range, then the footer and the chunks by range */
        uint64_t total = 0;
        char msg[700];
        if (jf__http_range(path, &p->http, 0, 1, NULL, &total, msg, sizeof msg) || !total)
            opened = jf_error_set(&pe, JF_EIO, "%s", total ? msg : "the server gave no size (Content-Range)");
        else
            opened = jf_parquet_open_reader(remote_pq_read, &rp, total, path, &pq, &pe);
    } else {
        opened = jf_parquet_open(path, &pq, &pe);
    }
    if (opened) {
        jf__problem(s, path, -1, "input not read: %s", pe.msg);
        *incomplete = 1;
        return JF_OK;
    }
    if (p->max_row_group_bytes)
        jf_parquet_set_max_chunk_bytes(pq, p->max_row_group_bytes);
    int n = jf_parquet_num_columns(pq);
    /* the URL column, or an image-bytes column (image.bytes of a Hugging Face struct, or a
     * byte column named image/jpg/png/bytes) */
    int ucol = -1, icol = -1;
    if (p->url_col)
        ucol = jf_parquet_find_column(pq, p->url_col);
    else
        for (int k = 0; ucol < 0 && k < 4; k++)
            ucol = jf_parquet_find_column(pq, (const char *const[]){"url", "URL", "image_url", "img_url"}[k]);
    if (!p->url_col)
        for (int k = 0; icol < 0 && k < 5; k++) {
            int c = jf_parquet_find_column(pq, (const char *const[]){"image.bytes", "image", "jpg", "png", "bytes"}[k]);
            if (c >= 0 && jf_parquet_column(pq, c)->kind == JF_PQK_BYTES)
                icol = c;
        }
    /* MMMU's layout: image_1..image_7 as {bytes, path} structs, the first always present; the
     * row is kept whole as .json (what jf eval bench mmmu --data DS writes back) */
    enum { N_EXTRA = 6 };
    int xcol[N_EXTRA], numbered = 0;
    for (int k = 0; k < N_EXTRA; k++)
        xcol[k] = -1;
    if (ucol < 0 && icol < 0 && !p->url_col) {
        int c = jf_parquet_find_column(pq, "image_1.bytes");
        if (c >= 0 && jf_parquet_column(pq, c)->kind == JF_PQK_BYTES) {
            icol = c;
            numbered = 1;
            for (int k = 0; k < N_EXTRA; k++) {
                char name[32];
                snprintf(name, sizeof name, "image_%d.bytes", k + 2);
                int x = jf_parquet_find_column(pq, name);
                xcol[k] = x >= 0 && jf_parquet_column(pq, x)->kind == JF_PQK_BYTES ? x : -1;
            }
        }
    }
    if (ucol >= 0 && jf_parquet_column(pq, ucol)->kind != JF_PQK_STRING &&
        jf_parquet_column(pq, ucol)->kind != JF_PQK_BYTES) {
        jf__problem(s, path, -1, "input not read: column %s is not text, it cannot hold URLs", jf_parquet_column(pq, ucol)->path);
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    if (ucol < 0 && icol < 0) {
        if (p->url_col)
            jf__problem(s, path, -1, "input not read: no column %s (--url-col)", p->url_col);
        else
            jf__problem(s, path, -1, "input not read: no url column (url, URL, image_url, img_url) and no image bytes "
                                 "column (image.bytes, image, jpg, png, bytes, image_1.bytes)");
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    if (p->caption_col && jf_parquet_find_column(pq, p->caption_col) < 0) {
        jf__problem(s, path, -1, "input not read: no column %s (--caption-col)", p->caption_col);
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    /* the columns read: the URL (or image) and caption, then every scalar column, or only
     * those of --keep-columns; byte columns other than text are images, not metadata */
    int *cols = malloc((size_t)(n ? n : 1) * sizeof *cols), nc = 0;
    jf_pq_values *vals = calloc((size_t)(n ? n : 1) + 1 + N_EXTRA, sizeof *vals);
    if (!cols || !vals) {
        free(cols);
        free(vals);
        jf_parquet_close(pq);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    jf__sbuf lists = {0}; /* columns not kept because they are lists: said, not dropped silently */
    for (int c = 0; c < n; c++) {
        const jf_pq_column *col = jf_parquet_column(pq, c);
        int wanted = c == ucol || (p->caption_col && !strcmp(col->path, p->caption_col)) || !p->keep_columns ||
                     jf__in_list(p->keep_columns, col->path);
        if (c == icol || col->kind == JF_PQK_BYTES || col->kind == JF_PQK_OTHER)
            continue;
        if (col->max_rep > 0) {
            /* named by their top-level field (tags, not tags.list.item) */
            char top[256];
            snprintf(top, sizeof top, "%.*s", (int)strcspn(col->path, "."), col->path);
            if ((wanted || jf__in_list(p->keep_columns, top)) && !jf__in_list(lists.p, top)) {
                jf__sb_puts(&lists, lists.len ? "," : "");
                jf__sb_puts(&lists, top);
            }
            continue;
        }
        if (wanted)
            cols[nc++] = c;
    }
    if (lists.len)
        jf__warning(s, path, -1, "columns not kept: %s (lists; jf keeps scalar columns)", lists.p);
    free(lists.p);
    /* --keep-columns names missing from this file */
    for (const char *k = p->keep_columns; k && *k;) {
        size_t l = strcspn(k, ",");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l < sizeof name ? l : sizeof name - 1), k);
        if (*name && jf_parquet_find_column(pq, name) < 0 && !has_field(pq, name))
            jf__warning(s, path, -1, "--keep-columns: no column %s in this file", name);
        k += l;
        k += *k == ',';
    }
    int url_k = -1;
    for (int k = 0; k < nc; k++)
        if (cols[k] == ucol)
            url_k = k;
    jf_status rc = JF_OK;
    int64_t index = 0;
    for (int rg = 0; rc == JF_OK && rg < jf_parquet_num_row_groups(pq); rg++) {
        uint64_t rows = jf_parquet_row_group_rows(pq, rg);
        /* rows of other parts (--part) are skipped without reading their chunks */
        int any = p->part_n <= 1;
        for (uint64_t r = 0; !any && r < rows; r++)
            any = (uint64_t)(index + (int64_t)r) % p->part_n == p->part_k;
        if (!any) {
            index += (int64_t)rows;
            continue;
        }
        int bad = 0;
        for (int k = 0; k <= nc + N_EXTRA && !bad; k++) {
            int c = k < nc ? cols[k] : k == nc ? icol : xcol[k - nc - 1];
            if (c < 0)
                continue;
            if (jf_parquet_read_column(pq, rg, c, &vals[k], &pe)) {
                jf__problem(s, path, -1, "row group %d not read: %s", rg, pe.msg);
                bad = 1;
            }
        }
        if (bad) {
            *incomplete = 1;
            for (int k = 0; k <= nc + N_EXTRA; k++)
                jf_pq_values_free(&vals[k]);
            index += (int64_t)rows;
            continue;
        }
        /* text that is not UTF-8: stored with U+FFFD in place of the bad bytes (each sample gets
         * the caption_repaired note); said once per column and row group */
        for (int k = 0; k < nc; k++) {
            const jf_pq_column *col = jf_parquet_column(pq, cols[k]);
            if (col->kind != JF_PQK_STRING)
                continue;
            uint64_t bad_values = 0, first_bad = 0;
            for (uint64_t r = 0; r < rows; r++)
                if (vals[k].present[r] && !jf__utf8_valid((const char *)vals[k].bytes + vals[k].offsets[r],
                                                          (size_t)(vals[k].offsets[r + 1] - vals[k].offsets[r])) &&
                    !bad_values++)
                    first_bad = r;
            if (bad_values)
                jf__warning(s, path, -1,
                            "column %s, row group %d: %llu value%s not valid UTF-8 (the first at row %lld); stored with "
                            "U+FFFD in place of the bad bytes",
                            col->path, rg, (unsigned long long)bad_values, bad_values == 1 ? " is" : "s are",
                            (long long)(index + (int64_t)first_bad));
        }
        for (uint64_t r = 0; rc == JF_OK && r < rows; r++, index++) {
            if (p->part_n > 1 && (uint64_t)index % p->part_n != p->part_k)
                continue;
            yajl_val row = parquet_row(pq, cols, vals, nc, (size_t)r);
            if (!row) {
                rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            /* --caption-col renamed as for CSV (--keep-columns already chose the columns read) */
            jf__row_select(row, p, ucol >= 0 ? jf_parquet_column(pq, ucol)->path : "");
            if (icol >= 0) {
                /* the image is in the file: an item as a download would make it */
                char key[600];
                jf__item probe;
                jf__triage_row(s, source, index, key, sizeof key, &probe);
                jf__item *it = jf__item_new(s, err, &rc);
                if (!it) {
                    yajl_tree_free(row);
                    break;
                }
                it->process = jf__process_downloaded;
                it->key = jf__xstrdup(key);
                it->source = source;
                it->input = path;
                it->offset = index;
                it->rec = row;
                const jf_pq_values *iv = &vals[nc];
                size_t len = iv->present[r] ? (size_t)(iv->offsets[r + 1] - iv->offsets[r]) : 0;
                if (probe.outcome != JF_OUT_OK) {
                    it->outcome = probe.outcome;
                    snprintf(it->detail, sizeof it->detail, "%s", probe.detail);
                } else if (!len) {
                    it->outcome = JF_OUT_MISSING_IMAGE;
                    snprintf(it->detail, sizeof it->detail, "row %lld has no image bytes", (long long)index);
                    /* counted under the column, as manifests count under their folder */
                    snprintf(it->missing_prefix, sizeof it->missing_prefix, "column %.100s",
                             jf_parquet_column(pq, icol)->path);
                } else if (!(it->m = calloc(1 + N_EXTRA, sizeof *it->m)) || !(it->m[0].data = malloc(len))) {
                    rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                } else {
                    memcpy(it->m[0].data, iv->bytes + iv->offsets[r], len);
                    it->m[0].size = len;
                    const char *fmt = jf_image_format_of(it->m[0].data, len);
                    it->m[0].ext = jf__xstrdup(jf__ext_for_format(fmt ? fmt : "jpeg"));
                    it->n_m = 1;
                    it->keep_row = numbered;
                    /* image_2..image_7 where present: fields image_2.<ext>, ... */
                    for (int k = 0; k < N_EXTRA && rc == JF_OK; k++) {
                        const jf_pq_values *xv = &vals[nc + 1 + k];
                        size_t xl = xcol[k] >= 0 && xv->present[r] ? (size_t)(xv->offsets[r + 1] - xv->offsets[r]) : 0;
                        if (!xl)
                            continue;
                        jf__member *m = &it->m[it->n_m];
                        const char *xf = jf_image_format_of(xv->bytes + xv->offsets[r], xl);
                        char name[40];
                        snprintf(name, sizeof name, "image_%d.%s", k + 2, jf__ext_for_format(xf ? xf : "jpeg"));
                        m->ext = jf__xstrdup(name);
                        it->n_m++; /* owned by the item from here */
                        if (!(m->data = malloc(xl)) || !m->ext) {
                            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                            break;
                        }
                        memcpy(m->data, xv->bytes + xv->offsets[r], xl);
                        m->size = xl;
                    }
                }
            } else {
                const jf_pq_values *uv = &vals[url_k];
                char *url = NULL;
                if (uv->present[r]) {
                    size_t len = (size_t)(uv->offsets[r + 1] - uv->offsets[r]);
                    url = malloc(len + 1);
                    if (url) {
                        memcpy(url, uv->bytes + uv->offsets[r], len);
                        url[len] = 0;
                    }
                }
                rc = jf__url_row(s, path, source, index, url, row, err);
                free(url);
            }
        }
        for (int k = 0; k <= nc + N_EXTRA; k++)
            jf_pq_values_free(&vals[k]);
    }
    if (rc == JF_OK)
        rc = jf__drain_downloads(s, err);
    free(cols);
    free(vals);
    jf_parquet_close(pq);
    return rc;
}


static int probe_parquet(const jf__probe *pb)
{
    return pb->remote ? !strcmp(pb->ext, "parquet") : pb->n_raw >= 4 && !memcmp(pb->raw, "PAR1", 4);
}

const jf__source jf__src_parquet = {"parquet", probe_parquet, read_parquet, 0};
