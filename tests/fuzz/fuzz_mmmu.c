/* libFuzzer target: MMMU's rows as jf eval bench reads them for a model run (a JSON list or JSONL
 * of rows: id, question, options as a list or its Python literal, answer, question_type, image_1
 * as {"bytes": base64} or a path), and VLMEvalKit's image cells that hold a Python list of base64
 * strings. The first byte picks .json or .jsonl; the rest is the file (and, NUL-terminated, the
 * cell). */
#include "bench_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *cell = malloc(size);
    memcpy(cell, data + 1, size - 1);
    cell[size - 1] = 0;
    char **list = NULL;
    long n = jf_base64_cell_list(cell, &list);
    for (long k = 0; k < n; k++)
        free(list[k]);
    free(list);
    free(cell);
    /* the rows reader picks the format by the file's name: a file of this process's own */
    char path[128];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/jf-fuzz-mmmu-%d.%s", tmp && *tmp ? tmp : "/tmp", (int)getpid(),
             data[0] & 1 ? "jsonl" : "json");
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    jf__mmmu_row *rows = NULL;
    size_t nr = 0;
    jf_error err;
    if (jf__mmmu_read_rows(path, "validation", &rows, &nr, &err) == 0)
        jf__mmmu_rows_free(rows, nr);
    unlink(path);
    return 0;
}
