/* Python's string and float behaviour, as the benchmark scorers rely on it: str.lower(),
 * str.split() / strip() on Unicode white space, re's \d (Unicode decimal digits), round(x, n)
 * (correctly rounded, ties to even on the exact binary value) and repr(float) (the shortest
 * string that reads back to the same double). The scorers are Python; matching them to the last
 * printed digit needs these exactly. */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int jf__py_is_space(int32_t c)
{
    /* Py_UNICODE_ISSPACE: the characters str.split() and str.strip() treat as white space */
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int jf__py_is_decimal(int32_t c)
{
    if (c >= '0' && c <= '9')
        return 1;
    return c > 0x7F && utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

size_t jf__utf8_count(const char *s)
{
    size_t n = 0;
    for (size_t i = 0; s[i];) {
        jf__utf8_next(s, &i);
        n++;
    }
    return n;
}

int32_t jf__utf8_next(const char *s, size_t *i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + *i, -1, &cp);
    if (n <= 0) { /* not UTF-8: the byte as itself (inputs are checked before they get here) */
        cp = (unsigned char)s[*i];
        n = 1;
    }
    *i += (size_t)n;
    return cp;
}

static void put_cp(char **out, size_t *len, size_t *cap, int32_t cp)
{
    if (*len + 8 > *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *out = realloc(*out, *cap);
    }
    *len += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)*out + *len);
    (*out)[*len] = 0;
}

static int is_cased(int32_t c) { return utf8proc_tolower(c) != c || utf8proc_toupper(c) != c; }

char *jf__py_lower(const char *s)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    put_cp(&out, &len, &cap, 0);
    len = 0;
    out[0] = 0;
    int32_t prev = 0;
    for (size_t i = 0; s[i];) {
        int32_t c = jf__utf8_next(s, &i);
        if (c == 0x130) { /* İ lowers to i + combining dot above (SpecialCasing) */
            put_cp(&out, &len, &cap, 'i');
            put_cp(&out, &len, &cap, 0x307);
        } else if (c == 0x3A3) { /* Σ: final ς after a cased letter and not before one (Final_Sigma,
                                  * without its case-ignorable skipping) */
            size_t j = i;
            int32_t next = s[i] ? jf__utf8_next(s, &j) : 0;
            put_cp(&out, &len, &cap, prev && is_cased(prev) && !(next && is_cased(next)) ? 0x3C2 : 0x3C3);
        } else {
            put_cp(&out, &len, &cap, utf8proc_tolower(c));
        }
        prev = c;
    }
    return out;
}

char *jf__py_strip(const char *s, const char *chars)
{
    size_t n = strlen(s), a = 0, b = n;
    if (chars) { /* ASCII sets only (the scorers' own) */
        while (a < b && s[a] && strchr(chars, s[a]))
            a++;
        while (b > a && strchr(chars, s[b - 1]))
            b--;
    } else {
        for (size_t i = 0; i < n;) {
            size_t start = i;
            if (!jf__py_is_space(jf__utf8_next(s, &i))) {
                a = start;
                break;
            }
            a = i;
        }
        size_t last_end = a;
        for (size_t i = a; i < n;) {
            int32_t c = jf__utf8_next(s, &i);
            if (!jf__py_is_space(c))
                last_end = i;
        }
        b = last_end;
    }
    char *out = malloc(b - a + 1);
    if (out) {
        memcpy(out, s + a, b - a);
        out[b - a] = 0;
    }
    return out;
}

size_t jf__py_split(const char *s, char ***out)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t start = i;
        int32_t c = jf__utf8_next(s, &i);
        if (jf__py_is_space(c))
            continue;
        size_t end = i;
        while (i < len) {
            size_t here = i;
            if (jf__py_is_space(jf__utf8_next(s, &i))) {
                end = here;
                break;
            }
            end = i;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = realloc(v, cap * sizeof *v);
        }
        v[n] = malloc(end - start + 1);
        memcpy(v[n], s + start, end - start);
        v[n][end - start] = 0;
        n++;
    }
    *out = v;
    return n;
}

void jf__py_split_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char *jf__str_replace(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; fl && (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s;;) {
        const char *q = fl ? strstr(p, from) : NULL;
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

double jf__py_round(double x, int ndigits)
{
    if (!isfinite(x))
        return x;
    char buf[400];
    snprintf(buf, sizeof buf, "%.*f", ndigits, x); /* glibc: correctly rounded, ties to even */
    return strtod(buf, NULL);
}

void jf__py_repr(double x, char *out, size_t n)
{
    if (isnan(x)) {
        snprintf(out, n, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, n, x > 0 ? "inf" : "-inf");
        return;
    }
    if (x == 0) {
        snprintf(out, n, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char buf[64];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    /* buf = [-]D.DDDe±XX: the digits and where the decimal point goes */
    const char *q = buf;
    int neg = *q == '-';
    q += neg;
    char digits[32];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    int decpt = atoi(q + 1) + 1;
    char r[80];
    size_t o = 0;
    if (neg)
        r[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            o += (size_t)snprintf(r + o, sizeof r - o, "0.");
            for (int k = 0; k < -decpt; k++)
                r[o++] = '0';
            o += (size_t)snprintf(r + o, sizeof r - o, "%s", digits);
        } else if (decpt >= nd) {
            o += (size_t)snprintf(r + o, sizeof r - o, "%s", digits);
            for (int k = nd; k < decpt; k++)
                r[o++] = '0';
            o += (size_t)snprintf(r + o, sizeof r - o, ".0");
        } else {
            o += (size_t)snprintf(r + o, sizeof r - o, "%.*s.%s", decpt, digits, digits + decpt);
        }
    } else {
        int e = decpt - 1;
        o += (size_t)snprintf(r + o, sizeof r - o, "%c", digits[0]);
        if (nd > 1)
            o += (size_t)snprintf(r + o, sizeof r - o, ".%s", digits + 1);
        o += (size_t)snprintf(r + o, sizeof r - o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    r[o] = 0;
    snprintf(out, n, "%s", r);
}
