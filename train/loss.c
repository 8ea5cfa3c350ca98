/* The three objectives of spec §6.1 on one sample, with the built-in model:
 *   AR    mean next-token NLL over the scored (reply) tokens;
 *   RF    z_t = t·x + (1−t)·z0, target x − z0, mean squared error of v(z_t, 1000·t) over the
 *         latent (the mean reduction; the paper's ‖·‖² is unconfirmed, spec §8.6);
 *   REPA  −mean over the image positions of the cosine similarity between h_φ(LLM hidden states
 *         after decoder layer k) and the SigLIP features of the clean crop (REPA's
 *         F.normalize-then-dot), the features average-pooled to the generation grid when the
 *         two grids differ (tiny test models only: the release has 24×24 on both sides). */
#include "jf_train.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>

jf_train_loss_options jf_train_default_loss_options(void)
{
    jf_train_loss_options o = {.repa_layer = 6, .repa_weight = 1.0};
    return o;
}

static jf_status model_err(jf_error *err, const jf_train_sample *s, const jf_model_error *me)
{
    return jf_error_set(err, me->code == JF_MODEL_ENOMEM ? JF_ENOMEM : JF_EARG, "sample %s: %s", s->key, me->msg);
}

static jf_status ar_loss(jf_train *t, const jf_train_sample *s, jf_train_loss *out, jf_error *err)
{
    size_t S = (size_t)t->spec.size, per = 3 * S * S;
    float *pixels = s->n_images ? malloc(s->n_images * per * sizeof *pixels) : NULL;
    const float **imgs = s->n_images ? malloc(s->n_images * sizeof *imgs) : NULL;
    if (s->n_images && (!pixels || !imgs)) {
        free(pixels);
        free(imgs);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < s->n_images; k++) {
        jf_janus_image_to_pixels(&t->spec, s->images + k * S * S * 3, pixels + k * per);
        imgs[k] = pixels + k * per;
    }
    double sum = 0;
    size_t count = 0;
    jf_model_error me;
    jf_status st = JF_OK;
    if (jf_janus_token_nll(t->m, s->ids, s->labels, s->n_ids, imgs, s->n_images, NULL, &sum, &count, &me))
        st = model_err(err, s, &me);
    free(pixels);
    free(imgs);
    if (st)
        return st;
    out->ar_tokens = count;
    out->ar = count ? sum / (double)count : NAN;
    out->total = out->ar;
    out->scored = count > 0;
    return JF_OK;
}

/* SigLIP features of the crop (letterboxed to the understanding size: the identity at the
 * release's 384 px), pooled to grid G × G → target [G², width]. */
static jf_status repa_target(jf_train *t, const jf_train_sample *s, int G, float *target, jf_error *err)
{
    const jf_janus_config *c = t->c;
    int U = (int)lround(sqrt((double)c->image_tokens)), W = c->vit_width;
    if (U * U != c->image_tokens || U % G)
        return jf_error_set(err, JF_EARG, "REPA: the SigLIP grid (%d tokens) does not pool to the %dx%d generation grid",
                            c->image_tokens, G, G);
    size_t S = (size_t)t->spec.size;
    uint8_t *box = malloc(S * S * 3);
    float *pixels = malloc(3 * S * S * sizeof *pixels), *feat = malloc((size_t)c->image_tokens * W * sizeof *feat);
    jf_status st = box && pixels && feat ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_error e;
    if (!st && jf_image_letterbox(s->crop_rgb, s->crop[4], s->crop[4], (int)S, t->spec.min_size, t->spec.background,
                                  JF_RESAMPLE_BICUBIC, box, &e))
        st = jf_error_set(err, e.code, "sample %s: %s", s->key, e.msg);
    jf_model_error me;
    if (!st) {
        jf_janus_image_to_pixels(&t->spec, box, pixels);
        if (jf_janus_encode_image(t->m, pixels, feat, &me))
            st = model_err(err, s, &me);
    }
    if (!st) {
        int k = U / G;
        for (int gy = 0; gy < G; gy++)
            for (int gx = 0; gx < G; gx++) {
                float *o = target + ((size_t)gy * G + gx) * W;
                for (int w = 0; w < W; w++) {
                    float acc = 0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++)
                            acc += feat[((size_t)(gy * k + dy) * U + gx * k + dx) * W + w];
                    o[w] = k == 1 ? acc : acc / (float)(k * k);
                }
            }
    }
    free(box);
    free(pixels);
    free(feat);
    return st;
}

static double cosine_mean(const float *a, const float *b, size_t rows, size_t W)
{
    double total = 0;
    for (size_t r = 0; r < rows; r++) {
        double na = 0, nb = 0, dot = 0;
        for (size_t w = 0; w < W; w++) {
            na += (double)a[r * W + w] * a[r * W + w];
            nb += (double)b[r * W + w] * b[r * W + w];
            dot += (double)a[r * W + w] * b[r * W + w];
        }
        /* F.normalize: x / max(‖x‖, 1e-12) */
        total += dot / (fmax(sqrt(na), 1e-12) * fmax(sqrt(nb), 1e-12));
    }
    return total / (double)rows;
}

static jf_status gen_loss(jf_train *t, const jf_train_sample *s, const jf_train_loss_options *o, jf_train_loss *out,
                          jf_error *err)
{
    const jf_janus_config *c = t->c;
    if (!c->gen.present)
        return jf_error_set(err, JF_EARG, "the model has no generation heads");
    if (!s->latent)
        return jf_error_set(err, JF_EARG, "sample %s has no latent: give a VAE (--vae) or store latents first",
                            s->key);
    int G = c->gen.latent_side / c->gen.patch;
    size_t N = (size_t)G * G, H = (size_t)c->hidden, W = (size_t)c->vit_width;
    size_t Z = (size_t)t->lat_c * t->lat_s * t->lat_s;
    float *zt = malloc(Z * sizeof *zt), *v = malloc(Z * sizeof *v);
    float *hidden = o->repa ? malloc(N * H * sizeof *hidden) : NULL;
    float *proj = o->repa ? malloc(N * W * sizeof *proj) : NULL, *target = o->repa ? malloc(N * W * sizeof *target) : NULL;
    jf_status st = zt && v && (!o->repa || (hidden && proj && target)) ? JF_OK
                                                                        : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!st && o->repa) {
        int in, width, outw;
        jf_repa_dims(o->repa, &in, &width, &outw);
        if (in != (int)H || outw != (int)W)
            st = jf_error_set(err, JF_EARG, "the REPA projector maps %d → %d, the model needs %zu → %zu", in, outw, H, W);
        if (!st)
            st = repa_target(t, s, G, target, err);
    }
    int nt = t->o.eval_mode && o->n_fixed_t > 0 ? o->n_fixed_t : 1;
    double rf = 0, repa = 0;
    for (int k = 0; !st && k < nt; k++) {
        float tt = t->o.eval_mode && o->n_fixed_t > 0 ? o->fixed_t[k] : s->t;
        for (size_t i = 0; i < Z; i++)
            zt[i] = tt * s->latent[i] + (1.0f - tt) * s->noise[i];
        jf_model_error me;
        if (jf_janus_rf_velocity(t->m, s->ids, s->n_ids, s->dropped, zt, 1000.0f * tt, o->repa ? o->repa_layer : 0,
                                 hidden, v, &me)) {
            st = model_err(err, s, &me);
            break;
        }
        double se = 0;
        for (size_t i = 0; i < Z; i++) {
            double d = (double)v[i] - ((double)s->latent[i] - (double)s->noise[i]);
            se += d * d;
        }
        rf += se / (double)Z;
        if (o->repa) {
            if (jf_repa_project(o->repa, hidden, N, proj, &me)) {
                st = model_err(err, s, &me);
                break;
            }
            repa += -cosine_mean(proj, target, N, W);
        }
    }
    free(zt);
    free(v);
    free(hidden);
    free(proj);
    free(target);
    if (st)
        return st;
    out->rf = rf / nt;
    out->repa = o->repa ? repa / nt : 0;
    out->total = out->rf + (o->repa ? o->repa_weight * out->repa : 0);
    out->scored = 1;
    return JF_OK;
}

jf_status jf_train_loss_of(jf_train *t, const jf_train_sample *s, const jf_train_loss_options *o, jf_train_loss *out,
                           jf_error *err)
{
    jf_train_loss_options d = jf_train_default_loss_options();
    if (!o)
        o = &d;
    memset(out, 0, sizeof *out);
    out->role = s->role;
    out->ar = out->rf = out->repa = out->total = NAN;
    if (s->status && s->status != JF_TS_TRUNCATED)
        return JF_OK; /* counted by the batch; nothing to score */
    if (s->role == JF_TRAIN_GEN)
        return gen_loss(t, s, o, out, err);
    return ar_loss(t, s, out, err);
}
