/* libFuzzer target: mix-file parsing and planning on arbitrary JSON, against a small dataset. */
#include "jf_shards.h"
#include "small_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jf_store *st;

static void setup(void) { st = fuzz_small_store("mix", 30, NULL, NULL); }

/* Schedules of many steps are valid but slow to plan under sanitizers; the fuzzer is after
 * parsing and planning logic, so inputs naming more than 100000 steps anywhere are skipped. */
static int too_long(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    int big = 0;
    for (char *p = text; (p = strstr(p, "steps")) != NULL; p++) {
        char *q = p + 5;
        while (*q && (*q == '"' || *q == ':' || *q == ' '))
            q++;
        if (strtod(q, NULL) > 1e5)
            big = 1;
    }
    free(text);
    return big;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    if (too_long(data, size))
        return 0;
    jf_mix *m;
    jf_error err;
    if (jf_mix_create(st, (const char *)data, size, &m, &err) != JF_OK)
        return 0;
    const jf_mix_info *in = jf_mix_get_info(m);
    /* Keep each input cheap: only plan small schedules fully. */
    if (in->steps <= 2000 && in->global_batch <= 4096) {
        jf_mix_slice sl = {0, 1, 0, 1, 0, 0};
        if (in->global_batch >= 2)
            sl.world = 2;
        jf_mix_iter *it;
        if (jf_mix_iter_create(m, &sl, &it, &err) == JF_OK) {
            jf_mix_item item;
            int n = 0;
            while (n++ < 20000 && jf_mix_iter_next(it, &item, &err) == JF_OK)
                ;
            jf_mix_iter_destroy(it);
        }
    }
    jf_mix_destroy(m);
    return 0;
}
