/* libFuzzer target: weight files as jf_weights_open reads them — safetensors headers and
 * PyTorch checkpoints (zip and legacy containers, the restricted pickle machine). The input is
 * written to an in-memory file so that the real open/mmap path runs. */
#include "jf_model.h"

#include "memfd_input.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = memfd_input("weights", data, size, path);
    if (fd < 0)
        return 0;
    jf_model_error err;
    jf_weights *w = NULL;
    if (jf_weights_open(path, &w, &err) == JF_MODEL_OK) {
        /* touch every tensor's bytes: they must lie inside the mapping */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < jf_weights_count(w); i++) {
            const jf_tensor_info *t = jf_weights_at(w, i);
            if (t->bytes)
                sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->bytes - 1];
        }
        (void)sink;
        jf_weights_close(w);
    }
    close(fd);
    return 0;
}
