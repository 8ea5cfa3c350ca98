/* WebDataset interchange: export a store to tar shards and import tar shards into a store. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdlib.h>
#include <yajl/yajl_tree.h>

/* Names of the columns the writer derives from the fields; export leaves them out. */
static int derived_column(const char *name)
{
    static const char *const derived[] = {"width", "height", "image_format", "image_bytes", "n_images", "caption_len", NULL};
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

static jf_status add_member(struct archive *a, struct archive_entry *e, const char *name, const void *data, size_t size,
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

jf_status jf_wds_export(jf_store *st, const char *pattern, uint64_t max_records, jf_progress_fn progress, void *user,
                        jf_wds_report *rep_out, jf_error *err)
{
    jf_wds_report rep = {0};
    if (!max_records)
        max_records = 10000;
    const char *pct = strchr(pattern, '%');
    if (!pct || strchr(pct + 1, '%'))
        return jf_error_set(err, JF_EARG, "output pattern '%s' needs exactly one integer conversion, like out/%%06d.tar", pattern);
    jf_scan *sc;
    jf_status s = jf_scan_create(st, &sc, err);
    if (s != JF_OK)
        return s;
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
        jf_status r = jf_scan_next(sc, rec, NULL, err);
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
        /* The WebDataset key ends at the first dot of the basename: dots there would split it. */
        snprintf(key, sizeof key, "%s", jf_record_key(rec));
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
            s = add_member(a, entry, name, sorted[i]->data, sorted[i]->size, path, err);
            rep.members++;
        }
        int m = s == JF_OK ? jf_meta_json(rec, &meta) : 0;
        if (m < 0)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else if (m > 0) {
            snprintf(name, sizeof name, "%s.jf.json", key);
            s = add_member(a, entry, name, meta.p, meta.len, path, err);
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
    jf__buf_free(&meta);
    archive_entry_free(entry);
    jf_record_destroy(rec);
    jf_scan_destroy(sc);
    if (rep_out)
        *rep_out = rep;
    return s;
}

/* ---- import ---- */

typedef struct importer {
    jf_writer *w;
    jf_problem_fn fn;
    void *user;
    const char *path;
    jf_wds_report *rep;
    jf_record *rec;
    char *cur_key;
    int has_meta;
    jf__buf meta;
    /* keys seen in this tar (to report re-appearing keys); open addressing over hashes */
    uint64_t *seen;
    size_t seen_cap, seen_n;
} importer;

static void problem(importer *im, int error, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(importer *im, int error, int64_t offset, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error)
        im->rep->errors++;
    if (im->fn) {
        jf_problem p = {error ? "error" : "warning", im->path, offset, msg};
        im->fn(im->user, &p);
    }
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h ? h : 1;
}

/* Returns 1 if the key was seen before in this tar (by hash; a collision only costs a warning). */
static int seen_before(importer *im, const char *key)
{
    if (im->seen_n * 2 >= im->seen_cap) {
        size_t cap = im->seen_cap ? im->seen_cap * 2 : 4096;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return 0;
        for (size_t i = 0; i < im->seen_cap; i++)
            if (im->seen[i]) {
                size_t j = im->seen[i] & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = im->seen[i];
            }
        free(im->seen);
        im->seen = t;
        im->seen_cap = cap;
    }
    uint64_t h = hash_key(key);
    size_t j = h & (im->seen_cap - 1);
    while (im->seen[j]) {
        if (im->seen[j] == h)
            return 1;
        j = (j + 1) & (im->seen_cap - 1);
    }
    im->seen[j] = h;
    im->seen_n++;
    return 0;
}

static jf_status apply_meta(importer *im, jf_error *err)
{
    char ebuf[256];
    jf__buf_put8(&im->meta, 0);
    yajl_val root = yajl_tree_parse((const char *)im->meta.p, ebuf, sizeof ebuf);
    if (!root || !YAJL_IS_OBJECT(root)) {
        problem(im, 1, -1, "sample '%s': jf.json is not a JSON object; ignored", im->cur_key);
        yajl_tree_free(root);
        return JF_OK;
    }
    const char *kp[] = {"kind", NULL}, *cp[] = {"columns", NULL};
    yajl_val kind = yajl_tree_get(root, kp, yajl_t_string);
    if (kind)
        jf_record_set_kind(im->rec, jf_kind_from_name(YAJL_GET_STRING(kind)));
    yajl_val cols = yajl_tree_get(root, cp, yajl_t_object);
    jf_status s = JF_OK;
    for (size_t i = 0; cols && i < cols->u.object.len && s == JF_OK; i++) {
        const char *name = cols->u.object.keys[i];
        yajl_val v = cols->u.object.values[i];
        if (YAJL_IS_INTEGER(v))
            s = jf_record_set_int(im->rec, name, YAJL_GET_INTEGER(v), err);
        else if (YAJL_IS_DOUBLE(v))
            s = jf_record_set_real(im->rec, name, YAJL_GET_DOUBLE(v), err);
        else if (YAJL_IS_STRING(v))
            s = jf_record_set_text(im->rec, name, YAJL_GET_STRING(v), err);
        else if (YAJL_IS_NULL(v))
            s = jf_record_set_text(im->rec, name, NULL, err);
    }
    yajl_tree_free(root);
    return s;
}

static jf_status emit(importer *im, jf_error *err)
{
    if (!im->cur_key)
        return JF_OK;
    jf_status s = JF_OK;
    if (jf_record_field_count(im->rec) > 0) {
        jf_record_set_kind(im->rec, jf_kind_infer(im->rec));
        if (im->has_meta)
            s = apply_meta(im, err);
        jf_error e;
        if (s == JF_OK) {
            s = jf_writer_add(im->w, im->rec, &e);
            if (s == JF_EARG || s == JF_ELIMIT) {
                problem(im, 1, -1, "sample '%s' not imported: %s", im->cur_key, e.msg);
                s = JF_OK;
            } else if (s != JF_OK) {
                if (err)
                    *err = e;
            } else {
                im->rep->samples++;
            }
        }
    }
    jf_record_reset(im->rec);
    free(im->cur_key);
    im->cur_key = NULL;
    im->has_meta = 0;
    return s;
}

jf_status jf_wds_import(jf_writer *w, const char *tar_path, jf_problem_fn on_problem, void *user, jf_wds_report *rep,
                        jf_error *err)
{
    jf_wds_report local = {0};
    if (!rep)
        rep = &local;
    importer im = {.w = w, .fn = on_problem, .user = user, .path = tar_path, .rep = rep};
    im.rec = jf_record_create();
    struct archive *a = archive_read_new();
    if (!im.rec || !a) {
        jf_record_destroy(im.rec);
        archive_read_free(a);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    jf_status s = JF_OK;
    if (archive_read_open_filename(a, tar_path, 1 << 20) != ARCHIVE_OK) {
        /* One unreadable input is a finding, not the end of an import of many. */
        problem(&im, 1, 0, "cannot read as a tar: %s", archive_error_string(a));
        goto out;
    }
    rep->tars++;
    uint8_t *data = NULL;
    size_t data_cap = 0;
    struct archive_entry *e;
    for (;;) {
        int64_t hdr_off = archive_read_header_position(a);
        int rc = archive_read_next_header(a, &e);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc == ARCHIVE_WARN)
            problem(&im, 0, hdr_off, "%s", archive_error_string(a));
        else if (rc != ARCHIVE_OK) {
            problem(&im, 1, hdr_off, "tar stops here: %s; %llu samples before it were kept%s",
                    archive_error_string(a), (unsigned long long)rep->samples,
                    im.cur_key ? ", the sample being read is dropped" : "");
            if (im.cur_key) {
                jf_record_reset(im.rec);
                free(im.cur_key);
                im.cur_key = NULL;
            }
            break;
        }
        rep->members++;
        const char *name = archive_entry_pathname(e);
        if (!name) {
            problem(&im, 1, hdr_off, "member without a usable name skipped");
            rep->skipped_members++;
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) {
            if (archive_entry_filetype(e) != AE_IFDIR) {
                problem(&im, 0, hdr_off, "member '%s' is not a regular file (link or device); skipped", name);
                rep->skipped_members++;
            } else {
                rep->members--;
            }
            continue;
        }
        /* Key and extension by the WebDataset rule: directories stay in the key, the key ends at
         * the first dot of the basename. */
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (name[0] == '/' || !strncmp(name, "../", 3) || strstr(name, "/../")) {
            problem(&im, 1, hdr_off, "member '%s' has an absolute or parent-directory path; skipped", name);
            rep->skipped_members++;
            continue;
        }
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        const char *dot = strchr(base, '.');
        if (!dot || dot == base || !dot[1]) {
            problem(&im, 0, hdr_off, "member '%s' has no key.extension name; skipped", name);
            rep->skipped_members++;
            continue;
        }
        if (!strncmp(base, "__", 2)) {
            rep->skipped_members++; /* WebDataset metadata member */
            continue;
        }
        size_t key_len = (size_t)(dot - name);
        char ext[JF__MAX_NAME + 1];
        snprintf(ext, sizeof ext, "%s", dot + 1);
        for (char *p = ext; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (key_len > JF__MAX_KEY) {
            problem(&im, 1, hdr_off, "member '%s': key longer than %u bytes; skipped", name, JF__MAX_KEY);
            rep->skipped_members++;
            continue;
        }
        if (!im.cur_key || strlen(im.cur_key) != key_len || memcmp(im.cur_key, name, key_len)) {
            if ((s = emit(&im, err)) != JF_OK)
                break;
            im.cur_key = malloc(key_len + 1);
            if (!im.cur_key) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            memcpy(im.cur_key, name, key_len);
            im.cur_key[key_len] = 0;
            if (seen_before(&im, im.cur_key))
                problem(&im, 1, hdr_off, "key '%s' appears again, apart from its first members (members of a sample must be adjacent); "
                        "these members form a second sample with the same key", im.cur_key);
            jf_record_set_key(im.rec, im.cur_key, NULL);
        }
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > JF__MAX_RECORD) {
            problem(&im, 1, hdr_off, "member '%s' is %lld bytes, over the limit; skipped", name, (long long)size);
            rep->skipped_members++;
            continue;
        }
        if ((size_t)size + 1 > data_cap) {
            uint8_t *d = realloc(data, (size_t)size + 1);
            if (!d) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            data = d;
            data_cap = (size_t)size + 1;
        }
        la_ssize_t got = 0;
        while (got < size) {
            la_ssize_t r = archive_read_data(a, data + got, (size_t)(size - got));
            if (r <= 0)
                break;
            got += r;
        }
        if (got != size) {
            problem(&im, 1, hdr_off, "member '%s' cut short (%lld of %lld bytes): %s; sample '%s' dropped", name,
                    (long long)got, (long long)size, archive_error_string(a) ? archive_error_string(a) : "end of data",
                    im.cur_key);
            jf_record_reset(im.rec);
            free(im.cur_key);
            im.cur_key = NULL;
            break;
        }
        if (!strcmp(ext, "jf.json")) {
            im.meta.len = 0;
            jf__buf_put(&im.meta, data, (size_t)size);
            im.has_meta = 1;
            continue;
        }
        jf_error fe;
        jf_status fs = jf_record_add_field(im.rec, ext, jf_field_type_for_name(ext), data, (size_t)size, &fe);
        if (fs == JF_EEXISTS) {
            problem(&im, 1, hdr_off, "sample '%s' has two '%s' members; the second is skipped", im.cur_key, ext);
            rep->skipped_members++;
        } else if (fs != JF_OK) {
            problem(&im, 1, hdr_off, "member '%s': %s; skipped", name, fe.msg);
            rep->skipped_members++;
        }
    }
    if (s == JF_OK)
        s = emit(&im, err);
    free(data);
out:
    archive_read_free(a);
    jf_record_destroy(im.rec);
    free(im.cur_key);
    free(im.seen);
    jf__buf_free(&im.meta);
    return s;
}
