/* Image → FID Inception input, one function per reference tool (evaluation.md §1.1–1.2). */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S 299

const char *jf_fid_mode_name(jf_fid_mode m)
{
    switch (m) {
    case JF_FID_CLEAN: return "clean";
    case JF_FID_PYTORCH: return "pytorch-fid";
    case JF_FID_LEGACY_TF: return "legacy-tensorflow";
    case JF_FID_TORCHMETRICS: return "torchmetrics";
    }
    return "?";
}

int jf_fid_mode_parse(const char *name, jf_fid_mode *out)
{
    static const struct { const char *n; jf_fid_mode m; } map[] = {
        /* clean-fid's own names: legacy_pytorch resizes with F.interpolate bilinear before the
         * network, pytorch-fid inside it after the affine scaling: the same up to float rounding */
        {"clean", JF_FID_CLEAN}, {"clean-fid", JF_FID_CLEAN}, {"pytorch-fid", JF_FID_PYTORCH}, {"pytorch", JF_FID_PYTORCH},
        {"legacy_pytorch", JF_FID_PYTORCH}, {"legacy-pytorch", JF_FID_PYTORCH},
        {"legacy-tensorflow", JF_FID_LEGACY_TF}, {"legacy_tensorflow", JF_FID_LEGACY_TF}, {"torch-fidelity", JF_FID_LEGACY_TF},
        {"tensorflow", JF_FID_LEGACY_TF}, {"torchmetrics", JF_FID_TORCHMETRICS}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(name, map[i].n)) {
            *out = map[i].m;
            return 0;
        }
    return -1;
}

/* PyTorch's bilinear, align_corners=False, no antialias (upsample_bilinear2d on CPU): per axis
 * scale = in/out as a float, src = max(scale·(i + 0.5) − 0.5, 0) in double (the CPU
 * accumulation type), λ1 = float(src − i0), λ0 = 1 − λ1 in float; the output blends rows of
 * column blends: (x00·w0 + x01·w1)·h0 + (x10·w0 + x11·w1)·h1 in float. Agrees with PyTorch 1.13
 * to one float ulp (its vectorised kernel may fuse multiply-adds). */
static void torch_bilinear(const float *in, int w, int h, float *out)
{
    int x0[S], x1[S], y0[S], y1[S];
    float wx0[S], wx1[S], wy0[S], wy1[S];
    float sx = (float)w / (float)S, sy = (float)h / (float)S;
    for (int i = 0; i < S; i++) {
        double s = (double)sx * (i + 0.5) - 0.5;
        if (s < 0)
            s = 0;
        x0[i] = (int)s;
        x1[i] = x0[i] + (x0[i] < w - 1 ? 1 : 0);
        wx1[i] = (float)(s - x0[i]);
        wx0[i] = 1.0f - wx1[i];
        s = (double)sy * (i + 0.5) - 0.5;
        if (s < 0)
            s = 0;
        y0[i] = (int)s;
        y1[i] = y0[i] + (y0[i] < h - 1 ? 1 : 0);
        wy1[i] = (float)(s - y0[i]);
        wy0[i] = 1.0f - wy1[i];
    }
    for (int oy = 0; oy < S; oy++) {
        const float *r0 = in + (size_t)y0[oy] * w, *r1 = in + (size_t)y1[oy] * w;
        for (int ox = 0; ox < S; ox++) {
            float t0 = r0[x0[ox]] * wx0[ox];
            t0 += r0[x1[ox]] * wx1[ox];
            float t1 = r1[x0[ox]] * wx0[ox];
            t1 += r1[x1[ox]] * wx1[ox];
            float v = t0 * wy0[oy];
            v += t1 * wy1[oy];
            out[(size_t)oy * S + ox] = v;
        }
    }
}

/* TensorFlow 1.x bilinear (align_corners=False, no half-pixel centres) as torch-fidelity's
 * exact CPU method computes it: grid = i · float32(in/out), lo = trunc, hi = min(lo + 1, in − 1),
 * d = grid − lo; top = a + (b − a)·dx, bottom likewise, out = top + (bottom − top)·dy. */
static void tf1_bilinear(const float *in, int w, int h, float *out)
{
    int xl[S], xh[S], yl[S], yh[S];
    float dx[S], dy[S];
    float sx = (float)((double)w / S), sy = (float)((double)h / S);
    for (int i = 0; i < S; i++) {
        float g = (float)i * sx;
        xl[i] = (int)g;
        xh[i] = xl[i] + 1 < w ? xl[i] + 1 : w - 1;
        dx[i] = g - (float)xl[i];
        g = (float)i * sy;
        yl[i] = (int)g;
        yh[i] = yl[i] + 1 < h ? yl[i] + 1 : h - 1;
        dy[i] = g - (float)yl[i];
    }
    for (int oy = 0; oy < S; oy++) {
        const float *r0 = in + (size_t)yl[oy] * w, *r1 = in + (size_t)yh[oy] * w;
        for (int ox = 0; ox < S; ox++) {
            float a = r0[xl[ox]], b = r0[xh[ox]], c = r1[xl[ox]], d = r1[xh[ox]];
            float top = a + (b - a) * dx[ox];
            float bot = c + (d - c) * dx[ox];
            out[(size_t)oy * S + ox] = top + (bot - top) * dy[oy];
        }
    }
}

/* PyTorch's antialiased bilinear (F.interpolate(..., antialias=True), align_corners=False) on
 * CPU: Pillow's construction of a triangle filter widened by the downscale factor, but with the
 * scale, centres and weights in float and float accumulation; width first, then height. */
typedef struct aa_axis {
    int *lo, *n, ks;
    float *wt;
} aa_axis;

static int aa_weights(int in, int out, aa_axis *a)
{
    float scale = (float)in / (float)out;
    float support = scale >= 1.0f ? scale : 1.0f; /* interp_size 2 × 0.5, widened */
    float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    a->ks = (int)ceilf(support) * 2 + 1;
    a->lo = malloc((size_t)out * sizeof *a->lo);
    a->n = malloc((size_t)out * sizeof *a->n);
    a->wt = calloc((size_t)out * a->ks, sizeof *a->wt);
    if (!a->lo || !a->n || !a->wt)
        return -1;
    for (int i = 0; i < out; i++) {
        float center = scale * ((float)i + 0.5f);
        int xmin = (int)(center - support + 0.5f);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5f);
        if (xmax > in)
            xmax = in;
        int n = xmax - xmin;
        if (n > a->ks)
            n = a->ks;
        float total = 0, *w = a->wt + (size_t)i * a->ks;
        for (int j = 0; j < n; j++) {
            float x = ((float)(j + xmin) - center + 0.5f) * invscale;
            x = x < 0 ? -x : x;
            w[j] = x < 1.0f ? 1.0f - x : 0.0f;
            total += w[j];
        }
        for (int j = 0; j < n && total != 0.0f; j++)
            w[j] /= total;
        a->lo[i] = xmin;
        a->n[i] = n;
    }
    return 0;
}

static void aa_free(aa_axis *a)
{
    free(a->lo);
    free(a->n);
    free(a->wt);
}

static int torch_bilinear_aa(const float *in, int w, int h, float *out)
{
    aa_axis ax = {0}, ay = {0};
    float *tmp = malloc((size_t)S * h * sizeof *tmp);
    int rc = tmp && !aa_weights(w, S, &ax) && !aa_weights(h, S, &ay) ? 0 : -1;
    for (int y = 0; !rc && y < h; y++)
        for (int x = 0; x < S; x++) {
            const float *src = in + (size_t)y * w + ax.lo[x], *wt = ax.wt + (size_t)x * ax.ks;
            float acc = src[0] * wt[0];
            for (int j = 1; j < ax.n[x]; j++)
                acc += src[j] * wt[j];
            tmp[(size_t)y * S + x] = acc;
        }
    for (int y = 0; !rc && y < S; y++) {
        const float *wt = ay.wt + (size_t)y * ay.ks;
        for (int x = 0; x < S; x++) {
            const float *src = tmp + (size_t)ay.lo[y] * S + x;
            float acc = src[0] * wt[0];
            for (int j = 1; j < ay.n[y]; j++)
                acc += src[(size_t)j * S] * wt[j];
            out[(size_t)y * S + x] = acc;
        }
    }
    aa_free(&ax);
    aa_free(&ay);
    free(tmp);
    return rc;
}

int jf_fid_preprocess(const uint8_t *rgb, int w, int h, jf_fid_mode mode, float *out)
{
    float *plane = malloc((size_t)w * h * sizeof *plane);
    if (!plane)
        return -1;
    int rc = 0;
    for (int c = 0; c < 3 && !rc; c++) {
        float *dst = out + (size_t)c * S * S;
        for (size_t i = 0; i < (size_t)w * h; i++)
            plane[i] = mode == JF_FID_PYTORCH ? (float)rgb[i * 3 + (size_t)c] / 255.0f : (float)rgb[i * 3 + (size_t)c];
        switch (mode) {
        case JF_FID_CLEAN:
            /* PIL bicubic on the float channel, clip to [0, 255], (x − 128)/128 */
            rc = jf_resample_float(plane, w, h, dst, S, S, JF_RESAMPLE_BICUBIC);
            for (size_t i = 0; !rc && i < (size_t)S * S; i++) {
                float v = dst[i] < 0 ? 0 : dst[i] > 255 ? 255 : dst[i];
                dst[i] = (v - 128.0f) / 128.0f;
            }
            break;
        case JF_FID_TORCHMETRICS:
            /* antialiased bilinear on [0, 255] */
            rc = torch_bilinear_aa(plane, w, h, dst);
            for (size_t i = 0; !rc && i < (size_t)S * S; i++)
                dst[i] = (dst[i] - 128.0f) / 128.0f;
            break;
        case JF_FID_PYTORCH:
            /* x/255 (ToTensor), bilinear inside the network, 2x − 1 */
            torch_bilinear(plane, w, h, dst);
            for (size_t i = 0; i < (size_t)S * S; i++)
                dst[i] = 2.0f * dst[i] - 1.0f;
            break;
        case JF_FID_LEGACY_TF:
            tf1_bilinear(plane, w, h, dst);
            for (size_t i = 0; i < (size_t)S * S; i++)
                dst[i] = (dst[i] - 128.0f) / 128.0f;
            break;
        }
    }
    free(plane);
    return rc;
}

int jf_fid_gigagan_crop(const uint8_t *rgb, int w, int h, int size, uint8_t *out)
{
    int s = w < h ? w : h;
    /* torchvision center_crop: int(round((H − s) / 2.0)), round half to even */
    int top = (int)nearbyint((h - s) / 2.0), left = (int)nearbyint((w - s) / 2.0);
    uint8_t *crop = malloc((size_t)s * s * 3);
    if (!crop)
        return -1;
    for (int y = 0; y < s; y++)
        memcpy(crop + (size_t)y * s * 3, rgb + ((size_t)(y + top) * w + left) * 3, (size_t)s * 3);
    int rc = jf_resample_rgb(crop, s, s, out, size, size, JF_RESAMPLE_LANCZOS);
    free(crop);
    return rc;
}
