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

static const test_case cases[] = {
    {"py_random", py_random},
    {"py_repr_round", py_repr_round},
    {"evalai_processor", evalai_processor},
    {"parsers", parsers},
};
TEST_MAIN(cases)
