/* Stored VAE latents (jf shard encode-latents) and the pieces the batch builder shares with them:
 * the generation crop's geometry and a small parallel-for.
 *
 * A latent store is a jf dataset beside the training data, one record per generation sample,
 * keyed by the sample's key: the field `latent.npy` holds [2, C, S, S] (the posterior's mean and
 * log-variance, float16 or float32, as the encoder gives them: before shift and scaling), and index
 * columns record the crop (crop_w, crop_h: the resized image; crop_x, crop_y, crop_side), the VAE
 * (latent_vae: weights hash; latent_scaling, latent_shift) and how the crop was chosen and resized
 * (latent_crop, latent_resample). Storing the moments rather than one sample keeps the posterior sample a
 * training-time draw: the builder draws it with the same key as from a freshly encoded crop. */
#include "jf_eval.h"
#include "jf_train.h"
#include "train_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* ---- shared pieces ---- */

void jf__train_crop_geometry(int side, int w, int h, int center, uint64_t key, int crop[5])
{
    /* torchvision Resize(side): the short side becomes `side`, the long one int(side · long / short) */
    int ow, oh;
    if (w <= h) {
        ow = side;
        oh = (int)((double)side * h / w);
    } else {
        oh = side;
        ow = (int)((double)side * w / h);
    }
    if (ow < side)
        ow = side;
    if (oh < side)
        oh = side;
    crop[0] = ow;
    crop[1] = oh;
    crop[4] = side;
    if (center) {
        /* torchvision CenterCrop: int(round((size − side) / 2.0)), Python's round half to even */
        int dx = ow - side, dy = oh - side;
        crop[2] = dx / 2 + ((dx & 1) && ((dx / 2) & 1));
        crop[3] = dy / 2 + ((dy & 1) && ((dy / 2) & 1));
    } else {
        crop[2] = (int)(jf__train_mix64(key) % (uint64_t)(ow - side + 1));
        crop[3] = (int)(jf__train_mix64(key + 1) % (uint64_t)(oh - side + 1));
    }
}

typedef struct par_ctx {
    void (*fn)(void *, size_t);
    void *ctx;
    size_t n, next;
    pthread_mutex_t mu;
} par_ctx;

static void *par_main(void *arg)
{
    par_ctx *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            return NULL;
        p->fn(p->ctx, i);
    }
}

void jf__train_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    par_ctx p = {.fn = fn, .ctx = ctx, .n = n};
    pthread_mutex_init(&p.mu, NULL);
    int nt = threads < (int)n ? threads : (int)n;
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < nt && i < 64; i++)
        if (!pthread_create(&th[started], NULL, par_main, &p))
            started++;
    par_main(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
}

/* The crop as the encoder takes it: [3][side][side] in [−1, 1] (ToTensor, Normalize(0.5, 0.5)). */
void jf__train_crop_to_unit(const uint8_t *rgb, size_t side, float *img)
{
    size_t P = side * side;
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < P; i++)
            img[c * P + i] = ((float)rgb[i * 3 + c] / 255.0f - 0.5f) / 0.5f;
}

/* ---- reading a stored latent ---- */

static int col_int(const jf_record *rec, const char *name, int64_t *v)
{
    const jf_column *c = jf_record_find_column(rec, name);
    if (!c || c->type != JF_COL_INT)
        return -1;
    *v = c->i;
    return 0;
}

static int col_real(const jf_record *rec, const char *name, double *v)
{
    const jf_column *c = jf_record_find_column(rec, name);
    if (!c || (c->type != JF_COL_REAL && c->type != JF_COL_INT))
        return -1;
    *v = c->type == JF_COL_REAL ? c->d : (double)c->i;
    return 0;
}

int jf__train_stored_latent(jf_train *t, const char *key, jf__stored_latent *out, char *why, size_t wl)
{
    memset(out, 0, sizeof *out);
    jf_error e;
    jf_status s = jf_store_get(t->latents, key, t->lat_rec, &e);
    if (s == JF_ENOTFOUND)
        return 1;
    if (s) {
        snprintf(why, wl, "the latent store: %s", e.msg);
        return -1;
    }
    const jf_field *f = jf_record_find_field(t->lat_rec, JF__LATENT_FIELD);
    if (!f) {
        snprintf(why, wl, "the latent store's record has no %s field", JF__LATENT_FIELD);
        return -1;
    }
    uint64_t shape[4];
    int ndim;
    if (jf_npy_decode_f32(f->data, f->size, JF__LATENT_FIELD, &out->moments, shape, &ndim, &e)) {
        snprintf(why, wl, "%s", e.msg);
        return -1;
    }
    if (ndim != 4 || shape[0] != 2 || shape[1] != (uint64_t)t->lat_c || shape[2] != (uint64_t)t->lat_s ||
        shape[3] != (uint64_t)t->lat_s) {
        snprintf(why, wl, "the stored latent has shape (%llu, %llu, %llu, %llu) (%d dims); this model takes (2, %d, %d, %d)",
                 (unsigned long long)shape[0], (unsigned long long)shape[1], (unsigned long long)shape[2],
                 (unsigned long long)shape[3], ndim, t->lat_c, t->lat_s, t->lat_s);
        goto bad;
    }
    int64_t v[5];
    static const char *const names[5] = {"crop_w", "crop_h", "crop_x", "crop_y", "crop_side"};
    for (int i = 0; i < 5; i++)
        if (col_int(t->lat_rec, names[i], &v[i]) || v[i] < 0 || v[i] > 1 << 20) {
            snprintf(why, wl, "the stored latent has no valid %s column", names[i]);
            goto bad;
        }
    for (int i = 0; i < 5; i++)
        out->crop[i] = (int)v[i];
    if (out->crop[4] != t->crop) {
        snprintf(why, wl, "the stored latent is of a %d px crop; the batches take %d px", out->crop[4], t->crop);
        goto bad;
    }
    if (col_real(t->lat_rec, "latent_scaling", &out->scale) || col_real(t->lat_rec, "latent_shift", &out->shift)) {
        snprintf(why, wl, "the stored latent has no latent_scaling / latent_shift columns");
        goto bad;
    }
    /* the resize filter (stores written before it was recorded: bilinear, the only one then) */
    const jf_column *rs = jf_record_find_column(t->lat_rec, "latent_resample");
    const char *filter = rs && rs->type == JF_COL_TEXT ? rs->s : "bilinear";
    if (strcmp(filter, jf_resample_name(t->o.gen_resample))) {
        snprintf(why, wl, "the stored latent is of a %s resize; the batches resize with %s (--gen-resample)", filter,
                 jf_resample_name(t->o.gen_resample));
        goto bad;
    }
    const jf_column *vh = jf_record_find_column(t->lat_rec, "latent_vae");
    if (t->vae && (!vh || vh->type != JF_COL_TEXT || strcmp(vh->s, jf_vae_weights_hash(t->vae)))) {
        snprintf(why, wl, "the stored latent was encoded by VAE %s, not the --vae given (%s)",
                 vh && vh->type == JF_COL_TEXT ? vh->s : "?", jf_vae_weights_hash(t->vae));
        goto bad;
    }
    size_t Z = (size_t)t->lat_c * t->lat_s * t->lat_s;
    for (size_t i = 0; i < 2 * Z; i++)
        if (!isfinite(out->moments[i])) {
            snprintf(why, wl, "the stored latent holds a non-finite value at %zu", i);
            goto bad;
        }
    return 0;
bad:
    free(out->moments);
    out->moments = NULL;
    return -1;
}

jf_status jf_train_set_latents(jf_train *t, jf_store *latents, jf_error *err)
{
    if (!t->lat_rec && !(t->lat_rec = jf_record_create()))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    t->latents = latents;
    return JF_OK;
}

/* ---- encoding ---- */

jf_latent_params jf_latent_default_params(void)
{
    jf_latent_params p = {.crop_size = 384, .center = 1, .resample = JF_RESAMPLE_BILINEAR, .part_n = 1};
    return p;
}

typedef struct enc_item {
    int64_t id;
    char key[4097];
    jf_record *rec;
    uint8_t *crop_rgb;
    int crop[5];
    char why[1400];
} enc_item;

typedef struct enc_ctx {
    const jf_latent_params *p;
    enc_item *items;
} enc_ctx;

/* The crop of an item, decoded straight into (the item is found by the thread's current index). */
typedef struct enc_region_ctx {
    enc_ctx *c;
    enc_item *it;
} enc_region_ctx;

static int enc_region(void *arg, int w, int h, jf_image_region *r, char *why, size_t wl)
{
    enc_region_ctx *g = arg;
    const jf_latent_params *p = g->c->p;
    enc_item *it = g->it;
    uint64_t key = jf__train_key(p->seed, 1, (uint64_t)it->id, p->epoch);
    jf__train_crop_geometry(p->crop_size, w, h, p->center, key, it->crop);
    (void)why, (void)wl;
    *r = (jf_image_region){it->crop[0], it->crop[1], it->crop[2], it->crop[3], it->crop[4], it->crop[4], it->crop_rgb,
                           (size_t)it->crop[4] * 3};
    return 0;
}

static void enc_prepare(void *arg, size_t i)
{
    enc_ctx *c = arg;
    enc_item *it = &c->items[i];
    const jf_field *f = NULL;
    for (size_t k = 0; k < jf_record_field_count(it->rec) && !f; k++)
        if (jf_record_field(it->rec, k)->type == JF_FIELD_IMAGE)
            f = jf_record_field(it->rec, k);
    if (!f) {
        snprintf(it->why, sizeof it->why, "no image field");
        return;
    }
    jf_error e;
    it->crop_rgb = malloc((size_t)c->p->crop_size * c->p->crop_size * 3);
    if (!it->crop_rgb)
        snprintf(it->why, sizeof it->why, "out of memory");
    else if (jf_image_decode_region(f->data, f->size, NULL, c->p->resample, enc_region, &(enc_region_ctx){c, it}, &e) ==
             JF_OK)
        return;
    else
        snprintf(it->why, sizeof it->why, "image %s: %s", f->name, e.msg);
    free(it->crop_rgb);
    it->crop_rgb = NULL;
}

/* The job's fingerprint: the source dataset, the selection and every parameter that changes a
 * latent, and the part count, so that parts of different jobs are never merged. */
static void job_fingerprint(jf_store *src, const int64_t *ids, size_t n, jf_vae *vae, const jf_latent_params *p,
                            char job[17])
{
    XXH64_state_t *h = XXH64_createState();
    XXH64_reset(h, 0x6c6174656e7473ull);
    char *real = realpath(jf_store_dir(src), NULL);
    const char *dir = real ? real : jf_store_dir(src);
    XXH64_update(h, dir, strlen(dir) + 1);
    free(real);
    XXH64_update(h, ids, n * sizeof *ids);
    char tail[512];
    snprintf(tail, sizeof tail, "vae=%s size=%d center=%d seed=%llu epoch=%llu resample=%d f32=%d parts=%u",
             jf_vae_weights_hash(vae), p->crop_size, p->center, (unsigned long long)p->seed,
             (unsigned long long)p->epoch, (int)p->resample, p->f32, p->part_n);
    XXH64_update(h, tail, strlen(tail));
    snprintf(job, 17, "%016llx", (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static jf_status encode_one(jf_vae *vae, const jf_latent_params *p, const char *mode, enc_item *it, float *img,
                            float *mv, uint16_t *half, jf_record *out, jf_writer *w, double *enc_s, jf_error *err)
{
    const jf_vae_config *vc = jf_vae_get_config(vae);
    int side = it->crop[4], factor = 1 << (vc->blocks - 1), S = side / factor;
    size_t Z = (size_t)vc->latent_channels * S * S;
    jf__train_crop_to_unit(it->crop_rgb, (size_t)side, img);
    double t0 = now_s();
    jf_model_error me;
    if (jf_vae_encode(vae, img, side, side, mv, mv + Z, &me))
        return jf_error_set(err, JF_EIO, "VAE encoder on sample %s: %s", it->key, me.msg);
    *enc_s += now_s() - t0;
    jf_npy_array a = {"latent", p->f32 ? "<f4" : "<f2", 4, {2, (uint64_t)vc->latent_channels, (uint64_t)S, (uint64_t)S}, mv};
    if (!p->f32) {
        for (size_t i = 0; i < 2 * Z; i++)
            half[i] = jf_f32_to_f16(mv[i]);
        a.data = half;
    }
    size_t len;
    uint8_t *npy = jf_npy_encode(&a, &len);
    if (!npy)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_record_reset(out);
    jf_record_set_kind(out, JF_KIND_GENERATION);
    jf_status s = jf_record_set_key(out, it->key, err);
    if (!s)
        s = jf_record_add_field(out, JF__LATENT_FIELD, JF_FIELD_BYTES, npy, len, err);
    free(npy);
    static const char *const names[5] = {"crop_w", "crop_h", "crop_x", "crop_y", "crop_side"};
    for (int i = 0; !s && i < 5; i++)
        s = jf_record_set_int(out, names[i], it->crop[i], err);
    if (!s)
        s = jf_record_set_text(out, "latent_vae", jf_vae_weights_hash(vae), err);
    if (!s)
        s = jf_record_set_real(out, "latent_scaling", vc->scaling_factor, err);
    if (!s)
        s = jf_record_set_real(out, "latent_shift", vc->shift_factor, err);
    if (!s)
        s = jf_record_set_text(out, "latent_crop", mode, err);
    if (!s)
        s = jf_record_set_text(out, "latent_resample", jf_resample_name(p->resample), err);
    if (!s)
        s = jf_record_set_text(out, "latent_dtype", p->f32 ? "float32" : "float16", err);
    if (!s)
        s = jf_writer_add(w, out, err);
    return s;
}

jf_status jf_train_encode_latents(jf_store *src, const int64_t *ids, size_t n, jf_vae *vae, jf_store *out,
                                  const jf_latent_params *p, jf_latent_report *r, jf_error *err)
{
    memset(r, 0, sizeof *r);
    double t_start = now_s();
    const jf_vae_config *vc = jf_vae_get_config(vae);
    int factor = 1 << (vc->blocks - 1);
    if (!vc->has_encoder)
        return jf_error_set(err, JF_EARG, "the VAE has no encoder weights");
    if (p->crop_size < factor || p->crop_size % factor || p->crop_size > 8192)
        return jf_error_set(err, JF_EARG, "the crop size %d is not a multiple of the VAE's factor %d", p->crop_size, factor);
    if (p->part_n < 1 || p->part_k >= p->part_n)
        return jf_error_set(err, JF_EARG, "bad part %u/%u", p->part_k, p->part_n);
    r->selected = n;
    char job[17], mode[96];
    job_fingerprint(src, ids, n, vae, p, job);
    if (p->center)
        snprintf(mode, sizeof mode, "center");
    else
        snprintf(mode, sizeof mode, "keyed seed=%llu epoch=%llu", (unsigned long long)p->seed, (unsigned long long)p->epoch);
    jf_status s = p->part_n > 1 ? jf_store_set_part(out, job, p->part_k, p->part_n, err) : JF_OK;
    if (s)
        return s;
    for (size_t i = 0; i < n; i++)
        r->in_part += i % p->part_n == p->part_k;
    int S = p->crop_size / factor, side = p->crop_size;
    size_t Z = (size_t)vc->latent_channels * S * S;
    int threads = p->threads > 0 ? p->threads : jf_model_threads();
    size_t chunk = (size_t)(threads > 0 ? threads : 1) * 2;
    enc_item *items = calloc(chunk, sizeof *items);
    float *img = malloc((size_t)3 * side * side * sizeof *img), *mv = malloc(2 * Z * sizeof *mv);
    uint16_t *half = malloc(2 * Z * sizeof *half);
    jf_record *rec_out = jf_record_create(), *probe = jf_record_create();
    if (!items || !img || !mv || !half || !rec_out || !probe)
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < chunk; i++)
        if (!(items[i].rec = jf_record_create()))
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_writer *w = NULL;
    if (!s) {
        jf_writer_params wp = jf_writer_default_params();
        wp.use_dict = 0; /* the only field is binary */
        wp.source = "latents";
        s = jf_writer_create(out, &wp, &w, err);
    }
    double last_flush = now_s();
    uint64_t since_flush = 0, done = 0;
    size_t i = 0;
    while (!s && i < n) {
        /* the next chunk of this part's samples that the store does not hold yet (in order) */
        size_t m = 0;
        for (; i < n && m < chunk && !s; i++) {
            if (i % p->part_n != p->part_k)
                continue;
            enc_item *it = &items[m];
            it->id = ids[i];
            it->why[0] = 0;
            free(it->crop_rgb);
            it->crop_rgb = NULL;
            s = jf_store_get_row(src, ids[i], it->rec, err);
            if (s)
                break;
            snprintf(it->key, sizeof it->key, "%s", jf_record_key(it->rec));
            jf_error ge;
            jf_status g = jf_store_get(out, it->key, probe, &ge);
            if (g == JF_OK) {
                r->skipped++;
                done++;
                continue;
            }
            if (g != JF_ENOTFOUND) {
                s = jf_error_set(err, ge.code, "%s", ge.msg);
                break;
            }
            m++;
        }
        if (s || !m)
            continue;
        enc_ctx ec = {p, items};
        jf__train_parallel(threads, m, enc_prepare, &ec);
        for (size_t j = 0; j < m && !s; j++) {
            enc_item *it = &items[j];
            if (it->why[0]) {
                r->bad++;
                if (p->on_problem)
                    p->on_problem(p->user, it->id, it->key, it->why);
            } else {
                s = encode_one(vae, p, mode, it, img, mv, half, rec_out, w, &r->encode_seconds, err);
                if (!s) {
                    r->encoded++;
                    since_flush++;
                }
            }
            done++;
            if (p->progress)
                p->progress(p->user, done, r->in_part);
        }
        /* finalize a shard now and then: a killed task loses at most this much work */
        if (!s && since_flush && (since_flush >= 1024 || now_s() - last_flush > 30)) {
            s = jf_writer_flush(w, err);
            since_flush = 0;
            last_flush = now_s();
        }
    }
    if (w) {
        jf_error ce = {0};
        if (s)
            jf_writer_abort(w);
        else if (jf_writer_close(w, &ce))
            s = jf_error_set(err, ce.code, "%s", ce.msg);
    }
    for (size_t k = 0; items && k < chunk; k++) {
        jf_record_destroy(items[k].rec);
        free(items[k].crop_rgb);
    }
    free(items);
    free(img);
    free(mv);
    free(half);
    jf_record_destroy(rec_out);
    jf_record_destroy(probe);
    r->seconds = now_s() - t_start;
    return s;
}
