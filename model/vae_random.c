/* A random AutoencoderKL in the diffusers layout (config.json + diffusion_pytorch_model.safetensors):
 * the SDXL-VAE's shapes for benchmarks, a tiny one for tests and the demo. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

typedef struct vt {
    char name[112];
    int ndim;
    int64_t shape[4];
    int kind; /* 0 weight (1/sqrt(fan_in)), 1 norm weight (≈1), 2 bias */
} vt;

typedef struct vlist {
    vt *t;
    size_t n, cap;
    int bad;
} vlist;

static void put(vlist *l, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void put(vlist *l, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        vt *t = realloc(l->t, cap * sizeof *t);
        if (!t) {
            l->bad = 1;
            return;
        }
        l->t = t;
        l->cap = cap;
    }
    vt *t = &l->t[l->n++];
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

static void conv(vlist *l, const char *p, int64_t out, int64_t in, int64_t k)
{
    put(l, 0, 4, out, in, k, k, "%s.weight", p);
    put(l, 2, 1, out, 0, 0, 0, "%s.bias", p);
}

static void norm(vlist *l, const char *p, int64_t C)
{
    put(l, 1, 1, C, 0, 0, 0, "%s.weight", p);
    put(l, 2, 1, C, 0, 0, 0, "%s.bias", p);
}

static void resnet(vlist *l, const char *p, int64_t in, int64_t out)
{
    char n[112];
    snprintf(n, sizeof n, "%s.norm1", p);
    norm(l, n, in);
    snprintf(n, sizeof n, "%s.conv1", p);
    conv(l, n, out, in, 3);
    snprintf(n, sizeof n, "%s.norm2", p);
    norm(l, n, out);
    snprintf(n, sizeof n, "%s.conv2", p);
    conv(l, n, out, out, 3);
    if (in != out) {
        snprintf(n, sizeof n, "%s.conv_shortcut", p);
        conv(l, n, out, in, 1);
    }
}

static void mid(vlist *l, const char *half, int64_t C, int old_names)
{
    char n[112];
    for (int i = 0; i < 2; i++) {
        snprintf(n, sizeof n, "%s.mid_block.resnets.%d", half, i);
        resnet(l, n, C, C);
    }
    snprintf(n, sizeof n, "%s.mid_block.attentions.0.group_norm", half);
    norm(l, n, C);
    const char *names[2][4] = {{"to_q", "to_k", "to_v", "to_out.0"}, {"query", "key", "value", "proj_attn"}};
    for (int i = 0; i < 4; i++) {
        put(l, 0, 2, C, C, 0, 0, "%s.mid_block.attentions.0.%s.weight", half, names[old_names][i]);
        put(l, 2, 1, C, 0, 0, 0, "%s.mid_block.attentions.0.%s.bias", half, names[old_names][i]);
    }
}

static void inventory(vlist *l, const int *bo, int B, int L, int old_names)
{
    char n[112];
    conv(l, "encoder.conv_in", bo[0], 3, 3);
    int prev = bo[0];
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < L; j++) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.resnets.%d", b, j);
            resnet(l, n, j ? bo[b] : prev, bo[b]);
        }
        if (b < B - 1) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.downsamplers.0.conv", b);
            conv(l, n, bo[b], bo[b], 3);
        }
        prev = bo[b];
    }
    mid(l, "encoder", bo[B - 1], old_names);
    norm(l, "encoder.conv_norm_out", bo[B - 1]);
    conv(l, "encoder.conv_out", 8, bo[B - 1], 3);
    conv(l, "quant_conv", 8, 8, 1);
    conv(l, "post_quant_conv", 4, 4, 1);
    conv(l, "decoder.conv_in", bo[B - 1], 4, 3);
    mid(l, "decoder", bo[B - 1], old_names);
    prev = bo[B - 1];
    for (int b = 0; b < B; b++) {
        int out = bo[B - 1 - b];
        for (int j = 0; j <= L; j++) {
            snprintf(n, sizeof n, "decoder.up_blocks.%d.resnets.%d", b, j);
            resnet(l, n, j ? out : prev, out);
        }
        if (b < B - 1) {
            snprintf(n, sizeof n, "decoder.up_blocks.%d.upsamplers.0.conv", b);
            conv(l, n, out, out, 3);
        }
        prev = out;
    }
    norm(l, "decoder.conv_norm_out", bo[0]);
    conv(l, "decoder.conv_out", 3, bo[0], 3);
}

jf_model_status jf_vae_write_random(const char *dir, int full, uint64_t seed, int flags, jf_model_error *err)
{
    static const int full_bo[4] = {128, 256, 512, 512}, tiny_bo[4] = {8, 8, 16, 16};
    const int *bo = full ? full_bo : tiny_bo;
    int B = 4, L = full ? 2 : 1, groups = full ? 32 : 4, f16 = (flags & 2) != 0;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return jf__merr(err, JF_MODEL_EIO, "%s: %s", dir, strerror(errno));
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\n  \"_class_name\": \"AutoencoderKL\",\n  \"_diffusers_version\": \"0.18.0.dev0\",\n"
             "  \"act_fn\": \"silu\",\n  \"block_out_channels\": [%d, %d, %d, %d],\n"
             "  \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", "
             "\"DownEncoderBlock2D\"],\n  \"force_upcast\": true,\n  \"in_channels\": 3,\n  \"latent_channels\": 4,\n"
             "  \"layers_per_block\": %d,\n  \"norm_num_groups\": %d,\n  \"out_channels\": 3,\n  \"sample_size\": %d,\n"
             "  \"scaling_factor\": 0.13025,\n  \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", "
             "\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]\n}\n",
             bo[0], bo[1], bo[2], bo[3], L, groups, full ? 1024 : 64);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(buf, f) < 0 || fclose(f) != 0)
        return jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    vlist l = {0};
    inventory(&l, bo, B, L, flags & 1);
    if (l.bad) {
        free(l.t);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    /* the safetensors header, then each tensor's values in order */
    size_t cap = l.n * 200 + 256, len = 0, esize = f16 ? 2 : 4;
    char *h = malloc(cap);
    if (!h) {
        free(l.t);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < l.n; i++) {
        uint64_t count = 1;
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", l.t[i].name, f16 ? "F16" : "F32");
        for (int d = 0; d < l.t[i].ndim; d++) {
            count *= (uint64_t)l.t[i].shape[d];
            len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)l.t[i].shape[d]);
        }
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                (unsigned long long)(off + count * esize));
        off += count * esize;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    f = fopen(path, "wb");
    jf_model_status st = JF_MODEL_OK;
    uint64_t hl = len;
    if (!f || fwrite(&hl, 8, 1, f) != 1 || fwrite(h, 1, len, f) != len)
        st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    free(h);
    float *chunk = malloc((1 << 18) * sizeof *chunk);
    uint16_t *half = malloc((1 << 18) * sizeof *half);
    if (!st && (!chunk || !half))
        st = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    uint64_t rng = seed;
    for (size_t i = 0; !st && i < l.n; i++) {
        const vt *t = &l.t[i];
        uint64_t count = 1, fan_in = 1;
        for (int d = 0; d < t->ndim; d++)
            count *= (uint64_t)t->shape[d];
        for (int d = 1; d < t->ndim; d++)
            fan_in *= (uint64_t)t->shape[d];
        float scale = t->kind == 0 ? 1.0f / sqrtf((float)fan_in) : 0.1f;
        for (uint64_t done = 0; done < count;) {
            size_t nb = count - done < (1 << 18) ? (size_t)(count - done) : (1 << 18);
            for (size_t k = 0; k < nb; k++)
                chunk[k] = (t->kind == 1 ? 1.0f : 0.0f) + scale * jf__randn(&rng);
            size_t wrote;
            if (f16) {
                for (size_t k = 0; k < nb; k++)
                    half[k] = jf_f32_to_f16(chunk[k]);
                wrote = fwrite(half, 2, nb, f);
            } else {
                wrote = fwrite(chunk, 4, nb, f);
            }
            if (wrote != nb) {
                st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
                break;
            }
            done += nb;
        }
    }
    free(chunk);
    free(half);
    free(l.t);
    if (f && fclose(f) != 0 && !st)
        st = jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    return st;
}
