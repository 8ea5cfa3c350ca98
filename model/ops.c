/* Kernels on f32 activations with weights kept in their stored dtype (BF16/F16/F32), the
 * process-wide worker pool, and OpenBLAS for the matrix products. */
#include "model_internal.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

void openblas_set_num_threads(int n);

/* ---- pool ---- */

static struct {
    pthread_t t[256];
    int n; /* worker threads besides the caller */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen;
    int busy;
    size_t count;
    atomic_size_t next;
    void (*fn)(void *, size_t);
    void *user;
    int stop;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static int threads_wanted;
/* A kernel that cannot get its scratch memory skips its work and says so here: the calling
 * thread's flag, or, inside pool items, the dispatch's flag, which the dispatching thread takes
 * over when the items are done. Entry points turn it into an error (jf__ops_failed). */
static _Thread_local int ops_failed;
/* Set in a forked child: the workers are to be started again before the next dispatch. */
static int threads_lost;
static atomic_int pool_failed;
/* Set while a thread runs pool items: a parallel_for from inside one runs serially (the pool is
 * not reentrant), which also lets a kernel run whole sub-problems per thread. */
static _Thread_local int in_pool;
/* One dispatch at a time: callers on different threads take turns. */
static pthread_mutex_t dispatch = PTHREAD_MUTEX_INITIALIZER;

static void run_items(void)
{
    size_t i;
    in_pool = 1;
    while ((i = atomic_fetch_add(&pool.next, 1)) < pool.count)
        pool.fn(pool.user, i);
    in_pool = 0;
}

/* Per-thread scratch of the kernels (get_scratch): grown as needed, kept for the thread's life. */
static _Thread_local float *scratch;
static _Thread_local size_t scratch_cap;

static void *worker(void *arg)
{
    (void)arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        while (pool.gen == seen && !pool.stop)
            pthread_cond_wait(&pool.go, &pool.mu);
        if (pool.stop) {
            pthread_mutex_unlock(&pool.mu);
            free(scratch); /* this thread's kernel scratch (get_scratch) */
            scratch = NULL;
            scratch_cap = 0;
            return NULL;
        }
        seen = pool.gen;
        pthread_mutex_unlock(&pool.mu);
        run_items();
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0)
            pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
}

/* In a child of fork() only the forking thread exists: forget the parent's workers (their
 * locks may have been held mid-dispatch) and start new ones at the next dispatch. */
static void pool_after_fork(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&dispatch, NULL);
    pool.n = 0;
    pool.busy = 0;
    pool.stop = 0;
    in_pool = 0;
    atomic_store(&pool_failed, 0);
    if (threads_wanted > 1)
        threads_lost = 1;
}

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork);
}

static void pool_resize(int total)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handler);
    threads_lost = 0;
    if (pool.n) {
        pthread_mutex_lock(&pool.mu);
        pool.stop = 1;
        pthread_cond_broadcast(&pool.go);
        pthread_mutex_unlock(&pool.mu);
        for (int i = 0; i < pool.n; i++)
            pthread_join(pool.t[i], NULL);
        pool.n = 0;
        pool.stop = 0;
    }
    for (int i = 0; i < total - 1 && i < 256; i++)
        if (pthread_create(&pool.t[pool.n], NULL, worker, NULL) == 0)
            pool.n++;
}

void jf_model_set_threads(int n)
{
    if (n <= 0)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    threads_wanted = n;
    pool_resize(n);
    openblas_set_num_threads(n); /* the same cores, never at the same time as the pool */
}

void jf__blas_single(int on)
{
    openblas_set_num_threads(on ? 1 : jf_model_threads());
}

int jf_model_threads(void)
{
    if (!threads_wanted)
        jf_model_set_threads(0);
    return threads_wanted;
}

static void note_failure(void)
{
    if (in_pool)
        atomic_store(&pool_failed, 1);
    else
        ops_failed = 1;
}

int jf__ops_failed(void)
{
    int f = ops_failed;
    ops_failed = 0;
    return f;
}

void jf__parallel_for(size_t n, void (*fn)(void *user, size_t i), void *user)
{
    if (!threads_wanted)
        jf_model_set_threads(0);
    if (n == 0)
        return;
    if (threads_lost && !in_pool)
        pool_resize(threads_wanted);
    if (pool.n == 0 || n == 1 || in_pool) {
        for (size_t i = 0; i < n; i++)
            fn(user, i);
        return;
    }
    pthread_mutex_lock(&dispatch);
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.user = user;
    pool.count = n;
    atomic_store(&pool.next, 0);
    pool.busy = pool.n;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    run_items();
    pthread_mutex_lock(&pool.mu);
    while (pool.busy)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    if (atomic_exchange(&pool_failed, 0))
        ops_failed = 1;
    pthread_mutex_unlock(&dispatch);
}

/* ---- dtype conversion ---- */

static inline float bf16_to_f32(uint16_t v)
{
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF, u;
    if (e == 0) {
        if (m == 0)
            u = s;
        else { /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            u = s | (e << 23) | ((m & 0x3FF) << 13);
        }
    } else if (e == 31) {
        u = s | 0x7F800000u | (m << 13);
    } else {
        u = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float jf_f16_to_f32(uint16_t h) { return f16_to_f32(h); }

uint16_t jf_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    if ((u & 0x7F800000u) == 0x7F800000u) /* inf stays inf; NaN stays a (quiet) NaN */
        return (uint16_t)(sign | 0x7C00u | ((u & 0x7FFFFFu) ? 0x200u : 0));
    int e = (int)((u >> 23) & 0xFF) - 127 + 15;
    uint32_t mant = u & 0x7FFFFFu;
    if (e <= 0) { /* subnormal or zero */
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    if (e >= 31)
        return (uint16_t)(sign | 0x7C00u);
    /* a carry out of the mantissa rounds up into the exponent (and to inf past 65504) */
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

void jf__w_to_f32(const jf__w *w, size_t off, size_t n, float *out)
{
    if (w->dt == JF_F32) {
        memcpy(out, (const float *)w->p + off, n * sizeof *out);
    } else if (w->dt == JF_BF16) {
        const uint16_t *s = (const uint16_t *)w->p + off;
        for (size_t i = 0; i < n; i++)
            out[i] = bf16_to_f32(s[i]);
    } else {
        const uint16_t *s = (const uint16_t *)w->p + off;
        for (size_t i = 0; i < n; i++)
            out[i] = f16_to_f32(s[i]);
    }
}

/* ---- linear ---- */

typedef struct conv_job {
    const jf__w *w;
    size_t row0, rows_per, rows_total;
    float *dst;
} conv_job;

static void conv_rows(void *user, size_t i)
{
    conv_job *j = user;
    size_t r0 = i * j->rows_per, r1 = r0 + j->rows_per;
    if (r1 > j->rows_total)
        r1 = j->rows_total;
    if (r0 >= r1)
        return;
    jf__w_to_f32(j->w, (j->row0 + r0) * (size_t)j->w->cols, (r1 - r0) * (size_t)j->w->cols, j->dst + r0 * (size_t)j->w->cols);
}

float *jf__w_widen(const jf__w *w)
{
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    float *out = malloc((rows * cols > 0 ? rows * cols : 1) * sizeof *out);
    if (!out)
        return NULL;
    size_t per = (rows + 31) / 32;
    conv_job cj = {w, 0, per ? per : 1, rows, out};
    jf__parallel_for((rows + cj.rows_per - 1) / cj.rows_per, conv_rows, &cj);
    return out;
}

/* Dot products of a few activation rows with many weight rows, straight from BF16/F16/F32. */
typedef struct gemv_job {
    const float *x;
    size_t m;
    const jf__w *w;
    const jf__w *bias;
    float *y;
    size_t chunk;
} gemv_job;

__attribute__((target("avx512f,avx512bw"))) static float dot_bf16_avx512(const float *x, const uint16_t *w, size_t n)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i a = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w + i))), 16);
        __m512i b = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w + i + 16))), 16);
        acc0 = _mm512_fmadd_ps(_mm512_castsi512_ps(a), _mm512_loadu_ps(x + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_castsi512_ps(b), _mm512_loadu_ps(x + i + 16), acc1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++)
        s += x[i] * bf16_to_f32(w[i]);
    return s;
}

__attribute__((target("avx2,fma"))) static float dot_bf16_avx2(const float *x, const uint16_t *w, size_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i))), 16);
        __m256i b = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i + 8))), 16);
        acc0 = _mm256_fmadd_ps(_mm256_castsi256_ps(a), _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_castsi256_ps(b), _mm256_loadu_ps(x + i + 8), acc1);
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 lo = _mm256_castps256_ps128(acc), hi = _mm256_extractf128_ps(acc, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_hadd_ps(lo, lo);
    lo = _mm_hadd_ps(lo, lo);
    float s = _mm_cvtss_f32(lo);
    for (; i < n; i++)
        s += x[i] * bf16_to_f32(w[i]);
    return s;
}

static float dot_bf16_scalar(const float *x, const uint16_t *w, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * bf16_to_f32(w[i]);
    return s;
}

static float (*dot_bf16)(const float *, const uint16_t *, size_t);

static float hsum256(__m256 acc) __attribute__((target("avx2")));
static float hsum256(__m256 acc)
{
    __m128 lo = _mm256_castps256_ps128(acc), hi = _mm256_extractf128_ps(acc, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_hadd_ps(lo, lo);
    lo = _mm_hadd_ps(lo, lo);
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float dot_f32_avx2(const float *x, const float *w, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += x[i] * w[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const float *x, const uint16_t *w, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += x[i] * f16_to_f32(w[i]);
    return s;
}

static float dot_any(const float *x, const jf__w *w, size_t row)
{
    size_t n = (size_t)w->cols;
    if (w->dt == JF_BF16)
        return dot_bf16(x, (const uint16_t *)w->p + row * n, n);
    static int simd = -1;
    if (simd < 0) {
        __builtin_cpu_init();
        /* every AVX2 + FMA processor also has F16C (Haswell, Piledriver and later) */
        simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    if (simd && w->dt == JF_F32)
        return dot_f32_avx2(x, (const float *)w->p + row * n, n);
    if (simd && w->dt == JF_F16)
        return dot_f16_avx2(x, (const uint16_t *)w->p + row * n, n);
    float s = 0;
    if (w->dt == JF_F32) {
        const float *r = (const float *)w->p + row * n;
        for (size_t i = 0; i < n; i++)
            s += x[i] * r[i];
    } else {
        const uint16_t *r = (const uint16_t *)w->p + row * n;
        for (size_t i = 0; i < n; i++)
            s += x[i] * f16_to_f32(r[i]);
    }
    return s;
}

static void gemv_rows(void *user, size_t c)
{
    gemv_job *j = user;
    size_t r0 = c * j->chunk, r1 = r0 + j->chunk, rows = (size_t)j->w->rows, cols = (size_t)j->w->cols;
    if (r1 > rows)
        r1 = rows;
    for (size_t r = r0; r < r1; r++) {
        float b = 0;
        if (j->bias)
            jf__w_to_f32(j->bias, r, 1, &b);
        for (size_t i = 0; i < j->m; i++)
            j->y[i * rows + r] = dot_any(j->x + i * cols, j->w, r) + b;
    }
}


static float *get_scratch(size_t n)
{
    if (n > scratch_cap) {
        free(scratch);
        scratch = malloc(n * sizeof *scratch);
        scratch_cap = scratch ? n : 0;
    }
    return scratch;
}

void jf__linear(const float *x, size_t m, const jf__w *w, const jf__w *bias, float *y)
{
    if (!dot_bf16) {
        __builtin_cpu_init();
        dot_bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? dot_bf16_avx512
                   : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")        ? dot_bf16_avx2
                                                                                             : dot_bf16_scalar;
    }
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    if (m < (w->dt == JF_F32 ? 4u : 16u)) {
        /* memory-bound (decoding, also a batch of sequences): read each weight once, straight
         * from its stored dtype, for all m rows; f32 weights need no widening, so sgemm takes
         * over sooner */
        size_t chunk = 64;
        gemv_job j = {x, m, w, bias, y, chunk};
        jf__parallel_for((rows + chunk - 1) / chunk, gemv_rows, &j);
        return;
    }
    if (w->dt == JF_F32 || w->f32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows, (int)cols, 1.0f, x, (int)cols,
                    w->dt == JF_F32 ? (const float *)w->p : w->f32, (int)cols, 0.0f, y, (int)rows);
    } else {
        /* widen a block of weight rows at a time, then sgemm into the matching output columns */
        /* big blocks: few, large sgemm calls; the scratch stays under 64 MB */
        size_t block = cols ? (size_t)(16u << 20) / cols : rows;
        if (block < 64)
            block = 64;
        float *wf = get_scratch(block * cols);
        if (!wf) {
            note_failure();
            return;
        }
        for (size_t r0 = 0; r0 < rows; r0 += block) {
            size_t nb = rows - r0 < block ? rows - r0 : block;
            size_t per = (nb + 31) / 32;
            conv_job cj = {w, r0, per, nb, wf};
            jf__parallel_for((nb + per - 1) / per, conv_rows, &cj);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)cols, 1.0f, x, (int)cols, wf, (int)cols,
                        0.0f, y + r0, (int)rows);
        }
    }
    if (bias) {
        float *b = malloc(rows * sizeof *b);
        if (!b) {
            note_failure();
            return;
        }
        jf__w_to_f32(bias, 0, rows, b);
        for (size_t i = 0; i < m; i++)
            for (size_t r = 0; r < rows; r++)
                y[i * rows + r] += b[r];
        free(b);
    }
}

/* ---- norms and activations ---- */

void jf__rmsnorm(const float *x, size_t m, size_t n, const jf__w *w, double eps, float *y)
{
    float *wf = malloc(n * sizeof *wf);
    if (!wf) {
        note_failure();
        return;
    }
    jf__w_to_f32(w, 0, n, wf);
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * n;
        double ss = 0;
        for (size_t k = 0; k < n; k++)
            ss += (double)r[k] * r[k];
        float inv = (float)(1.0 / sqrt(ss / (double)n + eps));
        for (size_t k = 0; k < n; k++)
            y[i * n + k] = wf[k] * (r[k] * inv);
    }
    free(wf);
}

void jf__layernorm(const float *x, size_t m, size_t n, const jf__w *w, const jf__w *b, double eps, float *y)
{
    float *wf = malloc(2 * n * sizeof *wf);
    if (!wf) {
        note_failure();
        return;
    }
    float *bf = wf + n;
    jf__w_to_f32(w, 0, n, wf);
    jf__w_to_f32(b, 0, n, bf);
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * n;
        double mean = 0, var = 0;
        for (size_t k = 0; k < n; k++)
            mean += r[k];
        mean /= (double)n;
        for (size_t k = 0; k < n; k++)
            var += ((double)r[k] - mean) * ((double)r[k] - mean);
        var /= (double)n;
        float inv = (float)(1.0 / sqrt(var + eps));
        for (size_t k = 0; k < n; k++)
            y[i * n + k] = (float)((r[k] - mean) * inv) * wf[k] + bf[k];
    }
    free(wf);
}

/* Element-wise exp and erf: glibc's vector math library (libmvec, ≤ 4 ulp) where the CPU has
 * AVX2, libm otherwise. */
__attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256 x);
__attribute__((target("avx2"))) __m256 _ZGVdN8v_erff(__m256 x);

static int cpu_avx2(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return have;
}

__attribute__((target("avx2,fma"))) static void gelu_avx2(float *x, size_t n)
{
    size_t i = 0;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), r2 = _mm256_set1_ps(0.70710678118654752f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = _ZGVdN8v_erff(_mm256_mul_ps(v, r2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    for (; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

__attribute__((target("avx2,fma"))) static void silu_avx2(float *x, size_t n)
{
    size_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(zero, v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    for (; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-x[i]));
}

/* x[i] = exp(x[i] - mx); returns the sum */
__attribute__((target("avx2,fma"))) static float exp_sub_sum_avx2(float *x, size_t n, float mx)
{
    size_t i = 0;
    __m256 acc = _mm256_setzero_ps(), m = _mm256_set1_ps(mx);
    for (; i + 8 <= n; i += 8) {
        __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    float s = 0;
    for (int k = 0; k < 8; k++)
        s += lanes[k];
    for (; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    return s;
}

/* x · σ(1.702 x), CLIP's quick GELU */
__attribute__((target("avx2,fma"))) static void quick_gelu_avx2(float *x, size_t n)
{
    size_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), k = _mm256_set1_ps(-1.702f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = _ZGVdN8v_expf(_mm256_mul_ps(k, v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    for (; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

typedef struct ew_job {
    float *x;
    size_t n, chunk;
    int kind; /* 0 gelu, 1 silu, 2 quick gelu */
} ew_job;

static void ew_chunk(void *user, size_t c)
{
    ew_job *j = user;
    size_t a = c * j->chunk, n = j->n - a < j->chunk ? j->n - a : j->chunk;
    float *x = j->x + a;
    if (cpu_avx2()) {
        if (j->kind == 0)
            gelu_avx2(x, n);
        else if (j->kind == 1)
            silu_avx2(x, n);
        else
            quick_gelu_avx2(x, n);
    } else if (j->kind == 2) {
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
    } else if (j->kind == 0) {
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
    } else {
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
    }
}

static void elementwise(float *x, size_t n, int kind)
{
    ew_job j = {x, n, 16384, kind};
    jf__parallel_for((n + j.chunk - 1) / j.chunk, ew_chunk, &j);
}

void jf__gelu(float *x, size_t n)
{
    elementwise(x, n, 0);
}

void jf__silu(float *x, size_t n)
{
    elementwise(x, n, 1);
}

void jf__quick_gelu(float *x, size_t n)
{
    elementwise(x, n, 2);
}

void jf__softmax_row(float *x, size_t n)
{
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    float s;
    if (cpu_avx2()) {
        s = exp_sub_sum_avx2(x, n, mx);
    } else {
        s = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = expf(x[i] - mx);
            s += x[i];
        }
    }
    float inv = 1.0f / s;
    for (size_t i = 0; i < n; i++)
        x[i] *= inv;
}

void jf__rope(float *x, size_t m, int heads, int d, const int *positions, double theta)
{
    int half = d / 2;
    float *cs = malloc((size_t)half * 2 * sizeof *cs);
    if (!cs) {
        note_failure();
        return;
    }
    for (size_t t = 0; t < m; t++) {
        for (int i = 0; i < half; i++) {
            /* as transformers: inv_freq in float, angle = position * inv_freq in float */
            float inv = (float)(1.0 / pow(theta, (double)(2 * i) / d));
            float a = (float)positions[t] * inv;
            cs[i] = cosf(a);
            cs[half + i] = sinf(a);
        }
        for (int h = 0; h < heads; h++) {
            float *v = x + (t * (size_t)heads + (size_t)h) * (size_t)d;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[half + i];
                v[i] = x1 * cs[i] - x2 * cs[half + i];
                v[half + i] = x2 * cs[i] + x1 * cs[half + i];
            }
        }
    }
    free(cs);
}

/* ---- attention ---- */

typedef struct attn_job {
    const float *q, *pk, *pv, *k, *v;
    size_t tq, pn, tk, q_offset; /* keys: pn in (pk, pv), then tk in (k, v) */
    int heads, kv_heads, d, causal;
    float scale;
    float *out;
} attn_job;

/* Query rows per score tile: the scores of one head are never more than ATTN_TILE x keys. */
#define ATTN_TILE 128

static void attn_head(void *user, size_t h)
{
    attn_job *j = user;
    int kvh = (int)h / (j->heads / j->kv_heads);
    size_t ldq = (size_t)j->heads * j->d, ldk = (size_t)j->kv_heads * j->d, total = j->pn + j->tk;
    size_t tile = j->tq < ATTN_TILE ? j->tq : ATTN_TILE;
    float *s = malloc(tile * total * sizeof *s);
    if (!s) {
        note_failure();
        return;
    }
    for (size_t i0 = 0; i0 < j->tq; i0 += tile) {
        size_t nq = j->tq - i0 < tile ? j->tq - i0 : tile;
        /* keys past the tile's last causal position get no weight: leave them out of both products */
        size_t tk = total;
        if (j->causal && j->q_offset + i0 + nq < tk)
            tk = j->q_offset + i0 + nq;
        /* the scores of the two key segments side by side in one row (each dot product is the
         * same whichever segment holds its key) */
        size_t np = j->pn < tk ? j->pn : tk, no = tk - np;
        const float *qh = j->q + i0 * ldq + h * (size_t)j->d;
        if (np)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)np, j->d, j->scale, qh, (int)ldq,
                        j->pk + (size_t)kvh * j->d, (int)ldk, 0.0f, s, (int)tk);
        if (no)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)no, j->d, j->scale, qh, (int)ldq,
                        j->k + (size_t)kvh * j->d, (int)ldk, 0.0f, s + np, (int)tk);
        for (size_t i = 0; i < nq; i++) {
            float *row = s + i * tk;
            size_t valid = j->causal ? j->q_offset + i0 + i + 1 : tk;
            if (valid > tk)
                valid = tk;
            jf__softmax_row(row, valid);
            for (size_t c = valid; c < tk; c++)
                row[c] = 0;
        }
        float *oh = j->out + i0 * ldq + h * (size_t)j->d;
        if (np)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, j->d, (int)np, 1.0f, s, (int)tk,
                        j->pv + (size_t)kvh * j->d, (int)ldk, 0.0f, oh, (int)ldq);
        if (no)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, j->d, (int)no, 1.0f, s + np, (int)tk,
                        j->v + (size_t)kvh * j->d, (int)ldk, np ? 1.0f : 0.0f, oh, (int)ldq);
    }
    free(s);
}

void jf__attention_split(const float *q, size_t tq, const float *pk, const float *pv, size_t pn, const float *k,
                         const float *v, size_t tk, int heads, int kv_heads, int d, float scale, int causal,
                         size_t q_offset, float *out)
{
    attn_job j = {q, pk, pv, k, v, tq, pn, tk, q_offset, heads, kv_heads, d, causal, scale, out};
    /* heads run in parallel on the pool, each with single-threaded sgemm */
    openblas_set_num_threads(1);
    jf__parallel_for((size_t)heads, attn_head, &j);
    openblas_set_num_threads(jf_model_threads());
}

void jf__attention(const float *q, size_t tq, const float *k, const float *v, size_t tk, int heads, int kv_heads, int d,
                   float scale, int causal, size_t q_offset, float *out)
{
    jf__attention_split(q, tq, NULL, NULL, 0, k, v, tk, heads, kv_heads, d, scale, causal, q_offset, out);
}

/* ---- patch embedding ---- */

void jf__patch_embed(const float *img, int c, int h, int w, int k, const jf__w *weight, const jf__w *bias, float *out)
{
    int ph = h / k, pw = w / k;
    size_t n = (size_t)ph * pw, kk = (size_t)c * k * k;
    float *cols = malloc(n * kk * sizeof *cols);
    if (!cols) {
        note_failure();
        return;
    }
    for (int py = 0; py < ph; py++)
        for (int px = 0; px < pw; px++) {
            float *dst = cols + ((size_t)py * pw + px) * kk;
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < k; y++)
                    memcpy(dst + ((size_t)ch * k + y) * k, img + ((size_t)ch * h + (size_t)(py * k + y)) * w + (size_t)px * k,
                           (size_t)k * sizeof *dst);
        }
    jf__linear(cols, n, weight, bias, out);
    free(cols);
}

/* ---- convolution and pooling on [C][B][H][W] activations ----
 * Channel-major with the batch inside each channel plane: a 1x1 convolution is one sgemm
 * W[O, C] · X[C, B·H·W], a k x k one an im2col of column blocks then sgemm, and a channel
 * slice (a branch of an Inception block) is a contiguous range. */

typedef struct im2col_job {
    const float *x;
    int C, B, H, W, kh, kw, sh, sw, ph, pw, OH, OW;
    size_t col0, ncols;
    float *cols; /* [C*kh*kw][ncols] */
} im2col_job;

static void im2col_row(void *user, size_t r)
{
    const im2col_job *j = user;
    int c = (int)(r / ((size_t)j->kh * j->kw)), ky = (int)(r / (size_t)j->kw % (size_t)j->kh), kx = (int)(r % (size_t)j->kw);
    float *dst = j->cols + r * j->ncols;
    size_t plane = (size_t)j->OH * j->OW;
    size_t b = j->col0 / plane, rem = j->col0 % plane;
    int oy = (int)(rem / (size_t)j->OW), ox = (int)(rem % (size_t)j->OW);
    /* the output columns of one row: where the input column ix = ox·sw − pw + kx is inside */
    int lo = j->pw - kx > 0 ? (j->pw - kx + j->sw - 1) / j->sw : 0; /* first ox with ix ≥ 0 */
    int hi = (j->W - 1 + j->pw - kx) >= 0 ? (j->W - 1 + j->pw - kx) / j->sw + 1 : 0; /* ox past the last ix < W */
    if (hi > j->OW)
        hi = j->OW;
    for (size_t q = 0; q < j->ncols;) {
        size_t run = (size_t)(j->OW - ox);
        if (run > j->ncols - q)
            run = j->ncols - q;
        float *d = dst + q;
        int iy = oy * j->sh - j->ph + ky;
        if (iy < 0 || iy >= j->H) {
            memset(d, 0, run * sizeof *d);
        } else {
            const float *src = j->x + (((size_t)c * j->B + b) * j->H + (size_t)iy) * j->W;
            int a = ox > lo ? ox : lo, e = ox + (int)run < hi ? ox + (int)run : hi;
            if (a >= e) {
                memset(d, 0, run * sizeof *d);
            } else {
                /* zeros left of the image, the valid span, zeros right of it */
                memset(d, 0, (size_t)(a - ox) * sizeof *d);
                if (j->sw == 1)
                    memcpy(d + (a - ox), src + a - j->pw + kx, (size_t)(e - a) * sizeof *d);
                else
                    for (int o = a; o < e; o++)
                        d[o - ox] = src[o * j->sw - j->pw + kx];
                memset(d + (e - ox), 0, (size_t)(ox + (int)run - e) * sizeof *d);
            }
        }
        q += run;
        ox += (int)run;
        if (ox == j->OW) {
            ox = 0;
            if (++oy == j->OH) {
                oy = 0;
                b++;
            }
        }
    }
}

typedef struct bias_job {
    float *y; /* the first of `len` columns of each output row, rows `stride` apart */
    const float *bias;
    size_t stride, len;
    int relu;
} bias_job;

__attribute__((target_clones("avx2", "default"))) static void bias_relu_row(void *user, size_t o)
{
    const bias_job *j = user;
    float *row = j->y + o * j->stride, b = j->bias ? j->bias[o] : 0.0f;
    if (j->relu) {
        for (size_t i = 0; i < j->len; i++) {
            float v = row[i] + b;
            row[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (size_t i = 0; i < j->len; i++)
            row[i] += b;
    }
}

typedef struct conv_block_job {
    im2col_job shape; /* col0, ncols, cols set per block */
    size_t N, K, block;
    const float *w, *bias;
    int O, relu;
    float *y;
} conv_block_job;

static void conv_block(void *user, size_t bi)
{
    const conv_block_job *j = user;
    size_t c0 = bi * j->block, nc = j->N - c0 < j->block ? j->N - c0 : j->block;
    float *cols = get_scratch(j->K * nc);
    if (!cols) {
        note_failure();
        return;
    }
    im2col_job ij = j->shape;
    ij.col0 = c0;
    ij.ncols = nc;
    ij.cols = cols;
    for (size_t r = 0; r < j->K; r++)
        im2col_row(&ij, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->O, (int)nc, (int)j->K, 1.0f, j->w, (int)j->K, cols, (int)nc,
                0.0f, j->y + c0, (int)j->N);
    if (j->bias || j->relu) {
        bias_job bj = {j->y + c0, j->bias, j->N, nc, j->relu};
        for (int o = 0; o < j->O; o++)
            bias_relu_row(&bj, (size_t)o);
    }
}

int jf__conv2d(const float *x, int C, int B, int H, int W, const float *w, const float *bias, int O, int kh, int kw, int sh,
               int sw, int ph, int pw, int relu, float *y)
{
    int OH = (H + 2 * ph - kh) / sh + 1, OW = (W + 2 * pw - kw) / sw + 1;
    size_t N = (size_t)B * OH * OW, K = (size_t)C * kh * kw;
    if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)N, C, 1.0f, w, C, x, (int)N, 0.0f, y, (int)N);
    } else {
        /* Column blocks of about 4 MB of im2col, each a whole sub-problem on one pool thread:
         * its im2col, one single-threaded sgemm into its output columns, bias and ReLU while
         * they are in cache. Fewer, larger sgemm calls than with OpenBLAS's own threads, and no
         * handing over between two thread pools. The blocks depend on the shapes only, not on
         * the thread count, so the results do not either. */
        size_t block = (size_t)(1u << 20) / K;
        if (block < 64)
            block = 64;
        if (block > (N + 7) / 8)
            block = (N + 7) / 8 < 64 ? 64 : (N + 7) / 8;
        if (block > N)
            block = N;
        conv_block_job j = {{x, C, B, H, W, kh, kw, sh, sw, ph, pw, OH, OW, 0, 0, NULL}, N, K, block, w, bias, O, relu, y};
        jf__blas_single(1);
        jf__parallel_for((N + block - 1) / block, conv_block, &j);
        jf__blas_single(0);
        return 0;
    }
    if (bias || relu) {
        bias_job bj = {y, bias, N, N, relu};
        jf__parallel_for((size_t)O, bias_relu_row, &bj);
    }
    return 0;
}

typedef struct pool_job {
    const float *x;
    int H, W, k, s, p, OH, OW, mode; /* mode 0 max, 1 avg excluding padding, 2 avg including padding */
    float *y;
} pool_job;

/* One plane, in PyTorch's order: each output adds (or compares) its window's inputs row by row,
 * left to right, in float, skipping the padding, then divides by the count as a float — so the
 * averages are PyTorch's bit for bit. The loops run over a whole output row at a time for each
 * window cell (the same order per output), which vectorizes. */
/* Stride 1 on a small plane: the plane copied into a padded buffer (0 or -inf around it), then
 * every window cell added over the whole flattened buffer at once — long vector loops instead of
 * short rows. Each output still takes its cells in PyTorch's order; the padding cells it also
 * takes are +0 (or -inf for max), which change no sum (or maximum). Returns 0 when the plane is
 * too large for the stack buffers (the row-by-row path takes it). */
/* Cells of a window along one axis, starting at start (may be negative), as PyTorch divides by
 * them: mode 1 counts the cells inside the input [0, n), mode 2 those inside the padded input
 * (up to n + p). */
static inline int window_cells(int start, int k, int n, int p, int mode)
{
    int end = start + k;
    if (mode == 1)
        return (end > n ? n : end) - (start < 0 ? 0 : start);
    return (end > n + p ? n + p : end) - start;
}

#define POOL_FLAT_MAX 4096
__attribute__((target_clones("avx2", "default"))) static int pool_plane_flat(const pool_job *j, const float *in, float *out)
{
    int k = j->k, p = j->p, Wp = j->W + 2 * p, Hp = j->H + 2 * p, OH = j->OH, OW = j->OW;
    if (j->s != 1 || (size_t)Hp * Wp > POOL_FLAT_MAX)
        return 0;
    float pad[POOL_FLAT_MAX], acc[POOL_FLAT_MAX];
    float fill = j->mode == 0 ? -INFINITY : 0.0f;
    for (int i = 0; i < Hp * Wp; i++)
        pad[i] = fill;
    for (int y = 0; y < j->H; y++)
        memcpy(pad + (size_t)(y + p) * Wp + p, in + (size_t)y * j->W, (size_t)j->W * sizeof *in);
    int n = (OH - 1) * Wp + OW; /* flattened positions of the outputs (with the gaps between rows) */
    for (int i = 0; i < n; i++)
        acc[i] = fill;
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) {
            const float *src = pad + (size_t)dy * Wp + dx;
            if (j->mode == 0) {
                for (int i = 0; i < n; i++)
                    acc[i] = (src[i] > acc[i] || isnan(src[i])) ? src[i] : acc[i];
            } else {
                for (int i = 0; i < n; i++)
                    acc[i] += src[i];
            }
        }
    /* the divisor of each output is (rows of its window) x (columns of its window) as counted
     * by the mode: columns once per plane, rows once per output row */
    int cols[POOL_FLAT_MAX];
    for (int ox = 0; ox < OW; ox++)
        cols[ox] = window_cells(ox - p, k, j->W, p, j->mode);
    for (int oy = 0; oy < OH; oy++) {
        const float *a = acc + (size_t)oy * Wp;
        float *o = out + (size_t)oy * OW;
        int rows = window_cells(oy - p, k, j->H, p, j->mode);
        if (j->mode == 0)
            memcpy(o, a, (size_t)OW * sizeof *o);
        else
            for (int ox = 0; ox < OW; ox++)
                o[ox] = a[ox] / (float)(rows * cols[ox]);
    }
    return 1;
}

__attribute__((target_clones("avx2", "default"))) static void pool_plane(void *user, size_t pl)
{
    const pool_job *j = user;
    const float *in = j->x + pl * (size_t)j->H * j->W;
    float *out = j->y + pl * (size_t)j->OH * j->OW;
    if (pool_plane_flat(j, in, out))
        return;
    int OW = j->OW, s = j->s;
    /* for each window column kx, the outputs whose input column ox*s - p + kx lies inside the
     * row: the same for every row, so computed once (the divisions cost more than the sums) */
    int lo_k[32], hi_k[32];
    for (int kx = 0; kx < j->k && kx < 32; kx++) {
        int d = kx - j->p;
        lo_k[kx] = d < 0 ? (-d + s - 1) / s : 0;
        hi_k[kx] = j->W - 1 - d >= 0 ? (j->W - 1 - d) / s + 1 : 0;
        if (hi_k[kx] > OW)
            hi_k[kx] = OW;
    }
    for (int oy = 0; oy < j->OH; oy++) {
        float *o = out + (size_t)oy * OW;
        int y0 = oy * s - j->p;
        int ya = y0 < 0 ? 0 : y0, yb = y0 + j->k > j->H ? j->H : y0 + j->k;
        for (int ox = 0; ox < OW; ox++)
            o[ox] = j->mode == 0 ? -INFINITY : 0.0f;
        for (int iy = ya; iy < yb; iy++) {
            const float *row = in + (size_t)iy * j->W;
            for (int kx = 0; kx < j->k; kx++) {
                int d = kx - j->p, lo = lo_k[kx], hi = hi_k[kx];
                if (j->mode == 0) {
                    for (int ox = lo; ox < hi; ox++) {
                        float v = row[ox * s + d];
                        o[ox] = (v > o[ox] || isnan(v)) ? v : o[ox];
                    }
                } else if (s == 1) {
                    for (int ox = lo; ox < hi; ox++)
                        o[ox] += row[ox + d];
                } else {
                    for (int ox = lo; ox < hi; ox++)
                        o[ox] += row[ox * s + d];
                }
            }
        }
        if (j->mode != 0) {
            int rows = window_cells(y0, j->k, j->H, j->p, j->mode);
            for (int ox = 0; ox < OW; ox++)
                o[ox] /= (float)(rows * window_cells(ox * s - j->p, j->k, j->W, j->p, j->mode));
        }
    }
}

void jf__pool2d(const float *x, int planes, int H, int W, int k, int s, int p, int mode, float *y)
{
    if (k > 32) { /* pool_plane's per-column tables hold 32 (the networks here pool 3x3) */
        note_failure();
        return;
    }
    pool_job j = {x, H, W, k, s, p, (H + 2 * p - k) / s + 1, (W + 2 * p - k) / s + 1, mode, y};
    jf__parallel_for((size_t)planes, pool_plane, &j);
}

/* ---- 3×3 convolution, stride 1, padding 1, without im2col ----
 * The input is copied once into zero-padded planes of (H + 2) × (W + 2); then for each of the 9
 * taps (ky, kx) the tap's weights [O][C] multiply the padded input shifted by ky·(W + 2) + kx —
 * a plain strided matrix of C rows — accumulating into an output laid out on the padded width
 * (two columns per row are discarded at the end). Column blocks run as whole sub-problems on
 * the pool threads with single-threaded sgemm; the blocks depend on the shapes only. */

typedef struct conv3_job {
    const float *xp, *wt; /* padded input [C][plane], tap weights [9][O][C] */
    float *yp;            /* [O][H·(W + 2)] */
    int C, O, W;
    size_t plane, n, block;
} conv3_job;

static void conv3_block(void *user, size_t bi)
{
    const conv3_job *j = user;
    size_t c0 = bi * j->block, nc = j->n - c0 < j->block ? j->n - c0 : j->block, Wp = (size_t)j->W + 2;
    for (int t = 0; t < 9; t++) {
        size_t shift = (size_t)(t / 3) * Wp + (size_t)(t % 3);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->O, (int)nc, j->C, 1.0f, j->wt + (size_t)t * j->O * j->C,
                    j->C, j->xp + shift + c0, (int)j->plane, t ? 1.0f : 0.0f, j->yp + c0, (int)j->n);
    }
}

size_t jf__conv3x3_scratch(int C, int H, int W, int O)
{
    size_t Wp = (size_t)W + 2, plane = ((size_t)H + 2) * Wp + 2;
    return (size_t)C * plane + (size_t)9 * O * C + (size_t)O * H * Wp;
}

typedef struct conv3_io {
    const float *x, *w, *bias;
    float *xp, *wt, *yp, *y;
    int C, H, W, O;
    size_t plane, n;
} conv3_io;

static void conv3_pad_channel(void *user, size_t c)
{
    const conv3_io *j = user;
    size_t Wp = (size_t)j->W + 2;
    float *d = j->xp + c * j->plane;
    memset(d, 0, Wp * sizeof *d);
    for (int r = 0; r < j->H; r++) {
        float *row = d + ((size_t)r + 1) * Wp;
        row[0] = 0;
        memcpy(row + 1, j->x + (c * (size_t)j->H + (size_t)r) * (size_t)j->W, (size_t)j->W * sizeof *row);
        row[j->W + 1] = 0;
    }
    memset(d + ((size_t)j->H + 1) * Wp, 0, (Wp + 2) * sizeof *d);
    /* the tap-major weights of input channel c */
    for (int o = 0; o < j->O; o++)
        for (int t = 0; t < 9; t++)
            j->wt[((size_t)t * j->O + (size_t)o) * j->C + c] = j->w[((size_t)o * j->C + c) * 9 + (size_t)t];
}

static void conv3_out_channel(void *user, size_t o)
{
    const conv3_io *j = user;
    size_t Wp = (size_t)j->W + 2;
    float b = j->bias ? j->bias[o] : 0.0f;
    for (int r = 0; r < j->H; r++) {
        const float *src = j->yp + o * j->n + (size_t)r * Wp;
        float *dst = j->y + (o * (size_t)j->H + (size_t)r) * (size_t)j->W;
        for (int q = 0; q < j->W; q++)
            dst[q] = src[q] + b;
    }
}

void jf__conv3x3(const float *x, int C, int H, int W, const float *w, const float *bias, int O, float *work, float *y)
{
    size_t Wp = (size_t)W + 2, plane = ((size_t)H + 2) * Wp + 2, n = (size_t)H * Wp;
    float *xp = work, *wt = xp + (size_t)C * plane, *yp = wt + (size_t)9 * O * C;
    conv3_io io = {x, w, bias, xp, wt, yp, y, C, H, W, O, plane, n};
    jf__parallel_for((size_t)C, conv3_pad_channel, &io);
    /* an output block of about 1 MB stays in cache over the 9 accumulations */
    size_t block = (size_t)(256u << 10) / (size_t)O;
    if (block < 128)
        block = 128;
    if (block > (n + 7) / 8)
        block = (n + 7) / 8 < 128 ? 128 : (n + 7) / 8;
    if (block > n)
        block = n;
    conv3_job j = {xp, wt, yp, C, O, W, plane, n, block};
    jf__blas_single(1);
    jf__parallel_for((n + block - 1) / block, conv3_block, &j);
    jf__blas_single(0);
    jf__parallel_for((size_t)O, conv3_out_channel, &io);
}
