/* jf model / jf chat: the front ends of model/jf_model.h. */
#include "cli.h"
#include "jf_eval.h"
#include "jf_model.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static const char MODEL_HELP[] =
    "usage: jf model inspect DIR [--json] [--tensors] [--plan PROMPT_TOKENS[,NEW_TOKENS]]\n"
    "       jf model random DIR [--full | --layer] [--seed N]\n"
    "       jf model random DIR --vae [--full] [--old-names] [--f16] [--seed N]\n"
    "\n"
    "inspect  loads a JanusFlow model directory as released (config.json, preprocessor/processor\n"
    "         configs, special_tokens_map.json, tokenizer files, model.safetensors) and prints its\n"
    "         configuration, the special token ids as the official processor computes them, and the\n"
    "         tensor inventory: every expected tensor is checked for shape; unknown ones are listed.\n"
    "         --plan N[,M] adds the memory a run of N prompt tokens (+ M new, one image) needs.\n"
    "random   writes a model directory with random BF16 weights in the released layout: a tiny one\n"
    "         (default, for demos and tests), --full, the JanusFlow-1.3B shapes (~4.1 GB), or --layer,\n"
    "         the full widths with one block per tower (~130 MB, for full-size layer tests).\n"
    "         --vae writes an AutoencoderKL in the diffusers layout instead (config.json +\n"
    "         diffusion_pytorch_model.safetensors, F32): a tiny one (widths 8-16, factor 8) or, with\n"
    "         --full, the SDXL-VAE's shapes (83,653,863 parameters, 335 MB); --old-names uses the\n"
    "         attention names of diffusers before 0.14 (query/key/value/proj_attn), --f16 F16 tensors.\n"
    "\n"
    "inspect also takes a VAE directory (diffusion_pytorch_model.safetensors): its configuration,\n"
    "and every tensor checked by name and shape.\n";

static const char CHAT_HELP[] =
    "usage: jf chat --model DIR [--image FILE]... [options] QUESTION\n"
    "       jf chat --model DIR --batch QUESTIONS.jsonl [--image-root DIR] [--batch-size N] [options]\n"
    "\n"
    "Answers a question about images with the built-in JanusFlow (understanding path): the prompt is\n"
    "the official chat template (system prompt, \"User: <image_placeholder>\\nQUESTION\", \"Assistant:\"),\n"
    "each image is letterboxed as the official processor does (long side to the model's size, Pillow\n"
    "bicubic, centred on the mean colour). The answer streams to stdout.\n"
    "\n"
    "--batch answers one question per JSONL line ({\"question\" or \"text\": ..., \"image\": PATH or\n"
    "\"images\": [...], optional \"id\" or \"question_id\"; \"prompt\" instead of a question is a raw\n"
    "prompt) with the model loaded once, N questions decoded together (default 8); one JSON line per\n"
    "question on stdout, in order: {\"line\", \"id\", \"answer\", \"new_tokens\"} or {\"line\", \"id\",\n"
    "\"error\"}. A bad line or image fails alone (exit status 1 when any failed).\n\n"
    "options:\n"
    "  --batch FILE         questions as JSONL (\"-\" for stdin), see above\n"
    "  --image-root DIR     where the JSONL's relative image paths are (default: as given)\n"
    "  --batch-size N       questions decoded together, default 8\n"
    "  --max-new-tokens N   default 512\n"
    "  --temperature T      0 = greedy (default, as the official README); > 0 samples\n"
    "  --top-p P            nucleus sampling mass, default 0.95\n"
    "  --seed N             sampling seed, default 42\n"
    "  --raw                QUESTION is the whole prompt (tags and all), no template\n"
    "  --threads N          worker threads (default: all cores)\n"
    "  --json               one JSON object: answer, token counts, timings, and for parity checks the\n"
    "                       prompt as built, its ids (prompt_ids) and the generated ids (ids)\n"
    "  --dump-logits F.npy  the logits of the first --dump-steps N steps (default 1; step 0 is the\n"
    "                       prompt's last position) as a float32 [steps, vocab] numpy array\n"
    "  --quiet              no timing line on stderr\n";

/* The logits of the first steps of a generation, for --dump-logits. */
typedef struct logit_dump {
    float *v;
    size_t steps, max_steps;
    int vocab;
} logit_dump;

static void keep_logits(void *user, size_t step, const float *logits, int vocab)
{
    logit_dump *d = user;
    if (step < d->max_steps && vocab == d->vocab) {
        memcpy(d->v + step * (size_t)vocab, logits, (size_t)vocab * sizeof *logits);
        d->steps = step + 1;
    }
}

static void print_unknown(void *user, const char *name)
{
    (void)user;
    fprintf(stderr, "jf model: unknown tensor %s (ignored)\n", name);
}

static int model_fail(const char *cmd, const jf_model_error *err)
{
    fprintf(stderr, "jf %s: %s\n", cmd, err->msg);
    return err->code ? (int)err->code : 3;
}

static int inspect_vae(const char *dir, int json)
{
    jf_model_error err = {0};
    jf_vae *v = NULL;
    if (jf_vae_load(dir, &v, &err))
        return model_fail("model inspect", &err);
    const jf_vae_config *c = jf_vae_get_config(v);
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kstr(&w, "dir", dir);
        jw_kstr(&w, "kind", "vae");
        jw_key(&w, "block_out_channels");
        jw_arr(&w);
        for (int i = 0; i < c->blocks; i++)
            jw_int(&w, c->block_out[i]);
        jw_end_arr(&w);
        jw_kint(&w, "layers_per_block", c->layers_per_block);
        jw_kint(&w, "norm_num_groups", c->groups);
        jw_kint(&w, "latent_channels", c->latent_channels);
        jw_knum(&w, "scaling_factor", c->scaling_factor);
        jw_knum(&w, "shift_factor", c->shift_factor);
        jw_kint(&w, "downsampling_factor", 1 << (c->blocks - 1));
        jw_key(&w, "encoder");
        jw_bool(&w, c->has_encoder);
        jw_kint(&w, "tensors", (long long)c->tensors);
        jw_kint(&w, "parameters", (long long)c->parameters);
        jw_end_obj(&w);
        jw_newline(&w);
    } else {
        printf("%s: AutoencoderKL, block_out_channels", dir);
        for (int i = 0; i < c->blocks; i++)
            printf("%s%d", i ? "," : " ", c->block_out[i]);
        printf(", %d resnets per block, %d groups, %d latent channels, factor %d, scaling_factor %g%s\n",
               c->layers_per_block, c->groups, c->latent_channels, 1 << (c->blocks - 1), c->scaling_factor,
               c->has_encoder ? "" : " (decoder only)");
        printf("%zu tensors, %llu parameters: all checked by name and shape\n", c->tensors,
               (unsigned long long)c->parameters);
    }
    jf_vae_free(v);
    return 0;
}

static int model_inspect(int argc, char **argv)
{
    int json = 0, tensors = 0;
    long plan_tokens = 0, plan_new = 512;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--plan") && i + 1 < argc) {
            char *end;
            plan_tokens = strtol(argv[++i], &end, 10);
            if (*end == ',')
                plan_new = strtol(end + 1, &end, 10);
            if (*end || plan_tokens <= 0 || plan_new < 0)
                return usage_error("model inspect", "bad --plan %s (PROMPT_TOKENS[,NEW_TOKENS])", argv[i]);
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--tensors"))
            tensors = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(MODEL_HELP, stdout);
            return 0;
        } else if (argv[i][0] == '-')
            return usage_error("model inspect", "unknown option %s", argv[i]);
        else
            dir = argv[i];
    }
    if (!dir)
        return usage_error("model inspect", "a model directory is required");
    char vae_file[4096];
    snprintf(vae_file, sizeof vae_file, "%s/diffusion_pytorch_model.safetensors", dir);
    if (access(vae_file, F_OK) == 0)
        return inspect_vae(dir, json);
    jf_model_error err = {0};
    jf_janus *m = NULL;
    jf_janus_load_stats st;
    if (jf_janus_load(dir, &m, &st, print_unknown, NULL, &err))
        return model_fail("model inspect", &err);
    const jf_janus_config *c = jf_janus_get_config(m);
    jf_janus_image_spec is = jf_janus_image_spec_of(m);
    jf_tokenizer *tok = jf_janus_tokenizer(m);
    struct {
        const char *name;
        int32_t id;
    } ids[] = {{"bos", c->bos}, {"eos", c->eos}, {"pad", c->pad}, {"image_tag", c->image_tag},
               {"image_start", c->image_start}, {"image_end", c->image_end}, {"image_gen", c->image_gen}};
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kstr(&w, "dir", dir);
        jw_key(&w, "language_model");
        jw_obj(&w);
        jw_kint(&w, "hidden", c->hidden);
        jw_kint(&w, "layers", c->layers);
        jw_kint(&w, "heads", c->heads);
        jw_kint(&w, "kv_heads", c->kv_heads);
        jw_kint(&w, "head_dim", c->head_dim);
        jw_kint(&w, "intermediate", c->intermediate);
        jw_kint(&w, "vocab", c->vocab);
        jw_kint(&w, "max_positions", c->max_positions);
        jw_knum(&w, "rms_eps", c->rms_eps);
        jw_knum(&w, "rope_theta", c->rope_theta);
        jw_end_obj(&w);
        jw_key(&w, "vision");
        jw_obj(&w);
        jw_kint(&w, "width", c->vit_width);
        jw_kint(&w, "layers", c->vit_layers);
        jw_kint(&w, "heads", c->vit_heads);
        jw_kint(&w, "mlp", c->vit_mlp);
        jw_kint(&w, "patch", c->patch);
        jw_kint(&w, "image_size", c->image_size);
        jw_kint(&w, "image_tokens", c->image_tokens);
        jw_end_obj(&w);
        jw_key(&w, "image");
        jw_obj(&w);
        jw_key(&w, "mean");
        jw_arr(&w);
        for (int i = 0; i < 3; i++)
            jw_num(&w, is.mean[i]);
        jw_end_arr(&w);
        jw_key(&w, "std");
        jw_arr(&w);
        for (int i = 0; i < 3; i++)
            jw_num(&w, is.std[i]);
        jw_end_arr(&w);
        jw_key(&w, "background");
        jw_arr(&w);
        for (int i = 0; i < 3; i++)
            jw_int(&w, is.background[i]);
        jw_end_arr(&w);
        jw_kint(&w, "min_size", is.min_size);
        jw_key(&w, "normalize");
        jw_bool(&w, is.normalize);
        jw_end_obj(&w);
        jw_key(&w, "special_ids");
        jw_obj(&w);
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
            jw_kint(&w, ids[i].name, ids[i].id);
        jw_end_obj(&w);
        jw_kint(&w, "tokenizer_size", jf_tokenizer_size(tok));
        jw_key(&w, "generation");
        if (c->gen.present) {
            jw_obj(&w);
            jw_kint(&w, "channels", c->gen.channels);
            jw_kint(&w, "latent_channels", c->gen.latent_channels);
            jw_kint(&w, "patch", c->gen.patch);
            jw_kint(&w, "encoder_blocks", c->gen.enc_blocks);
            jw_kint(&w, "decoder_blocks", c->gen.dec_blocks);
            jw_kint(&w, "out_channels", c->gen.dec_out);
            jw_end_obj(&w);
        } else {
            jw_null(&w);
        }
        jw_key(&w, "weights");
        jw_obj(&w);
        jw_kint(&w, "tensors", (long long)st.tensors);
        jw_kint(&w, "used", (long long)st.used_tensors);
        jw_kint(&w, "checked", (long long)st.used_tensors);
        jw_kint(&w, "unknown", (long long)st.unknown_tensors);
        jw_kint(&w, "parameters", (long long)st.parameters);
        jw_kint(&w, "bytes", (long long)st.bytes);
        jw_kint(&w, "bf16", st.n_bf16);
        jw_kint(&w, "f16", st.n_f16);
        jw_kint(&w, "f32", st.n_f32);
        jw_end_obj(&w);
        if (plan_tokens) {
            jf_janus_memory_plan pl = jf_janus_plan(m, (size_t)plan_tokens, (size_t)plan_new, 1);
            jw_key(&w, "plan");
            jw_obj(&w);
            jw_kint(&w, "prompt_tokens", plan_tokens);
            jw_kint(&w, "new_tokens", plan_new);
            jw_kint(&w, "weights_mapped", (long long)pl.weights_mapped);
            jw_kint(&w, "kv_cache", (long long)pl.kv_cache);
            jw_kint(&w, "llm_activations", (long long)pl.llm_activations);
            jw_kint(&w, "vision_activations", (long long)pl.vision_activations);
            jw_kint(&w, "scratch", (long long)pl.scratch);
            jw_kint(&w, "total", (long long)pl.total);
            jw_end_obj(&w);
        }
        jw_end_obj(&w);
        jw_newline(&w);
    } else {
        char hb[32];
        printf("model %s\n", dir);
        printf("  language model  %d layers, hidden %d, %d heads (%d KV) of %d, MLP %d, vocab %d, context %d\n",
               c->layers, c->hidden, c->heads, c->kv_heads, c->head_dim, c->intermediate, c->vocab, c->max_positions);
        printf("                  RMSNorm eps %g, RoPE theta %g\n", c->rms_eps, c->rope_theta);
        printf("  vision (SigLIP) %d layers, width %d, %d heads, MLP %d, patch %d, %dx%d -> %d tokens\n", c->vit_layers,
               c->vit_width, c->vit_heads, c->vit_mlp, c->patch, c->image_size, c->image_size, c->image_tokens);
        printf("  image input     mean (%g, %g, %g), std (%g, %g, %g), %s, background (%d, %d, %d), min side %d\n",
               is.mean[0], is.mean[1], is.mean[2], is.std[0], is.std[1], is.std[2],
               is.normalize ? "normalised" : "not normalised", is.background[0], is.background[1], is.background[2],
               is.min_size);
        printf("  special ids    ");
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
            printf(" %s=%d", ids[i].name, ids[i].id);
        printf("  (tokenizer size %d)\n", jf_tokenizer_size(tok));
        if (c->gen.present)
            printf("  generation      encoder %d channels (patch %d of %d latent channels, %d ConvNeXt blocks), decoder %d "
                   "blocks -> %d channels\n",
                   c->gen.channels, c->gen.patch, c->gen.latent_channels, c->gen.enc_blocks, c->gen.dec_blocks,
                   c->gen.dec_out);
        else
            printf("  generation      none configured (no vision_gen_enc/dec_config): understanding only\n");
        printf("  weights         %zu tensors (%zu checked by name, shape and dtype; %zu unknown), %llu parameters, %s\n",
               st.tensors, st.used_tensors, st.unknown_tensors, (unsigned long long)st.parameters,
               human_bytes((double)st.bytes, hb, sizeof hb));
        printf("                  dtypes: %d BF16, %d F16, %d F32\n", st.n_bf16, st.n_f16, st.n_f32);
        if (plan_tokens) {
            jf_janus_memory_plan pl = jf_janus_plan(m, (size_t)plan_tokens, (size_t)plan_new, 1);
            char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
            printf("  memory plan     %ld prompt + %ld new tokens, one image: %s in total = weights %s (mapped) + KV "
                   "cache %s + prefill %s + SigLIP %s + scratch %s\n",
                   plan_tokens, plan_new, human_bytes((double)pl.total, b1, sizeof b1),
                   human_bytes((double)pl.weights_mapped, b2, sizeof b2), human_bytes((double)pl.kv_cache, b3, sizeof b3),
                   human_bytes((double)pl.llm_activations, b4, sizeof b4),
                   human_bytes((double)pl.vision_activations, b5, sizeof b5), human_bytes((double)pl.scratch, b6, sizeof b6));
        }
    }
    if (tensors) {
        /* the inventory, as the header lists it */
        jf_weights *sf = NULL;
        if (jf_weights_open(dir, &sf, &err) == JF_MODEL_OK) {
            for (size_t i = 0; i < jf_weights_count(sf); i++) {
                const jf_tensor_info *t = jf_weights_at(sf, i);
                printf("%-72s %-5s [", t->name, jf_dtype_name(t->dtype));
                for (int d = 0; d < t->ndim; d++)
                    printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
                printf("]\n");
            }
            jf_weights_close(sf);
        }
    }
    jf_janus_free(m);
    return 0;
}

static int model_random(int argc, char **argv)
{
    int full = 0, vae = 0, vae_flags = 0;
    uint64_t seed = 1;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vae"))
            vae = 1;
        else if (!strcmp(argv[i], "--old-names"))
            vae_flags |= 1;
        else if (!strcmp(argv[i], "--f16"))
            vae_flags |= 2;
        else if (!strcmp(argv[i], "--full"))
            full = 1;
        else if (!strcmp(argv[i], "--layer"))
            full = 2;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if (parse_u64(argv[++i], &seed))
                return usage_error("model random", "bad --seed %s", argv[i]);
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(MODEL_HELP, stdout);
            return 0;
        } else if (argv[i][0] == '-')
            return usage_error("model random", "unknown option %s", argv[i]);
        else
            dir = argv[i];
    }
    if (!dir)
        return usage_error("model random", "an output directory is required");
    if (vae_flags && !vae)
        return usage_error("model random", "--old-names and --f16 are for --vae");
    if (vae) {
        if (full == 2)
            return usage_error("model random", "--layer is for the JanusFlow model, not --vae");
        jf_model_error err = {0};
        double t0 = now_seconds();
        if (jf_vae_write_random(dir, full, seed, vae_flags, &err))
            return model_fail("model random", &err);
        fprintf(stderr, "jf model random: wrote %s (%s VAE%s%s) in %.1f s\n", dir, full ? "SDXL-VAE-shaped" : "tiny",
                vae_flags & 1 ? ", old attention names" : "", vae_flags & 2 ? ", F16" : "", now_seconds() - t0);
        return 0;
    }
    jf_janus_random_shape s = full == 1 ? jf_janus_full_shape() : full == 2 ? jf_janus_layer_shape() : jf_janus_tiny_shape();
    jf_model_error err = {0};
    double t0 = now_seconds();
    if (jf_janus_write_random(dir, &s, seed, &err))
        return model_fail("model random", &err);
    fprintf(stderr, "jf model random: wrote %s (%s shapes) in %.1f s\n", dir,
            full == 1 ? "JanusFlow-1.3B" : full == 2 ? "full-width, one block per tower" : "tiny",
            now_seconds() - t0);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(MODEL_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "inspect"))
        return model_inspect(argc - 1, argv + 1);
    if (!strcmp(argv[1], "random"))
        return model_random(argc - 1, argv + 1);
    if (!strcmp(argv[1], "loss")) /* the same as jf train loss */
        return cmd_train(argc, argv);
    return usage_error("model", "unknown subcommand '%s'", argv[1]);
}

/* ---- chat ---- */

/* An image file → the model's pixels (decode, letterbox, normalise). Returns 0, or the exit
 * status with the reason in msg. */
static int image_pixels(jf_janus *m, const char *path, float **out, char *msg, size_t msg_size)
{
    size_t len;
    char *data = read_text_file(path, &len);
    if (!data) {
        snprintf(msg, msg_size, "%s: cannot read", path);
        return 3;
    }
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    uint8_t *rgb = NULL, *box = malloc((size_t)spec.size * spec.size * 3);
    int w, h;
    jf_error err = {0};
    jf_status s = box ? jf_image_decode_rgb((const uint8_t *)data, len, NULL, &rgb, &w, &h, &err) : JF_ENOMEM;
    if (!s)
        s = jf_image_letterbox(rgb, w, h, spec.size, spec.min_size, spec.background, JF_RESAMPLE_BICUBIC, box, &err);
    free(data);
    free(rgb);
    *out = s ? NULL : malloc((size_t)spec.size * spec.size * 3 * sizeof **out);
    if (!s && !*out)
        s = JF_ENOMEM;
    if (s) {
        free(box);
        if (snprintf(msg, msg_size, "%s: %s", path, err.msg[0] ? err.msg : "out of memory") >= (int)msg_size)
            msg[msg_size - 1] = 0; /* a long path: the message is cut */
        return (int)s;
    }
    jf_janus_image_to_pixels(&spec, box, *out);
    free(box);
    return 0;
}

static int load_pixels(jf_janus *m, const char *path, float **out)
{
    char msg[600];
    int rc = image_pixels(m, path, out, msg, sizeof msg);
    if (rc)
        fprintf(stderr, "jf chat: %s\n", msg);
    return rc;
}

typedef struct chat_state {
    int stream;
    double start, first;
    size_t pieces;
} chat_state;

static void on_piece(void *user, const char *piece)
{
    chat_state *cs = user;
    if (!cs->pieces++)
        cs->first = now_seconds();
    if (cs->stream) {
        fputs(piece, stdout);
        fflush(stdout);
    }
}

/* ---- chat --batch ---- */

enum { BATCH_MAX_IMAGES = 16 };

typedef struct batch_item {
    long line;
    yajl_val id;          /* echoed as given (owned by doc) */
    yajl_val doc;
    char *prompt;
    float *pix[BATCH_MAX_IMAGES];
    size_t n_images;
    char error[640];      /* set: the item fails alone */
    char *answer;         /* decoded, once generated */
    size_t new_tokens;
} batch_item;

static const char *json_string(yajl_val doc, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(doc, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

static void batch_image(jf_janus *m, batch_item *it, const char *image_root, const char *path)
{
    if (it->n_images == BATCH_MAX_IMAGES) {
        snprintf(it->error, sizeof it->error, "more than %d images", BATCH_MAX_IMAGES);
        return;
    }
    char full[4096];
    if (image_root && path[0] != '/')
        snprintf(full, sizeof full, "%s/%s", image_root, path);
    else
        snprintf(full, sizeof full, "%s", path);
    if (image_pixels(m, full, &it->pix[it->n_images], it->error, sizeof it->error) == 0)
        it->n_images++;
}

/* One JSONL line → an item ready to generate, or one with its error set. */
static void batch_parse(jf_janus *m, batch_item *it, const char *text, const char *image_root)
{
    char perr[256] = "";
    it->doc = yajl_tree_parse(text, perr, sizeof perr);
    if (!it->doc || !YAJL_IS_OBJECT(it->doc)) {
        char *nl = strchr(perr, '\n'); /* yajl's first line says what; the rest draws a caret */
        if (nl)
            *nl = 0;
        snprintf(it->error, sizeof it->error, "not a JSON object%s%s", perr[0] ? ": " : "", perr);
        return;
    }
    const char *id_path[] = {"id", NULL}, *qid_path[] = {"question_id", NULL}, *img_path[] = {"image", NULL},
               *imgs_path[] = {"images", NULL};
    it->id = yajl_tree_get(it->doc, id_path, yajl_t_any);
    if (!it->id)
        it->id = yajl_tree_get(it->doc, qid_path, yajl_t_any);
    const char *raw = json_string(it->doc, "prompt"), *question = json_string(it->doc, "question");
    if (!question)
        question = json_string(it->doc, "text");
    if (!raw && !question) {
        snprintf(it->error, sizeof it->error, "no \"question\", \"text\" or \"prompt\" string");
        return;
    }
    yajl_val one = yajl_tree_get(it->doc, img_path, yajl_t_any), many = yajl_tree_get(it->doc, imgs_path, yajl_t_any);
    if (one && !YAJL_IS_NULL(one)) {
        if (!YAJL_IS_STRING(one)) {
            snprintf(it->error, sizeof it->error, "\"image\" is not a string");
            return;
        }
        batch_image(m, it, image_root, YAJL_GET_STRING(one));
    }
    if (many && !YAJL_IS_NULL(many)) {
        if (!YAJL_IS_ARRAY(many)) {
            snprintf(it->error, sizeof it->error, "\"images\" is not an array");
            return;
        }
        for (size_t k = 0; k < many->u.array.len && !it->error[0]; k++) {
            yajl_val v = many->u.array.values[k];
            if (!YAJL_IS_STRING(v))
                snprintf(it->error, sizeof it->error, "\"images\"[%zu] is not a string", k);
            else
                batch_image(m, it, image_root, YAJL_GET_STRING(v));
        }
    }
    if (it->error[0])
        return;
    if (raw) {
        it->prompt = strdup(raw);
    } else {
        /* one tag per image after the first on its own line, as the single-question form */
        size_t need = strlen(question) + it->n_images * 21 + 1;
        char *q = malloc(need);
        if (q) {
            q[0] = 0;
            for (size_t k = 1; k < it->n_images; k++)
                strcat(q, "<image_placeholder>\n");
            strcat(q, question);
            it->prompt = jf_janus_chat_prompt(m, q, it->n_images > 0);
            free(q);
        }
    }
    if (!it->prompt)
        snprintf(it->error, sizeof it->error, "out of memory");
}

static void batch_free(batch_item *it)
{
    for (size_t k = 0; k < it->n_images; k++)
        free(it->pix[k]);
    free(it->prompt);
    free(it->answer);
    yajl_tree_free(it->doc);
    memset(it, 0, sizeof *it);
}

static void write_id(jw *w, yajl_val id)
{
    if (!id)
        return;
    jw_key(w, "id");
    if (YAJL_IS_STRING(id))
        jw_str(w, YAJL_GET_STRING(id));
    else if (YAJL_IS_INTEGER(id))
        jw_int(w, YAJL_GET_INTEGER(id));
    else if (YAJL_IS_NUMBER(id))
        jw_num(w, YAJL_GET_DOUBLE(id));
    else
        jw_null(w);
}

/* Runs items[0..n) (those without an error) as one batch, then writes one line per item in
 * line order. */
static int batch_run(jf_janus *m, batch_item *items, size_t n, const jf_gen_params *p, size_t *answered,
                     size_t *failed, size_t *new_tokens, jf_model_error *err)
{
    jf_janus_request req[64];
    size_t map[64], k = 0;
    memset(req, 0, sizeof req);
    for (size_t i = 0; i < n; i++)
        if (!items[i].error[0]) {
            req[k].prompt = items[i].prompt;
            req[k].images = (const float *const *)items[i].pix;
            req[k].n_images = items[i].n_images;
            map[k++] = i;
        }
    if (k && jf_janus_generate_batch(m, req, k, p, err))
        return 1;
    for (size_t r = 0; r < k; r++) {
        batch_item *it = &items[map[r]];
        if (req[r].status)
            snprintf(it->error, sizeof it->error, "%.600s", req[r].error);
        else if (!(it->answer = jf_tokenizer_decode(jf_janus_tokenizer(m), req[r].out_ids, req[r].n_out, 1)))
            snprintf(it->error, sizeof it->error, "out of memory");
        it->new_tokens = req[r].n_out;
        free(req[r].out_ids);
    }
    for (size_t i = 0; i < n; i++) {
        batch_item *it = &items[i];
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "line", it->line);
        write_id(&w, it->id);
        if (it->answer) {
            jw_kstr(&w, "answer", it->answer);
            jw_kint(&w, "new_tokens", (long long)it->new_tokens);
            (*answered)++;
            *new_tokens += it->new_tokens;
        } else {
            jw_kstr(&w, "error", it->error);
            (*failed)++;
        }
        jw_end_obj(&w);
        jw_newline(&w);
    }
    fflush(stdout);
    return 0;
}

static int chat_batch(jf_janus *m, const char *path, const char *image_root, size_t batch_size, const jf_gen_params *p,
                      const cli_opts *o)
{
    size_t len = 0;
    char *text = read_text_file(path, &len);
    if (!text) {
        fprintf(stderr, "jf chat: %s: cannot read\n", path);
        return 3;
    }
    size_t total = 0;
    for (size_t i = 0; i < len; i++)
        total += text[i] == '\n' || i + 1 == len;
    batch_item items[64];
    memset(items, 0, sizeof items);
    size_t n = 0, answered = 0, failed = 0, new_tokens = 0;
    long line = 0;
    int rc = 0;
    progress pr;
    progress_init(&pr, "chat", o);
    double t0 = now_seconds();
    jf_model_error err = {0};
    for (char *cur = text; cur < text + len && !rc;) {
        char *nl = memchr(cur, '\n', (size_t)(text + len - cur));
        char *end = nl ? nl : text + len;
        *end = 0;
        line++;
        char *q = cur;
        cur = end + 1;
        while (*q == ' ' || *q == '\t' || *q == '\r')
            q++;
        if (!*q)
            continue; /* blank lines are not questions */
        batch_item *it = &items[n++];
        it->line = line;
        batch_parse(m, it, q, image_root);
        if (n == batch_size || cur >= text + len) {
            rc = batch_run(m, items, n, p, &answered, &failed, &new_tokens, &err);
            for (size_t i = 0; i < n; i++)
                batch_free(&items[i]);
            n = 0;
            progress_update(&pr, answered + failed, total, "questions");
        }
    }
    if (!rc && n) /* the file ended in blank lines after a partial batch */
        rc = batch_run(m, items, n, p, &answered, &failed, &new_tokens, &err);
    for (size_t i = 0; i < n; i++)
        batch_free(&items[i]);
    progress_done(&pr);
    free(text);
    if (rc)
        return model_fail("chat", &err);
    double secs = now_seconds() - t0;
    if (!o->quiet)
        fprintf(stderr, "jf chat: %zu questions: %zu answered, %zu failed; %zu new tokens in %.1f s (%.1f tokens/s)\n",
                answered + failed, answered, failed, new_tokens, secs, secs > 0 ? (double)new_tokens / secs : 0.0);
    return failed ? EXIT_PROBLEMS : 0;
}

int cmd_chat(int argc, char **argv)
{
    enum { O_MODEL = 1000, O_IMAGE, O_MAX, O_TEMP, O_TOPP, O_SEED, O_RAW, O_THREADS, O_JSON, O_QUIET, O_HELP, O_BATCH,
           O_ROOT, O_BSIZE, O_DUMP, O_DSTEPS };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"image", required_argument, 0, O_IMAGE},
        {"max-new-tokens", required_argument, 0, O_MAX}, {"temperature", required_argument, 0, O_TEMP},
        {"top-p", required_argument, 0, O_TOPP}, {"seed", required_argument, 0, O_SEED},
        {"raw", no_argument, 0, O_RAW}, {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON}, {"quiet", no_argument, 0, O_QUIET}, {"help", no_argument, 0, O_HELP},
        {"batch", required_argument, 0, O_BATCH}, {"image-root", required_argument, 0, O_ROOT},
        {"batch-size", required_argument, 0, O_BSIZE}, {"dump-logits", required_argument, 0, O_DUMP},
        {"dump-steps", required_argument, 0, O_DSTEPS}, {0, 0, 0, 0}};
    const char *batch = NULL, *image_root = NULL, *dump_path = NULL;
    long dump_steps = 1;
    long batch_size = 8;
    const char *model_dir = NULL;
    const char *images[64];
    size_t n_images = 0;
    int raw = 0, json = 0, quiet = 0;
    long threads = 0;
    jf_gen_params p = jf_gen_default_params();
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        long v;
        char *end;
        switch (c) {
        case O_MODEL: model_dir = optarg; break;
        case O_IMAGE:
            if (n_images == 64)
                return usage_error("chat", "at most 64 images");
            images[n_images++] = optarg;
            break;
        case O_MAX:
            if (parse_int(optarg, &v) || v <= 0)
                return usage_error("chat", "bad --max-new-tokens %s", optarg);
            p.max_new_tokens = (int)v;
            break;
        case O_TEMP:
            p.temperature = strtof(optarg, &end);
            if (*end || p.temperature < 0)
                return usage_error("chat", "bad --temperature %s", optarg);
            break;
        case O_TOPP:
            p.top_p = strtof(optarg, &end);
            if (*end || p.top_p <= 0 || p.top_p > 1)
                return usage_error("chat", "bad --top-p %s", optarg);
            break;
        case O_SEED:
            if (parse_u64(optarg, &p.seed))
                return usage_error("chat", "bad --seed %s", optarg);
            break;
        case O_RAW: raw = 1; break;
        case O_THREADS:
            if (parse_int(optarg, &threads) || threads < 0)
                return usage_error("chat", "bad --threads %s", optarg);
            break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_HELP: fputs(CHAT_HELP, stdout); return 0;
        case O_BATCH: batch = optarg; break;
        case O_ROOT: image_root = optarg; break;
        case O_BSIZE:
            if (parse_int(optarg, &batch_size) || batch_size < 1 || batch_size > 64)
                return usage_error("chat", "bad --batch-size %s (1 to 64)", optarg);
            break;
        case O_DUMP: dump_path = optarg; break;
        case O_DSTEPS:
            if (parse_int(optarg, &dump_steps) || dump_steps < 1 || dump_steps > 4096)
                return usage_error("chat", "bad --dump-steps %s (1 to 4096)", optarg);
            break;
        default: return usage_error("chat", "see jf chat --help");
        }
    }
    if (!model_dir)
        return usage_error("chat", "--model DIR is required");
    if (batch) {
        if (optind != argc || n_images || raw)
            return usage_error("chat", "--batch takes its questions and images from the file");
        if (dump_path)
            return usage_error("chat", "--dump-logits is for one question, not --batch");
        jf_model_set_threads((int)threads);
        jf_model_error err = {0};
        jf_janus *m = NULL;
        if (jf_janus_load(model_dir, &m, NULL, print_unknown, NULL, &err))
            return model_fail("chat", &err);
        cli_opts o = {json, quiet};
        int rc = chat_batch(m, batch, image_root, (size_t)batch_size, &p, &o);
        jf_janus_free(m);
        return rc;
    }
    if (optind + 1 != argc)
        return usage_error("chat", "one QUESTION is required (quote it)");
    const char *question = argv[optind];
    jf_model_set_threads((int)threads);
    jf_model_error err = {0};
    jf_janus *m = NULL;
    double t0 = now_seconds();
    if (jf_janus_load(model_dir, &m, NULL, print_unknown, NULL, &err))
        return model_fail("chat", &err);
    double t_load = now_seconds() - t0;
    float *pix[64] = {0};
    int rc = 0;
    for (size_t i = 0; i < n_images && !rc; i++)
        rc = load_pixels(m, images[i], &pix[i]);
    char *prompt = NULL;
    if (!rc) {
        if (raw) {
            prompt = strdup(question);
        } else {
            /* one tag per image, each on its own line, before the question */
            size_t need = strlen(question) + n_images * 21 + 1;
            char *q = malloc(need);
            q[0] = 0;
            for (size_t i = 1; i < n_images; i++)
                strcat(q, "<image_placeholder>\n");
            strcat(q, question);
            prompt = jf_janus_chat_prompt(m, q, n_images > 0);
            free(q);
        }
    }
    if (!rc) {
        int32_t *ids = NULL;
        size_t n_prompt = 0, n = 0;
        if (jf_janus_encode_prompt(m, prompt, &ids, &n_prompt, NULL, &err) != JF_MODEL_OK)
            ids = NULL;
        chat_state cs = {!json, now_seconds(), 0, 0};
        int32_t *out = NULL;
        logit_dump dump = {0};
        if (dump_path) {
            dump.vocab = jf_janus_get_config(m)->vocab;
            dump.max_steps = (size_t)dump_steps;
            dump.v = malloc(dump.max_steps * (size_t)dump.vocab * sizeof *dump.v);
            if (!dump.v)
                rc = model_fail("chat", &(jf_model_error){JF_MODEL_ENOMEM, "out of memory for --dump-logits"});
            p.on_logits = keep_logits;
            p.logits_user = &dump;
        }
        if (rc) {
        } else if (jf_janus_generate(m, prompt, (const float *const *)pix, n_images, &p, on_piece, &cs, &out, &n, &err)) {
            rc = model_fail("chat", &err);
        } else {
            jf_error de;
            if (dump_path && jf_npy_write_f32(dump_path, dump.v, dump.steps, (size_t)dump.vocab, &de) != JF_OK)
                rc = fail("chat", &de);
            double end = now_seconds();
            char *answer = jf_tokenizer_decode(jf_janus_tokenizer(m), out, n, 1);
            double prefill = (cs.pieces ? cs.first : end) - cs.start;
            double decode_rate = n > 1 && cs.pieces ? (double)(n - 1) / (end - cs.first) : 0;
            if (json) {
                jw w;
                jw_init(&w, stdout);
                jw_obj(&w);
                jw_kstr(&w, "answer", answer ? answer : "");
                jw_kint(&w, "prompt_tokens", (long long)n_prompt);
                jw_kint(&w, "new_tokens", (long long)n);
                /* for parity checks: the prompt as built, its ids, and the ids generated */
                jw_kstr(&w, "prompt", prompt);
                jw_key(&w, "prompt_ids");
                jw_arr(&w);
                for (size_t i = 0; ids && i < n_prompt; i++)
                    jw_int(&w, ids[i]);
                jw_end_arr(&w);
                jw_key(&w, "ids");
                jw_arr(&w);
                for (size_t i = 0; i < n; i++)
                    jw_int(&w, out[i]);
                jw_end_arr(&w);
                if (dump_path) {
                    jw_kstr(&w, "logits_file", dump_path);
                    jw_kint(&w, "logits_steps", (long long)dump.steps);
                }
                jw_knum(&w, "load_seconds", t_load);
                jw_knum(&w, "first_token_seconds", prefill);
                jw_knum(&w, "decode_tokens_per_second", decode_rate);
                jw_kint(&w, "threads", jf_model_threads());
                jw_end_obj(&w);
                jw_newline(&w);
            } else {
                putchar('\n');
                if (!quiet)
                    fprintf(stderr, "jf chat: %zu prompt tokens, %zu new; load %.2f s, first token %.2f s, %.1f tokens/s\n",
                            n_prompt, n, t_load, prefill, decode_rate);
            }
            free(answer);
            free(out);
        }
        free(ids);
        free(dump.v);
    }
    free(prompt);
    for (size_t i = 0; i < n_images; i++)
        free(pix[i]);
    jf_janus_free(m);
    return rc;
}
