/* Helpers shared by the run and its sources: strings, JSON-like rows, text inputs, and the
 * checks every sample's images and captions go through. */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <zlib.h>

/* ---- small helpers ---- */

char *jf__xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int jf__utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80 && u[i]) {
            i++;
            continue;
        }
        size_t len = jf_utf8_seq_len(u, n, i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

/* Valid UTF-8 copy of (s, n): invalid bytes become U+FFFD. *repaired is set when any was. */
char *jf__utf8_repair(const char *s, size_t n, int *repaired)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = jf_utf8_seq_len(u, n, i);
        if (len) {
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

void jf__sb_put(jf__sbuf *b, const char *s, size_t n)
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
void jf__sb_puts(jf__sbuf *b, const char *s) { jf__sb_put(b, s, strlen(s)); }
void jf__sb_printf(jf__sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        jf__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
void jf__sb_json_str(jf__sbuf *b, const char *s)
{
    jf__sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            jf__sb_put(b, e, 2);
        } else if (*p == '\n')
            jf__sb_put(b, "\\n", 2);
        else if (*p == '\t')
            jf__sb_put(b, "\\t", 2);
        else if (*p == '\r')
            jf__sb_put(b, "\\r", 2);
        else if (*p < 0x20)
            jf__sb_printf(b, "\\u%04x", *p);
        else
            jf__sb_put(b, (const char *)p, 1);
    }
    jf__sb_put(b, "\"", 1);
}

const char *jf__obj_str(yajl_val o, const char *const *names)
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

void jf__item_clear(jf__item *it)
{
    free(it->key);
    free(it->orig);
    free(it->manifest_dir);
    for (size_t i = 0; i < it->n_m; i++) {
        free(it->m[i].ext);
        free(it->m[i].data);
    }
    free(it->m);
    yajl_tree_free(it->rec);
    jf_record_destroy(it->out);
    memset(it, 0, sizeof *it);
}

static jf_outcome image_outcome(jf_image_status s)
{
    switch (s) {
    case JF_IMAGE_EMPTY: return JF_OUT_EMPTY_FILE;
    case JF_IMAGE_UNSUPPORTED: return JF_OUT_UNSUPPORTED_FORMAT;
    case JF_IMAGE_TOO_LARGE: return JF_OUT_TOO_LARGE;
    default: return JF_OUT_DECODE_ERROR;
    }
}

const char *jf__ext_for_format(const char *fmt)
{
    return !strcmp(fmt, "jpeg") ? "jpg" : fmt;
}

/* Checks an image and its size rules; on success adds it as a field and its columns. */
int jf__add_image(const jf__ctx *r, jf__item *it, const char *field, const uint8_t *data, size_t size, int first)
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
    const char *want = jf__ext_for_format(info.format);
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

void jf__set_caption(jf__item *it, const char *field, const char *text, size_t n)
{
    int repaired = 0;
    char *clean = jf__utf8_repair(text, n, &repaired);
    if (!clean)
        return;
    if (repaired)
        it->notes |= 1u << JF_NOTE_CAPTION_REPAIRED;
    jf_record_add_field(it->out, field, JF_FIELD_TEXT, clean, strlen(clean), NULL);
    free(clean);
}

int jf__is_image_ext(const char *ext) { return jf_field_type_for_name(ext) == JF_FIELD_IMAGE; }

int jf__is_url(const char *p) { return !strncmp(p, "http://", 7) || !strncmp(p, "https://", 8); }

/* An item that went before decoding, for a reason the tar reader found (and reported). */
/* ---- text inputs, plain or gzip-compressed (img2dataset reads .txt.gz, .csv.gz, .json.gz, …) ----
 * zlib's gzread passes uncompressed files through unchanged; a stdio FILE over it lets every
 * reader (CSV/TSV, JSON, JSON lines) take both. */

static ssize_t gz_cookie_read(void *c, char *buf, size_t n)
{
    int r = gzread((gzFile)c, buf, n > (1u << 30) ? (1u << 30) : (unsigned)n);
    return r < 0 ? -1 : r;
}

static int gz_cookie_close(void *c) { return gzclose_r((gzFile)c) == Z_OK ? 0 : EOF; }


/* http: the transfer settings when path may be an http(s) URL (streamed), NULL for local only. */
FILE *jf__open_text(const char *path, const jf_http_params *http)
{
    if (jf__is_url(path))
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

yajl_val jf__new_row(size_t n)
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
yajl_val jf__row_object(char **names, char **values, int n)
{
    yajl_val o = jf__new_row((size_t)n);
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
            v->u.number.r = jf__xstrdup(values[i]);
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
            v->u.string = jf__xstrdup(values[i]);
        }
        o->u.object.keys[o->u.object.len] = jf__xstrdup(names[i]);
        o->u.object.values[o->u.object.len++] = v;
    }
    return o;
}

int jf__url_column_named(char **names, int n, const char *wanted)
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



/* --caption-col renames that column to "caption"; --keep-columns drops the others (the URL and
 * caption columns always stay). */
void jf__row_select(yajl_val row, const jf_ingest_params *p, const char *url_name)
{
    if (!row || !YAJL_IS_OBJECT(row))
        return;
    size_t out = 0;
    for (size_t i = 0; i < row->u.object.len; i++) {
        char *k = (char *)row->u.object.keys[i];
        int is_caption = p->caption_col && !strcmp(k, p->caption_col);
        if (p->keep_columns && !is_caption && strcmp(k, url_name) && !jf__in_list(p->keep_columns, k)) {
            free(k);
            yajl_tree_free(row->u.object.values[i]);
            continue;
        }
        if (is_caption) {
            free(k);
            k = jf__xstrdup("caption");
        }
        row->u.object.keys[out] = k;
        row->u.object.values[out++] = row->u.object.values[i];
    }
    row->u.object.len = out;
}

int jf__in_list(const char *list, const char *name)
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


void jf__sb_json_value(jf__sbuf *b, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v)) {
        jf__sb_puts(b, "null");
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        jf__sb_puts(b, YAJL_IS_TRUE(v) ? "true" : "false");
    } else if (YAJL_IS_NUMBER(v)) {
        jf__sb_puts(b, v->u.number.r);
    } else if (YAJL_IS_STRING(v)) {
        int rep = 0;
        char *clean = jf__utf8_repair(v->u.string, strlen(v->u.string), &rep);
        jf__sb_json_str(b, clean ? clean : "");
        free(clean);
    } else if (YAJL_IS_ARRAY(v)) {
        jf__sb_puts(b, "[");
        for (size_t i = 0; i < v->u.array.len; i++) {
            jf__sb_puts(b, i ? ", " : "");
            jf__sb_json_value(b, v->u.array.values[i]);
        }
        jf__sb_puts(b, "]");
    } else {
        jf__sb_puts(b, "{");
        for (size_t i = 0; i < v->u.object.len; i++) {
            jf__sb_puts(b, i ? ", " : "");
            jf__sb_json_str(b, v->u.object.keys[i]);
            jf__sb_puts(b, ": ");
            jf__sb_json_value(b, v->u.object.values[i]);
        }
        jf__sb_puts(b, "}");
    }
}
