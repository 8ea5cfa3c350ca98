/* The CLIP tokenizer from vocab.json + merges.txt: the pair is turned into the tokenizer.json
 * that Hugging Face's fast CLIP tokenizer would hold, and loaded like any other. */
#include "model_internal.h"

static int put(jf__mbuf *b, const char *s, size_t n)
{
    return jf__mbuf_put(b, s, n);
}

static int puts_(jf__mbuf *b, const char *s)
{
    return jf__mbuf_put(b, s, strlen(s));
}

/* A JSON string of n bytes (escaping quotes, backslashes and control characters). */
static int put_json_str(jf__mbuf *b, const char *s, size_t n)
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
    char *vocab = jf__mread_file(vocab_json, (size_t)256 << 20, &vl, err);
    if (!vocab)
        return err ? err->code : JF_MODEL_EIO;
    char *merges = jf__mread_file(merges_txt, (size_t)256 << 20, &ml, err);
    if (!merges) {
        free(vocab);
        return err ? err->code : JF_MODEL_EIO;
    }
    jf__mbuf b = {0};
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
