/* Training batches from mix steps: records → token ids, labels, letterboxed images, generation
 * crops, latents and RF draws (jf_train.h). Three phases per batch: the records are read and
 * tokenized in order on the calling thread (the store and the tokenizer are not shared between
 * threads), the images decoded and resampled in parallel, then the VAE (which has its own
 * threads) encodes the crops. */
#include "jf_train.h"
#include "train_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static const char *const role_names[] = {"auto", "understanding", "caption", "generation", "text"};
static const char *const status_names[] = {"ok", "truncated", "placeholder_mismatch", "bad_image",
                                           "bad_text", "bad_latent", "no_target"};

const char *jf_train_role_name(jf_train_role r) { return r <= JF_TRAIN_TEXT ? role_names[r] : "?"; }
const char *jf_train_status_name(jf_train_status s) { return s < JF_TS_COUNT ? status_names[s] : "?"; }

int jf_train_role_parse(const char *s, jf_train_role *r)
{
    static const char *const alias[] = {"auto", "und", "caption", "gen", "text"};
    for (int i = 0; i <= JF_TRAIN_TEXT; i++)
        if (!strcmp(s, role_names[i]) || !strcmp(s, alias[i])) {
            *r = (jf_train_role)i;
            return 0;
        }
    return -1;
}

jf_train_options jf_train_default_options(void)
{
    jf_train_options o = {.seq_len = 4096, .prompt_drop = 0.1, .logit_mean = 0, .logit_std = 1,
                          .gen_resample = JF_RESAMPLE_BILINEAR, .und_system_prompt = 1};
    return o;
}

/* ---- keyed randomness ---- */

uint64_t jf__train_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t jf__train_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
    uint64_t h = jf__train_mix64(seed + 0x9E3779B97F4A7C15ull * (tag + 1));
    h = jf__train_mix64(h ^ (a + 0x632BE59BD9B4E019ull));
    return jf__train_mix64(h ^ (b + 0x8CB92BA72F3D8DD7ull));
}

/* uniform in [0, 1) from a key */
static double unit(uint64_t key) { return (double)(jf__train_mix64(key) >> 11) * 0x1p-53; }

/* ---- the builder ---- */

jf_status jf_train_create(jf_store *st, jf_mix *mix, jf_janus *model, jf_vae *vae, const jf_train_options *opt,
                          jf_train **out, jf_error *err)
{
    jf_train *t = calloc(1, sizeof *t);
    if (!t)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    t->st = st;
    t->mix = mix;
    t->m = model;
    t->vae = vae;
    t->o = opt ? *opt : jf_train_default_options();
    if (t->o.threads < 1)
        t->o.threads = jf_model_threads();
    t->c = jf_janus_get_config(model);
    t->tok = jf_janus_tokenizer(model);
    t->spec = jf_janus_image_spec_of(model);
    const jf_mix_info *mi = mix ? jf_mix_get_info(mix) : NULL;
    t->seed = mi ? mi->seed : 0;
    t->n_sources = mi ? mi->n_sources : 0;
    t->roles = calloc(t->n_sources ? t->n_sources : 1, sizeof *t->roles);
    t->rec_pool = NULL;
    jf_status s = t->roles ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    const jf_janus_gen_config *g = &t->c->gen;
    t->lat_c = g->present ? g->latent_channels : 4;
    t->lat_s = g->present ? g->latent_side : 48;
    int factor = 8;
    if (vae) {
        const jf_vae_config *vc = jf_vae_get_config(vae);
        factor = 1 << (vc->blocks - 1);
        if (!vc->has_encoder && !s)
            s = jf_error_set(err, JF_EARG, "the VAE has no encoder weights: generation latents cannot be computed");
        if (vc->latent_channels != t->lat_c && !s)
            s = jf_error_set(err, JF_EARG, "the VAE's latents have %d channels, the model's generation heads take %d",
                             vc->latent_channels, t->lat_c);
    }
    t->crop = t->o.crop_size > 0 ? t->o.crop_size : t->lat_s * factor;
    if (!s && vae && t->crop != t->lat_s * factor)
        s = jf_error_set(err, JF_EARG, "a %d px crop gives %d-px latents; the model's generation grid takes %d",
                         t->crop, t->crop / factor, t->lat_s);
    if (!s && t->o.seq_len < 16)
        s = jf_error_set(err, JF_EARG, "seq_len %u is too short", t->o.seq_len);
    if (!s && !(t->o.prompt_drop >= 0 && t->o.prompt_drop <= 1))
        s = jf_error_set(err, JF_EARG, "prompt_drop must be in [0, 1] (got %g)", t->o.prompt_drop);
    if (!s && !(t->o.logit_std >= 0 && isfinite(t->o.logit_mean) && isfinite(t->o.logit_std)))
        s = jf_error_set(err, JF_EARG, "the logit-normal needs a finite mean and a std >= 0");
    if (s) {
        jf_train_destroy(t);
        return s;
    }
    *out = t;
    return JF_OK;
}

void jf_train_destroy(jf_train *t)
{
    if (!t)
        return;
    free(t->roles);
    jf_record_destroy(t->lat_rec);
    free(t);
}

jf_status jf_train_set_role(jf_train *t, const char *source_name, jf_train_role role, jf_error *err)
{
    const jf_mix_info *mi = t->mix ? jf_mix_get_info(t->mix) : NULL;
    for (size_t i = 0; mi && i < mi->n_sources; i++)
        if (!strcmp(mi->sources[i].name, source_name)) {
            t->roles[i] = role;
            return JF_OK;
        }
    return jf_error_set(err, JF_ENOTFOUND, "the mix has no source named '%s'", source_name);
}

static void sample_free(jf_train_sample *s)
{
    free(s->ids);
    free(s->labels);
    free(s->images);
    free(s->crop_rgb);
    free(s->latent);
    free(s->noise);
    if (s->stored)
        free(s->stored->moments);
    free(s->stored);
}

void jf_train_batch_free(jf_train_batch *b)
{
    for (size_t i = 0; b && i < b->n; i++)
        sample_free(&b->samples[i]);
    if (b) {
        free(b->samples);
        memset(b, 0, sizeof *b);
    }
}

static void set_status(jf_train_sample *s, jf_train_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_status(jf_train_sample *s, jf_train_status st, const char *fmt, ...)
{
    s->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
}

/* ---- text → ids and labels ---- */

typedef struct idbuf {
    int32_t *ids, *labels;
    size_t n, cap;
} idbuf;

static int idbuf_push(idbuf *b, int32_t id, int32_t label)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        int32_t *i = realloc(b->ids, cap * sizeof *i);
        if (!i)
            return -1;
        b->ids = i;
        int32_t *l = realloc(b->labels, cap * sizeof *l);
        if (!l)
            return -1;
        b->labels = l;
        b->cap = cap;
    }
    b->ids[b->n] = id;
    b->labels[b->n++] = label;
    return 0;
}

/* Writes the reason into why and returns -1. */
static int why_fail(char *why, size_t wl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t wl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wl, fmt, ap);
    va_end(ap);
    return -1;
}

/* A strbuf's text for push_text: NULL (refused as out of memory) when an append failed. */
#define SB_TEXT(b) (b).oom ? NULL : (b).p, (b).oom ? 1 : (b).len

/* Appends the tokens of text (no BOS), labelled when `scored`. */
static int push_text(jf_train *t, idbuf *b, const char *text, size_t len, int scored, char *why, size_t why_len)
{
    if (len && !text) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    if (!len)
        return 0;
    int32_t *ids = NULL;
    jf_model_error me;
    long n = jf_tokenizer_encode(t->tok, text, len, 0, &ids, &me);
    if (n < 0) {
        snprintf(why, why_len, "cannot tokenize: %.150s", me.msg);
        return -1;
    }
    for (long i = 0; i < n; i++)
        if (idbuf_push(b, ids[i], scored ? ids[i] : -100)) {
            free(ids);
            snprintf(why, why_len, "out of memory");
            return -1;
        }
    free(ids);
    return 0;
}

/* Python's str.strip() on ASCII whitespace (and the separators \x1c-\x1f it also strips). */
static void strip(const char **p, size_t *n)
{
    while (*n && ((**p >= 9 && **p <= 13) || **p == ' ' || (**p >= 0x1c && **p <= 0x1f)))
        (*p)++, (*n)--;
    while (*n && (((*p)[*n - 1] >= 9 && (*p)[*n - 1] <= 13) || (*p)[*n - 1] == ' ' ||
                  ((*p)[*n - 1] >= 0x1c && (*p)[*n - 1] <= 0x1f)))
        (*n)--;
}

/* LLaVA/ShareGPT4V write the image as "<image>"; the JanusFlow processor's tag is
 * "<image_placeholder>". */
static char *llava_tags(const char *s, size_t n, size_t *out_n)
{
    static const char from[] = "<image>", to[] = "<image_placeholder>";
    size_t count = 0;
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), from, 7)); p += 7)
        count++;
    char *o = malloc(n + count * (sizeof to - sizeof from) + 1), *w = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (i + 7 <= n && !memcmp(s + i, from, 7)) {
            memcpy(w, to, sizeof to - 1);
            w += sizeof to - 1;
            i += 7;
        } else {
            *w++ = s[i++];
        }
    }
    *w = 0;
    *out_n = (size_t)(w - o);
    return o;
}

static const char *eos_text(jf_train *t)
{
    const char *e = jf_tokenizer_id_token(t->tok, t->c->eos);
    return e ? e : "<｜end▁of▁sentence｜>";
}

/* The conversation in the "deepseek" template (conversation.py, sep "\n\n", sep2 EOS; roles
 * "User"/"Assistant" as JanusFlow's README), segment by segment so that the replies can be
 * labelled: "{system}\n\n" "User: {q}\n\n" "Assistant:" | " {a}" EOS | "User: …". */
static int conversation_ids(jf_train *t, const uint8_t *json, size_t len, int system, idbuf *b, char *why, size_t wl)
{
    char ebuf[128];
    char *text = malloc(len + 1);
    if (!text)
        return why_fail(why, wl, "out of memory");
    memcpy(text, json, len);
    text[len] = 0;
    yajl_val root = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!root || !YAJL_IS_ARRAY(root)) {
        yajl_tree_free(root);
        return why_fail(why, wl, "the conversation is not a JSON array of turns");
    }
    int rc = 0, replies = 0;
    const char *sys = system ? t->c->system_prompt : "";
    strbuf prompt = {0};
    size_t i0 = 0;
    /* a leading system turn replaces the system prompt */
    if (root->u.array.len && YAJL_IS_OBJECT(root->u.array.values[0])) {
        const char *fp[] = {"from", NULL}, *vp[] = {"value", NULL};
        yajl_val f = yajl_tree_get(root->u.array.values[0], fp, yajl_t_string);
        yajl_val v = yajl_tree_get(root->u.array.values[0], vp, yajl_t_string);
        const char *fs = f ? YAJL_GET_STRING(f) : NULL, *vs = v ? YAJL_GET_STRING(v) : NULL;
        if (fs && vs && !strcmp(fs, "system")) {
            sys = vs;
            i0 = 1;
        }
    }
    if (sys[0]) {
        sb_puts(&prompt, sys);
        sb_puts(&prompt, "\n\n");
    }
    for (size_t i = i0; !rc && i < root->u.array.len; i++) {
        yajl_val turn = root->u.array.values[i];
        const char *fp[] = {"from", NULL}, *vp[] = {"value", NULL};
        yajl_val f = YAJL_IS_OBJECT(turn) ? yajl_tree_get(turn, fp, yajl_t_string) : NULL;
        yajl_val v = YAJL_IS_OBJECT(turn) ? yajl_tree_get(turn, vp, yajl_t_string) : NULL;
        if (!f || !v) {
            rc = why_fail(why, wl, "turn %zu has no from/value strings", i);
            break;
        }
        const char *from = YAJL_GET_STRING(f), *val = YAJL_GET_STRING(v);
        if (!from || !val) {
            rc = why_fail(why, wl, "turn %zu has no from/value strings", i);
            break;
        }
        int user = !strcmp(from, "human") || !strcmp(from, "user");
        int asst = !strcmp(from, "gpt") || !strcmp(from, "assistant");
        int want_user = (i - i0) % 2 == 0;
        if ((want_user && !user) || (!want_user && !asst)) {
            rc = why_fail(why, wl, "turn %zu is from '%s' where the template needs %s", i, from,
                          want_user ? "the user" : "the assistant");
            break;
        }
        size_t n = strlen(val);
        strip(&val, &n);
        if (user) {
            size_t cn;
            char *c = llava_tags(val, n, &cn);
            if (!c) {
                rc = why_fail(why, wl, "out of memory");
                break;
            }
            sb_puts(&prompt, "User: ");
            sb_put(&prompt, c, cn);
            sb_puts(&prompt, "\n\nAssistant:");
            free(c);
        } else if (n) {
            /* the prompt so far, then the reply " {a}" + EOS, which is scored */
            rc = push_text(t, b, SB_TEXT(prompt), 0, why, wl);
            prompt.len = 0;
            strbuf reply = {0};
            sb_puts(&reply, " ");
            sb_put(&reply, val, n);
            sb_puts(&reply, eos_text(t));
            if (!rc)
                rc = push_text(t, b, SB_TEXT(reply), 1, why, wl);
            free(reply.p);
            replies++;
        }
    }
    yajl_tree_free(root);
    free(prompt.p);
    if (!rc && !replies)
    {
        why_fail(why, wl, "the conversation has no assistant reply");
        return 1;
    }
    return rc;
}

/* Expands every image tag into begin_of_image + image_tokens tags + end_of_image (unscored). */
static int expand_images(jf_train *t, idbuf *b, size_t *tags)
{
    idbuf o = {0};
    *tags = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < b->n; i++) {
        if (b->ids[i] != t->c->image_tag) {
            rc = idbuf_push(&o, b->ids[i], b->labels[i]);
            continue;
        }
        (*tags)++;
        rc = idbuf_push(&o, t->c->image_start, -100);
        for (int k = 0; !rc && k < t->c->image_tokens; k++)
            rc = idbuf_push(&o, t->c->image_tag, -100);
        if (!rc)
            rc = idbuf_push(&o, t->c->image_end, -100);
    }
    free(b->ids);
    free(b->labels);
    *b = o;
    return rc;
}

/* Cuts a sequence to seq_len without splitting an image block; returns the images kept. */
static size_t truncate_seq(jf_train *t, idbuf *b, size_t n_images)
{
    size_t L = t->o.seq_len, keep = 0, cut = L;
    for (size_t i = 0; i < L; i++)
        if (b->ids[i] == t->c->image_start) {
            size_t end = i + (size_t)t->c->image_tokens + 1;
            if (end >= L) {
                cut = i;
                break;
            }
            keep++;
        }
    b->n = cut;
    return keep < n_images ? keep : n_images;
}

static const jf_field *nth_image(const jf_record *rec, size_t k)
{
    size_t seen = 0;
    for (size_t i = 0; i < jf_record_field_count(rec); i++) {
        const jf_field *f = jf_record_field(rec, i);
        if (f->type == JF_FIELD_IMAGE && seen++ == k)
            return f;
    }
    return NULL;
}

static size_t count_images(const jf_record *rec)
{
    size_t n = 0;
    for (size_t i = 0; i < jf_record_field_count(rec); i++)
        n += jf_record_field(rec, i)->type == JF_FIELD_IMAGE;
    return n;
}

static const jf_field *text_field(const jf_record *rec)
{
    static const char *const names[] = {"txt", "caption", "text", "prompt", NULL};
    for (int i = 0; names[i]; i++) {
        const jf_field *f = jf_record_find_field(rec, names[i]);
        if (f && f->size)
            return f;
    }
    return NULL;
}

static jf_train_role role_of(jf_train *t, const jf_train_sample *s, const jf_record *rec, jf_train_role forced)
{
    jf_train_role r = forced != JF_TRAIN_AUTO ? forced : s->item.source < t->n_sources ? t->roles[s->item.source]
                                                                                        : JF_TRAIN_AUTO;
    if (r != JF_TRAIN_AUTO)
        return r;
    switch (jf_record_kind(rec)) {
    case JF_KIND_GENERATION: return JF_TRAIN_GEN;
    case JF_KIND_UNDERSTANDING: return JF_TRAIN_UND;
    case JF_KIND_TEXT: return JF_TRAIN_TEXT;
    default: return jf_kind_infer(rec) == JF_KIND_GENERATION ? JF_TRAIN_GEN
                    : jf_kind_infer(rec) == JF_KIND_UNDERSTANDING ? JF_TRAIN_UND : JF_TRAIN_TEXT;
    }
}

/* Phase 1 of a sample: its role, ids and labels, and which image bytes phase 2 decodes. */
static jf_status tokenize_sample(jf_train *t, jf_train_sample *s, const jf_record *rec, jf_error *err)
{
    idbuf b = {0};
    char why[200] = "";
    int rc = 0;
    size_t images = count_images(rec);
    const jf_field *conv = jf_record_find_field(rec, "conv");
    const jf_field *txt = text_field(rec);
    snprintf(s->key, sizeof s->key, "%s", jf_record_key(rec));
    switch (s->role) {
    case JF_TRAIN_UND:
    case JF_TRAIN_TEXT:
        if (conv) {
            rc = idbuf_push(&b, t->c->bos, -100);
            if (!rc)
                rc = conversation_ids(t, conv->data, conv->size, s->role == JF_TRAIN_UND && t->o.und_system_prompt, &b,
                                      why, sizeof why);
            if (rc > 0) {
                set_status(s, JF_TS_NO_TARGET, "%s", why);
                rc = 0;
            } else if (rc) {
                set_status(s, JF_TS_BAD_TEXT, "%s", why);
            }
        } else if (s->role == JF_TRAIN_TEXT && txt) {
            const char *p = (const char *)txt->data;
            size_t n = txt->size;
            rc = idbuf_push(&b, t->c->bos, -100) || push_text(t, &b, p, n, 1, why, sizeof why) ||
                 idbuf_push(&b, t->c->eos, t->c->eos);
            if (rc)
                set_status(s, JF_TS_BAD_TEXT, "%s", why[0] ? why : "out of memory");
        } else {
            set_status(s, JF_TS_BAD_TEXT, "%s sample without a conversation%s", jf_train_role_name(s->role),
                       s->role == JF_TRAIN_TEXT ? " or text" : "");
        }
        break;
    case JF_TRAIN_CAPTION:
        if (!txt) {
            set_status(s, JF_TS_BAD_TEXT, "caption sample without a caption (txt)");
            break;
        }
        {
            const char *p = (const char *)txt->data;
            size_t n = txt->size;
            strip(&p, &n);
            strbuf pr = {0}, rp = {0};
            if (t->o.caption_chat) {
                if (t->o.und_system_prompt && t->c->system_prompt[0]) {
                    sb_puts(&pr, t->c->system_prompt);
                    sb_puts(&pr, "\n\n");
                }
                sb_puts(&pr, "User: <image_placeholder>\nGenerate the caption of this picture.\n\nAssistant:");
            } else {
                sb_puts(&pr, "<image_placeholder>Generate the caption of this picture.");
            }
            sb_puts(&rp, " ");
            sb_put(&rp, p, n);
            sb_puts(&rp, eos_text(t));
            rc = idbuf_push(&b, t->c->bos, -100) || push_text(t, &b, SB_TEXT(pr), 0, why, sizeof why) ||
                 push_text(t, &b, SB_TEXT(rp), 1, why, sizeof why);
            free(pr.p);
            free(rp.p);
            if (rc)
                set_status(s, JF_TS_BAD_TEXT, "%s", why[0] ? why : "out of memory");
        }
        break;
    case JF_TRAIN_GEN:
        if (!txt) {
            set_status(s, JF_TS_BAD_TEXT, "generation sample without a prompt (txt)");
            break;
        }
        {
            const char *p = (const char *)txt->data;
            size_t n = txt->size;
            strip(&p, &n);
            strbuf pr = {0};
            if (!t->o.gen_plain)
                sb_puts(&pr, "User: ");
            sb_put(&pr, p, n);
            if (!t->o.gen_plain)
                sb_puts(&pr, "\n\nAssistant:");
            rc = idbuf_push(&b, t->c->bos, -100) || push_text(t, &b, SB_TEXT(pr), 0, why, sizeof why) ||
                 idbuf_push(&b, t->c->image_start, -100);
            free(pr.p);
            if (rc)
                set_status(s, JF_TS_BAD_TEXT, "%s", why[0] ? why : "out of memory");
        }
        break;
    default:
        break;
    }
    if (rc && !why[0]) {
        free(b.ids);
        free(b.labels);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    /* images: understanding and captions take all of them; generation its first */
    size_t want = 0;
    if (!s->status && (s->role == JF_TRAIN_UND || s->role == JF_TRAIN_CAPTION)) {
        size_t tags = 0;
        if (expand_images(t, &b, &tags)) {
            free(b.ids);
            free(b.labels);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        if (tags != images)
            set_status(s, JF_TS_PLACEHOLDER, "%zu image placeholder(s) in the text, %zu image(s) in the record", tags,
                       images);
        want = tags;
    } else if (!s->status && s->role == JF_TRAIN_GEN) {
        if (!images)
            set_status(s, JF_TS_BAD_IMAGE, "generation sample without an image");
        want = images ? 1 : 0;
    } else if (!s->status && s->role == JF_TRAIN_TEXT && images) {
        /* a text conversation must not silently lose an image */
        set_status(s, JF_TS_PLACEHOLDER, "a text sample with %zu image(s)", images);
    }
    /* length */
    size_t extra = s->role == JF_TRAIN_GEN ? (size_t)t->c->image_tokens : 0;
    if (!s->status && s->role == JF_TRAIN_GEN && t->c->gen.present) {
        size_t G = (size_t)(t->c->gen.latent_side / t->c->gen.patch);
        extra = G * G;
    }
    if (!s->status && b.n + extra > t->o.seq_len) {
        if (t->o.refuse_overlong) {
            free(b.ids);
            free(b.labels);
            return jf_error_set(err, JF_ELIMIT, "sample %s (id %lld) needs %zu positions, more than --seq-len %u",
                                s->key, (long long)s->item.sample_id, b.n + extra, t->o.seq_len);
        }
        size_t before = b.n + extra;
        if (s->role == JF_TRAIN_GEN) {
            /* the prompt loses its end; BOS and the image start tag stay */
            size_t keep = t->o.seq_len > extra + 2 ? t->o.seq_len - extra : 2;
            b.ids[keep - 1] = t->c->image_start;
            b.n = keep;
        } else {
            want = truncate_seq(t, &b, want);
        }
        set_status(s, JF_TS_TRUNCATED, "%zu positions cut to %u", before, t->o.seq_len);
    }
    if ((!s->status || s->status == JF_TS_TRUNCATED) && s->role != JF_TRAIN_GEN) {
        size_t scored = 0;
        for (size_t i = 1; i < b.n; i++)
            scored += b.labels[i] != -100;
        if (!scored)
            set_status(s, JF_TS_NO_TARGET, "no reply token is left to score");
    }
    s->ids = b.ids;
    s->labels = b.labels;
    s->n_ids = b.n;
    /* n_images counts the understanding images (a generation sample's image is its crop) */
    s->n_images = (s->status && s->status != JF_TS_TRUNCATED) || s->role == JF_TRAIN_GEN ? 0 : want;
    return JF_OK;
}

jf_status jf__train_prepare(jf_train *t, jf_train_sample *s, const jf_record *rec, jf_train_role forced, jf_error *err)
{
    s->role = role_of(t, s, rec, forced);
    return tokenize_sample(t, s, rec, err);
}

/* The sample's draws: prompt drop, t and the noise (run on the image workers: the noise is a
 * few percent of a batch's work). s->noise stays NULL when out of memory. */
static void gen_draws(jf_train *t, jf_train_sample *s)
{
    size_t Z = (size_t)t->lat_c * t->lat_s * t->lat_s;
    uint64_t a = t->o.eval_mode ? 0 : s->item.source, d = t->o.eval_mode ? (uint64_t)s->item.sample_id : s->item.draw;
    s->dropped = !t->o.eval_mode && unit(jf__train_key(t->seed, 2, a, d)) < t->o.prompt_drop;
    float n;
    jf_t2i_noise(jf__train_key(t->seed, 3, a, d), &n, 1);
    double x = t->o.logit_mean + t->o.logit_std * n;
    s->t = (float)(1.0 / (1.0 + exp(-x)));
    s->noise = malloc(Z * sizeof *s->noise);
    if (s->noise)
        jf_t2i_noise(jf__train_key(t->seed, 4, a, d), s->noise, Z);
}

/* ---- phase 2: images ---- */

typedef struct image_job {
    jf_train *t;
    jf_train_sample *s;
    const jf_record *rec;
} image_job;

/* The generation crop as a region of the resize: torchvision Resize(side) on the short side, then
 * a square crop at a position drawn from the sample's key, or the crop its stored latent was
 * encoded from. */
typedef struct gen_region_ctx {
    jf_train *t;
    jf_train_sample *s;
    int latent_mismatch;
} gen_region_ctx;

static int gen_region(void *ctx, int w, int h, jf_image_region *r, char *why, size_t wl)
{
    gen_region_ctx *g = ctx;
    jf_train *t = g->t;
    jf_train_sample *s = g->s;
    if (s->stored) {
        int geo[5];
        jf__train_crop_geometry(t->crop, w, h, 1, 0, geo);
        if (geo[0] != s->stored->crop[0] || geo[1] != s->stored->crop[1]) {
            snprintf(why, wl, "the stored latent is of a %dx%d resize; this %dx%d image gives %dx%d",
                     s->stored->crop[0], s->stored->crop[1], w, h, geo[0], geo[1]);
            g->latent_mismatch = 1;
            return -1;
        }
        memcpy(s->crop, s->stored->crop, sizeof s->crop);
    } else {
        jf__train_crop_geometry(t->crop, w, h, 0, jf__train_key(t->seed, 1, (uint64_t)s->item.sample_id, s->item.epoch),
                                s->crop);
    }
    int side = s->crop[4];
    if (side != t->crop) {
        snprintf(why, wl, "the stored latent is of a %d px crop; this run crops %d px", side, t->crop);
        g->latent_mismatch = 1;
        return -1;
    }
    if (s->crop[2] < 0 || s->crop[3] < 0 || s->crop[2] + side > s->crop[0] || s->crop[3] + side > s->crop[1]) {
        snprintf(why, wl, "cannot crop %dx%d at (%d, %d) from %dx%d", side, side, s->crop[2], s->crop[3], s->crop[0],
                 s->crop[1]);
        g->latent_mismatch = s->stored != NULL;
        return -1;
    }
    *r = (jf_image_region){s->crop[0], s->crop[1], s->crop[2], s->crop[3], side, side, s->crop_rgb, (size_t)side * 3};
    return 0;
}

static void image_work(image_job *j)
{
    jf_train *t = j->t;
    jf_train_sample *s = j->s;
    size_t S = (size_t)t->spec.size;
    if (s->role == JF_TRAIN_GEN) {
        const jf_field *f = nth_image(j->rec, 0);
        jf_error e;
        gen_region_ctx g = {t, s, 0};
        s->crop_rgb = malloc((size_t)t->crop * t->crop * 3);
        if (!s->crop_rgb)
            set_status(s, JF_TS_BAD_IMAGE, "out of memory");
        else if (!f)
            set_status(s, JF_TS_BAD_IMAGE, "image 0 (?): missing");
        else if (jf_image_decode_region(f->data, f->size, NULL, t->o.gen_resample, gen_region, &g, &e)) {
            set_status(s, g.latent_mismatch ? JF_TS_BAD_LATENT : JF_TS_BAD_IMAGE, g.latent_mismatch ? "%s%s" : "image 0 (%s): %s",
                       g.latent_mismatch ? "" : f->name, e.msg);
            free(s->crop_rgb);
            s->crop_rgb = NULL;
        }
        if (!s->status || s->status == JF_TS_TRUNCATED)
            gen_draws(t, s);
        return;
    }
    s->images = s->n_images ? malloc(s->n_images * S * S * 3) : NULL;
    if (s->n_images && !s->images) {
        set_status(s, JF_TS_BAD_IMAGE, "out of memory");
        return;
    }
    for (size_t k = 0; k < s->n_images; k++) {
        const jf_field *f = nth_image(j->rec, k);
        jf_error e;
        if (!f || jf_image_letterbox_decode(f->data, f->size, NULL, (int)S, t->spec.min_size, t->spec.background,
                                            JF_RESAMPLE_BICUBIC, s->images + k * S * S * 3, &e)) {
            set_status(s, JF_TS_BAD_IMAGE, "image %zu (%s): %s", k, f ? f->name : "?", f ? e.msg : "missing");
            return;
        }
    }
}

static void image_work_at(void *ctx, size_t i) { image_work(&((image_job *)ctx)[i]); }

/* ---- phase 3: RF draws and latents ---- */

static jf_status gen_targets(jf_train *t, jf_train_sample *s, jf_error *err)
{
    size_t C = (size_t)t->lat_c, S = (size_t)t->lat_s, Z = C * S * S;
    if (!s->noise)
        gen_draws(t, s);
    if (!s->noise)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!s->crop_rgb || (!t->vae && !s->stored))
        return JF_OK;
    float *mean = NULL, *logvar = NULL, *img = NULL;
    double shift, scale;
    jf_status st = JF_OK;
    s->latent = malloc(Z * sizeof *s->latent);
    if (s->stored) {
        mean = s->stored->moments;
        logvar = mean + Z;
        shift = s->stored->shift;
        scale = s->stored->scale;
    } else {
        /* the crop in [−1, 1], the encoder's posterior */
        size_t side = (size_t)s->crop[4];
        const jf_vae_config *vc = jf_vae_get_config(t->vae);
        shift = vc->shift_factor;
        scale = vc->scaling_factor;
        img = malloc(3 * side * side * sizeof *img);
        mean = malloc(Z * sizeof *mean);
        logvar = malloc(Z * sizeof *logvar);
        st = img && mean && logvar ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
        if (!st)
            jf__train_crop_to_unit(s->crop_rgb, side, img);
        jf_model_error me;
        if (!st && jf_vae_encode(t->vae, img, (int)side, (int)side, mean, logvar, &me))
            st = jf_error_set(err, JF_EIO, "VAE encoder on sample %s: %s", s->key, me.msg);
    }
    if (!st && !s->latent)
        st = jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!st) {
        /* the posterior sample mean + exp(logvar / 2)·ε (or the mean), then (z − shift) × scaling */
        if (!t->o.latent_mean)
            jf_t2i_noise(jf__train_key(t->seed, 5, (uint64_t)s->item.sample_id, s->item.epoch), s->latent, Z);
        for (size_t i = 0; i < Z; i++) {
            double z = mean[i];
            if (!t->o.latent_mean)
                z += exp(0.5 * logvar[i]) * s->latent[i];
            s->latent[i] = (float)((z - shift) * scale);
        }
    }
    free(img);
    if (!s->stored) {
        free(mean);
        free(logvar);
    }
    return st;
}

/* ---- batches ---- */

static jf_status build(jf_train *t, jf_train_batch *b, jf_record **recs, jf_train_role forced, jf_error *err)
{
    jf_status st = JF_OK;
    image_job *jobs = calloc(b->n ? b->n : 1, sizeof *jobs);
    if (!jobs)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    size_t nj = 0;
    for (size_t i = 0; !st && i < b->n; i++) {
        jf_train_sample *s = &b->samples[i];
        s->role = role_of(t, s, recs[i], forced);
        st = tokenize_sample(t, s, recs[i], err);
        if (!st && t->latents && s->role == JF_TRAIN_GEN && (!s->status || s->status == JF_TS_TRUNCATED)) {
            /* the store is read here, on the calling thread */
            jf__stored_latent sl;
            char why[256];
            int r = jf__train_stored_latent(t, s->key, &sl, why, sizeof why);
            if (r < 0)
                set_status(s, JF_TS_BAD_LATENT, "%s", why);
            else if (r == 0 && !(s->stored = malloc(sizeof *s->stored))) {
                free(sl.moments);
                st = jf_error_set(err, JF_ENOMEM, "out of memory");
            } else if (r == 0) {
                *s->stored = sl;
                s->latent_stored = 1;
            }
        }
        if (!st && (!s->status || s->status == JF_TS_TRUNCATED) &&
            (s->n_images || s->role == JF_TRAIN_GEN))
            jobs[nj++] = (image_job){t, s, recs[i]};
    }
    if (!st)
        jf__train_parallel(t->o.threads, nj, image_work_at, jobs);
    for (size_t i = 0; !st && i < b->n; i++) {
        jf_train_sample *s = &b->samples[i];
        if (s->role == JF_TRAIN_GEN && (!s->status || s->status == JF_TS_TRUNCATED)) {
            st = gen_targets(t, s, err);
            if (!st && s->latent && s->latent_stored)
                b->latents_stored++;
            else if (!st && s->latent)
                b->latents_encoded++;
            else if (!st)
                b->latents_missing++;
        }
        if (s->status && s->status != JF_TS_TRUNCATED)
            s->n_images = 0;
        b->status_counts[s->status]++;
    }
    free(jobs);
    return st;
}

static jf_status read_records(jf_train *t, jf_train_batch *b, jf_record **recs, jf_error *err)
{
    for (size_t i = 0; i < b->n; i++) {
        recs[i] = jf_record_create();
        if (!recs[i])
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        jf_status s = jf_store_get_row(t->st, b->samples[i].item.sample_id, recs[i], err);
        if (s)
            return s;
    }
    return JF_OK;
}

static jf_status finish(jf_train *t, jf_train_batch *b, jf_train_role forced, jf_error *err)
{
    jf_record **recs = calloc(b->n ? b->n : 1, sizeof *recs);
    jf_status s = recs ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!s)
        s = read_records(t, b, recs, err);
    if (!s)
        s = build(t, b, recs, forced, err);
    for (size_t i = 0; recs && i < b->n; i++)
        jf_record_destroy(recs[i]);
    free(recs);
    if (s)
        jf_train_batch_free(b);
    return s;
}

jf_status jf_train_next(jf_train *t, jf_mix_iter *it, jf_train_batch *b, jf_error *err)
{
    memset(b, 0, sizeof *b);
    size_t cap = 0;
    for (;;) {
        jf_mix_item item;
        if (t->have_look) {
            item = t->look;
            t->have_look = 0;
        } else {
            jf_status s = jf_mix_iter_next(it, &item, err);
            if (s == JF_ENOTFOUND)
                break;
            if (s) {
                jf_train_batch_free(b);
                return s;
            }
        }
        if (b->n && item.step != b->step) {
            t->look = item;
            t->have_look = 1;
            break;
        }
        if (b->n == cap) {
            cap = cap ? 2 * cap : 64;
            jf_train_sample *ns = realloc(b->samples, cap * sizeof *ns);
            if (!ns) {
                jf_train_batch_free(b);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            b->samples = ns;
        }
        b->step = item.step;
        memset(&b->samples[b->n], 0, sizeof b->samples[b->n]);
        b->samples[b->n++].item = item;
    }
    if (!b->n)
        return JF_ENOTFOUND;
    return finish(t, b, JF_TRAIN_AUTO, err);
}

jf_status jf_train_sample_of(jf_train *t, int64_t sample_id, jf_train_role role, jf_train_batch *b, jf_error *err)
{
    memset(b, 0, sizeof *b);
    b->samples = calloc(1, sizeof *b->samples);
    if (!b->samples)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    b->n = 1;
    b->samples[0].item.sample_id = sample_id;
    b->samples[0].item.draw = (uint64_t)sample_id;
    b->samples[0].item.source = UINT32_MAX;
    return finish(t, b, role, err);
}
