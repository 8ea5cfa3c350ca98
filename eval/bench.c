/* Understanding benchmarks scored as the tools people cite score them (evaluation.md §3; where the
 * spec and the code differ, the code): VQAv2 (GT-Vision-Lab vqaEval.py; LLaVA's submission
 * converter with MMF's EvalAI answer processor run first), POPE (its evaluate.py, positional; LLaVA's
 * eval_pope.py per split) and MME (calculation.py of the eval tool). Every number is kept as the
 * tool computes it (Python float arithmetic in the same order) and as it prints it (repr). */
#include "bench_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_tree.h>

static const char *const BENCH_NAMES[] = {"vqav2", "pope", "mme", "gqa", "mmmu", "mmbench", "seed"};
static const char *const PROTOCOL_NAMES[] = {"official", "llava", "lmms-eval", "vlmevalkit"};

const char *jf_bench_name(jf_bench_kind k) { return (unsigned)k < JF_BENCH_COUNT_ ? BENCH_NAMES[k] : "?"; }
const char *jf_bench_protocol_name(jf_bench_protocol p) { return (unsigned)p <= JF_BENCH_VLMEVALKIT ? PROTOCOL_NAMES[p] : "?"; }

int jf_bench_parse(const char *name, jf_bench_kind *out)
{
    for (int k = 0; k < JF_BENCH_COUNT_; k++)
        if (!strcasecmp(name, BENCH_NAMES[k])) {
            *out = (jf_bench_kind)k;
            return 0;
        }
    return -1;
}

int jf_bench_protocol_parse(const char *name, jf_bench_protocol *out)
{
    for (int k = 0; k <= JF_BENCH_VLMEVALKIT; k++)
        if (!strcasecmp(name, PROTOCOL_NAMES[k])) {
            *out = (jf_bench_protocol)k;
            return 0;
        }
    return -1;
}

/* ---- the report ---- */

static char *xdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void add_metric(jf_bench_report *r, const char *name, double value)
{
    jf_bench_metric *m = realloc(r->metrics, (r->n_metrics + 1) * sizeof *m);
    if (!m)
        return;
    r->metrics = m;
    m = &r->metrics[r->n_metrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->value = value;
    jf__py_repr(value, m->text, sizeof m->text);
}

/* A count: printed as Python prints an int. */
static void add_count(jf_bench_report *r, const char *name, long long value)
{
    add_metric(r, name, (double)value);
    snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%lld", value);
}

static jf_bench_item *add_item(jf_bench_report *r, const char *id, const char *group, const char *prediction,
                               const char *parsed, const char *gold, double score)
{
    jf_bench_item *v = realloc(r->items, (r->n_items + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->items = v;
    jf_bench_item *it = &r->items[r->n_items++];
    it->id = xdup(id);
    it->group = xdup(group);
    it->prediction = xdup(prediction);
    it->parsed = xdup(parsed);
    it->gold = xdup(gold);
    it->score = score;
    jf__py_repr(score, it->score_text, sizeof it->score_text);
    return it;
}

static void problem(jf_bench_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(jf_bench_report *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **p = realloc(r->problems, (r->n_problems + 1) * sizeof *p);
    if (!p)
        return;
    r->problems = p;
    r->problems[r->n_problems++] = xdup(msg);
}

void jf_bench_report_free(jf_bench_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i].id);
        free(r->items[i].group);
        free(r->items[i].prediction);
        free(r->items[i].parsed);
        free(r->items[i].gold);
    }
    for (size_t i = 0; i < r->n_problems; i++)
        free(r->problems[i]);
    free(r->items);
    free(r->problems);
    free(r->metrics);
    free(r);
}

const jf_bench_metric *jf_bench_find_metric(const jf_bench_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i].name, name))
            return &r->metrics[i];
    return NULL;
}

/* ---- reading JSON, JSON lines ---- */

static yajl_val read_json(const char *path, jf_error *err)
{
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    if (jf__eval_read_file(path, &buf, &cap, &len) != 0) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf[len] = 0; /* the reader leaves room for it */
    char ebuf[512];
    yajl_val v = yajl_tree_parse((const char *)buf, ebuf, sizeof ebuf);
    free(buf);
    if (!v) {
        for (char *c = ebuf; *c; c++)
            if (*c == '\n')
                *c = ' ';
        jf_error_set(err, JF_EFORMAT, "%s: not JSON: %.300s", path, ebuf);
    }
    return v;
}

/* The lines of a JSON-lines file as objects; a line that is not JSON is a problem (named by file and
 * line) and stands as NULL, so positions are kept. */
typedef struct jsonl {
    yajl_val *v;
    int *line;
    size_t n;
} jsonl;

static int read_jsonl(const char *path, jsonl *out, jf_bench_report *r, jf_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, vcap = 0;
    int lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (!line[strspn(line, " \t\r\n")])
            continue;
        char ebuf[256];
        yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
        if (!v || !YAJL_IS_OBJECT(v)) {
            problem(r, "%s:%d: not a JSON object; skipped", path, lineno);
            yajl_tree_free(v);
            continue;
        }
        if (out->n == vcap) {
            vcap = vcap ? vcap * 2 : 256;
            out->v = realloc(out->v, vcap * sizeof *out->v);
            out->line = realloc(out->line, vcap * sizeof *out->line);
        }
        out->v[out->n] = v;
        out->line[out->n++] = lineno;
    }
    free(line);
    fclose(f);
    return 0;
}

static void jsonl_free(jsonl *j)
{
    for (size_t i = 0; i < j->n; i++)
        yajl_tree_free(j->v[i]);
    free(j->v);
    free(j->line);
}

static yajl_val member(yajl_val o, const char *key)
{
    const char *p[] = {key, NULL};
    return YAJL_IS_OBJECT(o) ? yajl_tree_get(o, p, yajl_t_any) : NULL;
}

static const char *member_str(yajl_val o, const char *key)
{
    yajl_val v = member(o, key);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* A JSON id (number or string) as text. */
static void id_text(yajl_val v, char *out, size_t n)
{
    if (YAJL_IS_INTEGER(v))
        snprintf(out, n, "%lld", (long long)YAJL_GET_INTEGER(v));
    else if (YAJL_IS_STRING(v))
        snprintf(out, n, "%s", YAJL_GET_STRING(v));
    else if (YAJL_IS_NUMBER(v))
        snprintf(out, n, "%s", v->u.number.r);
    else
        out[0] = 0;
}

/* ---- a string-keyed table ---- */

typedef struct strmap {
    char **keys;
    void **vals;
    size_t cap, n;
} strmap;

static size_t sm_slot(const strmap *m, const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = k; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void *sm_get(const strmap *m, const char *k) { return m->cap ? m->vals[sm_slot(m, k)] : NULL; }

/* Sets k → v; returns the value it replaced (NULL if none). */
static void *sm_put(strmap *m, const char *k, void *v)
{
    if ((m->n + 1) * 2 > m->cap) {
        strmap g = {calloc(m->cap ? m->cap * 2 : 64, sizeof(char *)), calloc(m->cap ? m->cap * 2 : 64, sizeof(void *)),
                    m->cap ? m->cap * 2 : 64, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t s = sm_slot(&g, m->keys[i]);
                g.keys[s] = m->keys[i];
                g.vals[s] = m->vals[i];
                g.n++;
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t s = sm_slot(m, k);
    void *old = m->keys[s] ? m->vals[s] : NULL;
    if (!m->keys[s]) {
        m->keys[s] = xdup(k);
        m->n++;
    }
    m->vals[s] = v;
    return old;
}

static void sm_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- VQA answer normalisation (vqaEval.py; MMF's EvalAIAnswerProcessor) ---- */

static const char *const VQA_PUNCT[] = {";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
                                        "@", "`", ",", "?", "!"};
static const char *const VQA_NUMBERS[][2] = {{"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"},
                                             {"three", "3"}, {"four", "4"}, {"five", "5"}, {"six", "6"},
                                             {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"}};
/* The contractions map of both tools (the same 120 entries). */
static const char *const VQA_CONTRACTIONS[][2] = {
    {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"}, {"couldnt", "couldn't"},
    {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"}, {"didnt", "didn't"}, {"doesnt", "doesn't"},
    {"dont", "don't"}, {"hadnt", "hadn't"}, {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"},
    {"havent", "haven't"}, {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"}, {"hes", "he's"},
    {"howd", "how'd"}, {"howll", "how'll"}, {"hows", "how's"}, {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"},
    {"Ive", "I've"}, {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"}, {"itll", "it'll"},
    {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"}, {"mightnt've", "mightn't've"},
    {"mightn'tve", "mightn't've"}, {"mightve", "might've"}, {"mustnt", "mustn't"}, {"mustve", "must've"},
    {"neednt", "needn't"}, {"notve", "not've"}, {"oclock", "o'clock"}, {"oughtnt", "oughtn't"},
    {"ow's'at", "'ow's'at"}, {"'ows'at", "'ow's'at"}, {"'ow'sat", "'ow's'at"}, {"shant", "shan't"},
    {"shed've", "she'd've"}, {"she'dve", "she'd've"}, {"she's", "she's"}, {"shouldve", "should've"},
    {"shouldnt", "shouldn't"}, {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"},
    {"somebody'd", "somebodyd"}, {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"},
    {"somebodyll", "somebody'll"}, {"somebodys", "somebody's"}, {"someoned", "someone'd"},
    {"someoned've", "someone'd've"}, {"someone'dve", "someone'd've"}, {"someonell", "someone'll"},
    {"someones", "someone's"}, {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
    {"something'dve", "something'd've"}, {"somethingll", "something'll"}, {"thats", "that's"}, {"thered", "there'd"},
    {"thered've", "there'd've"}, {"there'dve", "there'd've"}, {"therere", "there're"}, {"theres", "there's"},
    {"theyd", "they'd"}, {"theyd've", "they'd've"}, {"they'dve", "they'd've"}, {"theyll", "they'll"},
    {"theyre", "they're"}, {"theyve", "they've"}, {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"},
    {"we'dve", "we'd've"}, {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"},
    {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"}, {"wheres", "where's"},
    {"whereve", "where've"}, {"whod", "who'd"}, {"whod've", "who'd've"}, {"who'dve", "who'd've"}, {"wholl", "who'll"},
    {"whos", "who's"}, {"whove", "who've"}, {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"},
    {"wont", "won't"}, {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"wouldnt've", "wouldn't've"},
    {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"},
    {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"}, {"youd", "you'd"},
    {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"}, {"youre", "you're"}, {"youve", "you've"}};

/* vqaEval's commaStrip (\d)(\,)(\d), or EvalAI's (?<=\d)(\,)+(?=\d) (a run of commas between
 * digits), found anywhere in s. */
static int has_digit_comma(const char *s, int comma_runs)
{
    int32_t prev = 0;
    for (size_t i = 0; s[i];) {
        int32_t c = jf__utf8_next(s, &i);
        if (c == ',' && jf__py_is_decimal(prev)) {
            size_t j = i;
            int32_t n = s[j] ? jf__utf8_next(s, &j) : 0;
            while (comma_runs && n == ',' && s[j])
                n = jf__utf8_next(s, &j);
            if (jf__py_is_decimal(n))
                return 1;
        }
        prev = c;
    }
    return 0;
}

/* processPunctuation: each mark deleted when it touches a space in the original text (or the text
 * has a digit-comma-digit), otherwise replaced by a space; then periodStrip, whose look-behind is
 * malformed ((?!<=\d) always succeeds), removes each "." not followed by a digit — at most 32,
 * because re.UNICODE (32) is passed where sub() takes its count. */
static char *vqa_punctuation(const char *in, int comma_runs) { return jf__vqa_punctuation(in, comma_runs, 0); }

/* digit_lookbehind: VLMEvalKit's copy (smp/misc.py) spells periodStrip right, (?<!\d)\.(?!\d):
 * a "." after a digit of the text stays too (still at most 32 removed). */
char *jf__vqa_punctuation(const char *in, int comma_runs, int digit_lookbehind)
{
    char *out = xdup(in);
    int comma = has_digit_comma(in, comma_runs);
    for (size_t k = 0; k < sizeof VQA_PUNCT / sizeof VQA_PUNCT[0] && out; k++) {
        const char *p = VQA_PUNCT[k];
        char ps[4], sp[4];
        snprintf(ps, sizeof ps, "%s ", p);
        snprintf(sp, sizeof sp, " %s", p);
        char *next = jf__str_replace(out, p, strstr(in, ps) || strstr(in, sp) || comma ? "" : " ");
        free(out);
        out = next;
    }
    if (!out)
        return NULL;
    char *res = malloc(strlen(out) + 1);
    size_t o = 0;
    int removed = 0;
    int32_t prev = 0; /* the look-behind sees the text sub() scans, removed periods included */
    for (size_t i = 0; out[i];) {
        size_t start = i;
        int32_t c = jf__utf8_next(out, &i);
        int32_t before = prev;
        prev = c;
        if (c == '.' && removed < 32 && !(digit_lookbehind && jf__py_is_decimal(before))) {
            size_t j = i;
            int32_t n = out[j] ? jf__utf8_next(out, &j) : 0;
            if (!jf__py_is_decimal(n)) {
                removed++;
                continue;
            }
        }
        memcpy(res + o, out + start, i - start);
        o += i - start;
    }
    res[o] = 0;
    free(out);
    return res;
}

/* processDigitArticle: lower case, split, number words to digits, articles out, contractions. */
static char *vqa_digit_article(const char *in)
{
    char *low = jf__py_lower(in);
    char **w;
    size_t n = jf__py_split(low, &w);
    free(low);
    size_t total = 1;
    char **kept = calloc(n ? n : 1, sizeof *kept);
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        const char *word = w[i];
        for (size_t k = 0; k < sizeof VQA_NUMBERS / sizeof VQA_NUMBERS[0]; k++)
            if (!strcmp(word, VQA_NUMBERS[k][0]))
                word = VQA_NUMBERS[k][1];
        if (!strcmp(word, "a") || !strcmp(word, "an") || !strcmp(word, "the"))
            continue;
        for (size_t k = 0; k < sizeof VQA_CONTRACTIONS / sizeof VQA_CONTRACTIONS[0]; k++)
            if (!strcmp(word, VQA_CONTRACTIONS[k][0])) {
                word = VQA_CONTRACTIONS[k][1];
                break;
            }
        kept[nk++] = (char *)word;
        total += strlen(word) + 1;
    }
    char *out = malloc(total);
    out[0] = 0;
    for (size_t i = 0; i < nk; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, kept[i]);
    }
    free(kept);
    jf__py_split_free(w, n);
    return out;
}

/* \n and \t to spaces, then strip (both tools do this before anything else). */
static char *vqa_clean(const char *s)
{
    char *a = jf__str_replace(s, "\n", " ");
    char *b = jf__str_replace(a, "\t", " ");
    char *c = jf__py_strip(b, NULL);
    free(a);
    free(b);
    return c;
}

char *jf_vqa_normalize(const char *answer)
{
    char *p = vqa_punctuation(answer, 0);
    char *d = vqa_digit_article(p);
    free(p);
    return d;
}

/* lmms-eval's vqav2: EvalAI's process_punctuation (its digit-comma rule) and process_digit_article,
 * without word_tokenize. */
static char *lmms_normalize(const char *answer)
{
    char *p = vqa_punctuation(answer, 1);
    char *d = vqa_digit_article(p);
    free(p);
    return d;
}

char *jf_evalai_answer_process(const char *answer)
{
    /* word_tokenize: lower, delete , and ?, 's → ' 's, strip */
    char *low = jf__py_lower(answer);
    char *a = jf__str_replace(low, ",", "");
    char *b = jf__str_replace(a, "?", "");
    char *c = jf__str_replace(b, "'s", " 's");
    char *d = jf__py_strip(c, NULL);
    char *e = vqa_clean(d);
    char *f = vqa_punctuation(e, 1);
    char *g = vqa_digit_article(f);
    free(low);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(f);
    return g;
}

/* ---- VQAv2 ---- */

/* statistics.mean of per-answer accuracies that are 0, float(1)/3, float(2)/3 or 1 (lmms-eval):
 * the exact sum of the doubles divided by n, rounded once (mean() works in fractions). In units of
 * 2^-54, float(1)/3 is A = 6004799503160661 and float(2)/3 is 2A. */
static double exact_mean_thirds(int c1, int c2, int c3, int n)
{
    const unsigned __int128 A = 6004799503160661u;
    unsigned __int128 s = A * (unsigned)(c1 + 2 * c2) + ((unsigned __int128)(unsigned)c3 << 54);
    if (!s || n <= 0)
        return 0;
    /* m = s·2^e / n with 2^52 ≤ m < 2^53, rounded half to even; the value is m·2^-(e+54). For
     * e < 0 the divisor is scaled instead of the sum, so no bit is dropped. */
    int e = 0;
    unsigned __int128 num, den;
    for (;;) {
        num = e >= 0 ? s << e : s;
        den = e >= 0 ? (unsigned __int128)(unsigned)n : (unsigned __int128)(unsigned)n << -e;
        unsigned __int128 q = num / den;
        if (q >= ((unsigned __int128)1 << 53))
            e--;
        else if (q < ((unsigned __int128)1 << 52) && e < 60)
            e++;
        else
            break;
    }
    unsigned __int128 m = num / den, rem = num % den;
    if (2 * rem > den || (2 * rem == den && (m & 1)))
        m++;
    return ldexp((double)m, -(e + 54));
}

typedef struct vqa_group {
    char name[128];
    double sum;
    size_t n;
} vqa_group;

static void group_add(vqa_group **g, size_t *n, const char *name, double acc)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*g)[i].name, name)) {
            (*g)[i].sum += acc;
            (*g)[i].n++;
            return;
        }
    *g = realloc(*g, (*n + 1) * sizeof **g);
    snprintf((*g)[*n].name, sizeof (*g)[*n].name, "%s", name);
    (*g)[*n].sum = acc;
    (*g)[*n].n = 1;
    (*n)++;
}

static const char *find_file(const char *dir, const char *must_contain, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct dirent *e;
    char best[1024] = "";
    while ((e = readdir(d)))
        if (strstr(e->d_name, must_contain) && strstr(e->d_name, ".json") && (!best[0] || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    if (!best[0])
        return NULL;
    snprintf(out, n, "%s/%s", dir, best);
    return out;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Predictions: a results list [{question_id, answer}] or JSON lines {question_id, text|answer};
 * question id → answer (the last one when an id repeats, as the tools' dicts keep it). */
static int read_predictions(const char *path, strmap *pred, jf_bench_report *r, jf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        return -1;
    }
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
        ;
    fclose(f);
    yajl_val doc = NULL;
    jsonl lines = {0};
    yajl_val *v;
    size_t n;
    if (c == '[') {
        if (!(doc = read_json(path, err)))
            return -1;
        v = doc->u.array.values;
        n = doc->u.array.len;
    } else {
        if (read_jsonl(path, &lines, r, err))
            return -1;
        v = lines.v;
        n = lines.n;
    }
    for (size_t i = 0; i < n; i++) {
        char id[64];
        id_text(member(v[i], "question_id"), id, sizeof id);
        yajl_val a = member(v[i], "answer");
        if (!a || member(v[i], "text"))
            a = member(v[i], "text");
        if (!id[0]) {
            problem(r, "%s: %s %zu has no question_id", path, doc ? "entry" : "line", doc ? i : (size_t)lines.line[i]);
            continue;
        }
        if (!YAJL_IS_STRING(a)) {
            problem(r, "%s: %s %zu (question %s): the answer is not a string; scored as \"\"", path,
                    doc ? "entry" : "line", doc ? i : (size_t)lines.line[i], id);
            r->empty++;
        }
        char *text = xdup(YAJL_IS_STRING(a) ? YAJL_GET_STRING(a) : "");
        char *old = sm_put(pred, id, text);
        if (old) {
            problem(r, "%s: question %s answered twice; the last answer counts (as the tools' dicts keep it)", path, id);
            r->duplicates++;
            free(old);
        }
    }
    yajl_tree_free(doc);
    jsonl_free(&lines);
    return 0;
}

static void free_predictions(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            free(m->vals[i]);
    sm_free(m);
}

static jf_status score_vqav2(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    char path[4096];
    const char *ann_path = in->data;
    if (in->data && is_dir(in->data) && !(ann_path = find_file(in->data, "annotations", path, sizeof path)))
        return jf_error_set(err, JF_ENOTFOUND, "%s: no *annotations*.json (v2_mscoco_<split>_annotations.json)", in->data);
    if (!ann_path)
        return jf_error_set(err, JF_EARG, "vqav2: --data names the annotations file (or its folder)");
    yajl_val doc = read_json(ann_path, err);
    if (!doc)
        return err->code;
    yajl_val anns = member(doc, "annotations");
    const char *subtype = member_str(doc, "data_subtype");
    snprintf(r->split, sizeof r->split, "%s", subtype ? subtype : "?");
    if (!YAJL_IS_ARRAY(anns)) {
        yajl_tree_free(doc);
        return jf_error_set(err, JF_EFORMAT, "%s: no \"annotations\" list", ann_path);
    }
    strmap pred = {0};
    if (read_predictions(in->predictions, &pred, r, err)) {
        yajl_tree_free(doc);
        return err->code;
    }
    /* the LLaVA path: the EvalAI answer processor on every answer before the official scorer;
     * a missing answer is uploaded as "" */
    int llava = r->protocol == JF_BENCH_LLAVA;
    double sum = 0;
    vqa_group *qt = NULL, *at = NULL;
    size_t nqt = 0, nat = 0;
    strmap seen = {0};
    for (size_t q = 0; q < anns->u.array.len; q++) {
        yajl_val a = anns->u.array.values[q];
        char id[64];
        id_text(member(a, "question_id"), id, sizeof id);
        sm_put(&seen, id, (void *)1);
        yajl_val answers = member(a, "answers");
        const char *qtype = member_str(a, "question_type"), *atype = member_str(a, "answer_type");
        if (!YAJL_IS_ARRAY(answers) || !answers->u.array.len) {
            problem(r, "%s: question %s has no answers; not scored", ann_path, id);
            continue;
        }
        const char *raw = sm_get(&pred, id);
        if (!raw) {
            problem(r, "%s: no answer for question %s; scored as \"\"%s", in->predictions, id,
                    llava ? " (as LLaVA's converter uploads it)" : " (the official tool refuses such a file)");
            r->missing++;
        }
        char *res = llava ? jf_evalai_answer_process(raw ? raw : "") : xdup(raw ? raw : "");
        char *pa = vqa_clean(res);
        free(res);
        size_t ng = answers->u.array.len;
        char **gt = calloc(ng, sizeof *gt);
        int all_same = 1;
        for (size_t k = 0; k < ng; k++) {
            const char *g = member_str(answers->u.array.values[k], "answer");
            gt[k] = vqa_clean(g ? g : "");
            if (k && strcmp(gt[k], gt[0]))
                all_same = 0;
        }
        int lmms = r->protocol == JF_BENCH_LMMS_EVAL;
        if (!all_same || lmms) { /* normalised only when the humans disagree (lmms-eval: always, with
                                   * EvalAI's digit-comma rule) */
            for (size_t k = 0; k < ng; k++) {
                char *x = lmms ? lmms_normalize(gt[k]) : jf_vqa_normalize(gt[k]);
                free(gt[k]);
                gt[k] = x;
            }
            char *x = lmms ? lmms_normalize(pa) : jf_vqa_normalize(pa);
            free(pa);
            pa = x;
        }
        double acc_sum = 0;
        int thirds[4] = {0};
        for (size_t j = 0; j < ng; j++) {
            int match = 0;
            for (size_t k = 0; k < ng; k++)
                match += k != j && !strcmp(gt[k], pa);
            acc_sum += match >= 3 ? 1.0 : (double)match / 3;
            thirds[match >= 3 ? 3 : match]++;
        }
        double acc = lmms ? exact_mean_thirds(thirds[1], thirds[2], thirds[3], (int)ng) : acc_sum / (double)ng;
        sum += acc;
        group_add(&qt, &nqt, qtype ? qtype : "?", acc);
        group_add(&at, &nat, atype ? atype : "?", acc);
        char golds[512] = "";
        for (size_t k = 0; k < ng; k++)
            snprintf(golds + strlen(golds), sizeof golds - strlen(golds), "%s%s", k ? "|" : "", gt[k]);
        jf_bench_item *it = add_item(r, id, atype ? atype : "?", raw ? raw : "", pa, golds, lmms ? acc : jf__py_round(100 * acc, 2));
        if (it && lmms && thirds[3] == (int)ng) /* min(1, x) returned the int 1 each time: mean() is the int 1 */
            snprintf(it->score_text, sizeof it->score_text, "1");
        for (size_t k = 0; k < ng; k++)
            free(gt[k]);
        free(gt);
        free(pa);
    }
    size_t n = r->n_items;
    for (size_t i = 0; i < pred.cap; i++)
        if (pred.keys[i] && !sm_get(&seen, pred.keys[i])) {
            problem(r, "%s: question %s is not in %s; ignored", in->predictions, pred.keys[i], ann_path);
            r->unknown++;
        }
    if (n && r->protocol == JF_BENCH_LMMS_EVAL) {
        /* exact_match, aggregated by lmms-eval's mean(): sum(arr) / len(arr) */
        add_metric(r, "exact_match", sum / (double)n);
    } else if (n) {
        add_metric(r, "overall", jf__py_round(100 * sum / (double)n, 2));
        char name[200];
        for (size_t i = 0; i < nat; i++) {
            snprintf(name, sizeof name, "answer_type/%s", at[i].name);
            add_metric(r, name, jf__py_round(100 * at[i].sum / (double)at[i].n, 2));
        }
        for (size_t i = 0; i < nqt; i++) {
            snprintf(name, sizeof name, "question_type/%s", qt[i].name);
            add_metric(r, name, jf__py_round(100 * qt[i].sum / (double)qt[i].n, 2));
        }
    }
    snprintf(r->headline, sizeof r->headline, "%s", r->protocol == JF_BENCH_LMMS_EVAL ? "exact_match" : "overall");
    free(qt);
    free(at);
    sm_free(&seen);
    free_predictions(&pred);
    yajl_tree_free(doc);
    return JF_OK;
}

/* ---- POPE ---- */

/* POPE's rule (evaluate.py, LLaVA's eval_pope.py): the text before the first ".", commas deleted,
 * split on single spaces; "No", "not" or "no" among the words → no, anything else → yes. */
int jf_pope_says_no(const char *text)
{
    size_t n = strcspn(text, ".");
    char *t = malloc(n + 1);
    memcpy(t, text, n);
    t[n] = 0;
    char *nc = jf__str_replace(t, ",", "");
    free(t);
    int no = 0;
    for (char *w = nc;;) {
        char *sp = strchr(w, ' ');
        size_t l = sp ? (size_t)(sp - w) : strlen(w);
        if ((l == 2 && (!strncmp(w, "No", 2) || !strncmp(w, "no", 2))) || (l == 3 && !strncmp(w, "not", 3)))
            no = 1;
        if (!sp)
            break;
        w = sp + 1;
    }
    free(nc);
    return no;
}

typedef struct pope_split {
    char name[64];
    char path[4096];
    jsonl labels;
} pope_split;

/* Metrics of one split as evaluate.py computes and prints them. */
static double pope_metrics(jf_bench_report *r, const char *prefix, const int *pred, size_t n_pred, const int *label,
                           size_t n_label)
{
    int tp = 0, tn = 0, fp = 0, fn = 0, yes = 0;
    for (size_t i = 0; i < n_pred; i++)
        yes += pred[i];
    for (size_t i = 0; i < n_pred && i < n_label; i++) { /* zip(): the shorter list decides */
        tp += pred[i] && label[i];
        fp += pred[i] && !label[i];
        tn += !pred[i] && !label[i];
        fn += !pred[i] && label[i];
    }
    char name[160];
#define M(key, v)                                                                                                    \
    do {                                                                                                             \
        snprintf(name, sizeof name, "%s%s", prefix, key);                                                            \
        add_metric(r, name, v);                                                                                      \
    } while (0)
    double precision = tp + fp ? (double)tp / (double)(tp + fp) : NAN;
    double recall = tp + fn ? (double)tp / (double)(tp + fn) : NAN;
    double f1 = precision + recall != 0 ? 2 * precision * recall / (precision + recall) : NAN;
    double acc = tp + tn + fp + fn ? (double)(tp + tn) / (double)(tp + tn + fp + fn) : NAN;
    if (isnan(precision) || isnan(recall) || isnan(f1))
        problem(r, "pope %s: a division by zero (TP+FP, TP+FN or P+R is 0; the Python tool stops here); nan",
                prefix[0] ? prefix : "metrics");
#define C(key, v)                                                                                                    \
    do {                                                                                                             \
        snprintf(name, sizeof name, "%s%s", prefix, key);                                                            \
        add_count(r, name, v);                                                                                       \
    } while (0)
    C("TP", tp);
    C("FP", fp);
    C("TN", tn);
    C("FN", fn);
#undef C
    M("accuracy", acc);
    M("precision", precision);
    M("recall", recall);
    M("f1", f1);
    M("yes_ratio", n_pred ? (double)yes / (double)n_pred : NAN);
#undef M
    return f1;
}

static int cmp_split(const void *a, const void *b)
{
    return strcmp(((const pope_split *)a)->name, ((const pope_split *)b)->name);
}

static jf_status score_pope(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    if (!in->data)
        return jf_error_set(err, JF_EARG, "pope: --data names the label file(s) (coco_pope_<split>.json) or their folder");
    pope_split *sp = NULL;
    size_t ns = 0;
    if (is_dir(in->data)) {
        DIR *d = opendir(in->data);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".json") || e->d_name[0] == '.')
                continue;
            sp = realloc(sp, (ns + 1) * sizeof *sp);
            memset(&sp[ns], 0, sizeof sp[ns]);
            const char *stem = !strncmp(e->d_name, "coco_pope_", 10) ? e->d_name + 10 : e->d_name;
            snprintf(sp[ns].name, sizeof sp[ns].name, "%.*s", (int)(strlen(stem) - 5), stem);
            snprintf(sp[ns].path, sizeof sp[ns].path, "%s/%s", in->data, e->d_name);
            ns++;
        }
        if (d)
            closedir(d);
        qsort(sp, ns, sizeof *sp, cmp_split);
    } else {
        sp = calloc(1, sizeof *sp);
        const char *base = strrchr(in->data, '/') ? strrchr(in->data, '/') + 1 : in->data;
        const char *stem = !strncmp(base, "coco_pope_", 10) ? base + 10 : base;
        snprintf(sp[0].name, sizeof sp[0].name, "%.*s", (int)(strcspn(stem, ".")), stem);
        snprintf(sp[0].path, sizeof sp[0].path, "%s", in->data);
        ns = 1;
    }
    if (!ns)
        return jf_error_set(err, JF_ENOTFOUND, "%s: no label files (*.json)", in->data);
    jf_status rc = JF_OK;
    for (size_t s = 0; s < ns && rc == JF_OK; s++)
        if (read_jsonl(sp[s].path, &sp[s].labels, r, err))
            rc = err->code;
    jsonl ans = {0};
    if (rc == JF_OK && read_jsonl(in->predictions, &ans, r, err))
        rc = err->code;
    /* question id → split, from --questions (LLaVA's llava_pope_test.jsonl has a category per
     * question); answers may carry the category themselves */
    strmap cat = {0};
    jsonl qs = {0};
    if (rc == JF_OK && in->questions) {
        if (read_jsonl(in->questions, &qs, r, err))
            rc = err->code;
        for (size_t i = 0; i < qs.n; i++) {
            char id[64];
            id_text(member(qs.v[i], "question_id"), id, sizeof id);
            const char *c = member_str(qs.v[i], "category");
            if (id[0] && c)
                sm_put(&cat, id, (void *)c);
        }
    }
    if (rc == JF_OK) {
        snprintf(r->split, sizeof r->split, "%s", ns == 1 ? sp[0].name : "all splits");
        double f1_sum = 0;
        int f1_n = 0;
        int lmms = r->protocol == JF_BENCH_LMMS_EVAL;
        double acc_sum = 0;
        long ltp = 0, lfp = 0, lfn = 0, gold_yes = 0, pooled = 0;
        for (size_t s = 0; s < ns; s++) {
            /* the answers of this split, in file order: all of them for one split (evaluate.py);
             * those whose category is the split's (LLaVA) when there are several */
            int *pred = malloc((ans.n + 1) * sizeof *pred), *label = malloc((sp[s].labels.n + 1) * sizeof *label);
            size_t np = 0;
            const char **texts = malloc((ans.n + 1) * sizeof *texts);
            const char **ids = malloc((ans.n + 1) * sizeof *ids);
            for (size_t i = 0; i < ans.n; i++) {
                if (ns > 1) {
                    char id[64];
                    id_text(member(ans.v[i], "question_id"), id, sizeof id);
                    const char *c = member_str(ans.v[i], "category");
                    if (!c)
                        c = sm_get(&cat, id);
                    if (!c) {
                        if (s == 0)
                            problem(r, "%s:%d: no category for question %s (give --questions with LLaVA's question "
                                       "file, or answers with \"category\"); not scored",
                                    in->predictions, ans.line[i], id);
                        continue;
                    }
                    if (strcmp(c, sp[s].name))
                        continue;
                }
                const char *t = member_str(ans.v[i], "text");
                if (!t)
                    t = member_str(ans.v[i], "answer");
                if (!t) {
                    problem(r, "%s:%d: no \"text\" or \"answer\"; read as \"\" (yes)", in->predictions, ans.line[i]);
                    t = "";
                }
                texts[np] = t;
                ids[np] = NULL;
                pred[np++] = !jf_pope_says_no(t);
                (void)ids;
            }
            for (size_t i = 0; i < sp[s].labels.n; i++) {
                const char *l = member_str(sp[s].labels.v[i], "label");
                label[i] = !(l && !strcmp(l, "no")); /* anything but "no" is a yes, as the tool maps it */
            }
            if (np != sp[s].labels.n) {
                problem(r, "%s: %zu answers for %zu labels of %s; matched by position up to the shorter (as the tool's zip)",
                        in->predictions, np, sp[s].labels.n, sp[s].name);
                if (np < sp[s].labels.n)
                    r->missing += sp[s].labels.n - np;
                else
                    r->unknown += np - sp[s].labels.n;
            }
            if (lmms) { /* pooled over the splits; the answer as given, lower-cased and stripped */
                for (size_t i = 0; i < np && i < sp[s].labels.n; i++) {
                    char id[64];
                    id_text(member(sp[s].labels.v[i], "question_id"), id, sizeof id);
                    char *low = jf__py_lower(texts[i]), *a = jf__py_strip(low, NULL);
                    int yes = !strcmp(a, "yes"), no = !strcmp(a, "no"), gold = label[i];
                    add_item(r, id, sp[s].name, texts[i], a, gold ? "yes" : "no", (gold ? yes : no) ? 1.0 : 0.0);
                    acc_sum += (gold ? yes : no) ? 1.0 : 0.0;
                    ltp += gold && yes;
                    lfp += !gold && yes;
                    lfn += gold && no;
                    gold_yes += gold;
                    pooled++;
                    free(low);
                    free(a);
                }
                free(pred);
                free(label);
                free(texts);
                free(ids);
                continue;
            }
            for (size_t i = 0; i < np && i < sp[s].labels.n; i++) {
                char id[64];
                id_text(member(sp[s].labels.v[i], "question_id"), id, sizeof id);
                add_item(r, id, sp[s].name, texts[i], pred[i] ? "yes" : "no", label[i] ? "yes" : "no",
                         pred[i] == label[i]);
            }
            char prefix[96];
            snprintf(prefix, sizeof prefix, "%s/", sp[s].name);
            double f1 = pope_metrics(r, ns == 1 ? "" : prefix, pred, np, label, sp[s].labels.n);
            f1_sum += f1;
            f1_n++;
            free(pred);
            free(label);
            free(texts);
            free(ids);
        }
        if (lmms) {
            /* lmms-eval's aggregations: exact "yes"/"no" only; 0 where a denominator is 0; yes_ratio
             * is the share of yes in the answer key (its code reads the ground truth) */
            double precision = ltp + lfp ? (double)ltp / (ltp + lfp) : 0, recall = ltp + lfn ? (double)ltp / (ltp + lfn) : 0;
            add_metric(r, "pope_accuracy", pooled ? acc_sum / (double)pooled : 0);
            add_metric(r, "pope_precision", precision);
            add_metric(r, "pope_recall", recall);
            add_metric(r, "pope_f1_score", precision + recall > 0 ? 2 * (precision * recall) / (precision + recall) : 0);
            add_metric(r, "pope_yes_ratio", pooled ? (double)gold_yes / (double)pooled : 0);
            /* Python prints the int 0 of a zero denominator as 0 */
            for (size_t i = r->n_metrics - 5; i < r->n_metrics; i++)
                if (r->metrics[i].value == 0 && ((i == r->n_metrics - 4 && !(ltp + lfp)) || (i == r->n_metrics - 3 && !(ltp + lfn)) ||
                                                 (i == r->n_metrics - 2 && !(precision + recall > 0))))
                    snprintf(r->metrics[i].text, sizeof r->metrics[i].text, "0");
            snprintf(r->headline, sizeof r->headline, "pope_f1_score");
        } else if (ns > 1) {
            /* LLaVA's single POPE number: the mean of the splits' F1 (a convention of its papers) */
            add_metric(r, "mean_f1", f1_sum / f1_n);
            snprintf(r->headline, sizeof r->headline, "mean_f1");
        } else {
            snprintf(r->headline, sizeof r->headline, "f1");
        }
    }
    sm_free(&cat);
    jsonl_free(&qs);
    jsonl_free(&ans);
    for (size_t s = 0; s < ns; s++)
        jsonl_free(&sp[s].labels);
    free(sp);
    return rc;
}

/* ---- MME ---- */

static const char *const MME_PERCEPTION[] = {"existence", "count", "position", "color", "posters",
                                             "celebrity", "scene", "landmark", "artwork", "OCR"};
static const char *const MME_COGNITION[] = {"commonsense_reasoning", "numerical_calculation", "text_translation",
                                            "code_reasoning"};

/* calculation.py's parse_pred_ans on the lower-cased answer as read — with its line end still on:
 * exactly "yes"/"no", else "yes" or "no" within the first four characters, else "other". */
const char *jf_mme_parse(const char *lowered)
{
    if (!strcmp(lowered, "yes") || !strcmp(lowered, "no"))
        return lowered[0] == 'y' ? "yes" : "no";
    /* the first four characters (code points) */
    size_t i = 0;
    for (int k = 0; k < 4 && lowered[i]; k++)
        jf__utf8_next(lowered, &i);
    char pre[32];
    snprintf(pre, sizeof pre, "%.*s", (int)i, lowered);
    return strstr(pre, "yes") ? "yes" : strstr(pre, "no") ? "no" : "other";
}

static jf_status score_mme(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    const char *dir = in->predictions;
    if (!is_dir(dir))
        return jf_error_set(err, JF_EARG, "mme: --predictions names the results folder (one <subtask>.txt per subtask: "
                                          "image, question, answer and the model's response, tab-separated)");
    snprintf(r->split, sizeof r->split, "MME");
    int lmms = r->protocol == JF_BENCH_LMMS_EVAL;
    char missing[512] = "";
    int n_missing = 0;
    for (int type = 0; type < 2; type++) {
        const char *const *tasks = type ? MME_COGNITION : MME_PERCEPTION;
        int nt = type ? 4 : 10;
        double total = 0;
        for (int t = 0; t < nt; t++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.txt", dir, tasks[t]);
            FILE *f = fopen(path, "r");
            if (!f) {
                if (missing[0])
                    strncat(missing, ", ", sizeof missing - strlen(missing) - 1);
                strncat(missing, tasks[t], sizeof missing - strlen(missing) - 1);
                n_missing++;
                continue;
            }
            struct mme_img {
                char name[512];
                int n;
                double sum;
            } *imgs = NULL;
            size_t nimg = 0;
            char *line = NULL, *prev = NULL;
            size_t cap = 0;
            int lineno = 0, correct = 0, total_q = 0, pairs = 0, pairs_correct = 0, other = 0, in_pair = 0, pair_ok = 0;
            int bad = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, f)) >= 0) {
                lineno++;
                /* fields: image, question, gt, answer (the answer keeps its line end) */
                char *fields[5] = {0};
                int nf = 0;
                for (char *p = line; nf < 5;) {
                    fields[nf++] = p;
                    char *tab = strchr(p, '\t');
                    if (!tab)
                        break;
                    *tab = 0;
                    p = tab + 1;
                }
                if (nf != 4) {
                    problem(r, "%s:%d: %d tab-separated fields, not 4; the subtask is not scored (the tool stops here)",
                            path, lineno, nf);
                    bad = 1;
                    break;
                }
                char *gt = jf__py_lower(fields[2]), *ans = jf__py_lower(fields[3]);
                if (lmms) { /* lmms-eval's parser: lower, strip, "." deleted; y / n alone count */
                    char *st = jf__py_strip(ans, NULL), *nd = jf__str_replace(st, ".", "");
                    free(ans);
                    free(st);
                    ans = nd;
                    char *g2 = jf__py_strip(gt, NULL), *g3 = jf__str_replace(g2, ".", "");
                    free(gt);
                    free(g2);
                    gt = g3;
                }
                if (strcmp(gt, "yes") && strcmp(gt, "no")) {
                    problem(r, "%s:%d: the answer key is '%s', not yes or no; the subtask is not scored", path, lineno,
                            fields[2]);
                    bad = 1;
                    free(gt);
                    free(ans);
                    break;
                }
                const char *parsed = lmms && strlen(ans) == 1 ? (ans[0] == 'y' ? "yes" : ans[0] == 'n' ? "no" : "other")
                                                              : jf_mme_parse(ans);
                int ok = !strcmp(parsed, gt);
                other += !strcmp(parsed, "other");
                correct += ok;
                total_q++;
                char id[600];
                snprintf(id, sizeof id, "%s:%d", tasks[t], lineno);
                char shown[4096];
                snprintf(shown, sizeof shown, "%.*s", (int)strcspn(fields[3], "\r\n"), fields[3]);
                add_item(r, id, tasks[t], shown, parsed, gt, ok);
                if (lmms) { /* pairs by image, in order of first appearance */
                    size_t k = 0;
                    while (k < nimg && strcmp(imgs[k].name, fields[0]))
                        k++;
                    if (k == nimg) {
                        imgs = realloc(imgs, (nimg + 1) * sizeof *imgs);
                        snprintf(imgs[nimg].name, sizeof imgs[nimg].name, "%s", fields[0]);
                        imgs[nimg].n = 0;
                        imgs[nimg].sum = 0;
                        nimg++;
                    }
                    imgs[k].n++;
                    imgs[k].sum += ok ? 1.0 : 0.0;
                }
                if (!in_pair) {
                    in_pair = 1;
                    pair_ok = ok;
                } else {
                    in_pair = 0;
                    pairs++;
                    pairs_correct += pair_ok && ok;
                }
                free(gt);
                free(ans);
            }
            if (!bad && lmms) {
                for (size_t k = 0; k < nimg && !bad; k++)
                    if (imgs[k].n != 2) {
                        problem(r, "%s: image %s has %d questions, not 2 (lmms-eval stops here)", path, imgs[k].name,
                                imgs[k].n);
                        bad = 1;
                    }
                if (!bad && nimg) {
                    double task_total = 0;
                    for (size_t k = 0; k < nimg; k++) {
                        double acc = imgs[k].sum / imgs[k].n * 100.0, acc_plus = (imgs[k].sum == 2) * 100.0;
                        task_total += acc_plus + acc;
                    }
                    double avg = task_total / (double)nimg;
                    total += avg;
                    char name[160];
                    snprintf(name, sizeof name, "%s/score", tasks[t]);
                    add_metric(r, name, avg);
                }
                free(imgs);
                imgs = NULL;
                nimg = 0;
                free(line);
                fclose(f);
                continue;
            }
            if (!bad && in_pair) {
                problem(r, "%s: an odd number of questions; the last image has one (the tool stops here)", path);
                bad = 1;
            }
            free(line);
            free(prev);
            fclose(f);
            free(imgs);
            if (bad || !total_q)
                continue;
            double acc = (double)correct / total_q, acc_plus = (double)pairs_correct / pairs;
            double score = 0;
            score += acc * 100;
            score += acc_plus * 100;
            total += score;
            char name[160];
            snprintf(name, sizeof name, "%s/acc", tasks[t]);
            add_metric(r, name, acc);
            snprintf(name, sizeof name, "%s/acc_plus", tasks[t]);
            add_metric(r, name, acc_plus);
            snprintf(name, sizeof name, "%s/other", tasks[t]);
            add_count(r, name, other);
            snprintf(name, sizeof name, "%s/score", tasks[t]);
            add_metric(r, name, score);
        }
        add_metric(r, lmms ? (type ? "mme_cognition_score" : "mme_perception_score") : (type ? "cognition" : "perception"),
                   total);
    }
    if (n_missing)
        problem(r, "%s: %d subtask file%s missing (%s); the sums leave them out (the tool stops at the first)", dir,
                n_missing, n_missing == 1 ? "" : "s", missing);
    snprintf(r->headline, sizeof r->headline, "%s", lmms ? "mme_perception_score" : "perception");
    return JF_OK;
}

/* ---- GQA (eval.py of the GQA site, as LLaVA's scripts run it with --tier testdev_balanced) ---- */

typedef struct gqa_bucket {
    char key[96];
    int is_int;
    long ikey;
    double sum;
    size_t n;
} gqa_bucket;

static void bucket_add(gqa_bucket **b, size_t *n, const char *key, long ikey, int is_int, double score)
{
    for (size_t i = 0; i < *n; i++)
        if (is_int ? (*b)[i].ikey == ikey : !strcmp((*b)[i].key, key)) {
            (*b)[i].sum += score;
            (*b)[i].n++;
            return;
        }
    *b = realloc(*b, (*n + 1) * sizeof **b);
    gqa_bucket *x = &(*b)[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->key, sizeof x->key, "%s", key ? key : "");
    x->ikey = ikey;
    x->is_int = is_int;
    x->sum = score;
    x->n = 1;
}

static int bucket_cmp(const void *a, const void *b)
{
    const gqa_bucket *x = a, *y = b;
    if (x->is_int)
        return x->ikey < y->ikey ? -1 : x->ikey > y->ikey;
    return strcmp(x->key, y->key);
}

/* A metric as eval.py prints it: "{:.2f}". */
static void add_metric_2f(jf_bench_report *r, const char *name, double v)
{
    add_metric(r, name, v);
    snprintf(r->metrics[r->n_metrics - 1].text, sizeof r->metrics[r->n_metrics - 1].text, "%.2f", v);
}

/* sum(l) / len(l) as eval.py's avg(), then × 100 */
static double gqa_avg100(double sum, size_t n) { return n ? sum / (double)n * 100 : 0; }

/* GQA predictions: eval.py's [{questionId, prediction}], or LLaVA's answers.jsonl; with `convert`
 * the latter are made into the former as convert_gqa_for_eval.py does (text.rstrip('.').lower()),
 * else kept as written. */
static int read_gqa_predictions(const char *path, int convert, strmap *pred, jf_bench_report *r, jf_error *err)
{
    FILE *f = fopen(path, "r");
    int c = f ? fgetc(f) : EOF;
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t')
        c = fgetc(f);
    if (f)
        fclose(f);
    if (c == '[') {
        yajl_val doc = read_json(path, err);
        if (!doc)
            return -1;
        for (size_t i = 0; YAJL_IS_ARRAY(doc) && i < doc->u.array.len; i++) {
            char id[64];
            id_text(member(doc->u.array.values[i], "questionId"), id, sizeof id);
            const char *p = member_str(doc->u.array.values[i], "prediction");
            if (!id[0] || !p) {
                problem(r, "%s: entry %zu needs questionId and a prediction string", path, i);
                continue;
            }
            free(sm_put(pred, id, xdup(p)));
        }
        yajl_tree_free(doc);
        return 0;
    }
    jsonl lines;
    if (read_jsonl(path, &lines, r, err))
        return -1;
    for (size_t i = 0; i < lines.n; i++) {
        char id[64];
        id_text(member(lines.v[i], "question_id"), id, sizeof id);
        const char *t = member_str(lines.v[i], "text");
        if (!id[0] || !t) {
            problem(r, "%s:%d: needs question_id and text", path, lines.line[i]);
            continue;
        }
        char *val;
        if (convert) {
            char *s = jf__py_strip(t, ".");
            /* rstrip only: put back what the left strip took */
            size_t lead = strspn(t, ".");
            char *rs = malloc(strlen(s) + lead + 1);
            memcpy(rs, t, lead);
            strcpy(rs + lead, s);
            free(s);
            val = jf__py_lower(rs);
            free(rs);
        } else {
            val = xdup(t);
        }
        char *old = sm_put(pred, id, val);
        if (old)
            r->duplicates++;
        free(old);
    }
    jsonl_free(&lines);
    return 0;
}

/* lmms-eval's exact_match (api/metrics.py, ignore_case and ignore_punctuation as gqa.yaml sets
 * them): lower-cased, string.punctuation deleted, then equal. */
static char *lmms_em_form(const char *s)
{
    char *low = jf__py_lower(s);
    size_t k = 0;
    for (size_t i = 0; low[i]; i++)
        if (!((unsigned char)low[i] < 128 && ispunct((unsigned char)low[i])))
            low[k++] = low[i];
    low[k] = 0;
    return low;
}

/* lmms-eval's gqa task: every question of the file is a document (its dataset is the balanced
 * testdev set), the response stripped, exact_match averaged. */
static jf_status score_gqa_lmms(const char *qpath, yajl_val qs, const jf_bench_inputs *in, jf_bench_report *r,
                                jf_error *err)
{
    strmap pred = {0};
    if (read_gqa_predictions(in->predictions, 0, &pred, r, err))
        return err->code;
    long hits = 0, n = 0;
    for (size_t q = 0; q < qs->u.object.len; q++) {
        const char *qid = qs->u.object.keys[q];
        const char *gold = member_str(qs->u.object.values[q], "answer");
        const char *p = sm_get(&pred, qid);
        if (!p) {
            problem(r, "%s: no prediction for question %s; scored as an empty response", in->predictions, qid);
            r->missing++;
        }
        char *res = jf__py_strip(p ? p : "", NULL);
        char *a = lmms_em_form(res), *b = lmms_em_form(gold ? gold : "");
        int ok = !strcmp(a, b);
        hits += ok;
        n++;
        add_item(r, qid, "testdev_balanced", p ? p : "", res, gold ? gold : "", ok);
        free(res);
        free(a);
        free(b);
    }
    for (size_t i = 0; i < pred.cap; i++)
        if (pred.keys && pred.keys[i] && !member(qs, pred.keys[i])) {
            problem(r, "%s: prediction for %s, which %s does not hold; not scored", in->predictions, pred.keys[i], qpath);
            r->unknown++;
        }
    if (n)
        add_metric(r, "exact_match", (double)hits / (double)n);
    else
        problem(r, "%s: no questions", qpath);
    snprintf(r->headline, sizeof r->headline, "exact_match");
    free_predictions(&pred);
    return JF_OK;
}

static jf_status score_gqa(const jf_bench_inputs *in, jf_bench_report *r, jf_error *err)
{
    char path[4096];
    const char *qpath = in->data;
    if (in->data && is_dir(in->data) && !(qpath = find_file(in->data, "testdev_balanced_questions", path, sizeof path)))
        return jf_error_set(err, JF_ENOTFOUND, "%s: no testdev_balanced_questions.json", in->data);
    if (!qpath)
        return jf_error_set(err, JF_EARG, "gqa: --data names testdev_balanced_questions.json (or its folder)");
    yajl_val qs = read_json(qpath, err);
    if (!qs)
        return err->code;
    if (!YAJL_IS_OBJECT(qs)) {
        yajl_tree_free(qs);
        return jf_error_set(err, JF_EFORMAT, "%s: not an object of questions by id", qpath);
    }
    snprintf(r->split, sizeof r->split, "testdev_balanced");
    if (r->protocol == JF_BENCH_LMMS_EVAL) {
        jf_status ls = score_gqa_lmms(qpath, qs, in, r, err);
        yajl_tree_free(qs);
        return ls;
    }
    strmap pred = {0};
    if (read_gqa_predictions(in->predictions, 1, &pred, r, err)) {
        yajl_tree_free(qs);
        return err->code;
    }
    double acc = 0, bin = 0, open = 0;
    size_t n_acc = 0, n_bin = 0, n_open = 0;
    gqa_bucket *st = NULL, *se = NULL, *steps = NULL, *len = NULL;
    size_t nst = 0, nse = 0, nsteps = 0, nlen = 0;
    /* answer histograms per global group, for the distribution score */
    strmap groups = {0};
    typedef struct hist {
        strmap gold, predicted;
        char **order; /* gold answers in first-seen order (dict iteration) */
        size_t n;
    } hist;
    char **group_order = NULL;
    size_t n_groups = 0;
    for (size_t q = 0; q < qs->u.object.len; q++) {
        const char *qid = qs->u.object.keys[q];
        yajl_val question = qs->u.object.values[q];
        if (!YAJL_IS_TRUE(member(question, "isBalanced")))
            continue;
        const char *gold = member_str(question, "answer");
        const char *predicted = sm_get(&pred, qid);
        if (!predicted) {
            problem(r, "%s: no prediction for question %s (eval.py stops: \"missing predictions\"); scored as wrong",
                    in->predictions, qid);
            r->missing++;
        }
        double score = predicted && gold && !strcmp(predicted, gold) ? 1.0 : 0.0;
        const char *qtext = member_str(question, "question");
        char **w;
        size_t words = jf__py_split(qtext ? qtext : "", &w);
        jf__py_split_free(w, words);
        long nsteps_q = 0;
        yajl_val sem = member(question, "semantic");
        for (size_t k = 0; YAJL_IS_ARRAY(sem) && k < sem->u.array.len; k++) {
            const char *op = member_str(sem->u.array.values[k], "operation");
            const char *arg = member_str(sem->u.array.values[k], "argument");
            char both[1024];
            snprintf(both, sizeof both, "%s: %s", op ? op : "None", arg ? arg : "None");
            if (!(strstr(both, "exist") || strstr(both, "query: name") || strstr(both, "choose name")))
                nsteps_q++;
        }
        yajl_val types = member(question, "types");
        const char *structural = member_str(types, "structural"), *semantic = member_str(types, "semantic");
        acc += score;
        n_acc++;
        bucket_add(&len, &nlen, NULL, (long)words, 1, score);
        bucket_add(&steps, &nsteps, NULL, nsteps_q, 1, score);
        bucket_add(&st, &nst, structural ? structural : "None", 0, 0, score);
        bucket_add(&se, &nse, semantic ? semantic : "None", 0, 0, score);
        if (structural && !strcmp(structural, "query")) {
            open += score;
            n_open++;
        } else {
            bin += score;
            n_bin++;
        }
        const char *global = member_str(member(question, "groups"), "global");
        if (global) {
            hist *h = sm_get(&groups, global);
            if (!h) {
                h = calloc(1, sizeof *h);
                sm_put(&groups, global, h);
                group_order = realloc(group_order, (n_groups + 1) * sizeof *group_order);
                group_order[n_groups++] = xdup(global);
            }
            const char *g = gold ? gold : "";
            intptr_t cnt = (intptr_t)sm_get(&h->gold, g);
            if (!cnt) {
                h->order = realloc(h->order, (h->n + 1) * sizeof *h->order);
                h->order[h->n++] = xdup(g);
            }
            sm_put(&h->gold, g, (void *)(cnt + 1));
            const char *p = predicted ? predicted : "";
            sm_put(&h->predicted, p, (void *)((intptr_t)sm_get(&h->predicted, p) + 1));
        }
        add_item(r, qid, structural ? structural : "", predicted ? predicted : "", predicted ? predicted : "",
                 gold ? gold : "", score);
    }
    /* chiSquare: per group Σ (o − e)² / e over the gold answers, weighted by the group's size */
    double sum_score = 0;
    long sum_overall = 0;
    for (size_t g = 0; g < n_groups; g++) {
        hist *h = sm_get(&groups, group_order[g]);
        double score = 0;
        long overall = 0;
        for (size_t k = 0; k < h->n; k++) {
            long e = (long)(intptr_t)sm_get(&h->gold, h->order[k]);
            long o = (long)(intptr_t)sm_get(&h->predicted, h->order[k]);
            double d = (double)(o - e);
            score += d * d / (double)e;
            overall += e;
        }
        sum_score += score * (double)overall;
        sum_overall += overall;
        for (size_t k = 0; k < h->n; k++)
            free(h->order[k]);
        free(h->order);
        sm_free(&h->gold);
        sm_free(&h->predicted);
        free(h);
        free(group_order[g]);
    }
    free(group_order);
    sm_free(&groups);
    add_metric_2f(r, "binary", gqa_avg100(bin, n_bin));
    add_metric_2f(r, "open", gqa_avg100(open, n_open));
    add_metric_2f(r, "accuracy", gqa_avg100(acc, n_acc));
    add_metric_2f(r, "validity", 0);      /* no choices file for testdev: eval.py scores every answer invalid */
    add_metric_2f(r, "plausibility", 0);
    if (sum_overall)
        add_metric_2f(r, "distribution", sum_score / (double)sum_overall / 100);
    else
        problem(r, "gqa: no question has a global group; the distribution score divides by zero in eval.py");
    struct {
        const char *prefix;
        gqa_bucket *b;
        size_t n;
    } det[] = {{"structural", st, nst}, {"semantic", se, nse}, {"steps", steps, nsteps}, {"words", len, nlen}};
    for (size_t d = 0; d < 4; d++) {
        qsort(det[d].b, det[d].n, sizeof *det[d].b, bucket_cmp);
        for (size_t i = 0; i < det[d].n; i++) {
            char name[200];
            if (det[d].b[i].is_int)
                snprintf(name, sizeof name, "%s/%ld", det[d].prefix, det[d].b[i].ikey);
            else
                snprintf(name, sizeof name, "%s/%s", det[d].prefix, det[d].b[i].key);
            add_metric_2f(r, name, gqa_avg100(det[d].b[i].sum, det[d].b[i].n));
            snprintf(name + strlen(name), sizeof name - strlen(name), "/questions");
            add_count(r, name, (long long)det[d].b[i].n);
        }
        free(det[d].b);
    }
    for (size_t i = 0; i < pred.cap; i++)
        if (pred.keys[i] && !member(qs, pred.keys[i])) {
            problem(r, "%s: question %s is not in %s; ignored", in->predictions, pred.keys[i], qpath);
            r->unknown++;
        }
    snprintf(r->headline, sizeof r->headline, "accuracy");
    free_predictions(&pred);
    yajl_tree_free(qs);
    return JF_OK;
}

/* ---- for the other scorers (bench_internal.h) ---- */

void jf__bench_metric(jf_bench_report *r, const char *name, double value) { add_metric(r, name, value); }
void jf__bench_count(jf_bench_report *r, const char *name, long long value) { add_count(r, name, value); }
void jf__bench_item(jf_bench_report *r, const char *id, const char *group, const char *prediction, const char *parsed,
                    const char *gold, double score)
{
    add_item(r, id, group, prediction, parsed, gold, score);
}
void jf__bench_problem(jf_bench_report *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem(r, "%s", msg);
}
yajl_val jf__bench_read_json(const char *path, jf_error *err) { return read_json(path, err); }
int jf__bench_is_dir(const char *path) { return is_dir(path); }

/* ---- entry ---- */

jf_status jf_bench_score(jf_bench_kind kind, const jf_bench_inputs *in, jf_bench_report **out, jf_error *err)
{
    *out = NULL;
    if (!in || !in->predictions)
        return jf_error_set(err, JF_EARG, "bench: the predictions to score are missing");
    jf_bench_report *r = calloc(1, sizeof *r);
    if (!r)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    r->kind = kind;
    r->protocol = in->protocol;
    jf_status rc;
    jf_bench_protocol p = in->protocol;
    /* which protocols each benchmark has here */
    int supported = kind == JF_BENCH_MMBENCH ? p != JF_BENCH_LLAVA
                    : kind == JF_BENCH_SEED  ? p == JF_BENCH_LLAVA || p == JF_BENCH_VLMEVALKIT || p == JF_BENCH_LMMS_EVAL
                    : kind == JF_BENCH_GQA   ? 1
                    : kind == JF_BENCH_MMMU  ? p != JF_BENCH_LLAVA
                    : kind == JF_BENCH_MME ? p == JF_BENCH_OFFICIAL || p == JF_BENCH_LMMS_EVAL || p == JF_BENCH_VLMEVALKIT
                    : kind == JF_BENCH_POPE ? 1
                                           : p == JF_BENCH_OFFICIAL || p == JF_BENCH_LLAVA || p == JF_BENCH_LMMS_EVAL;
    if (kind == JF_BENCH_SEED && p == JF_BENCH_OFFICIAL)
        rc = jf__score_seed_official(in, r, err);
    else if (kind == JF_BENCH_VQAV2 && p == JF_BENCH_VLMEVALKIT)
        rc = jf_error_set(err, JF_EARG, "vqav2: VLMEvalKit has no VQAv2 dataset (checked at e8e78f0: its ImageVQADataset "
                                        "lists TextVQA, DocVQA, GQA and others, not VQAv2); use --protocol official, "
                                        "llava or lmms-eval");
    else if (kind == JF_BENCH_MME && p == JF_BENCH_LLAVA)
        rc = jf_error_set(err, JF_EARG, "mme: LLaVA scores MME with MME's own calculation.py, after its "
                                        "convert_answer_to_mme.py writes the results folder: score that folder with "
                                        "--protocol official");
    else if (!supported && p == JF_BENCH_LLAVA)
        rc = jf_error_set(err, JF_EARG, "%s: LLaVA's repository has no scorer for it (its scripts only convert answers "
                                        "for the benchmark's own scorer): use --protocol official",
                          jf_bench_name(kind));
    else if (!supported)
        rc = jf_error_set(err, JF_EARG, "%s: protocol %s is not implemented yet", jf_bench_name(kind), jf_bench_protocol_name(p));
    else if (kind == JF_BENCH_GQA && p == JF_BENCH_VLMEVALKIT)
        rc = jf__score_gqa_vlmevalkit(in, r, err);
    else if (kind == JF_BENCH_MMMU && p == JF_BENCH_VLMEVALKIT)
        rc = jf__score_mcq_vlmevalkit(in, JF__MCQ_MMMU, r, err);
    else if ((kind == JF_BENCH_MME || kind == JF_BENCH_POPE) && p == JF_BENCH_VLMEVALKIT)
        rc = jf__score_yorn_vlmevalkit(in, kind == JF_BENCH_POPE, r, err);
    else if (kind == JF_BENCH_VQAV2)
        rc = score_vqav2(in, r, err);
    else if (kind == JF_BENCH_POPE)
        rc = score_pope(in, r, err);
    else if (kind == JF_BENCH_MME)
        rc = score_mme(in, r, err);
    else if (kind == JF_BENCH_GQA)
        rc = score_gqa(in, r, err);
    else if (kind == JF_BENCH_MMMU)
        rc = jf__score_mmmu(in, r, err);
    else if (kind == JF_BENCH_MMBENCH && p == JF_BENCH_LMMS_EVAL)
        rc = jf__score_mmbench_lmms(in, r, err);
    else if (kind == JF_BENCH_MMBENCH)
        rc = jf__score_mcq_vlmevalkit(in, JF__MCQ_CIRCULAR, r, err);
    else if (kind == JF_BENCH_SEED && p == JF_BENCH_LLAVA)
        rc = jf__score_seed_llava(in, r, err);
    else if (kind == JF_BENCH_SEED && p == JF_BENCH_LMMS_EVAL)
        rc = jf__score_seed_lmms(in, r, err);
    else if (kind == JF_BENCH_SEED)
        rc = jf__score_mcq_vlmevalkit(in, JF__MCQ_VANILLA, r, err);
    else
        rc = jf_error_set(err, JF_EARG, "unknown benchmark");
    if (rc != JF_OK) {
        jf_bench_report_free(r);
        return rc;
    }
    *out = r;
    return JF_OK;
}
