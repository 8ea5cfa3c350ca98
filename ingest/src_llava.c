/* JSON and JSON-lines manifests: ShareGPT4V / LLaVA conversations with local images, image +
 * caption records, text-only records, and records with a URL to download (LAION-style JSONL).
 * JSON arrays are streamed element by element, so a manifest of any size reads in bounded
 * memory. Images are found beside the manifest, under --image-root folders, or in plain tars
 * given as image roots. */
#include "run.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int jf__load_manifest_image(const jf__ctx *r, jf__item *it, const char *rel, const char *field, int first, int try_only)
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
    if (!found && try_only)
        return -2;
    if (!found) {
        it->outcome = JF_OUT_MISSING_IMAGE;
        snprintf(it->detail, sizeof it->detail, "image '%s' not found under %s", rel,
                 r->n_roots ? "the image roots" : it->manifest_dir);
        path_prefix(rel, it->missing_prefix, sizeof it->missing_prefix);
        return -1;
    }
    int rc = jf__add_image(r, it, field, data, len, first);
    free(data);
    return rc;
}

/* Appends a normalized turn list [{"from": "human"|"gpt"|..., "value": "..."}]. */
static int normalize_conversation(jf__item *it, yajl_val conv, jf__sbuf *out, int *turns)
{
    jf__sb_puts(out, "[");
    *turns = 0;
    for (size_t i = 0; i < conv->u.array.len; i++) {
        yajl_val t = conv->u.array.values[i];
        if (!YAJL_IS_OBJECT(t))
            return -1;
        const char *role = jf__obj_str(t, (const char *const[]){"from", "role", NULL});
        const char *value = jf__obj_str(t, (const char *const[]){"value", "content", "text", NULL});
        if (!role || !value)
            return -1;
        const char *norm = !strcmp(role, "user") ? "human" : !strcmp(role, "assistant") ? "gpt" : role;
        int rep = 0;
        char *clean = jf__utf8_repair(value, strlen(value), &rep);
        char *crole = jf__utf8_repair(norm, strlen(norm), &rep);
        if (!clean || !crole) {
            free(clean);
            free(crole);
            return -1;
        }
        if (rep)
            it->notes |= 1u << JF_NOTE_CAPTION_REPAIRED;
        jf__sb_puts(out, i ? ",{\"from\":" : "{\"from\":");
        jf__sb_json_str(out, crole);
        jf__sb_puts(out, ",\"value\":");
        jf__sb_json_str(out, clean);
        jf__sb_puts(out, "}");
        free(clean);
        free(crole);
        (*turns)++;
    }
    jf__sb_puts(out, "]");
    return *turns ? 0 : -1;
}

static int consumed_key(const char *k)
{
    static const char *const known[] = {"conversations", "messages", "image", "file_name", "filepath", "image_path", "path",
                                        "images", "caption", "title", "txt", "TEXT", "text", "content", "id", "uid", "key"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(k, known[i]))
            return 1;
    return 0;
}

/* A row with members of its own (a benchmark's question_id, label, category, answer, ...) keeps
 * them: the whole row as the record's .json field (what jf eval bench --data DS reads back), and
 * its other scalar members as index columns (for jf filter and subsets), as a WebDataset
 * sample's .json gives them. Conversation and caption manifests are left as they were. */
static void keep_row_members(jf__item *it, yajl_val o)
{
    int own = 0;
    for (size_t i = 0; i < o->u.object.len && !own; i++)
        own = !consumed_key(o->u.object.keys[i]);
    if (!own)
        return;
    jf__sbuf sb = {0};
    jf__sb_json_value(&sb, o);
    jf_record_add_field(it->out, "json", JF_FIELD_JSON, sb.p, sb.len, NULL);
    /* the own members alone, through the rule a WebDataset .json member's columns follow */
    sb.len = 0;
    jf__sb_puts(&sb, "{");
    int n = 0;
    for (size_t i = 0; i < o->u.object.len; i++) {
        if (consumed_key(o->u.object.keys[i]))
            continue;
        jf__sb_puts(&sb, n++ ? ", " : "");
        jf__sb_json_str(&sb, o->u.object.keys[i]);
        jf__sb_puts(&sb, ": ");
        jf__sb_json_value(&sb, o->u.object.values[i]);
    }
    jf__sb_puts(&sb, "}");
    jf_record_json_columns(it->out, (const uint8_t *)sb.p, sb.len, NULL);
    free(sb.p);
}

static void process_manifest_item(const jf__ctx *r, jf__item *it)
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
    const char *image = jf__obj_str(o, (const char *const[]){"image", "file_name", "filepath", "image_path", "path", NULL});
    yajl_val images = yajl_tree_get(o, imgs_p, yajl_t_array);
    const char *caption = jf__obj_str(o, (const char *const[]){"caption", "title", "txt", "TEXT", NULL});
    const char *text = jf__obj_str(o, (const char *const[]){"text", "content", NULL});
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    const char *id = jf__obj_str(o, (const char *const[]){"id", "uid", "key", NULL});
    if (id) {
        int rep = 0;
        char *clean = jf__utf8_repair(id, strlen(id), &rep);
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
        if (!jf__is_image_ext(field))
            snprintf(field, sizeof field, "jpg");
        if (jf__load_manifest_image(r, it, image, field, 1, 0) != 0)
            return;
        n_img++;
    }
    for (size_t i = 0; images && i < images->u.array.len; i++) {
        yajl_val v = images->u.array.values[i];
        const char *p = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : YAJL_IS_OBJECT(v) ? jf__obj_str(v, (const char *const[]){"path", "image", NULL}) : NULL;
        if (!p)
            continue;
        char field[32];
        if (n_img == 0)
            snprintf(field, sizeof field, "jpg");
        else
            snprintf(field, sizeof field, "%d.jpg", n_img);
        if (n_img == 0)
            jf_record_set_text(it->out, "image_path", p, &err);
        if (jf__load_manifest_image(r, it, p, field, n_img == 0, 0) != 0)
            return;
        n_img++;
    }
    if (conv) {
        jf__sbuf sb = {0};
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
        jf__set_caption(it, "txt", c, strlen(c));
        jf_record_set_kind(it->out, JF_KIND_GENERATION);
    } else if (!n_img && (text || caption)) {
        const char *c = text ? text : caption;
        jf__set_caption(it, "txt", c, strlen(c));
        jf_record_set_kind(it->out, JF_KIND_TEXT);
    } else {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "record %lld has no conversations, image with caption, or text",
                 (long long)it->offset);
        return;
    }
    keep_row_members(it, o);
    it->outcome = JF_OUT_OK;
}

/* One record of a manifest: a sample to process, or a URL row to download. */
static jf_status manifest_item(jf__run *s, const char *path, const char *dir, const char *source, int64_t index,
                               yajl_val rec, jf_error *err)
{
    /* A record with a URL and no local image or conversation is a download (LAION-style JSONL). */
    if (YAJL_IS_OBJECT(rec)) {
        const char *url = jf__obj_str(rec, (const char *const[]){"url", "URL", "image_url", NULL});
        const char *local = jf__obj_str(rec, (const char *const[]){"image", "file_name", "filepath", "image_path", "path", NULL});
        const char *cp[] = {"conversations", NULL};
        if (url && !local && !yajl_tree_get(rec, cp, yajl_t_array) && jf__is_url(url)) {
            char u[4096];
            snprintf(u, sizeof u, "%s", url);
            return jf__url_row(s, path, source, index, u, rec, err);
        }
    }
    return jf__manifest_record(s, path, dir, source, index, NULL, process_manifest_item, rec, err);
}

jf_status jf__manifest_record(jf__run *s, const char *path, const char *dir, const char *source, int64_t index,
                              const char *orig, jf__process_fn fn, yajl_val rec, jf_error *err)
{
    if (!jf__in_part(s, (uint64_t)index)) {
        yajl_tree_free(rec);
        return JF_OK;
    }
    jf_status rc = JF_OK;
    jf__item *it = jf__item_new(s, err, &rc);
    if (!it) {
        yajl_tree_free(rec);
        return rc;
    }
    char key[600];
    snprintf(key, sizeof key, "%s/%08lld", source, (long long)index);
    it->process = fn;
    it->key = jf__xstrdup(key);
    it->orig = jf__xstrdup(orig);
    it->source = source;
    it->input = path;
    it->manifest_dir = jf__xstrdup(dir); /* the item's own: it may be processed after this input is closed */
    it->offset = index;
    it->rec = rec;
    if (!it->key || !it->manifest_dir || !rec)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    jf__triage(s, it);
    return JF_OK;
}

static jf_status read_manifest(jf__run *s, const char *path, const char *source, int jsonl, int *incomplete, jf_error *err)
{
    FILE *f = jf__open_text(path, &jf__params(s)->http);
    if (!f) {
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    char *tmp = jf__xstrdup(path);
    char *dir = jf__xstrdup(dirname(tmp));
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
                if (jf__in_part(s, (uint64_t)index)) {
                    jf__item *it = jf__item_new(s, err, &rc);
                    if (it) {
                        char key[600];
                        snprintf(key, sizeof key, "%s/%08lld", source, (long long)index);
                        it->key = jf__xstrdup(key);
                        it->source = source;
                        it->input = path;
                        it->offset = index;
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
                jf__problem(s, path, jf__jsonstream_error_offset(js), "%s; %lld records before it were read", ebuf,
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
        rc = jf__drain_downloads(s, err);
    return rc;
}


static jf_status read_json(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    return read_manifest(s, path, source, 0, incomplete, err);
}

static jf_status read_jsonl(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    return read_manifest(s, path, source, 1, incomplete, err);
}

/* JSON lines: the first line is a whole JSON object. A document that starts with '[', or with
 * an object that its first line does not close (pretty-printed), is JSON. pandas' column
 * objects are claimed first by src_urls.c. */
static int first_line_is_object(const jf__probe *pb)
{
    FILE *f = jf__open_text(pb->path, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = f ? getline(&line, &cap, f) : -1;
    char ebuf[64];
    yajl_val v = len > 0 ? yajl_tree_parse(line, ebuf, sizeof ebuf) : NULL;
    int one = v != NULL;
    yajl_tree_free(v);
    free(line);
    if (f)
        fclose(f);
    return one;
}

static int probe_json(const jf__probe *pb)
{
    if (pb->remote)
        return !strcmp(pb->ext, "json");
    size_t k = jf__probe_text_start(pb);
    return k < pb->n && (pb->head[k] == '[' || (pb->head[k] == '{' && !first_line_is_object(pb)));
}

static int probe_jsonl(const jf__probe *pb)
{
    if (pb->remote)
        return !strcmp(pb->ext, "jsonl");
    size_t k = jf__probe_text_start(pb);
    return k < pb->n && pb->head[k] == '{' && first_line_is_object(pb);
}

const jf__source jf__src_json = {"json", probe_json, read_json, 0};
const jf__source jf__src_jsonl = {"jsonl", probe_jsonl, read_jsonl, 0};
