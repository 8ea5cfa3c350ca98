/* .npz statistics files: a zip (stored or deflated) of .npy arrays — mu, sigma, or feats.
 * Read and written with libarchive; the .npy headers parsed and checked here. */
#include "eval_internal.h"

#include <archive.h>
#include <errno.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct npy {
    char name[64];
    int es;            /* element size: '<f8' 8, '<f4' 4, '<f2' 2 */
    int ndim;
    uint64_t shape[4];
    uint8_t *data;     /* raw little-endian values */
    size_t bytes;
} npy;

/* Parses a .npy file in memory: magic, version, header dict (descr, fortran_order, shape). */
static jf_status parse_npy(const char *path, const char *name, const uint8_t *p, size_t n, npy *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (n < 10 || memcmp(p, "\x93NUMPY", 6))
        return jf_error_set(err, JF_EFORMAT, "%s: %s is not a .npy array", path, name);
    size_t hl, off;
    if (p[6] == 1) {
        hl = (size_t)p[8] | (size_t)p[9] << 8;
        off = 10;
    } else if (p[6] == 2 || p[6] == 3) {
        if (n < 12)
            return jf_error_set(err, JF_ETRUNCATED, "%s: %s is cut short", path, name);
        hl = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        off = 12;
    } else {
        return jf_error_set(err, JF_EFORMAT, "%s: %s has .npy version %u", path, name, p[6]);
    }
    if (hl > n - off || hl > 65536)
        return jf_error_set(err, JF_ETRUNCATED, "%s: %s has a header past its end", path, name);
    char h[65537];
    memcpy(h, p + off, hl);
    h[hl] = 0;
    const char *d = strstr(h, "'descr'"), *f = strstr(h, "'fortran_order'"), *s = strstr(h, "'shape'");
    if (!d || !f || !s)
        return jf_error_set(err, JF_EFORMAT, "%s: %s has an incomplete .npy header", path, name);
    const char *colon = strchr(d, ':');
    const char *q = colon ? strchr(colon, '\'') : NULL;
    if (!q)
        return jf_error_set(err, JF_EFORMAT, "%s: %s has a bad descr", path, name);
    if (!strncmp(q, "'<f8'", 5))
        out->es = 8;
    else if (!strncmp(q, "'<f4'", 5))
        out->es = 4;
    else if (!strncmp(q, "'<f2'", 5))
        out->es = 2;
    else
        return jf_error_set(err, JF_EFORMAT, "%s: %s has dtype %.6s, expected float64, float32 or float16 ('<f8'/'<f4'/'<f2')",
                            path, name, q);
    const char *fv = strchr(f, ':');
    while (fv && (*fv == ':' || *fv == ' '))
        fv++;
    if (!fv || strncmp(fv, "False", 5))
        return jf_error_set(err, JF_EFORMAT, "%s: %s is in Fortran order (or its header says neither)", path, name);
    const char *lp = strchr(s, '(');
    if (!lp)
        return jf_error_set(err, JF_EFORMAT, "%s: %s has a bad shape", path, name);
    lp++;
    while (*lp && *lp != ')') {
        while (*lp == ' ' || *lp == ',')
            lp++;
        if (*lp == ')')
            break;
        char *end;
        unsigned long long v = strtoull(lp, &end, 10);
        if (end == lp || out->ndim == 4)
            return jf_error_set(err, JF_EFORMAT, "%s: %s has a shape of more than 4 dimensions", path, name);
        out->shape[out->ndim++] = v;
        lp = end;
        if (*lp == 'L')
            lp++;
    }
    size_t count = 1;
    for (int i = 0; i < out->ndim; i++)
        count *= out->shape[i];
    size_t es = (size_t)out->es;
    if (count > (n - off - hl) / es)
        return jf_error_set(err, JF_ETRUNCATED, "%s: %s holds %zu bytes, its shape needs %zu", path, name, n - off - hl,
                            count * es);
    out->bytes = count * es;
    out->data = malloc(out->bytes ? out->bytes : 1);
    if (!out->data)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    memcpy(out->data, p + off + hl, out->bytes);
    return JF_OK;
}

static double at(const npy *a, size_t i)
{
    if (a->es == 8) {
        double v;
        memcpy(&v, a->data + i * 8, 8);
        return v;
    }
    if (a->es == 2) {
        uint16_t h;
        memcpy(&h, a->data + i * 2, 2);
        return jf_f16_to_f32(h);
    }
    float v;
    memcpy(&v, a->data + i * 4, 4);
    return v;
}

jf_status jf_npz_read_stats(const char *path, jf_fid_stats *stats, float **feats, size_t *n_feats, int *feat_dims,
                            jf_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (feats)
        *feats = NULL;
    struct archive *a = archive_read_new();
    archive_read_support_format_zip(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        jf_status s = jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return s;
    }
    npy arr[3];
    int have[3] = {0, 0, 0}; /* mu, sigma, feats */
    static const char *const names[3] = {"mu.npy", "sigma.npy", "feats.npy"};
    jf_status s = JF_OK;
    struct archive_entry *e;
    int r;
    while (!s && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *nm = archive_entry_pathname(e);
        int which = -1;
        for (int k = 0; k < 3; k++)
            if (nm && !strcmp(nm, names[k]))
                which = k;
        if (which < 0 || have[which]) {
            archive_read_data_skip(a);
            continue;
        }
        size_t cap = 1 << 20, n = 0;
        uint8_t *buf = malloc(cap);
        for (;;) {
            if (!buf) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            if (n == cap) {
                uint8_t *nb = cap < ((size_t)1 << 34) ? realloc(buf, cap * 2) : NULL;
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    continue;
                }
                buf = nb;
                cap *= 2;
            }
            la_ssize_t got = archive_read_data(a, buf + n, cap - n);
            if (got < 0) {
                s = jf_error_set(err, JF_ECORRUPT, "%s: %s: %s", path, nm, archive_error_string(a));
                break;
            }
            if (got == 0)
                break;
            n += (size_t)got;
        }
        if (!s)
            s = parse_npy(path, nm, buf, n, &arr[which], err);
        free(buf);
        if (!s)
            have[which] = 1;
    }
    if (!s && r != ARCHIVE_EOF && r != ARCHIVE_OK)
        s = jf_error_set(err, JF_ECORRUPT, "%s: %s", path, archive_error_string(a));
    archive_read_free(a);
    if (!s && stats) {
        if (!have[0] || !have[1])
            s = jf_error_set(err, JF_EFORMAT, "%s: no mu and sigma arrays (an .npz of FID statistics has both)", path);
        else if (arr[0].ndim != 1 || arr[1].ndim != 2 || arr[1].shape[0] != arr[0].shape[0] ||
                 arr[1].shape[1] != arr[0].shape[0])
            s = jf_error_set(err, JF_EFORMAT, "%s: mu has shape (%llu) and sigma (%llu, %llu); expected (d) and (d, d)",
                             path, (unsigned long long)arr[0].shape[0], (unsigned long long)arr[1].shape[0],
                             (unsigned long long)(arr[1].ndim == 2 ? arr[1].shape[1] : 0));
        else {
            size_t d = arr[0].shape[0];
            stats->dims = (int)d;
            stats->mu = malloc(d * sizeof *stats->mu);
            stats->sigma = malloc(d * d * sizeof *stats->sigma);
            if (!stats->mu || !stats->sigma) {
                jf_fid_stats_free(stats);
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
            } else {
                for (size_t i = 0; i < d; i++)
                    stats->mu[i] = at(&arr[0], i);
                for (size_t i = 0; i < d * d; i++)
                    stats->sigma[i] = at(&arr[1], i);
            }
        }
    }
    if (!s && feats) {
        if (!have[2] || arr[2].ndim != 2)
            s = jf_error_set(err, JF_EFORMAT, "%s: no feats array of shape (n, d) (a KID .npz has one)", path);
        else {
            size_t n = arr[2].shape[0], d = arr[2].shape[1];
            *feats = malloc(n * d * sizeof **feats);
            if (!*feats)
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
            else {
                for (size_t i = 0; i < n * d; i++)
                    (*feats)[i] = (float)at(&arr[2], i);
                *n_feats = n;
                *feat_dims = (int)d;
            }
        }
    }
    for (int k = 0; k < 3; k++)
        if (have[k])
            free(arr[k].data);
    return s;
}

/* A .npy of `ndim` C-order dimensions (ndim 0: a scalar) with numpy's dtype string `descr`
 * ("<f8", "<f4", "<i4", "|u1", ...) of `elem`-byte values. */
static uint8_t *make_npy_shaped(const void *v, const char *descr, size_t elem, int ndim, const uint64_t *shape, size_t *len)
{
    char h[512], dims[200] = "";
    size_t n = 1, dl = 0;
    for (int i = 0; i < ndim; i++) {
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
        n *= shape[i];
    }
    if (ndim == 1)
        snprintf(dims + dl, sizeof dims - dl, ",");
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    /* numpy pads the header with spaces and a newline to a multiple of 64 bytes (with the 10-byte prelude) */
    size_t total_h = ((size_t)(10 + hl + 1) + 63) / 64 * 64 - 10;
    *len = 10 + total_h + n * elem;
    uint8_t *p = malloc(*len);
    if (!p)
        return NULL;
    memcpy(p, "\x93NUMPY\x01\x00", 8);
    p[8] = (uint8_t)(total_h & 0xff);
    p[9] = (uint8_t)(total_h >> 8);
    memcpy(p + 10, h, (size_t)hl);
    memset(p + 10 + hl, ' ', total_h - (size_t)hl - 1);
    p[10 + total_h - 1] = '\n';
    if (n)
        memcpy(p + 10 + total_h, v, n * elem);
    return p;
}

/* float64 ('<f8', elem 8) or float32 ('<f4', elem 4) values, 1-D or 2-D. */
static uint8_t *make_npy_typed(const void *v, size_t elem, size_t rows, size_t cols, int ndim, size_t *len)
{
    uint64_t shape[2] = {rows, cols};
    return make_npy_shaped(v, elem == 8 ? "<f8" : "<f4", elem, ndim, shape, len);
}

static uint8_t *make_npy(const double *v, size_t rows, size_t cols, int ndim, size_t *len)
{
    return make_npy_typed(v, 8, rows, cols, ndim, len);
}

jf_status jf_npy_write_f32(const char *path, const float *v, size_t rows, size_t cols, jf_error *err)
{
    size_t len;
    uint8_t *p = make_npy_typed(v, 4, rows, cols, 2, &len);
    if (!p)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    /* written beside the target, then renamed: a reader never sees half a file */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "wb");
    jf_status s = JF_OK;
    if (!f || fwrite(p, 1, len, f) != len)
        s = jf_error_set(err, JF_EIO, "%s: cannot write", tmp);
    if (f && fclose(f) != 0 && s == JF_OK)
        s = jf_error_set(err, JF_EIO, "%s: cannot write", tmp);
    if (s == JF_OK && rename(tmp, path) != 0)
        s = jf_error_set(err, JF_EIO, "%s: cannot rename into place", path);
    if (s != JF_OK)
        unlink(tmp);
    free(p);
    return s;
}

/* A growing buffer libarchive writes into (jf_npz_write_memory). */
typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
} membuf;

static la_ssize_t membuf_write(struct archive *a, void *user, const void *data, size_t n)
{
    membuf *m = user;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 1 << 16;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
    return (la_ssize_t)n;
}

/* The zip of named members, written beside the target and renamed: a reader never sees half a
 * file. With `mem`, the same bytes go to memory instead (path names them in messages). */
static jf_status write_npz_to(const char *path, membuf *mem, const char *const *names, uint8_t *const *bufs,
                              const size_t *lens, int count, int deflate, jf_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, mem ? "%s" : "%s.partial", path);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_set_options(a, deflate ? "zip:compression=deflate" : "zip:compression=store");
    /* memory: one write per block as a file gets (no padding of the last block) */
    archive_write_set_bytes_in_last_block(a, 1);
    jf_status s = JF_OK;
    if ((mem ? archive_write_open2(a, mem, NULL, membuf_write, NULL, NULL) : archive_write_open_filename(a, tmp)) !=
        ARCHIVE_OK)
        s = jf_error_set(err, JF_EIO, "%s: %s", tmp, archive_error_string(a));
    for (int k = 0; !s && k < count; k++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[k]);
        archive_entry_set_size(e, (la_int64_t)lens[k]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 315532800, 0); /* 1980-01-01, as zipfile does for arrays */
        if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, bufs[k], lens[k]) != (la_ssize_t)lens[k])
            s = jf_error_set(err, JF_EIO, "%s: %s", tmp, archive_error_string(a));
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK && !s)
        s = jf_error_set(err, JF_EIO, "%s: %s", tmp, archive_error_string(a));
    archive_write_free(a);
    if (mem)
        return s;
    if (!s && rename(tmp, path) != 0)
        s = jf_error_set(err, JF_EIO, "%s: cannot rename into place", path);
    if (s)
        remove(tmp);
    return s;
}

static jf_status write_npz_opt(const char *path, const char *const *names, uint8_t *const *bufs, const size_t *lens,
                               int count, int deflate, jf_error *err)
{
    return write_npz_to(path, NULL, names, bufs, lens, count, deflate, err);
}

static size_t descr_size(const char *d)
{
    size_t n = strlen(d);
    return n >= 3 && strchr("<>|=", d[0]) ? (size_t)atoi(d + 2) : 0;
}

uint8_t *jf_npy_encode(const jf_npy_array *a, size_t *len)
{
    size_t elem = descr_size(a->descr);
    if (!elem || a->ndim < 0 || a->ndim > 4)
        return NULL;
    return make_npy_shaped(a->data, a->descr, elem, a->ndim, a->shape, len);
}

static jf_status npz_write(const char *path, membuf *mem, const jf_npy_array *arrays, size_t n, int deflate, jf_error *err)
{
    uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    char **names = calloc(n ? n : 1, sizeof *names);
    jf_status s = bufs && lens && names ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        size_t elem = descr_size(arrays[i].descr);
        if (!elem || arrays[i].ndim < 0 || arrays[i].ndim > 4) {
            s = jf_error_set(err, JF_EARG, "%s: array %s has an unsupported dtype %s or rank %d", path, arrays[i].name,
                             arrays[i].descr, arrays[i].ndim);
            break;
        }
        bufs[i] = make_npy_shaped(arrays[i].data, arrays[i].descr, elem, arrays[i].ndim, arrays[i].shape, &lens[i]);
        names[i] = malloc(strlen(arrays[i].name) + 5);
        if (!bufs[i] || !names[i])
            s = jf_error_set(err, JF_ENOMEM, "out of memory for %s", arrays[i].name);
        else
            sprintf(names[i], "%s.npy", arrays[i].name);
    }
    if (!s)
        s = write_npz_to(path, mem, (const char *const *)names, bufs, lens, (int)n, deflate, err);
    for (size_t i = 0; bufs && names && i < n; i++) {
        free(bufs[i]);
        free(names[i]);
    }
    free(bufs);
    free(lens);
    free(names);
    return s;
}

jf_status jf_npz_write(const char *path, const jf_npy_array *arrays, size_t n, int deflate, jf_error *err)
{
    return npz_write(path, NULL, arrays, n, deflate, err);
}

jf_status jf_npz_write_memory(const jf_npy_array *arrays, size_t n, uint8_t **buf, size_t *len, jf_error *err)
{
    membuf m = {0};
    jf_status s = npz_write("(memory)", &m, arrays, n, 0, err);
    if (s) {
        free(m.p);
        return s;
    }
    *buf = m.p;
    *len = m.len;
    return JF_OK;
}

static jf_status write_npz(const char *path, const char *const *names, uint8_t *const *bufs, const size_t *lens, int count,
                           jf_error *err)
{
    /* stored, as np.savez writes: deflate saved ~7 % of a float64 sigma and took most of the
     * time of a small statistics run */
    return write_npz_opt(path, names, bufs, lens, count, 0, err);
}

static jf_status write_stats(const char *path, const jf_fid_stats *stats, const jf_stats_part *part, jf_error *err)
{
    size_t d = (size_t)stats->dims, lens[4];
    uint8_t *bufs[4] = {make_npy(stats->mu, d, 0, 1, &lens[0]), make_npy(stats->sigma, d, d, 2, &lens[1]), NULL, NULL};
    const char *names[4] = {"mu.npy", "sigma.npy", "jf_part.npy", "jf_protocol.txt"};
    int count = 2;
    if (part) {
        double rec[3] = {part->k, part->parts, (double)part->n};
        bufs[2] = make_npy(rec, 3, 0, 1, &lens[2]);
        lens[3] = strlen(part->protocol);
        bufs[3] = (uint8_t *)strdup(part->protocol);
        count = 4;
    }
    jf_status s = JF_OK;
    for (int k = 0; k < count; k++)
        if (!bufs[k])
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!s)
        s = write_npz(path, names, bufs, lens, count, err);
    for (int k = 0; k < 4; k++)
        free(bufs[k]);
    return s;
}

jf_status jf_npz_write_stats(const char *path, const jf_fid_stats *stats, jf_error *err)
{
    return write_stats(path, stats, NULL, err);
}

jf_status jf_npz_write_stats_part(const char *path, const jf_fid_stats *stats, const jf_stats_part *part, jf_error *err)
{
    return write_stats(path, stats, part, err);
}

jf_status jf_npz_read_stats_part(const char *path, jf_fid_stats *stats, jf_stats_part *part, jf_error *err)
{
    memset(part, 0, sizeof *part);
    jf_status s = jf_npz_read_stats(path, stats, NULL, NULL, NULL, err);
    if (s)
        return s;
    struct archive *a = archive_read_new();
    archive_read_support_format_zip(a);
    archive_read_support_filter_none(a);
    int found = 0;
    if (archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK) {
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
            const char *nm = archive_entry_pathname(e);
            if (nm && !strcmp(nm, "jf_part.npy")) {
                uint8_t buf[512];
                la_ssize_t got = archive_read_data(a, buf, sizeof buf);
                npy arr;
                if (got > 0 && parse_npy(path, nm, buf, (size_t)got, &arr, err) == JF_OK) {
                    if (arr.ndim == 1 && arr.shape[0] == 3) {
                        part->k = (unsigned)at(&arr, 0);
                        part->parts = (unsigned)at(&arr, 1);
                        part->n = (uint64_t)at(&arr, 2);
                        found |= 1;
                    }
                    free(arr.data);
                }
            } else if (nm && !strcmp(nm, "jf_protocol.txt")) {
                la_ssize_t got = archive_read_data(a, part->protocol, sizeof part->protocol - 1);
                if (got >= 0) {
                    part->protocol[got] = 0;
                    found |= 2;
                }
            } else {
                archive_read_data_skip(a);
            }
        }
    }
    archive_read_free(a);
    if (found != 3 || !part->parts || part->k >= part->parts) {
        jf_fid_stats_free(stats);
        return jf_error_set(err, JF_EFORMAT, "%s: not a statistics part (jf eval stats --part writes them)", path);
    }
    stats->n = part->n;
    return JF_OK;
}

jf_status jf_npy_read_f32(const char *path, float **values, uint64_t shape[4], int *ndim, jf_error *err)
{
    *values = NULL;
    *ndim = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *q = cap <= ((size_t)1 << 34) ? realloc(buf, cap) : NULL;
            if (!q) {
                free(buf);
                fclose(f);
                return jf_error_set(err, JF_ENOMEM, "%s: out of memory", path);
            }
            buf = q;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return jf_error_set(err, JF_EIO, "%s: read error", path);
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    jf_status s = jf_npy_decode_f32(buf, n, base, values, shape, ndim, err);
    free(buf);
    return s;
}

jf_status jf_npy_decode_f32(const void *buf, size_t len, const char *what, float **values, uint64_t shape[4], int *ndim,
                            jf_error *err)
{
    *values = NULL;
    *ndim = 0;
    npy a;
    jf_status s = parse_npy(what, "the array", buf, len, &a, err);
    if (s)
        return s;
    size_t count = a.bytes / (size_t)a.es;
    float *v = malloc((count ? count : 1) * sizeof *v);
    if (!v) {
        free(a.data);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++)
        v[i] = (float)at(&a, i);
    free(a.data);
    for (int i = 0; i < 4; i++)
        shape[i] = i < a.ndim ? a.shape[i] : 1;
    *ndim = a.ndim;
    *values = v;
    return JF_OK;
}
