/* FID-side benchmarks: the Fréchet distance of two 2048-d statistics (jf's symmetric eigen route;
 * bench_eval.sh times scipy's sqrtm route on the same .npz files), and FID-Inception images/s.
 *
 * usage: bench_eval frechet OUT_DIR          writes a.npz, b.npz; prints {"seconds", "fid"}
 *        bench_eval inception WEIGHTS N       prints {"images_per_s", "threads"}  */
#include "jf_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float gauss(uint64_t *s)
{
    double u = 0;
    for (int i = 0; i < 12; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        u += (double)(*s >> 11) * 0x1p-53;
    }
    return (float)(u - 6.0);
}

int main(int argc, char **argv)
{
    jf_error err = {0};
    if (argc == 3 && !strcmp(argv[1], "frechet")) {
        size_t n = 5000, d = 2048;
        float *f = malloc(n * d * sizeof *f);
        jf_fid_stats a, b;
        uint64_t s = 1;
        for (size_t i = 0; i < n * d; i++)
            f[i] = gauss(&s);
        jf_fid_stats_compute(f, n, (int)d, &a, &err);
        for (size_t i = 0; i < n * d; i++)
            f[i] = 1.1f * gauss(&s) + 0.05f;
        jf_fid_stats_compute(f, n, (int)d, &b, &err);
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/a.npz", argv[2]);
        snprintf(pb, sizeof pb, "%s/b.npz", argv[2]);
        if (jf_npz_write_stats(pa, &a, &err) || jf_npz_write_stats(pb, &b, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        jf_frechet_result r;
        double t0 = now();
        if (jf_frechet_distance(&a, &b, 0, &r, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("{\"seconds\": %.3f, \"fid\": %.10f, \"threads\": %d}\n", now() - t0, r.fid, jf_model_threads());
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "inception")) {
        jf_model_error me;
        jf_inception *m;
        if (jf_inception_load(argv[2], &m, &me)) {
            fprintf(stderr, "%s\n", me.msg);
            return 1;
        }
        int n = atoi(argv[3]), B = 8;
        size_t plane = (size_t)3 * 299 * 299;
        float *img = malloc((size_t)B * plane * sizeof *img), *feat = malloc((size_t)B * 2048 * sizeof *feat);
        for (size_t i = 0; i < (size_t)B * plane; i++)
            img[i] = (float)((double)((int64_t)(i * 40503) % 65536) / 32768.0 - 1.0);
        jf_inception_features(m, img, 1, feat, &me); /* warm-up */
        double t0 = now();
        for (int k = 0; k < n; k += B)
            jf_inception_features(m, img, n - k < B ? n - k : B, feat, &me);
        printf("{\"images_per_s\": %.3f, \"threads\": %d}\n", n / (now() - t0), jf_model_threads());
        jf_inception_free(m);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "clip")) {
        /* a formula CLIP at ViT-L/14 size (written once), N images through the vision tower */
        jf_model_error me = {0};
        char cfg[4200];
        snprintf(cfg, sizeof cfg, "%s/model.safetensors", argv[2]);
        FILE *f = fopen(cfg, "rb");
        if (f)
            fclose(f);
        else {
            jf_clip_formula_shape s = jf_clip_l14_shape();
            if (jf_clip_write_formula(argv[2], &s, &me)) {
                fprintf(stderr, "%s\n", me.msg);
                return 1;
            }
        }
        jf_clip *m;
        if (jf_clip_load(argv[2], &m, &me)) {
            fprintf(stderr, "%s\n", me.msg);
            return 1;
        }
        int n = atoi(argv[3]);
        size_t plane = (size_t)3 * 224 * 224;
        float *img = malloc(plane * sizeof *img), emb[768];
        for (size_t i = 0; i < plane; i++)
            img[i] = (float)((double)((int64_t)(i * 40503) % 65536) / 32768.0 - 1.0);
        jf_clip_encode_image(m, img, emb, &me); /* warm-up */
        double t0 = now();
        for (int k = 0; k < n; k++)
            jf_clip_encode_image(m, img, emb, &me);
        double ti = now() - t0;
        /* batches of 4, as jf eval clipscore runs them */
        float *four = malloc(4 * plane * sizeof *four), emb4[4 * 768];
        for (int b = 0; b < 4; b++)
            memcpy(four + b * plane, img, plane * sizeof *four);
        int nb = (n + 3) / 4;
        t0 = now();
        for (int k = 0; k < nb; k++)
            jf_clip_encode_images(m, four, 4, emb4, &me);
        double tb = now() - t0;
        free(four);
        int32_t ids[77];
        int pos, nc;
        jf_clip_tokenize(m, "a photo of a cat sitting on a red sofa", NULL, 0, ids, &pos, &nc);
        t0 = now();
        for (int k = 0; k < n; k++)
            jf_clip_encode_text(m, ids, pos, emb, &me);
        printf("{\"images_per_s\": %.3f, \"images_per_s_batch4\": %.3f, \"texts_per_s\": %.3f, \"threads\": %d}\n",
               n / ti, 4.0 * nb / tb, n / (now() - t0), jf_model_threads());
        free(img);
        jf_clip_free(m);
        return 0;
    }
    fprintf(stderr, "usage: bench_eval frechet OUT_DIR | inception WEIGHTS N | clip DIR N\n");
    return 2;
}
