/* The token ids jf feeds the model for each prompt (the image tag expanded to its block), for the
 * PyTorch side of bench/bench_bench.sh: prompts as JSON lines {"prompt": ...} on stdin, one JSON
 * line {"ids": [...]} out each; the first line out has the special ids.
 * usage: bench_prompt_ids MODEL_DIR < prompts.jsonl */
#include "jf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_prompt_ids MODEL_DIR < prompts.jsonl\n");
        return 2;
    }
    jf_janus *m;
    jf_model_error me;
    if (jf_janus_load(argv[1], &m, NULL, NULL, NULL, &me)) {
        fprintf(stderr, "%s\n", me.msg);
        return 1;
    }
    const jf_janus_config *c = jf_janus_get_config(m);
    printf("{\"image_tag\": %d, \"image_start\": %d, \"image_end\": %d, \"eos\": %d}\n", c->image_tag, c->image_start,
           c->image_end, c->eos);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        char eb[128];
        yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
        const char *pp[] = {"prompt", NULL};
        yajl_val p = v ? yajl_tree_get(v, pp, yajl_t_string) : NULL;
        int32_t *ids = NULL;
        size_t n = 0, tags = 0;
        if (!p || jf_janus_encode_prompt(m, YAJL_GET_STRING(p), &ids, &n, &tags, &me)) {
            fprintf(stderr, "bad line: %s\n", p ? me.msg : eb);
            rc = 1;
        } else {
            printf("{\"ids\": [");
            for (size_t i = 0; i < n; i++)
                printf(i ? ", %d" : "%d", ids[i]);
            printf("]}\n");
        }
        free(ids);
        yajl_tree_free(v);
    }
    free(line);
    jf_janus_free(m);
    return rc;
}
