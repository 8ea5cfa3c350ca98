/* jf_ingest_run: inputs → samples → checked records in the shard store, with an outcome for
 * every sample. One reader (this thread) fills batches; a pool decodes and checks a batch while
 * the next one is read; records are written in input order, so shards are deterministic. */
#include "ingest_internal.h"
#include "jf_parquet.h"

#include <dirent.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static const char *const OUTCOME_NAMES[JF_OUT_COUNT_] = {
    "ok", "already_present", "duplicate_key", "not_adjacent", "decode_error", "empty_file", "unsupported_format",
    "too_large", "too_small", "bad_aspect", "missing_image", "missing_pair_member", "bad_record", "truncated",
    "http_error", "timeout", "network_error", "opted_out", "hash_mismatch", "refused_member"};
static const char *const NOTE_NAMES[JF_NOTE_COUNT_] = {"caption_repaired", "extension_mismatch", "metadata_invalid",
                                                      "rejected_member"};

const char *jf_outcome_name(jf_outcome o) { return (unsigned)o < JF_OUT_COUNT_ ? OUTCOME_NAMES[o] : "unknown"; }
const char *jf_note_name(jf_note n) { return (unsigned)n < JF_NOTE_COUNT_ ? NOTE_NAMES[n] : "unknown"; }

jf_ingest_params jf_ingest_default_params(void)
{
    jf_ingest_params p;
    memset(&p, 0, sizeof p);
    p.limits = jf_image_default_limits();
    p.batch = 256;
    p.resize.mode = JF_RESIZE_KEEP;
    p.resize.size = 256;
    p.resize.filter = JF_RESAMPLE_LANCZOS;
    p.resize.format = "jpg";
    p.resize.quality = 95;
    p.resize.pad_rgb[0] = p.resize.pad_rgb[1] = p.resize.pad_rgb[2] = 255;
    p.http.parallel = 64;
    p.http.per_host = 8;
    p.http.timeout = 20;
    p.http.connect_timeout = 10;
    p.http.stall_timeout = 30;
    p.http.retries = 2;
    p.http.backoff = 1.0;
    p.http.max_bytes = 64u << 20;
    p.writer = jf_writer_default_params();
    return p;
}

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Valid UTF-8 copy of (s, n): invalid bytes become U+FFFD. *repaired is set when any was. */
static char *utf8_repair(const char *s, size_t n, int *repaired)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (ok && len == 2 && c < 0xC2)
            ok = 0;
        if (ok && len == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && len == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((u[i + 1] & 0x3Fu) << 12) | ((u[i + 2] & 0x3Fu) << 6) | (u[i + 3] & 0x3Fu);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (ok && !(len == 1 && c == 0)) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            *repaired = 1;
        }
    }
    out[o] = 0;
    return out;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p == '\n')
            sb_put(b, "\\n", 2);
        else if (*p == '\t')
            sb_put(b, "\\t", 2);
        else if (*p == '\r')
            sb_put(b, "\\r", 2);
        else if (*p < 0x20)
            sb_printf(b, "\\u%04x", *p);
        else
            sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

/* ---- captions joined to SA-1B images ---- */

typedef struct cap_map {
    char **keys;
    char **vals;
    size_t cap, n;
} cap_map;

static uint64_t str_hash(const char *s) { return XXH3_64bits(s, strlen(s)); }

static void cap_put(cap_map *m, const char *k, const char *v)
{
    if (!k || !*k || !v)
        return;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        char **nk = calloc(cap, sizeof *nk), **nv = calloc(cap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = str_hash(m->keys[i]) & (cap - 1);
                while (nk[j])
                    j = (j + 1) & (cap - 1);
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = cap;
    }
    size_t j = str_hash(k) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], k))
            return; /* first caption wins */
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = xstrdup(k);
    m->vals[j] = xstrdup(v);
    m->n++;
}

static const char *cap_get(const cap_map *m, const char *k)
{
    if (!m->cap || !k)
        return NULL;
    size_t j = str_hash(k) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], k))
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static void cap_free(cap_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
}

static const char *obj_str(yajl_val o, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        const char *path[] = {names[i], NULL};
        yajl_val v = yajl_tree_get(o, path, yajl_t_any);
        if (v && YAJL_IS_STRING(v))
            return YAJL_GET_STRING(v);
        if (v && YAJL_IS_NUMBER(v))
            return v->u.number.r;
    }
    return NULL;
}

/* Adds one caption record under every name the image may be looked up by: file name, stem,
 * and numeric id ("sa_17.jpg", "sa_17", "17"). */
static void cap_add_record(cap_map *m, const char *name, const char *caption)
{
    if (!name || !caption)
        return;
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    cap_put(m, base, caption);
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strchr(stem, '.');
    if (dot)
        *dot = 0;
    cap_put(m, stem, caption);
    const char *digits = stem;
    if (!strncmp(digits, "sa_", 3))
        digits += 3;
    if (*digits && strspn(digits, "0123456789") == strlen(digits))
        cap_put(m, digits, caption);
}

static void cap_add_value(cap_map *m, const char *key, yajl_val v)
{
    static const char *const cap_names[] = {"caption", "text", "txt", "TEXT", NULL};
    static const char *const id_names[] = {"image", "file_name", "image_id", "id", "key", "filename", NULL};
    if (YAJL_IS_STRING(v))
        cap_add_record(m, key, YAJL_GET_STRING(v));
    else if (YAJL_IS_OBJECT(v))
        cap_add_record(m, key ? key : obj_str(v, id_names), obj_str(v, cap_names));
}

static jf_status load_captions(cap_map *m, const char *path, jf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return jf_error_set(err, JF_ENOTFOUND, "%s: cannot open caption file: %s", path, strerror(errno));
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
        ;
    ungetc(c, f);
    /* JSON lines: one object per line with an image name and a caption. */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = c == '{' ? getline(&line, &cap, f) : -1;
    char ebuf[256];
    yajl_val first = n > 0 ? yajl_tree_parse(line, ebuf, sizeof ebuf) : NULL;
    int more = 0;
    if (first) {
        while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
            ;
        more = c != EOF;
        ungetc(c, f);
    }
    if (first && more && YAJL_IS_OBJECT(first)) {
        cap_add_value(m, NULL, first);
        yajl_tree_free(first);
        long lineno = 1;
        while ((n = getline(&line, &cap, f)) > 0) {
            lineno++;
            yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
            if (v)
                cap_add_value(m, NULL, v);
            yajl_tree_free(v);
        }
        free(line);
        fclose(f);
        return JF_OK;
    }
    yajl_tree_free(first);
    free(line);
    rewind(f);
    /* A JSON document: an object {name: caption | {caption: ...}} or an array of records. */
    jf__jsonstream *js = jf__jsonstream_create();
    uint8_t buf[1 << 16];
    size_t got;
    uint64_t off = 0;
    jf_status s = JF_OK;
    for (;;) {
        got = fread(buf, 1, sizeof buf, f);
        if (jf__jsonstream_feed(js, buf, got, off, ebuf, sizeof ebuf) != 0) {
            s = jf_error_set(err, JF_EFORMAT, "%s: %s", path, ebuf);
            break;
        }
        off += got;
        yajl_val v;
        while ((v = jf__jsonstream_take(js))) {
            if (YAJL_IS_OBJECT(v) && v->u.object.len == 1 && !obj_str(v, (const char *const[]){"caption", "text", "txt", NULL}))
                cap_add_value(m, v->u.object.keys[0], v->u.object.values[0]);
            else
                cap_add_value(m, NULL, v);
            yajl_tree_free(v);
        }
        if (got == 0)
            break;
    }
    jf__jsonstream_destroy(js);
    fclose(f);
    return s;
}

/* ---- items ---- */

typedef struct member {
    char *ext;
    uint8_t *data;
    size_t size;
} member;

typedef struct item {
    int manifest;          /* 0: tar sample, 1: manifest record */
    char *key;             /* dataset key: source/key or source/index */
    char *orig;            /* original key or id */
    const char *source;
    const char *input;
    const char *manifest_dir;
    int64_t offset;        /* tar header offset, or record index */
    member *m;
    size_t n_m;
    yajl_val rec;          /* manifest record */
    /* results */
    jf_record *out;
    jf_outcome outcome;
    unsigned notes;
    char detail[400];
    char missing_prefix[128];
    uint64_t image_bytes;
    long http_status;
    int reported;          /* the reader already reported why it went: counted, recorded, not printed again */
} item;

static void item_clear(item *it)
{
    free(it->key);
    free(it->orig);
    for (size_t i = 0; i < it->n_m; i++) {
        free(it->m[i].ext);
        free(it->m[i].data);
    }
    free(it->m);
    yajl_tree_free(it->rec);
    jf_record_destroy(it->out);
    memset(it, 0, sizeof *it);
}

typedef struct run {
    jf_store *st;
    const jf_ingest_params *p;
    cap_map captions;
    const char *const *roots;
    size_t n_roots;
    jf__tarindex **root_tars; /* per root: a plain tar indexed by member name, or NULL (a folder) */
} run;

static jf_outcome image_outcome(jf_image_status s)
{
    switch (s) {
    case JF_IMAGE_EMPTY: return JF_OUT_EMPTY_FILE;
    case JF_IMAGE_UNSUPPORTED: return JF_OUT_UNSUPPORTED_FORMAT;
    case JF_IMAGE_TOO_LARGE: return JF_OUT_TOO_LARGE;
    default: return JF_OUT_DECODE_ERROR;
    }
}

static const char *ext_for_format(const char *fmt)
{
    return !strcmp(fmt, "jpeg") ? "jpg" : fmt;
}

/* Checks an image and its size rules; on success adds it as a field and its columns. */
static int add_image(const run *r, item *it, const char *field, const uint8_t *data, size_t size, int first)
{
    jf_image_info info;
    jf_image_stats stats;
    char detail[300];
    /* the first image's pixel statistics and perceptual hash become columns (blank-image and
     * near-duplicate filters need no second decode) */
    jf_image_status s = jf_image_check_stats(data, size, &r->p->limits, r->p->full_decode, r->p->fast_analysis, &info,
                                             first && !r->p->no_analysis ? &stats : NULL, detail, sizeof detail);
    if (s != JF_IMAGE_OK) {
        it->outcome = image_outcome(s);
        snprintf(it->detail, sizeof it->detail, "%s: %s", field, detail);
        return -1;
    }
    int shorter = info.width < info.height ? info.width : info.height;
    int longer = info.width < info.height ? info.height : info.width;
    if (r->p->min_side > 0 && shorter < r->p->min_side) {
        it->outcome = JF_OUT_TOO_SMALL;
        snprintf(it->detail, sizeof it->detail, "%dx%d, shorter side under %d", info.width, info.height, r->p->min_side);
        return -1;
    }
    if (r->p->max_aspect > 0 && (double)longer / shorter > r->p->max_aspect) {
        it->outcome = JF_OUT_BAD_ASPECT;
        snprintf(it->detail, sizeof it->detail, "%dx%d, aspect %.2f over %.2f", info.width, info.height,
                 (double)longer / shorter, r->p->max_aspect);
        return -1;
    }
    XXH128_hash_t orig_hash = XXH3_128bits(data, size); /* of the bytes as found, for duplicates */
    /* Resized and re-encoded when asked; the original's size and format stay as columns. */
    uint8_t *resized = NULL;
    size_t resized_len = 0;
    if (r->p->resize.mode != JF_RESIZE_KEEP) {
        int ow, oh, iw, ih;
        jf_error terr;
        if (jf_image_transform(data, size, &r->p->resize, &resized, &resized_len, &ow, &oh, &iw, &ih, &terr) != JF_OK) {
            it->outcome = JF_OUT_DECODE_ERROR;
            snprintf(it->detail, sizeof it->detail, "%s: resize: %.300s", field, terr.msg);
            return -1;
        }
        if (first) {
            jf_record_set_int(it->out, "orig_width", info.width, &terr);
            jf_record_set_int(it->out, "orig_height", info.height, &terr);
            jf_record_set_int(it->out, "orig_bytes", (int64_t)size, &terr);
            jf_record_set_text(it->out, "orig_format", info.format, &terr);
        }
        info.format = !strcmp(r->p->resize.format ? r->p->resize.format : "jpg", "jpg") ? "jpeg" : r->p->resize.format;
        data = resized;
        size = resized_len;
    }
    /* The field is named after what the bytes are, whatever the member was called. */
    char name[300];
    snprintf(name, sizeof name, "%s", field);
    const char *want = ext_for_format(info.format);
    const char *dot = strrchr(name, '.');
    const char *have = dot ? dot + 1 : name;
    int same = !strcasecmp(have, want) || (!strcmp(want, "jpg") && !strcasecmp(have, "jpeg"));
    if (!same) {
        it->notes |= 1u << JF_NOTE_EXTENSION_MISMATCH;
        if (dot)
            snprintf(name + (dot - name) + 1, sizeof name - (size_t)(dot - name) - 1, "%s", want);
        else
            snprintf(name, sizeof name, "%s", want);
    }
    if (resized)
        it->notes &= ~(1u << JF_NOTE_EXTENSION_MISMATCH); /* re-encoded: the name is ours */
    jf_error err;
    jf_status added = jf_record_add_field(it->out, name, JF_FIELD_IMAGE, data, size, &err);
    if (added != JF_OK) {
        free(resized);
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "%.380s", err.msg);
        return -1;
    }
    if (first) {
        XXH128_hash_t h = orig_hash;
        char hex[40];
        snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
        jf_record_set_text(it->out, "content_hash", hex, &err);
        jf_record_set_text(it->out, "colorspace", info.colorspace, &err);
        jf_record_set_int(it->out, "progressive", info.progressive, &err);
        if (!r->p->no_analysis) { /* the approximation never under the reference's names */
            int ap = r->p->fast_analysis;
            jf_record_set_real(it->out, ap ? "img_mean_approx" : "img_mean", stats.mean, &err);
            jf_record_set_real(it->out, ap ? "img_std_approx" : "img_std", stats.std, &err);
            jf_record_set_real(it->out, ap ? "img_entropy_approx" : "img_entropy", stats.entropy, &err);
            jf_record_set_int(it->out, ap ? "phash_approx" : "phash", (int64_t)stats.phash, &err);
        }
    }
    it->image_bytes += size;
    free(resized);
    return 0;
}

static void set_caption(item *it, const char *field, const char *text, size_t n)
{
    int repaired = 0;
    char *clean = utf8_repair(text, n, &repaired);
    if (!clean)
        return;
    if (repaired)
        it->notes |= 1u << JF_NOTE_CAPTION_REPAIRED;
    jf_record_add_field(it->out, field, JF_FIELD_TEXT, clean, strlen(clean), NULL);
    free(clean);
}

static int is_image_ext(const char *ext) { return jf_field_type_for_name(ext) == JF_FIELD_IMAGE; }

static void process_tar_item(const run *r, item *it)
{
    jf_error err;
    const member *img = NULL, *txt = NULL, *json = NULL;
    for (size_t i = 0; i < it->n_m; i++) {
        const member *m = &it->m[i];
        if (!img && is_image_ext(m->ext))
            img = m;
        else if (!txt && (!strcmp(m->ext, "txt") || !strcmp(m->ext, "caption") || !strcmp(m->ext, "text")))
            txt = m;
        else if (!json && !strcmp(m->ext, "json"))
            json = m;
    }
    it->out = jf_record_create();
    if (!it->out) {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "out of memory");
        return;
    }
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    /* the .json member's columns: the same rule as `jf shard import` */
    char *meta_caption = NULL;
    jf_json_member mk = json ? jf_record_json_columns(it->out, json->data, json->size, &meta_caption) : JF_JSON_INVALID;
    if (json && mk == JF_JSON_INVALID)
        it->notes |= 1u << JF_NOTE_METADATA_INVALID;
    int sa1b = mk == JF_JSON_SA1B;
    const char *base = strrchr(it->orig, '/') ? strrchr(it->orig, '/') + 1 : it->orig;
    int sa_name = !strncmp(base, "sa_", 3) && base[3] >= '0' && base[3] <= '9';
    if (sa1b && !img) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "SA-1B annotations without their image");
    } else if (sa_name && img && !json && r->captions.n == 0) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "SA-1B image without its annotation JSON");
    } else if (!img && !txt && json && !sa1b) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "metadata without an image or caption");
    }
    if (it->outcome != JF_OUT_OK) {
        free(meta_caption);
        return;
    }
    int n_img = 0;
    for (size_t i = 0; i < it->n_m; i++) {
        const member *m = &it->m[i];
        if (!is_image_ext(m->ext))
            continue;
        if (add_image(r, it, m->ext, m->data, m->size, n_img == 0) != 0) {
            free(meta_caption);
            return;
        }
        n_img++;
    }
    if (txt)
        set_caption(it, "txt", (const char *)txt->data, txt->size);
    else if (meta_caption)
        set_caption(it, "txt", meta_caption, strlen(meta_caption));
    free(meta_caption);
    if (!txt && r->captions.n) { /* captions joined from a separate file (SA-1B) */
        const char *c = cap_get(&r->captions, base);
        for (size_t i = 0; !c && i < jf_record_column_count(it->out); i++) {
            const jf_column *col = jf_record_column(it->out, i);
            char idbuf[32];
            if (col->type == JF_COL_INT && !strcmp(col->name, "sa_image_id")) {
                snprintf(idbuf, sizeof idbuf, "%lld", (long long)col->i);
                c = cap_get(&r->captions, idbuf);
            }
        }
        if (c)
            set_caption(it, "txt", c, strlen(c));
    }
    /* every other member goes in as it is */
    for (size_t i = 0; i < it->n_m; i++) {
        const member *m = &it->m[i];
        if (is_image_ext(m->ext) || (m == txt))
            continue;
        jf_record_add_field(it->out, m->ext, jf_field_type_for_name(m->ext), m->data, m->size, &err);
    }
    jf_record_set_kind(it->out, jf_kind_infer(it->out));
    it->outcome = JF_OUT_OK;
}

/* ---- manifest records (ShareGPT4V / LLaVA / image+caption / text) ---- */

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (1LL << 30)) {
        fclose(f);
        return -2;
    }
    *out = malloc((size_t)sb.st_size + 1);
    *len = *out ? fread(*out, 1, (size_t)sb.st_size, f) : 0;
    fclose(f);
    return *out ? 0 : -2;
}

/* First two components of a relative path: the part users look for when images are missing. */
static void path_prefix(const char *p, char *out, size_t n)
{
    const char *a = strchr(p, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    size_t len = b ? (size_t)(b - p) : a ? (size_t)(a - p) : strlen(p);
    if (!b && !a)
        len = 0; /* a bare file name: no prefix */
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
    if (!out[0])
        snprintf(out, n, ".");
}

static int load_manifest_image(const run *r, item *it, const char *rel, const char *field, int first)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    int found = 0;
    if (rel[0] == '/') {
        snprintf(path, sizeof path, "%s", rel);
        found = read_whole(path, &data, &len) == 0;
    } else if (strstr(rel, "..") && (strstr(rel, "../") == rel || strstr(rel, "/../"))) {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "image path '%s' leaves the image root", rel);
        return -1;
    } else if (r->n_roots == 0) {
        snprintf(path, sizeof path, "%s/%s", it->manifest_dir, rel);
        found = read_whole(path, &data, &len) == 0;
    } else {
        for (size_t k = 0; k < r->n_roots && !found; k++) {
            if (r->root_tars && r->root_tars[k]) {
                found = jf__tarindex_read(r->root_tars[k], rel, &data, &len) == 0;
                continue;
            }
            snprintf(path, sizeof path, "%s/%s", r->roots[k], rel);
            found = read_whole(path, &data, &len) == 0;
        }
    }
    if (!found) {
        it->outcome = JF_OUT_MISSING_IMAGE;
        snprintf(it->detail, sizeof it->detail, "image '%s' not found under %s", rel,
                 r->n_roots ? "the image roots" : it->manifest_dir);
        path_prefix(rel, it->missing_prefix, sizeof it->missing_prefix);
        return -1;
    }
    int rc = add_image(r, it, field, data, len, first);
    free(data);
    return rc;
}

/* Appends a normalized turn list [{"from": "human"|"gpt"|..., "value": "..."}]. */
static int normalize_conversation(item *it, yajl_val conv, sbuf *out, int *turns)
{
    sb_puts(out, "[");
    *turns = 0;
    for (size_t i = 0; i < conv->u.array.len; i++) {
        yajl_val t = conv->u.array.values[i];
        if (!YAJL_IS_OBJECT(t))
            return -1;
        const char *role = obj_str(t, (const char *const[]){"from", "role", NULL});
        const char *value = obj_str(t, (const char *const[]){"value", "content", "text", NULL});
        if (!role || !value)
            return -1;
        const char *norm = !strcmp(role, "user") ? "human" : !strcmp(role, "assistant") ? "gpt" : role;
        int rep = 0;
        char *clean = utf8_repair(value, strlen(value), &rep);
        char *crole = utf8_repair(norm, strlen(norm), &rep);
        if (!clean || !crole) {
            free(clean);
            free(crole);
            return -1;
        }
        if (rep)
            it->notes |= 1u << JF_NOTE_CAPTION_REPAIRED;
        sb_puts(out, i ? ",{\"from\":" : "{\"from\":");
        sb_json_str(out, crole);
        sb_puts(out, ",\"value\":");
        sb_json_str(out, clean);
        sb_puts(out, "}");
        free(clean);
        free(crole);
        (*turns)++;
    }
    sb_puts(out, "]");
    return *turns ? 0 : -1;
}

static void process_manifest_item(const run *r, item *it)
{
    jf_error err;
    yajl_val o = it->rec;
    if (!YAJL_IS_OBJECT(o)) {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "record %lld is not a JSON object", (long long)it->offset);
        return;
    }
    const char *conv_p[] = {"conversations", NULL}, *msg_p[] = {"messages", NULL}, *imgs_p[] = {"images", NULL};
    yajl_val conv = yajl_tree_get(o, conv_p, yajl_t_array);
    if (!conv)
        conv = yajl_tree_get(o, msg_p, yajl_t_array);
    const char *image = obj_str(o, (const char *const[]){"image", "file_name", "filepath", "image_path", "path", NULL});
    yajl_val images = yajl_tree_get(o, imgs_p, yajl_t_array);
    const char *caption = obj_str(o, (const char *const[]){"caption", "title", "txt", "TEXT", NULL});
    const char *text = obj_str(o, (const char *const[]){"text", "content", NULL});
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    const char *id = obj_str(o, (const char *const[]){"id", "uid", "key", NULL});
    if (id) {
        int rep = 0;
        char *clean = utf8_repair(id, strlen(id), &rep);
        jf_record_set_text(it->out, "orig_id", clean, &err);
        free(clean);
    }
    /* images first: a missing or damaged one decides the outcome */
    int n_img = 0;
    if (image) {
        jf_record_set_text(it->out, "image_path", image, &err);
        const char *dot = strrchr(image, '.');
        char field[32];
        snprintf(field, sizeof field, "%s", dot && strlen(dot + 1) < 8 ? dot + 1 : "jpg");
        for (char *c = field; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        if (!is_image_ext(field))
            snprintf(field, sizeof field, "jpg");
        if (load_manifest_image(r, it, image, field, 1) != 0)
            return;
        n_img++;
    }
    for (size_t i = 0; images && i < images->u.array.len; i++) {
        yajl_val v = images->u.array.values[i];
        const char *p = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : YAJL_IS_OBJECT(v) ? obj_str(v, (const char *const[]){"path", "image", NULL}) : NULL;
        if (!p)
            continue;
        char field[32];
        if (n_img == 0)
            snprintf(field, sizeof field, "jpg");
        else
            snprintf(field, sizeof field, "%d.jpg", n_img);
        if (n_img == 0)
            jf_record_set_text(it->out, "image_path", p, &err);
        if (load_manifest_image(r, it, p, field, n_img == 0) != 0)
            return;
        n_img++;
    }
    if (conv) {
        sbuf sb = {0};
        int turns = 0;
        if (normalize_conversation(it, conv, &sb, &turns) != 0) {
            free(sb.p);
            it->outcome = JF_OUT_BAD_RECORD;
            snprintf(it->detail, sizeof it->detail, "record %lld: conversations need turns with from/value (or role/content) strings",
                     (long long)it->offset);
            return;
        }
        jf_record_add_field(it->out, "conv", JF_FIELD_JSON, sb.p, sb.len, &err);
        jf_record_set_int(it->out, "n_turns", turns, &err);
        free(sb.p);
        jf_record_set_kind(it->out, n_img ? JF_KIND_UNDERSTANDING : JF_KIND_TEXT);
    } else if (n_img && (caption || text)) {
        const char *c = caption ? caption : text;
        set_caption(it, "txt", c, strlen(c));
        jf_record_set_kind(it->out, JF_KIND_GENERATION);
    } else if (!n_img && (text || caption)) {
        const char *c = text ? text : caption;
        set_caption(it, "txt", c, strlen(c));
        jf_record_set_kind(it->out, JF_KIND_TEXT);
    } else {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "record %lld has no conversations, image with caption, or text",
                 (long long)it->offset);
        return;
    }
    it->outcome = JF_OUT_OK;
}

/* A downloaded image with its URL-list row: the image, the caption, the row's other columns. */
/* Hex digest of data with algo ("md5", "sha256", "sha512") into out; 0, or -1 for an unknown
 * algorithm. */
static int hex_digest(const char *algo, const uint8_t *data, size_t n, char out[129])
{
    const EVP_MD *md = !strcmp(algo, "md5") ? EVP_md5() : !strcmp(algo, "sha256") ? EVP_sha256()
                       : !strcmp(algo, "sha512")                      ? EVP_sha512()
                                                                      : NULL;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (!md || !EVP_Digest(data, n, d, &dl, md, NULL))
        return -1;
    for (unsigned int i = 0; i < dl; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    out[2 * dl] = 0;
    return 0;
}

static void process_url_item(const run *r, item *it)
{
    jf_error err;
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    const jf_ingest_params *p = r->p;
    if (it->n_m >= 1 && p->verify_hash_col) {
        /* the bytes as downloaded, before any check or resize, as img2dataset verifies them */
        const char *k[] = {p->verify_hash_col, NULL};
        yajl_val want = it->rec ? yajl_tree_get(it->rec, k, yajl_t_string) : NULL;
        const char *want_hex = want ? YAJL_GET_STRING(want) : NULL;
        char got[129] = "";
        if (!want_hex || hex_digest(p->verify_hash_algo, it->m[0].data, it->m[0].size, got) || strcasecmp(got, want_hex)) {
            it->outcome = JF_OUT_HASH_MISMATCH;
            snprintf(it->detail, sizeof it->detail, "%s %s: %s", p->verify_hash_algo, want ? "mismatch" : "column missing",
                     want ? got : p->verify_hash_col);
            return;
        }
    }
    if (it->n_m >= 1 && p->compute_hash) {
        char hex[129];
        if (!hex_digest(p->compute_hash, it->m[0].data, it->m[0].size, hex))
            jf_record_set_text(it->out, p->compute_hash, hex, &err);
    }
    if (it->n_m < 1 || add_image(r, it, it->m[0].ext ? it->m[0].ext : "jpg", it->m[0].data, it->m[0].size, 1) != 0)
        return;
    static const char *const caption_keys[] = {"caption", "TEXT", "text", "txt", "title", NULL};
    const char *caption = it->rec ? obj_str(it->rec, caption_keys) : NULL;
    /* one rule for every list format, as img2dataset writes it: a caption column gives a txt
     * field, empty when the cell is empty or null */
    int has_caption_col = 0;
    for (size_t i = 0; it->rec && YAJL_IS_OBJECT(it->rec) && i < it->rec->u.object.len; i++)
        for (int k = 0; caption_keys[k]; k++)
            has_caption_col |= !strcmp(it->rec->u.object.keys[i], caption_keys[k]);
    if (caption)
        set_caption(it, "txt", caption, strlen(caption));
    else if (has_caption_col)
        jf_record_add_field(it->out, "txt", JF_FIELD_TEXT, "", 0, NULL);
    for (size_t i = 0; it->rec && YAJL_IS_OBJECT(it->rec) && i < it->rec->u.object.len; i++) {
        yajl_val v = it->rec->u.object.values[i];
        jf_column c = {.type = JF_COL_NULL};
        if (YAJL_IS_INTEGER(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_GET_INTEGER(v)};
        else if (YAJL_IS_NUMBER(v))
            c = (jf_column){.type = JF_COL_REAL, .d = v->u.number.d};
        else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_IS_TRUE(v)};
        char *clean = NULL; /* CSV cells are not checked as UTF-8 anywhere else */
        int repaired = 0;
        if (YAJL_IS_STRING(v) && (clean = utf8_repair(v->u.string, strlen(v->u.string), &repaired)))
            c = (jf_column){.type = JF_COL_TEXT, .s = clean};
        jf_record_metadata_column(it->out, it->rec->u.object.keys[i], &c, YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v), &err);
        free(clean);
    }
    jf_record_set_kind(it->out, jf_kind_infer(it->out));
    it->outcome = JF_OUT_OK;
}

static void process_item(const run *r, item *it)
{
    if (it->outcome != JF_OUT_OK) /* decided while reading (already present, duplicate, ...) */
        return;
    if (it->manifest == 2)
        process_url_item(r, it);
    else if (it->manifest)
        process_manifest_item(r, it);
    else
        process_tar_item(r, it);
    if (it->outcome != JF_OUT_OK) {
        jf_record_destroy(it->out);
        it->out = NULL;
    }
}

/* ---- worker pool ---- */

typedef struct batch {
    item *v;
    size_t n, cap;
    atomic_size_t next;
} batch;

typedef struct pool {
    const run *r;
    pthread_t *t;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    batch *cur;
    unsigned gen;
    int finished, stop;
} pool;

static void drain(const run *r, batch *b)
{
    size_t i;
    while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
        process_item(r, &b->v[i]);
}

static void *worker(void *arg)
{
    pool *pl = arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (pl->gen == seen && !pl->stop)
            pthread_cond_wait(&pl->work, &pl->mu);
        if (pl->stop) {
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
        seen = pl->gen;
        batch *b = pl->cur;
        pthread_mutex_unlock(&pl->mu);
        drain(pl->r, b);
        pthread_mutex_lock(&pl->mu);
        if (++pl->finished == pl->n)
            pthread_cond_signal(&pl->done);
        pthread_mutex_unlock(&pl->mu);
    }
}

static int pool_start(pool *pl, const run *r, int n)
{
    memset(pl, 0, sizeof *pl);
    pl->r = r;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->work, NULL);
    pthread_cond_init(&pl->done, NULL);
    pl->t = calloc((size_t)n, sizeof *pl->t);
    if (!pl->t)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&pl->t[i], NULL, worker, pl) != 0)
            break;
        pl->n++;
    }
    return pl->n ? 0 : -1;
}

static void pool_submit(pool *pl, batch *b)
{
    atomic_store(&b->next, 0);
    pthread_mutex_lock(&pl->mu);
    pl->cur = b;
    pl->finished = 0;
    pl->gen++;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_wait(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    while (pl->finished < pl->n)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_stop(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < pl->n; i++)
        pthread_join(pl->t[i], NULL);
    free(pl->t);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->work);
    pthread_cond_destroy(&pl->done);
}

/* ---- the run ---- */

typedef struct key_set {
    XXH128_hash_t *v;
    size_t cap, n;
} key_set;

/* Returns 1 if present; inserts otherwise. 128-bit hashes: collisions are not a practical concern. */
static int key_seen(key_set *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 14;
        XXH128_hash_t *t = calloc(cap, sizeof *t);
        if (!t)
            return 0;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].low64 | s->v[i].high64) {
                size_t j = s->v[i].low64 & (cap - 1);
                while (t[j].low64 | t[j].high64)
                    j = (j + 1) & (cap - 1);
                t[j] = s->v[i];
            }
        free(s->v);
        s->v = t;
        s->cap = cap;
    }
    XXH128_hash_t h = XXH3_128bits(key, strlen(key));
    if (!(h.low64 | h.high64))
        h.low64 = 1;
    size_t j = h.low64 & (s->cap - 1);
    while (s->v[j].low64 | s->v[j].high64) {
        if (s->v[j].low64 == h.low64 && s->v[j].high64 == h.high64)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return 0;
}

typedef struct state {
    run r;
    jf_ingest_stats *stats;
    jf_writer *w;
    sqlite3 *db;
    sqlite3_stmt *exists, *fail;
    sqlite3_stmt *unfail;  /* deletes a failure row of an earlier run; NULL when there were none */
    key_set keys;
    pool pl;
    int threads;
    batch b[2];
    int cur;
    int64_t run_id;
    uint64_t n_seen;
    jf__downloader *dl;
} state;

static void vproblem(state *s, const char *severity, const char *input, int64_t offset, const char *fmt, va_list ap)
{
    if (!s->r.p->on_problem)
        return;
    char msg[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    jf_problem p = {severity, input, offset, msg};
    s->r.p->on_problem(s->r.p->user, &p);
}

static void problem(state *s, const char *input, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(state *s, const char *input, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(s, "error", input, offset, fmt, ap);
    va_end(ap);
}

static void warning(state *s, const char *input, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void warning(state *s, const char *input, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(s, "warning", input, offset, fmt, ap);
    va_end(ap);
}

static void count_missing(jf_ingest_stats *st, const char *prefix)
{
    for (size_t i = 0; i < st->n_missing_prefixes; i++)
        if (!strcmp(st->missing_by_prefix[i].prefix, prefix)) {
            st->missing_by_prefix[i].count++;
            return;
        }
    size_t k = st->n_missing_prefixes < 64 ? st->n_missing_prefixes++ : 63;
    if (k == 63 && st->n_missing_prefixes == 64 && strcmp(st->missing_by_prefix[63].prefix, "(other)")) {
        snprintf(st->missing_by_prefix[63].prefix, sizeof st->missing_by_prefix[63].prefix, "(other)");
        st->missing_by_prefix[63].count = 0;
    }
    if (k < 63)
        snprintf(st->missing_by_prefix[k].prefix, sizeof st->missing_by_prefix[k].prefix, "%s", prefix);
    st->missing_by_prefix[k].count++;
}

/* Writes a processed batch in order: records to the writer, then the failures to the index in
 * one transaction (the writer runs its own transactions, so the two are kept apart). */
static jf_status write_batch(state *s, batch *b, jf_error *err)
{
    jf_status rc = JF_OK;
    size_t n_fail = 0;
    for (size_t i = 0; i < b->n && rc == JF_OK; i++) {
        item *it = &b->v[i];
        for (int n = 0; n < JF_NOTE_COUNT_; n++)
            if (it->notes & (1u << n))
                s->stats->note[n]++;
        if (it->outcome == JF_OUT_OK) {
            jf_error we;
            jf_status ws = jf_writer_add(s->w, it->out, &we);
            if (ws == JF_EARG || ws == JF_ELIMIT) {
                it->outcome = JF_OUT_BAD_RECORD;
                snprintf(it->detail, sizeof it->detail, "%.380s", we.msg);
            } else if (ws != JF_OK) {
                if (err)
                    *err = we;
                rc = ws;
                break;
            } else {
                s->stats->records_written++;
                s->stats->image_bytes += it->image_bytes;
            }
        }
        s->stats->outcome[it->outcome]++;
        if (it->outcome == JF_OUT_OK || it->outcome == JF_OUT_ALREADY_PRESENT)
            continue;
        if (it->outcome == JF_OUT_MISSING_IMAGE)
            count_missing(s->stats, it->missing_prefix);
        if (it->outcome == JF_OUT_HTTP_ERROR && it->http_status >= 100 && it->http_status < 600) {
            s->stats->http_status[it->http_status / 100]++;
            s->stats->http_404 += it->http_status == 404;
        }
        if (!it->reported)
            problem(s, it->input, it->offset, "%s: %s%s%s", it->key, jf_outcome_name(it->outcome), it->detail[0] ? ": " : "",
                    it->detail);
        n_fail++;
    }
    if ((n_fail || s->unfail) && rc == JF_OK) {
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording failures: %s", sqlite3_errmsg(s->db));
        for (size_t i = 0; i < b->n && rc == JF_OK; i++) {
            item *it = &b->v[i];
            if (it->outcome == JF_OUT_OK && s->unfail) { /* a retry that worked */
                sqlite3_reset(s->unfail);
                sqlite3_bind_text(s->unfail, 1, it->source, -1, SQLITE_STATIC);
                sqlite3_bind_text(s->unfail, 2, it->key, -1, SQLITE_STATIC);
                if (sqlite3_step(s->unfail) != SQLITE_DONE)
                    rc = jf_error_set(err, JF_EDB, "clearing a failure: %s", sqlite3_errmsg(s->db));
            }
            if (it->outcome == JF_OUT_OK || it->outcome == JF_OUT_ALREADY_PRESENT)
                continue;
            sqlite3_reset(s->fail);
            sqlite3_bind_int64(s->fail, 1, s->run_id);
            sqlite3_bind_text(s->fail, 2, it->source, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 3, it->input, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 4, it->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s->fail, 5, it->offset);
            sqlite3_bind_text(s->fail, 6, jf_outcome_name(it->outcome), -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 7, it->detail, -1, SQLITE_STATIC);
            if (sqlite3_step(s->fail) != SQLITE_DONE)
                rc = jf_error_set(err, JF_EDB, "recording a failure: %s", sqlite3_errmsg(s->db));
        }
        if (rc == JF_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording failures: %s", sqlite3_errmsg(s->db));
        if (rc != JF_OK)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (size_t i = 0; i < b->n; i++)
        item_clear(&b->v[i]);
    b->n = 0;
    return rc;
}

/* Hands the filled batch to the workers and writes the previous one meanwhile. */
static jf_status flush_batch(state *s, int final, jf_error *err)
{
    batch *b = &s->b[s->cur];
    if (s->threads <= 1) {
        atomic_store(&b->next, 0);
        drain(&s->r, b);
        return write_batch(s, b, err);
    }
    /* b[cur] was filled while b[!cur] was being decoded: wait, write it, start b[cur]. */
    batch *prev = &s->b[!s->cur];
    jf_status rc = JF_OK;
    if (prev->n) {
        pool_wait(&s->pl);
        rc = write_batch(s, prev, err);
    }
    if (b->n && rc == JF_OK) {
        pool_submit(&s->pl, b);
        s->cur = !s->cur;
    }
    if (final && rc == JF_OK && b->n) {
        pool_wait(&s->pl);
        rc = write_batch(s, b, err);
    }
    return rc;
}

static item *new_item(state *s, jf_error *err, jf_status *rc)
{
    batch *b = &s->b[s->cur];
    if (b->n >= s->r.p->batch) {
        if ((*rc = flush_batch(s, 0, err)) != JF_OK)
            return NULL;
        b = &s->b[s->cur];
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        item *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            *rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    item *it = &b->v[b->n++];
    memset(it, 0, sizeof *it);
    s->n_seen++;
    s->stats->seen++;
    if (s->r.p->on_progress && s->n_seen % 64 == 0)
        s->r.p->on_progress(s->r.p->user, s->n_seen, 0);
    return it;
}

/* Decides what needs no decoding: already in the index, or a duplicate in this run. */
static void triage(state *s, item *it)
{
    sqlite3_reset(s->exists);
    sqlite3_bind_text(s->exists, 1, it->key, -1, SQLITE_STATIC);
    if (sqlite3_step(s->exists) == SQLITE_ROW) {
        it->outcome = JF_OUT_ALREADY_PRESENT;
        key_seen(&s->keys, it->key);
        return;
    }
    if (key_seen(&s->keys, it->key)) {
        it->outcome = JF_OUT_DUPLICATE_KEY;
        snprintf(it->detail, sizeof it->detail, "key seen earlier in this run; the first sample is kept");
    }
}

static void problem_cb(void *user, const jf_problem *p)
{
    state *s = user;
    if (s->r.p->on_problem)
        s->r.p->on_problem(s->r.p->user, p);
}

static int is_url(const char *p) { return !strncmp(p, "http://", 7) || !strncmp(p, "https://", 8); }

/* An item that went before decoding, for a reason the tar reader found (and reported). */
static jf_status reader_item(state *s, const char *path, const char *source, const char *orig, int64_t offset,
                             jf_outcome outcome, const char *detail, jf_error *err)
{
    jf_status rc = JF_OK;
    item *it = new_item(s, err, &rc);
    if (!it)
        return rc;
    char key[4400];
    snprintf(key, sizeof key, "%s/%s", source, orig);
    it->key = xstrdup(key);
    it->orig = xstrdup(orig);
    it->source = source;
    it->input = path;
    it->offset = offset;
    it->outcome = outcome;
    it->reported = 1;
    snprintf(it->detail, sizeof it->detail, "%s", detail);
    if (!it->key || !it->orig)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    key_seen(&s->keys, key);
    return JF_OK;
}

/* Reads one tar (local or streamed). Returns 1 in *incomplete when the tar could not be read to
 * its end (unreadable, cut short, damaged). */
static jf_status ingest_tar(state *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    jf_wds_reader *rd;
    jf__http_stream *hs = NULL;
    if (is_url(path)) {
        /* streamed: no temporary copy; a broken connection resumes with a Range request */
        hs = jf__http_stream_open(path, &s->r.p->http);
        if (!hs)
            return jf_error_set(err, JF_ENOMEM, "%s: cannot start the download", path);
    }
    jf_status rc = jf_wds_reader_open(path, hs ? jf__http_stream_read : NULL, hs, problem_cb, s, &rd, err);
    if (rc != JF_OK) {
        jf__http_stream_close(hs);
        return rc;
    }
    jf_wds_sample smp;
    while ((rc = jf_wds_reader_next(rd, &smp, err)) == JF_OK) {
        char key[4400];
        snprintf(key, sizeof key, "%s/%s", source, smp.key);
        /* Members of a key that come back later join their sample if it is still in the batch
         * being read; otherwise they are reported, not silently merged or lost. */
        if (smp.repeated_key) {
            batch *b = &s->b[s->cur];
            item *prev = NULL;
            for (size_t i = b->n; i-- > 0;)
                if (!strcmp(b->v[i].key, key) && !b->v[i].manifest && b->v[i].outcome == JF_OUT_OK) {
                    prev = &b->v[i];
                    break;
                }
            if (prev && smp.refused_members) {
                prev->outcome = JF_OUT_REFUSED_MEMBER;
                prev->reported = 1;
                snprintf(prev->detail, sizeof prev->detail, "a member that re-appeared at byte %lld was refused",
                         (long long)smp.offset);
                continue;
            }
            if (prev) {
                warning(s, path, smp.offset, "%s: members re-appear apart from its first ones; joined to its sample (at byte %lld)",
                        key, (long long)prev->offset);
                for (size_t k = 0; k < smp.n_members; k++) {
                    int dup = 0;
                    for (size_t j = 0; j < prev->n_m; j++)
                        dup |= !strcmp(prev->m[j].ext, smp.members[k].ext);
                    if (dup)
                        continue;
                    member *nm = realloc(prev->m, (prev->n_m + 1) * sizeof *nm);
                    if (!nm)
                        return jf_error_set(err, JF_ENOMEM, "out of memory");
                    prev->m = nm;
                    member *m = &prev->m[prev->n_m++];
                    m->ext = xstrdup(smp.members[k].ext);
                    m->size = smp.members[k].size;
                    m->data = malloc(m->size ? m->size : 1);
                    if (m->data)
                        memcpy(m->data, smp.members[k].data, m->size);
                }
                continue;
            }
        }
        if (smp.refused_members) {
            /* one outcome for the sample: what is left of it is not stored as another kind */
            char detail[128];
            snprintf(detail, sizeof detail, "%zu of its members refused (link, device or over the size limit)",
                     smp.refused_members);
            if ((rc = reader_item(s, path, source, smp.key, smp.offset, JF_OUT_REFUSED_MEMBER, detail, err)) != JF_OK)
                break;
            continue;
        }
        item *it = new_item(s, err, &rc);
        if (!it)
            break;
        it->key = xstrdup(key);
        it->orig = xstrdup(smp.key);
        it->source = source;
        it->input = path;
        it->offset = smp.offset;
        it->m = calloc(smp.n_members ? smp.n_members : 1, sizeof *it->m);
        if (!it->key || !it->orig || !it->m) {
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < smp.n_members; k++) {
            member *m = &it->m[it->n_m++];
            m->ext = xstrdup(smp.members[k].ext);
            m->size = smp.members[k].size;
            m->data = malloc(m->size ? m->size : 1);
            if (!m->ext || !m->data) {
                rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            memcpy(m->data, smp.members[k].data, m->size);
        }
        if (rc != JF_OK)
            break;
        if (smp.repeated_key) {
            it->outcome = JF_OUT_NOT_ADJACENT;
            snprintf(it->detail, sizeof it->detail,
                     "members of this key re-appear apart from its first ones, after their sample was stored; not stored");
            key_seen(&s->keys, key);
        } else {
            triage(s, it);
        }
    }
    if (rc == JF_ENOTFOUND)
        rc = JF_OK;
    jf_wds_report rep = jf_wds_reader_report(rd);
    s->stats->note[JF_NOTE_REJECTED_MEMBER] += rep.skipped_members;
    int64_t cut_offset;
    const char *dropped;
    if (jf_wds_reader_truncated(rd, &cut_offset, &dropped)) {
        *incomplete = 1;
        if (rc == JF_OK && dropped)
            rc = reader_item(s, path, source, dropped, cut_offset, JF_OUT_TRUNCATED,
                             "the tar stops inside this sample", err);
    }
    jf_wds_reader_close(rd);
    if (hs)
        s->stats->downloaded_bytes += jf__http_stream_bytes(hs);
    jf__http_stream_close(hs);
    return rc;
}

/* ---- URL downloads ---- */

typedef struct pending_url {
    char *key;
    const char *source;
    const char *input;
    int64_t index;
    yajl_val row;
} pending_url;

/* Turns finished downloads into items. */
static jf_status collect_downloads(state *s, jf_error *err)
{
    jf__dl_result *r;
    jf_status rc = JF_OK;
    while (rc == JF_OK && (r = jf__downloader_take(s->dl))) {
        pending_url *pu = r->user;
        item *it = new_item(s, err, &rc);
        if (it) {
            it->manifest = 2;
            it->key = pu->key;
            pu->key = NULL;
            it->source = pu->source;
            it->input = pu->input;
            it->offset = pu->index;
            it->rec = pu->row;
            pu->row = NULL;
            it->http_status = r->status;
            if (r->outcome == JF_OUT_OK) {
                it->m = calloc(1, sizeof *it->m);
                if (it->m) {
                    /* stored under the extension of its real format (a PNG from a .png URL is png) */
                    const char *fmt = jf_image_format_of(r->data, r->len);
                    it->m[0].ext = xstrdup(fmt && strcmp(fmt, "jpeg") ? ext_for_format(fmt) : "jpg");
                    it->m[0].data = r->data;
                    it->m[0].size = r->len;
                    r->data = NULL;
                    it->n_m = 1;
                }
            } else {
                it->outcome = r->outcome;
                snprintf(it->detail, sizeof it->detail, "%s", r->detail);
            }
        }
        free(pu->key);
        yajl_tree_free(pu->row);
        free(pu);
        jf__dl_result_free(r);
    }
    s->stats->downloaded_bytes = s->dl ? jf__downloader_bytes(s->dl) : 0;
    return rc;
}

/* Queues one URL; keeps the number of queued transfers bounded. Takes `row`. */
static jf_status queue_url(state *s, const char *url, const char *key, const char *source, const char *input,
                           int64_t index, yajl_val row, jf_error *err)
{
    if (!s->dl && !(s->dl = jf__downloader_create(&s->r.p->http))) {
        yajl_tree_free(row);
        return jf_error_set(err, JF_ENOMEM, "cannot start the downloader");
    }
    pending_url *pu = calloc(1, sizeof *pu);
    if (!pu || !(pu->key = xstrdup(key)) || jf__downloader_add(s->dl, url, pu) != 0) {
        if (pu)
            free(pu->key);
        free(pu);
        yajl_tree_free(row);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    pu->source = source;
    pu->input = input;
    pu->index = index;
    pu->row = row;
    jf_status rc = JF_OK;
    while (rc == JF_OK && jf__downloader_pending(s->dl) >= 2 * s->r.p->http.parallel) {
        jf__downloader_pump(s->dl, 50);
        rc = collect_downloads(s, err);
    }
    return rc;
}

static jf_status drain_downloads(state *s, jf_error *err)
{
    jf_status rc = JF_OK;
    while (rc == JF_OK && s->dl && jf__downloader_pending(s->dl) > 0) {
        jf__downloader_pump(s->dl, 100);
        rc = collect_downloads(s, err);
    }
    if (rc == JF_OK && s->dl)
        rc = collect_downloads(s, err);
    return rc;
}

/* A row of a URL list, or a JSONL record with a URL: triaged, then downloaded. */
/* The key of row `index` of a list or table (SOURCE/000000042) and whether it is already in the
 * index or seen in this run (probe->outcome). */
static void triage_row(state *s, const char *source, int64_t index, char *key, size_t key_len, item *probe)
{
    snprintf(key, key_len, "%s/%09lld", source, (long long)index);
    memset(probe, 0, sizeof *probe);
    probe->key = key;
    triage(s, probe);
}

static jf_status url_row(state *s, const char *path, const char *source, int64_t index, const char *url, yajl_val row,
                         jf_error *err)
{
    const jf_ingest_params *p = s->r.p;
    if (p->part_n > 1 && (uint64_t)index % p->part_n != p->part_k) {
        yajl_tree_free(row);
        return JF_OK;
    }
    char key[600];
    item probe;
    triage_row(s, source, index, key, sizeof key, &probe); /* present or seen: no download */
    if (probe.outcome != JF_OUT_OK || !url || !*url) {
        jf_status rc = JF_OK;
        item *it = new_item(s, err, &rc);
        if (!it) {
            yajl_tree_free(row);
            return rc;
        }
        it->manifest = 2;
        it->key = xstrdup(key);
        it->source = source;
        it->input = path;
        it->offset = index;
        it->rec = row;
        it->outcome = probe.outcome != JF_OUT_OK ? probe.outcome : JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "%s", probe.outcome != JF_OUT_OK ? probe.detail : "row has no URL");
        return JF_OK;
    }
    return queue_url(s, url, key, source, path, index, row, err);
}

/* ---- text inputs, plain or gzip-compressed (img2dataset reads .txt.gz, .csv.gz, .json.gz, …) ----
 * zlib's gzread passes uncompressed files through unchanged; a stdio FILE over it lets every
 * reader (CSV/TSV, JSON, JSON lines) take both. */

static ssize_t gz_cookie_read(void *c, char *buf, size_t n)
{
    int r = gzread((gzFile)c, buf, n > (1u << 30) ? (1u << 30) : (unsigned)n);
    return r < 0 ? -1 : r;
}

static int gz_cookie_close(void *c) { return gzclose_r((gzFile)c) == Z_OK ? 0 : EOF; }

static int is_url(const char *p);

/* http: the transfer settings when path may be an http(s) URL (streamed), NULL for local only. */
static FILE *open_text(const char *path, const jf_http_params *http)
{
    if (is_url(path))
        return http ? jf__http_open_file(path, http) : NULL;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    gzbuffer(g, 1 << 17);
    cookie_io_functions_t io = {gz_cookie_read, NULL, NULL, gz_cookie_close};
    FILE *f = fopencookie(g, "rb", io);
    if (!f)
        gzclose_r(g);
    return f;
}

/* ---- URL lists: CSV, TSV, plain ---- */

/* One CSV or TSV record (RFC 4180: quotes, doubled quotes, newlines inside quotes; LF or CRLF
 * line ends). Returns the number of fields, or -1 at the end of the file. Fields point into
 * *buf. */
int jf__csv_record(FILE *f, char sep, char **buf, size_t *cap, char ***fields, size_t *fcap)
{
    size_t n = 0;
    int nf = 0, c, quoted = 0, any = 0;
    size_t start = 0;
    size_t *starts = NULL;
    size_t scap = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF && !any) {
            free(starts);
            return -1;
        }
        any = 1;
        if (n + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = realloc(*buf, *cap);
        }
        if (quoted) {
            if (c == EOF)
                quoted = 0;
            else if (c == '"') {
                int d = fgetc(f);
                if (d == '"')
                    (*buf)[n++] = '"';
                else {
                    quoted = 0;
                    if (d != EOF)
                        ungetc(d, f);
                }
                continue;
            } else {
                (*buf)[n++] = (char)c;
                continue;
            }
        }
        if (c == '"' && n == start) { /* quoting applies to TSV as to CSV (pandas, pyarrow quote both) */
            quoted = 1;
            continue;
        }
        if (c == '\r') { /* CRLF line ends: the CR belongs to the line end, not to the field */
            int d = fgetc(f);
            if (d == '\n' || d == EOF)
                c = '\n';
            else
                ungetc(d, f);
        }
        if (c == sep || c == '\n' || c == EOF) {
            (*buf)[n++] = 0;
            if ((size_t)nf == scap) {
                scap = scap ? scap * 2 : 16;
                starts = realloc(starts, scap * sizeof *starts);
            }
            starts[nf++] = start;
            start = n;
            if (c != sep)
                break;
            continue;
        }
        if (c == '\n')
            continue;
        (*buf)[n++] = (char)c;
    }
    if ((size_t)nf > *fcap) {
        *fcap = (size_t)nf;
        *fields = realloc(*fields, *fcap * sizeof **fields);
    }
    for (int i = 0; i < nf; i++)
        (*fields)[i] = *buf + starts[i];
    free(starts);
    return nf;
}

/* An empty JSON-like object with room for n members (a row of a list or table); NULL when out
 * of memory. */
static yajl_val new_row(size_t n)
{
    yajl_val o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->type = yajl_t_object;
    o->u.object.keys = calloc(n ? n : 1, sizeof(char *));
    o->u.object.values = calloc(n ? n : 1, sizeof(yajl_val));
    if (!o->u.object.keys || !o->u.object.values) {
        yajl_tree_free(o);
        return NULL;
    }
    return o;
}

/* A JSON-like object of a row: numbers where the text is a number, else strings. */
static yajl_val row_object(char **names, char **values, int n)
{
    yajl_val o = new_row((size_t)n);
    if (!o)
        return NULL;
    for (int i = 0; i < n; i++) {
        yajl_val v = calloc(1, sizeof *v);
        if (!v || !o->u.object.keys || !o->u.object.values)
            break;
        char *end;
        double d = strtod(values[i], &end);
        if (*values[i] && *end == 0 && strcmp(values[i], "nan") && strcmp(values[i], "inf")) {
            v->type = yajl_t_number;
            v->u.number.r = xstrdup(values[i]);
            v->u.number.d = d;
            v->u.number.flags = YAJL_NUMBER_DOUBLE_VALID;
            long long ll = strtoll(values[i], &end, 10);
            if (*end == 0) {
                v->u.number.i = ll;
                v->u.number.flags |= YAJL_NUMBER_INT_VALID;
            }
        } else if (!*values[i]) {
            v->type = yajl_t_null;
        } else {
            v->type = yajl_t_string;
            v->u.string = xstrdup(values[i]);
        }
        o->u.object.keys[o->u.object.len] = xstrdup(names[i]);
        o->u.object.values[o->u.object.len++] = v;
    }
    return o;
}

static int url_column_named(char **names, int n, const char *wanted)
{
    if (wanted) {
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], wanted))
                return i;
        return -1;
    }
    static const char *const want[] = {"url", "URL", "image_url", "img_url", NULL};
    for (int k = 0; want[k]; k++)
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], want[k]))
                return i;
    return -1;
}


static int in_list(const char *list, const char *name);

/* --caption-col renames that column to "caption"; --keep-columns drops the others (the URL and
 * caption columns always stay). */
static void row_select(yajl_val row, const jf_ingest_params *p, const char *url_name)
{
    if (!row || !YAJL_IS_OBJECT(row))
        return;
    size_t out = 0;
    for (size_t i = 0; i < row->u.object.len; i++) {
        char *k = (char *)row->u.object.keys[i];
        int is_caption = p->caption_col && !strcmp(k, p->caption_col);
        if (p->keep_columns && !is_caption && strcmp(k, url_name) && !in_list(p->keep_columns, k)) {
            free(k);
            yajl_tree_free(row->u.object.values[i]);
            continue;
        }
        if (is_caption) {
            free(k);
            k = xstrdup("caption");
        }
        row->u.object.keys[out] = k;
        row->u.object.values[out++] = row->u.object.values[i];
    }
    row->u.object.len = out;
}

static jf_status ingest_url_list(state *s, const char *path, const char *source, char sep, int *incomplete, jf_error *err)
{
    FILE *f = open_text(path, &s->r.p->http);
    if (!f) {
        problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    jf_status rc = JF_OK;
    char *buf = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0, fcap = 0;
    int n_names = 0, ucol = 0;
    int64_t index = 0;
    if (sep) {
        int nf = jf__csv_record(f, sep, &buf, &cap, &fields, &fcap);
        if (nf > 0) {
            names = calloc((size_t)nf, sizeof *names);
            for (int i = 0; i < nf; i++)
                names[i] = xstrdup(fields[i]);
            n_names = nf;
        }
        ucol = url_column_named(names, n_names, s->r.p->url_col);
        if (ucol < 0) {
            if (s->r.p->url_col)
                problem(s, path, 0, "no column %s (--url-col) in the header", s->r.p->url_col);
            else
                problem(s, path, 0, "no url column (url, URL, image_url) in the header");
            *incomplete = 1;
            rc = JF_OK;
            goto out;
        }
    }
    for (;;) {
        int nf;
        if (sep) {
            nf = jf__csv_record(f, sep, &buf, &cap, &fields, &fcap);
        } else {
            ssize_t len = getline(&buf, &cap, f);
            nf = len < 0 ? -1 : 1;
            if (nf == 1) {
                buf[strcspn(buf, "\r\n")] = 0;
                if (fcap < 1) {
                    fcap = 1;
                    fields = realloc(fields, sizeof *fields);
                }
                fields[0] = buf;
            }
        }
        if (nf < 0)
            break;
        if (nf == 1 && !fields[0][0])
            continue; /* blank line */
        yajl_val row = NULL;
        const char *url = fields[0];
        if (!sep) { /* a plain list: the URL is the row's one column, as in CSV/TSV/JSONL */
            char *one_name = "url";
            row = row_object(&one_name, fields, 1);
        }
        if (sep) {
            row = row_object(names, fields, nf < n_names ? nf : n_names);
            url = ucol < nf ? fields[ucol] : NULL;
            row_select(row, s->r.p, names[ucol]);
        }
        if ((rc = url_row(s, path, source, index++, url, row, err)) != JF_OK)
            break;
    }
out:
    if (rc == JF_OK)
        rc = drain_downloads(s, err);
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    free(fields);
    free(buf);
    fclose(f);
    return rc;
}

/* ---- parquet: LAION / COYO / DataComp metadata (URLs) and Hugging Face datasets (embedded
 * image bytes) ---- */

/* A row of the chosen scalar columns as a JSON-like object. */
static yajl_val parquet_row(jf_parquet *pq, const int *cols, const jf_pq_values *vals, int nc, size_t r)
{
    yajl_val o = new_row((size_t)nc);
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
            x->u.number.r = xstrdup(num);
        } else {
            size_t len = (size_t)(v->offsets[r + 1] - v->offsets[r]);
            x->type = yajl_t_string;
            x->u.string = malloc(len + 1);
            if (x->u.string) {
                memcpy(x->u.string, v->bytes + v->offsets[r], len);
                x->u.string[len] = 0;
            }
        }
        o->u.object.keys[o->u.object.len] = xstrdup(c->path);
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

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && !strncmp(p, name, n))
            return 1;
        p += l;
        p += *p == ',';
    }
    return 0;
}

static jf_status ingest_parquet(state *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    const jf_ingest_params *p = s->r.p;
    jf_error pe = {0};
    jf_parquet *pq = NULL;
    remote_pq rp = {path, &p->http};
    jf_status opened;
    if (is_url(path)) {
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
        problem(s, path, -1, "input not read: %s", pe.msg);
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
    if (ucol >= 0 && jf_parquet_column(pq, ucol)->kind != JF_PQK_STRING &&
        jf_parquet_column(pq, ucol)->kind != JF_PQK_BYTES) {
        problem(s, path, -1, "input not read: column %s is not text, it cannot hold URLs", jf_parquet_column(pq, ucol)->path);
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    if (ucol < 0 && icol < 0) {
        if (p->url_col)
            problem(s, path, -1, "input not read: no column %s (--url-col)", p->url_col);
        else
            problem(s, path, -1, "input not read: no url column (url, URL, image_url, img_url) and no image bytes "
                                 "column (image.bytes, image, jpg, png, bytes)");
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    if (p->caption_col && jf_parquet_find_column(pq, p->caption_col) < 0) {
        problem(s, path, -1, "input not read: no column %s (--caption-col)", p->caption_col);
        *incomplete = 1;
        jf_parquet_close(pq);
        return JF_OK;
    }
    /* the columns read: the URL (or image) and caption, then every scalar column, or only
     * those of --keep-columns; byte columns other than text are images, not metadata */
    int *cols = malloc((size_t)(n ? n : 1) * sizeof *cols), nc = 0;
    jf_pq_values *vals = calloc((size_t)(n ? n : 1) + 1, sizeof *vals);
    if (!cols || !vals) {
        free(cols);
        free(vals);
        jf_parquet_close(pq);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (int c = 0; c < n; c++) {
        const jf_pq_column *col = jf_parquet_column(pq, c);
        if (c == icol || col->max_rep > 0 || col->kind == JF_PQK_BYTES || col->kind == JF_PQK_OTHER)
            continue;
        int wanted = c == ucol || (p->caption_col && !strcmp(col->path, p->caption_col)) || !p->keep_columns ||
                     in_list(p->keep_columns, col->path);
        if (wanted)
            cols[nc++] = c;
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
        for (int k = 0; k <= nc && !bad; k++) {
            int c = k < nc ? cols[k] : icol;
            if (c < 0)
                continue;
            if (jf_parquet_read_column(pq, rg, c, &vals[k], &pe)) {
                problem(s, path, -1, "row group %d not read: %s", rg, pe.msg);
                bad = 1;
            }
        }
        if (bad) {
            *incomplete = 1;
            for (int k = 0; k <= nc; k++)
                jf_pq_values_free(&vals[k]);
            index += (int64_t)rows;
            continue;
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
            row_select(row, p, ucol >= 0 ? jf_parquet_column(pq, ucol)->path : "");
            if (icol >= 0) {
                /* the image is in the file: an item as a download would make it */
                char key[600];
                item probe;
                triage_row(s, source, index, key, sizeof key, &probe);
                item *it = new_item(s, err, &rc);
                if (!it) {
                    yajl_tree_free(row);
                    break;
                }
                it->manifest = 2;
                it->key = xstrdup(key);
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
                } else if (!(it->m = calloc(1, sizeof *it->m)) || !(it->m[0].data = malloc(len))) {
                    rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                } else {
                    memcpy(it->m[0].data, iv->bytes + iv->offsets[r], len);
                    it->m[0].size = len;
                    const char *fmt = jf_image_format_of(it->m[0].data, len);
                    it->m[0].ext = xstrdup(ext_for_format(fmt ? fmt : "jpeg"));
                    it->n_m = 1;
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
                rc = url_row(s, path, source, index, url, row, err);
                free(url);
            }
        }
        for (int k = 0; k <= nc; k++)
            jf_pq_values_free(&vals[k]);
    }
    if (rc == JF_OK)
        rc = drain_downloads(s, err);
    free(cols);
    free(vals);
    jf_parquet_close(pq);
    return rc;
}

static int is_pandas_columns(yajl_val v);

/* pandas' to_json (orient "columns"): rows rebuilt from the columns by row index. */
static jf_status ingest_pandas_json(state *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    FILE *f = open_text(path, NULL);
    char *text = NULL;
    size_t len = 0, cap = 0;
    while (f) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *q = cap <= ((size_t)4 << 30) ? realloc(text, cap) : NULL;
            if (!q) {
                free(text);
                fclose(f);
                problem(s, path, -1, "input not read: larger than 4 GiB or out of memory");
                *incomplete = 1;
                return JF_OK;
            }
            text = q;
        }
        size_t got = fread(text + len, 1, 65536, f);
        len += got;
        if (!got)
            break;
    }
    if (!f || !text) {
        if (f)
            fclose(f);
        free(text);
        problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    fclose(f);
    text[len] = 0;
    char ebuf[256];
    yajl_val doc = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!doc || !is_pandas_columns(doc)) {
        problem(s, path, -1, "input not read: not pandas' column-oriented JSON%s%s", doc ? "" : ": ", doc ? "" : ebuf);
        yajl_tree_free(doc);
        *incomplete = 1;
        return JF_OK;
    }
    const char *url_name = NULL;
    yajl_val urls = NULL;
    for (size_t i = 0; i < doc->u.object.len && !urls; i++) {
        const char *k = doc->u.object.keys[i];
        if (s->r.p->url_col ? !strcmp(k, s->r.p->url_col)
                            : !strcmp(k, "url") || !strcmp(k, "URL") || !strcmp(k, "image_url") || !strcmp(k, "img_url")) {
            urls = doc->u.object.values[i];
            url_name = k;
        }
    }
    jf_status rc = JF_OK;
    if (!urls) {
        problem(s, path, -1, "input not read: no column %s", s->r.p->url_col ? s->r.p->url_col : "url");
        *incomplete = 1;
    }
    /* rows in the order of the url column's index */
    for (size_t r = 0; urls && rc == JF_OK && r < urls->u.object.len; r++) {
        const char *idx = urls->u.object.keys[r];
        yajl_val row = new_row(doc->u.object.len);
        if (!row) {
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        for (size_t c = 0; c < doc->u.object.len; c++) {
            yajl_val col = doc->u.object.values[c];
            const char *path1[] = {idx, NULL};
            yajl_val cell = yajl_tree_get(col, path1, yajl_t_any);
            if (!cell)
                continue;
            /* move the cell into the row (the document is freed after) */
            for (size_t q = 0; q < col->u.object.len; q++)
                if (col->u.object.values[q] == cell)
                    col->u.object.values[q] = NULL;
            row->u.object.keys[row->u.object.len] = xstrdup(doc->u.object.keys[c]);
            row->u.object.values[row->u.object.len++] = cell;
        }
        row_select(row, s->r.p, url_name);
        const char *urlk[] = {url_name, NULL};
        yajl_val u = yajl_tree_get(row, urlk, yajl_t_string);
        char *url = u ? xstrdup(YAJL_GET_STRING(u)) : NULL;
        char *end;
        long long index = strtoll(idx, &end, 10);
        rc = url_row(s, path, source, *end ? (int64_t)r : (int64_t)index, url, row, err);
        free(url);
    }
    yajl_tree_free(doc);
    if (rc == JF_OK)
        rc = drain_downloads(s, err);
    return rc;
}

static jf_status manifest_item(state *s, const char *path, const char *dir, const char *source, int64_t index,
                               yajl_val rec, jf_error *err)
{
    const jf_ingest_params *p = s->r.p;
    /* A record with a URL and no local image or conversation is a download (LAION-style JSONL). */
    if (YAJL_IS_OBJECT(rec)) {
        const char *url = obj_str(rec, (const char *const[]){"url", "URL", "image_url", NULL});
        const char *local = obj_str(rec, (const char *const[]){"image", "file_name", "filepath", "image_path", "path", NULL});
        const char *cp[] = {"conversations", NULL};
        if (url && !local && !yajl_tree_get(rec, cp, yajl_t_array) && is_url(url)) {
            char u[4096];
            snprintf(u, sizeof u, "%s", url);
            return url_row(s, path, source, index, u, rec, err);
        }
    }
    if (p->part_n > 1 && (uint64_t)index % p->part_n != p->part_k) {
        yajl_tree_free(rec);
        return JF_OK;
    }
    jf_status rc = JF_OK;
    item *it = new_item(s, err, &rc);
    if (!it) {
        yajl_tree_free(rec);
        return rc;
    }
    char key[600];
    snprintf(key, sizeof key, "%s/%08lld", source, (long long)index);
    it->manifest = 1;
    /* decided in url_row instead when the record is a URL to download */
    it->key = xstrdup(key);
    it->source = source;
    it->input = path;
    it->manifest_dir = dir;
    it->offset = index;
    it->rec = rec;
    if (!it->key)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    triage(s, it);
    return JF_OK;
}

static jf_status ingest_manifest(state *s, const char *path, const char *source, int jsonl, int *incomplete, jf_error *err)
{
    FILE *f = open_text(path, &s->r.p->http);
    if (!f) {
        problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    char *tmp = xstrdup(path);
    char *dir = xstrdup(dirname(tmp));
    free(tmp);
    jf_status rc = JF_OK;
    int64_t index = 0;
    char ebuf[600];
    if (jsonl) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t lineno = 0;
        while (rc == JF_OK && (n = getline(&line, &cap, f)) >= 0) {
            lineno++;
            size_t k = strspn(line, " \t\r\n");
            if (line[k] == 0)
                continue;
            yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
            if (!v) {
                /* a broken line is one bad record; the rest of the file goes on */
                if (!(s->r.p->part_n > 1 && (uint64_t)index % s->r.p->part_n != s->r.p->part_k)) {
                    item *it = new_item(s, err, &rc);
                    if (it) {
                        char key[600];
                        snprintf(key, sizeof key, "%s/%08lld", source, (long long)index);
                        it->key = xstrdup(key);
                        it->source = source;
                        it->input = path;
                        it->offset = index;
                        it->manifest = 1;
                        it->outcome = JF_OUT_BAD_RECORD;
                        char *nl = strchr(ebuf, '\n');
                        if (nl)
                            *nl = 0;
                        snprintf(it->detail, sizeof it->detail, "line %lld is not JSON: %.300s", (long long)lineno, ebuf);
                    }
                }
                index++;
                continue;
            }
            rc = manifest_item(s, path, dir, source, index++, v, err);
        }
        free(line);
    } else {
        jf__jsonstream *js = jf__jsonstream_create();
        uint8_t *buf = malloc(1 << 20);
        uint64_t off = 0;
        if (!js || !buf)
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
        while (rc == JF_OK) {
            size_t got = fread(buf, 1, 1 << 20, f);
            int bad = jf__jsonstream_feed(js, buf, got, off, ebuf, sizeof ebuf);
            off += got;
            yajl_val v;
            while (rc == JF_OK && (v = jf__jsonstream_take(js)))
                rc = manifest_item(s, path, dir, source, index++, v, err);
            if (bad) {
                /* The records before the damage are kept; what follows cannot be located. */
                problem(s, path, jf__jsonstream_error_offset(js), "%s; %lld records before it were read", ebuf,
                        (long long)index);
                *incomplete = 1;
                break;
            }
            if (got == 0)
                break;
        }
        free(buf);
        jf__jsonstream_destroy(js);
    }
    fclose(f);
    free(dir);
    if (rc == JF_OK)
        rc = drain_downloads(s, err);
    return rc;
}

/* ---- inputs ---- */

typedef enum input_kind { IN_MISSING, IN_TAR, IN_JSON, IN_JSONL, IN_CSV, IN_TSV, IN_URLS, IN_PARQUET, IN_PANDAS, IN_SIDEFILE,
                          IN_UNKNOWN } input_kind;

/* pandas' DataFrame.to_json() (orient "columns"): an object of columns, each an object from the
 * row index ("0", "1", …) to the value, with a url column among them. */
static int is_pandas_columns(yajl_val v)
{
    if (!YAJL_IS_OBJECT(v) || !v->u.object.len)
        return 0;
    int has_url = 0;
    for (size_t i = 0; i < v->u.object.len; i++) {
        yajl_val c = v->u.object.values[i];
        if (!YAJL_IS_OBJECT(c))
            return 0;
        if (c->u.object.len && strspn(c->u.object.keys[0], "0123456789") != strlen(c->u.object.keys[0]))
            return 0;
        const char *k = v->u.object.keys[i];
        has_url |= !strcmp(k, "url") || !strcmp(k, "URL") || !strcmp(k, "image_url") || !strcmp(k, "img_url");
    }
    return has_url;
}

/* img2dataset writes NNNNN_stats.json and NNNNN.parquet beside each tar NNNNN.tar: not samples.
 * A parquet file without such a tar beside it is an input (LAION/DataComp metadata). */
static int is_side_file(const char *path, const uint8_t *h, size_t got)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t digits = strspn(base, "0123456789");
    if (digits && !strcmp(base + digits, "_stats.json"))
        return 1;
    if (got >= 4 && !memcmp(h, "PAR1", 4) && digits && !strcmp(base + digits, ".parquet")) {
        char tar[4200];
        snprintf(tar, sizeof tar, "%.*s.tar", (int)(strlen(path) - strlen(".parquet")), path);
        return access(tar, F_OK) == 0;
    }
    return 0;
}

static input_kind sniff(const char *path, const char *url_col, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, n, "cannot open: %s", strerror(errno));
        return IN_MISSING;
    }
    uint8_t h[512];
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got == 0) {
        snprintf(why, n, "empty file");
        return IN_UNKNOWN;
    }
    if (is_side_file(path, h, got))
        return IN_SIDEFILE;
    if (got >= 4 && !memcmp(h, "PAR1", 4))
        return IN_PARQUET;
    if (got >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
        /* gzip: a compressed tar, or a compressed list or manifest — look inside */
        FILE *g = open_text(path, NULL);
        size_t dg = g ? fread(h, 1, sizeof h, g) : 0;
        if (g)
            fclose(g);
        if (dg >= 262 && !memcmp(h + 257, "ustar", 5))
            return IN_TAR;
        if (dg == 0) {
            snprintf(why, n, "a gzip stream that does not decompress");
            return IN_UNKNOWN;
        }
        got = dg; /* sniff the decompressed text below */
    } else if ((got >= 4 && !memcmp(h, "\x28\xb5\x2f\xfd", 4)) || (got >= 4 && !memcmp(h, "\x28\xb5\x2f\xfd", 4)) ||
               (got >= 6 && !memcmp(h, "\xfd" "7zXZ\0", 6)) || (got >= 3 && !memcmp(h, "BZh", 3)) ||
               (got >= 262 && !memcmp(h + 257, "ustar", 5))) {
        return IN_TAR;
    }
    size_t k = 0;
    if (got >= 3 && !memcmp(h, "\xEF\xBB\xBF", 3))
        k = 3; /* byte-order mark */
    while (k < got && (h[k] == ' ' || h[k] == '\n' || h[k] == '\r' || h[k] == '\t'))
        k++;
    if (k < got && h[k] == '[')
        return IN_JSON;
    if (k < got && h[k] == '{') {
        /* JSON lines, unless the first line does not close the object (a pretty-printed document);
         * a one-line object of columns {"url": {"0": …}, …} is pandas' to_json (img2dataset's
         * json input format) */
        f = open_text(path, NULL);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len = f ? getline(&line, &cap, f) : -1;
        char ebuf[64];
        yajl_val v = len > 0 ? yajl_tree_parse(line, ebuf, sizeof ebuf) : NULL;
        input_kind kind = v ? IN_JSONL : IN_JSON;
        if (v && is_pandas_columns(v)) {
            char extra;
            kind = f && fread(&extra, 1, 1, f) == 1 && extra != '\n' ? IN_JSONL : IN_PANDAS;
        }
        yajl_tree_free(v);
        free(line);
        if (f)
            fclose(f);
        return kind;
    }
    /* URL lists: a plain list of URLs, or CSV/TSV with a url column in the header */
    char line[512];
    size_t ll = got - k < sizeof line - 1 ? got - k : sizeof line - 1;
    memcpy(line, h + k, ll);
    line[ll] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (!strncmp(line, "http://", 7) || !strncmp(line, "https://", 8))
        return IN_URLS;
    char *names[64];
    int nn = 0;
    for (int tsv = 1; tsv >= 0; tsv--) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", line);
        nn = 0;
        for (char *save = NULL, *t = strtok_r(copy, tsv ? "\t" : ",", &save); t && nn < 64; t = strtok_r(NULL, tsv ? "\t" : ",", &save)) {
            if (*t == '"')
                t++;
            size_t tl = strlen(t);
            if (tl && t[tl - 1] == '"')
                t[tl - 1] = 0;
            names[nn++] = t;
        }
        if (nn > 1 && url_column_named(names, nn, url_col) >= 0)
            return tsv ? IN_TSV : IN_CSV;
    }
    snprintf(why, n, "not a tar, JSON, JSON-lines, CSV/TSV with a url column, or URL list");
    return IN_UNKNOWN;
}

/* The kind of a remote input from its URL's path: .csv/.tsv/.txt/.jsonl/.json (each also .gz)
 * are lists and manifests; .parquet is named so; anything else is read as a tar. */
static input_kind remote_kind(const char *url)
{
    char path[2048];
    snprintf(path, sizeof path, "%s", url);
    path[strcspn(path, "?#")] = 0;
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".gz")) {
        path[n - 3] = 0;
        n -= 3;
    }
    static const struct {
        const char *ext;
        input_kind kind;
    } m[] = {{".csv", IN_CSV}, {".tsv", IN_TSV}, {".txt", IN_URLS}, {".jsonl", IN_JSONL}, {".json", IN_JSON}, {".parquet", IN_PARQUET}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t l = strlen(m[i].ext);
        if (n > l && !strcasecmp(path + n - l, m[i].ext))
            return m[i].kind;
    }
    return IN_TAR;
}

/* Default source name: the folder of a tar (laion/00003.tar → "laion"), else the file stem. */
static void default_source(const char *path, input_kind kind, char *out, size_t n)
{
    char *tmp = xstrdup(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strchr(stem, '.');
    if (dot && dot != stem)
        *dot = 0;
    const char *parent = NULL;
    if (kind == IN_TAR && tmp) {
        char *d = dirname(tmp);
        const char *pb = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
        if (strcmp(pb, ".") && strcmp(pb, "/") && *pb)
            parent = pb;
    }
    snprintf(out, n, "%.120s", parent ? parent : stem);
    free(tmp);
}

typedef struct input {
    char *path;
    input_kind kind;
    char source[128];
    int64_t size, mtime;
    int incomplete;        /* could not be read to its end: not marked done, read again next run */
} input;

typedef struct input_list {
    input *v;
    size_t n, cap;
} input_list;

static void add_input(void *user, const char *path)
{
    input_list *l = user;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path))
            return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        input *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[l->n]);
    l->v[l->n++].path = xstrdup(path);
}

static const char *const INGEST_SCHEMA =
    "CREATE TABLE IF NOT EXISTS ingest_runs(id INTEGER PRIMARY KEY, started_at REAL, finished_at REAL,"
    "  host TEXT, part TEXT, inputs INTEGER, stats TEXT);"
    "CREATE TABLE IF NOT EXISTS ingest_inputs(path TEXT NOT NULL, part TEXT NOT NULL, source TEXT NOT NULL, size INTEGER,"
    "  mtime INTEGER, samples INTEGER, run_id INTEGER, finished_at REAL, PRIMARY KEY(path, part, source));"
    "CREATE TABLE IF NOT EXISTS ingest_failures(source TEXT NOT NULL, key TEXT NOT NULL, run_id INTEGER, input TEXT,"
    "  offset INTEGER, outcome TEXT, detail TEXT, PRIMARY KEY(source, key));"
    "CREATE INDEX IF NOT EXISTS ingest_failures_outcome ON ingest_failures(outcome);"
    "CREATE INDEX IF NOT EXISTS ingest_failures_input ON ingest_failures(input, outcome);";

/* Outcomes that depend on more than the input's own bytes (the network, the image roots): an
 * input with such failures is read again by the next run, which retries exactly those samples
 * (samples already stored are skipped by key). */
#define RETRYABLE_OUTCOMES "('http_error','timeout','network_error','missing_image','truncated')"

static void stats_json(const jf_ingest_stats *st, sbuf *b)
{
    sb_printf(b, "{\"side_files\":%llu,", (unsigned long long)st->side_files);
    sb_printf(b, "\"inputs\":%llu,\"inputs_skipped\":%llu,\"inputs_other_part\":%llu,\"inputs_failed\":%llu,"
              "\"inputs_incomplete\":%llu,\"seen\":%llu,\"outcomes\":{",
              (unsigned long long)st->inputs, (unsigned long long)st->inputs_skipped,
              (unsigned long long)st->inputs_other_part, (unsigned long long)st->inputs_failed,
              (unsigned long long)st->inputs_incomplete, (unsigned long long)st->seen);
    int first = 1;
    for (int o = 0; o < JF_OUT_COUNT_; o++)
        if (st->outcome[o]) {
            sb_printf(b, "%s\"%s\":%llu", first ? "" : ",", jf_outcome_name((jf_outcome)o), (unsigned long long)st->outcome[o]);
            first = 0;
        }
    sb_puts(b, "},\"notes\":{");
    first = 1;
    for (int n = 0; n < JF_NOTE_COUNT_; n++)
        if (st->note[n]) {
            sb_printf(b, "%s\"%s\":%llu", first ? "" : ",", jf_note_name((jf_note)n), (unsigned long long)st->note[n]);
            first = 0;
        }
    sb_puts(b, "},\"missing_by_prefix\":{");
    for (size_t i = 0; i < st->n_missing_prefixes; i++) {
        if (i)
            sb_puts(b, ",");
        sb_json_str(b, st->missing_by_prefix[i].prefix);
        sb_printf(b, ":%llu", (unsigned long long)st->missing_by_prefix[i].count);
    }
    sb_printf(b, "},\"http_4xx\":%llu,\"http_404\":%llu,\"http_5xx\":%llu,\"downloaded_bytes\":%llu",
              (unsigned long long)st->http_status[4], (unsigned long long)st->http_404,
              (unsigned long long)st->http_status[5], (unsigned long long)st->downloaded_bytes);
    sb_printf(b, ",\"records_written\":%llu,\"image_bytes\":%llu,\"seconds\":%.3f}",
              (unsigned long long)st->records_written, (unsigned long long)st->image_bytes, st->seconds);
}

jf_status jf_ingest_run(jf_store *store, const char *const *inputs, size_t n_inputs, const jf_ingest_params *params,
                        jf_ingest_stats *stats_out, jf_error *err)
{
    jf_ingest_params p = params ? *params : jf_ingest_default_params();
    if (p.batch == 0)
        p.batch = 256;
    if (p.part_n > 1 && p.part_k >= p.part_n)
        return jf_error_set(err, JF_EARG, "part %u/%u: K must be below N", p.part_k, p.part_n);
    jf_ingest_stats stats;
    memset(&stats, 0, sizeof stats);
    state s;
    memset(&s, 0, sizeof s);
    s.r.st = store;
    s.r.p = &p;
    s.r.roots = p.image_roots;
    s.r.n_roots = p.n_image_roots;
    s.stats = &stats;
    s.db = jf_store_db(store);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    jf_status rc = JF_OK;
    char part[32];
    snprintf(part, sizeof part, "%u/%u", p.part_n > 1 ? p.part_k : 0, p.part_n > 1 ? p.part_n : 1);

    input_list in = {0};
    for (size_t i = 0; i < n_inputs && rc == JF_OK; i++)
        rc = jf_expand_pattern(inputs[i], add_input, &in, err);
    if (rc == JF_OK && p.captions)
        rc = load_captions(&s.r.captions, p.captions, err);
    /* image roots that are files are plain tars, indexed once by member name */
    if (rc == JF_OK && p.n_image_roots) {
        s.r.root_tars = calloc(p.n_image_roots, sizeof *s.r.root_tars);
        for (size_t i = 0; s.r.root_tars && i < p.n_image_roots && rc == JF_OK; i++) {
            struct stat rsb;
            if (stat(p.image_roots[i], &rsb) != 0)
                rc = jf_error_set(err, JF_ENOTFOUND, "image root %s: %s", p.image_roots[i], strerror(errno));
            else if (S_ISREG(rsb.st_mode)) {
                char why[600];
                s.r.root_tars[i] = jf__tarindex_open(p.image_roots[i], why, sizeof why);
                if (!s.r.root_tars[i])
                    rc = jf_error_set(err, JF_EFORMAT, "image root %s", why);
            }
        }
    }
    if (rc == JF_OK && sqlite3_exec(s.db, INGEST_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        rc = jf_error_set(err, JF_EDB, "creating ingest tables: %s", sqlite3_errmsg(s.db));
    if (rc == JF_OK && (sqlite3_prepare_v2(s.db, "SELECT 1 FROM samples WHERE key=? LIMIT 1", -1, &s.exists, NULL) != SQLITE_OK ||
                        sqlite3_prepare_v2(s.db,
                                           "INSERT OR REPLACE INTO ingest_failures(run_id,source,input,key,offset,outcome,detail) "
                                           "VALUES(?,?,?,?,?,?,?)",
                                           -1, &s.fail, NULL) != SQLITE_OK))
        rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
    if (rc == JF_OK) {
        char host[64] = "?";
        gethostname(host, sizeof host - 1);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(s.db, "INSERT INTO ingest_runs(started_at, host, part, inputs) VALUES(unixepoch('subsec'), ?, ?, ?)", -1, &q, NULL);
        if (!q)
            sqlite3_prepare_v2(s.db, "INSERT INTO ingest_runs(started_at, host, part, inputs) VALUES(strftime('%s','now'), ?, ?, ?)", -1, &q, NULL);
        sqlite3_bind_text(q, 1, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, part, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)in.n);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = jf_error_set(err, JF_EDB, "recording the run: %s", sqlite3_errmsg(s.db));
        sqlite3_finalize(q);
        s.run_id = sqlite3_last_insert_rowid(s.db);
        stats.run_id = s.run_id;
    }
    /* Classify inputs; split tars between parts by position, manifests by record. */
    size_t tar_index = 0;
    for (size_t i = 0; i < in.n && rc == JF_OK; i++) {
        char why[256] = "";
        if (is_url(in.v[i].path)) {
            /* remote inputs are streamed: lists and manifests by their extension (with or without
             * .gz), everything else as tars */
            in.v[i].kind = remote_kind(in.v[i].path);
            in.v[i].size = in.v[i].mtime = -1;
        } else {
            in.v[i].kind = sniff(in.v[i].path, p.url_col, why, sizeof why);
        }
        if (in.v[i].kind == IN_MISSING || in.v[i].kind == IN_UNKNOWN) {
            problem(&s, in.v[i].path, -1, "input not read: %s", why);
            stats.inputs_failed++;
            continue;
        }
        if (in.v[i].kind == IN_SIDEFILE) {
            stats.side_files++;
            continue;
        }
        if (in.v[i].kind == IN_TAR && p.part_n > 1 && tar_index++ % p.part_n != p.part_k) {
            in.v[i].kind = IN_MISSING;
            stats.inputs_other_part++;
            continue;
        }
        if (p.source)
            snprintf(in.v[i].source, sizeof in.v[i].source, "%s", p.source);
        else
            default_source(in.v[i].path, in.v[i].kind, in.v[i].source, sizeof in.v[i].source);
        struct stat sb;
        if (!is_url(in.v[i].path) && stat(in.v[i].path, &sb) == 0) {
            in.v[i].size = sb.st_size;
            in.v[i].mtime = sb.st_mtime;
        }
    }
    int threads = p.threads > 0 ? p.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    s.threads = threads < 1 ? 1 : threads;
    if (rc == JF_OK && s.threads > 1 && pool_start(&s.pl, &s.r, s.threads) != 0)
        s.threads = 1;
    if (rc == JF_OK)
        rc = jf_writer_create(store, &p.writer, &s.w, err);
    sqlite3_stmt *done_q = NULL;
    if (rc == JF_OK &&
        sqlite3_prepare_v2(s.db,
                           "SELECT 1 FROM ingest_inputs i WHERE path=?1 AND part=?2 AND size=?3 AND mtime=?4 AND source=?5 "
                           "AND NOT EXISTS (SELECT 1 FROM ingest_failures f WHERE f.input=?1 AND f.outcome IN " RETRYABLE_OUTCOMES ")",
                           -1, &done_q, NULL) != SQLITE_OK)
        rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
    /* failures of earlier runs: a sample stored now removes its row */
    if (rc == JF_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(s.db, "SELECT EXISTS (SELECT 1 FROM ingest_failures)", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) &&
            sqlite3_prepare_v2(s.db, "DELETE FROM ingest_failures WHERE source=? AND key=?", -1, &s.unfail, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
        sqlite3_finalize(q);
    }
    for (size_t i = 0; i < in.n && rc == JF_OK; i++) {
        input *x = &in.v[i];
        if (x->kind == IN_MISSING || x->kind == IN_UNKNOWN || x->kind == IN_SIDEFILE)
            continue;
        sqlite3_reset(done_q);
        sqlite3_bind_text(done_q, 1, x->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(done_q, 2, part, -1, SQLITE_STATIC);
        sqlite3_bind_int64(done_q, 3, x->size);
        sqlite3_bind_int64(done_q, 4, x->mtime);
        sqlite3_bind_text(done_q, 5, x->source, -1, SQLITE_STATIC);
        if (sqlite3_step(done_q) == SQLITE_ROW) {
            stats.inputs_skipped++;
            continue;
        }
        stats.inputs++;
        if (x->kind == IN_TAR)
            rc = ingest_tar(&s, x->path, x->source, &x->incomplete, err);
        else if (x->kind == IN_PARQUET)
            rc = ingest_parquet(&s, x->path, x->source, &x->incomplete, err);
        else if (x->kind == IN_PANDAS)
            rc = ingest_pandas_json(&s, x->path, x->source, &x->incomplete, err);
        else if (x->kind == IN_CSV || x->kind == IN_TSV || x->kind == IN_URLS)
            rc = ingest_url_list(&s, x->path, x->source, x->kind == IN_CSV ? ',' : x->kind == IN_TSV ? '\t' : 0,
                                 &x->incomplete, err);
        else
            rc = ingest_manifest(&s, x->path, x->source, x->kind == IN_JSONL, &x->incomplete, err);
        stats.inputs_incomplete += (uint64_t)x->incomplete;
    }
    sqlite3_finalize(done_q);
    if (rc == JF_OK)
        rc = flush_batch(&s, 1, err);
    else if (s.threads > 1 && s.b[!s.cur].n)
        pool_wait(&s.pl); /* let the workers finish before the batches are freed */
    if (s.threads > 1)
        pool_stop(&s.pl);
    if (s.w) {
        if (rc == JF_OK)
            rc = jf_writer_close(s.w, err);
        else
            jf_writer_close(s.w, NULL); /* what was complete is kept */
    }
    /* Inputs are marked done only once every record of theirs is in a finalized shard. */
    if (rc == JF_OK) {
        sqlite3_stmt *q;
        sqlite3_exec(s.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_prepare_v2(s.db,
                           "INSERT OR REPLACE INTO ingest_inputs(path,part,source,size,mtime,run_id,finished_at) "
                           "VALUES(?,?,?,?,?,?,strftime('%s','now'))",
                           -1, &q, NULL);
        for (size_t i = 0; i < in.n; i++) {
            input *x = &in.v[i];
            if (x->kind == IN_MISSING || x->kind == IN_UNKNOWN || x->kind == IN_SIDEFILE || x->incomplete)
                continue;
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, x->path, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, part, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, x->source, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 4, x->size);
            sqlite3_bind_int64(q, 5, x->mtime);
            sqlite3_bind_int64(q, 6, s.run_id);
            sqlite3_step(q);
        }
        sqlite3_finalize(q);
        if (sqlite3_exec(s.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording finished inputs: %s", sqlite3_errmsg(s.db));
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats.seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (s.run_id) {
        sbuf js = {0};
        stats_json(&stats, &js);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(s.db, "UPDATE ingest_runs SET finished_at=strftime('%s','now'), stats=? WHERE id=?", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, js.p ? js.p : "{}", -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, s.run_id);
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
        free(js.p);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < s.b[k].n; i++)
            item_clear(&s.b[k].v[i]);
        free(s.b[k].v);
    }
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i].path);
    free(in.v);
    free(s.keys.v);
    jf__downloader_destroy(s.dl);
    for (size_t i = 0; s.r.root_tars && i < p.n_image_roots; i++)
        jf__tarindex_close(s.r.root_tars[i]);
    free(s.r.root_tars);
    cap_free(&s.r.captions);
    sqlite3_finalize(s.exists);
    sqlite3_finalize(s.fail);
    sqlite3_finalize(s.unfail);
    if (stats_out)
        *stats_out = stats;
    return rc;
}
