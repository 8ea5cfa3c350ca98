/* libFuzzer target: tokenizer.json loading (normalizers, pre-tokenizers, BPE model, added
 * tokens, post-processor), then encoding and decoding a fixed text with whatever loaded. */
#include "jf_model.h"

#include "memfd_input.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = memfd_input("tokenizer", data, size, path);
    if (fd < 0)
        return 0;
    jf_model_error err;
    jf_tokenizer *t = NULL;
    if (jf_tokenizer_load(path, &t, &err) == JF_MODEL_OK) {
        static const char text[] = "Hello, wörld! 12345 <image_placeholder>\n\t  中文 \xff\xfe end";
        int32_t *ids = NULL;
        long n = jf_tokenizer_encode(t, text, sizeof text - 1, 1, &ids, &err);
        if (n >= 0) {
            char *back = jf_tokenizer_decode(t, ids, (size_t)n, 0);
            free(back);
        }
        free(ids);
        jf_tokenizer_free(t);
    }
    close(fd);
    return 0;
}
