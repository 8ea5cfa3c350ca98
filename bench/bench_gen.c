/* The generation path at JanusFlow-1.3B size: seconds per Euler step (with CFG) split into the
 * encoder, the language model and the decoder, for batches of 1 and 2 images; the SDXL-VAE
 * decode at 384²; peak RSS; the FLOP rates against the machine's sgemm. The first step's
 * guided velocity, the initial noise, the prompt's ids and a decoded image are written for the
 * PyTorch reference (tests/reference/janus_gen_ref.py bench) to run the same and compare.
 *
 * usage: bench_gen MODEL_DIR VAE_DIR OUT_DIR [steps] [threads]
 * OUT_DIR gets ids.i32, noise.f32, v0.f32 (step 0's guided velocity, image 0), latent.f32 (the
 * latent decoded) and image.f32 (the decoded image); the timings go to stdout as JSON (bench_gen.sh
 * keeps them as gen.json). */
#include "jf_model.h"

#include "bench_util.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void die(const char *what, const jf_model_error *err)
{
    fprintf(stderr, "bench_gen: %s: %s\n", what, err->msg);
    exit(1);
}

typedef struct first_v {
    float *v;
    size_t n;
} first_v;

static void keep_v0(void *user, int step, int steps, size_t image, const float *z, const float *v)
{
    (void)steps;
    (void)z;
    first_v *f = user;
    if (step == 0 && image == 0)
        memcpy(f->v, v, f->n * sizeof *v);
}

/* FLOPs of one guided step for one image: the LLM over 2 rows of 577 positions after a prompt of
 * P (linears and attention), the heads (ConvNeXt linears, patchify, aligners, unpatchify). */
static double step_flops(const jf_janus_config *c, size_t P, double *llm_only)
{
    double H = c->hidden, Im = c->intermediate, KV = (double)c->kv_heads * c->head_dim, L = c->layers;
    double G = c->gen.latent_side / c->gen.patch, N = G * G, T = N + 1, C = c->gen.channels, C2 = 2 * C;
    double lin = 2 * T * (H * H * 2 + H * KV * 2 + 3 * H * Im) * L;
    double att = 0;
    for (double t = 0; t < T; t++)
        att += 4 * H * (P + t + 1); /* q·k and p·v */
    att *= L;
    double llm = 2 * (lin + att); /* cond + uncond */
    double enc = 2 * N * C * c->gen.latent_channels * c->gen.patch * c->gen.patch + c->gen.enc_blocks * 2 * (2 * N * C * 4 * C) +
                 2 * N * C * H;
    double dec = 2 * (2 * N * H * C + c->gen.dec_blocks * 2 * (2 * N * C2 * 4 * C2) + 2 * N * C2 * 16);
    *llm_only = llm;
    return llm + enc + dec;
}

/* FLOPs of the VAE decoder's convolutions for a latent side s (SDXL layout). */
static double vae_flops(const jf_vae_config *v, int s)
{
    int B = v->blocks, top = v->block_out[B - 1];
    double f = 0, hw = (double)s * s;
    f += 2 * hw * v->latent_channels * v->latent_channels;                 /* post_quant_conv */
    f += 2 * hw * 9 * v->latent_channels * top;                            /* conv_in */
    f += 2 * (2 * 2 * hw * 9 * top * top) + 4 * 2 * hw * top * top + 2 * 2 * hw * hw * top; /* mid: resnets, attention */
    int prev = top;
    for (int b = 0; b < B; b++) {
        int out = v->block_out[B - 1 - b];
        for (int j = 0; j <= v->layers_per_block; j++) {
            int in = j ? out : prev;
            f += 2 * hw * 9 * ((double)in * out + (double)out * out) + (in != out ? 2 * hw * in * out : 0);
        }
        if (b < B - 1) {
            hw *= 4;
            f += 2 * hw * 9 * (double)out * out;
        }
        prev = out;
    }
    return f + 2 * hw * 9 * v->block_out[0] * v->out_channels;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_gen MODEL_DIR VAE_DIR OUT_DIR [steps] [threads]\n");
        return 2;
    }
    int steps = argc > 4 ? atoi(argv[4]) : 3;
    jf_model_set_threads(argc > 5 ? atoi(argv[5]) : 0);
    jf_model_error err = {0};
    double peak = sgemm_peak();
    jf_janus *m = NULL;
    jf_vae *vae = NULL;
    double t0 = now();
    if (jf_janus_load(argv[1], &m, NULL, NULL, NULL, &err))
        die(argv[1], &err);
    if (jf_vae_load(argv[2], &vae, &err))
        die(argv[2], &err);
    double t_load = now() - t0;
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf_vae_config *vc = jf_vae_get_config(vae);
    const char *prompt = "a red bicycle leaning on a wall";
    char *text = jf_janus_t2i_prompt(m, prompt);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (jf_janus_encode_prompt(m, text, &ids, &n_ids, NULL, &err))
        die("prompt", &err);
    int S = c->gen.latent_side, side = S << (vc->blocks - 1);
    size_t Z = (size_t)c->gen.latent_channels * S * S;
    float *noise = malloc(2 * Z * sizeof *noise), *z = malloc(2 * Z * sizeof *z), *v0 = malloc(Z * sizeof *v0);
    float *img = malloc((size_t)3 * side * side * sizeof *img);
    jf_t2i_noise(0, noise, Z);
    jf_t2i_noise(1, noise + Z, Z);
    double per_step[3] = {0}, split[3][4] = {{0}};
    first_v fv = {v0, Z};
    for (int batch = 1; batch <= 2; batch++) {
        memcpy(z, noise, (size_t)batch * Z * sizeof *z);
        jf_t2i_params p = jf_t2i_default_params();
        p.steps = steps;
        p.seconds = split[batch];
        p.on_step = batch == 1 ? keep_v0 : NULL;
        p.user = &fv;
        double t1 = now();
        if (jf_janus_t2i_ids(m, ids, n_ids, z, (size_t)batch, &p, &err))
            die("sampling", &err);
        per_step[batch] = (now() - t1 - split[batch][0]) / steps;
        fprintf(stderr, "batch %d: %.2f s per step (%d steps; encoder %.2f, LLM %.2f, decoder %.2f s per step)\n", batch,
                per_step[batch], steps, split[batch][1] / steps, split[batch][2] / steps, split[batch][3] / steps);
        if (batch == 1) {
            dump(argv[3], "latent.f32", z, Z * sizeof *z);
        }
    }
    /* decode the batch-1 latent (read back: z was overwritten by batch 2) */
    float *lat = malloc(Z * sizeof *lat);
    FILE *lf = NULL;
    {
        char path[4096];
        snprintf(path, sizeof path, "%s/latent.f32", argv[3]);
        lf = fopen(path, "rb");
        if (!lf || fread(lat, sizeof *lat, Z, lf) != Z) {
            fprintf(stderr, "bench_gen: cannot read back the latent\n");
            return 1;
        }
        fclose(lf);
    }
    for (size_t i = 0; i < Z; i++)
        lat[i] /= (float)vc->scaling_factor;
    double best_decode = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        double t1 = now();
        if (jf_vae_decode(vae, lat, S, S, img, &err))
            die("VAE decode", &err);
        double d = now() - t1;
        if (d < best_decode)
            best_decode = d;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    dump(argv[3], "ids.i32", ids, n_ids * sizeof *ids);
    dump(argv[3], "noise.f32", noise, Z * sizeof *noise);
    dump(argv[3], "v0.f32", v0, Z * sizeof *v0);
    dump(argv[3], "image.f32", img, (size_t)3 * side * side * sizeof *img);
    double llm_fl, fl = step_flops(c, n_ids - 1, &llm_fl), vfl = vae_flops(vc, S);
    printf("{\"threads\":%d,\"steps\":%d,\"prompt_tokens\":%zu,\"load_s\":%.2f,\"sgemm_gflops\":%.1f,"
           "\"step_s_batch1\":%.3f,\"step_s_batch2\":%.3f,\"encoder_s\":%.3f,\"llm_s\":%.3f,\"decoder_s\":%.3f,"
           "\"prompt_kv_s\":%.3f,\"step_tflop\":%.3f,\"step_gflops\":%.1f,\"step_gflops_batch2\":%.1f,"
           "\"llm_gflops\":%.1f,\"vae_decode_s\":%.3f,\"vae_tflop\":%.3f,\"vae_gflops\":%.1f,\"image_s_30_steps\":%.1f,"
           "\"peak_rss_gb\":%.2f}\n",
           jf_model_threads(), steps, n_ids, t_load, peak, per_step[1], per_step[2], split[1][1] / steps,
           split[1][2] / steps, split[1][3] / steps, split[1][0], fl / 1e12, fl / per_step[1] / 1e9,
           2 * fl / per_step[2] / 1e9, llm_fl / (split[1][2] / steps) / 1e9, best_decode, vfl / 1e12,
           vfl / best_decode / 1e9, 30 * per_step[1] + split[1][0] + best_decode, ru.ru_maxrss / 1048576.0);
    free(text);
    free(ids);
    free(noise);
    free(z);
    free(v0);
    free(img);
    free(lat);
    jf_vae_free(vae);
    jf_janus_free(m);
    return 0;
}
