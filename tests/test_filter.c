/* Tests of jf filter: the rule language, funnels and subsets, presets, text columns,
 * duplicates (exact and near, checked against brute force), and subsets as mix sources. */
#include "check.h"
#include "jf_filter.h"
#include "jf_shards.h"

#include <sqlite3.h>
#include <unistd.h>

static char dir[256];

static void cleanup(void)
{
    if (dir[0] && !getenv("JF_KEEP_TEST_FILES")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

static const char *const CAPTIONS[] = {
    "a red bicycle leaning on a brick wall in the old town", "ein rotes Fahrrad lehnt an einer alten Mauer im Hof",
    "un vélo rouge appuyé contre un vieux mur de briques", "una bicicleta roja apoyada en una pared de ladrillo vieja",
    "cat", "", "&amp; a   caption with   spaces &lt;b&gt;", "buy cheap watches now, best cheap watches online"};

/* 200 samples with known columns: sample i has width 100+i, height 100+(i*7)%300, similarity
 * i/200, punsafe (i%10)/10, aesthetic i%10, caption CAPTIONS[i%8], content hash per i/2 (pairs),
 * and phash planted in clusters. */
static const char *dataset(void)
{
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "%s/jf-filter-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        abort();
    jf_error err;
    jf_store *st;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        abort();
    jf_writer_params wp = jf_writer_default_params();
    wp.fsync = 0;
    wp.max_records = 64;
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        abort();
    jf_record *r = jf_record_create();
    for (int i = 0; i < 200; i++) {
        char key[32], hash[40];
        snprintf(key, sizeof key, "s/%03d", i);
        jf_record_reset(r);
        jf_record_set_key(r, key, &err);
        jf_record_set_kind(r, i % 5 == 4 ? JF_KIND_TEXT : JF_KIND_GENERATION);
        const char *cap = CAPTIONS[i % 8];
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, cap, strlen(cap), &err);
        jf_record_set_text(r, "source", i < 100 ? "laion" : "coyo", &err);
        if (i % 5 != 4) {
            jf_record_set_int(r, "width", 100 + i, &err);
            jf_record_set_int(r, "height", 100 + (i * 7) % 300, &err);
        }
        jf_record_set_real(r, "similarity", i / 200.0, &err);
        jf_record_set_real(r, "punsafe", (i % 10) / 10.0, &err);
        jf_record_set_real(r, "aesthetic", i % 10, &err);
        if (i != 13)
            jf_record_set_real(r, "pwatermark", 0.1, &err); /* one sample without the value */
        snprintf(hash, sizeof hash, "%032x", i / 2);
        jf_record_set_text(r, "content_hash", hash, &err);
        /* phash clusters of 4 within 2 bits: base per cluster, flip a bit per member */
        uint64_t base = 0x9E3779B97F4A7C15ull * (uint64_t)(i / 4 + 1);
        uint64_t ph = base ^ (i % 4 ? (1ull << (i % 4 * 7)) : 0) ^ (i % 4 == 3 ? 1ull : 0);
        jf_record_set_int(r, "phash", (int64_t)ph, &err);
        if (jf_writer_add(w, r, &err))
            abort();
    }
    jf_record_destroy(r);
    if (jf_writer_close(w, &err))
        abort();
    jf_store_close(st);
    return dir;
}

static long long q1(jf_store *st, const char *sql)
{
    sqlite3_stmt *q;
    long long v = -1;
    if (sqlite3_prepare_v2(jf_store_db(st), sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void test_expressions(void)
{
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    char *sql, *div;
    static const char *const ok[] = {"short_side >= 256 and punsafe < 0.1", "not (aspect > 3) or width is null",
                                     "source in ('laion', 'coyo') and kind = 'generation'", "AESTHETIC_SCORE between 5 and 6.5",
                                     "lower(source) like 'lai%'", "min(width, height) * 2 >= max(width, height)",
                                     "width / height <= 2", "-similarity < -0.1", "coalesce(pwatermark, 1) < 0.5",
                                     "caption_words > 2 and caption_chars > 5", "true", "pixels % 2 = 0"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        jf_status s = jf_filter_compile(st, ok[i], &sql, &div, &err);
        CHECK_MSG(s == JF_OK, "'%s' refused: %s", ok[i], err.msg);
        free(sql);
        free(div);
    }
    static const struct { const char *expr, *needle; int pos; } bad[] = {
        {"shrot_side >= 256", "did you mean 'short_side'", 1},
        {"width > 'wide'", "type mismatch", 9},
        {"source = 5", "type mismatch", 10},
        {"width / 0 > 1", "division by zero", 9},
        {"source", "must be a condition", 1},
        {"width > 3 height < 2", "after a complete expression", 11},
        {"source = 'unterminated", "unterminated string", 10},
        {"width >", "ends too early", 8},
        {"frobnicate(width) > 1", "unknown function", 1},
        {"abs(width, height) > 1", "takes 1 to 1 arguments", 1},
        {"length(width) > 1", "needs text", 8},
        {"source and width > 1", "needs conditions", 1},
        {"width > 1 ; drop table samples", "unexpected", 11},
        {"width $ 3", "unexpected '$'", 7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jf_status s = jf_filter_compile(st, bad[i].expr, &sql, &div, &err);
        CHECK_MSG(s == JF_EARG, "'%s' accepted", bad[i].expr);
        CHECK_MSG(strstr(err.msg, bad[i].needle), "'%s': message '%s' lacks '%s'", bad[i].expr, err.msg, bad[i].needle);
        char at[40];
        snprintf(at, sizeof at, "position %d:", bad[i].pos);
        CHECK_MSG(strstr(err.msg, at), "'%s': message '%s' does not point at %d", bad[i].expr, err.msg, bad[i].pos);
        CHECK(strchr(err.msg, '^'));
    }
    jf_store_close(st);
}

static void test_funnel_and_subsets(void)
{
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    jf_filter_rule rules[] = {{"image", "width is not null"}, {"safe", "punsafe < 0.5"}, {"clip", "similarity >= 0.28"},
                              {"watermark", "pwatermark < 0.8"}};
    jf_filter_result r;
    jf_filter_params fp = {.into = "good"};
    CHECK_OK(jf_filter_run(st, rules, 4, &fp, &r, &err));
    CHECK_EQ_INT(r.input, 200);
    /* compare with direct SQL */
    long long alone_safe = q1(st, "SELECT count(*) FROM samples WHERE NOT (punsafe < 0.5)");
    CHECK_EQ_INT(r.steps[1].removed_alone, alone_safe);
    CHECK_EQ_INT(r.steps[0].removed_alone, 40);
    long long kept = q1(st, "SELECT count(*) FROM samples WHERE width IS NOT NULL AND punsafe < 0.5 AND similarity >= 0.28 "
                            "AND pwatermark < 0.8");
    CHECK_EQ_INT(r.kept, kept);
    CHECK_EQ_INT(r.steps[3].remaining, kept);
    CHECK_EQ_INT(r.steps[0].removed_in_sequence + r.steps[1].removed_in_sequence + r.steps[2].removed_in_sequence +
                     r.steps[3].removed_in_sequence, 200 - kept);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM subset_members m JOIN subsets s ON s.id = m.subset_id WHERE s.name='good'"), kept);
    jf_filter_result_free(&r);
    /* an existing name is refused unless replaced; nothing changes on refusal */
    CHECK_EQ_INT(jf_filter_run(st, rules, 1, &fp, &r, &err), JF_EEXISTS);
    fp.replace = 1;
    CHECK_OK(jf_filter_run(st, rules, 1, &fp, &r, &err));
    CHECK_EQ_INT(r.kept, 160);
    jf_filter_result_free(&r);
    /* from a subset */
    jf_filter_rule laion[] = {{"laion", "source = 'laion'"}};
    jf_filter_params f2 = {.from = "good", .into = "good_laion"};
    CHECK_OK(jf_filter_run(st, laion, 1, &f2, &r, &err));
    CHECK_EQ_INT(r.input, 160);
    CHECK_EQ_INT(r.kept, 80);
    jf_filter_result_free(&r);
    /* empty result: refused, nothing written */
    jf_filter_rule none[] = {{"none", "width > 1000000"}};
    jf_filter_params f3 = {.into = "nothing"};
    CHECK_EQ_INT(jf_filter_run(st, none, 1, &f3, &r, &err), JF_EARG);
    CHECK(strstr(err.msg, "no sample passes"));
    jf_filter_result_free(&r);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM subsets WHERE name='nothing'"), 0);
    /* a divisor that is zero at run time: refused with a sample key */
    jf_store *s2 = st;
    sqlite3_exec(jf_store_db(s2), "UPDATE samples SET height = 0 WHERE key = 's/007'", NULL, NULL, NULL);
    jf_filter_rule divz[] = {{"ratio", "width / height < 3"}};
    jf_filter_params f4 = {.into = "ratio"};
    CHECK_EQ_INT(jf_filter_run(st, divz, 1, &f4, &r, &err), JF_EARG);
    CHECK(strstr(err.msg, "division by zero for 1 samples") && strstr(err.msg, "s/007"));
    jf_filter_result_free(&r);
    sqlite3_exec(jf_store_db(s2), "UPDATE samples SET height = 149 WHERE key = 's/007'", NULL, NULL, NULL);
    /* unknown from-subset, bad names */
    jf_filter_params f5 = {.from = "missing", .into = "x"};
    CHECK_EQ_INT(jf_filter_run(st, laion, 1, &f5, &r, &err), JF_ENOTFOUND);
    jf_filter_params f6 = {.into = "bad name!"};
    CHECK_EQ_INT(jf_filter_run(st, laion, 1, &f6, &r, &err), JF_EARG);
    /* listing, ids, materialize, drop */
    jf_subset_info *v;
    size_t n;
    CHECK_OK(jf_subset_list(st, &v, &n, &err));
    CHECK(n >= 2);
    free(v);
    int64_t *ids;
    CHECK_OK(jf_subset_ids(st, "good_laion", &ids, &n, &err));
    CHECK_EQ_INT(n, 80);
    free(ids);
    char out[600];
    snprintf(out, sizeof out, "%s-materialized", dir);
    uint64_t written;
    CHECK_OK(jf_subset_materialize(st, "good_laion", out, NULL, NULL, &written, &err));
    CHECK_EQ_INT(written, 80);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    CHECK(system(cmd) == 0);
    CHECK_OK(jf_subset_drop(st, "good_laion", &err));
    CHECK_EQ_INT(jf_subset_drop(st, "good_laion", &err), JF_ENOTFOUND);
    jf_store_close(st);
}

static void test_presets(void)
{
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    jf_text_params tp = {.language = 1, .words = 1, .only_missing = 1};
    uint64_t n;
    CHECK_OK(jf_filter_text(st, &tp, NULL, NULL, &n, &err));
    CHECK_OK(jf_store_ensure_column(st, "img_std", JF_COL_REAL, "", &err));
    int count = 0;
    for (const jf_filter_preset *p = jf_filter_presets(); p->name; p++, count++) {
        jf_filter_result r;
        jf_filter_params fp = {0};
        jf_status s = jf_filter_run(st, p->rules, p->n_rules, &fp, &r, &err);
        CHECK_MSG(s == JF_OK, "preset %s: %s", p->name, err.msg);
        jf_filter_result_free(&r);
    }
    CHECK(count >= 10);
    CHECK(jf_filter_preset_find("datacomp-basic") && !jf_filter_preset_find("nope"));
    jf_store_close(st);
}

static void test_text(void)
{
    jf_error err;
    jf_langid *l = jf_langid_create(&err);
    CHECK_MSG(l, "%s", err.msg);
    static const struct { const char *text, *lang; } cases[] = {
        {"a red bicycle leaning on a brick wall in the old town", "en"},
        {"Photo of the Eiffel tower in Paris at night with lights", "en"},
        {"ein rotes Fahrrad lehnt an einer alten Mauer im Hof", "de"},
        {"un vélo rouge appuyé contre un vieux mur de briques", "fr"},
        {"una bicicleta roja apoyada en una pared de ladrillo vieja", "es"}};
    int rel;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char lang[16];
        jf_langid_classify(l, cases[i].text, strlen(cases[i].text), lang, &rel);
        CHECK_MSG(!strcmp(lang, cases[i].lang), "'%s': %s, expected %s", cases[i].text, lang, cases[i].lang);
        CHECK(rel == 1);
    }
    char lang[16];
    jf_langid_classify(l, "", 0, lang, &rel);
    CHECK(!strcmp(lang, "und") && rel == 0);
    jf_langid_destroy(l);
    /* words and banned words, with normalisation */
    char banned[600];
    snprintf(banned, sizeof banned, "%s-banned.txt", dataset());
    FILE *f = fopen(banned, "w");
    fputs("# comment\ncheap watches\nwatch\n", f);
    fclose(f);
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    jf_text_params tp = {.language = 1, .words = 1, .normalize = 1, .banned_words = banned};
    uint64_t n;
    CHECK_OK(jf_filter_text(st, &tp, NULL, NULL, &n, &err));
    CHECK_EQ_INT(n, 200);
    CHECK_EQ_INT(q1(st, "SELECT caption_words FROM samples WHERE key='s/006'"), 6); /* "& a caption with spaces <b>" */
    CHECK_EQ_INT(q1(st, "SELECT banned_words FROM samples WHERE key='s/007'"), 2);  /* "watch" is not in "watches" */
    CHECK_EQ_INT(q1(st, "SELECT banned_words FROM samples WHERE key='s/000'"), 0);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples WHERE lang='de'"), 25);
    unlink(banned);
    jf_store_close(st);
}

typedef struct pairs {
    uint64_t *v;
    size_t n, cap;
} pairs;

static void add_pair(void *user, size_t i, size_t j)
{
    pairs *p = user;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = ((uint64_t)i << 32) | j;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_near_pairs_vs_brute_force(void)
{
    /* random hashes with planted near copies at every distance 0..8 */
    enum { N = 6000 };
    uint64_t *h = malloc(N * sizeof *h), s = 42;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = s ^ (s >> 29);
        if (i % 3 == 2) { /* a copy of the previous hash with (i/3)%9 bits flipped */
            uint64_t x = h[i - 1];
            for (int b = 0; b < (i / 3) % 9; b++)
                x ^= 1ull << ((b * 23 + i) % 64);
            h[i] = x;
        }
    }
    for (int k = 0; k <= 7; k++) {
        pairs got = {0}, want = {0};
        uint64_t cand = jf_near_pairs(h, N, k, 3, add_pair, &got);
        for (size_t i = 0; i < N; i++)
            for (size_t j = i + 1; j < N; j++)
                if (__builtin_popcountll(h[i] ^ h[j]) <= k)
                    add_pair(&want, i, j);
        qsort(got.v, got.n, sizeof *got.v, cmp_u64);
        qsort(want.v, want.n, sizeof *want.v, cmp_u64);
        printf("    k=%d: %zu pairs (brute force %zu), %llu candidates of %llu pairs\n", k, got.n, want.n,
               (unsigned long long)cand, (unsigned long long)N * (N - 1) / 2);
        CHECK_EQ_INT(got.n, want.n);
        CHECK(!memcmp(got.v, want.v, got.n * sizeof *got.v));
        free(got.v);
        free(want.v);
    }
    free(h);
}

static void test_dedup(void)
{
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    jf_dedup_result r;
    jf_dedup_params dp = {.into = "unique", .keep = JF_KEEP_FIRST};
    CHECK_OK(jf_dedup_run(st, &dp, &r, &err));
    CHECK_EQ_INT(r.input, 200);
    CHECK_EQ_INT(r.clusters, 100); /* content hash shared by pairs */
    CHECK_EQ_INT(r.duplicates, 100);
    CHECK_EQ_INT(r.kept, 100);
    /* keep=first keeps the even sample of each pair */
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM subset_members m JOIN subsets s ON s.id=m.subset_id JOIN samples x ON x.id=m.sample_id "
                        "WHERE s.name='unique' AND CAST(substr(x.key, 3) AS INTEGER) % 2 = 0"), 100);
    CHECK_EQ_INT(jf_dedup_run(st, &dp, &r, &err), JF_EEXISTS);
    /* near: clusters of four within 2 bits; keep the highest aesthetic */
    jf_dedup_params nd = {.into = "near_unique", .near = 1, .max_distance = 2, .keep = JF_KEEP_HIGHEST,
                          .score_column = "aesthetic", .threads = 2};
    CHECK_OK(jf_dedup_run(st, &nd, &r, &err));
    CHECK_EQ_INT(r.clusters, 50);
    CHECK_EQ_INT(r.largest_cluster, 4);
    CHECK_EQ_INT(r.kept, 50);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM dup_clusters WHERE subset='near_unique' AND kept=1"), 50);
    /* within 1 bit only pairs (member 0 with 1 and 2; 3 is 2 bits away from 0) */
    jf_dedup_params n1 = {.near = 1, .max_distance = 1, .keep = JF_KEEP_LARGEST};
    CHECK_OK(jf_dedup_run(st, &n1, &r, &err));
    CHECK_EQ_INT(r.clusters, 50);
    CHECK_EQ_INT(r.kept, 100);
    jf_dedup_params bad = {.near = 1, .max_distance = 9};
    CHECK_EQ_INT(jf_dedup_run(st, &bad, &r, &err), JF_EARG);
    jf_dedup_params bad2 = {.keep = JF_KEEP_HIGHEST};
    CHECK_EQ_INT(jf_dedup_run(st, &bad2, &r, &err), JF_EARG);
    jf_store_close(st);
}

static void test_mix_from_subset(void)
{
    jf_error err;
    jf_store *st;
    CHECK_OK(jf_store_open(dataset(), JF_STORE_WRITE, &st, &err));
    jf_filter_rule rules[] = {{"gen", "kind = 'generation' and aesthetic >= 5"}};
    jf_filter_params fp = {.into = "gen_aes5", .replace = 1};
    jf_filter_result r;
    CHECK_OK(jf_filter_run(st, rules, 1, &fp, &r, &err));
    uint64_t kept = r.kept;
    jf_filter_result_free(&r);
    const char *mix = "{\"seed\": 1, \"global_batch\": 4, \"sources\": [{\"name\": \"g\", \"subset\": \"gen_aes5\"},"
                      " {\"name\": \"t\", \"where\": \"kind = 'text'\"}, {\"name\": \"gl\", \"subset\": \"gen_aes5\", \"where\": \"source = 'laion'\"}],"
                      " \"stages\": [{\"steps\": 10, \"weights\": {\"g\": 1, \"t\": 1, \"gl\": 1}}]}";
    jf_mix *m;
    CHECK_OK(jf_mix_create(st, mix, strlen(mix), &m, &err));
    CHECK_EQ_INT(jf_mix_get_info(m)->sources[0].samples, kept);
    CHECK_EQ_INT(jf_mix_get_info(m)->sources[2].samples, kept / 2);
    jf_mix_destroy(m);
    const char *bad = "{\"global_batch\": 4, \"sources\": [{\"name\": \"g\", \"subset\": \"no_such\"}], \"stages\": [{\"steps\": 1, \"weights\": {\"g\": 1}}]}";
    CHECK_EQ_INT(jf_mix_create(st, bad, strlen(bad), &m, &err), JF_EARG);
    CHECK(strstr(err.msg, "no subset named 'no_such'"));
    jf_store_close(st);
}

/* Language of short captions (2-8 words) in 12 languages, written for this test: the figures
 * are printed per language. A Chinese caption counts as right when the code's primary subtag is
 * zh (CLD2 answers zh-Hant for some short simplified-Chinese captions). The percentage right
 * goes to *percent. */
static void lang_captions_score(const char *path, double *percent)
{
    *percent = 0;
    jf_error err;
    jf_langid *l = jf_langid_create(&err);
    CHECK(l);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char line[1024], langs[32][8];
    int n_langs = 0, total[32] = {0}, right[32] = {0}, as_en = 0, non_en = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = 0;
        int k = 0;
        while (k < n_langs && strcmp(langs[k], line))
            k++;
        if (k == n_langs && n_langs < 32)
            snprintf(langs[n_langs++], sizeof langs[0], "%.7s", line);
        char got[16];
        int rel;
        jf_langid_classify(l, tab + 1, strlen(tab + 1), got, &rel);
        got[strcspn(got, "-")] = 0;
        total[k]++;
        right[k] += !strcmp(got, line);
        if (strcmp(line, "en")) {
            non_en++;
            as_en += !strcmp(got, "en");
        } else if (strcmp(got, "en")) {
            printf("    English caption labelled %s: %s\n", got, tab + 1);
        }
    }
    fclose(f);
    jf_langid_destroy(l);
    int all = 0, ok = 0;
    printf("    %s\n    ", strrchr(path, '/') + 1);
    for (int k = 0; k < n_langs; k++) {
        printf("%s %d/%d  ", langs[k], right[k], total[k]);
        all += total[k];
        ok += right[k];
    }
    printf("\n    all: %d/%d (%.1f%%); non-English captions labelled en: %d/%d\n", ok, all, 100.0 * ok / all, as_en, non_en);
    CHECK(n_langs >= 10);
    CHECK_EQ_INT(right[0], total[0]); /* English first in each file: every English caption is en */
    *percent = 100.0 * ok / all;
}

/* The goal: at least 95 % right on each set. lang_captions.tsv was used to design the
 * lexical second opinion (measured 96.3 %); lang_captions_2.tsv was written afterwards and not
 * tuned on (measured 97.5 %). CLD2 with the script rules alone: 89.5 % and 92.5 %. */
static void test_lang_captions(void)
{
    double designed_on, held_out;
    lang_captions_score(JF_TEST_DATA "/lang_captions.tsv", &designed_on);
    lang_captions_score(JF_TEST_DATA "/lang_captions_2.tsv", &held_out);
    CHECK(designed_on >= 95.0);
    CHECK(held_out >= 95.0);
}

static const test_case cases[] = {
    {"expressions", test_expressions},   {"funnel_and_subsets", test_funnel_and_subsets}, {"presets", test_presets},
    {"text", test_text},
    {"lang_captions", test_lang_captions},                 {"near_pairs_vs_brute_force", test_near_pairs_vs_brute_force},
    {"dedup", test_dedup},               {"mix_from_subset", test_mix_from_subset},
};
TEST_MAIN(cases)
