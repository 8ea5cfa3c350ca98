/* Tests of the model module: the tokenizer against Hugging Face's ids, safetensors loading and
 * its checks, the layers and the whole understanding path against PyTorch goldens. */
#include "check.h"
#include "jf_model.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#ifndef JF_TEST_DATA
#define JF_TEST_DATA "tests/data"
#endif
#ifndef JF_SHARED_DATA
#define JF_SHARED_DATA "../shared/data"
#endif

static void cleanup(void) {}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = (size_t)n;
    return buf;
}

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
    CHECK_OK(jf_tokenizer_load(tokenizer_path, &tok, &err));
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

static const test_case cases[] = {
    {"tokenizer_deepseek", tokenizer_deepseek},
    {"tokenizer_clip", tokenizer_clip},
};
TEST_MAIN(cases)
