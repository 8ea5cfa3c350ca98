/* Apache Parquet reader (jf_parquet.h): the Thrift compact footer, the schema tree, and column
 * chunks decoded page by page into one slot per row. Every length, count and offset comes from
 * an untrusted file and is checked before use. */
#include "jf_parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ---- the Thrift compact protocol ---- */

typedef struct tbuf {
    const uint8_t *p, *end, *start;
    int bad;    /* a read ran past the end or met a malformed value */
    int depth;  /* nesting of structs/lists being skipped */
} tbuf;

enum { T_STOP = 0, T_TRUE = 1, T_FALSE = 2, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BINARY = 8,
       T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12 };

static uint64_t t_varint(tbuf *b)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (b->p >= b->end) {
            b->bad = 1;
            return 0;
        }
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            return v;
    }
    b->bad = 1;
    return 0;
}

static int64_t t_zigzag(tbuf *b)
{
    uint64_t v = t_varint(b);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A binary/string: points into the buffer. */
static const uint8_t *t_binary(tbuf *b, size_t *len)
{
    uint64_t n = t_varint(b);
    if (b->bad || n > (uint64_t)(b->end - b->p)) {
        b->bad = 1;
        *len = 0;
        return NULL;
    }
    const uint8_t *s = b->p;
    b->p += n;
    *len = (size_t)n;
    return s;
}

static char *t_string(tbuf *b)
{
    size_t n;
    const uint8_t *s = t_binary(b, &n);
    if (!s)
        return NULL;
    char *out = malloc(n + 1);
    if (!out) {
        b->bad = 1;
        return NULL;
    }
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* List/set header: element type and count. */
static uint64_t t_list(tbuf *b, int *etype)
{
    if (b->p >= b->end) {
        b->bad = 1;
        return 0;
    }
    uint8_t h = *b->p++;
    *etype = h & 0x0F;
    uint64_t n = h >> 4;
    if (n == 15)
        n = t_varint(b);
    /* each element takes at least one byte (bool in a list: one byte) */
    if (n > (uint64_t)(b->end - b->p) && *etype != T_TRUE && *etype != T_FALSE)
        b->bad = 1;
    return b->bad ? 0 : n;
}

static void t_skip(tbuf *b, int type);

static void t_skip_struct(tbuf *b)
{
    if (++b->depth > 64) {
        b->bad = 1;
        return;
    }
    int16_t last = 0;
    while (!b->bad) {
        if (b->p >= b->end) {
            b->bad = 1;
            break;
        }
        uint8_t h = *b->p++;
        int type = h & 0x0F;
        if (type == T_STOP)
            break;
        int delta = h >> 4;
        last = delta ? (int16_t)(last + delta) : (int16_t)t_zigzag(b);
        t_skip(b, type);
    }
    b->depth--;
}

static void t_skip(tbuf *b, int type)
{
    switch (type) {
    case T_TRUE:
    case T_FALSE:
        break;
    case T_BYTE:
        if (b->p >= b->end)
            b->bad = 1;
        else
            b->p++;
        break;
    case T_I16:
    case T_I32:
    case T_I64:
        t_varint(b);
        break;
    case T_DOUBLE:
        if (b->end - b->p < 8)
            b->bad = 1;
        else
            b->p += 8;
        break;
    case T_BINARY: {
        size_t n;
        t_binary(b, &n);
        break;
    }
    case T_LIST:
    case T_SET: {
        int et;
        uint64_t n = t_list(b, &et);
        if (++b->depth > 64)
            b->bad = 1;
        for (uint64_t i = 0; i < n && !b->bad; i++) {
            if (et == T_TRUE || et == T_FALSE) {
                if (b->p >= b->end)
                    b->bad = 1;
                else
                    b->p++;
            } else {
                t_skip(b, et);
            }
        }
        b->depth--;
        break;
    }
    case T_MAP: {
        uint64_t n = t_varint(b);
        if (n && b->p >= b->end) {
            b->bad = 1;
            break;
        }
        int kt = n ? *b->p >> 4 : 0, vt = n ? *b->p & 0x0F : 0;
        if (n)
            b->p++;
        if (n > (uint64_t)(b->end - b->p))
            b->bad = 1;
        for (uint64_t i = 0; i < n && !b->bad; i++) {
            t_skip(b, kt);
            t_skip(b, vt);
        }
        break;
    }
    case T_STRUCT:
        t_skip_struct(b);
        break;
    default:
        b->bad = 1;
    }
}

/* Iterates a struct's fields: returns the field type (T_STOP at the end) and sets *id. */
static int t_field(tbuf *b, int16_t *last, int16_t *id)
{
    if (b->bad || b->p >= b->end) {
        b->bad = 1;
        return T_STOP;
    }
    uint8_t h = *b->p++;
    int type = h & 0x0F;
    if (type == T_STOP)
        return T_STOP;
    int delta = h >> 4;
    *last = delta ? (int16_t)(*last + delta) : (int16_t)t_zigzag(b);
    *id = *last;
    return type;
}

static int t_bool(int type) { return type == T_TRUE; }

static int64_t t_int(tbuf *b, int type)
{
    if (type == T_BYTE) {
        if (b->p >= b->end) {
            b->bad = 1;
            return 0;
        }
        return (int8_t)*b->p++;
    }
    if (type == T_I16 || type == T_I32 || type == T_I64)
        return t_zigzag(b);
    t_skip(b, type);
    b->bad = 1;
    return 0;
}

/* ---- the metadata we keep ---- */

typedef struct pq_chunk {
    int codec;
    int external; /* file_path set: the chunk lives in another file */
    int64_t num_values;
    int64_t data_page_offset, dictionary_page_offset, total_compressed;
    int type;
} pq_chunk;

typedef struct pq_rowgroup {
    int64_t num_rows;
    int n_chunks;
    pq_chunk *chunks; /* one per leaf column, in schema order */
} pq_rowgroup;

typedef struct pq_schema {
    char *name;
    int type, type_length, repetition, num_children, converted, has_type;
    int logical;        /* the LogicalType union's field id, 0 when absent */
    int int_bits, int_signed;
} pq_schema;

struct jf_parquet {
    char *name;
    jf_pq_read_fn read;
    void *user;
    int fd;             /* local files: owned */
    uint64_t size;
    uint64_t num_rows;
    char *created_by;
    jf_pq_column *cols;
    int n_cols;
    pq_rowgroup *rgs;
    int n_rgs;
    uint64_t max_chunk;
};

uint64_t jf_parquet_num_rows(const jf_parquet *pq) { return pq->num_rows; }
int jf_parquet_num_row_groups(const jf_parquet *pq) { return pq->n_rgs; }
uint64_t jf_parquet_row_group_rows(const jf_parquet *pq, int rg)
{
    return rg >= 0 && rg < pq->n_rgs ? (uint64_t)pq->rgs[rg].num_rows : 0;
}
int jf_parquet_num_columns(const jf_parquet *pq) { return pq->n_cols; }
const jf_pq_column *jf_parquet_column(const jf_parquet *pq, int i) { return i >= 0 && i < pq->n_cols ? &pq->cols[i] : NULL; }
const char *jf_parquet_created_by(const jf_parquet *pq) { return pq->created_by ? pq->created_by : ""; }
void jf_parquet_set_max_chunk_bytes(jf_parquet *pq, uint64_t max)
{
    if (max)
        pq->max_chunk = max;
}

int jf_parquet_find_column(const jf_parquet *pq, const char *path)
{
    for (int i = 0; i < pq->n_cols; i++)
        if (!strcmp(pq->cols[i].path, path))
            return i;
    for (int i = 0; i < pq->n_cols; i++)
        if (!strcasecmp(pq->cols[i].path, path))
            return i;
    return -1;
}

void jf_parquet_close(jf_parquet *pq)
{
    if (!pq)
        return;
    for (int i = 0; i < pq->n_cols; i++)
        free(pq->cols[i].path);
    free(pq->cols);
    for (int r = 0; r < pq->n_rgs; r++)
        free(pq->rgs[r].chunks);
    free(pq->rgs);
    free(pq->created_by);
    free(pq->name);
    if (pq->fd >= 0)
        close(pq->fd);
    free(pq);
}

/* ---- footer parsing ---- */

static void read_logical(tbuf *b, pq_schema *s)
{
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        if (type != T_STRUCT) {
            t_skip(b, type);
            continue;
        }
        s->logical = id;
        if (id == 10) { /* INTEGER {1: bitWidth i8, 2: isSigned bool} */
            int16_t l2 = 0, i2;
            int t2;
            while ((t2 = t_field(b, &l2, &i2)) != T_STOP) {
                if (i2 == 1)
                    s->int_bits = (int)t_int(b, t2);
                else if (i2 == 2)
                    s->int_signed = t_bool(t2);
                else
                    t_skip(b, t2);
            }
        } else {
            t_skip_struct(b);
        }
    }
}

static void read_schema_element(tbuf *b, pq_schema *s)
{
    memset(s, 0, sizeof *s);
    s->converted = -1;
    s->int_signed = 1;
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        switch (id) {
        case 1: s->type = (int)t_int(b, type); s->has_type = 1; break;
        case 2: s->type_length = (int)t_int(b, type); break;
        case 3: s->repetition = (int)t_int(b, type); break;
        case 4:
            if (type == T_BINARY) {
                free(s->name);
                s->name = t_string(b);
            } else {
                t_skip(b, type);
            }
            break;
        case 5: s->num_children = (int)t_int(b, type); break;
        case 6: s->converted = (int)t_int(b, type); break;
        case 10:
            if (type == T_STRUCT)
                read_logical(b, s);
            else
                t_skip(b, type);
            break;
        default: t_skip(b, type);
        }
    }
}

static void read_column_meta(tbuf *b, pq_chunk *c)
{
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        switch (id) {
        case 1: c->type = (int)t_int(b, type); break;
        case 4: c->codec = (int)t_int(b, type); break;
        case 5: c->num_values = t_int(b, type); break;
        case 7: c->total_compressed = t_int(b, type); break;
        case 9: c->data_page_offset = t_int(b, type); break;
        case 11: c->dictionary_page_offset = t_int(b, type); break;
        default: t_skip(b, type);
        }
    }
}

static void read_column_chunk(tbuf *b, pq_chunk *c)
{
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        if (id == 3 && type == T_STRUCT)
            read_column_meta(b, c);
        else if (id == 1 && type == T_BINARY) { /* file_path: chunks in another file */
            size_t n;
            t_binary(b, &n);
            c->external = n > 0;
        } else
            t_skip(b, type);
    }
}

/* Builds the leaf columns from the flattened schema (depth-first, root first). */
static int build_columns(jf_parquet *pq, pq_schema *s, int n, int *pos, const char *prefix, int def, int rep,
                         jf_error *err, int depth)
{
    if (depth > 64)
        return jf_error_set(err, JF_ECORRUPT, "%s: the schema nests deeper than 64 levels", pq->name);
    int i = *pos;
    if (i >= n)
        return jf_error_set(err, JF_ECORRUPT, "%s: the schema has fewer elements than its children counts", pq->name);
    pq_schema *e = &s[i];
    (*pos)++;
    char path[1024];
    if (depth == 0)
        path[0] = 0;
    else
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", e->name ? e->name : "");
    if (depth > 0) {
        if (e->repetition == 1) /* OPTIONAL */
            def++;
        else if (e->repetition == 2) { /* REPEATED */
            def++;
            rep++;
        }
    }
    if (e->num_children > 0 || depth == 0) {
        if (e->num_children < 0 || e->num_children > n)
            return jf_error_set(err, JF_ECORRUPT, "%s: schema element %d claims %d children", pq->name, i, e->num_children);
        for (int c = 0; c < e->num_children; c++) {
            int r = build_columns(pq, s, n, pos, path, def, rep, err, depth + 1);
            if (r)
                return r;
        }
        return JF_OK;
    }
    if (!e->has_type || e->type < 0 || e->type > 7)
        return jf_error_set(err, JF_EFORMAT, "%s: column %s has no physical type", pq->name, path);
    jf_pq_column *col = realloc(pq->cols, (size_t)(pq->n_cols + 1) * sizeof *col);
    if (!col)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    pq->cols = col;
    col = &pq->cols[pq->n_cols];
    memset(col, 0, sizeof *col);
    col->path = strdup(path);
    if (!col->path)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    pq->n_cols++;
    col->type = (jf_pq_type)e->type;
    col->type_length = e->type_length;
    col->max_def = def;
    col->max_rep = rep;
    col->is_signed = 1;
    switch (col->type) {
    case JF_PQ_BOOLEAN: col->kind = JF_PQK_BOOL; break;
    case JF_PQ_INT32:
    case JF_PQ_INT64:
        col->kind = JF_PQK_INT;
        col->int_bits = col->type == JF_PQ_INT32 ? 32 : 64;
        if (e->logical == 10 && e->int_bits) {
            col->int_bits = e->int_bits;
            col->is_signed = e->int_signed;
        } else if (e->converted >= 11 && e->converted <= 18) { /* UINT_8 … INT_64 */
            static const int bits[8] = {8, 16, 32, 64, 8, 16, 32, 64};
            col->int_bits = bits[e->converted - 11];
            col->is_signed = e->converted >= 15;
        } else if (e->logical == 5 || e->converted == 5) { /* DECIMAL */
            col->kind = JF_PQK_OTHER;
        }
        break;
    case JF_PQ_FLOAT:
    case JF_PQ_DOUBLE: col->kind = JF_PQK_FLOAT; break;
    case JF_PQ_BYTE_ARRAY:
    case JF_PQ_FIXED_LEN_BYTE_ARRAY:
        /* STRING (1), ENUM (4), JSON (12); converted UTF8 (0), ENUM (4), JSON (19) */
        col->kind = e->logical == 1 || e->logical == 4 || e->logical == 12 || e->converted == 0 || e->converted == 4 ||
                            e->converted == 19
                        ? JF_PQK_STRING
                        : JF_PQK_BYTES;
        if (col->type == JF_PQ_FIXED_LEN_BYTE_ARRAY && (col->type_length < 1 || col->type_length > (1 << 24)))
            return jf_error_set(err, JF_ECORRUPT, "%s: column %s has a fixed length of %d", pq->name, path, col->type_length);
        break;
    default: col->kind = JF_PQK_OTHER;
    }
    return JF_OK;
}

static jf_status parse_footer(jf_parquet *pq, const uint8_t *p, size_t n, uint64_t at, jf_error *err)
{
    tbuf b = {p, p + n, p, 0, 0};
    pq_schema *schema = NULL;
    int n_schema = 0;
    jf_status s = JF_OK;
    int16_t last = 0, id;
    int type;
    while (!s && (type = t_field(&b, &last, &id)) != T_STOP) {
        if (id == 2 && type == T_LIST) { /* schema */
            int et;
            uint64_t cnt = t_list(&b, &et);
            if (b.bad || et != T_STRUCT || cnt > 100000 || schema) { /* a second schema: damage */
                b.bad = 1;
                break;
            }
            schema = calloc(cnt ? cnt : 1, sizeof *schema);
            if (!schema) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            n_schema = (int)cnt;
            for (uint64_t i = 0; i < cnt && !b.bad; i++)
                read_schema_element(&b, &schema[i]);
        } else if (id == 3) {
            int64_t v = t_int(&b, type);
            pq->num_rows = v > 0 ? (uint64_t)v : 0;
        } else if (id == 4 && type == T_LIST) { /* row_groups */
            int et;
            uint64_t cnt = t_list(&b, &et);
            if (b.bad || et != T_STRUCT || cnt > 10000000 || pq->rgs) { /* a second row group list: damage */
                b.bad = 1;
                break;
            }
            pq->rgs = calloc(cnt ? cnt : 1, sizeof *pq->rgs);
            if (!pq->rgs) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            for (uint64_t r = 0; r < cnt && !b.bad && !s; r++) {
                pq_rowgroup *rg = &pq->rgs[r];
                pq->n_rgs = (int)r + 1;
                rg->num_rows = -1;
                int16_t l2 = 0, i2;
                int t2;
                while ((t2 = t_field(&b, &l2, &i2)) != T_STOP) {
                    if (i2 == 1 && t2 == T_LIST) {
                        int ct;
                        uint64_t nc = t_list(&b, &ct);
                        if (b.bad || ct != T_STRUCT || nc > 100000) {
                            b.bad = 1;
                            break;
                        }
                        free(rg->chunks);
                        rg->chunks = calloc(nc ? nc : 1, sizeof *rg->chunks);
                        if (!rg->chunks) {
                            s = jf_error_set(err, JF_ENOMEM, "out of memory");
                            break;
                        }
                        for (uint64_t c = 0; c < nc && !b.bad; c++)
                            read_column_chunk(&b, &rg->chunks[c]);
                        rg->n_chunks = (int)nc;
                    } else if (i2 == 3) {
                        int64_t v = t_int(&b, t2);
                        rg->num_rows = v;
                    } else {
                        t_skip(&b, t2);
                    }
                }
            }
        } else if (id == 6 && type == T_BINARY) {
            free(pq->created_by);
            pq->created_by = t_string(&b);
        } else {
            t_skip(&b, type);
        }
    }
    if (!s && b.bad)
        s = jf_error_set(err, JF_ECORRUPT, "%s: the footer (at byte %llu) is not valid Thrift: cut or damaged near its byte %zu",
                         pq->name, (unsigned long long)at, (size_t)(b.p - b.start));
    if (!s && !schema)
        s = jf_error_set(err, JF_ECORRUPT, "%s: the footer has no schema", pq->name);
    if (!s) {
        int pos = 0;
        s = build_columns(pq, schema, n_schema, &pos, "", 0, 0, err, 0);
        if (!s && pos != n_schema)
            s = jf_error_set(err, JF_ECORRUPT, "%s: %d schema elements, the tree uses %d", pq->name, n_schema, pos);
    }
    for (int i = 0; i < n_schema; i++)
        free(schema[i].name);
    free(schema);
    uint64_t total = 0;
    for (int r = 0; !s && r < pq->n_rgs; r++) {
        pq_rowgroup *rg = &pq->rgs[r];
        if (rg->num_rows < 0 || !rg->chunks)
            s = jf_error_set(err, JF_ECORRUPT, "%s: row group %d has no row count or no columns", pq->name, r);
        else if (rg->n_chunks != pq->n_cols)
            s = jf_error_set(err, JF_ECORRUPT, "%s: row group %d has %d column chunks for %d columns", pq->name, r,
                             rg->n_chunks, pq->n_cols);
        total += (uint64_t)(rg->num_rows > 0 ? rg->num_rows : 0);
    }
    if (!s && total != pq->num_rows)
        s = jf_error_set(err, JF_ECORRUPT, "%s: the row groups hold %llu rows, the footer says %llu", pq->name,
                         (unsigned long long)total, (unsigned long long)pq->num_rows);
    return s;
}

static long read_fd(void *user, uint64_t offset, void *buf, size_t n, jf_error *err)
{
    jf_parquet *pq = user;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(pq->fd, (char *)buf + done, n - done, (off_t)(offset + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            jf_error_set(err, JF_EIO, "%s: %s", pq->name, strerror(errno));
            return -1;
        }
        if (r == 0) {
            jf_error_set(err, JF_ETRUNCATED, "%s: ends at byte %llu, %zu bytes were expected at %llu", pq->name,
                         (unsigned long long)(offset + done), n, (unsigned long long)offset);
            return -1;
        }
        done += (size_t)r;
    }
    return (long)n;
}

static jf_status finish_open(jf_parquet *pq, jf_error *err)
{
    uint8_t tail[8];
    if (pq->size < 12)
        return jf_error_set(err, JF_EFORMAT, "%s: %llu bytes is too short for a parquet file", pq->name,
                            (unsigned long long)pq->size);
    uint8_t head[4];
    if (pq->read(pq->user, 0, head, 4, err) < 0 || pq->read(pq->user, pq->size - 8, tail, 8, err) < 0)
        return err->code;
    if (memcmp(head, "PAR1", 4))
        return jf_error_set(err, JF_EFORMAT, "%s: not a parquet file (no PAR1 at its start)", pq->name);
    if (!memcmp(tail + 4, "PARE", 4))
        return jf_error_set(err, JF_EFORMAT, "%s: an encrypted parquet footer (not supported)", pq->name);
    if (memcmp(tail + 4, "PAR1", 4))
        return jf_error_set(err, JF_ETRUNCATED, "%s: no PAR1 at its end: the file is cut short or damaged", pq->name);
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if ((uint64_t)flen + 12 > pq->size || flen > (256u << 20))
        return jf_error_set(err, JF_ECORRUPT, "%s: the footer length %u does not fit the file's %llu bytes", pq->name, flen,
                            (unsigned long long)pq->size);
    uint8_t *f = malloc(flen ? flen : 1);
    if (!f)
        return jf_error_set(err, JF_ENOMEM, "out of memory for a %u-byte footer", flen);
    uint64_t at = pq->size - 8 - flen;
    jf_status s = pq->read(pq->user, at, f, flen, err) < 0 ? err->code : parse_footer(pq, f, flen, at, err);
    free(f);
    return s;
}

static jf_parquet *pq_new(const char *name)
{
    jf_parquet *pq = calloc(1, sizeof *pq);
    if (!pq)
        return NULL;
    pq->fd = -1;
    pq->max_chunk = (uint64_t)512 << 20;
    pq->name = strdup(name ? name : "parquet");
    if (!pq->name) {
        free(pq);
        return NULL;
    }
    return pq;
}

jf_status jf_parquet_open(const char *path, jf_parquet **out, jf_error *err)
{
    *out = NULL;
    jf_parquet *pq = pq_new(path);
    if (!pq)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    pq->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (pq->fd < 0 || fstat(pq->fd, &st) != 0) {
        jf_status s = jf_error_set(err, errno == ENOENT ? JF_ENOTFOUND : JF_EIO, "%s: %s", path, strerror(errno));
        jf_parquet_close(pq);
        return s;
    }
    pq->size = (uint64_t)st.st_size;
    pq->read = read_fd;
    pq->user = pq;
    jf_status s = finish_open(pq, err);
    if (s) {
        jf_parquet_close(pq);
        return s;
    }
    *out = pq;
    return JF_OK;
}

jf_status jf_parquet_open_reader(jf_pq_read_fn read, void *user, uint64_t size, const char *name, jf_parquet **out,
                                 jf_error *err)
{
    *out = NULL;
    jf_parquet *pq = pq_new(name);
    if (!pq)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    pq->read = read;
    pq->user = user;
    pq->size = size;
    jf_status s = finish_open(pq, err);
    if (s) {
        jf_parquet_close(pq);
        return s;
    }
    *out = pq;
    return JF_OK;
}

/* ---- page decoding ---- */

typedef struct page_header {
    int type;                 /* 0 data v1, 2 dictionary, 3 data v2 */
    int32_t uncompressed, compressed;
    int32_t num_values, encoding, def_encoding, rep_encoding;
    int32_t num_nulls, num_rows, def_len, rep_len;
    int v2_compressed;
} page_header;

static void read_data_header(tbuf *b, page_header *h)
{
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        switch (id) {
        case 1: h->num_values = (int32_t)t_int(b, type); break;
        case 2: h->encoding = (int32_t)t_int(b, type); break;
        case 3: h->def_encoding = (int32_t)t_int(b, type); break;
        case 4: h->rep_encoding = (int32_t)t_int(b, type); break;
        default: t_skip(b, type);
        }
    }
}

static void read_dict_header(tbuf *b, page_header *h)
{
    int16_t last = 0, id;
    int type;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        if (id == 1)
            h->num_values = (int32_t)t_int(b, type);
        else if (id == 2)
            h->encoding = (int32_t)t_int(b, type);
        else
            t_skip(b, type);
    }
}

static void read_v2_header(tbuf *b, page_header *h)
{
    int16_t last = 0, id;
    int type;
    h->v2_compressed = 1;
    while ((type = t_field(b, &last, &id)) != T_STOP) {
        switch (id) {
        case 1: h->num_values = (int32_t)t_int(b, type); break;
        case 2: h->num_nulls = (int32_t)t_int(b, type); break;
        case 3: h->num_rows = (int32_t)t_int(b, type); break;
        case 4: h->encoding = (int32_t)t_int(b, type); break;
        case 5: h->def_len = (int32_t)t_int(b, type); break;
        case 6: h->rep_len = (int32_t)t_int(b, type); break;
        case 7: h->v2_compressed = t_bool(type); break;
        default: t_skip(b, type);
        }
    }
}

/* Parses a page header at b; returns its size in bytes, or 0 when it is not valid. */
static size_t parse_page_header(const uint8_t *p, size_t n, page_header *h)
{
    memset(h, 0, sizeof *h);
    h->type = -1;
    tbuf b = {p, p + n, p, 0, 0};
    int16_t last = 0, id;
    int type;
    while ((type = t_field(&b, &last, &id)) != T_STOP) {
        switch (id) {
        case 1: h->type = (int)t_int(&b, type); break;
        case 2: h->uncompressed = (int32_t)t_int(&b, type); break;
        case 3: h->compressed = (int32_t)t_int(&b, type); break;
        case 5:
            if (type == T_STRUCT)
                read_data_header(&b, h);
            else
                t_skip(&b, type);
            break;
        case 7:
            if (type == T_STRUCT)
                read_dict_header(&b, h);
            else
                t_skip(&b, type);
            break;
        case 8:
            if (type == T_STRUCT)
                read_v2_header(&b, h);
            else
                t_skip(&b, type);
            break;
        default: t_skip(&b, type);
        }
    }
    if (b.bad || h->compressed < 0 || h->uncompressed < 0 || h->num_values < 0)
        return 0;
    return (size_t)(b.p - p);
}

/* Decompresses `n` bytes into exactly `want` bytes (a page's stated uncompressed size). */
static int decompress(int codec, const uint8_t *in, size_t n, uint8_t *out, size_t want, const char **why)
{
    switch (codec) {
    case 0:
        if (n != want) {
            *why = "an uncompressed page whose sizes disagree";
            return -1;
        }
        memcpy(out, in, n);
        return 0;
    case 1: {
        size_t len = 0;
        if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK || len != want) {
            *why = "a snappy page whose length disagrees with its header";
            return -1;
        }
        if (snappy_uncompress((const char *)in, n, (char *)out, &len) != SNAPPY_OK || len != want) {
            *why = "damaged snappy data";
            return -1;
        }
        return 0;
    }
    case 2: {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 32) != Z_OK) {
            *why = "zlib failed";
            return -1;
        }
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)want;
        int r = inflate(&z, Z_FINISH);
        size_t got = want - z.avail_out;
        inflateEnd(&z);
        if (r != Z_STREAM_END || got != want) {
            *why = r == Z_BUF_ERROR || (r == Z_OK && got == want) ? "gzip data longer than the page's stated size"
                                                                 : "damaged or cut gzip data";
            return -1;
        }
        return 0;
    }
    case 6: {
        unsigned long long fs = ZSTD_getFrameContentSize(in, n);
        if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != want) {
            *why = "a zstd frame whose size disagrees with the page header";
            return -1;
        }
        size_t r = ZSTD_decompress(out, want, in, n);
        if (ZSTD_isError(r) || r != want) {
            *why = ZSTD_isError(r) ? ZSTD_getErrorName(r) : "zstd data shorter than the page's stated size";
            return -1;
        }
        return 0;
    }
    default:
        *why = codec == 3 ? "LZO compression (not supported)" : codec == 4 ? "Brotli compression (not supported)"
               : codec == 5 || codec == 7 ? "LZ4 compression (not supported)" : "an unknown compression codec";
        return -1;
    }
}

/* A little-endian bit reader for bit-packed runs. */
static uint64_t read_bits(const uint8_t *p, size_t bitpos, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        size_t b = bitpos + (size_t)i;
        v |= (uint64_t)((p[b >> 3] >> (b & 7)) & 1) << i;
    }
    return v;
}

/* RLE / bit-packed hybrid: decodes `count` values of `width` bits into out. Returns bytes
 * consumed, or -1 when the data ends early or is malformed. */
static long rle_decode(const uint8_t *p, size_t n, int width, uint32_t *out, size_t count)
{
    if (width < 0 || width > 32)
        return -1;
    size_t at = 0, got = 0, vbytes = ((size_t)width + 7) / 8;
    while (got < count) {
        tbuf b = {p + at, p + n, p, 0, 0};
        uint64_t h = t_varint(&b);
        if (b.bad)
            return -1;
        at = (size_t)(b.p - p);
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 */
            uint64_t groups = h >> 1;
            if (groups > (n - at) / ((size_t)width ? (size_t)width : 1) + 1 && width)
                return -1;
            size_t vals = (size_t)groups * 8, bytes = (size_t)groups * (size_t)width;
            if (bytes > n - at)
                return -1;
            for (size_t i = 0; i < vals && got < count; i++)
                out[got++] = width ? (uint32_t)read_bits(p + at, i * (size_t)width, width) : 0;
            at += bytes;
        } else { /* a run of (h >> 1) repeats of one value */
            uint64_t run = h >> 1;
            if (vbytes > n - at)
                return -1;
            uint32_t v = 0;
            for (size_t i = 0; i < vbytes; i++)
                v |= (uint32_t)p[at + i] << (8 * i);
            at += vbytes;
            if (run == 0)
                return -1;
            for (uint64_t i = 0; i < run && got < count; i++)
                out[got++] = v;
        }
    }
    return (long)at;
}

static int bit_width(int max_level)
{
    int w = 0;
    while ((1 << w) <= max_level)
        w++;
    return w;
}

/* DELTA_BINARY_PACKED: up to `count` int64 values into out; returns bytes consumed or -1. */
static long delta_decode(const uint8_t *p, size_t n, int64_t *out, size_t count, size_t *decoded)
{
    tbuf b = {p, p + n, p, 0, 0};
    uint64_t block = t_varint(&b), minis = t_varint(&b), total = t_varint(&b);
    int64_t value = t_zigzag(&b);
    if (b.bad || block == 0 || block % 128 || minis == 0 || block % minis || (block / minis) % 32 || block > (1u << 20) ||
        minis > 1024)
        return -1;
    size_t per_mini = (size_t)(block / minis), got = 0;
    if (total > count)
        total = count; /* the page's own count governs */
    if (total > 0)
        out[got++] = value;
    while (got < total) {
        int64_t min_delta = t_zigzag(&b);
        if (b.bad || (size_t)(b.end - b.p) < minis)
            return -1;
        const uint8_t *widths = b.p;
        b.p += minis;
        for (uint64_t m = 0; m < minis && got < total; m++) {
            int w = widths[m];
            if (w > 64)
                return -1;
            size_t bytes = per_mini * (size_t)w / 8;
            if (bytes > (size_t)(b.end - b.p))
                return -1;
            for (size_t i = 0; i < per_mini && got < total; i++) {
                uint64_t d = w ? read_bits(b.p, i * (size_t)w, w) : 0;
                value = (int64_t)((uint64_t)value + (uint64_t)min_delta + d);
                out[got++] = value;
            }
            b.p += bytes;
        }
    }
    *decoded = got;
    return (long)(b.p - p);
}

/* Growing output for byte values. */
typedef struct bytes_out {
    uint8_t *p;
    size_t len, cap;
} bytes_out;

/* Room for n more bytes: 0, -1 past the limit, -2 out of memory. */
static int bytes_reserve(bytes_out *o, size_t n, uint64_t limit)
{
    if (o->len + n > limit)
        return -1;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *q = realloc(o->p, cap);
        if (!q)
            return -2;
        o->p = q;
        o->cap = cap;
    }
    return 0;
}

static int bytes_put(bytes_out *o, const uint8_t *s, size_t n, uint64_t limit)
{
    int rc = bytes_reserve(o, n, limit);
    if (rc)
        return rc;
    if (n)
        memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

/* The decoded dictionary of a chunk. */
typedef struct dict {
    size_t n;
    int64_t *i64;
    double *f64;
    uint64_t *off;
    uint8_t *bytes;
} dict;

static void dict_free(dict *d)
{
    free(d->i64);
    free(d->f64);
    free(d->off);
    free(d->bytes);
    memset(d, 0, sizeof *d);
}

typedef struct colctx {
    jf_parquet *pq;
    const jf_pq_column *col;
    int rg;
    jf_pq_values *out;
    size_t row;         /* next row slot */
    bytes_out bytes;
    dict dict;
    int has_dict;
    jf_error *err;
    uint64_t page_at;   /* file offset of the page being decoded, for messages */
} colctx;

static jf_status col_err(colctx *c, jf_status code, const char *what)
{
    return jf_error_set(c->err, code, "%s: column %s, row group %d, page at byte %llu: %s", c->pq->name, c->col->path, c->rg,
                        (unsigned long long)c->page_at, what);
}

/* Decodes `n` PLAIN values into the value slots `slots` (row indices), from p/len. */
static long plain_values(colctx *c, const uint8_t *p, size_t len, const size_t *slots, size_t n, int is_dict_page)
{
    const jf_pq_column *col = c->col;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = slots ? slots[i] : i;
        switch (col->type) {
        case JF_PQ_BOOLEAN:
            if ((i >> 3) >= len)
                return -1;
            if (is_dict_page)
                c->dict.i64[r] = (p[i >> 3] >> (i & 7)) & 1;
            else
                c->out->i64[r] = (p[i >> 3] >> (i & 7)) & 1;
            at = (i >> 3) + 1;
            break;
        case JF_PQ_INT32: {
            if (len - at < 4 || at > len)
                return -1;
            uint32_t u = (uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 | (uint32_t)p[at + 3] << 24;
            at += 4;
            int64_t v = col->is_signed || col->int_bits > 32 ? (int64_t)(int32_t)u : (int64_t)u;
            if (is_dict_page)
                c->dict.i64[r] = v;
            else
                c->out->i64[r] = v;
            break;
        }
        case JF_PQ_INT64: {
            if (len - at < 8 || at > len)
                return -1;
            uint64_t u = 0;
            for (int k = 0; k < 8; k++)
                u |= (uint64_t)p[at + (size_t)k] << (8 * k);
            at += 8;
            if (is_dict_page)
                c->dict.i64[r] = (int64_t)u;
            else
                c->out->i64[r] = (int64_t)u;
            break;
        }
        case JF_PQ_FLOAT: {
            if (len - at < 4 || at > len)
                return -1;
            float f;
            memcpy(&f, p + at, 4);
            at += 4;
            if (is_dict_page)
                c->dict.f64[r] = f;
            else
                c->out->f64[r] = f;
            break;
        }
        case JF_PQ_DOUBLE: {
            if (len - at < 8 || at > len)
                return -1;
            double d;
            memcpy(&d, p + at, 8);
            at += 8;
            if (is_dict_page)
                c->dict.f64[r] = d;
            else
                c->out->f64[r] = d;
            break;
        }
        case JF_PQ_INT96:
        case JF_PQ_BYTE_ARRAY:
        case JF_PQ_FIXED_LEN_BYTE_ARRAY: {
            size_t vlen;
            if (col->type == JF_PQ_BYTE_ARRAY) {
                if (len - at < 4 || at > len)
                    return -1;
                vlen = (size_t)p[at] | (size_t)p[at + 1] << 8 | (size_t)p[at + 2] << 16 | (size_t)p[at + 3] << 24;
                at += 4;
            } else {
                vlen = col->type == JF_PQ_INT96 ? 12 : (size_t)col->type_length;
            }
            if (vlen > len - at)
                return -1;
            if (is_dict_page) {
                /* the dictionary's bytes in order: offsets filled after */
                c->dict.off[r] = c->bytes.len;
            } else {
                c->out->offsets[r] = c->bytes.len;
            }
            int rc = bytes_put(&c->bytes, p + at, vlen, c->pq->max_chunk);
            if (rc)
                return rc == -2 ? -2 : -3;
            if (!is_dict_page)
                c->out->offsets[r + 1] = c->bytes.len;
            at += vlen;
            break;
        }
        }
    }
    return (long)at;
}

/* Puts dictionary entry `id` into row slot r. */
static int dict_put(colctx *c, uint32_t id, size_t r)
{
    if (id >= c->dict.n)
        return -1;
    switch (c->col->type) {
    case JF_PQ_BOOLEAN:
    case JF_PQ_INT32:
    case JF_PQ_INT64: c->out->i64[r] = c->dict.i64[id]; return 0;
    case JF_PQ_FLOAT:
    case JF_PQ_DOUBLE: c->out->f64[r] = c->dict.f64[id]; return 0;
    default: {
        c->out->offsets[r] = c->bytes.len;
        size_t n = (size_t)(c->dict.off[id + 1] - c->dict.off[id]);
        /* a dictionary of empty strings has no bytes at all (no pointer to offset) */
        int rc = n ? bytes_put(&c->bytes, c->dict.bytes + c->dict.off[id], n, c->pq->max_chunk) : 0;
        if (rc)
            return rc == -2 ? -2 : -3;
        c->out->offsets[r + 1] = c->bytes.len;
        return 0;
    }
    }
}

/* A dictionary page: PLAIN values of the column's type. */
static jf_status dictionary_page(colctx *c, const uint8_t *p, size_t len, size_t n)
{
    if (c->has_dict)
        return col_err(c, JF_ECORRUPT, "a second dictionary page");
    if (n > len * 8 + 8 || n > (64u << 20))
        return col_err(c, JF_ECORRUPT, "a dictionary with more entries than its bytes can hold");
    dict_free(&c->dict);
    c->dict.n = n;
    int bytes_type = c->col->type == JF_PQ_BYTE_ARRAY || c->col->type == JF_PQ_FIXED_LEN_BYTE_ARRAY || c->col->type == JF_PQ_INT96;
    if (bytes_type)
        c->dict.off = malloc((n + 1) * sizeof *c->dict.off);
    else if (c->col->type == JF_PQ_FLOAT || c->col->type == JF_PQ_DOUBLE)
        c->dict.f64 = malloc((n ? n : 1) * sizeof *c->dict.f64);
    else
        c->dict.i64 = malloc((n ? n : 1) * sizeof *c->dict.i64);
    if ((bytes_type && !c->dict.off) || (!bytes_type && !c->dict.f64 && !c->dict.i64))
        return jf_error_set(c->err, JF_ENOMEM, "out of memory");
    bytes_out saved = c->bytes;
    c->bytes = (bytes_out){0};
    long r = plain_values(c, p, len, NULL, n, 1);
    if (bytes_type) {
        c->dict.off[n] = c->bytes.len;
        c->dict.bytes = c->bytes.p;
    } else {
        free(c->bytes.p);
    }
    c->bytes = saved;
    if (r == -2)
        return jf_error_set(c->err, JF_ENOMEM, "out of memory");
    if (r < 0)
        return col_err(c, r == -3 ? JF_ELIMIT : JF_ECORRUPT,
                       r == -3 ? "the dictionary exceeds the chunk memory limit" : "the dictionary page ends early");
    c->has_dict = 1;
    return JF_OK;
}

/* The values of a data page: `nv` non-null values for the rows in slots[0..nv). */
static jf_status page_values(colctx *c, int encoding, const uint8_t *p, size_t len, const size_t *slots, size_t nv)
{
    const jf_pq_column *col = c->col;
    if (encoding == 0) { /* PLAIN */
        long r = plain_values(c, p, len, slots, nv, 0);
        if (r == -2)
            return jf_error_set(c->err, JF_ENOMEM, "out of memory");
        if (r == -3)
            return col_err(c, JF_ELIMIT, "the column chunk exceeds the memory limit (--max-row-group-bytes)");
        if (r < 0)
            return col_err(c, JF_ECORRUPT, "the page's values end early");
        return JF_OK;
    }
    if (encoding == 2 || encoding == 8) { /* PLAIN_DICTIONARY / RLE_DICTIONARY */
        if (!c->has_dict)
            return col_err(c, JF_ECORRUPT, "dictionary-encoded values without a dictionary page");
        if (!nv)
            return JF_OK;
        if (len < 1 || p[0] > 32)
            return col_err(c, JF_ECORRUPT, "a bad dictionary index width");
        uint32_t *ids = malloc(nv * sizeof *ids);
        if (!ids)
            return jf_error_set(c->err, JF_ENOMEM, "out of memory");
        long r = rle_decode(p + 1, len - 1, p[0], ids, nv);
        jf_status s = JF_OK;
        if (r < 0)
            s = col_err(c, JF_ECORRUPT, "the dictionary indices end early or are malformed");
        for (size_t i = 0; !s && i < nv; i++) {
            int rc = dict_put(c, ids[i], slots[i]);
            if (rc == -1) {
                char msg[128];
                snprintf(msg, sizeof msg, "dictionary index %u out of range (%zu entries)", ids[i], c->dict.n);
                s = col_err(c, JF_ECORRUPT, msg);
            } else if (rc == -2)
                s = jf_error_set(c->err, JF_ENOMEM, "out of memory");
            else if (rc == -3)
                s = col_err(c, JF_ELIMIT, "the column chunk exceeds the memory limit (--max-row-group-bytes)");
        }
        free(ids);
        return s;
    }
    if (encoding == 3 && col->type == JF_PQ_BOOLEAN) { /* RLE booleans: 4-byte length, then the hybrid */
        if (len < 4)
            return col_err(c, JF_ECORRUPT, "RLE booleans without their length");
        size_t rl = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        uint32_t *v = malloc((nv ? nv : 1) * sizeof *v);
        if (!v)
            return jf_error_set(c->err, JF_ENOMEM, "out of memory");
        long r = rl <= len - 4 ? rle_decode(p + 4, rl, 1, v, nv) : -1;
        for (size_t i = 0; r >= 0 && i < nv; i++)
            c->out->i64[slots[i]] = v[i];
        free(v);
        return r < 0 ? col_err(c, JF_ECORRUPT, "RLE booleans end early") : JF_OK;
    }
    if (encoding == 5 && (col->type == JF_PQ_INT32 || col->type == JF_PQ_INT64)) { /* DELTA_BINARY_PACKED */
        int64_t *v = malloc((nv ? nv : 1) * sizeof *v);
        if (!v)
            return jf_error_set(c->err, JF_ENOMEM, "out of memory");
        size_t got = 0;
        long r = delta_decode(p, len, v, nv, &got);
        for (size_t i = 0; r >= 0 && i < got; i++) {
            int64_t x = v[i];
            if (col->type == JF_PQ_INT32)
                x = col->is_signed || col->int_bits > 32 ? (int64_t)(int32_t)(uint32_t)x : (int64_t)(uint32_t)x;
            c->out->i64[slots[i]] = x;
        }
        free(v);
        return r < 0 || got != nv ? col_err(c, JF_ECORRUPT, "DELTA_BINARY_PACKED values end early or are malformed") : JF_OK;
    }
    if ((encoding == 6 || encoding == 7) && col->type == JF_PQ_BYTE_ARRAY) {
        /* DELTA_LENGTH_BYTE_ARRAY: lengths, then the bytes; DELTA_BYTE_ARRAY: prefix lengths,
         * then suffixes as DELTA_LENGTH_BYTE_ARRAY; value = the previous value's prefix + suffix */
        int64_t *pre = NULL, *lens = malloc((nv ? nv : 1) * sizeof *lens);
        if (encoding == 7)
            pre = malloc((nv ? nv : 1) * sizeof *pre);
        if (!lens || (encoding == 7 && !pre)) {
            free(lens);
            free(pre);
            return jf_error_set(c->err, JF_ENOMEM, "out of memory");
        }
        size_t at = 0, got = 0;
        jf_status s = JF_OK;
        if (encoding == 7) {
            long r = delta_decode(p, len, pre, nv, &got);
            if (r < 0 || got != nv)
                s = col_err(c, JF_ECORRUPT, "DELTA_BYTE_ARRAY prefix lengths end early or are malformed");
            at = r < 0 ? 0 : (size_t)r;
        }
        if (!s) {
            long r = delta_decode(p + at, len - at, lens, nv, &got);
            if (r < 0 || got != nv)
                s = col_err(c, JF_ECORRUPT, "byte-array lengths end early or are malformed");
            else
                at += (size_t)r;
        }
        size_t prev_off = 0, prev_len = 0;
        for (size_t i = 0; !s && i < nv; i++) {
            int64_t pl = pre ? pre[i] : 0, sl = lens[i];
            if (sl < 0 || (uint64_t)sl > len - at || pl < 0 || (size_t)pl > prev_len) {
                s = col_err(c, JF_ECORRUPT, "a byte-array length or prefix past its data");
                break;
            }
            size_t r = slots[i], start = c->bytes.len;
            int rc = 0;
            if (pl) { /* the prefix is the previous value's first pl bytes, already in the output */
                rc = bytes_reserve(&c->bytes, (size_t)pl, c->pq->max_chunk);
                if (!rc) {
                    memcpy(c->bytes.p + c->bytes.len, c->bytes.p + prev_off, (size_t)pl); /* disjoint: before len */
                    c->bytes.len += (size_t)pl;
                }
            }
            if (!rc)
                rc = bytes_put(&c->bytes, p + at, (size_t)sl, c->pq->max_chunk);
            if (rc) {
                s = rc == -2 ? jf_error_set(c->err, JF_ENOMEM, "out of memory")
                             : col_err(c, JF_ELIMIT, "the column chunk exceeds the memory limit (--max-row-group-bytes)");
                break;
            }
            at += (size_t)sl;
            c->out->offsets[r] = start;
            c->out->offsets[r + 1] = c->bytes.len;
            prev_off = start;
            prev_len = c->bytes.len - start;
        }
        free(lens);
        free(pre);
        return s;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "encoding %d of a %s column is not supported", encoding,
             col->type == JF_PQ_BYTE_ARRAY ? "byte-array" : "numeric");
    return col_err(c, JF_EFORMAT, msg);
}

/* Levels: v1 pages carry a 4-byte length before the RLE hybrid; v2 pages give the length in the
 * header. Returns bytes consumed or -1. */
static long read_levels(const uint8_t *p, size_t len, int max_level, int v1, size_t v2_len, uint32_t *out, size_t n)
{
    if (max_level == 0) {
        memset(out, 0, n * sizeof *out);
        return 0;
    }
    size_t ll;
    size_t at = 0;
    if (v1) {
        if (len < 4)
            return -1;
        ll = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        at = 4;
    } else {
        ll = v2_len;
    }
    if (ll > len - at)
        return -1;
    if (rle_decode(p + at, ll, bit_width(max_level), out, n) < 0)
        return -1;
    return (long)(at + ll);
}

static jf_status data_page(colctx *c, const page_header *h, const uint8_t *p, size_t len)
{
    const jf_pq_column *col = c->col;
    size_t n = (size_t)h->num_values;
    if (n > c->out->rows - c->row)
        return col_err(c, JF_ECORRUPT, "the pages hold more values than the row group's rows");
    uint32_t *def = malloc((n ? n : 1) * sizeof *def);
    size_t *slots = malloc((n ? n : 1) * sizeof *slots);
    if (!def || !slots) {
        free(def);
        free(slots);
        return jf_error_set(c->err, JF_ENOMEM, "out of memory");
    }
    jf_status s = JF_OK;
    long at = 0;
    if (h->type == 0) { /* v1: repetition levels (none here), then definition levels */
        long r = read_levels(p, len, col->max_def, 1, 0, def, n);
        if (r < 0)
            s = col_err(c, JF_ECORRUPT, "the definition levels end early or are malformed");
        at = r;
    } else {
        long r = read_levels(p + h->rep_len, len - (size_t)h->rep_len, col->max_def, 0, (size_t)h->def_len, def, n);
        if (r < 0)
            s = col_err(c, JF_ECORRUPT, "the definition levels end early or are malformed");
        at = (long)h->rep_len + h->def_len;
    }
    size_t nv = 0;
    for (size_t i = 0; !s && i < n; i++) {
        size_t r = c->row + i;
        if (def[i] > (uint32_t)col->max_def) {
            s = col_err(c, JF_ECORRUPT, "a definition level above the column's maximum");
            break;
        }
        int present = def[i] == (uint32_t)col->max_def;
        c->out->present[r] = (uint8_t)present;
        if (present)
            slots[nv++] = r;
    }
    if (!s)
        s = page_values(c, h->encoding, p + at, len - (size_t)at, slots, nv);
    c->row += n;
    free(def);
    free(slots);
    return s;
}

jf_status jf_parquet_read_column(jf_parquet *pq, int rg, int col_i, jf_pq_values *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= pq->n_rgs || col_i < 0 || col_i >= pq->n_cols)
        return jf_error_set(err, JF_EARG, "%s: no row group %d / column %d", pq->name, rg, col_i);
    const jf_pq_column *col = &pq->cols[col_i];
    const pq_chunk *ch = &pq->rgs[rg].chunks[col_i];
    if (col->max_rep > 0)
        return jf_error_set(err, JF_EFORMAT, "%s: column %s is repeated (a list): not supported", pq->name, col->path);
    if (ch->external)
        return jf_error_set(err, JF_EFORMAT, "%s: column %s, row group %d lives in another file", pq->name, col->path, rg);
    if (ch->type != (int)col->type)
        return jf_error_set(err, JF_ECORRUPT, "%s: column %s, row group %d: the chunk's type %d is not the schema's %d",
                            pq->name, col->path, rg, ch->type, (int)col->type);
    uint64_t start = (uint64_t)(ch->dictionary_page_offset > 0 && ch->dictionary_page_offset < ch->data_page_offset
                                    ? ch->dictionary_page_offset
                                    : ch->data_page_offset);
    uint64_t clen = (uint64_t)ch->total_compressed;
    if (ch->data_page_offset < 4 || ch->total_compressed <= 0 || start + clen > pq->size - 8 || start < 4)
        return jf_error_set(err, JF_ECORRUPT, "%s: column %s, row group %d: its chunk (bytes %llu + %llu) is outside the file",
                            pq->name, col->path, rg, (unsigned long long)start, (unsigned long long)clen);
    if (clen > pq->max_chunk)
        return jf_error_set(err, JF_ELIMIT, "%s: column %s, row group %d: a %llu-byte chunk exceeds the limit of %llu bytes",
                            pq->name, col->path, rg, (unsigned long long)clen, (unsigned long long)pq->max_chunk);
    size_t rows = (size_t)pq->rgs[rg].num_rows;
    out->rows = rows;
    out->present = calloc(rows ? rows : 1, 1);
    int byte_kind = col->type == JF_PQ_BYTE_ARRAY || col->type == JF_PQ_FIXED_LEN_BYTE_ARRAY || col->type == JF_PQ_INT96;
    if (byte_kind)
        out->offsets = calloc(rows + 1, sizeof *out->offsets);
    else if (col->type == JF_PQ_FLOAT || col->type == JF_PQ_DOUBLE)
        out->f64 = calloc(rows ? rows : 1, sizeof *out->f64);
    else
        out->i64 = calloc(rows ? rows : 1, sizeof *out->i64);
    uint8_t *chunk = malloc(clen);
    colctx c = {pq, col, rg, out, 0, {0}, {0}, 0, err, start};
    jf_status s = out->present && (out->offsets || out->f64 || out->i64) && chunk ? JF_OK
                                                                                   : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!s && pq->read(pq->user, start, chunk, clen, err) < 0)
        s = err->code;
    uint8_t *buf = NULL;
    size_t at = 0;
    while (!s && at < clen && c.row < rows) {
        page_header h;
        c.page_at = start + at;
        size_t hl = parse_page_header(chunk + at, clen - at, &h);
        if (!hl) {
            s = col_err(&c, JF_ECORRUPT, "a damaged page header");
            break;
        }
        at += hl;
        if ((uint64_t)h.compressed > clen - at) {
            s = col_err(&c, JF_ETRUNCATED, "the page runs past the end of its column chunk");
            break;
        }
        if ((uint64_t)h.uncompressed > pq->max_chunk) {
            s = col_err(&c, JF_ELIMIT, "a page larger than the memory limit (a decompression bomb?)");
            break;
        }
        const uint8_t *body = chunk + at;
        size_t blen = (size_t)h.compressed;
        at += blen;
        if (h.type != 0 && h.type != 2 && h.type != 3)
            continue; /* index pages and unknown page types are skipped */
        /* v2: the levels are never compressed; the values are when is_compressed says so */
        size_t keep = h.type == 3 ? (size_t)h.rep_len + (size_t)h.def_len : 0;
        if (h.type == 3 && (h.rep_len < 0 || h.def_len < 0 || keep > blen || keep > (size_t)h.uncompressed)) {
            s = col_err(&c, JF_ECORRUPT, "level lengths past the page");
            break;
        }
        int compressed = ch->codec != 0 && (h.type != 3 || h.v2_compressed);
        size_t ulen = (size_t)h.uncompressed;
        const uint8_t *data = body;
        if (compressed) {
            uint8_t *nb = realloc(buf, ulen ? ulen : 1);
            if (!nb) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            buf = nb;
            memcpy(buf, body, keep);
            const char *why = NULL;
            if (decompress(ch->codec, body + keep, blen - keep, buf + keep, ulen - keep, &why)) {
                s = col_err(&c, JF_ECORRUPT, why);
                break;
            }
            data = buf;
        } else {
            ulen = blen;
        }
        if (h.type == 2)
            s = dictionary_page(&c, data, ulen, (size_t)h.num_values);
        else
            s = data_page(&c, &h, data, ulen);
    }
    free(buf);
    free(chunk);
    if (!s && c.row != rows)
        s = jf_error_set(err, JF_ECORRUPT, "%s: column %s, row group %d: its pages hold %zu values for %zu rows", pq->name,
                         col->path, rg, c.row, rows);
    dict_free(&c.dict);
    if (s) {
        free(c.bytes.p);
        jf_pq_values_free(out);
        return s;
    }
    out->bytes = c.bytes.p;
    if (byte_kind && !out->bytes)
        out->bytes = malloc(1);
    /* null rows' slots: empty ranges at the current end */
    if (byte_kind)
        for (size_t r = 0; r < rows; r++)
            if (!out->present[r])
                out->offsets[r + 1] = out->offsets[r];
    return JF_OK;
}

void jf_pq_values_free(jf_pq_values *v)
{
    free(v->present);
    free(v->i64);
    free(v->f64);
    free(v->offsets);
    free(v->bytes);
    memset(v, 0, sizeof *v);
}
