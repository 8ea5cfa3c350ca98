/* Private helpers of the filter module. */
#ifndef JF_FILTER_INTERNAL_H
#define JF_FILTER_INTERNAL_H

#include "jf_filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fbuf {
    char *p;
    size_t len, cap;
} fbuf;

static inline void fb_put(fbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static inline void fb_puts(fbuf *b, const char *s) { fb_put(b, s, strlen(s)); }
static inline void fb_printf(fbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void fb_printf(fbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        fb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The samples a filter sees are those of complete shards. Sample rows only ever exist for
 * complete shards (the writer, merge and reindex insert them in the transaction that completes
 * the shard; verify reports any other), so no per-row condition is needed. */
#define JF_COMPLETE "1"
/* Creates the subset tables when missing. */
jf_status jf__subset_schema(jf_store *st, jf_error *err);

#endif
