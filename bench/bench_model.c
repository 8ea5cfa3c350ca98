/* The understanding path at full size: SigLIP on one image, prefill of the chat prompt with the
 * image, and greedy decoding, timed; the inputs and outputs are written for the PyTorch
 * reference (tests/reference/janus_ref.py bench) to run the same and compare.
 *
 * usage: bench_model MODEL_DIR OUT_DIR [new_tokens] [threads]
 * OUT_DIR gets ids.i32, pixels.f32, features.f32, logits.f32 (prefill, then one row per step),
 * tokens.i32 and jf.json (timings). */
#include "jf_model.h"

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

static void dump(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) {
        fprintf(stderr, "bench_model: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_model MODEL_DIR OUT_DIR [new_tokens] [threads]\n");
        return 2;
    }
    int steps = argc > 3 ? atoi(argv[3]) : 16;
    jf_model_set_threads(argc > 4 ? atoi(argv[4]) : 0);
    jf_model_error err = {0};
    jf_janus *m = NULL;
    double t0 = now();
    if (jf_janus_load(argv[1], &m, NULL, NULL, NULL, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    double t_load = now() - t0;
    const jf_janus_config *c = jf_janus_get_config(m);
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    size_t px = (size_t)spec.size * spec.size;
    uint8_t *rgb = malloc(px * 3);
    uint64_t s = 12345;
    for (size_t i = 0; i < px * 3; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rgb[i] = (uint8_t)(((i / 3) % (size_t)spec.size) * 255 / spec.size / 2 + (s >> 58));
    }
    float *pixels = malloc(px * 3 * sizeof *pixels);
    jf_janus_image_to_pixels(&spec, rgb, pixels);
    float *feat = malloc((size_t)c->image_tokens * c->vit_width * sizeof *feat);
    t0 = now();
    if (jf_janus_encode_image(m, pixels, feat, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    double t_vit = now() - t0;
    char *prompt = jf_janus_chat_prompt(m, "Describe this image in detail.", 1);
    int32_t *ids = NULL;
    size_t n = 0;
    if (jf_janus_encode_prompt(m, prompt, &ids, &n, NULL, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    float *logits = malloc((size_t)(steps + 1) * c->vocab * sizeof *logits);
    int32_t *tokens = malloc((size_t)(steps > 0 ? steps : 1) * sizeof *tokens);
    const float *images[] = {pixels};
    t0 = now();
    if (jf_janus_prefill_logits(m, ids, n, images, 1, logits, &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    double t_prefill = now() - t0; /* includes SigLIP again */
    t0 = now();
    for (int k = 0; k < steps; k++) {
        const float *lg = logits + (size_t)k * c->vocab;
        int32_t best = 0;
        for (int i = 1; i < c->vocab; i++)
            if (lg[i] > lg[best])
                best = i;
        tokens[k] = best;
        if (jf_janus_step_logits(m, best, logits + (size_t)(k + 1) * c->vocab, &err)) {
            fprintf(stderr, "bench_model: %s\n", err.msg);
            return 1;
        }
    }
    double t_decode = now() - t0;
    const char *out = argv[2];
    dump(out, "ids.i32", ids, n * sizeof *ids);
    dump(out, "pixels.f32", pixels, px * 3 * sizeof *pixels);
    dump(out, "features.f32", feat, (size_t)c->image_tokens * c->vit_width * sizeof *feat);
    dump(out, "logits.f32", logits, (size_t)(steps + 1) * c->vocab * sizeof *logits);
    dump(out, "tokens.i32", tokens, (size_t)steps * sizeof *tokens);
    char json[1024];
    int len = snprintf(json, sizeof json,
                       "{\"threads\": %d, \"load_s\": %.3f, \"siglip_s\": %.3f, \"prompt_tokens\": %zu, "
                       "\"prefill_s\": %.3f, \"decode_steps\": %d, \"decode_s\": %.3f, \"decode_tok_s\": %.3f, "
                       "\"image_tag\": %d, \"image_start\": %d}\n",
                       jf_model_threads(), t_load, t_vit, n, t_prefill - t_vit, steps, t_decode,
                       steps ? steps / t_decode : 0.0, c->image_tag, c->image_start);
    dump(out, "jf.json", json, (size_t)len);
    fputs(json, stdout);
    free(prompt);
    free(ids);
    free(logits);
    free(tokens);
    free(feat);
    free(pixels);
    free(rgb);
    jf_janus_free(m);
    return 0;
}
