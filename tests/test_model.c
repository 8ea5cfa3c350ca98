/* Tests of the model module: the tokenizer against Hugging Face's ids, safetensors loading and
 * its checks, the layers and the whole understanding path against PyTorch goldens. */
#include "check.h"
#include "test_files.h"
#include "jf_model.h"
#include "model_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#ifndef JF_TEST_DATA
#define JF_TEST_DATA "tests/data"
#endif
#ifndef JF_SHARED_DATA
#define JF_SHARED_DATA "../shared/data"
#endif

static void cleanup(void) {}

static size_t b64_decode(const char *in, unsigned char *out)
{
    static const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(tab, *in);
        if (!p)
            continue;
        v = (v << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(v >> bits);
        }
    }
    return n;
}

static int ids_equal(const int32_t *a, long na, yajl_val arr)
{
    if (!YAJL_IS_ARRAY(arr) || (long)arr->u.array.len != na)
        return 0;
    for (long i = 0; i < na; i++)
        if (YAJL_GET_INTEGER(arr->u.array.values[i]) != a[i])
            return 0;
    return 1;
}

static void print_ids(const char *what, const int32_t *a, long n)
{
    fprintf(stderr, "  %s:", what);
    for (long i = 0; i < n; i++)
        fprintf(stderr, " %d", a[i]);
    fputc('\n', stderr);
}

/* The golden cases of tests/reference/tokenizer_golden.js against one tokenizer.json. */
static void golden_tokenizer(const char *tokenizer_path, const char *golden_path)
{
    jf_model_error err = {0};
    jf_tokenizer *tok = NULL;
    if (access(tokenizer_path, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s is not here (the shared test data of the brief)\n", tokenizer_path);
        exit(77);
    }
    struct stat sb;
    if (stat(tokenizer_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        /* a folder: the vocab.json + merges.txt pair */
        char v[1024], m[1024];
        snprintf(v, sizeof v, "%s/vocab.json", tokenizer_path);
        snprintf(m, sizeof m, "%s/merges.txt", tokenizer_path);
        CHECK_OK(jf_tokenizer_load_clip(v, m, &tok, &err));
    } else {
        CHECK_OK(jf_tokenizer_load(tokenizer_path, &tok, &err));
    }
    char *json = slurp(golden_path, NULL);
    CHECK(json);
    char eb[256];
    yajl_val root = yajl_tree_parse(json, eb, sizeof eb);
    CHECK_MSG(root, "%s", eb);
    const char *cp[] = {"cases", NULL};
    yajl_val cases = yajl_tree_get(root, cp, yajl_t_array);
    CHECK(cases && cases->u.array.len > 100);
    int bad = 0;
    for (size_t i = 0; i < cases->u.array.len; i++) {
        yajl_val c = cases->u.array.values[i];
        const char *kb[] = {"b64", NULL}, *ki[] = {"ids", NULL}, *ks[] = {"ids_special", NULL},
                   *kd[] = {"decoded", NULL};
        const char *b64 = YAJL_GET_STRING(yajl_tree_get(c, kb, yajl_t_string));
        unsigned char text[4096];
        size_t len = b64_decode(b64, text);
        int32_t *ids = NULL, *ids2 = NULL;
        long n = jf_tokenizer_encode(tok, (const char *)text, len, 0, &ids, &err);
        long n2 = jf_tokenizer_encode(tok, (const char *)text, len, 1, &ids2, &err);
        if (n < 0 || n2 < 0) {
            fprintf(stderr, "case %zu: encode failed: %s\n", i, err.msg);
            bad++;
            continue;
        }
        if (!ids_equal(ids, n, yajl_tree_get(c, ki, yajl_t_array))) {
            fprintf(stderr, "case %zu (%.*s): ids differ\n", i, (int)len, text);
            print_ids("jf", ids, n);
            yajl_val a = yajl_tree_get(c, ki, yajl_t_array);
            fprintf(stderr, "  hf:");
            for (size_t k = 0; k < a->u.array.len; k++)
                fprintf(stderr, " %lld", YAJL_GET_INTEGER(a->u.array.values[k]));
            fputc('\n', stderr);
            bad++;
        } else if (!ids_equal(ids2, n2, yajl_tree_get(c, ks, yajl_t_array))) {
            fprintf(stderr, "case %zu: ids with special tokens differ\n", i);
            print_ids("jf", ids2, n2);
            bad++;
        } else {
            char *dec = jf_tokenizer_decode(tok, ids, (size_t)n, 0);
            const char *want = YAJL_GET_STRING(yajl_tree_get(c, kd, yajl_t_string));
            if (!dec || strcmp(dec, want)) {
                fprintf(stderr, "case %zu: decode differs: [%s] vs [%s]\n", i, dec ? dec : "(null)", want);
                bad++;
            }
            free(dec);
        }
        free(ids);
        free(ids2);
    }
    yajl_tree_free(root);
    free(json);
    jf_tokenizer_free(tok);
    CHECK_EQ_INT(bad, 0);
}

static void tokenizer_deepseek(void)
{
    golden_tokenizer(JF_SHARED_DATA "/tokenizers/deepseek-llm/tokenizer.json", JF_TEST_DATA "/tokenizer_deepseek.json");
}

static void tokenizer_clip(void)
{
    golden_tokenizer(JF_SHARED_DATA "/tokenizers/clip/tokenizer.json", JF_TEST_DATA "/tokenizer_clip.json");
}

/* The same ids from the vocab.json + merges.txt pair. */
static void tokenizer_clip_pair(void)
{
    golden_tokenizer(JF_SHARED_DATA "/tokenizers/clip", JF_TEST_DATA "/tokenizer_clip.json");
}


/* ---- the tiny JanusFlow of tests/reference/janus_ref.py ---- */

#define TINY_DIR JF_TEST_DATA "/janus_tiny"

typedef struct golden {
    uint32_t n_ids, image_size, n_feat, vocab, steps;
    int32_t *ids;
    uint8_t *rgb;
    float *pixels, *features, *logits;
    int32_t *greedy;
    char *buf;
} golden;

static int load_golden(golden *g)
{
    size_t len;
    g->buf = slurp(JF_TEST_DATA "/janus_tiny_golden.bin", &len);
    if (!g->buf || len < 28 || memcmp(g->buf, "JFJG1\0\0\0", 8))
        return 0;
    memcpy(&g->n_ids, g->buf + 8, 20);
    size_t px = (size_t)g->image_size * g->image_size;
    char *p = g->buf + 28;
    g->ids = (int32_t *)p;
    p += g->n_ids * 4;
    g->rgb = (uint8_t *)p;
    p += px * 3;
    g->pixels = (float *)p;
    p += px * 3 * 4;
    g->features = (float *)p;
    p += (size_t)g->n_feat * 4;
    g->logits = (float *)p;
    p += (size_t)(g->steps + 1) * g->vocab * 4;
    g->greedy = (int32_t *)p;
    p += g->steps * 4;
    return (size_t)(p - g->buf) == len;
}
static void tiny_load(void)
{
    jf_model_error err = {0};
    jf_janus *m = NULL;
    jf_janus_load_stats st;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, &st, NULL, NULL, &err));
    const jf_janus_config *c = jf_janus_get_config(m);
    CHECK_EQ_INT(st.tensors, 125);
    CHECK_EQ_INT(st.unknown_tensors, 0);
    CHECK_EQ_INT(st.n_bf16, 125);
    CHECK_EQ_INT(c->hidden, 32);
    CHECK_EQ_INT(c->heads, 4);
    CHECK_EQ_INT(c->kv_heads, 2);
    CHECK_EQ_INT(c->vit_width, 32);
    CHECK_EQ_INT(c->vit_heads, 2);
    CHECK_EQ_INT(c->vit_layers, 2);
    CHECK_EQ_INT(c->image_tokens, 16);
    CHECK_EQ_INT(c->image_size, 16);
    /* the loader's order (spec §3.3 addendum): tokenizer.json ends at 301; the special-tokens
     * map adds the generation tag (302), unk is null; the processor adds the image tags */
    CHECK_EQ_INT(c->bos, 300);
    CHECK_EQ_INT(c->eos, 301);
    CHECK_EQ_INT(c->image_gen, 302);
    CHECK_EQ_INT(c->image_tag, 303);
    CHECK_EQ_INT(c->image_start, 304);
    CHECK_EQ_INT(c->image_end, 305);
    CHECK_EQ_INT(c->pad, 301);
    /* the memory plan: the KV cache rounds the positions up as the cache grows (256, 512, ...) */
    jf_janus_memory_plan pl = jf_janus_plan(m, 300, 100, 1);
    CHECK_EQ_INT(pl.kv_cache, 2ull * 2 * 512 * (2 * 8) * 4);
    CHECK_EQ_INT(pl.total, pl.weights_mapped + pl.kv_cache + pl.llm_activations + pl.vision_activations + pl.scratch);
    CHECK(pl.weights_mapped == st.bytes && pl.vision_activations > 0);
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    CHECK_EQ_INT(spec.background[0], 127);
    CHECK_EQ_INT(spec.size, 16);
    /* the chat prompt of spec §3.2, checked against its stated length */
    char *prompt = jf_janus_chat_prompt(m, "Convert the formula into latex code.", 1);
    CHECK(prompt && strlen(prompt) == 262);
    CHECK(!strncmp(prompt, "You are a helpful language and vision assistant.", 48));
    CHECK(strstr(prompt, "\n\nUser: <image_placeholder>\nConvert the formula into latex code.\n\nAssistant:"));
    int32_t *ids = NULL;
    size_t n = 0, tags = 0;
    CHECK_OK(jf_janus_encode_prompt(m, prompt, &ids, &n, &tags, &err));
    free(prompt);
    CHECK_EQ_INT(tags, 1);
    CHECK_EQ_INT(ids[0], 300);
    size_t boi = 0;
    while (boi < n && ids[boi] != 304)
        boi++;
    CHECK(boi + 17 < n);
    CHECK(ids[boi - 1] == 32); /* the space before an added token is its own token */
    for (size_t i = 1; i <= 16; i++)
        CHECK_EQ_INT(ids[boi + i], 303);
    CHECK_EQ_INT(ids[boi + 17], 305);
    free(ids);
    jf_janus_free(m);
}

/* jf_janus_write_random writes the same tensor names as the reference script (the release's
 * inventory), and what it writes loads. */
static void random_model(void)
{
    jf_model_error err = {0};
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/jf_test_random_%d", (int)getpid());
    jf_janus_random_shape shape = jf_janus_tiny_shape();
    CHECK_OK(jf_janus_write_random(dir, &shape, 5, &err));
    jf_weights *a = NULL, *b = NULL;
    CHECK_OK(jf_weights_open(dir, &a, &err));
    CHECK_OK(jf_weights_open(TINY_DIR, &b, &err));
    CHECK_EQ_INT(jf_weights_count(a), jf_weights_count(b));
    for (size_t i = 0; i < jf_weights_count(b); i++) {
        const jf_tensor_info *t = jf_weights_at(b, i);
        CHECK_MSG(jf_weights_find(a, t->name), "%s", t->name);
    }
    jf_weights_close(a);
    jf_weights_close(b);
    jf_janus *m = NULL;
    jf_janus_load_stats st;
    CHECK_OK(jf_janus_load(dir, &m, &st, NULL, NULL, &err));
    CHECK_EQ_INT(st.unknown_tensors, 0);
    /* every tensor but the MAP head the official encoder never runs is checked, the generation
     * heads included (configured as the release configures them) */
    CHECK_EQ_INT(st.used_tensors, st.tensors - 13);
    const jf_janus_config *c = jf_janus_get_config(m);
    CHECK_EQ_INT(c->image_tokens, 64);
    CHECK(c->gen.present && c->gen.channels == shape.gen_width && c->gen.latent_channels == 4 && c->gen.patch == 2 &&
          c->gen.enc_blocks == 2 && c->gen.dec_blocks == 2 && c->gen.dec_out == 4);
    CHECK_EQ_INT(c->vit_layers, shape.vit_layers);
    jf_janus_free(m);
    /* config.json has what the official MultiModalityConfig reads: both generation configs with
     * the class names model_name_to_cls accepts, transformers_version, and the select_layer with
     * which create_siglip_vit builds exactly the blocks written */
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t n;
    char *conf = slurp(path, &n);
    CHECK(conf && strstr(conf, "\"vision_gen_enc_config\"") && strstr(conf, "\"cls\": \"ShallowUViTEncoder\"") &&
          strstr(conf, "\"vision_gen_dec_config\"") && strstr(conf, "\"cls\": \"ShallowUViTDecoder\"") &&
          strstr(conf, "\"transformers_version\": \"4.38.1\"") && strstr(conf, "\"select_layer\": -23"));
    free(conf);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void tiny_golden(void)
{
    jf_model_error err = {0};
    golden g = {0};
    CHECK(load_golden(&g));
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    size_t px = (size_t)g.image_size * g.image_size;
    float *pixels = malloc(px * 3 * sizeof *pixels), *feat = malloc(g.n_feat * sizeof *feat),
          *logits = malloc(g.vocab * sizeof *logits);
    jf_janus_image_to_pixels(&spec, g.rgb, pixels);
    /* the processor's arithmetic is reproduced bit for bit */
    CHECK(!memcmp(pixels, g.pixels, px * 3 * sizeof *pixels));
    CHECK_OK(jf_janus_encode_image(m, pixels, feat, &err));
    double e = rel_err(feat, g.features, g.n_feat);
    printf("SigLIP features: max error %.2e of max |value|\n", e);
    CHECK(e < 1e-5);
    const float *images[] = {pixels};
    CHECK_OK(jf_janus_prefill_logits(m, g.ids, g.n_ids, images, 1, logits, &err));
    for (uint32_t s = 0; s <= g.steps; s++) {
        e = rel_err(logits, g.logits + (size_t)s * g.vocab, g.vocab);
        printf("step %u: logits max error %.2e of max |logit|\n", s, e);
        CHECK(e < 1e-5);
        if (s == g.steps)
            break;
        int32_t best = 0;
        for (uint32_t i = 1; i < g.vocab; i++)
            if (logits[i] > logits[best])
                best = (int32_t)i;
        CHECK_EQ_INT(best, g.greedy[s]);
        CHECK_OK(jf_janus_step_logits(m, best, logits, &err));
    }
    /* a prefill again starts a new sequence (the cache is reset) */
    CHECK_OK(jf_janus_prefill_logits(m, g.ids, g.n_ids, images, 1, logits, &err));
    CHECK(rel_err(logits, g.logits, g.vocab) < 1e-5);
    /* wrong image count */
    CHECK(jf_janus_prefill_logits(m, g.ids, g.n_ids, images, 0, logits, &err) == JF_MODEL_EARG);
    CHECK(strstr(err.msg, "image"));
    free(pixels);
    free(feat);
    free(logits);
    free(g.buf);
    jf_janus_free(m);
}

static void collect(void *user, const char *piece)
{
    char *buf = user;
    strncat(buf, piece, 4095 - strlen(buf));
}

static void tiny_generate(void)
{
    jf_model_error err = {0};
    golden g = {0};
    CHECK(load_golden(&g));
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    float *pixels = malloc((size_t)g.image_size * g.image_size * 3 * sizeof *pixels);
    jf_janus_image_to_pixels(&spec, g.rgb, pixels);
    const float *images[] = {pixels};
    jf_gen_params p = jf_gen_default_params();
    p.max_new_tokens = 12;
    int32_t *out = NULL;
    size_t n = 0;
    char streamed[4096] = "";
    char *prompt = jf_janus_chat_prompt(m, "What is this?", 1);
    CHECK_OK(jf_janus_generate(m, prompt, images, 1, &p, collect, streamed, &out, &n, &err));
    CHECK(n > 0 && n <= 12);
    /* the streamed pieces add up to the decoded answer */
    char *text = jf_tokenizer_decode(jf_janus_tokenizer(m), out, n, 1);
    CHECK(text && !strcmp(text, streamed));
    free(text);
    /* greedy is deterministic; sampling with a seed is too */
    int32_t *out2 = NULL;
    size_t n2 = 0;
    CHECK_OK(jf_janus_generate(m, prompt, images, 1, &p, NULL, NULL, &out2, &n2, &err));
    CHECK(n2 == n && !memcmp(out, out2, n * sizeof *out));
    free(out2);
    p.temperature = 1.0f;
    p.seed = 7;
    int32_t *s1 = NULL, *s2 = NULL;
    size_t k1 = 0, k2 = 0;
    CHECK_OK(jf_janus_generate(m, prompt, images, 1, &p, NULL, NULL, &s1, &k1, &err));
    CHECK_OK(jf_janus_generate(m, prompt, images, 1, &p, NULL, NULL, &s2, &k2, &err));
    CHECK(k1 == k2 && !memcmp(s1, s2, k1 * sizeof *s1));
    free(s1);
    free(s2);
    /* a prompt whose tags do not match the images */
    CHECK(jf_janus_generate(m, prompt, images, 0, &p, NULL, NULL, &s1, &k1, &err) == JF_MODEL_EARG);
    free(prompt);
    free(out);
    free(pixels);
    free(g.buf);
    jf_janus_free(m);
}

/* Batched generation gives each request what it gives alone; a bad request fails alone. */
static void tiny_batch(void)
{
    jf_model_error err = {0};
    golden g = {0};
    CHECK(load_golden(&g));
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    float *pixels = malloc((size_t)g.image_size * g.image_size * 3 * sizeof *pixels);
    jf_janus_image_to_pixels(&spec, g.rgb, pixels);
    const float *images[] = {pixels};
    char *p0 = jf_janus_chat_prompt(m, "What is this?", 1), *p1 = jf_janus_chat_prompt(m, "Tell me a story.", 0),
         *p2 = jf_janus_chat_prompt(m, "Is the cat in the image?", 1);
    jf_janus_request r[4] = {{p0, images, 1, NULL, 0, 0, ""},
                             {p1, NULL, 0, NULL, 0, 0, ""},
                             {p2, NULL, 0, NULL, 0, 0, ""}, /* a tag without an image: fails alone */
                             {p2, images, 1, NULL, 0, 0, ""}};
    jf_gen_params p = jf_gen_default_params();
    p.max_new_tokens = 10;
    CHECK_OK(jf_janus_generate_batch(m, r, 4, &p, &err));
    CHECK(r[2].status == JF_MODEL_EARG && strstr(r[2].error, "image"));
    for (int i = 0; i < 4; i++) {
        if (i == 2)
            continue;
        CHECK_MSG(r[i].status == JF_MODEL_OK, "%s", r[i].error);
        int32_t *one = NULL;
        size_t n1 = 0;
        CHECK_OK(jf_janus_generate(m, r[i].prompt, r[i].images, r[i].n_images, &p, NULL, NULL, &one, &n1, &err));
        CHECK_MSG(n1 == r[i].n_out && !memcmp(one, r[i].out_ids, n1 * sizeof *one), "request %d differs from alone", i);
        printf("request %d: %zu tokens, same as alone\n", i, n1);
        free(one);
    }
    for (int i = 0; i < 4; i++)
        free(r[i].out_ids);
    free(p0);
    free(p1);
    free(p2);
    free(pixels);
    free(g.buf);
    jf_janus_free(m);
}
/* Every SigLIP block, the tower's norm, the aligner, every decoder layer (in one pass and through
 * the KV cache), the final norm + lm_head of the tiny model and of a full-width model with one
 * block per tower (written here by the C writer, seed 1, as the golden's was), and RoPE at head
 * width 128, against the PyTorch reference. Tolerance: 1e-5 of the largest reference value. */
static void module_goldens(void)
{
    jf_model_error err = {0};
    size_t len = 0;
    char *buf = slurp(JF_TEST_DATA "/janus_modules_golden.bin", &len);
    CHECK(buf && len > 12 && !memcmp(buf, "JFJM1\0\0\0", 8));
    uint32_t n_rec;
    memcpy(&n_rec, buf + 8, 4);
    char layer_dir[256];
    snprintf(layer_dir, sizeof layer_dir, "/tmp/jf_test_layer_%d", (int)getpid());
    jf_janus_random_shape shape = jf_janus_layer_shape();
    CHECK_OK(jf_janus_write_random(layer_dir, &shape, 1, &err));
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", layer_dir);
    uint64_t layer_sum = word_sum(path), tiny_sum = word_sum(TINY_DIR "/model.safetensors");
    jf_janus *models[2] = {NULL, NULL};
    CHECK_OK(jf_janus_load(TINY_DIR, &models[0], NULL, NULL, NULL, &err));
    CHECK_OK(jf_janus_load(layer_dir, &models[1], NULL, NULL, NULL, &err));
    size_t off = 12;
    int checked = 0, full_size = 0;
    for (uint32_t r = 0; r < n_rec; r++) {
        char name[33] = {0};
        uint64_t wsum;
        uint32_t h[5]; /* rows, cols_in, cols_out, salt, n_kept */
        CHECK(off + 32 + 8 + 20 <= len);
        memcpy(name, buf + off, 32);
        memcpy(&wsum, buf + off + 32, 8);
        memcpy(h, buf + off + 40, 20);
        off += 60;
        const int32_t *kept = (const int32_t *)(buf + off);
        off += (size_t)h[4] * 4;
        const float *want = (const float *)(buf + off);
        off += (size_t)h[4] * h[2] * 4;
        CHECK(off <= len);
        size_t rows = h[0], cin = h[1], cout = h[2];
        float *in = malloc(rows * cin * sizeof *in), *out = malloc(rows * cout * sizeof *out);
        float *got = malloc((size_t)h[4] * cout * sizeof *got);
        CHECK(in && out && got);
        formula_input(in, rows, cin, h[3]);
        int passes = 1;
        if (!strcmp(name, "rope/128")) {
            int pos[6] = {0, 1, 5, 100, 4095, 16383};
            CHECK(rows == 6);
            memcpy(out, in, rows * cin * sizeof *out);
            jf__rope(out, rows, 2, 128, pos, 10000.0);
            /* inv_freq is float32 on both sides, but torch's float pow is not correctly rounded
             * (11 of the 64 frequencies differ by an ulp from the rounded exact value jf uses), so
             * the angles may differ by position × 2^-23 relative: the bound grows with the position */
            for (size_t t = 0; t < rows; t++) {
                double e = rel_err(out + t * cin, want + t * cin, cin);
                double bound = 1e-5 + 2.4e-7 * pos[t];
                printf("rope/128 position %-5d   max error %.2e (bound %.1e)\n", pos[t], e, bound);
                CHECK(e < bound);
            }
            checked++;
            free(in);
            free(out);
            free(got);
            continue;
        } else {
            int which = name[0] - '0', index = 0;
            char module[32] = {0};
            CHECK(which == 0 || which == 1);
            CHECK(sscanf(name + 2, "%31[^/]/%d", module, &index) == 2);
            CHECK_MSG(wsum == (which ? layer_sum : tiny_sum),
                      "%s: the golden was made from other weights (regenerate with tests/reference/janus_ref.py modules)",
                      name);
            jf__janus_module mod = !strcmp(module, "vit_block")   ? JF__MOD_VIT_BLOCK
                                   : !strcmp(module, "vit_norm")  ? JF__MOD_VIT_NORM
                                   : !strcmp(module, "aligner")   ? JF__MOD_ALIGNER
                                   : !strcmp(module, "llm_layer") ? JF__MOD_LLM_LAYER
                                                                  : JF__MOD_LM_HEAD;
            CHECK_MSG(mod != JF__MOD_LM_HEAD || !strcmp(module, "lm_head"), "unknown module %s", name);
            CHECK_OK(jf__janus_module_run(models[which], mod, index, in, rows, 0, out, &err));
            full_size += which;
            if (mod == JF__MOD_LLM_LAYER) {
                /* the same rows again: all but the last through the cache, then the last */
                for (uint32_t k = 0; k < h[4]; k++)
                    memcpy(got + (size_t)k * cout, out + (size_t)kept[k] * cout, cout * sizeof *got);
                double e = rel_err(got, want, (size_t)h[4] * cout);
                printf("%-24s max error %.2e of max |value| (one pass)\n", name, e);
                CHECK(e < 1e-5);
                CHECK_OK(jf__janus_module_run(models[which], mod, index, in, rows, rows - 1, out, &err));
                passes = 2;
            }
        }
        for (uint32_t k = 0; k < h[4]; k++) {
            CHECK(kept[k] >= 0 && (size_t)kept[k] < rows);
            memcpy(got + (size_t)k * cout, out + (size_t)kept[k] * cout, cout * sizeof *got);
        }
        double e = rel_err(got, want, (size_t)h[4] * cout);
        printf("%-24s max error %.2e of max |value|%s\n", name, e, passes == 2 ? " (through the KV cache)" : "");
        CHECK(e < 1e-5);
        checked++;
        free(in);
        free(out);
        free(got);
    }
    CHECK(off == len);
    CHECK_EQ_INT(checked, 13);
    CHECK(full_size >= 5);
    free(buf);
    jf_janus_free(models[0]);
    jf_janus_free(models[1]);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", layer_dir);
    CHECK(system(cmd) == 0);
}

/* A copy of the tiny model directory with model.safetensors replaced by `edit`. */
static void copy_tiny(const char *dst)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dst, TINY_DIR, dst);
    if (system(cmd) != 0)
        abort();
}

/* Writes `orig` (a safetensors file) to path with one header substring replaced. */
static int rewrite_header(const char *orig, size_t len, const char *from, const char *to, const char *path)
{
    uint64_t hl;
    memcpy(&hl, orig, 8);
    const char *hit = memmem(orig + 8, hl, from, strlen(from));
    if (!hit)
        return 0;
    uint64_t nl = hl - strlen(from) + strlen(to);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(&nl, 8, 1, f);
    fwrite(orig + 8, 1, (size_t)(hit - orig - 8), f);
    fwrite(to, 1, strlen(to), f);
    fwrite(hit + strlen(from), 1, len - (size_t)(hit + strlen(from) - orig), f);
    return fclose(f) == 0;
}

static char unknown_seen[256];
static void on_unknown(void *user, const char *name)
{
    (void)user;
    snprintf(unknown_seen, sizeof unknown_seen, "%s", name);
}

static void bad_weights(void)
{
    jf_model_error err = {0};
    jf_janus *m = NULL;
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/jf_test_model_%d", (int)getpid());
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len;
    char *orig = slurp(TINY_DIR "/model.safetensors", &len);
    CHECK(orig);

    /* truncated file: the header's offsets run past the end */
    copy_tiny(dir);
    FILE *f = fopen(path, "wb");
    fwrite(orig, 1, len - 100, f);
    fclose(f);
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) != JF_MODEL_OK);
    printf("truncated: %s\n", err.msg);
    CHECK(strstr(err.msg, "model.safetensors"));

    /* a header length beyond the file */
    f = fopen(path, "wb");
    uint64_t big = (uint64_t)len * 4;
    fwrite(&big, 8, 1, f);
    fwrite(orig + 8, 1, len - 8, f);
    fclose(f);
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) != JF_MODEL_OK);
    printf("header length: %s\n", err.msg);

    /* a renamed tensor: the message names the missing one */
    CHECK(rewrite_header(orig, len, "\"language_model.model.norm.weight\"", "\"language_model.model.NORM.weight\"", path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_ENOTFOUND);
    printf("missing: %s\n", err.msg);
    CHECK(strstr(err.msg, "language_model.model.norm.weight"));

    /* a wrong shape with the right byte count: the message names the tensor and both shapes */
    CHECK(rewrite_header(orig, len, "\"vision_und_enc_aligner.bias\":{\"dtype\":\"BF16\",\"shape\":[32]",
                         "\"vision_und_enc_aligner.bias\":{\"dtype\":\"BF16\",\"shape\":[2,16]", path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_ESHAPE);
    printf("shape: %s\n", err.msg);
    CHECK(strstr(err.msg, "vision_und_enc_aligner.bias") && strstr(err.msg, "[2, 16]") && strstr(err.msg, "[32]"));

    /* a byte count that does not match the shape */
    CHECK(rewrite_header(orig, len, "\"vision_und_enc_aligner.bias\":{\"dtype\":\"BF16\",\"shape\":[32]",
                         "\"vision_und_enc_aligner.bias\":{\"dtype\":\"BF16\",\"shape\":[31]", path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) != JF_MODEL_OK);
    printf("bytes: %s\n", err.msg);
    CHECK(strstr(err.msg, "vision_und_enc_aligner.bias"));

    /* broken JSON in the header */
    CHECK(rewrite_header(orig, len, "\"__metadata__\"", "\"__metadata__", path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_EFORMAT);
    printf("json: %s\n", err.msg);

    /* an unknown tensor is reported and ignored (a REPA head, say) */
    uint64_t hl;
    memcpy(&hl, orig, 8);
    char extra[256];
    size_t data_len = len - 8 - (size_t)hl;
    snprintf(extra, sizeof extra, "\"repa_projector.0.weight\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[%zu,%zu]},"
             "\"beg_of_und_embed\"", data_len, data_len + 2);
    CHECK(rewrite_header(orig, len, "\"beg_of_und_embed\"", extra, path));
    f = fopen(path, "ab");
    fwrite("\0\0", 1, 2, f);
    fclose(f);
    unknown_seen[0] = 0;
    jf_janus_load_stats st;
    CHECK_OK(jf_janus_load(dir, &m, &st, on_unknown, NULL, &err));
    CHECK_EQ_INT(st.unknown_tensors, 1);
    CHECK(!strcmp(unknown_seen, "repa_projector.0.weight"));
    jf_janus_free(m);
    m = NULL;

    /* the generation heads are checked like every other tensor: renamed, one goes missing
     * (before, anything under their prefixes passed) */
    CHECK(rewrite_header(orig, len, "\"vision_gen_dec_model.input_norm.weight\"", "\"vision_gen_dec_model.input_norx.weight\"",
                         path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_ENOTFOUND);
    printf("generation head renamed: %s\n", err.msg);
    CHECK(strstr(err.msg, "vision_gen_dec_model.input_norm.weight"));
    CHECK(rewrite_header(orig, len, "\"vision_gen_enc_model.in_conv.weight\":{\"dtype\":\"BF16\",\"shape\":[8,4,2,2]",
                         "\"vision_gen_enc_model.in_conv.weight\":{\"dtype\":\"BF16\",\"shape\":[8,16,1,1]", path));
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_ESHAPE);
    printf("generation head shape: %s\n", err.msg);
    CHECK(strstr(err.msg, "vision_gen_enc_model.in_conv.weight"));
    f = fopen(path, "wb");
    fwrite(orig, 1, len, f);
    fclose(f);

    /* select_layer counts from the official table's depth (24 for siglip_large_patch16_384),
     * not from the blocks in the file: -23 builds 2 blocks (the fixture), -1 would build 24 */
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t clen;
    char *conf = slurp(path, &clen);
    CHECK(conf && strstr(conf, "\"select_layer\": -23"));
    static const struct { const char *value; int blocks; } sel[] = {{"-23", 2}, {"-24", 1}, {"1", 1}, {"2", 2}, {"-1", -1},
                                                                     {"-24 ", 1}, {"-25", 0}, {"30", -1}};
    for (size_t i = 0; i < sizeof sel / sizeof *sel; i++) {
        char *c2 = malloc(clen + 16), *at = strstr(conf, "-23");
        snprintf(c2, clen + 16, "%.*s%s%s", (int)(at - conf), conf, sel[i].value, at + 3);
        f = fopen(path, "w");
        fputs(c2, f);
        fclose(f);
        free(c2);
        jf_model_status ls = jf_janus_load(dir, &m, NULL, NULL, NULL, &err);
        printf("select_layer %s: %s\n", sel[i].value, ls ? err.msg : "loaded");
        if (sel[i].blocks > 0) {
            CHECK_MSG(ls == JF_MODEL_OK, "select_layer %s: %s", sel[i].value, err.msg);
            CHECK_EQ_INT(jf_janus_get_config(m)->vit_layers, sel[i].blocks);
            jf_janus_free(m);
            m = NULL;
        } else {
            CHECK_MSG(ls == JF_MODEL_ESHAPE, "select_layer %s accepted", sel[i].value);
        }
    }
    f = fopen(path, "w");
    fputs(conf, f);
    fclose(f);
    free(conf);

    /* a missing config */
    unlink(path);
    CHECK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err) == JF_MODEL_EIO);
    CHECK(strstr(err.msg, "config.json"));
    free(orig);


    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* Appendix B of the spec: the checks that need no weights. */
/* PyTorch's CPU pooling loops (aten/src/ATen/native/cpu/{Max,Avg}PoolKernel.cpp, NCHW, floor
 * mode), transcribed: the window row by row in float, then one division by the count. */
static float torch_pool_one(const float *in, int H, int W, int k, int s, int p, int mode, int oy, int ox)
{
    int hs = oy * s - p, ws = ox * s - p;
    int he = hs + k < H + p ? hs + k : H + p, we = ws + k < W + p ? ws + k : W + p;
    int pool_size = (he - hs) * (we - ws);
    if (hs < 0)
        hs = 0;
    if (ws < 0)
        ws = 0;
    if (he > H)
        he = H;
    if (we > W)
        we = W;
    float acc = mode == 0 ? -INFINITY : 0.0f;
    for (int iy = hs; iy < he; iy++)
        for (int ix = ws; ix < we; ix++) {
            float v = in[iy * W + ix];
            if (mode == 0)
                acc = (v > acc || isnan(v)) ? v : acc;
            else
                acc += v;
        }
    if (mode == 1)
        acc /= (float)((he - hs) * (we - ws));
    else if (mode == 2)
        acc /= (float)pool_size;
    return acc;
}

/* jf__pool2d gives PyTorch's numbers bit for bit on awkward planes (1x1, thin, odd, the
 * Inception sizes) for max, average without and with the padding counted. */
static void pool_exact(void)
{
    static const int sizes[][2] = {{1, 1}, {2, 5}, {7, 7}, {9, 17}, {35, 35}, {1, 40}, {147, 147}};
    static const int kinds[][3] = {{3, 1, 1}, {3, 2, 0}, {3, 2, 1}, {2, 2, 0}, {5, 1, 2}, {1, 1, 0}};
    int cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t ki = 0; ki < sizeof kinds / sizeof *kinds; ki++)
            for (int mode = 0; mode < 3; mode++) {
                int H = sizes[si][0], W = sizes[si][1], k = kinds[ki][0], st = kinds[ki][1], p = kinds[ki][2];
                if (H + 2 * p < k || W + 2 * p < k || 2 * p > k)
                    continue;
                int OH = (H + 2 * p - k) / st + 1, OW = (W + 2 * p - k) / st + 1, planes = 3;
                float *x = malloc((size_t)planes * H * W * sizeof *x), *y = malloc((size_t)planes * OH * OW * sizeof *y);
                for (int i = 0; i < planes * H * W; i++) /* values whose sums round: thirds and sevenths */
                    x[i] = (float)((i * 7919) % 1013) / 3.0f - (float)((i * 31) % 97) / 7.0f;
                jf__pool2d(x, planes, H, W, k, st, p, mode, y);
                for (int pl = 0; pl < planes; pl++)
                    for (int oy = 0; oy < OH; oy++)
                        for (int ox = 0; ox < OW; ox++) {
                            float want = torch_pool_one(x + (size_t)pl * H * W, H, W, k, st, p, mode, oy, ox);
                            float got = y[((size_t)pl * OH + oy) * OW + ox];
                            CHECK_MSG(!memcmp(&want, &got, 4), "%dx%d k%d s%d p%d mode %d at (%d,%d,%d): %.9g vs %.9g", H, W,
                                      k, st, p, mode, pl, oy, ox, got, want);
                        }
                free(x);
                free(y);
                cases++;
            }
    printf("%d pooling cases identical to PyTorch's loops\n", cases);
    CHECK(cases > 90);
}

static void self_checks(void)
{
    /* the released inventory: 587 tensors, 2,046,367,504 parameters */
    jf_janus_random_shape full = jf_janus_full_shape();
    size_t nt;
    uint64_t np;
    jf_janus_random_inventory(&full, &nt, &np);
    CHECK_EQ_INT(nt, 587);
    CHECK_EQ_INT(np, 2046367504ll);
    /* RoPE at position 0 is the identity; rotate-half pairs dim i with dim i + 64 */
    float x[2 * 128], y[2 * 128];
    for (int i = 0; i < 256; i++)
        x[i] = y[i] = (float)(i % 17) - 8.0f;
    int pos0[1] = {0};
    jf__rope(y, 1, 2, 128, pos0, 10000.0);
    CHECK(!memcmp(x, y, sizeof x));
    float e[128] = {0};
    e[3] = 1.0f; /* a unit vector in dim 3 rotates into dim 3 + 64 only */
    int pos1[1] = {1};
    jf__rope(e, 1, 1, 128, pos1, 10000.0);
    double theta = 1.0 * pow(10000.0, -6.0 / 128.0);
    CHECK(fabs(e[3] - cos(theta)) < 1e-6 && fabs(e[67] - sin(theta)) < 1e-6);
    for (int i = 0; i < 128; i++)
        if (i != 3 && i != 67)
            CHECK(e[i] == 0.0f);
    /* softmax, GELU (erf form) and SiLU at known points */
    float sm[3] = {1.0f, 2.0f, 3.0f};
    jf__softmax_row(sm, 3);
    CHECK(fabs(sm[2] - 0.66524096) < 1e-6 && fabs(sm[0] + sm[1] + sm[2] - 1.0) < 1e-6);
    float g[20], sl[20];
    for (int i = 0; i < 20; i++)
        g[i] = sl[i] = (float)i * 0.5f - 5.0f;
    jf__gelu(g, 20);
    jf__silu(sl, 20);
    for (int i = 0; i < 20; i++) {
        double v = (double)i * 0.5 - 5.0;
        CHECK(fabs(g[i] - 0.5 * v * (1.0 + erf(v / sqrt(2.0)))) < 2e-6);
        CHECK(fabs(sl[i] - v / (1.0 + exp(-v))) < 2e-6);
    }
    /* attention over keys in two segments (a shared prefix read in place, then a sequence's own)
     * equals attention over the concatenation: every prefix length, causal queries after it,
     * grouped heads; the value products are summed per segment, so to rounding */
    enum { HEADS = 4, KVH = 2, D = 16, PN = 37, OWN = 9, TQ = 5 };
    size_t ldq = HEADS * D, ldk = KVH * D;
    float *q = malloc(TQ * ldq * sizeof *q), *k = malloc((PN + OWN) * ldk * sizeof *k),
          *v = malloc((PN + OWN) * ldk * sizeof *v), *o1 = malloc(TQ * ldq * sizeof *o1), *o2 = malloc(TQ * ldq * sizeof *o2);
    for (size_t i = 0; i < TQ * ldq; i++)
        q[i] = (float)((i * 7919) % 1013) / 500.0f - 1.0f;
    for (size_t i = 0; i < (PN + OWN) * ldk; i++) {
        k[i] = (float)((i * 104729) % 997) / 400.0f - 1.2f;
        v[i] = (float)((i * 31) % 101) / 50.0f - 1.0f;
    }
    double worst = 0;
    for (size_t pn = 0; pn <= PN; pn += 4) {
        size_t total = pn + OWN; /* the TQ queries are the last of the sequence */
        jf__attention(q, TQ, k, v, total, HEADS, KVH, D, 0.25f, 1, total - TQ, o1);
        jf__attention_split(q, TQ, k, v, pn, k + pn * ldk, v + pn * ldk, OWN, HEADS, KVH, D, 0.25f, 1, total - TQ, o2);
        for (size_t i = 0; i < TQ * ldq; i++)
            worst = fmax(worst, fabs((double)o1[i] - o2[i]));
    }
    CHECK_MSG(worst < 1e-5, "split attention differs by %g", worst);
    free(q);
    free(k);
    free(v);
    free(o1);
    free(o2);
}

/* A prompt plus new tokens beyond the context is refused, naming the limit. */
static void context_limit(void)
{
    jf_model_error err = {0};
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    jf_gen_params p = jf_gen_default_params();
    p.max_new_tokens = 1020; /* the tiny context is 1024 */
    int32_t *out = NULL;
    size_t n = 0;
    CHECK(jf_janus_generate(m, "Hello there", NULL, 0, &p, NULL, NULL, &out, &n, &err) == JF_MODEL_ELIMIT);
    printf("%s\n", err.msg);
    CHECK(strstr(err.msg, "1024"));
    /* a very long text prompt alone */
    size_t len = 5000;
    char *text = malloc(len + 1);
    memset(text, 'a', len);
    text[len] = 0;
    p.max_new_tokens = 4;
    CHECK(jf_janus_generate(m, text, NULL, 0, &p, NULL, NULL, &out, &n, &err) == JF_MODEL_ELIMIT);
    free(text);
    jf_janus_free(m);
}

/* Allocation failures injected one by one: malloc is interposed in this test program (not under
 * AddressSanitizer, which owns malloc there); when fail_at reaches 0 the call returns NULL. */
#if defined(__SANITIZE_ADDRESS__)
#define JF_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JF_TEST_ASAN 1
#endif
#endif
#ifndef JF_TEST_ASAN
extern void *__libc_malloc(size_t n);
extern char __executable_start, etext; /* this program's code, which includes the jf libraries */
static atomic_long fail_at = -1;
void *malloc(size_t n)
{
    /* only jf's own calls count: OpenBLAS and libc allocate too, and OpenBLAS gives up on failure */
    const char *caller = __builtin_return_address(0);
    if (atomic_load_explicit(&fail_at, memory_order_relaxed) >= 0 && caller >= &__executable_start && caller < &etext &&
        atomic_fetch_sub(&fail_at, 1) == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}
#endif

/* Memory running out mid-forward: a 1000-position prefill with its k-th allocation failing, for
 * every k the prefill makes. Every run either fails with JF_MODEL_ENOMEM or — past the last
 * allocation — gives exactly the undisturbed logits: never a crash, never other numbers. */
static void out_of_memory(void)
{
#ifdef JF_TEST_ASAN
    exit(77);
#else
    jf_model_error err = {0};
    jf_janus *m = NULL;
    golden g = {0};
    CHECK(load_golden(&g));
    CHECK_OK(jf_janus_load(TINY_DIR, &m, NULL, NULL, NULL, &err));
    const jf_janus_config *c = jf_janus_get_config(m);
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    float *pixels = malloc((size_t)g.image_size * g.image_size * 3 * sizeof *pixels);
    jf_janus_image_to_pixels(&spec, g.rgb, pixels);
    const float *images[] = {pixels};
    size_t n = 1000;
    int32_t *ids = malloc(n * sizeof *ids);
    float *want = malloc((size_t)c->vocab * sizeof *want), *got = malloc((size_t)c->vocab * sizeof *got);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)((i * 37 + 11) % 256);
    /* two workloads: a long text prefill, and the golden prompt with its image (SigLIP, aligner) */
    for (int w = 0; w < 2; w++) {
        const int32_t *wids = w ? g.ids : ids;
        size_t wn = w ? g.n_ids : n, wimages = w ? 1 : 0;
        CHECK_OK(jf_janus_prefill_logits(m, wids, wn, images, wimages, want, &err)); /* starts the pool and OpenBLAS */
        int enomem_runs = 0, kernel_runs = 0, k = 0;
        for (;; k++) {
            atomic_store(&fail_at, k);
            jf_model_status s = jf_janus_prefill_logits(m, wids, wn, images, wimages, got, &err);
            int reached = atomic_load(&fail_at) < 0;
            atomic_store(&fail_at, -1);
            if (!reached) {
                CHECK_OK(s);
                CHECK(!memcmp(got, want, (size_t)c->vocab * sizeof *got));
                break;
            }
            CHECK_MSG(s == JF_MODEL_ENOMEM, "allocation %d failing: status %d (%s)", k, (int)s, err.msg);
            enomem_runs++;
            kernel_runs += strstr(err.msg, "kernel") != NULL;
            CHECK(k < 100000);
        }
        printf("%s: %d allocations; each failing in turn gave JF_MODEL_ENOMEM (%d runs, %d inside kernels)\n",
               w ? "prompt with an image" : "1000-token prefill", k, enomem_runs, kernel_runs);
        CHECK(k > 10 && kernel_runs > 0);
    }
    free(ids);
    free(want);
    free(got);
    free(pixels);
    free(g.buf);
    jf_janus_free(m);
#endif
}

#ifndef JF_TEST_ASAN
/* A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), 0 when unreadable. */
static uint64_t status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            kb = strtoull(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb * 1024;
}
#endif

/* The memory plan holds at full width: after a warm-up (weights paged in, pool and OpenBLAS
 * started), the peak resident memory a prompt of ~1500 tokens with an image adds stays within
 * what jf_janus_plan gave for it beyond the weights, and is not far below it either (a plan
 * that misses a buffer, or counts one twice, fails). Skipped under AddressSanitizer. */
static void memory_plan(void)
{
#ifdef JF_TEST_ASAN
    exit(77);
#else
    jf_model_error err = {0};
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/jf_test_plan_%d", (int)getpid());
    jf_janus_random_shape shape = jf_janus_layer_shape();
    CHECK_OK(jf_janus_write_random(dir, &shape, 1, &err));
    jf_janus *m = NULL;
    CHECK_OK(jf_janus_load(dir, &m, NULL, NULL, NULL, &err));
    const jf_janus_config *c = jf_janus_get_config(m);
    size_t S = (size_t)c->image_size, N = (size_t)c->image_tokens;
    float *pixels = malloc(3 * S * S * sizeof *pixels), *logits = malloc((size_t)c->vocab * sizeof *logits);
    for (size_t i = 0; i < 3 * S * S; i++)
        pixels[i] = (float)((int)(i % 255) - 127) / 128.0f;
    const float *images[] = {pixels};
    size_t n = 1500;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)(i % 200);
    ids[0] = c->bos;
    ids[1] = c->image_start;
    for (size_t i = 0; i < N; i++)
        ids[2 + i] = c->image_tag;
    ids[2 + N] = c->image_end;
    /* warm-up: a short prompt with the image touches every weight the path reads */
    int32_t warm[600];
    memcpy(warm, ids, (N + 3) * sizeof *warm);
    CHECK(N + 3 <= 600);
    CHECK_OK(jf_janus_prefill_logits(m, warm, N + 3, images, 1, logits, &err));
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f || fputs("5", f) < 0 || fclose(f) != 0) {
        printf("cannot reset the peak RSS (/proc/self/clear_refs): skipped\n");
        exit(77);
    }
    uint64_t base = status_bytes("VmRSS");
    CHECK(base > 0 && status_bytes("VmHWM") <= base + (1 << 20));
    CHECK_OK(jf_janus_prefill_logits(m, ids, n, images, 1, logits, &err));
    uint64_t peak = status_bytes("VmHWM");
    jf_janus_memory_plan pl = jf_janus_plan(m, n, 0, 1);
    uint64_t planned = pl.total - pl.weights_mapped, grown = peak > base ? peak - base : 0;
    printf("prompt of %zu tokens with an image: peak RSS grew %.1f MB; planned beyond the weights %.1f MB "
           "(KV %.1f, prefill %.1f, SigLIP %.1f, scratch %.1f)\n",
           n, grown / 1e6, planned / 1e6, pl.kv_cache / 1e6, pl.llm_activations / 1e6, pl.vision_activations / 1e6,
           pl.scratch / 1e6);
    CHECK(grown <= planned);
    /* the warm-up already holds the per-thread scratch; the rest must show up */
    CHECK(grown >= (pl.kv_cache + pl.llm_activations) / 2);
    free(ids);
    free(pixels);
    free(logits);
    jf_janus_free(m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
#endif
}


/* PyTorch checkpoints (tests/reference/torch_ckpt.py): both containers give every tensor with
 * its dtype, shape and values; a pickle that would call os.system is refused; cut files are
 * refused with a message. */
static void check_ckpt(const char *path, yajl_val expected)
{
    jf_model_error err = {0};
    jf_weights *w = NULL;
    CHECK_OK(jf_weights_open(path, &w, &err));
    CHECK_EQ_INT(jf_weights_count(w), expected->u.object.len);
    for (size_t i = 0; i < expected->u.object.len; i++) {
        const char *name = expected->u.object.keys[i];
        yajl_val e = expected->u.object.values[i];
        const jf_tensor_info *t = jf_weights_find(w, name);
        CHECK_MSG(t, "%s missing", name);
        const char *kd[] = {"dtype", NULL}, *ks[] = {"shape", NULL}, *kv[] = {"values", NULL};
        const char *want_dt = YAJL_GET_STRING(yajl_tree_get(e, kd, yajl_t_string));
        CHECK_MSG(want_dt && !strcmp(jf_dtype_name(t->dtype), want_dt), "%s dtype", name);
        yajl_val sh = yajl_tree_get(e, ks, yajl_t_array), vals = yajl_tree_get(e, kv, yajl_t_array);
        CHECK_EQ_INT(t->ndim, sh->u.array.len);
        for (int d = 0; d < t->ndim; d++)
            CHECK_EQ_INT(t->shape[d], YAJL_GET_INTEGER(sh->u.array.values[d]));
        for (size_t k = 0; k < vals->u.array.len; k++) {
            double want = YAJL_GET_DOUBLE(vals->u.array.values[k]), got;
            CHECK_MSG((uintptr_t)t->data % (t->dtype == JF_I64 ? 8 : t->dtype == JF_F32 ? 4 : 2) == 0, "%s misaligned", name);
            if (t->dtype == JF_I64)
                got = (double)((const int64_t *)t->data)[k];
            else {
                float f;
                jf__w tw = {t->data, t->dtype, 1, (int64_t)vals->u.array.len, NULL};
                jf__w_to_f32(&tw, k, 1, &f);
                got = f;
            }
            CHECK_MSG(got == want, "%s[%zu]: %g vs %g", name, k, got, want);
        }
    }
    jf_weights_close(w);
}

static void torch_checkpoints(void)
{
    char *json = slurp(JF_TEST_DATA "/ckpt/expected.json", NULL);
    CHECK(json);
    yajl_val expected = yajl_tree_parse(json, NULL, 0);
    free(json);
    CHECK(expected && YAJL_IS_OBJECT(expected));
    check_ckpt(JF_TEST_DATA "/ckpt/zip.pth", expected);
    check_ckpt(JF_TEST_DATA "/ckpt/legacy.pth", expected);
    yajl_tree_free(expected);

    jf_model_error err = {0};
    jf_weights *w = NULL;
    CHECK(jf_weights_open(JF_TEST_DATA "/ckpt/evil.pth", &w, &err) == JF_MODEL_EFORMAT);
    printf("evil: %s\n", err.msg);
    CHECK(strstr(err.msg, "system") && strstr(err.msg, "refused"));
    /* every cut of both containers is refused cleanly (or, cut inside the zip's ignored tail
     * records, still reads) */
    const char *files[] = {JF_TEST_DATA "/ckpt/zip.pth", JF_TEST_DATA "/ckpt/legacy.pth"};
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/jf_test_ckpt_%d.pth", (int)getpid());
    for (int fi = 0; fi < 2; fi++) {
        size_t len;
        char *data = slurp(files[fi], &len);
        CHECK(data);
        int refused = 0;
        for (size_t cut = 0; cut < len; cut += 7) {
            FILE *f = fopen(tmp, "wb");
            fwrite(data, 1, cut, f);
            fclose(f);
            if (jf_weights_open(tmp, &w, &err) == JF_MODEL_OK)
                jf_weights_close(w);
            else
                refused++;
        }
        printf("%s: %d of %zu cuts refused; last message: %s\n", files[fi], refused, (len + 6) / 7, err.msg);
        CHECK(refused == (int)((len + 6) / 7));
        free(data);
    }
    unlink(tmp);
}

/* The FID Inception on formula weights and images against tests/reference/inception_ref.py. */
static void inception_golden(void)
{
    jf_model_error err = {0};
    char path[256];
    snprintf(path, sizeof path, "/tmp/jf_test_inception_%d.safetensors", (int)getpid());
    CHECK_OK(jf_inception_write_formula(path, &err));
    jf_inception *m = NULL;
    CHECK_OK(jf_inception_load(path, &m, &err));
    unlink(path);
    size_t len;
    char *g = slurp(JF_TEST_DATA "/inception_golden.bin", &len);
    CHECK(g && !memcmp(g, "JFIN", 4));
    uint32_t batch;
    memcpy(&batch, g + 4, 4);
    CHECK(len == 8 + (size_t)batch * 2048 * 4);
    size_t n = (size_t)3 * 299 * 299;
    float *img = malloc(batch * n * sizeof *img), *feat = malloc(batch * 2048 * sizeof *feat);
    for (uint32_t b = 0; b < batch; b++)
        for (size_t i = 0; i < n; i++)
            img[b * n + i] = (float)((double)((int64_t)(i * 40503 + b * 977) % 65536) / 32768.0 - 1.0);
    CHECK_OK(jf_inception_features(m, img, (int)batch, feat, &err));
    const float *want = (const float *)(g + 8);
    double e = rel_err(feat, want, batch * 2048), worst = 0;
    for (size_t i = 0; i < batch * 2048; i++)
        worst = fmax(worst, fabs((double)feat[i] - want[i]) / fmax(fabs((double)want[i]), 1e-2));
    printf("Inception pool_3 features: max error %.2e of max |value|; worst element %.2e relative (floor 1e-2)\n", e,
           worst);
    CHECK(e < 1e-5);
    CHECK(worst < 1e-4);
    /* batch of one gives the same as in a batch */
    float one[2048];
    CHECK_OK(jf_inception_features(m, img + n, 1, one, &err));
    CHECK(rel_err(one, feat + 2048, 2048) < 1e-6);
    free(img);
    free(feat);
    free(g);
    jf_inception_free(m);
}

static const test_case cases[] = {
    {"inception_golden", inception_golden},
    {"torch_checkpoints", torch_checkpoints},
    {"self_checks", self_checks},
    {"context_limit", context_limit},
    {"pool_exact", pool_exact},
    {"out_of_memory", out_of_memory},
    {"memory_plan", memory_plan},
    {"tiny_load", tiny_load},
    {"tiny_golden", tiny_golden},
    {"module_goldens", module_goldens},
    {"random_model", random_model},
    {"tiny_generate", tiny_generate},
    {"tiny_batch", tiny_batch},
    {"bad_weights", bad_weights},
    {"tokenizer_deepseek", tokenizer_deepseek},
    {"tokenizer_clip", tokenizer_clip},
    {"tokenizer_clip_pair", tokenizer_clip_pair},
};
TEST_MAIN(cases)
