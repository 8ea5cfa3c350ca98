/* libFuzzer target: the training-batch text path (jf train): conversations (the `conv` field:
 * ShareGPT4V/LLaVA JSON), captions and texts in every role, turned into template ids and labels
 * with the placeholder, turn-order and length checks, on the tiny model seeds.sh writes.
 * Input: byte 0 the role (und, caption, gen, text), byte 1 the field (conv, txt) and the number
 * of image fields (0-3), then the field's bytes. */
#include "jf_train.h"
#include "train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;
static jf_janus *model;
static jf_train *tr;

static void cleanup(void)
{
    jf_train_destroy(tr);
    jf_janus_free(model);
    jf_store_close(st);
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/jf-fuzz-train-%ld", (long)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static void setup(void)
{
    atexit(cleanup);
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/jf-fuzz-train-%ld", (long)getpid());
    jf_error err;
    jf_model_error me;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err) || jf_janus_load(JF_FUZZ_CORPUS "/model", &model, NULL, NULL, NULL, &me)) {
        fprintf(stderr, "fuzz_train: needs %s/model (tests/fuzz/seeds.sh writes it)\n", JF_FUZZ_CORPUS);
        abort();
    }
    jf_train_options o = jf_train_default_options();
    o.seq_len = 700;
    o.threads = 1;
    if (jf_train_create(st, NULL, model, NULL, &o, &tr, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!tr)
        setup();
    static const jf_train_role roles[4] = {JF_TRAIN_UND, JF_TRAIN_CAPTION, JF_TRAIN_GEN, JF_TRAIN_TEXT};
    jf_record *rec = jf_record_create();
    jf_error err;
    jf_record_set_key(rec, "fuzz", &err);
    const char *field = data[1] & 1 ? "txt" : "conv";
    jf_record_add_field(rec, field, data[1] & 1 ? JF_FIELD_TEXT : JF_FIELD_JSON, data + 2, size - 2, &err);
    for (int i = 0; i < ((data[1] >> 1) & 3); i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.png", i);
        jf_record_add_field(rec, name, JF_FIELD_IMAGE, (const uint8_t *)"\x89PNG", 4, &err);
    }
    jf_train_batch b = {0};
    b.samples = calloc(1, sizeof *b.samples);
    b.n = 1;
    (void)jf__train_prepare(tr, &b.samples[0], rec, roles[data[0] & 3], &err);
    jf_train_batch_free(&b);
    jf_record_destroy(rec);
    return 0;
}
