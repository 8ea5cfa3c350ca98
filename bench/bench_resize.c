/* The resize stage alone: jf's Pillow-exact resampler (jf_resample_rgb) on typical web-image
 * sizes to --resize shortest-side --size 256, one core; bench_resize.sh times Pillow's
 * Image.resize on the same pixels and checks the bytes are identical.
 * usage: bench_resize OUT_DIR   (writes OUT_DIR/in_W_H.rgb, OUT_DIR/jf_W_H_F.rgb and timings as JSON) */
#include "jf_shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    static const int sizes[][2] = {{640, 480}, {1024, 768}, {1920, 1080}, {500, 750}};
    static const jf_resample filters[] = {JF_RESAMPLE_LANCZOS, JF_RESAMPLE_BICUBIC, JF_RESAMPLE_BILINEAR};
    static const char *fnames[] = {"lanczos", "bicubic", "bilinear"};
    printf("[");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        int ow = w < h ? 256 : (int)((double)w * 256 / h + 0.5), oh = w < h ? (int)((double)h * 256 / w + 0.5) : 256;
        uint8_t *in = malloc((size_t)w * h * 3), *out = malloc((size_t)ow * oh * 3);
        uint32_t x = 12345;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) { /* a smooth image with noise, like a photo */
            x = x * 1664525u + 1013904223u;
            size_t p = i / 3;
            in[i] = (uint8_t)((p % (size_t)w) * 200 / (size_t)w + (p / (size_t)w) * 40 / (size_t)h + (x >> 29));
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/in_%d_%d.rgb", argv[1], w, h);
        FILE *f = fopen(path, "wb");
        fwrite(in, 1, (size_t)w * h * 3, f);
        fclose(f);
        for (size_t k = 0; k < 3; k++) {
            int reps = 0;
            double t0 = now();
            while (now() - t0 < 1.0 || reps < 5) {
                jf_resample_rgb(in, w, h, out, ow, oh, filters[k]);
                reps++;
            }
            double ms = (now() - t0) / reps * 1e3;
            snprintf(path, sizeof path, "%s/jf_%d_%d_%s.rgb", argv[1], w, h, fnames[k]);
            f = fopen(path, "wb");
            fwrite(out, 1, (size_t)ow * oh * 3, f);
            fclose(f);
            printf("%s{\"w\":%d,\"h\":%d,\"ow\":%d,\"oh\":%d,\"filter\":\"%s\",\"jf_ms\":%.3f}", s || k ? "," : "", w, h, ow, oh,
                   fnames[k], ms);
        }
        free(in);
        free(out);
    }
    printf("]\n");
    return 0;
}
