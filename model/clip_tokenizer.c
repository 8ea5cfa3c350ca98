/* The CLIP tokenizer from vocab.json + merges.txt: the pair is turned into the tokenizer.json
 * that Hugging Face's fast CLIP tokenizer would hold, and loaded like any other. */
#include "model_internal.h"

static char *read_all(const char *path, size_t *len, jf_model_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        jf__merr(err, JF_MODEL_ENOTFOUND, "%s: cannot open", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (256L << 20) ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        jf__merr(err, JF_MODEL_EIO, "%s: cannot read", path);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int puts_(sbuf *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* A JSON string of n bytes (escaping quotes, backslashes and control characters). */
static int put_json_str(sbuf *b, const char *s, size_t n)
{
    int bad = put(b, "\"", 1);
    for (size_t i = 0; i < n && !bad; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            bad = put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            bad = put(b, esc, 6);
        } else {
            bad = put(b, (const char *)&c, 1);
        }
    }
    return bad || put(b, "\"", 1);
}

jf_model_status jf_tokenizer_load_clip(const char *vocab_json, const char *merges_txt, jf_tokenizer **out,
                                       jf_model_error *err)
{
    *out = NULL;
    size_t vl, ml;
    char *vocab = read_all(vocab_json, &vl, err);
    if (!vocab)
        return err ? err->code : JF_MODEL_EIO;
    char *merges = read_all(merges_txt, &ml, err);
    if (!merges) {
        free(vocab);
        return err ? err->code : JF_MODEL_EIO;
    }
    sbuf b = {0};
    int bad = puts_(&b,
                    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
                    "{\"id\":49406,\"content\":\"<|startoftext|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                    "\"normalized\":true,\"special\":true},"
                    "{\"id\":49407,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                    "\"normalized\":true,\"special\":true}],"
                    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Replace\","
                    "\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"},{\"type\":\"Lowercase\"}]},"
                    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    "\"'s|'t|'re|'ve|'m|'ll|'d|[\\\\p{L}]+|[\\\\p{N}]|[^\\\\s\\\\p{L}\\\\p{N}]+\"},\"behavior\":\"Removed\","
                    "\"invert\":true},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                    "\"use_regex\":false}]},"
                    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"<|endoftext|>\",49407],"
                    "\"cls\":[\"<|startoftext|>\",49406],\"trim_offsets\":false,\"add_prefix_space\":false},"
                    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
                    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<|endoftext|>\","
                    "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":false,"
                    "\"byte_fallback\":false,\"vocab\":");
    bad |= put(&b, vocab, vl);
    bad |= puts_(&b, ",\"merges\":[");
    /* merges.txt: a "#version" line, then "a b" per line, in rank order */
    int first = 1;
    for (char *line = merges; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n && line[n - 1] == '\r')
            n--;
        if (n && !(line == merges && !strncmp(line, "#version", 8))) {
            if (!first)
                bad |= put(&b, ",", 1);
            bad |= put_json_str(&b, line, n);
            first = 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    bad |= puts_(&b, "]}}");
    free(vocab);
    free(merges);
    jf_model_status s = bad ? jf__merr(err, JF_MODEL_ENOMEM, "out of memory")
                            : jf_tokenizer_load_json(b.p, vocab_json, out, err);
    free(b.p);
    return s;
}
