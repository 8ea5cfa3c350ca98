/* A small dataset for the fuzz targets that need one: n records keyed k0, k1, … with kinds in
 * turn (generation, understanding, text) and `caption` as their txt field (NULL: the key), in
 * /tmp/jf-fuzz-NAME-PID, removed at exit. `fill` (may be NULL) adds columns to record i. */
#ifndef JF_FUZZ_SMALL_STORE_H
#define JF_FUZZ_SMALL_STORE_H

#include "jf_shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_store_dir[256];

static void fuzz_store_cleanup(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fuzz_store_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static jf_store *fuzz_small_store(const char *name, int n, const char *caption, void (*fill)(jf_record *r, int i))
{
    snprintf(fuzz_store_dir, sizeof fuzz_store_dir, "/tmp/jf-fuzz-%s-%ld", name, (long)getpid());
    atexit(fuzz_store_cleanup);
    jf_error err;
    jf_store *st;
    if (jf_store_open(fuzz_store_dir, JF_STORE_CREATE, &st, &err))
        abort();
    jf_writer_params wp = jf_writer_default_params();
    wp.fsync = 0;
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        abort();
    jf_record *r = jf_record_create();
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        jf_record_reset(r);
        jf_record_set_key(r, key, &err);
        jf_record_set_kind(r, (jf_kind)(1 + i % 3));
        const char *txt = caption ? caption : key;
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, txt, strlen(txt), &err);
        if (fill)
            fill(r, i);
        if (jf_writer_add(w, r, &err))
            abort();
    }
    jf_record_destroy(r);
    if (jf_writer_close(w, &err))
        abort();
    return st;
}

#endif
