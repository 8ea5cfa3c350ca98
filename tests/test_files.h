/* Helpers of the tests that read golden files: a whole file, a file's word sum (which ties a
 * golden to the weights it was made from), the formula inputs of the reference scripts, the
 * relative error measure, base64. Header-only; each test program includes it once. */
#ifndef JF_TEST_FILES_H
#define JF_TEST_FILES_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file, NUL-terminated (malloc'd); NULL when it cannot be read. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = (size_t)n;
    return buf;
}

/* Sum of the file's little-endian u64 words (zero-padded) mod 2^64, as the reference scripts'
 * word_sum computes it. */
static inline uint64_t word_sum(const char *path)
{
    size_t len = 0;
    char *p = slurp(path, &len);
    uint64_t s = 0;
    for (size_t i = 0; p && i < len; i += 8) {
        uint64_t w = 0;
        memcpy(&w, p + i, len - i < 8 ? len - i : 8);
        s += w;
    }
    free(p);
    return s;
}

/* The reference scripts' formula inputs: small multiples of 1/64 in [-2, 2], exact on both sides. */
static inline void formula_input(float *x, size_t rows, size_t cols, uint32_t salt)
{
    for (size_t t = 0; t < rows; t++)
        for (size_t i = 0; i < cols; i++)
            x[t * cols + i] = (float)((double)((int64_t)((t * 131 + i * 71 + salt * 17) % 257) - 128) / 64.0);
}

/* max |a − b| / max |b| */
static inline double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return m > 0 ? d / m : d;
}

#endif
