/* The SDXL-VAE (diffusers AutoencoderKL) as published in a diffusers directory: config.json and
 * diffusion_pytorch_model.safetensors (F32, F16 or BF16), with either generation of the
 * mid-block attention's tensor names (to_q/to_k/to_v/to_out.0 or query/key/value/proj_attn).
 * Decoder (latents → pixels in [-1, 1]) and encoder (pixels → the posterior's mean and log
 * variance), spec §1.4 / §2.9, following diffusers' Encoder, Decoder, ResnetBlock2D,
 * UNetMidBlock2D, Attention, Downsample2D (pad right/bottom, stride-2 conv) and Upsample2D
 * (nearest ×2, conv).
 *
 * Activations are [C][H][W] planes of one image; convolutions are im2col + sgemm (ops.c).
 * Weights are used in place when the file holds F32, widened once at load otherwise. */
#include "model_internal.h"

#include <math.h>
#include <yajl/yajl_tree.h>

typedef struct vconv {
    const float *w, *b;
    int out, in, k;
} vconv;

typedef struct vnorm {
    const float *g, *b;
    int C;
} vnorm;

typedef struct vresnet {
    vnorm n1, n2;
    vconv c1, c2, shortcut;
    int in, out, has_shortcut;
} vresnet;

typedef struct vattn {
    vnorm gn;
    vconv q, k, v, o; /* the [C, C] linears as 1×1 convolutions on [C][H·W] */
} vattn;

typedef struct vhalf {
    vconv conv_in, conv_out, quant; /* quant: quant_conv (encoder) or post_quant_conv (decoder) */
    vresnet *res;                   /* blocks × per_block resnets, in order */
    int per_block;                  /* layers_per_block (encoder) or + 1 (decoder) */
    vconv *resample;                /* downsamplers / upsamplers of every block but the last */
    vresnet mid[2];
    vattn attn;
    vnorm norm_out;
    int present;
} vhalf;

struct jf_vae {
    jf_vae_config cfg;
    jf_weights *st;
    float **owned; /* widened copies */
    size_t n_owned, cap_owned;
    size_t used;   /* tensors bound */
    char hash[17]; /* jf_weights_content_hash, once asked for */
    vhalf enc, dec;
    /* activation buffers freed during a decode or encode, reused by the next maps of the same
     * call (large allocations would otherwise go back to the kernel and come back zero-filled
     * page by page); all released when the call ends */
    float *pool[12];
    size_t pool_cap[12];
    int pool_n;
};

const jf_vae_config *jf_vae_get_config(const jf_vae *v) { return &v->cfg; }

const char *jf_vae_weights_hash(jf_vae *v)
{
    if (!v->hash[0] && jf_weights_content_hash(v->st, v->hash, NULL))
        v->hash[0] = 0;
    return v->hash;
}

/* ---- config.json ---- */

static yajl_val jget(yajl_val o, const char *key)
{
    const char *p[] = {key, NULL};
    return o ? yajl_tree_get(o, p, yajl_t_any) : NULL;
}

static int jint(yajl_val o, const char *key, int dflt)
{
    yajl_val v = jget(o, key);
    return v && YAJL_IS_INTEGER(v) ? (int)YAJL_GET_INTEGER(v) : dflt;
}

static jf_model_status read_config(const char *dir, jf_vae_config *c, jf_model_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len;
    char *text = jf__mread_file(path, 1 << 20, &len, err);
    if (!text)
        return err->code;
    char ebuf[256];
    yajl_val root = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!root || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: not a JSON object (%s)", path, root ? "" : ebuf);
    }
    jf_model_status s = JF_MODEL_OK;
    memset(c, 0, sizeof *c);
    yajl_val cls = jget(root, "_class_name");
    const char *cls_name = cls && YAJL_IS_STRING(cls) ? YAJL_GET_STRING(cls) : NULL;
    if (cls_name && strcmp(cls_name, "AutoencoderKL"))
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: _class_name is %s; jf reads AutoencoderKL (the SDXL-VAE's class)", path,
                     cls_name);
    c->in_channels = jint(root, "in_channels", 3);
    c->out_channels = jint(root, "out_channels", 3);
    c->latent_channels = jint(root, "latent_channels", 4);
    c->layers_per_block = jint(root, "layers_per_block", 1);
    c->groups = jint(root, "norm_num_groups", 32);
    c->sample_size = jint(root, "sample_size", 32);
    c->scaling_factor = 0.18215;
    yajl_val v = jget(root, "scaling_factor");
    if (v && YAJL_IS_NUMBER(v))
        c->scaling_factor = YAJL_GET_DOUBLE(v);
    v = jget(root, "shift_factor");
    if (v && YAJL_IS_NUMBER(v))
        c->shift_factor = YAJL_GET_DOUBLE(v);
    v = jget(root, "mid_block_add_attention");
    c->mid_attention = !(v && YAJL_IS_FALSE(v));
    v = jget(root, "use_quant_conv");
    c->quant_conv = !(v && YAJL_IS_FALSE(v));
    v = jget(root, "use_post_quant_conv");
    c->post_quant_conv = !(v && YAJL_IS_FALSE(v));
    yajl_val bo = jget(root, "block_out_channels");
    if (!s && (!bo || !YAJL_IS_ARRAY(bo) || !bo->u.array.len || bo->u.array.len > 8))
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: block_out_channels must be a list of 1 to 8 widths", path);
    for (size_t i = 0; !s && i < bo->u.array.len; i++) {
        yajl_val e = bo->u.array.values[i];
        c->block_out[i] = YAJL_IS_INTEGER(e) ? (int)YAJL_GET_INTEGER(e) : 0;
        if (c->block_out[i] < 1 || c->block_out[i] > 8192 || c->block_out[i] % c->groups)
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: block_out_channels[%zu] must be a multiple of norm_num_groups %d", path,
                         i, c->groups);
    }
    if (!s)
        c->blocks = (int)bo->u.array.len;
    const char *keys[2] = {"down_block_types", "up_block_types"}, *want[2] = {"DownEncoderBlock2D", "UpDecoderBlock2D"};
    for (int k = 0; !s && k < 2; k++) {
        yajl_val t = jget(root, keys[k]);
        if (!t)
            continue; /* diffusers' defaults are these types */
        if (!YAJL_IS_ARRAY(t) || (int)t->u.array.len != c->blocks)
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: %s must list one type per block", path, keys[k]);
        for (size_t i = 0; !s && i < t->u.array.len; i++) {
            const char *name = YAJL_GET_STRING(t->u.array.values[i]);
            if (!name || strcmp(name, want[k]))
                s = jf__merr(err, JF_MODEL_EFORMAT, "%s: %s[%zu] is %s; jf reads %s", path, keys[k], i,
                             name ? name : "not a string", want[k]);
        }
    }
    v = jget(root, "act_fn");
    const char *act = v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    if (!s && v && (!act || strcmp(act, "silu")))
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: act_fn must be silu", path);
    if (!s && (c->in_channels < 1 || c->out_channels < 1 || c->latent_channels < 1 || c->layers_per_block < 1 ||
               c->layers_per_block > 16 || c->groups < 1 || c->in_channels > 64 || c->out_channels > 64 ||
               c->latent_channels > 64 || !(c->scaling_factor > 0)))
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: channel counts, layers_per_block or scaling_factor out of range", path);
    yajl_tree_free(root);
    return s;
}

/* ---- binding ---- */

/* out = a + b (out may be a), cut at cap − 1 bytes: tensor names are short */
static void join(char *out, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= cap)
        la = cap - 1;
    if (out != a)
        memmove(out, a, la);
    if (la + lb >= cap)
        lb = cap - 1 - la;
    memcpy(out + la, b, lb);
    out[la + lb] = 0;
}

static const float *as_f32(jf_vae *m, const jf__w *w, size_t n, jf_model_error *err)
{
    if (w->dt == JF_F32 && ((uintptr_t)w->p % 4) == 0)
        return w->p;
    float *f = malloc(n * sizeof *f);
    if (!f || (m->n_owned == m->cap_owned &&
               !(m->owned = realloc(m->owned, (m->cap_owned = m->cap_owned ? 2 * m->cap_owned : 64) * sizeof *m->owned)))) {
        free(f);
        jf__merr(err, JF_MODEL_ENOMEM, "out of memory widening the VAE's weights");
        return NULL;
    }
    m->owned[m->n_owned++] = f;
    jf__w_to_f32(w, 0, n, f);
    return f;
}

static jf_model_status bind_vec(jf_vae *m, const char *name, int n, const float **out, jf_model_error *err)
{
    jf__w w;
    jf_model_status s = jf__weights_bind(m->st, name, 1, n, 0, 0, 0, &w, err);
    if (s)
        return s;
    m->used++;
    return (*out = as_f32(m, &w, (size_t)n, err)) ? JF_MODEL_OK : err->code;
}

static jf_model_status bind_conv(jf_vae *m, const char *prefix, int out, int in, int k, vconv *c, jf_model_error *err)
{
    char n[256];
    jf__w w;
    join(n, sizeof n, prefix, ".weight");
    jf_model_status s = jf__weights_bind(m->st, n, 4, out, in, k, k, &w, err);
    if (s)
        return s;
    m->used++;
    c->out = out;
    c->in = in;
    c->k = k;
    if (!(c->w = as_f32(m, &w, (size_t)out * in * k * k, err)))
        return err->code;
    join(n, sizeof n, prefix, ".bias");
    return bind_vec(m, n, out, &c->b, err);
}

/* An attention linear: [C, C] in diffusers files, [C, C, 1, 1] in some converted ones. */
static jf_model_status bind_linear(jf_vae *m, const char *prefix, int C, vconv *c, jf_model_error *err)
{
    char n[256];
    join(n, sizeof n, prefix, ".weight");
    const jf_tensor_info *t = jf_weights_find(m->st, n);
    if (t && t->ndim == 4)
        return bind_conv(m, prefix, C, C, 1, c, err);
    jf__w w;
    jf_model_status s = jf__weights_bind(m->st, n, 2, C, C, 0, 0, &w, err);
    if (s)
        return s;
    m->used++;
    c->out = c->in = C;
    c->k = 1;
    if (!(c->w = as_f32(m, &w, (size_t)C * C, err)))
        return err->code;
    join(n, sizeof n, prefix, ".bias");
    return bind_vec(m, n, C, &c->b, err);
}

static jf_model_status bind_norm(jf_vae *m, const char *prefix, int C, vnorm *nm, jf_model_error *err)
{
    char n[256];
    nm->C = C;
    join(n, sizeof n, prefix, ".weight");
    jf_model_status s = bind_vec(m, n, C, &nm->g, err);
    join(n, sizeof n, prefix, ".bias");
    return s ? s : bind_vec(m, n, C, &nm->b, err);
}

static jf_model_status bind_resnet(jf_vae *m, const char *p, int in, int out, vresnet *r, jf_model_error *err)
{
    char n[256];
    r->in = in;
    r->out = out;
    jf_model_status s;
    join(n, sizeof n, p, ".norm1");
    if ((s = bind_norm(m, n, in, &r->n1, err)))
        return s;
    join(n, sizeof n, p, ".conv1");
    if ((s = bind_conv(m, n, out, in, 3, &r->c1, err)))
        return s;
    join(n, sizeof n, p, ".norm2");
    if ((s = bind_norm(m, n, out, &r->n2, err)))
        return s;
    join(n, sizeof n, p, ".conv2");
    if ((s = bind_conv(m, n, out, out, 3, &r->c2, err)))
        return s;
    r->has_shortcut = in != out;
    if (r->has_shortcut) {
        join(n, sizeof n, p, ".conv_shortcut");
        s = bind_conv(m, n, out, in, 1, &r->shortcut, err);
    }
    return s;
}

static jf_model_status bind_attn(jf_vae *m, const char *p, int C, vattn *a, jf_model_error *err)
{
    char n[256];
    join(n, sizeof n, p, ".group_norm");
    jf_model_status s = bind_norm(m, n, C, &a->gn, err);
    /* diffusers ≥ 0.14 names; the deprecated attention block's names before */
    join(n, sizeof n, p, ".to_q.weight");
    int modern = jf_weights_find(m->st, n) != NULL;
    const char *names[2][4] = {{"query", "key", "value", "proj_attn"}, {"to_q", "to_k", "to_v", "to_out.0"}};
    vconv *dst[4] = {&a->q, &a->k, &a->v, &a->o};
    for (int i = 0; !s && i < 4; i++) {
        join(n, sizeof n, p, ".");
        join(n, sizeof n, n, names[modern][i]);
        s = bind_linear(m, n, C, dst[i], err);
    }
    return s;
}

static jf_model_status bind_mid(jf_vae *m, const char *p, int C, vhalf *h, jf_model_error *err)
{
    char n[256];
    jf_model_status s = JF_MODEL_OK;
    for (int i = 0; !s && i < 2; i++) {
        snprintf(n, sizeof n, "%s.mid_block.resnets.%d", p, i);
        s = bind_resnet(m, n, C, C, &h->mid[i], err);
    }
    if (!s && m->cfg.mid_attention) {
        join(n, sizeof n, p, ".mid_block.attentions.0");
        s = bind_attn(m, n, C, &h->attn, err);
    }
    return s;
}

static jf_model_status bind_encoder(jf_vae *m, jf_model_error *err)
{
    const jf_vae_config *c = &m->cfg;
    vhalf *h = &m->enc;
    int B = c->blocks, L = c->layers_per_block;
    h->per_block = L;
    h->res = calloc((size_t)B * L, sizeof *h->res);
    h->resample = calloc((size_t)B, sizeof *h->resample);
    if (!h->res || !h->resample)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = bind_conv(m, "encoder.conv_in", c->block_out[0], c->in_channels, 3, &h->conv_in, err);
    char n[256];
    int prev = c->block_out[0];
    for (int b = 0; !s && b < B; b++) {
        for (int j = 0; !s && j < L; j++) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.resnets.%d", b, j);
            s = bind_resnet(m, n, j ? c->block_out[b] : prev, c->block_out[b], &h->res[b * L + j], err);
        }
        if (!s && b < B - 1) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.downsamplers.0.conv", b);
            s = bind_conv(m, n, c->block_out[b], c->block_out[b], 3, &h->resample[b], err);
        }
        prev = c->block_out[b];
    }
    int top = c->block_out[B - 1];
    if (!s)
        s = bind_mid(m, "encoder", top, h, err);
    if (!s)
        s = bind_norm(m, "encoder.conv_norm_out", top, &h->norm_out, err);
    if (!s)
        s = bind_conv(m, "encoder.conv_out", 2 * c->latent_channels, top, 3, &h->conv_out, err);
    if (!s && c->quant_conv)
        s = bind_conv(m, "quant_conv", 2 * c->latent_channels, 2 * c->latent_channels, 1, &h->quant, err);
    h->present = !s;
    return s;
}

static jf_model_status bind_decoder(jf_vae *m, jf_model_error *err)
{
    const jf_vae_config *c = &m->cfg;
    vhalf *h = &m->dec;
    int B = c->blocks, L = c->layers_per_block + 1, top = c->block_out[B - 1];
    h->per_block = L;
    h->res = calloc((size_t)B * L, sizeof *h->res);
    h->resample = calloc((size_t)B, sizeof *h->resample);
    if (!h->res || !h->resample)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = JF_MODEL_OK;
    if (c->post_quant_conv)
        s = bind_conv(m, "post_quant_conv", c->latent_channels, c->latent_channels, 1, &h->quant, err);
    if (!s)
        s = bind_conv(m, "decoder.conv_in", top, c->latent_channels, 3, &h->conv_in, err);
    if (!s)
        s = bind_mid(m, "decoder", top, h, err);
    char n[256];
    int prev = top;
    for (int b = 0; !s && b < B; b++) {
        int out = c->block_out[B - 1 - b];
        for (int j = 0; !s && j < L; j++) {
            snprintf(n, sizeof n, "decoder.up_blocks.%d.resnets.%d", b, j);
            s = bind_resnet(m, n, j ? out : prev, out, &h->res[b * L + j], err);
        }
        if (!s && b < B - 1) {
            snprintf(n, sizeof n, "decoder.up_blocks.%d.upsamplers.0.conv", b);
            s = bind_conv(m, n, out, out, 3, &h->resample[b], err);
        }
        prev = out;
    }
    if (!s)
        s = bind_norm(m, "decoder.conv_norm_out", c->block_out[0], &h->norm_out, err);
    if (!s)
        s = bind_conv(m, "decoder.conv_out", c->out_channels, c->block_out[0], 3, &h->conv_out, err);
    h->present = !s;
    return s;
}

jf_model_status jf_vae_load(const char *dir, jf_vae **out, jf_model_error *err)
{
    *out = NULL;
    jf_vae *m = calloc(1, sizeof *m);
    if (!m)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    jf_model_status s = read_config(dir, &m->cfg, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    if (!s)
        s = jf_weights_open(path, &m->st, err);
    /* the decoder is required; the encoder is optional (some files ship the decoder only) */
    if (!s)
        s = bind_decoder(m, err);
    if (!s && jf_weights_find(m->st, "encoder.conv_in.weight")) {
        s = bind_encoder(m, err);
        m->cfg.has_encoder = !s;
    }
    if (!s) {
        m->cfg.tensors = jf_weights_count(m->st);
        m->cfg.used_tensors = m->used;
        uint64_t params = 0;
        for (size_t i = 0; i < jf_weights_count(m->st); i++) {
            const jf_tensor_info *t = jf_weights_at(m->st, i);
            uint64_t k = 1;
            for (int d = 0; d < t->ndim; d++)
                k *= (uint64_t)t->shape[d];
            params += k;
        }
        m->cfg.parameters = params;
        if (m->used != jf_weights_count(m->st))
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: %zu of its %zu tensors are not the VAE's (unknown names)", path,
                         jf_weights_count(m->st) - m->used, jf_weights_count(m->st));
    }
    if (s) {
        if (s != JF_MODEL_ENOMEM && !strstr(err->msg, dir)) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "VAE %.200s: %.800s", dir, err->msg);
            snprintf(err->msg, sizeof err->msg, "%s", msg);
        }
        jf_vae_free(m);
        return s;
    }
    *out = m;
    return JF_MODEL_OK;
}

static void pool_release(jf_vae *m);

void jf_vae_free(jf_vae *m)
{
    if (!m)
        return;
    pool_release(m);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->enc.res);
    free(m->enc.resample);
    free(m->dec.res);
    free(m->dec.resample);
    jf_weights_close(m->st);
    free(m);
}

/* ---- forward ---- */

/* A map of one image: C planes of H × W. */
typedef struct vmap {
    float *p;
    int C, H, W;
    size_t cap; /* floats allocated */
} vmap;

static float *pool_get(jf_vae *m, size_t n, size_t *cap)
{
    int best = -1;
    for (int i = 0; i < m->pool_n; i++)
        if (m->pool_cap[i] >= n && (best < 0 || m->pool_cap[i] < m->pool_cap[best]))
            best = i;
    if (best >= 0) {
        float *p = m->pool[best];
        *cap = m->pool_cap[best];
        m->pool[best] = m->pool[--m->pool_n];
        m->pool_cap[best] = m->pool_cap[m->pool_n];
        return p;
    }
    *cap = n;
    return malloc((n ? n : 1) * sizeof(float));
}

static void pool_put(jf_vae *m, float *p, size_t cap)
{
    if (!p)
        return;
    if (m->pool_n < (int)(sizeof m->pool / sizeof m->pool[0])) {
        m->pool[m->pool_n] = p;
        m->pool_cap[m->pool_n++] = cap;
        return;
    }
    free(p);
}

static void pool_release(jf_vae *m)
{
    for (int i = 0; i < m->pool_n; i++)
        free(m->pool[i]);
    m->pool_n = 0;
}

static int map_new(jf_vae *m, vmap *v, int C, int H, int W)
{
    v->C = C;
    v->H = H;
    v->W = W;
    v->p = pool_get(m, (size_t)C * H * W, &v->cap);
    return v->p ? 0 : -1;
}

static void map_free(jf_vae *m, vmap *v)
{
    pool_put(m, v->p, v->cap);
    v->p = NULL;
}

typedef struct gn_job {
    const vmap *x;
    const vnorm *n;
    int groups, silu;
    float *y;
} gn_job;

static void gn_group(void *user, size_t g)
{
    const gn_job *j = user;
    const vmap *x = j->x;
    size_t HW = (size_t)x->H * x->W, cpg = (size_t)(x->C / j->groups), per = cpg * HW;
    const float *s = x->p + g * per;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < per; i++)
        sum += s[i];
    double mean = sum / (double)per;
    for (size_t i = 0; i < per; i++)
        sq += (s[i] - mean) * (s[i] - mean);
    float inv = (float)(1.0 / sqrt(sq / (double)per + 1e-6)), mf = (float)mean;
    for (size_t cc = 0; cc < cpg; cc++) {
        size_t ch = g * cpg + cc;
        const float *src = s + cc * HW;
        float *dst = j->y + ch * HW;
        float gain = j->n->g[ch], bias = j->n->b[ch];
        for (size_t i = 0; i < HW; i++)
            dst[i] = (src[i] - mf) * inv * gain + bias;
    }
    if (j->silu)
        jf__silu(j->y + g * per, per); /* inside a pool item: runs on this thread */
}

/* GroupNorm (eps 1e-6, affine) into y, then SiLU when `silu`; statistics in double; the groups
 * in parallel. */
static void group_norm(const vmap *x, const vnorm *n, int groups, int silu, float *y)
{
    gn_job j = {x, n, groups, silu, y};
    jf__parallel_for((size_t)groups, gn_group, &j);
}

typedef struct add_job {
    float *a;
    const float *b;
    size_t per;
} add_job;

static void add_rows(void *user, size_t i)
{
    const add_job *j = user;
    float *a = j->a + i * j->per;
    const float *b = j->b + i * j->per;
    for (size_t k = 0; k < j->per; k++)
        a[k] += b[k];
}

/* a += b over C planes of HW values, the planes in parallel */
static void add_maps(float *a, const float *b, int C, size_t HW)
{
    add_job j = {a, b, HW};
    jf__parallel_for((size_t)C, add_rows, &j);
}

typedef struct up_job {
    const vmap *x;
    vmap *up;
} up_job;

static void up_plane(void *user, size_t ch)
{
    const up_job *j = user;
    const vmap *x = j->x;
    for (int yy = 0; yy < j->up->H; yy++) {
        const float *src = x->p + (ch * (size_t)x->H + (size_t)(yy / 2)) * (size_t)x->W;
        float *dst = j->up->p + (ch * (size_t)j->up->H + (size_t)yy) * (size_t)j->up->W;
        for (int xx = 0; xx < j->up->W; xx++)
            dst[xx] = src[xx / 2];
    }
}

static int conv(jf_vae *m, const vconv *c, const vmap *x, int stride, int pad, vmap *y)
{
    int OH = (x->H + 2 * pad - c->k) / stride + 1, OW = (x->W + 2 * pad - c->k) / stride + 1;
    if (map_new(m, y, c->out, OH, OW))
        return -1;
    if (c->k == 3 && stride == 1 && pad == 1) {
        size_t cap;
        float *scratch = pool_get(m, jf__conv3x3_scratch(x->C, x->H, x->W, c->out), &cap);
        if (!scratch) {
            map_free(m, y);
            return -1;
        }
        jf__conv3x3(x->p, x->C, x->H, x->W, c->w, c->b, c->out, scratch, y->p);
        pool_put(m, scratch, cap);
        return 0;
    }
    if (jf__conv2d(x->p, x->C, 1, x->H, x->W, c->w, c->b, c->out, c->k, c->k, stride, stride, pad, pad, 0, y->p)) {
        map_free(m, y);
        return -1;
    }
    return 0;
}

/* ResnetBlock2D without a time embedding: x ← shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x)))))). */
static int resnet(jf_vae *m, const vresnet *r, vmap *x)
{
    int G = m->cfg.groups;
    vmap h = {0}, h2 = {0}, sc = {0};
    if (map_new(m, &h, x->C, x->H, x->W))
        return -1;
    group_norm(x, &r->n1, G, 1, h.p);
    int bad = conv(m, &r->c1, &h, 1, 1, &h2);
    map_free(m, &h);
    if (bad)
        return -1;
    vmap t = {0};
    if (map_new(m, &t, h2.C, h2.H, h2.W)) {
        map_free(m, &h2);
        return -1;
    }
    group_norm(&h2, &r->n2, G, 1, t.p);
    map_free(m, &h2);
    bad = conv(m, &r->c2, &t, 1, 1, &h);
    map_free(m, &t);
    if (bad)
        return -1;
    if (r->has_shortcut) {
        if (conv(m, &r->shortcut, x, 1, 0, &sc)) {
            map_free(m, &h);
            return -1;
        }
        map_free(m, x);
        *x = sc;
    }
    add_maps(x->p, h.p, h.C, (size_t)h.H * h.W);
    map_free(m, &h);
    return 0;
}

static void transpose(const float *a, size_t rows, size_t cols, float *b)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            b[c * rows + r] = a[r * cols + c];
}

/* The mid-block attention: one head over all H·W positions, GroupNorm first, scale 1/√C,
 * residual added. */
static int attention(jf_vae *m, const vattn *a, vmap *x)
{
    size_t C = (size_t)x->C, P = (size_t)x->H * x->W;
    vmap n = {0}, q = {0}, k = {0}, v = {0};
    float *qt = malloc(3 * P * C * sizeof *qt), *kt = qt ? qt + P * C : NULL, *vt = qt ? kt + P * C : NULL;
    int bad = !qt || map_new(m, &n, x->C, x->H, x->W);
    if (!bad) {
        group_norm(x, &a->gn, m->cfg.groups, 0, n.p);
        bad = conv(m, &a->q, &n, 1, 0, &q) || conv(m, &a->k, &n, 1, 0, &k) || conv(m, &a->v, &n, 1, 0, &v);
    }
    if (!bad) {
        transpose(q.p, C, P, qt);
        transpose(k.p, C, P, kt);
        transpose(v.p, C, P, vt);
        jf__attention(qt, P, kt, vt, P, 1, 1, (int)C, (float)(1.0 / sqrt((double)C)), 0, 0, q.p); /* [P][C] */
        transpose(q.p, P, C, n.p);
        map_free(m, &k);
        bad = conv(m, &a->o, &n, 1, 0, &k);
    }
    if (!bad)
        add_maps(x->p, k.p, (int)C, P);
    free(qt);
    map_free(m, &n);
    map_free(m, &q);
    map_free(m, &k);
    map_free(m, &v);
    return bad ? -1 : 0;
}

static int mid_block(jf_vae *m, const vhalf *h, vmap *x)
{
    if (resnet(m, &h->mid[0], x))
        return -1;
    if (m->cfg.mid_attention && attention(m, &h->attn, x))
        return -1;
    return resnet(m, &h->mid[1], x);
}

static jf_model_status finish(jf_model_status s, int failed, jf_model_error *err)
{
    if (jf__ops_failed() || failed)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory in the VAE");
    return s;
}

jf_model_status jf_vae_decode(jf_vae *m, const float *z, int h, int w, float *image, jf_model_error *err)
{
    const jf_vae_config *c = &m->cfg;
    if (h < 1 || w < 1 || h > 4096 || w > 4096)
        return jf__merr(err, JF_MODEL_EARG, "latent size %d x %d out of range", h, w);
    (void)jf__ops_failed();
    vmap x = {0}, y = {0};
    if (map_new(m, &x, c->latent_channels, h, w))
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory in the VAE");
    memcpy(x.p, z, (size_t)c->latent_channels * h * w * sizeof *x.p);
    int bad = 0;
    if (c->post_quant_conv) {
        bad = conv(m, &m->dec.quant, &x, 1, 0, &y);
        map_free(m, &x);
        x = y;
    }
    if (!bad) {
        bad = conv(m, &m->dec.conv_in, &x, 1, 1, &y);
        map_free(m, &x);
        x = y;
    }
    if (!bad)
        bad = mid_block(m, &m->dec, &x);
    for (int b = 0; !bad && b < c->blocks; b++) {
        for (int j = 0; !bad && j < m->dec.per_block; j++)
            bad = resnet(m, &m->dec.res[b * m->dec.per_block + j], &x);
        if (!bad && b < c->blocks - 1) {
            /* nearest ×2, then the 3×3 convolution */
            vmap up = {0};
            bad = map_new(m, &up, x.C, 2 * x.H, 2 * x.W);
            if (!bad) {
                up_job uj = {&x, &up};
                jf__parallel_for((size_t)x.C, up_plane, &uj);
            }
            map_free(m, &x);
            if (!bad) {
                bad = conv(m, &m->dec.resample[b], &up, 1, 1, &x);
                map_free(m, &up);
            }
        }
    }
    if (!bad) {
        bad = map_new(m, &y, x.C, x.H, x.W);
        if (!bad) {
            group_norm(&x, &m->dec.norm_out, c->groups, 1, y.p);
            map_free(m, &x);
            bad = conv(m, &m->dec.conv_out, &y, 1, 1, &x);
            map_free(m, &y);
        }
    }
    if (!bad)
        memcpy(image, x.p, (size_t)x.C * x.H * x.W * sizeof *image);
    map_free(m, &x);
    pool_release(m);
    return finish(JF_MODEL_OK, bad, err);
}

jf_model_status jf_vae_encode(jf_vae *m, const float *image, int h, int w, float *mean, float *logvar,
                              jf_model_error *err)
{
    const jf_vae_config *c = &m->cfg;
    int factor = 1 << (c->blocks - 1);
    if (!c->has_encoder)
        return jf__merr(err, JF_MODEL_EFORMAT, "this VAE file has no encoder tensors");
    if (h < factor || w < factor || h % factor || w % factor || h > 16384 || w > 16384)
        return jf__merr(err, JF_MODEL_EARG, "image size %d x %d must be a multiple of %d", h, w, factor);
    (void)jf__ops_failed();
    vmap x = {0}, y = {0};
    if (map_new(m, &x, c->in_channels, h, w))
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory in the VAE");
    memcpy(x.p, image, (size_t)c->in_channels * h * w * sizeof *x.p);
    int bad = conv(m, &m->enc.conv_in, &x, 1, 1, &y);
    map_free(m, &x);
    x = y;
    for (int b = 0; !bad && b < c->blocks; b++) {
        for (int j = 0; !bad && j < m->enc.per_block; j++)
            bad = resnet(m, &m->enc.res[b * m->enc.per_block + j], &x);
        if (!bad && b < c->blocks - 1) {
            /* Downsample2D with padding 0: pad one zero column right and one row below, then
             * the 3×3 convolution with stride 2 */
            vmap pad = {0};
            bad = map_new(m, &pad, x.C, x.H + 1, x.W + 1);
            for (int ch = 0; !bad && ch < x.C; ch++) {
                for (int yy = 0; yy < x.H; yy++) {
                    float *dst = pad.p + ((size_t)ch * pad.H + yy) * pad.W;
                    memcpy(dst, x.p + ((size_t)ch * x.H + yy) * x.W, (size_t)x.W * sizeof *dst);
                    dst[x.W] = 0;
                }
                memset(pad.p + ((size_t)ch * pad.H + x.H) * pad.W, 0, (size_t)pad.W * sizeof *pad.p);
            }
            map_free(m, &x);
            if (!bad) {
                bad = conv(m, &m->enc.resample[b], &pad, 2, 0, &x);
                map_free(m, &pad);
            }
        }
    }
    if (!bad)
        bad = mid_block(m, &m->enc, &x);
    if (!bad) {
        bad = map_new(m, &y, x.C, x.H, x.W);
        if (!bad) {
            group_norm(&x, &m->enc.norm_out, c->groups, 1, y.p);
            map_free(m, &x);
            bad = conv(m, &m->enc.conv_out, &y, 1, 1, &x);
            map_free(m, &y);
        }
    }
    if (!bad && c->quant_conv) {
        bad = conv(m, &m->enc.quant, &x, 1, 0, &y);
        map_free(m, &x);
        x = y;
    }
    if (!bad) {
        /* DiagonalGaussianDistribution: mean, then log variance clamped to [-30, 20] */
        size_t n = (size_t)c->latent_channels * x.H * x.W;
        memcpy(mean, x.p, n * sizeof *mean);
        for (size_t i = 0; i < n; i++)
            logvar[i] = fminf(fmaxf(x.p[n + i], -30.0f), 20.0f);
    }
    map_free(m, &x);
    pool_release(m);
    return finish(JF_MODEL_OK, bad, err);
}

void jf_vae_to_rgb8(const float *image, int h, int w, int truncate, uint8_t *rgb)
{
    /* clamp to [-1, 1], (x + 1) / 2 · 255; the README's save_image rounds (torchvision adds 0.5
     * and truncates), the demo truncates with astype(uint8) */
    size_t HW = (size_t)h * w;
    for (size_t p = 0; p < HW; p++)
        for (int ch = 0; ch < 3; ch++) {
            float v = image[(size_t)ch * HW + p];
            v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
            float s = (v + 1.0f) / 2.0f * 255.0f;
            if (!truncate)
                s += 0.5f;
            if (s > 255.0f)
                s = 255.0f;
            rgb[p * 3 + (size_t)ch] = (uint8_t)s;
        }
}

/* ---- single modules, for the per-module goldens ---- */

jf_model_status jf__vae_run_resnet(jf_vae *m, int decoder, int index, float *x, int C, int H, int W, float *out,
                                   int *out_channels, jf_model_error *err)
{
    const vhalf *h = decoder ? &m->dec : &m->enc;
    int n = m->cfg.blocks * h->per_block;
    /* index < 0: mid-block resnet −index − 1; otherwise the blocks' resnets in order */
    const vresnet *r = index < 0 ? (index >= -2 ? &h->mid[-index - 1] : NULL) : index < n ? &h->res[index] : NULL;
    if (!h->present || !r || r->in != C)
        return jf__merr(err, JF_MODEL_EARG, "no resnet %d with %d input channels", index, C);
    (void)jf__ops_failed();
    vmap v = {0};
    if (map_new(m, &v, C, H, W))
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    memcpy(v.p, x, (size_t)C * H * W * sizeof *x);
    int bad = resnet(m, r, &v);
    if (!bad) {
        memcpy(out, v.p, (size_t)v.C * H * W * sizeof *out);
        *out_channels = v.C;
    }
    map_free(m, &v);
    pool_release(m);
    return finish(JF_MODEL_OK, bad, err);
}

jf_model_status jf__vae_run_attention(jf_vae *m, int decoder, float *x, int C, int H, int W, jf_model_error *err)
{
    const vhalf *h = decoder ? &m->dec : &m->enc;
    if (!h->present || !m->cfg.mid_attention || h->mid[0].out != C)
        return jf__merr(err, JF_MODEL_EARG, "no attention with %d channels", C);
    (void)jf__ops_failed();
    vmap v = {x, C, H, W, 0};
    int bad = attention(m, &h->attn, &v);
    pool_release(m);
    return finish(JF_MODEL_OK, bad, err);
}
