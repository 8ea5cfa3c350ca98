/* JanusFlow's generation path (spec §2.5–2.8, §5; the official uvit.py, modeling_vlm.py and
 * demo/app_janusflow.py): the timestep embedding, the ConvNeXt blocks with FiLM, the shallow
 * U-ViT encoder and decoder around the language model, and rectified-flow sampling with
 * classifier-free guidance on the Euler grid.
 *
 * Activation maps are channels-last, [side·side][channels] per image, so that the per-pixel
 * linears of a ConvNeXt block are plain GEMMs; the latent z at the interface is NCHW
 * [latent_channels][side][side] per image, as PyTorch has it. */
#include "model_internal.h"

#include <math.h>
#include <time.h>

static int gen_ready(const jf_janus *m, jf_model_error *err)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    if (!c->gen.present) {
        jf__merr(err, JF_MODEL_EFORMAT, "this model directory has no generation heads (no vision_gen_enc_config)");
        return 0;
    }
    return 1;
}

/* The latent grid after the encoder's patchify: tokens per image = grid². */
static int grid_of(const jf_janus_gen_config *g) { return g->latent_side / g->patch; }

/* ---- timestep embedding (spec §2.5; diffusers Timesteps(flip_sin_to_cos=True, shift 0) and
 * TimestepEmbedding) ---- */

void jf__gen_time_embed(const jf_janus *m, float t, float *temb, float *scratch)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf__gen_heads *h = jf__janus_gen_heads(m);
    int C = c->gen.channels, half = C / 2;
    float *s = scratch; /* [C] then [hidden] */
    /* as diffusers computes it in f32: exponent = −ln(10000)·i / half, freq = exp(exponent),
     * arg = t·freq; the cosines first (flip_sin_to_cos) */
    const float neg_log_period = -logf(10000.0f);
    for (int i = 0; i < half; i++) {
        float e = neg_log_period * (float)i;
        e = e / (float)half;
        float a = t * expf(e);
        s[i] = cosf(a);
        s[half + i] = sinf(a);
    }
    if (C % 2)
        s[C - 1] = 0; /* diffusers pads an odd width with a zero */
    float *mid = s + C;
    jf__linear(s, 1, &h->time_l1_w, &h->time_l1_b, mid);
    jf__silu(mid, (size_t)c->hidden);
    jf__linear(mid, 1, &h->time_l2_w, &h->time_l2_b, temb);
}

/* ---- ConvNeXt block with FiLM (spec §2.6) ---- */

/* Scratch floats for a block of C channels on N = side² pixels. */
static size_t convnext_scratch(size_t N, size_t C, size_t H)
{
    size_t floats = N * C /* depthwise out */ + N * 4 * C /* expansion */ + C * 49 + C + 4 * C * 2 + H + 2 * C;
    return (floats + 1) / 2 * 2 + 4 * C * 2; /* then 4C doubles (the GRN sums), 8-byte aligned */
}

void jf__gen_convnext(const jf__convnext *b, int C, int H, int side, double eps, float *x, const float *cond,
                      float *scratch)
{
    size_t N = (size_t)side * side, C4 = (size_t)C * 4;
    float *y = scratch, *e = y + N * C, *dw = e + N * C4, *dwb = dw + (size_t)C * 49, *grn = dwb + C,
          *grn_b = grn + C4, *sc = grn_b + C4, *film = sc + H;
    size_t floats = (size_t)(film + 2 * C - scratch);
    double *gx = (double *)(scratch + (floats + 1) / 2 * 2);
    memset(gx, 0, C4 * sizeof *gx);
    jf__w_to_f32(&b->dw_w, 0, (size_t)C * 49, dw);
    jf__w_to_f32(&b->dw_b, 0, (size_t)C, dwb);
    /* depthwise 7×7, padding 3 */
    for (int py = 0; py < side; py++)
        for (int px = 0; px < side; px++) {
            float *out = y + ((size_t)py * side + px) * C;
            for (int ch = 0; ch < C; ch++)
                out[ch] = dwb[ch];
            for (int ky = 0; ky < 7; ky++) {
                int sy = py + ky - 3;
                if (sy < 0 || sy >= side)
                    continue;
                for (int kx = 0; kx < 7; kx++) {
                    int sx = px + kx - 3;
                    if (sx < 0 || sx >= side)
                        continue;
                    const float *in = x + ((size_t)sy * side + sx) * C;
                    for (int ch = 0; ch < C; ch++)
                        out[ch] += dw[(size_t)ch * 49 + ky * 7 + kx] * in[ch];
                }
            }
        }
    jf__rmsnorm(y, N, (size_t)C, &b->norm, eps, y);
    jf__linear(y, N, &b->l1_w, &b->l1_b, e);
    jf__gelu(e, N * C4);
    /* GRN (ConvNeXt-V2): each channel's L2 norm over the pixels, divided by the mean of those
     * norms over the channels; y ← β + (γ·n + 1)·y */
    jf__w_to_f32(&b->grn_g, 0, C4, grn);
    jf__w_to_f32(&b->grn_b, 0, C4, grn_b);
    for (size_t p = 0; p < N; p++)
        for (size_t k = 0; k < C4; k++)
            gx[k] += (double)e[p * C4 + k] * e[p * C4 + k];
    double mean = 0;
    for (size_t k = 0; k < C4; k++) {
        gx[k] = (float)sqrt(gx[k]);
        mean += gx[k];
    }
    float denom = (float)(mean / (double)C4) + 1e-6f;
    for (size_t k = 0; k < C4; k++)
        gx[k] = grn[k] * ((float)gx[k] / denom) + 1.0f;
    for (size_t p = 0; p < N; p++)
        for (size_t k = 0; k < C4; k++)
            e[p * C4 + k] = grn_b[k] + (float)gx[k] * e[p * C4 + k];
    jf__linear(e, N, &b->l2_w, &b->l2_b, y);
    /* residual, then FiLM: [scale | shift] = mapper(SiLU(cond)) */
    memcpy(sc, cond, (size_t)H * sizeof *sc);
    jf__silu(sc, (size_t)H);
    jf__linear(sc, 1, &b->map_w, &b->map_b, film);
    const float *scale = film, *shift = film + C;
    for (size_t p = 0; p < N; p++)
        for (int ch = 0; ch < C; ch++) {
            float v = y[p * C + ch] + x[p * C + ch];
            x[p * C + ch] = shift[ch] + v * (1.0f + scale[ch]);
        }
}

/* ---- encoder and decoder (spec §2.7, §2.8) ---- */

static size_t enc_scratch(const jf_janus_config *c)
{
    size_t G = (size_t)grid_of(&c->gen), N = G * G, C = (size_t)c->gen.channels, H = (size_t)c->hidden;
    return convnext_scratch(N, C, H) + C + H;
}

static size_t dec_scratch(const jf_janus_config *c)
{
    size_t G = (size_t)grid_of(&c->gen), N = G * G, C2 = (size_t)c->gen.dec_in + c->gen.dec_channels;
    size_t H = (size_t)c->hidden, U = (size_t)c->gen.dec_out * 4;
    return convnext_scratch(N, C2, H) + N * H + N * c->gen.dec_in + N * C2 + N * U;
}

jf_model_status jf__gen_encode(jf_janus *m, const float *z, const float *temb, float *x_emb, float *tokens,
                               jf_model_error *err)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf__gen_heads *h = jf__janus_gen_heads(m);
    const jf_janus_gen_config *g = &c->gen;
    int G = grid_of(g);
    float *ws = malloc(enc_scratch(c) * sizeof *ws);
    if (!ws)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for the generation encoder");
    (void)jf__ops_failed();
    jf__patch_embed(z, g->latent_channels, g->latent_side, g->latent_side, g->patch, &h->in_conv_w, &h->in_conv_b, x_emb);
    for (int i = 0; i < g->enc_blocks; i++)
        jf__gen_convnext(&h->enc[i], g->channels, c->hidden, G, g->norm_eps, x_emb, temb, ws);
    if (tokens)
        jf__linear(x_emb, (size_t)G * G, &h->enc_aligner_w, &h->enc_aligner_b, tokens);
    free(ws);
    if (jf__ops_failed())
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a kernel's scratch space");
    return JF_MODEL_OK;
}

jf_model_status jf__gen_decode(jf_janus *m, const float *hidden, const float *skip, const float *temb, float *v,
                               jf_model_error *err)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf__gen_heads *h = jf__janus_gen_heads(m);
    const jf_janus_gen_config *g = &c->gen;
    size_t G = (size_t)grid_of(g), N = G * G, H = (size_t)c->hidden, Cin = (size_t)g->dec_in;
    size_t C2 = Cin + (size_t)g->dec_channels, U = (size_t)g->dec_out * 4;
    float *ws = malloc(dec_scratch(c) * sizeof *ws);
    if (!ws)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for the generation decoder");
    (void)jf__ops_failed();
    float *blk = ws, *hn = blk + convnext_scratch(N, C2, H), *u = hn + N * H, *x = u + N * Cin, *y = x + N * C2;
    /* vision_gen_dec_aligner(vision_gen_dec_aligner_norm(h)) — the LLM's own final norm came
     * before, so two RMSNorms in a row, as the official code has them */
    jf__rmsnorm(hidden, N, H, &h->dec_aligner_norm, c->rms_eps, hn);
    jf__linear(hn, N, &h->dec_aligner_w, &h->dec_aligner_b, u);
    jf__rmsnorm(u, N, Cin, &h->dec_input_norm, g->norm_eps, u);
    for (size_t p = 0; p < N; p++) { /* concat: decoder features first, the encoder's skip second */
        memcpy(x + p * C2, u + p * Cin, Cin * sizeof *x);
        memcpy(x + p * C2 + Cin, skip + p * (size_t)g->dec_channels, (size_t)g->dec_channels * sizeof *x);
    }
    for (int i = 0; i < g->dec_blocks; i++)
        jf__gen_convnext(&h->dec[i], (int)C2, (int)H, (int)G, g->norm_eps, x, temb, blk);
    jf__rmsnorm(x, N, C2, &h->out_norm, g->norm_eps, x);
    jf__linear(x, N, &h->out_conv_w, &h->out_conv_b, y);
    /* PixelShuffle(2): v[c][2h+i][2w+j] = y[h, w][4c + 2i + j] */
    size_t S = 2 * G;
    for (size_t py = 0; py < G; py++)
        for (size_t px = 0; px < G; px++)
            for (int ch = 0; ch < g->dec_out; ch++)
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        v[((size_t)ch * S + 2 * py + i) * S + 2 * px + j] = y[(py * G + px) * U + (size_t)(4 * ch + 2 * i + j)];
    free(ws);
    if (jf__ops_failed())
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a kernel's scratch space");
    return JF_MODEL_OK;
}

/* ---- sampling (spec §5) ---- */

jf_t2i_params jf_t2i_default_params(void)
{
    jf_t2i_params p;
    memset(&p, 0, sizeof p);
    p.steps = 30;
    p.cfg = 2.0;
    return p;
}

char *jf_janus_t2i_prompt(const jf_janus *m, const char *prompt)
{
    /* the demo's apply_sft_template_for_multi_turn_prompts with system_prompt '' (the
     * JanusFlow-era "deepseek" template: roles "User" / "Assistant"), then the image start tag */
    const char *p = prompt ? prompt : "";
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    jf_tokenizer *tok = jf_janus_tokenizer((jf_janus *)m);
    const char *tag = jf_tokenizer_id_token(tok, jf_janus_get_config(m)->image_start);
    if (!tag)
        tag = "<begin_of_image>";
    size_t need = n + strlen(tag) + 32;
    char *s = malloc(need);
    if (s)
        snprintf(s, need, "User: %.*s\n\nAssistant:%s", (int)n, p, tag);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Adds the time since *t to slot k of the timing array (if any) and restarts *t. */
static void lap(double *seconds, int k, double *t)
{
    double n = now_s();
    if (seconds)
        seconds[k] += n - *t;
    *t = n;
}

/* bf16 round-to-nearest-even of a float, as torch's .to(torch.bfloat16) */
static float to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) != 0x7F800000u)
        u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    memcpy(&f, &u, 4);
    return f;
}

jf_model_status jf_janus_t2i_ids(jf_janus *m, const int32_t *ids, size_t n_ids, float *z, size_t n_images,
                                 const jf_t2i_params *params, jf_model_error *err)
{
    if (!gen_ready(m, err))
        return err->code;
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf_janus_gen_config *g = &c->gen;
    jf_t2i_params p = params ? *params : jf_t2i_default_params();
    if (p.steps < 1)
        return jf__merr(err, JF_MODEL_EARG, "steps must be at least 1 (got %d)", p.steps);
    if (!(p.cfg >= 0) || !isfinite(p.cfg))
        return jf__merr(err, JF_MODEL_EARG, "the guidance weight must be a finite number >= 0 (got %g)", p.cfg);
    if (n_ids < 2)
        return jf__merr(err, JF_MODEL_EARG, "a generation prompt needs at least BOS and the image start tag");
    size_t P = n_ids - 1; /* the last token (the image start tag) gives its place to t_emb */
    size_t G = (size_t)grid_of(g), N = G * G, H = (size_t)c->hidden, C = (size_t)g->channels;
    size_t Z = (size_t)g->latent_channels * g->latent_side * g->latent_side, T = N + 1;
    if (P + T > (size_t)c->max_positions)
        return jf__merr(err, JF_MODEL_ELIMIT, "the prompt's %zu tokens and %zu image positions exceed the context of %d",
                        n_ids, T, c->max_positions);
    /* the language model takes both rows of one image in one batched pass (1,154 rows at
     * JanusFlow's 577 per row): the GEMMs see the same matrices whatever the number of images,
     * so an image's bytes never depend on the batch it was sampled in (OpenBLAS's results for a
     * row may change with the row count) */
    const size_t group = 1;
    jf__kv *kc = jf__kv_create(), *ku = jf__kv_create();
    float *pe = malloc(P * H * sizeof *pe), *temb = malloc((C + 2 * H) * sizeof *temb);
    float *x_emb = malloc(group * N * C * sizeof *x_emb), *seq = malloc(2 * group * T * H * sizeof *seq);
    float *vc = malloc(Z * sizeof *vc), *vu = malloc(Z * sizeof *vu);
    const jf__kv **prefix = malloc(2 * group * sizeof *prefix);
    long *pos0 = malloc(2 * group * sizeof *pos0);
    jf_model_status s = kc && ku && pe && temb && x_emb && seq && vc && vu && prefix && pos0
                            ? JF_MODEL_OK
                            : jf__merr(err, JF_MODEL_ENOMEM, "out of memory for generation");
    /* the prompt's keys and values, once: the conditional row holds the whole prompt; the
     * unconditional row only its first token (BOS), the others being masked out as keys there */
    double tick = now_s();
    if (!s)
        s = jf__janus_embed_ids(m, ids, P, pe, err);
    if (!s)
        s = jf__janus_llm_hidden(m, ku, pe, 1, 0, 1, err); /* BOS alone (pe row 0 is consumed) */
    if (!s)
        s = jf__janus_embed_ids(m, ids, P, pe, err);
    if (!s)
        s = jf__janus_llm_hidden(m, kc, pe, P, 0, 1, err);
    lap(p.seconds, 0, &tick);
    /* conditional rows after the prompt, at positions P..P+N; unconditional rows after BOS alone
     * at the same positions (the masked prompt positions still count) */
    for (size_t r = 0; r < 2 * group && !s; r++) {
        prefix[r] = r % 2 ? ku : kc;
        pos0[r] = (long)P;
    }
    float dt = 1.0f / (float)p.steps;
    if (p.match_reference)
        dt = to_bf16(dt);
    float *tscratch = temb + H;
    for (int k = 0; !s && k < p.steps; k++) {
        /* t on the 0…1000 scale, as the demo computes it (in double, then a float32 tensor,
         * then bf16 in the reference) */
        float t = (float)((double)k / (double)p.steps * 1000.0);
        if (p.match_reference)
            t = to_bf16(t);
        jf__gen_time_embed(m, t, temb, tscratch); /* shared by the images of the step */
        lap(p.seconds, 1, &tick);
        for (size_t i0 = 0; !s && i0 < n_images; i0 += group) {
            size_t gn = n_images - i0 < group ? n_images - i0 : group;
            for (size_t j = 0; !s && j < gn; j++) {
                float *cond = seq + 2 * j * T * H, *uncond = cond + T * H;
                s = jf__gen_encode(m, z + (i0 + j) * Z, temb, x_emb + j * N * C, cond + H, err);
                memcpy(cond, temb, H * sizeof *cond);
                memcpy(uncond, cond, T * H * sizeof *uncond);
            }
            lap(p.seconds, 1, &tick);
            if (!s)
                s = jf__janus_llm_extend_batch(m, prefix, 2 * gn, seq, T, pos0, err);
            lap(p.seconds, 2, &tick);
            for (size_t j = 0; !s && j < gn; j++) {
                float *zi = z + (i0 + j) * Z, *cond = seq + 2 * j * T * H, *uncond = cond + T * H;
                s = jf__gen_decode(m, cond + H, x_emb + j * N * C, temb, vc, err);
                if (!s)
                    s = jf__gen_decode(m, uncond + H, x_emb + j * N * C, temb, vu, err);
                lap(p.seconds, 3, &tick);
                if (s)
                    break;
                float w = (float)p.cfg;
                for (size_t i = 0; i < Z; i++)
                    vc[i] = w * vc[i] - (w - 1.0f) * vu[i];
                if (p.on_step)
                    p.on_step(p.user, k, p.steps, i0 + j, zi, vc);
                for (size_t i = 0; i < Z; i++)
                    zi[i] += dt * vc[i];
                lap(NULL, 0, &tick); /* the callback's time is not the model's */
            }
        }
    }
    jf__kv_free(kc);
    jf__kv_free(ku);
    free(pe);
    free(temb);
    free(x_emb);
    free(seq);
    free(vc);
    free(vu);
    free(prefix);
    free(pos0);
    return s;
}

jf_model_status jf_janus_t2i(jf_janus *m, const char *prompt, float *z, size_t n_images, const jf_t2i_params *params,
                             jf_model_error *err)
{
    if (!gen_ready(m, err))
        return err->code;
    char *text = jf_janus_t2i_prompt(m, prompt);
    if (!text)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    int32_t *ids = NULL;
    size_t n = 0, tags = 0;
    jf_model_status s = jf_janus_encode_prompt(m, text, &ids, &n, &tags, err);
    free(text);
    if (!s && tags)
        s = jf__merr(err, JF_MODEL_EARG, "a generation prompt cannot hold an image placeholder");
    if (!s && (n < 2 || ids[n - 1] != jf_janus_get_config(m)->image_start))
        s = jf__merr(err, JF_MODEL_EFORMAT, "the prompt does not end in the image start tag after tokenization");
    if (!s)
        s = jf_janus_t2i_ids(m, ids, n, z, n_images, params, err);
    free(ids);
    return s;
}

/* ---- noise ---- */

/* SplitMix64's finalizer: a bijection of 64-bit words with good avalanche. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

void jf_t2i_noise(uint64_t seed, float *z, size_t count)
{
    /* value i depends only on (seed, i): two 53-bit uniforms from counters 2j and 2j+1 of the
     * stream keyed by the seed, Box–Muller in double, the cosine branch to element 2j and the
     * sine branch to 2j + 1 */
    uint64_t key = mix64(seed ^ 0x6A616E7573666C6Full); /* "janusflo" */
    for (size_t i = 0; i < count; i += 2) {
        uint64_t j = i / 2;
        double u1 = ((double)(mix64(key + 2 * j) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
        double u2 = (double)(mix64(key + 2 * j + 1) >> 11) * 0x1.0p-53;    /* [0, 1) */
        double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
        z[i] = (float)(r * cos(a));
        if (i + 1 < count)
            z[i + 1] = (float)(r * sin(a));
    }
}
