/* Image sources for evaluation: a folder (recursive, sorted by path), a tarball (any format
 * and compression libarchive reads), or a jf dataset (optionally one subset: DIR#SUBSET).
 * Each image comes with a name for messages and, from datasets and WebDataset tars, its caption. */
#include "eval_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef enum { SRC_FOLDER, SRC_TAR, SRC_DATASET } src_kind;

struct jf_image_source {
    src_kind kind;
    char *spec;
    /* folder */
    char **files;
    size_t n_files, at;
    /* tar */
    struct archive *ar;
    /* dataset */
    jf_store *st;
    sqlite3_stmt *q;
    jf_record *rec;
    /* the current item */
    uint8_t *buf;
    size_t cap, len;
    char name[4200];
    char *caption;
    uint64_t total;
};

int jf__eval_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) {
        fclose(f);
        return -1;
    }
    if ((size_t)n + 1 > *cap) {
        uint8_t *b = realloc(*buf, (size_t)n + 1);
        if (!b) {
            fclose(f);
            return -1;
        }
        *buf = b;
        *cap = (size_t)n + 1;
    }
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return *len == (size_t)n ? 0 : -1;
}

static int image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const char *const exts[] = {"jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff", "JPEG"};
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (!strcasecmp(dot + 1, exts[i]))
            return 1;
    return 0;
}

static int tar_ext(const char *name)
{
    static const char *const exts[] = {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && !strcasecmp(name + n - k, exts[i]))
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(jf_image_source *s, const char *dir, int depth)
{
    if (depth > 32)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(s, path, depth + 1);
        } else if (S_ISREG(sb.st_mode) && (image_ext(e->d_name) || tar_ext(e->d_name))) {
            char **f = realloc(s->files, (s->n_files + 1) * sizeof *f);
            if (!f)
                break;
            s->files = f;
            s->files[s->n_files++] = strdup(path);
        }
    }
    closedir(d);
    return 0;
}

jf_status jf_image_source_open(const char *spec, jf_image_source **out, jf_error *err)
{
    *out = NULL;
    jf_image_source *s = calloc(1, sizeof *s);
    if (!s)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    s->spec = strdup(spec);
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *hash = strrchr(path, '#');
    const char *subset = NULL;
    struct stat sb;
    if (hash && stat(path, &sb) != 0) {
        *hash = 0;
        subset = hash + 1;
    }
    if (stat(path, &sb) != 0) {
        jf_image_source_close(s);
        return jf_error_set(err, JF_ENOTFOUND, "%s: no such file or folder", path);
    }
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/index.sqlite", path);
    jf_status st = JF_OK;
    if (S_ISDIR(sb.st_mode) && stat(idx, &sb) == 0) {
        s->kind = SRC_DATASET;
        st = jf_store_open(path, JF_STORE_READONLY, &s->st, err);
        if (!st) {
            sqlite3 *db = jf_store_db(s->st);
            const char *sql = subset ? "SELECT id, key FROM samples WHERE n_images >= 1 AND id IN (SELECT sample_id FROM "
                                       "subset_members WHERE subset_id = (SELECT id FROM subsets WHERE name = ?1)) ORDER BY id"
                                     : "SELECT id, key FROM samples WHERE n_images >= 1 ORDER BY id";
            sqlite3_stmt *has = NULL; /* a dataset never filtered has no subset tables at all */
            int no_subsets = subset && (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'subset_members'", -1,
                                                           &has, NULL) != SQLITE_OK || sqlite3_step(has) != SQLITE_ROW);
            sqlite3_finalize(has);
            if (no_subsets)
                st = jf_error_set(err, JF_ENOTFOUND, "%s: no subset named '%s': the dataset has no subsets (jf filter --into makes them)",
                                  path, subset);
            else if (sqlite3_prepare_v2(db, sql, -1, &s->q, NULL) != SQLITE_OK)
                st = jf_error_set(err, JF_EDB, "%s: %s", path, sqlite3_errmsg(db));
            else if (subset) {
                sqlite3_bind_text(s->q, 1, subset, -1, SQLITE_TRANSIENT);
                sqlite3_stmt *c;
                if (sqlite3_prepare_v2(db, "SELECT count(*) FROM subsets WHERE name = ?1", -1, &c, NULL) == SQLITE_OK) {
                    sqlite3_bind_text(c, 1, subset, -1, SQLITE_TRANSIENT);
                    if (sqlite3_step(c) != SQLITE_ROW || sqlite3_column_int(c, 0) == 0)
                        st = jf_error_set(err, JF_ENOTFOUND, "%s: no subset named '%s' (see jf filter subsets)", path, subset);
                    sqlite3_finalize(c);
                } else {
                    st = jf_error_set(err, JF_ENOTFOUND, "%s: no subsets in this dataset", path);
                }
            }
            s->rec = jf_record_create();
        }
    } else if (S_ISDIR(sb.st_mode)) {
        s->kind = SRC_FOLDER;
        walk(s, path, 0);
        qsort(s->files, s->n_files, sizeof *s->files, cmp_str);
        s->total = s->n_files;
    } else {
        s->kind = SRC_TAR;
        s->ar = archive_read_new();
        archive_read_support_format_all(s->ar);
        archive_read_support_filter_all(s->ar);
        if (archive_read_open_filename(s->ar, path, 1 << 16) != ARCHIVE_OK)
            st = jf_error_set(err, JF_EFORMAT, "%s: %s", path, archive_error_string(s->ar));
    }
    if (st) {
        jf_image_source_close(s);
        return st;
    }
    *out = s;
    return JF_OK;
}

void jf_image_source_close(jf_image_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    if (s->ar)
        archive_read_free(s->ar);
    sqlite3_finalize(s->q);
    if (s->rec)
        jf_record_destroy(s->rec);
    jf_store_close(s->st);
    free(s->buf);
    free(s->caption);
    free(s->spec);
    free(s);
}

uint64_t jf_image_source_total(const jf_image_source *s)
{
    return s->total;
}

static int reserve(jf_image_source *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    uint8_t *b = realloc(s->buf, n);
    if (!b)
        return -1;
    s->buf = b;
    s->cap = n;
    return 0;
}

/* The next image member of the open tar (JF_ENOTFOUND at its end). */
static jf_status next_tar_image(jf_image_source *s, jf_error *err)
{
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(s->ar, &e);
        if (r == ARCHIVE_EOF)
            return JF_ENOTFOUND;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return jf_error_set(err, JF_ECORRUPT, "%s: %s", s->spec, archive_error_string(s->ar));
        const char *nm = archive_entry_pathname(e);
        if (archive_entry_filetype(e) == AE_IFREG && nm && image_ext(nm))
            break;
    }
    snprintf(s->name, sizeof s->name, "%s:%s", s->spec, archive_entry_pathname(e));
    size_t want = archive_entry_size_is_set(e) ? (size_t)archive_entry_size(e) : 0;
    s->len = 0;
    if (reserve(s, want ? want + 1 : 1 << 20))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    for (;;) {
        if (s->len == s->cap && reserve(s, s->cap * 2))
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        la_ssize_t got = archive_read_data(s->ar, s->buf + s->len, s->cap - s->len);
        if (got < 0)
            return jf_error_set(err, JF_ECORRUPT, "%s: %s", s->name, archive_error_string(s->ar));
        if (got == 0)
            break;
        s->len += (size_t)got;
    }
    return JF_OK;
}

jf_status jf_image_source_next(jf_image_source *s, jf_image_item *item, jf_error *err)
{
    memset(item, 0, sizeof *item);
    free(s->caption);
    s->caption = NULL;
    if (s->kind == SRC_FOLDER) {
        /* tars inside the folder (WebDataset shards) are read member by member */
        while (s->ar || (s->at < s->n_files && tar_ext(s->files[s->at]))) {
            if (!s->ar) {
                s->ar = archive_read_new();
                archive_read_support_format_all(s->ar);
                archive_read_support_filter_all(s->ar);
                free(s->spec);
                s->spec = strdup(s->files[s->at++]);
                if (archive_read_open_filename(s->ar, s->spec, 1 << 16) != ARCHIVE_OK) {
                    jf_status st = jf_error_set(err, JF_EFORMAT, "%s: %s", s->spec, archive_error_string(s->ar));
                    archive_read_free(s->ar);
                    s->ar = NULL;
                    return st;
                }
            }
            jf_status st = next_tar_image(s, err);
            if (st != JF_ENOTFOUND) {
                if (!st) {
                    item->data = s->buf;
                    item->size = s->len;
                    item->name = s->name;
                    item->caption = s->caption;
                }
                return st;
            }
            archive_read_free(s->ar);
            s->ar = NULL;
        }
        if (s->at >= s->n_files)
            return JF_ENOTFOUND;
        const char *p = s->files[s->at++];
        snprintf(s->name, sizeof s->name, "%s", p);
        if (jf__eval_read_file(p, &s->buf, &s->cap, &s->len))
            return jf_error_set(err, JF_EIO, "%s: cannot read", p);
        /* a caption beside the image (WebDataset folder layout: same stem, .txt) */
        char cap[4200];
        snprintf(cap, sizeof cap, "%s", p);
        char *dot = strrchr(cap, '.');
        if (dot) {
            snprintf(dot, sizeof cap - (size_t)(dot - cap), ".txt");
            FILE *c = fopen(cap, "rb");
            if (c) {
                char tb[8192];
                size_t m = fread(tb, 1, sizeof tb - 1, c);
                tb[m] = 0;
                fclose(c);
                s->caption = strdup(tb);
            }
        }
    } else if (s->kind == SRC_TAR) {
        jf_status st = next_tar_image(s, err);
        if (st)
            return st;
    } else {
        int r = sqlite3_step(s->q);
        if (r == SQLITE_DONE)
            return JF_ENOTFOUND;
        if (r != SQLITE_ROW)
            return jf_error_set(err, JF_EDB, "%s: %s", s->spec, sqlite3_errmsg(jf_store_db(s->st)));
        snprintf(s->name, sizeof s->name, "%s", (const char *)sqlite3_column_text(s->q, 1));
        jf_status st = jf_store_get_row(s->st, sqlite3_column_int64(s->q, 0), s->rec, err);
        if (st)
            return st;
        const jf_field *img = NULL, *txt = NULL;
        for (size_t i = 0; i < jf_record_field_count(s->rec); i++) {
            const jf_field *f = jf_record_field(s->rec, i);
            if (f->type == JF_FIELD_IMAGE && !img)
                img = f;
            if (f->type == JF_FIELD_TEXT && !txt && (!strcmp(f->name, "txt") || !strcmp(f->name, "caption")))
                txt = f;
        }
        if (!img)
            return jf_error_set(err, JF_ENOTFOUND, "%s: the record has no image field", s->name);
        if (reserve(s, img->size + 1))
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        memcpy(s->buf, img->data, img->size);
        s->len = img->size;
        if (txt) {
            s->caption = malloc(txt->size + 1);
            if (s->caption) {
                memcpy(s->caption, txt->data, txt->size);
                s->caption[txt->size] = 0;
            }
        }
    }
    item->data = s->buf;
    item->size = s->len;
    item->name = s->name;
    item->caption = s->caption;
    return JF_OK;
}
