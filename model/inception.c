/* The FID Inception-v3 (pytorch-fid's FIDInceptionA/C/E_1/E_2 variant of the 2015-12-05 TF
 * graph) up to the 2048-d pool_3 features, on the shared convolution and pooling kernels.
 * Weights are read as published (pytorch-fid's or torch-fidelity's .pth, or safetensors with
 * the same names); each BasicConv2d's batch norm (eps 0.001) is folded into its convolution
 * once at load. Spec: evaluation.md §1.3. */
#include "model_internal.h"

#include <math.h>
#include <stdatomic.h>

typedef struct conv {
    int in, out, kh, kw, sh, sw, ph, pw;
    float *w, *b; /* folded: w · γ/√(var+ε), β − mean · γ/√(var+ε) */
} conv;

/* The network, in the order its modules are listed; blocks index into it. */
enum {
    C1A, C2A, C2B, C3B, C4A,
    M5B, M5C = M5B + 7, M5D = M5C + 7,
    M6A = M5D + 7,
    M6B = M6A + 4, M6C = M6B + 10, M6D = M6C + 10, M6E = M6D + 10,
    M7A = M6E + 10,
    M7B = M7A + 6, M7C = M7B + 9,
    N_CONV = M7C + 9
};

struct jf_inception {
    conv c[N_CONV];
    char hash[17];
};

typedef struct conv_spec {
    const char *name;
    int in, out, kh, kw, sh, sw, ph, pw;
} conv_spec;

/* The table of every BasicConv2d: name, channels, kernel, stride, padding. Built once. */
static const conv_spec *specs(void)
{
    static conv_spec s[N_CONV];
    static int built;
    if (built)
        return s;
    static char names[N_CONV][48];
    int k = 0;
#define C(nm, i, o, kh, kw, sh, sw, ph, pw)                                                                        \
    do {                                                                                                           \
        snprintf(names[k], sizeof names[k], "%s", nm);                                                             \
        s[k] = (conv_spec){names[k], i, o, kh, kw, sh, sw, ph, pw};                                                \
        k++;                                                                                                       \
    } while (0)
    C("Conv2d_1a_3x3", 3, 32, 3, 3, 2, 2, 0, 0);
    C("Conv2d_2a_3x3", 32, 32, 3, 3, 1, 1, 0, 0);
    C("Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1, 1);
    C("Conv2d_3b_1x1", 64, 80, 1, 1, 1, 1, 0, 0);
    C("Conv2d_4a_3x3", 80, 192, 3, 3, 1, 1, 0, 0);
    const char *a_names[] = {"Mixed_5b", "Mixed_5c", "Mixed_5d"};
    int a_in[] = {192, 256, 288}, a_pool[] = {32, 64, 64};
    for (int b = 0; b < 3; b++) {
        const char *bn[] = {"branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3",
                            "branch_pool"};
        int io[7][8] = {{a_in[b], 64, 1, 1, 1, 1, 0, 0}, {a_in[b], 48, 1, 1, 1, 1, 0, 0}, {48, 64, 5, 5, 1, 1, 2, 2},
                        {a_in[b], 64, 1, 1, 1, 1, 0, 0}, {64, 96, 3, 3, 1, 1, 1, 1},      {96, 96, 3, 3, 1, 1, 1, 1},
                        {a_in[b], a_pool[b], 1, 1, 1, 1, 0, 0}};
        for (int i = 0; i < 7; i++) {
            char nm[48];
            snprintf(nm, sizeof nm, "%s.%s", a_names[b], bn[i]);
            C(nm, io[i][0], io[i][1], io[i][2], io[i][3], io[i][4], io[i][5], io[i][6], io[i][7]);
        }
    }
    C("Mixed_6a.branch3x3", 288, 384, 3, 3, 2, 2, 0, 0);
    C("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1, 1, 1, 0, 0);
    C("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1, 1);
    C("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3, 2, 2, 0, 0);
    const char *c_names[] = {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"};
    int c7s[] = {128, 160, 160, 192};
    for (int b = 0; b < 4; b++) {
        int c7 = c7s[b];
        const char *bn[] = {"branch1x1",      "branch7x7_1",    "branch7x7_2",    "branch7x7_3",    "branch7x7dbl_1",
                            "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"};
        int io[10][8] = {{768, 192, 1, 1, 1, 1, 0, 0}, {768, c7, 1, 1, 1, 1, 0, 0}, {c7, c7, 1, 7, 1, 1, 0, 3},
                         {c7, 192, 7, 1, 1, 1, 3, 0},  {768, c7, 1, 1, 1, 1, 0, 0}, {c7, c7, 7, 1, 1, 1, 3, 0},
                         {c7, c7, 1, 7, 1, 1, 0, 3},   {c7, c7, 7, 1, 1, 1, 3, 0},  {c7, 192, 1, 7, 1, 1, 0, 3},
                         {768, 192, 1, 1, 1, 1, 0, 0}};
        for (int i = 0; i < 10; i++) {
            char nm[48];
            snprintf(nm, sizeof nm, "%s.%s", c_names[b], bn[i]);
            C(nm, io[i][0], io[i][1], io[i][2], io[i][3], io[i][4], io[i][5], io[i][6], io[i][7]);
        }
    }
    C("Mixed_7a.branch3x3_1", 768, 192, 1, 1, 1, 1, 0, 0);
    C("Mixed_7a.branch3x3_2", 192, 320, 3, 3, 2, 2, 0, 0);
    C("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1, 1, 1, 0, 0);
    C("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7, 1, 1, 0, 3);
    C("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1, 1, 1, 3, 0);
    C("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3, 2, 2, 0, 0);
    const char *e_names[] = {"Mixed_7b", "Mixed_7c"};
    int e_in[] = {1280, 2048};
    for (int b = 0; b < 2; b++) {
        const char *bn[] = {"branch1x1",      "branch3x3_1",     "branch3x3_2a",    "branch3x3_2b", "branch3x3dbl_1",
                            "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"};
        int in = e_in[b];
        int io[9][8] = {{in, 320, 1, 1, 1, 1, 0, 0},  {in, 384, 1, 1, 1, 1, 0, 0},  {384, 384, 1, 3, 1, 1, 0, 1},
                        {384, 384, 3, 1, 1, 1, 1, 0}, {in, 448, 1, 1, 1, 1, 0, 0},  {448, 384, 3, 3, 1, 1, 1, 1},
                        {384, 384, 1, 3, 1, 1, 0, 1}, {384, 384, 3, 1, 1, 1, 1, 0}, {in, 192, 1, 1, 1, 1, 0, 0}};
        for (int i = 0; i < 9; i++) {
            char nm[48];
            snprintf(nm, sizeof nm, "%s.%s", e_names[b], bn[i]);
            C(nm, io[i][0], io[i][1], io[i][2], io[i][3], io[i][4], io[i][5], io[i][6], io[i][7]);
        }
    }
#undef C
    built = k == N_CONV;
    return s;
}

jf_model_status jf_inception_load(const char *path, jf_inception **out, jf_model_error *err)
{
    *out = NULL;
    const conv_spec *sp = specs();
    jf_weights *w = NULL;
    jf_model_status st = jf_weights_open(path, &w, err);
    if (st)
        return st;
    jf_inception *m = calloc(1, sizeof *m);
    if (!m) {
        jf_weights_close(w);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    /* a content hash of every tensor used, for reports (weights identity) */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < N_CONV && !st; i++) {
        const conv_spec *s = &sp[i];
        conv *c = &m->c[i];
        *c = (conv){s->in, s->out, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, NULL, NULL};
        char nm[5][96];
        const char *suffix[5] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
        const jf_tensor_info *t[5];
        for (int k = 0; k < 5 && !st; k++) {
            snprintf(nm[k], sizeof nm[k], "%s.%s", s->name, suffix[k]);
            int64_t shape4[4] = {s->out, s->in, s->kh, s->kw}, shape1[1] = {s->out};
            st = jf_weights_get(w, nm[k], JF_DTYPE_OTHER, k ? 1 : 4, k ? shape1 : shape4, &t[k], err);
        }
        if (st)
            break;
        size_t kk = (size_t)s->in * s->kh * s->kw;
        c->w = malloc((size_t)s->out * kk * sizeof *c->w);
        c->b = malloc((size_t)s->out * sizeof *c->b);
        float *bn = malloc(4 * (size_t)s->out * sizeof *bn);
        if (!c->w || !c->b || !bn) {
            free(bn);
            st = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            break;
        }
        jf__w tw = {t[0]->data, t[0]->dtype, s->out, (int64_t)kk, NULL};
        jf__w_to_f32(&tw, 0, (size_t)s->out * kk, c->w);
        for (int k = 1; k < 5; k++) {
            jf__w tb = {t[k]->data, t[k]->dtype, 1, s->out, NULL};
            jf__w_to_f32(&tb, 0, (size_t)s->out, bn + (size_t)(k - 1) * s->out);
        }
        for (int o = 0; o < s->out; o++) {
            /* in double, then rounded once */
            double gamma = bn[o], beta = bn[s->out + o], mean = bn[2 * s->out + o], var = bn[3 * s->out + o];
            double scale = gamma / sqrt(var + 0.001);
            for (size_t q = 0; q < kk; q++)
                c->w[(size_t)o * kk + q] = (float)(c->w[(size_t)o * kk + q] * scale);
            c->b[o] = (float)(beta - mean * scale);
        }
        for (int k = 0; k < 5; k++) {
            const uint8_t *p = t[k]->data;
            for (size_t q = 0; q < t[k]->bytes; q++)
                h = (h ^ p[q]) * 1099511628211ull;
        }
        free(bn);
    }
    jf_weights_close(w);
    if (st) {
        jf_inception_free(m);
        return st;
    }
    snprintf(m->hash, sizeof m->hash, "%016llx", (unsigned long long)h);
    *out = m;
    return JF_MODEL_OK;
}

void jf_inception_free(jf_inception *m)
{
    if (!m)
        return;
    for (int i = 0; i < N_CONV; i++) {
        free(m->c[i].w);
        free(m->c[i].b);
    }
    free(m);
}

const char *jf_inception_weights_hash(const jf_inception *m)
{
    return m->hash;
}

/* ---- forward ---- */

typedef struct act {
    float *p;
    int C, H, W;
} act;

/* One BasicConv2d into `out` (already sized), conv + folded BN + ReLU. */
static int run_conv(const jf_inception *m, int i, const act *x, int B, float *out, act *y)
{
    const conv *c = &m->c[i];
    y->C = c->out;
    y->H = (x->H + 2 * c->ph - c->kh) / c->sh + 1;
    y->W = (x->W + 2 * c->pw - c->kw) / c->sw + 1;
    y->p = out;
    return jf__conv2d(x->p, x->C, B, x->H, x->W, c->w, c->b, c->out, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, 1, out);
}

static float *alloc_act(int C, int B, int H, int W)
{
    return malloc((size_t)C * B * H * W * sizeof(float));
}

/* A conv whose output is freshly allocated. */
static int conv_new(const jf_inception *m, int i, const act *x, int B, act *y)
{
    const conv *c = &m->c[i];
    int H = (x->H + 2 * c->ph - c->kh) / c->sh + 1, W = (x->W + 2 * c->pw - c->kw) / c->sw + 1;
    float *p = alloc_act(c->out, B, H, W);
    if (!p)
        return -1;
    if (run_conv(m, i, x, B, p, y)) {
        free(p);
        return -1;
    }
    return 0;
}

/* out + channel offset: the slice of a [C][B][H][W] tensor that starts at channel `c` */
static float *slice(const act *o, int c, int B)
{
    return o->p + (size_t)c * B * o->H * o->W;
}

static int pool_new(const act *x, int B, int k, int s, int p, int mode, act *y)
{
    y->C = x->C;
    y->H = (x->H + 2 * p - k) / s + 1;
    y->W = (x->W + 2 * p - k) / s + 1;
    y->p = alloc_act(y->C, B, y->H, y->W);
    if (!y->p)
        return -1;
    jf__pool2d(x->p, x->C * B, x->H, x->W, k, s, p, mode, y->p);
    return 0;
}

/* conv i on x, writing its output at channel `at` of `o` */
static int conv_into(const jf_inception *m, int i, const act *x, int B, act *o, int at)
{
    act y;
    return run_conv(m, i, x, B, slice(o, at, B), &y);
}

/* A chain of convs starting at x, the last written into o at channel `at`. */
static int chain_into(const jf_inception *m, const int *ids, int n, const act *x, int B, act *o, int at)
{
    act cur = *x, next;
    int rc = 0;
    for (int k = 0; k < n - 1 && !rc; k++) {
        rc = conv_new(m, ids[k], &cur, B, &next);
        if (cur.p != x->p)
            free(cur.p);
        cur = next;
    }
    if (!rc)
        rc = conv_into(m, ids[n - 1], &cur, B, o, at);
    if (cur.p != x->p)
        free(cur.p);
    return rc;
}

static int block_a(const jf_inception *m, int base, const act *x, int B, act *o)
{
    int pool = m->c[base + 6].out;
    o->C = 64 + 64 + 96 + pool;
    o->H = x->H;
    o->W = x->W;
    o->p = alloc_act(o->C, B, o->H, o->W);
    if (!o->p)
        return -1;
    int b1[] = {base}, b5[] = {base + 1, base + 2}, b3[] = {base + 3, base + 4, base + 5};
    int rc = chain_into(m, b1, 1, x, B, o, 0) || chain_into(m, b5, 2, x, B, o, 64) || chain_into(m, b3, 3, x, B, o, 128);
    act pl;
    if (!rc && !(rc = pool_new(x, B, 3, 1, 1, 1, &pl))) {
        int bp[] = {base + 6};
        rc = chain_into(m, bp, 1, &pl, B, o, 224);
        free(pl.p);
    }
    return rc;
}

static int block_b(const jf_inception *m, const act *x, int B, act *o)
{
    o->C = 384 + 96 + x->C;
    o->H = (x->H - 3) / 2 + 1;
    o->W = (x->W - 3) / 2 + 1;
    o->p = alloc_act(o->C, B, o->H, o->W);
    if (!o->p)
        return -1;
    int b3[] = {M6A}, bd[] = {M6A + 1, M6A + 2, M6A + 3};
    int rc = chain_into(m, b3, 1, x, B, o, 0) || chain_into(m, bd, 3, x, B, o, 384);
    if (!rc)
        jf__pool2d(x->p, x->C * B, x->H, x->W, 3, 2, 0, 0, slice(o, 480, B));
    return rc;
}

static int block_c(const jf_inception *m, int base, const act *x, int B, act *o)
{
    o->C = 768;
    o->H = x->H;
    o->W = x->W;
    o->p = alloc_act(o->C, B, o->H, o->W);
    if (!o->p)
        return -1;
    int b1[] = {base}, b7[] = {base + 1, base + 2, base + 3}, bd[] = {base + 4, base + 5, base + 6, base + 7, base + 8};
    int rc = chain_into(m, b1, 1, x, B, o, 0) || chain_into(m, b7, 3, x, B, o, 192) || chain_into(m, bd, 5, x, B, o, 384);
    act pl;
    if (!rc && !(rc = pool_new(x, B, 3, 1, 1, 1, &pl))) {
        int bp[] = {base + 9};
        rc = chain_into(m, bp, 1, &pl, B, o, 576);
        free(pl.p);
    }
    return rc;
}

static int block_d(const jf_inception *m, const act *x, int B, act *o)
{
    o->C = 320 + 192 + x->C;
    o->H = (x->H - 3) / 2 + 1;
    o->W = (x->W - 3) / 2 + 1;
    o->p = alloc_act(o->C, B, o->H, o->W);
    if (!o->p)
        return -1;
    int b3[] = {M7A, M7A + 1}, b7[] = {M7A + 2, M7A + 3, M7A + 4, M7A + 5};
    int rc = chain_into(m, b3, 2, x, B, o, 0) || chain_into(m, b7, 4, x, B, o, 320);
    if (!rc)
        jf__pool2d(x->p, x->C * B, x->H, x->W, 3, 2, 0, 0, slice(o, 512, B));
    return rc;
}

/* E blocks: the 1x3 and 3x1 convs both read the same tensor; Mixed_7c pools by max */
static int block_e(const jf_inception *m, int base, int max_pool, const act *x, int B, act *o)
{
    o->C = 2048;
    o->H = x->H;
    o->W = x->W;
    o->p = alloc_act(o->C, B, o->H, o->W);
    if (!o->p)
        return -1;
    int b1[] = {base};
    int rc = chain_into(m, b1, 1, x, B, o, 0);
    act t, d;
    if (!rc && !(rc = conv_new(m, base + 1, x, B, &t))) {
        rc = conv_into(m, base + 2, &t, B, o, 320) || conv_into(m, base + 3, &t, B, o, 704);
        free(t.p);
    }
    if (!rc && !(rc = conv_new(m, base + 4, x, B, &t))) {
        if (!(rc = conv_new(m, base + 5, &t, B, &d))) {
            rc = conv_into(m, base + 6, &d, B, o, 1088) || conv_into(m, base + 7, &d, B, o, 1472);
            free(d.p);
        }
        free(t.p);
    }
    act pl;
    if (!rc && !(rc = pool_new(x, B, 3, 1, 1, max_pool ? 0 : 1, &pl))) {
        int bp[] = {base + 8};
        rc = chain_into(m, bp, 1, &pl, B, o, 1856);
        free(pl.p);
    }
    return rc;
}

/* The forward of B images (NCHW) into features [B][2048]; 0, or -1 when out of memory. */
static int forward(const jf_inception *m, const float *images, int B, float *features)
{
    /* NCHW input → [C][B][H][W] */
    act x = {alloc_act(3, B, 299, 299), 3, 299, 299};
    if (!x.p)
        return -1;
    size_t plane = 299 * 299;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++)
            memcpy(x.p + ((size_t)c * B + b) * plane, images + ((size_t)b * 3 + c) * plane, plane * sizeof(float));
    act y;
    int rc = 0;
#define STEP(expr)                                                                                                 \
    do {                                                                                                           \
        if (!rc) {                                                                                                 \
            rc = (expr);                                                                                           \
            free(x.p);                                                                                             \
            x = y;                                                                                                 \
            if (rc)                                                                                                \
                x.p = NULL;                                                                                        \
        }                                                                                                          \
    } while (0)
    STEP(conv_new(m, C1A, &x, B, &y));
    STEP(conv_new(m, C2A, &x, B, &y));
    STEP(conv_new(m, C2B, &x, B, &y));
    STEP(pool_new(&x, B, 3, 2, 0, 0, &y));
    STEP(conv_new(m, C3B, &x, B, &y));
    STEP(conv_new(m, C4A, &x, B, &y));
    STEP(pool_new(&x, B, 3, 2, 0, 0, &y));
    STEP(block_a(m, M5B, &x, B, &y));
    STEP(block_a(m, M5C, &x, B, &y));
    STEP(block_a(m, M5D, &x, B, &y));
    STEP(block_b(m, &x, B, &y));
    STEP(block_c(m, M6B, &x, B, &y));
    STEP(block_c(m, M6C, &x, B, &y));
    STEP(block_c(m, M6D, &x, B, &y));
    STEP(block_c(m, M6E, &x, B, &y));
    STEP(block_d(m, &x, B, &y));
    STEP(block_e(m, M7B, 0, &x, B, &y));
    STEP(block_e(m, M7C, 1, &x, B, &y));
#undef STEP
    if (rc) {
        free(x.p);
        return -1;
    }
    /* global average over 8x8, in double, to [B][2048] */
    size_t hw = (size_t)x.H * x.W;
    for (int c = 0; c < x.C; c++)
        for (int b = 0; b < B; b++) {
            const float *p = x.p + ((size_t)c * B + b) * hw;
            double s = 0;
            for (size_t i = 0; i < hw; i++)
                s += p[i];
            features[(size_t)b * x.C + c] = (float)(s / (double)hw);
        }
    free(x.p);
    return 0;
}

typedef struct image_job {
    const jf_inception *m;
    const float *images;
    float *features;
    atomic_int failed;
} image_job;

static void one_image(void *user, size_t i)
{
    image_job *j = user;
    if (forward(j->m, j->images + i * 3 * 299 * 299, 1, j->features + i * 2048))
        atomic_store(&j->failed, 1);
}

jf_model_status jf_inception_features(jf_inception *m, const float *images, int batch, float *features,
                                      jf_model_error *err)
{
    if (batch <= 0)
        return jf__merr(err, JF_MODEL_EARG, "an empty batch");
    /* one image per worker, each with single-threaded sgemm: no hand-offs between the pool
     * and OpenBLAS inside a layer (the layers are small), and no threads left spinning */
    image_job j = {m, images, features, 0};
    (void)jf__ops_failed();
    jf__blas_single(1);
    jf__parallel_for((size_t)batch, one_image, &j);
    jf__blas_single(0);
    if (atomic_load(&j.failed) | jf__ops_failed()) /* a layer's own allocation or a pooling scratch */
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory in the Inception forward");
    return JF_MODEL_OK;
}

/* ---- formula weights (demo, tests) ---- */

static double formula_u(uint64_t t, uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull + (t + 1) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1p-53;
}

jf_model_status jf_inception_write_formula(const char *path, jf_model_error *err)
{
    const conv_spec *sp = specs();
    /* header: 5 F32 tensors per conv, in table order */
    size_t cap = (size_t)N_CONV * 5 * 160 + 64, len = 0;
    char *h = malloc(cap);
    if (!h)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    static const char *const suffix[5] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
    uint64_t off = 0;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < N_CONV; i++)
        for (int k = 0; k < 5; k++) {
            const conv_spec *s = &sp[i];
            uint64_t n = k ? (uint64_t)s->out : (uint64_t)s->out * s->in * s->kh * s->kw;
            if (k)
                len += (size_t)snprintf(h + len, cap - len, ",\"%s.%s\":{\"dtype\":\"F32\",\"shape\":[%d],", s->name, suffix[k],
                                        s->out);
            else
                len += (size_t)snprintf(h + len, cap - len, ",\"%s.%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d,%d,%d],", s->name,
                                        suffix[k], s->out, s->in, s->kh, s->kw);
            len += (size_t)snprintf(h + len, cap - len, "\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                    (unsigned long long)(off + n * 4));
            off += n * 4;
        }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t hl = len;
    jf_model_status st = JF_MODEL_OK;
    if (!f || fwrite(&hl, 8, 1, f) != 1 || fwrite(h, 1, len, f) != len)
        st = jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
    free(h);
    uint64_t t = 0;
    for (int i = 0; i < N_CONV && !st; i++) {
        const conv_spec *s = &sp[i];
        uint64_t fan_in = (uint64_t)s->in * s->kh * s->kw, n = (uint64_t)s->out * fan_in;
        float *buf = malloc(n * sizeof *buf);
        if (!buf) {
            st = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            break;
        }
        double bound = 2.0 * sqrt(6.0 / (double)fan_in);
        for (uint64_t q = 0; q < n; q++)
            buf[q] = (float)((formula_u(t, q) - 0.5) * bound);
        int bad = fwrite(buf, 4, n, f) != n;
        for (int k = 1; k < 5 && !bad; k++) {
            for (int o = 0; o < s->out; o++) {
                double u = formula_u(t + (uint64_t)k, (uint64_t)o);
                buf[o] = (float)(k == 1 ? 1.0 + 0.2 * (u - 0.5) : k == 4 ? 0.5 + u : 0.2 * (u - 0.5));
            }
            bad = fwrite(buf, 4, (size_t)s->out, f) != (size_t)s->out;
        }
        free(buf);
        if (bad)
            st = jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
        t += 5;
    }
    if (f && fclose(f) != 0 && !st)
        st = jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
    return st;
}
