/* jf filter benchmark: a rule over a large index (rows/s) against the sqlite3 command running
 * the equivalent SELECT on the same file; near-duplicate search over 1M and 10M generated 64-bit
 * hashes, with recall against brute force on a 100k sample.
 * usage: bench_filter [--rows N] [--dir DIR] */
#include "jf_filter.h"
#include "jf_shards.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void count_pair(void *user, size_t i, size_t j)
{
    (void)i, (void)j;
    (*(uint64_t *)user)++;
}

/* n hashes: 90% random, 10% near copies (1..6 bits) of an earlier one */
static uint64_t *make_hashes(size_t n, uint64_t seed)
{
    uint64_t *h = malloc(n * sizeof *h), s = seed;
    for (size_t i = 0; i < n; i++) {
        h[i] = rng(&s);
        if (i > 0 && rng(&s) % 10 == 0) {
            uint64_t x = h[rng(&s) % i];
            int flips = 1 + (int)(rng(&s) % 6);
            for (int b = 0; b < flips; b++)
                x ^= 1ull << (rng(&s) % 64);
            h[i] = x;
        }
    }
    return h;
}

int main(int argc, char **argv)
{
    long rows = 10000000;
    const char *base = "bench/out/filter";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            base = argv[++i];
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd))
        return 1;
    jf_error err;
    jf_store *st;
    if (jf_store_open(base, JF_STORE_CREATE, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sqlite3 *db = jf_store_db(st);
    double t = now();
    jf_store_ensure_column(st, "punsafe", JF_COL_REAL, "", &err);
    jf_store_ensure_column(st, "similarity", JF_COL_REAL, "", &err);
    jf_store_ensure_column(st, "aesthetic", JF_COL_REAL, "", &err);
    sqlite3_exec(db,
                 "PRAGMA synchronous=OFF; BEGIN; INSERT INTO shards(id, path, state, bytes, records) VALUES(1, 'shards/00000001.jfr', "
                 "'complete', 0, 0); INSERT INTO sources(id, name) VALUES(1, 'laion');",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db,
                       "INSERT INTO samples(key, kind, shard_id, offset, length, source_id, width, height, caption_len, "
                       "punsafe, similarity, aesthetic) VALUES(?, 'generation', 1, ?, 100, 1, ?, ?, ?, ?, ?, ?)",
                       -1, &ins, NULL);
    uint64_t s = 7;
    char key[32];
    for (long i = 0; i < rows; i++) {
        snprintf(key, sizeof key, "laion/%09ld", i);
        sqlite3_bind_text(ins, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, i * 100);
        sqlite3_bind_int(ins, 3, 64 + (int)(rng(&s) % 1024));
        sqlite3_bind_int(ins, 4, 64 + (int)(rng(&s) % 1024));
        sqlite3_bind_int(ins, 5, (int)(rng(&s) % 120));
        sqlite3_bind_double(ins, 6, (rng(&s) % 1000) / 1000.0);
        sqlite3_bind_double(ins, 7, 0.15 + (rng(&s) % 250) / 1000.0);
        sqlite3_bind_double(ins, 8, 3 + (rng(&s) % 500) / 100.0);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    double t_build = now() - t;
    jf_store_close(st);

    /* a rule, through jf (funnel, dry run) and through the sqlite3 command */
    if (jf_store_open(base, JF_STORE_WRITE, &st, &err))
        return 1;
    jf_filter_rule rule[] = {{"r", "short_side >= 256 and punsafe < 0.1"}};
    jf_filter_result r;
    jf_filter_params fp = {0};
    double best_jf = 1e30, best_sql = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        t = now();
        if (jf_filter_run(st, rule, 1, &fp, &r, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double e = now() - t;
        if (e < best_jf)
            best_jf = e;
        jf_filter_result_free(&r);
    }
    jf_filter_rule funnel[] = {{"a", "short_side >= 256"}, {"b", "punsafe < 0.1"}, {"c", "similarity >= 0.28"},
                               {"d", "aesthetic >= 5"}};
    t = now();
    jf_filter_run(st, funnel, 4, &fp, &r, &err);
    double t_funnel = now() - t;
    uint64_t kept = r.kept;
    jf_filter_result_free(&r);
    jf_store_close(st);
    for (int rep = 0; rep < 3; rep++) {
        snprintf(cmd, sizeof cmd,
                 "sqlite3 '%s/index.sqlite' \"SELECT count(*) FROM samples WHERE min(width, height) >= 256 AND punsafe < 0.1\" > /dev/null",
                 base);
        t = now();
        if (system(cmd))
            return 1;
        double e = now() - t;
        if (e < best_sql)
            best_sql = e;
    }
    printf("filter benchmark: %ld rows (built in %.1f s)\n", rows, t_build);
    printf("%-58s %14s %10s\n", "job", "rows/s", "ratio");
    printf("%-58s %14.0f %9.2fx\n", "jf filter: short_side >= 256 and punsafe < 0.1 (dry run)", rows / best_jf, best_sql / best_jf);
    printf("%-58s %14.0f %10s\n", "  sqlite3 command: the same SELECT count(*) on the file", rows / best_sql, "");
    printf("%-58s %14.0f %10s\n", "jf filter: 4-rule funnel (alone + in sequence, one scan)", rows / t_funnel, "");
    printf("    (funnel kept %llu)\n", (unsigned long long)kept);

    /* near duplicates */
    for (size_t n = 1000000; n <= 10000000; n *= 10) {
        uint64_t *h = make_hashes(n, n);
        for (int k = 3; k <= 4; k++) {
            uint64_t pairs = 0;
            t = now();
            uint64_t cand = jf_near_pairs(h, n, k, 2, count_pair, &pairs);
            printf("near duplicates, %zu hashes, distance <= %d: %.2f s, %llu pairs, %llu candidate comparisons\n", n, k,
                   now() - t, (unsigned long long)pairs, (unsigned long long)cand);
        }
        free(h);
    }
    /* recall against brute force on 100k */
    size_t n = 100000;
    uint64_t *h = make_hashes(n, 99);
    for (int k = 3; k <= 6; k++) {
        uint64_t pairs = 0, truth = 0;
        jf_near_pairs(h, n, k, 2, count_pair, &pairs);
        t = now();
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                truth += __builtin_popcountll(h[i] ^ h[j]) <= k;
        printf("recall at distance <= %d on 100k: %llu / %llu = %.4f (brute force %.1f s)\n", k, (unsigned long long)pairs,
               (unsigned long long)truth, truth ? (double)pairs / truth : 1.0, now() - t);
    }
    free(h);
    return 0;
}
