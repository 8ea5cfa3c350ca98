/*
 * jf_train.h — training batches from shard mixes, as JanusFlow's objectives consume them
 * (spec §6), and the three losses evaluated with the built-in model.
 *
 * A jf_train turns the items of a mix step (jf_mix_iter) into samples:
 *   understanding  the conversation in the chat template (system prompt, "User: …\n\n",
 *                  "Assistant: …<｜end▁of▁sentence｜>"), every image placeholder expanded to
 *                  begin_of_image + image_tokens placeholders + end_of_image, labels −100
 *                  except on the assistant replies and their end-of-sentence token; each image
 *                  letterboxed as the official processor does;
 *   caption        an image + caption sample as understanding data: "<image>Generate the
 *                  caption of this picture. <caption>" (paper §4.2), labels on the caption;
 *   generation     the image's short side resized to the crop size and a random square crop
 *                  (seeded per sample and epoch), its VAE latent × scaling factor (posterior
 *                  sample or mean) unless the record stores one, the prompt ids (chat form
 *                  "User: {prompt}\n\nAssistant:" + image start tag, or plain BOS prompt tag)
 *                  and, with probability prompt_drop, the prompt dropped to the sampler's
 *                  unconditional form; the RF draw: t = sigmoid(N(m, s)) and noise z0;
 *   text           BOS text EOS, labels on everything after BOS (or a text conversation).
 * Everything random is keyed by (seed, sample or draw), never by thread, rank or batch: the
 * same (mix, step, rank) gives the same bytes on any machine and thread count.
 *
 * Depends on shards (records, images, mixes), model (tokenizer, preprocessing, VAE, forward
 * passes) and eval (the .npz writer).
 */
#ifndef JF_TRAIN_H
#define JF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "jf_model.h"
#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jf_train_role {
    JF_TRAIN_AUTO = 0,  /* from the sample's kind (understanding, generation, text) */
    JF_TRAIN_UND = 1,
    JF_TRAIN_CAPTION = 2,
    JF_TRAIN_GEN = 3,
    JF_TRAIN_TEXT = 4
} jf_train_role;
const char *jf_train_role_name(jf_train_role r);
int jf_train_role_parse(const char *s, jf_train_role *r); /* 0 or -1 */

/* What happened to a sample. Anything but OK/TRUNCATED leaves the sample in the batch with no
 * scored tokens and no generation target (weight 0), counted and explained in `detail`. */
typedef enum jf_train_status {
    JF_TS_OK = 0,
    JF_TS_TRUNCATED,       /* longer than seq_len: cut to it (the labels past it are gone) */
    JF_TS_PLACEHOLDER,     /* image placeholders and images do not match in number */
    JF_TS_BAD_IMAGE,       /* no image, or one that does not decode */
    JF_TS_BAD_TEXT,        /* no conversation / caption / text, or a malformed conversation */
    JF_TS_BAD_LATENT,      /* a stored latent of the wrong shape or type */
    JF_TS_NO_TARGET,       /* nothing to score (e.g. a conversation without a reply) */
    JF_TS_COUNT
} jf_train_status;
const char *jf_train_status_name(jf_train_status s);

typedef struct jf_train_options {
    uint32_t seq_len;          /* longest sequence [4096] */
    int refuse_overlong;       /* 1: a longer sample is an error instead of truncated and counted */
    double prompt_drop;        /* generation prompts dropped for CFG [0.1] */
    double logit_mean, logit_std; /* t = sigmoid(n), n ~ N(mean, std) [0, 1] (SD3's default) */
    int latent_mean;           /* 1: the posterior mean; 0: a posterior sample [0] */
    jf_resample gen_resample;  /* the generation resize [bilinear: diffusers' training scripts] */
    int gen_plain;             /* 1: BOS prompt tag (pre-training form); 0: chat form [0] */
    int caption_chat;          /* 1: captions as a chat turn; 0: the paper's plain template [0] */
    int und_system_prompt;     /* conversations with the processor's system prompt [1] */
    int eval_mode;             /* loss scoring: no prompt drop, noise keyed by sample only */
    int threads;               /* image work in parallel [jf_model_threads()] */
    int crop_size;             /* generation crop; 0 = latent side × the VAE's factor (384) */
} jf_train_options;
jf_train_options jf_train_default_options(void);

typedef struct jf_train_sample {
    jf_mix_item item;
    char key[256];
    jf_train_role role;
    jf_train_status status;
    char detail[256];
    /* token ids: understanding/caption/text the whole sequence (image blocks expanded);
     * generation the prompt BOS … image start tag */
    int32_t *ids, *labels;
    size_t n_ids;
    /* understanding images, letterboxed: n_images × size² × 3 bytes */
    uint8_t *images;
    size_t n_images;
    /* generation */
    int dropped;               /* prompt dropped to the unconditional form */
    int crop[5];               /* resized width, height; crop x, y; side */
    uint8_t *crop_rgb;         /* side² × 3 */
    float *latent;             /* [C][S][S] × scaling factor; NULL without a VAE or stored latent */
    int latent_stored;         /* 1: from the latent store (jf_train_set_latents); 0: encoded here */
    struct jf__stored_latent *stored; /* private */
    float *noise;              /* z0 [C][S][S] */
    float t;                   /* in (0, 1) */
} jf_train_sample;

typedef struct jf_train_batch {
    uint64_t step;
    size_t n;
    jf_train_sample *samples;
    uint64_t status_counts[JF_TS_COUNT];
    /* generation targets: read from the latent store, encoded by the VAE, or neither (no VAE
     * and not in the store: the sample carries its crop only) */
    uint64_t latents_stored, latents_encoded, latents_missing;
} jf_train_batch;
void jf_train_batch_free(jf_train_batch *b); /* frees the contents */

typedef struct jf_train jf_train;
/* The model gives the tokenizer, special ids, preprocessing and grid; the VAE (may be NULL)
 * encodes generation crops. All are borrowed and must outlive the builder. */
jf_status jf_train_create(jf_store *st, jf_mix *mix, jf_janus *model, jf_vae *vae, const jf_train_options *opt,
                          jf_train **out, jf_error *err);
void jf_train_destroy(jf_train *t);
/* The role of mix source `source` (default AUTO). */
jf_status jf_train_set_role(jf_train *t, const char *source_name, jf_train_role role, jf_error *err);
/* The next step of the iterator as one batch (the items of one step for this slice). Returns
 * JF_ENOTFOUND at the end. */
jf_status jf_train_next(jf_train *t, jf_mix_iter *it, jf_train_batch *b, jf_error *err);
/* One sample by row id (loss scoring of a whole subset): epoch 0, draw = sample id. */
jf_status jf_train_sample_of(jf_train *t, int64_t sample_id, jf_train_role role, jf_train_batch *b, jf_error *err);

/* Latents stored by jf_train_encode_latents (a dataset keyed by sample key; borrowed). A
 * generation sample found there takes the stored crop and moments instead of the encoder's
 * (the posterior sample is still drawn here, with the same key); one whose stored latent does
 * not fit (shape, crop size, another VAE, the image's size) is JF_TS_BAD_LATENT. Samples not in
 * the store are encoded when a VAE was given. */
jf_status jf_train_set_latents(jf_train *t, jf_store *latents, jf_error *err);

/* ---- stored latents (jf shard encode-latents) ---- */
typedef struct jf_latent_params {
    int crop_size;           /* the training crop [384] */
    int center;              /* 1: torchvision's centre crop [1]; 0: the builder's crop for (seed, epoch) */
    uint64_t seed, epoch;    /* center = 0: the mix seed and epoch whose crops to encode */
    jf_resample resample;    /* the short-side resize [bilinear, as the builder] */
    int f32;                 /* store float32 moments instead of float16 */
    unsigned part_k, part_n; /* samples i (in the order given) with i % part_n == part_k [0/1] */
    int threads;             /* image decoding [jf_model_threads()] */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void (*on_problem)(void *user, int64_t sample_id, const char *key, const char *why);
    void *user;
} jf_latent_params;
jf_latent_params jf_latent_default_params(void);
typedef struct jf_latent_report {
    uint64_t selected, in_part;
    uint64_t encoded, skipped;  /* skipped: already in the store (a rerun) */
    uint64_t bad;               /* no image, or one that does not decode: named through on_problem */
    double seconds, encode_seconds;
} jf_latent_report;
/* Encodes the generation crops of the samples `ids` (row ids of src) into `out` (a dataset,
 * see train/latents.c for the layout), skipping keys `out` already holds: a rerun after a kill
 * finishes the job. With part_n > 1 `out` records the job's fingerprint and part for
 * jf_store_merge. */
jf_status jf_train_encode_latents(jf_store *src, const int64_t *ids, size_t n, jf_vae *vae, jf_store *out,
                                  const jf_latent_params *p, jf_latent_report *r, jf_error *err);

/* Writes a batch as .npz (stored, not deflated: pixel arrays do not compress); the member
 * names are documented in train/BATCHES.md. pack = 1 packs the sequences into rows of
 * seq_len with position ids restarting per sample. */
jf_status jf_train_write_npz(jf_train *t, const jf_train_batch *b, int pack, const char *path, jf_error *err);
/* The same .npz bytes in memory (*buf malloc'd; the Python binding's batches). */
jf_status jf_train_batch_npz(jf_train *t, const jf_train_batch *b, int pack, uint8_t **buf, size_t *len, jf_error *err);

/* ---- losses (spec §6.1) ---- */
typedef struct jf_train_loss_options {
    int repa_layer;          /* LLM hidden states after this decoder layer (1-based) [6] */
    double repa_weight;      /* [1] */
    const jf_repa *repa;     /* NULL: no REPA term */
    const float *fixed_t;    /* eval_mode: the RF loss is the mean over these t (n_fixed_t of them) */
    int n_fixed_t;
} jf_train_loss_options;
jf_train_loss_options jf_train_default_loss_options(void);

typedef struct jf_train_loss {
    jf_train_role role;
    int scored;              /* 0: status kept it out */
    double ar;               /* mean NLL over the reply tokens */
    size_t ar_tokens;
    double rf;               /* mean squared error of the velocity over the latent */
    double repa;             /* −mean cosine similarity (REPA) */
    double total;            /* ar, or rf + repa_weight · repa */
} jf_train_loss;
jf_status jf_train_loss_of(jf_train *t, const jf_train_sample *s, const jf_train_loss_options *o, jf_train_loss *out,
                           jf_error *err);

#ifdef __cplusplus
}
#endif
#endif /* JF_TRAIN_H */
