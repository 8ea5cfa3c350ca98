/* The understanding path at full size: SigLIP on one image, prefill of the chat prompt with the
 * image, and greedy decoding, timed; the inputs and outputs are written for the PyTorch
 * reference (tests/reference/janus_ref.py bench) to run the same and compare.
 *
 * usage: bench_model MODEL_DIR OUT_DIR [new_tokens] [threads]
 * OUT_DIR gets ids.i32, pixels.f32, features.f32, logits.f32 (prefill, then one row per step),
 * tokens.i32 and jf.json (timings). */
#include "jf_model.h"

#include "bench_util.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* ---- the machine's limits: read bandwidth with the same threads, sgemm peak ---- */

typedef struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_job;

static void *bw_read(void *arg)
{
    bw_job *j = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) {
        s0 += j->p[i];
        s1 += j->p[i + 1];
        s2 += j->p[i + 2];
        s3 += j->p[i + 3];
    }
    j->sum = s0 + s1 + s2 + s3;
    return NULL;
}

/* GB/s reading a 2 GiB buffer with `threads` threads (best of 3). */
static double read_bandwidth(int threads)
{
    size_t bytes = (size_t)2 << 30, n = bytes / 8;
    uint64_t *buf = malloc(bytes);
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t t[64];
        bw_job jobs[64];
        double t0 = now();
        for (int k = 0; k < threads; k++) {
            jobs[k] = (bw_job){buf + n / (size_t)threads * (size_t)k, n / (size_t)threads, 0};
            pthread_create(&t[k], NULL, bw_read, &jobs[k]);
        }
        uint64_t sum = 0;
        for (int k = 0; k < threads; k++) {
            pthread_join(t[k], NULL);
            sum += jobs[k].sum;
        }
        double gbs = (double)bytes / (now() - t0) / 1e9;
        if (gbs > best && sum)
            best = gbs;
    }
    free(buf);
    return best;
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
    /* batched decoding: 4 text prompts, the decode steps timed together */
    double batch_tok_s = 0;
    if (steps > 0) {
        const char *qs[4] = {"Describe a sunny beach.", "What is a neural network?", "Name three colors.",
                             "Write a haiku about snow."};
        char *pr[4];
        jf_janus_request req[4];
        for (int i = 0; i < 4; i++) {
            pr[i] = jf_janus_chat_prompt(m, qs[i], 0);
            req[i] = (jf_janus_request){pr[i], NULL, 0, NULL, 0, 0, ""};
        }
        jf_gen_params gp = jf_gen_default_params();
        gp.max_new_tokens = 1;
        double tp = now();
        jf_janus_generate_batch(m, req, 4, &gp, &err); /* prefill cost alone */
        double prefill_only = now() - tp;
        for (int i = 0; i < 4; i++)
            free(req[i].out_ids);
        gp.max_new_tokens = steps + 1;
        tp = now();
        jf_janus_generate_batch(m, req, 4, &gp, &err);
        double total = now() - tp - prefill_only;
        size_t toks = 0;
        for (int i = 0; i < 4; i++) {
            toks += req[i].n_out > 1 ? req[i].n_out - 1 : 0;
            free(req[i].out_ids);
            free(pr[i]);
        }
        batch_tok_s = total > 0 ? toks / total : 0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_rss_gb = (double)ru.ru_maxrss * 1024 / 1e9;
    jf_janus_memory_plan plan = jf_janus_plan(m, n, (size_t)steps, 1);
    /* bytes of weights one decode step reads: every LLM layer, the final norm and lm_head, in
     * their stored dtype (BF16 in the release) */
    double layer = 4.0 * c->hidden * c->hidden * ((double)c->kv_heads / c->heads * 0.5 + 0.5) +
                   3.0 * c->hidden * c->intermediate + 2.0 * c->hidden;
    double step_bytes = 2.0 * (c->layers * layer + (double)c->vocab * c->hidden + c->hidden);
    double prefill_flop = 2.0 * (double)n * (c->layers * (layer - 2.0 * c->hidden));
    double bw = read_bandwidth(jf_model_threads()), peak = sgemm_peak();
    const char *out = argv[2];
    dump(out, "ids.i32", ids, n * sizeof *ids);
    dump(out, "pixels.f32", pixels, px * 3 * sizeof *pixels);
    dump(out, "features.f32", feat, (size_t)c->image_tokens * c->vit_width * sizeof *feat);
    dump(out, "logits.f32", logits, (size_t)(steps + 1) * c->vocab * sizeof *logits);
    dump(out, "tokens.i32", tokens, (size_t)steps * sizeof *tokens);
    char json[4096];
    int len = snprintf(json, sizeof json,
                       "{\"threads\": %d, \"load_s\": %.3f, \"siglip_s\": %.3f, \"prompt_tokens\": %zu, "
                       "\"prefill_s\": %.3f, \"decode_steps\": %d, \"decode_s\": %.3f, \"decode_tok_s\": %.3f, "
                       "\"image_tag\": %d, \"image_start\": %d, \"peak_rss_gb\": %.3f, \"read_gb_s\": %.2f, "
                       "\"decode_bound_tok_s\": %.2f, \"sgemm_gflops\": %.1f, \"prefill_gflops\": %.1f, \"batch4_decode_tok_s\": %.2f, "
                       "\"planned_gb\": %.3f}\n",
                       jf_model_threads(), t_load, t_vit, n, t_prefill - t_vit, steps, t_decode,
                       steps ? steps / t_decode : 0.0, c->image_tag, c->image_start, peak_rss_gb, bw,
                       bw * 1e9 / step_bytes, peak, prefill_flop / (t_prefill - t_vit) / 1e9, batch_tok_s,
                       plan.total / 1e9);
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
