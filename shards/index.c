/* The SQLite index of a dataset: schema, store open/close, columns, sources, reads by key/row,
 * and the sequential scan. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS jf_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sources(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, info TEXT,"
    "  created_at REAL);"
    "CREATE TABLE IF NOT EXISTS dicts(id INTEGER PRIMARY KEY, data BLOB NOT NULL, bytes INTEGER,"
    "  created_at REAL);"
    "CREATE TABLE IF NOT EXISTS shards(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
    "  state TEXT NOT NULL CHECK(state IN ('writing','complete')), bytes INTEGER, records INTEGER,"
    "  xxh64 TEXT, uuid TEXT, dict_id INTEGER, writer TEXT, created_at REAL, finalized_at REAL);"
    "CREATE TABLE IF NOT EXISTS samples(id INTEGER PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL,"
    "  shard_id INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, source_id INTEGER,"
    "  width INTEGER, height INTEGER, image_format TEXT, image_bytes INTEGER, n_images INTEGER,"
    "  caption_len INTEGER, caption_words INTEGER);"
    "CREATE INDEX IF NOT EXISTS samples_key ON samples(key);"
    "CREATE INDEX IF NOT EXISTS samples_shard ON samples(shard_id, offset);"
    "CREATE TABLE IF NOT EXISTS columns(name TEXT PRIMARY KEY COLLATE NOCASE, type TEXT NOT NULL,"
    "  description TEXT, builtin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, command TEXT, started_at REAL,"
    "  finished_at REAL, stats TEXT);"
    "INSERT OR IGNORE INTO columns VALUES"
    "  ('width','INTEGER','decoded image width in pixels',1),"
    "  ('height','INTEGER','decoded image height in pixels',1),"
    "  ('image_format','TEXT','jpeg, png, webp or gif',1),"
    "  ('image_bytes','INTEGER','size of the first image field',1),"
    "  ('n_images','INTEGER','number of image fields',1),"
    "  ('caption_len','INTEGER','caption length in characters',1),"
    "  ('caption_words','INTEGER','words in the caption (whitespace-separated)',1);"
    "INSERT OR IGNORE INTO jf_meta VALUES('schema_version','1');";

jf_status jf__db_err(sqlite3 *db, jf_error *err, const char *what)
{
    int code = sqlite3_errcode(db);
    jf_status s = (code == SQLITE_FULL) ? JF_ENOSPC : JF_EDB;
    return jf_error_set(err, s, "%s: %s (%s)", sqlite3_db_filename(db, "main"), what, sqlite3_errmsg(db));
}

jf_status jf__db_exec(sqlite3 *db, const char *sql, jf_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        jf_status s = jf_error_set(err, sqlite3_errcode(db) == SQLITE_FULL ? JF_ENOSPC : JF_EDB, "%s: %s",
                                   sqlite3_db_filename(db, "main"), msg ? msg : "error");
        sqlite3_free(msg);
        return s;
    }
    return JF_OK;
}

/* Registered columns missing from the samples table (an index made by an older jf that had
 * fewer built-in columns) are added. */
static jf_status add_missing_columns(sqlite3 *db, jf_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT c.name, c.type FROM columns c WHERE NOT EXISTS "
                           "(SELECT 1 FROM pragma_table_info('samples') t WHERE t.name = c.name COLLATE NOCASE)",
                           -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(db, err, "checking columns");
    jf_status s = JF_OK;
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW) {
        char *sql = sqlite3_mprintf("ALTER TABLE samples ADD COLUMN \"%w\" %s", sqlite3_column_text(q, 0),
                                    sqlite3_column_text(q, 1));
        s = jf__db_exec(db, sql, err);
        sqlite3_free(sql);
    }
    sqlite3_finalize(q);
    return s;
}

jf_status jf__index_init(sqlite3 *db, jf_error *err)
{
    jf_status s = jf__db_exec(db, "BEGIN IMMEDIATE", err);
    if (s != JF_OK)
        return s;
    if ((s = jf__db_exec(db, SCHEMA, err)) != JF_OK || (s = add_missing_columns(db, err)) != JF_OK) {
        jf__db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    return jf__db_exec(db, "COMMIT", err);
}

static jf_status check_schema(sqlite3 *db, const char *path, jf_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM jf_meta WHERE name='schema_version'", -1, &q, NULL) != SQLITE_OK)
        return jf_error_set(err, JF_EFORMAT, "%s: not a jf index (%s)", path, sqlite3_errmsg(db));
    jf_status s = JF_OK;
    if (sqlite3_step(q) != SQLITE_ROW)
        s = jf_error_set(err, JF_EFORMAT, "%s: not a jf index (no schema version)", path);
    else if (sqlite3_column_int(q, 0) != JF_INDEX_SCHEMA_VERSION)
        s = jf_error_set(err, JF_EFORMAT, "%s: index schema version %d, this jf reads %d", path,
                         sqlite3_column_int(q, 0), JF_INDEX_SCHEMA_VERSION);
    sqlite3_finalize(q);
    return s;
}

jf_status jf__index_open(const char *path, int writable, sqlite3 **out, jf_error *err)
{
    sqlite3 *db = NULL;
    int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK && !writable) {
        sqlite3_close(db);
        db = NULL;
        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    }
    if (rc != SQLITE_OK) {
        jf_status s = jf_error_set(err, JF_EDB, "%s: cannot open index: %s", path, db ? sqlite3_errmsg(db) : "error");
        sqlite3_close(db);
        return s;
    }
    sqlite3_busy_timeout(db, 120000);
    sqlite3_extended_result_codes(db, 1);
    jf_status s = JF_OK;
    if (writable)
        s = jf__db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err);
    if (s == JF_OK)
        s = jf__db_exec(db, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", err);
    if (s != JF_OK) {
        sqlite3_close(db);
        return s;
    }
    *out = db;
    return JF_OK;
}

jf_status jf__store_load_dicts(jf_store *st, jf_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT id, data FROM dicts ORDER BY rowid", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(st->db, err, "reading dictionaries");
    jf_status s = JF_OK;
    while (s == JF_OK && sqlite3_step(q) == SQLITE_ROW)
        s = jf_dicts_add(st->dicts, sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1), NULL, err);
    sqlite3_finalize(q);
    return s;
}

static int mkdir_p(const char *path)
{
    char *tmp = jf__strdup(path);
    if (!tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
                free(tmp);
                return -1;
            }
            *p = '/';
        }
    }
    int rc = mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

jf_status jf_store_open(const char *dir, int flags, jf_store **out, jf_error *err)
{
    *out = NULL;
    jf_store *st = calloc(1, sizeof *st);
    if (!st)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_status s = JF_OK;
    int remote = jf__remote_is_url(dir);
    st->dicts = jf_dicts_create();
    if (remote) {
        /* a dataset served over HTTP(S): read-only; the index is downloaded into the local cache,
         * record files are read in place with Range requests (remote.c) */
        size_t l = strlen(dir);
        while (l > 8 && dir[l - 1] == '/')
            l--;
        st->dir = strndup(dir, l);
        if (flags != JF_STORE_READONLY)
            s = jf_error_set(err, JF_EARG, "%s: a dataset over HTTP(S) can only be read", dir);
        else if (!st->dir || !st->dicts)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else
            s = jf__remote_index(st->dir, &st->index_path, err);
    } else {
        st->dir = jf__strdup(dir);
        st->index_path = jf__path_join(dir, "index.sqlite");
        st->writable = flags != JF_STORE_READONLY;
        if (!st->dir || !st->index_path || !st->dicts)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    struct stat sb;
    if (s != JF_OK || remote) {
    } else if (stat(st->index_path, &sb) != 0 && flags != JF_STORE_CREATE) {
        s = jf_error_set(err, JF_ENOTFOUND, "%s: no jf dataset here (index.sqlite missing); create one with ingest or import",
                         dir);
    } else if (flags == JF_STORE_CREATE) {
        char *sh = jf__path_join(dir, "shards"), *di = jf__path_join(dir, "dicts");
        if (!sh || !di || mkdir_p(sh) || mkdir_p(di))
            s = jf__errno(err, errno ? errno : ENOMEM, "cannot create dataset folders", dir, -1);
        free(sh);
        free(di);
    }
    if (s == JF_OK)
        s = jf__index_open(st->index_path, flags == JF_STORE_CREATE, &st->db, err);
    if (s == JF_OK && flags == JF_STORE_CREATE)
        s = jf__index_init(st->db, err);
    if (s == JF_OK)
        s = check_schema(st->db, st->index_path, err);
    if (s == JF_OK)
        s = jf__store_load_dicts(st, err);
    if (s != JF_OK) {
        jf_store_close(st);
        return s;
    }
    *out = st;
    return JF_OK;
}

void jf_store_close(jf_store *st)
{
    if (!st)
        return;
    for (unsigned i = 0; i < sizeof st->open / sizeof st->open[0]; i++)
        jf_jfr_close(st->open[i].f);
    sqlite3_close(st->db);
    jf_dicts_destroy(st->dicts);
    free(st->dir);
    free(st->index_path);
    free(st);
}

const char *jf_store_dir(const jf_store *st) { return st->dir; }
void *jf_store_db(jf_store *st) { return st->db; }
jf_dicts *jf_store_dicts(jf_store *st) { return st->dicts; }

const char *jf__col_sql_type(jf_col_type t)
{
    return t == JF_COL_INT ? "INTEGER" : t == JF_COL_REAL ? "REAL" : "TEXT";
}

jf_col_type jf__column_type(sqlite3 *db, const char *name)
{
    sqlite3_stmt *q;
    jf_col_type t = JF_COL_NULL;
    if (sqlite3_prepare_v2(db, "SELECT type FROM columns WHERE name=?", -1, &q, NULL) != SQLITE_OK)
        return t;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *ty = (const char *)sqlite3_column_text(q, 0);
        t = !strcmp(ty, "INTEGER") ? JF_COL_INT : !strcmp(ty, "REAL") ? JF_COL_REAL : JF_COL_TEXT;
    }
    sqlite3_finalize(q);
    return t;
}

/* Adds the column inside the caller's transaction (or autocommit). */
static jf_status add_column(sqlite3 *db, const char *name, jf_col_type type, const char *desc, jf_error *err)
{
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER TABLE samples ADD COLUMN \"%s\" %s", name, jf__col_sql_type(type));
    jf_status s = jf__db_exec(db, sql, err);
    if (s != JF_OK)
        return s;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "INSERT INTO columns(name,type,description,builtin) VALUES(?,?,?,0)", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(db, err, "registering column");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, jf__col_sql_type(type), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, desc ? desc : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? JF_OK : jf__db_err(db, err, "registering column");
}

static jf_status check_type(const char *name, jf_col_type have, jf_col_type want, jf_error *err)
{
    if (have == want || (have == JF_COL_REAL && want == JF_COL_INT))
        return JF_OK;
    return jf_error_set(err, JF_EARG, "column '%s' holds %s values; a %s value was given", name,
                        jf__col_sql_type(have), jf__col_sql_type(want));
}

jf_status jf_store_ensure_column(jf_store *st, const char *name, jf_col_type type, const char *description,
                                 jf_error *err)
{
    if (!jf__valid_column_name(name) || jf__is_reserved_column(name) || !strcasecmp(name, "source"))
        return jf_error_set(err, JF_EARG, "'%s' cannot be a column name", name);
    if (type == JF_COL_NULL)
        return jf_error_set(err, JF_EARG, "column '%s' needs a type", name);
    jf_col_type have = jf__column_type(st->db, name);
    if (have != JF_COL_NULL)
        return check_type(name, have, type, err);
    jf_status s = jf__db_exec(st->db, "BEGIN IMMEDIATE", err);
    if (s != JF_OK)
        return s;
    have = jf__column_type(st->db, name); /* another process may have added it meanwhile */
    if (have != JF_COL_NULL)
        s = check_type(name, have, type, err);
    else
        s = add_column(st->db, name, type, description, err);
    if (s == JF_OK)
        return jf__db_exec(st->db, "COMMIT", err);
    jf__db_exec(st->db, "ROLLBACK", NULL);
    return s;
}

jf_status jf__source_id(sqlite3 *db, const char *name, int create, int64_t *id, jf_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT id FROM sources WHERE name=?", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(db, err, "looking up source");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return JF_OK;
    if (!create)
        return jf_error_set(err, JF_ENOTFOUND, "no source named '%s'", name);
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO sources(name, created_at) VALUES(?, ?)", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(db, err, "adding source");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, jf__now());
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return jf__db_err(db, err, "adding source");
    return jf__source_id(db, name, 0, id, err);
}

/* ---- rows ---- */

void jf__row_free(jf__row *r)
{
    free(r->key);
    for (size_t i = 0; i < r->n_cols; i++) {
        free((char *)r->cols[i].name);
        free((char *)r->cols[i].s);
    }
    free(r->cols);
    memset(r, 0, sizeof *r);
}

jf_status jf__row_from_record(jf__row *row, const jf_record *rec, uint64_t offset, uint64_t length)
{
    memset(row, 0, sizeof *row);
    row->key = jf__strdup(jf_record_key(rec));
    row->kind = jf_record_kind(rec);
    row->offset = offset;
    row->length = length;
    size_t n = jf_record_column_count(rec);
    row->cols = calloc(n ? n : 1, sizeof(jf_column));
    if (!row->key || !row->cols) {
        jf__row_free(row);
        return JF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const jf_column *c = jf_record_column(rec, i);
        jf_column *d = &row->cols[row->n_cols++];
        *d = *c;
        d->name = jf__strdup(c->name);
        d->s = c->type == JF_COL_TEXT ? jf__strdup(c->s) : NULL;
        if (!d->name || (c->type == JF_COL_TEXT && !d->s)) {
            jf__row_free(row);
            return JF_ENOMEM;
        }
    }
    return JF_OK;
}

jf_status jf__insert_rows(sqlite3 *db, int64_t shard_id, const jf__row *rows, size_t n, jf_error *err)
{
    /* The union of the rows' columns, each checked against (or added to) the registry. */
    const char **names = NULL;
    jf_col_type *types = NULL;
    size_t n_names = 0, cap = 0;
    jf_status s = JF_OK;
    for (size_t r = 0; r < n && s == JF_OK; r++) {
        for (size_t c = 0; c < rows[r].n_cols && s == JF_OK; c++) {
            const jf_column *col = &rows[r].cols[c];
            if (!strcasecmp(col->name, "source"))
                continue;
            size_t k = 0;
            while (k < n_names && strcasecmp(names[k], col->name))
                k++;
            /* A NULL in a column nobody has declared yet needs no column at all. */
            if (k == n_names && col->type == JF_COL_NULL && jf__column_type(db, col->name) == JF_COL_NULL)
                continue;
            if (k == n_names) {
                if (n_names == cap) {
                    cap = cap ? cap * 2 : 16;
                    const char **nn = realloc(names, cap * sizeof *nn);
                    jf_col_type *nt = nn ? realloc(types, cap * sizeof *nt) : NULL;
                    if (nn)
                        names = nn;
                    if (!nn || !nt) {
                        s = jf_error_set(err, JF_ENOMEM, "out of memory");
                        break;
                    }
                    types = nt;
                }
                names[n_names] = col->name;
                types[n_names] = jf__column_type(db, col->name);
                n_names++;
            }
            if (col->type == JF_COL_NULL)
                continue;
            if (types[k] == JF_COL_NULL) {
                types[k] = col->type;
                s = add_column(db, col->name, col->type, "", err);
            } else {
                s = check_type(col->name, types[k], col->type, err);
            }
        }
    }
    jf__buf sql = {0};
    if (s == JF_OK) {
        char tmp[128];
        static const char head[] = "INSERT INTO samples(key,kind,shard_id,offset,length,source_id";
        int bad = jf__buf_put(&sql, head, strlen(head));
        for (size_t k = 0; k < n_names && !bad; k++) {
            snprintf(tmp, sizeof tmp, ",\"%s\"", names[k]);
            bad = jf__buf_put(&sql, tmp, strlen(tmp));
        }
        bad = bad || jf__buf_put(&sql, ") VALUES(?,?,?,?,?,?", strlen(") VALUES(?,?,?,?,?,?"));
        for (size_t k = 0; k < n_names && !bad; k++)
            bad = jf__buf_put(&sql, ",?", 2);
        bad = bad || jf__buf_put(&sql, ")", 2);
        if (bad)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    sqlite3_stmt *ins = NULL;
    if (s == JF_OK && sqlite3_prepare_v2(db, (const char *)sql.p, -1, &ins, NULL) != SQLITE_OK)
        s = jf__db_err(db, err, "preparing sample insert");
    /* A one-entry cache: rows of one shard nearly always share their source. */
    char *last_source = NULL;
    int64_t last_source_id = 0;
    for (size_t r = 0; r < n && s == JF_OK; r++) {
        const jf__row *row = &rows[r];
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        sqlite3_bind_text(ins, 1, row->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, jf_kind_name(row->kind), -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, shard_id);
        sqlite3_bind_int64(ins, 4, (sqlite3_int64)row->offset);
        sqlite3_bind_int64(ins, 5, (sqlite3_int64)row->length);
        for (size_t c = 0; c < row->n_cols && s == JF_OK; c++) {
            const jf_column *col = &row->cols[c];
            if (!strcasecmp(col->name, "source")) {
                if (col->type != JF_COL_TEXT)
                    continue;
                if (!last_source || strcmp(last_source, col->s)) {
                    s = jf__source_id(db, col->s, 1, &last_source_id, err);
                    free(last_source);
                    last_source = jf__strdup(col->s);
                }
                sqlite3_bind_int64(ins, 6, last_source_id);
                continue;
            }
            size_t k = 0;
            while (k < n_names && strcasecmp(names[k], col->name))
                k++;
            if (k == n_names)
                continue;
            int idx = 7 + (int)k;
            switch (col->type) {
            case JF_COL_INT:
                if (types[k] == JF_COL_REAL)
                    sqlite3_bind_double(ins, idx, (double)col->i);
                else
                    sqlite3_bind_int64(ins, idx, col->i);
                break;
            case JF_COL_REAL: sqlite3_bind_double(ins, idx, col->d); break;
            case JF_COL_TEXT: sqlite3_bind_text(ins, idx, col->s, -1, SQLITE_STATIC); break;
            default: break;
            }
        }
        if (s == JF_OK && sqlite3_step(ins) != SQLITE_DONE)
            s = jf__db_err(db, err, "inserting sample rows");
    }
    free(last_source);
    sqlite3_finalize(ins);
    jf__buf_free(&sql);
    free(names);
    free(types);
    return s;
}

/* ---- reading through the index ---- */

jf_status jf__shard_file(jf_store *st, int64_t shard_id, jf_jfr **out, jf_error *err)
{
    unsigned n = sizeof st->open / sizeof st->open[0];
    for (unsigned i = 0; i < n; i++)
        if (st->open[i].f && st->open[i].shard_id == shard_id) {
            *out = st->open[i].f;
            return JF_OK;
        }
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT path, state FROM shards WHERE id=?", -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(st->db, err, "looking up shard");
    sqlite3_bind_int64(q, 1, shard_id);
    jf_status s = JF_OK;
    char *path = NULL;
    if (sqlite3_step(q) != SQLITE_ROW)
        s = jf_error_set(err, JF_ENOTFOUND, "%s: shard %lld is not in the index", st->index_path, (long long)shard_id);
    else if (strcmp((const char *)sqlite3_column_text(q, 1), "complete"))
        s = jf_error_set(err, JF_ENOTFOUND, "shard %lld is not complete", (long long)shard_id);
    else if (!(path = jf__path_join(st->dir, (const char *)sqlite3_column_text(q, 0))))
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    sqlite3_finalize(q);
    if (s != JF_OK)
        return s;
    jf_jfr *f;
    s = jf_jfr_open(path, st->dicts, &f, err);
    free(path);
    if (s != JF_OK)
        return s;
    unsigned slot = st->open_next++ % n;
    jf_jfr_close(st->open[slot].f);
    st->open[slot].f = f;
    st->open[slot].shard_id = shard_id;
    *out = f;
    return JF_OK;
}

static jf_status get_where(jf_store *st, const char *sql, const char *key, int64_t row, jf_record *rec, jf_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return jf__db_err(st->db, err, "looking up sample");
    if (key)
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, row);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        if (key)
            return jf_error_set(err, JF_ENOTFOUND, "no sample with key '%s'", key);
        return jf_error_set(err, JF_ENOTFOUND, "no sample with row id %lld", (long long)row);
    }
    int64_t shard = sqlite3_column_int64(q, 0);
    uint64_t off = (uint64_t)sqlite3_column_int64(q, 1), len = (uint64_t)sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    jf_jfr *f;
    jf_status s = jf__shard_file(st, shard, &f, err);
    if (s != JF_OK)
        return s;
    return jf_jfr_read_at(f, off, len, rec, err);
}

jf_status jf_store_get(jf_store *st, const char *key, jf_record *rec, jf_error *err)
{
    return get_where(st,
                     "SELECT s.shard_id, s.offset, s.length FROM samples s JOIN shards h ON h.id = s.shard_id "
                     "WHERE s.key = ? AND h.state = 'complete' ORDER BY s.id LIMIT 1",
                     key, 0, rec, err);
}

jf_status jf_store_get_row(jf_store *st, int64_t sample_id, jf_record *rec, jf_error *err)
{
    return get_where(st,
                     "SELECT s.shard_id, s.offset, s.length FROM samples s JOIN shards h ON h.id = s.shard_id "
                     "WHERE s.id = ? AND h.state = 'complete'",
                     NULL, sample_id, rec, err);
}

/* ---- sequential scan ---- */

struct jf_scan {
    jf_store *st;
    sqlite3_stmt *shards; /* complete shards in id order */
    sqlite3_stmt *rows;   /* sample ids and offsets of the current shard */
    jf_jfr *f;
};

jf_status jf_scan_create(jf_store *st, jf_scan **out, jf_error *err)
{
    jf_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    sc->st = st;
    if (sqlite3_prepare_v2(st->db, "SELECT id, path FROM shards WHERE state='complete' ORDER BY id", -1, &sc->shards,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT id, offset, length FROM samples WHERE shard_id=? ORDER BY offset", -1,
                           &sc->rows, NULL) != SQLITE_OK) {
        jf_status s = jf__db_err(st->db, err, "preparing scan");
        jf_scan_destroy(sc);
        return s;
    }
    *out = sc;
    return JF_OK;
}

void jf_scan_destroy(jf_scan *sc)
{
    if (!sc)
        return;
    sqlite3_finalize(sc->shards);
    sqlite3_finalize(sc->rows);
    jf_jfr_close(sc->f);
    free(sc);
}

jf_status jf_scan_next(jf_scan *sc, jf_record *rec, int64_t *sample_id, jf_error *err)
{
    for (;;) {
        if (sc->f) {
            int rc = sqlite3_step(sc->rows);
            if (rc == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(sc->rows, 0);
                uint64_t off = (uint64_t)sqlite3_column_int64(sc->rows, 1);
                jf_record_pos pos;
                jf_status s = jf_jfr_next(sc->f, rec, &pos, err);
                if (s == JF_ENOTFOUND)
                    return jf_error_set(err, JF_ECORRUPT, "%s: the index lists a sample at byte %llu past the last record",
                                        jf_jfr_path(sc->f), (unsigned long long)off);
                if (s != JF_OK)
                    return s;
                if (pos.offset != off)
                    return jf_error_set(err, JF_ECORRUPT,
                                        "%s: record at byte %llu, the index expects one at %llu (run `jf shard verify`)",
                                        jf_jfr_path(sc->f), (unsigned long long)pos.offset, (unsigned long long)off);
                if (sample_id)
                    *sample_id = id;
                return JF_OK;
            }
            if (rc != SQLITE_DONE)
                return jf__db_err(sc->st->db, err, "scanning samples");
            jf_jfr_close(sc->f);
            sc->f = NULL;
        }
        int rc = sqlite3_step(sc->shards);
        if (rc == SQLITE_DONE)
            return JF_ENOTFOUND;
        if (rc != SQLITE_ROW)
            return jf__db_err(sc->st->db, err, "scanning shards");
        char *path = jf__path_join(sc->st->dir, (const char *)sqlite3_column_text(sc->shards, 1));
        if (!path)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        jf_status s = jf_jfr_open(path, sc->st->dicts, &sc->f, err);
        free(path);
        if (s != JF_OK)
            return s;
        sqlite3_reset(sc->rows);
        sqlite3_bind_int64(sc->rows, 1, sqlite3_column_int64(sc->shards, 0));
    }
}
