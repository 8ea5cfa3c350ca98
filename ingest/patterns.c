/* Shard patterns: `::` lists, bash-style brace expansion with zero padding (the braceexpand
 * rules WebDataset uses), then globbing of local paths. */
#include "jf_ingest.h"

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS 10000000L

typedef struct ctx {
    void (*fn)(void *, const char *);
    void *user;
    long count;
    jf_error *err;
    int failed;
} ctx;

static void emit(ctx *c, const char *s)
{
    if (++c->count > MAX_RESULTS) {
        if (!c->failed)
            jf_error_set(c->err, JF_EARG, "pattern expands to more than %ld names", MAX_RESULTS);
        c->failed = 1;
        return;
    }
    /* unescape, then glob when there are unescaped wildcards */
    size_t n = strlen(s);
    char *plain = malloc(n + 1);
    int wild = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            plain[k++] = s[++i];
            continue;
        }
        if (s[i] == '*' || s[i] == '?' || s[i] == '[')
            wild = 1;
        plain[k++] = s[i];
    }
    plain[k] = 0;
    if (wild && !strstr(plain, "://")) {
        glob_t g;
        if (glob(s, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++)
                c->fn(c->user, g.gl_pathv[i]);
            globfree(&g);
            free(plain);
            return;
        }
        globfree(&g); /* no match: pass the name on, so that the caller reports it as missing */
    }
    c->fn(c->user, plain);
    free(plain);
}

/* Index of the brace that closes the one at s[i], or -1. */
static long closing(const char *s, long i)
{
    int depth = 0;
    for (long j = i; s[j]; j++) {
        if (s[j] == '\\' && s[j + 1]) {
            j++;
            continue;
        }
        if (s[j] == '{')
            depth++;
        else if (s[j] == '}' && --depth == 0)
            return j;
    }
    return -1;
}

static int parse_int(const char *s, long len, long *v)
{
    if (len <= 0 || len > 18)
        return -1;
    long i = 0;
    if (s[0] == '-' || s[0] == '+')
        i++;
    if (i == len)
        return -1;
    for (long k = i; k < len; k++)
        if (!isdigit((unsigned char)s[k]))
            return -1;
    char buf[24];
    memcpy(buf, s, (size_t)len);
    buf[len] = 0;
    *v = strtol(buf, NULL, 10);
    return 0;
}

static int padded(const char *s, long len)
{
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        len--;
    }
    return len > 1 && s[0] == '0';
}

static void expand(ctx *c, const char *s);

static void with_part(ctx *c, const char *s, long i, long j, const char *part, size_t plen)
{
    size_t n = strlen(s);
    char *t = malloc(n + plen + 1);
    memcpy(t, s, (size_t)i);
    memcpy(t + i, part, plen);
    strcpy(t + i + plen, s + j + 1);
    expand(c, t);
    free(t);
}

static void expand(ctx *c, const char *s)
{
    if (c->failed)
        return;
    for (long i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1]) {
            i++;
            continue;
        }
        if (s[i] != '{')
            continue;
        long j = closing(s, i);
        if (j < 0) {
            jf_error_set(c->err, JF_EARG, "unbalanced braces in '%s'", s);
            c->failed = 1;
            return;
        }
        const char *body = s + i + 1;
        long blen = j - i - 1;
        /* comma alternatives at depth 0 */
        int depth = 0, comma = 0;
        for (long k = 0; k < blen; k++) {
            if (body[k] == '\\' && k + 1 < blen) {
                k++;
                continue;
            }
            if (body[k] == '{')
                depth++;
            else if (body[k] == '}')
                depth--;
            else if (body[k] == ',' && depth == 0)
                comma = 1;
        }
        if (comma) {
            long start = 0;
            depth = 0;
            for (long k = 0; k <= blen; k++) {
                if (k < blen && body[k] == '\\' && k + 1 < blen) {
                    k++;
                    continue;
                }
                if (k < blen && body[k] == '{')
                    depth++;
                else if (k < blen && body[k] == '}')
                    depth--;
                if (k == blen || (body[k] == ',' && depth == 0)) {
                    with_part(c, s, i, j, body + start, (size_t)(k - start));
                    start = k + 1;
                }
            }
            return;
        }
        /* ranges: a..b or a..b..step, integers or single characters */
        const char *dots = strstr(body, "..");
        if (dots && dots < body + blen) {
            const char *a = body, *b = dots + 2;
            long alen = dots - body;
            const char *dots2 = strstr(b, "..");
            long bl = (dots2 && dots2 < body + blen) ? dots2 - b : (body + blen) - b;
            long step = 1;
            int ok = 1;
            if (dots2 && dots2 < body + blen) {
                long sl = (body + blen) - (dots2 + 2);
                ok = parse_int(dots2 + 2, sl, &step) == 0;
                if (step < 0)
                    step = -step;
                if (step == 0)
                    step = 1;
            }
            long lo, hi;
            if (ok && parse_int(a, alen, &lo) == 0 && parse_int(b, bl, &hi) == 0) {
                int width = (padded(a, alen) || padded(b, bl)) ? (int)(alen > bl ? alen : bl) : 0;
                long n = (hi >= lo ? hi - lo : lo - hi) / step + 1;
                if (n > MAX_RESULTS) {
                    jf_error_set(c->err, JF_EARG, "range {%.*s} has more than %ld items", (int)blen, body, MAX_RESULTS);
                    c->failed = 1;
                    return;
                }
                for (long k = 0; k < n && !c->failed; k++) {
                    long v = hi >= lo ? lo + k * step : lo - k * step;
                    char num[32];
                    if (width) {
                        if (v < 0)
                            snprintf(num, sizeof num, "-%0*ld", width - 1, -v);
                        else
                            snprintf(num, sizeof num, "%0*ld", width, v);
                    } else
                        snprintf(num, sizeof num, "%ld", v);
                    with_part(c, s, i, j, num, strlen(num));
                }
                return;
            }
            if (ok && alen == 1 && bl == 1) {
                char x = a[0], y = b[0];
                for (long v = x; !c->failed && (x <= y ? v <= y : v >= y); v += (x <= y ? step : -step)) {
                    char ch = (char)v;
                    with_part(c, s, i, j, &ch, 1);
                }
                return;
            }
        }
        /* not an expansion: a literal brace pair */
        i = j;
    }
    emit(c, s);
}

jf_status jf_expand_pattern(const char *spec, void (*fn)(void *user, const char *path), void *user, jf_error *err)
{
    ctx c = {fn, user, 0, err, 0};
    const char *p = spec;
    while (!c.failed) {
        const char *sep = strstr(p, "::");
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        char *one = malloc(n + 1);
        memcpy(one, p, n);
        one[n] = 0;
        if (n)
            expand(&c, one);
        free(one);
        if (!sep)
            break;
        p = sep + 2;
    }
    return c.failed ? (err ? err->code : JF_EARG) : JF_OK;
}
