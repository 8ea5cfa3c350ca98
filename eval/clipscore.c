/* CLIP score (evaluation.md §2): image preprocessing of the Hugging Face (PIL) and OpenAI paths,
 * and the three score definitions over (image, caption) pairs. */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

int jf_clip_preprocess(const uint8_t *rgb, int w, int h, int size, int openai, float *out)
{
    /* shorter side to size, the longer int(size · long / short), PIL bicubic on 8 bits */
    int nw, nh;
    if (w <= h) {
        nw = size;
        nh = (int)((double)size * h / w);
    } else {
        nh = size;
        nw = (int)((double)size * w / h);
    }
    uint8_t *r = malloc((size_t)nw * nh * 3);
    if (!r || jf_resample_rgb(rgb, w, h, r, nw, nh, JF_RESAMPLE_BICUBIC)) {
        free(r);
        return -1;
    }
    /* centre crop: torchvision rounds half to even, Hugging Face floors */
    int top = openai ? (int)nearbyint((nh - size) / 2.0) : (nh - size) / 2;
    int left = openai ? (int)nearbyint((nw - size) / 2.0) : (nw - size) / 2;
    size_t plane = (size_t)size * size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = r[((size_t)(y + top) * nw + (size_t)(x + left)) * 3 + (size_t)c];
                /* OpenAI: ToTensor divides in float; Hugging Face multiplies by 1/255 in double */
                float f = openai ? (float)v / 255.0f : (float)((double)v * (1.0 / 255.0));
                out[(size_t)c * plane + (size_t)y * size + x] = (f - clip_mean[c]) / clip_std[c];
            }
    free(r);
    return 0;
}

const char *jf_clipscore_kind_name(jf_clipscore_kind k)
{
    return k == JF_CLIPSCORE_TORCHMETRICS ? "torchmetrics" : k == JF_CLIPSCORE_HESSEL ? "hessel" : "cosine";
}

int jf_clipscore_kind_parse(const char *name, jf_clipscore_kind *out)
{
    if (!strcmp(name, "torchmetrics"))
        *out = JF_CLIPSCORE_TORCHMETRICS;
    else if (!strcmp(name, "hessel") || !strcmp(name, "clipscore"))
        *out = JF_CLIPSCORE_HESSEL;
    else if (!strcmp(name, "cosine") || !strcmp(name, "gigagan"))
        *out = JF_CLIPSCORE_COSINE;
    else
        return -1;
    return 0;
}

double jf_clip_cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
}

double jf_clipscore_sample(jf_clipscore_kind kind, double cosine)
{
    switch (kind) {
    case JF_CLIPSCORE_TORCHMETRICS: return 100.0 * cosine; /* clamped after averaging */
    case JF_CLIPSCORE_HESSEL: return 2.5 * (cosine > 0 ? cosine : 0);
    default: return cosine;
    }
}

double jf_clipscore_total(jf_clipscore_kind kind, const double *samples, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += samples[i];
    double mean = n ? s / (double)n : 0;
    return kind == JF_CLIPSCORE_TORCHMETRICS && mean < 0 ? 0 : mean;
}
