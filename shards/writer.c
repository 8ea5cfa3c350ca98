/* jf_writer: appends records to size-targeted shards and indexes each shard atomically once it
 * is complete on disk (write .partial, fsync, rename, fsync dir, then one index transaction). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>
#include <zdict.h>


#define WRITE_BUFFER (4u << 20)

/* Text that dictionary training may hold: ZDICT needs ~100x the dictionary size, no more. */
#define TRAIN_BYTES_MAX (32u << 20)

struct jf_writer {
    jf_store *st;
    jf_writer_params p;
    char *source;
    jf__frame_ctx *fc;
    /* dictionary: 0 undecided (the compressible prefixes of the first records are kept as a
     * training sample while the records themselves go to shards without a dictionary), 1 decided */
    int dict_decided;
    jf__buf train;         /* training sample: record prefixes back to back */
    size_t *train_sizes;
    size_t n_train, cap_train;
    jf__buf enc;           /* scratch: a record encoded to find its prefix */
    /* the open shard */
    int fd;
    int64_t shard_id;
    char *path_partial, *path_final, *rel_path;
    uint64_t off;
    XXH64_state_t *xh;
    uint8_t uuid[16];
    jf__buf wbuf;
    uint64_t *offsets;
    jf__row *rows;
    size_t n_rows, cap_rows;
    jf__buf recbuf;
    int failed;
    jf_writer_stats stats;
    jf_shard_done_fn done_fn;
    void *done_user;
    char writer_tag[128];
};

jf_writer_params jf_writer_default_params(void)
{
    return (jf_writer_params){
        .shard_bytes = 256u << 20,
        .max_records = 100000, /* as WebDataset's ShardWriter: bounds the rows held until finalize */
        .level = 3,
        .use_dict = 1,
        .dict_train_records = 2000,
        .dict_size = 112640,
        .source = NULL,
        .fsync = 1,
    };
}

void jf_writer_on_shard_done(jf_writer *w, jf_shard_done_fn fn, void *user)
{
    w->done_fn = fn;
    w->done_user = user;
}

jf_writer_stats jf_writer_get_stats(const jf_writer *w) { return w->stats; }

static jf_status use_dict(jf_writer *w, uint32_t id, jf_error *err)
{
    size_t size;
    const uint8_t *bytes = jf__dicts_bytes(jf_store_dicts(w->st), id, &size);
    if (!bytes)
        return jf_error_set(err, JF_ENOTFOUND, "dictionary %u not loaded", id);
    w->stats.dict_id = id;
    w->dict_decided = 1;
    return jf__frame_ctx_set_dict(w->fc, bytes, size, id, err);
}

/* The dataset's dictionary, if one exists: the oldest, so that concurrent writers agree. */
static jf_status existing_dict(jf_writer *w, uint32_t *id, jf_error *err)
{
    sqlite3 *db = jf_store_db(w->st);
    sqlite3_stmt *q;
    *id = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, data FROM dicts ORDER BY created_at, rowid LIMIT 1", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(db, err, "reading dictionaries");
    jf_status s = JF_OK;
    if (sqlite3_step(q) == SQLITE_ROW)
        s = jf_dicts_add(jf_store_dicts(w->st), sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1), id, err);
    sqlite3_finalize(q);
    return s;
}

jf_status jf_writer_create(jf_store *st, const jf_writer_params *params, jf_writer **out, jf_error *err)
{
    *out = NULL;
    if (!st->writable)
        return jf_error_set(err, JF_EARG, "%s: dataset opened read-only", st->dir);
    jf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    w->st = st;
    w->p = params ? *params : jf_writer_default_params();
    if (w->p.shard_bytes == 0)
        w->p.shard_bytes = 256u << 20;
    if (w->p.level < -7 || w->p.level > 22)
        w->p.level = 3;
    w->fd = -1;
    w->fc = jf__frame_ctx_create(w->p.level);
    w->xh = XXH64_createState();
    w->source = w->p.source ? jf__strdup(w->p.source) : NULL;
    w->p.source = w->source;
    char host[64] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(w->writer_tag, sizeof w->writer_tag, "%s:%ld", host, (long)getpid());
    if (!w->fc || !w->xh || (w->p.source && !w->source)) {
        jf_writer_abort(w);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    uint32_t id = 0;
    jf_status s = existing_dict(w, &id, err);
    if (s == JF_OK && id)
        s = use_dict(w, id, err);
    else if (s == JF_OK && !w->p.use_dict)
        w->dict_decided = 1;
    if (s != JF_OK) {
        jf_writer_abort(w);
        return s;
    }
    *out = w;
    return JF_OK;
}

/* ---- the open shard ---- */

static jf_status flush_wbuf(jf_writer *w, jf_error *err);

static jf_status shard_open(jf_writer *w, jf_error *err)
{
    sqlite3 *db = jf_store_db(w->st);
    jf_status s = jf__db_exec(db, "BEGIN IMMEDIATE", err);
    if (s != JF_OK)
        return s;
    sqlite3_stmt *q;
    char tmp_path[192];
    snprintf(tmp_path, sizeof tmp_path, "pending:%s:%llu", w->writer_tag, (unsigned long long)jf__now_ns());
    if (sqlite3_prepare_v2(db, "INSERT INTO shards(path,state,writer,created_at) VALUES(?, 'writing', ?, ?)", -1, &q,
                           NULL) != SQLITE_OK) {
        s = jf__db_err(db, err, "adding shard");
        jf__db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    sqlite3_bind_text(q, 1, tmp_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, w->writer_tag, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 3, jf__now());
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        s = jf__db_err(db, err, "adding shard");
        jf__db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    w->shard_id = sqlite3_last_insert_rowid(db);
    char rel[64];
    snprintf(rel, sizeof rel, "shards/%08lld.jfr", (long long)w->shard_id);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE shards SET path='%s' WHERE id=%lld", rel, (long long)w->shard_id);
    if ((s = jf__db_exec(db, sql, err)) != JF_OK || (s = jf__db_exec(db, "COMMIT", err)) != JF_OK) {
        jf__db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    free(w->rel_path);
    free(w->path_final);
    free(w->path_partial);
    w->rel_path = jf__strdup(rel);
    w->path_final = jf__path_join(jf_store_dir(w->st), rel);
    size_t n = w->path_final ? strlen(w->path_final) : 0;
    w->path_partial = malloc(n + 9);
    if (!w->rel_path || !w->path_final || !w->path_partial)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    snprintf(w->path_partial, n + 9, "%s.partial", w->path_final);
    w->fd = open(w->path_partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return jf__errno(err, errno, "cannot create shard", w->path_partial, -1);
    uint8_t hdr[JF__FILE_HDR_SIZE];
    jf__random_bytes(w->uuid, sizeof w->uuid);
    jf__file_header_encode(hdr, w->uuid, w->stats.dict_id, jf__now_ns());
    XXH64_reset(w->xh, 0);
    w->wbuf.len = 0;
    w->off = 0;
    w->n_rows = 0;
    if (jf__buf_put(&w->wbuf, hdr, sizeof hdr))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    XXH64_update(w->xh, hdr, sizeof hdr);
    w->off = sizeof hdr;
    /* The header goes out at once, so that even a writer killed before its first buffer flush
     * leaves a file that a scan recognises. */
    return flush_wbuf(w, err);
}

static jf_status flush_wbuf(jf_writer *w, jf_error *err)
{
    if (!w->wbuf.len)
        return JF_OK;
    uint64_t at = w->off - w->wbuf.len;
    jf_status s = jf__write_all(w->fd, w->wbuf.p, w->wbuf.len, w->path_partial, at, err);
    w->wbuf.len = 0;
    return s;
}

static jf_status shard_finalize(jf_writer *w, jf_error *err)
{
    uint64_t data_end = w->off;
    uint64_t digest = XXH64_digest(w->xh);
    uint64_t *offs = malloc((w->n_rows ? w->n_rows : 1) * sizeof *offs);
    if (!offs)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->n_rows; i++)
        offs[i] = w->rows[i].offset;
    size_t before = w->wbuf.len;
    int bad = jf__footer_encode(&w->wbuf, data_end, digest, offs, w->n_rows);
    free(offs);
    if (bad)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    w->off += w->wbuf.len - before;
    jf_status s = flush_wbuf(w, err);
    if (s == JF_OK && w->p.fsync && fdatasync(w->fd) != 0)
        s = jf__errno(err, errno, "fsync failed", w->path_partial, -1);
    if (close(w->fd) != 0 && s == JF_OK)
        s = jf__errno(err, errno, "close failed", w->path_partial, -1);
    w->fd = -1;
    if (s != JF_OK)
        return s;
    if (rename(w->path_partial, w->path_final) != 0)
        return jf__errno(err, errno, "cannot rename into place", w->path_partial, -1);
    if (w->p.fsync) {
        char *dir = jf__path_join(jf_store_dir(w->st), "shards");
        if (dir)
            jf__fsync_dir(dir);
        free(dir);
    }
    /* Only now does the shard enter the index, with all its rows, in one transaction. */
    sqlite3 *db = jf_store_db(w->st);
    if ((s = jf__db_exec(db, "BEGIN IMMEDIATE", err)) != JF_OK)
        return s;
    s = jf__insert_rows(db, w->shard_id, w->rows, w->n_rows, err);
    if (s == JF_OK) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db,
                               "UPDATE shards SET state='complete', bytes=?, records=?, xxh64=?, dict_id=?, "
                               "finalized_at=?, uuid=? WHERE id=?",
                               -1, &q, NULL) != SQLITE_OK) {
            s = jf__db_err(db, err, "finalizing shard");
        } else {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
            sqlite3_bind_int64(q, 1, (sqlite3_int64)w->off);
            sqlite3_bind_int64(q, 2, (sqlite3_int64)w->n_rows);
            sqlite3_bind_text(q, 3, hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 4, w->stats.dict_id);
            char uuid_hex[33];
            jf__hex(w->uuid, 16, uuid_hex);
            sqlite3_bind_double(q, 5, jf__now());
            sqlite3_bind_text(q, 6, uuid_hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 7, w->shard_id);
            if (sqlite3_step(q) != SQLITE_DONE)
                s = jf__db_err(db, err, "finalizing shard");
            sqlite3_finalize(q);
        }
    }
    if (s == JF_OK)
        s = jf__db_exec(db, "COMMIT", err);
    if (s != JF_OK) {
        jf__db_exec(db, "ROLLBACK", NULL);
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return jf_error_set(err, s, "%s is complete on disk but could not be indexed (%s); `jf shard reindex` adds it",
                            w->path_final, why);
    }
    w->stats.shards++;
    if (w->done_fn)
        w->done_fn(w->done_user, w->path_final, w->n_rows, w->off);
    for (size_t i = 0; i < w->n_rows; i++)
        jf__row_free(&w->rows[i]);
    w->n_rows = 0;
    w->shard_id = 0;
    return JF_OK;
}

/* Appends one built record (header frame + zstd frame) to the open shard. */
static jf_status append_built(jf_writer *w, const uint8_t *data, size_t len, jf__row *row, jf_error *err)
{
    jf_status s;
    if (w->fd < 0 && (s = shard_open(w, err)) != JF_OK)
        return s;
    if (w->n_rows == w->cap_rows) {
        size_t cap = w->cap_rows ? w->cap_rows * 2 : 1024;
        jf__row *r = realloc(w->rows, cap * sizeof *r);
        if (!r)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        w->rows = r;
        w->cap_rows = cap;
    }
    row->offset = w->off;
    row->length = len;
    XXH64_update(w->xh, data, len);
    if (w->wbuf.len + len > WRITE_BUFFER && (s = flush_wbuf(w, err)) != JF_OK)
        return s;
    w->off += len;
    if (len >= WRITE_BUFFER) {
        if ((s = jf__write_all(w->fd, data, len, w->path_partial, w->off - len, err)) != JF_OK)
            return s;
    } else if (jf__buf_put(&w->wbuf, data, len)) {
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    w->rows[w->n_rows++] = *row;
    memset(row, 0, sizeof *row);
    w->stats.records++;
    w->stats.stored_bytes += len;
    if (w->off >= w->p.shard_bytes || (w->p.max_records && w->n_rows >= w->p.max_records) ||
        w->n_rows >= JF__MAX_RECORDS_PER_SHARD)
        return shard_finalize(w, err);
    return JF_OK;
}

/* Builds the zstd frame from an encoded body (the dictionary is known by now). */

/* ---- dictionary training from the first records ---- */

/* Keeps the compressible prefix of a record (its text fields) as a training sample. */
static jf_status keep_training_sample(jf_writer *w, const jf_record *rec, const jf_column *extra, size_t n_extra,
                                      jf_error *err)
{
    size_t prefix = 0;
    w->enc.len = 0;
    jf_status s = jf__record_encode(rec, extra, n_extra, &w->enc, &prefix, err);
    if (s != JF_OK || !prefix)
        return s;
    if (w->n_train == w->cap_train) {
        size_t cap = w->cap_train ? w->cap_train * 2 : 256;
        size_t *v = realloc(w->train_sizes, cap * sizeof *v);
        if (!v)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        w->train_sizes = v;
        w->cap_train = cap;
    }
    if (jf__buf_put(&w->train, w->enc.p, prefix))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    w->train_sizes[w->n_train++] = prefix;
    return JF_OK;
}

static void drop_training_sample(jf_writer *w)
{
    jf__buf_free(&w->train);
    jf__buf_free(&w->enc);
    free(w->train_sizes);
    w->train_sizes = NULL;
    w->n_train = w->cap_train = 0;
}

/* Trains the dataset dictionary from the sample (or adopts one a concurrent writer stored).
 * Records written so far went to shards without a dictionary; the open one is finalized so
 * that the dictionary starts with a new shard (a file names one dictionary in its header). */
static jf_status train_dict(jf_writer *w, jf_error *err)
{
    size_t total = w->train.len, n = w->n_train;
    uint32_t id = 0;
    jf_status s = JF_OK;
    /* ZDICT wants many samples and roughly 10x the dictionary size of input; below that a
     * dictionary does not pay for itself. */
    if (n >= 64 && total >= 8 * 1024) {
        size_t cap = w->p.dict_size;
        if (cap > total / 4)
            cap = total / 4;
        if (cap < 1024)
            cap = 1024;
        uint8_t *dict = malloc(cap);
        if (!dict)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        size_t dsize = ZDICT_trainFromBuffer(dict, cap, w->train.p, w->train_sizes, (unsigned)n);
        if (!ZDICT_isError(dsize)) {
            sqlite3 *db = jf_store_db(w->st);
            uint32_t other = 0;
            s = jf__db_exec(db, "BEGIN IMMEDIATE", err);
            if (s == JF_OK)
                s = existing_dict(w, &other, err); /* a concurrent writer may have won */
            if (s == JF_OK && other) {
                id = other;
            } else if (s == JF_OK) {
                s = jf_dicts_add(jf_store_dicts(w->st), dict, dsize, &id, err);
                sqlite3_stmt *q = NULL;
                if (s == JF_OK &&
                    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO dicts(id,data,bytes,created_at) VALUES(?,?,?,?)", -1,
                                       &q, NULL) != SQLITE_OK)
                    s = jf__db_err(db, err, "storing dictionary");
                if (s == JF_OK) {
                    sqlite3_bind_int64(q, 1, id);
                    sqlite3_bind_blob(q, 2, dict, (int)dsize, SQLITE_STATIC);
                    sqlite3_bind_int64(q, 3, (sqlite3_int64)dsize);
                    sqlite3_bind_double(q, 4, jf__now());
                    if (sqlite3_step(q) != SQLITE_DONE)
                        s = jf__db_err(db, err, "storing dictionary");
                }
                sqlite3_finalize(q);
                if (s == JF_OK) {
                    char name[64];
                    snprintf(name, sizeof name, "dicts/%u.zdict", id);
                    char *path = jf__path_join(jf_store_dir(w->st), name);
                    s = path ? jf__write_file_atomic(path, dict, dsize, err) : jf_error_set(err, JF_ENOMEM, "out of memory");
                    free(path);
                }
            }
            if (s == JF_OK)
                s = jf__db_exec(db, "COMMIT", err);
            else
                jf__db_exec(db, "ROLLBACK", NULL);
        }
        free(dict);
    }
    if (s == JF_OK && id && w->fd >= 0)
        s = shard_finalize(w, err);
    if (s == JF_OK && id)
        s = use_dict(w, id, err);
    w->dict_decided = 1;
    drop_training_sample(w);
    return s;
}

/* ---- adding records ---- */

jf_status jf_writer_add(jf_writer *w, const jf_record *rec, jf_error *err)
{
    if (w->failed)
        return jf_error_set(err, JF_EIO, "writer stopped after an earlier error");
    const char *key = jf_record_key(rec);
    if (!*key)
        return jf_error_set(err, JF_EARG, "record without a key");
    /* Columns the writer adds: sniffed image size, caption length, and the default source. */
    jf_column extra[16];
    size_t n_extra = 0;
    jf__compute_columns(rec, extra, &n_extra);
    if (w->source && !jf_record_find_column(rec, "source"))
        extra[n_extra++] = (jf_column){.name = "source", .type = JF_COL_TEXT, .s = w->source};
    /* Column types are checked now, not at finalize, so that one bad value cannot sink a shard. */
    sqlite3 *db = jf_store_db(w->st);
    for (size_t i = 0; i < jf_record_column_count(rec); i++) {
        const jf_column *c = jf_record_column(rec, i);
        if (!strcasecmp(c->name, "source")) {
            if (c->type != JF_COL_TEXT && c->type != JF_COL_NULL)
                return jf_error_set(err, JF_EARG, "record '%s': column 'source' must be text", key);
            continue;
        }
        if (c->type == JF_COL_NULL)
            continue;
        jf_col_type have = jf__column_type(db, c->name);
        if (have == JF_COL_NULL) {
            jf_status s = jf_store_ensure_column(w->st, c->name, c->type, "", err);
            if (s != JF_OK)
                return s;
        } else if (!(have == c->type || (have == JF_COL_REAL && c->type == JF_COL_INT))) {
            return jf_error_set(err, JF_EARG, "record '%s': column '%s' holds %s values, got %s", key, c->name,
                                jf__col_sql_type(have), jf__col_sql_type(c->type));
        }
    }
    for (size_t i = 0; i < jf_record_field_count(rec); i++)
        w->stats.raw_bytes += jf_record_field(rec, i)->size;

    jf__row row;
    if (jf__row_from_record(&row, rec, 0, 0) != JF_OK)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    /* Add the computed columns to the index row too. */
    for (size_t i = 0; i < n_extra; i++) {
        if (jf_record_find_column(rec, extra[i].name))
            continue;
        jf_column *cols = realloc(row.cols, (row.n_cols + 1) * sizeof *cols);
        if (!cols) {
            jf__row_free(&row);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        row.cols = cols;
        jf_column *d = &row.cols[row.n_cols++];
        *d = extra[i];
        d->name = jf__strdup(extra[i].name);
        d->s = extra[i].type == JF_COL_TEXT ? jf__strdup(extra[i].s) : NULL;
    }
    /* Every record goes to its shard at once, also before the dictionary exists: no more than
     * the open shard is ever held back from disk. */
    jf_status s = JF_OK;
    if (!w->dict_decided)
        s = keep_training_sample(w, rec, extra, n_extra, err);
    if (s == JF_OK) {
        w->recbuf.len = 0;
        s = jf__record_build(w->fc, rec, extra, n_extra, &w->recbuf, NULL, err);
    }
    if (s == JF_OK)
        s = append_built(w, w->recbuf.p, w->recbuf.len, &row, err);
    jf__row_free(&row);
    if (s == JF_OK && !w->dict_decided && (w->n_train >= w->p.dict_train_records || w->train.len >= TRAIN_BYTES_MAX))
        s = train_dict(w, err);
    if (s != JF_OK && s != JF_EARG && s != JF_ELIMIT)
        w->failed = 1;
    return s;
}

jf_status jf_writer_flush(jf_writer *w, jf_error *err)
{
    if (w->failed)
        return jf_error_set(err, JF_EIO, "writer stopped after an earlier error");
    jf_status s = JF_OK;
    if (!w->dict_decided && w->n_train)
        s = train_dict(w, err); /* for the writers that come next */
    if (s == JF_OK && w->fd >= 0)
        s = shard_finalize(w, err);
    if (s != JF_OK)
        w->failed = 1;
    return s;
}

static void free_writer(jf_writer *w)
{
    drop_training_sample(w);
    for (size_t i = 0; i < w->n_rows; i++)
        jf__row_free(&w->rows[i]);
    free(w->rows);
    free(w->offsets);
    jf__buf_free(&w->wbuf);
    jf__buf_free(&w->recbuf);
    jf__frame_ctx_destroy(w->fc);
    XXH64_freeState(w->xh);
    free(w->source);
    free(w->rel_path);
    free(w->path_final);
    free(w->path_partial);
    free(w);
}

jf_status jf_writer_close(jf_writer *w, jf_error *err)
{
    if (!w)
        return JF_OK;
    jf_status s = jf_writer_flush(w, err);
    if (s != JF_OK) {
        jf_error tmp;
        jf_status keep = s;
        if (err)
            tmp = *err;
        jf_writer_abort(w);
        if (err)
            *err = tmp;
        return keep;
    }
    free_writer(w);
    return JF_OK;
}

void jf_writer_abort(jf_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->path_partial);
    }
    if (w->shard_id) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM shards WHERE id=%lld AND state='writing'", (long long)w->shard_id);
        jf__db_exec(jf_store_db(w->st), sql, NULL);
    }
    free_writer(w);
}
