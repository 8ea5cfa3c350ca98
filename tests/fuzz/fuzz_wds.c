/* libFuzzer target: WebDataset tar import (member grouping, key rules, limits) on arbitrary
 * bytes, into a scratch dataset. */
#include "jf_shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;
static char dir[256];

static void cleanup(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/jf-fuzz-wds-%ld", (long)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static void setup(void)
{
    atexit(cleanup);
    snprintf(dir, sizeof dir, "/tmp/jf-fuzz-wds-%ld", (long)getpid());
    jf_error err;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    char path[300];
    snprintf(path, sizeof path, "%s/input.tar", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    jf_writer_params wp = jf_writer_default_params();
    wp.use_dict = 0;
    wp.fsync = 0;
    jf_writer *w;
    jf_error err;
    if (jf_writer_create(st, &wp, &w, &err))
        abort();
    jf_wds_report rep = {0};
    jf_wds_import(w, path, NULL, NULL, &rep, &err);
    jf_writer_abort(w); /* nothing needs to land; the parse is what is under test */
    return 0;
}
