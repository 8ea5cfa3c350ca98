/* Tests of the eval module: statistics, Fréchet distance and KID against numpy/scipy
 * (tests/reference/fid_ref.py), .npz files both ways, the self-checks of evaluation.md §1.11. */
#include "check.h"
#include "eval_internal.h"
#include "jf_eval.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#ifndef JF_TEST_DATA
#define JF_TEST_DATA "tests/data"
#endif

static void cleanup(void) {}

typedef struct fcase {
    uint32_t na, nb, d, subsets, size;
    const float *a, *b;
    double mu_a[64], sigma_a_row0[64]; /* copied: the file does not align them */
    double fid_sqrtm, fid_eig, kid_mean, kid_std;
} fcase;

static char *golden;

static int load_cases(fcase *c)
{
    FILE *f = fopen(JF_TEST_DATA "/fid/fid_golden.bin", "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    golden = malloc((size_t)n);
    if (fread(golden, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return 0;
    }
    fclose(f);
    if (memcmp(golden, "JFFD", 4))
        return 0;
    char *p = golden + 4;
    for (int k = 0; k < 2; k++) {
        memcpy(&c[k].na, p, 20);
        p += 20;
        c[k].a = (const float *)p;
        p += (size_t)c[k].na * c[k].d * 4;
        c[k].b = (const float *)p;
        p += (size_t)c[k].nb * c[k].d * 4;
        if (c[k].d > 64)
            return 0;
        memcpy(c[k].mu_a, p, (size_t)c[k].d * 8);
        p += (size_t)c[k].d * 8;
        memcpy(c[k].sigma_a_row0, p, (size_t)c[k].d * 8);
        p += (size_t)c[k].d * 8;
        memcpy(&c[k].fid_sqrtm, p, 32);
        p += 32;
    }
    return p - golden == n;
}

static double rel(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

static void fid_vs_scipy(void)
{
    fcase c[2];
    CHECK(load_cases(c));
    jf_error err = {0};
    for (int k = 0; k < 2; k++) {
        jf_fid_stats sa, sb;
        CHECK_OK(jf_fid_stats_compute(c[k].a, c[k].na, (int)c[k].d, &sa, &err));
        CHECK_OK(jf_fid_stats_compute(c[k].b, c[k].nb, (int)c[k].d, &sb, &err));
        double emu = 0, esig = 0;
        for (uint32_t i = 0; i < c[k].d; i++) {
            emu = fmax(emu, fabs(sa.mu[i] - c[k].mu_a[i]));
            esig = fmax(esig, fabs(sa.sigma[i] - c[k].sigma_a_row0[i]));
        }
        jf_frechet_result r;
        CHECK_OK(jf_frechet_distance(&sa, &sb, 0, &r, &err));
        printf("case %d (%u vs %u, d %u): mu err %.1e, sigma err %.1e; FID %.10f vs scipy sqrtm %.10f (rel %.1e), "
               "eigvals %.10f (rel %.1e); %d eigenvalues clamped\n",
               k, c[k].na, c[k].nb, c[k].d, emu, esig, r.fid, c[k].fid_sqrtm, rel(r.fid, c[k].fid_sqrtm), c[k].fid_eig,
               rel(r.fid, c[k].fid_eig), r.clamped);
        CHECK(emu < 1e-12 && esig < 1e-12);
        CHECK(rel(r.fid, c[k].fid_sqrtm) < 1e-8);
        CHECK(rel(r.fid, c[k].fid_eig) < 1e-8);
        jf_kid_result kr;
        CHECK_OK(jf_kid(c[k].a, c[k].na, c[k].b, c[k].nb, (int)c[k].d, (int)c[k].subsets, (int)c[k].size, 2020, &kr, &err));
        printf("        KID %.10e ± %.4e vs torch-fidelity's draw %.10e ± %.4e\n", kr.mean, kr.std, c[k].kid_mean,
               c[k].kid_std);
        CHECK(rel(kr.mean, c[k].kid_mean) < 1e-9 && rel(kr.std, c[k].kid_std) < 1e-7);
        jf_fid_stats_free(&sa);
        jf_fid_stats_free(&sb);
    }
    free(golden);
}

/* evaluation.md §1.11: FID(X, X) = 0; a translation by c adds ‖c‖²; KID(X, X) ≈ 0 */
static void self_checks(void)
{
    fcase c[2];
    CHECK(load_cases(c));
    jf_error err = {0};
    uint32_t n = c[0].na, d = c[0].d;
    jf_fid_stats sa, st;
    CHECK_OK(jf_fid_stats_compute(c[0].a, n, (int)d, &sa, &err));
    jf_frechet_result r;
    CHECK_OK(jf_frechet_distance(&sa, &sa, 1, &r, &err));
    printf("FID(X, X) = %.3e\n", r.fid);
    CHECK(fabs(r.fid) < 1e-9);
    float *t = malloc((size_t)n * d * sizeof *t);
    double cc = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < d; k++)
            t[i * d + k] = c[0].a[i * d + k] + 0.25f * (float)(k % 3);
    for (uint32_t k = 0; k < d; k++)
        cc += 0.0625 * (k % 3) * (k % 3);
    CHECK_OK(jf_fid_stats_compute(t, n, (int)d, &st, &err));
    CHECK_OK(jf_frechet_distance(&sa, &st, 1, &r, &err));
    printf("translation by c: FID %.9f, ||c||^2 %.9f\n", r.fid, cc);
    CHECK(fabs(r.fid - cc) < 1e-5);
    /* KID(X, X) over all rows: both subsets are X (permuted), so the unbiased estimate is
     * 2·A/(m(m−1)) − 2·(A + D)/m² with A the off-diagonal and D the diagonal kernel sums */
    jf_kid_result kr;
    CHECK_OK(jf_kid(c[0].a, n, c[0].a, n, (int)d, 3, (int)n, 1, &kr, &err));
    double A = 0, D = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double dot = 0;
            for (uint32_t k = 0; k < d; k++)
                dot += (double)c[0].a[i * d + k] * c[0].a[j * d + k];
            double v = pow(dot / d + 1.0, 3);
            if (i == j)
                D += v;
            else
                A += v;
        }
    double want = 2 * A / ((double)n * (n - 1)) - 2 * (A + D) / ((double)n * n);
    printf("KID(X, X) = %.6e, closed form %.6e (std over subsets %.1e)\n", kr.mean, want, kr.std);
    CHECK(rel(kr.mean, want) < 1e-9 && kr.std < 1e-9 * fabs(want));
    /* errors: one image; dimension mismatch; NaN */
    jf_fid_stats bad;
    CHECK(jf_fid_stats_compute(c[0].a, 1, (int)d, &bad, &err) == JF_EARG);
    CHECK(strstr(err.msg, "at least 2"));
    CHECK(jf_kid(c[0].a, 10, c[0].b, 10, (int)d, 5, 50, 1, &kr, &err) == JF_EARG);
    t[5] = NAN;
    jf_fid_stats_free(&st);
    CHECK_OK(jf_fid_stats_compute(t, n, (int)d, &st, &err));
    CHECK(jf_frechet_distance(&sa, &st, 0, &r, &err) != JF_OK);
    printf("NaN: %s\n", err.msg);
    free(t);
    jf_fid_stats_free(&sa);
    jf_fid_stats_free(&st);
    free(golden);
}

static void npz_files(void)
{
    fcase c[2];
    CHECK(load_cases(c));
    jf_error err = {0};
    jf_fid_stats s1, s2, mine;
    CHECK_OK(jf_npz_read_stats(JF_TEST_DATA "/fid/stats_compressed.npz", &s1, NULL, NULL, NULL, &err));
    CHECK_OK(jf_npz_read_stats(JF_TEST_DATA "/fid/stats_stored_f4.npz", &s2, NULL, NULL, NULL, &err));
    CHECK_OK(jf_fid_stats_compute(c[0].a, c[0].na, (int)c[0].d, &mine, &err));
    CHECK_EQ_INT(s1.dims, 48);
    CHECK_EQ_INT(s2.dims, 48);
    for (int i = 0; i < 48 * 48; i++) {
        CHECK(fabs(s1.sigma[i] - mine.sigma[i]) < 1e-12);
        CHECK(s2.sigma[i] == (double)(float)s1.sigma[i]);
    }
    float *feats = NULL;
    size_t nf = 0;
    int fd = 0;
    CHECK_OK(jf_npz_read_stats(JF_TEST_DATA "/fid/kid_feats.npz", NULL, &feats, &nf, &fd, &err));
    CHECK(nf == c[0].na && fd == 48 && !memcmp(feats, c[0].a, nf * 48 * sizeof *feats));
    free(feats);
    /* written, then read back by us and (when numpy is here) by numpy */
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "/tmp/jf_test_stats_%d.npz", (int)getpid());
    CHECK_OK(jf_npz_write_stats(path, &mine, &err));
    jf_fid_stats back;
    CHECK_OK(jf_npz_read_stats(path, &back, NULL, NULL, NULL, &err));
    CHECK(!memcmp(back.sigma, mine.sigma, 48 * 48 * sizeof(double)) && !memcmp(back.mu, mine.mu, 48 * sizeof(double)));
    jf_fid_stats_free(&back);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy\" 2>/dev/null || exit 0; /usr/bin/python3 -c \"import numpy as np; "
             "z = np.load('%s'); s = np.load('%s'); assert z['mu'].dtype == np.float64 and z['sigma'].shape == (48, 48); "
             "assert (z['sigma'] == s['sigma']).all() or abs(z['sigma'] - s['sigma']).max() < 1e-12\"",
             path, JF_TEST_DATA "/fid/stats_compressed.npz");
    CHECK(system(cmd) == 0);
    /* bad files: shapes, dtype, truncation, not a zip, missing arrays */
    FILE *f = fopen(path, "wb");
    fputs("not a zip at all", f);
    fclose(f);
    CHECK(jf_npz_read_stats(path, &back, NULL, NULL, NULL, &err) != JF_OK);
    printf("not a zip: %s\n", err.msg);
    CHECK(jf_npz_read_stats(JF_TEST_DATA "/fid/kid_feats.npz", &back, NULL, NULL, NULL, &err) == JF_EFORMAT);
    printf("no mu/sigma: %s\n", err.msg);
    CHECK(jf_npz_read_stats(JF_TEST_DATA "/fid/stats_compressed.npz", NULL, &feats, &nf, &fd, &err) == JF_EFORMAT);
    snprintf(cmd, sizeof cmd, "head -c 9000 %s > %s", JF_TEST_DATA "/fid/stats_stored_f4.npz", path);
    CHECK(system(cmd) == 0);
    CHECK(jf_npz_read_stats(path, &back, NULL, NULL, NULL, &err) != JF_OK);
    printf("truncated: %s\n", err.msg);
    unlink(path);
    jf_fid_stats_free(&s1);
    jf_fid_stats_free(&s2);
    jf_fid_stats_free(&mine);
    jf_fid_stats_free(&back);
    free(golden);
}

/* The preprocessing modes against the reference libraries (tests/reference/fid_preprocess_ref.py)
 * on awkward sizes: 1×37, 23×17 (upscale), 299×299, 640×427 and 300×1000 (non-integer down). */
static void preprocess_modes(void)
{
    FILE *f = fopen(JF_TEST_DATA "/fid/preprocess_golden.bin", "rb");
    CHECK(f);
    char magic[4];
    uint32_t ncases;
    CHECK(fread(magic, 1, 4, f) == 4 && !memcmp(magic, "JFPP", 4) && fread(&ncases, 4, 1, f) == 1);
    const size_t step = 191, total = (size_t)3 * 299 * 299, ns = (total + step - 1) / step;
    const size_t gtotal = (size_t)256 * 256 * 3, gns = (gtotal + step - 1) / step;
    float *want = malloc(ns * sizeof *want), *got = malloc(total * sizeof *got);
    uint8_t *gwant = malloc(gns), *gout = malloc(gtotal);
    /* bounds: clean and TF1 bit-exact; pytorch-fid and torchmetrics within a few float ulps
     * (PyTorch's vectorised kernels may fuse multiply-adds) */
    const double tol[4] = {0, 5e-7, 0, 5e-7};
    const jf_fid_mode modes[4] = {JF_FID_CLEAN, JF_FID_PYTORCH, JF_FID_LEGACY_TF, JF_FID_TORCHMETRICS};
    for (uint32_t c = 0; c < ncases; c++) {
        uint32_t wh[2];
        CHECK(fread(wh, 4, 2, f) == 2);
        int w = (int)wh[0], h = (int)wh[1];
        uint8_t *img = malloc((size_t)w * h * 3);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++)
                    img[((size_t)y * w + x) * 3 + ch] = (uint8_t)((x * 37 + y * 11 + ch * 71 + (x * y) % 13) % 256);
        for (int m = 0; m < 4; m++) {
            CHECK(fread(want, 4, ns, f) == ns);
            CHECK(jf_fid_preprocess(img, w, h, modes[m], got) == 0);
            double worst = 0;
            size_t exact = 0;
            for (size_t i = 0; i < ns; i++) {
                double d = fabs((double)got[i * step] - want[i]);
                worst = fmax(worst, d);
                exact += d == 0;
            }
            printf("%4dx%-4d %-18s max |diff| %.2e, %zu/%zu sampled values identical\n", w, h, jf_fid_mode_name(modes[m]),
                   worst, exact, ns);
            CHECK(worst <= tol[m]);
        }
        CHECK(fread(gwant, 1, gns, f) == gns);
        CHECK(jf_fid_gigagan_crop(img, w, h, 256, gout) == 0);
        size_t gdiff = 0;
        for (size_t i = 0; i < gns; i++)
            gdiff += gout[i * step] != gwant[i];
        printf("%4dx%-4d gigagan crop+lanczos: %zu/%zu sampled bytes differ\n", w, h, gdiff, gns);
        CHECK(gdiff == 0);
        free(img);
    }
    fclose(f);
    free(want);
    free(got);
    free(gwant);
    free(gout);
}

/* Captions as OpenAI's CLIP cleans them: Python's html.unescape twice, byte for byte, on 471 cases
 * from tests/reference/html_unescape_ref.py (named references with and without ';', longest
 * prefixes, numeric references, remapped and dropped code points, non-ASCII neighbours). */
static void html_unescape(void)
{
    FILE *f = fopen(JF_TEST_DATA "/html_unescape.bin", "rb");
    CHECK(f);
    char magic[4];
    uint32_t n = 0;
    CHECK(fread(magic, 1, 4, f) == 4 && !memcmp(magic, "JFHU", 4) && fread(&n, 4, 1, f) == 1);
    int same = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t la, lb;
        char a[4096], b[4096];
        CHECK(fread(&la, 4, 1, f) == 1 && la < sizeof a && fread(a, 1, la, f) == la);
        CHECK(fread(&lb, 4, 1, f) == 1 && lb < sizeof b && fread(b, 1, lb, f) == lb);
        a[la] = b[lb] = 0;
        char *once = jf__html_unescape(a), *twice = once ? jf__html_unescape(once) : NULL;
        CHECK(twice);
        CHECK_MSG(strlen(twice) == lb && !memcmp(twice, b, lb), "case %u: \"%s\" gave \"%s\", Python \"%s\"", i, a, twice, b);
        same += strcmp(a, b) == 0;
        free(once);
        free(twice);
    }
    fclose(f);
    printf("%u captions unescaped as Python's html.unescape does (%d without references)\n", n, same);
    CHECK(n > 400);
}

/* A CLIP with formula weights written to dir (/tmp/jf_test_clip_TAG_PID) and loaded; NULL with
 * the message printed when either fails. */
static jf_clip *formula_clip(const jf_clip_formula_shape *shape, const char *tag, char *dir, size_t dir_size)
{
    jf_model_error me = {0};
    snprintf(dir, dir_size, "/tmp/jf_test_clip_%s_%d", tag, (int)getpid());
    jf_clip *m = NULL;
    if (jf_clip_write_formula(dir, shape, &me) || jf_clip_load(dir, &m, &me)) {
        fprintf(stderr, "%s: %s\n", dir, me.msg);
        return NULL;
    }
    return m;
}

/* Full width: the ViT-L/14 sizes with one layer per tower (formula weights written here, 300 MB),
 * text and image embeddings against tests/reference/clip_ref.py golden-l14-layer. */
static void clip_l14_layer(void)
{
    jf_model_error me = {0};
    char dir[256];
    jf_clip_formula_shape shape = jf_clip_l14_shape();
    shape.text_layers = shape.vision_layers = 1;
    jf_clip *m = formula_clip(&shape, "l14", dir, sizeof dir);
    CHECK(m);
    const jf_clip_config *c = jf_clip_get_config(m);
    CHECK_EQ_INT(c->image_size, 224);
    CHECK_EQ_INT(c->vision_width, 1024);
    FILE *f = fopen(JF_TEST_DATA "/clip_l14_layer_golden.bin", "rb");
    CHECK(f);
    char magic[4];
    uint32_t hdr[2];
    CHECK(fread(magic, 1, 4, f) == 4 && !memcmp(magic, "JFCM", 4) && fread(hdr, 4, 2, f) == 2 && hdr[1] == 768);
    float want[768], got[768];
    for (uint32_t t = 0; t <= hdr[0]; t++) {
        if (t < hdr[0]) {
            uint32_t eot;
            int32_t ids[77];
            CHECK(fread(&eot, 4, 1, f) == 1 && fread(ids, 4, 77, f) == 77 && fread(want, 4, 768, f) == 768);
            CHECK(jf_clip_encode_text(m, ids, (int)eot, got, &me) == JF_MODEL_OK);
        } else {
            size_t n = (size_t)3 * 224 * 224;
            float *pix = malloc(n * sizeof *pix);
            for (size_t i = 0; i < n; i++)
                pix[i] = (float)((double)((int64_t)(i * 40503) % 65536) / 32768.0 - 1.0);
            CHECK(fread(want, 4, 768, f) == 768);
            CHECK(jf_clip_encode_image(m, pix, got, &me) == JF_MODEL_OK);
            /* a batch (this image, a shifted one, this one again) gives the one-by-one numbers */
            float *three = malloc(3 * n * sizeof *three), *emb3 = malloc(3 * 768 * sizeof *emb3), one[768];
            memcpy(three, pix, n * sizeof *three);
            for (size_t i = 0; i < n; i++)
                three[n + i] = pix[(i + 1000) % n];
            memcpy(three + 2 * n, pix, n * sizeof *three);
            CHECK(jf_clip_encode_images(m, three, 3, emb3, &me) == JF_MODEL_OK);
            CHECK(jf_clip_encode_image(m, three + n, one, &me) == JF_MODEL_OK);
            double be = 0;
            for (int i = 0; i < 768; i++) {
                be = fmax(be, fabs((double)emb3[i] - got[i]));
                be = fmax(be, fabs((double)emb3[768 + i] - one[i]));
                be = fmax(be, fabs((double)emb3[1536 + i] - got[i]));
            }
            printf("batch of 3 images vs one by one: max difference %.2e\n", be);
            CHECK(be < 1e-5);
            free(three);
            free(emb3);
            free(pix);
        }
        double e = 0, mx = 0;
        for (uint32_t i = 0; i < 768; i++) {
            e = fmax(e, fabs((double)got[i] - want[i]));
            mx = fmax(mx, fabs((double)want[i]));
        }
        printf("%s %u: max error %.2e of %.2e\n", t < hdr[0] ? "text" : "image", t, e, mx);
        CHECK(e < 1e-5 * mx);
    }
    fclose(f);
    jf_clip_free(m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* CLIP: formula-weight towers and the two preprocessing paths against tests/reference/clip_ref.py */
static void clip_golden(void)
{
    jf_error err = {0};
    jf_model_error me = {0};
    char dir[256];
    jf_clip_formula_shape shape = jf_clip_tiny_shape();
    jf_clip *m = formula_clip(&shape, "tiny", dir, sizeof dir);
    CHECK(m);
    const jf_clip_config *c = jf_clip_get_config(m);
    CHECK_EQ_INT(c->image_size, 32);
    CHECK_EQ_INT(c->text_heads, 2);
    CHECK_EQ_INT(c->eot, 599);
    FILE *f = fopen(JF_TEST_DATA "/clip_golden.bin", "rb");
    CHECK(f);
    char magic[4];
    uint32_t hdr[3];
    CHECK(fread(magic, 1, 4, f) == 4 && !memcmp(magic, "JFCL", 4) && fread(hdr, 4, 3, f) == 3);
    uint32_t d = hdr[2];
    float want[64], got[64];
    for (uint32_t t = 0; t < hdr[0]; t++) {
        uint32_t eot;
        int32_t ids[77];
        CHECK(fread(&eot, 4, 1, f) == 1 && fread(ids, 4, 77, f) == 77 && fread(want, 4, d, f) == d);
        CHECK(jf_clip_encode_text(m, ids, (int)eot, got, &me) == JF_MODEL_OK);
        double e = 0, mx = 0;
        for (uint32_t i = 0; i < d; i++) {
            e = fmax(e, fabs((double)got[i] - want[i]));
            mx = fmax(mx, fabs((double)want[i]));
        }
        printf("text %u: max error %.2e of %.2e\n", t, e, mx);
        CHECK(e < 1e-5 * mx);
    }
    float *pix = malloc(3 * 32 * 32 * sizeof *pix);
    for (uint32_t b = 0; b < hdr[1]; b++) {
        CHECK(fread(pix, 4, 3 * 32 * 32, f) == 3 * 32 * 32 && fread(want, 4, d, f) == d);
        CHECK(jf_clip_encode_image(m, pix, got, &me) == JF_MODEL_OK);
        double e = 0, mx = 0;
        for (uint32_t i = 0; i < d; i++) {
            e = fmax(e, fabs((double)got[i] - want[i]));
            mx = fmax(mx, fabs((double)want[i]));
        }
        printf("image %u: max error %.2e of %.2e\n", b, e, mx);
        CHECK(e < 1e-5 * mx);
    }
    free(pix);
    /* tokenization: SOT + byte tokens + EOT, padded with EOT; truncation and the torchmetrics cut */
    int32_t ids[77];
    int pos, nc;
    CHECK(jf_clip_tokenize(m, "Hi there", NULL, 0, ids, &pos, &nc) == 0);
    CHECK(ids[0] == 598 && pos == 1 + nc && ids[pos] == 599 && ids[76] == 599);
    char long_text[400];
    memset(long_text, 'a', sizeof long_text);
    for (int i = 1; i < 399; i += 2)
        long_text[i] = ' ';
    long_text[399] = 0;
    CHECK(jf_clip_tokenize(m, long_text, NULL, 0, ids, &pos, &nc) == 0);
    CHECK(nc == 200 && pos == 76 && ids[76] == 599);
    CHECK(jf_clip_tokenize(m, long_text, NULL, 1, ids, &pos, &nc) == 0);
    CHECK(ids[76] != 599);
    CHECK(jf_clip_tokenize(m, "cat", "A photo depicts", 0, ids, &pos, &nc) == 0);
    CHECK(nc == 16); /* the formula tokenizer has no merges: a + photo + depicts + cat = 1 + 5 + 7 + 3 bytes */
    /* preprocessing: HF (floor crop, double rescale) and OpenAI (rounded crop, float /255) */
    uint32_t npre;
    CHECK(fread(&npre, 4, 1, f) == 1);
    for (uint32_t k = 0; k < npre; k++) {
        uint32_t ph[4];
        CHECK(fread(ph, 4, 4, f) == 4);
        int w = (int)ph[0], h = (int)ph[1], size = (int)ph[2];
        size_t n = (size_t)3 * size * size;
        float *exp_ = malloc(n * sizeof *exp_), *out = malloc(n * sizeof *out);
        uint8_t *img = malloc((size_t)w * h * 3);
        CHECK(fread(exp_, 4, n, f) == n);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++)
                    img[((size_t)y * w + x) * 3 + ch] = (uint8_t)((x * 37 + y * 11 + ch * 71 + (x * y) % 13) % 256);
        CHECK(jf_clip_preprocess(img, w, h, size, (int)ph[3], out) == 0);
        size_t same = 0;
        double e = 0;
        for (size_t i = 0; i < n; i++) {
            same += out[i] == exp_[i];
            e = fmax(e, fabs((double)out[i] - exp_[i]));
        }
        printf("preprocess %dx%d -> %d (%s): %zu/%zu identical, max diff %.1e\n", w, h, size, ph[3] ? "openai" : "hf",
               same, n, e);
        CHECK(same == n);
        free(exp_);
        free(out);
        free(img);
    }
    fclose(f);
    jf_clip_free(m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    (void)err;
}

/* A CLIP directory that is not whole: each loader error names what is wrong. */
static void clip_bad_dir(void)
{
    jf_model_error me = {0};
    char dir[256], cmd[1024];
    snprintf(dir, sizeof dir, "/tmp/jf_test_clip_bad_%d", (int)getpid());
    jf_clip_formula_shape shape = jf_clip_tiny_shape();
    CHECK(jf_clip_write_formula(dir, &shape, &me) == JF_MODEL_OK);
    jf_clip *m = NULL;
    /* a weights file cut short */
    snprintf(cmd, sizeof cmd, "cd '%s' && head -c 100000 model.safetensors > cut && mv cut model.safetensors", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_clip_load(dir, &m, &me) != JF_MODEL_OK);
    printf("cut weights: %s\n", me.msg);
    CHECK(strstr(me.msg, "model.safetensors"));
    /* no tokenizer at all */
    CHECK(jf_clip_write_formula(dir, &shape, &me) == JF_MODEL_OK);
    snprintf(cmd, sizeof cmd, "rm '%s/tokenizer.json'", dir);
    CHECK(system(cmd) == 0);
    CHECK(jf_clip_load(dir, &m, &me) == JF_MODEL_ENOTFOUND);
    printf("no tokenizer: %s\n", me.msg);
    CHECK(strstr(me.msg, "vocab.json"));
    /* not a CLIP: weights of another model */
    CHECK(jf_clip_write_formula(dir, &shape, &me) == JF_MODEL_OK);
    CHECK(jf_inception_write_formula(strcat(strcpy(cmd, dir), "/model.safetensors"), &me) == JF_MODEL_OK);
    CHECK(jf_clip_load(dir, &m, &me) == JF_MODEL_ENOTFOUND);
    printf("not CLIP: %s\n", me.msg);
    CHECK(strstr(me.msg, "CLIPModel"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static const test_case cases[] = {
    {"clip_bad_dir", clip_bad_dir},
    {"clip_golden", clip_golden},
    {"html_unescape", html_unescape},
    {"clip_l14_layer", clip_l14_layer},
    {"preprocess_modes", preprocess_modes},
    {"fid_vs_scipy", fid_vs_scipy},
    {"self_checks", self_checks},
    {"npz_files", npz_files},
};
TEST_MAIN(cases)
