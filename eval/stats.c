/* FID statistics, the Fréchet distance and KID (evaluation.md §1.5–1.7), in double. */
#include "eval_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void jf_fid_stats_free(jf_fid_stats *s)
{
    if (!s)
        return;
    free(s->mu);
    free(s->sigma);
    s->mu = s->sigma = NULL;
}

jf_status jf_fid_stats_compute(const float *features, size_t n, int dims, jf_fid_stats *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 2)
        return jf_error_set(err, JF_EARG, "statistics need at least 2 images (got %zu)", n);
    size_t d = (size_t)dims;
    out->dims = dims;
    out->n = n;
    out->mu = calloc(d, sizeof *out->mu);
    out->sigma = calloc(d * d, sizeof *out->sigma);
    size_t chunk = 1024;
    double *c = malloc(chunk * d * sizeof *c);
    if (!out->mu || !out->sigma || !c) {
        free(c);
        jf_fid_stats_free(out);
        return jf_error_set(err, JF_ENOMEM, "out of memory for %d x %d statistics", dims, dims);
    }
    /* pass 1: the mean; pass 2: Σ (x − μ)(x − μ)ᵀ by dsyrk over chunks, like numpy's cov */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++)
            out->mu[k] += features[i * d + k];
    for (size_t k = 0; k < d; k++)
        out->mu[k] /= (double)n;
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        for (size_t i = 0; i < m; i++)
            for (size_t k = 0; k < d; k++)
                c[i * d + k] = (double)features[(i0 + i) * d + k] - out->mu[k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, 1.0, c, (int)d, 1.0, out->sigma, (int)d);
    }
    free(c);
    for (size_t r = 0; r < d; r++)
        for (size_t k = r; k < d; k++) {
            double v = out->sigma[r * d + k] / (double)(n - 1);
            out->sigma[r * d + k] = out->sigma[k * d + r] = v;
        }
    return JF_OK;
}

/* Eigenvalues (ascending) and, when vecs, eigenvectors (columns, row-major in place) of a
 * symmetric matrix. */
static int sym_eig(double *a, int n, double *w, int vecs)
{
    return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vecs ? 'V' : 'N', 'U', n, a, n, w);
}

jf_status jf_frechet_distance(const jf_fid_stats *a, const jf_fid_stats *b, int strict, jf_frechet_result *out,
                              jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (a->dims != b->dims)
        return jf_error_set(err, JF_EARG, "statistics of %d and %d dimensions", a->dims, b->dims);
    size_t d = (size_t)a->dims;
    /* the same statistics are at distance 0, not at the rounding of two eigen decompositions */
    if (!memcmp(a->mu, b->mu, d * sizeof *a->mu) && !memcmp(a->sigma, b->sigma, d * d * sizeof *a->sigma)) {
        double tr = 0;
        for (size_t i = 0; i < d; i++)
            tr += a->sigma[i * d + i];
        out->trace_sqrt = tr;
        out->identical = 1;
        return JF_OK;
    }
    for (size_t i = 0; i < d; i++)
        if (!isfinite(a->mu[i]) || !isfinite(b->mu[i]))
            return jf_error_set(err, JF_ECORRUPT, "the statistics hold NaN or infinite values (mu[%zu])", i);
    double *v = malloc(d * d * sizeof *v), *e = malloc(d * sizeof *e), *r = malloc(d * d * sizeof *r),
           *t = malloc(d * d * sizeof *t);
    jf_status s = JF_OK;
    if (!v || !e || !r || !t) {
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
        goto done;
    }
    /* Σ1 = V diag(e) Vᵀ; R = Σ1^½ = V diag(√max(e, 0)) Vᵀ */
    memcpy(v, a->sigma, d * d * sizeof *v);
    if (sym_eig(v, (int)d, e, 1) != 0) {
        s = jf_error_set(err, JF_ECORRUPT, "the eigen decomposition of sigma 1 failed (NaN values?)");
        goto done;
    }
    for (size_t i = 0; i < d; i++)
        for (size_t k = 0; k < d; k++)
            t[i * d + k] = v[i * d + k] * sqrt(e[k] > 0 ? e[k] : 0);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, 1.0, t, (int)d, v, (int)d, 0.0, r, (int)d);
    /* M = R Σ2 R, symmetrised; Tr((Σ1Σ2)^½) = Σ √λ(M) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, r, (int)d, b->sigma, (int)d, 0.0, t,
                (int)d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, t, (int)d, r, (int)d, 0.0, v, (int)d);
    for (size_t i = 0; i < d; i++)
        for (size_t k = i + 1; k < d; k++)
            v[i * d + k] = v[k * d + i] = 0.5 * (v[i * d + k] + v[k * d + i]);
    if (sym_eig(v, (int)d, e, 0) != 0) {
        s = jf_error_set(err, JF_ECORRUPT, "the eigen decomposition of the product failed");
        goto done;
    }
    out->min_eig = e[0];
    out->max_eig = e[d - 1];
    double tr = 0;
    for (size_t i = 0; i < d; i++) {
        if (e[i] < 0)
            out->clamped++;
        tr += sqrt(e[i] > 0 ? e[i] : 0);
    }
    if (strict && e[0] < -1e-3 * fabs(e[d - 1]))
        s = jf_error_set(err, JF_ELIMIT,
                         "the matrix square root is clearly complex (eigenvalue %.3g vs largest %.3g); pytorch-fid "
                         "raises here",
                         e[0], e[d - 1]);
    double diff = 0, ta = 0, tb = 0;
    for (size_t i = 0; i < d; i++) {
        double x = a->mu[i] - b->mu[i];
        diff += x * x;
        ta += a->sigma[i * d + i];
        tb += b->sigma[i * d + i];
    }
    out->trace_sqrt = tr;
    out->fid = diff + ta + tb - 2.0 * tr;
    if (out->fid < 0) { /* rounding of nearly equal statistics: a distance is never negative */
        out->negative = out->fid;
        out->fid = 0;
    }
done:
    free(v);
    free(e);
    free(r);
    free(t);
    return s;
}

/* ---- numpy's legacy RandomState: MT19937 seeded by init_genrand, choice without replacement
 * = permutation(n)[:m] by the legacy shuffle with random_interval ---- */

typedef struct mt19937 {
    uint32_t s[624];
    int i;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = 624;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static uint64_t random_interval(mt19937 *m, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max, v;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((v = (mt_next(m) & mask)) > max)
            ;
    } else {
        while ((v = ((((uint64_t)mt_next(m)) << 32 | mt_next(m)) & mask)) > max)
            ;
    }
    return v;
}

/* The first m of numpy's RandomState.permutation(n). */
static void choice(mt19937 *m, size_t *perm, size_t n, size_t k, size_t *out)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i >= 1; i--) {
        size_t j = (size_t)random_interval(m, i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(out, perm, k * sizeof *out);
}

/* Unbiased MMD² with k(x, y) = (x·y / d + 1)³ on two m-row subsets (rows gathered into x, y). */
static double mmd2(const double *x, const double *y, int m, int d, double *kbuf)
{
    double g = 1.0 / d;
    double sxx = 0, syy = 0, sxy = 0;
    /* K_XX */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, x, d, x, d, 0.0, kbuf, m);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            if (i != j) {
                double v = kbuf[(size_t)i * m + j] * g + 1.0;
                sxx += v * v * v;
            }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, y, d, y, d, 0.0, kbuf, m);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            if (i != j) {
                double v = kbuf[(size_t)i * m + j] * g + 1.0;
                syy += v * v * v;
            }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, x, d, y, d, 0.0, kbuf, m);
    for (size_t i = 0; i < (size_t)m * m; i++) {
        double v = kbuf[i] * g + 1.0;
        sxy += v * v * v;
    }
    return (sxx + syy) / ((double)m * (m - 1)) - 2.0 * sxy / ((double)m * m);
}

jf_status jf_kid(const float *a, size_t na, const float *b, size_t nb, int dims, int subsets, int subset_size,
                 uint32_t seed, jf_kid_result *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (subsets <= 0)
        subsets = 100;
    if (subset_size <= 0) {
        subset_size = 1000;
        if ((size_t)subset_size > na)
            subset_size = (int)na;
        if ((size_t)subset_size > nb)
            subset_size = (int)nb;
    }
    if (subset_size < 2 || (size_t)subset_size > na || (size_t)subset_size > nb)
        return jf_error_set(err, JF_EARG, "KID subsets of %d need at least that many images in each set (have %zu and %zu)",
                            subset_size, na, nb);
    size_t m = (size_t)subset_size, d = (size_t)dims;
    size_t *perm = malloc((na > nb ? na : nb) * sizeof *perm), *ix = malloc(m * sizeof *ix), *iy = malloc(m * sizeof *iy);
    double *x = malloc(m * d * sizeof *x), *y = malloc(m * d * sizeof *y), *k = malloc(m * m * sizeof *k),
           *vals = malloc((size_t)subsets * sizeof *vals);
    jf_status s = JF_OK;
    if (!perm || !ix || !iy || !x || !y || !k || !vals) {
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
        goto done;
    }
    mt19937 rng;
    mt_seed(&rng, seed);
    double sum = 0;
    for (int t = 0; t < subsets; t++) {
        choice(&rng, perm, na, m, ix);
        choice(&rng, perm, nb, m, iy);
        for (size_t i = 0; i < m; i++)
            for (size_t c = 0; c < d; c++) {
                x[i * d + c] = a[ix[i] * d + c];
                y[i * d + c] = b[iy[i] * d + c];
            }
        vals[t] = mmd2(x, y, (int)m, (int)d, k);
        sum += vals[t];
    }
    out->mean = sum / subsets;
    double var = 0;
    for (int t = 0; t < subsets; t++)
        var += (vals[t] - out->mean) * (vals[t] - out->mean);
    out->std = sqrt(var / subsets);
    out->subsets = subsets;
    out->subset_size = subset_size;
done:
    free(perm);
    free(ix);
    free(iy);
    free(x);
    free(y);
    free(k);
    free(vals);
    return s;
}

/* ---- statistics in parts ---- */

jf_status jf_fid_stats_part(const float *features, size_t n, int dims, jf_fid_stats *out, jf_error *err)
{
    if (n >= 2)
        return jf_fid_stats_compute(features, n, dims, out, err);
    memset(out, 0, sizeof *out);
    size_t d = (size_t)dims;
    out->dims = dims;
    out->n = n;
    out->mu = calloc(d, sizeof *out->mu);
    out->sigma = calloc(d * d, sizeof *out->sigma);
    if (!out->mu || !out->sigma) {
        jf_fid_stats_free(out);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (size_t k = 0; n == 1 && k < d; k++)
        out->mu[k] = features[k];
    return JF_OK;
}

jf_status jf_fid_stats_merge(const jf_fid_stats *stats, const jf_stats_part *parts, const char *const *names, size_t n,
                             jf_fid_stats *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return jf_error_set(err, JF_EARG, "no parts to merge");
    unsigned total = parts[0].parts;
    int dims = stats[0].dims;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].parts != total)
            return jf_error_set(err, JF_EARG, "%s is part %u of %u, %s of %u: not the same job", names[i], parts[i].k,
                                parts[i].parts, names[0], total);
        if (strcmp(parts[i].protocol, parts[0].protocol))
            return jf_error_set(err, JF_EARG, "%s was made differently from %s (%s vs %s): refused", names[i], names[0],
                                parts[i].protocol, parts[0].protocol);
        if (stats[i].dims != dims)
            return jf_error_set(err, JF_EARG, "%s has %d dimensions, %s %d", names[i], stats[i].dims, names[0], dims);
        for (size_t j = 0; j < i; j++)
            if (parts[j].k == parts[i].k)
                return jf_error_set(err, JF_EARG, "%s and %s are both part %u of %u (overlapping parts)", names[j], names[i],
                                    parts[i].k, total);
    }
    if (n != total) {
        char missing[512] = "";
        for (unsigned k = 0; k < total; k++) {
            int have = 0;
            for (size_t i = 0; i < n; i++)
                have |= parts[i].k == k;
            if (!have && strlen(missing) < sizeof missing - 16)
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%u", missing[0] ? ", " : "", k);
        }
        return jf_error_set(err, JF_EARG, "parts %s of %u are missing", missing, total);
    }
    size_t d = (size_t)dims;
    uint64_t N = 0;
    for (size_t i = 0; i < n; i++)
        N += parts[i].n;
    if (N < 2)
        return jf_error_set(err, JF_EARG, "statistics need at least 2 images (the parts hold %llu)", (unsigned long long)N);
    out->dims = dims;
    out->n = N;
    out->mu = calloc(d, sizeof *out->mu);
    out->sigma = calloc(d * d, sizeof *out->sigma);
    double *dm = malloc(d * sizeof *dm);
    if (!out->mu || !out->sigma || !dm) {
        free(dm);
        jf_fid_stats_free(out);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    /* μ = Σ nᵢ μᵢ / N;  M₂ = Σ [ (nᵢ − 1) Σᵢ + nᵢ (μᵢ − μ)(μᵢ − μ)ᵀ ];  Σ = M₂ / (N − 1) */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++)
            out->mu[k] += (double)parts[i].n * stats[i].mu[k];
    for (size_t k = 0; k < d; k++)
        out->mu[k] /= (double)N;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].n)
            continue;
        double w = parts[i].n > 1 ? (double)(parts[i].n - 1) : 0;
        for (size_t k = 0; k < d * d; k++)
            out->sigma[k] += w * stats[i].sigma[k];
        for (size_t k = 0; k < d; k++)
            dm[k] = stats[i].mu[k] - out->mu[k];
        cblas_dsyr(CblasRowMajor, CblasUpper, (int)d, (double)parts[i].n, dm, 1, out->sigma, (int)d);
    }
    for (size_t r = 0; r < d; r++)
        for (size_t k = r; k < d; k++) {
            double v = out->sigma[r * d + k] / (double)(N - 1);
            out->sigma[r * d + k] = out->sigma[k * d + r] = v;
        }
    free(dm);
    return JF_OK;
}
