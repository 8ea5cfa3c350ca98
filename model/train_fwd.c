/* The forward passes the training objectives need (spec §6.1): teacher-forced token
 * log-likelihoods (the AR loss), the velocity of one rectified-flow training sample with the
 * residual stream of a chosen decoder layer (the RF and REPA losses), and REPA's projector h_φ,
 * which the release does not ship. The losses themselves are arithmetic on these outputs and
 * live with the batches (train/). */
#include "model_internal.h"

#include <math.h>

/* logits are computed for this many scored positions at a time: 64 × 102,400 floats = 26 MB */
#define NLL_CHUNK 64

jf_model_status jf_janus_token_nll(jf_janus *m, const int32_t *ids, const int32_t *labels, size_t n,
                                   const float *const *images, size_t n_images, float *nll, double *sum, size_t *count,
                                   jf_model_error *err)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    size_t H = (size_t)c->hidden, V = (size_t)c->vocab;
    *sum = 0;
    *count = 0;
    if (nll)
        memset(nll, 0, n * sizeof *nll);
    if (n < 2)
        return n ? JF_MODEL_OK : jf__merr(err, JF_MODEL_EARG, "an empty sequence");
    for (size_t j = 1; j < n; j++)
        if (labels[j] != -100 && (labels[j] < 0 || labels[j] >= c->vocab))
            return jf__merr(err, JF_MODEL_EARG, "label %d at position %zu is neither -100 nor a token id (vocabulary %d)",
                            labels[j], j, c->vocab);
    float *x = malloc(n * H * sizeof *x), *normed = malloc(NLL_CHUNK * H * sizeof *normed);
    float *logits = malloc(NLL_CHUNK * V * sizeof *logits);
    size_t *rows = malloc(n * sizeof *rows);
    jf__kv *kv = jf__kv_create();
    jf_model_status s = x && normed && logits && rows && kv ? JF_MODEL_OK : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    if (!s)
        s = jf__janus_embed_prompt(m, ids, n, images, n_images, x, err);
    if (!s)
        s = jf__janus_llm_layers(m, kv, x, n, 0, c->layers, 0, err);
    /* position i predicts token i + 1: only the rows whose next label counts get the lm_head */
    size_t scored = 0;
    for (size_t i = 0; !s && i + 1 < n; i++)
        if (labels[i + 1] != -100)
            rows[scored++] = i;
    for (size_t r0 = 0; !s && r0 < scored; r0 += NLL_CHUNK) {
        size_t k = scored - r0 < NLL_CHUNK ? scored - r0 : NLL_CHUNK;
        for (size_t r = 0; r < k; r++)
            jf__janus_final_norm(m, x + rows[r0 + r] * H, 1, normed + r * H);
        jf__janus_lm_head(m, normed, k, logits);
        for (size_t r = 0; r < k; r++) {
            /* log-softmax in double: −log p = logsumexp(logits) − logit[label] */
            const float *l = logits + r * V;
            float mx = l[0];
            for (size_t v = 1; v < V; v++)
                mx = l[v] > mx ? l[v] : mx;
            double se = 0;
            for (size_t v = 0; v < V; v++)
                se += exp((double)l[v] - mx);
            size_t j = rows[r0 + r] + 1;
            double value = log(se) + mx - (double)l[labels[j]];
            if (nll)
                nll[j] = (float)value;
            *sum += value;
        }
    }
    *count = s ? 0 : scored;
    free(x);
    free(normed);
    free(logits);
    free(rows);
    jf__kv_free(kv);
    if (!s && jf__ops_failed())
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory in a kernel");
    return s;
}

jf_model_status jf_janus_rf_velocity(jf_janus *m, const int32_t *ids, size_t n_ids, int uncond, const float *z_t,
                                     float t_net, int hidden_layer, float *hidden, float *v, jf_model_error *err)
{
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf_janus_gen_config *g = &c->gen;
    if (!g->present)
        return jf__merr(err, JF_MODEL_EARG, "the model has no generation heads (vision_gen_enc/dec_config)");
    if (n_ids < 2)
        return jf__merr(err, JF_MODEL_EARG, "a generation prompt needs at least BOS and the image start tag");
    if (hidden && (hidden_layer < 1 || hidden_layer > c->layers))
        return jf__merr(err, JF_MODEL_EARG, "hidden_layer %d is not a decoder layer (1..%d)", hidden_layer, c->layers);
    size_t P = n_ids - 1, G = (size_t)(g->latent_side / g->patch), N = G * G, H = (size_t)c->hidden,
           C = (size_t)g->channels, T = N + 1;
    if (P + T > (size_t)c->max_positions)
        return jf__merr(err, JF_MODEL_ELIMIT, "the prompt's %zu tokens and %zu image positions exceed the context of %d",
                        n_ids, T, c->max_positions);
    jf__kv *kv = jf__kv_create();
    float *pe = malloc(P * H * sizeof *pe), *temb = malloc((C + 2 * H) * sizeof *temb);
    float *x_emb = malloc(N * C * sizeof *x_emb), *seq = malloc(T * H * sizeof *seq);
    float *normed = malloc(N * H * sizeof *normed);
    jf_model_status s = kv && pe && temb && x_emb && seq && normed ? JF_MODEL_OK
                                                                    : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    /* the prompt (the sampler's rows: all of it, or BOS alone when the prompt is dropped) */
    if (!s)
        s = jf__janus_embed_prompt(m, ids, P, NULL, 0, pe, err);
    if (!s)
        s = jf__janus_llm_layers(m, kv, pe, uncond ? 1 : P, 0, c->layers, 0, err);
    /* t_emb in the tag's place, then the latent's tokens, at positions P.. */
    if (!s) {
        jf__gen_time_embed(m, t_net, temb, temb + H);
        memcpy(seq, temb, H * sizeof *seq);
        s = jf__gen_encode(m, z_t, temb, x_emb, seq + H, err);
    }
    size_t before = s ? 0 : jf__kv_len(kv);
    int split = hidden ? hidden_layer : 0;
    if (!s && split) {
        s = jf__janus_llm_layers(m, kv, seq, T, 0, split, (long)P, err);
        if (!s) {
            memcpy(hidden, seq + H, N * H * sizeof *hidden);
            jf__kv_set_len(kv, before);
        }
    }
    if (!s)
        s = jf__janus_llm_layers(m, kv, seq, T, split, c->layers, (long)P, err);
    if (!s) {
        jf__janus_final_norm(m, seq + H, N, normed);
        s = jf__gen_decode(m, normed, x_emb, temb, v, err);
    }
    jf__kv_free(kv);
    free(pe);
    free(temb);
    free(x_emb);
    free(seq);
    free(normed);
    if (!s && jf__ops_failed())
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory in a kernel");
    return s;
}

/* ---- REPA's projector ---- */

struct jf_repa {
    int in, width, out;
    float *w[3], *b[3]; /* layer k: w [rows][cols] row-major (rows = its output width) */
};

static void repa_dims(const jf_repa *r, int k, int *rows, int *cols)
{
    *cols = k == 0 ? r->in : r->width;
    *rows = k == 2 ? r->out : r->width;
}

static jf_repa *repa_alloc(int in, int width, int out)
{
    jf_repa *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->width = width;
    r->out = out;
    for (int k = 0; k < 3; k++) {
        int rows, cols;
        repa_dims(r, k, &rows, &cols);
        r->w[k] = malloc((size_t)rows * cols * sizeof(float));
        r->b[k] = malloc((size_t)rows * sizeof(float));
        if (!r->w[k] || !r->b[k]) {
            jf_repa_free(r);
            return NULL;
        }
    }
    return r;
}

void jf_repa_free(jf_repa *r)
{
    if (!r)
        return;
    for (int k = 0; k < 3; k++) {
        free(r->w[k]);
        free(r->b[k]);
    }
    free(r);
}

void jf_repa_dims(const jf_repa *r, int *in, int *width, int *out)
{
    *in = r->in;
    *width = r->width;
    *out = r->out;
}

jf_model_status jf_repa_random(int in, int width, int out, uint64_t seed, jf_repa **res, jf_model_error *err)
{
    if (in < 1 || width < 1 || out < 1)
        return jf__merr(err, JF_MODEL_EARG, "projector widths must be positive (%d, %d, %d)", in, width, out);
    jf_repa *r = repa_alloc(in, width, out);
    if (!r)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a %d-%d-%d projector", in, width, out);
    uint64_t st = seed;
    for (int k = 0; k < 3; k++) {
        int rows, cols;
        repa_dims(r, k, &rows, &cols);
        double bound = 1.0 / sqrt((double)cols);
        /* nn.Linear's default: U(−1/√fan_in, 1/√fan_in) for weight and bias; u in [0, 1) from
         * the top 53 bits */
        for (size_t i = 0; i < (size_t)rows * cols; i++)
            r->w[k][i] = (float)((2.0 * ((double)(jf__splitmix(&st) >> 11) * 0x1p-53) - 1.0) * bound);
        for (int i = 0; i < rows; i++)
            r->b[k][i] = (float)((2.0 * ((double)(jf__splitmix(&st) >> 11) * 0x1p-53) - 1.0) * bound);
    }
    *res = r;
    return JF_MODEL_OK;
}

jf_model_status jf_repa_load(const char *path, int in, int out, jf_repa **res, jf_model_error *err)
{
    jf_weights *wt = NULL;
    jf_model_status s = jf_weights_open(path, &wt, err);
    if (s)
        return s;
    /* the layers of an nn.Sequential(Linear, SiLU, Linear, SiLU, Linear): 0, 2, 4, under any
     * common prefix (REPA's checkpoints hold them as projectors.0.0.weight, ...) */
    const jf_tensor_info *t[3][2] = {{0}};
    static const char *const suffix[3][2] = {{"0.weight", "0.bias"}, {"2.weight", "2.bias"}, {"4.weight", "4.bias"}};
    for (size_t i = 0; i < jf_weights_count(wt); i++) {
        const jf_tensor_info *ti = jf_weights_at(wt, i);
        size_t nl = strlen(ti->name);
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 2; j++) {
                size_t sl = strlen(suffix[k][j]);
                if (nl >= sl && !strcmp(ti->name + nl - sl, suffix[k][j]) && (nl == sl || ti->name[nl - sl - 1] == '.')) {
                    if (t[k][j]) {
                        jf_weights_close(wt);
                        return jf__merr(err, JF_MODEL_EFORMAT, "%s: two tensors end in %s (%s, %s)", path,
                                        suffix[k][j], t[k][j]->name, ti->name);
                    }
                    t[k][j] = ti;
                }
            }
    }
    for (int k = 0; k < 3 && !s; k++)
        for (int j = 0; j < 2 && !s; j++)
            if (!t[k][j] || t[k][j]->ndim != 2 - j)
                s = jf__merr(err, JF_MODEL_EFORMAT, "%s: no %d-D tensor named *%s (a REPA projector is "
                             "Linear-SiLU-Linear-SiLU-Linear: 0.weight ... 4.bias)", path, 2 - j, suffix[k][j]);
    int width = s ? 0 : (int)t[0][0]->shape[0];
    if (!s && (t[0][0]->shape[1] != in || t[1][0]->shape[0] != width || t[1][0]->shape[1] != width ||
               t[2][0]->shape[1] != width || t[2][0]->shape[0] != out || t[0][1]->shape[0] != width ||
               t[1][1]->shape[0] != width || t[2][1]->shape[0] != out))
        s = jf__merr(err, JF_MODEL_ESHAPE, "%s: the projector maps %lld → %lld → %lld → %lld, the model needs %d → … → %d",
                     path, (long long)t[0][0]->shape[1], (long long)t[0][0]->shape[0], (long long)t[1][0]->shape[0],
                     (long long)t[2][0]->shape[0], in, out);
    jf_repa *r = s ? NULL : repa_alloc(in, width, out);
    if (!s && !r)
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (int k = 0; k < 3 && !s; k++)
        for (int j = 0; j < 2 && !s; j++) {
            jf__w w;
            const jf_tensor_info *ti = t[k][j];
            s = jf__weights_bind(wt, ti->name, ti->ndim, ti->shape[0], ti->ndim > 1 ? ti->shape[1] : -1, -1, -1, &w, err);
            if (!s)
                jf__w_to_f32(&w, 0, (size_t)w.rows * (size_t)w.cols, j ? r->b[k] : r->w[k]);
        }
    jf_weights_close(wt);
    if (s) {
        jf_repa_free(r);
        return s;
    }
    *res = r;
    return JF_MODEL_OK;
}

jf_model_status jf_repa_save(const jf_repa *r, const char *path, jf_model_error *err)
{
    char header[1024];
    size_t off = 0, len = 0;
    len += (size_t)snprintf(header + len, sizeof header - len, "{");
    for (int k = 0; k < 3; k++) {
        int rows, cols;
        repa_dims(r, k, &rows, &cols);
        size_t wb = (size_t)rows * cols * 4, bb = (size_t)rows * 4;
        len += (size_t)snprintf(header + len, sizeof header - len,
                                "%s\"%d.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]},"
                                "\"%d.bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                                k ? "," : "", 2 * k, rows, cols, off, off + wb, 2 * k, rows, off + wb, off + wb + bb);
        off += wb + bb;
    }
    len += (size_t)snprintf(header + len, sizeof header - len, "}");
    while (len % 8)
        header[len++] = ' ';
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "wb");
    uint64_t hl = len;
    int bad = !f || fwrite(&hl, 8, 1, f) != 1 || fwrite(header, 1, len, f) != len;
    for (int k = 0; k < 3 && !bad; k++) {
        int rows, cols;
        repa_dims(r, k, &rows, &cols);
        bad = fwrite(r->w[k], 4, (size_t)rows * cols, f) != (size_t)rows * cols ||
              fwrite(r->b[k], 4, (size_t)rows, f) != (size_t)rows;
    }
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return jf__merr(err, JF_MODEL_EIO, "%s: cannot write the projector", path);
    }
    return JF_MODEL_OK;
}

jf_model_status jf_repa_project(const jf_repa *r, const float *x, size_t rows, float *y, jf_model_error *err)
{
    size_t wd = (size_t)r->width;
    float *a = malloc(rows * wd * sizeof *a), *b = malloc(rows * wd * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    jf__w w0 = {r->w[0], JF_F32, r->width, r->in, NULL}, b0 = {r->b[0], JF_F32, 1, r->width, NULL};
    jf__w w1 = {r->w[1], JF_F32, r->width, r->width, NULL}, b1 = {r->b[1], JF_F32, 1, r->width, NULL};
    jf__w w2 = {r->w[2], JF_F32, r->out, r->width, NULL}, b2 = {r->b[2], JF_F32, 1, r->out, NULL};
    jf__linear(x, rows, &w0, &b0, a);
    jf__silu(a, rows * wd);
    jf__linear(a, rows, &w1, &b1, b);
    jf__silu(b, rows * wd);
    jf__linear(b, rows, &w2, &b2, y);
    free(a);
    free(b);
    return jf__ops_failed() ? jf__merr(err, JF_MODEL_ENOMEM, "out of memory in a kernel") : JF_MODEL_OK;
}
