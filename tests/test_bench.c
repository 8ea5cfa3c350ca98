/* Python's behaviour where the benchmark scorers depend on it (repr, round, lower, split), and
 * MMF's EvalAI answer processor on the answers of tests/data/bench (what the real one returned,
 * recorded in expected.json by tests/reference/bench_official.py). */
#include "check.h"
#include "test_files.h"
#include "bench_internal.h"

#include <math.h>
#include <yajl/yajl_tree.h>

static void cleanup(void) {}

static void py_repr_round(void)
{
    static const struct {
        double x;
        const char *repr;
    } reprs[] = {{0.1, "0.1"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {1e-5, "1e-05"}, {0.0001, "0.0001"},
                 {123456789.123, "123456789.123"}, {1.0 / 3, "0.3333333333333333"}, {200.0 / 3, "66.66666666666667"},
                 {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {-2.5, "-2.5"},
                 {100.0, "100.0"}, {99.99999999999999, "99.99999999999999"}};
    for (size_t i = 0; i < sizeof reprs / sizeof reprs[0]; i++) {
        char out[64];
        jf__py_repr(reprs[i].x, out, sizeof out);
        if (strcmp(out, reprs[i].repr))
            printf("    repr: %s, Python %s\n", out, reprs[i].repr);
        CHECK(!strcmp(out, reprs[i].repr));
    }
    /* round(x, n): the exact binary value rounded, ties to even (2.675 is below 2.675) */
    static const struct {
        double x;
        int n;
        const char *want;
    } rounds[] = {{2.675, 2, "2.67"}, {0.125, 2, "0.12"}, {0.375, 2, "0.38"}, {2.5, 0, "2.0"}, {3.5, 0, "4.0"},
                  {66.665, 2, "66.67"}, {76.33333333333333, 2, "76.33"}, {1.005, 2, "1.0"}};
    for (size_t i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
        char out[64];
        jf__py_repr(jf__py_round(rounds[i].x, rounds[i].n), out, sizeof out);
        CHECK(!strcmp(out, rounds[i].want));
    }
    char *l = jf__py_lower("ΣΑΣ ΟΔΟΣ");
    CHECK(!strcmp(l, "σας οδος"));
    free(l);
    l = jf__py_lower("İ ÉCOLE Straße");
    CHECK(!strcmp(l, "i\xcc\x87 école straße"));
    free(l);
    char **w;
    size_t n = jf__py_split("\xe3\x80\x80 a\tb\xc2\xa0" "c\x1f" "d ", &w); /* ideographic space, nbsp, unit separator */
    CHECK(n == 4 && !strcmp(w[0], "a") && !strcmp(w[1], "b") && !strcmp(w[2], "c") && !strcmp(w[3], "d"));
    jf__py_split_free(w, n);
}

static void evalai_processor(void)
{
    char *text = slurp(JF_TEST_DATA "/bench/expected.json", NULL);
    CHECK(text);
    char ebuf[128];
    yajl_val doc = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    const char *path[] = {"evalai_processor", NULL};
    yajl_val m = yajl_tree_get(doc, path, yajl_t_object);
    CHECK(m && m->u.object.len > 20);
    int same = 0;
    for (size_t i = 0; m && i < m->u.object.len; i++) {
        char *got = jf_evalai_answer_process(m->u.object.keys[i]);
        const char *want = YAJL_GET_STRING(m->u.object.values[i]);
        if (strcmp(got, want))
            printf("    '%s': MMF '%s', jf '%s'\n", m->u.object.keys[i], want, got);
        same += !strcmp(got, want);
        free(got);
    }
    printf("    %d/%zu answers processed as MMF's EvalAIAnswerProcessor does\n", same, m ? m->u.object.len : 0);
    CHECK(m && (size_t)same == m->u.object.len);
    yajl_tree_free(doc);
}

static void parsers(void)
{
    /* POPE: the first sentence; no/not/No among space-separated words */
    CHECK(jf_pope_says_no("No, there is not."));
    CHECK(!jf_pope_says_no("Yes.No"));
    CHECK(!jf_pope_says_no("NO"));
    CHECK(!jf_pope_says_no("Nope"));
    CHECK(!jf_pope_says_no("yes,no")); /* the comma is deleted: one word, "yesno" */
    /* MME: exact yes/no, else within the first four characters (line end included) */
    CHECK(!strcmp(jf_mme_parse("yes\n"), "yes"));
    CHECK(!strcmp(jf_mme_parse("not sure\n"), "no"));
    CHECK(!strcmp(jf_mme_parse(" yes\n"), "yes"));
    CHECK(!strcmp(jf_mme_parse("the answer is yes"), "other"));
    CHECK(!strcmp(jf_mme_parse("y"), "other"));
}

/* CPython's random: the same draws as random.seed(42); getrandbits(32) / choice("ABCDE"), and
 * seed(7); randrange(1000) (values printed by Python 3.11). */
static void py_random(void)
{
    jf__pyrandom r;
    jf__pyrandom_seed(&r, 42);
    CHECK(jf__pyrandom_getrandbits(&r, 32) == 2746317213u && jf__pyrandom_getrandbits(&r, 32) == 478163327u &&
          jf__pyrandom_getrandbits(&r, 32) == 107420369u);
    jf__pyrandom_seed(&r, 42);
    char got[13] = "";
    for (int i = 0; i < 12; i++)
        got[i] = (char)('A' + jf__pyrandom_randbelow(&r, 5));
    CHECK(!strcmp(got, "AACBBBAEAEDA"));
    jf__pyrandom_seed(&r, 7);
    CHECK(jf__pyrandom_randbelow(&r, 1000) == 331 && jf__pyrandom_randbelow(&r, 1000) == 970 &&
          jf__pyrandom_randbelow(&r, 1000) == 154);
}

/* SEED's likelihood ranking: the option losses computed on one shared prefill (rewinding the KV
 * cache between options) equal the losses computed the slow way, a fresh prefill of the whole
 * prefix before every label token, on the tiny JanusFlow of tests/data. */
static void seed_losses(void)
{
    jf_janus *m = NULL;
    jf_model_error me;
    CHECK(jf_janus_load(JF_TEST_DATA "/janus_tiny", &m, NULL, NULL, NULL, &me) == JF_MODEL_OK);
    if (!m)
        return;
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    size_t np = (size_t)spec.size * spec.size;
    uint8_t *rgb = malloc(np * 3);
    float *px = malloc(np * 3 * sizeof *px);
    for (size_t i = 0; i < np * 3; i++)
        rgb[i] = (uint8_t)(i * 37 % 251);
    jf_janus_image_to_pixels(&spec, rgb, px);
    char *prompt = jf_janus_chat_prompt(m, "What is shown here?", 1);
    const char *opts[4] = {"a red car", "blue", "two dogs on a sofa", "7"};
    double fast[4], slow[4];
    jf_error err = {0};
    CHECK_OK(jf__seed_option_losses(m, prompt, px, opts, 4, fast, &err));
    int vocab = jf_janus_get_config(m)->vocab;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    for (int c = 0; c < 4; c++) {
        char full[1024];
        snprintf(full, sizeof full, "%s %s", prompt, opts[c]);
        int32_t *ids = NULL, *oi = NULL;
        size_t n = 0, tags = 0;
        CHECK(jf_janus_encode_prompt(m, full, &ids, &n, &tags, &me) == JF_MODEL_OK && tags == 1);
        ids = realloc(ids, (n + 1) * sizeof *ids);
        ids[n++] = jf_janus_get_config(m)->eos;
        long mask = jf_tokenizer_encode(jf_janus_tokenizer(m), opts[c], strlen(opts[c]), 1, &oi, &me);
        CHECK(mask > 1 && (size_t)mask < n);
        double total = 0;
        const float *img = px;
        for (size_t t = n - (size_t)mask; t < n; t++) {
            CHECK(jf_janus_prefill_logits(m, ids, t, &img, 1, logits, &me) == JF_MODEL_OK);
            float mx = logits[0];
            for (int v = 1; v < vocab; v++)
                mx = logits[v] > mx ? logits[v] : mx;
            double z = 0;
            for (int v = 0; v < vocab; v++)
                z += exp((double)logits[v] - mx);
            total += -((double)logits[ids[t]] - mx - log(z));
        }
        slow[c] = total / (double)mask;
        CHECK(fabs(fast[c] - slow[c]) <= 1e-4 * fabs(slow[c]));
        if (fabs(fast[c] - slow[c]) > 1e-4 * fabs(slow[c]))
            fprintf(stderr, "option %d: %.9g (shared prefill) vs %.9g (fresh prefills)\n", c, fast[c], slow[c]);
        free(ids);
        free(oi);
    }
    /* a rewind past the sequence is refused */
    CHECK(jf_janus_rewind(m, 1u << 30, &me) != JF_MODEL_OK);
    free(logits);
    free(prompt);
    free(rgb);
    free(px);
    jf_janus_free(m);
}

static const test_case cases[] = {
    {"seed_losses", seed_losses},
    {"py_random", py_random},
    {"py_repr_round", py_repr_round},
    {"evalai_processor", evalai_processor},
    {"parsers", parsers},
};
TEST_MAIN(cases)
