/* Features of an image source through the FID Inception, batch by batch. */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jf_feature_set_free(jf_feature_set *f)
{
    if (!f)
        return;
    free(f->feats);
    f->feats = NULL;
}

static jf_status run_batch(jf_inception *net, const float *in, int b, jf_feature_set *out, jf_error *err)
{
    jf_model_error me;
    if (jf_inception_features(net, in, b, out->feats + out->n * 2048, &me))
        return jf_error_set(err, JF_ENOMEM, "%s", me.msg);
    for (size_t i = out->n * 2048; i < (out->n + (size_t)b) * 2048; i++)
        if (!isfinite(out->feats[i]))
            return jf_error_set(err, JF_ECORRUPT, "the network produced NaN or infinite features (weights damaged?)");
    out->n += (size_t)b;
    return JF_OK;
}

jf_status jf_fid_features(jf_inception *net, const char *source, const jf_fid_params *p, jf_feature_set *out,
                          jf_error *err)
{
    memset(out, 0, sizeof *out);
    jf_image_source *src = NULL;
    jf_status s = jf_image_source_open(source, &src, err);
    if (s)
        return s;
    int batch = p->batch > 0 ? p->batch : 16;
    size_t plane = (size_t)3 * 299 * 299, cap = 0;
    float *in = malloc((size_t)batch * plane * sizeof *in);
    uint8_t *crop = p->gigagan_size > 0 ? malloc((size_t)p->gigagan_size * p->gigagan_size * 3) : NULL;
    if (!in || (p->gigagan_size > 0 && !crop))
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    int filled = 0;
    uint64_t total = jf_image_source_total(src);
    if (p->limit && (!total || total > p->limit))
        total = p->limit;
    uint64_t index = 0; /* the image's position in the source, for --part */
    while (!s && (!p->limit || out->seen < p->limit)) {
        jf_image_item it;
        s = jf_image_source_next(src, &it, err);
        if (s == JF_ENOTFOUND) {
            s = JF_OK;
            break;
        }
        if (s)
            break;
        if (p->part_n > 1 && index++ % p->part_n != p->part_k)
            continue; /* another part's image: not decoded */
        out->seen++;
        uint8_t *rgb = NULL;
        int w, h;
        jf_error de = {0};
        if (jf_image_decode_rgb(it.data, it.size, NULL, &rgb, &w, &h, &de)) {
            if (!out->undecodable++)
                snprintf(out->first_bad, sizeof out->first_bad, "%s: %s", it.name, de.msg);
            continue;
        }
        const uint8_t *pix = rgb;
        if (crop) {
            if (jf_fid_gigagan_crop(rgb, w, h, p->gigagan_size, crop)) {
                free(rgb);
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            pix = crop;
            w = h = p->gigagan_size;
        }
        int rc = jf_fid_preprocess(pix, w, h, p->mode, in + (size_t)filled * plane);
        free(rgb);
        if (rc) {
            s = jf_error_set(err, JF_ENOMEM, "out of memory preprocessing %s", it.name);
            break;
        }
        if (++filled == batch) {
            if (out->n + (size_t)batch > cap) {
                cap = cap ? cap * 2 : 1024;
                float *f = realloc(out->feats, cap * 2048 * sizeof *f);
                if (!f) {
                    s = jf_error_set(err, JF_ENOMEM, "out of memory for features");
                    break;
                }
                out->feats = f;
            }
            s = run_batch(net, in, filled, out, err);
            filled = 0;
            if (p->progress)
                p->progress(p->user, out->seen, total);
        }
    }
    if (!s && filled) {
        if (out->n + (size_t)filled > cap) {
            float *f = realloc(out->feats, (out->n + (size_t)filled) * 2048 * sizeof *f);
            if (!f)
                s = jf_error_set(err, JF_ENOMEM, "out of memory for features");
            else
                out->feats = f;
        }
        if (!s)
            s = run_batch(net, in, filled, out, err);
    }
    if (p->progress)
        p->progress(p->user, out->seen, total);
    free(in);
    free(crop);
    jf_image_source_close(src);
    if (s)
        jf_feature_set_free(out);
    return s;
}
