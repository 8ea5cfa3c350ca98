/* Multiple-choice benchmarks: MMBench and SEED-Bench scored as VLMEvalKit scores them with its
 * exact-matching policy (no GPT judge is run: an answer its rules cannot map to an option counts
 * as wrong, and the report says so), circular (MMBench: every rotation of the options must be
 * answered right) and vanilla; and SEED-Bench as LLaVA's convert_seed_for_submission.py scores it.
 *
 * VLMEvalKit reads its files with pandas, and what pandas makes of a cell decides some answers: an
 * empty cell or one of its NA words ("NA", "null", …; "None" too from pandas 2.0, whose list jf
 * follows — Debian 12's pandas 1.5 reads "None" as text) is NaN (an option that is NaN does
 * not exist; a prediction that is NaN is the text "nan"), and a column whose every value is a
 * number becomes numbers (option 5 reads "5", or "5.0" in a column with NaN). Both are
 * reproduced. */
#include "bench_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a TSV as pandas.read_csv(sep='\t') reads it ---- */

typedef jf__table table;

/* One field at *p: quoted ("" for a quote) when it starts with a quote; ends at a tab or a line
 * end outside quotes. */
static char *next_field(const char **p, int *eol)
{
    const char *s = *p;
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    if (*s == '"') {
        s++;
        for (;;) {
            if (!*s)
                break;
            if (*s == '"') {
                if (s[1] == '"') {
                    s += 2;
                    if (n + 2 > cap)
                        out = realloc(out, cap *= 2);
                    out[n++] = '"';
                    continue;
                }
                s++;
                break;
            }
            if (n + 2 > cap)
                out = realloc(out, cap *= 2);
            out[n++] = *s++;
        }
        /* anything after the closing quote up to the separator is kept, as pandas does */
    }
    while (*s && *s != '\t' && *s != '\n' && !(*s == '\r' && s[1] == '\n')) {
        if (n + 2 > cap)
            out = realloc(out, cap *= 2);
        out[n++] = *s++;
    }
    out[n] = 0;
    *eol = *s != '\t';
    if (*s == '\t')
        s++;
    else if (*s == '\r')
        s += 2;
    else if (*s == '\n')
        s++;
    *p = s;
    return out;
}

int jf__read_tsv(const char *path, table *t, jf_error *err)
{
    memset(t, 0, sizeof *t);
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    if (jf__bench_is_dir(path)) {
        jf_error_set(err, JF_EFORMAT, "%s is a folder, not a TSV file", path);
        return -1;
    }
    if (jf__eval_read_file(path, &buf, &cap, &len) != 0) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf[len] = 0;
    const char *p = (const char *)buf;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    int eol = 0;
    while (*p && !eol) {
        t->names = realloc(t->names, (size_t)(t->n_cols + 1) * sizeof *t->names);
        t->names[t->n_cols++] = next_field(&p, &eol);
    }
    size_t rcap = 0;
    while (*p) {
        if (*p == '\n') { /* pandas skips blank lines */
            p++;
            continue;
        }
        char **row = calloc((size_t)t->n_cols, sizeof *row);
        int c = 0;
        eol = 0;
        while (!eol && *p) {
            char *f = next_field(&p, &eol);
            if (c < t->n_cols)
                row[c] = f;
            else
                free(f);
            c++;
        }
        if (t->n_rows == rcap) {
            rcap = rcap ? rcap * 2 : 256;
            t->rows = realloc(t->rows, rcap * sizeof *t->rows);
        }
        t->rows[t->n_rows++] = row;
    }
    free(buf);
    return 0;
}

void jf__free_table(table *t)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++)
            free(t->rows[r][c]);
        free(t->rows[r]);
    }
    for (int c = 0; c < t->n_cols; c++)
        free(t->names[c]);
    free(t->rows);
    free(t->names);
}

int jf__col_index(const table *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (!strcasecmp(t->names[c], name))
            return c;
    return -1;
}

/* pandas' default NA words */
int jf__pandas_na(const char *s)
{
    static const char *const na[] = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                                     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"};
    if (!s)
        return 1;
    for (size_t i = 0; i < sizeof na / sizeof na[0]; i++)
        if (!strcmp(s, na[i]))
            return 1;
    return 0;
}

/* A number as pandas' parser takes one: optional sign, digits, fraction, exponent, spaces around. */
static int numeric(const char *s, int *is_int, double *v)
{
    char *end;
    while (*s == ' ')
        s++;
    if (!*s)
        return 0;
    *v = strtod(s, &end);
    if (end == s)
        return 0;
    while (*end == ' ')
        end++;
    if (*end)
        return 0;
    /* hex, inf, nan spellings that strtod takes but the C parser of pandas does not */
    for (const char *q = s; *q; q++)
        if ((*q == 'x' || *q == 'X') || (*q == 'i' || *q == 'I' || *q == 'n' || *q == 'N'))
            return 0;
    *is_int = !strpbrk(s, ".eE");
    return 1;
}

/* The text VLMEvalKit sees of each cell of a column: str() of what pandas made of it. NULL for NaN
 * (the caller decides: no option, or "nan"). */
static char **column_texts(const table *t, int c)
{
    char **out = calloc(t->n_rows ? t->n_rows : 1, sizeof *out);
    if (c < 0)
        return out;
    /* a column of integers without NaN is int64, else uint64 (no negative values); one past both
     * stays text (object: each cell as the file has it); with NaN or a non-integer it is float64 */
    int all_num = 1, all_int = 1, any_na = 0, any_neg = 0, past_int64 = 0, past_uint64 = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        const char *s = t->rows[r][c];
        if (jf__pandas_na(s)) {
            any_na = 1;
            continue;
        }
        int ii;
        double v;
        if (!numeric(s, &ii, &v)) {
            all_num = 0;
            break;
        }
        if (ii) {
            errno = 0;
            (void)strtoll(s, NULL, 10);
            if (errno == ERANGE) {
                errno = 0;
                (void)strtoull(s, NULL, 10);
                if (errno == ERANGE || strchr(s, '-'))
                    past_uint64 = 1;
                else
                    past_int64 = 1;
            }
            any_neg |= strchr(s, '-') != NULL;
        }
        all_int &= ii;
    }
    if (all_num && all_int && !any_na && (past_uint64 || (past_int64 && any_neg)))
        all_num = 0; /* pandas keeps such a column as text */
    for (size_t r = 0; r < t->n_rows; r++) {
        const char *s = t->rows[r][c];
        if (jf__pandas_na(s))
            continue;
        if (!all_num) {
            out[r] = strdup(s);
            continue;
        }
        int ii;
        double v;
        numeric(s, &ii, &v);
        char buf[64];
        if (all_int && !any_na && past_int64)
            snprintf(buf, sizeof buf, "%llu", strtoull(s, NULL, 10));
        else if (all_int && !any_na)
            snprintf(buf, sizeof buf, "%lld", strtoll(s, NULL, 10));
        else
            jf__py_repr(v, buf, sizeof buf);
        out[r] = strdup(buf);
    }
    return out;
}

static void free_texts(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- VLMEvalKit's can_infer (vlmeval/utils/matching_util.py) ---- */

typedef struct choice {
    char letter[2];
    const char *text;
} choice;

/* The letter, "Z", or "" when nothing can be inferred. */
static const char *can_infer(const char *answer, const choice *ch, int nch, char out[2])
{
    out[0] = out[1] = 0;
    if (strstr(answer, "Failed to obtain answer via API"))
        return out;
    static const char *const reject[] = {"Sorry, I can't help with images of people yet.", "I can't process this file.",
                                         "I'm sorry, but without the image provided", "Cannot determine the answer"};
    for (int k = 0; k < 4; k++)
        if (strstr(answer, reject[k])) {
            out[0] = 'Z';
            return out;
        }
    char *mod = strdup(answer);
    for (char *q = mod; *q; q++)
        if (strchr(".()[],:;!*#{}", *q))
            *q = ' ';
    char **sp;
    size_t ns = jf__py_split(mod, &sp);
    free(mod);
    int count = 0;
    for (int k = 0; k < nch; k++)
        for (size_t i = 0; i < ns; i++)
            if (!strcmp(sp[i], ch[k].letter)) {
                count++;
                break;
            }
    int z = 0;
    for (size_t i = 0; i < ns; i++)
        z |= !strcmp(sp[i], "Z");
    if (count == 1) {
        for (int k = 0; k < nch && !out[0]; k++)
            for (size_t i = 0; i < ns; i++)
                if (!strcmp(sp[i], ch[k].letter)) { /* the first occurrence, among the last four tokens */
                    if ((long)i > (long)ns - 5)
                        out[0] = ch[k].letter[0];
                    break;
                }
    } else if (count == 0 && z) {
        out[0] = 'Z';
    }
    jf__py_split_free(sp, ns);
    if (out[0])
        return out;
    /* (?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**: re.search, the first place it matches */
    char *low = jf__py_lower(answer);
    for (const char *p = low; (p = strstr(p, "answer")); p++) {
        const char *q = p + 6;
        if (!jf__py_is_space((unsigned char)*q))
            continue;
        while (jf__py_is_space((unsigned char)*q))
            q++;
        if (strncmp(q, "is", 2))
            continue;
        q += 2;
        if (!jf__py_is_space((unsigned char)*q))
            continue;
        while (jf__py_is_space((unsigned char)*q))
            q++;
        while (*q == '*')
            q++;
        if (*q < 'a' || *q > 'd')
            continue;
        char L = (char)(*q - 'a' + 'A');
        for (int k = 0; k < nch; k++)
            if (ch[k].letter[0] == L)
                out[0] = L;
        if (out[0]) {
            free(low);
            return out;
        }
        break; /* matched, but not an option: can_infer_option gives up here */
    }
    /* can_infer_text: not longer than twice the options' text; exactly one option inside */
    size_t total = 0;
    for (int k = 0; k < nch; k++)
        total += jf__utf8_count(ch[k].text);
    if (jf__utf8_count(low) <= 2 * total) {
        int cands = 0;
        char L = 0;
        for (int k = 0; k < nch; k++) {
            char *ol = jf__py_lower(ch[k].text);
            if (strstr(low, ol)) {
                cands++;
                L = ch[k].letter[0];
            }
            free(ol);
        }
        if (cands == 1)
            out[0] = L;
    }
    free(low);
    return out;
}

/* ---- the rows ---- */

typedef struct mrow {
    long index, g_index;
    const char *prediction, *answer, *category, *l2, *split;
    choice ch[26];
    int nch;
    int hit;
    char inferred[2];
} mrow;

static int cmp_index(const void *a, const void *b)
{
    const mrow *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* report_acc: per split, Overall and each l2-category / category (sorted; MMBench's abbreviations). */
static void report_acc(jf_bench_report *r, const char *prefix, mrow *rows, size_t n, const int *use)
{
    static const char *const abbr[][2] = {{"coarse_perception", "CP"},
                                          {"finegrained_perception (instance-level)", "FP-S"},
                                          {"finegrained_perception (cross-instance)", "FP-C"},
                                          {"logic_reasoning", "LR"},
                                          {"relation_reasoning", "RR"},
                                          {"attribute_reasoning", "AR"}};
    /* the splits (a set in the tool: its order does not change the numbers) */
    const char *splits[16];
    int nsp = 0;
    for (size_t i = 0; i < n; i++) {
        if (!use[i])
            continue;
        const char *s = rows[i].split ? rows[i].split : "none";
        int seen = 0;
        for (int k = 0; k < nsp; k++)
            seen |= !strcmp(splits[k], s);
        if (!seen && nsp < 16)
            splits[nsp++] = s;
    }
    for (int k = 0; k < nsp; k++) {
        long hits = 0, cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (use[i] && !strcmp(rows[i].split ? rows[i].split : "none", splits[k])) {
                hits += rows[i].hit;
                cnt++;
            }
        char name[256];
        snprintf(name, sizeof name, "%s%s/Overall", prefix, splits[k]);
        jf__bench_metric(r, name, cnt ? (double)hits / (double)cnt : NAN);
        for (int g = 0; g < 2; g++) {
            /* the abilities of this group, sorted */
            const char **ab = malloc((n + 1) * sizeof *ab);
            size_t na = 0;
            for (size_t i = 0; i < n; i++) {
                const char *a = g == 0 ? rows[i].l2 : rows[i].category;
                if (!use[i] || !a)
                    continue;
                int seen = 0;
                for (size_t q = 0; q < na; q++)
                    seen |= !strcmp(ab[q], a);
                if (!seen)
                    ab[na++] = a;
            }
            for (size_t x = 1; x < na; x++)
                for (size_t y = x; y > 0 && strcmp(ab[y - 1], ab[y]) > 0; y--) {
                    const char *tmp = ab[y];
                    ab[y] = ab[y - 1];
                    ab[y - 1] = tmp;
                }
            for (size_t q = 0; q < na; q++) {
                long h = 0, c = 0;
                for (size_t i = 0; i < n; i++) {
                    const char *a = g == 0 ? rows[i].l2 : rows[i].category;
                    if (use[i] && a && !strcmp(a, ab[q]) && !strcmp(rows[i].split ? rows[i].split : "none", splits[k])) {
                        h += rows[i].hit;
                        c++;
                    }
                }
                const char *shown = ab[q];
                for (size_t z = 0; z < sizeof abbr / sizeof abbr[0]; z++)
                    if (!strcmp(abbr[z][0], ab[q]))
                        shown = abbr[z][1];
                snprintf(name, sizeof name, "%s%s/%s", prefix, splits[k], shown);
                jf__bench_metric(r, name, c ? (double)h / (double)c : NAN);
            }
            free(ab);
        }
    }
}

jf_status jf__score_mcq_vlmevalkit(const jf_bench_inputs *in, jf__mcq_mode mode, jf_bench_report *r, jf_error *err)
{
    int circular = mode == JF__MCQ_CIRCULAR, mmmu = mode == JF__MCQ_MMMU;
    table t;
    if (jf__read_tsv(in->predictions, &t, err))
        return err->code;
    int ci = jf__col_index(&t, "index"), cp = jf__col_index(&t, "prediction"), ca = jf__col_index(&t, "answer");
    if (ci < 0 || cp < 0) {
        jf__free_table(&t);
        return jf_error_set(err, JF_EFORMAT, "%s: needs the columns index and prediction (VLMEvalKit's prediction TSV)",
                            in->predictions);
    }
    if (mmmu && ca < 0) {
        jf__free_table(&t);
        return jf_error_set(err, JF_EFORMAT, "%s: needs an answer column (VLMEvalKit's MMMU_preproc reads it from the "
                                             "prediction file)",
                            in->predictions);
    }
    /* answers: from --data (the benchmark TSV, as VLMEvalKit's meta) or the file's own column */
    table meta = {0};
    int have_meta = in->data != NULL;
    if (have_meta && jf__read_tsv(in->data, &meta, err)) {
        jf__free_table(&t);
        return err->code;
    }
    char **pred = column_texts(&t, cp), **ans = column_texts(&t, ca), **opt[26];
    for (int k = 0; k < 26; k++) {
        char nm[2] = {(char)('A' + k), 0};
        int c = -1;
        for (int q = 0; q < t.n_cols; q++)
            if (!strcmp(t.names[q], nm)) /* option columns keep their capital */
                c = q;
        opt[k] = c >= 0 ? column_texts(&t, c) : NULL;
    }
    long reformulated = 0;
    if (mmmu) {
        /* MMMU_preproc: an open question (no option A) becomes "A: its answer, B: Other Answers" */
        for (int k = 0; k < 2; k++)
            if (!opt[k])
                opt[k] = calloc(t.n_rows ? t.n_rows : 1, sizeof *opt[k]);
        for (size_t i = 0; i < t.n_rows; i++)
            if (!opt[0][i]) {
                opt[0][i] = ans[i] ? strdup(ans[i]) : NULL;
                free(opt[1][i]);
                opt[1][i] = strdup("Other Answers");
                reformulated++;
            }
    }
    char **cat = column_texts(&t, jf__col_index(&t, "category")), **l2 = column_texts(&t, jf__col_index(&t, "l2-category")),
         **split = column_texts(&t, jf__col_index(&t, "split"));
    mrow *rows = calloc(t.n_rows ? t.n_rows : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < t.n_rows; i++) {
        const char *ix = t.rows[i][ci];
        char *end;
        long idx = ix ? strtol(ix, &end, 10) : 0;
        if (!ix || *end) {
            jf__bench_problem(r, "%s: row %zu: index '%s' is not an integer (VLMEvalKit stops)", in->predictions, i + 2,
                              ix ? ix : "");
            continue;
        }
        mrow *m = &rows[n];
        m->index = idx;
        m->g_index = idx % 1000000;
        m->prediction = pred[i] ? pred[i] : "nan";
        m->answer = ans[i];
        if (have_meta) {
            int mi = jf__col_index(&meta, "index"), ma = jf__col_index(&meta, "answer");
            m->answer = NULL;
            for (size_t q = 0; mi >= 0 && ma >= 0 && q < meta.n_rows; q++)
                if (meta.rows[q][mi] && strtol(meta.rows[q][mi], NULL, 10) == idx)
                    m->answer = meta.rows[q][ma];
            if (!m->answer) {
                jf__bench_problem(r, "%s: index %ld is not in %s; left out (as VLMEvalKit keeps only the meta's rows)",
                                  in->predictions, idx, in->data);
                r->unknown++;
                continue;
            }
        }
        if (mmmu && !(m->answer && m->answer[0] >= 'A' && m->answer[0] <= 'Z' && !m->answer[1]))
            m->answer = "A"; /* an open question's gold is "A" after MMMU_preproc (NaN included) */
        if (!m->answer) {
            jf__bench_problem(r, "%s: row %zu has no answer", in->predictions, i + 2);
            continue;
        }
        m->category = cat[i];
        m->l2 = l2[i];
        m->split = split[i];
        for (int k = 0; k < 26; k++)
            if (opt[k] && opt[k][i]) {
                m->ch[m->nch].letter[0] = (char)('A' + k);
                m->ch[m->nch].text = opt[k][i];
                m->nch++;
            }
        n++;
    }
    qsort(rows, n, sizeof *rows, cmp_index);
    snprintf(r->split, sizeof r->split, "%s", circular ? (n && rows[0].split ? rows[0].split : "?") : mmmu ? "MMMU_DEV_VAL" : "SEEDBench_IMG");
    for (size_t i = 0; i < n; i++)
        can_infer(rows[i].prediction, rows[i].ch, rows[i].nch, rows[i].inferred);
    int *use = calloc(n ? n : 1, sizeof *use);
    long unmatched = 0;
    if (circular) {
        /* each question (index == g_index) with its rotations: 1 only if every one is inferred and
         * right; a wrong inferred answer ends the group at 0; one not inferred is 0 here (its GPT
         * judge is not run) */
        for (size_t i = 0; i < n; i++) {
            if (rows[i].index != rows[i].g_index)
                continue;
            use[i] = 1;
            int all = 1, wrong = 0, any_unknown = 0;
            for (size_t k = 0; k < n; k++) {
                if (rows[k].g_index != rows[i].index)
                    continue;
                if (rows[k].inferred[0] && strcmp(rows[k].inferred, rows[k].answer))
                    wrong = 1;
                if (!rows[k].inferred[0])
                    any_unknown = 1;
                all &= rows[k].inferred[0] && !strcmp(rows[k].inferred, rows[k].answer);
            }
            rows[i].hit = !wrong && all;
            unmatched += !wrong && any_unknown;
            char id[32];
            snprintf(id, sizeof id, "%ld", rows[i].index);
            jf__bench_item(r, id, rows[i].category ? rows[i].category : "", rows[i].prediction, rows[i].inferred, rows[i].answer,
                           rows[i].hit);
        }
        report_acc(r, "", rows, n, use);
        /* vanilla on the first pass only (circ0), as PRINT_VANILLA=1 reports it */
        for (size_t i = 0; i < n; i++) {
            use[i] = rows[i].index == rows[i].g_index;
            rows[i].hit = !strcmp(rows[i].inferred[0] ? rows[i].inferred : "Z", rows[i].answer);
        }
        report_acc(r, "vanilla/", rows, n, use);
        snprintf(r->headline, sizeof r->headline, "%s/Overall", n && rows[0].split ? rows[0].split : "none");
    } else {
        for (size_t i = 0; i < n; i++) {
            use[i] = 1;
            const char *opt1 = rows[i].inferred[0] ? rows[i].inferred : "Z"; /* exact matching: "Z" */
            rows[i].hit = !strcmp(opt1, rows[i].answer);
            unmatched += !rows[i].inferred[0];
            char id[32];
            snprintf(id, sizeof id, "%ld", rows[i].index);
            jf__bench_item(r, id, rows[i].category ? rows[i].category : "", rows[i].prediction, opt1, rows[i].answer,
                           rows[i].hit);
        }
        report_acc(r, "", rows, n, use);
        snprintf(r->headline, sizeof r->headline, "%s/Overall", n && rows[0].split ? rows[0].split : "none");
    }
    jf__bench_count(r, "not_matched", unmatched);
    if (mmmu)
        jf__bench_count(r, "open_reformulated", reformulated);
    if (unmatched)
        jf__bench_problem(r, "%ld %s answers matched no option by VLMEvalKit's rules and count as wrong: its GPT judge "
                             "(the default there) is not run — these numbers are its exact_matching ones",
                          unmatched, circular ? "questions had" : "");
    free(use);
    free(rows);
    free_texts(pred, t.n_rows);
    free_texts(ans, t.n_rows);
    for (int k = 0; k < 26; k++)
        if (opt[k])
            free_texts(opt[k], t.n_rows);
    free_texts(cat, t.n_rows);
    free_texts(l2, t.n_rows);
    free_texts(split, t.n_rows);
    jf__free_table(&t);
    if (have_meta)
        jf__free_table(&meta);
    return JF_OK;
}

/* ---- GQA_TestDev_Balanced as VLMEvalKit scores it (image_vqa.py, utils/vqa_eval.py) ---- */

/* numpy's pairwise summation of float64 (np.add.reduce on a contiguous array, under 8192 items:
 * the first item, plus the pairwise sum of the rest), which np.mean divides by n. */
static double np_pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0.;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8], s;
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += a[i];
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return np_pairwise(a, n2) + np_pairwise(a + n2, n - n2);
}

static double np_mean(const double *a, size_t n)
{
    if (!n)
        return NAN;
    double s = 0;
    /* numpy reduces in buffers of 8192: each buffer's pairwise sum is added to the running value */
    for (size_t at = 0; at < n; at += 8192) {
        size_t len = n - at < 8192 ? n - at : 8192;
        s = at ? s + np_pairwise(a + at, len) : a[0] + np_pairwise(a + 1, len - 1);
    }
    return s / (double)n;
}

/* A Python list literal of quoted strings, as eval() reads it (escapes \\ \' \" \n \t \r): 1 if s
 * is one (items in *out), 0 if it is not a list, -1 if it looks like one that jf cannot read. */
int jf__py_string_list(const char *s, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '[')
        return 0;
    const char *p = s + 1;
    size_t cap = 0;
    char **v = NULL;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ']')
            break;
        char q = *p;
        if (q != '\'' && q != '"')
            goto fail;
        p++;
        char *item = malloc(strlen(p) + 1);
        size_t k = 0;
        while (*p && *p != q) {
            if (*p == '\\' && p[1] && strchr("\\'\"", p[1])) {
                p++;
            } else if (*p == '\\' && p[1] && strchr("ntr", p[1])) {
                item[k++] = p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : '\r';
                p += 2;
                continue;
            } else if (*p == '\\') {
                free(item);
                goto fail;
            }
            item[k++] = *p++;
        }
        item[k] = 0;
        if (*p != q) {
            free(item);
            goto fail;
        }
        p++;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            v = realloc(v, cap * sizeof *v);
        }
        v[(*n)++] = item;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p != ']')
            goto fail;
    }
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        goto fail;
    *out = v;
    return 1;
fail:
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    *n = 0;
    return -1;
}

jf_status jf__score_gqa_vlmevalkit(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    table t;
    if (jf__read_tsv(in->predictions, &t, err))
        return err->code;
    int ci = jf__col_index(&t, "index"), cp = jf__col_index(&t, "prediction"), ca = jf__col_index(&t, "answer"),
        cs = jf__col_index(&t, "split"), cc = jf__col_index(&t, "category");
    if (ca < 0 || cp < 0) {
        jf__free_table(&t);
        return jf_error_set(err, JF_EFORMAT, "%s: needs the columns answer and prediction (VLMEvalKit's "
                                             "GQA_TestDev_Balanced prediction TSV)",
                            in->predictions);
    }
    snprintf(r->split, sizeof r->split, "GQA_TestDev_Balanced");
    char **idx = column_texts(&t, ci), **pred = column_texts(&t, cp), **ans = column_texts(&t, ca),
         **grp = column_texts(&t, cs >= 0 ? cs : cc);
    double *hit = calloc(t.n_rows ? t.n_rows : 1, sizeof *hit);
    for (size_t i = 0; i < t.n_rows; i++) {
        const char *a = ans[i] ? ans[i] : "nan", *p = pred[i] ? pred[i] : "nan";
        char **list;
        size_t nl;
        int is_list = jf__py_string_list(a, &list, &nl);
        if (is_list < 0)
            jf__bench_problem(r, "%s: row %zu: the answer '%s' looks like a Python list that jf cannot read (VLMEvalKit "
                                 "eval()s it); taken as one answer",
                              in->predictions, i + 2, a);
        char *ps = jf__py_strip(p, NULL), *pl = jf__py_lower(ps);
        char *pl2 = jf__py_strip(pl, NULL);
        double *match = calloc(nl ? nl : 1, sizeof *match);
        size_t nm = is_list > 0 ? nl : 1;
        for (size_t k = 0; k < nm; k++) {
            const char *x = is_list > 0 ? list[k] : a;
            char *xs = jf__py_strip(x, NULL), *xl = jf__py_lower(xs);
            match[k] = !strcmp(xl, pl2) ? 1.0 : 0.0;
            free(xs);
            free(xl);
        }
        hit[i] = np_mean(match, nm); /* an empty list: nan, as np.mean of [] */
        jf__bench_item(r, idx[i] ? idx[i] : "?", grp[i] ? grp[i] : "", p, pl2, a, hit[i]);
        free(match);
        free(ps);
        free(pl);
        free(pl2);
        for (size_t k = 0; k < nl; k++)
            free(list[k]);
        free(list);
    }
    /* with a split column: each split, then Overall; else Overall, then each category (sorted) */
    const char **names = calloc(t.n_rows + 1, sizeof *names);
    size_t nn = 0;
    if (cs >= 0 || cc >= 0) {
        for (size_t i = 0; i < t.n_rows; i++) {
            const char *g = grp[i] ? grp[i] : "nan";
            size_t k = 0;
            while (k < nn && strcmp(names[k], g))
                k++;
            if (k == nn)
                names[nn++] = g;
        }
        for (size_t a = 1; a < nn; a++)
            for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
                const char *x = names[b];
                names[b] = names[b - 1];
                names[b - 1] = x;
            }
    }
    double *sub = calloc(t.n_rows ? t.n_rows : 1, sizeof *sub);
    jf__bench_metric(r, "Overall", np_mean(hit, t.n_rows) * 100);
    for (size_t k = 0; k < nn; k++) {
        size_t m = 0;
        for (size_t i = 0; i < t.n_rows; i++)
            if (!strcmp(grp[i] ? grp[i] : "nan", names[k]))
                sub[m++] = hit[i];
        jf__bench_metric(r, names[k], np_mean(sub, m) * 100);
    }
    snprintf(r->headline, sizeof r->headline, "Overall");
    free(sub);
    free(names);
    free(hit);
    free_texts(idx, t.n_rows);
    free_texts(pred, t.n_rows);
    free_texts(ans, t.n_rows);
    free_texts(grp, t.n_rows);
    jf__free_table(&t);
    return JF_OK;
}

/* ---- SEED-Bench as LLaVA's convert_seed_for_submission.py prints it ---- */

static const char *sv(yajl_val v) { return YAJL_IS_STRING(v) && v->u.string ? v->u.string : ""; }

/* SEED-Bench.json (--data): the whole document, and its "questions" list in *qs. */
static yajl_val seed_bench_file(const jf_bench_inputs *in, yajl_val *qs, jf_error *err)
{
    *qs = NULL;
    if (!in->data) {
        jf_error_set(err, JF_EARG, "seed: --data names SEED-Bench.json");
        return NULL;
    }
    yajl_val d = jf__bench_read_json(in->data, err);
    if (!d)
        return NULL;
    const char *qp[] = {"questions", NULL};
    if (!(*qs = yajl_tree_get(d, qp, yajl_t_array))) {
        yajl_tree_free(d);
        jf_error_set(err, JF_EFORMAT, "%s: no \"questions\" list", in->data);
        return NULL;
    }
    return d;
}

/* LLaVA's answers.jsonl ({question_id, text}; also {question_id, prediction} lines): ids as text
 * (integers printed), texts in file order (a later line for the same id wins where a dict keeps it). */
static int read_seed_answers(const char *path, char ***ids_out, char ***texts_out, size_t *n_out, jf_bench_report *r,
                             jf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t na = 0, acap = 0;
    char **aid = NULL, **atext = NULL;
    char *line = NULL;
    size_t lcap = 0;
    int lineno = 0;
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        if (!line[strspn(line, " \t\r\n")])
            continue;
        char eb[128];
        yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
        const char *ip[] = {"question_id", NULL}, *xp[] = {"text", NULL}, *pp[] = {"prediction", NULL};
        yajl_val id = v ? yajl_tree_get(v, ip, yajl_t_any) : NULL, tx = v ? yajl_tree_get(v, xp, yajl_t_string) : NULL;
        if (!tx && v)
            tx = yajl_tree_get(v, pp, yajl_t_string);
        if (!id || !tx) {
            jf__bench_problem(r, "%s:%d: needs question_id and text (the tool stops)", path, lineno);
            yajl_tree_free(v);
            continue;
        }
        if (na == acap) {
            acap = acap ? acap * 2 : 256;
            aid = realloc(aid, acap * sizeof *aid);
            atext = realloc(atext, acap * sizeof *atext);
        }
        char idb[64];
        if (YAJL_IS_INTEGER(id))
            snprintf(idb, sizeof idb, "%lld", (long long)YAJL_GET_INTEGER(id));
        else
            snprintf(idb, sizeof idb, "%s", YAJL_IS_STRING(id) ? YAJL_GET_STRING(id) : "");
        aid[na] = strdup(idb);
        atext[na++] = strdup(sv(tx));
        yajl_tree_free(v);
    }
    free(line);
    fclose(f);
    *ids_out = aid;
    *texts_out = atext;
    *n_out = na;
    return 0;
}

static void free_seed_answers(char **aid, char **atext, size_t na)
{
    for (size_t k = 0; k < na; k++) {
        free(aid[k]);
        free(atext[k]);
    }
    free(aid);
    free(atext);
}

/* The question's id as the answers file spells it: int(question_id) when it is one. */
static void seed_qid(yajl_val qid, char *idb, size_t n)
{
    if (YAJL_IS_INTEGER(qid))
        snprintf(idb, n, "%lld", (long long)YAJL_GET_INTEGER(qid));
    else
        snprintf(idb, n, "%s", YAJL_IS_STRING(qid) ? YAJL_GET_STRING(qid) : "");
    char *end;
    long long as_int = strtoll(idb, &end, 10);
    if (*idb && !*end)
        snprintf(idb, n, "%lld", as_int);
}

/* lmms-eval's seedbench task (75571cf): every question of SEED-Bench.json is a document; its
 * response stripped and cut to its first character (pred[0] when longer), then compared with the
 * answer, both lower-cased and stripped; seed_image, seed_video and seed_all are the means. A
 * question without an answer is scored as the empty response (wrong) and listed. */
jf_status jf__score_seed_lmms(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    yajl_val qs, d = seed_bench_file(in, &qs, err);
    if (!d)
        return err->code;
    snprintf(r->split, sizeof r->split, "SEED-Bench (all questions)");
    size_t na = 0;
    char **aid = NULL, **atext = NULL;
    if (read_seed_answers(in->predictions, &aid, &atext, &na, r, err)) {
        yajl_tree_free(d);
        return err->code;
    }
    long n[3] = {0}, hit[3] = {0}; /* image, video, all */
    for (size_t i = 0; i < qs->u.array.len; i++) {
        yajl_val q = qs->u.array.values[i];
        const char *dp[] = {"data_type", NULL}, *idp[] = {"question_id", NULL}, *anp[] = {"answer", NULL};
        yajl_val dt = yajl_tree_get(q, dp, yajl_t_string), qid = yajl_tree_get(q, idp, yajl_t_any),
                 an = yajl_tree_get(q, anp, yajl_t_string);
        char idb[64];
        seed_qid(qid, idb, sizeof idb);
        const char *text = NULL;
        for (size_t k = 0; k < na; k++)
            if (!strcmp(aid[k], idb))
                text = atext[k];
        if (!text) {
            jf__bench_problem(r, "%s: no answer for question %s; scored as an empty response", in->predictions, idb);
            r->missing++;
        }
        char *pred = jf__py_strip(text ? text : "", NULL);
        if (jf__utf8_count(pred) > 1) { /* pred[0]: the first code point */
            size_t len = 1;
            while (pred[len] && ((unsigned char)pred[len] & 0xC0) == 0x80)
                len++;
            pred[len] = 0;
        }
        char *pl = jf__py_lower(pred), *ps = jf__py_strip(pl, NULL);
        char *al = jf__py_lower(an ? sv(an) : ""), *as = jf__py_strip(al, NULL);
        int ok = !strcmp(ps, as);
        int kind = dt && !strcmp(sv(dt), "image") ? 0 : dt && !strcmp(sv(dt), "video") ? 1 : -1;
        if (kind >= 0) {
            n[kind]++;
            hit[kind] += ok;
        }
        n[2]++;
        hit[2] += ok;
        jf__bench_item(r, idb, dt ? sv(dt) : "?", text ? text : "", pred, an ? sv(an) : "", ok);
        free(pred);
        free(pl);
        free(ps);
        free(al);
        free(as);
    }
    static const char *const names[3] = {"seed_image", "seed_video", "seed_all"};
    for (int k = 0; k < 3; k++) {
        if (n[k])
            jf__bench_metric(r, names[k], (double)hit[k] / (double)n[k]);
        else
            jf__bench_problem(r, "%s: no %s questions (lmms-eval divides by zero for %s)", in->data,
                              k == 0 ? "image" : k == 1 ? "video" : "", names[k]);
    }
    snprintf(r->headline, sizeof r->headline, "seed_all");
    free_seed_answers(aid, atext, na);
    yajl_tree_free(d);
    return JF_OK;
}

jf_status jf__score_seed_llava(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    yajl_val qs, d = seed_bench_file(in, &qs, err);
    if (!d)
        return err->code;
    snprintf(r->split, sizeof r->split, "SEED-Bench (all questions)");
    const char *tp[] = {"question_type", NULL};
    yajl_val types = yajl_tree_get(d, tp, yajl_t_object);
    size_t na = 0;
    char **aid = NULL, **atext = NULL;
    if (read_seed_answers(in->predictions, &aid, &atext, &na, r, err)) {
        yajl_tree_free(d);
        return err->code;
    }
    /* three passes, as the script runs: all, image only, video only */
    const char *only[3] = {NULL, "image", "video"};
    for (int pass = 0; pass < 3; pass++) {
        long type_count[64] = {0}, correct[64] = {0};
        for (size_t i = 0; i < qs->u.array.len; i++) {
            yajl_val q = qs->u.array.values[i];
            const char *dp[] = {"data_type", NULL}, *tip[] = {"question_type_id", NULL}, *idp[] = {"question_id", NULL},
                       *anp[] = {"answer", NULL};
            yajl_val dt = yajl_tree_get(q, dp, yajl_t_string), ti = yajl_tree_get(q, tip, yajl_t_number),
                     qid = yajl_tree_get(q, idp, yajl_t_any), an = yajl_tree_get(q, anp, yajl_t_string);
            if (only[pass] && (!dt || strcmp(sv(dt), only[pass])))
                continue;
            long type = ti ? (long)YAJL_GET_INTEGER(ti) : 0;
            if (type < 0 || type >= 64)
                continue;
            type_count[type]++;
            char idb[64];
            seed_qid(qid, idb, sizeof idb);
            const char *text = NULL;
            for (size_t k = 0; k < na; k++)
                if (!strcmp(aid[k], idb))
                    text = atext[k];
            int ok = text && an && !strcmp(text, sv(an));
            correct[type] += ok;
            if (pass == 0) {
                if (!text) {
                    jf__bench_problem(r, "%s: no answer for question %s; counted wrong", in->predictions, idb);
                    r->missing++;
                }
                char grp[32];
                snprintf(grp, sizeof grp, "%ld", type);
                jf__bench_item(r, idb, grp, text ? text : "", text ? text : "", sv(an), ok);
            }
        }
        long tc = 0, tk = 0;
        for (int type = 0; type < 64; type++) {
            if (!type_count[type])
                continue;
            double acc = (double)correct[type] / (double)type_count[type] * 100;
            if (pass == 0) {
                const char *name = NULL;
                for (size_t k = 0; types && k < types->u.object.len; k++)
                    if (YAJL_IS_INTEGER(types->u.object.values[k]) && YAJL_GET_INTEGER(types->u.object.values[k]) == type)
                        name = types->u.object.keys[k];
                char key[200];
                snprintf(key, sizeof key, "%s", name ? name : "?");
                jf__bench_metric(r, key, acc);
                snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%.2f", acc);
            }
            tc += type_count[type];
            tk += correct[type];
        }
        const char *key = pass == 0 ? "Total accuracy" : pass == 1 ? "image accuracy" : "video accuracy";
        if (tc) {
            double total = (double)tk / (double)tc * 100;
            jf__bench_metric(r, key, total);
            snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%.2f", total);
        } else if (pass == 0) {
            jf__bench_problem(r, "%s: no questions (the tool divides by zero)", in->data);
        }
    }
    snprintf(r->headline, sizeof r->headline, "Total accuracy");
    free_seed_answers(aid, atext, na);
    yajl_tree_free(d);
    return JF_OK;
}

/* ---- SEED-Bench's own eval.py: likelihood-ranked predictions ---- */

/* results lines {question_id, prediction} as eval.py writes them (jf adds the options' losses).
 * eval.py's accuracy step reads item['gt'] and item['q_type_id'], which its own records lack (a
 * KeyError as published); jf computes what that step intends: per question_type_id, in the order
 * the types first appear among the predictions, the share of predictions equal to the answer
 * ("Data type N: xx.xx%"), then the total over the predictions. */
jf_status jf__score_seed_official(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    yajl_val qs, d = seed_bench_file(in, &qs, err);
    if (!d)
        return err->code;
    size_t nq = qs->u.array.len;
    char **qid = calloc(nq + 1, sizeof *qid);
    long *qtype = calloc(nq + 1, sizeof *qtype);
    const char **qans = calloc(nq + 1, sizeof *qans);
    int *qimage = calloc(nq + 1, sizeof *qimage), *seen = calloc(nq + 1, sizeof *seen);
    for (size_t i = 0; i < nq; i++) {
        yajl_val q = qs->u.array.values[i];
        const char *ip[] = {"question_id", NULL}, *tp[] = {"question_type_id", NULL}, *ap[] = {"answer", NULL},
                   *dp[] = {"data_type", NULL};
        yajl_val id = yajl_tree_get(q, ip, yajl_t_any), ty = yajl_tree_get(q, tp, yajl_t_number),
                 an = yajl_tree_get(q, ap, yajl_t_string), dt = yajl_tree_get(q, dp, yajl_t_string);
        char b[64] = "";
        if (id && YAJL_IS_INTEGER(id))
            snprintf(b, sizeof b, "%lld", (long long)YAJL_GET_INTEGER(id));
        else if (id && YAJL_IS_STRING(id))
            snprintf(b, sizeof b, "%s", YAJL_GET_STRING(id));
        qid[i] = strdup(b);
        qtype[i] = ty ? (long)YAJL_GET_INTEGER(ty) : 0;
        qans[i] = an ? sv(an) : "";
        qimage[i] = !dt || !strcmp(sv(dt), "image");
    }
    FILE *f = fopen(in->predictions, "r");
    if (!f) {
        jf_status s = jf_error_set(err, JF_ENOTFOUND, "%s: %s", in->predictions, strerror(errno));
        for (size_t i = 0; i < nq; i++)
            free(qid[i]);
        free(qid), free(qtype), free(qans), free(qimage), free(seen);
        yajl_tree_free(d);
        return s;
    }
    long types[64], count[64] = {0}, correct[64] = {0};
    int nt = 0;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    int any_video = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (!line[strspn(line, " \t\r\n")])
            continue;
        char eb[128];
        yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
        const char *ip[] = {"question_id", NULL}, *pp[] = {"prediction", NULL};
        yajl_val id = v ? yajl_tree_get(v, ip, yajl_t_any) : NULL, pr = v ? yajl_tree_get(v, pp, yajl_t_string) : NULL;
        if (!id || !pr) {
            jf__bench_problem(r, "%s:%d: needs question_id and prediction", in->predictions, lineno);
            yajl_tree_free(v);
            continue;
        }
        char b[64] = "";
        if (YAJL_IS_INTEGER(id))
            snprintf(b, sizeof b, "%lld", (long long)YAJL_GET_INTEGER(id));
        else if (YAJL_IS_STRING(id))
            snprintf(b, sizeof b, "%s", YAJL_GET_STRING(id));
        size_t k = 0;
        while (k < nq && strcmp(qid[k], b))
            k++;
        if (k == nq) {
            jf__bench_problem(r, "%s:%d: question %s is not in %s", in->predictions, lineno, b, in->data);
            r->unknown++;
        } else if (seen[k]) {
            jf__bench_problem(r, "%s:%d: question %s answered again (eval.py appends to results.json: a rerun's lines); the first "
                                 "is counted",
                              in->predictions, lineno, b);
            r->duplicates++;
        } else {
            seen[k] = 1;
            any_video |= !qimage[k];
            long ty = qtype[k];
            int ti = 0;
            while (ti < nt && types[ti] != ty)
                ti++;
            if (ti == nt && nt < 64)
                types[nt++] = ty;
            if (ti < 64) {
                int ok = !strcmp(sv(pr), qans[k]);
                count[ti]++;
                correct[ti] += ok;
                char grp[32];
                snprintf(grp, sizeof grp, "%ld", ty);
                jf__bench_item(r, b, grp, sv(pr), sv(pr), qans[k], ok);
            }
        }
        yajl_tree_free(v);
    }
    free(line);
    fclose(f);
    size_t missing = 0;
    for (size_t i = 0; i < nq; i++)
        if (qimage[i] && !seen[i]) {
            if (missing < 20)
                jf__bench_problem(r, "%s: no prediction for image question %s (eval.py counts only what it answered)",
                                  in->predictions, qid[i]);
            missing++;
        }
    if (missing > 20)
        jf__bench_problem(r, "%s: ... %zu image questions without a prediction in all", in->predictions, missing);
    r->missing = missing;
    long tc = 0, tk = 0;
    for (int i = 0; i < nt; i++) {
        char key[64];
        snprintf(key, sizeof key, "Data type %ld", types[i]);
        double acc = (double)correct[i] / (double)count[i] * 100;
        jf__bench_metric(r, key, acc);
        snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%.2f", acc);
        tc += count[i];
        tk += correct[i];
    }
    if (tc) {
        double total = (double)tk / (double)tc * 100;
        jf__bench_metric(r, "Total accuracy", total);
        snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%.2f", total);
    } else {
        jf__bench_problem(r, "%s: no predictions (the tool divides by zero)", in->predictions);
    }
    snprintf(r->headline, sizeof r->headline, "Total accuracy");
    snprintf(r->split, sizeof r->split, "%s", any_video ? "SEED-Bench (answered questions)" : "SEED-Bench image (dimensions 1-9)");
    for (size_t i = 0; i < nq; i++)
        free(qid[i]);
    free(qid), free(qtype), free(qans), free(qimage), free(seen);
    yajl_tree_free(d);
    return JF_OK;
}

/* ---- VLMEvalKit's yes/no datasets: MME and POPE (vlmeval/dataset/image_yorn.py) ---- */

/* YOrN_Extraction: lower case, its process_punctuation, split; "yes" without "no" is Yes, "no"
 * without "yes" is No, anything else Unknown (the GPT judge that would look again is not run:
 * the exact_matching judge). */
static const char *yorn_extract(const char *prediction)
{
    char *low = jf__py_lower(prediction);
    char *pp = jf__vqa_punctuation(low, 0, 1);
    char **w;
    size_t n = jf__py_split(pp ? pp : "", &w);
    int yes = 0, no = 0;
    for (size_t i = 0; i < n; i++) {
        yes |= !strcmp(w[i], "yes");
        no |= !strcmp(w[i], "no");
    }
    jf__py_split_free(w, n);
    free(pp);
    free(low);
    return yes && !no ? "Yes" : no && !yes ? "No" : "Unknown";
}

typedef struct yorn_row {
    const char *category, *image, *answer, *extracted;
    int score;
} yorn_row;

/* POPE_rating's cal_f1_score over the rows of one split (all rows when split is NULL). */
static void pope_split_metrics(jf_bench_report *r, const yorn_row *rows, size_t n, const char *split)
{
    long tp = 0, fp = 0, fn = 0, hits = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        if (split && (!rows[i].category || strcmp(rows[i].category, split)))
            continue;
        int t = rows[i].answer && !strcmp(rows[i].answer, "Yes"), p = !strcmp(rows[i].extracted, "Yes");
        tp += t && p;
        fp += !t && p;
        fn += t && !p;
        hits += rows[i].score;
        count++;
    }
    double precision = tp + fp ? (double)tp / (double)(tp + fp) : 0, recall = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double f1 = precision + recall != 0 ? 2 * (precision * recall) / (precision + recall) : 0;
    char key[160];
    const char *name = split ? split : "Overall";
    snprintf(key, sizeof key, "%s/Overall", name);
    jf__bench_metric(r, key, f1 * 100);
    snprintf(key, sizeof key, "%s/acc", name);
    jf__bench_metric(r, key, count ? (double)hits / (double)count * 100 : NAN);
    snprintf(key, sizeof key, "%s/precision", name);
    jf__bench_metric(r, key, precision * 100);
    snprintf(key, sizeof key, "%s/recall", name);
    jf__bench_metric(r, key, recall * 100);
}

jf_status jf__score_yorn_vlmevalkit(const jf_bench_inputs *in, int pope, jf_bench_report *r, jf_error *err)
{
    table t;
    if (jf__read_tsv(in->predictions, &t, err))
        return err->code;
    int ci = jf__col_index(&t, "index"), cp = jf__col_index(&t, "prediction"), ca = jf__col_index(&t, "answer"),
        cc = jf__col_index(&t, "category"), cimg = jf__col_index(&t, "image_path");
    if (ci < 0 || cp < 0 || ca < 0 || cc < 0 || (!pope && cimg < 0)) {
        jf__free_table(&t);
        return jf_error_set(err, JF_EFORMAT, "%s: needs the columns index, answer, category, %sprediction (VLMEvalKit's %s "
                                             "prediction TSV)",
                            in->predictions, pope ? "" : "image_path, ", pope ? "POPE" : "MME");
    }
    snprintf(r->split, sizeof r->split, "%s", pope ? "POPE (VLMEvalKit's TSV)" : "MME");
    char **idx = column_texts(&t, ci), **pred = column_texts(&t, cp), **ans = column_texts(&t, ca),
         **cat = column_texts(&t, cc), **img = cimg >= 0 ? column_texts(&t, cimg) : NULL;
    /* ans_map by index: a repeated index takes its last row's extraction for every row */
    const char **ext = calloc(t.n_rows ? t.n_rows : 1, sizeof *ext);
    for (size_t i = 0; i < t.n_rows; i++)
        ext[i] = yorn_extract(pred[i] ? pred[i] : "nan");
    for (size_t i = 0; i < t.n_rows; i++)
        for (size_t j = i + 1; j < t.n_rows; j++)
            if (idx[i] && idx[j] && !strcmp(idx[i], idx[j])) {
                ext[i] = ext[j]; /* the last row with this index wins (j runs to the end) */
                jf__bench_problem(r, "%s: index %s appears twice (lines %zu and %zu): VLMEvalKit keeps the later line's "
                                     "answer for both",
                                  in->predictions, idx[i], i + 2, j + 2);
                r->duplicates++;
            }
    /* POPE: a category "a,b" counts in both splits (explode): a row gives at most its commas + 1 */
    size_t cap = t.n_rows + 1, n = 0;
    for (size_t i = 0; pope && i < t.n_rows; i++)
        for (const char *c = cat[i]; c && *c; c++)
            cap += *c == ',';
    yorn_row *rows = calloc(cap, sizeof *rows);
    long unknown = 0;
    for (size_t i = 0; i < t.n_rows; i++) {
        if (!strcmp(ext[i], "Unknown"))
            unknown++;
        int score = ans[i] && !strcmp(ans[i], ext[i]);
        jf__bench_item(r, idx[i] ? idx[i] : "?", cat[i] ? cat[i] : "nan", pred[i] ? pred[i] : "nan", ext[i],
                       ans[i] ? ans[i] : "nan", score);
        char *c = cat[i];
        if (pope && c && strchr(c, ',')) {
            for (char *save = NULL, *part = strtok_r(c, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
                rows[n++] = (yorn_row){part, NULL, ans[i], ext[i], score};
            }
        } else {
            rows[n++] = (yorn_row){c, img ? img[i] : NULL, ans[i], ext[i], score};
        }
    }
    if (pope) {
        pope_split_metrics(r, rows, n, NULL);
        /* the splits, in sorted order (the tool's order is a set's) */
        const char **names = calloc(n + 1, sizeof *names);
        size_t nn = 0;
        for (size_t i = 0; i < n; i++) {
            if (!rows[i].category)
                continue;
            size_t k = 0;
            while (k < nn && strcmp(names[k], rows[i].category))
                k++;
            if (k == nn)
                names[nn++] = rows[i].category;
        }
        for (size_t a = 0; a < nn; a++)
            for (size_t b = a + 1; b < nn; b++)
                if (strcmp(names[a], names[b]) > 0) {
                    const char *x = names[a];
                    names[a] = names[b];
                    names[b] = x;
                }
        for (size_t k = 0; k < nn; k++)
            pope_split_metrics(r, rows, n, names[k]);
        free(names);
        snprintf(r->headline, sizeof r->headline, "Overall/Overall");
    } else {
        /* MME_rating: per category, acc (every question) + acc+ (both questions of an image right),
         * ×100; perception and reasoning sum their subtasks */
        static const char *const perception[] = {"OCR", "artwork", "celebrity", "color", "count", "existence",
                                                 "landmark", "position", "posters", "scene"};
        static const char *const reasoning[] = {"code_reasoning", "commonsense_reasoning", "numerical_calculation",
                                                "text_translation"};
        const char **cats = calloc(n + 1, sizeof *cats);
        double *score = calloc(n + 1, sizeof *score);
        size_t nc = 0;
        for (size_t i = 0; i < n; i++) {
            const char *c = rows[i].category ? rows[i].category : "nan";
            size_t k = 0;
            while (k < nc && strcmp(cats[k], c))
                k++;
            if (k < nc)
                continue;
            cats[nc++] = c;
            long q = 0, hit = 0, images = 0, both = 0;
            for (size_t j = 0; j < n; j++) {
                if (strcmp(rows[j].category ? rows[j].category : "nan", c))
                    continue;
                q++;
                hit += rows[j].score;
                /* the image's first appearance: its first two scores */
                int first = 1;
                for (size_t e = 0; e < j && first; e++)
                    first = !(!strcmp(rows[e].category ? rows[e].category : "nan", c) && rows[e].image && rows[j].image &&
                              !strcmp(rows[e].image, rows[j].image));
                if (!first)
                    continue;
                int got = 0, prod = 1;
                for (size_t e = j; e < n && got < 2; e++)
                    if (!strcmp(rows[e].category ? rows[e].category : "nan", c) && rows[e].image && rows[j].image &&
                        !strcmp(rows[e].image, rows[j].image)) {
                        prod &= rows[e].score;
                        got++;
                    }
                if (got < 2)
                    jf__bench_problem(r, "%s: image %s of %s has one question: VLMEvalKit's acc+ fails here (IndexError)",
                                      in->predictions, rows[j].image ? rows[j].image : "?", c);
                images++;
                both += got == 2 && prod;
            }
            score[k] = (double)hit / (double)q * 100 + (images ? (double)both / (double)images * 100 : NAN);
        }
        const char *const *groups[2] = {perception, reasoning};
        size_t sizes[2] = {10, 4};
        static const char *const gname[2] = {"perception", "reasoning"};
        for (int g = 0; g < 2; g++) {
            double base = 0;
            for (size_t k = 0; k < sizes[g]; k++) {
                size_t c = 0;
                while (c < nc && strcmp(cats[c], groups[g][k]))
                    c++;
                if (c == nc) {
                    jf__bench_problem(r, "%s: no %s questions: VLMEvalKit stops here (KeyError); %s is the sum of the "
                                         "subtasks present",
                                      in->predictions, groups[g][k], gname[g]);
                } else {
                    base += score[c];
                }
            }
            jf__bench_metric(r, gname[g], base);
        }
        for (size_t k = 0; k < nc; k++)
            jf__bench_metric(r, cats[k], score[k]);
        free(cats);
        free(score);
        snprintf(r->headline, sizeof r->headline, "perception");
    }
    jf__bench_count(r, "unknown_answers", unknown);
    free(rows);
    free(ext);
    free_texts(idx, t.n_rows);
    free_texts(pred, t.n_rows);
    free_texts(ans, t.n_rows);
    free_texts(cat, t.n_rows);
    if (img)
        free_texts(img, t.n_rows);
    jf__free_table(&t);
    return JF_OK;
}
