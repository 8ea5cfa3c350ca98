/* libFuzzer target: the filter rule language (tokenizer, parser, type checks, SQL output) on
 * arbitrary text, against a small dataset; compiled rules are also run (dry run). The same
 * bytes go through the caption language identifier. */
#include "jf_filter.h"
#include "small_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;

static void fill(jf_record *r, int i)
{
    jf_error err;
    jf_record_set_int(r, "width", 10 * i, &err);
    jf_record_set_int(r, "height", 7 * i + 1, &err);
    jf_record_set_real(r, "punsafe", i / 20.0, &err);
    jf_record_set_text(r, "status", i % 2 ? "success" : "failed", &err);
}

static void setup(void) { st = fuzz_small_store("rule", 20, "some caption text", fill); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    char *sql = NULL, *div = NULL;
    jf_error err;
    if (jf_filter_compile(st, text, &sql, &div, &err) == JF_OK) {
        jf_filter_rule rule = {"r", text};
        jf_filter_result res;
        jf_filter_params fp = {0};
        jf_filter_run(st, &rule, 1, &fp, &res, &err);
        jf_filter_result_free(&res);
    }
    free(sql);
    free(div);
    /* the same bytes as a caption for the language identifier (CLD2 + the lexical second
     * opinion: UTF-8 decoding, word splitting, pairs) */
    static jf_langid *langid;
    if (!langid && !(langid = jf_langid_create(&err)))
        abort();
    char lang[16];
    int reliable;
    jf_langid_classify(langid, (const char *)data, size, lang, &reliable);
    if (!lang[0] || strlen(lang) >= sizeof lang)
        abort();
    free(text);
    return 0;
}
