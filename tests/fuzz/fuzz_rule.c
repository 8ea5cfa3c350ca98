/* libFuzzer target: the filter rule language (tokenizer, parser, type checks, SQL output) on
 * arbitrary text, against a small dataset; compiled rules are also run (dry run). The same
 * bytes go through the caption language identifier. */
#include "jf_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;
static char dir[256];

static void cleanup(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/jf-fuzz-rule-%ld", (long)getpid());
    atexit(cleanup);
    jf_error err;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        abort();
    jf_writer_params wp = jf_writer_default_params();
    wp.fsync = 0;
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        abort();
    jf_record *r = jf_record_create();
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        jf_record_reset(r);
        jf_record_set_key(r, key, &err);
        jf_record_set_kind(r, (jf_kind)(1 + i % 3));
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, "some caption text", 17, &err);
        jf_record_set_int(r, "width", 10 * i, &err);
        jf_record_set_int(r, "height", 7 * i + 1, &err);
        jf_record_set_real(r, "punsafe", i / 20.0, &err);
        jf_record_set_text(r, "status", i % 2 ? "success" : "failed", &err);
        if (jf_writer_add(w, r, &err))
            abort();
    }
    jf_record_destroy(r);
    if (jf_writer_close(w, &err))
        abort();
}

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
