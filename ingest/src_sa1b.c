/* SA-1B (Segment Anything): images and their annotation JSON paired in tars (the tars
 * themselves are read by src_wds.c), and captions joined from a separate file (SA-1B has none;
 * people add them from a captioning run) by file name or sa_image_id. */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- captions joined to SA-1B images ---- */

static uint64_t str_hash(const char *s) { return XXH3_64bits(s, strlen(s)); }

static void cap_put(jf__captions *m, const char *k, const char *v)
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
    m->keys[j] = jf__xstrdup(k);
    m->vals[j] = jf__xstrdup(v);
    m->n++;
}

const char *jf__captions_get(const jf__captions *m, const char *k)
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

void jf__captions_free(jf__captions *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
}

/* Adds one caption record under every name the image may be looked up by: file name, stem,
 * and numeric id ("sa_17.jpg", "sa_17", "17"). */
static void cap_add_record(jf__captions *m, const char *name, const char *caption)
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

static void cap_add_value(jf__captions *m, const char *key, yajl_val v)
{
    static const char *const cap_names[] = {"caption", "text", "txt", "TEXT", NULL};
    static const char *const id_names[] = {"image", "file_name", "image_id", "id", "key", "filename", NULL};
    if (YAJL_IS_STRING(v))
        cap_add_record(m, key, YAJL_GET_STRING(v));
    else if (YAJL_IS_OBJECT(v))
        cap_add_record(m, key ? key : jf__obj_str(v, id_names), jf__obj_str(v, cap_names));
}

jf_status jf__captions_load(jf__captions *m, const char *path, jf_error *err)
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
            if (YAJL_IS_OBJECT(v) && v->u.object.len == 1 && !jf__obj_str(v, (const char *const[]){"caption", "text", "txt", NULL}))
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


/* ---- pairing ---- */

int jf__sa1b_check_pair(const jf__ctx *r, jf__item *it, int has_image, int has_json, int json_is_sa1b)
{
    const char *base = strrchr(it->orig, '/') ? strrchr(it->orig, '/') + 1 : it->orig;
    int sa_name = !strncmp(base, "sa_", 3) && base[3] >= '0' && base[3] <= '9';
    if (json_is_sa1b && !has_image) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "SA-1B annotations without their image");
        return -1;
    }
    if (sa_name && has_image && !has_json && r->captions.n == 0) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "SA-1B image without its annotation JSON");
        return -1;
    }
    return 0;
}

const char *jf__sa1b_caption(const jf__ctx *r, const jf_record *rec, const char *base)
{
    if (!r->captions.n)
        return NULL;
    const char *c = jf__captions_get(&r->captions, base);
    for (size_t i = 0; !c && i < jf_record_column_count(rec); i++) {
        const jf_column *col = jf_record_column(rec, i);
        char idbuf[32];
        if (col->type == JF_COL_INT && !strcmp(col->name, "sa_image_id")) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)col->i);
            c = jf__captions_get(&r->captions, idbuf);
        }
    }
    return c;
}
