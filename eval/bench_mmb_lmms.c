/* MMBench as lmms-eval scores it without a GPT judge: task mmbench_en_dev_static
 * (lmms_eval/tasks/mmbench/mmbench_evals.py, MMBench_Evaluator.eval_result(eval_method="static"),
 * with _task_utils/mcq_extract.py), at 75571cf.
 *
 * The input is lmms-eval's own samples log (--log_samples): one JSON object per line whose
 * "gpt_eval_score" member is the dict mmbench_process_results made of the document and the
 * stripped response — exactly what the aggregation receives. The rules, as the code has them:
 *   - every question (index < 1e6) with its rotations (index % 1e6 == it), in index order;
 *   - each row's prefetch: lmms-eval's own can_infer_option (a lone letter among the words, or
 *     one of its prefix/suffix forms; "A" with more than three words is taken as a quantifier)
 *     then can_infer_text (exactly one option's text inside the answer, lower-cased);
 *   - a prefetched letter that is wrong makes the question 0; rows prefetch cannot read go to
 *     extract_mcq_answer (its priority ranking of "(A)", "A.", phrases, first/last letter, ...):
 *     an empty or wrong letter makes the question 0;
 *   - overall, per category and per L2-category means of the questions (no GPT judge, no random
 *     fallback: the static path has neither).
 * Options come from the dict as pandas holds them: null (or NaN) is no option; the string "nan"
 * is an option whose text is "nan", as in the tool. */
#include "bench_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct lrow {
    long long index;
    char *prediction, *answer, *category, *l2;
    char *opt[4]; /* NULL: no option (null / NaN) */
    const char *gt; /* the answer map's value for this index: the last row with it (the tool's dict) */
    int hit;
    int line;
} lrow;

/* ---- str() of a JSON value as pandas holds it (a column of numbers with a null is float) ---- */

static char *value_text(yajl_val v, int float_column)
{
    char buf[64];
    if (!v || YAJL_IS_NULL(v))
        return NULL;
    if (YAJL_IS_STRING(v))
        return strdup(v->u.string ? v->u.string : "");
    if (YAJL_IS_TRUE(v))
        return strdup("True");
    if (YAJL_IS_FALSE(v))
        return strdup("False");
    if (YAJL_IS_INTEGER(v) && !float_column) {
        snprintf(buf, sizeof buf, "%lld", v->u.number.i);
        return strdup(buf);
    }
    if (YAJL_IS_NUMBER(v)) {
        double d = YAJL_IS_DOUBLE(v) ? v->u.number.d : (double)v->u.number.i;
        if (isnan(d))
            return NULL;
        jf__py_repr(d, buf, sizeof buf);
        return strdup(buf);
    }
    return strdup("?");
}

/* Python's json reads NaN, Infinity and -Infinity bare; yajl does not. A copy with them as null
 * (NaN is what pandas would hold; the infinities are no text a scorer compares) outside strings. */
static char *sanitize_nonfinite(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    int in_str = 0;
    for (const char *p = s; *p;) {
        if (in_str) {
            if (*p == '\\' && p[1])
                *o++ = *p++;
            else if (*p == '"')
                in_str = 0;
            *o++ = *p++;
            continue;
        }
        size_t skip = !strncmp(p, "NaN", 3) ? 3 : !strncmp(p, "Infinity", 8) ? 8 : !strncmp(p, "-Infinity", 9) ? 9 : 0;
        if (skip) {
            memcpy(o, "null", 4);
            o += 4;
            p += skip;
            continue;
        }
        in_str = *p == '"';
        *o++ = *p++;
    }
    *o = 0;
    return out;
}

/* ---- lmms-eval's MMBench_Evaluator.can_infer_option / can_infer_text ---- */

static int in_words(char **w, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i], s))
            return 1;
    return 0;
}

static char infer_option(const char *answer)
{
    static const char choices[] = "ABCDE";
    if (strstr(answer, "Failed to obtain answer via API"))
        return 0;
    char **w;
    size_t n = jf__py_split(answer, &w); /* x.strip() of a split() word changes nothing */
    char found = 0;
    int cnt = 0;
    for (int k = 0; choices[k]; k++) {
        char t[2] = {choices[k], 0};
        cnt += in_words(w, n, t);
    }
    if (cnt == 1) {
        for (int k = 0; choices[k] && !found; k++) {
            if (in_words(w, n, "A") && n > 3)
                break;
            char t[2] = {choices[k], 0};
            if (in_words(w, n, t))
                found = choices[k];
        }
    }
    static const char *const tups[][2] = {{"", "."},  {"", ","},   {"", ":"},  {"", ")"},  {"", ")."}, {"(", ")"},
                                          {"(", ")."}, {":", ""},  {":", ","}, {":", "."}, {":", ")"}, {":", ")."}};
    for (size_t u = 0; !found && u < sizeof tups / sizeof tups[0]; u++) {
        int c = 0;
        char t[8];
        for (int k = 0; choices[k]; k++) {
            snprintf(t, sizeof t, "%s%c%s", tups[u][0], choices[k], tups[u][1]);
            c += in_words(w, n, t);
        }
        if (c != 1)
            continue;
        for (int k = 0; choices[k] && !found; k++) {
            snprintf(t, sizeof t, "%s%c%s", tups[u][0], choices[k], tups[u][1]);
            if (in_words(w, n, t))
                found = choices[k];
        }
    }
    jf__py_split_free(w, n);
    return found;
}

static char infer_text(const char *answer, const lrow *r)
{
    char *a = jf__py_lower(answer);
    char cand = 0;
    int nc = 0;
    for (int k = 0; k < 4; k++) {
        if (!r->opt[k])
            continue;
        char *o = jf__py_lower(r->opt[k]);
        if (strstr(a, o)) {
            cand = (char)('A' + k);
            nc++;
        }
        free(o);
    }
    free(a);
    return nc == 1 ? cand : 0;
}

static char prefetch(const lrow *r)
{
    char c = infer_option(r->prediction);
    return c ? c : infer_text(r->prediction, r);
}

/* ---- _task_utils/mcq_extract.py: extract_mcq_answer, on code points as Python indexes ---- */

typedef struct cps {
    int32_t *v;
    size_t n;
} cps;

static cps to_cps(const char *s)
{
    cps c = {malloc((strlen(s) + 1) * sizeof(int32_t)), 0};
    for (size_t i = 0; s[i];)
        c.v[c.n++] = jf__utf8_next(s, &i);
    return c;
}

static long cps_find(const cps *t, const int32_t *pat, size_t m, size_t from, int last)
{
    long at = -1;
    for (size_t i = from; i + m <= t->n; i++)
        if (!memcmp(t->v + i, pat, m * sizeof *pat)) {
            at = (long)i;
            if (!last)
                break;
        }
    return at;
}

static int py_isalpha(int32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}

typedef struct cand {
    char letter;
    long pos;
    int prio;
} cand;

static char extract_mcq(const char *response, const char *choices)
{
    static const char *const phrases[] = {"the answer is", "answer is", "the correct answer is", "correct answer is",
                                          "the best answer is", "best answer is", "the correct option is",
                                          "correct option is", "the best option is", "best option is", "the choice is",
                                          "choice is", "the correct choice is", "correct choice is", "i choose",
                                          "i select", "i pick", "my answer is", "my choice is", "옵션", "정답은", "답은",
                                          "답:", "答案是", "答案为", "选", "答えは"};
    char *st = jf__py_strip(response, NULL);
    if (!st[0]) {
        free(st);
        return 0;
    }
    if (!choices[0])
        choices = "ABCDEFGH"; /* `choices or _DEFAULT_CHOICES` */
    static const char strip_chars[] = ",.!?;:'\"";
    for (const char *c = strip_chars; *c; c++) {
        char one[2] = {*c, 0};
        char *x = jf__py_strip(st, one);
        free(st);
        st = x;
    }
    size_t L = strlen(st);
    char *padded = malloc(L + 3);
    padded[0] = ' ';
    memcpy(padded + 1, st, L);
    padded[L + 1] = ' ';
    padded[L + 2] = 0;
    free(st);
    cps text = to_cps(padded);
    char *low = jf__py_lower(padded);
    cps tl = to_cps(low);
    free(low);
    cand *cs = NULL;
    size_t nc = 0, cap = 0;
#define ADD(L_, P_, PR_)                                                                                                   \
    do {                                                                                                               \
        if (nc == cap) {                                                                                               \
            cap = cap ? cap * 2 : 16;                                                                                  \
            cs = realloc(cs, cap * sizeof *cs);                                                                        \
        }                                                                                                              \
        cs[nc++] = (cand){(L_), (P_), (PR_)};                                                                          \
    } while (0)
    /* (A) 6, A. 5, A: 4, A) 3, "A " 2 */
    static const struct {
        const char *pre, *post;
        int prio;
    } forms[] = {{"(", ")", 6}, {"", ".", 5}, {"", ":", 4}, {"", ")", 3}, {"", " ", 2}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++)
        for (const char *ch = choices; *ch; ch++) {
            int32_t pat[4];
            size_t m = 0;
            if (forms[f].pre[0])
                pat[m++] = forms[f].pre[0];
            pat[m++] = *ch;
            pat[m++] = forms[f].post[0];
            long at = cps_find(&text, pat, m, 0, 1);
            if (at >= 0)
                ADD(*ch, at, forms[f].prio);
        }
    for (size_t p = 0; p < sizeof phrases / sizeof phrases[0]; p++) {
        cps ph = to_cps(phrases[p]);
        long idx = cps_find(&tl, ph.v, ph.n, 0, 0);
        if (idx >= 0) {
            size_t after = (size_t)idx + ph.n;
            for (const char *ch = choices; *ch; ch++) {
                int32_t c1 = *ch;
                long at = cps_find(&text, &c1, 1, after, 0);
                if (at >= 0)
                    ADD(*ch, at, 7);
            }
        }
        free(ph.v);
    }
    /* stripped = text.strip(): the padding (and any white space) off */
    size_t a = 0, b = text.n;
    while (a < b && jf__py_is_space(text.v[a]))
        a++;
    while (b > a && jf__py_is_space(text.v[b - 1]))
        b--;
    size_t sn = b - a;
    for (const char *ch = choices; *ch; ch++)
        if (sn && text.v[a] == *ch && (sn == 1 || !py_isalpha(text.v[a + 1])))
            ADD(*ch, 0, 10);
    for (const char *ch = choices; *ch; ch++)
        if (sn && text.v[b - 1] == *ch && (sn == 1 || !py_isalpha(text.v[b - 2])))
            ADD(*ch, (long)text.n - 1, 9);
    if (!nc)
        for (const char *ch = choices; *ch; ch++) {
            int32_t c1 = *ch;
            long at = cps_find(&text, &c1, 1, 0, 1);
            if (at >= 0)
                ADD(*ch, at, 0);
        }
#undef ADD
    /* sort by (priority, position) descending, stable: the first of the best */
    char best = 0;
    if (nc) {
        size_t bi = 0;
        for (size_t i = 1; i < nc; i++)
            if (cs[i].prio > cs[bi].prio || (cs[i].prio == cs[bi].prio && cs[i].pos > cs[bi].pos))
                bi = i;
        best = cs[bi].letter;
    }
    free(cs);
    free(text.v);
    free(tl.v);
    free(padded);
    return best;
}

/* ---- the aggregation ---- */

static int cmp_lrow(const void *x, const void *y)
{
    const lrow *a = x, *b = y;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void group_means(jf_bench_report *r, const char *prefix, lrow *rows, size_t n, int l2)
{
    const char **names = calloc(n + 1, sizeof *names);
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = l2 ? rows[i].l2 : rows[i].category;
        if (rows[i].index >= 1000000 || !g)
            continue; /* groupby drops NaN keys */
        size_t k = 0;
        while (k < nn && strcmp(names[k], g))
            k++;
        if (k == nn)
            names[nn++] = g;
    }
    for (size_t k = 0; k < nn; k++) {
        long h = 0, c = 0;
        for (size_t i = 0; i < n; i++) {
            const char *g = l2 ? rows[i].l2 : rows[i].category;
            if (rows[i].index < 1000000 && g && !strcmp(g, names[k])) {
                h += rows[i].hit;
                c++;
            }
        }
        char key[512];
        snprintf(key, sizeof key, "%s/%s", prefix, names[k]);
        jf__bench_metric(r, key, (double)h / (double)c);
    }
    free(names);
}

jf_status jf__score_mmbench_lmms(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    FILE *f = fopen(in->predictions, "r");
    if (!f)
        return jf_error_set(err, JF_ENOTFOUND, "%s: %s", in->predictions, strerror(errno));
    snprintf(r->split, sizeof r->split, "mmbench_en_dev_static");
    yajl_val *docs = NULL; /* the dicts, kept until their columns are typed */
    int *lines = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    int lineno = 0;
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        if (!line[strspn(line, " \t\r\n")])
            continue;
        char *clean = sanitize_nonfinite(line);
        char eb[256];
        yajl_val v = yajl_tree_parse(clean, eb, sizeof eb);
        free(clean);
        if (!v || !YAJL_IS_OBJECT(v)) {
            jf__bench_problem(r, "%s:%d: not a JSON object (lmms-eval's samples log has one per line)", in->predictions,
                              lineno);
            yajl_tree_free(v);
            continue;
        }
        const char *gp[] = {"gpt_eval_score", NULL};
        yajl_val g = yajl_tree_get(v, gp, yajl_t_object);
        const char *ip[] = {"index", NULL}, *pp[] = {"prediction", NULL};
        if (!g && yajl_tree_get(v, ip, yajl_t_any) && yajl_tree_get(v, pp, yajl_t_any))
            g = v; /* the dict itself, one per line */
        if (!g || !yajl_tree_get(g, ip, yajl_t_number) || !yajl_tree_get(g, pp, yajl_t_any)) {
            jf__bench_problem(r, "%s:%d: no \"gpt_eval_score\" dict with index and prediction (is this the samples log of "
                                 "an mmbench_en_dev task?)",
                              in->predictions, lineno);
            yajl_tree_free(v);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            docs = realloc(docs, cap * sizeof *docs);
            lines = realloc(lines, cap * sizeof *lines);
        }
        /* keep the whole line's tree; the dict is found again below */
        docs[n] = v;
        lines[n] = lineno;
        n++;
    }
    free(line);
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        for (size_t i = 0; i < n; i++)
            yajl_tree_free(docs[i]);
        free(docs);
        free(lines);
        return jf_error_set(err, JF_EIO, "%s: read error", in->predictions);
    }
    /* pandas' typing of the option columns: numbers with a null among them are floats */
    static const char *const optname[4] = {"A", "B", "C", "D"};
    int float_col[4] = {0};
    for (int k = 0; k < 4; k++) {
        int any_null = 0, all_num = 1, any_double = 0;
        for (size_t i = 0; i < n; i++) {
            const char *gp[] = {"gpt_eval_score", NULL}, *op[] = {optname[k], NULL};
            yajl_val g = yajl_tree_get(docs[i], gp, yajl_t_object);
            yajl_val o = yajl_tree_get(g ? g : docs[i], op, yajl_t_any);
            if (!o || YAJL_IS_NULL(o) || (YAJL_IS_DOUBLE(o) && isnan(o->u.number.d)))
                any_null = 1;
            else if (!YAJL_IS_NUMBER(o))
                all_num = 0;
            else if (YAJL_IS_DOUBLE(o))
                any_double = 1;
        }
        float_col[k] = all_num && (any_null || any_double);
    }
    lrow *rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const char *gp[] = {"gpt_eval_score", NULL};
        yajl_val g = yajl_tree_get(docs[i], gp, yajl_t_object);
        if (!g)
            g = docs[i];
        const char *ip[] = {"index", NULL}, *pp[] = {"prediction", NULL}, *ap[] = {"answer", NULL},
                   *cp[] = {"category", NULL}, *lp[] = {"L2-category", NULL}, *lp2[] = {"l2-category", NULL};
        yajl_val iv = yajl_tree_get(g, ip, yajl_t_number);
        rows[i].index = YAJL_IS_INTEGER(iv) ? iv->u.number.i : (long long)iv->u.number.d;
        char *p = value_text(yajl_tree_get(g, pp, yajl_t_any), 0);
        rows[i].prediction = p ? p : strdup(yajl_tree_get(g, pp, yajl_t_null) ? "None" : "nan"); /* str(x) */
        rows[i].answer = value_text(yajl_tree_get(g, ap, yajl_t_any), 0);
        rows[i].category = value_text(yajl_tree_get(g, cp, yajl_t_any), 0);
        yajl_val l2 = yajl_tree_get(g, lp, yajl_t_any);
        rows[i].l2 = value_text(l2 ? l2 : yajl_tree_get(g, lp2, yajl_t_any), 0);
        for (int k = 0; k < 4; k++) {
            const char *op[] = {optname[k], NULL};
            rows[i].opt[k] = value_text(yajl_tree_get(g, op, yajl_t_any), float_col[k]);
        }
        rows[i].line = lines[i];
        yajl_tree_free(docs[i]);
    }
    free(docs);
    free(lines);
    qsort(rows, n, sizeof *rows, cmp_lrow);
    for (size_t i = 1; i < n; i++)
        if (rows[i].index == rows[i - 1].index) {
            jf__bench_problem(r, "%s:%d: index %lld again (line %d): the tool's answer map keeps one of them",
                              in->predictions, rows[i].line, rows[i].index, rows[i - 1].line);
            r->duplicates++;
        }
    /* rows are sorted by index: the last of each run of equal indexes holds the dict's answer */
    for (size_t i = n; i-- > 0;)
        rows[i].gt = i + 1 < n && rows[i + 1].index == rows[i].index ? rows[i + 1].gt : rows[i].answer;
    long unread = 0, questions = 0, hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].index >= 1000000)
            continue;
        questions++;
        /* the rows of this question: index % 1e6 == its index, in index order */
        size_t nsub = 0, cap_sub = 8;
        lrow **sub = malloc(cap_sub * sizeof *sub);
        for (size_t j = 0; j < n; j++)
            if (rows[j].index % 1000000 == rows[i].index) {
                if (nsub == cap_sub)
                    sub = realloc(sub, (cap_sub *= 2) * sizeof *sub);
                sub[nsub++] = &rows[j];
            }
        char *pred = calloc(nsub + 1, 1);
        const char *why = "every rotation right";
        int hit = 1;
        for (size_t k = 0; k < nsub && hit; k++) {
            const char *gt = sub[k]->gt;
            pred[k] = prefetch(sub[k]);
            if (pred[k] && !(gt && gt[0] == pred[k] && !gt[1])) {
                hit = 0;
                why = "a prefetched letter is wrong";
            }
        }
        for (size_t k = 0; k < nsub && hit; k++) {
            if (pred[k])
                continue;
            const char *gt = sub[k]->gt;
            char ch[5] = {0};
            int m = 0;
            for (int o = 0; o < 4; o++)
                if (sub[k]->opt[o])
                    ch[m++] = (char)('A' + o);
            pred[k] = extract_mcq(sub[k]->prediction, ch);
            if (!pred[k]) {
                unread++;
                hit = 0;
                why = "no letter found";
            } else if (!(gt && gt[0] == pred[k] && !gt[1])) {
                hit = 0;
                why = "an extracted letter is wrong";
            }
        }
        for (size_t k = 0; k < nsub; k++)
            if (!pred[k])
                pred[k] = '-';
        rows[i].hit = hit;
        hits += hit;
        char id[32];
        snprintf(id, sizeof id, "%lld", rows[i].index);
        char parsed[96];
        snprintf(parsed, sizeof parsed, "%s (%s)", pred, why);
        jf__bench_item(r, id, rows[i].category ? rows[i].category : "", rows[i].prediction, parsed,
                       rows[i].answer ? rows[i].answer : "nan", hit);
        free(pred);
        free(sub);
    }
    double overall = questions ? (double)hits / (double)questions : NAN;
    jf__bench_metric(r, "gpt_eval_score", overall * 100);
    jf__bench_metric(r, "overall_acc", overall);
    group_means(r, "category_acc", rows, n, 0);
    group_means(r, "l2_category_acc", rows, n, 1);
    jf__bench_count(r, "no_letter", unread);
    snprintf(r->headline, sizeof r->headline, "gpt_eval_score");
    for (size_t i = 0; i < n; i++) {
        free(rows[i].prediction);
        free(rows[i].answer);
        free(rows[i].category);
        free(rows[i].l2);
        for (int k = 0; k < 4; k++)
            free(rows[i].opt[k]);
    }
    free(rows);
    return JF_OK;
}
