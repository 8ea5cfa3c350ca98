/*
 * jf_model.h — the built-in JanusFlow runtime: tensors on OpenBLAS, weights loaded from the
 * released safetensors files unchanged, the DeepSeek/CLIP byte-level BPE tokenizer, and the
 * understanding path (SigLIP → aligner → LLaMA decoder with a KV cache).
 *
 * The model takes tensors and token ids, not records: image decoding and resizing are the
 * caller's (jf_shards.h has them), the model says which size, background and normalisation it
 * wants (jf_janus_image_spec).
 */
#ifndef JF_MODEL_H
#define JF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---- */

typedef enum jf_model_status {
    JF_MODEL_OK = 0,
    JF_MODEL_EARG = 2,
    JF_MODEL_EIO = 3,
    JF_MODEL_EFORMAT = 6,  /* a file that is not what it claims, or an unsupported variant */
    JF_MODEL_ENOMEM = 7,
    JF_MODEL_ENOTFOUND = 9,
    JF_MODEL_ESHAPE = 14,  /* a tensor of the wrong shape or dtype */
    JF_MODEL_ELIMIT = 12   /* a prompt longer than the context, a header too large */
} jf_model_status;

typedef struct jf_model_error {
    jf_model_status code;
    char msg[1024];
} jf_model_error;

/* ---- threads ---- */

/* The process-wide worker pool used by every kernel (and OpenBLAS is told the same count).
 * 0 = all cores. Call before loading a model; later calls resize the pool. */
void jf_model_set_threads(int n);
int jf_model_threads(void);

/* ---- weight files: safetensors and PyTorch checkpoints ---- */

typedef enum jf_dtype { JF_F32 = 0, JF_F16 = 1, JF_BF16 = 2, JF_I64 = 3, JF_I32 = 4, JF_U8 = 5, JF_DTYPE_OTHER = 99 } jf_dtype;
const char *jf_dtype_name(jf_dtype t);
/* IEEE binary16 <-> float: round to nearest even (overflow to ±inf, NaN kept NaN), exact back. */
uint16_t jf_f32_to_f16(float f);
float jf_f16_to_f32(uint16_t h);

typedef struct jf_tensor_info {
    const char *name;
    jf_dtype dtype;
    int ndim;
    int64_t shape[8];
    const void *data;   /* mmapped, read-only */
    size_t bytes;
    const char *file;   /* the shard it lives in */
} jf_tensor_info;

typedef struct jf_weights jf_weights;

/* Opens a model directory's weights: model.safetensors, or model.safetensors.index.json with
 * its shards; or one file: safetensors, or a PyTorch checkpoint of a state dict (torch.save's
 * zip container or the legacy one, recognised by content; nested dicts give dotted names).
 * Headers are checked against the file sizes (offsets inside the data, no overlaps); files are
 * mmapped, not read. A checkpoint's pickle is interpreted, never executed: only the opcodes and
 * globals of a state dict are accepted, anything else is refused with its offset. */
jf_model_status jf_weights_open(const char *path, jf_weights **out, jf_model_error *err);
void jf_weights_close(jf_weights *st);
size_t jf_weights_count(const jf_weights *st);
const jf_tensor_info *jf_weights_at(const jf_weights *st, size_t i);
const jf_tensor_info *jf_weights_find(const jf_weights *st, const char *name);
/* The tensor, checked for dtype (any of BF16/F16/F32 when want == JF_DTYPE_OTHER) and shape
 * (dims < 0 in `shape` are not checked). The error names the tensor and both shapes. */
jf_model_status jf_weights_get(const jf_weights *st, const char *name, jf_dtype want, int ndim,
                                   const int64_t *shape, const jf_tensor_info **out, jf_model_error *err);

/* XXH3-64 of every tensor's name, dtype, shape and bytes, in name order: the same for the same
 * weights however they are split into files or ordered (16 hex digits into out). Reads all of
 * the weights (about 0.5 s for the 4 GB JanusFlow-1.3B when cached). */
jf_model_status jf_weights_content_hash(const jf_weights *w, char out[17], jf_model_error *err);

/* ---- tokenizer (Hugging Face tokenizer.json, byte-level BPE) ---- */

typedef struct jf_tokenizer jf_tokenizer;

/* Loads tokenizer.json: added tokens with their flags, the normalizer, the pre-tokenizer
 * pipeline (Split with regexes, Digits, ByteLevel, Whitespace), BPE (merges by rank, optional
 * end-of-word suffix), the post-processor (Template/Roberta/Bert) and the ByteLevel decoder. */
jf_model_status jf_tokenizer_load(const char *path, jf_tokenizer **out, jf_model_error *err);
/* The same from the text of a tokenizer.json (NUL-terminated); `name` labels messages. */
jf_model_status jf_tokenizer_load_json(const char *json, const char *name, jf_tokenizer **out, jf_model_error *err);
/* A CLIP tokenizer from the vocab.json + merges.txt pair (the form Hugging Face's CLIPTokenizer
 * and OpenAI's files use), built as Hugging Face's fast CLIP tokenizer: NFC, whitespace runs to
 * one space, lowercase, CLIP's pre-tokenizer regex, byte-level BPE with "</w>", SOT/EOT. */
jf_model_status jf_tokenizer_load_clip(const char *vocab_json, const char *merges_txt, jf_tokenizer **out,
                                       jf_model_error *err);
void jf_tokenizer_free(jf_tokenizer *t);
/* Token ids of a UTF-8 text (invalid bytes are taken as they come, as Hugging Face does with
 * lossy input). add_special = 1 applies the post-processor (e.g. BOS). Returns the count,
 * or -1 (err set); *ids is malloc'd. */
long jf_tokenizer_encode(jf_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                         jf_model_error *err);
/* UTF-8 text of ids (invalid byte sequences become U+FFFD); skip_special drops special tokens.
 * Returns a malloc'd string. */
char *jf_tokenizer_decode(jf_tokenizer *t, const int32_t *ids, size_t n, int skip_special);
/* Id of a token string (vocabulary or added token), or -1. */
int32_t jf_tokenizer_token_id(const jf_tokenizer *t, const char *token);
/* Adds a special token if absent (the processor's rule for image tags); returns its id. */
int32_t jf_tokenizer_add_special(jf_tokenizer *t, const char *token);
/* Largest id + 1. */
int32_t jf_tokenizer_size(const jf_tokenizer *t);
const char *jf_tokenizer_id_token(const jf_tokenizer *t, int32_t id);

/* ---- JanusFlow ---- */

typedef struct jf_janus jf_janus;

/* The generation heads as config.json describes them (official uvit.py; JanusFlow-1.3B in
 * brackets). present = 0: the directory has no vision_gen_enc/dec_config (understanding only;
 * the official loader refuses such a directory). */
typedef struct jf_janus_gen_config {
    int present;
    int channels;        /* encoder width, block_out_channels[-1] [768] */
    int latent_channels; /* input_channels [4]: the SDXL-VAE latent */
    int patch;           /* kernel_size = stride [2] */
    int enc_blocks, dec_blocks; /* ConvNeXt blocks in the middle [2, 2] */
    int dec_in, dec_channels, dec_out, upsamples; /* [768, 768, 4, 1] */
    double norm_eps;     /* [1e-6] */
    int latent_side;     /* the latent grid [48]: the official code's fixed 384/8; jf's tiny random
                          * models name theirs as "latent_size" in vision_gen_dec_config.params
                          * (the official constructors take and ignore unknown params) */
} jf_janus_gen_config;

typedef struct jf_janus_config {
    /* language model */
    int hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, max_positions;
    double rms_eps, rope_theta;
    /* understanding encoder (SigLIP ViT) */
    int vit_width, vit_layers, vit_heads, vit_mlp, patch, image_size, image_tokens;
    double ln_eps;
    /* image preprocessing (preprocessor_config.json) */
    float image_mean[3], image_std[3];
    int do_normalize;
    double rescale;
    int min_size;
    /* special ids (processor rule, spec §3.3) */
    int32_t bos, eos, pad, image_tag, image_start, image_end, image_gen;
    char system_prompt[1024];
    /* the SigLIP model_name's depth in the official table, from which select_layer counts */
    int vit_table_layers;
    jf_janus_gen_config gen;
} jf_janus_config;

typedef struct jf_janus_load_stats {
    size_t tensors, used_tensors, unknown_tensors;
    uint64_t parameters;
    uint64_t bytes;
    int n_bf16, n_f16, n_f32;
} jf_janus_load_stats;

/* Loads a JanusFlow model directory as released: config.json, preprocessor/processor configs,
 * special_tokens_map.json, tokenizer files, and the safetensors weights (mmapped, kept in their
 * dtype). Every expected tensor is checked for presence, dtype and shape; unknown ones are
 * listed (on_unknown may be NULL) and ignored. */
jf_model_status jf_janus_load(const char *dir, jf_janus **out, jf_janus_load_stats *stats,
                              void (*on_unknown)(void *user, const char *name), void *user,
                              jf_model_error *err);
void jf_janus_free(jf_janus *m);
/* Keeps f32 copies of the language model's and SigLIP's matrices for the matrix products of
 * prefills (4 bytes a parameter more: ≈ 6.4 GB at the release's size), so that they are not
 * widened from BF16 at every call; decoding still reads the stored dtype. The numbers are the
 * same. All or nothing (JF_MODEL_ENOMEM leaves the model as it was). */
jf_model_status jf_janus_keep_f32(jf_janus *m, jf_model_error *err);
const jf_janus_config *jf_janus_get_config(const jf_janus *m);
/* jf_weights_content_hash of the model's weights (computed once, then kept; "" on failure). */
const char *jf_janus_weights_hash(jf_janus *m);
jf_tokenizer *jf_janus_tokenizer(jf_janus *m);

/* What an input image must be: size x size RGB, the source resized so that its long side is
 * `size` (Pillow bicubic), centred on a `background` square; then value * rescale, then
 * (v - mean) / std when normalize. */
typedef struct jf_janus_image_spec {
    int size, min_size;
    uint8_t background[3];
    float mean[3], std[3];
    double rescale;
    int normalize;
} jf_janus_image_spec;
jf_janus_image_spec jf_janus_image_spec_of(const jf_janus *m);

/* An RGB image already size x size (resized and padded by the caller) → CHW floats as the
 * model wants them: value × rescale in double, cast to float, then (v − mean) / std in float
 * (the official processor's arithmetic, for bit-level agreement). */
void jf_janus_image_to_pixels(const jf_janus_image_spec *spec, const uint8_t *rgb, float *pixels);

/* SigLIP features of one preprocessed image (CHW floats) → [image_tokens, vit_width]. */
jf_model_status jf_janus_encode_image(jf_janus *m, const float *pixels, float *features, jf_model_error *err);

typedef struct jf_gen_params {
    int max_new_tokens;   /* default 512 */
    float temperature;    /* 0 = greedy (default) */
    float top_p;          /* default 0.95 with temperature > 0 */
    uint64_t seed;
    /* (jf_janus_generate) every step's logits [vocab], before its token is picked: step 0 is the
     * prefill's last position; may be NULL. For parity checks against other implementations. */
    void (*on_logits)(void *user, size_t step, const float *logits, int vocab);
    void *logits_user;
    /* (jf_janus_generate_batch) prefill in two stages — the prompt up to its last image, then the
     * rest — computing the first stage once for requests whose prompts and images agree up to
     * there (several questions about one image: one SigLIP pass and one long prefill), and the
     * rests of all requests together in one pass over the weights. The numbers differ from a
     * one-stage prefill, and between batch compositions, only by float rounding (the tests see
     * the same answers). Counted in *shared_prefixes when that is not NULL. */
    int share_image_prefix;
    size_t *shared_prefixes;
} jf_gen_params;
jf_gen_params jf_gen_default_params(void);

/* ---- text to image: rectified flow with classifier-free guidance (spec §5) ---- */
typedef struct jf_t2i_params {
    int steps;           /* Euler steps on the uniform grid t_k = k/steps [30] */
    double cfg;          /* guidance weight w: v = w·v_cond − (w−1)·v_uncond [2.0] */
    int match_reference; /* round t·1000 and dt to bf16 as the official demo's bf16 tensors do */
    /* after step k's guided velocity v of image im, before z += dt·v (may be NULL) */
    void (*on_step)(void *user, int step, int steps, size_t image, const float *z, const float *v);
    void *user;
    /* when set, seconds spent are added here: [0] the prompt's keys and values, [1] timestep
     * embedding + encoder + aligner, [2] the language model, [3] aligner + decoder (benchmarks) */
    double *seconds;
} jf_t2i_params;
jf_t2i_params jf_t2i_default_params(void);
/* The generation prompt text: "User: {prompt}\n\nAssistant:<begin_of_image>" (malloc'd). */
char *jf_janus_t2i_prompt(const jf_janus *m, const char *prompt);
/* Samples n_images latents for one prompt: z holds the initial noise [n][latent_channels][side]
 * [side] (NCHW, side = config gen.latent_side) and receives the final latents (to be divided
 * by the VAE's scaling factor and decoded). The prompt's keys and values are computed once and
 * reused at every step (the official demo recomputes them; equal up to rounding). */
jf_model_status jf_janus_t2i(jf_janus *m, const char *prompt, float *z, size_t n_images, const jf_t2i_params *p,
                             jf_model_error *err);
/* The same from token ids (BOS … image start tag), for parity checks. */
jf_model_status jf_janus_t2i_ids(jf_janus *m, const int32_t *ids, size_t n_ids, float *z, size_t n_images,
                                 const jf_t2i_params *p, jf_model_error *err);
/* Standard-normal noise that depends only on (seed, index): element i of the stream keyed by
 * seed, whatever the thread count, batch size or count asked for (counter-based: SplitMix64 of
 * the seed and counter, Box–Muller in double). */
void jf_t2i_noise(uint64_t seed, float *z, size_t count);

/* ---- the SDXL-VAE (diffusers AutoencoderKL; spec §1.4, §2.9) ---- */
typedef struct jf_vae jf_vae;
typedef struct jf_vae_config {
    int in_channels, out_channels, latent_channels; /* [3, 3, 4] */
    int blocks, block_out[8];                       /* [4: 128, 256, 512, 512] */
    int layers_per_block, groups;                   /* [2, 32] */
    int sample_size;                                /* [1024] */
    double scaling_factor, shift_factor;            /* [0.13025, 0] */
    int mid_attention, quant_conv, post_quant_conv; /* [1, 1, 1] */
    int has_encoder;                                /* the file holds the encoder too */
    size_t tensors, used_tensors;
    uint64_t parameters;
} jf_vae_config;
/* Loads DIR/config.json and DIR/diffusion_pytorch_model.safetensors (F32, F16 or BF16; the
 * mid-block attention under either naming generation). Every tensor is checked by name and
 * shape; a file with tensors that are not the VAE's is refused. */
jf_model_status jf_vae_load(const char *dir, jf_vae **out, jf_model_error *err);
void jf_vae_free(jf_vae *v);
const jf_vae_config *jf_vae_get_config(const jf_vae *v);
/* jf_weights_content_hash of the VAE's weights (computed once, then kept). */
const char *jf_vae_weights_hash(jf_vae *v);
/* Latents [latent_channels][h][w] (already z / scaling_factor, + shift_factor) → image
 * [out_channels][h·2^(blocks−1)][w·2^(blocks−1)], about [−1, 1]. */
jf_model_status jf_vae_decode(jf_vae *v, const float *z, int h, int w, float *image, jf_model_error *err);
/* Image [in_channels][h][w] in [−1, 1] → the posterior's mean and log variance (clamped to
 * [−30, 20]), each [latent_channels][h / 2^(blocks−1)][w / 2^(blocks−1)]. */
jf_model_status jf_vae_encode(jf_vae *v, const float *image, int h, int w, float *mean, float *logvar,
                              jf_model_error *err);
/* A decoded image → 8-bit RGB (HWC): clamp to [−1, 1], (x + 1)/2 · 255, then rounded as
 * torchvision's save_image (the Janus README) or truncated as the JanusFlow demo (truncate = 1). */
void jf_vae_to_rgb8(const float *image, int h, int w, int truncate, uint8_t *rgb);
/* A random VAE in the diffusers layout: the SDXL-VAE's shapes (full = 1: 83,653,863 parameters)
 * or a tiny one (widths 8, 8, 16, 16; 1 resnet per block, 4 groups; factor 8). flags: 1 = the
 * deprecated attention names (query/key/value/proj_attn), 2 = F16 tensors (F32 otherwise). */
jf_model_status jf_vae_write_random(const char *dir, int full, uint64_t seed, int flags, jf_model_error *err);

/* The chat prompt of spec §3.2 for understanding: system prompt, "User: <image_placeholder>\n"
 * + question, "Assistant:". Returns malloc'd text. */
char *jf_janus_chat_prompt(const jf_janus *m, const char *question, int with_image);

/* Answers one prompt (its text may hold <image_placeholder> tags, one per image in order).
 * `on_token` (may be NULL) gets every new token's text as it is produced. Returns the
 * generated ids (malloc'd) and their count in *n. */
jf_model_status jf_janus_generate(jf_janus *m, const char *prompt, const float *const *images, size_t n_images,
                                  const jf_gen_params *params, void (*on_token)(void *user, const char *piece),
                                  void *user, int32_t **out_ids, size_t *n, jf_model_error *err);

/* Many prompts at once (benchmarks): each request has its own KV cache; decoding steps run every
 * unfinished sequence together, reading the weights once per step for the batch. Results equal
 * one-by-one generation (greedy); sampling uses seed + the request's index. A request that
 * cannot run (bad tags, too long) fails alone with its status and message; the call fails
 * only for the batch as a whole (out of memory). out_ids are malloc'd. */
typedef struct jf_janus_request {
    const char *prompt;
    const float *const *images;
    size_t n_images;
    int32_t *out_ids;
    size_t n_out;
    jf_model_status status;
    char error[512];
} jf_janus_request;
jf_model_status jf_janus_generate_batch(jf_janus *m, jf_janus_request *reqs, size_t n, const jf_gen_params *params,
                                        jf_model_error *err);

/* Memory a run needs, known before it starts: the mapped weights (resident as pages are
 * touched), the KV cache for prompt + new tokens, the prefill workspace (one allocation), the
 * SigLIP workspace when there are images, and per-thread scratch (widened weight blocks,
 * attention scores). */
typedef struct jf_janus_memory_plan {
    uint64_t weights_mapped, kv_cache, llm_activations, vision_activations, scratch, total;
} jf_janus_memory_plan;
jf_janus_memory_plan jf_janus_plan(const jf_janus *m, size_t prompt_tokens, size_t new_tokens, size_t images);

/* Lower-level entry points (tests, eval). The ids of a prompt: tokenized with BOS, each
 * <image_placeholder> expanded to begin_of_image + image_tokens placeholders + end_of_image
 * (spec §4); *n_images gets the number of tags (may be NULL). */
jf_model_status jf_janus_encode_prompt(jf_janus *m, const char *prompt, int32_t **ids, size_t *n, size_t *n_images,
                                       jf_model_error *err);
/* Starts a new sequence: runs the expanded ids (images as preprocessed pixels, one per
 * begin_of_image block, in order) and writes the logits [vocab] of the last position. */
jf_model_status jf_janus_prefill_logits(jf_janus *m, const int32_t *ids, size_t n_ids, const float *const *images,
                                        size_t n_images, float *logits, jf_model_error *err);
/* Appends one token to the sequence (KV cache) and writes the next logits. */
jf_model_status jf_janus_step_logits(jf_janus *m, int32_t id, float *logits, jf_model_error *err);
/* Keeps the first n_past positions of the current sequence and drops the rest of its KV cache, so
 * that several continuations of one prefilled prefix can be scored one after another (likelihood
 * ranking of options) without prefilling the prefix again. n_past must be 1..current length. */
jf_model_status jf_janus_rewind(jf_janus *m, size_t n_past, jf_model_error *err);
/* Length of the current sequence (0 before a prefill). */
size_t jf_janus_position(const jf_janus *m);

/* ---- FID Inception-v3 (evaluation.md §1.3) ---- */

typedef struct jf_inception jf_inception;
/* Loads the FID Inception weights as published: pytorch-fid's pt_inception-2015-12-05-*.pth or
 * torch-fidelity's weights-inception-2015-12-05-*.pth (either PyTorch container), or a
 * safetensors file with the same tensor names. Every BasicConv2d is checked for shape. */
jf_model_status jf_inception_load(const char *path, jf_inception **out, jf_model_error *err);
void jf_inception_free(jf_inception *m);
/* 16 hex digits identifying the weights (a hash of every tensor used). */
const char *jf_inception_weights_hash(const jf_inception *m);
/* pool_3 features [batch, 2048] of images [batch, 3, 299, 299] already resized and normalised
 * to the network's range ([-1, 1]; the preprocessing modes are the caller's). */
jf_model_status jf_inception_features(jf_inception *m, const float *images, int batch, float *features,
                                      jf_model_error *err);

/* Writes FID-Inception weights from a fixed formula (tests/reference/inception_ref.py documents
 * it) as safetensors with the published tensor names: the demo's and the tests' stand-in for
 * the real file, which cannot be shipped. */
jf_model_status jf_inception_write_formula(const char *path, jf_model_error *err);

/* ---- CLIP (evaluation.md §2) ---- */

typedef struct jf_clip jf_clip;
typedef struct jf_clip_config {
    int vocab, context, text_width, text_layers, text_heads;
    int vision_width, vision_layers, vision_heads, patch, image_size;
    int embed_dim, quick_gelu;
    int32_t sot, eot;
} jf_clip_config;

/* A Hugging Face CLIPModel directory as published (openai/clip-vit-large-patch14 and the B/32,
 * B/16 sizes): model.safetensors (or a .bin/.pth state dict path), config.json, tokenizer.json or
 * vocab.json + merges.txt. */
jf_model_status jf_clip_load(const char *dir, jf_clip **out, jf_model_error *err);
void jf_clip_free(jf_clip *m);
const jf_clip_config *jf_clip_get_config(const jf_clip *m);
jf_tokenizer *jf_clip_tokenizer(jf_clip *m);
/* ids[context] for a caption (prefix, e.g. "A photo depicts", prepended with a space when it has
 * none): SOT + tokens + EOT, padded with EOT. Long captions are truncated to SOT + 75 + EOT, or
 * with torchmetrics_slice cut to the context after SOT as torchmetrics does (EOT lost; pooling
 * then falls on the largest id, as the model's legacy argmax). *eot_pos is the pooled position,
 * *n_content the caption's token count before any cut. Returns 0 or -1. */
int jf_clip_tokenize(jf_clip *m, const char *text, const char *prefix, int torchmetrics_slice, int32_t *ids, int *eot_pos,
                     int *n_content);
/* Projected embeddings (not normalised): text from ids and the pooled position; image from
 * pixels [3][image_size][image_size] already normalised with CLIP's mean and std. */
jf_model_status jf_clip_encode_text(jf_clip *m, const int32_t *ids, int eot_pos, float *embedding, jf_model_error *err);
jf_model_status jf_clip_encode_image(jf_clip *m, const float *pixels, float *embedding, jf_model_error *err);
/* n images at once (pixels [n][3][size][size] → embeddings [n][embed_dim]): the numbers of one
 * by one up to float rounding, with each weight matrix packed once per batch, not per image. */
jf_model_status jf_clip_encode_images(jf_clip *m, const float *pixels, size_t n, float *embeddings,
                                      jf_model_error *err);

/* A small CLIP with formula weights in the Hugging Face layout (config.json, model.safetensors,
 * a byte-level tokenizer.json): the demo's and the tests' stand-in for the real checkpoints.
 * The formula is documented in tests/reference/clip_ref.py. */
typedef struct jf_clip_formula_shape {
    int vocab, context, text_width, text_layers, text_heads, text_mlp;
    int vision_width, vision_layers, vision_heads, vision_mlp, patch, image_size, embed_dim;
} jf_clip_formula_shape;
jf_clip_formula_shape jf_clip_tiny_shape(void);
jf_clip_formula_shape jf_clip_l14_shape(void); /* the ViT-L/14 sizes, for benchmarks (1.7 GB) */
jf_model_status jf_clip_write_formula(const char *dir, const jf_clip_formula_shape *shape, jf_model_error *err);

/* ---- the training objectives' forward passes (spec §6.1; train_fwd.c) ---- */

/* Teacher-forced next-token negative log-likelihoods. ids hold their image blocks expanded
 * (jf_janus_encode_prompt); labels are aligned with ids (−100: not scored) and, as in HF's
 * causal LM, position i's logits are scored against labels[i + 1]. nll (may be NULL) gets
 * −log p(labels[j] | ids[< j]) at each scored j and 0 elsewhere; *sum and *count the total and
 * the number of scored tokens (the AR loss is sum / count). Log-softmax in double. */
jf_model_status jf_janus_token_nll(jf_janus *m, const int32_t *ids, const int32_t *labels, size_t n,
                                   const float *const *images, size_t n_images, float *nll, double *sum, size_t *count,
                                   jf_model_error *err);

/* The velocity predicted for one rectified-flow training sample: prompt ids (BOS … image start
 * tag; the tag's place is taken by the time embedding, as in sampling), z_t
 * [latent_channels][side][side] and the network time t_net (1000·t). uncond = 1 is the dropped
 * prompt in the sampler's unconditional form: only BOS is a key, the image positions stay where
 * the prompt puts them. With `hidden`, the residual stream after decoder layer hidden_layer
 * (1-based: HF's hidden_states[hidden_layer]) at the grid² image positions → [grid², hidden].
 * v [latent_channels][side][side]. */
jf_model_status jf_janus_rf_velocity(jf_janus *m, const int32_t *ids, size_t n_ids, int uncond, const float *z_t,
                                     float t_net, int hidden_layer, float *hidden, float *v, jf_model_error *err);

/* REPA's projector h_φ (the release has none): Linear(in, width) → SiLU → Linear(width, width) →
 * SiLU → Linear(width, out), REPA's build_mlp. */
typedef struct jf_repa jf_repa;
/* From a safetensors file of an nn.Sequential's state dict: tensors ending in 0.weight 0.bias
 * 2.weight 2.bias 4.weight 4.bias under any common prefix (F32/F16/BF16), checked against in
 * (the LLM's hidden size) and out (the SigLIP width). */
jf_model_status jf_repa_load(const char *path, int in, int out, jf_repa **r, jf_model_error *err);
/* A random one, nn.Linear's default init: weights then biases of each layer, uniform in
 * ±1/√fan_in, u = (SplitMix64(seed stream) >> 11)·2⁻⁵³ mapped to (2u − 1)·bound. */
jf_model_status jf_repa_random(int in, int width, int out, uint64_t seed, jf_repa **r, jf_model_error *err);
/* Writes it as F32 safetensors with the names 0.weight ... 4.bias (loadable by jf_repa_load and
 * by torch's load_state_dict into the nn.Sequential). */
jf_model_status jf_repa_save(const jf_repa *r, const char *path, jf_model_error *err);
void jf_repa_free(jf_repa *r);
void jf_repa_dims(const jf_repa *r, int *in, int *width, int *out);
/* x [rows, in] → y [rows, out]. */
jf_model_status jf_repa_project(const jf_repa *r, const float *x, size_t rows, float *y, jf_model_error *err);

/* ---- random models in the released layout (demo, benchmarks) ---- */

typedef struct jf_janus_random_shape {
    int hidden, heads, kv_heads, layers, intermediate, vocab;
    int vit_width, vit_heads, vit_layers, vit_mlp, patch, image_size;
    int gen_width; /* the generation heads' width (768 in the release) */
    int max_positions;
} jf_janus_random_shape;
jf_janus_random_shape jf_janus_tiny_shape(void); /* ~0.2 M parameters, 64 x 64 images */
jf_janus_random_shape jf_janus_full_shape(void); /* JanusFlow-1.3B: 587 tensors, 2,046,367,504 parameters */
/* The full widths (LLM 2048/5632/16 heads, SigLIP 1024/4096 at 384 px, generation heads 768) with one
 * block per tower and a 320-token vocabulary: ~136 M parameters, for full-size layer tests. */
jf_janus_random_shape jf_janus_layer_shape(void);

/* The tensor count and parameter count of the release's inventory at a shape. */
void jf_janus_random_inventory(const jf_janus_random_shape *shape, size_t *tensors, uint64_t *parameters);

/* Writes a model directory in the release's layout: config.json with every section the official
 * MultiModalityConfig reads (vision_und_enc_config with the select_layer that makes the official
 * builder take exactly the blocks written, vision_gen_enc_config, vision_gen_dec_config,
 * transformers_version), preprocessor/processor configs, special_tokens_map.json,
 * tokenizer_config.json, a byte-level BPE tokenizer.json, and model.safetensors with random BF16
 * weights for every tensor of the release under its official name. jf_janus_load takes every
 * shape; the official class fixes the aligner widths (SigLIP 1024, LLM 2048, generation 768),
 * so the official loader takes the full shape (jf_janus_full_shape) only. Deterministic. */
jf_model_status jf_janus_write_random(const char *dir, const jf_janus_random_shape *shape, uint64_t seed,
                                      jf_model_error *err);

#ifdef __cplusplus
}
#endif
#endif
