/* Private helpers of the model module. */
#ifndef JF_MODEL_INTERNAL_H
#define JF_MODEL_INTERNAL_H

#include "jf_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline jf_model_status jf__merr(jf_model_error *err, jf_model_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline jf_model_status jf__merr(jf_model_error *err, jf_model_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* ---- helpers (util.c) ---- */
/* A growable NUL-terminated byte buffer; oom is set when an append failed. */
typedef struct jf__mbuf {
    char *p;
    size_t len, cap;
    int oom;
} jf__mbuf;
int jf__mbuf_put(jf__mbuf *b, const void *s, size_t n);
/* A whole file, NUL-terminated and malloc'd (NULL with err set); files over `max` bytes are refused. */
char *jf__mread_file(const char *path, size_t max, size_t *len, jf_model_error *err);

/* ---- weight files (weights.c, torch_ckpt.c) ---- */
/* Appends a tensor (name copied; data borrowed from a mapping the weights own). */
jf_model_status jf__weights_add(jf_weights *w, const char *name, jf_dtype dtype, int ndim, const int64_t *shape,
                                const void *data, size_t bytes, const char *file, jf_model_error *err);
/* Hands a malloc'd buffer to the weights (freed with them); -1 when out of memory. */
int jf__weights_own(jf_weights *w, void *p);
/* 1: a zip-container PyTorch checkpoint, 2: the legacy container, 0: neither. */
int jf__is_torch_checkpoint(const uint8_t *p, size_t n);
jf_model_status jf__torch_load(jf_weights *w, const uint8_t *base, size_t size, const char *file, jf_model_error *err);

/* ---- the worker pool (ops.c) ---- */
/* OpenBLAS single-threaded (on = 1: kernels that run whole sub-problems per pool thread) or
 * back to the pool's thread count (on = 0). */
void jf__blas_single(int on);
/* Runs fn(user, i) for i in [0, n) over the pool's threads and the caller; called from inside
 * an item, it runs serially on that thread. */
void jf__parallel_for(size_t n, void (*fn)(void *user, size_t i), void *user);

/* 1 when a kernel run by this thread (or by pool items it dispatched) since the last call could
 * not get scratch memory and skipped its work; clears the flag. Every entry point that runs
 * kernels checks it before returning a result. */
int jf__ops_failed(void);

/* ---- weights in their stored dtype ---- */
typedef struct jf__w {
    const void *p;
    jf_dtype dt;
    int64_t rows, cols; /* a matrix [rows, cols] (or a vector with rows = 1) */
    const float *f32;   /* a widened copy the GEMMs use (jf_janus_keep_f32), or NULL: widened per call */
} jf__w;

/* Binds a float tensor (BF16/F16/F32) checked for ndim and shape (dims < 0 unchecked) as a
 * matrix [shape[0], product of the rest] (a vector: [1, n]); the error names the tensor. */
jf_model_status jf__weights_bind(const jf_weights *st, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                                 int64_t d3, jf__w *w, jf_model_error *err);

/* Copies (widens) n values of w starting at element `off` into f32. */
void jf__w_to_f32(const jf__w *w, size_t off, size_t n, float *out);
/* The whole of w widened to f32, malloc'd (in parallel), or NULL when out of memory. */
float *jf__w_widen(const jf__w *w);

/* ---- the generation heads (gen_heads.c) ---- */
/* A tensor binder: checks and binds `name`, remembering it as used. */
typedef jf_model_status (*jf__bind_fn)(void *ctx, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                                       int64_t d3, jf__w *w, jf_model_error *err);
typedef struct jf__convnext {
    jf__w dw_w, dw_b, norm, l1_w, l1_b, grn_g, grn_b, l2_w, l2_b, map_w, map_b;
} jf__convnext;
typedef struct jf__gen_heads {
    jf__w enc_aligner_w, enc_aligner_b, dec_aligner_norm, dec_aligner_w, dec_aligner_b;
    jf__w time_l1_w, time_l1_b, time_l2_w, time_l2_b, in_conv_w, in_conv_b;
    jf__convnext *enc, *dec;
    jf__w dec_input_norm, out_norm, out_conv_w, out_conv_b;
} jf__gen_heads;
/* Reads vision_gen_enc_config / vision_gen_dec_config of a parsed config.json (a yajl_val);
 * g->present = 0 when neither is there (an understanding-only directory). */
jf_model_status jf__gen_config_read(const void *config_root, const char *dir, int hidden, jf_janus_gen_config *g,
                                    jf_model_error *err);
jf_model_status jf__gen_bind(const jf_janus_gen_config *g, int hidden, jf__bind_fn bind, void *ctx, jf__gen_heads *h,
                             jf_model_error *err);
void jf__gen_heads_free(jf__gen_heads *h);

/* ---- ops (ops.c) ---- */
/* y[m, rows] = x[m, cols] · Wᵀ (+ bias), any stored dtype; sgemm for m ≥ 16, a threaded
 * dot-product kernel reading the stored weights once for fewer rows. */
void jf__linear(const float *x, size_t m, const jf__w *w, const jf__w *bias, float *y);
void jf__rmsnorm(const float *x, size_t m, size_t n, const jf__w *w, double eps, float *y);
void jf__layernorm(const float *x, size_t m, size_t n, const jf__w *w, const jf__w *b, double eps, float *y);
void jf__gelu(float *x, size_t n);
void jf__silu(float *x, size_t n);
void jf__quick_gelu(float *x, size_t n);
void jf__softmax_row(float *x, size_t n);
/* RoPE, rotate-half, on [m, heads, head_dim] with positions pos0.. */
void jf__rope(float *x, size_t m, int heads, int head_dim, const int *positions, double theta);
/* softmax(q kᵀ · scale [+ causal]) v for [tq, heads, d] queries over [tk, kv_heads, d] keys and
 * values; causal masks key j > q_offset + i. */
void jf__attention(const float *q, size_t tq, const float *k, const float *v, size_t tk, int heads, int kv_heads,
                   int d, float scale, int causal, size_t q_offset, float *out);
/* The same over keys and values in two segments — pn rows in (pk, pv) (a prefix shared by
 * several sequences, not copied), then tk in (k, v) — as if concatenated; q_offset counts from
 * the first segment's start. The value product is summed per segment (rounding may differ from
 * one concatenated product in the last bits). */
void jf__attention_split(const float *q, size_t tq, const float *pk, const float *pv, size_t pn, const float *k,
                         const float *v, size_t tk, int heads, int kv_heads, int d, float scale, int causal,
                         size_t q_offset, float *out);
/* Conv2d with stride = kernel (a patch embedding): [c, h, w] → [(h/k)*(w/k), out]. */
void jf__patch_embed(const float *img, int c, int h, int w, int k, const jf__w *weight, const jf__w *bias, float *out);

/* Convolution on [C][B][H][W] activations with f32 weights [O][C][kh][kw], optional bias and
 * ReLU, into [O][B][OH][OW]. Returns 0, or -1 when out of memory. */
int jf__conv2d(const float *x, int C, int B, int H, int W, const float *w, const float *bias, int O, int kh, int kw, int sh,
               int sw, int ph, int pw, int relu, float *y);
/* A 3×3 convolution with stride 1 and padding 1 of one image [C][H][W] with weights [O][C][3][3]
 * and optional bias into [O][H][W], as nine shifted GEMMs on a padded copy (no im2col); work
 * holds jf__conv3x3_scratch(C, H, W, O) floats. */
size_t jf__conv3x3_scratch(int C, int H, int W, int O);
void jf__conv3x3(const float *x, int C, int H, int W, const float *w, const float *bias, int O, float *work, float *y);
/* Pooling of `planes` H x W planes (floor mode, kernel k ≤ 32): mode 0 max (padding never wins),
 * 1 average over the valid cells (count_include_pad=False), 2 average counting the padding —
 * PyTorch's CPU results bit for bit. */
void jf__pool2d(const float *x, int planes, int H, int W, int k, int s, int p, int mode, float *y);

/* ---- single modules of a loaded JanusFlow (janus.c), for the per-module goldens ---- */
typedef enum jf__janus_module {
    JF__MOD_VIT_BLOCK, /* SigLIP block `index`: [rows, vit_width] → [rows, vit_width] */
    JF__MOD_VIT_NORM,  /* the tower's final LayerNorm */
    JF__MOD_ALIGNER,   /* [rows, vit_width] → [rows, hidden] */
    JF__MOD_LLM_LAYER, /* decoder layer `index` at positions 0..rows-1: [rows, hidden] → [rows, hidden];
                        * split > 0 runs rows [0, split) first, then the rest through the KV cache */
    JF__MOD_LM_HEAD    /* final RMSNorm + lm_head: [rows, hidden] → [rows, vocab] */
} jf__janus_module;
jf_model_status jf__janus_module_run(jf_janus *m, jf__janus_module mod, int index, const float *in, size_t rows,
                                     size_t split, float *out, jf_model_error *err);

/* ---- the language model for the generation path (janus.c) ---- */
/* One sequence's KV cache. */
typedef struct kv_seq jf__kv;
jf__kv *jf__kv_create(void);
void jf__kv_free(jf__kv *kv);
size_t jf__kv_len(const jf__kv *kv);
const jf__gen_heads *jf__janus_gen_heads(const jf_janus *m);
/* Token embeddings of ids (no image positions) → x [n, hidden]. */
jf_model_status jf__janus_embed_ids(jf_janus *m, const int32_t *ids, size_t n, float *x, jf_model_error *err);
/* All decoder layers on T rows x [T, hidden] after the cached positions, at RoPE positions
 * pos0.. (pos0 < 0: from the cache length); x becomes the final-normed hidden states (the
 * official LlamaModel's last_hidden_state). keep = 1 appends the rows' keys and values to the
 * cache; keep = 0 leaves the cache as it was (the generation steps reuse the prompt's). */
jf_model_status jf__janus_llm_hidden(jf_janus *m, jf__kv *kv, float *x, size_t T, long pos0, int keep,
                                     jf_model_error *err);
/* n sequences of T new rows each (x [n·T, hidden], sequence-major), sequence i after the cached
 * positions of prefix[i] (read only; several sequences may share one) at RoPE positions
 * pos0[i]..; the linears run over all n·T rows at once. x becomes the final-normed hidden
 * states. */
jf_model_status jf__janus_llm_extend_batch(jf_janus *m, const jf__kv *const *prefix, size_t n, float *x, size_t T,
                                           const long *pos0, jf_model_error *err);

/* For the training objectives (train_fwd.c): the prompt's embeddings with its image blocks
 * (spec §4); decoder layers [l0, l1) on T rows after kv's cached positions at RoPE positions
 * pos0.. (kv->n_past grows by T; the caller may set it back to run the next layers on the same
 * rows); the final RMSNorm, and the lm_head on normed rows. */
jf_model_status jf__janus_embed_prompt(jf_janus *m, const int32_t *ids, size_t n, const float *const *images,
                                       size_t n_images, float *x, jf_model_error *err);
jf_model_status jf__janus_llm_layers(jf_janus *m, jf__kv *kv, float *x, size_t T, int l0, int l1, long pos0,
                                     jf_model_error *err);
void jf__janus_final_norm(const jf_janus *m, const float *x, size_t rows, float *y);
void jf__janus_lm_head(const jf_janus *m, const float *normed, size_t rows, float *logits);
/* Rewinds a KV cache to n positions (n ≤ its length). */
void jf__kv_set_len(jf__kv *kv, size_t n);

/* The next SplitMix64 output of a state (random_model.c). */
uint64_t jf__splitmix(uint64_t *state);
/* An approximately normal deviate from a SplitMix64 state (random weights; random_model.c). */
float jf__randn(uint64_t *state);

/* ---- the generation heads' forward passes (gen.c); maps are channels-last [side²][C] ---- */
/* temb [hidden] of timestep t (0…1000 scale); scratch holds channels + hidden floats. */
void jf__gen_time_embed(const jf_janus *m, float t, float *temb, float *scratch);
/* One ConvNeXt block with FiLM on x [side²][C] in place, conditioned on cond [H]. */
void jf__gen_convnext(const jf__convnext *b, int C, int H, int side, double eps, float *x, const float *cond,
                      float *scratch);
/* Encoder: z [latent_channels][side][side] → x_emb [grid²][channels] (the skip) and, when
 * tokens is set, the aligned LLM inputs [grid²][hidden]. */
jf_model_status jf__gen_encode(jf_janus *m, const float *z, const float *temb, float *x_emb, float *tokens,
                               jf_model_error *err);
/* Decoder: the LLM's last hidden states of the image positions [grid²][hidden], the skip and
 * temb → velocity v [latent_channels][side][side]. */
jf_model_status jf__gen_decode(jf_janus *m, const float *hidden, const float *skip, const float *temb, float *v,
                               jf_model_error *err);

/* ---- single VAE modules (vae.c), for the per-module goldens ---- */
/* Resnet `index` of the encoder (decoder = 0) or decoder: index < 0 is mid-block resnet
 * −index − 1, else the blocks' resnets in order; x [C][H][W] → out [*out_channels][H][W]. */
jf_model_status jf__vae_run_resnet(jf_vae *m, int decoder, int index, float *x, int C, int H, int W, float *out,
                                   int *out_channels, jf_model_error *err);
/* The mid-block attention on x [C][H][W] in place (residual included). */
jf_model_status jf__vae_run_attention(jf_vae *m, int decoder, float *x, int C, int H, int W, jf_model_error *err);

#endif
