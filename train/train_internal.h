/* Private parts of the train module. */
#ifndef JF_TRAIN_INTERNAL_H
#define JF_TRAIN_INTERNAL_H

#include "jf_train.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct jf_train {
    jf_store *st;
    jf_mix *mix;
    jf_janus *m;
    jf_vae *vae;
    jf_train_options o;
    const jf_janus_config *c;
    jf_tokenizer *tok;
    jf_janus_image_spec spec;
    jf_train_role *roles; /* per mix source */
    size_t n_sources;
    uint64_t seed;
    int lat_c, lat_s, crop;
    jf_mix_item look;     /* the first item of the next step, read ahead */
    int have_look;
    void *rec_pool;
};

/* SplitMix64's finalizer, and a key from (seed, purpose, a, b): every random draw of a sample
 * comes from such a key, so it depends on what is drawn and for which sample only. */
uint64_t jf__train_mix64(uint64_t x);
uint64_t jf__train_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);

/* A growable NUL-terminated string. */
typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom; /* an append failed: the text is incomplete */
} strbuf;
static inline void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = b->oom ? NULL : realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static inline void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

#endif
