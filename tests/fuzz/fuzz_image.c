/* libFuzzer target: the image layer on arbitrary bytes — the check with exact and approximate
 * statistics (one decode), the full RGB decode with alpha dropped and composited (the PNG reader
 * written against libpng's low-level API, libjpeg, libwebp). Sizes are limited so that a fuzzed
 * header cannot ask for gigabytes. */
#include "jf_ingest.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jf_image_limits lim = jf_image_default_limits();
    lim.max_pixels = 1 << 22;
    jf_image_info info;
    jf_image_stats st;
    char detail[300];
    for (int approx = 0; approx < 2; approx++)
        if (jf_image_check_stats(data, size, &lim, 0, approx, &info, &st, detail, sizeof detail) == JF_IMAGE_OK &&
            (st.std < 0 || st.entropy < 0 || st.entropy > 8.0001))
            abort();
    if (jf_image_check(data, size, &lim, 0, &info, detail, sizeof detail) != JF_IMAGE_OK)
        return 0; /* the decoders below are only given what the check passed, as in jf */
    static const uint8_t white[3] = {255, 255, 255};
    for (int bg = 0; bg < 2; bg++) {
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        jf_error err;
        if (jf_image_decode_rgb(data, size, bg ? white : NULL, &rgb, &w, &h, &err) == JF_OK &&
            (w != info.width || h != info.height))
            abort();
        free(rgb);
    }
    return 0;
}
