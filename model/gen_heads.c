/* The generation heads of JanusFlow (ShallowUViTEncoder / ShallowUViTDecoder of the official
 * uvit.py, and the generation aligners of modeling_vlm.py): their configuration and every tensor
 * bound by its official name, shape and dtype. The forward passes come with the generation path. */
#include "model_internal.h"

#include <yajl/yajl_tree.h>

static yajl_val get(yajl_val o, const char *a, const char *b, const char *c)
{
    const char *p[] = {a, b, c, NULL};
    return o ? yajl_tree_get(o, p, yajl_t_any) : NULL;
}

static int num(yajl_val o, const char *key, int dflt)
{
    yajl_val v = get(o, key, NULL, NULL);
    return v && YAJL_IS_INTEGER(v) ? (int)YAJL_GET_INTEGER(v) : dflt;
}

/* block_out_channels[-1], as the official constructors use it */
static int last_channels(yajl_val o, int dflt)
{
    yajl_val v = get(o, "block_out_channels", NULL, NULL);
    if (!v || !YAJL_IS_ARRAY(v) || !v->u.array.len)
        return dflt;
    yajl_val l = v->u.array.values[v->u.array.len - 1];
    return YAJL_IS_INTEGER(l) ? (int)YAJL_GET_INTEGER(l) : dflt;
}

static int truthy(yajl_val o, const char *key, int dflt)
{
    yajl_val v = get(o, key, NULL, NULL);
    return v && (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) ? YAJL_IS_TRUE(v) : dflt;
}

jf_model_status jf__gen_config_read(const void *config_root, const char *dir, int hidden, jf_janus_gen_config *g,
                                    jf_model_error *err)
{
    yajl_val root = (yajl_val)config_root;
    memset(g, 0, sizeof *g);
    yajl_val enc = get(root, "vision_gen_enc_config", NULL, NULL), dec = get(root, "vision_gen_dec_config", NULL, NULL);
    if (!enc && !dec)
        return JF_MODEL_OK; /* an understanding-only directory: no heads expected */
    const char *ec = enc ? YAJL_GET_STRING(get(enc, "cls", NULL, NULL)) : NULL;
    const char *dc = dec ? YAJL_GET_STRING(get(dec, "cls", NULL, NULL)) : NULL;
    /* the official model_name_to_cls accepts a class name that contains these */
    if (!ec || !strstr(ec, "ShallowUViTEncoder") || !dc || !strstr(dc, "ShallowUViTDecoder"))
        return jf__merr(err, JF_MODEL_EFORMAT,
                        "%s/config.json: vision_gen_enc_config / vision_gen_dec_config need cls ShallowUViTEncoder / "
                        "ShallowUViTDecoder (got %s / %s)",
                        dir, ec ? ec : "none", dc ? dc : "none");
    yajl_val ep = get(enc, "params", NULL, NULL), dp = get(dec, "params", NULL, NULL);
    g->present = 1;
    /* the constructors' defaults where the file is silent */
    g->channels = last_channels(ep, 768);
    g->latent_channels = num(ep, "input_channels", 3);
    g->patch = num(ep, "kernel_size", 7);
    int stride = num(ep, "stride", 4);
    g->enc_blocks = truthy(ep, "use_mid_block", 1) ? num(ep, "layers_in_middle", 2) : 0;
    int enc_hidden = num(ep, "hidden_size", 2048), dec_hidden = num(dp, "hidden_size", 2048);
    g->dec_in = num(dp, "in_channels", 768);
    g->dec_channels = last_channels(dp, 768);
    g->dec_out = num(dp, "out_channels", 3);
    g->upsamples = num(dp, "upsamples", 2);
    g->dec_blocks = truthy(dp, "use_mid_block", 1) ? num(dp, "layers_in_middle", 2) : 0;
    g->latent_side = num(dp, "latent_size", 48);
    g->norm_eps = 1e-6;
    yajl_val eps = get(dp, "norm_eps", NULL, NULL);
    if (eps && YAJL_IS_NUMBER(eps))
        g->norm_eps = YAJL_GET_DOUBLE(eps);
    /* what JanusFlow's heads are; other settings of the classes are not JanusFlow */
    if (stride != g->patch || num(ep, "padding", 0) != 0)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: the generation encoder's in_conv must be a patchify "
                        "(kernel_size = stride, padding 0); got kernel %d, stride %d", dir, g->patch, stride);
    if (g->upsamples != 1)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: the generation decoder has %d upsamples; JanusFlow's has 1",
                        dir, g->upsamples);
    if (!truthy(ep, "use_bias", 1) || !truthy(dp, "use_bias", 1))
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: generation heads without biases are not JanusFlow's", dir);
    if (enc_hidden != hidden || dec_hidden != hidden)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: the generation heads' hidden_size (%d, %d) differs from "
                        "the language model's %d", dir, enc_hidden, dec_hidden, hidden);
    if (g->latent_side < g->patch || g->latent_side % g->patch || g->latent_side > 1024)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: latent_size %d is not a multiple of the patch %d",
                        dir, g->latent_side, g->patch);
    if (g->dec_out != g->latent_channels)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: the decoder's out_channels %d differ from the latent's %d",
                        dir, g->dec_out, g->latent_channels);
    if (g->dec_in != g->channels)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s/config.json: decoder in_channels %d differ from the encoder's width %d",
                        dir, g->dec_in, g->channels);
    return JF_MODEL_OK;
}

/* A ConvNeXt block of the official uvit.py (channels C, conditioning width H). */
static jf_model_status bind_convnext(const char *prefix, int64_t C, int64_t H, jf__bind_fn bind, void *ctx,
                                     jf__convnext *b, jf_model_error *err)
{
    char n[256];
    jf_model_status s = JF_MODEL_OK;
#define B(suffix, nd, a, b_, c_, d, w)                                                                                  \
    do {                                                                                                               \
        snprintf(n, sizeof n, "%s%s", prefix, suffix);                                                                 \
        if (!s)                                                                                                        \
            s = bind(ctx, n, nd, a, b_, c_, d, w, err);                                                                \
    } while (0)
    B("depthwise.weight", 4, C, 1, 7, 7, &b->dw_w);
    B("depthwise.bias", 1, C, 0, 0, 0, &b->dw_b);
    B("norm.weight", 1, C, 0, 0, 0, &b->norm);
    B("channelwise_linear_1.weight", 2, 4 * C, C, 0, 0, &b->l1_w);
    B("channelwise_linear_1.bias", 1, 4 * C, 0, 0, 0, &b->l1_b);
    B("channelwise_norm.weight", 4, 1, 1, 1, 4 * C, &b->grn_g);
    B("channelwise_norm.bias", 4, 1, 1, 1, 4 * C, &b->grn_b);
    B("channelwise_linear_2.weight", 2, C, 4 * C, 0, 0, &b->l2_w);
    B("channelwise_linear_2.bias", 1, C, 0, 0, 0, &b->l2_b);
    B("cond_embeds_mapper.weight", 2, 2 * C, H, 0, 0, &b->map_w);
    B("cond_embeds_mapper.bias", 1, 2 * C, 0, 0, 0, &b->map_b);
#undef B
    return s;
}

jf_model_status jf__gen_bind(const jf_janus_gen_config *g, int hidden, jf__bind_fn bind, void *ctx, jf__gen_heads *h,
                             jf_model_error *err)
{
    memset(h, 0, sizeof *h);
    if (!g->present)
        return JF_MODEL_OK;
    int64_t C = g->channels, H = hidden, L = g->latent_channels, P = g->patch, C2 = g->dec_in + g->dec_channels;
    int64_t U = (int64_t)g->dec_out * 4; /* Unpatchify: out_channels · 2 · 2 */
    h->enc = calloc((size_t)(g->enc_blocks + 1), sizeof *h->enc);
    h->dec = calloc((size_t)(g->dec_blocks + 1), sizeof *h->dec);
    if (!h->enc || !h->dec)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = JF_MODEL_OK;
#define BIND(name, nd, a, b_, c_, d, w)                                                                                 \
    do {                                                                                                               \
        if (!s)                                                                                                        \
            s = bind(ctx, name, nd, a, b_, c_, d, w, err);                                                             \
    } while (0)
    BIND("vision_gen_enc_aligner.weight", 2, H, C, 0, 0, &h->enc_aligner_w);
    BIND("vision_gen_enc_aligner.bias", 1, H, 0, 0, 0, &h->enc_aligner_b);
    BIND("vision_gen_dec_aligner_norm.weight", 1, H, 0, 0, 0, &h->dec_aligner_norm);
    BIND("vision_gen_dec_aligner.weight", 2, g->dec_in, H, 0, 0, &h->dec_aligner_w);
    BIND("vision_gen_dec_aligner.bias", 1, g->dec_in, 0, 0, 0, &h->dec_aligner_b);
    BIND("vision_gen_enc_model.time_embed.linear_1.weight", 2, H, C, 0, 0, &h->time_l1_w);
    BIND("vision_gen_enc_model.time_embed.linear_1.bias", 1, H, 0, 0, 0, &h->time_l1_b);
    BIND("vision_gen_enc_model.time_embed.linear_2.weight", 2, H, H, 0, 0, &h->time_l2_w);
    BIND("vision_gen_enc_model.time_embed.linear_2.bias", 1, H, 0, 0, 0, &h->time_l2_b);
    BIND("vision_gen_enc_model.in_conv.weight", 4, C, L, P, P, &h->in_conv_w);
    BIND("vision_gen_enc_model.in_conv.bias", 1, C, 0, 0, 0, &h->in_conv_b);
    char p[160];
    for (int i = 0; i < g->enc_blocks && !s; i++) {
        snprintf(p, sizeof p, "vision_gen_enc_model.mid_block.res_blocks.%d.", i);
        s = bind_convnext(p, C, H, bind, ctx, &h->enc[i], err);
    }
    BIND("vision_gen_dec_model.input_norm.weight", 1, g->dec_in, 0, 0, 0, &h->dec_input_norm);
    for (int i = 0; i < g->dec_blocks && !s; i++) {
        snprintf(p, sizeof p, "vision_gen_dec_model.mid_block.res_blocks.%d.", i);
        s = bind_convnext(p, C2, H, bind, ctx, &h->dec[i], err);
    }
    BIND("vision_gen_dec_model.out_convs.0.norm.weight", 1, C2, 0, 0, 0, &h->out_norm);
    BIND("vision_gen_dec_model.out_convs.0.unpatch_conv.weight", 4, U, C2, 1, 1, &h->out_conv_w);
    BIND("vision_gen_dec_model.out_convs.0.unpatch_conv.bias", 1, U, 0, 0, 0, &h->out_conv_b);
#undef BIND
    return s;
}

void jf__gen_heads_free(jf__gen_heads *h)
{
    free(h->enc);
    free(h->dec);
    memset(h, 0, sizeof *h);
}
