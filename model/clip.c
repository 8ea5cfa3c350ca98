/* CLIP (Hugging Face CLIPModel layout: openai/clip-vit-large-patch14, -base-patch32, -base-patch16)
 * on the shared kernels: the text tower (causal, the state at the end-of-text token), the vision
 * tower (class token, pre/post LayerNorm), the two projections. Sizes come from the tensors,
 * heads and activation from config.json (CLIPTextConfig/CLIPVisionConfig defaults where it is
 * silent). evaluation.md §2.2–2.3. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <yajl/yajl_tree.h>

typedef struct clip_layer {
    jf__w ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} clip_layer;

typedef struct tower {
    int width, layers, heads, mlp;
    int quick_gelu;
    double eps;
    clip_layer *l;
} tower;

struct jf_clip {
    jf_clip_config cfg;
    jf_weights *w;
    jf_tokenizer *tok;
    tower text, vision;
    jf__w tok_emb, txt_pos, final_ln_w, final_ln_b, text_proj;
    jf__w cls, patch_w, vis_pos, pre_ln_w, pre_ln_b, post_ln_w, post_ln_b, vis_proj;
};

#define B(name, nd, a, b, c, d, dst)                                                                                 \
    do {                                                                                                           \
        jf_model_status s_ = jf__weights_bind(m->w, name, nd, a, b, c, d, dst, err);                                               \
        if (s_)                                                                                                    \
            return s_;                                                                                             \
    } while (0)

static jf_model_status bind_tower(jf_clip *m, const char *prefix, tower *t, jf_model_error *err)
{
    char n[256];
    int64_t W = t->width, F = t->mlp;
    t->l = calloc((size_t)t->layers, sizeof *t->l);
    if (!t->l)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (int i = 0; i < t->layers; i++) {
        clip_layer *L = &t->l[i];
#define N(s) (snprintf(n, sizeof n, "%s.encoder.layers.%d.%s", prefix, i, s), n)
        B(N("layer_norm1.weight"), 1, W, 0, 0, 0, &L->ln1_w);
        B(N("layer_norm1.bias"), 1, W, 0, 0, 0, &L->ln1_b);
        B(N("self_attn.q_proj.weight"), 2, W, W, 0, 0, &L->q_w);
        B(N("self_attn.q_proj.bias"), 1, W, 0, 0, 0, &L->q_b);
        B(N("self_attn.k_proj.weight"), 2, W, W, 0, 0, &L->k_w);
        B(N("self_attn.k_proj.bias"), 1, W, 0, 0, 0, &L->k_b);
        B(N("self_attn.v_proj.weight"), 2, W, W, 0, 0, &L->v_w);
        B(N("self_attn.v_proj.bias"), 1, W, 0, 0, 0, &L->v_b);
        B(N("self_attn.out_proj.weight"), 2, W, W, 0, 0, &L->o_w);
        B(N("self_attn.out_proj.bias"), 1, W, 0, 0, 0, &L->o_b);
        B(N("layer_norm2.weight"), 1, W, 0, 0, 0, &L->ln2_w);
        B(N("layer_norm2.bias"), 1, W, 0, 0, 0, &L->ln2_b);
        B(N("mlp.fc1.weight"), 2, F, W, 0, 0, &L->fc1_w);
        B(N("mlp.fc1.bias"), 1, F, 0, 0, 0, &L->fc1_b);
        B(N("mlp.fc2.weight"), 2, W, F, 0, 0, &L->fc2_w);
        B(N("mlp.fc2.bias"), 1, W, 0, 0, 0, &L->fc2_b);
#undef N
    }
    return JF_MODEL_OK;
}

static int count_layers(const jf_weights *w, const char *prefix)
{
    char n[256];
    int k = 0;
    for (;; k++) {
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm1.weight", prefix, k);
        if (!jf_weights_find(w, n))
            return k;
    }
}

static yajl_val cfg_get(yajl_val root, const char *sub, const char *key)
{
    const char *p[] = {sub, key, NULL};
    return root ? yajl_tree_get(root, p, yajl_t_any) : NULL;
}

/* heads and activation from config.json's text_config / vision_config */
static void tower_config(yajl_val root, const char *sub, tower *t, int default_heads)
{
    yajl_val h = cfg_get(root, sub, "num_attention_heads");
    t->heads = h && YAJL_IS_INTEGER(h) ? (int)YAJL_GET_INTEGER(h) : default_heads;
    yajl_val a = cfg_get(root, sub, "hidden_act");
    const char *act = a && YAJL_IS_STRING(a) ? YAJL_GET_STRING(a) : NULL;
    t->quick_gelu = !(act && !strcmp(act, "gelu"));
    yajl_val e = cfg_get(root, sub, "layer_norm_eps");
    t->eps = e && YAJL_IS_NUMBER(e) ? YAJL_GET_DOUBLE(e) : 1e-5;
}

static jf_model_status jf_clip_bind(jf_clip *m, jf_model_error *err);

jf_model_status jf_clip_load(const char *dir, jf_clip **out, jf_model_error *err)
{
    *out = NULL;
    jf_clip *m = calloc(1, sizeof *m);
    if (!m)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = jf_weights_open(dir, &m->w, err);
    char p[4200], q[4200];
    yajl_val root = NULL;
    if (!s) {
        snprintf(p, sizeof p, "%s/config.json", dir);
        jf_model_error ignored;
        char *json = jf__mread_file(p, (size_t)16 << 20, NULL, &ignored); /* optional */
        if (json)
            root = yajl_tree_parse(json, NULL, 0);
        free(json);
        /* the tokenizer: tokenizer.json, else the vocab.json + merges.txt pair */
        snprintf(p, sizeof p, "%s/tokenizer.json", dir);
        struct stat sb;
        if (stat(p, &sb) == 0) {
            s = jf_tokenizer_load(p, &m->tok, err);
        } else {
            snprintf(p, sizeof p, "%s/vocab.json", dir);
            snprintf(q, sizeof q, "%s/merges.txt", dir);
            s = jf_tokenizer_load_clip(p, q, &m->tok, err);
        }
    }
    jf_clip_config *c = &m->cfg;
    if (!s) {
        /* sizes from the tensors */
        const jf_tensor_info *te = jf_weights_find(m->w, "text_model.embeddings.token_embedding.weight");
        const jf_tensor_info *tp = jf_weights_find(m->w, "text_model.embeddings.position_embedding.weight");
        const jf_tensor_info *pe = jf_weights_find(m->w, "vision_model.embeddings.patch_embedding.weight");
        const jf_tensor_info *vp = jf_weights_find(m->w, "vision_model.embeddings.position_embedding.weight");
        const jf_tensor_info *pr = jf_weights_find(m->w, "text_projection.weight");
        const jf_tensor_info *f1 = jf_weights_find(m->w, "text_model.encoder.layers.0.mlp.fc1.weight");
        const jf_tensor_info *v1 = jf_weights_find(m->w, "vision_model.encoder.layers.0.mlp.fc1.weight");
        if (!te || !tp || !pe || !vp || !pr || !f1 || !v1 || te->ndim != 2 || tp->ndim != 2 || pe->ndim != 4 ||
            vp->ndim != 2 || pr->ndim != 2 || f1->ndim != 2 || v1->ndim != 2)
            s = jf__merr(err, JF_MODEL_ENOTFOUND, "%s: not a Hugging Face CLIPModel (text_model.*, vision_model.*, "
                                                  "text_projection missing)", dir);
        else {
            c->vocab = (int)te->shape[0];
            c->text_width = (int)te->shape[1];
            c->context = (int)tp->shape[0];
            c->embed_dim = (int)pr->shape[0];
            c->vision_width = (int)pe->shape[0];
            c->patch = (int)pe->shape[2];
            int n = (int)vp->shape[0] - 1, g = (int)lround(sqrt(n));
            c->image_size = g * c->patch;
            c->text_layers = count_layers(m->w, "text_model");
            c->vision_layers = count_layers(m->w, "vision_model");
            m->text = (tower){c->text_width, c->text_layers, 0, (int)f1->shape[0], 1, 1e-5, NULL};
            m->vision = (tower){c->vision_width, c->vision_layers, 0, (int)v1->shape[0], 1, 1e-5, NULL};
            tower_config(root, "text_config", &m->text, c->text_width / 64);
            tower_config(root, "vision_config", &m->vision, c->vision_width / 64);
            c->text_heads = m->text.heads;
            c->vision_heads = m->vision.heads;
            c->quick_gelu = m->text.quick_gelu;
            if (g * g != n || m->text.heads <= 0 || c->text_width % m->text.heads || m->vision.heads <= 0 ||
                c->vision_width % m->vision.heads)
                s = jf__merr(err, JF_MODEL_ESHAPE, "%s: inconsistent CLIP shapes (grid %d, heads %d/%d)", dir, n,
                             m->text.heads, m->vision.heads);
        }
    }
    yajl_tree_free(root);
    if (!s) {
        c->sot = jf_tokenizer_token_id(m->tok, "<|startoftext|>");
        c->eot = jf_tokenizer_token_id(m->tok, "<|endoftext|>");
        if (c->sot < 0 || c->eot < 0)
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: the tokenizer has no <|startoftext|>/<|endoftext|>", dir);
    }
    if (!s) {
        s = jf_clip_bind(m, err);
    }
    if (s) {
        jf_clip_free(m);
        return s;
    }
    *out = m;
    return JF_MODEL_OK;
}

static jf_model_status jf_clip_bind(jf_clip *m, jf_model_error *err)
{
    const jf_clip_config *c = &m->cfg;
    int64_t T = c->text_width, V = c->vision_width, P = c->patch, N = (int64_t)(c->image_size / c->patch) * (c->image_size / c->patch);
    B("text_model.embeddings.token_embedding.weight", 2, c->vocab, T, 0, 0, &m->tok_emb);
    B("text_model.embeddings.position_embedding.weight", 2, c->context, T, 0, 0, &m->txt_pos);
    B("text_model.final_layer_norm.weight", 1, T, 0, 0, 0, &m->final_ln_w);
    B("text_model.final_layer_norm.bias", 1, T, 0, 0, 0, &m->final_ln_b);
    B("text_projection.weight", 2, c->embed_dim, T, 0, 0, &m->text_proj);
    B("vision_model.embeddings.class_embedding", 1, V, 0, 0, 0, &m->cls);
    B("vision_model.embeddings.patch_embedding.weight", 4, V, 3, P, P, &m->patch_w);
    B("vision_model.embeddings.position_embedding.weight", 2, N + 1, V, 0, 0, &m->vis_pos);
    B("vision_model.pre_layrnorm.weight", 1, V, 0, 0, 0, &m->pre_ln_w);
    B("vision_model.pre_layrnorm.bias", 1, V, 0, 0, 0, &m->pre_ln_b);
    B("vision_model.post_layernorm.weight", 1, V, 0, 0, 0, &m->post_ln_w);
    B("vision_model.post_layernorm.bias", 1, V, 0, 0, 0, &m->post_ln_b);
    B("visual_projection.weight", 2, c->embed_dim, V, 0, 0, &m->vis_proj);
    jf_model_status s = bind_tower(m, "text_model", &m->text, err);
    return s ? s : bind_tower(m, "vision_model", &m->vision, err);
}

void jf_clip_free(jf_clip *m)
{
    if (!m)
        return;
    free(m->text.l);
    free(m->vision.l);
    jf_tokenizer_free(m->tok);
    jf_weights_close(m->w);
    free(m);
}

const jf_clip_config *jf_clip_get_config(const jf_clip *m)
{
    return &m->cfg;
}

jf_tokenizer *jf_clip_tokenizer(jf_clip *m)
{
    return m->tok;
}

int jf_clip_tokenize(jf_clip *m, const char *text, const char *prefix, int torchmetrics_slice, int32_t *ids, int *eot_pos,
                     int *n_content)
{
    const jf_clip_config *c = &m->cfg;
    jf_model_error err;
    size_t pl = prefix ? strlen(prefix) : 0, tl = strlen(text);
    char *full = malloc(pl + tl + 2);
    if (!full)
        return -1;
    memcpy(full, prefix ? prefix : "", pl);
    size_t k = pl;
    if (pl && prefix[pl - 1] != ' ')
        full[k++] = ' '; /* Hessel: a space is appended to the prefix when it lacks one */
    memcpy(full + k, text, tl);
    full[k + tl] = 0;
    int32_t *raw = NULL;
    long n = jf_tokenizer_encode(m->tok, full, k + tl, 0, &raw, &err);
    free(full);
    if (n < 0)
        return -1;
    int ctx = c->context;
    *n_content = (int)n;
    /* SOT + content + EOT, padded with EOT (Hugging Face's pad token) */
    ids[0] = c->sot;
    int keep = (int)n;
    if (torchmetrics_slice) {
        /* torchmetrics tokenizes without truncation and slices to the context, losing EOT */
        if (keep > ctx - 1)
            keep = ctx - 1;
    } else if (keep > ctx - 2) {
        keep = ctx - 2; /* truncation: SOT + 75 + EOT */
    }
    for (int i = 0; i < keep; i++)
        ids[1 + i] = raw[i];
    int pos = 1 + keep;
    if (pos < ctx)
        ids[pos++] = c->eot;
    for (int i = pos; i < ctx; i++)
        ids[i] = c->eot;
    free(raw);
    /* pooling: the first end-of-text token, as Hugging Face does (argmax of ids when EOT is the
     * largest id gives the same); without one (sliced), the largest id's first position */
    int e = -1;
    for (int i = 0; i < ctx && e < 0; i++)
        if (ids[i] == c->eot)
            e = i;
    if (e < 0) {
        e = 0;
        for (int i = 1; i < ctx; i++)
            if (ids[i] > ids[e])
                e = i;
    }
    *eot_pos = e;
    return 0;
}

/* One pre-LN residual stack over x[n, width]. */
/* The tower on `seqs` sequences of n tokens each, x [seqs * n, width]: the linear layers on all
 * rows at once, attention within each sequence. Returns 0, or -1 when its activations could not
 * be allocated. */
static int run_tower(const tower *t, float *x, size_t n, size_t seqs, int causal)
{
    size_t W = (size_t)t->width, F = (size_t)t->mlp, rows = n * seqs;
    int hd = t->width / t->heads;
    float *h = malloc(rows * W * sizeof *h), *q = malloc(rows * W * sizeof *q), *k = malloc(rows * W * sizeof *k),
          *v = malloc(rows * W * sizeof *v), *a = malloc(rows * W * sizeof *a), *f = malloc(rows * F * sizeof *f);
    int ok = h && q && k && v && a && f;
    for (int l = 0; ok && l < t->layers; l++) {
        const clip_layer *L = &t->l[l];
        jf__layernorm(x, rows, W, &L->ln1_w, &L->ln1_b, t->eps, h);
        jf__linear(h, rows, &L->q_w, &L->q_b, q);
        jf__linear(h, rows, &L->k_w, &L->k_b, k);
        jf__linear(h, rows, &L->v_w, &L->v_b, v);
        for (size_t sq = 0; sq < seqs; sq++)
            jf__attention(q + sq * n * W, n, k + sq * n * W, v + sq * n * W, n, t->heads, t->heads, hd,
                          1.0f / sqrtf((float)hd), causal, 0, a + sq * n * W);
        jf__linear(a, rows, &L->o_w, &L->o_b, h);
        for (size_t i = 0; i < rows * W; i++)
            x[i] += h[i];
        jf__layernorm(x, rows, W, &L->ln2_w, &L->ln2_b, t->eps, h);
        jf__linear(h, rows, &L->fc1_w, &L->fc1_b, f);
        if (t->quick_gelu)
            jf__quick_gelu(f, rows * F);
        else
            jf__gelu(f, rows * F);
        jf__linear(f, rows, &L->fc2_w, &L->fc2_b, h);
        for (size_t i = 0; i < rows * W; i++)
            x[i] += h[i];
    }
    free(h);
    free(q);
    free(k);
    free(v);
    free(a);
    free(f);
    return ok ? 0 : -1;
}

jf_model_status jf_clip_encode_text(jf_clip *m, const int32_t *ids, int eot_pos, float *embedding, jf_model_error *err)
{
    const jf_clip_config *c = &m->cfg;
    size_t n = (size_t)c->context, W = (size_t)c->text_width;
    /* the causal mask makes positions after EOT irrelevant to it: run up to EOT only */
    size_t run = (size_t)eot_pos + 1;
    if (run > n)
        run = n;
    (void)jf__ops_failed();
    float *x = malloc(run * W * sizeof *x), *pos = malloc(W * sizeof *pos), *h = malloc(W * sizeof *h);
    if (!x || !pos || !h) {
        free(x);
        free(pos);
        free(h);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < run; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab) {
            free(x);
            free(pos);
            free(h);
            return jf__merr(err, JF_MODEL_EARG, "token id %d outside CLIP's vocabulary", ids[i]);
        }
        jf__w_to_f32(&m->tok_emb, (size_t)ids[i] * W, W, x + i * W);
        jf__w_to_f32(&m->txt_pos, i * W, W, pos);
        for (size_t k = 0; k < W; k++)
            x[i * W + k] += pos[k];
    }
    int bad = run_tower(&m->text, x, run, 1, 1);
    jf__layernorm(x + (run - 1) * W, 1, W, &m->final_ln_w, &m->final_ln_b, m->text.eps, h);
    jf__linear(h, 1, &m->text_proj, NULL, embedding);
    free(x);
    free(pos);
    free(h);
    if (jf__ops_failed() || bad)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory encoding a caption");
    return JF_MODEL_OK;
}

jf_model_status jf_clip_encode_images(jf_clip *m, const float *pixels, size_t n_images, float *embeddings,
                                      jf_model_error *err)
{
    const jf_clip_config *c = &m->cfg;
    int g = c->image_size / c->patch;
    size_t N = (size_t)g * g, W = (size_t)c->vision_width, T = N + 1, B = n_images;
    size_t plane = (size_t)3 * c->image_size * c->image_size;
    if (!B)
        return JF_MODEL_OK;
    (void)jf__ops_failed();
    float *x = malloc(B * T * W * sizeof *x), *pos = malloc(T * W * sizeof *pos), *h = malloc(B * T * W * sizeof *h);
    if (!x || !pos || !h) {
        free(x);
        free(pos);
        free(h);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for %zu images", B);
    }
    jf__w_to_f32(&m->vis_pos, 0, T * W, pos);
    for (size_t b = 0; b < B; b++) {
        float *xb = x + b * T * W;
        jf__w_to_f32(&m->cls, 0, W, xb);
        jf__patch_embed(pixels + b * plane, 3, c->image_size, c->image_size, c->patch, &m->patch_w, NULL, xb + W);
        for (size_t i = 0; i < T * W; i++)
            xb[i] += pos[i];
    }
    jf__layernorm(x, B * T, W, &m->pre_ln_w, &m->pre_ln_b, m->vision.eps, h);
    memcpy(x, h, B * T * W * sizeof *x);
    int bad = run_tower(&m->vision, x, T, B, 0);
    /* the class token of each image, post-LayerNorm, projected */
    for (size_t b = 0; b < B; b++)
        memcpy(h + b * W, x + b * T * W, W * sizeof *h);
    jf__layernorm(h, B, W, &m->post_ln_w, &m->post_ln_b, m->vision.eps, x);
    jf__linear(x, B, &m->vis_proj, NULL, embeddings);
    free(x);
    free(pos);
    free(h);
    if (jf__ops_failed() || bad)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory encoding %zu images", B);
    return JF_MODEL_OK;
}

jf_model_status jf_clip_encode_image(jf_clip *m, const float *pixels, float *embedding, jf_model_error *err)
{
    return jf_clip_encode_images(m, pixels, 1, embedding, err);
}

/* ---- formula weights (demo, tests): a small CLIP in the Hugging Face layout ---- */

static double clip_u(uint64_t t, uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull + (t + 1) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1p-53;
}

typedef struct ctensor {
    char name[128];
    int ndim;
    int64_t shape[4];
    int kind; /* 0 matrix, 1 LayerNorm weight, 2 bias, 3 embedding */
} ctensor;

static size_t clip_inventory(const jf_clip_formula_shape *s, ctensor *t)
{
    size_t n = 0;
#define T(k, nd, a, b, c, d, ...)                                                                                  \
    do {                                                                                                           \
        if (t) {                                                                                                   \
            snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__);                                                    \
            t[n].ndim = nd;                                                                                        \
            t[n].shape[0] = a;                                                                                     \
            t[n].shape[1] = b;                                                                                     \
            t[n].shape[2] = c;                                                                                     \
            t[n].shape[3] = d;                                                                                     \
            t[n].kind = k;                                                                                         \
        }                                                                                                          \
        n++;                                                                                                       \
    } while (0)
    const char *tw[2] = {"text_model", "vision_model"};
    int widths[2] = {s->text_width, s->vision_width}, layers[2] = {s->text_layers, s->vision_layers},
        mlps[2] = {s->text_mlp, s->vision_mlp};
    T(3, 2, s->vocab, s->text_width, 0, 0, "text_model.embeddings.token_embedding.weight");
    T(3, 2, s->context, s->text_width, 0, 0, "text_model.embeddings.position_embedding.weight");
    int g = s->image_size / s->patch;
    T(3, 1, s->vision_width, 0, 0, 0, "vision_model.embeddings.class_embedding");
    T(0, 4, s->vision_width, 3, s->patch, s->patch, "vision_model.embeddings.patch_embedding.weight");
    T(3, 2, g * g + 1, s->vision_width, 0, 0, "vision_model.embeddings.position_embedding.weight");
    T(1, 1, s->vision_width, 0, 0, 0, "vision_model.pre_layrnorm.weight");
    T(2, 1, s->vision_width, 0, 0, 0, "vision_model.pre_layrnorm.bias");
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < layers[k]; i++) {
            int W = widths[k], F = mlps[k];
            const char *p = tw[k];
            T(1, 1, W, 0, 0, 0, "%s.encoder.layers.%d.layer_norm1.weight", p, i);
            T(2, 1, W, 0, 0, 0, "%s.encoder.layers.%d.layer_norm1.bias", p, i);
            const char *pr[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
            for (int j = 0; j < 4; j++) {
                T(0, 2, W, W, 0, 0, "%s.encoder.layers.%d.self_attn.%s.weight", p, i, pr[j]);
                T(2, 1, W, 0, 0, 0, "%s.encoder.layers.%d.self_attn.%s.bias", p, i, pr[j]);
            }
            T(1, 1, W, 0, 0, 0, "%s.encoder.layers.%d.layer_norm2.weight", p, i);
            T(2, 1, W, 0, 0, 0, "%s.encoder.layers.%d.layer_norm2.bias", p, i);
            T(0, 2, F, W, 0, 0, "%s.encoder.layers.%d.mlp.fc1.weight", p, i);
            T(2, 1, F, 0, 0, 0, "%s.encoder.layers.%d.mlp.fc1.bias", p, i);
            T(0, 2, W, F, 0, 0, "%s.encoder.layers.%d.mlp.fc2.weight", p, i);
            T(2, 1, W, 0, 0, 0, "%s.encoder.layers.%d.mlp.fc2.bias", p, i);
        }
    T(1, 1, s->text_width, 0, 0, 0, "text_model.final_layer_norm.weight");
    T(2, 1, s->text_width, 0, 0, 0, "text_model.final_layer_norm.bias");
    T(1, 1, s->vision_width, 0, 0, 0, "vision_model.post_layernorm.weight");
    T(2, 1, s->vision_width, 0, 0, 0, "vision_model.post_layernorm.bias");
    T(0, 2, s->embed_dim, s->vision_width, 0, 0, "visual_projection.weight");
    T(0, 2, s->embed_dim, s->text_width, 0, 0, "text_projection.weight");
#undef T
    return n;
}

jf_clip_formula_shape jf_clip_tiny_shape(void)
{
    jf_clip_formula_shape s = {.vocab = 600, .context = 77, .text_width = 64, .text_layers = 2, .text_heads = 2,
                               .text_mlp = 128, .vision_width = 64, .vision_layers = 2, .vision_heads = 2,
                               .vision_mlp = 128, .patch = 8, .image_size = 32, .embed_dim = 48};
    return s;
}

jf_clip_formula_shape jf_clip_l14_shape(void)
{
    /* openai/clip-vit-large-patch14 (evaluation.md §2.2) */
    jf_clip_formula_shape s = {.vocab = 49408, .context = 77, .text_width = 768, .text_layers = 12, .text_heads = 12,
                               .text_mlp = 3072, .vision_width = 1024, .vision_layers = 24, .vision_heads = 16,
                               .vision_mlp = 4096, .patch = 14, .image_size = 224, .embed_dim = 768};
    return s;
}

/* A byte-level CLIP-style tokenizer.json for a formula model: the 256 byte symbols, the same
 * with "</w>", then SOT and EOT as the last two ids (no merges). */
static int write_formula_tokenizer(const char *dir, int vocab)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":%d,\"content\":\"<|startoftext|>\",\"special\":true,"
               "\"normalized\":true},{\"id\":%d,\"content\":\"<|endoftext|>\",\"special\":true,\"normalized\":true}],"
               "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Replace\","
               "\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"},{\"type\":\"Lowercase\"}]},"
               "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
               "\"'s|'t|'re|'ve|'m|'ll|'d|[\\\\p{L}]+|[\\\\p{N}]|[^\\\\s\\\\p{L}\\\\p{N}]+\"},\"behavior\":\"Removed\","
               "\"invert\":true},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
               "\"use_regex\":false}]},\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"<|endoftext|>\",%d],"
               "\"cls\":[\"<|startoftext|>\",%d]},\"decoder\":{\"type\":\"ByteLevel\"},"
               "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<|endoftext|>\",\"end_of_word_suffix\":\"</w>\",\"vocab\":{",
            vocab - 2, vocab - 1, vocab - 1, vocab - 2);
    int id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            int cp;
            if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
                cp = b;
            else {
                int k = 0;
                for (int q = 0; q < b; q++)
                    if (!((q >= '!' && q <= '~') || (q >= 0xA1 && q <= 0xAC) || (q >= 0xAE && q <= 0xFF)))
                        k++;
                cp = 256 + k;
            }
            fprintf(f, "%s\"", id ? "," : "");
            if (cp == '"' || cp == '\\')
                fprintf(f, "\\%c", cp);
            else if (cp < 0x80)
                fputc(cp, f);
            else
                fprintf(f, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
            fprintf(f, "%s\":%d", pass ? "</w>" : "", id++);
        }
    fprintf(f, ",\"<|startoftext|>\":%d,\"<|endoftext|>\":%d},\"merges\":[]}}\n", vocab - 2, vocab - 1);
    return fclose(f) == 0 ? 0 : -1;
}

jf_model_status jf_clip_write_formula(const char *dir, const jf_clip_formula_shape *s, jf_model_error *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return jf__merr(err, JF_MODEL_EIO, "%s: %s", dir, strerror(errno));
    if (s->vocab < 514 || s->image_size % s->patch)
        return jf__merr(err, JF_MODEL_EARG, "formula CLIP: vocab must hold 512 byte tokens + SOT/EOT");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
    fprintf(f,
            "{\"architectures\": [\"CLIPModel\"], \"model_type\": \"clip\", \"projection_dim\": %d,\n"
            " \"text_config\": {\"hidden_size\": %d, \"intermediate_size\": %d, \"num_attention_heads\": %d,"
            " \"num_hidden_layers\": %d, \"max_position_embeddings\": %d, \"vocab_size\": %d, \"hidden_act\": \"quick_gelu\","
            " \"layer_norm_eps\": 1e-05, \"eos_token_id\": 2},\n"
            " \"vision_config\": {\"hidden_size\": %d, \"intermediate_size\": %d, \"num_attention_heads\": %d,"
            " \"num_hidden_layers\": %d, \"image_size\": %d, \"patch_size\": %d, \"hidden_act\": \"quick_gelu\","
            " \"layer_norm_eps\": 1e-05}}\n",
            s->embed_dim, s->text_width, s->text_mlp, s->text_heads, s->text_layers, s->context, s->vocab, s->vision_width,
            s->vision_mlp, s->vision_heads, s->vision_layers, s->image_size, s->patch);
    fclose(f);
    if (write_formula_tokenizer(dir, s->vocab))
        return jf__merr(err, JF_MODEL_EIO, "%s: cannot write the tokenizer", dir);
    size_t n = clip_inventory(s, NULL);
    ctensor *t = calloc(n, sizeof *t);
    if (!t)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    clip_inventory(s, t);
    size_t cap = n * 200 + 64, len = 0;
    char *h = malloc(cap);
    uint64_t off = 0;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        uint64_t c = 1;
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t[i].name);
        for (int d = 0; d < t[i].ndim; d++) {
            c *= (uint64_t)t[i].shape[d];
            len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        }
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                (unsigned long long)(off + c * 4));
        off += c * 4;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    uint64_t hl = len;
    jf_model_status st = f && fwrite(&hl, 8, 1, f) == 1 && fwrite(h, 1, len, f) == len ? JF_MODEL_OK
                                                                                   : jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
    free(h);
    for (size_t i = 0; !st && i < n; i++) {
        uint64_t c = 1, fan = 1;
        for (int d = 0; d < t[i].ndim; d++)
            c *= (uint64_t)t[i].shape[d];
        for (int d = 1; d < t[i].ndim; d++)
            fan *= (uint64_t)t[i].shape[d];
        float *v = malloc(c * sizeof *v);
        if (!v) {
            st = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            break;
        }
        for (uint64_t q = 0; q < c; q++) {
            double u = clip_u(i, q);
            v[q] = (float)(t[i].kind == 0   ? (u - 0.5) * 2.0 * sqrt(3.0 / (double)fan)
                           : t[i].kind == 1 ? 1.0 + 0.2 * (u - 0.5)
                           : t[i].kind == 2 ? 0.1 * (u - 0.5)
                                            : u - 0.5);
        }
        if (fwrite(v, 4, c, f) != c)
            st = jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
        free(v);
    }
    if (f && fclose(f) != 0 && !st)
        st = jf__merr(err, JF_MODEL_EIO, "%s: cannot write", path);
    free(t);
    return st;
}
