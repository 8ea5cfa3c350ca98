/* libFuzzer target: column part files (jf_colpart_check and jf_store_merge_column_parts) on
 * arbitrary bytes, merged into a small dataset whose keys some seeds name. */
#include "jf_shards.h"
#include "small_store.h"
#include "memfd_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;

static void setup(void) { st = fuzz_small_store("colpart", 8, NULL, NULL); }

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
