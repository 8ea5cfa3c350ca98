/* Full decoding to RGB and resampling for ingest's resize modes.
 *
 * The resampler follows Pillow's 8-bit algorithm (Resample.c): separable convolution whose
 * support widens with the scale factor (antialiasing when shrinking), coefficients normalised
 * per output pixel and rounded to 22-bit fixed point, horizontal pass over the rows the vertical
 * pass needs, then the vertical pass. Results equal Image.resize on RGB images (tested against
 * Pillow). JPEGs shrunk by 2x or more are first decoded at a reduced DCT scale. */
#include "jf_shards.h"
#include "jpeg_err.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/encode.h>

#define PRECISION_BITS (32 - 8 - 2)

/* Tests set it to check the generic passes on machines with AVX2 (internal.h). */
atomic_int jf__resample_generic;

static double box_filter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }
static double bilinear_filter(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double bicubic_filter(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}
static double lanczos_filter(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

static const char *const resample_names[] = {"lanczos", "bicubic", "bilinear", "box"};

const char *jf_resample_name(jf_resample r) { return (unsigned)r < 4 ? resample_names[r] : "?"; }

int jf_resample_parse(const char *name, jf_resample *r)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, resample_names[k])) {
            *r = (jf_resample)k;
            return 0;
        }
    return -1;
}

typedef struct filter {
    double (*fn)(double);
    double support;
} filter;

static filter filter_of(jf_resample r)
{
    switch (r) {
    case JF_RESAMPLE_BOX: return (filter){box_filter, 0.5};
    case JF_RESAMPLE_BILINEAR: return (filter){bilinear_filter, 1.0};
    case JF_RESAMPLE_BICUBIC: return (filter){bicubic_filter, 2.0};
    default: return (filter){lanczos_filter, 3.0};
    }
}

/* Per output pixel: the first input index, the count, and fixed-point weights. */
/* Pillow's precompute_coeffs: per output index the first input index, the count, and the
 * normalised double weights (ksize per row). Returns ksize, or -1 when out of memory. */
static int precompute_double(int in_size, double in0, double in1, int out_size, filter f, int **bounds_out,
                             double **pre_out)
{
    double scale = (in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f.support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *pre = malloc((size_t)out_size * ksize * sizeof *pre);
    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    int32_t *kk = malloc((size_t)out_size * ksize * sizeof *kk);
    if (!pre || !bounds || !kk) {
        free(pre);
        free(bounds);
        free(kk);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double *k = &pre[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = f.fn((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    free(kk);
    *bounds_out = bounds;
    *pre_out = pre;
    return ksize;
}

/* The same weights in Pillow's 8-bit fixed point (PRECISION_BITS). */
static int precompute(int in_size, double in0, double in1, int out_size, filter f, int **bounds_out, int32_t **kk_out)
{
    double *pre = NULL;
    int ksize = precompute_double(in_size, in0, in1, out_size, f, bounds_out, &pre);
    if (ksize < 0)
        return -1;
    int32_t *kk = malloc((size_t)out_size * ksize * sizeof *kk);
    if (!kk) {
        free(pre);
        free(*bounds_out);
        return -1;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        kk[i] = pre[i] < 0 ? (int32_t)(-0.5 + pre[i] * (1 << PRECISION_BITS)) : (int32_t)(0.5 + pre[i] * (1 << PRECISION_BITS));
    free(pre);
    *kk_out = kk;
    return ksize;
}

/* Pillow's 'F' (32-bit float) resampling: each pass sums pixel × weight in double and stores a
 * float; a pass whose size does not change is skipped (Pillow copies). */
int jf_resample_float(const float *in, int w, int h, float *out, int ow, int oh, jf_resample method)
{
    filter f = filter_of(method);
    float *tmp = NULL;
    const float *src = in;
    int cw = w;
    if (ow != w) {
        int *b = NULL;
        double *k = NULL;
        int ks = precompute_double(w, 0, w, ow, f, &b, &k);
        tmp = ks > 0 ? malloc((size_t)ow * h * sizeof *tmp) : NULL;
        if (!tmp) {
            free(b);
            free(k);
            return -1;
        }
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < ow; xx++) {
                const double *kx = &k[(size_t)xx * ks];
                const float *p = in + (size_t)y * w + b[xx * 2];
                double ss = 0.0;
                for (int x = 0; x < b[xx * 2 + 1]; x++)
                    ss += p[x] * kx[x];
                tmp[(size_t)y * ow + xx] = (float)ss;
            }
        free(b);
        free(k);
        src = tmp;
        cw = ow;
    }
    if (oh != h) {
        int *b = NULL;
        double *k = NULL;
        int ks = precompute_double(h, 0, h, oh, f, &b, &k);
        if (ks < 0) {
            free(tmp);
            return -1;
        }
        for (int yy = 0; yy < oh; yy++) {
            const double *ky = &k[(size_t)yy * ks];
            for (int xx = 0; xx < cw; xx++) {
                double ss = 0.0;
                for (int y = 0; y < b[yy * 2 + 1]; y++)
                    ss += src[(size_t)(y + b[yy * 2]) * cw + xx] * ky[y];
                out[(size_t)yy * cw + xx] = (float)ss;
            }
        }
        free(b);
        free(k);
    } else {
        memcpy(out, src, (size_t)cw * h * sizeof *out);
    }
    free(tmp);
    return 0;
}


/* GCC vectorises at -O2 only with its cheapest cost model, which refuses these loops; clang
 * vectorises them at -O2 and has no optimize attribute. */
#if defined(__clang__)
#define JF_VECTORIZE
#else
#define JF_VECTORIZE __attribute__((optimize("O3")))
#endif

/* The inner loops of both passes: whole rows of contiguous bytes, int32 accumulators (exact in
 * any order, so the result is Pillow's whatever the vector width). Cloned for AVX2 and chosen
 * at run time, with the generic version as the fallback. */
__attribute__((target_clones("avx2", "default"))) JF_VECTORIZE static void acc_init(int32_t *acc, size_t n)
{
    for (size_t x = 0; x < n; x++)
        acc[x] = 1 << (PRECISION_BITS - 1);
}

__attribute__((target_clones("avx2", "default"))) JF_VECTORIZE static void acc_add(int32_t *restrict acc, const uint8_t *restrict src,
                                                                       size_t n, int32_t k)
{
    for (size_t x = 0; x < n; x++)
        acc[x] += (int32_t)src[x] * k;
}

__attribute__((target_clones("avx2", "default"))) JF_VECTORIZE static void acc_store(uint8_t *restrict dst, const int32_t *restrict acc,
                                                                         size_t n)
{
    for (size_t x = 0; x < n; x++) {
        int32_t v = acc[x] >> PRECISION_BITS;
        dst[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* The horizontal pass over a strip of up to STRIP rows held transposed, [w][col] with col =
 * rows · ch bytes per input column: for each output column, the taps add whole columns of the
 * strip (contiguous, in cache) into int32 accumulators. */
enum { STRIP = 16 };

__attribute__((target_clones("avx2", "default"))) JF_VECTORIZE static void
hpass_strip(const uint8_t *restrict strip, size_t col, int ow, const int *bh, const int32_t *kh, int ksh,
            uint8_t *restrict out)
{
    int32_t acc[STRIP * 3];
    for (int xx = 0; xx < ow; xx++) {
        int xmin = bh[xx * 2], xmax = bh[xx * 2 + 1];
        const int32_t *k = &kh[(size_t)xx * ksh];
        for (size_t j = 0; j < col; j++)
            acc[j] = 1 << (PRECISION_BITS - 1);
        for (int x = 0; x < xmax; x++) {
            const uint8_t *src = strip + (size_t)(xmin + x) * col;
            int32_t kx = k[x];
            for (size_t j = 0; j < col; j++)
                acc[j] += (int32_t)src[j] * kx;
        }
        uint8_t *dst = out + (size_t)xx * col;
        for (size_t j = 0; j < col; j++) {
            int32_t v = acc[j] >> PRECISION_BITS;
            dst[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* ---- the horizontal pass for RGB with AVX2, straight from the rows (no transposes) ----
 * Pillow's sums are int32 of pixel × 22-bit weight; madd_epi16 multiplies 16-bit pairs, so each
 * weight is split k = kh·2^11 + kl (kh signed, kl in [0, 2048)) and Σ p·k = (Σ p·kh)·2^11 + Σ p·kl
 * exactly in int32 — the same sums, so the same bytes. Four taps at a time: a 16-byte load holds
 * four pixels, two byte shuffles make the (tap, tap+1) pairs of each channel, two madds per pair
 * vector. The two 128-bit lanes hold two rows that share the weights; a call does four rows. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define JF_HAVE_AVX2_KERNEL 1

/* Weights of one output pixel, per group of four taps: kh(t0,t1), kl(t0,t1), kh(t2,t3), kl(t2,t3),
 * each as 8 int16 (r g b pairs, then a zero pair). Taps past the pixel's count have weight 0. */
typedef struct hweights {
    int16_t *k;      /* groups × 32 */
    int *first;      /* per output pixel: its first group */
    int *groups;     /* per output pixel: its number of groups */
    int max_read;    /* bytes past a row's start the loads may touch */
} hweights;

static int hweights_make(const int *bh, const int32_t *kh, int ksh, int ow, int w, hweights *hw)
{
    size_t total = 0;
    for (int xx = 0; xx < ow; xx++)
        total += (size_t)(bh[xx * 2 + 1] + 3) / 4;
    hw->k = aligned_alloc(32, (total ? total : 1) * 32 * sizeof(int16_t));
    hw->first = malloc((size_t)ow * sizeof(int));
    hw->groups = malloc((size_t)ow * sizeof(int));
    if (!hw->k || !hw->first || !hw->groups)
        return -1;
    size_t g = 0;
    hw->max_read = 0;
    for (int xx = 0; xx < ow; xx++) {
        int n = bh[xx * 2 + 1], ng = (n + 3) / 4;
        hw->first[xx] = (int)g;
        hw->groups[xx] = ng;
        int end = (bh[xx * 2] + ng * 4) * 3 + 4;
        if (end > hw->max_read)
            hw->max_read = end;
        for (int q = 0; q < ng; q++, g++) {
            int16_t *d = hw->k + g * 32;
            memset(d, 0, 32 * sizeof *d);
            for (int half = 0; half < 2; half++)
                for (int t = 0; t < 2; t++) {
                    int tap = q * 4 + half * 2 + t;
                    int32_t k = tap < n ? kh[(size_t)xx * ksh + tap] : 0;
                    int16_t hi = (int16_t)(k >> 11), lo = (int16_t)(k & 2047);
                    for (int c = 0; c < 3; c++) {
                        d[half * 16 + c * 2 + t] = hi;
                        d[half * 16 + 8 + c * 2 + t] = lo;
                    }
                }
        }
    }
    (void)w;
    return 0;
}

static void hweights_free(hweights *hw)
{
    free(hw->k);
    free(hw->first);
    free(hw->groups);
}

/* Four rows (r[0..3], each readable up to hw->max_read bytes) into four output rows of ow RGB
 * pixels (4-byte stores but the last pixel's). */
__attribute__((target("avx2"))) static void hpass_rgb_avx2(const uint8_t *const r[4], uint8_t *const o[4], int ow,
                                                          const int *bh, const hweights *hw)
{
    const __m256i sh01 = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1, -1, 4,
                                          -1, 2, -1, 5, -1, -1, -1, -1, -1);
    const __m256i sh23 = _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7, -1,
                                          10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int xx = 0; xx < ow; xx++) {
        size_t off = (size_t)bh[xx * 2] * 3;
        const int16_t *k = hw->k + (size_t)hw->first[xx] * 32;
        __m256i hAB = _mm256_setzero_si256(), lAB = hAB, hCD = hAB, lCD = hAB;
        for (int q = hw->groups[xx]; q > 0; q--, off += 12, k += 32) {
            __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(r[0] + off))),
                                                 _mm_loadu_si128((const __m128i *)(r[1] + off)), 1);
            __m256i cd = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(r[2] + off))),
                                                 _mm_loadu_si128((const __m128i *)(r[3] + off)), 1);
            __m256i kh01 = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)k));
            __m256i kl01 = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(k + 8)));
            __m256i kh23 = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(k + 16)));
            __m256i kl23 = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(k + 24)));
            __m256i ab01 = _mm256_shuffle_epi8(ab, sh01), ab23 = _mm256_shuffle_epi8(ab, sh23);
            __m256i cd01 = _mm256_shuffle_epi8(cd, sh01), cd23 = _mm256_shuffle_epi8(cd, sh23);
            hAB = _mm256_add_epi32(hAB, _mm256_add_epi32(_mm256_madd_epi16(ab01, kh01), _mm256_madd_epi16(ab23, kh23)));
            lAB = _mm256_add_epi32(lAB, _mm256_add_epi32(_mm256_madd_epi16(ab01, kl01), _mm256_madd_epi16(ab23, kl23)));
            hCD = _mm256_add_epi32(hCD, _mm256_add_epi32(_mm256_madd_epi16(cd01, kh01), _mm256_madd_epi16(cd23, kh23)));
            lCD = _mm256_add_epi32(lCD, _mm256_add_epi32(_mm256_madd_epi16(cd01, kl01), _mm256_madd_epi16(cd23, kl23)));
        }
        __m256i vAB = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(hAB, 11), lAB), half), PRECISION_BITS);
        __m256i vCD = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(hCD, 11), lCD), half), PRECISION_BITS);
        /* clamp to 0..255 by saturating packs: [A | B] and [C | D] → bytes A B C D of 4 each */
        __m256i p16 = _mm256_packs_epi32(vAB, vCD);      /* lane0: A(4) C(4); lane1: B(4) D(4) */
        __m256i p8 = _mm256_packus_epi16(p16, p16);      /* lane0: A C A C; lane1: B D B D */
        /* one vector store and four scalar loads: lane extracts would crowd the shuffle port */
        uint32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, p8);
        uint32_t a = lanes[0], c = lanes[1], b = lanes[4], d = lanes[5];
        if (xx + 1 < ow) { /* 4-byte stores; the spilled byte is the next pixel's */
            memcpy(o[0] + (size_t)xx * 3, &a, 4);
            memcpy(o[1] + (size_t)xx * 3, &b, 4);
            memcpy(o[2] + (size_t)xx * 3, &c, 4);
            memcpy(o[3] + (size_t)xx * 3, &d, 4);
        } else { /* the last pixel's spill would land in the next row */
            memcpy(o[0] + (size_t)xx * 3, &a, 3);
            memcpy(o[1] + (size_t)xx * 3, &b, 3);
            memcpy(o[2] + (size_t)xx * 3, &c, 3);
            memcpy(o[3] + (size_t)xx * 3, &d, 3);
        }
    }
}
#endif

#if defined(JF_HAVE_AVX2_KERNEL)
/* The vertical pass of one output row with AVX2: its taps' rows summed in registers, 32 bytes at
 * a time (the int32 products are the generic loop's, so the bytes are too). */
__attribute__((target("avx2"))) static void vpass_avx2(const uint8_t *src, size_t stride, int n, const int32_t *k,
                                                      uint8_t *dst, size_t len)
{
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    size_t x = 0;
    for (; x + 32 <= len; x += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        const uint8_t *p = src + x;
        for (int t = 0; t < n; t++, p += stride) {
            __m256i kk = _mm256_set1_epi32(k[t]);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)), kk));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8))), kk));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 16))), kk));
            a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 24))), kk));
        }
        /* >> PRECISION_BITS, then saturating packs clamp to 0..255; the permute undoes the packs'
         * lane interleave */
        __m256i p01 = _mm256_permute4x64_epi64(
            _mm256_packs_epi32(_mm256_srai_epi32(a0, PRECISION_BITS), _mm256_srai_epi32(a1, PRECISION_BITS)), 0xD8);
        __m256i p23 = _mm256_permute4x64_epi64(
            _mm256_packs_epi32(_mm256_srai_epi32(a2, PRECISION_BITS), _mm256_srai_epi32(a3, PRECISION_BITS)), 0xD8);
        __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(p01, p23), 0xD8);
        _mm256_storeu_si256((__m256i *)(dst + x), b);
    }
    for (; x < len; x++) {
        int32_t a = 1 << (PRECISION_BITS - 1);
        for (int t = 0; t < n; t++)
            a += (int32_t)src[x + (size_t)t * stride] * k[t];
        a >>= PRECISION_BITS;
        dst[x] = (uint8_t)(a < 0 ? 0 : a > 255 ? 255 : a);
    }
}
#endif

/* Separable resampling of 8-bit images with `ch` interleaved channels (1 or 3), Pillow's
 * algorithm and arithmetic: the horizontal pass, its results rounded to 8 bits, then the
 * vertical pass. A plan computes one region of the resized image (the crop a caller keeps):
 * each output pixel depends only on its own taps, so a region's bytes are those of the whole
 * resize. Input rows arrive in order, STRIP at most at a time (from memory or straight from a
 * decoder), go through the horizontal pass over the region's columns, and the vertical pass
 * runs once all have arrived. Integer sums make the bytes Pillow's exactly, in any order. */
typedef struct rs_plan {
    int w, ch;
    int rw, rh;           /* the region's size */
    int first, rows;      /* the input rows the region needs */
    int *bh, *bv;         /* per region column / row: first input index (rows: from `first`), count */
    int32_t *kh, *kv;
    int ksh, ksv;
    size_t orow;          /* bytes in a row of the horizontal pass's output */
    uint8_t *tmp;         /* rows × orow (+4 slack) */
    size_t row_read;      /* bytes from a row's start that the horizontal pass may read */
    int avx2;
#ifdef JF_HAVE_AVX2_KERNEL
    hweights hw;
#endif
    uint8_t *strip, *sout; /* the generic horizontal pass's transposed strips */
    int32_t *acc;
    /* the whole coefficient tables (bh/kh/bv/kv point into them) */
    int *bh_all, *bv_all;
    int32_t *kh_all, *kv_all;
} rs_plan;

static void plan_free(rs_plan *p)
{
#ifdef JF_HAVE_AVX2_KERNEL
    hweights_free(&p->hw);
#endif
    free(p->tmp);
    free(p->strip);
    free(p->sout);
    free(p->acc);
    free(p->bh_all);
    free(p->bv_all);
    free(p->kh_all);
    free(p->kv_all);
    memset(p, 0, sizeof *p);
}

/* The coefficients of a region, and the input columns [*x0, *x1) it reads. */
static int plan_coeffs(rs_plan *p, int w, int h, int ch, const jf_image_region *r, jf_resample method, int *x0, int *x1)
{
    memset(p, 0, sizeof *p);
    if (w <= 0 || h <= 0 || r->ow <= 0 || r->oh <= 0 || r->w <= 0 || r->h <= 0 || r->x < 0 || r->y < 0 ||
        r->x + r->w > r->ow || r->y + r->h > r->oh)
        return -1;
    filter f = filter_of(method);
    p->w = w;
    p->ch = ch;
    p->rw = r->w;
    p->rh = r->h;
    p->ksh = precompute(w, 0, w, r->ow, f, &p->bh_all, &p->kh_all);
    p->ksv = p->ksh > 0 ? precompute(h, 0, h, r->oh, f, &p->bv_all, &p->kv_all) : -1;
    if (p->ksh < 0 || p->ksv < 0) {
        plan_free(p);
        return -1;
    }
    p->bh = p->bh_all + (size_t)r->x * 2;
    p->kh = p->kh_all + (size_t)r->x * p->ksh;
    p->bv = p->bv_all + (size_t)r->y * 2;
    p->kv = p->kv_all + (size_t)r->y * p->ksv;
    p->first = p->bv[0];
    p->rows = p->bv[(r->h - 1) * 2] + p->bv[(r->h - 1) * 2 + 1] - p->first;
    for (int yy = 0; yy < r->h; yy++)
        p->bv[yy * 2] -= p->first;
    *x0 = p->bh[0];
    *x1 = p->bh[(r->w - 1) * 2] + p->bh[(r->w - 1) * 2 + 1];
    return 0;
}

/* The buffers, for input rows that hold columns [x_off, x_off + row_w) of the image (a decoder
 * that crops its rows); the region's column bounds become relative to x_off. */
static int plan_buffers(rs_plan *p, int x_off, int row_w)
{
    int ch = p->ch;
    for (int xx = 0; xx < p->rw; xx++)
        p->bh[xx * 2] -= x_off;
    p->w = row_w;
    p->orow = (size_t)p->rw * ch;
    p->row_read = (size_t)row_w * ch;
    p->tmp = malloc(p->orow * (size_t)p->rows + 4);
    if (!p->tmp) {
        plan_free(p);
        return -1;
    }
#ifdef JF_HAVE_AVX2_KERNEL
    p->avx2 = !atomic_load(&jf__resample_generic) && __builtin_cpu_supports("avx2");
    if (ch == 3 && p->avx2) {
        if (hweights_make(p->bh, p->kh, p->ksh, p->rw, row_w, &p->hw)) {
            plan_free(p);
            return -1;
        }
        if ((size_t)p->hw.max_read + 16 > p->row_read)
            p->row_read = (size_t)p->hw.max_read + 16;
        return 0;
    }
#endif
    p->strip = malloc((size_t)row_w * STRIP * ch + 4);
    p->sout = malloc(p->orow * STRIP);
    p->acc = malloc(p->orow * sizeof *p->acc);
    if (!p->strip || !p->sout || !p->acc) {
        plan_free(p);
        return -1;
    }
    return 0;
}

static int plan_init(rs_plan *p, int w, int h, int ch, const jf_image_region *r, jf_resample method)
{
    int x0, x1;
    return plan_coeffs(p, w, h, ch, r, method, &x0, &x1) ? -1 : plan_buffers(p, 0, w);
}

/* The horizontal pass over input rows r0 .. r0 + n − 1 (counted from p->first; n ≤ STRIP), each
 * readable for p->row_read bytes. */
static void plan_hrows(rs_plan *p, const uint8_t *const *rowp, size_t r0, size_t n)
{
    int ch = p->ch, w = p->w, ow = p->rw;
    size_t orow = p->orow;
#ifdef JF_HAVE_AVX2_KERNEL
    if (p->hw.k) {
        for (size_t i = 0; i < n; i += 4) {
            const uint8_t *rp[4];
            uint8_t *op[4];
            for (size_t j = 0; j < 4; j++) {
                size_t q = i + j < n ? i + j : n - 1; /* a short group repeats its last row */
                rp[j] = rowp[q];
                op[j] = p->tmp + (r0 + q) * orow;
            }
            hpass_rgb_avx2(rp, op, ow, p->bh, &p->hw);
        }
        return;
    }
#endif
    size_t col = n * (size_t)ch;
    uint8_t *strip = p->strip, *sout = p->sout, *tmp = p->tmp;
    /* transpose the strip in, [w][n][ch]: each column's n pixels written together, from n row
     * streams */
    if (ch == 3) {
        /* 4-byte moves for 3-byte pixels: each store's extra byte is overwritten by the next pixel
         * (the strip has 4 bytes of slack); the last column reads 3 bytes only, so no load passes
         * the end of a row */
        for (int x = 0; x + 1 < w; x++) {
            uint8_t *d = strip + (size_t)x * col;
            for (size_t r = 0; r < n; r++, d += 3)
                memcpy(d, rowp[r] + (size_t)x * 3, 4);
        }
        uint8_t *d = strip + (size_t)(w - 1) * col;
        for (size_t r = 0; r < n; r++, d += 3)
            memcpy(d, rowp[r] + (size_t)(w - 1) * 3, 3);
    } else {
        for (int x = 0; x < w; x++)
            for (size_t r = 0; r < n; r++)
                strip[(size_t)x * col + r] = rowp[r][x];
    }
    hpass_strip(strip, col, ow, p->bh, p->kh, p->ksh, sout);
    /* and out, [n][ow][ch]: each output column's n pixels read together */
    if (ch == 3) {
        /* the same 4-byte moves (tmp has 4 bytes of slack; columns go left to right, so a spilled
         * byte is overwritten by the next column's pixel); the last output column of the strip is
         * read with 3-byte moves so no load passes sout's end */
        for (int xx = 0; xx + 1 < ow; xx++) {
            const uint8_t *sp = sout + (size_t)xx * col;
            for (size_t r = 0; r < n; r++, sp += 3)
                memcpy(tmp + (r0 + r) * orow + (size_t)xx * 3, sp, 4);
        }
        const uint8_t *sp = sout + (size_t)(ow - 1) * col;
        for (size_t r = 0; r < n; r++, sp += 3)
            memcpy(tmp + (r0 + r) * orow + (size_t)(ow - 1) * 3, sp, 3);
    } else {
        for (int xx = 0; xx < ow; xx++)
            for (size_t r = 0; r < n; r++)
                tmp[(r0 + r) * orow + (size_t)xx] = sout[(size_t)xx * col + r];
    }
}

/* The vertical pass into the region's rows (stride bytes apart). */
static void plan_vpass(rs_plan *p, uint8_t *out, size_t stride)
{
    size_t orow = p->orow;
    for (int yy = 0; yy < p->rh; yy++) {
        int ymin = p->bv[yy * 2], ymax = p->bv[yy * 2 + 1];
        const int32_t *k = &p->kv[(size_t)yy * p->ksv];
        uint8_t *dst = out + (size_t)yy * stride;
#ifdef JF_HAVE_AVX2_KERNEL
        if (p->avx2) {
            vpass_avx2(p->tmp + (size_t)ymin * orow, orow, ymax, k, dst, orow);
            continue;
        }
#endif
        acc_init(p->acc, orow);
        for (int y = 0; y < ymax; y++)
            acc_add(p->acc, p->tmp + (size_t)(y + ymin) * orow, orow, k[y]);
        acc_store(dst, p->acc, orow);
    }
}

/* A region of the resize of an image in memory: its rows go through the horizontal pass
 * STRIP at a time, those whose reads would pass the image's end from zero-padded copies. */
static int resample_region(const uint8_t *in, int w, int h, int ch, const jf_image_region *r, jf_resample method)
{
    rs_plan p;
    if (plan_init(&p, w, h, ch, r, method))
        return -1;
    const uint8_t *in_end = in + (size_t)w * h * ch;
    uint8_t *pad = malloc(STRIP * p.row_read);
    if (!pad) {
        plan_free(&p);
        return -1;
    }
    for (size_t r0 = 0; r0 < (size_t)p.rows; r0 += STRIP) {
        size_t n = (size_t)p.rows - r0 < STRIP ? (size_t)p.rows - r0 : STRIP;
        const uint8_t *rowp[STRIP];
        for (size_t i = 0; i < n; i++) {
            const uint8_t *src = in + (size_t)(p.first + (int)(r0 + i)) * w * ch;
            if ((size_t)(in_end - src) < p.row_read) {
                uint8_t *cp = pad + i * p.row_read;
                memset(cp, 0, p.row_read);
                memcpy(cp, src, (size_t)(in_end - src));
                src = cp;
            }
            rowp[i] = src;
        }
        plan_hrows(&p, rowp, r0, n);
    }
    plan_vpass(&p, r->out, r->stride);
    free(pad);
    plan_free(&p);
    return 0;
}

static int resample(const uint8_t *in, int w, int h, int ch, uint8_t *out, int ow, int oh, jf_resample method)
{
    jf_image_region r = {ow, oh, 0, 0, ow, oh, out, (size_t)ow * ch};
    return resample_region(in, w, h, ch, &r, method);
}

int jf_resample_rgb_region(const uint8_t *in, int w, int h, const jf_image_region *r, jf_resample method)
{
    return resample_region(in, w, h, 3, r, method);
}

int jf_resample_rgb(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh, jf_resample method)
{
    return resample(in, w, h, 3, out, ow, oh, method);
}

int jf_resample_gray(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh, jf_resample method)
{
    return resample(in, w, h, 1, out, ow, oh, method);
}

/* ---- decoding to RGB ---- */

/* CMYK to RGB as Pillow converts it; Adobe CMYK JPEGs store inverted values (0 = full ink). */
static void cmyk_to_rgb(const uint8_t *row, uint8_t *o, int w, int inverted)
{
    for (int x = 0; x < w; x++) {
        int C = row[x * 4], M = row[x * 4 + 1], Y = row[x * 4 + 2], K = row[x * 4 + 3];
        if (!inverted) {
            C = 255 - C;
            M = 255 - M;
            Y = 255 - Y;
            K = 255 - K;
        }
        o[x * 3] = (uint8_t)((C * K + 127) / 255);
        o[x * 3 + 1] = (uint8_t)((M * K + 127) / 255);
        o[x * 3 + 2] = (uint8_t)((Y * K + 127) / 255);
    }
}

/* Decodes a JPEG to RGB, at the smallest DCT scale (1/8 .. 1) that stays at or above
 * min_w x min_h, so that large shrinks cost a fraction of a full decode. */
static uint8_t *jpeg_rgb(const uint8_t *data, size_t size, int min_w, int min_h, int *w, int *h, char *detail, size_t n)
{
    struct jpeg_decompress_struct c;
    jf__jpeg_err e;
    uint8_t *volatile out = NULL;
    c.err = jf__jpeg_err_init(&e);
    if (setjmp(e.jump)) {
        snprintf(detail, n, "jpeg: %s", e.msg);
        jpeg_destroy_decompress(&c);
        free(out);
        return NULL;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    int cmyk = c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
    c.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    for (int denom = 8; denom >= 1; denom /= 2) {
        unsigned sw = (c.image_width + (unsigned)denom - 1) / (unsigned)denom;
        unsigned sh = (c.image_height + (unsigned)denom - 1) / (unsigned)denom;
        if (denom == 1 || (sw >= (unsigned)min_w && sh >= (unsigned)min_h)) {
            c.scale_num = 1;
            c.scale_denom = (unsigned)denom;
            break;
        }
    }
    jpeg_start_decompress(&c);
    *w = (int)c.output_width;
    *h = (int)c.output_height;
    int comps = c.output_components;
    out = malloc((size_t)*w * *h * 3);
    uint8_t *row = malloc((size_t)*w * comps);
    if (!out || !row) {
        free(row);
        snprintf(e.msg, sizeof e.msg, "out of memory");
        longjmp(e.jump, 1);
    }
    while (c.output_scanline < c.output_height) {
        unsigned y = c.output_scanline;
        JSAMPROW rp = cmyk ? row : out + (size_t)y * *w * 3;
        jpeg_read_scanlines(&c, &rp, 1);
        if (cmyk)
            cmyk_to_rgb(row, out + (size_t)y * *w * 3, *w, c.saw_Adobe_marker);
    }
    free(row);
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    if (e.warnings) {
        snprintf(detail, n, "jpeg: %s", e.msg);
        free(out);
        return NULL;
    }
    return out;
}

typedef struct png_mem {
    const uint8_t *p;
    size_t n, at;
} png_mem;

static void png_mem_read(png_structp png, png_bytep out, size_t len)
{
    png_mem *m = png_get_io_ptr(png);
    if (len > m->n - m->at)
        png_error(png, "file cut short");
    memcpy(out, m->p + m->at, len);
    m->at += len;
}

static void png_fail(png_structp png, png_const_charp msg)
{
    snprintf((char *)png_get_error_ptr(png), 200, "%s", msg);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* 8-bit RGB as Pillow reads a PNG: no gamma or colour-profile conversion (gAMA, sRGB, iCCP are
 * not applied), 16-bit channels by their high byte, palettes looked up, greys of 1, 2 and 4 bits
 * scaled to 0..255. bg NULL: alpha (and tRNS) dropped, as convert("RGB") and convert("L") drop
 * it; otherwise composited on bg. */
static uint8_t *png_rgb(const uint8_t *data, size_t size, const uint8_t bg[3], int *w, int *h, char *detail, size_t n)
{
    char msg[200] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    /* volatile: set after setjmp and freed after a longjmp (otherwise indeterminate there) */
    uint8_t *volatile out = NULL, *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    png_mem m = {data, size, 0};
    if (!info) {
        snprintf(detail, n, "png: out of memory");
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(detail, n, "png: %s", msg[0] ? msg : "unreadable");
        free(out);
        free(rgba);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return NULL;
    }
    png_set_read_fn(png, &m, png_mem_read);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* sizes were checked by the caller */
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int type = png_get_color_type(png, info);
    png_set_strip_16(png);
    png_set_packing(png);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    else if (!(type & PNG_COLOR_MASK_ALPHA))
        png_set_filler(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 4)
        png_error(png, "unexpected row layout");
    size_t px = (size_t)width * height;
    rgba = malloc(px ? px * 4 : 1);
    rows = malloc((height ? height : 1) * sizeof *rows);
    out = malloc(px ? px * 3 : 1);
    if (!rgba || !rows || !out)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = rgba + (size_t)y * width * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (size_t i = 0; i < px; i++) {
        unsigned a = rgba[i * 4 + 3];
        for (int c = 0; c < 3; c++)
            out[i * 3 + c] = bg ? (uint8_t)((rgba[i * 4 + c] * a + bg[c] * (255 - a) + 127) / 255) : rgba[i * 4 + c];
    }
    free(rgba);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *w = (int)width;
    *h = (int)height;
    return out;
}

static uint8_t *webp_rgb(const uint8_t *data, size_t size, const uint8_t bg[3], int *w, int *h, char *detail, size_t n)
{
    uint8_t *rgba = WebPDecodeRGBA(data, size, w, h);
    if (!rgba) {
        snprintf(detail, n, "webp: image data does not decode");
        return NULL;
    }
    uint8_t *out = malloc((size_t)*w * *h * 3);
    for (size_t i = 0; out && i < (size_t)*w * *h; i++) {
        unsigned a = rgba[i * 4 + 3];
        for (int c = 0; c < 3; c++)
            out[i * 3 + c] = bg ? (uint8_t)((rgba[i * 4 + c] * a + bg[c] * (255 - a) + 127) / 255) : rgba[i * 4 + c];
    }
    WebPFree(rgba);
    if (!out)
        snprintf(detail, n, "out of memory");
    return out;
}

jf_status jf_image_decode_rgb(const uint8_t *data, size_t size, const uint8_t *alpha_bg, uint8_t **rgb, int *w, int *h,
                             jf_error *err)
{
    *rgb = NULL;
    const char *fmt = jf_image_format_of(data, size);
    if (!fmt || (strcmp(fmt, "jpeg") && strcmp(fmt, "png") && strcmp(fmt, "webp")))
        return jf_error_set(err, JF_EFORMAT, "not a JPEG, PNG or WebP image");
    char detail[300] = "";
    *rgb = !strcmp(fmt, "jpeg") ? jpeg_rgb(data, size, INT_MAX, INT_MAX, w, h, detail, sizeof detail)
           : !strcmp(fmt, "png") ? png_rgb(data, size, alpha_bg, w, h, detail, sizeof detail)
                                 : webp_rgb(data, size, alpha_bg, w, h, detail, sizeof detail);
    return *rgb ? JF_OK : jf_error_set(err, JF_ECORRUPT, "%s", detail);
}

/* A JPEG into a region: scanlines decoded STRIP at a time into a ring that feeds the horizontal
 * pass; rows outside the region's reach skipped (entropy-decoded, not colour-converted). Returns
 * 0, 1 when fn refused (why in detail), -1 on damage or no memory (detail says which). */
static int jpeg_region(const uint8_t *data, size_t size, jf_resample method, jf_image_region_fn fn, void *ctx,
                       char *detail, size_t n)
{
    struct jpeg_decompress_struct c;
    jf__jpeg_err e;
    rs_plan p;
    memset(&p, 0, sizeof p);
    uint8_t *volatile ring = NULL, *volatile cmyk_row = NULL;
    volatile int refused = 0;
    c.err = jf__jpeg_err_init(&e);
    if (setjmp(e.jump)) {
        if (!refused)
            snprintf(detail, n, "jpeg: %s", e.msg);
        jpeg_destroy_decompress(&c);
        free(ring);
        free(cmyk_row);
        plan_free(&p);
        return refused ? 1 : -1;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    int cmyk = c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
    c.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    int w = (int)c.image_width, h = (int)c.image_height;
    jf_image_region r;
    memset(&r, 0, sizeof r);
    if (fn(ctx, w, h, &r, detail, n)) {
        refused = 1;
        longjmp(e.jump, 1);
    }
    int x0, x1;
    if (plan_coeffs(&p, w, h, 3, &r, method, &x0, &x1)) {
        snprintf(e.msg, sizeof e.msg, "cannot resize %dx%d to %dx%d (region %dx%d at %d,%d): out of memory or outside", w,
                 h, r.ow, r.oh, r.w, r.h, r.x, r.y);
        longjmp(e.jump, 1);
    }
    jpeg_start_decompress(&c);
    /* only the columns the region reads are decoded (libjpeg widens the span to whole iMCUs); a
     * margin of one column keeps the span's edge columns, whose chroma upsampling lacks a
     * neighbour, out of the region's reach */
    JDIMENSION x_off = (JDIMENSION)(x0 > 0 ? x0 - 1 : 0), row_w = (JDIMENSION)((x1 < w ? x1 + 1 : w) - (int)x_off);
    if (x_off > 0 || (int)row_w < w)
        jpeg_crop_scanline(&c, &x_off, &row_w);
    if (plan_buffers(&p, (int)x_off, (int)row_w)) {
        snprintf(e.msg, sizeof e.msg, "out of memory");
        longjmp(e.jump, 1);
    }
    ring = malloc(STRIP * p.row_read);
    cmyk_row = cmyk ? malloc((size_t)row_w * 4) : NULL;
    if (!ring || (cmyk && !cmyk_row)) {
        snprintf(e.msg, sizeof e.msg, "out of memory");
        longjmp(e.jump, 1);
    }
    memset(ring, 0, STRIP * p.row_read); /* the padding the horizontal pass may read */
    if (p.first > 0)
        jpeg_skip_scanlines(&c, (JDIMENSION)p.first);
    for (size_t r0 = 0; r0 < (size_t)p.rows; r0 += STRIP) {
        size_t cnt = (size_t)p.rows - r0 < STRIP ? (size_t)p.rows - r0 : STRIP;
        const uint8_t *rowp[STRIP];
        for (size_t i = 0; i < cnt; i++) {
            uint8_t *row = ring + i * p.row_read;
            JSAMPROW rp = cmyk ? cmyk_row : row;
            jpeg_read_scanlines(&c, &rp, 1);
            if (cmyk)
                cmyk_to_rgb(cmyk_row, row, (int)row_w, c.saw_Adobe_marker);
            rowp[i] = row;
        }
        plan_hrows(&p, rowp, r0, cnt);
    }
    /* the rest of the stream: skipped but for its last row, which is read (skipping to the end
     * would stop reading the data, and damage there would go unseen) */
    if (c.output_scanline + 1 < c.output_height)
        jpeg_skip_scanlines(&c, c.output_height - c.output_scanline - 1);
    if (c.output_scanline < c.output_height) {
        JSAMPROW rp = cmyk ? cmyk_row : ring;
        jpeg_read_scanlines(&c, &rp, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    free(ring);
    free(cmyk_row);
    if (e.warnings) {
        snprintf(detail, n, "jpeg: %s", e.msg);
        plan_free(&p);
        return -1;
    }
    plan_vpass(&p, r.out, r.stride);
    plan_free(&p);
    return 0;
}

jf_status jf_image_decode_region(const uint8_t *data, size_t size, const uint8_t *alpha_bg, jf_resample method,
                                 jf_image_region_fn fn, void *ctx, jf_error *err)
{
    const char *fmt = jf_image_format_of(data, size);
    if (!fmt || (strcmp(fmt, "jpeg") && strcmp(fmt, "png") && strcmp(fmt, "webp")))
        return jf_error_set(err, JF_EFORMAT, "not a JPEG, PNG or WebP image");
    char detail[300] = "";
    if (!strcmp(fmt, "jpeg")) {
        int rc = jpeg_region(data, size, method, fn, ctx, detail, sizeof detail);
        return rc == 0 ? JF_OK : jf_error_set(err, rc > 0 ? JF_EARG : JF_ECORRUPT, "%s", detail);
    }
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    jf_status st = jf_image_decode_rgb(data, size, alpha_bg, &rgb, &w, &h, err);
    if (st)
        return st;
    jf_image_region r;
    memset(&r, 0, sizeof r);
    if (fn(ctx, w, h, &r, detail, sizeof detail))
        st = jf_error_set(err, JF_EARG, "%s", detail);
    else if (jf_resample_rgb_region(rgb, w, h, &r, method))
        st = jf_error_set(err, JF_ENOMEM, "cannot resize %dx%d to %dx%d (region %dx%d at %d,%d)", w, h, r.ow, r.oh,
                          r.w, r.h, r.x, r.y);
    free(rgb);
    return st;
}

/* The JanusFlow processor's letterbox: the sizes as it computes them (int() truncation, then
 * min_side), and expand2square's centring offsets ((size - short) // 2). */
typedef struct letterbox_geom {
    int size, min_side;
    const uint8_t *bg;
    uint8_t *out;
} letterbox_geom;

static int letterbox_region(void *ctx, int w, int h, jf_image_region *r, char *why, size_t wl)
{
    letterbox_geom *g = ctx;
    int size = g->size;
    if (w <= 0 || h <= 0 || size <= 0) {
        snprintf(why, wl, "letterbox of a %dx%d image to %d", w, h, size);
        return -1;
    }
    int m = w > h ? w : h;
    int nh = (int)((double)h / m * size), nw = (int)((double)w / m * size);
    if (nh < g->min_side)
        nh = g->min_side;
    if (nw < g->min_side)
        nw = g->min_side;
    if (nh > size || nw > size) {
        snprintf(why, wl, "letterbox: min side %d exceeds size %d", g->min_side, size);
        return -1;
    }
    /* the background only where the image will not be: the bars above and below, and beside it */
    int x0 = (size - nw) / 2, y0 = (size - nh) / 2;
    size_t row = (size_t)size * 3;
    for (size_t i = 0; i < (size_t)size; i++)
        memcpy(g->out + i * 3, g->bg, 3);
    for (int y = 1; y < size; y++)
        if (y < y0 || y >= y0 + nh)
            memcpy(g->out + (size_t)y * row, g->out, row);
    for (int y = y0; y < y0 + nh; y++) {
        memcpy(g->out + (size_t)y * row, g->out, (size_t)x0 * 3);
        memcpy(g->out + (size_t)y * row + (size_t)(x0 + nw) * 3, g->out, (size_t)(size - x0 - nw) * 3);
    }
    *r = (jf_image_region){nw, nh, 0, 0, nw, nh, g->out + ((size_t)y0 * size + x0) * 3, (size_t)size * 3};
    return 0;
}

jf_status jf_image_letterbox_decode(const uint8_t *data, size_t size, const uint8_t *alpha_bg, int size_px,
                                    int min_side, const uint8_t bg[3], jf_resample method, uint8_t *out,
                                    jf_error *err)
{
    letterbox_geom g = {size_px, min_side, bg, out};
    return jf_image_decode_region(data, size, alpha_bg, method, letterbox_region, &g, err);
}

jf_status jf_image_letterbox(const uint8_t *rgb, int w, int h, int size, int min_side, const uint8_t bg[3],
                             jf_resample method, uint8_t *out, jf_error *err)
{
    letterbox_geom g = {size, min_side, bg, out};
    jf_image_region r;
    char why[200];
    if (letterbox_region(&g, w, h, &r, why, sizeof why))
        return jf_error_set(err, JF_EARG, "%s", why);
    if (jf_resample_rgb_region(rgb, w, h, &r, method))
        return jf_error_set(err, JF_ENOMEM, "out of memory resizing %dx%d to %dx%d", w, h, r.ow, r.oh);
    return JF_OK;
}

/* ---- encoding ---- */

static jf_status encode(const uint8_t *rgb, int w, int h, const char *format, int quality, uint8_t **out, size_t *len,
                        jf_error *err)
{
    if (!strcmp(format, "png")) {
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        img.width = (png_uint_32)w;
        img.height = (png_uint_32)h;
        img.format = PNG_FORMAT_RGB;
        png_alloc_size_t need = 0;
        if (!png_image_write_to_memory(&img, NULL, &need, 0, rgb, 0, NULL))
            return jf_error_set(err, JF_EIO, "png encode: %s", img.message);
        *out = malloc(need);
        if (!*out || !png_image_write_to_memory(&img, *out, &need, 0, rgb, 0, NULL)) {
            free(*out);
            *out = NULL;
            return jf_error_set(err, JF_EIO, "png encode: %s", img.message);
        }
        *len = need;
        return JF_OK;
    }
    if (!strcmp(format, "webp")) {
        uint8_t *o = NULL;
        size_t n = WebPEncodeRGB(rgb, w, h, w * 3, (float)quality, &o);
        if (!n)
            return jf_error_set(err, JF_EIO, "webp encode failed");
        *out = malloc(n);
        if (*out)
            memcpy(*out, o, n);
        WebPFree(o);
        *len = n;
        return *out ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    return jf_jpeg_encode(rgb, w, h, 3, quality, out, len, err);
}

const char *jf_resize_mode_name(jf_resize_mode m)
{
    switch (m) {
    case JF_RESIZE_KEEP: return "keep";
    case JF_RESIZE_SHORTEST: return "shortest-side";
    case JF_RESIZE_LONGEST: return "longest-side";
    case JF_RESIZE_CENTER_CROP: return "center-crop";
    case JF_RESIZE_PAD: return "pad";
    default: return "?";
    }
}

jf_status jf_image_transform(const uint8_t *data, size_t size, const jf_resize_params *rp, uint8_t **out, size_t *out_len,
                             int *out_w, int *out_h, int *orig_w, int *orig_h, jf_error *err)
{
    *out = NULL;
    const char *fmt = jf_image_format_of(data, size);
    if (!fmt)
        return jf_error_set(err, JF_EFORMAT, "not a JPEG, PNG or WebP image");
    /* target geometry from the header, before decoding */
    const char *sfmt;
    int W, H;
    if (!strcmp(fmt, "webp")) {
        if (!WebPGetInfo(data, size, &W, &H))
            return jf_error_set(err, JF_ECORRUPT, "webp: bad header");
    } else if (jf_image_sniff(data, size, &sfmt, &W, &H) != 0) {
        return jf_error_set(err, JF_ECORRUPT, "%s: no image size in the header", fmt);
    }
    *orig_w = W;
    *orig_h = H;
    int S = rp->size;
    double scale;
    switch (rp->mode) {
    case JF_RESIZE_SHORTEST:
    case JF_RESIZE_CENTER_CROP: scale = (double)S / (W < H ? W : H); break;
    case JF_RESIZE_LONGEST:
    case JF_RESIZE_PAD: scale = (double)S / (W > H ? W : H); break;
    default: scale = 1.0;
    }
    if (rp->only_shrink && scale > 1.0)
        scale = 1.0;
    int tw = (int)lround(W * scale), th = (int)lround(H * scale);
    if (tw < 1)
        tw = 1;
    if (th < 1)
        th = 1;
    char detail[300] = "";
    int dw = 0, dh = 0;
    uint8_t *rgb = !strcmp(fmt, "jpeg") ? jpeg_rgb(data, size, tw, th, &dw, &dh, detail, sizeof detail)
                   : !strcmp(fmt, "png") ? png_rgb(data, size, rp->pad_rgb, &dw, &dh, detail, sizeof detail)
                                         : webp_rgb(data, size, rp->pad_rgb, &dw, &dh, detail, sizeof detail);
    if (!rgb)
        return jf_error_set(err, JF_ECORRUPT, "%s", detail);
    uint8_t *res = rgb;
    if (dw != tw || dh != th) {
        res = malloc((size_t)tw * th * 3);
        if (!res || jf_resample_rgb(rgb, dw, dh, res, tw, th, rp->filter) != 0) {
            free(res);
            free(rgb);
            return jf_error_set(err, JF_ENOMEM, "out of memory resizing %dx%d to %dx%d", dw, dh, tw, th);
        }
        free(rgb);
    }
    int fw = tw, fh = th;
    uint8_t *fin = res;
    if ((rp->mode == JF_RESIZE_CENTER_CROP || rp->mode == JF_RESIZE_PAD) && (tw != S || th != S)) {
        int cw = rp->mode == JF_RESIZE_CENTER_CROP ? (tw < S ? tw : S) : S;
        int ch = rp->mode == JF_RESIZE_CENTER_CROP ? (th < S ? th : S) : S;
        fin = malloc((size_t)cw * ch * 3);
        if (!fin) {
            free(res);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        if (rp->mode == JF_RESIZE_CENTER_CROP) {
            int x0 = (tw - cw) / 2, y0 = (th - ch) / 2;
            for (int y = 0; y < ch; y++)
                memcpy(fin + (size_t)y * cw * 3, res + ((size_t)(y + y0) * tw + x0) * 3, (size_t)cw * 3);
        } else {
            for (size_t i = 0; i < (size_t)cw * ch; i++)
                memcpy(fin + i * 3, rp->pad_rgb, 3);
            int x0 = (cw - tw) / 2, y0 = (ch - th) / 2;
            for (int y = 0; y < th; y++)
                memcpy(fin + ((size_t)(y + y0) * cw + x0) * 3, res + (size_t)y * tw * 3, (size_t)tw * 3);
        }
        free(res);
        fw = cw;
        fh = ch;
    }
    jf_status s = encode(fin, fw, fh, rp->format ? rp->format : "jpg", rp->quality, out, out_len, err);
    free(fin);
    *out_w = fw;
    *out_h = fh;
    return s;
}

/* ---- pixel statistics and perceptual hash ---- */

/* 8-bit luminance as Pillow's convert("L"): ITU-R 601-2 weights in 16-bit fixed point. */
static uint8_t luma(const uint8_t *p) { return (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16); }

int jf__image_stats_rgb(const uint8_t *rgb, int w, int h, jf_image_stats *st)
{
    size_t n = (size_t)w * h;
    uint8_t *l = malloc(n ? n : 1);
    uint8_t small[32 * 32];
    if (!l)
        return -1;
    uint64_t hist[256] = {0};
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        l[i] = luma(rgb + i * 3);
        hist[l[i]]++;
        sum += l[i];
        sum2 += (double)l[i] * l[i];
    }
    double mean = sum / n;
    st->mean = mean;
    st->std = sqrt(sum2 / n - mean * mean > 0 ? sum2 / n - mean * mean : 0);
    double ent = 0;
    for (int i = 0; i < 256; i++)
        if (hist[i]) {
            double q = (double)hist[i] / n;
            ent -= q * log2(q);
        }
    st->entropy = ent;
    /* pHash as imagehash: 32x32 Lanczos of the luminance, 2-D DCT-II, the 8x8 lowest
     * frequencies compared with their median, row-major, first bit most significant. */
    int rc = resample(l, w, h, 1, small, 32, 32, JF_RESAMPLE_LANCZOS);
    free(l);
    if (rc != 0)
        return -1;
    static double cosines[32][32];
    static int ready;
    if (!ready) { /* benign race: every thread writes the same values */
        for (int k = 0; k < 32; k++)
            for (int i = 0; i < 32; i++)
                cosines[k][i] = cos(M_PI * k * (2 * i + 1) / 64.0);
        ready = 1;
    }
    double rows[32][8], dct[8][8];
    for (int y = 0; y < 32; y++) /* along x (axis 1) for the 8 lowest frequencies */
        for (int k = 0; k < 8; k++) {
            double a = 0;
            for (int x = 0; x < 32; x++)
                a += small[y * 32 + x] * cosines[k][x];
            rows[y][k] = 2 * a;
        }
    for (int ky = 0; ky < 8; ky++)
        for (int kx = 0; kx < 8; kx++) {
            double a = 0;
            for (int y = 0; y < 32; y++)
                a += rows[y][kx] * cosines[ky][y];
            dct[ky][kx] = 2 * a;
        }
    double sorted[64];
    memcpy(sorted, dct, sizeof sorted);
    for (int i = 1; i < 64; i++) /* insertion sort of 64 values */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    double median = (sorted[31] + sorted[32]) / 2;
    uint64_t hash = 0;
    for (int i = 0; i < 64; i++)
        hash = (hash << 1) | (((const double *)dct)[i] > median ? 1u : 0u);
    st->phash = hash;
    st->width = w;
    st->height = h;
    return 0;
}

jf_status jf_image_analyze(const uint8_t *data, size_t size, int approx, jf_image_stats *st, jf_error *err)
{
    memset(st, 0, sizeof *st);
    const char *fmt = jf_image_format_of(data, size);
    if (!fmt)
        return jf_error_set(err, JF_EFORMAT, "not a JPEG, PNG or WebP image");
    char detail[300] = "";
    int w = 0, h = 0;
    /* In full, for values identical to imagehash; the approximation decodes JPEGs at the
     * smallest DCT scale that keeps 64 pixels on each side. */
    int min = approx ? 64 : 1 << 30;
    uint8_t *rgb = !strcmp(fmt, "jpeg") ? jpeg_rgb(data, size, min, min, &w, &h, detail, sizeof detail)
                   /* alpha ignored, as Pillow's convert("L") ignores it */
                   : !strcmp(fmt, "png") ? png_rgb(data, size, NULL, &w, &h, detail, sizeof detail)
                   : !strcmp(fmt, "webp") ? webp_rgb(data, size, NULL, &w, &h, detail, sizeof detail)
                                          : NULL;
    if (!rgb)
        return jf_error_set(err, JF_ECORRUPT, "%s", detail[0] ? detail : "unsupported image");
    int rc = jf__image_stats_rgb(rgb, w, h, st);
    free(rgb);
    return rc ? jf_error_set(err, JF_ENOMEM, "out of memory") : JF_OK;
}
