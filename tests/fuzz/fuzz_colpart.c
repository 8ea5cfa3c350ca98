/* libFuzzer target: column part files (jf_colpart_check and jf_store_merge_column_parts) on
 * arbitrary bytes, merged into a small dataset whose keys some seeds name. */
#include "jf_shards.h"
#include "memfd_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;

static void cleanup(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/jf-fuzz-colpart-%ld", (long)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static void setup(void)
{
    atexit(cleanup);
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/jf-fuzz-colpart-%ld", (long)getpid());
    jf_error err;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        abort();
    jf_writer_params wp = jf_writer_default_params();
    wp.fsync = 0;
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        abort();
    jf_record *r = jf_record_create();
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        jf_record_reset(r);
        jf_record_set_key(r, key, &err);
        jf_record_set_kind(r, JF_KIND_TEXT);
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, key, strlen(key), &err);
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
    char path[64];
    int fd = memfd_input("colpart", data, size, path);
    if (fd < 0)
        return 0;
    jf_error err;
    (void)jf_colpart_check(path, "job", 0, 1, &err);
    const char *paths[2] = {path, path};
    jf_colmerge_report r;
    (void)jf_store_merge_column_parts(st, paths, 1, &r, &err);
    (void)jf_store_merge_column_parts(st, paths, 2, &r, &err); /* the same part twice: refused */
    close(fd);
    return 0;
}
