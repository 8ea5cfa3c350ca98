/* Exact duplicates by content hash, near duplicates by perceptual hash: clusters, a keep policy,
 * and the keep-list subset. Near-duplicate search is multi-index hashing over four 16-bit chunks
 * of the 64-bit hashes, so it never compares all pairs. */
#include "filter_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <time.h>
#include <xxhash.h>

/* ---- near pairs ---- */

typedef struct pairbuf {
    uint32_t *v; /* i, j interleaved */
    size_t n, cap;
    uint64_t candidates;
} pairbuf;

static void pb_add(pairbuf *b, uint32_t i, uint32_t j)
{
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        uint32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = i;
    b->v[b->n++] = j;
}

typedef struct mih {
    const uint64_t *h;
    size_t n;
    int k;
    int chunk;
    const uint32_t *start; /* bucket starts (65537) */
    const uint32_t *order; /* indices sorted by chunk value */
    atomic_uint next_bucket;
} mih;

static inline unsigned chunk_of(uint64_t h, int c) { return (unsigned)(h >> (16 * c)) & 0xFFFFu; }

/* Was the pair found in an earlier chunk? Pairs are reported once, in the first chunk that
 * qualifies: an equal chunk for d <= 3, a chunk within one bit otherwise. */
static int found_before(uint64_t a, uint64_t b, int c, int k)
{
    for (int e = 0; e < c; e++) {
        int d = __builtin_popcount(chunk_of(a, e) ^ chunk_of(b, e));
        if (d == 0 || (k >= 4 && d <= 1))
            return 1;
    }
    return 0;
}

static void *mih_worker(void *arg)
{
    void **a = arg;
    mih *m = a[0];
    pairbuf *out = a[1];
    for (;;) {
        unsigned b = atomic_fetch_add(&m->next_bucket, 1);
        if (b > 0xFFFF)
            return NULL;
        uint32_t s0 = m->start[b], e0 = m->start[b + 1];
        /* within the bucket: the chunk is equal */
        for (uint32_t x = s0; x < e0; x++)
            for (uint32_t y = x + 1; y < e0; y++) {
                uint32_t i = m->order[x], j = m->order[y];
                out->candidates++;
                if (__builtin_popcountll(m->h[i] ^ m->h[j]) <= m->k && !found_before(m->h[i], m->h[j], m->chunk, m->k))
                    pb_add(out, i < j ? i : j, i < j ? j : i);
            }
        if (m->k < 4)
            continue;
        /* buckets one bit away (each unordered bucket pair once) */
        for (int bit = 0; bit < 16; bit++) {
            unsigned b2 = b ^ (1u << bit);
            if (b2 < b)
                continue;
            uint32_t s1 = m->start[b2], e1 = m->start[b2 + 1];
            for (uint32_t x = s0; x < e0; x++)
                for (uint32_t y = s1; y < e1; y++) {
                    uint32_t i = m->order[x], j = m->order[y];
                    out->candidates++;
                    if (__builtin_popcountll(m->h[i] ^ m->h[j]) <= m->k && !found_before(m->h[i], m->h[j], m->chunk, m->k))
                        pb_add(out, i < j ? i : j, i < j ? j : i);
                }
        }
    }
}

uint64_t jf_near_pairs(const uint64_t *h, size_t n, int k, int threads, void (*pair)(void *user, size_t i, size_t j),
                       void *user)
{
    if (n < 2 || n > UINT32_MAX)
        return 0;
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    uint32_t *start = calloc(65537, sizeof *start), *order = malloc(n * sizeof *order);
    pairbuf *bufs = calloc((size_t)threads, sizeof *bufs);
    uint64_t candidates = 0;
    if (!start || !order || !bufs) {
        free(start);
        free(order);
        free(bufs);
        return 0;
    }
    for (int c = 0; c < 4; c++) {
        /* counting sort of the indices by this chunk */
        memset(start, 0, 65537 * sizeof *start);
        for (size_t i = 0; i < n; i++)
            start[chunk_of(h[i], c) + 1]++;
        for (int b = 0; b < 65536; b++)
            start[b + 1] += start[b];
        uint32_t *fill = malloc(65536 * sizeof *fill);
        if (!fill)
            break;
        memcpy(fill, start, 65536 * sizeof *fill);
        for (size_t i = 0; i < n; i++)
            order[fill[chunk_of(h[i], c)]++] = (uint32_t)i;
        free(fill);
        mih m = {.h = h, .n = n, .k = k, .chunk = c, .start = start, .order = order};
        atomic_init(&m.next_bucket, 0);
        pthread_t t[64];
        void *args[64][2];
        int started = 0;
        for (int i = 0; i < threads; i++) {
            args[i][0] = &m;
            args[i][1] = &bufs[i];
            if (pthread_create(&t[i], NULL, mih_worker, args[i]) == 0)
                started++;
            else
                break;
        }
        if (!started)
            mih_worker(args[0]);
        for (int i = 0; i < started; i++)
            pthread_join(t[i], NULL);
    }
    for (int i = 0; i < threads; i++) {
        for (size_t x = 0; x + 1 < bufs[i].n; x += 2)
            pair(user, bufs[i].v[x], bufs[i].v[x + 1]);
        candidates += bufs[i].candidates;
        free(bufs[i].v);
    }
    free(bufs);
    free(start);
    free(order);
    return candidates;
}

/* ---- clusters ---- */

typedef struct uf {
    uint32_t *parent;
} uf;

static uint32_t uf_find(uf *u, uint32_t x)
{
    while (u->parent[x] != x) {
        u->parent[x] = u->parent[u->parent[x]];
        x = u->parent[x];
    }
    return x;
}

static void uf_union(void *user, size_t i, size_t j)
{
    uf *u = user;
    uint32_t a = uf_find(u, (uint32_t)i), b = uf_find(u, (uint32_t)j);
    if (a != b)
        u->parent[a < b ? b : a] = a < b ? a : b;
}

typedef struct cand {
    int64_t id;
    uint64_t hash;     /* content or perceptual hash */
    double size;       /* pixels, for "largest" */
    double bytes;
    double score;
    int has_score;
} cand;

/* 1 when a is a better keeper than b under the policy (ties: the lower row id). */
static int better(const cand *a, const cand *b, jf_keep_policy keep)
{
    if (keep == JF_KEEP_LARGEST) {
        if (a->size != b->size)
            return a->size > b->size;
        if (a->bytes != b->bytes)
            return a->bytes > b->bytes;
    } else if (keep == JF_KEEP_HIGHEST) {
        if (a->has_score != b->has_score)
            return a->has_score;
        if (a->score != b->score)
            return a->score > b->score;
    }
    return a->id < b->id;
}

/* Near pairs are between distinct hashes; they join the clusters of the hashes' first members. */
typedef struct join_ctx {
    uf *u;
    const uint32_t *first;
} join_ctx;

static void join_pair(void *user, size_t i, size_t j)
{
    join_ctx *cx = user;
    uf_union(cx->u, cx->first[i], cx->first[j]);
}

static int cmp_hash(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    return a->hash < b->hash ? -1 : a->hash > b->hash ? 1 : (a->id < b->id ? -1 : a->id > b->id);
}

jf_status jf_dedup_run(jf_store *st, const jf_dedup_params *params, jf_dedup_result *res, jf_error *err)
{
    jf_dedup_params p = *params;
    memset(res, 0, sizeof *res);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (p.near && (p.max_distance < 0 || p.max_distance > 7))
        return jf_error_set(err, JF_EARG, "near-duplicate distance must be 0..7 bits (got %d)", p.max_distance);
    if (p.keep == JF_KEEP_HIGHEST && (!p.score_column || !*p.score_column))
        return jf_error_set(err, JF_EARG, "keep=highest needs a score column");
    jf_status s = jf__subset_schema(st, err);
    if (s != JF_OK)
        return s;
    sqlite3 *db = jf_store_db(st);
    const char *hashcol = !p.near ? "content_hash" : p.hash_column ? p.hash_column : "phash";
    if (strcmp(hashcol, "content_hash") && strcmp(hashcol, "phash") && strcmp(hashcol, "phash_approx"))
        return jf_error_set(err, JF_EARG, "near duplicates are found on phash or phash_approx, not '%s'", hashcol);
    /* the hash column must exist: ingest writes both */
    char *chk = NULL;
    if (p.score_column) {
        char *sql = NULL;
        s = jf_filter_compile(st, p.score_column, &sql, NULL, err);
        if (s != JF_OK)
            return jf_error_set(err, s, "score column: %s", err ? err->msg : "");
        chk = sql;
    }
    char base[160] = "1";
    if (p.from) {
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db, "SELECT id FROM subsets WHERE name=?", -1, &q, NULL);
        sqlite3_bind_text(q, 1, p.from, -1, SQLITE_STATIC);
        int64_t fid = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        sqlite3_finalize(q);
        if (!fid) {
            free(chk);
            return jf_error_set(err, JF_ENOTFOUND, "no subset named '%s'", p.from);
        }
        snprintf(base, sizeof base, "id IN (SELECT sample_id FROM subset_members WHERE subset_id = %lld)", (long long)fid);
    }
    if (p.into) {
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db, "SELECT 1 FROM subsets WHERE name=?", -1, &q, NULL);
        sqlite3_bind_text(q, 1, p.into, -1, SQLITE_STATIC);
        int exists = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (exists && !p.replace) {
            free(chk);
            return jf_error_set(err, JF_EEXISTS, "subset '%s' exists (choose another name, or replace it)", p.into);
        }
    }
    char *sql = sqlite3_mprintf("SELECT id, %s, coalesce(width * height, 0), coalesce(image_bytes, 0), %s FROM samples "
                                "WHERE " JF_COMPLETE " AND %s AND %s IS NOT NULL",
                                hashcol, chk ? chk : "NULL", base, hashcol);
    free(chk);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        s = jf_error_set(err, JF_EARG, "the %s column is missing: ingest the images with jf ingest (%s)", hashcol,
                         sqlite3_errmsg(db));
        sqlite3_free(sql);
        return s;
    }
    sqlite3_free(sql);
    cand *c = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            cand *v = realloc(c, cap * sizeof *v);
            if (!v) {
                sqlite3_finalize(q);
                free(c);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            c = v;
        }
        cand *x = &c[n++];
        x->id = sqlite3_column_int64(q, 0);
        if (p.near) {
            x->hash = (uint64_t)sqlite3_column_int64(q, 1);
        } else {
            const unsigned char *hex = sqlite3_column_text(q, 1);
            x->hash = XXH3_64bits(hex, strlen((const char *)hex)); /* the 128-bit content hash folded to 64 */
        }
        x->size = sqlite3_column_double(q, 2);
        x->bytes = sqlite3_column_double(q, 3);
        x->has_score = sqlite3_column_type(q, 4) != SQLITE_NULL;
        x->score = sqlite3_column_double(q, 4);
    }
    sqlite3_finalize(q);
    res->input = n;
    qsort(c, n, sizeof *c, cmp_hash);
    /* identical hashes first (cluster directly); near search over the distinct ones */
    uf u = {malloc((n ? n : 1) * sizeof(uint32_t))};
    if (!u.parent) {
        free(c);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        u.parent[i] = (uint32_t)i;
    size_t n_unique = 0;
    uint64_t *uh = malloc((n ? n : 1) * sizeof *uh);
    uint32_t *first = malloc((n ? n : 1) * sizeof *first);
    for (size_t i = 0; i < n; i++) {
        if (i && c[i].hash == c[i - 1].hash) {
            uf_union(&u, first[n_unique - 1], i);
            continue;
        }
        uh[n_unique] = c[i].hash;
        first[n_unique++] = (uint32_t)i;
    }
    if (p.near && p.max_distance > 0) {
        join_ctx cx = {&u, first};
        res->candidate_pairs = jf_near_pairs(uh, n_unique, p.max_distance, p.threads, join_pair, &cx);
    }
    free(uh);
    /* clusters: the best member of each is kept */
    uint32_t *best = malloc((n ? n : 1) * sizeof *best);
    uint32_t *size = calloc(n ? n : 1, sizeof *size);
    for (size_t i = 0; i < n; i++)
        best[i] = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = uf_find(&u, (uint32_t)i);
        size[r]++;
        if (best[r] == UINT32_MAX || better(&c[i], &c[best[r]], p.keep))
            best[r] = (uint32_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t r = uf_find(&u, (uint32_t)i);
        if (r == i && size[r] > 1) {
            res->clusters++;
            if (size[r] > res->largest_cluster)
                res->largest_cluster = size[r];
        }
        if (best[r] != i)
            res->duplicates++;
    }
    /* samples in scope without a hash are kept as they are */
    sqlite3_stmt *cnt;
    char *csql = sqlite3_mprintf("SELECT count(*) FROM samples WHERE " JF_COMPLETE " AND %s", base);
    uint64_t total = n;
    if (sqlite3_prepare_v2(db, csql, -1, &cnt, NULL) == SQLITE_OK && sqlite3_step(cnt) == SQLITE_ROW)
        total = (uint64_t)sqlite3_column_int64(cnt, 0);
    sqlite3_finalize(cnt);
    sqlite3_free(csql);
    res->kept = total - res->duplicates;
    if (p.into) {
        s = sqlite3_exec(db, "BEGIN IMMEDIATE; CREATE TEMP TABLE IF NOT EXISTS jf_dropped(id INTEGER PRIMARY KEY);"
                             " DELETE FROM temp.jf_dropped;"
                             " CREATE TABLE IF NOT EXISTS dup_clusters(subset TEXT NOT NULL, cluster INTEGER NOT NULL,"
                             "  sample_id INTEGER NOT NULL, kept INTEGER NOT NULL, PRIMARY KEY(subset, sample_id));",
                         NULL, NULL, NULL) == SQLITE_OK
                ? JF_OK
                : jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
        sqlite3_stmt *dq = NULL, *cq = NULL;
        if (s == JF_OK) {
            char *d = sqlite3_mprintf("DELETE FROM dup_clusters WHERE subset=%Q; DELETE FROM subset_members WHERE subset_id IN "
                                      "(SELECT id FROM subsets WHERE name=%Q); DELETE FROM subsets WHERE name=%Q",
                                      p.into, p.into, p.into);
            sqlite3_exec(db, d, NULL, NULL, NULL);
            sqlite3_free(d);
            sqlite3_prepare_v2(db, "INSERT INTO temp.jf_dropped(id) VALUES(?)", -1, &dq, NULL);
            sqlite3_prepare_v2(db, "INSERT INTO dup_clusters(subset, cluster, sample_id, kept) VALUES(?,?,?,?)", -1, &cq, NULL);
        }
        for (size_t i = 0; s == JF_OK && i < n; i++) {
            uint32_t r = uf_find(&u, (uint32_t)i);
            if (size[r] < 2)
                continue;
            int kept = best[r] == i;
            sqlite3_reset(cq);
            sqlite3_bind_text(cq, 1, p.into, -1, SQLITE_STATIC);
            sqlite3_bind_int64(cq, 2, c[best[r]].id);
            sqlite3_bind_int64(cq, 3, c[i].id);
            sqlite3_bind_int(cq, 4, kept);
            if (sqlite3_step(cq) != SQLITE_DONE)
                s = jf_error_set(err, JF_EDB, "recording clusters: %s", sqlite3_errmsg(db));
            if (!kept) {
                sqlite3_reset(dq);
                sqlite3_bind_int64(dq, 1, c[i].id);
                sqlite3_step(dq);
            }
        }
        sqlite3_finalize(dq);
        sqlite3_finalize(cq);
        if (s == JF_OK) {
            const char *keep = p.keep == JF_KEEP_FIRST ? "first" : p.keep == JF_KEEP_LARGEST ? "largest" : "highest";
            char desc[512];
            if (p.near)
                snprintf(desc, sizeof desc, "near duplicates removed (phash within %d bits, keep %s)%s%s", p.max_distance, keep,
                         p.from ? " from " : "", p.from ? p.from : "");
            else
                snprintf(desc, sizeof desc, "exact duplicates removed (content_hash, keep %s)%s%s", keep,
                         p.from ? " from " : "", p.from ? p.from : "");
            char *ins = sqlite3_mprintf("INSERT INTO subsets(name, created_at, description, count) VALUES(%Q, %lld, %Q, %lld);"
                                        "INSERT INTO subset_members(subset_id, sample_id) SELECT last_insert_rowid(), id FROM "
                                        "samples WHERE " JF_COMPLETE " AND %s AND id NOT IN (SELECT id FROM temp.jf_dropped);",
                                        p.into, (long long)time(NULL), desc, (long long)res->kept, base);
            if (sqlite3_exec(db, ins, NULL, NULL, NULL) != SQLITE_OK)
                s = jf_error_set(err, JF_EDB, "writing subset: %s", sqlite3_errmsg(db));
            sqlite3_free(ins);
        }
        if (s == JF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            s = jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
        if (s != JF_OK)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    free(best);
    free(size);
    free(first);
    free(u.parent);
    free(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return s;
}

