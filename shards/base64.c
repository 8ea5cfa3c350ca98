/* Base64 (RFC 4648), for images carried inside text: VLMEvalKit's benchmark TSVs, MMMU's JSON
 * rows. */
#include "jf_shards.h"

#include <stdlib.h>
#include <string.h>

static int b64_val(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'                                                                                 ? 62
           : c == '/'                                                                                 ? 63
                                                                                                      : -1;
}

uint8_t *jf_base64_decode(const char *s, size_t n, size_t *len)
{
    size_t o = 0;
    uint8_t *out = malloc(n / 4 * 3 + 3);
    if (!out)
        return NULL;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0)
            continue; /* padding, line breaks */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

char *jf_base64_encode(const uint8_t *data, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

long jf_base64_cell_list(const char *s, char ***out)
{
    size_t len = strlen(s);
    *out = NULL;
    if (len < 2 || s[0] != '[' || s[len - 1] != ']')
        return 0;
    char **v = NULL;
    size_t n = 0;
    const char *p = s + 1, *end = s + len - 1;
    for (;;) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p >= end)
            break;
        char qc = *p;
        const char *close = qc == '\'' || qc == '"' ? memchr(p + 1, qc, (size_t)(end - p - 1)) : NULL;
        if (!close || memchr(p + 1, '\\', (size_t)(close - p - 1)))
            goto bad;
        char **nv = realloc(v, (n + 1) * sizeof *v);
        if (!nv)
            goto bad;
        v = nv;
        v[n++] = strndup(p + 1, (size_t)(close - p - 1));
        p = close + 1;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p != ',')
            goto bad;
    }
    *out = v;
    return (long)n;
bad:
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
    return -1;
}
