/* Tests of the shard store: records, writer, reader, dictionary, verify, reindex, merge, gc,
 * crash safety, full disk, concurrency, WebDataset interchange. */
#include "check.h"
#include "jf_ingest.h"
#include "jf_shards.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "%s/jf-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmpdir))
            abort();
    }
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void rmrf(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        abort();
}

/* Deterministic pseudo-random bytes. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

/* A real small JPEG for image fields. */
static uint8_t *jpeg_of(int w, int h, uint64_t seed, size_t *len)
{
    uint8_t *rgb = malloc((size_t)w * h * 3), *out = NULL;
    jf_synth_picture(rgb, w, h, seed);
    jf_error err;
    if (jf_jpeg_encode(rgb, w, h, 3, 85, &out, len, &err))
        abort();
    free(rgb);
    return out;
}

/* The i-th sample of the standard test set: kinds rotate, fields of every type. */
static void make_record(jf_record *r, int i, int big)
{
    jf_error err;
    char key[64], txt[256], js[512];
    jf_record_reset(r);
    snprintf(key, sizeof key, "set/%05d", i);
    jf_record_set_key(r, key, &err);
    int kind = 1 + i % 3;
    jf_record_set_kind(r, (jf_kind)kind);
    snprintf(txt, sizeof txt, "caption %d: a weathered lighthouse at dusk, número %d, 灯台 🌅", i, i * 7);
    snprintf(js, sizeof js, "{\"url\": \"https://example.com/img/%d.jpg\", \"similarity\": %.3f, \"license\": \"cc-by\"}", i,
             0.2 + (i % 10) / 100.0);
    if (kind != JF_KIND_TEXT) {
        size_t len;
        uint8_t *jpg = jpeg_of(32 + i % 50, 24 + i % 40, (uint64_t)i, &len);
        jf_record_add_field(r, "jpg", JF_FIELD_IMAGE, jpg, len, &err);
        free(jpg);
    }
    if (kind == JF_KIND_UNDERSTANDING) {
        char conv[600];
        snprintf(conv, sizeof conv, "[{\"from\":\"human\",\"value\":\"<image>\\nWhat is shown? %d\"},{\"from\":\"gpt\",\"value\":\"%s\"}]", i, txt);
        jf_record_add_field(r, "conv", JF_FIELD_JSON, conv, strlen(conv), &err);
    } else {
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, txt, strlen(txt), &err);
    }
    jf_record_add_field(r, "json", JF_FIELD_JSON, js, strlen(js), &err);
    char cls[16];
    snprintf(cls, sizeof cls, "%d", i % 17);
    jf_record_add_field(r, "cls", JF_FIELD_INT, cls, strlen(cls), &err);
    jf_record_add_field(r, "empty.bin", JF_FIELD_BYTES, "", 0, &err);
    if (big) {
        size_t n = 300000 + (size_t)i * 17;
        uint8_t *b = malloc(n);
        fill(b, n, (uint64_t)i);
        jf_record_add_field(r, "blob.npz", JF_FIELD_BYTES, b, n, &err); /* raw, > 2 zstd blocks */
        free(b);
    }
    jf_record_set_real(r, "similarity", 0.2 + (i % 10) / 100.0, &err);
    jf_record_set_int(r, "shard_hint", i / 10, &err);
    jf_record_set_text(r, "license", i % 2 ? "cc-by" : "unknown", &err);
    jf_record_set_text(r, "nothing", NULL, &err);
}

static int records_equal(const jf_record *a, const jf_record *b, int check_columns)
{
    if (strcmp(jf_record_key(a), jf_record_key(b)) || jf_record_kind(a) != jf_record_kind(b) ||
        jf_record_field_count(a) != jf_record_field_count(b))
        return 0;
    for (size_t i = 0; i < jf_record_field_count(a); i++) {
        const jf_field *fa = jf_record_field(a, i), *fb = jf_record_find_field(b, fa->name);
        if (!fb || fa->type != fb->type || fa->size != fb->size || (fa->size && memcmp(fa->data, fb->data, fa->size)))
            return 0;
    }
    if (!check_columns)
        return 1;
    for (size_t i = 0; i < jf_record_column_count(a); i++) {
        const jf_column *ca = jf_record_column(a, i), *cb = jf_record_find_column(b, ca->name);
        if (!cb || ca->type != cb->type)
            return 0;
        if ((ca->type == JF_COL_INT && ca->i != cb->i) || (ca->type == JF_COL_REAL && ca->d != cb->d) ||
            (ca->type == JF_COL_TEXT && strcmp(ca->s, cb->s)))
            return 0;
    }
    return 1;
}

static jf_status write_set(const char *dir, int n, int big, jf_writer_params *wp, const char *source, jf_error *errp)
{
    jf_store *st;
    jf_status s = jf_store_open(dir, JF_STORE_CREATE, &st, errp);
    if (s)
        return s;
    jf_writer_params p = wp ? *wp : jf_writer_default_params();
    p.source = source;
    p.fsync = 0;
    jf_writer *w;
    s = jf_writer_create(st, &p, &w, errp);
    jf_record *r = jf_record_create();
    for (int i = 0; i < n && s == JF_OK; i++) {
        make_record(r, i, big);
        s = jf_writer_add(w, r, errp);
    }
    if (s == JF_OK)
        s = jf_writer_close(w, errp);
    else
        jf_writer_abort(w);
    jf_record_destroy(r);
    jf_store_close(st);
    return s;
}

static long long q1(const char *dir, const char *sql)
{
    char path[600];
    snprintf(path, sizeof path, "%s/index.sqlite", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *q;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *dir, const char *sql)
{
    char path[600];
    snprintf(path, sizeof path, "%s/index.sqlite", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
}

/* ---- tests ---- */

static void test_record_roundtrip(void)
{
    jf_error err;
    const char *dir = tmp("roundtrip");
    rmrf(dir);
    jf_writer_params wp = jf_writer_default_params();
    wp.shard_bytes = 2u << 20; /* several shards */
    CHECK_OK(write_set(dir, 60, 1, &wp, "unit", &err));
    CHECK(q1(dir, "SELECT count(*) FROM shards WHERE state='complete'") > 2);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples"), 60);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples WHERE kind='understanding'"), 20);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples s JOIN sources o ON o.id=s.source_id WHERE o.name='unit'"), 60);
    /* Columns from the record and from sniffing are in the index. */
    CHECK_EQ_INT(q1(dir, "SELECT width FROM samples WHERE key='set/00004'"), 32 + 4);
    CHECK_EQ_INT(q1(dir, "SELECT height FROM samples WHERE key='set/00004'"), 24 + 4);
    CHECK_EQ_INT(q1(dir, "SELECT shard_hint FROM samples WHERE key='set/00042'"), 4);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples WHERE similarity > 0.25"), 24);
    CHECK_EQ_INT(q1(dir, "SELECT caption_len FROM samples WHERE key='set/00000'") > 0, 1);

    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    jf_record *want = jf_record_create(), *got = jf_record_create();
    for (int i = 0; i < 60; i++) {
        make_record(want, i, 1);
        CHECK_OK(jf_store_get(st, jf_record_key(want), got, &err));
        CHECK_MSG(records_equal(want, got, 0), "record %d differs", i);
        CHECK(jf_record_find_column(got, "similarity")->d == jf_record_find_column(want, "similarity")->d);
        CHECK(!strcmp(jf_record_find_column(got, "license")->s, i % 2 ? "cc-by" : "unknown"));
        CHECK(jf_record_find_column(got, "nothing")->type == JF_COL_NULL);
        CHECK(jf_record_find_field(got, "blob.npz")->raw);
        CHECK(!jf_record_find_field(got, "json")->raw);
    }
    /* By row id, and the sequential scan in order. */
    CHECK_OK(jf_store_get_row(st, 1, got, &err));
    CHECK(!strcmp(jf_record_key(got), "set/00000"));
    jf_scan *sc;
    CHECK_OK(jf_scan_create(st, &sc, &err));
    int n = 0;
    int64_t id;
    jf_status s;
    while ((s = jf_scan_next(sc, got, &id, &err)) == JF_OK) {
        make_record(want, n, 1);
        CHECK_MSG(records_equal(want, got, 0), "scan record %d differs", n);
        CHECK_EQ_INT(id, n + 1);
        n++;
    }
    CHECK_EQ_INT(s, JF_ENOTFOUND);
    CHECK_EQ_INT(n, 60);
    jf_scan_destroy(sc);
    CHECK_EQ_INT(jf_store_get(st, "no/such/key", got, &err), JF_ENOTFOUND);
    jf_record_destroy(want);
    jf_record_destroy(got);
    jf_store_close(st);
}

static void test_record_limits(void)
{
    jf_error err;
    jf_record *r = jf_record_create();
    char longkey[5000];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    CHECK_EQ_INT(jf_record_set_key(r, longkey, &err), JF_EARG);
    CHECK_EQ_INT(jf_record_set_key(r, "", &err), JF_EARG);
    CHECK_OK(jf_record_set_key(r, "ok", &err));
    CHECK_OK(jf_record_add_field(r, "txt", JF_FIELD_TEXT, "a", 1, &err));
    CHECK_EQ_INT(jf_record_add_field(r, "txt", JF_FIELD_TEXT, "b", 1, &err), JF_EEXISTS);
    CHECK_EQ_INT(jf_record_add_field(r, "a/b", JF_FIELD_TEXT, "b", 1, &err), JF_EARG);
    CHECK_EQ_INT(jf_record_add_field(r, "", JF_FIELD_TEXT, "b", 1, &err), JF_EARG);
    CHECK_EQ_INT(jf_record_set_int(r, "offset", 1, &err), JF_EARG);
    CHECK_EQ_INT(jf_record_set_int(r, "1abc", 1, &err), JF_EARG);
    CHECK_EQ_INT(jf_record_set_int(r, "a b", 1, &err), JF_EARG);
    CHECK_OK(jf_record_set_int(r, "score", 1, &err));
    CHECK_OK(jf_record_set_int(r, "score", 2, &err)); /* last value wins */
    CHECK_EQ_INT(jf_record_find_column(r, "score")->i, 2);
    CHECK_EQ_INT(jf_record_column_count(r), 1);
    /* A column that changes type between records is refused with a message naming it. */
    const char *dir = tmp("limits");
    rmrf(dir);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_CREATE, &st, &err));
    jf_writer *w;
    CHECK_OK(jf_writer_create(st, NULL, &w, &err));
    CHECK_OK(jf_writer_add(w, r, &err));
    jf_record_set_key(r, "ok2", &err);
    jf_record_set_text(r, "score", "high", &err);
    CHECK_EQ_INT(jf_writer_add(w, r, &err), JF_EARG);
    CHECK(strstr(err.msg, "score"));
    jf_record_set_real(r, "score", 2.5, &err); /* INTEGER column: a REAL is refused too */
    CHECK_EQ_INT(jf_writer_add(w, r, &err), JF_EARG);
    CHECK_OK(jf_writer_close(w, &err));
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples"), 1);
    jf_store_close(st);
    jf_record_destroy(r);
}

static void test_dict_smaller(void)
{
    jf_error err;
    const char *a = tmp("dict_on"), *b = tmp("dict_off");
    rmrf(a);
    rmrf(b);
    jf_writer_params wp = jf_writer_default_params();
    wp.dict_train_records = 500;
    CHECK_OK(write_set(a, 1500, 0, &wp, "d", &err));
    wp.use_dict = 0;
    CHECK_OK(write_set(b, 1500, 0, &wp, "d", &err));
    long long with = q1(a, "SELECT sum(bytes) FROM shards"), without = q1(b, "SELECT sum(bytes) FROM shards");
    long long img = q1(a, "SELECT sum(image_bytes) FROM samples");
    printf("    1500 records: %lld bytes with dictionary, %lld without (images %lld)\n", with, without, img);
    CHECK_EQ_INT(q1(a, "SELECT count(*) FROM dicts"), 1);
    CHECK_EQ_INT(q1(b, "SELECT count(*) FROM dicts"), 0);
    /* The text part must shrink markedly; images are stored as they are in both. */
    CHECK_MSG((with - img) * 10 < (without - img) * 8, "text bytes %lld vs %lld", with - img, without - img);
    char path[600];
    snprintf(path, sizeof path, "%s/dicts/%lld.zdict", a, q1(a, "SELECT id FROM dicts"));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size > 0);
    /* Readable without the index: the record file finds ../dicts by itself. */
    jf_jfr *f;
    snprintf(path, sizeof path, "%s/shards/00000001.jfr", a);
    CHECK_OK(jf_jfr_open(path, NULL, &f, &err));
    jf_record *r = jf_record_create();
    jf_record_pos pos;
    CHECK_OK(jf_jfr_next(f, r, &pos, &err));
    CHECK(!strcmp(jf_record_key(r), "set/00000"));
    jf_record_destroy(r);
    jf_jfr_close(f);
}

static void gc_path(void *user, const jf_problem *p) { snprintf(user, 600, "%s", p->path); }

/* A writer killed mid-run: what it finalized is whole and indexed, the open shard is a .partial.
 * With a dictionary to train (use_dict), the first records must reach disk before it exists. */
static void kill_writer_case(int use_dict)
{
    jf_error err;
    const char *dir = tmp(use_dict ? "killed_dict" : "killed");
    rmrf(dir);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        jf_store *st;
        if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
            _exit(3);
        jf_writer_params p = jf_writer_default_params();
        p.max_records = 50;
        p.use_dict = use_dict; /* training wants 2000 records: far more than the shards hold */
        jf_writer *w;
        if (jf_writer_create(st, &p, &w, &err))
            _exit(4);
        jf_record *r = jf_record_create();
        for (int i = 0;; i++) {
            make_record(r, i, 0);
            if (jf_writer_add(w, r, &err))
                _exit(5);
            if (i == 120) {
                if (write(fds[1], "x", 1) != 1)
                    _exit(6);
            }
            if (i > 120)
                usleep(1000);
        }
    }
    close(fds[1]);
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    usleep(20000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    CHECK(WIFSIGNALED(status));
    /* Finalized shards are complete and listed; the open one is a .partial, not listed. */
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM shards WHERE state='complete'"), 2);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM shards WHERE state='writing'"), 1);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples"), 100);
    char partial[600];
    snprintf(partial, sizeof partial, "%s/shards/00000003.jfr.partial", dir);
    struct stat sb;
    CHECK(stat(partial, &sb) == 0);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_WRITE, &st, &err));
    jf_verify_report rep;
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors, 0);
    CHECK_EQ_INT(rep.partial_files, 1);
    CHECK_EQ_INT(rep.records, 100);
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "set/00099", r, &err));
    CHECK_EQ_INT(jf_store_get(st, "set/00100", r, &err), JF_ENOTFOUND);
    /* The partial file is recoverable by a scan: its records are intact up to the kill. */
    jf_jfr *f;
    CHECK_OK(jf_jfr_open(partial, NULL, &f, &err));
    CHECK(!jf_jfr_get_info(f)->complete);
    int n = 0;
    jf_record_pos pos;
    while (jf_jfr_next(f, r, &pos, &err) == JF_OK)
        n++;
    jf_jfr_close(f);
    CHECK(n >= 0 && n < 50);
    uint64_t removed;
    char gc_named[600] = "";
    CHECK_OK(jf_store_gc(st, 0, gc_path, gc_named, &removed, &err));
    CHECK_EQ_INT(removed, 1);
    /* what gc removed is the file on disk, the .partial, and it says so */
    CHECK_STR(gc_named, "shards/00000003.jfr.partial");
    CHECK(stat(partial, &sb) != 0);
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors + rep.warnings, 0);
    jf_record_destroy(r);
    jf_store_close(st);
}

static void test_kill_writer(void) { kill_writer_case(0); }
static void test_kill_writer_dict(void) { kill_writer_case(1); }

typedef struct found {
    int n;
    char what[16][300];
    long long off[16];
} found;

static void collect(void *user, const jf_problem *p)
{
    found *f = user;
    if (f->n < 16 && !strcmp(p->severity, "error")) {
        snprintf(f->what[f->n], sizeof f->what[0], "%s", p->what);
        f->off[f->n] = p->offset;
        f->n++;
    }
}

/* A finding at `offset` in its offset field (not only in the message text: --json gives the field). */
static int any_mentions(const found *f, long long offset)
{
    for (int i = 0; i < f->n; i++)
        if (f->off[i] == offset)
            return 1;
    return 0;
}

static void flip(const char *path, long long at)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    if (pread(fd, &b, 1, at) != 1)
        abort();
    b ^= 0x5A;
    if (pwrite(fd, &b, 1, at) != 1)
        abort();
    close(fd);
}

static void test_verify_damage(void)
{
    jf_error err;
    const char *dir = tmp("damage");
    rmrf(dir);
    jf_writer_params wp = jf_writer_default_params();
    wp.max_records = 20;
    CHECK_OK(write_set(dir, 60, 0, &wp, "v", &err));
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    jf_verify_report rep;
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors, 0);
    CHECK_EQ_INT(rep.records, 60);
    jf_store_close(st);
    char s1[600], s2[600], s3[600];
    snprintf(s1, sizeof s1, "%s/shards/00000001.jfr", dir);
    snprintf(s2, sizeof s2, "%s/shards/00000002.jfr", dir);
    snprintf(s3, sizeof s3, "%s/shards/00000003.jfr", dir);
    /* 1. a flipped byte in the middle of record 5's body (shard 1) */
    long long off5 = q1(dir, "SELECT offset FROM samples WHERE key='set/00005'");
    long long len5 = q1(dir, "SELECT length FROM samples WHERE key='set/00005'");
    flip(s1, off5 + len5 - 40);
    /* 2. a flipped byte in record 27's header (shard 2): found, and the scan resyncs after it */
    long long off27 = q1(dir, "SELECT offset FROM samples WHERE key='set/00027'");
    flip(s2, off27 + 12);
    /* 3. shard 3 truncated by 1000 bytes */
    struct stat sb;
    stat(s3, &sb);
    CHECK(truncate(s3, sb.st_size - 1000) == 0);
    found f = {0};
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    CHECK_OK(jf_store_verify(st, collect, NULL, &f, &rep, &err));
    for (int i = 0; i < f.n; i++)
        printf("    found: @%lld %s\n", f.off[i], f.what[i]);
    CHECK(rep.errors >= 3);
    CHECK_MSG(any_mentions(&f, off5), "record 5 at %lld not reported", off5);
    CHECK_MSG(any_mentions(&f, off27), "record 27 at %lld not reported", off27);
    CHECK_EQ_INT(rep.shards_ok, 0);
    /* After record 27's damage the scan went on: records 28.. of shard 2 were still read. */
    CHECK(rep.records >= 60 - 1 - 1 - 20 + 15);
    /* Reading the damaged record fails cleanly with the offset; its neighbours still read. */
    jf_record *r = jf_record_create();
    CHECK_EQ_INT(jf_store_get(st, "set/00005", r, &err), JF_ECORRUPT);
    CHECK(strstr(err.msg, "00000001.jfr") != NULL);
    CHECK_OK(jf_store_get(st, "set/00006", r, &err));
    jf_store_close(st);
    /* 4. index rows that point past the end, or claim a longer record than the file has */
    const char *d2 = tmp("damage2");
    rmrf(d2);
    CHECK_OK(write_set(d2, 30, 0, &wp, "v", &err));
    exec_sql(d2, "UPDATE samples SET offset = 99999999 WHERE key='set/00003'");
    exec_sql(d2, "UPDATE samples SET length = length + 100000 WHERE key='set/00004'");
    CHECK_OK(jf_store_open(d2, JF_STORE_READONLY, &st, &err));
    memset(&f, 0, sizeof f);
    CHECK_OK(jf_store_verify(st, collect, NULL, &f, &rep, &err));
    CHECK(any_mentions(&f, 99999999));
    CHECK(rep.errors >= 2);
    CHECK_EQ_INT(jf_store_get(st, "set/00003", r, &err), JF_ECORRUPT);
    CHECK(strstr(err.msg, "99999999"));
    CHECK_EQ_INT(jf_store_get(st, "set/00004", r, &err), JF_ECORRUPT);
    jf_record_destroy(r);
    jf_store_close(st);
}

static char *dump_index(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/index.sqlite", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db,
                       "SELECT s.key, s.kind, h.path, s.offset, s.length, o.name, s.width, s.height, s.image_format, "
                       "s.image_bytes, s.caption_len, s.similarity, s.shard_hint, s.license, h.records, h.bytes, h.xxh64, "
                       "h.uuid FROM samples s JOIN shards h ON h.id = s.shard_id LEFT JOIN sources o ON o.id = s.source_id "
                       "ORDER BY h.path, s.offset",
                       -1, &q, NULL);
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    out[0] = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            const char *t = (const char *)sqlite3_column_text(q, c);
            n += (size_t)snprintf(out + n, cap - n, "%s|", t ? t : "NULL");
            if (n + 512 > cap) {
                cap *= 2;
                out = realloc(out, cap);
            }
        }
        n += (size_t)snprintf(out + n, cap - n, "\n");
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

static void test_reindex(void)
{
    jf_error err;
    const char *dir = tmp("reindex");
    rmrf(dir);
    jf_writer_params wp = jf_writer_default_params();
    wp.max_records = 25;
    wp.dict_train_records = 100;
    CHECK_OK(write_set(dir, 130, 0, &wp, "first", &err));
    CHECK_OK(write_set(dir, 40, 0, &wp, "second", &err)); /* a second writer, same keys, other source */
    char *before = dump_index(dir);
    CHECK_OK(jf_store_reindex(dir, 0, NULL, NULL, NULL, NULL, &err));
    char *after = dump_index(dir);
    CHECK_MSG(!strcmp(before, after), "index differs after reindex:\n--- before\n%.600s\n--- after\n%.600s", before, after);
    /* With the index gone entirely. */
    char path[600];
    snprintf(path, sizeof path, "%s/index.sqlite", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/index.sqlite.bak", dir);
    unlink(path);
    CHECK_OK(jf_store_reindex(dir, 0, NULL, NULL, NULL, NULL, &err));
    char *again = dump_index(dir);
    CHECK(!strcmp(before, again));
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM dicts"), 1);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    jf_verify_report rep;
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors, 0);
    CHECK_EQ_INT(rep.records, 170);
    jf_store_close(st);
    free(before);
    free(after);
    free(again);
}

static void test_merge(void)
{
    jf_error err;
    const char *a = tmp("merge_a"), *b = tmp("merge_b"), *c = tmp("merge_c");
    rmrf(a);
    rmrf(b);
    rmrf(c);
    jf_writer_params wp = jf_writer_default_params();
    wp.max_records = 30;
    wp.dict_train_records = 80;
    CHECK_OK(write_set(a, 100, 0, &wp, "laion", &err));
    CHECK_OK(write_set(b, 70, 0, &wp, "sa1b", &err));
    /* b gets an extra column that a does not have */
    {
        jf_store *st;
        CHECK_OK(jf_store_open(b, JF_STORE_WRITE, &st, &err));
        jf_writer *w;
        wp.source = "sa1b";
        CHECK_OK(jf_writer_create(st, &wp, &w, &err));
        jf_record *r = jf_record_create();
        make_record(r, 999, 0);
        jf_record_set_int(r, "mask_count", 17, &err);
        CHECK_OK(jf_writer_add(w, r, &err));
        CHECK_OK(jf_writer_close(w, &err));
        jf_record_destroy(r);
        jf_store_close(st);
    }
    jf_store *dst;
    CHECK_OK(jf_store_open(c, JF_STORE_CREATE, &dst, &err));
    jf_merge_report rep;
    CHECK_OK(jf_store_merge(dst, a, JF_MERGE_LINK, &rep, &err));
    CHECK_EQ_INT(rep.records, 100);
    CHECK_OK(jf_store_merge(dst, b, JF_MERGE_COPY, &rep, &err));
    CHECK_EQ_INT(rep.records, 71);
    CHECK_OK(jf_store_merge(dst, b, JF_MERGE_COPY, &rep, &err)); /* again: nothing new */
    CHECK_EQ_INT(rep.records, 0);
    CHECK_EQ_INT(rep.shards, 0);
    jf_verify_report vr;
    CHECK_OK(jf_store_verify(dst, NULL, NULL, NULL, &vr, &err));
    CHECK_EQ_INT(vr.errors, 0);
    CHECK_EQ_INT(vr.records, 171);
    jf_store_close(dst);
    CHECK_EQ_INT(q1(c, "SELECT count(*) FROM samples"), 171);
    CHECK_EQ_INT(q1(c, "SELECT count(*) FROM sources"), 2);
    CHECK_EQ_INT(q1(c, "SELECT count(*) FROM samples s JOIN sources o ON o.id=s.source_id WHERE o.name='sa1b'"), 71);
    CHECK_EQ_INT(q1(c, "SELECT mask_count FROM samples WHERE key='set/00999'"), 17);
    CHECK_EQ_INT(q1(c, "SELECT count(*) FROM dicts"), 2);
    /* every record readable through the merged index */
    CHECK_OK(jf_store_open(c, JF_STORE_READONLY, &dst, &err));
    jf_scan *sc;
    jf_record *r = jf_record_create();
    CHECK_OK(jf_scan_create(dst, &sc, &err));
    int n = 0;
    while (jf_scan_next(sc, r, NULL, &err) == JF_OK)
        n++;
    CHECK_EQ_INT(n, 171);
    jf_scan_destroy(sc);
    jf_record_destroy(r);
    jf_store_close(dst);
}

static void test_wds_roundtrip(void)
{
    jf_error err;
    const char *a = tmp("wds_a"), *b = tmp("wds_b"), *out = tmp("wds_tars");
    rmrf(a);
    rmrf(b);
    rmrf(out);
    mkdir(out, 0777);
    CHECK_OK(write_set(a, 45, 1, NULL, "wds", &err));
    jf_store *sa;
    CHECK_OK(jf_store_open(a, JF_STORE_READONLY, &sa, &err));
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/part-%%04d.tar", out);
    jf_wds_report rep;
    CHECK_OK(jf_wds_export(sa, pattern, 20, 0, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.tars, 3);
    CHECK_EQ_INT(rep.samples, 45);
    /* Python's tarfile (what webdataset uses) reads what we wrote: names and sizes. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import tarfile,sys; t=tarfile.open('%s/part-0000.tar'); m=t.getmembers(); "
             "sys.exit(0 if len(m)>=100 and m[0].name.startswith('set/00000.') and all(x.isreg() for x in m) else 1)\"",
             out);
    CHECK_MSG(system(cmd) == 0, "python tarfile could not read the export");
    jf_store *sb;
    CHECK_OK(jf_store_open(b, JF_STORE_CREATE, &sb, &err));
    jf_writer *w;
    CHECK_OK(jf_writer_create(sb, NULL, &w, &err));
    for (int t = 0; t < 3; t++) {
        char path[600];
        snprintf(path, sizeof path, pattern, t);
        jf_wds_report ir = {0};
        CHECK_OK(jf_wds_import(w, path, NULL, NULL, &ir, &err));
        CHECK_EQ_INT(ir.errors, 0);
    }
    CHECK_OK(jf_writer_close(w, &err));
    jf_record *ra = jf_record_create(), *rb = jf_record_create();
    for (int i = 0; i < 45; i++) {
        make_record(ra, i, 1);
        CHECK_OK(jf_store_get(sb, jf_record_key(ra), rb, &err));
        CHECK_MSG(records_equal(ra, rb, 1), "record %d differs after export/import", i);
    }
    jf_record_destroy(ra);
    jf_record_destroy(rb);
    jf_store_close(sa);
    jf_store_close(sb);
}

/* A tar with the awkward cases; returns its path. */
static const char *awkward_tar(int truncate_at_member)
{
    const char *path = tmp("awkward.tar");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    struct archive_entry *e = archive_entry_new();
    const char *names[] = {"a/0001.jpg", "a/0001.txt", "a/0002.jpg", "a/0002.txt", "a/0002.txt",
                           "../evil.txt", "/abs.txt",  "a/0003.txt", "a/0004.txt", "a/0003.json",
                           "README",      ".hidden.txt", "a/0005.jpg", "a/0005.txt", "a/0006.jpg", "a/0006.txt"};
    size_t len;
    uint8_t *jpg = jpeg_of(20, 10, 5, &len);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, names[i]);
        int img = strstr(names[i], ".jpg") != NULL;
        archive_entry_set_size(e, img ? (la_int64_t)len : 5);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, img ? (const void *)jpg : "hello", img ? len : 5);
    }
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "a/link.txt");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, "/etc/passwd");
    archive_write_header(a, e);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    free(jpg);
    if (truncate_at_member) {
        struct stat sb;
        stat(path, &sb);
        if (truncate(path, 512 * 30) != 0)
            abort();
    }
    return path;
}

static void test_wds_bad_input(void)
{
    jf_error err;
    const char *dir = tmp("wds_bad");
    rmrf(dir);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_CREATE, &st, &err));
    jf_writer *w;
    CHECK_OK(jf_writer_create(st, NULL, &w, &err));
    found f = {0};
    jf_wds_report rep = {0};
    CHECK_OK(jf_wds_import(w, awkward_tar(0), collect, &f, &rep, &err));
    for (int i = 0; i < f.n; i++)
        printf("    reported: @%lld %s\n", f.off[i], f.what[i]);
    /* 0001, 0002, 0003, 0004, 0005, 0006; 0003 again is not imported (one message says so), the
     * symlinked a/link sample goes with its refused member */
    CHECK_EQ_INT(rep.samples, 6);
    CHECK(rep.errors >= 5); /* duplicate field, ../, /abs, re-seen key, link */
    int dup = 0, trav = 0, reseen = 0, link = 0;
    for (int i = 0; i < f.n; i++) {
        dup += strstr(f.what[i], "two 'txt' members") != NULL;
        trav += strstr(f.what[i], "parent-directory") != NULL;
        reseen += strstr(f.what[i], "re-appear apart from its first ones; not imported") != NULL;
        link += strstr(f.what[i], "'a/link.txt' is not a regular file") != NULL;
    }
    CHECK(dup == 1 && trav == 2 && reseen == 1 && link == 1);
    CHECK_EQ_INT(f.n, 5); /* one message per event */
    /* Truncated: samples before the cut are kept, the cut is reported with an offset. */
    memset(&f, 0, sizeof f);
    memset(&rep, 0, sizeof rep);
    CHECK_OK(jf_wds_import(w, awkward_tar(1), collect, &f, &rep, &err));
    CHECK(rep.samples >= 1 && rep.samples < 7);
    CHECK(rep.errors >= 1);
    int cut = 0;
    for (int i = 0; i < f.n; i++)
        cut += strstr(f.what[i], "cut short") != NULL || strstr(f.what[i], "tar stops here") != NULL;
    CHECK(cut >= 1);
    /* Not a tar at all. */
    const char *junk = tmp("junk.tar");
    FILE *jf = fopen(junk, "w");
    fputs("this is not a tar file at all, just text\n", jf);
    fclose(jf);
    memset(&rep, 0, sizeof rep);
    CHECK_OK(jf_wds_import(w, junk, collect, &f, &rep, &err));
    CHECK_EQ_INT(rep.samples, 0);
    CHECK(rep.errors >= 1);
    CHECK_OK(jf_writer_close(w, &err));
    jf_store_close(st);
}

/* ---- tars cut at every byte ---- */

typedef struct cut_member {
    char key[16];
    int64_t off;   /* header offset */
    int64_t end;   /* end of its data: the member is readable from a cut at or after this */
    int sample;    /* index of its sample */
} cut_member;

typedef struct cut_seen {
    int n_samples;
    char keys[16][16];
    int64_t problem_off;
    int problems;
} cut_seen;

static void cut_problem(void *user, const jf_problem *p)
{
    cut_seen *c = user;
    if (!strcmp(p->severity, "error")) {
        c->problems++;
        c->problem_off = p->offset;
    }
}

/* Reads a (possibly cut) tar: the keys handed out, the reported cut offset and dropped key. */
static int read_cut(const char *path, cut_seen *c, int64_t *cut_off, char *dropped, jf_error *errp)
{
    memset(c, 0, sizeof *c);
    jf_wds_reader *rd;
    if (jf_wds_reader_open(path, NULL, NULL, cut_problem, c, &rd, errp) != JF_OK)
        return -1;
    jf_wds_sample smp;
    jf_status st;
    while ((st = jf_wds_reader_next(rd, &smp, errp)) == JF_OK)
        if (c->n_samples < 16)
            snprintf(c->keys[c->n_samples++], sizeof c->keys[0], "%s", smp.key);
    const char *dk = NULL;
    int truncated = jf_wds_reader_truncated(rd, cut_off, &dk);
    snprintf(dropped, 16, "%s", dk ? dk : "");
    jf_wds_reader_close(rd);
    return st == JF_ENOTFOUND ? truncated : -1;
}

/* What a cut at uncompressed byte `c` must keep: every sample whose members were all read; at a
 * cut inside (or exactly at) a header, the sample being read too, unless it lacks a member the
 * sample before it had (the first sample of a tar has none to compare with). */
static int expect_cut(const cut_member *m, int nm, int64_t c, int *drop_sample, int64_t *cut_off)
{
    int first_bad = 0;
    while (first_bad < nm && m[first_bad].end <= c)
        first_bad++;
    *drop_sample = -1;
    *cut_off = first_bad < nm ? m[first_bad].off : -1;
    if (first_bad == nm)
        return m[nm - 1].sample + 1;
    int cur = m[first_bad].sample;
    int started = first_bad > 0 && m[first_bad - 1].sample == cur; /* members of `cur` already read */
    if (c >= m[first_bad].off + 512) { /* data cut short: only `cur` goes */
        *drop_sample = cur;
        return cur;
    }
    if (!started)
        return cur; /* the samples before are whole */
    if (c == m[first_bad].off || cur == 0)
        return cur + 1; /* end of data at a header (the tar just ends), or nothing to compare with */
    *drop_sample = cur;
    return cur;
}

static void test_wds_cut_everywhere(void)
{
    jf_error err;
    const char *path = tmp("cutsweep.tar"), *cut = tmp("cutsweep_cut.tar");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    struct archive_entry *e = archive_entry_new();
    cut_member m[32];
    int nm = 0;
    uint8_t data[3000];
    fill(data, sizeof data, 11);
    int64_t off = 0;
    for (int smp = 0; smp < 6; smp++) {
        const char *exts[] = {"jpg", "json", "txt"};
        for (int k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof name, "s%d.%s", smp, exts[k]);
            size_t size = k == 0 ? 700 + 300 * (size_t)smp : k == 1 ? 30 + (size_t)smp : 5 + (size_t)smp;
            archive_entry_clear(e);
            archive_entry_set_pathname(e, name);
            archive_entry_set_size(e, (la_int64_t)size);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_write_header(a, e);
            archive_write_data(a, data, size);
            snprintf(m[nm].key, sizeof m[nm].key, "s%d", smp);
            m[nm].off = off;
            m[nm].end = off + 512 + (int64_t)size; /* the reader asks for the data, not the padding */
            m[nm].sample = smp;
            off += 512 + (int64_t)((size + 511) / 512 * 512);
            nm++;
        }
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    FILE *f = fopen(path, "rb");
    uint8_t *whole = malloc(1 << 16);
    size_t total = fread(whole, 1, 1 << 16, f);
    fclose(f);
    CHECK((int64_t)total >= off + 1024);
    /* gzip of the same tar: cuts in the compressed stream leave a prefix of the tar */
    uint8_t *gz = malloc(1 << 17);
    z_stream zs = {0};
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = whole;
    zs.avail_in = (uInt)total;
    zs.next_out = gz;
    zs.avail_out = 1 << 17;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    size_t gz_len = zs.total_out;
    deflateEnd(&zs);
    uint8_t *scratch = malloc(1 << 16);
    int checked = 0;
    for (int compressed = 0; compressed < 2; compressed++) {
        size_t len = compressed ? gz_len : total;
        for (size_t c = 0; c <= len; c += compressed ? 1 : 3) {
            f = fopen(cut, "wb");
            fwrite(compressed ? gz : whole, 1, c, f);
            fclose(f);
            int64_t avail = (int64_t)c; /* uncompressed bytes a reader can get */
            if (compressed) {
                /* what libarchive's gzip filter gives from the cut stream (it holds back the
                 * output of a block it cannot finish): the raw format reads it as one blob */
                struct archive *ra = archive_read_new();
                archive_read_support_filter_gzip(ra);
                archive_read_support_format_raw(ra);
                avail = 0;
                struct archive_entry *re;
                if (archive_read_open_filename(ra, cut, 1 << 16) == ARCHIVE_OK && archive_read_next_header(ra, &re) == ARCHIVE_OK) {
                    la_ssize_t got;
                    while ((got = archive_read_data(ra, scratch, 1)) > 0)
                        avail += got;
                }
                archive_read_free(ra);
            }
            cut_seen seen;
            int64_t cut_off;
            char dropped[16];
            int tr = read_cut(cut, &seen, &cut_off, dropped, &err);
            CHECK_MSG(tr >= 0, "cut at %zu: %s", c, err.msg);
            if (avail < 512) {
                CHECK_MSG(seen.n_samples == 0 && tr == 1, "cut at %zu: %d samples from %lld bytes", c, seen.n_samples,
                          (long long)avail);
                continue;
            }
            int drop;
            int64_t want_off;
            int want = expect_cut(m, nm, avail, &drop, &want_off);
            CHECK_MSG(seen.n_samples == want, "%s cut at %zu (tar byte %lld): %d samples, want %d", compressed ? "gzip" : "tar",
                      c, (long long)avail, seen.n_samples, want);
            for (int i = 0; i < want; i++)
                CHECK_STR(seen.keys[i], m[3 * i].key);
            if (avail >= off + 1024) {
                CHECK_MSG(tr == 0 && seen.problems == 0, "whole tar reported as cut at %zu", c);
                continue;
            }
            if (want_off < 0)
                want_off = off; /* every member read: the end-of-archive blocks are missing */
            if (avail == want_off || avail > off) {
                /* a tar that ends at a header, or inside the end-of-archive blocks, just ends */
                CHECK_MSG(seen.problems == 0 || (tr == 1 && cut_off == want_off), "cut at %zu", c);
                continue;
            }
            CHECK_MSG(tr == 1 && seen.problems >= 1, "%s cut at %zu not reported", compressed ? "gzip" : "tar", c);
            /* the offset is the member concerned, in the message, the problem and the reader's report */
            CHECK_MSG(seen.problem_off == want_off && cut_off == want_off, "%s cut at %zu (tar byte %lld): offset %lld/%lld, want %lld",
                      compressed ? "gzip" : "tar", c, (long long)avail, (long long)seen.problem_off, (long long)cut_off,
                      (long long)want_off);
            CHECK_MSG(!strcmp(dropped, drop >= 0 ? m[3 * drop].key : ""), "cut at %zu (tar byte %lld): dropped \"%s\", want sample %d", c, (long long)avail, dropped, drop);
            checked++;
        }
    }
    printf("    %d cuts checked (plain every 3rd byte, gzip every byte)\n", checked);
    /* import keeps what the reader keeps */
    f = fopen(cut, "wb");
    fwrite(whole, 1, (size_t)m[7].off + 600, f); /* inside the data of s2.json: s0, s1 are whole */
    fclose(f);
    const char *dir = tmp("cut_import");
    rmrf(dir);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_CREATE, &st, &err));
    jf_writer *w;
    CHECK_OK(jf_writer_create(st, NULL, &w, &err));
    jf_wds_report rep = {0};
    CHECK_OK(jf_wds_import(w, cut, NULL, NULL, &rep, &err));
    CHECK_OK(jf_writer_close(w, &err));
    jf_store_close(st);
    CHECK_EQ_INT(rep.samples, 2);
    free(whole);
    free(gz);
    free(scratch);
}

static void test_concurrent_writers(void)
{
    jf_error err;
    const char *dir = tmp("concurrent");
    rmrf(dir);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_CREATE, &st, &err));
    jf_store_close(st);
    pid_t pids[4];
    for (int p = 0; p < 4; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            jf_store *s2;
            if (jf_store_open(dir, JF_STORE_WRITE, &s2, &err))
                _exit(3);
            jf_writer_params wp = jf_writer_default_params();
            wp.max_records = 37;
            wp.dict_train_records = 100;
            wp.fsync = 0;
            char src[16];
            snprintf(src, sizeof src, "proc%d", p);
            wp.source = src;
            jf_writer *w;
            if (jf_writer_create(s2, &wp, &w, &err))
                _exit(4);
            jf_record *r = jf_record_create();
            for (int i = 0; i < 300; i++) {
                make_record(r, p * 1000 + i, 0);
                if (jf_writer_add(w, r, &err)) {
                    fprintf(stderr, "child %d: %s\n", p, err.msg);
                    _exit(5);
                }
            }
            if (jf_writer_close(w, &err)) {
                fprintf(stderr, "child %d: %s\n", p, err.msg);
                _exit(6);
            }
            jf_record_destroy(r);
            jf_store_close(s2);
            _exit(0);
        }
    }
    for (int p = 0; p < 4; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed (status %d)", p, status);
    }
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples"), 1200);
    CHECK_EQ_INT(q1(dir, "SELECT count(DISTINCT key) FROM samples"), 1200);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM shards WHERE state='writing'"), 0);
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    jf_verify_report rep;
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors, 0);
    CHECK_EQ_INT(rep.records, 1200);
    jf_store_close(st);
}

static void test_disk_full(void)
{
    jf_error err;
    const char *dir = tmp("full");
    rmrf(dir);
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_CREATE, &st, &err));
    jf_store_close(st);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        /* Files may not grow beyond 400 KB: writes fail with EFBIG, as on a full disk. The
         * index lives in the same folder, so its small writes stay under the limit. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {400 * 1024, 400 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        jf_store *s2;
        if (jf_store_open(dir, JF_STORE_WRITE, &s2, &err))
            _exit(3);
        jf_writer_params wp = jf_writer_default_params();
        wp.shard_bytes = 1u << 20;
        wp.use_dict = 0;
        jf_writer *w;
        if (jf_writer_create(s2, &wp, &w, &err))
            _exit(4);
        jf_record *r = jf_record_create();
        jf_status s = JF_OK;
        for (int i = 0; i < 40 && s == JF_OK; i++) {
            make_record(r, i, 1); /* ~300 KB each */
            s = jf_writer_add(w, r, &err);
        }
        if (s == JF_OK)
            s = jf_writer_close(w, &err);
        dprintf(fds[1], "%d|%s", (int)s, err.msg);
        _exit(0);
    }
    close(fds[1]);
    char msg[2048] = {0};
    ssize_t n = read(fds[0], msg, sizeof msg - 1);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    CHECK(n > 0);
    printf("    writer said: %s\n", msg);
    CHECK_EQ_INT(atoi(msg), JF_ENOSPC);
    CHECK(strstr(msg, ".jfr.partial") && strstr(msg, "at byte"));
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM shards WHERE state='complete'"), 0);
    CHECK_EQ_INT(q1(dir, "SELECT count(*) FROM samples"), 0);
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    jf_verify_report rep;
    CHECK_OK(jf_store_verify(st, NULL, NULL, NULL, &rep, &err));
    CHECK_EQ_INT(rep.errors, 0);
    CHECK_EQ_INT(rep.partial_files, 1);
    jf_store_close(st);
}

static void test_bad_files(void)
{
    jf_error err;
    jf_jfr *f;
    const char *p = tmp("not_a_shard.jfr");
    FILE *fp = fopen(p, "w");
    fputs("PK\003\004 this is a zip, or something else entirely, and certainly not a shard", fp);
    fclose(fp);
    CHECK_EQ_INT(jf_jfr_open(p, NULL, &f, &err), JF_EFORMAT);
    CHECK(strstr(err.msg, "not a jf record file"));
    fp = fopen(p, "w");
    fclose(fp);
    CHECK_EQ_INT(jf_jfr_open(p, NULL, &f, &err), JF_EFORMAT);
    CHECK_EQ_INT(jf_jfr_open(tmp("missing.jfr"), NULL, &f, &err), JF_ENOTFOUND);
    jf_store *st;
    CHECK_EQ_INT(jf_store_open(tmp("no_dataset_here"), JF_STORE_READONLY, &st, &err), JF_ENOTFOUND);
    const char *d = tmp("garbage_index");
    rmrf(d);
    mkdir(d, 0777);
    char ip[600];
    snprintf(ip, sizeof ip, "%s/index.sqlite", d);
    fp = fopen(ip, "w");
    fputs("definitely not sqlite", fp);
    fclose(fp);
    jf_status s = jf_store_open(d, JF_STORE_READONLY, &st, &err);
    CHECK(s == JF_EFORMAT || s == JF_EDB);
    CHECK(strstr(err.msg, "index.sqlite"));
    /* A shard header claiming a huge record: refused, not allocated. */
    const char *ds = tmp("liar");
    rmrf(ds);
    CHECK_OK(write_set(ds, 3, 0, NULL, "x", &err));
    char sp[600];
    snprintf(sp, sizeof sp, "%s/shards/00000001.jfr", ds);
    long long off = q1(ds, "SELECT offset FROM samples WHERE key='set/00001'");
    int fd = open(sp, O_RDWR);
    uint8_t big[8] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}; /* content length field */
    CHECK(pwrite(fd, big, 8, off + 8 + 16) == 8);
    close(fd);
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    jf_record *r = jf_record_create();
    CHECK_EQ_INT(jf_store_get(st, "set/00001", r, &err), JF_ECORRUPT);
    CHECK_OK(jf_store_get(st, "set/00002", r, &err));
    jf_record_destroy(r);
    jf_store_close(st);
}

static void test_sniff(void)
{
    size_t len;
    uint8_t *jpg = jpeg_of(123, 45, 1, &len);
    const char *fmt;
    int w, h;
    CHECK(jf_image_sniff(jpg, len, &fmt, &w, &h) == 0);
    CHECK(!strcmp(fmt, "jpeg") && w == 123 && h == 45);
    CHECK(jf_image_sniff(jpg, 10, &fmt, &w, &h) == -1);
    free(jpg);
    uint8_t png[24] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 1, 0, 0, 0, 0, 7};
    CHECK(jf_image_sniff(png, 24, &fmt, &w, &h) == 0);
    CHECK(!strcmp(fmt, "png") && w == 256 && h == 7);
    uint8_t webp[30] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0, 0, 0, 0, 0,
                        99, 0, 0, 49, 0, 0};
    CHECK(jf_image_sniff(webp, 30, &fmt, &w, &h) == 0);
    CHECK(!strcmp(fmt, "webp") && w == 100 && h == 50);
    CHECK(jf_image_sniff((const uint8_t *)"hello world, no image", 21, &fmt, &w, &h) == -1);
}

static void cleanup(void)
{
    if (tmpdir[0] && !getenv("JF_KEEP_TEST_FILES")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

static const test_case cases[] = {
    {"record_roundtrip", test_record_roundtrip},
    {"record_limits", test_record_limits},
    {"dict_smaller", test_dict_smaller},
    {"kill_writer", test_kill_writer},
    {"kill_writer_dict", test_kill_writer_dict},
    {"wds_cut_everywhere", test_wds_cut_everywhere},
    {"verify_damage", test_verify_damage},
    {"reindex", test_reindex},
    {"merge", test_merge},
    {"wds_roundtrip", test_wds_roundtrip},
    {"wds_bad_input", test_wds_bad_input},
    {"concurrent_writers", test_concurrent_writers},
    {"disk_full", test_disk_full},
    {"bad_files", test_bad_files},
    {"sniff", test_sniff},
};
TEST_MAIN(cases)
