/* JanusFlow's understanding path: configuration and tokenizer as the official processor builds
 * them, the weights bound by their released names and checked for shape, SigLIP, the aligner,
 * and the LLaMA decoder with a KV cache. Everything is computed in f32 from the stored weights. */
#include "model_internal.h"

#include <math.h>
#include <yajl/yajl_tree.h>

#define LLM "language_model."
#define VIT "vision_und_enc_model.vision_tower."

typedef struct llm_layer {
    jf__w in_norm, q, k, v, o, post_norm, gate, up, down;
} llm_layer;

typedef struct vit_block {
    jf__w norm1_w, norm1_b, qkv_w, qkv_b, proj_w, proj_b, norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} vit_block;

/* One sequence's KV cache: [layers][cap][kv_heads * head_dim] for keys, the same for values. */
/* A sequence's keys and values per layer. Its first pn positions may live in another sequence's
 * cache (pk, pv, layer stride pcap: an image prefix shared by the questions about one image,
 * read in place rather than copied); k and v hold positions pn .. n_past-1, cap of them. */
typedef struct kv_seq {
    float *k, *v;
    size_t cap, n_past;
    const float *pk, *pv;
    size_t pcap, pn;
} kv_seq;

struct jf_janus {
    jf_janus_config cfg;
    jf_weights *st;
    jf_tokenizer *tok;
    uint64_t weights_bytes;
    /* language model */
    jf__w embed, final_norm, lm_head;
    llm_layer *layers;
    /* understanding encoder and aligner */
    jf__w patch_w, patch_b, pos_embed, vit_norm_w, vit_norm_b;
    vit_block *blocks;
    jf__w aligner_w, aligner_b, beg_of_und;
    /* the KV cache of the single-sequence API */
    kv_seq seq;
    /* the generation heads (bound and checked; their forward passes come with generation) */
    jf__gen_heads gen;
    /* names bound to a tensor, for the unknown-tensor report */
    char **bound;
    size_t n_bound;
    /* widened copies of the GEMM weights (jf_janus_keep_f32), freed with the model */
    float **f32_copies;
    size_t n_f32;
    char hash[17]; /* jf_weights_content_hash, once asked for */
};

/* ---- JSON helpers ---- */

static yajl_val load_json(const char *dir, const char *name, int required, jf_model_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    jf_model_error local;
    char *buf = jf__mread_file(path, (size_t)64 << 20, NULL, required ? err : &local);
    if (!buf) {
        if (required && err && err->code == JF_MODEL_ENOTFOUND)
            err->code = JF_MODEL_EIO; /* a required config file that is absent */
        return NULL;
    }
    char eb[512];
    yajl_val v = yajl_tree_parse(buf, eb, sizeof eb);
    free(buf);
    if (!v || !YAJL_IS_OBJECT(v)) {
        char *nl = strchr(eb, '\n');
        if (nl)
            *nl = 0;
        jf__merr(err, JF_MODEL_EFORMAT, "%s: not a JSON object: %s", path, v ? "" : eb);
        yajl_tree_free(v);
        return NULL;
    }
    return v;
}

static yajl_val jget(yajl_val o, const char *a, const char *b, const char *c)
{
    const char *p[] = {a, b, c, NULL};
    return o ? yajl_tree_get(o, p, yajl_t_any) : NULL;
}

/* The string of a JSON value, "" when it is not a string. */
static const char *jstr(yajl_val v)
{
    const char *s = v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    return s ? s : "";
}

static double jnum(yajl_val v, double dflt)
{
    return v && YAJL_IS_NUMBER(v) ? YAJL_GET_DOUBLE(v) : dflt;
}

/* A token in a tokenizer config: "text" or {"content": "text", ...}. */
static const char *token_text(yajl_val v)
{
    if (v && YAJL_IS_STRING(v))
        return YAJL_GET_STRING(v);
    if (v && YAJL_IS_OBJECT(v)) {
        yajl_val c = jget(v, "content", NULL, NULL);
        return c && YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : NULL;
    }
    return NULL;
}

/* ---- configuration ---- */

static jf_model_status read_config(jf_janus *m, const char *dir, jf_model_error *err)
{
    jf_janus_config *c = &m->cfg;
    yajl_val root = load_json(dir, "config.json", 1, err);
    if (!root)
        return err->code;
    yajl_val lc = jget(root, "language_config", NULL, NULL);
    if (!lc || !YAJL_IS_OBJECT(lc)) {
        yajl_tree_free(root);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: no language_config (is this a JanusFlow model?)", dir);
    }
    /* LlamaConfig's defaults apply to what the file leaves out */
    c->hidden = (int)jnum(jget(lc, "hidden_size", NULL, NULL), 4096);
    c->intermediate = (int)jnum(jget(lc, "intermediate_size", NULL, NULL), 11008);
    c->heads = (int)jnum(jget(lc, "num_attention_heads", NULL, NULL), 32);
    c->layers = (int)jnum(jget(lc, "num_hidden_layers", NULL, NULL), 32);
    c->kv_heads = (int)jnum(jget(lc, "num_key_value_heads", NULL, NULL), c->heads);
    c->vocab = (int)jnum(jget(lc, "vocab_size", NULL, NULL), 32000);
    c->max_positions = (int)jnum(jget(lc, "max_position_embeddings", NULL, NULL), 2048);
    c->rms_eps = jnum(jget(lc, "rms_norm_eps", NULL, NULL), 1e-6);
    c->rope_theta = jnum(jget(lc, "rope_theta", NULL, NULL), 10000.0);
    yajl_val rs = jget(lc, "rope_scaling", NULL, NULL);
    yajl_val act = jget(lc, "hidden_act", NULL, NULL);
    jf_model_status st = JF_MODEL_OK;
    if (rs && !YAJL_IS_NULL(rs))
        st = jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: rope_scaling is not supported", dir);
    else if (act && YAJL_IS_STRING(act) && strcmp(jstr(act), "silu"))
        st = jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: hidden_act %s is not supported (silu only)", dir,
                      YAJL_GET_STRING(act));
    else if (c->heads <= 0 || c->hidden % c->heads || c->kv_heads <= 0 || c->heads % c->kv_heads || c->layers <= 0)
        st = jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: inconsistent heads/hidden/layers", dir);
    c->head_dim = c->heads > 0 ? c->hidden / c->heads : 0;
    if (!st && c->head_dim % 2)
        st = jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: odd head dimension %d", dir, c->head_dim);

    /* The SigLIP tower: the official constructor takes width/heads/patch/MLP from the model_name
     * table and only depth from select_layer; jf reads shapes from the tensors and heads from
     * the table (head width 64 for the names it does not know). */
    yajl_val vp = jget(root, "vision_und_enc_config", "params", NULL);
    yajl_val mn = jget(vp, "model_name", NULL, NULL);
    const char *model_name = mn && YAJL_IS_STRING(mn) ? jstr(mn) : "siglip_large_patch16_384";
    c->vit_heads = strstr(model_name, "so400m") ? 16 : 0; /* 0: width / 64, once the width is known */
    /* the depth select_layer counts from: the official SigLIP_MODEL_CONFIG table of the name */
    static const struct { const char *name; int layers; } depth_table[] = {
        {"siglip_so400m_patch14_384", 27}, {"siglip_so400m_patch14_224", 27}, {"siglip_large_patch16_384", 24}};
    c->vit_table_layers = 0;
    for (size_t i = 0; i < sizeof depth_table / sizeof *depth_table; i++)
        if (!strcmp(model_name, depth_table[i].name))
            c->vit_table_layers = depth_table[i].layers;
    if (!st && !c->vit_table_layers)
        st = jf__merr(err, JF_MODEL_EFORMAT,
                      "%s/config.json: SigLIP model_name %s is not in the official table (siglip_so400m_patch14_384, "
                      "siglip_so400m_patch14_224, siglip_large_patch16_384)", dir, model_name);
    yajl_val vh = jget(vp, "heads", NULL, NULL);
    if (vh && YAJL_IS_INTEGER(vh))
        c->vit_heads = (int)YAJL_GET_INTEGER(vh);
    c->image_size = (int)jnum(jget(vp, "image_size", NULL, NULL), 384);
    c->vit_layers = (int)jnum(jget(vp, "select_layer", NULL, NULL), -1); /* resolved once depth is known */
    yajl_val sf = jget(vp, "select_feature", NULL, NULL);
    if (!st && sf && YAJL_IS_STRING(sf) && strcmp(jstr(sf), "same"))
        st = jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: select_feature %s is not supported (\"same\" only)", dir,
                      YAJL_GET_STRING(sf));
    c->ln_eps = 1e-6;
    if (!st)
        st = jf__gen_config_read(root, dir, c->hidden, &c->gen, err);
    yajl_tree_free(root);
    return st;
}

static void read_preprocessor(jf_janus *m, const char *dir)
{
    jf_janus_config *c = &m->cfg;
    /* spec §3.1: without the file, SigLIP's convention (mean = std = 0.5, normalised) */
    for (int i = 0; i < 3; i++)
        c->image_mean[i] = c->image_std[i] = 0.5f;
    c->do_normalize = 1;
    c->rescale = 1.0 / 255.0;
    c->min_size = 14;
    yajl_val pc = load_json(dir, "preprocessor_config.json", 0, NULL);
    if (!pc)
        return;
    yajl_val mean = jget(pc, "image_mean", NULL, NULL), sd = jget(pc, "image_std", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        if (mean && YAJL_IS_ARRAY(mean) && mean->u.array.len == 3)
            c->image_mean[i] = (float)jnum(mean->u.array.values[i], 0.5);
        if (sd && YAJL_IS_ARRAY(sd) && sd->u.array.len == 3)
            c->image_std[i] = (float)jnum(sd->u.array.values[i], 0.5);
    }
    yajl_val dn = jget(pc, "do_normalize", NULL, NULL);
    if (dn && (YAJL_IS_TRUE(dn) || YAJL_IS_FALSE(dn)))
        c->do_normalize = YAJL_IS_TRUE(dn);
    c->rescale = jnum(jget(pc, "rescale_factor", NULL, NULL), c->rescale);
    c->min_size = (int)jnum(jget(pc, "min_size", NULL, NULL), c->min_size);
    yajl_val is = jget(pc, "image_size", NULL, NULL);
    if (is && YAJL_IS_INTEGER(is))
        c->image_size = (int)YAJL_GET_INTEGER(is);
    yajl_tree_free(pc);
}

/* Special ids as the official stack computes them (spec §3.3 and its addendum): the fast
 * tokenizer's loader first appends every special token its configs name that tokenizer.json
 * lacks, then the processor appends the image tags it does not find. */
static jf_model_status resolve_tokens(jf_janus *m, const char *dir, jf_model_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    jf_model_status s = jf_tokenizer_load(path, &m->tok, err);
    if (s)
        return s;
    yajl_val tc = load_json(dir, "tokenizer_config.json", 0, NULL);
    yajl_val sm = load_json(dir, "special_tokens_map.json", 0, NULL);
    yajl_val pc = load_json(dir, "processor_config.json", 0, NULL);

    /* added_tokens_decoder, in id order */
    yajl_val atd = jget(tc, "added_tokens_decoder", NULL, NULL);
    if (atd && YAJL_IS_OBJECT(atd)) {
        size_t n = atd->u.object.len;
        size_t *order = malloc(n * sizeof *order);
        for (size_t i = 0; order && i < n; i++)
            order[i] = i;
        for (size_t i = 1; order && i < n; i++)
            for (size_t j = i; j > 0 && atol(atd->u.object.keys[order[j]]) < atol(atd->u.object.keys[order[j - 1]]); j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (size_t i = 0; order && i < n; i++) {
            const char *txt = token_text(atd->u.object.values[order[i]]);
            if (txt)
                jf_tokenizer_add_special(m->tok, txt);
        }
        free(order);
    }
    /* the special-token attributes, tokenizer_config.json first, then special_tokens_map.json */
    static const char *const attrs[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                        "cls_token", "mask_token"};
    const char *bos = NULL, *eos = NULL;
    yajl_val cls = jget(tc, "tokenizer_class", NULL, NULL);
    int llama_class = !tc || strstr(jstr(cls), "Llama");
    for (size_t a = 0; a < sizeof attrs / sizeof *attrs; a++) {
        yajl_val v = jget(tc, attrs[a], NULL, NULL);
        if (!v)
            v = jget(sm, attrs[a], NULL, NULL);
        const char *txt = token_text(v);
        if (!v && !strcmp(attrs[a], "unk_token") && llama_class)
            txt = "<unk>"; /* LlamaTokenizerFast's default, unless a config sets it (even to null) */
        if (!txt)
            continue;
        jf_tokenizer_add_special(m->tok, txt);
        if (a == 0)
            bos = txt;
        if (a == 1)
            eos = txt;
    }
    for (int which = 0; which < 2; which++) {
        yajl_val ast = jget(which ? sm : tc, "additional_special_tokens", NULL, NULL);
        for (size_t i = 0; ast && YAJL_IS_ARRAY(ast) && i < ast->u.array.len; i++) {
            const char *txt = token_text(ast->u.array.values[i]);
            if (txt)
                jf_tokenizer_add_special(m->tok, txt);
        }
    }
    jf_janus_config *c = &m->cfg;
    c->bos = bos ? jf_tokenizer_token_id(m->tok, bos) : jf_tokenizer_token_id(m->tok, "<｜begin▁of▁sentence｜>");
    c->eos = eos ? jf_tokenizer_token_id(m->tok, eos) : jf_tokenizer_token_id(m->tok, "<｜end▁of▁sentence｜>");

    /* the processor's tags (processor_config.json may rename them) */
    const char *tag = "<image_placeholder>", *gen = "<｜begin▁of▁generation｜>", *start = "<begin_of_image>",
               *end = "<end_of_image>", *pad = "<｜▁pad▁｜>";
    const char *t;
    if ((t = token_text(jget(pc, "image_tag", NULL, NULL))))
        tag = t;
    if ((t = token_text(jget(pc, "image_gen_tag", NULL, NULL))))
        gen = t;
    if ((t = token_text(jget(pc, "image_start_tag", NULL, NULL))))
        start = t;
    if ((t = token_text(jget(pc, "image_end_tag", NULL, NULL))))
        end = t;
    if ((t = token_text(jget(pc, "pad_tag", NULL, NULL))))
        pad = t;
    c->image_tag = jf_tokenizer_add_special(m->tok, tag);
    c->image_gen = jf_tokenizer_add_special(m->tok, gen);
    c->image_start = jf_tokenizer_add_special(m->tok, start);
    c->image_end = jf_tokenizer_add_special(m->tok, end);
    c->pad = jf_tokenizer_token_id(m->tok, pad);
    if (c->pad < 0)
        c->pad = c->eos;
    int nit = (int)jnum(jget(pc, "num_image_tokens", NULL, NULL), 0);
    c->image_tokens = nit; /* checked against the tower once its shape is known */
    yajl_tree_free(tc);
    yajl_tree_free(sm);
    yajl_tree_free(pc);

    if (c->bos < 0 || c->eos < 0)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: the tokenizer has no BOS/EOS token", dir);
    int32_t ids[] = {c->bos, c->eos, c->image_tag, c->image_start, c->image_end};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return jf__merr(err, JF_MODEL_EFORMAT,
                            "%s: token %s has id %d, outside the model's %d embedding rows", dir,
                            ids[i] >= 0 ? jf_tokenizer_id_token(m->tok, ids[i]) : "?", ids[i], c->vocab);
    snprintf(c->system_prompt, sizeof c->system_prompt, "%s",
             "You are a helpful language and vision assistant. You are able to understand the visual content that "
             "the user provides, and assist the user with a variety of tasks using natural language.");
    return JF_MODEL_OK;
}

/* ---- weights ---- */

static jf_model_status bind(jf_janus *m, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                            jf__w *w, jf_model_error *err)
{
    jf_model_status s = jf__weights_bind(m->st, name, ndim, d0, d1, d2, d3, w, err);
    if (s)
        return s;
    /* remembered for the unknown-tensor report */
    char **b = realloc(m->bound, (m->n_bound + 1) * sizeof *b);
    if (!b)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    m->bound = b;
    m->bound[m->n_bound++] = strdup(name);
    return JF_MODEL_OK;
}

#define BIND(name, nd, a, b, c_, d, w)                                                                                 \
    do {                                                                                                           \
        jf_model_status s_ = bind(m, name, nd, a, b, c_, d, w, err);                                               \
        if (s_)                                                                                                    \
            return s_;                                                                                             \
    } while (0)

static jf_model_status bind_llm(jf_janus *m, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    int64_t H = c->hidden, I = c->intermediate, KV = (int64_t)c->kv_heads * c->head_dim;
    BIND(LLM "model.embed_tokens.weight", 2, c->vocab, H, 0, 0, &m->embed);
    BIND(LLM "model.norm.weight", 1, H, 0, 0, 0, &m->final_norm);
    BIND(LLM "lm_head.weight", 2, c->vocab, H, 0, 0, &m->lm_head);
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    if (!m->layers)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    char n[256];
    for (int i = 0; i < c->layers; i++) {
        llm_layer *L = &m->layers[i];
#define LN(suffix) (snprintf(n, sizeof n, LLM "model.layers.%d.%s", i, suffix), n)
        BIND(LN("input_layernorm.weight"), 1, H, 0, 0, 0, &L->in_norm);
        BIND(LN("self_attn.q_proj.weight"), 2, H, H, 0, 0, &L->q);
        BIND(LN("self_attn.k_proj.weight"), 2, KV, H, 0, 0, &L->k);
        BIND(LN("self_attn.v_proj.weight"), 2, KV, H, 0, 0, &L->v);
        BIND(LN("self_attn.o_proj.weight"), 2, H, H, 0, 0, &L->o);
        BIND(LN("post_attention_layernorm.weight"), 1, H, 0, 0, 0, &L->post_norm);
        BIND(LN("mlp.gate_proj.weight"), 2, I, H, 0, 0, &L->gate);
        BIND(LN("mlp.up_proj.weight"), 2, I, H, 0, 0, &L->up);
        BIND(LN("mlp.down_proj.weight"), 2, H, I, 0, 0, &L->down);
#undef LN
    }
    return JF_MODEL_OK;
}

static jf_model_status bind_vit(jf_janus *m, const char *dir, jf_model_error *err)
{
    jf_janus_config *c = &m->cfg;
    /* shapes from the tensors: width and patch from the patch embedding, the grid from pos_embed */
    const jf_tensor_info *pe = jf_weights_find(m->st, VIT "patch_embed.proj.weight");
    const jf_tensor_info *pos = jf_weights_find(m->st, VIT "pos_embed");
    if (!pe || !pos || pe->ndim != 4 || pos->ndim != 3)
        return jf__merr(err, JF_MODEL_ENOTFOUND, "%s: no SigLIP patch embedding / pos_embed (" VIT "*)", dir);
    c->vit_width = (int)pe->shape[0];
    c->patch = (int)pe->shape[2];
    int n_tok = (int)pos->shape[1];
    int grid = (int)lround(sqrt((double)n_tok));
    if (grid * grid != n_tok || pe->shape[1] != 3 || pe->shape[3] != c->patch)
        return jf__merr(err, JF_MODEL_ESHAPE, "%s: SigLIP pos_embed has %d positions (not a square grid)", dir, n_tok);
    if (grid * c->patch != c->image_size)
        return jf__merr(err, JF_MODEL_ESHAPE, "%s: SigLIP grid %d x patch %d does not make image_size %d", dir, grid,
                        c->patch, c->image_size);
    if (c->image_tokens && c->image_tokens != n_tok)
        return jf__merr(err, JF_MODEL_ESHAPE, "%s: processor num_image_tokens %d but the tower makes %d", dir,
                        c->image_tokens, n_tok);
    c->image_tokens = n_tok;
    if (!c->vit_heads)
        c->vit_heads = c->vit_width / 64 > 0 ? c->vit_width / 64 : 1;
    if (c->vit_width % c->vit_heads)
        return jf__merr(err, JF_MODEL_ESHAPE, "%s: SigLIP width %d is not a multiple of %d heads", dir, c->vit_width,
                        c->vit_heads);
    int depth = 0;
    char n[256];
    for (;; depth++) {
        snprintf(n, sizeof n, VIT "blocks.%d.norm1.weight", depth);
        if (!jf_weights_find(m->st, n))
            break;
    }
    /* select_layer as the official create_siglip_vit reads it: counted from the depth of the
     * model_name's table entry (not from the blocks in the file), ≤ 0 from the end (−1 = all):
     * layers = min(T, T + select_layer + 1), or min(T, select_layer) when positive */
    int sel = c->vit_layers, T = c->vit_table_layers;
    int layers = sel <= 0 ? T + sel + 1 : sel;
    if (layers > T)
        layers = T;
    if (layers <= 0)
        return jf__merr(err, JF_MODEL_ESHAPE, "%s: select_layer %d of a %d-layer %s leaves no block", dir, sel, T,
                        "SigLIP");
    if (layers > depth)
        return jf__merr(err, JF_MODEL_ESHAPE,
                        "%s: select_layer %d builds %d SigLIP blocks (the official table gives the tower %d), the "
                        "weights have %d (the official loader would leave the others random)",
                        dir, sel, layers, T, depth);
    c->vit_layers = layers;
    const jf_tensor_info *fc1 = jf_weights_find(m->st, VIT "blocks.0.mlp.fc1.weight");
    c->vit_mlp = fc1 && fc1->ndim == 2 ? (int)fc1->shape[0] : 4 * c->vit_width;

    int64_t W = c->vit_width, F = c->vit_mlp;
    BIND(VIT "patch_embed.proj.weight", 4, W, 3, c->patch, c->patch, &m->patch_w);
    BIND(VIT "patch_embed.proj.bias", 1, W, 0, 0, 0, &m->patch_b);
    BIND(VIT "pos_embed", 3, 1, n_tok, W, 0, &m->pos_embed);
    BIND(VIT "norm.weight", 1, W, 0, 0, 0, &m->vit_norm_w);
    BIND(VIT "norm.bias", 1, W, 0, 0, 0, &m->vit_norm_b);
    m->blocks = calloc((size_t)layers, sizeof *m->blocks);
    if (!m->blocks)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (int i = 0; i < layers; i++) {
        vit_block *B = &m->blocks[i];
#define BN(suffix) (snprintf(n, sizeof n, VIT "blocks.%d.%s", i, suffix), n)
        BIND(BN("norm1.weight"), 1, W, 0, 0, 0, &B->norm1_w);
        BIND(BN("norm1.bias"), 1, W, 0, 0, 0, &B->norm1_b);
        BIND(BN("attn.qkv.weight"), 2, 3 * W, W, 0, 0, &B->qkv_w);
        BIND(BN("attn.qkv.bias"), 1, 3 * W, 0, 0, 0, &B->qkv_b);
        BIND(BN("attn.proj.weight"), 2, W, W, 0, 0, &B->proj_w);
        BIND(BN("attn.proj.bias"), 1, W, 0, 0, 0, &B->proj_b);
        BIND(BN("norm2.weight"), 1, W, 0, 0, 0, &B->norm2_w);
        BIND(BN("norm2.bias"), 1, W, 0, 0, 0, &B->norm2_b);
        BIND(BN("mlp.fc1.weight"), 2, F, W, 0, 0, &B->fc1_w);
        BIND(BN("mlp.fc1.bias"), 1, F, 0, 0, 0, &B->fc1_b);
        BIND(BN("mlp.fc2.weight"), 2, W, F, 0, 0, &B->fc2_w);
        BIND(BN("mlp.fc2.bias"), 1, W, 0, 0, 0, &B->fc2_b);
#undef BN
    }
    BIND("vision_und_enc_aligner.weight", 2, c->hidden, W, 0, 0, &m->aligner_w);
    BIND("vision_und_enc_aligner.bias", 1, c->hidden, 0, 0, 0, &m->aligner_b);
    BIND("beg_of_und_embed", 2, 1, c->hidden, 0, 0, &m->beg_of_und);
    return JF_MODEL_OK;
}

static jf_model_status bind_cb(void *ctx, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                               jf__w *w, jf_model_error *err)
{
    return bind(ctx, name, ndim, d0, d1, d2, d3, w, err);
}

/* Tensors of the release that this path does not use: the MAP pooling head the official
 * encoder builds but never runs, and blocks beyond select_layer. (The generation heads are
 * bound and checked like every other tensor.) */
static int known_unused(const char *name)
{
    static const char *const prefixes[] = {VIT "attn_pool.", VIT "blocks."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

jf_model_status jf_janus_load(const char *dir, jf_janus **out, jf_janus_load_stats *stats,
                              void (*on_unknown)(void *user, const char *name), void *user, jf_model_error *err)
{
    jf_model_error local;
    if (!err)
        err = &local;
    *out = NULL;
    jf_janus *m = calloc(1, sizeof *m);
    if (!m)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = read_config(m, dir, err);
    if (!s) {
        read_preprocessor(m, dir);
        s = resolve_tokens(m, dir, err);
    }
    if (!s)
        s = jf_weights_open(dir, &m->st, err);
    if (!s)
        s = bind_llm(m, err);
    if (!s)
        s = bind_vit(m, dir, err);
    if (!s)
        s = jf__gen_bind(&m->cfg.gen, m->cfg.hidden, bind_cb, m, &m->gen, err);
    if (s) {
        jf_janus_free(m);
        return s;
    }
    qsort(m->bound, m->n_bound, sizeof *m->bound, cmp_str);
    jf_janus_load_stats ls;
    memset(&ls, 0, sizeof ls);
    ls.tensors = jf_weights_count(m->st);
    for (size_t i = 0; i < ls.tensors; i++) {
        const jf_tensor_info *t = jf_weights_at(m->st, i);
        uint64_t count = 1;
        for (int d = 0; d < t->ndim; d++)
            count *= (uint64_t)t->shape[d];
        ls.parameters += count;
        ls.bytes += t->bytes;
        ls.n_bf16 += t->dtype == JF_BF16;
        ls.n_f16 += t->dtype == JF_F16;
        ls.n_f32 += t->dtype == JF_F32;
        const char *key = t->name;
        if (bsearch(&key, m->bound, m->n_bound, sizeof *m->bound, cmp_str))
            ls.used_tensors++;
        else if (!known_unused(t->name)) {
            ls.unknown_tensors++;
            if (on_unknown)
                on_unknown(user, t->name);
        }
    }
    if (stats)
        *stats = ls;
    m->weights_bytes = ls.bytes;
    *out = m;
    return JF_MODEL_OK;
}

void jf_janus_free(jf_janus *m)
{
    if (!m)
        return;
    jf_weights_close(m->st);
    jf_tokenizer_free(m->tok);
    free(m->layers);
    free(m->blocks);
    jf__gen_heads_free(&m->gen);
    free(m->seq.k);
    free(m->seq.v);
    for (size_t i = 0; i < m->n_bound; i++)
        free(m->bound[i]);
    free(m->bound);
    for (size_t i = 0; i < m->n_f32; i++)
        free(m->f32_copies[i]);
    free(m->f32_copies);
    free(m);
}

jf_model_status jf_janus_keep_f32(jf_janus *m, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t per_layer = 7, per_block = 4, n = (size_t)c->layers * per_layer + (size_t)c->vit_layers * per_block;
    if (m->n_f32)
        return JF_MODEL_OK;
    jf__w **ws = malloc(n * sizeof *ws);
    m->f32_copies = calloc(n, sizeof *m->f32_copies);
    if (!ws || !m->f32_copies) {
        free(ws);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (int l = 0; l < c->layers; l++) {
        llm_layer *L = &m->layers[l];
        jf__w *lw[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            ws[k++] = lw[i];
    }
    for (int b = 0; b < c->vit_layers; b++) {
        vit_block *B = &m->blocks[b];
        jf__w *bw[4] = {&B->qkv_w, &B->proj_w, &B->fc1_w, &B->fc2_w};
        for (int i = 0; i < 4; i++)
            ws[k++] = bw[i];
    }
    jf_model_status s = JF_MODEL_OK;
    for (size_t i = 0; i < k && !s; i++) {
        if (ws[i]->dt == JF_F32)
            continue;
        float *f = jf__w_widen(ws[i]);
        if (!f)
            s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory widening the weights to f32 (%zu of %zu matrices done)", i, k);
        else {
            m->f32_copies[m->n_f32++] = f;
            ws[i]->f32 = f;
        }
    }
    if (s) { /* all or nothing */
        for (size_t i = 0; i < k; i++)
            ws[i]->f32 = NULL;
        for (size_t i = 0; i < m->n_f32; i++)
            free(m->f32_copies[i]);
        m->n_f32 = 0;
    }
    free(ws);
    return s;
}

const jf_janus_config *jf_janus_get_config(const jf_janus *m)
{
    return &m->cfg;
}

jf_tokenizer *jf_janus_tokenizer(jf_janus *m)
{
    return m->tok;
}

jf_janus_image_spec jf_janus_image_spec_of(const jf_janus *m)
{
    jf_janus_image_spec s;
    memset(&s, 0, sizeof s);
    s.size = m->cfg.image_size;
    s.min_size = m->cfg.min_size;
    for (int i = 0; i < 3; i++) {
        /* the processor pads with int(mean * 255) */
        double bg = (double)m->cfg.image_mean[i] * 255.0;
        s.background[i] = (uint8_t)(bg < 0 ? 0 : bg > 255 ? 255 : (int)bg);
        s.mean[i] = m->cfg.image_mean[i];
        s.std[i] = m->cfg.image_std[i];
    }
    s.rescale = m->cfg.rescale;
    s.normalize = m->cfg.do_normalize;
    return s;
}

void jf_janus_image_to_pixels(const jf_janus_image_spec *spec, const uint8_t *rgb, float *pixels)
{
    size_t n = (size_t)spec->size * spec->size;
    for (int ch = 0; ch < 3; ch++)
        for (size_t i = 0; i < n; i++) {
            /* as the official processor: uint8 × rescale in float64, cast to float32, then the
             * normalisation in float32 */
            float v = (float)((double)rgb[i * 3 + (size_t)ch] * spec->rescale);
            if (spec->normalize)
                v = (v - spec->mean[ch]) / spec->std[ch];
            pixels[(size_t)ch * n + i] = v;
        }
}

/* ---- workspaces: one allocation per forward, its size the same formula the plan reports ---- */

static size_t vit_workspace_floats_n(const jf_janus_config *c, size_t N)
{
    size_t W = (size_t)c->vit_width, F = (size_t)c->vit_mlp;
    return N * W * 6 + N * 3 * W + N * F; /* h, q, k, v, att, pos; qkv; mlp */
}

static size_t vit_workspace_floats(const jf_janus_config *c)
{
    return vit_workspace_floats_n(c, (size_t)c->image_tokens);
}

static size_t llm_workspace_floats(const jf_janus_config *c, size_t T)
{
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    return T * H * 3 + T * I * 2 + T; /* h, q, att; gate, up; positions (as ints of float size) */
}

static size_t kv_cap_for(const jf_janus_config *c, size_t need)
{
    size_t cap = 256;
    while (cap < need)
        cap *= 2;
    return cap > (size_t)c->max_positions ? (size_t)c->max_positions : cap;
}

jf_janus_memory_plan jf_janus_plan(const jf_janus *m, size_t prompt_tokens, size_t new_tokens, size_t images)
{
    const jf_janus_config *c = &m->cfg;
    jf_janus_memory_plan p;
    memset(&p, 0, sizeof p);
    p.weights_mapped = m->weights_bytes;
    size_t kv = (size_t)c->kv_heads * c->head_dim;
    p.kv_cache = (uint64_t)2 * c->layers * kv_cap_for(c, prompt_tokens + new_tokens) * kv * sizeof(float);
    p.llm_activations = (uint64_t)llm_workspace_floats(c, prompt_tokens) * sizeof(float) +
                        (uint64_t)prompt_tokens * c->hidden * sizeof(float) /* the embeddings */ +
                        (uint64_t)c->vocab * sizeof(float) /* logits */;
    p.vision_activations = images ? (uint64_t)(vit_workspace_floats(c) + (size_t)c->image_tokens * c->vit_width +
                                               ((size_t)c->image_tokens + 1) * c->hidden) * sizeof(float)
                                  : 0;
    /* per thread: a widened weight block of at most 16 M floats (prefill) and the attention
     * scores of one head for a tile of at most 128 query rows */
    size_t widest = (size_t)c->intermediate > (size_t)c->vocab ? (size_t)c->intermediate : (size_t)c->vocab;
    uint64_t block = (uint64_t)16 << 20;
    if ((uint64_t)widest * c->hidden < block)
        block = (uint64_t)widest * c->hidden;
    size_t tk = prompt_tokens + new_tokens;
    uint64_t tile = prompt_tokens < 128 ? prompt_tokens : 128;
    p.scratch = (uint64_t)jf_model_threads() * (block + tile * tk) * sizeof(float);
    p.total = p.weights_mapped + p.kv_cache + p.llm_activations + p.vision_activations + p.scratch;
    return p;
}

/* The status of a computation after its kernels ran: a kernel that could not get its scratch
 * memory skipped its work, which must not pass for a result. */
static jf_model_status kernels_status(jf_model_status s, jf_model_error *err)
{
    if (jf__ops_failed() && !s)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a kernel's scratch space");
    return s;
}

/* ---- SigLIP ---- */

/* One pre-norm ViT block on x [N, vit_width] in place; ws holds vit_workspace_floats_n(N). */
static void vit_block_forward(const jf_janus *m, const vit_block *B, float *x, size_t N, float *ws)
{
    const jf_janus_config *c = &m->cfg;
    size_t W = (size_t)c->vit_width, F = (size_t)c->vit_mlp;
    int heads = c->vit_heads, hd = c->vit_width / c->vit_heads;
    float *h = ws, *q = h + N * W, *k = q + N * W, *v = k + N * W, *att = v + N * W, *qkv = att + 2 * N * W,
          *f = qkv + N * 3 * W;
    jf__layernorm(x, N, W, &B->norm1_w, &B->norm1_b, c->ln_eps, h);
    jf__linear(h, N, &B->qkv_w, &B->qkv_b, qkv);
    for (size_t t = 0; t < N; t++) {
        memcpy(q + t * W, qkv + t * 3 * W, W * sizeof *q);
        memcpy(k + t * W, qkv + t * 3 * W + W, W * sizeof *k);
        memcpy(v + t * W, qkv + t * 3 * W + 2 * W, W * sizeof *v);
    }
    jf__attention(q, N, k, v, N, heads, heads, hd, 1.0f / sqrtf((float)hd), 0, 0, att);
    jf__linear(att, N, &B->proj_w, &B->proj_b, h);
    for (size_t i = 0; i < N * W; i++)
        x[i] += h[i];
    jf__layernorm(x, N, W, &B->norm2_w, &B->norm2_b, c->ln_eps, h);
    jf__linear(h, N, &B->fc1_w, &B->fc1_b, f);
    jf__gelu(f, N * F);
    jf__linear(f, N, &B->fc2_w, &B->fc2_b, h);
    for (size_t i = 0; i < N * W; i++)
        x[i] += h[i];
}

jf_model_status jf_janus_encode_image(jf_janus *m, const float *pixels, float *features, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t N = (size_t)c->image_tokens, W = (size_t)c->vit_width;
    float *x = features;
    (void)jf__ops_failed();
    float *ws = malloc(vit_workspace_floats(c) * sizeof *ws);
    if (!ws)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory encoding an image (%zu bytes)",
                        vit_workspace_floats(c) * sizeof *ws);
    float *h = ws, *pos = ws + 5 * N * W; /* the block's attention scratch, free between blocks */
    jf__patch_embed(pixels, 3, c->image_size, c->image_size, c->patch, &m->patch_w, &m->patch_b, x);
    jf__w_to_f32(&m->pos_embed, 0, N * W, pos);
    for (size_t i = 0; i < N * W; i++)
        x[i] += pos[i];
    for (int l = 0; l < c->vit_layers; l++)
        vit_block_forward(m, &m->blocks[l], x, N, ws);
    jf__layernorm(x, N, W, &m->vit_norm_w, &m->vit_norm_b, c->ln_eps, h);
    memcpy(x, h, N * W * sizeof *x);
    free(ws);
    return kernels_status(JF_MODEL_OK, err);
}

/* ---- the language model ---- */

static jf_model_status cache_reserve(const jf_janus *m, kv_seq *q, size_t need, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    if (need > (size_t)c->max_positions)
        return jf__merr(err, JF_MODEL_ELIMIT, "%zu positions exceed the model's context of %d", need, c->max_positions);
    need -= q->pn; /* the shared prefix's positions are not held here */
    if (need <= q->cap)
        return JF_MODEL_OK;
    /* a new cache is sized as asked (a prompt plus its generation budget: fresh pages cost), a
     * growing one doubles */
    size_t cap = q->cap ? q->cap : need;
    while (cap < need)
        cap *= 2;
    if (cap > (size_t)c->max_positions)
        cap = (size_t)c->max_positions;
    size_t kv = (size_t)c->kv_heads * c->head_dim, L = (size_t)c->layers;
    float *kc = malloc(L * cap * kv * sizeof *kc), *vc = malloc(L * cap * kv * sizeof *vc);
    if (!kc || !vc) {
        free(kc);
        free(vc);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a KV cache of %zu positions", cap);
    }
    for (size_t l = 0; q->k && l < L; l++) {
        memcpy(kc + l * cap * kv, q->k + l * q->cap * kv, (q->n_past - q->pn) * kv * sizeof *kc);
        memcpy(vc + l * cap * kv, q->v + l * q->cap * kv, (q->n_past - q->pn) * kv * sizeof *vc);
    }
    free(q->k);
    free(q->v);
    q->k = kc;
    q->v = vc;
    q->cap = cap;
    return JF_MODEL_OK;
}

/* The rest of a decoder layer after attention, on n rows: the output projection and its
 * residual, then the SwiGLU MLP and its residual. h [n, hidden], g and u [n, intermediate] are
 * scratch. */
static void layer_tail(const jf_janus *m, const llm_layer *L, const float *att, size_t n, float *x, float *h, float *g,
                       float *u)
{
    const jf_janus_config *c = &m->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    jf__linear(att, n, &L->o, NULL, h);
    for (size_t i = 0; i < n * H; i++)
        x[i] += h[i];
    jf__rmsnorm(x, n, H, &L->post_norm, c->rms_eps, h);
    jf__linear(h, n, &L->gate, NULL, g);
    jf__linear(h, n, &L->up, NULL, u);
    jf__silu(g, n * I);
    for (size_t i = 0; i < n * I; i++)
        g[i] *= u[i];
    jf__linear(g, n, &L->down, NULL, h);
    for (size_t i = 0; i < n * H; i++)
        x[i] += h[i];
}

/* Decoder layer l on T new rows x [T, hidden] (in place) at `positions`, after the sequence's
 * n_past cached positions, whose keys and values it appends to the cache (reserved by the
 * caller). h, q, att [T, hidden] and g, u [T, intermediate] are scratch. */
static void llm_layer_forward(const jf_janus *m, int l, kv_seq *sq, float *x, size_t T, const int *positions, float *h,
                              float *q, float *att, float *g, float *u)
{
    const jf_janus_config *c = &m->cfg;
    const llm_layer *L = &m->layers[l];
    size_t H = (size_t)c->hidden, KV = (size_t)c->kv_heads * c->head_dim;
    float *kc = sq->k + (size_t)l * sq->cap * KV, *vc = sq->v + (size_t)l * sq->cap * KV;
    size_t own = sq->n_past - sq->pn; /* positions held in kc/vc before these */
    jf__rmsnorm(x, T, H, &L->in_norm, c->rms_eps, h);
    jf__linear(h, T, &L->q, NULL, q);
    jf__linear(h, T, &L->k, NULL, kc + own * KV);
    jf__linear(h, T, &L->v, NULL, vc + own * KV);
    jf__rope(q, T, c->heads, c->head_dim, positions, c->rope_theta);
    jf__rope(kc + own * KV, T, c->kv_heads, c->head_dim, positions, c->rope_theta);
    jf__attention_split(q, T, sq->pk ? sq->pk + (size_t)l * sq->pcap * KV : NULL,
                        sq->pv ? sq->pv + (size_t)l * sq->pcap * KV : NULL, sq->pn, kc, vc, own + T, c->heads, c->kv_heads,
                        c->head_dim, 1.0f / sqrtf((float)c->head_dim), 1, sq->n_past, att);
    layer_tail(m, L, att, T, x, h, g, u);
}

/* Runs decoder layers [l0, l1) on T new positions (embeddings x[T, hidden], consumed) after
 * the cached ones, at RoPE positions pos0, pos0 + 1, ... (pos0 < 0: from the cache length);
 * writes the logits of the last position when `logits` is set. */
static jf_model_status llm_layers_at(jf_janus *m, kv_seq *sq, float *x, size_t T, int l0, int l1, long pos0,
                                     float *logits, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    jf_model_status s = cache_reserve(m, sq, sq->n_past + T, err);
    if (s)
        return s;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    (void)jf__ops_failed();
    float *ws = malloc(llm_workspace_floats(c, T) * sizeof *ws);
    if (!ws)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory for %zu positions (%zu bytes)", T,
                        llm_workspace_floats(c, T) * sizeof *ws);
    float *h = ws, *q = h + T * H, *att = q + T * H, *g = att + T * H, *u = g + T * I;
    int *positions = (int *)(u + T * I);
    if (pos0 < 0)
        pos0 = (long)sq->n_past;
    if ((size_t)pos0 + T > (size_t)c->max_positions) {
        free(ws);
        return jf__merr(err, JF_MODEL_ELIMIT, "positions up to %zu exceed the model's context of %d", (size_t)pos0 + T,
                        c->max_positions);
    }
    for (size_t t = 0; t < T; t++)
        positions[t] = (int)(pos0 + (long)t);
    for (int l = l0; l < l1; l++)
        llm_layer_forward(m, l, sq, x, T, positions, h, q, att, g, u);
    sq->n_past += T;
    if (logits) {
        jf__rmsnorm(x + (T - 1) * H, 1, H, &m->final_norm, c->rms_eps, h);
        jf__linear(h, 1, &m->lm_head, NULL, logits);
    }
    free(ws);
    return kernels_status(s, err);
}

static jf_model_status llm_layers(jf_janus *m, kv_seq *sq, float *x, size_t T, int l0, int l1, float *logits,
                                  jf_model_error *err)
{
    return llm_layers_at(m, sq, x, T, l0, l1, -1, logits, err);
}

static jf_model_status llm_forward(jf_janus *m, kv_seq *sq, float *x, size_t T, float *logits, jf_model_error *err)
{
    return llm_layers(m, sq, x, T, 0, m->cfg.layers, logits, err);
}

jf_model_status jf__janus_module_run(jf_janus *m, jf__janus_module mod, int index, const float *in, size_t rows,
                                     size_t split, float *out, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t W = (size_t)c->vit_width, H = (size_t)c->hidden;
    if (!rows)
        return jf__merr(err, JF_MODEL_EARG, "no rows");
    (void)jf__ops_failed();
    if (mod == JF__MOD_ALIGNER) {
        jf__linear(in, rows, &m->aligner_w, &m->aligner_b, out);
        return kernels_status(JF_MODEL_OK, err);
    }
    if (mod == JF__MOD_VIT_NORM) {
        jf__layernorm(in, rows, W, &m->vit_norm_w, &m->vit_norm_b, c->ln_eps, out);
        return kernels_status(JF_MODEL_OK, err);
    }
    if (mod == JF__MOD_LM_HEAD) {
        float *h = malloc(rows * H * sizeof *h);
        if (!h)
            return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        jf__rmsnorm(in, rows, H, &m->final_norm, c->rms_eps, h);
        jf__linear(h, rows, &m->lm_head, NULL, out);
        free(h);
        return kernels_status(JF_MODEL_OK, err);
    }
    if (mod == JF__MOD_VIT_BLOCK) {
        if (index < 0 || index >= c->vit_layers)
            return jf__merr(err, JF_MODEL_EARG, "no SigLIP block %d", index);
        float *ws = malloc(vit_workspace_floats_n(c, rows) * sizeof *ws);
        if (!ws)
            return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        memcpy(out, in, rows * W * sizeof *out);
        vit_block_forward(m, &m->blocks[index], out, rows, ws);
        free(ws);
        return kernels_status(JF_MODEL_OK, err);
    }
    if (mod != JF__MOD_LLM_LAYER || index < 0 || index >= c->layers || split >= rows)
        return jf__merr(err, JF_MODEL_EARG, "no such module or layer (%d, %d)", (int)mod, index);
    kv_seq sq = {0};
    memcpy(out, in, rows * H * sizeof *out);
    size_t first = split ? split : rows;
    jf_model_status s = llm_layers(m, &sq, out, first, index, index + 1, NULL, err);
    if (!s && first < rows)
        s = llm_layers(m, &sq, out + first * H, rows - first, index, index + 1, NULL, err);
    free(sq.k);
    free(sq.v);
    return s;
}

/* Embeddings of ids, with the rows of BOI and image placeholders replaced, in order, by each
 * image's [beg_of_und_embed; aligner(SigLIP(image))] block (spec §4). */
static jf_model_status embed_prompt(jf_janus *m, const int32_t *ids, size_t n, const float *const *images,
                                    size_t n_images, float *x, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t H = (size_t)c->hidden, N = (size_t)c->image_tokens;
    size_t slots = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return jf__merr(err, JF_MODEL_EARG, "token id %d at position %zu is outside the vocabulary (%d)", ids[i], i,
                            c->vocab);
        slots += ids[i] == c->image_start || ids[i] == c->image_tag;
        jf__w_to_f32(&m->embed, (size_t)ids[i] * H, H, x + i * H);
    }
    if (slots != n_images * (N + 1))
        return jf__merr(err, JF_MODEL_EARG,
                        "the prompt has %zu image positions (begin_of_image + placeholders) but %zu image(s) need %zu",
                        slots, n_images, n_images * (N + 1));
    if (!n_images)
        return JF_MODEL_OK;
    float *feat = malloc(N * (size_t)c->vit_width * sizeof *feat), *block = malloc((N + 1) * H * sizeof *block);
    jf_model_status s = feat && block ? JF_MODEL_OK : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    size_t at = 0;
    for (size_t im = 0; !s && im < n_images; im++) {
        s = jf_janus_encode_image(m, images[im], feat, err);
        if (s)
            break;
        jf__w_to_f32(&m->beg_of_und, 0, H, block);
        jf__linear(feat, N, &m->aligner_w, &m->aligner_b, block + H);
        for (size_t r = 0; r <= N; r++) {
            while (ids[at] != c->image_start && ids[at] != c->image_tag)
                at++;
            memcpy(x + at * H, block + r * H, H * sizeof *x);
            at++;
        }
    }
    free(feat);
    free(block);
    return kernels_status(s, err);
}

jf_model_status jf_janus_encode_prompt(jf_janus *m, const char *prompt, int32_t **out_ids, size_t *n_out,
                                       size_t *n_images, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    int32_t *ids = NULL;
    long n = jf_tokenizer_encode(m->tok, prompt, strlen(prompt), 1, &ids, err);
    if (n < 0)
        return err ? err->code : JF_MODEL_EFORMAT;
    size_t tags = 0;
    for (long i = 0; i < n; i++)
        tags += ids[i] == c->image_tag;
    size_t total = (size_t)n + tags * ((size_t)c->image_tokens + 1);
    int32_t *x = malloc((total ? total : 1) * sizeof *x);
    if (!x) {
        free(ids);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (long i = 0; i < n; i++) {
        if (ids[i] != c->image_tag) {
            x[k++] = ids[i];
            continue;
        }
        x[k++] = c->image_start;
        for (int j = 0; j < c->image_tokens; j++)
            x[k++] = c->image_tag;
        x[k++] = c->image_end;
    }
    free(ids);
    *out_ids = x;
    *n_out = k;
    if (n_images)
        *n_images = tags;
    return JF_MODEL_OK;
}

jf_model_status jf_janus_prefill_logits(jf_janus *m, const int32_t *ids, size_t n_ids, const float *const *images,
                                        size_t n_images, float *logits, jf_model_error *err)
{
    if (!n_ids)
        return jf__merr(err, JF_MODEL_EARG, "an empty prompt");
    float *x = malloc(n_ids * (size_t)m->cfg.hidden * sizeof *x);
    if (!x)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    m->seq.n_past = 0;
    jf_model_status s = embed_prompt(m, ids, n_ids, images, n_images, x, err);
    if (!s)
        s = llm_forward(m, &m->seq, x, n_ids, logits, err);
    free(x);
    return s;
}

jf_model_status jf_janus_step_logits(jf_janus *m, int32_t id, float *logits, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    if (id < 0 || id >= c->vocab)
        return jf__merr(err, JF_MODEL_EARG, "token id %d is outside the vocabulary (%d)", id, c->vocab);
    if (!m->seq.n_past)
        return jf__merr(err, JF_MODEL_EARG, "a step needs a prefilled prompt");
    float *x = malloc((size_t)c->hidden * sizeof *x);
    if (!x)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf__w_to_f32(&m->embed, (size_t)id * (size_t)c->hidden, (size_t)c->hidden, x);
    jf_model_status s = llm_forward(m, &m->seq, x, 1, logits, err);
    free(x);
    return s;
}

jf_model_status jf_janus_rewind(jf_janus *m, size_t n_past, jf_model_error *err)
{
    if (n_past < 1 || n_past > m->seq.n_past)
        return jf__merr(err, JF_MODEL_EARG, "rewind to %zu positions of a sequence of %zu", n_past, m->seq.n_past);
    /* the cache rows past n_past are simply overwritten by the next positions */
    m->seq.n_past = n_past;
    return JF_MODEL_OK;
}

size_t jf_janus_position(const jf_janus *m) { return m->seq.n_past; }

/* ---- decoding ---- */

jf_gen_params jf_gen_default_params(void)
{
    jf_gen_params p = {.max_new_tokens = 512, .temperature = 0.0f, .top_p = 0.95f, .seed = 42};
    return p;
}

static uint64_t next_random(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct prob_idx {
    float p;
    int32_t id;
} prob_idx;

static int by_prob_desc(const void *a, const void *b)
{
    const prob_idx *x = a, *y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* Greedy (first maximum, as torch.argmax) or temperature + top-p (nucleus: the smallest set of
 * most likely tokens whose mass reaches top_p, at least one). */
static int32_t pick_token(float *logits, int vocab, const jf_gen_params *p, uint64_t *rng)
{
    if (p->temperature <= 0) {
        int32_t best = 0;
        for (int i = 1; i < vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    prob_idx *pi = malloc((size_t)vocab * sizeof *pi);
    if (!pi)
        return -1;
    float mx = -INFINITY;
    for (int i = 0; i < vocab; i++)
        mx = fmaxf(mx, logits[i] / p->temperature);
    double sum = 0;
    for (int i = 0; i < vocab; i++) {
        pi[i].p = expf(logits[i] / p->temperature - mx);
        pi[i].id = i;
        sum += pi[i].p;
    }
    qsort(pi, (size_t)vocab, sizeof *pi, by_prob_desc);
    double top = p->top_p > 0 && p->top_p < 1 ? p->top_p : 1.0, mass = 0;
    int keep = 0;
    while (keep < vocab && (keep == 0 || mass < top * sum))
        mass += pi[keep++].p;
    double r = (double)(next_random(rng) >> 11) / 9007199254740992.0 * mass, acc = 0;
    int32_t id = pi[keep - 1].id;
    for (int i = 0; i < keep; i++) {
        acc += pi[i].p;
        if (r < acc) {
            id = pi[i].id;
            break;
        }
    }
    free(pi);
    return id;
}

char *jf_janus_chat_prompt(const jf_janus *m, const char *question, int with_image)
{
    /* spec §3.2, sft_format "deepseek": "{system}\n\nUser: {content}\n\nAssistant:", the content
     * stripped, the image tag on its own line before the question */
    const char *q = question ? question : "";
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
        q++;
    size_t ql = strlen(q);
    while (ql && (q[ql - 1] == ' ' || q[ql - 1] == '\t' || q[ql - 1] == '\n' || q[ql - 1] == '\r'))
        ql--;
    const char *tag = with_image ? "<image_placeholder>\n" : "";
    size_t need = strlen(m->cfg.system_prompt) + strlen(tag) + ql + 64;
    char *s = malloc(need);
    if (!s)
        return NULL;
    snprintf(s, need, "%s\n\nUser: %s%.*s\n\nAssistant:", m->cfg.system_prompt, tag, (int)ql, q);
    return s;
}

jf_model_status jf_janus_generate(jf_janus *m, const char *prompt, const float *const *images, size_t n_images,
                                  const jf_gen_params *params, void (*on_token)(void *user, const char *piece),
                                  void *user, int32_t **out_ids, size_t *n_out, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    jf_gen_params p = params ? *params : jf_gen_default_params();
    *out_ids = NULL;
    *n_out = 0;
    int32_t *ids = NULL;
    size_t n = 0, tags = 0;
    jf_model_status s = jf_janus_encode_prompt(m, prompt, &ids, &n, &tags, err);
    if (s)
        return s;
    if (tags != n_images) {
        free(ids);
        return jf__merr(err, JF_MODEL_EARG, "the prompt has %zu <image_placeholder> tag(s) for %zu image(s)", tags,
                        n_images);
    }
    size_t cap = p.max_new_tokens > 0 ? (size_t)p.max_new_tokens : 1;
    if (n + cap > (size_t)c->max_positions) {
        free(ids);
        return jf__merr(err, JF_MODEL_ELIMIT, "prompt of %zu tokens + %zu new exceeds the context of %d", n, cap,
                        c->max_positions);
    }
    float *logits = malloc((size_t)c->vocab * sizeof *logits);
    int32_t *gen = malloc(cap * sizeof *gen);
    if (!logits || !gen) {
        free(ids);
        free(logits);
        free(gen);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    s = cache_reserve(m, &m->seq, n + cap, err);
    if (!s)
        s = jf_janus_prefill_logits(m, ids, n, images, n_images, logits, err);
    free(ids);
    uint64_t rng = p.seed;
    size_t count = 0, emitted = 0;
    while (!s && count < cap) {
        if (p.on_logits)
            p.on_logits(p.logits_user, count, logits, c->vocab);
        int32_t id = pick_token(logits, c->vocab, &p, &rng);
        if (id < 0) {
            s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            break;
        }
        if (id == c->eos)
            break;
        gen[count++] = id;
        if (on_token) {
            /* emit the text that is complete so far (a character split over tokens waits) */
            char *text = jf_tokenizer_decode(m->tok, gen, count, 1);
            size_t len = text ? strlen(text) : 0;
            if (len > emitted && !(len >= 3 && !memcmp(text + len - 3, "\xEF\xBF\xBD", 3))) {
                on_token(user, text + emitted);
                emitted = len;
            }
            free(text);
        }
        if (count < cap)
            s = jf_janus_step_logits(m, id, logits, err);
    }
    free(logits);
    if (!s && on_token && count) {
        char *text = jf_tokenizer_decode(m->tok, gen, count, 1);
        if (text && strlen(text) > emitted)
            on_token(user, text + emitted);
        free(text);
    }
    if (s) {
        free(gen);
        return s;
    }
    *out_ids = gen;
    *n_out = count;
    return JF_MODEL_OK;
}

/* ---- batched decoding ----
 * Each request keeps its own KV cache (no padding: the positions of every sequence start at 0,
 * which is what left padding with cumsum(mask) − 1 positions computes). Prompts are prefilled one
 * by one (or, with a shared image prefix, their rests together); decoding steps run all
 * unfinished sequences together, so that every weight is read once per step for the whole
 * batch. */

/* n sequences each extended by T[i] positions (their rows of x in order, [ΣT][hidden],
 * consumed) in one pass over the weights; each sequence attends to its own cache. Writes the
 * logits of each sequence's last new position to logits + i·vocab. */
static jf_model_status extend_batch(jf_janus *m, kv_seq **sq, const size_t *T, size_t n, float *x, float *logits,
                                    jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate, KV = (size_t)c->kv_heads * c->head_dim, R = 0, Tmax = 0;
    jf_model_status s = JF_MODEL_OK;
    for (size_t i = 0; i < n && !s; i++) {
        R += T[i];
        Tmax = T[i] > Tmax ? T[i] : Tmax;
        if (sq[i]->n_past + T[i] > (size_t)c->max_positions)
            s = jf__merr(err, JF_MODEL_ELIMIT, "positions up to %zu exceed the model's context of %d", sq[i]->n_past + T[i],
                         c->max_positions);
        if (!s)
            s = cache_reserve(m, sq[i], sq[i]->n_past + T[i], err);
    }
    if (s || !R)
        return s;
    (void)jf__ops_failed();
    float *h = malloc(R * H * sizeof *h), *q = malloc(R * H * sizeof *q), *att = malloc(R * H * sizeof *att),
          *k = malloc(R * KV * sizeof *k), *v = malloc(R * KV * sizeof *v), *g = malloc(R * I * sizeof *g),
          *u = malloc(R * I * sizeof *u), *last = malloc(n * H * sizeof *last);
    int *pos = malloc(Tmax * sizeof *pos);
    if (!h || !q || !att || !k || !v || !g || !u || !last || !pos) {
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory for a batch of %zu positions", R);
        goto done;
    }
    for (int l = 0; l < c->layers; l++) {
        const llm_layer *L = &m->layers[l];
        jf__rmsnorm(x, R, H, &L->in_norm, c->rms_eps, h);
        jf__linear(h, R, &L->q, NULL, q);
        jf__linear(h, R, &L->k, NULL, k);
        jf__linear(h, R, &L->v, NULL, v);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            kv_seq *e = sq[i];
            float *kc = e->k + (size_t)l * e->cap * KV, *vc = e->v + (size_t)l * e->cap * KV;
            size_t own = e->n_past - e->pn;
            for (size_t t = 0; t < T[i]; t++)
                pos[t] = (int)(e->n_past + t);
            jf__rope(q + off * H, T[i], c->heads, c->head_dim, pos, c->rope_theta);
            jf__rope(k + off * KV, T[i], c->kv_heads, c->head_dim, pos, c->rope_theta);
            memcpy(kc + own * KV, k + off * KV, T[i] * KV * sizeof *k);
            memcpy(vc + own * KV, v + off * KV, T[i] * KV * sizeof *v);
            jf__attention_split(q + off * H, T[i], e->pk ? e->pk + (size_t)l * e->pcap * KV : NULL,
                                e->pv ? e->pv + (size_t)l * e->pcap * KV : NULL, e->pn, kc, vc, own + T[i], c->heads,
                                c->kv_heads, c->head_dim, 1.0f / sqrtf((float)c->head_dim), 1, e->n_past, att + off * H);
            off += T[i];
        }
        layer_tail(m, L, att, R, x, h, g, u);
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        sq[i]->n_past += T[i];
        off += T[i];
        memcpy(last + i * H, x + (off - 1) * H, H * sizeof *x);
    }
    jf__rmsnorm(last, n, H, &m->final_norm, c->rms_eps, h);
    jf__linear(h, n, &m->lm_head, NULL, logits);
done:
    free(h);
    free(q);
    free(att);
    free(k);
    free(v);
    free(g);
    free(u);
    free(last);
    free(pos);
    return kernels_status(s, err);
}

/* One decoding step of n sequences: one new position each. */
static jf_model_status step_batch(jf_janus *m, kv_seq **sq, size_t n, float *x, float *logits, jf_model_error *err)
{
    size_t *T = malloc((n ? n : 1) * sizeof *T);
    if (!T)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        T[i] = 1;
    jf_model_status s = extend_batch(m, sq, T, n, x, logits, err);
    free(T);
    return s;
}

/* ---- shared image prefixes (jf_gen_params.share_image_prefix) ---- */

typedef struct prefix_entry {
    int32_t *ids;
    size_t n;                   /* positions: the prompt up to and including its last image's end tag */
    const float *const *images; /* the first request's pixels (valid for the whole call) */
    size_t n_images;
    kv_seq kv;
} prefix_entry;

typedef struct prefix_set {
    prefix_entry *v;
    size_t n;
} prefix_set;

static void prefixes_free(prefix_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].ids);
        free(s->v[i].kv.k);
        free(s->v[i].kv.v);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Gives seq (empty, no cache of its own yet) the prompt's image prefix as its first positions —
 * computed alone once, then shared by every request with the same tokens and pixels up to there
 * — and returns their count in *split (0 when the prompt has no image end tag before its last
 * token). */
static jf_model_status shared_prefix(jf_janus *m, prefix_set *set, const int32_t *ids, size_t n, const float *const *images,
                                     size_t n_images, kv_seq *seq, size_t *split, size_t *shared, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t end = 0;
    for (size_t i = 0; i + 1 < n; i++) /* a suffix of at least one token keeps its own logits */
        if (ids[i] == c->image_end)
            end = i + 1;
    *split = 0;
    if (!end)
        return JF_MODEL_OK;
    size_t px = (size_t)3 * c->image_size * c->image_size;
    prefix_entry *hit = NULL;
    for (size_t k = 0; k < set->n && !hit; k++) {
        prefix_entry *e = &set->v[k];
        if (e->n != end || e->n_images != n_images || memcmp(e->ids, ids, end * sizeof *ids))
            continue;
        int same = 1;
        for (size_t im = 0; im < n_images && same; im++)
            same = e->images[im] == images[im] || !memcmp(e->images[im], images[im], px * sizeof(float));
        if (same)
            hit = e;
    }
    if (hit) {
        if (shared)
            (*shared)++;
    } else {
        prefix_entry *v = realloc(set->v, (set->n + 1) * sizeof *v);
        if (!v)
            return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        set->v = v;
        hit = &set->v[set->n];
        memset(hit, 0, sizeof *hit);
        hit->ids = malloc(end * sizeof *hit->ids);
        float *emb = malloc(end * (size_t)c->hidden * sizeof *emb), *lg = malloc((size_t)c->vocab * sizeof *lg);
        jf_model_status s = hit->ids && emb && lg ? cache_reserve(m, &hit->kv, end, err)
                                                  : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        if (!s) {
            memcpy(hit->ids, ids, end * sizeof *ids);
            hit->n = end;
            hit->images = images;
            hit->n_images = n_images;
            s = embed_prompt(m, ids, end, images, n_images, emb, err);
        }
        if (!s)
            s = llm_forward(m, &hit->kv, emb, end, lg, err);
        free(emb);
        free(lg);
        if (s) {
            free(hit->ids);
            free(hit->kv.k);
            free(hit->kv.v);
            return s;
        }
        set->n++;
    }
    /* read in place by every sequence that shares it (the set outlives them); copying a
     * full-size prefix (~240 MB of f32 keys and values) into each fresh cache cost more than
     * the question's own tokens */
    seq->pk = hit->kv.k;
    seq->pv = hit->kv.v;
    seq->pcap = hit->kv.cap;
    seq->pn = end;
    seq->n_past = end;
    *split = end;
    return JF_MODEL_OK;
}

jf_model_status jf_janus_generate_batch(jf_janus *m, jf_janus_request *reqs, size_t n, const jf_gen_params *params,
                                        jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    jf_gen_params p = params ? *params : jf_gen_default_params();
    size_t cap = p.max_new_tokens > 0 ? (size_t)p.max_new_tokens : 1, V = (size_t)c->vocab, H = (size_t)c->hidden;
    kv_seq *seqs = calloc(n ? n : 1, sizeof *seqs);
    kv_seq **active = calloc(n ? n : 1, sizeof *active);
    size_t *which = calloc(n ? n : 1, sizeof *which);
    uint64_t *rng = calloc(n ? n : 1, sizeof *rng);
    float *logits = malloc((n ? n : 1) * V * sizeof *logits), *x = malloc((n ? n : 1) * H * sizeof *x);
    jf_model_status s = seqs && active && which && rng && logits && x ? JF_MODEL_OK
                                                                      : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    /* prefill each request into its own cache and pick its first token */
    size_t live = 0;
    prefix_set prefixes = {0};
    float **pend_emb = calloc(n ? n : 1, sizeof *pend_emb); /* (sharing) suffix embeddings still to prefill */
    size_t *pend_t = calloc(n ? n : 1, sizeof *pend_t);
    if (!s && (!pend_emb || !pend_t))
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        jf_janus_request *r = &reqs[i];
        r->out_ids = NULL;
        r->n_out = 0;
        r->status = JF_MODEL_OK;
        r->error[0] = 0;
        rng[i] = p.seed + i; /* each request its own sampling stream */
        int32_t *ids = NULL;
        size_t ni = 0, tags = 0;
        jf_model_error e = {0};
        jf_model_status rs = jf_janus_encode_prompt(m, r->prompt, &ids, &ni, &tags, &e);
        if (!rs && tags != r->n_images)
            rs = jf__merr(&e, JF_MODEL_EARG, "the prompt has %zu <image_placeholder> tag(s) for %zu image(s)", tags,
                          r->n_images);
        if (!rs && ni + cap > (size_t)c->max_positions)
            rs = jf__merr(&e, JF_MODEL_ELIMIT, "prompt of %zu tokens + %zu new exceeds the context of %d", ni, cap,
                          c->max_positions);
        float *emb = rs ? NULL : malloc(ni * H * sizeof *emb);
        if (!rs && !emb)
            rs = jf__merr(&e, JF_MODEL_ENOMEM, "out of memory");
        size_t split = 0; /* positions taken from a shared image prefix */
        if (!rs && p.share_image_prefix && r->n_images)
            rs = shared_prefix(m, &prefixes, ids, ni, r->images, r->n_images, &seqs[i], &split, p.shared_prefixes, &e);
        if (!rs)
            rs = cache_reserve(m, &seqs[i], ni + cap, &e);
        if (!rs)
            rs = embed_prompt(m, ids + split, ni - split, split ? NULL : r->images, split ? 0 : r->n_images, emb, &e);
        if (!rs && p.share_image_prefix) {
            /* the rest of every prompt is prefilled together below, in one pass over the weights */
            pend_emb[i] = emb;
            pend_t[i] = ni - split;
            emb = NULL;
        } else if (!rs) {
            rs = llm_forward(m, &seqs[i], emb, ni - split, logits + i * V, &e);
        }
        free(ids);
        free(emb);
        r->out_ids = rs ? NULL : malloc(cap * sizeof *r->out_ids);
        if (!rs && !r->out_ids)
            rs = jf__merr(&e, JF_MODEL_ENOMEM, "out of memory");
        if (rs) {
            /* a bad request fails alone */
            r->status = rs;
            snprintf(r->error, sizeof r->error, "%.500s", e.msg);
            free(pend_emb[i]);
            pend_emb[i] = NULL;
            continue;
        }
        live++;
    }
    if (!s && p.share_image_prefix && live) {
        /* the pending suffixes, concatenated in request order */
        size_t rows = 0, na = 0;
        for (size_t i = 0; i < n; i++)
            if (pend_emb[i])
                rows += pend_t[i];
        float *xs = malloc((rows ? rows : 1) * H * sizeof *xs), *lg = malloc(live * V * sizeof *lg);
        size_t *ts = malloc(live * sizeof *ts), off = 0;
        if (!xs || !lg || !ts)
            s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        for (size_t i = 0; !s && i < n; i++)
            if (pend_emb[i]) {
                memcpy(xs + off * H, pend_emb[i], pend_t[i] * H * sizeof *xs);
                off += pend_t[i];
                active[na] = &seqs[i];
                ts[na] = pend_t[i];
                which[na++] = i;
            }
        if (!s)
            s = extend_batch(m, active, ts, na, xs, lg, err);
        for (size_t a = 0; !s && a < na; a++)
            memcpy(logits + which[a] * V, lg + a * V, V * sizeof *lg);
        free(xs);
        free(lg);
        free(ts);
    }
    for (size_t i = 0; pend_emb && i < n; i++)
        free(pend_emb[i]);
    free(pend_emb);
    free(pend_t);
    int *done = calloc(n ? n : 1, sizeof *done);
    for (size_t i = 0; i < n; i++)
        done[i] = reqs[i].status != JF_MODEL_OK;
    if (!done && !s)
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    while (!s && live) {
        /* pick a token for every live sequence from its logits */
        size_t na = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            int32_t id = pick_token(logits + i * V, c->vocab, &p, &rng[i]);
            if (id < 0) {
                s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
                break;
            }
            if (id == c->eos || reqs[i].n_out >= cap) {
                done[i] = 1;
                live--;
                continue;
            }
            reqs[i].out_ids[reqs[i].n_out++] = id;
            if (reqs[i].n_out >= cap) {
                done[i] = 1;
                live--;
                continue;
            }
            jf__w_to_f32(&m->embed, (size_t)id * H, H, x + na * H);
            active[na] = &seqs[i];
            which[na++] = i;
        }
        if (s || !na)
            break;
        float *lg = malloc(na * V * sizeof *lg);
        if (!lg) {
            s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            break;
        }
        s = step_batch(m, active, na, x, lg, err);
        for (size_t a = 0; !s && a < na; a++)
            memcpy(logits + which[a] * V, lg + a * V, V * sizeof *lg);
        free(lg);
    }
    for (size_t i = 0; seqs && i < n; i++) {
        free(seqs[i].k);
        free(seqs[i].v);
    }
    prefixes_free(&prefixes);
    free(done);
    free(seqs);
    free(active);
    free(which);
    free(rng);
    free(logits);
    free(x);
    return s;
}

/* ---- what the generation path (gen.c) uses ---- */

const jf__gen_heads *jf__janus_gen_heads(const jf_janus *m) { return &m->gen; }

jf__kv *jf__kv_create(void) { return calloc(1, sizeof(jf__kv)); }

void jf__kv_free(jf__kv *kv)
{
    if (kv) {
        free(kv->k);
        free(kv->v);
    }
    free(kv);
}

size_t jf__kv_len(const jf__kv *kv) { return kv->n_past; }
void jf__kv_set_len(jf__kv *kv, size_t n)
{
    if (n <= kv->n_past)
        kv->n_past = n;
}

jf_model_status jf__janus_embed_ids(jf_janus *m, const int32_t *ids, size_t n, float *x, jf_model_error *err)
{
    return embed_prompt(m, ids, n, NULL, 0, x, err);
}

jf_model_status jf__janus_llm_hidden(jf_janus *m, jf__kv *kv, float *x, size_t T, long pos0, int keep,
                                     jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t before = kv->n_past, H = (size_t)c->hidden;
    jf_model_status s = llm_layers_at(m, kv, x, T, 0, c->layers, pos0, NULL, err);
    if (s)
        return s;
    if (!keep)
        kv->n_past = before; /* the new positions' keys stay unused past the end */
    float *row = malloc(H * sizeof *row);
    if (!row)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    for (size_t t = 0; t < T; t++) {
        jf__rmsnorm(x + t * H, 1, H, &m->final_norm, c->rms_eps, row);
        memcpy(x + t * H, row, H * sizeof *row);
    }
    free(row);
    return kernels_status(JF_MODEL_OK, err);
}

const char *jf_janus_weights_hash(jf_janus *m)
{
    if (!m->hash[0] && jf_weights_content_hash(m->st, m->hash, NULL))
        m->hash[0] = 0;
    return m->hash;
}

jf_model_status jf__janus_llm_extend_batch(jf_janus *m, const jf__kv *const *prefix, size_t n, float *x, size_t T,
                                           const long *pos0, jf_model_error *err)
{
    const jf_janus_config *c = &m->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate, KV = (size_t)c->kv_heads * c->head_dim, R = n * T;
    for (size_t i = 0; i < n; i++)
        if ((size_t)pos0[i] + T > (size_t)c->max_positions)
            return jf__merr(err, JF_MODEL_ELIMIT, "positions up to %zu exceed the model's context of %d",
                            (size_t)pos0[i] + T, c->max_positions);
    (void)jf__ops_failed();
    /* rows of all sequences go through the linears together; each sequence's attention runs over
     * its prefix's cached keys and values (read in place) followed by its own new ones */
    float *h = malloc(R * H * sizeof *h), *q = malloc(R * H * sizeof *q), *att = malloc(R * H * sizeof *att);
    float *k = malloc(R * KV * sizeof *k), *v = malloc(R * KV * sizeof *v), *g = malloc(R * I * sizeof *g);
    float *u = malloc(R * I * sizeof *u);
    int *positions = malloc(R * sizeof *positions);
    jf_model_status s = h && q && att && k && v && g && u && positions
                            ? JF_MODEL_OK
                            : jf__merr(err, JF_MODEL_ENOMEM, "out of memory for %zu sequences of %zu positions", n, T);
    for (size_t i = 0; !s && i < n; i++)
        for (size_t t = 0; t < T; t++)
            positions[i * T + t] = (int)(pos0[i] + (long)t);
    for (int l = 0; !s && l < c->layers; l++) {
        const llm_layer *L = &m->layers[l];
        jf__rmsnorm(x, R, H, &L->in_norm, c->rms_eps, h);
        jf__linear(h, R, &L->q, NULL, q);
        jf__linear(h, R, &L->k, NULL, k);
        jf__linear(h, R, &L->v, NULL, v);
        for (size_t i = 0; i < n; i++) {
            const kv_seq *e = prefix[i];
            size_t P = e->n_past;
            jf__rope(q + i * T * H, T, c->heads, c->head_dim, positions + i * T, c->rope_theta);
            jf__rope(k + i * T * KV, T, c->kv_heads, c->head_dim, positions + i * T, c->rope_theta);
            jf__attention_split(q + i * T * H, T, e->k + (size_t)l * e->cap * KV, e->v + (size_t)l * e->cap * KV, P,
                                k + i * T * KV, v + i * T * KV, T, c->heads, c->kv_heads, c->head_dim,
                                1.0f / sqrtf((float)c->head_dim), 1, P, att + i * T * H);
        }
        layer_tail(m, L, att, R, x, h, g, u);
    }
    if (!s) {
        jf__rmsnorm(x, R, H, &m->final_norm, c->rms_eps, h);
        memcpy(x, h, R * H * sizeof *x);
    }
    free(h);
    free(q);
    free(att);
    free(k);
    free(v);
    free(g);
    free(u);
    free(positions);
    return kernels_status(s, err);
}

/* ---- hooks for the training objectives (train_fwd.c) ---- */

jf_model_status jf__janus_embed_prompt(jf_janus *m, const int32_t *ids, size_t n, const float *const *images,
                                       size_t n_images, float *x, jf_model_error *err)
{
    return embed_prompt(m, ids, n, images, n_images, x, err);
}

jf_model_status jf__janus_llm_layers(jf_janus *m, jf__kv *kv, float *x, size_t T, int l0, int l1, long pos0,
                                     jf_model_error *err)
{
    return llm_layers_at(m, kv, x, T, l0, l1, pos0, NULL, err);
}

void jf__janus_final_norm(const jf_janus *m, const float *x, size_t rows, float *y)
{
    jf__rmsnorm(x, rows, (size_t)m->cfg.hidden, &m->final_norm, m->cfg.rms_eps, y);
}

void jf__janus_lm_head(const jf_janus *m, const float *normed, size_t rows, float *logits)
{
    jf__linear(normed, rows, &m->lm_head, NULL, logits);
}
