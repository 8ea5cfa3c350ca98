/* libFuzzer target: the HTML reference unescaping of captions (eval/html_unescape.c), applied
 * twice as clip.tokenize does; the output never outgrows the buffer's bound. */
#include "eval_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0; /* captions are C strings: the text ends at the first NUL */
    char *once = jf__html_unescape(text);
    if (once) {
        if (strlen(once) > 2 * strlen(text))
            abort();
        char *twice = jf__html_unescape(once);
        free(twice);
    }
    free(once);
    free(text);
    return 0;
}
