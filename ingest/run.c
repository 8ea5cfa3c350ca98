/* jf_ingest_run: inputs → samples → checked records in the shard store, with an outcome for
 * every sample. One reader (this thread) asks each input's source to read it into batches; a
 * pool decodes and checks a batch while the next one is read; records are written in input
 * order, so shards are deterministic. The kinds of input live in src_*.c (see run.h). */
#include "run.h"

#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <xxhash.h>

static const char *const OUTCOME_NAMES[JF_OUT_COUNT_] = {
    "ok", "already_present", "duplicate_key", "not_adjacent", "decode_error", "empty_file", "unsupported_format",
    "too_large", "too_small", "bad_aspect", "missing_image", "missing_pair_member", "bad_record", "truncated",
    "http_error", "timeout", "network_error", "opted_out", "hash_mismatch", "refused_member"};
static const char *const NOTE_NAMES[JF_NOTE_COUNT_] = {"caption_repaired", "extension_mismatch", "metadata_invalid",
                                                      "rejected_member"};

const char *jf_outcome_name(jf_outcome o) { return (unsigned)o < JF_OUT_COUNT_ ? OUTCOME_NAMES[o] : "unknown"; }
const char *jf_note_name(jf_note n) { return (unsigned)n < JF_NOTE_COUNT_ ? NOTE_NAMES[n] : "unknown"; }

jf_ingest_params jf_ingest_default_params(void)
{
    jf_ingest_params p;
    memset(&p, 0, sizeof p);
    p.limits = jf_image_default_limits();
    p.batch = 256;
    p.resize.mode = JF_RESIZE_KEEP;
    p.resize.size = 256;
    p.resize.filter = JF_RESAMPLE_LANCZOS;
    p.resize.format = "jpg";
    p.resize.quality = 95;
    p.resize.pad_rgb[0] = p.resize.pad_rgb[1] = p.resize.pad_rgb[2] = 255;
    p.http.parallel = 64;
    p.http.per_host = 8;
    p.http.timeout = 20;
    p.http.connect_timeout = 10;
    p.http.stall_timeout = 30;
    p.http.retries = 2;
    p.http.backoff = 1.0;
    p.http.max_bytes = 64u << 20;
    p.writer = jf_writer_default_params();
    return p;
}
static void process_item(const jf__ctx *r, jf__item *it)
{
    if (it->outcome != JF_OUT_OK) /* decided while reading (already present, duplicate, ...) */
        return;
    if (it->process)
        it->process(r, it);
    else {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "internal: a sample without a process function");
    }
    if (it->outcome != JF_OUT_OK) {
        jf_record_destroy(it->out);
        it->out = NULL;
    }
}

/* ---- worker pool ---- */

typedef struct batch {
    jf__item *v;
    size_t n, cap;
    atomic_size_t next;
} batch;

typedef struct pool {
    const jf__ctx *r;
    pthread_t *t;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    batch *cur;
    unsigned gen;
    int finished, stop;
} pool;

static void drain(const jf__ctx *r, batch *b)
{
    size_t i;
    while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
        process_item(r, &b->v[i]);
}

static void *worker(void *arg)
{
    pool *pl = arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (pl->gen == seen && !pl->stop)
            pthread_cond_wait(&pl->work, &pl->mu);
        if (pl->stop) {
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
        seen = pl->gen;
        batch *b = pl->cur;
        pthread_mutex_unlock(&pl->mu);
        drain(pl->r, b);
        pthread_mutex_lock(&pl->mu);
        if (++pl->finished == pl->n)
            pthread_cond_signal(&pl->done);
        pthread_mutex_unlock(&pl->mu);
    }
}

static int pool_start(pool *pl, const jf__ctx *r, int n)
{
    memset(pl, 0, sizeof *pl);
    pl->r = r;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->work, NULL);
    pthread_cond_init(&pl->done, NULL);
    pl->t = calloc((size_t)n, sizeof *pl->t);
    if (!pl->t)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&pl->t[i], NULL, worker, pl) != 0)
            break;
        pl->n++;
    }
    return pl->n ? 0 : -1;
}

static void pool_submit(pool *pl, batch *b)
{
    atomic_store(&b->next, 0);
    pthread_mutex_lock(&pl->mu);
    pl->cur = b;
    pl->finished = 0;
    pl->gen++;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_wait(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    while (pl->finished < pl->n)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_stop(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < pl->n; i++)
        pthread_join(pl->t[i], NULL);
    free(pl->t);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->work);
    pthread_cond_destroy(&pl->done);
}

/* ---- the run ---- */

typedef struct key_set {
    XXH128_hash_t *v;
    size_t cap, n;
} key_set;

/* Returns 1 if present; inserts otherwise. 128-bit hashes: collisions are not a practical concern. */
static int key_seen(key_set *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 14;
        XXH128_hash_t *t = calloc(cap, sizeof *t);
        if (!t)
            return 0;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].low64 | s->v[i].high64) {
                size_t j = s->v[i].low64 & (cap - 1);
                while (t[j].low64 | t[j].high64)
                    j = (j + 1) & (cap - 1);
                t[j] = s->v[i];
            }
        free(s->v);
        s->v = t;
        s->cap = cap;
    }
    XXH128_hash_t h = XXH3_128bits(key, strlen(key));
    if (!(h.low64 | h.high64))
        h.low64 = 1;
    size_t j = h.low64 & (s->cap - 1);
    while (s->v[j].low64 | s->v[j].high64) {
        if (s->v[j].low64 == h.low64 && s->v[j].high64 == h.high64)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return 0;
}

struct jf__run {
    jf__ctx ctx;
    jf_ingest_stats *stats;
    jf_writer *w;
    sqlite3 *db;
    sqlite3_stmt *exists, *fail;
    sqlite3_stmt *unfail;  /* deletes a failure row of an earlier run; NULL when there were none */
    key_set keys;
    pool pl;
    int threads;
    batch b[2];
    int cur;
    int64_t run_id;
    uint64_t n_seen;
    jf__downloader *dl;
};

const jf_ingest_params *jf__params(const jf__run *s) { return s->ctx.p; }
const jf__ctx *jf__run_ctx(const jf__run *s) { return &s->ctx; }
jf_ingest_stats *jf__stats(jf__run *s) { return s->stats; }
jf__downloader **jf__run_downloader(jf__run *s) { return &s->dl; }
int jf__mark_seen(jf__run *s, const char *key) { return key_seen(&s->keys, key); }

int jf__in_part(const jf__run *s, uint64_t index)
{
    const jf_ingest_params *p = s->ctx.p;
    return p->part_n <= 1 || index % p->part_n == p->part_k;
}

jf__item *jf__batch_find(jf__run *s, const char *key, jf__process_fn process)
{
    const batch *b = &s->b[s->cur];
    for (size_t i = b->n; i-- > 0;)
        if (b->v[i].process == process && b->v[i].outcome == JF_OUT_OK && !strcmp(b->v[i].key, key))
            return &b->v[i];
    return NULL;
}

static void vproblem(jf__run *s, const char *severity, const char *input, int64_t offset, const char *fmt, va_list ap)
{
    if (!s->ctx.p->on_problem)
        return;
    char msg[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    jf_problem p = {severity, input, offset, msg};
    s->ctx.p->on_problem(s->ctx.p->user, &p);
}

void jf__problem(jf__run *s, const char *input, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(s, "error", input, offset, fmt, ap);
    va_end(ap);
}

void jf__warning(jf__run *s, const char *input, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(s, "warning", input, offset, fmt, ap);
    va_end(ap);
}

static void count_missing(jf_ingest_stats *st, const char *prefix)
{
    for (size_t i = 0; i < st->n_missing_prefixes; i++)
        if (!strcmp(st->missing_by_prefix[i].prefix, prefix)) {
            st->missing_by_prefix[i].count++;
            return;
        }
    size_t k = st->n_missing_prefixes < 64 ? st->n_missing_prefixes++ : 63;
    if (k == 63 && st->n_missing_prefixes == 64 && strcmp(st->missing_by_prefix[63].prefix, "(other)")) {
        snprintf(st->missing_by_prefix[63].prefix, sizeof st->missing_by_prefix[63].prefix, "(other)");
        st->missing_by_prefix[63].count = 0;
    }
    if (k < 63)
        snprintf(st->missing_by_prefix[k].prefix, sizeof st->missing_by_prefix[k].prefix, "%s", prefix);
    st->missing_by_prefix[k].count++;
}

/* Writes a processed batch in order: records to the writer, then the failures to the index in
 * one transaction (the writer runs its own transactions, so the two are kept apart). */
static jf_status write_batch(jf__run *s, batch *b, jf_error *err)
{
    jf_status rc = JF_OK;
    size_t n_fail = 0;
    for (size_t i = 0; i < b->n && rc == JF_OK; i++) {
        jf__item *it = &b->v[i];
        for (int n = 0; n < JF_NOTE_COUNT_; n++)
            if (it->notes & (1u << n))
                s->stats->note[n]++;
        if (it->outcome == JF_OUT_OK) {
            jf_error we;
            jf_status ws = jf_writer_add(s->w, it->out, &we);
            if (ws == JF_EARG || ws == JF_ELIMIT) {
                it->outcome = JF_OUT_BAD_RECORD;
                snprintf(it->detail, sizeof it->detail, "%.380s", we.msg);
            } else if (ws != JF_OK) {
                if (err)
                    *err = we;
                rc = ws;
                break;
            } else {
                s->stats->records_written++;
                s->stats->image_bytes += it->image_bytes;
            }
        }
        s->stats->outcome[it->outcome]++;
        if (it->outcome == JF_OUT_OK || it->outcome == JF_OUT_ALREADY_PRESENT)
            continue;
        if (it->outcome == JF_OUT_MISSING_IMAGE)
            count_missing(s->stats, it->missing_prefix);
        if (it->outcome == JF_OUT_HTTP_ERROR && it->http_status >= 100 && it->http_status < 600) {
            s->stats->http_status[it->http_status / 100]++;
            s->stats->http_404 += it->http_status == 404;
        }
        if (!it->reported)
            jf__problem(s, it->input, it->offset, "%s: %s%s%s", it->key, jf_outcome_name(it->outcome), it->detail[0] ? ": " : "",
                    it->detail);
        n_fail++;
    }
    if ((n_fail || s->unfail) && rc == JF_OK) {
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording failures: %s", sqlite3_errmsg(s->db));
        for (size_t i = 0; i < b->n && rc == JF_OK; i++) {
            jf__item *it = &b->v[i];
            if (it->outcome == JF_OUT_OK && s->unfail) { /* a retry that worked */
                sqlite3_reset(s->unfail);
                sqlite3_bind_text(s->unfail, 1, it->source, -1, SQLITE_STATIC);
                sqlite3_bind_text(s->unfail, 2, it->key, -1, SQLITE_STATIC);
                if (sqlite3_step(s->unfail) != SQLITE_DONE)
                    rc = jf_error_set(err, JF_EDB, "clearing a failure: %s", sqlite3_errmsg(s->db));
            }
            if (it->outcome == JF_OUT_OK || it->outcome == JF_OUT_ALREADY_PRESENT)
                continue;
            sqlite3_reset(s->fail);
            sqlite3_bind_int64(s->fail, 1, s->run_id);
            sqlite3_bind_text(s->fail, 2, it->source, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 3, it->input, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 4, it->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s->fail, 5, it->offset);
            sqlite3_bind_text(s->fail, 6, jf_outcome_name(it->outcome), -1, SQLITE_STATIC);
            sqlite3_bind_text(s->fail, 7, it->detail, -1, SQLITE_STATIC);
            if (sqlite3_step(s->fail) != SQLITE_DONE)
                rc = jf_error_set(err, JF_EDB, "recording a failure: %s", sqlite3_errmsg(s->db));
        }
        if (rc == JF_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording failures: %s", sqlite3_errmsg(s->db));
        if (rc != JF_OK)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (size_t i = 0; i < b->n; i++)
        jf__item_clear(&b->v[i]);
    b->n = 0;
    return rc;
}

/* Hands the filled batch to the workers and writes the previous one meanwhile. */
static jf_status flush_batch(jf__run *s, int final, jf_error *err)
{
    batch *b = &s->b[s->cur];
    if (s->threads <= 1) {
        atomic_store(&b->next, 0);
        drain(&s->ctx, b);
        return write_batch(s, b, err);
    }
    /* b[cur] was filled while b[!cur] was being decoded: wait, write it, start b[cur]. */
    batch *prev = &s->b[!s->cur];
    jf_status rc = JF_OK;
    if (prev->n) {
        pool_wait(&s->pl);
        rc = write_batch(s, prev, err);
    }
    if (b->n && rc == JF_OK) {
        pool_submit(&s->pl, b);
        s->cur = !s->cur;
    }
    if (final && rc == JF_OK && b->n) {
        pool_wait(&s->pl);
        rc = write_batch(s, b, err);
    }
    return rc;
}

jf__item *jf__item_new(jf__run *s, jf_error *err, jf_status *rc)
{
    batch *b = &s->b[s->cur];
    if (b->n >= s->ctx.p->batch) {
        if ((*rc = flush_batch(s, 0, err)) != JF_OK)
            return NULL;
        b = &s->b[s->cur];
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        jf__item *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            *rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    jf__item *it = &b->v[b->n++];
    memset(it, 0, sizeof *it);
    s->n_seen++;
    s->stats->seen++;
    if (s->ctx.p->on_progress && s->n_seen % 64 == 0)
        s->ctx.p->on_progress(s->ctx.p->user, s->n_seen, 0);
    return it;
}

/* Decides what needs no decoding: already in the index, or a duplicate in this run. */
void jf__triage(jf__run *s, jf__item *it)
{
    sqlite3_reset(s->exists);
    sqlite3_bind_text(s->exists, 1, it->key, -1, SQLITE_STATIC);
    if (sqlite3_step(s->exists) == SQLITE_ROW) {
        it->outcome = JF_OUT_ALREADY_PRESENT;
        key_seen(&s->keys, it->key);
        return;
    }
    if (key_seen(&s->keys, it->key)) {
        it->outcome = JF_OUT_DUPLICATE_KEY;
        snprintf(it->detail, sizeof it->detail, "key seen earlier in this run; the first sample is kept");
    }
}

void jf__problem_cb(void *user, const jf_problem *p)
{
    jf__run *s = user;
    if (s->ctx.p->on_problem)
        s->ctx.p->on_problem(s->ctx.p->user, p);
}

jf_status jf__reader_item(jf__run *s, const char *path, const char *source, const char *orig, int64_t offset,
                             jf_outcome outcome, const char *detail, jf_error *err)
{
    jf_status rc = JF_OK;
    jf__item *it = jf__item_new(s, err, &rc);
    if (!it)
        return rc;
    char key[4400];
    snprintf(key, sizeof key, "%s/%s", source, orig);
    it->key = jf__xstrdup(key);
    it->orig = jf__xstrdup(orig);
    it->source = source;
    it->input = path;
    it->offset = offset;
    it->outcome = outcome;
    it->reported = 1;
    snprintf(it->detail, sizeof it->detail, "%s", detail);
    if (!it->key || !it->orig)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    key_seen(&s->keys, key);
    return JF_OK;
}

void jf__triage_row(jf__run *s, const char *source, int64_t index, char *key, size_t key_len, jf__item *probe)
{
    snprintf(key, key_len, "%s/%09lld", source, (long long)index);
    memset(probe, 0, sizeof *probe);
    probe->key = key;
    jf__triage(s, probe);
}

/* ---- inputs ---- */

/* The kinds of input, in the order they are tried: a probe sees the name and first bytes. */
static const jf__source *const SOURCES[] = {&jf__src_parquet,    &jf__src_tar,       &jf__src_pandas,
                                            &jf__src_bench_json, &jf__src_json,      &jf__src_jsonl,
                                            &jf__src_bench_mme,  &jf__src_urls,      &jf__src_bench_tsv,
                                            &jf__src_tsv,        &jf__src_csv};
#define N_SOURCES (sizeof SOURCES / sizeof SOURCES[0])

size_t jf__probe_text_start(const jf__probe *pb)
{
    size_t k = 0;
    if (pb->n >= 3 && !memcmp(pb->head, "\xEF\xBB\xBF", 3))
        k = 3; /* byte-order mark */
    while (k < pb->n && (pb->head[k] == ' ' || pb->head[k] == '\n' || pb->head[k] == '\r' || pb->head[k] == '\t'))
        k++;
    return k;
}

/* The first line of a text input (at most 511 bytes), without its line end. */
void jf__probe_first_line(const jf__probe *pb, char line[512])
{
    size_t k = jf__probe_text_start(pb);
    size_t ll = pb->n - k < 511 ? pb->n - k : 511;
    memcpy(line, pb->head + k, ll);
    line[ll] = 0;
    line[strcspn(line, "\r\n")] = 0;
}

/* img2dataset writes NNNNN_stats.json and NNNNN.parquet beside each tar NNNNN.tar: not samples.
 * A parquet file without such a tar beside it is an input (LAION/DataComp metadata). */
static int is_side_file(const char *path, const uint8_t *h, size_t got)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t digits = strspn(base, "0123456789");
    if (digits && !strcmp(base + digits, "_stats.json"))
        return 1;
    if (got >= 4 && !memcmp(h, "PAR1", 4) && digits && !strcmp(base + digits, ".parquet")) {
        char tar[4200];
        snprintf(tar, sizeof tar, "%.*s.tar", (int)(strlen(path) - strlen(".parquet")), path);
        return access(tar, F_OK) == 0;
    }
    return 0;
}

/* The extension of a path or URL's path, lower case, without a final .gz. */
static void path_ext(const char *path, char *ext, size_t n)
{
    char p[2048];
    snprintf(p, sizeof p, "%s", path);
    if (jf__is_url(path))
        p[strcspn(p, "?#")] = 0;
    size_t len = strlen(p);
    if (len > 3 && !strcasecmp(p + len - 3, ".gz"))
        p[len -= 3] = 0;
    const char *slash = strrchr(p, '/');
    const char *dot = strrchr(p, '.');
    snprintf(ext, n, "%s", dot && (!slash || dot > slash) ? dot + 1 : "");
    for (char *c = ext; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
}

/* The kind of an input: by name for remote inputs (they are streamed, not sniffed), by content
 * for local ones (gzip looked inside). NULL with the reason in `why`; *side set for img2dataset's
 * side files. */
static const jf__source *classify(const char *path, const jf_ingest_params *p, int *side, char *why, size_t n)
{
    char ext[32];
    path_ext(path, ext, sizeof ext);
    jf__probe pb = {.path = path, .ext = ext, .p = p};
    *side = 0;
    if (jf__is_url(path)) {
        pb.remote = 1;
        for (size_t i = 0; i < N_SOURCES; i++)
            if (SOURCES[i]->probe(&pb))
                return SOURCES[i];
        for (size_t i = 0; i < N_SOURCES; i++)
            if (SOURCES[i]->flags & JF__SRC_REMOTE_DEFAULT)
                return SOURCES[i];
        snprintf(why, n, "no kind of input reads remote files");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, n, "cannot open: %s", strerror(errno));
        return NULL;
    }
    uint8_t raw[512], text[512];
    size_t got = fread(raw, 1, sizeof raw, f);
    fclose(f);
    if (got == 0) {
        snprintf(why, n, "empty file");
        return NULL;
    }
    if (is_side_file(path, raw, got)) {
        *side = 1;
        return NULL;
    }
    pb.raw = pb.head = raw;
    pb.n_raw = pb.n = got;
    if (got >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        /* gzip: a compressed tar, list or manifest — the probes see what is inside */
        FILE *g = jf__open_text(path, NULL);
        size_t dg = g ? fread(text, 1, sizeof text, g) : 0;
        if (g)
            fclose(g);
        if (dg == 0) {
            snprintf(why, n, "a gzip stream that does not decompress");
            return NULL;
        }
        pb.head = text;
        pb.n = dg;
    }
    for (size_t i = 0; i < N_SOURCES; i++)
        if (SOURCES[i]->probe(&pb))
            return SOURCES[i];
    snprintf(why, n, "not a parquet file, tar, JSON, JSON-lines, CSV/TSV with a url column, URL list, benchmark TSV (index and image columns; uncompressed), or a benchmark's question file (GQA, VQAv2, SEED-Bench JSON; MME <subtask>.txt)");
    return NULL;
}

/* Default source name: the folder of a tar (laion/00003.tar → "laion"), else the file stem. */
static void default_source(const char *path, const jf__source *kind, char *out, size_t n)
{
    char *tmp = jf__xstrdup(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strchr(stem, '.');
    if (dot && dot != stem)
        *dot = 0;
    const char *parent = NULL;
    char *d = tmp ? dirname(tmp) : NULL;
    const char *pb = d ? (strrchr(d, '/') ? strrchr(d, '/') + 1 : d) : NULL;
    if (pb && (!strcmp(pb, ".") || !strcmp(pb, "/") || !*pb))
        pb = NULL;
    if ((kind->flags & JF__SRC_SOURCE_FOLDER) && pb)
        parent = pb;
    /* A Hugging Face shard (Art/validation-00000-of-00001.parquet): every config folder has
     * the same file names, so the folder is part of the name (Art-validation-00000-of-00001). */
    unsigned a, b;
    int used = 0;
    const char *dash = strrchr(stem, '-');
    int hf = dash && strlen(stem) > 15 && sscanf(stem + strlen(stem) - 15, "-%5u-of-%5u%n", &a, &b, &used) == 2 &&
             used == 15 && dash == stem + strlen(stem) - 6;
    if (hf && pb && !parent)
        snprintf(out, n, "%.60s-%.60s", pb, stem);
    else
        snprintf(out, n, "%.120s", parent ? parent : stem);
    free(tmp);
}

typedef struct input {
    char *path;
    const jf__source *kind; /* NULL: not read (missing, unknown, a side file, another part's) */
    char source[128];
    int64_t size, mtime;
    int incomplete;        /* could not be read to its end: not marked done, read again next run */
} input;

typedef struct input_list {
    input *v;
    size_t n, cap;
} input_list;

static void add_input(void *user, const char *path)
{
    input_list *l = user;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path))
            return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        input *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[l->n]);
    l->v[l->n++].path = jf__xstrdup(path);
}

static const char *const INGEST_SCHEMA =
    "CREATE TABLE IF NOT EXISTS ingest_runs(id INTEGER PRIMARY KEY, started_at REAL, finished_at REAL,"
    "  host TEXT, part TEXT, inputs INTEGER, stats TEXT);"
    "CREATE TABLE IF NOT EXISTS ingest_inputs(path TEXT NOT NULL, part TEXT NOT NULL, source TEXT NOT NULL, size INTEGER,"
    "  mtime INTEGER, samples INTEGER, run_id INTEGER, finished_at REAL, PRIMARY KEY(path, part, source));"
    "CREATE TABLE IF NOT EXISTS ingest_failures(source TEXT NOT NULL, key TEXT NOT NULL, run_id INTEGER, input TEXT,"
    "  offset INTEGER, outcome TEXT, detail TEXT, PRIMARY KEY(source, key));"
    "CREATE INDEX IF NOT EXISTS ingest_failures_outcome ON ingest_failures(outcome);"
    "CREATE INDEX IF NOT EXISTS ingest_failures_input ON ingest_failures(input, outcome);";

/* Outcomes that depend on more than the input's own bytes (the network, the image roots): an
 * input with such failures is read again by the next run, which retries exactly those samples
 * (samples already stored are skipped by key). */
#define RETRYABLE_OUTCOMES "('http_error','timeout','network_error','missing_image','truncated')"

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A part of a job array remembers which job it belongs to: the fingerprint of the whole input
 * list (every part expands the same list) and the part count, with its own K. `jf shard merge`
 * refuses to join parts of different jobs and names the parts a merge lacks. A folder that holds a
 * part of another job (other inputs, another N or K) is refused here. */
static jf_status record_part_job(jf_store *store, const input_list *in, unsigned k, unsigned n, jf_error *err)
{
    char **paths = malloc((in->n + 1) * sizeof *paths);
    if (!paths)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    /* absolute paths: the tasks of an array may start in different folders */
    for (size_t i = 0; i < in->n; i++)
        paths[i] = jf__is_url(in->v[i].path) ? NULL : realpath(in->v[i].path, NULL);
    for (size_t i = 0; i < in->n; i++)
        if (!paths[i])
            paths[i] = jf__xstrdup(in->v[i].path);
    qsort(paths, in->n, sizeof *paths, cmp_str_ptr);
    XXH64_state_t *h = XXH64_createState();
    XXH64_reset(h, 0);
    for (size_t i = 0; i < in->n; i++) {
        XXH64_update(h, paths[i], strlen(paths[i]));
        XXH64_update(h, "\n", 1);
    }
    char tail[32];
    snprintf(tail, sizeof tail, "parts=%u", n);
    XXH64_update(h, tail, strlen(tail));
    char job[17];
    snprintf(job, sizeof job, "%016llx", (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
    for (size_t i = 0; i < in->n; i++)
        free(paths[i]);
    free(paths);
    return jf_store_set_part(store, job, k, n, err);
}

static void stats_json(const jf_ingest_stats *st, jf__sbuf *b)
{
    jf__sb_printf(b, "{\"side_files\":%llu,", (unsigned long long)st->side_files);
    jf__sb_printf(b, "\"inputs\":%llu,\"inputs_skipped\":%llu,\"inputs_other_part\":%llu,\"inputs_failed\":%llu,"
              "\"inputs_incomplete\":%llu,\"seen\":%llu,\"outcomes\":{",
              (unsigned long long)st->inputs, (unsigned long long)st->inputs_skipped,
              (unsigned long long)st->inputs_other_part, (unsigned long long)st->inputs_failed,
              (unsigned long long)st->inputs_incomplete, (unsigned long long)st->seen);
    int first = 1;
    for (int o = 0; o < JF_OUT_COUNT_; o++)
        if (st->outcome[o]) {
            jf__sb_printf(b, "%s\"%s\":%llu", first ? "" : ",", jf_outcome_name((jf_outcome)o), (unsigned long long)st->outcome[o]);
            first = 0;
        }
    jf__sb_puts(b, "},\"notes\":{");
    first = 1;
    for (int n = 0; n < JF_NOTE_COUNT_; n++)
        if (st->note[n]) {
            jf__sb_printf(b, "%s\"%s\":%llu", first ? "" : ",", jf_note_name((jf_note)n), (unsigned long long)st->note[n]);
            first = 0;
        }
    jf__sb_puts(b, "},\"missing_by_prefix\":{");
    for (size_t i = 0; i < st->n_missing_prefixes; i++) {
        if (i)
            jf__sb_puts(b, ",");
        jf__sb_json_str(b, st->missing_by_prefix[i].prefix);
        jf__sb_printf(b, ":%llu", (unsigned long long)st->missing_by_prefix[i].count);
    }
    jf__sb_printf(b, "},\"http_4xx\":%llu,\"http_404\":%llu,\"http_5xx\":%llu,\"downloaded_bytes\":%llu",
              (unsigned long long)st->http_status[4], (unsigned long long)st->http_404,
              (unsigned long long)st->http_status[5], (unsigned long long)st->downloaded_bytes);
    jf__sb_printf(b, ",\"records_written\":%llu,\"image_bytes\":%llu,\"seconds\":%.3f}",
              (unsigned long long)st->records_written, (unsigned long long)st->image_bytes, st->seconds);
}

jf_status jf_ingest_run(jf_store *store, const char *const *inputs, size_t n_inputs, const jf_ingest_params *params,
                        jf_ingest_stats *stats_out, jf_error *err)
{
    jf_ingest_params p = params ? *params : jf_ingest_default_params();
    if (p.batch == 0)
        p.batch = 256;
    if (p.part_n > 1 && p.part_k >= p.part_n)
        return jf_error_set(err, JF_EARG, "part %u/%u: K must be below N", p.part_k, p.part_n);
    jf_ingest_stats stats;
    memset(&stats, 0, sizeof stats);
    jf__run s;
    memset(&s, 0, sizeof s);
    s.ctx.st = store;
    s.ctx.p = &p;
    s.ctx.roots = p.image_roots;
    s.ctx.n_roots = p.n_image_roots;
    s.stats = &stats;
    s.db = jf_store_db(store);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    jf_status rc = JF_OK;
    char part[32];
    snprintf(part, sizeof part, "%u/%u", p.part_n > 1 ? p.part_k : 0, p.part_n > 1 ? p.part_n : 1);

    input_list in = {0};
    for (size_t i = 0; i < n_inputs && rc == JF_OK; i++)
        rc = jf_expand_pattern(inputs[i], add_input, &in, err);
    if (rc == JF_OK && p.captions)
        rc = jf__captions_load(&s.ctx.captions, p.captions, err);
    /* image roots that are files are plain tars, indexed once by member name */
    if (rc == JF_OK && p.n_image_roots) {
        s.ctx.root_tars = calloc(p.n_image_roots, sizeof *s.ctx.root_tars);
        for (size_t i = 0; s.ctx.root_tars && i < p.n_image_roots && rc == JF_OK; i++) {
            struct stat rsb;
            if (stat(p.image_roots[i], &rsb) != 0)
                rc = jf_error_set(err, JF_ENOTFOUND, "image root %s: %s", p.image_roots[i], strerror(errno));
            else if (S_ISREG(rsb.st_mode)) {
                char why[600];
                s.ctx.root_tars[i] = jf__tarindex_open(p.image_roots[i], why, sizeof why);
                if (!s.ctx.root_tars[i])
                    rc = jf_error_set(err, JF_EFORMAT, "image root %s", why);
            }
        }
    }
    if (rc == JF_OK && sqlite3_exec(s.db, INGEST_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        rc = jf_error_set(err, JF_EDB, "creating ingest tables: %s", sqlite3_errmsg(s.db));
    if (rc == JF_OK && p.part_n > 1)
        rc = record_part_job(store, &in, p.part_k, p.part_n, err);
    if (rc == JF_OK && (sqlite3_prepare_v2(s.db, "SELECT 1 FROM samples WHERE key=? LIMIT 1", -1, &s.exists, NULL) != SQLITE_OK ||
                        sqlite3_prepare_v2(s.db,
                                           "INSERT OR REPLACE INTO ingest_failures(run_id,source,input,key,offset,outcome,detail) "
                                           "VALUES(?,?,?,?,?,?,?)",
                                           -1, &s.fail, NULL) != SQLITE_OK))
        rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
    if (rc == JF_OK) {
        char host[64] = "?";
        gethostname(host, sizeof host - 1);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(s.db, "INSERT INTO ingest_runs(started_at, host, part, inputs) VALUES(unixepoch('subsec'), ?, ?, ?)", -1, &q, NULL);
        if (!q)
            sqlite3_prepare_v2(s.db, "INSERT INTO ingest_runs(started_at, host, part, inputs) VALUES(strftime('%s','now'), ?, ?, ?)", -1, &q, NULL);
        sqlite3_bind_text(q, 1, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, part, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)in.n);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = jf_error_set(err, JF_EDB, "recording the run: %s", sqlite3_errmsg(s.db));
        sqlite3_finalize(q);
        s.run_id = sqlite3_last_insert_rowid(s.db);
        stats.run_id = s.run_id;
    }
    /* Classify inputs; split tars between parts by position, manifests by record. */
    size_t tar_index = 0;
    for (size_t i = 0; i < in.n && rc == JF_OK; i++) {
        char why[256] = "";
        int side = 0;
        in.v[i].kind = classify(in.v[i].path, &p, &side, why, sizeof why);
        if (jf__is_url(in.v[i].path))
            in.v[i].size = in.v[i].mtime = -1;
        if (side) {
            stats.side_files++;
            continue;
        }
        if (!in.v[i].kind) {
            jf__problem(&s, in.v[i].path, -1, "input not read: %s", why);
            stats.inputs_failed++;
            continue;
        }
        if ((in.v[i].kind->flags & JF__SRC_SPLIT_BY_FILE) && p.part_n > 1 && tar_index++ % p.part_n != p.part_k) {
            in.v[i].kind = NULL;
            stats.inputs_other_part++;
            continue;
        }
        if (p.source)
            snprintf(in.v[i].source, sizeof in.v[i].source, "%s", p.source);
        else
            default_source(in.v[i].path, in.v[i].kind, in.v[i].source, sizeof in.v[i].source);
        struct stat sb;
        if (!jf__is_url(in.v[i].path) && stat(in.v[i].path, &sb) == 0) {
            in.v[i].size = sb.st_size;
            in.v[i].mtime = sb.st_mtime;
        }
    }
    int threads = p.threads > 0 ? p.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    s.threads = threads < 1 ? 1 : threads;
    if (rc == JF_OK && s.threads > 1 && pool_start(&s.pl, &s.ctx, s.threads) != 0)
        s.threads = 1;
    if (rc == JF_OK)
        rc = jf_writer_create(store, &p.writer, &s.w, err);
    sqlite3_stmt *done_q = NULL;
    if (rc == JF_OK &&
        sqlite3_prepare_v2(s.db,
                           "SELECT 1 FROM ingest_inputs i WHERE path=?1 AND part=?2 AND size=?3 AND mtime=?4 AND source=?5 "
                           "AND NOT EXISTS (SELECT 1 FROM ingest_failures f WHERE f.input=?1 AND f.outcome IN " RETRYABLE_OUTCOMES ")",
                           -1, &done_q, NULL) != SQLITE_OK)
        rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
    /* failures of earlier runs: a sample stored now removes its row */
    if (rc == JF_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(s.db, "SELECT EXISTS (SELECT 1 FROM ingest_failures)", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) &&
            sqlite3_prepare_v2(s.db, "DELETE FROM ingest_failures WHERE source=? AND key=?", -1, &s.unfail, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "preparing ingest statements: %s", sqlite3_errmsg(s.db));
        sqlite3_finalize(q);
    }
    for (size_t i = 0; i < in.n && rc == JF_OK; i++) {
        input *x = &in.v[i];
        if (!x->kind)
            continue;
        sqlite3_reset(done_q);
        sqlite3_bind_text(done_q, 1, x->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(done_q, 2, part, -1, SQLITE_STATIC);
        sqlite3_bind_int64(done_q, 3, x->size);
        sqlite3_bind_int64(done_q, 4, x->mtime);
        sqlite3_bind_text(done_q, 5, x->source, -1, SQLITE_STATIC);
        if (sqlite3_step(done_q) == SQLITE_ROW) {
            stats.inputs_skipped++;
            continue;
        }
        stats.inputs++;
        rc = x->kind->read(&s, x->path, x->source, &x->incomplete, err);
        stats.inputs_incomplete += (uint64_t)x->incomplete;
    }
    sqlite3_finalize(done_q);
    if (rc == JF_OK)
        rc = flush_batch(&s, 1, err);
    else if (s.threads > 1 && s.b[!s.cur].n)
        pool_wait(&s.pl); /* let the workers finish before the batches are freed */
    if (s.threads > 1)
        pool_stop(&s.pl);
    if (s.w) {
        if (rc == JF_OK)
            rc = jf_writer_close(s.w, err);
        else
            jf_writer_close(s.w, NULL); /* what was complete is kept */
    }
    /* Inputs are marked done only once every record of theirs is in a finalized shard. */
    if (rc == JF_OK) {
        sqlite3_stmt *q;
        sqlite3_exec(s.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_prepare_v2(s.db,
                           "INSERT OR REPLACE INTO ingest_inputs(path,part,source,size,mtime,run_id,finished_at) "
                           "VALUES(?,?,?,?,?,?,strftime('%s','now'))",
                           -1, &q, NULL);
        for (size_t i = 0; i < in.n; i++) {
            input *x = &in.v[i];
            if (!x->kind || x->incomplete)
                continue;
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, x->path, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, part, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, x->source, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 4, x->size);
            sqlite3_bind_int64(q, 5, x->mtime);
            sqlite3_bind_int64(q, 6, s.run_id);
            sqlite3_step(q);
        }
        sqlite3_finalize(q);
        if (sqlite3_exec(s.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = jf_error_set(err, JF_EDB, "recording finished inputs: %s", sqlite3_errmsg(s.db));
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats.seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (s.run_id) {
        jf__sbuf js = {0};
        stats_json(&stats, &js);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(s.db, "UPDATE ingest_runs SET finished_at=strftime('%s','now'), stats=? WHERE id=?", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, js.p ? js.p : "{}", -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, s.run_id);
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
        free(js.p);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < s.b[k].n; i++)
            jf__item_clear(&s.b[k].v[i]);
        free(s.b[k].v);
    }
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i].path);
    free(in.v);
    free(s.keys.v);
    jf__downloader_destroy(s.dl);
    for (size_t i = 0; s.ctx.root_tars && i < p.n_image_roots; i++)
        jf__tarindex_close(s.ctx.root_tars[i]);
    free(s.ctx.root_tars);
    jf__captions_free(&s.ctx.captions);
    sqlite3_finalize(s.exists);
    sqlite3_finalize(s.fail);
    sqlite3_finalize(s.unfail);
    if (stats_out)
        *stats_out = stats;
    return rc;
}
