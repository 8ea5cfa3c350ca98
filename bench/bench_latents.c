/* The SDXL-VAE encoder at a training crop: FLOPs of one image, seconds per image (best of REPS
 * on one fixed crop), and the machine's sgemm rate with the same threads, as JSON for
 * bench/bench_latents.sh. usage: bench_latents VAE_DIR [side 384] [reps 3] [threads 0 = all] */
#include "bench_util.h"
#include "jf_model.h"

#include <math.h>

/* FLOPs of the encoder's convolutions, attention and quant_conv for a side × side image. */
static double encoder_flops(const jf_vae_config *v, int side)
{
    int B = v->blocks, L = v->layers_per_block;
    double hw = (double)side * side, f = 2 * hw * 9 * v->in_channels * v->block_out[0];
    int prev = v->block_out[0];
    for (int b = 0; b < B; b++) {
        int out = v->block_out[b];
        for (int j = 0; j < L; j++) {
            int in = j ? out : prev;
            f += 2 * hw * 9 * ((double)in * out + (double)out * out) + (in != out ? 2 * hw * in * out : 0);
        }
        if (b < B - 1) {
            hw /= 4;
            f += 2 * hw * 9 * (double)out * out; /* stride-2 convolution: outputs at a quarter of the positions */
        }
        prev = out;
    }
    int top = v->block_out[B - 1], z2 = 2 * v->latent_channels;
    f += 2 * (2 * 2 * hw * 9 * (double)top * top) + 4 * 2 * hw * top * top + 2 * 2 * hw * hw * top; /* mid */
    return f + 2 * hw * 9 * (double)top * z2 + 2 * hw * z2 * z2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_latents VAE_DIR [side] [reps] [threads]\n");
        return 2;
    }
    int side = argc > 2 ? atoi(argv[2]) : 384, reps = argc > 3 ? atoi(argv[3]) : 3;
    jf_model_set_threads(argc > 4 ? atoi(argv[4]) : 0);
    jf_model_error err = {0};
    jf_vae *vae = NULL;
    if (jf_vae_load(argv[1], &vae, &err)) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return 1;
    }
    const jf_vae_config *vc = jf_vae_get_config(vae);
    int S = side >> (vc->blocks - 1);
    size_t P = (size_t)side * side, Z = (size_t)vc->latent_channels * S * S;
    float *img = malloc(3 * P * sizeof *img), *mean = malloc(Z * sizeof *mean), *logvar = malloc(Z * sizeof *logvar);
    for (size_t i = 0; i < 3 * P; i++) /* a smooth image in [−1, 1] */
        img[i] = (float)sin(0.013 * (double)(i % (size_t)side) + 0.007 * (double)(i / (size_t)side));
    double best = 1e30, sg = sgemm_peak();
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (jf_vae_encode(vae, img, side, side, mean, logvar, &err)) {
            fprintf(stderr, "encode: %s\n", err.msg);
            return 1;
        }
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    double fl = encoder_flops(vc, side);
    printf("{\"threads\":%d,\"side\":%d,\"sgemm_gflops\":%.1f,\"encoder_tflop\":%.4f,\"encode_s\":%.3f,"
           "\"encoder_gflops\":%.1f,\"of_sgemm\":%.3f}\n",
           jf_model_threads(), side, sg, fl / 1e12, best, fl / best / 1e9, fl / best / 1e9 / sg);
    jf_vae_free(vae);
    free(img);
    free(mean);
    free(logvar);
    return 0;
}
