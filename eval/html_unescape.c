/* Python's html.unescape, byte for byte on UTF-8 text: OpenAI's CLIP cleans every caption with
 * html.unescape(html.unescape(ftfy.fix_text(text))) before tokenizing, so Hessel's CLIPScore sees
 * "Tom & Jerry" where a caption says "Tom &amp; Jerry". The tables come from Python's own html
 * module (scripts/gen_html_entities.py). */
#include "eval_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html_entities.inc"

/* The value of the named reference name[0..n) (';' included when it is part of it), or NULL. */
static const char *entity(const char *name, size_t n)
{
    size_t lo = 0, hi = sizeof html_entities / sizeof *html_entities;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *e = html_entities[mid].name;
        size_t en = strlen(e);
        int c = memcmp(name, e, n < en ? n : en);
        if (!c)
            c = n < en ? -1 : n > en;
        if (!c)
            return html_entities[mid].utf8;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static size_t put_utf8(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* html._replace_charref for a numeric reference whose value saturates at 0x110000 */
static size_t numeric(uint32_t num, char *out)
{
    for (size_t i = 0; i < sizeof html_charref_fixes / sizeof *html_charref_fixes; i++)
        if (html_charref_fixes[i].from == num)
            return put_utf8(html_charref_fixes[i].to, out);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        return put_utf8(0xFFFD, out);
    size_t lo = 0, hi = sizeof html_dropped_codepoints / sizeof *html_dropped_codepoints;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (html_dropped_codepoints[mid] == num)
            return 0;
        if (html_dropped_codepoints[mid] < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return put_utf8(num, out);
}

/* Bytes in the UTF-8 character starting at p (1 for a byte that starts none), as Python would
 * count the characters of the decoded text. */
static size_t char_len(const unsigned char *p)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xF0 && p[0] < 0xF8 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char *jf__html_unescape(const char *text)
{
    size_t len = strlen(text);
    /* a reference never grows: the longest value (2 code points, 6 bytes) replaces at least "&lt" */
    char *out = malloc(len * 2 + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    while (s < end) {
        if (*s != '&') {
            *o++ = (char)*s++;
            continue;
        }
        const unsigned char *p = s + 1;
        if (p < end && *p == '#') {
            /* #[0-9]+;? or #[xX][0-9a-fA-F]+;? */
            int hex = p + 1 < end && (p[1] == 'x' || p[1] == 'X') && p + 2 < end && is_hex(p[2]);
            const unsigned char *d = p + (hex ? 2 : 1);
            if (!hex && !(d < end && *d >= '0' && *d <= '9')) {
                *o++ = '&';
                s++;
                continue;
            }
            uint32_t num = 0;
            for (; d < end && (hex ? is_hex(*d) : *d >= '0' && *d <= '9'); d++) {
                uint32_t v = *d <= '9' ? (uint32_t)(*d - '0') : (uint32_t)((*d | 0x20) - 'a' + 10);
                num = num > 0x10FFFF ? 0x110000 : num * (hex ? 16 : 10) + v;
            }
            if (d < end && *d == ';')
                d++;
            o += numeric(num > 0x10FFFF ? 0x110000 : num, o);
            s = d;
            continue;
        }
        /* [^\t\n\f <&#;]{1,32};? — up to 32 characters */
        const unsigned char *q = p;
        size_t chars = 0, bounds[34];
        while (q < end && chars < 32 && *q != '\t' && *q != '\n' && *q != '\f' && *q != ' ' && *q != '<' && *q != '&' &&
               *q != '#' && *q != ';') {
            bounds[chars++] = (size_t)(q - p);
            q += char_len(q);
        }
        if (!chars) {
            *o++ = '&';
            s++;
            continue;
        }
        if (q < end && *q == ';') {
            bounds[chars++] = (size_t)(q - p);
            q++;
        }
        size_t n = (size_t)(q - p);
        const char *v = entity((const char *)p, n);
        if (v) {
            size_t vl = strlen(v);
            memcpy(o, v, vl);
            o += vl;
        } else {
            /* the longest known prefix of at least 2 characters, the rest as it is */
            size_t x = chars - 1;
            for (; x >= 2; x--)
                if ((v = entity((const char *)p, bounds[x])))
                    break;
            if (v && x >= 2) {
                size_t vl = strlen(v);
                memcpy(o, v, vl);
                o += vl;
                memcpy(o, p + bounds[x], n - bounds[x]);
                o += n - bounds[x];
            } else {
                *o++ = '&';
                memcpy(o, p, n);
                o += n;
            }
        }
        s = q;
    }
    *o = 0;
    return out;
}
