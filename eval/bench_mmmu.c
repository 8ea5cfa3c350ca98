/* MMMU scored as its repository's mmmu/main_parse_and_eval.py and main_eval_only.py do
 * (utils/eval_utils.py): the multiple-choice parser with its random fallback — CPython's random
 * seeded 42 when the module is imported, drawn in the order the responses are parsed — and the
 * open-answer parser with its number regexes (run here by PCRE2 with Unicode \d and \b, as
 * Python's re treats str patterns) and Python's float() rules. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bench_internal.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

/* ---- CPython's random (Modules/_randommodule.c) ---- */

static void mt_init_genrand(jf__pyrandom *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->i = 624;
}

void jf__pyrandom_seed(jf__pyrandom *r, uint32_t seed)
{
    /* random.seed(n) for a non-negative int below 2^32: init_by_array([n]) */
    uint32_t key[1] = {seed};
    int key_length = 1;
    mt_init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > key_length ? 624 : key_length; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
        if (j >= key_length)
            j = 0;
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u;
    r->i = 624;
}

static uint32_t mt_next(jf__pyrandom *r)
{
    if (r->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        r->i = 0;
    }
    uint32_t y = r->mt[r->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint32_t jf__pyrandom_getrandbits(jf__pyrandom *r, int k) { return mt_next(r) >> (32 - k); }

size_t jf__pyrandom_randbelow(jf__pyrandom *r, size_t n)
{
    int k = 0;
    while ((n >> k) && k < 32)
        k++; /* n.bit_length() */
    size_t x = jf__pyrandom_getrandbits(r, k);
    while (x >= n)
        x = jf__pyrandom_getrandbits(r, k);
    return x;
}

/* ---- Python's float() on a str ---- */

/* The value of a Unicode decimal digit: digits come in runs of ten from zero. */
static int digit_value(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    int32_t start = c;
    while (start > 0 && utf8proc_category(start - 1) == UTF8PROC_CATEGORY_ND)
        start--;
    return (int)((c - start) % 10);
}

/* float(s): white space stripped, Unicode digits as ASCII, an optional sign, then inf / infinity /
 * nan, or digits with single underscores between them, a fraction and an exponent. 0 with *out,
 * or -1 where Python raises ValueError. */
static int py_float(const char *s, double *out)
{
    size_t n = strlen(s);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int32_t c = jf__utf8_next(s, &i);
        if (jf__py_is_space(c))
            a[o++] = ' ';
        else if (jf__py_is_decimal(c))
            a[o++] = (char)('0' + digit_value(c));
        else if (c < 0x80)
            a[o++] = (char)c;
        else
            a[o++] = '\x01'; /* anything else fails */
    }
    a[o] = 0;
    char *p = a;
    while (*p == ' ')
        p++;
    size_t l = strlen(p);
    while (l && p[l - 1] == ' ')
        p[--l] = 0;
    int ok = 0;
    size_t q = 0, bo = 0;
    if (p[q] == '+' || p[q] == '-')
        b[bo++] = p[q++];
    if (!strcasecmp(p + q, "inf") || !strcasecmp(p + q, "infinity") || !strcasecmp(p + q, "nan")) {
        strcpy(b + bo, p + q);
        ok = 1;
    } else {
        /* digitpart: digit (["_"] digit)* */
        int digits = 0, prev_digit = 0, bad = 0;
#define DIGITPART()                                                                                                  \
    do {                                                                                                             \
        prev_digit = 0;                                                                                              \
        while ((p[q] >= '0' && p[q] <= '9') || (p[q] == '_' && prev_digit && p[q + 1] >= '0' && p[q + 1] <= '9')) {  \
            if (p[q] != '_') {                                                                                       \
                b[bo++] = p[q];                                                                                      \
                digits++;                                                                                            \
                prev_digit = 1;                                                                                      \
            } else                                                                                                   \
                prev_digit = 0;                                                                                      \
            q++;                                                                                                     \
        }                                                                                                            \
    } while (0)
        DIGITPART();
        int int_digits = digits;
        if (p[q] == '.') {
            b[bo++] = p[q++];
            DIGITPART();
        }
        if (!digits)
            bad = 1;
        (void)int_digits;
        if (!bad && (p[q] == 'e' || p[q] == 'E')) {
            b[bo++] = p[q++];
            if (p[q] == '+' || p[q] == '-')
                b[bo++] = p[q++];
            int before = digits;
            DIGITPART();
            if (digits == before)
                bad = 1;
        }
#undef DIGITPART
        b[bo] = 0;
        ok = !bad && p[q] == 0;
    }
    if (ok)
        *out = strtod(b, NULL);
    free(a);
    free(b);
    return ok ? 0 : -1;
}

/* A JSON string's text, "" for anything else. */
static const char *str_of(yajl_val v) { return YAJL_IS_STRING(v) && v->u.string ? v->u.string : ""; }

/* ---- the parsed predictions: strings and floats, as the tool's lists hold them ---- */

typedef struct pval {
    int is_num;
    double num;
    char *str;
} pval;

typedef struct plist {
    pval *v;
    size_t n;
} plist;

static void pl_add_str(plist *l, const char *s)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = (pval){0, 0, strdup(s)};
}

static void pl_add_num(plist *l, double x)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = (pval){1, x, NULL};
}

static void pl_free(plist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].str);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* normalize_str: a number (commas removed) rounded to 2 decimals; else lower case, a single
 * character padded with a space on either side (two entries). */
static void normalize_str(const char *string, plist *out)
{
    char *s = jf__py_strip(string, NULL);
    char *nc = jf__str_replace(s, ",", "");
    double x;
    if (py_float(nc, &x) == 0) {
        pl_add_num(out, jf__py_round(x, 2));
    } else {
        char *low = jf__py_lower(s);
        if (jf__utf8_count(low) == 1) {
            char a[16], b[16];
            snprintf(a, sizeof a, " %s", low);
            snprintf(b, sizeof b, "%s ", low);
            pl_add_str(out, a);
            pl_add_str(out, b);
        } else {
            pl_add_str(out, low);
        }
        free(low);
    }
    free(s);
    free(nc);
}

static pcre2_code *number_re[3];
static pthread_once_t number_once = PTHREAD_ONCE_INIT;

static void compile_numbers(void)
{
    static const char *const pat[3] = {"-?\\b\\d{1,3}(?:,\\d{3})+\\b", "-?\\d+(?:\\.\\d+)?[eE][+-]?\\d+",
                                       "-?(?:\\d+\\.\\d+|\\.\\d+|\\d+\\b)(?![eE][+-]?\\d+)(?![,\\d])"};
    for (int k = 0; k < 3; k++) {
        int ec;
        PCRE2_SIZE eo;
        number_re[k] = pcre2_compile((PCRE2_SPTR)pat[k], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec,
                                     &eo, NULL);
    }
}

/* extract_numbers: re.findall of the three patterns, in that order. */
static void extract_numbers(const char *s, plist *raw)
{
    pthread_once(&number_once, compile_numbers);
    size_t len = strlen(s);
    for (int k = 0; k < 3; k++) {
        if (!number_re[k])
            continue;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(number_re[k], NULL);
        PCRE2_SIZE off = 0;
        while (off <= len && pcre2_match(number_re[k], (PCRE2_SPTR)s, len, off, 0, md, NULL) >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            char *m = strndup(s + ov[0], ov[1] - ov[0]);
            pl_add_str(raw, m);
            free(m);
            off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        }
        pcre2_match_data_free(md);
    }
}

/* The text after the last occurrence of ind, stripped (str.split(ind)[-1].strip()). */
static char *after_last(const char *s, const char *ind)
{
    const char *last = NULL;
    for (const char *p = s; (p = strstr(p, ind)); p += strlen(ind))
        last = p;
    return jf__py_strip(last ? last + strlen(ind) : s, NULL);
}

/* parse_open_response. Its sentence split runs after lower-casing, so \.\s(?=[A-Z]) never
 * matches: responses split on new lines only. */
static void parse_open_response(const char *response, plist *out)
{
    char *a = jf__py_strip(response, NULL), *b = jf__py_strip(a, "."), *resp = jf__py_lower(b);
    free(a);
    free(b);
    static const char *const ind[] = {"could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ", "="};
    plist keys = {0};
    size_t n_lines = 1;
    for (const char *p = resp; *p; p++)
        n_lines += *p == '\n';
    char *line = resp;
    for (size_t li = 0; li < n_lines; li++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *shortest = NULL;
        size_t n_ind = li == n_lines - 1 ? 9 : 8;
        for (size_t k = 0; k < n_ind; k++) {
            if (!strstr(line, ind[k]))
                continue;
            char *cand = after_last(line, ind[k]);
            /* "if not shortest_key_response": an empty one counts as none */
            if (!shortest || !*shortest || jf__utf8_count(cand) < jf__utf8_count(shortest)) {
                free(shortest);
                shortest = cand;
            } else {
                free(cand);
            }
        }
        if (shortest && *shortest) {
            char *st = jf__py_strip(shortest, NULL);
            int trivial = strlen(st) == 1 && strchr(":,.!?;'", st[0]);
            if (!trivial)
                pl_add_str(&keys, shortest);
            free(st);
        }
        free(shortest);
        if (nl)
            line = nl + 1;
    }
    if (!keys.n)
        pl_add_str(&keys, resp);
    plist all = {0};
    for (size_t i = 0; i < keys.n; i++)
        pl_add_str(&all, keys.v[i].str);
    for (size_t i = 0; i < keys.n; i++)
        extract_numbers(keys.v[i].str, &all);
    for (size_t i = 0; i < all.n; i++)
        normalize_str(all.v[i].str, out); /* duplicates do not change the outcome (a set in the tool) */
    pl_free(&keys);
    pl_free(&all);
    free(resp);
}

/* eval_open: a gold string inside a predicted string, or a predicted number equal to a gold one. */
static int eval_open(yajl_val gold, const plist *pred)
{
    plist norm = {0};
    if (YAJL_IS_ARRAY(gold)) {
        for (size_t i = 0; i < gold->u.array.len; i++)
            if (YAJL_IS_STRING(gold->u.array.values[i]))
                normalize_str(YAJL_GET_STRING(gold->u.array.values[i]), &norm);
    } else if (YAJL_IS_STRING(gold)) {
        normalize_str(YAJL_GET_STRING(gold), &norm);
    }
    int correct = 0;
    for (size_t i = 0; i < pred->n && !correct; i++)
        for (size_t k = 0; k < norm.n && !correct; k++) {
            if (!pred->v[i].is_num && !norm.v[k].is_num)
                correct = strstr(pred->v[i].str, norm.v[k].str) != NULL;
            else if (pred->v[i].is_num && norm.v[k].is_num)
                correct = pred->v[i].num == norm.v[k].num;
        }
    pl_free(&norm);
    return correct;
}

/* lmms-eval's open questions: eval_open(gold, str(parsed[0])) iterates the characters of that
 * string, so a gold answer matches only as a substring of one character: the empty string, which is
 * what normalize_str makes of an empty (or all-blank) answer — a gold list's repr never is. The
 * first parsed element is the first of CPython's set order, which jf takes as the first parsed; it
 * only matters for an empty gold answer with a response that also parses to "". */
static int eval_open_first_as_text(yajl_val gold, const plist *pred)
{
    if (!YAJL_IS_STRING(gold) || !pred->n)
        return 0;
    plist norm = {0};
    normalize_str(YAJL_GET_STRING(gold), &norm);
    int empty_gold = 0;
    for (size_t k = 0; k < norm.n; k++)
        empty_gold |= !norm.v[k].is_num && !norm.v[k].str[0];
    pl_free(&norm);
    int first_nonempty = pred->v[0].is_num || pred->v[0].str[0];
    return empty_gold && first_nonempty;
}

/* parse_multi_choice_response: "(X)", then " X ", then (over five words) option texts; none:
 * random.choice(all_choices); several: the one found last. */
static char *parse_mc(const char *response, yajl_val all_choices, yajl_val index2ans, jf__pyrandom *rng, int *random_pick,
                      int lmms)
{
    char *r = strdup(response);
    const char *strip_chars[] = {",", ".", "!", "?", ";", ":", "'"};
    for (int k = 0; k < 7; k++) {
        char *x = jf__py_strip(r, strip_chars[k]);
        free(r);
        r = x;
    }
    size_t rl = strlen(r);
    char *resp = malloc(rl + 3);
    snprintf(resp, rl + 3, " %s ", r);
    free(r);
    size_t nc = YAJL_IS_ARRAY(all_choices) ? all_choices->u.array.len : 0;
    const char **cand = calloc(nc + (YAJL_IS_OBJECT(index2ans) ? index2ans->u.object.len : 0) + 1, sizeof *cand);
    size_t ncand = 0;
    int brack = 0, index_ans = 1;
    char buf[256];
    for (size_t i = 0; i < nc; i++) {
        const char *c = YAJL_GET_STRING(all_choices->u.array.values[i]);
        snprintf(buf, sizeof buf, "(%s)", c ? c : "");
        if (c && strstr(resp, buf)) {
            cand[ncand++] = c;
            brack = 1;
        }
    }
    /* lmms-eval's copy (_task_utils/mmmu_mcq_utils.py) looks for "X " without the leading space,
     * then for "X." */
    if (!ncand)
        for (size_t i = 0; i < nc; i++) {
            const char *c = YAJL_GET_STRING(all_choices->u.array.values[i]);
            snprintf(buf, sizeof buf, lmms ? "%s " : " %s ", c ? c : "");
            if (c && strstr(resp, buf))
                cand[ncand++] = c;
        }
    if (!ncand && lmms)
        for (size_t i = 0; i < nc; i++) {
            const char *c = YAJL_GET_STRING(all_choices->u.array.values[i]);
            snprintf(buf, sizeof buf, "%s.", c ? c : "");
            if (c && strstr(resp, buf))
                cand[ncand++] = c;
        }
    char **w;
    size_t nw = jf__py_split(resp, &w);
    jf__py_split_free(w, nw);
    char *low = jf__py_lower(resp);
    if (!ncand && nw > 5 && YAJL_IS_OBJECT(index2ans))
        for (size_t i = 0; i < index2ans->u.object.len; i++) {
            yajl_val a = index2ans->u.object.values[i];
            char *al = jf__py_lower(YAJL_IS_STRING(a) ? YAJL_GET_STRING(a) : "");
            if (strstr(low, al)) {
                cand[ncand++] = index2ans->u.object.keys[i];
                index_ans = 0;
            }
            free(al);
        }
    char *pick;
    *random_pick = 0;
    if (!ncand) {
        *random_pick = 1;
        size_t k = nc ? jf__pyrandom_randbelow(rng, nc) : 0;
        pick = strdup(nc ? str_of(all_choices->u.array.values[k]) : "");
    } else if (ncand > 1) {
        /* np.argmax over rfind positions (-1 when absent): the first largest */
        long best = -2;
        size_t bi = 0;
        for (size_t i = 0; i < ncand; i++) {
            const char *hay = resp;
            char needle[1024];
            if (index_ans)
                snprintf(needle, sizeof needle, brack ? "(%s)" : " %s ", cand[i]);
            else {
                const char *path[] = {cand[i], NULL};
                yajl_val a = yajl_tree_get(index2ans, path, yajl_t_string);
                char *al = jf__py_lower(a ? YAJL_GET_STRING(a) : "");
                snprintf(needle, sizeof needle, "%s", al);
                free(al);
                hay = low;
            }
            long pos = -1;
            for (const char *p = hay; (p = strstr(p, needle)); p++)
                pos = (long)(p - hay);
            if (!*needle)
                pos = (long)strlen(hay); /* rfind("") is the length */
            if (pos > best) {
                best = pos;
                bi = i;
            }
        }
        pick = strdup(cand[bi]);
    } else {
        pick = strdup(cand[0]);
    }
    free(low);
    free(resp);
    free(cand);
    return pick;
}

/* ---- the benchmark ---- */

static const char *const CATEGORIES[] = {
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design", "Diagnostics_and_Laboratory_Medicine",
    "Economics", "Electronics", "Energy_and_Power", "Finance", "Geography", "History", "Literature", "Manage",
    "Marketing", "Materials", "Math", "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology",
    "Public_Health", "Sociology"}; /* CAT_SHORT2LONG's order: --subject ALL */
static const struct {
    const char *name;
    const char *cats[8];
} DOMAINS[] = {
    {"Art and Design", {"Art", "Art_Theory", "Design", "Music"}},
    {"Business", {"Accounting", "Economics", "Finance", "Manage", "Marketing"}},
    {"Science", {"Biology", "Chemistry", "Geography", "Math", "Physics"}},
    {"Health and Medicine",
     {"Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health"}},
    {"Humanities and Social Science", {"History", "Literature", "Sociology", "Psychology"}},
    {"Tech and Engineering",
     {"Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics", "Energy_and_Power", "Materials",
      "Mechanical_Engineering"}},
};
#define N_CATS (sizeof CATEGORIES / sizeof CATEGORIES[0])

static const char *member_str(yajl_val o, const char *k)
{
    const char *p[] = {k, NULL};
    yajl_val v = YAJL_IS_OBJECT(o) ? yajl_tree_get(o, p, yajl_t_string) : NULL;
    return v ? YAJL_GET_STRING(v) : NULL;
}

static yajl_val member(yajl_val o, const char *k)
{
    const char *p[] = {k, NULL};
    return YAJL_IS_OBJECT(o) ? yajl_tree_get(o, p, yajl_t_any) : NULL;
}

/* calculate_ins_level_acc: Σ acc·num / Σ num in the given order, rounded to 3 as printed. */
static void add_level(jf_bench_report *r, const char *name, const double *acc, const long *num, const int *which, int n,
                      int digits)
{
    double a = 0;
    long ins = 0;
    for (int i = 0; i < n; i++) {
        a += acc[which[i]] * (double)num[which[i]];
        ins += num[which[i]];
    }
    char key[160];
    snprintf(key, sizeof key, "%s/acc", name);
    if (ins)
        jf__bench_metric(r, key, jf__py_round(a / (double)ins, digits));
    else
        jf__bench_count(r, key, 0); /* the int 0 the tool returns for no examples */
    snprintf(key, sizeof key, "%s/num", name);
    jf__bench_count(r, key, ins);
}

jf_status jf__score_mmmu(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    snprintf(r->split, sizeof r->split, "validation");
    double acc[N_CATS] = {0};
    long num[N_CATS] = {0};
    int have[N_CATS] = {0};
    /* lmms-eval (75571cf): the same parsers but its own multiple-choice copy, the fallback drawn from
     * Python's global random, which lmms-eval seeds with --seed (default 0) before the run (jf draws
     * from random.seed(0) in document order: subjects alphabetically, as the HF dataset is ordered);
     * only the first parsed open answer is kept, as a string, and eval_open then walks its
     * characters, so an open question is right only when its answer normalises to "" (the tool's
     * behaviour, reproduced); accuracies rounded to 5. */
    int lmms = in->protocol == JF_BENCH_LMMS_EVAL;
    jf__pyrandom rng;
    jf__pyrandom_seed(&rng, lmms ? 0 : 42); /* random.seed(42) when eval_utils is imported */
    long random_picks = 0;
    if (lmms && !jf__bench_is_dir(in->predictions))
        return jf_error_set(err, JF_EARG, "mmmu --protocol lmms-eval: --predictions names a folder of <Subject>/output.json "
                                          "(the responses with their options)");
    if (jf__bench_is_dir(in->predictions)) {
        /* main_parse_and_eval.py --subject ALL: PATH/<Category>/output.json, subjects in order */
        for (size_t c = 0; c < N_CATS; c++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/output.json", in->predictions, CATEGORIES[c]);
            FILE *f = fopen(path, "r");
            if (!f)
                continue; /* "Skipping <category> for not found" */
            fclose(f);
            yajl_val outs = jf__bench_read_json(path, err);
            if (!outs)
                return err->code;
            long correct = 0, n = 0;
            for (size_t i = 0; YAJL_IS_ARRAY(outs) && i < outs->u.array.len; i++) {
                yajl_val o = outs->u.array.values[i];
                const char *id = member_str(o, "id"), *qt = member_str(o, "question_type");
                const char *response = member_str(o, "response");
                if (!id || !qt || !response) {
                    jf__bench_problem(r, "%s: entry %zu needs id, question_type and a response string (the tool stops)", path, i);
                    continue;
                }
                int ok;
                char *parsed;
                if (!strcmp(qt, "multiple-choice")) {
                    int rnd;
                    parsed = parse_mc(response, member(o, "all_choices"), member(o, "index2ans"), &rng, &rnd, lmms);
                    random_picks += rnd;
                    yajl_val gold = member(o, "answer");
                    ok = 0;
                    if (YAJL_IS_ARRAY(gold) && lmms) {
                        ok = 0; /* the dataset's answer is a string: a list's repr never equals a letter */
                    } else if (YAJL_IS_ARRAY(gold)) {
                        for (size_t k = 0; k < gold->u.array.len; k++)
                            ok |= YAJL_IS_STRING(gold->u.array.values[k]) && !strcmp(str_of(gold->u.array.values[k]), parsed);
                    } else {
                        ok = YAJL_IS_STRING(gold) && !strcmp(str_of(gold), parsed);
                    }
                    if (rnd) {
                        char *np = malloc(strlen(parsed) + 20);
                        sprintf(np, "%s (random pick)", parsed);
                        free(parsed);
                        parsed = np;
                    }
                } else {
                    plist pl = {0};
                    parse_open_response(response, &pl);
                    ok = lmms ? eval_open_first_as_text(member(o, "answer"), &pl) : eval_open(member(o, "answer"), &pl);
                    size_t cap = 64, len = 0;
                    parsed = malloc(cap);
                    parsed[0] = 0;
                    for (size_t k = 0; k < pl.n; k++) {
                        char one[1100];
                        if (pl.v[k].is_num)
                            jf__py_repr(pl.v[k].num, one, sizeof one);
                        else
                            snprintf(one, sizeof one, "'%s'", pl.v[k].str);
                        while (len + strlen(one) + 3 > cap)
                            parsed = realloc(parsed, cap *= 2);
                        len += (size_t)sprintf(parsed + len, "%s%s", k ? ", " : "", one);
                    }
                    pl_free(&pl);
                }
                yajl_val gold = member(o, "answer");
                const char *gs = YAJL_IS_STRING(gold) ? YAJL_GET_STRING(gold) : "(list)";
                jf__bench_item(r, id, CATEGORIES[c], response, parsed, gs, ok);
                free(parsed);
                correct += ok;
                n++;
            }
            yajl_tree_free(outs);
            acc[c] = n ? (double)correct / (double)n : 0;
            num[c] = n;
            have[c] = 1;
        }
    } else {
        /* main_eval_only.py: OUTPUT.json {id: parsed choice | response} with --data answer_dict */
        if (!in->data)
            return jf_error_set(err, JF_EARG, "mmmu: --data names answer_dict_val.json when --predictions is one file");
        yajl_val outs = jf__bench_read_json(in->predictions, err);
        if (!outs)
            return err->code;
        yajl_val ans = jf__bench_read_json(in->data, err);
        if (!ans) {
            yajl_tree_free(outs);
            return err->code;
        }
        long correct[N_CATS] = {0};
        for (size_t i = 0; YAJL_IS_OBJECT(outs) && i < outs->u.object.len; i++) {
            const char *id = outs->u.object.keys[i];
            /* the category: the id between its first and last "_" */
            const char *a = strchr(id, '_'), *b = strrchr(id, '_');
            char cat[256] = "";
            if (a && b > a)
                snprintf(cat, sizeof cat, "%.*s", (int)(b - a - 1), a + 1);
            size_t c = 0;
            while (c < N_CATS && strcmp(CATEGORIES[c], cat))
                c++;
            yajl_val gold_entry = member(ans, id);
            if (c == N_CATS || !gold_entry) {
                jf__bench_problem(r, "%s: %s is not in %s (the tool stops); not scored", in->predictions, id, in->data);
                r->unknown++;
                continue;
            }
            const char *qt = member_str(gold_entry, "question_type");
            yajl_val gold = member(gold_entry, "ground_truth");
            yajl_val pv = outs->u.object.values[i];
            int ok = 0;
            char shown[2048] = "";
            if (qt && !strcmp(qt, "multiple-choice")) {
                const char *p = YAJL_IS_STRING(pv) ? YAJL_GET_STRING(pv) : "";
                snprintf(shown, sizeof shown, "%s", p);
                if (YAJL_IS_ARRAY(gold)) {
                    for (size_t k = 0; k < gold->u.array.len; k++)
                        ok |= YAJL_IS_STRING(gold->u.array.values[k]) && !strcmp(str_of(gold->u.array.values[k]), p);
                } else {
                    ok = YAJL_IS_STRING(gold) && !strcmp(str_of(gold), p);
                }
            } else {
                plist pl = {0};
                const char *p = YAJL_IS_STRING(pv) ? YAJL_GET_STRING(pv) : "";
                snprintf(shown, sizeof shown, "%s", p);
                parse_open_response(p, &pl);
                ok = eval_open(gold, &pl);
                pl_free(&pl);
            }
            jf__bench_item(r, id, cat, shown, shown, YAJL_IS_STRING(gold) ? YAJL_GET_STRING(gold) : "(list)", ok);
            correct[c] += ok;
            num[c]++;
            have[c] = 1;
        }
        for (size_t c = 0; c < N_CATS; c++)
            acc[c] = num[c] ? (double)correct[c] / (double)num[c] : 0;
        yajl_tree_free(outs);
        yajl_tree_free(ans);
    }
    /* per subject (result.json's acc), per domain and overall (main_eval_only's rounding to 3) */
    int idx[N_CATS], n_idx = 0;
    for (size_t d = 0; d < sizeof DOMAINS / sizeof DOMAINS[0]; d++) {
        int which[8], nw = 0;
        for (int k = 0; k < 8 && DOMAINS[d].cats[k]; k++)
            for (size_t c = 0; c < N_CATS; c++)
                if (have[c] && !strcmp(CATEGORIES[c], DOMAINS[d].cats[k]))
                    which[nw++] = (int)c;
        char name[128];
        snprintf(name, sizeof name, "Overall-%s", DOMAINS[d].name);
        add_level(r, name, acc, num, which, nw, lmms ? 5 : 3);
    }
    for (size_t c = 0; c < N_CATS; c++)
        if (have[c]) {
            char key[160];
            snprintf(key, sizeof key, "%s/acc", CATEGORIES[c]);
            jf__bench_metric(r, key, lmms ? jf__py_round(acc[c], 5) : acc[c]);
            snprintf(key, sizeof key, "%s/num", CATEGORIES[c]);
            jf__bench_count(r, key, num[c]);
            idx[n_idx++] = (int)c;
        }
    add_level(r, "Overall", acc, num, idx, n_idx, lmms ? 5 : 3);
    if (lmms && r->n_metrics >= 2) { /* what the task returns: Overall's acc, printed alike */
        size_t overall = r->n_metrics - 2;
        jf__bench_metric(r, "mmmu_acc", r->metrics[overall].value);
        memcpy(r->metrics[r->n_metrics - 1].text, r->metrics[overall].text, sizeof r->metrics[overall].text);
    }
    jf__bench_count(r, "random_picks", random_picks);
    snprintf(r->headline, sizeof r->headline, lmms ? "mmmu_acc" : "Overall/acc");
    return JF_OK;
}
