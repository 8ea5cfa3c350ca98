/* libFuzzer target: the manifest readers of jf ingest on arbitrary bytes — JSON arrays streamed
 * element by element, JSON lines, record interpretation (conversations, images, captions, text),
 * the SA-1B caption-file loader, the CSV/TSV record reader of URL lists, and VLMEvalKit's
 * benchmark TSVs (base64 images, shared-image references, list cells), and the benchmarks' own
 * question files (GQA, VQAv2 and SEED-Bench JSON documents streamed member by member; MME's
 * <subtask>.txt). First byte modulo 4: 0 = a manifest input (named .tsv when bit 2 is set, MME's
 * existence.txt when bit 3 is), 1 = a caption file, 2 = CSV records, 3 = TSV records. */
#include "ingest_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    snprintf(dir, sizeof dir, "/tmp/jf-fuzz-manifest-%ld", (long)getpid());
    atexit(cleanup);
    jf_error err;
    if (jf_store_open(dir, JF_STORE_CREATE, &st, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    if (size < 1)
        return 0;
    char path[300];
    snprintf(path, sizeof path, "%s/input.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    jf_ingest_params p = jf_ingest_default_params();
    p.threads = 1;
    p.writer.fsync = 0;
    p.writer.use_dict = 0;
    const char *roots[] = {dir};
    p.image_roots = roots;
    p.n_image_roots = 1;
    jf_ingest_stats s;
    jf_error err;
    const char *inputs[] = {path};
    if ((data[0] & 3) >= 2) {
        /* URL lists are not ingested here (that would download); their parser is what matters */
        FILE *cf = fopen(path, "rb");
        char *buf = NULL, **fields = NULL;
        size_t cap = 0, fcap = 0;
        int guard = 0;
        while (cf && guard++ < 100000 && jf__csv_record(cf, (data[0] & 3) == 2 ? ',' : '\t', &buf, &cap, &fields, &fcap) >= 0)
            ;
        if (cf)
            fclose(cf);
        free(buf);
        free(fields);
        return 0;
    }
    if (data[0] & 1) {
        p.captions = path;
        jf_ingest_run(st, inputs, 0, &p, &s, &err);
    } else {
        /* A new file name each time, so that no input counts as finished from an earlier one. */
        static unsigned long k;
        char moved[320];
        if (data[0] & 8) /* MME's question files are named after their subtask; one folder per run */
            snprintf(moved, sizeof moved, "%s/%lu/existence.txt", dir, k);
        else
            snprintf(moved, sizeof moved, "%s/input-%lu.%s", dir, k, data[0] & 4 ? "tsv" : "json");
        char sub[300];
        snprintf(sub, sizeof sub, "%s/%lu", dir, k++);
        char source[64];
        snprintf(source, sizeof source, "mme%lu", k);
        if (data[0] & 8) {
            mkdir(sub, 0777);
            p.source = source; /* new keys each time, so each run's questions are processed */
        }
        if (rename(path, moved) == 0) {
            inputs[0] = moved;
            jf_ingest_run(st, inputs, 1, &p, &s, &err);
            unlink(moved);
            if (data[0] & 8)
                rmdir(sub);
        }
    }
    return 0;
}
