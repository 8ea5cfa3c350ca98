/* verify, reindex, merge and gc: keeping record files and the index in agreement. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct reporter {
    jf_problem_fn fn;
    void *user;
    uint64_t errors, warnings;
} reporter;

__attribute__((format(printf, 5, 6))) static void report(reporter *r, int error, const char *path, int64_t offset,
                                                         const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error)
        r->errors++;
    else
        r->warnings++;
    if (r->fn) {
        jf_problem p = {error ? "error" : "warning", path, offset, msg};
        r->fn(r->user, &p);
    }
}

/* Names in DIR/shards ending in .jfr or .jfr.partial, sorted. */
typedef jf__name_list name_list;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static jf_status list_shard_files(const char *dir, name_list *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (jf__remote_is_url(dir)) { /* read-only: the server's listing, when it gives one */
        char why[1100];
        jf_status s = jf__remote_list_shards(dir, out, why, sizeof why, err);
        if (s == JF_OK && why[0])
            return jf_error_set(err, JF_ENOTFOUND, "%s", why);
        if (s == JF_OK)
            qsort(out->v, out->n, sizeof *out->v, cmp_str);
        return s;
    }
    char *sd = jf__path_join(dir, "shards");
    if (!sd)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    DIR *dh = opendir(sd);
    if (!dh) {
        jf_status s = errno == ENOENT ? JF_OK : jf__errno(err, errno, "cannot list", sd, -1);
        free(sd);
        return s;
    }
    free(sd);
    struct dirent *de;
    size_t cap = 0;
    while ((de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        int jfr = n > 4 && !strcmp(de->d_name + n - 4, ".jfr");
        int partial = n > 12 && !strcmp(de->d_name + n - 12, ".jfr.partial");
        if (!jfr && !partial)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                closedir(dh);
                names_free(out);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            out->v = v;
        }
        char rel[600];
        snprintf(rel, sizeof rel, "shards/%s", de->d_name);
        if (!(out->v[out->n++] = jf__strdup(rel))) {
            closedir(dh);
            names_free(out);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
    }
    closedir(dh);
    qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return JF_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* ---- verify ---- */

typedef struct idx_row {
    int64_t id;
    char *key;
    char *kind;
    uint64_t offset, length;
} idx_row;

static jf_status verify_shard(jf_store *st, reporter *rp, int64_t shard_id, const char *rel, uint64_t bytes,
                              uint64_t records, const char *xxh_hex, jf_verify_report *rep, jf_progress_fn progress,
                              void *user, uint64_t *done, uint64_t total, jf_error *err)
{
    /* The index rows of this shard, in offset order. */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT id, key, kind, offset, length FROM samples WHERE shard_id=? ORDER BY offset",
                           -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(st->db, err, "reading samples");
    sqlite3_bind_int64(q, 1, shard_id);
    idx_row *rows = NULL;
    size_t n_rows = 0, cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (n_rows == cap) {
            cap = cap ? cap * 2 : 1024;
            idx_row *r = realloc(rows, cap * sizeof *r);
            if (!r) {
                sqlite3_finalize(q);
                free(rows);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            rows = r;
        }
        rows[n_rows].id = sqlite3_column_int64(q, 0);
        rows[n_rows].key = jf__strdup((const char *)sqlite3_column_text(q, 1));
        rows[n_rows].kind = jf__strdup((const char *)sqlite3_column_text(q, 2));
        rows[n_rows].offset = (uint64_t)sqlite3_column_int64(q, 3);
        rows[n_rows].length = (uint64_t)sqlite3_column_int64(q, 4);
        n_rows++;
    }
    sqlite3_finalize(q);
    rep->index_rows += n_rows;

    char *path = jf__path_join(st->dir, rel);
    jf_jfr *f = NULL;
    jf_error e;
    jf_status s = path ? jf_jfr_open(path, st->dicts, &f, &e) : jf_error_set(&e, JF_ENOMEM, "out of memory");
    uint64_t errors_before = rp->errors;
    if (s != JF_OK) {
        report(rp, 1, rel, -1, "cannot open listed shard: %s (its %zu index rows point nowhere)", e.msg, n_rows);
    } else {
        const jf_jfr_info *info = jf_jfr_get_info(f);
        if (!info->complete)
            report(rp, 1, rel, (int64_t)info->file_bytes,
                   "no valid footer: the file is truncated or damaged (%llu bytes, the index says %llu)",
                   (unsigned long long)info->file_bytes, (unsigned long long)bytes);
        else {
            if (info->file_bytes != bytes)
                report(rp, 1, rel, -1, "file has %llu bytes, the index says %llu", (unsigned long long)info->file_bytes,
                       (unsigned long long)bytes);
            if (info->records != records)
                report(rp, 1, rel, -1, "footer lists %llu records, the index says %llu",
                       (unsigned long long)info->records, (unsigned long long)records);
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info->xxh64);
            if (xxh_hex && strcmp(hex, xxh_hex))
                report(rp, 1, rel, -1, "footer checksum %s, the index says %s", hex, xxh_hex);
            if (jf_jfr_check_file_hash(f, &e) != JF_OK)
                report(rp, 1, rel, -1, "%s", e.msg);
        }
        /* Scan every record; match it with the footer's offsets and the index rows. */
        const uint64_t *foffs = jf_jfr_offsets(f);
        jf_record *rec = jf_record_create();
        size_t ri = 0, fi = 0;
        uint64_t scanned = 0;
        for (;;) {
            jf_record_pos pos;
            s = jf_jfr_next(f, rec, &pos, &e);
            if (s == JF_ENOTFOUND)
                break;
            if (s != JF_OK) {
                report(rp, 1, rel, (int64_t)pos.offset, "%s", e.msg);
                uint64_t to;
                if (jf_jfr_resync(f, &to) != JF_OK)
                    break;
                continue;
            }
            scanned++;
            rep->records++;
            rep->records_ok++;
            if (foffs) {
                while (fi < info->records && foffs[fi] < pos.offset) {
                    report(rp, 1, rel, (int64_t)foffs[fi], "footer lists a record here that the scan did not find");
                    fi++;
                }
                if (fi < info->records && foffs[fi] == pos.offset)
                    fi++;
                else
                    report(rp, 1, rel, (int64_t)pos.offset, "record not listed in the footer");
            }
            while (ri < n_rows && rows[ri].offset < pos.offset) {
                report(rp, 1, rel, (int64_t)rows[ri].offset,
                       "index row %lld (key '%s') points to no record start", (long long)rows[ri].id, rows[ri].key);
                ri++;
            }
            if (ri < n_rows && rows[ri].offset == pos.offset) {
                idx_row *r = &rows[ri++];
                if (r->length != pos.length)
                    report(rp, 1, rel, (int64_t)pos.offset, "index row %lld says %llu bytes, record has %llu",
                           (long long)r->id, (unsigned long long)r->length, (unsigned long long)pos.length);
                if (strcmp(r->key, jf_record_key(rec)))
                    report(rp, 1, rel, (int64_t)pos.offset, "index row %lld has key '%s', record has '%s'",
                           (long long)r->id, r->key, jf_record_key(rec));
                if (strcmp(r->kind, jf_kind_name(jf_record_kind(rec))))
                    report(rp, 1, rel, (int64_t)pos.offset, "index row %lld has kind %s, record has %s",
                           (long long)r->id, r->kind, jf_kind_name(jf_record_kind(rec)));
            } else {
                report(rp, 1, rel, (int64_t)pos.offset, "record '%s' has no index row", jf_record_key(rec));
            }
            if (progress && scanned % 256 == 0)
                progress(user, *done + pos.offset, total);
        }
        for (; ri < n_rows; ri++)
            report(rp, 1, rel, (int64_t)rows[ri].offset, "index row %lld (key '%s', %llu bytes) points past the last readable record",
                   (long long)rows[ri].id, rows[ri].key, (unsigned long long)rows[ri].length);
        for (; foffs && fi < info->records; fi++)
            report(rp, 1, rel, (int64_t)foffs[fi], "footer lists a record here that the scan did not reach");
        jf_record_destroy(rec);
        *done += info->file_bytes;
    }
    if (rp->errors == errors_before)
        rep->shards_ok++;
    for (size_t i = 0; i < n_rows; i++) {
        free(rows[i].key);
        free(rows[i].kind);
    }
    free(rows);
    free(path);
    jf_jfr_close(f);
    return JF_OK;
}

jf_status jf_store_verify(jf_store *st, jf_problem_fn on_problem, jf_progress_fn progress, void *user,
                          jf_verify_report *report_out, jf_error *err)
{
    jf_verify_report rep = {0};
    reporter rp = {on_problem, user, 0, 0};
    name_list files;
    jf_error le = {0};
    jf_status s = list_shard_files(st->dir, &files, &le);
    int remote = jf__remote_is_url(st->dir);
    rep.folder_listed = s == JF_OK;
    if (s == JF_ENOTFOUND && remote) { /* the server lists no folders: the files are still all read */
        report(&rp, 0, "shards/", -1,
               "the server gives no listing of the shards folder (%s): record files that the index does not list "
               "were not looked for",
               le.msg);
        s = JF_OK;
    } else if (s != JF_OK) {
        if (err)
            *err = le;
        return s;
    }
    char *seen = calloc(files.n ? files.n : 1, 1);
    sqlite3_stmt *q = NULL;
    uint64_t total = 0, done = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT sum(bytes) FROM shards WHERE state='complete'", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        total = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (!seen || sqlite3_prepare_v2(st->db, "SELECT id, path, state, bytes, records, xxh64, writer FROM shards ORDER BY id",
                                    -1, &q, NULL) != SQLITE_OK) {
        free(seen);
        names_free(&files);
        return seen ? jf__db_err(st->db, err, "reading shards") : jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        const char *rel = (const char *)sqlite3_column_text(q, 1);
        const char *state = (const char *)sqlite3_column_text(q, 2);
        const char *writer = (const char *)sqlite3_column_text(q, 6);
        char partial[600];
        snprintf(partial, sizeof partial, "%s.partial", rel);
        int final_exists = 0;
        for (size_t i = 0; i < files.n; i++) {
            if (!strcmp(files.v[i], rel))
                seen[i] = 1, final_exists = 1;
            else if (!strcmp(files.v[i], partial))
                seen[i] = 1;
        }
        if (!strcmp(state, "complete")) {
            rep.shards++;
            s = verify_shard(st, &rp, id, rel, (uint64_t)sqlite3_column_int64(q, 3),
                             (uint64_t)sqlite3_column_int64(q, 4), (const char *)sqlite3_column_text(q, 5), &rep,
                             progress, user, &done, total, err);
        } else {
            if (final_exists)
                report(&rp, 1, rel, -1,
                       "finalized on disk but not indexed (the writer %s stopped between rename and index commit); "
                       "`jf shard reindex` adds it",
                       writer ? writer : "?");
            else {
                rep.partial_files++;
                report(&rp, 0, partial, -1, "partial shard of writer %s, not listed (still writing, or killed; "
                       "`jf shard gc` removes abandoned ones)", writer ? writer : "?");
            }
        }
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < files.n && s == JF_OK; i++) {
        if (seen[i])
            continue;
        if (ends_with(files.v[i], ".partial")) {
            rep.partial_files++;
            report(&rp, 0, files.v[i], -1, "partial shard with no index row, not listed");
        } else {
            report(&rp, 1, files.v[i], -1, "record file not in the index (`jf shard reindex` adds it)");
        }
    }
    /* Rows pointing at shards the index does not know. */
    if (s == JF_OK && sqlite3_prepare_v2(st->db,
                                         "SELECT count(*), min(s.shard_id) FROM samples s LEFT JOIN shards h ON h.id = s.shard_id "
                                         "WHERE h.id IS NULL OR h.state <> 'complete'",
                                         -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0)
            report(&rp, 1, "index.sqlite", -1, "%lld sample rows belong to no complete shard (first: shard %lld)",
                   (long long)sqlite3_column_int64(q, 0), (long long)sqlite3_column_int64(q, 1));
        sqlite3_finalize(q);
    }
    free(seen);
    names_free(&files);
    rep.errors = rp.errors;
    rep.warnings = rp.warnings;
    if (report_out)
        *report_out = rep;
    return s;
}

/* ---- reindex ---- */

static jf_status reindex_file(jf_store *ns, jf_writer *recover, reporter *rp, const char *rel, int partial,
                              jf_reindex_report *rep, jf_error *err)
{
    char *path = jf__path_join(ns->dir, rel);
    jf_jfr *f = NULL;
    jf_error e;
    if (!path)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    if (jf_jfr_open(path, ns->dicts, &f, &e) != JF_OK) {
        report(rp, 1, rel, -1, "skipped: %s", e.msg);
        rep->skipped_files++;
        free(path);
        return JF_OK;
    }
    const jf_jfr_info *info = jf_jfr_get_info(f);
    if (!partial && !info->complete) {
        report(rp, 1, rel, -1, "skipped: no valid footer (truncated or damaged); rename it to .partial and use --recover-partial to save its records");
        rep->skipped_files++;
        jf_jfr_close(f);
        free(path);
        return JF_OK;
    }
    jf__row *rows = NULL;
    size_t n = 0, cap = 0;
    jf_record *rec = jf_record_create();
    jf_status s = rec ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    while (s == JF_OK) {
        jf_record_pos pos;
        jf_status r = jf_jfr_next(f, rec, &pos, &e);
        if (r == JF_ENOTFOUND)
            break;
        if (r != JF_OK) {
            rep->damaged_records++;
            report(rp, 1, rel, (int64_t)pos.offset, "damaged record skipped: %s", e.msg);
            if (jf_jfr_resync(f, NULL) != JF_OK)
                break;
            continue;
        }
        if (partial) {
            s = jf_writer_add(recover, rec, err);
            rep->records++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            jf__row *nr = realloc(rows, cap * sizeof *nr);
            if (!nr) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
        }
        if (jf__row_from_record(&rows[n], rec, pos.offset, pos.length) != JF_OK) {
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    if (s == JF_OK && !partial) {
        /* The shard id comes from the file name so that ids survive a reindex. */
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        char *end;
        long long id = strtoll(base, &end, 10);
        s = jf__db_exec(ns->db, "BEGIN IMMEDIATE", err);
        sqlite3_stmt *q = NULL;
        if (s == JF_OK &&
            sqlite3_prepare_v2(ns->db,
                               "INSERT INTO shards(id,path,state,bytes,records,xxh64,uuid,dict_id,writer,created_at,finalized_at) "
                               "VALUES(?,?,'complete',?,?,?,?,?,'reindex',?,?)",
                               -1, &q, NULL) != SQLITE_OK)
            s = jf__db_err(ns->db, err, "adding shard");
        if (s == JF_OK) {
            char hex[17], uuid[33];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info->xxh64);
            jf__hex(info->uuid, 16, uuid);
            if (*end == '.' && id > 0)
                sqlite3_bind_int64(q, 1, id);
            else
                sqlite3_bind_null(q, 1);
            sqlite3_bind_text(q, 2, rel, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, (sqlite3_int64)info->file_bytes);
            sqlite3_bind_int64(q, 4, (sqlite3_int64)n);
            sqlite3_bind_text(q, 5, hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, 6, uuid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 7, info->dict_id);
            sqlite3_bind_double(q, 8, jf__now());
            sqlite3_bind_double(q, 9, jf__now());
            if (sqlite3_step(q) != SQLITE_DONE)
                s = jf__db_err(ns->db, err, "adding shard");
        }
        sqlite3_finalize(q);
        if (s == JF_OK)
            s = jf__insert_rows(ns->db, sqlite3_last_insert_rowid(ns->db), rows, n, err);
        if (s == JF_OK)
            s = jf__db_exec(ns->db, "COMMIT", err);
        else
            jf__db_exec(ns->db, "ROLLBACK", NULL);
        if (s == JF_OK) {
            rep->shards++;
            rep->records += n;
        }
    }
    for (size_t i = 0; i < n; i++)
        jf__row_free(&rows[i]);
    free(rows);
    jf_record_destroy(rec);
    jf_jfr_close(f);
    if (s == JF_OK && partial) {
        if (unlink(path) == 0)
            report(rp, 0, rel, -1, "intact records recovered into a new shard; partial file removed");
    }
    free(path);
    return s;
}

static void unlink_db(const char *path)
{
    char tmp[4200];
    unlink(path);
    snprintf(tmp, sizeof tmp, "%s-wal", path);
    unlink(tmp);
    snprintf(tmp, sizeof tmp, "%s-shm", path);
    unlink(tmp);
}

static int rename_db(const char *from, const char *to)
{
    char a[4200], b[4200];
    if (rename(from, to) != 0)
        return -1;
    static const char *const sfx[] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s%s", from, sfx[i]);
        snprintf(b, sizeof b, "%s%s", to, sfx[i]);
        if (rename(a, b) != 0 && errno != ENOENT)
            return -1;
    }
    return 0;
}

jf_status jf_store_reindex(const char *dir, int recover_partial, jf_problem_fn on_problem, jf_progress_fn progress,
                           void *user, jf_reindex_report *report_out, jf_error *err)
{
    jf_reindex_report rep = {0};
    reporter rp = {on_problem, user, 0, 0};
    name_list files;
    jf_status s = list_shard_files(dir, &files, err);
    if (s != JF_OK)
        return s;
    char *old_path = jf__path_join(dir, "index.sqlite");
    char *new_path = jf__path_join(dir, "index.sqlite.new");
    char *bak_path = jf__path_join(dir, "index.sqlite.bak");
    jf_store *ns = calloc(1, sizeof *ns);
    if (!old_path || !new_path || !bak_path || !ns) {
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
        goto done;
    }
    unlink_db(new_path);
    ns->dir = jf__strdup(dir);
    ns->index_path = jf__strdup(new_path);
    ns->dicts = jf_dicts_create();
    ns->writable = 1;
    if (!ns->dir || !ns->index_path || !ns->dicts) {
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
        goto done;
    }
    if ((s = jf__index_open(new_path, 1, &ns->db, err)) != JF_OK || (s = jf__index_init(ns->db, err)) != JF_OK)
        goto done;
    char *dd = jf__path_join(dir, "dicts");
    s = dd ? jf_dicts_load_dir(ns->dicts, dd, err) : jf_error_set(err, JF_ENOMEM, "out of memory");
    free(dd);
    for (size_t i = 0; s == JF_OK && i < jf__dicts_count(ns->dicts); i++) {
        uint32_t id = jf__dicts_id_at(ns->dicts, i);
        size_t size;
        const uint8_t *b = jf__dicts_bytes(ns->dicts, id, &size);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(ns->db, "INSERT OR IGNORE INTO dicts(id,data,bytes,created_at) VALUES(?,?,?,?)", -1, &q,
                               NULL) != SQLITE_OK) {
            s = jf__db_err(ns->db, err, "storing dictionary");
            break;
        }
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_blob(q, 2, b, (int)size, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)size);
        sqlite3_bind_double(q, 4, jf__now() + i * 1e-6);
        if (sqlite3_step(q) != SQLITE_DONE)
            s = jf__db_err(ns->db, err, "storing dictionary");
        sqlite3_finalize(q);
    }
    for (size_t i = 0; s == JF_OK && i < files.n; i++) {
        if (progress)
            progress(user, i, files.n);
        if (ends_with(files.v[i], ".partial")) {
            if (!recover_partial) {
                report(&rp, 0, files.v[i], -1, "partial shard left out (use --recover-partial to keep its intact records)");
                rep.skipped_files++;
            }
            continue;
        }
        s = reindex_file(ns, NULL, &rp, files.v[i], 0, &rep, err);
    }
    if (s == JF_OK && recover_partial) {
        jf_writer_params wp = jf_writer_default_params();
        wp.use_dict = 1;
        jf_writer *w = NULL;
        s = jf_writer_create(ns, &wp, &w, err);
        for (size_t i = 0; s == JF_OK && i < files.n; i++)
            if (ends_with(files.v[i], ".partial"))
                s = reindex_file(ns, w, &rp, files.v[i], 1, &rep, err);
        if (w) {
            jf_writer_stats ws = jf_writer_get_stats(w);
            if (s == JF_OK)
                s = jf_writer_close(w, err);
            else
                jf_writer_abort(w);
            rep.shards += ws.shards;
        }
    }
    if (s == JF_OK) {
        sqlite3_close(ns->db);
        ns->db = NULL;
        struct stat sb;
        if (stat(old_path, &sb) == 0) {
            unlink_db(bak_path);
            if (rename_db(old_path, bak_path) != 0)
                s = jf__errno(err, errno, "cannot move the old index aside", old_path, -1);
        }
        if (s == JF_OK && rename_db(new_path, old_path) != 0)
            s = jf__errno(err, errno, "cannot move the new index into place", new_path, -1);
    }
done:
    if (ns) {
        sqlite3_close(ns->db);
        ns->db = NULL;
        jf_store_close(ns);
    }
    if (s != JF_OK && new_path)
        unlink_db(new_path);
    free(old_path);
    free(new_path);
    free(bak_path);
    names_free(&files);
    if (report_out)
        *report_out = rep;
    return s;
}

/* ---- merge ---- */

static jf_status copy_file(const char *from, const char *to, jf_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return jf__errno(err, errno, "cannot open", from, -1);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        jf_status s = jf__errno(err, errno, "cannot create", to, -1);
        close(in);
        return s;
    }
    jf_status s = JF_OK;
    static __thread uint8_t buf[1 << 20];
    uint64_t off = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s = jf__errno(err, errno, "read failed", from, (int64_t)off);
            break;
        }
        if (r == 0)
            break;
        if ((s = jf__write_all(out, buf, (size_t)r, to, off, err)) != JF_OK)
            break;
        off += (uint64_t)r;
    }
    if (s == JF_OK && fdatasync(out) != 0)
        s = jf__errno(err, errno, "fsync failed", to, -1);
    close(in);
    close(out);
    if (s != JF_OK)
        unlink(to);
    return s;
}

static void meta_value(sqlite3 *db, const char *name, char *out, size_t n)
{
    sqlite3_stmt *q = NULL;
    *out = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM jf_meta WHERE name = ?1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

jf_status jf_store_set_part(jf_store *st, const char *job, unsigned k, unsigned n, jf_error *err)
{
    char part[32], old_job[64], old_part[64];
    snprintf(part, sizeof part, "%u/%u", k, n);
    meta_value(st->db, "part_job", old_job, sizeof old_job);
    meta_value(st->db, "part", old_part, sizeof old_part);
    if (*old_job && (strcmp(old_job, job) || strcmp(old_part, part)))
        return jf_error_set(err, JF_EARG,
                            "%s holds part %s of job %s; this run is part %s of job %s (other inputs or part count): "
                            "give each job its own folders",
                            st->dir, old_part, old_job, part, job);
    char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO jf_meta(name, value) VALUES('part_job', %Q), ('part', %Q)", job, part);
    char *e = NULL;
    jf_status s = sqlite3_exec(st->db, sql, NULL, NULL, &e) == SQLITE_OK ? JF_OK
                                                                        : jf_error_set(err, JF_EDB, "recording the part: %s", e ? e : "");
    sqlite3_free(e);
    sqlite3_free(sql);
    return s;
}

/* src is part K/N of job J (ingest --part records it): dst may hold parts of job J only, and part
 * K/N from this folder only; the parts merged are listed in dst's merged_parts. */
static jf_status check_part(jf_store *dst, jf_store *src, jf_error *err)
{
    char job[64], part[64];
    meta_value(src->db, "part_job", job, sizeof job);
    meta_value(src->db, "part", part, sizeof part);
    if (!*job)
        return JF_OK;
    char *e = NULL;
    if (sqlite3_exec(dst->db, "CREATE TABLE IF NOT EXISTS merged_parts(job TEXT NOT NULL, part TEXT NOT NULL, source TEXT NOT NULL,"
                              " merged_at REAL, PRIMARY KEY(job, part))",
                     NULL, NULL, &e) != SQLITE_OK) {
        jf_status s = jf_error_set(err, JF_EDB, "%s: %s", dst->index_path, e ? e : "");
        sqlite3_free(e);
        return s;
    }
    sqlite3_stmt *q = NULL;
    jf_status s = JF_OK;
    if (sqlite3_prepare_v2(dst->db, "SELECT job, part, source FROM merged_parts", -1, &q, NULL) == SQLITE_OK) {
        while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
            const char *j = (const char *)sqlite3_column_text(q, 0), *p = (const char *)sqlite3_column_text(q, 1),
                       *from = (const char *)sqlite3_column_text(q, 2);
            if (strcmp(j, job))
                s = jf_error_set(err, JF_EARG,
                                 "%s is part %s of job %s; %s holds parts of job %s (other inputs or part count): not merged",
                                 src->dir, part, job, dst->dir, j);
            else if (!strcmp(p, part) && strcmp(from, src->dir))
                s = jf_error_set(err, JF_EARG, "%s is part %s of job %s, which %s already took from %s: the same part twice "
                                               "(overlapping samples): not merged",
                                 src->dir, part, job, dst->dir, from);
        }
    }
    sqlite3_finalize(q);
    if (s != JF_OK)
        return s;
    char *sql = sqlite3_mprintf("INSERT OR IGNORE INTO merged_parts(job, part, source, merged_at) VALUES(%Q, %Q, %Q, "
                                "strftime('%%s','now'))",
                                job, part, src->dir);
    if (sqlite3_exec(dst->db, sql, NULL, NULL, &e) != SQLITE_OK)
        s = jf_error_set(err, JF_EDB, "%s: %s", dst->index_path, e ? e : "");
    sqlite3_free(e);
    sqlite3_free(sql);
    return s;
}

size_t jf_store_missing_parts(jf_store *st, char *buf, size_t n)
{
    if (n)
        *buf = 0;
    sqlite3_stmt *q = NULL;
    size_t missing = 0, used = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT job, group_concat(part, ' ') FROM merged_parts GROUP BY job", -1, &q, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return 0;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *job = (const char *)sqlite3_column_text(q, 0), *parts = (const char *)sqlite3_column_text(q, 1);
        unsigned k, total = 0;
        if (!parts || sscanf(parts, "%u/%u", &k, &total) != 2 || total == 0 || total > 1000000)
            continue;
        for (unsigned i = 0; i < total; i++) {
            char want[32];
            snprintf(want, sizeof want, "%u/%u", i, total);
            int found = 0;
            for (const char *p = parts; p && *p && !found;) {
                size_t l = strcspn(p, " ");
                found = l == strlen(want) && !strncmp(p, want, l);
                p += l + (p[l] == ' ');
            }
            if (!found) {
                if (missing < 64 && used + 48 < n)
                    used += (size_t)snprintf(buf + used, n - used, "%s%s (job %s)", missing ? ", " : "", want, job);
                missing++;
            }
        }
    }
    sqlite3_finalize(q);
    return missing;
}

jf_status jf_store_merge(jf_store *dst, const char *src_dir, jf_merge_mode mode, jf_merge_report *rep_out,
                         jf_error *err)
{
    jf_merge_report rep = {0};
    jf_store *src = NULL;
    jf_status s = jf_store_open(src_dir, JF_STORE_READONLY, &src, err);
    if (s != JF_OK)
        return s;
    if (!strcmp(src->dir, dst->dir)) {
        jf_store_close(src);
        return jf_error_set(err, JF_EARG, "cannot merge a dataset into itself");
    }
    sqlite3 *db = dst->db;
    /* A part of a job array joins only the parts of the same job, each part once. */
    if (s == JF_OK)
        s = check_part(dst, src, err);
    /* Dictionaries first: every merged shard must be readable in dst. */
    for (size_t i = 0; s == JF_OK && i < jf__dicts_count(src->dicts); i++) {
        uint32_t id = jf__dicts_id_at(src->dicts, i);
        size_t size;
        const uint8_t *b = jf__dicts_bytes(src->dicts, id, &size);
        if (jf__dicts_get(dst->dicts, id))
            continue;
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO dicts(id,data,bytes,created_at) VALUES(?,?,?,?)", -1, &q, NULL) != SQLITE_OK) {
            s = jf__db_err(db, err, "storing dictionary");
            break;
        }
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_blob(q, 2, b, (int)size, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)size);
        sqlite3_bind_double(q, 4, jf__now());
        if (sqlite3_step(q) != SQLITE_DONE)
            s = jf__db_err(db, err, "storing dictionary");
        sqlite3_finalize(q);
        char name[64];
        snprintf(name, sizeof name, "dicts/%u.zdict", id);
        char *p = jf__path_join(dst->dir, name);
        if (s == JF_OK)
            s = p ? jf__write_file_atomic(p, b, size, err) : jf_error_set(err, JF_ENOMEM, "out of memory");
        free(p);
        if (s == JF_OK)
            s = jf_dicts_add(dst->dicts, b, size, NULL, err);
        if (s == JF_OK)
            rep.dicts++;
    }
    /* Columns: same types on both sides, or refuse before anything is copied. */
    sqlite3_stmt *q = NULL;
    char **cols = NULL;
    size_t n_cols = 0;
    if (s == JF_OK && sqlite3_prepare_v2(src->db, "SELECT name, type, description FROM columns ORDER BY name", -1, &q, NULL) != SQLITE_OK)
        s = jf__db_err(src->db, err, "reading columns");
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        const char *type = (const char *)sqlite3_column_text(q, 1);
        jf_col_type t = !strcmp(type, "INTEGER") ? JF_COL_INT : !strcmp(type, "REAL") ? JF_COL_REAL : JF_COL_TEXT;
        jf_col_type have = jf__column_type(db, name);
        if (have != JF_COL_NULL && have != t)
            s = jf_error_set(err, JF_EARG, "column '%s' is %s in %s and %s here; nothing merged", name, type, src_dir,
                             jf__col_sql_type(have));
        else if (have == JF_COL_NULL)
            s = jf_store_ensure_column(dst, name, t, (const char *)sqlite3_column_text(q, 2), err);
        char **nc = s == JF_OK ? realloc(cols, (n_cols + 1) * sizeof *nc) : NULL;
        if (s == JF_OK && !nc)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        if (s == JF_OK) {
            cols = nc;
            cols[n_cols++] = jf__strdup(name);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    /* One INSERT ... SELECT per shard through an attached copy of the source index. */
    char *attach = NULL;
    if (s == JF_OK) {
        attach = sqlite3_mprintf("ATTACH DATABASE %Q AS src", src->index_path);
        s = attach ? jf__db_exec(db, attach, err) : jf_error_set(err, JF_ENOMEM, "out of memory");
        sqlite3_free(attach);
    }
    int attached = s == JF_OK;
    if (s == JF_OK)
        s = jf__db_exec(db, "INSERT OR IGNORE INTO main.sources(name, info, created_at) SELECT name, info, created_at FROM src.sources", err);
    rep.sources = (uint64_t)sqlite3_changes(db);
    jf__buf ins = {0};
    if (s == JF_OK) {
        static const char head[] = "INSERT INTO main.samples(key,kind,shard_id,offset,length,source_id";
        static const char mid[] = ") SELECT s.key, s.kind, ?1, s.offset, s.length, (SELECT m.id FROM main.sources m "
                                  "JOIN src.sources o ON o.name = m.name WHERE o.id = s.source_id)";
        static const char tail[] = " FROM src.samples s WHERE s.shard_id = ?2 ORDER BY s.offset";
        int bad = jf__buf_put(&ins, head, strlen(head));
        for (size_t i = 0; i < n_cols && !bad; i++) {
            char t[96];
            snprintf(t, sizeof t, ",\"%s\"", cols[i]);
            bad = jf__buf_put(&ins, t, strlen(t));
        }
        bad = bad || jf__buf_put(&ins, mid, strlen(mid));
        for (size_t i = 0; i < n_cols && !bad; i++) {
            char t[96];
            snprintf(t, sizeof t, ",s.\"%s\"", cols[i]);
            bad = jf__buf_put(&ins, t, strlen(t));
        }
        bad = bad || jf__buf_put(&ins, tail, sizeof tail); /* with its NUL */
        if (bad)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (s == JF_OK && sqlite3_prepare_v2(src->db,
                                         "SELECT id, path, bytes, records, xxh64, uuid, dict_id, writer, created_at, finalized_at "
                                         "FROM shards WHERE state='complete' ORDER BY id",
                                         -1, &q, NULL) != SQLITE_OK)
        s = jf__db_err(src->db, err, "reading shards");
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        int64_t old_id = sqlite3_column_int64(q, 0);
        const char *uuid = (const char *)sqlite3_column_text(q, 5);
        /* A shard merged before (same uuid) is not merged again. */
        sqlite3_stmt *dup;
        int exists = 0;
        if (uuid && sqlite3_prepare_v2(db, "SELECT 1 FROM main.shards WHERE uuid=?", -1, &dup, NULL) == SQLITE_OK) {
            sqlite3_bind_text(dup, 1, uuid, -1, SQLITE_STATIC);
            exists = sqlite3_step(dup) == SQLITE_ROW;
            sqlite3_finalize(dup);
        }
        if (exists)
            continue;
        if ((s = jf__db_exec(db, "BEGIN IMMEDIATE", err)) != JF_OK)
            break;
        sqlite3_stmt *a;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO main.shards(path,state,bytes,records,xxh64,uuid,dict_id,writer,created_at,finalized_at) "
                               "VALUES('merging:' || hex(randomblob(8)),'writing',?,?,?,?,?,?,?,?)",
                               -1, &a, NULL) != SQLITE_OK) {
            s = jf__db_err(db, err, "adding shard");
            jf__db_exec(db, "ROLLBACK", NULL);
            break;
        }
        for (int c = 2; c <= 9; c++)
            sqlite3_bind_value(a, c - 1, sqlite3_column_value(q, c));
        int rc = sqlite3_step(a);
        sqlite3_finalize(a);
        int64_t new_id = sqlite3_last_insert_rowid(db);
        if (rc != SQLITE_DONE || (s = jf__db_exec(db, "COMMIT", err)) != JF_OK) {
            if (s == JF_OK)
                s = jf__db_err(db, err, "adding shard");
            jf__db_exec(db, "ROLLBACK", NULL);
            break;
        }
        char rel[64];
        snprintf(rel, sizeof rel, "shards/%08lld.jfr", (long long)new_id);
        char *from = jf__path_join(src->dir, (const char *)sqlite3_column_text(q, 1));
        char *to = jf__path_join(dst->dir, rel);
        if (!from || !to)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else if (mode == JF_MERGE_MOVE) {
            if (rename(from, to) != 0) {
                if (errno != EXDEV)
                    s = jf__errno(err, errno, "cannot move", from, -1);
                else if ((s = copy_file(from, to, err)) == JF_OK)
                    unlink(from);
            }
        } else if (mode == JF_MERGE_LINK && link(from, to) == 0) {
            /* hard link: no bytes copied */
        } else {
            s = copy_file(from, to, err);
        }
        if (s == JF_OK) {
            s = jf__db_exec(db, "BEGIN IMMEDIATE", err);
            sqlite3_stmt *i2;
            if (s == JF_OK && sqlite3_prepare_v2(db, (const char *)ins.p, -1, &i2, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(i2, 1, new_id);
                sqlite3_bind_int64(i2, 2, old_id);
                if (sqlite3_step(i2) != SQLITE_DONE)
                    s = jf__db_err(db, err, "copying sample rows");
                rep.records += (uint64_t)sqlite3_changes(db);
                sqlite3_finalize(i2);
            } else if (s == JF_OK) {
                s = jf__db_err(db, err, "preparing row copy");
            }
            if (s == JF_OK) {
                char *u = sqlite3_mprintf("UPDATE main.shards SET path=%Q, state='complete' WHERE id=%lld", rel, (long long)new_id);
                s = jf__db_exec(db, u, err);
                sqlite3_free(u);
            }
            if (s == JF_OK)
                s = jf__db_exec(db, "COMMIT", err);
            else
                jf__db_exec(db, "ROLLBACK", NULL);
        }
        if (s != JF_OK) {
            char *d = sqlite3_mprintf("DELETE FROM main.shards WHERE id=%lld AND state='writing'", (long long)new_id);
            jf__db_exec(db, d, NULL);
            sqlite3_free(d);
            if (to && mode != JF_MERGE_MOVE)
                unlink(to);
        } else {
            rep.shards++;
        }
        free(from);
        free(to);
    }
    sqlite3_finalize(q);
    jf__buf_free(&ins);
    if (attached)
        jf__db_exec(db, "DETACH DATABASE src", NULL);
    for (size_t i = 0; i < n_cols; i++)
        free(cols[i]);
    free(cols);
    jf_store_close(src);
    if (rep_out)
        *rep_out = rep;
    return s;
}

/* ---- gc ---- */

jf_status jf_store_gc(jf_store *st, int dry_run, jf_problem_fn on_item, void *user, uint64_t *removed, jf_error *err)
{
    reporter rp = {on_item, user, 0, 0};
    char host[64] = "?";
    gethostname(host, sizeof host - 1);
    *removed = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT id, path, writer FROM shards WHERE state='writing'", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(st->db, err, "reading shards");
    jf_status s = JF_OK;
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        const char *rel = (const char *)sqlite3_column_text(q, 1);
        const char *writer = (const char *)sqlite3_column_text(q, 2);
        const char *colon = writer ? strrchr(writer, ':') : NULL;
        if (!colon || strncmp(writer, host, (size_t)(colon - writer)) || strlen(host) != (size_t)(colon - writer)) {
            report(&rp, 0, rel, -1, "kept: written by %s on another host", writer ? writer : "?");
            continue;
        }
        long pid = strtol(colon + 1, NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) {
            report(&rp, 0, rel, -1, "kept: writer %s is still running", writer);
            continue;
        }
        char *final = jf__path_join(st->dir, rel);
        struct stat sb;
        if (final && stat(final, &sb) == 0) {
            report(&rp, 0, rel, -1, "kept: finalized on disk but not indexed; run `jf shard reindex`");
            free(final);
            continue;
        }
        /* what is on disk is the .partial file: name that, not the final name it never got */
        char partial[4200], partial_rel[4200];
        snprintf(partial, sizeof partial, "%s.partial", final ? final : "");
        snprintf(partial_rel, sizeof partial_rel, "%s.partial", rel);
        free(final);
        int exists = stat(partial, &sb) == 0;
        report(&rp, 0, partial_rel, -1, "%s %s of dead writer %s", dry_run ? "would remove" : "removed",
               exists ? "partial shard" : "the index row (no file left) of a partial shard", writer);
        if (!dry_run) {
            if (exists && unlink(partial) != 0) {
                s = jf__errno(err, errno, "cannot remove", partial, -1);
                break;
            }
            char *d = sqlite3_mprintf("DELETE FROM shards WHERE id=%lld AND state='writing'", (long long)id);
            s = jf__db_exec(st->db, d, err);
            sqlite3_free(d);
        }
        (*removed)++;
    }
    sqlite3_finalize(q);
    return s;
}
