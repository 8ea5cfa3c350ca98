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
    jf_store *latents;    /* stored latents (jf_train_set_latents), or NULL */
    jf_record *lat_rec;
    jf_mix_item look;     /* the first item of the next step, read ahead */
    int have_look;
    void *rec_pool;
};

/* SplitMix64's finalizer, and a key from (seed, purpose, a, b): every random draw of a sample
 * comes from such a key, so it depends on what is drawn and for which sample only. */
uint64_t jf__train_mix64(uint64_t x);
uint64_t jf__train_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);

/* Phase 1 of a sample alone (its role, then the text → ids and labels, the placeholder and
 * length checks): for the fuzz target of the conversation parser. */
jf_status jf__train_prepare(jf_train *t, jf_train_sample *s, const jf_record *rec, jf_train_role forced, jf_error *err);

#define JF__LATENT_FIELD "latent.npy"

/* A latent read from the store: the moments [2][C][S][S] (mean, log-variance), the crop they
 * were encoded from, and the VAE's scaling. */
struct jf__stored_latent {
    float *moments;
    int crop[5];
    double scale, shift;
};
typedef struct jf__stored_latent jf__stored_latent;
/* 0 found and valid; 1 not in the store; -1 unusable (why says so). */
int jf__train_stored_latent(jf_train *t, const char *key, jf__stored_latent *out, char *why, size_t wl);

/* torchvision Resize(side) sizes of a w×h image and a square crop in them: centred as
 * CenterCrop does, or at a position drawn from `key`. crop = {resized w, h, x, y, side}. */
void jf__train_crop_geometry(int side, int w, int h, int center, uint64_t key, int crop[5]);
/* [3][side][side] in [−1, 1] as the VAE encoder takes it. */
void jf__train_crop_to_unit(const uint8_t *rgb, size_t side, float *img);
/* fn(ctx, i) for i < n on up to `threads` threads (the caller's among them). */
void jf__train_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

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
