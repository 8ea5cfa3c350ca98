/* Tests of training mixes: determinism, exact partition over ranks and workers, resume, epochs,
 * ratios and ramps, and errors in mix files. */
#include "check.h"
#include "jf_shards.h"

#include <math.h>
#include <unistd.h>

static char dir[512];

/* A dataset with three sources of different sizes (und 37, gen 120, text 11). */
static int make_dataset(void)
{
    if (dir[0])
        return 0;
    snprintf(dir, sizeof dir, "%s/jf-mix-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    jf_error err;
    jf_store *st;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        return -1;
    jf_writer_params wp = jf_writer_default_params();
    wp.fsync = 0;
    wp.max_records = 40;
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        return -1;
    jf_record *r = jf_record_create();
    static const struct { const char *src; jf_kind kind; int n; } parts[] = {
        {"und", JF_KIND_UNDERSTANDING, 37}, {"gen", JF_KIND_GENERATION, 120}, {"text", JF_KIND_TEXT, 11}};
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < parts[p].n; i++) {
            char key[64];
            snprintf(key, sizeof key, "%s-%04d", parts[p].src, i);
            jf_record_reset(r);
            jf_record_set_key(r, key, &err);
            jf_record_set_kind(r, parts[p].kind);
            jf_record_add_field(r, "txt", JF_FIELD_TEXT, key, strlen(key), &err);
            jf_record_set_text(r, "source", parts[p].src, &err);
            jf_record_set_real(r, "aesthetic", (i % 10) / 1.0, &err);
            if (jf_writer_add(w, r, &err))
                return -1;
        }
    jf_record_destroy(r);
    if (jf_writer_close(w, &err))
        return -1;
    jf_store_close(st);
    return 0;
}

static const char MIX[] =
    "{\"seed\": 7, \"global_batch\": 12,"
    " \"sources\": [{\"name\": \"und\", \"where\": \"kind = 'understanding'\"},"
    "               {\"name\": \"gen\", \"where\": \"kind = 'generation' AND aesthetic >= 0\"},"
    "               {\"name\": \"text\", \"where\": \"source = 'text'\"}],"
    " \"stages\": [{\"name\": \"s1\", \"steps\": 30, \"weights\": {\"und\": 50, \"gen\": 50, \"text\": 0}},"
    "            {\"name\": \"s2\", \"steps\": 70, \"weights\": {\"und\": 14, \"gen\": 80, \"text\": 6},"
    "             \"ramps\": {\"gen\": {\"from\": 20, \"to\": 80, \"steps\": 40}}},"
    "            {\"name\": \"s3\", \"steps\": 50, \"weights\": {\"und\": 21, \"gen\": 70, \"text\": 9}}]}";

typedef struct stream {
    jf_mix_item *v;
    size_t n, cap;
} stream;

static int collect(jf_mix *m, jf_mix_slice sl, stream *out)
{
    jf_error err;
    jf_mix_iter *it;
    if (jf_mix_iter_create(m, &sl, &it, &err))
        return -1;
    jf_mix_item item;
    jf_status s;
    while ((s = jf_mix_iter_next(it, &item, &err)) == JF_OK) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
        }
        out->v[out->n++] = item;
    }
    jf_mix_iter_destroy(it);
    return s == JF_ENOTFOUND ? 0 : -1;
}

static jf_mix *open_mix(const char *json, jf_store **st)
{
    jf_error err;
    if (make_dataset() || jf_store_open(dir, JF_STORE_READONLY, st, &err))
        return NULL;
    jf_mix *m;
    if (jf_mix_create(*st, json, strlen(json), &m, &err)) {
        fprintf(stderr, "mix: %s\n", err.msg);
        return NULL;
    }
    return m;
}

static void test_plan(void)
{
    jf_store *st;
    jf_mix *m = open_mix(MIX, &st);
    CHECK(m);
    const jf_mix_info *in = jf_mix_get_info(m);
    CHECK_EQ_INT(in->steps, 150);
    CHECK_EQ_INT(in->n_sources, 3);
    CHECK_EQ_INT(in->sources[0].samples, 37);
    CHECK_EQ_INT(in->sources[1].samples, 120);
    CHECK_EQ_INT(in->sources[2].samples, 11);
    CHECK_EQ_INT(in->sources[0].draws_total + in->sources[1].draws_total + in->sources[2].draws_total, 150 * 12);
    /* Stage 1 is exactly 50:50, with no text. */
    uint64_t c[3];
    jf_error err;
    CHECK_OK(jf_mix_counts_at(m, 30, c, &err));
    CHECK_EQ_INT(c[0], 180);
    CHECK_EQ_INT(c[1], 180);
    CHECK_EQ_INT(c[2], 0);
    /* The generation weight ramps up through stage 2 and stays at its target after the ramp. */
    double w[3], prev = 0;
    for (uint64_t s = 30; s < 70; s++) {
        jf_mix_weights_at(m, s, w);
        CHECK(w[1] >= prev - 1e-12);
        prev = w[1];
    }
    jf_mix_weights_at(m, 75, w);
    CHECK(fabs(w[1] - 0.80) < 1e-12 && fabs(w[0] - 0.14) < 1e-12 && fabs(w[2] - 0.06) < 1e-12);
    jf_mix_weights_at(m, 149, w);
    CHECK(fabs(w[2] - 0.09) < 1e-12);
    /* Every prefix stays within one sample of the ideal share (largest-remainder with carry). */
    uint64_t prevc[3] = {0, 0, 0};
    double ideal[3] = {0, 0, 0};
    for (uint64_t s = 0; s < 150; s++) {
        jf_mix_weights_at(m, s, w);
        for (int k = 0; k < 3; k++)
            ideal[k] += 12 * w[k];
        CHECK_OK(jf_mix_counts_at(m, s + 1, c, &err));
        CHECK_EQ_INT(c[0] + c[1] + c[2] - prevc[0] - prevc[1] - prevc[2], 12);
        for (int k = 0; k < 3; k++) {
            CHECK_MSG(fabs((double)c[k] - ideal[k]) < 1.0 + 1e-9, "step %llu source %d: %llu vs %.3f",
                      (unsigned long long)s, k, (unsigned long long)c[k], ideal[k]);
            prevc[k] = c[k];
        }
    }
    CHECK(in->sources[2].first_epoch_end_step < 150);
    jf_mix_destroy(m);
    jf_store_close(st);
}

static void test_partition(void)
{
    jf_store *st;
    jf_mix *m = open_mix(MIX, &st);
    CHECK(m);
    stream global = {0};
    jf_mix_slice one = {0, 1, 0, 1, 0, 0};
    CHECK(collect(m, one, &global) == 0);
    CHECK_EQ_INT(global.n, 150 * 12);
    for (size_t i = 0; i < global.n; i++)
        CHECK(global.v[i].step == i / 12 && global.v[i].pos == i % 12 && !global.v[i].pad);
    /* For several (world, workers): the slices are disjoint, equal in size, and together are the
     * global stream (padding aside). */
    static const uint32_t configs[][2] = {{2, 1}, {3, 2}, {4, 3}, {5, 1}, {12, 4}, {7, 2}};
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        uint32_t world = configs[c][0], workers = configs[c][1];
        int *seen = calloc(global.n, sizeof *seen);
        size_t per_consumer = SIZE_MAX, pads = 0;
        for (uint32_t r = 0; r < world; r++) {
            size_t rank_total = 0;
            for (uint32_t k = 0; k < workers; k++) {
                stream s = {0};
                jf_mix_slice sl = {r, world, k, workers, 0, 0};
                CHECK(collect(m, sl, &s) == 0);
                rank_total += s.n;
                for (size_t i = 0; i < s.n; i++) {
                    const jf_mix_item *it = &s.v[i];
                    CHECK(it->step % workers == k);
                    if (it->pad) {
                        pads++;
                        continue;
                    }
                    size_t g = it->step * 12 + it->pos;
                    CHECK(g < global.n);
                    CHECK_MSG(seen[g] == 0, "world %u: item %zu delivered twice", world, g);
                    seen[g] = 1;
                    CHECK(global.v[g].sample_id == it->sample_id && global.v[g].source == it->source);
                }
                free(s.v);
            }
            if (per_consumer == SIZE_MAX)
                per_consumer = rank_total;
            CHECK_MSG(rank_total == per_consumer, "world %u: rank %u got %zu items, rank 0 got %zu", world, r, rank_total,
                      per_consumer);
        }
        for (size_t g = 0; g < global.n; g++)
            CHECK_MSG(seen[g], "world %u workers %u: item %zu never delivered", world, workers, g);
        size_t per_rank = (12 + world - 1) / world;
        CHECK_EQ_INT(pads, (per_rank * world - 12) * 150);
        free(seen);
    }
    free(global.v);
    jf_mix_destroy(m);
    jf_store_close(st);
}

static void test_resume(void)
{
    jf_store *st;
    jf_mix *m = open_mix(MIX, &st);
    CHECK(m);
    for (uint64_t start = 1; start < 150; start += 37) {
        for (uint32_t world = 1; world <= 3; world++) {
            for (uint32_t r = 0; r < world; r++) {
                stream full = {0}, resumed = {0};
                jf_mix_slice a = {r, world, 0, 1, 0, 0}, b = {r, world, 0, 1, start, 0};
                CHECK(collect(m, a, &full) == 0 && collect(m, b, &resumed) == 0);
                size_t skip = 0;
                while (skip < full.n && full.v[skip].step < start)
                    skip++;
                CHECK_EQ_INT(full.n - skip, resumed.n);
                for (size_t i = 0; i < resumed.n; i++)
                    CHECK(!memcmp(&full.v[skip + i], &resumed.v[i], sizeof resumed.v[i]));
                free(full.v);
                free(resumed.v);
            }
        }
    }
    /* Elastic: a run on 2 ranks to step 60 then on 3 ranks from step 60 delivers the same
     * global stream as one uninterrupted run. */
    stream global = {0};
    jf_mix_slice one = {0, 1, 0, 1, 0, 0};
    CHECK(collect(m, one, &global) == 0);
    int *seen = calloc(global.n, sizeof *seen);
    for (int phase = 0; phase < 2; phase++) {
        uint32_t world = phase ? 3 : 2;
        for (uint32_t r = 0; r < world; r++) {
            stream s = {0};
            jf_mix_slice sl = {r, world, 0, 1, phase ? 60 : 0, phase ? 0 : 60};
            CHECK(collect(m, sl, &s) == 0);
            for (size_t i = 0; i < s.n; i++) {
                size_t g = s.v[i].step * 12 + s.v[i].pos;
                CHECK(!seen[g] && global.v[g].sample_id == s.v[i].sample_id);
                seen[g] = 1;
            }
            free(s.v);
        }
    }
    for (size_t g = 0; g < global.n; g++)
        CHECK(seen[g]);
    free(seen);
    free(global.v);
    jf_mix_destroy(m);
    jf_store_close(st);
}

static void test_epochs(void)
{
    jf_store *st;
    jf_mix *m = open_mix(MIX, &st);
    CHECK(m);
    stream g = {0};
    jf_mix_slice one = {0, 1, 0, 1, 0, 0};
    CHECK(collect(m, one, &g) == 0);
    const jf_mix_info *in = jf_mix_get_info(m);
    for (uint32_t s = 0; s < 3; s++) {
        uint64_t n = in->sources[s].samples;
        /* draws of this source in stream order must be 0,1,2,...; each full epoch is a permutation */
        int64_t *ids = malloc(in->sources[s].draws_total * sizeof *ids);
        uint64_t k = 0;
        for (size_t i = 0; i < g.n; i++)
            if (g.v[i].source == s) {
                CHECK_EQ_INT(g.v[i].draw, k);
                CHECK_EQ_INT(g.v[i].epoch, k / n);
                ids[k++] = g.v[i].sample_id;
            }
        CHECK_EQ_INT(k, in->sources[s].draws_total);
        for (uint64_t e = 0; (e + 1) * n <= k; e++) {
            for (uint64_t a = 0; a < n; a++)
                for (uint64_t b = a + 1; b < n; b++)
                    CHECK_MSG(ids[e * n + a] != ids[e * n + b], "source %u epoch %llu repeats a sample", s,
                              (unsigned long long)e);
        }
        /* consecutive epochs are shuffled differently */
        if (2 * n <= k && n > 3)
            CHECK(memcmp(ids, ids + n, n * sizeof *ids) != 0);
        free(ids);
    }
    free(g.v);
    jf_mix_destroy(m);
    jf_store_close(st);
}

static void test_determinism(void)
{
    jf_store *st, *st2, *st3;
    jf_mix *a = open_mix(MIX, &st), *b = open_mix(MIX, &st2);
    CHECK(a && b);
    CHECK(jf_mix_get_info(a)->fingerprint == jf_mix_get_info(b)->fingerprint);
    stream sa = {0}, sb = {0}, sc = {0};
    jf_mix_slice one = {1, 2, 0, 1, 0, 0};
    CHECK(collect(a, one, &sa) == 0 && collect(b, one, &sb) == 0);
    CHECK(sa.n == sb.n && !memcmp(sa.v, sb.v, sa.n * sizeof *sa.v));
    char other[sizeof MIX + 8];
    snprintf(other, sizeof other, "%s", MIX);
    char *seed = strstr(other, "\"seed\": 7");
    seed[8] = '8';
    jf_mix *c = open_mix(other, &st3);
    CHECK(c);
    CHECK(jf_mix_get_info(c)->fingerprint != jf_mix_get_info(a)->fingerprint);
    CHECK(collect(c, one, &sc) == 0);
    CHECK(sc.n == sa.n && memcmp(sc.v, sa.v, sa.n * sizeof *sa.v) != 0);
    free(sa.v);
    free(sb.v);
    free(sc.v);
    jf_mix_destroy(a);
    jf_mix_destroy(b);
    jf_mix_destroy(c);
    jf_store_close(st);
    jf_store_close(st2);
    jf_store_close(st3);
}

static void test_errors(void)
{
    CHECK(make_dataset() == 0);
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dir, JF_STORE_READONLY, &st, &err));
    static const struct { const char *json; const char *needle; } bad[] = {
        {"{not json", "not valid JSON"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\"}], \"stages\": []}", "stages"},
        {"{\"global_batch\": 0, \"sources\": [{\"name\": \"a\"}], \"stages\": [{\"steps\": 1, \"weights\": {\"a\": 1}}]}", "global_batch"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\"}], \"stages\": [{\"steps\": 1, \"weights\": {\"b\": 1}}]}", "unknown source 'b'"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\", \"where\": \"nosuchcolumn > 1\"}], \"stages\": [{\"steps\": 1, \"weights\": {\"a\": 1}}]}", "nosuchcolumn"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\", \"where\": \"1); DROP TABLE samples; --\"}], \"stages\": [{\"steps\": 1, \"weights\": {\"a\": 1}}]}", "one expression"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\"}], \"stages\": [{\"steps\": 5, \"weights\": {\"a\": 0}}]}", "weight 0"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\", \"where\": \"kind = 'nothing'\"}], \"stages\": [{\"steps\": 5, \"weights\": {\"a\": 1}}]}", "matches no samples"},
        {"{\"global_batch\": 4, \"sources\": [{\"name\": \"a\"}, {\"name\": \"a\"}], \"stages\": [{\"steps\": 5, \"weights\": {\"a\": 1}}]}", "used twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jf_mix *m = NULL;
        jf_status s = jf_mix_create(st, bad[i].json, strlen(bad[i].json), &m, &err);
        CHECK_MSG(s != JF_OK && m == NULL, "case %zu accepted", i);
        CHECK_MSG(strstr(err.msg, bad[i].needle), "case %zu: message '%s' lacks '%s'", i, err.msg, bad[i].needle);
    }
    CHECK_EQ_INT(((long long)jf_store_db(st) != 0), 1);
    /* The table survived the injection attempt. */
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "gen-0001", r, &err));
    jf_record_destroy(r);
    /* Slices that cannot be served. */
    jf_mix *m;
    CHECK_OK(jf_mix_create(st, MIX, strlen(MIX), &m, &err));
    jf_mix_iter *it;
    jf_mix_slice sl = {3, 3, 0, 1, 0, 0};
    CHECK_EQ_INT(jf_mix_iter_create(m, &sl, &it, &err), JF_EARG);
    jf_mix_slice big = {0, 13, 0, 1, 0, 0};
    CHECK_EQ_INT(jf_mix_iter_create(m, &big, &it, &err), JF_EARG);
    jf_mix_slice late = {0, 1, 0, 1, 151, 0};
    CHECK_EQ_INT(jf_mix_iter_create(m, &late, &it, &err), JF_EARG);
    jf_mix_destroy(m);
    jf_store_close(st);
}

static void cleanup(void)
{
    if (dir[0] && !getenv("JF_KEEP_TEST_FILES")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

static const test_case cases[] = {
    {"plan", test_plan}, {"partition", test_partition}, {"resume", test_resume},
    {"epochs", test_epochs}, {"determinism", test_determinism}, {"errors", test_errors},
};
TEST_MAIN(cases)
