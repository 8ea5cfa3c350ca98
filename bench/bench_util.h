/* Shared by the benchmark programs: a monotonic clock and the machine's sgemm rate. */
#ifndef JF_BENCH_UTIL_H
#define JF_BENCH_UTIL_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes bytes to DIR/NAME for the reference side of a benchmark; exits on failure (a program,
 * not a library). */
static inline void dump(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* GFLOP/s of a 2048³ f32 sgemm with OpenBLAS's current threads (best of 3). */
static inline double sgemm_peak(void)
{
    int n = 2048;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b), *c = malloc((size_t)n * n * sizeof *c);
    double best = 0;
    for (size_t i = 0; a && b && c && i < (size_t)n * n; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    for (int rep = 0; a && b && c && rep < 3; rep++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * n * n / (now() - t0) / 1e9;
        if (g > best)
            best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

#endif
