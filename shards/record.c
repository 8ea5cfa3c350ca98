/* jf_record: an in-memory sample (key, kind, fields, index columns) and its body encoding. */
#include "internal.h"

#include <stdlib.h>

typedef struct own_flags {
    uint8_t name, data;
} own_flags;

struct jf_record {
    char *key;
    int own_key;
    jf_kind kind;
    jf_field *fields;
    own_flags *field_own;
    size_t n_fields, cap_fields;
    jf_column *cols;
    own_flags *col_own;
    size_t n_cols, cap_cols;
    uint8_t *body; /* decoded body that fields/columns may point into */
    size_t body_cap;
};

jf_record *jf_record_create(void) { return calloc(1, sizeof(jf_record)); }

void jf_record_reset(jf_record *rec)
{
    if (!rec)
        return;
    if (rec->own_key)
        free(rec->key);
    rec->key = NULL;
    rec->own_key = 0;
    rec->kind = JF_KIND_UNKNOWN;
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (rec->field_own[i].name)
            free((char *)rec->fields[i].name);
        if (rec->field_own[i].data)
            free((uint8_t *)rec->fields[i].data);
    }
    rec->n_fields = 0;
    for (size_t i = 0; i < rec->n_cols; i++) {
        if (rec->col_own[i].name)
            free((char *)rec->cols[i].name);
        if (rec->col_own[i].data)
            free((char *)rec->cols[i].s);
    }
    rec->n_cols = 0;
}

void jf_record_destroy(jf_record *rec)
{
    if (!rec)
        return;
    jf_record_reset(rec);
    free(rec->fields);
    free(rec->field_own);
    free(rec->cols);
    free(rec->col_own);
    free(rec->body);
    free(rec);
}

const char *jf_kind_name(jf_kind kind)
{
    switch (kind) {
    case JF_KIND_GENERATION: return "generation";
    case JF_KIND_UNDERSTANDING: return "understanding";
    case JF_KIND_TEXT: return "text";
    default: return "unknown";
    }
}

jf_kind jf_kind_from_name(const char *name)
{
    if (!name)
        return JF_KIND_UNKNOWN;
    if (!strcmp(name, "generation") || !strcmp(name, "gen"))
        return JF_KIND_GENERATION;
    if (!strcmp(name, "understanding") || !strcmp(name, "und"))
        return JF_KIND_UNDERSTANDING;
    if (!strcmp(name, "text"))
        return JF_KIND_TEXT;
    return JF_KIND_UNKNOWN;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

jf_field_type jf_field_type_for_name(const char *name)
{
    static const char *const images[] = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "ppm",
                                         "pgm", "pbm", "tif", "tiff", "img", NULL};
    /* The type follows the last component of a multi-part extension ("seg.png" is an image). */
    const char *last = strrchr(name, '.');
    const char *ext = last ? last + 1 : name;
    for (int i = 0; images[i]; i++)
        if (!strcasecmp(ext, images[i]))
            return JF_FIELD_IMAGE;
    if (!strcasecmp(ext, "txt") || !strcasecmp(ext, "text") || !strcasecmp(ext, "caption") ||
        !strcasecmp(ext, "transcript"))
        return JF_FIELD_TEXT;
    if (!strcasecmp(ext, "json") || !strcasecmp(ext, "jsn") || !strcasecmp(ext, "conv"))
        return JF_FIELD_JSON;
    if (!strcasecmp(ext, "cls") || !strcasecmp(ext, "cls2") || !strcasecmp(ext, "index") ||
        !strcasecmp(ext, "inx") || !strcasecmp(ext, "id"))
        return JF_FIELD_INT;
    return JF_FIELD_BYTES;
}

const char *jf_field_type_name(jf_field_type type)
{
    switch (type) {
    case JF_FIELD_TEXT: return "text";
    case JF_FIELD_JSON: return "json";
    case JF_FIELD_IMAGE: return "image";
    case JF_FIELD_INT: return "int";
    default: return "bytes";
    }
}

/* Already-compressed payloads are stored as raw zstd blocks: compressing them again costs CPU
 * and saves nothing. */
static int field_is_raw(const char *name, jf_field_type type)
{
    static const char *const packed[] = {".gz", ".zst", ".xz", ".bz2", ".npz", ".zip", ".mp4",
                                         ".webm", ".mp3", ".flac", ".ogg", ".avif", NULL};
    if (type == JF_FIELD_IMAGE)
        return 1;
    char dotted[JF__MAX_NAME + 2];
    snprintf(dotted, sizeof dotted, ".%s", name);
    for (int i = 0; packed[i]; i++)
        if (ends_with(dotted, packed[i]))
            return 1;
    return 0;
}

jf_status jf_record_set_key(jf_record *rec, const char *key, jf_error *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > JF__MAX_KEY)
        return jf_error_set(err, JF_EARG, "record key must be 1..%u bytes (got %zu)", JF__MAX_KEY, n);
    char *k = jf__strdup(key);
    if (!k)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    if (rec->own_key)
        free(rec->key);
    rec->key = k;
    rec->own_key = 1;
    return JF_OK;
}

void jf_record_set_kind(jf_record *rec, jf_kind kind) { rec->kind = kind; }

static int valid_field_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > JF__MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == '/')
            return 0;
    return 1;
}

static int grow(void **arr, void **own, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    void *a = realloc(*arr, ncap * elem);
    if (!a)
        return -1;
    *arr = a;
    void *o = realloc(*own, ncap * sizeof(own_flags));
    if (!o)
        return -1;
    *own = o;
    *cap = ncap;
    return 0;
}

jf_status jf_record_add_field(jf_record *rec, const char *name, jf_field_type type,
                              const void *data, size_t size, jf_error *err)
{
    if (!name || !valid_field_name(name))
        return jf_error_set(err, JF_EARG, "invalid field name '%s' (1..%u bytes, no '/' or control characters)",
                            name ? name : "(null)", JF__MAX_NAME);
    if (jf_record_find_field(rec, name))
        return jf_error_set(err, JF_EEXISTS, "record '%s': field '%s' given twice",
                            rec->key ? rec->key : "", name);
    if (rec->n_fields >= JF__MAX_FIELDS)
        return jf_error_set(err, JF_ELIMIT, "record has more than %u fields", JF__MAX_FIELDS);
    if (size > JF__MAX_RECORD)
        return jf_error_set(err, JF_ELIMIT, "field '%s' has %zu bytes (limit %u)", name, size, JF__MAX_RECORD);
    if (rec->n_fields == rec->cap_fields &&
        grow((void **)&rec->fields, (void **)&rec->field_own, &rec->cap_fields, sizeof(jf_field)))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    char *n = jf__strdup(name);
    uint8_t *d = malloc(size ? size : 1);
    if (!n || !d) {
        free(n);
        free(d);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (size)
        memcpy(d, data, size);
    jf_field *f = &rec->fields[rec->n_fields];
    f->name = n;
    f->type = type;
    f->raw = field_is_raw(name, type);
    f->data = d;
    f->size = size;
    rec->field_own[rec->n_fields] = (own_flags){1, 1};
    rec->n_fields++;
    return JF_OK;
}

int jf__valid_column_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

int jf__is_reserved_column(const char *name)
{
    static const char *const reserved[] = {"id", "key", "kind", "shard_id", "offset", "length",
                                           "source_id", "rowid", "oid", "_rowid_", NULL};
    for (int i = 0; reserved[i]; i++)
        if (!strcasecmp(name, reserved[i]))
            return 1;
    return 0;
}

static jf_status set_column(jf_record *rec, const char *col, jf_column v, jf_error *err)
{
    if (!col || !jf__valid_column_name(col))
        return jf_error_set(err, JF_EARG, "invalid column name '%s' (use [A-Za-z_][A-Za-z0-9_]*, at most 64)",
                            col ? col : "(null)");
    if (jf__is_reserved_column(col))
        return jf_error_set(err, JF_EARG, "column name '%s' is reserved", col);
    char *s = NULL;
    if (v.type == JF_COL_TEXT) {
        if (strlen(v.s) > JF__MAX_RECORD)
            return jf_error_set(err, JF_ELIMIT, "column '%s' value too long", col);
        s = jf__strdup(v.s);
        if (!s)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rec->n_cols; i++) {
        if (!strcasecmp(rec->cols[i].name, col)) {
            if (rec->col_own[i].data)
                free((char *)rec->cols[i].s);
            const char *keep = rec->cols[i].name;
            rec->cols[i] = v;
            rec->cols[i].name = keep;
            rec->cols[i].s = s;
            rec->col_own[i].data = s != NULL;
            return JF_OK;
        }
    }
    if (rec->n_cols >= JF__MAX_COLUMNS) {
        free(s);
        return jf_error_set(err, JF_ELIMIT, "more than %u columns", JF__MAX_COLUMNS);
    }
    char *n = jf__strdup(col);
    if (!n || (rec->n_cols == rec->cap_cols &&
               grow((void **)&rec->cols, (void **)&rec->col_own, &rec->cap_cols, sizeof(jf_column)))) {
        free(n);
        free(s);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    v.name = n;
    v.s = s;
    rec->cols[rec->n_cols] = v;
    rec->col_own[rec->n_cols] = (own_flags){1, s != NULL};
    rec->n_cols++;
    return JF_OK;
}

jf_status jf_record_set_int(jf_record *rec, const char *col, int64_t v, jf_error *err)
{
    return set_column(rec, col, (jf_column){.type = JF_COL_INT, .i = v}, err);
}
jf_status jf_record_set_real(jf_record *rec, const char *col, double v, jf_error *err)
{
    return set_column(rec, col, (jf_column){.type = JF_COL_REAL, .d = v}, err);
}
jf_status jf_record_set_text(jf_record *rec, const char *col, const char *v, jf_error *err)
{
    if (!v)
        return set_column(rec, col, (jf_column){.type = JF_COL_NULL}, err);
    return set_column(rec, col, (jf_column){.type = JF_COL_TEXT, .s = v}, err);
}

const char *jf_record_key(const jf_record *rec) { return rec->key ? rec->key : ""; }
jf_kind jf_record_kind(const jf_record *rec) { return rec->kind; }
size_t jf_record_field_count(const jf_record *rec) { return rec->n_fields; }
const jf_field *jf_record_field(const jf_record *rec, size_t i)
{
    return i < rec->n_fields ? &rec->fields[i] : NULL;
}
const jf_field *jf_record_find_field(const jf_record *rec, const char *name)
{
    for (size_t i = 0; i < rec->n_fields; i++)
        if (!strcmp(rec->fields[i].name, name))
            return &rec->fields[i];
    return NULL;
}
size_t jf_record_column_count(const jf_record *rec) { return rec->n_cols; }
const jf_column *jf_record_column(const jf_record *rec, size_t i)
{
    return i < rec->n_cols ? &rec->cols[i] : NULL;
}
const jf_column *jf_record_find_column(const jf_record *rec, const char *name)
{
    for (size_t i = 0; i < rec->n_cols; i++)
        if (!strcasecmp(rec->cols[i].name, name))
            return &rec->cols[i];
    return NULL;
}

jf_kind jf_kind_infer(const jf_record *rec)
{
    int image = 0, conv = 0;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const char *n = rec->fields[i].name;
        if (rec->fields[i].type == JF_FIELD_IMAGE)
            image = 1;
        if (!strcmp(n, "conv") || !strcmp(n, "conv.json") || !strcmp(n, "conversations.json"))
            conv = 1;
    }
    if (image && conv)
        return JF_KIND_UNDERSTANDING;
    if (image)
        return JF_KIND_GENERATION;
    return JF_KIND_TEXT;
}

/* ---- body encoding (FORMAT.md §3) ---- */

static int put_name(jf__buf *b, const char *name)
{
    size_t n = strlen(name);
    return jf__buf_put8(b, (uint8_t)n) || jf__buf_put(b, name, n + 1);
}

static int put_column(jf__buf *b, const jf_column *c)
{
    if (put_name(b, c->name) || jf__buf_put8(b, (uint8_t)c->type))
        return -1;
    switch (c->type) {
    case JF_COL_INT: return jf__buf_put64(b, (uint64_t)c->i);
    case JF_COL_REAL: {
        uint64_t bits;
        memcpy(&bits, &c->d, 8);
        return jf__buf_put64(b, bits);
    }
    case JF_COL_TEXT: {
        size_t n = strlen(c->s);
        return jf__buf_put32(b, (uint32_t)n) || jf__buf_put(b, c->s, n + 1);
    }
    default: return 0;
    }
}

jf_status jf__record_encode(const jf_record *rec, const jf_column *extra, size_t n_extra,
                            jf__buf *out, size_t *prefix_len, jf_error *err)
{
    if (!rec->key)
        return jf_error_set(err, JF_EARG, "record has no key");
    size_t key_len = strlen(rec->key);
    size_t n_cols = rec->n_cols;
    for (size_t i = 0; i < n_extra; i++)
        if (!jf_record_find_column(rec, extra[i].name))
            n_cols++;
    if (n_cols > JF__MAX_COLUMNS)
        return jf_error_set(err, JF_ELIMIT, "record '%s': too many columns", rec->key);
    uint64_t total = 0;
    for (size_t i = 0; i < rec->n_fields; i++)
        total += rec->fields[i].size;
    if (total > JF__MAX_RECORD)
        return jf_error_set(err, JF_ELIMIT, "record '%s': %llu bytes of fields, limit %u", rec->key,
                            (unsigned long long)total, JF__MAX_RECORD);
    out->len = 0;
    int bad = jf__buf_put(out, JF__BODY_MAGIC, 4) || jf__buf_put8(out, 1) ||
              jf__buf_put8(out, (uint8_t)rec->kind) || jf__buf_put16(out, (uint16_t)rec->n_fields) ||
              jf__buf_put16(out, (uint16_t)n_cols) || jf__buf_put16(out, (uint16_t)key_len) ||
              jf__buf_put(out, rec->key, key_len + 1);
    for (size_t i = 0; i < rec->n_cols && !bad; i++)
        bad = put_column(out, &rec->cols[i]);
    for (size_t i = 0; i < n_extra && !bad; i++)
        if (!jf_record_find_column(rec, extra[i].name))
            bad = put_column(out, &extra[i]);
    for (size_t i = 0; i < rec->n_fields && !bad; i++) {
        const jf_field *f = &rec->fields[i];
        bad = put_name(out, f->name) || jf__buf_put8(out, (uint8_t)f->type) ||
              jf__buf_put8(out, (uint8_t)(f->raw ? 1 : 0)) || jf__buf_put64(out, f->size);
    }
    for (size_t i = 0; i < rec->n_fields && !bad; i++)
        if (!rec->fields[i].raw)
            bad = jf__buf_put(out, rec->fields[i].data, rec->fields[i].size);
    *prefix_len = out->len;
    for (size_t i = 0; i < rec->n_fields && !bad; i++)
        if (rec->fields[i].raw)
            bad = jf__buf_put(out, rec->fields[i].data, rec->fields[i].size);
    if (bad)
        return jf_error_set(err, JF_ENOMEM, "out of memory encoding record '%s'", rec->key);
    return JF_OK;
}

uint8_t *jf__record_body_buffer(jf_record *rec, size_t cap)
{
    jf_record_reset(rec);
    if (rec->body_cap < cap) {
        uint8_t *b = realloc(rec->body, cap ? cap : 1);
        if (!b)
            return NULL;
        rec->body = b;
        rec->body_cap = cap;
    }
    return rec->body;
}

/* A bounds-checked cursor over the body. */
typedef struct cur {
    const uint8_t *p;
    size_t n, i;
    int bad;
} cur;

static const uint8_t *take(cur *c, size_t n)
{
    if (c->bad || c->n - c->i < n) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *r = c->p + c->i;
    c->i += n;
    return r;
}
static uint8_t take8(cur *c) { const uint8_t *p = take(c, 1); return p ? p[0] : 0; }
static uint16_t take16(cur *c) { const uint8_t *p = take(c, 2); return p ? jf__ld16(p) : 0; }
static uint32_t take32(cur *c) { const uint8_t *p = take(c, 4); return p ? jf__ld32(p) : 0; }
static uint64_t take64(cur *c) { const uint8_t *p = take(c, 8); return p ? jf__ld64(p) : 0; }
/* A length-prefixed, NUL-terminated string of at most `max` bytes. */
static const char *take_str(cur *c, size_t len)
{
    const uint8_t *p = take(c, len + 1);
    if (!p || p[len] != 0 || memchr(p, 0, len)) {
        c->bad = 1;
        return NULL;
    }
    return (const char *)p;
}

jf_status jf__record_decode_in_place(jf_record *rec, size_t len, jf_error *err)
{
    cur c = {rec->body, len, 0, 0};
    const uint8_t *magic = take(&c, 4);
    if (!magic || memcmp(magic, JF__BODY_MAGIC, 4))
        return jf_error_set(err, JF_ECORRUPT, "record body has no JFRC magic");
    uint8_t version = take8(&c);
    if (version != 1)
        return jf_error_set(err, JF_EFORMAT, "record body version %u not supported", version);
    uint8_t kind = take8(&c);
    uint16_t nf = take16(&c), nc = take16(&c), kl = take16(&c);
    if (kind > JF_KIND_TEXT || nf > JF__MAX_FIELDS || nc > JF__MAX_COLUMNS || kl == 0 || kl > JF__MAX_KEY)
        return jf_error_set(err, JF_ECORRUPT, "record body header out of range (kind %u, %u fields, %u columns, key %u bytes)",
                            kind, nf, nc, kl);
    const char *key = take_str(&c, kl);
    if (c.bad)
        return jf_error_set(err, JF_ECORRUPT, "record body: bad key");
    rec->key = (char *)key;
    rec->own_key = 0;
    rec->kind = (jf_kind)kind;
    if (nc > rec->cap_cols) {
        jf_column *a = realloc(rec->cols, nc * sizeof *a);
        own_flags *o = a ? realloc(rec->col_own, nc * sizeof *o) : NULL;
        if (a)
            rec->cols = a;
        if (!a || !o)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        rec->col_own = o;
        rec->cap_cols = nc;
    }
    for (uint16_t i = 0; i < nc; i++) {
        jf_column *col = &rec->cols[i];
        memset(col, 0, sizeof *col);
        uint8_t n = take8(&c);
        col->name = take_str(&c, n);
        col->type = (jf_col_type)take8(&c);
        if (c.bad || !col->name || !jf__valid_column_name(col->name))
            return jf_error_set(err, JF_ECORRUPT, "record '%s': bad column %u", key, i);
        switch (col->type) {
        case JF_COL_NULL: break;
        case JF_COL_INT: col->i = (int64_t)take64(&c); break;
        case JF_COL_REAL: { uint64_t bits = take64(&c); memcpy(&col->d, &bits, 8); break; }
        case JF_COL_TEXT: { uint32_t sl = take32(&c); col->s = take_str(&c, sl); break; }
        default: c.bad = 1;
        }
        if (c.bad)
            return jf_error_set(err, JF_ECORRUPT, "record '%s': bad value of column '%s'", key, col->name);
        rec->col_own[i] = (own_flags){0, 0};
        rec->n_cols = i + 1u;
    }
    if (nf > rec->cap_fields) {
        jf_field *a = realloc(rec->fields, nf * sizeof *a);
        own_flags *o = a ? realloc(rec->field_own, nf * sizeof *o) : NULL;
        if (a)
            rec->fields = a;
        if (!a || !o)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        rec->field_own = o;
        rec->cap_fields = nf;
    }
    uint64_t payload = 0;
    for (uint16_t i = 0; i < nf; i++) {
        jf_field *f = &rec->fields[i];
        uint8_t n = take8(&c);
        f->name = take_str(&c, n);
        uint8_t type = take8(&c), flags = take8(&c);
        uint64_t size = take64(&c);
        if (c.bad || !f->name || type > JF_FIELD_INT || flags > 1 || size > JF__MAX_RECORD)
            return jf_error_set(err, JF_ECORRUPT, "record '%s': bad field table entry %u", key, i);
        f->type = (jf_field_type)type;
        f->raw = flags & 1;
        f->size = (size_t)size;
        payload += size;
        rec->field_own[i] = (own_flags){0, 0};
    }
    if (payload != c.n - c.i)
        return jf_error_set(err, JF_ECORRUPT, "record '%s': field sizes add up to %llu bytes, body has %zu",
                            key, (unsigned long long)payload, c.n - c.i);
    const uint8_t *p = c.p + c.i;
    for (int pass = 0; pass < 2; pass++)
        for (uint16_t i = 0; i < nf; i++)
            if (rec->fields[i].raw == pass) {
                rec->fields[i].data = p;
                p += rec->fields[i].size;
            }
    rec->n_fields = nf;
    for (uint16_t i = 1; i < nf; i++)
        for (uint16_t j = 0; j < i; j++)
            if (!strcmp(rec->fields[i].name, rec->fields[j].name)) {
                rec->n_fields = 0;
                return jf_error_set(err, JF_ECORRUPT, "record '%s': field '%s' twice", key, rec->fields[i].name);
            }
    return JF_OK;
}

/* ---- columns computed by the writer ---- */

jf_status jf__compute_columns(const jf_record *rec, jf_column *out, size_t *n_out)
{
    size_t n = 0;
    const jf_field *img = NULL, *txt = NULL;
    int64_t n_images = 0;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const jf_field *f = &rec->fields[i];
        if (f->type == JF_FIELD_IMAGE) {
            n_images++;
            if (!img)
                img = f;
        }
        if (!txt && (!strcmp(f->name, "txt") || !strcmp(f->name, "caption") || !strcmp(f->name, "text")))
            txt = f;
    }
    if (img) {
        const char *fmt;
        int w, h;
        if (jf_image_sniff(img->data, img->size, &fmt, &w, &h) == 0) {
            out[n++] = (jf_column){.name = "width", .type = JF_COL_INT, .i = w};
            out[n++] = (jf_column){.name = "height", .type = JF_COL_INT, .i = h};
            out[n++] = (jf_column){.name = "image_format", .type = JF_COL_TEXT, .s = fmt};
        }
        out[n++] = (jf_column){.name = "image_bytes", .type = JF_COL_INT, .i = (int64_t)img->size};
    }
    out[n++] = (jf_column){.name = "n_images", .type = JF_COL_INT, .i = n_images};
    if (txt) {
        out[n++] = (jf_column){.name = "caption_len", .type = JF_COL_INT,
                               .i = (int64_t)jf__utf8_chars(txt->data, txt->size)};
        int64_t words = 0;
        int in = 0;
        for (size_t i = 0; i < txt->size; i++) {
            unsigned char c = txt->data[i];
            int sp = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
            words += !sp && !in;
            in = !sp;
        }
        out[n++] = (jf_column){.name = "caption_words", .type = JF_COL_INT, .i = words};
    }
    *n_out = n;
    return JF_OK;
}
