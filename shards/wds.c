/* WebDataset interchange: export a store to tar shards and import tar shards into a store. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <yajl/yajl_tree.h>

/* Names of the columns the writer derives from the fields; export leaves them out. */
static int derived_column(const char *name)
{
    static const char *const derived[] = {"width", "height", "image_format", "image_bytes", "n_images", "caption_len",
                                          "caption_words", NULL};
    for (int i = 0; derived[i]; i++)
        if (!strcmp(name, derived[i]))
            return 1;
    return 0;
}

static int json_str(jf__buf *b, const char *s)
{
    int bad = jf__buf_put8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && !bad; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            bad = jf__buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            bad = jf__buf_put(b, esc, 6);
        } else {
            bad = jf__buf_put8(b, *p);
        }
    }
    return bad || jf__buf_put8(b, '"');
}

/* The `jf.json` member: kind and index columns that the fields alone do not give back. */
static int jf_meta_json(const jf_record *rec, jf__buf *b)
{
    b->len = 0;
    int any = jf_kind_infer(rec) != jf_record_kind(rec);
    for (size_t i = 0; i < jf_record_column_count(rec); i++)
        if (!derived_column(jf_record_column(rec, i)->name))
            any = 1;
    if (!any)
        return 0;
    int bad = jf__buf_put(b, "{\"kind\":", 8) || json_str(b, jf_kind_name(jf_record_kind(rec))) ||
              jf__buf_put(b, ",\"columns\":{", 12);
    int first = 1;
    for (size_t i = 0; i < jf_record_column_count(rec) && !bad; i++) {
        const jf_column *c = jf_record_column(rec, i);
        if (derived_column(c->name))
            continue;
        char num[64];
        bad = (!first && jf__buf_put8(b, ',')) || json_str(b, c->name) || jf__buf_put8(b, ':');
        first = 0;
        switch (c->type) {
        case JF_COL_INT: snprintf(num, sizeof num, "%lld", (long long)c->i); break;
        case JF_COL_REAL: snprintf(num, sizeof num, "%.17g", c->d); break;
        case JF_COL_TEXT: bad = bad || json_str(b, c->s); continue;
        default: snprintf(num, sizeof num, "null");
        }
        /* JSON has no inf/nan; write them as strings so that the file stays valid. */
        if (c->type == JF_COL_REAL && (c->d != c->d || c->d > 1.7976931348623157e308 || c->d < -1.7976931348623157e308))
            bad = bad || json_str(b, num);
        else
            bad = bad || jf__buf_put(b, num, strlen(num));
    }
    bad = bad || jf__buf_put(b, "}}", 2);
    return bad ? -1 : 1;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp((*(const jf_field *const *)a)->name, (*(const jf_field *const *)b)->name);
}

static jf_status write_member(struct archive *a, struct archive_entry *e, const char *name, const void *data, size_t size,
                            const char *path, jf_error *err)
{
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0444);
    archive_entry_set_mtime(e, 1700000000, 0); /* fixed: identical input, identical tars */
    if (archive_write_header(a, e) != ARCHIVE_OK)
        return jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(a));
    if (size && archive_write_data(a, data, size) != (la_ssize_t)size)
        return jf_error_set(err, archive_errno(a) == 28 ? JF_ENOSPC : JF_EIO, "%s: %s", path, archive_error_string(a));
    return JF_OK;
}

/* The key a sample gets in the tars: its dataset key, or with JF_WDS_ORIGINAL_KEYS the key
 * without the "SOURCE/" prefix ingest gives it. */
#define EXPORT_KEY_SQL                                                                                            \
    "CASE WHEN src.name IS NOT NULL AND substr(s.key, 1, length(src.name) + 1) = src.name || '/' "               \
    "THEN substr(s.key, length(src.name) + 2) ELSE s.key END"

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Original keys that two samples share (from two sources): those keep their prefix. Sorted. */
static jf_status colliding_keys(jf_store *st, char ***out, size_t *n, jf_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT ek FROM (SELECT " EXPORT_KEY_SQL " AS ek FROM samples s LEFT JOIN sources src "
                           "ON src.id = s.source_id) GROUP BY ek HAVING count(*) > 1",
                           -1, &q, NULL) != SQLITE_OK)
        return jf_error_set(err, JF_EDB, "finding original keys: %s", sqlite3_errmsg(st->db));
    size_t cap = 0;
    jf_status s = JF_OK;
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(*out, cap * sizeof *v);
            if (!v) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            *out = v;
        }
        if (!((*out)[*n] = jf__strdup((const char *)sqlite3_column_text(q, 0))))
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    sqlite3_finalize(q);
    qsort(*out, *n, sizeof **out, cmp_cstr);
    return s;
}

jf_status jf_wds_export(jf_store *st, const char *pattern, uint64_t max_records, unsigned flags, jf_progress_fn progress,
                        void *user, jf_wds_report *rep_out, jf_error *err)
{
    jf_wds_report rep = {0};
    if (!max_records)
        max_records = 10000;
    const char *pct = strchr(pattern, '%');
    if (!pct || strchr(pct + 1, '%'))
        return jf_error_set(err, JF_EARG, "output pattern '%s' needs exactly one integer conversion, like out/%%06d.tar", pattern);
    char **collide = NULL;
    size_t n_collide = 0;
    sqlite3_stmt *key_q = NULL;
    if (flags & JF_WDS_ORIGINAL_KEYS) {
        jf_status cs = colliding_keys(st, &collide, &n_collide, err);
        if (cs == JF_OK && sqlite3_prepare_v2(st->db,
                                              "SELECT " EXPORT_KEY_SQL " FROM samples s LEFT JOIN sources src "
                                              "ON src.id = s.source_id WHERE s.id = ?",
                                              -1, &key_q, NULL) != SQLITE_OK)
            cs = jf_error_set(err, JF_EDB, "finding original keys: %s", sqlite3_errmsg(st->db));
        if (cs != JF_OK) {
            for (size_t i = 0; i < n_collide; i++)
                free(collide[i]);
            free(collide);
            sqlite3_finalize(key_q);
            return cs;
        }
    }
    jf_scan *sc;
    jf_status s = jf_scan_create(st, &sc, err);
    if (s != JF_OK) {
        for (size_t i = 0; i < n_collide; i++)
            free(collide[i]);
        free(collide);
        sqlite3_finalize(key_q);
        return s;
    }
    uint64_t total = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM samples", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        total = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    jf_record *rec = jf_record_create();
    struct archive_entry *entry = archive_entry_new();
    struct archive *a = NULL;
    jf__buf meta = {0};
    char path[4096], name[8192], key[JF__MAX_KEY + 1];
    const jf_field **sorted = NULL;
    uint64_t in_tar = 0;
    if (!rec || !entry)
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    while (s == JF_OK) {
        int64_t sample_id;
        jf_status r = jf_scan_next(sc, rec, &sample_id, err);
        if (r == JF_ENOTFOUND)
            break;
        if (r != JF_OK) {
            s = r;
            break;
        }
        if (!a || in_tar >= max_records) {
            if (a) {
                if (archive_write_close(a) != ARCHIVE_OK)
                    s = jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(a));
                archive_write_free(a);
                a = NULL;
                if (s != JF_OK)
                    break;
            }
            snprintf(path, sizeof path, pattern, (int)rep.tars);
            a = archive_write_new();
            archive_write_set_format_pax_restricted(a);
            archive_write_set_bytes_in_last_block(a, 1);
            if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
                s = jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(a));
                break;
            }
            rep.tars++;
            in_tar = 0;
        }
        snprintf(key, sizeof key, "%s", jf_record_key(rec));
        if (key_q) {
            sqlite3_reset(key_q);
            sqlite3_bind_int64(key_q, 1, sample_id);
            const char *ek = sqlite3_step(key_q) == SQLITE_ROW ? (const char *)sqlite3_column_text(key_q, 0) : NULL;
            if (ek && strcmp(ek, key)) {
                if (bsearch(&ek, collide, n_collide, sizeof *collide, cmp_cstr))
                    rep.prefixed_keys++; /* two sources share this original key: both keep the prefix */
                else
                    snprintf(key, sizeof key, "%s", ek);
            }
        }
        /* The WebDataset key ends at the first dot of the basename: dots there would split it. */
        char *base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
        int renamed = 0;
        for (char *p = base; *p; p++)
            if (*p == '.') {
                *p = '_';
                renamed = 1;
            }
        rep.renamed_keys += (uint64_t)renamed;
        size_t nf = jf_record_field_count(rec);
        const jf_field **nsorted = realloc(sorted, (nf + 1) * sizeof *sorted);
        if (!nsorted) {
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        sorted = nsorted;
        for (size_t i = 0; i < nf; i++)
            sorted[i] = jf_record_field(rec, i);
        qsort(sorted, nf, sizeof *sorted, cmp_field);
        for (size_t i = 0; i < nf && s == JF_OK; i++) {
            snprintf(name, sizeof name, "%s.%s", key, sorted[i]->name);
            s = write_member(a, entry, name, sorted[i]->data, sorted[i]->size, path, err);
            rep.members++;
        }
        int m = s == JF_OK ? jf_meta_json(rec, &meta) : 0;
        if (m < 0)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else if (m > 0) {
            snprintf(name, sizeof name, "%s.jf.json", key);
            s = write_member(a, entry, name, meta.p, meta.len, path, err);
            rep.members++;
        }
        rep.samples++;
        in_tar++;
        if (progress && rep.samples % 64 == 0)
            progress(user, rep.samples, total);
    }
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && s == JF_OK)
            s = jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(a));
        archive_write_free(a);
    }
    free(sorted);
    for (size_t i = 0; i < n_collide; i++)
        free(collide[i]);
    free(collide);
    sqlite3_finalize(key_q);
    jf__buf_free(&meta);
    archive_entry_free(entry);
    jf_record_destroy(rec);
    jf_scan_destroy(sc);
    if (rep_out)
        *rep_out = rep;
    return s;
}

/* ---- index columns from a sample's .json member ---- */

/* img2dataset / LAION metadata: scalar fields become index columns under the names users know;
 * a few are renamed (AESTHETIC_SCORE → aesthetic) or skipped (the caption, which is the txt
 * field, and sizes, which come from decoding). */
jf_status jf_record_metadata_column(jf_record *rec, const char *field, const jf_column *value, int boolean, jf_error *err)
{
    static const char *const skip[] = {"caption", "TEXT", "text", "txt", "title", "width", "height", "exif", "WIDTH",
                                       "HEIGHT", NULL};
    static const char *const rename[][2] = {{"AESTHETIC_SCORE", "aesthetic"}, {"aesthetic_score_laion_v2", "aesthetic"},
                                            {"URL", "url"}, {"key", "orig_key"}, {"hash", "laion_hash"},
                                            {"SAMPLE_ID", "sample_id"}, {"NSFW", "nsfw"}, {"LICENSE", "license"},
                                            {"LANGUAGE", "language"}, {"id", "orig_id"}, {"source", "orig_source"},
                                            {"kind", "orig_kind"}, {"offset", "orig_offset"}, {"length", "orig_length"},
                                            {NULL, NULL}};
    static const char *const integers[] = {"original_width", "original_height", "sample_id", "laion_hash", NULL};
    for (int k = 0; skip[k]; k++)
        if (!strcmp(field, skip[k]))
            return JF_OK;
    char name[65];
    snprintf(name, sizeof name, "%s", field);
    for (int k = 0; rename[k][0]; k++)
        if (!strcmp(field, rename[k][0]))
            snprintf(name, sizeof name, "%s", rename[k][1]);
    for (char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            *c = '_';
    if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
        return JF_OK;
    int is_int = 0;
    for (int k = 0; integers[k]; k++)
        is_int |= !strcmp(name, integers[k]);
    /* one type per column whatever a row holds: integers only in the integer columns */
    switch (value->type) {
    case JF_COL_INT:
        return is_int || boolean ? jf_record_set_int(rec, name, value->i, err) : jf_record_set_real(rec, name, (double)value->i, err);
    case JF_COL_REAL: return is_int ? JF_OK : jf_record_set_real(rec, name, value->d, err);
    case JF_COL_TEXT: return value->s && strlen(value->s) < 4096 ? jf_record_set_text(rec, name, value->s, err) : JF_OK;
    default: return JF_OK;
    }
}

static void metadata_columns(jf_record *rec, yajl_val o)
{
    for (size_t i = 0; i < o->u.object.len; i++) {
        yajl_val v = o->u.object.values[i];
        jf_column c = {0};
        if (YAJL_IS_INTEGER(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_GET_INTEGER(v)};
        else if (YAJL_IS_NUMBER(v))
            c = (jf_column){.type = JF_COL_REAL, .d = v->u.number.d};
        else if (YAJL_IS_STRING(v))
            c = (jf_column){.type = JF_COL_TEXT, .s = v->u.string};
        else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_IS_TRUE(v)};
        else
            continue;
        jf_record_metadata_column(rec, o->u.object.keys[i], &c, YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v), NULL);
    }
}

/* SA-1B annotation summary: mask count, total area, mean predicted IoU and stability. */
static void sa1b_columns(jf_record *rec, yajl_val o)
{
    const char *ann_p[] = {"annotations", NULL}, *id_p[] = {"image", "image_id", NULL};
    yajl_val anns = yajl_tree_get(o, ann_p, yajl_t_array);
    yajl_val id = yajl_tree_get(o, id_p, yajl_t_number);
    double area = 0, iou = 0, stab = 0;
    size_t n = anns ? anns->u.array.len : 0;
    for (size_t i = 0; i < n; i++) {
        yajl_val a = anns->u.array.values[i];
        const char *pa[] = {"area", NULL}, *pi[] = {"predicted_iou", NULL}, *ps[] = {"stability_score", NULL};
        yajl_val va = yajl_tree_get(a, pa, yajl_t_number), vi = yajl_tree_get(a, pi, yajl_t_number),
                 vs = yajl_tree_get(a, ps, yajl_t_number);
        area += va ? va->u.number.d : 0;
        iou += vi ? vi->u.number.d : 0;
        stab += vs ? vs->u.number.d : 0;
    }
    jf_record_set_int(rec, "mask_count", (int64_t)n, NULL);
    jf_record_set_real(rec, "mask_area", area, NULL);
    if (n) {
        jf_record_set_real(rec, "mask_iou_mean", iou / (double)n, NULL);
        jf_record_set_real(rec, "mask_stability_mean", stab / (double)n, NULL);
    }
    if (id && YAJL_IS_INTEGER(id))
        jf_record_set_int(rec, "sa_image_id", YAJL_GET_INTEGER(id), NULL);
}

jf_json_member jf_record_json_columns(jf_record *rec, const uint8_t *json, size_t len, char **caption)
{
    if (caption)
        *caption = NULL;
    char *text = malloc(len + 1), ebuf[128];
    if (!text)
        return JF_JSON_INVALID;
    memcpy(text, json, len);
    text[len] = 0;
    yajl_val o = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!o || !YAJL_IS_OBJECT(o)) {
        yajl_tree_free(o);
        return JF_JSON_INVALID;
    }
    const char *ann_p[] = {"annotations", NULL}, *img_p[] = {"image", NULL}, *cap_p[] = {"caption", NULL};
    jf_json_member kind = yajl_tree_get(o, ann_p, yajl_t_array) && yajl_tree_get(o, img_p, yajl_t_object)
                              ? JF_JSON_SA1B : JF_JSON_METADATA;
    if (rec)
        (kind == JF_JSON_SA1B ? sa1b_columns : metadata_columns)(rec, o);
    yajl_val c = kind == JF_JSON_METADATA ? yajl_tree_get(o, cap_p, yajl_t_string) : NULL;
    if (caption && c && c->u.string)
        *caption = jf__strdup(c->u.string);
    yajl_tree_free(o);
    return kind;
}

/* ---- reading tars ---- */

struct jf_wds_reader {
    struct archive *a;
    char *path;
    jf_problem_fn fn;
    void *user;
    jf_read_fn read;
    void *read_user;
    jf_wds_report rep;
    int done, truncated, failed_open;
    int64_t cut_offset;    /* where the tar stopped being readable */
    int64_t next_header;   /* where the header after the current member starts */
    char *cut_key;         /* the sample dropped at the cut (NULL: none, or not known) */
    /* extensions of the last sample handed out, "\0"-separated: the pattern a sample being
     * read at a cut inside a header is compared with */
    jf__buf prev_exts;
    size_t prev_n_exts;
    /* the sample being assembled, and the member that ended it (start of the next sample) */
    char *key;
    int64_t key_offset;
    jf_wds_member *members;
    size_t n_members, cap_members;
    jf__buf data;          /* member payloads, back to back */
    jf__buf names;         /* member names and exts, NUL-terminated, back to back */
    size_t *data_off, *name_off, *ext_off;
    int have_pending;      /* a member read ahead belongs to the next sample */
    char *pending_key;
    int64_t pending_offset;
    jf__buf pend_data, pend_name, pend_ext;
    int pending_refused;   /* the member read ahead was refused (link, device, oversize) */
    int repeated;
    size_t n_refused;      /* members of the sample being assembled that were refused */
    uint64_t *seen;
    size_t seen_cap, seen_n;
    /* what the caller sees */
    char *out_key;
    jf_wds_member *out;
};

static void rproblem(jf_wds_reader *r, int error, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void rproblem(jf_wds_reader *r, int error, int64_t offset, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error)
        r->rep.errors++;
    if (r->fn) {
        jf_problem p = {error ? "error" : "warning", r->path, offset, msg};
        r->fn(r->user, &p);
    }
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h ? h : 1;
}

/* Returns 1 if the key was seen before in this tar (by 64-bit hash). */
static int seen_before(jf_wds_reader *r, const char *key)
{
    if (r->seen_n * 2 >= r->seen_cap) {
        size_t cap = r->seen_cap ? r->seen_cap * 2 : 4096;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return 0;
        for (size_t i = 0; i < r->seen_cap; i++)
            if (r->seen[i]) {
                size_t j = r->seen[i] & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = r->seen[i];
            }
        free(r->seen);
        r->seen = t;
        r->seen_cap = cap;
    }
    uint64_t h = hash_key(key);
    size_t j = h & (r->seen_cap - 1);
    while (r->seen[j]) {
        if (r->seen[j] == h)
            return 1;
        j = (j + 1) & (r->seen_cap - 1);
    }
    r->seen[j] = h;
    r->seen_n++;
    return 0;
}

static la_ssize_t stream_read(struct archive *a, void *user, const void **buf)
{
    jf_wds_reader *r = user;
    const char *msg = NULL;
    long n = r->read(r->read_user, buf, &msg);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", msg ? msg : "read error");
        return -1;
    }
    return (la_ssize_t)n;
}

jf_status jf_wds_reader_open(const char *path, jf_read_fn read, void *read_user, jf_problem_fn on_problem, void *user,
                             jf_wds_reader **out, jf_error *err)
{
    *out = NULL;
    jf_wds_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = jf__strdup(path))) {
        free(r);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    r->fn = on_problem;
    r->user = user;
    r->read = read;
    r->read_user = read_user;
    r->a = archive_read_new();
    if (!r->a) {
        jf_wds_reader_close(r);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    archive_read_support_filter_all(r->a);
    archive_read_support_format_tar(r->a);
    int rc = read ? archive_read_open(r->a, r, NULL, stream_read, NULL) : archive_read_open_filename(r->a, path, 1 << 20);
    r->rep.tars = 1;
    if (rc != ARCHIVE_OK) {
        /* One unreadable input is a finding, not the end of a run over many. */
        rproblem(r, 1, 0, "cannot read as a tar: %s", archive_error_string(r->a));
        r->done = r->truncated = r->failed_open = 1;
    }
    *out = r;
    return JF_OK;
}

jf_wds_report jf_wds_reader_report(const jf_wds_reader *r) { return r->rep; }
int jf_wds_reader_truncated(const jf_wds_reader *r, int64_t *offset, const char **dropped_key)
{
    if (offset)
        *offset = r->truncated ? r->cut_offset : -1;
    if (dropped_key)
        *dropped_key = r->cut_key;
    return r->truncated;
}

void jf_wds_reader_close(jf_wds_reader *r)
{
    if (!r)
        return;
    archive_read_free(r->a);
    free(r->path);
    free(r->key);
    free(r->pending_key);
    free(r->cut_key);
    jf__buf_free(&r->prev_exts);
    free(r->members);
    free(r->data_off);
    free(r->name_off);
    free(r->ext_off);
    jf__buf_free(&r->data);
    jf__buf_free(&r->names);
    jf__buf_free(&r->pend_data);
    jf__buf_free(&r->pend_name);
    jf__buf_free(&r->pend_ext);
    free(r->seen);
    free(r->out_key);
    free(r->out);
    free(r);
}

/* Appends a member (name, ext, payload) to the sample being assembled. */
static jf_status add_member(jf_wds_reader *r, const char *name, const char *ext, const uint8_t *data, size_t size,
                            int64_t offset, jf_error *err)
{
    for (size_t i = 0; i < r->n_members; i++)
        if (!strcmp((const char *)r->names.p + r->ext_off[i], ext)) {
            rproblem(r, 1, offset, "sample '%s' has two '%s' members; the second is skipped", r->key, ext);
            r->rep.skipped_members++;
            return JF_OK;
        }
    if (r->n_members == r->cap_members) {
        size_t cap = r->cap_members ? r->cap_members * 2 : 8;
        jf_wds_member *m = realloc(r->members, cap * sizeof *m);
        size_t *a = m ? realloc(r->data_off, cap * sizeof *a) : NULL;
        if (m)
            r->members = m;
        if (a)
            r->data_off = a;
        size_t *b = a ? realloc(r->name_off, cap * sizeof *b) : NULL;
        if (b)
            r->name_off = b;
        size_t *c = b ? realloc(r->ext_off, cap * sizeof *c) : NULL;
        if (!c)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        r->ext_off = c;
        r->cap_members = cap;
    }
    size_t k = r->n_members;
    r->data_off[k] = r->data.len;
    r->name_off[k] = r->names.len;
    if (jf__buf_put(&r->data, data, size) || jf__buf_put(&r->names, name, strlen(name) + 1))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    r->ext_off[k] = r->names.len;
    if (jf__buf_put(&r->names, ext, strlen(ext) + 1))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    r->members[k] = (jf_wds_member){.size = size, .offset = offset};
    r->n_members++;
    return JF_OK;
}

static void start_sample(jf_wds_reader *r, char *key, int64_t offset)
{
    free(r->key);
    r->key = key;
    r->key_offset = offset;
    r->n_members = 0;
    r->n_refused = 0;
    r->data.len = 0;
    r->names.len = 0;
    r->repeated = seen_before(r, key); /* the caller says what becomes of such members */
    (void)offset;
}

/* Hands the assembled sample to the caller. */
static jf_status emit_sample(jf_wds_reader *r, jf_wds_sample *s, jf_error *err)
{
    free(r->out);
    r->out = malloc((r->n_members ? r->n_members : 1) * sizeof *r->out);
    free(r->out_key);
    r->out_key = jf__strdup(r->key);
    if (!r->out || !r->out_key)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n_members; i++) {
        r->out[i] = r->members[i];
        r->out[i].data = r->data.p + r->data_off[i];
        r->out[i].name = (const char *)r->names.p + r->name_off[i];
        r->out[i].ext = (const char *)r->names.p + r->ext_off[i];
    }
    s->key = r->out_key;
    s->n_members = r->n_members;
    s->members = r->out;
    s->offset = r->key_offset;
    s->repeated_key = r->repeated;
    s->refused_members = r->n_refused;
    r->rep.samples++;
    r->prev_exts.len = 0;
    r->prev_n_exts = r->n_members;
    for (size_t i = 0; i < r->n_members; i++)
        if (jf__buf_put(&r->prev_exts, r->out[i].ext, strlen(r->out[i].ext) + 1))
            r->prev_n_exts = 0; /* no pattern to compare with: the sample at a cut is kept */
    return JF_OK;
}

static int has_sample(const jf_wds_reader *r) { return r->key && (r->n_members || r->n_refused); }

/* 1 when the sample being read lacks an extension the previous sample of this tar had: at a cut
 * inside a header that is the evidence that members of it were lost. */
static int lacks_previous_members(const jf_wds_reader *r)
{
    const char *e = (const char *)r->prev_exts.p;
    for (size_t k = 0; k < r->prev_n_exts; e += strlen(e) + 1, k++) {
        int have = 0;
        for (size_t i = 0; i < r->n_members && !have; i++)
            have = !strcmp((const char *)r->names.p + r->ext_off[i], e);
        if (!have)
            return 1;
    }
    return 0;
}

/* The tar stops being readable at `offset`; `dropped` (taken) names the sample lost there. */
static void cut_at(jf_wds_reader *r, int64_t offset, char *dropped)
{
    r->done = r->truncated = 1;
    r->cut_offset = offset;
    free(r->cut_key);
    r->cut_key = dropped;
}

jf_status jf_wds_reader_next(jf_wds_reader *r, jf_wds_sample *s, jf_error *err)
{
    /* A member read ahead at the last call starts this sample. The payload buffers of the
     * previous sample are reused only now, since the caller is done with them. */
    if (r->have_pending) {
        start_sample(r, r->pending_key, r->pending_offset);
        r->pending_key = NULL;
        r->have_pending = 0;
        if (r->pending_refused) {
            r->n_refused = 1;
        } else {
            jf_status st = add_member(r, (const char *)r->pend_name.p, (const char *)r->pend_ext.p, r->pend_data.p,
                                      r->pend_data.len, r->pending_offset, err);
            if (st != JF_OK)
                return st;
        }
    } else if (r->key && !r->done) {
        free(r->key);
        r->key = NULL;
    }
    while (!r->done) {
        struct archive_entry *e;
        /* Where the next header starts (after the previous member's data and padding): the
         * offset of a header that turns out unreadable. */
        int64_t next_off = r->next_header;
        int rc = archive_read_next_header(r->a, &e);
        if (rc == ARCHIVE_EOF) {
            r->done = 1;
            break;
        }
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            /* The sample being read has all the members read so far; whether more of it followed
             * is not known. It is kept unless it lacks a member the previous sample had. */
            const char *why = archive_error_string(r->a) ? archive_error_string(r->a) : "unreadable header";
            if (has_sample(r) && lacks_previous_members(r)) {
                rproblem(r, 1, next_off,
                         "tar stops here: %s; %llu samples before it were kept; sample '%s' (at byte %lld) is dropped: "
                         "it lacks members the sample before it had",
                         why, (unsigned long long)r->rep.samples, r->key, (long long)r->key_offset);
                cut_at(r, next_off, r->key);
                r->key = NULL;
            } else {
                rproblem(r, 1, next_off, "tar stops here: %s; %llu samples before it were kept", why,
                         (unsigned long long)r->rep.samples + has_sample(r));
                cut_at(r, next_off, NULL);
            }
            break;
        }
        int64_t hdr_off = archive_read_header_position(r->a);
        if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0)
            r->next_header = archive_filter_bytes(r->a, 0) + (archive_entry_size(e) + 511) / 512 * 512;
        if (rc == ARCHIVE_WARN)
            rproblem(r, 0, hdr_off, "%s", archive_error_string(r->a));
        r->rep.members++;
        const char *name = archive_entry_pathname(e);
        if (!name) {
            rproblem(r, 1, hdr_off, "member without a usable name skipped");
            r->rep.skipped_members++;
            continue;
        }
        if (archive_entry_filetype(e) == AE_IFDIR) {
            r->rep.members--;
            continue;
        }
        const char *full = name;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (name[0] == '/' || !strncmp(name, "../", 3) || strstr(name, "/../") || !strcmp(name, "..")) {
            rproblem(r, 1, hdr_off, "member '%s' has an absolute or parent-directory path; skipped", full);
            r->rep.skipped_members++;
            continue;
        }
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        const char *dot = strchr(base, '.');
        if (!dot || dot == base || !dot[1]) {
            rproblem(r, 0, hdr_off, "member '%s' has no key.extension name; skipped", full);
            r->rep.skipped_members++;
            continue;
        }
        if (!strncmp(base, "__", 2)) {
            r->rep.skipped_members++; /* WebDataset metadata member */
            continue;
        }
        size_t key_len = (size_t)(dot - name);
        char ext[JF__MAX_NAME + 1];
        snprintf(ext, sizeof ext, "%s", dot + 1);
        for (char *p = ext; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (key_len > JF__MAX_KEY) {
            rproblem(r, 1, hdr_off, "member '%s': key longer than %u bytes; skipped", full, JF__MAX_KEY);
            r->rep.skipped_members++;
            continue;
        }
        /* A member refused for what it is (a link, a device, over the size limit) still belongs
         * to its key: the sample is handed out with the refusal counted, so that the rest of it
         * cannot pass for a sample of another kind (a caption without its image). */
        la_int64_t size = archive_entry_size(e);
        char refused[96] = "";
        if (archive_entry_filetype(e) != AE_IFREG)
            snprintf(refused, sizeof refused, "is not a regular file (link or device)");
        else if (size < 0 || (uint64_t)size > JF__MAX_RECORD)
            snprintf(refused, sizeof refused, "is %lld bytes, over the limit", (long long)size);
        if (refused[0]) {
            rproblem(r, 1, hdr_off, "member '%s' %s: refused, and sample '%.*s' with it", full, refused, (int)key_len, name);
            r->rep.skipped_members++;
            size = 0;
        }
        int same = r->key && strlen(r->key) == key_len && !memcmp(r->key, name, key_len);
        if (!r->key) {
            char *k = malloc(key_len + 1);
            if (!k)
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            memcpy(k, name, key_len);
            k[key_len] = 0;
            start_sample(r, k, hdr_off);
            same = 1;
        }
        jf__buf *dst = &r->pend_data;
        dst->len = 0;
        if (jf__buf_reserve(dst, (size_t)size + 1))
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        la_ssize_t got = 0;
        while (got < size) {
            la_ssize_t n = archive_read_data(r->a, dst->p + got, (size_t)(size - got));
            if (n <= 0)
                break;
            got += n;
        }
        if (got != size) {
            /* Only the sample this member belongs to is lost: a member of a new key means the
             * sample before it was read whole, and it is handed out below. */
            rproblem(r, 1, hdr_off, "member '%s' cut short (%lld of %lld bytes): %s; sample '%.*s' dropped%s", full,
                     (long long)got, (long long)size, archive_error_string(r->a) ? archive_error_string(r->a) : "end of data",
                     (int)key_len, name, same ? "" : "; the sample before it is whole and kept");
            char *dropped = malloc(key_len + 1);
            if (!dropped)
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            memcpy(dropped, name, key_len);
            dropped[key_len] = 0;
            cut_at(r, hdr_off, dropped);
            if (same) {
                free(r->key);
                r->key = NULL;
            }
            break;
        }
        dst->len = (size_t)got;
        if (same) {
            if (refused[0]) {
                r->n_refused++;
                continue;
            }
            jf_status st = add_member(r, full, ext, dst->p, dst->len, hdr_off, err);
            if (st != JF_OK)
                return st;
            continue;
        }
        /* A new key: this member starts the next sample; hand out the current one. */
        r->pending_key = malloc(key_len + 1);
        if (!r->pending_key)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        memcpy(r->pending_key, name, key_len);
        r->pending_key[key_len] = 0;
        r->pending_offset = hdr_off;
        r->pending_refused = refused[0] != 0;
        r->pend_name.len = r->pend_ext.len = 0;
        if (jf__buf_put(&r->pend_name, full, strlen(full) + 1) || jf__buf_put(&r->pend_ext, ext, strlen(ext) + 1))
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        r->have_pending = 1;
        return emit_sample(r, s, err);
    }
    if (has_sample(r)) {
        jf_status st = emit_sample(r, s, err);
        free(r->key);
        r->key = NULL;
        return st;
    }
    return JF_ENOTFOUND;
}

/* ---- import ---- */

static jf_status apply_meta(jf_record *rec, const uint8_t *json, size_t len, jf_wds_reader *r, jf_error *err)
{
    char ebuf[256];
    char *text = malloc(len + 1);
    if (!text)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    memcpy(text, json, len);
    text[len] = 0;
    yajl_val root = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!root || !YAJL_IS_OBJECT(root)) {
        rproblem(r, 1, -1, "sample '%s': jf.json is not a JSON object; ignored", jf_record_key(rec));
        yajl_tree_free(root);
        return JF_OK;
    }
    const char *kp[] = {"kind", NULL}, *cp[] = {"columns", NULL};
    yajl_val kind = yajl_tree_get(root, kp, yajl_t_string);
    if (kind)
        jf_record_set_kind(rec, jf_kind_from_name(YAJL_GET_STRING(kind)));
    yajl_val cols = yajl_tree_get(root, cp, yajl_t_object);
    jf_status s = JF_OK;
    for (size_t i = 0; cols && i < cols->u.object.len && s == JF_OK; i++) {
        const char *name = cols->u.object.keys[i];
        yajl_val v = cols->u.object.values[i];
        if (YAJL_IS_INTEGER(v))
            s = jf_record_set_int(rec, name, YAJL_GET_INTEGER(v), err);
        else if (YAJL_IS_DOUBLE(v))
            s = jf_record_set_real(rec, name, YAJL_GET_DOUBLE(v), err);
        else if (YAJL_IS_STRING(v))
            s = jf_record_set_text(rec, name, YAJL_GET_STRING(v), err);
        else if (YAJL_IS_NULL(v))
            s = jf_record_set_text(rec, name, NULL, err);
    }
    yajl_tree_free(root);
    return s;
}

jf_status jf_wds_import(jf_writer *w, const char *tar_path, jf_problem_fn on_problem, void *user, jf_wds_report *rep,
                        jf_error *err)
{
    jf_wds_reader *r;
    jf_status s = jf_wds_reader_open(tar_path, NULL, NULL, on_problem, user, &r, err);
    if (s != JF_OK)
        return s;
    jf_record *rec = jf_record_create();
    if (!rec) {
        jf_wds_reader_close(r);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    uint64_t imported = 0;
    jf_wds_sample smp;
    while (s == JF_OK && (s = jf_wds_reader_next(r, &smp, err)) == JF_OK) {
        if (smp.refused_members)
            continue; /* reported by the reader, with the sample it sinks */
        if (smp.repeated_key) {
            /* the sample read first is already written: these members cannot join it */
            rproblem(r, 1, smp.offset, "sample '%s': members re-appear apart from its first ones; not imported "
                     "(the sample read first is kept)", smp.key);
            continue;
        }
        jf_record_reset(rec);
        jf_record_set_key(rec, smp.key, NULL);
        const jf_wds_member *meta = NULL, *json = NULL;
        jf_error fe;
        for (size_t i = 0; i < smp.n_members; i++) {
            const jf_wds_member *m = &smp.members[i];
            if (!strcmp(m->ext, "jf.json")) {
                meta = m;
                continue;
            }
            if (!strcmp(m->ext, "json"))
                json = m;
            if (jf_record_add_field(rec, m->ext, jf_field_type_for_name(m->ext), m->data, m->size, &fe) != JF_OK)
                rproblem(r, 1, m->offset, "member '%s': %s; skipped", m->name, fe.msg);
        }
        if (jf_record_field_count(rec) == 0)
            continue;
        jf_record_set_kind(rec, jf_kind_infer(rec));
        /* img2dataset / SA-1B metadata gives the same columns as `jf ingest`; a jf.json written by
         * export restores what jf had (and wins where both name a column) */
        if (json && !meta && jf_record_json_columns(rec, json->data, json->size, NULL) == JF_JSON_INVALID)
            rproblem(r, 0, json->offset, "sample '%s': its .json member is not a JSON object; kept as bytes, no columns",
                     smp.key);
        if (meta && (s = apply_meta(rec, meta->data, meta->size, r, err)) != JF_OK)
            break;
        s = jf_writer_add(w, rec, &fe);
        if (s == JF_EARG || s == JF_ELIMIT) {
            rproblem(r, 1, smp.offset, "sample '%s' not imported: %s", smp.key, fe.msg);
            s = JF_OK;
        } else if (s != JF_OK) {
            if (err)
                *err = fe;
        } else {
            imported++;
        }
    }
    if (s == JF_ENOTFOUND)
        s = JF_OK;
    if (rep) {
        jf_wds_report rr = jf_wds_reader_report(r);
        rep->tars += rr.tars;
        rep->members += rr.members;
        rep->skipped_members += rr.skipped_members;
        rep->errors += rr.errors;
        rep->samples += imported;
    }
    jf_record_destroy(rec);
    jf_wds_reader_close(r);
    return s;
}
