/* Byte-level BPE from a Hugging Face tokenizer.json: added tokens first (leftmost-longest, with
 * their strip flags), the normalizer, the pre-tokenizer pipeline (regex splits through PCRE2
 * with Unicode properties, digit splitting, byte-level mapping), merges by rank, the
 * post-processor, and the ByteLevel decoder. Invalid UTF-8 input is decoded as a browser or
 * Rust's from_utf8_lossy would (each maximal invalid subpart becomes U+FFFD), which is what the
 * reference library sees. */
#include "model_internal.h"

/* Ids beyond this are refused: real vocabularies stay below a million. */
#define JF_TOKENIZER_MAX_ID (1 << 24)

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>
#include <xxhash.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

/* ---- string → id map ---- */

typedef struct smap {
    char **keys;
    int32_t *vals;
    size_t cap, n;
} smap;

static int smap_put(smap *m, const char *k, int32_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1 << 12;
        char **nk = calloc(cap, sizeof *nk);
        int32_t *nv = calloc(cap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = XXH3_64bits(m->keys[i], strlen(m->keys[i])) & (cap - 1);
                while (nk[j])
                    j = (j + 1) & (cap - 1);
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = cap;
    }
    size_t j = XXH3_64bits(k, strlen(k)) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], k)) {
            m->vals[j] = v;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = strdup(k);
    m->vals[j] = v;
    m->n++;
    return m->keys[j] ? 0 : -1;
}

static int32_t smap_get_n(const smap *m, const char *k, size_t len)
{
    if (!m->cap)
        return -1;
    size_t j = XXH3_64bits(k, len) & (m->cap - 1);
    while (m->keys[j]) {
        if (strlen(m->keys[j]) == len && !memcmp(m->keys[j], k, len))
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ---- merges: (left id, right id) → rank, merged id ---- */

typedef struct merge_entry {
    uint64_t key; /* (left+1) << 32 | (right+1); 0 = empty */
    int32_t rank, id;
} merge_entry;

typedef struct merges {
    merge_entry *v;
    size_t cap, n;
} merges;

static uint64_t mkey(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1); }

static int merges_put(merges *m, int32_t a, int32_t b, int32_t rank, int32_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1 << 12;
        merge_entry *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].key) {
                size_t j = XXH3_64bits(&m->v[i].key, 8) & (cap - 1);
                while (v[j].key)
                    j = (j + 1) & (cap - 1);
                v[j] = m->v[i];
            }
        free(m->v);
        m->v = v;
        m->cap = cap;
    }
    uint64_t k = mkey(a, b);
    size_t j = XXH3_64bits(&k, 8) & (m->cap - 1);
    while (m->v[j].key) {
        if (m->v[j].key == k)
            return 0; /* the first (lowest-rank) merge of a pair wins */
        j = (j + 1) & (m->cap - 1);
    }
    m->v[j] = (merge_entry){k, rank, id};
    m->n++;
    return 0;
}

static const merge_entry *merges_get(const merges *m, int32_t a, int32_t b)
{
    if (!m->cap)
        return NULL;
    uint64_t k = mkey(a, b);
    size_t j = XXH3_64bits(&k, 8) & (m->cap - 1);
    while (m->v[j].key) {
        if (m->v[j].key == k)
            return &m->v[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

/* ---- the tokenizer ---- */

typedef enum step_kind { STEP_SPLIT, STEP_DIGITS, STEP_BYTELEVEL, STEP_WHITESPACE } step_kind;
typedef enum behavior { B_ISOLATED, B_REMOVED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS } behavior;

typedef struct step {
    step_kind kind;
    pcre2_code *re;
    behavior behavior;
    int invert;
    int individual;      /* Digits */
    int add_prefix_space; /* ByteLevel */
    int use_regex;        /* ByteLevel */
} step;

typedef enum norm_kind { N_LOWER, N_REPLACE, N_NFC, N_NFD, N_NFKC, N_NFKD, N_STRIP } norm_kind;
typedef struct norm {
    norm_kind kind;
    pcre2_code *re;
    char *literal;
    char *content;
} norm;

typedef struct added {
    char *content;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} added;

struct jf_tokenizer {
    smap vocab;
    char **id_tok;
    int32_t n_ids;
    merges merges;
    added *added;
    size_t n_added;
    step *steps;
    size_t n_steps;
    norm *norms;
    size_t n_norms;
    char *eow;           /* BPE end_of_word_suffix ("</w>" in CLIP) */
    int32_t unk;
    int byte_level;      /* pieces are mapped to the GPT-2 byte alphabet before BPE */
    /* post-processor: ids before and after the sequence */
    int32_t pre[8], post[8];
    int n_pre, n_post;
    char byte_str[256][4]; /* byte → its byte-level character, UTF-8 */
    int16_t cp_byte[512];   /* byte-level code point → byte (code points < 512) */
};

static void byte_tables(jf_tokenizer *t)
{
    /* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the others to 256+ */
    int cp[256], n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp[b] = printable ? b : 256 + n++;
    }
    for (int i = 0; i < 512; i++)
        t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int c = cp[b];
        if (c < 0x80) {
            t->byte_str[b][0] = (char)c;
            t->byte_str[b][1] = 0;
        } else {
            t->byte_str[b][0] = (char)(0xC0 | (c >> 6));
            t->byte_str[b][1] = (char)(0x80 | (c & 0x3F));
            t->byte_str[b][2] = 0;
        }
        t->cp_byte[c] = (int16_t)b;
    }
}

static pcre2_code *compile(const char *pattern, size_t len, jf_model_error *err)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        jf__merr(err, JF_MODEL_EFORMAT, "tokenizer regex /%.200s/ at %zu: %s", pattern, (size_t)off, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* A pattern object {"Regex": "..."} or {"String": "..."} (a literal, escaped into a regex). */
static pcre2_code *pattern_of(yajl_val p, char **literal, jf_model_error *err)
{
    const char *pr[] = {"Regex", NULL}, *ps[] = {"String", NULL};
    yajl_val r = yajl_tree_get(p, pr, yajl_t_string), s = yajl_tree_get(p, ps, yajl_t_string);
    if (r)
        return compile(r->u.string, PCRE2_ZERO_TERMINATED, err);
    if (s) {
        if (literal)
            *literal = strdup(s->u.string);
        char buf[1024];
        snprintf(buf, sizeof buf, "\\Q%s\\E", s->u.string);
        return compile(buf, PCRE2_ZERO_TERMINATED, err);
    }
    jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: a pattern needs Regex or String");
    return NULL;
}

static const char *str_at(yajl_val o, const char *key)
{
    const char *p[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, p, yajl_t_string);
    return v ? v->u.string : NULL;
}

static int bool_at(yajl_val o, const char *key, int dflt)
{
    const char *p[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, p, yajl_t_any);
    return v ? YAJL_IS_TRUE(v) : dflt;
}

static jf_model_status add_pretok(jf_tokenizer *t, yajl_val o, jf_model_error *err)
{
    const char *type = str_at(o, "type");
    if (!type)
        return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: pre_tokenizer without a type");
    if (!strcmp(type, "Sequence")) {
        const char *p[] = {"pretokenizers", NULL};
        yajl_val a = yajl_tree_get(o, p, yajl_t_array);
        for (size_t i = 0; a && i < a->u.array.len; i++) {
            jf_model_status s = add_pretok(t, a->u.array.values[i], err);
            if (s)
                return s;
        }
        return JF_MODEL_OK;
    }
    step st;
    memset(&st, 0, sizeof st);
    if (!strcmp(type, "Split")) {
        st.kind = STEP_SPLIT;
        const char *pp[] = {"pattern", NULL};
        st.re = pattern_of(yajl_tree_get(o, pp, yajl_t_object), NULL, err);
        if (!st.re)
            return err ? err->code : JF_MODEL_EFORMAT;
        const char *b = str_at(o, "behavior");
        st.behavior = !b || !strcmp(b, "Isolated") ? B_ISOLATED : !strcmp(b, "Removed") ? B_REMOVED
                      : !strcmp(b, "MergedWithPrevious") ? B_MERGED_PREV : !strcmp(b, "MergedWithNext") ? B_MERGED_NEXT
                                                                                                        : B_CONTIGUOUS;
        st.invert = bool_at(o, "invert", 0);
    } else if (!strcmp(type, "Digits")) {
        st.kind = STEP_DIGITS;
        st.individual = bool_at(o, "individual_digits", 0);
        st.re = compile(st.individual ? "\\p{N}" : "\\p{N}+", PCRE2_ZERO_TERMINATED, err);
        st.behavior = B_ISOLATED;
    } else if (!strcmp(type, "ByteLevel")) {
        st.kind = STEP_BYTELEVEL;
        st.add_prefix_space = bool_at(o, "add_prefix_space", 1);
        st.use_regex = bool_at(o, "use_regex", 1);
        if (st.use_regex)
            st.re = compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                            PCRE2_ZERO_TERMINATED, err);
        st.behavior = B_ISOLATED;
        t->byte_level = 1;
    } else if (!strcmp(type, "Whitespace")) {
        st.kind = STEP_WHITESPACE;
        st.re = compile("\\w+|[^\\w\\s]+", PCRE2_ZERO_TERMINATED, err);
        st.behavior = B_REMOVED;
        st.invert = 1;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        st.kind = STEP_WHITESPACE;
        st.re = compile("\\s+", PCRE2_ZERO_TERMINATED, err);
        st.behavior = B_REMOVED;
    } else {
        return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: pre_tokenizer type %s is not supported", type);
    }
    step *v = realloc(t->steps, (t->n_steps + 1) * sizeof *v);
    if (!v)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    t->steps = v;
    t->steps[t->n_steps++] = st;
    return JF_MODEL_OK;
}

static jf_model_status add_norm(jf_tokenizer *t, yajl_val o, jf_model_error *err)
{
    if (!o || YAJL_IS_NULL(o))
        return JF_MODEL_OK;
    const char *type = str_at(o, "type");
    if (!type)
        return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: normalizer without a type");
    if (!strcmp(type, "Sequence")) {
        const char *p[] = {"normalizers", NULL};
        yajl_val a = yajl_tree_get(o, p, yajl_t_array);
        for (size_t i = 0; a && i < a->u.array.len; i++) {
            jf_model_status s = add_norm(t, a->u.array.values[i], err);
            if (s)
                return s;
        }
        return JF_MODEL_OK;
    }
    norm n;
    memset(&n, 0, sizeof n);
    if (!strcmp(type, "Lowercase"))
        n.kind = N_LOWER;
    else if (!strcmp(type, "NFC"))
        n.kind = N_NFC;
    else if (!strcmp(type, "NFD"))
        n.kind = N_NFD;
    else if (!strcmp(type, "NFKC"))
        n.kind = N_NFKC;
    else if (!strcmp(type, "NFKD"))
        n.kind = N_NFKD;
    else if (!strcmp(type, "Strip"))
        n.kind = N_STRIP;
    else if (!strcmp(type, "Replace")) {
        n.kind = N_REPLACE;
        const char *pp[] = {"pattern", NULL};
        n.re = pattern_of(yajl_tree_get(o, pp, yajl_t_object), &n.literal, err);
        if (!n.re)
            return err ? err->code : JF_MODEL_EFORMAT;
        const char *c = str_at(o, "content");
        n.content = strdup(c ? c : "");
    } else {
        return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: normalizer type %s is not supported", type);
    }
    norm *v = realloc(t->norms, (t->n_norms + 1) * sizeof *v);
    if (!v)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    t->norms = v;
    t->norms[t->n_norms++] = n;
    return JF_MODEL_OK;
}

static void set_id_token(jf_tokenizer *t, int32_t id, const char *s)
{
    if (id < 0 || id >= JF_TOKENIZER_MAX_ID)
        return;
    if (id >= t->n_ids) {
        int32_t n = id + 1024;
        char **v = realloc(t->id_tok, (size_t)n * sizeof *v);
        if (!v)
            return;
        for (int32_t i = t->n_ids; i < n; i++)
            v[i] = NULL;
        t->id_tok = v;
        t->n_ids = n;
    }
    free(t->id_tok[id]);
    t->id_tok[id] = strdup(s);
}

int32_t jf_tokenizer_token_id(const jf_tokenizer *t, const char *token)
{
    for (size_t i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].content, token))
            return t->added[i].id;
    return smap_get_n(&t->vocab, token, strlen(token));
}

int32_t jf_tokenizer_size(const jf_tokenizer *t)
{
    int32_t mx = -1;
    for (int32_t i = 0; i < t->n_ids; i++)
        if (t->id_tok[i])
            mx = i;
    return mx + 1;
}

const char *jf_tokenizer_id_token(const jf_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_ids ? t->id_tok[id] : NULL;
}

static int add_added(jf_tokenizer *t, const char *content, int32_t id, int special, int lstrip, int rstrip, int single_word,
                     int normalized)
{
    added *v = realloc(t->added, (t->n_added + 1) * sizeof *v);
    if (!v)
        return -1;
    t->added = v;
    t->added[t->n_added++] = (added){strdup(content), id, special, lstrip, rstrip, single_word, normalized};
    set_id_token(t, id, content);
    return 0;
}

int32_t jf_tokenizer_add_special(jf_tokenizer *t, const char *token)
{
    int32_t id = jf_tokenizer_token_id(t, token);
    if (id >= 0)
        return id;
    id = jf_tokenizer_size(t);
    return add_added(t, token, id, 1, 0, 0, 0, 0) == 0 ? id : -1;
}

static int32_t special_id(jf_tokenizer *t, yajl_val item)
{
    /* post-processor items name their token: ["<s>", 0] (Roberta) or {"id": "<s>"} */
    if (YAJL_IS_ARRAY(item) && item->u.array.len == 2 && YAJL_IS_INTEGER(item->u.array.values[1]))
        return (int32_t)YAJL_GET_INTEGER(item->u.array.values[1]);
    const char *id = str_at(item, "id");
    return id ? jf_tokenizer_token_id(t, id) : -1;
}

static jf_model_status post_processor(jf_tokenizer *t, yajl_val o, jf_model_error *err)
{
    if (!o || YAJL_IS_NULL(o))
        return JF_MODEL_OK;
    const char *type = str_at(o, "type");
    if (!type)
        return JF_MODEL_OK;
    if (!strcmp(type, "TemplateProcessing")) {
        const char *p[] = {"single", NULL};
        yajl_val a = yajl_tree_get(o, p, yajl_t_array);
        int after = 0;
        for (size_t i = 0; a && i < a->u.array.len; i++) {
            yajl_val it = a->u.array.values[i];
            const char *ps[] = {"SpecialToken", NULL}, *pq[] = {"Sequence", NULL};
            yajl_val sp = yajl_tree_get(it, ps, yajl_t_object);
            if (yajl_tree_get(it, pq, yajl_t_object)) {
                after = 1;
                continue;
            }
            if (!sp)
                continue;
            int32_t id = special_id(t, sp);
            if (id < 0)
                return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: template token %s unknown", str_at(sp, "id"));
            if (!after && t->n_pre < 8)
                t->pre[t->n_pre++] = id;
            else if (after && t->n_post < 8)
                t->post[t->n_post++] = id;
        }
    } else if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const char *pc[] = {"cls", NULL}, *pse[] = {"sep", NULL};
        yajl_val cls = yajl_tree_get(o, pc, yajl_t_array), sep = yajl_tree_get(o, pse, yajl_t_array);
        if (cls)
            t->pre[t->n_pre++] = special_id(t, cls);
        if (sep)
            t->post[t->n_post++] = special_id(t, sep);
    } else if (strcmp(type, "ByteLevel")) {
        return jf__merr(err, JF_MODEL_EFORMAT, "tokenizer: post_processor type %s is not supported", type);
    }
    return JF_MODEL_OK;
}

jf_model_status jf_tokenizer_load(const char *path, jf_tokenizer **out, jf_model_error *err)
{
    *out = NULL;
    char *json = jf__mread_file(path, (size_t)256 << 20, NULL, err);
    if (!json)
        return err ? err->code : JF_MODEL_EIO;
    jf_model_status st = jf_tokenizer_load_json(json, path, out, err);
    free(json);
    return st;
}

/* ---- a streaming pass over model.vocab and model.merges ----
 * tokenizer.json files hold 10^5 vocabulary entries and merges; building them as a yajl tree
 * grows arrays one element at a time. The streaming parser collects them into amortised
 * arrays and notes where they are, so that the tree is built for the rest of the file only. */

typedef struct vpair {
    char *key;
    int64_t id;
} vpair;

typedef struct stream_state {
    int depth;
    char top_key[64], model_key[64];
    char *cur_key;
    vpair *vocab;
    size_t n_vocab, cap_vocab;
    char **merges; /* "a b" strings; pairs are joined with a space */
    size_t n_merges, cap_merges;
    char *pair_a;  /* inside a ["a", "b"] merge */
    int pair_n;
    size_t vocab_start, vocab_end, merges_start, merges_end;
    yajl_handle h;
    int oom;
} stream_state;

static int in_model(const stream_state *st, const char *key)
{
    return st->depth >= 3 && !strcmp(st->top_key, "model") && !strcmp(st->model_key, key);
}

static char *dup_n(const unsigned char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static int add_merge(stream_state *st, char *m)
{
    if (!m) {
        st->oom = 1;
        return 0;
    }
    if (st->n_merges == st->cap_merges) {
        st->cap_merges = st->cap_merges ? st->cap_merges * 2 : 4096;
        char **v = realloc(st->merges, st->cap_merges * sizeof *v);
        if (!v) {
            free(m);
            st->oom = 1;
            return 0;
        }
        st->merges = v;
    }
    st->merges[st->n_merges++] = m;
    return 1;
}

static int cb_integer(void *u, long long v)
{
    stream_state *st = u;
    if (st->depth == 3 && in_model(st, "vocab") && st->cur_key) {
        if (st->n_vocab == st->cap_vocab) {
            st->cap_vocab = st->cap_vocab ? st->cap_vocab * 2 : 4096;
            vpair *p = realloc(st->vocab, st->cap_vocab * sizeof *p);
            if (!p) {
                st->oom = 1;
                return 0;
            }
            st->vocab = p;
        }
        st->vocab[st->n_vocab++] = (vpair){st->cur_key, v};
        st->cur_key = NULL;
    }
    return 1;
}

static int cb_string(void *u, const unsigned char *s, size_t n)
{
    stream_state *st = u;
    if (in_model(st, "merges")) {
        if (st->depth == 3)
            return add_merge(st, dup_n(s, n));
        if (st->depth == 4) {
            /* ["a", "b"]: joined with a space, as the string form */
            if (st->pair_n == 0) {
                free(st->pair_a);
                st->pair_a = dup_n(s, n);
            } else if (st->pair_n == 1 && st->pair_a) {
                size_t la = strlen(st->pair_a);
                char *m = malloc(la + n + 2);
                if (m) {
                    memcpy(m, st->pair_a, la);
                    m[la] = ' ';
                    memcpy(m + la + 1, s, n);
                    m[la + 1 + n] = 0;
                }
                if (!add_merge(st, m))
                    return 0;
            }
            st->pair_n++;
        }
    }
    return 1;
}

static int cb_map_key(void *u, const unsigned char *k, size_t n)
{
    stream_state *st = u;
    if (st->depth == 1)
        snprintf(st->top_key, sizeof st->top_key, "%.*s", (int)n, (const char *)k);
    else if (st->depth == 2)
        snprintf(st->model_key, sizeof st->model_key, "%.*s", (int)n, (const char *)k);
    else if (st->depth == 3 && in_model(st, "vocab")) {
        free(st->cur_key);
        st->cur_key = dup_n(k, n);
        if (!st->cur_key)
            st->oom = 1;
    }
    return !st->oom;
}

static int cb_open(void *u, int is_map)
{
    stream_state *st = u;
    st->depth++;
    if (st->depth == 3 && !strcmp(st->top_key, "model")) {
        size_t at = yajl_get_bytes_consumed(st->h) - 1;
        if (is_map && !strcmp(st->model_key, "vocab"))
            st->vocab_start = at;
        if (!is_map && !strcmp(st->model_key, "merges"))
            st->merges_start = at;
    }
    if (st->depth == 4)
        st->pair_n = 0;
    return 1;
}

static int cb_close(void *u, int is_map)
{
    stream_state *st = u;
    if (st->depth == 3 && !strcmp(st->top_key, "model")) {
        size_t at = yajl_get_bytes_consumed(st->h);
        if (is_map && !strcmp(st->model_key, "vocab"))
            st->vocab_end = at;
        if (!is_map && !strcmp(st->model_key, "merges"))
            st->merges_end = at;
    }
    st->depth--;
    return 1;
}

static int cb_start_map(void *u) { return cb_open(u, 1); }
static int cb_end_map(void *u) { return cb_close(u, 1); }
static int cb_start_array(void *u) { return cb_open(u, 0); }
static int cb_end_array(void *u) { return cb_close(u, 0); }

static void stream_free(stream_state *st)
{
    for (size_t i = 0; i < st->n_vocab; i++)
        free(st->vocab[i].key);
    for (size_t i = 0; i < st->n_merges; i++)
        free(st->merges[i]);
    free(st->vocab);
    free(st->merges);
    free(st->cur_key);
    free(st->pair_a);
}

/* Collects model.vocab and model.merges; *rest is the file with them emptied ({} and []). */
static jf_model_status stream_vocab(const char *json, const char *path, stream_state *st, char **rest,
                                    jf_model_error *err)
{
    static const yajl_callbacks cb = {NULL, NULL, cb_integer, NULL, NULL, cb_string, cb_start_map, cb_map_key,
                                      cb_end_map, cb_start_array, cb_end_array};
    memset(st, 0, sizeof *st);
    *rest = NULL;
    st->h = yajl_alloc(&cb, NULL, st);
    if (!st->h)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    size_t n = strlen(json);
    yajl_status ys = yajl_parse(st->h, (const unsigned char *)json, n);
    if (ys == yajl_status_ok)
        ys = yajl_complete_parse(st->h);
    jf_model_status s = JF_MODEL_OK;
    if (st->oom)
        s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    else if (ys != yajl_status_ok) {
        unsigned char *m = yajl_get_error(st->h, 0, (const unsigned char *)json, n);
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: not JSON (%s) at byte %zu", path, m ? (const char *)m : "?",
                     yajl_get_bytes_consumed(st->h));
        yajl_free_error(st->h, m);
    }
    yajl_free(st->h);
    st->h = NULL;
    if (s)
        return s;
    char *r = malloc(n + 1);
    if (!r)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    memcpy(r, json, n + 1);
    /* blank the two values (keeping the brackets), so offsets and syntax stay valid */
    if (st->vocab_end > st->vocab_start + 1)
        memset(r + st->vocab_start + 1, ' ', st->vocab_end - st->vocab_start - 2);
    if (st->merges_end > st->merges_start + 1)
        memset(r + st->merges_start + 1, ' ', st->merges_end - st->merges_start - 2);
    *rest = r;
    return JF_MODEL_OK;
}

jf_model_status jf_tokenizer_load_json(const char *json, const char *path, jf_tokenizer **out, jf_model_error *err)
{
    *out = NULL;
    char ebuf[512];
    stream_state ss;
    char *rest = NULL;
    jf_model_status s0 = stream_vocab(json, path, &ss, &rest, err);
    if (s0) {
        stream_free(&ss);
        return s0;
    }
    yajl_val root = yajl_tree_parse(rest, ebuf, sizeof ebuf);
    free(rest);
    if (!root || !YAJL_IS_OBJECT(root)) {
        stream_free(&ss);
        yajl_tree_free(root);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: not a JSON object: %s", path, root ? "" : ebuf);
    }
    jf_tokenizer *t = calloc(1, sizeof *t);
    jf_model_status s = t ? JF_MODEL_OK : jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    if (t) {
        byte_tables(t);
        t->unk = -1;
    }
    const char *pm[] = {"model", NULL};
    yajl_val model = yajl_tree_get(root, pm, yajl_t_object);
    if (s == JF_MODEL_OK && (!model || (str_at(model, "type") && strcmp(str_at(model, "type"), "BPE"))))
        s = jf__merr(err, JF_MODEL_EFORMAT, "%s: only BPE models are supported", path);
    if (s == JF_MODEL_OK) {
        for (size_t i = 0; i < ss.n_vocab && s == JF_MODEL_OK; i++) {
            if (ss.vocab[i].id < 0 || ss.vocab[i].id >= JF_TOKENIZER_MAX_ID) {
                s = jf__merr(err, JF_MODEL_EFORMAT, "%s: vocabulary id %lld of '%.64s' is out of range (0..%d)", path,
                             (long long)ss.vocab[i].id, ss.vocab[i].key, JF_TOKENIZER_MAX_ID - 1);
                break;
            }
            if (smap_put(&t->vocab, ss.vocab[i].key, (int32_t)ss.vocab[i].id))
                s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
            set_id_token(t, (int32_t)ss.vocab[i].id, ss.vocab[i].key);
        }
        const char *eow = str_at(model, "end_of_word_suffix");
        if (eow && *eow)
            t->eow = strdup(eow);
        const char *unk = str_at(model, "unk_token");
        if (unk)
            t->unk = smap_get_n(&t->vocab, unk, strlen(unk));
        for (size_t i = 0; i < ss.n_merges && s == JF_MODEL_OK; i++) {
            const char *a, *b;
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", ss.merges[i]);
            char *sp = strchr(buf, ' ');
            if (!sp)
                continue;
            *sp = 0;
            a = buf;
            b = sp + 1;
            int32_t ia = smap_get_n(&t->vocab, a, strlen(a)), ib = smap_get_n(&t->vocab, b, strlen(b));
            char cat[2048];
            snprintf(cat, sizeof cat, "%s%s", a, b);
            int32_t ic = smap_get_n(&t->vocab, cat, strlen(cat));
            if (ia < 0 || ib < 0 || ic < 0)
                continue; /* a merge whose parts or result are not in the vocabulary is inert */
            if (merges_put(&t->merges, ia, ib, (int32_t)i, ic))
                s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        }
    }
    const char *pa[] = {"added_tokens", NULL};
    yajl_val at = yajl_tree_get(root, pa, yajl_t_array);
    for (size_t i = 0; s == JF_MODEL_OK && at && i < at->u.array.len; i++) {
        yajl_val a = at->u.array.values[i];
        const char *pid[] = {"id", NULL};
        yajl_val id = yajl_tree_get(a, pid, yajl_t_number);
        const char *content = str_at(a, "content");
        if (!id || !content)
            continue;
        if (YAJL_GET_INTEGER(id) < 0 || YAJL_GET_INTEGER(id) >= JF_TOKENIZER_MAX_ID) {
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: added token id %lld is out of range", path,
                         (long long)YAJL_GET_INTEGER(id));
            break;
        }
        if (add_added(t, content, (int32_t)YAJL_GET_INTEGER(id), bool_at(a, "special", 0), bool_at(a, "lstrip", 0),
                      bool_at(a, "rstrip", 0), bool_at(a, "single_word", 0), bool_at(a, "normalized", 1)))
            s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    const char *pn[] = {"normalizer", NULL}, *pp[] = {"pre_tokenizer", NULL}, *ppp[] = {"post_processor", NULL};
    if (s == JF_MODEL_OK)
        s = add_norm(t, yajl_tree_get(root, pn, yajl_t_any), err);
    yajl_val pre = yajl_tree_get(root, pp, yajl_t_any);
    if (s == JF_MODEL_OK && pre && !YAJL_IS_NULL(pre))
        s = add_pretok(t, pre, err);
    if (s == JF_MODEL_OK)
        s = post_processor(t, yajl_tree_get(root, ppp, yajl_t_any), err);
    yajl_tree_free(root);
    stream_free(&ss);
    if (s != JF_MODEL_OK) {
        jf_tokenizer_free(t);
        return s;
    }
    *out = t;
    return JF_MODEL_OK;
}

void jf_tokenizer_free(jf_tokenizer *t)
{
    if (!t)
        return;
    smap_free(&t->vocab);
    for (int32_t i = 0; i < t->n_ids; i++)
        free(t->id_tok[i]);
    free(t->id_tok);
    free(t->merges.v);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    for (size_t i = 0; i < t->n_steps; i++)
        pcre2_code_free(t->steps[i].re);
    free(t->steps);
    for (size_t i = 0; i < t->n_norms; i++) {
        pcre2_code_free(t->norms[i].re);
        free(t->norms[i].literal);
        free(t->norms[i].content);
    }
    free(t->norms);
    free(t->eow);
    free(t);
}


/* Valid UTF-8 from bytes: each maximal invalid subpart becomes U+FFFD (WHATWG decoding). */
static void utf8_lossy(const char *s, size_t n, jf__mbuf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            jf__mbuf_put(out, s + i, 1);
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            jf__mbuf_put(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        size_t k = 1;
        for (; k <= need && i + k < n; k++) {
            unsigned d = u[i + k];
            if (d < lo || d > hi)
                break;
            lo = 0x80;
            hi = 0xBF;
        }
        if (k == need + 1) {
            jf__mbuf_put(out, s + i, need + 1);
            i += need + 1;
        } else {
            jf__mbuf_put(out, "\xEF\xBF\xBD", 3);
            i += k;
        }
    }
}

/* ---- normalisation ---- */

/* Rust's char::to_lowercase, which Hugging Face's Lowercase applies char by char (so no
 * final-sigma rule): the simple Unicode mapping, except U+0130 which becomes "i̇". */
static void lower_into(uint32_t c, jf__mbuf *out);

static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++)
        v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return len;
}

static void utf8_enc(uint32_t cp, jf__mbuf *out)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jf__mbuf_put(out, b, n);
}

static void lower_into(uint32_t c, jf__mbuf *out)
{
    if (c == 0x130) {
        jf__mbuf_put(out, "i\xCC\x87", 3);
        return;
    }
    utf8_enc((uint32_t)utf8proc_tolower((utf8proc_int32_t)c), out);
}

static void normalize(const jf_tokenizer *t, const char *s, size_t n, jf__mbuf *out)
{
    jf__mbuf cur = {0};
    jf__mbuf_put(&cur, s, n);
    if (!cur.p)
        jf__mbuf_put(&cur, "", 0);
    for (size_t k = 0; k < t->n_norms; k++) {
        const norm *nm = &t->norms[k];
        jf__mbuf next = {0};
        jf__mbuf_put(&next, "", 0);
        if (nm->kind == N_LOWER) {
            for (size_t i = 0; i < cur.len;) {
                uint32_t cp;
                i += utf8_dec((const unsigned char *)cur.p + i, cur.len - i, &cp);
                lower_into(cp, &next);
            }
        } else if (nm->kind == N_REPLACE) {
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(nm->re, NULL);
            size_t pos = 0;
            while (pos <= cur.len) {
                int rc = pcre2_match(nm->re, (PCRE2_SPTR)cur.p, cur.len, pos, 0, md, NULL);
                if (rc < 0)
                    break;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                jf__mbuf_put(&next, cur.p + pos, ov[0] - pos);
                jf__mbuf_put(&next, nm->content, strlen(nm->content));
                pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
                if (ov[1] == ov[0] && ov[0] < cur.len)
                    jf__mbuf_put(&next, cur.p + ov[0], 1);
            }
            if (pos < cur.len)
                jf__mbuf_put(&next, cur.p + pos, cur.len - pos);
            pcre2_match_data_free(md);
        } else if (nm->kind == N_STRIP) {
            size_t a = 0, b = cur.len;
            while (a < b && (cur.p[a] == ' ' || cur.p[a] == '\t' || cur.p[a] == '\n' || cur.p[a] == '\r'))
                a++;
            while (b > a && (cur.p[b - 1] == ' ' || cur.p[b - 1] == '\t' || cur.p[b - 1] == '\n' || cur.p[b - 1] == '\r'))
                b--;
            jf__mbuf_put(&next, cur.p + a, b - a);
        } else {
            /* Unicode normal forms by utf8proc (the text is valid UTF-8 by now: invalid bytes
             * became U+FFFD on the way in). */
            int opt = UTF8PROC_STABLE | (nm->kind == N_NFC || nm->kind == N_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                      (nm->kind == N_NFKC || nm->kind == N_NFKD ? UTF8PROC_COMPAT : 0);
            utf8proc_uint8_t *mapped = NULL;
            utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)cur.p, (utf8proc_ssize_t)cur.len, &mapped,
                                              (utf8proc_option_t)opt);
            if (m >= 0)
                jf__mbuf_put(&next, (const char *)mapped, (size_t)m);
            else
                jf__mbuf_put(&next, cur.p, cur.len);
            free(mapped);
        }
        free(cur.p);
        cur = next;
    }
    *out = cur;
}

/* ---- pre-tokenisation ---- */

typedef struct piece {
    size_t start, len;
} piece;

typedef struct pieces {
    piece *v;
    size_t n, cap;
} pieces;

static void pc_add(pieces *p, size_t start, size_t len)
{
    if (!len)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (piece){start, len};
}

static void split_piece(const step *st, const char *text, piece in, pieces *out, pcre2_match_data *md)
{
    /* the matches, as (start, end) runs inside the piece */
    size_t pos = 0, last = 0;
    typedef struct span {
        size_t a, b;
        int match;
    } span;
    span spans[4096];
    size_t ns = 0;
    while (pos <= in.len && ns < 4000) {
        int rc = pcre2_match(st->re, (PCRE2_SPTR)(text + in.start), in.len, pos, 0, md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* empty match: step one code point */
            size_t adv = 1;
            while (ov[0] + adv < in.len && ((unsigned char)text[in.start + ov[0] + adv] & 0xC0) == 0x80)
                adv++;
            pos = ov[0] + adv;
            continue;
        }
        if (ov[0] > last)
            spans[ns++] = (span){last, ov[0], 0};
        spans[ns++] = (span){ov[0], ov[1], 1};
        last = pos = ov[1];
    }
    if (ns >= 4000) { /* a pathological piece: keep the rest unsplit */
        spans[ns++] = (span){last, in.len, 0};
        last = in.len;
    }
    if (last < in.len)
        spans[ns++] = (span){last, in.len, 0};
    for (size_t i = 0; i < ns; i++) {
        int is_match = spans[i].match != st->invert;
        size_t a = spans[i].a, b = spans[i].b;
        switch (st->behavior) {
        case B_REMOVED:
            if (!is_match)
                pc_add(out, in.start + a, b - a);
            break;
        case B_MERGED_PREV:
            /* a match joins the piece before it */
            if (is_match && out->n && i > 0)
                out->v[out->n - 1].len += b - a;
            else
                pc_add(out, in.start + a, b - a);
            break;
        case B_MERGED_NEXT:
            if (is_match && i + 1 < ns) {
                spans[i + 1].a = a;
            } else
                pc_add(out, in.start + a, b - a);
            break;
        case B_CONTIGUOUS:
            if (is_match && out->n && i > 0 && spans[i - 1].match != st->invert)
                out->v[out->n - 1].len += b - a;
            else
                pc_add(out, in.start + a, b - a);
            break;
        default:
            pc_add(out, in.start + a, b - a);
        }
    }
}

/* ---- BPE ---- */

static jf_model_status bpe(jf_tokenizer *t, const char *s, size_t n, jf__mbuf *ids)
{
    /* initial symbols: one per byte (byte-level) or per code point, as vocabulary ids */
    int32_t sym_buf[256] = {0}, *sym = n + 1 <= 256 ? sym_buf : malloc((n + 1) * sizeof *sym);
    if (!sym)
        return JF_MODEL_ENOMEM;
    size_t k = 0;
    char tmp[64];
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        if (t->byte_level) {
            snprintf(tmp, sizeof tmp, "%s", t->byte_str[(unsigned char)s[i]]);
        } else {
            uint32_t cp;
            len = utf8_dec((const unsigned char *)s + i, n - i, &cp);
            memcpy(tmp, s + i, len);
            tmp[len] = 0;
        }
        i += len;
        if (i >= n && t->eow)
            strncat(tmp, t->eow, sizeof tmp - strlen(tmp) - 1);
        int32_t id = smap_get_n(&t->vocab, tmp, strlen(tmp));
        if (id < 0)
            id = t->unk;
        if (id < 0) {
            if (sym != sym_buf)
                free(sym);
            return JF_MODEL_EFORMAT;
        }
        sym[k++] = id;
    }
    /* merge the lowest-ranked adjacent pair until none is left */
    while (k > 1) {
        int32_t best_rank = INT32_MAX;
        size_t best = 0;
        int32_t best_id = -1;
        for (size_t i = 0; i + 1 < k; i++) {
            const merge_entry *m = merges_get(&t->merges, sym[i], sym[i + 1]);
            if (m && m->rank < best_rank) {
                best_rank = m->rank;
                best = i;
                best_id = m->id;
            }
        }
        if (best_id < 0)
            break;
        sym[best] = best_id;
        memmove(sym + best + 1, sym + best + 2, (k - best - 2) * sizeof *sym);
        k--;
    }
    jf__mbuf_put(ids, (const char *)sym, k * sizeof *sym);
    if (sym != sym_buf)
        free(sym);
    return JF_MODEL_OK;
}

static jf_model_status encode_plain(jf_tokenizer *t, const char *s, size_t n, jf__mbuf *ids)
{
    if (!n)
        return JF_MODEL_OK;
    jf__mbuf norm_text;
    normalize(t, s, n, &norm_text);
    pieces cur = {0};
    pc_add(&cur, 0, norm_text.len);
    jf__mbuf prefixed = {0};
    const char *text = norm_text.p;
    for (size_t k = 0; k < t->n_steps; k++) {
        const step *st = &t->steps[k];
        if (st->kind == STEP_BYTELEVEL && st->add_prefix_space && cur.n && text[cur.v[0].start] != ' ') {
            /* a space before the first piece: rebuild the text with it */
            jf__mbuf_put(&prefixed, " ", 1);
            jf__mbuf_put(&prefixed, text, norm_text.len);
            for (size_t i = 0; i < cur.n; i++)
                cur.v[i].start += i ? 1 : 0;
            cur.v[0].len += 1;
            text = prefixed.p;
        }
        if (!st->re)
            continue;
        pieces next = {0};
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
        for (size_t i = 0; i < cur.n; i++)
            split_piece(st, text, cur.v[i], &next, md);
        pcre2_match_data_free(md);
        free(cur.v);
        cur = next;
    }
    jf_model_status rc = JF_MODEL_OK;
    for (size_t i = 0; i < cur.n && rc == JF_MODEL_OK; i++)
        rc = bpe(t, text + cur.v[i].start, cur.v[i].len, ids);
    free(cur.v);
    free(norm_text.p);
    free(prefixed.p);
    return rc;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int word_char(unsigned char c) { return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

long jf_tokenizer_encode(jf_tokenizer *t, const char *text, size_t len, int add_special, int32_t **out_ids,
                         jf_model_error *err)
{
    *out_ids = NULL;
    jf__mbuf src = {0}, ids = {0};
    utf8_lossy(text, len, &src);
    if (!src.p)
        jf__mbuf_put(&src, "", 0);
    if (add_special)
        jf__mbuf_put(&ids, (const char *)t->pre, (size_t)t->n_pre * sizeof(int32_t));
    /* added tokens, leftmost-longest */
    size_t pos = 0, seg = 0;
    jf_model_status s = JF_MODEL_OK;
    while (pos <= src.len && s == JF_MODEL_OK) {
        const added *best = NULL;
        size_t best_len = 0;
        if (pos < src.len)
            for (size_t i = 0; i < t->n_added; i++) {
                const added *a = &t->added[i];
                size_t al = strlen(a->content);
                if (al > best_len && al <= src.len - pos && !memcmp(src.p + pos, a->content, al)) {
                    if (a->single_word && ((pos > 0 && word_char((unsigned char)src.p[pos - 1])) ||
                                           (pos + al < src.len && word_char((unsigned char)src.p[pos + al]))))
                        continue;
                    best = a;
                    best_len = al;
                }
            }
        if (!best) {
            if (pos == src.len)
                break;
            pos++;
            continue;
        }
        size_t end_before = pos, start_after = pos + best_len;
        if (best->lstrip)
            while (end_before > seg && is_ws(src.p[end_before - 1]))
                end_before--;
        if (best->rstrip)
            while (start_after < src.len && is_ws(src.p[start_after]))
                start_after++;
        if ((s = encode_plain(t, src.p + seg, end_before - seg, &ids)) != JF_MODEL_OK)
            break;
        jf__mbuf_put(&ids, (const char *)&best->id, sizeof best->id);
        pos = seg = start_after;
    }
    if (s == JF_MODEL_OK)
        s = encode_plain(t, src.p + seg, src.len - seg, &ids);
    if (s == JF_MODEL_OK && add_special)
        jf__mbuf_put(&ids, (const char *)t->post, (size_t)t->n_post * sizeof(int32_t));
    free(src.p);
    if (s != JF_MODEL_OK) {
        free(ids.p);
        jf__merr(err, s, "tokenizer: a symbol has no vocabulary entry and there is no unk token");
        return -1;
    }
    *out_ids = (int32_t *)ids.p;
    if (!ids.p)
        *out_ids = calloc(1, sizeof(int32_t));
    return (long)(ids.len / sizeof(int32_t));
}

char *jf_tokenizer_decode(jf_tokenizer *t, const int32_t *ids, size_t n, int skip_special)
{
    jf__mbuf bytes = {0};
    jf__mbuf_put(&bytes, "", 0);
    for (size_t i = 0; i < n; i++) {
        const char *tok = jf_tokenizer_id_token(t, ids[i]);
        if (!tok)
            continue;
        const added *a = NULL;
        for (size_t k = 0; k < t->n_added; k++)
            if (t->added[k].id == ids[i])
                a = &t->added[k];
        if (a && a->special && skip_special)
            continue;
        if (!t->byte_level || (a && a->special)) {
            jf__mbuf_put(&bytes, tok, strlen(tok));
            continue;
        }
        /* byte-level characters back to bytes */
        size_t len = strlen(tok);
        for (size_t p = 0; p < len;) {
            uint32_t cp;
            size_t l = utf8_dec((const unsigned char *)tok + p, len - p, &cp);
            if (cp < 512 && t->cp_byte[cp] >= 0) {
                char b = (char)t->cp_byte[cp];
                jf__mbuf_put(&bytes, &b, 1);
            } else {
                jf__mbuf_put(&bytes, tok + p, l);
            }
            p += l;
        }
    }
    jf__mbuf out = {0};
    utf8_lossy(bytes.p, bytes.len, &out);
    free(bytes.p);
    if (!out.p)
        return strdup("");
    return out.p;
}
