/* The generation path against tests/reference/janus_gen_ref.py (tests/data/janus_gen_golden.bin):
 * every module on formula inputs, and three Euler steps with CFG for two images from fixed
 * noise, in f32 and with the reference's bf16 timestep; the noise generator; bad arguments. */
#include "check.h"
#include "test_files.h"
#include "jf_model.h"
#include "model_internal.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#define TINY_DIR JF_TEST_DATA "/janus_tiny"

static void cleanup(void) {}
/* ---- the golden file ---- */

typedef struct golden {
    char *buf;
    size_t len;
    uint64_t weights_sum, layer_sum;
    uint32_t n;
} golden;

/* A record of a golden file whose records, from byte `off` on, are char name[32], u32 stride,
 * u32 count, f32 values[count] (janus_gen_ref.py and vae_ref.py both write them so): its values
 * (every stride-th of the output) and their count. */
static const float *find_record(const char *buf, size_t len, size_t off, uint32_t n, const char *name, uint32_t *stride,
                                size_t *count)
{
    for (uint32_t r = 0; r < n && off + 40 <= len; r++) {
        uint32_t st, c;
        memcpy(&st, buf + off + 32, 4);
        memcpy(&c, buf + off + 36, 4);
        if (!strncmp(buf + off, name, 32)) {
            *stride = st;
            *count = c;
            return (const float *)(buf + off + 40);
        }
        off += 40 + (size_t)c * 4;
    }
    *count = 0;
    return NULL;
}

static const float *golden_find_strided(const golden *g, const char *name, uint32_t *stride, size_t *count)
{
    return find_record(g->buf, g->len, 28, g->n, name, stride, count);
}

/* A record kept whole. */
static const float *golden_find(const golden *g, const char *name, size_t *count)
{
    uint32_t stride;
    const float *v = golden_find_strided(g, name, &stride, count);
    return v && stride == 1 ? v : NULL;
}

static int golden_open(golden *g)
{
    memset(g, 0, sizeof *g);
    g->buf = slurp(JF_TEST_DATA "/janus_gen_golden.bin", &g->len);
    if (!g->buf || g->len < 28 || memcmp(g->buf, "JFGG2\0\0\0", 8))
        return -1;
    memcpy(&g->weights_sum, g->buf + 8, 8);
    memcpy(&g->layer_sum, g->buf + 16, 8);
    memcpy(&g->n, g->buf + 24, 4);
    return g->weights_sum == word_sum(TINY_DIR "/model.safetensors") ? 0 : -2;
}

static void compare(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double e = rel_err(got, want, n);
    printf("  %-22s max error %.2e of max |value| (tolerance %.0e)\n", what, e, tol);
    CHECK_MSG(e <= tol, "%s differs from the reference", what);
}

/* Each module on formula inputs: tolerance 1e-5 of the largest reference value. */
static void modules(void)
{
    jf_model_error err = {0};
    golden g;
    CHECK_MSG(golden_open(&g) == 0, "janus_gen_golden.bin missing or made from other weights "
                                    "(regenerate with tests/reference/janus_gen_ref.py golden)");
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf_janus_gen_config *gc = &c->gen;
    CHECK(gc->present && gc->latent_side == 8 && gc->channels == 8);
    size_t H = (size_t)c->hidden, C = (size_t)gc->channels, G = (size_t)gc->latent_side / 2, N = G * G;
    size_t cnt;
    float buf[8192], scratch[8192], temb[256];
    /* timestep embedding */
    const float *want = golden_find(&g, "time_embed", &cnt);
    CHECK(want && cnt == 5 * H);
    const float ts[5] = {0.0f, 33.25f, 333.33334f, 966.6667f, 999.0f};
    for (int i = 0; i < 5; i++)
        jf__gen_time_embed(m, ts[i], buf + i * H, scratch);
    compare("time_embed", buf, want, 5 * H, 1e-5);
    /* ConvNeXt blocks */
    const jf__gen_heads *h = jf__janus_gen_heads(m);
    float cond[256], *ws = malloc(1 << 20);
    CHECK(ws);
    formula_input(cond, 1, H, 3);
    formula_input(buf, N, C, 4);
    jf__gen_convnext(&h->enc[0], (int)C, (int)H, (int)G, 1e-6, buf, cond, ws);
    want = golden_find(&g, "enc_block0", &cnt);
    CHECK(want && cnt == N * C);
    compare("encoder ConvNeXt 0", buf, want, cnt, 1e-5);
    formula_input(buf, N, 2 * C, 5);
    jf__gen_convnext(&h->dec[1], (int)(2 * C), (int)H, (int)G, 1e-6, buf, cond, ws);
    want = golden_find(&g, "dec_block1", &cnt);
    CHECK(want && cnt == N * 2 * C);
    compare("decoder ConvNeXt 1", buf, want, cnt, 1e-5);
    /* encoder and decoder at t = 250 */
    jf__gen_time_embed(m, 250.0f, temb, scratch);
    size_t S = (size_t)gc->latent_side;
    float z[4 * 64], x_emb[16 * 8], tok[16 * 64], v[4 * 64];
    CHECK(4 * S * S <= sizeof z / sizeof z[0] && N * C <= 128 && N * H <= 1024);
    formula_input(z, 4 * S, S, 6);
    CHECK_OK(jf__gen_encode(m, z, temb, x_emb, tok, &err));
    want = golden_find(&g, "encoder_x", &cnt);
    CHECK(want && cnt == N * C);
    compare("encoder map", x_emb, want, cnt, 1e-5);
    want = golden_find(&g, "encoder_tokens", &cnt);
    CHECK(want && cnt == N * H);
    compare("encoder tokens", tok, want, cnt, 1e-5);
    float hidden[16 * 64], skip[16 * 8];
    formula_input(hidden, N, H, 7);
    formula_input(skip, N, C, 8);
    CHECK_OK(jf__gen_decode(m, hidden, skip, temb, v, &err));
    want = golden_find(&g, "decoder_v", &cnt);
    CHECK(want && cnt == 4 * S * S);
    compare("decoder velocity", v, want, cnt, 1e-5);
    free(ws);
    jf_janus_free(m);
    free(g.buf);
}

/* One full-width module of each kind (the release's widths: 768 and 1536 channels, hidden 2048)
 * of `jf model random --layer` (seed 1, written here as the golden's was): the timestep
 * embedding and a ConvNeXt block of the encoder and of the decoder, on 6 × 6 maps. */
static void full_width(void)
{
    jf_model_error err = {0};
    golden g;
    CHECK(golden_open(&g) == 0);
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "/tmp/jf_test_gen_layer_%d", (int)getpid());
    jf_janus_random_shape shape = jf_janus_layer_shape();
    CHECK_OK(jf_janus_write_random(dir, &shape, 1, &err));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_MSG(word_sum(path) == g.layer_sum, "the golden was made from other weights (regenerate with "
                                             "tests/reference/janus_gen_ref.py golden)");
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err));
    const jf_janus_config *c = jf_janus_get_config(m);
    CHECK(c->gen.channels == 768 && c->hidden == 2048);
    size_t C = 768, H = 2048;
    float *buf = malloc(36 * 2 * C * sizeof *buf), *ws = malloc((size_t)64 << 20), temb[2 * 2048], cond[2048];
    CHECK(buf && ws);
    uint32_t stride;
    size_t cnt;
    const float *want = golden_find_strided(&g, "full/time_embed", &stride, &cnt);
    CHECK(want && stride == 1 && cnt == 2 * H);
    jf__gen_time_embed(m, 500.0f, temb, ws);
    jf__gen_time_embed(m, 966.6667f, temb + H, ws);
    /* 384 frequencies at t up to 1000: a one-ulp difference between glibc's expf and PyTorch's
     * vectorised exp in a frequency moves the sinusoid's argument by up to ~1e-4 rad (measured:
     * 7e-6 of the largest value after the two linears) */
    compare("full time_embed", temb, want, 2 * H, 2e-5);
    const jf__gen_heads *h = jf__janus_gen_heads(m);
    formula_input(cond, 1, H, 11);
    const char *names[2] = {"full/enc_block0", "full/dec_block0"};
    for (int k = 0; k < 2; k++) {
        size_t Ck = C * (size_t)(k + 1);
        formula_input(buf, 36, Ck, (uint32_t)(12 + k));
        jf__gen_convnext(k ? &h->dec[0] : &h->enc[0], (int)Ck, (int)H, 6, 1e-6, buf, cond, ws);
        want = golden_find_strided(&g, names[k], &stride, &cnt);
        CHECK(want && (cnt - 1) * stride < 36 * Ck);
        double d = 0, mx = 0;
        for (size_t i = 0; i < cnt; i++) {
            d = fmax(d, fabs((double)buf[i * stride] - want[i]));
            mx = fmax(mx, fabs((double)want[i]));
        }
        printf("  %-22s max error %.2e of max |value| (tolerance 1e-05)\n", names[k], d / mx);
        CHECK(d / mx <= 1e-5);
    }
    free(buf);
    free(ws);
    jf_janus_free(m);
    free(g.buf);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

typedef struct step_log {
    const golden *g;
    const char *tag;
    size_t Z;
    double worst;
    int seen;
} step_log;

static void on_step(void *user, int step, int steps, size_t image, const float *z, const float *v)
{
    (void)steps;
    (void)z;
    step_log *l = user;
    char name[32];
    snprintf(name, sizeof name, "%s/v%d", l->tag, step);
    size_t cnt;
    const float *want = golden_find(l->g, name, &cnt);
    if (!want || cnt < (image + 1) * l->Z) {
        l->worst = INFINITY;
        return;
    }
    double e = rel_err(v, want + image * l->Z, l->Z);
    if (e > l->worst)
        l->worst = e;
    l->seen++;
}

/* Three Euler steps with CFG (w = 2) for two images of one prompt from the reference's noise:
 * the guided velocity of every step and image, and the final latents, within 1e-4 of the
 * largest reference value. The reference recomputes the whole masked two-row sequence at
 * every step; jf reuses the prompt's keys and values — the agreement is the proof they match. */
static void sampling(void)
{
    jf_model_error err = {0};
    golden g;
    CHECK(golden_open(&g) == 0);
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    size_t cnt, n_noise, n_ids;
    const float *idf = golden_find(&g, "ids", &n_ids);
    const float *noise = golden_find(&g, "noise", &n_noise);
    CHECK(idf && noise && n_ids < 64);
    int32_t ids[64];
    for (size_t i = 0; i < n_ids; i++)
        ids[i] = (int32_t)idf[i];
    size_t Z = n_noise / 2;
    const char *tags[2] = {"f32", "ref"};
    for (int mode = 0; mode < 2; mode++) {
        float *z = malloc(n_noise * sizeof *z);
        CHECK(z);
        memcpy(z, noise, n_noise * sizeof *z);
        step_log log = {&g, tags[mode], Z, 0, 0};
        jf_t2i_params p = jf_t2i_default_params();
        p.steps = 3;
        p.cfg = 2.0;
        p.match_reference = mode;
        p.on_step = on_step;
        p.user = &log;
        CHECK_OK(jf_janus_t2i_ids(m, ids, n_ids, z, 2, &p, &err));
        printf("%s timesteps:\n", mode ? "bf16 (--match-reference)" : "f32");
        printf("  %-22s max error %.2e of max |value| over %d step·images (tolerance 1e-04)\n", "guided velocity",
               log.worst, log.seen);
        CHECK_EQ_INT(log.seen, 6);
        CHECK(log.worst <= 1e-4);
        char name[32];
        snprintf(name, sizeof name, "%s/z", tags[mode]);
        const float *want = golden_find(&g, name, &cnt);
        CHECK(want && cnt == n_noise);
        compare("final latents", z, want, cnt, 1e-4);
        free(z);
    }
    jf_janus_free(m);
    free(g.buf);
}

/* Batch independence and thread independence: each image of a batch equals the image sampled
 * alone, bit for bit, and so does a run on one thread against two. */
static void determinism(void)
{
    jf_model_error err = {0};
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    const jf_janus_gen_config *gc = &jf_janus_get_config(m)->gen;
    size_t Z = (size_t)gc->latent_channels * gc->latent_side * gc->latent_side;
    float *batch = malloc(4 * Z * sizeof *batch), *one = malloc(Z * sizeof *one);
    CHECK(batch && one);
    for (int i = 0; i < 4; i++)
        jf_t2i_noise(100 + (uint64_t)i, batch + i * Z, Z);
    jf_t2i_params p = jf_t2i_default_params();
    p.steps = 4;
    jf_model_set_threads(2);
    CHECK_OK(jf_janus_t2i(m, "a red bicycle", batch, 4, &p, &err));
    jf_model_set_threads(1);
    for (int i = 0; i < 4; i++) {
        jf_t2i_noise(100 + (uint64_t)i, one, Z);
        CHECK_OK(jf_janus_t2i(m, "a red bicycle", one, 1, &p, &err));
        CHECK_MSG(!memcmp(one, batch + i * Z, Z * sizeof *one), "image %d of the batch differs from it alone", i);
    }
    jf_model_set_threads(2);
    printf("4 images in a batch on 2 threads = each alone on 1 thread, bit for bit\n");
    free(batch);
    free(one);
    jf_janus_free(m);
}

/* The counter-based noise: a prefix is the same whatever the count asked for, odd counts too;
 * mean and variance of a million values are those of N(0, 1); seeds differ. */
static void noise(void)
{
    size_t n = 1000001;
    float *a = malloc(n * sizeof *a), b[7], c[7];
    CHECK(a);
    jf_t2i_noise(42, a, n);
    jf_t2i_noise(42, b, 7);
    CHECK(!memcmp(a, b, sizeof b));
    jf_t2i_noise(43, c, 7);
    CHECK(memcmp(b, c, sizeof b));
    double s = 0, ss = 0, s4 = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(isfinite(a[i]));
        s += a[i];
        ss += (double)a[i] * a[i];
        s4 += (double)a[i] * a[i] * a[i] * a[i];
    }
    double mean = s / n, var = ss / n - mean * mean, kurt = s4 / n;
    printf("noise: mean %.4f, variance %.4f, 4th moment %.3f over %zu values\n", mean, var, kurt, n);
    CHECK(fabs(mean) < 0.005 && fabs(var - 1) < 0.01 && fabs(kurt - 3) < 0.05);
    free(a);
}

/* Bad arguments: a clear error, nothing computed. */
static void bad_arguments(void)
{
    jf_model_error err = {0};
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    float z[4 * 64] = {0};
    jf_t2i_params p = jf_t2i_default_params();
    p.steps = 0;
    CHECK(jf_janus_t2i(m, "x", z, 1, &p, &err) == JF_MODEL_EARG && strstr(err.msg, "steps"));
    p = jf_t2i_default_params();
    p.cfg = NAN;
    CHECK(jf_janus_t2i(m, "x", z, 1, &p, &err) == JF_MODEL_EARG && strstr(err.msg, "guidance"));
    p.cfg = -1;
    CHECK(jf_janus_t2i(m, "x", z, 1, &p, &err) == JF_MODEL_EARG);
    p = jf_t2i_default_params();
    /* a prompt longer than the context (1024 positions in the tiny model) */
    char *longp = malloc(4000);
    CHECK(longp);
    memset(longp, 'a', 3999);
    longp[3999] = 0;
    for (int i = 1; i < 3999; i += 2)
        longp[i] = ' ';
    CHECK(jf_janus_t2i(m, longp, z, 1, &p, &err) == JF_MODEL_ELIMIT && strstr(err.msg, "context"));
    printf("long prompt: %s\n", err.msg);
    free(longp);
    CHECK(jf_janus_t2i(m, "<image_placeholder>", z, 1, &p, &err) == JF_MODEL_EARG);
    jf_janus_free(m);
}


/* ---- the VAE against tests/reference/vae_ref.py (tests/data/vae_golden.bin) ---- */

typedef struct vgolden {
    char *buf;
    size_t len;
    uint64_t tiny_sum, full_sum;
    uint32_t n;
} vgolden;

static const float *vgolden_find(const vgolden *g, const char *name, uint32_t *stride, size_t *count)
{
    return find_record(g->buf, g->len, 28, g->n, name, stride, count);
}

/* got[i·stride] against want[i] */
static double strided_err(const float *got, const float *want, uint32_t stride, size_t count)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < count; i++) {
        d = fmax(d, fabs((double)got[i * stride] - want[i]));
        m = fmax(m, fabs((double)want[i]));
    }
    return m > 0 ? d / m : d;
}

static void vcompare(const vgolden *g, const char *name, const float *got, size_t n, double tol)
{
    uint32_t stride;
    size_t count;
    const float *want = vgolden_find(g, name, &stride, &count);
    CHECK_MSG(want && stride >= 1 && (count - 1) * stride < n, "%s: no such record (or sized differently)", name);
    double e = strided_err(got, want, stride, count);
    printf("  %-18s max error %.2e of max |value| (tolerance %.0e)\n", name, e, tol);
    CHECK_MSG(e <= tol, "%s differs from the reference", name);
}

static void formula_map(float *x, int C, int H, int W, uint32_t salt, float scale)
{
    formula_input(x, (size_t)C * H, (size_t)W, salt);
    for (size_t i = 0; i < (size_t)C * H * W; i++)
        x[i] *= scale;
}

/* The tiny VAE's decoder and encoder whole, four of its modules, and one full-width module of
 * each kind (written here by the C writer, seed 1, as the golden's were): tolerance 1e-5 of the
 * largest reference value (1e-4 for the whole decoder and encoder). The same VAE with the old
 * attention names gives the same bytes; in F16, the same within 1 %. */
static void vae_golden(void)
{
    jf_model_error err = {0};
    vgolden g = {0};
    g.buf = slurp(JF_TEST_DATA "/vae_golden.bin", &g.len);
    CHECK(g.buf && g.len > 28 && !memcmp(g.buf, "JFVG1\0\0\0", 8));
    memcpy(&g.tiny_sum, g.buf + 8, 8);
    memcpy(&g.full_sum, g.buf + 16, 8);
    memcpy(&g.n, g.buf + 24, 4);
    char tiny[200], old[256], half[256], full[256], path[512];
    snprintf(tiny, sizeof tiny, "/tmp/jf_test_vae_%d", (int)getpid());
    snprintf(old, sizeof old, "%s_old", tiny);
    snprintf(half, sizeof half, "%s_f16", tiny);
    snprintf(full, sizeof full, "%s_full", tiny);
    CHECK_OK(jf_vae_write_random(tiny, 0, 1, 0, &err));
    CHECK_OK(jf_vae_write_random(old, 0, 1, 1, &err));
    CHECK_OK(jf_vae_write_random(half, 0, 1, 2, &err));
    CHECK_OK(jf_vae_write_random(full, 1, 1, 0, &err));
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", tiny);
    CHECK_MSG(word_sum(path) == g.tiny_sum, "the golden was made from other weights (jf's writer changed? "
                                            "regenerate with tests/reference/vae_ref.py golden)");
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", full);
    CHECK(word_sum(path) == g.full_sum);
    jf_vae *v = NULL, *vo = NULL, *vh = NULL, *vf = NULL;
    CHECK_OK(jf_vae_load(tiny, &v, &err));
    CHECK_OK(jf_vae_load(old, &vo, &err));
    CHECK_OK(jf_vae_load(half, &vh, &err));
    CHECK_OK(jf_vae_load(full, &vf, &err));
    const jf_vae_config *c = jf_vae_get_config(v);
    CHECK(c->blocks == 4 && c->has_encoder && fabs(c->scaling_factor - 0.13025) < 1e-12);
    CHECK(jf_vae_get_config(vf)->parameters == 83653863u);
    float *z = malloc(4 * 64 * sizeof *z), *img = malloc(3 * 64 * 64 * sizeof *img), *img2 = malloc(3 * 64 * 64 * sizeof *img2);
    float *mean = malloc(4 * 64 * sizeof *mean), *logvar = malloc(4 * 64 * sizeof *logvar);
    float *x = malloc(512 * 36 * sizeof *x), *y = malloc(512 * 36 * sizeof *y);
    CHECK(z && img && img2 && mean && logvar && x && y);
    formula_map(z, 4, 8, 8, 1, 0.5f);
    CHECK_OK(jf_vae_decode(v, z, 8, 8, img, &err));
    vcompare(&g, "tiny/decode", img, 3 * 64 * 64, 1e-4);
    CHECK_OK(jf_vae_decode(vo, z, 8, 8, img2, &err));
    CHECK_MSG(!memcmp(img, img2, 3 * 64 * 64 * sizeof *img), "the old attention names decode differently");
    CHECK_OK(jf_vae_decode(vh, z, 8, 8, img2, &err));
    double e16 = rel_err(img2, img, 3 * 64 * 64);
    printf("  F16 weights: decoded image within %.2e of the F32 one\n", e16);
    CHECK(e16 < 1e-2);
    formula_map(img, 3, 64, 64, 2, 0.5f);
    CHECK_OK(jf_vae_encode(v, img, 64, 64, mean, logvar, &err));
    vcompare(&g, "tiny/mean", mean, 4 * 64, 1e-4);
    vcompare(&g, "tiny/logvar", logvar, 4 * 64, 1e-4);
    int oc;
    formula_map(x, 16, 8, 8, 3, 1.0f);
    CHECK_OK(jf__vae_run_resnet(v, 1, -1, x, 16, 8, 8, y, &oc, &err));
    vcompare(&g, "tiny/dec_mid0", y, 16 * 64, 1e-5);
    formula_map(x, 16, 8, 8, 4, 1.0f);
    CHECK_OK(jf__vae_run_attention(v, 1, x, 16, 8, 8, &err));
    vcompare(&g, "tiny/dec_attn", x, 16 * 64, 1e-5);
    formula_map(x, 16, 8, 8, 5, 1.0f);
    CHECK_OK(jf__vae_run_resnet(v, 1, 4, x, 16, 8, 8, y, &oc, &err)); /* up block 2, resnet 0 */
    CHECK_EQ_INT(oc, 8);
    vcompare(&g, "tiny/dec_up2_0", y, 8 * 64, 1e-5);
    formula_map(x, 16, 8, 8, 6, 1.0f);
    CHECK_OK(jf__vae_run_attention(v, 0, x, 16, 8, 8, &err));
    vcompare(&g, "tiny/enc_attn", x, 16 * 64, 1e-5);
    formula_map(x, 512, 6, 6, 7, 1.0f);
    CHECK_OK(jf__vae_run_resnet(vf, 1, -1, x, 512, 6, 6, y, &oc, &err));
    vcompare(&g, "full/dec_mid0", y, 512 * 36, 1e-5);
    formula_map(x, 512, 6, 6, 8, 1.0f);
    CHECK_OK(jf__vae_run_attention(vf, 1, x, 512, 6, 6, &err));
    vcompare(&g, "full/dec_attn", x, 512 * 36, 1e-5);
    formula_map(x, 512, 6, 6, 9, 1.0f);
    CHECK_OK(jf__vae_run_resnet(vf, 1, 2 * 3, x, 512, 6, 6, y, &oc, &err)); /* up block 2, resnet 0 */
    CHECK_EQ_INT(oc, 256);
    vcompare(&g, "full/dec_up2_0", y, 256 * 36, 1e-5);
    formula_map(x, 128, 6, 6, 10, 1.0f);
    CHECK_OK(jf__vae_run_resnet(vf, 0, 1 * 2, x, 128, 6, 6, y, &oc, &err)); /* down block 1, resnet 0 */
    CHECK_EQ_INT(oc, 256);
    vcompare(&g, "full/enc_down1_0", y, 256 * 36, 1e-5);
    free(z);
    free(img);
    free(img2);
    free(mean);
    free(logvar);
    free(x);
    free(y);
    jf_vae_free(v);
    jf_vae_free(vo);
    jf_vae_free(vh);
    jf_vae_free(vf);
    free(g.buf);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s %s", tiny, old, half, full);
    CHECK(system(cmd) == 0);
}

/* The whole tiny pipeline to 8-bit pixels: the reference's final latents of the three guided
 * steps (janus_gen_golden) decoded by the tiny VAE and rounded as save_image does, against the
 * reference's bytes. A byte may differ only where the reference's value sits within 1e-3 of a
 * rounding edge; those are counted. */
static void pipeline_pixels(void)
{
    jf_model_error err = {0};
    golden gg;
    CHECK(golden_open(&gg) == 0);
    vgolden g = {0};
    g.buf = slurp(JF_TEST_DATA "/vae_golden.bin", &g.len);
    CHECK(g.buf && g.len > 28 && !memcmp(g.buf, "JFVG1\0\0\0", 8));
    memcpy(&g.n, g.buf + 24, 4);
    char dir[200];
    snprintf(dir, sizeof dir, "/tmp/jf_test_vae_px_%d", (int)getpid());
    CHECK_OK(jf_vae_write_random(dir, 0, 1, 0, &err));
    jf_vae *v = NULL;
    CHECK_OK(jf_vae_load(dir, &v, &err));
    size_t cnt;
    const float *z = golden_find(&gg, "f32/z", &cnt);
    CHECK(z && cnt == 2 * 4 * 64);
    float lat[256], img[3 * 64 * 64];
    for (int i = 0; i < 256; i++)
        lat[i] = z[i] / 0.13025f;
    CHECK_OK(jf_vae_decode(v, lat, 8, 8, img, &err));
    uint8_t rgb[64 * 64 * 3];
    jf_vae_to_rgb8(img, 64, 64, 0, rgb);
    uint32_t stride;
    const float *pre = vgolden_find(&g, "pipeline/pre_cast", &stride, &cnt);
    CHECK(pre && stride == 1 && cnt == 3 * 64 * 64);
    int differ = 0, edge = 0, bad = 0;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 64 * 64; p++) {
            float r = pre[c * 4096 + p];
            int want = (int)r, got = rgb[p * 3 + c];
            double frac = r - floor(r);
            int near_edge = r > 0.0f && r < 255.0f && (frac < 1e-3 || frac > 1 - 1e-3); /* not clamped */
            edge += near_edge;
            if (got != want) {
                differ++;
                bad += !(near_edge && abs(got - want) == 1);
            }
        }
    printf("  8-bit pixels: %d of %d bytes differ from the reference's (%d values within 1e-3 of a rounding "
           "edge), %d elsewhere\n", differ, 3 * 4096, edge, bad);
    CHECK_EQ_INT(bad, 0);
    jf_vae_free(v);
    free(g.buf);
    free(gg.buf);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* 8-bit conversion: save_image rounds, the demo truncates; both clamp. */
static void vae_rgb8(void)
{
    float img[3 * 4] = {-2.0f, -1.0f, 0.0f, 1.0f, 0.5f, 0.999f, -0.999f, 3.0f, 0.0031f, 0.0039f, -0.5f, 0.25f};
    uint8_t r[12], t[12];
    jf_vae_to_rgb8(img, 2, 2, 0, r);
    jf_vae_to_rgb8(img, 2, 2, 1, t);
    /* pixel p channel c = img[c·4 + p]; the bytes torchvision's save_image and the demo's numpy
     * arithmetic give for the same floats (computed with them) */
    const uint8_t want_round[12] = {0, 191, 128, 0, 255, 128, 128, 0, 64, 255, 255, 159};
    const uint8_t want_trunc[12] = {0, 191, 127, 0, 254, 127, 127, 0, 63, 255, 255, 159};
    for (int i = 0; i < 12; i++) {
        CHECK_MSG(r[i] == want_round[i], "rounded byte %d is %d, want %d", i, r[i], want_round[i]);
        CHECK_MSG(t[i] == want_trunc[i], "truncated byte %d is %d, want %d", i, t[i], want_trunc[i]);
    }
}

/* A VAE directory that is not the SDXL-VAE's layout: a clear error naming the cause. */
static void vae_bad_dirs(void)
{
    jf_model_error err = {0};
    char dir[256], cmd[600];
    snprintf(dir, sizeof dir, "/tmp/jf_test_vae_bad_%d", (int)getpid());
    jf_vae *v = NULL;
    CHECK(jf_vae_load(dir, &v, &err) != 0 && strstr(err.msg, "config.json"));
    CHECK_OK(jf_vae_write_random(dir, 0, 1, 0, &err));
    /* a config naming another class */
    snprintf(cmd, sizeof cmd, "sed -i 's/AutoencoderKL/AutoencoderTiny/' %s/config.json", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_vae_load(dir, &v, &err) != 0 && strstr(err.msg, "AutoencoderTiny"));
    printf("  %s\n", err.msg);
    /* widths the file does not have */
    CHECK_OK(jf_vae_write_random(dir, 0, 1, 0, &err));
    snprintf(cmd, sizeof cmd, "sed -i 's/\"block_out_channels\": \\[8, 8, 16, 16\\]/\"block_out_channels\": [8, 8, 16, 32]/' %s/config.json", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_vae_load(dir, &v, &err) != 0 && strstr(err.msg, "shape"));
    printf("  %s\n", err.msg);
    /* a tensor renamed */
    CHECK_OK(jf_vae_write_random(dir, 0, 1, 0, &err));
    snprintf(cmd, sizeof cmd, "sed -i 's/decoder.conv_out.weight/decoder.conv_OUT.weight/' %s/diffusion_pytorch_model.safetensors", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_vae_load(dir, &v, &err) != 0 && strstr(err.msg, "decoder.conv_out.weight"));
    printf("  %s\n", err.msg);
    /* the weights file missing */
    snprintf(cmd, sizeof cmd, "rm %s/diffusion_pytorch_model.safetensors", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_vae_load(dir, &v, &err) != 0 && strstr(err.msg, "diffusion_pytorch_model.safetensors"));
    printf("  %s\n", err.msg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static const test_case cases[] = {
    {"modules", modules},
    {"sampling", sampling},
    {"full_width", full_width},
    {"determinism", determinism},
    {"noise", noise},
    {"bad_arguments", bad_arguments},
    {"vae_golden", vae_golden},
    {"vae_rgb8", vae_rgb8},
    {"pipeline_pixels", pipeline_pixels},
    {"vae_bad_dirs", vae_bad_dirs},
};
TEST_MAIN(cases)
