/* A random JanusFlow in the released layout: the config files, a byte-level BPE tokenizer and
 * model.safetensors with every tensor of the release (spec §1.3) under its official name.
 * The demo runs on a tiny one; the benchmark writes one with the full 1.3B shapes. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

typedef struct tensor_spec {
    char name[128];
    int ndim;
    int64_t shape[4];
    int kind; /* 0 matrix (1/sqrt(fan_in)), 1 norm weight (≈1), 2 bias (small), 3 embedding */
} tensor_spec;

typedef struct inv {
    tensor_spec *t;
    size_t n, cap;
} inv;

static void add(inv *v, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void add(inv *v, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->t = realloc(v->t, v->cap * sizeof *v->t);
        if (!v->t)
            abort();
    }
    tensor_spec *t = &v->t[v->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->shape[0] = a;
    t->shape[1] = b;
    t->shape[2] = c;
    t->shape[3] = d;
    t->kind = kind;
}

/* One ConvNeXt block with FiLM of the generation heads (spec §1.3 d/e, §2.6). */
static void convnext(inv *v, const char *p, int64_t C, int64_t H)
{
    add(v, 0, 4, C, 1, 7, 7, "%sdepthwise.weight", p);
    add(v, 2, 1, C, 0, 0, 0, "%sdepthwise.bias", p);
    add(v, 1, 1, C, 0, 0, 0, "%snorm.weight", p);
    add(v, 0, 2, 4 * C, C, 0, 0, "%schannelwise_linear_1.weight", p);
    add(v, 2, 1, 4 * C, 0, 0, 0, "%schannelwise_linear_1.bias", p);
    add(v, 2, 4, 1, 1, 1, 4 * C, "%schannelwise_norm.weight", p);
    add(v, 2, 4, 1, 1, 1, 4 * C, "%schannelwise_norm.bias", p);
    add(v, 0, 2, C, 4 * C, 0, 0, "%schannelwise_linear_2.weight", p);
    add(v, 2, 1, C, 0, 0, 0, "%schannelwise_linear_2.bias", p);
    add(v, 0, 2, 2 * C, H, 0, 0, "%scond_embeds_mapper.weight", p);
    add(v, 2, 1, 2 * C, 0, 0, 0, "%scond_embeds_mapper.bias", p);
}

/* The release's inventory for a shape (the same list as tests/reference/janus_ref.py). */
static void inventory(const jf_janus_random_shape *s, inv *v)
{
    int64_t H = s->hidden, I = s->intermediate, V = s->vocab, KV = (int64_t)s->kv_heads * (s->hidden / s->heads);
    int64_t W = s->vit_width, F = s->vit_mlp, P = s->patch, N = (int64_t)(s->image_size / s->patch) * (s->image_size / s->patch);
    int64_t G = s->gen_width;
    add(v, 3, 2, V, H, 0, 0, "language_model.model.embed_tokens.weight");
    for (int i = 0; i < s->layers; i++) {
        const char *p = "language_model.model.layers.";
        add(v, 1, 1, H, 0, 0, 0, "%s%d.input_layernorm.weight", p, i);
        add(v, 0, 2, H, H, 0, 0, "%s%d.self_attn.q_proj.weight", p, i);
        add(v, 0, 2, KV, H, 0, 0, "%s%d.self_attn.k_proj.weight", p, i);
        add(v, 0, 2, KV, H, 0, 0, "%s%d.self_attn.v_proj.weight", p, i);
        add(v, 0, 2, H, H, 0, 0, "%s%d.self_attn.o_proj.weight", p, i);
        add(v, 1, 1, H, 0, 0, 0, "%s%d.post_attention_layernorm.weight", p, i);
        add(v, 0, 2, I, H, 0, 0, "%s%d.mlp.gate_proj.weight", p, i);
        add(v, 0, 2, I, H, 0, 0, "%s%d.mlp.up_proj.weight", p, i);
        add(v, 0, 2, H, I, 0, 0, "%s%d.mlp.down_proj.weight", p, i);
    }
    add(v, 1, 1, H, 0, 0, 0, "language_model.model.norm.weight");
    add(v, 0, 2, V, H, 0, 0, "language_model.lm_head.weight");
    const char *t = "vision_und_enc_model.vision_tower.";
    add(v, 0, 4, W, 3, P, P, "%spatch_embed.proj.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%spatch_embed.proj.bias", t);
    add(v, 3, 3, 1, N, W, 0, "%spos_embed", t);
    for (int i = 0; i < s->vit_layers; i++) {
        add(v, 1, 1, W, 0, 0, 0, "%sblocks.%d.norm1.weight", t, i);
        add(v, 2, 1, W, 0, 0, 0, "%sblocks.%d.norm1.bias", t, i);
        add(v, 0, 2, 3 * W, W, 0, 0, "%sblocks.%d.attn.qkv.weight", t, i);
        add(v, 2, 1, 3 * W, 0, 0, 0, "%sblocks.%d.attn.qkv.bias", t, i);
        add(v, 0, 2, W, W, 0, 0, "%sblocks.%d.attn.proj.weight", t, i);
        add(v, 2, 1, W, 0, 0, 0, "%sblocks.%d.attn.proj.bias", t, i);
        add(v, 1, 1, W, 0, 0, 0, "%sblocks.%d.norm2.weight", t, i);
        add(v, 2, 1, W, 0, 0, 0, "%sblocks.%d.norm2.bias", t, i);
        add(v, 0, 2, F, W, 0, 0, "%sblocks.%d.mlp.fc1.weight", t, i);
        add(v, 2, 1, F, 0, 0, 0, "%sblocks.%d.mlp.fc1.bias", t, i);
        add(v, 0, 2, W, F, 0, 0, "%sblocks.%d.mlp.fc2.weight", t, i);
        add(v, 2, 1, W, 0, 0, 0, "%sblocks.%d.mlp.fc2.bias", t, i);
    }
    add(v, 1, 1, W, 0, 0, 0, "%snorm.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%snorm.bias", t);
    add(v, 3, 3, 1, 1, W, 0, "%sattn_pool.latent", t);
    add(v, 0, 2, W, W, 0, 0, "%sattn_pool.q.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%sattn_pool.q.bias", t);
    add(v, 0, 2, 2 * W, W, 0, 0, "%sattn_pool.kv.weight", t);
    add(v, 2, 1, 2 * W, 0, 0, 0, "%sattn_pool.kv.bias", t);
    add(v, 0, 2, W, W, 0, 0, "%sattn_pool.proj.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%sattn_pool.proj.bias", t);
    add(v, 1, 1, W, 0, 0, 0, "%sattn_pool.norm.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%sattn_pool.norm.bias", t);
    add(v, 0, 2, F, W, 0, 0, "%sattn_pool.mlp.fc1.weight", t);
    add(v, 2, 1, F, 0, 0, 0, "%sattn_pool.mlp.fc1.bias", t);
    add(v, 0, 2, W, F, 0, 0, "%sattn_pool.mlp.fc2.weight", t);
    add(v, 2, 1, W, 0, 0, 0, "%sattn_pool.mlp.fc2.bias", t);
    add(v, 0, 2, H, W, 0, 0, "vision_und_enc_aligner.weight");
    add(v, 2, 1, H, 0, 0, 0, "vision_und_enc_aligner.bias");
    add(v, 3, 2, 1, H, 0, 0, "beg_of_und_embed");
    add(v, 0, 2, H, G, 0, 0, "vision_gen_enc_aligner.weight");
    add(v, 2, 1, H, 0, 0, 0, "vision_gen_enc_aligner.bias");
    add(v, 1, 1, H, 0, 0, 0, "vision_gen_dec_aligner_norm.weight");
    add(v, 0, 2, G, H, 0, 0, "vision_gen_dec_aligner.weight");
    add(v, 2, 1, G, 0, 0, 0, "vision_gen_dec_aligner.bias");
    const char *e = "vision_gen_enc_model.";
    add(v, 0, 2, H, G, 0, 0, "%stime_embed.linear_1.weight", e);
    add(v, 2, 1, H, 0, 0, 0, "%stime_embed.linear_1.bias", e);
    add(v, 0, 2, H, H, 0, 0, "%stime_embed.linear_2.weight", e);
    add(v, 2, 1, H, 0, 0, 0, "%stime_embed.linear_2.bias", e);
    add(v, 0, 4, G, 4, 2, 2, "%sin_conv.weight", e);
    add(v, 2, 1, G, 0, 0, 0, "%sin_conv.bias", e);
    char p[128];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%smid_block.res_blocks.%d.", e, i);
        convnext(v, p, G, H);
    }
    const char *d = "vision_gen_dec_model.";
    add(v, 1, 1, G, 0, 0, 0, "%sinput_norm.weight", d);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%smid_block.res_blocks.%d.", d, i);
        convnext(v, p, 2 * G, H);
    }
    add(v, 1, 1, 2 * G, 0, 0, 0, "%sout_convs.0.norm.weight", d);
    add(v, 0, 4, 16, 2 * G, 1, 1, "%sout_convs.0.unpatch_conv.weight", d);
    add(v, 2, 1, 16, 0, 0, 0, "%sout_convs.0.unpatch_conv.bias", d);
}

jf_janus_random_shape jf_janus_tiny_shape(void)
{
    jf_janus_random_shape s = {.hidden = 64, .heads = 4, .kv_heads = 4, .layers = 2, .intermediate = 128, .vocab = 320,
                               .vit_width = 64, .vit_heads = 2, .vit_layers = 2, .vit_mlp = 128, .patch = 8,
                               .image_size = 64, .gen_width = 16, .max_positions = 4096};
    return s;
}

jf_janus_random_shape jf_janus_full_shape(void)
{
    /* JanusFlow-1.3B as released (spec §1.2–1.3) */
    jf_janus_random_shape s = {.hidden = 2048, .heads = 16, .kv_heads = 16, .layers = 24, .intermediate = 5632,
                               .vocab = 102400, .vit_width = 1024, .vit_heads = 16, .vit_layers = 24, .vit_mlp = 4096,
                               .patch = 16, .image_size = 384, .gen_width = 768, .max_positions = 16384};
    return s;
}

jf_janus_random_shape jf_janus_layer_shape(void)
{
    /* the full widths with one block per tower and a small vocabulary: full-size layers (and
     * the full-width generation heads) for the per-module goldens without the 4 GB file */
    jf_janus_random_shape s = jf_janus_full_shape();
    s.layers = 1;
    s.vit_layers = 1;
    s.vocab = 320;
    return s; /* the generation heads at their full width (768) too */
}

void jf_janus_random_inventory(const jf_janus_random_shape *shape, size_t *tensors, uint64_t *parameters)
{
    inv v = {0};
    inventory(shape, &v);
    uint64_t total = 0;
    for (size_t i = 0; i < v.n; i++) {
        uint64_t count = 1;
        for (int d = 0; d < v.t[i].ndim; d++)
            count *= (uint64_t)v.t[i].shape[d];
        total += count;
    }
    *tensors = v.n;
    *parameters = total;
    free(v.t);
}

uint64_t jf__splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* An approximately normal deviate (Irwin–Hall of 4 uniforms, rescaled): good enough for
 * random weights, and cheap for the 2-billion-parameter file. */
float jf__randn(uint64_t *x)
{
    uint64_t r = jf__splitmix(x);
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += (float)((r >> (16 * i)) & 0xFFFF) / 65536.0f;
    return (s - 2.0f) * 1.7320508f;
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* GPT-2's byte → character table (the ByteLevel alphabet). */
static void byte_char(int b, char out[4])
{
    int cp;
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        cp = b;
    else {
        int n = 0;
        for (int k = 0; k < b; k++)
            if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF)))
                n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

#define BOS "<｜begin▁of▁sentence｜>"
#define EOS "<｜end▁of▁sentence｜>"

/* A byte-level BPE tokenizer.json shaped like DeepSeek-LLM's: 256 byte tokens, merges of a few
 * common English words up to id `n_bpe`, BOS and EOS as added tokens, BOS by template. */
static int write_tokenizer(const char *dir, int n_bpe)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    char (*tok)[64] = calloc((size_t)n_bpe, sizeof *tok);
    char (*merge)[128] = calloc((size_t)n_bpe, sizeof *merge);
    if (!tok || !merge) {
        fclose(f);
        free(tok);
        free(merge);
        return -1;
    }
    int n = 0, nm = 0;
    for (int b = 0; b < 256; b++)
        byte_char(b, tok[n++]);
    static const char *const words[] = {"the", "is", "what", "this", "image", "an", "in", "of", "and", "a", "you", "are",
                                        "picture", "shows", "color", "red", "blue", "green", "there", "it"};
    for (size_t w = 0; w < sizeof words / sizeof *words && n < n_bpe; w++)
        for (int sp = 1; sp >= 0 && n < n_bpe; sp--) {
            /* left-to-right merges of "Ġword" and "word" */
            char cur[64];
            snprintf(cur, sizeof cur, "%s", sp ? "Ġ" : "");
            const char *rest = words[w];
            if (!sp) {
                cur[0] = rest[0];
                cur[1] = 0;
                rest++;
            }
            for (; *rest && n < n_bpe; rest++) {
                char next[64];
                size_t cl = strlen(cur);
                if (cl + 2 > sizeof next)
                    break;
                memcpy(next, cur, cl);
                next[cl] = *rest;
                next[cl + 1] = 0;
                int exists = 0;
                for (int k = 256; k < n; k++)
                    exists |= !strcmp(tok[k], next);
                if (!exists) {
                    snprintf(tok[n++], sizeof *tok, "%s", next);
                    snprintf(merge[nm++], sizeof *merge, "%s %c", cur, *rest);
                }
                snprintf(cur, sizeof cur, "%s", next);
            }
        }
    while (n < n_bpe) {
        snprintf(tok[n], sizeof *tok, "<filler_%d>", n);
        n++;
    }
    fprintf(f, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
               "{\"id\":%d,\"content\":\"" BOS "\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
               "\"normalized\":true,\"special\":true},"
               "{\"id\":%d,\"content\":\"" EOS "\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
               "\"normalized\":true,\"special\":true}],\"normalizer\":null,",
            n_bpe, n_bpe + 1);
    fputs("\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
          "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[\\r\\n]\"},\"behavior\":\"Isolated\",\"invert\":false},"
          "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s?\\\\p{L}+\"},\"behavior\":\"Isolated\",\"invert\":false},"
          "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s?\\\\p{P}+\"},\"behavior\":\"Isolated\",\"invert\":false},"
          "{\"type\":\"Digits\",\"individual_digits\":true},"
          "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},",
          f);
    fprintf(f, "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"" BOS
               "\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"SpecialToken\":{\"id\":\"" BOS
               "\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"" BOS
               "\",\"type_id\":1}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"" BOS
               "\":{\"id\":\"" BOS "\",\"ids\":[%d],\"tokens\":[\"" BOS "\"]}}},",
            n_bpe);
    fputs("\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
          "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"
          "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"vocab\":{",
          f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        json_str(f, tok[i]);
        fprintf(f, ":%d", i);
    }
    fputs("},\"merges\":[", f);
    for (int i = 0; i < nm; i++) {
        if (i)
            fputc(',', f);
        json_str(f, merge[i]);
    }
    fputs("]}}\n", f);
    free(tok);
    free(merge);
    return fclose(f) == 0 ? 0 : -1;
}

jf_model_status jf_janus_write_random(const char *dir, const jf_janus_random_shape *s, uint64_t seed,
                                      jf_model_error *err)
{
    if (s->heads <= 0 || s->hidden % s->heads || s->kv_heads <= 0 || s->heads % s->kv_heads || s->patch <= 0 ||
        s->image_size % s->patch || s->vocab < 300)
        return jf__merr(err, JF_MODEL_EARG, "random model: inconsistent shape");
    if (s->vit_layers < 1 || s->vit_layers > 24)
        return jf__merr(err, JF_MODEL_EARG, "random model: 1 to 24 SigLIP blocks (siglip_large_patch16_384 has 24)");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return jf__merr(err, JF_MODEL_EIO, "%s: %s", dir, strerror(errno));
    int full = s->vocab >= 100015;
    int n_bpe = full ? 100000 : s->vocab - 20; /* BOS/EOS and the tags after the BPE tokens */
    char buf[8192], latent[64] = "";
    /* the official code fixes the latent grid at 48 (384 px); a smaller model names its own
     * (image_size / 8, the SDXL-VAE's factor) in a parameter the official constructor ignores */
    if (s->image_size != 384)
        snprintf(latent, sizeof latent, ", \"latent_size\": %d", s->image_size / 8 < 2 ? 2 : s->image_size / 8 / 2 * 2);
    snprintf(buf, sizeof buf,
             "{\n  \"architectures\": [\"MultiModalityCausalLM\"],\n  \"model_type\": \"multi_modality\",\n"
             "  \"torch_dtype\": \"bfloat16\",\n  \"language_config\": {\n    \"hidden_size\": %d,\n"
             "    \"intermediate_size\": %d,\n    \"max_position_embeddings\": %d,\n    \"model_type\": \"llama\",\n"
             "    \"num_attention_heads\": %d,\n    \"num_hidden_layers\": %d,\n    \"num_key_value_heads\": %d,\n"
             "    \"torch_dtype\": \"bfloat16\",\n    \"vocab_size\": %d\n  },\n"
             "  \"vision_und_enc_config\": {\n    \"cls\": \"CLIPVisionTower\",\n    \"model_type\": \"vision\",\n"
             "    \"params\": {\"image_size\": %d, \"model_name\": \"siglip_large_patch16_384\", \"select_feature\": "
             "\"same\", \"select_layer\": %d, \"width\": %d%s%.0d}\n  },\n"
             "  \"vision_gen_enc_config\": {\n    \"cls\": \"ShallowUViTEncoder\",\n    \"model_type\": \"gen_encoder\",\n"
             "    \"params\": {\"input_channels\": 4, \"kernel_size\": 2, \"stride\": 2, \"padding\": 0, "
             "\"block_out_channels\": [%d], \"layers_in_middle\": 2, \"hidden_size\": %d, \"norm_eps\": 1e-06, "
             "\"use_bias\": true, \"use_mid_block\": true, \"elementwize_affine\": true, \"num_extra_tensors\": 5}\n  },\n"
             "  \"vision_gen_dec_config\": {\n    \"cls\": \"ShallowUViTDecoder\",\n    \"model_type\": \"gen_decoder\",\n"
             "    \"params\": {\"in_channels\": %d, \"out_channels\": 4, \"block_out_channels\": [%d], \"upsamples\": 1, "
             "\"layers_in_middle\": 2, \"hidden_size\": %d, \"norm_eps\": 1e-06, \"use_bias\": true, "
             "\"use_mid_block\": true, \"elementwise_affine\": true%s}\n  },\n"
             "  \"transformers_version\": \"4.38.1\"\n}\n",
             s->hidden, s->intermediate, s->max_positions, s->heads, s->layers, s->kv_heads, s->vocab, s->image_size,
             /* the official builder makes min(24, 24 + select_layer + 1) blocks for this name: the
              * value that makes it build exactly the blocks written (-1 for the release's 24) */
             s->vit_layers - 25, s->vit_width, s->vit_heads != s->vit_width / 64 ? ", \"heads\": " : "",
             s->vit_heads != s->vit_width / 64 ? s->vit_heads : 0, s->gen_width, s->hidden, s->gen_width, s->gen_width,
             s->hidden, latent);
    int bad = write_text(dir, "config.json", buf);

    snprintf(buf, sizeof buf,
             "{\n  \"image_processor_type\": \"VLMImageProcessor\",\n  \"image_size\": %d,\n  \"min_size\": 14,\n"
             "  \"image_mean\": [0.5, 0.5, 0.5],\n  \"image_std\": [0.5, 0.5, 0.5],\n"
             "  \"rescale_factor\": 0.00392156862745098,\n  \"do_normalize\": true\n}\n",
             s->image_size);
    bad |= write_text(dir, "preprocessor_config.json", buf);
    snprintf(buf, sizeof buf,
             "{\n  \"image_tag\": \"<image_placeholder>\",\n  \"num_image_tokens\": %d,\n  \"sft_format\": \"deepseek\",\n"
             "  \"add_special_token\": false,\n  \"ignore_id\": -100,\n  \"mask_prompt\": true,\n"
             "  \"processor_class\": \"VLChatProcessor\"\n}\n",
             (s->image_size / s->patch) * (s->image_size / s->patch));
    bad |= write_text(dir, "processor_config.json", buf);
    bad |= write_text(dir, "special_tokens_map.json",
                      "{\n  \"bos_token\": \"" BOS "\",\n  \"eos_token\": \"" EOS "\",\n"
                      "  \"additional_special_tokens\": [\"<｜begin▁of▁generation｜>\"]\n}\n");
    bad |= write_text(dir, "tokenizer_config.json",
                      "{\n  \"add_bos_token\": true,\n  \"add_eos_token\": false,\n  \"bos_token\": \"" BOS "\",\n"
                      "  \"eos_token\": \"" EOS "\",\n  \"unk_token\": null,\n  \"tokenizer_class\": \"LlamaTokenizerFast\",\n"
                      "  \"model_max_length\": 16384\n}\n");
    bad |= write_tokenizer(dir, n_bpe);
    if (bad)
        return jf__merr(err, JF_MODEL_EIO, "%s: cannot write the model files", dir);

    inv v = {0};
    inventory(s, &v);
    /* header */
    size_t cap = 256 + v.n * 200, len = 0;
    char *h = malloc(cap);
    if (!h) {
        free(v.t);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < v.n; i++) {
        const tensor_spec *t = &v.t[i];
        uint64_t count = 1;
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[", t->name);
        for (int d = 0; d < t->ndim; d++) {
            count *= (uint64_t)t->shape[d];
            len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        }
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                (unsigned long long)(off + count * 2));
        off += count * 2;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    jf_model_status st = JF_MODEL_OK;
    uint64_t hl = len;
    if (!f || fwrite(&hl, 8, 1, f) != 1 || fwrite(h, 1, len, f) != len)
        st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    free(h);
    uint16_t *chunk = malloc(1 << 20);
    uint64_t rng = seed;
    for (size_t i = 0; !st && i < v.n; i++) {
        const tensor_spec *t = &v.t[i];
        uint64_t count = 1, fan_in = 1;
        for (int d = 0; d < t->ndim; d++)
            count *= (uint64_t)t->shape[d];
        for (int d = 1; d < t->ndim; d++)
            fan_in *= (uint64_t)t->shape[d];
        float scale = t->kind == 0 ? 1.0f / sqrtf((float)fan_in) : t->kind == 1 ? 0.1f : t->kind == 2 ? 0.1f : 0.5f;
        for (uint64_t done = 0; done < count;) {
            size_t nb = count - done < (1 << 19) ? (size_t)(count - done) : (1 << 19);
            for (size_t k = 0; k < nb; k++)
                chunk[k] = to_bf16((t->kind == 1 ? 1.0f : 0.0f) + scale * jf__randn(&rng));
            if (fwrite(chunk, 2, nb, f) != nb) {
                st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
                break;
            }
            done += nb;
        }
    }
    free(chunk);
    free(v.t);
    if (f && fclose(f) != 0 && !st)
        st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    return st;
}
